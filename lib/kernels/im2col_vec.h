/* The vector implicit-im2col packer, written once for every ISA file that
 * includes it (nothing here is compiled on its own).
 *
 * A panel row (one (channel, ky, kx) of B over nr output positions) is cut
 * into chunks of IM2COL_VL slots, each inside one run (one output row). For
 * stride 1 a chunk is one masked load of consecutive input; for stride 2 it
 * is two masked loads and an even-lane pick. The masks (which lanes fall
 * inside the input row) depend only on the run and kx, so they are worked
 * out once per panel; the per-row work is then loads and stores. While the
 * first panel of a block is packed, the input rows of the block after it
 * (which the same worker packs next) are prefetched.
 *
 * The including file defines, before #include:
 *   IM2COL_VL                    lanes per vector
 *   im2col_mask                  its mask type
 *   im2col_vec                   its float vector type
 *   im2col_mask im2col_lanes(int64_t a, int64_t b)   lanes [a, b), clamped
 *   im2col_vec im2col_load(im2col_mask m, const float *p)   masked, zeroing
 *   im2col_vec im2col_loadu(const float *p)                 plain, unaligned
 *   im2col_vec im2col_even(im2col_vec lo, im2col_vec hi)    lanes 0, 2, 4, …
 *   im2col_vec im2col_odd(im2col_vec lo, im2col_vec hi)     lanes 1, 3, 5, …
 *   im2col_vec im2col_zero(void)
 *   void im2col_store(float *d, int cnt, im2col_vec v)      first cnt lanes
 *   im2col_mask im2col_bits(uint32_t b)          lane l set where bit l is
 * and gets
 *   static void im2col_pack_vec(const void *src, int64_t k0, int64_t kc,
 *                               int64_t n0, int64_t nc, int nr, float *dst);
 * which hands shapes it does not cover to ypr__pack_b_im2col_ref. */
#include <stdint.h>

enum { IM2COL_RUNS = 16, IM2COL_KW = 8, IM2COL_CHUNKS = 128 / IM2COL_VL + IM2COL_RUNS,
       IM2COL_NV = 128 / IM2COL_VL };

typedef struct im2col_chunk {
    int64_t src;          /* input x of source lane 0, relative to the row */
    int32_t dst, cnt;     /* first panel slot, slots filled */
    int32_t inside;       /* kx = 0 entries: the three kx of a 3-wide kernel read only
                           * inside the row with whole vectors (im2col_taps3) */
    im2col_mask l0, l1;   /* lanes of the first / second source vector inside the row */
} im2col_chunk;

/* p + i without forming an out-of-object pointer in C terms: the masked-off
 * lanes of the loads that use it are never read. */
static inline const float *im2col_at(const float *p, int64_t i)
{
    return (const float *)((uintptr_t)p + (uintptr_t)(i * (int64_t)sizeof(float)));
}

/* The three panel rows kx = 0, 1, 2 of one (channel, ky) of a 3-wide,
 * undilated kernel (d: the kx = 0 row), in one pass over the chunks: a chunk
 * wholly inside its input row loads each source vector once, unmasked, for
 * all three taps (stride 2: kx = 0 and 1 are the even and odd lanes of the
 * same two vectors); chunks at the row's edges and missing rows (NULL) take
 * the per-tap path. The same values as three passes of the generic loop. */
static inline __attribute__((always_inline)) void
im2col_taps3(float *d, int nr, const im2col_chunk tab[][IM2COL_CHUNKS], const int *first,
             const float *const *rows, int nruns, const int SW)
{
    const int VL = IM2COL_VL;
    float *d1 = d + nr, *d2 = d + 2 * nr;
    for (int i = 0; i < nruns; i++) {
        const float *row = rows[i];
        for (int c = first[i]; c < first[i + 1]; c++) {
            const im2col_chunk *ch = &tab[0][c];
            const int32_t o = ch->dst, cnt = ch->cnt;
            if (!row) {
                im2col_store(d + o, cnt, im2col_zero());
                im2col_store(d1 + o, cnt, im2col_zero());
                im2col_store(d2 + o, cnt, im2col_zero());
            } else if (ch->inside) {
                const float *p = row + ch->src;
                if (SW == 1) {
                    im2col_store(d + o, cnt, im2col_loadu(p));
                    im2col_store(d1 + o, cnt, im2col_loadu(p + 1));
                    im2col_store(d2 + o, cnt, im2col_loadu(p + 2));
                } else {
                    im2col_vec lo = im2col_loadu(p), hi = im2col_loadu(p + VL);
                    im2col_store(d + o, cnt, im2col_even(lo, hi));
                    im2col_store(d1 + o, cnt, im2col_odd(lo, hi));
                    im2col_store(d2 + o, cnt,
                                 im2col_even(im2col_loadu(p + 2), im2col_loadu(p + VL + 2)));
                }
            } else {
                for (int t = 0; t < 3; t++) {
                    const im2col_chunk *ck = &tab[t][c];
                    im2col_vec v;
                    if (SW == 1)
                        v = im2col_load(ck->l0, im2col_at(row, ck->src));
                    else
                        v = im2col_even(im2col_load(ck->l0, im2col_at(row, ck->src)),
                                        im2col_load(ck->l1, im2col_at(row, ck->src + VL)));
                    im2col_store(d + t * nr + o, cnt, v);
                }
            }
        }
    }
}

