/* INT8 Winograd F(2×2, 3×3) and F(4×4, 3×3) for 3×3 stride-1 convs: weight
 * transforms and packing, the driver (input transform into the set's S16 B
 * panels, 16 or 36 batched int16 GEMMs per tile block, output transform and
 * the set's requantization epilogue) and the scalar transforms (kernels.h,
 * "INT8 Winograd", states the exactness argument).
 *
 * All arithmetic past the int16 transforms is modulo 2^32 (unsigned here,
 * wrapping int32 in the SIMD sets): the result k·S (k = 4 or 576) is exact
 * modulo 2^32 and gives S exactly while the bound ypr__i8_wino_exact checks
 * holds, so the output equals the direct conv's bit for bit. Tasks are
 * (image, tile block, row chunk), as ypr__i8_conv2d's. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static int64_t up(int64_t v, int64_t m)
{
    return (v + m - 1) / m * m;
}

int ypr__i8_wino_eligible(const ypr_conv_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->dh == 1 && s->dw == 1 &&
           s->groups == 1 && s->ph >= 0 && s->pw >= 0 && s->h + 2 * s->ph >= 3 &&
           s->w + 2 * s->pw >= 3;
}

int ypr__i8_wino_exact(const ypr_conv_shape *s, const int8_t *w, int xmax, int t)
{
    return ypr__i8_wino_exact_range(s, w, -xmax, xmax, t);
}

int ypr__i8_wino_exact_range(const ypr_conv_shape *s, const int8_t *w, int xlo, int xhi, int t)
{
    int64_t per = s->c * 9, bound = (int64_t)1 << (t == 4 ? 25 : 29);
    int64_t lo = xlo < 0 ? xlo : 0, hi = xhi > 0 ? xhi : 0;   /* padding taps add 0 */
    for (int64_t o = 0; o < s->oc; o++) {
        int64_t pos = 0, neg = 0;   /* the sums of the positive and of the negative weights */
        for (int64_t i = 0; i < per; i++) {
            int v = w[o * per + i];
            if (v > 0)
                pos += v;
            else
                neg += v;
        }
        int64_t smax = pos * hi + neg * lo, smin = pos * lo + neg * hi;   /* S's extremes */
        if (smax >= bound || -smin >= bound)
            return 0;
    }
    return 1;
}

typedef struct wgeom {
    int t, pt, nx;                /* output tile side, input patch side, matrices (pt²) */
    int64_t oh, ow, th, tw, nt;   /* output; tiles down, across, in all */
    int64_t nkg, panels;          /* input-channel pairs; A row panels */
    int64_t apanel, bpanel;       /* int16 elements of one A / B panel */
    int64_t bmat;                 /* int16 elements between two B matrices (skewed) */
    int64_t nc, npan, nblk;       /* tiles per block (a multiple of wnr), its panels, blocks */
    int64_t rowlen;               /* bytes of one padded input row */
    int64_t b_bytes, m_bytes, o_bytes, r_bytes;   /* scratch parts */
} wgeom;

static void geometry(const ypr_i8kt *kt, const ypr_conv_shape *s, int t, wgeom *g)
{
    const ypr_i8wk *wk = ypr__i8wk(kt);
    g->t = t;
    g->pt = t + 2;
    g->nx = g->pt * g->pt;
    g->oh = s->h + 2 * s->ph - 2;
    g->ow = s->w + 2 * s->pw - 2;
    g->th = (g->oh + t - 1) / t;
    g->tw = (g->ow + t - 1) / t;
    g->nt = g->th * g->tw;
    g->nkg = (s->c + 1) / 2;
    g->panels = (s->oc + wk->mr - 1) / wk->mr;
    g->apanel = g->nkg * wk->mr * 2;
    g->bpanel = g->nkg * wk->nr * 2;
    /* a B block (nx matrices) of about 256 KiB: L2, reused by every A panel */
    int64_t nc = (256 * 1024 / (g->nx * 4 * g->nkg)) / wk->nr * wk->nr;
    nc = nc < wk->nr ? wk->nr : nc > 512 ? 512 / wk->nr * wk->nr : nc;
    if (nc > up(g->nt, wk->nr))
        nc = up(g->nt, wk->nr);
    g->nc = nc;
    g->npan = nc / wk->nr;
    g->nblk = (g->nt + nc - 1) / nc;
    g->rowlen = up(t * g->tw + 2 + 64, 64);
    g->bmat = g->npan * g->bpanel + 32;
    g->b_bytes = up(g->nx * g->bmat * 2, 64);
    g->m_bytes = up(g->nx * (int64_t)wk->mr * wk->nr * 4, 64);
    g->o_bytes = up((int64_t)wk->mr * t * t * wk->nr, 64);
    g->r_bytes = (2 * g->pt + 1) * g->rowlen;
}

