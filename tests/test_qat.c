/* Quantization-aware training (lib/train/qat.c, ypr_quantizer_convert):
 * - the straight-through gradient of a net with steps against central
 *   differences of its own forward, where they are defined: with steps so
 *   fine (2^-24) that rounding is below float precision, fake quantization is
 *   a clamp, whose derivative the STE must give (1 inside, 0 where clipped);
 * - fine-tuning through the steps lowers the quantized model's loss below
 *   post-training quantization's on a tiny set;
 * - the converted model has the form ypr_quantizer_quantize returns. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/model/model.h"
#include "lib/quant/quant.h"
#include "lib/train/train.h"
#include "test_util.h"

static const char *data_dir;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static float unif(uint64_t *s)
{
    return (float)((double)lcg(s) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* ------------------------------------------------ STE vs central differences */

#define FINE (1.0f / 16777216.0f)   /* 2^-24 */
#define CLIP_ACT 1.5f                /* activations clip at ±1.5 */

typedef struct fd_fix {
    ypr_model *m;
    ypr_tplan *p;
    float *x, *r[YPR_MAX_LEVELS];
    int64_t rn[YPR_MAX_LEVELS];
    int nl;
} fd_fix;

static double fd_loss(fd_fix *f)
{
    assert_int_equal(ypr__tplan_forward(f->p, f->x, 0), YPR_OK);
    double l = 0;
    for (int k = 0; k < f->nl; k++) {
        const float *o = ypr__tplan_output(f->p, k, NULL);
        for (int64_t i = 0; i < f->rn[k]; i++)
            l += (double)o[i] * f->r[k][i];
    }
    return l;
}

static ypr_qparam fine_step(double limit)
{
    return (ypr_qparam){FINE, 0, -(int32_t)(limit / FINE), (int32_t)(limit / FINE),
                        YPR_ROUND_HALF_UP, 0};
}

