/* Detection metrics: hand-worked AP cases for both modes, difficult boxes,
 * the confusion matrix, agreement with an independent NumPy
 * re-implementation (tests/data/make_eval_fixture.py) on random data, the
 * table, JSON, plots and bad input; the model copy and the decode with
 * explicit thresholds the evaluator relies on. White-box. Pictures are
 * written in the working directory (the build's tests/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/core/json.h"
#include "lib/eval/eval.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

static ypr_eval_acc *mk(int nc, int mode)
{
    ypr_eval_acc *acc = NULL;
    assert_int_equal(ypr__eval_create(nc, mode, &acc), YPR_OK);
    assert_non_null(acc);
    return acc;
}

static void add(ypr_eval_acc *acc, const float *dets, int ndet, const float *gts, int ngt)
{
    assert_int_equal(ypr__eval_add(acc, dets, ndet, gts, ngt), YPR_OK);
}

static void compute(const ypr_eval_acc *acc, ypr_eval_result *res)
{
    assert_int_equal(ypr__eval_compute(acc, res), YPR_OK);
    assert_non_null(res->per_class);
    assert_non_null(res->pr_curves);
    assert_non_null(res->confusion);
}

#define assert_near(a, b, tol)                                                     \
    do {                                                                           \
        double a_ = (a), b_ = (b);                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                             \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_,      \
                     (double)(tol));                                               \
    } while (0)

#define TOL 1e-12

/* ------------------------------------------------- hand-worked AP cases */

/* One class, four boxes over two images, five detections (given out of
 * order: the library sorts by confidence):
 *   conf 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP, 0.5 TP; one box never found.
 * tp cum 1 1 2 2 3, fp cum 0 1 1 2 2
 * recall    0.25 0.25 0.5  0.5 0.75
 * precision 1    0.5  2/3  0.5 0.6
 * YOLOv7: mrec = [0, .25, .25, .5, .5, .75, .76], mpre = [1, 1, .5, 2/3, .5,
 * .6, 0] → envelope [1, 1, 2/3, 2/3, .6, .6, 0]. np.interp reads, at x equal
 * to a repeated recall, the last of the repeats, so on x = 0, .01, ..., 1:
 * y = 1 for x ≤ .24 (25 points), 2/3 for .25..49 (25), .6 for .50..75 (26),
 * 0 from .76 on. Trapezoids of width .01: 24·.01 + (1 + 2/3)/2·.01 +
 * 24·(2/3)·.01 + (2/3 + .6)/2·.01 + 25·.6·.01 + (.6 + 0)/2·.01
 * = .24 + 1/120 + .16 + 19/3000 + .15 + .003 = 1703/3000 = 0.567667.
 * COCO: envelope [1, 2/3, 2/3, .6, .6]; recall point rt reads the first
 * recall ≥ rt: 1 for rt ≤ .25 (26 points), 2/3 for .26..50 (25), .6 for
 * .51..75 (25), 0 above (25): (26 + 50/3 + 15)/101 = 173/303 = 0.570957.
 * Exact boxes, so every threshold agrees: mAP@.5:.95 = mAP@.5.
 * P and R: f1 is 2·.6·.75/1.35 = 2/3 for every confidence ≤ 0.5 (past the
 * last detection p and r hold their last values) and lower elsewhere, so
 * the first grid point wins: best conf 0, P 0.6, R 0.75. */
static void run_known_curve(int mode, double want_ap)
{
    ypr_eval_acc *acc = mk(1, mode);
    const float gts_a[] = { 0, 0, 0, 10, 10, 0,   0, 20, 0, 30, 10, 0 };
    const float dets_a[] = { 200, 200, 210, 210, 0.6f, 0,     /* FP */
                             20, 0, 30, 10, 0.7f, 0,          /* TP */
                             0, 0, 10, 10, 0.9f, 0 };         /* TP */
    const float gts_b[] = { 0, 40, 0, 50, 10, 0,   0, 60, 0, 70, 10, 0 };
    const float dets_b[] = { 40, 0, 50, 10, 0.5f, 0,          /* TP */
                             100, 100, 110, 110, 0.8f, 0 };   /* FP */
    add(acc, dets_a, 3, gts_a, 2);
    add(acc, dets_b, 2, gts_b, 2);
    ypr_eval_result res;
    compute(acc, &res);
    assert_int_equal(res.nc, 1);
    assert_int_equal(res.images, 2);
    assert_int_equal(res.all.images, 2);
    assert_int_equal(res.all.labels, 4);
    assert_int_equal(res.per_class[0].labels, 4);
    assert_int_equal(res.per_class[0].images, 2);
    assert_near(res.per_class[0].ap50, want_ap, TOL);
    assert_near(res.per_class[0].ap, want_ap, TOL);
    assert_near(res.all.ap50, want_ap, TOL);
    assert_near(res.all.ap, want_ap, TOL);
    assert_near(res.per_class[0].p, 0.6, TOL);
    assert_near(res.per_class[0].r, 0.75, TOL);
    assert_near(res.all.p, 0.6, TOL);
    assert_near(res.all.r, 0.75, TOL);
    assert_near(res.best_conf, 0.0, 0);
    /* the PR curve is the envelope: 1 at recall 0, 2/3 at 0.4, 0.6 at 0.7,
     * 0 past 0.76 (grid point i is recall i/999) */
    assert_near(res.pr_curves[0], 1.0, 1e-7);
    assert_near(res.pr_curves[400], 2.0 / 3.0, 1e-7);
    assert_near(res.pr_curves[700], 0.6, 1e-7);
    assert_near(res.pr_curves[800], 0.0, 1e-7);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);
}

static void test_known_curve_yolov7(void **state)
{
    (void)state;
    run_known_curve(YPR_METRIC_YOLOV7, 1703.0 / 3000.0);
}

static void test_known_curve_coco(void **state)
{
    (void)state;
    run_known_curve(YPR_METRIC_COCO, 173.0 / 303.0);
}

/* One box [0,0,100,100], one detection [0,0,100,72]: IoU 0.72, correct at
 * 0.50..0.70 (5 thresholds) and wrong above. A lone correct detection has
 * AP 1 in both modes (YOLOv7: the envelope is 1 on [0, 1]; COCO: all 101
 * points read 1/(1+eps)), a lone wrong one AP 0: mAP@.5 1, mAP@.5:.95 0.5.
 * Then IoU exactly 0.5 ([0,0,100,50]): YOLOv7 needs IoU > 0.5 (FP, and
 * nothing correct at all → every number 0), COCO IoU ≥ 0.5 (TP at 0.5
 * only: AP@.5 1, mAP 0.1). */
