/* The x86 training loops: activation backward and PyTorch's SGD step,
 * written once over the x86_vec.h primitives (included after it by
 * kernels_avx2.c and kernels_avx512.c, static in each). Needs one primitive
 * more than x86_vec.h:
 *   xv_f xv_gt_sel(xv_f a, xv_f b, xv_f x, xv_f y)   a > b (ordered) ? x : y, per lane
 * and gives the ypr_ktable entries act_bwd_vec and sgd_vec (and, from bn_vec.h at the
 * end, bn_sums_vec, bn_norm_act_vec, bn_bwd_sums_vec, bn_bwd_dx_vec). */

/* act'(z)·gy per lane, the scalar reference's formulas and operation order
 * (ReLU and leaky ReLU as selects: bit-exact, NaN included). */
AI xv_f act_bwd_one(xv_f z, xv_f gy, const int ACT, xv_f alpha)
{
    const xv_f one = xv_set1(1.0f);
    switch (ACT) {
    case YPR_ACT_RELU:
        return xv_gt_sel(z, xv_zero(), gy, xv_zero());
    case YPR_ACT_LEAKY:
        return xv_gt_sel(z, xv_zero(), gy, xv_mul(gy, alpha));
    case YPR_ACT_SILU: {
        xv_f s = recip_vec(one_plus_exp_neg(z));
        xv_f t = xv_add(one, xv_mul(z, xv_sub(one, s)));
        return xv_mul(gy, xv_mul(s, t));
    }
    case YPR_ACT_SIGMOID: {
        xv_f s = recip_vec(one_plus_exp_neg(z));
        return xv_mul(gy, xv_mul(s, xv_sub(one, s)));
    }
    case YPR_ACT_HARDSWISH: {
        xv_f mid = xv_add(xv_mul(z, xv_set1(1.0f / 3.0f)), xv_set1(0.5f));
        xv_f d = xv_gt_sel(xv_set1(-3.0f), z, xv_zero(), xv_gt_sel(z, xv_set1(3.0f), one, mid));
        return xv_mul(gy, d);
    }
    default:
        return gy;
    }
}

AI void act_bwd_loop(const float *z, const float *gy, float *gz, int64_t n, const int ACT,
                     float alpha)
{
    const xv_f al = xv_set1(alpha);
    int64_t i = 0;
    for (; i + 2 * XV_VL <= n; i += 2 * XV_VL) {
        xv_f a = act_bwd_one(xv_load(z + i), xv_load(gy + i), ACT, al);
        xv_f b = act_bwd_one(xv_load(z + i + XV_VL), xv_load(gy + i + XV_VL), ACT, al);
        xv_store(gz + i, a);
        xv_store(gz + i + XV_VL, b);
    }
    for (; i < n; i += XV_VL) {
        const xv_m mk = xv_tail(n - i);
        xv_maskstore(gz + i, mk,
                     act_bwd_one(xv_maskload(mk, z + i), xv_maskload(mk, gy + i), ACT, al));
    }
}

static void act_bwd_vec(const float *z, const float *gy, float *gz, int64_t n, int act,
                        float alpha)
{
    YPR_ACT_SPECIALIZE(act, act_bwd_loop(z, gy, gz, n, ACT_, alpha));
}

/* One vector of ypr__sgd_ref: each fmaf a vector FMA, the rest rounded
 * single operations, so the result is bit-identical. */
AI xv_f sgd_one(xv_f p, xv_f g, xv_f *buf, xv_f wd, xv_f m, xv_f nlr, const int MODE)
{
    xv_f d = g;
    if (MODE & YPR_SGD_WD)
        d = xv_fmadd(p, wd, d);
    if (MODE & YPR_SGD_MOMENTUM) {
        xv_f b = d;
        if (MODE & YPR_SGD_HAS_BUF)
            b = xv_add(xv_mul(*buf, m), d);
        *buf = b;
        d = xv_fmadd(b, m, d);
    }
    return xv_fmadd(d, nlr, p);
}

AI void sgd_loop(float *p, const float *g, float *buf, int64_t n, float wd, float m, float nlr,
                 const int MODE)
{
    const xv_f vwd = xv_set1(wd), vm = xv_set1(m), vl = xv_set1(nlr);
    const int mom = (MODE & YPR_SGD_MOMENTUM) != 0;
    int64_t i = 0;
    for (; i + XV_VL <= n; i += XV_VL) {
        xv_f b = mom && (MODE & YPR_SGD_HAS_BUF) ? xv_load(buf + i) : xv_zero();
        xv_store(p + i, sgd_one(xv_load(p + i), xv_load(g + i), &b, vwd, vm, vl, MODE));
        if (mom)
            xv_store(buf + i, b);
    }
    if (i < n) {
        const xv_m mk = xv_tail(n - i);
        xv_f b = mom && (MODE & YPR_SGD_HAS_BUF) ? xv_maskload(mk, buf + i) : xv_zero();
        xv_maskstore(p + i, mk,
                     sgd_one(xv_maskload(mk, p + i), xv_maskload(mk, g + i), &b, vwd, vm, vl,
                             MODE));
        if (mom)
            xv_maskstore(buf + i, mk, b);
    }
}

