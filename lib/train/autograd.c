/* The training plan: the net run in training mode. The forward pass keeps
 * every node's value (BatchNorm with batch statistics, which it folds into
 * nothing), the backward pass walks the nodes in reverse and accumulates
 * parameter gradients. Same net, same forward kernels as inference; the
 * backward convs come from lib/kernels. Every buffer is sized when the plan
 * is made: a step allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    int *bnact;              /* per BatchNorm node: the activation it is fused with, or -1 */
    unsigned char *fused;    /* per activation node: computed by its BatchNorm node */
    float **packed;          /* per conv node: packed weights */
    unsigned char *wino;     /* per conv node: the forward runs as Winograd F(4×4, 3×3) */
    int64_t wino_ws;         /* floats of the Winograd workspace at the start of scratch */
    float **mean, **invstd;  /* per BatchNorm node: batch statistics of the last forward */
    float **pgrad;           /* per parameter: gradient (NULL: buffers, frozen) */
    unsigned char *frozen;   /* per parameter */
    float *scratch;          /* conv scratch (largest need, forward or backward) */
    double *red;             /* per-channel reductions (implicit layers), max channels */
    void *mem_act, *mem_grad, *mem_pgrad, *mem_misc;
    size_t act_bytes, grad_bytes, pgrad_bytes, misc_bytes;
    int detect;
    int forwarded;           /* a forward ran since the last backward */
    int profile;             /* YPR_PROFILE=1 (wall) or cpu (the calling thread's CPU
                              * time, for one-thread runs): per-kind times, log hook */
    double tf[YPR_NODE_KIND_COUNT_], tb[YPR_NODE_KIND_COUNT_];
    double tconv[4][3];      /* per conv class (conv_class): forward, dW, dX */
    const float *x;
    ypr_qat *qat;            /* fake quantization of a net with steps (qat.c), or NULL */
};

/* The profile's clock. */
static double prof_now(const ypr_tplan *p)
{
    if (p->profile == 2) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
    }
    return ypr__now();
}

/* Profile classes of convs: 1×1, k×k stride 1, k×k stride 2+, the rest. */
static int conv_class(const ypr_conv_shape *s)
{
    if (s->groups != 1)
        return 3;
    if (s->kh == 1 && s->kw == 1)
        return 0;
    return s->sh == 1 && s->sw == 1 ? 1 : 2;
}

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
    ypr__qat_free(p->qat);
    free(p->red);
    free(p->shapes);
    free(p->cs);
    free(p->val);
    free(p->grad);
    free(p->gslot);
    free(p->slots);
    free(p->reqgrad);
    free(p->written);
    free(p->bnact);
    free(p->fused);
    free(p->packed);
    free(p->wino);
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

/* A BatchNorm whose only reader is an activation is fused with it: the
 * BatchNorm's output is never stored (the forward writes act(bn(x)) in one
 * pass, the backward recomputes bn(x) where it needs it), and the two
 * backward passes of the BatchNorm take the activation's gradient. */
