/* AVX2 + FMA kernel set: register-blocked SGEMM micro-kernel, nearest ×2
 * upsample, the implicit-im2col packer and the FMA peak probe; activations,
 * the fused and standalone epilogues and max-pool come from the x86 template
 * (x86_vec.h) over the ymm primitives defined here.
 *
 * Built with -mavx2 -mfma -mf16c only; every helper is static so nothing here
 * can be picked by the linker for generic callers. */
#include <immintrin.h>

#include "lib/kernels/kernels.h"

#define AI static inline __attribute__((always_inline))

/* ---------------------------------------------- x86_vec.h primitives */

#define XV_VL 8
#define XV_MR_MAX 8
typedef __m256 xv_f;
typedef __m256i xv_m;   /* all-ones lanes */

AI xv_f xv_set1(float v) { return _mm256_set1_ps(v); }
AI xv_f xv_zero(void) { return _mm256_setzero_ps(); }
AI xv_f xv_load(const float *p) { return _mm256_loadu_ps(p); }
AI void xv_store(float *p, xv_f v) { _mm256_storeu_ps(p, v); }
AI xv_f xv_add(xv_f a, xv_f b) { return _mm256_add_ps(a, b); }
AI xv_f xv_sub(xv_f a, xv_f b) { return _mm256_sub_ps(a, b); }
AI xv_f xv_mul(xv_f a, xv_f b) { return _mm256_mul_ps(a, b); }
AI xv_f xv_min(xv_f a, xv_f b) { return _mm256_min_ps(a, b); }
AI xv_f xv_max(xv_f a, xv_f b) { return _mm256_max_ps(a, b); }
AI xv_f xv_fmadd(xv_f a, xv_f b, xv_f c) { return _mm256_fmadd_ps(a, b, c); }
AI xv_f xv_fnmadd(xv_f a, xv_f b, xv_f c) { return _mm256_fnmadd_ps(a, b, c); }
AI xv_f xv_rcp(xv_f d) { return _mm256_rcp_ps(d); }   /* 12 bits; flushes to 0 past 2^126 */

AI xv_f xv_round(xv_f z)
{
    return _mm256_round_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* 2^n built in the exponent field (n integral in [−126, 127]: always normal). */
AI xv_f xv_scale2n(xv_f p, xv_f n)
{
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                   _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AI xv_f xv_pos_or(xv_f y, xv_f neg)
{
    return _mm256_blendv_ps(neg, y, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
}

AI xv_m xv_tail(int64_t rem)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int r = rem <= 0 ? 0 : rem >= 8 ? 8 : (int)rem;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), idx);
}

/* lanes lo … hi − 1 */
AI xv_m xv_mask_range(int lo, int hi) { return _mm256_andnot_si256(xv_tail(lo), xv_tail(hi)); }

AI xv_f xv_maskload(xv_m m, const float *p) { return _mm256_maskload_ps(p, m); }
AI void xv_maskstore(float *p, xv_m m, xv_f v) { _mm256_maskstore_ps(p, m, v); }

/* shuffle picks [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] (or the odd lanes), the
 * 64-bit permute puts the halves in order. */
AI xv_f xv_even(xv_f lo, xv_f hi)
{
    __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

AI xv_f xv_odd(xv_f lo, xv_f hi)
{
    __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

#include "lib/kernels/x86/x86_vec.h"

/* x86_train.h's one extra primitive. */
AI xv_f xv_gt_sel(xv_f a, xv_f b, xv_f x, xv_f y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}

/* x86_train.h's dot-product tile: 3 × 4 = 12 accumulators + 3 A rows + 1 B row. */
#define XV_DOT_MR 3

/* dst[q] += the lanes of the q-th vector summed (q < n): two rounds of
 * pairwise adds within each half, then the halves. */
AI void xv_hsum4_add(xv_f a, xv_f b, xv_f c, xv_f d, float *dst, int n)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
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
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20);
}

AI xv_f xv_zip_hi(xv_f a, xv_f b)
{
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31);
}

#include "lib/kernels/x86/x86_wino.h"

/* x86_s2.h's transpose of an 8×8 block: rows interleaved by floats, then by
 * float pairs (u[k] holds column 4L + k of rows 0 … 3 in 128-bit lane L,
 * u[4 + k] of rows 4 … 7), then the 128-bit lanes recombined. */
