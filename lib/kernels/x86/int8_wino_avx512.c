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

/* The twelve accumulators are named variables, not an array: GCC kept an
 * array's in registers only by copying each one every iteration. */
static void wgemm_12x16(int64_t nkg, const void *a, const void *b, const int32_t *init,
                        int32_t *c)
{
    const int8_t *pa = a;           /* a pair of int16 per (k pair, row) */
    const __m512i *pb = b;
#define I0(r) (init ? init[r] : 0)
    __m512i c0 = _mm512_set1_epi32(I0(0)), c1 = _mm512_set1_epi32(I0(1)),
            c2 = _mm512_set1_epi32(I0(2)), c3 = _mm512_set1_epi32(I0(3)),
            c4 = _mm512_set1_epi32(I0(4)), c5 = _mm512_set1_epi32(I0(5)),
            c6 = _mm512_set1_epi32(I0(6)), c7 = _mm512_set1_epi32(I0(7)),
            c8 = _mm512_set1_epi32(I0(8)), c9 = _mm512_set1_epi32(I0(9)),
            c10 = _mm512_set1_epi32(I0(10)), c11 = _mm512_set1_epi32(I0(11));
#undef I0
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb++) {
        __m512i b0 = _mm512_loadu_si512(pb);
        c0 = _mm512_add_epi32(c0, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 0)), b0));
        c1 = _mm512_add_epi32(c1, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 4)), b0));
        c2 = _mm512_add_epi32(c2, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 8)), b0));
        c3 = _mm512_add_epi32(c3, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 12)), b0));
        c4 = _mm512_add_epi32(c4, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 16)), b0));
        c5 = _mm512_add_epi32(c5, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 20)), b0));
        c6 = _mm512_add_epi32(c6, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 24)), b0));
        c7 = _mm512_add_epi32(c7, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 28)), b0));
        c8 = _mm512_add_epi32(c8, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 32)), b0));
        c9 = _mm512_add_epi32(c9, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 36)), b0));
        c10 = _mm512_add_epi32(c10, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 40)), b0));
        c11 = _mm512_add_epi32(c11, _mm512_madd_epi16(_mm512_set1_epi32(ld32(pa + 44)), b0));
    }
    __m512i *pc = (__m512i *)c;
    _mm512_storeu_si512(pc + 0, c0);
    _mm512_storeu_si512(pc + 1, c1);
    _mm512_storeu_si512(pc + 2, c2);
    _mm512_storeu_si512(pc + 3, c3);
    _mm512_storeu_si512(pc + 4, c4);
    _mm512_storeu_si512(pc + 5, c5);
    _mm512_storeu_si512(pc + 6, c6);
    _mm512_storeu_si512(pc + 7, c7);
    _mm512_storeu_si512(pc + 8, c8);
    _mm512_storeu_si512(pc + 9, c9);
    _mm512_storeu_si512(pc + 10, c10);
    _mm512_storeu_si512(pc + 11, c11);
}

void ypr__i8wk_tile_avx512(ypr_i8wk *w)
{
    w->mr = MR;
    w->nr = NR;
    w->gemm = wgemm_12x16;
}
