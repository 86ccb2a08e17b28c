/* Post-training quantization: calibration statistics against NumPy
 * (tests/data/quant/make_quant_fixture.py), rounding and power-of-two rules
 * worked by hand, the schemes' properties on the mini model, bias
 * correction against a direct convolution, the fake-quantized model through
 * the evaluator and a checkpoint round trip, and bad input. */
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
#include "lib/model/model.h"
#include "lib/data/data.h"
#include "lib/quant/quant.h"
#include "test_util.h"

static const char *data_dir;

/* ------------------------------------------------ statistics vs NumPy */

static void test_stats_vs_numpy(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/quant/tensors.bin", data_dir);
    size_t len;
    char *bin = test_slurp(path, &len);
    assert_non_null(bin);
    snprintf(path, sizeof path, "%s/quant/expected.txt", data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    size_t off = 0;
    int rows = 0;
    ypr_qstats *s = malloc(sizeof *s);
    assert_non_null(s);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char name[64];
        long long count, h[8], chk;
        double amax, range, p999, p9999, ent, mse, np999;
        assert_int_equal(sscanf(line, "%63s %lld %lf %lf %lf %lf %lf %lf %lf %lld %lld %lld %lld "
                                "%lld %lld %lld %lld %lld", name, &count, &amax, &range, &p999,
                                &p9999, &ent, &mse, &np999, &h[0], &h[1], &h[2], &h[3], &h[4],
                                &h[5], &h[6], &h[7], &chk), 18);
        assert_true(off + (size_t)count * 4 <= len);
        float *x = malloc((size_t)count * sizeof(float));
        assert_non_null(x);
        memcpy(x, bin + off, (size_t)count * 4);   /* little-endian hosts (x86, aarch64) */
        off += (size_t)count * 4;
        ypr__qstats_init(s);
        /* in three uneven chunks: the range doubles on the way */
        ypr__qstats_add(s, x, count / 7);
        ypr__qstats_add(s, x + count / 7, count / 2);
        ypr__qstats_add(s, x + count / 7 + count / 2, count - count / 7 - count / 2);
        assert_int_equal(s->count, count);
        assert_true(ypr__qstats_absmax(s) == amax);
        assert_true(s->range == range);
        long long sum = 0;
        for (int j = 0; j < YPR_QHIST_BINS; j++)
            sum += (long long)s->hist[j] * (j + 1);
        assert_int_equal(sum, chk);
        for (int j = 0; j < 8; j++)
            assert_int_equal(s->hist[j], h[j]);
        double t, w = range / YPR_QHIST_BINS;
        assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_MINMAX, 0, 127, &t), YPR_OK);
        assert_true(t == amax);
        assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_PERCENTILE, 99.9, 127, &t), YPR_OK);
        assert_true(fabs(t - p999) <= 1e-12 * range);
        /* directly: at least 99.9 % of |x| lie below T, fewer below T − one bin */
        int64_t below = 0, below1 = 0;
        for (int64_t i = 0; i < count; i++) {
            below += fabsf(x[i]) < t;
            below1 += fabsf(x[i]) < t - w;
        }
        double need = 99.9 / 100.0 * (double)count;   /* as the definition computes it */
        assert_true(below >= need && below1 < need);
        (void)np999;   /* NumPy's interpolated percentile: reported, gaps in sparse tails */
        assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_PERCENTILE, 99.99, 127, &t), YPR_OK);
        assert_true(fabs(t - p9999) <= 1e-12 * range);
        assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_ENTROPY, 0, 127, &t), YPR_OK);
        print_message("%s: entropy %.6f (NumPy %.6f), mse ", name, t, ent);
        assert_true(fabs(t - ent) <= 1e-12 * range);
        assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_MSE, 0, 127, &t), YPR_OK);
        print_message("%.6f (NumPy %.6f)\n", t, mse);
        assert_true(fabs(t - mse) <= 1e-12 * range);
        /* dpu: the power-of-two step that covers the threshold */
        double pot = ypr__pot_scale(ent, 127);
        assert_true(pot * 127 >= ent && pot * 127 / 2 < ent);
        assert_true(pot == ldexp(1.0, (int)ceil(log2(ent / 127))));
        free(x);
        rows++;
    }
    fclose(f);
    free(s);
    free(bin);
    assert_int_equal(rows, 4);
}