static void test_ste_finite_differences(void **state)
{
    (void)state;
    fd_fix f = {0};
    f.m = test_mini_trained(data_dir);
    assert_int_equal(ypr_model_fuse(f.m), YPR_OK);
    ypr_net *net = &f.m->net;
    /* every value a step clipping at ±CLIP_ACT, every conv's weights one
     * clipping its largest tenth by magnitude (at 0.8·max|w|), biases unclipped */
    int clipw = 0;
    for (int i = 0; i < net->nnodes; i++) {
        ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_DETECT)
            continue;
        nd->aq = fine_step(i == 0 ? 4.0 : CLIP_ACT);
        if (nd->kind != YPR_NODE_CONV)
            continue;
        const ypr_param *w = &net->params[nd->p[0]];
        float amax = 0;
        for (int64_t k = 0; k < w->numel; k++)
            amax = fmaxf(amax, fabsf(w->data[k]));
        nd->wq = fine_step(0.8 * amax);
        if (nd->p[1] >= 0)
            nd->bq = fine_step(64.0);
        for (int64_t k = 0; k < w->numel; k++)
            clipw += fabsf(w->data[k]) > 0.8f * amax;
    }
    assert_true(clipw > 0);
    net->version++;
    const int64_t n = 1, hw = 64;
    assert_int_equal(ypr__tplan_create(net, f.m->pool, n, hw, hw, NULL, &f.p), YPR_OK);
    uint64_t s = 4242;
    f.x = malloc((size_t)(n * 3 * hw * hw) * sizeof(float));
    assert_non_null(f.x);
    for (int64_t i = 0; i < n * 3 * hw * hw; i++)
        f.x[i] = 0.5f + 0.5f * unif(&s);
    f.nl = ypr__tplan_num_outputs(f.p);
    int saturated = 0;
    fd_loss(&f);
    for (int k = 0; k < f.nl; k++) {
        ypr_shape sh;
        const float *o = ypr__tplan_output(f.p, k, &sh);
        f.rn[k] = n * sh.c * sh.h * sh.w;
        f.r[k] = malloc((size_t)f.rn[k] * sizeof(float));
        assert_non_null(f.r[k]);
        for (int64_t i = 0; i < f.rn[k]; i++) {
            f.r[k][i] = unif(&s);
            saturated += fabsf(o[i]) == CLIP_ACT;   /* the head's steps clipped */
        }
    }
    assert_true(saturated > 0);
    fd_loss(&f);
    for (int k = 0; k < f.nl; k++)
        memcpy(ypr__tplan_output_grad(f.p, k), f.r[k], (size_t)f.rn[k] * sizeof(float));
    ypr__tplan_zero_grad(f.p);
    assert_int_equal(ypr__tplan_backward(f.p), YPR_OK);
    double gmax = 0;
    for (int t = 0; t < net->nparams; t++) {
        const float *g = ypr__tplan_param_grad(f.p, t);
        for (int64_t i = 0; g && i < net->params[t].numel; i++)
            gmax = fmax(gmax, fabs(g[i]));
    }
    assert_true(gmax > 0);
    int checked = 0, clipped_checked = 0, every = test_quick() ? 3 : 1, tensor = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV || tensor++ % every)
            continue;
        ypr_param *pr = &net->params[nd->p[0]];
        const float *g = ypr__tplan_param_grad(f.p, nd->p[0]);
        assert_non_null(g);
        float lim = (float)nd->wq.qmax * FINE;
        /* the largest gradient inside the range, one random entry, one clipped weight */
        int64_t best = -1, clip = -1;
        for (int64_t k = 0; k < pr->numel; k++) {
            if (fabsf(pr->data[k]) > lim * 1.01f) {
                clip = clip < 0 ? k : clip;
                continue;
            }
            if (fabsf(pr->data[k]) < lim * 0.99f && (best < 0 || fabsf(g[k]) > fabsf(g[best])))
                best = k;
        }
        int64_t picks[3] = {best, (int64_t)(lcg(&s) % (uint64_t)pr->numel), clip};
        for (int q = 0; q < 3; q++) {
            int64_t k = picks[q];
            if (k < 0)
                continue;
            float w0 = pr->data[k];
            /* 8e-3, not smaller: at 2e-3 the float rounding of a 64² forward
             * (AVX-512's FMA order) moved one central difference by 10 % */
            float h = 8e-3f * fmaxf(fabsf(w0), 0.05f);
            if (q < 2 && fabsf(w0) + h > lim)   /* would cross the clip: no derivative there */
                continue;
            pr->data[k] = w0 + h;
            double lp = fd_loss(&f);
            pr->data[k] = w0 - h;
            double lm = fd_loss(&f);
            pr->data[k] = w0;
            double fd = (lp - lm) / (2.0 * ((double)(w0 + h) - (double)w0));
            double an = g[k];
            if (q == 2) {
                assert_true(an == 0.0);   /* clipped: the STE passes nothing */
                assert_true(fabs(fd) <= 1e-3 * gmax);
                clipped_checked++;
                continue;
            }
            double tol = 0.03 * fmax(fabs(fd), fabs(an)) + 2e-3 * gmax;
            if (fabs(fd - an) > tol)
                fail_msg("%s[%lld]: STE %.6g, central difference %.6g", pr->name, (long long)k,
                         an, fd);
            checked++;
        }
    }
    assert_true(checked >= 10 / every && clipped_checked >= 3);
    for (int k = 0; k < f.nl; k++)
        free(f.r[k]);
    free(f.x);
    ypr__tplan_free(f.p);
    ypr_model_free(f.m);
}

/* ------------------------------------------------ QAT against PTQ */

#define SIZE 64
#define NIMG 16

typedef struct batch {
    float *img;
    float tg[NIMG * 16][6];
    int64_t nt;
} batch;

static void load_batch(const ypr_dataset *ds, batch *b)
{
    b->img = malloc((size_t)NIMG * 3 * SIZE * SIZE * sizeof(float));
    assert_non_null(b->img);
    b->nt = 0;
    for (int i = 0; i < NIMG; i++) {
        uint8_t *rgb;
        int w, h;
        assert_int_equal(ypr_dataset_image(ds, i, &rgb, &w, &h), YPR_OK);
        assert_true(w == SIZE && h == SIZE);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < SIZE * SIZE; k++)
                b->img[((int64_t)i * 3 + c) * SIZE * SIZE + k] = rgb[k * 3 + c] / 255.0f;
        ypr_free(rgb);
        float rows[16 * 6];   /* class, x1, y1, x2, y2, difficult in pixels */
        int cnt;
        assert_int_equal(ypr_dataset_labels(ds, i, rows, 16, &cnt), YPR_OK);
        for (int r = 0; r < cnt && r < 16; r++) {
            const float *l = &rows[r * 6];
            float *t = b->tg[b->nt++];
            t[0] = (float)i;
            t[1] = l[0];
            t[2] = (l[1] + l[3]) / 2 / SIZE;
            t[3] = (l[2] + l[4]) / 2 / SIZE;
            t[4] = (l[3] - l[1]) / SIZE;
            t[5] = (l[4] - l[2]) / SIZE;
        }
    }
}