static void test_iou_levels(void **state)
{
    (void)state;
    const float gt[] = { 0, 0, 0, 100, 100, 0 };
    const float d72[] = { 0, 0, 100, 72, 0.9f, 0 };
    const float d50[] = { 0, 0, 100, 50, 0.9f, 0 };
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(1, mode);
        add(acc, d72, 1, gt, 1);
        ypr_eval_result res;
        compute(acc, &res);
        assert_near(res.all.ap50, 1.0, TOL);
        assert_near(res.all.ap, 0.5, TOL);
        assert_near(res.all.p, 1.0, TOL);
        assert_near(res.all.r, 1.0, TOL);
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);

        acc = mk(1, mode);
        add(acc, d50, 1, gt, 1);
        compute(acc, &res);
        if (mode == YPR_METRIC_YOLOV7) {
            assert_near(res.all.ap50, 0.0, 0);
            assert_near(res.all.ap, 0.0, 0);
            assert_near(res.all.p, 0.0, 0);
            assert_near(res.all.r, 0.0, 0);
        } else {
            assert_near(res.all.ap50, 1.0, TOL);
            assert_near(res.all.ap, 0.1, TOL);
        }
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }
}

/* One box, two detections on it: conf 0.875 exact (IoU 1), conf 0.75 with
 * IoU 0.9. The second is a duplicate: FP in both modes.
 * recall [1, 1], precision [1, .5].
 * YOLOv7: mrec [0, 1, 1, 1.01], envelope [1, 1, .5, 0]; x < 1 reads 1, x = 1
 * reads the last repeat, .5: AP = .99 + (1 + .5)/2·.01 = 0.9975 at every
 * threshold. COCO: envelope [1, .5]; every recall point's first recall ≥ it
 * is the first detection: AP 1.
 * P/R: p falls linearly from 1 at conf .875 to .5 at .75 (slope 4 per unit
 * conf), r = 1 below .875 and 0 above, so f1 = 2p/(p+1) peaks at the last
 * grid point below .875: i = 874, conf 874/999, p = 1 − 4·(.875 − 874/999). */
static void test_duplicates(void **state)
{
    (void)state;
    const float gt[] = { 0, 0, 0, 100, 100, 0 };
    const float dets[] = { 0, 0, 100, 90, 0.75f, 0,  0, 0, 100, 100, 0.875f, 0 };
    const double want_p = 1.0 - 4.0 * (0.875 - 874.0 / 999.0);
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(1, mode);
        add(acc, dets, 2, gt, 1);
        ypr_eval_result res;
        compute(acc, &res);
        double want = mode == YPR_METRIC_YOLOV7 ? 0.9975 : 1.0;
        assert_near(res.all.ap50, want, TOL);
        assert_near(res.all.ap, want, TOL);
        assert_near(res.best_conf, 874.0 / 999.0, TOL);
        assert_near(res.all.p, want_p, 1e-9);
        assert_near(res.all.r, 1.0, TOL);
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }
}

/* Two classes with one box each; only class 0 is detected (exactly).
 * Class 1 has labels and no predictions: AP 0, P 0, R 0, and it still
 * counts in the means: mAP 0.5, mean P 0.5, mean R 0.5. */
static void test_no_predictions(void **state)
{
    (void)state;
    const float gts[] = { 0, 0, 0, 10, 10, 0,   1, 20, 20, 40, 40, 0 };
    const float det[] = { 0, 0, 10, 10, 0.9f, 0 };
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(2, mode);
        add(acc, det, 1, gts, 2);
        ypr_eval_result res;
        compute(acc, &res);
        assert_near(res.per_class[0].ap50, 1.0, TOL);
        assert_near(res.per_class[1].ap50, 0.0, 0);
        assert_near(res.per_class[1].ap, 0.0, 0);
        assert_near(res.per_class[1].p, 0.0, 0);
        assert_near(res.per_class[1].r, 0.0, 0);
        assert_int_equal(res.per_class[1].labels, 1);
        assert_near(res.all.ap50, 0.5, TOL);
        assert_near(res.all.ap, 0.5, TOL);
        assert_near(res.all.p, 0.5, TOL);
        assert_near(res.all.r, 0.5, TOL);
        for (int i = 0; i < 1000; i++)
            assert_true(res.pr_curves[1000 + i] == 0.0f);
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }

    /* no detections at all, anywhere */
    ypr_eval_acc *acc = mk(2, YPR_METRIC_YOLOV7);
    add(acc, NULL, 0, gts, 2);
    ypr_eval_result res;
    compute(acc, &res);
    assert_near(res.all.ap50, 0.0, 0);
    assert_near(res.all.ap, 0.0, 0);
    assert_int_equal(res.all.labels, 2);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);
}

/* Three classes; class 2 is predicted but never labelled, so it is left
 * out of every mean. Image A: class 0 and class 1 boxes found exactly
 * (class-2 detections on top of them are simply class-2 FPs). Image B has
 * no labels and a class-0 detection at conf 0.95, ranked first: class 0
 * recall [0, 1], precision [0, .5]. YOLOv7: mrec [0, 0, 1, 1.01], envelope
 * [1, .5, .5, 0]: x = 0 reads the last repeat (.5), every x ≤ 1 reads .5,
 * AP .5. COCO: envelope [.5, .5], every point .5. Class 1: AP 1. mAP .75.
 * The same data without the class-2 detections gives the same means. */
static void test_no_labels(void **state)
{
    (void)state;
    const float gts[] = { 0, 0, 0, 10, 10, 0,   1, 20, 20, 40, 40, 0 };
    const float dets_a[] = { 0, 0, 10, 10, 0.9f, 0,   20, 20, 40, 40, 0.8f, 1,
                             0, 0, 10, 10, 0.85f, 2,  20, 20, 40, 40, 0.3f, 2 };
    const float dets_b[] = { 5, 5, 50, 50, 0.95f, 0 };
    for (int mode = 0; mode < 2; mode++) {
        double means[2][4];
        for (int with2 = 0; with2 < 2; with2++) {
            ypr_eval_acc *acc = mk(3, mode);
            add(acc, dets_a, with2 ? 4 : 2, gts, 2);
            add(acc, dets_b, 1, NULL, 0);
            ypr_eval_result res;
            compute(acc, &res);
            assert_int_equal(res.per_class[2].labels, 0);
            assert_int_equal(res.per_class[2].images, 0);
            assert_near(res.per_class[2].ap50, 0.0, 0);
            assert_near(res.per_class[0].ap50, 0.5, TOL);
            assert_near(res.per_class[1].ap50, 1.0, TOL);
            assert_near(res.all.ap50, 0.75, TOL);
            assert_near(res.all.ap, 0.75, TOL);
            assert_int_equal(res.all.images, 2);
            assert_int_equal(res.all.labels, 2);
            means[with2][0] = res.all.p;
            means[with2][1] = res.all.r;
            means[with2][2] = res.all.ap50;
            means[with2][3] = res.all.ap;
            char *table = ypr__eval_table(&res, NULL);
            assert_non_null(table);
            assert_non_null(strstr(table, "\n                   0"));
            assert_non_null(strstr(table, "\n                   1"));
            assert_null(strstr(table, "\n                   2"));   /* no labels, no row */
            free(table);
            ypr__eval_result_free(&res);
            ypr__eval_free(acc);
        }
        for (int k = 0; k < 4; k++)
            assert_near(means[1][k], means[0][k], 0);
    }
}

