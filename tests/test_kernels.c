/* Kernel tests, run once per kernel set (YPR_SIMD=scalar|avx2|avx512|neon;
 * exit 77 = skipped where this CPU or build lacks the set).
 *
 * Tolerances (float32 against a float64-accumulated direct reference):
 *   GEMM and conv: |y − ref| ≤ 1e-5·Σ|a·b| + 1e-6 per element (the bound on
 *   float32 summation error for these depths, with margin);
 *   identity/ReLU/LeakyReLU/hard-swish epilogues: 1e-6·(1 + |ref|);
 *   SiLU/sigmoid (vector exp approximations): 2e-6·(1 + |ref|);
 *   max-pool, upsample and concat: bit-exact. */
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
#include "kernel_util.h"

static const ypr_ktable *kt;
static ypr_pool *pools[3];   /* 1, 2 and 3 workers */

static int64_t pick(ypr_rng *r, const int64_t *v, int n)
{
    return v[ypr__rng_u64(r) % (uint64_t)n];
}

/* ------------------------------------------------------------------ GEMM */

static void check_gemm(ypr_rng *r, int64_t m, int64_t n, int64_t k, int accumulate)
{
    int64_t lda = k + (int64_t)(ypr__rng_u64(r) % 3), ldb = n + 1, ldc = n + 2;
    float *a = rand_buf(r, m * lda, -1, 1), *b = rand_buf(r, k * ldb, -1, 1);
    float *c = rand_buf(r, m * ldc, -1, 1);
    float *c0 = ypr__alloc((size_t)(m * ldc) * sizeof(float));
    memcpy(c0, c, (size_t)(m * ldc) * sizeof(float));
    assert_int_equal(ypr__sgemm(kt, ypr__default_pool(), m, n, k, a, lda, b, ldb, c, ldc,
                                accumulate), YPR_OK);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= n) {   /* padding columns untouched */
                assert_true(c[i * ldc + j] == c0[i * ldc + j]);
                continue;
            }
            double ref = accumulate ? c0[i * ldc + j] : 0.0, mag = fabs(ref);
            for (int64_t q = 0; q < k; q++) {
                ref += (double)a[i * lda + q] * b[q * ldb + j];
                mag += fabs((double)a[i * lda + q] * b[q * ldb + j]);
            }
            double err = fabs(c[i * ldc + j] - ref);
            if (err > 1e-5 * mag + 1e-6)
                fail_msg("gemm %s m=%lld n=%lld k=%lld acc=%d at (%lld,%lld): %g vs %g",
                         kt->name, (long long)m, (long long)n, (long long)k, accumulate,
                         (long long)i, (long long)j, c[i * ldc + j], ref);
        }
    }
    ypr__free(a); ypr__free(b); ypr__free(c); ypr__free(c0);
}

static void test_gemm_shapes(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 1);
    static const int64_t dims[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 37, 64, 65, 100};
    for (int t = 0; t < 60; t++)
        check_gemm(&r, pick(&r, dims, 14), pick(&r, dims, 14), pick(&r, dims, 14), t & 1);
    /* Deep K crosses the kc blocking; wide N crosses nc. */
    check_gemm(&r, 37, 203, 700, 0);
    check_gemm(&r, 19, 1100, 300, 1);
    check_gemm(&r, 130, 45, 1030, 0);
}

/* A job whose B is already one narrow panel (nrn columns, the Winograd
 * blocks' V) against the same job packed through pack_b: bit for bit, with
 * and without the epilogue, K across the kc blocking. Sets without the
 * narrow kernel must ignore packed_b (they would read it nr wide). */
static void test_gemm_narrow(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 11);
    const int64_t ldb = kt->nrn ? kt->nrn : 32;
    static const int64_t ms_[] = {1, 5, 6, 7, 13, 37}, ks[] = {1, 9, 64, 300, 700};
    for (int t = 0; t < 40; t++) {
        int64_t m = pick(&r, ms_, 6), k = pick(&r, ks, 5);
        int64_t n = 1 + (int64_t)(ypr__rng_u64(&r) % (uint64_t)ldb);
        float *a = rand_buf(&r, m * k, -1, 1), *b = rand_buf(&r, k * ldb, -1, 1);
        float *scale = rand_buf(&r, m, 0.5f, 1.5f), *bias = rand_buf(&r, m, -1, 1);
        float *pa = ypr__alloc((size_t)ypr__gemm_packed_a_floats(kt, m, k) * sizeof(float));
        float *c[2];
        ypr__gemm_pack_a(kt, m, k, a, k, pa);
        ypr_matrix_src src = {b, ldb, n};
        static const int acts[] = {YPR_ACT_IDENTITY, YPR_ACT_SILU, YPR_ACT_LEAKY};
        ypr_epilogue ep = {t % 2 ? scale : NULL, bias, acts[t % 3], 0.1f};
        for (int v = 0; v < 2; v++) {
            c[v] = rand_buf(&r, m * n, 5, 6);
            ypr_gemm_job jb = {m, n, k, pa, ypr__pack_b_matrix, &src, c[v], n,
                               t % 4 ? &ep : NULL, 0, v ? b : NULL, v, NULL, 0};
            assert_int_equal(ypr__gemm_run(kt, NULL, &jb, 1, NULL), YPR_OK);
        }
        if (memcmp(c[0], c[1], (size_t)(m * n) * sizeof(float)))
            fail_msg("narrow panel %s m=%lld n=%lld k=%lld: differs from the packed job",
                     kt->name, (long long)m, (long long)n, (long long)k);
        ypr__free(a); ypr__free(b); ypr__free(scale); ypr__free(bias); ypr__free(pa);
        ypr__free(c[0]); ypr__free(c[1]);
    }
}

