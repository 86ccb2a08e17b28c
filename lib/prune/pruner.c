/* ypr_pruner: importance criteria, local or global ranking, round_to,
 * per-layer limits, ignored layers, iterative steps — applied through the
 * dependency graph, so every step physically shrinks the net.
 *
 * By default the pruner chooses exactly the channels Torch-Pruning 1.6.1
 * chooses (tests/test_tp_oracle.c checks every BatchNorm's kept set against
 * TP's on fixtures): the importance definitions are in "scores" below, the
 * local/global selection rules in "step". YPR_PRUNE_CLAMP_WIDTHS replaces
 * TP's all-or-nothing treatment of a group selected entirely by a floor of
 * round_to channels and a per-step max_layer_ratio cap. */
#include <fnmatch.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "lib/kernels/kernels.h"
#include "lib/model/model.h"
#include "prune.h"

#define MAX_PATTERNS 64

struct ypr_pruner {
    ypr_depgraph *graph;
    double ratio, max_layer_ratio;
    int criterion, global, round_to, steps, step, reduction, normalizer;
    uint64_t seed;
    char *ignore[MAX_PATTERNS];
    int nignore;
    char *override_pat[MAX_PATTERNS];
    double override_ratio[MAX_PATTERNS];
    int noverride;
    int64_t *init_channels;    /* per group at creation (groups keep their numbers) */
    int ninit;
    int64_t params0, macs0;    /* at creation, for reports */
    int64_t target_macs, target_params;   /* budgets (0: use the ratio) */
    double *planned;           /* per group: ratio chosen from a sensitivity table, or < 0 */
    float **grads;             /* per tensor: accumulated gradients (Taylor), lazily */
    double *sens;              /* last sensitivity table: mAP@0.5 [group][ratio], -1 = n/a */
    double sens_ratios[16], sens_base;
    int sens_nr;
    int ngrads, grad_batches;
    int report_size;
    int clamp;                 /* YPR_PRUNE_CLAMP_WIDTHS */
    int64_t *init_out, *init_in;   /* per node at creation: conv/BN output, conv input width */
    int nnodes0;
    int64_t scope_init[MAX_PATTERNS + 1];   /* global scopes' channels at their first step */
};

static int source_matches(const ypr_net *net, const ypr_dep_group *g, char *const *pat, int npat,
                          int *which)
{
    for (int s = 0; s < g->nsources; s++) {
        const char *name = net->nodes[g->sources[s]].name;
        for (int k = 0; k < npat; k++)
            if (fnmatch(pat[k], name, 0) == 0 ||
                fnmatch(pat[k], net->params[net->nodes[g->sources[s]].p[0]].name, 0) == 0) {
                if (which)
                    *which = k;
                return 1;
            }
    }
    return 0;
}

int ypr_pruner_create(ypr_depgraph *g, ypr_pruner **out)
{
    RETURN_IF(!g || !out, YPR_EINVAL, "pruner: NULL argument");
    *out = NULL;
    ypr_pruner *p = calloc(1, sizeof *p);
    RETURN_IF(!p, YPR_ENOMEM, "pruner: out of memory");
    p->graph = g;
    p->ratio = 0.25;
    p->max_layer_ratio = 1.0;
    p->criterion = YPR_CRITERION_L2;
    p->round_to = 1;
    p->steps = 1;
    p->reduction = YPR_REDUCE_MEAN;
    p->normalizer = YPR_NORM_MEAN;
    p->report_size = 640;
    p->ninit = g->ngroups;
    p->init_channels = malloc((size_t)(g->ngroups ? g->ngroups : 1) * sizeof(int64_t));
    if (!p->init_channels) {
        free(p);
        return ypr__error(YPR_ENOMEM, "pruner: out of memory");
    }
    for (int i = 0; i < g->ngroups; i++)
        p->init_channels[i] = g->groups[i].channels;
    const ypr_net *net = &g->model->net;
    p->nnodes0 = net->nnodes;
    p->init_out = malloc((size_t)(net->nnodes ? net->nnodes : 1) * sizeof(int64_t));
    p->init_in = malloc((size_t)(net->nnodes ? net->nnodes : 1) * sizeof(int64_t));
    if (!p->init_out || !p->init_in) {
        ypr_pruner_free(p);
        return ypr__error(YPR_ENOMEM, "pruner: out of memory");
    }
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        const ypr_param *w = (nd->kind == YPR_NODE_CONV || nd->kind == YPR_NODE_BN) &&
                             nd->p[0] >= 0 ? &net->params[nd->p[0]] : NULL;
        p->init_out[i] = w ? w->shape[0] : 0;
        p->init_in[i] = w && nd->kind == YPR_NODE_CONV ?
                        w->shape[1] * (nd->groups > 0 ? nd->groups : 1) : 0;
    }
    p->params0 = ypr__net_num_params(&g->model->net);
    ypr__net_macs(&g->model->net, p->report_size, p->report_size, 1, &p->macs0);
    *out = p;
    return YPR_OK;
}

void ypr_pruner_free(ypr_pruner *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nignore; i++)
        free(p->ignore[i]);
    for (int i = 0; i < p->noverride; i++)
        free(p->override_pat[i]);
    free(p->init_channels);
    free(p->init_out);
    free(p->init_in);
    free(p->planned);
    free(p->sens);
    for (int i = 0; p->grads && i < p->ngrads; i++)
        ypr__free(p->grads[i]);
    free(p->grads);
    free(p);
}

int ypr_pruner_set_float(ypr_pruner *p, int key, double v)
{
    RETURN_IF(!p, YPR_EINVAL, "pruner: NULL handle");
    switch (key) {
    case YPR_PRUNE_RATIO:
        RETURN_IF(!(v >= 0 && v < 1), YPR_ERANGE, "pruner: ratio %g outside [0, 1)", v);
        p->ratio = v;
        return YPR_OK;
    case YPR_PRUNE_MAX_LAYER_RATIO:
        RETURN_IF(!(v > 0 && v <= 1), YPR_ERANGE, "pruner: max layer ratio %g outside (0, 1]", v);
        p->max_layer_ratio = v;
        return YPR_OK;
    default:
        return ypr__error(YPR_EINVAL, "pruner: %d is not a float setting", key);
    }
}

