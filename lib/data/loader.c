/* The training batch loader: YOLOv7's __getitem__ per sample (decode,
 * mosaic or letterbox, random_perspective, mixup, HSV, flips) and worker
 * threads that fill a ring of NSLOTS batch buffers ahead of the consumer.
 *
 * Determinism: sample p of epoch e (its position in the epoch's order)
 * draws every random number from an RNG seeded by (seed, e, p) alone, and
 * the epoch's order is a permutation drawn from (seed, e). Workers only
 * decide *who* computes a sample, never *what* it is, so batches are
 * bit-identical for any worker count and for any starting batch.
 *
 * Threads: workers claim sample positions in order under the mutex; the
 * slot of batch j is j mod NSLOTS and a worker may claim a position only
 * when that slot is free or already holds batch j. The consumer holds the
 * slot of the batch it returned until its next call (the pointers stay
 * valid), so at most NSLOTS − 1 batches are prepared ahead. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define NSLOTS 3
#define MAX_WORKERS 256

/* --------------------------------------------------------- sample pipeline */

static int grow_buf(ypr_aug_scratch *sc, int k, size_t bytes)
{
    if (sc->cap[k] >= bytes)
        return YPR_OK;
    uint8_t *p = realloc(sc->buf[k], bytes);
    RETURN_IF(!p, YPR_ENOMEM, "augment: out of memory (%zu bytes)", bytes);
    sc->buf[k] = p;
    sc->cap[k] = bytes;
    return YPR_OK;
}

static int grow_rows(ypr_aug_scratch *sc, int k, int rows)
{
    if (sc->rcap[k] >= rows)
        return YPR_OK;
    int cap = sc->rcap[k] ? sc->rcap[k] : 64;
    while (cap < rows)
        cap *= 2;
    float *p = realloc(sc->rows[k], (size_t)cap * YPR_AUG_ROW * sizeof(float));
    RETURN_IF(!p, YPR_ENOMEM, "augment: out of memory (%d labels)", cap);
    sc->rows[k] = p;
    sc->rcap[k] = cap;
    return YPR_OK;
}

void ypr__aug_scratch_free(ypr_aug_scratch *sc)
{
    for (int k = 0; k < 4; k++)
        free(sc->buf[k]);
    for (int k = 0; k < 3; k++)
        free(sc->rows[k]);
    memset(sc, 0, sizeof *sc);
}

/* Decode image i with its labels (5-column rows in sc->rows[0], difficult
 * ones left out). */
static int load_raw(const ypr_dataset *ds, int i, ypr_image *img, ypr_aug_scratch *sc, int *n)
{
    const float *src;
    int cnt;
    float tmp[YPR_SYNTH_MAX_OBJ * 6];
    if (ds->synth) {
        TRY(ypr__synth_render(ds, i, img, tmp, &cnt));
        src = tmp;
    } else {
        const ypr_ds_item *it = &ds->items[i];
        TRY(ypr__image_load(it->path, img));
        if (img->w != it->w || img->h != it->h) {
            int w = img->w, h = img->h;
            ypr__image_free(img);
            return ypr__error(YPR_EFORMAT, "%s: decoded size %dx%d differs from its header "
                              "(%dx%d)", it->path, w, h, it->w, it->h);
        }
        src = it->rows;
        cnt = it->n;
    }
    int rc = grow_rows(sc, 0, cnt);
    if (rc < 0) {
        ypr__image_free(img);
        return rc;
    }
    int k = 0;
    for (int j = 0; j < cnt; j++) {
        const float *s = src + (int64_t)j * 6;
        if (s[5] != 0.0f)
            continue;
        memcpy(sc->rows[0] + (int64_t)k * YPR_AUG_ROW, s, YPR_AUG_ROW * sizeof(float));
        k++;
    }
    *n = k;
    return YPR_OK;
}

/* load_image: decode and resize the long side to S (bilinear) into
 * sc->buf[0]; labels (sc->rows[0]) scaled with it. */
