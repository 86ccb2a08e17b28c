/* The public API, through the installed header and the shared library only. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "yolopr.h"

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(ypr_version_number(), YPR_VERSION_NUMBER);
    assert_string_equal(ypr_version_string(), YPR_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", YPR_VERSION_MAJOR, YPR_VERSION_MINOR, YPR_VERSION_PATCH);
    assert_string_equal(buf, ypr_version_string());
}

static void test_status(void **state)
{
    (void)state;
    assert_string_equal(ypr_err_name(YPR_EINVAL), "YPR_EINVAL");
    assert_int_equal(YPR_EINVAL, -1);
    assert_int_equal(YPR_EINTERNAL, -11);
    assert_string_equal(ypr_strerror(YPR_ECANCELED), "canceled by callback");
}

static void test_simd(void **state)
{
    (void)state;
    const char *active = ypr_simd_active();
    assert_non_null(active);
    assert_true(ypr_simd_available(active));
    assert_true(ypr_simd_available("scalar"));
    assert_int_equal(ypr_simd_select("scalar"), YPR_OK);
    assert_string_equal(ypr_simd_active(), "scalar");
    assert_int_equal(ypr_simd_select("mmx"), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "mmx"));
    assert_int_equal(ypr_simd_select(NULL), YPR_EINVAL);
#if defined(__x86_64__)
    assert_int_equal(ypr_simd_available("neon"), 0);
    assert_int_equal(ypr_simd_select("neon"), YPR_EUNSUPPORTED);
    /* the avx512 file is built with -mavx512f/bw/vl/dq: it needs them all */
    if (ypr_simd_available("avx512")) {
        assert_true(ypr_cpu_has(YPR_CPU_AVX512F) && ypr_cpu_has(YPR_CPU_AVX512BW) &&
                    ypr_cpu_has(YPR_CPU_AVX512VL) && ypr_cpu_has(YPR_CPU_AVX512DQ) &&
                    ypr_cpu_has(YPR_CPU_AVX2));
    }
    if (ypr_simd_available("avx2"))
        assert_true(ypr_cpu_has(YPR_CPU_AVX2));
#elif defined(__aarch64__)
    assert_true(ypr_cpu_has(YPR_CPU_NEON));
    assert_int_equal(ypr_simd_select("avx2"), YPR_EUNSUPPORTED);
#endif
    assert_int_equal(ypr_simd_select(active), YPR_OK);
    assert_string_equal(ypr_simd_active(), active);
    assert_int_equal(ypr_cpu_has(12345), 0);
}

static void test_threads(void **state)
{
    (void)state;
    assert_int_equal(ypr_set_num_threads(3), YPR_OK);
    assert_int_equal(ypr_get_num_threads(), 3);
    assert_int_equal(ypr_set_num_threads(-1), YPR_ERANGE);
    assert_int_equal(ypr_set_num_threads(5000), YPR_ERANGE);
    assert_int_equal(ypr_get_num_threads(), 3);
    assert_int_equal(ypr_set_num_threads(0), YPR_OK);
    assert_true(ypr_get_num_threads() >= 1);
}

typedef struct seen { int rows, peaks, bad; } seen;

static void on_row(void *user, const char *isa, int threads, const char *kernel,
                   const char *shape, double gflops, double ms)
{
    seen *s = user;
    s->rows++;
    if (strcmp(kernel, "peak") == 0)
        s->peaks++;
    if (!(gflops > 0) || threads != 1 || !shape || strcmp(isa, "scalar") != 0)
        s->bad++;
}

static void test_bench(void **state)
{
    (void)state;
    seen s = {0, 0, 0};
    assert_int_equal(ypr_bench_kernels("scalar", 0, 0, NULL, NULL), YPR_EINVAL);
    assert_int_equal(ypr_bench_kernels("nope", 1, 0.001, on_row, &s), YPR_EUNSUPPORTED);
    assert_int_equal(ypr_bench_kernels("scalar", -2, 0.001, on_row, &s), YPR_EINVAL);
    assert_int_equal(ypr_bench_kernels("scalar", 1, NAN, on_row, &s), YPR_EINVAL);
    assert_int_equal(s.rows, 0);

    double g = -1;
    assert_int_equal(ypr_bench_peak(NULL, 1, 0.02, NULL), YPR_EINVAL);
    assert_int_equal(ypr_bench_peak("nope", 1, 0.02, &g), YPR_EUNSUPPORTED);
    assert_int_equal(ypr_bench_peak(NULL, 65, 0.02, &g), YPR_EINVAL);
    assert_int_equal(ypr_bench_peak(NULL, 1, -1, &g), YPR_EINVAL);
    assert_int_equal(ypr_bench_peak(NULL, 1, NAN, &g), YPR_EINVAL);
    assert_true(g == -1);
    /* It ran and measured something: never how fast (a loaded machine, or
     * an emulator, may be arbitrarily slow). */
    assert_int_equal(ypr_bench_peak("scalar", 1, 0.02, &g), YPR_OK);
    assert_true(isfinite(g) && g > 0);
}

static int log_count;
static void on_log(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    if (strstr(msg, "mmx"))
        log_count++;
}

static void test_log(void **state)
{
    (void)state;
    ypr_set_log_callback(on_log, NULL, YPR_LOG_DEBUG);
    ypr_simd_select("mmx");
    ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    ypr_simd_select("mmx");
    assert_int_equal(log_count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version), cmocka_unit_test(test_status),
        cmocka_unit_test(test_simd),    cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bench),   cmocka_unit_test(test_log),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
