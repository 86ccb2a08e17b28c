/* Net building, shape inference, parameter and MAC counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static const char *const kind_names[YPR_NODE_KIND_COUNT_] = {
    "input", "conv", "batchnorm", "act", "concat", "add", "implicit_add",
    "implicit_mul", "maxpool", "upsample", "reorg", "detect"};

const char *ypr__node_kind_name(int kind)
{
    return kind >= 0 && kind < YPR_NODE_KIND_COUNT_ ? kind_names[kind] : "?";
}

void ypr__net_init(ypr_net *net)
{
    memset(net, 0, sizeof *net);
}

void ypr__net_free(ypr_net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->nnodes; i++)
        free(net->nodes[i].inputs);
    for (int i = 0; i < net->nparams; i++) {
        ypr__free(net->params[i].data);
        ypr__param_drop_q(&net->params[i]);
    }
    free(net->nodes);
    free(net->params);
    free(net->pindex);
    memset(net, 0, sizeof *net);
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return YPR_OK;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return ypr__error(YPR_ENOMEM, "net: out of memory");
    *arr = p;
    *cap = nc;
    return YPR_OK;
}

int ypr__net_add(ypr_net *net, int kind, const char *name, int layer,
                 const int *inputs, int ninputs)
{
    RETURN_IF(strlen(name) >= YPR_NAME_MAX, YPR_EINVAL, "net: node name too long: %s", name);
    RETURN_IF(net->nnodes >= YPR_NET_MAX_NODES, YPR_ERANGE,
              "net: node %s would be node %d (at most %d nodes)", name, net->nnodes + 1,
              YPR_NET_MAX_NODES);
    for (int i = 0; i < ninputs; i++)
        RETURN_IF(inputs[i] < 0 || inputs[i] >= net->nnodes, YPR_EINVAL,
                  "net: node %s: input %d refers to node %d of %d", name, i, inputs[i],
                  net->nnodes);
    TRY(grow((void **)&net->nodes, &net->node_cap, net->nnodes + 1, sizeof *net->nodes));
    ypr_node *nd = &net->nodes[net->nnodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    snprintf(nd->name, sizeof nd->name, "%s", name);
    nd->layer = layer;
    nd->sh = nd->sw = nd->dh = nd->dw = nd->groups = 1;
    nd->scale = 1;
    for (int i = 0; i < 4; i++)
        nd->p[i] = -1;
    if (ninputs > 0) {
        nd->inputs = malloc((size_t)ninputs * sizeof(int));
        if (!nd->inputs)
            return ypr__error(YPR_ENOMEM, "net: out of memory");
        memcpy(nd->inputs, inputs, (size_t)ninputs * sizeof(int));
    }
    nd->ninputs = ninputs;
    net->version++;
    net->shape_version++;
    return net->nnodes++;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_put(int *tab, int cap, const char *name, int i)
{
    size_t m = (size_t)cap - 1, k = (size_t)name_hash(name) & m;
    while (tab[k])
        k = (k + 1) & m;
    tab[k] = i + 1;
}

/* Keep the name index at most half full; it is rebuilt when it grows. */
static int index_reserve(ypr_net *net, int n)
{
    if ((int64_t)2 * n < net->pindex_cap)
        return YPR_OK;
    int cap = net->pindex_cap ? net->pindex_cap : 256;
    while ((int64_t)2 * n >= cap)
        cap *= 2;
    int *tab = calloc((size_t)cap, sizeof *tab);
    if (!tab)
        return ypr__error(YPR_ENOMEM, "net: out of memory");
    for (int i = 0; i < net->nparams; i++)
        index_put(tab, cap, net->params[i].name, i);
    free(net->pindex);
    net->pindex = tab;
    net->pindex_cap = cap;
    return YPR_OK;
}

