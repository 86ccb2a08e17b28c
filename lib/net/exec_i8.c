/* The INT8 execution plan of a quantized net (docs/quant.md, "INT8 runtime").
 *
 * Values between nodes are int8 with the step of the node that produced
 * them (ypr_node.aq; max-pool, upsample and reorg carry their input's), or
 * float where the net keeps a layer float. Convs whose input, weights and
 * output are quantized run as integer GEMMs (ypr__i8_conv2d) with a
 * requantizing epilogue: integer shifts where every step is a power of two
 * (the dpu scheme), the float simulation's own operations otherwise. Adds,
 * requantizing concats and boundary conversions compute exactly what the
 * fake-quant float plan (exec.c) computes, in the same float operations, so
 * the two plans differ only where the float plan's conv sums round (its sums
 * are float32, ours exact). Anything else — a float conv, an activation the
 * plan did not fold — runs in float between a dequantization and a
 * quantization. The detect head's inputs are handed out dequantized.
 * Weights are converted and packed once per plan (q = w / step is exact:
 * the quantizer stored w = q · step). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#if defined(__SSE2__)
#include <emmintrin.h>   /* x86-64 baseline: no ISA flag needed */
#endif

enum { S_CONV_I8, S_CONV_F32, S_ADD, S_CONCAT, S_MAXPOOL, S_UPSAMPLE, S_REORG, S_ACT, S_NONE };

typedef struct vinfo {
    int i8;            /* 1: int8 with step `scale` (qparam q), 0: float */
    float scale;
    ypr_qparam q;      /* the step that made it (for conversions) */
    int64_t off;       /* byte offset in the arena; -1 the caller's input */
    int in_concat;     /* batch 1: 1 + the concat whose buffer holds this value at byte
                        * in_off (its producer writes it in place), else 0 */
    int64_t in_off;
} vinfo;

typedef struct i8step {
    int kind;
    int node;          /* the node whose value it produces (chain end) */
    int in_node;       /* the node it computes (conv, add …) */
    int act;
    float alpha;
    ypr_conv_shape cs;
    void *packed;      /* S_CONV_I8: ypr__i8_conv_pack_w (or ypr__i8_wino_pack_w when
                        * wino); S_CONV_F32: float packing */
    int wino;          /* S_CONV_I8 as the exact Winograd F(t×t, 3×3): t = 2 or 4; 0 direct */
    ypr_i8rq rq;
    int32_t *bsh;
    float *m, *b;      /* FLOAT epilogue, or the float conv's bias */
    int lut_node;      /* S_CONV_I8 whose quantized value only a table activation reads:
                        * that activation node (its table `lut`, rq.lut), else -1 */
    int8_t *lut;
    int ynode;         /* S_CONV_I8 pair: the node at whose value the output starts */
    void *own;         /* S_CONV_I8 pair (it also computes the next step's sibling,
                        * merge_siblings): its stacked packed weights and epilogue
                        * arrays, the plan's own; else NULL */
} i8step;

/* Converted, packed weights and epilogue tables depend on the net, its
 * version and the kernel sets, not on the input shape: plans for other
 * shapes share them (refcounted), step by step in build order. */
typedef struct i8packs {
    int refs, n;
    i8step *st;        /* per step index: packed, bsh, m, b, rq */
    char *done;
    size_t bytes;
} i8packs;

struct ypr_plan_i8 {
    const ypr_net *net;
    uint64_t version;
    const ypr_i8kt *kt;
    const ypr_ktable *fkt;
    ypr_pool *pool;
    int64_t n, h, w;
    ypr_shape *shapes;
    vinfo *v;
    i8step *steps;
    int nsteps, detect;
    uint8_t *arena;
    size_t arena_bytes;
    size_t own_bytes;      /* the sibling pairs' stacked weights and arrays (merge_siblings) */
    void *scratch;        /* INT8 conv scratch, per worker */
    float *fscratch;      /* float GEMM scratch, per worker */
    float *tin, *tout;    /* float conversions around float steps */
    int64_t tin_floats, tout_floats;
    float **outs;         /* per detect level: dequantized outputs */
    int8_t *xq;           /* the quantized input */
    const float *x;
    i8packs *packs;
};

static int64_t numel(const ypr_plan_i8 *p, int node)
{
    const ypr_shape *s = &p->shapes[node];
    return p->n * s->c * s->h * s->w;
}

static int is_pot(float s)
{
    int e;
    return s > 0 && frexpf(s, &e) == 0.5f;
}

static int log2i(float s)
{
    int e;
    frexpf(s, &e);
    return e - 1;
}

int ypr__net_is_quantized(const ypr_net *net)
{
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].aq.scale > 0 || net->nodes[i].wq.scale > 0)
            return 1;
    return 0;
}

/* ---- conversions (the fake quantization's operations, qparam.c) */

/* ypr__qround inlined (the same operations) */
static inline float qround(float v, int mode)
{
    switch (mode) {
    case YPR_ROUND_HALF_AWAY: return roundf(v);
    case YPR_ROUND_HALF_UP: return floorf(v + 0.5f);
    default: return rintf(v);
    }
}

static inline int8_t quant1_mode(float x, const ypr_qparam *q, int mode)
{
    float v = x / q->scale + (float)q->zero, lo = (float)q->qmin, hi = (float)q->qmax;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (int8_t)(int32_t)qround(v, mode);
}

static inline int8_t quant1(float x, const ypr_qparam *q)
{
    return quant1_mode(x, q, q->round);
}

#if defined(__SSE2__)
/* 16 values of quant1 for the half-even and half-up modes: the same float
 * operations (divide, add, the clamps as max/min — NaN → qmin —, the
 * rounding); rint(v) for |v| < 2^22 is (v + 1.5·2^23) − 1.5·2^23 in the
 * default rounding mode, and floor(t) is rint(t) − (rint(t) > t). */
static inline void quant16_sse2(const float *x, const ypr_qparam *q, int half_up, int8_t *y)
{
    const __m128 s = _mm_set1_ps(q->scale), z = _mm_set1_ps((float)q->zero);
    const __m128 lo = _mm_set1_ps((float)q->qmin), hi = _mm_set1_ps((float)q->qmax);
    const __m128 magic = _mm_set1_ps(12582912.0f), one = _mm_set1_ps(1.0f);
    __m128i r[4];
    for (int k = 0; k < 4; k++) {
        __m128 v = _mm_add_ps(_mm_div_ps(_mm_loadu_ps(x + 4 * k), s), z);
        v = _mm_min_ps(_mm_max_ps(v, lo), hi);
        if (half_up)
            v = _mm_add_ps(v, _mm_set1_ps(0.5f));
        __m128 rv = _mm_sub_ps(_mm_add_ps(v, magic), magic);
        if (half_up)
            rv = _mm_sub_ps(rv, _mm_and_ps(_mm_cmpgt_ps(rv, v), one));
        r[k] = _mm_cvttps_epi32(rv);
    }
    __m128i w0 = _mm_packs_epi32(r[0], r[1]), w1 = _mm_packs_epi32(r[2], r[3]);
    _mm_storeu_si128((__m128i *)y, _mm_packs_epi16(w0, w1));
}
#endif

static void quantize(const float *x, int64_t n, const ypr_qparam *q, int8_t *y)
{
#if defined(__SSE2__)
    int64_t i0 = 0;
    /* the clamp keeps |v| ≤ 128.5 for the magic-number rounding */
    if (q->round != YPR_ROUND_HALF_AWAY && q->qmin >= -128 && q->qmax <= 127)
        for (; i0 + 16 <= n; i0 += 16)
            quant16_sse2(x + i0, q, q->round == YPR_ROUND_HALF_UP, y + i0);
    x += i0;
    y += i0;
    n -= i0;
#endif
    switch (q->round) {   /* one loop per mode: the rounding inlines */
    case YPR_ROUND_HALF_AWAY:
        for (int64_t i = 0; i < n; i++)
            y[i] = quant1_mode(x[i], q, YPR_ROUND_HALF_AWAY);
        break;
    case YPR_ROUND_HALF_UP:
        for (int64_t i = 0; i < n; i++)
            y[i] = quant1_mode(x[i], q, YPR_ROUND_HALF_UP);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = quant1_mode(x[i], q, YPR_ROUND_HALF_EVEN);
        break;
    }
}

/* quantize() over the pool, in chunks (the input: a serial pass otherwise) */
#define QCHUNK ((int64_t)1 << 16)
typedef struct qjob {
    const float *x;
    int64_t n;
    const ypr_qparam *q;
    int8_t *y;
} qjob;

static void quantize_task(void *ctx, int64_t t, int worker)
{
    const qjob *j = ctx;
    int64_t i0 = t * QCHUNK, len = j->n - i0 < QCHUNK ? j->n - i0 : QCHUNK;
    quantize(j->x + i0, len, j->q, j->y + i0);
    (void)worker;
}

