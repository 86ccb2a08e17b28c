/* AVX-512 kernel set: register-blocked SGEMM micro-kernel, the fused
 * scale/bias/activation epilogue (own vector exp), separable max-pool,
 * nearest ×2 upsample and the FMA peak probe.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512dq only; every helper is
 * static so nothing here can be picked by the linker for generic callers. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "lib/kernels/kernels.h"

#define AI static inline __attribute__((always_inline))

/* ------------------------------------------------------------ masks */

static __mmask16 tail_mask(int64_t rem)
{
    if (rem >= 16)
        return (__mmask16)0xFFFF;
    if (rem <= 0)
        return 0;
    return (__mmask16)((1u << rem) - 1u);
}

/* ------------------------------------------------------ activations */

/* 2^z for z ≤ 127: n = round(z), f = z − n ∈ [−0.5, 0.5], a degree-5
 * polynomial fitted to 2^f on that interval (relative error 2.4e-7 in float),
 * scaled by 2^n with vscalefps (very negative z gives 0, no clamp needed). */
AI __m512 exp2_upto127(__m512 z)
{
    __m512 n = _mm512_roundscale_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(z, n);
    __m512 p = _mm512_set1_ps(1.32764725e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.67554189e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.55071309e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.40221202e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.93146944e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.00000012f));
    return _mm512_scalef_ps(p, n);
}

/* 1 + exp(−y) = 1 + 2^(−y·log2 e), the exponent capped at 127 so nothing
 * overflows (NaN input caps to a finite value: min returns its second
 * operand). */
AI __m512 one_plus_exp_neg(__m512 y)
{
    __m512 z = _mm512_min_ps(_mm512_mul_ps(y, _mm512_set1_ps(-1.44269504f)),
                             _mm512_set1_ps(127.0f));
    return _mm512_add_ps(_mm512_set1_ps(1.0f), exp2_upto127(z));
}

/* 1/d for d ∈ [1, 2.2e38]: 14-bit estimate plus one Newton step (relative
 * error ~1e-7, well inside the tolerance; much cheaper than vdivps). */
AI __m512 recip(__m512 d)
{
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(_mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r, r);
}