static int mark_fusions(ypr_tplan *p)
{
    const ypr_net *net = p->net;
    int nn = net->nnodes;
    int *readers = calloc((size_t)nn + 1, sizeof(int)), *last = calloc((size_t)nn + 1, sizeof(int));
    if (!readers || !last) {
        free(readers);
        free(last);
        return ypr__error(YPR_ENOMEM, "train: out of memory");
    }
    for (int i = 0; i < nn; i++) {
        const ypr_node *nd = &net->nodes[i];
        for (int j = 0; j < nd->ninputs; j++) {
            readers[nd->inputs[j]]++;
            last[nd->inputs[j]] = i;
        }
    }
    const char *e = getenv("YPR_TRAIN_FUSE");   /* 0: no fusion (A/B checks) */
    int on = !(e && *e == '0');
    for (int i = 0; i < nn; i++) {
        p->bnact[i] = -1;
        int a = last[i];
        if (on && net->nodes[i].kind == YPR_NODE_BN && readers[i] == 1 &&
            !(net->nodes[i].aq.scale > 0) &&    /* a step on the BN value ends the chain */
            net->nodes[a].kind == YPR_NODE_ACT && net->nodes[a].ninputs == 1) {
            p->bnact[i] = a;
            p->fused[a] = 1;
        }
    }
    free(readers);
    free(last);
    return YPR_OK;
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
        if (p->fused[i])
            continue;                      /* its gradient lives on until its BatchNorm's step */
        int own = p->bnact[i] >= 0 ? p->bnact[i] : i;
        if (nd->kind != YPR_NODE_DETECT && (!p->reqgrad[i] || p->gslot[own] < 0))
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
        if (p->gslot[own] >= 0)
            busy[p->gslot[own]] = 0;
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

/* Whether the forward of a conv runs as Winograd: the inference plan's
 * rule (ypr__wino_pays; YPR_CONV_ALGO=gemm never, winograd every eligible
 * conv). Its backward is the GEMM one either way (dX of 3×3 stride-1 convs
 * goes through Winograd by the same rule inside conv_bwd.c). */
static int conv_wino(const ypr_tplan *p, const ypr_conv_shape *s, int workers)
{
    if (!ypr__wino_eligible(s))
        return 0;
    int forced = ypr__conv_algo_env();
    return forced >= 0 ? forced : ypr__wino_pays(p->kt, s, workers);
}

static int64_t packed_w_floats(const ypr_tplan *p, int i)
{
    return p->wino[i] ? ypr__wino_packed_w_floats(p->kt, &p->cs[i])
                      : ypr__conv_packed_w_floats(p->kt, &p->cs[i]);
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
        if (p->bnact[i] < 0)
            total += align16(numel_of(p, i));
        if (nd->kind == YPR_NODE_MAXPOOL) {
            /* the backward's row maxima and their columns, per worker */
            const ypr_shape *in = &p->shapes[nd->inputs[0]];
            int64_t need = workers * 2 * align16(in->h * p->shapes[i].w);
            if (need > scratch)
                scratch = need;
        }
        if (nd->kind == YPR_NODE_BN)
            misc += 2 * align16(nd->c);
        if (nd->kind == YPR_NODE_CONV) {
            const ypr_shape *in = &p->shapes[nd->inputs[0]];
            p->cs[i] = (ypr_conv_shape){p->n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw,
                                        nd->sh, nd->sw, nd->ph, nd->pw, nd->dh, nd->dw,
                                        nd->groups};
            TRY(ypr__conv_check(&p->cs[i], NULL, NULL));
            p->wino[i] = (unsigned char)conv_wino(p, &p->cs[i], workers);
            if (p->wino[i]) {
                int64_t ws = align16(ypr__wino_ws_floats(p->kt, &p->cs[i], workers));
                if (ws > p->wino_ws)
                    p->wino_ws = ws;
            }
            misc += align16(packed_w_floats(p, i));
            int64_t b = ypr__conv_bwd_scratch_floats(p->kt, &p->cs[i], workers);
            if (b > scratch)
                scratch = b;
        }
    }
    int64_t fw = p->wino_ws + workers * ypr__gemm_scratch_floats(p->kt);
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
        if (p->bnact[i] < 0) {
            p->val[i] = a;
            a += align16(numel_of(p, i));
        }
        if (nd->kind == YPR_NODE_BN) {
            p->mean[i] = m;
            m += align16(nd->c);
            p->invstd[i] = m;
            m += align16(nd->c);
        }
        if (nd->kind == YPR_NODE_CONV) {
            p->packed[i] = m;
            m += align16(packed_w_floats(p, i));
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
    {
        const char *e = getenv("YPR_PROFILE");
        p->profile = e && *e == '1' ? 1 : e && strcmp(e, "cpu") == 0 ? 2 : 0;
    }
    p->shapes = calloc((size_t)nn, sizeof *p->shapes);
    p->cs = calloc((size_t)nn, sizeof *p->cs);
    p->val = calloc((size_t)nn, sizeof(float *));
    p->grad = calloc((size_t)nn, sizeof(float *));
    p->gslot = calloc((size_t)nn, sizeof(int));
    p->reqgrad = calloc((size_t)nn, 1);
    p->written = calloc((size_t)nn, 1);
    p->bnact = calloc((size_t)nn, sizeof(int));
    p->fused = calloc((size_t)nn, 1);
    p->packed = calloc((size_t)nn, sizeof(float *));
    p->wino = calloc((size_t)nn, 1);
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
        !p->written || !p->bnact || !p->fused || !p->packed || !p->wino || !p->mean || !p->invstd || !p->pgrad || !p->frozen || !p->red)
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
    if ((rc = mark_fusions(p)) < 0 || (rc = plan_values(p)) < 0 || (rc = plan_grad_slots(p)) < 0 ||
        (rc = plan_param_grads(p)) < 0 || (rc = ypr__qat_create(net, p->shapes, n, &p->qat)) < 0)
        goto fail;
    *out = p;
    return YPR_OK;
fail:
    ypr__tplan_free(p);
    return rc < 0 ? rc : ypr__error(YPR_ENOMEM, "train: out of memory");
}