int64_t ypr__i8_wino_packed_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s, int t)
{
    wgeom g;
    geometry(kt, s, t, &g);
    return g.nx * g.panels * g.apanel * 2;
}

/* U = (2G) g (2G)^T of one 3×3 kernel (|U| ≤ 9·128). */
static void wtransform(const int8_t *g, int16_t u[16])
{
    static const int G2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
    int t[4][3];
    for (int a = 0; a < 4; a++)
        for (int k = 0; k < 3; k++)
            t[a][k] = G2[a][0] * g[k] + G2[a][1] * g[3 + k] + G2[a][2] * g[6 + k];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            u[4 * a + b] = (int16_t)(t[a][0] * G2[b][0] + t[a][1] * G2[b][1] + t[a][2] * G2[b][2]);
}

/* F(4×4, 3×3): U = G' g G'^T with G' = diag(4, 6, 6, 24, 24, 1)·G (Lavin's
 * G, rows scaled to integers: |U| ≤ 49·128); the output transform's A''
 * undoes the scaling with an overall factor 24² = 576. */
static const int G4[6][3] = {{1, 0, 0}, {-1, -1, -1}, {-1, 1, -1}, {1, 2, 4}, {1, -2, 4}, {0, 0, 1}};

static void wtransform4(const int8_t *g, int16_t u[36])
{
    int t[6][3];
    for (int a = 0; a < 6; a++)
        for (int k = 0; k < 3; k++)
            t[a][k] = G4[a][0] * g[k] + G4[a][1] * g[3 + k] + G4[a][2] * g[6 + k];
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            u[6 * a + b] = (int16_t)(t[a][0] * G4[b][0] + t[a][1] * G4[b][1] + t[a][2] * G4[b][2]);
}

void ypr__i8_wino_pack_w(const ypr_i8kt *kt, const ypr_conv_shape *s, const int8_t *w, int t,
                         void *dst)
{
    wgeom g;
    geometry(kt, s, t, &g);
    int16_t *d = dst;
    memset(dst, 0, (size_t)ypr__i8_wino_packed_bytes(kt, s, t));
    const int mr = ypr__i8wk(kt)->mr;
    for (int64_t o = 0; o < s->oc; o++)
        for (int64_t c = 0; c < s->c; c++) {
            int16_t u[36];
            if (t == 4)
                wtransform4(w + (o * s->c + c) * 9, u);
            else
                wtransform(w + (o * s->c + c) * 9, u);
            int64_t p = o / mr, r = o % mr, q = c / 2, e = c % 2;
            for (int x = 0; x < g.nx; x++)
                d[(x * g.panels + p) * g.apanel + (q * mr + r) * 2 + e] = u[x];
        }
}

int64_t ypr__i8_wino_scratch_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s, int t)
{
    wgeom g;
    geometry(kt, s, t, &g);
    return g.b_bytes + g.m_bytes + g.o_bytes + g.r_bytes;
}

/* ------------------------------------------------------- scalar transforms */