static void quantize_pool(ypr_pool *pool, const float *x, int64_t n, const ypr_qparam *q,
                          int8_t *y)
{
    qjob j = {x, n, q, y};
    ypr__pool_run(pool, (n + QCHUNK - 1) / QCHUNK, quantize_task, &j);
}

static void dequantize(const int8_t *x, int64_t n, float s, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)x[i] * s;
}

/* ---- planning */

static int unsupported(const ypr_node *nd, const char *why)
{
    return ypr__error(YPR_EUNSUPPORTED, "int8 plan: node %s: %s", nd->name, why);
}

/* An int8 value's step: symmetric, within int8. */
static int step_ok(const ypr_qparam *q)
{
    return q->scale > 0 && q->zero == 0 && q->qmin >= -128 && q->qmax <= 127;
}

static void set_value(ypr_plan_i8 *p, int node, const ypr_qparam *q)
{
    p->v[node].i8 = q && q->scale > 0;
    p->v[node].scale = q ? q->scale : 0;
    p->v[node].q = q ? *q : (ypr_qparam){0};
}

/* The weights of conv c as int8 per the step wq (per tensor or per output
 * channel, recomputed as the quantizer made them); fills the per-channel
 * steps. Returns YPR_EUNSUPPORTED when a weight is off its grid. */
static int conv_weights_i8(const ypr_net *net, const ypr_node *nd, int8_t *q, float *sc)
{
    const ypr_param *w = &net->params[nd->p[0]];
    int64_t per = w->numel / nd->c;
    for (int64_t o = 0; o < nd->c; o++) {
        const float *x = w->data + o * per;
        float s = nd->wq.scale;
        if (nd->wq.per_channel) {
            double amax = 0;
            for (int64_t i = 0; i < per; i++)
                amax = fabs((double)x[i]) > amax ? fabs((double)x[i]) : amax;
            s = amax > 0 ? (float)(amax / nd->wq.qmax) : 1.0f;
        }
        sc[o] = s;
        for (int64_t i = 0; i < per; i++) {
            float v = rintf(x[i] / s);
            if (!(fabsf(v) <= 127.0f) || fabsf(v * s - x[i]) > 1e-3f * s)
                return unsupported(nd, "a weight is not on its quantization grid");
            q[o * per + i] = (int8_t)(int32_t)v;
        }
    }
    return YPR_OK;
}

/* The dpu requantization with shifts when every step is a power of two and
 * the sums fit (kernels.h, SHIFT); 0 when the float epilogue is needed. */
static int try_shift(i8step *st, const ypr_node *nd, const int8_t *wq, const float *bias,
                     float sx, const ypr_qparam *out)
{
    int64_t oc = nd->c, per = st->cs.c / st->cs.groups * st->cs.kh * st->cs.kw;
    if (nd->wq.per_channel || !is_pot(nd->wq.scale) || !is_pot(sx) || !is_pot(out->scale) ||
        out->round != YPR_ROUND_HALF_UP)
        return 0;
    int lk = 256;
    if (st->act == YPR_ACT_LEAKY) {
        float k = st->alpha * 256.0f;
        if (!(k >= 0 && k <= 256 && k == floorf(k)))
            return 0;
        lk = (int)k;
    } else if (st->act != YPR_ACT_IDENTITY && st->act != YPR_ACT_RELU) {
        return 0;
    }
    int ea = log2i(nd->wq.scale) + log2i(sx), sh = log2i(out->scale) - ea;
    if (sh < 1 || sh > 29 || (st->act == YPR_ACT_LEAKY && sh > 15))
        return 0;
    int32_t *bsh = malloc((size_t)oc * sizeof *bsh);
    if (!bsh)
        return YPR_ENOMEM;
    for (int64_t o = 0; o < oc; o++) {
        double b = 0;
        if (bias) {   /* on the accumulator's grid (a power-of-two bias step ≥ 2^ea is) */
            b = ldexp((double)bias[o], -ea);
            if (b != floor(b)) {
                free(bsh);
                return 0;
            }
        }
        int64_t amax = 0;
        for (int64_t i = 0; i < per; i++)
            amax += abs(wq[o * per + i]) * 128;
        if (fabs(b) + (double)amax >= (double)(1 << 30)) {
            free(bsh);
            return 0;
        }
        bsh[o] = (int32_t)b;
    }
    st->bsh = bsh;
    st->rq = (ypr_i8rq){YPR_I8RQ_SHIFT, st->act, st->alpha, out->qmin, out->qmax, bsh, sh, lk,
                        0, NULL, NULL, 0, out->round, NULL};
    /* past −lneg every negative value saturates at qmin: clamp there so a·k fits */
    st->rq.lneg = lk ? (int32_t)(((int64_t)(1 - out->qmin) << (sh + 8)) / lk + 1) : (1 << 30);
    return 1;
}

/* The exact integer Winograd (kernels.h) for a 3×3 stride-1 conv: the
 * output tile 4 (F(4×4, 3×3)), 2 (F(2×2, 3×3)) or 0 (the direct conv).
 * YPR_I8_WINO=0 never, =2 at most F(2×2), =1 every eligible conv with the
 * largest tile whose sums fit; otherwise the cost rule measured on this
 * machine (docs/quant.md, "Speed": per conv, one thread): at least 8 input
 * channels (with 3 or 4, the stem, the transforms cost more than the fewer
 * multiplies save), F(4×4) from 32 input channels when its tighter range
 * (|S| < 2^25) holds for the weights, F(2×2) otherwise. The rule does not
 * look at the spatial size: the packed weights are shared by the plans of
 * every input shape. The exactness bound uses the values the input can
 * take (value_range): a table activation's output is one of its entries,
 * so a SiLU's int8 output (about −0.28/step … 127) lets more convs take
 * F(4×4). Whatever it picks, the int8 output is the same bit for bit. */
static int use_wino(const ypr_conv_shape *cs, const int8_t *wq, int xlo, int xhi)
{
    const char *env = getenv("YPR_I8_WINO");
    int force = env && env[0] == '1', only2 = env && env[0] == '2';
    if ((env && env[0] == '0') || !ypr__i8_wino_eligible(cs) || (!force && cs->c < 8))
        return 0;
    if (!only2 && (force || cs->c >= 32) && ypr__i8_wino_exact_range(cs, wq, xlo, xhi, 4))
        return 4;
    return ypr__i8_wino_exact_range(cs, wq, xlo, xhi, 2) ? 2 : 0;
}

/* The int8 values of node v (quantized): the entries of the activation table
 * that produced it, reached from the pre-activation's [qmin, qmax]; through
 * max-pool, upsample and reorg (which only move values) their input's;
 * otherwise its step's [qmin, qmax]. Steps before the current one only. */
static void value_range(const ypr_plan_i8 *p, int v, int *lo, int *hi)
{
    *lo = p->v[v].q.qmin;
    *hi = p->v[v].q.qmax;
    if (*lo >= *hi) {   /* no step recorded: any int8 */
        *lo = -128;
        *hi = 127;
    }
    for (int s = p->nsteps - 1; s >= 0; s--) {
        const i8step *st = &p->steps[s];
        if (st->node != v)
            continue;
        if (st->kind == S_CONV_I8 && st->lut) {
            int a = 127, b = -128;
            for (int q = st->rq.qmin; q <= st->rq.qmax; q++) {
                int e = st->lut[(uint8_t)(int8_t)q];
                a = e < a ? e : a;
                b = e > b ? e : b;
            }
            *lo = a;
            *hi = b;
        } else if (st->kind == S_MAXPOOL || st->kind == S_UPSAMPLE || st->kind == S_REORG) {
            value_range(p, p->net->nodes[st->in_node].inputs[0], lo, hi);
        }
        return;
    }
}

/* The table of activation node `a` reading a value quantized with step
 * `pre`: per int8 value q, what the fake-quant float plan (exec.c) computes
 * from it — (q − zero)·step, the activation through the float kernels (as
 * its activation step does), then a's fake quantization, as an int8. */
static int make_lut(ypr_plan_i8 *p, i8step *st, const ypr_qparam *pre, const ypr_node *a)
{
    float v[256], one = 1.0f, zero = 0.0f;
    for (int q = -128; q < 128; q++)
        v[q + 128] = ((float)q - (float)pre->zero) * pre->scale;
    ypr_epilogue ep = {&one, &zero, a->act, a->alpha};
    TRY(ypr__scale_bias_act(p->fkt, NULL, 1, 1, 256, v, &ep));
    st->lut = malloc(256);
    RETURN_IF(!st->lut, YPR_ENOMEM, "int8 plan: out of memory");
    const ypr_qparam *o = &a->aq;
    const float s = o->scale, z = (float)o->zero, lo = (float)o->qmin, hi = (float)o->qmax;
    for (int q = -128; q < 128; q++) {
        float x = v[q + 128] / s + z;   /* ypr__fake_quant's steps, up to the integer */
        x = x > lo ? x : lo;
        x = x < hi ? x : hi;
        st->lut[(uint8_t)(int8_t)q] = (int8_t)(int32_t)ypr__qround(x, o->round);
    }
    return YPR_OK;
}

