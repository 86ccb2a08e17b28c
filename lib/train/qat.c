/* Quantization-aware training: the training plan's fake quantization. A
 * net that carries quantization steps (ypr_node.aq / wq / bq, put there by
 * ypr_quantizer_quantize) trains through them: the forward applies exactly
 * what the inference plan and the quantized model apply (the same
 * ypr__fake_quant, the same rounding), the backward is the straight-through
 * estimator — the gradient passes unchanged where a value was inside the
 * step's range and is zero where it was clipped.
 *   activations: node value y ← fq(y, aq), a clip bit per element;
 *   input: a quantized copy of the caller's images (no gradient);
 *   weights (conv with wq): the forward and the input gradient use fq(w),
 *     per tensor with the frozen step, per channel with max|w_c| / qmax of the
 *     current weights (the per-channel rule of the net, never clipping); the
 *     weight gradient is zeroed where w was clipped;
 *   biases (bq per tensor, the dpu scheme): the same; an INT32 per-channel
 *     bias (bq.per_channel) trains in float: its rounding (at s_w·s_in, far
 *     below the output's step) is applied when the model is converted.
 * Steps stay frozen: training moves weights, not scales. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

struct ypr_qat {
    int nnodes;
    uint8_t **clip;       /* per node with aq: one bit per element of its value, 1 = clipped */
    int64_t *cap;         /* per node: elements the clip bits cover */
    float **w, **b;       /* per conv with wq / a per-tensor bq: the fake-quantized copy */
    uint8_t **wclip, **bclip;
    float *xq;            /* the quantized input */
    int64_t xcap;
};

static int has_step(const ypr_qparam *q)
{
    return q->scale > 0.0f;
}

int ypr__qat_needed(const ypr_net *net)
{
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (has_step(&nd->aq) || has_step(&nd->wq) || has_step(&nd->bq))
            return 1;
    }
    return 0;
}

void ypr__qat_free(ypr_qat *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->nnodes; i++) {
        free(q->clip[i]);
        ypr__free(q->w[i]);
        ypr__free(q->b[i]);
        free(q->wclip[i]);
        free(q->bclip[i]);
    }
    free(q->clip);
    free(q->cap);
    free(q->w);
    free(q->b);
    free(q->wclip);
    free(q->bclip);
    ypr__free(q->xq);
    free(q);
}

static uint8_t *bits(int64_t n)
{
    return calloc((size_t)(n + 7) / 8 + 1, 1);
}

static int bias_trains_quantized(const ypr_node *nd)
{
    return nd->kind == YPR_NODE_CONV && nd->p[1] >= 0 && has_step(&nd->bq) &&
           !nd->bq.per_channel;
}

int ypr__qat_create(const ypr_net *net, const ypr_shape *shapes, int64_t ncap, ypr_qat **out)
{
    *out = NULL;
    if (!ypr__qat_needed(net))
        return YPR_OK;
    int nn = net->nnodes;
    for (int i = 0; i < nn; i++) {
        const ypr_node *nd = &net->nodes[i];
        TRY(ypr__qparam_check(&nd->aq, nd->name, "activation"));
        TRY(ypr__qparam_check(&nd->wq, nd->name, "weight"));
        TRY(ypr__qparam_check(&nd->bq, nd->name, "bias"));
        RETURN_IF(has_step(&nd->wq) && nd->kind != YPR_NODE_CONV, YPR_EUNSUPPORTED,
                  "train: node %s: a weight step on a %s node", nd->name,
                  ypr__node_kind_name(nd->kind));
        RETURN_IF(has_step(&nd->aq) && nd->kind == YPR_NODE_DETECT, YPR_EUNSUPPORTED,
                  "train: node %s: an activation step on the detect node", nd->name);
    }
    ypr_qat *q = calloc(1, sizeof *q);
    RETURN_IF(!q, YPR_ENOMEM, "train: out of memory");
    q->nnodes = nn;
    q->clip = calloc((size_t)nn, sizeof *q->clip);
    q->cap = calloc((size_t)nn, sizeof *q->cap);
    q->w = calloc((size_t)nn, sizeof *q->w);
    q->b = calloc((size_t)nn, sizeof *q->b);
    q->wclip = calloc((size_t)nn, sizeof *q->wclip);
    q->bclip = calloc((size_t)nn, sizeof *q->bclip);
    int ok = q->clip && q->cap && q->w && q->b && q->wclip && q->bclip;
    for (int i = 0; ok && i < nn; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (has_step(&nd->aq)) {
            q->cap[i] = ncap * shapes[i].c * shapes[i].h * shapes[i].w;
            if (i == 0) {
                q->xcap = q->cap[i];
                ok = (q->xq = ypr__alloc((size_t)(q->xcap ? q->xcap : 1) * sizeof(float))) != NULL;
            } else {
                ok = (q->clip[i] = bits(q->cap[i])) != NULL;
            }
        }
        if (ok && nd->kind == YPR_NODE_CONV && has_step(&nd->wq)) {
            int64_t n = net->params[nd->p[0]].numel;
            ok = (q->w[i] = ypr__alloc((size_t)n * sizeof(float))) && (q->wclip[i] = bits(n));
        }
        if (ok && bias_trains_quantized(nd)) {
            int64_t n = net->params[nd->p[1]].numel;
            ok = (q->b[i] = ypr__alloc((size_t)n * sizeof(float))) && (q->bclip[i] = bits(n));
        }
    }
    if (!ok) {
        ypr__qat_free(q);
        return ypr__error(YPR_ENOMEM, "train: out of memory (quantization-aware training)");
    }
    *out = q;
    return YPR_OK;
}

