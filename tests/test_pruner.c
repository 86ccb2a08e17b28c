/* The pruner through the public API: Torch-Pruning's reference figures,
 * every criterion, global ranking, round_to, iterative schedules, ignored
 * layers, reports, checkpoints of pruned nets, bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yolopr.h"
#include "test_util.h"

static int64_t prune_ignoring(ypr_model *m, int criterion, double ratio, int round_to, int global,
                              int steps, const char *ignore)
{
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, criterion), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, ratio), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, round_to), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_GLOBAL, global), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_STEPS, steps), YPR_OK);
    if (ignore)
        assert_int_equal(ypr_pruner_ignore(p, ignore), YPR_OK);
    for (int s = 0; s < steps; s++)
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_ESTATE);
    assert_int_equal(ypr_pruner_steps_done(p), steps);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    return ypr_model_num_params(m);
}

static ypr_model *model(const char *cfg, int nc)
{
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(cfg, nc, 0, 0, 1, &m), YPR_OK);
    return m;
}

static int64_t prune_once(ypr_model *m, int criterion, double ratio, int round_to, int global,
                          int steps)
{
    return prune_ignoring(m, criterion, ratio, round_to, global, steps, NULL);
}

static void test_reference_figures(void **state)
{
    (void)state;
    /* Torch-Pruning 1.6 on the same cfgs (REFERENCE.md): L2, local, round_to 8.
     * Quick scope (sanitizers, qemu): the yolov7-tiny row only. */
    ypr_model *m;
    if (!test_quick()) {
        m = model("yolov7", 20);
        assert_int_equal(prune_ignoring(m, YPR_CRITERION_L2, 0.25, 8, 0, 1, "model.105.m.*"),
                         21015930);
        int64_t macs;
        assert_int_equal(ypr_model_macs(m, 416, 416, 1, &macs), YPR_OK);
        assert_true(macs > 12.48e9 && macs < 12.50e9);
        ypr_model_free(m);
        m = model("yolov7", 20);
        assert_int_equal(prune_ignoring(m, YPR_CRITERION_LAMP, 0.5, 8, 0, 1, "model.105.m.*"),
                         9371794);
        ypr_model_free(m);
    }
    m = model("yolov7-tiny", 20);
    assert_int_equal(prune_ignoring(m, YPR_CRITERION_L2, 0.25, 8, 0, 1, "model.77.m.*"), 3428250);
    ypr_model_free(m);
}

static void run_forward(ypr_model *m, int size)
{
    float *x = calloc((size_t)3 * size * size, sizeof(float));
    for (int i = 0; i < 3 * size * size; i++)
        x[i] = (float)(i % 97) / 97.0f;
    assert_int_equal(ypr_model_forward(m, x, 1, size, size), YPR_OK);
    int64_t s[5];
    assert_int_equal(ypr_model_output(m, 0, NULL, s), YPR_OK);
    assert_int_equal(s[4], ypr_model_num_classes(m) + 5);   /* head widths stay */
    free(x);
}

static void test_every_criterion(void **state)
{
    (void)state;
    int64_t counts[6];
    for (int c = YPR_CRITERION_RANDOM; c <= YPR_CRITERION_FPGM; c++) {
        ypr_model *m = model("yolov7-tiny", 3);
        int64_t before = ypr_model_num_params(m);
        counts[c] = prune_once(m, c, 0.3, 1, 0, 1);
        assert_true(counts[c] < before);
        run_forward(m, 64);
        ypr_model_free(m);
    }
    /* local pruning fixes every width: the criterion only chooses which */
    for (int c = 1; c < 6; c++)
        assert_int_equal(counts[c], counts[0]);
}

