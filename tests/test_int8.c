/* The INT8 runtime (docs/quant.md, "INT8 runtime").
 *
 * Kernels, once per INT8 kernel set (YPR_TEST_I8=scalar|avx2|avxvnni|
 * avx512vnni|neon|neondot; exit 77 where this CPU or build lacks it; the
 * scalar run also covers the scalar emulations of the S16 and U8 packed
 * layouts the x86 sets use):
 *  - the requantization epilogue worked by hand (shift and float modes,
 *    rounding half up / half even, leaky 26/256, clamps); its exp (SiLU,
 *    sigmoid) against exp() in double;
 *  - ypr__i8_conv2d of the set against the direct reference
 *    ypr__i8_conv2d_ref: bit-identical (integer sums are exact and every set
 *    runs the same epilogue operations), over odd channel counts, strides,
 *    padding, dilation, groups, batch 2, every epilogue mode and activation,
 *    1 and 3 threads; the set's epilogue against the scalar one on extreme
 *    accumulators.
 * Plans (scalar run only: the nets' arithmetic does not depend on the set):
 *  - the INT8 plan against the fake-quant float plan on the trained mini
 *    detector quantized with the dpu and the per-channel schemes (and with a
 *    layer kept float): the head outputs in units of their step. dpu: all
 *    equal (power-of-two steps: the float plan's sums are exact at these
 *    sizes, so both round the same values); per-channel: |Δ| ≤ 1 step on
 *    ≥ 99.9 % of the values and ≤ 4 steps on all (the float plan rounds its
 *    conv sums and its per-channel products, which moves a value across a
 *    rounding boundary now and then, and such a 1-step change travels on);
 *  - a plan sharing another shape's plan's weights computes what its own
 *    plan computes; ypr_model_forward picks the INT8 plan for a quantized
 *    model, the float plan with YPR_INT8=0 and for a float model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yolopr.h"
#include "lib/data/data.h"
#include "lib/model/model.h"
#include "test_util.h"

static const char *data_dir;
static const ypr_i8kt *kt;
static int SIZE = 128;   /* plan tests' input side: 64 in the quick scope */
static const char *set_name;

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int rnd_in(int lo, int hi)   /* inclusive */
{
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

/* ------------------------------------------------ epilogue by hand */

static void test_requant_by_hand(void **state)
{
    (void)state;
    int32_t bsh[1] = {0};
    ypr_i8rq rq = {YPR_I8RQ_SHIFT, YPR_ACT_IDENTITY, 0, -127, 127, bsh, 2, 256, 0,
                   NULL, NULL, 0, YPR_I8R_HALF_UP, NULL};
    /* acc / 4 rounded half up: 6 → 1.5 → 2, −6 → −1.5 → −1, −7 → −1.75 → −2 */
    assert_int_equal(ypr__i8_requant1(6, &rq, 0), 2);
    assert_int_equal(ypr__i8_requant1(-6, &rq, 0), -1);
    assert_int_equal(ypr__i8_requant1(-7, &rq, 0), -2);
    assert_int_equal(ypr__i8_requant1(100000, &rq, 0), 127);
    assert_int_equal(ypr__i8_requant1(-100000, &rq, 0), -127);
    bsh[0] = 8;   /* + 8 at the accumulator's grid: 6 + 8 = 14 → 3.5 → 4 */
    assert_int_equal(ypr__i8_requant1(6, &rq, 0), 4);
    bsh[0] = 0;
    rq.act = YPR_ACT_LEAKY;
    rq.alpha = 26.0f / 256;
    rq.lk = 26;
    rq.lneg = (int32_t)((128LL << 10) / 26 + 1);
    /* −100 · 26/256 / 4 = −2.5390625 → ⌊−2.039⌋ = −3; −64·26/1024 = −1.625 → −2;
     * −128·26/1024 = −3.25 → −3 */
    assert_int_equal(ypr__i8_requant1(-100, &rq, 0), -3);
    assert_int_equal(ypr__i8_requant1(-64, &rq, 0), -2);
    assert_int_equal(ypr__i8_requant1(-128, &rq, 0), -3);
    assert_int_equal(ypr__i8_requant1(-2000000, &rq, 0), -127);
    assert_int_equal(ypr__i8_requant1(10, &rq, 0), 3);   /* 2.5 → 3 */
    rq.act = YPR_ACT_RELU;
    assert_int_equal(ypr__i8_requant1(-100, &rq, 0), 0);
    /* float mode: z = acc·0.5 + 0.25, / 0.5, half to even, [−128, 127] */
    float m[1] = {0.5f}, b[1] = {0.25f};
    ypr_i8rq f = {YPR_I8RQ_FLOAT, YPR_ACT_IDENTITY, 0, -128, 127, NULL, 0, 0, 0, m, b, 0.5f,
                  YPR_I8R_HALF_EVEN, NULL};
    assert_int_equal(ypr__i8_requant1(3, &f, 0), 4);    /* 3.5 → 4 */
    assert_int_equal(ypr__i8_requant1(2, &f, 0), 2);    /* 2.5 → 2 */
    assert_int_equal(ypr__i8_requant1(-4, &f, 0), -4);  /* −3.5 → −4 */
    assert_int_equal(ypr__i8_requant1(-1000, &f, 0), -128);
    f.act = YPR_ACT_LEAKY;
    f.alpha = 0.1f;                                     /* (−19.75·0.1)/0.5 = −3.95 → −4 */
    assert_int_equal(ypr__i8_requant1(-40, &f, 0), -4);
    f.round = YPR_I8R_HALF_UP;
    f.act = YPR_ACT_IDENTITY;
    assert_int_equal(ypr__i8_requant1(-4, &f, 0), -3);  /* −3.5 → −3 */
}

/* The epilogue's exp against exp() in double: within 3e-7 relative. */
static void test_exp(void **state)
{
    (void)state;
    double worst = 0;
    for (int i = 0; i < 175000; i++) {   /* below the clamp at 88 */
        float x = -87.0f + (float)i * 0.001f;
        double ref = exp((double)x), rel = fabs((double)ypr__i8_exp(x) - ref) / ref;
        worst = rel > worst ? rel : worst;
    }
    print_message("ypr__i8_exp: worst relative error %.3g\n", worst);
    assert_true(worst < 3e-7);
    assert_true(ypr__i8_exp(-1000.0f) == ypr__i8_exp(-87.0f));   /* clamped */
    assert_true(ypr__i8_exp(0.0f) == 1.0f);
}

/* ------------------------------------------------ conv vs reference */

static void random_rq(ypr_i8rq *rq, int64_t oc, int32_t *bsh, float *m, float *b, int kind)
{
    static const int acts[] = {YPR_ACT_IDENTITY, YPR_ACT_RELU, YPR_ACT_LEAKY, YPR_ACT_SILU,
                               YPR_ACT_HARDSWISH, YPR_ACT_SIGMOID};
    memset(rq, 0, sizeof *rq);
    rq->qmin = rnd() % 2 ? -127 : -128;
    rq->qmax = 127;
    if (kind == 0) {   /* shift */
        rq->mode = YPR_I8RQ_SHIFT;
        rq->act = acts[rnd() % 3];
        rq->sh = rnd_in(1, 15);
        rq->lk = 26;
        rq->alpha = 26.0f / 256;
        rq->lneg = (int32_t)(((int64_t)(1 - rq->qmin) << (rq->sh + 8)) / 26 + 1);
        rq->bsh = bsh;
        rq->round = YPR_I8R_HALF_UP;
        for (int64_t o = 0; o < oc; o++)
            bsh[o] = rnd_in(-(1 << rq->sh) * 40, (1 << rq->sh) * 40);
    } else {
        rq->mode = YPR_I8RQ_FLOAT;
        rq->act = acts[rnd() % 6];
        rq->alpha = 0.1f;
        rq->round = (int)(rnd() % 3);
        /* a power of two a quarter of the time (the dpu scheme's: the x86
         * epilogues multiply by its reciprocal then) */
        rq->s_out = rnd() % 4 == 0 ? ldexpf(1.0f, -rnd_in(0, 8))
                                   : 0.05f + (float)(rnd() % 1000) / 1000.0f;
        rq->m = m;
        rq->b = b;
        for (int64_t o = 0; o < oc; o++) {
            m[o] = ldexpf(1.0f + (float)(rnd() % 1000) / 1000.0f, -rnd_in(6, 12));
            b[o] = ((float)(rnd() % 2001) - 1000.0f) / 200.0f;
        }
    }
    /* a third of the time an activation table after the requantization
     * (the plan's SiLU / hard-swish lookup): any permutation-free table */
    static int8_t tab[256];
    if (rnd() % 3 == 0) {
        for (int i = 0; i < 256; i++)
            tab[i] = (int8_t)rnd_in(-128, 127);
        rq->lut = tab;
    }
}

typedef struct cshape { int c, h, w, oc, k, s, p, d, g; } cshape;

static void check_conv(const ypr_i8kt *set, const cshape *cs, int n, int kind, ypr_pool *pool)
{
    ypr_conv_shape s = {n, cs->c, cs->h, cs->w, cs->oc, cs->k, cs->k, cs->s, cs->s, cs->p, cs->p,
                        cs->d, cs->d, cs->g};
    int64_t oh, ow;
    assert_int_equal(ypr__conv_check(&s, &oh, &ow), YPR_OK);
    int64_t xn = (int64_t)n * cs->c * cs->h * cs->w, wn = (int64_t)cs->oc * (cs->c / cs->g) *
                                                          cs->k * cs->k,
            yn = (int64_t)n * cs->oc * oh * ow;
    int8_t *x = malloc((size_t)xn), *w = malloc((size_t)wn), *y = malloc((size_t)yn + 64),
           *yr = malloc((size_t)yn);
    int32_t *bsh = malloc((size_t)cs->oc * sizeof(int32_t));
    float *m = malloc((size_t)cs->oc * sizeof(float)), *b = malloc((size_t)cs->oc * sizeof(float));
    /* inputs over the full int8 range, weights over the narrow one */
    for (int64_t i = 0; i < xn; i++)
        x[i] = (int8_t)rnd_in(-128, 127);
    for (int64_t i = 0; i < wn; i++)
        w[i] = (int8_t)(rnd() % 4 ? rnd_in(-20, 20) : rnd_in(-127, 127));
    ypr_i8rq rq;
    random_rq(&rq, cs->oc, bsh, m, b, kind);
    void *packed = ypr__alloc((size_t)ypr__i8_conv_packed_bytes(set, &s));
    ypr__i8_conv_pack_w(set, &s, w, packed);
    memset(y + yn, 0x5a, 64);
    assert_int_equal(ypr__i8_conv2d(set, pool, &s, x, packed, &rq, y, NULL), YPR_OK);
    assert_int_equal(ypr__i8_conv2d_ref(&s, x, w, &rq, yr), YPR_OK);
    for (int64_t i = 0; i < yn; i++)
        if (y[i] != yr[i])
            fail_msg("%s: conv %dx%dx%d→%d k%d s%d p%d d%d g%d n%d mode %d act %d: y[%lld] = %d, "
                     "reference %d", set->name, cs->c, cs->h, cs->w, cs->oc, cs->k, cs->s, cs->p,
                     cs->d, cs->g, n, rq.mode, rq.act, (long long)i, y[i], yr[i]);
    for (int i = 0; i < 64; i++)
        assert_int_equal((uint8_t)y[yn + i], 0x5a);   /* nothing written past the output */
    ypr__free(packed);
    free(x);
    free(w);
    free(y);
    free(yr);
    free(bsh);
    free(m);
    free(b);
}

static void conv_cases(const ypr_i8kt *set)
{
    static const cshape shapes[] = {
        /* tap-major 3×3 packing on the x86 U8 sets, stride 2 and 1: channels a multiple
         * of 4 (and 3: not tap-major), even and odd sizes, rows wider than 32 outputs and
         * narrower than 16 */
        {32, 20, 70, 24, 3, 2, 1, 1, 1},  {8, 7, 9, 8, 3, 2, 1, 1, 1},
        {3, 21, 70, 8, 3, 2, 1, 1, 1},    {8, 5, 70, 16, 3, 1, 1, 1, 1},
        {3, 9, 41, 32, 3, 1, 1, 1, 1},    {64, 13, 27, 16, 3, 2, 1, 1, 1},
        {203, 4, 4, 17, 3, 2, 1, 1, 1},   {16, 8, 8, 32, 1, 1, 0, 1, 1},
        {6, 21, 70, 10, 3, 2, 1, 1, 1},   {5, 9, 67, 7, 1, 2, 0, 1, 1},
        {7, 9, 11, 13, 3, 2, 1, 1, 1},    {33, 6, 5, 29, 3, 1, 1, 1, 1},
        {12, 10, 10, 12, 3, 1, 2, 2, 3},  {64, 5, 7, 70, 1, 1, 0, 1, 1},
        {5, 13, 13, 7, 5, 1, 2, 1, 1},    {3, 17, 19, 5, 3, 1, 1, 1, 1},
        {8, 30, 31, 6, 1, 1, 0, 1, 1},    {24, 12, 12, 48, 3, 1, 1, 1, 1},
        {4, 3, 3, 9, 3, 1, 0, 1, 1},      {256, 6, 6, 40, 3, 1, 1, 1, 1},
    };
    size_t count = test_quick() ? 8 : sizeof shapes / sizeof shapes[0];
    ypr_pool *p1, *p3;
    assert_int_equal(ypr__pool_create(1, &p1), YPR_OK);
    assert_int_equal(ypr__pool_create(3, &p3), YPR_OK);
    for (size_t i = 0; i < count; i++)
        for (int kind = 0; kind < 2; kind++) {
            check_conv(set, &shapes[i], 1 + (int)(i % 2), kind, p1);
            check_conv(set, &shapes[i], 1, kind, p3);
        }
    ypr__pool_free(p1);
    ypr__pool_free(p3);
}

static void test_conv_vs_reference(void **state)
{
    (void)state;
    conv_cases(kt);
    if (strcmp(set_name, "scalar") == 0) {
        const ypr_i8kt *s16 = ypr__i8kt_named("scalar-s16"), *u8 = ypr__i8kt_named("scalar-u8");
        assert_non_null(s16);
        assert_non_null(u8);
        conv_cases(s16);
        conv_cases(u8);
    }
}

/* Exact ties in the float mode (z = acc/2, step 1): each rounding by hand
 * on a few values, and the set's epilogue against the scalar one on all. */
static void test_requant_ties(void **state)
{
    (void)state;
    const int mr = kt->mr, nr = kt->nr;
    int32_t *acc = malloc((size_t)mr * nr * sizeof(int32_t));
    float m[64], b[64];
    int8_t y[64 * 64], yr[64 * 64];
    for (int i = 0; i < mr; i++) {
        m[i] = 0.5f;
        b[i] = 0.0f;
    }
    /* acc 3, -3, 1, -1, 5: z 1.5, -1.5, 0.5, -0.5, 2.5 */
    static const int32_t by_hand[5] = {3, -3, 1, -1, 5};
    static const int8_t want[3][5] = {
        {2, -2, 0, 0, 2},     /* half even */
        {2, -2, 1, -1, 3},    /* half away from zero */
        {2, -1, 1, 0, 3},     /* half up: floor(z + 0.5) */
    };
    for (int round = 0; round < 3; round++) {
        ypr_i8rq rq = {.mode = YPR_I8RQ_FLOAT, .act = YPR_ACT_IDENTITY, .qmin = -128,
                       .qmax = 127, .m = m, .b = b, .s_out = 1.0f, .round = round};
        for (int i = 0; i < mr * nr; i++)
            acc[i] = i < 5 ? by_hand[i] : (int32_t)(i % 511) - 255;
        memset(y, 0, sizeof y);
        memset(yr, 0, sizeof yr);
        kt->requant(acc, nr, mr, nr, &rq, 0, y, 64);
        ypr__i8_requant_ref(acc, nr, mr, nr, &rq, 0, yr, 64);
        for (int i = 0; i < 5; i++)
            assert_int_equal(yr[i], want[round][i]);
        assert_memory_equal(y, yr, sizeof y);
    }
    free(acc);
}

/* The float mode with an s_out whose reciprocal is not exact (the vector
 * sets divide; a multiply by the rounded reciprocal was tried and left out:
 * no faster in the model, session 10). Pairs (m, s_out) that put z / s_out on or within a few ulps of
 * half-integers (0.05 / 0.1, 1.5 / 3, 0.7 / 1.4, 1/3 / (2/3), random ones),
 * every accumulator in a sweep, both vector rounding modes: bit for bit the
 * scalar epilogue's division. */
static void test_requant_near_ties(void **state)
{
    (void)state;
    const int mr = kt->mr, nr = kt->nr;
    int32_t *acc = malloc((size_t)mr * nr * sizeof(int32_t));
    float m[64], b[64];
    int8_t y[64 * 64], yr[64 * 64];
    const float pairs[][2] = {{0.05f, 0.1f}, {1.5f, 3.0f}, {0.7f, 1.4f},
                              {1.0f / 3, 2.0f / 3}, {0.013f, 0.026f}, {0.3f, 0.9f}};
    int64_t checked = 0;
    for (int pr = 0; pr < 6 + 4; pr++) {
        float mm = pr < 6 ? pairs[pr][0] : ldexpf(1.0f + (float)(rnd() % 1000) / 1000, -8);
        float so = pr < 6 ? pairs[pr][1] : 2 * mm * (1.0f + (float)(rnd() % 7 + 1) * 0x1p-23f);
        for (int i = 0; i < mr; i++) {
            m[i] = mm;
            b[i] = i % 2 ? 0.0f : mm / 2;   /* shifts the ties by a quarter step */
        }
        for (int round = 0; round < 3; round += 2) {   /* half even, half up */
            ypr_i8rq rq = {.mode = YPR_I8RQ_FLOAT, .act = YPR_ACT_IDENTITY, .qmin = -128,
                           .qmax = 127, .m = m, .b = b, .s_out = so, .round = round};
            for (int32_t a0 = -300; a0 < 300; a0 += mr * nr) {
                for (int i = 0; i < mr * nr; i++)
                    acc[i] = a0 + i;
                kt->requant(acc, nr, mr, nr, &rq, 0, y, 64);
                ypr__i8_requant_ref(acc, nr, mr, nr, &rq, 0, yr, 64);
                for (int i = 0; i < mr; i++)
                    if (memcmp(y + i * 64, yr + i * 64, (size_t)nr) != 0)
                        fail_msg("%s: m %.9g s_out %.9g round %d: row %d differs", kt->name,
                                 (double)mm, (double)so, round, i);
                checked += mr * nr;
            }
        }
    }
    assert_true(checked > 0);
    free(acc);
}

/* ------------------------------------------------ Winograd vs direct */

/* Direct int32 sums of conv(x − zp, w) (3×3, stride 1, padding = zp, so
 * padded taps add 0), then the scalar epilogue. */
static void ref_zp(const ypr_conv_shape *s, const int8_t *x, int zp, const int8_t *w,
                   const ypr_i8rq *rq, int8_t *y)
{
    int64_t oh = s->h + 2 * s->ph - 2, ow = s->w + 2 * s->pw - 2;
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < s->oc; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t acc = 0;
                    for (int64_t c = 0; c < s->c; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t iy = oy - s->ph + ky, ix = ox - s->pw + kx;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                    continue;
                                acc += (int64_t)(x[((b * s->c + c) * s->h + iy) * s->w + ix] - zp) *
                                       w[((o * s->c + c) * 3 + ky) * 3 + kx];
                            }
                    y[((b * s->oc + o) * oh + oy) * ow + ox] = ypr__i8_requant1((int32_t)acc, rq, o);
                }
}

