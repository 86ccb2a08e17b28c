/* INT8 convolution driver: weight packing, implicit im2col of int8 input
 * into the set's B panels, the integer GEMM tiles of the active INT8 set
 * and their requantization epilogue (kernels.h, "INT8 convolution").
 *
 * Every output value comes from one gemm call over the whole K followed by
 * the epilogue: integer sums are exact, so the result does not depend on the
 * blocking, the thread count or the set. Tasks are (image, group, column
 * block, row chunk); each packs its own B block into its worker's scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>   /* x86-64 baseline: no ISA flag needed */
#endif

static int64_t elem_bytes(const ypr_i8kt *kt)
{
    return kt->fmt == YPR_I8F_S16 ? 2 : 1;
}

static int64_t up(int64_t v, int64_t m)
{
    return (v + m - 1) / m * m;
}

typedef struct geom {
    int64_t oh, ow, m, k, kpad, nkg, n, panels;   /* per group */
    int64_t panel_bytes, init_bytes;              /* one A panel; all init values */
    int64_t nc;                                   /* columns per B block */
} geom;

/* 3×3 convs of stride 1 or 2 (padding 1, undilated, ungrouped, channels a
 * multiple of 4) on the x86 U8 sets take their K in tap-major order —
 * k = tap·C + ci rather than ci·9 + tap — so that each k group of B is four
 * channels at one tap: the packing then loads the four planes' samples and
 * interleaves them in registers (pack_b_tap), with no row buffer. The
 * weights are packed in the same order; the int32 sums do not depend on it.
 * (The 3-channel stems padded to 4 were tried: the extra multiplies cost
 * more than the packing saves, 1.1–1.2× their time.) */
static int tap_major(const ypr_i8kt *kt, const ypr_conv_shape *s)
{
#if defined(__SSE2__)
    return kt->fmt == YPR_I8F_U8 && kt->kg == 4 && kt->nr % 16 == 0 && s->kh == 3 &&
           s->kw == 3 && s->sh == s->sw && (s->sh == 1 || s->sh == 2) && s->dh == 1 &&
           s->dw == 1 && s->ph == 1 && s->pw == 1 && s->groups == 1 && s->c % 4 == 0;
#else
    (void)kt;
    (void)s;
    return 0;
#endif
}

static void geometry(const ypr_i8kt *kt, const ypr_conv_shape *s, geom *g)
{
    g->oh = (s->h + 2 * s->ph - s->dh * (s->kh - 1) - 1) / s->sh + 1;
    g->ow = (s->w + 2 * s->pw - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    g->m = s->oc / s->groups;
    g->k = s->c / s->groups * s->kh * s->kw;
    g->kpad = up(g->k, kt->kg);
    g->nkg = g->kpad / kt->kg;
    g->n = g->oh * g->ow;
    g->panels = (g->m + kt->mr - 1) / kt->mr;
    g->panel_bytes = up(g->kpad * kt->mr * elem_bytes(kt), 64);
    g->init_bytes = up(s->groups * g->panels * kt->mr * (int64_t)sizeof(int32_t), 64);
    /* a B block of about 192 KiB (at least one panel, at most 512 columns) */
    int64_t per_col = g->kpad * elem_bytes(kt);
    int64_t nc = (192 * 1024 / per_col) / kt->nr * kt->nr;
    nc = nc < kt->nr ? kt->nr : nc > 512 ? 512 / kt->nr * kt->nr : nc;
    if (nc > up(g->n, kt->nr))
        nc = up(g->n, kt->nr);
    g->nc = nc;
}

int64_t ypr__i8_conv_packed_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s)
{
    geom g;
    geometry(kt, s, &g);
    return g.init_bytes + s->groups * g.panels * g.panel_bytes;
}

