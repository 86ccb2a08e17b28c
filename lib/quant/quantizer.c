/* ypr_quantizer: post-training quantization of a model into a fake-quantized
 * copy. The caller's model is cloned, fused (a deployed INT8 net has its
 * BatchNorms folded) and, for the dpu scheme, given the activations a DPU
 * computes; calibration runs that float net over letterboxed dataset images
 * and collects per-node statistics through the plan's observer; quantize
 * copies it, rounds weights and biases and puts activation steps on the
 * nodes, which the execution plan applies. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yolopr.h"
#include "lib/data/data.h"
#include "lib/model/model.h"
#include "quant.h"

#define LEAKY_DPU (26.0f / 256.0f)

int ypr_quantizer_create(const ypr_model *model, const ypr_dataset *calib, ypr_quantizer **out)
{
    RETURN_IF(!model || !calib || !out, YPR_EINVAL, "quantizer: NULL argument");
    *out = NULL;
    ypr_quantizer *q = calloc(1, sizeof *q);
    RETURN_IF(!q, YPR_ENOMEM, "quantizer: out of memory");
    int rc = ypr__model_clone(model, &q->src);
    if (rc < 0) {
        free(q);
        return rc;
    }
    q->ds = calib;
    q->scheme = YPR_QSCHEME_DPU;
    q->method = YPR_CALIB_ENTROPY;
    q->calib_images = 100;
    q->size = model->input_size;
    q->pct = 99.99;
    q->sqnr_images = 2;
    q->act_lut = 1;
    *out = q;
    return YPR_OK;
}

static void drop_calibration(ypr_quantizer *q)
{
    if (q->taps)
        for (int i = 0; i < q->nnodes; i++)
            free(q->taps[i]);
    free(q->taps);
    free(q->stats);
    free(q->observed);
    free(q->tap_count);
    ypr_model_free(q->work);
    free(q->rows);   /* a report describes the calibration it came from */
    q->rows = NULL;
    q->nrows = 0;
    q->taps = NULL;
    q->stats = NULL;
    q->observed = NULL;
    q->tap_count = NULL;
    q->work = NULL;
    q->calibrated = 0;
}

void ypr_quantizer_free(ypr_quantizer *q)
{
    if (!q)
        return;
    drop_calibration(q);
    for (int i = 0; i < q->npatterns; i++)
        free(q->patterns[i]);
    free(q->patterns);
    ypr_model_free(q->src);
    free(q);
}

int ypr_quantizer_set_int(ypr_quantizer *q, int key, int64_t v)
{
    RETURN_IF(!q, YPR_EINVAL, "quantizer: NULL handle");
    switch (key) {
    case YPR_QUANT_SCHEME:
        RETURN_IF(v != YPR_QSCHEME_DPU && v != YPR_QSCHEME_PER_CHANNEL, YPR_ERANGE,
                  "quantizer: scheme %lld unknown", (long long)v);
        q->scheme = (int)v;
        return YPR_OK;
    case YPR_QUANT_METHOD:
        RETURN_IF(v < 0 || v >= YPR_QMETHOD_COUNT_, YPR_ERANGE, "quantizer: method %lld unknown",
                  (long long)v);
        q->method = (int)v;
        return YPR_OK;
    case YPR_QUANT_CALIB_IMAGES:
        RETURN_IF(v < 1 || v > 1000000, YPR_ERANGE, "quantizer: calibration images %lld "
                  "outside 1..1000000", (long long)v);
        q->calib_images = (int)v;
        return YPR_OK;
    case YPR_QUANT_INPUT_SIZE:
        RETURN_IF(v < 32 || v > 4096 || v % 32, YPR_ERANGE, "quantizer: input size %lld is not "
                  "a multiple of 32 in 32..4096", (long long)v);
        q->size = (int)v;
        return YPR_OK;
    case YPR_QUANT_BIAS_CORRECTION:
        RETURN_IF(v != 0 && v != 1, YPR_ERANGE, "quantizer: bias correction %lld is not 0/1",
                  (long long)v);
        q->bias_corr = (int)v;
        return YPR_OK;
    case YPR_QUANT_KEEP_WORST:
        RETURN_IF(v < 0 || v > YPR_NET_MAX_NODES, YPR_ERANGE, "quantizer: keep-worst %lld",
                  (long long)v);
        q->keep_worst = (int)v;
        return YPR_OK;
    case YPR_QUANT_HARD_ACT:
        RETURN_IF(v != 0 && v != 1, YPR_ERANGE, "quantizer: hard activations %lld is not 0/1",
                  (long long)v);
        q->hard_act = (int)v;
        return YPR_OK;
    case YPR_QUANT_SQNR_IMAGES:
        RETURN_IF(v < 0 || v > 1000, YPR_ERANGE, "quantizer: SQNR images %lld outside 0..1000",
                  (long long)v);
        q->sqnr_images = (int)v;
        return YPR_OK;
    case YPR_QUANT_SEARCH_IMAGES:
        RETURN_IF(v < 0 || v > 1000, YPR_ERANGE, "quantizer: search images %lld outside "
                  "0..1000", (long long)v);
        q->search_images = (int)v;
        return YPR_OK;
    case YPR_QUANT_ACT_LUT:
        RETURN_IF(v != 0 && v != 1, YPR_ERANGE, "quantizer: activation tables %lld is not 0/1",
                  (long long)v);
        q->act_lut = (int)v;
        return YPR_OK;
    case YPR_QUANT_PERCENTILE:
        return ypr_quantizer_set_float(q, key, (double)v);
    default:
        return ypr__error(YPR_EINVAL, "quantizer: %d is not a setting", key);
    }
}

