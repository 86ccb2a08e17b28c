/* Direct 3×3 stride-2 convs (kernels.h): output channels in vector lanes,
 * input values broadcast straight from the NCHW input, no packing of the
 * input. The GEMM path packs an implicit im2col of stride-2 columns for
 * these (15–25 % of its time where OC is small); ONNX Runtime's NCHWc
 * direct convs ran yolov7's stride-2 layers at 1.2–1.4× our speed.
 *
 * A task is one image, one block of kt->s2_ocb output channels and a group
 * of output rows. For each chunk of input channels, s2_tile adds the
 * chunk's sums for up to YPR_S2_NP positions at a time into the worker's
 * rows (positions × channels); then the rows go out transposed, through the
 * epilogue (kt->s2_flush). Every output value is summed by one call
 * sequence in a fixed order (chunks, then channels, kernel rows and
 * columns), whatever the worker count. */
#include <string.h>

#include "kernels.h"

/* The packed weights of one block's chunk of input channels, at most, and a
 * worker's group of output rows (positions × s2_ocb floats each), at most:
 * the chunk's weights stay in L2 (1 MiB on the machines measured) while the
 * tiles of the group's rows run over them, the rows adding up the chunks.
 * Measured on yolov7's shapes (chunk / group KiB, alone, two threads): 32 /
 * 128 0.86–1.00 of the GEMM path's time, 64 / 128 0.80–0.97, 128 / 128
 * 0.79–0.99, 256 / 128 0.81–0.97, 128 / 256 0.81–0.93 (kept); one chunk of
 * up to 640 KiB per row, before: 0.82–1.03. */
#define S2_CHUNK_BYTES (128 * 1024)
#define S2_GROUP_BYTES (256 * 1024)

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int ypr__s2_eligible(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return kt && s && kt->s2_tile && kt->s2_ocb > 0 && s->kh == 3 && s->kw == 3 &&
           s->sh == 2 && s->sw == 2 && s->ph == 1 && s->pw == 1 && s->dh == 1 &&
           s->dw == 1 && s->groups == 1;
}

/* Alone, against the GEMM path, two threads (medians of 3 × 9 alternated
 * rounds): yolov7's and yolov7-tiny's stride-2 shapes 0.71–0.92 on AVX-512,
 * 0.86–0.96 on AVX2 (run on the same Zen 5); 8 → 32 @416 0.98 and 0.91; the
 * 3-channel stem 1.04 on AVX-512, so fewer than 8 input channels stay on the
 * GEMM path. */
int ypr__s2_pays(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return ypr__s2_eligible(kt, s) && kt->s2_pays && s->c >= 8;
}

int64_t ypr__s2_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    return ceil_div(s->oc, kt->s2_ocb) * kt->s2_ocb * s->c * 9;
}

void ypr__s2_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst)
{
    const int64_t ocb = kt->s2_ocb, nblk = ceil_div(s->oc, ocb);
    for (int64_t b = 0; b < nblk; b++)
        for (int64_t ic = 0; ic < s->c; ic++)
            for (int t = 0; t < 9; t++) {
                float *d = dst + ((b * s->c + ic) * 9 + t) * ocb;
                for (int64_t o = 0; o < ocb; o++) {
                    int64_t oc = b * ocb + o;
                    d[o] = oc < s->oc ? w[(oc * s->c + ic) * 9 + t] : 0.0f;
                }
            }
}

/* Input channels per chunk: as few chunks as keep a block's chunk of
 * weights within S2_CHUNK_BYTES, evened out. */
static int64_t chunk_ic(const ypr_ktable *kt, const ypr_conv_shape *s)
{
    const int64_t per_ic = 9 * kt->s2_ocb * (int64_t)sizeof(float);
    return ceil_div(s->c, ceil_div(s->c * per_ic, S2_CHUNK_BYTES));
}

/* One output row of a block in a worker's buffer (OW × s2_ocb floats),
 * rounded to whole cache lines. */
static int64_t row_floats(const ypr_ktable *kt, int64_t ow)
{
    return ceil_div(ow * kt->s2_ocb, 16) * 16;
}

/* Output rows per task: as many as fit S2_GROUP_BYTES, fewer where that
 * would leave fewer than 4 tasks per worker. */
static int64_t group_rows(const ypr_ktable *kt, const ypr_conv_shape *s, int64_t oh,
                          int64_t ow, int workers)
{
    int64_t r = S2_GROUP_BYTES / (row_floats(kt, ow) * (int64_t)sizeof(float));
    r = r < 1 ? 1 : r > oh ? oh : r;
    if (workers > 1) {
        const int64_t per = s->n * ceil_div(s->oc, kt->s2_ocb);   /* tasks per group of rows */
        const int64_t groups = ceil_div(4 * workers, per);
        if (groups > 1)
            r = r < ceil_div(oh, groups) ? r : ceil_div(oh, groups);
    }
    return r;
}

int64_t ypr__s2_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers)
{
    int64_t oh, ow;
    if (ypr__conv_check(s, &oh, &ow) != YPR_OK)
        return 0;
    workers = workers > 0 ? workers : 1;
    return (int64_t)workers * group_rows(kt, s, oh, ow, workers) * row_floats(kt, ow);
}

typedef struct s2_job {
    const ypr_ktable *kt;
    const ypr_conv_shape *s;
    const float *x, *pw;
    const ypr_epilogue *ep;
    float *y, *ws;
    int64_t oh, ow, nblk, rows, ngroups, icc;
} s2_job;