static int plan_conv_i8(ypr_plan_i8 *p, i8step *st, const ypr_node *nd, const ypr_qparam *out)
{
    const ypr_net *net = p->net;
    int64_t wn = net->params[nd->p[0]].numel;
    int8_t *wq = malloc((size_t)wn);
    float *sc = malloc((size_t)nd->c * sizeof(float));
    int rc = wq && sc ? conv_weights_i8(net, nd, wq, sc) : ypr__error(YPR_ENOMEM, "out of memory");
    const float *bias = nd->p[1] >= 0 ? net->params[nd->p[1]].data : NULL;
    float sx = p->v[nd->inputs[0]].scale;
    if (rc == YPR_OK)
        rc = try_shift(st, nd, wq, bias, sx, out);
    if (rc == 0) {   /* the float epilogue */
        st->m = malloc((size_t)nd->c * sizeof(float));
        st->b = malloc((size_t)nd->c * sizeof(float));
        if (!st->m || !st->b)
            rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        for (int64_t o = 0; rc == 0 && o < nd->c; o++) {
            st->m[o] = sc[o] * sx;
            st->b[o] = bias ? bias[o] : 0.0f;
        }
        st->rq = (ypr_i8rq){YPR_I8RQ_FLOAT, st->act, st->alpha, out->qmin, out->qmax, NULL, 0,
                            0, 0, st->m, st->b, out->scale, out->round, NULL};
    }
    if (rc >= 0 && st->lut_node >= 0) {
        rc = make_lut(p, st, &nd->aq, &net->nodes[st->lut_node]);
        st->rq.lut = st->lut;
    }
    if (rc >= 0) {
        int xlo, xhi;
        value_range(p, nd->inputs[0], &xlo, &xhi);
        st->wino = use_wino(&st->cs, wq, xlo, xhi);
        int64_t bytes = st->wino ? ypr__i8_wino_packed_bytes(p->kt, &st->cs, st->wino)
                                 : ypr__i8_conv_packed_bytes(p->kt, &st->cs);
        st->packed = ypr__alloc((size_t)bytes);
        if (!st->packed)
            rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        else {
            if (st->wino)
                ypr__i8_wino_pack_w(p->kt, &st->cs, wq, st->wino, st->packed);
            else
                ypr__i8_conv_pack_w(p->kt, &st->cs, wq, st->packed);
            p->packs->bytes += (size_t)bytes;
            rc = YPR_OK;
        }
    }
    free(wq);
    free(sc);
    return rc;
}

static int plan_conv_f32(ypr_plan_i8 *p, i8step *st, const ypr_node *nd)
{
    const ypr_net *net = p->net;
    int64_t n = ypr__conv_packed_w_floats(p->fkt, &st->cs);
    st->packed = ypr__alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    RETURN_IF(!st->packed, YPR_ENOMEM, "int8 plan: out of memory");
    ypr__conv_pack_w(p->fkt, &st->cs, net->params[nd->p[0]].data, st->packed);
    p->packs->bytes += (size_t)n * sizeof(float);
    if (nd->p[1] >= 0) {
        st->b = malloc((size_t)nd->c * sizeof(float));
        RETURN_IF(!st->b, YPR_ENOMEM, "int8 plan: out of memory");
        memcpy(st->b, net->params[nd->p[1]].data, (size_t)nd->c * sizeof(float));
    }
    return YPR_OK;
}

static void step_release(i8step *st)
{
    ypr__free(st->packed);
    free(st->lut);
    free(st->bsh);
    free(st->m);
    free(st->b);
}

/* A conv step's weights: the shared ones when an earlier plan made them,
 * made (and kept in the packs) otherwise. */
static int conv_weights(ypr_plan_i8 *p, i8step *st, const ypr_node *nd, const ypr_qparam *out)
{
    i8packs *pk = p->packs;
    int idx = p->nsteps;
    if (pk->done[idx]) {
        const i8step *d = &pk->st[idx];
        st->packed = d->packed;
        st->bsh = d->bsh;
        st->m = d->m;
        st->b = d->b;
        st->rq = d->rq;
        st->lut = d->lut;
        st->wino = d->wino;
        return YPR_OK;
    }
    int rc = st->kind == S_CONV_I8 ? plan_conv_i8(p, st, nd, out) : plan_conv_f32(p, st, nd);
    if (rc < 0) {
        step_release(st);
        return rc;
    }
    pk->st[idx] = *st;
    pk->done[idx] = 1;
    return YPR_OK;
}

/* Scratch for a float step: its inputs converted to float (tin) and its
 * output before quantization (tout). */
static void need_float(ypr_plan_i8 *p, const ypr_node *nd, int out_node)
{
    int64_t in = 0;
    for (int j = 0; j < nd->ninputs; j++)
        if (p->v[nd->inputs[j]].i8)
            in += numel(p, nd->inputs[j]);
    if (in > p->tin_floats)
        p->tin_floats = in;
    if (p->v[out_node].i8 && numel(p, out_node) > p->tout_floats)
        p->tout_floats = numel(p, out_node);
}

/* The sole reader of node i when it is an activation reading only i. */
static int sole_act(const ypr_net *net, const ypr_consumers *cons, int i)
{
    int a = ypr__consumers_sole(cons, i);
    return a >= 0 && net->nodes[a].kind == YPR_NODE_ACT && net->nodes[a].ninputs == 1 ? a : -1;
}

static int build(ypr_plan_i8 *p, const ypr_consumers *cons)
{
    const ypr_net *net = p->net;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->aq.scale > 0 && !step_ok(&nd->aq))
            return unsupported(nd, "its value's step is asymmetric or wider than int8");
        if (nd->wq.scale > 0 && (nd->wq.zero != 0 || nd->wq.qmax > 127 || nd->wq.qmin < -128))
            return unsupported(nd, "weights are not symmetric int8");
        if (nd->kind == YPR_NODE_INPUT) {
            set_value(p, i, nd->aq.scale > 0 ? &nd->aq : NULL);
            continue;
        }
        if (nd->kind == YPR_NODE_DETECT) {
            p->detect = i;
            continue;
        }
        i8step *st = &p->steps[p->nsteps];
        memset(st, 0, sizeof *st);
        st->in_node = i;
        st->node = i;
        st->act = YPR_ACT_IDENTITY;
        const ypr_shape *in = &p->shapes[nd->inputs[0]];
        switch (nd->kind) {
        case YPR_NODE_CONV:
        case YPR_NODE_ADD: {
            /* an activation that reads only this node joins it (as exec.c folds it) */
            int a = nd->aq.scale > 0 ? -1 : sole_act(net, cons, i);
            if (a >= 0) {
                st->act = net->nodes[a].act;
                st->alpha = net->nodes[a].alpha;
                st->node = a;
            }
            /* a quantized conv value that only a quantized table activation reads:
             * the conv requantizes to its own step, the table does the rest */
            st->lut_node = -1;
            int t = nd->kind == YPR_NODE_CONV && nd->aq.scale > 0 ? sole_act(net, cons, i) : -1;
            if (t >= 0 && ypr__act_lut_able(net->nodes[t].act) &&
                net->nodes[t].aq.scale > 0 && step_ok(&net->nodes[t].aq) &&
                p->v[nd->inputs[0]].i8 && nd->wq.scale > 0) {
                st->lut_node = t;
                st->node = t;
            }
            const ypr_qparam *out = &net->nodes[st->node].aq;
            set_value(p, st->node, out->scale > 0 ? out : NULL);
            if (st->node != i)
                set_value(p, i, NULL);
            if (nd->kind == YPR_NODE_ADD) {
                st->kind = S_ADD;
                need_float(p, nd, st->node);
                break;
            }
            st->cs = (ypr_conv_shape){p->n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->sh,
                                      nd->sw, nd->ph, nd->pw, nd->dh, nd->dw, nd->groups};
            TRY(ypr__conv_check(&st->cs, NULL, NULL));
            st->kind = p->v[nd->inputs[0]].i8 && nd->wq.scale > 0 && out->scale > 0 ? S_CONV_I8
                                                                                  : S_CONV_F32;
            if (st->kind == S_CONV_F32)
                need_float(p, nd, st->node);
            TRY(conv_weights(p, st, nd, st->lut_node >= 0 ? &nd->aq : out));
            break;
        }
        case YPR_NODE_CONCAT:
            st->kind = S_CONCAT;
            set_value(p, i, nd->aq.scale > 0 ? &nd->aq : NULL);
            need_float(p, nd, i);
            break;
        case YPR_NODE_MAXPOOL:
        case YPR_NODE_UPSAMPLE:
        case YPR_NODE_REORG:
            if (nd->aq.scale > 0)
                return unsupported(nd, "a quantization step on a pool, upsample or reorg");
            if (nd->kind == YPR_NODE_UPSAMPLE && nd->scale != 2)
                return unsupported(nd, "upsample factor other than 2");
            st->kind = nd->kind == YPR_NODE_MAXPOOL ? S_MAXPOOL
                       : nd->kind == YPR_NODE_UPSAMPLE ? S_UPSAMPLE : S_REORG;
            p->v[i] = p->v[nd->inputs[0]];   /* same grid */
            break;
        case YPR_NODE_ACT:
            st->kind = S_ACT;
            st->act = nd->act;
            st->alpha = nd->alpha;
            set_value(p, i, nd->aq.scale > 0 ? &nd->aq : NULL);
            need_float(p, nd, i);
            break;
        default:
            return unsupported(nd, "no INT8 step for this node kind (an unfused net?)");
        }
        p->nsteps++;
        i = st->node;
    }
    return YPR_OK;
}