void ypr__i8_wino_tin_ref(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                          int16_t *v, int64_t ldv)
{
    for (int e = 0; e < 2; e++) {
        const int8_t *const *r = e ? r1 : r0;
        for (int64_t j = 0; j < n; j++) {
            int d[4][4], t[4][4];
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    d[y][x] = r ? r[y][2 * j + x] - zp : 0;
            for (int y = 0; y < 4; y++) {   /* d B */
                t[y][0] = d[y][0] - d[y][2];
                t[y][1] = d[y][1] + d[y][2];
                t[y][2] = d[y][2] - d[y][1];
                t[y][3] = d[y][1] - d[y][3];
            }
            for (int b = 0; b < 4; b++) {   /* B^T (d B) */
                v[((0 + b) * ldv + j) * 2 + e] = (int16_t)(t[0][b] - t[2][b]);
                v[((4 + b) * ldv + j) * 2 + e] = (int16_t)(t[1][b] + t[2][b]);
                v[((8 + b) * ldv + j) * 2 + e] = (int16_t)(t[2][b] - t[1][b]);
                v[((12 + b) * ldv + j) * 2 + e] = (int16_t)(t[1][b] - t[3][b]);
            }
        }
    }
}

/* Y = A^T M A of one tile, modulo 2^32, then / 4 (exact: Y = 4·S). */
static void out4(const uint32_t m[16], int32_t y[4])
{
    uint32_t s[4][2];
    for (int a = 0; a < 4; a++) {
        s[a][0] = m[4 * a] + m[4 * a + 1] + m[4 * a + 2];
        s[a][1] = m[4 * a + 1] - m[4 * a + 2] - m[4 * a + 3];
    }
    for (int dx = 0; dx < 2; dx++) {
        uint32_t y0 = s[0][dx] + s[1][dx] + s[2][dx], y1 = s[1][dx] - s[2][dx] - s[3][dx];
        /* two's complement reading, then an exact division by 4 */
        y[dx] = (int32_t)(y0 >> 2 | (y0 & 0x80000000u ? 0xc0000000u : 0));
        y[2 + dx] = (int32_t)(y1 >> 2 | (y1 & 0x80000000u ? 0xc0000000u : 0));
    }
}

void ypr__i8_wino_tout_ref(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                           int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    const int mr = wk->mr, nr = wk->nr;
    int32_t acc[4][16 * 64];   /* per (dy, dx): an m × nr tile (mr·nr ≤ 1024) */
    int8_t q[4][16 * 64];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            uint32_t mm[16];
            int32_t y[4];
            for (int x = 0; x < 16; x++)
                mm[x] = (uint32_t)m16[(x * mr + i) * nr + j];
            out4(mm, y);
            for (int k = 0; k < 4; k++)
                acc[k][i * nr + j] = y[k];
        }
    for (int k = 0; k < 4; k++)
        kt->requant(acc[k], nr, m, n, rq, c0, q[k], nr);
    for (int i = 0; i < m; i++)
        for (int dy = 0; dy < 2; dy++)
            for (int j = 0; j < n; j++) {
                o[(i * 2 + dy) * 2 * nr + 2 * j] = q[2 * dy][i * nr + j];
                o[(i * 2 + dy) * 2 * nr + 2 * j + 1] = q[2 * dy + 1][i * nr + j];
            }
}

/* F(4×4, 3×3) input transform: V = B^T d B of 6×6 patches (Lavin's B;
 * |V| ≤ 100·255 fits int16), tile j's columns 4j … 4j + 5. */
static const int BT4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                              {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};

void ypr__i8_wino_tin4_ref(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                           int16_t *v, int64_t ldv)
{
    for (int e = 0; e < 2; e++) {
        const int8_t *const *r = e ? r1 : r0;
        for (int64_t j = 0; j < n; j++) {
            int d[6][6], t[6][6];
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 6; x++)
                    d[y][x] = r ? r[y][4 * j + x] - zp : 0;
            for (int y = 0; y < 6; y++)   /* d B */
                for (int b = 0; b < 6; b++) {
                    int a = 0;
                    for (int x = 0; x < 6; x++)
                        a += d[y][x] * BT4[b][x];
                    t[y][b] = a;
                }
            for (int a = 0; a < 6; a++)   /* B^T (d B) */
                for (int b = 0; b < 6; b++) {
                    int acc = 0;
                    for (int y = 0; y < 6; y++)
                        acc += BT4[a][y] * t[y][b];
                    v[((6 * a + b) * ldv + j) * 2 + e] = (int16_t)acc;
                }
        }
    }
}