static void test_stats_errors(void **state)
{
    (void)state;
    ypr_qstats *s = malloc(sizeof *s);
    assert_non_null(s);
    double t;
    ypr__qstats_init(s);
    assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_ENTROPY, 0, 127, &t), YPR_ESTATE);
    float z[4] = {0, 0, 0, 0};
    ypr__qstats_add(s, z, 4);
    assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_ENTROPY, 0, 127, &t), YPR_OK);
    assert_true(t == 0);   /* a tensor of zeros */
    float bad[3] = {1.0f, NAN, 2.0f};
    ypr__qstats_add(s, bad, 3);
    assert_int_equal(s->nonfinite, 1);
    assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_MINMAX, 0, 127, &t), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "non-finite"));
    ypr__qstats_init(s);
    ypr__qstats_add(s, bad, 1);
    assert_int_equal(ypr__qstats_threshold(s, YPR_QMETHOD_PERCENTILE, 0, 127, &t), YPR_ERANGE);
    assert_int_equal(ypr__qstats_threshold(s, 99, 0, 127, &t), YPR_EINVAL);
    free(s);
}

/* ------------------------------------------------ rounding, steps */

static void test_rounding(void **state)
{
    (void)state;
    static const float v[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.4f, -0.6f};
    static const float even[] = {0, 2, 2, -0.0f, -2, -2, 0, -1};
    static const float away[] = {1, 2, 3, -1, -2, -3, 0, -1};
    static const float up[] = {1, 2, 3, 0, -1, -2, 0, -1};   /* floor(x + 0.5) */
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_true(ypr__qround(v[i], YPR_ROUND_HALF_EVEN) == even[i]);
        assert_true(ypr__qround(v[i], YPR_ROUND_HALF_AWAY) == away[i]);
        assert_true(ypr__qround(v[i], YPR_ROUND_HALF_UP) == up[i]);
    }
    /* a narrow-range power-of-two step 1/8: clamps to ±127/8, ties up */
    ypr_qparam q = {0.125f, 0, -127, 127, YPR_ROUND_HALF_UP, 0};
    float x[] = {100.0f, -100.0f, 0.0625f, -0.0625f, 0.19f, -15.875f, INFINITY};
    ypr__fake_quant(&q, x, 7);
    static const float want[] = {15.875f, -15.875f, 0.125f, 0.0f, 0.25f, -15.875f, 15.875f};
    for (int i = 0; i < 7; i++)
        assert_true(x[i] == want[i]);
    /* scale 0: not quantized */
    ypr_qparam off = {0};
    float y[2] = {0.3f, -7.1f};
    ypr__fake_quant(&off, y, 2);
    assert_true(y[0] == 0.3f && y[1] == -7.1f);
    /* power-of-two steps by hand: 3/127 = 0.0236 → 2^-5; 1/127 → 2^-6; 127/127 → 1 */
    assert_true(ypr__pot_scale(3.0, 127) == 0.03125);
    assert_true(ypr__pot_scale(1.0, 127) == 0.015625);
    assert_true(ypr__pot_scale(127.0, 127) == 1.0);
    assert_true(ypr__pot_scale(127.5, 127) == 2.0);
    /* a weight tensor: max 0.5 → steps 2^-7 (0.5 = 64 steps, no clipping) or
     * 2^-8 (0.5 clips to 127/256); 0.126 rounds to 16/128 either way: the
     * error of 2^-7 (0.001²) is the smaller */
    float w[3] = {0.5f, -0.25f, 0.126f};
    ypr_qparam wq;
    double err = ypr__quant_pot_tensor(w, 3, 127, YPR_ROUND_HALF_AWAY, &wq);
    assert_true(wq.scale == 0.0078125f && wq.qmin == -127 && wq.qmax == 127);
    assert_true(w[0] == 0.5f && w[1] == -0.25f && w[2] == 0.125f);
    assert_true(fabs(err - 0.001 * 0.001) < 1e-9);
    /* one outlier and values on the 2^-7 grid between 2^-6 steps: 2^-6 (the
     * step covering 1.0) errs 2^-7 on each of the four, 2^-7 clips only the
     * outlier by 2^-7: the half step wins */
    float w2[5] = {1.0f, 0.0234375f, 0.0234375f, -0.0234375f, 0.0234375f};
    ypr__quant_pot_tensor(w2, 5, 127, YPR_ROUND_HALF_AWAY, &wq);
    assert_true(wq.scale == 0.0078125f);
    assert_true(w2[0] == 0.9921875f && w2[1] == 0.0234375f && w2[3] == -0.0234375f);
    /* per channel: s_c = max|w_c| / 127, an all-zero channel gets step 1 */
    float pc[6] = {2.54f, -1.0f, 0, 0, 7.9375f, 0.15625f};
    ypr__quant_per_channel(pc, 3, 2, 127, YPR_ROUND_HALF_EVEN, &wq);
    assert_true(wq.per_channel == 1 && wq.scale == 0.0625f);   /* the largest: 7.9375 / 127 */
    assert_true(fabsf(pc[0] - 2.54f) < 1e-6f && fabsf(pc[1] - (-50 * 0.02f)) < 1e-6f);
    assert_true(pc[2] == 0 && pc[3] == 0);
    assert_true(pc[4] == 7.9375f && pc[5] == 0.125f);   /* 2.5 steps → 2 (half to even) */
    ypr_qparam badq = {-1.0f, 0, -127, 127, 0, 0};
    assert_int_equal(ypr__qparam_check(&badq, "n", "activation"), YPR_ERANGE);
    badq = (ypr_qparam){1.0f, 200, -127, 127, 0, 0};
    assert_int_equal(ypr__qparam_check(&badq, "n", "activation"), YPR_ERANGE);
}

