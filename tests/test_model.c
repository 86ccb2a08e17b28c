/* Models through the public API: built-in architectures against the
 * published parameter counts, agreement with our PyTorch re-implementation
 * (fixture from tests/data/make_model_fixture.py), fuse, checkpoints, detect
 * and bad input. YPR_TEST_DATA names tests/data. */
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

static char data_dir[1024];

static const char *path_of(const char *name)
{
    static char buf[2][1200];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", data_dir, name);
    return buf[k];
}

static void *read_all(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    void *b = malloc(bytes + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, bytes + 1, f), bytes);
    fclose(f);
    return b;
}

static ypr_model *mini(void)
{
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(path_of("model/mini.yaml"), 0, 0, 0, 7, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, path_of("model/mini.safetensors"), 1), YPR_OK);
    return m;
}

/* max |y − ref| / (|ref| + 1e-3) over a level, checked ≤ 1e-4 */
static void compare_level(ypr_model *m, int level, const float *ref, size_t n, double tol)
{
    int64_t s[5];
    assert_int_equal(ypr_model_output(m, level, NULL, s), YPR_OK);
    assert_int_equal((size_t)(s[0] * s[1] * s[2] * s[3] * s[4]), n);
    float *o = malloc(n * sizeof(float));
    assert_int_equal(ypr_model_output(m, level, o, s), YPR_OK);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(o[i] - ref[i]) / (fabs(ref[i]) + 1e-3);
        if (e > worst)
            worst = e;
    }
    free(o);
    if (worst > tol)
        fail_msg("level %d: max relative error %g > %g", level, worst, tol);
}

static const size_t out_n[2] = {1 * 3 * 16 * 16 * 8, 1 * 3 * 8 * 8 * 8};

static void check_against_torch(ypr_model *m)
{
    float *x = read_all(path_of("model/mini_input.bin"), 3 * 64 * 64 * 4);
    assert_int_equal(ypr_model_forward(m, x, 1, 64, 64), YPR_OK);
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "model/mini_out%d.bin", l);
        float *ref = read_all(path_of(name), out_n[l] * 4);
        compare_level(m, l, ref, out_n[l], 1e-4);
        free(ref);
    }
    free(x);
}

static void test_builtin_counts(void **state)
{
    (void)state;
    ypr_model *m;
    int64_t macs = 0;
    assert_int_equal(ypr_model_from_cfg("yolov7", 20, 0, 0, 1, &m), YPR_OK);
    assert_int_equal(ypr_model_num_params(m), 37299042);          /* YOLOv7 paper cfg, nc 20 */
    assert_int_equal(ypr_model_macs(m, 416, 416, 1, &macs), YPR_OK);
    assert_true(macs > 22.12e9 && macs < 22.14e9);                 /* 22.13 G (REFERENCE.md) */
    assert_int_equal(ypr_model_num_levels(m), 3);
    assert_int_equal(ypr_model_num_classes(m), 20);
    ypr_model_free(m);
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 20, 0, 0, 1, &m), YPR_OK);
    assert_int_equal(ypr_model_num_params(m), 6066402);
    assert_int_equal(ypr_model_macs(m, 416, 416, 1, &macs), YPR_OK);
    assert_true(macs > 2.78e9 && macs < 2.79e9);                   /* 2.785 G */
    ypr_model_free(m);
    assert_int_equal(ypr_model_from_cfg("yolov7x", 80, 0, 0, 1, &m), YPR_OK);
    assert_true(ypr_model_num_params(m) > 70e6 && ypr_model_num_params(m) < 72e6);
    ypr_model_free(m);
    /* width multiple shrinks every layer (rounded to multiples of 8) */
    assert_int_equal(ypr_model_from_cfg("yolov7", 20, 0, 0.25, 1, &m), YPR_OK);
    assert_true(ypr_model_num_params(m) < 37299042 / 10);
    ypr_model_free(m);
}

static void test_matches_pytorch(void **state)
{
    (void)state;
    ypr_model *m = mini();
    assert_int_equal(ypr_model_num_params(m), 20768);   /* manifest: PyTorch's count */
    int64_t before = 0, after = 0;
    assert_int_equal(ypr_model_memory(m, &before), YPR_OK);
    assert_true(before >= 20768 * 4);                   /* at least the parameters */
    check_against_torch(m);
    assert_int_equal(ypr_model_memory(m, &after), YPR_OK);
    assert_true(after > before);                        /* plus a plan's arena and packs */
    /* other shapes get their own cached plans (sharing packed weights) */
    float *z = calloc(3 * 96 * 128, sizeof(float));
    for (int size = 32; size <= 96; size += 32)
        for (int rep = 0; rep < 2; rep++)
            assert_int_equal(ypr_model_forward(m, z, 1, size, size + 32), YPR_OK);
    free(z);
    check_against_torch(m);
    /* thread count does not change the result */
    assert_int_equal(ypr_model_set_threads(m, 1), YPR_OK);
    check_against_torch(m);
    ypr_model_free(m);
}

/* Every 3×3 stride-1 conv forced through Winograd F(4×4, 3×3)
 * (YPR_CONV_ALGO=winograd, read when a plan is made), through F(2×2, 3×3)
 * (winograd2), every 3×3 stride-2 conv through the direct kernels (direct),
 * then none of these (gemm): all agree with PyTorch within 1e-4, plain and
 * fused, and each Winograd form differs from the GEMM path (so it ran). The
 * direct stride-2 conv may equal it bit for bit: both sum each output in
 * the same order where K fits one GEMM block (test_conv_s2 covers it). */
static void test_matches_pytorch_winograd(void **state)
{
    (void)state;
    enum { NA = 4 };
    static const char *const algos[NA] = {"winograd", "winograd2", "direct", "gemm"};
    const char *old = getenv("YPR_CONV_ALGO");
    char *saved = old ? strdup(old) : NULL;
    float *out[2][NA];
    for (int fused = 0; fused < 2; fused++)
        for (int a = 0; a < NA; a++) {
            assert_int_equal(setenv("YPR_CONV_ALGO", algos[a], 1), 0);
            ypr_model *m = mini();
            if (fused)
                assert_int_equal(ypr_model_fuse(m), YPR_OK);
            check_against_torch(m);
            out[fused][a] = malloc(out_n[0] * sizeof(float));
            int64_t s[5];
            assert_int_equal(ypr_model_output(m, 0, out[fused][a], s), YPR_OK);
            ypr_model_free(m);
        }
    if (saved)
        setenv("YPR_CONV_ALGO", saved, 1);
    else
        unsetenv("YPR_CONV_ALGO");
    free(saved);
    for (int fused = 0; fused < 2; fused++) {
        assert_memory_not_equal(out[fused][0], out[fused][3], out_n[0] * sizeof(float));
        assert_memory_not_equal(out[fused][1], out[fused][3], out_n[0] * sizeof(float));
        assert_memory_not_equal(out[fused][0], out[fused][1], out_n[0] * sizeof(float));
        for (int a = 0; a < NA; a++)
            free(out[fused][a]);
    }
}

