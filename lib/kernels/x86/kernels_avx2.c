/* Placeholder: avx2 table (falls back to scalar). */
#include "lib/kernels/kernels.h"

void ypr__kt_fill_avx2(ypr_ktable *t)
{
    t->name = "avx2";
}
