/* ypr_evaluator: runs a model over a dataset the way YOLOv7's test.py does
 * (images sorted by aspect ratio into batches, each batch letterboxed to its
 * rectangular canvas, batched forward, NMS with confidence 0.001, IoU 0.65,
 * multi-label, 300 detections, boxes back to image pixels), or scores
 * detections made elsewhere, and reports through lib/eval/metrics.c.
 * It never changes the model's settings: it decodes with its own. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"
#include "include/yolopr.h"
#include "lib/data/data.h"
#include "lib/model/model.h"

struct ypr_evaluator {
    ypr_model *model;             /* may be NULL: external detections only */
    const ypr_dataset *ds;
    float conf, iou;
    int max_det, metric, size, batch, multi_label, max_images, rect, cap_canvas;
    ypr_progress_fn progress;
    void *user;
    ypr_eval_acc *acc;
    int *added;                   /* per image: detections added (external mode) */
    int nimages;
    ypr_eval_result res;
    int have_result;
    double t_infer, t_nms;        /* seconds, summed */
    int64_t timed_images;
    char plan[48];                /* the model's plan of the timed passes */
    char **names;                 /* class names from the dataset (borrowed) */
};

static int ds_count(const ypr_evaluator *e)
{
    int n = ypr_dataset_count(e->ds);
    return e->max_images > 0 && e->max_images < n ? e->max_images : n;
}

int ypr_evaluator_create(ypr_model *model, const ypr_dataset *ds, ypr_evaluator **out)
{
    RETURN_IF(!ds || !out, YPR_EINVAL, "evaluator: NULL dataset or output");
    *out = NULL;
    int nc = ypr_dataset_num_classes(ds);
    RETURN_IF(nc < 1, YPR_EINVAL, "evaluator: dataset has no classes");
    if (model) {
        int mnc = ypr_model_num_classes(model);
        RETURN_IF(mnc != nc, YPR_EINVAL,
                  "evaluator: the model predicts %d classes, the dataset has %d", mnc, nc);
    }
    ypr_evaluator *e = calloc(1, sizeof *e);
    RETURN_IF(!e, YPR_ENOMEM, "evaluator: out of memory");
    e->model = model;
    e->ds = ds;
    e->conf = 0.001f;
    e->iou = 0.65f;
    e->max_det = 300;
    e->metric = YPR_METRIC_YOLOV7;
    e->size = 640;
    e->batch = 1;
    e->multi_label = 1;
    e->rect = 1;
    e->names = calloc((size_t)nc, sizeof(char *));
    if (!e->names) {
        free(e);
        return ypr__error(YPR_ENOMEM, "evaluator: out of memory");
    }
    for (int i = 0; i < nc; i++)
        e->names[i] = (char *)ypr_dataset_class_name(ds, i);
    *out = e;
    return YPR_OK;
}

static void reset(ypr_evaluator *e)
{
    ypr__eval_free(e->acc);
    e->acc = NULL;
    free(e->added);
    e->added = NULL;
    if (e->have_result)
        ypr__eval_result_free(&e->res);
    e->have_result = 0;
    e->t_infer = e->t_nms = 0;
    e->timed_images = 0;
    e->plan[0] = '\0';
}

void ypr_evaluator_free(ypr_evaluator *e)
{
    if (!e)
        return;
    reset(e);
    free(e->names);
    free(e);
}

int ypr_evaluator_set_float(ypr_evaluator *e, int key, double v)
{
    RETURN_IF(!e, YPR_EINVAL, "evaluator: NULL handle");
    RETURN_IF(key != YPR_EVAL_CONF_THRESHOLD && key != YPR_EVAL_IOU_THRESHOLD, YPR_EINVAL,
              "evaluator: %d is not a float setting", key);
    RETURN_IF(!(v >= 0 && v <= 1), YPR_ERANGE, "evaluator: threshold %g outside [0, 1]", v);
    switch (key) {
    case YPR_EVAL_CONF_THRESHOLD: e->conf = (float)v; return YPR_OK;
    case YPR_EVAL_IOU_THRESHOLD: e->iou = (float)v; return YPR_OK;
    default: return ypr__error(YPR_EINVAL, "evaluator: %d is not a float setting", key);
    }
}

