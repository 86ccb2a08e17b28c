/* Convolution backward kernels (lib/kernels/conv_bwd.c), run once per kernel
 * set (YPR_SIMD=scalar|avx2|avx512|neon; exit 77 = skipped where this CPU or
 * build lacks the set).
 *
 * Oracles and tolerances:
 *   fast path against the direct double-accumulating references, per
 *   element: |got − ref| ≤ 2e-5·Σ|terms| + 1e-6·(|prefill| + |ref|) + 1e-7,
 *   Σ|terms| being the reference run on |inputs| (the float32 summation
 *   bound for these depths, with margin; prefill: what was accumulated into);
 *   the references against central finite differences of a float64 forward
 *   conv written here (the loss Σ y·dy is linear in x, w and the bias, so the
 *   difference quotient is exact up to float64 rounding):
 *   |ref − fd| ≤ 1e-6·|fd| + 1e-9 (the references round once to float32);
 *   repeated runs and 1, 2 and 3 threads: bit-identical.
 * The quick scope (YPR_TEST_SCOPE=quick) leaves out the last two shapes. */
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
static ypr_pool *pool2;   /* two workers, whatever the machine */

typedef ypr_conv_shape shape;

/* n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups */
static const shape shapes[] = {
    {2, 16, 9, 11, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1},      /* 1×1 direct */
    {1, 203, 7, 5, 37, 1, 1, 1, 1, 0, 0, 1, 1, 1},      /* odd channels */
    {3, 8, 13, 13, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},      /* 3×3 s1, batch 3 */
    {2, 13, 17, 20, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1},     /* 3×3 s2 */
    {1, 5, 12, 9, 7, 5, 5, 1, 1, 2, 2, 1, 1, 1},        /* 5×5 p2 */
    {1, 6, 14, 15, 9, 3, 3, 1, 1, 2, 2, 2, 2, 1},       /* dilation 2 */
    {2, 12, 10, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, 2},      /* groups 2 */
    {2, 9, 11, 10, 9, 3, 3, 1, 1, 1, 1, 1, 1, 9},       /* depthwise */
    {1, 7, 12, 13, 14, 3, 3, 2, 2, 1, 1, 1, 1, 7},      /* depthwise ×2, s2 */
    {1, 4, 8, 10, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1},        /* padding 0 */
    {1, 3, 70, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},        /* tall: two bands */
    {1, 4, 3, 300, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1},       /* wide: three bands */
    {1, 8, 9, 9, 12, 1, 1, 2, 2, 0, 0, 1, 1, 1},        /* 1×1 s2 */
    {1, 5, 6, 6, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1},         /* 1×1 padded */
    {1, 70, 6, 7, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1},       /* several channel blocks */
    {1, 3, 5, 6, 300, 3, 3, 1, 1, 1, 1, 1, 1, 1},       /* OC past the K block */
    {2, 24, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* dW: several tiles and depth blocks */
    {1, 4, 9, 11, 6, 3, 1, 2, 1, 1, 0, 1, 1, 1},        /* 3×1, mixed stride */
    {1, 3, 10, 11, 4, 2, 2, 3, 3, 0, 1, 1, 1, 1},       /* stride 3 */
    {1, 2, 12, 12, 3, 9, 9, 1, 1, 4, 4, 1, 1, 1},       /* 9×9 (generic packer) */
    {1, 2, 12, 260, 3, 5, 5, 1, 1, 2, 2, 1, 1, 1},      /* minimal bands, both parities */
    {1, 3, 30, 9, 5, 5, 5, 1, 1, 4, 4, 2, 2, 1},        /* dilated 5×5, tall */
    {2, 6, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3},         /* groups 3 */
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1},         /* 1×1×1 */
    {1, 33, 5, 31, 65, 2, 3, 1, 2, 0, 1, 1, 1, 1},      /* tails everywhere */
    /* dX through Winograd (3×3 s1, enough channels, planes ≥ 16: conv_bwd.c's rule) */
    {1, 32, 16, 17, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},     /* same size */
    {1, 32, 18, 16, 33, 3, 3, 1, 1, 0, 0, 1, 1, 1},     /* padding 0: dX padded by 2 */
    {1, 33, 16, 18, 32, 3, 3, 1, 1, 2, 1, 1, 1, 1},     /* padding 2 × 1 */
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* The quick scope (sanitizers, qemu) keeps the first of the Winograd shapes. */
static int skipped(int i)
{
    return test_quick() && i >= NSHAPES - 2 && i < NSHAPES;
}

static float *fill_buf(int64_t n, float v)
{
    float *p = ypr__alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = v;
    return p;
}

static float *abs_copy(const float *a, int64_t n)
{
    float *p = fill_buf(n, 0);
    for (int64_t i = 0; i < n; i++)
        p[i] = fabsf(a[i]);
    return p;
}

static float *dup_buf(const float *a, int64_t n)
{
    float *p = fill_buf(n, 0);
    memcpy(p, a, (size_t)n * sizeof(float));
    return p;
}

typedef struct sizes { int64_t oh, ow, xn, yn, wn; } sizes;

static sizes sizes_of(const shape *s)
{
    sizes z;
    assert_int_equal(ypr__conv_check(s, &z.oh, &z.ow), YPR_OK);
    z.xn = s->n * s->c * s->h * s->w;
    z.yn = s->n * s->oc * z.oh * z.ow;
    z.wn = s->oc * (s->c / s->groups) * s->kh * s->kw;
    return z;
}

static void describe(const shape *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s N%lld C%lld %lldx%lld OC%lld k%lldx%lld s%lldx%lld p%lldx%lld "
             "d%lldx%lld g%lld", kt->name, (long long)s->n, (long long)s->c, (long long)s->h,
             (long long)s->w, (long long)s->oc, (long long)s->kh, (long long)s->kw,
             (long long)s->sh, (long long)s->sw, (long long)s->ph, (long long)s->pw,
             (long long)s->dh, (long long)s->dw, (long long)s->groups);
}