/* Fake-quantize x[n] in place with step `s` (a copy of the node's, scale
 * possibly per channel), setting bit k of `clip` where x[k] lay outside
 * [qmin, qmax] steps (NaN counts as clipped: it becomes qmin). */
static void fq_clip(const ypr_qparam *s, float *x, int64_t n, uint8_t *clip, int64_t bit0)
{
    const float lo = (float)s->qmin, hi = (float)s->qmax, z = (float)s->zero;
    for (int64_t k = 0; k < n; k++) {
        float v = x[k] / s->scale + z;
        if (clip && !(v >= lo && v <= hi))
            clip[(bit0 + k) >> 3] |= (uint8_t)(1u << ((bit0 + k) & 7));
    }
    ypr__fake_quant(s, x, n);
}

const float *ypr__qat_input(ypr_qat *q, const ypr_net *net, const float *x, int64_t n)
{
    if (!q || !q->xq || n > q->xcap)
        return x;
    memcpy(q->xq, x, (size_t)n * sizeof(float));
    ypr__fake_quant(&net->nodes[0].aq, q->xq, n);
    return q->xq;
}

void ypr__qat_act(ypr_qat *q, const ypr_net *net, int node, float *y, int64_t n)
{
    if (!q || node <= 0 || !q->clip[node] || !y)
        return;
    n = n < q->cap[node] ? n : q->cap[node];
    memset(q->clip[node], 0, (size_t)(q->cap[node] + 7) / 8);
    fq_clip(&net->nodes[node].aq, y, n, q->clip[node], 0);
}

/* g[k] ← 0 where bit k of clip is set. */
static void mask(const uint8_t *clip, float *g, int64_t n)
{
    for (int64_t k0 = 0; k0 < n; k0 += 8) {
        uint8_t m = clip[k0 >> 3];
        if (!m)
            continue;
        for (int64_t k = k0; k < n && k < k0 + 8; k++)
            if (m >> (k - k0) & 1)
                g[k] = 0.0f;
    }
}

void ypr__qat_act_grad(const ypr_qat *q, int node, float *g, int64_t n)
{
    if (!q || node <= 0 || node >= q->nnodes || !q->clip[node] || !g)
        return;
    mask(q->clip[node], g, n < q->cap[node] ? n : q->cap[node]);
}

const float *ypr__qat_weight(ypr_qat *q, const ypr_net *net, int node, int refresh)
{
    const ypr_node *nd = &net->nodes[node];
    const ypr_param *w = &net->params[nd->p[0]];
    if (!q || !q->w[node])
        return w->data;
    float *d = q->w[node];
    if (!refresh)
        return d;
    memcpy(d, w->data, (size_t)w->numel * sizeof(float));
    memset(q->wclip[node], 0, (size_t)(w->numel + 7) / 8);
    if (!nd->wq.per_channel) {
        fq_clip(&nd->wq, d, w->numel, q->wclip[node], 0);
        return d;
    }
    /* the net's per-channel rule: each channel's step max|w_c| / qmax of the
     * weights as they are now — nothing clips */
    int64_t per = w->numel / nd->c;
    for (int64_t o = 0; o < nd->c; o++) {
        float amax = 0;
        for (int64_t k = 0; k < per; k++)
            amax = fabsf(d[o * per + k]) > amax ? fabsf(d[o * per + k]) : amax;
        ypr_qparam one = nd->wq;
        one.scale = amax > 0 ? (float)((double)amax / nd->wq.qmax) : 1.0f;   /* as lib/quant */
        ypr__fake_quant(&one, d + o * per, per);
    }
    return d;
}

const float *ypr__qat_bias(ypr_qat *q, const ypr_net *net, int node)
{
    const ypr_node *nd = &net->nodes[node];
    if (nd->p[1] < 0)
        return NULL;
    const ypr_param *b = &net->params[nd->p[1]];
    if (!q || !q->b[node])
        return b->data;
    memcpy(q->b[node], b->data, (size_t)b->numel * sizeof(float));
    memset(q->bclip[node], 0, (size_t)(b->numel + 7) / 8);
    fq_clip(&nd->bq, q->b[node], b->numel, q->bclip[node], 0);
    return q->b[node];
}

void ypr__qat_param_grad(const ypr_qat *q, const ypr_net *net, int node, float *dw, float *db)
{
    if (!q)
        return;
    const ypr_node *nd = &net->nodes[node];
    if (dw && q->wclip[node])
        mask(q->wclip[node], dw, net->params[nd->p[0]].numel);
    if (db && q->bclip[node])
        mask(q->bclip[node], db, net->params[nd->p[1]].numel);
}