static ypr_trainer *trainer(ypr_model *m, const ypr_dataset *ds, double lr0)
{
    ypr_trainer *t;
    assert_int_equal(ypr_trainer_create(m, ds, NULL, &t), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EPOCHS, 1), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EMA, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_NOMINAL_BATCH, NIMG), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "lr0", lr0), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "weight_decay", 0), YPR_OK);
    assert_int_equal(ypr_model_set_threads(m, 1), YPR_OK);
    return t;
}

/* The loss of model m on the batch (a step at learning rate 0 changes nothing). */
static double loss_on(ypr_model *m, const ypr_dataset *ds, const batch *b)
{
    ypr_model *c;
    assert_int_equal(ypr__model_clone(m, &c), YPR_OK);
    ypr_trainer *t = trainer(c, ds, 0.0);
    double l[4];
    assert_int_equal(ypr_trainer_step(t, b->img, NIMG, SIZE, &b->tg[0][0], b->nt, l), YPR_OK);
    ypr_trainer_free(t);
    ypr_model_free(c);
    return l[3];
}

/* Every quantized conv's weights and per-tensor biases lie on their grid. */
static void check_quantized_form(const ypr_model *m, int scheme)
{
    const ypr_net *net = &m->net;
    int convs = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV)
            continue;
        convs++;
        assert_true(nd->wq.scale > 0);
        assert_int_equal(nd->wq.per_channel, scheme == YPR_QSCHEME_PER_CHANNEL);
        const ypr_param *w = &net->params[nd->p[0]];
        int64_t per = w->numel / nd->c;
        for (int64_t o = 0; o < nd->c; o++) {
            float s = nd->wq.scale;
            if (nd->wq.per_channel) {
                float amax = 0;
                for (int64_t k = 0; k < per; k++)
                    amax = fmaxf(amax, fabsf(w->data[o * per + k]));
                s = amax > 0 ? (float)((double)amax / 127) : 1.0f;
            }
            for (int64_t k = 0; k < per; k++) {
                float v = w->data[o * per + k] / s;
                assert_true(fabsf(v - rintf(v)) < 1e-3f && fabsf(v) <= 127.001f);
            }
        }
        if (nd->p[1] >= 0 && scheme == YPR_QSCHEME_DPU) {
            const ypr_param *b = &net->params[nd->p[1]];
            for (int64_t k = 0; k < b->numel; k++) {
                float v = b->data[k] / nd->bq.scale;
                assert_true(v == rintf(v) && fabsf(v) <= 127);
            }
        }
    }
    assert_true(convs > 5);
    assert_true(net->nodes[0].aq.scale > 0);
}

static void qat_vs_ptq(int scheme)
{
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(NIMG, SIZE, 3, 11, &ds), YPR_OK);
    batch b;
    load_batch(ds, &b);
    ypr_model *m = test_mini_trained(data_dir);
    ypr_quantizer *q;
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SCHEME, scheme), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_CALIB_IMAGES, 4), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, SIZE), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 1), YPR_OK);
    ypr_model *out = NULL;
    assert_int_equal(ypr_quantizer_convert(q, m, &out), YPR_ESTATE);   /* nothing quantized */
    assert_null(out);
    ypr_model *ptq, *tuned;
    assert_int_equal(ypr_quantizer_quantize(q, &ptq), YPR_OK);
    assert_int_equal(ypr_quantizer_quantize(q, &tuned), YPR_OK);
    double l_float = loss_on(m, ds, &b), l_ptq = loss_on(ptq, ds, &b);
    /* fine-tune through the steps: a few steps on the batch */
    ypr_trainer *t = trainer(tuned, ds, 0.004);
    int steps = 8;
    for (int k = 0; k < steps; k++)
        assert_int_equal(ypr_trainer_step(t, b.img, NIMG, SIZE, &b.tg[0][0], b.nt, NULL),
                         YPR_OK);
    ypr_trainer_free(t);
    /* a float model is not one of this quantizer's quantized models */
    out = (ypr_model *)1;
    assert_int_equal(ypr_quantizer_convert(q, m, &out), YPR_EINVAL);
    assert_null(out);
    assert_int_equal(ypr_quantizer_convert(q, tuned, &out), YPR_OK);
    double l_qat = loss_on(out, ds, &b);
    print_message("scheme %d: loss float %.4f, PTQ %.4f, QAT (%d steps) %.4f\n", scheme,
                  l_float, l_ptq, steps, l_qat);
    assert_true(l_qat < 0.9 * l_ptq);
    check_quantized_form(ptq, scheme);
    check_quantized_form(out, scheme);
    /* the same steps, other weights */
    int moved = 0;
    for (int i = 0; i < out->net.nnodes; i++) {
        const ypr_node *a = &out->net.nodes[i], *p = &ptq->net.nodes[i];
        assert_memory_equal(&a->aq, &p->aq, sizeof a->aq);
        if (a->kind == YPR_NODE_CONV && !a->wq.per_channel)
            assert_true(a->wq.scale == p->wq.scale);
        if (a->kind == YPR_NODE_CONV)
            moved += memcmp(out->net.params[a->p[0]].data, ptq->net.params[p->p[0]].data,
                            (size_t)out->net.params[a->p[0]].numel * sizeof(float)) != 0;
    }
    assert_true(moved > 0);
    /* the report was measured again */
    char *text;
    assert_int_equal(ypr_quantizer_report(q, &text, 1), YPR_OK);
    assert_non_null(strstr(text, "\"sqnr_e2e_db\""));
    ypr_free(text);
    /* the converted model survives a checkpoint round trip with its steps */
    assert_int_equal(ypr_model_save(out, "qat_model.safetensors"), YPR_OK);
    ypr_model *back;
    assert_int_equal(ypr_model_load("qat_model.safetensors", &back), YPR_OK);
    remove("qat_model.safetensors");
    for (int i = 0; i < out->net.nnodes; i++)
        assert_memory_equal(&back->net.nodes[i].aq, &out->net.nodes[i].aq, sizeof(ypr_qparam));
    assert_true(fabs(loss_on(back, ds, &b) - l_qat) < 1e-4 * fabs(l_qat));
    ypr_model_free(back);
    ypr_model_free(out);
    ypr_model_free(tuned);
    ypr_model_free(ptq);
    ypr_quantizer_free(q);
    ypr_model_free(m);
    free(b.img);
    ypr_dataset_free(ds);
}