/* A batch of two gives each image the batch-of-one result (batch 1 uses
 * zero-copy concats, larger batches copy). */
static void test_batch(void **state)
{
    (void)state;
    ypr_model *m = mini();
    float *x = read_all(path_of("model/mini_input.bin"), 3 * 64 * 64 * 4);
    float *x2 = malloc(2 * 3 * 64 * 64 * 4);
    /* which plan ran: none yet; then the float plan on the active kernels */
    assert_string_equal(ypr_model_plan_name(NULL), "none");
    assert_string_equal(ypr_model_plan_name(m), "none");
    assert_int_equal(ypr_model_forward(m, x, 1, 64, 64), YPR_OK);
    char want[64];
    snprintf(want, sizeof want, "float (%s)", ypr_simd_active());
    assert_string_equal(ypr_model_plan_name(m), want);
    for (int i = 0; i < 3 * 64 * 64; i++) {
        x2[i] = x[i];
        x2[3 * 64 * 64 + i] = 1.0f - x[i];
    }
    assert_int_equal(ypr_model_forward(m, x2, 2, 64, 64), YPR_OK);
    int64_t s[5];
    float *b2 = malloc(2 * out_n[0] * 4), *b1 = malloc(out_n[0] * 4);
    assert_int_equal(ypr_model_output(m, 0, b2, s), YPR_OK);
    assert_int_equal(s[0], 2);
    for (int img = 0; img < 2; img++) {
        float *xi = img ? x2 + 3 * 64 * 64 : x2;
        assert_int_equal(ypr_model_forward(m, xi, 1, 64, 64), YPR_OK);
        assert_int_equal(ypr_model_output(m, 0, b1, s), YPR_OK);
        for (size_t i = 0; i < out_n[0]; i++)
            assert_true(fabsf(b1[i] - b2[img * out_n[0] + i]) <= 1e-5f * (1 + fabsf(b1[i])));
    }
    free(x); free(x2); free(b1); free(b2);
    ypr_model_free(m);
}

static void test_fuse(void **state)
{
    (void)state;
    ypr_model *m = mini();
    int64_t before = ypr_model_num_params(m);
    assert_int_equal(ypr_model_fuse(m), YPR_OK);
    assert_true(ypr_model_num_params(m) < before);
    char *text = NULL;
    assert_int_equal(ypr_model_summary(m, 64, 64, &text), YPR_OK);
    assert_non_null(strstr(text, "model.14.rbr_reparam"));
    assert_null(strstr(text, "batchnorm"));
    assert_null(strstr(text, "implicit"));
    ypr_free(text);
    check_against_torch(m);
    ypr_model_free(m);
}

static void test_checkpoint_roundtrip(void **state)
{
    (void)state;
    ypr_model *m = mini(), *back = NULL;
    assert_int_equal(ypr_model_fuse(m), YPR_OK);   /* a net no cfg describes */
    assert_int_equal(ypr_model_save(m, "model_ck.safetensors"), YPR_OK);
    assert_int_equal(ypr_model_load("model_ck.safetensors", &back), YPR_OK);
    assert_int_equal(ypr_model_num_params(back), ypr_model_num_params(m));
    check_against_torch(back);
    /* bit-identical outputs */
    float *x = read_all(path_of("model/mini_input.bin"), 3 * 64 * 64 * 4);
    assert_int_equal(ypr_model_forward(m, x, 1, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_forward(back, x, 1, 64, 64), YPR_OK);
    float *a = malloc(out_n[0] * 4), *b = malloc(out_n[0] * 4);
    int64_t s[5];
    assert_int_equal(ypr_model_output(m, 0, a, s), YPR_OK);
    assert_int_equal(ypr_model_output(back, 0, b, s), YPR_OK);
    assert_memory_equal(a, b, out_n[0] * 4);
    free(a); free(b); free(x);
    ypr_model_free(back);
    /* a PyTorch state_dict is not a checkpoint: clear error */
    assert_int_equal(ypr_model_load(path_of("model/mini.safetensors"), &back), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "mini.safetensors"));
    ypr_model_free(m);
}

static void test_weight_errors(void **state)
{
    (void)state;
    ypr_model *m, *other;
    /* mis-shaped: the same cfg with 4 classes has a wider head */
    assert_int_equal(ypr_model_from_cfg(path_of("model/mini.yaml"), 4, 0, 0, 1, &other), YPR_OK);
    assert_int_equal(ypr_model_save(other, "model_nc4.safetensors"), YPR_OK);
    m = mini();
    float before[8];
    int64_t s[5];
    assert_int_equal(ypr_model_load_weights(m, "model_nc4.safetensors", 0), YPR_ESHAPE);
    assert_non_null(strstr(ypr_last_error(), "model.17.m.0.weight"));
    assert_non_null(strstr(ypr_last_error(), "[27, 8, 1, 1]"));
    assert_non_null(strstr(ypr_last_error(), "[24, 8, 1, 1]"));
    /* untouched after the failed load */
    check_against_torch(m);
    (void)before; (void)s;
    ypr_model_free(other);
    /* missing tensors: a smaller net whose first layer matches mini's */
    static const char small[] =
        "nc: 3\nwidth_multiple: 0.25\nanchors:\n  - [10,13, 16,30, 33,23]\n"
        "backbone:\n  [[-1, 1, Conv, [32, 3, 1]],\n   [-1, 1, Conv, [32, 1, 2]]]\n"
        "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n";
    assert_int_equal(ypr_model_from_cfg_text(small, strlen(small), 0, 1, &other), YPR_OK);
    assert_int_equal(ypr_model_save(other, "model_small.safetensors"), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, "model_small.safetensors", 0), YPR_ENOTFOUND);
    assert_non_null(strstr(ypr_last_error(), "model.2.conv.weight is missing"));
    ypr_model_free(other);
    assert_int_equal(ypr_model_load_weights(m, "no/such/file.safetensors", 0), YPR_EIO);
    assert_int_equal(ypr_model_check_finite(m), YPR_OK);
    ypr_model_free(m);
}

