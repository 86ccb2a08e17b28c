/* Convolution backward: the input gradient dX and the weight gradient dW
 * (+ db) of y = conv(x, w), on the same micro-kernels as the forward GEMM.
 *
 * dX, per image and group: dcol[K, P] = Wᵀ[K, M] · dY[M, P] (K = C/g·kh·kw,
 * M = OC/g, P = OH·OW), then col2im scatter-adds dcol into dX. Wᵀ is packed
 * once per call into A panels (cut into blocks of whole channels, so a block
 * of dcol rows scatters into its own channels only). A task takes one band
 * of output rows and one channel block and computes dcol for column
 * sub-blocks that stay in cache, scattering each into dX at once. Bands
 * overlap in dX (a kernel window spans rows), so the even bands run first,
 * then the odd ones: bands are at least (kh−1)·dh/sh rows tall, so two bands
 * of one parity never touch the same dX row. 1×1 stride-1 unpadded convs
 * need no col2im: the GEMM writes dX itself.
 *
 * dW, per group: dW[M, K] += Σ_images dY[M, P] · col(X)[K, P]ᵀ. Both operands
 * run along P, so dW is a block of dot products along P (kt->dot_block,
 * lane partial sums in registers, reduced once per depth block): dY rows are
 * read where they lie, and so are the input rows of 1×1 stride-1 unpadded
 * convs; stride-1 convs (and stride-2 ones with K ≥ DW_PLANES_S2_K) read every
 * tap as a stretch of a padded phase plane of the input (dw_planes_task); the
 * rest take im2col rows from the forward packer, DW_PC_IM2COL positions at a
 * time. Nothing is transposed, so cutting dW into tiles for the workers costs
 * no repeated packing. A task owns a tile of dW and adds all images and depth
 * blocks in order.
 *
 * Determinism: every output element is produced by one task with a fixed
 * order of additions (the band, block and depth splits depend on the shape
 * only), so results are bit-identical for any thread count and run. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

enum {
    DW_PC = 256,        /* dW depth block: output positions per dot-product pass */
    DW_PC_IM2COL = 128, /* the same through im2col rows (the vector packers' widest panel) */
    DW_PLANES_S2_K = 512, /* stride 2 from phase planes from this K on (measured: the
                           * stem convs of few channels are faster through im2col) */
    DW_MB = 128,        /* dW tile: rows (output channels), columns (C/g·kh·kw) */
    DW_KB = 128,
    DX_ROWS = 256,      /* target dcol rows per channel block */
    DX_BAND_POS = 256,  /* minimum output positions per band */
};

static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* ------------------------------------------------ scalar table entries */

/* Eight float partial sums per dot product (lane p % 8), added in order. */
void ypr__dot_block_ref(int64_t len, const float *a, int64_t lda, const float *const *b,
                        float *c, int64_t ldc, int64_t m, int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *ar = a + i * lda, *br = b[j];
            float part[8] = {0};
            for (int64_t p = 0; p < len; p++)
                part[p % 8] += ar[p] * br[p];
            float sum = 0.0f;
            for (int l = 0; l < 8; l++)
                sum += part[l];
            c[i * ldc + j] += sum;
        }
}

void ypr__add_strided_ref(float *d, int64_t sd, const float *s, int64_t n)
{
    if (sd == 1) {
        for (int64_t t = 0; t < n; t++)
            d[t] += s[t];
        return;
    }
    for (int64_t t = 0; t < n; t++)
        d[t * sd] += s[t];
}

/* ------------------------------------------------------------ geometry */

typedef struct bwd_geo {
    int64_t oh, ow, g, m, cg, khw, k, p, hw;
    int direct;                 /* 1×1, stride 1, no padding: dcol is dX */
    /* dX */
    int64_t cb, nblk, rblk;     /* channels per block, blocks per group, padded rows */
    int64_t wt_group;           /* packed Wᵀ floats per group */
    int64_t band, nbands;       /* output rows per band */
    int64_t ncb, kcx;           /* dcol column sub-block, depth block over M */
    int64_t dx_worker;          /* per-worker floats */
    /* dW */
    int64_t mb, kb;             /* largest tile (rows of dW, columns of dW) */
    int64_t dw_worker;
    int planes;                 /* dW from padded phase planes (else im2col rows) */
    int64_t st, hs, ws;         /* stride; phase planes hs × ws */
    int64_t plane, len;         /* floats per phase plane (with slack); dot length per image */
    int64_t dw_shared;          /* padded x and dy of one image */
} bwd_geo;

