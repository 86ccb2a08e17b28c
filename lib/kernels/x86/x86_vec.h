/* The x86 vector template: activations (with the one vector exp), the
 * per-channel scale/bias/activation epilogue — standalone, and fused into the
 * store of a GEMM tile — and the max-pool loops. Written once, included by
 * kernels_avx2.c and kernels_avx512.c (nothing here is compiled on its own),
 * so the two sets cannot drift apart: same clamps, same operation order, same
 * tails. Every function is static in the including file, compiled with that
 * file's flags only (an AVX-512 copy can never be picked for another caller).
 * An INT8 requantizing epilogue belongs here too when the integer kernels
 * arrive: one copy for every x86 set.
 *
 * The including file defines, before #include:
 *   AI                           static inline __attribute__((always_inline))
 *   XV_VL                        floats per vector (8 or 16)
 *   XV_MR_MAX                    rows of its accumulator arrays: xv_f acc[XV_MR_MAX][4]
 *   xv_f                         its float vector type
 *   xv_m                         its lane mask type
 * and these AI functions (IEEE single operations, loads and stores unaligned):
 *   xv_f xv_set1(float)   xv_f xv_zero(void)   xv_f xv_load(const float *p)
 *   void xv_store(float *p, xv_f v)
 *   xv_f xv_add, xv_sub, xv_mul, xv_min, xv_max (xv_f a, xv_f b)
 *        min/max as MINPS/MAXPS: b when either operand is NaN
 *   xv_f xv_fmadd(a, b, c) = a·b + c and xv_fnmadd(a, b, c) = c − a·b, fused
 *   xv_f xv_round(xv_f)                  to nearest, ties to even
 *   xv_f xv_scale2n(xv_f p, xv_f n)      p·2^n for integral n in [−126, 127]
 *   xv_f xv_rcp(xv_f d)                  reciprocal estimate, rel. error < 2^−11
 *   xv_f xv_pos_or(xv_f y, xv_f neg)     y > 0 (ordered) ? y : neg, per lane
 *   xv_m xv_tail(int64_t rem)            the first rem lanes (rem clamped to [0, XV_VL])
 *   xv_f xv_maskload(xv_m m, const float *p)   lanes off m read as 0, never touched
 *   void xv_maskstore(float *p, xv_m m, xv_f v)
 *   xv_f xv_even(lo, hi), xv_odd(lo, hi) lanes 0, 2, 4 … / 1, 3, 5 … of lo:hi
 * and gets
 *   act_vec, ep_store, plain_store          (for its GEMM micro-kernels)
 *   scale_bias_act_vec, maxpool_2x2s2_vec, maxpool_s1_vec   (ypr_ktable entries) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ------------------------------------------------------ activations */

/* 2^z for z in [−126, 127] (NaN stays NaN): n = round(z), f = z − n in
 * [−0.5, 0.5], a degree-5 polynomial fitted to 2^f on that interval (relative
 * error 2.4e-7 in float), times 2^n (always a normal number). */
AI xv_f exp2_vec(xv_f z)
{
    xv_f n = xv_round(z);
    xv_f f = xv_sub(z, n);
    xv_f p = xv_set1(1.32764725e-3f);
    p = xv_fmadd(p, f, xv_set1(9.67554189e-3f));
    p = xv_fmadd(p, f, xv_set1(5.55071309e-2f));
    p = xv_fmadd(p, f, xv_set1(2.40221202e-1f));
    p = xv_fmadd(p, f, xv_set1(6.93146944e-1f));
    p = xv_fmadd(p, f, xv_set1(1.00000012f));
    return xv_scale2n(p, n);
}

/* 1 + exp(−y) = 1 + 2^(−y·log2 e). The one clamp policy: the exponent is
 * clamped to [−126, 127], so nothing overflows and nothing goes subnormal
 * (exp(−y) below 2^−126 changes nothing next to 1; above 2^127 the sigmoid
 * is 0 within the tolerance), and NaN stays NaN (the constants go first:
 * MINPS/MAXPS return their second operand for NaN). */
AI xv_f one_plus_exp_neg(xv_f y)
{
    xv_f z = xv_mul(y, xv_set1(-1.44269504f));
    z = xv_min(xv_set1(127.0f), xv_max(xv_set1(-126.0f), z));
    return xv_add(xv_set1(1.0f), exp2_vec(z));
}

/* 1/d for d in [1, 2^127 + 1]: the estimate plus one Newton step (relative
 * error ~2e-7, inside the tolerance; cheaper than a division). Where the
 * estimate flushes to 0 (d past 2^126) the result stays 0, the right limit. */
