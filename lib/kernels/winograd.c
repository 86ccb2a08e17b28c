/* Winograd F(4×4, 3×3) for 3×3 stride-1 convs: each 6×6 input tile d and
 * 3×3 filter g give a 4×4 output tile Aᵀ[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]A, 36
 * multiplications per input channel instead of 144 — the element-wise
 * products summed over channels are 36 independent GEMMs
 *     M_k [OC × tiles] = U_k [OC × C] · V_k [C × tiles],  k < 36,
 * run as one batch of jobs on the packed GEMM driver (gemm.c). U is
 * transformed and packed once per plan; V (the input transform) and M (the
 * products, then the output transform with the conv's epilogue) live in a
 * workspace of a bounded size: the tiles are taken a few tile rows at a time,
 * so V and M stay in the outer caches. The transforms are the ISA's
 * (kt->wino4_in / wino4_out, written once in winograd_vec.h).
 *
 * Error: the transforms' constants (up to 8 in Aᵀ, 1/24 in G) make the
 * rounding error grow with the tile; for F(4×4, 3×3) it is a few float ulps
 * of Σ|x·w| (tests/test_winograd.c states the bound it checks). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

enum { WT = 6, WK = 36 };   /* transformed tile side, values per tile */

/* V and M of one chunk of tile rows, in floats (8 MB): large enough to keep
 * the GEMMs' columns long and to read U few times, small enough to stay in
 * L3. Measured on 3×3 64→64 @160² … 512→512 @20², two threads: 1 M, 4 M and
 * 16 M floats within noise of each other, 256 K 1.4–2.4× slower. */
#define WINO_CHUNK_FLOATS ((int64_t)1 << 21)

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

int64_t ypr__wino4_row_floats(int vl, int64_t nt)
{
    int64_t width = 4 * vl * ceil_div(nt, vl) + 4;
    return ceil_div(width, vl) * vl;
}

int64_t ypr__wino2_row_floats(int vl, int64_t nt)
{
    int64_t width = 2 * vl * ceil_div(nt, vl) + 2;
    return ceil_div(width, vl) * vl;
}

int ypr__wino_eligible(const ypr_conv_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 &&
           s->groups == 1 && s->ph <= 2 && s->pw <= 2 && s->h + 2 * s->ph >= 3 &&
           s->w + 2 * s->pw >= 3;
}

/* Measured on AVX2 (docs/simd.md, "Winograd"): every YOLOv7 3×3 stride-1
 * layer from 32→32 @160² to 512→1024 @13² ran in 0.35–0.75 of the GEMM
 * path's time on one and two threads alike; 16→16 layers were mixed
 * (0.6–1.0) and the transforms dominate below. On AVX-512 (Zen 5), in the
 * model, the 13² layers of yolov7 @416 ran in 0.65–0.79 of Winograd's time
 * on the GEMM path (two threads): 16 tiles compute 16² outputs for 13²
 * (66 % of them used) and U is 4× the size of the weights, read from memory
 * on every pass. So Winograd also needs its tiles to cover the output with
 * at least 75 % of what they compute (20², 26², 40², 52²… yes; 13², 10²
 * no). The rule does not depend on the thread count, so results do not. */
int ypr__wino_pays(const ypr_ktable *kt, const ypr_conv_shape *s, int threads)
{
    (void)kt;
    (void)threads;
    int64_t oh = s->h + 2 * s->ph - 2, ow = s->w + 2 * s->pw - 2;
    int64_t covered = 16 * ceil_div(oh, 4) * ceil_div(ow, 4);   /* outputs the tiles compute */
    return ypr__wino_eligible(s) && s->c >= 16 && s->oc >= 16 && s->c * s->oc >= 32 * 32 &&
           oh >= 8 && ow >= 8 && 4 * oh * ow >= 3 * covered;
}

int64_t ypr__wino_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return WK * ypr__gemm_packed_a_floats(kt, s->oc, s->c);
}

