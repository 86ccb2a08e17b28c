/* AVX-VNNI INT8 set (256-bit vpdpbusd): activations as uint8 x + 128 times
 * int8 weights, four products per int32 lane with no intermediate
 * saturation; the accumulators start at −128·Σ_k w (the offset's
 * compensation, precomputed when the weights are packed), so the sums equal
 * the int8 × int8 ones exactly. 6×16 tiles, then the x86 requantization
 * epilogue. Built with the AVX2 flags plus -mavxvnni; helpers static. */
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
    const int8_t *pa = a;          /* 4 int8 weights per (k quad, row) */
    const __m256i *pb = b;          /* 16 columns × 4 uint8 per k quad */
    __m256i acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_set1_epi32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb += 2) {
        __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1);
        for (int i = 0; i < MR; i++) {
            __m256i r = _mm256_set1_epi32(ld32(pa + 4 * (i)));
            acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], b0, r);
            acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], b1, r);
        }
    }
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)(c + i * NR), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(c + i * NR + 8), acc[i][1]);
    }
}

/* Winograd element-wise stage: int16 pairs (the S16 layout) with vpdpwssd
 * (the non-saturating form: sums wrap modulo 2^32, as the exact argument
 * needs), 6×16 tiles. */
static void wgemm_6x16(int64_t nkg, const void *a, const void *b, const int32_t *init,
                       int32_t *c)
{
    const int8_t *pa = a;          /* a pair of int16 per (k pair, row) */
    const __m256i *pb = b;          /* 16 columns × a pair of int16 per k pair */
    __m256i acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_set1_epi32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb += 2) {
        __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1);
        for (int i = 0; i < MR; i++) {
            __m256i r = _mm256_set1_epi32(ld32(pa + 4 * (i)));
            acc[i][0] = _mm256_dpwssd_avx_epi32(acc[i][0], r, b0);
            acc[i][1] = _mm256_dpwssd_avx_epi32(acc[i][1], r, b1);
        }
    }
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)(c + i * NR), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(c + i * NR + 8), acc[i][1]);
    }
}

void ypr__i8kt_fill_avxvnni(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avxvnni", MR, NR, 4, YPR_I8F_U8, gemm_6x16, requant16};

}

void ypr__i8wk_fill_avxvnni(ypr_i8wk *w)
{
    ypr__i8wk_fill_avx2(w);   /* its transforms (the CPU has AVX2), this tile */
    w->mr = MR;
    w->nr = NR;
    w->gemm = wgemm_6x16;
}