int ypr_evaluator_set_int(ypr_evaluator *e, int key, int64_t v)
{
    RETURN_IF(!e, YPR_EINVAL, "evaluator: NULL handle");
    switch (key) {
    case YPR_EVAL_MAX_DET:
        RETURN_IF(v < 1 || v > 100000, YPR_ERANGE, "evaluator: max detections %lld", (long long)v);
        e->max_det = (int)v;
        return YPR_OK;
    case YPR_EVAL_METRIC:
        RETURN_IF(v != YPR_METRIC_YOLOV7 && v != YPR_METRIC_COCO, YPR_ERANGE,
                  "evaluator: metric %lld (0 yolov7, 1 coco)", (long long)v);
        e->metric = (int)v;
        return YPR_OK;
    case YPR_EVAL_INPUT_SIZE:
        RETURN_IF(v < 32 || v > 8192 || v % 32, YPR_ERANGE,
                  "evaluator: input size %lld must be a multiple of 32", (long long)v);
        e->size = (int)v;
        return YPR_OK;
    case YPR_EVAL_BATCH:
        RETURN_IF(v < 1 || v > 256, YPR_ERANGE, "evaluator: batch %lld outside 1..256", (long long)v);
        e->batch = (int)v;
        return YPR_OK;
    case YPR_EVAL_MULTI_LABEL: e->multi_label = v != 0; return YPR_OK;
    case YPR_EVAL_RECT: e->rect = v != 0; return YPR_OK;
    case YPR_EVAL_CAP_CANVAS: e->cap_canvas = v != 0; return YPR_OK;
    case YPR_EVAL_MAX_IMAGES:
        RETURN_IF(v < 0 || v > INT32_MAX, YPR_ERANGE, "evaluator: max images %lld", (long long)v);
        e->max_images = (int)v;
        return YPR_OK;
    default: return ypr__error(YPR_EINVAL, "evaluator: %d is not an integer setting", key);
    }
}

int ypr_evaluator_set_progress(ypr_evaluator *e, ypr_progress_fn fn, void *user)
{
    RETURN_IF(!e, YPR_EINVAL, "evaluator: NULL handle");
    e->progress = fn;
    e->user = user;
    return YPR_OK;
}

/* Ground truth of image i as eval rows (cls x1 y1 x2 y2 difficult). */
static int labels_of(const ypr_evaluator *e, int i, float **rows, int *n)
{
    int count = 0;
    TRY(ypr_dataset_labels(e->ds, i, NULL, 0, &count));
    float *r = malloc((size_t)(count > 0 ? count : 1) * 6 * sizeof(float));
    RETURN_IF(!r, YPR_ENOMEM, "evaluator: out of memory");
    int rc = ypr_dataset_labels(e->ds, i, r, count, &count);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *rows = r;
    *n = count;
    return YPR_OK;
}

static int start(ypr_evaluator *e)
{
    reset(e);
    e->nimages = ds_count(e);
    TRY(ypr__eval_create(ypr_dataset_num_classes(e->ds), e->metric, &e->acc));
    e->added = calloc((size_t)(e->nimages > 0 ? e->nimages : 1), sizeof(int));
    RETURN_IF(!e->added, YPR_ENOMEM, "evaluator: out of memory");
    return YPR_OK;
}

/* The grid stride test.py letterboxes to: the model's largest, at least 32. */
static int grid_stride(const ypr_evaluator *e)
{
    int s = ypr__model_max_stride(e->model);
    return s > 32 ? s : 32;
}

/* Canvas of an image, as YOLOv7's test.py (rect, pad 0.5) shapes it: the
 * long side at ceil(size / gs + 0.5) · gs, the short side at
 * ceil(ar · size / gs + 0.5) · gs (ar = short / long), so a square image at
 * 640 gets 672 × 672. Test.py gives a batch the shape of its extreme aspect
 * ratios, which is the largest canvas of its images. With YPR_EVAL_CAP_CANVAS
 * neither side exceeds the input size; without rect it is size × size. */
static void canvas_of(const ypr_evaluator *e, int w, int h, int *cw, int *ch)
{
    if (!e->rect) {
        *cw = *ch = e->size;
        return;
    }
    int gs = grid_stride(e);
    double ar = (double)h / (double)w, sy = 1.0, sx = 1.0;
    if (ar < 1)
        sy = ar;
    else if (ar > 1)
        sx = 1.0 / ar;
    *ch = (int)ceil(sy * e->size / gs + 0.5) * gs;
    *cw = (int)ceil(sx * e->size / gs + 0.5) * gs;
    if (e->cap_canvas) {
        if (*ch > e->size) *ch = e->size;
        if (*cw > e->size) *cw = e->size;
    }
}

