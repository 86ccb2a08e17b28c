/* BatchNorm in training mode, the four loops of the kernel table (bn_sums,
 * bn_norm_act, bn_bwd_sums, bn_bwd_dx; contracts in kernels.h), written once
 * over one ISA's vectors and included by kernels_avx2.c, kernels_avx512.c
 * and kernels_neon.c (nothing here is compiled on its own; every function is
 * static in the including file, built with its flags only).
 *
 * The sums keep YPR_BN_LANES float partial sums — element k of a chunk
 * in lane k % YPR_BN_LANES, whatever the vector width — and add them into a
 * double in lane order at the end of each chunk of YPR_BN_CHUNK floats; the
 * chunk's last len % YPR_BN_LANES elements go straight into the double. That
 * is the scalar reference's order, so every set gives the same sums bit for
 * bit where the summands are the same (always, but for the activations with
 * an exp, whose derivative is the set's own). Every other operation is one
 * rounded float operation in the reference's order (no contraction).
 *
 * The including file defines, before #include:
 *   AI                               static inline always_inline
 *   BV_VL                            floats per vector (4, 8 or 16)
 *   bv_f                             its float vector type
 *   bv_f bv_set1(float)  bv_f bv_load(const float *)  void bv_store(float *, bv_f)
 *   bv_f bv_add, bv_sub, bv_mul (bv_f a, bv_f b)      single rounded operations
 *   bv_f bv_act(bv_f y, const int ACT, bv_f alpha)    the set's activation (scale_bias_act's)
 *   bv_f bv_act_bwd(bv_f z, bv_f gy, const int ACT, bv_f alpha)
 *                                    gy·act'(z), the set's act_bwd */
#include <stdint.h>
#include <string.h>

enum { BV_NV = YPR_BN_LANES / BV_VL };   /* vectors per lane group */

/* The lanes of v[0 … BV_NV) summed into a double in lane order. */
AI double bv_lane_sum(const bv_f v[BV_NV])
{
    float t[YPR_BN_LANES];
    for (int q = 0; q < BV_NV; q++)
        bv_store(t + q * BV_VL, v[q]);
    double u = 0;
    for (int l = 0; l < YPR_BN_LANES; l++)
        u += t[l];
    return u;
}

static void bn_sums_vec(const float *x, int64_t n, float c, double s[2])
{
    const bv_f vc = bv_set1(c);
    for (int64_t k0 = 0; k0 < n; k0 += YPR_BN_CHUNK) {
        const int64_t len = n - k0 < YPR_BN_CHUNK ? n - k0 : YPR_BN_CHUNK;
        const float *xc = x + k0;
        bv_f a[BV_NV], b[BV_NV];
        for (int q = 0; q < BV_NV; q++)
            a[q] = b[q] = bv_set1(0.0f);
        int64_t k = 0;
        for (; k + YPR_BN_LANES <= len; k += YPR_BN_LANES)
            for (int q = 0; q < BV_NV; q++) {
                bv_f d = bv_sub(bv_load(xc + k + q * BV_VL), vc);
                a[q] = bv_add(a[q], d);
                b[q] = bv_add(b[q], bv_mul(d, d));
            }
        double u = bv_lane_sum(a), v = bv_lane_sum(b);
        for (; k < len; k++) {
            float d = xc[k] - c;
            u += d;
            v += d * d;
        }
        s[0] += u;
        s[1] += v;
    }
}

/* act((x − mu)·scale + bias) of one vector. */
AI bv_f bn_y(bv_f x, bv_f mu, bv_f sc, bv_f be, bv_f al, const int ACT)
{
    return bv_act(bv_add(bv_mul(bv_sub(x, mu), sc), be), ACT, al);
}

