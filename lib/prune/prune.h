/* Dependency graph (groups of coupled channels) and structured pruning.
 * Derived only from each node kind's channel rule, never from module names:
 *   conv            output channels are a fresh source (unless grouped:
 *                   then its input and output are fixed)
 *   batchnorm, act, implicit add/mul, maxpool, upsample
 *                   output channels are the input's, one to one
 *   concat          output = the inputs' channels laid end to end
 *   add             every input and the output are one coupled space
 *   reorg           output = four copies of the input's channels
 *   detect, input   fixed (the head's outputs, the image's channels)
 */
#ifndef YPR_PRUNE_H
#define YPR_PRUNE_H

#include <stdint.h>

#include "lib/net/net.h"

/* Where a group's channels appear: tensor `param`, along `axis`, starting
 * at `offset` (channel k of the group is index offset + k). */
typedef struct ypr_dep_member {
    int node;
    int param;       /* index into net->params */
    int axis;        /* 0 = output rows (producer/pass-through), 1 = input columns (consumer) */
    int64_t offset;
} ypr_dep_member;

typedef struct ypr_dep_group {
    int64_t channels;        /* size of the coupled space */
    int prunable;
    const char *why_fixed;   /* static text when not prunable */
    int *sources;            /* conv nodes producing these channels */
    int nsources;
    ypr_dep_member *members;
    int nmembers;
    int *nodes;              /* nodes whose output channel count includes this space */
    int nnodes;
} ypr_dep_group;

struct ypr_depgraph {
    ypr_model *model;
    uint64_t version;        /* the net shape_version it was built for (weights may change) */
    ypr_dep_group *groups;
    int ngroups;
};

/* A tensor seen as [outer, dim, inner] around `axis` (channel k of a member
 * at offset o is rows a·dim + o + k, each `inner` floats long). */
typedef struct ypr_axis_view { int64_t outer, dim, inner; } ypr_axis_view;
ypr_axis_view ypr__axis_view(int ndim, const int64_t *shape, int axis);

int ypr__depgraph_build(const ypr_net *net, ypr_dep_group **groups, int *ngroups);
void ypr__depgraph_free_groups(ypr_dep_group *groups, int n);
/* Remove channels `idx` (sorted, unique, each < channels, fewer than all)
 * of group g from the net: slices every member tensor and updates channel
 * counts. Validates before cutting; on failure the net is unchanged. */
int ypr__depgraph_prune(ypr_net *net, const ypr_dep_group *g, const int64_t *idx, int64_t n);
/* The same for several groups of one graph at once (each tensor compacted
 * once). All are checked before anything is cut. */
int ypr__depgraph_prune_many(ypr_net *net, const ypr_dep_group *const *gs,
                             const int64_t *const *idxs, const int64_t *ns, int ngroups);
/* Make channels `idx` of group g output exactly zero (tests: the pruned net
 * must equal the zeroed one). */
int ypr__depgraph_zero(ypr_net *net, const ypr_dep_group *g, const int64_t *idx, int64_t n);

/* Prune several groups of a public graph at once and rebuild it. */
int ypr__depgraph_apply(ypr_depgraph *g, const int *groups, const int64_t *const *idxs,
                        const int64_t *ns, int n);

#endif