static void test_criteria_choose_different_channels(void **state)
{
    (void)state;
    /* same widths, different survivors: outputs differ between L1 and random */
    ypr_model *a = model("yolov7-tiny", 3), *b = model("yolov7-tiny", 3);
    prune_once(a, YPR_CRITERION_L1, 0.5, 1, 0, 1);
    prune_once(b, YPR_CRITERION_RANDOM, 0.5, 1, 0, 1);
    float *x = calloc(3 * 64 * 64, sizeof(float));
    for (int i = 0; i < 3 * 64 * 64; i++)
        x[i] = (float)(i % 13) / 13.0f;
    assert_int_equal(ypr_model_forward(a, x, 1, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_forward(b, x, 1, 64, 64), YPR_OK);
    int64_t s[5];
    assert_int_equal(ypr_model_output(a, 0, NULL, s), YPR_OK);
    size_t n = (size_t)(s[0] * s[1] * s[2] * s[3] * s[4]);
    float *ya = malloc(n * 4), *yb = malloc(n * 4);
    assert_int_equal(ypr_model_output(a, 0, ya, s), YPR_OK);
    assert_int_equal(ypr_model_output(b, 0, yb, s), YPR_OK);
    assert_true(memcmp(ya, yb, n * 4) != 0);
    free(ya); free(yb); free(x);
    ypr_model_free(a);
    ypr_model_free(b);
}

static void test_round_to_global_steps(void **state)
{
    (void)state;
    ypr_model *m = model("yolov7-tiny", 3);
    int64_t before = ypr_model_num_params(m);
    prune_once(m, YPR_CRITERION_L2, 0.4, 16, 1, 1);
    ypr_depgraph *g;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    for (int i = 0; i < ypr_depgraph_num_groups(g); i++) {
        int64_t c;
        int p;
        assert_int_equal(ypr_depgraph_group_info(g, i, &c, &p), YPR_OK);
        if (p)
            assert_int_equal(c % 16, 0);
    }
    ypr_depgraph_free(g);
    assert_true(ypr_model_num_params(m) < before);
    run_forward(m, 64);
    ypr_model_free(m);
    /* four iterative steps of a local schedule end where one step does */
    ypr_model *a = model("yolov7-tiny", 3), *b = model("yolov7-tiny", 3);
    assert_int_equal(prune_once(a, YPR_CRITERION_L2, 0.5, 8, 0, 4),
                     prune_once(b, YPR_CRITERION_L2, 0.5, 8, 0, 1));
    ypr_model_free(a);
    ypr_model_free(b);
}

static void test_checkpoint_and_report(void **state)
{
    (void)state;
    ypr_model *m = model("yolov7-tiny", 3), *back;
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_REPORT_SIZE, 416), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.3), YPR_OK);
    assert_int_equal(ypr_pruner_set_layer_ratio(p, "model.0.*", 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_ignore(p, "no.such.layer"), YPR_ENOTFOUND);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    char *text;
    assert_int_equal(ypr_pruner_report(p, &text, 0), YPR_OK);
    assert_non_null(strstr(text, "Parameters: "));
    assert_non_null(strstr(text, " M => "));
    assert_non_null(strstr(text, "MACs: "));
    assert_non_null(strstr(text, "model.0.conv"));
    ypr_free(text);
    assert_int_equal(ypr_pruner_report(p, &text, 1), YPR_OK);
    assert_non_null(strstr(text, "\"params_after\":"));
    ypr_free(text);
    int64_t c0;
    int pr;
    assert_int_equal(ypr_depgraph_group_info(g, 1, &c0, &pr), YPR_OK);
    assert_int_equal(c0, 16);   /* model.0: 32 channels, its own ratio 0.5 */
    assert_int_equal(ypr_pruner_plot(p, "pruned_tiny.png"), YPR_OK);
    uint8_t *rgb;
    int w, h;
    assert_int_equal(ypr_image_load("pruned_tiny.png", &rgb, &w, &h), YPR_OK);
    assert_true(w > 59 * 7 && h > 300);
    int blue = 0;   /* the "after" bars are drawn */
    for (int i = 0; i < w * h; i++)
        blue += rgb[i * 3] == 40 && rgb[i * 3 + 1] == 90 && rgb[i * 3 + 2] == 200;
    assert_true(blue > 1000);
    ypr_free(rgb);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    assert_int_equal(ypr_model_save(m, "pruned_tiny.safetensors"), YPR_OK);
    assert_int_equal(ypr_model_load("pruned_tiny.safetensors", &back), YPR_OK);
    assert_int_equal(ypr_model_num_params(back), ypr_model_num_params(m));
    run_forward(back, 64);
    ypr_model_free(back);
    ypr_model_free(m);
}

static void test_budgets(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        ypr_model *m = model("yolov7-tiny", 3);
        ypr_depgraph *g;
        ypr_pruner *p;
        int64_t macs0, macs1;
        assert_int_equal(ypr_model_macs(m, 320, 320, 1, &macs0), YPR_OK);
        int64_t params0 = ypr_model_num_params(m);
        assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
        assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
        assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_REPORT_SIZE, 320), YPR_OK);
        assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 8), YPR_OK);
        assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_STEPS, 2), YPR_OK);
        int64_t target = kind ? params0 / 2 : macs0 / 2;
        int key = kind ? YPR_PRUNE_TARGET_PARAMS : YPR_PRUNE_TARGET_MACS;
        assert_int_equal(ypr_pruner_set_int(p, key, kind ? params0 : macs0), YPR_ERANGE);
        assert_int_equal(ypr_pruner_set_int(p, key, target), YPR_OK);
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
        assert_int_equal(ypr_model_macs(m, 320, 320, 1, &macs1), YPR_OK);
        int64_t mid = kind ? ypr_model_num_params(m) : macs1;
        int64_t want_mid = kind ? params0 - (params0 - target) / 2 : macs0 - (macs0 - target) / 2;
        assert_true(mid <= want_mid && mid > want_mid * 8 / 10);   /* step 1 of 2: halfway */
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
        assert_int_equal(ypr_model_macs(m, 320, 320, 1, &macs1), YPR_OK);
        int64_t got = kind ? ypr_model_num_params(m) : macs1;
        assert_true(got <= target && got > target * 8 / 10);
        run_forward(m, 64);
        ypr_pruner_free(p);
        ypr_depgraph_free(g);
        ypr_model_free(m);
    }
}