typedef struct wcase { int c, h, w, oc, p, n, zp, fill; } wcase;

/* fill: 0 random (full range), 1 extremes (x ∈ {−128, 127}, w ∈ {−128, −127, 127}),
 * 2 the worst case (x = −128, w = 127: the largest |S| the check allows) */
static void check_wino(const ypr_i8kt *set, const wcase *wc, int kind, int t, ypr_pool *pool)
{
    ypr_conv_shape s = {wc->n, wc->c, wc->h, wc->w, wc->oc, 3, 3, 1, 1, wc->p, wc->p, 1, 1, 1};
    int64_t oh = wc->h + 2 * wc->p - 2, ow = wc->w + 2 * wc->p - 2;
    int64_t xn = (int64_t)wc->n * wc->c * wc->h * wc->w, wn = (int64_t)wc->oc * wc->c * 9,
            yn = (int64_t)wc->n * wc->oc * oh * ow;
    int8_t *x = malloc((size_t)xn), *w = malloc((size_t)wn), *y = malloc((size_t)yn + 64),
           *yr = malloc((size_t)yn), *yd = malloc((size_t)yn);
    int32_t *bsh = malloc((size_t)wc->oc * sizeof(int32_t));
    float *m = malloc((size_t)wc->oc * sizeof(float)), *b = malloc((size_t)wc->oc * sizeof(float));
    static const int8_t wx[3] = {-128, -127, 127};
    for (int64_t i = 0; i < xn; i++)
        x[i] = wc->fill == 0 ? (int8_t)rnd_in(-128, 127) : wc->fill == 1 ? (rnd() % 2 ? 127 : -128)
                                                                        : -128;
    for (int64_t i = 0; i < wn; i++)
        w[i] = wc->fill == 0 ? (int8_t)(rnd() % 4 ? rnd_in(-20, 20) : rnd_in(-128, 127))
               : wc->fill == 1 ? wx[rnd() % 3] : 127;
    ypr_i8rq rq;
    random_rq(&rq, wc->oc, bsh, m, b, kind);
    if (wc->fill == 2) {   /* |S| up to 2^29: read its top bits */
        rq.mode = YPR_I8RQ_FLOAT;
        rq.act = YPR_ACT_IDENTITY;
        rq.s_out = 1;
        rq.m = m;
        rq.b = b;
        for (int64_t o = 0; o < wc->oc; o++) {
            m[o] = ldexpf(1.0f, t == 4 ? -18 : -22);
            b[o] = 0;
        }
    }
    assert_true(ypr__i8_wino_eligible(&s));
    void *packed = NULL;
    if (!ypr__i8_wino_exact(&s, w, wc->zp ? 255 : 128, t)) {
        assert_true(t == 4 && wc->fill == 2);   /* the 2^29 case: F(2×2) only */
        goto done;
    }
    packed = ypr__alloc((size_t)ypr__i8_wino_packed_bytes(set, &s, t));
    ypr__i8_wino_pack_w(set, &s, w, t, packed);
    memset(y + yn, 0x5a, 64);
    assert_int_equal(ypr__i8_wino_conv2d(set, pool, &s, x, wc->zp, t, packed, &rq, y, NULL),
                     YPR_OK);
    ref_zp(&s, x, wc->zp, w, &rq, yr);
    if (wc->zp == 0) {   /* and the direct INT8 conv of the same set, bit for bit */
        void *pd = ypr__alloc((size_t)ypr__i8_conv_packed_bytes(set, &s));
        ypr__i8_conv_pack_w(set, &s, w, pd);
        assert_int_equal(ypr__i8_conv2d(set, pool, &s, x, pd, &rq, yd, NULL), YPR_OK);
        assert_memory_equal(yd, yr, (size_t)yn);
        ypr__free(pd);
    }
    for (int64_t i = 0; i < yn; i++)
        if (y[i] != yr[i])
            fail_msg("%s: winograd F(%d) %dx%dx%d→%d p%d n%d zp %d fill %d mode %d act %d: "
                     "y[%lld] = %d, reference %d", set->name, t, wc->c, wc->h, wc->w, wc->oc,
                     wc->p, wc->n, wc->zp, wc->fill, rq.mode, rq.act, (long long)i, y[i], yr[i]);
    for (int i = 0; i < 64; i++)
        assert_int_equal((uint8_t)y[yn + i], 0x5a);
done:
    ypr__free(packed);
    free(x);
    free(w);
    free(y);
    free(yr);
    free(yd);
    free(bsh);
    free(m);
    free(b);
}