static void test_qat_dpu(void **state)
{
    (void)state;
    qat_vs_ptq(YPR_QSCHEME_DPU);
}

static void test_qat_per_channel(void **state)
{
    (void)state;
    qat_vs_ptq(YPR_QSCHEME_PER_CHANNEL);
}

/* ------------------------------------------- interrupt and resume a QAT run */

/* Cancel the run in the first batch of its second epoch: last.safetensors
 * then holds the first epoch's end, as after a crash. */
static int cancel_in_epoch_1(void *user, int epoch, int epochs, int iter, int iters,
                             const double *v)
{
    (void)user; (void)epochs; (void)iters; (void)v;
    return epoch == 1 && iter == 0;
}

/* No EMA: the checkpoint's weights are the trained ones, and the frozen
 * layers (model.0, model.1) stay on their grid, so the checkpoint holds them
 * as I8 / I32 tensors with their scales. */
static ypr_trainer *qat_run(ypr_model *qm, const ypr_dataset *ds, const char *dir)
{
    ypr_trainer *t;
    assert_int_equal(ypr_model_set_threads(qm, 1), YPR_OK);
    assert_int_equal(ypr_trainer_create(qm, ds, NULL, &t), YPR_OK);
    const int nb = test_quick() ? 2 : 4;   /* 2 batches an epoch */
    const int set[][2] = {{YPR_TRAIN_EPOCHS, 2}, {YPR_TRAIN_BATCH, nb}, {YPR_TRAIN_SIZE, SIZE},
                          {YPR_TRAIN_NOMINAL_BATCH, nb}, {YPR_TRAIN_EMA, 0}, {YPR_TRAIN_EVAL, 0},
                          {YPR_TRAIN_AUGMENT, 0}, {YPR_TRAIN_FREEZE, 2}, {YPR_TRAIN_WORKERS, 1}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        assert_int_equal(ypr_trainer_set_int(t, set[i][0], set[i][1]), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "lr0", 1e-3), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "warmup_epochs", 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_output(t, dir), YPR_OK);
    return t;
}

/* Every tensor of a and b: the same floats, dtype, scales and zero points. */
static void same_tensors(const ypr_model *a, const ypr_model *b, int *quantized)
{
    int n = ypr_model_num_tensors(a);
    assert_int_equal(n, ypr_model_num_tensors(b));
    *quantized = 0;
    for (int i = 0; i < n; i++) {
        ypr_tensor_info x = {.struct_size = sizeof x}, y = {.struct_size = sizeof y};
        assert_int_equal(ypr_model_tensor_info_at(a, i, &x), YPR_OK);
        assert_int_equal(ypr_model_tensor_info_at(b, i, &y), YPR_OK);
        assert_string_equal(x.name, y.name);
        assert_int_equal(x.dtype, y.dtype);
        assert_int_equal(x.numel, y.numel);
        assert_memory_equal(x.fdata, y.fdata, (size_t)x.numel * sizeof(float));
        assert_int_equal(x.nscales, y.nscales);
        if (x.nscales) {
            assert_memory_equal(x.scales, y.scales, (size_t)x.nscales * sizeof(float));
            assert_memory_equal(x.zero_points, y.zero_points, (size_t)x.nscales * sizeof(int32_t));
        }
        *quantized += x.dtype != YPR_DTYPE_F32;
    }
}