static int load_resized(const ypr_dataset *ds, int i, int S, ypr_aug_scratch *sc, int *w,
                        int *h, int *n)
{
    ypr_image img;
    TRY(load_raw(ds, i, &img, sc, n));
    int w0 = img.w, h0 = img.h, nw = w0, nh = h0;
    if ((w0 > h0 ? w0 : h0) != S) {   /* YOLOv7: r = S / max(h0, w0); resize if r != 1 */
        double r = (double)S / (double)(w0 > h0 ? w0 : h0);
        nw = w0 >= h0 ? S : (int)(w0 * r);
        nh = h0 >= w0 ? S : (int)(h0 * r);
        nw = nw < 1 ? 1 : nw;
        nh = nh < 1 ? 1 : nh;
    }
    int rc = grow_buf(sc, 0, (size_t)nw * nh * 3);
    if (rc < 0) {
        ypr__image_free(&img);
        return rc;
    }
    if (nw == w0 && nh == h0)
        memcpy(sc->buf[0], img.rgb, (size_t)nw * nh * 3);
    else
        ypr__aug_resize(img.rgb, w0, h0, sc->buf[0], nw, nh);
    ypr__image_free(&img);
    float fx = (float)nw / (float)w0, fy = (float)nh / (float)h0;
    for (int j = 0; j < *n; j++) {
        float *r = sc->rows[0] + (int64_t)j * YPR_AUG_ROW;
        r[1] *= fx, r[3] *= fx, r[2] *= fy, r[4] *= fy;
    }
    *w = nw;
    *h = nh;
    return YPR_OK;
}

/* Append sc->rows[0][0..n) to sc->rows[k] (*have rows so far). */
static int append_rows(ypr_aug_scratch *sc, int k, int *have, int n)
{
    TRY(grow_rows(sc, k, *have + n));
    memcpy(sc->rows[k] + (int64_t)*have * YPR_AUG_ROW, sc->rows[0],
           (size_t)n * YPR_AUG_ROW * sizeof(float));
    *have += n;
    return YPR_OK;
}

static int rand_index(ypr_rng *r, int count)
{
    int i = (int)ypr__aug_uniform(r, 0.0, (double)count);
    return i < count ? i : count - 1;
}

/* load_mosaic: 4 images around a random centre on a 2S×2S canvas
 * (sc->buf[1]), then random_perspective with border −S/2 into sc->buf[out]
 * (S×S); labels into sc->rows[rk]. */
static int mosaic(const ypr_dataset *ds, int index, const ypr_aug_cfg *cfg, int S, ypr_rng *r,
                  ypr_aug_scratch *sc, int out, int rk, int *n_out)
{
    int s2 = 2 * S;
    TRY(grow_buf(sc, 1, (size_t)s2 * s2 * 3));
    memset(sc->buf[1], YPR_AUG_FILL, (size_t)s2 * s2 * 3);
    int yc = (int)ypr__aug_uniform(r, S / 2.0, 1.5 * S);
    int xc = (int)ypr__aug_uniform(r, S / 2.0, 1.5 * S);
    int idx[4] = {index, 0, 0, 0};
    for (int k = 1; k < 4; k++)
        idx[k] = rand_index(r, ds->count);
    int have = 0;
    for (int k = 0; k < 4; k++) {
        int w, h, n;
        TRY(load_resized(ds, idx[k], S, sc, &w, &h, &n));
        ypr__aug_mosaic_place(sc->buf[1], S, xc, yc, k, sc->buf[0], w, h, sc->rows[0], n);
        TRY(append_rows(sc, rk, &have, n));
    }
    double m[9], sc_s;
    ypr__aug_perspective_matrix(r, cfg, s2, s2, S, S, m, &sc_s);
    TRY(ypr__aug_warp(sc->buf[1], s2, s2, m, cfg->perspective != 0.0f, sc->buf[out], S, S));
    *n_out = have ? ypr__aug_warp_boxes(sc->rows[rk], have, m, cfg->perspective != 0.0f, sc_s,
                                        S, S) : 0;
    return YPR_OK;
}

