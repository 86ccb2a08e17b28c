/* Detection: letterbox, forward, decode as YOLOv7 does (xy = (2σ − 0.5 +
 * grid)·stride, wh = (2σ)²·anchor), confidence filter (objectness × class),
 * class-aware NMS (optionally multi-label, agnostic), boxes mapped back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/data/data.h"
#include "lib/io/io.h"
#include "model.h"

/* nbox: the box NMS compares (box, or box shifted by class × offset) */
typedef struct cand { float box[4], nbox[4]; float conf; int cls; } cand;

static float sigm(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static int cmp_conf(const void *a, const void *b)
{
    float x = ((const cand *)a)->conf, y = ((const cand *)b)->conf;
    return (x < y) - (x > y);
}

static float iou(const float *a, const float *b)
{
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (iw <= 0 || ih <= 0)
        return 0.0f;
    float inter = iw * ih;
    float u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return u > 0 ? inter / u : 0.0f;
}

/* Greedy NMS over candidates sorted by confidence; boxes of different
 * classes never suppress each other unless agnostic (with a class offset
 * the shifted boxes keep them apart). Keeps ≤ max_det. */
static int nms(cand *c, int n, float thr, int per_class, int max_det)
{
    qsort(c, (size_t)n, sizeof *c, cmp_conf);
    if (n > 30000)
        n = 30000;
    unsigned char *dead = calloc((size_t)n + 1, 1);
    if (!dead)
        return ypr__error(YPR_ENOMEM, "nms: out of memory");
    int kept = 0;
    for (int i = 0; i < n && kept < max_det; i++) {
        if (dead[i])
            continue;
        c[kept++] = c[i];
        for (int j = i + 1; j < n; j++)
            if (!dead[j] && (!per_class || c[j].cls == c[i].cls) && iou(c[i].nbox, c[j].nbox) > thr)
                dead[j] = 1;
    }
    free(dead);
    return kept;
}

/* Append a candidate, growing the array; on failure frees it (and records). */
static int push(cand **c, int *n, int *cap, const float *box, float conf, int cls, float offset)
{
    if (*n == *cap) {
        cand *grown = realloc(*c, (size_t)(*cap * 2) * sizeof **c);
        if (!grown) {
            free(*c);
            *c = NULL;
            return ypr__error(YPR_ENOMEM, "detect: out of memory");
        }
        *c = grown;
        *cap *= 2;
    }
    float o = (float)cls * offset;   /* float32, as YOLOv7's x[:, :4] + c */
    (*c)[(*n)++] = (cand){{box[0], box[1], box[2], box[3]},
                          {box[0] + o, box[1] + o, box[2] + o, box[3] + o}, conf, cls};
    return YPR_OK;
}

int ypr__detect_decode(const ypr_model *m, int image, const ypr_decode_opts *o, float *dets,
                       int *ndet)
{
    const float conf_thr = o->conf;
    const int multi_label = o->multi_label;
    const float offset = o->agnostic ? 0.0f : o->class_offset;
    const ypr_net *net = &m->net;
    const ypr_node *d = &net->nodes[net->nnodes - 1];
    const float *grid = net->params[d->p[1]].data;   /* anchor_grid, pixels */
    int no = d->nc + 5, cap = 4096, n = 0;
    cand *c = malloc((size_t)cap * sizeof *c);
    RETURN_IF(!c, YPR_ENOMEM, "detect: out of memory");
    for (int l = 0; l < d->nl; l++) {
        ypr_shape s;
        int64_t batch;
        const float *out = ypr__model_output_at(m, l, &s, &batch);
        int64_t hw = s.h * s.w;
        const float *base = out + (int64_t)image * d->na * no * hw;
        float stride = d->strides[l];
        for (int a = 0; a < d->na; a++) {
            const float *ch = base + (int64_t)a * no * hw;
            float aw = grid[(l * d->na + a) * 2], ah = grid[(l * d->na + a) * 2 + 1];
            for (int64_t i = 0; i < hw; i++) {
                float obj = sigm(ch[4 * hw + i]);
                if (obj <= conf_thr)
                    continue;
                float gx = (float)(i % s.w), gy = (float)(i / s.w);
                float x = (sigm(ch[i]) * 2.0f - 0.5f + gx) * stride;
                float y = (sigm(ch[hw + i]) * 2.0f - 0.5f + gy) * stride;
                float tw = sigm(ch[2 * hw + i]) * 2.0f, th = sigm(ch[3 * hw + i]) * 2.0f;
                float w = tw * tw * aw, h = th * th * ah;
                float box[4] = {x - w / 2, y - h / 2, x + w / 2, y + h / 2};
                int best = 0;
                float bestc = -1.0f;
                for (int k = 0; k < d->nc; k++) {
                    float cc = sigm(ch[(5 + k) * hw + i]) * obj;
                    if (multi_label && cc > conf_thr && push(&c, &n, &cap, box, cc, k, offset) < 0)
                        return YPR_ENOMEM;
                    if (cc > bestc) {
                        bestc = cc;
                        best = k;
                    }
                }
                if (!multi_label && bestc > conf_thr &&
                    push(&c, &n, &cap, box, bestc, best, offset) < 0)
                    return YPR_ENOMEM;
            }
        }
    }
    int kept = nms(c, n, o->iou, !o->agnostic && !(offset > 0), o->max_det);
    if (kept < 0) {
        free(c);
        return kept;
    }
    for (int i = 0; i < kept; i++) {
        memcpy(dets + i * 6, c[i].box, 4 * sizeof(float));
        dets[i * 6 + 4] = c[i].conf;
        dets[i * 6 + 5] = (float)c[i].cls;
    }
    *ndet = kept;
    free(c);
    return YPR_OK;
}

int ypr_model_set_float(ypr_model *m, int key, double value)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    switch (key) {
    case YPR_MODEL_CONF_THRESHOLD:
        RETURN_IF(!(value >= 0 && value <= 1), YPR_ERANGE, "confidence threshold %g outside [0, 1]", value);
        m->conf_thr = (float)value;
        return YPR_OK;
    case YPR_MODEL_IOU_THRESHOLD:
        RETURN_IF(!(value >= 0 && value <= 1), YPR_ERANGE, "IoU threshold %g outside [0, 1]", value);
        m->iou_thr = (float)value;
        return YPR_OK;
    default:
        return ypr__error(YPR_EINVAL, "model: %d is not a float setting", key);
    }
}