AI xv_f recip_vec(xv_f d)
{
    xv_f r = xv_rcp(d);
    return xv_fmadd(xv_fnmadd(d, r, xv_set1(1.0f)), r, r);
}

/* act(y) per lane; act is a compile-time constant wherever this is inlined
 * in a loop (YPR_ACT_SPECIALIZE). Matches ypr__act_ref: bit for bit for the
 * piecewise-linear ones (NaN included), within 2e-6·(1 + |y|) for SiLU and
 * sigmoid. */
AI xv_f act_vec(xv_f y, int act, xv_f alpha)
{
    switch (act) {
    case YPR_ACT_RELU:
        return xv_max(y, xv_zero());
    case YPR_ACT_LEAKY:
        return xv_pos_or(y, xv_mul(alpha, y));
    case YPR_ACT_SILU:
        return xv_mul(y, recip_vec(one_plus_exp_neg(y)));
    case YPR_ACT_SIGMOID:
        return recip_vec(one_plus_exp_neg(y));
    case YPR_ACT_HARDSWISH: {
        xv_f r = xv_add(y, xv_set1(3.0f));
        r = xv_min(xv_max(r, xv_zero()), xv_set1(6.0f));
        return xv_mul(xv_mul(y, r), xv_set1(1.0f / 6.0f));
    }
    default:
        return y;
    }
}

/* y·scale + bias as a separate multiply and add (no contraction), the
 * reference's rounding: every epilogue below goes through here. */
AI xv_f affine_vec(xv_f y, xv_f scale, xv_f bias)
{
    return xv_add(xv_mul(y, scale), bias);
}

/* ------------------------------------------------- fused GEMM epilogue */

/* The fused epilogue of a micro-kernel: c = act((acc [+ c])·scale[i] +
 * bias[i]), bit-identical to the plain store followed by scale_bias_act_vec.
 * ACT is a constant in both loops; scale and bias are read only for rows
 * < m. */

/* Whole MR × NV·VL tile, straight from the accumulators. */
AI void ep_store_full(xv_f acc[XV_MR_MAX][4], float *c, int64_t ldc, int accumulate,
                      const float *scale, const float *bias, float alpha, const int MR,
                      const int NV, const int ACT)
{
    const xv_f al = xv_set1(alpha);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        const xv_f s = xv_set1(scale ? scale[i] : 1.0f);
        const xv_f bb = xv_set1(bias ? bias[i] : 0.0f);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            xv_f r = acc[i][v];
            if (accumulate)
                r = xv_add(r, xv_load(ci + v * XV_VL));
            xv_store(ci + v * XV_VL, act_vec(affine_vec(r, s, bb), ACT, al));
        }
    }
}

/* Edge tile: the accumulators were spilled to tile (row stride ldt); only
 * the m×n corner of C is read (accumulate) and written, with masks. */
AI void ep_store_edge_loop(const float *tile, int64_t ldt, float *c, int64_t ldc, int m,
                           int n, int accumulate, const float *scale, const float *bias,
                           float alpha, const int ACT)
{
    const xv_f al = xv_set1(alpha);
    for (int i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        const xv_f s = xv_set1(scale ? scale[i] : 1.0f);
        const xv_f bb = xv_set1(bias ? bias[i] : 0.0f);
        for (int j = 0; j < n; j += XV_VL) {
            const xv_m mk = xv_tail(n - j);
            xv_f r = xv_load(tile + i * ldt + j);
            if (accumulate)
                r = xv_add(r, xv_maskload(mk, ci + j));
            xv_maskstore(ci + j, mk, act_vec(affine_vec(r, s, bb), ACT, al));
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

/* Store an MR × NV·VL accumulator tile (panel NRV vectors wide) through the
 * epilogue, one switch on the activation per tile. Full tiles of the widest
 * kernel are stored from registers by a specialised unrolled loop; edge
 * tiles spill the accumulators to the stack and share one compact loop per
 * activation, which keeps the code size in check. */
AI void ep_store(xv_f acc[XV_MR_MAX][4], float *c, int64_t ldc, int m, int n, int accumulate,
                 const float *scale, const float *bias, int act, float alpha, const int MR,
                 const int NV, const int NRV)
{
    if (NV == NRV && m == MR && n == NV * XV_VL) {
        YPR_ACT_SPECIALIZE(act,
                           ep_store_full(acc, c, ldc, accumulate, scale, bias, alpha, MR, NV,
                                         ACT_));
        return;
    }
    float tile[XV_MR_MAX * 4 * XV_VL] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            xv_store(tile + (i * NV + v) * XV_VL, acc[i][v]);
    ep_store_edge(tile, NV * XV_VL, c, ldc, m, n, accumulate, scale, bias, act, alpha);
}

/* The plain (optionally accumulating) store of an MR × NV·VL tile: whole
 * tiles straight from the accumulators; edge tiles with masks, which never
 * touch C outside the m×n corner. */
AI void plain_store(xv_f acc[XV_MR_MAX][4], float *c, int64_t ldc, int m, int n,
                    int accumulate, const int MR, const int NV)
{
    if (m == MR && n == NV * XV_VL) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float *ci = c + i * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                xv_f r = acc[i][v];
                if (accumulate)
                    r = xv_add(r, xv_load(ci + v * XV_VL));
                xv_store(ci + v * XV_VL, r);
            }
        }
        return;
    }
    xv_m mk[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
        mk[v] = xv_tail(n - v * XV_VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        if (i >= m)
            break;
        float *ci = c + i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            if (n <= v * XV_VL)
                break;
            xv_f r = acc[i][v];
            if (accumulate)
                r = xv_add(r, xv_maskload(mk[v], ci + v * XV_VL));
            xv_maskstore(ci + v * XV_VL, mk[v], r);
        }
    }
}