/* A'' = 24·A^T·diag(4, 6, 6, 24, 24, 1)^−1: Y'' = A'' M A''^T = 576·Y. */
static const int AT4[4][6] = {{6, 4, 4, 1, 1, 0}, {0, 4, -4, 2, -2, 0}, {0, 4, 4, 4, 4, 0},
                              {0, 4, -4, 8, -8, 24}};

/* Y from 576·Y modulo 2^32: times 9^−1 (mod 2^32) gives 64·Y, exact while
 * |Y| < 2^25 (ypr__i8_wino_exact), then an arithmetic shift by 6. */
static int32_t from576(uint32_t v)
{
    uint32_t y = v * 0x38e38e39u;   /* 9 · 0x38e38e39 = 2^33 + 1 */
    return (int32_t)(y >> 6 | (y & 0x80000000u ? 0xfc000000u : 0));
}

void ypr__i8_wino_tout4_ref(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                            int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    const int mr = wk->mr, nr = wk->nr;
    int32_t acc[16][64];   /* per (dy, dx): one row of nr ≤ 64 tiles */
    int8_t q[16][64];
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            uint32_t mm[6][6], sa[6][4];
            for (int x = 0; x < 36; x++)
                mm[x / 6][x % 6] = (uint32_t)m16[(x * mr + i) * nr + j];
            for (int a = 0; a < 6; a++)
                for (int k = 0; k < 4; k++) {
                    uint32_t u = 0;
                    for (int b = 0; b < 6; b++)
                        u += mm[a][b] * (uint32_t)AT4[k][b];
                    sa[a][k] = u;
                }
            for (int dy = 0; dy < 4; dy++)
                for (int dx = 0; dx < 4; dx++) {
                    uint32_t u = 0;
                    for (int a = 0; a < 6; a++)
                        u += (uint32_t)AT4[dy][a] * sa[a][dx];
                    acc[dy * 4 + dx][j] = from576(u);
                }
        }
        for (int k = 0; k < 16; k++)
            kt->requant(acc[k], nr, 1, n, rq, c0 + i, q[k], nr);
        for (int dy = 0; dy < 4; dy++)
            for (int j = 0; j < n; j++)
                for (int dx = 0; dx < 4; dx++)
                    o[(i * 4 + dy) * 4 * nr + 4 * j + dx] = q[dy * 4 + dx][j];
    }
}

/* ------------------------------------------------------------- the driver */

typedef struct wjob {
    const ypr_i8kt *kt;
    const ypr_i8wk *wk;
    const ypr_conv_shape *s;
    wgeom g;
    const int8_t *x;
    int zp;
    const int16_t *packed;
    const ypr_i8rq *rq;
    int8_t *y;
    uint8_t *scratch;
    int64_t per_worker, rchunks, panels_per_chunk;
} wjob;

/* Padded row iy of one channel plane: zp outside the image (buf's edges hold
 * zp already: input_block fills the row buffers once). */
static const int8_t *pad_row(const wjob *j, const int8_t *plane, int64_t iy, int8_t *buf,
                             const int8_t *zrow)
{
    const ypr_conv_shape *s = j->s;
    if (iy < 0 || iy >= s->h)
        return zrow;
    memcpy(buf + s->pw, plane + iy * s->w, (size_t)s->w);
    return buf;
}

/* The nx B matrices of tiles t0 … t0 + cols − 1 (zero past cols), each
 * channel pair's transform written straight into the panels: a segment is
 * cut where it crosses a panel. (Through a contiguous buffer and a copy per
 * pair and matrix, yolov7 @640 INT8 took 1.02–1.04× the time; with the
 * matrices a whole number of 4 KiB apart the direct writes had lost to that
 * copy in session 10, so they are skewed by a cache line, g->bmat.) */
