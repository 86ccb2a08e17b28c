/* Execution plans: the net lowered for one input shape. Conv → BatchNorm →
 * implicit-multiply → activation chains become one conv step whose epilogue
 * carries the folded per-channel scale and bias; weights are packed once;
 * activation buffers are reused by liveness. Stored parameters are never
 * changed by planning. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "net.h"

enum { STEP_CONV, STEP_AFFINE, STEP_ADD, STEP_CONCAT, STEP_MAXPOOL, STEP_UPSAMPLE, STEP_REORG,
       STEP_NONE };

typedef struct step {
    int kind;
    int node;              /* the node whose value this step produces */
    int src;               /* first node the step reads (conv / affine input) */
    int in_node;           /* for conv: the conv node */
    ypr_conv_shape cs;     /* conv geometry (n, c, h, w of its input) */
    float *packed;         /* conv: packed weights (Winograd-transformed when wino) */
    int wino;              /* conv: runs as Winograd F(4×4, 3×3) (1) or F(2×2, 3×3) (2) */
    int s2;                /* conv: runs as a direct 3×3 stride-2 conv (conv_s2.c) */
    float *scale, *bias;   /* per output channel, NULL = 1 / 0 */
    int act;
    float alpha;
    int ynode;             /* conv: the node at whose value the output starts (node,
                            * or its sibling's for a pair: merge_siblings) */
    float *own_packed;     /* conv pair (it also computes the next step's sibling conv):
                            * the stacked packed weights, the plan's own; else NULL */
} step;

typedef struct buffer { float *data; size_t floats; int busy; } buffer;

/* Packed conv weights depend on the net's parameters and the kernel set, not
 * on the input shape: plans for other shapes share them (refcounted). Per
 * conv (in node order) the GEMM packing and the Winograd transform are each
 * made when a plan first needs them: whether a conv runs as Winograd depends
 * on its input size, so plans for other shapes may need the other one. */
typedef struct packset { int refs; int n; float **w, **wu, **wu2, **ws2; size_t bytes; } packset;

struct ypr_plan {
    const ypr_net *net;
    uint64_t version;
    const ypr_ktable *kt;
    ypr_pool *pool;
    int64_t n, h, w;
    ypr_shape *shapes;     /* per node */
    int *buf_of;           /* per node: buffer index, -2 = the input, -1 none */
    int *owner;            /* per node: the node whose buffer holds its value */
    int64_t *voff;         /* per node: float offset of its value in that buffer */
    buffer *bufs;
    int nbufs;
    step *steps;
    int nsteps;
    const float *x;
    int detect;            /* detect node index */
    float *scratch;        /* GEMM packing scratch, one block per pool worker */
    float *wino_ws;        /* Winograd V/M or direct-s2 row workspace (the largest step's) */
    int64_t wino_ws_floats;
    float *arena;          /* every activation buffer, carved at aligned offsets */
    float *xq;             /* the input after its fake quantization (input node aq), or NULL */
    ypr_plan_observer observer;
    void *observer_user;
    packset *packs;        /* packed weights of the conv steps, in step order */
    size_t arena_floats;
    size_t own_pack_bytes; /* the sibling pairs' stacked weights (merge_siblings) */
    /* two lanes (plan_streams): NULL lane, or per step LANE_MAIN / LANE_A / LANE_B */
    unsigned char *lane;
    int fork, fork_end;    /* the A lane: steps fork … fork_end − 1, in order */
    int fork_lo;           /* where lane A may start at the earliest */
    int fork_next;         /* where it starts from the next pass on (rebalance) */
    int *b_steps, nb;      /* the B lane's steps, in run order */
    int *b_wait;           /* per B-lane step: the A-lane step it waits for, or −1 */
    float *ws_b;           /* the B lane's Winograd / direct-s2 workspace */
    int64_t ws_b_floats;
};

enum { LANE_MAIN = 0, LANE_A = 1, LANE_B = 2 };

/* Where a step runs: the pool (LANE_MAIN), or one thread with its own
 * workspace and GEMM scratch (a lane of plan_streams). */
typedef struct lane { ypr_pool *pool; float *ws; float *scratch; } lane;

/* The single consumer of `node` if it is of `kind` and reads only `node`. */
static int sole_consumer(const ypr_net *net, const ypr_consumers *cons, int node, int kind)
{
    int i = ypr__consumers_sole(cons, node);
    return i >= 0 && net->nodes[i].ninputs == 1 && net->nodes[i].kind == kind ? i : -1;
}

static float *alloc_floats(int64_t n)
{
    return ypr__alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

/* Apply one per-channel node to y = x·s + b (BN, implicit mul, implicit
 * add) or record it as the activation. Returns 0 if `nd` is not foldable. */
static int fold_node(const ypr_net *net, int i, int64_t c, float *s, float *b, step *st)
{
    if (net->nodes[i].kind == YPR_NODE_ACT) {
        st->act = net->nodes[i].act;
        st->alpha = net->nodes[i].alpha;
        return 1;
    }
    return ypr__net_fold_affine(net, i, c, s, b);
}

/* The single consumer of `node` if it reads only `node` and is foldable. */
static int foldable_consumer(const ypr_net *net, const ypr_consumers *cons, int node)
{
    static const int kinds[] = {YPR_NODE_BN, YPR_NODE_IMPLICIT_MUL, YPR_NODE_IMPLICIT_ADD,
                                YPR_NODE_ACT};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int nxt = sole_consumer(net, cons, node, kinds[k]);
        if (nxt >= 0)
            return nxt;
    }
    return -1;
}

/* Fold into st->scale/bias/act: first `self` (when ≥ 0), then, when
 * `follow`, the affine nodes that follow up to and including an activation.
 * The chain starts at `node`; returns the last node folded. */
static int fold_chain(const ypr_net *net, const ypr_consumers *cons, int node, int64_t c,
                      step *st, const float *conv_bias, int self, int follow)
{
    float *s = alloc_floats(c), *b = alloc_floats(c);
    if (!s || !b) {
        ypr__free(s);
        ypr__free(b);
        return YPR_ENOMEM;
    }
    for (int64_t i = 0; i < c; i++) {
        s[i] = 1.0f;
        b[i] = conv_bias ? conv_bias[i] : 0.0f;
    }
    st->act = YPR_ACT_IDENTITY;
    int cur = node, nxt;
    if (self >= 0)
        fold_node(net, self, c, s, b, st);
    /* a node with an activation quantization step ends its chain: its
     * value must exist to be quantized */
    while (follow && net->nodes[cur].kind != YPR_NODE_ACT && !(net->nodes[cur].aq.scale > 0) &&
           (nxt = foldable_consumer(net, cons, cur)) >= 0 &&
           !(net->split_lut_acts && net->nodes[nxt].kind == YPR_NODE_ACT &&
             ypr__act_lut_able(net->nodes[nxt].act))) {
        fold_node(net, nxt, c, s, b, st);
        cur = nxt;
    }
    st->scale = s;
    st->bias = b;
    return cur;
}