AI __m512 act_vec(__m512 y, int act, __m512 alpha)
{
    switch (act) {
    case YPR_ACT_RELU:
        return _mm512_max_ps(y, _mm512_setzero_ps());
    case YPR_ACT_LEAKY: {
        __mmask16 pos = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ);
        return _mm512_mask_blend_ps(pos, _mm512_mul_ps(alpha, y), y);
    }
    case YPR_ACT_SILU:
        return _mm512_mul_ps(y, recip(one_plus_exp_neg(y)));
    case YPR_ACT_SIGMOID:
        return recip(one_plus_exp_neg(y));
    case YPR_ACT_HARDSWISH: {
        __m512 r = _mm512_add_ps(y, _mm512_set1_ps(3.0f));
        r = _mm512_min_ps(_mm512_max_ps(r, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
        return _mm512_mul_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(1.0f / 6.0f));
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

/* Whole MR × NV·16 tile, straight from the accumulators. */
AI void ep_store_full(__m512 acc[16][4], float *c, int64_t ldc, int accumulate,
                      const float *scale, const float *bias, float alpha, const int MR,
                      const int NV, const int ACT)
{
    const __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        const __m512 s = _mm512_set1_ps(scale ? scale[i] : 1.0f);
        const __m512 bb = _mm512_set1_ps(bias ? bias[i] : 0.0f);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 r = acc[i][v];
            if (accumulate)
                r = _mm512_add_ps(r, _mm512_loadu_ps(ci + v * 16));
            r = _mm512_add_ps(_mm512_mul_ps(r, s), bb);
            _mm512_storeu_ps(ci + v * 16, act_vec(r, ACT, al));
        }
    }
}

/* Edge tile: the accumulators were spilled to tile (row stride ldt); only
 * the m×n corner of C is read (accumulate) and written, with masks. */
AI void ep_store_edge_loop(const float *tile, int64_t ldt, float *c, int64_t ldc, int m,
                           int n, int accumulate, const float *scale, const float *bias,
                           float alpha, const int ACT)
{
    const __m512 al = _mm512_set1_ps(alpha);
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        const __m512 s = _mm512_set1_ps(scale ? scale[i] : 1.0f);
        const __m512 bb = _mm512_set1_ps(bias ? bias[i] : 0.0f);
        for (int j = 0; j < n; j += 16) {
            const __mmask16 mk = tail_mask(n - j);
            __m512 r = _mm512_loadu_ps(tile + i * ldt + j);
            if (accumulate)
                r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk, ci + j));
            r = _mm512_add_ps(_mm512_mul_ps(r, s), bb);
            _mm512_mask_storeu_ps(ci + j, mk, act_vec(r, ACT, al));
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
 * stored from registers by a specialised unrolled loop; edge tiles (rare)
 * spill the accumulators to the stack and share one compact loop per
 * activation, which keeps the code size in check. */
AI void ep_store(__m512 acc[16][4], float *c, int64_t ldc, int m, int n, int accumulate,
                 const float *scale, const float *bias, int act, float alpha, const int MR,
                 const int NV, const int NRV)
{
    if (NV == NRV && m == MR && n == NV * 16) {
        YPR_ACT_SPECIALIZE(act,
                           ep_store_full(acc, c, ldc, accumulate, scale, bias, alpha, MR, NV,
                                         ACT_));
        return;
    }
    float tile[16 * 64] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm512_store_ps(tile + i * NV * 16 + v * 16, acc[i][v]);
    ep_store_edge(tile, NV * 16, c, ldc, m, n, accumulate, scale, bias, act, alpha);
}

/* ------------------------------------------------------------ GEMM */

/* The plain (optionally accumulating) store of an MR × NV·16 tile: whole
 * tiles straight from the accumulators, edge tiles with masks. */
AI void plain_store(__m512 acc[16][4], float *c, int64_t ldc, int m, int n, int accumulate,
                    const int MR, const int NV)
{
    if (m == MR && n == NV * 16) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float *ci = c + i * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m512 r = acc[i][v];
                if (accumulate)
                    r = _mm512_add_ps(r, _mm512_loadu_ps(ci + v * 16));
                _mm512_storeu_ps(ci + v * 16, r);
            }
        }
        return;
    }
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        mk[v] = tail_mask(n - v * 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        if (i >= m)
            break;
        float *ci = c + i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 r = acc[i][v];
            if (accumulate)
                r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk[v], ci + v * 16));
            _mm512_mask_storeu_ps(ci + v * 16, mk[v], r);
        }
    }
}

/* One k step of an MR × NV·16 tile: NV loads of B (16 floats apart), MR
 * broadcasts of A, MR·NV FMAs. */