/* ------------------------------------------------ models */

/* the shared fixtures of tests/test_util.h */
static ypr_model *trained_model(void)
{
    return test_mini_trained(data_dir);
}

static ypr_dataset *e2e_dataset(void)
{
    return test_e2e_val(data_dir);
}

static ypr_quantizer *quantizer(ypr_model *m, const ypr_dataset *ds, int scheme, int images)
{
    return test_quantizer(m, ds, scheme, images, 128);
}

/* dpu: LeakyReLU(0.1) → 26/256, power-of-two steps everywhere, narrow
 * range, weights on their grid; the source model is untouched. */
static void test_dpu_scheme(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    ypr_quantizer *q = quantizer(m, ds, YPR_QSCHEME_DPU, 3);
    ypr_model *out;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    const ypr_net *net = &out->net;
    int leaky = 0, steps = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->act == YPR_ACT_LEAKY) {
            leaky++;
            assert_true(nd->alpha == 26.0f / 256.0f);
        }
        const ypr_qparam *qs[3] = {&nd->aq, &nd->wq, &nd->bq};
        for (int k = 0; k < 3; k++) {
            if (!(qs[k]->scale > 0))
                continue;
            steps++;
            int e;
            assert_true(frexpf(qs[k]->scale, &e) == 0.5f);   /* a power of two */
            assert_int_equal(qs[k]->qmin, -127);
            assert_int_equal(qs[k]->qmax, 127);
            assert_int_equal(qs[k]->zero, 0);
        }
        if (nd->kind == YPR_NODE_CONV) {
            assert_true(nd->wq.scale > 0 && !nd->wq.per_channel);
            const ypr_param *w = &net->params[nd->p[0]];
            for (int64_t k = 0; k < w->numel; k++) {
                float v = w->data[k] / nd->wq.scale;
                assert_true(v == rintf(v) && fabsf(v) <= 127);
            }
        }
    }
    assert_true(leaky >= 1 && steps > 20);
    assert_int_equal(net->nodes[0].aq.scale > 0, 1);   /* the input too */
    /* the caller's model keeps its slope and BatchNorms */
    int bn = 0;
    for (int i = 0; i < m->net.nnodes; i++) {
        bn += m->net.nodes[i].kind == YPR_NODE_BN;
        if (m->net.nodes[i].act == YPR_ACT_LEAKY)
            assert_true(m->net.nodes[i].alpha == 0.1f);
        assert_true(!(m->net.nodes[i].aq.scale > 0));
    }
    assert_true(bn > 0);
    /* a forward pass lands the head outputs on their grid */
    float *x = calloc(3 * 128 * 128, sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < 3 * 128 * 128; i++)
        x[i] = (float)((i * 37) % 255) / 255.0f;
    assert_int_equal(ypr_model_forward(out, x, 1, 128, 128), YPR_OK);
    int64_t shape[5];
    assert_int_equal(ypr_model_output(out, 0, NULL, shape), YPR_OK);
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3] * shape[4];
    float *o = malloc((size_t)n * sizeof(float));
    assert_non_null(o);
    assert_int_equal(ypr_model_output(out, 0, o, shape), YPR_OK);
    int head = net->nodes[net->nnodes - 1].inputs[0];
    float s = net->nodes[head].aq.scale;
    assert_true(s > 0);
    for (int64_t i = 0; i < n; i++) {
        float v = o[i] / s;
        assert_true(v == rintf(v) && fabsf(v) <= 127);
    }
    free(o);
    free(x);
    char *text;
    assert_int_equal(ypr_quantizer_report(q, &text, 0), YPR_OK);
    assert_non_null(strstr(text, "scheme dpu"));
    assert_non_null(strstr(text, "model.17.m.0"));
    ypr_free(text);
    assert_int_equal(ypr_quantizer_report(q, &text, 1), YPR_OK);
    assert_non_null(strstr(text, "\"sqnr_e2e_db\""));
    ypr_free(text);
    /* keep-worst 2: the two convs of lowest local SQNR stay float (the
     * calibration is reused: keep-worst does not change it) */
    double lowest[2] = {1e9, 1e9};
    for (int r = 0; r < q->nrows; r++) {
        double v = q->rows[r].sqnr_local;
        if (q->rows[r].conv < 0)
            continue;
        if (v < lowest[0]) {
            lowest[1] = lowest[0];
            lowest[0] = v;
        } else if (v < lowest[1]) {
            lowest[1] = v;
        }
    }
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_KEEP_WORST, 2), YPR_OK);
    ypr_model *out2;
    assert_int_equal(ypr_quantizer_quantize(q, &out2), YPR_OK);
    int kept = 0;
    for (int r = 0; r < q->nrows; r++) {
        const ypr_qrow *row = &q->rows[r];
        if (!row->kept)
            continue;
        const ypr_net *n2 = &out2->net;
        assert_true(!(n2->nodes[row->node].aq.scale > 0));
        if (row->conv < 0) {   /* the table activation of a kept conv: kept with it */
            const ypr_node *a = &n2->nodes[row->node];
            assert_int_equal(a->kind, YPR_NODE_ACT);
            assert_true(!(n2->nodes[a->inputs[0]].wq.scale > 0));
            continue;
        }
        kept++;
        assert_true(row->sqnr_local <= lowest[1]);
        assert_true(!(n2->nodes[row->conv].wq.scale > 0));
        /* a kept conv's activation keeps no step either: the layer is float to its output */
        int i = row->conv;
        if (i + 1 < n2->nnodes && n2->nodes[i + 1].kind == YPR_NODE_ACT &&
            n2->nodes[i + 1].inputs[0] == i)
            assert_true(!(n2->nodes[i + 1].aq.scale > 0));
    }
    assert_int_equal(kept, 2);
    ypr_model_free(out2);
    /* a pattern naming a SiLU conv keeps its layer float to its output (the activation
     * that reads its value keeps no step), the next layer quantized as before */
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_KEEP_WORST, 0), YPR_OK);
    assert_int_equal(ypr_quantizer_keep_float(q, "model.2.conv"), YPR_OK);
    assert_int_equal(ypr_quantizer_quantize(q, &out2), YPR_OK);
    {
        const ypr_net *n2 = &out2->net;
        int c2 = -1, seen = 0;
        for (int i = 0; i < n2->nnodes; i++)
            if (strcmp(n2->nodes[i].name, "model.2.conv") == 0)
                c2 = i;
        assert_true(c2 >= 0 && c2 + 1 < n2->nnodes);
        assert_int_equal(n2->nodes[c2 + 1].kind, YPR_NODE_ACT);
        assert_int_equal(n2->nodes[c2 + 1].act, YPR_ACT_SILU);
        assert_true(!(n2->nodes[c2].wq.scale > 0) && !(n2->nodes[c2].aq.scale > 0));
        assert_true(!(n2->nodes[c2 + 1].aq.scale > 0));
        for (int i = 0; i < n2->nnodes; i++)   /* other SiLU convs keep their input steps */
            seen += i != c2 && n2->nodes[i].kind == YPR_NODE_CONV && n2->nodes[i].aq.scale > 0;
        assert_true(seen >= 3);
    }
    ypr_model_free(out2);
    assert_int_equal(ypr_quantizer_plot(q, "quant_sqnr.png"), YPR_OK);
    uint8_t *rgb;
    int w, h;
    assert_int_equal(ypr_image_load("quant_sqnr.png", &rgb, &w, &h), YPR_OK);
    assert_true(w >= 420 && h > 300);
    ypr_free(rgb);
    remove("quant_sqnr.png");
    ypr_model_free(out);
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* per-channel: each output channel's step is max|w_c| / 127 of the fused
 * float weights (computed here from a fused copy), slopes unchanged, keep-float
 * layers untouched. */
