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
static void gather_row(const float *row, int64_t w, int64_t ix0, int64_t sw, int64_t len,
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
    if (sw == 1) {
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
                gather_row(plane + iy * s->w, s->w, r->ox * s->sw - s->pw + kx * s->dw,
                           s->sw, r->len, d + r->j);
            }
            for (int64_t j = cols; j < nr; j++)
                d[j] = 0.0f;
        }
    }
}

/* ---- 3×3 stride-1 convs from packed input rows */

/* Output rows are cut into tiles of at most nr columns, whole vectors spread
 * evenly over a row's tiles (AVX-512: 208 = 13 vectors → 4 + 3 + 3 + 3). For
 * a tile, the input rows it reads — one per (channel, ky), columns ox0 − 1 …
 * ox0 + n, zero outside the image — are copied once into a small buffer, and
 * the kernel reads the three kx windows from each copy: a third of what an
 * im2col panel copies, and the copies stay in L1. Used where rows are wide
 * enough that ≥ 90 % of the vector lanes carry outputs, and the input has
 * the channels to amortize a tile (not the 3-channel stem). */
enum { C3_ROWS = 64 };   /* copied rows per K block */

typedef struct c3_plan {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const float *x, *pw;
    const ypr_epilogue *ep;
    float *y, *scratch;
    int64_t m, cg, per, tiles_row, vecs, ntiles, nper, scratch_floats, ldr;
} c3_plan;

/* Copied row stride: nr + 2 floats plus room for a whole-vector read past
 * the end, rounded to a 64-byte line. */
static int64_t c3_ldr(const ypr_ktable *kt)
{
    return (kt->nr + 2 + kt->vl + 15) / 16 * 16;
}

int ypr__conv3x3_rows_eligible(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    int64_t ow = s->w;
    if (!kt->conv3x3_rows || s->kh != 3 || s->kw != 3 || s->sh != 1 || s->sw != 1 ||
        s->ph != 1 || s->pw != 1 || s->dh != 1 || s->dw != 1 || s->c / s->groups < 16 ||
        ow * 4 < kt->nr * 3 || ypr__gemm_scratch_floats(kt) < C3_ROWS * c3_ldr(kt))
        return 0;
    int64_t vecs = (ow + kt->vl - 1) / kt->vl;
    return ow * 10 >= vecs * kt->vl * 9;
}

/* First column and width of tile t of a row. */
static void c3_tile(const c3_plan *p, int64_t t, int64_t *ox0, int *n)
{
    const int vl = p->kt->vl;
    int64_t base = p->vecs / p->tiles_row, extra = p->vecs % p->tiles_row;
    int64_t v0 = t * base + (t < extra ? t : extra);
    int64_t nv = base + (t < extra);
    *ox0 = vl * v0;
    int64_t end = vl * (v0 + nv) < p->s->w ? vl * (v0 + nv) : p->s->w;
    *n = (int)(end - *ox0);
}

/* Copy rows r0 … r0+nr−1 (r = ci·3 + ky) of a tile into buf; a tile that
 * ends inside a vector gets zeros up to the vector's end (+2), so the kernel
 * reads defined values in the lanes it does not store. */
static void c3_pack(const ypr_conv_shape *s, const float *xg, int64_t oy, int64_t ox0, int n,
                    int64_t r0, int64_t nr, int64_t ldr, int vl, float *buf)
{
    const int64_t w = s->w;
    int64_t x0 = ox0 - 1, x1 = ox0 + n + 1;            /* [x0, x1) wanted */
    int64_t a = x0 < 0 ? 0 : x0, b = x1 > w ? w : x1;  /* [a, b) inside the row */
    int64_t fill = (n + vl - 1) / vl * vl + 2;         /* slots the kernel reads */
    for (int64_t r = 0; r < nr; r++) {
        int64_t ci = (r0 + r) / 3, iy = oy + (r0 + r) % 3 - 1;
        float *d = buf + r * ldr;
        if (iy < 0 || iy >= s->h) {
            memset(d, 0, (size_t)fill * sizeof(float));
            continue;
        }
        const float *src = xg + (ci * s->h + iy) * w;
        if (a > x0)
            d[0] = 0.0f;
        memcpy(d + (a - x0), src + a, (size_t)(b - a) * sizeof(float));
        for (int64_t j = b - x0; j < fill; j++)
            d[j] = 0.0f;
    }
}

