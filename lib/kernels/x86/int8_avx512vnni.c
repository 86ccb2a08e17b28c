/* AVX-512 VNNI INT8 set (512-bit vpdpbusd): as the AVX-VNNI set (uint8
 * x + 128 times int8 weights, compensated start values) with two zmm of 16
 * int32 columns per row and 8 rows per tile, then the AVX-512
 * requantization epilogue (int8_requant_avx512.h); its Winograd stage the
 * same 8×32 shape with vpdpwssd. Built with the AVX-512 flags plus
 * -mavx512vnni; helpers static. */
#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"
#include "int8_requant_avx512.h"

/* 4 packed bytes as one int32 (memcpy: the packing wrote them as int8 or int16) */
static inline int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The conv tile: 8 rows × 32 columns (two zmm of B per k quad, each
 * broadcast weight used twice: 10 loads per 16 vpdpbusd). */
#define CMR 8
#define CNR 32

/* One 8×32 tile with OP(acc, broadcast weights, B) per zmm. The sixteen
 * accumulators are named variables, not an array: GCC kept an array's in
 * registers only by copying each one every iteration (vmovdqa per
 * vpdpbusd, some spilled), half the tile's time. */
#define TILE_8X32(name, OP)                                                                 \
    static void name(int64_t nkg, const void *a, const void *b, const int32_t *init,        \
                     int32_t *c)                                                            \
    {                                                                                       \
        const int8_t *pa = a;                                                               \
        const __m512i *pb = b;                                                              \
        __m512i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70,  \
            c71;                                                                            \
        c00 = c01 = _mm512_set1_epi32(init ? init[0] : 0);                                  \
        c10 = c11 = _mm512_set1_epi32(init ? init[1] : 0);                                  \
        c20 = c21 = _mm512_set1_epi32(init ? init[2] : 0);                                  \
        c30 = c31 = _mm512_set1_epi32(init ? init[3] : 0);                                  \
        c40 = c41 = _mm512_set1_epi32(init ? init[4] : 0);                                  \
        c50 = c51 = _mm512_set1_epi32(init ? init[5] : 0);                                  \
        c60 = c61 = _mm512_set1_epi32(init ? init[6] : 0);                                  \
        c70 = c71 = _mm512_set1_epi32(init ? init[7] : 0);                                  \
        for (int64_t q = 0; q < nkg; q++, pa += 4 * CMR, pb += 2) {                         \
            __m512i b0 = _mm512_loadu_si512(pb), b1 = _mm512_loadu_si512(pb + 1), r;        \
            r = _mm512_set1_epi32(ld32(pa));                                                \
            c00 = OP(c00, r, b0);                                                           \
            c01 = OP(c01, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 4));                                            \
            c10 = OP(c10, r, b0);                                                           \
            c11 = OP(c11, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 8));                                            \
            c20 = OP(c20, r, b0);                                                           \
            c21 = OP(c21, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 12));                                           \
            c30 = OP(c30, r, b0);                                                           \
            c31 = OP(c31, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 16));                                           \
            c40 = OP(c40, r, b0);                                                           \
            c41 = OP(c41, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 20));                                           \
            c50 = OP(c50, r, b0);                                                           \
            c51 = OP(c51, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 24));                                           \
            c60 = OP(c60, r, b0);                                                           \
            c61 = OP(c61, r, b1);                                                           \
            r = _mm512_set1_epi32(ld32(pa + 28));                                           \
            c70 = OP(c70, r, b0);                                                           \
            c71 = OP(c71, r, b1);                                                           \
        }                                                                                   \
        __m512i *pc = (__m512i *)c;                                                         \
        _mm512_storeu_si512(pc + 0, c00);                                                   \
        _mm512_storeu_si512(pc + 1, c01);                                                   \
        _mm512_storeu_si512(pc + 2, c10);                                                   \
        _mm512_storeu_si512(pc + 3, c11);                                                   \
        _mm512_storeu_si512(pc + 4, c20);                                                   \
        _mm512_storeu_si512(pc + 5, c21);                                                   \
        _mm512_storeu_si512(pc + 6, c30);                                                   \
        _mm512_storeu_si512(pc + 7, c31);                                                   \
        _mm512_storeu_si512(pc + 8, c40);                                                   \
        _mm512_storeu_si512(pc + 9, c41);                                                   \
        _mm512_storeu_si512(pc + 10, c50);                                                  \
        _mm512_storeu_si512(pc + 11, c51);                                                  \
        _mm512_storeu_si512(pc + 12, c60);                                                  \
        _mm512_storeu_si512(pc + 13, c61);                                                  \
        _mm512_storeu_si512(pc + 14, c70);                                                  \
        _mm512_storeu_si512(pc + 15, c71);                                                  \
    }

/* uint8 B (x + 128) times int8 weights, four products per lane */
#define DPBUSD(acc, r, bv) _mm512_dpbusd_epi32(acc, bv, r)
TILE_8X32(gemm_8x32, DPBUSD)

/* Winograd element-wise stage: int16 pairs (the S16 layout: 16 columns ×
 * 2 int16 = one zmm) with 512-bit vpdpwssd (non-saturating: sums wrap
 * modulo 2^32), the same 8×32 tiles. */
#define DPWSSD(acc, r, bv) _mm512_dpwssd_epi32(acc, r, bv)
TILE_8X32(wgemm_8x32, DPWSSD)

void ypr__i8kt_fill_avx512vnni(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avx512vnni", CMR, CNR, 4, YPR_I8F_U8, gemm_8x32, requant16_avx512};

}

void ypr__i8wk_fill_avx512vnni(ypr_i8wk *w)
{
    ypr__i8wk_fill_avx2(w);   /* its input transforms (the CPU has AVX2), this tile */
    w->tout = ypr__i8_wino_tout_avx512;
    w->tout4 = ypr__i8_wino_tout4_avx512;
    w->mr = CMR;
    w->nr = CNR;
    w->gemm = wgemm_8x32;
}