AI void fma_step(__m512 acc[16][4], const float *a, const float *b, const int MR, const int NV)
{
    __m512 bv[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        bv[v] = _mm512_loadu_ps(b + v * 16);
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
AI void ukernel_body(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                     int m, int n, int accumulate, const float *scale, const float *bias,
                     int act, float alpha, const int MR, const int NV, const int NRV,
                     const int EP)
{
    const int NR = NRV * 16;
    __m512 acc[16][4];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();

    for (int64_t k = 0; k < kc; k++) {
        fma_step(acc, a, b, MR, NV);
        a += MR;
        b += NR;
    }

    if (EP) {
        ep_store(acc, c, ldc, m, n, accumulate, scale, bias, act, alpha, MR, NV, NRV);
        return;
    }
    plain_store(acc, c, ldc, m, n, accumulate, MR, NV);
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

/* y = x·scale + bias as a separate multiply and add (no contraction), so the
 * piecewise-linear activations match the scalar reference bit for bit. Four
 * independent vectors per step (the tail too, masked) hide the latency of the
 * exp chain: the GEMM driver calls this on rows of only nr elements. */
AI void sba_loop(float *x, int64_t n, float scale, float bias, int act, float alpha)
{
    const __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(bias);
    const __m512 al = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 y[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            y[u] = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * u), s), b);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            _mm512_storeu_ps(x + i + 16 * u, act_vec(y[u], act, al));
    }
    if (i < n) {
        /* 1–4 vectors left. Plain loads where the vector is whole, and no
         * access at all past the end: a masked load cannot take its data
         * from the micro-kernel's still-pending stores of this C row. */
        const int64_t left = n - i;
        const int nv = (int)((left + 15) / 16);
        const __mmask16 mk = tail_mask(left - 16 * (nv - 1));
        float *xl = x + i + 16 * (nv - 1);
        __m512 y[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                y[u] = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * u), s), b);
        const int whole = left - 16 * (nv - 1) == 16;
        __m512 yl = whole ? _mm512_loadu_ps(xl) : _mm512_maskz_loadu_ps(mk, xl);
        yl = _mm512_add_ps(_mm512_mul_ps(yl, s), b);
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                _mm512_storeu_ps(x + i + 16 * u, act_vec(y[u], act, al));
        yl = act_vec(yl, act, al);
        if (whole)
            _mm512_storeu_ps(xl, yl);
        else
            _mm512_mask_storeu_ps(xl, mk, yl);
    }
}

static void scale_bias_act_avx512(float *x, int64_t n, float scale, float bias, int act,
                                  float alpha)
{
    YPR_ACT_SPECIALIZE(act, sba_loop(x, n, scale, bias, ACT_, alpha));
}

/* ------------------------------------------------------------ max-pool */

/* The scalar reference folds m = (v > m) ? v : m in row-major window order,
 * which is exactly m = max_ps(v, m). Folding each row first, then the row
 * results in ky order, keeps that order (ties, ±0 and NaN included). */

/* k = 2, s = 2, p = 0. */
static void maxpool_2x2s2(const float *x, int64_t w, float *y, int64_t oh, int64_t ow)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                         29, 31);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + 2 * oy * w, *r1 = r0 + w;
        float *yr = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            /* inputs 2·ox … 2·ox+31, of which 2·(ow−ox) are used (≤ w−2·ox) */
            int64_t rem = 2 * (ow - ox);
            __mmask16 lo = tail_mask(rem), hi = tail_mask(rem - 16);
            const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
            __m512 a0 = _mm512_maskz_loadu_ps(lo, p0), a1 = _mm512_maskz_loadu_ps(hi, p0 + 16);
            __m512 b0 = _mm512_maskz_loadu_ps(lo, p1), b1 = _mm512_maskz_loadu_ps(hi, p1 + 16);
            __m512 x00 = _mm512_permutex2var_ps(a0, ev, a1);
            __m512 x01 = _mm512_permutex2var_ps(a0, od, a1);
            __m512 x10 = _mm512_permutex2var_ps(b0, ev, b1);
            __m512 x11 = _mm512_permutex2var_ps(b0, od, b1);
            __m512 m = _mm512_max_ps(x00, _mm512_set1_ps(-INFINITY));
            m = _mm512_max_ps(x01, m);
            m = _mm512_max_ps(x10, m);
            m = _mm512_max_ps(x11, m);
            _mm512_mask_storeu_ps(yr + ox, tail_mask(ow - ox), m);
        }
    }
}

static int64_t round16(int64_t v)
{
    return (v + 15) & ~(int64_t)15;
}

/* Stride 1, any k and p ≤ k/2: horizontal window max of each input row into
 * a ring of k rows, then the vertical max of the ring rows. */