static void expect_cfg_error(const char *text, int code, const char *needle)
{
    ypr_model *m = (ypr_model *)1;
    int rc = ypr_model_from_cfg_text(text, strlen(text), 0, 1, &m);
    if (rc != code || !strstr(ypr_last_error(), needle))
        fail_msg("cfg error: got %d '%s', want %d containing '%s'", rc, ypr_last_error(), code, needle);
    assert_null(m);
}

static void test_cfg_errors(void **state)
{
    (void)state;
    static const char head[] = "nc: 2\nanchors:\n  - [10,13, 16,30]\nbackbone:\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Frobnicate, [3]],\n  ]\n"
             "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n", head);
    expect_cfg_error(buf, YPR_EUNSUPPORTED, "<cfg text>:6:");
    assert_non_null(strstr(ypr_last_error(), "Frobnicate"));
    snprintf(buf, sizeof buf, "%s  [[-1, 1, Conv, [16, 3, 2]],\n   [-5, 1, Conv, [3]],\n  ]\n"
             "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n", head);
    expect_cfg_error(buf, YPR_EFORMAT, "out of range");
    snprintf(buf, sizeof buf, "%s  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Conv, [3, 3, 1]\n  ]\n"
             "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n", head);
    expect_cfg_error(buf, YPR_EFORMAT, "expected ',' or ']'");
    expect_cfg_error("nc: 2\n  bad: indent\n", YPR_EFORMAT, "<cfg text>:2:");
    expect_cfg_error("nc: 2\n", YPR_EFORMAT, "missing 'backbone'");
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg("no-such-cfg.yaml", 0, 0, 0, 0, &m), YPR_ENOTFOUND);
    assert_non_null(strstr(ypr_last_error(), "no-such-cfg.yaml"));
    assert_int_equal(ypr_model_from_cfg(".", 0, 0, 0, 0, &m), YPR_EIO);   /* a directory */
    assert_non_null(strstr(ypr_last_error(), "not a regular file"));
    /* a valid minimal cfg builds and runs */
    snprintf(buf, sizeof buf, "%s  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Conv, [3, 3, 1]],\n  ]\n"
             "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n", head);
    assert_int_equal(ypr_model_from_cfg_text(buf, strlen(buf), 0, 1, &m), YPR_OK);
    float x[3 * 33 * 32] = {0};
    assert_int_equal(ypr_model_forward(m, x, 1, 32, 32), YPR_OK);
    assert_int_equal(ypr_model_forward(m, x, 1, 33, 32), YPR_OK);   /* conv-only net: any size */
    assert_int_equal(ypr_model_output(m, 5, NULL, (int64_t[5]){0}), YPR_ERANGE);
    ypr_model_free(m);
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 2, 0, 0, 0, &m), YPR_OK);
    float *big = calloc(3 * 48 * 48, sizeof(float));
    assert_int_equal(ypr_model_forward(m, big, 1, 48, 48), YPR_ESHAPE);   /* not a multiple of 32 */
    free(big);
    ypr_model_free(m);
}

/* yolov7-tiny as PyYAML dumps it (tests/data/make_yaml_cfgs.py: block
 * sequences at column 0, leaves in flow style, all block, all flow, None as
 * null) builds the built-in's net: the same tensors, names and shapes. */
static void test_pyyaml_cfgs(void **state)
{
    (void)state;
    static const char *const files[] = {"yaml/yolov7-tiny-leaves.yaml",
                                        "yaml/yolov7-tiny-block.yaml",
                                        "yaml/yolov7-tiny-flow.yaml"};
    ypr_model *ref = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 20, 0, 0, 1, &ref), YPR_OK);
    assert_int_equal(ypr_model_num_params(ref), 6066402);
    for (size_t f = 0; f < sizeof files / sizeof files[0] + 1; f++) {
        ypr_model *m = NULL;
        if (f < sizeof files / sizeof files[0]) {
            int rc = ypr_model_from_cfg(path_of(files[f]), 20, 0, 0, 1, &m);
            if (rc != YPR_OK)
                fail_msg("%s: %s", files[f], ypr_last_error());
        } else {   /* the first with a UTF-8 byte-order mark, as some editors save it */
            FILE *fp = fopen(path_of(files[0]), "rb");
            assert_non_null(fp);
            char text[16384] = "\xEF\xBB\xBF";
            size_t n = fread(text + 3, 1, sizeof text - 4, fp);
            fclose(fp);
            assert_true(n > 1000 && n < sizeof text - 4);
            assert_int_equal(ypr_model_from_cfg_text(text, n + 3, 20, 1, &m), YPR_OK);
        }
        assert_int_equal(ypr_model_num_params(m), 6066402);
        assert_int_equal(ypr_model_num_tensors(m), ypr_model_num_tensors(ref));
        for (int i = 0; i < ypr_model_num_tensors(ref); i++) {
            const char *a, *b;
            int da, db;
            int64_t sa[6], sb[6];
            assert_int_equal(ypr_model_tensor(ref, i, &a, &da, sa, NULL), YPR_OK);
            assert_int_equal(ypr_model_tensor(m, i, &b, &db, sb, NULL), YPR_OK);
            assert_string_equal(a, b);
            assert_int_equal(da, db);
            assert_memory_equal(sa, sb, sizeof sa);
        }
        ypr_model_free(m);
    }
    ypr_model_free(ref);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* Bad cfgs from files and text: each a clear error naming file:line, and
 * nothing allocated beyond the stated limits (docs/model.md). */