static void test_per_channel_scheme(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    ypr_quantizer *q = quantizer(m, ds, YPR_QSCHEME_PER_CHANNEL, 2);
    assert_int_equal(ypr_quantizer_keep_float(q, "model.17.m.1"), YPR_OK);
    assert_int_equal(ypr_quantizer_keep_float(q, "nothing.*"), YPR_ENOTFOUND);
    ypr_model *out;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    ypr_model *fused = trained_model();
    assert_int_equal(ypr_model_fuse(fused), YPR_OK);
    const ypr_net *net = &out->net, *ref = &fused->net;
    assert_int_equal(net->nnodes, ref->nnodes);
    int convs = 0, kept = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->act == YPR_ACT_LEAKY)
            assert_true(nd->alpha == ref->nodes[i].alpha);
        if (nd->kind != YPR_NODE_CONV)
            continue;
        const ypr_param *w = &net->params[nd->p[0]], *w0 = &ref->params[ref->nodes[i].p[0]];
        int64_t per = w->numel / nd->c;
        if (strcmp(nd->name, "model.17.m.1") == 0) {
            kept++;
            assert_true(!(nd->wq.scale > 0) && !(nd->aq.scale > 0));
            assert_memory_equal(w->data, w0->data, (size_t)w->numel * sizeof(float));
            continue;
        }
        convs++;
        assert_true(nd->wq.per_channel);
        for (int64_t o = 0; o < nd->c; o++) {
            double amax = 0;
            for (int64_t k = 0; k < per; k++)
                amax = fmax(amax, fabs(w0->data[o * per + k]));
            float sc = amax > 0 ? (float)(amax / 127) : 1.0f;
            for (int64_t k = 0; k < per; k++) {
                float v = w->data[o * per + k] / sc;
                assert_true(fabsf(v - rintf(v)) < 1e-3f && fabsf(v) <= 127.001f);
                assert_true(fabsf(w->data[o * per + k] - w0->data[o * per + k]) <= sc / 2 * 1.0001f);
            }
        }
    }
    assert_true(convs >= 10 && kept == 1);
    ypr_model_free(fused);
    ypr_model_free(out);
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* ------------------------------------------------ step search */

