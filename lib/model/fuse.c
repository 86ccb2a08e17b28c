/* Reparameterization for deployment, found from the graph's structure (not
 * from module names):
 *   conv → BatchNorm                 → conv with bias
 *   ImplicitA → 1×1 conv → ImplicitM → conv with the implicit vectors folded
 *   add(BN(conv3×3(x)), BN(conv1×1(x)) [, BN(x)]) → one 3×3 conv (RepConv),
 *   named model.<layer>.rbr_reparam as YOLOv7 names it.
 * The net is rebuilt; every output is unchanged up to float rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { KEEP = 0, DROP, FOLD, REPARAM };

/* Is `add` a RepConv sum? Fills the branch BN nodes and their convs. */
static int repconv_branches(const ypr_net *net, const ypr_consumers *cons, int add, int *bn,
                            int *conv, int *x_out)
{
    const ypr_node *a = &net->nodes[add];
    if (a->ninputs < 2 || a->ninputs > 3)
        return 0;
    int x = -1, n3 = 0, n1 = 0, nid = 0;
    for (int j = 0; j < a->ninputs; j++) {
        int b = a->inputs[j];
        if (net->nodes[b].kind != YPR_NODE_BN || ypr__consumers_sole(cons, b) != add)
            return 0;
        int src = net->nodes[b].inputs[0], cv = -1, xi = src;
        if (net->nodes[src].kind == YPR_NODE_CONV && ypr__consumers_sole(cons, src) == b) {
            cv = src;
            xi = net->nodes[src].inputs[0];
        }
        if (x >= 0 && xi != x)
            return 0;
        x = xi;
        bn[j] = b;
        conv[j] = cv;
    }
    int stride = -1, groups = -1;
    for (int j = 0; j < a->ninputs; j++) {
        const ypr_node *c = conv[j] >= 0 ? &net->nodes[conv[j]] : NULL;
        if (!c) {
            nid++;
            continue;
        }
        if (c->p[1] >= 0 || c->dh != 1 || c->dw != 1 || (stride >= 0 && (c->sh != stride ||
            c->groups != groups)) || c->sh != c->sw)
            return 0;
        stride = c->sh;
        groups = c->groups;
        if (c->kh == 3 && c->kw == 3 && c->ph == 1 && c->pw == 1)
            n3++;
        else if (c->kh == 1 && c->kw == 1 && c->ph == 0 && c->pw == 0)
            n1++;
        else
            return 0;
    }
    if (n3 != 1 || n1 > 1 || nid > 1 || (nid && (stride != 1 || groups != 1 ||
        net->nodes[x].c != a->c)))
        return 0;
    *x_out = x;
    return 1;
}

typedef struct fuse_state {
    const ypr_net *old;
    const ypr_consumers *cons;   /* of the old net */
    ypr_net *net;
    int *map;      /* old node → new node */
    int *mark;
} fuse_state;

static int copy_node(fuse_state *fs, int i)
{
    const ypr_node *nd = &fs->old->nodes[i];
    int in[256];
    for (int j = 0; j < nd->ninputs && j < 256; j++)
        in[j] = fs->map[nd->inputs[j]];
    int id = ypr__net_add(fs->net, nd->kind, nd->name, nd->layer, in, nd->ninputs);
    if (id < 0)
        return id;
    ypr_node *n2 = &fs->net->nodes[id];
    int *keep_inputs = n2->inputs, keep_n = n2->ninputs;
    *n2 = *nd;
    n2->inputs = keep_inputs;
    n2->ninputs = keep_n;
    for (int s = 0; s < 4; s++) {
        n2->p[s] = -1;
        if (nd->p[s] < 0)
            continue;
        const ypr_param *p = &fs->old->params[nd->p[s]];
        int pi = ypr__net_add_param(fs->net, p->name, p->ndim, p->shape, p->is_buffer);
        if (pi < 0)
            return pi;
        memcpy(fs->net->params[pi].data, p->data, (size_t)p->numel * sizeof(float));
        fs->net->nodes[id].p[s] = pi;
    }
    fs->map[i] = id;
    return id;
}

/* A conv (plus optional preceding implicit add, following BN and implicit
 * mul) → a conv with bias. */