static void wino_cases(const ypr_i8kt *set, size_t quick_count)
{
    static const wcase cases[] = {
        /* rows of 32 tiles and more, the zero point's extreme |x − zp| = 255 on one */
        {6, 9, 200, 9, 1, 1, -3, 0},   {3, 6, 260, 5, 1, 1, 127, 1},
        {3, 17, 19, 5, 1, 1, 0, 0},    {33, 6, 5, 29, 1, 2, 0, 0},   {24, 12, 12, 48, 1, 1, 0, 1},
        {7, 40, 37, 13, 1, 1, -3, 0},  {1, 3, 3, 1, 0, 1, 0, 1},     {16, 9, 70, 17, 0, 1, 0, 0},
        {5, 11, 4, 7, 2, 2, 127, 1},   {203, 6, 6, 40, 1, 1, 0, 0},  {64, 20, 20, 70, 1, 1, -128, 0},
        {2, 1, 1, 3, 1, 1, 5, 0},      {9, 35, 33, 6, 1, 1, 0, 1},   {3600, 4, 4, 2, 1, 1, 0, 2},
        {229, 7, 6, 3, 1, 1, 0, 2},
    };
    size_t count = test_quick() ? quick_count : sizeof cases / sizeof cases[0];
    ypr_pool *p1, *p3;
    assert_int_equal(ypr__pool_create(1, &p1), YPR_OK);
    assert_int_equal(ypr__pool_create(3, &p3), YPR_OK);
    for (size_t i = 0; i < count; i++)
        for (int kind = 0; kind < 2; kind++)
            for (int t = 2; t <= 4; t += 2)
                check_wino(set, &cases[i], kind, t, i % 2 ? p3 : p1);
    ypr__pool_free(p1);
    ypr__pool_free(p3);
}

