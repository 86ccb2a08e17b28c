/* AVX-512 kernel set: register-blocked SGEMM micro-kernel, 3×3 stride-1
 * tiles from copied rows, nearest ×2 upsample, the implicit-im2col packer
 * and the FMA peak probe; activations, the fused and standalone epilogues
 * and max-pool come from the x86 template (x86_vec.h) over the zmm
 * primitives defined here.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512dq (plus AVX2/FMA) only,
 * so dispatch.c selects it only where the CPU has all four (and the OS saves
 * ZMM/opmask state); every helper is static so nothing here can be picked by
 * the linker for generic callers. */
#include <immintrin.h>

#include "lib/kernels/kernels.h"

#define AI static inline __attribute__((always_inline))

/* ---------------------------------------------- x86_vec.h primitives */

#define XV_VL 16
#define XV_MR_MAX 16
typedef __m512 xv_f;
typedef __mmask16 xv_m;

AI xv_f xv_set1(float v) { return _mm512_set1_ps(v); }
AI xv_f xv_zero(void) { return _mm512_setzero_ps(); }
AI xv_f xv_load(const float *p) { return _mm512_loadu_ps(p); }
AI void xv_store(float *p, xv_f v) { _mm512_storeu_ps(p, v); }
AI xv_f xv_add(xv_f a, xv_f b) { return _mm512_add_ps(a, b); }
AI xv_f xv_sub(xv_f a, xv_f b) { return _mm512_sub_ps(a, b); }
AI xv_f xv_mul(xv_f a, xv_f b) { return _mm512_mul_ps(a, b); }
AI xv_f xv_min(xv_f a, xv_f b) { return _mm512_min_ps(a, b); }
AI xv_f xv_max(xv_f a, xv_f b) { return _mm512_max_ps(a, b); }
AI xv_f xv_fmadd(xv_f a, xv_f b, xv_f c) { return _mm512_fmadd_ps(a, b, c); }
AI xv_f xv_fnmadd(xv_f a, xv_f b, xv_f c) { return _mm512_fnmadd_ps(a, b, c); }
AI xv_f xv_rcp(xv_f d) { return _mm512_rcp14_ps(d); }   /* 14 bits */

AI xv_f xv_round(xv_f z)
{
    return _mm512_roundscale_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* vscalefps: p·2^n in one instruction. */
AI xv_f xv_scale2n(xv_f p, xv_f n)
{
    return _mm512_scalef_ps(p, n);
}

AI xv_f xv_pos_or(xv_f y, xv_f neg)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), neg, y);
}

AI xv_m xv_tail(int64_t rem)
{
    if (rem >= 16)
        return (__mmask16)0xFFFF;
    if (rem <= 0)
        return 0;
    return (__mmask16)((1u << rem) - 1u);
}

/* lanes lo … hi − 1 */
AI xv_m xv_mask_range(int lo, int hi) { return (__mmask16)(xv_tail(hi) & ~xv_tail(lo)); }

AI xv_f xv_maskload(xv_m m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
AI void xv_maskstore(float *p, xv_m m, xv_f v) { _mm512_mask_storeu_ps(p, m, v); }

AI xv_f xv_even(xv_f lo, xv_f hi)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                           26, 28, 30);
    return _mm512_permutex2var_ps(lo, even, hi);
}

AI xv_f xv_odd(xv_f lo, xv_f hi)
{
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25,
                                          27, 29, 31);
    return _mm512_permutex2var_ps(lo, odd, hi);
}

#include "lib/kernels/x86/x86_vec.h"

/* x86_train.h's one extra primitive. */
AI xv_f xv_gt_sel(xv_f a, xv_f b, xv_f x, xv_f y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
}

/* x86_train.h's dot-product tile: 6 × 4 = 24 accumulators + 6 A rows + 1 B row. */
#define XV_DOT_MR 6

/* dst[q] += the lanes of the q-th vector summed (q < n): the 256-bit halves
 * added, then two rounds of pairwise adds within each 128-bit half, then
 * those halves. */
AI void xv_hsum4_add(xv_f a, xv_f b, xv_f c, xv_f d, float *dst, int n)
{
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    if (n == 4) {
        _mm_storeu_ps(dst, _mm_add_ps(_mm_loadu_ps(dst), r));
        return;
    }
    float s[4];
    _mm_storeu_ps(s, r);
    for (int q = 0; q < n; q++)
        dst[q] += s[q];
}

#include "lib/kernels/x86/x86_train.h"

/* ------------------------------------------------ Winograd transforms */

/* x86_wino.h's two extra primitives: interleave the first (second) halves. */
AI xv_f xv_zip_lo(xv_f a, xv_f b)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                         23);
    return _mm512_permutex2var_ps(a, lo, b);
}