int ypr__net_add_param(ypr_net *net, const char *name, int ndim, const int64_t *shape,
                       int is_buffer)
{
    RETURN_IF(strlen(name) >= YPR_NAME_MAX, YPR_EINVAL, "net: tensor name too long: %s", name);
    RETURN_IF(ndim < 0 || ndim > 6, YPR_EINVAL, "net: tensor %s: %d dimensions", name, ndim);
    int64_t numel = 1, total = 0;
    for (int i = 0; i < ndim; i++)
        RETURN_IF(ypr__mul_size(numel, shape[i], &numel) < 0 ||
                  numel > YPR_NET_MAX_PARAM_BYTES / (int64_t)sizeof(float), YPR_ERANGE,
                  "net: tensor %s: more than %lld bytes", name,
                  (long long)YPR_NET_MAX_PARAM_BYTES);
    const int64_t max = YPR_NET_MAX_PARAM_BYTES / (int64_t)sizeof(float);
    if (net->param_floats + numel > max) {   /* recount: tensors may have shrunk */
        for (int i = 0; i < net->nparams; i++)
            total += net->params[i].numel;
        net->param_floats = total;
    }
    RETURN_IF(net->param_floats + numel > max, YPR_ERANGE,
              "net: tensor %s (%lld elements) takes the parameters past %lld bytes", name,
              (long long)numel, (long long)YPR_NET_MAX_PARAM_BYTES);
    RETURN_IF(ypr__net_find_param(net, name) >= 0, YPR_EINVAL, "net: duplicate tensor %s", name);
    TRY(grow((void **)&net->params, &net->param_cap, net->nparams + 1, sizeof *net->params));
    TRY(index_reserve(net, net->nparams + 1));
    ypr_param *p = &net->params[net->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        p->shape[i] = shape[i];
    p->numel = numel;
    p->is_buffer = is_buffer;
    p->data = ypr__calloc((size_t)(numel ? numel : 1), sizeof(float));
    if (!p->data)
        return YPR_ENOMEM;
    index_put(net->pindex, net->pindex_cap, p->name, net->nparams);
    net->param_floats += numel;
    net->version++;
    net->shape_version++;
    return net->nparams++;
}

int ypr__net_find_param(const ypr_net *net, const char *name)
{
    if (!net->pindex_cap) {
        for (int i = 0; i < net->nparams; i++)
            if (strcmp(net->params[i].name, name) == 0)
                return i;
        return -1;
    }
    size_t m = (size_t)net->pindex_cap - 1, k = (size_t)name_hash(name) & m;
    for (int i; (i = net->pindex[k]) != 0; k = (k + 1) & m)
        if (strcmp(net->params[i - 1].name, name) == 0)
            return i - 1;
    return -1;
}

int64_t ypr__net_num_params(const ypr_net *net)
{
    int64_t n = 0;
    for (int i = 0; i < net->nparams; i++)
        if (!net->params[i].is_buffer)
            n += net->params[i].numel;
    return n;
}

static int pool_out(int64_t in, int k, int s, int p, int d, int64_t *out)
{
    int64_t ek = (int64_t)(k - 1) * d + 1;
    if (in + 2 * p < ek)
        return -1;
    *out = (in + 2 * p - ek) / s + 1;
    return 0;
}

int ypr__net_shapes(const ypr_net *net, int64_t h, int64_t w, ypr_shape *sh)
{
    RETURN_IF(h <= 0 || w <= 0 || h > YPR_NET_MAX_INPUT_SIDE || w > YPR_NET_MAX_INPUT_SIDE,
              YPR_EINVAL, "input size %lldx%lld outside 1..%d", (long long)h, (long long)w,
              YPR_NET_MAX_INPUT_SIDE);
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        const ypr_shape *in = nd->ninputs ? &sh[nd->inputs[0]] : NULL;
        ypr_shape o = in ? *in : (ypr_shape){nd->c, h, w};
        switch (nd->kind) {
        case YPR_NODE_INPUT:
            break;
        case YPR_NODE_CONV: {
            const ypr_param *wt = &net->params[nd->p[0]];
            RETURN_IF(in->c != wt->shape[1] * nd->groups, YPR_ESHAPE,
                      "node %s: input has %lld channels, weight %s expects %lld", nd->name,
                      (long long)in->c, wt->name, (long long)(wt->shape[1] * nd->groups));
            RETURN_IF(pool_out(in->h, nd->kh, nd->sh, nd->ph, nd->dh, &o.h) ||
                      pool_out(in->w, nd->kw, nd->sw, nd->pw, nd->dw, &o.w), YPR_ESHAPE,
                      "node %s: input %lldx%lld smaller than the kernel", nd->name,
                      (long long)in->h, (long long)in->w);
            o.c = nd->c;
            break;
        }
        case YPR_NODE_MAXPOOL:
            RETURN_IF(pool_out(in->h, nd->kh, nd->sh, nd->ph, 1, &o.h) ||
                      pool_out(in->w, nd->kw, nd->sw, nd->pw, 1, &o.w), YPR_ESHAPE,
                      "node %s: input %lldx%lld smaller than the pooling window", nd->name,
                      (long long)in->h, (long long)in->w);
            break;
        case YPR_NODE_UPSAMPLE:
            RETURN_IF(nd->scale < 1 || nd->scale > 64 ||
                      in->h > (int64_t)YPR_NET_MAX_INPUT_SIDE * 64 ||
                      in->w > (int64_t)YPR_NET_MAX_INPUT_SIDE * 64, YPR_ESHAPE,
                      "node %s: upsampling %lldx%lld by %d is too large", nd->name,
                      (long long)in->h, (long long)in->w, nd->scale);
            o.h *= nd->scale;
            o.w *= nd->scale;
            break;
        case YPR_NODE_REORG:
            RETURN_IF(in->h % 2 || in->w % 2, YPR_ESHAPE, "node %s: reorg needs even sizes, got %lldx%lld",
                      nd->name, (long long)in->h, (long long)in->w);
            o = (ypr_shape){in->c * 4, in->h / 2, in->w / 2};
            break;
        case YPR_NODE_CONCAT:
            o.c = 0;
            for (int j = 0; j < nd->ninputs; j++) {
                const ypr_shape *s = &sh[nd->inputs[j]];
                RETURN_IF(s->h != in->h || s->w != in->w, YPR_ESHAPE,
                          "node %s: input %d is %lldx%lld, input 0 is %lldx%lld (input size must be "
                          "a multiple of the largest stride)", nd->name, j, (long long)s->h,
                          (long long)s->w, (long long)in->h, (long long)in->w);
                o.c += s->c;
            }
            break;
        case YPR_NODE_ADD:
            for (int j = 1; j < nd->ninputs; j++) {
                const ypr_shape *s = &sh[nd->inputs[j]];
                RETURN_IF(s->c != in->c || s->h != in->h || s->w != in->w, YPR_ESHAPE,
                          "node %s: cannot add %lldx%lldx%lld to %lldx%lldx%lld", nd->name,
                          (long long)s->c, (long long)s->h, (long long)s->w, (long long)in->c,
                          (long long)in->h, (long long)in->w);
            }
            break;
        case YPR_NODE_BN:
        case YPR_NODE_IMPLICIT_ADD:
        case YPR_NODE_IMPLICIT_MUL: {
            const ypr_param *p = &net->params[nd->p[0]];
            RETURN_IF(p->numel != in->c, YPR_ESHAPE, "node %s: %s has %lld channels, input %lld",
                      nd->name, p->name, (long long)p->numel, (long long)in->c);
            break;
        }
        case YPR_NODE_ACT:
            break;
        case YPR_NODE_DETECT:
            for (int j = 0; j < nd->ninputs; j++) {
                const ypr_shape *s = &sh[nd->inputs[j]];
                RETURN_IF(s->c != (int64_t)nd->na * (nd->nc + 5), YPR_ESHAPE,
                          "node %s: level %d has %lld channels, expected %d anchors x %d outputs",
                          nd->name, j, (long long)s->c, nd->na, nd->nc + 5);
            }
            o = (ypr_shape){0, 0, 0};
            break;
        default:
            return ypr__error(YPR_EINTERNAL, "node %s: unknown kind %d", nd->name, nd->kind);
        }
        sh[i] = o;
    }
    return YPR_OK;
}