/* One panel (nr slots × kc rows) once its runs are known; SW is a constant. */
static inline __attribute__((always_inline)) void
im2col_panel(const ypr_im2col_src *s, int64_t k0, int64_t kc, int nr, float *panel,
             const ypr_im2col_run *runs, int nruns, const ypr_im2col_run *next, int nnext,
             int64_t cols, const int SW)
{
    const int VL = IM2COL_VL;
    const int64_t w = s->w;
    /* chunks of each kx, grouped by run: run i owns [first[i], first[i+1]) */
    im2col_chunk tab[IM2COL_KW][IM2COL_CHUNKS];
    int first[IM2COL_RUNS + 1];
    for (int64_t kx = 0; kx < s->kw; kx++) {
        int n = 0;
        for (int i = 0; i < nruns; i++) {
            first[i] = n;
            for (int64_t t = 0; t < runs[i].len; t += VL) {
                int64_t cnt = runs[i].len - t < VL ? runs[i].len - t : VL;
                int64_t lo = runs[i].ox * SW - s->pw + kx + t * SW;
                int64_t end = w - lo < SW * cnt ? w - lo : SW * cnt;   /* source lanes in the row */
                im2col_chunk *ch = &tab[kx][n++];
                ch->src = lo;
                ch->dst = (int32_t)(runs[i].j + t);
                ch->cnt = (int32_t)cnt;
                ch->l0 = im2col_lanes(-lo, end);
                ch->l1 = im2col_lanes(-lo - VL, end - VL);
                /* whole-vector reads of kx = 0, 1, 2 end at lo + SW·VL + 1 */
                ch->inside = lo >= 0 && lo + SW * VL + 2 <= w;
            }
        }
        first[nruns] = n;
    }
    const int64_t khw = s->kh * s->kw;
    int64_t ci = k0 / khw, ky = (k0 % khw) / s->kw, kx = k0 % s->kw;
    const float *rows[IM2COL_RUNS];
    for (int64_t kk = 0; kk < kc;) {
        /* one (channel, ky): the input rows of every run, then its kx */
        const float *plane = s->x + ci * s->h * w;
        if (kx == 0)
            ypr__im2col_prefetch(s, plane, ky, next, nnext);
        for (int i = 0; i < nruns; i++) {
            int64_t iy = runs[i].oy * s->sh - s->ph + ky * s->dh;
            rows[i] = iy >= 0 && iy < s->h ? plane + iy * w : NULL;
        }
        if (kx == 0 && s->kw == 3 && s->dw == 1 && kk + 3 <= kc) {
            im2col_taps3(panel + kk * nr, nr, tab, first, rows, nruns, SW);
            for (int t = 0; t < 3; t++)
                for (int64_t j = cols; j < nr; j++)
                    panel[(kk + t) * nr + j] = 0.0f;
            kx = 3;
            kk += 3;
        }
        for (; kx < s->kw && kk < kc; kx++, kk++) {
            float *d = panel + kk * nr;
            const im2col_chunk *tk = tab[kx];
            for (int i = 0; i < nruns; i++) {
                const float *row = rows[i];
                if (!row) {
                    for (int c = first[i]; c < first[i + 1]; c++)
                        im2col_store(d + tk[c].dst, tk[c].cnt, im2col_zero());
                    continue;
                }
                for (int c = first[i]; c < first[i + 1]; c++) {
                    const im2col_chunk *ch = &tk[c];
                    im2col_vec v;
                    if (SW == 1)
                        v = im2col_load(ch->l0, im2col_at(row, ch->src));
                    else
                        v = im2col_even(im2col_load(ch->l0, im2col_at(row, ch->src)),
                                        im2col_load(ch->l1, im2col_at(row, ch->src + VL)));
                    im2col_store(d + ch->dst, ch->cnt, v);
                }
            }
            for (int64_t j = cols; j < nr; j++)
                d[j] = 0.0f;
        }
        kx = 0;
        if (++ky == s->kh) {
            ky = 0;
            ci++;
        }
    }
}

/* Same-size stride-1 convs (oh = h, ow = w, undilated) whose output rows are
 * narrower than a panel: output p reads input p + (ky − ph)·w + (kx − pw) of
 * its channel plane, so a whole panel row is nr consecutive input floats from
 * one offset, masked where the tap leaves the image. The masks depend only on
 * (ky, kx): worked out once per panel from the few lanes at the image's
 * edges. No runs, whole aligned stores. */