int ypr_pruner_set_int(ypr_pruner *p, int key, int64_t v)
{
    RETURN_IF(!p, YPR_EINVAL, "pruner: NULL handle");
    switch (key) {
    case YPR_PRUNE_CRITERION:
        RETURN_IF(v < YPR_CRITERION_RANDOM || v > YPR_CRITERION_TAYLOR, YPR_ERANGE,
                  "pruner: criterion %lld unknown", (long long)v);
        p->criterion = (int)v;
        return YPR_OK;
    case YPR_PRUNE_GLOBAL: p->global = v != 0; return YPR_OK;
    case YPR_PRUNE_CLAMP_WIDTHS: p->clamp = v != 0; return YPR_OK;
    case YPR_PRUNE_ROUND_TO:
        RETURN_IF(v < 1 || v > 1024, YPR_ERANGE, "pruner: round_to %lld outside 1..1024", (long long)v);
        p->round_to = (int)v;
        return YPR_OK;
    case YPR_PRUNE_STEPS:
        RETURN_IF(v < 1 || v > 1000, YPR_ERANGE, "pruner: steps %lld outside 1..1000", (long long)v);
        p->steps = (int)v;
        return YPR_OK;
    case YPR_PRUNE_SEED: p->seed = (uint64_t)v; return YPR_OK;
    case YPR_PRUNE_REDUCTION:
        RETURN_IF(v < YPR_REDUCE_MEAN || v > YPR_REDUCE_FIRST, YPR_ERANGE, "pruner: reduction %lld",
                  (long long)v);
        p->reduction = (int)v;
        return YPR_OK;
    case YPR_PRUNE_NORMALIZER:
        RETURN_IF(v < YPR_NORM_NONE || v > YPR_NORM_LAMP, YPR_ERANGE, "pruner: normalizer %lld",
                  (long long)v);
        p->normalizer = (int)v;
        return YPR_OK;
    case YPR_PRUNE_TARGET_MACS:
        RETURN_IF(v < 0 || v >= p->macs0, YPR_ERANGE,
                  "pruner: MAC target %lld must be below the model's %lld at %dx%d",
                  (long long)v, (long long)p->macs0, p->report_size, p->report_size);
        p->target_macs = v;
        return YPR_OK;
    case YPR_PRUNE_TARGET_PARAMS:
        RETURN_IF(v < 0 || v >= p->params0, YPR_ERANGE,
                  "pruner: parameter target %lld must be below the model's %lld", (long long)v,
                  (long long)p->params0);
        p->target_params = v;
        return YPR_OK;
    case YPR_PRUNE_REPORT_SIZE:
        RETURN_IF(v < 32 || v > 8192, YPR_ERANGE, "pruner: report size %lld", (long long)v);
        p->report_size = (int)v;
        ypr__net_macs(&p->graph->model->net, p->report_size, p->report_size, 1, &p->macs0);
        return YPR_OK;
    default:
        return ypr__error(YPR_EINVAL, "pruner: %d is not an integer setting", key);
    }
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int ypr_pruner_ignore(ypr_pruner *p, const char *pattern)
{
    RETURN_IF(!p || !pattern || !*pattern, YPR_EINVAL, "pruner: empty pattern");
    RETURN_IF(p->nignore == MAX_PATTERNS, YPR_ERANGE, "pruner: more than %d patterns", MAX_PATTERNS);
    const ypr_net *net = &p->graph->model->net;
    int hit = 0;
    for (int i = 0; i < net->nnodes && !hit; i++)
        hit = fnmatch(pattern, net->nodes[i].name, 0) == 0;
    for (int i = 0; i < net->nparams && !hit; i++)
        hit = fnmatch(pattern, net->params[i].name, 0) == 0;
    RETURN_IF(!(p->ignore[p->nignore] = dup_str(pattern)), YPR_ENOMEM, "pruner: out of memory");
    p->nignore++;
    if (hit)
        return YPR_OK;
    ypr__log(YPR_LOG_WARN, "pruner: ignore pattern '%s' matches no layer", pattern);
    return ypr__error(YPR_ENOTFOUND, "pruner: ignore pattern '%s' matches no layer (kept)",
                      pattern);
}

int ypr_pruner_set_layer_ratio(ypr_pruner *p, const char *pattern, double ratio)
{
    RETURN_IF(!p || !pattern || !*pattern, YPR_EINVAL, "pruner: empty pattern");
    RETURN_IF(!(ratio >= 0 && ratio < 1), YPR_ERANGE, "pruner: ratio %g outside [0, 1)", ratio);
    RETURN_IF(p->noverride == MAX_PATTERNS, YPR_ERANGE, "pruner: more than %d patterns", MAX_PATTERNS);
    RETURN_IF(!(p->override_pat[p->noverride] = dup_str(pattern)), YPR_ENOMEM, "pruner: out of memory");
    p->override_ratio[p->noverride++] = ratio;
    return YPR_OK;
}

/* --------------------------------------------------------------- scores */

/* Scores follow Torch-Pruning 1.6.1's importance classes exactly:
 *
 *  - a group's importance is a list of *entries*, one per (tensor, axis):
 *    a producer conv's output rows, a BatchNorm's γ, a consumer conv's
 *    input columns. A consumer that sees the group's channels several
 *    times (SPP's concat of a tensor and its pools, ReOrg) is ONE entry
 *    holding every copy, as TP merges dependencies by (layer, handler);
 *  - each entry scores every channel (summing over its copies), the
 *    entries are reduced (mean: Σ / number of entries), then normalized
 *    (mean, or LAMP's own);
 *  - L1/L2 (MagnitudeImportance p = 1/2): Σ|w|^p over conv rows, conv
 *    columns and |γ|^p; LAMP: the same with p = 2, LAMP-normalized;
 *  - BN scale (BNScaleImportance): |γ| (p = 1) of every BatchNorm of the
 *    group, so RepConv's rbr_dense and rbr_1x1 BatchNorms are averaged;
 *  - FPGM (FPGMImportance p = 2): for each conv entry, the vectors |w|²
 *    of its rows (producers) or columns (consumers, all copies together),
 *    each channel scored by the sum of its Euclidean distances to all the
 *    entry's other vectors; BatchNorms do not enter;
 *  - a group with no entry (BN scale on a group without BatchNorm) has no
 *    importance and is not pruned. */

/* Which members carry importance: conv weights (rows and columns) and BN γ. */
static int scored_member(const ypr_net *net, const ypr_dep_member *m, int criterion)
{
    const ypr_node *nd = &net->nodes[m->node];
    int bn_gamma = nd->kind == YPR_NODE_BN && m->param == nd->p[0];
    int conv_w = nd->kind == YPR_NODE_CONV && m->param == nd->p[0];
    switch (criterion) {
    case YPR_CRITERION_BN_SCALE: return bn_gamma;
    case YPR_CRITERION_FPGM: return conv_w;
    default: return bn_gamma || conv_w;
    }
}

/* out[k] += Σ |x|^pw over the slice of member m at channel k, for every k,
 * in one pass over the tensor (in memory order). */
static void member_norms(const ypr_net *net, const ypr_dep_member *m, int64_t C, int pw,
                         double *out)
{
    const ypr_param *p = &net->params[m->param];
    ypr_axis_view av = ypr__axis_view(p->ndim, p->shape, m->axis);
    int64_t outer = av.outer, inner = av.inner, dim = av.dim;
    for (int64_t a = 0; a < outer; a++) {
        const float *row = p->data + (a * dim + m->offset) * inner;
        if (inner == 1) {          /* 1×1 conv columns, BN vectors: vectorizable */
            if (pw == 1)
                for (int64_t k = 0; k < C; k++)
                    out[k] += fabsf(row[k]);
            else
                for (int64_t k = 0; k < C; k++)
                    out[k] += (double)row[k] * row[k];
            continue;
        }
        for (int64_t k = 0; k < C; k++) {
            const float *x = row + k * inner;
            float s = 0;
            if (pw == 1)
                for (int64_t i = 0; i < inner; i++)
                    s += fabsf(x[i]);
            else
                for (int64_t i = 0; i < inner; i++)
                    s += x[i] * x[i];
            out[k] += s;
        }
    }
}

/* First-order Taylor: out[k] += Σ |w · g| over the member's slice, g the
 * accumulated gradient (members without gradients add 0). */
static void taylor_scores(const ypr_pruner *p, const ypr_dep_member *m, int64_t C, double *out)
{
    const ypr_net *net = &p->graph->model->net;
    const ypr_param *prm = &net->params[m->param];
    const float *g = m->param < p->ngrads ? p->grads[m->param] : NULL;
    ypr_axis_view av = ypr__axis_view(prm->ndim, prm->shape, m->axis);
    int64_t outer = av.outer, inner = av.inner, dim = av.dim;
    if (!g)
        return;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < C; k++) {
            int64_t at = (a * dim + m->offset + k) * inner;
            for (int64_t i = 0; i < inner; i++)
                out[k] += fabs((double)prm->data[at + i] * g[at + i]);
        }
}

/* FPGM over one entry: the members seg[0..nseg) are copies of the group's
 * C channels in one conv weight. Channel c's vector is its slice (a row of
 * [O, I·kh·kw] or a column of [I, O·kh·kw]) with every element squared
 * (|w|^p, p = 2); out[k] += Σ over the copies of channel k of the summed
 * Euclidean distances from that vector to all nseg·C vectors. As in
 * torch.cdist, the distances come from the Gram matrix (one SGEMM):
 * d² = ‖x‖² + ‖y‖² − 2·x·y, clamped at 0; a vector's distance to itself
 * is 0. */
static int fpgm_entry(const ypr_net *net, const ypr_dep_member *const *seg, int nseg, int64_t C,
                      double *out)
{
    const ypr_param *p = &net->params[seg[0]->param];
    ypr_axis_view av = ypr__axis_view(p->ndim, p->shape, seg[0]->axis);
    int64_t n = (int64_t)nseg * C, len = av.outer * av.inner;
    float *v = ypr__alloc((size_t)(n * len) * sizeof *v);
    float *vt = ypr__alloc((size_t)(n * len) * sizeof *vt);
    float *gram = ypr__alloc((size_t)(n * n) * sizeof *gram);
    double *norm = malloc((size_t)n * sizeof *norm);
    int rc = v && vt && gram && norm ? YPR_OK :
             ypr__error(YPR_ENOMEM, "pruner: out of memory (FPGM on %s)", p->name);
    for (int q = 0; rc == YPR_OK && q < nseg; q++)
        for (int64_t k = 0; k < C; k++) {
            int64_t row = q * C + k, c = seg[q]->offset + k;
            float *dst = v + row * len;
            double nn = 0;
            for (int64_t a = 0; a < av.outer; a++) {
                const float *src = p->data + (a * av.dim + c) * av.inner;
                for (int64_t t = 0; t < av.inner; t++) {
                    float x = src[t] * src[t];
                    dst[a * av.inner + t] = x;
                    vt[(a * av.inner + t) * n + row] = x;
                    nn += (double)x * x;
                }
            }
            norm[row] = nn;
        }
    if (rc == YPR_OK)
        rc = ypr__sgemm(ypr__kt(), NULL, n, n, len, v, len, vt, n, gram, n, 0);
    for (int64_t i = 0; rc == YPR_OK && i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
            double d2 = norm[i] + norm[j] - 2.0 * gram[i * n + j];
            s += j != i && d2 > 0 ? sqrt(d2) : 0;
        }
        out[i % C] += s;
    }
    ypr__free(v);
    ypr__free(vt);
    ypr__free(gram);
    free(norm);
    return rc;
}

typedef struct rank { double score; int64_t ch; } rank;

static int cmp_rank(const void *a, const void *b)
{
    const rank *x = a, *y = b;
    if (x->score != y->score)
        return (x->score > y->score) - (x->score < y->score);
    return (x->ch > y->ch) - (x->ch < y->ch);
}

/* LAMP: in ascending order (ties by channel), each score divided by the
 * sum of itself and every score after it. */
static int normalize_lamp(double *s, int64_t C)
{
    rank *r = malloc((size_t)C * sizeof *r);
    RETURN_IF(!r, YPR_ENOMEM, "pruner: out of memory");
    for (int64_t k = 0; k < C; k++)
        r[k] = (rank){s[k], k};
    qsort(r, (size_t)C, sizeof *r, cmp_rank);
    double suffix = 0;
    for (int64_t k = C - 1; k >= 0; k--) {
        suffix += r[k].score;
        s[r[k].ch] = suffix > 0 ? r[k].score / suffix : 0;
    }
    free(r);
    return YPR_OK;
}

static int normalize(double *s, int64_t C, int how)
{
    if (how == YPR_NORM_LAMP)
        return normalize_lamp(s, C);
    double sum = 0, mx = 0;
    for (int64_t k = 0; k < C; k++) {
        sum += s[k];
        if (s[k] > mx)
            mx = s[k];
    }
    double d = how == YPR_NORM_MEAN ? sum / (double)C : how == YPR_NORM_MAX ? mx :
               how == YPR_NORM_SUM ? sum : 1.0;
    if (d > 0)
        for (int64_t k = 0; k < C; k++)
            s[k] /= d;
    return YPR_OK;
}