/* A job reading B in place (b_direct, the 1×1 convs' input) against the
 * same job packed through pack_b: bit for bit, with and without the
 * epilogue, accumulating or not, K across the kc blocking, N across panels
 * with tails; B ends at the last row's column n (ASan: nothing read past
 * it); on one worker and on two (row and column splits). */
static void test_gemm_direct_b(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 12);
    static const int64_t ms_[] = {1, 6, 7, 13, 64, 130}, ks[] = {1, 9, 64, 300, 1100, 2100};
    static const int64_t ns[] = {1, 15, 17, 64, 100, 169, 700};
    ypr_pool *two;
    assert_int_equal(ypr__pool_create(2, &two), YPR_OK);
    for (int t = 0; t < (test_quick() ? 12 : 40); t++) {
        int64_t m = pick(&r, ms_, 6), k = pick(&r, ks, test_quick() ? 4 : 6), n = pick(&r, ns, 7);
        int64_t ldb = n + (t % 3) * 5;
        float *a = rand_buf(&r, m * k, -1, 1), *b = rand_buf(&r, (k - 1) * ldb + n, -1, 1);
        float *scale = rand_buf(&r, m, 0.5f, 1.5f), *bias = rand_buf(&r, m, -1, 1);
        float *pa = ypr__alloc((size_t)ypr__gemm_packed_a_floats(kt, m, k) * sizeof(float));
        float *c[2] = {rand_buf(&r, m * n, 5, 6), ypr__alloc((size_t)(m * n) * sizeof(float))};
        memcpy(c[1], c[0], (size_t)(m * n) * sizeof(float));   /* what accumulate adds to */
        ypr__gemm_pack_a(kt, m, k, a, k, pa);
        ypr_matrix_src src = {b, ldb, n};
        static const int acts[] = {YPR_ACT_IDENTITY, YPR_ACT_SILU, YPR_ACT_LEAKY};
        ypr_epilogue ep = {t % 2 ? scale : NULL, bias, acts[t % 3], 0.1f};
        for (int v = 0; v < 2; v++) {
            ypr_gemm_job jb = {m, n, k, pa, ypr__pack_b_matrix, &src, c[v], n,
                               t % 4 ? &ep : NULL, t % 5 == 0, NULL, 0, v ? b : NULL, ldb};
            assert_int_equal(ypr__gemm_run(kt, t % 2 ? two : NULL, &jb, 1, NULL), YPR_OK);
        }
        if (memcmp(c[0], c[1], (size_t)(m * n) * sizeof(float)))
            fail_msg("B in place %s m=%lld n=%lld k=%lld ldb=%lld: differs from the packed job",
                     kt->name, (long long)m, (long long)n, (long long)k, (long long)ldb);
        ypr__free(a); ypr__free(b); ypr__free(scale); ypr__free(bias); ypr__free(pa);
        ypr__free(c[0]); ypr__free(c[1]);
    }
    ypr__pool_free(two);
}

/* ------------------------------------------------------------------ conv */

static void check_conv(ypr_rng *r, const ypr_conv_shape *s, int act, int with_scale)
{
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(s, &oh, &ow), YPR_OK);
    int64_t xn = s->n * s->c * s->h * s->w, yn = s->n * s->oc * oh * ow;
    int64_t kg = s->c / s->groups * s->kh * s->kw, wn = s->oc * kg;
    float *x = rand_buf(r, xn, -1, 1), *w = rand_buf(r, wn, -0.5f, 0.5f);
    float *scale = rand_buf(r, s->oc, 0.5f, 1.5f), *bias = rand_buf(r, s->oc, -0.5f, 0.5f);
    float *y = rand_buf(r, yn, 100, 200), *ref = ypr__alloc((size_t)yn * sizeof(float));
    float *pw = ypr__alloc((size_t)ypr__conv_packed_w_floats(kt, s) * sizeof(float));
    ypr_epilogue ep = {with_scale ? scale : NULL, bias, act, 0.1f};
    ypr__conv_pack_w(kt, s, w, pw);
    assert_int_equal(ypr__conv2d(kt, ypr__default_pool(), s, x, pw, &ep, y), YPR_OK);
    ypr_epilogue none = {NULL, NULL, YPR_ACT_IDENTITY, 0};
    assert_int_equal(ypr__conv2d_ref(s, x, w, &none, ref), YPR_OK);
    for (int64_t i = 0; i < yn; i++) {
        int64_t o = (i / (oh * ow)) % s->oc;
        /* bound of the pre-activation sum: |x| ≤ 1, |w| ≤ 0.5 */
        double mag = 0.5 * (double)kg * (with_scale ? scale[o] : 1.0);
        double pre = ref[i] * (with_scale ? scale[o] : 1.0f) + bias[o];
        double want = ypr__act_ref((float)pre, act, 0.1f);
        double tol = 1e-5 * mag + 1e-6 + 2e-6 * (1 + fabs(want));
        if (fabs(y[i] - want) > tol)
            fail_msg("conv %s N%lld C%lld %lldx%lld OC%lld k%lldx%lld s%lld p%lld d%lld g%lld "
                     "act%d at %lld: %g vs %g", kt->name, (long long)s->n, (long long)s->c,
                     (long long)s->h, (long long)s->w, (long long)s->oc, (long long)s->kh,
                     (long long)s->kw, (long long)s->sh, (long long)s->ph, (long long)s->dh,
                     (long long)s->groups, act, (long long)i, y[i], want);
    }
    ypr__free(x); ypr__free(w); ypr__free(scale); ypr__free(bias);
    ypr__free(y); ypr__free(ref); ypr__free(pw);
}

