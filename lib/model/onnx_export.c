/* A float net as an ONNX model (opset 13, IR version 7), written with the
 * hand-written protobuf writer (lib/io/pb.c) and committed atomically.
 *
 * Every net node becomes the ONNX node(s) PyTorch's exporter writes for the
 * same module, with the net node's name as the ONNX node and output name and
 * every parameter as an initializer under its state_dict name:
 *   conv → Conv (kernel_shape, strides, pads, dilations, group);
 *   BatchNorm → BatchNormalization (momentum as ONNX counts it: 1 − ours);
 *   SiLU → Sigmoid + Mul, hard-swish → HardSigmoid(1/6, 1/2) + Mul (opset 13
 *   has no HardSwish), ReLU, LeakyRelu, Sigmoid;
 *   concat → Concat(axis 1); add → Add (Sum for three inputs or more);
 *   implicit add/mul → Add/Mul with the [1, C, 1, 1] vector;
 *   max-pool → MaxPool; nearest upsample → Resize (asymmetric, floor);
 *   reorg → four strided Slice + Concat;
 *   detect → per level Reshape [-1, na, no, H, W] + Transpose [0, 1, 3, 4, 2]:
 *   the raw head of YOLOv7's Detect/IDetect in training mode (logits).
 * The graph input "images" is [batch, 3, S, S] for the model's input size S
 * (the Reshape constants hold each level's H and W at that size); outputs
 * "output0".. in level order. Class names, anchors (pixels), strides, input
 * size and layout go in metadata_props.
 *
 * A quantized net (nodes carrying fake-quantization steps, docs/quant.md)
 * is written in ONNX's QDQ form: every quantized value (a node's aq) is
 * followed by QuantizeLinear + DequantizeLinear, the values read by
 * max-pool, upsample and reorg keep their source's step (a QDQ pair that is
 * an identity on values already on the grid, so runtimes can stay in INT8),
 * a quantized conv weight is an INT8 initializer (per tensor, or per output
 * channel with axis 0) read through DequantizeLinear, and its bias an INT32
 * initializer at step s_w·s_x where every value is exactly on that grid
 * (otherwise the float bias). ONNX cannot say everything a step says (a
 * narrow range [−127, 127], rounding other than half to even): the exact
 * steps go in the "quantization" metadata, which our import restores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

#define OPSET 13
#define IR_VERSION 7

typedef struct xctx {
    const ypr_model *m;
    const ypr_net *net;
    ypr_pbw nodes;        /* NodeProto fields of the graph, in order */
    ypr_pbw inits;        /* TensorProto fields of the graph */
    char **vname;         /* net node → ONNX value name */
    ypr_shape *shapes;
    int nconst;           /* generated constants */
    const char *path;
    int quant;            /* the net carries quantization steps */
    ypr_strbuf qa, qw, qb;   /* "quantization" metadata: value → aq, conv → wq, bq */
} xctx;

/* ---------------------------------------------------------------- writing */

static void attr_int(ypr_pbw *n, const char *name, int64_t v)
{
    ypr_pbw a;
    ypr__pbw_init(&a);
    ypr__pbw_str(&a, 1, name);
    ypr__pbw_varint(&a, 20, YPR_ONNX_ATTR_INT);
    ypr__pbw_varint(&a, 3, (uint64_t)v);
    ypr__pbw_msg(n, 5, &a);
    ypr__pbw_free(&a);
}

static void attr_float(ypr_pbw *n, const char *name, float v)
{
    ypr_pbw a;
    ypr__pbw_init(&a);
    ypr__pbw_str(&a, 1, name);
    ypr__pbw_varint(&a, 20, YPR_ONNX_ATTR_FLOAT);
    ypr__pbw_float(&a, 2, v);
    ypr__pbw_msg(n, 5, &a);
    ypr__pbw_free(&a);
}

static void attr_str(ypr_pbw *n, const char *name, const char *v)
{
    ypr_pbw a;
    ypr__pbw_init(&a);
    ypr__pbw_str(&a, 1, name);
    ypr__pbw_varint(&a, 20, YPR_ONNX_ATTR_STRING);
    ypr__pbw_str(&a, 4, v);
    ypr__pbw_msg(n, 5, &a);
    ypr__pbw_free(&a);
}

static void attr_ints(ypr_pbw *n, const char *name, const int64_t *v, size_t k)
{
    ypr_pbw a;
    ypr__pbw_init(&a);
    ypr__pbw_str(&a, 1, name);
    ypr__pbw_varint(&a, 20, YPR_ONNX_ATTR_INTS);
    for (size_t i = 0; i < k; i++)   /* proto2 repeated int64: one field per value */
        ypr__pbw_varint(&a, 8, (uint64_t)v[i]);
    ypr__pbw_msg(n, 5, &a);
    ypr__pbw_free(&a);
}

/* Start a NodeProto: inputs, outputs, name, op type. Attributes follow with
 * attr_*, then end_node() appends it to the graph. */
static void begin_node(ypr_pbw *n, const char *op, const char *name, const char *const *in,
                       int nin, const char *out)
{
    ypr__pbw_init(n);
    for (int i = 0; i < nin; i++)
        ypr__pbw_str(n, 1, in[i]);
    ypr__pbw_str(n, 2, out);
    ypr__pbw_str(n, 3, name);
    ypr__pbw_str(n, 4, op);
}

