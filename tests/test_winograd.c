/* Winograd F(4×4, 3×3) convs, run once per kernel set (YPR_SIMD=scalar|avx2|
 * avx512|neon; exit 77 = skipped where this CPU or build lacks the set).
 *
 *  - the set's transforms (wino4_in, wino4_out) against the scalar reference:
 *    bit-exact (the same operations in the same order), but for SiLU and
 *    sigmoid (vector exp: 2e-6·(1 + |ref|)); nothing written past the tiles;
 *  - the reference transforms against Bᵀ·d·B and Aᵀ·m·A evaluated here in
 *    double from the matrices (an independent oracle): 1e-6·Σ|terms|;
 *  - whole convs against the float64 direct reference (ypr__conv2d_ref):
 *    |y − ref| ≤ 1e-5·S + 1e-6·(1 + |ref|) (S = Σ|x·w| of the output; on
 *    top of that the epilogue tolerances of test_kernels), with odd sizes
 *    (tiles crossing the edges), padding 0, 1 and 2, batch 2, activations of
 *    ~1e3, several chunks of tile rows; bit-identical for 1, 2 and 3 threads. */
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

/* The F(4, 3) matrices, written out here independently of lib/. */
static const double BT[6][6] = {
    {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
};
static const double AT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1},
};

static const int tile_counts[] = {1, 3, 5, 8, 17, 2, 4, 7, 9, 15, 16, 20, 33, 40};

/* The quick scope (sanitizer and qemu builds) takes the first five counts. */
static size_t n_tile_counts(void)
{
    return test_quick() ? 5 : sizeof tile_counts / sizeof tile_counts[0];
}

/* ------------------------------------------------------ input transform */

typedef void (*in_fn)(float *, int64_t, int, float *, int64_t);
typedef void (*out_fn)(const float *, int64_t, int, float *, int64_t, int, int64_t, float, float,
                       int, float);

/* F(T×T) input transform (T = 4: wino4_in, T = 2: wino2_in) against the
 * scalar reference, bit for bit, nothing written past the tiles; and the
 * reference against Bᵀ·d·B in double from the matrices written out here. */
static const double BT2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};

static void check_input_t(const char *name, in_fn fn, int vl, int T)
{
    const int W = T + 2, K = W * W;
    in_fn ref = T == 4 ? ypr__wino4_in_ref : ypr__wino2_in_ref;
    int64_t (*row_floats)(int, int64_t) = T == 4 ? ypr__wino4_row_floats : ypr__wino2_row_floats;
    ypr_rng r;
    ypr__rng_seed(&r, (uint64_t)T);
    for (size_t c = 0; c < n_tile_counts(); c++) {
        const int nt = tile_counts[c];
        const int64_t ldd = row_floats(vl, nt) + 3;
        assert_true(row_floats(1, nt) <= ldd);
        const int64_t ldv = nt + 5, vn = K * ldv;
        float *d = rand_buf(&r, W * ldd, -1000, 1000), *dref = ypr__alloc(W * ldd * sizeof(float));
        float *orig = ypr__alloc(W * ldd * sizeof(float));
        memcpy(dref, d, W * ldd * sizeof(float));
        memcpy(orig, d, W * ldd * sizeof(float));
        float *v = rand_buf(&r, vn, 7, 7), *vref = rand_buf(&r, vn, 7, 7);
        fn(d, ldd, nt, v, ldv);
        ref(dref, ldd, nt, vref, ldv);
        for (int64_t i = 0; i < vn; i++) {
            if (i % ldv >= nt)
                assert_true(v[i] == 7.0f);   /* nothing past the tiles */
            else if (memcmp(&v[i], &vref[i], sizeof(float)) != 0)
                fail_msg("%s F(%d) input transform nt %d at k %lld t %lld: %.9g vs %.9g", name,
                         T, nt, (long long)(i / ldv), (long long)(i % ldv), v[i], vref[i]);
        }
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < W; i++)
                for (int j = 0; j < W; j++) {
                    double want = 0, mag = 0;
                    for (int a = 0; a < W; a++)
                        for (int b = 0; b < W; b++) {
                            double bi = T == 4 ? BT[i][a] : BT2[i][a];
                            double bj = T == 4 ? BT[j][b] : BT2[j][b];
                            double term = bi * bj * orig[a * ldd + T * t + b];
                            want += term;
                            mag += fabs(term);
                        }
                    double got = vref[(i * W + j) * ldv + t];
                    if (fabs(got - want) > 1e-6 * mag)
                        fail_msg("reference F(%d) input transform tile %d (%d, %d): %.9g vs %.9g",
                                 T, t, i, j, got, want);
                }
        ypr__free(d); ypr__free(dref); ypr__free(orig); ypr__free(v); ypr__free(vref);
    }
}

