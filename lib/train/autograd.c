/* The training plan: the net run in training mode. The forward pass keeps
 * every node's value (BatchNorm with batch statistics, which it folds into
 * nothing), the backward pass walks the nodes in reverse and accumulates
 * parameter gradients. Same net, same forward kernels as inference; the
 * backward convs come from lib/kernels. Every buffer is sized when the plan
 * is made: a step allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

struct ypr_tplan {
    ypr_net *net;
    const ypr_ktable *kt;
    ypr_pool *pool;
    int64_t n, h, w;
    int64_t ncap;            /* the batch the buffers are sized for */
    int nnodes, nparams;
    ypr_shape *shapes;
    ypr_conv_shape *cs;      /* per node: conv geometry (conv nodes) */
    float **val;             /* per node: forward value (the input node: the caller's x) */
    float **grad;            /* per node: gradient buffer while live in backward */
    int *gslot;              /* per node: gradient buffer slot, -1 none */
    float **slots;           /* gradient buffers */
    int nslots;
    unsigned char *reqgrad;  /* per node: its gradient is needed */
    unsigned char *written;  /* per node: its gradient buffer holds a value this pass */
    float **packed;          /* per conv node: packed weights */
    float **mean, **invstd;  /* per BatchNorm node: batch statistics of the last forward */
    float **pgrad;           /* per parameter: gradient (NULL: buffers, frozen) */
    unsigned char *frozen;   /* per parameter */
    float *scratch;          /* conv scratch (largest need, forward or backward) */
    double *red;             /* per-channel reductions (implicit layers), max channels */
    void *mem_act, *mem_grad, *mem_pgrad, *mem_misc;
    size_t act_bytes, grad_bytes, pgrad_bytes, misc_bytes;
    int detect;
    int forwarded;           /* a forward ran since the last backward */
    const float *x;
};

static int64_t numel_of(const ypr_tplan *p, int i)
{
    const ypr_shape *s = &p->shapes[i];
    return p->n * s->c * s->h * s->w;
}

static size_t align16(int64_t floats)
{
    return ((size_t)floats + 15) & ~(size_t)15;
}

void ypr__tplan_free(ypr_tplan *p)
{
    if (!p)
        return;
    ypr__free(p->mem_act);
    ypr__free(p->mem_grad);
    ypr__free(p->mem_pgrad);
    ypr__free(p->mem_misc);
    ypr__free(p->scratch);
    free(p->red);
    free(p->shapes);
    free(p->cs);
    free(p->val);
    free(p->grad);
    free(p->gslot);
    free(p->slots);
    free(p->reqgrad);
    free(p->written);
    free(p->packed);
    free(p->mean);
    free(p->invstd);
    free(p->pgrad);
    free(p->frozen);
    free(p);
}

static int param_trainable(const ypr_tplan *p, int pi)
{
    return pi >= 0 && !p->net->params[pi].is_buffer && !p->frozen[pi];
}

/* Which nodes need a gradient: those with a trainable parameter and those
 * downstream of one. */
static void mark_reqgrad(ypr_tplan *p)
{
    const ypr_net *net = p->net;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        int r = 0;
        if (nd->kind != YPR_NODE_DETECT)
            for (int k = 0; k < 4; k++)
                r |= param_trainable(p, nd->p[k]);
        for (int j = 0; j < nd->ninputs; j++)
            r |= p->reqgrad[nd->inputs[j]];
        p->reqgrad[i] = (unsigned char)(nd->kind != YPR_NODE_INPUT && r);
    }
}

/* Gradient buffers by liveness over the reverse walk: node j's gradient is
 * born at the backward step of its last reader and dies after its own. */