/* Importance of every channel of group g; *scored = 0 when the group has
 * no entry for the criterion (s is then left as 0, 1, 2, …). */
static int group_scores_ex(const ypr_pruner *p, const ypr_dep_group *g, double *s, ypr_rng *rng,
                           int *scored)
{
    const ypr_net *net = &p->graph->model->net;
    int64_t C = g->channels;
    *scored = 1;
    if (p->criterion == YPR_CRITERION_RANDOM) {
        for (int64_t k = 0; k < C; k++)
            s[k] = ypr__rng_uniform(rng);
        return YPR_OK;
    }
    double *tmp = malloc((size_t)C * sizeof *tmp);
    unsigned char *taken = calloc((size_t)(g->nmembers ? g->nmembers : 1), 1);
    const ypr_dep_member **seg = malloc((size_t)(g->nmembers ? g->nmembers : 1) * sizeof *seg);
    int rc = tmp && taken && seg ? YPR_OK : ypr__error(YPR_ENOMEM, "pruner: out of memory");
    int used = 0;
    for (int64_t k = 0; k < C; k++)
        s[k] = p->reduction == YPR_REDUCE_MAX ? -INFINITY : 0;
    for (int i = 0; rc == YPR_OK && i < g->nmembers; i++) {
        const ypr_dep_member *m = &g->members[i];
        if (taken[i] || !scored_member(net, m, p->criterion))
            continue;
        if (p->reduction == YPR_REDUCE_FIRST && used)
            break;
        /* the entry: every scored member on the same tensor and axis */
        int nseg = 0;
        for (int j = i; j < g->nmembers; j++)
            if (!taken[j] && g->members[j].param == m->param && g->members[j].axis == m->axis) {
                taken[j] = 1;
                seg[nseg++] = &g->members[j];
            }
        for (int64_t k = 0; k < C; k++)
            tmp[k] = 0;
        if (p->criterion == YPR_CRITERION_FPGM)
            rc = fpgm_entry(net, seg, nseg, C, tmp);
        else
            for (int q = 0; q < nseg; q++) {
                if (p->criterion == YPR_CRITERION_TAYLOR)
                    taylor_scores(p, seg[q], C, tmp);
                else
                    member_norms(net, seg[q], C, p->criterion == YPR_CRITERION_L1 ||
                                 p->criterion == YPR_CRITERION_BN_SCALE ? 1 : 2, tmp);
            }
        for (int64_t k = 0; k < C; k++) {
            if (p->reduction == YPR_REDUCE_MAX)
                s[k] = tmp[k] > s[k] ? tmp[k] : s[k];
            else
                s[k] += tmp[k];
        }
        used++;
    }
    free(tmp);
    free(taken);
    free(seg);
    TRY(rc);
    if (!used) {
        *scored = 0;
        for (int64_t k = 0; k < C; k++)
            s[k] = (double)k;
        return YPR_OK;
    }
    if (p->reduction == YPR_REDUCE_MEAN)
        for (int64_t k = 0; k < C; k++)
            s[k] /= used;
    return normalize(s, C, p->criterion == YPR_CRITERION_LAMP ? YPR_NORM_LAMP : p->normalizer);
}

/* The same for callers that rank every group (a group without an entry
 * keeps its channel order). */
static int group_scores(const ypr_pruner *p, const ypr_dep_group *g, double *s, ypr_rng *rng)
{
    int scored;
    return group_scores_ex(p, g, s, rng, &scored);
}

/* ----------------------------------------------------------------- step */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Channels to keep in a group of `init` channels now holding C, after
 * pruning a fraction r of the original width, rounded down to round_to and
 * never below round_to (or 1): the clamped rule (YPR_PRUNE_CLAMP_WIDTHS,
 * sensitivity analysis). */
static int64_t kept(const ypr_pruner *p, int64_t init, int64_t C, double r)
{
    int64_t keep = (int64_t)((double)init * (1.0 - r));
    if (p->round_to > 1)
        keep -= keep % p->round_to;
    /* never below round_to (a group narrower than round_to keeps its width) */
    int64_t floor_keep = p->round_to < init ? p->round_to : init;
    if (floor_keep < 1)
        floor_keep = 1;
    if (keep < floor_keep)
        keep = floor_keep;
    return keep > C ? C : keep;
}

/* Torch-Pruning's schedule: the ratio reached at step k of K is (k/K)·r. */
static double step_ratio(const ypr_pruner *p, double r)
{
    return ((double)(p->step + 1) / (double)p->steps) * r;
}

/* How many of a group's C channels (init at creation) go when ranking chose
 * n of them. Torch-Pruning's rule: the kept count C − n is rounded DOWN to
 * a multiple of round_to (so it prunes more), and a group that would keep
 * nothing is left whole (TP's check_pruning_group refuses it; *emptied is
 * set). With YPR_PRUNE_CLAMP_WIDTHS the group instead keeps at least
 * kept(max_layer_ratio): init·(1 − max_layer_ratio) rounded down, and at
 * least round_to (or its whole width when narrower). */
static int64_t finish_count(const ypr_pruner *p, int64_t init, int64_t C, int64_t n, int *emptied)
{
    *emptied = 0;
    if (n <= 0)
        return 0;
    if (p->round_to > 1) {
        int64_t keep = C - n;
        keep -= keep % p->round_to;
        n = C - keep;
    }
    if (p->clamp) {
        int64_t cap = C - kept(p, init, C, p->max_layer_ratio);
        n = n < cap ? n : cap;
        return n > 0 ? n : 0;
    }
    if (n >= C) {
        *emptied = 1;
        return 0;
    }
    return n;
}

/* The local rule: remove C − ⌊init·(1 − r)⌋ channels, then finish_count. */
static int64_t local_count(const ypr_pruner *p, int64_t init, int64_t C, double r, int *emptied)
{
    return finish_count(p, init, C, C - (int64_t)((double)init * (1.0 - r)), emptied);
}

static double group_ratio(const ypr_pruner *p, const ypr_dep_group *g, double ratio_now)
{
    const ypr_net *net = &p->graph->model->net;
    int which = -1;
    if (p->planned) {
        int gi = (int)(g - p->graph->groups);
        /* a sensitivity plan decides every group: unplanned ones stay */
        double r = gi >= 0 && gi < p->ninit && p->planned[gi] >= 0 ? p->planned[gi] : 0.0;
        return step_ratio(p, r);
    }
    if (p->noverride && source_matches(net, g, p->override_pat, p->noverride, &which))
        ratio_now = step_ratio(p, p->override_ratio[which]);
    return ratio_now > p->max_layer_ratio ? p->max_layer_ratio : ratio_now;
}

/* Torch-Pruning's _check_pruning_ratio: a group takes no part in a step
 * (neither ranked nor pruned, nor counted in a global ranking) when one
 * of its convs or BatchNorms is 1 channel wide or already narrower than
 * its width at creation times (1 − max_layer_ratio): the output width for
 * producers and BatchNorms, the whole input width for consumers. */
static int tp_skips(const ypr_pruner *p, const ypr_dep_group *g)
{
    const ypr_net *net = &p->graph->model->net;
    double floor_share = 1.0 - p->max_layer_ratio;
    for (int i = 0; i < g->nmembers; i++) {
        const ypr_dep_member *m = &g->members[i];
        const ypr_node *nd = &net->nodes[m->node];
        if (m->param != nd->p[0] || m->node >= p->nnodes0)
            continue;
        const ypr_param *w = &net->params[m->param];
        int64_t now, init;
        if ((nd->kind == YPR_NODE_CONV && m->axis == 0) || nd->kind == YPR_NODE_BN) {
            now = w->shape[0];
            init = p->init_out[m->node];
        } else if (nd->kind == YPR_NODE_CONV && m->axis == 1) {
            now = w->shape[1] * (nd->groups > 0 ? nd->groups : 1);
            init = p->init_in[m->node];
        } else {
            continue;
        }
        if ((double)now < (double)init * floor_share || now == 1)
            return 1;
    }
    return 0;
}

/* MACs (at the report size) and parameters the net would have if every
 * prunable, non-ignored group kept the local-rule width for ratio r — found
 * by pruning a copy of the net's structure (widths do not depend on which
 * channels go). */
static int simulate(const ypr_pruner *p, double r, int64_t *macs, int64_t *params)
{
    const ypr_depgraph *dg = p->graph;
    const ypr_net *net = &dg->model->net;
    ypr_net copy;
    TRY(ypr__net_clone(net, &copy, 0));
    int ng = dg->ngroups, n = 0, rc = YPR_OK;
    const ypr_dep_group **gs = malloc((size_t)(ng ? ng : 1) * sizeof *gs);
    const int64_t **idx = malloc((size_t)(ng ? ng : 1) * sizeof *idx);
    int64_t *cnt = malloc((size_t)(ng ? ng : 1) * sizeof *cnt);
    int64_t *seq = NULL, maxc = 1;
    for (int i = 0; i < ng; i++)
        if (dg->groups[i].channels > maxc)
            maxc = dg->groups[i].channels;
    seq = malloc((size_t)maxc * sizeof *seq);
    if (!gs || !idx || !cnt || !seq)
        rc = ypr__error(YPR_ENOMEM, "pruner: out of memory");
    for (int64_t k = 0; seq && k < maxc; k++)
        seq[k] = k;
    for (int i = 0; rc == YPR_OK && i < ng; i++) {
        const ypr_dep_group *g = &dg->groups[i];
        if (!g->prunable || (p->nignore && source_matches(net, g, p->ignore, p->nignore, NULL)))
            continue;
        int emptied;
        int64_t drop = local_count(p, p->init_channels[i], g->channels, group_ratio(p, g, r),
                                   &emptied);
        if (drop <= 0)
            continue;
        gs[n] = g;
        idx[n] = seq;
        cnt[n++] = drop;
    }
    if (rc == YPR_OK && n)
        rc = ypr__depgraph_prune_many(&copy, gs, idx, cnt, n);
    if (rc == YPR_OK)
        rc = ypr__net_macs(&copy, p->report_size, p->report_size, 1, macs);
    if (rc == YPR_OK)
        *params = ypr__net_num_params(&copy);
    free(gs);
    free(idx);
    free(cnt);
    free(seq);
    ypr__net_free(&copy);
    return rc;
}