void ypr__plan_free(ypr_plan *p)
{
    if (!p)
        return;
    if (p->packs && --p->packs->refs == 0) {
        for (int i = 0; i < p->packs->n; i++) {   /* arrays may be missing (out of memory) */
            ypr__free(p->packs->w ? p->packs->w[i] : NULL);
            ypr__free(p->packs->wu ? p->packs->wu[i] : NULL);
            ypr__free(p->packs->wu2 ? p->packs->wu2[i] : NULL);
            ypr__free(p->packs->ws2 ? p->packs->ws2[i] : NULL);
        }
        free(p->packs->w);
        free(p->packs->wu);
        free(p->packs->wu2);
        free(p->packs->ws2);
        free(p->packs);
    }
    for (int i = 0; i < p->nsteps; i++) {
        ypr__free(p->steps[i].scale);
        ypr__free(p->steps[i].bias);
        ypr__free(p->steps[i].own_packed);
    }
    ypr__free(p->arena);
    ypr__free(p->xq);
    ypr__free(p->scratch);
    ypr__free(p->wino_ws);
    ypr__free(p->ws_b);
    free(p->lane);
    free(p->b_steps);
    free(p->b_wait);
    free(p->steps);
    free(p->bufs);
    free(p->shapes);
    free(p->buf_of);
    free(p->owner);
    free(p->voff);
    free(p);
}

/* YPR_CONV_ALGO=auto (default: the cost rules), winograd (every eligible
 * conv as F(4×4, 3×3)), winograd2 (every eligible conv as F(2×2, 3×3)),
 * direct (every eligible conv as a direct stride-2 conv) or gemm (none): a
 * switch for A/B runs and tests. */
enum { ALGO_AUTO = -1, ALGO_GEMM = 0, ALGO_WINO4 = 1, ALGO_WINO2 = 2, ALGO_S2 = 3 };

static int conv_algo_from_env(void)
{
    const char *e = getenv("YPR_CONV_ALGO");
    if (e && strcmp(e, "winograd") == 0)
        return ALGO_WINO4;
    if (e && strcmp(e, "winograd2") == 0)
        return ALGO_WINO2;
    if (e && strcmp(e, "direct") == 0)
        return ALGO_S2;
    if (e && strcmp(e, "gemm") == 0)
        return ALGO_GEMM;
    return ALGO_AUTO;
}

/* YPR_CONV_S2=0 turns the direct stride-2 convs off (A/B runs); read per plan. */
static int s2_on(void)
{
    const char *e = getenv("YPR_CONV_S2");
    return !(e && e[0] == '0' && !e[1]);
}

/* YPR_WINO2=0 turns F(2×2, 3×3) off (A/B runs); read per plan. */
static int wino2_on(void)
{
    const char *e = getenv("YPR_WINO2");
    return !(e && e[0] == '0' && !e[1]);
}

/* The Winograd or direct-s2 workspace a conv step needs on `workers` workers. */
static int64_t step_ws_floats(const ypr_plan *p, const step *st, int workers)
{
    if (st->kind != STEP_CONV)
        return 0;
    return st->s2          ? ypr__s2_ws_floats(p->kt, &st->cs, workers)
           : st->wino == 2 ? ypr__wino2_ws_floats(p->kt, &st->cs, workers)
           : st->wino      ? ypr__wino_ws_floats(p->kt, &st->cs, workers)
                           : 0;
}

/* The conv's packed weights for this plan: borrowed from the packset when
 * an earlier plan made them, made (and kept there) otherwise. */
static int conv_weights(ypr_plan *p, step *st, int nconv, const float *w)
{
    float **slot = st->s2          ? &p->packs->ws2[nconv]
                   : st->wino == 2 ? &p->packs->wu2[nconv]
                   : st->wino      ? &p->packs->wu[nconv]
                                   : &p->packs->w[nconv];
    if (!*slot) {
        int64_t n = st->s2          ? ypr__s2_packed_w_floats(p->kt, &st->cs)
                    : st->wino == 2 ? ypr__wino2_packed_w_floats(p->kt, &st->cs)
                    : st->wino      ? ypr__wino_packed_w_floats(p->kt, &st->cs)
                                    : ypr__conv_packed_w_floats(p->kt, &st->cs);
        *slot = alloc_floats(n);
        if (!*slot)
            return YPR_ENOMEM;
        if (st->s2)
            ypr__s2_pack_w(p->kt, &st->cs, w, *slot);
        else if (st->wino == 2)
            ypr__wino2_pack_w(p->kt, &st->cs, w, *slot);
        else if (st->wino)
            ypr__wino_pack_w(p->kt, &st->cs, w, *slot);
        else
            ypr__conv_pack_w(p->kt, &st->cs, w, *slot);
        p->packs->bytes += (size_t)n * sizeof(float);
    }
    st->packed = *slot;
    int64_t ws = step_ws_floats(p, st, ypr__pool_size(p->pool));
    if (ws > p->wino_ws_floats)
        p->wino_ws_floats = ws;
    return YPR_OK;
}

static int build_steps(ypr_plan *p, const ypr_consumers *cons)
{
    const int algo = conv_algo_from_env();
    const ypr_net *net = p->net;
    int nconv = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_INPUT)
            continue;
        if (nd->kind == YPR_NODE_DETECT) {
            p->detect = i;
            continue;
        }
        step st;
        memset(&st, 0, sizeof st);
        st.src = nd->ninputs ? nd->inputs[0] : -1;
        st.in_node = i;
        int last = i;
        const ypr_shape *in = &p->shapes[st.src];
        switch (nd->kind) {
        case YPR_NODE_CONV: {
            st.kind = STEP_CONV;
            const ypr_param *wt = &net->params[nd->p[0]];
            st.cs = (ypr_conv_shape){p->n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw,
                                     nd->sh, nd->sw, nd->ph, nd->pw, nd->dh, nd->dw, nd->groups};
            TRY(ypr__conv_check(&st.cs, NULL, NULL));
            RETURN_IF(nconv >= p->packs->n, YPR_EINTERNAL, "plan: more convs than nodes");
            st.wino = !ypr__wino_eligible(&st.cs) || algo == ALGO_S2 ? 0
                      : algo == ALGO_AUTO ? ypr__wino_pays(p->kt, &st.cs, ypr__pool_size(p->pool))
                                          : algo;
            if (!st.wino && algo == ALGO_AUTO && wino2_on() &&
                ypr__wino2_pays(p->kt, &st.cs, ypr__pool_size(p->pool)))
                st.wino = 2;
            st.s2 = algo == ALGO_S2 ? ypr__s2_eligible(p->kt, &st.cs)
                    : algo == ALGO_AUTO && s2_on() && ypr__s2_pays(p->kt, &st.cs);
            TRY(conv_weights(p, &st, nconv++, wt->data));
            last = fold_chain(net, cons, i, nd->c, &st,
                              nd->p[1] >= 0 ? net->params[nd->p[1]].data : NULL, -1, 1);
            if (last < 0)
                return last;
            break;
        }
        case YPR_NODE_BN:
        case YPR_NODE_IMPLICIT_ADD:
        case YPR_NODE_IMPLICIT_MUL:
        case YPR_NODE_ACT:
            st.kind = STEP_AFFINE;
            /* this node, and the chain after it when it is its input's only
             * reader (otherwise the input's value is needed as it is) */
            last = fold_chain(net, cons, i, in->c, &st, NULL, i,
                              sole_consumer(net, cons, st.src, nd->kind) == i);
            if (last < 0)
                return last;
            break;
        case YPR_NODE_ADD:
            st.kind = STEP_ADD;
            st.act = YPR_ACT_IDENTITY;
            {
                int a = nd->aq.scale > 0 ? -1 : sole_consumer(net, cons, i, YPR_NODE_ACT);
                if (a >= 0) {
                    st.act = net->nodes[a].act;
                    st.alpha = net->nodes[a].alpha;
                    last = a;
                }
            }
            break;
        case YPR_NODE_CONCAT: st.kind = STEP_CONCAT; break;
        case YPR_NODE_MAXPOOL: st.kind = STEP_MAXPOOL; break;
        case YPR_NODE_UPSAMPLE:
            RETURN_IF(nd->scale != 2, YPR_EUNSUPPORTED, "node %s: upsample factor %d (only 2)",
                      nd->name, nd->scale);
            st.kind = STEP_UPSAMPLE;
            break;
        case YPR_NODE_REORG: st.kind = STEP_REORG; break;
        default:
            return ypr__error(YPR_EINTERNAL, "node %s: no step for kind %d", nd->name, nd->kind);
        }
        st.node = last;
        st.ynode = last;
        p->steps[p->nsteps++] = st;
        /* The nodes folded into this step (i+1 … last) follow it directly:
         * the cfg expansion emits chains contiguously. */
        for (int k = i + 1; k < last; k++) {
            const ypr_node *mid = &net->nodes[k];
            RETURN_IF(!(mid->ninputs == 1 && (mid->kind == YPR_NODE_BN || mid->kind == YPR_NODE_ACT ||
                        mid->kind == YPR_NODE_IMPLICIT_ADD || mid->kind == YPR_NODE_IMPLICIT_MUL)),
                      YPR_EINTERNAL, "plan: node %s interleaved inside a fused chain", mid->name);
        }
        i = last;
    }
    return YPR_OK;
}