AI xv_f xv_zip_hi(xv_f a, xv_f b)
{
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                         15, 31);
    return _mm512_permutex2var_ps(a, hi, b);
}

#include "lib/kernels/x86/x86_wino.h"

/* x86_s2.h's transpose of a 16×16 block: pairs of rows interleaved by
 * floats, then by float pairs (each 128-bit block of u[4g + k] holds column
 * 4b + k of rows 4g … 4g + 3), then the 4×4 blocks of 128 bits transposed. */
AI void xv_transpose(xv_f r[16])
{
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512 w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44);
        __m512 w1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
        __m512 w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
        __m512 w3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(w0, w2, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(w0, w2, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(w1, w3, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(w1, w3, 0xDD);
    }
}

#define S2_NV 4
#include "lib/kernels/x86/x86_s2.h"

/* ------------------------------------------------------------ GEMM */

/* How far ahead (floats) the micro-kernel prefetches its A panel. A forward
 * pass reads most weights once, from memory (yolov7's are 148 MB), and an A
 * micro-panel (6 × kc) is too short a stream for the hardware prefetcher to
 * ramp up on. Alone, A from memory, one B panel: 83–88 % of the FMA peak
 * without, 94–95 % with; yolov7 @416 on two threads: 0.95 of the time
 * (11 alternated rounds). 512 or 2048, or every 2nd k step: the same within
 * noise; unrolling the k loop by 2 to prefetch cost 6 %. The addresses past
 * the end of the panels are only prefetched (never faults). */
enum { PF_AHEAD = 1024 };


/* One k step of an MR × NV·16 tile: NV loads of B (16 floats apart; the
 * last one through `last`, all ones but for B read in place), MR broadcasts
 * of A, MR·NV FMAs. */
AI void fma_step(xv_f acc[XV_MR_MAX][4], const float *a, const float *b, const int MR,
                 const int NV, __mmask16 last)
{
    __m512 bv[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + v * 16) : _mm512_loadu_ps(b + v * 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
}

/* Micro-tile: MR rows × NV·16 columns held in MR·NV zmm accumulators; per k
 * step NV loads of B and MR broadcasts of A feed MR·NV FMAs. The B panel is
 * NRV vectors wide (NV ≤ NRV): narrow edge tiles compute only the vectors
 * they need. With EP set, the store goes through ep_store (the fused
 * epilogue); otherwise the plain (accumulating) store. */
AI void ukernel_body_ldb(int64_t kc, const float *a, const float *b, int64_t ldb,
                         __mmask16 last, float *c, int64_t ldc, int m, int n, int accumulate,
                         const float *scale, const float *bias, int act, float alpha,
                         const int MR, const int NV, const int NRV, const int EP)
{
    xv_f acc[XV_MR_MAX][4];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();

    for (int64_t k = 0; k < kc; k++) {
        if ((k & 3) == 0)   /* 4 k steps: 96 bytes of A */
            __builtin_prefetch(a + PF_AHEAD, 0, 3);
        fma_step(acc, a, b, MR, NV, last);
        a += MR;
        b += ldb;
    }

    if (EP) {
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, MR, NV, NRV);
        return;
    }
    plain_store(acc, c, ldc, m, n, accumulate, MR, NV);
}

AI void ukernel_body(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                     int m, int n, int accumulate, const float *scale, const float *bias,
                     int act, float alpha, const int MR, const int NV, const int NRV,
                     const int EP)
{
    ukernel_body_ldb(kc, a, b, NRV * 16, 0xFFFF, c, ldc, m, n, accumulate, scale, bias, act,
                     alpha, MR, NV, NRV, EP);
}
/* 6 × 64: 24 accumulators + 4 B vectors + 1 broadcast of the 32 zmm. */
static void ukernel_6x64(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, int accumulate)
{
    switch ((n + 15) / 16) {
    case 1: ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 1, 4, 0); break;
    case 2: ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 2, 4, 0); break;
    case 3: ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 3, 4, 0); break;
    default: ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 4, 4, 0);
    }
}

/* The same micro-kernel with the epilogue c = act(acc·scale[i] + bias[i])
 * applied in registers before the only store of the tile. */
static void ukernel_6x64_ep(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, int accumulate, const float *scale,
                            const float *bias, int act, float alpha)
{
    switch ((n + 15) / 16) {
    case 1:
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 1, 4, 1);
        break;
    case 2:
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 2, 4, 1);
        break;
    case 3:
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 3, 4, 1);
        break;
    default:
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 4, 4, 1);
        break;
    }
}

/* 6 × 32 on a B panel of 32 columns (kt->nrn): the same body, two vectors. */
static void ukernel_6x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, int accumulate)
{
    if (n <= 16)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 1, 2, 0);
    else
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 6, 2, 2, 0);
}

