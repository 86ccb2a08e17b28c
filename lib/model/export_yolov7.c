/* Back to YOLOv7's own code: write a (pruned) net as a YOLOv7 model .yaml plus
 * a matching safetensors state_dict that YOLOv7's PyTorch Model builds and
 * loads unchanged. Every Conv and RepConv gets its current width; a composite
 * module whose inner widths no longer follow its formula (SPPCSPC) is written
 * as its primitive Conv/SP/Concat layers, with the layers after it
 * renumbered and every `from` index and tensor name adjusted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

typedef struct xstate {
    const ypr_net *net;
    ypr_strbuf yaml;
    int *out_of_layer;     /* old layer → new index of its output layer */
    int *node_layer_out;   /* node → new layer index whose output it is (-1) */
    int nlayers_old, next; /* next new layer index */
    char **names;          /* new tensor names, per param */
} xstate;

static int layer_count(const ypr_net *net)
{
    int n = 0;
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].layer + 1 > n)
            n = net->nodes[i].layer + 1;
    return n;
}

static const ypr_node *find_node(const ypr_net *net, const char *name, int *index)
{
    for (int i = 0; i < net->nnodes; i++)
        if (strcmp(net->nodes[i].name, name) == 0) {
            if (index)
                *index = i;
            return &net->nodes[i];
        }
    return NULL;
}

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