/* Zero-copy concat (batch 1, where a channel range of a buffer is one
 * contiguous block): a value whose only role in a concat is to be copied
 * into it is written straight into the concat's buffer at its channel
 * offset. Such values are "owned" by the concat: they share its buffer,
 * which lives until the last reader of any of them. A concat with its own
 * fake-quantization step quantizes that buffer in place, so a value only
 * goes there when the step cannot change it (it already carries the same
 * step): its other readers must see it as it was. */
static int same_qstep(const ypr_qparam *a, const ypr_qparam *b)
{
    return a->scale == b->scale && a->zero == b->zero && a->qmin == b->qmin &&
           a->qmax == b->qmax;
}

static void plan_concat_aliases(ypr_plan *p, const int *producer)
{
    const ypr_net *net = p->net;
    if (p->n != 1)
        return;
    for (int s = 0; s < p->nsteps; s++) {
        const step *st = &p->steps[s];
        if (st->kind != STEP_CONCAT)
            continue;
        const ypr_node *nd = &net->nodes[st->in_node];
        int64_t off = 0;
        for (int j = 0; j < nd->ninputs; j++) {
            int v = nd->inputs[j];
            const ypr_shape *sv = &p->shapes[v];
            const ypr_qparam *cq = &net->nodes[st->node].aq;
            int ok = producer[v] >= 0 && p->owner[v] == v &&
                     p->steps[producer[v]].kind != STEP_CONCAT &&
                     (cq->scale == 0.0f || same_qstep(cq, &net->nodes[v].aq));
            if (ok && p->detect >= 0)
                for (int k = 0; k < net->nodes[p->detect].ninputs; k++)
                    ok &= net->nodes[p->detect].inputs[k] != v;
            if (ok) {
                p->owner[v] = st->node;
                p->voff[v] = off * sv->h * sv->w;
            }
            off += sv->c;
        }
    }
}

/* Liveness: a buffer is released after the last reader of every value it holds. */
static int assign_buffers(ypr_plan *p)
{
    const ypr_net *net = p->net;
    int nn = net->nnodes;
    int *last_use = malloc((size_t)nn * sizeof(int));
    int *producer = malloc((size_t)nn * sizeof(int));
    if (!last_use || !producer) {
        free(last_use);
        free(producer);
        return ypr__error(YPR_ENOMEM, "plan: out of memory");
    }
    for (int i = 0; i < nn; i++) {
        last_use[i] = -1;
        producer[i] = -1;
        p->owner[i] = i;
        p->voff[i] = 0;
    }
    for (int s = 0; s < p->nsteps; s++) {
        const step *st = &p->steps[s];
        const ypr_node *nd = &net->nodes[st->in_node];
        producer[st->node] = s;
        for (int j = 0; j < nd->ninputs; j++)
            last_use[nd->inputs[j]] = s;
    }
    if (p->detect >= 0) {
        const ypr_node *d = &net->nodes[p->detect];
        for (int j = 0; j < d->ninputs; j++)
            last_use[d->inputs[j]] = p->nsteps;   /* outputs live to the end */
    }
    plan_concat_aliases(p, producer);
    for (int i = 0; i < nn; i++)           /* an owner lives as long as what it holds */
        if (p->owner[i] != i && last_use[i] > last_use[p->owner[i]])
            last_use[p->owner[i]] = last_use[i];
    free(producer);
    p->bufs = calloc((size_t)p->nsteps + 1, sizeof *p->bufs);
    if (!p->bufs) {
        free(last_use);
        return ypr__error(YPR_ENOMEM, "plan: out of memory");
    }
    for (int s = 0; s < p->nsteps; s++) {
        const step *st = &p->steps[s];
        int o = p->owner[st->node];
        if (p->buf_of[o] < 0) {
            const ypr_shape *sh = &p->shapes[o];
            size_t need = (size_t)(p->n * sh->c * sh->h * sh->w);
            int best = -1;
            /* lane B's values get buffers of their own: the steps lane A
             * runs meanwhile may use any buffer free in plan order */
            const int own = p->lane && p->lane[s] == LANE_B;
            for (int b = 0; b < p->nbufs && !own; b++)
                if (!p->bufs[b].busy && p->bufs[b].floats >= need &&
                    (best < 0 || p->bufs[b].floats < p->bufs[best].floats))
                    best = b;
            if (best < 0) {
                /* grow the largest free buffer rather than adding one */
                for (int b = 0; b < p->nbufs && !own; b++)
                    if (!p->bufs[b].busy && (best < 0 || p->bufs[b].floats > p->bufs[best].floats))
                        best = b;
                if (best < 0)
                    best = p->nbufs++;
                p->bufs[best].floats = need;
            }
            p->bufs[best].busy = 1;
            p->buf_of[o] = best;
        }
        /* release buffers whose last reader is this step */
        const ypr_node *nd = &net->nodes[st->in_node];
        for (int j = 0; j < nd->ninputs; j++) {
            int src = p->owner[nd->inputs[j]], b = p->buf_of[src];
            if (b >= 0 && last_use[src] == s)
                p->bufs[b].busy = 0;
        }
        if (last_use[o] < 0)   /* dead value (should not happen) */
            p->bufs[p->buf_of[o]].busy = 0;
    }
    free(last_use);
    /* one arena, buffers at 64-byte aligned offsets */
    size_t total = 0;
    for (int b = 0; b < p->nbufs; b++)
        total += (p->bufs[b].floats + 15) & ~(size_t)15;
    RETURN_IF(total > (size_t)YPR_PLAN_MAX_ACTIVATION_BYTES / sizeof(float), YPR_ERANGE,
              "plan: batch %lld at %lldx%lld needs %.2f GiB of activations (limit %.2f GiB)",
              (long long)p->n, (long long)p->h, (long long)p->w,
              (double)total * sizeof(float) / (1 << 30),
              (double)YPR_PLAN_MAX_ACTIVATION_BYTES / (1 << 30));
    p->arena = alloc_floats((int64_t)total);
    if (!p->arena)
        return YPR_ENOMEM;
    size_t at = 0;
    for (int b = 0; b < p->nbufs; b++) {
        p->bufs[b].data = p->arena + at;
        at += (p->bufs[b].floats + 15) & ~(size_t)15;
    }
    p->arena_floats = total;
    return YPR_OK;
}