/* DPU lanes: a pruned net with odd widths wastes lanes; round_to 16 wastes none
 * (except the image's 3 channels and the head's outputs, which are fixed). */
static void test_lane_report(void **state)
{
    (void)state;
    ypr_model *a = model("yolov7-tiny", 3), *b = model("yolov7-tiny", 3);
    prune_once(a, YPR_CRITERION_L2, 0.3, 1, 0, 1);
    prune_once(b, YPR_CRITERION_L2, 0.3, 16, 0, 1);
    ypr_depgraph *ga, *gb;
    assert_int_equal(ypr_depgraph_build(a, &ga), YPR_OK);
    assert_int_equal(ypr_depgraph_build(b, &gb), YPR_OK);
    char *ta, *tb;
    assert_int_equal(ypr_depgraph_lane_report(ga, 16, 320, &ta), YPR_OK);
    assert_int_equal(ypr_depgraph_lane_report(gb, 16, 320, &tb), YPR_OK);
    const char *la = strstr(ta, " convs waste lanes"), *lb = strstr(tb, " convs waste lanes");
    assert_non_null(la);
    assert_non_null(lb);
    while (la > ta && la[-1] != '\n') la--;
    while (lb > tb && lb[-1] != '\n') lb--;
    int wa = atoi(la), wb = atoi(lb);
    assert_true(wb <= 4);          /* model.0 (3 input channels) and the 3 head convs */
    assert_true(wa > wb + 10);
    ypr_free(ta);
    ypr_free(tb);
    assert_int_equal(ypr_depgraph_lane_report(ga, 0, 320, &ta), YPR_ERANGE);
    ypr_depgraph_free(ga);
    ypr_depgraph_free(gb);
    ypr_model_free(a);
    ypr_model_free(b);
}

static void outputs_equal(ypr_model *a, ypr_model *b)
{
    float *x = calloc(3 * 64 * 64, sizeof(float));
    for (int i = 0; i < 3 * 64 * 64; i++)
        x[i] = (float)(i % 29) / 29.0f;
    assert_int_equal(ypr_model_forward(a, x, 1, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_forward(b, x, 1, 64, 64), YPR_OK);
    for (int l = 0; l < ypr_model_num_levels(a); l++) {
        int64_t s[5];
        assert_int_equal(ypr_model_output(a, l, NULL, s), YPR_OK);
        size_t n = (size_t)(s[0] * s[1] * s[2] * s[3] * s[4]);
        float *ya = malloc(n * 4), *yb = malloc(n * 4);
        assert_int_equal(ypr_model_output(a, l, ya, s), YPR_OK);
        assert_int_equal(ypr_model_output(b, l, yb, s), YPR_OK);
        assert_memory_equal(ya, yb, n * 4);
        free(ya);
        free(yb);
    }
    free(x);
}

/* Back to YOLOv7: the written cfg + state_dict rebuild the pruned net
 * exactly (tests/data/check_yolov7_export.py checks the same files against
 * a PyTorch re-implementation). */
static void test_export_yolov7(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ypr_model *m = NULL, *back = NULL;
        assert_int_equal(ypr_model_from_cfg(k ? "yolov7" : "yolov7-tiny", 3, 0, k ? 0.25 : 0.5,
                                            1, &m), YPR_OK);
        ypr_depgraph *g;
        ypr_pruner *p;
        assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
        assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
        assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 8), YPR_OK);
        if (k)   /* SPPCSPC's inner widths stop following its formula */
            assert_int_equal(ypr_pruner_set_layer_ratio(p, "model.51.cv1*", 0.5), YPR_OK);
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
        assert_int_equal(ypr_model_export_yolov7(m, "export.yaml", "export.safetensors"), YPR_OK);
        assert_int_equal(ypr_model_from_cfg("export.yaml", 0, 0, 0, 9, &back), YPR_OK);
        assert_int_equal(ypr_model_load_weights(back, "export.safetensors", 1), YPR_OK);
        assert_int_equal(ypr_model_num_params(back), ypr_model_num_params(m));
        outputs_equal(m, back);
        if (k) {
            FILE *f = fopen("export.yaml", "r");
            char buf[16384];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            assert_null(strstr(buf, "SPPCSPC"));           /* written as primitives */
            assert_non_null(strstr(buf, "SP, [13]"));
        }
        ypr_pruner_free(p);
        ypr_depgraph_free(g);
        ypr_model_free(back);
        ypr_model_free(m);
    }
    /* widths YOLOv7 cannot express, and fused nets, are refused */
    ypr_model *m = model("yolov7-tiny", 3);
    prune_once(m, YPR_CRITERION_L2, 0.3, 1, 0, 1);
    assert_int_equal(ypr_model_export_yolov7(m, "bad.yaml", "bad.safetensors"), YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "multiples of 8"));
    ypr_model_free(m);
    m = model("yolov7-tiny", 3);
    assert_int_equal(ypr_model_fuse(m), YPR_OK);
    assert_int_equal(ypr_model_export_yolov7(m, "bad.yaml", "bad.safetensors"), YPR_EUNSUPPORTED);
    ypr_model_free(m);
}