int ypr_model_set_int(ypr_model *m, int key, int64_t value)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    switch (key) {
    case YPR_MODEL_MAX_DET:
        RETURN_IF(value < 1 || value > 100000, YPR_ERANGE, "max detections %lld outside 1..100000",
                  (long long)value);
        m->max_det = (int)value;
        return YPR_OK;
    case YPR_MODEL_MULTI_LABEL:
        m->multi_label = value != 0;
        return YPR_OK;
    case YPR_MODEL_AGNOSTIC_NMS:
        m->agnostic = value != 0;
        return YPR_OK;
    case YPR_MODEL_INPUT_SIZE:
        RETURN_IF(value < 32 || value > 8192 || value % 32, YPR_ERANGE,
                  "input size %lld must be a multiple of 32 in 32..8192", (long long)value);
        m->input_size = (int)value;
        return YPR_OK;
    default:
        return ypr__error(YPR_EINVAL, "model: %d is not an integer setting", key);
    }
}

int ypr_model_get_float(const ypr_model *m, int key, double *value)
{
    RETURN_IF(!m || !value, YPR_EINVAL, "model: NULL argument");
    switch (key) {
    case YPR_MODEL_CONF_THRESHOLD: *value = m->conf_thr; return YPR_OK;
    case YPR_MODEL_IOU_THRESHOLD: *value = m->iou_thr; return YPR_OK;
    default: return ypr__error(YPR_EINVAL, "model: %d is not a float setting", key);
    }
}

int ypr_model_get_int(const ypr_model *m, int key, int64_t *value)
{
    RETURN_IF(!m || !value, YPR_EINVAL, "model: NULL argument");
    switch (key) {
    case YPR_MODEL_MAX_DET: *value = m->max_det; return YPR_OK;
    case YPR_MODEL_MULTI_LABEL: *value = m->multi_label; return YPR_OK;
    case YPR_MODEL_AGNOSTIC_NMS: *value = m->agnostic; return YPR_OK;
    case YPR_MODEL_INPUT_SIZE: *value = m->input_size; return YPR_OK;
    default: return ypr__error(YPR_EINVAL, "model: %d is not an integer setting", key);
    }
}

int ypr_model_detect(ypr_model *m, const uint8_t *rgb, int width, int height, float *dets,
                     int capacity, int *count)
{
    RETURN_IF(!m || !rgb || !count || (!dets && capacity > 0), YPR_EINVAL, "detect: NULL argument");
    RETURN_IF(width < 1 || height < 1 || width > 65536 || height > 65536, YPR_EINVAL,
              "detect: image size %dx%d out of range", width, height);
    *count = 0;
    int size = m->input_size;
    float *x = ypr__alloc((size_t)3 * size * size * sizeof(float));
    if (!x)
        return YPR_ENOMEM;
    ypr_letterbox lb;
    int rc = ypr__letterbox(rgb, width, height, size, size, 114, x, &lb);
    if (rc == YPR_OK)
        rc = ypr_model_forward(m, x, 1, size, size);
    ypr__free(x);
    TRY(rc);
    int max = m->max_det < capacity ? m->max_det : capacity;
    float *tmp = malloc((size_t)(m->max_det > 0 ? m->max_det : 1) * 6 * sizeof(float));
    RETURN_IF(!tmp, YPR_ENOMEM, "detect: out of memory");
    int n = 0;
    const ypr_decode_opts opts = {m->conf_thr, m->iou_thr, m->multi_label, m->agnostic,
                                  m->max_det, 0.0f};
    rc = ypr__detect_decode(m, 0, &opts, tmp, &n);
    if (rc == YPR_OK) {
        for (int i = 0; i < n && i < max; i++) {
            float *o = dets + i * 6, *s = tmp + i * 6;
            for (int k = 0; k < 4; k++) {
                float v = (s[k] - ((k & 1) ? lb.pad_y : lb.pad_x)) / lb.ratio;
                float lim = (float)((k & 1) ? height : width);
                o[k] = v < 0 ? 0 : (v > lim ? lim : v);
            }
            o[4] = s[4];
            o[5] = s[5];
        }
        *count = n < max ? n : max;
    }
    free(tmp);
    return rc;
}