/* ------------------------------------------------ standalone epilogue */

/* x = act(x·scale + bias). Four independent vectors per step (the tail too,
 * masked) hide the latency of the exp chain: the GEMM driver calls this on
 * rows of only nr elements. */
AI void sba_loop(float *x, int64_t n, float scale, float bias, const int ACT, float alpha)
{
    const xv_f s = xv_set1(scale), b = xv_set1(bias), al = xv_set1(alpha);
    int64_t i = 0;
    for (; i + 4 * XV_VL <= n; i += 4 * XV_VL) {
        xv_f y[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            y[u] = affine_vec(xv_load(x + i + XV_VL * u), s, b);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            xv_store(x + i + XV_VL * u, act_vec(y[u], ACT, al));
    }
    if (i < n) {
        /* 1–4 vectors left. Plain loads where the vector is whole, and no
         * access at all past the end: a masked load cannot take its data
         * from the micro-kernel's still-pending stores of this C row. */
        const int64_t left = n - i;
        const int nv = (int)((left + XV_VL - 1) / XV_VL);
        const int64_t last = left - XV_VL * (nv - 1);
        const xv_m mk = xv_tail(last);
        float *xl = x + i + XV_VL * (nv - 1);
        xv_f y[3] = {xv_zero(), xv_zero(), xv_zero()};
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                y[u] = affine_vec(xv_load(x + i + XV_VL * u), s, b);
        xv_f yl = affine_vec(last == XV_VL ? xv_load(xl) : xv_maskload(mk, xl), s, b);
#pragma GCC unroll 4
        for (int u = 0; u < 3; u++)
            if (u < nv - 1)
                xv_store(x + i + XV_VL * u, act_vec(y[u], ACT, al));
        yl = act_vec(yl, ACT, al);
        if (last == XV_VL)
            xv_store(xl, yl);
        else
            xv_maskstore(xl, mk, yl);
    }
}

static void scale_bias_act_vec(float *x, int64_t n, float scale, float bias, int act,
                               float alpha)
{
    YPR_ACT_SPECIALIZE(act, sba_loop(x, n, scale, bias, ACT_, alpha));
}

/* ------------------------------------------------------------ max-pool */

/* The scalar reference folds m = (v > m) ? v : m in row-major window order,
 * which is exactly m = MAXPS(v, m). Folding each row first, then the row
 * results in ky order, keeps that order (ties, ±0 and NaN included). */

/* The 2×2 window maxima of XV_VL outputs from two input rows of 2·XV_VL
 * values each (a0:a1 and b0:b1). */
AI xv_f max2x2(xv_f a0, xv_f a1, xv_f b0, xv_f b1)
{
    xv_f m = xv_max(xv_even(a0, a1), xv_set1(-INFINITY));
    m = xv_max(xv_odd(a0, a1), m);
    m = xv_max(xv_even(b0, b1), m);
    return xv_max(xv_odd(b0, b1), m);
}

/* k = 2, s = 2, p = 0 (ow = floor(w / 2), so 2·ow ≤ w). */
static void maxpool_2x2s2_vec(const float *x, int64_t w, float *y, int64_t oh, int64_t ow)
{
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + 2 * oy * w, *r1 = r0 + w;
        float *yr = y + oy * ow;
        int64_t ox = 0;
        for (; ox + XV_VL <= ow; ox += XV_VL) {   /* reads 2·ox … 2·ox + 2·VL − 1 < 2·ow */
            const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
            xv_store(yr + ox, max2x2(xv_load(p0), xv_load(p0 + XV_VL), xv_load(p1),
                                     xv_load(p1 + XV_VL)));
        }
        if (ox < ow) {   /* 2·(ow − ox) inputs left in each row */
            const int64_t rem = 2 * (ow - ox);
            const xv_m lo = xv_tail(rem), hi = xv_tail(rem - XV_VL);
            const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
            xv_f m = max2x2(xv_maskload(lo, p0), xv_maskload(hi, p0 + XV_VL),
                            xv_maskload(lo, p1), xv_maskload(hi, p1 + XV_VL));
            xv_maskstore(yr + ox, xv_tail(ow - ox), m);
        }
    }
}

