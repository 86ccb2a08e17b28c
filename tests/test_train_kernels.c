/* The training loops of the kernel table (act_bwd, sgd), run once per
 * kernel set (YPR_SIMD=scalar|avx2|avx512|neon; exit 77 where this CPU or
 * build lacks the set), against the scalar references:
 *   sgd: bit-exact for every mode (the references are PyTorch-exact, see
 *   test_optim);
 *   act_bwd: bit-exact for identity, ReLU and leaky ReLU; within
 *   4e-6·|gy|·(1 + |z|) for SiLU, sigmoid and hard-swish.
 *   dot_block (the weight gradient's dot products): within 1e-5 of the sum's
 *   magnitude, against sums in double.
 * The references themselves are checked against hand-worked values and
 * central differences of the activations in double. The x86 template
 * (x86_vec.h + x86_train.h) is also instantiated over plain C lanes at 16
 * lanes, so the AVX-512 loops run on machines without AVX-512. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>


#include "lib/kernels/kernels.h"
#include "test_util.h"

typedef void (*act_bwd_fn)(const float *, const float *, float *, int64_t, int, float);
typedef void (*sgd_fn)(float *, const float *, float *, int64_t, float, float, float, int);
typedef void (*dot_fn)(int64_t, const float *, int64_t, const float *const *, float *, int64_t,
                       int64_t, int64_t);

static const ypr_ktable *kt;

static const int64_t lens[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 77, 1000,
                               1029};
#define NLENS ((int)(sizeof lens / sizeof lens[0]))

static void fill(ypr_rng *r, float *p, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * ypr__rng_uniform(r);
}

static void check_act_bwd(const char *what, act_bwd_fn fn)
{
    ypr_rng r;
    ypr__rng_seed(&r, 5);
    float *z = malloc(1100 * sizeof(float)), *gy = malloc(1100 * sizeof(float));
    float *a = malloc(1100 * sizeof(float)), *b = malloc(1100 * sizeof(float));
    assert_true(z && gy && a && b);
    for (int act = 0; act < YPR_ACT_COUNT_; act++)
        for (int li = 0; li < NLENS; li++) {
            int64_t n = lens[li];
            fill(&r, z, n, -30, 30);
            fill(&r, gy, n, -2, 2);
            if (n > 9) {
                z[0] = 0.0f; z[1] = -88.0f; z[2] = 88.0f; z[3] = -3.0f; z[4] = 3.0f;
                z[5] = -0.0f; z[6] = 1e-30f; z[7] = -1e-30f; z[8] = 0.5f;
            }
            const float alpha = 0.1f;
            ypr__act_bwd_ref(z, gy, a, n, act, alpha);
            fn(z, gy, b, n, act, alpha);
            for (int64_t i = 0; i < n; i++) {
                int exact = act == YPR_ACT_IDENTITY || act == YPR_ACT_RELU ||
                            act == YPR_ACT_LEAKY;
                float tol = exact ? 0.0f : 4e-6f * fabsf(gy[i]) * (1.0f + fabsf(z[i]));
                if (!(fabsf(a[i] - b[i]) <= tol) && memcmp(&a[i], &b[i], sizeof(float)))
                    fail_msg("%s act %d n %lld [%lld]: z %g gy %g: %.9g, reference %.9g", what,
                             act, (long long)n, (long long)i, z[i], gy[i], b[i], a[i]);
            }
            /* in place: gz may be gy */
            memcpy(b, gy, (size_t)n * sizeof(float));
            fn(z, b, b, n, act, alpha);
            for (int64_t i = 0; i < n; i++) {
                float tol = 4e-6f * fabsf(gy[i]) * (1.0f + fabsf(z[i]));
                if (!(fabsf(a[i] - b[i]) <= tol) && memcmp(&a[i], &b[i], sizeof(float)))
                    fail_msg("%s in place act %d n %lld [%lld]", what, act, (long long)n,
                             (long long)i);
            }
        }
    free(z);
    free(gy);
    free(a);
    free(b);
}