/* The largest canvas side any image can get. */
static int max_canvas(const ypr_evaluator *e)
{
    if (!e->rect || e->cap_canvas)
        return e->size;
    int gs = grid_stride(e);
    return (int)ceil((double)e->size / gs + 0.5) * gs;
}

typedef struct by_ar { double ar; int i; } by_ar;

static int cmp_ar(const void *a, const void *b)
{
    const by_ar *x = a, *y = b;
    if (x->ar != y->ar)
        return x->ar < y->ar ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Evaluation order: test.py's rect loader sorts the images by aspect ratio
 * (h / w) before cutting batches, so a batch holds similar shapes; ties keep
 * the dataset's order. Sizes come from the image headers (synthetic images
 * are square); an unreadable header sorts as square and its decode fails
 * later with the file named. */
static int eval_order(const ypr_evaluator *e, int **out)
{
    int n = e->nimages;
    int *order = malloc((size_t)n * sizeof *order);
    by_ar *k = malloc((size_t)n * sizeof *k);
    if (!order || !k) {
        free(order);
        free(k);
        return ypr__error(YPR_ENOMEM, "evaluator: out of memory");
    }
    for (int i = 0; i < n; i++) {
        const char *path = ypr_dataset_image_path(e->ds, i);
        int w = 0, h = 0;
        k[i].ar = 1.0;
        k[i].i = i;
        if (e->rect && path && *path && ypr__image_size(path, &w, &h) == YPR_OK && w > 0 && h > 0)
            k[i].ar = (double)h / (double)w;
    }
    ypr__clear_error();
    if (e->rect)
        qsort(k, (size_t)n, sizeof *k, cmp_ar);
    for (int i = 0; i < n; i++)
        order[i] = k[i].i;
    free(k);
    *out = order;
    return YPR_OK;
}

typedef struct slot { uint8_t *rgb; int w, h; ypr_letterbox lb; } slot;

/* Detections of image k of the batch in canvas pixels back to the image's,
 * as test.py's scale_coords: minus the unrounded half padding (the image
 * itself sits at round(pad - 0.1)), divided by the resize gain (test.py
 * takes the height's for both axes), clipped to the image. */
static void to_image(float *dets, int nd, const slot *s, int cw, int ch)
{
    float px = (float)(cw - s->lb.new_w) / 2.0f, py = (float)(ch - s->lb.new_h) / 2.0f;
    float gain = (float)s->lb.new_h / (float)s->h;
    for (int d = 0; d < nd; d++) {
        float *b = dets + d * 6;
        for (int q = 0; q < 4; q++) {
            float v = (b[q] - ((q & 1) ? py : px)) / gain;
            float lim = (float)((q & 1) ? s->h : s->w);
            b[q] = v < 0 ? 0 : (v > lim ? lim : v);
        }
    }
}

static int run_batch(ypr_evaluator *e, const int *idx, int n, int first, float *x, slot *sl)
{
    int cw = 0, ch = 0;
    for (int k = 0; k < n; k++) {
        int w, h;
        sl[k].rgb = NULL;
        TRY(ypr_dataset_image(e->ds, idx[k], &sl[k].rgb, &sl[k].w, &sl[k].h));
        canvas_of(e, sl[k].w, sl[k].h, &w, &h);
        if (w > cw) cw = w;
        if (h > ch) ch = h;
    }
    for (int k = 0; k < n; k++) {
        /* test.py resizes the long side to the input size first, then pads */
        float r = (float)e->size / (float)(sl[k].w > sl[k].h ? sl[k].w : sl[k].h);
        TRY(ypr__letterbox_ratio(sl[k].rgb, sl[k].w, sl[k].h, cw, ch, r, 114,
                                 x + (size_t)k * 3 * cw * ch, &sl[k].lb));
    }
    if (first)   /* warm-up: the first pass builds the plan (packs weights) */
        TRY(ypr_model_forward(e->model, x, n, ch, cw));
    double t0 = ypr__now();
    TRY(ypr_model_forward(e->model, x, n, ch, cw));
    double t1 = ypr__now();
    snprintf(e->plan, sizeof e->plan, "%s", ypr_model_plan_name(e->model));
    float *dets = malloc((size_t)e->max_det * 6 * sizeof(float));
    RETURN_IF(!dets, YPR_ENOMEM, "evaluator: out of memory");
    /* test.py's NMS: per class through boxes offset by class × 4096 */
    const ypr_decode_opts opts = {e->conf, e->iou, e->multi_label, 0, e->max_det, 4096.0f};
    int rc = YPR_OK;
    for (int k = 0; k < n && rc == YPR_OK; k++) {
        int nd = 0;
        rc = ypr__model_decode_with(e->model, k, &opts, dets, e->max_det, &nd);
        if (rc == YPR_OK)
            to_image(dets, nd, &sl[k], cw, ch);
        float *gt = NULL;
        int ngt = 0;
        if (rc == YPR_OK)
            rc = labels_of(e, idx[k], &gt, &ngt);
        if (rc == YPR_OK)
            rc = ypr__eval_add(e->acc, dets, nd, gt, ngt);
        free(gt);
    }
    free(dets);
    e->t_infer += t1 - t0;
    e->t_nms += ypr__now() - t1;
    e->timed_images += n;
    return rc;
}

