/* YOLOv7 cfg → net. Follows the channel arithmetic of YOLOv7's model
 * parser: `from` indices relative (negative) or absolute, the first layer
 * reads the image, output widths scaled by width_multiple and rounded up to
 * a multiple of 8 (except the head's outputs), repeats scaled by
 * depth_multiple. Each module expands into primitive nodes whose tensors
 * carry the exact PyTorch state_dict names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct ctx {
    ypr_net *net;
    const char *file;
    int nc;
    double gd, gw;
    const ypr_yaml *anchors;
    int64_t param_floats;  /* tensors so far, against YPR_NET_MAX_PARAM_BYTES */
    int layer;           /* current cfg layer */
    int line;
    int out[YPR_CFG_MAX_LAYERS]; /* output node per layer */
    int64_t ch[YPR_CFG_MAX_LAYERS];
    int input;           /* input node */
} ctx;

static int err(const ctx *c, int code, const char *what, const char *detail)
{
    return ypr__error(code, "%s:%d: layer %d: %s%s%s", c->file, c->line, c->layer, what,
                      detail ? ": " : "", detail ? detail : "");
}

/* ---------------------------------------------------------- scalar values */

static int eval_arg(const ctx *c, const ypr_yaml *v, ypr_cfg_arg *a)
{
    TRY(ypr__cfg_arg(v, c->layer, a));
    if (a->kind == YPR_CFG_NC)
        a->v = c->nc;
    return YPR_OK;
}

/* Integer argument i of args, or `def` when absent or None. */
static int int_arg(const ctx *c, const ypr_yaml *args, int i, int def, int *out)
{
    *out = def;
    if (!args || i >= args->n)
        return YPR_OK;
    ypr_cfg_arg a;
    TRY(eval_arg(c, args->items[i], &a));
    if (a.kind == YPR_CFG_NONE)
        return YPR_OK;
    if (a.kind != YPR_CFG_INT && a.kind != YPR_CFG_NC)
        return err(c, YPR_EFORMAT, "expected an integer argument", args->items[i]->s);
    RETURN_IF(a.v < 0 || a.v > 1e6, YPR_EFORMAT, "%s:%d: layer %d: argument %d out of range",
              c->file, c->line, c->layer, i);
    *out = (int)a.v;
    return YPR_OK;
}

static int64_t make_divisible(double x, int d)
{
    return (int64_t)ceil(x / d) * d;
}

/* -------------------------------------------------------------- builders */

static int add_node(ctx *c, int kind, const char *name, const int *in, int nin)
{
    RETURN_IF(c->net->nnodes >= YPR_NET_MAX_NODES, YPR_ERANGE,
              "%s:%d: layer %d: the net would have more than %d nodes", c->file, c->line,
              c->layer, YPR_NET_MAX_NODES);
    return ypr__net_add(c->net, kind, name, c->layer, in, nin);
}

static int check_channels(const ctx *c, int64_t ch, const char *what)
{
    RETURN_IF(ch < 1 || ch > YPR_NET_MAX_CHANNELS, YPR_ERANGE,
              "%s:%d: layer %d: %s has %lld channels (at most %d)", c->file, c->line, c->layer,
              what, (long long)ch, YPR_NET_MAX_CHANNELS);
    return YPR_OK;
}