/* Batch 1: the concat inputs whose producers can write them into the
 * concat's buffer (as the float plan does, exec.c): produced by a step that
 * is not a concat, on the concat's grid (the same step and a range inside
 * its range, or both float), not the caller's input or a detect input, in
 * one concat only. Fills vinfo.in_concat / in_off (run_concat then skips
 * them). prod: each node's producing step or -1. */
static void concat_in_place(ypr_plan_i8 *p, const int *prod)
{
    const ypr_net *net = p->net;
    if (p->n != 1)
        return;
    for (int s = 0; s < p->nsteps; s++) {
        if (p->steps[s].kind != S_CONCAT)
            continue;
        int c = p->steps[s].node;
        const ypr_node *nd = &net->nodes[c];
        const vinfo *vo = &p->v[c];
        const int64_t hw = p->shapes[c].h * p->shapes[c].w, es = vo->i8 ? 1 : sizeof(float);
        int64_t off = 0;
        for (int j = 0; j < nd->ninputs; j++) {
            int m = nd->inputs[j];
            vinfo *vm = &p->v[m];
            int ok = m > 0 && prod[m] >= 0 && p->steps[prod[m]].kind != S_CONCAT &&
                     !vm->in_concat &&
                     (vo->i8 ? vm->i8 && vm->scale == vo->scale && vm->q.qmin >= vo->q.qmin &&
                                   vm->q.qmax <= vo->q.qmax
                             : !vm->i8);
            for (int k = 0; ok && k < j; k++)
                ok = nd->inputs[k] != m;
            for (int k = 0; ok && p->detect >= 0 && k < net->nodes[p->detect].ninputs; k++)
                ok = net->nodes[p->detect].inputs[k] != m;
            if (ok) {
                vm->in_concat = c + 1;
                vm->in_off = off * hw * es;
            }
            off += p->shapes[m].c;
        }
    }
}

/* Byte buffers reused by liveness (as exec.c does for floats); a concat's
 * buffer is taken when its first in-place input is produced and lives until
 * the last read of the concat or of any of those inputs. */
static int assign(ypr_plan_i8 *p)
{
    const ypr_net *net = p->net;
    int nn = net->nnodes;
    int *last = malloc((size_t)nn * sizeof(int)), *bufof = malloc((size_t)nn * sizeof(int));
    int *prod = malloc((size_t)nn * sizeof(int));
    size_t *bsz = calloc((size_t)p->nsteps + 1, sizeof(size_t));
    char *busy = calloc((size_t)p->nsteps + 1, 1);
    int nb = 0, rc = YPR_OK;
    if (!last || !bufof || !prod || !bsz || !busy) {
        rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        goto done;
    }
    for (int i = 0; i < nn; i++) {
        last[i] = -1;
        bufof[i] = -1;
        prod[i] = -1;
    }
    for (int s = 0; s < p->nsteps; s++) {
        const ypr_node *nd = &net->nodes[p->steps[s].in_node];
        for (int j = 0; j < nd->ninputs; j++)
            last[nd->inputs[j]] = s;
        prod[p->steps[s].node] = s;
    }
    if (p->detect >= 0)
        for (int j = 0; j < net->nodes[p->detect].ninputs; j++)
            last[net->nodes[p->detect].inputs[j]] = p->nsteps;
    concat_in_place(p, prod);
    for (int i = 0; i < nn; i++)   /* a concat and its in-place inputs: one lifetime */
        if (p->v[i].in_concat) {
            int c = p->v[i].in_concat - 1;
            last[c] = last[i] > last[c] ? last[i] : last[c];
        }
    for (int i = 0; i < nn; i++)
        if (p->v[i].in_concat)
            last[i] = last[p->v[i].in_concat - 1];
    for (int s = 0; s < p->nsteps; s++) {
        int o = p->steps[s].node;
        int c = p->v[o].in_concat - 1, buf;
        if (c >= 0 && bufof[c] >= 0) {
            buf = bufof[c];                /* into a concat buffer already taken */
        } else if (c < 0 && bufof[o] >= 0) {
            buf = bufof[o];                /* a concat whose buffer its inputs took */
        } else {
            int a = c >= 0 ? c : o;        /* the value that owns the new buffer */
            size_t need = (size_t)numel(p, a) * (p->v[a].i8 ? 1 : sizeof(float));
            buf = -1;
            for (int b = 0; b < nb; b++)
                if (!busy[b] && bsz[b] >= need && (buf < 0 || bsz[b] < bsz[buf]))
                    buf = b;
            if (buf < 0) {
                for (int b = 0; b < nb; b++)
                    if (!busy[b] && (buf < 0 || bsz[b] > bsz[buf]))
                        buf = b;
                if (buf < 0)
                    buf = nb++;
                bsz[buf] = need;
            }
            busy[buf] = 1;
            bufof[a] = buf;
        }
        bufof[o] = buf;
        const ypr_node *nd = &net->nodes[p->steps[s].in_node];
        for (int j = 0; j < nd->ninputs; j++) {
            int src = nd->inputs[j];
            /* pools and the like hold their own copy: their buffer is theirs */
            if (bufof[src] >= 0 && last[src] == s)
                busy[bufof[src]] = 0;
        }
        if (last[o] < 0)
            busy[buf] = 0;
    }
    size_t total = 0, *at = malloc(((size_t)nb + 1) * sizeof(size_t));
    if (!at) {
        rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        goto done;
    }
    for (int b = 0; b < nb; b++) {
        at[b] = total;
        total += (bsz[b] + 63) & ~(size_t)63;
    }
    if (total > (size_t)YPR_PLAN_MAX_ACTIVATION_BYTES) {
        free(at);
        rc = ypr__error(YPR_ERANGE, "int8 plan: %.2f GiB of activations (limit %.2f GiB)",
                        (double)total / (1 << 30), (double)YPR_PLAN_MAX_ACTIVATION_BYTES / (1 << 30));
        goto done;
    }
    p->arena = ypr__alloc(total ? total : 64);
    if (!p->arena) {
        free(at);
        rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        goto done;
    }
    p->arena_bytes = total;
    for (int i = 0; i < nn; i++)
        p->v[i].off = bufof[i] < 0 ? -1
                      : (int64_t)at[bufof[i]] + (p->v[i].in_concat ? p->v[i].in_off : 0);
    free(at);
done:
    free(last);
    free(bufof);
    free(prod);
    free(bsz);
    free(busy);
    return rc;
}

void ypr__plan_i8_free(ypr_plan_i8 *p)
{
    if (!p)
        return;
    if (p->packs && --p->packs->refs == 0) {
        for (int s = 0; s < p->packs->n; s++)
            if (p->packs->done[s])
                step_release(&p->packs->st[s]);
        free(p->packs->st);
        free(p->packs->done);
        free(p->packs);
    }
    if (p->outs && p->detect >= 0)
        for (int l = 0; l < p->net->nodes[p->detect].ninputs; l++)
            ypr__free(p->outs[l]);
    free(p->outs);
    ypr__free(p->arena);
    ypr__free(p->xq);
    ypr__free(p->scratch);
    ypr__free(p->fscratch);
    ypr__free(p->tin);
    ypr__free(p->tout);
    for (int s = 0; p->steps && s < p->nsteps; s++)
        ypr__free(p->steps[s].own);
    free(p->steps);
    free(p->shapes);
    free(p->v);
    free(p);
}