static void input_block(const wjob *j, const int8_t *ximg, int64_t t0, int64_t cols,
                        int16_t *bblk, int8_t *rows)
{
    const ypr_i8wk *wk = j->wk;
    const ypr_conv_shape *s = j->s;
    const wgeom *g = &j->g;
    const int64_t ncp = up(cols, wk->nr), hw = s->h * s->w;
    const int pt = g->pt, t = g->t;
    int8_t *zrow = rows + 2 * pt * g->rowlen;
    memset(rows, j->zp, (size_t)((2 * pt + 1) * g->rowlen));   /* the row buffers' edges, zrow */
    if (ncp > cols)   /* the last panel's tiles past cols stay zero for every pair */
        for (int x = 0; x < g->nx; x++)
            memset(bblk + x * g->bmat + (ncp / wk->nr - 1) * g->bpanel, 0,
                   (size_t)g->bpanel * 2);
    for (int64_t q = 0; q < g->nkg; q++) {
        int64_t c = 2 * q;
        const int8_t *p0 = ximg + c * hw, *p1 = c + 1 < s->c ? p0 + hw : NULL;
        for (int64_t k = t0; k < t0 + cols;) {
            int64_t ty = k / g->tw, tx = k % g->tw, jp = (k - t0) / wk->nr;
            int64_t len = g->tw - tx < t0 + cols - k ? g->tw - tx : t0 + cols - k;
            if (len > (jp + 1) * wk->nr - (k - t0))   /* within one panel */
                len = (jp + 1) * wk->nr - (k - t0);
            const int8_t *r0[6], *r1[6];
            for (int r = 0; r < pt; r++) {
                int64_t iy = t * ty - s->ph + r;
                r0[r] = pad_row(j, p0, iy, rows + r * g->rowlen, zrow) + t * tx;
                if (p1)
                    r1[r] = pad_row(j, p1, iy, rows + (pt + r) * g->rowlen, zrow) + t * tx;
            }
            (t == 4 ? wk->tin4 : wk->tin)(
                r0, p1 ? r1 : NULL, len, j->zp,
                bblk + jp * g->bpanel + q * wk->nr * 2 + (k - t0 - jp * wk->nr) * 2, g->bmat / 2);
            k += len;
        }
    }
}

/* o (tout's [m][T][T·nr]) into y for tiles t0 … t0 + n − 1. */
static void scatter(const wjob *j, const int8_t *o, int m, int64_t t0, int n, int8_t *yc)
{
    const wgeom *g = &j->g;
    const int nr = j->wk->nr, T = g->t;
    for (int64_t k = t0; k < t0 + n;) {
        int64_t ty = k / g->tw, tx = k % g->tw;
        int64_t len = g->tw - tx < t0 + n - k ? g->tw - tx : t0 + n - k;
        int64_t x0 = T * tx, bytes = T * len < g->ow - x0 ? T * len : g->ow - x0;
        for (int i = 0; i < m; i++)
            for (int dy = 0; dy < T && T * ty + dy < g->oh; dy++)
                memcpy(yc + (i * g->oh + T * ty + dy) * g->ow + x0,
                       o + (i * T + dy) * T * nr + T * (k - t0), (size_t)bytes);
        k += len;
    }
}