static void test_conv_random(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 2);
    static const int64_t chans[] = {1, 3, 4, 8, 13, 16, 37};
    static const int64_t sizes[] = {1, 2, 5, 8, 9, 13, 20};
    int done = 0;
    for (int t = 0; done < 80; t++) {
        ypr_conv_shape s = {0};
        s.n = 1 + (int64_t)(ypr__rng_u64(&r) % 2);
        s.groups = (t % 5 == 0) ? 1 + (int64_t)(ypr__rng_u64(&r) % 4) : 1;
        s.c = s.groups * pick(&r, chans, 7);
        s.oc = s.groups * pick(&r, chans, 7);
        s.h = pick(&r, sizes, 7);
        s.w = pick(&r, sizes, 7);
        s.kh = 1 + 2 * (int64_t)(ypr__rng_u64(&r) % 3);
        s.kw = (t % 7 == 0) ? 1 + (int64_t)(ypr__rng_u64(&r) % 3) : s.kh;
        s.sh = 1 + (int64_t)(ypr__rng_u64(&r) % 2);
        s.sw = (t % 11 == 0) ? 3 - s.sh : s.sh;
        s.dh = s.dw = (t % 6 == 0) ? 2 : 1;
        s.ph = s.kh / 2 * s.dh;
        s.pw = (t % 9 == 0) ? 0 : s.kw / 2 * s.dw;
        if (ypr__conv_check(&s, NULL, NULL) != YPR_OK)
            continue;
        check_conv(&r, &s, (int)(ypr__rng_u64(&r) % YPR_ACT_COUNT_), t & 1);
        done++;
    }
}

static void test_conv_yolo_like(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 3);
    /* Pruned widths, 1×1 fast path, 3×3 stride 2, deep K crossing kc; then
     * stem-like wide rows with many column blocks (tasks take runs of
     * blocks, the packer prefetches ahead), stride 1 and 2. */
    static const ypr_conv_shape shapes[] = {
        {1, 203, 12, 11, 37, 1, 1, 1, 1, 0, 0, 1, 1, 1},
        {1, 64, 17, 17, 45, 3, 3, 2, 2, 1, 1, 1, 1, 1},
        {1, 3, 33, 31, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {2, 96, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 3, 96, 200, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 5, 130, 257, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    };
    static const int acts[] = {YPR_ACT_SILU, YPR_ACT_LEAKY, YPR_ACT_SILU, YPR_ACT_IDENTITY,
                               YPR_ACT_SILU, YPR_ACT_LEAKY};
    for (int i = 0; i < 6; i++)
        check_conv(&r, &shapes[i], acts[i], i != 2 && i != 5);
}

/* Pack one random block of B for shape cs with the ISA packer and the
 * generic one; they must agree bit for bit and fill every slot. */
static void check_packer(ypr_rng *r, const ypr_conv_shape *cs)
{
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(cs, &oh, &ow), YPR_OK);
    float *x = rand_buf(r, cs->c * cs->h * cs->w, -1, 1);
    ypr_im2col_src src = {x, cs->h, cs->w, oh, ow, cs->kh, cs->kw, cs->sh, cs->sw, cs->ph,
                          cs->pw, cs->dh, cs->dw};
    int64_t k = cs->c * cs->kh * cs->kw, n = oh * ow;
    int64_t k0 = (int64_t)(ypr__rng_u64(r) % (uint64_t)k);
    int64_t kc = 1 + (int64_t)(ypr__rng_u64(r) % (uint64_t)(k - k0));
    int64_t n0 = (int64_t)(ypr__rng_u64(r) % (uint64_t)n);
    int64_t nmax = n - n0 < 3 * kt->nr ? n - n0 : 3 * kt->nr;
    int64_t nc = 1 + (int64_t)(ypr__rng_u64(r) % (uint64_t)nmax);
    int64_t floats = (nc + kt->nr - 1) / kt->nr * kt->nr * kc;
    float *a = ypr__alloc((size_t)floats * sizeof(float));
    float *b = ypr__alloc((size_t)floats * sizeof(float));
    for (int64_t i = 0; i < floats; i++)
        a[i] = b[i] = 12345.0f;   /* every slot must be written */
    kt->pack_b_im2col(&src, k0, kc, n0, nc, kt->nr, a);
    ypr__pack_b_im2col_ref(&src, k0, kc, n0, nc, kt->nr, b);
    if (memcmp(a, b, (size_t)floats * sizeof(float)) != 0)
        fail_msg("%s im2col: c%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld "
                 "k0=%lld kc=%lld n0=%lld nc=%lld differs from the reference", kt->name,
                 (long long)cs->c, (long long)cs->h, (long long)cs->w, (long long)cs->kh,
                 (long long)cs->kw, (long long)cs->sh, (long long)cs->sw, (long long)cs->ph,
                 (long long)cs->pw, (long long)cs->dh, (long long)cs->dw, (long long)k0,
                 (long long)kc, (long long)n0, (long long)nc);
    for (int64_t i = 0; i < floats; i++)
        assert_true(b[i] != 12345.0f);
    ypr__free(a);
    ypr__free(b);
    ypr__free(x);
}