/* Not a mosaic: load_image, letterbox (auto=False) to S×S, random_perspective. */
static int single(const ypr_dataset *ds, int index, const ypr_aug_cfg *cfg, int S, ypr_rng *r,
                  ypr_aug_scratch *sc, int *n_out)
{
    int w, h, n;
    TRY(load_resized(ds, index, S, sc, &w, &h, &n));
    TRY(grow_buf(sc, 1, (size_t)S * S * 3));
    memset(sc->buf[1], YPR_AUG_FILL, (size_t)S * S * 3);
    int left = (int)lround((S - w) / 2.0 - 0.1), top = (int)lround((S - h) / 2.0 - 0.1);
    for (int y = 0; y < h; y++)
        memcpy(sc->buf[1] + ((int64_t)(top + y) * S + left) * 3,
               sc->buf[0] + (int64_t)y * w * 3, (size_t)w * 3);
    for (int j = 0; j < n; j++) {
        float *rw = sc->rows[0] + (int64_t)j * YPR_AUG_ROW;
        rw[1] += (float)left, rw[3] += (float)left, rw[2] += (float)top, rw[4] += (float)top;
    }
    int have = 0;
    TRY(append_rows(sc, 1, &have, n));
    double m[9], s;
    ypr__aug_perspective_matrix(r, cfg, S, S, S, S, m, &s);
    static const double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (memcmp(m, eye, sizeof eye) != 0)
        TRY(ypr__aug_warp(sc->buf[1], S, S, m, cfg->perspective != 0.0f, sc->buf[2], S, S));
    else
        memcpy(sc->buf[2], sc->buf[1], (size_t)S * S * 3);
    *n_out = have ? ypr__aug_warp_boxes(sc->rows[1], have, m, cfg->perspective != 0.0f, s,
                                        S, S) : 0;
    return YPR_OK;
}

/* No augmentation: the float letterbox straight from the decoded image. */
static int plain(const ypr_dataset *ds, int index, int S, ypr_aug_scratch *sc, float *chw,
                 int *n_out)
{
    ypr_image img;
    int n;
    TRY(load_raw(ds, index, &img, sc, &n));
    ypr_letterbox lb;
    int rc = ypr__letterbox(img.rgb, img.w, img.h, S, S, YPR_AUG_FILL, chw, &lb);
    ypr__image_free(&img);
    TRY(rc);
    int have = 0;
    TRY(append_rows(sc, 1, &have, n));
    for (int j = 0; j < n; j++) {
        float *rw = sc->rows[1] + (int64_t)j * YPR_AUG_ROW;
        rw[1] = rw[1] * lb.ratio + lb.pad_x, rw[3] = rw[3] * lb.ratio + lb.pad_x;
        rw[2] = rw[2] * lb.ratio + lb.pad_y, rw[4] = rw[4] * lb.ratio + lb.pad_y;
    }
    *n_out = n;
    return YPR_OK;
}

/* Pixel xyxy rows → normalized cx cy w h, in place. */
static void to_xywhn(float *rows, int n, int S)
{
    float inv = 1.0f / (float)S;
    for (int j = 0; j < n; j++) {
        float *r = rows + (int64_t)j * YPR_AUG_ROW;
        float x1 = r[1], y1 = r[2], x2 = r[3], y2 = r[4];
        r[1] = (x1 + x2) * 0.5f * inv;
        r[2] = (y1 + y2) * 0.5f * inv;
        r[3] = (x2 - x1) * inv;
        r[4] = (y2 - y1) * inv;
    }
}