static int make_buffers(ypr_plan_i8 *p)
{
    int64_t sb = 0;
    for (int s = 0; s < p->nsteps; s++)
        if (p->steps[s].kind == S_CONV_I8) {
            int64_t b = p->steps[s].wino ? ypr__i8_wino_scratch_bytes(p->kt, &p->steps[s].cs,
                                                                      p->steps[s].wino)
                                         : ypr__i8_conv_scratch_bytes(p->kt, &p->steps[s].cs);
            sb = b > sb ? b : sb;
        }
    int workers = ypr__pool_size(p->pool);
    p->scratch = ypr__alloc((size_t)(sb * workers + 64));
    p->fscratch = ypr__alloc((size_t)(workers * ypr__gemm_scratch_floats(p->fkt) + 16) *
                             sizeof(float));
    p->tin = ypr__alloc((size_t)(p->tin_floats + 16) * sizeof(float));
    p->tout = ypr__alloc((size_t)(p->tout_floats + 16) * sizeof(float));
    RETURN_IF(!p->scratch || !p->fscratch || !p->tin || !p->tout, YPR_ENOMEM,
              "int8 plan: out of memory");
    if (p->detect < 0)
        return YPR_OK;
    const ypr_node *d = &p->net->nodes[p->detect];
    p->outs = calloc((size_t)d->ninputs, sizeof(float *));
    RETURN_IF(!p->outs, YPR_ENOMEM, "int8 plan: out of memory");
    for (int l = 0; l < d->ninputs; l++)
        if (p->v[d->inputs[l]].i8) {
            p->outs[l] = ypr__alloc((size_t)numel(p, d->inputs[l]) * sizeof(float));
            RETURN_IF(!p->outs[l], YPR_ENOMEM, "int8 plan: out of memory");
        }
    return YPR_OK;
}

int ypr__plan_i8_create(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                        ypr_plan_i8 **out)
{
    return ypr__plan_i8_create_from(net, pool, n, h, w, NULL, out);
}

static int plain_1x1_i8(const i8step *st)
{
    return st->kind == S_CONV_I8 && !st->wino && !st->own && ypr__conv_pointwise(&st->cs) &&
           st->cs.groups == 1;
}

/* The same requantization but for the per-channel arrays. */
static int same_rq(const ypr_i8rq *a, const ypr_i8rq *b)
{
    if (a->mode != b->mode || a->act != b->act || a->alpha != b->alpha || a->qmin != b->qmin ||
        a->qmax != b->qmax || a->round != b->round || !a->lut != !b->lut ||
        (a->lut && memcmp(a->lut, b->lut, 256) != 0))
        return 0;
    return a->mode == YPR_I8RQ_SHIFT ? a->sh == b->sh && a->lk == b->lk && a->lneg == b->lneg
                                     : a->s_out == b->s_out;
}

/* Sibling 1×1 convs as one (exec.c's merge_siblings, for the INT8 plan):
 * two consecutive INT8 1×1 convs that read one value, requantize the same
 * way (one shift, activation, range, table) and whose outputs lie side by
 * side in one concat's buffer run as one conv over both output-channel
 * sets; the second step does nothing. Integer sums are exact and each
 * channel keeps its own bias or multiplier, so the output is the same bit
 * for bit. The stacked weights and arrays are the plan's own (the packs
 * are shared with the plans of other shapes). */
static int merge_siblings(ypr_plan_i8 *p)
{
    if (p->n != 1 || !ypr__plan_merge_on())
        return YPR_OK;
    const ypr_net *net = p->net;
    for (int s = 0; s + 1 < p->nsteps; s++) {
        i8step *a = &p->steps[s], *b = &p->steps[s + 1];
        const ypr_node *na = &net->nodes[a->in_node], *nb = &net->nodes[b->in_node];
        if (!plain_1x1_i8(a) || !plain_1x1_i8(b) || na->inputs[0] != nb->inputs[0] ||
            !same_rq(&a->rq, &b->rq))
            continue;
        const vinfo *va = &p->v[a->node], *vb = &p->v[b->node];
        if (!va->in_concat || va->in_concat != vb->in_concat)
            continue;
        const int64_t hw = p->shapes[a->node].h * p->shapes[a->node].w;
        const i8step *lo, *hi;   /* in memory order */
        if (vb->off == va->off + a->cs.oc * hw)
            lo = a, hi = b;
        else if (va->off == vb->off + b->cs.oc * hw)
            lo = b, hi = a;
        else
            continue;
        ypr_conv_shape cs = a->cs;
        cs.oc = a->cs.oc + b->cs.oc;
        const int64_t k = cs.c, m = cs.oc, m1 = lo->cs.oc;
        const int shift = a->rq.mode == YPR_I8RQ_SHIFT;
        /* one block: packed weights, then bsh (shift) or m and b (float) */
        const size_t pb = ((size_t)ypr__i8_conv_packed_bytes(p->kt, &cs) + 63) & ~(size_t)63;
        const size_t ab = shift ? (size_t)m * sizeof(int32_t) : 2 * (size_t)m * sizeof(float);
        uint8_t *own = ypr__alloc(pb + ab);
        p->own_bytes += pb + ab;
        int8_t *w = malloc((size_t)(m * k));
        float *sc = malloc((size_t)m * sizeof(float));
        int rc = own && w && sc ? YPR_OK : ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        const i8step *part[2] = {lo, hi};
        for (int q = 0; q < 2 && rc == YPR_OK; q++)
            rc = conv_weights_i8(net, &net->nodes[part[q]->in_node], w + (q ? m1 * k : 0),
                                 sc + (q ? m1 : 0));
        if (rc < 0) {
            ypr__free(own);
            free(w);
            free(sc);
            return rc;
        }
        ypr__i8_conv_pack_w(p->kt, &cs, w, own);
        free(w);
        free(sc);
        ypr_i8rq rq = a->rq;
        for (int q = 0; q < 2; q++) {
            const i8step *t = part[q];
            const int64_t r0 = q ? m1 : 0;
            if (shift) {
                memcpy((int32_t *)(own + pb) + r0, t->rq.bsh, (size_t)t->cs.oc * sizeof(int32_t));
            } else {
                memcpy((float *)(own + pb) + r0, t->rq.m, (size_t)t->cs.oc * sizeof(float));
                memcpy((float *)(own + pb) + m + r0, t->rq.b, (size_t)t->cs.oc * sizeof(float));
            }
        }
        if (shift) {
            rq.bsh = (const int32_t *)(own + pb);
        } else {
            rq.m = (const float *)(own + pb);
            rq.b = (const float *)(own + pb) + m;
        }
        a->ynode = lo->node;
        a->cs = cs;
        a->packed = own;
        a->own = own;
        a->rq = rq;
        b->kind = S_NONE;
    }
    return YPR_OK;
}

int ypr__plan_i8_pair_convs(const ypr_plan_i8 *p)
{
    int n = 0;
    for (int s = 0; s < p->nsteps; s++)
        n += p->steps[s].kind == S_CONV_I8 && p->steps[s].own;
    return n;
}

int ypr__plan_i8_create_from(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h,
                             int64_t w, ypr_plan_i8 *donor, ypr_plan_i8 **out)
{
    RETURN_IF(!net || !out, YPR_EINVAL, "int8 plan: NULL argument");
    *out = NULL;
    RETURN_IF(n <= 0 || n > 4096, YPR_EINVAL, "int8 plan: batch %lld outside 1..4096",
              (long long)n);
    TRY(ypr__net_validate(net));
    RETURN_IF(!ypr__net_is_quantized(net), YPR_EUNSUPPORTED, "int8 plan: the net is not quantized");
    ypr_plan_i8 *p = calloc(1, sizeof *p);
    RETURN_IF(!p, YPR_ENOMEM, "int8 plan: out of memory");
    p->net = net;
    p->version = net->version;
    p->kt = ypr__i8kt();
    p->fkt = ypr__kt();
    p->pool = pool;
    p->n = n;
    p->h = h;
    p->w = w;
    p->detect = -1;
    p->shapes = malloc((size_t)net->nnodes * sizeof *p->shapes);
    p->v = calloc((size_t)net->nnodes, sizeof *p->v);
    p->steps = calloc((size_t)net->nnodes, sizeof *p->steps);
    int rc = YPR_ENOMEM;
    ypr_consumers cons;
    if (!p->shapes || !p->v || !p->steps) {
        rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        goto fail;
    }
    if (donor && donor->net == net && donor->version == net->version && donor->kt == p->kt &&
        donor->fkt == p->fkt && donor->packs) {
        p->packs = donor->packs;
        p->packs->refs++;
    } else {
        p->packs = calloc(1, sizeof *p->packs);
        if (p->packs) {
            p->packs->refs = 1;
            p->packs->n = net->nnodes;
            p->packs->st = calloc((size_t)net->nnodes, sizeof *p->packs->st);
            p->packs->done = calloc((size_t)net->nnodes, 1);
        }
        if (!p->packs || !p->packs->st || !p->packs->done) {
            rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
            goto fail;
        }
    }
    if ((rc = ypr__net_shapes(net, h, w, p->shapes)) < 0 ||
        (rc = ypr__net_consumers(net, &cons)) < 0)
        goto fail;
    rc = build(p, &cons);
    ypr__consumers_free(&cons);
    if (rc < 0 || (rc = assign(p)) < 0 || (rc = make_buffers(p)) < 0 ||
        (rc = merge_siblings(p)) < 0)
        goto fail;
    if (p->v[0].i8 && !(p->xq = ypr__alloc((size_t)numel(p, 0)))) {
        rc = ypr__error(YPR_ENOMEM, "int8 plan: out of memory");
        goto fail;
    }
    *out = p;
    return YPR_OK;
fail:
    ypr__plan_i8_free(p);
    return rc;
}

