/* Direct 3×3 stride-2 convs (lib/kernels/conv_s2.c), run once per kernel set
 * (YPR_SIMD=scalar|avx2|avx512|neon; exit 77 = skipped where this CPU or
 * build lacks the set).
 *
 *  - the set's s2_tile against the scalar reference (ypr__s2_tile_ref) bit
 *    for bit: the same fused multiply-adds in the same order per lane; every
 *    position count, channel counts with partial vectors, both padding
 *    skips, partial kernel-row ranges, accumulating or not; channels past
 *    noc and positions past np are not written;
 *  - the set's s2_flush against the reference: bit for bit but for SiLU and
 *    sigmoid (vector exp: 2e-6·(1 + |ref|)); nothing written outside the
 *    noc × OW rows;
 *  - the same two for lib/kernels/x86/x86_s2.h instantiated over plain C
 *    lanes at 16 (S2_NV 4, the AVX-512 shape) on any machine;
 *  - whole convs against the float64 direct reference (ypr__conv2d_ref),
 *    |y − ref| ≤ 1e-5·S + 1e-6·(1 + |ref|) (S = Σ|x·w| of the output), odd
 *    and even sizes, 1×1 and 1×2 inputs, batch 2, output channels past a
 *    whole block, input channels in several chunks, every activation;
 *  - bit-identical results on 1, 2 and 3 workers; bad shapes refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/kernels/kernels.h"
#include "test_util.h"
#include "kernel_util.h"

static const ypr_ktable *kt;

/* Logical weights w[o][ic][9] packed with a block stride of ocb channels. */
static void pack_block(const float *w, int noc, int64_t nic, int64_t ocb, float *d)
{
    for (int64_t ic = 0; ic < nic; ic++)
        for (int t = 0; t < 9; t++)
            for (int64_t o = 0; o < ocb; o++)
                d[(ic * 9 + t) * ocb + o] = o < noc ? w[(o * nic + ic) * 9 + t] : 0.0f;
}

typedef void (*tile_fn)(const float *, int64_t, int64_t, const float *, int64_t, int, int, int,
                        int, int, int, int, float *);
typedef void (*flush_fn)(const float *, int64_t, int64_t, int, float *, int64_t, const float *,
                         const float *, int, float);

/* fn (weights packed at ocb) against the reference (at YPR_S2_REF_OCB,
 * channels in slices of it) on the same logical weights and inputs. */