void ypr__i8_conv_pack_w(const ypr_i8kt *kt, const ypr_conv_shape *s, const int8_t *w,
                         void *dst)
{
    const int tm = tap_major(kt, s);
    geom g;
    geometry(kt, s, &g);
    int32_t *init = dst;
    uint8_t *base = (uint8_t *)dst + g.init_bytes;
    memset(dst, 0, (size_t)ypr__i8_conv_packed_bytes(kt, s));
    const int kg = kt->kg, mr = kt->mr;
    for (int64_t gr = 0; gr < s->groups; gr++)
        for (int64_t p = 0; p < g.panels; p++) {
            uint8_t *panel = base + (gr * g.panels + p) * g.panel_bytes;
            for (int r = 0; r < mr; r++) {
                int64_t row = p * mr + r;
                if (row >= g.m)
                    break;
                const int8_t *src = w + (gr * g.m + row) * g.k;
                int32_t sum = 0;
                for (int64_t k = 0; k < g.k; k++) {
                    int64_t at = ((k / kg) * mr + r) * kg + k % kg;
                    int8_t v = src[tm ? (k % s->c) * 9 + k / s->c : k];   /* tap-major: tap k/C */
                    if (kt->fmt == YPR_I8F_S16)
                        ((int16_t *)panel)[at] = v;
                    else
                        ((int8_t *)panel)[at] = v;
                    sum += v;
                }
                if (kt->fmt == YPR_I8F_U8)
                    init[(gr * g.panels + p) * mr + r] = -128 * sum;
            }
        }
}

int64_t ypr__i8_conv_scratch_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s)
{
    geom g;
    geometry(kt, s, &g);
    return up(g.nc * g.kpad * elem_bytes(kt), 64) + up(4 * g.nc, 64) +
           up((int64_t)kt->mr * kt->nr * (int64_t)sizeof(int32_t), 64);
}

typedef struct i8job {
    const ypr_i8kt *kt;
    const ypr_conv_shape *s;
    geom g;
    const int8_t *x;
    const uint8_t *packed;
    const ypr_i8rq *rq;
    int8_t *y;
    uint8_t *scratch;
    int64_t per_worker;
    int64_t nblk, rchunks, panels_per_chunk;
} i8job;

static int64_t ceil_div(int64_t a, int64_t b)   /* b > 0 */
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* d[t] = src[2t] for t0 ≤ t < t1 (stride-2 convs: the hot gather). */
#if defined(__SSE2__)
/* The even bytes of p[0 … 31]: 16 stride-2 samples. */
static inline __m128i even16(const int8_t *p)
{
    const __m128i lo = _mm_set1_epi16(0x00ff);
    return _mm_packus_epi16(_mm_and_si128(_mm_loadu_si128((const __m128i *)p), lo),
                            _mm_and_si128(_mm_loadu_si128((const __m128i *)(p + 16)), lo));
}
#endif

static void gather_even(const ypr_i8kt *kt, const int8_t *src, int64_t t0, int64_t t1,
                        int8_t *d)
{
    if (kt->even) {
        kt->even(src, t0, t1, d);
        return;
    }
    int64_t t = t0;
#if defined(__SSE2__)
    /* 16 outputs from 32 bytes; the last one read, src[2t + 31], must lie
     * before src[2(t1 − 1)] + 1: stop while t + 16 < t1 */
    for (; t + 16 < t1; t += 16)
        _mm_storeu_si128((__m128i *)(d + t), even16(src + 2 * t));
#endif
    for (; t < t1; t++)
        d[t] = src[2 * t];
}

/* Row k of B for columns n0 … n0+nc−1 of one image and group into row[]
 * (zeros outside the image and past the last column), one output row's
 * run at a time. */