static int param(ctx *c, int node, int slot, const char *suffix, int ndim, const int64_t *shape,
                 int buffer)
{
    char name[2 * YPR_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", c->net->nodes[node].name, suffix);
    int64_t numel = 1;
    const int64_t max = YPR_NET_MAX_PARAM_BYTES / (int64_t)sizeof(float);
    for (int i = 0; i < ndim; i++)
        if (ypr__mul_size(numel, shape[i], &numel) < 0 || numel > max)
            numel = max + 1;
    RETURN_IF(c->param_floats + numel > max, YPR_ERANGE,
              "%s:%d: layer %d: tensor %s takes the parameters past %lld bytes", c->file, c->line,
              c->layer, name, (long long)YPR_NET_MAX_PARAM_BYTES);
    c->param_floats += numel;
    int p = ypr__net_add_param(c->net, name, ndim, shape, buffer);
    if (p >= 0 && slot >= 0)
        c->net->nodes[node].p[slot] = p;
    return p < 0 ? p : YPR_OK;
}

/* nn.Conv2d named `name` (weight, optional bias). Returns the node. */
static int conv2d(ctx *c, const char *name, int in, int64_t c2, int k, int s, int p, int g,
                  int bias)
{
    int64_t c1 = c->net->nodes[in].c;
    TRY(check_channels(c, c1, "the conv input"));
    TRY(check_channels(c, c2, "the conv output"));
    RETURN_IF(g < 1 || c1 % g || c2 % g, YPR_EFORMAT,
              "%s:%d: layer %d: groups %d do not divide channels %lld -> %lld", c->file, c->line,
              c->layer, g, (long long)c1, (long long)c2);
    int id = add_node(c, YPR_NODE_CONV, name, &in, 1);
    if (id < 0)
        return id;
    ypr_node *nd = &c->net->nodes[id];
    nd->c = c2;
    nd->kh = nd->kw = k;
    nd->sh = nd->sw = s;
    nd->ph = nd->pw = p;
    nd->groups = g;
    int64_t ws[4] = {c2, c1 / g, k, k};
    TRY(param(c, id, 0, "weight", 4, ws, 0));
    if (bias)
        TRY(param(c, id, 1, "bias", 1, &c2, 0));
    return id;
}

static int batchnorm(ctx *c, const char *name, int in)
{
    int id = add_node(c, YPR_NODE_BN, name, &in, 1);
    if (id < 0)
        return id;
    int64_t ch = c->net->nodes[in].c;
    c->net->nodes[id].c = ch;
    c->net->nodes[id].eps = 1e-3f;
    c->net->nodes[id].momentum = 0.03f;
    TRY(param(c, id, 0, "weight", 1, &ch, 0));
    TRY(param(c, id, 1, "bias", 1, &ch, 0));
    TRY(param(c, id, 2, "running_mean", 1, &ch, 1));
    TRY(param(c, id, 3, "running_var", 1, &ch, 1));
    return id;
}

static int activation(ctx *c, const char *name, int in, int act, float alpha)
{
    if (act == YPR_ACT_IDENTITY)
        return in;
    int id = add_node(c, YPR_NODE_ACT, name, &in, 1);
    if (id < 0)
        return id;
    c->net->nodes[id].c = c->net->nodes[in].c;
    c->net->nodes[id].act = act;
    c->net->nodes[id].alpha = alpha;
    return id;
}

/* YOLOv7 Conv: Conv2d(bias=False) → BatchNorm2d → act, under `prefix`. */
static int conv_bn_act(ctx *c, const char *prefix, int in, int64_t c2, int k, int s, int p,
                       int g, int act, float alpha)
{
    char n1[YPR_NAME_MAX], n2[YPR_NAME_MAX], n3[YPR_NAME_MAX];
    snprintf(n1, sizeof n1, "%s.conv", prefix);
    snprintf(n2, sizeof n2, "%s.bn", prefix);
    snprintf(n3, sizeof n3, "%s.act", prefix);
    int id = conv2d(c, n1, in, c2, k, s, p < 0 ? k / 2 : p, g, 0);
    if (id < 0)
        return id;
    if ((id = batchnorm(c, n2, id)) < 0)
        return id;
    return activation(c, n3, id, act, alpha);
}

static int maxpool(ctx *c, const char *name, int in, int k, int s, int p)
{
    int id = add_node(c, YPR_NODE_MAXPOOL, name, &in, 1);
    if (id < 0)
        return id;
    ypr_node *nd = &c->net->nodes[id];
    nd->c = c->net->nodes[in].c;
    nd->kh = nd->kw = k;
    nd->sh = nd->sw = s;
    nd->ph = nd->pw = p;
    return id;
}

static int concat(ctx *c, const char *name, const int *in, int nin)
{
    int64_t sum = 0;
    for (int i = 0; i < nin; i++)
        sum += c->net->nodes[in[i]].c;
    TRY(check_channels(c, sum, "the concatenation"));
    int id = add_node(c, YPR_NODE_CONCAT, name, in, nin);
    if (id >= 0)
        c->net->nodes[id].c = sum;
    return id;
}

static int add_sum(ctx *c, const char *name, const int *in, int nin)
{
    for (int i = 1; i < nin; i++)
        RETURN_IF(c->net->nodes[in[i]].c != c->net->nodes[in[0]].c, YPR_EFORMAT,
                  "%s:%d: layer %d: adding %lld channels to %lld", c->file, c->line, c->layer,
                  (long long)c->net->nodes[in[i]].c, (long long)c->net->nodes[in[0]].c);
    int id = add_node(c, YPR_NODE_ADD, name, in, nin);
    if (id >= 0)
        c->net->nodes[id].c = c->net->nodes[in[0]].c;
    return id;
}

/* ------------------------------------------------------------- modules */

typedef struct layer_args {
    const ypr_yaml *args;
    int from[64];
    int nfrom;
    int n;
    char prefix[32];
} layer_args;

static int conv_act_arg(ctx *c, const ypr_yaml *args, int i, int *act, float *alpha)
{
    *act = YPR_ACT_SILU;
    *alpha = 0;
    if (!args || i >= args->n)
        return YPR_OK;
    ypr_cfg_arg a;
    TRY(eval_arg(c, args->items[i], &a));
    if (a.kind == YPR_CFG_BOOL)
        *act = a.v ? YPR_ACT_SILU : YPR_ACT_IDENTITY;
    else if (a.kind == YPR_CFG_ACT) {
        *act = a.act;
        *alpha = a.alpha;
    } else
        return err(c, YPR_EFORMAT, "expected an activation argument", args->items[i]->s);
    return YPR_OK;
}

static int out_channels(ctx *c, const ypr_yaml *args, int64_t *c2)
{
    int v;
    RETURN_IF(!args || args->n < 1, YPR_EFORMAT, "%s:%d: layer %d: missing output channels",
              c->file, c->line, c->layer);
    TRY(int_arg(c, args, 0, 0, &v));
    RETURN_IF(v < 1, YPR_EFORMAT, "%s:%d: layer %d: output channels must be positive", c->file,
              c->line, c->layer);
    *c2 = make_divisible(v * c->gw, 8);
    return check_channels(c, *c2, "the output (after width_multiple)");
}

/* Conv-like args: [c2, k, s, p = None, g = 1, act = True]. */
typedef struct conv_args { int64_t c2; int k, s, p, g, act; float alpha; } conv_args;

static int read_conv_args(ctx *c, const ypr_yaml *args, int k_default, conv_args *ca)
{
    TRY(out_channels(c, args, &ca->c2));
    TRY(int_arg(c, args, 1, k_default, &ca->k));
    TRY(int_arg(c, args, 2, 1, &ca->s));
    TRY(int_arg(c, args, 3, -1, &ca->p));
    TRY(int_arg(c, args, 4, 1, &ca->g));
    TRY(conv_act_arg(c, args, 5, &ca->act, &ca->alpha));
    RETURN_IF(ca->k < 1 || ca->s < 1 || ca->k > 64 || ca->s > 64 || ca->p > 64, YPR_EFORMAT,
              "%s:%d: layer %d: bad kernel or stride", c->file, c->line, c->layer);
    return YPR_OK;
}

static int mod_conv(ctx *c, const layer_args *la)
{
    conv_args ca;
    TRY(read_conv_args(c, la->args, 1, &ca));
    int x = la->from[0];
    for (int r = 0; r < la->n; r++) {
        char pre[64];
        if (la->n > 1)
            snprintf(pre, sizeof pre, "%s.%d", la->prefix, r);
        else
            snprintf(pre, sizeof pre, "%s", la->prefix);
        if ((x = conv_bn_act(c, pre, x, ca.c2, ca.k, ca.s, ca.p, ca.g, ca.act, ca.alpha)) < 0)
            return x;
    }
    return x;
}

static int mod_repconv(ctx *c, const layer_args *la)
{
    conv_args ca;
    TRY(read_conv_args(c, la->args, 3, &ca));
    int64_t c2 = ca.c2;
    int k = ca.k, s = ca.s, p = ca.p, g = ca.g, act = ca.act;
    float alpha = ca.alpha;
    RETURN_IF(k != 3 || (p >= 0 && p != 1), YPR_EFORMAT,
              "%s:%d: layer %d: RepConv needs a 3x3 kernel with padding 1", c->file, c->line,
              c->layer);
    RETURN_IF(la->n != 1, YPR_EFORMAT, "%s:%d: layer %d: RepConv repeats are not supported",
              c->file, c->line, c->layer);
    int x = la->from[0];
    char nm[YPR_NAME_MAX];
    int branch[3], nb = 0;
    snprintf(nm, sizeof nm, "%s.rbr_dense.0", la->prefix);
    int id = conv2d(c, nm, x, c2, 3, s, 1, g, 0);
    if (id < 0) return id;
    snprintf(nm, sizeof nm, "%s.rbr_dense.1", la->prefix);
    if ((branch[nb++] = batchnorm(c, nm, id)) < 0) return branch[nb - 1];
    snprintf(nm, sizeof nm, "%s.rbr_1x1.0", la->prefix);
    if ((id = conv2d(c, nm, x, c2, 1, s, 0, g, 0)) < 0) return id;
    snprintf(nm, sizeof nm, "%s.rbr_1x1.1", la->prefix);
    if ((branch[nb++] = batchnorm(c, nm, id)) < 0) return branch[nb - 1];
    if (c->net->nodes[x].c == c2 && s == 1) {
        snprintf(nm, sizeof nm, "%s.rbr_identity", la->prefix);
        if ((branch[nb++] = batchnorm(c, nm, x)) < 0) return branch[nb - 1];
    }
    snprintf(nm, sizeof nm, "%s.add", la->prefix);
    if ((id = add_sum(c, nm, branch, nb)) < 0) return id;
    snprintf(nm, sizeof nm, "%s.act", la->prefix);
    return activation(c, nm, id, act, alpha);
}

static int mod_sppcspc(ctx *c, const layer_args *la)
{
    int64_t c2 = 0;
    TRY(out_channels(c, la->args, &c2));
    /* SPPCSPC(c1, c2, n=1, shortcut=False, g=1, e=0.5, k=(5, 9, 13)); cfg args after c2
     * map to (shortcut, g, e, k) once the parser inserts n. */
    double e = 0.5;
    int ks[8] = {5, 9, 13}, nk = 3;
    const ypr_yaml *args = la->args;
    if (args->n > 3) {
        ypr_cfg_arg a;
        TRY(eval_arg(c, args->items[3], &a));
        RETURN_IF(a.kind != YPR_CFG_FLOAT && a.kind != YPR_CFG_INT, YPR_EFORMAT,
                  "%s:%d: layer %d: SPPCSPC expansion must be a number", c->file, c->line, c->layer);
        e = a.v;
    }
    if (args->n > 4) {
        const ypr_yaml *kl = args->items[4];
        RETURN_IF(kl->type != YPR_YAML_SEQ || kl->n < 1 || kl->n > 8, YPR_EFORMAT,
                  "%s:%d: layer %d: SPPCSPC pool sizes must be a list", c->file, c->line, c->layer);
        nk = kl->n;
        for (int i = 0; i < nk; i++)
            TRY(int_arg(c, kl, i, 5, &ks[i]));
    }
    int64_t h = (int64_t)(2 * c2 * e);
    RETURN_IF(h < 1, YPR_EFORMAT, "%s:%d: layer %d: SPPCSPC hidden width < 1", c->file, c->line, c->layer);
    int x = la->from[0];
    char pre[64], nm[YPR_NAME_MAX];
#define CV(i, in, co, k) (snprintf(pre, sizeof pre, "%s.cv%d", la->prefix, i), \
                          conv_bn_act(c, pre, in, co, k, 1, -1, 1, YPR_ACT_SILU, 0))
    int x1 = CV(1, x, h, 1);
    if (x1 < 0) return x1;
    if ((x1 = CV(3, x1, h, 3)) < 0) return x1;
    if ((x1 = CV(4, x1, h, 1)) < 0) return x1;
    int cat[9];
    cat[0] = x1;
    for (int i = 0; i < nk; i++) {
        snprintf(nm, sizeof nm, "%s.m.%d", la->prefix, i);
        RETURN_IF(ks[i] < 1 || ks[i] % 2 == 0 || ks[i] > 63, YPR_EFORMAT,
                  "%s:%d: layer %d: SPPCSPC pool size %d must be odd and at most 63", c->file,
                  c->line, c->layer, ks[i]);
        if ((cat[1 + i] = maxpool(c, nm, x1, ks[i], 1, ks[i] / 2)) < 0) return cat[1 + i];
    }
    snprintf(nm, sizeof nm, "%s.cat1", la->prefix);
    int y1 = concat(c, nm, cat, nk + 1);
    if (y1 < 0) return y1;
    if ((y1 = CV(5, y1, h, 1)) < 0) return y1;
    if ((y1 = CV(6, y1, h, 3)) < 0) return y1;
    int y2 = CV(2, x, h, 1);
    if (y2 < 0) return y2;
    int both[2] = {y1, y2};
    snprintf(nm, sizeof nm, "%s.cat2", la->prefix);
    int y = concat(c, nm, both, 2);
    if (y < 0) return y;
    return CV(7, y, c2, 1);
#undef CV
}