/* Taylor with g = sign(w) scores |w|: it must cut exactly what L1 cuts. */
static void test_taylor_and_regularizers(void **state)
{
    (void)state;
    ypr_model *a = NULL, *b = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 3, 0, 0.25, 1, &a), YPR_OK);
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 3, 0, 0.25, 1, &b), YPR_OK);
    prune_once(a, YPR_CRITERION_L1, 0.4, 1, 0, 1);
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(b, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, YPR_CRITERION_TAYLOR), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.4), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_REDUCTION, YPR_REDUCE_MEAN), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_ESTATE);   /* no gradients yet */
    int nt = ypr_model_num_tensors(b);
    float **grads = calloc((size_t)nt, sizeof *grads);
    for (int i = 0; i < nt; i++) {
        int ndim;
        int64_t shape[6], n = 1;
        const float *w;
        assert_int_equal(ypr_model_tensor(b, i, NULL, &ndim, shape, &w), YPR_OK);
        for (int d = 0; d < ndim; d++)
            n *= shape[d];
        grads[i] = malloc((size_t)n * sizeof(float));
        for (int64_t k = 0; k < n; k++)
            grads[i][k] = w[k] >= 0 ? 0.5f : -0.5f;   /* two batches of 0.5 = sign(w) */
        assert_int_equal(ypr_pruner_add_gradient(p, i, grads[i], n), YPR_OK);
        assert_int_equal(ypr_pruner_add_gradient(p, i, grads[i], n), YPR_OK);
    }
    assert_int_equal(ypr_pruner_add_gradient(p, 0, grads[0], 1), YPR_ESHAPE);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    /* L1's normalization differs only by the per-member L1 vs |w·g| = |w|: same picks */
    outputs_equal(a, b);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);

    /* regularizers on a fresh model */
    ypr_model *m = model("yolov7-tiny", 3);
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    int nm = ypr_model_num_tensors(m);
    float **gr = calloc((size_t)nm, sizeof *gr);
    int64_t sizes[512];
    for (int i = 0; i < nm; i++) {
        int ndim;
        int64_t shape[6], n = 1;
        assert_int_equal(ypr_model_tensor(m, i, NULL, &ndim, shape, NULL), YPR_OK);
        for (int d = 0; d < ndim; d++)
            n *= shape[d];
        sizes[i] = n;
        gr[i] = calloc((size_t)n, sizeof(float));
    }
    int bn = test_tensor_index(m, "model.0.bn.weight"), cw = test_tensor_index(m, "model.0.conv.weight");
    assert_int_equal(ypr_pruner_regularize(p, gr, 0.1, YPR_REG_BN_L1), YPR_OK);
    for (int64_t k = 0; k < sizes[bn]; k++)
        assert_true(fabsf(gr[bn][k] - 0.1f) < 1e-7f);          /* γ = 1: λ·sign(γ) */
    for (int64_t k = 0; k < sizes[cw]; k++)
        assert_true(gr[cw][k] == 0.0f);                          /* convs untouched */
    for (int i = 0; i < nm; i++)
        memset(gr[i], 0, (size_t)sizes[i] * sizeof(float));
    assert_int_equal(ypr_pruner_regularize(p, gr, 0.1, YPR_REG_GROUP_NORM), YPR_OK);
    const float *w, *gamma;
    assert_int_equal(ypr_model_tensor(m, cw, NULL, NULL, NULL, &w), YPR_OK);
    assert_int_equal(ypr_model_tensor(m, bn, NULL, NULL, NULL, &gamma), YPR_OK);
    int64_t per = sizes[cw] / sizes[bn];
    for (int64_t k = 0; k < sizes[bn]; k++) {
        double ratio = gr[bn][k] / gamma[k];                     /* λ / ‖channel k‖ */
        assert_true(ratio > 0);
        for (int64_t t = 0; t < per; t++)
            if (fabsf(w[k * per + t]) > 1e-3f)
                assert_true(fabs(gr[cw][k * per + t] / w[k * per + t] - ratio) < 1e-3 * ratio);
    }
    assert_int_equal(ypr_pruner_regularize(p, gr, -1, YPR_REG_BN_L1), YPR_ERANGE);
    for (int i = 0; i < nm; i++)
        free(gr[i]);
    free(gr);
    for (int i = 0; i < nt; i++)
        free(grads[i]);
    free(grads);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    ypr_model_free(a);
    ypr_model_free(b);
}

