/* The evaluator through the public API on non-square images: a model runs
 * in single and multi-image rectangular batches, and detections read back in
 * YOLOv7's detect.py --save-txt layout equal to the labels score mAP 1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "yolopr.h"

static char data_dir[1024];

static const int sizes[3][2] = {{100, 60}, {60, 100}, {80, 80}};   /* w, h */

static void write_tree(void)
{
    mkdir("evtree", 0777);
    mkdir("evtree/images", 0777);
    mkdir("evtree/labels", 0777);
    mkdir("evtree/dets", 0777);
    for (int i = 0; i < 3; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        uint8_t *rgb = malloc((size_t)w * h * 3);
        for (int k = 0; k < w * h * 3; k++)
            rgb[k] = (uint8_t)(k * 7 + i * 31);
        char path[256];
        snprintf(path, sizeof path, "evtree/images/im%d.png", i);
        assert_int_equal(ypr_image_save_png(path, rgb, w, h), YPR_OK);
        free(rgb);
        snprintf(path, sizeof path, "evtree/labels/im%d.txt", i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "%d 0.5 0.5 0.4 0.3\n%d 0.25 0.3 0.2 0.2\n", i % 3, (i + 1) % 3);
        fclose(f);
        /* the same boxes as detections: class cx cy w h conf */
        snprintf(path, sizeof path, "evtree/dets/im%d.txt", i);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "%d 0.5 0.5 0.4 0.3 0.9\n%d 0.25 0.3 0.2 0.2 0.8\n", i % 3, (i + 1) % 3);
        fclose(f);
    }
    FILE *f = fopen("evtree/classes.txt", "w");
    assert_non_null(f);
    fputs("a\nb\nc\n", f);
    fclose(f);
}

static void test_detections_roundtrip(void **state)
{
    (void)state;
    write_tree();
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open("evtree", "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 3);
    assert_int_equal(ypr_dataset_num_classes(ds), 3);
    assert_string_equal(ypr_dataset_class_name(ds, 1), "b");
    assert_null(ypr_dataset_class_name(ds, 99));
    assert_non_null(strstr(ypr_last_error(), "class 99"));
    assert_null(ypr_dataset_image_path(ds, -1));
    assert_non_null(strstr(ypr_last_error(), "image -1"));
    ypr_evaluator *e;
    assert_int_equal(ypr_evaluator_create(NULL, ds, &e), YPR_OK);
    assert_int_equal(ypr_evaluator_read_detections(e, "evtree/dets"), YPR_OK);
    double v;
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, &v), YPR_OK);
    assert_true(fabs(v - 1.0) < 1e-9);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP, &v), YPR_OK);
    assert_true(fabs(v - 1.0) < 1e-9);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_LABELS, &v), YPR_OK);
    assert_true(v == 6);
    ypr_evaluator_free(e);
    ypr_dataset_free(ds);
}

static void test_model_batches(void **state)
{
    (void)state;
    write_tree();
    char cfg[1200], w[1200];
    snprintf(cfg, sizeof cfg, "%s/model/mini.yaml", data_dir);
    snprintf(w, sizeof w, "%s/model/mini.safetensors", data_dir);
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(cfg, 0, 0, 0, 1, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, w, 1), YPR_OK);
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open("evtree", "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    double map[2];
    for (int b = 0; b < 2; b++) {
        ypr_evaluator *e;
        assert_int_equal(ypr_evaluator_create(m, ds, &e), YPR_OK);
        assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, 64), YPR_OK);
        assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_BATCH, b ? 3 : 1), YPR_OK);
        assert_int_equal(ypr_evaluator_run(e), YPR_OK);
        assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, &map[b]), YPR_OK);
        assert_true(map[b] >= 0 && map[b] <= 1);
        double ms[3];
        assert_int_equal(ypr_evaluator_speed(e, ms), YPR_OK);
        assert_true(ms[0] > 0 && ms[2] >= ms[0]);
        char *t;
        assert_int_equal(ypr_evaluator_table(e, &t), YPR_OK);
        assert_non_null(strstr(t, b ? "batch-size 3" : "batch-size 1"));
        ypr_free(t);
        ypr_evaluator_free(e);
    }
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

int main(void)
{
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detections_roundtrip),
        cmocka_unit_test(test_model_batches),
    };
    return cmocka_run_group_tests_name("evaluator", tests, NULL, NULL);
}