static int finish(ypr_evaluator *e)
{
    TRY(ypr__eval_compute(e->acc, &e->res));
    e->have_result = 1;
    return YPR_OK;
}

int ypr_evaluator_run(ypr_evaluator *e)
{
    RETURN_IF(!e, YPR_EINVAL, "evaluator: NULL handle");
    RETURN_IF(!e->model, YPR_ESTATE, "evaluator: no model (use add_detections)");
    TRY(start(e));
    RETURN_IF(e->nimages < 1, YPR_ENOTFOUND,
              "evaluator: no images to evaluate (the dataset is empty or every image was skipped)");
    int *order = NULL;
    TRY(eval_order(e, &order));
    size_t side = (size_t)max_canvas(e);
    float *x = ypr__alloc((size_t)e->batch * 3 * side * side * sizeof(float));
    slot *sl = calloc((size_t)e->batch, sizeof *sl);
    int rc = x && sl ? YPR_OK : ypr__error(YPR_ENOMEM, "evaluator: out of memory");
    for (int i = 0; rc == YPR_OK && i < e->nimages; i += e->batch) {
        int n = e->nimages - i < e->batch ? e->nimages - i : e->batch;
        rc = run_batch(e, order + i, n, i == 0, x, sl);
        for (int k = 0; k < n; k++) {
            ypr_free(sl[k].rgb);
            sl[k].rgb = NULL;
        }
        if (rc == YPR_OK && e->progress && e->progress(e->user, i + n, e->nimages))
            rc = ypr__error(YPR_ECANCELED, "evaluator: canceled after %d of %d images", i + n,
                            e->nimages);
    }
    ypr__free(x);
    free(sl);
    free(order);
    return rc < 0 ? rc : finish(e);
}

int ypr_evaluator_add_detections(ypr_evaluator *e, int image, const float *dets, int n)
{
    RETURN_IF(!e || (!dets && n > 0) || n < 0, YPR_EINVAL, "evaluator: bad arguments");
    if (!e->acc || e->have_result)
        TRY(start(e));
    RETURN_IF(image < 0 || image >= e->nimages, YPR_ERANGE,
              "evaluator: image %d outside 0..%d", image, e->nimages - 1);
    RETURN_IF(e->added[image], YPR_ESTATE, "evaluator: detections for image %d added twice", image);
    float *gt = NULL;
    int ngt = 0;
    TRY(labels_of(e, image, &gt, &ngt));
    int rc = ypr__eval_add(e->acc, dets, n, gt, ngt);
    free(gt);
    if (rc == YPR_OK)
        e->added[image] = 1;
    return rc;
}

int ypr_evaluator_compute(ypr_evaluator *e)
{
    RETURN_IF(!e, YPR_EINVAL, "evaluator: NULL handle");
    if (!e->acc)
        TRY(start(e));
    RETURN_IF(e->nimages < 1, YPR_ENOTFOUND,
              "evaluator: no images to evaluate (the dataset is empty or every image was skipped)");
    /* images never given detections still count their labels as misses */
    for (int i = 0; i < e->nimages; i++) {
        if (e->added[i])
            continue;
        float *gt = NULL;
        int ngt = 0;
        TRY(labels_of(e, i, &gt, &ngt));
        int rc = ypr__eval_add(e->acc, NULL, 0, gt, ngt);
        free(gt);
        TRY(rc);
        e->added[i] = 1;
    }
    return finish(e);
}