/* The head error the search minimizes, computed here independently: on
 * images `idx` letterboxed to 128 (pad 114, as calibration does),
 * Σ σ(obj_ref)·(σ(out) − σ(ref))² over every head output, ref the fused
 * float net (with the dpu slope). */
static double head_error(ypr_model *qm, ypr_model *ref, const ypr_dataset *ds, const int *idx,
                         int k, int no)
{
    double e = 0;
    float *x = malloc(3 * 128 * 128 * sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < k; i++) {
        uint8_t *rgb;
        int w, h;
        assert_int_equal(ypr_dataset_image(ds, idx[i], &rgb, &w, &h), YPR_OK);
        ypr_letterbox lb;
        assert_int_equal(ypr__letterbox(rgb, w, h, 128, 128, 114, x, &lb), YPR_OK);
        ypr_free(rgb);
        assert_int_equal(ypr_model_forward(qm, x, 1, 128, 128), YPR_OK);
        assert_int_equal(ypr_model_forward(ref, x, 1, 128, 128), YPR_OK);
        for (int l = 0; l < ypr_model_num_levels(qm); l++) {
            int64_t sh[5];
            assert_int_equal(ypr_model_output(qm, l, NULL, sh), YPR_OK);
            int64_t n = sh[1] * sh[2] * sh[3] * sh[4];   /* [1, na, H, W, no] */
            float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
            assert_true(a && b && sh[4] == no);
            assert_int_equal(ypr_model_output(qm, l, a, sh), YPR_OK);
            assert_int_equal(ypr_model_output(ref, l, b, sh), YPR_OK);
            for (int64_t j = 0; j < n; j++) {
                double obj = 1 / (1 + exp(-(double)b[j - j % no + 4]));
                double d = 1 / (1 + exp(-(double)a[j])) - 1 / (1 + exp(-(double)b[j]));
                e += obj * d * d;
            }
            free(a);
            free(b);
        }
    }
    free(x);
    return e;
}