int ypr__aug_sample(const ypr_dataset *ds, int index, int augment, const ypr_aug_cfg *cfg,
                    int S, ypr_rng *r, ypr_aug_scratch *sc, float *chw, const float **labels,
                    int *n_out)
{
    RETURN_IF(!ds || !cfg || !r || !sc || !chw || !labels || !n_out, YPR_EINVAL,
              "augment: NULL argument");
    RETURN_IF(index < 0 || index >= ds->count, YPR_ERANGE, "augment: image %d outside [0, %d)",
              index, ds->count);
    RETURN_IF(S < 32 || S > 4096 || S % 32, YPR_EINVAL, "augment: size %d", S);
    *labels = NULL;
    *n_out = 0;
    int n = 0;
    if (!augment) {
        TRY(plain(ds, index, S, sc, chw, &n));
    } else {
        size_t plane = (size_t)S * S * 3;
        TRY(grow_buf(sc, 2, plane));
        int use_mosaic = ypr__aug_uniform(r, 0, 1) < cfg->mosaic;
        if (use_mosaic) {
            TRY(mosaic(ds, index, cfg, S, r, sc, 2, 1, &n));
            if (ypr__aug_uniform(r, 0, 1) < cfg->mixup) {
                int n2;
                TRY(grow_buf(sc, 3, plane));
                TRY(mosaic(ds, rand_index(r, ds->count), cfg, S, r, sc, 3, 2, &n2));
                double a = ypr__aug_beta(r, 8.0, 8.0);   /* YOLOv7's mixup ratio */
                uint8_t *p = sc->buf[2];
                const uint8_t *q = sc->buf[3];
                for (size_t k = 0; k < plane; k++)
                    p[k] = (uint8_t)(p[k] * a + q[k] * (1.0 - a));
                TRY(grow_rows(sc, 1, n + n2));
                memcpy(sc->rows[1] + (int64_t)n * YPR_AUG_ROW, sc->rows[2],
                       (size_t)n2 * YPR_AUG_ROW * sizeof(float));
                n += n2;
            }
        } else {
            TRY(single(ds, index, cfg, S, r, sc, &n));
        }
        double g[3];
        g[0] = ypr__aug_uniform(r, -1, 1) * cfg->hsv_h + 1;
        g[1] = ypr__aug_uniform(r, -1, 1) * cfg->hsv_s + 1;
        g[2] = ypr__aug_uniform(r, -1, 1) * cfg->hsv_v + 1;
        ypr__aug_hsv(sc->buf[2], (int64_t)S * S, g[0], g[1], g[2]);
        if (ypr__aug_uniform(r, 0, 1) < cfg->flipud)
            ypr__aug_flipud(sc->buf[2], S, S, sc->rows[1], n);
        if (ypr__aug_uniform(r, 0, 1) < cfg->fliplr)
            ypr__aug_fliplr(sc->buf[2], S, S, sc->rows[1], n);
        const uint8_t *px = sc->buf[2];
        int64_t npix = (int64_t)S * S;
        for (int64_t k = 0; k < npix; k++)
            for (int c = 0; c < 3; c++)
                chw[c * npix + k] = (float)px[k * 3 + c] * (1.0f / 255.0f);
    }
    if (n > 0)
        to_xywhn(sc->rows[1], n, S);
    *labels = sc->rows[1];
    *n_out = n;
    return YPR_OK;
}

/* ------------------------------------------------------------------ loader */

typedef struct slot {
    int batch;             /* the batch it holds (-1: free) */
    int n, done;           /* samples in the batch, samples finished */
    int status, err_pos;   /* the error of the first failed sample (by position) */
    char msg[1024];
    float *images;         /* batch·3·S·S */
    float **lab;           /* per sample: labels (5 floats a row) */
    int *nlab, *labcap;
    float *targets;        /* assembled by the consumer */
    int64_t tcap;
} slot;

struct ypr_loader {
    const ypr_dataset *ds;
    ypr_loader_opts o;
    int count, nbatches;
    int *perm;             /* the epoch's order */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work, ready, idle;
    int quit, active, epoch;
    int64_t next_pos;      /* next sample position to hand out */
    int cons;              /* the batch the consumer takes next */
    int held;              /* slot held by the consumer (-1: none) */
    int busy;              /* workers inside a sample */
    slot slots[NSLOTS];
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t sample_seed(uint64_t seed, int epoch, int64_t pos)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
    h = mix64(h ^ ((uint64_t)epoch + 0x632be59bd9b4e019ULL));
    return mix64(h ^ ((uint64_t)pos * 0x9e3779b97f4a7c15ULL + 0x85157af5ULL));
}