static void end_node(xctx *x, ypr_pbw *n)
{
    ypr__pbw_msg(&x->nodes, 1, n);
    ypr__pbw_free(n);
}

static void simple_node(xctx *x, const char *op, const char *name, const char *const *in,
                        int nin, const char *out)
{
    ypr_pbw n;
    begin_node(&n, op, name, in, nin, out);
    end_node(x, &n);
}

/* An initializer: dims, data type, name, raw little-endian data. */
static void initializer(xctx *x, const char *name, int dtype, int ndim, const int64_t *dims,
                        const void *data, size_t nbytes)
{
    ypr_pbw t;
    ypr__pbw_init(&t);
    for (int i = 0; i < ndim; i++)
        ypr__pbw_varint(&t, 1, (uint64_t)dims[i]);
    ypr__pbw_varint(&t, 2, (uint64_t)dtype);
    ypr__pbw_str(&t, 8, name);
    ypr__pbw_bytes(&t, 9, data, nbytes);
    ypr__pbw_msg(&x->inits, 5, &t);
    ypr__pbw_free(&t);
}

/* A generated constant initializer; its name goes to buf. */
static void const_i64(xctx *x, const char *base, const int64_t *v, int n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/const%d", base, x->nconst++);
    int64_t dims[1] = {n};
    initializer(x, buf, YPR_ONNX_INT64, 1, dims, v, (size_t)n * sizeof *v);
}

static void param_init(xctx *x, int pi)
{
    const ypr_param *p = &x->net->params[pi];
    initializer(x, p->name, YPR_ONNX_FLOAT, p->ndim, p->shape, p->data,
                (size_t)p->numel * sizeof(float));
}

/* ------------------------------------------------------------ QDQ (INT8) */

static int net_quantized(const ypr_net *net)
{
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->aq.scale > 0 || nd->wq.scale > 0 || nd->bq.scale > 0)
            return 1;
    }
    return 0;
}

static int passthrough(int kind)
{
    return kind == YPR_NODE_MAXPOOL || kind == YPR_NODE_UPSAMPLE || kind == YPR_NODE_REORG;
}

/* The node whose step a value carries: through pools, upsamples, reorgs. */
static int quantized_source(const ypr_net *net, int i)
{
    while (passthrough(net->nodes[i].kind))
        i = net->nodes[i].inputs[0];
    return i;
}

/* The ONNX integer type holding a step's range: INT8, UINT8, or 0. */
static int q_dtype(const ypr_qparam *q)
{
    if (q->qmin >= -128 && q->qmax <= 127)
        return YPR_ONNX_INT8;
    if (q->qmin >= 0 && q->qmax <= 255)
        return YPR_ONNX_UINT8;
    return 0;
}

/* One entry of the "quantization" metadata: key → [scale, zero, qmin, qmax,
 * round, per_channel], as checkpoints write a step. */
static void q_meta(ypr_strbuf *sb, const char *key, const ypr_qparam *q)
{
    ypr__sb_puts(sb, sb->len ? "," : "");
    ypr__sb_json_str(sb, key);
    ypr__sb_puts(sb, ":[");
    ypr__sb_json_double(sb, q->scale);
    ypr__sb_printf(sb, ",%d,%d,%d,%d,%d]", (int)q->zero, (int)q->qmin, (int)q->qmax, q->round,
                   q->per_channel);
}

/* Initializers <base>_scale (float) and <base>_zero_point (dtype): n values
 * ([n]), or scalars when n is 0. */
static int qparam_inits(xctx *x, const char *base, int dtype, const float *scale,
                        const int32_t *zero, int64_t n, char *sname, char *zname, size_t cap)
{
    int64_t cnt = n ? n : 1, dims[1] = {n};
    size_t es = ypr__onnx_dtype_size(dtype);
    uint8_t *z = malloc((size_t)cnt * es);
    RETURN_IF(!z, YPR_ENOMEM, "%s: out of memory", x->path);
    for (int64_t k = 0; k < cnt; k++) {
        if (dtype == YPR_ONNX_INT32)
            memcpy(z + 4 * k, &zero[k], 4);
        else
            z[k] = (uint8_t)(dtype == YPR_ONNX_INT8 ? (uint8_t)(int8_t)zero[k] : zero[k]);
    }
    snprintf(sname, cap, "%s_scale", base);
    snprintf(zname, cap, "%s_zero_point", base);
    initializer(x, sname, YPR_ONNX_FLOAT, n ? 1 : 0, dims, scale, (size_t)cnt * sizeof(float));
    initializer(x, zname, dtype, n ? 1 : 0, dims, z, (size_t)cnt * es);
    free(z);
    return YPR_OK;
}

/* QuantizeLinear + DequantizeLinear after node i's value, which its readers
 * then read (x->vname[i] becomes the dequantized value). */
