/* AVX2 + FMA kernel set: register-blocked SGEMM micro-kernel, the fused
 * scale/bias/activation epilogue (own vector exp), separable max-pool,
 * nearest ×2 upsample and the FMA peak probe.
 *
 * Built with -mavx2 -mfma -mf16c only; every helper is static so nothing here
 * can be picked by the linker for generic callers. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "lib/kernels/kernels.h"

#define AI static inline __attribute__((always_inline))

/* Lane mask (all-ones lanes) for the first rem lanes of a ymm, rem clamped to
 * [0, 8]. */
static __m256i tail_mask(int64_t rem)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int r = rem <= 0 ? 0 : rem >= 8 ? 8 : (int)rem;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), idx);
}

/* ------------------------------------------------------ activations */

/* 2^z for z ∈ [−126, 127]: n = round(z), f = z − n ∈ [−0.5, 0.5], a
 * degree-5 polynomial fitted to 2^f on that interval (relative error 2.4e-7
 * in float), times 2^n built in the exponent field (always normal). */
AI __m256 exp2_clamped(__m256 z)
{
    __m256 n = _mm256_round_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(z, n);
    __m256 p = _mm256_set1_ps(1.32764725e-3f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.67554189e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.55071309e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.40221202e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.93146944e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.00000012f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                   _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 1 + exp(−y) = 1 + 2^(−y·log2 e), the exponent clamped to [−126, 127] so
 * it neither overflows nor goes subnormal (NaN input clamps to a finite
 * value; max/min return their second operand). */
AI __m256 one_plus_exp_neg(__m256 y)
{
    __m256 z = _mm256_mul_ps(y, _mm256_set1_ps(-1.44269504f));
    z = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(-126.0f)), _mm256_set1_ps(127.0f));
    return _mm256_add_ps(_mm256_set1_ps(1.0f), exp2_clamped(z));
}

/* 1/d for d ∈ [1, 2.2e38]: 12-bit estimate plus one Newton step (relative
 * error ~2e-7, inside the tolerance; cheaper than vdivps). Past 2^126 the
 * estimate flushes to 0, which stays 0 — the right limit here. */
AI __m256 recip(__m256 d)
{
    __m256 r = _mm256_rcp_ps(d);
    return _mm256_fmadd_ps(_mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r, r);
}

AI __m256 act_vec(__m256 y, int act, __m256 alpha)
{
    switch (act) {
    case YPR_ACT_RELU:
        return _mm256_max_ps(y, _mm256_setzero_ps());
    case YPR_ACT_LEAKY: {
        __m256 pos = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(alpha, y), y, pos);
    }
    case YPR_ACT_SILU:
        return _mm256_mul_ps(y, recip(one_plus_exp_neg(y)));
    case YPR_ACT_SIGMOID:
        return recip(one_plus_exp_neg(y));
    case YPR_ACT_HARDSWISH: {
        __m256 r = _mm256_add_ps(y, _mm256_set1_ps(3.0f));
        r = _mm256_min_ps(_mm256_max_ps(r, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
        return _mm256_mul_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.0f / 6.0f));
    }
    default:
        return y;
    }
}

/* ------------------------------------------------- fused GEMM epilogue */

/* The fused epilogue of the micro-kernel: c = act((acc [+ c])·scale[i] +
 * bias[i]) with a separate multiply and add, as in sba_loop, so the result is
 * bit-identical to the plain store followed by scale_bias_act. ACT is a
 * constant in both helpers; scale and bias are read only for rows < m. */

/* Whole MR × NV·8 tile, straight from the accumulators. */
AI void ep_store_full(__m256 acc[8][4], float *c, int64_t ldc, int accumulate,
                      const float *scale, const float *bias, float alpha, const int MR,
                      const int NV, const int ACT)
{
    const __m256 al = _mm256_set1_ps(alpha);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        const __m256 s = _mm256_set1_ps(scale ? scale[i] : 1.0f);
        const __m256 bb = _mm256_set1_ps(bias ? bias[i] : 0.0f);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m256 r = acc[i][v];
            if (accumulate)
                r = _mm256_add_ps(r, _mm256_loadu_ps(ci + v * 8));
            r = _mm256_add_ps(_mm256_mul_ps(r, s), bb);
            _mm256_storeu_ps(ci + v * 8, act_vec(r, ACT, al));
        }
    }
}

/* Edge tile: the accumulators were spilled to tile (row stride ldt); only
 * the m×n corner of C is read (accumulate) and written, with masks. */
AI void ep_store_edge_loop(const float *tile, int64_t ldt, float *c, int64_t ldc, int m,
                           int n, int accumulate, const float *scale, const float *bias,
                           float alpha, const int ACT)
{
    const __m256 al = _mm256_set1_ps(alpha);
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        const __m256 s = _mm256_set1_ps(scale ? scale[i] : 1.0f);
        const __m256 bb = _mm256_set1_ps(bias ? bias[i] : 0.0f);
        for (int j = 0; j < n; j += 8) {
            const __m256i mk = tail_mask(n - j);
            __m256 r = _mm256_loadu_ps(tile + i * ldt + j);
            if (accumulate)
                r = _mm256_add_ps(r, _mm256_maskload_ps(ci + j, mk));
            r = _mm256_add_ps(_mm256_mul_ps(r, s), bb);
            _mm256_maskstore_ps(ci + j, mk, act_vec(r, ACT, al));
        }
    }
}