static int plan_grad_slots(ypr_tplan *p)
{
    const ypr_net *net = p->net;
    int nn = net->nnodes;
    int64_t *slot_floats = calloc((size_t)nn + 1, sizeof(int64_t));
    unsigned char *busy = calloc((size_t)nn + 1, 1);
    if (!slot_floats || !busy) {
        free(slot_floats);
        free(busy);
        return ypr__error(YPR_ENOMEM, "train: out of memory");
    }
    for (int i = 0; i < nn; i++)
        p->gslot[i] = -1;
    int nslots = 0;
    for (int i = nn - 1; i >= 0; i--) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_DETECT && (!p->reqgrad[i] || p->gslot[i] < 0))
            continue;
        for (int j = 0; j < nd->ninputs; j++) {
            int v = nd->inputs[j];
            if (!p->reqgrad[v] || p->gslot[v] >= 0)
                continue;
            int64_t need = numel_of(p, v);
            int best = -1;
            for (int s = 0; s < nslots; s++)
                if (!busy[s] && slot_floats[s] >= need &&
                    (best < 0 || slot_floats[s] < slot_floats[best]))
                    best = s;
            if (best < 0) {
                for (int s = 0; s < nslots; s++)
                    if (!busy[s] && (best < 0 || slot_floats[s] > slot_floats[best]))
                        best = s;
                if (best < 0)
                    best = nslots++;
                slot_floats[best] = need;
            }
            busy[best] = 1;
            p->gslot[v] = best;
        }
        if (p->gslot[i] >= 0)
            busy[p->gslot[i]] = 0;
    }
    size_t total = 0;
    for (int s = 0; s < nslots; s++)
        total += align16(slot_floats[s]);
    p->slots = calloc((size_t)nslots + 1, sizeof(float *));
    p->mem_grad = ypr__alloc((total ? total : 1) * sizeof(float));
    if (!p->slots || !p->mem_grad) {
        free(slot_floats);
        free(busy);
        return YPR_ENOMEM;
    }
    size_t at = 0;
    for (int s = 0; s < nslots; s++) {
        p->slots[s] = (float *)p->mem_grad + at;
        at += align16(slot_floats[s]);
    }
    p->nslots = nslots;
    p->grad_bytes = total * sizeof(float);
    for (int i = 0; i < nn; i++)
        p->grad[i] = p->gslot[i] >= 0 ? p->slots[p->gslot[i]] : NULL;
    free(slot_floats);
    free(busy);
    return YPR_OK;
}

static int plan_values(ypr_tplan *p)
{
    const ypr_net *net = p->net;
    size_t total = 0, misc = 0;
    int64_t scratch = 1;
    int workers = ypr__pool_size(p->pool);
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_INPUT || nd->kind == YPR_NODE_DETECT)
            continue;
        total += align16(numel_of(p, i));
        if (nd->kind == YPR_NODE_BN)
            misc += 2 * align16(nd->c);
        if (nd->kind == YPR_NODE_CONV) {
            const ypr_shape *in = &p->shapes[nd->inputs[0]];
            p->cs[i] = (ypr_conv_shape){p->n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw,
                                        nd->sh, nd->sw, nd->ph, nd->pw, nd->dh, nd->dw,
                                        nd->groups};
            TRY(ypr__conv_check(&p->cs[i], NULL, NULL));
            misc += align16(ypr__conv_packed_w_floats(p->kt, &p->cs[i]));
            int64_t b = ypr__conv_bwd_scratch_floats(p->kt, &p->cs[i], workers);
            if (b > scratch)
                scratch = b;
        }
    }
    int64_t fw = workers * ypr__gemm_scratch_floats(p->kt);
    if (fw > scratch)
        scratch = fw;
    RETURN_IF(total > (size_t)YPR_PLAN_MAX_ACTIVATION_BYTES / sizeof(float), YPR_ERANGE,
              "train: batch %lld at %lldx%lld keeps %.2f GiB of activations (limit %.2f GiB)",
              (long long)p->n, (long long)p->h, (long long)p->w,
              (double)total * sizeof(float) / (1 << 30),
              (double)YPR_PLAN_MAX_ACTIVATION_BYTES / (1 << 30));
    p->mem_act = ypr__alloc((total ? total : 1) * sizeof(float));
    p->mem_misc = ypr__alloc((misc ? misc : 1) * sizeof(float));
    p->scratch = ypr__alloc((size_t)scratch * sizeof(float));
    if (!p->mem_act || !p->mem_misc || !p->scratch)
        return YPR_ENOMEM;
    p->act_bytes = total * sizeof(float);
    p->misc_bytes = misc * sizeof(float) + (size_t)scratch * sizeof(float);
    float *a = p->mem_act, *m = p->mem_misc;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_INPUT || nd->kind == YPR_NODE_DETECT)
            continue;
        p->val[i] = a;
        a += align16(numel_of(p, i));
        if (nd->kind == YPR_NODE_BN) {
            p->mean[i] = m;
            m += align16(nd->c);
            p->invstd[i] = m;
            m += align16(nd->c);
        }
        if (nd->kind == YPR_NODE_CONV) {
            p->packed[i] = m;
            m += align16(ypr__conv_packed_w_floats(p->kt, &p->cs[i]));
        }
    }
    return YPR_OK;
}