/* A crowded image: 100 touching 40x40 boxes on a 10x10 grid, each found
 * exactly (conf 0.9 down to 0.504), plus a second detection of each shifted
 * 10 px right (conf 0.4 down to 0.093): IoU 30/50 = 0.6 with its own box
 * (taken) and 10/70 with the neighbour, so every one is an FP in both modes.
 * Recall reaches 1 with precision 1, then precision falls to .5: as in the
 * duplicate case YOLOv7's last sample at recall 1 reads the final envelope
 * value .5: AP = .99 + .0075 = .9975 at every threshold; COCO AP 1.
 * Confusion (conf > .25, IoU > .45): 100 matched; the shifted detections
 * above .25 (k ≤ 48: 0.4 − 0.0031k > 0.25) all lose their box to the exact
 * one and count as background. */
static void test_crowded(void **state)
{
    (void)state;
    float gts[100 * 6], dets[200 * 6];
    for (int k = 0; k < 100; k++) {
        float x = (float)(40 * (k % 10)), y = (float)(40 * (k / 10));
        float g[6] = { 0, x, y, x + 40, y + 40, 0 };
        float e[6] = { x, y, x + 40, y + 40, 0.5f + (100 - k) * 0.004f, 0 };
        float s[6] = { x + 10, y, x + 50, y + 40, 0.4f - k * 0.0031f, 0 };
        memcpy(gts + 6 * k, g, sizeof g);
        /* interleave: the library must sort */
        memcpy(dets + 12 * k, s, sizeof s);
        memcpy(dets + 12 * k + 6, e, sizeof e);
    }
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(1, mode);
        add(acc, dets, 200, gts, 100);
        ypr_eval_result res;
        compute(acc, &res);
        double want = mode == YPR_METRIC_YOLOV7 ? 0.9975 : 1.0;
        assert_near(res.all.ap50, want, TOL);
        assert_near(res.all.ap, want, TOL);
        assert_int_equal(res.all.labels, 100);
        assert_int_equal(res.confusion[0 * 2 + 0], 100);
        assert_int_equal(res.confusion[0 * 2 + 1], 49);
        assert_int_equal(res.confusion[1 * 2 + 0], 0);
        assert_int_equal(res.confusion[1 * 2 + 1], 0);
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }
}

/* Where YOLOv7's single best-box assignment and COCO's per-threshold
 * matching disagree. Boxes g1 [0,0,100,100], g2 [20,0,120,100]; detection
 * d1 = g1 (conf .9), d2 [5,0,105,100] (conf .8): IoU(d2, g1) = 9500/10500
 * = .905, IoU(d2, g2) = 8500/11500 = .739.
 * YOLOv7: d2's best box g1 is taken → FP, never tries g2. recall [.5, .5],
 * precision [1, .5]; mrec [0, .5, .5, .51], envelope [1, 1, .5, 0]: x ≤ .49
 * reads 1, x = .5 reads .5, x = .51 reads 0: AP = .49 + .0075 + .0025 = .5
 * at every threshold; mAP@.5 .5, mAP@.5:.95 .5.
 * COCO: d2 takes g2 at t = .50..70 (AP 1 at five thresholds); at .75..95
 * only d1 matches: recall [.5, .5], precision [1, .5] → points 0...50 read
 * 1, the rest 0: 51/101. mAP = (5 + 5·51/101)/10 = 760/1010. */
static void test_yolov7_vs_coco(void **state)
{
    (void)state;
    const float gts[] = { 0, 0, 0, 100, 100, 0,   0, 20, 0, 120, 100, 0 };
    const float dets[] = { 0, 0, 100, 100, 0.9f, 0,   5, 0, 105, 100, 0.8f, 0 };
    ypr_eval_result r7, rc;
    ypr_eval_acc *acc = mk(1, YPR_METRIC_YOLOV7);
    add(acc, dets, 2, gts, 2);
    compute(acc, &r7);
    ypr__eval_free(acc);
    acc = mk(1, YPR_METRIC_COCO);
    add(acc, dets, 2, gts, 2);
    compute(acc, &rc);
    ypr__eval_free(acc);
    assert_near(r7.all.ap50, 0.5, TOL);
    assert_near(r7.all.ap, 0.5, TOL);
    assert_near(rc.all.ap50, 1.0, TOL);
    assert_near(rc.all.ap, 760.0 / 1010.0, TOL);
    /* P/R at IoU .5: YOLOv7 finds half the boxes, COCO both */
    assert_near(r7.all.r, 0.5, TOL);
    assert_near(rc.all.r, 1.0, TOL);
    ypr__eval_result_free(&r7);
    ypr__eval_result_free(&rc);
}

/* The order of YOLOv7's greedy pass: test.py walks the predictions in the
 * order NMS returns them (decreasing confidence), not by IoU. One box
 * [0,0,100,100]; A [0,0,100,62] conf .9 (IoU .62), B [0,0,100,88] conf .8
 * (IoU .88).
 * YOLOv7: A takes the box, correct at .50 .55 .60; B's best box is taken →
 * FP. At those 3 thresholds recall [1, 1], precision [1, .5] → .9975 (as in
 * test_duplicates); at the other 7 nothing is correct → 0.
 * mAP@.5 .9975, mAP@.5:.95 3·.9975/10 = .29925. (Taking the highest IoU
 * first would give B the box at 8 thresholds with A an FP ranked first:
 * AP .5 each, mAP@.5 .5, mAP .4.)
 * COCO: t ≤ .60 A matches, B FP → 1 (3 thresholds); .65–.85 A misses and B
 * matches: recall [0, 1], precision [0, .5] → envelope .5 everywhere → .5
 * (5 thresholds); .90, .95 nothing → 0. mAP (3 + 2.5)/10 = .55. */
static void test_match_order(void **state)
{
    (void)state;
    const float gt[] = { 0, 0, 0, 100, 100, 0 };
    const float dets[] = { 0, 0, 100, 88, 0.8f, 0,   0, 0, 100, 62, 0.9f, 0 };
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(1, mode);
        add(acc, dets, 2, gt, 1);
        ypr_eval_result res;
        compute(acc, &res);
        if (mode == YPR_METRIC_YOLOV7) {
            assert_near(res.all.ap50, 0.9975, TOL);
            assert_near(res.all.ap, 0.29925, TOL);
        } else {
            assert_near(res.all.ap50, 1.0, TOL);
            assert_near(res.all.ap, 0.55, TOL);
        }
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }
}