static void geo_of(const ypr_ktable *kt, const ypr_conv_shape *s, int64_t oh, int64_t ow,
                   bwd_geo *G)
{
    const int64_t mr = kt->mr, nr = kt->nr;
    G->oh = oh;
    G->ow = ow;
    G->g = s->groups;
    G->m = s->oc / s->groups;
    G->cg = s->c / s->groups;
    G->khw = s->kh * s->kw;
    G->k = G->cg * G->khw;
    G->p = oh * ow;
    G->hw = s->h * s->w;
    G->direct = ypr__conv_pointwise(s);

    G->cb = min64(G->cg, max64(1, DX_ROWS / G->khw));
    G->nblk = cdiv(G->cg, G->cb);
    G->rblk = cdiv(G->cb * G->khw, mr) * mr;
    G->wt_group = G->nblk * G->rblk * G->m;
    int64_t bmin = max64(1, cdiv((s->kh - 1) * s->dh, s->sh));
    G->band = min64(oh, max64(bmin, cdiv(DX_BAND_POS, ow)));
    G->nbands = cdiv(oh, G->band);
    G->ncb = cdiv(128, nr) * nr;
    G->kcx = cdiv(G->m, cdiv(G->m, kt->kc));
    G->dx_worker = G->kcx * G->ncb + (G->direct ? 0 : G->cb * G->khw * G->ncb);
    G->dx_worker = cdiv(G->dx_worker, 16) * 16;

    G->mb = min64(G->m, DW_MB);
    G->kb = min64(G->k, DW_KB);
    G->dw_worker = cdiv(G->kb * DW_PC, 16) * 16;
    /* Stride 1 or 2 without dilation: the input of one image split into
     * s×s phase planes of the padded input, rows ws apart, and dy padded to
     * rows ws long; then tap (ky, kx) of every output position is one
     * stretch of its phase plane (see dw_planes_task). */
    G->planes = !G->direct && s->dh == 1 && s->dw == 1 && s->sh == s->sw &&
                (s->sh == 1 || (s->sh == 2 && G->k >= DW_PLANES_S2_K));
    G->dw_shared = 0;
    if (G->planes) {
        G->st = s->sh;
        G->hs = cdiv(s->h + 2 * s->ph, G->st);
        G->ws = cdiv(s->w + 2 * s->pw, G->st);
        G->plane = cdiv(G->hs * G->ws + (s->kw - 1) / G->st + 1, 16) * 16;
        G->len = oh * G->ws;
        G->dw_shared = s->c * G->st * G->st * G->plane + cdiv(s->oc * G->len, 16) * 16;
        G->dw_worker = 0;
    }
}

/* ------------------------------------------------- dX by Winograd */

int ypr__conv_algo_env(void)
{
    const char *e = getenv("YPR_CONV_ALGO");
    if (e && strcmp(e, "winograd") == 0)
        return 1;
    if (e && strcmp(e, "gemm") == 0)
        return 0;
    return -1;
}

/* The input gradient of a 3×3 stride-1 undilated conv is itself one: dX =
 * conv(dY, w′) with padding 2 − p and w′[c][o][ky][kx] = w[o][c][2 − ky][2 − kx]
 * (filters flipped, input and output channels swapped); its output is H×W.
 * So ungrouped ones run through Winograd F(4×4, 3×3) where the forward's
 * cost rule says it pays for that conv and the planes are at least
 * WINO_DX_MIN wide and tall (YPR_CONV_ALGO=gemm: never, winograd: every
 * eligible one, as for the inference plans). Measured on AVX2, one thread,
 * batch 8 (dX time Winograd/GEMM): 32→32 @104² 0.75, 64→64 @52² 0.53–0.62,
 * 128→128 @26² 0.57, 64→128 @52² 0.67–0.69, 256→256 @13² 0.97–1.01,
 * 128→256 @13² 1.12. *t gets the transposed conv's shape. */