static int emit_qdq(xctx *x, int i, const ypr_qparam *q, int meta)
{
    const char *v = x->vname[i];
    int dt = q_dtype(q);
    RETURN_IF(!dt, YPR_EUNSUPPORTED, "%s: node %s: activation range [%d, %d] fits neither INT8 "
              "nor UINT8", x->path, x->net->nodes[i].name, (int)q->qmin, (int)q->qmax);
    enum { CAP = 2 * YPR_NAME_MAX + 48 };
    char sname[CAP], zname[CAP], qname[CAP], dname[CAP], nq[CAP], nd[CAP];
    float s = q->scale;
    int32_t z = q->zero;
    TRY(qparam_inits(x, v, dt, &s, &z, 0, sname, zname, CAP));
    snprintf(qname, CAP, "%s_quantized", v);
    snprintf(dname, CAP, "%s_dequantized", v);
    snprintf(nq, CAP, "%s/QuantizeLinear", v);
    snprintf(nd, CAP, "%s/DequantizeLinear", v);
    const char *qin[3] = {v, sname, zname}, *din[3] = {qname, sname, zname};
    simple_node(x, "QuantizeLinear", nq, qin, 3, qname);
    simple_node(x, "DequantizeLinear", nd, din, 3, dname);
    if (meta)
        q_meta(&x->qa, v, q);
    char *dup = strdup(dname);
    RETURN_IF(!dup, YPR_ENOMEM, "%s: out of memory", x->path);
    free(x->vname[i]);
    x->vname[i] = dup;
    return YPR_OK;
}

/* Is every value of w on the grid of step s (integers q in [lo, hi] with
 * fl((q − z)·s) = w, as DequantizeLinear computes)? Fills q when so. */
static int on_grid(const float *w, int64_t n, float s, int32_t z, int32_t lo, int32_t hi,
                   int32_t *q)
{
    for (int64_t k = 0; k < n; k++) {
        double r = rint((double)w[k] / s);
        if (!(r + z >= lo && r + z <= hi))
            return 0;
        float back = (float)(int32_t)r * s;
        if (back != w[k])
            return 0;
        q[k] = (int32_t)r + z;
    }
    return 1;
}

/* Steps s[c] (one per row of w [rows, per]) near `base` (base[c]) on whose
 * grid each row lies exactly: the step itself or a float a few ulps away
 * (a per-channel step recomputed from the stored weights may be off by
 * one). Returns 1 and fills s and q, or 0. */
static int find_grid(const float *w, int64_t rows, int64_t per, const float *base, int32_t z,
                     int32_t lo, int32_t hi, float *s, int32_t *q)
{
    for (int64_t c = 0; c < rows; c++) {
        float cand = base[c];
        int ok = 0;
        for (int t = 0; t < 5 && !ok; t++) {
            cand = t == 0 ? base[c] : t == 1 ? nextafterf(base[c], INFINITY)
                   : t == 2 ? nextafterf(base[c], 0.0f)
                   : t == 3 ? nextafterf(nextafterf(base[c], INFINITY), INFINITY)
                            : nextafterf(nextafterf(base[c], 0.0f), 0.0f);
            ok = cand > 0 && isfinite(cand) && on_grid(w + c * per, per, cand, z, lo, hi,
                                                       q + c * per);
        }
        if (!ok)
            return 0;
        s[c] = cand;
    }
    return 1;
}

/* A DequantizeLinear node from initializer <name>_quantized (dtype, shape
 * of p, values q) with per-row or scalar steps to the value `name`. */
static int emit_dq_param(xctx *x, const ypr_param *p, int dtype, const int32_t *q,
                         const float *s, const int32_t *zero, int64_t ns, const char *node)
{
    enum { CAP = 2 * YPR_NAME_MAX + 48 };
    char qname[CAP], sname[CAP], zname[CAP], nname[CAP];
    size_t es = ypr__onnx_dtype_size(dtype);
    uint8_t *data = malloc((size_t)p->numel * es);
    RETURN_IF(!data, YPR_ENOMEM, "%s: out of memory", x->path);
    for (int64_t k = 0; k < p->numel; k++) {
        if (es == 4)
            memcpy(data + 4 * k, &q[k], 4);
        else
            data[k] = dtype == YPR_ONNX_INT8 ? (uint8_t)(int8_t)q[k] : (uint8_t)q[k];
    }
    snprintf(qname, CAP, "%s_quantized", p->name);
    initializer(x, qname, dtype, p->ndim, p->shape, data, (size_t)p->numel * es);
    free(data);
    TRY(qparam_inits(x, p->name, dtype, s, zero, ns, sname, zname, CAP));
    snprintf(nname, CAP, "%s/%s/DequantizeLinear", node, p->ndim == 1 ? "bias" : "weight");
    const char *in[3] = {qname, sname, zname};
    ypr_pbw n;
    begin_node(&n, "DequantizeLinear", nname, in, 3, p->name);
    if (ns)
        attr_int(&n, "axis", 0);
    end_node(x, &n);
    return YPR_OK;
}

/* Conv i's quantized weight (and bias) as DequantizeLinear of integer
 * initializers. *wdone / *bdone say what was written; what was not is
 * written as a float initializer by the caller. */
