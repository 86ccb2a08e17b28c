/* conv2d as packed GEMM. A 1×1, stride-1, unpadded conv reads the input
 * planes directly as B; every other conv packs B panels straight from the
 * input (an implicit im2col: no [C·kh·kw, OH·OW] matrix is materialized).
 * Groups and batch images become independent GEMM jobs. */
#include <string.h>

#include "kernels.h"

int ypr__conv_check(const ypr_conv_shape *s, int64_t *oh, int64_t *ow)
{
    RETURN_IF(!s, YPR_EINVAL, "conv2d: NULL shape");
    RETURN_IF(s->n <= 0 || s->c <= 0 || s->h <= 0 || s->w <= 0 || s->oc <= 0 ||
              s->kh <= 0 || s->kw <= 0, YPR_EINVAL,
              "conv2d: sizes must be positive (N=%lld C=%lld H=%lld W=%lld OC=%lld k=%lldx%lld)",
              (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w,
              (long long)s->oc, (long long)s->kh, (long long)s->kw);
    RETURN_IF(s->sh <= 0 || s->sw <= 0 || s->dh <= 0 || s->dw <= 0 || s->ph < 0 ||
              s->pw < 0, YPR_EINVAL, "conv2d: stride and dilation must be positive, padding >= 0");
    RETURN_IF(s->groups <= 0 || s->c % s->groups || s->oc % s->groups, YPR_EINVAL,
              "conv2d: groups %lld must divide C=%lld and OC=%lld", (long long)s->groups,
              (long long)s->c, (long long)s->oc);
    const int64_t lim = (int64_t)1 << 31;
    RETURN_IF(s->h > lim || s->w > lim || s->c > lim || s->oc > lim || s->kh > lim ||
              s->kw > lim || s->sh > lim || s->sw > lim || s->ph > lim || s->pw > lim ||
              s->dh > lim || s->dw > lim, YPR_ERANGE, "conv2d: a dimension exceeds 2^31");
    int64_t ekh = (s->kh - 1) * s->dh + 1, ekw = (s->kw - 1) * s->dw + 1;
    RETURN_IF(s->h + 2 * s->ph < ekh || s->w + 2 * s->pw < ekw, YPR_EINVAL,
              "conv2d: kernel %lldx%lld (dilated) larger than padded input %lldx%lld",
              (long long)s->kh, (long long)s->kw, (long long)(s->h + 2 * s->ph),
              (long long)(s->w + 2 * s->pw));
    int64_t h = (s->h + 2 * s->ph - ekh) / s->sh + 1, w = (s->w + 2 * s->pw - ekw) / s->sw + 1;
    int64_t t;
    RETURN_IF(ypr__mul_size(s->n, s->oc, &t) || ypr__mul_size(t, h, &t) ||
              ypr__mul_size(t, w, &t) || ypr__mul_size(t, 4, &t) ||
              ypr__mul_size(s->n, s->c, &t) || ypr__mul_size(t, s->h, &t) ||
              ypr__mul_size(t, s->w, &t) || ypr__mul_size(t, 4, &t) ||
              ypr__mul_size(s->oc, s->c, &t) || ypr__mul_size(t, s->kh, &t) ||
              ypr__mul_size(t, s->kw, &t) || ypr__mul_size(t, 64, &t),
              YPR_ERANGE, "conv2d: tensor size overflows");
    if (oh)
        *oh = h;
    if (ow)
        *ow = w;
    return YPR_OK;
}

static int64_t group_k(const ypr_conv_shape *s)
{
    return s->c / s->groups * s->kh * s->kw;
}

int64_t ypr__conv_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return s->groups * ypr__gemm_packed_a_floats(kt, s->oc / s->groups, group_k(s));
}

void ypr__conv_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst)
{
    int64_t m = s->oc / s->groups, k = group_k(s);
    int64_t per = ypr__gemm_packed_a_floats(kt, m, k);
    for (int64_t g = 0; g < s->groups; g++)
        ypr__gemm_pack_a(kt, m, k, w + g * m * k, k, dst + g * per);
}

/* Fill `len` panel slots (stride 1 between slots) with input row `row`
 * sampled at ix0, ix0 + sw, …; positions outside [0, w) are zero. */