/* |got − want| within the bound described at the top. */
static void expect_close(const shape *s, const char *what, const float *got, const float *want,
                         const float *mag, const float *prefill, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double tol = 2e-5 * mag[i] + 1e-6 * ((prefill ? fabs(prefill[i]) : 0) + fabs(want[i])) +
                     1e-7;
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            char d[256];
            describe(s, d, sizeof d);
            fail_msg("%s %s at %lld: %.9g vs %.9g (tol %.3g)", what, d, (long long)i, got[i],
                     want[i], tol);
        }
    }
}

/* ------------------------------------------- (a) + (c): fast vs reference */

static void check_shape(ypr_rng *r, const shape *s, ypr_pool *pool, int use_scratch)
{
    sizes z = sizes_of(s);
    float *x = rand_buf(r, z.xn, -1, 1), *w = rand_buf(r, z.wn, -1, 1);
    float *dy = rand_buf(r, z.yn, -1, 1);
    float *ax = abs_copy(x, z.xn), *aw = abs_copy(w, z.wn), *ady = abs_copy(dy, z.yn);
    float *scratch = NULL;
    if (use_scratch) {
        int64_t nf = ypr__conv_bwd_scratch_floats(kt, s, ypr__pool_size(pool));
        assert_true(nf > 0);
        scratch = fill_buf(nf, NAN);   /* nothing may read scratch before writing it */
    }

    /* dX, overwriting a NaN-filled buffer */
    float *dx = fill_buf(z.xn, NAN), *dx_ref = fill_buf(z.xn, 0), *dx_mag = fill_buf(z.xn, 0);
    assert_int_equal(ypr__conv2d_bwd_data(kt, pool, s, dy, w, dx, 0, scratch), YPR_OK);
    assert_int_equal(ypr__conv2d_bwd_data_ref(s, dy, w, dx_ref), YPR_OK);
    assert_int_equal(ypr__conv2d_bwd_data_ref(s, ady, aw, dx_mag), YPR_OK);
    expect_close(s, "dx", dx, dx_ref, dx_mag, NULL, z.xn);

    /* dX accumulating onto something */
    float *pre = rand_buf(r, z.xn, -2, 2), *dx2 = dup_buf(pre, z.xn);
    float *want = fill_buf(z.xn, 0);
    for (int64_t i = 0; i < z.xn; i++)
        want[i] = pre[i] + dx_ref[i];
    assert_int_equal(ypr__conv2d_bwd_data(kt, pool, s, dy, w, dx2, 1, scratch), YPR_OK);
    expect_close(s, "dx (accumulate)", dx2, want, dx_mag, pre, z.xn);

    /* dW and db always accumulate */
    float *dw0 = rand_buf(r, z.wn, -2, 2), *db0 = rand_buf(r, s->oc, -2, 2);
    float *dw = dup_buf(dw0, z.wn), *db = dup_buf(db0, s->oc);
    float *dw_ref = dup_buf(dw0, z.wn), *db_ref = dup_buf(db0, s->oc);
    float *dw_mag = fill_buf(z.wn, 0), *db_mag = fill_buf(s->oc, 0);
    assert_int_equal(ypr__conv2d_bwd_weight(kt, pool, s, x, dy, dw, db, scratch), YPR_OK);
    assert_int_equal(ypr__conv2d_bwd_weight_ref(s, x, dy, dw_ref, db_ref), YPR_OK);
    assert_int_equal(ypr__conv2d_bwd_weight_ref(s, ax, ady, dw_mag, db_mag), YPR_OK);
    expect_close(s, "dw", dw, dw_ref, dw_mag, dw0, z.wn);
    expect_close(s, "db", db, db_ref, db_mag, db0, s->oc);

    /* db NULL: dW alone, the same bits as with db */
    float *dw3 = dup_buf(dw0, z.wn);
    assert_int_equal(ypr__conv2d_bwd_weight(kt, pool, s, x, dy, dw3, NULL, scratch), YPR_OK);
    assert_memory_equal(dw3, dw, (size_t)z.wn * sizeof(float));

    ypr__free(x); ypr__free(w); ypr__free(dy); ypr__free(ax); ypr__free(aw); ypr__free(ady);
    ypr__free(scratch); ypr__free(dx); ypr__free(dx_ref); ypr__free(dx_mag); ypr__free(pre);
    ypr__free(dx2); ypr__free(want); ypr__free(dw0); ypr__free(db0); ypr__free(dw);
    ypr__free(db); ypr__free(dw_ref); ypr__free(db_ref); ypr__free(dw_mag); ypr__free(db_mag);
    ypr__free(dw3);
}