static int anchors_of(ctx *c, const ypr_yaml *spec, int nl, float *anch, int *na_out)
{
    if (spec->type == YPR_YAML_SCALAR) {
        ypr_cfg_arg a;
        TRY(eval_arg(c, spec, &a));
        if (a.kind == YPR_CFG_ANCHORS)
            spec = c->anchors;
        else
            return err(c, YPR_EUNSUPPORTED, "an anchor count needs autoanchor; give the anchors",
                       spec->s);
    }
    RETURN_IF(!spec || spec->type != YPR_YAML_SEQ || spec->n != nl, YPR_EFORMAT,
              "%s:%d: layer %d: anchors must list one row per detection level (%d)", c->file,
              c->line, c->layer, nl);
    int na = -1;
    for (int l = 0; l < nl; l++) {
        const ypr_yaml *row = spec->items[l];
        RETURN_IF(row->type != YPR_YAML_SEQ || row->n % 2 || row->n < 2 || row->n > 32 ||
                  (na >= 0 && row->n / 2 != na), YPR_EFORMAT,
                  "%s:%d: layer %d: anchor row %d must hold the same even number of values",
                  c->file, row->line, c->layer, l);
        na = row->n / 2;
        for (int i = 0; i < row->n; i++) {
            ypr_cfg_arg a;
            TRY(eval_arg(c, row->items[i], &a));
            RETURN_IF((a.kind != YPR_CFG_INT && a.kind != YPR_CFG_FLOAT) || !(a.v > 0) ||
                      a.v > 65536, YPR_EFORMAT,
                      "%s:%d: anchors must be positive numbers (pixels, at most 65536)", c->file,
                      row->items[i]->line);
            anch[l * 32 + i] = (float)a.v;
        }
    }
    *na_out = na;
    return YPR_OK;
}