int ypr_quantizer_set_float(ypr_quantizer *q, int key, double v)
{
    RETURN_IF(!q, YPR_EINVAL, "quantizer: NULL handle");
    if (key == YPR_QUANT_PERCENTILE) {
        RETURN_IF(!(v > 0 && v <= 100), YPR_ERANGE, "quantizer: percentile %g outside (0, 100]",
                  v);
        q->pct = v;
        return YPR_OK;
    }
    RETURN_IF(v != floor(v) || !(fabs(v) < 1e15), YPR_ERANGE,
              "quantizer: setting %d takes an integer, not %g", key, v);
    return ypr_quantizer_set_int(q, key, (int64_t)v);
}

int ypr_quantizer_get_float(const ypr_quantizer *q, int key, double *v)
{
    RETURN_IF(!q || !v, YPR_EINVAL, "quantizer: NULL argument");
    switch (key) {
    case YPR_QUANT_SCHEME: *v = q->scheme; break;
    case YPR_QUANT_METHOD: *v = q->method; break;
    case YPR_QUANT_CALIB_IMAGES: *v = q->calib_images; break;
    case YPR_QUANT_INPUT_SIZE: *v = q->size; break;
    case YPR_QUANT_PERCENTILE: *v = q->pct; break;
    case YPR_QUANT_BIAS_CORRECTION: *v = q->bias_corr; break;
    case YPR_QUANT_KEEP_WORST: *v = q->keep_worst; break;
    case YPR_QUANT_HARD_ACT: *v = q->hard_act; break;
    case YPR_QUANT_SQNR_IMAGES: *v = q->sqnr_images; break;
    case YPR_QUANT_SEARCH_IMAGES: *v = q->search_images; break;
    case YPR_QUANT_ACT_LUT: *v = q->act_lut; break;
    default: return ypr__error(YPR_EINVAL, "quantizer: %d is not a setting", key);
    }
    return YPR_OK;
}

int ypr_quantizer_keep_float(ypr_quantizer *q, const char *pattern)
{
    RETURN_IF(!q || !pattern || !*pattern, YPR_EINVAL, "quantizer: NULL or empty pattern");
    RETURN_IF(q->npatterns >= 256, YPR_ERANGE, "quantizer: more than 256 keep-float patterns");
    char **p = realloc(q->patterns, (size_t)(q->npatterns + 1) * sizeof *p);
    RETURN_IF(!p, YPR_ENOMEM, "quantizer: out of memory");
    q->patterns = p;
    p[q->npatterns] = strdup(pattern);
    RETURN_IF(!p[q->npatterns], YPR_ENOMEM, "quantizer: out of memory");
    q->npatterns++;
    const ypr_net *net = &q->src->net;
    for (int i = 0; i < net->nnodes; i++)
        if (fnmatch(pattern, net->nodes[i].name, 0) == 0)
            return YPR_OK;
    return ypr__error(YPR_ENOTFOUND, "quantizer: keep-float pattern '%s' matches no node "
                      "(kept: it may match after fusing, e.g. rbr_reparam)", pattern);
}

