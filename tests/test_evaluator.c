/* The evaluator through the public API: detections read back in YOLOv7's
 * detect.py --save-txt layout equal to the labels score mAP 1, bad detection
 * files and folders are refused by name, an empty dataset is an error; a
 * trained model on non-square images scores what our PyTorch
 * re-implementation of YOLOv7's test.py gives (tests/data/make_e2e_fixture.py)
 * to 1e-4 at batch 1 and 3, on test.py's canvas and on the capped one; and
 * evaluation and sensitivity analysis leave every model setting and tensor,
 * and so later detections, as they were. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "yolopr.h"
#include "test_util.h"

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

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* read_detections(dir) fails with code and a message holding every part */
static void expect_read_error(const ypr_dataset *ds, const char *dir, int code,
                              const char *part1, const char *part2)
{
    ypr_evaluator *e;
    assert_int_equal(ypr_evaluator_create(NULL, ds, &e), YPR_OK);
    assert_int_equal(ypr_evaluator_read_detections(e, dir), code);
    const char *msg = ypr_last_error();
    if (!strstr(msg, part1) || (part2 && !strstr(msg, part2)))
        fail_msg("'%s' lacks '%s' / '%s'", msg, part1, part2 ? part2 : "");
    ypr_evaluator_free(e);
}

static void test_detection_file_errors(void **state)
{
    (void)state;
    write_tree();
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open("evtree", "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    expect_read_error(ds, "evtree/nope", YPR_ENOTFOUND, "evtree/nope", "no such folder");
    expect_read_error(ds, "evtree/classes.txt", YPR_ENOTFOUND, "evtree/classes.txt",
                      "not a folder");
    mkdir("evtree/none", 0777);
    expect_read_error(ds, "evtree/none", YPR_ENOTFOUND, "evtree/none", "no detection file");
    /* a device where a file should be: refused at once, never read */
    mkdir("evtree/zero", 0777);
    unlink("evtree/zero/im0.txt");
    assert_int_equal(symlink("/dev/zero", "evtree/zero/im0.txt"), 0);
    expect_read_error(ds, "evtree/zero", YPR_EFORMAT, "evtree/zero/im0.txt",
                      "not a regular file");
    /* one bad file per folder: its content, and what the message must name */
    static const struct { const char *dir, *file, *text; size_t len; const char *where, *why; }
    bad[] = {
        {"evtree/nul", "im1.txt", "0 0.5 0.5 0.1 0.1 0.9\n1 0.5\0 0.5 0.1 0.1 0.9\n", 45,
         "evtree/nul/im1.txt:2", "NUL"},
        {"evtree/cls", "im2.txt", "0 0.5 0.5 0.1 0.1 0.9\n\n7 0.5 0.5 0.1 0.1 0.9\n", 45,
         "evtree/cls/im2.txt:3", "class 7"},
        {"evtree/short", "im0.txt", "0 0.5 0.5 0.1 0.1\n", 18, "evtree/short/im0.txt:1",
         "6 numbers"},
        {"evtree/conf", "im1.txt", "0 0.5 0.5 0.1 0.1 1.5\n", 22, "evtree/conf/im1.txt:1",
         "confidence"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        mkdir(bad[i].dir, 0777);
        snprintf(path, sizeof path, "%s/%s", bad[i].dir, bad[i].file);
        write_file(path, bad[i].text, bad[i].len);
        expect_read_error(ds, bad[i].dir, YPR_EFORMAT, bad[i].where, bad[i].why);
    }
    ypr_dataset_free(ds);
}

static ypr_model *trained_model(void)
{
    char cfg[1200], w[1200];
    snprintf(cfg, sizeof cfg, "%s/model/mini.yaml", data_dir);
    snprintf(w, sizeof w, "%s/e2e/mini_trained.safetensors", data_dir);
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(cfg, 0, 0, 0, 1, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, w, 1), YPR_OK);
    return m;
}

static ypr_dataset *e2e_dataset(void)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/e2e", data_dir);
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(dir, "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 40);
    assert_int_equal(ypr_dataset_num_classes(ds), 3);
    return ds;
}

static void run_eval(ypr_model *m, const ypr_dataset *ds, int batch, int rect, int cap,
                     double *map50, double *map)
{
    ypr_evaluator *e;
    assert_int_equal(ypr_evaluator_create(m, ds, &e), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, 128), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_BATCH, batch), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_RECT, rect), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_CAP_CANVAS, cap), YPR_OK);
    assert_int_equal(ypr_evaluator_run(e), YPR_OK);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, map50), YPR_OK);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP, map), YPR_OK);
    char *t;
    assert_int_equal(ypr_evaluator_table(e, &t), YPR_OK);
    char want[32];
    snprintf(want, sizeof want, "batch-size %d", batch);
    assert_non_null(strstr(t, want));
    ypr_free(t);
    ypr_evaluator_free(e);
}