/* The ISA im2col packer is a copy: it must equal the generic one bit for bit
 * on every shape, block start and length (wide rows, strides 1–3, padding,
 * dilation, blocks that start mid-channel and panels cut short), and on the
 * same-size stride-1 convs with rows narrower than a panel, which take their
 * own path (whole shifted rows, edge taps masked). */
static void test_im2col_packer(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 7);
    static const int64_t widths[] = {1, 3, 7, 16, 17, 20, 40, 63, 64, 65, 80, 131, 160};
    int checked = 0;
    for (int t = 0; t < 300; t++) {
        ypr_conv_shape cs = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
        cs.c = 1 + (int64_t)(ypr__rng_u64(&r) % 5);   /* one draw per statement: fixed order */
        cs.h = 1 + (int64_t)(ypr__rng_u64(&r) % 9);
        cs.w = pick(&r, widths, 13);
        cs.kh = 1 + (int64_t)(ypr__rng_u64(&r) % 5);
        cs.kw = 1 + (int64_t)(ypr__rng_u64(&r) % 5);
        cs.sh = 1 + (int64_t)(ypr__rng_u64(&r) % 3);
        cs.sw = 1 + (int64_t)(ypr__rng_u64(&r) % 3);
        cs.ph = (int64_t)(ypr__rng_u64(&r) % 4);
        cs.pw = (int64_t)(ypr__rng_u64(&r) % 4);
        cs.dh = t % 7 == 0 ? 2 : 1;
        cs.dw = t % 9 == 0 ? 2 : 1;
        if (ypr__conv_check(&cs, NULL, NULL) != YPR_OK)
            continue;
        check_packer(&r, &cs);
        checked++;
    }
    assert_true(checked > 150);
    static const int64_t ks[] = {1, 3, 5, 7}, nw[] = {1, 2, 5, 13, 20, 26, 40, 52, 63};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 9; j++) {
            ypr_conv_shape cs = {1, 1 + (i + j) % 3, 1 + (i * 7 + j * 3) % 14, nw[j], 1, ks[i],
                                 ks[i], 1, 1, ks[i] / 2, ks[i] / 2, 1, 1, 1};
            for (int rep = 0; rep < 4; rep++)
                check_packer(&r, &cs);
        }
}

static void test_conv3x3_rows(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 9);
    static const ypr_conv_shape shapes[] = {
        {2, 16, 1, 64, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 32, 5, 104, 14, 3, 3, 1, 1, 1, 1, 1, 1, 2},
        {1, 24, 4, 80, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 48, 3, 64, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 16, 6, 200, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 40, 3, 56, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    };
    int used = 0;
    for (int i = 0; i < 6; i++) {
        used += ypr__conv3x3_rows_eligible(kt, &shapes[i]);
        check_conv(&r, &shapes[i], i % 2 ? YPR_ACT_SILU : YPR_ACT_LEAKY, i % 3 != 0);
    }
    if (kt->conv3x3_rows)
        assert_true(used >= 4);   /* the cases above do reach the kernel */
    /* no epilogue: plain (accumulating) stores across K blocks */
    const ypr_conv_shape *s = &shapes[3];
    int64_t yn = s->oc * s->h * s->w;
    float *x = rand_buf(&r, s->c * s->h * s->w, -1, 1), *w = rand_buf(&r, s->oc * s->c * 9, -1, 1);
    float *y = rand_buf(&r, yn, 5, 6), *ref = ypr__alloc((size_t)yn * sizeof(float));
    float *pw = ypr__alloc((size_t)ypr__conv_packed_w_floats(kt, s) * sizeof(float));
    ypr__conv_pack_w(kt, s, w, pw);
    assert_int_equal(ypr__conv2d(kt, ypr__default_pool(), s, x, pw, NULL, y), YPR_OK);
    assert_int_equal(ypr__conv2d_ref(s, x, w, NULL, ref), YPR_OK);
    for (int64_t i = 0; i < yn; i++)
        assert_true(fabs(y[i] - ref[i]) <= 1e-5 * s->c * 9 + 1e-6);
    ypr__free(x); ypr__free(w); ypr__free(y); ypr__free(ref); ypr__free(pw);
}