static void im2col_panel_same(const ypr_im2col_src *s, int64_t k0, int64_t kc, int nr,
                              float *panel, int64_t c0, int64_t cols,
                              const ypr_im2col_run *next, int nnext)
{
    const int VL = IM2COL_VL, nv = nr / IM2COL_VL;
    const int64_t w = s->w, h = s->h, kh = s->kh, kw = s->kw, ph = s->ph, pw = s->pw;
    uint32_t colb[IM2COL_KW][IM2COL_NV], rowb[IM2COL_KW][IM2COL_NV];
    for (int v = 0; v < nv; v++) {
        int64_t left = cols - (int64_t)v * VL;
        uint32_t all = left >= VL ? (VL == 32 ? ~0u : (1u << VL) - 1u)
                                  : left > 0 ? (1u << left) - 1u : 0u;
        for (int64_t t = 0; t < kw; t++)
            colb[t][v] = all;
        for (int64_t t = 0; t < kh; t++)
            rowb[t][v] = all;
    }
    /* lanes near the image's edges lose the taps that fall outside */
    int64_t oy = c0 / w, ox = c0 % w;
    for (int64_t j = 0; j < cols; j++) {
        uint32_t bit = 1u << (j % VL);
        int v = (int)(j / VL);
        for (int64_t t = 0; t < kw; t++)
            if (ox + t - pw < 0 || ox + t - pw >= w)
                colb[t][v] &= ~bit;
        if (oy < ph || oy + kh - 1 - ph >= h)
            for (int64_t t = 0; t < kh; t++)
                if (oy + t - ph < 0 || oy + t - ph >= h)
                    rowb[t][v] &= ~bit;
        if (++ox == w) {
            ox = 0;
            oy++;
        }
    }
    im2col_mask tab[IM2COL_KW][IM2COL_KW][IM2COL_NV];
    for (int64_t ky = 0; ky < kh; ky++)
        for (int64_t kx = 0; kx < kw; kx++)
            for (int v = 0; v < nv; v++)
                tab[ky][kx][v] = im2col_bits(rowb[ky][v] & colb[kx][v]);
    const int64_t khw = kh * kw;
    int64_t ci = k0 / khw, ky = (k0 % khw) / kw, kx = k0 % kw;
    for (int64_t kk = 0; kk < kc; kk++) {
        if (kk && ++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ci++;
            }
        }
        const float *plane = s->x + ci * h * w;
        if (kx == 0)
            ypr__im2col_prefetch(s, plane, ky, next, nnext);
        const float *src = im2col_at(plane, c0 + (ky - ph) * w + (kx - pw));
        float *d = panel + kk * nr;
        for (int v = 0; v < nv; v++)
            im2col_store(d + v * VL, VL, im2col_load(tab[ky][kx][v], im2col_at(src, v * VL)));
    }
}

static void im2col_pack_vec(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                            int nr, float *dst)
{
    const ypr_im2col_src *s = src;
    if ((s->sw != 1 && s->sw != 2) || s->dw != 1 || nr % IM2COL_VL || nr > 128 ||
        s->kw > IM2COL_KW) {
        ypr__pack_b_im2col_ref(src, k0, kc, n0, nc, nr, dst);
        return;
    }
    const int64_t total = s->oh * s->ow;
    for (int64_t q = 0; q * nr < nc; q++) {
        float *panel = dst + q * nr * kc;
        int64_t c0 = n0 + q * nr, cols = nc - q * nr < nr ? nc - q * nr : nr;
        ypr_im2col_run runs[IM2COL_RUNS], next[IM2COL_RUNS];
        int nruns = ypr__im2col_runs(s, c0, cols, runs, IM2COL_RUNS), nnext = 0;
        if (nruns == 0) {   /* very narrow output rows: many short runs */
            ypr__pack_b_im2col_ref(src, k0, kc, c0, cols, nr, panel);
            continue;
        }
        if (q == 0 && n0 + nc < total)
            nnext = ypr__im2col_runs(s, n0 + nc, total - (n0 + nc) < nc ? total - (n0 + nc) : nc,
                                     next, IM2COL_RUNS);
        if (s->sw == 1 && s->sh == 1 && s->dh == 1 && s->oh == s->h && s->ow == s->w &&
            s->ow < nr && s->kh <= IM2COL_KW)
            im2col_panel_same(s, k0, kc, nr, panel, c0, cols, next, nnext);
        else if (s->sw == 1)
            im2col_panel(s, k0, kc, nr, panel, runs, nruns, next, nnext, cols, 1);
        else
            im2col_panel(s, k0, kc, nr, panel, runs, nruns, next, nnext, cols, 2);
    }
}