int ypr_quantizer_set_progress(ypr_quantizer *q, ypr_progress_fn fn, void *user)
{
    RETURN_IF(!q, YPR_EINVAL, "quantizer: NULL handle");
    q->progress = fn;
    q->puser = user;
    return YPR_OK;
}

/* ------------------------------------------------------------ calibration */

/* The float reference: fused, and for the dpu scheme with the activations a
 * DPU computes (LeakyReLU 0.1 → 26/256, optionally SiLU → hard-swish). */
static int make_work(ypr_quantizer *q)
{
    TRY(ypr__model_clone(q->src, &q->work));
    TRY(ypr_model_fuse(q->work));
    ypr_net *net = &q->work->net;
    for (int i = 0; i < net->nnodes; i++) {
        ypr_node *nd = &net->nodes[i];
        nd->aq = nd->wq = nd->bq = (ypr_qparam){0};
        if (q->scheme != YPR_QSCHEME_DPU)
            continue;
        if (nd->act == YPR_ACT_LEAKY && fabsf(nd->alpha - 0.1f) < 1e-6f)
            nd->alpha = LEAKY_DPU;
        if (q->hard_act && nd->act == YPR_ACT_SILU)
            nd->act = YPR_ACT_HARDSWISH;
        RETURN_IF(q->hard_act && nd->act == YPR_ACT_SIGMOID, YPR_EUNSUPPORTED,
                  "quantizer: node %s: sigmoid → hard-sigmoid needs a hard-sigmoid kernel "
                  "(none yet)", nd->name);
    }
    net->version++;
    return YPR_OK;
}

void ypr__quant_add_taps(const ypr_node *c, const float *x, const ypr_shape *in, int64_t oh,
                         int64_t ow, double *taps)
{
    for (int64_t ci = 0; ci < in->c; ci++) {
        const float *xc = x + ci * in->h * in->w;
        for (int ky = 0; ky < c->kh; ky++)
            for (int kx = 0; kx < c->kw; kx++) {
                double sum = 0;
                for (int64_t oy = 0; oy < oh; oy++) {
                    int64_t iy = oy * c->sh + ky * c->dh - c->ph;
                    if (iy < 0 || iy >= in->h)
                        continue;
                    for (int64_t ox = 0; ox < ow; ox++) {
                        int64_t ix = ox * c->sw + kx * c->dw - c->pw;
                        if (ix >= 0 && ix < in->w)
                            sum += xc[iy * in->w + ix];
                    }
                }
                taps[(ci * c->kh + ky) * c->kw + kx] += sum;
            }
    }
}

typedef struct calib_ctx {
    ypr_quantizer *q;
    const ypr_consumers *cons;
    const ypr_shape *shapes;
} calib_ctx;

static int observe(void *user, int node, const float *value, const ypr_shape *shape, int64_t n)
{
    calib_ctx *cx = user;
    ypr_quantizer *q = cx->q;
    const ypr_net *net = &q->work->net;
    int64_t per = shape->c * shape->h * shape->w;
    q->observed[node] = 1;
    ypr__qstats_add(&q->stats[node], value, n * per);
    if (q->stats[node].nonfinite)
        return ypr__error(YPR_ERANGE, "quantizer: node %s: the float net produced NaN or Inf "
                          "on calibration data", net->nodes[node].name);
    for (int k = cx->cons->start[node]; q->taps && k < cx->cons->start[node + 1]; k++) {
        int c = cx->cons->list[k];
        if (net->nodes[c].kind != YPR_NODE_CONV || net->nodes[c].inputs[0] != node)
            continue;
        const ypr_shape *o = &cx->shapes[c];
        for (int64_t b = 0; b < n; b++)
            ypr__quant_add_taps(&net->nodes[c], value + b * per, shape, o->h, o->w, q->taps[c]);
        q->tap_count[c] += n * o->h * o->w;
    }
    return YPR_OK;
}