static int mod_detect(ctx *c, const layer_args *la, int implicit)
{
    const ypr_yaml *args = la->args;
    RETURN_IF(!args || args->n < 2, YPR_EFORMAT, "%s:%d: layer %d: Detect needs [nc, anchors]",
              c->file, c->line, c->layer);
    int nc, nl = la->nfrom, na = 0;
    TRY(int_arg(c, args, 0, c->nc, &nc));
    RETURN_IF(nc < 1 || nc > 100000, YPR_EFORMAT, "%s:%d: layer %d: bad class count", c->file,
              c->line, c->layer);
    RETURN_IF(nl < 1 || nl > YPR_MAX_LEVELS, YPR_EFORMAT, "%s:%d: layer %d: %d detection levels",
              c->file, c->line, c->layer, nl);
    float anch[YPR_MAX_LEVELS * 32];
    TRY(anchors_of(c, args->items[1], nl, anch, &na));
    int64_t no = nc + 5;
    int heads[YPR_MAX_LEVELS];
    char nm[YPR_NAME_MAX];
    for (int l = 0; l < nl; l++) {
        int x = la->from[l];
        if (implicit) {
            snprintf(nm, sizeof nm, "%s.ia.%d", la->prefix, l);
            int id = add_node(c, YPR_NODE_IMPLICIT_ADD, nm, &x, 1);
            if (id < 0) return id;
            int64_t s4[4] = {1, c->net->nodes[x].c, 1, 1};
            c->net->nodes[id].c = s4[1];
            TRY(param(c, id, 0, "implicit", 4, s4, 0));
            x = id;
        }
        snprintf(nm, sizeof nm, "%s.m.%d", la->prefix, l);
        if ((x = conv2d(c, nm, x, no * na, 1, 1, 0, 1, 1)) < 0) return x;
        if (implicit) {
            snprintf(nm, sizeof nm, "%s.im.%d", la->prefix, l);
            int id = add_node(c, YPR_NODE_IMPLICIT_MUL, nm, &x, 1);
            if (id < 0) return id;
            int64_t s4[4] = {1, no * na, 1, 1};
            c->net->nodes[id].c = s4[1];
            TRY(param(c, id, 0, "implicit", 4, s4, 0));
            x = id;
        }
        heads[l] = x;
    }
    int id = add_node(c, YPR_NODE_DETECT, la->prefix, heads, nl);
    if (id < 0) return id;
    ypr_node *d = &c->net->nodes[id];
    d->nc = nc;
    d->na = na;
    d->nl = nl;
    c->nc = nc;
    int64_t as[3] = {nl, na, 2}, gs[6] = {nl, 1, na, 1, 1, 2};
    TRY(param(c, id, 0, "anchors", 3, as, 1));
    TRY(param(c, id, 1, "anchor_grid", 6, gs, 1));
    d = &c->net->nodes[id];
    float *a = c->net->params[d->p[0]].data, *g = c->net->params[d->p[1]].data;
    for (int l = 0; l < nl; l++)
        for (int i = 0; i < 2 * na; i++)
            a[l * 2 * na + i] = g[l * 2 * na + i] = anch[l * 32 + i];
    return id;
}