static void ukernel_6x32_ep(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, int accumulate, const float *scale,
                            const float *bias, int act, float alpha)
{
    if (n <= 16)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 1, 2, 1);
    else
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 6, 2, 2, 1);
}

/* The 6 × 64 kernels on B read in place: row k at b + k·ldb, columns j < n
 * (the last vector masked, nothing read past column n). */
#define LDB_CASES(EP_, ...)                                                                \
    switch ((n + 15) / 16) {                                                               \
    case 1: ukernel_body_ldb(kc, a, b, ldb, last, c, ldc, m, n, __VA_ARGS__, 6, 1, 4, EP_); break; \
    case 2: ukernel_body_ldb(kc, a, b, ldb, last, c, ldc, m, n, __VA_ARGS__, 6, 2, 4, EP_); break; \
    case 3: ukernel_body_ldb(kc, a, b, ldb, last, c, ldc, m, n, __VA_ARGS__, 6, 3, 4, EP_); break; \
    default: ukernel_body_ldb(kc, a, b, ldb, last, c, ldc, m, n, __VA_ARGS__, 6, 4, 4, EP_); \
    }

static void ukernel_6x64_ldb(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                             int64_t ldc, int m, int n, int accumulate)
{
    const __mmask16 last = xv_tail(n - (n - 1) / 16 * 16);
    LDB_CASES(0, accumulate, NULL, NULL, 0, 0)
}

static void ukernel_6x64_ldb_ep(int64_t kc, const float *a, const float *b, int64_t ldb,
                                float *c, int64_t ldc, int m, int n, int accumulate,
                                const float *scale, const float *bias, int act, float alpha)
{
    const __mmask16 last = xv_tail(n - (n - 1) / 16 * 16);
    LDB_CASES(1, accumulate, scale, bias, act, alpha)
}
#undef LDB_CASES

/* ------------------------------------------------------------ upsample */

static void upsample2x_plane_avx512(const float *x, int64_t h, int64_t w, float *y)
{
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14,
                                         15, 15);
    const int64_t w2 = 2 * w;
    for (int64_t iy = 0; iy < h; iy++) {
        const float *xr = x + iy * w;
        float *r0 = y + 2 * iy * w2, *r1 = r0 + w2;
        int64_t ix = 0;
        for (; ix + 16 <= w; ix += 16) {
            __m512 v = _mm512_loadu_ps(xr + ix);
            __m512 a = _mm512_permutexvar_ps(lo, v), b = _mm512_permutexvar_ps(hi, v);
            _mm512_storeu_ps(r0 + 2 * ix, a);
            _mm512_storeu_ps(r0 + 2 * ix + 16, b);
            _mm512_storeu_ps(r1 + 2 * ix, a);
            _mm512_storeu_ps(r1 + 2 * ix + 16, b);
        }
        if (ix < w) {
            int64_t rem = w - ix;
            __m512 v = _mm512_maskz_loadu_ps(xv_tail(rem), xr + ix);
            __m512 a = _mm512_permutexvar_ps(lo, v), b = _mm512_permutexvar_ps(hi, v);
            __mmask16 ma = xv_tail(2 * rem), mb = xv_tail(2 * rem - 16);
            _mm512_mask_storeu_ps(r0 + 2 * ix, ma, a);
            _mm512_mask_storeu_ps(r0 + 2 * ix + 16, mb, b);
            _mm512_mask_storeu_ps(r1 + 2 * ix, ma, a);
            _mm512_mask_storeu_ps(r1 + 2 * ix + 16, mb, b);
        }
    }
}

/* ------------------------------------------------------ implicit im2col */

#define IM2COL_VL 16
typedef __mmask16 im2col_mask;
typedef __m512 im2col_vec;

AI im2col_mask im2col_lanes(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a > 16 ? 16 : a;
    b = b < 0 ? 0 : b > 16 ? 16 : b;
    return b <= a ? 0 : (__mmask16)(((1u << b) - 1u) & ~((1u << a) - 1u));
}

AI __m512 im2col_load(__mmask16 m, const float *p)
{
    return xv_maskload(m, p);
}

AI __m512 im2col_even(__m512 lo, __m512 hi)
{
    return xv_even(lo, hi);
}

AI __m512 im2col_odd(__m512 lo, __m512 hi)
{
    return xv_odd(lo, hi);
}

AI __m512 im2col_loadu(const float *p)
{
    return xv_load(p);
}

AI __m512 im2col_zero(void)
{
    return xv_zero();
}

AI void im2col_store(float *d, int cnt, __m512 v)
{
    if (cnt == 16)
        xv_store(d, v);
    else
        xv_maskstore(d, xv_tail(cnt), v);
}

AI __mmask16 im2col_bits(uint32_t b)
{
    return (__mmask16)b;
}