/* ---- running */

static void *val(const ypr_plan_i8 *p, int node)
{
    if (p->v[node].off < 0)
        return node == 0 ? (p->v[0].i8 ? (void *)p->xq : (void *)p->x) : NULL;
    return p->arena + p->v[node].off;
}

/* A value as float: itself, or dequantized into the tin scratch at *cur. */
static const float *as_float(const ypr_plan_i8 *p, int node, int64_t *cur)
{
    if (!p->v[node].i8)
        return val(p, node);
    float *d = p->tin + *cur;
    dequantize(val(p, node), numel(p, node), p->v[node].scale, d);
    *cur += numel(p, node);
    return d;
}

/* Where a float step writes: the value itself, or tout before quantizing. */
static float *float_out(const ypr_plan_i8 *p, int node)
{
    return p->v[node].i8 ? p->tout : val(p, node);
}

static void finish_float(const ypr_plan_i8 *p, int node)
{
    if (p->v[node].i8)
        quantize(p->tout, numel(p, node), &p->v[node].q, val(p, node));
}

/* Separable max over k×k windows (PyTorch MaxPool2d: implicit −inf padding,
 * floor mode), one int8 plane per task. */
typedef struct pool_job {
    const int8_t *x;
    int8_t *y;
    int64_t h, w, oh, ow;
    int k, s, pad;
    int8_t *tmp;           /* per worker: tmp_bytes (ypr__i8_maxpool_tmp_bytes) */
    int64_t tmp_bytes;
    int64_t planes, per;   /* planes in all, planes per task */
} pool_job;

/* max of row[x0 … x0 + k − 1] clipped to [0, w) (−128 when empty) */
static int8_t window_max(const int8_t *row, int64_t w, int64_t x0, int64_t k)
{
    int64_t x1 = x0 + k;
    x0 = x0 < 0 ? 0 : x0;
    x1 = x1 > w ? w : x1;
    int8_t m = -128;
    for (int64_t ix = x0; ix < x1; ix++)
        m = row[ix] > m ? row[ix] : m;
    return m;
}

#if defined(__SSE2__)
/* int8 max of 16 lanes: unsigned max of x ^ 0x80 (SSE2 has no signed byte max) */
static inline __m128i ld_biased(const int8_t *p)
{
    return _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8((char)0x80));
}

static inline void st_biased(int8_t *p, __m128i v)
{
    _mm_storeu_si128((__m128i *)p, _mm_xor_si128(v, _mm_set1_epi8((char)0x80)));
}

/* unsigned max of n 16-byte vectors at p, p + stride, … (0 for n = 0), in
 * four independent chains (one chain of 13 made SPP's pools latency-bound) */
static inline __m128i max_run_u8(const uint8_t *p, int64_t stride, int n)
{
    __m128i m0 = _mm_setzero_si128(), m1 = m0, m2 = m0, m3 = m0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 = _mm_max_epu8(m0, _mm_loadu_si128((const __m128i *)(p + i * stride)));
        m1 = _mm_max_epu8(m1, _mm_loadu_si128((const __m128i *)(p + (i + 1) * stride)));
        m2 = _mm_max_epu8(m2, _mm_loadu_si128((const __m128i *)(p + (i + 2) * stride)));
        m3 = _mm_max_epu8(m3, _mm_loadu_si128((const __m128i *)(p + (i + 3) * stride)));
    }
    for (; i < n; i++)
        m0 = _mm_max_epu8(m0, _mm_loadu_si128((const __m128i *)(p + i * stride)));
    return _mm_max_epu8(_mm_max_epu8(m0, m1), _mm_max_epu8(m2, m3));
}

/* max of the even and odd bytes of 16 bytes as 8 int16 */
static inline __m128i pair_max16(__m128i v)
{
    return _mm_max_epi16(_mm_srai_epi16(_mm_slli_epi16(v, 8), 8), _mm_srai_epi16(v, 8));
}
#endif

void ypr__i8_maxpool_plane(const int8_t *x, int64_t h, int64_t w, int k, int s, int pad,
                           int8_t *r, int8_t *y)
{
    const struct {
        int64_t h, w, oh, ow;
        int k, s, pad;
    } jj = {h, w, (h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1, k, s, pad}, *j = &jj;
    if (j->k == 2 && j->s == 2 && j->pad == 0) {   /* YOLOv7's MP: every window inside */
        for (int64_t oy = 0; oy < j->oh; oy++) {
            const int8_t *a = x + 2 * oy * j->w, *b = a + j->w;
            int8_t *d = y + oy * j->ow;
            int64_t ox = 0;
#if defined(__SSE2__)
            for (; ox + 16 <= j->ow; ox += 16) {   /* reads a[2ox … 2ox + 31] < w */
                __m128i a0 = _mm_loadu_si128((const __m128i *)(a + 2 * ox));
                __m128i a1 = _mm_loadu_si128((const __m128i *)(a + 2 * ox + 16));
                __m128i b0 = _mm_loadu_si128((const __m128i *)(b + 2 * ox));
                __m128i b1 = _mm_loadu_si128((const __m128i *)(b + 2 * ox + 16));
                __m128i m0 = _mm_max_epi16(pair_max16(a0), pair_max16(b0));
                __m128i m1 = _mm_max_epi16(pair_max16(a1), pair_max16(b1));
                _mm_storeu_si128((__m128i *)(d + ox), _mm_packs_epi16(m0, m1));
            }
#endif
            for (; ox < j->ow; ox++) {
                int8_t m0 = a[2 * ox] > a[2 * ox + 1] ? a[2 * ox] : a[2 * ox + 1];
                int8_t m1 = b[2 * ox] > b[2 * ox + 1] ? b[2 * ox] : b[2 * ox + 1];
                d[ox] = m0 > m1 ? m0 : m1;
            }
        }
        return;
    }
#if defined(__SSE2__)
    if (j->s == 1) {   /* SPP's pools: every row through a padded copy, 16 windows at once */
        const int64_t ow16 = (j->ow + 15) / 16 * 16;
        uint8_t *pr = (uint8_t *)r + j->h * ow16;   /* biased x ^ 0x80; pads 0 (= −128) */
        memset(pr, 0, (size_t)(ow16 + j->k + 15));
        for (int64_t iy = 0; iy < j->h; iy++) {
            const int8_t *xr = x + iy * j->w;
            int64_t ix = 0;
            for (; ix + 16 <= j->w; ix += 16)
                st_biased((int8_t *)pr + j->pad + ix, _mm_loadu_si128((const __m128i *)(xr + ix)));
            for (; ix < j->w; ix++)
                pr[j->pad + ix] = (uint8_t)xr[ix] ^ 0x80u;
            for (int64_t ox = 0; ox < ow16; ox += 16)   /* stays biased */
                _mm_storeu_si128((__m128i *)(r + iy * ow16 + ox), max_run_u8(pr + ox, 1, j->k));
        }
        for (int64_t oy = 0; oy < j->oh; oy++) {
            int64_t y0 = oy - j->pad, y1 = y0 + j->k;
            y0 = y0 < 0 ? 0 : y0;
            y1 = y1 > j->h ? j->h : y1;
            for (int64_t ox = 0; ox < j->ow; ox += 16) {
                __m128i m = max_run_u8((const uint8_t *)r + y0 * ow16 + ox, ow16, (int)(y1 - y0));
                m = _mm_xor_si128(m, _mm_set1_epi8((char)0x80));
                if (ox + 16 <= j->ow) {
                    _mm_storeu_si128((__m128i *)(y + oy * j->ow + ox), m);
                } else {
                    int8_t last[16];
                    _mm_storeu_si128((__m128i *)last, m);
                    memcpy(y + oy * j->ow + ox, last, (size_t)(j->ow - ox));
                }
            }
        }
        return;
    }
#endif
    for (int64_t iy = 0; iy < j->h; iy++) {
        const int8_t *xr = x + iy * j->w;
        int8_t *rr = r + iy * j->ow;
        for (int64_t ox = 0; ox < j->ow; ox++)
            rr[ox] = window_max(xr, j->w, ox * j->s - j->pad, j->k);
    }
    for (int64_t oy = 0; oy < j->oh; oy++) {
        int64_t y0 = oy * j->s - j->pad, y1 = y0 + j->k;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > j->h ? j->h : y1;
        int64_t ox = 0;
#if defined(__SSE2__)
        for (; ox + 16 <= j->ow; ox += 16) {
            __m128i m = _mm_setzero_si128();   /* biased −128 */
            for (int64_t iy = y0; iy < y1; iy++)
                m = _mm_max_epu8(m, ld_biased(r + iy * j->ow + ox));
            st_biased(y + oy * j->ow + ox, m);
        }
#endif
        for (; ox < j->ow; ox++) {
            int8_t m = -128;
            for (int64_t iy = y0; iy < y1; iy++)
                m = r[iy * j->ow + ox] > m ? r[iy * j->ow + ox] : m;
            y[oy * j->ow + ox] = m;
        }
    }
}

int64_t ypr__i8_maxpool_tmp_bytes(int64_t h, int64_t w, int k, int s, int pad)
{
    int64_t ow = (w + 2 * pad - k) / s + 1, ow16 = (ow + 15) / 16 * 16;
    return h * ow16 + ow16 + k + 15;
}

static void maxpool_task(void *ctx, int64_t task, int worker)
{
    const pool_job *j = ctx;
    const int64_t t1 = (task + 1) * j->per < j->planes ? (task + 1) * j->per : j->planes;
    for (int64_t t = task * j->per; t < t1; t++)
        ypr__i8_maxpool_plane(j->x + t * j->h * j->w, j->h, j->w, j->k, j->s, j->pad,
                              j->tmp + (int64_t)worker * j->tmp_bytes, j->y + t * j->oh * j->ow);
}

static int maxpool_i8(ypr_plan_i8 *p, const ypr_node *nd, const ypr_shape *in, const ypr_shape *o,
                      const int8_t *x, int8_t *y)
{
    int workers = ypr__pool_size(p->pool);
    pool_job j = {x, y, in->h, in->w, o->h, o->w, nd->kh, nd->sh, nd->ph, NULL,
                  ypr__i8_maxpool_tmp_bytes(in->h, in->w, nd->kh, nd->sh, nd->ph),
                  p->n * in->c, 1};
    j.tmp = ypr__alloc((size_t)(workers * j.tmp_bytes));
    RETURN_IF(!j.tmp, YPR_ENOMEM, "int8 plan: out of memory");
    /* runs of planes per task (about 32 K values each, two tasks per worker at
     * least), as the float max-pool (lib/kernels/layers.c) */
    int64_t hw = in->h * in->w, spread = (j.planes + 2 * workers - 1) / (2 * workers);
    j.per = hw >= 32768 ? 1 : (32768 + hw - 1) / hw;
    j.per = j.per < spread ? j.per : spread > 0 ? spread : 1;
    ypr__pool_run(p->pool, (j.planes + j.per - 1) / j.per, maxpool_task, &j);
    ypr__free(j.tmp);
    return YPR_OK;
}

typedef struct up_job {
    const int8_t *x;
    int8_t *y;
    int64_t planes, h, w, per;
} up_job;

static void upsample_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const up_job *j = ctx;
    const int64_t h = j->h, w = j->w;
    const int64_t p1 = (task + 1) * j->per < j->planes ? (task + 1) * j->per : j->planes;
    for (int64_t pl = task * j->per; pl < p1; pl++)
        for (int64_t i = 0; i < h; i++) {
            const int8_t *r = j->x + (pl * h + i) * w;
            int8_t *d = j->y + (pl * 2 * h + 2 * i) * 2 * w;
            for (int64_t k = 0; k < w; k++)
                d[2 * k] = d[2 * k + 1] = r[k];
            memcpy(d + 2 * w, d, (size_t)(2 * w));
        }
}

