/* ypr_quantizer_quantize: the calibrated float net → a fake-quantized copy.
 * Order: choose the rows (values to quantize) and which stay float; round
 * the weights; give each value its activation step; (dpu) one step per
 * concat and its inputs; bias correction; round the biases; optionally
 * search the steps on the head's error; measure the end-to-end SQNR against
 * the float net. ypr_quantizer_convert: a model fine-tuned through those
 * steps (quantization-aware training) rounded back onto their grids. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/data/data.h"
#include "lib/model/model.h"
#include "quant.h"

#define QMAX 127

static int passthrough(int kind)
{
    return kind == YPR_NODE_MAXPOOL || kind == YPR_NODE_UPSAMPLE || kind == YPR_NODE_REORG;
}

/* The conv whose folded chain ends at node i of a fused net (the conv
 * itself, or the activation reading only it), or -1. */
static int chain_conv(const ypr_net *net, const ypr_consumers *cons, int i)
{
    const ypr_node *nd = &net->nodes[i];
    if (nd->kind == YPR_NODE_CONV)
        return i;
    if (nd->kind == YPR_NODE_ACT && nd->ninputs == 1) {
        int c = nd->inputs[0];
        if (net->nodes[c].kind == YPR_NODE_CONV && ypr__consumers_sole(cons, c) == i)
            return c;
    }
    return -1;
}

static int matches(const ypr_quantizer *q, const char *name)
{
    for (int k = 0; k < q->npatterns; k++)
        if (fnmatch(q->patterns[k], name, 0) == 0)
            return 1;
    return 0;
}

static int row_cmp_local(const void *a, const void *b)
{
    const ypr_qrow *x = *(const ypr_qrow *const *)a, *y = *(const ypr_qrow *const *)b;
    return x->sqnr_local < y->sqnr_local ? -1 : x->sqnr_local > y->sqnr_local ? 1
           : x->node - y->node;
}

/* The activation step of a row's value. */
static int act_step(const ypr_quantizer *q, ypr_qrow *r, ypr_qparam *aq)
{
    const ypr_qstats *s = &q->stats[r->node];
    const char *name = q->work->net.nodes[r->node].name;
    /* the image's range is known: never clip pixels; a value a max-pool
     * reads (or a concat joins with pooled values) keeps its full range */
    int method = r->node == 0 || r->pooled ? YPR_QMETHOD_MINMAX : q->method;
    double t;
    int rc = ypr__qstats_threshold(s, method, q->pct, QMAX, &t);
    if (rc < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", ypr_last_error());
        return ypr__error(rc, "quantizer: node %s: %s", name, msg);
    }
    r->absmax = ypr__qstats_absmax(s);
    double scale;
    if (r->head && t > 0) {
        /* read through the decoder's sigmoid: the error that matters is after it */
        scale = ypr__qstats_sigmoid_step(s, QMAX, q->scheme == YPR_QSCHEME_DPU);
        *aq = q->scheme == YPR_QSCHEME_DPU
                  ? (ypr_qparam){0, 0, -QMAX, QMAX, YPR_ROUND_HALF_UP, 0}
                  : (ypr_qparam){0, 0, -QMAX - 1, QMAX, YPR_ROUND_HALF_EVEN, 0};
        t = scale * QMAX < r->absmax ? scale * QMAX : r->absmax;   /* the clip it makes */
    } else if (q->scheme == YPR_QSCHEME_DPU) {
        *aq = (ypr_qparam){0, 0, -QMAX, QMAX, YPR_ROUND_HALF_UP, 0};
        if (t > 0)
            scale = method == YPR_QMETHOD_MSE ? ypr__qstats_pot_mse(s, QMAX)
                                              : ypr__pot_scale(t, QMAX);
        else
            scale = 1.0 / 128;
    } else {
        *aq = (ypr_qparam){0, 0, -QMAX - 1, QMAX, YPR_ROUND_HALF_EVEN, 0};
        scale = t > 0 ? t / QMAX : 1.0 / 128;
    }
    aq->scale = (float)scale;
    r->threshold = t;
    r->act_scale = aq->scale;
    r->sqnr_a = r->head ? ypr__qstats_sigmoid_sqnr(s, aq->scale, QMAX)
                        : ypr__sqnr_db(ypr__qstats_power(s), ypr__qstats_mse(s, aq->scale, QMAX));
    return YPR_OK;
}

/* Round conv c's weights of net `m` in place; returns the squared error in *err. */
static void quant_weights(const ypr_quantizer *q, ypr_net *net, int c, double *signal,
                          double *err)
{
    ypr_node *nd = &net->nodes[c];
    ypr_param *w = &net->params[nd->p[0]];
    *signal = 0;
    for (int64_t i = 0; i < w->numel; i++)
        *signal += (double)w->data[i] * w->data[i];
    if (q->scheme == YPR_QSCHEME_DPU)
        *err = ypr__quant_pot_tensor(w->data, w->numel, QMAX, YPR_ROUND_HALF_AWAY, &nd->wq);
    else
        *err = ypr__quant_per_channel(w->data, nd->c, w->numel / nd->c, QMAX,
                                      YPR_ROUND_HALF_EVEN, &nd->wq);
}

