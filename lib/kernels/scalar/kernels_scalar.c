/* The scalar reference kernels: plain C, built for the baseline target. Every
 * SIMD table falls back to these entries, and the tests compare against them. */
#include <math.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define MR 4
#define NR 8

float ypr__act_ref(float x, int act, float alpha)
{
    switch (act) {
    case YPR_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case YPR_ACT_LEAKY: return x > 0.0f ? x : alpha * x;
    case YPR_ACT_SILU: return x / (1.0f + expf(-x));
    case YPR_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case YPR_ACT_HARDSWISH: {
        float r = x + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        return x * r * (1.0f / 6.0f);
    }
    default: return x;
    }
}

float ypr__act_grad_ref(float x, int act, float alpha)
{
    switch (act) {
    case YPR_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case YPR_ACT_LEAKY: return x > 0.0f ? 1.0f : alpha;
    case YPR_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case YPR_ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f - s);
    }
    case YPR_ACT_HARDSWISH: return x < -3.0f ? 0.0f : (x <= 3.0f ? x / 3.0f + 0.5f : 1.0f);
    default: return 1.0f;
    }
}

/* ReLU and leaky ReLU select rather than multiply (so gy·0 never makes a
 * NaN out of an infinite gy); one loop per activation, which the compiler
 * vectorizes for the piecewise-linear ones. */
static inline __attribute__((always_inline)) void act_bwd_loop(const float *z, const float *gy,
                                                               float *gz, int64_t n,
                                                               const int ACT, float alpha)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        if (ACT == YPR_ACT_RELU)
            gz[i] = z[i] > 0.0f ? g : 0.0f;
        else if (ACT == YPR_ACT_LEAKY)
            gz[i] = z[i] > 0.0f ? g : g * alpha;
        else if (ACT == YPR_ACT_IDENTITY)
            gz[i] = g;
        else
            gz[i] = g * ypr__act_grad_ref(z[i], ACT, alpha);
    }
}

void ypr__act_bwd_ref(const float *z, const float *gy, float *gz, int64_t n, int act,
                      float alpha)
{
    YPR_ACT_SPECIALIZE(act, act_bwd_loop(z, gy, gz, n, ACT_, alpha));
}

/* PyTorch's SGD (see ypr__sgd_update in lib/train/optim.c for the operation
 * order). Without FMA hardware flags fmaf() is a library call: the vector
 * sets replace this loop. */
void ypr__sgd_ref(float *p, const float *g, float *buf, int64_t n, float wd, float momentum,
                  float neg_lr, int mode)
{
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (mode & YPR_SGD_WD)
            d = fmaf(p[i], wd, d);               /* d_p = d_p.add(param, alpha=wd) */
        if (mode & YPR_SGD_MOMENTUM) {
            float b = d;                         /* buf = clone(d_p) */
            if (mode & YPR_SGD_HAS_BUF) {
                b = buf[i] * momentum;           /* buf.mul_(momentum) */
                b = b + d;                       /*    .add_(d_p, alpha=1) */
            }
            buf[i] = b;
            d = fmaf(b, momentum, d);            /* nesterov: d_p.add(buf, alpha=momentum) */
        }
        p[i] = fmaf(d, neg_lr, p[i]);            /* param.add_(d_p, alpha=-lr) */
    }
}

/* ------------------------------------------- BatchNorm in training mode */

void ypr__bn_sums_ref(const float *x, int64_t n, float c, double s[2])
{
    for (int64_t k0 = 0; k0 < n; k0 += YPR_BN_CHUNK) {
        int64_t len = n - k0 < YPR_BN_CHUNK ? n - k0 : YPR_BN_CHUNK, k = 0;
        const float *xc = x + k0;
        float a[YPR_BN_LANES] = {0}, b[YPR_BN_LANES] = {0};
        for (; k + YPR_BN_LANES <= len; k += YPR_BN_LANES)
            for (int l = 0; l < YPR_BN_LANES; l++) {
                float d = xc[k + l] - c;
                a[l] += d;
                b[l] += d * d;
            }
        double u = 0, v = 0;
        for (int l = 0; l < YPR_BN_LANES; l++) {
            u += a[l];
            v += b[l];
        }
        for (; k < len; k++) {
            float d = xc[k] - c;
            u += d;
            v += d * d;
        }
        s[0] += u;
        s[1] += v;
    }
}

void ypr__bn_norm_act_ref(const float *x, float *y, int64_t n, float mu, float scale,
                          float bias, int act, float alpha)
{
    for (int64_t i = 0; i < n; i++) {
        float d = x[i] - mu;
        y[i] = ypr__act_ref(d * scale + bias, act, alpha);
    }
}

/* gy·act'(z) of the forward's z, as ypr__act_bwd_ref computes it. */
static float bn_gz(float x, float gy, const ypr_bn_coef *c)
{
    if (c->act == YPR_ACT_IDENTITY)
        return gy;
    float z = (x - c->mu) * c->scale + c->bias, r;
    ypr__act_bwd_ref(&z, &gy, &r, 1, c->act, c->alpha);
    return r;
}