/* Every value must fit the activation limit on its own (which also keeps
 * the sizes below from overflowing); assign_buffers checks the sum. The
 * input is the caller's buffer, not the arena's. */
static int check_activations(const ypr_plan *p)
{
    const int64_t max_floats = YPR_PLAN_MAX_ACTIVATION_BYTES / (int64_t)sizeof(float);
    for (int i = 0; i < p->net->nnodes; i++) {
        const ypr_shape *s = &p->shapes[i];
        if (p->net->nodes[i].kind == YPR_NODE_INPUT)
            continue;
        int64_t e = 0;
        if (ypr__mul_size(p->n, s->c, &e) < 0 || ypr__mul_size(e, s->h, &e) < 0 ||
            ypr__mul_size(e, s->w, &e) < 0 || e > max_floats)
            return ypr__error(YPR_ERANGE, "plan: node %s: %lldx%lldx%lldx%lld activations exceed "
                              "the %lld-byte limit (batch %lld, input %lldx%lld)",
                              p->net->nodes[i].name, (long long)p->n, (long long)s->c,
                              (long long)s->h, (long long)s->w,
                              (long long)YPR_PLAN_MAX_ACTIVATION_BYTES, (long long)p->n,
                              (long long)p->h, (long long)p->w);
    }
    return YPR_OK;
}

int ypr__plan_merge_on(void)
{
    const char *e = getenv("YPR_CONV_MERGE");
    return !(e && e[0] == '0' && !e[1]);
}

static int plain_1x1(const step *st)
{
    return st->kind == STEP_CONV && !st->wino && !st->s2 && ypr__conv_pointwise(&st->cs) &&
           st->cs.groups == 1;
}

/* Sibling 1×1 convs: two consecutive steps that read the same value with
 * the same activation and whose outputs lie next to each other in one
 * concat's buffer (YOLOv7's ELAN blocks: cv1 and cv2 of one input, both
 * written in place into the block's concat) run as one conv of both
 * output-channel sets: the input is read once, one pool job instead of
 * two, fewer partial micro-panels. The first step computes both (weights
 * stacked in memory order), the second does nothing. Each output value is
 * the same sum in the same order as alone (a row's sum does not depend on
 * the rows beside it), so the result is bit for bit the same.
 * Alone, two threads: 64→32+32 @104² 0.93, 128→32+32 @52² 0.89,
 * 256→64+64 @26² 0.85, 256→128+128 @13² 0.81 of the two convs' time. */
static int merge_siblings(ypr_plan *p)
{
    if (p->n != 1 || !ypr__plan_merge_on())
        return YPR_OK;
    const ypr_net *net = p->net;
    for (int s = 0; s + 1 < p->nsteps; s++) {
        step *a = &p->steps[s], *b = &p->steps[s + 1];
        if (!plain_1x1(a) || !plain_1x1(b) || a->src != b->src || a->act != b->act ||
            a->alpha != b->alpha || a->own_packed)
            continue;
        const int oa = p->owner[a->node], ob = p->owner[b->node];
        if (oa != ob || oa == a->node)
            continue;   /* not both in one concat's buffer */
        const int64_t hw = p->shapes[a->node].h * p->shapes[a->node].w;
        const step *lo, *hi;   /* in memory order */
        if (p->voff[b->node] == p->voff[a->node] + a->cs.oc * hw)
            lo = a, hi = b;
        else if (p->voff[a->node] == p->voff[b->node] + b->cs.oc * hw)
            lo = b, hi = a;
        else
            continue;
        ypr_conv_shape cs = a->cs;
        cs.oc = a->cs.oc + b->cs.oc;
        const int64_t k = cs.c, m1 = lo->cs.oc, m = cs.oc;
        const int64_t pkn = ypr__conv_packed_w_floats(p->kt, &cs);
        float *w = alloc_floats(m * k), *sc = alloc_floats(m), *bi = alloc_floats(m),
              *pk = alloc_floats(pkn);
        if (!w || !sc || !bi || !pk) {
            ypr__free(w);
            ypr__free(sc);
            ypr__free(bi);
            ypr__free(pk);
            return YPR_ENOMEM;
        }
        const step *part[2] = {lo, hi};
        for (int q = 0; q < 2; q++) {
            const step *t = part[q];
            const int64_t r0 = q ? m1 : 0, rows = t->cs.oc;
            memcpy(w + r0 * k, net->params[net->nodes[t->in_node].p[0]].data,
                   (size_t)(rows * k) * sizeof(float));
            for (int64_t i = 0; i < rows; i++) {
                sc[r0 + i] = t->scale ? t->scale[i] : 1.0f;
                bi[r0 + i] = t->bias ? t->bias[i] : 0.0f;
            }
        }
        ypr__conv_pack_w(p->kt, &cs, w, pk);
        p->own_pack_bytes += (size_t)pkn * sizeof(float);
        ypr__free(w);
        const int ynode = lo->node;
        ypr__free(a->scale);
        ypr__free(a->bias);
        ypr__free(b->scale);
        ypr__free(b->bias);
        a->scale = sc;
        a->bias = bi;
        a->cs = cs;
        a->packed = a->own_packed = pk;
        a->ynode = ynode;
        b->kind = STEP_NONE;
        b->scale = b->bias = NULL;
        b->packed = NULL;
    }
    return YPR_OK;
}

/* ---- two lanes: the detect head's branches beside the rest
 *
 * On two threads, the small maps of a batch-1 pass scale worst: in
 * yolov7-tiny @416 the 3×3 convs at 52²–13² ran only 1.03–1.4× faster on two
 * threads than on one, the 1×1 convs at 13² 1.2–1.6×. But the detect head's
 * branches need not wait: the 3×3 conv and 1×1 output conv of each level read
 * one value of the neck and nothing else reads what they write. So on a pool
 * of two, where the plan has such chains, the first levels' chains (lane B)
 * run on one worker, each step on that worker alone, while the other worker
 * runs the neck steps after the first chain's input (lane A) alone; a chain
 * whose input lane A makes waits for that step. The last level's chain, whose
 * input is the neck's last value, runs after both lanes on both workers.
 * Each step computes what it computes on the pool, so the values are the
 * same bit for bit; the lanes only overlap steps that do not depend on each
 * other. Lane B's outputs get buffers of their own (assign_buffers), its
 * inputs stay live until lane B has read them (they are read after lane A's
 * last step in plan order), and each lane has its own workspace and GEMM
 * scratch. Chains are dropped from lane B, last level first, while their
 * estimated time exceeds lane A's by more than a seventh.
 * YPR_PLAN_LANES=0 turns the lanes off when a plan is made (A/B runs), 2
 * takes them wherever the chains allow, with every chain but the last in lane
 * B and lane A from the first chain's input on (tests).
 */
