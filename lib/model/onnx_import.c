/* An ONNX CNN detector into the net, node by node in the graph's order
 * (ONNX requires topological order; an input used before it is made is an
 * error). Each ONNX value maps to one of:
 *   a net node (its output), a constant (initializer or Constant node),
 *   or a pending pattern that only a later node completes:
 *     Reshape of a head map to [N, na, no, H, W]  → Transpose [0,1,3,4,2] → head output;
 *     HardSigmoid(x)                              → Mul(x, ·) → hard-swish;
 *     strided Slice of x (steps 2 on H, W)        → Concat of the four → reorg.
 * Sigmoid becomes a sigmoid node at once; a Mul of x and σ(x) that is its
 * only reader turns it into SiLU. Mul/Add by a per-channel constant become
 * implicit mul/add nodes (YOLOv7's ImplicitM/ImplicitA, or any scale); the
 * graph outputs, in order, become the detect node's levels. Anchors, class
 * names and the input size come from metadata_props (as our export writes
 * them) or, without them, YOLOv7's default P3–P5 anchors (with a warning).
 *
 * Names: a net node is named after its ONNX node — PyTorch's scoped
 * "/model.0/conv/Conv" becomes the module path "model.0.conv" — and a
 * parameter keeps its initializer's name when it is a state_dict key
 * (PyTorch writes "onnx::Conv_123" for tensors it made itself, e.g. a
 * BatchNorm folded into its conv): otherwise "<node>.weight", "<node>.bias"…
 * Any other op, or an op with attributes we cannot honour exactly, is an
 * error naming the node and its op type. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

enum { V_NONE = 0, V_NODE, V_CONST, V_RESHAPE, V_HEAD, V_HSIG, V_SLICE, V_DIMS, V_QACT };

/* A small integer list that may hold a map's dimensions symbolically, as
 * PyTorch computes a reshape's target in a dynamic-shape export
 * (Shape → Gather → Unsqueeze → Concat): entry i is v[i] when node[i] < 0,
 * else dimension axis[i] of net node node[i]. */
typedef struct dims { int n; int64_t v[8]; int node[8], axis[8]; } dims;

typedef struct val {
    const char *name;
    int kind;
    int node;                     /* V_NODE: the net node; patterns: their source node */
    const ypr_onnx_tensor *t;     /* V_CONST */
    int64_t na, no, h, w;         /* V_RESHAPE, V_HEAD: h, w ≤ 0 when not given */
    int sh, sw;                   /* V_SLICE: start row and column (0 or 1) */
    int sigmoid_of;               /* V_NODE made by Sigmoid: its input node, else -1 */
    dims *dl;                     /* V_DIMS */
    int readers;                  /* how many node inputs and graph outputs read it */
    int qreaders;                 /* how many of them are QuantizeLinear's input */
    int src;                      /* V_QACT: the value quantized (index into vals) */
    ypr_qparam q;                 /* V_QACT: its step; V_CONST from DequantizeLinear: the
                                   * constant's step (scale 0 otherwise) */
} val;

typedef struct ictx {
    const ypr_onnx *o;
    const char *what;
    ypr_net *net;
    val *vals;
    int nvals, cap;
    int *slot;                    /* open addressing: value name → index + 1 */
    int nslots;
    int *nslot;                   /* net node names in use: node index + 1 */
    int nnslots;
    void **owned;                 /* tensors of Constant attributes, dims lists, Q/DQ
                                   * constants and scales: ≤ 2 a node */
    int nowned;
    int64_t S;                    /* input size for shape checks and strides */
    const ypr_onnx_node *cur;
    ypr_json *qmeta;              /* the "quantization" metadata of our export, or NULL */
} ictx;

/* --------------------------------------------------------------- helpers */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int find_val(const ictx *c, const char *name)
{
    size_t m = (size_t)c->nslots - 1;
    for (size_t k = (size_t)hash(name) & m; c->slot[k]; k = (k + 1) & m)
        if (strcmp(c->vals[c->slot[k] - 1].name, name) == 0)
            return c->slot[k] - 1;
    return -1;
}

/* The value of `name`, creating it (V_NONE) when new. Capacity is sized
 * for every name the graph mentions, so this never grows. */
static val *get_val(ictx *c, const char *name)
{
    int i = find_val(c, name);
    if (i >= 0)
        return &c->vals[i];
    size_t m = (size_t)c->nslots - 1, k = (size_t)hash(name) & m;
    while (c->slot[k])
        k = (k + 1) & m;
    val *v = &c->vals[c->nvals];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->sigmoid_of = -1;
    c->slot[k] = ++c->nvals;
    return v;
}

static int node_err(const ictx *c, int code, const char *fmt, ...) YPR_PRINTF(3, 4);

/* An error naming the file and the current ONNX node (name and op type). */
static int node_err(const ictx *c, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ypr_onnx_node *n = c->cur;
    return ypr__error(code, "%s: ONNX node '%s' (%s): %s", c->what, n && n->name[0] ? n->name :
                      n && n->noutputs ? n->outputs[0] : "?", n ? n->op : "?", msg);
}

static int name_taken(const ictx *c, const char *name)
{
    size_t m = (size_t)c->nnslots - 1;
    for (size_t k = (size_t)hash(name) & m; c->nslot[k]; k = (k + 1) & m)
        if (strcmp(c->net->nodes[c->nslot[k] - 1].name, name) == 0)
            return 1;
    return 0;
}

static void name_put(ictx *c, int node)
{
    size_t m = (size_t)c->nnslots - 1, k = (size_t)hash(c->net->nodes[node].name) & m;
    while (c->nslot[k])
        k = (k + 1) & m;
    c->nslot[k] = node + 1;
}

/* The net name of the current ONNX node: PyTorch's "/a/b/Op" → "a.b",
 * ours as they are, "<op>_<k>" when empty; made unique. */