void ypr__bn_bwd_sums_ref(const float *x, const float *gy, float *gz, int64_t n,
                          const ypr_bn_coef *c, double s[2])
{
    for (int64_t k0 = 0; k0 < n; k0 += YPR_BN_CHUNK) {
        int64_t len = n - k0 < YPR_BN_CHUNK ? n - k0 : YPR_BN_CHUNK, k = 0;
        float a[YPR_BN_LANES] = {0}, b[YPR_BN_LANES] = {0};
        for (; k + YPR_BN_LANES <= len; k += YPR_BN_LANES)
            for (int l = 0; l < YPR_BN_LANES; l++) {
                int64_t i = k0 + k + l;
                float g = bn_gz(x[i], gy[i], c);
                if (gz)
                    gz[i] = g;
                a[l] += g;
                b[l] += g * ((x[i] - c->mu) * c->invstd);
            }
        double u = 0, v = 0;
        for (int l = 0; l < YPR_BN_LANES; l++) {
            u += a[l];
            v += b[l];
        }
        for (; k < len; k++) {
            int64_t i = k0 + k;
            float g = bn_gz(x[i], gy[i], c);
            if (gz)
                gz[i] = g;
            u += g;
            v += g * ((x[i] - c->mu) * c->invstd);
        }
        s[0] += u;
        s[1] += v;
    }
}

void ypr__bn_bwd_dx_ref(const float *x, const float *gy, float *gx, int64_t n,
                        const ypr_bn_coef *c, int mode)
{
    for (int64_t i = 0; i < n; i++) {
        float g = mode & YPR_BN_RECOMPUTE ? bn_gz(x[i], gy[i], c) : gy[i];
        float r = c->k * (g - c->mg - (x[i] - c->mu) * c->invstd * c->mgx);
        gx[i] = mode & YPR_BN_ACCUMULATE ? gx[i] + r : r;
    }
}

static void ukernel_scalar(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, int m, int n, int accumulate)
{
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = a + k * MR, *bk = b + k * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void scale_bias_act_scalar(float *x, int64_t n, float scale, float bias,
                                  int act, float alpha)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = ypr__act_ref(x[i] * scale + bias, act, alpha);
}

void ypr__maxpool_plane_ref(const float *x, int64_t h, int64_t w, float *y,
                            int64_t oh, int64_t ow, int k, int s, int p)
{
    for (int64_t oy = 0; oy < oh; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
            float m = -INFINITY;
            for (int ky = 0; ky < k; ky++) {
                int64_t iy = oy * s - p + ky;
                if (iy < 0 || iy >= h)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    int64_t ix = ox * s - p + kx;
                    if (ix >= 0 && ix < w && x[iy * w + ix] > m)
                        m = x[iy * w + ix];
                }
            }
            y[oy * ow + ox] = m;
        }
    }
}

static void upsample2x_plane_scalar(const float *x, int64_t h, int64_t w, float *y)
{
    for (int64_t iy = 0; iy < h; iy++) {
        float *r0 = y + (2 * iy) * (2 * w);
        for (int64_t ix = 0; ix < w; ix++)
            r0[2 * ix] = r0[2 * ix + 1] = x[iy * w + ix];
        memcpy(r0 + 2 * w, r0, (size_t)(2 * w) * sizeof(float));
    }
}

/* Scalar "peak": 12 independent multiply-add chains (a·m + c, two flops).
 * Without FMA hardware flags fmaf() would be a slow library call, so the
 * baseline build measures separate multiply and add. */
static double fma_burn_scalar(int64_t iters, float *sink)
{
    volatile float seed = 0.001f;
    float acc[12];
    for (int i = 0; i < 12; i++)
        acc[i] = (float)i * seed;
    const float m = 0.9999f, a = 1e-6f;
    for (int64_t it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++)
            acc[i] = acc[i] * m + a;
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += acc[i];
    *sink = s;
    return 2.0 * 12.0 * (double)iters;
}

/* ------------------------------------------------ Winograd transforms */

/* The template over one-lane "vectors": the reference every set matches. */
#define AI static inline __attribute__((always_inline))
#define WV_VL 1
typedef float wv_f;
AI wv_f wv_load(const float *p) { return *p; }
AI void wv_store(float *p, wv_f v) { *p = v; }
AI wv_f wv_set1(float v) { return v; }
AI wv_f wv_add(wv_f a, wv_f b) { return a + b; }
AI wv_f wv_sub(wv_f a, wv_f b) { return a - b; }
AI wv_f wv_mul(wv_f a, wv_f b) { return a * b; }

AI void wv_deint4(const float *p, wv_f q[4])
{
    for (int k = 0; k < 4; k++)
        q[k] = p[k];
}

AI void wv_int4(float *p, const wv_f q[4])
{
    for (int k = 0; k < 4; k++)
        p[k] = q[k];
}