/* ------------------------------------------------------------ forward */

/* The activation backward with accumulation works through planes in
 * chunks of CHUNK floats, which stay in L1. */
#define CHUNK 1024

typedef struct bn_job {
    ypr_tplan *p;
    int node;
    const float *x;
    float *y;
    int update;
} bn_job;

/* Batch statistics of channel c in one pass (sums of x − x₀ with x₀ the
 * channel's first value, which keeps the variance formula well
 * conditioned), then y = act((x − mean)·γ/σ + β) in a second pass: the
 * BatchNorm's output when it stands alone, its activation's when fused.
 * Both passes are the kernel set's (kt->bn_sums, kt->bn_norm_act). */
static void bn_fwd_task(void *ctx, int64_t c, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    const ypr_tplan *p = j->p;
    const ypr_ktable *kt = p->kt;
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[j->node];
    const ypr_shape *s = &p->shapes[j->node];
    int64_t hw = s->h * s->w, m = p->n * hw;
    float x0 = j->x[c * hw];
    double sums[2] = {0, 0};
    for (int64_t b = 0; b < p->n; b++)
        kt->bn_sums(j->x + (b * s->c + c) * hw, hw, x0, sums);
    double dm = sums[0] / (double)m, mean = x0 + dm;
    double var = sums[1] / (double)m - dm * dm;
    if (var < 0)
        var = 0;
    float invstd = (float)(1.0 / sqrt(var + nd->eps));
    p->mean[j->node][c] = (float)mean;
    p->invstd[j->node][c] = invstd;
    const float *gamma = net->params[nd->p[0]].data, *beta = net->params[nd->p[1]].data;
    float sc = gamma[c] * invstd, mu = (float)mean, be = beta[c];
    int a = p->bnact[j->node];
    int act = a >= 0 ? net->nodes[a].act : YPR_ACT_IDENTITY;
    float alpha = a >= 0 ? net->nodes[a].alpha : 0.0f;
    for (int64_t b = 0; b < p->n; b++)
        kt->bn_norm_act(j->x + (b * s->c + c) * hw, j->y + (b * s->c + c) * hw, hw, mu, sc,
                        be, act, alpha);
    if (j->update) {
        float mom = nd->momentum;
        float *rm = net->params[nd->p[2]].data, *rv = net->params[nd->p[3]].data;
        double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
        rm[c] = (1.0f - mom) * rm[c] + mom * (float)mean;
        rv[c] = (1.0f - mom) * rv[c] + mom * (float)unbiased;
    }
}

/* Activation and implicit add/multiply: y = act(x·scale[c] + bias[c]), per plane. */
typedef struct ew_fwd_job {
    const ypr_tplan *p;
    const float *x, *scale, *bias;
    float *y;
    int64_t c, hw;
    int act;
    float alpha;
} ew_fwd_job;