int ypr__net_macs(const ypr_net *net, int64_t h, int64_t w, int conv_only, int64_t *macs)
{
    ypr_shape *sh = malloc((size_t)(net->nnodes ? net->nnodes : 1) * sizeof *sh);
    if (!sh)
        return ypr__error(YPR_ENOMEM, "net: out of memory");
    int rc = ypr__net_shapes(net, h, w, sh);
    int64_t total = 0;
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        int64_t hw = sh[i].h * sh[i].w;
        if (nd->kind == YPR_NODE_CONV) {
            const ypr_param *wt = &net->params[nd->p[0]];
            total += hw * wt->numel;
        } else if (!conv_only) {
            switch (nd->kind) {
            case YPR_NODE_BN: case YPR_NODE_IMPLICIT_ADD: case YPR_NODE_IMPLICIT_MUL:
                total += sh[i].c * hw;
                break;
            case YPR_NODE_ADD:
                total += (int64_t)(nd->ninputs - 1) * sh[i].c * hw;
                break;
            case YPR_NODE_MAXPOOL:
                total += sh[i].c * hw * nd->kh * nd->kw;
                break;
            default:
                break;
            }
        }
    }
    free(sh);
    if (rc == YPR_OK)
        *macs = total;
    return rc;
}

static int expect_param(const ypr_net *net, const ypr_node *nd, int slot, int ndim,
                        const int64_t *shape)
{
    RETURN_IF(nd->p[slot] < 0 || nd->p[slot] >= net->nparams, YPR_EINVAL,
              "node %s: missing parameter %d", nd->name, slot);
    const ypr_param *p = &net->params[nd->p[slot]];
    int ok = p->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = p->shape[i] == shape[i];
    RETURN_IF(!ok, YPR_ESHAPE, "node %s: tensor %s has the wrong shape", nd->name, p->name);
    return YPR_OK;
}