static void c3_task(void *ctx, int64_t task, int worker)
{
    const c3_plan *p = ctx;
    const ypr_conv_shape *s = p->s;
    const int mr = p->kt->mr;
    const int64_t hw = s->h * s->w, g = s->groups, rows = p->cg * 3;
    float *buf = p->scratch + worker * p->scratch_floats;
    const float *scale = p->ep ? p->ep->scale : NULL, *bias = p->ep ? p->ep->bias : NULL;
    const int act = p->ep ? p->ep->act : YPR_ACT_IDENTITY;
    const float alpha = p->ep ? p->ep->alpha : 0.0f;
    const int with_ep = p->ep && (scale || bias || act != YPR_ACT_IDENTITY);
    int64_t t1 = (task + 1) * p->nper < p->ntiles ? (task + 1) * p->nper : p->ntiles;
    for (int64_t t = task * p->nper; t < t1; t++) {
        /* t = ((image·groups + group)·h + oy)·tiles_row + tile */
        int64_t tr = t % p->tiles_row, oy = t / p->tiles_row % s->h, jg = t / p->tiles_row / s->h;
        int64_t b = jg / g, gi = jg % g, ox0;
        int n;
        c3_tile(p, tr, &ox0, &n);
        const float *xg = p->x + (b * s->c + gi * p->cg) * hw;
        if (t + 1 < t1) {   /* the next tile's input rows, while this one computes */
            int64_t nx0, ny = (t + 1) / p->tiles_row % s->h;
            int nn;
            c3_tile(p, (t + 1) % p->tiles_row, &nx0, &nn);
            ypr_im2col_src src = {xg, s->h, s->w, s->h, s->w, 3, 3, 1, 1, 1, 1, 1, 1};
            ypr_im2col_run run = {0, nn, ny, nx0};
            for (int64_t ci = 0; ci < p->cg; ci++)
                for (int64_t ky = 0; ky < 3; ky++)
                    ypr__im2col_prefetch(&src, xg + ci * hw, ky, &run, 1);
        }
        float *yt = p->y + (b * s->oc + gi * p->m) * hw + oy * s->w + ox0;
        const float *a = p->pw + gi * p->per;
        for (int64_t r0 = 0; r0 < rows; r0 += C3_ROWS) {
            int64_t nr = rows - r0 < C3_ROWS ? rows - r0 : C3_ROWS;
            int last = r0 + nr >= rows;
            c3_pack(s, xg, oy, ox0, n, r0, nr, p->ldr, p->kt->vl, buf);
            for (int64_t i = 0; i < p->m; i += mr) {
                int m = p->m - i < mr ? (int)(p->m - i) : mr;
                int64_t ch = gi * p->m + i;
                p->kt->conv3x3_rows(a + i * rows * 3 + r0 * 3 * mr, buf, nr, p->ldr, n,
                                    yt + i * hw, hw, m, r0 > 0, scale ? scale + ch : NULL,
                                    bias ? bias + ch : NULL, act, alpha, last && with_ep);
            }
        }
    }
}

static int conv3x3_rows(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                        const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                        float *scratch)
{
    c3_plan p = {kt, s, x, packed_w, ep, y, scratch, s->oc / s->groups, s->c / s->groups,
                 0, 0, 0, 0, 1, ypr__gemm_scratch_floats(kt), c3_ldr(kt)};
    p.per = ypr__gemm_packed_a_floats(kt, p.m, p.cg * 9);
    p.vecs = (s->w + kt->vl - 1) / kt->vl;
    int64_t per_tile = kt->nr / kt->vl;
    p.tiles_row = (p.vecs + per_tile - 1) / per_tile;
    p.ntiles = s->n * s->groups * s->h * p.tiles_row;
    int nthreads = ypr__pool_size(pool);
    if (p.ntiles > 32 * nthreads)
        p.nper = p.ntiles / (16 * nthreads);
    float *own = NULL;
    if (!scratch) {
        own = ypr__alloc((size_t)(nthreads * p.scratch_floats) * sizeof(float));
        if (!own)
            return YPR_ENOMEM;
        p.scratch = own;
    }
    ypr__pool_run(pool, (p.ntiles + p.nper - 1) / p.nper, c3_task, &p);
    ypr__free(own);
    return YPR_OK;
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
        return conv3x3_rows(kt, pool, s, x, packed_w, ep, y, scratch);
    const int64_t g = s->groups, m = s->oc / g, cg = s->c / g, k = group_k(s);
    const int64_t njobs = s->n * g;
    const int direct = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 &&
                       s->ph == 0 && s->pw == 0;
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