static int emit_conv_qdq(xctx *x, int i, int *wdone, int *bdone)
{
    const ypr_net *net = x->net;
    const ypr_node *nd = &net->nodes[i];
    const ypr_param *w = &net->params[nd->p[0]];
    const ypr_param *b = nd->p[1] >= 0 ? &net->params[nd->p[1]] : NULL;
    int64_t oc = w->shape[0], per = w->numel / oc, ns = nd->wq.per_channel ? oc : 0;
    int dt = q_dtype(&nd->wq);
    *wdone = *bdone = 0;
    if (!dt)
        return YPR_OK;
    int32_t lo = dt == YPR_ONNX_INT8 ? -128 : 0, hi = dt == YPR_ONNX_INT8 ? 127 : 255;
    int32_t *q = malloc((size_t)(w->numel > oc ? w->numel : oc) * sizeof *q);
    int32_t *zero = calloc((size_t)oc, sizeof *zero);
    float *s = malloc((size_t)oc * sizeof *s), *base = malloc((size_t)oc * sizeof *base);
    float *bs = malloc((size_t)oc * sizeof *bs);
    int rc = q && zero && s && base && bs ? YPR_OK : ypr__error(YPR_ENOMEM, "%s: out of memory",
                                                                 x->path);
    int ok = 0;
    if (rc == YPR_OK) {
        for (int64_t c = 0; c < oc; c++) {
            zero[c] = nd->wq.zero;
            double amax = 0;
            for (int64_t k = 0; ns && k < per; k++) {
                /* not fmax: aarch64 gcc 12 crashes vectorizing that reduction (an
                 * internal compiler error in vect_transform_reduction) */
                double a = fabs((double)w->data[c * per + k]);
                if (a > amax)
                    amax = a;
            }
            int m = nd->wq.qmax - nd->wq.zero;
            base[c] = ns && amax > 0 && m > 0 ? (float)(amax / m) : nd->wq.scale;
        }
        ok = ns ? find_grid(w->data, oc, per, base, nd->wq.zero, lo, hi, s, q)
                : find_grid(w->data, 1, w->numel, base, nd->wq.zero, lo, hi, s, q);
        if (!ok)
            ypr__log(YPR_LOG_WARN, "%s: conv %s: the weights are not on the grid of their step "
                     "%g: written as float", x->path, nd->name, (double)nd->wq.scale);
    }
    if (rc == YPR_OK && ok) {
        rc = emit_dq_param(x, w, dt, q, s, zero, ns, nd->name);
        *wdone = rc == YPR_OK;
    }
    /* the bias: INT32 at s_w·s_x when every value is on that grid */
    const ypr_node *src = &net->nodes[quantized_source(net, nd->inputs[0])];
    if (rc == YPR_OK && ok && b && src->aq.scale > 0 && src->aq.zero == 0) {
        int exact = 1;
        for (int64_t c = 0; exact && c < oc; c++) {
            float sc = (ns ? s[c] : s[0]) * src->aq.scale;
            double r = rint((double)b->data[c] / sc);
            exact = sc > 0 && isfinite(sc) && fabs(r) <= INT32_MAX &&
                    (float)(int32_t)r * sc == b->data[c];
            bs[c] = sc;
            q[c] = exact ? (int32_t)r : 0;
        }
        memset(zero, 0, (size_t)oc * sizeof *zero);
        if (exact) {
            rc = emit_dq_param(x, b, YPR_ONNX_INT32, q, bs, zero, ns, nd->name);
            *bdone = rc == YPR_OK;
        }
    }
    free(q);
    free(zero);
    free(s);
    free(base);
    free(bs);
    return rc;
}

/* --------------------------------------------------------------- the nodes */

static void emit_act(xctx *x, const char *in, const char *out, int act, float alpha,
                     const char *name)
{
    char mid[2 * YPR_NAME_MAX + 16];
    const char *ins[2] = {in, mid};
    ypr_pbw n;
    switch (act) {
    case YPR_ACT_RELU: simple_node(x, "Relu", name, &in, 1, out); break;
    case YPR_ACT_SIGMOID: simple_node(x, "Sigmoid", name, &in, 1, out); break;
    case YPR_ACT_LEAKY:
        begin_node(&n, "LeakyRelu", name, &in, 1, out);
        attr_float(&n, "alpha", alpha);
        end_node(x, &n);
        break;
    case YPR_ACT_SILU:   /* x · σ(x), as PyTorch exports nn.SiLU at opset 13 */
        snprintf(mid, sizeof mid, "%s/Sigmoid", name);
        simple_node(x, "Sigmoid", mid, &in, 1, mid);
        simple_node(x, "Mul", name, ins, 2, out);
        break;
    case YPR_ACT_HARDSWISH:   /* x · clip(x/6 + 1/2, 0, 1) */
        snprintf(mid, sizeof mid, "%s/HardSigmoid", name);
        begin_node(&n, "HardSigmoid", mid, &in, 1, mid);
        attr_float(&n, "alpha", 1.0f / 6.0f);
        attr_float(&n, "beta", 0.5f);
        end_node(x, &n);
        simple_node(x, "Mul", name, ins, 2, out);
        break;
    default: simple_node(x, "Identity", name, &in, 1, out); break;
    }
}