static void check_tile(const char *name, tile_fn fn, int64_t ocb)
{
    ypr_rng r;
    ypr__rng_seed(&r, 11);
    const int64_t w = 17, plane = 3 * w + 5;
    static const int khr[4][2] = {{0, 3}, {1, 3}, {0, 2}, {1, 2}};
    static const int nics[3] = {1, 3, 6};
    for (int ni = 0; ni < 3; ni++) {
        const int64_t nic = nics[ni];
        /* x points at column 1 of the buffer: columns −1 … 2·6 are readable */
        float *xb = rand_buf(&r, nic * plane + 2, -4, 4), *x = xb + 1;
        float *wl = rand_buf(&r, ocb * nic * 9, -1, 1);
        float *wp = ypr__alloc((size_t)(nic * 9 * ocb) * sizeof(float));
        float *wr = ypr__alloc((size_t)(nic * 9 * YPR_S2_REF_OCB) * sizeof(float));
        float *t = ypr__alloc((size_t)(YPR_S2_NP * ocb) * sizeof(float));
        float *tr = ypr__alloc((size_t)(YPR_S2_NP * YPR_S2_REF_OCB) * sizeof(float));
        assert_true(wp && wr && t && tr);
        const int nocs[4] = {(int)ocb, 1, (int)ocb - 1, (int)(ocb / 2 + 3)};
        for (int nc = 0; nc < 4; nc++) {
            const int noc = nocs[nc] < 1 ? 1 : nocs[nc] > ocb ? (int)ocb : nocs[nc];
            pack_block(wl, noc, nic, ocb, wp);
            for (int np = 1; np <= YPR_S2_NP; np++)
                for (int k = 0; k < 4; k++)
                    for (int sk = 0; sk < 4; sk++)
                        for (int acc = 0; acc < 2; acc++) {
                            const int kh0 = khr[k][0], kh1 = khr[k][1];
                            const int skip0 = sk & 1, skipl = sk >> 1;
                            for (int64_t i = 0; i < YPR_S2_NP * ocb; i++)
                                t[i] = 0.25f * (float)(i % 7);
                            fn(x, plane, w, wp, nic, kh0, kh1, np, noc, skip0, skipl, acc, t);
                            for (int o0 = 0; o0 < noc; o0 += YPR_S2_REF_OCB) {
                                const int on = noc - o0 < YPR_S2_REF_OCB ? noc - o0
                                                                          : YPR_S2_REF_OCB;
                                float *ws = wl + (int64_t)o0 * nic * 9;
                                pack_block(ws, on, nic, YPR_S2_REF_OCB, wr);
                                for (int p = 0; p < np; p++)
                                    for (int o = 0; o < on; o++)
                                        tr[p * YPR_S2_REF_OCB + o] =
                                            0.25f * (float)((p * ocb + o0 + o) % 7);
                                ypr__s2_tile_ref(x, plane, w, wr, nic, kh0, kh1, np, on, skip0,
                                                 skipl, acc, tr);
                                for (int p = 0; p < np; p++)
                                    for (int o = 0; o < on; o++) {
                                        float got = t[p * ocb + o0 + o];
                                        float want = tr[p * YPR_S2_REF_OCB + o];
                                        if (memcmp(&got, &want, sizeof got) != 0)
                                            fail_msg("%s s2_tile nic %lld np %d noc %d kh %d..%d "
                                                     "skip %d,%d acc %d at p %d o %d: %.9g vs "
                                                     "%.9g", name, (long long)nic, np, noc, kh0,
                                                     kh1, skip0, skipl, acc, p, o0 + o, got,
                                                     want);
                                    }
                            }
                            /* positions past np are left alone */
                            for (int64_t i = np * ocb; i < YPR_S2_NP * ocb; i++)
                                assert_true(t[i] == 0.25f * (float)(i % 7));
                        }
        }
        ypr__free(xb); ypr__free(wl); ypr__free(wp); ypr__free(wr); ypr__free(t); ypr__free(tr);
    }
}

static void check_flush(const char *name, flush_fn fn, int64_t ocb)
{
    ypr_rng r;
    ypr__rng_seed(&r, 12);
    static const int64_t ows[6] = {1, 5, 8, 13, 16, 37};
    for (int oi = 0; oi < 6; oi++)
        for (int act = 0; act < YPR_ACT_COUNT_; act++) {
            const int64_t ow = ows[oi], ohw = ow + 3;
            const int noc = (int)(oi % 2 ? ocb : ocb - 1 > 0 ? ocb - 1 : 1);
            float *t = rand_buf(&r, ow * ocb, -6, 6);
            float *scale = rand_buf(&r, ocb, 0.5f, 1.5f), *bias = rand_buf(&r, ocb, -1, 1);
            float *y = rand_buf(&r, (ocb + 1) * ohw, 7, 7);
            float *yr = rand_buf(&r, (ocb + 1) * ohw, 7, 7);
            const int none = oi == 2;   /* no scale and bias */
            fn(t, ocb, ow, noc, y, ohw, none ? NULL : scale, none ? NULL : bias, act, 0.1f);
            ypr__s2_flush_ref(t, ocb, ow, noc, yr, ohw, none ? NULL : scale, none ? NULL : bias,
                              act, 0.1f);
            for (int64_t i = 0; i < (ocb + 1) * ohw; i++) {
                if (i / ohw >= noc || i % ohw >= ow) {
                    assert_true(y[i] == 7.0f);   /* nothing outside the rows */
                    continue;
                }
                const int smooth = act == YPR_ACT_SILU || act == YPR_ACT_SIGMOID;
                if (smooth ? !(fabsf(y[i] - yr[i]) <= 2e-6f * (1 + fabsf(yr[i])))
                           : memcmp(&y[i], &yr[i], sizeof(float)) != 0)
                    fail_msg("%s s2_flush ow %lld noc %d act %d at o %lld q %lld: %.9g vs %.9g",
                             name, (long long)ow, noc, act, (long long)(i / ohw),
                             (long long)(i % ohw), y[i], yr[i]);
            }
            ypr__free(t); ypr__free(scale); ypr__free(bias); ypr__free(y); ypr__free(yr);
        }
}