int ypr__net_validate(const ypr_net *net)
{
    int ndetect = 0;
    RETURN_IF(net->nnodes < 2 || net->nnodes > YPR_NET_MAX_NODES, YPR_EINVAL,
              "net: %d nodes (2..%d)", net->nnodes, YPR_NET_MAX_NODES);
    RETURN_IF(net->nodes[0].kind != YPR_NODE_INPUT, YPR_EINVAL, "net: node 0 is not the input");
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        RETURN_IF(nd->kind != YPR_NODE_INPUT && nd->ninputs < 1, YPR_EINVAL,
                  "node %s: no input", nd->name);
        RETURN_IF(nd->kind == YPR_NODE_INPUT && (i != 0 || nd->ninputs), YPR_EINVAL,
                  "node %s: an input node must be node 0 and read nothing", nd->name);
        RETURN_IF(nd->c < 0 || nd->c > YPR_NET_MAX_CHANNELS, YPR_ERANGE,
                  "node %s: %lld channels (at most %d)", nd->name, (long long)nd->c,
                  YPR_NET_MAX_CHANNELS);
        RETURN_IF(nd->act < 0 || nd->act >= YPR_ACT_COUNT_, YPR_EINVAL,
                  "node %s: unknown activation %d", nd->name, nd->act);
        RETURN_IF(!isfinite(nd->alpha), YPR_EINVAL, "node %s: activation slope %g is not finite",
                  nd->name, (double)nd->alpha);
        for (int j = 0; j < nd->ninputs; j++)
            RETURN_IF(nd->inputs[j] < 0 || nd->inputs[j] >= i, YPR_EINVAL,
                      "node %s: input %d is not an earlier node", nd->name, j);
        TRY(ypr__qparam_check(&nd->aq, nd->name, "activation"));
        TRY(ypr__qparam_check(&nd->wq, nd->name, "weight"));
        TRY(ypr__qparam_check(&nd->bq, nd->name, "bias"));
        int64_t c = nd->c;
        switch (nd->kind) {
        case YPR_NODE_CONV: {
            RETURN_IF(nd->groups < 1 || nd->c % nd->groups, YPR_EINVAL,
                      "node %s: %lld channels not divisible by %d groups", nd->name,
                      (long long)nd->c, nd->groups);
            int64_t cin = net->nodes[nd->inputs[0]].c;
            RETURN_IF(cin % nd->groups, YPR_EINVAL, "node %s: input channels %lld not divisible "
                      "by %d groups", nd->name, (long long)cin, nd->groups);
            int64_t ws[4] = {c, cin / nd->groups, nd->kh, nd->kw};
            TRY(expect_param(net, nd, 0, 4, ws));
            if (nd->p[1] >= 0)
                TRY(expect_param(net, nd, 1, 1, &c));
            RETURN_IF(nd->kh < 1 || nd->kw < 1 || nd->sh < 1 || nd->sw < 1 || nd->ph < 0 ||
                      nd->pw < 0 || nd->dh < 1 || nd->dw < 1, YPR_EINVAL,
                      "node %s: bad kernel/stride/padding", nd->name);
            break;
        }
        case YPR_NODE_INPUT:
            RETURN_IF(nd->c != YPR_NET_INPUT_CHANNELS, YPR_EUNSUPPORTED,
                      "node %s: %lld input channels; only %d-channel (RGB) input is supported",
                      nd->name, (long long)nd->c, YPR_NET_INPUT_CHANNELS);
            break;
        case YPR_NODE_BN:
            for (int s = 0; s < 4; s++)
                TRY(expect_param(net, nd, s, 1, &c));
            RETURN_IF(!(nd->eps > 0.0f) || !isfinite(nd->eps), YPR_EINVAL,
                      "node %s: BatchNorm eps %g must be a positive number", nd->name,
                      (double)nd->eps);
            RETURN_IF(!(nd->momentum >= 0.0f && nd->momentum <= 1.0f), YPR_EINVAL,
                      "node %s: BatchNorm momentum %g outside [0, 1]", nd->name,
                      (double)nd->momentum);
            break;

        case YPR_NODE_IMPLICIT_ADD:
        case YPR_NODE_IMPLICIT_MUL: {
            int64_t s4[4] = {1, c, 1, 1};
            TRY(expect_param(net, nd, 0, 4, s4));
            break;
        }
        case YPR_NODE_DETECT:
            ndetect++;
            RETURN_IF(nd->nl != nd->ninputs || nd->nl < 1 || nd->nl > YPR_MAX_LEVELS ||
                      nd->na < 1 || nd->nc < 1, YPR_EINVAL, "node %s: bad detect head", nd->name);
            RETURN_IF(i != net->nnodes - 1, YPR_EINVAL, "node %s: detect must be last", nd->name);
            break;
        default:
            break;
        }
    }
    RETURN_IF(ndetect != 1, YPR_EINVAL, "net: expected one detect head, found %d", ndetect);
    return YPR_OK;
}