static void sgd_vec(float *p, const float *g, float *buf, int64_t n, float wd, float m,
                    float nlr, int mode)
{
    switch (mode & 7) {
    case 0: sgd_loop(p, g, buf, n, wd, m, nlr, 0); break;
    case 1: sgd_loop(p, g, buf, n, wd, m, nlr, 1); break;
    case 2: sgd_loop(p, g, buf, n, wd, m, nlr, 2); break;
    case 3: sgd_loop(p, g, buf, n, wd, m, nlr, 3); break;
    case 4: sgd_loop(p, g, buf, n, wd, m, nlr, 4); break;
    case 5: sgd_loop(p, g, buf, n, wd, m, nlr, 5); break;
    case 6: sgd_loop(p, g, buf, n, wd, m, nlr, 6); break;
    default: sgd_loop(p, g, buf, n, wd, m, nlr, 7); break;
    }
}

/* ---- convolution backward: dW by dot products (ypr_ktable.dot_block).
 * Needs two things more from the including file:
 *   XV_DOT_MR                      rows of a register tile (tiles are XV_DOT_MR × 4:
 *                                  4·XV_DOT_MR accumulators + XV_DOT_MR + 1 registers)
 *   void xv_hsum4_add(xv_f a, xv_f b, xv_f c, xv_f d, float *dst, int n)
 *                                  dst[q] += (the lanes of the q-th vector summed) for q < n,
 *                                  in an order fixed by the set
 * Each tile keeps its lane partial sums in registers over the whole len and
 * reduces them once: the order of additions depends on len only. */
AI void dot_tile(int64_t len, const float *a, int64_t lda, const float *const *b,
                 float *c, int64_t ldc, const int MR, const int NC)
{
    xv_f acc[XV_DOT_MR][4];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            acc[i][j] = xv_zero();
    int64_t p = 0;
    for (; p + XV_VL <= len; p += XV_VL) {
        xv_f av[XV_DOT_MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            av[i] = xv_load(a + i * lda + p);
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++) {
            xv_f bv = xv_load(b[j] + p);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++)
                acc[i][j] = xv_fmadd(av[i], bv, acc[i][j]);
        }
    }
    if (p < len) {
        const xv_m mk = xv_tail(len - p);
        xv_f av[XV_DOT_MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            av[i] = xv_maskload(mk, a + i * lda + p);
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++) {
            xv_f bv = xv_maskload(mk, b[j] + p);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++)
                acc[i][j] = xv_fmadd(av[i], bv, acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        xv_hsum4_add(acc[i][0], acc[i][1], acc[i][2], acc[i][3], c + i * ldc, NC);
}

/* The tiles of rows [i, i + MR) across all n columns. */
AI void dot_rows(int64_t len, const float *a, int64_t lda, const float *const *b,
                 float *c, int64_t ldc, int64_t n, const int MR)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
        dot_tile(len, a, lda, b + j, c + j, ldc, MR, 4);
    switch (n - j) {
    case 3: dot_tile(len, a, lda, b + j, c + j, ldc, MR, 3); break;
    case 2: dot_tile(len, a, lda, b + j, c + j, ldc, MR, 2); break;
    case 1: dot_tile(len, a, lda, b + j, c + j, ldc, MR, 1); break;
    default: break;
    }
}

/* c[i·ldc + j] += Σ_{p<len} a[i·lda + p]·b[j][p] for i < m, j < n.
 * Blocks of 16 b rows (16 KiB at len 256) stay in L1 while every a row
 * passes over them. */
static void dot_block_vec(int64_t len, const float *a, int64_t lda, const float *const *b,
                          float *c, int64_t ldc, int64_t m, int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        int64_t nb = n - j0 < 16 ? n - j0 : 16;
        const float *const *bj = b + j0;
        float *cj = c + j0;
        int64_t i = 0;
        for (; i + XV_DOT_MR <= m; i += XV_DOT_MR)
            dot_rows(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, XV_DOT_MR);
        for (; i + 2 <= m; i += 2)
            dot_rows(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, 2);
        if (i < m)
            dot_rows(len, a + i * lda, lda, bj, cj + i * ldc, ldc, nb, 1);
    }
}

/* ---- BatchNorm in training mode (ypr_ktable.bn_*): bn_vec.h over the
 * x86 vectors, with this template's activation and its derivative. */
#define BV_VL XV_VL
typedef xv_f bv_f;
AI bv_f bv_set1(float v) { return xv_set1(v); }
AI bv_f bv_load(const float *p) { return xv_load(p); }
AI void bv_store(float *p, bv_f v) { xv_store(p, v); }
AI bv_f bv_add(bv_f a, bv_f b) { return xv_add(a, b); }
AI bv_f bv_sub(bv_f a, bv_f b) { return xv_sub(a, b); }
AI bv_f bv_mul(bv_f a, bv_f b) { return xv_mul(a, b); }
AI bv_f bv_act(bv_f y, const int ACT, bv_f alpha) { return act_vec(y, ACT, alpha); }
AI bv_f bv_act_bwd(bv_f z, bv_f gy, const int ACT, bv_f alpha)
{
    return act_bwd_one(z, gy, ACT, alpha);
}
#include "lib/kernels/bn_vec.h"