static void test_cfg_limits(void **state)
{
    (void)state;
    static const char head[] = "nc: 2\nanchors:\n  - [10,13, 16,30]\n";
    static const char tail[] = "head:\n  [[-1, 1, Detect, [nc, anchors]]]\n";
    char buf[2048];
    ypr_model *m = NULL;
    /* malformed YAML in a file: libyaml's message with the file and line */
    write_file("bad_cfg.yaml", "nc: 2\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n"
                               "   [-1, 1, Conv, [3, 3, 1]\nhead: []\n");
    assert_int_equal(ypr_model_from_cfg("bad_cfg.yaml", 0, 0, 0, 0, &m), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "bad_cfg.yaml:5:"));
    assert_null(m);
    write_file("bad_cfg.yaml", "nc: 2\nanchors: &a [[10, 13]]\nagain: *a\n");
    assert_int_equal(ypr_model_from_cfg("bad_cfg.yaml", 0, 0, 0, 0, &m), YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "bad_cfg.yaml:3: aliases"));
    expect_cfg_error("- just\n- a list\n", YPR_EFORMAT, "<cfg text>:1: a model cfg is a mapping");
    expect_cfg_error("nc: 2\nnc: 3\n", YPR_EFORMAT, "<cfg text>:2: duplicate key 'nc'");
    /* "nc: 2 / anchors" (lines 1-3), `top` (line 4…), backbone `rows`, a Detect head */
    static const struct { const char *top, *rows; int code; const char *needle; } bad[] = {
        /* input channels: only RGB */
        {"ch: 4\n", "[-1, 1, Conv, [16, 3, 2]]", YPR_EUNSUPPORTED,
         "<cfg text>:4: 'ch' is 4: only 3-channel (RGB)"},
        {"ch: 100000\n", "[-1, 1, Conv, [16, 3, 2]]", YPR_EUNSUPPORTED,
         "<cfg text>:4: 'ch' is 100000"},
        /* repeats, before and after depth_multiple */
        {"", "[-1, 1000000, Conv, [16, 3, 2]]", YPR_ERANGE,
         "<cfg text>:5: layer 0: repeat count 1000000 outside 1..64"},
        {"depth_multiple: 1e6\n", "[-1, 2, Conv, [16, 3, 2]]", YPR_EFORMAT,
         "<cfg text>:4: 'depth_multiple' must be a number > 0"},
        {"depth_multiple: 50\n", "[-1, 2, Conv, [16, 3, 2]]", YPR_ERANGE,
         "<cfg text>:6: layer 0: repeat count 2 x depth_multiple 50"},
        {"", "[-1, 2, MP, []]", YPR_EUNSUPPORTED, "repeats (2) are supported for Conv only"},
        /* widths: the channel limit, before any tensor of that size exists */
        {"width_multiple: 1e6\n", "[-1, 1, Conv, [1024, 3, 2]]", YPR_EFORMAT,
         "<cfg text>:4: 'width_multiple' must be a number > 0"},
        {"width_multiple: 100\n", "[-1, 1, Conv, [1024, 3, 2]]", YPR_ERANGE,
         "<cfg text>:6: layer 0: the output (after width_multiple) has 102400 channels (at "
         "most 65536)"},
        /* parameter bytes: 65536 x 65536 x 3 x 3 floats are refused before allocating */
        {"", "[-1, 1, Conv, [65536, 1, 1]],\n   [-1, 1, Conv, [65536, 3, 1]]", YPR_ERANGE,
         "<cfg text>:6: layer 1: tensor model.1.conv.weight takes the parameters past "
         "4294967296 bytes"},
        /* non-finite values */
        {"", "[-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(nan)]]", YPR_EFORMAT,
         "<cfg text>:5: layer 0: the LeakyReLU slope must be a finite"},
        {"", "[-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(1e999)]]", YPR_EFORMAT,
         "the LeakyReLU slope must be a finite"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(buf, sizeof buf, "%s%sbackbone:\n  [%s]\n%s", head, bad[k].top, bad[k].rows,
                 tail);
        expect_cfg_error(buf, bad[k].code, bad[k].needle);
    }
    snprintf(buf, sizeof buf, "%sch: 3\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]]]\n%s", head, tail);
    assert_int_equal(ypr_model_from_cfg_text(buf, strlen(buf), 0, 1, &m), YPR_OK);
    ypr_model_free(m);
    /* anchors */
    static const char *const anchor_rows[2] = {"[10, .nan, 16, 30]", "[10, 13, -16, 30]"};
    static const char *const anchor_err[2] = {"<cfg text>:3: layer 1: cannot read argument: .nan",
                                              "<cfg text>:3: anchors must be positive numbers"};
    for (int k = 0; k < 2; k++) {
        snprintf(buf, sizeof buf, "nc: 2\nanchors:\n  - %s\nbackbone:\n  [[-1, 1, Conv, [16, 3, "
                 "2]]]\n%s", anchor_rows[k], tail);
        expect_cfg_error(buf, YPR_EFORMAT, anchor_err[k]);
    }
    expect_cfg_error("nc: 2.5\n", YPR_EFORMAT, "<cfg text>:1: 'nc' must be a whole number");
    expect_cfg_error("nc: .inf\n", YPR_EFORMAT, "<cfg text>:1: 'nc' must be a number");
    /* node count: 300 layers of 64 repeated Convs would be 57600 nodes */
    size_t cap = 64 * 1024, n = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    n += (size_t)snprintf(big + n, cap - n, "%sbackbone:\n", head);
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, cap - n, "  - [-1, 64, Conv, [8, 1, 1]]\n");
    n += (size_t)snprintf(big + n, cap - n, "%s", tail);
    assert_true(n < cap);
    expect_cfg_error(big, YPR_ERANGE, "the net would have more than 16384 nodes");
    assert_non_null(strstr(ypr_last_error(), "<cfg text>:90: layer 85:"));
    free(big);
}

/* Inputs whose activations exceed YPR_PLAN_MAX_ACTIVATION_BYTES are refused
 * when the plan is made, before the arena is allocated or the input read. */
/* Batches on 2+ threads run image-parallel (each worker a 1-thread batch-1
 * plan when the batch has at least as many images as threads): every image's
 * outputs must equal, bit for bit, a 1-thread batch-1 pass over it, in
 * ypr_model_output and in decode; a batch-1 pass afterwards reports its own
 * outputs; a refused batch is refused as on one thread. */
