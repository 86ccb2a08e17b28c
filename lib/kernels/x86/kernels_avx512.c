/* Placeholder: avx512 table (falls back to scalar). */
#include "lib/kernels/kernels.h"

void ypr__kt_fill_avx512(ypr_ktable *t)
{
    t->name = "avx512";
}