static int lanes_mode(void)
{
    const char *e = getenv("YPR_PLAN_LANES");
    return e && (e[0] == '0' || e[0] == '2') && !e[1] ? e[0] - '0' : 1;
}

/* A step's one-thread time, roughly: direct-conv multiply-adds, less for
 * Winograd (F(4×4) about 2.4× faster per MAC on this code, F(2×2) 1.6×);
 * other steps by the values they write. Only compares the two lanes. */
static double step_cost(const ypr_plan *p, const step *st)
{
    const ypr_shape *o = &p->shapes[st->node];
    double out = (double)p->n * (double)(o->c * o->h * o->w);
    if (st->kind != STEP_CONV)
        return out;
    double macs = out * (double)(st->cs.c / st->cs.groups * st->cs.kh * st->cs.kw);
    return macs / (st->wino == 1 ? 2.4 : st->wino == 2 ? 1.6 : 1.0);
}

/* The same on two workers, roughly: the step's cost over its two-thread
 * speed-up, which grows with its size (yolov7-tiny @416: 3×3 Winograd
 * convs of 10–80 M MACs ran 1.05–1.5× faster on two threads, GEMM and
 * direct convs of 10–50 M 1.4–1.8×; yolov7's larger steps 1.8–1.9×). */
static double step_cost2(const ypr_plan *p, const step *st)
{
    double c = step_cost(p, st), c0 = st->kind == STEP_CONV && st->wino ? 60e6 : 12e6;
    return c / (1 + 0.9 * c / (c + c0));
}

/* Chains: per detect input, the steps from the last one whose input value
 * has other readers (or is the net's input) to the step making the detect
 * input, each step's value read only by the next (conv or per-channel
 * steps of one input). steps[l·nsteps …] lists level l's chain last step
 * first; len[l] its length (0: no chain). */
static void find_chains(const ypr_plan *p, const int *readers, const int *producer,
                        int *chain, int *len)
{
    const ypr_node *d = &p->net->nodes[p->detect];
    for (int l = 0; l < d->ninputs; l++) {
        int v = d->inputs[l], s = producer[v];
        len[l] = 0;
        while (s >= 0 && readers[v] == 1 &&
               (p->steps[s].kind == STEP_CONV || p->steps[s].kind == STEP_AFFINE) &&
               p->net->nodes[p->steps[s].in_node].ninputs == 1) {
            chain[l * p->nsteps + len[l]++] = s;
            v = p->steps[s].src;
            s = v >= 0 ? producer[v] : -1;
        }
    }
}

/* The cost (cost2: on two workers) of chains order[0 … nc − 1]. */
static double chains_cost(const ypr_plan *p, const int *chain, const int *len, const int *order,
                          int nc, int cost2)
{
    double c = 0;
    for (int i = 0; i < nc; i++)
        for (int k = 0; k < len[order[i]]; k++) {
            const step *st = &p->steps[chain[order[i] * p->nsteps + k]];
            c += cost2 ? step_cost2(p, st) : step_cost(p, st);
        }
    return c;
}

static int plan_streams(ypr_plan *p)
{
    const int mode = lanes_mode();
    if (p->n != 1 || ypr__pool_size(p->pool) != 2 || p->detect < 0 || mode == 0)
        return YPR_OK;
    const ypr_net *net = p->net;
    const int nn = net->nnodes, ns = p->nsteps, nl = net->nodes[p->detect].ninputs;
    int *readers = calloc((size_t)nn, sizeof(int)), *producer = malloc((size_t)nn * sizeof(int));
    int *chain = malloc((size_t)nl * (size_t)ns * sizeof(int)), *len = calloc((size_t)nl + 1, sizeof(int));
    int *order = malloc(((size_t)nl + 1) * sizeof(int)), *in_at = malloc(((size_t)nl + 1) * sizeof(int));
    int rc = YPR_ENOMEM;
    if (!readers || !producer || !chain || !len || !order || !in_at)
        goto out;
    for (int i = 0; i < nn; i++)
        producer[i] = -1;
    for (int s = 0; s < ns; s++) {
        const ypr_node *nd = &net->nodes[p->steps[s].in_node];
        producer[p->steps[s].node] = s;
        for (int j = 0; j < nd->ninputs; j++)
            readers[nd->inputs[j]]++;
    }
    for (int j = 0; j < nl; j++)
        readers[net->nodes[p->detect].inputs[j]]++;
    find_chains(p, readers, producer, chain, len);
    /* the chains' first step in plan order; each chain's input's maker */
    int first = ns, nc = 0;
    for (int l = 0; l < nl; l++) {
        for (int k = 0; k < len[l]; k++)
            if (chain[l * ns + k] < first)
                first = chain[l * ns + k];
        if (len[l]) {
            int v = p->steps[chain[l * ns + len[l] - 1]].src;
            in_at[l] = v >= 0 ? producer[v] : -1;
        }
    }
    /* lane B candidates: chains whose input is made before the chains
     * start, by their input's maker; the last made stays after the lanes */
    for (int l = 0; l < nl; l++) {
        if (!len[l] || in_at[l] >= first)
            continue;
        int at = nc++;
        while (at > 0 && in_at[order[at - 1]] > in_at[l]) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = l;
    }
    nc--;   /* order[nc], the last made, is not lane B's */
    rc = YPR_OK;
    double ca = 0, cb;
    for (int s = nc > 0 ? in_at[order[0]] + 1 : first; s < first; s++)
        ca += step_cost(p, &p->steps[s]);   /* all lane A could take */
    while (nc > 0 && mode == 1 &&
           (ca <= 0 || chains_cost(p, chain, len, order, nc, 0) > ca * 8 / 7))
        nc--;
    if (nc <= 0)
        goto out;
    /* lane A starts where the steps left before the chains cost about what
     * lane B does; the steps before it run on both workers (two lanes only
     * pay where they balance: a pass scales 1.6–1.9× on two threads) */
    cb = chains_cost(p, chain, len, order, nc, 0);
    ca = 0;
    int fork = mode == 2 ? in_at[order[0]] + 1 : first;
    while (fork > in_at[order[0]] + 1 && ca < cb)
        ca += step_cost(p, &p->steps[--fork]);
    if (mode == 1 && fork < first - 1 && ca - cb > cb - (ca - step_cost(p, &p->steps[fork]))) {
        ca -= step_cost(p, &p->steps[fork]);
        fork++;   /* the closer balance */
    }
    /* … and where the lanes beat both workers on every step */
    double wide = chains_cost(p, chain, len, order, nc, 1);
    for (int s = fork; s < first; s++)
        wide += step_cost2(p, &p->steps[s]);
    ypr__log(YPR_LOG_DEBUG, "plan: lanes A %.3g B %.3g against %.3g on two workers (steps %d-%d)",
             ca, cb, wide, fork, first - 1);
    if (fork >= first || (mode == 1 && (ca > cb ? ca : cb) > 0.9 * wide))
        goto out;
    int nb = 0;
    for (int c = 0; c < nc; c++)
        nb += len[order[c]];
    p->lane = calloc((size_t)ns, 1);
    p->b_steps = malloc((size_t)nb * sizeof(int));
    p->b_wait = malloc((size_t)nb * sizeof(int));
    if (!p->lane || !p->b_steps || !p->b_wait) {
        rc = YPR_ENOMEM;
        goto out;
    }
    p->fork = fork;
    p->fork_end = first;
    p->fork_lo = in_at[order[0]] + 1;
    p->fork_next = fork;
    for (int s = p->fork; s < first; s++)
        p->lane[s] = LANE_A;
    for (int c = 0; c < nc; c++) {
        const int l = order[c];
        for (int k = len[l] - 1; k >= 0; k--) {   /* the chain in plan order */
            const int s = chain[l * ns + k];
            p->lane[s] = LANE_B;
            /* (a chain's input made before the fork is there: lane A's
             * progress starts at fork − 1) */
            p->b_wait[p->nb] = k == len[l] - 1 ? in_at[l] : -1;
            p->b_steps[p->nb++] = s;
            int64_t ws = step_ws_floats(p, &p->steps[s], 1);
            if (ws > p->ws_b_floats)
                p->ws_b_floats = ws;
        }
    }
    for (int s = p->fork_lo; s < first; s++) {   /* lane A's steps run on one worker */
        int64_t ws = step_ws_floats(p, &p->steps[s], 1);
        if (ws > p->wino_ws_floats)
            p->wino_ws_floats = ws;
    }
out:
    free(readers);
    free(producer);
    free(chain);
    free(len);
    free(order);
    free(in_at);
    return rc;
}