/* G of F(4, 3) (6×3). */
static const double wino_g[WT][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

/* U_k = (G·g·Gᵀ)[k / 6][k % 6] in double, rounded once, written straight
 * into the ypr__gemm_pack_a layout of each of the 36 [OC × C] matrices. */
void ypr__wino_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst)
{
    const int mr = kt->mr;
    const int64_t c = s->c, per = ypr__gemm_packed_a_floats(kt, s->oc, c);
    memset(dst, 0, (size_t)(WK * per) * sizeof(float));
    for (int64_t o = 0; o < s->oc; o++)
        for (int64_t ci = 0; ci < c; ci++) {
            const float *g = w + (o * c + ci) * 9;
            double t[WT][3];
            for (int i = 0; i < WT; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = wino_g[i][0] * g[j] + wino_g[i][1] * g[3 + j] +
                              wino_g[i][2] * g[6 + j];
            float *at = dst + (o / mr) * mr * c + ci * mr + o % mr;
            for (int i = 0; i < WT; i++)
                for (int j = 0; j < WT; j++)
                    at[(i * WT + j) * per] = (float)(t[i][0] * wino_g[j][0] +
                                                     t[i][1] * wino_g[j][1] +
                                                     t[i][2] * wino_g[j][2]);
        }
}

typedef struct wino_geom {
    int64_t oh, ow, th, tw;   /* output size, tile rows and columns per image */
    int64_t rows;             /* tile rows over the batch: n·th */
    int64_t chunk;            /* tile rows per chunk */
    int64_t ldd;              /* row stride of the per-worker input rows */
    int64_t nb;               /* fused path: tiles per block (0: the chunked path) */
    int64_t tiles;            /* n·th·tw */
    int64_t nbc;              /* the fused path's block, were it chosen */
    int64_t nbs;              /* … and its block when it splits the output channels */
    int64_t ldb;              /* fused: row stride of a block's V and M (≥ nb) */
    int64_t nvb;              /* fused: most columns of a block's V and M (≥ nb) */
    int parts;                /* fused: output-channel parts per block */
    int direct;               /* fused: V's rows are nr apart, the GEMMs' packed B */
    int vrow;                 /* fused: a block's tile rows joined in one virtual row */
    int narrow;               /* fused, direct: V's rows are nrn apart (kt->nrn) */
    int t, wt, wk;            /* output tile side (4 or 2), input tile side, products */
} wino_geom;

/* wino4_in / wino2_in's row stride for nt tiles */
static int64_t row_floats(const wino_geom *g, int vl, int64_t nt)
{
    return g->t == 4 ? ypr__wino4_row_floats(vl, nt) : ypr__wino2_row_floats(vl, nt);
}

static void geom(const ypr_ktable *kt, const ypr_conv_shape *s, wino_geom *g, int t)
{
    g->t = t;
    g->wt = t + 2;
    g->wk = g->wt * g->wt;
    g->oh = s->h + 2 * s->ph - 2;
    g->ow = s->w + 2 * s->pw - 2;
    g->th = ceil_div(g->oh, t);
    g->tw = ceil_div(g->ow, t);
    g->rows = s->n * g->th;
    g->chunk = WINO_CHUNK_FLOATS / (WK * (s->c + s->oc) * g->tw);
    if (g->chunk < 1)
        g->chunk = 1;
    if (g->chunk > g->rows)
        g->chunk = g->rows;
    g->ldd = ceil_div(row_floats(g, kt->vl, g->tw), 16) * 16;
    g->tiles = g->rows * g->tw;
    g->nbc = ceil_div(64, kt->nr) * kt->nr;
    g->nbs = g->tiles < 4 * g->nbc ? g->tiles : 4 * g->nbc;
    g->nb = 0;
    g->ldb = 0;
    g->nvb = 0;
    g->parts = 1;
    g->direct = 0;
    g->vrow = 0;
    g->narrow = 0;
}

/* Virtual rows. The transforms put tiles in vector lanes along one tile row:
 * a row of tw tiles fills ceil(tw / vl) vectors, 7 of 16 lanes at 26² on
 * AVX-512. A fused block that spans several tile rows instead joins its
 * segments (the runs of its tiles within one tile row) into one virtual row:
 * segment s starts at virtual tile voff_s = Σ (ns + 1) of the segments before
 * it, 4·voff_s floats into the copied input rows, so each keeps the
 * stride-4 phase its tiles need. The virtual tile between two segments reads
 * the two columns past one segment and the two before the next: a value
 * computed and thrown away (its V and M columns ride along in the GEMMs'
 * vectors). The output transform (wino4_out_segs) stores each segment's
 * lanes straight into its own output rows. Block of nb tiles: at most
 * nb + ceil((nb − 1) / tw) virtual tiles. */
enum { WINO_MAX_SEGS = 160 };   /* segments of a virtual row (vrow_pays checks) */

static int64_t vtiles_max(const wino_geom *g, int64_t nb)
{
    return nb + (nb > 1 ? ceil_div(nb - 1, g->tw) : 0);
}

/* Taken where a block of nb tiles from a tile row's start needs fewer
 * vectors of lanes as one virtual row than segment by segment. */
static int vrow_pays(const ypr_ktable *kt, const wino_geom *g, int64_t nb)
{
    int64_t per_seg = 0, segs = 0;
    for (int64_t t = 0; t < nb; t += g->tw, segs++)
        per_seg += ceil_div(nb - t < g->tw ? nb - t : g->tw, kt->vl);
    return segs > 1 && vtiles_max(g, nb) - nb + 1 <= WINO_MAX_SEGS &&
           ceil_div(nb + segs - 1, kt->vl) < per_seg;
}

/* The path per shape and pool. Measured on AVX-512 Zen 5 with virtual rows,
 * the narrow panel and the skewed matrices (session 11: every YOLOv7
 * Winograd shape at 416 and 640, the choices alternated call by call in one
 * process, medians of 9–11 rounds on two threads, 15 on one; docs/simd.md,
 * "Winograd"):
 * 0  chunked: tile rows in chunks, transforms and the 36 GEMMs each spread
 *    over the pool: two workers or more where neither fused path is taken
 *    (256→256 @52²: within 3 % of the fused blocks);
 * 1  fused blocks: a worker takes blocks of at most nbc tiles (the smallest
 *    multiple of the micro-tile width from 64 on), as many blocks per worker,
 *    through all three stages in its own buffers. Always on one worker
 *    (0.70–0.97 of the chunked path's time from 20² to 160² maps); on two,
 *    where the block reuses U enough, 3·C·OC ≤ 8192 per tile of the block,
 *    and the split is not taken (26²–80² maps up to 128→256: 0.7–0.95 of the
 *    chunked path);
 * 2  fused split: every worker transforms all tiles and computes its share
 *    of the output channels (reads its share of U), below 32 tiles or where
 *    C·OC ≥ 1024 per tile (20² maps; 256→256, 512→256 and 256→512 @26²,
 *    256→512 @40²: 0.84–0.94 of the best other path).
 * YPR_WINO_FUSED=0|1|2 forces a path (A/B runs). */
/* A one-digit switch from the environment, read once per process (not on
 * every conv call) into *cache: its digit, or −1 when unset or anything
 * else. */
static int env_digit(_Atomic int *cache, const char *name)
{
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v == -2) {
        const char *e = getenv(name);
        v = e && e[0] >= '0' && e[0] <= '9' && !e[1] ? e[0] - '0' : -1;
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}

/* YPR_WINO_FUSED: 0, 1 or 2, or −1. */
static int forced_path(void)
{
    static _Atomic int cached = -2;
    int v = env_digit(&cached, "YPR_WINO_FUSED");
    return v <= 2 ? v : -1;
}

/* YPR_WINO_VROW=0 turns virtual rows off (A/B runs). */
static int forced_vrow(void)
{
    static _Atomic int cached = -2;
    return env_digit(&cached, "YPR_WINO_VROW") != 0;
}

static void choose_path(const ypr_ktable *kt, const ypr_conv_shape *s, wino_geom *g, int workers,
                        int path)
{
    const int forced = path >= 0 ? path : forced_path();
    const int64_t panels = ceil_div(s->oc, kt->mr);
    const int64_t per = ceil_div(g->tiles, workers), nbb = ceil_div(per, ceil_div(per, g->nbc));
    const int split = (g->tiles < 32 || s->c * s->oc >= 1024 * g->tiles) &&
                      panels >= 2 * (int64_t)workers;
    int mode = workers <= 1 ? 1 : split ? 2 : 3 * s->c * s->oc <= 8192 * nbb ? 1 : 0;
    if (g->t == 2)   /* F(2×2): small maps, the split (every worker half of U) */
        mode = workers > 1 && panels >= 2 * (int64_t)workers ? 2 : 1;
    if (forced >= 0)
        mode = forced;
    if (mode == 2 && panels < workers)
        mode = 0;
    if (g->t == 2 && mode == 0)   /* no chunked F(2×2) */
        mode = 1;
    /* fused blocks: at most nbc tiles, the same number for every worker */
    g->nb = mode == 1 ? nbb : mode == 2 ? g->nbs : 0;
    g->parts = mode == 2 ? workers : 1;
    g->vrow = g->nb && vrow_pays(kt, g, g->nb) && forced_vrow() != 0;
    if (g->t == 2 && g->nb) {   /* F(2×2) runs its blocks as virtual rows only */
        if (g->nb > g->tw * (WINO_MAX_SEGS - 2))
            g->nb = g->tw * (WINO_MAX_SEGS - 2);
        g->vrow = 1;
    }
    g->nvb = g->vrow ? vtiles_max(g, g->nb) : g->nb;
    g->ldb = ceil_div(g->nvb, 16) * 16;
    /* A block of at most one panel whose V rows are nr apart is already in
     * the packed layout: the GEMMs read it as it is, without copying it into
     * panels. Rows are spread to nr apart for up to 64 input channels (in
     * yolov7-tiny @416 those layers ran in 0.85–0.97 of the time, two
     * threads; with 128 channels at 26² the doubled V and M lost 2–18 %). */
    g->direct = g->nb && g->nvb <= kt->nr && (g->ldb == kt->nr || s->c <= 64);
    if (g->direct)
        g->ldb = kt->nr;
    /* A block of at most nrn columns goes to the narrow-panel micro-kernel
     * as it is, at any channel count. */
    g->narrow = g->nb && kt->gemm_ukernel_narrow && g->nvb <= kt->nrn;
    if (g->narrow) {
        g->direct = 1;
        g->ldb = kt->nrn;
    }
}

/* Row stride of V and M in the chunked path: whole cache lines, so that two
 * workers writing neighbouring channels' rows (input transform) or parts of
 * one row (a GEMM split by columns) share no line. */
static int64_t ldp(int64_t tiles)
{
    return ceil_div(tiles, 16) * 16;
}

/* The 36 matrices of a fused block's V and M are one cache line further
 * apart than their size: at C·ldb = 32·64 floats (8 KiB) the transforms' 36
 * loads and stores of one tile vector all fell in one L1 set. Alone, two
 * threads: 64→64 @26² and 32→32 @52² took 0.78–0.80 of their time; whole
 * passes 0.95–0.97 (docs/simd.md). The chunked path's matrices likewise. */
enum { WINO_SKEW = 16 };

static int64_t fused_ldd(const wino_geom *g, int64_t nb, int vl)
{
    int64_t v = ceil_div(row_floats(g, vl, vtiles_max(g, nb)), 16) * 16;
    return v > g->ldd ? v : g->ldd;
}

/* Per worker: the input rows (of a virtual row: stride fused_ldd), then V
 * and M of a block of at most nb tiles (vtiles_max columns, whole vectors),
 * skewed. */
static int64_t fused_worker_floats(const ypr_conv_shape *s, const wino_geom *g, int64_t nb,
                                   int vl)
{
    int64_t ldb = ceil_div(vtiles_max(g, nb), 16) * 16;
    if (ldb < nb)
        ldb = nb;
    return ceil_div(g->wt * fused_ldd(g, nb, vl) +
                    g->wk * ((s->c + s->oc) * ldb + 2 * WINO_SKEW) + 64, 16) * 16;
}

/* V, then M (plus a vector of slack: wino4_out reads whole vectors), then
 * six input rows per worker. */
static int64_t ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, const wino_geom *g,
                         int workers)
{
    int64_t p = ldp(g->chunk * g->tw);
    int64_t chunked = g->t != 4 ? 0 : WK * (s->c * p + s->oc * p + 2 * WINO_SKEW) + 64 +
                                          (int64_t)workers * WT * g->ldd;
    /* fused: per worker its input rows, V and M of one block (plus slack) */
    int64_t nbmax = ceil_div(g->nbc > g->nbs ? g->nbc : g->nbs, 16) * 16;
    int64_t fused = (int64_t)workers * fused_worker_floats(s, g, nbmax, kt->vl);
    return chunked > fused ? chunked : fused;
}