static void wino_task(void *ctx, int64_t t, int worker)
{
    const wjob *j = ctx;
    const ypr_i8kt *kt = j->kt;
    const ypr_i8wk *wk = j->wk;
    const ypr_conv_shape *s = j->s;
    const wgeom *g = &j->g;
    int64_t rc = t % j->rchunks, blk = t / j->rchunks % g->nblk, img = t / (j->rchunks * g->nblk);
    uint8_t *ws = j->scratch + worker * j->per_worker;
    int16_t *bblk = (int16_t *)ws;
    int32_t *m16 = (int32_t *)(ws + g->b_bytes);
    int8_t *ost = (int8_t *)(ws + g->b_bytes + g->m_bytes);
    int8_t *rows = (int8_t *)(ws + g->b_bytes + g->m_bytes + g->o_bytes);
    int64_t t0 = blk * g->nc, cols = g->nt - t0 < g->nc ? g->nt - t0 : g->nc;
    input_block(j, j->x + img * s->c * s->h * s->w, t0, cols, bblk, rows);
    int64_t p0 = rc * j->panels_per_chunk, p1 = p0 + j->panels_per_chunk;
    p1 = p1 < g->panels ? p1 : g->panels;
    const int mr = wk->mr, nr = wk->nr;
    for (int64_t p = p0; p < p1; p++) {
        int64_t c0 = p * mr;
        int m = (int)(s->oc - c0 < mr ? s->oc - c0 : mr);
        for (int64_t jp = 0; jp * nr < cols; jp++) {
            int n = (int)(cols - jp * nr < nr ? cols - jp * nr : nr);
            for (int x = 0; x < g->nx; x++)
                wk->gemm(g->nkg, j->packed + (x * g->panels + p) * g->apanel,
                          bblk + x * g->bmat + jp * g->bpanel, NULL, m16 + x * mr * nr);
            (g->t == 4 ? wk->tout4 : wk->tout)(kt, wk, m16, m, n, j->rq, c0, ost);
            ypr__i8_lut_rows(kt, j->rq, ost, (int64_t)m * g->t, (int64_t)g->t * n,
                             (int64_t)g->t * nr);
            scatter(j, ost, m, t0 + jp * nr, n, j->y + (img * s->oc + c0) * g->oh * g->ow);
        }
    }
}

int ypr__i8_wino_conv2d(const ypr_i8kt *kt, ypr_pool *pool, const ypr_conv_shape *s,
                        const int8_t *x, int zx, int t, const void *packed,
                        const ypr_i8rq *rq, int8_t *y, void *scratch)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!ypr__i8_wino_eligible(s), YPR_EINVAL,
              "int8 winograd: not a 3x3 stride-1 undilated ungrouped conv");
    RETURN_IF(zx < -128 || zx > 127, YPR_EINVAL, "int8 winograd: zero point %d", zx);
    RETURN_IF(t != 2 && t != 4, YPR_EINVAL, "int8 winograd: output tile %d (2 or 4)", t);
    const ypr_i8wk *wk = ypr__i8wk(kt);
    RETURN_IF(wk->mr * wk->nr > 1024, YPR_EINTERNAL, "int8 winograd: tile too large");
    wjob j = {kt, wk, s, {0}, x, zx, packed, rq, y, scratch, 0, 0, 0};
    geometry(kt, s, t, &j.g);
    int workers = ypr__pool_size(pool);
    j.per_worker = ypr__i8_wino_scratch_bytes(kt, s, t);
    if (!scratch) {
        j.scratch = ypr__alloc((size_t)(j.per_worker * workers));
        RETURN_IF(!j.scratch, YPR_ENOMEM, "int8 winograd: out of memory");
    }
    /* few tile blocks: each block's output rows in as many chunks as make the
     * tasks a multiple of the workers (every task transforms its block's
     * input, as int8_conv.c packs its B) */
    int64_t base = s->n * j.g.nblk, want = 4 * (int64_t)workers;
    j.rchunks = 1;
    if (workers > 1 && base < want)
        while ((base * j.rchunks) % workers)
            j.rchunks++;
    if (j.rchunks > j.g.panels)
        j.rchunks = j.g.panels;
    j.panels_per_chunk = (j.g.panels + j.rchunks - 1) / j.rchunks;
    j.rchunks = (j.g.panels + j.panels_per_chunk - 1) / j.panels_per_chunk;
    ypr__pool_run(pool, base * j.rchunks, wino_task, &j);
    if (!scratch)
        ypr__free(j.scratch);
    return YPR_OK;
}
