/* The aarch64 NEON kernels (baseline armv8-a, no extra flags): an 8×12 GEMM
 * micro-kernel, the vectorized epilogue with its own exp, separable max-pool,
 * nearest ×2 upsampling and the FMA peak probe. Anything not overridden here
 * stays the scalar reference. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define MR 8
#define NR 12

/* ----------------------------------------------------------- GEMM macros */

/* 24 accumulators: row r of C, columns 4q … 4q+3 in c<r><q>. Per k step the
 * A column (8 floats) sits in two registers and every row is a lane of it. */
#define ROW_FMA(r, av, lane)                                    \
    c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);           \
    c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);           \
    c##r##2 = vfmaq_laneq_f32(c##r##2, b2, av, lane)

#define ROW_DECL(r)                                             \
    float32x4_t c##r##0 = vdupq_n_f32(0.0f), c##r##1 = c##r##0, c##r##2 = c##r##0

#define ROW_STORE_FULL(r)                                                          \
    do {                                                                           \
        float *cr = c + (r) * ldc;                                                 \
        if (accumulate) {                                                          \
            c##r##0 = vaddq_f32(vld1q_f32(cr), c##r##0);                           \
            c##r##1 = vaddq_f32(vld1q_f32(cr + 4), c##r##1);                       \
            c##r##2 = vaddq_f32(vld1q_f32(cr + 8), c##r##2);                       \
        }                                                                          \
        vst1q_f32(cr, c##r##0);                                                    \
        vst1q_f32(cr + 4, c##r##1);                                                \
        vst1q_f32(cr + 8, c##r##2);                                                \
    } while (0)

#define ROW_STORE_TILE(r)                                       \
    do {                                                        \
        vst1q_f32(tile[r], c##r##0);                            \
        vst1q_f32(tile[r] + 4, c##r##1);                        \
        vst1q_f32(tile[r] + 8, c##r##2);                        \
    } while (0)

/* The k loop of the micro-kernel, shared by the plain and fused variants. */
#define UKERNEL_LOOP()                                                                     \
    ROW_DECL(0); ROW_DECL(1); ROW_DECL(2); ROW_DECL(3);                                    \
    ROW_DECL(4); ROW_DECL(5); ROW_DECL(6); ROW_DECL(7);                                    \
    for (int64_t k = 0; k < kc; k++) {                                                     \
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);                        \
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8); \
        ROW_FMA(0, a0, 0); ROW_FMA(1, a0, 1); ROW_FMA(2, a0, 2); ROW_FMA(3, a0, 3);        \
        ROW_FMA(4, a1, 0); ROW_FMA(5, a1, 1); ROW_FMA(6, a1, 2); ROW_FMA(7, a1, 3);        \
        a += MR;                                                                           \
        b += NR;                                                                           \
    }

/* ----------------------------------------------------------- activations */

/* exp(t) for float32. t = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of
 * ln2), e^r from its degree-7 Taylor polynomial (truncation < 1e-8 relative
 * on that range), 2^n built directly in the exponent field. The reduction
 * runs on t clamped to [-87.3, 88.37] so n stays in [-126, 127] (no exponent
 * wrap-around, no NaN from finite input); beyond ln(FLT_MAX) the result is
 * +inf like expf, so 1/(1 + e) and x/(1 + e) go to 0 as in the reference.
 * Below -87.3 it returns ~1.2e-38 instead of a denormal: invisible in 1 + e. */
static inline float32x4_t exp_neon(float32x4_t t)
{
    const float32x4_t lo = vdupq_n_f32(-87.3f), hi = vdupq_n_f32(88.37f);
    const float32x4_t overflow = vdupq_n_f32(88.7228f);        /* ≈ ln(FLT_MAX) */
    const uint32x4_t big = vcgtq_f32(t, overflow);
    const float32x4_t log2e = vdupq_n_f32(1.44269504088896341f);
    const float32x4_t ln2_hi = vdupq_n_f32(0.693359375f);      /* 0x3f318000 */
    const float32x4_t ln2_lo = vdupq_n_f32(-2.12194440e-4f);   /* ln2 − ln2_hi */
    t = vminq_f32(vmaxq_f32(t, lo), hi);
    float32x4_t n = vrndnq_f32(vmulq_f32(t, log2e));
    float32x4_t r = vfmsq_f32(t, n, ln2_hi);    /* t − n·ln2_hi, exact */
    r = vfmsq_f32(r, n, ln2_lo);
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    p = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vbslq_f32(big, vdupq_n_f32(INFINITY), p);
}

/* The activation of one vector: the same formulas and operation order as
 * ypr__act_ref (ReLU/LeakyReLU as compare+select, so NaN and -0 behave like
 * the reference's `x > 0 ? …`; hard-swish bit-exact). */
static inline __attribute__((always_inline)) float32x4_t
act_neon(float32x4_t v, int act, float32x4_t alpha)
{
    const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
    switch (act) {
    case YPR_ACT_RELU:
        return vbslq_f32(vcgtq_f32(v, zero), v, zero);
    case YPR_ACT_LEAKY:
        return vbslq_f32(vcgtq_f32(v, zero), v, vmulq_f32(v, alpha));
    case YPR_ACT_SILU:
        return vdivq_f32(v, vaddq_f32(one, exp_neon(vnegq_f32(v))));
    case YPR_ACT_SIGMOID:
        return vdivq_f32(one, vaddq_f32(one, exp_neon(vnegq_f32(v))));
    case YPR_ACT_HARDSWISH: {
        float32x4_t r = vaddq_f32(v, vdupq_n_f32(3.0f));
        r = vminq_f32(vmaxq_f32(r, zero), vdupq_n_f32(6.0f));
        return vmulq_f32(vmulq_f32(v, r), vdupq_n_f32(1.0f / 6.0f));
    }
    default:
        return v;
    }
}

/* ------------------------------------------------------ training loops */

/* act'(z)·gy, the scalar reference's formulas and order (σ = 1/(1 + e^−z)
 * with a true division; ReLU/leaky as selects, bit-exact). */
static inline __attribute__((always_inline)) float32x4_t
act_bwd_neon1(float32x4_t z, float32x4_t gy, int act, float32x4_t alpha)
{
    const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
    switch (act) {
    case YPR_ACT_RELU:
        return vbslq_f32(vcgtq_f32(z, zero), gy, zero);
    case YPR_ACT_LEAKY:
        return vbslq_f32(vcgtq_f32(z, zero), gy, vmulq_f32(gy, alpha));
    case YPR_ACT_SILU: {
        float32x4_t s = vdivq_f32(one, vaddq_f32(one, exp_neon(vnegq_f32(z))));
        float32x4_t t = vaddq_f32(one, vmulq_f32(z, vsubq_f32(one, s)));
        return vmulq_f32(gy, vmulq_f32(s, t));
    }
    case YPR_ACT_SIGMOID: {
        float32x4_t s = vdivq_f32(one, vaddq_f32(one, exp_neon(vnegq_f32(z))));
        return vmulq_f32(gy, vmulq_f32(s, vsubq_f32(one, s)));
    }
    case YPR_ACT_HARDSWISH: {
        float32x4_t mid = vaddq_f32(vdivq_f32(z, vdupq_n_f32(3.0f)), vdupq_n_f32(0.5f));
        float32x4_t d = vbslq_f32(vcgtq_f32(z, vdupq_n_f32(3.0f)), one, mid);
        d = vbslq_f32(vcltq_f32(z, vdupq_n_f32(-3.0f)), zero, d);
        return vmulq_f32(gy, d);
    }
    default:
        return gy;
    }
}

static inline void act_bwd_loop(const float *z, const float *gy, float *gz, int64_t n, int act,
                                float alpha)
{
    const float32x4_t va = vdupq_n_f32(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t a = act_bwd_neon1(vld1q_f32(z + i), vld1q_f32(gy + i), act, va);
        float32x4_t b = act_bwd_neon1(vld1q_f32(z + i + 4), vld1q_f32(gy + i + 4), act, va);
        vst1q_f32(gz + i, a);
        vst1q_f32(gz + i + 4, b);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(gz + i, act_bwd_neon1(vld1q_f32(z + i), vld1q_f32(gy + i), act, va));
    if (i < n) {
        float bz[4] = {0.0f, 0.0f, 0.0f, 0.0f}, bg[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        size_t rem = (size_t)(n - i);
        memcpy(bz, z + i, rem * sizeof(float));
        memcpy(bg, gy + i, rem * sizeof(float));
        vst1q_f32(bg, act_bwd_neon1(vld1q_f32(bz), vld1q_f32(bg), act, va));
        memcpy(gz + i, bg, rem * sizeof(float));
    }
}

static void act_bwd_neon(const float *z, const float *gy, float *gz, int64_t n, int act,
                         float alpha)
{
    YPR_ACT_SPECIALIZE(act, act_bwd_loop(z, gy, gz, n, ACT_, alpha));
}

/* ypr__sgd_ref with vfmaq_f32 (fused) for each fmaf; the tail is the
 * reference itself (fmaf is one instruction on aarch64). */
static void sgd_neon(float *p, const float *g, float *buf, int64_t n, float wd, float m,
                     float nlr, int mode)
{
    const float32x4_t vwd = vdupq_n_f32(wd), vm = vdupq_n_f32(m), vl = vdupq_n_f32(nlr);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t pv = vld1q_f32(p + i), d = vld1q_f32(g + i);
        if (mode & YPR_SGD_WD)
            d = vfmaq_f32(d, pv, vwd);
        if (mode & YPR_SGD_MOMENTUM) {
            float32x4_t b = d;
            if (mode & YPR_SGD_HAS_BUF)
                b = vaddq_f32(vmulq_f32(vld1q_f32(buf + i), vm), d);
            vst1q_f32(buf + i, b);
            d = vfmaq_f32(d, b, vm);
        }
        vst1q_f32(p + i, vfmaq_f32(pv, d, vl));
    }
    if (i < n)
        ypr__sgd_ref(p + i, g + i, buf ? buf + i : NULL, n - i, wd, m, nlr, mode);
}

/* ----------------------------------------------------------------- GEMM */

static void ukernel_neon(int64_t kc, const float *a, const float *b, float *c,
                         int64_t ldc, int m, int n, int accumulate)
{
    UKERNEL_LOOP();
    if (m == MR && n == NR) {
        ROW_STORE_FULL(0); ROW_STORE_FULL(1); ROW_STORE_FULL(2); ROW_STORE_FULL(3);
        ROW_STORE_FULL(4); ROW_STORE_FULL(5); ROW_STORE_FULL(6); ROW_STORE_FULL(7);
        return;
    }
    /* Partial tile: spill to a local buffer, write only the m×n corner. */
    float tile[MR][NR];
    ROW_STORE_TILE(0); ROW_STORE_TILE(1); ROW_STORE_TILE(2); ROW_STORE_TILE(3);
    ROW_STORE_TILE(4); ROW_STORE_TILE(5); ROW_STORE_TILE(6); ROW_STORE_TILE(7);
    for (int i = 0; i < m; i++) {
        float *cr = c + i * ldc;
        if (accumulate)
            for (int j = 0; j < n; j++)
                cr[j] = cr[j] + tile[i][j];
        else
            memcpy(cr, tile[i], (size_t)n * sizeof(float));
    }
}

/* -------------------------------------------------- fused GEMM epilogue */

/* c = act((c +) acc)·scale[r] + bias[r]) for a whole row r of the tile, from
 * the accumulators: the same operations in the same order as ROW_STORE_FULL
 * followed by sba_loop (multiply, then add), so the result is bit-identical.
 * ACT is a constant; scale and bias are read only for rows < m. */
#define ROW_STORE_EP(r, ACT)                                                       \
    do {                                                                           \
        float *cr = c + (r) * ldc;                                                 \
        const float32x4_t vs = vdupq_n_f32(scale ? scale[r] : 1.0f);               \
        const float32x4_t vb = vdupq_n_f32(bias ? bias[r] : 0.0f);                 \
        if (accumulate) {                                                          \
            c##r##0 = vaddq_f32(vld1q_f32(cr), c##r##0);                           \
            c##r##1 = vaddq_f32(vld1q_f32(cr + 4), c##r##1);                       \
            c##r##2 = vaddq_f32(vld1q_f32(cr + 8), c##r##2);                       \
        }                                                                          \
        vst1q_f32(cr, act_neon(vaddq_f32(vmulq_f32(c##r##0, vs), vb), ACT, va));     \
        vst1q_f32(cr + 4, act_neon(vaddq_f32(vmulq_f32(c##r##1, vs), vb), ACT, va)); \
        vst1q_f32(cr + 8, act_neon(vaddq_f32(vmulq_f32(c##r##2, vs), vb), ACT, va)); \
    } while (0)

#define TILE_STORE_EP(ACT)                                                         \
    do {                                                                           \
        ROW_STORE_EP(0, ACT); ROW_STORE_EP(1, ACT); ROW_STORE_EP(2, ACT);          \
        ROW_STORE_EP(3, ACT); ROW_STORE_EP(4, ACT); ROW_STORE_EP(5, ACT);          \
        ROW_STORE_EP(6, ACT); ROW_STORE_EP(7, ACT);                                \
    } while (0)

/* Edge tile, spilled to tile[MR][NR]: rows < m, columns < n of C only. The
 * accumulate add is the scalar one of ukernel_neon; the epilogue runs on the
 * whole 12-float tile row (lanes ≥ n are computed and dropped). */
static inline __attribute__((always_inline)) void
ep_edge_loop(float tile[MR][NR], float *c, int64_t ldc, int m, int n, int accumulate,
             const float *scale, const float *bias, float alpha, const int ACT)
{
    const float32x4_t va = vdupq_n_f32(alpha);
    for (int i = 0; i < m; i++) {
        float *cr = c + i * ldc;
        if (accumulate)
            for (int j = 0; j < n; j++)
                tile[i][j] = cr[j] + tile[i][j];
        const float32x4_t vs = vdupq_n_f32(scale ? scale[i] : 1.0f);
        const float32x4_t vb = vdupq_n_f32(bias ? bias[i] : 0.0f);
        for (int j = 0; j < NR; j += 4) {
            float32x4_t v = vaddq_f32(vmulq_f32(vld1q_f32(tile[i] + j), vs), vb);
            vst1q_f32(tile[i] + j, act_neon(v, ACT, va));
        }
        memcpy(cr, tile[i], (size_t)n * sizeof(float));
    }
}

static void ep_edge(float tile[MR][NR], float *c, int64_t ldc, int m, int n, int accumulate,
                    const float *scale, const float *bias, int act, float alpha)
{
    YPR_ACT_SPECIALIZE(act,
                       ep_edge_loop(tile, c, ldc, m, n, accumulate, scale, bias, alpha,
                                    ACT_));
}

/* The micro-kernel with the epilogue applied in registers before the only
 * store of the tile; one switch on the activation per tile. */
static void ukernel_neon_ep(int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, int m, int n, int accumulate, const float *scale,
                            const float *bias, int act, float alpha)
{
    UKERNEL_LOOP();
    if (m == MR && n == NR) {
        const float32x4_t va = vdupq_n_f32(alpha);
        YPR_ACT_SPECIALIZE(act, TILE_STORE_EP(ACT_));
        return;
    }
    float tile[MR][NR];
    ROW_STORE_TILE(0); ROW_STORE_TILE(1); ROW_STORE_TILE(2); ROW_STORE_TILE(3);
    ROW_STORE_TILE(4); ROW_STORE_TILE(5); ROW_STORE_TILE(6); ROW_STORE_TILE(7);
    ep_edge(tile, c, ldc, m, n, accumulate, scale, bias, act, alpha);
}

/* ------------------------------------------------------------- epilogue */

/* One loop per activation (act is a compile-time constant after inlining), so
 * the switch is not evaluated per vector. x·scale + bias is a multiply then an
 * add, as in the (uncontracted) scalar reference. The tail goes through the
 * same vector code via a small padded buffer. */
static inline void sba_loop(float *x, int64_t n, float scale, float bias, int act,
                            float alpha)
{
    const float32x4_t vs = vdupq_n_f32(scale), vb = vdupq_n_f32(bias);
    const float32x4_t va = vdupq_n_f32(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t v0 = vaddq_f32(vmulq_f32(vld1q_f32(x + i), vs), vb);
        float32x4_t v1 = vaddq_f32(vmulq_f32(vld1q_f32(x + i + 4), vs), vb);
        vst1q_f32(x + i, act_neon(v0, act, va));
        vst1q_f32(x + i + 4, act_neon(v1, act, va));
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vaddq_f32(vmulq_f32(vld1q_f32(x + i), vs), vb);
        vst1q_f32(x + i, act_neon(v, act, va));
    }
    if (i < n) {
        float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        size_t rem = (size_t)(n - i);
        memcpy(buf, x + i, rem * sizeof(float));
        float32x4_t v = vaddq_f32(vmulq_f32(vld1q_f32(buf), vs), vb);
        vst1q_f32(buf, act_neon(v, act, va));
        memcpy(x + i, buf, rem * sizeof(float));
    }
}

static void scale_bias_act_neon(float *x, int64_t n, float scale, float bias, int act,
                                float alpha)
{
    YPR_ACT_SPECIALIZE(act, sba_loop(x, n, scale, bias, ACT_, alpha));
}

/* -------------------------------------------------------------- max-pool */

/* `m = x > m ? x : m`, exactly the reference's update: ties (±0) keep the
 * earlier value and NaN never enters. Folding this over a window in row-major
 * order — rows first, then the row results top to bottom — picks the same
 * element as the reference, so the result is bit-exact for any input. */
static inline float32x4_t upd4(float32x4_t m, float32x4_t x)
{
    return vbslq_f32(vcgtq_f32(x, m), x, m);
}

static inline float upd1(float m, float x)
{
    return x > m ? x : m;
}

/* k = 2, s = 2, p = 0: oh = h/2, ow = w/2, every window inside the plane. */
static void maxpool_2x2s2(const float *x, int64_t w, float *y, int64_t oh, int64_t ow)
{
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + 2 * oy * w, *r1 = r0 + w;
        float *yr = y + oy * ow;
        int64_t ox = 0;
        for (; ox + 4 <= ow; ox += 4) {
            float32x4x2_t t = vld2q_f32(r0 + 2 * ox), u = vld2q_f32(r1 + 2 * ox);
            float32x4_t m = upd4(ninf, t.val[0]);
            m = upd4(m, t.val[1]);
            m = upd4(m, u.val[0]);
            m = upd4(m, u.val[1]);
            vst1q_f32(yr + ox, m);
        }
        for (; ox < ow; ox++) {
            float m = upd1(-INFINITY, r0[2 * ox]);
            m = upd1(m, r0[2 * ox + 1]);
            m = upd1(m, r1[2 * ox]);
            yr[ox] = upd1(m, r1[2 * ox + 1]);
        }
    }
}

/* Horizontal pass of a stride-1 pool: hm[ox] = max of x[ox − p … ox − p + k − 1]
 * clipped to [0, w), for ox < ow. */
static void hmax_row_s1(const float *x, int64_t w, float *hm, int64_t ow, int k, int p)
{
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    int64_t ox = 0;
    /* Left border: windows starting before column 0. */
    for (; ox < ow && ox < p; ox++) {
        float m = -INFINITY;
        for (int64_t ix = 0; ix < ox - p + k && ix < w; ix++)
            m = upd1(m, x[ix]);
        hm[ox] = m;
    }
    /* Interior: the window of lanes ox … ox+3 lies in [0, w). */
    for (; ox + 4 <= ow && ox + 3 - p + k <= w; ox += 4) {
        const float *s = x + ox - p;
        float32x4_t m = ninf;
        for (int j = 0; j < k; j++)
            m = upd4(m, vld1q_f32(s + j));
        vst1q_f32(hm + ox, m);
    }
    /* Right border and leftovers. */
    for (; ox < ow; ox++) {
        float m = -INFINITY;
        for (int64_t ix = ox - p; ix < ox - p + k; ix++)
            if (ix >= 0 && ix < w)
                m = upd1(m, x[ix]);
        hm[ox] = m;
    }
}

/* Any stride-1 pool (p ≤ k/2, guaranteed by the caller): rows reduced
 * horizontally into a scratch plane, then folded vertically. */
static int maxpool_s1(const float *x, int64_t h, int64_t w, float *y, int64_t oh,
                      int64_t ow, int k, int p)
{
    float *hm = ypr__alloc((size_t)(h * ow) * sizeof(float));
    if (!hm)
        return 0;    /* the scalar reference needs no memory */
    for (int64_t iy = 0; iy < h; iy++)
        hmax_row_s1(x + iy * w, w, hm + iy * ow, ow, k, p);
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy - p < 0 ? 0 : oy - p;
        int64_t y1 = oy - p + k > h ? h : oy - p + k;
        float *yr = y + oy * ow;
        int64_t ox = 0;
        for (; ox + 4 <= ow; ox += 4) {
            float32x4_t m = ninf;
            for (int64_t iy = y0; iy < y1; iy++)
                m = upd4(m, vld1q_f32(hm + iy * ow + ox));
            vst1q_f32(yr + ox, m);
        }
        for (; ox < ow; ox++) {
            float m = -INFINITY;
            for (int64_t iy = y0; iy < y1; iy++)
                m = upd1(m, hm[iy * ow + ox]);
            yr[ox] = m;
        }
    }
    ypr__free(hm);
    return 1;
}

/* -------------------------------------------------------------- upsample */

static void upsample2x_plane_neon(const float *x, int64_t h, int64_t w, float *y)
{
    for (int64_t iy = 0; iy < h; iy++) {
        const float *xr = x + iy * w;
        float *r0 = y + (2 * iy) * (2 * w), *r1 = r0 + 2 * w;
        int64_t ix = 0;
        for (; ix + 4 <= w; ix += 4) {
            float32x4_t v = vld1q_f32(xr + ix);
            float32x4x2_t z = vzipq_f32(v, v);
            vst1q_f32(r0 + 2 * ix, z.val[0]);
            vst1q_f32(r0 + 2 * ix + 4, z.val[1]);
            vst1q_f32(r1 + 2 * ix, z.val[0]);
            vst1q_f32(r1 + 2 * ix + 4, z.val[1]);
        }
        for (; ix < w; ix++)
            r0[2 * ix] = r0[2 * ix + 1] = r1[2 * ix] = r1[2 * ix + 1] = xr[ix];
    }
}

/* ------------------------------------------------------- implicit im2col */

/* NEON has no masked loads: a 4-slot chunk wholly inside the input row is one
 * vld1q (stride 2: two and an even-lane unzip); chunks at the row's edges
 * read their lanes one by one. */
#define IM2COL_VL 4
typedef uint32_t im2col_mask;   /* bit l: lane l lies inside the row */
typedef float32x4_t im2col_vec;

static inline uint32_t im2col_lanes(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a > 4 ? 4 : a;
    b = b < 0 ? 0 : b > 4 ? 4 : b;
    return b <= a ? 0u : ((1u << b) - 1u) & ~((1u << a) - 1u);
}

static inline float32x4_t im2col_load(uint32_t m, const float *p)
{
    if (m == 0xFu)
        return vld1q_f32(p);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int l = 0; l < 4; l++)
        if (m >> l & 1u)
            t[l] = p[l];
    return vld1q_f32(t);
}

static inline float32x4_t im2col_even(float32x4_t lo, float32x4_t hi)
{
    return vuzp1q_f32(lo, hi);
}

static inline float32x4_t im2col_odd(float32x4_t lo, float32x4_t hi)
{
    return vuzp2q_f32(lo, hi);
}

static inline float32x4_t im2col_loadu(const float *p)
{
    return vld1q_f32(p);
}

static inline float32x4_t im2col_zero(void)
{
    return vdupq_n_f32(0.0f);
}

static inline void im2col_store(float *d, int cnt, float32x4_t v)
{
    if (cnt == 4) {
        vst1q_f32(d, v);
        return;
    }
    float t[4];
    vst1q_f32(t, v);
    memcpy(d, t, (size_t)cnt * sizeof(float));
}

static inline uint32_t im2col_bits(uint32_t b)
{
    return b;
}

#include "lib/kernels/im2col_vec.h"

/* ------------------------------------------------------------- FMA probe */

static double fma_burn_neon(int64_t iters, float *sink)
{
    float32x4_t acc[12];
    for (int i = 0; i < 12; i++)
        acc[i] = vdupq_n_f32((float)i * 0.001f);
    const float32x4_t m = vdupq_n_f32(0.9999f), a = vdupq_n_f32(1e-6f);
    for (int64_t it = 0; it < iters; it++) {
        acc[0] = vfmaq_f32(a, acc[0], m);
        acc[1] = vfmaq_f32(a, acc[1], m);
        acc[2] = vfmaq_f32(a, acc[2], m);
        acc[3] = vfmaq_f32(a, acc[3], m);
        acc[4] = vfmaq_f32(a, acc[4], m);
        acc[5] = vfmaq_f32(a, acc[5], m);
        acc[6] = vfmaq_f32(a, acc[6], m);
        acc[7] = vfmaq_f32(a, acc[7], m);
        acc[8] = vfmaq_f32(a, acc[8], m);
        acc[9] = vfmaq_f32(a, acc[9], m);
        acc[10] = vfmaq_f32(a, acc[10], m);
        acc[11] = vfmaq_f32(a, acc[11], m);
    }
    float32x4_t s = acc[0];
    for (int i = 1; i < 12; i++)
        s = vaddq_f32(s, acc[i]);
    *sink = vaddvq_f32(s);
    return 2.0 * 4.0 * 12.0 * (double)iters;
}

/* ------------------------------------------- convolution backward */

/* d[t·sd] += s[t]. Stride 2 de-interleaves (vld2q), adds into the even
 * lanes and stores the odd ones back unchanged, only strictly inside the
 * span it updates. */
static void add_strided_neon(float *d, int64_t sd, const float *s, int64_t n)
{
    int64_t t = 0;
    if (sd == 1) {
        for (; t + 4 <= n; t += 4)
            vst1q_f32(d + t, vaddq_f32(vld1q_f32(d + t), vld1q_f32(s + t)));
    } else if (sd == 2) {
        for (; t + 4 < n; t += 4) {
            float32x4x2_t v = vld2q_f32(d + 2 * t);
            v.val[0] = vaddq_f32(v.val[0], vld1q_f32(s + t));
            vst2q_f32(d + 2 * t, v);
        }
    }
    for (; t < n; t++)
        d[t * sd] += s[t];
}

/* ------------------------------------------------ Winograd transforms */

/* winograd_vec.h over float32x4_t: vld4q/vst4q are the stride-4 shuffles. */
#define AI static inline __attribute__((always_inline))
#define WV_VL 4
typedef float32x4_t wv_f;
AI wv_f wv_load(const float *p) { return vld1q_f32(p); }
AI void wv_store(float *p, wv_f v) { vst1q_f32(p, v); }
AI wv_f wv_set1(float v) { return vdupq_n_f32(v); }
AI wv_f wv_add(wv_f a, wv_f b) { return vaddq_f32(a, b); }
AI wv_f wv_sub(wv_f a, wv_f b) { return vsubq_f32(a, b); }
AI wv_f wv_mul(wv_f a, wv_f b) { return vmulq_f32(a, b); }

AI void wv_deint4(const float *p, wv_f q[4])
{
    float32x4x4_t v = vld4q_f32(p);
    q[0] = v.val[0];
    q[1] = v.val[1];
    q[2] = v.val[2];
    q[3] = v.val[3];
}

AI void wv_int4(float *p, const wv_f q[4])
{
    float32x4x4_t v = {{q[0], q[1], q[2], q[3]}};
    vst4q_f32(p, v);
}

AI void wv_deint2(const float *p, wv_f q[2])
{
    float32x4x2_t v = vld2q_f32(p);
    q[0] = v.val[0];
    q[1] = v.val[1];
}

AI void wv_int2(float *p, const wv_f q[2])
{
    float32x4x2_t v = {{q[0], q[1]}};
    vst2q_f32(p, v);
}

AI wv_f wv_ep(wv_f y, wv_f s, wv_f b, wv_f alpha, const int ACT)
{
    return act_neon(vaddq_f32(vmulq_f32(y, s), b), ACT, alpha);
}

#include "lib/kernels/winograd_vec.h"

/* The weight gradient's dot products (ypr_ktable.dot_block): tiles of
 * DOT_MR a rows × 4 b rows in 4·DOT_MR accumulators (of the 32 registers),
 * four lane partial sums each over the whole len, then reduced pairwise. */
#define DOT_MR 6

static inline __attribute__((always_inline)) void
dot_tile_neon(int64_t len, const float *a, int64_t lda, const float *const *b, float *c, int64_t ldc,
              const int RM, const int NC)
{
    float32x4_t acc[DOT_MR][4];
    for (int i = 0; i < RM; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = vdupq_n_f32(0.0f);
    int64_t p = 0;
    for (; p + 4 <= len; p += 4) {
        float32x4_t av[DOT_MR];
        for (int i = 0; i < RM; i++)
            av[i] = vld1q_f32(a + i * lda + p);
        for (int j = 0; j < NC; j++) {
            float32x4_t bv = vld1q_f32(b[j] + p);
            for (int i = 0; i < RM; i++)
                acc[i][j] = vfmaq_f32(acc[i][j], av[i], bv);
        }
    }
    if (p < len) {   /* the last 1–3 positions, zero-padded */
        float av[DOT_MR][4] = {{0}}, bv[4][4] = {{0}};
        for (int64_t q = p; q < len; q++) {
            for (int i = 0; i < RM; i++)
                av[i][q - p] = a[i * lda + q];
            for (int j = 0; j < NC; j++)
                bv[j][q - p] = b[j][q];
        }
        for (int j = 0; j < NC; j++) {
            float32x4_t bj = vld1q_f32(bv[j]);
            for (int i = 0; i < RM; i++)
                acc[i][j] = vfmaq_f32(acc[i][j], vld1q_f32(av[i]), bj);
        }
    }
    for (int i = 0; i < RM; i++) {
        float32x4_t r = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]),
                                   vpaddq_f32(acc[i][2], acc[i][3]));
        float *d = c + i * ldc;
        if (NC == 4) {
            vst1q_f32(d, vaddq_f32(vld1q_f32(d), r));
        } else {
            float sum[4];
            vst1q_f32(sum, r);
            for (int j = 0; j < NC; j++)
                d[j] += sum[j];
        }
    }
}

static inline __attribute__((always_inline)) void
dot_rows_neon(int64_t len, const float *a, int64_t lda, const float *const *b, float *c, int64_t ldc,
              int64_t n, const int RM)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
        dot_tile_neon(len, a, lda, b + j, c + j, ldc, RM, 4);
    switch (n - j) {
    case 3: dot_tile_neon(len, a, lda, b + j, c + j, ldc, RM, 3); break;
    case 2: dot_tile_neon(len, a, lda, b + j, c + j, ldc, RM, 2); break;
    case 1: dot_tile_neon(len, a, lda, b + j, c + j, ldc, RM, 1); break;
    default: break;
    }
}

/* Blocks of 16 b rows stay in L1 while every a row passes over them. */
static void dot_block_neon(int64_t len, const float *a, int64_t lda, const float *const *b,
                           float *c, int64_t ldc, int64_t m, int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        int64_t nb = n - j0 < 16 ? n - j0 : 16;
        const float *const *bj = b + j0;
        float *cj = c + j0;
        int64_t i = 0;
        for (; i + DOT_MR <= m; i += DOT_MR)
            dot_rows_neon(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, DOT_MR);
        for (; i + 2 <= m; i += 2)
            dot_rows_neon(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, 2);
        if (i < m)
            dot_rows_neon(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, 1);
    }
}

/* ---- BatchNorm in training mode (ypr_ktable.bn_*): bn_vec.h over NEON
 * vectors, with this file's activation and its derivative. */
#define BV_VL 4
typedef float32x4_t bv_f;
AI bv_f bv_set1(float v) { return vdupq_n_f32(v); }
AI bv_f bv_load(const float *p) { return vld1q_f32(p); }
AI void bv_store(float *p, bv_f v) { vst1q_f32(p, v); }
AI bv_f bv_add(bv_f a, bv_f b) { return vaddq_f32(a, b); }
AI bv_f bv_sub(bv_f a, bv_f b) { return vsubq_f32(a, b); }
AI bv_f bv_mul(bv_f a, bv_f b) { return vmulq_f32(a, b); }
AI bv_f bv_act(bv_f y, const int ACT, bv_f alpha) { return act_neon(y, ACT, alpha); }
AI bv_f bv_act_bwd(bv_f z, bv_f gy, const int ACT, bv_f alpha)
{
    return act_bwd_neon1(z, gy, ACT, alpha);
}
#include "lib/kernels/bn_vec.h"

void ypr__kt_fill_neon(ypr_ktable *t)
{
    t->name = "neon";
    t->mr = MR;
    t->nr = NR;
    t->kc = 256;      /* A micro-panel 8 KiB + B micro-panel 12 KiB stay in L1 */
    t->nc = 240;      /* B block 256×240 floats = 240 KiB, sized for L2 */
    t->vl = 4;
    t->gemm_ukernel = ukernel_neon;
    t->gemm_ukernel_ep = ukernel_neon_ep;
    t->pack_b_im2col = im2col_pack_vec;
    t->scale_bias_act = scale_bias_act_neon;
    t->maxpool_2x2s2 = maxpool_2x2s2;
    t->maxpool_s1 = maxpool_s1;
    t->upsample2x_plane = upsample2x_plane_neon;
    t->fma_burn = fma_burn_neon;
    t->add_strided = add_strided_neon;
    t->dot_block = dot_block_neon;
    t->act_bwd = act_bwd_neon;
    t->sgd = sgd_neon;
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