/* ----------------------------------------------------------- the layers */

static int resolve_from(ctx *c, const ypr_yaml *f, layer_args *la)
{
    const ypr_yaml *one[1] = {f};
    const ypr_yaml *const *items = f->type == YPR_YAML_SEQ ? (const ypr_yaml *const *)f->items : one;
    int n = f->type == YPR_YAML_SEQ ? f->n : 1;
    RETURN_IF(n < 1 || n > 64, YPR_EFORMAT, "%s:%d: layer %d: 'from' must name 1..64 layers",
              c->file, c->line, c->layer);
    for (int i = 0; i < n; i++) {
        ypr_cfg_arg a;
        TRY(eval_arg(c, items[i], &a));
        RETURN_IF(a.kind != YPR_CFG_INT, YPR_EFORMAT, "%s:%d: layer %d: 'from' must be integers",
                  c->file, c->line, c->layer);
        int j = (int)a.v;
        int abs_j = j < 0 ? c->layer + j : j;
        if (c->layer == 0 && j == -1) {
            la->from[i] = c->input;
            continue;
        }
        RETURN_IF(abs_j < 0 || abs_j >= c->layer, YPR_EFORMAT,
                  "%s:%d: layer %d: 'from' index %d is out of range (layers 0..%d precede it)",
                  c->file, c->line, c->layer, j, c->layer - 1);
        la->from[i] = c->out[abs_j];
    }
    la->nfrom = n;
    return YPR_OK;
}