int ypr__net_clone(const ypr_net *src, ypr_net *dst, int with_data)
{
    ypr__net_init(dst);
    for (int i = 0; i < src->nnodes; i++) {
        const ypr_node *nd = &src->nodes[i];
        int id = ypr__net_add(dst, nd->kind, nd->name, nd->layer, nd->inputs, nd->ninputs);
        if (id < 0) {
            ypr__net_free(dst);
            return id;
        }
        int *inputs = dst->nodes[id].inputs;
        dst->nodes[id] = *nd;
        dst->nodes[id].inputs = inputs;
    }
    for (int i = 0; i < src->nparams; i++) {
        const ypr_param *p = &src->params[i];
        int pi = ypr__net_add_param(dst, p->name, p->ndim, p->shape, p->is_buffer);
        if (pi < 0) {
            ypr__net_free(dst);
            return pi;
        }
        if (with_data) {
            memcpy(dst->params[pi].data, p->data, (size_t)p->numel * sizeof(float));
            int rc = ypr__param_copy_q(&dst->params[pi], p);   /* dtype, integers, scales */
            if (rc < 0) {
                ypr__net_free(dst);
                return rc;
            }
        } else {   /* structure only: shapes without values */
            ypr__free(dst->params[pi].data);
            dst->params[pi].data = NULL;
        }
    }
    dst->version = src->version;
    dst->shape_version = src->shape_version;
    return YPR_OK;
}

