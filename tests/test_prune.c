/* Dependency graph correctness as a property, on every group of several
 * architectures: removing any channels of a group gives a net that runs and
 * whose outputs equal those of the unpruned net with the same channels
 * zeroed (producer weights, bias, BatchNorm γ/β and implicit vectors set so
 * the channels are exactly zero after the activation). White-box. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/model/model.h"
#include "lib/prune/prune.h"
#include "test_util.h"

static char data_dir[1024];

typedef struct arch { const char *cfg; int nc; double width; const char *weights; int size; } arch;

static ypr_model *build(const arch *a)
{
    char cfg[1200], w[1200];
    const char *c = a->cfg;
    if (strchr(a->cfg, '/')) {
        snprintf(cfg, sizeof cfg, "%s/%s", data_dir, a->cfg);
        c = cfg;
    }
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(c, a->nc, 0, a->width, 3, &m), YPR_OK);
    if (a->weights) {
        snprintf(w, sizeof w, "%s/%s", data_dir, a->weights);
        assert_int_equal(ypr_model_load_weights(m, w, 1), YPR_OK);
    } else {
        /* non-trivial BatchNorm statistics and implicit vectors */
        ypr_rng r;
        ypr__rng_seed(&r, 99);
        for (int i = 0; i < m->net.nnodes; i++) {
            ypr_node *nd = &m->net.nodes[i];
            if (nd->kind != YPR_NODE_BN)
                continue;
            for (int64_t k = 0; k < nd->c; k++) {
                m->net.params[nd->p[0]].data[k] = 0.5f + ypr__rng_uniform(&r);
                m->net.params[nd->p[1]].data[k] = 0.4f * (ypr__rng_uniform(&r) - 0.5f);
                m->net.params[nd->p[2]].data[k] = 0.4f * (ypr__rng_uniform(&r) - 0.5f);
                m->net.params[nd->p[3]].data[k] = 0.5f + ypr__rng_uniform(&r);
            }
        }
        m->net.version++;
    }
    return m;
}

static void copy_params(ypr_model *dst, const ypr_model *src)
{
    assert_int_equal(dst->net.nparams, src->net.nparams);
    for (int i = 0; i < src->net.nparams; i++)
        memcpy(dst->net.params[i].data, src->net.params[i].data,
               (size_t)src->net.params[i].numel * sizeof(float));
    dst->net.version++;
}

static float *outputs(ypr_model *m, const float *x, int size, size_t *n)
{
    assert_int_equal(ypr_model_forward(m, x, 1, size, size), YPR_OK);
    size_t total = 0;
    int64_t s[5];
    for (int l = 0; l < ypr_model_num_levels(m); l++) {
        assert_int_equal(ypr_model_output(m, l, NULL, s), YPR_OK);
        total += (size_t)(s[0] * s[1] * s[2] * s[3] * s[4]);
    }
    float *o = malloc(total * sizeof(float)), *at = o;
    for (int l = 0; l < ypr_model_num_levels(m); l++) {
        assert_int_equal(ypr_model_output(m, l, at, s), YPR_OK);
        at += s[0] * s[1] * s[2] * s[3] * s[4];
    }
    *n = total;
    return o;
}

/* A group's shape: which node kinds hold its tensors (as producer rows or
 * consumer columns, at offset 0 or inside a concat), which kinds pass its
 * channels on, and whether several convs produce it (RepConv, additions). */
static uint64_t group_shape(const ypr_net *net, const ypr_dep_group *g)
{
    uint64_t s = g->nsources > 1 ? 1ull << 63 : 0;
    for (int k = 0; k < g->nmembers; k++) {
        const ypr_dep_member *mb = &g->members[k];
        s |= 1ull << (net->nodes[mb->node].kind * 4 + mb->axis * 2 + (mb->offset > 0));
    }
    for (int k = 0; k < g->nnodes; k++)
        s |= 1ull << (48 + net->nodes[g->nodes[k]].kind);
    return s;
}

/* Quick scope: true the first time a group of this shape comes up. */
static int new_shape(const ypr_net *net, const ypr_dep_group *g, uint64_t *seen, int *nseen)
{
    uint64_t s = group_shape(net, g);
    for (int k = 0; k < *nseen; k++)
        if (seen[k] == s)
            return 0;
    assert_true(*nseen < 256);
    seen[(*nseen)++] = s;
    return 1;
}