static int build_layer(ctx *c, const ypr_yaml *row)
{
    RETURN_IF(row->type != YPR_YAML_SEQ || row->n != 4, YPR_EFORMAT,
              "%s:%d: layer %d: expected [from, number, module, args]", c->file, row->line, c->layer);
    c->line = row->line;
    layer_args la;
    memset(&la, 0, sizeof la);
    TRY(resolve_from(c, row->items[0], &la));
    int n;
    TRY(int_arg(c, row, 1, 1, &n));
    RETURN_IF(n < 1 || n > YPR_CFG_MAX_REPEATS, YPR_ERANGE,
              "%s:%d: layer %d: repeat count %d outside 1..%d", c->file, c->line, c->layer, n,
              YPR_CFG_MAX_REPEATS);
    /* YOLOv7: n = max(round(n · depth_multiple), 1) when n > 1 */
    double scaled = n > 1 ? fmax(round(n * c->gd), 1) : n;
    RETURN_IF(scaled > YPR_CFG_MAX_REPEATS, YPR_ERANGE,
              "%s:%d: layer %d: repeat count %d x depth_multiple %g = %.0f (at most %d)",
              c->file, c->line, c->layer, n, c->gd, scaled, YPR_CFG_MAX_REPEATS);
    la.n = (int)scaled;
    const ypr_yaml *m = row->items[2];
    RETURN_IF(m->type != YPR_YAML_SCALAR, YPR_EFORMAT, "%s:%d: layer %d: module must be a name",
              c->file, c->line, c->layer);
    RETURN_IF(la.n != 1 && strcmp(m->s, "Conv") != 0, YPR_EUNSUPPORTED,
              "%s:%d: layer %d: repeats (%d) are supported for Conv only, not %.40s", c->file,
              c->line, c->layer, la.n, m->s);
    la.args = row->items[3];
    RETURN_IF(la.args->type != YPR_YAML_SEQ, YPR_EFORMAT, "%s:%d: layer %d: args must be a list",
              c->file, c->line, c->layer);
    snprintf(la.prefix, sizeof la.prefix, "model.%d", c->layer);
    const char *mod = m->s;
    int out, first = c->net->nnodes;
    char nm[YPR_NAME_MAX];
    if (la.nfrom != 1 && strcmp(mod, "Concat") && strcmp(mod, "Shortcut") &&
        strcmp(mod, "IDetect") && strcmp(mod, "Detect"))
        return err(c, YPR_EFORMAT, "module takes one input", mod);
    if (strcmp(mod, "Conv") == 0) {
        out = mod_conv(c, &la);
    } else if (strcmp(mod, "RepConv") == 0) {
        out = mod_repconv(c, &la);
    } else if (strcmp(mod, "SPPCSPC") == 0) {
        out = mod_sppcspc(c, &la);
    } else if (strcmp(mod, "MP") == 0) {
        int k;
        TRY(int_arg(c, la.args, 0, 2, &k));
        RETURN_IF(k < 1 || k > 64, YPR_EFORMAT, "%s:%d: layer %d: MP size %d outside 1..64",
                  c->file, c->line, c->layer, k);
        out = maxpool(c, la.prefix, la.from[0], k, k, 0);
    } else if (strcmp(mod, "SP") == 0) {
        int k, s;
        TRY(int_arg(c, la.args, 0, 3, &k));
        TRY(int_arg(c, la.args, 1, 1, &s));
        RETURN_IF(k < 1 || s < 1 || k > 64 || s > 64, YPR_EFORMAT,
                  "%s:%d: layer %d: SP size %d / stride %d outside 1..64", c->file, c->line,
                  c->layer, k, s);
        out = maxpool(c, la.prefix, la.from[0], k, s, k / 2);
    } else if (strcmp(mod, "nn.Upsample") == 0 || strcmp(mod, "Upsample") == 0) {
        int f;
        TRY(int_arg(c, la.args, 1, 2, &f));
        if (la.args->n > 2 && strcmp(la.args->items[2]->s ? la.args->items[2]->s : "", "nearest"))
            return err(c, YPR_EUNSUPPORTED, "only nearest upsampling", la.args->items[2]->s);
        RETURN_IF(f != 2, YPR_EUNSUPPORTED, "%s:%d: layer %d: upsample factor %d (only 2)",
                  c->file, c->line, c->layer, f);
        out = add_node(c, YPR_NODE_UPSAMPLE, la.prefix, la.from, 1);
        if (out >= 0) {
            c->net->nodes[out].c = c->net->nodes[la.from[0]].c;
            c->net->nodes[out].scale = f;
        }
    } else if (strcmp(mod, "Concat") == 0) {
        int d;
        TRY(int_arg(c, la.args, 0, 1, &d));
        RETURN_IF(d != 1, YPR_EUNSUPPORTED, "%s:%d: layer %d: Concat only along channels (1)",
                  c->file, c->line, c->layer);
        out = concat(c, la.prefix, la.from, la.nfrom);
    } else if (strcmp(mod, "Shortcut") == 0) {
        RETURN_IF(la.nfrom != 2, YPR_EFORMAT, "%s:%d: layer %d: Shortcut adds two layers",
                  c->file, c->line, c->layer);
        out = add_sum(c, la.prefix, la.from, 2);
    } else if (strcmp(mod, "ReOrg") == 0) {
        TRY(check_channels(c, 4 * c->net->nodes[la.from[0]].c, "the ReOrg output"));
        out = add_node(c, YPR_NODE_REORG, la.prefix, la.from, 1);
        if (out >= 0)
            c->net->nodes[out].c = 4 * c->net->nodes[la.from[0]].c;
    } else if (strcmp(mod, "IDetect") == 0 || strcmp(mod, "Detect") == 0) {
        out = mod_detect(c, &la, mod[0] == 'I');
    } else {
        snprintf(nm, sizeof nm, "unknown module '%s'", mod);
        return err(c, YPR_EUNSUPPORTED, nm, NULL);
    }
    if (out < 0)
        return out;
    c->out[c->layer] = out;
    c->ch[c->layer] = c->net->nodes[out].c;
    for (int i = first; i < c->net->nnodes; i++)   /* module identity, for export */
        snprintf(c->net->nodes[i].module, sizeof c->net->nodes[i].module, "%s", mod);
    return YPR_OK;
}

