/* Public ypr_depgraph: build, inspect, dump, prune a group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/model/model.h"
#include "prune.h"

int ypr_depgraph_build(ypr_model *m, ypr_depgraph **out)
{
    RETURN_IF(!m || !out, YPR_EINVAL, "depgraph: NULL argument");
    *out = NULL;
    ypr_depgraph *g = calloc(1, sizeof *g);
    RETURN_IF(!g, YPR_ENOMEM, "depgraph: out of memory");
    int rc = ypr__depgraph_build(&m->net, &g->groups, &g->ngroups);
    if (rc < 0) {
        free(g);
        return rc;
    }
    g->model = m;
    g->version = m->net.shape_version;
    *out = g;
    return YPR_OK;
}

void ypr_depgraph_free(ypr_depgraph *g)
{
    if (!g)
        return;
    ypr__depgraph_free_groups(g->groups, g->ngroups);
    free(g);
}

static int fresh(const ypr_depgraph *g)
{
    RETURN_IF(!g, YPR_EINVAL, "depgraph: NULL handle");
    RETURN_IF(g->version != g->model->net.shape_version, YPR_ESTATE,
              "depgraph: the model changed since the graph was built; rebuild it");
    return YPR_OK;
}

int ypr_depgraph_num_groups(const ypr_depgraph *g)
{
    TRY(fresh(g));
    return g->ngroups;
}

int ypr_depgraph_group_info(const ypr_depgraph *g, int group, int64_t *channels, int *prunable)
{
    TRY(fresh(g));
    RETURN_IF(group < 0 || group >= g->ngroups, YPR_ERANGE, "depgraph: group %d outside 0..%d",
              group, g->ngroups - 1);
    if (channels)
        *channels = g->groups[group].channels;
    if (prunable)
        *prunable = g->groups[group].prunable;
    return YPR_OK;
}

static const char *axis_role(const ypr_net *net, const ypr_dep_member *m)
{
    int kind = net->nodes[m->node].kind;
    if (kind == YPR_NODE_CONV)
        return m->axis == 0 ? "out" : "in";
    return "ch";
}

static void describe_group(const ypr_net *net, const ypr_dep_group *gr, int i, ypr_strbuf *sb)
{
    ypr__sb_printf(sb, "group %d: %lld channels, %s", i, (long long)gr->channels,
                   gr->prunable ? "prunable" : "fixed");
    if (!gr->prunable && gr->why_fixed)
        ypr__sb_printf(sb, " (%s)", gr->why_fixed);
    ypr__sb_puts(sb, "\n");
    for (int k = 0; k < gr->nmembers; k++) {
        const ypr_dep_member *m = &gr->members[k];
        ypr__sb_printf(sb, "  %-44s %-3s axis %d [%lld, %lld)\n", net->params[m->param].name,
                       axis_role(net, m), m->axis, (long long)m->offset,
                       (long long)(m->offset + gr->channels));
    }
}

int ypr_depgraph_describe(const ypr_depgraph *g, int group, char **text)
{
    TRY(fresh(g));
    RETURN_IF(!text, YPR_EINVAL, "depgraph: NULL argument");
    RETURN_IF(group < -1 || group >= g->ngroups, YPR_ERANGE, "depgraph: group %d outside -1..%d",
              group, g->ngroups - 1);
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    const ypr_net *net = &g->model->net;
    int prunable = 0;
    for (int i = 0; i < g->ngroups; i++)
        prunable += g->groups[i].prunable;
    if (group < 0)
        ypr__sb_printf(&sb, "%d groups, %d prunable\n", g->ngroups, prunable);
    for (int i = group < 0 ? 0 : group; i < (group < 0 ? g->ngroups : group + 1); i++)
        describe_group(net, &g->groups[i], i, &sb);
    RETURN_IF(sb.failed, YPR_ENOMEM, "depgraph: out of memory");
    *text = sb.data;
    return YPR_OK;
}

int ypr_depgraph_dot(const ypr_depgraph *g, char **text)
{
    TRY(fresh(g));
    RETURN_IF(!text, YPR_EINVAL, "depgraph: NULL argument");
    const ypr_net *net = &g->model->net;
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_puts(&sb, "digraph net {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n");
    int *group_of = malloc((size_t)net->nnodes * sizeof(int));
    RETURN_IF(!group_of, YPR_ENOMEM, "depgraph: out of memory");
    for (int i = 0; i < net->nnodes; i++)
        group_of[i] = -1;
    for (int k = 0; k < g->ngroups; k++)
        for (int s = 0; s < g->groups[k].nsources; s++)
            group_of[g->groups[k].sources[s]] = k;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        ypr__sb_printf(&sb, "  n%d [label=\"%s\\n%s %lld", i, nd->name, ypr__node_kind_name(nd->kind),
                       (long long)nd->c);
        if (group_of[i] >= 0)
            ypr__sb_printf(&sb, "\\ngroup %d%s", group_of[i],
                           g->groups[group_of[i]].prunable ? "" : " (fixed)");
        ypr__sb_puts(&sb, "\"];\n");
        for (int j = 0; j < nd->ninputs; j++)
            ypr__sb_printf(&sb, "  n%d -> n%d;\n", nd->inputs[j], i);
    }
    ypr__sb_puts(&sb, "}\n");
    free(group_of);
    RETURN_IF(sb.failed, YPR_ENOMEM, "depgraph: out of memory");
    *text = sb.data;
    return YPR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int ypr_depgraph_prune_group(ypr_depgraph *g, int group, const int64_t *channels, int64_t n)
{
    TRY(fresh(g));
    RETURN_IF(group < 0 || group >= g->ngroups, YPR_ERANGE, "depgraph: group %d outside 0..%d",
              group, g->ngroups - 1);
    RETURN_IF(!channels || n < 1, YPR_EINVAL, "depgraph: no channels given");
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    RETURN_IF(!idx, YPR_ENOMEM, "depgraph: out of memory");
    memcpy(idx, channels, (size_t)n * sizeof *idx);
    qsort(idx, (size_t)n, sizeof *idx, cmp_i64);
    const int64_t *idxs[1] = {idx};
    int rc = ypr__depgraph_apply(g, &group, idxs, &n, 1);
    free(idx);
    return rc;
}

int ypr__depgraph_apply(ypr_depgraph *g, const int *groups, const int64_t *const *idxs,
                        const int64_t *ns, int n)
{
    TRY(fresh(g));
    const ypr_dep_group **gs = malloc((size_t)(n ? n : 1) * sizeof *gs);
    RETURN_IF(!gs, YPR_ENOMEM, "depgraph: out of memory");
    for (int i = 0; i < n; i++)
        gs[i] = &g->groups[groups[i]];
    ypr_model *m = g->model;
    int rc = ypr__depgraph_prune_many(&m->net, gs, idxs, ns, n);
    free(gs);
    TRY(rc);
    ypr__model_drop_plans(m);
    ypr__depgraph_free_groups(g->groups, g->ngroups);
    g->groups = NULL;
    g->ngroups = 0;
    rc = ypr__depgraph_build(&m->net, &g->groups, &g->ngroups);
    g->version = m->net.shape_version;
    return rc;
}

/* Hardware legality: a DPU (or a SIMD unit) processes channels in groups of
 * `lanes`; a conv with c channels occupies ceil(c / lanes) · lanes lanes.
 * Lists every conv whose input or output width wastes lanes, and the share
 * of MACs spent on padding lanes overall. */
