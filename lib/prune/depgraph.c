/* Coupled channel groups from the channel rules (see prune.h), and the
 * surgery that removes channels from every tensor that holds them. */
#include <stdlib.h>
#include <string.h>

#include "prune.h"

typedef struct layout { int *sp; int n; } layout;   /* spaces laid end to end */

typedef struct builder {
    const ypr_net *net;
    layout *lay;          /* per node */
    int *parent;          /* union-find over spaces */
    int64_t *size;        /* per space */
    int *producer;        /* per space: conv node (-1 for the input) */
    const char **fixed;   /* per space: why it may not be pruned, or NULL */
    int nspaces, cap;
} builder;

static int find(builder *b, int s)
{
    while (b->parent[s] != s)
        s = b->parent[s] = b->parent[b->parent[s]];
    return s;
}

static void unite(builder *b, int x, int y)
{
    x = find(b, x);
    y = find(b, y);
    if (x != y)
        b->parent[y] = x;
}

static int new_space(builder *b, int64_t size, int producer)
{
    if (b->nspaces == b->cap) {
        int nc = b->cap ? 2 * b->cap : 64;
        int *p = realloc(b->parent, (size_t)nc * sizeof *p);
        if (p) b->parent = p;
        int64_t *s = realloc(b->size, (size_t)nc * sizeof *s);
        if (s) b->size = s;
        int *pr = realloc(b->producer, (size_t)nc * sizeof *pr);
        if (pr) b->producer = pr;
        const char **f = realloc(b->fixed, (size_t)nc * sizeof *f);
        if (f) b->fixed = f;
        if (!p || !s || !pr || !f)
            return ypr__error(YPR_ENOMEM, "depgraph: out of memory");
        b->cap = nc;
    }
    int id = b->nspaces++;
    b->parent[id] = id;
    b->size[id] = size;
    b->producer[id] = producer;
    b->fixed[id] = NULL;
    return id;
}

static int set_layout(layout *l, const int *sp, int n)
{
    l->sp = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    RETURN_IF(!l->sp, YPR_ENOMEM, "depgraph: out of memory");
    memcpy(l->sp, sp, (size_t)n * sizeof(int));
    l->n = n;
    return YPR_OK;
}

static void fix_layout(builder *b, const layout *l, const char *why)
{
    for (int i = 0; i < l->n; i++)
        if (!b->fixed[l->sp[i]])
            b->fixed[l->sp[i]] = why;
}

/* Apply each node's channel rule. */
static int trace(builder *b)
{
    const ypr_net *net = b->net;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        layout *out = &b->lay[i];
        const layout *in = nd->ninputs ? &b->lay[nd->inputs[0]] : NULL;
        switch (nd->kind) {
        case YPR_NODE_INPUT: {
            int s = new_space(b, nd->c, -1);
            if (s < 0) return s;
            b->fixed[s] = "the image's channels";
            TRY(set_layout(out, &s, 1));
            break;
        }
        case YPR_NODE_CONV: {
            int s = new_space(b, nd->c, i);
            if (s < 0) return s;
            if (nd->groups > 1) {
                b->fixed[s] = "grouped convolution";
                fix_layout(b, in, "input of a grouped convolution");
            }
            TRY(set_layout(out, &s, 1));
            break;
        }
        case YPR_NODE_CONCAT: {
            int n = 0;
            for (int j = 0; j < nd->ninputs; j++)
                n += b->lay[nd->inputs[j]].n;
            int *sp = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
            RETURN_IF(!sp, YPR_ENOMEM, "depgraph: out of memory");
            n = 0;
            for (int j = 0; j < nd->ninputs; j++) {
                const layout *l = &b->lay[nd->inputs[j]];
                memcpy(sp + n, l->sp, (size_t)l->n * sizeof(int));
                n += l->n;
            }
            int rc = set_layout(out, sp, n);
            free(sp);
            TRY(rc);
            break;
        }
        case YPR_NODE_REORG: {
            int *sp = malloc((size_t)(4 * in->n) * sizeof(int));
            RETURN_IF(!sp, YPR_ENOMEM, "depgraph: out of memory");
            for (int q = 0; q < 4; q++)
                memcpy(sp + q * in->n, in->sp, (size_t)in->n * sizeof(int));
            int rc = set_layout(out, sp, 4 * in->n);
            free(sp);
            TRY(rc);
            break;
        }
        case YPR_NODE_ADD: {
            int aligned = 1;
            for (int j = 1; j < nd->ninputs && aligned; j++) {
                const layout *l = &b->lay[nd->inputs[j]];
                aligned = l->n == in->n;
                for (int k = 0; aligned && k < l->n; k++)
                    aligned = b->size[l->sp[k]] == b->size[in->sp[k]];
            }
            for (int j = 1; j < nd->ninputs; j++) {
                const layout *l = &b->lay[nd->inputs[j]];
                if (aligned)
                    for (int k = 0; k < l->n; k++)
                        unite(b, in->sp[k], l->sp[k]);
                else
                    fix_layout(b, l, "added to differently laid out channels");
            }
            if (!aligned)
                fix_layout(b, in, "added to differently laid out channels");
            TRY(set_layout(out, in->sp, in->n));
            break;
        }
        case YPR_NODE_DETECT:
            for (int j = 0; j < nd->ninputs; j++)
                fix_layout(b, &b->lay[nd->inputs[j]], "the detect head's outputs");
            out->sp = NULL;
            out->n = 0;
            break;
        default:   /* one to one: bn, act, implicit add/mul, maxpool, upsample */
            TRY(set_layout(out, in->sp, in->n));
            break;
        }
    }
    return YPR_OK;
}