static void im2col_row(const ypr_i8kt *kt, const ypr_conv_shape *s, const geom *g,
                       const int8_t *xg, int64_t k, int64_t n0, int64_t nc, int8_t *row)
{
    int64_t kk = s->kh * s->kw, ci = k / kk, ky = k / s->kw % s->kh, kx = k % s->kw;
    const int8_t *plane = xg + ci * s->h * s->w;
    int64_t cols = g->n - n0 < nc ? g->n - n0 : nc;
    int64_t oy = n0 / g->ow, ox = n0 % g->ow;
    int64_t dy = ky * s->dh - s->ph, dx = kx * s->dw - s->pw, sw = s->sw;
    for (int64_t j = 0; j < cols; ox = 0, oy++) {
        int64_t len = g->ow - ox < cols - j ? g->ow - ox : cols - j;
        int64_t iy = oy * s->sh + dy;
        int8_t *d = row + j;
        j += len;
        if (iy < 0 || iy >= s->h) {
            memset(d, 0, (size_t)len);
            continue;
        }
        /* t in [t0, t1) reads inside the row: 0 ≤ (ox + t)·sw + dx < w */
        int64_t t0 = ceil_div(-dx - ox * sw, sw), t1 = ceil_div(s->w - dx - ox * sw, sw);
        t0 = t0 < 0 ? 0 : t0 > len ? len : t0;
        t1 = t1 < t0 ? t0 : t1 > len ? len : t1;
        const int8_t *src = plane + iy * s->w + ox * sw + dx;
        memset(d, 0, (size_t)t0);
        if (sw == 1)
            memcpy(d + t0, src + t0, (size_t)(t1 - t0));
        else if (sw == 2)
            gather_even(kt, src, t0, t1, d);
        else
            for (int64_t t = t0; t < t1; t++)
                d[t] = src[t * sw];
        memset(d + t1, 0, (size_t)(len - t1));
    }
    if (cols < nc)
        memset(row + cols, 0, (size_t)(nc - cols));
}

#if defined(__SSE2__)
/* 16 columns of the U8 format (x ^ 0x80 = x + 128 as uint8) from four row
 * vectors: 4 bytes per column, one per row, 64 bytes. */
static inline void ilv16_u8(__m128i a, __m128i b, __m128i c, __m128i e, uint8_t *d)
{
    const __m128i x = _mm_set1_epi8((char)0x80);
    a = _mm_xor_si128(a, x);
    b = _mm_xor_si128(b, x);
    c = _mm_xor_si128(c, x);
    e = _mm_xor_si128(e, x);
    __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    __m128i ce0 = _mm_unpacklo_epi8(c, e), ce1 = _mm_unpackhi_epi8(c, e);
    _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(ab0, ce0));
    _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(ab0, ce0));
    _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(ab1, ce1));
    _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(ab1, ce1));
}

/* The same from four rows in memory. */
static inline void interleave16_u8(const int8_t *a, const int8_t *b, const int8_t *c,
                                   const int8_t *e, uint8_t *d)
{
    ilv16_u8(_mm_loadu_si128((const __m128i *)a), _mm_loadu_si128((const __m128i *)b),
             _mm_loadu_si128((const __m128i *)c), _mm_loadu_si128((const __m128i *)e), d);
}

/* 16 columns of the S16 format: an int16 pair per column, 64 bytes. */
static inline void interleave16_s16(const int8_t *a, const int8_t *b, int16_t *d)
{
    __m128i va = _mm_loadu_si128((const __m128i *)a), vb = _mm_loadu_si128((const __m128i *)b);
    __m128i a0 = _mm_srai_epi16(_mm_unpacklo_epi8(va, va), 8);   /* sign-extended */
    __m128i a1 = _mm_srai_epi16(_mm_unpackhi_epi8(va, va), 8);
    __m128i b0 = _mm_srai_epi16(_mm_unpacklo_epi8(vb, vb), 8);
    __m128i b1 = _mm_srai_epi16(_mm_unpackhi_epi8(vb, vb), 8);
    _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(a0, b0));
    _mm_storeu_si128((__m128i *)(d + 8), _mm_unpackhi_epi16(a0, b0));
    _mm_storeu_si128((__m128i *)(d + 16), _mm_unpacklo_epi16(a1, b1));
    _mm_storeu_si128((__m128i *)(d + 24), _mm_unpackhi_epi16(a1, b1));
}
#endif