static void ep_store_edge(const float *tile, int64_t ldt, float *c, int64_t ldc, int m, int n,
                          int accumulate, const float *scale, const float *bias, int act,
                          float alpha)
{
    YPR_ACT_SPECIALIZE(act,
                       ep_store_edge_loop(tile, ldt, c, ldc, m, n, accumulate, scale, bias,
                                          alpha, ACT_));
}

/* One switch on the activation per tile. Full tiles of the widest kernel are
 * stored from registers by a specialised unrolled loop; edge tiles spill the
 * accumulators to the stack and share one compact loop per activation, which
 * keeps the code size in check. */
AI void ep_store(__m256 acc[8][4], float *c, int64_t ldc, int m, int n, int accumulate,
                 const float *scale, const float *bias, int act, float alpha, const int MR,
                 const int NV, const int NRV)
{
    if (NV == NRV && m == MR && n == NV * 8) {
        YPR_ACT_SPECIALIZE(act,
                           ep_store_full(acc, c, ldc, accumulate, scale, bias, alpha, MR, NV,
                                         ACT_));
        return;
    }
    float tile[8 * 32] __attribute__((aligned(32)));
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm256_store_ps(tile + i * NV * 8 + v * 8, acc[i][v]);
    ep_store_edge(tile, NV * 8, c, ldc, m, n, accumulate, scale, bias, act, alpha);
}

/* ------------------------------------------------------------ GEMM */

/* Micro-tile: MR rows × NV·8 columns in MR·NV ymm accumulators (≤ 12 of the
 * 16 registers), NV loads of B and MR broadcasts of A per k step. The B panel
 * is NRV vectors wide (NV ≤ NRV): narrow edge tiles compute only the vectors
 * they need. With EP set, the store goes through ep_store (the fused
 * epilogue); otherwise the plain (accumulating) store. */
AI void ukernel_body(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                     int m, int n, int accumulate, const float *scale, const float *bias,
                     int act, float alpha, const int MR, const int NV, const int NRV,
                     const int EP)
{
    const int NR = NRV * 8;
    __m256 acc[8][4];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm256_setzero_ps();

    for (int64_t k = 0; k < kc; k++) {
        __m256 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm256_loadu_ps(b + v * 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }

    if (EP) {
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, MR, NV, NRV);
        return;
    }

    if (m == MR && n == NV * 8) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float *ci = c + i * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m256 r = acc[i][v];
                if (accumulate)
                    r = _mm256_add_ps(r, _mm256_loadu_ps(ci + v * 8));
                _mm256_storeu_ps(ci + v * 8, r);
            }
        }
        return;
    }
    /* Partial tile: masked loads/stores never touch C outside the corner. */
    __m256i mk[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        mk[v] = tail_mask(n - v * 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= m)
            break;
        float *ci = c + i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            if (n <= v * 8)
                break;
            __m256 r = acc[i][v];
            if (accumulate)
                r = _mm256_add_ps(r, _mm256_maskload_ps(ci + v * 8, mk[v]));
            _mm256_maskstore_ps(ci + v * 8, mk[v], r);
        }
    }
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

/* y = x·scale + bias as a separate multiply and add (no contraction), so the
 * piecewise-linear activations match the scalar reference bit for bit. Four
 * independent vectors per step hide the latency of the exp chain. */
AI void sba_loop(float *x, int64_t n, float scale, float bias, int act, float alpha)
{
    const __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(bias);
    const __m256 al = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 y[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            y[u] = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * u), s), b);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            _mm256_storeu_ps(x + i + 8 * u, act_vec(y[u], act, al));
    }
    if (i < n) {
        /* 1–4 vectors left. Plain loads where the vector is whole, and no
         * access at all past the end: a masked load cannot take its data
         * from the micro-kernel's still-pending stores of this C row. */
        const int64_t left = n - i;
        const int nv = (int)((left + 7) / 8);
        const __m256i mk = tail_mask(left - 8 * (nv - 1));
        float *xl = x + i + 8 * (nv - 1);
        __m256 y[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                y[u] = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * u), s), b);
        __m256 yl = left - 8 * (nv - 1) == 8 ? _mm256_loadu_ps(xl) : _mm256_maskload_ps(xl, mk);
        yl = _mm256_add_ps(_mm256_mul_ps(yl, s), b);
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                _mm256_storeu_ps(x + i + 8 * u, act_vec(y[u], act, al));
        _mm256_maskstore_ps(xl, mk, act_vec(yl, act, al));
    }
}

static void scale_bias_act_avx2(float *x, int64_t n, float scale, float bias, int act,
                                float alpha)
{
    YPR_ACT_SPECIALIZE(act, sba_loop(x, n, scale, bias, ACT_, alpha));
}