enum { WINO_DX_MIN = 16 };
static int wino_dx(const ypr_ktable *kt, const ypr_conv_shape *s, int64_t oh, int64_t ow,
                   int workers, ypr_conv_shape *t)
{
    if (s->kh != 3 || s->kw != 3 || s->sh != 1 || s->sw != 1 || s->dh != 1 || s->dw != 1 ||
        s->groups != 1 || s->ph > 2 || s->pw > 2)
        return 0;
    *t = (ypr_conv_shape){s->n, s->oc, oh, ow, s->c, 3, 3, 1, 1, 2 - s->ph, 2 - s->pw,
                          1, 1, 1};
    if (!ypr__wino_eligible(t))
        return 0;
    int forced = ypr__conv_algo_env();
    if (forced >= 0)
        return forced;
    return s->h >= WINO_DX_MIN && s->w >= WINO_DX_MIN && ypr__wino_pays(kt, t, workers);
}

/* Scratch of the Winograd dX: w′, its transformed and packed form U, the
 * Winograd workspace, the GEMM blocks. Offsets in floats, each a multiple of 16. */
typedef struct wino_dx_parts { int64_t u, ws, gemm, total; } wino_dx_parts;

static wino_dx_parts wino_dx_layout(const ypr_ktable *kt, const ypr_conv_shape *t, int workers)
{
    wino_dx_parts q;
    q.u = cdiv(t->c * t->oc * 9, 16) * 16;
    q.ws = q.u + cdiv(ypr__wino_packed_w_floats(kt, t), 16) * 16;
    q.gemm = q.ws + cdiv(ypr__wino_ws_floats(kt, t, workers), 16) * 16;
    q.total = q.gemm + workers * ypr__gemm_scratch_floats(kt);
    return q;
}

/* dX of a conv wino_dx() accepted, t its transposed shape. */
static int bwd_data_wino(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const ypr_conv_shape *t, const float *dy, const float *w, float *dx,
                         int accumulate, float *scratch)
{
    wino_dx_parts q = wino_dx_layout(kt, t, ypr__pool_size(pool));
    float *wt = scratch;
    for (int64_t o = 0; o < s->oc; o++)
        for (int64_t c = 0; c < s->c; c++) {
            const float *src = w + (o * s->c + c) * 9;
            float *dst = wt + (c * s->oc + o) * 9;
            for (int k = 0; k < 9; k++)
                dst[k] = src[8 - k];
        }
    ypr__wino_pack_w(kt, t, wt, scratch + q.u);
    if (accumulate)
        return ypr__conv2d_wino_acc(kt, pool, t, dy, scratch + q.u, dx, scratch + q.ws,
                                    scratch + q.gemm);
    return ypr__conv2d_wino(kt, pool, t, dy, scratch + q.u, NULL, dx, scratch + q.ws,
                            scratch + q.gemm);
}

int64_t ypr__conv_bwd_scratch_floats(const ypr_ktable *kt, const ypr_conv_shape *s,
                                     int workers)
{
    int64_t oh, ow;
    if (!kt || workers <= 0 || ypr__conv_check(s, &oh, &ow) < 0)
        return 0;
    bwd_geo G;
    geo_of(kt, s, oh, ow, &G);
    int64_t dx = cdiv(G.g * G.wt_group, 16) * 16 + workers * G.dx_worker;
    int64_t dw = workers * G.dw_worker + G.dw_shared;
    ypr_conv_shape t;
    if (wino_dx(kt, s, oh, ow, workers, &t))
        dx = max64(dx, wino_dx_layout(kt, &t, workers).total);
    return max64(dx, dw);
}

/* ------------------------------------------------------------------ dX */

typedef struct dx_plan {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const bwd_geo *G;
    const float *dy, *wt;
    float *dx, *work;
    int accumulate;
    int parity, nparity;        /* bands of this parity run; nparity: 1 or 2 */
    int64_t bands_run;          /* bands in this run */
} dx_plan;