static void check_thread_independent(ypr_rng *r, const ypr_conv_shape *sp)
{
    ypr_conv_shape s = *sp;
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_OK);
    int64_t yn = s.n * s.oc * oh * ow;
    float *x = rand_buf(r, s.n * s.c * s.h * s.w, -1, 1);
    float *w = rand_buf(r, s.oc * s.c * s.kh * s.kw, -1, 1), *bias = rand_buf(r, s.oc, -1, 1);
    float *pw = ypr__alloc((size_t)ypr__conv_packed_w_floats(kt, &s) * sizeof(float));
    ypr__conv_pack_w(kt, &s, w, pw);
    ypr_epilogue ep = {NULL, bias, YPR_ACT_SILU, 0};
    float *y[3];
    static const int threads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        ypr_pool *p;
        assert_int_equal(ypr__pool_create(threads[i], &p), YPR_OK);
        y[i] = ypr__alloc((size_t)yn * sizeof(float));
        for (int64_t j = 0; j < yn; j++)   /* a different fill each: every value must be written */
            y[i][j] = (float)(1000 + i);
        assert_int_equal(ypr__conv2d(kt, p, &s, x, pw, &ep, y[i]), YPR_OK);
        ypr__pool_free(p);
    }
    assert_memory_equal(y[0], y[1], (size_t)yn * sizeof(float));
    assert_memory_equal(y[0], y[2], (size_t)yn * sizeof(float));
    for (int i = 0; i < 3; i++)
        ypr__free(y[i]);
    ypr__free(x); ypr__free(w); ypr__free(bias); ypr__free(pw);
}