/* VOC difficult boxes: not counted as labels, and detections on them are
 * neither TP nor FP — even a second one (a "duplicate" on a difficult box)
 * and even when they rank first. Image A: ordinary box g1 found at conf .9,
 * difficult g2 hit at .95 and .97. Image B: only a difficult box, hit at
 * .99. With them ignored the one real detection gives AP 1, P 1, R 1;
 * counted as FPs they would rank above it. Labels 1, images 1. */
static void test_difficult(void **state)
{
    (void)state;
    const float gts_a[] = { 0, 0, 0, 10, 10, 0,   0, 50, 50, 60, 60, 1 };
    const float dets_a[] = { 50, 50, 60, 60, 0.95f, 0,   0, 0, 10, 10, 0.9f, 0,
                             50, 50, 60, 60, 0.97f, 0 };
    const float gts_b[] = { 0, 0, 0, 30, 30, 1 };
    const float dets_b[] = { 0, 0, 30, 29, 0.99f, 0 };
    for (int mode = 0; mode < 2; mode++) {
        ypr_eval_acc *acc = mk(1, mode);
        add(acc, dets_a, 3, gts_a, 2);
        add(acc, dets_b, 1, gts_b, 1);
        ypr_eval_result res;
        compute(acc, &res);
        assert_int_equal(res.all.labels, 1);
        assert_int_equal(res.per_class[0].labels, 1);
        assert_int_equal(res.per_class[0].images, 1);
        assert_int_equal(res.all.images, 2);
        assert_near(res.all.ap50, 1.0, TOL);
        assert_near(res.all.ap, 1.0, TOL);
        assert_near(res.all.p, 1.0, TOL);
        assert_near(res.all.r, 1.0, TOL);
        /* confusion: the ordinary box matched; difficult ones and their
         * detections left out (one of the two on g2 loses g2 to the other
         * and counts as background) */
        assert_int_equal(res.confusion[0], 1);
        assert_int_equal(res.confusion[1], 1);
        assert_int_equal(res.confusion[2], 0);
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }

    /* the same with the flags cleared: the high-confidence hits become TPs
     * and duplicates, labels 3 */
    float ga[12], gb[6];
    memcpy(ga, gts_a, sizeof ga);
    memcpy(gb, gts_b, sizeof gb);
    ga[11] = 0;
    gb[5] = 0;
    ypr_eval_acc *acc = mk(1, YPR_METRIC_YOLOV7);
    add(acc, dets_a, 3, ga, 2);
    add(acc, dets_b, 1, gb, 1);
    ypr_eval_result res;
    compute(acc, &res);
    assert_int_equal(res.all.labels, 3);
    assert_true(res.all.ap50 < 0.99);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);
}

/* nc = 2. Image A: boxes A (class 0), B (class 1), C (class 0).
 * Detections: class 0 on A (.9) → [0][0]; class 0 on B (.8) → predicted 0,
 * true 1; class 1 on nothing (.7) → [1][bg]; class 0 on C at .2 is below
 * conf .25 and dropped, so C is missed → [bg][0]. Image B has no labels and
 * one class-1 detection (.5) → [1][bg] again. Rows predicted, columns true. */
static void test_confusion(void **state)
{
    (void)state;
    const float gts[] = { 0, 0, 0, 100, 100, 0,   1, 200, 0, 300, 100, 0,
                          0, 400, 0, 500, 100, 0 };
    const float dets[] = { 0, 0, 100, 100, 0.9f, 0,   200, 0, 300, 100, 0.8f, 0,
                           600, 0, 650, 50, 0.7f, 1,  400, 0, 500, 100, 0.2f, 0 };
    const float det_b[] = { 10, 10, 20, 20, 0.5f, 1 };
    ypr_eval_acc *acc = mk(2, YPR_METRIC_YOLOV7);
    add(acc, dets, 4, gts, 3);
    add(acc, det_b, 1, NULL, 0);
    ypr_eval_result res;
    compute(acc, &res);
    const int64_t want[3][3] = { { 1, 1, 0 }, { 0, 0, 2 }, { 1, 0, 0 } };
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            assert_int_equal(res.confusion[r * 3 + c], want[r][c]);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);
}

/* Nothing added, and nothing correct. */
static void test_empty(void **state)
{
    (void)state;
    ypr_eval_acc *acc = mk(3, YPR_METRIC_YOLOV7);
    ypr_eval_result res;
    compute(acc, &res);
    assert_int_equal(res.images, 0);
    assert_int_equal(res.all.labels, 0);
    assert_near(res.all.ap50, 0.0, 0);
    char *t = ypr__eval_table(&res, NULL);
    assert_non_null(t);
    free(t);
    char *j = ypr__eval_json(&res, NULL);
    assert_non_null(j);
    free(j);
    ypr__eval_result_free(&res);

    /* a box and a far-away detection: no TP anywhere → all zero (test.py) */
    const float gt[] = { 0, 0, 0, 10, 10, 0 };
    const float det[] = { 100, 100, 110, 110, 0.5f, 0 };
    add(acc, det, 1, gt, 1);
    compute(acc, &res);
    assert_near(res.all.p, 0.0, 0);
    assert_near(res.all.r, 0.0, 0);
    assert_near(res.all.ap, 0.0, 0);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);
}

/* ------------------------------------------- agreement with NumPy */

/* The source folder's tests/data: $YPR_TEST_DATA_DIR, or next to this file. */
static int find_data(const char *file, char *out, size_t cap)
{
    const char *env = getenv("YPR_TEST_DATA_DIR");
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dl = slash ? (int)(slash - src) : 0;
    char c1[4096], c2[4096];
    snprintf(c1, sizeof c1, "%.*s%sdata", dl, src, slash ? "/" : "");
    snprintf(c2, sizeof c2, "../%.*s%sdata", dl, src, slash ? "/" : "");
    const char *cands[4] = { env, c1, c2, "../../tests/data" };
    for (int i = 0; i < 4; i++) {
        if (!cands[i])
            continue;
        snprintf(out, cap, "%s/%s", cands[i], file);
        if (access(out, R_OK) == 0)
            return 0;
    }
    return -1;
}

static int32_t rd_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static double jnum(const ypr_json *o, const char *key)
{
    const ypr_json *v = ypr__json_get(o, key);
    if (!v || ypr__json_type(v) != YPR_JSON_NUMBER)
        fail_msg("expected JSON number '%s'", key);
    return ypr__json_num(v);
}