/* dst rows of the packed Wᵀ for channel block j of group gi. */
static void pack_wt(const bwd_geo *G, const ypr_ktable *kt, const float *w, float *wt)
{
    const int mr = kt->mr;
    for (int64_t gi = 0; gi < G->g; gi++) {
        const float *wg = w + gi * G->m * G->k;
        for (int64_t j = 0; j < G->nblk; j++) {
            float *dst = wt + gi * G->wt_group + j * G->rblk * G->m;
            int64_t k0 = j * G->cb * G->khw;
            int64_t rows = min64(G->cb, G->cg - j * G->cb) * G->khw;
            for (int64_t r0 = 0; r0 < G->rblk; r0 += mr) {
                float *panel = dst + r0 * G->m;
                int64_t valid = min64(mr, max64(0, rows - r0));
                for (int64_t mm = 0; mm < G->m; mm++) {
                    const float *src = wg + mm * G->k + k0 + r0;
                    float *d = panel + mm * mr;
                    for (int64_t r = 0; r < valid; r++)
                        d[r] = src[r];
                    for (int64_t r = valid; r < mr; r++)
                        d[r] = 0.0f;
                }
            }
        }
    }
}

/* Scatter-add dcol rows [k0, k0 + nrows) × positions [n0, n0 + nc) of one
 * image and group into its dX planes. */
static void col2im(const ypr_ktable *kt, const ypr_conv_shape *s, const bwd_geo *G,
                   const float *dcol, int64_t ldd, int64_t k0, int64_t nrows, int64_t n0,
                   int64_t nc, float *dxg)
{
    void (*add)(float *, int64_t, const float *, int64_t) =
        kt->add_strided ? kt->add_strided : ypr__add_strided_ref;
    const int64_t sw = s->sw, w = s->w;
    for (int64_t r = 0; r < nrows; r++) {
        int64_t k = k0 + r, ci = k / G->khw, ky = (k % G->khw) / s->kw, kx = k % s->kw;
        float *plane = dxg + ci * G->hw;
        const float *src = dcol + r * ldd;
        for (int64_t col = n0; col < n0 + nc;) {
            int64_t oy = col / G->ow, ox = col % G->ow;
            int64_t len = min64(G->ow - ox, n0 + nc - col);
            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
            if (iy >= 0 && iy < s->h) {
                int64_t ix0 = ox * sw - s->pw + kx * s->dw;
                /* t with 0 ≤ ix0 + t·sw < w */
                int64_t a = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
                int64_t b = ix0 >= w ? 0 : (w - 1 - ix0) / sw + 1;
                b = min64(b, len);
                if (b > a)
                    add(plane + iy * w + ix0 + a * sw, sw, src + (col - n0) + a, b - a);
            }
            col += len;
        }
    }
}

static void dx_task(void *ctx, int64_t task, int worker)
{
    const dx_plan *pl = ctx;
    const ypr_ktable *kt = pl->kt;
    const ypr_conv_shape *s = pl->s;
    const bwd_geo *G = pl->G;
    const int mr = kt->mr, nr = kt->nr;
    int64_t j = task % G->nblk;
    int64_t rest = task / G->nblk;
    int64_t bi = (rest % pl->bands_run) * pl->nparity + pl->parity;
    rest /= pl->bands_run;
    int64_t gi = rest % G->g, b = rest / G->g;
    if (bi >= G->nbands)
        return;
    const float *dyg = pl->dy + (b * s->oc + gi * G->m) * G->p;
    float *dxg = pl->dx + (b * s->c + gi * G->cg) * G->hw;
    const float *a_base = pl->wt + gi * G->wt_group + j * G->rblk * G->m;
    int64_t k0 = j * G->cb * G->khw;
    int64_t nrows = min64(G->cb, G->cg - j * G->cb) * G->khw;
    int64_t p0 = bi * G->band * G->ow, p1 = min64(G->oh, (bi + 1) * G->band) * G->ow;
    float *bbuf = pl->work + (int64_t)worker * G->dx_worker;
    float *dcol = bbuf + G->kcx * G->ncb;
    ypr_matrix_src ms = {dyg, G->p, G->p};
    for (int64_t n0 = p0; n0 < p1; n0 += G->ncb) {
        int64_t nc = min64(G->ncb, p1 - n0);
        float *c = G->direct ? dxg + k0 * G->hw + n0 : dcol;
        int64_t ldc = G->direct ? G->hw : G->ncb;
        int acc0 = G->direct && pl->accumulate;
        for (int64_t pc = 0; pc < G->m; pc += G->kcx) {
            int64_t kc = min64(G->kcx, G->m - pc);
            ypr__pack_b_matrix(&ms, pc, kc, n0, nc, nr, bbuf);
            for (int64_t i = 0; i < nrows; i += mr) {
                const float *a = a_base + i * G->m + pc * mr;
                int rows = (int)min64(mr, nrows - i);
                for (int64_t jj = 0; jj < nc; jj += nr)
                    kt->gemm_ukernel(kc, a, bbuf + jj * kc, c + i * ldc + jj, ldc, rows,
                                     (int)min64(nr, nc - jj), acc0 || pc > 0);
            }
        }
        if (!G->direct)
            col2im(kt, s, G, dcol, G->ncb, k0, nrows, n0, nc, dxg);
    }
}