/* File stem of a path: "a/b/img01.jpg" → "img01". */
static void stem_of(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot)
        *dot = '\0';
}

#define DET_FILE_MAX ((size_t)16 << 20)
#define DET_MAX 4096

/* One detections file (`class cx cy w h conf` lines, normalized to the w × h
 * image) into dets (DET_MAX rows of 6, pixels); every error names the file
 * and, for its content, the line. */
static int parse_detections(const char *path, int nc, int w, int h, float *dets, int *ndet)
{
    char *text = NULL;
    size_t len = 0;
    TRY(ypr__read_text(path, DET_FILE_MAX, &text, &len));
    int rc = YPR_OK, n = 0, line = 0;
    const char *nul = memchr(text, 0, len);
    if (nul) {
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        free(text);
        return ypr__error(YPR_EFORMAT, "%s:%d: NUL byte (not a text file)", path, line + 1);
    }
    char *cur = text, *l;
    while (rc == YPR_OK && cur && (l = ypr__next_line(&cur)) != NULL) {
        line++;
        while (isspace((unsigned char)*l))
            l++;
        if (!*l)
            continue;
        float c, cx, cy, bw, bh, conf;
        char extra;
        if (sscanf(l, "%f %f %f %f %f %f %c", &c, &cx, &cy, &bw, &bh, &conf, &extra) != 6 ||
            !isfinite(cx) || !isfinite(cy) || !isfinite(bw) || !isfinite(bh)) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: expected 'class cx cy w h conf' (6 numbers)",
                            path, line);
            break;
        }
        if (!(c >= 0 && c < (float)nc) || c != floorf(c)) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: class %g outside 0..%d", path, line, c, nc - 1);
            break;
        }
        if (!(conf >= 0 && conf <= 1) || !(bw >= 0) || !(bh >= 0)) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: %s", path, line,
                            conf >= 0 && conf <= 1 ? "negative box size"
                                                   : "confidence outside [0, 1]");
            break;
        }
        if (n == DET_MAX) {
            rc = ypr__error(YPR_ERANGE, "%s:%d: more than %d detections", path, line, DET_MAX);
            break;
        }
        float *d = dets + n * 6;
        d[0] = (cx - bw / 2) * (float)w;
        d[1] = (cy - bh / 2) * (float)h;
        d[2] = (cx + bw / 2) * (float)w;
        d[3] = (cy + bh / 2) * (float)h;
        d[4] = conf;
        d[5] = c;
        n++;
    }
    free(text);
    *ndet = n;
    return rc;
}

int ypr_evaluator_read_detections(ypr_evaluator *e, const char *dir)
{
    RETURN_IF(!e || !dir, YPR_EINVAL, "evaluator: NULL argument");
    RETURN_IF(!ypr__is_dir(dir), YPR_ENOTFOUND, "%s: %s", dir,
              access(dir, F_OK) == 0 ? "not a folder" : "no such folder");
    TRY(start(e));
    RETURN_IF(e->nimages < 1, YPR_ENOTFOUND,
              "evaluator: no images to evaluate (the dataset is empty or every image was skipped)");
    int found = 0, nc = ypr_dataset_num_classes(e->ds);
    float *dets = malloc(sizeof(float) * 6 * DET_MAX);
    RETURN_IF(!dets, YPR_ENOMEM, "evaluator: out of memory");
    int rc = YPR_OK;
    for (int i = 0; rc == YPR_OK && i < e->nimages; i++) {
        const char *ip = ypr_dataset_image_path(e->ds, i);
        char stem[512], path[2048];
        stem_of(ip && *ip ? ip : "", stem, sizeof stem);
        if (!*stem)
            snprintf(stem, sizeof stem, "%06d", i);
        snprintf(path, sizeof path, "%s/%s.txt", dir, stem);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;   /* no file: no detections for this image */
        if (!S_ISREG(st.st_mode)) {
            rc = ypr__error(YPR_EFORMAT, "%s: not a regular file", path);
            break;
        }
        found++;
        uint8_t *rgb = NULL;
        int w = 0, h = 0, n = 0;
        rc = ypr_dataset_image(e->ds, i, &rgb, &w, &h);
        ypr_free(rgb);
        if (rc == YPR_OK)
            rc = parse_detections(path, nc, w, h, dets, &n);
        if (rc == YPR_OK && (rc = ypr_evaluator_add_detections(e, i, dets, n)) < 0) {
            char why[512];   /* the message names the row: add the file */
            snprintf(why, sizeof why, "%s", ypr_last_error());
            rc = ypr__error(rc, "%s: %s", path, why);
        }
    }
    free(dets);
    TRY(rc);
    RETURN_IF(!found, YPR_ENOTFOUND, "%s: no detection file matches the dataset's images "
              "(expected <image name>.txt)", dir);
    return ypr_evaluator_compute(e);
}