static void check_sgd(const char *what, sgd_fn fn)
{
    ypr_rng r;
    ypr__rng_seed(&r, 9);
    enum { N = 1100 };
    float *p0 = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *b0 = malloc(N * sizeof(float)), *p1 = malloc(N * sizeof(float));
    float *p2 = malloc(N * sizeof(float)), *b1 = malloc(N * sizeof(float));
    float *b2 = malloc(N * sizeof(float));
    assert_true(p0 && g && b0 && p1 && p2 && b1 && b2);
    for (int mode = 0; mode < 8; mode++)
        for (int li = 0; li < NLENS; li++) {
            int64_t n = lens[li];
            fill(&r, p0, n, -1, 1);
            fill(&r, g, n, -0.1f, 0.1f);
            fill(&r, b0, n, -0.5f, 0.5f);
            memcpy(p1, p0, (size_t)n * sizeof(float));
            memcpy(p2, p0, (size_t)n * sizeof(float));
            memcpy(b1, b0, (size_t)n * sizeof(float));
            memcpy(b2, b0, (size_t)n * sizeof(float));
            /* the values where fused and unfused rounding tell apart are
             * common at these magnitudes: a non-fused FMA fails quickly */
            ypr__sgd_ref(p1, g, b1, n, 5e-4f, 0.937f, -0.01f, mode);
            fn(p2, g, b2, n, 5e-4f, 0.937f, -0.01f, mode);
            if (memcmp(p1, p2, (size_t)n * sizeof(float)) ||
                memcmp(b1, b2, (size_t)n * sizeof(float)))
                fail_msg("%s: sgd mode %d n %lld differs from the reference", what, mode,
                         (long long)n);
            if (!(mode & YPR_SGD_MOMENTUM) && memcmp(b0, b2, (size_t)n * sizeof(float)))
                fail_msg("%s: sgd mode %d wrote the buffer", what, mode);
        }
    free(p0);
    free(g);
    free(b0);
    free(p1);
    free(p2);
    free(b1);
    free(b2);
}

/* dot_block against sums in double: within 1e-5·(Σ|a·b| + |prefill|) + 1e-30, every
 * (len, m, n) edge of the register tiles, rows with a stride past len, c written only in
 * its m×n corner. */
static void check_dot(const char *what, dot_fn fn)
{
    ypr_rng r;
    ypr__rng_seed(&r, 9);
    static const int64_t dlens[] = {1, 3, 7, 8, 9, 16, 17, 33, 64, 100, 256};
    enum { LD = 260, MAXM = 14, MAXN = 11, LDC = 16 };
    float *a = malloc(MAXM * LD * sizeof(float)), *b = malloc(MAXN * LD * sizeof(float));
    float c[MAXM * LDC], c0[MAXM * LDC];
    assert_true(a && b);
    fill(&r, a, MAXM * LD, -1, 1);
    fill(&r, b, MAXN * LD, -1, 1);
    const float *rows[MAXN];   /* b rows out of order, apart by more than len */
    for (int j = 0; j < MAXN; j++)
        rows[j] = b + (int64_t)((j * 7) % MAXN) * LD;
    for (int li = 0; li < (int)(sizeof dlens / sizeof dlens[0]); li++)
        for (int64_t m = 1; m <= MAXM; m += m < 8 ? 1 : 3)
            for (int64_t n = 1; n <= MAXN; n += n < 6 ? 1 : 2) {
                int64_t len = dlens[li];
                fill(&r, c0, MAXM * LDC, -1, 1);
                memcpy(c, c0, sizeof c);
                fn(len, a, LD, rows, c, LDC, m, n);
                for (int64_t i = 0; i < MAXM; i++)
                    for (int64_t j = 0; j < LDC; j++) {
                        float got = c[i * LDC + j];
                        if (i >= m || j >= n) {
                            if (got != c0[i * LDC + j])
                                fail_msg("%s: len %lld %lldx%lld wrote c[%lld][%lld]", what,
                                         (long long)len, (long long)m, (long long)n,
                                         (long long)i, (long long)j);
                            continue;
                        }
                        double sum = c0[i * LDC + j], mag = fabs(sum);
                        for (int64_t q = 0; q < len; q++) {
                            double t = (double)a[i * LD + q] * rows[j][q];
                            sum += t;
                            mag += fabs(t);
                        }
                        if (fabs(got - sum) > 1e-5 * mag + 1e-30)
                            fail_msg("%s: len %lld %lldx%lld c[%lld][%lld] %.9g, want %.9g",
                                     what, (long long)len, (long long)m, (long long)n,
                                     (long long)i, (long long)j, got, sum);
                    }
            }
    free(a);
    free(b);
}

/* The references against independent values: hand-worked derivatives and
 * central differences of the activations evaluated in double. */