static void test_wino_vs_direct(void **state)
{
    (void)state;
    wino_cases(kt, 7);
    if (strcmp(set_name, "scalar") == 0) {   /* the avx2/avxvnni and avx512vnni tiles */
        wino_cases(ypr__i8kt_named("scalar-s16"), 3);
        wino_cases(ypr__i8kt_named("scalar-u8"), 3);
    }
}

/* The range check, worked by hand: 9·C·127·128 against 2^29 = 536 870 912
 * (C = 3600: 526 694 400 passes; C = 3700: 541 324 800 does not) and, for
 * F(4×4), 2^25 = 33 554 432 (C = 229: 33 503 616 passes; 230: 33 649 920 not). */
static void test_wino_exact_bound(void **state)
{
    (void)state;
    int8_t *w = malloc(9 * 3700);
    memset(w, 127, 9 * 3700);
    ypr_conv_shape s = {1, 3600, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    assert_true(ypr__i8_wino_exact(&s, w, 128, 2));
    assert_false(ypr__i8_wino_exact(&s, w, 255, 2));   /* with a zero point: 1 047 717 000 */
    assert_false(ypr__i8_wino_exact(&s, w, 128, 4));
    s.c = 3700;
    assert_false(ypr__i8_wino_exact(&s, w, 128, 2));
    s.c = 229;
    assert_true(ypr__i8_wino_exact(&s, w, 128, 4));
    s.c = 230;
    assert_false(ypr__i8_wino_exact(&s, w, 128, 4));
    s.c = 3600;
    s.sh = 2;
    assert_false(ypr__i8_wino_eligible(&s));
    s.sh = 1;
    s.groups = 2;
    assert_false(ypr__i8_wino_eligible(&s));
    free(w);
}

/* Inputs known to lie in a range (a SiLU table's output: −6 … 127 here): by
 * hand, weights ±127 in equal halves over C = 300 channels (Σ of each sign
 * 171 450): the symmetric bound 342 900·128 = 43 891 200 fails F(4×4)'s 2^25,
 * the range bound 171 450·127 + 171 450·6 = 22 802 850 holds (and fails again
 * with the low end at −100: 39 294 350). Then F(4×4) on inputs in that range,
 * the extremes included, gives the direct conv's output bit for bit on this
 * set, with a step fine enough (2^−17) that a wrapped sum would show. */
static void test_wino_range(void **state)
{
    (void)state;
    const int C = 300, H = 7, W = 9, OC = 3;
    ypr_conv_shape s = {1, C, H, W, OC, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    int8_t *w = malloc((size_t)OC * C * 9), *x = malloc((size_t)C * H * W);
    int8_t *y = malloc((size_t)OC * H * W), *yr = malloc((size_t)OC * H * W);
    for (int o = 0; o < OC; o++)   /* even input channels +127, odd ones −127 */
        for (int k = 0; k < C * 9; k++)
            w[o * C * 9 + k] = (int8_t)(k / 9 % 2 ? -127 : 127);
    for (int o = 0; o < OC; o++) {
        int pos = 0;
        for (int k = 0; k < C * 9; k++)
            pos += w[o * C * 9 + k] > 0;
        assert_int_equal(pos, C * 9 / 2);
    }
    assert_false(ypr__i8_wino_exact(&s, w, 128, 4));
    assert_false(ypr__i8_wino_exact_range(&s, w, -128, 127, 4));
    assert_false(ypr__i8_wino_exact_range(&s, w, -100, 127, 4));
    assert_true(ypr__i8_wino_exact_range(&s, w, -6, 127, 4));
    assert_true(ypr__i8_wino_exact_range(&s, w, 5, 127, 4));   /* padding's 0 counts */
    for (int i = 0; i < C * H * W; i++) {   /* mostly the signs' extremes: sums near the bound */
        int even = i / (H * W) % 2 == 0;
        x[i] = (int8_t)(rnd() % 5 ? (even ? 127 : -6) : rnd_in(-6, 127));
    }
    /* channel 0 saturates near the bound (a wrapped sum flips it), 1 and 2 do not */
    float m[3] = {0x1p-17f, 0x1p-18f, 0x1p-19f}, b[3] = {0, 0, 0};
    ypr_i8rq rq = {.mode = YPR_I8RQ_FLOAT, .act = YPR_ACT_IDENTITY, .qmin = -128, .qmax = 127,
                   .m = m, .b = b, .s_out = 1.0f, .round = YPR_I8R_HALF_EVEN};
    void *packed = ypr__alloc((size_t)ypr__i8_wino_packed_bytes(kt, &s, 4));
    ypr__i8_wino_pack_w(kt, &s, w, 4, packed);
    assert_int_equal(ypr__i8_wino_conv2d(kt, NULL, &s, x, 0, 4, packed, &rq, y, NULL), YPR_OK);
    assert_int_equal(ypr__i8_conv2d_ref(&s, x, w, &rq, yr), YPR_OK);
    int near = 0;
    for (int i = 0; i < H * W; i++)   /* channel 1: S·2^−18 > 64 ⇔ S > 2^24 */
        near |= yr[H * W + i] > 64;
    assert_true(near);
    assert_memory_equal(y, yr, (size_t)OC * H * W);
    ypr__free(packed);
    free(w);
    free(x);
    free(y);
    free(yr);
}

/* The set's epilogue against the scalar one, on accumulators up to the
 * plan's bound (|acc + bsh| < 2^30), every mode, activation and rounding. */
static void test_requant_extremes(void **state)
{
    (void)state;
    const int mr = kt->mr, nr = kt->nr;
    int32_t *acc = malloc((size_t)mr * nr * sizeof(int32_t)), bsh[64];
    float m[64], b[64];
    int8_t y[64 * 64], yr[64 * 64];
    for (int rep = 0; rep < (test_quick() ? 200 : 2000); rep++) {
        ypr_i8rq rq;
        random_rq(&rq, mr, bsh, m, b, rep % 2);
        for (int i = 0; i < mr * nr; i++) {
            int mag = rnd_in(0, 29);
            acc[i] = (int32_t)(rnd() % (1u << mag)) * (rnd() % 2 ? 1 : -1);
        }
        if (rq.mode == YPR_I8RQ_SHIFT)
            for (int i = 0; i < mr; i++)
                bsh[i] /= 4;
        int mm = rnd_in(1, mr), nn = rnd_in(1, nr);
        memset(y, 0, sizeof y);
        memset(yr, 0, sizeof yr);
        kt->requant(acc, nr, mm, nn, &rq, 0, y, 64);
        ypr__i8_requant_ref(acc, nr, mm, nn, &rq, 0, yr, 64);
        assert_memory_equal(y, yr, sizeof y);
    }
    free(acc);
}

/* The INT8 plan's max-pool (SIMD rows where the windows allow) against a
 * direct loop: YOLOv7's 2×2/2 and the SPP windows k = 3 … 13 stride 1
 * (padding k/2), plus k = 3 stride 2; widths around the 16-byte chunks. */
static void test_maxpool_i8(void **state)
{
    (void)state;
    static const int ks[][3] = {{2, 2, 0}, {3, 1, 1}, {5, 1, 2}, {9, 1, 4}, {13, 1, 6}, {3, 2, 1}};
    int8_t *x = malloc(80 * 80), *y = malloc(80 * 80 + 64), *yr = malloc(80 * 80);
    for (int c = 0; c < 6; c++)
        for (int h = 1; h <= 40; h += 3)
            for (int w = 1; w <= 72; w += (w < 40 ? 1 : 7)) {
                int k = ks[c][0], s = ks[c][1], pad = ks[c][2];
                if (h + 2 * pad < k || w + 2 * pad < k)
                    continue;
                int64_t oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
                for (int i = 0; i < h * w; i++)
                    x[i] = (int8_t)(rnd() % 4 ? rnd_in(-128, 127) : rnd() % 2 ? -128 : 127);
                for (int64_t oy = 0; oy < oh; oy++)
                    for (int64_t ox = 0; ox < ow; ox++) {
                        int m = -128;
                        for (int dy = 0; dy < k; dy++)
                            for (int dx = 0; dx < k; dx++) {
                                int64_t iy = oy * s - pad + dy, ix = ox * s - pad + dx;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w && x[iy * w + ix] > m)
                                    m = x[iy * w + ix];
                            }
                        yr[oy * ow + ox] = (int8_t)m;
                    }
                int8_t *tmp = malloc((size_t)ypr__i8_maxpool_tmp_bytes(h, w, k, s, pad));
                memset(y + oh * ow, 0x5a, 64);
                ypr__i8_maxpool_plane(x, h, w, k, s, pad, tmp, y);
                free(tmp);
                if (memcmp(y, yr, (size_t)(oh * ow)) != 0)
                    fail_msg("maxpool k%d s%d p%d on %dx%d differs", k, s, pad, h, w);
                for (int i = 0; i < 64; i++)   /* nothing written past the plane */
                    assert_int_equal((uint8_t)y[oh * ow + i], 0x5a);
            }
    free(x);
    free(y);
    free(yr);
}

/* ------------------------------------------------ plans */

static int act_lut = 1;   /* YPR_QUANT_ACT_LUT of the next quantized() */

static ypr_model *quantized(ypr_model *m, const ypr_dataset *ds, int scheme, const char *keep)
{
    ypr_quantizer *q = test_quantizer(m, ds, scheme, test_quick() ? 2 : 4, SIZE);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 0), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_ACT_LUT, act_lut), YPR_OK);
    if (keep)
        assert_int_equal(ypr_quantizer_keep_float(q, keep), YPR_OK);
    ypr_model *out;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    ypr_quantizer_free(q);
    return out;
}