static int64_t round_vl(int64_t v)
{
    return (v + XV_VL - 1) / XV_VL * XV_VL;
}

/* max of n vectors at p, p + stride, …, in four independent chains (one
 * chain of 13 dependent maxima made SPP's pools latency-bound) */
static inline xv_f max_run(const float *p, int64_t stride, int n, xv_f ninf)
{
    xv_f m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 = xv_max(xv_load(p + i * stride), m0);
        m1 = xv_max(xv_load(p + (i + 1) * stride), m1);
        m2 = xv_max(xv_load(p + (i + 2) * stride), m2);
        m3 = xv_max(xv_load(p + (i + 3) * stride), m3);
    }
    for (; i < n; i++)
        m0 = xv_max(xv_load(p + i * stride), m0);
    return xv_max(xv_max(m0, m1), xv_max(m2, m3));
}

/* Stride 1, any k and 2p ≤ k: horizontal window max of each input row (from
 * a −inf padded copy) into a ring of k rows, then the vertical max of the
 * ring rows. Returns 0 (nothing written) when the buffer cannot be had. */
static int maxpool_s1_vec(const float *x, int64_t h, int64_t w, float *y, int64_t oh,
                          int64_t ow, int k, int p)
{
    const int64_t padw = round_vl(w + 2 * p + XV_VL), ringw = round_vl(ow);
    const int64_t need = padw + (int64_t)k * ringw;
    /* SPP's planes (13²–40², k ≤ 13) fit the stack: a malloc per plane cost
     * as much as the pooling (256 planes 13² k 13, two threads: 65 µs) */
    float local[2048] __attribute__((aligned(64)));
    float *buf = need <= 2048 ? local : malloc((size_t)need * sizeof(float));
    if (!buf)
        return 0;
    float *pad = buf, *ring = buf + padw;
    const xv_f ninf = xv_set1(-INFINITY);
    for (int64_t i = 0; i < padw; i += XV_VL)
        xv_store(pad + i, ninf);
    int64_t next = 0;   /* next input row to bring into the ring */
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy - p, y1 = oy - p + k;   /* window rows [y0, y1) */
        if (y0 < 0)
            y0 = 0;
        if (y1 > h)
            y1 = h;
        for (; next < y1; next++) {
            const float *xr = x + next * w;
            for (int64_t i = 0; i < w; i += XV_VL) {
                const xv_m mk = xv_tail(w - i);
                xv_maskstore(pad + p + i, mk, xv_maskload(mk, xr + i));
            }
            float *hr = ring + (next % k) * ringw;
            /* reads up to ringw − 1 + k − 1 < padw; lanes past ow are unused */
            for (int64_t ox = 0; ox < ow; ox += XV_VL)
                xv_store(hr + ox, max_run(pad + ox, 1, k, ninf));
        }
        float *yr = y + oy * ow;
        const int64_t r0 = y0 % k, nr = y1 - y0;   /* ring rows r0, r0 + 1, … (mod k) */
        const int64_t n1 = nr < k - r0 ? nr : k - r0;   /* before the wrap */
        for (int64_t ox = 0; ox < ow; ox += XV_VL) {
            xv_f m = max_run(ring + r0 * ringw + ox, ringw, (int)n1, ninf);
            if (nr > n1)
                m = xv_max(max_run(ring + ox, ringw, (int)(nr - n1), ninf), m);
            xv_maskstore(yr + ox, xv_tail(ow - ox), m);
        }
    }
    if (buf != local)
        free(buf);
    return 1;
}