/* The smallest ratio whose pruned net meets this step's budget. */
static int ratio_for_budget(ypr_pruner *p, double *ratio)
{
    double frac = (double)(p->step + 1) / p->steps;
    int64_t want_macs = p->target_macs ? p->macs0 - (int64_t)((p->macs0 - p->target_macs) * frac) : 0;
    int64_t want_params = p->target_params ?
        p->params0 - (int64_t)((p->params0 - p->target_params) * frac) : 0;
    double lo = 0.0, hi = 0.99;
    int64_t m, q;
    TRY(simulate(p, hi, &m, &q));
    RETURN_IF((want_macs && m > want_macs) || (want_params && q > want_params), YPR_ERANGE,
              "pruner: even pruning 99 %% of every group leaves %lld MACs and %lld parameters",
              (long long)m, (long long)q);
    for (int it = 0; it < 12; it++) {
        double mid = 0.5 * (lo + hi);
        TRY(simulate(p, mid, &m, &q));
        if ((want_macs && m > want_macs) || (want_params && q > want_params))
            lo = mid;
        else
            hi = mid;
    }
    *ratio = hi;
    return YPR_OK;
}

typedef struct score_job {
    const ypr_pruner *p;
    double **scores;
    int *scored;
    _Atomic int rc;
} score_job;

static void score_task(void *ctx, int64_t i, int worker)
{
    score_job *job = ctx;
    if (!job->scores[i])
        return;
    ypr_rng rng;
    ypr__rng_seed(&rng, job->p->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)job->p->step * 1000003u +
                        (uint64_t)i);
    int rc = group_scores_ex(job->p, &job->p->graph->groups[i], job->scores[i], &rng,
                             &job->scored[i]);
    if (rc < 0)
        job->rc = rc;
}

static int fresh_graph(const ypr_depgraph *dg)
{
    RETURN_IF(dg->version != dg->model->net.shape_version, YPR_ESTATE,
              "pruner: the model changed outside the pruner; rebuild the graph");
    return YPR_OK;
}

static void warn_emptied(const ypr_pruner *p, int gi)
{
    const ypr_net *net = &p->graph->model->net;
    const ypr_dep_group *g = &p->graph->groups[gi];
    ypr__log(YPR_LOG_WARN, "pruner: group %d (%s): all %lld channels selected after rounding to "
             "%d; left unpruned as Torch-Pruning does (YPR_PRUNE_CLAMP_WIDTHS keeps the best)",
             gi, net->nodes[g->sources[0]].name, (long long)g->channels, p->round_to);
}

/* The ranking scope of a group in global mode: 0 for the default ratio,
 * 1 + k for the first ypr_pruner_set_layer_ratio() pattern k it matches. */
static int scope_of(const ypr_pruner *p, const ypr_dep_group *g)
{
    int which = -1;
    if (p->noverride &&
        source_matches(&p->graph->model->net, g, p->override_pat, p->noverride, &which))
        return 1 + which;
    return 0;
}

/* Torch-Pruning's global ranking, scope by scope: concatenate the scope's
 * normalized group scores, remove n = (its channels now) − ⌊initial ·
 * (1 − r)⌋, initial being the scope's channel total at its first step and
 * r this step's ratio (a pattern's ratio capped by max_layer_ratio; the
 * default ratio uncapped, as in TP). The n-th smallest score is the
 * threshold; each group removes its channels scoring ≤ threshold, then
 * finish_count() rounds. scope_init[] records first-step totals. */
static int rank_globally(const ypr_pruner *p, double *const *scores, const int *scored,
                         int64_t *scope_init, int64_t *nprune)
{
    const ypr_depgraph *dg = p->graph;
    int ng = dg->ngroups, rc = YPR_OK;
    rank *all = NULL;
    for (int sc = 0; rc == YPR_OK && sc <= p->noverride; sc++) {
        double r = sc == 0 ? step_ratio(p, p->ratio) : step_ratio(p, p->override_ratio[sc - 1]);
        if (sc > 0 && r > p->max_layer_ratio)
            r = p->max_layer_ratio;
        int64_t total = 0;
        for (int i = 0; i < ng; i++)
            if (scores[i] && scored[i] && scope_of(p, &dg->groups[i]) == sc)
                total += dg->groups[i].channels;
        if (!total)
            continue;
        if (!scope_init[sc])
            scope_init[sc] = total;
        int64_t n = total - (int64_t)((double)scope_init[sc] * (1.0 - r));
        if (n <= 0)
            continue;
        if (n > total)
            n = total;
        rank *a = realloc(all, (size_t)total * sizeof *a);
        if (!a) {
            rc = ypr__error(YPR_ENOMEM, "pruner: out of memory");
            break;
        }
        all = a;
        int64_t at = 0;
        for (int i = 0; i < ng; i++)
            if (scores[i] && scored[i] && scope_of(p, &dg->groups[i]) == sc)
                for (int64_t k = 0; k < dg->groups[i].channels; k++)
                {
                    all[at] = (rank){scores[i][k], at};
                    at++;
                }
        qsort(all, (size_t)total, sizeof *all, cmp_rank);
        double thr = all[n - 1].score;
        for (int i = 0; i < ng; i++) {
            if (!scores[i] || !scored[i] || scope_of(p, &dg->groups[i]) != sc)
                continue;
            const ypr_dep_group *g = &dg->groups[i];
            int64_t below = 0;
            for (int64_t k = 0; k < g->channels; k++)
                below += scores[i][k] <= thr;
            int emptied;
            nprune[i] = finish_count(p, p->init_channels[i], g->channels, below, &emptied);
            if (emptied)
                warn_emptied(p, i);
        }
    }
    free(all);
    return rc;
}

/* Remove the nprune[i] lowest-scored channels of every group at once. */
static int cut_lowest(ypr_depgraph *dg, double *const *scores, const int64_t *nprune)
{
    int ng = dg->ngroups;
    int *which = malloc((size_t)(ng ? ng : 1) * sizeof *which);
    int64_t **chosen = calloc((size_t)(ng ? ng : 1), sizeof *chosen);
    int64_t *counts = malloc((size_t)(ng ? ng : 1) * sizeof *counts);
    int ncut = 0;
    int rc = which && chosen && counts ? YPR_OK : ypr__error(YPR_ENOMEM, "pruner: out of memory");
    for (int i = 0; rc == YPR_OK && i < ng; i++) {
        if (!scores[i] || nprune[i] <= 0)
            continue;
        int64_t C = dg->groups[i].channels;
        rank *r = malloc((size_t)C * sizeof *r);
        int64_t *idx = malloc((size_t)nprune[i] * sizeof *idx);
        if (!r || !idx) {
            free(r);
            free(idx);
            rc = ypr__error(YPR_ENOMEM, "pruner: out of memory");
            break;
        }
        for (int64_t k = 0; k < C; k++)
            r[k] = (rank){scores[i][k], k};
        qsort(r, (size_t)C, sizeof *r, cmp_rank);
        for (int64_t k = 0; k < nprune[i]; k++)
            idx[k] = r[k].ch;
        qsort(idx, (size_t)nprune[i], sizeof *idx, cmp_i64);
        free(r);
        which[ncut] = i;
        chosen[ncut] = idx;
        counts[ncut++] = nprune[i];
    }
    if (rc == YPR_OK && ncut)
        rc = ypr__depgraph_apply(dg, which, (const int64_t *const *)chosen, counts, ncut);
    if (rc == YPR_OK && dg->ngroups != ng)
        rc = ypr__error(YPR_EINTERNAL, "pruner: group count changed while pruning");
    for (int i = 0; chosen && i < ncut; i++)
        free(chosen[i]);
    free(chosen);
    free(which);
    free(counts);
    return rc;
}

/* A budget: the ratio of the original widths that meets it; the step then
 * runs as a one-step local schedule at that ratio. Widths follow the
 * clamped rule (narrow groups keep round_to channels rather than none or
 * all), which makes the widths monotonic in the ratio for the search. */
static int budget_step(ypr_pruner *p)
{
    double r = 0;
    int clamp = p->clamp;
    p->clamp = 1;
    int rc = ratio_for_budget(p, &r);
    p->clamp = clamp;
    TRY(rc);
    int steps = p->steps, step = p->step, global = p->global;
    double ratio = p->ratio;
    int64_t tm = p->target_macs, tp = p->target_params;
    p->ratio = r;
    p->steps = 1;
    p->step = 0;
    p->global = 0;
    p->clamp = 1;
    p->target_macs = p->target_params = 0;
    rc = ypr_pruner_step(p);
    p->ratio = ratio;
    p->steps = steps;
    p->step = step + (rc == YPR_OK);
    p->global = global;
    p->clamp = clamp;
    p->target_macs = tm;
    p->target_params = tp;
    return rc;
}