int64_t ypr__wino_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers)
{
    wino_geom g;
    geom(kt, s, &g, 4);
    choose_path(kt, s, &g, workers, -1);
    return ws_floats(kt, s, &g, workers);
}

typedef struct wino_run {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const wino_geom *g;
    const float *x;
    const ypr_epilogue *ep;
    float *y, *v, *m, *rowbuf;
    int64_t r0, nr;           /* this chunk: tile rows r0 … r0 + nr − 1 */
} wino_run;

/* The six input rows (row stride g->ldd, len floats each, zeros outside the
 * image) that tile row ty reads from tile column tx on, into d. */
static void tile_rows(const ypr_conv_shape *s, const wino_geom *g, const float *plane,
                      int64_t ty, int64_t tx, int64_t len, float *d)
{
    for (int i = 0; i < WT; i++) {
        int64_t iy = 4 * ty - s->ph + i;
        if (iy < 0 || iy >= s->h)
            memset(d + i * g->ldd, 0, (size_t)len * sizeof(float));
        else
            ypr__gather_row(plane + iy * s->w, s->w, 4 * tx - s->pw, 1, len, d + i * g->ldd);
    }
}

/* Task (channel): for each tile row of the chunk, copy the six input rows
 * the row of tiles reads (zeros outside the image) and transform them into
 * V. One task per channel, not per (channel, tile row): a channel's V rows
 * are contiguous, and two workers writing neighbouring tile rows shared
 * their boundary cache lines in all 36 matrices (on AVX-512 Zen 5, two
 * threads ran the Winograd layers no faster than one). */