/* The node whose quantization step a value read by a consumer carries:
 * through pools, upsamples and reorgs to what produced them. */
static int quantized_source(const ypr_net *net, int i)
{
    while (passthrough(net->nodes[i].kind))
        i = net->nodes[i].inputs[0];
    return i;
}

static int find(int *parent, int i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

/* parent[nnodes]: union-find of the values that share a step under the
 * dpu scheme (a concat and the values it joins); find() gives the group. */
static void concat_groups(const ypr_net *net, int *parent)
{
    int n = net->nnodes;
    for (int i = 0; i < n; i++)
        parent[i] = i;
    for (int i = 0; i < n; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONCAT || !(nd->aq.scale > 0))
            continue;
        for (int j = 0; j < nd->ninputs; j++) {
            int s = quantized_source(net, nd->inputs[j]);
            if (net->nodes[s].aq.scale > 0)
                parent[find(parent, s)] = find(parent, i);
        }
    }
}

/* dpu: a DPU concatenates in place, so a concat and the values it joins
 * share one step (the coarsest of theirs, so nothing clips more). */
static int unify_concats(ypr_net *net)
{
    int n = net->nnodes, *parent = malloc((size_t)n * sizeof(int));
    float *top = calloc((size_t)n, sizeof(float));
    if (!parent || !top) {
        free(parent);
        free(top);
        return ypr__error(YPR_ENOMEM, "quantizer: out of memory");
    }
    concat_groups(net, parent);
    for (int i = 0; i < n; i++)
        if (net->nodes[i].aq.scale > top[find(parent, i)])
            top[find(parent, i)] = net->nodes[i].aq.scale;
    for (int i = 0; i < n; i++)
        if (net->nodes[i].aq.scale > 0)
            net->nodes[i].aq.scale = top[find(parent, i)];
    free(parent);
    free(top);
    return YPR_OK;
}

/* Bias correction: the quantized conv's mean output exceeds the float one by
 * Σ ΔW[o, ci, ky, kx] · E[x at that tap] per output channel (the calibration
 * inputs of the float net); subtract it from the bias (adding one if none). */
