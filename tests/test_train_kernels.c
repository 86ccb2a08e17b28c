/* The training loops of the kernel table (act_bwd, sgd), run once per
 * kernel set (YPR_SIMD=scalar|avx2|avx512|neon; exit 77 where this CPU or
 * build lacks the set), against the scalar references:
 *   sgd: bit-exact for every mode (the references are PyTorch-exact, see
 *   test_optim);
 *   act_bwd: bit-exact for identity, ReLU and leaky ReLU; within
 *   4e-6·|gy|·(1 + |z|) for SiLU, sigmoid and hard-swish.
 *   dot_block (the weight gradient's dot products): within 1e-5 of the sum's
 *   magnitude, against sums in double;
 *   the BatchNorm loops (bn_*): see check_bn.
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

/* ---- BatchNorm in training mode (bn_sums, bn_norm_act, bn_bwd_sums, bn_bwd_dx)
 * against the references: bit-exact for identity, ReLU and leaky ReLU (the
 * same float operations, the same lane order of the sums); with SiLU, sigmoid
 * and hard-swish each gz within act_bwd's 4e-6·|gy|·(1 + |z|), the sums within
 * that summed plus 1e-6 of Σ|terms|, normalize-and-activate within the
 * activation's 2e-6·(1 + |y|). */
typedef struct bn_fns {
    void (*sums)(const float *, int64_t, float, double[2]);
    void (*norm_act)(const float *, float *, int64_t, float, float, float, int, float);
    void (*bwd_sums)(const float *, const float *, float *, int64_t, const ypr_bn_coef *,
                     double[2]);
    void (*bwd_dx)(const float *, const float *, float *, int64_t, const ypr_bn_coef *, int);
} bn_fns;

static const int64_t bn_lens[] = {1, 5, 15, 16, 17, 33, 100, 1023, 1024, 1029, 2100, 3001};

static int act_exact(int act)
{
    return act == YPR_ACT_IDENTITY || act == YPR_ACT_RELU || act == YPR_ACT_LEAKY;
}

static void same_or_close(const char *what, const char *name, int act, int64_t n, int64_t i,
                          double got, double want, double tol)
{
    if (act_exact(act) ? memcmp(&got, &want, sizeof got) != 0 : !(fabs(got - want) <= tol))
        fail_msg("%s %s act %d n %lld [%lld]: %.17g, reference %.17g (tol %.3g)", what, name,
                 act, (long long)n, (long long)i, got, want, act_exact(act) ? 0.0 : tol);
}