int ypr__plan_lane_steps(const ypr_plan *p, int which)
{
    int n = 0;
    for (int s = 0; p->lane && s < p->nsteps; s++)
        n += p->lane[s] == which;
    if (which == 3)   /* lane B's steps that wait for one of lane A's (at its fork now) */
        for (int i = 0; i < p->nb; i++)
            n += p->b_wait[i] >= p->fork && p->b_wait[i] < p->fork_end &&
                 p->steps[p->b_wait[i]].node == p->steps[p->b_steps[i]].src;
    return n;
}

int ypr__plan_create(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                     ypr_plan **out)
{
    return ypr__plan_create_from(net, pool, n, h, w, NULL, out);
}

int ypr__plan_create_from(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                          ypr_plan *donor, ypr_plan **out)
{
    RETURN_IF(!net || !out, YPR_EINVAL, "plan: NULL argument");
    *out = NULL;
    RETURN_IF(n <= 0 || n > 4096, YPR_EINVAL, "plan: batch %lld outside 1..4096", (long long)n);
    TRY(ypr__net_validate(net));
    ypr_plan *p = calloc(1, sizeof *p);
    if (!p)
        return ypr__error(YPR_ENOMEM, "plan: out of memory");
    p->net = net;
    p->version = net->version;
    p->kt = ypr__kt();
    p->pool = pool;
    p->n = n;
    p->h = h;
    p->w = w;
    p->detect = -1;
    p->shapes = malloc((size_t)net->nnodes * sizeof *p->shapes);
    p->buf_of = malloc((size_t)net->nnodes * sizeof(int));
    p->owner = malloc((size_t)net->nnodes * sizeof(int));
    p->voff = malloc((size_t)net->nnodes * sizeof(int64_t));
    p->steps = calloc((size_t)net->nnodes, sizeof *p->steps);
    int rc = YPR_ENOMEM;
    if (!p->shapes || !p->buf_of || !p->steps || !p->owner || !p->voff)
        goto fail;
    for (int i = 0; i < net->nnodes; i++)
        p->buf_of[i] = net->nodes[i].kind == YPR_NODE_INPUT ? -2 : -1;
    if (donor && donor->net == net && donor->version == net->version && donor->kt == p->kt &&
        donor->packs) {
        p->packs = donor->packs;
        p->packs->refs++;
    } else {
        p->packs = calloc(1, sizeof *p->packs);
        if (p->packs) {
            p->packs->refs = 1;
            p->packs->n = net->nnodes;
            p->packs->w = calloc((size_t)net->nnodes, sizeof(float *));
            p->packs->wu = calloc((size_t)net->nnodes, sizeof(float *));
            p->packs->wu2 = calloc((size_t)net->nnodes, sizeof(float *));
            p->packs->ws2 = calloc((size_t)net->nnodes, sizeof(float *));
        }
        if (!p->packs || !p->packs->w || !p->packs->wu || !p->packs->wu2 || !p->packs->ws2) {
            rc = ypr__error(YPR_ENOMEM, "plan: out of memory");
            goto fail;
        }
    }
    ypr_consumers cons;
    if ((rc = ypr__net_shapes(net, h, w, p->shapes)) < 0 || (rc = check_activations(p)) < 0 ||
        (rc = ypr__net_consumers(net, &cons)) < 0)
        goto fail;
    rc = build_steps(p, &cons);
    ypr__consumers_free(&cons);
    if (rc < 0 || (rc = plan_streams(p)) < 0 || (rc = assign_buffers(p)) < 0 ||
        (rc = merge_siblings(p)) < 0)
        goto fail;
    if (net->nodes[0].aq.scale > 0) {   /* the caller's input is const: quantize a copy */
        p->xq = alloc_floats(n * p->shapes[0].c * h * w);
        if (!p->xq) {
            rc = YPR_ENOMEM;
            goto fail;
        }
    }
    p->scratch = alloc_floats(ypr__pool_size(pool) * ypr__gemm_scratch_floats(p->kt));
    if (p->wino_ws_floats > 0)
        p->wino_ws = alloc_floats(p->wino_ws_floats);
    if (p->ws_b_floats > 0)
        p->ws_b = alloc_floats(p->ws_b_floats);
    if (!p->scratch || (p->wino_ws_floats > 0 && !p->wino_ws) ||
        (p->ws_b_floats > 0 && !p->ws_b)) {
        rc = YPR_ENOMEM;
        goto fail;
    }
    *out = p;
    return YPR_OK;
fail:
    ypr__plan_free(p);
    return rc < 0 ? rc : YPR_ENOMEM;
}

static const float *value(const ypr_plan *p, int node)
{
    int o = p->owner[node], b = p->buf_of[o];
    return b == -2 ? p->x : (b >= 0 ? p->bufs[b].data + p->voff[node] : NULL);
}

static void reorg(const float *x, int64_t planes, int64_t h, int64_t w, int64_t c, float *y)
{
    /* y channel blocks: (0,0) (1,0) (0,1) (1,1) offsets in (row, col) */
    static const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
    int64_t oh = h / 2, ow = w / 2;
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t b = pl / c, ch = pl % c;
        const float *src = x + pl * h * w;
        for (int q = 0; q < 4; q++) {
            float *dst = y + ((b * 4 + q) * c + ch) * oh * ow;
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++)
                    dst[i * ow + j] = src[(2 * i + dy[q]) * w + 2 * j + dx[q]];
        }
    }
}