static int correct_bias(const ypr_quantizer *q, ypr_model *m, int c)
{
    ypr_net *net = &m->net;
    const ypr_net *ref = &q->work->net;
    ypr_node *nd = &net->nodes[c];
    if (!q->taps || !q->taps[c] || q->tap_count[c] <= 0)
        return YPR_OK;
    const float *w0 = ref->params[ref->nodes[c].p[0]].data, *w1 = net->params[nd->p[0]].data;
    int64_t oc = nd->c, cin = net->nodes[nd->inputs[0]].c;
    if (nd->p[1] < 0) {
        char name[YPR_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.bias", nd->name);
        int64_t shape[1] = {oc};
        int pi = ypr__net_add_param(net, name, 1, shape, 0);
        if (pi < 0)
            return pi;
        net->nodes[c].p[1] = pi;
        nd = &net->nodes[c];
    }
    double *shift = malloc((size_t)oc * sizeof(double));
    RETURN_IF(!shift, YPR_ENOMEM, "quantizer: out of memory");
    ypr__quant_bias_shift(nd, cin, w0, w1, q->taps[c], (double)q->tap_count[c], shift);
    float *b = net->params[nd->p[1]].data;
    for (int64_t o = 0; o < oc; o++)
        b[o] = (float)(b[o] - shift[o]);
    free(shift);
    return YPR_OK;
}

void ypr__quant_bias_shift(const ypr_node *c, int64_t cin, const float *w0, const float *w1,
                           const double *taps, double count, double *shift)
{
    int64_t oc = c->c, per = cin / c->groups * c->kh * c->kw;
    for (int64_t o = 0; o < oc; o++) {
        int64_t g = o / (oc / c->groups);
        double sum = 0;
        for (int64_t k = 0; k < per; k++)
            sum += ((double)w1[o * per + k] - w0[o * per + k]) * taps[g * per + k];
        shift[o] = sum / count;
    }
}

static void quant_bias(const ypr_quantizer *q, ypr_net *net, int c)
{
    ypr_node *nd = &net->nodes[c];
    if (nd->p[1] < 0)
        return;
    ypr_param *b = &net->params[nd->p[1]];
    if (q->scheme == YPR_QSCHEME_DPU) {
        ypr__quant_pot_tensor(b->data, b->numel, QMAX, YPR_ROUND_HALF_AWAY, &nd->bq);
        return;
    }
    /* INT32 at step s_w[o] · s_in: needs the input's step */
    const ypr_node *src = &net->nodes[quantized_source(net, nd->inputs[0])];
    if (!(src->aq.scale > 0) || !(nd->wq.scale > 0))
        return;
    const ypr_param *w = &net->params[nd->p[0]];
    int64_t per = w->numel / nd->c;
    nd->bq = (ypr_qparam){0, 0, INT32_MIN + 1, INT32_MAX, YPR_ROUND_HALF_EVEN, 1};
    for (int64_t o = 0; o < nd->c; o++) {
        double amax = 0;
        for (int64_t i = 0; i < per; i++)
            amax = fabs((double)w->data[o * per + i]) > amax ? fabs((double)w->data[o * per + i])
                                                              : amax;
        /* the float steps an INT32 tensor stores (lib/net/dtype.c), as ONNX's
         * float32 bias scale x_scale·w_scale */
        float sw = amax > 0 ? (float)(amax / QMAX) : 1.0f;
        float s = (float)((double)sw * src->aq.scale);
        double v = rint((double)b->data[o] / s);
        v = v > INT32_MAX ? INT32_MAX : v < -(double)INT32_MAX ? -(double)INT32_MAX : v;
        b->data[o] = (float)(v * (double)s);
        if (s > nd->bq.scale)
            nd->bq.scale = (float)s;
    }
}

/* ------------------------------------------------ end-to-end SQNR */

typedef struct e2e_ctx {
    float **ref;          /* per node: the float net's value (this image) */
    double *sig, *noise;
    const char *head;     /* per node: read through the detect head's sigmoid */
    int pass;             /* 0: record the float net; 1: compare */
    int oom;
} e2e_ctx;

static int e2e_observe(void *user, int node, const float *v, const ypr_shape *sh, int64_t n)
{
    e2e_ctx *cx = user;
    int64_t cnt = n * sh->c * sh->h * sh->w;
    if (cx->pass == 0) {
        if (!cx->ref[node])
            cx->ref[node] = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(float));
        if (!cx->ref[node])
            return ypr__error(YPR_ENOMEM, "quantizer: out of memory (SQNR reference)");
        memcpy(cx->ref[node], v, (size_t)cnt * sizeof(float));
        return YPR_OK;
    }
    const float *r = cx->ref[node];
    if (!r)
        return YPR_OK;
    double s = 0, e = 0;
    if (cx->head[node]) {   /* after the sigmoid, as the decoder sees it */
        for (int64_t i = 0; i < cnt; i++) {
            double a = 1 / (1 + exp(-(double)r[i])), b = 1 / (1 + exp(-(double)v[i]));
            s += (a - 0.5) * (a - 0.5);
            e += (b - a) * (b - a);
        }
    } else {
        for (int64_t i = 0; i < cnt; i++) {
            s += (double)r[i] * r[i];
            e += ((double)v[i] - r[i]) * ((double)v[i] - r[i]);
        }
    }
    cx->sig[node] += s;
    cx->noise[node] += e;
    return YPR_OK;
}

static int measure_e2e(ypr_quantizer *q, ypr_model *m)
{
    for (int r = 0; r < q->nrows; r++)
        q->rows[r].sqnr_e2e = NAN;
    int nimg = q->sqnr_images < q->calib_done ? q->sqnr_images : q->calib_done;
    if (nimg <= 0)
        return YPR_OK;
    int n = q->nnodes, rc = YPR_OK;
    char *head = calloc((size_t)n, 1);
    e2e_ctx cx = {calloc((size_t)n, sizeof(float *)), calloc((size_t)n, sizeof(double)),
                  calloc((size_t)n, sizeof(double)), head, 0, 0};
    for (int r = 0; head && r < q->nrows; r++)
        head[q->rows[r].node] = (char)q->rows[r].head;
    float *x = malloc((size_t)3 * q->size * q->size * sizeof(float));
    ypr_plan *pf = NULL, *pq = NULL;
    if (!cx.ref || !cx.sig || !cx.noise || !head || !x)
        rc = ypr__error(YPR_ENOMEM, "quantizer: out of memory");
    if (rc == YPR_OK)
        rc = ypr__plan_create(&q->work->net, q->work->pool, 1, q->size, q->size, &pf);
    if (rc == YPR_OK)
        rc = ypr__plan_create(&m->net, m->pool, 1, q->size, q->size, &pq);
    if (rc == YPR_OK) {
        ypr__plan_set_observer(pf, e2e_observe, &cx);
        ypr__plan_set_observer(pq, e2e_observe, &cx);
    }
    int count = ypr_dataset_count(q->ds);
    for (int i = 0; rc == YPR_OK && i < nimg; i++) {
        int idx = (int)((int64_t)i * count / q->calib_done);   /* calibration images */
        uint8_t *rgb = NULL;
        int w, h;
        ypr_letterbox lb;
        rc = ypr_dataset_image(q->ds, idx, &rgb, &w, &h);
        if (rc == YPR_OK)
            rc = ypr__letterbox(rgb, w, h, q->size, q->size, 114, x, &lb);
        ypr_free(rgb);
        cx.pass = 0;
        if (rc == YPR_OK)
            rc = ypr__plan_run(pf, x);
        cx.pass = 1;
        if (rc == YPR_OK)
            rc = ypr__plan_run(pq, x);
    }
    for (int r = 0; rc == YPR_OK && r < q->nrows; r++) {
        int nd = q->rows[r].node;
        q->rows[r].sqnr_e2e = ypr__sqnr_db(cx.sig[nd], cx.noise[nd]);
    }
    ypr__plan_free(pf);
    ypr__plan_free(pq);
    for (int i = 0; cx.ref && i < n; i++)
        free(cx.ref[i]);
    free(cx.ref);
    free(cx.sig);
    free(cx.noise);
    free(head);
    free(x);
    return rc;
}