static int emit_conv(fuse_state *fs, int i)
{
    const ypr_net *old = fs->old;
    const ypr_node *cv = &old->nodes[i];
    int id = copy_node(fs, i);
    if (id < 0)
        return id;
    ypr_node *nc = &fs->net->nodes[id];
    int64_t oc = cv->c, per = old->params[cv->p[0]].numel / oc;
    int64_t cin_g = old->params[cv->p[0]].shape[1];
    float *w = fs->net->params[nc->p[0]].data;
    float *bias = calloc((size_t)oc, sizeof(float));
    if (!bias)
        return ypr__error(YPR_ENOMEM, "fuse: out of memory");
    if (cv->p[1] >= 0)
        memcpy(bias, old->params[cv->p[1]].data, (size_t)oc * sizeof(float));
    int src = cv->inputs[0];
    if (old->nodes[src].kind == YPR_NODE_IMPLICIT_ADD && fs->mark[src] == FOLD) {
        const float *a = old->params[old->nodes[src].p[0]].data;
        for (int64_t o = 0; o < oc; o++) {
            int64_t g = o / (oc / cv->groups);
            for (int64_t k = 0; k < cin_g; k++)
                bias[o] += w[o * per + k] * a[g * cin_g + k];
        }
        nc->inputs[0] = fs->map[old->nodes[src].inputs[0]];
    }
    /* the BatchNorm and implicit multiply after it: y = conv(x)·s + b per channel */
    float *scale = malloc((size_t)oc * sizeof(float));
    if (!scale) {
        free(bias);
        return ypr__error(YPR_ENOMEM, "fuse: out of memory");
    }
    for (int64_t o = 0; o < oc; o++)
        scale[o] = 1.0f;
    int cur = i, nx;
    while ((nx = ypr__consumers_sole(fs->cons, cur)) >= 0 && fs->mark[nx] == FOLD &&
           (old->nodes[nx].kind == YPR_NODE_BN || old->nodes[nx].kind == YPR_NODE_IMPLICIT_MUL)) {
        ypr__net_fold_affine(old, nx, oc, scale, bias);
        fs->map[nx] = id;
        cur = nx;
    }
    for (int64_t o = 0; o < oc; o++)
        for (int64_t k = 0; k < per; k++)
            w[o * per + k] *= scale[o];
    free(scale);
    if (fs->net->nodes[id].p[1] < 0) {
        char name[2 * YPR_NAME_MAX];
        snprintf(name, sizeof name, "%s.bias", cv->name);
        int pi = ypr__net_add_param(fs->net, name, 1, &oc, 0);
        if (pi < 0) {
            free(bias);
            return pi;
        }
        fs->net->nodes[id].p[1] = pi;
    }
    memcpy(fs->net->params[fs->net->nodes[id].p[1]].data, bias, (size_t)oc * sizeof(float));
    free(bias);
    return id;
}

static int emit_repconv(fuse_state *fs, int add)
{
    const ypr_net *old = fs->old;
    int bn[3], conv[3], x;
    repconv_branches(old, fs->cons, add, bn, conv, &x);
    const ypr_node *a = &old->nodes[add];
    const ypr_node *c3 = NULL;
    for (int j = 0; j < a->ninputs; j++)
        if (conv[j] >= 0 && old->nodes[conv[j]].kh == 3)
            c3 = &old->nodes[conv[j]];
    char name[YPR_NAME_MAX];
    snprintf(name, sizeof name, "model.%d.rbr_reparam", a->layer);
    int in = fs->map[x];
    int id = ypr__net_add(fs->net, YPR_NODE_CONV, name, a->layer, &in, 1);
    if (id < 0)
        return id;
    ypr_node *nd = &fs->net->nodes[id];
    int *inputs = nd->inputs;
    *nd = *c3;
    snprintf(nd->name, sizeof nd->name, "%s", name);
    nd->inputs = inputs;
    nd->ninputs = 1;
    nd->layer = a->layer;
    int64_t oc = a->c, cin = old->params[c3->p[0]].shape[1];
    int64_t ws[4] = {oc, cin, 3, 3};
    char pn[2 * YPR_NAME_MAX];
    snprintf(pn, sizeof pn, "%s.weight", name);
    int pw = ypr__net_add_param(fs->net, pn, 4, ws, 0);
    if (pw < 0)
        return pw;
    snprintf(pn, sizeof pn, "%s.bias", name);
    int pb = ypr__net_add_param(fs->net, pn, 1, &oc, 0);
    if (pb < 0)
        return pb;
    nd = &fs->net->nodes[id];
    nd->p[0] = pw;
    nd->p[1] = pb;
    nd->p[2] = nd->p[3] = -1;
    float *W = fs->net->params[pw].data, *B = fs->net->params[pb].data;
    float *sc = malloc((size_t)oc * sizeof(float)), *sh = malloc((size_t)oc * sizeof(float));
    if (!sc || !sh) {
        free(sc);
        free(sh);
        return ypr__error(YPR_ENOMEM, "fuse: out of memory");
    }
    for (int j = 0; j < a->ninputs; j++) {
        for (int64_t o = 0; o < oc; o++) {   /* the branch's BatchNorm as y·sc + sh */
            sc[o] = 1.0f;
            sh[o] = 0.0f;
        }
        ypr__net_fold_affine(old, bn[j], oc, sc, sh);
        for (int64_t o = 0; o < oc; o++) {
            float s = sc[o];
            B[o] += sh[o];
            if (conv[j] < 0) {            /* identity: 1 at the kernel centre */
                W[(o * cin + o) * 9 + 4] += s;
                continue;
            }
            const ypr_node *c = &old->nodes[conv[j]];
            const float *w = old->params[c->p[0]].data;
            for (int64_t k = 0; k < cin; k++) {
                if (c->kh == 3)
                    for (int q = 0; q < 9; q++)
                        W[(o * cin + k) * 9 + q] += w[(o * cin + k) * 9 + q] * s;
                else
                    W[(o * cin + k) * 9 + 4] += w[o * cin + k] * s;
            }
        }
    }
    free(sc);
    free(sh);
    fs->map[add] = id;
    return id;
}