/* ------------------------------------------- Torch-Pruning's rules, by hand */

/* Three groups of 16 channels (model.0, model.1, model.2, each a conv and a
 * BatchNorm) feeding a Detect whose conv is ignored. With the BatchNorm-scale
 * criterion a channel's score is |γ| / mean |γ| of its group, so the
 * choices below are worked out by hand from the γ set here:
 *   A (model.0): channels 0..4 small (0.01..0.05), 5..15 = 1.0, 1.1, …, 2.0
 *   B (model.1): channels 3, 7, 11 small (0.06, 0.07, 0.08), the others
 *                1.0, 1.1, …, 2.2 in channel order
 *   C (model.2): channels 0..8 small (0.01..0.09), 9..15 = 1.0 … 1.6
 * Every small normalized score is below 0.2 and every large one above 0.7,
 * so a threshold among the 17 small ones depends on nothing else. */
static const char three_cfg[] =
    "nc: 1\ndepth_multiple: 1.0\nwidth_multiple: 1.0\n"
    "anchors:\n  - [10,13, 16,30, 33,23]\n"
    "backbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Conv, [16, 3, 2]],\n"
    "   [-1, 1, Conv, [16, 1, 1]],\n  ]\n"
    "head:\n  [[[2], 1, Detect, [nc, anchors]],\n  ]\n";

static float gammas[3][16];

static ypr_model *three_groups(void)
{
    for (int k = 0, big = 0; k < 16; k++) {
        gammas[0][k] = k < 5 ? 0.01f * (float)(k + 1) : 1.0f + 0.1f * (float)(k - 5);
        gammas[1][k] = k == 3 ? 0.06f : k == 7 ? 0.07f : k == 11 ? 0.08f : 1.0f + 0.1f * (float)big++;
        gammas[2][k] = k < 9 ? 0.01f * (float)(k + 1) : 1.0f + 0.1f * (float)(k - 9);
    }
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg_text(three_cfg, strlen(three_cfg), 0, 1, &m), YPR_OK);
    for (int l = 0; l < 3; l++) {
        char name[64];
        snprintf(name, sizeof name, "model.%d.bn.weight", l);
        assert_int_equal(ypr_model_set_tensor(m, test_tensor_index(m, name), gammas[l], 16), YPR_OK);
    }
    return m;
}

/* The original channels layer l's BatchNorm kept must be exactly `want`. */
static void expect_kept(ypr_model *m, int l, const int *want, int nwant)
{
    char name[64];
    snprintf(name, sizeof name, "model.%d.bn.weight", l);
    int64_t shape[6];
    const float *g;
    assert_int_equal(ypr_model_tensor(m, test_tensor_index(m, name), NULL, NULL, shape, &g), YPR_OK);
    assert_int_equal(shape[0], nwant);
    for (int k = 0; k < nwant; k++)
        assert_true(g[k] == gammas[l][want[k]]);
}

static ypr_pruner *bn_pruner(ypr_model *m, ypr_depgraph **g, double ratio, int round_to, int global)
{
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, g), YPR_OK);
    assert_int_equal(ypr_pruner_create(*g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, YPR_CRITERION_BN_SCALE), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, ratio), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, round_to), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_GLOBAL, global), YPR_OK);
    assert_int_equal(ypr_pruner_ignore(p, "model.3.m.*"), YPR_OK);
    return p;
}

static const int all16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const int top8[8] = {8, 9, 10, 11, 12, 13, 14, 15};
static const int b_top8[8] = {6, 8, 9, 10, 12, 13, 14, 15};   /* B's 8 largest */

/* Global at 0.35 over 48 channels: n = 48 − ⌊48 · 0.65⌋ = 17 channels score
 * at most the threshold (the 17 small ones: 5 of A, 3 of B, 9 of C). */