/* ------------------------------------------------ step search */

/* YPR_QUANT_SEARCH_IMAGES K > 0: the calibration method proposes each
 * value's step; then, value after value in net order (dpu: a concat group
 * at once, its step shared), the step is doubled, or else halved, when that
 * lowers the end-to-end error — the squared difference after the sigmoid
 * between the quantized and the float net's head maps on the first K
 * calibration images, each anchor-cell's outputs weighted by the float
 * net's objectness there (where the detections are). Local criteria (KL
 * divergence, MSE of the value itself) cannot see that a detector's rare
 * strong responses matter more than their share of the histogram; the
 * head's error can. The steps stay
 * what the scheme allows (powers of two for dpu): the search only picks
 * among them. Costs about 2 forward passes of K images per value. */
typedef struct search_ctx {
    ypr_quantizer *q;
    ypr_model *m;
    ypr_plan *plan;
    float *x;             /* K letterboxed images */
    float **ref;          /* per image: the float net's head maps, levels concatenated */
    int64_t per;          /* head floats per image */
    int k, no;            /* images; outputs per anchor (classes + 5) */
} search_ctx;

static void head_copy(ypr_plan *plan, float *dst)
{
    for (int l = 0; l < ypr__plan_num_outputs(plan); l++) {
        ypr_shape sh;
        const float *o = ypr__plan_output(plan, l, &sh);
        int64_t n = sh.c * sh.h * sh.w;
        memcpy(dst, o, (size_t)n * sizeof(float));
        dst += n;
    }
}

static int search_error(search_ctx *cx, double *err)
{
    int64_t img = (int64_t)3 * cx->q->size * cx->q->size;
    double e = 0;
    for (int i = 0; i < cx->k; i++) {
        TRY(ypr__plan_run(cx->plan, cx->x + i * img));
        const float *r = cx->ref[i];
        for (int l = 0; l < ypr__plan_num_outputs(cx->plan); l++) {
            ypr_shape sh;
            const float *o = ypr__plan_output(cx->plan, l, &sh);
            int64_t n = sh.c * sh.h * sh.w;
            int64_t hw = sh.h * sh.w;
            for (int64_t j = 0; j < n; j++) {
                /* weighted by the float net's objectness of the anchor-cell */
                int64_t ch = j / hw, a = ch / cx->no;
                double obj = 1 / (1 + exp(-(double)r[(a * cx->no + 4) * hw + j % hw]));
                double d = 1 / (1 + exp(-(double)o[j])) - 1 / (1 + exp(-(double)r[j]));
                e += obj * d * d;
            }
            r += n;
        }
    }
    *err = e;
    return YPR_OK;
}

/* Scale the step of every value of group g (members: parent root g) by f. */
static void scale_group(ypr_net *net, const int *parent, int g, double f)
{
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].aq.scale > 0 && find((int *)parent, i) == g)
            net->nodes[i].aq.scale = (float)(net->nodes[i].aq.scale * f);
}

/* Conv c's bias again from the float net's, bias-corrected for the weights
 * it has now, rounded. */
static int redo_bias(const ypr_quantizer *q, ypr_model *m, int c)
{
    const ypr_net *ref = &q->work->net;
    ypr_node *nd = &m->net.nodes[c];
    if (nd->p[1] < 0)
        return YPR_OK;
    ypr_param *b = &m->net.params[nd->p[1]];
    int rb = ref->nodes[c].p[1];
    if (rb >= 0)
        memcpy(b->data, ref->params[rb].data, (size_t)b->numel * sizeof(float));
    else
        memset(b->data, 0, (size_t)b->numel * sizeof(float));
    if (q->bias_corr)
        TRY(correct_bias(q, m, c));
    quant_bias(q, &m->net, c);
    return YPR_OK;
}

/* dpu: each quantized conv's weight step doubled or halved (the weights
 * rounded again from the float net's, the bias corrected again) where that
 * lowers the head error. */
