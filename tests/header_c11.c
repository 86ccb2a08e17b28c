/* Compiled with -std=c11 -pedantic -Werror: the public header is clean C11. */
#include "yolopr.h"

int main(void)
{
    ypr_model *m = 0;
    (void)m;
    return ypr_version_number() == YPR_VERSION_NUMBER ? 0 : 1;
}
