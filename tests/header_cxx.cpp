// Compiled as C++: the public header works from C++ with C linkage.
#include "yolopr.h"

#include <cstring>

int main()
{
    ypr_depgraph *g = nullptr;
    (void)g;
    return std::strcmp(ypr_version_string(), YPR_VERSION_STRING) == 0 ? 0 : 1;
}