static int push_member(ypr_dep_group *g, int *cap, int node, int param, int axis, int64_t off)
{
    if (g->nmembers == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        ypr_dep_member *m = realloc(g->members, (size_t)*cap * sizeof *m);
        RETURN_IF(!m, YPR_ENOMEM, "depgraph: out of memory");
        g->members = m;
    }
    g->members[g->nmembers++] = (ypr_dep_member){node, param, axis, off};
    return YPR_OK;
}

static int push_int(int **arr, int *n, int v)
{
    int *p = realloc(*arr, (size_t)(*n + 1) * sizeof(int));
    RETURN_IF(!p, YPR_ENOMEM, "depgraph: out of memory");
    p[(*n)++] = v;
    *arr = p;
    return YPR_OK;
}

/* Members of root space r: producers' rows, pass-through vectors, consumers' columns. */
static int collect(builder *b, int r, ypr_dep_group *g)
{
    const ypr_net *net = b->net;
    int cap = 0;
    for (int s = 0; s < b->nspaces; s++) {
        if (find(b, s) != r)
            continue;
        if (b->fixed[s] && g->prunable) {
            g->prunable = 0;
            g->why_fixed = b->fixed[s];
        }
        int pn = b->producer[s];
        if (pn >= 0) {
            TRY(push_int(&g->sources, &g->nsources, pn));
            const ypr_node *nd = &net->nodes[pn];
            TRY(push_member(g, &cap, pn, nd->p[0], 0, 0));
            if (nd->p[1] >= 0)
                TRY(push_member(g, &cap, pn, nd->p[1], 0, 0));
        }
    }
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        int hit = 0;
        for (int k = 0; k < b->lay[i].n; k++)
            hit |= find(b, b->lay[i].sp[k]) == r;
        if (hit)
            TRY(push_int(&g->nodes, &g->nnodes, i));
        if (!nd->ninputs || (nd->kind != YPR_NODE_CONV && nd->kind != YPR_NODE_BN &&
                             nd->kind != YPR_NODE_IMPLICIT_ADD && nd->kind != YPR_NODE_IMPLICIT_MUL))
            continue;
        const layout *in = &b->lay[nd->inputs[0]];
        int64_t off = 0;
        for (int k = 0; k < in->n; off += b->size[in->sp[k]], k++) {
            if (find(b, in->sp[k]) != r)
                continue;
            switch (nd->kind) {
            case YPR_NODE_CONV:
                TRY(push_member(g, &cap, i, nd->p[0], 1, off));
                break;
            case YPR_NODE_BN:
                for (int q = 0; q < 4; q++)
                    TRY(push_member(g, &cap, i, nd->p[q], 0, off));
                break;
            default:   /* implicit vectors are [1, C, 1, 1] */
                TRY(push_member(g, &cap, i, nd->p[0], 1, off));
                break;
            }
        }
    }
    return YPR_OK;
}