static int search_weights(search_ctx *cx, double *best)
{
    ypr_net *net = &cx->m->net;
    const ypr_net *ref = &cx->q->work->net;
    int rc = YPR_OK;
    for (int r = 0; rc == YPR_OK && r < cx->q->nrows; r++) {
        const ypr_qrow *row = &cx->q->rows[r];
        if (row->conv < 0 || row->kept)
            continue;
        ypr_node *nd = &net->nodes[row->conv];
        ypr_param *w = &net->params[nd->p[0]];
        const float *w0 = ref->params[ref->nodes[row->conv].p[0]].data;
        size_t bytes = (size_t)w->numel * sizeof(float);
        float *keep = malloc(bytes);
        RETURN_IF(!keep, YPR_ENOMEM, "quantizer: out of memory");
        memcpy(keep, w->data, bytes);
        ypr_qparam wq = nd->wq, bq = nd->bq;
        const ypr_param *bp = nd->p[1] >= 0 ? &net->params[nd->p[1]] : NULL;
        float *bkeep = bp ? malloc((size_t)bp->numel * sizeof(float)) : NULL;
        if (bp && !bkeep) {
            free(keep);
            return ypr__error(YPR_ENOMEM, "quantizer: out of memory");
        }
        if (bp)
            memcpy(bkeep, bp->data, (size_t)bp->numel * sizeof(float));
        static const double tries[2] = {0.5, 2.0};
        int better = 0;
        for (int t = 0; rc == YPR_OK && t < 2 && !better; t++) {
            nd->wq.scale = (float)(wq.scale * tries[t]);
            memcpy(w->data, w0, bytes);
            ypr__fake_quant(&nd->wq, w->data, w->numel);
            rc = redo_bias(cx->q, cx->m, row->conv);
            nd = &net->nodes[row->conv];
            net->version++;
            ypr__plan_free(cx->plan);
            cx->plan = NULL;
            double e = 0;
            if (rc == YPR_OK)
                rc = ypr__plan_create(net, cx->m->pool, 1, cx->q->size, cx->q->size,
                                      &cx->plan);
            if (rc == YPR_OK)
                rc = search_error(cx, &e);
            if (rc == YPR_OK && e < *best) {
                *best = e;
                better = 1;
            }
        }
        if (!better) {
            nd->wq = wq;
            nd->bq = bq;
            memcpy(w->data, keep, bytes);
            if (bp)
                memcpy(bp->data, bkeep, (size_t)bp->numel * sizeof(float));
            net->version++;
            ypr__plan_free(cx->plan);
            cx->plan = NULL;
            if (rc == YPR_OK)
                rc = ypr__plan_create(net, cx->m->pool, 1, cx->q->size, cx->q->size, &cx->plan);
        }
        free(keep);
        free(bkeep);
    }
    return rc;
}

static int search_steps(search_ctx *cx, const int *parent)
{
    ypr_net *net = &cx->m->net;
    double best;
    TRY(search_error(cx, &best));
    char *done = calloc((size_t)net->nnodes, 1);
    RETURN_IF(!done, YPR_ENOMEM, "quantizer: out of memory");
    int rc = YPR_OK;
    for (int i = 1; rc == YPR_OK && i < net->nnodes; i++) {
        int g = find((int *)parent, i);
        if (!(net->nodes[i].aq.scale > 0) || done[g])
            continue;
        done[g] = 1;
        int head = 0;   /* the head's steps have their own rule (after the sigmoid) */
        for (int r = 0; r < cx->q->nrows; r++)
            head |= cx->q->rows[r].head && find((int *)parent, cx->q->rows[r].node) == g;
        if (head)
            continue;
        static const double tries[2] = {2.0, 0.5};
        for (int t = 0; rc == YPR_OK && t < 2; t++) {
            scale_group(net, parent, g, tries[t]);
            double e;
            rc = search_error(cx, &e);
            if (rc == YPR_OK && e < best) {
                best = e;
                break;
            }
            scale_group(net, parent, g, 1.0 / tries[t]);   /* powers of two: exact */
        }
    }
    free(done);
    if (rc == YPR_OK && cx->q->scheme == YPR_QSCHEME_DPU)
        rc = search_weights(cx, &best);
    return rc;
}