static int maxpool_s1(const float *x, int64_t h, int64_t w, float *y, int64_t oh,
                      int64_t ow, int k, int p)
{
    const int64_t padw = round16(w + 2 * p + 16), ringw = round16(ow);
    float *buf = malloc((size_t)(padw + (int64_t)k * ringw) * sizeof(float));
    if (!buf)
        return 0;
    float *pad = buf, *ring = buf + padw;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < padw; i += 16)
        _mm512_storeu_ps(pad + i, ninf);
    int64_t next = 0;   /* next input row to bring into the ring */
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy - p, y1 = oy - p + k;   /* window rows [y0, y1) */
        if (y0 < 0)
            y0 = 0;
        if (y1 > h)
            y1 = h;
        for (; next < y1; next++) {
            const float *xr = x + next * w;
            for (int64_t i = 0; i < w; i += 16)
                _mm512_mask_storeu_ps(pad + p + i, tail_mask(w - i),
                                      _mm512_maskz_loadu_ps(tail_mask(w - i), xr + i));
            float *hr = ring + (next % k) * ringw;
            for (int64_t ox = 0; ox < ow; ox += 16) {
                __m512 m = ninf;
                for (int kx = 0; kx < k; kx++)
                    m = _mm512_max_ps(_mm512_loadu_ps(pad + ox + kx), m);
                _mm512_storeu_ps(hr + ox, m);
            }
        }
        float *yr = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            __m512 m = ninf;
            for (int64_t iy = y0; iy < y1; iy++)
                m = _mm512_max_ps(_mm512_loadu_ps(ring + (iy % k) * ringw + ox), m);
            _mm512_mask_storeu_ps(yr + ox, tail_mask(ow - ox), m);
        }
    }
    free(buf);
    return 1;
}

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
            __m512 v = _mm512_maskz_loadu_ps(tail_mask(rem), xr + ix);
            __m512 a = _mm512_permutexvar_ps(lo, v), b = _mm512_permutexvar_ps(hi, v);
            __mmask16 ma = tail_mask(2 * rem), mb = tail_mask(2 * rem - 16);
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
    return _mm512_maskz_loadu_ps(m, p);
}

AI __m512 im2col_even(__m512 lo, __m512 hi)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                           26, 28, 30);
    return _mm512_permutex2var_ps(lo, even, hi);
}

AI __m512 im2col_zero(void)
{
    return _mm512_setzero_ps();
}

AI void im2col_store(float *d, int cnt, __m512 v)
{
    if (cnt == 16)
        _mm512_storeu_ps(d, v);
    else
        _mm512_mask_storeu_ps(d, tail_mask(cnt), v);
}

AI __mmask16 im2col_bits(uint32_t b)
{
    return (__mmask16)b;
}

#include "lib/kernels/im2col_vec.h"

/* ------------------------------------------ 3×3 stride-1 tiles from rows */

/* A 6 × NV·16 tile over `rows` packed input rows: per row three windows
 * (kx = 0, 1, 2) one float apart, each NV unaligned loads from L1, six
 * broadcasts of A and 6·NV FMAs. */
AI void c3rows_body(const float *a, const float *rb, int64_t rows, int64_t ldr, int n, float *y,
                    int64_t ldy, int m, int accumulate, const float *scale, const float *bias,
                    int act, float alpha, int ep, const int NV)
{
    enum { MR = 6 };
    __m512 acc[16][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int64_t r = 0; r < rows; r++, rb += ldr) {
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++) {
            fma_step(acc, a, rb + kx, MR, NV);
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
    t->kc = 256;
    t->nc = 64;
    t->gemm_ukernel = ukernel_6x64;
    t->gemm_ukernel_ep = ukernel_6x64_ep;
    t->pack_b_im2col = im2col_pack_vec;
    t->conv3x3_rows = conv3x3_rows_avx512;
    t->vl = 16;
    t->scale_bias_act = scale_bias_act_avx512;
    t->maxpool_2x2s2 = maxpool_2x2s2;
    t->maxpool_s1 = maxpool_s1;
    t->upsample2x_plane = upsample2x_plane_avx512;
    t->fma_burn = fma_burn_avx512;
}