/* The search keeps the scheme's form (powers of two, a concat's inputs
 * sharing its step) and only ever lowers the head error on its images. */
static void test_step_search(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    const int calib = 6, k = 3;
    ypr_quantizer *q = quantizer(m, ds, YPR_QSCHEME_DPU, calib);
    ypr_model *plain, *searched;
    assert_int_equal(ypr_quantizer_quantize(q, &plain), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SEARCH_IMAGES, k), YPR_OK);
    double v;
    assert_int_equal(ypr_quantizer_get_float(q, YPR_QUANT_SEARCH_IMAGES, &v), YPR_OK);
    assert_true(v == k);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SEARCH_IMAGES, 1001), YPR_ERANGE);
    assert_int_equal(ypr_quantizer_quantize(q, &searched), YPR_OK);
    const ypr_net *a = &plain->net, *b = &searched->net;
    int changed = 0;
    for (int i = 0; i < b->nnodes; i++) {
        float s0 = a->nodes[i].aq.scale, s1 = b->nodes[i].aq.scale;
        assert_true((s0 > 0) == (s1 > 0));
        if (!(s1 > 0))
            continue;
        int e;
        assert_true(frexpf(s1, &e) == 0.5f);
        assert_true(s1 == s0 || s1 == 2 * s0 || s1 == s0 / 2);
        changed += s1 != s0;
        const ypr_node *nd = &b->nodes[i];
        for (int j = 0; nd->kind == YPR_NODE_CONCAT && j < nd->ninputs; j++) {
            int src = nd->inputs[j];
            while (b->nodes[src].kind == YPR_NODE_MAXPOOL || b->nodes[src].kind == YPR_NODE_UPSAMPLE)
                src = b->nodes[src].inputs[0];
            if (b->nodes[src].aq.scale > 0)
                assert_true(b->nodes[src].aq.scale == s1);
        }
    }
    int count = ypr_dataset_count(ds), idx[3];
    for (int i = 0; i < k; i++)
        idx[i] = (int)((int64_t)i * count / calib);
    int no = b->nodes[b->nnodes - 1].nc + 5;
    double e0 = head_error(plain, q->work, ds, idx, k, no);
    double e1 = head_error(searched, q->work, ds, idx, k, no);
    print_message("search: %d steps changed, head error %.6g -> %.6g\n", changed, e0, e1);
    assert_true(changed == 0 ? e1 == e0 : e1 < e0);
    ypr_model_free(searched);
    ypr_model_free(plain);
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* ------------------------------------------------ bias correction */

static float rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffff) / 65536.0f - 0.5f;
}

/* Mean over images and positions of conv(w, x) per output channel, directly. */
static void mean_out(const ypr_node *c, const float *w, const float *x, int nimg, int64_t cin,
                     int64_t h, int64_t wd, int64_t oh, int64_t ow, double *mean)
{
    int64_t cg = cin / c->groups, oc = c->c;
    for (int64_t o = 0; o < oc; o++) {
        int64_t g = o / (oc / c->groups);
        double sum = 0;
        for (int b = 0; b < nimg; b++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++)
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < c->kh; ky++)
                            for (int kx = 0; kx < c->kw; kx++) {
                                int64_t iy = oy * c->sh + ky - c->ph, ix = ox * c->sw + kx - c->pw;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                    continue;
                                sum += (double)w[((o * cg + ci) * c->kh + ky) * c->kw + kx] *
                                       x[((b * cin + g * cg + ci) * h + iy) * wd + ix];
                            }
        mean[o] = sum / (nimg * oh * ow);
    }
}