AI void wv_deint2(const float *p, wv_f q[2])
{
    q[0] = p[0];
    q[1] = p[1];
}

AI void wv_int2(float *p, const wv_f q[2])
{
    p[0] = q[0];
    p[1] = q[1];
}

AI wv_f wv_ep(wv_f y, wv_f s, wv_f b, wv_f alpha, const int ACT)
{
    return ypr__act_ref(y * s + b, ACT, alpha);
}

#include "lib/kernels/winograd_vec.h"

void ypr__wino4_in_ref(float *d, int64_t ldd, int nt, float *v, int64_t ldv)
{
    wino4_in_vec(d, ldd, nt, v, ldv);
}

void ypr__wino2_in_ref(float *d, int64_t ldd, int nt, float *v, int64_t ldv)
{
    wino2_in_vec(d, ldd, nt, v, ldv);
}

void ypr__wino2_out_segs_ref(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                             int nseg, int64_t ldy, float scale, float bias, int act,
                             float alpha)
{
    wino2_out_segs_vec(m, ldm, nvt, seg, nseg, ldy, scale, bias, act, alpha);
}

void ypr__wino4_out_segs_ref(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                             int nseg, int64_t ldy, float scale, float bias, int act,
                             float alpha)
{
    wino4_out_segs_vec(m, ldm, nvt, seg, nseg, ldy, scale, bias, act, alpha);
}

void ypr__wino4_out_ref(const float *m, int64_t ldm, int nt, float *y, int64_t ldy, int rows,
                        int64_t cols, float scale, float bias, int act, float alpha)
{
    wino4_out_vec(m, ldm, nt, y, ldy, rows, cols, scale, bias, act, alpha);
}

/* The direct stride-2 tile (kernels.h), one fmaf per term in the order of
 * the contract: the vector sets run the same fused operations in the same
 * order per lane, so they equal this bit for bit. */
void ypr__s2_tile_ref(const float *x, int64_t plane, int64_t w, const float *wb, int64_t nic,
                      int kh0, int kh1, int np, int noc, int skip0, int skipl, int accumulate,
                      float *t)
{
    const int ocb = YPR_S2_REF_OCB;
    for (int p = 0; p < np; p++)
        for (int o = 0; o < noc; o++) {
            float acc = 0.0f;
            for (int64_t ic = 0; ic < nic; ic++)
                for (int kh = kh0; kh < kh1; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        if ((skip0 && p == 0 && kw == 0) || (skipl && p == np - 1 && kw == 2))
                            continue;
                        acc = fmaf(x[ic * plane + (kh - kh0) * w + 2 * p + kw - 1],
                                   wb[(ic * 9 + kh * 3 + kw) * ocb + o], acc);
                    }
            float *d = t + p * ocb + o;
            *d = accumulate ? *d + acc : acc;
        }
}

void ypr__s2_flush_ref(const float *t, int64_t ocb, int64_t ow, int noc, float *y, int64_t ohw,
                       const float *scale, const float *bias, int act, float alpha)
{
    for (int o = 0; o < noc; o++) {
        float *d = y + o * ohw;
        for (int64_t q = 0; q < ow; q++)
            d[q] = t[q * ocb + o];
        scale_bias_act_scalar(d, ow, scale ? scale[o] : 1.0f, bias ? bias[o] : 0.0f, act, alpha);
    }
}

void ypr__kt_fill_scalar(ypr_ktable *t)
{
    t->name = "scalar";
    t->mr = MR;
    t->nr = NR;
    t->kc = 256;
    t->nc = 512;
    t->vl = 1;
    t->gemm_ukernel = ukernel_scalar;
    t->pack_b_im2col = ypr__pack_b_im2col_ref;
    t->scale_bias_act = scale_bias_act_scalar;
    t->upsample2x_plane = upsample2x_plane_scalar;
    t->fma_burn = fma_burn_scalar;
    t->add_strided = ypr__add_strided_ref;
    t->dot_block = ypr__dot_block_ref;
    t->act_bwd = ypr__act_bwd_ref;
    t->sgd = ypr__sgd_ref;
    t->bn_sums = ypr__bn_sums_ref;
    t->bn_norm_act = ypr__bn_norm_act_ref;
    t->bn_bwd_sums = ypr__bn_bwd_sums_ref;
    t->bn_bwd_dx = ypr__bn_bwd_dx_ref;
    t->wino4_in = ypr__wino4_in_ref;
    t->wino4_out = ypr__wino4_out_ref;
    t->wino4_out_segs = ypr__wino4_out_segs_ref;
    t->wino2_in = ypr__wino2_in_ref;
    t->wino2_out_segs = ypr__wino2_out_segs_ref;
    t->s2_ocb = YPR_S2_REF_OCB;
    t->s2_pays = 0;   /* the reference: plans keep the GEMM path */
    t->s2_tile = ypr__s2_tile_ref;
    t->s2_flush = ypr__s2_flush_ref;
}