static int plan_param_grads(ypr_tplan *p)
{
    size_t total = 0;
    for (int k = 0; k < p->nparams; k++)
        if (!p->net->params[k].is_buffer)
            total += align16(p->net->params[k].numel);
    p->mem_pgrad = ypr__alloc((total ? total : 1) * sizeof(float));
    if (!p->mem_pgrad)
        return YPR_ENOMEM;
    memset(p->mem_pgrad, 0, (total ? total : 1) * sizeof(float));
    p->pgrad_bytes = total * sizeof(float);
    float *g = p->mem_pgrad;
    for (int k = 0; k < p->nparams; k++)
        if (!p->net->params[k].is_buffer) {
            p->pgrad[k] = g;
            g += align16(p->net->params[k].numel);
        }
    return YPR_OK;
}

int ypr__tplan_create(ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                      const unsigned char *frozen, ypr_tplan **out)
{
    RETURN_IF(!net || !out, YPR_EINVAL, "train: NULL argument");
    *out = NULL;
    RETURN_IF(n <= 0 || n > 4096, YPR_EINVAL, "train: batch %lld outside 1..4096", (long long)n);
    TRY(ypr__net_validate(net));
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        RETURN_IF(nd->kind == YPR_NODE_CONV && nd->act != YPR_ACT_IDENTITY, YPR_EUNSUPPORTED,
                  "train: node %s carries a fused activation (a fused model): train the "
                  "unfused model", nd->name);
        RETURN_IF(nd->kind == YPR_NODE_UPSAMPLE && nd->scale != 2, YPR_EUNSUPPORTED,
                  "train: node %s: upsample factor %d (only 2)", nd->name, nd->scale);
    }
    ypr_tplan *p = calloc(1, sizeof *p);
    RETURN_IF(!p, YPR_ENOMEM, "train: out of memory");
    int nn = net->nnodes, np = net->nparams;
    p->net = net;
    p->kt = ypr__kt();
    p->pool = pool;
    p->n = n;
    p->ncap = n;
    p->h = h;
    p->w = w;
    p->nnodes = nn;
    p->nparams = np;
    p->detect = -1;
    p->shapes = calloc((size_t)nn, sizeof *p->shapes);
    p->cs = calloc((size_t)nn, sizeof *p->cs);
    p->val = calloc((size_t)nn, sizeof(float *));
    p->grad = calloc((size_t)nn, sizeof(float *));
    p->gslot = calloc((size_t)nn, sizeof(int));
    p->reqgrad = calloc((size_t)nn, 1);
    p->written = calloc((size_t)nn, 1);
    p->packed = calloc((size_t)nn, sizeof(float *));
    p->mean = calloc((size_t)nn, sizeof(float *));
    p->invstd = calloc((size_t)nn, sizeof(float *));
    p->pgrad = calloc((size_t)np + 1, sizeof(float *));
    p->frozen = calloc((size_t)np + 1, 1);
    int64_t cmax = 1;
    for (int i = 0; i < nn; i++)
        if (net->nodes[i].c > cmax)
            cmax = net->nodes[i].c;
    p->red = calloc((size_t)cmax, sizeof(double));
    int rc = YPR_ENOMEM;
    if (!p->shapes || !p->cs || !p->val || !p->grad || !p->gslot || !p->reqgrad ||
        !p->written || !p->packed || !p->mean || !p->invstd || !p->pgrad || !p->frozen || !p->red)
        goto fail;
    if (frozen)
        memcpy(p->frozen, frozen, (size_t)np);
    for (int i = 0; i < nn; i++)
        if (net->nodes[i].kind == YPR_NODE_DETECT)
            p->detect = i;
    rc = YPR_EINVAL;
    if (p->detect < 0) {
        rc = ypr__error(YPR_EINVAL, "train: the net has no detect head");
        goto fail;
    }
    if ((rc = ypr__net_shapes(net, h, w, p->shapes)) < 0)
        goto fail;
    mark_reqgrad(p);
    if ((rc = plan_values(p)) < 0 || (rc = plan_grad_slots(p)) < 0 ||
        (rc = plan_param_grads(p)) < 0)
        goto fail;
    *out = p;
    return YPR_OK;