static void test_bias_correction(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        ypr_node c;
        memset(&c, 0, sizeof c);
        c.kind = YPR_NODE_CONV;
        c.kh = c.kw = 3;
        c.ph = c.pw = 1;
        c.dh = c.dw = 1;
        c.sh = c.sw = variant ? 2 : 1;
        c.groups = variant ? 2 : 1;
        c.c = 4;
        const int64_t cin = 4, h = 7, wd = 6, nimg = 2;
        int64_t oh = (h + 2 - 3) / c.sh + 1, ow = (wd + 2 - 3) / c.sw + 1;
        int64_t per = cin / c.groups * 9;
        float w0[4 * 4 * 9], w1[4 * 4 * 9], x[2 * 4 * 7 * 6];
        uint64_t seed = 7 + variant;
        for (int64_t i = 0; i < c.c * per; i++)
            w0[i] = w1[i] = rnd(&seed);
        for (int64_t i = 0; i < nimg * cin * h * wd; i++)
            x[i] = 0.8f + rnd(&seed);   /* positive mean: a bias the error shifts */
        ypr_qparam wq;
        ypr__quant_pot_tensor(w1, c.c * per, 7, YPR_ROUND_HALF_AWAY, &wq);   /* coarse: 4 bits */
        double *taps = calloc((size_t)(cin * 9), sizeof(double));
        assert_non_null(taps);
        ypr_shape in = {cin, h, wd};
        for (int b = 0; b < nimg; b++)
            ypr__quant_add_taps(&c, x + b * cin * h * wd, &in, oh, ow, taps);
        double shift[4], m0[4], m1[4];
        ypr__quant_bias_shift(&c, cin, w0, w1, taps, (double)(nimg * oh * ow), shift);
        mean_out(&c, w0, x, (int)nimg, cin, h, wd, oh, ow, m0);
        mean_out(&c, w1, x, (int)nimg, cin, h, wd, oh, ow, m1);
        double before = 0, after = 0;
        for (int o = 0; o < 4; o++) {
            assert_true(fabs(shift[o] - (m1[o] - m0[o])) < 1e-9);   /* exact, not approximate */
            before += fabs(m1[o] - m0[o]);
            after += fabs(m1[o] - shift[o] - m0[o]);
        }
        assert_true(before > 1e-3 && after < 1e-8);
        free(taps);
    }
}

/* With bias correction the quantized model's biases move and the head's
 * end-to-end error does not grow. */
static void test_bias_correction_model(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    ypr_model *out[2];
    double e2e[2] = {0, 0};
    for (int bc = 0; bc < 2; bc++) {
        ypr_quantizer *q = quantizer(m, ds, YPR_QSCHEME_DPU, test_quick() ? 3 : 6);
        assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_BIAS_CORRECTION, bc), YPR_OK);
        assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 4), YPR_OK);
        assert_int_equal(ypr_quantizer_quantize(q, &out[bc]), YPR_OK);
        for (int r = 0; r < q->nrows; r++)
            if (q->rows[r].node == out[bc]->net.nodes[out[bc]->net.nnodes - 1].inputs[0])
                e2e[bc] = q->rows[r].sqnr_e2e;
        ypr_quantizer_free(q);
    }
    print_message("head SQNR %.2f dB, with bias correction %.2f dB\n", e2e[0], e2e[1]);
    assert_true(e2e[0] > 10 && e2e[1] >= e2e[0] - 0.5);
    int moved = 0;
    for (int i = 0; i < out[0]->net.nparams; i++) {
        const ypr_param *a = &out[0]->net.params[i];
        int j = ypr__net_find_param(&out[1]->net, a->name);
        assert_true(j >= 0);
        moved += memcmp(a->data, out[1]->net.params[j].data, (size_t)a->numel * 4) != 0;
    }
    assert_true(moved > 0);
    ypr_model_free(out[0]);
    ypr_model_free(out[1]);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* ------------------------------------------------ evaluator, checkpoint */

static void eval_map(ypr_model *m, const ypr_dataset *ds, double *map50, double *map)
{
    ypr_evaluator *e;
    assert_int_equal(ypr_evaluator_create(m, ds, &e), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, 128), YPR_OK);
    assert_int_equal(ypr_evaluator_set_int(e, YPR_EVAL_MAX_IMAGES, test_quick() ? 10 : 20), YPR_OK);
    assert_int_equal(ypr_evaluator_run(e), YPR_OK);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, map50), YPR_OK);
    assert_int_equal(ypr_evaluator_get(e, -1, YPR_EVAL_MAP, map), YPR_OK);
    ypr_evaluator_free(e);
}