void ypr__depgraph_free_groups(ypr_dep_group *groups, int n)
{
    for (int i = 0; groups && i < n; i++) {
        free(groups[i].sources);
        free(groups[i].members);
        free(groups[i].nodes);
    }
    free(groups);
}

int ypr__depgraph_build(const ypr_net *net, ypr_dep_group **groups_out, int *ngroups)
{
    *groups_out = NULL;
    *ngroups = 0;
    builder b;
    memset(&b, 0, sizeof b);
    b.net = net;
    b.lay = calloc((size_t)(net->nnodes ? net->nnodes : 1), sizeof *b.lay);
    int rc = b.lay ? trace(&b) : ypr__error(YPR_ENOMEM, "depgraph: out of memory");
    ypr_dep_group *groups = NULL;
    int ng = 0;
    if (rc == YPR_OK) {
        groups = calloc((size_t)(b.nspaces ? b.nspaces : 1), sizeof *groups);
        rc = groups ? YPR_OK : ypr__error(YPR_ENOMEM, "depgraph: out of memory");
    }
    for (int s = 0; rc == YPR_OK && s < b.nspaces; s++) {
        if (find(&b, s) != s)
            continue;
        ypr_dep_group *g = &groups[ng++];
        g->channels = b.size[s];
        g->prunable = 1;
        rc = collect(&b, s, g);
        if (rc == YPR_OK && g->prunable && g->nsources == 0) {
            g->prunable = 0;
            g->why_fixed = "no convolution produces these channels";
        }
    }
    for (int i = 0; b.lay && i < net->nnodes; i++)
        free(b.lay[i].sp);
    free(b.lay);
    free(b.parent);
    free(b.size);
    free(b.producer);
    free(b.fixed);
    if (rc < 0) {
        ypr__depgraph_free_groups(groups, ng);
        return rc;
    }
    *groups_out = groups;
    *ngroups = ng;
    return YPR_OK;
}

/* ------------------------------------------------------------- surgery */

static int check_indices(const ypr_dep_group *g, const int64_t *idx, int64_t n)
{
    RETURN_IF(!g->prunable, YPR_EINVAL, "prune: group is not prunable (%s)",
              g->why_fixed ? g->why_fixed : "fixed");
    RETURN_IF(n < 1 || n >= g->channels, YPR_ERANGE,
              "prune: removing %lld of %lld channels (at least one must stay)", (long long)n,
              (long long)g->channels);
    for (int64_t i = 0; i < n; i++)
        RETURN_IF(idx[i] < 0 || idx[i] >= g->channels || (i && idx[i] <= idx[i - 1]),
                  YPR_EINVAL, "prune: channel indices must be sorted, unique and < %lld",
                  (long long)g->channels);
    return YPR_OK;
}

ypr_axis_view ypr__axis_view(int ndim, const int64_t *shape, int axis)
{
    ypr_axis_view v = {1, shape[axis], 1};
    for (int d = 0; d < axis; d++)
        v.outer *= shape[d];
    for (int d = axis + 1; d < ndim; d++)
        v.inner *= shape[d];
    return v;
}

/* One tensor to cut: a drop mask per axis (NULL where untouched). */
typedef struct cut {
    int param;
    unsigned char *mask[6];
} cut;

static void free_cuts(cut *c, int n)
{
    for (int i = 0; c && i < n; i++)
        for (int a = 0; a < 6; a++)
            free(c[i].mask[a]);
    free(c);
}

int ypr__depgraph_prune(ypr_net *net, const ypr_dep_group *g, const int64_t *idx, int64_t n)
{
    const int64_t *idxs[1] = {idx};
    return ypr__depgraph_prune_many(net, &g, idxs, &n, 1);
}

/* Several groups at once: every tensor is compacted once, whatever number
 * of groups it belongs to (a conv is the producer of one and the consumer
 * of others). */