fail:
    ypr__tplan_free(p);
    return rc < 0 ? rc : ypr__error(YPR_ENOMEM, "train: out of memory");
}

/* ------------------------------------------------------------ forward */

typedef struct bn_job {
    ypr_tplan *p;
    int node;
    const float *x;
    float *y;
    int update;
} bn_job;

static void bn_fwd_task(void *ctx, int64_t c, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    const ypr_tplan *p = j->p;
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[j->node];
    const ypr_shape *s = &p->shapes[j->node];
    int64_t hw = s->h * s->w, m = p->n * hw;
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < p->n; b++) {
        const float *x = j->x + (b * s->c + c) * hw;
        for (int64_t q = 0; q < hw; q++)
            sum += x[q];
    }
    double mean = sum / (double)m;
    for (int64_t b = 0; b < p->n; b++) {
        const float *x = j->x + (b * s->c + c) * hw;
        for (int64_t q = 0; q < hw; q++) {
            double d = x[q] - mean;
            sq += d * d;
        }
    }
    double var = sq / (double)m;
    float invstd = (float)(1.0 / sqrt(var + nd->eps));
    p->mean[j->node][c] = (float)mean;
    p->invstd[j->node][c] = invstd;
    const float *gamma = net->params[nd->p[0]].data, *beta = net->params[nd->p[1]].data;
    float sc = gamma[c] * invstd, mu = (float)mean, be = beta[c];
    for (int64_t b = 0; b < p->n; b++) {
        const float *x = j->x + (b * s->c + c) * hw;
        float *y = j->y + (b * s->c + c) * hw;
        for (int64_t q = 0; q < hw; q++)
            y[q] = (x[q] - mu) * sc + be;
    }
    if (j->update) {
        float mom = nd->momentum;
        float *rm = net->params[nd->p[2]].data, *rv = net->params[nd->p[3]].data;
        double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
        rm[c] = (1.0f - mom) * rm[c] + mom * (float)mean;
        rv[c] = (1.0f - mom) * rv[c] + mom * (float)unbiased;
    }
}

static void reorg_fwd(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, float *y,
                      int backward)
{
    /* y channel blocks (row, col) offsets (0,0) (1,0) (0,1) (1,1); backward: x += scatter of y */
    static const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
    int64_t oh = h / 2, ow = w / 2;
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *src = x + (b * c + ch) * h * w;
            for (int q = 0; q < 4; q++) {
                float *dst = y + ((b * 4 + q) * c + ch) * oh * ow;
                for (int64_t i = 0; i < oh; i++)
                    for (int64_t jx = 0; jx < ow; jx++) {
                        if (backward)
                            ((float *)src)[(2 * i + dy[q]) * w + 2 * jx + dx[q]] +=
                                dst[i * ow + jx];
                        else
                            dst[i * ow + jx] = src[(2 * i + dy[q]) * w + 2 * jx + dx[q]];
                    }
            }
        }
}

static const float *input_of(const ypr_tplan *p, int node, int j)
{
    int v = p->net->nodes[node].inputs[j];
    return p->net->nodes[v].kind == YPR_NODE_INPUT ? p->x : p->val[v];
}