static void test_against_reference(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 11);
    for (int i = 0; i < NSHAPES; i++) {
        if (skipped(i))
            continue;
        check_shape(&r, &shapes[i], pool2, 1);
        check_shape(&r, &shapes[i], NULL, i % 2);
    }
}

/* Random shapes: every combination of the features above, small. */
static void test_random_shapes(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 12);
    static const int64_t chans[] = {1, 2, 3, 5, 8, 13, 17};
    static const int64_t dims[] = {1, 2, 3, 5, 8, 11, 16, 27};
    int done = 0;
    for (int t = 0; done < 60 && t < 10000; t++) {
        shape s = {0};
        s.n = 1 + (int64_t)(ypr__rng_u64(&r) % 3);
        s.groups = t % 4 == 0 ? 1 + (int64_t)(ypr__rng_u64(&r) % 3) : 1;
        s.c = s.groups * chans[ypr__rng_u64(&r) % 7];
        s.oc = s.groups * chans[ypr__rng_u64(&r) % 7];
        s.h = dims[ypr__rng_u64(&r) % 8];
        s.w = dims[ypr__rng_u64(&r) % 8];
        s.kh = 1 + (int64_t)(ypr__rng_u64(&r) % 5);
        s.kw = t % 3 == 0 ? 1 + (int64_t)(ypr__rng_u64(&r) % 5) : s.kh;
        s.sh = 1 + (int64_t)(ypr__rng_u64(&r) % 3);
        s.sw = t % 5 == 0 ? 1 + (int64_t)(ypr__rng_u64(&r) % 3) : s.sh;
        s.dh = 1 + (int64_t)(ypr__rng_u64(&r) % 2);
        s.dw = t % 7 == 0 ? 1 + (int64_t)(ypr__rng_u64(&r) % 2) : s.dh;
        s.ph = (int64_t)(ypr__rng_u64(&r) % 3);
        s.pw = (int64_t)(ypr__rng_u64(&r) % 3);
        if (ypr__conv_check(&s, NULL, NULL) != YPR_OK)
            continue;
        check_shape(&r, &s, t % 2 ? pool2 : NULL, t % 3 != 0);
        done++;
    }
    assert_int_equal(done, 60);
}

/* ------------------------------------ (b): references vs finite differences */

/* Σ_{b,o,oy,ox} dy · (conv(x, w) + bias)[b, o, oy, ox], all in float64. */
static double loss64(const shape *s, const double *x, const double *w, const double *bias,
                     const float *dy)
{
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(s, &oh, &ow), YPR_OK);
    const int64_t m = s->oc / s->groups, cg = s->c / s->groups;
    double loss = 0.0;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < s->oc; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double y = bias[o];
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < s->kh; ky++)
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                    continue;
                                y += x[((b * s->c + o / m * cg + ci) * s->h + iy) * s->w + ix] *
                                     w[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                            }
                    loss += y * dy[((b * s->oc + o) * oh + oy) * ow + ox];
                }
    return loss;
}