static int step_search(ypr_quantizer *q, ypr_model *m)
{
    int k = q->search_images < q->calib_done ? q->search_images : q->calib_done;
    if (k <= 0)
        return YPR_OK;
    const ypr_net *net = &m->net;
    int64_t img = (int64_t)3 * q->size * q->size;
    search_ctx cx = {q, m, NULL, malloc((size_t)(k * img) * sizeof(float)),
                     calloc((size_t)k, sizeof(float *)), 0, k,
                     net->nodes[net->nnodes - 1].nc + 5};
    int *parent = malloc((size_t)net->nnodes * sizeof(int));
    ypr_plan *pf = NULL;
    int rc = cx.x && cx.ref && parent ? YPR_OK : ypr__error(YPR_ENOMEM, "quantizer: out of "
                                                            "memory");
    if (rc == YPR_OK) {
        /* per-channel: each value its own step (no shared concat steps) */
        concat_groups(net, parent);
        if (q->scheme != YPR_QSCHEME_DPU)
            for (int i = 0; i < net->nnodes; i++)
                parent[i] = i;
    }
    if (rc == YPR_OK)
        rc = ypr__plan_create(&q->work->net, q->work->pool, 1, q->size, q->size, &pf);
    if (rc == YPR_OK)
        rc = ypr__plan_create(&m->net, m->pool, 1, q->size, q->size, &cx.plan);
    int count = ypr_dataset_count(q->ds);
    for (int i = 0; rc == YPR_OK && i < k; i++) {
        int idx = (int)((int64_t)i * count / q->calib_done);
        uint8_t *rgb = NULL;
        int w, h;
        ypr_letterbox lb;
        rc = ypr_dataset_image(q->ds, idx, &rgb, &w, &h);
        if (rc == YPR_OK)
            rc = ypr__letterbox(rgb, w, h, q->size, q->size, 114, cx.x + i * img, &lb);
        ypr_free(rgb);
        if (rc == YPR_OK)
            rc = ypr__plan_run(pf, cx.x + i * img);
        if (rc == YPR_OK && i == 0)
            for (int l = 0; l < ypr__plan_num_outputs(pf); l++) {
                ypr_shape sh;
                ypr__plan_output(pf, l, &sh);
                cx.per += sh.c * sh.h * sh.w;
            }
        if (rc == YPR_OK && !(cx.ref[i] = malloc((size_t)cx.per * sizeof(float))))
            rc = ypr__error(YPR_ENOMEM, "quantizer: out of memory");
        if (rc == YPR_OK)
            head_copy(pf, cx.ref[i]);
    }
    if (rc == YPR_OK)
        rc = search_steps(&cx, parent);
    ypr__plan_free(pf);
    ypr__plan_free(cx.plan);
    for (int i = 0; cx.ref && i < k; i++)
        free(cx.ref[i]);
    free(cx.ref);
    free(cx.x);
    free(parent);
    return rc;
}

/* ------------------------------------------------------------ quantize */

static double combine_db(double a, double b)
{
    double na = pow(10, -a / 10), nb = pow(10, -b / 10);
    return ypr__sqnr_db(1, na + nb);
}

/* Max-pools select the largest values of their windows: the tail that the
 * clipping calibrations (entropy, MSE, percentile) cut as outliers is what
 * a pool passes on (SPP's 5/9/13 pools, the MP downsamplers). A value read
 * by a max-pool, and a concat joining pooled values, is calibrated minmax. */
static int pooled(const ypr_net *net, const ypr_consumers *cons, int i)
{
    for (int k = cons->start[i]; k < cons->start[i + 1]; k++)
        if (net->nodes[cons->list[k]].kind == YPR_NODE_MAXPOOL)
            return 1;
    const ypr_node *nd = &net->nodes[i];
    for (int j = 0; nd->kind == YPR_NODE_CONCAT && j < nd->ninputs; j++)
        if (net->nodes[nd->inputs[j]].kind == YPR_NODE_MAXPOOL)
            return 1;
    return 0;
}

