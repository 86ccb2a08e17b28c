/* Back to YOLOv7's own code: write a (pruned) net as a YOLOv7 model .yaml plus
 * a matching safetensors state_dict that YOLOv7's PyTorch Model builds and
 * loads unchanged. Layers are written by the cfg module their nodes came from
 * (ypr_node.module, kept in checkpoints): every Conv and RepConv gets its
 * current width; a composite module whose inner widths no longer follow its
 * formula (SPPCSPC), a repeated Conv and a layer of unknown module are
 * written as their primitive Conv/SP/MP/Concat/... layers, with the layers
 * after them renumbered and every `from` index and tensor name adjusted. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

typedef struct xstate {
    const ypr_net *net;
    ypr_consumers cons;
    ypr_strbuf yaml;
    int *node_layer_out;   /* node → new layer index whose output it is (-1) */
    unsigned char *done;   /* node already written (inside a Conv row) */
    int next;              /* next new layer index */
    char **names;          /* new tensor names, per param */
} xstate;

/* `from` text for an input node: -1 for the previous layer, else absolute. */
static int from_of(xstate *x, int node, char *buf, size_t n)
{
    int L = x->node_layer_out[node];
    if (x->net->nodes[node].kind == YPR_NODE_INPUT) {
        snprintf(buf, n, "-1");
        return YPR_OK;
    }
    RETURN_IF(L < 0, YPR_EUNSUPPORTED, "export: node %s is not a layer output",
              x->net->nodes[node].name);
    if (L == x->next - 1)
        snprintf(buf, n, "-1");
    else
        snprintf(buf, n, "%d", L);
    return YPR_OK;
}

static int set_name(xstate *x, int param, const char *fmt, ...) YPR_PRINTF(3, 4);