static void test_batch_parallel(void **state)
{
    (void)state;
    enum { N = 5, HW = 64 * 64, IMG = 3 * HW };
    ypr_model *m = mini();
    float *x = read_all(path_of("model/mini_input.bin"), IMG * 4);
    float *xb = malloc(N * IMG * 4);
    for (int b = 0; b < N; b++)
        for (int i = 0; i < IMG; i++)
            xb[b * IMG + i] = b % 2 ? 1.0f - x[(i + 97 * b) % IMG] : x[(i + 97 * b) % IMG];
    size_t per[2] = {out_n[0], out_n[1]};
    float *ref[2], *got[2];
    float dref[N][60], dgot[60];
    int nref[N], ngot;
    for (int l = 0; l < 2; l++) {
        ref[l] = malloc(N * per[l] * 4);
        got[l] = malloc(N * per[l] * 4);
    }
    assert_int_equal(ypr_model_set_threads(m, 1), YPR_OK);
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, 0.01), YPR_OK);
    int64_t s[5];
    for (int b = 0; b < N; b++) {
        assert_int_equal(ypr_model_forward(m, xb + b * IMG, 1, 64, 64), YPR_OK);
        for (int l = 0; l < 2; l++)
            assert_int_equal(ypr_model_output(m, l, ref[l] + b * per[l], s), YPR_OK);
        assert_int_equal(ypr_model_decode(m, 0, dref[b], 10, &nref[b]), YPR_OK);
    }
    int found = 0;
    for (int b = 0; b < N; b++)
        found += nref[b];
    assert_true(found > 0);   /* the decode comparison below compares something */
    const int threads[] = {2, 3, 8};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        assert_int_equal(ypr_model_set_threads(m, threads[t]), YPR_OK);
        for (int rep = 0; rep < 2; rep++) {   /* the second pass reuses the workers */
            assert_int_equal(ypr_model_forward(m, xb, N, 64, 64), YPR_OK);
            for (int l = 0; l < 2; l++) {
                assert_int_equal(ypr_model_output(m, l, got[l], s), YPR_OK);
                assert_int_equal(s[0], N);
                assert_memory_equal(got[l], ref[l], N * per[l] * 4);
            }
            for (int b = 0; b < N; b++) {
                assert_int_equal(ypr_model_decode(m, b, dgot, 10, &ngot), YPR_OK);
                assert_int_equal(ngot, nref[b]);
                assert_memory_equal(dgot, dref[b], (size_t)ngot * 6 * 4);
            }
            assert_int_equal(ypr_model_decode(m, N, dgot, 10, &ngot), YPR_ERANGE);
        }
        int64_t bytes = 0;
        assert_int_equal(ypr_model_memory(m, &bytes), YPR_OK);
        assert_true(bytes > (int64_t)(N * (per[0] + per[1]) * 4));
    }
    /* a batch-1 pass after a batch reports its own single image */
    assert_int_equal(ypr_model_forward(m, xb + 2 * IMG, 1, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_output(m, 0, got[0], s), YPR_OK);
    assert_int_equal(s[0], 1);
    assert_memory_equal(got[0], ref[0] + 2 * per[0], per[0] * 4);
    /* two images on three threads: two workers */
    assert_int_equal(ypr_model_set_threads(m, 3), YPR_OK);
    assert_int_equal(ypr_model_forward(m, xb + 3 * IMG, 2, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_output(m, 1, got[1], s), YPR_OK);
    assert_int_equal(s[0], 2);
    assert_memory_equal(got[1], ref[1] + 3 * per[1], 2 * per[1] * 4);
    /* refused as on one thread, before any input is read */
    assert_int_equal(ypr_model_set_threads(m, 2), YPR_OK);
    assert_int_equal(ypr_model_forward(m, x, 4096, 2048, 2048), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "activations exceed the 8589934592-byte limit"));
    for (int l = 0; l < 2; l++) {
        free(ref[l]);
        free(got[l]);
    }
    free(x);
    free(xb);
    ypr_model_free(m);
}

static void test_activation_limit(void **state)
{
    (void)state;
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 2, 0, 0, 0, &m), YPR_OK);
    float x[4] = {0};
    assert_int_equal(ypr_model_forward(m, x, 1, 100000, 100000), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "input size 100000x100000 outside 1..16384"));
    assert_int_equal(ypr_model_forward(m, x, 4096, 640, 640), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "node model.0.conv: 4096x32x320x320 activations "
                                              "exceed the 8589934592-byte limit"));
    assert_int_equal(ypr_model_forward(m, x, 1, 16384, 16384), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "plan: batch 1 at 16384x16384 needs"));
    assert_non_null(strstr(ypr_last_error(), "GiB of activations (limit 8.00 GiB)"));
    int64_t bytes = 0;
    assert_int_equal(ypr_model_memory(m, &bytes), YPR_OK);
    assert_true(bytes < (int64_t)100 << 20);   /* no plan was kept */
    ypr_model_free(m);
}

static void test_detect_matches_reference(void **state)
{
    (void)state;
    ypr_model *m = mini();
    uint8_t *img = read_all(path_of("model/mini_image.bin"), 64 * 64 * 3);
    FILE *f = fopen(path_of("model/mini_dets.bin"), "rb");
    assert_non_null(f);
    float ref[300 * 6];
    size_t nref = fread(ref, 6 * sizeof(float), 300, f) ;
    fclose(f);
    assert_true(nref > 10);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, 64), YPR_OK);
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, 0.3), YPR_OK);
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_IOU_THRESHOLD, 0.45), YPR_OK);
    float dets[300 * 6];
    int n = 0;
    assert_int_equal(ypr_model_detect(m, img, 64, 64, dets, 300, &n), YPR_OK);
    assert_int_equal((size_t)n, nref);
    for (size_t i = 0; i < nref; i++) {
        int found = 0;
        for (int j = 0; j < n && !found; j++) {
            const float *a = ref + i * 6, *b = dets + j * 6;
            found = a[5] == b[5] && fabsf(a[4] - b[4]) < 1e-4f && fabsf(a[0] - b[0]) < 1e-3f &&
                    fabsf(a[1] - b[1]) < 1e-3f && fabsf(a[2] - b[2]) < 1e-3f &&
                    fabsf(a[3] - b[3]) < 1e-3f;
        }
        if (!found)
            fail_msg("reference detection %zu (class %g conf %g) not found", i, ref[i * 6 + 5],
                     ref[i * 6 + 4]);
    }
    for (int j = 1; j < n; j++)
        assert_true(dets[j * 6 + 4] <= dets[(j - 1) * 6 + 4]);
    /* capacity limits the rows written */
    assert_int_equal(ypr_model_detect(m, img, 64, 64, dets, 5, &n), YPR_OK);
    assert_int_equal(n, 5);
    /* a non-square image: boxes stay inside it */
    uint8_t *wide = calloc(100 * 40 * 3, 1);
    for (int i = 0; i < 100 * 40 * 3; i++) wide[i] = (uint8_t)(i * 37);
    assert_int_equal(ypr_model_detect(m, wide, 100, 40, dets, 300, &n), YPR_OK);
    for (int j = 0; j < n; j++) {
        assert_true(dets[j * 6] >= 0 && dets[j * 6 + 2] <= 100);
        assert_true(dets[j * 6 + 1] >= 0 && dets[j * 6 + 3] <= 40);
        assert_true(dets[j * 6 + 4] > 0.3f);
    }
    assert_int_equal(ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, 1.5), YPR_ERANGE);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, 65), YPR_ERANGE);
    assert_int_equal(ypr_model_detect(m, NULL, 64, 64, dets, 300, &n), YPR_EINVAL);
    free(wide);
    free(img);
    ypr_model_free(m);
}