/* ------------------------------------------------------- graph queries */

int ypr__net_consumers(const ypr_net *net, ypr_consumers *out)
{
    memset(out, 0, sizeof *out);
    int n = net->nnodes;
    int64_t edges = 0;
    for (int i = 0; i < n; i++)
        edges += net->nodes[i].ninputs;
    out->start = calloc((size_t)n + 1, sizeof(int));
    out->list = malloc((size_t)(edges ? edges : 1) * sizeof(int));
    int *fill = calloc((size_t)n + 1, sizeof(int));
    if (!out->start || !out->list || !fill || edges > INT32_MAX) {
        free(fill);
        ypr__consumers_free(out);
        return ypr__error(YPR_ENOMEM, "net: out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < net->nodes[i].ninputs; j++)
            out->start[net->nodes[i].inputs[j] + 1]++;
    for (int i = 0; i < n; i++)
        out->start[i + 1] += out->start[i];
    for (int i = 0; i < n; i++)           /* readers in node order */
        for (int j = 0; j < net->nodes[i].ninputs; j++) {
            int src = net->nodes[i].inputs[j];
            out->list[out->start[src] + fill[src]++] = i;
        }
    free(fill);
    out->n = n;
    return YPR_OK;
}

void ypr__consumers_free(ypr_consumers *c)
{
    free(c->start);
    free(c->list);
    memset(c, 0, sizeof *c);
}

int ypr__consumers_count(const ypr_consumers *c, int node)
{
    return node >= 0 && node < c->n ? c->start[node + 1] - c->start[node] : 0;
}

int ypr__consumers_sole(const ypr_consumers *c, int node)
{
    return ypr__consumers_count(c, node) == 1 ? c->list[c->start[node]] : -1;
}

int ypr__net_fold_affine(const ypr_net *net, int i, int64_t c, float *s, float *b)
{
    const ypr_node *nd = &net->nodes[i];
    switch (nd->kind) {
    case YPR_NODE_BN: {
        const float *g = net->params[nd->p[0]].data, *be = net->params[nd->p[1]].data;
        const float *mu = net->params[nd->p[2]].data, *var = net->params[nd->p[3]].data;
        for (int64_t k = 0; k < c; k++) {
            float m = g[k] / sqrtf(var[k] + nd->eps);
            s[k] *= m;
            b[k] = (b[k] - mu[k]) * m + be[k];
        }
        return 1;
    }
    case YPR_NODE_IMPLICIT_MUL: {
        const float *m = net->params[nd->p[0]].data;
        for (int64_t k = 0; k < c; k++) {
            s[k] *= m[k];
            b[k] *= m[k];
        }
        return 1;
    }
    case YPR_NODE_IMPLICIT_ADD: {
        const float *a = net->params[nd->p[0]].data;
        for (int64_t k = 0; k < c; k++)
            b[k] += a[k];
        return 1;
    }
    default:
        return 0;
    }
}