static int run_step(ypr_plan *p, const step *st, const lane *ln)
{
    const ypr_net *net = p->net;
    const ypr_node *nd = &net->nodes[st->in_node];
    const ypr_shape *o = &p->shapes[st->node];
    float *y = (float *)value(p, st->kind == STEP_CONV ? st->ynode : st->node);
    const float *x = value(p, st->src);
    const ypr_shape *in = &p->shapes[st->src];
    int64_t hw = o->h * o->w;
    switch (st->kind) {
    case STEP_CONV: {
        ypr_epilogue ep = {st->scale, st->bias, st->act, st->alpha};
        if (st->s2)
            return ypr__conv2d_s2(p->kt, ln->pool, &st->cs, x, st->packed, &ep, y, ln->ws);
        if (st->wino == 2)
            return ypr__conv2d_wino2(p->kt, ln->pool, &st->cs, x, st->packed, &ep, y, ln->ws,
                                     ln->scratch);
        if (st->wino)
            return ypr__conv2d_wino(p->kt, ln->pool, &st->cs, x, st->packed, &ep, y, ln->ws,
                                    ln->scratch);
        return ypr__conv2d_ws(p->kt, ln->pool, &st->cs, x, st->packed, &ep, y, ln->scratch);
    }
    case STEP_AFFINE: {
        memcpy(y, x, (size_t)(p->n * o->c * hw) * sizeof(float));
        ypr_epilogue ep = {st->scale, st->bias, st->act, st->alpha};
        return ypr__scale_bias_act(p->kt, ln->pool, p->n, o->c, hw, y, &ep);
    }
    case STEP_ADD: {
        int64_t total = p->n * o->c * hw;
        memcpy(y, x, (size_t)total * sizeof(float));
        for (int j = 1; j < nd->ninputs; j++) {
            const float *b = value(p, nd->inputs[j]);
            for (int64_t i = 0; i < total; i++)
                y[i] += b[i];
        }
        if (st->act == YPR_ACT_IDENTITY)
            return YPR_OK;
        ypr_epilogue ep = {NULL, NULL, st->act, st->alpha};
        return ypr__scale_bias_act(p->kt, ln->pool, p->n, o->c, hw, y, &ep);
    }
    case STEP_CONCAT: {
        int64_t off = 0;
        for (int j = 0; j < nd->ninputs; j++) {
            const ypr_shape *s = &p->shapes[nd->inputs[j]];
            if (p->owner[nd->inputs[j]] != st->node)   /* not already written in place */
                TRY(ypr__concat_copy(p->n, s->c, o->c, off, hw, value(p, nd->inputs[j]), y));
            off += s->c;
        }
        return YPR_OK;
    }
    case STEP_MAXPOOL:
        return ypr__maxpool2d(p->kt, ln->pool, p->n * in->c, in->h, in->w, nd->kh, nd->sh,
                              nd->ph, x, y);
    case STEP_UPSAMPLE:
        return ypr__upsample2x(p->kt, ln->pool, p->n * in->c, in->h, in->w, x, y);
    case STEP_REORG:
        reorg(x, p->n * in->c, in->h, in->w, in->c, y);
        return YPR_OK;
    case STEP_NONE:   /* computed by the step before (a sibling conv) */
        return YPR_OK;
    default:
        return ypr__error(YPR_EINTERNAL, "plan: bad step");
    }
}

/* Activation fake quantization over the pool, in chunks (element-wise:
 * the result does not depend on the thread count). */
#define FQ_CHUNK 65536
typedef struct fq_job { const ypr_qparam *q; float *y; int64_t n; } fq_job;

static void fq_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const fq_job *j = ctx;
    int64_t a = t * FQ_CHUNK, n = j->n - a < FQ_CHUNK ? j->n - a : FQ_CHUNK;
    ypr__fake_quant(j->q, j->y + a, n);
}

static void fake_quant(ypr_plan *p, const ypr_qparam *q, float *y, int64_t n)
{
    fq_job j = {q, y, n};
    int64_t tasks = (n + FQ_CHUNK - 1) / FQ_CHUNK;
    if (tasks <= 1 || !p->pool)
        ypr__fake_quant(q, y, n);
    else
        ypr__pool_run(p->pool, tasks, fq_task, &j);
}

/* ---- running the two lanes (plan_streams) */
typedef struct lanes_job {
    ypr_plan *p;
    double *prof_ms;           /* per step, or NULL */
    double t0, end[2], first;  /* start; when each lane ended; lane A's first step's time */
    _Atomic int a_done;        /* lane A has run its steps up to this one */
    _Atomic int failed;
    int rc;                    /* the first failure's code and message */
    char msg[512];
} lanes_job;

static int run_on_lane(lanes_job *j, int s, const lane *ln)
{
    double t0 = j->prof_ms ? ypr__now() : 0;
    int rc = run_step(j->p, &j->p->steps[s], ln);
    if (j->prof_ms)
        j->prof_ms[s] = (ypr__now() - t0) * 1e3;
    if (rc < 0 && !atomic_exchange(&j->failed, 1)) {
        const char *m = ypr_last_error(), *name = ypr_err_name(rc);
        size_t k = strlen(name);
        if (strncmp(m, name, k) == 0 && m[k] == ':' && m[k + 1] == ' ')
            m += k + 2;   /* re-raised below with its code again */
        snprintf(j->msg, sizeof j->msg, "%s", m);
        j->rc = rc;
    }
    return rc;
}

/* Task 0 runs lane A on the pool's caller, task 1 lane B on the other
 * worker (or after lane A, on whichever worker takes it first: lane B only
 * waits for lane A's steps, never the other way round). */
static void lane_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    lanes_job *j = ctx;
    ypr_plan *p = j->p;
    if (t == 0) {
        const lane a = {NULL, p->wino_ws, p->scratch};
        for (int s = p->fork; s < p->fork_end && !atomic_load(&j->failed); s++) {
            if (run_on_lane(j, s, &a) < 0)
                break;
            if (s == p->fork)
                j->first = ypr__now() - j->t0;
            atomic_store_explicit(&j->a_done, s, memory_order_release);
        }
        j->end[0] = ypr__now() - j->t0;
        atomic_store_explicit(&j->a_done, p->fork_end, memory_order_release);
        return;
    }
    const lane b = {NULL, p->ws_b, p->scratch + ypr__gemm_scratch_floats(p->kt)};
    for (int i = 0; i < p->nb; i++) {
        for (int r = 0; atomic_load_explicit(&j->a_done, memory_order_acquire) < p->b_wait[i];
             r++)
            ypr__spin_wait(r);
        if (atomic_load(&j->failed) || run_on_lane(j, p->b_steps[i], &b) < 0)
            return;
    }
    j->end[1] = ypr__now() - j->t0;
}

/* Balance the lanes for the next pass (the estimates of plan_streams are
 * rough, and the lanes' steps slow down unlike each other as the machine
 * does: lane B's large 52² Winograd conv more than lane A's small maps).
 * Lane B ended later: lane A takes the step before its fork too when it
 * would still end first (that step's one-thread time estimated from lane
 * A's own, per cost). Lane A ended later by most of its first step's time:
 * that step goes back to both workers. */
static void rebalance(ypr_plan *p, const lanes_job *j)
{
    const double ta = j->end[0], tb = j->end[1];
    if (tb > ta && p->fork > p->fork_lo) {
        double ca = 0;
        for (int s = p->fork; s < p->fork_end; s++)
            ca += step_cost(p, &p->steps[s]);
        const double t = ca > 0 ? step_cost(p, &p->steps[p->fork - 1]) * ta / ca : tb;
        if (ta + t <= tb)
            p->fork_next = p->fork - 1;
    } else if (ta - tb > 0.7 * j->first && p->fork + 1 < p->fork_end) {
        p->fork_next = p->fork + 1;
    }
}