/* Every prunable group (in quick scope, one group of each shape). */
static void check_arch(const arch *a)
{
    _Static_assert(YPR_NODE_KIND_COUNT_ <= 12, "group_shape packs 12 kinds x 4 bits");
    int quick = test_quick();
    uint64_t seen[256];
    int nseen = 0;
    ypr_model *base = build(a);
    ypr_dep_group *groups;
    int ng;
    assert_int_equal(ypr__depgraph_build(&base->net, &groups, &ng), YPR_OK);
    int size = a->size;
    float *x = malloc((size_t)3 * size * size * sizeof(float));
    ypr_rng r;
    ypr__rng_seed(&r, 5);
    for (int i = 0; i < 3 * size * size; i++)
        x[i] = ypr__rng_uniform(&r);
    int tested = 0;
    for (int gi = 0; gi < ng; gi++) {
        const ypr_dep_group *g = &groups[gi];
        if (!g->prunable)
            continue;
        /* a random proper subset, sorted */
        int64_t n = 1 + (int64_t)(ypr__rng_u64(&r) % (uint64_t)(g->channels > 2 ? g->channels / 2 : 1));
        if (n >= g->channels)
            continue;
        int64_t *idx = malloc((size_t)n * sizeof *idx);
        for (int64_t k = 0, c = 0; c < g->channels && k < n; c++)
            if ((int64_t)(ypr__rng_u64(&r) % (uint64_t)(g->channels - c)) < n - k)
                idx[k++] = c;
        if (quick && !new_shape(&base->net, g, seen, &nseen)) {
            free(idx);   /* drawn all the same: the groups tested get native's subsets */
            continue;
        }
        ypr_model *zeroed = build(a), *pruned = build(a);
        copy_params(zeroed, base);
        copy_params(pruned, base);
        assert_int_equal(ypr__depgraph_zero(&zeroed->net, g, idx, n), YPR_OK);
        ypr_depgraph *dg;
        assert_int_equal(ypr_depgraph_build(pruned, &dg), YPR_OK);
        int64_t before = ypr_model_num_params(pruned);
        assert_int_equal(ypr_depgraph_prune_group(dg, gi, idx, n), YPR_OK);
        assert_true(ypr_model_num_params(pruned) < before);
        size_t na, nb;
        float *ya = outputs(zeroed, x, size, &na), *yb = outputs(pruned, x, size, &nb);
        assert_int_equal(na, nb);
        double worst = 0;
        for (size_t i = 0; i < na; i++) {
            double e = fabs(ya[i] - yb[i]) / (1.0 + fabs(ya[i]));
            if (e > worst)
                worst = e;
        }
        if (worst > 1e-4)
            fail_msg("%s group %d (%lld channels, %lld removed, first member %s): "
                     "pruned differs from zeroed by %g", a->cfg, gi, (long long)g->channels,
                     (long long)n, base->net.params[g->members[0].param].name, worst);
        free(ya);
        free(yb);
        free(idx);
        ypr_depgraph_free(dg);
        ypr_model_free(zeroed);
        ypr_model_free(pruned);
        tested++;
    }
    assert_true(tested > 3);
    fprintf(stderr, "%s: %d groups, %d tested%s\n", a->cfg, ng, tested,
            quick ? " (quick scope: one of each shape)" : "");
    ypr__depgraph_free_groups(groups, ng);
    free(x);
    ypr_model_free(base);
}

static void test_mini(void **state)
{
    (void)state;
    arch a = {"model/mini.yaml", 0, 0, "model/mini.safetensors", 64};
    check_arch(&a);
}

static void test_tiny(void **state)
{
    (void)state;
    arch a = {"yolov7-tiny", 4, 0.25, NULL, 64};
    check_arch(&a);
}

static void test_yolov7_scaled(void **state)
{
    (void)state;
    arch a = {"yolov7", 3, 0.125, NULL, 64};
    check_arch(&a);
}

static void test_groups_structure(void **state)
{
    (void)state;
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7", 20, 0, 0, 1, &m), YPR_OK);
    ypr_depgraph *g;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    int n = ypr_depgraph_num_groups(g), prunable = 0, fixed = 0;
    for (int i = 0; i < n; i++) {
        int p;
        int64_t c;
        assert_int_equal(ypr_depgraph_group_info(g, i, &c, &p), YPR_OK);
        prunable += p;
        fixed += !p;
    }
    /* the image's channels and the three head outputs are fixed; every other
     * conv output is prunable (RepConv's two branches share one group) */
    assert_int_equal(fixed, 1 + 3);
    assert_int_equal(prunable, n - fixed);
    assert_true(prunable > 80);
    char *text;
    assert_int_equal(ypr_depgraph_describe(g, -1, &text), YPR_OK);
    assert_non_null(strstr(text, "model.105.ia.0.implicit"));   /* pruned with the head's input */
    assert_non_null(strstr(text, "model.102.rbr_1x1.0.weight"));
    assert_non_null(strstr(text, "the detect head's outputs"));
    free(text);
    assert_int_equal(ypr_depgraph_dot(g, &text), YPR_OK);
    assert_non_null(strstr(text, "digraph"));
    free(text);
    int64_t all[1] = {0};
    assert_int_equal(ypr_depgraph_prune_group(g, n, all, 1), YPR_ERANGE);
    ypr_depgraph_free(g);
    ypr_model_free(m);
}

int main(void)
{
    test_threads_from_env();
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_structure),
        cmocka_unit_test(test_mini),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_yolov7_scaled),
    };
    return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