static void ew_fwd_task(void *ctx, int64_t plane, int worker)
{
    (void)worker;
    const ew_fwd_job *j = ctx;
    int64_t c = plane % j->c, off = plane * j->hw;
    j->p->kt->bn_norm_act(j->x + off, j->y + off, j->hw, 0.0f, j->scale ? j->scale[c] : 1.0f,
                          j->bias ? j->bias[c] : 0.0f, j->act, j->alpha);
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

/* Concat and add, forward and backward, over the pool: a concat moves one
 * (image, input) block per task, an add one stretch of ADD_CHUNK floats of
 * every input. Copies and per-element sums: any split gives the same bits. */
enum { JOIN_MAX = 16, ADD_CHUNK = 1 << 15 };

typedef struct join_job {
    int k;                        /* inputs */
    const float *in[JOIN_MAX];    /* forward: the inputs */
    float *gin[JOIN_MAX];         /* backward: the inputs' gradients (NULL: none) */
    int acc[JOIN_MAX];            /* backward: += instead of = */
    int64_t c[JOIN_MAX], off[JOIN_MAX];
    const float *gy;              /* backward: the output's gradient */
    float *y;                     /* forward: the output */
    int64_t cy, hw, total;
} join_job;

static void add_into(float *gx, const float *gy, int64_t n, int acc)
{
    if (acc)
        for (int64_t k = 0; k < n; k++)
            gx[k] += gy[k];
    else
        memcpy(gx, gy, (size_t)n * sizeof(float));
}

static void concat_fwd_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const join_job *j = ctx;
    int q = (int)(t % j->k);
    int64_t b = t / j->k, len = j->c[q] * j->hw;
    memcpy(j->y + (b * j->cy + j->off[q]) * j->hw, j->in[q] + b * len,
           (size_t)len * sizeof(float));
}

static void concat_bwd_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const join_job *j = ctx;
    int q = (int)(t % j->k);
    int64_t b = t / j->k, len = j->c[q] * j->hw;
    if (j->gin[q])
        add_into(j->gin[q] + b * len, j->gy + (b * j->cy + j->off[q]) * j->hw, len, j->acc[q]);
}

static void add_fwd_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const join_job *j = ctx;
    int64_t k0 = t * ADD_CHUNK, len = j->total - k0 < ADD_CHUNK ? j->total - k0 : ADD_CHUNK;
    float *y = j->y + k0;
    const float *a = j->in[0] + k0, *b = j->in[1] + k0;
    for (int64_t k = 0; k < len; k++)
        y[k] = a[k] + b[k];
    for (int q = 2; q < j->k; q++) {
        b = j->in[q] + k0;
        for (int64_t k = 0; k < len; k++)
            y[k] += b[k];
    }
}