static void in_task(void *ctx, int64_t ci, int worker)
{
    const wino_run *w = ctx;
    const ypr_conv_shape *s = w->s;
    const wino_geom *g = w->g;
    const int64_t p = ldp(w->nr * g->tw);
    float *d = w->rowbuf + (int64_t)worker * WT * g->ldd;
    for (int64_t r = 0; r < w->nr; r++) {
        const int64_t gr = w->r0 + r, b = gr / g->th, ty = gr % g->th;
        tile_rows(s, g, w->x + (b * s->c + ci) * s->h * s->w, ty, 0, g->ldd, d);
        w->kt->wino4_in(d, g->ldd, (int)g->tw, w->v + ci * p + r * g->tw,
                        s->c * p + WINO_SKEW);
    }
}

/* Task (output channel): M → the chunk's output rows, with the epilogue
 * (one task per channel, as in_task). */
static void out_task(void *ctx, int64_t o, int worker)
{
    (void)worker;
    const wino_run *w = ctx;
    const ypr_conv_shape *s = w->s;
    const wino_geom *g = w->g;
    const int64_t p = ldp(w->nr * g->tw);
    const ypr_epilogue *ep = w->ep;
    float scale = ep && ep->scale ? ep->scale[o] : 1.0f;
    float bias = ep && ep->bias ? ep->bias[o] : 0.0f;
    for (int64_t r = 0; r < w->nr; r++) {
        const int64_t gr = w->r0 + r, b = gr / g->th, ty = gr % g->th;
        int rows = g->oh - 4 * ty < 4 ? (int)(g->oh - 4 * ty) : 4;
        float *y = w->y + ((b * s->oc + o) * g->oh + 4 * ty) * g->ow;
        w->kt->wino4_out(w->m + o * p + r * g->tw, s->oc * p + WINO_SKEW, (int)g->tw, y, g->ow,
                         rows, g->ow, scale, bias, ep ? ep->act : YPR_ACT_IDENTITY,
                         ep ? ep->alpha : 0.0f);
    }
}

/* The chunked driver both entry points share: per chunk of tile rows, the
 * input transform, the WK GEMMs, then `out` per (output channel, tile row). */