static void test_tile(void **state)
{
    (void)state;
    check_tile(kt->name, kt->s2_tile, kt->s2_ocb);
}

static void test_flush(void **state)
{
    (void)state;
    check_flush(kt->name, kt->s2_flush, kt->s2_ocb);
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
                int64_t iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;
                if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                    acc += fabs(x[((b * s->c + c) * s->h + iy) * s->w + ix] *
                                w[((o * s->c + c) * 3 + ky) * 3 + kx]);
            }
    return acc;
}

static float *run_s2(ypr_pool *pool, const ypr_conv_shape *s, const float *x, const float *w,
                     const ypr_epilogue *ep, int64_t yn)
{
    float *u = ypr__alloc((size_t)ypr__s2_packed_w_floats(kt, s) * sizeof(float));
    float *y = ypr__alloc((size_t)yn * sizeof(float));
    assert_true(u && y);
    ypr__s2_pack_w(kt, s, w, u);
    assert_int_equal(ypr__conv2d_s2(kt, pool, s, x, u, ep, y, NULL), YPR_OK);
    ypr__free(u);
    return y;
}

static void check_conv(ypr_rng *r, const ypr_conv_shape *s, int act)
{
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(s, &oh, &ow), YPR_OK);
    assert_true(ypr__s2_eligible(kt, s));
    const int64_t xn = s->n * s->c * s->h * s->w, yn = s->n * s->oc * oh * ow;
    float *x = rand_buf(r, xn, -3, 3), *w = rand_buf(r, s->oc * s->c * 9, -0.5f, 0.5f);
    float *scale = rand_buf(r, s->oc, 0.5f, 1.5f), *bias = rand_buf(r, s->oc, -0.5f, 0.5f);
    float *ref = ypr__alloc((size_t)yn * sizeof(float));
    ypr_epilogue ep = {scale, bias, act, 0.1f};
    float *y = run_s2(ypr__default_pool(), s, x, w, &ep, yn);
    assert_int_equal(ypr__conv2d_ref(s, x, w, NULL, ref), YPR_OK);
    for (int64_t i = 0; i < yn; i++) {
        int64_t o = i / (oh * ow) % s->oc;
        double mag = abs_sum(s, x, w, oh, ow, i) * scale[o];
        double pre = (double)ref[i] * scale[o] + bias[o];
        double want = ypr__act_ref((float)pre, act, 0.1f);
        double tol = 1e-5 * mag + 1e-6 * (1 + fabs(pre)) + 2e-6 * (1 + fabs(want));
        if (!(fabs(y[i] - want) <= tol))
            fail_msg("%s direct s2 conv N%lld C%lld %lldx%lld OC%lld act %d at %lld: %.9g vs "
                     "%.9g (S %g)", kt->name, (long long)s->n, (long long)s->c,
                     (long long)s->h, (long long)s->w, (long long)s->oc, act, (long long)i,
                     y[i], want, mag);
    }
    ypr__free(x); ypr__free(w); ypr__free(scale); ypr__free(bias); ypr__free(y); ypr__free(ref);
}

#define S2_SHAPE(n, c, h, w, oc) {n, c, h, w, oc, 3, 3, 2, 2, 1, 1, 1, 1, 1}