int ypr_pruner_step(ypr_pruner *p)
{
    RETURN_IF(!p, YPR_EINVAL, "pruner: NULL handle");
    RETURN_IF(p->step >= p->steps, YPR_ESTATE, "pruner: all %d steps done", p->steps);
    RETURN_IF(p->criterion == YPR_CRITERION_TAYLOR && !p->grad_batches, YPR_ESTATE,
              "pruner: the Taylor criterion needs gradients (ypr_pruner_add_gradient)");
    ypr_depgraph *dg = p->graph;
    TRY(fresh_graph(dg));
    RETURN_IF(dg->ngroups != p->ninit, YPR_ESTATE, "pruner: the graph's groups changed");
    const ypr_net *net = &dg->model->net;
    if ((p->target_macs || p->target_params) && !p->planned)
        return budget_step(p);
    int ng = dg->ngroups;
    double **scores = calloc((size_t)(ng ? ng : 1), sizeof *scores);
    int64_t *nprune = calloc((size_t)(ng ? ng : 1), sizeof *nprune);
    int *scored = calloc((size_t)(ng ? ng : 1), sizeof *scored);
    int rc = scores && nprune && scored ? YPR_OK : ypr__error(YPR_ENOMEM, "pruner: out of memory");
    /* plan: scores and counts for every group, before anything is cut;
     * groups are scored in parallel, each with its own random stream */
    for (int i = 0; rc == YPR_OK && i < ng; i++) {
        const ypr_dep_group *g = &dg->groups[i];
        if (!g->prunable || (p->nignore && source_matches(net, g, p->ignore, p->nignore, NULL)) ||
            tp_skips(p, g))
            continue;
        if (!(scores[i] = malloc((size_t)g->channels * sizeof(double))))
            rc = ypr__error(YPR_ENOMEM, "pruner: out of memory");
    }
    if (rc == YPR_OK) {
        score_job job = {p, scores, scored, YPR_OK};
        ypr__pool_run(dg->model->pool, ng, score_task, &job);
        rc = job.rc;
    }
    int64_t scope_init[MAX_PATTERNS + 1];
    memcpy(scope_init, p->scope_init, sizeof scope_init);
    if (rc == YPR_OK && p->global && !p->planned) {
        rc = rank_globally(p, scores, scored, scope_init, nprune);
    } else if (rc == YPR_OK) {
        double ratio_now = step_ratio(p, p->ratio);
        for (int i = 0; i < ng; i++) {
            if (!scores[i] || !scored[i])
                continue;   /* TP: a group without importance is not pruned */
            const ypr_dep_group *g = &dg->groups[i];
            int emptied;
            nprune[i] = local_count(p, p->init_channels[i], g->channels,
                                    group_ratio(p, g, ratio_now), &emptied);
            if (emptied)
                warn_emptied(p, i);
        }
    }
    if (rc == YPR_OK)
        rc = cut_lowest(dg, scores, nprune);
    for (int i = 0; scores && i < ng; i++)
        free(scores[i]);
    free(scores);
    free(nprune);
    free(scored);
    TRY(rc);
    memcpy(p->scope_init, scope_init, sizeof scope_init);
    p->step++;
    return YPR_OK;
}

int ypr_pruner_steps_done(const ypr_pruner *p)
{
    RETURN_IF(!p, YPR_EINVAL, "pruner: NULL handle");
    return p->step;
}

int ypr_pruner_report(const ypr_pruner *p, char **text, int json)
{
    RETURN_IF(!p || !text, YPR_EINVAL, "pruner: NULL argument");
    const ypr_net *net = &p->graph->model->net;
    int64_t params = ypr__net_num_params(net), macs = 0;
    TRY(ypr__net_macs(net, p->report_size, p->report_size, 1, &macs));
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    const ypr_depgraph *dg = p->graph;
    if (json) {
        ypr__sb_printf(&sb, "{\"params_before\":%lld,\"params_after\":%lld,\"macs_before\":%lld,"
                       "\"macs_after\":%lld,\"size\":%d,\"steps_done\":%d,\"groups\":[",
                       (long long)p->params0, (long long)params, (long long)p->macs0,
                       (long long)macs, p->report_size, p->step);
        for (int i = 0; i < dg->ngroups; i++) {
            const ypr_dep_group *g = &dg->groups[i];
            ypr__sb_printf(&sb, "%s{\"group\":%d,\"layer\":", i ? "," : "", i);
            ypr__sb_json_str(&sb, g->nsources ? net->nodes[g->sources[0]].name : "");
            ypr__sb_printf(&sb, ",\"before\":%lld,\"after\":%lld,\"prunable\":%s}",
                           (long long)(i < p->ninit ? p->init_channels[i] : g->channels),
                           (long long)g->channels, g->prunable ? "true" : "false");
        }
        ypr__sb_puts(&sb, "]}\n");
    } else {
        ypr__sb_printf(&sb, "Parameters: %.2f M => %.2f M (%.1f %%)\n", p->params0 / 1e6,
                       params / 1e6, 100.0 * (double)params / (double)(p->params0 ? p->params0 : 1));
        ypr__sb_printf(&sb, "MACs: %.2f G => %.2f G at %dx%d (%.1f %%)\n", p->macs0 / 1e9,
                       macs / 1e9, p->report_size, p->report_size,
                       100.0 * (double)macs / (double)(p->macs0 ? p->macs0 : 1));
        ypr__sb_printf(&sb, "%6s  %-36s %8s %8s\n", "group", "layer", "before", "after");
        for (int i = 0; i < dg->ngroups; i++) {
            const ypr_dep_group *g = &dg->groups[i];
            if (!g->nsources)
                continue;
            ypr__sb_printf(&sb, "%6d  %-36s %8lld %8lld%s\n", i, net->nodes[g->sources[0]].name,
                           (long long)(i < p->ninit ? p->init_channels[i] : g->channels),
                           (long long)g->channels, g->prunable ? "" : "  (fixed)");
        }
    }
    RETURN_IF(sb.failed, YPR_ENOMEM, "pruner: out of memory");
    *text = sb.data;
    return YPR_OK;
}

/* A bar chart of channels per group: before (grey) and after (blue), with
 * the group's layer every few bars. Drawn with lib/io, written as PNG. */
int ypr_pruner_plot(const ypr_pruner *p, const char *path)
{
    RETURN_IF(!p || !path, YPR_EINVAL, "pruner: NULL argument");
    const ypr_depgraph *dg = p->graph;
    const ypr_net *net = &dg->model->net;
    int n = 0;
    int64_t maxc = 1;
    for (int i = 0; i < dg->ngroups; i++) {
        if (!dg->groups[i].nsources)
            continue;
        n++;
        int64_t b = i < p->ninit ? p->init_channels[i] : dg->groups[i].channels;
        if (b > maxc)
            maxc = b;
    }
    RETURN_IF(n == 0, YPR_EINVAL, "pruner: nothing to plot");
    const int bar = 7, left = 60, top = 40, height = 300, bottom = 120;
    int w = left + n * bar + 20, h = top + height + bottom;
    ypr_image img;
    TRY(ypr__image_alloc(&img, w, h));
    static const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                         grey[3] = {200, 200, 200}, blue[3] = {40, 90, 200}, light[3] = {235, 235, 235};
    ypr__fill_rect(&img, 0, 0, w - 1, h - 1, white);
    char text[160];
    snprintf(text, sizeof text, "channels per group: before (grey) and after (blue), %lld -> %lld params",
             (long long)p->params0, (long long)ypr__net_num_params(net));
    ypr__draw_text(&img, 8, 10, text, 1, black, NULL);
    for (int t = 0; t <= 4; t++) {   /* horizontal grid with labels */
        int y = top + height - t * height / 4;
        ypr__fill_rect(&img, left, y, w - 20, y, light);
        snprintf(text, sizeof text, "%lld", (long long)(maxc * t / 4));
        ypr__draw_text(&img, 4, y - 4, text, 1, black, NULL);
    }
    int k = 0;
    for (int i = 0; i < dg->ngroups; i++) {
        const ypr_dep_group *g = &dg->groups[i];
        if (!g->nsources)
            continue;
        int64_t before = i < p->ninit ? p->init_channels[i] : g->channels;
        int x = left + k * bar;
        int hb = (int)(height * before / maxc), ha = (int)(height * g->channels / maxc);
        ypr__fill_rect(&img, x, top + height - hb, x + bar - 2, top + height, grey);
        ypr__fill_rect(&img, x + 1, top + height - ha, x + bar - 3, top + height, blue);
        if (k % 10 == 0) {
            /* layer index under the bar, vertically */
            const char *name = net->nodes[g->sources[0]].name;
            const char *dot = strchr(name, '.');
            snprintf(text, sizeof text, "%.*s", 6, dot ? dot + 1 : name);
            for (int c = 0; text[c] && text[c] != '.'; c++) {
                char one[2] = {text[c], 0};
                ypr__draw_text(&img, x, top + height + 6 + c * 9, one, 1, black, NULL);
            }
        }
        k++;
    }
    ypr__draw_text(&img, left, h - 14, "layer (every 10th group)", 1, black, NULL);
    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}

/* ------------------------------------------------------- sensitivity */

static int map50_of(ypr_model *m, const ypr_dataset *ds, int size, int max_images, double *map)
{
    ypr_evaluator *e;
    TRY(ypr_evaluator_create(m, ds, &e));
    int rc = ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, size);
    if (rc == YPR_OK)
        rc = ypr_evaluator_set_int(e, YPR_EVAL_MAX_IMAGES, max_images);
    if (rc == YPR_OK)
        rc = ypr_evaluator_run(e);
    if (rc == YPR_OK)
        rc = ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, map);
    ypr_evaluator_free(e);
    return rc;
}