static int drive(wino_run *w, ypr_pool *pool, const float *packed_u, int64_t per,
                 float *scratch, ypr_task_fn out)
{
    const ypr_conv_shape *s = w->s;
    const wino_geom *g = w->g;
    ypr_gemm_job jobs[WK];
    ypr_matrix_src ms[WK];
    int rc = YPR_OK;
    for (int64_t r0 = 0; r0 < g->rows && rc == YPR_OK; r0 += g->chunk) {
        w->r0 = r0;
        w->nr = g->rows - r0 < g->chunk ? g->rows - r0 : g->chunk;
        const int64_t n = w->nr * g->tw, p = ldp(n);
        ypr__pool_run(pool, s->c, in_task, w);
        for (int k = 0; k < WK; k++) {
            ms[k] = (ypr_matrix_src){w->v + k * (s->c * p + WINO_SKEW), p, n};
            jobs[k] = (ypr_gemm_job){s->oc, n, s->c, packed_u + k * per, ypr__pack_b_matrix,
                                     &ms[k], w->m + k * (s->oc * p + WINO_SKEW), p, NULL, 0, NULL,
                                     0, NULL, 0};
        }
        rc = ypr__gemm_run(w->kt, pool, jobs, WK, scratch);
        if (rc == YPR_OK)
            ypr__pool_run(pool, s->oc, out, w);
    }
    return rc;
}

/* ---- fused path: a worker takes a block of nb tiles through all three
 * stages in its own buffers (input rows, V and M of the block: L2-sized for
 * 64 channels), so that two workers share no cache line and V and M are
 * written and read while still in cache; the chunked path shares V and M
 * between the workers, whose input transform ran no faster on two threads
 * than on one on an AVX-512 Zen 5 VM. */
typedef struct wino_fused {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const wino_geom *g;
    const float *x, *packed_u;
    const ypr_epilogue *ep;
    float *y, *ws, *scratch;
    int64_t per, worker_floats, ldd, scratch_floats;
    int rc;
} wino_fused;

/* The segments of the block of tiles t0 … t0 + nb − 1, in order: segment
 * (b, ty, tx, ns) is ns tiles of tile row ty of image b from column tx on. */
typedef struct wino_seg {
    int64_t b, ty, tx, ns;
} wino_seg;

static int next_seg(const wino_geom *g, int64_t *t, int64_t end, wino_seg *sg)
{
    if (*t >= end)
        return 0;
    const int64_t gr = *t / g->tw;
    sg->tx = *t % g->tw;
    sg->b = gr / g->th;
    sg->ty = gr % g->th;
    sg->ns = g->tw - sg->tx < end - *t ? g->tw - sg->tx : end - *t;
    *t += sg->ns;
    return 1;
}

/* Input transform of a block as one virtual row (see vtiles_max): each
 * segment's T + 2 rows are copied T·voff floats in, with the two columns past
 * it (real input or zeros outside the image), the last one up to the width
 * the transform reads; V's matrices are vs floats apart. Returns the virtual
 * tiles. */
static int64_t vrow_in(const wino_fused *f, int64_t t0, int64_t nb, float *d, float *v,
                       int64_t nbk, int64_t vs)
{
    const ypr_conv_shape *s = f->s;
    const wino_geom *g = f->g;
    int64_t nvt = -1;
    wino_seg sg;
    for (int64_t t = t0; next_seg(g, &t, t0 + nb, &sg);)
        nvt += sg.ns + 1;
    const int T = g->t;
    const int64_t width = row_floats(g, f->kt->vl, nvt);
    for (int64_t ci = 0; ci < s->c; ci++) {
        int64_t voff = 0;
        for (int64_t t = t0; next_seg(g, &t, t0 + nb, &sg);) {
            const float *plane = f->x + (sg.b * s->c + ci) * s->h * s->w;
            const int64_t len = t < t0 + nb ? T * (sg.ns + 1) : width - T * voff;
            for (int i = 0; i < g->wt; i++) {
                const int64_t iy = T * sg.ty - s->ph + i;
                float *r = d + i * f->ldd + T * voff;
                if (iy < 0 || iy >= s->h)
                    memset(r, 0, (size_t)len * sizeof(float));
                else
                    ypr__gather_row(plane + iy * s->w, s->w, T * sg.tx - s->pw, 1, len, r);
            }
            voff += sg.ns + 1;
        }
        (T == 4 ? f->kt->wino4_in : f->kt->wino2_in)(d, f->ldd, (int)nvt, v + ci * nbk, vs);
    }
    return nvt;
}

/* The output transforms write a few short rows per channel, one plane
 * apart: no stream a hardware prefetcher follows, and on two threads many
 * of those lines were last written by the other core. So the lines of the
 * channel OUT_AHEAD on are fetched for writing before this one's transform
 * (yolov7-tiny @416, two threads: whole passes 0.96, 9 rounds; 2 channels
 * ahead 0.96 → 4 ahead 0.98 of that, 8 no better). */
enum { OUT_AHEAD = 4 };

static void prefetch_rows(const float *y, int rows, int64_t cols, int64_t ow)
{
    for (int r = 0; r < rows && cols > 0; r++) {
        for (int64_t c = 0; c < cols; c += 16)
            __builtin_prefetch(y + r * ow + c, 1, 3);
        __builtin_prefetch(y + r * ow + cols - 1, 1, 3);   /* a line the steps skipped */
    }
}

