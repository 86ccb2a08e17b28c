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

/* One 6×16 tile with OP(acc, broadcast weights, B) per ymm. The twelve
 * accumulators are named variables, not an array: GCC kept an array's in
 * registers only by copying (and storing) each one every iteration. */
#define TILE_6X16(name, OP)                                                                 \
    static void name(int64_t nkg, const void *a, const void *b, const int32_t *init,        \
                     int32_t *c)                                                            \
    {                                                                                       \
        const int8_t *pa = a;                                                               \
        const __m256i *pb = b;                                                              \
        __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;                 \
        c00 = c01 = _mm256_set1_epi32(init ? init[0] : 0);                                  \
        c10 = c11 = _mm256_set1_epi32(init ? init[1] : 0);                                  \
        c20 = c21 = _mm256_set1_epi32(init ? init[2] : 0);                                  \
        c30 = c31 = _mm256_set1_epi32(init ? init[3] : 0);                                  \
        c40 = c41 = _mm256_set1_epi32(init ? init[4] : 0);                                  \
        c50 = c51 = _mm256_set1_epi32(init ? init[5] : 0);                                  \
        for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb += 2) {                          \
            __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1), r;        \
            if ((q & 1) == 0)   /* 48 bytes of weights: every line, ahead (avx512vnni) */   \
                __builtin_prefetch(pa + 1024, 0, 3);                                        \
            r = _mm256_set1_epi32(ld32(pa));                                                \
            c00 = OP(c00, r, b0);                                                           \
            c01 = OP(c01, r, b1);                                                           \
            r = _mm256_set1_epi32(ld32(pa + 4));                                            \
            c10 = OP(c10, r, b0);                                                           \
            c11 = OP(c11, r, b1);                                                           \
            r = _mm256_set1_epi32(ld32(pa + 8));                                            \
            c20 = OP(c20, r, b0);                                                           \
            c21 = OP(c21, r, b1);                                                           \
            r = _mm256_set1_epi32(ld32(pa + 12));                                           \
            c30 = OP(c30, r, b0);                                                           \
            c31 = OP(c31, r, b1);                                                           \
            r = _mm256_set1_epi32(ld32(pa + 16));                                           \
            c40 = OP(c40, r, b0);                                                           \
            c41 = OP(c41, r, b1);                                                           \
            r = _mm256_set1_epi32(ld32(pa + 20));                                           \
            c50 = OP(c50, r, b0);                                                           \
            c51 = OP(c51, r, b1);                                                           \
        }                                                                                   \
        __m256i *pc = (__m256i *)c;                                                         \
        _mm256_storeu_si256(pc + 0, c00);                                                   \
        _mm256_storeu_si256(pc + 1, c01);                                                   \
        _mm256_storeu_si256(pc + 2, c10);                                                   \
        _mm256_storeu_si256(pc + 3, c11);                                                   \
        _mm256_storeu_si256(pc + 4, c20);                                                   \
        _mm256_storeu_si256(pc + 5, c21);                                                   \
        _mm256_storeu_si256(pc + 6, c30);                                                   \
        _mm256_storeu_si256(pc + 7, c31);                                                   \
        _mm256_storeu_si256(pc + 8, c40);                                                   \
        _mm256_storeu_si256(pc + 9, c41);                                                   \
        _mm256_storeu_si256(pc + 10, c50);                                                  \
        _mm256_storeu_si256(pc + 11, c51);                                                  \
    }

/* 4 int8 weights per (k quad, row) times 16 columns × 4 uint8 per k quad */
#define DPBUSD(acc, r, bv) _mm256_dpbusd_avx_epi32(acc, bv, r)
TILE_6X16(gemm_6x16, DPBUSD)

/* Winograd element-wise stage: int16 pairs (the S16 layout) with vpdpwssd
 * (the non-saturating form: sums wrap modulo 2^32, as the exact argument
 * needs), 6×16 tiles. */
#define DPWSSD(acc, r, bv) _mm256_dpwssd_avx_epi32(acc, r, bv)
TILE_6X16(wgemm_6x16, DPWSSD)

void ypr__i8kt_fill_avxvnni(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avxvnni", MR, NR, 4, YPR_I8F_U8, gemm_6x16, requant16, NULL, NULL, NULL};

}

void ypr__i8wk_fill_avxvnni(ypr_i8wk *w)
{
    ypr__i8wk_fill_avx2(w);   /* its transforms (the CPU has AVX2), this tile */
    w->mr = MR;
    w->nr = NR;
    w->gemm = wgemm_6x16;
}