static void test_random_vs_numpy(void **state)
{
    (void)state;
    char binpath[4096], jpath[4096];
    if (find_data("eval/random.bin", binpath, sizeof binpath) != 0 ||
        find_data("eval/random_expected.json", jpath, sizeof jpath) != 0)
        fail_msg("tests/data/eval fixture not found (set YPR_TEST_DATA_DIR)");
    size_t blen, jlen;
    unsigned char *bin = (unsigned char *)test_slurp(binpath, &blen);
    char *jtext = test_slurp(jpath, &jlen);
    assert_non_null(bin);
    assert_non_null(jtext);
    ypr_json *exp = NULL;
    assert_int_equal(ypr__json_parse(jtext, jlen, "random_expected.json", &exp), YPR_OK);
    assert_true(blen >= 16 && memcmp(bin, "YPREVAL1", 8) == 0);
    int nc = rd_i32(bin + 8), nimg = rd_i32(bin + 12);
    assert_int_equal(nc, (int)jnum(exp, "nc"));

    const char *modes[2] = { "yolov7", "coco" };
    for (int mode = 0; mode < 2; mode++) {
        const ypr_json *e = ypr__json_get(exp, modes[mode]);
        assert_non_null(e);
        ypr_eval_acc *acc = mk(nc, mode);
        size_t off = 16;
        int64_t ndets = 0;
        for (int i = 0; i < nimg; i++) {
            assert_true(off + 8 <= blen);
            int nd = rd_i32(bin + off), ng = rd_i32(bin + off + 4);
            off += 8;
            size_t bytes = (size_t)(nd + ng) * 6 * sizeof(float);
            assert_true(nd >= 0 && ng >= 0 && off + bytes <= blen);
            float *buf = malloc(bytes ? bytes : 1);
            assert_non_null(buf);
            memcpy(buf, bin + off, bytes);        /* little-endian host assumed */
            off += bytes;
            add(acc, buf, nd, buf + (size_t)6 * nd, ng);
            ndets += nd;
            free(buf);
        }
        assert_int_equal(off, blen);
        assert_true(ndets >= 2000);
        ypr_eval_result res;
        compute(acc, &res);
        assert_int_equal(res.images, (int64_t)jnum(e, "images"));
        assert_int_equal(res.all.labels, (int64_t)jnum(e, "labels"));
        assert_near(res.all.ap50, jnum(e, "map50"), 1e-6);
        assert_near(res.all.ap, jnum(e, "map"), 1e-6);
        assert_near(res.all.p, jnum(e, "mp"), 1e-6);
        assert_near(res.all.r, jnum(e, "mr"), 1e-6);
        assert_near(res.best_conf, jnum(e, "best_conf"), 1e-12);
        const ypr_json *cls = ypr__json_get(e, "classes");
        assert_int_equal(ypr__json_len(cls), (size_t)nc);
        int without = 0;
        for (int c = 0; c < nc; c++) {
            const ypr_json *o = ypr__json_at(cls, (size_t)c);
            const ypr_class_metrics *m = &res.per_class[c];
            assert_int_equal(m->labels, (int64_t)jnum(o, "labels"));
            assert_int_equal(m->images, (int64_t)jnum(o, "images"));
            assert_near(m->p, jnum(o, "p"), 1e-6);
            assert_near(m->r, jnum(o, "r"), 1e-6);
            assert_near(m->ap50, jnum(o, "ap50"), 1e-6);
            assert_near(m->ap, jnum(o, "ap"), 1e-6);
            without += m->labels == 0;
        }
        assert_int_equal(without, 1);       /* the fixture has one unlabelled class */
        const ypr_json *cm = ypr__json_get(e, "confusion");
        assert_int_equal(ypr__json_len(cm), (size_t)nc + 1);
        int64_t total = 0;
        for (int r = 0; r <= nc; r++) {
            const ypr_json *row = ypr__json_at(cm, (size_t)r);
            for (int c = 0; c <= nc; c++) {
                int64_t v;
                assert_int_equal(ypr__json_int(ypr__json_at(row, (size_t)c), &v), 0);
                assert_int_equal(res.confusion[(size_t)r * (nc + 1) + c], v);
                total += v;
            }
        }
        assert_true(total > 1000);
        int step = (int)jnum(e, "curve_step");
        const ypr_json *curves = ypr__json_get(e, "curves");
        for (int c = 0; c < nc; c++) {
            const ypr_json *cv = ypr__json_at(curves, (size_t)c);
            for (size_t k = 0; k < ypr__json_len(cv); k++)
                assert_near(res.pr_curves[(size_t)c * 1000 + k * (size_t)step],
                            ypr__json_num(ypr__json_at(cv, k)), 1e-6);
        }
        ypr__eval_result_free(&res);
        ypr__eval_free(acc);
    }
    ypr__json_free(exp);
    free(jtext);
    free(bin);
}

/* -------------------------------------------------- table, JSON, plots */

/* Three classes (class 2 unlabelled), names given. */
static void small_result(ypr_eval_result *res)
{
    const float gts[] = { 0, 0, 0, 100, 100, 0,   1, 200, 0, 300, 100, 0,
                          0, 400, 0, 500, 100, 0 };
    const float dets[] = { 0, 0, 100, 100, 0.9f, 0,   200, 0, 300, 90, 0.8f, 1,
                           600, 0, 650, 50, 0.7f, 2,  400, 0, 500, 100, 0.4f, 0,
                           410, 0, 500, 100, 0.35f, 0 };
    ypr_eval_acc *acc = mk(3, YPR_METRIC_YOLOV7);
    add(acc, dets, 5, gts, 3);
    add(acc, NULL, 0, NULL, 0);
    compute(acc, res);
    ypr__eval_free(acc);
}