static void check_bn(const char *what, const bn_fns *f)
{
    ypr_rng r;
    ypr__rng_seed(&r, 21);
    enum { N = 3001 };
    float *x = malloc(N * sizeof(float)), *gy = malloc(N * sizeof(float));
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    float *pre = malloc(N * sizeof(float));
    assert_true(x && gy && a && b && pre);
    for (int act = 0; act < YPR_ACT_COUNT_; act++)
        for (int li = 0; li < (int)(sizeof bn_lens / sizeof bn_lens[0]); li++) {
            int64_t n = bn_lens[li];
            fill(&r, x, n, 2, 9);           /* an offset mean, as after a conv */
            fill(&r, gy, n, -1, 1);
            fill(&r, pre, n, -3, 3);
            ypr_bn_coef c = {.mu = 5.3f, .invstd = 0.61f, .bias = -0.2f, .act = act,
                             .alpha = 0.1f, .k = 0.7f, .mg = 0.013f, .mgx = -0.021f};
            c.scale = 1.3f * c.invstd;
            /* the bounds of the exp activations' differences */
            double tg = 0, tgx = 0, mg = 0, mgx = 0;
            for (int64_t i = 0; i < n; i++) {
                double z = ((double)x[i] - c.mu) * c.scale + c.bias;
                double xh = fabs(((double)x[i] - c.mu) * c.invstd);
                double e = 4e-6 * fabs(gy[i]) * (1 + fabs(z));
                tg += e;
                tgx += e * xh;
                mg += fabs(gy[i]) * 1.2;     /* |gz| ≤ 1.1·|gy| for every activation */
                mgx += fabs(gy[i]) * 1.2 * xh;
            }
            /* sums: onto a prefilled pair */
            double s0[2] = {0.25, -1.5}, s1[2] = {0.25, -1.5};
            ypr__bn_sums_ref(x, n, 4.0f, s0);
            f->sums(x, n, 4.0f, s1);
            if (memcmp(s0, s1, sizeof s0))
                fail_msg("%s bn_sums n %lld: %.17g %.17g, reference %.17g %.17g", what,
                         (long long)n, s1[0], s1[1], s0[0], s0[1]);
            /* normalize and activate, out of place and in place */
            ypr__bn_norm_act_ref(x, a, n, c.mu, c.scale, c.bias, act, c.alpha);
            f->norm_act(x, b, n, c.mu, c.scale, c.bias, act, c.alpha);
            for (int64_t i = 0; i < n; i++)
                same_or_close(what, "bn_norm_act", act, n, i, b[i], a[i],
                              2e-6 * (1 + fabs(a[i])));
            memcpy(b, x, (size_t)n * sizeof(float));
            f->norm_act(b, b, n, c.mu, c.scale, c.bias, act, c.alpha);
            for (int64_t i = 0; i < n; i++)
                same_or_close(what, "bn_norm_act in place", act, n, i, b[i], a[i],
                              2e-6 * (1 + fabs(a[i])));
            /* backward sums, storing gz and not */
            double q0[2] = {1.0, 2.0}, q1[2] = {1.0, 2.0}, q2[2] = {1.0, 2.0};
            ypr__bn_bwd_sums_ref(x, gy, a, n, &c, q0);
            f->bwd_sums(x, gy, b, n, &c, q1);
            f->bwd_sums(x, gy, NULL, n, &c, q2);
            same_or_close(what, "bn_bwd_sums Σgz", act, n, -1, q1[0], q0[0], tg + 1e-6 * mg);
            same_or_close(what, "bn_bwd_sums Σgz·x̂", act, n, -1, q1[1], q0[1],
                          tgx + 1e-6 * mgx);
            if (memcmp(q1, q2, sizeof q1))
                fail_msg("%s bn_bwd_sums n %lld: the sums depend on storing gz", what,
                         (long long)n);
            for (int64_t i = 0; i < n; i++) {
                double z = ((double)x[i] - c.mu) * c.scale + c.bias;
                same_or_close(what, "bn_bwd_sums gz", act, n, i, b[i], a[i],
                              4e-6 * fabs(gy[i]) * (1 + fabs(z)));
            }
            /* dx in every mode; gy may be gx without recomputation */
            for (int mode = 0; mode < 4; mode++) {
                memcpy(a, pre, (size_t)n * sizeof(float));
                memcpy(b, pre, (size_t)n * sizeof(float));
                ypr__bn_bwd_dx_ref(x, gy, a, n, &c, mode);
                f->bwd_dx(x, gy, b, n, &c, mode);
                int rec = mode & YPR_BN_RECOMPUTE;
                for (int64_t i = 0; i < n; i++) {
                    double z = ((double)x[i] - c.mu) * c.scale + c.bias;
                    double tol = 1.01 * c.k * 4e-6 * fabs(gy[i]) * (1 + fabs(z)) +
                                 1e-7 * (fabs(a[i]) + fabs(pre[i]));
                    same_or_close(what, rec ? "bn_bwd_dx" : "bn_bwd_dx (gz given)",
                                  rec ? act : YPR_ACT_IDENTITY, n, i, b[i], a[i], tol);
                }
                if (rec)
                    continue;
                memcpy(b, gy, (size_t)n * sizeof(float));
                f->bwd_dx(x, b, b, n, &c, mode & YPR_BN_ACCUMULATE ? 0 : mode);
                ypr__bn_bwd_dx_ref(x, gy, a, n, &c, 0);
                if (memcmp(a, b, (size_t)n * sizeof(float)))
                    fail_msg("%s bn_bwd_dx in place n %lld differs", what, (long long)n);
            }
        }
    free(x);
    free(gy);
    free(a);
    free(b);
    free(pre);
}