static void node_name(const ictx *c, char *out, size_t cap)
{
    const ypr_onnx_node *n = c->cur;
    char buf[YPR_NAME_MAX];
    const char *s = n->name;
    size_t k = 0;
    if (s[0] == '/') {
        const char *last = strrchr(s, '/');
        for (const char *p = s + 1; p < last && k + 1 < sizeof buf - 8; p++)
            buf[k++] = *p == '/' ? '.' : *p;
    } else {
        for (const char *p = s; *p && k + 1 < sizeof buf - 8; p++)
            buf[k++] = *p;
    }
    buf[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '_';
    if (!k) {
        snprintf(buf, sizeof buf, "%.40s_%d", n->op, c->net->nnodes);
        for (char *p = buf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    snprintf(out, cap, "%s", buf);
    for (int j = 1; name_taken(c, out); j++)
        snprintf(out, cap, "%.80s_%d", buf, j);
}

/* model.<L>.… → L, else -2 (no cfg layer). */
static int layer_of(const char *name)
{
    if (strncmp(name, "model.", 6) != 0 || !isdigit((unsigned char)name[6]))
        return -2;
    long v = strtol(name + 6, NULL, 10);
    return v >= 0 && v < (1 << 20) ? (int)v : -2;
}

static int add_node(ictx *c, int kind, const int *in, int nin)
{
    char name[YPR_NAME_MAX];
    node_name(c, name, sizeof name);
    int id = ypr__net_add(c->net, kind, name, layer_of(name), in, nin);
    if (id < 0)
        return id;
    if (c->net->nodes[id].layer == -2)
        c->net->nodes[id].layer = id;   /* no cfg layer: one of its own */
    ypr_node *nd = &c->net->nodes[id];
    nd->c = nin ? c->net->nodes[in[0]].c : 0;
    name_put(c, id);
    return id;
}

/* Is `s` usable as our tensor name (a state_dict-like key)? */
static int good_param_name(const ictx *c, const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= YPR_NAME_MAX || strchr(s, ':') || s[0] == '/' || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return ypr__net_find_param(c->net, s) < 0;
}

/* A float parameter of node `node` in slot `slot` from constant t, with
 * the given shape (numel must match). */
static int add_param(ictx *c, int node, int slot, const ypr_onnx_tensor *t, const char *role,
                     int ndim, const int64_t *shape, int is_buffer)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    if (t->numel != numel)
        return node_err(c, YPR_ESHAPE, "tensor %s has %lld elements, %lld expected", t->name,
                        (long long)t->numel, (long long)numel);
    char name[YPR_NAME_MAX + 32];
    if (good_param_name(c, t->name)) {
        snprintf(name, sizeof name, "%s", t->name);
    } else {
        const char *base = c->net->nodes[node].name;
        snprintf(name, sizeof name, "%.80s.%s", base, role);
        for (int j = 1; ypr__net_find_param(c->net, name) >= 0; j++)
            snprintf(name, sizeof name, "%.72s.%s_%d", base, role, j);
    }
    int pi = ypr__net_add_param(c->net, name, ndim, shape, is_buffer);
    if (pi < 0)
        return pi;
    c->net->nodes[node].p[slot] = pi;
    ypr_param *p = &c->net->params[pi];
    int rc = ypr__onnx_tensor_f32(t, p->data);
    if (rc < 0)
        return node_err(c, rc, "tensor %s is not floating point", t->name);
    for (int64_t k = 0; k < p->numel; k++)
        if (!isfinite(p->data[k]))
            return node_err(c, YPR_ERANGE, "tensor %s: element %lld is %g", t->name,
                            (long long)k, (double)p->data[k]);
    return YPR_OK;
}

/* -------------------------------------------------------- inputs of nodes */

static val *input(ictx *c, int i)
{
    const ypr_onnx_node *n = c->cur;
    if (i >= n->ninputs || !n->inputs[i][0])
        return NULL;
    int k = find_val(c, n->inputs[i]);
    return k >= 0 && c->vals[k].kind != V_NONE ? &c->vals[k] : NULL;
}

/* lo..hi inputs, the first `lo` of them given (not ""), every given one
 * defined by an earlier node, an initializer or the graph input. */
static int need_inputs(ictx *c, int lo, int hi)
{
    const ypr_onnx_node *n = c->cur;
    if (n->ninputs < lo || n->ninputs > hi)
        return node_err(c, YPR_EFORMAT, "%d inputs (expected %d..%d)", n->ninputs, lo, hi);
    for (int i = 0; i < lo; i++)
        if (!n->inputs[i][0])
            return node_err(c, YPR_EFORMAT, "input %d is required", i);
    for (int i = 0; i < n->ninputs; i++)
        if (n->inputs[i][0] && !input(c, i))
            return node_err(c, YPR_EFORMAT, "input '%s' is not defined before this node (the "
                            "graph must be in topological order)", n->inputs[i]);
    if (n->noutputs < 1 || !n->outputs[0][0])
        return node_err(c, YPR_EFORMAT, "no output");
    for (int i = 1; i < n->noutputs; i++)
        if (n->outputs[i][0]) {
            int k = find_val(c, n->outputs[i]);
            if (k >= 0 && c->vals[k].readers)
                return node_err(c, YPR_EUNSUPPORTED, "output %d ('%s') is used; only the first "
                                "output of this op is supported", i, n->outputs[i]);
        }
    return YPR_OK;
}

static int node_in(ictx *c, int i, int *node)
{
    val *v = input(c, i);
    *node = 0;
    if (v && v->kind == V_QACT)
        return node_err(c, YPR_EUNSUPPORTED, "input %d ('%s') is QuantizeLinear's integer output: "
                        "only DequantizeLinear may read it", i, c->cur->inputs[i]);
    if (!v || v->kind != V_NODE)
        return node_err(c, YPR_EUNSUPPORTED, "input %d ('%s') is not a feature map (a constant "
                        "or a head output feeds it)", i, c->cur->inputs[i]);
    *node = v->node;
    return YPR_OK;
}

static int const_in(ictx *c, int i, const ypr_onnx_tensor **t)
{
    val *v = input(c, i);
    *t = NULL;
    if (!v || v->kind != V_CONST)
        return node_err(c, YPR_EUNSUPPORTED, "input %d ('%s') must be a constant", i,
                        i < c->cur->ninputs ? c->cur->inputs[i] : "");
    *t = v->t;
    return YPR_OK;
}

/* Small integer constants (shapes, axes) into out[cap]. */
static int const_ints(ictx *c, int i, int64_t *out, int cap, int *n)
{
    const ypr_onnx_tensor *t;
    TRY(const_in(c, i, &t));
    if (t->numel > cap)
        return node_err(c, YPR_EUNSUPPORTED, "constant %s has %lld values (at most %d)", t->name,
                        (long long)t->numel, cap);
    if (ypr__onnx_tensor_i64(t, out) < 0)
        return node_err(c, YPR_EFORMAT, "constant %s is not an integer tensor", t->name);
    *n = (int)t->numel;
    return YPR_OK;
}

static int const_floats(ictx *c, int i, float *out, int cap, int *n)
{
    const ypr_onnx_tensor *t;
    TRY(const_in(c, i, &t));
    if (t->numel > cap)
        return node_err(c, YPR_EUNSUPPORTED, "constant %s has %lld values (at most %d)", t->name,
                        (long long)t->numel, cap);
    if (ypr__onnx_tensor_f32(t, out) < 0)
        return node_err(c, YPR_EFORMAT, "constant %s is not a float tensor", t->name);
    *n = (int)t->numel;
    return YPR_OK;
}

static val *set_out(ictx *c, int kind, int node)
{
    val *v = get_val(c, c->cur->outputs[0]);
    v->kind = kind;
    v->node = node;
    v->sigmoid_of = -1;
    return v;
}

static int64_t attr_i(const ypr_onnx_node *n, const char *name, int64_t def)
{
    const ypr_onnx_attr *a = ypr__onnx_attr(n, name);
    return a ? a->i : def;
}

static float attr_f(const ypr_onnx_node *n, const char *name, float def)
{
    const ypr_onnx_attr *a = ypr__onnx_attr(n, name);
    return a ? a->f : def;
}

static const char *attr_s(const ypr_onnx_node *n, const char *name, const char *def)
{
    const ypr_onnx_attr *a = ypr__onnx_attr(n, name);
    return a && a->s ? a->s : def;
}

/* A 2-D list attribute (kernel_shape, strides, dilations) or its default;
 * pads must be symmetric [t, l, b, r] with t = b and l = r. */
static int attr_pair(ictx *c, const char *name, int def, int lo, int hi, int *a, int *b)
{
    const ypr_onnx_attr *at = ypr__onnx_attr(c->cur, name);
    *a = *b = def;
    if (!at)
        return YPR_OK;
    int is_pads = strcmp(name, "pads") == 0;
    if (at->nints != (is_pads ? 4 : 2))
        return node_err(c, YPR_EUNSUPPORTED, "'%s' has %d values; only 2-D maps are supported",
                        name, at->nints);
    if (is_pads && (at->ints[0] != at->ints[2] || at->ints[1] != at->ints[3]))
        return node_err(c, YPR_EUNSUPPORTED, "asymmetric pads [%lld, %lld, %lld, %lld]",
                        (long long)at->ints[0], (long long)at->ints[1], (long long)at->ints[2],
                        (long long)at->ints[3]);
    for (int i = 0; i < 2; i++)
        if (at->ints[i] < lo || at->ints[i] > hi)
            return node_err(c, YPR_EUNSUPPORTED, "'%s' value %lld outside %d..%d", name,
                            (long long)at->ints[i], lo, hi);
    *a = (int)at->ints[0];
    *b = (int)at->ints[1];
    return YPR_OK;
}

static int check_auto_pad(ictx *c)
{
    const char *ap = attr_s(c->cur, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0)
        return node_err(c, YPR_EUNSUPPORTED, "auto_pad %s (write explicit pads)", ap);
    if (strcmp(ap, "VALID") == 0 && ypr__onnx_attr(c->cur, "pads"))
        return node_err(c, YPR_EFORMAT, "auto_pad VALID with pads");
    return YPR_OK;
}

static int meta_step(const ictx *c, const char *section, const char *key, const ypr_qparam *graph,
                     ypr_qparam *out);

/* ------------------------------------------------------------------ ops */

static int op_conv(ictx *c)
{
    TRY(need_inputs(c, 2, 3));
    int x;
    const ypr_onnx_tensor *w, *b = NULL;
    TRY(node_in(c, 0, &x));
    TRY(const_in(c, 1, &w));
    if (input(c, 2))
        TRY(const_in(c, 2, &b));
    TRY(check_auto_pad(c));
    if (w->ndim != 4)
        return node_err(c, YPR_EUNSUPPORTED, "weight %s is %d-D; only 2-D convolutions (4-D "
                        "weights) are supported", w->name, w->ndim);
    int kh, kw, sh, sw, ph, pw, dh, dw;
    TRY(attr_pair(c, "kernel_shape", (int)w->dims[2], 1, 1024, &kh, &kw));
    TRY(attr_pair(c, "strides", 1, 1, 1024, &sh, &sw));
    TRY(attr_pair(c, "pads", 0, 0, 1024, &ph, &pw));
    TRY(attr_pair(c, "dilations", 1, 1, 1024, &dh, &dw));
    if (!ypr__onnx_attr(c->cur, "kernel_shape"))
        kw = (int)w->dims[3];
    int64_t g = attr_i(c->cur, "group", 1), cin = c->net->nodes[x].c, cout = w->dims[0];
    if (kh != w->dims[2] || kw != w->dims[3])
        return node_err(c, YPR_ESHAPE, "kernel_shape %dx%d disagrees with weight %s", kh, kw,
                        w->name);
    if (g < 1 || g > cin || cout % g || w->dims[1] * g != cin)
        return node_err(c, YPR_ESHAPE, "weight %s [%lld, %lld, …] with group %lld does not fit "
                        "%lld input channels", w->name, (long long)cout, (long long)w->dims[1],
                        (long long)g, (long long)cin);
    if (b && (b->ndim != 1 || b->dims[0] != cout))
        return node_err(c, YPR_ESHAPE, "bias %s does not have %lld values", b->name,
                        (long long)cout);
    if (cout < 1 || cout > YPR_NET_MAX_CHANNELS)
        return node_err(c, YPR_ERANGE, "%lld output channels", (long long)cout);
    int id = add_node(c, YPR_NODE_CONV, &x, 1);
    if (id < 0)
        return id;
    ypr_node *nd = &c->net->nodes[id];
    nd->c = cout;
    nd->kh = kh; nd->kw = kw; nd->sh = sh; nd->sw = sw;
    nd->ph = ph; nd->pw = pw; nd->dh = dh; nd->dw = dw;
    nd->groups = (int)g;
    TRY(add_param(c, id, 0, w, "weight", 4, w->dims, 0));
    if (b)
        TRY(add_param(c, id, 1, b, "bias", 1, &cout, 0));
    /* steps: the weight's and bias's DequantizeLinear, refined (range,
     * rounding) by our export's metadata */
    nd = &c->net->nodes[id];
    const val *wv = input(c, 1), *bv = b ? input(c, 2) : NULL;
    nd->wq = wv->q;
    meta_step(c, "wq", c->cur->name, wv->q.scale > 0 ? &wv->q : NULL, &nd->wq);
    if (bv) {
        nd->bq = bv->q;
        meta_step(c, "bq", c->cur->name, NULL, &nd->bq);
    }
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int op_bn(ictx *c)
{
    TRY(need_inputs(c, 5, 5));
    int x;
    TRY(node_in(c, 0, &x));
    if (attr_i(c->cur, "training_mode", 0) != 0 || attr_i(c->cur, "spatial", 1) != 1)
        return node_err(c, YPR_EUNSUPPORTED, "training_mode or non-spatial BatchNormalization");
    int64_t ch = c->net->nodes[x].c;
    const ypr_onnx_tensor *t[4];
    for (int s = 0; s < 4; s++) {
        TRY(const_in(c, 1 + s, &t[s]));
        if (t[s]->numel != ch)
            return node_err(c, YPR_ESHAPE, "tensor %s has %lld values for %lld channels",
                            t[s]->name, (long long)t[s]->numel, (long long)ch);
    }
    float eps = attr_f(c->cur, "epsilon", 1e-5f), mom = attr_f(c->cur, "momentum", 0.9f);
    if (!(eps > 0.0f) || !isfinite(eps) || !(mom >= 0.0f && mom <= 1.0f))
        return node_err(c, YPR_EINVAL, "epsilon %g or momentum %g out of range", (double)eps,
                        (double)mom);
    int id = add_node(c, YPR_NODE_BN, &x, 1);
    if (id < 0)
        return id;
    c->net->nodes[id].eps = eps;
    c->net->nodes[id].momentum = 1.0f - mom;   /* ONNX keeps the old value's weight */
    static const char *const role[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int s = 0; s < 4; s++)
        TRY(add_param(c, id, s, t[s], role[s], 1, &ch, s >= 2));
    const float *var = c->net->params[c->net->nodes[id].p[3]].data;
    for (int64_t k = 0; k < ch; k++)
        if (var[k] < 0.0f)
            return node_err(c, YPR_ERANGE, "running variance %g < 0 at channel %lld",
                            (double)var[k], (long long)k);
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int add_act(ictx *c, int x, int act, float alpha)
{
    int id = add_node(c, YPR_NODE_ACT, &x, 1);
    if (id < 0)
        return id;
    c->net->nodes[id].act = act;
    c->net->nodes[id].alpha = alpha;
    return id;
}

static int op_act(ictx *c, int act)
{
    TRY(need_inputs(c, 1, 1));
    int x;
    TRY(node_in(c, 0, &x));
    float alpha = act == YPR_ACT_LEAKY ? attr_f(c->cur, "alpha", 0.01f) : 0.0f;
    if (!isfinite(alpha))
        return node_err(c, YPR_EINVAL, "alpha %g", (double)alpha);
    int id = add_act(c, x, act, alpha);
    if (id < 0)
        return id;
    val *v = set_out(c, V_NODE, id);
    if (act == YPR_ACT_SIGMOID)
        v->sigmoid_of = x;
    return YPR_OK;
}

static int op_hardsigmoid(ictx *c)
{
    TRY(need_inputs(c, 1, 1));
    int x;
    TRY(node_in(c, 0, &x));
    if (attr_f(c->cur, "alpha", 0.2f) != 1.0f / 6.0f || attr_f(c->cur, "beta", 0.5f) != 0.5f)
        return node_err(c, YPR_EUNSUPPORTED, "only HardSigmoid(alpha 1/6, beta 1/2) of "
                        "hard-swish is supported");
    set_out(c, V_HSIG, x);
    return YPR_OK;
}

/* A per-channel constant for c channels: scalar, [C], [C,1,1], [1,C,1,1]. */
static int channel_const(const ypr_onnx_tensor *t, int64_t ch)
{
    if (t->numel == 1)
        return 1;
    if (t->numel != ch)
        return 0;
    int64_t d[4] = {1, 1, 1, 1};
    if (t->ndim > 4)
        return 0;
    for (int i = 0; i < t->ndim; i++)
        d[4 - t->ndim + i] = t->dims[i];
    return d[0] == 1 && d[1] == ch && d[2] == 1 && d[3] == 1;
}

static int op_implicit(ictx *c, int kind, int x, const ypr_onnx_tensor *t)
{
    int64_t ch = c->net->nodes[x].c;
    if (!channel_const(t, ch))
        return node_err(c, YPR_EUNSUPPORTED, "constant %s is not one value per channel (%lld "
                        "channels)", t->name, (long long)ch);
    int id = add_node(c, kind, &x, 1);
    if (id < 0)
        return id;
    int64_t s4[4] = {1, ch, 1, 1};
    if (t->numel == ch) {
        TRY(add_param(c, id, 0, t, "implicit", 4, s4, 0));
    } else {   /* a scalar: the same value for every channel */
        int64_t one[4] = {1, 1, 1, 1};
        ypr_onnx_tensor t1 = *t;
        t1.ndim = 4;
        memcpy(t1.dims, one, sizeof one);
        TRY(add_param(c, id, 0, &t1, "implicit", 4, one, 0));
        ypr_param *p = &c->net->params[c->net->nodes[id].p[0]];
        float *data = ypr__alloc((size_t)ch * sizeof(float));
        if (!data)
            return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
        for (int64_t k = 0; k < ch; k++)
            data[k] = p->data[0];
        ypr__free(p->data);
        p->data = data;
        p->shape[1] = ch;
        p->numel = ch;
        c->net->param_floats += ch - 1;
    }
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int op_mul(ictx *c)
{
    TRY(need_inputs(c, 2, 2));
    val *a = input(c, 0), *b = input(c, 1);
    for (int k = 0; k < 2; k++, a = input(c, 1), b = input(c, 0)) {
        if (a->kind == V_NODE && b->kind == V_NODE && b->sigmoid_of == a->node &&
            b->readers == 1) {   /* x · σ(x): the sigmoid node becomes SiLU */
            int s = b->node;
            if (c->net->nodes[s].aq.scale > 0)
                return node_err(c, YPR_EUNSUPPORTED, "a quantization step on the Sigmoid inside "
                                "SiLU (x*sigmoid(x)) cannot be represented: quantize the Mul's "
                                "output only");
            char name[YPR_NAME_MAX];
            node_name(c, name, sizeof name);
            c->net->nodes[s].act = YPR_ACT_SILU;
            if (c->cur->name[0] && strcmp(c->cur->name, c->net->nodes[s].name) != 0 &&
                c->cur->name[0] != '/') {   /* ours: the Mul carries the module's name */
                snprintf(c->net->nodes[s].name, YPR_NAME_MAX, "%s", name);
                name_put(c, s);
            }
            set_out(c, V_NODE, s);
            return YPR_OK;
        }
        if (a->kind == V_NODE && b->kind == V_HSIG && b->node == a->node && b->readers == 1) {
            int id = add_act(c, a->node, YPR_ACT_HARDSWISH, 0.0f);
            if (id < 0)
                return id;
            set_out(c, V_NODE, id);
            return YPR_OK;
        }
        if (a->kind == V_NODE && b->kind == V_CONST)
            return op_implicit(c, YPR_NODE_IMPLICIT_MUL, a->node, b->t);
    }
    return node_err(c, YPR_EUNSUPPORTED, "only x*sigmoid(x), x*hardsigmoid(x) and per-channel "
                    "constant scales are supported");
}

static int op_add(ictx *c, int sum)
{
    const ypr_onnx_node *n = c->cur;
    TRY(need_inputs(c, sum ? 1 : 2, sum ? 256 : 2));
    val *a = input(c, 0), *b = n->ninputs > 1 ? input(c, 1) : NULL;
    if (!sum && a->kind == V_CONST && b->kind == V_NODE)
        return op_implicit(c, YPR_NODE_IMPLICIT_ADD, b->node, a->t);
    if (!sum && a->kind == V_NODE && b->kind == V_CONST)
        return op_implicit(c, YPR_NODE_IMPLICIT_ADD, a->node, b->t);
    int in[256];
    for (int i = 0; i < n->ninputs; i++)
        TRY(node_in(c, i, &in[i]));
    if (n->ninputs == 1) {
        set_out(c, V_NODE, in[0]);
        return YPR_OK;
    }
    int id = add_node(c, YPR_NODE_ADD, in, n->ninputs);
    if (id < 0)
        return id;
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int concat_dims(ictx *c);

/* The four strided slices of one map, in ReOrg's order, → reorg. */
static int reorg_of(ictx *c, int *src)
{
    static const int off[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    if (c->cur->ninputs != 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        val *v = input(c, i);
        if (!v || v->kind != V_SLICE || v->sh != off[i][0] || v->sw != off[i][1] ||
            (i && v->node != *src))
            return 0;
        *src = v->node;
    }
    return 1;
}

static int op_concat(ictx *c)
{
    const ypr_onnx_node *n = c->cur;
    TRY(need_inputs(c, 1, 256));
    val *first = input(c, 0);
    if (first->kind == V_DIMS || (first->kind == V_CONST && first->t->dtype != YPR_ONNX_FLOAT))
        return concat_dims(c);
    int64_t axis = attr_i(n, "axis", 1);
    if (axis != 1 && axis != -3)
        return node_err(c, YPR_EUNSUPPORTED, "axis %lld; only channel concatenation (axis 1) is "
                        "supported", (long long)axis);
    int in[256], src = -1;
    if (reorg_of(c, &src)) {
        int id = add_node(c, YPR_NODE_REORG, &src, 1);
        if (id < 0)
            return id;
        c->net->nodes[id].c = 4 * c->net->nodes[src].c;
        set_out(c, V_NODE, id);
        return YPR_OK;
    }
    int64_t sum = 0;
    for (int i = 0; i < n->ninputs; i++) {
        TRY(node_in(c, i, &in[i]));
        sum += c->net->nodes[in[i]].c;
    }
    if (sum > YPR_NET_MAX_CHANNELS)
        return node_err(c, YPR_ERANGE, "%lld channels", (long long)sum);
    int id = add_node(c, YPR_NODE_CONCAT, in, n->ninputs);
    if (id < 0)
        return id;
    c->net->nodes[id].c = sum;
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int op_maxpool(ictx *c)
{
    TRY(need_inputs(c, 1, 1));
    int x, kh, kw, sh, sw, ph, pw, dh, dw;
    TRY(node_in(c, 0, &x));
    TRY(check_auto_pad(c));
    if (!ypr__onnx_attr(c->cur, "kernel_shape"))
        return node_err(c, YPR_EFORMAT, "no kernel_shape");
    TRY(attr_pair(c, "kernel_shape", 1, 1, 1024, &kh, &kw));
    TRY(attr_pair(c, "strides", 1, 1, 1024, &sh, &sw));
    TRY(attr_pair(c, "pads", 0, 0, 1024, &ph, &pw));
    TRY(attr_pair(c, "dilations", 1, 1, 1, &dh, &dw));
    if (attr_i(c->cur, "ceil_mode", 0) != 0 || attr_i(c->cur, "storage_order", 0) != 0)
        return node_err(c, YPR_EUNSUPPORTED, "ceil_mode or storage_order other than 0");
    if (ph >= kh || pw >= kw)
        return node_err(c, YPR_EUNSUPPORTED, "padding %dx%d not smaller than the window %dx%d",
                        ph, pw, kh, kw);
    int id = add_node(c, YPR_NODE_MAXPOOL, &x, 1);
    if (id < 0)
        return id;
    ypr_node *nd = &c->net->nodes[id];
    nd->kh = kh; nd->kw = kw; nd->sh = sh; nd->sw = sw; nd->ph = ph; nd->pw = pw;
    set_out(c, V_NODE, id);
    return YPR_OK;
}

/* The source index ONNX's Resize picks for output x at integer scale s,
 * under the given coordinate transformation and rounding, for one period:
 * it must be floor(x / s) (what our nearest upsample does). */
static int nearest_matches(const char *coord, const char *round, int s)
{
    for (int x = 0; x < 2 * s; x++) {
        double o;
        if (strcmp(coord, "asymmetric") == 0)
            o = (double)x / s;
        else if (strcmp(coord, "half_pixel") == 0 || strcmp(coord, "pytorch_half_pixel") == 0)
            o = (x + 0.5) / s - 0.5;
        else
            return 0;
        double f = floor(o), fr = o - f, r;
        if (strcmp(round, "floor") == 0)
            r = f;
        else if (strcmp(round, "ceil") == 0)
            r = ceil(o);
        else if (strcmp(round, "round_prefer_ceil") == 0)
            r = fr >= 0.5 ? f + 1 : f;
        else if (strcmp(round, "round_prefer_floor") == 0)
            r = fr > 0.5 ? f + 1 : f;
        else
            return 0;
        if (r < 0)
            r = 0;
        if ((int)r != x / s)
            return 0;
    }
    return 1;
}

static int op_resize(ictx *c, int upsample)
{
    const ypr_onnx_node *n = c->cur;
    int64_t opset = c->o->opset;
    TRY(need_inputs(c, 1, 4));   /* X; roi, scales, sizes optional */
    int x;
    TRY(node_in(c, 0, &x));
    const char *mode = attr_s(n, "mode", "nearest");
    if (strcmp(mode, "nearest") != 0)
        return node_err(c, YPR_EUNSUPPORTED, "mode '%s'; only nearest is supported", mode);
    const char *coord = upsample || opset < 11 ? "asymmetric"
                        : attr_s(n, "coordinate_transformation_mode", "half_pixel");
    const char *round = upsample || opset < 11 ? "floor"
                        : attr_s(n, "nearest_mode", "round_prefer_floor");
    float sc[8];
    int ns = 0;
    const ypr_onnx_attr *sa = ypr__onnx_attr(n, "scales");
    if (upsample && sa) {
        for (int i = 0; i < sa->nfloats && i < 8; i++)
            sc[i] = sa->floats[i];
        ns = sa->nfloats;
    } else {
        int si = upsample || opset < 11 ? 1 : 2;
        if (input(c, si)) {
            TRY(const_floats(c, si, sc, 8, &ns));
        }
        if (ns == 0 && !upsample && opset >= 11 && input(c, 3)) {   /* sizes */
            int64_t sz[8];
            int nz;
            TRY(const_ints(c, 3, sz, 8, &nz));
            ypr_shape *sh = malloc((size_t)c->net->nnodes * sizeof *sh);
            if (!sh)
                return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
            int rc = ypr__net_shapes(c->net, c->S, c->S, sh);
            ypr_shape in = sh[x];
            free(sh);
            if (rc < 0)
                return node_err(c, rc, "%s", ypr_last_error());
            if (nz != 4 || in.h <= 0 || in.w <= 0 || sz[2] % in.h || sz[3] % in.w)
                return node_err(c, YPR_EUNSUPPORTED, "sizes are not an integer multiple of the "
                                "input");
            ns = 4;
            sc[0] = sc[1] = 1.0f;
            sc[2] = (float)(sz[2] / in.h);
            sc[3] = (float)(sz[3] / in.w);
        }
    }
    if (ns != 4 || sc[0] != 1.0f || sc[1] != 1.0f || sc[2] != sc[3] || sc[2] < 1.0f ||
        sc[2] > 64.0f || sc[2] != floorf(sc[2]))
        return node_err(c, YPR_EUNSUPPORTED, "scales must be [1, 1, s, s] with a whole s in "
                        "1..64");
    int s = (int)sc[2];
    if (!nearest_matches(coord, round, s))
        return node_err(c, YPR_EUNSUPPORTED, "coordinate_transformation_mode '%s' with "
                        "nearest_mode '%s' is not a plain nearest upsample by %d", coord, round,
                        s);
    int id = add_node(c, YPR_NODE_UPSAMPLE, &x, 1);
    if (id < 0)
        return id;
    c->net->nodes[id].scale = s;
    set_out(c, V_NODE, id);
    return YPR_OK;
}

static int op_slice(ictx *c)
{
    TRY(need_inputs(c, 3, 5));
    int x, n1, n2, n3 = 2, n4 = 2;
    int64_t st[8], en[8], ax[8] = {2, 3}, sp[8] = {2, 2};
    TRY(node_in(c, 0, &x));
    TRY(const_ints(c, 1, st, 8, &n1));
    TRY(const_ints(c, 2, en, 8, &n2));
    if (input(c, 3))
        TRY(const_ints(c, 3, ax, 8, &n3));
    if (input(c, 4))
        TRY(const_ints(c, 4, sp, 8, &n4));
    if (n1 != 2 || n2 != 2 || n3 != 2 || n4 != 2 || (ax[0] != 2 && ax[0] != -2) ||
        (ax[1] != 3 && ax[1] != -1) || sp[0] != 2 || sp[1] != 2 || st[0] < 0 || st[0] > 1 ||
        st[1] < 0 || st[1] > 1 || en[0] < (int64_t)1 << 30 || en[1] < (int64_t)1 << 30)
        return node_err(c, YPR_EUNSUPPORTED, "only the stride-2 slices of a space-to-depth "
                        "(ReOrg) are supported");
    val *v = set_out(c, V_SLICE, x);
    v->sh = (int)st[0];
    v->sw = (int)st[1];
    return YPR_OK;
}

static dims *new_dims(ictx *c)
{
    dims *d = calloc(1, sizeof *d);
    if (d)
        c->owned[c->nowned++] = d;
    else
        ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
    return d;
}

/* Input i as a dims list: a V_DIMS value or an integer constant of ≤ 8 values. */
static int dims_in(ictx *c, int i, dims *out)
{
    val *v = input(c, i);
    if (v && v->kind == V_DIMS) {
        *out = *v->dl;
        return YPR_OK;
    }
    memset(out, 0, sizeof *out);
    TRY(const_ints(c, i, out->v, 8, &out->n));
    for (int k = 0; k < out->n; k++)
        out->node[k] = -1;
    return YPR_OK;
}

static int set_dims(ictx *c, const dims *d)
{
    dims *nd = new_dims(c);
    if (!nd)
        return YPR_ENOMEM;
    *nd = *d;
    set_out(c, V_DIMS, -1)->dl = nd;
    return YPR_OK;
}

static int op_shape(ictx *c)
{
    TRY(need_inputs(c, 1, 1));
    int x;
    TRY(node_in(c, 0, &x));
    int64_t start = attr_i(c->cur, "start", 0), end = attr_i(c->cur, "end", 4);
    start = start < 0 ? start + 4 : start;
    end = end < 0 ? end + 4 : end > 4 ? 4 : end;
    if (start < 0 || start > end)
        return node_err(c, YPR_EUNSUPPORTED, "start %lld, end %lld", (long long)start,
                        (long long)end);
    dims d = {0};
    for (int64_t a = start; a < end; a++, d.n++) {
        d.node[d.n] = x;
        d.axis[d.n] = (int)a;
    }
    return set_dims(c, &d);
}

static int op_gather(ictx *c)
{
    TRY(need_inputs(c, 2, 2));
    dims in, idx, out = {0};
    TRY(dims_in(c, 0, &in));
    TRY(dims_in(c, 1, &idx));
    if (attr_i(c->cur, "axis", 0) != 0)
        return node_err(c, YPR_EUNSUPPORTED, "only gathering from a shape (axis 0) is supported");
    for (int k = 0; k < idx.n; k++) {
        int64_t j = idx.node[k] < 0 ? idx.v[k] : -1000;
        j = j < 0 && j > -1000 ? j + in.n : j;
        if (j < 0 || j >= in.n)
            return node_err(c, YPR_EFORMAT, "index %lld outside the %d values", (long long)j,
                            in.n);
        out.v[out.n] = in.v[j];
        out.node[out.n] = in.node[j];
        out.axis[out.n++] = in.axis[j];
    }
    return set_dims(c, &out);
}

static int op_unsqueeze(ictx *c)
{
    TRY(need_inputs(c, 1, 2));
    dims in, axes;
    TRY(dims_in(c, 0, &in));
    const ypr_onnx_attr *a = ypr__onnx_attr(c->cur, "axes");
    if (input(c, 1)) {
        TRY(dims_in(c, 1, &axes));
    } else {
        axes.n = a ? a->nints : 0;
        for (int k = 0; k < axes.n && k < 8; k++) {
            axes.v[k] = a->ints[k];
            axes.node[k] = -1;
        }
    }
    if (in.n != 1 || axes.n != 1 || axes.node[0] >= 0 || axes.v[0] != 0)
        return node_err(c, YPR_EUNSUPPORTED, "only a scalar made a 1-D list (axes [0]) is "
                        "supported");
    return set_dims(c, &in);
}

/* Concat of shape pieces (axis 0) into one list. */
static int concat_dims(ictx *c)
{
    dims out = {0}, in;
    if (attr_i(c->cur, "axis", 0) != 0)
        return node_err(c, YPR_EUNSUPPORTED, "a concatenation of integers along axis %lld",
                        (long long)attr_i(c->cur, "axis", 0));
    for (int i = 0; i < c->cur->ninputs; i++) {
        TRY(dims_in(c, i, &in));
        if (out.n + in.n > 8)
            return node_err(c, YPR_EUNSUPPORTED, "more than 8 values");
        for (int k = 0; k < in.n; k++, out.n++) {
            out.v[out.n] = in.v[k];
            out.node[out.n] = in.node[k];
            out.axis[out.n] = in.axis[k];
        }
    }
    return set_dims(c, &out);
}

static int op_reshape(ictx *c)
{
    TRY(need_inputs(c, 2, 2));
    int x, n;
    int64_t d[8];
    dims sd;
    TRY(node_in(c, 0, &x));
    TRY(dims_in(c, 1, &sd));
    n = sd.n;
    for (int k = 0; k < n; k++) {   /* symbolic entries: the map's own batch, H, W */
        d[k] = sd.v[k];
        if (sd.node[k] < 0)
            continue;
        if (sd.node[k] != x || !((k == 0 && sd.axis[k] == 0) || (k == 3 && sd.axis[k] == 2) ||
                                 (k == 4 && sd.axis[k] == 3)))
            return node_err(c, YPR_EUNSUPPORTED, "entry %d of the shape is a dimension of "
                            "another tensor", k);
        d[k] = k == 0 ? -1 : 0;   /* 0: the map's own H, W (not checked) */
    }
    int64_t ch = c->net->nodes[x].c;
    if (n != 5 || d[1] == 0 || d[2] == 0 || (d[1] < 0 && d[2] < 0))
        return node_err(c, YPR_EUNSUPPORTED, "only the head's reshape [N, anchors, 5 + classes, "
                        "H, W] is supported");
    if (d[1] < 0 && d[2] > 0 && ch % d[2] == 0)
        d[1] = ch / d[2];
    if (d[2] < 0 && d[1] > 0 && ch % d[1] == 0)
        d[2] = ch / d[1];
    if (d[1] <= 0 || d[2] <= 0 || d[1] > ch || d[2] > ch || d[1] * d[2] != ch)
        return node_err(c, YPR_ESHAPE, "reshape of %lld channels into %lld anchors x %lld "
                        "outputs", (long long)ch, (long long)d[1], (long long)d[2]);
    val *v = set_out(c, V_RESHAPE, x);
    v->na = d[1];
    v->no = d[2];
    v->h = d[3];
    v->w = d[4];
    return YPR_OK;
}

static int op_transpose(ictx *c)
{
    TRY(need_inputs(c, 1, 1));
    val *v = input(c, 0);
    const ypr_onnx_attr *p = ypr__onnx_attr(c->cur, "perm");
    static const int64_t head[5] = {0, 1, 3, 4, 2};
    if (v->kind != V_RESHAPE || !p || p->nints != 5 || memcmp(p->ints, head, sizeof head))
        return node_err(c, YPR_EUNSUPPORTED, "only the head's transpose [0, 1, 3, 4, 2] after "
                        "its reshape is supported");
    val *o = set_out(c, V_HEAD, v->node);
    o->na = v->na;
    o->no = v->no;
    o->h = v->h;
    o->w = v->w;
    return YPR_OK;
}

/* Constant: value (tensor) or value_float(s) / value_int(s). */
static int op_constant(ictx *c)
{
    const ypr_onnx_node *n = c->cur;
    if (n->noutputs < 1)
        return node_err(c, YPR_EFORMAT, "no output");
    const ypr_onnx_attr *a = ypr__onnx_attr(n, "value");
    const ypr_onnx_tensor *t = a ? a->t : NULL;
    if (!t) {
        const ypr_onnx_attr *fa = ypr__onnx_attr(n, "value_floats"),
                            *ia = ypr__onnx_attr(n, "value_ints");
        size_t k8 = 8 * (size_t)(1 + (fa ? fa->nfloats : 0) + (ia ? ia->nints : 0));
        ypr_onnx_tensor *nt = calloc(1, sizeof *nt + k8);
        if (!nt)
            return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
        c->owned[c->nowned++] = nt;
        uint8_t *data = (uint8_t *)(nt + 1);
        nt->name = n->outputs[0];
        nt->data = data;
        if ((a = ypr__onnx_attr(n, "value_float")) || (a = ypr__onnx_attr(n, "value_floats"))) {
            int k = a->type == YPR_ONNX_ATTR_FLOAT || strcmp(a->name, "value_float") == 0
                    ? 1 : a->nfloats;
            nt->dtype = YPR_ONNX_FLOAT;
            nt->ndim = strcmp(a->name, "value_float") == 0 ? 0 : 1;
            nt->dims[0] = k;
            nt->numel = k;
            if (k == 1 && nt->ndim == 0)
                memcpy(data, &a->f, 4);
            else
                memcpy(data, a->floats, (size_t)k * 4);
        } else if ((a = ypr__onnx_attr(n, "value_int")) ||
                   (a = ypr__onnx_attr(n, "value_ints"))) {
            int scalar = strcmp(a->name, "value_int") == 0, k = scalar ? 1 : a->nints;
            nt->dtype = YPR_ONNX_INT64;
            nt->ndim = scalar ? 0 : 1;
            nt->dims[0] = k;
            nt->numel = k;
            memcpy(data, scalar ? &a->i : a->ints, (size_t)k * 8);
        } else {
            return node_err(c, YPR_EUNSUPPORTED, "a Constant without a numeric value");
        }
        t = nt;
    }
    val *v = set_out(c, V_CONST, -1);
    v->t = t;
    return YPR_OK;
}

static int op_identity(ictx *c)
{
    TRY(need_inputs(c, 1, 1));
    val *in = input(c, 0);
    val *o = get_val(c, c->cur->outputs[0]);
    const char *name = o->name;
    int readers = o->readers, qreaders = o->qreaders;
    *o = *in;
    o->name = name;
    o->readers = readers;
    o->qreaders = qreaders;
    if (in->readers != 1)   /* σ(x) read elsewhere too: not a SiLU */
        o->sigmoid_of = -1;
    return YPR_OK;
}

/* ------------------------------------------------------- QDQ (INT8) */

/* A QuantizeLinear / DequantizeLinear's step: scale (input 1; one value or
 * one per channel), zero point (input 2; its type is the integer type,
 * UINT8 when absent) and axis. */
typedef struct qspec {
    int dtype;                    /* YPR_ONNX_INT8, UINT8, INT32 */
    int64_t n;                    /* scales: 1 (per tensor) or per channel */
    float *s;                     /* n scales, owned by the context */
    int32_t zero;
    int64_t axis;
} qspec;

static void *own(ictx *c, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (p)
        c->owned[c->nowned++] = p;
    else
        ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
    return p;
}

static int dtype_range(int dt, int32_t *lo, int32_t *hi)
{
    switch (dt) {
    case YPR_ONNX_INT8: *lo = -128; *hi = 127; return 1;
    case YPR_ONNX_UINT8: *lo = 0; *hi = 255; return 1;
    case YPR_ONNX_INT32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
    default: return 0;
    }
}

/* `dflt`: the integer type when the zero point is left out (QuantizeLinear:
 * UINT8; DequantizeLinear: its input's). */
static int read_qspec(ictx *c, int int32_ok, int dflt, qspec *q)
{
    const ypr_onnx_tensor *st, *zt = NULL;
    TRY(const_in(c, 1, &st));
    if (input(c, 2))
        TRY(const_in(c, 2, &zt));
    memset(q, 0, sizeof *q);
    q->dtype = zt ? zt->dtype : dflt;
    int32_t lo, hi;
    if (!dtype_range(q->dtype, &lo, &hi) || (q->dtype == YPR_ONNX_INT32 && !int32_ok))
        return node_err(c, YPR_EUNSUPPORTED, "zero point %s has element type %d; INT8 and UINT8 "
                        "(INT32 for a dequantized bias) are supported", zt ? zt->name : "(none)",
                        q->dtype);
    if (st->numel < 1 || st->numel > YPR_NET_MAX_CHANNELS || st->ndim > 1 ||
        (zt && (zt->numel != st->numel || zt->ndim != st->ndim)))
        return node_err(c, YPR_ESHAPE, "scale %s (%lld values) and zero point %s (%lld) must be "
                        "one value, or one per channel", st->name, (long long)st->numel,
                        zt ? zt->name : "(none)", zt ? (long long)zt->numel : 0LL);
    q->n = st->numel;
    q->s = own(c, (size_t)q->n * sizeof(float));
    if (!q->s)
        return YPR_ENOMEM;
    if (ypr__onnx_tensor_f32(st, q->s) < 0)
        return node_err(c, YPR_EFORMAT, "scale %s is not a float tensor", st->name);
    for (int64_t k = 0; k < q->n; k++)
        if (!(q->s[k] > 0) || !isfinite(q->s[k]))
            return node_err(c, YPR_ERANGE, "scale %s: value %lld is %g, not a positive finite "
                            "number", st->name, (long long)k, (double)q->s[k]);
    if (zt) {
        int64_t *z = malloc((size_t)q->n * sizeof *z);
        if (!z)
            return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
        int rc = ypr__onnx_tensor_i64(zt, z);
        for (int64_t k = 1; rc == YPR_OK && k < q->n; k++)
            if (z[k] != z[0])
                rc = node_err(c, YPR_EUNSUPPORTED, "zero point %s differs between channels (%lld, "
                              "%lld): one zero point per tensor is supported", zt->name,
                              (long long)z[0], (long long)z[k]);
        q->zero = (int32_t)z[0];
        free(z);
        TRY(rc);
    }
    q->axis = attr_i(c->cur, "axis", 1);
    if (q->n > 1 && c->o->opset && c->o->opset < 13)
        return node_err(c, YPR_EUNSUPPORTED, "per-channel scales need opset 13");
    return YPR_OK;
}

/* Per-channel steps of a constant t: along axis 0, one per slice. */
static int qspec_fits(ictx *c, const qspec *q, const ypr_onnx_tensor *t)
{
    if (q->n == 1)
        return YPR_OK;
    int64_t ax = q->axis < 0 ? q->axis + t->ndim : q->axis;
    if (ax != 0)
        return node_err(c, YPR_EUNSUPPORTED, "per-channel axis %lld of %s: only axis 0 (output "
                        "channels) is supported", (long long)q->axis, t->name);
    if (t->ndim < 1 || t->dims[0] != q->n)
        return node_err(c, YPR_ESHAPE, "%lld scales for the %lld channels of %s",
                        (long long)q->n, t->ndim ? (long long)t->dims[0] : 0LL, t->name);
    return YPR_OK;
}

static ypr_qparam qspec_step(const qspec *q)
{
    int32_t lo = 0, hi = 0;
    dtype_range(q->dtype, &lo, &hi);
    float top = 0;
    for (int64_t k = 0; k < q->n; k++)
        top = q->s[k] > top ? q->s[k] : top;
    if (q->dtype == YPR_ONNX_INT32)
        lo = INT32_MIN + 1;   /* symmetric, as the per-channel scheme's biases */
    return (ypr_qparam){top, q->zero, lo, hi, YPR_ROUND_HALF_EVEN, q->n > 1};
}

/* The step the "quantization" metadata (our export) records under
 * section/key, into *out, when it is there and agrees with `graph` (the
 * same zero point, the same scale within float rounding). */
static int meta_step(const ictx *c, const char *section, const char *key, const ypr_qparam *graph,
                     ypr_qparam *out)
{
    const ypr_json *a = ypr__json_get(ypr__json_get(c->qmeta, section), key);
    if (ypr__json_type(a) != YPR_JSON_ARRAY || ypr__json_len(a) != 6)
        return 0;
    int64_t v[5];
    for (int k = 0; k < 5; k++)
        if (ypr__json_int(ypr__json_at(a, (size_t)k + 1), &v[k]) < 0 || v[k] < INT32_MIN ||
            v[k] > INT32_MAX)
            return 0;
    ypr_qparam q = {(float)ypr__json_num(ypr__json_at(a, 0)), (int32_t)v[0], (int32_t)v[1],
                    (int32_t)v[2], (int)v[3], (int)v[4]};
    if (graph && (q.zero != graph->zero || q.per_channel != graph->per_channel ||
                  !(fabs((double)q.scale - graph->scale) <= 1e-6 * graph->scale)))
        return 0;
    if (ypr__qparam_check(&q, key, section) < 0) {
        ypr__clear_error();
        return 0;
    }
    *out = q;
    return 1;
}

/* QuantizeLinear: of a constant, its integers (a weight written as float
 * and quantized in the graph, as PyTorch exports fake quantization); of a
 * feature map, a pending step that DequantizeLinear completes. */
static int op_quantize(ictx *c)
{
    TRY(need_inputs(c, 2, 3));
    qspec q;
    TRY(read_qspec(c, 0, YPR_ONNX_UINT8, &q));
    val *x = input(c, 0);
    int32_t lo = 0, hi = 0;
    dtype_range(q.dtype, &lo, &hi);
    if (x->kind == V_CONST) {
        const ypr_onnx_tensor *t = x->t;
        TRY(qspec_fits(c, &q, t));
        float *f = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *f);
        if (!f)
            return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
        int rc = ypr__onnx_tensor_f32(t, f);
        ypr_onnx_tensor *nt = rc < 0 ? NULL : own(c, sizeof *nt + (size_t)t->numel);
        if (nt) {
            *nt = *t;   /* keeps the float weight's (state_dict) name */
            nt->dtype = q.dtype;
            nt->nbytes = (size_t)t->numel;
            uint8_t *d = (uint8_t *)(nt + 1);
            int64_t per = q.n > 1 ? t->numel / q.n : t->numel;
            for (int64_t k = 0; k < t->numel; k++) {   /* half to even, saturating */
                float v = rintf(f[k] / q.s[q.n > 1 ? k / per : 0]) + (float)q.zero;
                v = v < lo ? (float)lo : v > hi ? (float)hi : v;
                d[k] = q.dtype == YPR_ONNX_INT8 ? (uint8_t)(int8_t)v : (uint8_t)v;
            }
            nt->data = d;
        }
        free(f);
        if (rc < 0)
            return node_err(c, rc, "%s is not a float tensor", t->name);
        if (!nt)
            return YPR_ENOMEM;
        set_out(c, V_CONST, -1)->t = nt;
        return YPR_OK;
    }
    if (x->kind != V_NODE && x->kind != V_HEAD && x->kind != V_RESHAPE)
        return node_err(c, YPR_EUNSUPPORTED, "input '%s' is inside a pattern we fuse (hard-swish, "
                        "reorg slices, an integer shape): a quantization step there cannot be "
                        "represented", c->cur->inputs[0]);
    if (q.n != 1)
        return node_err(c, YPR_EUNSUPPORTED, "per-channel quantization of the feature map '%s': "
                        "only weights may have per-channel steps", c->cur->inputs[0]);
    if (x->readers != x->qreaders)
        return node_err(c, YPR_EUNSUPPORTED, "'%s' is also read unquantized (%d of its %d readers "
                        "are not QuantizeLinear): one step per value cannot represent that",
                        c->cur->inputs[0], x->readers - x->qreaders, x->readers);
    int src = (int)(x - c->vals);
    val *v = set_out(c, V_QACT, x->node);
    v->src = src;
    v->q = qspec_step(&q);
    meta_step(c, "aq", c->cur->inputs[0], &v->q, &v->q);
    return YPR_OK;
}

static int same_step(const ypr_qparam *a, const ypr_qparam *b)
{
    return a->scale == b->scale && a->zero == b->zero;
}

/* The step of node `nd`'s value, from a QDQ pair. A pair after max-pool,
 * upsample or reorg that repeats its source's step is an identity on that
 * grid (dropped: such nodes carry no step of their own). */
static int set_act_step(ictx *c, int nd, const ypr_qparam *q, const char *value)
{
    ypr_node *n = &c->net->nodes[nd];
    int s = nd;
    while (s > 0 && (c->net->nodes[s].kind == YPR_NODE_MAXPOOL ||
                     c->net->nodes[s].kind == YPR_NODE_UPSAMPLE ||
                     c->net->nodes[s].kind == YPR_NODE_REORG))
        s = c->net->nodes[s].inputs[0];
    const ypr_qparam *sq = &c->net->nodes[s].aq;
    if (s != nd && n->aq.scale == 0 && same_step(sq, q) && q->qmin <= sq->qmin &&
        q->qmax >= sq->qmax)
        return YPR_OK;
    if (n->aq.scale > 0 && !(same_step(&n->aq, q) && n->aq.qmin == q->qmin &&
                             n->aq.qmax == q->qmax && n->aq.round == q->round))
        return node_err(c, YPR_EUNSUPPORTED, "'%s' is quantized twice with different steps "
                        "(scale %g zero %d, scale %g zero %d)", value, (double)n->aq.scale,
                        (int)n->aq.zero, (double)q->scale, (int)q->zero);
    n->aq = *q;
    return YPR_OK;
}

/* DequantizeLinear: of integer constants, float constants on their grid
 * (a weight or bias, its step kept for the conv); of QuantizeLinear's
 * output, the feature map again, now carrying the step. */
static int op_dequantize(ictx *c)
{
    TRY(need_inputs(c, 2, 3));
    val *x = input(c, 0);
    int dflt = x->kind == V_CONST ? x->t->dtype
               : x->kind == V_QACT && x->q.qmin < 0 ? YPR_ONNX_INT8 : YPR_ONNX_UINT8;
    qspec q;
    TRY(read_qspec(c, 1, dflt, &q));
    if (x->kind == V_QACT) {
        ypr_qparam g = qspec_step(&q);
        if (q.n != 1 || !same_step(&g, &x->q) || q.dtype == YPR_ONNX_INT32)
            return node_err(c, YPR_EUNSUPPORTED, "scale or zero point differ from the "
                            "QuantizeLinear making '%s': a requantization cannot be represented",
                            c->cur->inputs[0]);
        const val *src = &c->vals[x->src];
        TRY(set_act_step(c, src->node, &x->q, src->name));
        val *o = get_val(c, c->cur->outputs[0]);
        const char *name = o->name;
        int readers = o->readers, qreaders = o->qreaders;
        *o = *src;
        o->name = name;
        o->readers = readers;
        o->qreaders = qreaders;
        return YPR_OK;
    }
    if (x->kind != V_CONST || x->t->dtype != q.dtype)
        return node_err(c, YPR_EUNSUPPORTED, "input '%s' is neither QuantizeLinear's output nor "
                        "an integer constant of the zero point's type", c->cur->inputs[0]);
    const ypr_onnx_tensor *t = x->t;
    TRY(qspec_fits(c, &q, t));
    int64_t *iv = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *iv);
    if (!iv)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
    int rc = ypr__onnx_tensor_i64(t, iv);
    ypr_onnx_tensor *nt = rc < 0 ? NULL : own(c, sizeof *nt + (size_t)t->numel * sizeof(float));
    if (nt) {
        *nt = *t;   /* named after its output (ours: the state_dict name) unless PyTorch's
                     * "/…/DequantizeLinear_output_0": then after the integers' source */
        const char *o = c->cur->outputs[0];
        if (o[0] != '/' && !strchr(o, ':'))
            nt->name = o;
        nt->dtype = YPR_ONNX_FLOAT;
        nt->nbytes = (size_t)t->numel * sizeof(float);
        float *d = (float *)(nt + 1);
        int64_t per = q.n > 1 ? t->numel / q.n : t->numel;
        for (int64_t k = 0; k < t->numel; k++)   /* as ONNX: (float)(q − z) · s */
            d[k] = (float)(int32_t)(iv[k] - q.zero) * q.s[q.n > 1 ? k / per : 0];
        nt->data = (const uint8_t *)d;
    }
    free(iv);
    if (rc < 0)
        return node_err(c, rc, "%s is not an integer tensor", t->name);
    if (!nt)
        return YPR_ENOMEM;
    val *o = set_out(c, V_CONST, -1);
    o->t = nt;
    o->q = qspec_step(&q);
    return YPR_OK;
}

static int do_node(ictx *c)
{
    const ypr_onnx_node *n = c->cur;
    const char *op = n->op;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return node_err(c, YPR_EUNSUPPORTED, "op of domain '%s' is not supported", n->domain);
    if (n->noutputs > 0 && n->outputs[0][0]) {
        int k = find_val(c, n->outputs[0]);
        if (k >= 0 && c->vals[k].kind != V_NONE)
            return node_err(c, YPR_EFORMAT, "output '%s' is already defined", n->outputs[0]);
    }
    if (strcmp(op, "Conv") == 0) return op_conv(c);
    if (strcmp(op, "BatchNormalization") == 0) return op_bn(c);
    if (strcmp(op, "Relu") == 0) return op_act(c, YPR_ACT_RELU);
    if (strcmp(op, "LeakyRelu") == 0) return op_act(c, YPR_ACT_LEAKY);
    if (strcmp(op, "Sigmoid") == 0) return op_act(c, YPR_ACT_SIGMOID);
    if (strcmp(op, "HardSwish") == 0) return op_act(c, YPR_ACT_HARDSWISH);
    if (strcmp(op, "HardSigmoid") == 0) return op_hardsigmoid(c);
    if (strcmp(op, "Mul") == 0) return op_mul(c);
    if (strcmp(op, "Add") == 0) return op_add(c, 0);
    if (strcmp(op, "Sum") == 0) return op_add(c, 1);
    if (strcmp(op, "Concat") == 0) return op_concat(c);
    if (strcmp(op, "MaxPool") == 0) return op_maxpool(c);
    if (strcmp(op, "Resize") == 0) return op_resize(c, 0);
    if (strcmp(op, "Upsample") == 0) return op_resize(c, 1);
    if (strcmp(op, "Slice") == 0) return op_slice(c);
    if (strcmp(op, "Reshape") == 0) return op_reshape(c);
    if (strcmp(op, "Shape") == 0) return op_shape(c);
    if (strcmp(op, "Gather") == 0) return op_gather(c);
    if (strcmp(op, "Unsqueeze") == 0) return op_unsqueeze(c);
    if (strcmp(op, "Transpose") == 0) return op_transpose(c);
    if (strcmp(op, "Identity") == 0) return op_identity(c);
    if (strcmp(op, "Constant") == 0) return op_constant(c);
    if (strcmp(op, "QuantizeLinear") == 0) return op_quantize(c);
    if (strcmp(op, "DequantizeLinear") == 0) return op_dequantize(c);
    return node_err(c, YPR_EUNSUPPORTED, "op %s is not supported (supported: Conv, "
                    "BatchNormalization, Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Mul, "
                    "Add, Sum, Concat, MaxPool, Resize, Upsample, Slice (ReOrg), Reshape and "
                    "Transpose (head, its shape also by Shape/Gather/Unsqueeze/Concat), "
                    "Identity, Constant, QuantizeLinear, DequantizeLinear); export the raw head (Detect in "
                    "training mode, no grid decoding)", op);
}

/* ------------------------------------------------------------ the graph */

static int count_readers(ictx *c)
{
    const ypr_onnx *o = c->o;
    for (int i = 0; i < o->nnodes; i++)
        for (int j = 0; j < o->nodes[i].ninputs; j++)
            if (o->nodes[i].inputs[j][0]) {
                val *v = get_val(c, o->nodes[i].inputs[j]);
                v->readers++;
                v->qreaders += j == 0 && strcmp(o->nodes[i].op, "QuantizeLinear") == 0;
            }
    for (int i = 0; i < o->noutputs; i++)
        get_val(c, o->outputs[i].name)->readers++;
    return YPR_OK;
}

static int graph_input(ictx *c)
{
    const ypr_onnx *o = c->o;
    const ypr_onnx_value *in = NULL;
    for (int i = 0; i < o->ninputs; i++) {
        int k = find_val(c, o->inputs[i].name);
        if (k >= 0 && c->vals[k].kind == V_CONST)
            continue;   /* IR < 4 lists initializers as inputs too */
        RETURN_IF(in, YPR_EUNSUPPORTED, "%s: ONNX: more than one graph input ('%s', '%s')",
                  c->what, in->name, o->inputs[i].name);
        in = &o->inputs[i];
    }
    RETURN_IF(!in, YPR_EFORMAT, "%s: ONNX: the graph has no input", c->what);
    RETURN_IF(in->elem_type && in->elem_type != YPR_ONNX_FLOAT, YPR_EUNSUPPORTED,
              "%s: ONNX: input '%s' has element type %d; float32 is supported", c->what, in->name,
              in->elem_type);
    RETURN_IF(in->ndim >= 0 && (in->ndim != 4 || (in->dims[1] >= 0 &&
              in->dims[1] != YPR_NET_INPUT_CHANNELS)), YPR_EUNSUPPORTED,
              "%s: ONNX: input '%s' must be [N, %d, H, W]", c->what, in->name,
              YPR_NET_INPUT_CHANNELS);
    if (in->ndim == 4 && in->dims[2] > 0 && in->dims[2] <= YPR_NET_MAX_INPUT_SIDE)
        c->S = in->dims[2];
    int id = ypr__net_add(c->net, YPR_NODE_INPUT, "input", -1, NULL, 0);
    if (id < 0)
        return id;
    c->net->nodes[id].c = YPR_NET_INPUT_CHANNELS;
    name_put(c, id);
    val *v = get_val(c, in->name);
    v->kind = V_NODE;
    v->node = id;
    return YPR_OK;
}

static const float yolov7_anchors[3][6] = {
    {12, 16, 19, 36, 40, 28}, {36, 75, 76, 55, 72, 146}, {142, 110, 192, 243, 459, 401}};

/* Anchors in pixels, [nl][2·na], from metadata or YOLOv7's defaults. */
static int anchors_of(ictx *c, int nl, int na, float *out)
{
    const char *txt = ypr__onnx_meta(c->o, "anchors");
    if (!txt) {
        RETURN_IF(nl != 3 || na != 3, YPR_EFORMAT, "%s: ONNX: no 'anchors' in metadata_props "
                  "and %d levels x %d anchors are not YOLOv7's defaults", c->what, nl, na);
        ypr__log(YPR_LOG_WARN, "%s: no 'anchors' in the ONNX metadata: YOLOv7's default "
                 "anchors assumed", c->what);
        for (int l = 0; l < 3; l++)
            for (int a = 0; a < 6; a++)
                out[l * 6 + a] = yolov7_anchors[l][a];
        return YPR_OK;
    }
    ypr_json *j;
    TRY(ypr__json_parse(txt, strlen(txt), c->what, &j));
    int ok = ypr__json_type(j) == YPR_JSON_ARRAY && ypr__json_len(j) == (size_t)nl;
    for (int l = 0; ok && l < nl; l++) {
        const ypr_json *row = ypr__json_at(j, (size_t)l);
        ok = ypr__json_len(row) == (size_t)(2 * na);
        for (int a = 0; ok && a < 2 * na; a++) {
            const ypr_json *e = ypr__json_at(row, (size_t)a);
            double v = ypr__json_num(e);
            ok = ypr__json_type(e) == YPR_JSON_NUMBER && v > 0 && v <= 65536;
            out[l * 2 * na + a] = (float)v;
        }
    }
    ypr__json_free(j);
    RETURN_IF(!ok, YPR_EFORMAT, "%s: ONNX: metadata 'anchors' must list %d levels of %d "
              "positive numbers (pixels)", c->what, nl, 2 * na);
    return YPR_OK;
}

/* The detect node's name: "model.L" when the heads are model.L.m.<l> or
 * model.L.im.<l>, else "detect". */
static void detect_name(const ictx *c, const int *heads, char *out, size_t cap)
{
    const char *h = c->net->nodes[heads[0]].name;
    const char *m = strstr(h, ".m.");
    if (!m)
        m = strstr(h, ".im.");
    if (layer_of(h) >= 0 && m)
        snprintf(out, cap, "%.*s", (int)(m - h), h);
    else
        snprintf(out, cap, "detect");
}

static int build_detect(ictx *c)
{
    const ypr_onnx *o = c->o;
    int nl = o->noutputs, heads[YPR_MAX_LEVELS];
    int64_t na = 0, no = 0, hh[YPR_MAX_LEVELS], ww[YPR_MAX_LEVELS];
    RETURN_IF(nl < 1 || nl > YPR_MAX_LEVELS, YPR_EUNSUPPORTED, "%s: ONNX: %d graph outputs; a "
              "detector has 1..%d head outputs", c->what, nl, YPR_MAX_LEVELS);
    const char *mna = ypr__onnx_meta(o, "na");
    for (int l = 0; l < nl; l++) {
        int k = find_val(c, o->outputs[l].name);
        val *v = k >= 0 ? &c->vals[k] : NULL;
        RETURN_IF(!v || (v->kind != V_HEAD && v->kind != V_NODE), YPR_EUNSUPPORTED,
                  "%s: ONNX: output '%s' is not a raw head map ([N, na*no, H, W], or reshaped to "
                  "[N, na, H, W, no])", c->what, o->outputs[l].name);
        int64_t lna = v->kind == V_HEAD ? v->na : mna ? atoi(mna) : 3;
        int64_t ch = c->net->nodes[v->node].c;
        RETURN_IF(lna < 1 || lna > 64 || ch % lna, YPR_ESHAPE, "%s: ONNX: output '%s': %lld "
                  "channels are not %lld anchors x outputs", c->what, o->outputs[l].name,
                  (long long)ch, (long long)lna);
        RETURN_IF(l && (lna != na || ch / lna != no), YPR_ESHAPE, "%s: ONNX: output '%s' has %lld "
                  "anchors x %lld outputs, output 0 %lld x %lld", c->what, o->outputs[l].name,
                  (long long)lna, (long long)(ch / lna), (long long)na, (long long)no);
        na = lna;
        no = ch / lna;
        heads[l] = v->node;
        hh[l] = v->kind == V_HEAD ? v->h : 0;
        ww[l] = v->kind == V_HEAD ? v->w : 0;
    }
    RETURN_IF(no < 6 || no - 5 > 100000, YPR_ESHAPE, "%s: ONNX: %lld outputs per anchor (5 + "
              "classes, at least one class)", c->what, (long long)no);
    float anch[YPR_MAX_LEVELS * 128];
    RETURN_IF(na > 64, YPR_ERANGE, "%s: ONNX: %lld anchors", c->what, (long long)na);
    TRY(anchors_of(c, nl, (int)na, anch));
    char name[YPR_NAME_MAX];
    detect_name(c, heads, name, sizeof name);
    for (int j = 1; name_taken(c, name); j++)
        snprintf(name, sizeof name, "detect_%d", j);
    int id = ypr__net_add(c->net, YPR_NODE_DETECT, name, layer_of(name), heads, nl);
    if (id < 0)
        return id;
    ypr_node *d = &c->net->nodes[id];
    if (d->layer == -2)
        d->layer = id;
    d->nc = (int)(no - 5);
    d->na = (int)na;
    d->nl = nl;
    /* strides and the reshape's H, W at the input size */
    ypr_shape *sh = malloc((size_t)c->net->nnodes * sizeof *sh);
    RETURN_IF(!sh, YPR_ENOMEM, "%s: out of memory", c->what);
    int rc = ypr__net_shapes(c->net, c->S, c->S, sh);
    if (rc < 0) {   /* inconsistent shapes: name the file too */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ypr_last_error());
        free(sh);
        return ypr__error(rc, "%s: ONNX: at a %lldx%lld input: %s", c->what, (long long)c->S,
                          (long long)c->S, msg);
    }
    for (int l = 0; rc == YPR_OK && l < nl; l++) {
        const ypr_shape *s = &sh[heads[l]];
        if ((hh[l] > 0 && hh[l] != s->h) || (ww[l] > 0 && ww[l] != s->w))
            rc = ypr__error(YPR_ESHAPE, "%s: ONNX: output '%s' is reshaped to %lldx%lld but the "
                            "map is %lldx%lld at a %lldx%lld input", c->what, o->outputs[l].name,
                            (long long)hh[l], (long long)ww[l], (long long)s->h, (long long)s->w,
                            (long long)c->S, (long long)c->S);
        else if (s->h < 1 || s->h > c->S)
            rc = ypr__error(YPR_ESHAPE, "%s: ONNX: output '%s' is %lld rows high at a %lld-row "
                            "input: no stride", c->what, o->outputs[l].name, (long long)s->h,
                            (long long)c->S);
        else
            d->strides[l] = (float)c->S / (float)s->h;
    }
    free(sh);
    TRY(rc);
    int64_t as[3] = {nl, na, 2}, gs[6] = {nl, 1, na, 1, 1, 2};
    char pn[YPR_NAME_MAX + 16];
    snprintf(pn, sizeof pn, "%.80s.anchors", name);
    int pa = ypr__net_add_param(c->net, pn, 3, as, 1);
    if (pa < 0)
        return pa;
    snprintf(pn, sizeof pn, "%.80s.anchor_grid", name);
    int pg = ypr__net_add_param(c->net, pn, 6, gs, 1);
    if (pg < 0)
        return pg;
    d = &c->net->nodes[id];
    d->p[0] = pa;
    d->p[1] = pg;
    float *a = c->net->params[pa].data, *g = c->net->params[pg].data;
    for (int l = 0; l < nl; l++)
        for (int k = 0; k < 2 * na; k++) {
            g[l * 2 * na + k] = anch[l * 2 * na + k];
            a[l * 2 * na + k] = anch[l * 2 * na + k] / d->strides[l];
        }
    return YPR_OK;
}

/* Class names (JSON array of nc strings), modules and input size. */
static void apply_meta(ictx *c, ypr_model *m)
{
    const char *names = ypr__onnx_meta(c->o, "names"), *size = ypr__onnx_meta(c->o, "input_size");
    const char *mods = ypr__onnx_meta(c->o, "modules");
    ypr_json *j;
    if (names && ypr__json_parse(names, strlen(names), c->what, &j) == YPR_OK) {
        if (ypr__json_type(j) == YPR_JSON_ARRAY && ypr__json_len(j) == (size_t)m->nc) {
            m->names = calloc((size_t)m->nc, sizeof(char *));
            for (int i = 0; m->names && i < m->nc; i++) {
                const char *s = ypr__json_str(ypr__json_at(j, (size_t)i));
                m->names[i] = strdup(s ? s : "");
            }
        }
        ypr__json_free(j);
    }
    ypr__clear_error();
    if (mods && ypr__json_parse(mods, strlen(mods), c->what, &j) == YPR_OK) {
        for (int i = 0; ypr__json_type(j) == YPR_JSON_OBJECT && i < c->net->nnodes; i++) {
            const char *s = ypr__json_str(ypr__json_get(j, c->net->nodes[i].name));
            if (s && strlen(s) < YPR_MODULE_MAX)
                snprintf(c->net->nodes[i].module, YPR_MODULE_MAX, "%s", s);
        }
        ypr__json_free(j);
    }
    ypr__clear_error();
    long sz = size ? strtol(size, NULL, 10) : 0;
    if (sz >= 32 && sz <= 8192 && sz % 32 == 0)
        m->input_size = (int)sz;
    else if (c->S % 32 == 0 && c->S >= 32 && c->S <= 8192)
        m->input_size = (int)c->S;
}

static int import_net(ictx *c)
{
    const ypr_onnx *o = c->o;
    RETURN_IF(o->opset && (o->opset < 7 || o->opset > 18), YPR_EUNSUPPORTED,
              "%s: ONNX opset %lld is not supported (7..18; PyTorch's 11..17 are tested)",
              c->what, (long long)o->opset);
    TRY(count_readers(c));
    const char *qm = ypr__onnx_meta(o, "quantization");
    if (qm && ypr__json_parse(qm, strlen(qm), c->what, &c->qmeta) < 0)
        ypr__clear_error();   /* only refines what the graph says */
    for (int i = 0; i < o->ninits; i++) {
        val *v = get_val(c, o->inits[i].name);
        v->kind = V_CONST;
        v->t = &o->inits[i];
    }
    TRY(graph_input(c));
    for (int i = 0; i < o->nnodes; i++) {
        c->cur = &o->nodes[i];
        TRY(do_node(c));
    }
    c->cur = NULL;
    return build_detect(c);
}

int ypr__onnx_import(const ypr_onnx *o, const char *what, ypr_model **out)
{
    RETURN_IF(!o || !out, YPR_EINVAL, "ONNX: NULL argument");
    *out = NULL;
    what = what ? what : "<onnx>";
    ictx c = {.o = o, .what = what, .S = 640};
    int64_t names = 2 + o->ninits + o->ninputs + o->noutputs;
    for (int i = 0; i < o->nnodes; i++)
        names += o->nodes[i].ninputs + o->nodes[i].noutputs;
    int nslots = 64;
    while (nslots < 2 * names)
        nslots *= 2;
    int nnslots = 64;
    while (nnslots < 2 * (o->nnodes + 4) && nnslots < 4 * YPR_NET_MAX_NODES)
        nnslots *= 2;
    c.vals = calloc((size_t)names, sizeof *c.vals);
    c.slot = calloc((size_t)nslots, sizeof *c.slot);
    c.nslot = calloc((size_t)nnslots, sizeof *c.nslot);
    c.owned = calloc(2 * (size_t)o->nnodes + 1, sizeof *c.owned);   /* ≤ 2 a node */
    c.nslots = nslots;
    c.nnslots = nnslots;
    ypr_model *m = NULL;
    int rc = c.vals && c.slot && c.nslot && c.owned ? ypr__model_new(&m)
                                                   : ypr__error(YPR_ENOMEM, "%s: out of memory",
                                                                what);
    if (rc == YPR_OK) {
        c.net = &m->net;
        rc = import_net(&c);
    }
    if (rc == YPR_OK)   /* QDQ weights and biases on their steps' grids become I8 / I32 */
        rc = ypr__net_mark_quantized(&m->net);
    if (rc == YPR_OK && (rc = ypr__net_validate(&m->net)) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ypr_last_error());
        rc = ypr__error(rc, "%s: %s", what, msg);
    }
    if (rc == YPR_OK) {
        m->nc = m->net.nodes[m->net.nnodes - 1].nc;
        apply_meta(&c, m);
    }
    ypr__json_free(c.qmeta);
    for (int i = 0; i < c.nowned; i++)
        free(c.owned[i]);
    free(c.owned);
    free(c.vals);
    free(c.slot);
    free(c.nslot);
    if (rc < 0) {
        ypr_model_free(m);
        return rc;
    }
    *out = m;
    return YPR_OK;
}

int ypr__onnx_load(const char *path, ypr_model **out)
{
    ypr_onnx *o;
    TRY(ypr__onnx_read(path, &o));
    int rc = ypr__onnx_import(o, path, out);
    ypr__onnx_free(o);
    return rc;
}

int ypr__onnx_is_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}