static void check_input(const char *name, in_fn fn, int vl)
{
    check_input_t(name, fn, vl, 4);
}

static void test_input_transform(void **state)
{
    (void)state;
    check_input(kt->name, kt->wino4_in, kt->vl);
}

/* ----------------------------------------------------- output transform */

static void check_output(const char *name, out_fn fn, int vl, ypr_rng *r, int nt, int rows,
                         int64_t cols, int act)
{
    const int64_t ldm = nt + 3 + vl, ldy = 4 * nt + 6, yn = 5 * ldy;
    float *m = rand_buf(r, 36 * ldm + vl, -1000, 1000);
    float *y = rand_buf(r, yn, 3, 3), *yref = rand_buf(r, yn, 3, 3);
    const float scale = 0.75f, bias = -20.0f, alpha = 0.1f;
    fn(m, ldm, nt, y, ldy, rows, cols, scale, bias, act, alpha);
    ypr__wino4_out_ref(m, ldm, nt, yref, ldy, rows, cols, scale, bias, act, alpha);
    const int exact = act != YPR_ACT_SILU && act != YPR_ACT_SIGMOID;
    for (int64_t i = 0; i < yn; i++) {
        int64_t rr = i / ldy, cc = i % ldy;
        if (rr >= rows || cc >= cols) {
            assert_true(y[i] == 3.0f && yref[i] == 3.0f);   /* nothing outside */
            continue;
        }
        if (exact ? memcmp(&y[i], &yref[i], sizeof(float)) != 0
                  : fabs(y[i] - yref[i]) > 2e-6 * (1 + fabs(yref[i])))
            fail_msg("%s wino4_out nt %d rows %d cols %lld act %d at (%lld, %lld): %.9g vs %.9g",
                     name, nt, rows, (long long)cols, act, (long long)rr, (long long)cc,
                     y[i], yref[i]);
        if (act != YPR_ACT_IDENTITY)
            continue;
        /* the reference against Aᵀ·m·A in double */
        int64_t t = cc / 4, c = cc % 4;
        double want = 0, mag = 0;
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++) {
                double term = AT[rr][a] * AT[c][b] * m[(a * 6 + b) * ldm + t];
                want += term;
                mag += fabs(term);
            }
        want = want * scale + bias;
        if (fabs(yref[i] - want) > 1e-6 * (mag * scale + fabs(bias)))
            fail_msg("reference wino4_out tile %lld (%lld, %lld): %.9g vs %.9g", (long long)t,
                     (long long)rr, (long long)c, yref[i], want);
    }
    ypr__free(m); ypr__free(y); ypr__free(yref);
}

static void check_outputs(const char *name, out_fn fn, int vl)
{
    ypr_rng r;
    ypr__rng_seed(&r, 2);
    for (size_t c = 0; c < n_tile_counts(); c++) {
        const int nt = tile_counts[c];
        for (int rows = 1; rows <= 4; rows++) {
            check_output(name, fn, vl, &r, nt, rows, 4 * nt,
                         rows == 4 ? YPR_ACT_IDENTITY : YPR_ACT_LEAKY);
            check_output(name, fn, vl, &r, nt, rows, 4 * nt - 1 - (rows % 3), YPR_ACT_IDENTITY);
        }
        for (int act = 0; act < YPR_ACT_COUNT_; act++)
            check_output(name, fn, vl, &r, nt, 4, 4 * nt - 2, act);
    }
}

static void test_output_transform(void **state)
{
    (void)state;
    check_outputs(kt->name, kt->wino4_out, kt->vl);
}