static void test_conv_thread_independent(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 4);
    ypr_conv_shape a = {2, 48, 23, 19, 53, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    ypr_conv_shape b = {1, 6, 120, 160, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1};  /* runs of blocks */
    check_thread_independent(&r, &a);
    check_thread_independent(&r, &b);
    /* few column blocks, split by columns between the workers: fewer panels
     * than workers, parts of several nc blocks, stride 2 */
    ypr_conv_shape c = {1, 16, 4, 5, 9, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    ypr_conv_shape d = {1, 8, 40, 40, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    ypr_conv_shape e = {1, 5, 31, 29, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1};
    check_thread_independent(&r, &c);
    check_thread_independent(&r, &d);
    check_thread_independent(&r, &e);
    /* … and split by rows (at least as many output channels as outputs per
     * channel): rows in whole micro-panels, 1×1 and 3×3 stride 2 */
    ypr_conv_shape f = {1, 24, 7, 6, 50, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    ypr_conv_shape g = {1, 12, 9, 11, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1};
    check_thread_independent(&r, &f);
    check_thread_independent(&r, &g);
}

/* ------------------------------------------------------- epilogue alone */

/* Compare the epilogue fn (as ypr_ktable.scale_bias_act) with the reference
 * over every activation, lengths 1…77 and, among the inputs, 0, ±88 (exp
 * far out of range), −3 (hard-swish's knee), NaN and ±inf: NaN must stay
 * NaN and infinities must match exactly (SiLU(−inf) = −inf·0 is left out:
 * the sets may give NaN or −inf there). */
static void check_sba(const char *name,
                      void (*fn)(float *, int64_t, float, float, int, float))
{
    ypr_rng r;
    ypr__rng_seed(&r, 5);
    for (int act = 0; act < YPR_ACT_COUNT_; act++) {
        for (int64_t n = 1; n <= 77; n += (n < 20 ? 1 : 19)) {
            float *x = rand_buf(&r, n, -30, 30);
            if (n > 7) {
                x[0] = 0.0f; x[1] = -88.0f; x[2] = 88.0f; x[3] = -3.0f;
                x[4] = NAN; x[5] = INFINITY; x[6] = act == YPR_ACT_SILU ? 1.0f : -INFINITY;
            }
            float *y = ypr__alloc((size_t)n * sizeof(float));
            memcpy(y, x, (size_t)n * sizeof(float));
            fn(y, n, 1.25f, -0.5f, act, 0.1f);
            int transcendental = act == YPR_ACT_SILU || act == YPR_ACT_SIGMOID;
            for (int64_t i = 0; i < n; i++) {
                float want = ypr__act_ref(x[i] * 1.25f - 0.5f, act, 0.1f);
                double tol = (transcendental ? 2e-6 : 1e-6) * (1 + fabs(want));
                int ok = isnan(want) ? isnan(y[i])
                         : isinf(want) ? y[i] == want
                                       : fabs(y[i] - want) <= tol;
                if (!ok)
                    fail_msg("%s act %d n=%lld x=%.9g: %.9g vs %.9g", name, act,
                             (long long)n, x[i], y[i], want);
            }
            ypr__free(x);
            ypr__free(y);
        }
    }
}

static void test_scale_bias_act(void **state)
{
    (void)state;
    check_sba(kt->name, kt->scale_bias_act);
}

/* --------------------------------------------------- pooling, upsample */

static void test_maxpool(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 6);
    static const int ksp[][3] = {{2, 2, 0}, {5, 1, 2}, {9, 1, 4}, {13, 1, 6}, {3, 2, 1},
                                 {3, 1, 1}, {1, 1, 0}, {2, 1, 0}};
    static const int64_t hs[] = {1, 2, 3, 7, 13, 16, 20, 33, 40};
    for (size_t c = 0; c < sizeof ksp / sizeof ksp[0]; c++) {
        for (int t = 0; t < 12; t++) {
            int k = ksp[c][0], s = ksp[c][1], p = ksp[c][2];
            int64_t h = pick(&r, hs, 9), w = pick(&r, hs, 9), planes = 3;
            if (h + 2 * p < k || w + 2 * p < k)
                continue;
            int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
            float *x = rand_buf(&r, planes * h * w, -5, 5);
            float *y = rand_buf(&r, planes * oh * ow, 0, 1);
            float *ref = ypr__alloc((size_t)(planes * oh * ow) * sizeof(float));
            for (int64_t q = 0; q < planes; q++)
                ypr__maxpool_plane_ref(x + q * h * w, h, w, ref + q * oh * ow, oh, ow, k, s, p);
            for (int pi = 0; pi < 3; pi++) {   /* planes, or bands of rows on 2 and 3 workers */
                memset(y, 0, (size_t)(planes * oh * ow) * sizeof(float));
                assert_int_equal(ypr__maxpool2d(kt, pools[pi], planes, h, w, k, s, p, x, y),
                                 YPR_OK);
                assert_memory_equal(y, ref, (size_t)(planes * oh * ow) * sizeof(float));
            }
            ypr__free(x); ypr__free(y); ypr__free(ref);
        }
    }
}

static void test_upsample_concat(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 7);
    static const int64_t hs[] = {1, 2, 3, 5, 8, 10, 17, 20, 40};
    for (int t = 0; t < 30; t++) {
        int64_t h = pick(&r, hs, 9), w = pick(&r, hs, 9), planes = 2;
        float *x = rand_buf(&r, planes * h * w, -1, 1);
        float *y = rand_buf(&r, planes * 4 * h * w + 1, 0, 1);
        float sentinel = y[planes * 4 * h * w];
        for (int pi = 0; pi < 3; pi++) {   /* planes, or bands of rows on 2 and 3 workers */
            memset(y, 0, (size_t)(planes * 4 * h * w) * sizeof(float));
            assert_int_equal(ypr__upsample2x(kt, pools[pi], planes, h, w, x, y), YPR_OK);
            for (int64_t q = 0; q < planes; q++)
                for (int64_t yy = 0; yy < 2 * h; yy++)
                    for (int64_t xx = 0; xx < 2 * w; xx++)
                        assert_true(y[(q * 2 * h + yy) * 2 * w + xx] ==
                                    x[(q * h + yy / 2) * w + xx / 2]);
            assert_true(y[planes * 4 * h * w] == sentinel);
        }
        ypr__free(x);
        ypr__free(y);
    }
    float a[2 * 3 * 4], b[2 * 5 * 4], out[2 * 8 * 4];
    for (int i = 0; i < 24; i++) a[i] = (float)i;
    for (int i = 0; i < 40; i++) b[i] = 100.0f + (float)i;
    assert_int_equal(ypr__concat_copy(2, 3, 8, 0, 4, a, out), YPR_OK);
    assert_int_equal(ypr__concat_copy(2, 5, 8, 3, 4, b, out), YPR_OK);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 8; c++)
            for (int i = 0; i < 4; i++)
                assert_true(out[(n * 8 + c) * 4 + i] ==
                            (c < 3 ? a[(n * 3 + c) * 4 + i] : b[(n * 5 + c - 3) * 4 + i]));
    assert_int_equal(ypr__concat_copy(2, 5, 8, 4, 4, b, out), YPR_EINVAL);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void **state)
{
    (void)state;
    int64_t oh, ow;
    ypr_conv_shape ok = {1, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(ypr__conv_check(&ok, &oh, &ow), YPR_OK);
    assert_int_equal(oh, 8);
    ypr_conv_shape s = ok;
    s.c = 0;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "C=0"));
    s = ok; s.oc = -4;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_EINVAL);
    s = ok; s.groups = 3;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_EINVAL);
    s = ok; s.sh = 0;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_EINVAL);
    s = ok; s.kh = 11; s.ph = 0;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_EINVAL);
    s = ok; s.n = (int64_t)1 << 40; s.c = s.oc = (int64_t)1 << 30;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_ERANGE);
    float v = 0;
    assert_int_equal(ypr__sgemm(kt, NULL, 0, 1, 1, &v, 1, &v, 1, &v, 1, 0), YPR_EINVAL);
    assert_int_equal(ypr__sgemm(kt, NULL, 1, 1, 1, NULL, 1, &v, 1, &v, 1, 0), YPR_EINVAL);
    assert_int_equal(ypr__maxpool2d(kt, NULL, 1, 4, 4, 5, 1, 0, &v, &v), YPR_EINVAL);
    assert_int_equal(ypr__upsample2x(kt, NULL, 0, 4, 4, &v, &v), YPR_EINVAL);
}

/* --------------------------------------------------------------- dispatch */

/* CPUID and XCR0 bits written out from the Intel SDM (vol. 2A CPUID, vol. 1
 * §13.3 XCR0), independently of lib/core/cpu.c: a machine with everything
 * the avx512 file is built with (-mavx512f/bw/vl/dq, -mavx2 -mfma -mf16c). */