/* Output transform of a virtual row for output channels o0 … o1 − 1 (M's
 * matrices mst floats apart), each segment's tiles written to its own rows
 * by wino4_out_segs / wino2_out_segs. */
static void vrow_out(const wino_fused *f, int64_t t0, int64_t nb, int64_t nvt, const float *m,
                     int64_t nbk, int64_t mst, int64_t o0, int64_t o1)
{
    const ypr_conv_shape *s = f->s;
    const wino_geom *g = f->g;
    const ypr_epilogue *ep = f->ep;
    const int64_t plane = g->oh * g->ow;
    ypr_wino_seg seg[WINO_MAX_SEGS];
    int nseg = 0;
    int64_t voff = 0;
    wino_seg sg;
    const int T = g->t;
    for (int64_t t = t0; next_seg(g, &t, t0 + nb, &sg); nseg++) {
        seg[nseg].y = f->y + ((sg.b * s->oc + o0) * g->oh + T * sg.ty) * g->ow + T * sg.tx;
        seg[nseg].vt = (int)voff;
        seg[nseg].nt = (int)sg.ns;
        seg[nseg].rows = (int)(g->oh - T * sg.ty < T ? g->oh - T * sg.ty : T);
        seg[nseg].cols = (int)(g->ow - T * sg.tx < T * sg.ns ? g->ow - T * sg.tx : T * sg.ns);
        voff += sg.ns + 1;
    }
    void (*out)(const float *, int64_t, int, const ypr_wino_seg *, int, int64_t, float, float,
                int, float) = T == 4 ? f->kt->wino4_out_segs : f->kt->wino2_out_segs;
    for (int64_t o = o0; o < o1; o++) {
        if (o + OUT_AHEAD < o1)
            for (int q = 0; q < nseg; q++)
                prefetch_rows(seg[q].y + OUT_AHEAD * plane, seg[q].rows, seg[q].cols, g->ow);
        out(m + (o - o0) * nbk, mst, (int)nvt, seg, nseg, g->ow,
            ep && ep->scale ? ep->scale[o] : 1.0f, ep && ep->bias ? ep->bias[o] : 0.0f,
            ep ? ep->act : YPR_ACT_IDENTITY, ep ? ep->alpha : 0.0f);
        for (int q = 0; q < nseg; q++)
            seg[q].y += plane;
    }
}

static void fused_task(void *ctx, int64_t task, int worker)
{
    wino_fused *f = ctx;
    const ypr_ktable *kt = f->kt;
    const ypr_conv_shape *s = f->s;
    const wino_geom *g = f->g;
    const int64_t blk = task / g->parts, part = task % g->parts;
    const int64_t nbk = g->ldb, t0 = blk * g->nb;
    const int64_t nb = g->tiles - t0 < g->nb ? g->tiles - t0 : g->nb;
    /* this task's output channels: whole micro-panels of A */
    const int64_t panels = ceil_div(s->oc, kt->mr);
    const int64_t o0 = panels * part / g->parts * kt->mr;
    const int64_t o1p = panels * (part + 1) / g->parts * kt->mr, o1 = o1p < s->oc ? o1p : s->oc;
    const int64_t om = o1 - o0;
    if (om <= 0)
        return;
    float *d = f->ws + (int64_t)worker * f->worker_floats;
    const int64_t vs = s->c * nbk + WINO_SKEW, mst = om * nbk + WINO_SKEW;   /* matrix strides */
    float *v = d + g->wt * f->ldd, *m = v + g->wk * vs;
    int64_t ncol = nb;   /* V's and M's columns: tiles, or virtual tiles */
    if (g->vrow) {
        ncol = vrow_in(f, t0, nb, d, v, nbk, vs);
    } else {
        /* input transform, one tile-row segment at a time */
        wino_seg sg;
        for (int64_t t = t0, at = 0; next_seg(g, &t, t0 + nb, &sg); at += sg.ns) {
            const int64_t len = ypr__wino4_row_floats(kt->vl, sg.ns);
            for (int64_t ci = 0; ci < s->c; ci++) {
                tile_rows(s, g, f->x + (sg.b * s->c + ci) * s->h * s->w, sg.ty, sg.tx, len, d);
                kt->wino4_in(d, g->ldd, (int)sg.ns, v + ci * nbk + at, vs);
            }
        }
    }
    /* the 36 (16) products of the block for channels o0 … o1 − 1, on this worker alone */
    ypr_gemm_job jobs[WK];
    ypr_matrix_src ms[WK];
    for (int k = 0; k < g->wk; k++) {
        ms[k] = (ypr_matrix_src){v + k * vs, nbk, ncol};
        jobs[k] = (ypr_gemm_job){om, ncol, s->c, f->packed_u + k * f->per + o0 * s->c,
                                 ypr__pack_b_matrix, &ms[k], m + k * mst, nbk, NULL, 0,
                                 g->direct ? v + k * vs : NULL, g->narrow, NULL, 0};
    }
    int rc = ypr__gemm_run(kt, NULL, jobs, g->wk,
                           f->scratch + (int64_t)worker * f->scratch_floats);
    if (rc != YPR_OK) {
        f->rc = rc;   /* any worker's failure (the same code) is reported */
        return;
    }
    if (g->vrow) {
        vrow_out(f, t0, nb, ncol, m, nbk, mst, o0, o1);
        return;
    }
    /* output transform and epilogue */
    const ypr_epilogue *ep = f->ep;
    wino_seg sg;
    for (int64_t t = t0, at = 0; next_seg(g, &t, t0 + nb, &sg); at += sg.ns) {
        const int rows = g->oh - 4 * sg.ty < 4 ? (int)(g->oh - 4 * sg.ty) : 4;
        /* the segment's columns only: wino4_out writes whole vectors of
         * tiles while columns remain, which would reach the next block's */
        const int64_t cols = g->ow - 4 * sg.tx < 4 * sg.ns ? g->ow - 4 * sg.tx : 4 * sg.ns;
        for (int64_t o = o0; o < o1; o++) {
            float *y = f->y + ((sg.b * s->oc + o) * g->oh + 4 * sg.ty) * g->ow + 4 * sg.tx;
            if (o + OUT_AHEAD < o1)
                prefetch_rows(y + OUT_AHEAD * g->oh * g->ow, rows, cols, g->ow);
            kt->wino4_out(m + (o - o0) * nbk + at, mst, (int)sg.ns, y, g->ow, rows,
                          cols, ep && ep->scale ? ep->scale[o] : 1.0f,
                          ep && ep->bias ? ep->bias[o] : 0.0f,
                          ep ? ep->act : YPR_ACT_IDENTITY, ep ? ep->alpha : 0.0f);
        }
    }
}