static void test_global_threshold_and_round_to(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {   /* round_to 8; 8 clamped; 1 */
        ypr_model *m = three_groups();
        ypr_depgraph *g;
        ypr_pruner *p = bn_pruner(m, &g, 0.35, mode == 2 ? 1 : 8, 1);
        if (mode == 1)
            assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CLAMP_WIDTHS, 1), YPR_OK);
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
        if (mode < 2) {
            /* A keeps 16 − 5 = 11, rounded DOWN to 8: its 8 best; B keeps 13 → 8 */
            expect_kept(m, 0, top8, 8);
            expect_kept(m, 1, b_top8, 8);
            /* C keeps 7 → 0: Torch-Pruning leaves it whole; clamped, it keeps 8 */
            if (mode == 0)
                expect_kept(m, 2, all16, 16);
            else
                expect_kept(m, 2, top8, 8);
        } else {
            static const int a[11] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
            static const int b[13] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15};
            static const int c[7] = {9, 10, 11, 12, 13, 14, 15};
            expect_kept(m, 0, a, 11);
            expect_kept(m, 1, b, 13);
            expect_kept(m, 2, c, 7);
        }
        ypr_pruner_free(p);
        ypr_depgraph_free(g);
        ypr_model_free(m);
    }
}

/* Two global steps to 0.7, max_layer_ratio 0.4, round_to 1. Step 1 (0.35)
 * is the one above. Step 2: C (7 < 16 · 0.6) no longer takes part; A (11
 * left, γ 1.0..2.0, mean 1.5) and B (13 left, 1.0..2.2, mean 1.6) share
 * n = 24 − ⌊48 · 0.3⌋ = 10 removals (48: the channels ranked at the first
 * step). The 10 smallest of γ/1.5 and γ/1.6 are γ ≤ 1.4 in both (1.4/1.5 =
 * 0.933 < 1.5/1.6 = 0.9375): each loses 5, A ending at 6 of 16 — within a
 * step the ratio is not capped, as in Torch-Pruning. */
static void test_global_steps_and_max_layer_ratio(void **state)
{
    (void)state;
    ypr_model *m = three_groups();
    ypr_depgraph *g;
    ypr_pruner *p = bn_pruner(m, &g, 0.7, 1, 1);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_MAX_LAYER_RATIO, 0.4), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    static const int a[6] = {10, 11, 12, 13, 14, 15};
    static const int c[7] = {9, 10, 11, 12, 13, 14, 15};
    expect_kept(m, 0, a, 6);
    expect_kept(m, 1, b_top8, 8);
    expect_kept(m, 2, c, 7);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
}

/* A per-layer ratio makes its own ranking scope. C alone at 0.5: its 8
 * lowest go. A and B at 0.35: n = 32 − ⌊32 · 0.65⌋ = 12. Means: A 16.65/16
 * = 1.0406, B 21.01/16 = 1.3131; the 4 smallest large scores are B's
 * 1.0, 1.1, 1.2 (0.762, 0.838, 0.914) and A's 1.0 (0.961; B's 1.3 is 0.990). */
static void test_global_layer_ratio_scope(void **state)
{
    (void)state;
    ypr_model *m = three_groups();
    ypr_depgraph *g;
    ypr_pruner *p = bn_pruner(m, &g, 0.35, 1, 1);
    assert_int_equal(ypr_pruner_set_layer_ratio(p, "model.2.*", 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    static const int a[10] = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const int b[10] = {4, 5, 6, 8, 9, 10, 12, 13, 14, 15};
    expect_kept(m, 0, a, 10);
    expect_kept(m, 1, b, 10);
    expect_kept(m, 2, top8, 8);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
}

/* Local at 0.6, round_to 8: every group keeps ⌊16 · 0.4⌋ = 6 → 0 after
 * rounding. Torch-Pruning then leaves every group whole; clamped, each keeps
 * its 8 best (C: the 7 large ones and 0.09). */
static void test_local_group_pruned_to_nothing(void **state)
{
    (void)state;
    for (int clamp = 0; clamp < 2; clamp++) {
        ypr_model *m = three_groups();
        int64_t before = ypr_model_num_params(m);
        ypr_depgraph *g;
        ypr_pruner *p = bn_pruner(m, &g, 0.6, 8, 0);
        assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CLAMP_WIDTHS, clamp), YPR_OK);
        assert_int_equal(ypr_pruner_step(p), YPR_OK);
        if (!clamp) {
            assert_int_equal(ypr_model_num_params(m), before);
            for (int l = 0; l < 3; l++)
                expect_kept(m, l, all16, 16);
        } else {
            expect_kept(m, 0, top8, 8);
            expect_kept(m, 1, b_top8, 8);
            expect_kept(m, 2, top8, 8);
        }
        ypr_pruner_free(p);
        ypr_depgraph_free(g);
        ypr_model_free(m);
    }
}

/* A copy of every tensor of m, to check later that nothing changed. */
typedef struct snapshot { int n; char **names; float **data; int64_t *numel; } snapshot;