static void test_table(void **state)
{
    (void)state;
    ypr_eval_result res;
    small_result(&res);
    const char *names[3] = { "person", "bicycle", "car" };
    char *t = ypr__eval_table(&res, names);
    assert_non_null(t);
    /* line 1: the columns, in YOLOv7's order */
    char cols[7][32];
    assert_int_equal(sscanf(t, "%31s %31s %31s %31s %31s %31s %31s", cols[0], cols[1], cols[2],
                            cols[3], cols[4], cols[5], cols[6]), 7);
    const char *want[7] = { "Class", "Images", "Labels", "P", "R", "mAP@.5", "mAP@.5:.95" };
    for (int i = 0; i < 7; i++)
        assert_string_equal(cols[i], want[i]);
    /* line 2: all, totals and means */
    const char *l2 = strchr(t, '\n');
    assert_non_null(l2);
    char name[32];
    long long im, lb;
    double p, r, m50, m;
    assert_int_equal(sscanf(l2 + 1, "%31s %lld %lld %lf %lf %lf %lf", name, &im, &lb, &p, &r,
                            &m50, &m), 7);
    assert_string_equal(name, "all");
    assert_int_equal(im, 2);
    assert_int_equal(lb, 3);
    assert_near(m50, res.all.ap50, 5e-3 * res.all.ap50 + 1e-12);   /* %.3g */
    assert_near(p, res.all.p, 5e-3);
    /* the header's %20s/%12s layout: "Class" right-aligned in 20 columns */
    assert_memory_equal(t, "               Class      Images", 32);
    /* per-class rows for labelled classes, by name; car has no labels */
    const char *l3 = strchr(l2 + 1, '\n');
    assert_non_null(l3);
    assert_int_equal(sscanf(l3 + 1, "%31s %lld %lld", name, &im, &lb), 3);
    assert_string_equal(name, "person");
    assert_int_equal(im, 1);
    assert_int_equal(lb, 2);
    assert_non_null(strstr(t, "bicycle"));
    assert_null(strstr(t, "car"));
    int lines = 0;
    for (const char *q = t; *q; q++)
        lines += *q == '\n';
    assert_int_equal(lines, 4);
    free(t);
    ypr__eval_result_free(&res);

    /* one class: only the header and `all` (test.py prints no per-class rows) */
    ypr_eval_acc *acc = mk(1, YPR_METRIC_COCO);
    ypr_eval_result r1;
    compute(acc, &r1);
    t = ypr__eval_table(&r1, NULL);
    assert_non_null(t);
    lines = 0;
    for (const char *q = t; *q; q++)
        lines += *q == '\n';
    assert_int_equal(lines, 2);
    free(t);
    ypr__eval_result_free(&r1);
    ypr__eval_free(acc);
}

static void test_json(void **state)
{
    (void)state;
    ypr_eval_result res;
    small_result(&res);
    const char *names[3] = { "per\"son", "bicycle", NULL };
    char *text = ypr__eval_json(&res, names);
    assert_non_null(text);
    ypr_json *j = NULL;
    assert_int_equal(ypr__json_parse(text, strlen(text), "eval json", &j), YPR_OK);
    assert_int_equal((int)jnum(j, "nc"), 3);
    assert_int_equal((int64_t)jnum(j, "images"), 2);
    assert_true(jnum(j, "best_conf") == res.best_conf);      /* round-trips exactly */
    const ypr_json *all = ypr__json_get(j, "all");
    assert_true(jnum(all, "map50") == res.all.ap50);
    assert_true(jnum(all, "map") == res.all.ap);
    assert_true(jnum(all, "p") == res.all.p);
    assert_true(jnum(all, "r") == res.all.r);
    assert_int_equal((int64_t)jnum(all, "labels"), 3);
    assert_true(res.all.ap50 > 0.1);
    const ypr_json *cls = ypr__json_get(j, "classes");
    assert_int_equal(ypr__json_len(cls), 3);
    for (int c = 0; c < 3; c++) {
        const ypr_json *o = ypr__json_at(cls, (size_t)c);
        assert_int_equal((int)jnum(o, "class"), c);
        assert_true(jnum(o, "ap50") == res.per_class[c].ap50);
        assert_true(jnum(o, "ap") == res.per_class[c].ap);
        assert_true(jnum(o, "p") == res.per_class[c].p);
        assert_int_equal((int64_t)jnum(o, "labels"), res.per_class[c].labels);
    }
    assert_string_equal(ypr__json_str(ypr__json_get(ypr__json_at(cls, 0), "name")), "per\"son");
    assert_string_equal(ypr__json_str(ypr__json_get(ypr__json_at(cls, 2), "name")), "2");
    const ypr_json *m = ypr__json_get(ypr__json_get(j, "confusion"), "matrix");
    assert_int_equal(ypr__json_len(m), 4);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            int64_t v;
            assert_int_equal(ypr__json_int(ypr__json_at(ypr__json_at(m, (size_t)r), (size_t)c), &v), 0);
            assert_int_equal(v, res.confusion[r * 4 + c]);
        }
    ypr__json_free(j);
    free(text);
    ypr__eval_result_free(&res);
}

static int count_color(const ypr_image *img, const uint8_t c[3])
{
    int n = 0;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++)
        n += memcmp(img->rgb + 3 * i, c, 3) == 0;
    return n;
}