int ypr_pruner_sensitivity(ypr_pruner *p, const ypr_dataset *val, int size, int max_images,
                           const double *ratios, int nratios, ypr_progress_fn progress,
                           void *user, char **json)
{
    RETURN_IF(!p || !val || !ratios || !json, YPR_EINVAL, "sensitivity: NULL argument");
    RETURN_IF(nratios < 1 || nratios > 16, YPR_ERANGE, "sensitivity: 1..16 ratios");
    for (int r = 0; r < nratios; r++)
        RETURN_IF(!(ratios[r] > 0 && ratios[r] < 1) || (r && ratios[r] <= ratios[r - 1]),
                  YPR_ERANGE, "sensitivity: ratios must increase within (0, 1)");
    ypr_depgraph *dg = p->graph;
    TRY(fresh_graph(dg));
    ypr_model *m = dg->model;
    const ypr_net *net = &m->net;
    int ng = dg->ngroups;
    double base;
    ypr_model *copy = NULL;   /* the baseline runs on a copy: the caller's model is left alone */
    TRY(ypr__model_clone(m, &copy));
    int base_rc = map50_of(copy, val, size, max_images, &base);
    ypr_model_free(copy);
    TRY(base_rc);
    int64_t macs0;
    TRY(ypr__net_macs(net, p->report_size, p->report_size, 1, &macs0));
    free(p->planned);
    p->planned = NULL;
    /* table[g * nratios + r]: mAP@0.5 with group g alone pruned at ratios[r] */
    double *table = malloc((size_t)(ng ? ng : 1) * nratios * sizeof *table);
    int64_t *saved = malloc((size_t)(ng ? ng : 1) * nratios * sizeof *saved);
    double *scores = NULL;
    RETURN_IF(!table || !saved, YPR_ENOMEM, "sensitivity: out of memory");
    int rc = YPR_OK, todo = 0, done = 0;
    for (int i = 0; i < ng; i++) {
        const ypr_dep_group *g = &dg->groups[i];
        int use = g->prunable && !(p->nignore && source_matches(net, g, p->ignore, p->nignore, NULL));
        todo += use * nratios;
        for (int r = 0; r < nratios; r++) {
            table[i * nratios + r] = use ? base : -1;
            saved[i * nratios + r] = 0;
        }
    }
    ypr_rng rng;
    ypr__rng_seed(&rng, p->seed);
    for (int i = 0; rc == YPR_OK && i < ng; i++) {
        const ypr_dep_group *g = &dg->groups[i];
        if (table[i * nratios] < 0)
            continue;
        scores = realloc(scores, (size_t)g->channels * sizeof *scores);
        rank *rk = malloc((size_t)g->channels * sizeof *rk);
        int64_t *idx = malloc((size_t)g->channels * sizeof *idx);
        if (!scores || !rk || !idx) {
            free(rk);
            free(idx);
            rc = ypr__error(YPR_ENOMEM, "sensitivity: out of memory");
            break;
        }
        rc = group_scores(p, g, scores, &rng);
        for (int64_t k = 0; k < g->channels; k++)
            rk[k] = (rank){scores[k], k};
        qsort(rk, (size_t)g->channels, sizeof *rk, cmp_rank);
        for (int r = 0; rc == YPR_OK && r < nratios; r++) {
            int64_t n = g->channels - kept(p, p->init_channels[i], g->channels, ratios[r]);
            if (n <= 0)
                continue;
            for (int64_t k = 0; k < n; k++)
                idx[k] = rk[k].ch;
            qsort(idx, (size_t)n, sizeof *idx, cmp_i64);
            ypr_model *c = NULL;
            ypr_dep_group *cg = NULL;
            int ncg = 0;
            rc = ypr__model_clone(m, &c);
            if (rc == YPR_OK)
                rc = ypr__depgraph_build(&c->net, &cg, &ncg);
            if (rc == YPR_OK)
                rc = ypr__depgraph_prune(&c->net, &cg[i], idx, n);
            int64_t macs = macs0;
            if (rc == YPR_OK)
                rc = ypr__net_macs(&c->net, p->report_size, p->report_size, 1, &macs);
            double map = 0;
            if (rc == YPR_OK)
                rc = map50_of(c, val, size, max_images, &map);
            table[i * nratios + r] = map;
            saved[i * nratios + r] = macs0 - macs;
            ypr__depgraph_free_groups(cg, ncg);
            ypr_model_free(c);
            done++;
            if (rc == YPR_OK && progress && progress(user, done, todo))
                rc = ypr__error(YPR_ECANCELED, "sensitivity: canceled after %d of %d", done, todo);
        }
        free(rk);
        free(idx);
    }
    free(scores);
    if (rc == YPR_OK && p->target_macs) {
        /* greedy plan: advance the group whose next level costs the least
         * predicted mAP per MAC saved, until the savings meet the budget */
        int *level = calloc((size_t)(ng ? ng : 1), sizeof *level);
        p->planned = malloc((size_t)(ng ? ng : 1) * sizeof *p->planned);
        if (!level || !p->planned)
            rc = ypr__error(YPR_ENOMEM, "sensitivity: out of memory");
        int64_t need = macs0 - p->target_macs, got = 0;
        for (int i = 0; rc == YPR_OK && i < ng; i++)
            p->planned[i] = -1;
        while (rc == YPR_OK && got < need) {
            int best = -1;
            double best_cost = INFINITY;
            for (int i = 0; i < ng; i++) {
                if (table[i * nratios] < 0 || level[i] >= nratios)
                    continue;
                int l = level[i];
                double prev_map = l ? table[i * nratios + l - 1] : base;
                int64_t prev_saved = l ? saved[i * nratios + l - 1] : 0;
                int64_t gain = saved[i * nratios + l] - prev_saved;
                if (gain <= 0)
                    continue;
                double cost = (prev_map - table[i * nratios + l] + 1e-6) / (double)gain;
                if (cost < best_cost) {
                    best_cost = cost;
                    best = i;
                }
            }
            if (best < 0)
                break;
            int l = level[best];
            got += saved[best * nratios + l] - (l ? saved[best * nratios + l - 1] : 0);
            p->planned[best] = ratios[l];
            level[best]++;
        }
        free(level);
    }
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_puts(&sb, "{\"base_map50\":");
    ypr__sb_json_double(&sb, base);
    ypr__sb_printf(&sb, ",\"size\":%d,\"images\":%d,\"ratios\":[", size, max_images);
    for (int r = 0; r < nratios; r++) {
        ypr__sb_puts(&sb, r ? "," : "");
        ypr__sb_json_double(&sb, ratios[r]);
    }
    ypr__sb_puts(&sb, "],\"groups\":[");
    int first = 1;
    for (int i = 0; rc == YPR_OK && i < ng; i++) {
        if (table[i * nratios] < 0)
            continue;
        ypr__sb_printf(&sb, "%s{\"group\":%d,\"layer\":", first ? "" : ",", i);
        first = 0;
        ypr__sb_json_str(&sb, net->nodes[dg->groups[i].sources[0]].name);
        ypr__sb_printf(&sb, ",\"channels\":%lld,\"map50\":[", (long long)dg->groups[i].channels);
        for (int r = 0; r < nratios; r++) {
            ypr__sb_puts(&sb, r ? "," : "");
            ypr__sb_json_double(&sb, table[i * nratios + r]);
        }
        ypr__sb_puts(&sb, "],\"macs_saved\":[");
        for (int r = 0; r < nratios; r++)
            ypr__sb_printf(&sb, "%s%lld", r ? "," : "", (long long)saved[i * nratios + r]);
        ypr__sb_puts(&sb, "]");
        if (p->planned)
            ypr__sb_printf(&sb, ",\"planned_ratio\":%g", p->planned[i] < 0 ? 0.0 : p->planned[i]);
        ypr__sb_puts(&sb, "}");
    }
    ypr__sb_puts(&sb, "]}\n");
    free(saved);
    if (rc < 0) {
        free(table);
        ypr__sb_free(&sb);
        return rc;
    }
    free(p->sens);
    p->sens = table;   /* kept for ypr_pruner_plot_sensitivity() */
    p->sens_nr = nratios;
    p->sens_base = base;
    for (int r = 0; r < nratios; r++)
        p->sens_ratios[r] = ratios[r];
    RETURN_IF(sb.failed, YPR_ENOMEM, "sensitivity: out of memory");
    *json = sb.data;
    return YPR_OK;
}

/* ------------------------------------------------ training hooks */

int ypr_pruner_add_gradient(ypr_pruner *p, int tensor, const float *grad, int64_t numel)
{
    RETURN_IF(!p || !grad, YPR_EINVAL, "pruner: NULL argument");
    const ypr_net *net = &p->graph->model->net;
    RETURN_IF(tensor < 0 || tensor >= net->nparams, YPR_ERANGE, "pruner: tensor %d outside 0..%d",
              tensor, net->nparams - 1);
    RETURN_IF(numel != net->params[tensor].numel, YPR_ESHAPE,
              "pruner: gradient of %s has %lld elements, the tensor %lld", net->params[tensor].name,
              (long long)numel, (long long)net->params[tensor].numel);
    if (p->ngrads != net->nparams) {   /* (re)size the table: the net shrank since */
        for (int i = 0; p->grads && i < p->ngrads; i++)
            ypr__free(p->grads[i]);
        free(p->grads);
        p->grads = calloc((size_t)net->nparams, sizeof *p->grads);
        RETURN_IF(!p->grads, YPR_ENOMEM, "pruner: out of memory");
        p->ngrads = net->nparams;
    }
    if (!p->grads[tensor]) {
        p->grads[tensor] = ypr__calloc((size_t)numel, sizeof(float));
        RETURN_IF(!p->grads[tensor], YPR_ENOMEM, "pruner: out of memory");
    }
    for (int64_t i = 0; i < numel; i++)
        p->grads[tensor][i] += grad[i];
    p->grad_batches = 1;
    return YPR_OK;
}

int ypr_pruner_clear_gradients(ypr_pruner *p)
{
    RETURN_IF(!p, YPR_EINVAL, "pruner: NULL handle");
    for (int i = 0; p->grads && i < p->ngrads; i++)
        ypr__free(p->grads[i]);
    free(p->grads);
    p->grads = NULL;
    p->ngrads = 0;
    p->grad_batches = 0;
    return YPR_OK;
}