AI void bn_norm_act_loop(const float *x, float *y, int64_t n, float mu, float scale, float bias,
                         float alpha, const int ACT)
{
    const bv_f m = bv_set1(mu), sc = bv_set1(scale), be = bv_set1(bias), al = bv_set1(alpha);
    int64_t i = 0;
    for (; i + 4 * BV_VL <= n; i += 4 * BV_VL) {
        bv_f v[4];
        for (int u = 0; u < 4; u++)
            v[u] = bn_y(bv_load(x + i + u * BV_VL), m, sc, be, al, ACT);
        for (int u = 0; u < 4; u++)
            bv_store(y + i + u * BV_VL, v[u]);
    }
    for (; i + BV_VL <= n; i += BV_VL)
        bv_store(y + i, bn_y(bv_load(x + i), m, sc, be, al, ACT));
    if (i < n) {
        float t[BV_VL] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        bv_store(t, bn_y(bv_load(t), m, sc, be, al, ACT));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}

static void bn_norm_act_vec(const float *x, float *y, int64_t n, float mu, float scale,
                            float bias, int act, float alpha)
{
    YPR_ACT_SPECIALIZE(act, bn_norm_act_loop(x, y, n, mu, scale, bias, alpha, ACT_));
}

/* The coefficients of one channel as vectors. */
typedef struct bv_coef { bv_f mu, is, sc, be, al, k, mg, mgx; } bv_coef;

AI bv_coef bv_coef_of(const ypr_bn_coef *c)
{
    return (bv_coef){bv_set1(c->mu), bv_set1(c->invstd), bv_set1(c->scale), bv_set1(c->bias),
                     bv_set1(c->alpha), bv_set1(c->k), bv_set1(c->mg), bv_set1(c->mgx)};
}

/* The activation's input gradient gz = gy·act'(z), z = (x − mu)·scale + bias
 * recomputed as the forward computed it. */
AI bv_f bn_gz(bv_f x, bv_f gy, const bv_coef *c, const int ACT)
{
    if (ACT == YPR_ACT_IDENTITY)
        return gy;
    return bv_act_bwd(bv_add(bv_mul(bv_sub(x, c->mu), c->sc), c->be), gy, ACT, c->al);
}

AI void bn_bwd_sums_loop(const float *x, const float *gy, float *gz, int64_t n,
                         const ypr_bn_coef *coef, double s[2], const int ACT)
{
    const bv_coef c = bv_coef_of(coef);
    for (int64_t k0 = 0; k0 < n; k0 += YPR_BN_CHUNK) {
        const int64_t len = n - k0 < YPR_BN_CHUNK ? n - k0 : YPR_BN_CHUNK;
        const float *xc = x + k0, *gc = gy + k0;
        float *zc = gz ? gz + k0 : NULL;
        bv_f a[BV_NV], b[BV_NV];
        for (int q = 0; q < BV_NV; q++)
            a[q] = b[q] = bv_set1(0.0f);
        int64_t k = 0;
        for (; k + YPR_BN_LANES <= len; k += YPR_BN_LANES)
            for (int q = 0; q < BV_NV; q++) {
                const int64_t o = k + q * BV_VL;
                bv_f xv = bv_load(xc + o);
                bv_f g = bn_gz(xv, bv_load(gc + o), &c, ACT);
                if (zc)
                    bv_store(zc + o, g);
                a[q] = bv_add(a[q], g);
                b[q] = bv_add(b[q], bv_mul(g, bv_mul(bv_sub(xv, c.mu), c.is)));
            }
        double u = bv_lane_sum(a), v = bv_lane_sum(b);
        for (; k < len; k += BV_VL) {
            /* the tail: gz by the vector formula, the sums in double */
            const int64_t r = len - k < BV_VL ? len - k : BV_VL;
            float tx[BV_VL] = {0}, tg[BV_VL] = {0};
            memcpy(tx, xc + k, (size_t)r * sizeof(float));
            memcpy(tg, gc + k, (size_t)r * sizeof(float));
            bv_store(tg, bn_gz(bv_load(tx), bv_load(tg), &c, ACT));
            if (zc)
                memcpy(zc + k, tg, (size_t)r * sizeof(float));
            for (int64_t l = 0; l < r; l++) {
                u += tg[l];
                v += tg[l] * ((tx[l] - coef->mu) * coef->invstd);
            }
        }
        s[0] += u;
        s[1] += v;
    }
}

static void bn_bwd_sums_vec(const float *x, const float *gy, float *gz, int64_t n,
                            const ypr_bn_coef *coef, double s[2])
{
    YPR_ACT_SPECIALIZE(coef->act, bn_bwd_sums_loop(x, gy, gz, n, coef, s, ACT_));
}

/* k·(gz − mg − (x − mu)·invstd·mgx) (+ gx), gz recomputed from gy when
 * RECOMPUTE, else gy itself. */
AI bv_f bn_dx1(bv_f xv, bv_f g, const float *gx, const bv_coef *c, const int ACT,
               const int RECOMPUTE, const int ACC)
{
    if (RECOMPUTE)
        g = bn_gz(xv, g, c, ACT);
    bv_f xh = bv_mul(bv_sub(xv, c->mu), c->is);
    bv_f r = bv_mul(c->k, bv_sub(bv_sub(g, c->mg), bv_mul(xh, c->mgx)));
    return ACC ? bv_add(bv_load(gx), r) : r;
}

AI void bn_bwd_dx_loop(const float *x, const float *gy, float *gx, int64_t n,
                       const ypr_bn_coef *coef, const int ACT, const int RECOMPUTE,
                       const int ACC)
{
    const bv_coef c = bv_coef_of(coef);
    int64_t i = 0;
    for (; i + 2 * BV_VL <= n; i += 2 * BV_VL) {
        bv_f r0 = bn_dx1(bv_load(x + i), bv_load(gy + i), gx + i, &c, ACT, RECOMPUTE, ACC);
        bv_f r1 = bn_dx1(bv_load(x + i + BV_VL), bv_load(gy + i + BV_VL), gx + i + BV_VL, &c,
                         ACT, RECOMPUTE, ACC);
        bv_store(gx + i, r0);
        bv_store(gx + i + BV_VL, r1);
    }
    for (; i < n; i += BV_VL) {
        const int64_t r = n - i < BV_VL ? n - i : BV_VL;
        float tx[BV_VL] = {0}, tg[BV_VL] = {0}, to[BV_VL] = {0};
        memcpy(tx, x + i, (size_t)r * sizeof(float));
        memcpy(tg, gy + i, (size_t)r * sizeof(float));
        if (ACC)
            memcpy(to, gx + i, (size_t)r * sizeof(float));
        bv_store(to, bn_dx1(bv_load(tx), bv_load(tg), to, &c, ACT, RECOMPUTE, ACC));
        memcpy(gx + i, to, (size_t)r * sizeof(float));
    }
}

static void bn_bwd_dx_vec(const float *x, const float *gy, float *gx, int64_t n,
                          const ypr_bn_coef *coef, int mode)
{
    const int rec = (mode & YPR_BN_RECOMPUTE) && coef->act != YPR_ACT_IDENTITY;
    const int acc = (mode & YPR_BN_ACCUMULATE) != 0;
    if (!rec) {
        if (acc)
            bn_bwd_dx_loop(x, gy, gx, n, coef, YPR_ACT_IDENTITY, 0, 1);
        else
            bn_bwd_dx_loop(x, gy, gx, n, coef, YPR_ACT_IDENTITY, 0, 0);
        return;
    }
    if (acc)
        YPR_ACT_SPECIALIZE(coef->act, bn_bwd_dx_loop(x, gy, gx, n, coef, ACT_, 1, 1));
    else
        YPR_ACT_SPECIALIZE(coef->act, bn_bwd_dx_loop(x, gy, gx, n, coef, ACT_, 1, 0));
}