/* The slot for position p, claimed for its batch; NULL if still held by an
 * earlier batch. Under mu. */
static slot *claim(ypr_loader *l, int64_t p)
{
    int j = (int)(p / l->o.batch);
    slot *s = &l->slots[j % NSLOTS];
    if (s->batch == j)
        return s;
    if (s->batch != -1)
        return NULL;
    s->batch = j;
    int64_t rest = l->count - (int64_t)j * l->o.batch;
    s->n = rest < l->o.batch ? (int)rest : l->o.batch;
    s->done = 0;
    s->status = 0;
    s->err_pos = -1;
    return s;
}

static void run_sample(ypr_loader *l, slot *s, int64_t p, int index, int epoch,
                       ypr_aug_scratch *sc)
{
    int k = (int)(p % l->o.batch), S = l->o.size;
    ypr_rng r;
    ypr__rng_seed(&r, sample_seed(l->o.seed, epoch, p));
    const float *lab;
    int n;
    float *chw = s->images + (int64_t)k * 3 * S * S;
    int rc = ypr__aug_sample(l->ds, index, l->o.augment, &l->o.aug, S, &r, sc, chw, &lab, &n);
    if (rc >= 0 && n > s->labcap[k]) {
        float *nl = realloc(s->lab[k], (size_t)n * YPR_AUG_ROW * sizeof(float));
        if (!nl)
            rc = ypr__error(YPR_ENOMEM, "loader: out of memory (%d labels)", n);
        else
            s->lab[k] = nl, s->labcap[k] = n;
    }
    if (rc >= 0) {
        if (n)
            memcpy(s->lab[k], lab, (size_t)n * YPR_AUG_ROW * sizeof(float));
        s->nlab[k] = n;
        return;
    }
    /* keep the message of the first failing sample (by position) */
    pthread_mutex_lock(&l->mu);
    if (s->err_pos < 0 || p < s->err_pos) {
        const char *msg = ypr_last_error(), *name = ypr_err_name(rc);
        size_t nl = strlen(name);
        if (!strncmp(msg, name, nl) && msg[nl] == ':' && msg[nl + 1] == ' ')
            msg += nl + 2;
        snprintf(s->msg, sizeof s->msg, "%s", msg);
        s->status = rc;
        s->err_pos = (int)p;
    }
    pthread_mutex_unlock(&l->mu);
}

static void *worker_main(void *arg)
{
    ypr_loader *l = arg;
    ypr_aug_scratch sc;
    memset(&sc, 0, sizeof sc);
    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        slot *s = NULL;
        if (l->active && l->next_pos < l->count)
            s = claim(l, l->next_pos);
        if (!s) {
            pthread_cond_wait(&l->work, &l->mu);
            continue;
        }
        int64_t p = l->next_pos++;
        int index = l->perm[p], epoch = l->epoch;
        l->busy++;
        pthread_mutex_unlock(&l->mu);
        run_sample(l, s, p, index, epoch, &sc);
        pthread_mutex_lock(&l->mu);
        l->busy--;
        if (++s->done == s->n)
            pthread_cond_broadcast(&l->ready);
        if (l->busy == 0)
            pthread_cond_broadcast(&l->idle);
    }
    pthread_mutex_unlock(&l->mu);
    ypr__aug_scratch_free(&sc);
    return NULL;
}