static double act_d(double x, int act)
{
    switch (act) {
    case YPR_ACT_SILU: return x / (1.0 + exp(-x));
    case YPR_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case YPR_ACT_HARDSWISH: {
        double r = x + 3.0;
        r = r < 0 ? 0 : (r > 6 ? 6 : r);
        return x * r / 6.0;
    }
    default: return x;
    }
}

static void test_references(void **state)
{
    (void)state;
    assert_true(ypr__act_grad_ref(0.0f, YPR_ACT_SILU, 0) == 0.5f);
    assert_true(ypr__act_grad_ref(0.0f, YPR_ACT_SIGMOID, 0) == 0.25f);
    assert_true(ypr__act_grad_ref(-1.0f, YPR_ACT_LEAKY, 0.1f) == 0.1f);
    assert_true(ypr__act_grad_ref(2.0f, YPR_ACT_LEAKY, 0.1f) == 1.0f);
    assert_true(ypr__act_grad_ref(0.0f, YPR_ACT_RELU, 0) == 0.0f);
    assert_true(ypr__act_grad_ref(-3.0f, YPR_ACT_HARDSWISH, 0) == -0.5f);   /* PyTorch's knee */
    assert_true(ypr__act_grad_ref(-3.5f, YPR_ACT_HARDSWISH, 0) == 0.0f);
    assert_true(ypr__act_grad_ref(3.5f, YPR_ACT_HARDSWISH, 0) == 1.0f);
    static const int acts[] = {YPR_ACT_SILU, YPR_ACT_SIGMOID, YPR_ACT_HARDSWISH};
    for (int a = 0; a < 3; a++)
        for (double x = -12.25; x <= 12; x += 0.5) {
            double h = 1e-5, fd = (act_d(x + h, acts[a]) - act_d(x - h, acts[a])) / (2 * h);
            double g = ypr__act_grad_ref((float)x, acts[a], 0);
            if (fabs(g - fd) > 1e-5)
                fail_msg("act %d at %g: %.9g, central difference %.9g", acts[a], x, g, fd);
        }
    /* hand-worked SGD, exactly representable: g 0.5, p 1, wd 0.25, m 0.5,
     * lr 0.5, buf 2 → d = 0.75, buf = 1.75, d = 1.625, p = 0.1875 */
    float p = 1.0f, g = 0.5f, buf = 2.0f;
    ypr__sgd_ref(&p, &g, &buf, 1, 0.25f, 0.5f, -0.5f, 7);
    assert_true(buf == 1.75f && p == 0.1875f);
    /* the last step is fused: (1 + 2^−23)·(1 − 2^−24) rounds to 1 on its
     * own, so an unfused 1 − d·lr would give 0; fused it is exact */
    p = 1.0f;
    g = 1.0f + 0x1p-23f;
    ypr__sgd_ref(&p, &g, &buf, 1, 0.0f, 0.0f, -(1.0f - 0x1p-24f), 0);
    assert_true(p == -0x1p-24f + 0x1p-47f);
}

static void test_act_bwd(void **state)
{
    (void)state;
    check_act_bwd(kt->name, kt->act_bwd);
}

static void test_sgd(void **state)
{
    (void)state;
    check_sgd(kt->name, kt->sgd);
}

static void test_dot(void **state)
{
    (void)state;
    check_dot("reference", ypr__dot_block_ref);
    check_dot(kt->name, kt->dot_block);
}

/* ---- the x86 template over plain C lanes (as in test_kernels.c) */
#include "xv_plain16.h"
#include "lib/kernels/x86/x86_vec.h"
#define XV_DOT_MR 6
AI void xv_hsum4_add(xv_f a, xv_f b, xv_f c, xv_f d, float *dst, int n)
{
    const xv_f v[4] = {a, b, c, d};
    for (int q = 0; q < n; q++) {
        float s = 0.0f;
        for (int l = 0; l < XV_VL; l++)
            s += v[q].v[l];
        dst[q] += s;
    }
}
#include "lib/kernels/x86/x86_train.h"

static void test_x86_template(void **state)
{
    (void)state;
    check_act_bwd("x86_train.h@16", act_bwd_vec);
    check_sgd("x86_train.h@16", sgd_vec);
    check_dot("x86_train.h@16", dot_block_vec);
    (void)scale_bias_act_vec;
    (void)maxpool_2x2s2_vec;
    (void)maxpool_s1_vec;
}

int main(void)
{
    int rc = test_simd_from_env();
    if (rc)
        return rc;
    kt = ypr__kt();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_act_bwd),
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_x86_template),
    };
    return cmocka_run_group_tests_name(kt->name, tests, NULL, NULL);
}