/* A pruned net written back for YOLOv7 (SPPCSPC as primitives) is the very
 * cfg committed in tests/data/export (made by check_yolov7_export.py), and
 * rebuilt from it the net matches what PyTorch computed from those files. */
/* One pruning step of 25 % with widths rounded to 8; layers matching
 * `keep` (when given) are not pruned. */
static void prune25(ypr_model *m, const char *keep)
{
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.25), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 8), YPR_OK);
    if (keep)
        assert_int_equal(ypr_pruner_set_layer_ratio(p, keep, 0.0), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
}

static void test_export_matches_pytorch(void **state)
{
    (void)state;
    ypr_model *m = mini(), *back = NULL;
    prune25(m, "model.10.cv7*");
    assert_int_equal(ypr_model_export_yolov7(m, "pruned_mini.yaml", "pruned_mini.safetensors"),
                     YPR_OK);
    FILE *f = fopen("pruned_mini.yaml", "rb");
    assert_non_null(f);
    char a[8192], b[8192];
    size_t na = fread(a, 1, sizeof a, f);
    fclose(f);
    f = fopen(path_of("export/pruned_mini.yaml"), "rb");
    assert_non_null(f);
    size_t nb = fread(b, 1, sizeof b, f);
    fclose(f);
    /* identical apart from the version line */
    const char *ba = strchr(a, '\n'), *bb = strchr(b, '\n');
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(na - (size_t)(ba - a), nb - (size_t)(bb - b));
    assert_memory_equal(ba, bb, na - (size_t)(ba - a));
    assert_int_equal(ypr_model_from_cfg(path_of("export/pruned_mini.yaml"), 0, 0, 0, 1, &back),
                     YPR_OK);
    assert_int_equal(ypr_model_load_weights(back, path_of("export/pruned_mini.safetensors"), 1),
                     YPR_OK);
    float *x = read_all(path_of("model/mini_input.bin"), 3 * 64 * 64 * 4);
    assert_int_equal(ypr_model_forward(back, x, 1, 64, 64), YPR_OK);
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "export/pruned_mini_out%d.bin", l);
        float *r = read_all(path_of(name), out_n[l] * 4);
        compare_level(back, l, r, out_n[l], 1e-4);
        free(r);
    }
    free(x);
    ypr_model_free(back);
    ypr_model_free(m);
}

/* Copy checkpoint `src` to `dst` with its JSON header edited: after the
 * first (every, when `all`) occurrence of `pat`, the text up to `stop` is
 * replaced by `val`; with `val` NULL, `pat`, the value and `stop` are
 * removed. Returns the number of edits. */
static int edit_header(const char *src, const char *dst, const char *pat, const char *stop,
                       const char *val, int all)
{
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size_t len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, len, f), len);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    assert_true(hlen + 8 <= len);
    char *h = malloc(hlen + 1), *out = malloc(2 * hlen + 64);
    assert_non_null(h);
    assert_non_null(out);
    memcpy(h, b + 8, hlen);
    h[hlen] = '\0';
    size_t o = 0;
    int edits = 0;
    const char *at = h, *hit;
    while ((all || !edits) && (hit = strstr(at, pat)) != NULL) {
        const char *v = hit + strlen(pat), *end = strstr(v, stop);
        assert_non_null(end);
        memcpy(out + o, at, (size_t)(hit - at));
        o += (size_t)(hit - at);
        if (val) {
            o += (size_t)sprintf(out + o, "%s%s", pat, val);
            at = end;
        } else {
            at = end + strlen(stop);
        }
        edits++;
    }
    o += (size_t)sprintf(out + o, "%s", at);
    f = fopen(dst, "wb");
    assert_non_null(f);
    unsigned char n8[8];
    for (int i = 0; i < 8; i++)
        n8[i] = (unsigned char)((uint64_t)o >> (8 * i));
    assert_int_equal(fwrite(n8, 1, 8, f), 8);
    assert_int_equal(fwrite(out, 1, o, f), o);
    assert_int_equal(fwrite(b + 8 + hlen, 1, len - 8 - hlen, f), len - 8 - hlen);
    fclose(f);
    free(b);
    free(h);
    free(out);
    return edits;
}

/* mini with one element of `tensor` set to v, saved as `path` */
static void save_with(const char *tensor, int64_t at, float v, const char *path)
{
    ypr_model *m = mini();
    int i = test_tensor_index(m, tensor);
    const float *d;
    int64_t shape[6];
    int ndim;
    assert_int_equal(ypr_model_tensor(m, i, NULL, &ndim, shape, &d), YPR_OK);
    int64_t n = 1;
    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    float *copy = malloc((size_t)n * sizeof(float));
    memcpy(copy, d, (size_t)n * sizeof(float));
    for (int64_t k = 0; k < n; k++)
        if (at < 0 || k == at)
            copy[k] = v;
    assert_int_equal(ypr_model_set_tensor(m, i, copy, n), YPR_OK);
    free(copy);
    assert_int_equal(ypr_model_save(m, path), YPR_OK);
    ypr_model_free(m);
}