static int forward_node(ypr_tplan *p, int i, int update)
{
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[i];
    const ypr_shape *o = &p->shapes[i];
    float *y = p->val[i];
    int64_t hw = o->h * o->w, total = p->n * o->c * hw;
    const float *x = nd->ninputs ? input_of(p, i, 0) : NULL;
    switch (nd->kind) {
    case YPR_NODE_CONV: {
        ypr__conv_pack_w(p->kt, &p->cs[i], net->params[nd->p[0]].data, p->packed[i]);
        ypr_epilogue ep = {NULL, nd->p[1] >= 0 ? net->params[nd->p[1]].data : NULL,
                           YPR_ACT_IDENTITY, 0.0f};
        return ypr__conv2d_ws(p->kt, p->pool, &p->cs[i], x, p->packed[i], &ep, y, p->scratch);
    }
    case YPR_NODE_BN: {
        bn_job j = {p, i, x, y, update};
        ypr__pool_run(p->pool, o->c, bn_fwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_ACT:
    case YPR_NODE_IMPLICIT_ADD:
    case YPR_NODE_IMPLICIT_MUL: {
        memcpy(y, x, (size_t)total * sizeof(float));
        ypr_epilogue ep = {NULL, NULL, YPR_ACT_IDENTITY, 0.0f};
        if (nd->kind == YPR_NODE_ACT) {
            ep.act = nd->act;
            ep.alpha = nd->alpha;
        } else if (nd->kind == YPR_NODE_IMPLICIT_ADD) {
            ep.bias = net->params[nd->p[0]].data;
        } else {
            ep.scale = net->params[nd->p[0]].data;
        }
        return ypr__scale_bias_act(p->kt, p->pool, p->n, o->c, hw, y, &ep);
    }
    case YPR_NODE_ADD:
        memcpy(y, x, (size_t)total * sizeof(float));
        for (int j = 1; j < nd->ninputs; j++) {
            const float *b = input_of(p, i, j);
            for (int64_t k = 0; k < total; k++)
                y[k] += b[k];
        }
        return YPR_OK;
    case YPR_NODE_CONCAT: {
        int64_t off = 0;
        for (int j = 0; j < nd->ninputs; j++) {
            const ypr_shape *s = &p->shapes[nd->inputs[j]];
            TRY(ypr__concat_copy(p->n, s->c, o->c, off, hw, input_of(p, i, j), y));
            off += s->c;
        }
        return YPR_OK;
    }
    case YPR_NODE_MAXPOOL: {
        const ypr_shape *in = &p->shapes[nd->inputs[0]];
        return ypr__maxpool2d(p->kt, p->pool, p->n * in->c, in->h, in->w, nd->kh, nd->sh,
                              nd->ph, x, y);
    }
    case YPR_NODE_UPSAMPLE: {
        const ypr_shape *in = &p->shapes[nd->inputs[0]];
        return ypr__upsample2x(p->kt, p->pool, p->n * in->c, in->h, in->w, x, y);
    }
    case YPR_NODE_REORG: {
        const ypr_shape *in = &p->shapes[nd->inputs[0]];
        reorg_fwd(x, p->n, in->c, in->h, in->w, y, 0);
        return YPR_OK;
    }
    default:
        return ypr__error(YPR_EINTERNAL, "train: node %s: no forward for kind %d", nd->name,
                          nd->kind);
    }
}

int ypr__tplan_forward(ypr_tplan *p, const float *x, int update_stats)
{
    RETURN_IF(!p || !x, YPR_EINVAL, "train: NULL argument");
    RETURN_IF(p->net->nnodes != p->nnodes || p->net->nparams != p->nparams, YPR_ESTATE,
              "train: the net changed since the training plan was made");
    p->x = x;
    for (int i = 0; i < p->nnodes; i++) {
        int k = p->net->nodes[i].kind;
        if (k != YPR_NODE_INPUT && k != YPR_NODE_DETECT)
            TRY(forward_node(p, i, update_stats));
    }
    p->forwarded = 1;
    return YPR_OK;
}

int ypr__tplan_num_outputs(const ypr_tplan *p)
{
    return p->net->nodes[p->detect].ninputs;
}

const float *ypr__tplan_output(const ypr_tplan *p, int level, ypr_shape *shape)
{
    if (level < 0 || level >= ypr__tplan_num_outputs(p))
        return NULL;
    int v = p->net->nodes[p->detect].inputs[level];
    if (shape)
        *shape = p->shapes[v];
    return p->val[v];
}

float *ypr__tplan_output_grad(ypr_tplan *p, int level)
{
    if (level < 0 || level >= ypr__tplan_num_outputs(p))
        return NULL;
    return p->grad[p->net->nodes[p->detect].inputs[level]];
}

/* ------------------------------------------------------------ backward */

typedef struct ew_job {
    ypr_tplan *p;
    int node;
    const float *x, *gy;
    float *gx;
    int acc;                   /* gx += instead of = */
    double *red;               /* per-channel reductions (implicit layers) */
} ew_job;

static float act_grad(float x, float y, int act, float alpha)
{
    switch (act) {
    case YPR_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case YPR_ACT_LEAKY: return x > 0.0f ? 1.0f : alpha;
    case YPR_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case YPR_ACT_SIGMOID: return y * (1.0f - y);
    case YPR_ACT_HARDSWISH: return x < -3.0f ? 0.0f : (x <= 3.0f ? x / 3.0f + 0.5f : 1.0f);
    default: return 1.0f;
    }
}

static void act_bwd_task(void *ctx, int64_t plane, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    const ypr_node *nd = &j->p->net->nodes[j->node];
    const ypr_shape *s = &j->p->shapes[j->node];
    int64_t hw = s->h * s->w, off = plane * hw;
    const float *x = j->x + off, *y = j->p->val[j->node] + off, *gy = j->gy + off;
    float *gx = j->gx + off;
    for (int64_t q = 0; q < hw; q++) {
        float g = gy[q] * act_grad(x[q], y[q], nd->act, nd->alpha);
        gx[q] = j->acc ? gx[q] + g : g;
    }
}

static void bn_bwd_task(void *ctx, int64_t c, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    ypr_tplan *p = j->p;
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[j->node];
    const ypr_shape *s = &p->shapes[j->node];
    int64_t hw = s->h * s->w, m = p->n * hw;
    float mu = p->mean[j->node][c], is = p->invstd[j->node][c];
    double sg = 0, sgx = 0;
    for (int64_t b = 0; b < p->n; b++) {
        const float *x = j->x + (b * s->c + c) * hw, *gy = j->gy + (b * s->c + c) * hw;
        for (int64_t q = 0; q < hw; q++) {
            sg += gy[q];
            sgx += (double)gy[q] * ((x[q] - mu) * is);
        }
    }
    if (p->pgrad[nd->p[0]] && !p->frozen[nd->p[0]])
        p->pgrad[nd->p[0]][c] += (float)sgx;
    if (p->pgrad[nd->p[1]] && !p->frozen[nd->p[1]])
        p->pgrad[nd->p[1]][c] += (float)sg;
    if (!j->gx)
        return;
    float k = net->params[nd->p[0]].data[c] * is;
    float mg = (float)(sg / (double)m), mgx = (float)(sgx / (double)m);
    for (int64_t b = 0; b < p->n; b++) {
        const float *x = j->x + (b * s->c + c) * hw, *gy = j->gy + (b * s->c + c) * hw;
        float *gx = j->gx + (b * s->c + c) * hw;
        for (int64_t q = 0; q < hw; q++) {
            float g = k * (gy[q] - mg - (x[q] - mu) * is * mgx);
            gx[q] = j->acc ? gx[q] + g : g;
        }
    }
}

/* Implicit add/multiply: gx = gy (· implicit[c]); the implicit's gradient is
 * Σ gy (· x) over the batch and plane, per channel. */
static void implicit_bwd_task(void *ctx, int64_t c, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    ypr_tplan *p = j->p;
    const ypr_node *nd = &p->net->nodes[j->node];
    const ypr_shape *s = &p->shapes[j->node];
    int64_t hw = s->h * s->w;
    int mul = nd->kind == YPR_NODE_IMPLICIT_MUL;
    float k = mul ? p->net->params[nd->p[0]].data[c] : 1.0f;
    double r = 0;
    for (int64_t b = 0; b < p->n; b++) {
        int64_t off = (b * s->c + c) * hw;
        const float *gy = j->gy + off, *x = j->x + off;
        for (int64_t q = 0; q < hw; q++)
            r += mul ? (double)gy[q] * x[q] : gy[q];
        if (j->gx) {
            float *gx = j->gx + off;
            for (int64_t q = 0; q < hw; q++)
                gx[q] = j->acc ? gx[q] + gy[q] * k : gy[q] * k;
        }
    }
    j->red[c] = r;
}

static void maxpool_bwd_task(void *ctx, int64_t plane, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    const ypr_tplan *p = j->p;
    const ypr_node *nd = &p->net->nodes[j->node];
    const ypr_shape *in = &p->shapes[nd->inputs[0]], *o = &p->shapes[j->node];
    const float *x = j->x + plane * in->h * in->w, *gy = j->gy + plane * o->h * o->w;
    float *gx = j->gx + plane * in->h * in->w;
    if (!j->acc)
        memset(gx, 0, (size_t)(in->h * in->w) * sizeof(float));
    for (int64_t oy = 0; oy < o->h; oy++)
        for (int64_t ox = 0; ox < o->w; ox++) {
            /* PyTorch's choice: the first maximum in row-major window order */
            int64_t best = -1;
            float bv = -INFINITY;
            for (int ky = 0; ky < nd->kh; ky++) {
                int64_t iy = oy * nd->sh - nd->ph + ky;
                if (iy < 0 || iy >= in->h)
                    continue;
                for (int kx = 0; kx < nd->kw; kx++) {
                    int64_t ix = ox * nd->sw - nd->pw + kx;
                    if (ix < 0 || ix >= in->w)
                        continue;
                    float v = x[iy * in->w + ix];
                    if (best < 0 || v > bv || isnan(v)) {
                        best = iy * in->w + ix;
                        bv = v;
                        if (isnan(v))
                            goto found;
                    }
                }
            }
        found:
            if (best >= 0)
                gx[best] += gy[oy * o->w + ox];
        }
}

static void upsample_bwd_task(void *ctx, int64_t plane, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    const ypr_tplan *p = j->p;
    const ypr_shape *in = &p->shapes[p->net->nodes[j->node].inputs[0]];
    int64_t h = in->h, w = in->w;
    const float *gy = j->gy + plane * 4 * h * w;
    float *gx = j->gx + plane * h * w;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            const float *r0 = gy + (2 * y) * 2 * w + 2 * x, *r1 = r0 + 2 * w;
            float g = (r0[0] + r0[1]) + (r1[0] + r1[1]);
            gx[y * w + x] = j->acc ? gx[y * w + x] + g : g;
        }
}

static void add_into(float *gx, const float *gy, int64_t n, int acc)
{
    if (acc)
        for (int64_t k = 0; k < n; k++)
            gx[k] += gy[k];
    else
        memcpy(gx, gy, (size_t)n * sizeof(float));
}

/* The gradient buffer of input j of node i, or NULL when it needs none. */
static float *in_grad(ypr_tplan *p, int i, int j, int *acc)
{
    int v = p->net->nodes[i].inputs[j];
    if (!p->reqgrad[v] || !p->grad[v])
        return NULL;
    *acc = p->written[v];
    p->written[v] = 1;
    return p->grad[v];
}

static int backward_node(ypr_tplan *p, int i)
{
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[i];
    const ypr_shape *o = &p->shapes[i];
    const float *gy = p->grad[i];
    int64_t hw = o->h * o->w, total = p->n * o->c * hw;
    int acc = 0;
    switch (nd->kind) {
    case YPR_NODE_CONV: {
        const float *x = input_of(p, i, 0);
        int pw = nd->p[0], pb = nd->p[1];
        if (param_trainable(p, pw) || param_trainable(p, pb)) {
            /* the bias gradient rides along; a frozen weight gets a scratch-free skip */
            float *dw = param_trainable(p, pw) ? p->pgrad[pw] : NULL;
            float *db = param_trainable(p, pb) ? p->pgrad[pb] : NULL;
            if (dw) {
                TRY(ypr__conv2d_bwd_weight(p->kt, p->pool, &p->cs[i], x, gy, dw, db,
                                           p->scratch));
            } else {
                for (int64_t b = 0; b < p->n; b++)
                    for (int64_t c = 0; c < o->c; c++) {
                        double s = 0;
                        for (int64_t q = 0; q < hw; q++)
                            s += gy[(b * o->c + c) * hw + q];
                        db[c] += (float)s;
                    }
            }
        }
        float *gx = in_grad(p, i, 0, &acc);
        if (gx)
            TRY(ypr__conv2d_bwd_data(p->kt, p->pool, &p->cs[i], gy, net->params[pw].data, gx,
                                     acc, p->scratch));
        return YPR_OK;
    }
    case YPR_NODE_BN: {
        ew_job j = {p, i, input_of(p, i, 0), gy, NULL, 0, NULL};
        j.gx = in_grad(p, i, 0, &j.acc);
        ypr__pool_run(p->pool, o->c, bn_bwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_ACT: {
        ew_job j = {p, i, input_of(p, i, 0), gy, NULL, 0, NULL};
        j.gx = in_grad(p, i, 0, &j.acc);
        if (j.gx)
            ypr__pool_run(p->pool, p->n * o->c, act_bwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_IMPLICIT_ADD:
    case YPR_NODE_IMPLICIT_MUL: {
        double *red = p->red;
        ew_job j = {p, i, input_of(p, i, 0), gy, NULL, 0, red};
        j.gx = in_grad(p, i, 0, &j.acc);
        ypr__pool_run(p->pool, o->c, implicit_bwd_task, &j);
        if (param_trainable(p, nd->p[0]))
            for (int64_t c = 0; c < o->c; c++)
                p->pgrad[nd->p[0]][c] += (float)red[c];
        return YPR_OK;
    }
    case YPR_NODE_ADD:
        for (int j = 0; j < nd->ninputs; j++) {
            float *gx = in_grad(p, i, j, &acc);
            if (gx)
                add_into(gx, gy, total, acc);
        }
        return YPR_OK;
    case YPR_NODE_CONCAT: {
        int64_t off = 0;
        for (int j = 0; j < nd->ninputs; j++) {
            const ypr_shape *s = &p->shapes[nd->inputs[j]];
            float *gx = in_grad(p, i, j, &acc);
            if (gx)
                for (int64_t b = 0; b < p->n; b++)
                    add_into(gx + b * s->c * hw, gy + (b * o->c + off) * hw, s->c * hw, acc);
            off += s->c;
        }
        return YPR_OK;
    }
    case YPR_NODE_MAXPOOL: {
        ew_job j = {p, i, input_of(p, i, 0), gy, NULL, 0, NULL};
        j.gx = in_grad(p, i, 0, &j.acc);
        if (j.gx)
            ypr__pool_run(p->pool, p->n * p->shapes[nd->inputs[0]].c, maxpool_bwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_UPSAMPLE: {
        ew_job j = {p, i, NULL, gy, NULL, 0, NULL};
        j.gx = in_grad(p, i, 0, &j.acc);
        if (j.gx)
            ypr__pool_run(p->pool, p->n * p->shapes[nd->inputs[0]].c, upsample_bwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_REORG: {
        const ypr_shape *in = &p->shapes[nd->inputs[0]];
        float *gx = in_grad(p, i, 0, &acc);
        if (gx) {
            if (!acc)
                memset(gx, 0, (size_t)(p->n * in->c * in->h * in->w) * sizeof(float));
            reorg_fwd(gx, p->n, in->c, in->h, in->w, (float *)gy, 1);
        }
        return YPR_OK;
    }
    default:
        return ypr__error(YPR_EINTERNAL, "train: node %s: no backward for kind %d", nd->name,
                          nd->kind);
    }
}

int ypr__tplan_backward(ypr_tplan *p)
{
    RETURN_IF(!p, YPR_EINVAL, "train: NULL argument");
    RETURN_IF(!p->forwarded, YPR_ESTATE, "train: backward without a forward pass");
    memset(p->written, 0, (size_t)p->nnodes);
    const ypr_node *d = &p->net->nodes[p->detect];
    for (int j = 0; j < d->ninputs; j++)
        p->written[d->inputs[j]] = 1;     /* the loss wrote them */
    for (int i = p->nnodes - 1; i >= 0; i--) {
        const ypr_node *nd = &p->net->nodes[i];
        if (nd->kind == YPR_NODE_DETECT || nd->kind == YPR_NODE_INPUT || !p->reqgrad[i])
            continue;
        if (!p->grad[i] || !p->written[i])
            continue;                      /* nothing downstream of it reaches the loss */
        TRY(backward_node(p, i));
    }
    p->forwarded = 0;
    return YPR_OK;
}

void ypr__tplan_zero_grad(ypr_tplan *p)
{
    memset(p->mem_pgrad, 0, p->pgrad_bytes ? p->pgrad_bytes : sizeof(float));
}

float *ypr__tplan_param_grad(ypr_tplan *p, int param)
{
    return param >= 0 && param < p->nparams && !p->frozen[param] ? p->pgrad[param] : NULL;
}

size_t ypr__tplan_bytes(const ypr_tplan *p, size_t parts[4])
{
    if (parts) {
        parts[0] = p->act_bytes;
        parts[1] = p->grad_bytes;
        parts[2] = p->pgrad_bytes;
        parts[3] = p->misc_bytes;
    }
    return p->act_bytes + p->grad_bytes + p->pgrad_bytes + p->misc_bytes;
}

int64_t ypr__tplan_batch(const ypr_tplan *p)
{
    return p->ncap;
}

int ypr__tplan_set_batch(ypr_tplan *p, int64_t n)
{
    RETURN_IF(n < 1 || n > p->ncap, YPR_ERANGE, "train: batch %lld outside 1..%lld",
              (long long)n, (long long)p->ncap);
    p->n = n;
    for (int i = 0; i < p->nnodes; i++)
        p->cs[i].n = n;
    p->forwarded = 0;
    return YPR_OK;
}
