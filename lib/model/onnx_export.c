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
 * INT8 nets (when tensors carry dtypes) will add QuantizeLinear /
 * DequantizeLinear pairs around Conv here: emit_conv is where the weight and
 * activation quantizers go, initializers already carry their data type. */
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

static void emit_conv(xctx *x, int i, const char *out)
{
    const ypr_node *nd = &x->net->nodes[i];
    const char *in[3] = {x->vname[nd->inputs[0]], x->net->params[nd->p[0]].name,
                         nd->p[1] >= 0 ? x->net->params[nd->p[1]].name : ""};
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
    param_init(x, nd->p[0]);
    if (nd->p[1] >= 0)
        param_init(x, nd->p[1]);
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
            emit_conv(x, i, tmp);
            char an[2 * YPR_NAME_MAX + 16];
            snprintf(an, sizeof an, "%s/act", nd->name);
            emit_act(x, tmp, out, nd->act, nd->alpha, an);
        } else {
            emit_conv(x, i, out);
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

int ypr__onnx_export(const ypr_model *m, const char *path)
{
    RETURN_IF(!m || !path, YPR_EINVAL, "export: NULL argument");
    const ypr_net *net = &m->net;
    TRY(ypr__net_validate(net));
    int64_t S = m->input_size;
    xctx x = {.m = m, .net = net, .path = path};
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
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++)
        rc = emit_node(&x, i);
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
    return rc;
}

int ypr_model_export_onnx(const ypr_model *m, const char *path)
{
    return ypr__onnx_export(m, path);
}