AI void xv_transpose(xv_f r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        u[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

#define S2_NV 2
#include "lib/kernels/x86/x86_s2.h"

/* ------------------------------------------------------------ GEMM */

/* The k loop of a micro-tile: MR rows × NV·8 columns in MR·NV ymm
 * accumulators (≤ 12 of the 16 registers), NV loads of B and MR broadcasts
 * of A per k step, the B panel NRV vectors wide (NV ≤ NRV: narrow edge tiles
 * compute only the vectors they need). Unrolled by 4: the loop's own
 * increments and branch otherwise take issue slots from the FMAs (4×24 from
 * L1 on Zen 3: 84 → 94 GFLOP/s). */
AI void fma_loop_ldb(int64_t kc, const float *a, const float *b, int64_t ldb, __m256i last,
                     xv_f out[XV_MR_MAX][4], const int MR, const int NV, const int MASKED)
{
    xv_f acc[XV_MR_MAX][4];   /* local: stores to out inside the loop would not go away */
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        __m256 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = MASKED && v == NV - 1 ? _mm256_maskload_ps(b + v * 8, last)
                                          : _mm256_loadu_ps(b + v * 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
        b += ldb;
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            out[i][v] = acc[i][v];
}

/* The packed panel: rows NRV vectors apart, nothing masked. */
AI void fma_loop(int64_t kc, const float *a, const float *b, xv_f out[XV_MR_MAX][4],
                 const int MR, const int NV, const int NRV)
{
    fma_loop_ldb(kc, a, b, NRV * 8, _mm256_setzero_si256(), out, MR, NV, 0);
}

/* The 4 × NV·8 k loop on its own, the accumulators handed back through
 * memory, for the kernel with the fused epilogue: inlined next to it, the
 * unrolled loop made GCC 12 keep an accumulator on the stack (all 16
 * registers are taken), costing a third of the speed; the call and the 12
 * stores and loads cost less than the epilogue's own work. The plain kernel
 * (short-K Winograd GEMMs, all but the last K block) inlines the loop: no
 * spill there. */
static __attribute__((noinline)) void fma_tile_4x24(int64_t kc, const float *a, const float *b,
                                                    xv_f acc[XV_MR_MAX][4], int nv)
{
    if (nv == 1)
        fma_loop(kc, a, b, acc, 4, 1, 3);
    else if (nv == 2)
        fma_loop(kc, a, b, acc, 4, 2, 3);
    else
        fma_loop(kc, a, b, acc, 4, 3, 3);
}

/* A micro-tile (MR = 4, NRV = 3: the 4 × 24 kernels below): the k loop, then
 * with EP set the store through ep_store (the fused epilogue), otherwise the
 * plain (accumulating) store. */
AI void ukernel_body(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                     int m, int n, int accumulate, const float *scale, const float *bias,
                     int act, float alpha, const int MR, const int NV, const int NRV,
                     const int EP)
{
    xv_f acc[XV_MR_MAX][4];
    if (EP) {
        fma_tile_4x24(kc, a, b, acc, NV);
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, MR, NV, NRV);
        return;
    }
    fma_loop(kc, a, b, acc, MR, NV, NRV);
    plain_store(acc, c, ldc, m, n, accumulate, MR, NV);
}

/* The 4 × 24 k loop on B read in place (row k at b + k·ldb, columns j < n;
 * a partial last vector through a masked load), behind a call as above. */
static __attribute__((noinline)) void fma_tile_ldb_4x24(int64_t kc, const float *a,
                                                        const float *b, int64_t ldb, int n,
                                                        xv_f acc[XV_MR_MAX][4])
{
    const int nv = (n + 7) / 8;
    const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - (nv - 1) * 8),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (n % 8 == 0) {
        if (nv == 1)
            fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 1, 0);
        else if (nv == 2)
            fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 2, 0);
        else
            fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 3, 0);
    } else if (nv == 1) {
        fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 1, 1);
    } else if (nv == 2) {
        fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 2, 1);
    } else {
        fma_loop_ldb(kc, a, b, ldb, last, acc, 4, 3, 1);
    }
}

static void ukernel_4x24_ldb(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                             int64_t ldc, int m, int n, int accumulate)
{
    xv_f acc[XV_MR_MAX][4];
    fma_tile_ldb_4x24(kc, a, b, ldb, n, acc);
    if (n <= 8)
        plain_store(acc, c, ldc, m, n, accumulate, 4, 1);
    else if (n <= 16)
        plain_store(acc, c, ldc, m, n, accumulate, 4, 2);
    else
        plain_store(acc, c, ldc, m, n, accumulate, 4, 3);
}

static void ukernel_4x24_ldb_ep(int64_t kc, const float *a, const float *b, int64_t ldb,
                                float *c, int64_t ldc, int m, int n, int accumulate,
                                const float *scale, const float *bias, int act, float alpha)
{
    xv_f acc[XV_MR_MAX][4];
    fma_tile_ldb_4x24(kc, a, b, ldb, n, acc);
    if (n <= 8)
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 1, 3);
    else if (n <= 16)
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 2, 3);
    else
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 3, 3);
}

/* 4 × 24: 12 accumulators + 3 B vectors + 1 broadcast = all 16 ymm. */
static void ukernel_4x24(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, int accumulate)
{
    if (n <= 8)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 4, 1, 3, 0);
    else if (n <= 16)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 4, 2, 3, 0);
    else
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, NULL, NULL, 0, 0, 4, 3, 3, 0);
}