void ypr__gather_row(const float *row, int64_t w, int64_t ix0, int64_t sw, int64_t len,
                     float *d)
{
    /* valid t: 0 ≤ ix0 + t·sw < w (stride 1, the common case, without divisions) */
    int64_t a, b;
    if (sw == 1) {
        a = ix0 >= 0 ? 0 : -ix0;
        b = w - ix0;
    } else {
        a = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
        b = ix0 >= w ? 0 : (w - 1 - ix0) / sw + 1;
    }
    if (a > len) a = len;
    if (b > len) b = len;
    if (b < a) b = a;
    for (int64_t t = 0; t < a; t++)
        d[t] = 0.0f;
    if (sw == 1 && b - a >= 32) {
        memcpy(d + a, row + ix0 + a, (size_t)(b - a) * sizeof(float));
    } else if (sw == 1) {
        const float *r = row + ix0;
        for (int64_t t = a; t < b; t++)   /* short runs: a loop beats a memcpy call */
            d[t] = r[t];
    } else {
        const float *r = row + ix0 + a * sw;
        for (int64_t t = a; t < b; t++, r += sw)
            d[t] = *r;
    }
    for (int64_t t = b; t < len; t++)
        d[t] = 0.0f;
}

int ypr__im2col_runs(const ypr_im2col_src *s, int64_t c0, int64_t cols,
                     ypr_im2col_run *runs, int max)
{
    int n = 0;
    for (int64_t j = 0; j < cols;) {
        if (n == max)
            return 0;
        int64_t col = c0 + j, oy = col / s->ow, ox = col % s->ow;
        int64_t len = s->ow - ox < cols - j ? s->ow - ox : cols - j;
        runs[n++] = (ypr_im2col_run){j, len, oy, ox};
        j += len;
    }
    return n;
}

void ypr__im2col_prefetch(const ypr_im2col_src *s, const float *plane, int64_t ky,
                          const ypr_im2col_run *runs, int nruns)
{
    for (int i = 0; i < nruns; i++) {
        int64_t iy = runs[i].oy * s->sh - s->ph + ky * s->dh;
        if (iy < 0 || iy >= s->h)
            continue;
        int64_t x0 = runs[i].ox * s->sw - s->pw;
        int64_t x1 = x0 + runs[i].len * s->sw + (s->kw - 1) * s->dw;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > s->w ? s->w : x1;
        for (int64_t x = x0; x < x1; x += 16)
            __builtin_prefetch(plane + iy * s->w + x, 0, 3);
    }
}

/* Implicit im2col into B panels: for each panel of nr output positions, the
 * positions are split into runs within one output row; each (channel, ky,
 * kx) row of the panel is then a few strided copies with zero edges. */
void ypr__pack_b_im2col_ref(const void *src, int64_t k0, int64_t kc, int64_t n0,
                            int64_t nc, int nr, float *dst)
{
    const ypr_im2col_src *s = src;
    const int64_t khw = s->kh * s->kw;
    for (int64_t q = 0; q * nr < nc; q++) {
        float *panel = dst + q * nr * kc;
        int64_t c0 = n0 + q * nr, cols = nc - q * nr < nr ? nc - q * nr : nr;
        ypr_im2col_run runs[128];   /* nr ≤ 128 */
        int nruns = ypr__im2col_runs(s, c0, cols, runs, 128);
        ypr_im2col_run next[128];
        int nnext = 0;
        if (q == 0) {
            int64_t total = s->oh * s->ow, ncols = total - (c0 + nc);
            if (ncols > cols)
                ncols = cols;
            if (ncols > 0)
                nnext = ypr__im2col_runs(s, c0 + nc, ncols, next, 128);
        }
        /* (channel, ky, kx) of row k0, then stepped without divisions */
        int64_t ci = k0 / khw, ky = (k0 % khw) / s->kw, kx = k0 % s->kw;
        for (int64_t kk = 0; kk < kc; kk++) {
            if (kk) {
                if (++kx == s->kw) {
                    kx = 0;
                    if (++ky == s->kh) {
                        ky = 0;
                        ci++;
                    }
                }
            }
            const float *plane = s->x + ci * s->h * s->w;
            if (kx == 0)
                ypr__im2col_prefetch(s, plane, ky, next, nnext);
            float *d = panel + kk * nr;
            for (int i = 0; i < nruns; i++) {
                const ypr_im2col_run *r = &runs[i];
                int64_t iy = r->oy * s->sh - s->ph + ky * s->dh;
                if (iy < 0 || iy >= s->h) {
                    memset(d + r->j, 0, (size_t)r->len * sizeof(float));
                    continue;
                }
                ypr__gather_row(plane + iy * s->w, s->w, r->ox * s->sw - s->pw + kx * s->dw,
                                s->sw, r->len, d + r->j);
            }
            for (int64_t j = cols; j < nr; j++)
                d[j] = 0.0f;
        }
    }
}