int ypr__model_decode_with(const ypr_model *m, int image, const ypr_decode_opts *o,
                           float *dets, int capacity, int *count)
{
    RETURN_IF(!m || !o || !count || (!dets && capacity > 0), YPR_EINVAL,
              "decode: NULL argument");
    ypr_shape s;
    int64_t batch = 0;
    RETURN_IF(!ypr__model_output_at(m, 0, &s, &batch), YPR_ESTATE,
              "decode: no forward pass has run");
    RETURN_IF(image < 0 || image >= batch, YPR_ERANGE,
              "decode: image %d outside the batch of %lld", image, (long long)batch);
    RETURN_IF(o->max_det < 1 || o->max_det > 100000, YPR_ERANGE,
              "decode: max detections %d outside 1..100000", o->max_det);
    RETURN_IF(!(o->class_offset >= 0 && o->class_offset <= 1e6f), YPR_ERANGE,
              "decode: class offset %g outside 0..1e6", (double)o->class_offset);
    *count = 0;
    float *tmp = malloc((size_t)o->max_det * 6 * sizeof(float));
    RETURN_IF(!tmp, YPR_ENOMEM, "decode: out of memory");
    int n = 0;
    int rc = ypr__detect_decode(m, image, o, tmp, &n);
    if (rc == YPR_OK) {
        if (n > capacity)
            n = capacity;
        if (n > 0)
            memcpy(dets, tmp, (size_t)n * 6 * sizeof(float));
        *count = n;
    }
    free(tmp);
    return rc;
}

int ypr_model_decode(const ypr_model *m, int image, float *dets, int capacity, int *count)
{
    RETURN_IF(!m, YPR_EINVAL, "decode: NULL argument");
    const ypr_decode_opts o = {m->conf_thr, m->iou_thr, m->multi_label, m->agnostic, m->max_det,
                               0.0f};
    return ypr__model_decode_with(m, image, &o, dets, capacity, count);
}

/* ---------------------------------------------------------- images */

int ypr_image_load(const char *path, uint8_t **rgb, int *width, int *height)
{
    RETURN_IF(!path || !rgb || !width || !height, YPR_EINVAL, "image: NULL argument");
    *rgb = NULL;
    ypr_image img;
    TRY(ypr__image_load(path, &img));
    *rgb = img.rgb;
    *width = img.w;
    *height = img.h;
    return YPR_OK;
}

void ypr_free(void *p)
{
    free(p);
}

int ypr_image_save_png(const char *path, const uint8_t *rgb, int width, int height)
{
    RETURN_IF(!path || !rgb || width < 1 || height < 1, YPR_EINVAL, "image: bad argument");
    ypr_image img = {width, height, (uint8_t *)rgb};
    return ypr__png_write(path, &img);
}

int ypr_image_draw_detections(uint8_t *rgb, int width, int height, const float *dets, int n,
                              const char *const *names, int nnames)
{
    RETURN_IF(!rgb || (!dets && n > 0) || width < 1 || height < 1 || n < 0, YPR_EINVAL,
              "draw: bad argument");
    ypr_image img = {width, height, rgb};
    int thick = width + height > 1600 ? 3 : 2;
    for (int i = 0; i < n; i++) {
        const float *d = dets + i * 6;
        int cls = (int)d[5];
        uint8_t col[3];
        ypr__class_color(cls, col);
        ypr__draw_rect(&img, (int)d[0], (int)d[1], (int)d[2], (int)d[3], col, thick);
        char label[96];
        if (names && cls >= 0 && cls < nnames && names[cls])
            snprintf(label, sizeof label, "%s %.2f", names[cls], d[4]);
        else
            snprintf(label, sizeof label, "%d %.2f", cls, d[4]);
        static const uint8_t white[3] = {255, 255, 255};
        int ty = (int)d[1] - 9 < 0 ? (int)d[1] + 1 : (int)d[1] - 9;
        ypr__draw_text(&img, (int)d[0], ty, label, 1, white, col);
    }
    return YPR_OK;
}
