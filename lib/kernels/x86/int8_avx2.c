/* AVX2 INT8 set: int8 widened to int16 pairs and multiplied with vpmaddwd
 * (exact: no saturation, unlike vpmaddubsw), 6×16 int32 tiles, then the x86
 * requantization epilogue (int8_requant_x86.h).
 * Bit-identical to the scalar reference. Built with -mavx2 -mfma -mf16c;
 * every helper is static. */
#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"
#include "int8_requant_x86.h"

/* 4 packed bytes as one int32 (memcpy: the packing wrote them as int8 or int16) */
static inline int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define MR 6
#define NR 16

static void gemm_6x16(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c)
{
    const int8_t *pa = a;          /* a pair of int16 per (k pair, row) */
    const __m256i *pb = b;          /* 16 columns × a pair of int16 per k pair */
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c01 = _mm256_set1_epi32(init ? init[0] : 0);
    c10 = c11 = _mm256_set1_epi32(init ? init[1] : 0);
    c20 = c21 = _mm256_set1_epi32(init ? init[2] : 0);
    c30 = c31 = _mm256_set1_epi32(init ? init[3] : 0);
    c40 = c41 = _mm256_set1_epi32(init ? init[4] : 0);
    c50 = c51 = _mm256_set1_epi32(init ? init[5] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb += 2) {
        __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1), r;
        r = _mm256_set1_epi32(ld32(pa + 4 * (0)));
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(r, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(ld32(pa + 4 * (1)));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(r, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(ld32(pa + 4 * (2)));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(r, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(ld32(pa + 4 * (3)));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(r, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(ld32(pa + 4 * (4)));
        c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(r, b0));
        c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(ld32(pa + 4 * (5)));
        c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(r, b0));
        c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(r, b1));
    }
    __m256i *pc = (__m256i *)c;
    _mm256_storeu_si256(pc + 0, c00);
    _mm256_storeu_si256(pc + 1, c01);
    _mm256_storeu_si256(pc + 2, c10);
    _mm256_storeu_si256(pc + 3, c11);
    _mm256_storeu_si256(pc + 4, c20);
    _mm256_storeu_si256(pc + 5, c21);
    _mm256_storeu_si256(pc + 6, c30);
    _mm256_storeu_si256(pc + 7, c31);
    _mm256_storeu_si256(pc + 8, c40);
    _mm256_storeu_si256(pc + 9, c41);
    _mm256_storeu_si256(pc + 10, c50);
    _mm256_storeu_si256(pc + 11, c51);
}

void ypr__i8kt_fill_avx2(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avx2", MR, NR, 2, YPR_I8F_S16, gemm_6x16, requant16, NULL, NULL, NULL};
}

/* Winograd: the same tile on int16 pairs (vpmaddwd and vpaddd wrap modulo
 * 2^32, as the exactness argument needs), the AVX2 transforms
 * (int8_wino_avx2.c). */
void ypr__i8wk_fill_avx2(ypr_i8wk *w)
{
    *w = (ypr_i8wk){MR, NR, gemm_6x16, ypr__i8_wino_tin_avx2, ypr__i8_wino_tout_avx2,
                    ypr__i8_wino_tin4_avx2, ypr__i8_wino_tout4_avx2};
}