static snapshot take_snapshot(const ypr_model *m)
{
    snapshot s = {ypr_model_num_tensors(m), NULL, NULL, NULL};
    s.names = calloc((size_t)s.n, sizeof *s.names);
    s.data = calloc((size_t)s.n, sizeof *s.data);
    s.numel = calloc((size_t)s.n, sizeof *s.numel);
    assert_true(s.names && s.data && s.numel);
    for (int i = 0; i < s.n; i++) {
        const char *name;
        int ndim;
        int64_t shape[6], n = 1;
        const float *d;
        assert_int_equal(ypr_model_tensor(m, i, &name, &ndim, shape, &d), YPR_OK);
        for (int k = 0; k < ndim; k++)
            n *= shape[k];
        s.numel[i] = n;
        s.names[i] = malloc(strlen(name) + 1);
        strcpy(s.names[i], name);
        s.data[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
        memcpy(s.data[i], d, (size_t)n * sizeof(float));
    }
    return s;
}

/* Every tensor (name, size and bits) is what the snapshot holds; frees it. */
static void assert_unchanged(const ypr_model *m, snapshot *s)
{
    assert_int_equal(ypr_model_num_tensors(m), s->n);
    for (int i = 0; i < s->n; i++) {
        const char *name;
        int ndim;
        int64_t shape[6], n = 1;
        const float *d;
        assert_int_equal(ypr_model_tensor(m, i, &name, &ndim, shape, &d), YPR_OK);
        for (int k = 0; k < ndim; k++)
            n *= shape[k];
        assert_string_equal(name, s->names[i]);
        assert_int_equal(n, s->numel[i]);
        assert_memory_equal(d, s->data[i], (size_t)n * sizeof(float));
        free(s->names[i]);
        free(s->data[i]);
    }
    free(s->names);
    free(s->data);
    free(s->numel);
}

static int calls;
static int count_progress(void *user, int64_t done, int64_t total)
{
    (void)user;
    calls++;
    return done > total;   /* never cancels unless broken */
}

static void test_sensitivity(void **state)
{
    (void)state;
    /* Quick scope (sanitizers, qemu): 32-pixel images, a quarter of the work. */
    const int sz = test_quick() ? 32 : 64;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(2, sz, 3, 5, &ds), YPR_OK);
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 3, 0, 0.25, 1, &m), YPR_OK);
    int64_t macs0, params0 = ypr_model_num_params(m);
    assert_int_equal(ypr_model_macs(m, sz, sz, 1, &macs0), YPR_OK);
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_plot_sensitivity(p, "sensitivity.png"), YPR_ESTATE);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_REPORT_SIZE, sz), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_TARGET_MACS, macs0 * 7 / 10), YPR_OK);
    const double ratios[2] = {0.25, 0.5};
    char *json = NULL;
    calls = 0;
    snapshot before = take_snapshot(m);
    assert_int_equal(ypr_pruner_sensitivity(p, ds, sz, 2, ratios, 2, count_progress, NULL, &json),
                     YPR_OK);
    assert_true(calls > 20);
    assert_non_null(strstr(json, "\"base_map50\":"));
    assert_non_null(strstr(json, "\"planned_ratio\":0.5"));
    assert_int_equal(ypr_model_num_params(m), params0);
    assert_unchanged(m, &before);                          /* the analysis changes nothing */
    ypr_free(json);
    assert_int_equal(ypr_pruner_plot_sensitivity(p, "sensitivity.png"), YPR_OK);
    uint8_t *rgb;
    int pw, ph;
    assert_int_equal(ypr_image_load("sensitivity.png", &rgb, &pw, &ph), YPR_OK);
    assert_true(pw > 100 && ph > 300);
    ypr_free(rgb);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);          /* follows the plan */
    int64_t macs1;
    assert_int_equal(ypr_model_macs(m, sz, sz, 1, &macs1), YPR_OK);
    assert_true(macs1 <= macs0 * 7 / 10 + macs0 / 20);       /* additive estimate: ~budget */
    assert_true(macs1 < macs0);
    run_forward(m, sz);
    const double bad[2] = {0.5, 0.25};
    assert_int_equal(ypr_pruner_sensitivity(p, ds, sz, 2, bad, 2, NULL, NULL, &json), YPR_ERANGE);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    ypr_dataset_free(ds);
}

/* An iterative pruning interrupted after step 1 of 2 goes on in a new
 * pruner from its saved state: the same settings, progress and schedule. */