static int build_rows(ypr_quantizer *q, ypr_model *m, const ypr_consumers *cons)
{
    ypr_net *net = &m->net;
    free(q->rows);
    q->nrows = 0;
    q->rows = calloc((size_t)net->nnodes, sizeof *q->rows);
    RETURN_IF(!q->rows, YPR_ENOMEM, "quantizer: out of memory");
    for (int i = 0; i < net->nnodes; i++) {
        if (!q->observed[i] || passthrough(net->nodes[i].kind))
            continue;
        ypr_qrow *r = &q->rows[q->nrows++];
        r->node = i;
        r->conv = chain_conv(net, cons, i);
        int pre = -1;       /* an activation on a conv value of its own (YPR_QUANT_ACT_LUT) */
        if (r->conv >= 0 && r->conv != i && q->observed[r->conv]) {
            pre = r->conv;
            r->conv = -1;
        }
        r->pooled = pooled(net, cons, i);
        const ypr_node *det = &net->nodes[net->nnodes - 1];
        for (int j = 0; det->kind == YPR_NODE_DETECT && j < det->ninputs; j++)
            r->head |= det->inputs[j] == i;
        r->sqnr_w = 200;
        /* a pattern naming the conv keeps its whole layer, activation included */
        r->kept = matches(q, net->nodes[i].name) ||
                  (r->conv >= 0 && matches(q, net->nodes[r->conv].name)) ||
                  (pre >= 0 && matches(q, net->nodes[pre].name));
        ypr_qparam aq;
        TRY(act_step(q, r, &aq));
        net->nodes[i].aq = aq;
        if (r->conv >= 0) {
            double sig, err;
            quant_weights(q, net, r->conv, &sig, &err);
            r->sqnr_w = ypr__sqnr_db(sig, err);
            r->w_scale = net->nodes[r->conv].wq.scale;
        }
        r->sqnr_local = combine_db(r->sqnr_w, r->sqnr_a);
    }
    /* keep-worst: the k lowest local SQNRs among the quantized convs */
    if (q->keep_worst > 0) {
        ypr_qrow **order = malloc((size_t)q->nrows * sizeof *order);
        RETURN_IF(!order, YPR_ENOMEM, "quantizer: out of memory");
        int n = 0;
        for (int r = 0; r < q->nrows; r++)
            if (q->rows[r].conv >= 0 && !q->rows[r].kept)
                order[n++] = &q->rows[r];
        qsort(order, (size_t)n, sizeof *order, row_cmp_local);
        for (int k = 0; k < n && k < q->keep_worst; k++)
            order[k]->kept = 1;
        free(order);
        /* a kept conv's table activation (the value reading only it) is kept too:
         * the layer stays float to its output, as without activation tables */
        for (int r = 0; r < q->nrows; r++) {
            const ypr_qrow *row = &q->rows[r];
            int a = row->kept && row->conv == row->node ? ypr__consumers_sole(cons, row->node)
                                                        : -1;
            for (int k = 0; a >= 0 && k < q->nrows; k++)
                if (q->rows[k].node == a && q->rows[k].conv < 0 &&
                    net->nodes[a].kind == YPR_NODE_ACT)
                    q->rows[k].kept = 1;
        }
    }
    /* undo what the kept rows got */
    const ypr_net *ref = &q->work->net;
    for (int r = 0; r < q->nrows; r++) {
        const ypr_qrow *row = &q->rows[r];
        if (!row->kept)
            continue;
        net->nodes[row->node].aq = (ypr_qparam){0};
        if (row->conv >= 0) {
            ypr_node *c = &net->nodes[row->conv];
            c->wq = (ypr_qparam){0};
            memcpy(net->params[c->p[0]].data, ref->params[ref->nodes[row->conv].p[0]].data,
                   (size_t)net->params[c->p[0]].numel * sizeof(float));
        }
    }
    return YPR_OK;
}

static int quantize(ypr_quantizer *q, ypr_model **out)
{
    ypr_model *m = NULL;
    TRY(ypr__model_clone(q->work, &m));
    ypr_net *net = &m->net;
    ypr_consumers cons;
    int rc = ypr__net_consumers(net, &cons);
    if (rc < 0) {
        ypr_model_free(m);
        return rc;
    }
    rc = build_rows(q, m, &cons);
    ypr__consumers_free(&cons);
    if (rc == YPR_OK && q->scheme == YPR_QSCHEME_DPU)
        rc = unify_concats(net);
    for (int r = 0; rc == YPR_OK && r < q->nrows; r++) {
        ypr_qrow *row = &q->rows[r];
        if (row->conv < 0 || row->kept)
            continue;
        if (q->bias_corr)
            rc = correct_bias(q, m, row->conv);
        if (rc == YPR_OK)
            quant_bias(q, net, row->conv);
    }
    if (rc == YPR_OK) {
        net->version++;
        rc = step_search(q, m);
    }
    for (int r = 0; r < q->nrows; r++)   /* after unify_concats and the search */
        q->rows[r].act_scale = net->nodes[q->rows[r].node].aq.scale;
    if (rc == YPR_OK)   /* rounded weights and biases become I8 / I32 tensors (lib/net/dtype.c) */
        rc = ypr__net_mark_quantized(net);
    net->version++;
    ypr__model_drop_plans(m);
    if (rc == YPR_OK)
        rc = ypr__net_validate(net);
    if (rc == YPR_OK)
        rc = measure_e2e(q, m);
    if (rc < 0) {
        ypr_model_free(m);
        free(q->rows);
        q->rows = NULL;
        q->nrows = 0;
        return rc;
    }
    *out = m;
    return YPR_OK;
}

int ypr_quantizer_quantize(ypr_quantizer *q, ypr_model **out)
{
    RETURN_IF(!q || !out, YPR_EINVAL, "quantizer: NULL argument");
    *out = NULL;
    if (!q->calibrated || q->calib_key != ypr__quant_settings_key(q))
        TRY(ypr_quantizer_calibrate(q));
    return quantize(q, out);
}

/* ------------------------------------------------ quantization-aware training */

/* `trained` has the structure of the quantized net: same nodes, same
 * tensors, steps on the quantized rows. */