/* Interleave kg rows (r[e][j], j < nc) into the B panels of k group q. */
static void interleave(const ypr_i8kt *kt, const int8_t *const *r, int64_t nc, int64_t panel,
                       int64_t q, uint8_t *dst)
{
    const int nr = kt->nr;
    if (kt->ilv) {
        kt->ilv(r, nc, panel, q, dst);
        return;
    }
#if defined(__SSE2__)
    if (nr % 16 == 0 && kt->fmt != YPR_I8F_S8) {   /* the x86 sets' formats */
        for (int64_t jp = 0; jp < nc / nr; jp++) {
            int64_t at = jp * panel + q * nr * kt->kg, c0 = jp * nr;
            for (int j = 0; j < nr; j += 16) {
                if (kt->fmt == YPR_I8F_S16)
                    interleave16_s16(r[0] + c0 + j, r[1] + c0 + j, (int16_t *)dst + at + 2 * j);
                else
                    interleave16_u8(r[0] + c0 + j, r[1] + c0 + j, r[2] + c0 + j, r[3] + c0 + j,
                                    dst + at + 4 * j);
            }
        }
        return;
    }
#endif
    for (int64_t jp = 0; jp < nc / nr; jp++) {
        int64_t at = jp * panel + q * nr * kt->kg, c0 = jp * nr;
        if (kt->fmt == YPR_I8F_S16) {
            int16_t *d = (int16_t *)dst + at;
            const int8_t *a = r[0] + c0, *b = r[1] + c0;
            for (int j = 0; j < nr; j++) {
                d[2 * j] = a[j];
                d[2 * j + 1] = b[j];
            }
        } else {
            const uint8_t x = kt->fmt == YPR_I8F_U8 ? 0x80u : 0;   /* U8: x + 128 */
            uint8_t *d = dst + at;
            const int8_t *a = r[0] + c0, *b = r[1] + c0, *c = r[2] + c0, *e = r[3] + c0;
            for (int j = 0; j < nr; j++) {
                d[4 * j] = (uint8_t)((uint8_t)a[j] ^ x);
                d[4 * j + 1] = (uint8_t)((uint8_t)b[j] ^ x);
                d[4 * j + 2] = (uint8_t)((uint8_t)c[j] ^ x);
                d[4 * j + 3] = (uint8_t)((uint8_t)e[j] ^ x);
            }
        }
    }
}

#if defined(__SSE2__)

/* B of a tap-major 3×3 conv (tap_major): for k group q (tap q / (C/4),
 * channels 4·(q mod C/4) …), each output row's run of the block loads the
 * four planes at ix = S·ox − 1 + kx of row iy = S·oy − 1 + ky; 16 aligned
 * columns at a time where all their
 * samples (for S = 2 also the byte after the last) lie inside the row, a
 * byte at a time elsewhere (0 outside the image, stored as 0x80). */
static void pack_b_tap(const ypr_i8kt *kt, const ypr_conv_shape *s, const geom *g,
                       const int8_t *xg, int64_t n0, uint8_t *dst)
{
    const int64_t nr = kt->nr, panel = g->nkg * nr * 4, hw = s->h * s->w, cg = s->c / 4;
    const int64_t cols = g->n - n0 < g->nc ? g->n - n0 : g->nc, S = s->sh;
    for (int64_t q = 0; q < g->nkg; q++) {
        const int64_t tap = q / cg, ky = tap / 3, kx = tap % 3;
        const int8_t *p[4];
        for (int e = 0; e < 4; e++)
            p[e] = xg + (q % cg * 4 + e) * hw;
        uint8_t *dq = dst + q * nr * 4;
        for (int64_t j = 0; j < cols;) {
            int64_t col = n0 + j, oy = col / g->ow, ox = col % g->ow;
            int64_t len = g->ow - ox < cols - j ? g->ow - ox : cols - j;
            int64_t iy = S * oy - 1 + ky, x0 = S * ox - 1 + kx;   /* sample t at x0 + S·t */
            int64_t t0 = 0, t1 = 0;
            if (iy >= 0 && iy < s->h) {
                t0 = x0 >= 0 ? 0 : (-x0 + S - 1) / S;
                t1 = x0 >= s->w ? 0 : (s->w - 1 - x0) / S + 1;
                t0 = t0 < len ? t0 : len;
                t1 = t1 < len ? t1 : len;
                t1 = t1 > t0 ? t1 : t0;
            }
            const int64_t row = iy * s->w + x0;
            /* S = 2 reads one byte past the last sample: stop one sample earlier */
            const int64_t tv = S == 2 ? t1 - 1 : t1;
            for (int64_t t = 0; t < len;) {
                int64_t jj = j + t;
                uint8_t *d = dq + jj / nr * panel + jj % nr * 4;
                if (jj % 16 == 0 && t >= t0 && t + 16 <= tv) {
                    __m128i v[4];
                    for (int e = 0; e < 4; e++)
                        v[e] = S == 2 ? even16(p[e] + row + 2 * t)
                                      : _mm_loadu_si128((const __m128i *)(p[e] + row + t));
                    ilv16_u8(v[0], v[1], v[2], v[3], d);
                    t += 16;
                    continue;
                }
                for (int e = 0; e < 4; e++)
                    d[e] = (uint8_t)((uint8_t)(t >= t0 && t < t1 ? p[e][row + S * t] : 0) ^ 0x80u);
                t++;
            }
            j += len;
        }
        for (int64_t jj = cols; jj < g->nc; jj++)   /* past the last output: zeros */
            memset(dq + jj / nr * panel + jj % nr * 4, 0x80, 4);
    }
}
#endif