static float *images(const ypr_dataset *ds, int n)
{
    float *x = malloc((size_t)n * 3 * SIZE * SIZE * sizeof(float));
    for (int i = 0; i < n; i++) {
        uint8_t *rgb;
        int w, h;
        ypr_letterbox lb;
        assert_int_equal(ypr_dataset_image(ds, i, &rgb, &w, &h), YPR_OK);
        assert_int_equal(ypr__letterbox(rgb, w, h, SIZE, SIZE, 114, x + (size_t)i * 3 * SIZE * SIZE,
                                        &lb), YPR_OK);
        ypr_free(rgb);
    }
    return x;
}

/* INT8 plan vs float plan, outputs in steps of each head value. */
static void agree(ypr_model *qm, const float *x, int n, int exact, const char *what)
{
    const ypr_net *net = &qm->net;
    ypr_plan *pf;
    ypr_plan_i8 *pi;
    setenv("YPR_CONV_ALGO", "gemm", 1);   /* the float plan's plainest sums */
    /* at the images' own batch: a batch-1 float plan joins concat inputs in
     * place (zero-copy), which must not let a requantizing concat's step
     * reach their other readers (exec.c, plan_concat_aliases) */
    assert_int_equal(ypr__plan_create(net, qm->pool, n, SIZE, SIZE, &pf), YPR_OK);
    unsetenv("YPR_CONV_ALGO");
    assert_int_equal(ypr__plan_i8_create(net, qm->pool, n, SIZE, SIZE, &pi), YPR_OK);
    assert_int_equal(ypr__plan_run(pf, x), YPR_OK);
    assert_int_equal(ypr__plan_i8_run(pi, x), YPR_OK);
    int nl = ypr__plan_num_outputs(pf);
    assert_int_equal(ypr__plan_i8_num_outputs(pi), nl);
    const ypr_node *det = &net->nodes[net->nnodes - 1];
    int64_t total = 0, same = 0, one = 0;
    double worst = 0;
    for (int l = 0; l < nl; l++) {
        ypr_shape sf, si;
        const float *a = ypr__plan_output(pf, l, &sf), *b = ypr__plan_i8_output(pi, l, &si);
        assert_memory_equal(&sf, &si, sizeof sf);
        float s = net->nodes[det->inputs[l]].aq.scale;
        assert_true(s > 0);
        int64_t cnt = (int64_t)n * sf.c * sf.h * sf.w;
        for (int64_t i = 0; i < cnt; i++) {
            double d = fabs((double)a[i] - b[i]) / s;
            total++;
            same += d == 0;
            one += d <= 1.0 + 1e-6;
            worst = d > worst ? d : worst;
        }
    }
    print_message("%s: %lld values, %.4f%% equal, %.4f%% within 1 step, worst %.0f steps\n", what,
                  (long long)total, 100.0 * same / total, 100.0 * one / total, worst);
    if (exact) {
        assert_int_equal(same, total);
    } else {
        assert_true(one >= total - total / 1000);
        assert_true(worst <= 4.0 + 1e-6);
    }
    ypr__plan_free(pf);
    ypr__plan_i8_free(pi);
}