static int check_opts(const ypr_dataset *ds, const ypr_loader_opts *o)
{
    RETURN_IF(!ds || !o, YPR_EINVAL, "loader: NULL argument");
    RETURN_IF(ds->count < 1, YPR_EINVAL, "loader: empty dataset");
    RETURN_IF(o->batch < 1 || o->batch > 65536, YPR_EINVAL, "loader: batch %d outside 1..65536",
              o->batch);
    RETURN_IF(o->size < 32 || o->size > 4096 || o->size % 32, YPR_EINVAL,
              "loader: size %d is not a multiple of 32 in 32..4096", o->size);
    RETURN_IF(o->augment != 0 && o->augment != 1, YPR_EINVAL, "loader: augment %d (0 or 1)",
              o->augment);
    RETURN_IF(o->workers < 1 || o->workers > MAX_WORKERS, YPR_EINVAL,
              "loader: workers %d outside 1..%d", o->workers, MAX_WORKERS);
    const ypr_aug_cfg *a = &o->aug;
    const struct { const char *name; float v, hi; } k[] = {
        {"hsv_h", a->hsv_h, 1}, {"hsv_s", a->hsv_s, 1}, {"hsv_v", a->hsv_v, 1},
        {"degrees", a->degrees, 360}, {"translate", a->translate, 1},
        {"scale", a->scale, 0.99f}, {"shear", a->shear, 80}, {"perspective", a->perspective, 0.01f},
        {"flipud", a->flipud, 1}, {"fliplr", a->fliplr, 1}, {"mosaic", a->mosaic, 1},
        {"mixup", a->mixup, 1}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        RETURN_IF(!(k[i].v >= 0 && k[i].v <= k[i].hi), YPR_EINVAL,
                  "loader: hyp %s %g outside [0, %g]", k[i].name, k[i].v, k[i].hi);
    return YPR_OK;
}

static void stop_workers(ypr_loader *l)
{
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->work);
    pthread_cond_broadcast(&l->ready);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
    l->nthreads = 0;
}

void ypr__loader_free(ypr_loader *l)
{
    if (!l)
        return;
    stop_workers(l);
    for (int k = 0; k < NSLOTS; k++) {
        slot *s = &l->slots[k];
        for (int i = 0; s->lab && i < l->o.batch; i++)
            free(s->lab[i]);
        free(s->lab);
        free(s->nlab);
        free(s->labcap);
        free(s->targets);
        ypr__free(s->images);
    }
    free(l->threads);
    free(l->perm);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_cond_destroy(&l->idle);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int ypr__loader_create(const ypr_dataset *ds, const ypr_loader_opts *o, ypr_loader **out)
{
    RETURN_IF(!out, YPR_EINVAL, "loader: NULL output");
    *out = NULL;
    TRY(check_opts(ds, o));
    int64_t per = 0;
    RETURN_IF(ypr__mul_size((int64_t)o->batch * 3, (int64_t)o->size * o->size, &per) < 0 ||
              ypr__mul_size(per, sizeof(float), &per) < 0, YPR_ERANGE,
              "loader: batch %d of %dx%d images is too large", o->batch, o->size, o->size);
    ypr_loader *l = calloc(1, sizeof *l);
    RETURN_IF(!l, YPR_ENOMEM, "loader: out of memory");
    l->ds = ds;
    l->o = *o;
    l->count = ds->count;
    l->nbatches = (int)(((int64_t)ds->count + o->batch - 1) / o->batch);
    l->held = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->idle, NULL);
    l->perm = malloc((size_t)l->count * sizeof *l->perm);
    l->threads = calloc((size_t)o->workers, sizeof *l->threads);
    int ok = l->perm && l->threads;
    for (int k = 0; k < NSLOTS && ok; k++) {
        slot *s = &l->slots[k];
        s->batch = -1;
        s->images = ypr__alloc((size_t)per);
        s->lab = calloc((size_t)o->batch, sizeof *s->lab);
        s->nlab = calloc((size_t)o->batch, sizeof *s->nlab);
        s->labcap = calloc((size_t)o->batch, sizeof *s->labcap);
        ok = s->images && s->lab && s->nlab && s->labcap;
    }
    if (!ok) {
        ypr__loader_free(l);
        return ypr__error(YPR_ENOMEM, "loader: out of memory (%d slots of %lld bytes)", NSLOTS,
                          (long long)per);
    }
    for (int i = 0; i < o->workers; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0) {
            ypr__loader_free(l);
            return ypr__error(YPR_EIO, "loader: cannot start worker thread %d", i);
        }
        l->nthreads++;
    }
    *out = l;
    return YPR_OK;
}