static void rename_prefix(xstate *x, const char *old_prefix, int new_layer, const char *new_mid)
{
    size_t k = strlen(old_prefix);
    for (int i = 0; i < x->net->nparams; i++) {
        const char *nm = x->net->params[i].name;
        if (strncmp(nm, old_prefix, k) != 0)
            continue;
        char buf[2 * YPR_NAME_MAX];
        snprintf(buf, sizeof buf, "model.%d.%s%s", new_layer, new_mid, nm + k);
        free(x->names[i]);
        x->names[i] = strdup(buf);
    }
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

/* One YOLOv7 Conv (conv → bn → act) whose nodes are prefixed `pre`. */
static int emit_conv(xstate *x, const char *pre, const char *from, int *out_node)
{
    char name[YPR_NAME_MAX + 16], a[48];
    int ci, ai = -1, bi = -1;
    snprintf(name, sizeof name, "%s.conv", pre);
    const ypr_node *cv = find_node(x->net, name, &ci);
    RETURN_IF(!cv, YPR_EUNSUPPORTED, "export: %s is not a Conv", pre);
    RETURN_IF(cv->c % 8, YPR_EUNSUPPORTED,
              "export: %s has %lld channels; YOLOv7 rounds widths up to multiples of 8 "
              "(prune with round_to 8)", pre, (long long)cv->c);
    snprintf(name, sizeof name, "%s.bn", pre);
    RETURN_IF(!find_node(x->net, name, &bi), YPR_EUNSUPPORTED, "export: %s has no BatchNorm "
              "(a fused model cannot be written back)", pre);
    snprintf(name, sizeof name, "%s.act", pre);
    const ypr_node *act = find_node(x->net, name, &ai);
    const char *aa = act_arg(act, a, sizeof a);
    ypr__sb_printf(&x->yaml, "   [%s, 1, Conv, [%lld, %d, %d", from, (long long)cv->c, cv->kh, cv->sh);
    if (cv->ph != cv->kh / 2 || cv->groups != 1 || aa)
        ypr__sb_printf(&x->yaml, ", %d, %d", cv->ph, cv->groups);
    if (aa)
        ypr__sb_printf(&x->yaml, ", %s", aa);
    ypr__sb_printf(&x->yaml, "]],  # %d\n", x->next);
    char prefix[YPR_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s.", pre);
    rename_prefix(x, prefix, x->next, "");
    *out_node = ai >= 0 ? ai : bi;
    x->node_layer_out[*out_node] = x->next;
    return x->next++;
}

static int emit_simple(xstate *x, int node, const char *text)
{
    ypr__sb_printf(&x->yaml, "   %s,  # %d\n", text, x->next);
    x->node_layer_out[node] = x->next;
    return x->next++;
}

/* SPPCSPC as its primitives (cv1, cv3, cv4, the pools, concat, cv5, cv6,
 * cv2, concat, cv7). */
static int emit_sppcspc_expanded(xstate *x, int L, int input)
{
    char pre[64], from[32], text[160];
    int n_cv1, n_cv3, n_cv4, n_cv5, n_cv6, n_cv2, n_cv7, pools[8], np = 0;
    TRY(from_of(x, input, from, sizeof from));
    snprintf(pre, sizeof pre, "model.%d.cv1", L);
    TRY(emit_conv(x, pre, from, &n_cv1));
    snprintf(pre, sizeof pre, "model.%d.cv3", L);
    TRY(emit_conv(x, pre, "-1", &n_cv3));
    snprintf(pre, sizeof pre, "model.%d.cv4", L);
    TRY(emit_conv(x, pre, "-1", &n_cv4));
    int l_cv4 = x->next - 1;
    for (int k = 0; k < 8; k++) {
        char nm[64];
        int idx;
        snprintf(nm, sizeof nm, "model.%d.m.%d", L, k);
        const ypr_node *mp = find_node(x->net, nm, &idx);
        if (!mp)
            break;
        snprintf(text, sizeof text, "[%d, 1, SP, [%d]]", l_cv4, mp->kh);
        pools[np++] = emit_simple(x, idx, text);
    }
    int n = snprintf(text, sizeof text, "[[%d", l_cv4);
    for (int k = 0; k < np; k++)
        n += snprintf(text + n, sizeof text - (size_t)n, ", %d", pools[k]);
    snprintf(text + n, sizeof text - (size_t)n, "], 1, Concat, [1]]");
    char nm[64];
    int cat1;
    snprintf(nm, sizeof nm, "model.%d.cat1", L);
    RETURN_IF(!find_node(x->net, nm, &cat1), YPR_EUNSUPPORTED, "export: SPPCSPC %d layout", L);
    emit_simple(x, cat1, text);
    snprintf(pre, sizeof pre, "model.%d.cv5", L);
    TRY(emit_conv(x, pre, "-1", &n_cv5));
    snprintf(pre, sizeof pre, "model.%d.cv6", L);
    TRY(emit_conv(x, pre, "-1", &n_cv6));
    int l_cv6 = x->next - 1;
    TRY(from_of(x, input, from, sizeof from));
    snprintf(pre, sizeof pre, "model.%d.cv2", L);
    TRY(emit_conv(x, pre, from, &n_cv2));
    int cat2;
    snprintf(nm, sizeof nm, "model.%d.cat2", L);
    RETURN_IF(!find_node(x->net, nm, &cat2), YPR_EUNSUPPORTED, "export: SPPCSPC %d layout", L);
    snprintf(text, sizeof text, "[[%d, -1], 1, Concat, [1]]", l_cv6);
    emit_simple(x, cat2, text);
    snprintf(pre, sizeof pre, "model.%d.cv7", L);
    TRY(emit_conv(x, pre, "-1", &n_cv7));
    (void)n_cv1; (void)n_cv3; (void)n_cv4; (void)n_cv5; (void)n_cv6; (void)n_cv2;
    return n_cv7;
}

static int emit_layer(xstate *x, int L, int first, int last)
{
    const ypr_net *net = x->net;
    const ypr_node *ln = &net->nodes[last];
    char pre[64], from[32], text[512];
    /* the layer's inputs: nodes outside it read by its first node(s) */
    int input = net->nodes[first].ninputs ? net->nodes[first].inputs[0] : -1;
    snprintf(pre, sizeof pre, "model.%d", L);
    char nm[96];
    snprintf(nm, sizeof nm, "model.%d.conv", L);
    if (find_node(net, nm, NULL)) {
        int out;
        TRY(from_of(x, input, from, sizeof from));
        TRY(emit_conv(x, pre, from, &out));
        return YPR_OK;
    }
    snprintf(nm, sizeof nm, "model.%d.rbr_dense.0", L);
    int di;
    const ypr_node *dense = find_node(net, nm, &di);
    if (dense) {
        TRY(from_of(x, net->nodes[di].inputs[0], from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, RepConv, [%lld, 3, %d]]", from, (long long)dense->c,
                 dense->sh);
        RETURN_IF(dense->c % 8, YPR_EUNSUPPORTED, "export: %s has %lld channels (not a multiple "
                  "of 8)", pre, (long long)dense->c);
        emit_simple(x, last, text);
        char old[80];
        snprintf(old, sizeof old, "model.%d.", L);
        rename_prefix(x, old, x->next - 1, "");
        return YPR_OK;
    }
    snprintf(nm, sizeof nm, "model.%d.rbr_reparam", L);
    RETURN_IF(find_node(net, nm, NULL), YPR_EUNSUPPORTED,
              "export: layer %d is a fused RepConv; export the unfused model", L);
    snprintf(nm, sizeof nm, "model.%d.cv1.conv", L);
    int c1i;
    if (find_node(net, nm, &c1i)) {   /* SPPCSPC: keep it whole if its widths still fit */
        int64_t c7 = ln->c;
        int whole = 1;
        for (int k = 1; k <= 6; k++) {
            snprintf(nm, sizeof nm, "model.%d.cv%d.conv", L, k);
            const ypr_node *cv = find_node(net, nm, NULL);
            whole &= cv && cv->c == c7;
        }
        if (!whole)
            return emit_sppcspc_expanded(x, L, net->nodes[c1i].inputs[0]) < 0 ? YPR_EUNSUPPORTED
                                                                                : YPR_OK;
        TRY(from_of(x, net->nodes[c1i].inputs[0], from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, SPPCSPC, [%lld]]", from, (long long)c7);
        emit_simple(x, last, text);
        char old[80];
        snprintf(old, sizeof old, "model.%d.", L);
        rename_prefix(x, old, x->next - 1, "");
        return YPR_OK;
    }
    /* single-node layers */
    int n = 0;
    if (ln->kind == YPR_NODE_CONCAT || ln->kind == YPR_NODE_ADD || ln->kind == YPR_NODE_DETECT) {
        n = snprintf(text, sizeof text, "[[");
        for (int j = 0; j < ln->ninputs; j++) {
            int src = ln->inputs[j];
            /* a detect level reads through implicit/conv nodes of its own layer */
            while (ln->kind == YPR_NODE_DETECT && net->nodes[src].layer == L)
                src = net->nodes[src].inputs[0];
            int lo = x->node_layer_out[src];
            RETURN_IF(lo < 0, YPR_EUNSUPPORTED, "export: layer %d reads a non-output node", L);
            n += snprintf(text + n, sizeof text - (size_t)n, "%s%d", j ? ", " : "", lo);
        }
    }
    switch (ln->kind) {
    case YPR_NODE_CONCAT:
        snprintf(text + n, sizeof text - (size_t)n, "], 1, Concat, [1]]");
        break;
    case YPR_NODE_ADD:
        snprintf(text + n, sizeof text - (size_t)n, "], 1, Shortcut, [1]]");
        break;
    case YPR_NODE_DETECT: {
        int implicit = net->nodes[ln->inputs[0]].kind == YPR_NODE_IMPLICIT_MUL;
        snprintf(text + n, sizeof text - (size_t)n, "], 1, %s, [nc, anchors]]",
                 implicit ? "IDetect" : "Detect");
        emit_simple(x, last, text);
        char old[80];
        snprintf(old, sizeof old, "model.%d.", L);
        rename_prefix(x, old, x->next - 1, "");
        return YPR_OK;
    }
    case YPR_NODE_MAXPOOL:
        TRY(from_of(x, input, from, sizeof from));
        if (ln->kh == 2 && ln->sh == 2 && ln->ph == 0)
            snprintf(text, sizeof text, "[%s, 1, MP, []]", from);
        else
            snprintf(text, sizeof text, "[%s, 1, SP, [%d, %d]]", from, ln->kh, ln->sh);
        break;
    case YPR_NODE_UPSAMPLE:
        TRY(from_of(x, input, from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, nn.Upsample, [None, %d, 'nearest']]", from, ln->scale);
        break;
    case YPR_NODE_REORG:
        TRY(from_of(x, input, from, sizeof from));
        snprintf(text, sizeof text, "[%s, 1, ReOrg, []]", from);
        break;
    default:
        return ypr__error(YPR_EUNSUPPORTED, "export: layer %d (%s) has no YOLOv7 module", L,
                          ln->name);
    }
    emit_simple(x, last, text);
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
    x.nlayers_old = layer_count(net);
    x.node_layer_out = malloc((size_t)net->nnodes * sizeof(int));
    x.names = calloc((size_t)net->nparams, sizeof(char *));
    RETURN_IF(!x.node_layer_out || !x.names, YPR_ENOMEM, "export: out of memory");
    for (int i = 0; i < net->nnodes; i++)
        x.node_layer_out[i] = -1;
    ypr__sb_init(&x.yaml);
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
    int rc = YPR_OK;
    for (int i = 1; rc == YPR_OK && i < net->nnodes;) {
        int L = net->nodes[i].layer, j = i;
        while (j + 1 < net->nnodes && net->nodes[j + 1].layer == L)
            j++;
        if (L >= 0 && net->nodes[j].kind == YPR_NODE_DETECT)
            ypr__sb_puts(&x.yaml, "  ]\nhead:\n  [\n");
        rc = emit_layer(&x, L, i, j);
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
    for (int i = 0; i < net->nparams; i++)
        free(x.names[i]);
    free(x.names);
    free(x.node_layer_out);
    ypr__sb_free(&x.yaml);
    return rc;
}