int ypr_depgraph_lane_report(const ypr_depgraph *g, int lanes, int size, char **text)
{
    TRY(fresh(g));
    RETURN_IF(!text, YPR_EINVAL, "depgraph: NULL argument");
    RETURN_IF(lanes < 1 || lanes > 4096, YPR_ERANGE, "depgraph: lanes %d outside 1..4096", lanes);
    const ypr_net *net = &g->model->net;
    ypr_shape *sh = malloc((size_t)net->nnodes * sizeof *sh);
    RETURN_IF(!sh, YPR_ENOMEM, "depgraph: out of memory");
    int rc = ypr__net_shapes(net, size, size, sh);
    if (rc < 0) {
        free(sh);
        return rc;
    }
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_printf(&sb, "%-36s %8s %8s %8s\n", "conv", "in", "out", "waste");
    double macs = 0, padded = 0;
    int bad = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV)
            continue;
        int64_t cin = net->params[nd->p[0]].shape[1] * nd->groups, cout = nd->c;
        int64_t pin = (cin + lanes - 1) / lanes * lanes, pout = (cout + lanes - 1) / lanes * lanes;
        double hw = (double)sh[i].h * (double)sh[i].w * nd->kh * nd->kw / nd->groups;
        macs += hw * (double)cin * (double)cout;
        padded += hw * (double)pin * (double)pout;
        if (pin != cin || pout != cout) {
            bad++;
            ypr__sb_printf(&sb, "%-36s %8lld %8lld %7.1f%%\n", nd->name, (long long)cin,
                           (long long)cout,
                           100.0 * (1.0 - (double)(cin * cout) / (double)(pin * pout)));
        }
    }
    ypr__sb_printf(&sb, "%d convs waste lanes at %d-channel parallelism; %.2f %% of the MACs "
                   "at %dx%d are padding\n", bad, lanes,
                   padded > 0 ? 100.0 * (padded - macs) / padded : 0.0, size, size);
    free(sh);
    RETURN_IF(sb.failed, YPR_ENOMEM, "depgraph: out of memory");
    *text = sb.data;
    return YPR_OK;
}
