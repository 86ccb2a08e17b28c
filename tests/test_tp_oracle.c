/* The pruner against Torch-Pruning 1.6.1's own choices: every fixture in
 * $YPR_TP_FIXTURES (../shared/fixtures/tp-selection, see its README) holds a
 * model's weights and, for l1/l2/lamp/bn/fpgm x local/global, the parameter
 * count TP reached and the ORIGINAL indices of the channels every BatchNorm
 * kept. We prune the same weights the same way and recover which channels
 * survived from the BatchNorms' (weight, bias) pairs, unique within a layer.
 * Every fixture file found is checked (so a fixture for the full yolov7 runs
 * the same test); exit 77 when the directory is absent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>

#include "lib/core/json.h"
#include "yolopr.h"
#include "test_util.h"

static char fixtures[1024];

/* From the state_dict's safetensors header: the detect layer's index (the
 * layer holding `model.<L>.m.0.weight` with the largest L) and nc from that
 * conv's 3·(nc + 5) outputs. Runs before the tests: no cmocka asserts. */
static int head_of(const char *weights, int *layer, int *nc)
{
    FILE *f = fopen(weights, "rb");
    unsigned char h8[8];
    if (!f || fread(h8, 1, 8, f) != 8) {
        if (f)
            fclose(f);
        return -1;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | h8[i];
    char *hdr = hl > 2 && hl < (1u << 26) ? malloc((size_t)hl) : NULL;
    int ok = hdr && fread(hdr, 1, (size_t)hl, f) == hl;
    fclose(f);
    ypr_json *j = NULL;
    if (!ok || ypr__json_parse(hdr, (size_t)hl, weights, &j) != YPR_OK) {
        free(hdr);
        return -1;
    }
    *layer = -1;
    for (size_t i = 0; i < ypr__json_len(j); i++) {
        const char *k = ypr__json_key_at(j, i);
        int l, used = 0;
        int64_t o;
        const ypr_json *shape = ypr__json_get(ypr__json_at(j, i), "shape");
        if (sscanf(k, "model.%d.m.0.weight%n", &l, &used) == 1 && k[used] == 0 && l > *layer &&
            ypr__json_int(ypr__json_at(shape, 0), &o) == 0) {
            *layer = l;
            *nc = (int)(o / 3 - 5);
        }
    }
    ypr__json_free(j);
    free(hdr);
    return *layer > 0 && *nc > 0 ? 0 : -1;
}

static int tensor_named(const ypr_model *m, const char *name)
{
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *n;
        assert_int_equal(ypr_model_tensor(m, i, &n, NULL, NULL, NULL), YPR_OK);
        if (strcmp(n, name) == 0)
            return i;
    }
    return -1;
}

typedef struct fixture {
    ypr_json *doc;
    char cfg[64], weights[1200], ignore[64];
    double width;
    int nc, round_to;
} fixture;

static ypr_model *load(const fixture *fx)
{
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(fx->cfg, fx->nc, 0, fx->width, 0, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, fx->weights, 1), YPR_OK);
    return m;
}

static int criterion_of(const char *label)
{
    static const struct { const char *name; int crit; } names[] = {
        {"l1-", YPR_CRITERION_L1}, {"l2-", YPR_CRITERION_L2}, {"lamp-", YPR_CRITERION_LAMP},
        {"bn-", YPR_CRITERION_BN_SCALE}, {"fpgm-", YPR_CRITERION_FPGM}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(label, names[i].name, strlen(names[i].name)) == 0)
            return names[i].crit;
    fail_msg("unknown criterion in %s", label);
    return -1;
}

/* The original index of every channel a pruned BatchNorm kept: the one
 * whose (weight, bias) pair is bit-identical. */
static void kept_of(const ypr_model *orig, const ypr_model *m, const char *bn, int64_t *kept,
                    int64_t *nkept, int64_t *norig)
{
    char wn[320], bnm[320];
    snprintf(wn, sizeof wn, "%s.weight", bn);
    snprintf(bnm, sizeof bnm, "%s.bias", bn);
    int ow = tensor_named(orig, wn), ob = tensor_named(orig, bnm);
    int pw = tensor_named(m, wn), pb = tensor_named(m, bnm);
    assert_true(ow >= 0 && ob >= 0 && pw >= 0 && pb >= 0);
    int64_t so[6], sp[6];
    const float *w0, *b0, *w1, *b1;
    assert_int_equal(ypr_model_tensor(orig, ow, NULL, NULL, so, &w0), YPR_OK);
    assert_int_equal(ypr_model_tensor(orig, ob, NULL, NULL, NULL, &b0), YPR_OK);
    assert_int_equal(ypr_model_tensor(m, pw, NULL, NULL, sp, &w1), YPR_OK);
    assert_int_equal(ypr_model_tensor(m, pb, NULL, NULL, NULL, &b1), YPR_OK);
    *norig = so[0];
    *nkept = sp[0];
    for (int64_t k = 0; k < sp[0]; k++) {
        kept[k] = -1;
        for (int64_t o = 0; o < so[0] && kept[k] < 0; o++)
            if (memcmp(&w0[o], &w1[k], sizeof(float)) == 0 &&
                memcmp(&b0[o], &b1[k], sizeof(float)) == 0)
                kept[k] = o;
        assert_true(kept[k] >= 0);
    }
}