static void pack_b(const ypr_i8kt *kt, const ypr_conv_shape *s, const geom *g,
                   const int8_t *xg, int64_t n0, uint8_t *dst, int8_t *rowbuf)
{
#if defined(__SSE2__)
    if (tap_major(kt, s)) {
        pack_b_tap(kt, s, g, xg, n0, dst);
        return;
    }
#endif
    const int kg = kt->kg;
    const int64_t nc = g->nc, panel = g->nkg * kt->nr * kg;   /* elements per B panel */
    const int direct = ypr__conv_pointwise(s);
    /* 1×1: the full panels straight from the input rows, the block's last
     * partial panel (past the image's last column) through rowbuf */
    const int64_t cols = g->n - n0 < nc ? g->n - n0 : nc;
    const int64_t full = direct ? cols / kt->nr * kt->nr : 0;
    uint8_t *tail_dst = dst + full / kt->nr * panel * elem_bytes(kt);
    for (int64_t q = 0; q < g->nkg; q++) {
        const int8_t *rows[4];
        for (int e = 0; e < kg; e++) {
            int64_t k = q * kg + e;
            int8_t *rb = rowbuf + e * nc;
            if (k >= g->k) {
                memset(rb, 0, (size_t)nc);
                rows[e] = rb;
            } else if (direct) {
                rows[e] = xg + k * s->h * s->w + n0;
            } else {
                im2col_row(kt, s, g, xg, k, n0, nc, rb);
                rows[e] = rb;
            }
        }
        if (!direct) {
            interleave(kt, rows, nc, panel, q, dst);
            continue;
        }
        if (full)
            interleave(kt, rows, full, panel, q, dst);
        if (full < cols) {
            const int8_t *tail[4];
            for (int e = 0; e < kg; e++) {
                int8_t *rb = rowbuf + e * nc;   /* a zero row (k ≥ K) stays one */
                if (q * kg + e < g->k) {
                    memcpy(rb, rows[e] + full, (size_t)(cols - full));
                    memset(rb + (cols - full), 0, (size_t)(kt->nr - (cols - full)));
                }
                tail[e] = rb;
            }
            interleave(kt, tail, kt->nr, panel, q, tail_dst);
        }
    }
}

static void i8_task(void *ctx, int64_t t, int worker)
{
    const i8job *j = ctx;
    const ypr_i8kt *kt = j->kt;
    const ypr_conv_shape *s = j->s;
    const geom *g = &j->g;
    int64_t rc = t % j->rchunks, blk = t / j->rchunks % j->nblk,
            gr = t / (j->rchunks * j->nblk) % s->groups,
            img = t / (j->rchunks * j->nblk * s->groups);
    uint8_t *ws = j->scratch + worker * j->per_worker;
    uint8_t *bblk = ws;
    int8_t *rowbuf = (int8_t *)(ws + up(g->nc * g->kpad * elem_bytes(kt), 64));
    int32_t *tile = (int32_t *)(ws + up(g->nc * g->kpad * elem_bytes(kt), 64) + up(4 * g->nc, 64));
    int64_t n0 = blk * g->nc;
    const int8_t *xg = j->x + (img * s->c + gr * (s->c / s->groups)) * s->h * s->w;
    pack_b(kt, s, g, xg, n0, bblk, rowbuf);
    const int32_t *init = (const int32_t *)j->packed;
    const uint8_t *abase = j->packed + g->init_bytes;
    const int64_t bpanel = g->nkg * kt->nr * kt->kg * elem_bytes(kt);
    int64_t p0 = rc * j->panels_per_chunk, p1 = p0 + j->panels_per_chunk;
    p1 = p1 < g->panels ? p1 : g->panels;
    int64_t cols = g->n - n0 < g->nc ? g->n - n0 : g->nc;
    int8_t *yimg = j->y + img * s->oc * g->n;
    for (int64_t p = p0; p < p1; p++) {
        const uint8_t *a = abase + (gr * g->panels + p) * g->panel_bytes;
        const int32_t *in = kt->fmt == YPR_I8F_U8 ? init + (gr * g->panels + p) * kt->mr : NULL;
        int64_t row0 = p * kt->mr, c0 = gr * g->m + row0;
        int m = (int)(g->m - row0 < kt->mr ? g->m - row0 : kt->mr);
        for (int64_t jp = 0; jp * kt->nr < cols; jp++) {
            int n = (int)(cols - jp * kt->nr < kt->nr ? cols - jp * kt->nr : kt->nr);
            kt->gemm(g->nkg, a, bblk + jp * bpanel, in, tile);
            kt->requant(tile, kt->nr, m, n, j->rq, c0, yimg + c0 * g->n + n0 + jp * kt->nr, g->n);
        }
        /* the panel's rows of the block, still in cache */
        ypr__i8_lut_rows(kt, j->rq, yimg + c0 * g->n + n0, m, cols, g->n);
    }
}