int ypr_evaluator_get(const ypr_evaluator *e, int cls, int what, double *value)
{
    RETURN_IF(!e || !value, YPR_EINVAL, "evaluator: NULL argument");
    RETURN_IF(!e->have_result, YPR_ESTATE, "evaluator: nothing evaluated yet");
    RETURN_IF(cls < -1 || cls >= e->res.nc, YPR_ERANGE, "evaluator: class %d outside -1..%d",
              cls, e->res.nc - 1);
    const ypr_class_metrics *m = cls < 0 ? &e->res.all : &e->res.per_class[cls];
    switch (what) {
    case YPR_EVAL_IMAGES: *value = (double)(cls < 0 ? e->res.images : m->images); return YPR_OK;
    case YPR_EVAL_LABELS: *value = (double)m->labels; return YPR_OK;
    case YPR_EVAL_P: *value = m->p; return YPR_OK;
    case YPR_EVAL_R: *value = m->r; return YPR_OK;
    case YPR_EVAL_MAP50: *value = m->ap50; return YPR_OK;
    case YPR_EVAL_MAP: *value = m->ap; return YPR_OK;
    default: return ypr__error(YPR_EINVAL, "evaluator: unknown value %d", what);
    }
}

int ypr_evaluator_speed(const ypr_evaluator *e, double ms[3])
{
    RETURN_IF(!e || !ms, YPR_EINVAL, "evaluator: NULL argument");
    double n = e->timed_images > 0 ? (double)e->timed_images : 1.0;
    ms[0] = e->t_infer * 1e3 / n;
    ms[1] = e->t_nms * 1e3 / n;
    ms[2] = ms[0] + ms[1];
    return YPR_OK;
}

int ypr_evaluator_table(const ypr_evaluator *e, char **text)
{
    RETURN_IF(!e || !text, YPR_EINVAL, "evaluator: NULL argument");
    RETURN_IF(!e->have_result, YPR_ESTATE, "evaluator: nothing evaluated yet");
    char *t = ypr__eval_table(&e->res, (const char *const *)e->names);
    RETURN_IF(!t, YPR_ENOMEM, "evaluator: out of memory");
    if (e->timed_images) {
        double ms[3];
        ypr_evaluator_speed(e, ms);
        size_t n = strlen(t);
        char *t2 = realloc(t, n + 256);
        if (!t2) {
            free(t);
            return ypr__error(YPR_ENOMEM, "evaluator: out of memory");
        }
        t = t2;
        snprintf(t + n, 256, "Speed: %.1f/%.1f/%.1f ms inference/NMS/total per %dx%d image at "
                 "batch-size %d\nplan: %s\n", ms[0], ms[1], ms[2], e->size, e->size, e->batch,
                 e->plan[0] ? e->plan : "none");
    }
    *text = t;
    return YPR_OK;
}

int ypr_evaluator_json(const ypr_evaluator *e, char **text)
{
    RETURN_IF(!e || !text, YPR_EINVAL, "evaluator: NULL argument");
    RETURN_IF(!e->have_result, YPR_ESTATE, "evaluator: nothing evaluated yet");
    *text = ypr__eval_json(&e->res, (const char *const *)e->names);
    RETURN_IF(!*text, YPR_ENOMEM, "evaluator: out of memory");
    return YPR_OK;
}

int ypr_evaluator_save_plots(const ypr_evaluator *e, const char *dir)
{
    RETURN_IF(!e || !dir, YPR_EINVAL, "evaluator: NULL argument");
    RETURN_IF(!e->have_result, YPR_ESTATE, "evaluator: nothing evaluated yet");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ypr__error(YPR_EIO, "%s: cannot create: %s", dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/PR_curve.png", dir);
    TRY(ypr__eval_plot_pr(&e->res, (const char *const *)e->names, path));
    snprintf(path, sizeof path, "%s/confusion_matrix.png", dir);
    return ypr__eval_plot_confusion(&e->res, (const char *const *)e->names, path);
}