/* wino4_out_segs on a virtual row of random segments (a thrown-away tile
 * between neighbours, edge rows and columns clipped), against wino4_out on
 * each segment alone: the same values bit for bit, nothing written outside
 * each segment's rows and columns. */
typedef void (*segs_fn)(const float *, int64_t, int, const ypr_wino_seg *, int, int64_t, float,
                        float, int, float);

static void check_segs(const char *name, segs_fn segs, out_fn one, int vl)
{
    ypr_rng r;
    ypr__rng_seed(&r, 12);
    enum { LDY = 200, MAXSEG = 12 };
    for (int trial = 0; trial < 60; trial++) {
        ypr_wino_seg seg[MAXSEG];
        int nseg = 1 + (int)(ypr__rng_u64(&r) % MAXSEG), nvt = 0;
        for (int q = 0; q < nseg; q++) {
            int nt = 1 + (int)(ypr__rng_u64(&r) % 9);
            seg[q].vt = nvt;
            seg[q].nt = nt;
            seg[q].rows = 1 + (int)(ypr__rng_u64(&r) % 4);
            seg[q].cols = 4 * nt - (int)(ypr__rng_u64(&r) % 4);
            nvt += nt + 1;
        }
        nvt--;
        const int64_t ldm = (nvt + 2 * vl + 15) / 16 * 16 + 16;
        float *m = rand_buf(&r, 36 * ldm, -2, 2);
        float *a = rand_buf(&r, (int64_t)nseg * 4 * LDY, 9, 9);
        float *b = ypr__alloc((size_t)nseg * 4 * LDY * sizeof(float));
        memcpy(b, a, (size_t)nseg * 4 * LDY * sizeof(float));
        const int act = trial % YPR_ACT_COUNT_;
        for (int q = 0; q < nseg; q++)
            seg[q].y = a + (int64_t)q * 4 * LDY + 3;
        segs(m, ldm, nvt, seg, nseg, LDY, 1.25f, -0.5f, act, 0.1f);
        for (int q = 0; q < nseg; q++)
            one(m + seg[q].vt, ldm, seg[q].nt, b + (int64_t)q * 4 * LDY + 3, LDY, seg[q].rows,
                seg[q].cols, 1.25f, -0.5f, act, 0.1f);
        if (memcmp(a, b, (size_t)nseg * 4 * LDY * sizeof(float)))
            fail_msg("%s: wino4_out_segs differs from wino4_out per segment (trial %d)", name,
                     trial);
        ypr__free(m); ypr__free(a); ypr__free(b);
    }
}

static void test_output_segments(void **state)
{
    (void)state;
    assert_non_null(kt->wino4_out_segs);
    check_segs(kt->name, kt->wino4_out_segs, kt->wino4_out, kt->vl);
}

/* --------------------------------------------------------- whole convs */

/* F(4×4) (wino 4) or F(2×2) (wino 2) through the public entry points */
static int wino_t = 4;

static void run_wino(ypr_pool *pool, const ypr_conv_shape *s, const float *x, const float *w,
                     const ypr_epilogue *ep, float *y)
{
    int64_t n = wino_t == 2 ? ypr__wino2_packed_w_floats(kt, s) : ypr__wino_packed_w_floats(kt, s);
    float *u = ypr__alloc((size_t)n * sizeof(float));
    assert_non_null(u);
    if (wino_t == 2) {
        ypr__wino2_pack_w(kt, s, w, u);
        assert_int_equal(ypr__conv2d_wino2(kt, pool, s, x, u, ep, y, NULL, NULL), YPR_OK);
    } else {
        ypr__wino_pack_w(kt, s, w, u);
        assert_int_equal(ypr__conv2d_wino(kt, pool, s, x, u, ep, y, NULL, NULL), YPR_OK);
    }
    ypr__free(u);
}