int ypr__i8_conv2d(const ypr_i8kt *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const int8_t *x, const void *packed, const ypr_i8rq *rq, int8_t *y,
                   void *scratch)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    i8job j = {kt, s, {0}, x, packed, rq, y, scratch, 0, 0, 0, 0};
    geometry(kt, s, &j.g);
    int workers = ypr__pool_size(pool);
    j.per_worker = ypr__i8_conv_scratch_bytes(kt, s);
    if (!scratch) {
        j.scratch = ypr__alloc((size_t)(j.per_worker * workers));
        RETURN_IF(!j.scratch, YPR_ENOMEM, "int8 conv: out of memory");
    }
    j.nblk = (j.g.n + j.g.nc - 1) / j.g.nc;
    /* Few column blocks (a multiple of the workers is wanted, as every task
     * packs its block's B): with fewer output channels than outputs per
     * channel, narrower blocks, as many per worker (each B packed once);
     * otherwise each block's output rows in as many chunks as make the
     * tasks a multiple of the workers (each worker packs the block's B).
     * Chunks for four tasks per worker had a 20² 1×1 conv pack B eight
     * times, and stride-2 convs (M < N) run no faster on two threads than
     * on one: their im2col packing was repeated per chunk. */
    int64_t base = s->n * s->groups * j.nblk, want = 4 * (int64_t)workers;
    if (workers > 1 && base < want && base % workers && j.g.m < j.g.n) {
        int64_t per_img = (j.nblk + workers - 1) / workers * workers;   /* blocks wanted */
        int64_t pn = (j.g.n + kt->nr - 1) / kt->nr;                      /* column panels */
        if (pn >= per_img) {
            j.g.nc = (pn + per_img - 1) / per_img * kt->nr;
            j.nblk = (j.g.n + j.g.nc - 1) / j.g.nc;
            base = s->n * s->groups * j.nblk;
        }
    }
    if (workers > 1 && base < want && base % workers == 0 && j.nblk > 1) {
        /* the blocks are the tasks: evened out (400 columns: 224 + 176, not
         * 384 + 16, which left one worker idle) */
        int64_t pn = (j.g.n + kt->nr - 1) / kt->nr;
        j.g.nc = (pn + j.nblk - 1) / j.nblk * kt->nr;
    }
    j.rchunks = 1;
    if (workers > 1 && base < want)
        while ((base * j.rchunks) % workers)
            j.rchunks++;
    if (j.rchunks > j.g.panels)
        j.rchunks = j.g.panels;
    j.panels_per_chunk = (j.g.panels + j.rchunks - 1) / j.rchunks;
    j.rchunks = (j.g.panels + j.panels_per_chunk - 1) / j.panels_per_chunk;
    ypr__pool_run(pool, base * j.rchunks, i8_task, &j);
    if (!scratch)
        ypr__free(j.scratch);
    return YPR_OK;
}

/* ------------------------------------------------------------ reference */