/* Dataset image `idx` letterboxed to size × size (pad 114), CHW in [0, 1]. */
static int load_image(const ypr_dataset *ds, int idx, int size, float *x)
{
    uint8_t *rgb = NULL;
    int w, h;
    TRY(ypr_dataset_image(ds, idx, &rgb, &w, &h));
    ypr_letterbox lb;
    int rc = ypr__letterbox(rgb, w, h, size, size, 114, x, &lb);
    ypr_free(rgb);
    return rc;
}

uint64_t ypr__quant_settings_key(const ypr_quantizer *q)
{
    return (uint64_t)q->scheme | (uint64_t)q->hard_act << 2 | (uint64_t)q->bias_corr << 3 |
           (uint64_t)q->size << 4 | (uint64_t)q->calib_images << 20 | (uint64_t)q->act_lut << 41;
}

int ypr__quant_num_images(const ypr_quantizer *q, int *n)
{
    int count = ypr_dataset_count(q->ds);
    RETURN_IF(count <= 0, YPR_ENOTFOUND, "quantizer: the calibration dataset has no images");
    *n = q->calib_images < count ? q->calib_images : count;
    return YPR_OK;
}

static int calibrate(ypr_quantizer *q)
{
    int nimg = 0;
    TRY(ypr__quant_num_images(q, &nimg));
    TRY(make_work(q));
    const ypr_net *net = &q->work->net;
    q->nnodes = net->nnodes;
    q->stats = malloc((size_t)net->nnodes * sizeof *q->stats);
    q->observed = calloc((size_t)net->nnodes, 1);
    ypr_shape *shapes = malloc((size_t)net->nnodes * sizeof *shapes);
    float *x = malloc((size_t)3 * q->size * q->size * sizeof(float));
    if (q->bias_corr) {
        q->taps = calloc((size_t)net->nnodes, sizeof *q->taps);
        q->tap_count = calloc((size_t)net->nnodes, sizeof *q->tap_count);
    }
    int rc = q->stats && q->observed && shapes && x && (!q->bias_corr || (q->taps && q->tap_count))
                 ? YPR_OK : ypr__error(YPR_ENOMEM, "quantizer: out of memory");
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        ypr__qstats_init(&q->stats[i]);
        const ypr_node *nd = &net->nodes[i];
        if (q->taps && nd->kind == YPR_NODE_CONV) {
            int64_t cin = net->nodes[nd->inputs[0]].c;
            q->taps[i] = calloc((size_t)(cin * nd->kh * nd->kw), sizeof(double));
            if (!q->taps[i])
                rc = ypr__error(YPR_ENOMEM, "quantizer: out of memory");
        }
    }
    if (rc == YPR_OK)
        rc = ypr__net_shapes(net, q->size, q->size, shapes);
    ypr_consumers cons = {0};
    ypr_plan *plan = NULL;
    if (rc == YPR_OK)
        rc = ypr__net_consumers(net, &cons);
    if (rc == YPR_OK) {
        /* with activation tables, a SiLU's (hard-swish's) input is a value of its own */
        q->work->net.split_lut_acts = q->act_lut;
        rc = ypr__plan_create(net, q->work->pool, 1, q->size, q->size, &plan);
        q->work->net.split_lut_acts = 0;
    }
    calib_ctx cx = {q, &cons, shapes};
    if (plan)
        ypr__plan_set_observer(plan, observe, &cx);
    int count = ypr_dataset_count(q->ds);
    for (int i = 0; rc == YPR_OK && i < nimg; i++) {
        int idx = (int)((int64_t)i * count / nimg);   /* spread over the dataset */
        rc = load_image(q->ds, idx, q->size, x);
        if (rc == YPR_OK)
            rc = ypr__plan_run(plan, x);
        if (rc == YPR_OK && q->progress && q->progress(q->puser, i + 1, nimg))
            rc = ypr__error(YPR_ECANCELED, "quantizer: calibration canceled");
    }
    ypr__plan_free(plan);
    ypr__consumers_free(&cons);
    free(shapes);
    free(x);
    if (rc == YPR_OK) {
        q->calibrated = 1;
        q->calib_key = ypr__quant_settings_key(q);
        q->calib_done = nimg;
    }
    return rc;
}

int ypr_quantizer_calibrate(ypr_quantizer *q)
{
    RETURN_IF(!q, YPR_EINVAL, "quantizer: NULL handle");
    drop_calibration(q);
    int rc = calibrate(q);
    if (rc < 0)
        drop_calibration(q);
    return rc;
}