static void mark_all(const ypr_net *net, const ypr_consumers *cons, int *mark)
{
    for (int i = 0; i < net->nnodes; i++) {
        int bn[3], conv[3], x;
        if (net->nodes[i].kind == YPR_NODE_ADD && repconv_branches(net, cons, i, bn, conv, &x)) {
            mark[i] = REPARAM;
            for (int j = 0; j < net->nodes[i].ninputs; j++) {
                mark[bn[j]] = DROP;
                if (conv[j] >= 0)
                    mark[conv[j]] = DROP;
            }
        }
    }
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV || mark[i] != KEEP)
            continue;
        int cur = i, nx;
        while ((nx = ypr__consumers_sole(cons, cur)) >= 0 && mark[nx] == KEEP &&
               (net->nodes[nx].kind == YPR_NODE_BN || net->nodes[nx].kind == YPR_NODE_IMPLICIT_MUL)) {
            mark[nx] = FOLD;
            cur = nx;
        }
        int src = nd->inputs[0];
        if (net->nodes[src].kind == YPR_NODE_IMPLICIT_ADD && ypr__consumers_sole(cons, src) == i &&
            nd->kh == 1 && nd->kw == 1 && nd->ph == 0 && nd->pw == 0)
            mark[src] = FOLD;
    }
}

int ypr_model_fuse(ypr_model *m)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    const ypr_net *old = &m->net;
    ypr_net fresh;
    ypr__net_init(&fresh);
    int *map = malloc((size_t)old->nnodes * sizeof(int));
    int *mark = calloc((size_t)old->nnodes, sizeof(int));
    ypr_consumers cons;
    int rc = map && mark ? YPR_OK : ypr__error(YPR_ENOMEM, "fuse: out of memory");
    if (rc == YPR_OK)
        rc = ypr__net_consumers(old, &cons);
    else
        memset(&cons, 0, sizeof cons);
    fuse_state fs = {old, &cons, &fresh, map, mark};
    if (rc == YPR_OK)
        mark_all(old, &cons, mark);
    for (int i = 0; rc == YPR_OK && i < old->nnodes; i++) {
        const ypr_node *nd = &old->nodes[i];
        if (mark[i] == DROP)
            continue;
        if (mark[i] == FOLD) {
            if (nd->kind == YPR_NODE_IMPLICIT_ADD)
                map[i] = map[nd->inputs[0]];   /* its conv reads past it */
            continue;                          /* BN / implicit mul: mapped by emit_conv */
        }
        if (mark[i] == REPARAM)
            rc = emit_repconv(&fs, i);
        else if (nd->kind == YPR_NODE_CONV)
            rc = emit_conv(&fs, i);
        else
            rc = copy_node(&fs, i);
        rc = rc < 0 ? rc : YPR_OK;
    }
    if (rc == YPR_OK)   /* a quantized net stays so: its I8 / I32 tensors again (net.h) */
        rc = ypr__net_mark_quantized(&fresh);
    if (rc == YPR_OK)
        rc = ypr__net_validate(&fresh);
    ypr__consumers_free(&cons);
    free(map);
    free(mark);
    if (rc < 0) {
        ypr__net_free(&fresh);
        return rc;
    }
    ypr__model_drop_plans(m);
    uint64_t v = m->net.version, sv = m->net.shape_version;
    ypr__net_free(&m->net);
    m->net = fresh;
    m->net.version = v + 1;
    m->net.shape_version = sv + 1;
    return YPR_OK;
}