/* Two INT8 plans' head outputs, bit for bit. */
static void same_outputs(const ypr_plan_i8 *a, const ypr_plan_i8 *b)
{
    assert_int_equal(ypr__plan_i8_num_outputs(a), ypr__plan_i8_num_outputs(b));
    for (int l = 0; l < ypr__plan_i8_num_outputs(a); l++) {
        ypr_shape sh;
        const float *o = ypr__plan_i8_output(a, l, &sh);
        assert_memory_equal(o, ypr__plan_i8_output(b, l, NULL),
                            (size_t)(sh.c * sh.h * sh.w) * sizeof(float));
    }
}

static void test_plan_agreement(void **state)
{
    (void)state;
    ypr_model *m = test_mini_trained(data_dir);
    ypr_dataset *ds = test_e2e_val(data_dir);
    int n = test_quick() ? 1 : 3;
    SIZE = test_quick() ? 64 : 128;
    float *x = images(ds, n);
    ypr_model *dpu = quantized(m, ds, YPR_QSCHEME_DPU, NULL);
    agree(dpu, x, n, 1, "dpu");
    /* batch 1: concat inputs written in place (none at batch 3), same outputs */
    {
        ypr_plan_i8 *p1, *p3;
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &p1), YPR_OK);
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 3, SIZE, SIZE, &p3), YPR_OK);
        print_message("concat inputs in place: %d at batch 1\n", ypr__plan_i8_concat_in_place(p1));
        assert_true(ypr__plan_i8_concat_in_place(p1) >= 4);
        assert_int_equal(ypr__plan_i8_concat_in_place(p3), 0);
        ypr__plan_i8_free(p1);
        ypr__plan_i8_free(p3);
        agree(dpu, x, 1, 1, "dpu, batch 1");
    }
    ypr_model *pc = quantized(m, ds, YPR_QSCHEME_PER_CHANNEL, NULL);
    agree(pc, x, n, 0, "per-channel");
    /* the mini detector's SiLU convs end in activation tables (their inputs
     * have steps of their own); without YPR_QUANT_ACT_LUT none do, and the
     * INT8 plan still computes the simulation (the dpu one bit for bit) */
    {
        int tables[2][2];
        for (int lut = 1; lut >= 0; lut--) {
            act_lut = lut;
            ypr_model *d = lut ? dpu : quantized(m, ds, YPR_QSCHEME_DPU, NULL);
            ypr_model *c = lut ? pc : quantized(m, ds, YPR_QSCHEME_PER_CHANNEL, NULL);
            int pre = 0;
            for (int i = 0; i + 1 < d->net.nnodes; i++)   /* a SiLU's quantized input */
                pre += d->net.nodes[i].kind == YPR_NODE_CONV && d->net.nodes[i].aq.scale > 0 &&
                       d->net.nodes[i + 1].kind == YPR_NODE_ACT &&
                       d->net.nodes[i + 1].act == YPR_ACT_SILU &&
                       d->net.nodes[i + 1].inputs[0] == i;
            print_message("act_lut %d: %d convs with a step of their own\n", lut, pre);
            assert_true(lut ? pre >= 3 : pre == 0);
            for (int k = 0; k < 2; k++) {
                ypr_plan_i8 *pl;
                ypr_model *q = k ? c : d;
                assert_int_equal(ypr__plan_i8_create(&q->net, q->pool, 1, SIZE, SIZE, &pl), YPR_OK);
                tables[lut][k] = ypr__plan_i8_lut_convs(pl);
                ypr__plan_i8_free(pl);
            }
            if (!lut) {
                agree(d, x, n, 1, "dpu, no activation tables");
                agree(c, x, n, 0, "per-channel, no activation tables");
                ypr_model_free(d);
                ypr_model_free(c);
            }
        }
        act_lut = 1;
        print_message("activation tables: %d (dpu), %d (per-channel) INT8 convs\n",
                      tables[1][0], tables[1][1]);
        assert_true(tables[1][0] >= 3 && tables[1][1] >= 3);
        assert_true(tables[0][0] == 0 && tables[0][1] == 0);
    }
    ypr_model_free(pc);
    /* a conv kept float: dequantize → float conv → quantize at its edges */
    ypr_model *kf = quantized(m, ds, YPR_QSCHEME_DPU, "model.2*");
    int kept = 0;
    for (int i = 0; i < kf->net.nnodes; i++)
        kept += kf->net.nodes[i].kind == YPR_NODE_CONV && !(kf->net.nodes[i].wq.scale > 0);
    assert_true(kept >= 1);
    agree(kf, x, n, 0, "dpu, model.2* float");
    ypr_model_free(kf);

    /* a plan for another shape sharing a donor's weights (the donor freed
     * first) computes what a plan of its own computes */
    {
        int s2 = SIZE + 32;
        float *x2 = malloc((size_t)3 * s2 * s2 * sizeof(float));
        for (int i = 0; i < 3 * s2 * s2; i++)
            x2[i] = x[i % (3 * SIZE * SIZE)];
        ypr_plan_i8 *donor, *shared, *own;
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &donor), YPR_OK);
        assert_int_equal(ypr__plan_i8_create_from(&dpu->net, dpu->pool, 1, s2, s2, donor, &shared),
                         YPR_OK);
        ypr__plan_i8_free(donor);
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, s2, s2, &own), YPR_OK);
        assert_int_equal(ypr__plan_i8_run(shared, x2), YPR_OK);
        assert_int_equal(ypr__plan_i8_run(own, x2), YPR_OK);
        same_outputs(own, shared);
        ypr__plan_i8_free(shared);
        ypr__plan_i8_free(own);
        free(x2);
    }

    /* the exact Winograd convs change nothing: the same head outputs bit for
     * bit with YPR_I8_WINO=0 (direct convs only) and 1 (every eligible one) */
    {
        ypr_plan_i8 *pd, *pw;
        setenv("YPR_I8_WINO", "0", 1);
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &pd), YPR_OK);
        setenv("YPR_I8_WINO", "1", 1);
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &pw), YPR_OK);
        setenv("YPR_I8_WINO", "2", 1);
        ypr_plan_i8 *p2;
        assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &p2), YPR_OK);
        unsetenv("YPR_I8_WINO");
        assert_int_equal(ypr__plan_i8_run(p2, x), YPR_OK);
        assert_int_equal(ypr__plan_i8_wino_convs(pd), 0);
        assert_true(ypr__plan_i8_wino_convs(pw) >= 3);
        assert_int_equal(ypr__plan_i8_run(pd, x), YPR_OK);
        assert_int_equal(ypr__plan_i8_run(pw, x), YPR_OK);
        same_outputs(pd, pw);
        same_outputs(pd, p2);
        print_message("winograd: %d convs (F(4x4) where exact, or F(2x2) only), head outputs "
                      "identical\n", ypr__plan_i8_wino_convs(pw));
        ypr__plan_i8_free(p2);
        ypr__plan_i8_free(pd);
        ypr__plan_i8_free(pw);
    }

    /* the model's choice: INT8 for a quantized model unless YPR_INT8=0 */
    ypr_plan_i8 *pi;
    assert_int_equal(ypr__plan_i8_create(&dpu->net, dpu->pool, 1, SIZE, SIZE, &pi), YPR_OK);
    assert_int_equal(ypr__plan_i8_run(pi, x), YPR_OK);
    assert_int_equal(ypr_model_forward(dpu, x, 1, SIZE, SIZE), YPR_OK);
    assert_true(dpu->i8_used);
    ypr_shape s;
    int64_t bn;
    const float *o = ypr__model_output_at(dpu, 0, &s, &bn);
    assert_memory_equal(o, ypr__plan_i8_output(pi, 0, NULL), (size_t)(s.c * s.h * s.w) * 4);
    setenv("YPR_INT8", "0", 1);
    assert_int_equal(ypr_model_forward(dpu, x, 1, SIZE, SIZE), YPR_OK);
    unsetenv("YPR_INT8");
    assert_false(dpu->i8_used);
    assert_true(dpu->plan != NULL);
    assert_int_equal(ypr_model_forward(m, x, 1, SIZE, SIZE), YPR_OK);   /* a float model */
    assert_false(m->i8_used);
    ypr__plan_i8_free(pi);
    assert_int_equal(ypr__plan_i8_create(&m->net, m->pool, 1, SIZE, SIZE, &pi), YPR_EUNSUPPORTED);
    assert_null(pi);
    ypr_model_free(dpu);
    free(x);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* All head outputs of the model's last pass, copied ([level][n, C, H, W]). */
