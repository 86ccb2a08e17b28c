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

/* How far ahead (bytes) a tile prefetches its weights, every second k quad
 * (64 bytes): a pass reads most weights once, from memory, in streams too
 * short for the hardware prefetcher (as the float micro-kernel's A panel).
 * yolov7 / yolov7-tiny dpu @640, two threads: 0.935 / 0.947 of the time
 * (9 alternated rounds); 512 bytes ahead 1.02 of 1024's, 2048 0.98 (noise). */
#define I8_PF_AHEAD 1024

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
            if ((q & 1) == 0)                                                               \
                __builtin_prefetch(pa + I8_PF_AHEAD, 0, 3);                                 \
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

/* 64 table entries of q's bytes through vpermt2b: two 128-entry halves,
 * each a pair of zmm indexed by the low 7 bits; the sign bit picks the half
 * (q ≥ 0: entries 0…127; q < 0: 128…255). */
__attribute__((target("avx512vbmi"))) static inline __m512i
lut64(__m512i q, __m512i t0, __m512i t1, __m512i t2, __m512i t3)
{
    __m512i lo = _mm512_permutex2var_epi8(t0, q, t1);
    __m512i hi = _mm512_permutex2var_epi8(t2, q, t3);
    return _mm512_mask_mov_epi8(lo, _mm512_movepi8_mask(q), hi);
}

/* The activation table (AVX512-VBMI, compiled for these functions only
 * and used only when the CPU has it). Plain loads and stores of 64, 32 and
 * 16 bytes, then bytes: masked byte stores are slow on some cores. Exact:
 * a lookup. */
__attribute__((target("avx512vbmi"))) static void lut_vbmi(int8_t *y, int64_t n,
                                                           const int8_t *tab)
{
    const __m512i t0 = _mm512_loadu_si512(tab), t1 = _mm512_loadu_si512(tab + 64);
    const __m512i t2 = _mm512_loadu_si512(tab + 128), t3 = _mm512_loadu_si512(tab + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(y + i, lut64(_mm512_loadu_si512(y + i), t0, t1, t2, t3));
    if (i + 32 <= n) {
        __m512i q = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(y + i)));
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_castsi512_si256(lut64(q, t0, t1, t2, t3)));
        i += 32;
    }
    if (i + 16 <= n) {
        __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(y + i)));
        _mm_storeu_si128((__m128i *)(y + i), _mm512_castsi512_si128(lut64(q, t0, t1, t2, t3)));
        i += 16;
    }
    for (; i < n; i++)
        y[i] = tab[(uint8_t)y[i]];
}

/* 64 columns of 4 rows into the U8 format: x ^ 0x80, bytes interleaved
 * by two unpack levels (per 128-bit lane: columns 16l + 0…3, 4…7, 8…11,
 * 12…15 in d0…d3), then a 4×4 transpose of the lanes puts columns 0…15,
 * 16…31, 32…47, 48…63 in o0…o3. */
static inline void ilv64(__m512i a, __m512i b, __m512i c, __m512i e, __m512i o[4])
{
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    a = _mm512_xor_si512(a, x80);
    b = _mm512_xor_si512(b, x80);
    c = _mm512_xor_si512(c, x80);
    e = _mm512_xor_si512(e, x80);
    __m512i ab0 = _mm512_unpacklo_epi8(a, b), ab1 = _mm512_unpackhi_epi8(a, b);
    __m512i ce0 = _mm512_unpacklo_epi8(c, e), ce1 = _mm512_unpackhi_epi8(c, e);
    __m512i d0 = _mm512_unpacklo_epi16(ab0, ce0), d1 = _mm512_unpackhi_epi16(ab0, ce0);
    __m512i d2 = _mm512_unpacklo_epi16(ab1, ce1), d3 = _mm512_unpackhi_epi16(ab1, ce1);
    __m512i t0 = _mm512_shuffle_i64x2(d0, d1, 0x44), t1 = _mm512_shuffle_i64x2(d2, d3, 0x44);
    __m512i t2 = _mm512_shuffle_i64x2(d0, d1, 0xee), t3 = _mm512_shuffle_i64x2(d2, d3, 0xee);
    o[0] = _mm512_shuffle_i64x2(t0, t1, 0x88);
    o[1] = _mm512_shuffle_i64x2(t0, t1, 0xdd);
    o[2] = _mm512_shuffle_i64x2(t2, t3, 0x88);
    o[3] = _mm512_shuffle_i64x2(t2, t3, 0xdd);
}

/* ypr_i8kt.ilv: 4 rows into the B panels of 32 columns (128 bytes per k
 * group in each panel), 64 columns (two panels) at a time. */
static void ilv_u8(const int8_t *const *r, int64_t nc, int64_t panel, int64_t q, uint8_t *dst)
{
    __m512i o[4];
    int64_t c0 = 0;
    for (; c0 + 64 <= nc; c0 += 64) {
        ilv64(_mm512_loadu_si512(r[0] + c0),
              _mm512_loadu_si512(r[1] + c0), _mm512_loadu_si512(r[2] + c0),
              _mm512_loadu_si512(r[3] + c0), o);
        uint8_t *d = dst + (c0 / CNR) * panel + q * CNR * 4;
        _mm512_storeu_si512(d, o[0]);
        _mm512_storeu_si512(d + 64, o[1]);
        d += panel;
        _mm512_storeu_si512(d, o[2]);
        _mm512_storeu_si512(d + 64, o[3]);
    }
    if (c0 < nc) {   /* one panel left: 32 columns (o[0], o[1] use only those) */
        ilv64(_mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(r[0] + c0))),
              _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(r[1] + c0))),
              _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(r[2] + c0))),
              _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(r[3] + c0))), o);
        uint8_t *d = dst + (c0 / CNR) * panel + q * CNR * 4;
        _mm512_storeu_si512(d, o[0]);
        _mm512_storeu_si512(d + 64, o[1]);
    }
}

/* ypr_i8kt.even: 32 outputs from 64 bytes by vpmovwb (the low byte of each
 * 16-bit pair); the last byte read, src[2t + 63], lies before
 * src[2(t1 − 1)] + 1 while t + 32 < t1. */
static void even_avx512(const int8_t *src, int64_t t0, int64_t t1, int8_t *d)
{
    int64_t t = t0;
    for (; t + 32 < t1; t += 32)
        _mm256_storeu_si256((__m256i *)(d + t),
                            _mm512_cvtepi16_epi8(_mm512_loadu_si512(src + 2 * t)));
    for (; t < t1; t++)
        d[t] = src[2 * t];
}

void ypr__i8kt_fill_avx512vnni(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avx512vnni", CMR, CNR, 4, YPR_I8F_U8, gemm_8x32, requant16_avx512, NULL, NULL, NULL};
    if (ypr__cpu()->avx512vbmi)
        t->lut = lut_vbmi;
    t->ilv = ilv_u8;
    t->even = even_avx512;

}

void ypr__i8wk_fill_avx512vnni(ypr_i8wk *w)
{
    ypr__i8wk_fill_avx2(w);   /* its input transforms (the CPU has AVX2), this tile */
    w->tout = ypr__i8_wino_tout_avx512;
    w->tout4 = ypr__i8_wino_tout4_avx512;
    w->tin4 = ypr__i8_wino_tin4_avx512;
    w->mr = CMR;
    w->nr = CNR;
    w->gemm = wgemm_8x32;
}