/* Σ|x·w| over the output element i's window (the scale of its rounding error). */
static double abs_sum(const ypr_conv_shape *s, const float *x, const float *w, int64_t oh,
                      int64_t ow, int64_t i)
{
    int64_t ox = i % ow, oy = i / ow % oh, o = i / (ow * oh) % s->oc, b = i / (ow * oh * s->oc);
    double acc = 0;
    for (int64_t c = 0; c < s->c; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                int64_t iy = oy - s->ph + ky, ix = ox - s->pw + kx;
                if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                    acc += fabs(x[((b * s->c + c) * s->h + iy) * s->w + ix] *
                                w[((o * s->c + c) * 3 + ky) * 3 + kx]);
            }
    return acc;
}

static double check_conv(ypr_rng *r, const ypr_conv_shape *s, float xmag, int act)
{
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(s, &oh, &ow), YPR_OK);
    assert_true(ypr__wino_eligible(s));
    int64_t xn = s->n * s->c * s->h * s->w, yn = s->n * s->oc * oh * ow;
    float *x = rand_buf(r, xn, -xmag, xmag), *w = rand_buf(r, s->oc * s->c * 9, -0.5f, 0.5f);
    float *scale = rand_buf(r, s->oc, 0.5f, 1.5f), *bias = rand_buf(r, s->oc, -0.5f, 0.5f);
    float *y = rand_buf(r, yn, 100, 200), *ref = ypr__alloc((size_t)yn * sizeof(float));
    ypr_epilogue ep = {scale, bias, act, 0.1f};
    run_wino(ypr__default_pool(), s, x, w, &ep, y);
    assert_int_equal(ypr__conv2d_ref(s, x, w, NULL, ref), YPR_OK);
    double worst = 0;   /* |error| / S of the pre-activation value, reported */
    for (int64_t i = 0; i < yn; i++) {
        int64_t o = i / (oh * ow) % s->oc;
        double mag = abs_sum(s, x, w, oh, ow, i) * scale[o];
        double pre = (double)ref[i] * scale[o] + bias[o];
        double want = ypr__act_ref((float)pre, act, 0.1f);
        double tol = 1e-5 * mag + 1e-6 * (1 + fabs(pre)) + 2e-6 * (1 + fabs(want));
        if (act == YPR_ACT_IDENTITY && mag > 0 && fabs(y[i] - want) / mag > worst)
            worst = fabs(y[i] - want) / mag;
        if (!(fabs(y[i] - want) <= tol))
            fail_msg("%s F(%d) conv N%lld C%lld %lldx%lld OC%lld p%lld,%lld act %d at %lld: "
                     "%.9g vs %.9g (S %g)", kt->name, wino_t, (long long)s->n, (long long)s->c,
                     (long long)s->h,
                     (long long)s->w, (long long)s->oc, (long long)s->ph, (long long)s->pw, act,
                     (long long)i, y[i], want, mag);
    }
    ypr__free(x); ypr__free(w); ypr__free(scale); ypr__free(bias);
    ypr__free(y); ypr__free(ref);
    return worst;
}

/* Edge shapes both tile sizes are checked on (n, c, h, w, oc, 3, 3, 1, 1,
 * ph, pw, 1, 1, 1): odd sizes (tiles cross both edges), paddings 0 and 2, a
 * 1×1 input (one partial tile). */
#define EDGE_SHAPES                                                                    \
    {2, 5, 13, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1}, {1, 3, 5, 9, 6, 3, 3, 1, 1, 0, 0, 1, 1, 1}, \
    {1, 7, 3, 3, 4, 3, 3, 1, 1, 2, 2, 1, 1, 1}, {1, 4, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1}