/* Sparse training: add the regularizer's gradient to grads[i] (one array
 * per tensor in model order, NULL to skip). BN slimming adds λ·sign(γ) to
 * every prunable BatchNorm γ; group-norm adds λ·w/‖group channel‖₂ to every
 * member slice of every prunable group (the gradient of λ Σ_k ‖channel k‖₂
 * over the whole group, as group-norm sparse training defines it). */
int ypr_pruner_regularize(ypr_pruner *p, float *const *grads, double lambda, int kind)
{
    RETURN_IF(!p || !grads, YPR_EINVAL, "pruner: NULL argument");
    RETURN_IF(!(lambda >= 0), YPR_ERANGE, "pruner: lambda %g must be >= 0", lambda);
    RETURN_IF(kind != YPR_REG_BN_L1 && kind != YPR_REG_GROUP_NORM, YPR_EINVAL,
              "pruner: unknown regularizer %d", kind);
    const ypr_depgraph *dg = p->graph;
    TRY(fresh_graph(dg));
    const ypr_net *net = &dg->model->net;
    double *norm = NULL;
    for (int gi = 0; gi < dg->ngroups; gi++) {
        const ypr_dep_group *g = &dg->groups[gi];
        if (!g->prunable || (p->nignore && source_matches(net, g, p->ignore, p->nignore, NULL)))
            continue;
        int64_t C = g->channels;
        if (kind == YPR_REG_GROUP_NORM) {
            double *nn = realloc(norm, (size_t)C * sizeof *nn);
            RETURN_IF(!nn, YPR_ENOMEM, "pruner: out of memory");
            norm = nn;
            for (int64_t k = 0; k < C; k++)
                norm[k] = 0;
        }
        for (int pass = kind == YPR_REG_GROUP_NORM ? 0 : 1; pass < 2; pass++) {
            for (int i = 0; i < g->nmembers; i++) {
                const ypr_dep_member *m = &g->members[i];
                const ypr_node *nd = &net->nodes[m->node];
                int weightish = (nd->kind == YPR_NODE_CONV && m->param == nd->p[0]) ||
                                (nd->kind == YPR_NODE_BN && m->param == nd->p[0]);
                if (!weightish || (kind == YPR_REG_BN_L1 && nd->kind != YPR_NODE_BN))
                    continue;
                const ypr_param *prm = &net->params[m->param];
                float *gr = grads[m->param];
                ypr_axis_view av = ypr__axis_view(prm->ndim, prm->shape, m->axis);
                int64_t outer = av.outer, inner = av.inner, dim = av.dim;
                for (int64_t a = 0; a < outer; a++)
                    for (int64_t k = 0; k < C; k++) {
                        int64_t at = (a * dim + m->offset + k) * inner;
                        for (int64_t t = 0; t < inner; t++) {
                            float w = prm->data[at + t];
                            if (pass == 0)
                                norm[k] += (double)w * w;
                            else if (gr && kind == YPR_REG_BN_L1)
                                gr[at + t] += (float)(lambda * ((w > 0) - (w < 0)));
                            else if (gr)
                                gr[at + t] += (float)(lambda * w / (sqrt(norm[k]) + 1e-12));
                        }
                    }
            }
        }
    }
    free(norm);
    return YPR_OK;
}

int ypr_pruner_plot_sensitivity(const ypr_pruner *p, const char *path)
{
    RETURN_IF(!p || !path, YPR_EINVAL, "pruner: NULL argument");
    RETURN_IF(!p->sens, YPR_ESTATE, "pruner: no sensitivity table (run ypr_pruner_sensitivity)");
    const ypr_depgraph *dg = p->graph;
    int ng = dg->ngroups, nr = p->sens_nr, n = 0;
    double worst = 1e-9;
    for (int i = 0; i < ng; i++) {
        if (p->sens[i * nr] < 0)
            continue;
        n++;
        for (int r = 0; r < nr; r++)
            if (p->sens_base - p->sens[i * nr + r] > worst)
                worst = p->sens_base - p->sens[i * nr + r];
    }
    RETURN_IF(!n, YPR_EINVAL, "pruner: empty sensitivity table");
    const int bw = 2, gap = 3, left = 70, top = 50, height = 280, bottom = 40;
    int w = left + n * (nr * bw + gap) + 30, h = top + height + bottom;
    ypr_image img;
    TRY(ypr__image_alloc(&img, w, h));
    static const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0}, light[3] = {230, 230, 230};
    ypr__fill_rect(&img, 0, 0, w - 1, h - 1, white);
    char text[200];
    snprintf(text, sizeof text, "mAP@0.5 drop per group pruned alone (base %.4f); bars: ", p->sens_base);
    ypr__draw_text(&img, 8, 8, text, 1, black, NULL);
    int tx = 8 + (int)strlen(text) * 6;
    for (int r = 0; r < nr; r++) {
        uint8_t col[3];
        ypr__class_color(r, col);
        snprintf(text, sizeof text, "%.2f", p->sens_ratios[r]);
        ypr__draw_text(&img, tx, 8, text, 1, white, col);
        tx += (int)strlen(text) * 6 + 8;
    }
    for (int t = 0; t <= 4; t++) {
        int y = top + height - t * height / 4;
        ypr__fill_rect(&img, left, y, w - 20, y, light);
        snprintf(text, sizeof text, "%.4f", worst * t / 4);
        ypr__draw_text(&img, 4, y - 4, text, 1, black, NULL);
    }
    int k = 0;
    for (int i = 0; i < ng; i++) {
        if (p->sens[i * nr] < 0)
            continue;
        int x0 = left + k * (nr * bw + gap);
        for (int r = 0; r < nr; r++) {
            double drop = p->sens_base - p->sens[i * nr + r];
            if (drop < 0)
                drop = 0;
            int bh = (int)(height * drop / worst);
            uint8_t col[3];
            ypr__class_color(r, col);
            ypr__fill_rect(&img, x0 + r * bw, top + height - bh, x0 + r * bw + bw - 1,
                           top + height, col);
        }
        k++;
    }
    ypr__draw_text(&img, left, h - 16, "prunable groups, in network order", 1, black, NULL);
    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}

/* ------------------------------------------------- state for checkpoints */

static void put_i64s(ypr_strbuf *sb, const char *key, const int64_t *v, int64_t n)
{
    ypr__sb_printf(sb, ",\"%s\":[", key);
    for (int64_t i = 0; i < n; i++)
        ypr__sb_printf(sb, "%s%lld", i ? "," : "", (long long)v[i]);
    ypr__sb_puts(sb, "]");
}

static void put_doubles(ypr_strbuf *sb, const char *key, const double *v, int64_t n)
{
    ypr__sb_printf(sb, ",\"%s\":", key);
    if (!v) {
        ypr__sb_puts(sb, "null");
        return;
    }
    ypr__sb_puts(sb, "[");
    for (int64_t i = 0; i < n; i++) {
        ypr__sb_puts(sb, i ? "," : "");
        ypr__sb_json_double(sb, v[i]);
    }
    ypr__sb_puts(sb, "]");
}

static void put_strs(ypr_strbuf *sb, const char *key, char *const *v, int n)
{
    ypr__sb_printf(sb, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        ypr__sb_puts(sb, i ? "," : "");
        ypr__sb_json_str(sb, v[i]);
    }
    ypr__sb_puts(sb, "]");
}

/* The integer settings and counters, in this order in the state. */
#define NINTS 14
static const char *const int_keys[NINTS] = {
    "step", "steps", "criterion", "global", "round_to", "reduction", "normalizer",
    "report_size", "clamp", "seed", "params0", "macs0", "target_macs", "target_params"};

static int pruner_state(const ypr_pruner *p, ypr_strbuf *sb)
{
    RETURN_IF(!p || !sb, YPR_EINVAL, "pruner: NULL argument");
    const int64_t v[NINTS] = {p->step, p->steps, p->criterion, p->global, p->round_to,
                              p->reduction, p->normalizer, p->report_size, p->clamp,
                              (int64_t)(p->seed & 0x7fffffffffffffffULL), p->params0, p->macs0,
                              p->target_macs, p->target_params};
    ypr__sb_puts(sb, "{\"version\":1");
    for (int k = 0; k < NINTS; k++)
        ypr__sb_printf(sb, ",\"%s\":%lld", int_keys[k], (long long)v[k]);
    ypr__sb_puts(sb, ",\"ratio\":");
    ypr__sb_json_double(sb, p->ratio);
    ypr__sb_puts(sb, ",\"max_layer_ratio\":");
    ypr__sb_json_double(sb, p->max_layer_ratio);
    put_strs(sb, "ignore", p->ignore, p->nignore);
    put_strs(sb, "layer_ratio_patterns", p->override_pat, p->noverride);
    put_doubles(sb, "layer_ratios", p->override_ratio, p->noverride);
    put_i64s(sb, "init_channels", p->init_channels, p->ninit);
    put_i64s(sb, "init_out", p->init_out, p->nnodes0);
    put_i64s(sb, "init_in", p->init_in, p->nnodes0);
    put_i64s(sb, "scope_init", p->scope_init, MAX_PATTERNS + 1);
    put_doubles(sb, "planned", p->planned, p->ninit);
    ypr__sb_puts(sb, "}");
    RETURN_IF(sb->failed, YPR_ENOMEM, "pruner: out of memory");
    return YPR_OK;
}

