/* Placeholder: neon table (falls back to scalar). */
#include "lib/kernels/kernels.h"

void ypr__kt_fill_neon(ypr_ktable *t)
{
    t->name = "neon";
}