int ypr__conv2d(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                const float *x, const float *packed_w, const ypr_epilogue *ep, float *y)
{
    return ypr__conv2d_ws(kt, pool, s, x, packed_w, ep, y, NULL);
}

int ypr__conv2d_ws(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                   float *scratch)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!kt || !x || !packed_w || !y, YPR_EINVAL, "conv2d: NULL pointer");
    if (ypr__conv3x3_rows_eligible(kt, s))
        return ypr__conv3x3_rows(kt, pool, s, x, packed_w, ep, y, scratch);
    const int64_t g = s->groups, m = s->oc / g, cg = s->c / g, k = group_k(s);
    const int64_t njobs = s->n * g;
    const int direct = ypr__conv_pointwise(s);
    ypr_gemm_job *jobs = ypr__calloc((size_t)njobs, sizeof *jobs);
    ypr_epilogue *eps = ypr__calloc((size_t)njobs, sizeof *eps);
    ypr_matrix_src *ms = direct ? ypr__calloc((size_t)njobs, sizeof *ms) : NULL;
    ypr_im2col_src *is = direct ? NULL : ypr__calloc((size_t)njobs, sizeof *is);
    int rc = YPR_ENOMEM;
    if (!jobs || !eps || (!ms && !is))
        goto out;
    int64_t per = ypr__gemm_packed_a_floats(kt, m, k);
    for (int64_t b = 0; b < s->n; b++) {
        for (int64_t gi = 0; gi < g; gi++) {
            int64_t j = b * g + gi;
            const float *xg = x + (b * s->c + gi * cg) * s->h * s->w;
            ypr_gemm_job *jb = &jobs[j];
            jb->m = m;
            jb->n = oh * ow;
            jb->k = k;
            jb->packed_a = packed_w + gi * per;
            if (direct) {
                ms[j] = (ypr_matrix_src){xg, s->h * s->w, s->h * s->w};
                jb->pack_b = ypr__pack_b_matrix;
                jb->b_src = &ms[j];
                jb->b_direct = xg;
                jb->ldb_direct = s->h * s->w;
            } else {
                is[j] = (ypr_im2col_src){xg, s->h, s->w, oh, ow, s->kh, s->kw, s->sh, s->sw,
                                     s->ph, s->pw, s->dh, s->dw};
                jb->pack_b = kt->pack_b_im2col ? kt->pack_b_im2col : ypr__pack_b_im2col_ref;
                jb->b_src = &is[j];
            }
            jb->c = y + (b * s->oc + gi * m) * oh * ow;
            jb->ldc = oh * ow;
            if (ep) {
                eps[j] = *ep;
                eps[j].scale = ep->scale ? ep->scale + gi * m : NULL;
                eps[j].bias = ep->bias ? ep->bias + gi * m : NULL;
                jb->ep = &eps[j];
            }
        }
    }
    rc = ypr__gemm_run(kt, pool, jobs, njobs, scratch);
out:
    ypr__free(jobs);
    ypr__free(eps);
    ypr__free(ms);
    ypr__free(is);
    return rc;
}

int ypr__conv2d_ref(const ypr_conv_shape *s, const float *x, const float *w,
                    const ypr_epilogue *ep, float *y)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    const int64_t g = s->groups, m = s->oc / g, cg = s->c / g;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < s->oc; o++) {
            int64_t gi = o / m;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double acc = 0.0;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < s->kh; ky++) {
                            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                            if (iy < 0 || iy >= s->h)
                                continue;
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (ix < 0 || ix >= s->w)
                                    continue;
                                acc += (double)x[((b * s->c + gi * cg + ci) * s->h + iy) * s->w + ix] *
                                       (double)w[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                            }
                        }
                    float v = (float)acc;
                    if (ep)
                        v = ypr__act_ref(v * (ep->scale ? ep->scale[o] : 1.0f) +
                                         (ep->bias ? ep->bias[o] : 0.0f), ep->act, ep->alpha);
                    y[((b * s->oc + o) * oh + oy) * ow + ox] = v;
                }
        }
    return YPR_OK;
}