typedef struct zero_ctx { float *p; int64_t plane; } zero_ctx;

static void zero_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const zero_ctx *z = ctx;
    memset(z->p + t * z->plane, 0, (size_t)z->plane * sizeof(float));
}

/* What both backward convs start with, once the shape is checked: its
 * geometry, and scratch (allocated into *own when the caller gave none). */
static int bwd_begin(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                     int64_t oh, int64_t ow, bwd_geo *G, float **scratch, float **own)
{
    geo_of(kt, s, oh, ow, G);
    *own = NULL;
    if (!*scratch) {
        int64_t n = ypr__conv_bwd_scratch_floats(kt, s, ypr__pool_size(pool));
        *own = ypr__alloc((size_t)n * sizeof(float));
        if (!*own)
            return YPR_ENOMEM;
        *scratch = *own;
    }
    return YPR_OK;
}

int ypr__conv2d_bwd_data(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const float *dy, const float *w, float *dx, int accumulate,
                         float *scratch)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!kt || !dy || !w || !dx, YPR_EINVAL, "conv2d backward (data): NULL pointer");
    bwd_geo G;
    float *own;
    TRY(bwd_begin(kt, pool, s, oh, ow, &G, &scratch, &own));
    ypr_conv_shape t;
    if (wino_dx(kt, s, oh, ow, ypr__pool_size(pool), &t)) {
        int rc = bwd_data_wino(kt, pool, s, &t, dy, w, dx, accumulate, scratch);
        ypr__free(own);
        return rc;
    }
    float *wt = scratch;
    pack_wt(&G, kt, w, wt);
    dx_plan pl = {kt, s, &G, dy, wt, dx, scratch + cdiv(G.g * G.wt_group, 16) * 16,
                  accumulate, 0, 1, G.nbands};
    if (G.direct) {
        ypr__pool_run(pool, s->n * G.g * G.nbands * G.nblk, dx_task, &pl);
    } else {
        if (!accumulate) {
            zero_ctx z = {dx, G.hw};
            ypr__pool_run(pool, s->n * s->c, zero_task, &z);
        }
        pl.nparity = G.nbands > 1 ? 2 : 1;
        for (int par = 0; par < pl.nparity; par++) {
            pl.parity = par;
            pl.bands_run = cdiv(G.nbands - par, pl.nparity);
            if (pl.bands_run > 0)
                ypr__pool_run(pool, s->n * G.g * pl.bands_run * G.nblk, dx_task, &pl);
        }
    }
    ypr__free(own);
    return YPR_OK;
}

/* ------------------------------------------------------------------ dW */

typedef struct dw_plan {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const bwd_geo *G;
    const float *x, *dy;
    float *dw, *work;
    int64_t mb, kb, mtiles, ktiles;
    int64_t b;                  /* planes: the image being added */
} dw_plan;

typedef void (*dot_fn)(int64_t, const float *, int64_t, const float *const *, float *, int64_t,
                       int64_t, int64_t);