int ypr__loader_num_batches(const ypr_loader *l)
{
    return l ? l->nbatches : 0;
}

int ypr__loader_start(ypr_loader *l, int epoch, int first)
{
    RETURN_IF(!l, YPR_EINVAL, "loader_start: NULL loader");
    RETURN_IF(epoch < 0, YPR_EINVAL, "loader_start: epoch %d", epoch);
    RETURN_IF(first < 0 || first > l->nbatches, YPR_EINVAL,
              "loader_start: batch %d outside [0, %d]", first, l->nbatches);
    pthread_mutex_lock(&l->mu);
    l->active = 0;
    while (l->busy > 0)
        pthread_cond_wait(&l->idle, &l->mu);
    for (int k = 0; k < NSLOTS; k++)
        l->slots[k].batch = -1;
    l->held = -1;
    for (int i = 0; i < l->count; i++)
        l->perm[i] = i;
    if (l->o.shuffle) {
        ypr_rng r;
        ypr__rng_seed(&r, mix64(l->o.seed ^ mix64((uint64_t)epoch + 0x5851f42d4c957f2dULL)));
        for (int i = l->count - 1; i > 0; i--) {
            int j = (int)ypr__aug_uniform(&r, 0.0, (double)i + 1.0);
            j = j > i ? i : j;
            int t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->epoch = epoch;
    l->cons = first;
    l->next_pos = (int64_t)first * l->o.batch;
    l->active = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return YPR_OK;
}

/* Concatenate the slot's per-sample labels into [nt, 6] targets. */
static int assemble(ypr_loader *l, slot *s, ypr_batch *b)
{
    int64_t nt = 0;
    for (int k = 0; k < s->n; k++)
        nt += s->nlab[k];
    if (nt * 6 > s->tcap) {
        float *t = realloc(s->targets, (size_t)nt * 6 * sizeof(float));
        RETURN_IF(!t, YPR_ENOMEM, "loader: out of memory (%lld targets)", (long long)nt);
        s->targets = t;
        s->tcap = nt * 6;
    }
    float *o = s->targets;
    for (int k = 0; k < s->n; k++)
        for (int j = 0; j < s->nlab[k]; j++, o += 6) {
            o[0] = (float)k;
            memcpy(o + 1, s->lab[k] + (int64_t)j * YPR_AUG_ROW, YPR_AUG_ROW * sizeof(float));
        }
    b->n = s->n;
    b->images = s->images;
    b->targets = s->targets;
    b->nt = nt;
    (void)l;
    return YPR_OK;
}

int ypr__loader_next(ypr_loader *l, ypr_batch *b)
{
    RETURN_IF(!l || !b, YPR_EINVAL, "loader_next: NULL argument");
    pthread_mutex_lock(&l->mu);
    if (!l->active) {
        pthread_mutex_unlock(&l->mu);
        return ypr__error(YPR_ESTATE, "loader_next: no epoch started");
    }
    if (l->held >= 0) {
        l->slots[l->held].batch = -1;
        l->held = -1;
        pthread_cond_broadcast(&l->work);
    }
    if (l->cons >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        return YPR_ENOTFOUND;
    }
    int j = l->cons;
    slot *s = &l->slots[j % NSLOTS];
    while (!(s->batch == j && s->done == s->n) && !l->quit)
        pthread_cond_wait(&l->ready, &l->mu);
    l->held = j % NSLOTS;
    l->cons++;
    int status = s->status;
    pthread_mutex_unlock(&l->mu);
    if (status < 0)
        return ypr__error(status, "%s", s->msg);
    return assemble(l, s, b);
}