static float *outputs_of(const ypr_model *m, size_t *bytes)
{
    const ypr_node *det = &m->net.nodes[m->net.nnodes - 1];
    size_t total = 0;
    for (int l = 0; l < det->nl; l++) {
        ypr_shape s;
        int64_t n;
        assert_non_null(ypr__model_output_at(m, l, &s, &n));
        total += (size_t)(n * s.c * s.h * s.w);
    }
    float *out = malloc(total * sizeof(float)), *at = out;
    assert_non_null(out);
    for (int l = 0; l < det->nl; l++) {
        ypr_shape s;
        int64_t n;
        const float *o = ypr__model_output_at(m, l, &s, &n);
        memcpy(at, o, (size_t)(n * s.c * s.h * s.w) * sizeof(float));
        at += n * s.c * s.h * s.w;
    }
    *bytes = total * sizeof(float);
    return out;
}

/* Sibling 1×1 convs (as yolov7-tiny's ELAN cv1/cv2: one input, side by
 * side in their concat) run as one conv in batch-1 INT8 plans (exec_i8.c,
 * merge_siblings): a small LeakyReLU detector with seeded weights whose
 * pair feeds the head through one conv (a deep random net's head hides
 * such differences), quantized with the dpu scheme on the e2e images,
 * gives the same head outputs bit for bit with YPR_CONV_MERGE=0 and with
 * the pair merged; a batch-2 plan merges none. */