int ypr__conv2d_wino(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                     const float *x, const float *packed_u, const ypr_epilogue *ep, float *y,
                     float *ws, float *scratch)
{
    return ypr__conv2d_wino_path(kt, pool, s, x, packed_u, ep, y, ws, scratch, -1);
}

/* F(t×t, 3×3), t = 4 or 2, on a given path (−1: the rule). */
static int conv_wino_t(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                       const float *x, const float *packed_u, const ypr_epilogue *ep, float *y,
                       float *ws, float *scratch, int path, int t)
{
    TRY(ypr__conv_check(s, NULL, NULL));
    RETURN_IF(!kt || !x || !packed_u || !y, YPR_EINVAL, "conv2d (Winograd): NULL pointer");
    RETURN_IF(!ypr__wino_eligible(s), YPR_EINVAL,
              "conv2d (Winograd): needs a 3x3 stride-1 undilated ungrouped conv, padding <= 2");
    RETURN_IF(t == 2 && (!kt->wino2_in || !kt->wino2_out_segs), YPR_EINVAL,
              "conv2d (Winograd F(2x2)): kernel set %s lacks the transforms", kt->name);
    const int workers = ypr__pool_size(pool);
    wino_geom g;
    geom(kt, s, &g, t);
    float *own = NULL;
    if (!ws) {
        own = ypr__alloc((size_t)ws_floats(kt, s, &g, workers) * sizeof(float));
        if (!own)
            return YPR_ENOMEM;
        ws = own;
    }
    const int64_t pmax = ldp(g.chunk * g.tw), per = ypr__gemm_packed_a_floats(kt, s->oc, s->c);
    choose_path(kt, s, &g, workers, path);
    float *own_scratch = NULL;
    if (g.nb && !scratch) {   /* the fused path runs the GEMMs with per-worker scratch */
        own_scratch = ypr__alloc((size_t)(workers * ypr__gemm_scratch_floats(kt)) * sizeof(float));
        if (!own_scratch) {
            ypr__free(own);
            return YPR_ENOMEM;
        }
        scratch = own_scratch;
    }
    int rc;
    if (g.nb) {
        wino_fused f = {kt, s, &g, x, packed_u, ep, y, ws, scratch, per,
                        fused_worker_floats(s, &g, ceil_div(g.nbc > g.nbs ? g.nbc : g.nbs, 16) * 16,
                                            kt->vl),
                        fused_ldd(&g, ceil_div(g.nbc > g.nbs ? g.nbc : g.nbs, 16) * 16, kt->vl),
                        ypr__gemm_scratch_floats(kt), YPR_OK};
        ypr__pool_run(pool, ceil_div(g.tiles, g.nb) * g.parts, fused_task, &f);
        rc = f.rc;
    } else {
        wino_run w = {kt, s, &g, x, ep, y, ws, ws + WK * (s->c * pmax + WINO_SKEW),
                      ws + WK * ((s->c + s->oc) * pmax + 2 * WINO_SKEW) + 64, 0, 0};
        rc = drive(&w, pool, packed_u, per, scratch, out_task);
    }
    ypr__free(own_scratch);
    ypr__free(own);
    return rc;
}

int ypr__conv2d_wino_path(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                          const float *x, const float *packed_u, const ypr_epilogue *ep,
                          float *y, float *ws, float *scratch, int path)
{
    return conv_wino_t(kt, pool, s, x, packed_u, ep, y, ws, scratch, path, 4);
}

/* ---- F(2×2, 3×3) */