static ypr_cpuid_regs full_x86(void)
{
    ypr_cpuid_regs r = {0};
    r.max_leaf = 13;
    r.leaf1_ecx = 1u << 12 | 1u << 20 | 1u << 27 | 1u << 28 | 1u << 29; /* FMA SSE4.2 OSXSAVE AVX F16C */
    r.leaf7_ebx = 1u << 5 | 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31; /* AVX2 F DQ BW VL */
    r.xcr0 = 0xe7;   /* x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state */
    return r;
}

static void test_dispatch_features(void **state)
{
    (void)state;
    const unsigned all = (1u << YPR_KT_COUNT) - 1;
    ypr_cpuid_regs r = full_x86();
    ypr_cpu_info c;
    ypr__cpu_decode_x86(&r, &c);
    assert_true(ypr__kt_cpu_ok("avx512", &c));
    assert_true(ypr__kt_cpu_ok("avx2", &c));
    assert_false(ypr__kt_cpu_ok("neon", &c));
    assert_false(ypr__kt_cpu_ok("mmx", &c));
    assert_string_equal(ypr__kt_best(&c, all), "avx512");
    assert_string_equal(ypr__kt_best(&c, all & ~(1u << YPR_KT_AVX512)), "avx2");
    assert_string_equal(ypr__kt_best(&c, 1u << YPR_KT_SCALAR), "scalar");

    /* Take away one bit at a time: what start-up must pick instead. */
    static const struct { int reg, bit; const char *want; } drop[] = {
        {7, 16, "avx2"}, {7, 17, "avx2"}, {7, 30, "avx2"}, {7, 31, "avx2"}, /* F DQ BW VL */
        {0, 5, "avx2"}, {0, 6, "avx2"}, {0, 7, "avx2"},   /* no opmask / ZMM state saved */
        {0, 1, "scalar"}, {0, 2, "scalar"},               /* no SSE / YMM state saved */
        {1, 27, "scalar"}, {1, 28, "scalar"}, {1, 12, "scalar"}, {1, 29, "scalar"},
        {7, 5, "scalar"},                                  /* OSXSAVE AVX FMA F16C AVX2 */
    };
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
        r = full_x86();
        if (drop[i].reg == 0)
            r.xcr0 &= ~((uint64_t)1 << drop[i].bit);
        else if (drop[i].reg == 1)
            r.leaf1_ecx &= ~(1u << drop[i].bit);
        else
            r.leaf7_ebx &= ~(1u << drop[i].bit);
        ypr__cpu_decode_x86(&r, &c);
        if (ypr__kt_cpu_ok("avx512", &c) || strcmp(ypr__kt_best(&c, all), drop[i].want) != 0)
            fail_msg("without bit %d of register %d: avx512 %d, picked %s (want %s)",
                     drop[i].bit, drop[i].reg, ypr__kt_cpu_ok("avx512", &c),
                     ypr__kt_best(&c, all), drop[i].want);
    }
    r = full_x86();
    r.max_leaf = 6;   /* no leaf 7: no AVX2, no AVX-512 */
    ypr__cpu_decode_x86(&r, &c);
    assert_string_equal(ypr__kt_best(&c, all), "scalar");

    /* The table in use agrees with the rule on this machine. */
    const ypr_cpu_info *here = ypr__cpu();
    static const char *const sets[] = {"scalar", "avx2", "avx512", "neon"};
    for (int i = 0; i < 4; i++)
        if (ypr_simd_available(sets[i]))
            assert_true(ypr__kt_cpu_ok(sets[i], here));
}

/* ------------------------------------------- the x86 template at 16 lanes */

/* lib/kernels/x86/x86_vec.h instantiated over plain C lanes with the
 * semantics its primitives promise (MINPS/MAXPS NaN rule, zeroing masked
 * loads…), so its 16-lane loops — tails, masks, the 2×2 pick, the spilled
 * edge tiles — are checked on every machine, including those without
 * AVX-512 (the 8-lane instance runs natively as the avx2 set). */
#include "xv_plain16.h"
#include "lib/kernels/x86/x86_vec.h"