static void test_plots(void **state)
{
    (void)state;
    ypr_eval_result res;
    small_result(&res);
    const char *names[3] = { "person", "bicycle", "car" };
    assert_int_equal(ypr__eval_plot_pr(&res, names, "test_eval_pr.png"), YPR_OK);
    ypr_image img;
    assert_int_equal(ypr__image_load("test_eval_pr.png", &img), YPR_OK);
    assert_int_equal(img.w, YPR__EVAL_PR_W);
    assert_int_equal(img.w, 800);
    assert_int_equal(img.h, YPR__EVAL_PR_H);
    /* the labelled classes' colours appear (curves and legend), the
     * unlabelled one's does not */
    uint8_t c0[3], c1[3], c2[3];
    ypr__class_color(0, c0);
    ypr__class_color(1, c1);
    ypr__class_color(2, c2);
    assert_true(count_color(&img, c0) > 50);
    assert_true(count_color(&img, c1) > 50);
    assert_int_equal(count_color(&img, c2), 0);
    const uint8_t black[3] = { 0, 0, 0 };
    assert_true(count_color(&img, black) > 1000);              /* axes, text */
    ypr__image_free(&img);

    assert_int_equal(ypr__eval_plot_confusion(&res, names, "test_eval_cm.png"), YPR_OK);
    assert_int_equal(ypr__image_load("test_eval_cm.png", &img), YPR_OK);
    assert_int_equal(ypr__eval_confusion_cell(3), 48);          /* 720/4 = 180, capped */
    assert_int_equal(img.w, 130 + 4 * 48 + 20);
    assert_int_equal(img.h, 40 + 4 * 48 + 140);
    /* cell (predicted 0, true 0) holds 1.00 of its column: the darkest blue
     * at its corner; cell (predicted 1, true 0) is empty: near white */
    const uint8_t *p00 = img.rgb + ((size_t)(40 + 2) * img.w + 130 + 2) * 3;
    const uint8_t *p10 = img.rgb + ((size_t)(40 + 48 + 2) * img.w + 130 + 2) * 3;
    assert_true(p00[0] < 40 && p00[2] > 80);
    assert_true(p10[0] > 230 && p10[1] > 230);
    ypr__image_free(&img);
    ypr__eval_result_free(&res);

    /* many classes: small cells, no labels, still a picture */
    ypr_eval_acc *acc = mk(300, YPR_METRIC_YOLOV7);
    const float gt[] = { 299, 0, 0, 10, 10, 0 };
    const float det[] = { 0, 0, 10, 10, 0.9f, 299 };
    add(acc, det, 1, gt, 1);
    compute(acc, &res);
    assert_int_equal(ypr__eval_plot_confusion(&res, NULL, "test_eval_cm300.png"), YPR_OK);
    assert_int_equal(ypr__eval_plot_pr(&res, NULL, "test_eval_pr300.png"), YPR_OK);
    assert_int_equal(ypr__image_load("test_eval_cm300.png", &img), YPR_OK);
    assert_int_equal(ypr__eval_confusion_cell(300), 2);
    assert_int_equal(img.w, 130 + 301 * 2 + 20);
    assert_int_equal(img.h, 40 + 301 * 2 + 140);
    ypr__image_free(&img);
    ypr__eval_result_free(&res);
    ypr__eval_free(acc);

    /* an unwritable path is an error, not a crash */
    small_result(&res);
    assert_true(ypr__eval_plot_pr(&res, NULL, "/nonexistent-dir/x.png") < 0);
    assert_int_equal(ypr__eval_plot_pr(NULL, NULL, "x.png"), YPR_EINVAL);
    ypr__eval_result_free(&res);
    unlink("test_eval_pr.png");
    unlink("test_eval_cm.png");
    unlink("test_eval_cm300.png");
    unlink("test_eval_pr300.png");
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void **state)
{
    (void)state;
    ypr_eval_acc *acc = NULL;
    assert_int_equal(ypr__eval_create(0, YPR_METRIC_YOLOV7, &acc), YPR_EINVAL);
    assert_null(acc);
    assert_int_equal(ypr__eval_create(-3, YPR_METRIC_YOLOV7, &acc), YPR_EINVAL);
    assert_int_equal(ypr__eval_create(100000, YPR_METRIC_YOLOV7, &acc), YPR_EINVAL);
    assert_int_equal(ypr__eval_create(3, 7, &acc), YPR_EINVAL);
    assert_int_equal(ypr__eval_create(3, YPR_METRIC_COCO, NULL), YPR_EINVAL);

    acc = mk(3, YPR_METRIC_YOLOV7);
    const float gt[] = { 0, 0, 0, 10, 10, 0 };
    const float ok[] = { 0, 0, 10, 10, 0.9f, 0 };
    const float nanf_ = NAN, inf = INFINITY;
    float bad[6];

    /* class ids out of range, negative, fractional */
    const float cls_bad[] = { 3, -1, 2.5f, 1e9f };
    for (int i = 0; i < 4; i++) {
        memcpy(bad, ok, sizeof bad);
        bad[5] = cls_bad[i];
        assert_int_equal(ypr__eval_add(acc, bad, 1, gt, 1), YPR_EINVAL);
        assert_non_null(strstr(ypr_last_error(), "detection 0"));
        float g[6];
        memcpy(g, gt, sizeof g);
        g[0] = cls_bad[i];
        assert_int_equal(ypr__eval_add(acc, ok, 1, g, 1), YPR_EINVAL);
        assert_non_null(strstr(ypr_last_error(), "ground truth 0"));
    }
    /* NaN and infinite boxes, NaN confidence, inverted box, NaN flag */
    for (int k = 0; k < 4; k++) {
        memcpy(bad, ok, sizeof bad);
        bad[k] = nanf_;
        assert_int_equal(ypr__eval_add(acc, bad, 1, gt, 1), YPR_EINVAL);
        bad[k] = inf;
        assert_int_equal(ypr__eval_add(acc, bad, 1, gt, 1), YPR_EINVAL);
        float g[6];
        memcpy(g, gt, sizeof g);
        g[1 + k] = nanf_;
        assert_int_equal(ypr__eval_add(acc, ok, 1, g, 1), YPR_EINVAL);
    }
    memcpy(bad, ok, sizeof bad);
    bad[4] = nanf_;
    assert_int_equal(ypr__eval_add(acc, bad, 1, gt, 1), YPR_EINVAL);
    memcpy(bad, ok, sizeof bad);
    bad[0] = 20;                                         /* x1 > x2 */
    assert_int_equal(ypr__eval_add(acc, bad, 1, gt, 1), YPR_EINVAL);
    float g2[6];
    memcpy(g2, gt, sizeof g2);
    g2[5] = nanf_;
    assert_int_equal(ypr__eval_add(acc, ok, 1, g2, 1), YPR_EINVAL);
    /* a bad second row: nothing of the first is kept */
    const float two[] = { 0, 0, 10, 10, 0.9f, 0,   0, 0, 10, 10, 0.8f, 5 };
    assert_int_equal(ypr__eval_add(acc, two, 2, gt, 1), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "detection 1"));
    /* negative counts, NULL arrays with counts, NULL accumulator */
    assert_int_equal(ypr__eval_add(acc, ok, -1, gt, 1), YPR_EINVAL);
    assert_int_equal(ypr__eval_add(acc, ok, 1, gt, -5), YPR_EINVAL);
    assert_int_equal(ypr__eval_add(acc, NULL, 1, gt, 1), YPR_EINVAL);
    assert_int_equal(ypr__eval_add(acc, ok, 1, NULL, 1), YPR_EINVAL);
    assert_int_equal(ypr__eval_add(NULL, ok, 1, gt, 1), YPR_EINVAL);
    ypr_eval_result res;
    assert_int_equal(ypr__eval_compute(NULL, &res), YPR_EINVAL);
    assert_int_equal(ypr__eval_compute(acc, NULL), YPR_EINVAL);
    assert_null(ypr__eval_table(NULL, NULL));
    assert_null(ypr__eval_json(NULL, NULL));

    /* after all that the accumulator holds nothing and still works */
    compute(acc, &res);
    assert_int_equal(res.images, 0);
    assert_int_equal(res.all.labels, 0);
    ypr__eval_result_free(&res);
    add(acc, ok, 1, gt, 1);
    compute(acc, &res);
    assert_int_equal(res.images, 1);
    assert_near(res.all.ap50, 1.0, TOL);
    ypr__eval_result_free(&res);
    ypr__eval_result_free(&res);           /* idempotent */
    ypr__eval_result_free(NULL);
    ypr__eval_free(acc);
    ypr__eval_free(NULL);
}

/* ------------------------------------------------ model copy, decode */