static void add_bwd_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const join_job *j = ctx;
    int64_t k0 = t * ADD_CHUNK, len = j->total - k0 < ADD_CHUNK ? j->total - k0 : ADD_CHUNK;
    for (int q = 0; q < j->k; q++)
        if (j->gin[q])
            add_into(j->gin[q] + k0, j->gy + k0, len, j->acc[q]);
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
        const float *w = ypr__qat_weight(p->qat, net, i, 1);
        ypr_epilogue ep = {NULL, ypr__qat_bias(p->qat, net, i), YPR_ACT_IDENTITY, 0.0f};
        if (p->wino[i]) {
            ypr__wino_pack_w(p->kt, &p->cs[i], w, p->packed[i]);
            return ypr__conv2d_wino(p->kt, p->pool, &p->cs[i], x, p->packed[i], &ep, y,
                                    p->scratch, p->scratch + p->wino_ws);
        }
        ypr__conv_pack_w(p->kt, &p->cs[i], w, p->packed[i]);
        return ypr__conv2d_ws(p->kt, p->pool, &p->cs[i], x, p->packed[i], &ep, y, p->scratch);
    }
    case YPR_NODE_BN: {
        bn_job j = {p, i, x, p->bnact[i] >= 0 ? p->val[p->bnact[i]] : y, update};
        ypr__pool_run(p->pool, o->c, bn_fwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_ACT:
    case YPR_NODE_IMPLICIT_ADD:
    case YPR_NODE_IMPLICIT_MUL: {
        if (p->fused[i])
            return YPR_OK;          /* its BatchNorm wrote it */
        ew_fwd_job j = {p, x, NULL, NULL, y, o->c, hw, YPR_ACT_IDENTITY, 0.0f};
        if (nd->kind == YPR_NODE_ACT) {
            j.act = nd->act;
            j.alpha = nd->alpha;
        } else if (nd->kind == YPR_NODE_IMPLICIT_ADD) {
            j.bias = net->params[nd->p[0]].data;
        } else {
            j.scale = net->params[nd->p[0]].data;
        }
        ypr__pool_run(p->pool, p->n * o->c, ew_fwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_ADD: {
        if (nd->ninputs > JOIN_MAX) {
            const float *b = input_of(p, i, 1);
            for (int64_t k = 0; k < total; k++)
                y[k] = x[k] + b[k];
            for (int j = 2; j < nd->ninputs; j++) {
                b = input_of(p, i, j);
                for (int64_t k = 0; k < total; k++)
                    y[k] += b[k];
            }
            return YPR_OK;
        }
        join_job j = {.k = nd->ninputs, .y = y, .total = total};
        for (int q = 0; q < nd->ninputs; q++)
            j.in[q] = input_of(p, i, q);
        ypr__pool_run(p->pool, (total + ADD_CHUNK - 1) / ADD_CHUNK, add_fwd_task, &j);
        return YPR_OK;
    }
    case YPR_NODE_CONCAT: {
        int64_t off = 0;
        if (nd->ninputs > JOIN_MAX) {
            for (int j = 0; j < nd->ninputs; j++) {
                const ypr_shape *s = &p->shapes[nd->inputs[j]];
                TRY(ypr__concat_copy(p->n, s->c, o->c, off, hw, input_of(p, i, j), y));
                off += s->c;
            }
            return YPR_OK;
        }
        join_job j = {.k = nd->ninputs, .y = y, .cy = o->c, .hw = hw};
        for (int q = 0; q < nd->ninputs; q++) {
            j.in[q] = input_of(p, i, q);
            j.c[q] = p->shapes[nd->inputs[q]].c;
            j.off[q] = off;
            off += j.c[q];
        }
        RETURN_IF(off != o->c, YPR_EINTERNAL, "train: node %s: concat of %lld channels into %lld",
                  nd->name, (long long)off, (long long)o->c);
        ypr__pool_run(p->pool, p->n * nd->ninputs, concat_fwd_task, &j);
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
    p->x = ypr__qat_input(p->qat, p->net, x, numel_of(p, 0));
    for (int i = 0; i < p->nnodes; i++) {
        int k = p->net->nodes[i].kind;
        if (k == YPR_NODE_INPUT || k == YPR_NODE_DETECT)
            continue;
        double t0 = p->profile ? prof_now(p) : 0;
        TRY(forward_node(p, i, update_stats));
        ypr__qat_act(p->qat, p->net, i, p->val[i], numel_of(p, i));
        if (p->profile) {
            p->tf[k] += prof_now(p) - t0;
            if (k == YPR_NODE_CONV)
                p->tconv[conv_class(&p->cs[i])][0] += prof_now(p) - t0;
        }
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

/* gx (=, or += when acc) gy·act'(x), one plane per task. */
static void act_bwd_task(void *ctx, int64_t plane, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    const ypr_node *nd = &j->p->net->nodes[j->node];
    const ypr_shape *s = &j->p->shapes[j->node];
    const ypr_ktable *kt = j->p->kt;
    int64_t hw = s->h * s->w, off = plane * hw;
    const float *x = j->x + off, *gy = j->gy + off;
    float *gx = j->gx + off;
    if (!j->acc) {
        kt->act_bwd(x, gy, gx, hw, nd->act, nd->alpha);
        return;
    }
    float g[CHUNK];
    for (int64_t k0 = 0; k0 < hw; k0 += CHUNK) {
        int64_t len = hw - k0 < CHUNK ? hw - k0 : CHUNK;
        kt->act_bwd(x + k0, gy + k0, g, len, nd->act, nd->alpha);
        for (int64_t k = 0; k < len; k++)
            gx[k0 + k] += g[k];
    }
}

/* BatchNorm backward for channel c in two passes over x and the incoming
 * gradient (kt->bn_bwd_sums, kt->bn_bwd_dx). Fused with its activation, the
 * incoming gradient is the activation's: the kernels recompute z = bn(x)
 * (the forward's exact float operations) and turn it into gz = gy·act'(z). */
static void bn_bwd_task(void *ctx, int64_t c, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    ypr_tplan *p = j->p;
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[j->node];
    const ypr_shape *s = &p->shapes[j->node];
    const ypr_ktable *kt = p->kt;
    int64_t hw = s->h * s->w, m = p->n * hw;
    int a = p->bnact[j->node];
    ypr_bn_coef k = {.mu = p->mean[j->node][c], .invstd = p->invstd[j->node][c],
                     .bias = net->params[nd->p[1]].data[c],
                     .act = a >= 0 ? net->nodes[a].act : YPR_ACT_IDENTITY,
                     .alpha = a >= 0 ? net->nodes[a].alpha : 0.0f};
    k.scale = net->params[nd->p[0]].data[c] * k.invstd;
    /* gz is kept in gx for the activations with an exp; the piecewise-linear
     * ones are cheaper to recompute than to write and read back */
    int keep = (k.act == YPR_ACT_SILU || k.act == YPR_ACT_SIGMOID ||
                k.act == YPR_ACT_HARDSWISH) && j->gx && !j->acc;
    double sums[2] = {0, 0};
    for (int64_t b = 0; b < p->n; b++) {
        int64_t off = (b * s->c + c) * hw;
        kt->bn_bwd_sums(j->x + off, j->gy + off, keep ? j->gx + off : NULL, hw, &k, sums);
    }
    double sg = sums[0], sgx = sums[1];
    if (p->pgrad[nd->p[0]] && !p->frozen[nd->p[0]])
        p->pgrad[nd->p[0]][c] += (float)sgx;
    if (p->pgrad[nd->p[1]] && !p->frozen[nd->p[1]])
        p->pgrad[nd->p[1]][c] += (float)sg;
    if (!j->gx)
        return;
    k.k = k.scale;
    k.mg = (float)(sg / (double)m);
    k.mgx = (float)(sgx / (double)m);
    int mode = (keep ? 0 : YPR_BN_RECOMPUTE) | (j->acc ? YPR_BN_ACCUMULATE : 0);
    for (int64_t b = 0; b < p->n; b++) {
        int64_t off = (b * s->c + c) * hw;
        kt->bn_bwd_dx(j->x + off, keep ? j->gx + off : j->gy + off, j->gx + off, hw, &k, mode);
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

/* PyTorch's pick in a max-pool window: the first NaN, else the first
 * maximum, in row-major window order. Scanning each row's window first and
 * then the row results top to bottom with the same rule picks the same
 * element (the first row holding a NaN holds the first NaN; the first row
 * reaching the maximum holds the first maximum). */
static inline int beats(float v, float best)
{
    return !isnan(best) && (v > best || isnan(v));
}

/* 2×2 stride 2 without padding: the four candidates of each window. */
static void maxpool2_bwd_plane(const float *x, int64_t h, int64_t w, const float *gy,
                               int64_t oh, int64_t ow, float *gx, int acc)
{
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + 2 * oy * w, *r1 = r0 + w;
        float *g0 = gx + 2 * oy * w, *g1 = g0 + w;
        for (int64_t ox = 0; ox < ow; ox++) {
            float c[4] = {r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]};
            int bi = 0;
            float m = c[0];
            for (int q = 1; q < 4; q++) {
                int t = beats(c[q], m);
                bi = t ? q : bi;
                m = t ? c[q] : m;
            }
            float g = gy[oy * ow + ox];
            float *d[4] = {g0 + 2 * ox, g0 + 2 * ox + 1, g1 + 2 * ox, g1 + 2 * ox + 1};
            if (acc) {
                *d[bi] += g;
            } else {
                for (int q = 0; q < 4; q++)
                    *d[q] = q == bi ? g : 0.0f;
            }
        }
        if (!acc && 2 * ow < w) {
            g0[w - 1] = 0.0f;
            g1[w - 1] = 0.0f;
        }
    }
    if (!acc && 2 * oh < h)
        memset(gx + (h - 1) * w, 0, (size_t)w * sizeof(float));
}

static void maxpool_bwd_task(void *ctx, int64_t plane, int worker)
{
    const ew_job *j = ctx;
    const ypr_tplan *p = j->p;
    const ypr_node *nd = &p->net->nodes[j->node];
    const ypr_shape *in = &p->shapes[nd->inputs[0]], *o = &p->shapes[j->node];
    int64_t h = in->h, w = in->w, oh = o->h, ow = o->w;
    const float *x = j->x + plane * h * w, *gy = j->gy + plane * oh * ow;
    float *gx = j->gx + plane * h * w;
    int k = nd->kh, st = nd->sh, pad = nd->ph;
    if (k == 2 && st == 2 && pad == 0 && nd->kw == 2 && nd->sw == 2 && nd->pw == 0) {
        maxpool2_bwd_plane(x, h, w, gy, oh, ow, gx, j->acc);
        return;
    }
    if (!j->acc)
        memset(gx, 0, (size_t)(h * w) * sizeof(float));
    /* row maxima of every input row's windows, then the column of rows */
    float *hv = p->scratch + (int64_t)worker * 2 * align16(h * ow);
    int32_t *hi = (int32_t *)(hv + align16(h * ow));
    for (int64_t iy = 0; iy < h; iy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            int64_t x0 = ox * nd->sw - nd->pw, x1 = x0 + nd->kw;
            if (x0 < 0)
                x0 = 0;
            if (x1 > w)
                x1 = w;
            int64_t bi = x0;
            for (int64_t ix = x0 + 1; ix < x1; ix++)
                if (beats(x[iy * w + ix], x[iy * w + bi]))
                    bi = ix;
            hv[iy * ow + ox] = x0 < x1 ? x[iy * w + bi] : NAN;
            hi[iy * ow + ox] = x0 < x1 ? (int32_t)bi : -1;
        }
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy * st - pad, y1 = y0 + k;
        if (y0 < 0)
            y0 = 0;
        if (y1 > h)
            y1 = h;
        for (int64_t ox = 0; ox < ow; ox++) {
            int64_t by = -1;
            for (int64_t iy = y0; iy < y1; iy++)
                if (hi[iy * ow + ox] >= 0 &&
                    (by < 0 || beats(hv[iy * ow + ox], hv[by * ow + ox])))
                    by = iy;
            if (by >= 0)
                gx[by * w + hi[by * ow + ox]] += gy[oy * ow + ox];
        }
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
    const float *gy = p->grad[p->bnact[i] >= 0 ? p->bnact[i] : i];
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
                double t0 = p->profile ? prof_now(p) : 0;
                TRY(ypr__conv2d_bwd_weight(p->kt, p->pool, &p->cs[i], x, gy, dw, db,
                                           p->scratch));
                ypr__qat_param_grad(p->qat, net, i, dw, db);
                if (p->profile)
                    p->tconv[conv_class(&p->cs[i])][1] += prof_now(p) - t0;
            } else {
                for (int64_t b = 0; b < p->n; b++)
                    for (int64_t c = 0; c < o->c; c++) {
                        double s = 0;
                        for (int64_t q = 0; q < hw; q++)
                            s += gy[(b * o->c + c) * hw + q];
                        db[c] += (float)s;
                    }
                ypr__qat_param_grad(p->qat, net, i, NULL, db);
            }
        }
        float *gx = in_grad(p, i, 0, &acc);
        double t0 = p->profile ? prof_now(p) : 0;
        if (gx)
            TRY(ypr__conv2d_bwd_data(p->kt, p->pool, &p->cs[i], gy,
                                     ypr__qat_weight(p->qat, net, i, 0), gx, acc, p->scratch));
        if (p->profile)
            p->tconv[conv_class(&p->cs[i])][2] += prof_now(p) - t0;
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
    case YPR_NODE_CONCAT: {
        int cat = nd->kind == YPR_NODE_CONCAT, twice = 0;
        for (int q = 0; q < nd->ninputs; q++)
            for (int r = 0; r < q; r++)
                twice |= nd->inputs[q] == nd->inputs[r];
        if (nd->ninputs > JOIN_MAX || (cat && twice)) {
            /* sequential: an input read twice gets = from its first
             * appearance and += from the next, in that order */
            int64_t off = 0;
            for (int j = 0; j < nd->ninputs; j++) {
                const ypr_shape *s = &p->shapes[nd->inputs[j]];
                float *gx = in_grad(p, i, j, &acc);
                if (gx && cat)
                    for (int64_t b = 0; b < p->n; b++)
                        add_into(gx + b * s->c * hw, gy + (b * o->c + off) * hw, s->c * hw,
                                 acc);
                else if (gx)
                    add_into(gx, gy, total, acc);
                off += s->c;
            }
            return YPR_OK;
        }
        /* an add task walks the inputs in order, so an input read twice
         * still gets = before += */
        join_job j = {.k = nd->ninputs, .gy = gy, .cy = o->c, .hw = hw, .total = total};
        int64_t off = 0;
        for (int q = 0; q < nd->ninputs; q++) {
            j.gin[q] = in_grad(p, i, q, &j.acc[q]);
            j.c[q] = p->shapes[nd->inputs[q]].c;
            j.off[q] = off;
            off += j.c[q];
        }
        if (cat)
            ypr__pool_run(p->pool, p->n * nd->ninputs, concat_bwd_task, &j);
        else
            ypr__pool_run(p->pool, (total + ADD_CHUNK - 1) / ADD_CHUNK, add_bwd_task, &j);
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
        if (nd->kind == YPR_NODE_DETECT || nd->kind == YPR_NODE_INPUT || !p->reqgrad[i] ||
            p->fused[i])
            continue;                      /* a fused activation: its BatchNorm's step */
        int own = p->bnact[i] >= 0 ? p->bnact[i] : i;
        if (!p->grad[own] || !p->written[own])
            continue;                      /* nothing downstream of it reaches the loss */
        ypr__qat_act_grad(p->qat, own, p->grad[own], numel_of(p, own));   /* STE */
        double t0 = p->profile ? prof_now(p) : 0;
        TRY(backward_node(p, i));
        if (p->profile)
            p->tb[nd->kind] += prof_now(p) - t0;
        if (p->profile && getenv("YPR_PROFILE_NODES"))
            ypr__log(YPR_LOG_INFO, "node %3d %-12s %4lld x %3lldx%3lld bwd %7.2f ms", i,
                     ypr__node_kind_name(nd->kind), (long long)p->shapes[i].c,
                     (long long)p->shapes[i].h, (long long)p->shapes[i].w,
                     (prof_now(p) - t0) * 1e3);
    }
    p->forwarded = 0;
    if (p->profile) {
        for (int k = 0; k < YPR_NODE_KIND_COUNT_; k++)
            if (p->tf[k] > 0 || p->tb[k] > 0)
                ypr__log(YPR_LOG_INFO, "train profile %-12s forward %8.1f ms backward %8.1f ms",
                         ypr__node_kind_name(k), p->tf[k] * 1e3, p->tb[k] * 1e3);
        static const char *const cls[4] = {"1x1", "kxk s1", "kxk s2", "grouped"};
        for (int c = 0; c < 4; c++)
            if (p->tconv[c][0] > 0)
                ypr__log(YPR_LOG_INFO, "train profile conv %-7s forward %8.1f ms dW %8.1f ms "
                         "dX %8.1f ms", cls[c], p->tconv[c][0] * 1e3, p->tconv[c][1] * 1e3,
                         p->tconv[c][2] * 1e3);
        memset(p->tf, 0, sizeof p->tf);
        memset(p->tb, 0, sizeof p->tb);
        memset(p->tconv, 0, sizeof p->tconv);
    }
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