static int set_name(xstate *x, int param, const char *fmt, ...)
{
    char buf[2 * YPR_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(x->names[param]);
    x->names[param] = strdup(buf);
    RETURN_IF(!x->names[param], YPR_ENOMEM, "export: out of memory");
    return YPR_OK;
}

/* A whole module kept as YOLOv7 builds it: its tensors keep their names
 * below the module, moved to the new layer index. */
static int rename_layer(xstate *x, int first, int last, int new_layer)
{
    char old[32];
    snprintf(old, sizeof old, "model.%d.", x->net->nodes[first].layer);
    size_t k = strlen(old);
    for (int i = first; i <= last; i++)
        for (int s = 0; s < 4; s++) {
            int pi = x->net->nodes[i].p[s];
            if (pi < 0)
                continue;
            const char *nm = x->net->params[pi].name;
            RETURN_IF(strncmp(nm, old, k) != 0, YPR_EUNSUPPORTED,
                      "export: tensor %s is not under %s", nm, old);
            TRY(set_name(x, pi, "model.%d.%s", new_layer, nm + k));
        }
    return YPR_OK;
}

static const char *act_arg(const ypr_node *act, char *buf, size_t n)
{
    if (!act || act->kind != YPR_NODE_ACT || act->act == YPR_ACT_IDENTITY)
        return "False";
    switch (act->act) {
    case YPR_ACT_SILU: return NULL;   /* YOLOv7's default */
    case YPR_ACT_RELU: return "nn.ReLU()";
    case YPR_ACT_SIGMOID: return "nn.Sigmoid()";
    case YPR_ACT_HARDSWISH: return "nn.Hardswish()";
    default: snprintf(buf, n, "nn.LeakyReLU(%g)", act->alpha); return buf;
    }
}

/* The single reader of `node` if it is of `kind`, in the same layer. */
static int sole_of(const xstate *x, int node, int kind)
{
    int c = ypr__consumers_sole(&x->cons, node);
    return c >= 0 && x->net->nodes[c].kind == kind &&
           x->net->nodes[c].layer == x->net->nodes[node].layer ? c : -1;
}

static int emit_row(xstate *x, int node, const char *text)
{
    ypr__sb_printf(&x->yaml, "   %s,  # %d\n", text, x->next);
    x->node_layer_out[node] = x->next;
    return x->next++;
}

/* One YOLOv7 Conv (conv → BatchNorm → act) starting at conv node `ci`, as
 * its own layer; its tensors become model.<new>.conv.* and .bn.*. */
static int emit_conv(xstate *x, int ci)
{
    const ypr_net *net = x->net;
    const ypr_node *cv = &net->nodes[ci];
    int bi = sole_of(x, ci, YPR_NODE_BN);
    RETURN_IF(bi < 0 || cv->p[1] >= 0, YPR_EUNSUPPORTED, "export: %s has no BatchNorm (a fused "
              "model cannot be written back)", cv->name);
    RETURN_IF(cv->c % 8, YPR_EUNSUPPORTED,
              "export: %s has %lld channels; YOLOv7 rounds widths up to multiples of 8 "
              "(prune with round_to 8)", cv->name, (long long)cv->c);
    RETURN_IF(cv->kh != cv->kw || cv->sh != cv->sw || cv->ph != cv->pw || cv->dh != 1 ||
              cv->dw != 1, YPR_EUNSUPPORTED, "export: %s is not a square, undilated Conv",
              cv->name);
    int ai = sole_of(x, bi, YPR_NODE_ACT);
    char from[32], a[48];
    TRY(from_of(x, cv->inputs[0], from, sizeof from));
    const char *aa = act_arg(ai >= 0 ? &net->nodes[ai] : NULL, a, sizeof a);
    ypr__sb_printf(&x->yaml, "   [%s, 1, Conv, [%lld, %d, %d", from, (long long)cv->c, cv->kh,
                   cv->sh);
    if (cv->ph != cv->kh / 2 || cv->groups != 1 || aa)
        ypr__sb_printf(&x->yaml, ", %d, %d", cv->ph, cv->groups);
    if (aa)
        ypr__sb_printf(&x->yaml, ", %s", aa);
    ypr__sb_printf(&x->yaml, "]],  # %d\n", x->next);
    static const char *const bn_part[4] = {"weight", "bias", "running_mean", "running_var"};
    TRY(set_name(x, cv->p[0], "model.%d.conv.weight", x->next));
    for (int s = 0; s < 4; s++)
        TRY(set_name(x, net->nodes[bi].p[s], "model.%d.bn.%s", x->next, bn_part[s]));
    x->done[ci] = x->done[bi] = 1;
    if (ai >= 0)
        x->done[ai] = 1;
    x->node_layer_out[ai >= 0 ? ai : bi] = x->next;
    return x->next++;
}

/* "[[a, b, …]" from a node's inputs, as absolute layer indices; a detect
 * level reads through the implicit/conv nodes of its own layer. */
static int from_list(xstate *x, const ypr_node *nd, char *text, size_t n)
{
    size_t k = (size_t)snprintf(text, n, "[[");
    for (int j = 0; j < nd->ninputs && k < n; j++) {
        int src = nd->inputs[j];
        while (nd->kind == YPR_NODE_DETECT && x->net->nodes[src].layer == nd->layer)
            src = x->net->nodes[src].inputs[0];
        int lo = x->node_layer_out[src];
        RETURN_IF(lo < 0, YPR_EUNSUPPORTED, "export: %s reads %s, which is no layer's output",
                  nd->name, x->net->nodes[src].name);
        k += (size_t)snprintf(text + k, n - k, "%s%d", j ? ", " : "", lo);
    }
    RETURN_IF(k + 2 >= n, YPR_EUNSUPPORTED, "export: %s has too many inputs", nd->name);
    snprintf(text + k, n - k, "]");
    return YPR_OK;
}

/* Node `i` as its own YOLOv7 layer (or, for a conv, with its BatchNorm and
 * activation): how modules whose inner widths no longer follow their
 * formula, and layers of unknown modules, are written. */
static int emit_primitive(xstate *x, int i)
{
    const ypr_node *nd = &x->net->nodes[i];
    char from[32], text[600];
    switch (nd->kind) {
    case YPR_NODE_CONV:
        TRY(emit_conv(x, i));
        return YPR_OK;
    case YPR_NODE_CONCAT:
    case YPR_NODE_ADD:
        RETURN_IF(nd->kind == YPR_NODE_ADD && nd->ninputs != 2, YPR_EUNSUPPORTED,
                  "export: %s adds %d inputs (Shortcut adds two)", nd->name, nd->ninputs);
        TRY(from_list(x, nd, text, sizeof text - 32));
        strcat(text, nd->kind == YPR_NODE_ADD ? ", 1, Shortcut, [1]]" : ", 1, Concat, [1]]");
        break;
    case YPR_NODE_MAXPOOL:
        TRY(from_of(x, nd->inputs[0], from, sizeof from));
        if (nd->kh == 2 && nd->sh == 2 && nd->ph == 0)
            snprintf(text, sizeof text, "[%s, 1, MP, []]", from);
        else if (nd->kh == nd->sh && nd->ph == 0)
            snprintf(text, sizeof text, "[%s, 1, MP, [%d]]", from, nd->kh);
        else if (nd->ph == nd->kh / 2 && nd->sh == 1)   /* SP(k, s=1) */
            snprintf(text, sizeof text, "[%s, 1, SP, [%d]]", from, nd->kh);
        else if (nd->ph == nd->kh / 2)
            snprintf(text, sizeof text, "[%s, 1, SP, [%d, %d]]", from, nd->kh, nd->sh);
        else
            return ypr__error(YPR_EUNSUPPORTED, "export: %s: max-pool %dx%d stride %d padding "
                              "%d is neither MP nor SP", nd->name, nd->kh, nd->kw, nd->sh, nd->ph);
        break;
    case YPR_NODE_UPSAMPLE:
        TRY(from_of(x, nd->inputs[0], from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, nn.Upsample, [None, %d, 'nearest']]", from,
                 nd->scale);
        break;
    case YPR_NODE_REORG:
        TRY(from_of(x, nd->inputs[0], from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, ReOrg, []]", from);
        break;
    default:
        return ypr__error(YPR_EUNSUPPORTED, "export: node %s (%s) has no YOLOv7 module",
                          nd->name, ypr__node_kind_name(nd->kind));
    }
    emit_row(x, i, text);
    return YPR_OK;
}

/* RepConv: one row; its branch tensors keep their names. A fused one
 * (rbr_reparam, a conv with bias and no BatchNorm) cannot go back. */
static int emit_repconv(xstate *x, int first, int last)
{
    const ypr_net *net = x->net;
    int dense = -1;
    for (int i = first; i <= last; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV)
            continue;
        RETURN_IF(nd->p[1] >= 0 || sole_of(x, i, YPR_NODE_BN) < 0, YPR_EUNSUPPORTED,
                  "export: layer %d is a fused RepConv; export the unfused model", nd->layer);
        if (nd->kh == 3 && dense < 0)
            dense = i;
    }
    RETURN_IF(dense < 0, YPR_EUNSUPPORTED, "export: RepConv layer %d has no 3x3 branch",
              net->nodes[first].layer);
    const ypr_node *d = &net->nodes[dense], *ln = &net->nodes[last];
    RETURN_IF(d->c % 8, YPR_EUNSUPPORTED, "export: %s has %lld channels (not a multiple of 8)",
              d->name, (long long)d->c);
    char from[32], text[200], a[48];
    TRY(from_of(x, d->inputs[0], from, sizeof from));
    const char *aa = act_arg(ln->kind == YPR_NODE_ACT ? ln : NULL, a, sizeof a);
    int n = snprintf(text, sizeof text, "[%s, 1, RepConv, [%lld, 3, %d", from, (long long)d->c,
                     d->sh);
    if (d->groups != 1 || aa)
        n += snprintf(text + n, sizeof text - (size_t)n, ", None, %d", d->groups);
    if (aa)
        n += snprintf(text + n, sizeof text - (size_t)n, ", %s", aa);
    snprintf(text + n, sizeof text - (size_t)n, "]]");
    return rename_layer(x, first, last, emit_row(x, last, text));
}

/* SPPCSPC stays one row while its widths follow its formula (every conv as
 * wide as the output, pools 5, 9, 13); otherwise it is written as its
 * primitive Conv/SP/Concat layers. */
static int emit_sppcspc(xstate *x, int first, int last)
{
    const ypr_net *net = x->net;
    const ypr_node *ln = &net->nodes[last];
    static const int pools[3] = {5, 9, 13};
    int whole = 1, np = 0;
    for (int i = first; i <= last; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_CONV)
            whole &= nd->c == ln->c;
        if (nd->kind == YPR_NODE_MAXPOOL)
            whole &= np < 3 && nd->kh == pools[np++] && nd->sh == 1;
    }
    whole &= np == 3;
    if (!whole) {
        for (int i = first; i <= last; i++)
            if (!x->done[i])
                TRY(emit_primitive(x, i));
        return YPR_OK;
    }
    char from[32], text[120];
    TRY(from_of(x, net->nodes[first].inputs[0], from, sizeof from));
    snprintf(text, sizeof text, "[%s, 1, SPPCSPC, [%lld]]", from, (long long)ln->c);
    return rename_layer(x, first, last, emit_row(x, last, text));
}