/* The same micro-kernel with the epilogue c = act(acc·scale[i] + bias[i])
 * applied in registers before the only store of the tile. */
static void ukernel_4x24_ep(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, int accumulate, const float *scale,
                            const float *bias, int act, float alpha)
{
    if (n <= 8)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 1, 3, 1);
    else if (n <= 16)
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 2, 3, 1);
    else
        ukernel_body(kc, a, b, c, ldc, m, n, accumulate, scale, bias, act, alpha, 4, 3, 3, 1);
}

/* ------------------------------------------------------------ upsample */

static void upsample2x_plane_avx2(const float *x, int64_t h, int64_t w, float *y)
{
    const int64_t w2 = 2 * w;
    for (int64_t iy = 0; iy < h; iy++) {
        const float *xr = x + iy * w;
        float *r0 = y + 2 * iy * w2, *r1 = r0 + w2;
        int64_t ix = 0;
        for (; ix + 8 <= w; ix += 8) {
            __m256 v = _mm256_loadu_ps(xr + ix);
            __m256 lo = _mm256_unpacklo_ps(v, v), hi = _mm256_unpackhi_ps(v, v);
            __m256 a = _mm256_permute2f128_ps(lo, hi, 0x20);
            __m256 b = _mm256_permute2f128_ps(lo, hi, 0x31);
            _mm256_storeu_ps(r0 + 2 * ix, a);
            _mm256_storeu_ps(r0 + 2 * ix + 8, b);
            _mm256_storeu_ps(r1 + 2 * ix, a);
            _mm256_storeu_ps(r1 + 2 * ix + 8, b);
        }
        for (; ix < w; ix++)
            r0[2 * ix] = r0[2 * ix + 1] = r1[2 * ix] = r1[2 * ix + 1] = xr[ix];
    }
}

/* ------------------------------------------------------ implicit im2col */

#define IM2COL_VL 8
typedef __m256i im2col_mask;
typedef __m256 im2col_vec;

AI __m256i im2col_lanes(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a > 8 ? 8 : a;
    b = b < 0 ? 0 : b > 8 ? 8 : b;
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)a - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)b), idx);
    return _mm256_and_si256(ge, lt);
}

AI __m256 im2col_load(__m256i m, const float *p)
{
    return xv_maskload(m, p);
}

AI __m256 im2col_even(__m256 lo, __m256 hi)
{
    return xv_even(lo, hi);
}

AI __m256 im2col_odd(__m256 lo, __m256 hi)
{
    return xv_odd(lo, hi);
}

AI __m256 im2col_loadu(const float *p)
{
    return xv_load(p);
}

AI __m256 im2col_zero(void)
{
    return xv_zero();
}

AI void im2col_store(float *d, int cnt, __m256 v)
{
    if (cnt == 8)
        xv_store(d, v);
    else
        xv_maskstore(d, xv_tail(cnt), v);
}

AI __m256i im2col_bits(uint32_t b)
{
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), lane), lane);
}

#include "lib/kernels/im2col_vec.h"

/* ------------------------------------------- convolution backward */

#include "lib/kernels/x86/x86_bwd.h"

/* ------------------------------------------------------------ peak probe */

static double fma_burn_avx2(int64_t iters, float *sink)
{
    __m256 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i * 0.001f);
    const __m256 m = _mm256_set1_ps(0.9999f), ad = _mm256_set1_ps(1e-6f);
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], m, ad);
    }
    __m256 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; i++)
        s = _mm256_add_ps(s, acc[i]);
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    *sink = _mm_cvtss_f32(q);
    return 2.0 * 8.0 * 12.0 * (double)iters;
}

void ypr__kt_fill_avx2(ypr_ktable *t)
{
    t->name = "avx2";
    t->mr = 4;
    t->nr = 24;
    t->kc = 256;
    t->nc = 4 * 24;
    t->gemm_ukernel = ukernel_4x24;
    t->gemm_ukernel_ep = ukernel_4x24_ep;
    t->gemm_ukernel_ldb = ukernel_4x24_ldb;
    t->gemm_ukernel_ldb_ep = ukernel_4x24_ldb_ep;
    t->pack_b_im2col = im2col_pack_vec;
    t->vl = 8;
    t->s2_ocb = S2_NV * XV_VL;
    t->s2_pays = 1;
    t->s2_tile = s2_tile_vec;
    t->s2_flush = s2_flush_vec;
    t->scale_bias_act = scale_bias_act_vec;
    t->maxpool_2x2s2 = maxpool_2x2s2_vec;
    t->maxpool_s1 = maxpool_s1_vec;
    t->upsample2x_plane = upsample2x_plane_avx2;
    t->fma_burn = fma_burn_avx2;
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