static void test_conv_against_direct(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 3);
    static const ypr_conv_shape shapes[] = {
        {1, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        EDGE_SHAPES,
        {1, 33, 26, 26, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {1, 12, 10, 50, 20, 3, 3, 1, 1, 1, 0, 1, 1, 1},
    };
    double worst = 0;
    /* the quick scope leaves out the two larger shapes */
    const size_t nshapes = sizeof shapes / sizeof shapes[0] - (test_quick() ? 2 : 0);
    for (size_t i = 0; i < nshapes; i++) {
        double wst = check_conv(&r, &shapes[i], 1.0f, (int)(i % 3) == 0 ? YPR_ACT_IDENTITY
                                                     : (int)(i % YPR_ACT_COUNT_));
        worst = wst > worst ? wst : worst;
    }
    /* large activations (|x| up to 1e3), identity and SiLU */
    worst = fmax(worst, check_conv(&r, &shapes[1], 1000.0f, YPR_ACT_IDENTITY));
    worst = fmax(worst, check_conv(&r, &shapes[test_quick() ? 0 : 5], 1000.0f, YPR_ACT_SILU));
    if (!test_quick()) {   /* several chunks of tile rows, wide rows */
        ypr_conv_shape big = {1, 64, 42, 202, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1};
        worst = fmax(worst, check_conv(&r, &big, 1000.0f, YPR_ACT_IDENTITY));
    }
    printf("%s: worst |error| / sum|x*w| = %.3g\n", kt->name, worst);
}

/* One conv on pools of 1, 2 and 3 workers by the rule and on one worker
 * through the fused blocks, against one worker through the chunked path:
 * the same values bit for bit. */
static void check_pools_agree(ypr_rng *r, const ypr_conv_shape *s, int act)
{
    int64_t yn = s->n * s->oc * s->h * s->w;
    float *x = rand_buf(r, s->n * s->c * s->h * s->w, -1, 1);
    float *w = rand_buf(r, s->oc * s->c * 9, -1, 1), *bias = rand_buf(r, s->oc, -1, 1);
    float *u = ypr__alloc((size_t)ypr__wino_packed_w_floats(kt, s) * sizeof(float));
    assert_non_null(u);
    ypr__wino_pack_w(kt, s, w, u);
    ypr_epilogue ep = {NULL, bias, act, 0.1f};
    static const int workers[5] = {1, 2, 3, 1, 1}, path[5] = {-1, -1, -1, 1, 0};
    float *y[5];
    for (int i = 0; i < 5; i++) {
        ypr_pool *p;
        assert_int_equal(ypr__pool_create(workers[i], &p), YPR_OK);
        y[i] = ypr__alloc((size_t)yn * sizeof(float));
        assert_int_equal(ypr__conv2d_wino_path(kt, p, s, x, u, &ep, y[i], NULL, NULL,
                                               path[i]), YPR_OK);
        ypr__pool_free(p);
    }
    for (int i = 0; i < 4; i++)
        assert_memory_equal(y[i], y[4], (size_t)yn * sizeof(float));
    for (int i = 0; i < 5; i++)
        ypr__free(y[i]);
    ypr__free(x); ypr__free(w); ypr__free(bias); ypr__free(u);
}

static void test_thread_independent(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 4);
    ypr_conv_shape s = {2, 24, 23, 19, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    check_pools_agree(&r, &s, YPR_ACT_SILU);
}

/* Shape 0 has enough tiles (2 images of 17 × 14) that pools of one, two and
 * three workers take the fused path in blocks of up to 64 tiles, as many per
 * worker (60 and 40 tiles: blocks spanning tile rows and images); shape 1
 * has few tiles (2 images of 4 × 3) and 50 output channels, which the fused
 * path splits between two or three workers; shape 2 (a 26² map: 49 tiles)
 * takes the fused path in blocks of 49, 25 and 17 tiles, which start inside
 * a tile row and end short of a vector (one panel: V handed to the GEMMs as
 * it is). Against the chunked path on one worker, bit for bit. */
static void test_fused_equals_chunked(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 5);
    const ypr_conv_shape shapes[3] = {{2, 8, 67, 53, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                                      {2, 16, 13, 11, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                                      {1, 12, 26, 26, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1}};
    for (int i = 0; i < 3; i++)
        check_pools_agree(&r, &shapes[i], YPR_ACT_LEAKY);
}

/* ------------------------------------------------------------ F(2×2, 3×3) */

static const double AT2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

/* The set's wino2_out_segs against the reference on random virtual rows
 * (bit for bit but SiLU/sigmoid: 2e-6·(1 + |ref|); nothing written outside
 * each segment's rows and columns), and the reference's single segments
 * against Aᵀ·m·A in double. */
static void check_output2(const char *name, segs_fn fn, int vl)
{
    ypr_rng r;
    ypr__rng_seed(&r, 22);
    enum { LDY = 100, MAXSEG = 9 };
    for (int trial = 0; trial < 60; trial++) {
        ypr_wino_seg seg[MAXSEG], sref[MAXSEG];
        int nseg = 1 + (int)(ypr__rng_u64(&r) % MAXSEG), nvt = 0;
        for (int q = 0; q < nseg; q++) {
            int nt = 1 + (int)(ypr__rng_u64(&r) % 20);
            seg[q] = (ypr_wino_seg){NULL, nvt, nt, 1 + (int)(ypr__rng_u64(&r) % 2),
                                    2 * nt - (int)(ypr__rng_u64(&r) % 2)};
            nvt += nt + 1;
        }
        nvt--;
        const int64_t ldm = (nvt + 2 * vl + 15) / 16 * 16 + 16, yn = (int64_t)nseg * 2 * LDY;
        float *m = rand_buf(&r, 16 * ldm, -1000, 1000);
        float *y = rand_buf(&r, yn, 3, 3), *yref = rand_buf(&r, yn, 3, 3);
        const int act = trial % YPR_ACT_COUNT_;
        for (int q = 0; q < nseg; q++) {
            sref[q] = seg[q];
            seg[q].y = y + (int64_t)q * 2 * LDY + 1;
            sref[q].y = yref + (int64_t)q * 2 * LDY + 1;
        }
        fn(m, ldm, nvt, seg, nseg, LDY, 0.75f, -20.0f, act, 0.1f);
        ypr__wino2_out_segs_ref(m, ldm, nvt, sref, nseg, LDY, 0.75f, -20.0f, act, 0.1f);
        const int exact = act != YPR_ACT_SILU && act != YPR_ACT_SIGMOID;
        for (int64_t i = 0; i < yn; i++) {
            const int q = (int)(i / (2 * LDY)), rr = (int)(i / LDY % 2);
            const int64_t cc = i % LDY - 1;
            if (cc < 0 || rr >= seg[q].rows || cc >= seg[q].cols) {
                assert_true(y[i] == 3.0f && yref[i] == 3.0f);   /* nothing outside */
                continue;
            }
            if (exact ? memcmp(&y[i], &yref[i], sizeof(float)) != 0
                      : fabs(y[i] - yref[i]) > 2e-6 * (1 + fabs(yref[i])))
                fail_msg("%s wino2_out_segs trial %d segment %d (%d, %lld): %.9g vs %.9g", name,
                         trial, q, rr, (long long)cc, y[i], yref[i]);
            if (act != YPR_ACT_IDENTITY)
                continue;
            const int64_t t = seg[q].vt + cc / 2, c = cc % 2;
            double want = 0, mag = 0;
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) {
                    double term = AT2[rr][a] * AT2[c][b] * m[(a * 4 + b) * ldm + t];
                    want += term;
                    mag += fabs(term);
                }
            want = want * 0.75 - 20.0;
            if (fabs(yref[i] - want) > 1e-6 * (mag * 0.75 + 20.0))
                fail_msg("reference wino2_out tile %lld (%d, %lld): %.9g vs %.9g", (long long)t,
                         rr, (long long)c, yref[i], want);
        }
        ypr__free(m); ypr__free(y); ypr__free(yref);
    }
}

static void test_f2_transforms(void **state)
{
    (void)state;
    assert_non_null(kt->wino2_in);
    assert_non_null(kt->wino2_out_segs);
    check_input_t(kt->name, kt->wino2_in, kt->vl, 2);
    check_output2(kt->name, kt->wino2_out_segs, kt->vl);
}

/* F(2×2) convs against the direct reference (the same tolerance as F(4×4):
 * its constants are smaller), then on pools of 1, 2 and 3 workers: the same
 * bits. */
static void test_f2_conv(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 23);
    static const ypr_conv_shape shapes[] = {
        {1, 16, 13, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        EDGE_SHAPES,
        {1, 40, 20, 26, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* blocks across tile rows */
    };
    wino_t = 2;
    double worst = 0;
    const size_t nshapes = sizeof shapes / sizeof shapes[0] - (test_quick() ? 1 : 0);
    for (size_t i = 0; i < nshapes; i++)
        worst = fmax(worst, check_conv(&r, &shapes[i], i == 1 ? 1000.0f : 1.0f,
                                       (int)(i % YPR_ACT_COUNT_)));
    printf("%s F(2x2): worst |error| / sum|x*w| = %.3g\n", kt->name, worst);
    const ypr_conv_shape *s = &shapes[test_quick() ? 0 : 5];
    const int64_t yn = s->n * s->oc * s->h * s->w;
    float *x = rand_buf(&r, s->n * s->c * s->h * s->w, -1, 1);
    float *w = rand_buf(&r, s->oc * s->c * 9, -1, 1), *bias = rand_buf(&r, s->oc, -1, 1);
    ypr_epilogue ep = {NULL, bias, YPR_ACT_SILU, 0.1f};
    float *y[3];
    for (int i = 0; i < 3; i++) {
        ypr_pool *p;
        assert_int_equal(ypr__pool_create(i + 1, &p), YPR_OK);
        y[i] = ypr__alloc((size_t)yn * sizeof(float));
        run_wino(p, s, x, w, &ep, y[i]);
        ypr__pool_free(p);
    }
    assert_memory_equal(y[0], y[1], (size_t)yn * sizeof(float));
    assert_memory_equal(y[0], y[2], (size_t)yn * sizeof(float));
    for (int i = 0; i < 3; i++)
        ypr__free(y[i]);
    ypr__free(x); ypr__free(w); ypr__free(bias);
    wino_t = 4;
}

static void test_bad_shapes(void **state)
{
    (void)state;
    ypr_conv_shape s = {1, 4, 8, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1};   /* stride 2 */
    assert_false(ypr__wino_eligible(&s));
    float x[256] = {0}, u[4096] = {0}, y[256];
    assert_int_equal(ypr__conv2d_wino(kt, ypr__default_pool(), &s, x, u, NULL, y, NULL, NULL),
                     YPR_EINVAL);
    s.sh = s.sw = 1;
    s.groups = 2;
    assert_false(ypr__wino_eligible(&s));
    s.groups = 1;
    s.kh = 1;
    assert_false(ypr__wino_eligible(&s));
    s.kh = 3;
    s.dh = 2;
    assert_false(ypr__wino_eligible(&s));
    s.dh = 1;
    assert_true(ypr__wino_eligible(&s));
    assert_int_equal(ypr__conv2d_wino(kt, ypr__default_pool(), &s, NULL, u, NULL, y, NULL, NULL),
                     YPR_EINVAL);
}

/* lib/kernels/x86/x86_wino.h instantiated over plain C lanes at 16 (the
 * AVX-512 shuffles' semantics), so its 16-lane loops are checked on machines
 * without AVX-512 too. */
#include "xv_plain16.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"   /* the template's other loops */
#include "lib/kernels/x86/x86_vec.h"
#pragma GCC diagnostic pop
XV_OP2(xv_zip_lo, l_ % 2 ? b.v[l_ / 2] : a.v[l_ / 2])
XV_OP2(xv_zip_hi, l_ % 2 ? b.v[8 + l_ / 2] : a.v[8 + l_ / 2])
#include "lib/kernels/x86/x86_wino.h"

static void test_x86_template(void **state)
{
    (void)state;
    check_input("x86_wino.h@16", wino4_in_vec, 16);
    check_outputs("x86_wino.h@16", wino4_out_vec, 16);
    check_segs("x86_wino.h@16", wino4_out_segs_vec, wino4_out_vec, 16);
    check_input_t("x86_wino.h@16", wino2_in_vec, 16, 2);
    check_output2("x86_wino.h@16", wino2_out_segs_vec, 16);
}

int main(void)
{
    int rc = test_simd_from_env();
    if (rc)
        return rc;
    kt = ypr__kt();
    assert_non_null(kt->wino4_in);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_transform),
        cmocka_unit_test(test_output_transform),
        cmocka_unit_test(test_output_segments),
        cmocka_unit_test(test_f2_transforms),
        cmocka_unit_test(test_f2_conv),
        cmocka_unit_test(test_conv_against_direct),
        cmocka_unit_test(test_thread_independent),
        cmocka_unit_test(test_fused_equals_chunked),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_x86_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