static int emit_conv(xctx *x, int i, const char *out)
{
    const ypr_node *nd = &x->net->nodes[i];
    const char *in[3] = {x->vname[nd->inputs[0]], x->net->params[nd->p[0]].name,
                         nd->p[1] >= 0 ? x->net->params[nd->p[1]].name : ""};
    int wdone = 0, bdone = 0;
    if (x->quant && nd->wq.scale > 0)
        TRY(emit_conv_qdq(x, i, &wdone, &bdone));
    if (x->quant && nd->wq.scale > 0)
        q_meta(&x->qw, nd->name, &nd->wq);
    if (x->quant && nd->bq.scale > 0)
        q_meta(&x->qb, nd->name, &nd->bq);
    ypr_pbw n;
    begin_node(&n, "Conv", nd->name, in, nd->p[1] >= 0 ? 3 : 2, out);
    int64_t k[2] = {nd->kh, nd->kw}, s[2] = {nd->sh, nd->sw}, d[2] = {nd->dh, nd->dw};
    int64_t p[4] = {nd->ph, nd->pw, nd->ph, nd->pw};
    attr_ints(&n, "dilations", d, 2);
    attr_int(&n, "group", nd->groups);
    attr_ints(&n, "kernel_shape", k, 2);
    attr_ints(&n, "pads", p, 4);
    attr_ints(&n, "strides", s, 2);
    end_node(x, &n);
    if (!wdone)
        param_init(x, nd->p[0]);
    if (nd->p[1] >= 0 && !bdone)
        param_init(x, nd->p[1]);
    return YPR_OK;
}

static void emit_reorg(xctx *x, int i)
{
    const ypr_node *nd = &x->net->nodes[i];
    static const int off[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};   /* (h, w) starts */
    char names[4][2 * YPR_NAME_MAX], cs[4][2 * YPR_NAME_MAX + 32];
    const char *cat[4];
    int64_t ends[2] = {INT64_MAX, INT64_MAX}, axes[2] = {2, 3}, steps[2] = {2, 2};
    const_i64(x, nd->name, ends, 2, cs[1], sizeof cs[1]);
    const_i64(x, nd->name, axes, 2, cs[2], sizeof cs[2]);
    const_i64(x, nd->name, steps, 2, cs[3], sizeof cs[3]);
    for (int q = 0; q < 4; q++) {
        int64_t starts[2] = {off[q][0], off[q][1]};
        const_i64(x, nd->name, starts, 2, cs[0], sizeof cs[0]);
        snprintf(names[q], sizeof names[q], "%s/Slice%d", nd->name, q);
        const char *in[5] = {x->vname[nd->inputs[0]], cs[0], cs[1], cs[2], cs[3]};
        simple_node(x, "Slice", names[q], in, 5, names[q]);
        cat[q] = names[q];
    }
    ypr_pbw n;
    begin_node(&n, "Concat", nd->name, cat, 4, x->vname[i]);
    attr_int(&n, "axis", 1);
    end_node(x, &n);
}

static void emit_detect(xctx *x, int i)
{
    const ypr_node *nd = &x->net->nodes[i];
    int64_t no = nd->nc + 5;
    for (int l = 0; l < nd->nl; l++) {
        const ypr_shape *s = &x->shapes[nd->inputs[l]];
        int64_t shape[5] = {-1, nd->na, no, s->h, s->w}, perm[5] = {0, 1, 3, 4, 2};
        char cname[2 * YPR_NAME_MAX + 32], rname[2 * YPR_NAME_MAX], tname[2 * YPR_NAME_MAX],
            out[32];
        const_i64(x, nd->name, shape, 5, cname, sizeof cname);
        snprintf(rname, sizeof rname, "%s/Reshape%d", nd->name, l);
        snprintf(tname, sizeof tname, "%s/Transpose%d", nd->name, l);
        snprintf(out, sizeof out, "output%d", l);
        const char *in[2] = {x->vname[nd->inputs[l]], cname};
        simple_node(x, "Reshape", rname, in, 2, rname);
        ypr_pbw n;
        begin_node(&n, "Transpose", tname, (const char *const[]){rname}, 1, out);
        attr_ints(&n, "perm", perm, 5);
        end_node(x, &n);
    }
}