int ypr__depgraph_prune_many(ypr_net *net, const ypr_dep_group *const *gs,
                             const int64_t *const *idxs, const int64_t *ns, int ngroups)
{
    int total = 0;
    for (int q = 0; q < ngroups; q++) {
        TRY(check_indices(gs[q], idxs[q], ns[q]));
        total += gs[q]->nmembers;
    }
    cut *cuts = calloc((size_t)(total ? total : 1), sizeof *cuts);
    RETURN_IF(!cuts, YPR_ENOMEM, "prune: out of memory");
    int ncuts = 0, rc = YPR_OK;
    /* phase 1: masks; the net is not touched */
    for (int q = 0; q < ngroups; q++) {
        const ypr_dep_group *g = gs[q];
        const int64_t *idx = idxs[q];
        int64_t n = ns[q];
        for (int i = 0; rc == YPR_OK && i < g->nmembers; i++) {
            const ypr_dep_member *m = &g->members[i];
            const ypr_param *p = &net->params[m->param];
            int c = 0;
            while (c < ncuts && cuts[c].param != m->param)
                c++;
            if (c == ncuts)
                cuts[ncuts++].param = m->param;
            if (m->axis < 0 || m->axis >= p->ndim) {
                rc = ypr__error(YPR_EINTERNAL, "prune: tensor %s has no axis %d", p->name, m->axis);
                break;
            }
            if (!cuts[c].mask[m->axis] && !(cuts[c].mask[m->axis] = calloc((size_t)p->shape[m->axis], 1))) {
                rc = ypr__error(YPR_ENOMEM, "prune: out of memory");
                break;
            }
            for (int64_t k = 0; k < n; k++) {
                int64_t at = m->offset + idx[k];
                if (at >= p->shape[m->axis]) {
                    rc = ypr__error(YPR_EINTERNAL, "prune: tensor %s: index %lld outside axis %d",
                                    p->name, (long long)at, m->axis);
                    break;
                }
                cuts[c].mask[m->axis][at] = 1;
            }
        }
    }
    if (rc == YPR_OK) {   /* phase 2: in place, nothing can fail from here on */
        for (int c = 0; c < ncuts; c++) {
            ypr_param *p = &net->params[cuts[c].param];
            /* values, integers and per-channel scales of a quantized tensor
             * alike (lib/net/dtype.c); a structure-only net: shapes only */
            for (int a = 0; a < p->ndim; a++)
                if (cuts[c].mask[a])
                    ypr__param_compact(p, a, cuts[c].mask[a]);
        }
        /* channel counts follow from the rules, in order */
        for (int i = 0; i < net->nnodes; i++) {
            ypr_node *nd = &net->nodes[i];
            switch (nd->kind) {
            case YPR_NODE_CONV:
                nd->c = net->params[nd->p[0]].shape[0];
                break;
            case YPR_NODE_CONCAT:
                nd->c = 0;
                for (int j = 0; j < nd->ninputs; j++)
                    nd->c += net->nodes[nd->inputs[j]].c;
                break;
            case YPR_NODE_REORG:
                nd->c = 4 * net->nodes[nd->inputs[0]].c;
                break;
            case YPR_NODE_INPUT:
            case YPR_NODE_DETECT:
                break;
            default:
                nd->c = net->nodes[nd->inputs[0]].c;
                break;
            }
        }
        net->version++;
        net->shape_version++;
    }
    free_cuts(cuts, ncuts);
    TRY(rc);
    return ypr__net_validate(net);
}

int ypr__depgraph_zero(ypr_net *net, const ypr_dep_group *g, const int64_t *idx, int64_t n)
{
    TRY(check_indices(g, idx, n));
    for (int i = 0; i < g->nmembers; i++) {
        const ypr_dep_member *m = &g->members[i];
        const ypr_node *nd = &net->nodes[m->node];
        ypr_param *p = &net->params[m->param];
        int zero_it = (nd->kind == YPR_NODE_CONV && m->axis == 0) ||
                      nd->kind == YPR_NODE_IMPLICIT_ADD ||
                      (nd->kind == YPR_NODE_BN && (m->param == nd->p[0] || m->param == nd->p[1]));
        if (!zero_it)
            continue;
        ypr_axis_view v = ypr__axis_view(p->ndim, p->shape, m->axis);
        int64_t inner = v.inner, dim = v.dim, outer = v.outer;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t k = 0; k < n; k++)
                memset(p->data + (a * dim + m->offset + idx[k]) * inner, 0,
                       (size_t)inner * sizeof(float));
        ypr__param_sync(p);   /* a quantized tensor's integers follow (0 is on its grid) */
    }
    net->version++;
    return YPR_OK;
}