/* Array `key` of exactly n integers (≥ 0) into out[]. */
static int get_i64s(const ypr_json *st, const char *key, int64_t *out, int64_t n,
                    const char *what)
{
    const ypr_json *a = ypr__json_get(st, key);
    RETURN_IF(!a || ypr__json_type(a) != YPR_JSON_ARRAY || (int64_t)ypr__json_len(a) != n,
              YPR_EFORMAT, "%s: pruner state: '%s' is not an array of %lld integers", what, key,
              (long long)n);
    for (int64_t i = 0; i < n; i++)
        RETURN_IF(ypr__json_int(ypr__json_at(a, (size_t)i), &out[i]) < 0 || out[i] < 0,
                  YPR_EFORMAT, "%s: pruner state: '%s'[%lld] is not a count", what, key,
                  (long long)i);
    return YPR_OK;
}

/* Array `key` of strings (at most MAX_PATTERNS), duplicated into out[]. */
static int get_strs(const ypr_json *st, const char *key, char **out, int *n, const char *what)
{
    const ypr_json *a = ypr__json_get(st, key);
    RETURN_IF(!a || ypr__json_type(a) != YPR_JSON_ARRAY || ypr__json_len(a) > MAX_PATTERNS,
              YPR_EFORMAT, "%s: pruner state: '%s' is not a list of at most %d patterns", what,
              key, MAX_PATTERNS);
    *n = 0;
    for (size_t i = 0; i < ypr__json_len(a); i++) {
        const char *s = ypr__json_str(ypr__json_at(a, i));
        RETURN_IF(!s || !*s, YPR_EFORMAT, "%s: pruner state: '%s'[%zu] is not a pattern", what,
                  key, i);
        RETURN_IF(!(out[i] = dup_str(s)), YPR_ENOMEM, "pruner: out of memory");
        (*n)++;
    }
    return YPR_OK;
}

/* The state read before anything changes (restore is all or nothing). */
typedef struct pstate {
    int64_t v[NINTS];
    double ratio, max_layer_ratio, lr[MAX_PATTERNS];
    char *ign[MAX_PATTERNS], *pat[MAX_PATTERNS];
    int nign, npat;
    int64_t *ch, *io, scope[MAX_PATTERNS + 1];
    double *planned;
} pstate;

static void pstate_free(pstate *s)
{
    for (int i = 0; i < s->nign; i++)
        free(s->ign[i]);
    for (int i = 0; i < s->npat; i++)
        free(s->pat[i]);
    free(s->ch);
    free(s->io);
    free(s->planned);
}

static int read_pstate(const ypr_pruner *p, const ypr_json *st, const char *what, pstate *s)
{
    RETURN_IF(ypr__json_type(st) != YPR_JSON_OBJECT, YPR_EFORMAT,
              "%s: pruner state is not an object", what);
    for (int k = 0; k < NINTS; k++)
        RETURN_IF(ypr__json_int(ypr__json_get(st, int_keys[k]), &s->v[k]) < 0, YPR_EFORMAT,
                  "%s: pruner state: '%s' missing", what, int_keys[k]);
    RETURN_IF(s->v[1] < 1 || s->v[1] > 1000 || s->v[0] < 0 || s->v[0] > s->v[1], YPR_EFORMAT,
              "%s: pruner state: step %lld of %lld", what, (long long)s->v[0],
              (long long)s->v[1]);
    RETURN_IF(s->v[2] < YPR_CRITERION_RANDOM || s->v[2] > YPR_CRITERION_TAYLOR ||
              s->v[4] < 1 || s->v[5] < YPR_REDUCE_MEAN || s->v[5] > YPR_REDUCE_FIRST ||
              s->v[6] < YPR_NORM_NONE || s->v[6] > YPR_NORM_LAMP || s->v[7] < 32 ||
              s->v[7] > 8192, YPR_EFORMAT, "%s: pruner state: a setting is out of range", what);
    s->ratio = ypr__json_num(ypr__json_get(st, "ratio"));
    s->max_layer_ratio = ypr__json_num(ypr__json_get(st, "max_layer_ratio"));
    RETURN_IF(!(s->ratio >= 0 && s->ratio < 1) ||
              !(s->max_layer_ratio > 0 && s->max_layer_ratio <= 1), YPR_EFORMAT,
              "%s: pruner state: ratio %g or max_layer_ratio %g out of range", what, s->ratio,
              s->max_layer_ratio);
    TRY(get_strs(st, "ignore", s->ign, &s->nign, what));
    TRY(get_strs(st, "layer_ratio_patterns", s->pat, &s->npat, what));
    const ypr_json *lr = ypr__json_get(st, "layer_ratios");
    RETURN_IF(!lr || (int)ypr__json_len(lr) != s->npat, YPR_EFORMAT,
              "%s: pruner state: 'layer_ratios' does not match its patterns", what);
    for (int i = 0; i < s->npat; i++)
        s->lr[i] = ypr__json_num(ypr__json_at(lr, (size_t)i));
    s->ch = malloc((size_t)(p->ninit + 1) * sizeof *s->ch);
    s->io = malloc((size_t)(2 * p->nnodes0 + 1) * sizeof *s->io);
    RETURN_IF(!s->ch || !s->io, YPR_ENOMEM, "pruner: out of memory");
    TRY(get_i64s(st, "init_channels", s->ch, p->ninit, what));
    TRY(get_i64s(st, "init_out", s->io, p->nnodes0, what));
    TRY(get_i64s(st, "init_in", s->io + p->nnodes0, p->nnodes0, what));
    TRY(get_i64s(st, "scope_init", s->scope, MAX_PATTERNS + 1, what));
    const ypr_json *jp = ypr__json_get(st, "planned");
    if (jp && ypr__json_type(jp) == YPR_JSON_ARRAY) {
        RETURN_IF((int64_t)ypr__json_len(jp) != p->ninit, YPR_EFORMAT,
                  "%s: pruner state: 'planned' has %zu groups, the pruner %d", what,
                  ypr__json_len(jp), p->ninit);
        s->planned = malloc((size_t)(p->ninit + 1) * sizeof *s->planned);
        RETURN_IF(!s->planned, YPR_ENOMEM, "pruner: out of memory");
        for (int i = 0; i < p->ninit; i++)
            s->planned[i] = ypr__json_num(ypr__json_at(jp, (size_t)i));
    }
    /* the groups now are the ones the state counted, never wider */
    for (int i = 0; i < p->ninit; i++)
        RETURN_IF(p->graph->groups[i].channels > s->ch[i], YPR_EINVAL,
                  "%s: pruner state: group %d has %lld channels, more than its %lld at "
                  "creation (another model?)", what, i, (long long)p->graph->groups[i].channels,
                  (long long)s->ch[i]);
    return YPR_OK;
}

static int pruner_restore(ypr_pruner *p, const ypr_json *st, const char *what)
{
    RETURN_IF(!p || !st || !what, YPR_EINVAL, "pruner: NULL argument");
    pstate s;
    memset(&s, 0, sizeof s);
    int rc = read_pstate(p, st, what, &s);
    if (rc == YPR_OK) {
        const int64_t *v = s.v;
        p->step = (int)v[0];
        p->steps = (int)v[1];
        p->criterion = (int)v[2];
        p->global = (int)v[3];
        p->round_to = (int)v[4];
        p->reduction = (int)v[5];
        p->normalizer = (int)v[6];
        p->report_size = (int)v[7];
        p->clamp = (int)v[8];
        p->seed = (uint64_t)v[9];
        p->params0 = v[10];
        p->macs0 = v[11];
        p->target_macs = v[12];
        p->target_params = v[13];
        p->ratio = s.ratio;
        p->max_layer_ratio = s.max_layer_ratio;
        for (int i = 0; i < p->nignore; i++)
            free(p->ignore[i]);
        for (int i = 0; i < p->noverride; i++)
            free(p->override_pat[i]);
        memcpy(p->ignore, s.ign, sizeof s.ign);
        memcpy(p->override_pat, s.pat, sizeof s.pat);
        memcpy(p->override_ratio, s.lr, sizeof s.lr);
        p->nignore = s.nign;
        p->noverride = s.npat;
        s.nign = s.npat = 0;   /* now the pruner's */
        memcpy(p->init_channels, s.ch, (size_t)p->ninit * sizeof *s.ch);
        memcpy(p->init_out, s.io, (size_t)p->nnodes0 * sizeof *s.io);
        memcpy(p->init_in, s.io + p->nnodes0, (size_t)p->nnodes0 * sizeof *s.io);
        memcpy(p->scope_init, s.scope, sizeof s.scope);
        free(p->planned);
        p->planned = s.planned;
        s.planned = NULL;
    }
    pstate_free(&s);
    return rc;
}

int ypr_pruner_save_state(const ypr_pruner *p, char **json)
{
    RETURN_IF(!p || !json, YPR_EINVAL, "pruner: NULL argument");
    *json = NULL;
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    int rc = pruner_state(p, &sb);
    if (rc < 0) {
        ypr__sb_free(&sb);
        return rc;
    }
    *json = sb.data;
    return YPR_OK;
}

int ypr_pruner_load_state(ypr_pruner *p, const char *json)
{
    RETURN_IF(!p || !json, YPR_EINVAL, "pruner: NULL argument");
    ypr_json *j;
    TRY(ypr__json_parse(json, strlen(json), "pruner state", &j));
    int rc = pruner_restore(p, j, "pruner state");
    ypr__json_free(j);
    return rc;
}

int ypr_pruner_gradient(const ypr_pruner *p, int tensor, const float **grad)
{
    RETURN_IF(!p || !grad, YPR_EINVAL, "pruner: NULL argument");
    const ypr_net *net = &p->graph->model->net;
    RETURN_IF(tensor < 0 || tensor >= net->nparams, YPR_ERANGE, "pruner: tensor %d outside 0..%d",
              tensor, net->nparams - 1);
    *grad = p->grads && tensor < p->ngrads ? p->grads[tensor] : NULL;
    return YPR_OK;
}