static double central(const shape *s, double *x, double *w, double *bias, const float *dy,
                      double *v)
{
    const double h = 0.25, keep = *v;
    *v = keep + h;
    double up = loss64(s, x, w, bias, dy);
    *v = keep - h;
    double down = loss64(s, x, w, bias, dy);
    *v = keep;
    return (up - down) / (2 * h);
}

static void expect_fd(const shape *s, const char *what, int64_t i, double got, double fd)
{
    if (!(fabs(got - fd) <= 1e-6 * fabs(fd) + 1e-9)) {
        char d[256];
        describe(s, d, sizeof d);
        fail_msg("%s[%lld] %s: reference %.9g, finite difference %.9g", what, (long long)i, d,
                 got, fd);
    }
}

static void test_reference_vs_fd(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 13);
    static const int pick[] = {0, 2, 3, 4, 5, 6, 8, 9, 12, 13, 17, 18, 22, 24};
    for (size_t t = 0; t < sizeof pick / sizeof pick[0]; t++) {
        const shape *s = &shapes[pick[t]];
        sizes z = sizes_of(s);
        float *xf = rand_buf(&r, z.xn, -1, 1), *wf = rand_buf(&r, z.wn, -1, 1);
        float *dy = rand_buf(&r, z.yn, -1, 1);
        double *x = ypr__alloc((size_t)z.xn * sizeof(double));
        double *w = ypr__alloc((size_t)z.wn * sizeof(double));
        double *bias = ypr__alloc((size_t)s->oc * sizeof(double));
        assert_true(x && w && bias);
        for (int64_t i = 0; i < z.xn; i++) x[i] = xf[i];
        for (int64_t i = 0; i < z.wn; i++) w[i] = wf[i];
        for (int64_t i = 0; i < s->oc; i++) bias[i] = 0.1 * (double)i;
        float *dx = fill_buf(z.xn, NAN), *dw = fill_buf(z.wn, 0), *db = fill_buf(s->oc, 0);
        assert_int_equal(ypr__conv2d_bwd_data_ref(s, dy, wf, dx), YPR_OK);
        assert_int_equal(ypr__conv2d_bwd_weight_ref(s, xf, dy, dw, db), YPR_OK);
        for (int q = 0; q < 12; q++) {
            /* the first and last elements (edges) and random ones */
            int64_t i = q == 0 ? 0 : q == 1 ? z.xn - 1 : (int64_t)(ypr__rng_u64(&r) % (uint64_t)z.xn);
            expect_fd(s, "dx", i, dx[i], central(s, x, w, bias, dy, &x[i]));
            i = q == 0 ? 0 : q == 1 ? z.wn - 1 : (int64_t)(ypr__rng_u64(&r) % (uint64_t)z.wn);
            expect_fd(s, "dw", i, dw[i], central(s, x, w, bias, dy, &w[i]));
        }
        for (int64_t o = 0; o < s->oc && o < 4; o++)
            expect_fd(s, "db", o, db[o], central(s, x, w, bias, dy, &bias[o]));
        ypr__free(xf); ypr__free(wf); ypr__free(dy); ypr__free(x); ypr__free(w);
        ypr__free(bias); ypr__free(dx); ypr__free(dw); ypr__free(db);
    }
}

/* --------------------------------------------------------- (d) determinism */

static void test_deterministic(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 14);
    static const shape more[] = {
        {2, 48, 23, 19, 53, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 32, 40, 48, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1},
        {3, 64, 12, 12, 96, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    };
    for (int t = 0; t < NSHAPES + 3; t++) {
        if (skipped(t))
            continue;
        const shape *s = t < NSHAPES ? &shapes[t] : &more[t - NSHAPES];
        sizes z = sizes_of(s);
        float *x = rand_buf(&r, z.xn, -1, 1), *w = rand_buf(&r, z.wn, -1, 1);
        float *dy = rand_buf(&r, z.yn, -1, 1), *dw0 = rand_buf(&r, z.wn, -1, 1);
        float *dx[4], *dw[4], *db[4];
        static const int threads[4] = {1, 1, 2, 3};
        for (int i = 0; i < 4; i++) {
            ypr_pool *p;
            assert_int_equal(ypr__pool_create(threads[i], &p), YPR_OK);
            dx[i] = fill_buf(z.xn, 0);
            dw[i] = dup_buf(dw0, z.wn);
            db[i] = fill_buf(s->oc, 1);
            assert_int_equal(ypr__conv2d_bwd_data(kt, p, s, dy, w, dx[i], i == 3, NULL), YPR_OK);
            assert_int_equal(ypr__conv2d_bwd_weight(kt, p, s, x, dy, dw[i], db[i], NULL), YPR_OK);
            ypr__pool_free(p);
        }
        for (int i = 1; i < 4; i++) {
            assert_memory_equal(dx[0], dx[i], (size_t)z.xn * sizeof(float));
            assert_memory_equal(dw[0], dw[i], (size_t)z.wn * sizeof(float));
            assert_memory_equal(db[0], db[i], (size_t)s->oc * sizeof(float));
        }
        for (int i = 0; i < 4; i++) {
            ypr__free(dx[i]); ypr__free(dw[i]); ypr__free(db[i]);
        }
        ypr__free(x); ypr__free(w); ypr__free(dy); ypr__free(dw0);
    }
}