static int emit_detect(xstate *x, int first, int last)
{
    const ypr_node *ln = &x->net->nodes[last];
    char text[600];
    TRY(from_list(x, ln, text, sizeof text - 40));
    int implicit = x->net->nodes[ln->inputs[0]].kind == YPR_NODE_IMPLICIT_MUL;
    strcat(text, implicit ? ", 1, IDetect, [nc, anchors]]" : ", 1, Detect, [nc, anchors]]");
    return rename_layer(x, first, last, emit_row(x, last, text));
}

/* Cfg layer [first, last], by the module it came from. */
static int emit_layer(xstate *x, int first, int last)
{
    const ypr_node *ln = &x->net->nodes[last];
    const char *mod = x->net->nodes[first].module;
    if (ln->kind == YPR_NODE_DETECT)
        return emit_detect(x, first, last);
    if (strcmp(mod, "RepConv") == 0)
        return emit_repconv(x, first, last);
    if (strcmp(mod, "SPPCSPC") == 0)
        return emit_sppcspc(x, first, last);
    /* Conv (each repeat its own layer), the single-node modules, and layers
     * of unknown modules */
    for (int i = first; i <= last; i++)
        if (!x->done[i])
            TRY(emit_primitive(x, i));
    return YPR_OK;
}

int ypr_model_export_yolov7(const ypr_model *m, const char *yaml_path, const char *weights_path)
{
    RETURN_IF(!m || !yaml_path || !weights_path, YPR_EINVAL, "export: NULL argument");
    const ypr_net *net = &m->net;
    const ypr_node *det = &net->nodes[net->nnodes - 1];
    RETURN_IF(det->kind != YPR_NODE_DETECT, YPR_EUNSUPPORTED, "export: no detect head");
    xstate x;
    memset(&x, 0, sizeof x);
    x.net = net;
    ypr__sb_init(&x.yaml);
    x.node_layer_out = malloc((size_t)net->nnodes * sizeof(int));
    x.done = calloc((size_t)net->nnodes, 1);
    x.names = calloc((size_t)net->nparams + 1, sizeof(char *));
    int rc = x.node_layer_out && x.done && x.names ? ypr__net_consumers(net, &x.cons)
                                                   : ypr__error(YPR_ENOMEM, "export: out of memory");
    for (int i = 0; x.node_layer_out && i < net->nnodes; i++)
        x.node_layer_out[i] = -1;
    ypr__sb_printf(&x.yaml, "# written by libyolopr %s (widths as pruned)\nnc: %d\n"
                   "depth_multiple: 1.0\nwidth_multiple: 1.0\nanchors:\n", ypr_version_string(),
                   det->nc);
    const float *grid = net->params[det->p[1]].data;
    for (int l = 0; l < det->nl; l++) {
        ypr__sb_puts(&x.yaml, "  - [");
        for (int a = 0; a < det->na; a++)
            ypr__sb_printf(&x.yaml, "%s%g,%g", a ? ", " : "", grid[(l * det->na + a) * 2],
                           grid[(l * det->na + a) * 2 + 1]);
        ypr__sb_puts(&x.yaml, "]\n");
    }
    ypr__sb_puts(&x.yaml, "backbone:\n  [\n");
    for (int i = 1; rc == YPR_OK && i < net->nnodes;) {
        int L = net->nodes[i].layer, j = i;
        while (j + 1 < net->nnodes && net->nodes[j + 1].layer == L)
            j++;
        if (L >= 0 && net->nodes[j].kind == YPR_NODE_DETECT)
            ypr__sb_puts(&x.yaml, "  ]\nhead:\n  [\n");
        rc = emit_layer(&x, i, j);
        i = j + 1;
    }
    ypr__sb_puts(&x.yaml, "  ]\n");
    for (int i = 0; rc == YPR_OK && i < net->nparams; i++)
        if (!x.names[i])
            rc = ypr__error(YPR_EINTERNAL, "export: tensor %s was not renamed", net->params[i].name);
    if (rc == YPR_OK && x.yaml.failed)
        rc = ypr__error(YPR_ENOMEM, "export: out of memory");
    /* weights, plus num_batches_tracked for every BatchNorm */
    int nbn = 0;
    for (int i = 0; i < net->nnodes; i++)
        nbn += net->nodes[i].kind == YPR_NODE_BN;
    ypr_st_entry *e = calloc((size_t)(net->nparams + nbn + 1), sizeof *e);
    char **bn_names = calloc((size_t)(nbn + 1), sizeof(char *));
    static const int64_t zero64 = 0;
    if (rc == YPR_OK && (!e || !bn_names))
        rc = ypr__error(YPR_ENOMEM, "export: out of memory");
    size_t ne = 0;
    for (int i = 0; rc == YPR_OK && i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        e[ne++] = (ypr_st_entry){x.names[i], YPR_DT_F32, p->ndim, p->shape, p->data};
    }
    for (int i = 0, k = 0; rc == YPR_OK && i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_BN)
            continue;
        const char *w = x.names[nd->p[0]];   /* "<module>.weight" */
        size_t len = strlen(w) - strlen("weight");
        bn_names[k] = malloc(len + 32);
        if (!bn_names[k]) {
            rc = ypr__error(YPR_ENOMEM, "export: out of memory");
            break;
        }
        snprintf(bn_names[k], len + 32, "%.*snum_batches_tracked", (int)len, w);
        e[ne++] = (ypr_st_entry){bn_names[k], YPR_DT_I64, 0, NULL, &zero64};
        k++;
    }
    if (rc == YPR_OK) {
        const char *meta[] = {"format", "pt"};
        rc = ypr__st_write(weights_path, e, ne, meta, 1);
    }
    if (rc == YPR_OK) {
        ypr_atomic_file af;
        rc = ypr__afile_open(&af, yaml_path);
        if (rc == YPR_OK) {
            if (fwrite(x.yaml.data, 1, x.yaml.len, af.fp) != x.yaml.len) {
                ypr__afile_abort(&af);
                rc = ypr__error(YPR_EIO, "%s: write failed", yaml_path);
            } else {
                rc = ypr__afile_commit(&af);
            }
        }
    }
    for (int i = 0; bn_names && i < nbn; i++)
        free(bn_names[i]);
    free(bn_names);
    free(e);
    for (int i = 0; x.names && i < net->nparams; i++)
        free(x.names[i]);
    free(x.names);
    free(x.node_layer_out);
    free(x.done);
    ypr__consumers_free(&x.cons);
    ypr__sb_free(&x.yaml);
    return rc;
}
