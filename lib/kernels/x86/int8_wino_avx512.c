/* AVX-512BW element-wise stage of the INT8 Winograd (kernels.h, "INT8
 * Winograd") for AVX-512 CPUs without VNNI, where the avx2 INT8 set runs:
 * int16 pairs (the S16 layout: 16 columns × 2 int16 = one zmm), 512-bit
 * vpmaddwd + vpaddd (both wrap modulo 2^32, as the exactness argument
 * needs), 12×16 tiles — the avx512vnni set's shape with vpdpwssd split in
 * two. Built with the AVX-512 flags; used only when the float set is
 * avx512 (int8_dispatch.c). */
#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define MR 12
#define NR 16

static inline int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void wgemm_12x16(int64_t nkg, const void *a, const void *b, const int32_t *init,
                        int32_t *c)
{
    const int8_t *pa = a;           /* a pair of int16 per (k pair, row) */
    const __m512i *pb = b;
    __m512i acc[MR];
    for (int i = 0; i < MR; i++)
        acc[i] = _mm512_set1_epi32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb++) {
        __m512i b0 = _mm512_loadu_si512(pb);
        for (int i = 0; i < MR; i++)
            acc[i] = _mm512_add_epi32(acc[i],
                                      _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 4 * i)), b0));
    }
    for (int i = 0; i < MR; i++)
        _mm512_storeu_si512(c + i * NR, acc[i]);
}

void ypr__i8wk_tile_avx512(ypr_i8wk *w)
{
    w->mr = MR;
    w->nr = NR;
    w->gemm = wgemm_12x16;
}