static int emit_node(xctx *x, int i)
{
    const ypr_net *net = x->net;
    const ypr_node *nd = &net->nodes[i];
    const char *out = x->vname[i];
    const char *in0 = nd->ninputs ? x->vname[nd->inputs[0]] : "";
    char tmp[2 * YPR_NAME_MAX + 16];
    ypr_pbw n;
    switch (nd->kind) {
    case YPR_NODE_INPUT:
        break;
    case YPR_NODE_CONV:
        if (nd->act != YPR_ACT_IDENTITY) {   /* an activation carried by the conv itself */
            snprintf(tmp, sizeof tmp, "%s/conv", nd->name);
            TRY(emit_conv(x, i, tmp));
            char an[2 * YPR_NAME_MAX + 16];
            snprintf(an, sizeof an, "%s/act", nd->name);
            emit_act(x, tmp, out, nd->act, nd->alpha, an);
        } else {
            TRY(emit_conv(x, i, out));
        }
        break;
    case YPR_NODE_BN: {
        const char *in[5] = {in0, net->params[nd->p[0]].name, net->params[nd->p[1]].name,
                             net->params[nd->p[2]].name, net->params[nd->p[3]].name};
        begin_node(&n, "BatchNormalization", nd->name, in, 5, out);
        attr_float(&n, "epsilon", nd->eps);
        attr_float(&n, "momentum", 1.0f - nd->momentum);
        end_node(x, &n);
        for (int s = 0; s < 4; s++)
            param_init(x, nd->p[s]);
        break;
    }
    case YPR_NODE_ACT:
        emit_act(x, in0, out, nd->act, nd->alpha, nd->name);
        break;
    case YPR_NODE_CONCAT: {
        const char **in = malloc((size_t)nd->ninputs * sizeof *in);
        RETURN_IF(!in, YPR_ENOMEM, "%s: out of memory", x->path);
        for (int j = 0; j < nd->ninputs; j++)
            in[j] = x->vname[nd->inputs[j]];
        begin_node(&n, "Concat", nd->name, in, nd->ninputs, out);
        attr_int(&n, "axis", 1);
        end_node(x, &n);
        free(in);
        break;
    }
    case YPR_NODE_ADD: {
        const char **in = malloc((size_t)nd->ninputs * sizeof *in);
        RETURN_IF(!in, YPR_ENOMEM, "%s: out of memory", x->path);
        for (int j = 0; j < nd->ninputs; j++)
            in[j] = x->vname[nd->inputs[j]];
        simple_node(x, nd->ninputs == 2 ? "Add" : "Sum", nd->name, in, nd->ninputs, out);
        free(in);
        break;
    }
    case YPR_NODE_IMPLICIT_ADD:
    case YPR_NODE_IMPLICIT_MUL: {
        const char *in[2] = {in0, net->params[nd->p[0]].name};
        simple_node(x, nd->kind == YPR_NODE_IMPLICIT_ADD ? "Add" : "Mul", nd->name, in, 2, out);
        param_init(x, nd->p[0]);
        break;
    }
    case YPR_NODE_MAXPOOL: {
        begin_node(&n, "MaxPool", nd->name, &in0, 1, out);
        int64_t k[2] = {nd->kh, nd->kw}, s[2] = {nd->sh, nd->sw};
        int64_t p[4] = {nd->ph, nd->pw, nd->ph, nd->pw};
        attr_ints(&n, "kernel_shape", k, 2);
        attr_ints(&n, "pads", p, 4);
        attr_ints(&n, "strides", s, 2);
        end_node(x, &n);
        break;
    }
    case YPR_NODE_UPSAMPLE: {
        char sc[2 * YPR_NAME_MAX + 32];
        float scales[4] = {1.0f, 1.0f, (float)nd->scale, (float)nd->scale};
        int64_t dims[1] = {4};
        snprintf(sc, sizeof sc, "%s/const%d", nd->name, x->nconst++);
        initializer(x, sc, YPR_ONNX_FLOAT, 1, dims, scales, sizeof scales);
        const char *in[3] = {in0, "", sc};
        begin_node(&n, "Resize", nd->name, in, 3, out);
        attr_str(&n, "coordinate_transformation_mode", "asymmetric");
        attr_str(&n, "mode", "nearest");
        attr_str(&n, "nearest_mode", "floor");
        end_node(x, &n);
        break;
    }
    case YPR_NODE_REORG:
        emit_reorg(x, i);
        break;
    case YPR_NODE_DETECT:
        emit_detect(x, i);   /* anchors and strides travel in the metadata */
        break;
    default:
        return ypr__error(YPR_EUNSUPPORTED, "%s: node %s: kind %s has no ONNX form", x->path,
                          nd->name, ypr__node_kind_name(nd->kind));
    }
    return YPR_OK;
}

/* The QDQ pair after node i: its own step, or (max-pool, upsample, reorg)
 * its source's, an identity on values already on that grid that lets a
 * runtime keep the pool in INT8. Not recorded in the metadata. */
static int node_qdq(xctx *x, int i)
{
    const ypr_net *net = x->net;
    const ypr_node *nd = &net->nodes[i];
    if (nd->kind == YPR_NODE_DETECT)
        return YPR_OK;
    if (nd->aq.scale > 0)
        return emit_qdq(x, i, &nd->aq, 1);
    int s = quantized_source(net, i);
    if (s != i && net->nodes[s].aq.scale > 0)
        return emit_qdq(x, i, &net->nodes[s].aq, 0);
    return YPR_OK;
}

/* --------------------------------------------------------------- metadata */

static void meta(ypr_pbw *w, const char *k, const char *v)
{
    ypr_pbw e;
    ypr__pbw_init(&e);
    ypr__pbw_str(&e, 1, k);
    ypr__pbw_str(&e, 2, v);
    ypr__pbw_msg(w, 14, &e);
    ypr__pbw_free(&e);
}