static void dw_task(void *ctx, int64_t task, int worker)
{
    const dw_plan *pl = ctx;
    const ypr_ktable *kt = pl->kt;
    const ypr_conv_shape *s = pl->s;
    const bwd_geo *G = pl->G;
    ypr_pack_b_fn im2col = kt->pack_b_im2col ? kt->pack_b_im2col : ypr__pack_b_im2col_ref;
    dot_fn dot = kt->dot_block ? kt->dot_block : ypr__dot_block_ref;
    const float *rows[DW_KB];
    int64_t ki = task % pl->ktiles, mi = (task / pl->ktiles) % pl->mtiles;
    int64_t gi = task / (pl->ktiles * pl->mtiles);
    int64_t m0 = mi * pl->mb, m1 = min64(G->m, m0 + pl->mb);
    int64_t k0 = ki * pl->kb, k1 = min64(G->k, k0 + pl->kb);
    float *tmp = pl->work + (int64_t)worker * G->dw_worker;
    float *dwg = pl->dw + gi * G->m * G->k;
    for (int64_t b = 0; b < s->n; b++) {
        const float *dyg = pl->dy + (b * s->oc + gi * G->m) * G->p;
        const float *xg = pl->x + (b * s->c + gi * G->cg) * G->hw;
        ypr_im2col_src is = {xg, s->h, s->w, G->oh, G->ow, s->kh, s->kw, s->sh, s->sw,
                             s->ph, s->pw, s->dh, s->dw};
        const int64_t step = G->direct ? DW_PC : DW_PC_IM2COL;
        for (int64_t p0 = 0; p0 < G->p; p0 += step) {
            int64_t pc = min64(step, G->p - p0);
            /* the rows of the next depth block, too many streams for the
             * hardware prefetcher */
            int64_t pn = min64(step, G->p - p0 - pc);
            for (int64_t i = m0; i < m1; i++)
                for (int64_t q = 0; q < pn; q += 16)
                    __builtin_prefetch(dyg + i * G->p + p0 + pc + q, 0, 3);
            if (G->direct) {
                for (int64_t j = k0; j < k1; j++) {
                    for (int64_t q = 0; q < pn; q += 16)
                        __builtin_prefetch(xg + j * G->hw + p0 + pc + q, 0, 3);
                    rows[j - k0] = xg + j * G->hw + p0;
                }
            } else {
                im2col(&is, k0, k1 - k0, p0, pc, DW_PC_IM2COL, tmp);
                for (int64_t j = k0; j < k1; j++)
                    rows[j - k0] = tmp + (j - k0) * DW_PC_IM2COL;
            }
            dot(pc, dyg + m0 * G->p + p0, G->p, rows, dwg + m0 * G->k + k0, G->k, m1 - m0,
                k1 - k0);
        }
    }
}

/* Padded phase planes of image pl->b: task t < C splits input channel t
 * into its st² planes, plane (py, px) element (i, j) = x[st·i + py − ph,
 * st·j + px − pw] (0 outside the image and in the slack after hs·ws); task
 * C + o copies dy row block o with rows ws long, zeros past ow. */
static void dw_pad_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const dw_plan *pl = ctx;
    const ypr_conv_shape *s = pl->s;
    const bwd_geo *G = pl->G;
    float *xp = pl->work, *dyp = pl->work + s->c * G->st * G->st * G->plane;
    if (t >= s->c) {
        int64_t o = t - s->c;
        const float *src = pl->dy + (pl->b * s->oc + o) * G->p;
        float *dst = dyp + o * G->len;
        for (int64_t oy = 0; oy < G->oh; oy++) {
            memcpy(dst + oy * G->ws, src + oy * G->ow, (size_t)G->ow * sizeof(float));
            memset(dst + oy * G->ws + G->ow, 0, (size_t)(G->ws - G->ow) * sizeof(float));
        }
        return;
    }
    const float *x = pl->x + (pl->b * s->c + t) * G->hw;
    const int64_t st = G->st;
    for (int64_t py = 0; py < st; py++)
        for (int64_t px = 0; px < st; px++) {
            float *d = xp + ((t * st + py) * st + px) * G->plane;
            /* columns j with 0 ≤ st·j + px − pw < w */
            int64_t j0 = s->pw - px > 0 ? cdiv(s->pw - px, st) : 0;
            int64_t j1 = min64(G->ws, cdiv(s->w + s->pw - px, st));
            for (int64_t i = 0; i < G->hs; i++) {
                float *r = d + i * G->ws;
                int64_t iy = st * i + py - s->ph;
                if (iy < 0 || iy >= s->h || j1 <= j0) {
                    memset(r, 0, (size_t)G->ws * sizeof(float));
                    continue;
                }
                const float *xr = x + iy * s->w + st * j0 + px - s->pw;
                memset(r, 0, (size_t)j0 * sizeof(float));
                if (st == 1)
                    memcpy(r + j0, xr, (size_t)(j1 - j0) * sizeof(float));
                else
                    for (int64_t j = j0; j < j1; j++)
                        r[j] = xr[(j - j0) * st];
                memset(r + j1, 0, (size_t)(G->ws - j1) * sizeof(float));
            }
            memset(d + G->hs * G->ws, 0, (size_t)(G->plane - G->hs * G->ws) * sizeof(float));
        }
}