/* The trained model against test.py's pipeline re-implemented in PyTorch:
 * rect batches sorted by aspect ratio, canvases past the input size (or
 * capped at it), NMS, matching and AP. */
static void test_matches_testpy(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/e2e/expected.txt", data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    char line[256];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int batch, cap;
        double want50, want, got50, got;
        if (line[0] == '#')
            continue;
        assert_int_equal(sscanf(line, "%d %d %lf %lf", &batch, &cap, &want50, &want), 4);
        rows++;
        if (test_quick() && batch == 1 + 2 * cap)
            continue;   /* quick scope: batch 3 uncapped, batch 1 capped */
        run_eval(m, ds, batch, 1, cap, &got50, &got);
        print_message("batch %d cap %d: mAP@.5 %.7f (test.py %.7f) mAP@.5:.95 %.7f (%.7f)\n",
                      batch, cap, got50, want50, got, want);
        assert_true(want50 > 0.2);   /* the fixture is a real detector */
        assert_true(fabs(got50 - want50) <= 1e-4);
        assert_true(fabs(got - want) <= 1e-4);
    }
    fclose(f);
    assert_int_equal(rows, 4);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* On one square canvas for every image the batch size changes nothing. */
static void test_batch_invariance(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    double a50, a, b50, b;
    run_eval(m, ds, 1, 0, 0, &a50, &a);
    run_eval(m, ds, 3, 0, 0, &b50, &b);
    assert_true(a50 > 0.2 && a > 0.05);
    assert_true(fabs(a50 - b50) <= 1e-6);
    assert_true(fabs(a - b) <= 1e-6);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

static void test_nothing_to_evaluate(void **state)
{
    (void)state;
    mkdir("evnone", 0777);
    mkdir("evnone/images", 0777);
    mkdir("evnone/labels", 0777);
    uint8_t rgb[64 * 64 * 3] = {0};
    assert_int_equal(ypr_image_save_png("evnone/images/a.png", rgb, 64, 64), YPR_OK);
    write_file("evnone/labels/a.txt", "9 0.5 0.5 0.2 0.2\n", 18);   /* class 9: skipped */
    write_file("evnone/classes.txt", "a\nb\nc\n", 6);
    /* A dataset whose every image was skipped does not open, so no
     * evaluator can be built over zero images (no all-zero table). */
    ypr_dataset *ds = NULL;
    assert_true(ypr_dataset_open("evnone", "val", YPR_DATASET_SKIP, &ds) < 0);
    assert_null(ds);
    assert_non_null(strstr(ypr_last_error(), "every image was skipped"));
}

/* ------------------------------------------------ the model is left alone */

typedef struct snapshot {
    int nset;
    int key[64], is_float[64];
    double fval[64];
    int64_t ival[64];
    int ntensors;
    char **names;
    float **data;
    int64_t *numel;
    float dets[300 * 6];
    int ndet;
} snapshot;

/* Every setting the getters accept (keys 100..199), every tensor, and the
 * detections of one image. */
static void take(ypr_model *m, const uint8_t *rgb, int w, int h, snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 100; k < 200; k++) {
        double f;
        int64_t i;
        if (ypr_model_get_float(m, k, &f) == YPR_OK) {
            s->key[s->nset] = k;
            s->is_float[s->nset] = 1;
            s->fval[s->nset++] = f;
        } else if (ypr_model_get_int(m, k, &i) == YPR_OK) {
            s->key[s->nset] = k;
            s->ival[s->nset++] = i;
        }
    }
    s->ntensors = ypr_model_num_tensors(m);
    assert_true(s->ntensors > 0);
    s->names = calloc((size_t)s->ntensors, sizeof *s->names);
    s->data = calloc((size_t)s->ntensors, sizeof *s->data);
    s->numel = calloc((size_t)s->ntensors, sizeof *s->numel);
    for (int t = 0; t < s->ntensors; t++) {
        const char *name;
        int ndim;
        int64_t shape[6], n = 1;
        const float *d;
        assert_int_equal(ypr_model_tensor(m, t, &name, &ndim, shape, &d), YPR_OK);
        for (int k = 0; k < ndim; k++)
            n *= shape[k];
        s->names[t] = strdup(name);
        s->numel[t] = n;
        s->data[t] = malloc((size_t)n * sizeof(float));
        memcpy(s->data[t], d, (size_t)n * sizeof(float));
    }
    assert_int_equal(ypr_model_detect(m, rgb, w, h, s->dets, 300, &s->ndet), YPR_OK);
}