static void write_meta(const xctx *x, ypr_pbw *w)
{
    const ypr_model *m = x->m;
    const ypr_net *net = x->net;
    const ypr_node *d = &net->nodes[net->nnodes - 1];
    ypr_strbuf names, anchors, strides, mods;
    ypr__sb_init(&names);
    ypr__sb_init(&anchors);
    ypr__sb_init(&strides);
    ypr__sb_init(&mods);
    ypr__sb_puts(&names, "[");
    for (int i = 0; i < m->nc; i++) {
        char def[32];
        snprintf(def, sizeof def, "class%d", i);
        ypr__sb_puts(&names, i ? "," : "");
        ypr__sb_json_str(&names, m->names && m->names[i] ? m->names[i] : def);
    }
    ypr__sb_puts(&names, "]");
    const float *grid = net->params[d->p[1]].data;
    ypr__sb_puts(&anchors, "[");
    ypr__sb_puts(&strides, "[");
    for (int l = 0; l < d->nl; l++) {
        ypr__sb_puts(&anchors, l ? ",[" : "[");
        for (int a = 0; a < 2 * d->na; a++) {
            ypr__sb_puts(&anchors, a ? "," : "");
            ypr__sb_json_double(&anchors, grid[l * 2 * d->na + a]);
        }
        ypr__sb_puts(&anchors, "]");
        ypr__sb_puts(&strides, l ? "," : "");
        ypr__sb_json_double(&strides, d->strides[l]);
    }
    ypr__sb_puts(&anchors, "]");
    ypr__sb_puts(&strides, "]");
    ypr__sb_puts(&mods, "{");
    int first = 1;
    for (int i = 0; i < net->nnodes; i++) {
        if (!net->nodes[i].module[0])
            continue;
        ypr__sb_puts(&mods, first ? "" : ",");
        ypr__sb_json_str(&mods, net->nodes[i].name);
        ypr__sb_puts(&mods, ":");
        ypr__sb_json_str(&mods, net->nodes[i].module);
        first = 0;
    }
    ypr__sb_puts(&mods, "}");
    char nc[24], size[24], na[24];
    snprintf(nc, sizeof nc, "%d", m->nc);
    snprintf(na, sizeof na, "%d", d->na);
    snprintf(size, sizeof size, "%d", m->input_size);
    if (names.failed || anchors.failed || strides.failed || mods.failed) {
        w->failed = 1;
    } else {
        meta(w, "format", "libyolopr");
        meta(w, "layout", "raw head per level: [batch, anchors, H, W, 5 + nc] logits "
             "(YOLOv7 Detect in training mode)");
        meta(w, "nc", nc);
        meta(w, "na", na);
        meta(w, "names", names.data);
        meta(w, "anchors", anchors.data);
        meta(w, "strides", strides.data);
        meta(w, "input_size", size);
        meta(w, "modules", mods.data);
    }
    if (x->quant) {   /* the exact steps, which QDQ cannot all say */
        ypr_strbuf q;
        ypr__sb_init(&q);
        ypr__sb_printf(&q, "{\"aq\":{%s},\"wq\":{%s},\"bq\":{%s}}", x->qa.len ? x->qa.data : "",
                       x->qw.len ? x->qw.data : "", x->qb.len ? x->qb.data : "");
        if (q.failed || x->qa.failed || x->qw.failed || x->qb.failed)
            w->failed = 1;
        else
            meta(w, "quantization", q.data);
        ypr__sb_free(&q);
    }
    ypr__sb_free(&names);
    ypr__sb_free(&anchors);
    ypr__sb_free(&strides);
    ypr__sb_free(&mods);
}

/* ValueInfoProto of a float tensor; dims < 0 are the symbolic "batch". */
static void value_info(ypr_pbw *g, uint32_t field, const char *name, const int64_t *dims, int nd)
{
    ypr_pbw v, t, tt, sh;
    ypr__pbw_init(&v);
    ypr__pbw_init(&t);
    ypr__pbw_init(&tt);
    ypr__pbw_init(&sh);
    for (int i = 0; i < nd; i++) {
        ypr_pbw d;
        ypr__pbw_init(&d);
        if (dims[i] < 0)
            ypr__pbw_str(&d, 2, "batch");
        else
            ypr__pbw_varint(&d, 1, (uint64_t)dims[i]);
        ypr__pbw_msg(&sh, 1, &d);
        ypr__pbw_free(&d);
    }
    ypr__pbw_varint(&tt, 1, YPR_ONNX_FLOAT);
    ypr__pbw_msg(&tt, 2, &sh);
    ypr__pbw_msg(&t, 1, &tt);
    ypr__pbw_str(&v, 1, name);
    ypr__pbw_msg(&v, 2, &t);
    ypr__pbw_msg(g, field, &v);
    ypr__pbw_free(&v);
    ypr__pbw_free(&t);
    ypr__pbw_free(&tt);
    ypr__pbw_free(&sh);
}

/* Unique value names: the node's own name, suffixed when taken. */
static int name_values(xctx *x)
{
    const ypr_net *net = x->net;
    x->vname = calloc((size_t)net->nnodes, sizeof *x->vname);
    RETURN_IF(!x->vname, YPR_ENOMEM, "%s: out of memory", x->path);
    for (int i = 0; i < net->nnodes; i++) {
        char buf[YPR_NAME_MAX + 32];
        const char *base = i == 0 ? "images" : net->nodes[i].name;
        snprintf(buf, sizeof buf, "%s", base[0] ? base : "node");
        for (int j = 0, k = 1; j < i; j++)
            if (strcmp(x->vname[j], buf) == 0 || ypr__net_find_param(net, buf) >= 0) {
                snprintf(buf, sizeof buf, "%s_%d", base, k++);
                j = -1;
            }
        x->vname[i] = strdup(buf);
        RETURN_IF(!x->vname[i], YPR_ENOMEM, "%s: out of memory", x->path);
    }
    return YPR_OK;
}