/* One tile of dW, image pl->b, from the padded planes: for output position
 * q = oy·ws + ox, tap (ky, kx) reads padded input (st·oy + ky, st·ox + kx),
 * element (oy + ky/st, ox + kx/st) of phase plane (ky % st, kx % st): one
 * stretch of len floats from (ky/st)·ws + kx/st. Positions ox ≥ ow read
 * whatever follows (inside the plane and its slack) against dy's zero
 * padding: exact for finite inputs; an infinite input value can turn such a
 * 0·x into NaN in a tap that never reads it (its forward is not finite
 * either, and the trainer stops on a non-finite loss). */
static void dw_planes_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const dw_plan *pl = ctx;
    const ypr_conv_shape *s = pl->s;
    const bwd_geo *G = pl->G;
    dot_fn dot = pl->kt->dot_block ? pl->kt->dot_block : ypr__dot_block_ref;
    int64_t ki = task % pl->ktiles, mi = (task / pl->ktiles) % pl->mtiles;
    int64_t gi = task / (pl->ktiles * pl->mtiles);
    int64_t m0 = mi * pl->mb, m1 = min64(G->m, m0 + pl->mb);
    int64_t k0 = ki * pl->kb, k1 = min64(G->k, k0 + pl->kb);
    const int64_t st = G->st;
    const float *xp = pl->work, *dyp = pl->work + s->c * st * st * G->plane;
    const float *base[DW_KB];
    for (int64_t j = k0; j < k1; j++) {
        int64_t ci = j / G->khw, ky = (j % G->khw) / s->kw, kx = j % s->kw;
        base[j - k0] = xp + (((gi * G->cg + ci) * st + ky % st) * st + kx % st) * G->plane +
                       (ky / st) * G->ws + kx / st;
    }
    const float *a = dyp + (gi * G->m + m0) * G->len;
    float *c = pl->dw + (gi * G->m + m0) * G->k + k0;
    const float *rows[DW_KB];
    for (int64_t p0 = 0; p0 < G->len; p0 += DW_PC) {
        int64_t pc = min64(DW_PC, G->len - p0);
        for (int64_t j = 0; j < k1 - k0; j++)
            rows[j] = base[j] + p0;
        dot(pc, a + p0, G->len, rows, c, G->k, m1 - m0, k1 - k0);
    }
}

typedef struct db_ctx {
    const ypr_conv_shape *s;
    const float *dy;
    float *db;
    int64_t p, per;
} db_ctx;

static void db_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const db_ctx *c = ctx;
    for (int64_t o = t * c->per; o < min64(c->s->oc, (t + 1) * c->per); o++) {
        double acc = 0.0;
        for (int64_t b = 0; b < c->s->n; b++) {
            const float *r = c->dy + (b * c->s->oc + o) * c->p;
            float part[8] = {0};
            int64_t q = 0;
            for (; q + 8 <= c->p; q += 8)
                for (int l = 0; l < 8; l++)
                    part[l] += r[q + l];
            double sb = 0.0;
            for (int l = 0; l < 8; l++)
                sb += part[l];
            for (; q < c->p; q++)
                sb += r[q];
            acc += sb;
        }
        c->db[o] = (float)((double)c->db[o] + acc);
    }
}

