/* 3×3 stride-1 convs from copied input rows: the driver around the ISA
 * kernel kt->conv3x3_rows (see kernels.h). ypr__conv2d sends the shapes
 * ypr__conv3x3_rows_eligible() accepts here; the rest take the im2col GEMM. */
#include <string.h>

#include "kernels.h"

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
    int64_t fill = (n + vl - 1) / vl * vl + 2;         /* slots the kernel reads */
    for (int64_t r = 0; r < nr; r++) {
        int64_t ci = (r0 + r) / 3, iy = oy + (r0 + r) % 3 - 1;
        float *d = buf + r * ldr;
        if (iy < 0 || iy >= s->h) {
            memset(d, 0, (size_t)fill * sizeof(float));
            continue;
        }
        ypr__gather_row(xg + (ci * s->h + iy) * s->w, s->w, ox0 - 1, 1, n + 2, d);
        for (int64_t j = n + 2; j < fill; j++)
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

int ypr__conv3x3_rows(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
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