/* Taken on maps where F(4×4) is not (its 4×4 tiles would cover under 75 %
 * of what they compute: 13², 10²) but F(2×2)'s cover at least that much,
 * with at least 128 input and output channels. Alone on AVX-512 Zen 5 (two
 * threads, against the GEMM path): 128→128 … 256→512 @13² and @10² in
 * 0.67–0.86 of the time, 512→512 and 512→1024 @13² 0.82–0.91 (U, 16/9 of
 * the weights, streams from memory); 64 channels on either side 0.89–1.05.
 * In yolov7 @416 its 13² layers took 0.87 of their time (docs/simd.md). */
int ypr__wino2_pays(const ypr_ktable *kt, const ypr_conv_shape *s, int threads)
{
    int64_t oh = s->h + 2 * s->ph - 2, ow = s->w + 2 * s->pw - 2;
    int64_t covered = 4 * ceil_div(oh, 2) * ceil_div(ow, 2);
    return ypr__wino_eligible(s) && kt->wino2_in && !ypr__wino_pays(kt, s, threads) &&
           s->c >= 128 && s->oc >= 128 && oh >= 8 && ow >= 8 && 4 * oh * ow >= 3 * covered;
}

int64_t ypr__wino2_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return 16 * ypr__gemm_packed_a_floats(kt, s->oc, s->c);
}

/* G of F(2, 3) (4×3). */
static const double wino2_g[4][3] = {
    {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

/* U_k = (G·g·Gᵀ)[k / 4][k % 4] in double, rounded once, in the
 * ypr__gemm_pack_a layout of each of the 16 [OC × C] matrices. */
void ypr__wino2_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst)
{
    const int mr = kt->mr;
    const int64_t c = s->c, per = ypr__gemm_packed_a_floats(kt, s->oc, c);
    memset(dst, 0, (size_t)(16 * per) * sizeof(float));
    for (int64_t o = 0; o < s->oc; o++)
        for (int64_t ci = 0; ci < c; ci++) {
            const float *g = w + (o * c + ci) * 9;
            double t[4][3];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = wino2_g[i][0] * g[j] + wino2_g[i][1] * g[3 + j] +
                              wino2_g[i][2] * g[6 + j];
            float *at = dst + (o / mr) * mr * c + ci * mr + o % mr;
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    at[(i * 4 + j) * per] = (float)(t[i][0] * wino2_g[j][0] +
                                                    t[i][1] * wino2_g[j][1] +
                                                    t[i][2] * wino2_g[j][2]);
        }
}

int64_t ypr__wino2_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers)
{
    wino_geom g;
    geom(kt, s, &g, 2);
    choose_path(kt, s, &g, workers, -1);
    return ws_floats(kt, s, &g, workers);
}

int ypr__conv2d_wino2(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                      const float *x, const float *packed_u, const ypr_epilogue *ep, float *y,
                      float *ws, float *scratch)
{
    return conv_wino_t(kt, pool, s, x, packed_u, ep, y, ws, scratch, -1, 2);
}

/* ---- accumulating variant (the training backward's dX, conv_bwd.c) */

/* Task (output channel) of ypr__conv2d_wino_acc: per tile row, M → a
 * worker's row buffer (its input rows are done by then), then added into y. */
static void out_acc_task(void *ctx, int64_t o, int worker)
{
    const wino_run *w = ctx;
    const ypr_conv_shape *s = w->s;
    const wino_geom *g = w->g;
    const int64_t p = ldp(w->nr * g->tw);
    float *t = w->rowbuf + (int64_t)worker * WT * g->ldd;
    for (int64_t r = 0; r < w->nr; r++) {
        const int64_t gr = w->r0 + r, b = gr / g->th, ty = gr % g->th;
        int rows = g->oh - 4 * ty < 4 ? (int)(g->oh - 4 * ty) : 4;
        float *y = w->y + ((b * s->oc + o) * g->oh + 4 * ty) * g->ow;
        w->kt->wino4_out(w->m + o * p + r * g->tw, s->oc * p + WINO_SKEW, (int)g->tw, t, g->ow,
                         rows, g->ow, 1.0f, 0.0f, YPR_ACT_IDENTITY, 0.0f);
        for (int64_t q = 0; q < rows * g->ow; q++)
            y[q] += t[q];
    }
}

int ypr__conv2d_wino_acc(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const float *x, const float *packed_u, float *y, float *ws,
                         float *scratch)
{
    TRY(ypr__conv_check(s, NULL, NULL));
    RETURN_IF(!kt || !x || !packed_u || !y || !ws, YPR_EINVAL,
              "conv2d (Winograd, accumulating): NULL pointer");
    RETURN_IF(!ypr__wino_eligible(s), YPR_EINVAL,
              "conv2d (Winograd): needs a 3x3 stride-1 undilated ungrouped conv, padding <= 2");
    wino_geom g;
    geom(kt, s, &g, 4);
    const int64_t pmax = ldp(g.chunk * g.tw), per = ypr__gemm_packed_a_floats(kt, s->oc, s->c);
    wino_run w = {kt, s, &g, x, NULL, y, ws, ws + WK * (s->c * pmax + WINO_SKEW),
                  ws + WK * ((s->c + s->oc) * pmax + 2 * WINO_SKEW) + 64, 0, 0};
    int rc = drive(&w, pool, packed_u, per, scratch, out_acc_task);
    return rc;
}