int ypr__conv2d_bwd_weight(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                           const float *x, const float *dy, float *dw, float *db,
                           float *scratch)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!kt || !x || !dy || !dw, YPR_EINVAL, "conv2d backward (weight): NULL pointer");
    bwd_geo G;
    float *own;
    TRY(bwd_begin(kt, pool, s, oh, ow, &G, &scratch, &own));
    int workers = ypr__pool_size(pool);
    /* Smaller tiles where there are too few for the workers: the per-element
     * sums do not depend on the tiling. */
    dw_plan pl = {kt, s, &G, x, dy, dw, scratch, G.mb, G.kb, 0, 0, 0};
    for (;;) {
        pl.mtiles = cdiv(G.m, pl.mb);
        pl.ktiles = cdiv(G.k, pl.kb);
        if (workers == 1 || G.g * pl.mtiles * pl.ktiles >= 4 * workers)
            break;
        if (pl.kb > 32)
            pl.kb = cdiv(pl.kb / 2, 4) * 4;
        else if (pl.mb > 24)
            pl.mb = cdiv(pl.mb / 2, 6) * 6;
        else
            break;
    }
    if (G.planes) {
        /* image by image: pad, then every tile adds the image's share */
        for (pl.b = 0; pl.b < s->n; pl.b++) {
            ypr__pool_run(pool, s->c + s->oc, dw_pad_task, &pl);
            ypr__pool_run(pool, G.g * pl.mtiles * pl.ktiles, dw_planes_task, &pl);
        }
    } else {
        ypr__pool_run(pool, G.g * pl.mtiles * pl.ktiles, dw_task, &pl);
    }
    if (db) {
        db_ctx c = {s, dy, db, G.p, max64(1, cdiv(s->oc, 8 * workers))};
        ypr__pool_run(pool, cdiv(s->oc, c.per), db_task, &c);
    }
    ypr__free(own);
    return YPR_OK;
}

/* ---------------------------------------------------------- references */

int ypr__conv2d_bwd_data_ref(const ypr_conv_shape *s, const float *dy, const float *w,
                             float *dx)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!dy || !w || !dx, YPR_EINVAL, "conv2d backward (data) reference: NULL pointer");
    const int64_t g = s->groups, m = s->oc / g, cg = s->c / g;
    /* dx[b, c, iy, ix] = Σ over (o, ky, kx) whose window position lands on it */
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t c = 0; c < s->c; c++) {
            int64_t gi = c / cg, ci = c % cg;
            for (int64_t iy = 0; iy < s->h; iy++)
                for (int64_t ix = 0; ix < s->w; ix++) {
                    double acc = 0.0;
                    for (int64_t ky = 0; ky < s->kh; ky++) {
                        int64_t ty = iy + s->ph - ky * s->dh;
                        if (ty < 0 || ty % s->sh || ty / s->sh >= oh)
                            continue;
                        for (int64_t kx = 0; kx < s->kw; kx++) {
                            int64_t tx = ix + s->pw - kx * s->dw;
                            if (tx < 0 || tx % s->sw || tx / s->sw >= ow)
                                continue;
                            for (int64_t mo = 0; mo < m; mo++) {
                                int64_t o = gi * m + mo;
                                acc += (double)dy[((b * s->oc + o) * oh + ty / s->sh) * ow +
                                                  tx / s->sw] *
                                       (double)w[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                            }
                        }
                    }
                    dx[((b * s->c + c) * s->h + iy) * s->w + ix] = (float)acc;
                }
        }
    return YPR_OK;
}

int ypr__conv2d_bwd_weight_ref(const ypr_conv_shape *s, const float *x, const float *dy,
                               float *dw, float *db)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!x || !dy || !dw, YPR_EINVAL, "conv2d backward (weight) reference: NULL pointer");
    const int64_t g = s->groups, m = s->oc / g, cg = s->c / g;
    for (int64_t o = 0; o < s->oc; o++) {
        int64_t gi = o / m;
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t ky = 0; ky < s->kh; ky++)
                for (int64_t kx = 0; kx < s->kw; kx++) {
                    double acc = 0.0;
                    for (int64_t b = 0; b < s->n; b++)
                        for (int64_t oy = 0; oy < oh; oy++) {
                            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                            if (iy < 0 || iy >= s->h)
                                continue;
                            for (int64_t ox = 0; ox < ow; ox++) {
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (ix < 0 || ix >= s->w)
                                    continue;
                                acc += (double)x[((b * s->c + gi * cg + ci) * s->h + iy) *
                                                     s->w + ix] *
                                       (double)dy[((b * s->oc + o) * oh + oy) * ow + ox];
                            }
                        }
                    float *d = &dw[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                    *d = (float)((double)*d + acc);
                }
        if (db) {
            double acc = 0.0;
            for (int64_t b = 0; b < s->n; b++)
                for (int64_t q = 0; q < oh * ow; q++)
                    acc += dy[(b * s->oc + o) * oh * ow + q];
            db[o] = (float)((double)db[o] + acc);
        }
    }
    return YPR_OK;
}