/* The worker's row t (positions × s2_ocb) → y's rows (channels × OW),
 * through the epilogue (kt->s2_flush). */
static void flush_row(const s2_job *j, const float *t, int64_t n, int64_t blk, int64_t oh)
{
    const ypr_ktable *kt = j->kt;
    const ypr_conv_shape *s = j->s;
    const int64_t ocb = kt->s2_ocb, oc0 = blk * ocb;
    const ypr_epilogue *ep = j->ep;
    kt->s2_flush(t, ocb, j->ow, (int)min64(ocb, s->oc - oc0),
                 j->y + ((n * s->oc + oc0) * j->oh + oh) * j->ow, j->oh * j->ow,
                 ep && ep->scale ? ep->scale + oc0 : NULL, ep && ep->bias ? ep->bias + oc0 : NULL,
                 ep ? ep->act : YPR_ACT_IDENTITY, ep ? ep->alpha : 0.0f);
}

/* One image, one block of output channels, one group of output rows: per
 * chunk of input channels, every tile of every row of the group (the
 * chunk's weights stay in L1), adding into the rows; then the rows go out. */
static void s2_task(void *ctx, int64_t task, int worker)
{
    const s2_job *j = ctx;
    const ypr_ktable *kt = j->kt;
    const ypr_conv_shape *s = j->s;
    const int64_t grp = task % j->ngroups, rest = task / j->ngroups;
    const int64_t blk = rest % j->nblk, n = rest / j->nblk;
    const int64_t ocb = kt->s2_ocb, plane = s->h * s->w, rowf = row_floats(kt, j->ow);
    const int noc = (int)min64(ocb, s->oc - blk * ocb);
    const int64_t r0 = j->oh * grp / j->ngroups, r1 = j->oh * (grp + 1) / j->ngroups;
    const int64_t nt = ceil_div(j->ow, YPR_S2_NP);
    const float *xn = j->x + n * s->c * plane;
    const float *wb = j->pw + blk * s->c * 9 * ocb;
    float *t = j->ws + worker * j->rows * rowf;
    for (int64_t c0 = 0; c0 < s->c; c0 += j->icc) {
        const int64_t nic = min64(j->icc, s->c - c0);
        const float *wc = wb + c0 * 9 * ocb;
        for (int64_t oh = r0; oh < r1; oh++) {
            const int64_t ih0 = 2 * oh - 1;
            const int kh0 = ih0 < 0 ? (int)-ih0 : 0;
            const int kh1 = ih0 + 3 <= s->h ? 3 : (int)(s->h - ih0);
            const float *xc = xn + c0 * plane + (ih0 + kh0) * s->w;
            float *tr = t + (oh - r0) * rowf;
            for (int64_t i = 0; i < nt; i++) {
                /* tiles of ⌊OW/nt⌋ or ⌈OW/nt⌉ positions: no short last tile */
                const int64_t ow0 = j->ow * i / nt, ow1 = j->ow * (i + 1) / nt;
                kt->s2_tile(xc + 2 * ow0, plane, s->w, wc, nic, kh0, kh1, (int)(ow1 - ow0), noc,
                            ow0 == 0, 2 * ow1 - 1 >= s->w, c0 > 0, tr + ow0 * ocb);
            }
        }
    }
    for (int64_t oh = r0; oh < r1; oh++)
        flush_row(j, t + (oh - r0) * rowf, n, blk, oh);
}

int ypr__conv2d_s2(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                   float *ws)
{
    RETURN_IF(!kt || !s || !x || !packed_w || !y, YPR_EINVAL, "conv2d_s2: NULL pointer");
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    RETURN_IF(!ypr__s2_eligible(kt, s), YPR_EINVAL,
              "conv2d_s2: needs a 3x3 stride-2 conv with padding 1, one group, no dilation "
              "(got %lldx%lld stride %lld,%lld padding %lld,%lld groups %lld) and a set "
              "with the direct stride-2 tile (%s)", (long long)s->kh, (long long)s->kw,
              (long long)s->sh, (long long)s->sw, (long long)s->ph, (long long)s->pw,
              (long long)s->groups, kt->name);
    const int workers = ypr__pool_size(pool);
    s2_job j = {kt, s, x, packed_w, ep, y, ws, oh, ow, ceil_div(s->oc, kt->s2_ocb),
                group_rows(kt, s, oh, ow, workers), 0, chunk_ic(kt, s)};
    /* groups of ⌊OH/groups⌋ or ⌈OH/groups⌉ rows, as many per worker: with
     * groups of `rows` and a short last one, yolov7-tiny's 32→64 @104²
     * gave one worker 54 rows and the other 50 (75 µs apart) */
    j.ngroups = ceil_div(oh, j.rows);
    if (workers > 1 && s->n * j.nblk < workers)
        j.ngroups = ceil_div(j.ngroups, workers) * workers;
    if (j.ngroups > oh)
        j.ngroups = oh;
    float *own = NULL;
    if (!ws) {
        own = ypr__alloc((size_t)ypr__s2_ws_floats(kt, s, workers) * sizeof(float));
        if (!own)
            return YPR_ENOMEM;
        j.ws = own;
    }
    ypr__pool_run(pool, s->n * j.nblk * j.ngroups, s2_task, &j);
    ypr__free(own);
    return YPR_OK;
}