/* ------------------------------------------------------------ (e) bad input */

static void test_bad_input(void **state)
{
    (void)state;
    const shape ok = {1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    float buf[1024] = {0}, dwb[256] = {0}, dbb[8] = {0};
    shape bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = ok;
    bad[0].groups = 3;          /* does not divide C */
    bad[1].kh = 9;              /* kernel larger than the padded input */
    bad[2].sh = 0;
    bad[3].c = 0;
    bad[4].ph = -1;
    bad[5].h = (int64_t)1 << 40;
    for (int i = 0; i < 6; i++) {
        ypr__clear_error();
        assert_true(ypr__conv2d_bwd_data(kt, pool2, &bad[i], buf, buf, buf, 0, NULL) < 0);
        assert_true(strlen(ypr_last_error()) > 0);
        assert_true(ypr__conv2d_bwd_weight(kt, pool2, &bad[i], buf, buf, dwb, dbb, NULL) < 0);
        assert_true(ypr__conv2d_bwd_data_ref(&bad[i], buf, buf, buf) < 0);
        assert_true(ypr__conv2d_bwd_weight_ref(&bad[i], buf, buf, dwb, dbb) < 0);
        assert_int_equal(ypr__conv_bwd_scratch_floats(kt, &bad[i], 2), 0);
    }
    assert_int_equal(ypr__conv2d_bwd_data(kt, pool2, NULL, buf, buf, buf, 0, NULL), YPR_EINVAL);
    assert_int_equal(ypr__conv2d_bwd_data(kt, pool2, &ok, NULL, buf, buf, 0, NULL), YPR_EINVAL);
    assert_int_equal(ypr__conv2d_bwd_data(NULL, pool2, &ok, buf, buf, buf, 0, NULL), YPR_EINVAL);
    assert_int_equal(ypr__conv2d_bwd_weight(kt, pool2, &ok, buf, buf, NULL, dbb, NULL),
                     YPR_EINVAL);
    assert_int_equal(ypr__conv2d_bwd_weight(kt, pool2, &ok, NULL, buf, dwb, dbb, NULL),
                     YPR_EINVAL);
    assert_int_equal(ypr__conv_bwd_scratch_floats(kt, &ok, 0), 0);
    assert_int_equal(ypr__conv_bwd_scratch_floats(NULL, &ok, 1), 0);
    /* a failed call left its outputs alone */
    for (int i = 0; i < 256; i++)
        assert_true(dwb[i] == 0.0f);
    for (int i = 0; i < 8; i++)
        assert_true(dbb[i] == 0.0f);
}

/* ----------------------------------------- the ISA table entries alone */

/* add_strided of the active set equals the scalar reference bit for bit (it
 * only adds floats) and touches nothing outside its elements. */
static void test_table_entries(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 15);
    assert_non_null(kt->add_strided);
    float *src = rand_buf(&r, 70 * 140, -1, 1);
    float *a = fill_buf(64 * 140, 0), *b = fill_buf(64 * 140, 0);
    for (int64_t sd = 1; sd <= 3; sd++)
        for (int64_t n = 0; n <= 70; n++) {
            for (int64_t i = 0; i < 64 * 140; i++)
                a[i] = b[i] = src[i % (70 * 140)];
            a[5] = b[5] = -0.0f;   /* a negative zero between stride-2 lanes stays */
            kt->add_strided(a + 4, sd, src + 100, n);
            ypr__add_strided_ref(b + 4, sd, src + 100, n);
            assert_memory_equal(a, b, (size_t)(64 * 140) * sizeof(float));
        }
    ypr__free(src); ypr__free(a); ypr__free(b);
}

int main(void)
{
    int rc = test_simd_from_env();
    if (rc)
        return rc;
    kt = ypr__kt();
    if (ypr__pool_create(2, &pool2) != YPR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_reference_vs_fd),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_table_entries),
    };
    rc = cmocka_run_group_tests_name(kt->name, tests, NULL, NULL);
    ypr__pool_free(pool2);
    return rc;
}