/* Prune a fresh copy as configuration `label` says; return the number of
 * BatchNorms whose kept channels differ from TP's (and their names). */
static int check_config(const fixture *fx, const ypr_model *orig, const char *label,
                        const ypr_json *cfg, int64_t *ours, int64_t *theirs)
{
    ypr_model *m = load(fx);
    ypr_depgraph *g;
    ypr_pruner *p;
    double ratio = 0;
    assert_int_equal(sscanf(strchr(label, '-') + 1, "%lf", &ratio), 1);
    int global = strstr(label, "-global") != NULL;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, criterion_of(label)), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, ratio), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, fx->round_to), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_GLOBAL, global), YPR_OK);
    assert_int_equal(ypr_pruner_ignore(p, fx->ignore), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    *ours = ypr_model_num_params(m);
    assert_int_equal(ypr__json_int(ypr__json_get(cfg, "params"), theirs), 0);
    const ypr_json *kept = ypr__json_get(cfg, "kept");
    assert_int_equal(ypr__json_type(kept), YPR_JSON_OBJECT);
    int differ = 0, nbn = 0;
    int64_t *got = malloc(4096 * sizeof *got);
    assert_non_null(got);
    for (int i = 0; i < ypr_model_num_tensors(orig); i++) {
        const char *name;
        int ndim;
        int64_t shape[6];
        assert_int_equal(ypr_model_tensor(orig, i, &name, &ndim, shape, NULL), YPR_OK);
        size_t len = strlen(name);
        if (len < 14 || strcmp(name + len - 13, ".running_mean") != 0)
            continue;   /* one BatchNorm per running_mean */
        char bn[256];
        snprintf(bn, sizeof bn, "%.*s", (int)(len - 13), name);
        assert_true(shape[0] <= 4096);
        int64_t n, n0;
        kept_of(orig, m, bn, got, &n, &n0);
        nbn++;
        const ypr_json *want = ypr__json_get(kept, bn);
        int same;
        if (!want) {
            same = n == n0;   /* not listed: kept every channel */
        } else {
            same = (int64_t)ypr__json_len(want) == n;
            for (int64_t k = 0; same && k < n; k++) {
                int64_t w;
                same = ypr__json_int(ypr__json_at(want, (size_t)k), &w) == 0 && w == got[k];
            }
        }
        if (!same) {
            if (differ < 3)
                print_message("  %s %s: %s kept %lld of %lld channels, not TP's\n", fx->cfg, label,
                              bn, (long long)n, (long long)n0);
            differ++;
        }
    }
    /* every BatchNorm TP lists exists here */
    for (size_t i = 0; i < ypr__json_len(kept); i++) {
        char wn[256];
        snprintf(wn, sizeof wn, "%s.weight", ypr__json_key_at(kept, i));
        assert_true(tensor_named(orig, wn) >= 0);
    }
    assert_true(nbn > 20);
    free(got);
    ypr_model_free(m);
    return differ;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read a fixture description: 1 ok, 0 when the JSON is not one, -1 on a
 * broken fixture. Runs before the tests: no cmocka asserts. */
static int load_fixture(const char *json_path, fixture *fx)
{
    size_t len;
    char *text = test_slurp(json_path, &len);
    memset(fx, 0, sizeof *fx);
    if (!text || ypr__json_parse(text, len, json_path, &fx->doc) != YPR_OK) {
        free(text);
        return -1;
    }
    free(text);
    const char *tp = ypr__json_str(ypr__json_get(fx->doc, "torch_pruning"));
    const char *model = ypr__json_str(ypr__json_get(fx->doc, "model"));
    const char *weights = ypr__json_str(ypr__json_get(fx->doc, "weights"));
    if (!tp || !model || !weights || !ypr__json_get(fx->doc, "configs")) {
        ypr__json_free(fx->doc);
        return 0;   /* not a selection fixture */
    }
    snprintf(fx->cfg, sizeof fx->cfg, "%s", model);
    snprintf(fx->weights, sizeof fx->weights, "%s/%s", fixtures, weights);
    const ypr_json *w = ypr__json_get(fx->doc, "width_multiple");
    fx->width = w ? ypr__json_num(w) : 0;
    int64_t r = 1;
    int layer;
    if (ypr__json_int(ypr__json_get(fx->doc, "round_to"), &r) != 0 ||
        head_of(fx->weights, &layer, &fx->nc) != 0) {
        ypr__json_free(fx->doc);
        return -1;
    }
    fx->round_to = (int)r;
    snprintf(fx->ignore, sizeof fx->ignore, "model.%d.m.*", layer);
    return 1;
}

typedef struct one_config {
    fixture *fx;
    size_t index;
} one_config;

/* One cmocka test per (fixture, configuration). */
static void test_config(void **state)
{
    const one_config *oc = *state;
    const ypr_json *configs = ypr__json_get(oc->fx->doc, "configs");
    const char *label = ypr__json_key_at(configs, oc->index);
    ypr_model *orig = load(oc->fx);
    int64_t ours, theirs;
    int differ = check_config(oc->fx, orig, label, ypr__json_at(configs, oc->index), &ours,
                              &theirs);
    print_message("%-12s %-18s params %lld / %lld (TP)   BatchNorms differing: %d\n",
                  oc->fx->cfg, label, (long long)ours, (long long)theirs, differ);
    ypr_model_free(orig);
    assert_int_equal(differ, 0);
    assert_int_equal(ours, theirs);
}

/* Quick scope (sanitizers, qemu): each criterion once per fixture, local and
 * global alternating down the criteria and between fixtures, so every
 * (criterion, local/global) pair still runs once over the first two, except
 * FPGM (its n² distances cost a minute under qemu): once, on the second. */
static int quick_row(const char *label, int fixture_no)
{
    static const char *const crit[] = {"l1-", "l2-", "lamp-", "bn-", "fpgm-"};
    for (int k = 0; k < 5; k++)
        if (strncmp(label, crit[k], strlen(crit[k])) == 0) {
            if (k == 4 && fixture_no == 0)
                return 0;   /* FPGM's n² distances: the second fixture only */
            return (strstr(label, "-global") != NULL) == ((k + fixture_no) % 2 == 1);
        }
    return 1;   /* a criterion this list lacks: always run */
}

int main(void)
{
    test_threads_from_env();
    int quick = test_quick();
    const char *dir = getenv("YPR_TP_FIXTURES");
    snprintf(fixtures, sizeof fixtures, "%s", dir ? dir : "");
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        fprintf(stderr, "test_tp_oracle: no fixtures at '%s', skipped\n", fixtures);
        return 77;
    }
    char *names[64];
    int nf = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nf < 64) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            names[nf] = malloc(l + 1);
            if (!names[nf])
                return 1;
            memcpy(names[nf++], e->d_name, l + 1);
        }
    }
    closedir(d);
    qsort(names, (size_t)nf, sizeof names[0], cmp_name);
    fixture *fxs = calloc((size_t)(nf ? nf : 1), sizeof *fxs);
    struct CMUnitTest *tests = calloc(64 * 16, sizeof *tests);
    one_config *ocs = calloc(64 * 16, sizeof *ocs);
    char (*labels)[160] = calloc(64 * 16, sizeof *labels);
    if (!fxs || !tests || !ocs || !labels)
        return 1;
    int nt = 0, nfx = 0;
    for (int f = 0; f < nf; f++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", fixtures, names[f]);
        int ok = load_fixture(path, &fxs[nfx]);
        if (ok < 0) {
            fprintf(stderr, "test_tp_oracle: %s is not a readable fixture\n", path);
            return 1;
        }
        if (!ok)
            continue;
        const ypr_json *configs = ypr__json_get(fxs[nfx].doc, "configs");
        for (size_t c = 0; c < ypr__json_len(configs) && nt < 64 * 16; c++) {
            if (quick && !quick_row(ypr__json_key_at(configs, c), nfx))
                continue;
            snprintf(labels[nt], sizeof labels[nt], "%s %s", names[f], ypr__json_key_at(configs, c));
            ocs[nt] = (one_config){&fxs[nfx], c};
            tests[nt] = (struct CMUnitTest){labels[nt], test_config, NULL, NULL, &ocs[nt]};
            nt++;
        }
        nfx++;
    }
    if (nt < (quick ? 5 : 10)) {
        fprintf(stderr, "test_tp_oracle: %d configurations found in %s (want >= 10)\n", nt,
                fixtures);
        return 1;
    }
    int rc = _cmocka_run_group_tests("tp-oracle", tests, (size_t)nt, NULL, NULL);
    for (int f = 0; f < nfx; f++)
        ypr__json_free(fxs[f].doc);
    for (int f = 0; f < nf; f++)
        free(names[f]);
    free(fxs);
    free(tests);
    free(ocs);
    free(labels);
    return rc;
}