/* ------------------------------------------------------------ max-pool */

/* The scalar reference folds m = (v > m) ? v : m in row-major window order,
 * which is exactly m = max_ps(v, m). Folding each row first, then the row
 * results in ky order, keeps that order (ties, ±0 and NaN included). */

static float fold_max(float v, float m)
{
    return v > m ? v : m;
}

/* k = 2, s = 2, p = 0. */
static void maxpool_2x2s2(const float *x, int64_t w, float *y, int64_t oh, int64_t ow)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + 2 * oy * w, *r1 = r0 + w;
        float *yr = y + oy * ow;
        int64_t ox = 0;
        for (; ox + 8 <= ow; ox += 8) {   /* reads 2·ox … 2·ox+15 < 2·ow ≤ w */
            __m256 a0 = _mm256_loadu_ps(r0 + 2 * ox), a1 = _mm256_loadu_ps(r0 + 2 * ox + 8);
            __m256 b0 = _mm256_loadu_ps(r1 + 2 * ox), b1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
            __m256 x00 = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0x88)), 0xD8));
            __m256 x01 = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0xDD)), 0xD8));
            __m256 x10 = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(b0, b1, 0x88)), 0xD8));
            __m256 x11 = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(_mm256_shuffle_ps(b0, b1, 0xDD)), 0xD8));
            __m256 m = _mm256_max_ps(x00, ninf);
            m = _mm256_max_ps(x01, m);
            m = _mm256_max_ps(x10, m);
            m = _mm256_max_ps(x11, m);
            _mm256_storeu_ps(yr + ox, m);
        }
        for (; ox < ow; ox++) {
            float m = fold_max(r0[2 * ox], -INFINITY);
            m = fold_max(r0[2 * ox + 1], m);
            m = fold_max(r1[2 * ox], m);
            yr[ox] = fold_max(r1[2 * ox + 1], m);
        }
    }
}

static int64_t round8(int64_t v)
{
    return (v + 7) & ~(int64_t)7;
}

/* Stride 1, any k and p ≤ k/2: horizontal window max of each input row (from
 * a −inf padded copy) into a ring of k rows, then the vertical max of the
 * ring rows. */
static int maxpool_s1(const float *x, int64_t h, int64_t w, float *y, int64_t oh,
                      int64_t ow, int k, int p)
{
    const int64_t padw = round8(w + 2 * p + 8), ringw = round8(ow);
    float *buf = malloc((size_t)(padw + (int64_t)k * ringw) * sizeof(float));
    if (!buf)
        return 0;
    float *pad = buf, *ring = buf + padw;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t i = 0; i < padw; i += 8)
        _mm256_storeu_ps(pad + i, ninf);
    int64_t next = 0;   /* next input row to bring into the ring */
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy - p, y1 = oy - p + k;   /* window rows [y0, y1) */
        if (y0 < 0)
            y0 = 0;
        if (y1 > h)
            y1 = h;
        for (; next < y1; next++) {
            const float *xr = x + next * w;
            for (int64_t i = 0; i < w; i += 8) {
                __m256i mk = tail_mask(w - i);
                _mm256_maskstore_ps(pad + p + i, mk, _mm256_maskload_ps(xr + i, mk));
            }
            float *hr = ring + (next % k) * ringw;
            /* reads up to ringw − 1 + k − 1 < padw; lanes past ow are unused */
            for (int64_t ox = 0; ox < ow; ox += 8) {
                __m256 m = ninf;
                for (int kx = 0; kx < k; kx++)
                    m = _mm256_max_ps(_mm256_loadu_ps(pad + ox + kx), m);
                _mm256_storeu_ps(hr + ox, m);
            }
        }
        float *yr = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox += 8) {
            __m256 m = ninf;
            for (int64_t iy = y0; iy < y1; iy++)
                m = _mm256_max_ps(_mm256_loadu_ps(ring + (iy % k) * ringw + ox), m);
            _mm256_maskstore_ps(yr + ox, tail_mask(ow - ox), m);
        }
    }
    free(buf);
    return 1;
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
    return _mm256_maskload_ps(p, m);
}

AI __m256 im2col_even(__m256 lo, __m256 hi)
{
    /* [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] → [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6] */
    __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

AI __m256 im2col_zero(void)
{
    return _mm256_setzero_ps();
}

AI void im2col_store(float *d, int cnt, __m256 v)
{
    if (cnt == 8)
        _mm256_storeu_ps(d, v);
    else
        _mm256_maskstore_ps(d, tail_mask(cnt), v);
}

AI __m256i im2col_bits(uint32_t b)
{
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), lane), lane);
}

#include "lib/kernels/im2col_vec.h"

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
    t->pack_b_im2col = im2col_pack_vec;
    t->vl = 8;
    t->scale_bias_act = scale_bias_act_avx2;
    t->maxpool_2x2s2 = maxpool_2x2s2;
    t->maxpool_s1 = maxpool_s1;
    t->upsample2x_plane = upsample2x_plane_avx2;
    t->fma_burn = fma_burn_avx2;
}