/* After a pass (lane A is one contiguous run of steps ending at fork_end). */
static void move_fork(ypr_plan *p)
{
    for (int s = p->fork_lo; s < p->fork_end; s++)
        p->lane[s] = s >= p->fork_next ? LANE_A : LANE_MAIN;
    p->fork = p->fork_next;
}

static int run_lanes(ypr_plan *p, double *prof_ms)
{
    lanes_job j = {.p = p, .prof_ms = prof_ms, .rc = YPR_OK};
    atomic_init(&j.a_done, p->fork - 1);
    atomic_init(&j.failed, 0);
    j.t0 = ypr__now();
    ypr__pool_run(p->pool, 2, lane_task, &j);
    if (atomic_load(&j.failed))
        return ypr__error(j.rc, "%s", j.msg);
    rebalance(p, &j);
    return YPR_OK;
}

/* Lanes run where the plan has them and nothing watches the steps: no
 * observer, no fake quantization (both work between steps, on the pool). */
static int lanes_now(const ypr_plan *p)
{
    if (!p->lane || p->observer)
        return 0;
    for (int s = 0; s < p->nsteps; s++)
        if (p->net->nodes[p->steps[s].node].aq.scale > 0)
            return 0;
    return 1;
}

/* YPR_PROFILE=1: per-step times through the log hook; read once per process. */
static int profile;
static pthread_once_t profile_once = PTHREAD_ONCE_INIT;

static void read_profile_env(void)
{
    const char *e = getenv("YPR_PROFILE");
    profile = e && *e == '1';
}

int ypr__plan_run(ypr_plan *p, const float *x)
{
    RETURN_IF(!p || !x, YPR_EINVAL, "plan: NULL argument");
    RETURN_IF(p->version != p->net->version, YPR_ESTATE,
              "plan: the net changed since the plan was made");
    p->x = x;
    const ypr_node *in = &p->net->nodes[0];
    if (p->xq) {
        size_t cnt = (size_t)(p->n * p->shapes[0].c * p->h * p->w);
        memcpy(p->xq, x, cnt * sizeof(float));
        fake_quant(p, &in->aq, p->xq, (int64_t)cnt);
        p->x = p->xq;
    }
    if (p->observer)
        TRY(p->observer(p->observer_user, 0, p->x, &p->shapes[0], p->n));
    pthread_once(&profile_once, read_profile_env);   /* plans may run on several threads */
    /* the profile's times are logged after the pass: a log line between two
     * steps would let the pool's workers fall asleep and slow the next step */
    double *prof_ms = profile ? ypr__alloc((size_t)p->nsteps * sizeof(double)) : NULL;
    const lane whole = {p->pool, p->wino_ws, p->scratch};
    const int lanes = lanes_now(p);
    for (int s = 0; s < p->nsteps; s++) {
        if (lanes && p->lane[s] != LANE_MAIN) {   /* run by run_lanes at the fork */
            int rc = s == p->fork ? run_lanes(p, prof_ms) : YPR_OK;
            if (rc < 0) {
                ypr__free(prof_ms);
                return rc;
            }
            continue;
        }
        double t0 = profile ? ypr__now() : 0;
        int rc = run_step(p, &p->steps[s], &whole);
        if (rc < 0) {
            ypr__free(prof_ms);
            return rc;
        }
        {
            const step *st = &p->steps[s];
            const ypr_shape *o = &p->shapes[st->node];
            const ypr_qparam *aq = &p->net->nodes[st->node].aq;
            float *y = (float *)value(p, st->node);
            if (aq->scale > 0)
                fake_quant(p, aq, y, p->n * o->c * o->h * o->w);
            if (p->observer && (rc = p->observer(p->observer_user, st->node, y, o, p->n)) < 0) {
                ypr__free(prof_ms);
                return rc;
            }
        }
        if (prof_ms)
            prof_ms[s] = (ypr__now() - t0) * 1e3;
    }
    for (int s = 0; prof_ms && s < p->nsteps; s++) {
        const step *st = &p->steps[s];
        const ypr_shape *o = &p->shapes[st->node];
        double ms = prof_ms[s], gf = 0;
        char kind[32] = "";
        if (st->kind == STEP_CONV) {
            /* direct-conv FLOPs (what Winograd saves shows as a higher rate) */
            gf = 2.0 * (double)p->n * (double)st->cs.oc * (double)o->h * (double)o->w *
                 (double)(st->cs.c / st->cs.groups * st->cs.kh * st->cs.kw) / (ms * 1e6);
            snprintf(kind, sizeof kind, "%lldx%lld/s%lld in %lld %s", (long long)st->cs.kh,
                     (long long)st->cs.kw, (long long)st->cs.sh, (long long)st->cs.c,
                     st->s2 ? "direct" : st->wino == 2 ? "wino2" : st->wino ? "wino"
                     : ypr__conv3x3_rows_eligible(p->kt, &st->cs) ? "rows"
                     : st->own_packed ? "gemm pair" : "gemm");
        }
        ypr__log(YPR_LOG_INFO, "step %3d %-28s %4lldx%-4lldx%-4lld %8.3f ms %7.1f GFLOP/s %s%s",
                 s, p->net->nodes[st->in_node].name, (long long)o->c, (long long)o->h,
                 (long long)o->w, ms, gf, kind,
                 !lanes || !p->lane[s] ? "" : p->lane[s] == LANE_A ? " [lane A]" : " [lane B]");
    }
    ypr__free(prof_ms);
    if (lanes)
        move_fork(p);
    return YPR_OK;
}

int ypr__plan_pair_convs(const ypr_plan *p)
{
    int n = 0;
    for (int s = 0; s < p->nsteps; s++)
        n += p->steps[s].kind == STEP_CONV && p->steps[s].own_packed;
    return n;
}

int ypr__plan_num_outputs(const ypr_plan *p)
{
    return p->detect >= 0 ? p->net->nodes[p->detect].ninputs : 0;
}

const float *ypr__plan_output(const ypr_plan *p, int level, ypr_shape *shape)
{
    if (p->detect < 0 || level < 0 || level >= p->net->nodes[p->detect].ninputs)
        return NULL;
    int node = p->net->nodes[p->detect].inputs[level];
    if (shape)
        *shape = p->shapes[node];
    return value(p, node);
}

size_t ypr__plan_bytes(const ypr_plan *p, int with_packs)
{
    size_t t = p->arena_floats * sizeof(float) +
               (size_t)(ypr__pool_size(p->pool) * ypr__gemm_scratch_floats(p->kt) +
                        p->wino_ws_floats + p->ws_b_floats) * sizeof(float) + p->own_pack_bytes;
    return t + (with_packs ? p->packs->bytes : 0);
}

size_t ypr__plan_arena_bytes(const ypr_plan *p)
{
    return p->arena_floats * sizeof(float);
}

int ypr__plan_matches(const ypr_plan *p, const ypr_net *net, int64_t n, int64_t h, int64_t w)
{
    return p && p->net == net && p->version == net->version && p->n == n && p->h == h &&
           p->w == w && p->kt == ypr__kt();
}

void ypr__plan_set_observer(ypr_plan *p, ypr_plan_observer fn, void *user)
{
    p->observer = fn;
    p->observer_user = user;
}

int64_t ypr__plan_batch(const ypr_plan *p)
{
    return p->n;
}

int64_t ypr__plan_height(const ypr_plan *p)
{
    return p->h;
}

int64_t ypr__plan_width(const ypr_plan *p)
{
    return p->w;
}