static void test_evaluate_and_reload(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    ypr_quantizer *q = quantizer(m, ds, YPR_QSCHEME_DPU, 8);
    ypr_model *out;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    double f50, f, q50, qq, r50, r;
    eval_map(m, ds, &f50, &f);
    eval_map(out, ds, &q50, &qq);
    print_message("float mAP@.5 %.4f mAP@.5:.95 %.4f; dpu %.4f %.4f\n", f50, f, q50, qq);
    assert_true(q50 > 0.25 && q50 > f50 - 0.1);   /* still the detector it was */
    assert_true(q50 != f50 || qq != f);           /* and quantized */
    assert_int_equal(ypr_model_save(out, "quant_model.safetensors"), YPR_OK);
    ypr_model *back;
    assert_int_equal(ypr_model_load("quant_model.safetensors", &back), YPR_OK);
    for (int i = 0; i < out->net.nnodes; i++) {
        assert_memory_equal(&back->net.nodes[i].aq, &out->net.nodes[i].aq, sizeof(ypr_qparam));
        assert_memory_equal(&back->net.nodes[i].wq, &out->net.nodes[i].wq, sizeof(ypr_qparam));
        assert_memory_equal(&back->net.nodes[i].bq, &out->net.nodes[i].bq, sizeof(ypr_qparam));
    }
    eval_map(back, ds, &r50, &r);
    assert_true(r50 == q50 && r == qq);
    remove("quant_model.safetensors");
    ypr_model_free(back);
    ypr_model_free(out);
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

/* ------------------------------------------------ bad input */

static void test_bad_input(void **state)
{
    (void)state;
    ypr_model *m = trained_model();
    ypr_dataset *ds = e2e_dataset();
    ypr_quantizer *q;
    assert_int_equal(ypr_quantizer_create(NULL, ds, &q), YPR_EINVAL);
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, 999, 1), YPR_EINVAL);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SCHEME, 7), YPR_ERANGE);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, 100), YPR_ERANGE);
    assert_int_equal(ypr_quantizer_set_float(q, YPR_QUANT_PERCENTILE, 0), YPR_ERANGE);
    assert_int_equal(ypr_quantizer_set_float(q, YPR_QUANT_CALIB_IMAGES, 2.5), YPR_ERANGE);
    assert_int_equal(ypr_quantizer_keep_float(q, ""), YPR_EINVAL);
    char *text;
    assert_int_equal(ypr_quantizer_report(q, &text, 0), YPR_ESTATE);
    assert_int_equal(ypr_quantizer_plot(q, "x.png"), YPR_ESTATE);
    double v;
    assert_int_equal(ypr_quantizer_get_float(q, YPR_QUANT_METHOD, &v), YPR_OK);
    assert_true(v == YPR_CALIB_ENTROPY);
    ypr_quantizer_free(q);
    /* a model that produces NaN: a clear error naming the node */
    int ti = -1;
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        assert_int_equal(ypr_model_tensor(m, i, &name, &nd, sh, &d), YPR_OK);
        if (strcmp(name, "model.2.conv.weight") == 0)
            ti = i;
    }
    assert_true(ti >= 0);
    const char *name;
    int nd;
    int64_t sh[6];
    const float *d;
    assert_int_equal(ypr_model_tensor(m, ti, &name, &nd, sh, &d), YPR_OK);
    int64_t numel = sh[0] * sh[1] * sh[2] * sh[3];
    float *bad = malloc((size_t)numel * sizeof(float));
    assert_non_null(bad);
    memcpy(bad, d, (size_t)numel * sizeof(float));
    for (int64_t i = 0; i < numel; i++)
        bad[i] = NAN;
    assert_int_equal(ypr_model_set_tensor(m, ti, bad, numel), YPR_OK);
    free(bad);
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_CALIB_IMAGES, 1), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, 64), YPR_OK);
    ypr_model *out = (ypr_model *)1;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_ERANGE);
    assert_null(out);
    print_message("%s\n", ypr_last_error());
    assert_non_null(strstr(ypr_last_error(), "model.2"));
    assert_non_null(strstr(ypr_last_error(), "NaN"));
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
}

int main(void)
{
    data_dir = getenv("YPR_TEST_DATA");
    if (!data_dir)
        data_dir = "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_vs_numpy),
        cmocka_unit_test(test_stats_errors),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_dpu_scheme),
        cmocka_unit_test(test_per_channel_scheme),
        cmocka_unit_test(test_step_search),
        cmocka_unit_test(test_bias_correction),
        cmocka_unit_test(test_bias_correction_model),
        cmocka_unit_test(test_evaluate_and_reload),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