static void test_plan_pairs(void **state)
{
    (void)state;
    static const char cfg[] =
        "nc: 3\n"
        "depth_multiple: 1.0\n"
        "width_multiple: 1.0\n"
        "anchors:\n"
        "  - [10,13, 16,30, 33,23]\n"
        "backbone:\n"
        "  [[-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(0.1)]],\n"
        "   [-1, 1, Conv, [16, 3, 2, None, 1, nn.LeakyReLU(0.1)]],\n"
        "   [-1, 1, Conv, [12, 1, 1, None, 1, nn.LeakyReLU(0.1)]],\n"
        "   [-2, 1, Conv, [10, 1, 1, None, 1, nn.LeakyReLU(0.1)]],\n"
        "   [[-1, -2], 1, Concat, [1]],\n"
        "   [-1, 1, Conv, [16, 1, 1, None, 1, nn.LeakyReLU(0.1)]],\n"
        "  ]\n"
        "head:\n"
        "  [[[5], 1, IDetect, [nc, anchors]],\n"
        "  ]\n";
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg_text(cfg, strlen(cfg), 0, 7, &m), YPR_OK);
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {   /* BatchNorm shifts: biases */
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        assert_int_equal(ypr_model_tensor(m, i, &name, &nd, sh, &d), YPR_OK);
        size_t len = strlen(name);
        if (len > 8 && strcmp(name + len - 8, ".bn.bias") == 0) {
            float b[64];
            assert_true(sh[0] <= 64);
            for (int64_t c = 0; c < sh[0]; c++)
                b[c] = 0.05f * (float)((c * 5 + i) % 9 - 4);
            assert_int_equal(ypr_model_set_tensor(m, i, b, sh[0]), YPR_OK);
        }
    }
    ypr_dataset *ds = test_e2e_val(data_dir);
    SIZE = 64;
    float *x = images(ds, 1);
    ypr_model *q = quantized(m, ds, YPR_QSCHEME_DPU, NULL);
    ypr_plan_i8 *pl[2];
    for (int merged = 0; merged < 2; merged++) {
        assert_int_equal(setenv("YPR_CONV_MERGE", merged ? "1" : "0", 1), 0);
        assert_int_equal(ypr__plan_i8_create(&q->net, q->pool, 1, SIZE, SIZE, &pl[merged]),
                         YPR_OK);
        assert_int_equal(ypr__plan_i8_run(pl[merged], x), YPR_OK);
    }
    unsetenv("YPR_CONV_MERGE");
    print_message("sibling pairs merged: %d\n", ypr__plan_i8_pair_convs(pl[1]));
    assert_int_equal(ypr__plan_i8_pair_convs(pl[0]), 0);
    assert_int_equal(ypr__plan_i8_pair_convs(pl[1]), 1);
    same_outputs(pl[0], pl[1]);
    ypr_plan_i8 *p2;
    assert_int_equal(ypr__plan_i8_create(&q->net, q->pool, 2, SIZE, SIZE, &p2), YPR_OK);
    assert_int_equal(ypr__plan_i8_pair_convs(p2), 0);
    ypr__plan_i8_free(p2);
    ypr__plan_i8_free(pl[0]);
    ypr__plan_i8_free(pl[1]);
    free(x);
    ypr_model_free(q);
    ypr_model_free(m);
    ypr_dataset_free(ds);
}

/* The model caches an INT8 plan per input shape, as its float plans:
 * alternating batch sizes reuses them (no rebuild), each pass gives what
 * the first pass of its shape gave, the plans share their packed weights
 * (counted once by ypr_model_memory), and a changed net drops them. */
static void test_plan_cache(void **state)
{
    (void)state;
    SIZE = test_quick() ? 64 : 128;
    ypr_model *m = test_mini_trained(data_dir);
    ypr_dataset *ds = test_e2e_val(data_dir);
    float *x = images(ds, 2);
    ypr_model *qm = quantized(m, ds, YPR_QSCHEME_PER_CHANNEL, NULL);
    float *first[2] = {NULL, NULL};
    size_t bytes[2];
    ypr_plan_i8 *plan[2] = {NULL, NULL};
    int64_t mem[2];
    for (int round = 0; round < 3; round++)
        for (int b = 1; b <= 2; b++) {
            assert_int_equal(ypr_model_forward(qm, x, b, SIZE, SIZE), YPR_OK);
            assert_true(qm->i8_used);
            size_t nb;
            float *out = outputs_of(qm, &nb);
            if (round == 0) {
                first[b - 1] = out;
                bytes[b - 1] = nb;
                plan[b - 1] = qm->i8;
                assert_int_equal(ypr_model_memory(qm, &mem[b - 1]), YPR_OK);
                continue;
            }
            assert_ptr_equal(qm->i8, plan[b - 1]);   /* the cached plan, not a new one */
            assert_int_equal(nb, bytes[b - 1]);
            assert_memory_equal(out, first[b - 1], nb);
            free(out);
        }
    assert_ptr_not_equal(plan[0], plan[1]);
    char want[64];
    snprintf(want, sizeof want, "int8 (%s)", ypr__i8kt()->name);
    assert_string_equal(ypr_model_plan_name(qm), want);
    setenv("YPR_INT8", "0", 1);
    assert_int_equal(ypr_model_forward(qm, x, 1, SIZE, SIZE), YPR_OK);
    unsetenv("YPR_INT8");
    snprintf(want, sizeof want, "float simulation (%s)", ypr_simd_active());
    assert_string_equal(ypr_model_plan_name(qm), want);
    int cached = 0;
    for (int i = 0; i < 4; i++)
        cached += qm->i8s[i] != NULL;
    assert_int_equal(cached, 2);
    /* the batch-2 plan added its own buffers, not a second copy of the weights */
    size_t packs = ypr__plan_i8_pack_bytes(plan[1]);
    assert_true(packs > 0);
    assert_true(mem[1] - mem[0] ==
                (int64_t)(ypr__plan_i8_bytes(plan[1]) - packs));
    /* image 0 of the batch: what batch 1 gave (per-image arithmetic) */
    const ypr_node *det = &qm->net.nodes[qm->net.nnodes - 1];
    size_t off1 = 0, off2 = 0;
    assert_int_equal(ypr_model_forward(qm, x, 1, SIZE, SIZE), YPR_OK);
    for (int l = 0; l < det->nl; l++) {
        ypr_shape s;
        int64_t n;
        assert_non_null(ypr__model_output_at(qm, l, &s, &n));
        size_t per = (size_t)(s.c * s.h * s.w);
        assert_memory_equal(first[0] + off1, first[1] + off2, per * sizeof(float));
        off1 += per;
        off2 += 2 * per;
    }
    /* a changed net: the cached plans are stale and make way */
    qm->net.version++;
    assert_int_equal(ypr_model_forward(qm, x, 1, SIZE, SIZE), YPR_OK);
    cached = 0;
    for (int i = 0; i < 4; i++)
        cached += qm->i8s[i] != NULL;
    assert_int_equal(cached, 1);
    size_t nb;
    float *out = outputs_of(qm, &nb);
    assert_memory_equal(out, first[0], nb);
    free(out);
    free(first[0]);
    free(first[1]);
    ypr_model_free(qm);
    free(x);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

int main(void)
{
    set_name = getenv("YPR_TEST_I8");
    set_name = set_name && *set_name ? set_name : "scalar";
    kt = ypr__i8kt_named(set_name);
    if (!kt) {
        fprintf(stderr, "INT8 kernel set %s: not built in or not supported here\n", set_name);
        return 77;
    }
    data_dir = getenv("YPR_TEST_DATA");
    if (!data_dir)
        data_dir = "tests/data";
    test_threads_from_env();
    const struct CMUnitTest kernels[] = {
        cmocka_unit_test(test_requant_by_hand),
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_conv_vs_reference),
        cmocka_unit_test(test_requant_extremes),
        cmocka_unit_test(test_requant_ties),
        cmocka_unit_test(test_requant_near_ties),
        cmocka_unit_test(test_wino_vs_direct),
        cmocka_unit_test(test_wino_exact_bound),
        cmocka_unit_test(test_wino_range),
    };
    const struct CMUnitTest plans[] = {
        cmocka_unit_test(test_maxpool_i8),
        cmocka_unit_test(test_plan_agreement),
        cmocka_unit_test(test_plan_cache),
        cmocka_unit_test(test_plan_pairs),
    };
    int rc = cmocka_run_group_tests(kernels, NULL, NULL);
    if (strcmp(set_name, "scalar") == 0)
        rc |= cmocka_run_group_tests(plans, NULL, NULL);
    return rc;
}