/* Nearest ×2 over the pool, in runs of planes (about 64 K output bytes per
 * task, two tasks per worker at least). */
static void upsample_i8(ypr_pool *pool, const int8_t *x, int64_t planes, int64_t h, int64_t w,
                        int8_t *y)
{
    const int64_t workers = ypr__pool_size(pool), out = 4 * h * w;
    const int64_t spread = (planes + 2 * workers - 1) / (2 * workers);
    up_job j = {x, y, planes, h, w, out >= 65536 ? 1 : (65536 + out - 1) / out};
    j.per = j.per < spread ? j.per : spread > 0 ? spread : 1;
    ypr__pool_run(pool, (planes + j.per - 1) / j.per, upsample_task, &j);
}

static void reorg_any(const uint8_t *x, int64_t planes, int64_t h, int64_t w, int64_t c,
                      size_t es, uint8_t *y)
{
    static const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
    int64_t oh = h / 2, ow = w / 2;
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t b = pl / c, ch = pl % c;
        for (int q = 0; q < 4; q++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t k = 0; k < ow; k++)
                    memcpy(y + ((((b * 4 + q) * c + ch) * oh + i) * ow + k) * es,
                           x + ((pl * h + 2 * i + dy[q]) * w + 2 * k + dx[q]) * es, es);
    }
}

static int run_add(ypr_plan_i8 *p, const i8step *st, const ypr_node *nd)
{
    int64_t total = numel(p, st->node);
    float *y = float_out(p, st->node);
    for (int j = 0; j < nd->ninputs; j++) {
        const vinfo *vi = &p->v[nd->inputs[j]];
        const void *x = val(p, nd->inputs[j]);
        if (vi->i8) {
            const int8_t *q = x;
            const float s = vi->scale;
            if (j == 0)
                for (int64_t i = 0; i < total; i++)
                    y[i] = (float)q[i] * s;
            else
                for (int64_t i = 0; i < total; i++)
                    y[i] += (float)q[i] * s;
        } else {
            const float *f = x;
            if (j == 0)
                memcpy(y, f, (size_t)total * sizeof(float));
            else
                for (int64_t i = 0; i < total; i++)
                    y[i] += f[i];
        }
    }
    if (st->act != YPR_ACT_IDENTITY)
        for (int64_t i = 0; i < total; i++)
            y[i] = ypr__act_ref(y[i], st->act, st->alpha);
    finish_float(p, st->node);
    return YPR_OK;
}

/* A concat's inputs, copied over the pool: task t takes chunk t % chunks
 * of input t / chunks (all images), CONCAT_CHUNK values at most. The
 * inputs' data was mostly written by both workers' convs; one thread
 * copying all of it ran slower on two threads than on one. */
enum { CONCAT_CHUNK = 32768 };

typedef struct concat_job {
    const ypr_plan_i8 *p;
    const ypr_node *nd;
    int node;
    int64_t chunks, hw;
    int64_t *off;                 /* first output channel of each input */
    int8_t (*lut)[256];           /* each int8 input's requantization table */
} concat_job;

static void concat_task(void *ctx, int64_t t, int worker)
{
    (void)worker;
    const concat_job *cj = ctx;
    const ypr_plan_i8 *p = cj->p;
    const int j = (int)(t / cj->chunks), in = cj->nd->inputs[j];
    const ypr_shape *o = &p->shapes[cj->node];
    const vinfo *vo = &p->v[cj->node], *vi = &p->v[in];
    const int64_t per = p->shapes[in].c * cj->hw;
    const int64_t i0 = t % cj->chunks * CONCAT_CHUNK;
    const int64_t i1 = i0 + CONCAT_CHUNK < per ? i0 + CONCAT_CHUNK : per;
    if (i0 >= i1)
        return;
    const size_t es = vo->i8 ? 1 : sizeof(float), xs = vi->i8 ? 1 : sizeof(float);
    const int same = vo->i8 && vi->i8 && vi->scale == vo->scale && vi->q.qmin >= vo->q.qmin &&
                     vi->q.qmax <= vo->q.qmax;
    uint8_t *y = val(p, cj->node);
    const uint8_t *x = val(p, in);
    if (vi->in_concat == cj->node + 1)   /* written in place by its producer */
        return;
    for (int64_t b = 0; b < p->n; b++) {
        uint8_t *d = y + ((b * o->c + cj->off[j]) * cj->hw + i0) * es;
        const uint8_t *src = x + (b * per + i0) * xs;
        const int64_t cnt = i1 - i0;
        if (same || (!vo->i8 && !vi->i8)) {
            memcpy(d, src, (size_t)cnt * es);
        } else if (vo->i8 && vi->i8) {   /* a copy, then the table in place (ypr_i8kt.lut) */
            memcpy(d, src, (size_t)cnt);
            p->kt->lut((int8_t *)d, cnt, cj->lut[j]);
        } else if (vo->i8) {
            quantize((const float *)src, cnt, &vo->q, (int8_t *)d);
        } else {
            dequantize((const int8_t *)src, cnt, vi->scale, (float *)d);
        }
    }
}