static void test_bn(void **state)
{
    (void)state;
    bn_fns f = {kt->bn_sums, kt->bn_norm_act, kt->bn_bwd_sums, kt->bn_bwd_dx};
    check_bn(kt->name, &f);
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

/* The BatchNorm references against BatchNorm's formulas in double on 2100
 * values (two chunks and a tail): the batch statistics, and dx = k·(gz −
 * mean(gz) − x̂·mean(gz·x̂)) with the means from the backward sums, whose
 * result is orthogonal to 1 and to x̂ (both sums of dx vanish). */
static void test_bn_references(void)
{
    enum { N = 2100 };
    ypr_rng r;
    ypr__rng_seed(&r, 23);
    float *x = malloc(N * sizeof(float)), *gy = malloc(N * sizeof(float));
    float *gx = malloc(N * sizeof(float));
    assert_true(x && gy && gx);
    fill(&r, x, N, 3, 7);
    fill(&r, gy, N, -1, 1);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++)
        m += x[i];
    m /= N;
    for (int i = 0; i < N; i++)
        v += (x[i] - m) * (x[i] - m);
    v /= N;
    double s[2] = {0, 0};
    ypr__bn_sums_ref(x, N, x[0], s);
    double dm = s[0] / N, mean = x[0] + dm, var = s[1] / N - dm * dm;
    assert_true(fabs(mean - m) < 1e-6 && fabs(var - v) < 1e-6 * v);
    ypr_bn_coef c = {.mu = (float)m, .invstd = (float)(1 / sqrt(v + 1e-3)), .bias = 0.5f,
                     .act = YPR_ACT_LEAKY, .alpha = 0.1f};
    c.scale = 0.8f * c.invstd;
    double q[2] = {0, 0}, sg = 0, sgx = 0;
    ypr__bn_bwd_sums_ref(x, gy, NULL, N, &c, q);
    for (int i = 0; i < N; i++) {
        double z = (x[i] - (double)c.mu) * c.scale + c.bias;
        double g = z > 0 ? gy[i] : 0.1 * gy[i];
        sg += g;
        sgx += g * (x[i] - (double)c.mu) * c.invstd;
    }
    assert_true(fabs(q[0] - sg) < 1e-5 * N && fabs(q[1] - sgx) < 1e-5 * N);
    c.k = c.scale;
    c.mg = (float)(q[0] / N);
    c.mgx = (float)(q[1] / N);
    ypr__bn_bwd_dx_ref(x, gy, gx, N, &c, YPR_BN_RECOMPUTE);
    double d1 = 0, dx = 0, mag = 0;
    for (int i = 0; i < N; i++) {
        double xh = (x[i] - (double)c.mu) * c.invstd;
        d1 += gx[i];
        dx += gx[i] * xh;
        mag += fabs(gx[i]) * (1 + fabs(xh));
    }
    assert_true(fabs(d1) < 1e-5 * mag && fabs(dx) < 1e-5 * mag);
    free(x);
    free(gy);
    free(gx);
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
    test_bn_references();
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
    bn_fns f = {bn_sums_vec, bn_norm_act_vec, bn_bwd_sums_vec, bn_bwd_dx_vec};
    check_bn("x86_train.h@16", &f);
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
        cmocka_unit_test(test_bn),
        cmocka_unit_test(test_x86_template),
    };
    return cmocka_run_group_tests_name(kt->name, tests, NULL, NULL);
}
