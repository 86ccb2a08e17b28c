/* Helpers shared by the cmocka tests (header-only: every test is its own
 * executable). Include after <cmocka.h> and "yolopr.h". */
#ifndef YPR_TEST_UTIL_H
#define YPR_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file, NUL-terminated, in a malloc'd buffer; NULL if it cannot be
 * read. *len receives its size. */
static inline char *test_slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : (size_t)1 << 16;
            char *b = realloc(buf, cap + 1);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* YPR_TEST_SCOPE=quick: tests/meson.build sets it for the sanitizer and
 * cross (qemu) builds. Heavy tests then run a representative subset of their
 * arch-independent cases (every kind still asserted); the native build runs
 * them all. See docs/building.md, "What each build covers". */
static inline int test_quick(void)
{
    const char *s = getenv("YPR_TEST_SCOPE");
    return s && strcmp(s, "quick") == 0;
}

/* YPR_TEST_THREADS=N: the process-wide default thread count (ypr_set_num_threads)
 * for the models a heavy test creates. meson runs tests side by side, one per
 * core; a test whose subject is not threading runs best single-threaded then
 * (the pool's workers spin between jobs and would fight the other tests for
 * the cores). Call first thing in main(). */
static inline void test_threads_from_env(void)
{
    const char *s = getenv("YPR_TEST_THREADS");
    int n = s ? atoi(s) : 0;
    if (n > 0 && ypr_set_num_threads(n) != YPR_OK) {
        fprintf(stderr, "YPR_TEST_THREADS=%s refused\n", s);
        exit(1);
    }
}

/* The index of the tensor called NAME (fails the test if there is none). */
static inline int test_tensor_index(const ypr_model *m, const char *name)
{
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *n;
        assert_int_equal(ypr_model_tensor(m, i, &n, NULL, NULL, NULL), YPR_OK);
        if (strcmp(n, name) == 0)
            return i;
    }
    fail_msg("no tensor %s", name);
    return -1;
}

/* YPR_SIMD=NAME for a per-kernel-set test: 77 (skip) when the set is not available
 * here, 1 when the library picked another one, else 0. */
static inline int test_simd_from_env(void)
{
    const char *want = getenv("YPR_SIMD");
    if (want && *want && !ypr_simd_available(want)) {
        fprintf(stderr, "kernel set %s not available here: skipped\n", want);
        return 77;
    }
    if (want && *want && strcmp(ypr_simd_active(), want) != 0) {
        fprintf(stderr, "asked for %s, got %s\n", want, ypr_simd_active());
        return 1;
    }
    return 0;
}

/* ---- the quantization tests' fixtures (tests/data, passed as data_dir) */

/* The mini detector (model/mini.yaml) with the trained weights of the e2e
 * fixture (e2e/mini_trained.safetensors): the float model every
 * quantization test starts from. */
static inline ypr_model *test_mini_trained(const char *data_dir)
{
    char cfg[1200], w[1200];
    snprintf(cfg, sizeof cfg, "%s/model/mini.yaml", data_dir);
    snprintf(w, sizeof w, "%s/e2e/mini_trained.safetensors", data_dir);
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(cfg, 0, 0, 0, 1, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, w, 1), YPR_OK);
    return m;
}

/* The e2e fixture's val split (its images calibrate the quantizers). */
static inline ypr_dataset *test_e2e_val(const char *data_dir)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/e2e", data_dir);
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(dir, "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    return ds;
}

/* A quantizer of m calibrating on ds: scheme, calibration images and input
 * size set, every other setting its default. */
static inline ypr_quantizer *test_quantizer(ypr_model *m, const ypr_dataset *ds, int scheme,
                                            int images, int size)
{
    ypr_quantizer *q;
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SCHEME, scheme), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_CALIB_IMAGES, images), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, size), YPR_OK);
    return q;
}

#endif