static int run_concat(ypr_plan_i8 *p, const i8step *st, const ypr_node *nd)
{
    const ypr_shape *o = &p->shapes[st->node];
    const vinfo *vo = &p->v[st->node];
    concat_job cj;
    cj.off = ypr__alloc((size_t)nd->ninputs * sizeof *cj.off);
    cj.lut = ypr__alloc((size_t)nd->ninputs * sizeof *cj.lut);
    if (!cj.off || !cj.lut) {
        ypr__free(cj.off);
        ypr__free(cj.lut);
        return ypr__error(YPR_ENOMEM, "int8 plan: out of memory (concat %s)", nd->name);
    }
    cj.p = p;
    cj.nd = nd;
    cj.node = st->node;
    cj.hw = o->h * o->w;
    int64_t off = 0, most = 0;
    for (int j = 0; j < nd->ninputs; j++) {
        const vinfo *vi = &p->v[nd->inputs[j]];
        cj.off[j] = off;
        off += p->shapes[nd->inputs[j]].c;
        if (p->shapes[nd->inputs[j]].c * cj.hw > most)
            most = p->shapes[nd->inputs[j]].c * cj.hw;
        if (vo->i8 && vi->i8)
            /* requantize: the float value q·s, then the concat's step — one
             * table entry per int8 value, computed by those very operations */
            for (int v = -128; v < 128; v++)   /* indexed by the byte: (uint8_t)v */
                cj.lut[j][(uint8_t)(int8_t)v] = quant1((float)v * vi->scale, &vo->q);
    }
    cj.chunks = (most + CONCAT_CHUNK - 1) / CONCAT_CHUNK;
    ypr__pool_run(p->pool, nd->ninputs * cj.chunks, concat_task, &cj);
    ypr__free(cj.off);
    ypr__free(cj.lut);
    return YPR_OK;
}

static int run_step(ypr_plan_i8 *p, const i8step *st)
{
    const ypr_node *nd = &p->net->nodes[st->in_node];
    int src = nd->inputs[0];
    const ypr_shape *in = &p->shapes[src], *o = &p->shapes[st->node];
    int i8in = p->v[src].i8;
    int64_t cur = 0;
    switch (st->kind) {
    case S_CONV_I8:
        if (st->wino)
            return ypr__i8_wino_conv2d(p->kt, p->pool, &st->cs, val(p, src), 0, st->wino,
                                       st->packed,
                                       &st->rq, val(p, st->node), p->scratch);
        return ypr__i8_conv2d(p->kt, p->pool, &st->cs, val(p, src), st->packed, &st->rq,
                              val(p, st->own ? st->ynode : st->node), p->scratch);
    case S_CONV_F32: {
        ypr_epilogue ep = {NULL, st->b, st->act, st->alpha};
        TRY(ypr__conv2d_ws(p->fkt, p->pool, &st->cs, as_float(p, src, &cur), st->packed, &ep,
                           float_out(p, st->node), p->fscratch));
        finish_float(p, st->node);
        return YPR_OK;
    }
    case S_ADD:
        return run_add(p, st, nd);
    case S_CONCAT:
        return run_concat(p, st, nd);
    case S_MAXPOOL:
        if (i8in)
            return maxpool_i8(p, nd, in, o, val(p, src), val(p, st->node));
        return ypr__maxpool2d(p->fkt, p->pool, p->n * in->c, in->h, in->w, nd->kh, nd->sh,
                              nd->ph, val(p, src), val(p, st->node));
    case S_UPSAMPLE:
        if (i8in) {
            upsample_i8(p->pool, val(p, src), p->n * in->c, in->h, in->w, val(p, st->node));
            return YPR_OK;
        }
        return ypr__upsample2x(p->fkt, p->pool, p->n * in->c, in->h, in->w, val(p, src),
                               val(p, st->node));
    case S_REORG:
        reorg_any(val(p, src), p->n * in->c, in->h, in->w, in->c, i8in ? 1 : sizeof(float),
                  val(p, st->node));
        return YPR_OK;
    case S_NONE:   /* computed by the step before (a sibling conv) */
        return YPR_OK;
    case S_ACT: {
        const float *x = as_float(p, src, &cur);
        float *y = float_out(p, st->node);
        for (int64_t i = 0, n = numel(p, st->node); i < n; i++)
            y[i] = ypr__act_ref(x[i], st->act, st->alpha);
        finish_float(p, st->node);
        return YPR_OK;
    }
    default:
        return ypr__error(YPR_EINTERNAL, "int8 plan: bad step");
    }
}

int ypr__plan_i8_run(ypr_plan_i8 *p, const float *x)
{
    RETURN_IF(!p || !x, YPR_EINVAL, "int8 plan: NULL argument");
    RETURN_IF(p->version != p->net->version, YPR_ESTATE,
              "int8 plan: the net changed since the plan was made");
    p->x = x;
    if (p->v[0].i8)
        quantize_pool(p->pool, x, numel(p, 0), &p->v[0].q, p->xq);
    /* per-step times, as exec.c logs them: after the pass, not between the steps */
    const char *prof = getenv("YPR_PROFILE");
    double *prof_ms = prof && *prof == '1' ? ypr__alloc((size_t)p->nsteps * sizeof(double))
                                           : NULL;
    for (int s = 0; s < p->nsteps; s++) {
        double t0 = prof_ms ? ypr__now() : 0;
        int rc = run_step(p, &p->steps[s]);
        if (rc < 0) {
            ypr__free(prof_ms);
            return rc;
        }
        if (prof_ms)
            prof_ms[s] = (ypr__now() - t0) * 1e3;
    }
    for (int s = 0; prof_ms && s < p->nsteps; s++) {
        const i8step *st = &p->steps[s];
        const ypr_shape *o = &p->shapes[st->node];
        static const char *const kinds[] = {"conv-i8", "conv-f32", "add", "concat",
                                            "maxpool", "upsample", "reorg", "act", ""};
        ypr__log(YPR_LOG_INFO, "i8 step %3d %-28s %4lldx%-4lldx%-4lld %8.3f ms %s%s%s%s", s,
                 p->net->nodes[st->in_node].name, (long long)o->c, (long long)o->h,
                 (long long)o->w, prof_ms[s], kinds[st->kind],
                 st->kind == S_CONV_I8 ? (st->rq.mode == YPR_I8RQ_SHIFT ? " shift" : " float")
                                       : "",
                 st->kind == S_CONV_I8 && st->wino ? (st->wino == 4 ? " wino4" : " wino2") : "",
                 st->kind == S_CONV_I8 && st->lut ? " lut" : "");
    }
    ypr__free(prof_ms);
    if (p->detect >= 0) {
        const ypr_node *d = &p->net->nodes[p->detect];
        for (int l = 0; l < d->ninputs; l++)
            if (p->outs[l])
                dequantize(val(p, d->inputs[l]), numel(p, d->inputs[l]),
                           p->v[d->inputs[l]].scale, p->outs[l]);
    }
    return YPR_OK;
}

int ypr__plan_i8_num_outputs(const ypr_plan_i8 *p)
{
    return p->detect >= 0 ? p->net->nodes[p->detect].ninputs : 0;
}

const float *ypr__plan_i8_output(const ypr_plan_i8 *p, int level, ypr_shape *shape)
{
    if (p->detect < 0 || level < 0 || level >= p->net->nodes[p->detect].ninputs)
        return NULL;
    int node = p->net->nodes[p->detect].inputs[level];
    if (shape)
        *shape = p->shapes[node];
    return p->outs[level] ? p->outs[level] : val(p, node);
}

int ypr__plan_i8_matches(const ypr_plan_i8 *p, const ypr_net *net, int64_t n, int64_t h,
                         int64_t w)
{
    return p && p->net == net && p->version == net->version && p->n == n && p->h == h &&
           p->w == w && p->kt == ypr__i8kt() && p->fkt == ypr__kt();
}

size_t ypr__plan_i8_bytes(const ypr_plan_i8 *p)
{
    return p->arena_bytes + p->packs->bytes + p->own_bytes +
           (size_t)(p->tin_floats + p->tout_floats) * sizeof(float);
}

int64_t ypr__plan_i8_batch(const ypr_plan_i8 *p)
{
    return p->n;
}

const char *ypr__plan_i8_kernels(const ypr_plan_i8 *p)
{
    return p->kt->name;
}

size_t ypr__plan_i8_pack_bytes(const ypr_plan_i8 *p)
{
    return p->packs ? p->packs->bytes : 0;
}

int ypr__plan_i8_concat_in_place(const ypr_plan_i8 *p)
{
    int n = 0;
    for (int i = 0; i < p->net->nnodes; i++)
        n += p->v[i].in_concat != 0;
    return n;
}

int ypr__plan_i8_lut_convs(const ypr_plan_i8 *p)
{
    int n = 0;
    for (int s = 0; s < p->nsteps; s++)
        n += p->steps[s].kind == S_CONV_I8 && p->steps[s].lut;
    return n;
}

int ypr__plan_i8_wino_convs(const ypr_plan_i8 *p)
{
    int n = 0;
    for (int s = 0; s < p->nsteps; s++)
        n += p->steps[s].kind == S_CONV_I8 && p->steps[s].wino;
    return n;
}