static void test_conv_against_direct(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 13);
    const int64_t ocb = kt->s2_ocb;
    const ypr_conv_shape shapes[] = {
        S2_SHAPE(1, 16, 26, 26, 32),
        S2_SHAPE(2, 5, 13, 7, ocb + 3),          /* odd sizes, a partial second block */
        S2_SHAPE(1, 3, 1, 1, 4),                 /* one output, both skips on one position */
        S2_SHAPE(1, 4, 1, 2, 5),
        S2_SHAPE(1, 7, 2, 30, 2 * ocb),          /* several tiles per row, one kernel row */
        S2_SHAPE(1, 9, 40, 9, 3),
        /* several chunks of input channels (chunks hold ~128 KiB of a block's weights) */
        S2_SHAPE(1, 128 * 1024 / (36 * ocb) * 2 + 5, 5, 6, ocb - 1 > 0 ? ocb - 1 : 1),
    };
    const size_t n = sizeof shapes / sizeof shapes[0] - (test_quick() ? 1 : 0);
    for (size_t i = 0; i < n; i++)
        check_conv(&r, &shapes[i], (int)(i % YPR_ACT_COUNT_));
    check_conv(&r, &shapes[0], YPR_ACT_SILU);
}

static void test_thread_independent(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 14);
    const ypr_conv_shape s = S2_SHAPE(2, 12, 23, 34, kt->s2_ocb + 5);
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_OK);
    const int64_t yn = s.n * s.oc * oh * ow;
    float *x = rand_buf(&r, s.n * s.c * s.h * s.w, -1, 1), *w = rand_buf(&r, s.oc * s.c * 9, -1, 1);
    float *bias = rand_buf(&r, s.oc, -1, 1);
    ypr_epilogue ep = {NULL, bias, YPR_ACT_SILU, 0.1f};
    float *y[3];
    for (int i = 0; i < 3; i++) {
        ypr_pool *p;
        assert_int_equal(ypr__pool_create(i + 1, &p), YPR_OK);
        y[i] = run_s2(p, &s, x, w, &ep, yn);
        ypr__pool_free(p);
    }
    assert_memory_equal(y[0], y[1], (size_t)yn * sizeof(float));
    assert_memory_equal(y[0], y[2], (size_t)yn * sizeof(float));
    for (int i = 0; i < 3; i++)
        ypr__free(y[i]);
    ypr__free(x); ypr__free(w); ypr__free(bias);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    float x[64] = {0}, w[64] = {0}, y[64];
    static const ypr_conv_shape bad[] = {
        {1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* stride 1 */
        {1, 2, 4, 4, 2, 3, 3, 2, 2, 0, 0, 1, 1, 1},   /* padding 0 */
        {1, 2, 4, 4, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1},   /* 1×1 */
        {1, 2, 4, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2},   /* two groups */
        {1, 2, 4, 4, 2, 3, 3, 2, 2, 1, 1, 2, 2, 1},   /* dilated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ypr__s2_eligible(kt, &bad[i]));
        assert_int_equal(ypr__conv2d_s2(kt, NULL, &bad[i], x, w, NULL, y, NULL), YPR_EINVAL);
        assert_non_null(strstr(ypr_last_error(), "conv2d_s2"));
    }
    const ypr_conv_shape ok = S2_SHAPE(1, 2, 4, 4, 2);
    assert_int_equal(ypr__conv2d_s2(kt, NULL, &ok, NULL, w, NULL, y, NULL), YPR_EINVAL);
    const ypr_conv_shape neg = S2_SHAPE(1, 2, 0, 4, 2);
    assert_int_equal(ypr__conv2d_s2(kt, NULL, &neg, x, w, NULL, y, NULL), YPR_EINVAL);
}

/* lib/kernels/x86/x86_s2.h over plain C lanes at 16, the AVX-512 shape. */
#include "xv_plain16.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"   /* the template's other loops */
#include "lib/kernels/x86/x86_vec.h"
#pragma GCC diagnostic pop
AI void xv_transpose(xv_f r[16])
{
    xv_f t[16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            t[j].v[i] = r[i].v[j];
    memcpy(r, t, sizeof t);
}
#define S2_NV 4
#include "lib/kernels/x86/x86_s2.h"

static void test_x86_template(void **state)
{
    (void)state;
    check_tile("x86_s2.h@16", s2_tile_vec, S2_NV * 16);
    check_flush("x86_s2.h@16", s2_flush_vec, S2_NV * 16);
}

int main(void)
{
    int rc = test_simd_from_env();
    if (rc)
        return rc;
    kt = ypr__kt();
    assert_non_null(kt->s2_tile);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tile),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_conv_against_direct),
        cmocka_unit_test(test_thread_independent),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_x86_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