static int build(ctx *c, const ypr_yaml *root, const ypr_model_opts *o)
{
    double nc, gd, gw, ch;
    TRY(ypr__cfg_number(root, "nc", 80, 0, YPR_CFG_MAX_CLASSES, &nc));
    TRY(ypr__cfg_number(root, "depth_multiple", 1.0, 0, YPR_CFG_MAX_MULTIPLE, &gd));
    TRY(ypr__cfg_number(root, "width_multiple", 1.0, 0, YPR_CFG_MAX_MULTIPLE, &gw));
    TRY(ypr__cfg_number(root, "ch", YPR_NET_INPUT_CHANNELS, 0, 1e9, &ch));
    const ypr_yaml *v = ypr__yaml_get(root, "nc");
    RETURN_IF(nc != floor(nc), YPR_EFORMAT, "%s:%d: 'nc' must be a whole number, got %g",
              c->file, v ? v->line : 1, nc);
    v = ypr__yaml_get(root, "ch");
    RETURN_IF(ch != YPR_NET_INPUT_CHANNELS, YPR_EUNSUPPORTED,
              "%s:%d: 'ch' is %g: only %d-channel (RGB) input is supported (detect and eval feed "
              "RGB images)", c->file, v ? v->line : 1, ch, YPR_NET_INPUT_CHANNELS);
    c->nc = o && o->nc > 0 ? o->nc : (int)nc;
    c->gd = o && o->depth_multiple > 0 ? o->depth_multiple : gd;
    c->gw = o && o->width_multiple > 0 ? o->width_multiple : gw;
    c->anchors = ypr__yaml_get(root, "anchors");
    int ch_in = YPR_NET_INPUT_CHANNELS;
    int in = ypr__net_add(c->net, YPR_NODE_INPUT, "input", -1, NULL, 0);
    if (in < 0)
        return in;
    c->net->nodes[in].c = ch_in;
    c->input = in;
    const char *parts[2] = {"backbone", "head"};
    for (int p = 0; p < 2; p++) {
        const ypr_yaml *lst = ypr__yaml_get(root, parts[p]);
        RETURN_IF(!lst, YPR_EFORMAT, "%s: missing '%s'", c->file, parts[p]);
        RETURN_IF(lst->type != YPR_YAML_SEQ, YPR_EFORMAT, "%s:%d: '%s' must be a list of layers",
                  c->file, lst->line, parts[p]);
        for (int i = 0; i < lst->n; i++) {
            RETURN_IF(c->layer >= YPR_CFG_MAX_LAYERS, YPR_ERANGE, "%s:%d: more than %d layers",
                      c->file, lst->items[i]->line, YPR_CFG_MAX_LAYERS);
            TRY(build_layer(c, lst->items[i]));
            c->layer++;
        }
    }
    const ypr_node *last = &c->net->nodes[c->net->nnodes - 1];
    RETURN_IF(last->kind != YPR_NODE_DETECT, YPR_EFORMAT,
              "%s: the last layer must be Detect or IDetect", c->file);
    return YPR_OK;
}