static int same_structure(const ypr_quantizer *q, const ypr_net *t)
{
    const ypr_net *ref = &q->work->net;
    RETURN_IF(t->nnodes != ref->nnodes, YPR_EINVAL, "quantizer: the trained model has %d "
              "nodes, the quantized net %d: not a model of this quantizer", t->nnodes,
              ref->nnodes);
    for (int i = 0; i < t->nnodes; i++) {
        const ypr_node *a = &t->nodes[i], *b = &ref->nodes[i];
        RETURN_IF(a->kind != b->kind || a->c != b->c || strcmp(a->name, b->name) != 0,
                  YPR_EINVAL, "quantizer: node %d of the trained model (%s) differs from the "
                  "quantized net's (%s)", i, a->name, b->name);
        for (int k = 0; k < 2 && a->kind == YPR_NODE_CONV; k++) {
            int64_t na = a->p[k] >= 0 ? t->params[a->p[k]].numel : -1;
            int64_t nb = b->p[k] >= 0 ? ref->params[b->p[k]].numel : -1;
            RETURN_IF(k == 0 && na != nb, YPR_EINVAL, "quantizer: node %s: weight of %lld "
                      "values, the quantized net's %lld", a->name, (long long)na, (long long)nb);
        }
    }
    for (int r = 0; r < q->nrows; r++) {
        const ypr_qrow *row = &q->rows[r];
        if (row->kept)
            continue;
        const ypr_node *nd = &t->nodes[row->node];
        RETURN_IF(!(nd->aq.scale > 0), YPR_EINVAL, "quantizer: node %s of the trained model "
                  "has no activation step: not a quantized model", nd->name);
        RETURN_IF(row->conv >= 0 && !(t->nodes[row->conv].wq.scale > 0), YPR_EINVAL,
                  "quantizer: node %s of the trained model has no weight step: not a "
                  "quantized model", t->nodes[row->conv].name);
    }
    return YPR_OK;
}

/* Round conv c's trained weights and bias onto the grids the training
 * forward used (lib/train/qat.c): per tensor with the frozen step, per
 * channel with max|w_c| / qmax; a per-tensor bias step frozen, an INT32
 * per-channel bias at s_w[c]·s_in. */
static void convert_conv(const ypr_quantizer *q, ypr_net *net, int c, ypr_qrow *row)
{
    ypr_node *nd = &net->nodes[c];
    ypr_param *w = &net->params[nd->p[0]];
    double sig = 0, err;
    for (int64_t i = 0; i < w->numel; i++)
        sig += (double)w->data[i] * w->data[i];
    if (nd->wq.per_channel) {
        ypr_qparam wq = nd->wq;
        err = ypr__quant_per_channel(w->data, nd->c, w->numel / nd->c, wq.qmax, wq.round,
                                     &nd->wq);
        nd->wq.qmin = wq.qmin;
    } else {
        err = 0;
        for (int64_t i = 0; i < w->numel; i++) {
            float v = w->data[i];
            ypr__fake_quant(&nd->wq, &v, 1);
            err += ((double)v - w->data[i]) * ((double)v - w->data[i]);
            w->data[i] = v;
        }
    }
    row->sqnr_w = ypr__sqnr_db(sig, err);
    row->w_scale = nd->wq.scale;
    row->sqnr_local = combine_db(row->sqnr_w, row->sqnr_a);
    if (nd->p[1] < 0)
        return;
    if (nd->bq.per_channel || (q->scheme == YPR_QSCHEME_PER_CHANNEL && !(nd->bq.scale > 0)))
        quant_bias(q, net, c);
    else
        ypr__fake_quant(&nd->bq, net->params[nd->p[1]].data, net->params[nd->p[1]].numel);
}

int ypr_quantizer_convert(ypr_quantizer *q, const ypr_model *trained, ypr_model **out)
{
    RETURN_IF(!q || !trained || !out, YPR_EINVAL, "quantizer: NULL argument");
    *out = NULL;
    RETURN_IF(!q->work || !q->rows, YPR_ESTATE, "quantizer: nothing quantized yet "
              "(ypr_quantizer_quantize makes the model to fine-tune)");
    TRY(same_structure(q, &trained->net));
    ypr_qrow *rows = malloc((size_t)q->nrows * sizeof *rows);
    RETURN_IF(!rows, YPR_ENOMEM, "quantizer: out of memory");
    memcpy(rows, q->rows, (size_t)q->nrows * sizeof *rows);
    ypr_model *m = NULL;
    int rc = ypr__model_clone(trained, &m);
    for (int r = 0; rc == YPR_OK && r < q->nrows; r++)
        if (rows[r].conv >= 0 && !rows[r].kept)
            convert_conv(q, &m->net, rows[r].conv, &rows[r]);
    if (rc == YPR_OK) {
        m->net.version++;
        ypr__model_drop_plans(m);
        rc = ypr__net_mark_quantized(&m->net);   /* the converted tensors become I8 / I32 */
        if (rc == YPR_OK)
            rc = ypr__net_validate(&m->net);
    }
    ypr_qrow *old = q->rows;
    if (rc == YPR_OK) {
        q->rows = rows;
        rc = measure_e2e(q, m);
        if (rc < 0)
            q->rows = old;
    }
    if (rc < 0) {
        free(rows);
        ypr_model_free(m);
        return rc;
    }
    free(old);
    *out = m;
    return YPR_OK;
}