static void test_qat_resume(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(test_quick() ? 4 : 8, SIZE, 3, 11, &ds), YPR_OK);
    ypr_model *m = test_mini_trained(data_dir);
    ypr_quantizer *q;
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SCHEME, YPR_QSCHEME_PER_CHANNEL), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_CALIB_IMAGES, 2), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, SIZE), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 0), YPR_OK);
    ypr_model *qa, *qb;
    assert_int_equal(ypr_quantizer_quantize(q, &qa), YPR_OK);
    assert_int_equal(ypr_quantizer_quantize(q, &qb), YPR_OK);
    /* A: uninterrupted */
    ypr_trainer *t = qat_run(qa, ds, "qat_resume_a");
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    ypr_trainer_free(t);
    /* B: interrupted after its first epoch */
    remove("qat_resume_b/last.safetensors");
    t = qat_run(qb, ds, "qat_resume_b");
    assert_int_equal(ypr_trainer_set_callback(t, cancel_in_epoch_1, NULL), YPR_OK);
    assert_int_equal(ypr_trainer_run(t), YPR_ECANCELED);
    ypr_trainer_free(t);
    ypr_model_free(qb);
    /* the checkpoint holds quantized tensors (the frozen layers') */
    const char *ckpt = "qat_resume_b/last.safetensors";
    ypr_model *mb;
    assert_int_equal(ypr_model_load(ckpt, &mb), YPR_OK);
    int n = ypr_model_num_tensors(mb), ni8 = 0, ni32 = 0;
    for (int i = 0; i < n; i++) {
        ypr_tensor_info x = {.struct_size = sizeof x};
        assert_int_equal(ypr_model_tensor_info_at(mb, i, &x), YPR_OK);
        ni8 += x.dtype == YPR_DTYPE_I8;
        ni32 += x.dtype == YPR_DTYPE_I32;
    }
    print_message("checkpoint after epoch 1: %d I8 and %d I32 tensors of %d\n", ni8, ni32, n);
    assert_true(ni8 > 0 && ni32 > 0);
    /* a float model is not the quantized run's: refused, saying why (fused
     * too, so that only the steps differ) */
    assert_int_equal(ypr_model_fuse(m), YPR_OK);
    t = qat_run(m, ds, "qat_resume_b");
    assert_int_equal(ypr_trainer_resume(t, ckpt), YPR_ESHAPE);
    assert_non_null(strstr(ypr_last_error(), "quantization-aware"));
    assert_int_equal(ypr_trainer_epochs_done(t), 0);
    ypr_trainer_free(t);
    /* resumed on the checkpoint's model (as yolopr train --resume does) */
    t = qat_run(mb, ds, "qat_resume_b");
    assert_int_equal(ypr_trainer_resume(t, ckpt), YPR_OK);
    assert_int_equal(ypr_trainer_epochs_done(t), 1);
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    assert_int_equal(ypr_trainer_epochs_done(t), 2);
    ypr_trainer_free(t);
    /* the same run: weights bit for bit, dtypes, scales and zero points */
    int nq = 0;
    same_tensors(qa, mb, &nq);
    assert_true(nq > 0);
    ypr_model *la, *lb;
    assert_int_equal(ypr_model_load("qat_resume_a/last.safetensors", &la), YPR_OK);
    assert_int_equal(ypr_model_load(ckpt, &lb), YPR_OK);
    same_tensors(la, lb, &nq);
    assert_true(nq > 0);
    for (int i = 0; i < la->net.nnodes; i++) {
        assert_memory_equal(&la->net.nodes[i].aq, &lb->net.nodes[i].aq, sizeof(ypr_qparam));
        assert_memory_equal(&la->net.nodes[i].wq, &lb->net.nodes[i].wq, sizeof(ypr_qparam));
    }
    ypr_model_free(la);
    ypr_model_free(lb);
    ypr_model_free(mb);
    ypr_model_free(qa);
    ypr_quantizer_free(q);
    ypr_model_free(m);
    ypr_dataset_free(ds);
}

int main(void)
{
    data_dir = getenv("YPR_TEST_DATA");
    if (!data_dir)
        data_dir = "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ste_finite_differences),
        cmocka_unit_test(test_qat_dpu),
        cmocka_unit_test(test_qat_per_channel),
        cmocka_unit_test(test_qat_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