static int write_file(const char *path, const ypr_pbw *head, const ypr_pbw *graph_parts[],
                      int nparts, const ypr_pbw *tail)
{
    size_t glen = 0;
    for (int i = 0; i < nparts; i++)
        glen += graph_parts[i]->len;
    uint8_t tag[20];
    size_t tl = ypr__pb_tag_encode(7, YPR_PB_BYTES, glen, tag);
    RETURN_IF((uint64_t)head->len + tl + glen + tail->len > YPR_ONNX_MAX_BYTES, YPR_ERANGE,
              "%s: the model takes more than ONNX's 2 GiB", path);
    ypr_atomic_file af;
    TRY(ypr__afile_open(&af, path));
    FILE *fp = af.fp;
    int ok = fwrite(head->buf, 1, head->len, fp) == head->len && fwrite(tag, 1, tl, fp) == tl;
    for (int i = 0; ok && i < nparts; i++)
        ok = graph_parts[i]->len == 0 ||
             fwrite(graph_parts[i]->buf, 1, graph_parts[i]->len, fp) == graph_parts[i]->len;
    ok = ok && fwrite(tail->buf, 1, tail->len, fp) == tail->len;
    if (!ok) {
        ypr__afile_abort(&af);
        return ypr__error(YPR_EIO, "%s: write failed", path);
    }
    return ypr__afile_commit(&af);
}

static int export_onnx(const ypr_model *m, const char *path, unsigned flags)
{
    RETURN_IF(!m || !path, YPR_EINVAL, "export: NULL argument");
    RETURN_IF(flags > 2, YPR_EINVAL, "%s: ONNX export flags %#x (YPR_EXPORT_INT8 or "
              "YPR_EXPORT_FLOAT, not both)", path, flags);
    const ypr_net *net = &m->net;
    TRY(ypr__net_validate(net));
    int quant = net_quantized(net);
    RETURN_IF((flags & YPR_EXPORT_INT8) && !quant, YPR_EINVAL, "export: an INT8 (QDQ) export "
              "needs a quantized model; this one has no quantization steps (quantize it first)");
    int64_t S = m->input_size;
    xctx x = {.m = m, .net = net, .path = path, .quant = quant && !(flags & YPR_EXPORT_FLOAT)};
    ypr__sb_init(&x.qa);
    ypr__sb_init(&x.qw);
    ypr__sb_init(&x.qb);
    ypr__pbw_init(&x.nodes);
    ypr__pbw_init(&x.inits);
    ypr_pbw head, io, tail;
    ypr__pbw_init(&head);
    ypr__pbw_init(&io);
    ypr__pbw_init(&tail);
    x.shapes = malloc((size_t)net->nnodes * sizeof *x.shapes);
    int rc = x.shapes ? YPR_OK : ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    if (rc == YPR_OK)
        rc = ypr__net_shapes(net, S, S, x.shapes);
    if (rc == YPR_OK)
        rc = name_values(&x);
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        rc = emit_node(&x, i);
        if (rc == YPR_OK && x.quant)
            rc = node_qdq(&x, i);
    }
    if (rc == YPR_OK) {
        const ypr_node *d = &net->nodes[net->nnodes - 1];
        int64_t in[4] = {-1, YPR_NET_INPUT_CHANNELS, S, S};
        ypr__pbw_str(&io, 2, "libyolopr");
        value_info(&io, 11, "images", in, 4);
        for (int l = 0; l < d->nl; l++) {
            const ypr_shape *s = &x.shapes[d->inputs[l]];
            int64_t od[5] = {-1, d->na, s->h, s->w, d->nc + 5};
            char out[32];
            snprintf(out, sizeof out, "output%d", l);
            value_info(&io, 12, out, od, 5);
        }
        ypr__pbw_varint(&head, 1, IR_VERSION);
        ypr__pbw_str(&head, 2, "libyolopr");
        ypr__pbw_str(&head, 3, ypr_version_string());
        ypr_pbw op;
        ypr__pbw_init(&op);
        ypr__pbw_str(&op, 1, "");
        ypr__pbw_varint(&op, 2, OPSET);
        ypr__pbw_msg(&head, 8, &op);
        ypr__pbw_free(&op);
        write_meta(&x, &tail);
        if (head.failed || io.failed || tail.failed || x.nodes.failed || x.inits.failed) {
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", path);
        } else {
            const ypr_pbw *parts[3] = {&x.nodes, &io, &x.inits};
            rc = write_file(path, &head, parts, 3, &tail);
        }
    }
    for (int i = 0; x.vname && i < net->nnodes; i++)
        free(x.vname[i]);
    free(x.vname);
    free(x.shapes);
    ypr__pbw_free(&x.nodes);
    ypr__pbw_free(&x.inits);
    ypr__pbw_free(&head);
    ypr__pbw_free(&io);
    ypr__pbw_free(&tail);
    ypr__sb_free(&x.qa);
    ypr__sb_free(&x.qw);
    ypr__sb_free(&x.qb);
    return rc;
}

int ypr__onnx_export(const ypr_model *m, const char *path)
{
    return export_onnx(m, path, 0);
}

int ypr_model_export_onnx(const ypr_model *m, const char *path)
{
    return export_onnx(m, path, 0);
}

int ypr_model_export_onnx_flags(const ypr_model *m, const char *path, unsigned flags)
{
    return export_onnx(m, path, flags);
}