static void test_save_and_load_state(void **state)
{
    (void)state;
    ypr_model *m = model("yolov7-tiny", 3);
    ypr_depgraph *g, *g2;
    ypr_pruner *p, *q;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 8), YPR_OK);
    assert_int_equal(ypr_pruner_ignore(p, "model.77.m.*"), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    char *saved;
    assert_int_equal(ypr_pruner_save_state(p, &saved), YPR_OK);
    /* a fresh default pruner on the half-pruned model takes it over */
    assert_int_equal(ypr_depgraph_build(m, &g2), YPR_OK);
    assert_int_equal(ypr_pruner_create(g2, &q), YPR_OK);
    assert_int_equal(ypr_pruner_load_state(q, "{\"step\":1}"), YPR_EFORMAT);
    assert_int_equal(ypr_pruner_load_state(q, "not json"), YPR_EFORMAT);
    assert_int_equal(ypr_pruner_steps_done(q), 0);          /* failed loads changed nothing */
    assert_int_equal(ypr_pruner_load_state(q, saved), YPR_OK);
    assert_int_equal(ypr_pruner_steps_done(q), 1);
    char *again;
    assert_int_equal(ypr_pruner_save_state(q, &again), YPR_OK);
    assert_string_equal(again, saved);
    /* its second step cuts what an uninterrupted two-step run cuts */
    ypr_model *twin = model("yolov7-tiny", 3);
    ypr_depgraph *gt;
    ypr_pruner *pt;
    assert_int_equal(ypr_depgraph_build(twin, &gt), YPR_OK);
    assert_int_equal(ypr_pruner_create(gt, &pt), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(pt, YPR_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(pt, YPR_PRUNE_RATIO, 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(pt, YPR_PRUNE_ROUND_TO, 8), YPR_OK);
    assert_int_equal(ypr_pruner_ignore(pt, "model.77.m.*"), YPR_OK);
    assert_int_equal(ypr_pruner_step(pt), YPR_OK);
    assert_int_equal(ypr_pruner_step(pt), YPR_OK);
    int64_t half = ypr_model_num_params(m);
    assert_int_equal(ypr_pruner_step(q), YPR_OK);
    assert_int_equal(ypr_pruner_step(q), YPR_ESTATE);   /* both steps done */
    assert_true(ypr_model_num_params(m) < half);
    assert_int_equal(ypr_model_num_params(m), ypr_model_num_params(twin));
    const float *grad;
    assert_int_equal(ypr_pruner_gradient(q, 0, &grad), YPR_OK);
    assert_null(grad);
    assert_int_equal(ypr_pruner_gradient(q, -1, &grad), YPR_ERANGE);
    ypr_free(saved);
    ypr_free(again);
    ypr_pruner_free(pt);
    ypr_depgraph_free(gt);
    ypr_model_free(twin);
    ypr_pruner_free(q);
    ypr_pruner_free(p);
    ypr_depgraph_free(g2);
    ypr_depgraph_free(g);
    ypr_model_free(m);
}

static void test_bad_input(void **state)
{
    (void)state;
    ypr_model *m = model("yolov7-tiny", 3);
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 1.0), YPR_ERANGE);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, -0.1), YPR_ERANGE);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 0), YPR_ERANGE);
    assert_int_equal(ypr_pruner_set_int(p, 9999, 1), YPR_EINVAL);
    int64_t before = ypr_model_num_params(m);
    snapshot snap = take_snapshot(m);
    int64_t bad[2] = {3, 3};
    assert_int_equal(ypr_depgraph_prune_group(g, 1, bad, 2), YPR_EINVAL);     /* duplicate */
    int64_t c;
    int pr;
    assert_int_equal(ypr_depgraph_group_info(g, 1, &c, &pr), YPR_OK);
    int64_t *all = malloc((size_t)c * sizeof *all);
    for (int64_t i = 0; i < c; i++)
        all[i] = i;
    assert_int_equal(ypr_depgraph_prune_group(g, 1, all, c), YPR_ERANGE);     /* nothing left */
    assert_int_equal(ypr_depgraph_prune_group(g, 0, all, 1), YPR_EINVAL);     /* the image */
    assert_non_null(strstr(ypr_last_error(), "image"));
    assert_int_equal(ypr_model_num_params(m), before);                         /* untouched */
    assert_unchanged(m, &snap);
    free(all);
    /* a graph is refused once the model changed behind it */
    assert_int_equal(ypr_model_fuse(m), YPR_OK);
    assert_int_equal(ypr_depgraph_num_groups(g), YPR_ESTATE);
    assert_int_equal(ypr_pruner_step(p), YPR_ESTATE);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
}

int main(void)
{
    test_threads_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_figures),
        cmocka_unit_test(test_every_criterion),
        cmocka_unit_test(test_criteria_choose_different_channels),
        cmocka_unit_test(test_round_to_global_steps),
        cmocka_unit_test(test_checkpoint_and_report),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_lane_report),
        cmocka_unit_test(test_sensitivity),
        cmocka_unit_test(test_export_yolov7),
        cmocka_unit_test(test_taylor_and_regularizers),
        cmocka_unit_test(test_global_threshold_and_round_to),
        cmocka_unit_test(test_global_steps_and_max_layer_ratio),
        cmocka_unit_test(test_global_layer_ratio_scope),
        cmocka_unit_test(test_local_group_pruned_to_nothing),
        cmocka_unit_test(test_save_and_load_state),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests_name("pruner", tests, NULL, NULL);
}