static int32_t clampi(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* exp(x) of the INT8 SiLU and sigmoid epilogues, defined by its operations
 * (clamp, range reduction by ln 2 in two parts, a degree-5 polynomial in
 * Horner order, 2^n built in the exponent field; every step a rounded float
 * multiply or add, never fused) so that the vector sets compute it bit for
 * bit. Within 2 ulp of expf over the clamp range. */
float ypr__i8_exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = rintf(x * 1.44269504f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r);
    y = y + r;
    y = y + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return y * two_n;
}

/* The epilogue's activation: ypr__act_ref but for SiLU and sigmoid, which
 * use ypr__i8_exp. */
float ypr__i8_act(float z, int act, float alpha)
{
    switch (act) {
    case YPR_ACT_SILU: return z / (1.0f + ypr__i8_exp(-z));
    case YPR_ACT_SIGMOID: return 1.0f / (1.0f + ypr__i8_exp(-z));
    default: return ypr__act_ref(z, act, alpha);
    }
}

/* The requantization without the table (what ypr_i8kt.requant computes). */
static int8_t requant_core(int32_t acc, const ypr_i8rq *rq, int64_t c)
{
    int32_t q;
    if (rq->mode == YPR_I8RQ_SHIFT) {
        int32_t a = acc + rq->bsh[c];
        if (a < 0 && rq->act == YPR_ACT_RELU) {
            q = 0;
        } else if (a < 0 && rq->act == YPR_ACT_LEAKY) {
            a = a < -rq->lneg ? -rq->lneg : a;
            q = (a * rq->lk + (1 << (rq->sh + 7))) >> (rq->sh + 8);
        } else {
            q = (a + (1 << (rq->sh - 1))) >> rq->sh;
        }
        return (int8_t)clampi(q, rq->qmin, rq->qmax);
    }
    float z = (float)acc * rq->m[c] + rq->b[c];
    z = ypr__i8_act(z, rq->act, rq->alpha);
    float v = z / rq->s_out, lo = (float)rq->qmin, hi = (float)rq->qmax;
    v = v > lo ? v : lo;   /* NaN → qmin, as the fake quantization does */
    v = v < hi ? v : hi;
    switch (rq->round) {
    case YPR_I8R_HALF_AWAY: v = roundf(v); break;
    case YPR_I8R_HALF_UP: v = floorf(v + 0.5f); break;
    default: v = rintf(v); break;
    }
    return (int8_t)(int32_t)v;
}

int8_t ypr__i8_requant1(int32_t acc, const ypr_i8rq *rq, int64_t c)
{
    int8_t q = requant_core(acc, rq, c);
    return rq->lut ? rq->lut[(uint8_t)q] : q;
}

void ypr__i8_requant_ref(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq,
                         int64_t c0, int8_t *y, int64_t ldy)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            y[i * ldy + j] = requant_core(acc[i * nr + j], rq, c0 + i);
}

void ypr__i8_lut_ref(int8_t *y, int64_t n, const int8_t *tab)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tab[(uint8_t)y[i]];
}

void ypr__i8_lut_rows(const ypr_i8kt *kt, const ypr_i8rq *rq, int8_t *y, int64_t rows,
                      int64_t n, int64_t ldy)
{
    if (!rq->lut)
        return;
    void (*f)(int8_t *, int64_t, const int8_t *) = kt->lut ? kt->lut : ypr__i8_lut_ref;
    if (ldy == n) {
        f(y, rows * n, rq->lut);
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        f(y + i * ldy, n, rq->lut);
}

int ypr__i8_conv2d_ref(const ypr_conv_shape *s, const int8_t *x, const int8_t *w,
                       const ypr_i8rq *rq, int8_t *y)
{
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    int64_t cg = s->c / s->groups, og = s->oc / s->groups;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < s->oc; o++) {
            int64_t gr = o / og;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int32_t acc = 0;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < s->kh; ky++)
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                    continue;
                                acc += (int32_t)x[((b * s->c + gr * cg + ci) * s->h + iy) * s->w +
                                                  ix] *
                                       w[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                            }
                    y[((b * s->oc + o) * oh + oy) * ow + ox] = ypr__i8_requant1(acc, rq, o);
                }
        }
    return YPR_OK;
}