static void test_x86_template(void **state)
{
    (void)state;
    check_sba("x86_vec.h@16", scale_bias_act_vec);

    ypr_rng r;
    ypr__rng_seed(&r, 11);
    /* max-pool: 2×2 s2 and stride 1 (k, p) against the reference, bit-exact */
    static const int kp[][2] = {{2, 0}, {5, 2}, {9, 4}, {13, 6}, {3, 1}, {1, 0}};
    static const int64_t hs[] = {1, 2, 3, 7, 13, 16, 17, 20, 31, 33, 40, 47};
    for (int t = 0; t < 60; t++) {
        int64_t h = pick(&r, hs, 12), w = pick(&r, hs, 12);
        int k = kp[t % 6][0], p = kp[t % 6][1];
        float *x = rand_buf(&r, h * w, -5, 5);
        float *y = rand_buf(&r, (h + 2) * (w + 2) + 1, 0, 1);
        float *ref = ypr__alloc((size_t)((h + 2) * (w + 2)) * sizeof(float));
        if (h >= 2 && w >= 2) {
            int64_t oh = h / 2, ow = w / 2;
            float sentinel = y[oh * ow];
            maxpool_2x2s2_vec(x, w, y, oh, ow);
            ypr__maxpool_plane_ref(x, h, w, ref, oh, ow, 2, 2, 0);
            assert_memory_equal(y, ref, (size_t)(oh * ow) * sizeof(float));
            assert_true(y[oh * ow] == sentinel);
        }
        if (h + 2 * p >= k && w + 2 * p >= k) {
            int64_t oh = h + 2 * p - k + 1, ow = w + 2 * p - k + 1;
            float sentinel = y[oh * ow];
            assert_int_equal(maxpool_s1_vec(x, h, w, y, oh, ow, k, p), 1);
            ypr__maxpool_plane_ref(x, h, w, ref, oh, ow, k, 1, p);
            assert_memory_equal(y, ref, (size_t)(oh * ow) * sizeof(float));
            assert_true(y[oh * ow] == sentinel);
        }
        ypr__free(x); ypr__free(y); ypr__free(ref);
    }

    /* GEMM tile stores: a 6 × NV·16 accumulator tile (panel 4 vectors wide)
     * into the m×n corner of C, plain and through the epilogue; nothing
     * outside the corner may change. */
    enum { MR = 6, LDC = 70 };
    float c0[MR + 1][LDC], c[MR + 1][LDC], scale[MR], bias[MR];
    for (int t = 0; t < 200; t++) {
        int nv = 1 + (int)(ypr__rng_u64(&r) % 4);
        int m = 1 + (int)(ypr__rng_u64(&r) % MR);
        int n = (nv - 1) * XV_VL + 1 + (int)(ypr__rng_u64(&r) % XV_VL);
        if (t % 5 == 0) {   /* whole tiles take the register path */
            m = MR;
            n = nv * XV_VL;
        }
        int acc_in = t % 2, ep = t % 3 != 0, act = t % YPR_ACT_COUNT_;
        xv_f acc[XV_MR_MAX][4];
        for (int i = 0; i < MR; i++) {
            scale[i] = 0.5f + ypr__rng_uniform(&r);
            bias[i] = ypr__rng_uniform(&r) - 0.5f;
            for (int v = 0; v < 4; v++)
                XV_LANES(acc[i][v].v[l_] = 8 * ypr__rng_uniform(&r) - 4);
        }
        for (int i = 0; i <= MR; i++)
            for (int j = 0; j < LDC; j++)
                c0[i][j] = c[i][j] = ypr__rng_uniform(&r) - 0.5f;
        const float *sc = t % 7 ? scale : NULL, *bi = t % 11 ? bias : NULL;
        /* NV is a constant in the micro-kernels: likewise here */
#define STORE(NV)                                                              \
    (ep ? ep_store(acc, &c[0][0], LDC, m, n, acc_in, sc, bi, act, 0.1f, MR, NV, 4)   \
        : plain_store(acc, &c[0][0], LDC, m, n, acc_in, MR, NV))
        switch (nv) {
        case 1: STORE(1); break;
        case 2: STORE(2); break;
        case 3: STORE(3); break;
        default: STORE(4); break;
        }
#undef STORE
        for (int i = 0; i <= MR; i++)
            for (int j = 0; j < LDC; j++) {
                if (i >= m || j >= n) {
                    assert_true(c[i][j] == c0[i][j]);
                    continue;
                }
                float v = acc[i][j / XV_VL].v[j % XV_VL];
                if (acc_in)
                    v += c0[i][j];
                if (!ep) {
                    assert_true(c[i][j] == v);
                    continue;
                }
                float want = ypr__act_ref(v * (sc ? sc[i] : 1.0f) + (bi ? bi[i] : 0.0f), act,
                                          0.1f);
                if (!(fabs(c[i][j] - want) <= 2e-6 * (1 + fabs(want))))
                    fail_msg("ep_store m=%d n=%d nv=%d act %d at (%d,%d): %.9g vs %.9g", m, n,
                             nv, act, i, j, c[i][j], want);
            }
    }
}

int main(void)
{
    int rc = test_simd_from_env();
    if (rc)
        return rc;
    kt = ypr__kt();
    fprintf(stderr, "kernel set: %s (mr=%d nr=%d kc=%d nc=%d)\n", kt->name, kt->mr, kt->nr,
            kt->kc, kt->nc);
    for (int i = 0; i < 3; i++)
        if (ypr__pool_create(i + 1, &pools[i]) != YPR_OK)
            return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_shapes),
        cmocka_unit_test(test_gemm_narrow),
        cmocka_unit_test(test_gemm_direct_b),
        cmocka_unit_test(test_conv_random),
        cmocka_unit_test(test_conv_yolo_like),
        cmocka_unit_test(test_im2col_packer),
        cmocka_unit_test(test_conv3x3_rows),
        cmocka_unit_test(test_conv_thread_independent),
        cmocka_unit_test(test_scale_bias_act),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_upsample_concat),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_dispatch_features),
        cmocka_unit_test(test_x86_template),
    };
    rc = cmocka_run_group_tests_name(kt->name, tests, NULL, NULL);
    for (int i = 0; i < 3; i++)
        ypr__pool_free(pools[i]);
    return rc;
}
