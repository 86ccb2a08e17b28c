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

static void gemm_8x32(int64_t nkg, const void *a, const void *b, const int32_t *init,
                      int32_t *c)
{
    const int8_t *pa = a;
    const __m512i *pb = b;
    __m512i acc[CMR][2];
    for (int i = 0; i < CMR; i++)
        acc[i][0] = acc[i][1] = _mm512_set1_epi32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * CMR, pb += 2) {
        __m512i b0 = _mm512_loadu_si512(pb), b1 = _mm512_loadu_si512(pb + 1);
        for (int i = 0; i < CMR; i++) {
            __m512i r = _mm512_set1_epi32(ld32(pa + 4 * i));
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], b0, r);
            acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], b1, r);
        }
    }
    for (int i = 0; i < CMR; i++) {
        _mm512_storeu_si512(c + i * CNR, acc[i][0]);
        _mm512_storeu_si512(c + i * CNR + 16, acc[i][1]);
    }
}

/* Winograd element-wise stage: int16 pairs (the S16 layout: 16 columns ×
 * 2 int16 = one zmm) with 512-bit vpdpwssd (non-saturating: sums wrap
 * modulo 2^32), 8×32 tiles as the conv's. */
static void wgemm_8x32(int64_t nkg, const void *a, const void *b, const int32_t *init,
                       int32_t *c)
{
    const int8_t *pa = a;
    const __m512i *pb = b;
    __m512i acc[CMR][2];
    for (int i = 0; i < CMR; i++)
        acc[i][0] = acc[i][1] = _mm512_set1_epi32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * CMR, pb += 2) {
        __m512i b0 = _mm512_loadu_si512(pb), b1 = _mm512_loadu_si512(pb + 1);
        for (int i = 0; i < CMR; i++) {
            __m512i r = _mm512_set1_epi32(ld32(pa + 4 * i));
            acc[i][0] = _mm512_dpwssd_epi32(acc[i][0], r, b0);
            acc[i][1] = _mm512_dpwssd_epi32(acc[i][1], r, b1);
        }
    }
    for (int i = 0; i < CMR; i++) {
        _mm512_storeu_si512(c + i * CNR, acc[i][0]);
        _mm512_storeu_si512(c + i * CNR + 16, acc[i][1]);
    }
}

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