#include "lib/kernels/im2col_vec.h"

/* ------------------------------------------- convolution backward */

#include "lib/kernels/x86/x86_bwd.h"

/* ------------------------------------------ 3×3 stride-1 tiles from rows */

/* A 6 × NV·16 tile over `rows` packed input rows: per row three windows
 * (kx = 0, 1, 2) one float apart, each NV unaligned loads from L1, six
 * broadcasts of A and 6·NV FMAs. */
AI void c3rows_body(const float *a, const float *rb, int64_t rows, int64_t ldr, int n, float *y,
                    int64_t ldy, int m, int accumulate, const float *scale, const float *bias,
                    int act, float alpha, int ep, const int NV)
{
    enum { MR = 6 };
    xv_f acc[XV_MR_MAX][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int64_t r = 0; r < rows; r++, rb += ldr) {
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++) {
            fma_step(acc, a, rb + kx, MR, NV, 0xFFFF);
            a += MR;
        }
    }
    if (ep)
        ep_store(acc, y, ldy, m, n, accumulate, scale, bias, act, alpha, MR, NV, NV);
    else
        plain_store(acc, y, ldy, m, n, accumulate, MR, NV);
}

static void conv3x3_rows_avx512(const float *a, const float *rb, int64_t rows, int64_t ldr, int n,
                                float *y, int64_t ldy, int m, int accumulate, const float *scale,
                                const float *bias, int act, float alpha, int ep)
{
#define C3R(NV) c3rows_body(a, rb, rows, ldr, n, y, ldy, m, accumulate, scale, bias, act, alpha, \
                            ep, NV)
    switch ((n + 15) / 16) {
    case 1: C3R(1); break;
    case 2: C3R(2); break;
    case 3: C3R(3); break;
    default: C3R(4); break;
    }
#undef C3R
}

/* ------------------------------------------------------------ peak probe */

static double fma_burn_avx512(int64_t iters, float *sink)
{
    __m512 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
        acc[i] = _mm512_set1_ps((float)i * 0.001f);
    const __m512 m = _mm512_set1_ps(0.9999f), ad = _mm512_set1_ps(1e-6f);
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], m, ad);
    }
    __m512 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; i++)
        s = _mm512_add_ps(s, acc[i]);
    *sink = _mm512_reduce_add_ps(s);
    return 2.0 * 16.0 * 12.0 * (double)iters;
}

void ypr__kt_fill_avx512(ypr_ktable *t)
{
    t->name = "avx512";
    t->mr = 6;
    t->nr = 64;
    /* kc 1024 (was 256): one K block for every 1×1 conv up to 1024 input
     * channels and every Winograd GEMM; yolov7 and yolov7-tiny at 416 and 640,
     * two threads: 0.93–0.95 of the time with the A prefetch above (kc alone
     * 0.96–0.97 on yolov7; 512 and 2048 the same within noise). */
    t->kc = 1024;
    t->nc = 64;
    t->gemm_ukernel = ukernel_6x64;
    t->gemm_ukernel_ep = ukernel_6x64_ep;
    t->nrn = 32;
    t->gemm_ukernel_narrow = ukernel_6x32;
    t->gemm_ukernel_narrow_ep = ukernel_6x32_ep;
    t->gemm_ukernel_ldb = ukernel_6x64_ldb;
    t->gemm_ukernel_ldb_ep = ukernel_6x64_ldb_ep;
    t->pack_b_im2col = im2col_pack_vec;
    t->conv3x3_rows = conv3x3_rows_avx512;
    t->vl = 16;
    t->s2_ocb = S2_NV * XV_VL;
    t->s2_pays = 1;
    t->s2_tile = s2_tile_vec;
    t->s2_flush = s2_flush_vec;
    t->scale_bias_act = scale_bias_act_vec;
    t->maxpool_2x2s2 = maxpool_2x2s2_vec;
    t->maxpool_s1 = maxpool_s1_vec;
    t->upsample2x_plane = upsample2x_plane_avx512;
    t->fma_burn = fma_burn_avx512;
    t->add_strided = add_strided_x86;
    t->dot_block = dot_block_vec;
    t->act_bwd = act_bwd_vec;
    t->sgd = sgd_vec;
    t->bn_sums = bn_sums_vec;
    t->bn_norm_act = bn_norm_act_vec;
    t->bn_bwd_sums = bn_bwd_sums_vec;
    t->bn_bwd_dx = bn_bwd_dx_vec;
    t->wino4_in = wino4_in_vec;
    t->wino4_out = wino4_out_vec;
    t->wino4_out_segs = wino4_out_segs_vec;
    t->wino2_in = wino2_in_vec;
    t->wino2_out_segs = wino2_out_segs_vec;
}