/* Strides as YOLOv7 measures them: run shapes for a 256×256 input. */
static int set_strides(ypr_net *net)
{
    ypr_shape *sh = malloc((size_t)net->nnodes * sizeof *sh);
    if (!sh)
        return ypr__error(YPR_ENOMEM, "out of memory");
    int rc = ypr__net_shapes(net, 256, 256, sh);
    if (rc == YPR_OK) {
        ypr_node *d = &net->nodes[net->nnodes - 1];
        float *anchors = net->params[d->p[0]].data;
        for (int l = 0; rc == YPR_OK && l < d->nl; l++) {
            int64_t oh = sh[d->inputs[l]].h;
            if (oh <= 0 || oh > 256) {
                rc = ypr__error(YPR_EFORMAT, "%s: detection level %d is %lld rows high at a "
                                "256x256 input: no stride", d->name, l, (long long)oh);
                break;
            }
            d->strides[l] = 256.0f / (float)oh;
            for (int i = 0; i < 2 * d->na; i++)
                anchors[l * 2 * d->na + i] /= d->strides[l];
        }
    }
    free(sh);
    return rc;
}

int ypr__yolo_build(const char *text, size_t len, const char *file, const ypr_model_opts *o,
                    ypr_net *net, int *nc_out)
{
    ypr_yaml *root = NULL;
    TRY(ypr__cfg_parse(text, len, file, &root));
    ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ypr__yaml_free(root);
        return ypr__error(YPR_ENOMEM, "out of memory");
    }
    c->net = net;
    c->file = file ? file : "<cfg>";
    int rc = build(c, root, o);
    if (rc == YPR_OK)
        rc = ypr__net_validate(net);
    if (rc == YPR_OK)
        rc = set_strides(net);
    if (rc == YPR_OK && nc_out)
        *nc_out = c->nc;
    free(c);
    ypr__yaml_free(root);
    return rc;
}