static void test_model_clone(void **state)
{
    (void)state;
    char cfg[4096], wts[4096], png[4096];
    if (find_data("model/mini.yaml", cfg, sizeof cfg) != 0 ||
        find_data("e2e/mini_trained.safetensors", wts, sizeof wts) != 0 ||
        find_data("e2e/images/val05.png", png, sizeof png) != 0)
        skip();
    ypr_model *m = NULL, *c = NULL;
    assert_int_equal(ypr_model_from_cfg(cfg, 0, 0, 0, 5, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, wts, 1), YPR_OK);
    assert_int_equal(m->nc, 3);
    m->names = calloc(3, sizeof(char *));
    m->names[0] = strdup("cat");
    m->names[2] = strdup("dog");          /* names[1] stays NULL */
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, 0.1), YPR_OK);
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_IOU_THRESHOLD, 0.21), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_MAX_DET, 17), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_MULTI_LABEL, 1), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_AGNOSTIC_NMS, 1), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, 96), YPR_OK);
    assert_int_equal(ypr_model_set_threads(m, 3), YPR_OK);
    /* a 128 × 128 image the trained model finds shapes in, as CHW in [0, 1] */
    uint8_t *rgb = NULL;
    int iw = 0, ih = 0;
    assert_int_equal(ypr_image_load(png, &rgb, &iw, &ih), YPR_OK);
    assert_true(iw == 128 && ih == 128);
    float *x = calloc(3 * 128 * 128, sizeof(float));
    for (int i = 0; i < 128 * 128; i++)
        for (int ch = 0; ch < 3; ch++)
            x[ch * 128 * 128 + i] = rgb[i * 3 + ch] / 255.0f;
    free(rgb);
    assert_int_equal(ypr_model_forward(m, x, 1, 128, 128), YPR_OK);

    assert_int_equal(ypr__model_clone(m, &c), YPR_OK);
    assert_int_equal(c->nc, 3);
    assert_int_equal(c->input_size, 96);
    assert_true(c->conf_thr == m->conf_thr && c->iou_thr == m->iou_thr);
    assert_int_equal(c->max_det, 17);
    assert_int_equal(c->multi_label, 1);
    assert_int_equal(c->agnostic, 1);
    assert_int_equal(ypr__pool_size(c->pool), 3);
    assert_true(c->pool != m->pool);
    assert_non_null(c->names);
    assert_true(c->names != m->names && c->names[0] != m->names[0]);
    assert_string_equal(c->names[0], "cat");
    assert_null(c->names[1]);
    assert_string_equal(c->names[2], "dog");
    assert_null(c->plan);                  /* caches are not shared */
    assert_true(c->net.version == m->net.version);
    assert_int_equal(c->net.nnodes, m->net.nnodes);
    assert_int_equal(c->net.nparams, m->net.nparams);
    for (int i = 0; i < m->net.nparams; i++) {
        const ypr_param *a = &m->net.params[i], *b = &c->net.params[i];
        assert_string_equal(a->name, b->name);
        assert_true(a->numel == b->numel && a->data != b->data);
        assert_memory_equal(a->data, b->data, (size_t)a->numel * sizeof(float));
    }
    assert_int_equal(ypr__model_max_stride(m), 8);
    assert_int_equal(ypr__model_max_stride(c), 8);
    /* the copy computes what the original does, and is independent of it */
    assert_int_equal(ypr_model_forward(c, x, 1, 128, 128), YPR_OK);
    for (int l = 0; l < 2; l++) {
        ypr_shape sa, sb;
        const float *oa = ypr__plan_output(m->plan, l, &sa), *ob = ypr__plan_output(c->plan, l, &sb);
        assert_true(sa.c == sb.c && sa.h == sb.h && sa.w == sb.w);
        assert_memory_equal(oa, ob, (size_t)(sa.c * sa.h * sa.w) * sizeof(float));
    }
    c->net.params[0].data[0] += 1.0f;
    assert_true(m->net.params[0].data[0] != c->net.params[0].data[0]);

    /* a model without names copies without names */
    ypr_model *c2 = NULL;
    for (int i = 0; i < 3; i++)
        free(m->names[i]);
    free(m->names);
    m->names = NULL;
    assert_int_equal(ypr__model_clone(m, &c2), YPR_OK);
    assert_null(c2->names);
    ypr_model_free(c2);
    assert_int_equal(ypr__model_clone(NULL, &c2), YPR_EINVAL);

    /* decode with explicit thresholds: the model's own give ypr_model_decode's rows */
    float a[17 * 6], b[300 * 6], o4[300 * 6];
    int na = 0, nb = 0, nl = 0, n4 = 0;
    assert_int_equal(ypr_model_decode(m, 0, a, 17, &na), YPR_OK);
    assert_true(na > 0);
    ypr_decode_opts o = {m->conf_thr, m->iou_thr, 1, 1, 17, 0.0f};
    assert_int_equal(ypr__model_decode_with(m, 0, &o, b, 300, &nb), YPR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * 6 * sizeof(float));
    o = (ypr_decode_opts){0.001f, 0.65f, 1, 0, 300, 0.0f};
    assert_int_equal(ypr__model_decode_with(m, 0, &o, b, 300, &nl), YPR_OK);
    assert_true(nl > na);
    for (int i = 0; i < nl; i++)
        assert_true(b[i * 6 + 4] > 0.001f);
    /* test.py's class offset keeps classes apart as per-class NMS does: the
     * same rows but where float32 rounding of the shifted IoUs decides */
    o.class_offset = 4096.0f;
    assert_int_equal(ypr__model_decode_with(m, 0, &o, o4, 300, &n4), YPR_OK);
    assert_true(abs(n4 - nl) <= 2);
    assert_memory_equal(o4, b, 6 * sizeof(float));
    o.class_offset = 0.0f;
    assert_int_equal(ypr__model_decode_with(m, 0, &o, b, 2, &nb), YPR_OK);
    assert_int_equal(nb, nl < 2 ? nl : 2);
    assert_int_equal(ypr__model_decode_with(m, 1, &o, b, 300, &nb), YPR_ERANGE);
    o.max_det = 0;
    assert_int_equal(ypr__model_decode_with(m, 0, &o, b, 300, &nb), YPR_ERANGE);
    o.max_det = 300;
    o.class_offset = -1.0f;
    assert_int_equal(ypr__model_decode_with(m, 0, &o, b, 300, &nb), YPR_ERANGE);
    /* the model's settings are what they were */
    assert_int_equal(m->max_det, 17);
    assert_true(fabsf(m->conf_thr - 0.1f) < 1e-7f);
    free(x);
    ypr_model_free(c);
    ypr_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_curve_yolov7),
        cmocka_unit_test(test_known_curve_coco),
        cmocka_unit_test(test_iou_levels),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_no_predictions),
        cmocka_unit_test(test_no_labels),
        cmocka_unit_test(test_crowded),
        cmocka_unit_test(test_yolov7_vs_coco),
        cmocka_unit_test(test_match_order),
        cmocka_unit_test(test_difficult),
        cmocka_unit_test(test_confusion),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_random_vs_numpy),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_plots),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_model_clone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