static void expect_load_error(const char *path, int code, const char *needle)
{
    ypr_model *back = (ypr_model *)1;
    int rc = ypr_model_load(path, &back);
    if (rc != code || !strstr(ypr_last_error(), needle))
        fail_msg("load %s: got %d '%s', want %d containing '%s'", path, rc, ypr_last_error(), code,
                 needle);
    assert_null(back);
}

/* Values a net cannot run with are refused when weights or a checkpoint are
 * read, naming the tensor or node; a failed load changes nothing. */
static void test_load_validation(void **state)
{
    (void)state;
    ypr_model *m = mini();
    static const struct { const char *tensor; int64_t at; float v; const char *needle; } bad[] = {
        {"model.0.conv.weight", 5, NAN, "tensor model.0.conv.weight: element 5 is nan"},
        {"model.2.bn.weight", 3, INFINITY, "tensor model.2.bn.weight: element 3 is inf"},
        {"model.3.conv.weight", -1, NAN, "tensor model.3.conv.weight: element 0 is nan"},
        {"model.2.bn.running_var", 1, -1.0f, "tensor model.2.bn.running_var: running variance "
                                             "-1 < 0 at channel 1"},
        {"model.17.anchors", 0, NAN, "tensor model.17.anchors: element 0 is nan"},
        {"model.17.anchor_grid", 2, -5.0f, "tensor model.17.anchor_grid: anchor value -5 at 2 "
                                           "is not positive"},
        {"model.17.anchors", 4, 0.0f, "tensor model.17.anchors: anchor value 0 at 4"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        save_with(bad[k].tensor, bad[k].at, bad[k].v, "model_bad.safetensors");
        expect_load_error("model_bad.safetensors", YPR_ERANGE, bad[k].needle);
        assert_int_equal(ypr_model_load_weights(m, "model_bad.safetensors", 0), YPR_ERANGE);
        assert_non_null(strstr(ypr_last_error(), bad[k].needle));
        check_against_torch(m);   /* unchanged */
    }
    /* every tensor NaN (a diverged training run) */
    ypr_model *nan_m = mini();
    for (int i = 0; i < ypr_model_num_tensors(nan_m); i++) {
        int64_t shape[6], n = 1;
        int ndim;
        assert_int_equal(ypr_model_tensor(nan_m, i, NULL, &ndim, shape, NULL), YPR_OK);
        for (int d = 0; d < ndim; d++)
            n *= shape[d];
        float *v = malloc((size_t)n * sizeof(float));
        for (int64_t e = 0; e < n; e++)
            v[e] = NAN;
        assert_int_equal(ypr_model_set_tensor(nan_m, i, v, n), YPR_OK);
        free(v);
    }
    assert_int_equal(ypr_model_save(nan_m, "model_nan.safetensors"), YPR_OK);
    ypr_model_free(nan_m);
    expect_load_error("model_nan.safetensors", YPR_ERANGE, "element 0 is nan");
    assert_int_equal(ypr_model_load_weights(m, "model_nan.safetensors", 1), YPR_ERANGE);
    check_against_torch(m);
    /* the net description: attributes and the format version */
    assert_int_equal(ypr_model_save(m, "model_good.safetensors"), YPR_OK);
    assert_int_equal(edit_header("model_good.safetensors", "model_bad.safetensors",
                                 "\"format_version\":\"", "\"", "7", 0), 1);
    expect_load_error("model_bad.safetensors", YPR_EUNSUPPORTED, "format_version '7'");
    assert_int_equal(edit_header("model_good.safetensors", "model_bad.safetensors",
                                 "\"format_version\":\"", "\"", "", 0), 1);
    expect_load_error("model_bad.safetensors", YPR_EUNSUPPORTED, "format_version ''");
    assert_true(edit_header("model_good.safetensors", "model_bad.safetensors",
                            "\\\"eps\\\":", ",", "-1", 1) > 20);   /* every node's eps */
    expect_load_error("model_bad.safetensors", YPR_EINVAL,
                      "node model.0.bn: BatchNorm eps -1 must be a positive number");
    assert_int_equal(edit_header("model_good.safetensors", "model_bad.safetensors",
                                 "\\\"strides\\\":[4", "]", ",0", 0), 1);   /* [4,0] */
    expect_load_error("model_bad.safetensors", YPR_EFORMAT,
                      "node model.17: stride 1 must be a positive number");
    assert_true(edit_header("model_good.safetensors", "model_bad.safetensors",
                            "\\\"momentum\\\":", ",", "7", 1) > 20);
    expect_load_error("model_bad.safetensors", YPR_EINVAL,
                      "node model.0.bn: BatchNorm momentum 7 outside [0, 1]");
    assert_int_equal(edit_header("model_good.safetensors", "model_bad.safetensors",
                                 "\\\"c\\\":", ",", "4", 0), 1);   /* the input node */
    expect_load_error("model_bad.safetensors", YPR_EUNSUPPORTED,
                      "node input: 4 input channels; only 3-channel (RGB) input");
    ypr_model *back = NULL;
    assert_int_equal(ypr_model_load("model_good.safetensors", &back), YPR_OK);
    ypr_model_free(back);
    ypr_model_free(m);
}

/* The cfg module of every node survives a checkpoint: a pruned net saved and
 * reloaded exports the same YOLOv7 cfg; a checkpoint from before modules were
 * recorded derives them from the tensor names and exports it too. */
static void test_module_identity(void **state)
{
    (void)state;
    ypr_model *m = mini();
    prune25(m, NULL);
    assert_int_equal(ypr_model_export_yolov7(m, "mod_a.yaml", "mod_a.safetensors"), YPR_OK);
    assert_int_equal(ypr_model_save(m, "mod_ck.safetensors"), YPR_OK);
    size_t na, nb;
    char *a = test_slurp("mod_a.yaml", &na);
    assert_non_null(a);
    assert_non_null(strstr(a, "SPPCSPC"));   /* uniform pruning keeps SPPCSPC whole */
    assert_non_null(strstr(a, "RepConv"));
    /* saved, reloaded, exported: the same cfg */
    ypr_model *back = NULL;
    assert_int_equal(ypr_model_load("mod_ck.safetensors", &back), YPR_OK);
    assert_int_equal(ypr_model_export_yolov7(back, "mod_b.yaml", "mod_b.safetensors"), YPR_OK);
    char *b = test_slurp("mod_b.yaml", &nb);
    assert_non_null(b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(b);
    ypr_model_free(back);
    /* an old checkpoint (no "module" fields): derived from the names */
    assert_true(edit_header("mod_ck.safetensors", "mod_old.safetensors", ",\\\"module\\\":\\\"",
                            "\\\"", NULL, 1) > 20);
    assert_int_equal(ypr_model_load("mod_old.safetensors", &back), YPR_OK);
    assert_int_equal(ypr_model_export_yolov7(back, "mod_c.yaml", "mod_c.safetensors"), YPR_OK);
    b = test_slurp("mod_c.yaml", &nb);
    assert_non_null(b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(b);
    ypr_model_free(back);
    /* a layer of an unknown module is written as its primitives (Conv, SP and
     * Concat rows): SPPCSPC renamed "SPPMystery" */
    assert_true(edit_header("mod_ck.safetensors", "mod_unk.safetensors",
                            "\\\"module\\\":\\\"SPP", "\\\"", "Mystery", 1) > 10);
    assert_int_equal(ypr_model_load("mod_unk.safetensors", &back), YPR_OK);
    assert_int_equal(ypr_model_export_yolov7(back, "mod_d.yaml", "mod_d.safetensors"), YPR_OK);
    b = test_slurp("mod_d.yaml", &nb);
    assert_non_null(b);
    assert_null(strstr(b, "SPPCSPC"));
    free(b);
    ypr_model *rebuilt = NULL;
    assert_int_equal(ypr_model_from_cfg("mod_d.yaml", 0, 0, 0, 1, &rebuilt), YPR_OK);
    assert_int_equal(ypr_model_num_params(rebuilt), ypr_model_num_params(m));
    ypr_model_free(rebuilt);
    ypr_model_free(back);
    /* a fused net cannot go back */
    assert_int_equal(ypr_model_fuse(m), YPR_OK);
    assert_int_equal(ypr_model_export_yolov7(m, "mod_e.yaml", "mod_e.safetensors"),
                     YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "fused"));
    free(a);
    ypr_model_free(m);
}

/* Truncated and bit-flipped cfg text: an error or a model, never a crash
 * (this runs under ASan in CI). */
/* ONNX through the public header alone: export, load back, same outputs;
 * NULL arguments and an unwritable path refused (docs/onnx.md). */
static void test_onnx_public(void **state)
{
    (void)state;
    ypr_model *m = mini(), *back = NULL;
    assert_int_equal(ypr_model_export_onnx(NULL, "x.onnx"), YPR_EINVAL);
    assert_int_equal(ypr_model_export_onnx(m, NULL), YPR_EINVAL);
    assert_int_equal(ypr_model_export_onnx(m, "no-such-dir/x.onnx"), YPR_EIO);
    assert_int_equal(ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, 64), YPR_OK);
    assert_int_equal(ypr_model_export_onnx(m, "public.onnx"), YPR_OK);
    assert_int_equal(ypr_model_load("public.onnx", &back), YPR_OK);
    assert_int_equal(ypr_model_num_params(back), ypr_model_num_params(m));
    assert_int_equal(ypr_model_num_tensors(back), ypr_model_num_tensors(m));
    float *x = malloc(3 * 64 * 64 * sizeof *x);
    for (int i = 0; i < 3 * 64 * 64; i++)
        x[i] = (float)(i % 255) / 255.0f;
    assert_int_equal(ypr_model_forward(m, x, 1, 64, 64), YPR_OK);
    assert_int_equal(ypr_model_forward(back, x, 1, 64, 64), YPR_OK);
    for (int l = 0; l < ypr_model_num_levels(m); l++) {
        int64_t s[5];
        assert_int_equal(ypr_model_output(m, l, NULL, s), YPR_OK);
        size_t n = (size_t)(s[0] * s[1] * s[2] * s[3] * s[4]);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        assert_int_equal(ypr_model_output(m, l, a, s), YPR_OK);
        assert_int_equal(ypr_model_output(back, l, b, s), YPR_OK);
        assert_memory_equal(a, b, n * sizeof *a);
        free(a);
        free(b);
    }
    free(x);
    ypr_model_free(back);
    ypr_model_free(m);
    remove("public.onnx");
}

static void test_cfg_fuzz(void **state)
{
    (void)state;
    FILE *f = fopen(path_of("model/mini.yaml"), "rb");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_true(n > 100 && n < sizeof text);
    int ok = 0, bad = 0;
    for (size_t cut = 0; cut < n; cut += 3) {
        ypr_model *m = NULL;
        int rc = ypr_model_from_cfg_text(text, cut, 0, 1, &m);
        if (rc == YPR_OK) ok++; else bad++;
        assert_true(rc == YPR_OK || rc == YPR_EFORMAT || rc == YPR_EUNSUPPORTED);
        ypr_model_free(m);
    }
    assert_true(bad > 0);
    uint64_t s = 12345;
    char mut[4096];
    for (int t = 0; t < 1500; t++) {
        memcpy(mut, text, n);
        for (int k = 0; k < 3; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(s >> 33) % n;
            mut[pos] ^= (char)(1u << ((s >> 20) % 8));
        }
        ypr_model *m = NULL;
        int rc = ypr_model_from_cfg_text(mut, n, 0, 1, &m);
        assert_true(rc <= 0);
        if (rc == YPR_OK) {
            float x[3 * 64 * 64] = {0};
            int fr = ypr_model_forward(m, x, 1, 64, 64);
            assert_true(fr == YPR_OK || fr == YPR_ESHAPE || fr == YPR_EINVAL ||
                        fr == YPR_EUNSUPPORTED);
        }
        ypr_model_free(m);
    }
    (void)ok;
}

int main(void)
{
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_counts),
        cmocka_unit_test(test_matches_pytorch),
        cmocka_unit_test(test_matches_pytorch_winograd),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_parallel),
        cmocka_unit_test(test_fuse),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_weight_errors),
        cmocka_unit_test(test_cfg_errors),
        cmocka_unit_test(test_pyyaml_cfgs),
        cmocka_unit_test(test_cfg_limits),
        cmocka_unit_test(test_activation_limit),
        cmocka_unit_test(test_detect_matches_reference),
        cmocka_unit_test(test_cfg_fuzz),
        cmocka_unit_test(test_export_matches_pytorch),
        cmocka_unit_test(test_load_validation),
        cmocka_unit_test(test_module_identity),
        cmocka_unit_test(test_onnx_public),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