static void release(snapshot *s)
{
    for (int t = 0; t < s->ntensors; t++) {
        free(s->names[t]);
        free(s->data[t]);
    }
    free(s->names);
    free(s->data);
    free(s->numel);
}

static void same(const snapshot *a, const snapshot *b)
{
    assert_int_equal(a->nset, b->nset);
    for (int i = 0; i < a->nset; i++) {
        assert_int_equal(a->key[i], b->key[i]);
        assert_int_equal(a->is_float[i], b->is_float[i]);
        assert_true(a->fval[i] == b->fval[i]);
        assert_true(a->ival[i] == b->ival[i]);
    }
    assert_int_equal(a->ntensors, b->ntensors);
    for (int t = 0; t < a->ntensors; t++) {
        assert_string_equal(a->names[t], b->names[t]);
        assert_true(a->numel[t] == b->numel[t]);
        assert_memory_equal(a->data[t], b->data[t], (size_t)a->numel[t] * sizeof(float));
    }
    assert_int_equal(a->ndet, b->ndet);
    assert_memory_equal(a->dets, b->dets, (size_t)a->ndet * 6 * sizeof(float));
}

static void test_model_unchanged(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    /* settings far from the evaluator's (conf 0.001, IoU 0.65, 300, multi-label) */
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, 0.2), YPR_OK);
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_IOU_THRESHOLD, 0.3), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_MAX_DET, 40), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_AGNOSTIC_NMS, 1), YPR_OK);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, 96), YPR_OK);
    char path[1200];
    snprintf(path, sizeof path, "%s/e2e/images/val01.png", data_dir);
    uint8_t *rgb;
    int w, h;
    assert_int_equal(ypr_image_load(path, &rgb, &w, &h), YPR_OK);
    snapshot before, after;
    take(m, rgb, w, h, &before);
    assert_true(before.nset >= 6);
    assert_true(before.ndet > 0 && before.ndet <= 40);
    for (int i = 0; i < before.ndet; i++)
        assert_true(before.dets[i * 6 + 4] > 0.2f);

    ypr_dataset *ds = e2e_dataset();
    double m50, map;
    run_eval(m, ds, 2, 1, 0, &m50, &map);
    assert_true(m50 > 0.2);
    take(m, rgb, w, h, &after);
    same(&before, &after);
    release(&after);

    if (test_quick())
        goto done;   /* quick scope: pruner's test_sensitivity checks the same on its net */
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    const double ratios[1] = {0.5};
    char *json = NULL;
    assert_int_equal(ypr_pruner_sensitivity(p, ds, 128, 4, ratios, 1, NULL, NULL, &json),
                     YPR_OK);
    assert_non_null(strstr(json, "\"base_map50\":"));
    ypr_free(json);
    take(m, rgb, w, h, &after);
    same(&before, &after);
    release(&after);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
done:
    release(&before);
    ypr_free(rgb);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

int main(void)
{
    test_threads_from_env();
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detections_roundtrip),
        cmocka_unit_test(test_detection_file_errors),
        cmocka_unit_test(test_matches_testpy),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_nothing_to_evaluate),
        cmocka_unit_test(test_model_unchanged),
    };
    return cmocka_run_group_tests_name("evaluator", tests, NULL, NULL);
}
