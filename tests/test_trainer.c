/* ypr_trainer through the public API on the small cfg (tests/data/model/
 * mini.yaml, every node kind) and the built-in synthetic dataset: training
 * lowers the loss, checkpoints load as models, a run killed with SIGKILL
 * and resumed ends bit-identical to an uninterrupted one, a non-finite
 * loss stops with YPR_ENONFINITE and leaves the last epoch's weights,
 * cancel, pruned nets and prune-while-training, distillation, sparsity. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "yolopr.h"
#include "test_util.h"

static const char *data_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("YPR_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/data", rel);
    return buf;
}

/* Images per synthetic set: halved in the quick scope (sanitizers, qemu). */
static int images(int n)
{
    return test_quick() ? n / 2 : n;
}

static ypr_model *mini(int threads)
{
    const char *e = getenv("YPR_TEST_THREADS");
    if (e && atoi(e) > 0 && threads > 1)
        threads = atoi(e);
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(data_path("model/mini.yaml"), 0, 0, 0, 7, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, data_path("model/mini.safetensors"), 1), YPR_OK);
    assert_int_equal(ypr_model_set_threads(m, threads), YPR_OK);
    return m;
}

/* A small, fast recipe: batch 8 at 64 px, no warm-up, a little augmentation. */
static ypr_trainer *recipe(ypr_model *m, const ypr_dataset *tr, const ypr_dataset *va, int epochs)
{
    ypr_trainer *t;
    assert_int_equal(ypr_trainer_create(m, tr, va, &t), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EPOCHS, epochs), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_BATCH, 8), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_SIZE, 64), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_NOMINAL_BATCH, 16), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_SEED, 3), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "warmup_epochs", 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "mixup", 0), YPR_OK);
    return t;
}

static int64_t total_floats(const ypr_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        assert_int_equal(ypr_model_tensor(m, i, &name, &nd, sh, &d), YPR_OK);
        int64_t e = 1;
        for (int k = 0; k < nd; k++)
            e *= sh[k];
        n += e;
    }
    return n;
}

static float *weights_of(const ypr_model *m)
{
    float *w = malloc((size_t)total_floats(m) * sizeof(float)), *at = w;
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        ypr_model_tensor(m, i, &name, &nd, sh, &d);
        int64_t e = 1;
        for (int k = 0; k < nd; k++)
            e *= sh[k];
        memcpy(at, d, (size_t)e * sizeof(float));
        at += e;
    }
    return w;
}

static void test_loss_goes_down_and_checkpoints_load(void **state)
{
    (void)state;
    ypr_dataset *tr, *va;
    assert_int_equal(ypr_dataset_synth(images(32), 64, 3, 11, &tr), YPR_OK);
    assert_int_equal(ypr_dataset_synth(8, 64, 3, 12, &va), YPR_OK);
    ypr_model *m = mini(2);
    ypr_trainer *t = recipe(m, tr, va, 4);
    assert_int_equal(ypr_trainer_set_output(t, "trainer_out"), YPR_OK);
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    assert_int_equal(ypr_trainer_epochs_done(t), 4);
    double first, last, map;
    assert_int_equal(ypr_trainer_result(t, 0, YPR_TV_TOTAL, &first), YPR_OK);
    assert_int_equal(ypr_trainer_result(t, 3, YPR_TV_TOTAL, &last), YPR_OK);
    assert_int_equal(ypr_trainer_result(t, 3, YPR_TV_MAP50, &map), YPR_OK);
    print_message("loss %.4f -> %.4f, mAP@0.5 %.3f\n", first, last, map);
    assert_true(isfinite(first) && isfinite(last) && last < first);
    assert_true(map >= 0 && map <= 1);
    assert_int_equal(ypr_trainer_result(t, 4, YPR_TV_TOTAL, &last), YPR_ERANGE);
    /* checkpoints: a model; the EMA weights, as the trained model now holds */
    ypr_model *back;
    assert_int_equal(ypr_model_load("trainer_out/last.safetensors", &back), YPR_OK);
    float *a = weights_of(m), *b = weights_of(back);
    assert_memory_equal(a, b, (size_t)total_floats(m) * sizeof(float));
    free(a);
    free(b);
    ypr_model_free(back);
    assert_int_equal(ypr_model_load("trainer_out/best.safetensors", &back), YPR_OK);
    ypr_model_free(back);
    struct stat sb;
    assert_int_equal(stat("trainer_out/results.csv", &sb), 0);
    assert_true(sb.st_size > 0);
    assert_int_equal(stat("trainer_out/results.png", &sb), 0);
    int64_t mem[6];
    assert_int_equal(ypr_trainer_memory(t, mem), YPR_OK);
    assert_true(mem[0] > 0 && mem[2] > 0 && mem[3] > 0 && mem[4] > 0);
    ypr_trainer_free(t);
    ypr_model_free(m);
    ypr_dataset_free(tr);
    ypr_dataset_free(va);
}

/* --- kill and resume */

static int slow_cb(void *user, int epoch, int epochs, int iter, int iters, const double *v)
{
    (void)user; (void)epochs; (void)iter; (void)iters; (void)v;
    if (epoch >= 1) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void train_to(const char *dir, int epochs, const ypr_dataset *tr, int slow)
{
    ypr_model *m = mini(1);
    ypr_trainer *t = recipe(m, tr, NULL, epochs);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_output(t, dir), YPR_OK);
    if (slow)
        ypr_trainer_set_callback(t, slow_cb, NULL);
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    ypr_trainer_free(t);
    ypr_model_free(m);
}

static void test_sigkill_and_resume_is_bit_identical(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(images(24), 64, 3, 21, &tr), YPR_OK);
    train_to("resume_a", 3, tr, 0);
    remove("resume_b/last.safetensors");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        train_to("resume_b", 3, tr, 1);
        _exit(0);
    }
    /* kill it as soon as the first epoch's checkpoint is there */
    struct stat sb;
    for (int i = 0; i < 6000 && stat("resume_b/last.safetensors", &sb) != 0; i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* resume in this process */
    ypr_model *m = mini(1);
    ypr_trainer *t = recipe(m, tr, NULL, 3);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
    assert_int_equal(ypr_trainer_resume(t, "resume_b/last.safetensors"), YPR_OK);
    int done = ypr_trainer_epochs_done(t);
    print_message("killed after %d completed epoch(s)\n", done);
    assert_true(done >= 1 && done < 3);
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    assert_int_equal(ypr_trainer_epochs_done(t), 3);
    ypr_model *a;
    assert_int_equal(ypr_model_load("resume_a/last.safetensors", &a), YPR_OK);
    float *wa = weights_of(a), *wb = weights_of(m);
    assert_memory_equal(wa, wb, (size_t)total_floats(a) * sizeof(float));
    free(wa);
    free(wb);
    ypr_model_free(a);
    ypr_trainer_free(t);
    ypr_model_free(m);
    /* a file that is not a trainer checkpoint */
    m = mini(1);
    t = recipe(m, tr, NULL, 3);
    assert_int_equal(ypr_trainer_resume(t, data_path("model/mini.safetensors")), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "mini.safetensors"));
    ypr_trainer_free(t);
    ypr_model_free(m);
    ypr_dataset_free(tr);
}

/* --- a non-finite loss */

static int poison_cb(void *user, int epoch, int epochs, int iter, int iters, const double *v)
{
    (void)epochs; (void)iters; (void)v;
    if (epoch == 1 && iter == 0) {
        ypr_model *m = user;
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        ypr_model_tensor(m, 0, &name, &nd, sh, &d);
        int64_t e = 1;
        for (int k = 0; k < nd; k++)
            e *= sh[k];
        float *bad = malloc((size_t)e * sizeof(float));
        memcpy(bad, d, (size_t)e * sizeof(float));
        bad[0] = NAN;
        ypr_model_set_tensor(m, 0, bad, e);
        free(bad);
    }
    return 0;
}

static void test_nonfinite_stops_and_keeps_last_epoch(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(16, 64, 3, 31, &tr), YPR_OK);
    ypr_model *m = mini(2);
    ypr_trainer *t = recipe(m, tr, NULL, 3);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_output(t, "nonfinite_out"), YPR_OK);
    ypr_trainer_set_callback(t, poison_cb, m);
    assert_int_equal(ypr_trainer_run(t), YPR_ENONFINITE);
    assert_non_null(strstr(ypr_last_error(), "epoch 1"));
    assert_int_equal(ypr_trainer_epochs_done(t), 1);
    assert_int_equal(ypr_model_check_finite(m), YPR_OK);
    ypr_model *last;
    assert_int_equal(ypr_model_load("nonfinite_out/last.safetensors", &last), YPR_OK);
    float *a = weights_of(m), *b = weights_of(last);
    assert_memory_equal(a, b, (size_t)total_floats(m) * sizeof(float));
    free(a);
    free(b);
    ypr_model_free(last);
    ypr_trainer_free(t);
    ypr_model_free(m);
    ypr_dataset_free(tr);
}

static int cancel_cb(void *user, int epoch, int epochs, int iter, int iters, const double *v)
{
    (void)user; (void)epoch; (void)epochs; (void)iters;
    assert_true(isfinite(v[YPR_TV_TOTAL]) && v[YPR_TV_LR] >= 0);
    return iter == 1;
}

static void test_cancel_and_settings(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(16, 64, 3, 41, &tr), YPR_OK);
    ypr_model *m = mini(2);
    float *before = weights_of(m);
    ypr_trainer *t = recipe(m, tr, NULL, 2);
    ypr_trainer_set_callback(t, cancel_cb, NULL);
    assert_int_equal(ypr_trainer_run(t), YPR_ECANCELED);
    float *after = weights_of(m);
    assert_memory_equal(before, after, (size_t)total_floats(m) * sizeof(float));
    free(after);
    free(before);
    /* settings */
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_SIZE, 65), YPR_ERANGE);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_BATCH, 0), YPR_ERANGE);
    assert_int_equal(ypr_trainer_set_int(t, 399, 1), YPR_EINVAL);
    assert_int_equal(ypr_trainer_set_hyp(t, "no_such_key", 1), YPR_ENOTFOUND);
    double v;
    assert_int_equal(ypr_trainer_set_hyp(t, "lr0", 0.02), YPR_OK);
    assert_int_equal(ypr_trainer_get_hyp(t, "lr0", &v), YPR_OK);
    assert_true(v == 0.02);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_HYP_PRESET, YPR_HYP_SCRATCH_TINY), YPR_OK);
    assert_int_equal(ypr_trainer_get_hyp(t, "lrf", &v), YPR_OK);
    assert_true(v == 0.01);
    int64_t iv;
    assert_int_equal(ypr_trainer_get_int(t, YPR_TRAIN_LOSS, &iv), YPR_OK);
    assert_int_equal(iv, YPR_LOSS_OTA);
    ypr_trainer_free(t);
    /* a dataset with other classes */
    ypr_dataset *other;
    assert_int_equal(ypr_dataset_synth(4, 64, 5, 1, &other), YPR_OK);
    assert_int_equal(ypr_trainer_create(m, other, NULL, &t), YPR_EINVAL);
    ypr_dataset_free(other);
    ypr_model_free(m);
    ypr_dataset_free(tr);
}

/* A pruned net trains; pruning while training shrinks the net between epochs. */
static void test_pruned_and_prune_while_training(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(16, 64, 3, 51, &tr), YPR_OK);
    ypr_model *m = mini(2);
    int64_t p0 = ypr_model_num_params(m);
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, YPR_CRITERION_TAYLOR), YPR_OK);
    ypr_trainer *t = recipe(m, tr, NULL, 3);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_trainer_run(t), YPR_ESTATE);      /* no pruner yet */
    assert_int_equal(ypr_trainer_set_pruner(t, p), YPR_OK);
    /* Taylor needs gradients before the first step: step 1 comes after epoch 0 */
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_PRUNE_EVERY, 1), YPR_OK);
    int rc = ypr_trainer_run(t);
    if (rc != YPR_OK)
        fail_msg("run: %s", ypr_last_error());
    assert_int_equal(ypr_pruner_steps_done(p), 2);
    int64_t p1 = ypr_model_num_params(m);
    print_message("params %lld -> %lld\n", (long long)p0, (long long)p1);
    assert_true(p1 < p0 * 0.6);
    double loss;
    assert_int_equal(ypr_trainer_result(t, 2, YPR_TV_TOTAL, &loss), YPR_OK);
    assert_true(isfinite(loss));
    ypr_trainer_free(t);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    ypr_dataset_free(tr);
}

/* A run that prunes while training, cancelled between its two pruning
 * steps and resumed with a fresh pruner (its settings, widths and Taylor
 * gradients come from the checkpoint), ends bit-identical (one thread). */
static int cancel_in_epoch2(void *user, int epoch, int epochs, int iter, int iters,
                            const double *v)
{
    (void)user; (void)epochs; (void)iters; (void)v;
    return epoch == 2 && iter == 1;
}

static ypr_trainer *pwt_run(ypr_model *m, const ypr_dataset *tr, const char *dir,
                            ypr_depgraph **g, ypr_pruner **p)
{
    assert_int_equal(ypr_depgraph_build(m, g), YPR_OK);
    assert_int_equal(ypr_pruner_create(*g, p), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(*p, YPR_PRUNE_RATIO, 0.5), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(*p, YPR_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(*p, YPR_PRUNE_CRITERION, YPR_CRITERION_TAYLOR), YPR_OK);
    assert_int_equal(ypr_pruner_set_int(*p, YPR_PRUNE_ROUND_TO, 2), YPR_OK);
    ypr_trainer *t = recipe(m, tr, NULL, 4);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_PRUNE_STEPS, 2), YPR_OK);
    assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_PRUNE_EVERY, 1), YPR_OK);
    assert_int_equal(ypr_trainer_set_pruner(t, *p), YPR_OK);
    assert_int_equal(ypr_trainer_set_output(t, dir), YPR_OK);
    return t;
}

static void test_resume_while_pruning(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(16, 64, 3, 53, &tr), YPR_OK);
    ypr_depgraph *g;
    ypr_pruner *p;
    /* uninterrupted */
    ypr_model *a = mini(1);
    ypr_trainer *t = pwt_run(a, tr, "pwt_a", &g, &p);
    assert_int_equal(ypr_trainer_run(t), YPR_OK);
    assert_int_equal(ypr_pruner_steps_done(p), 2);
    float *want = weights_of(a);
    int64_t nwant = total_floats(a);
    ypr_trainer_free(t);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    /* cancelled in epoch 2: its checkpoint is epoch 1's, one step pruned */
    ypr_model *b = mini(1);
    t = pwt_run(b, tr, "pwt_b", &g, &p);
    ypr_trainer_set_callback(t, cancel_in_epoch2, NULL);
    assert_int_equal(ypr_trainer_run(t), YPR_ECANCELED);
    assert_int_equal(ypr_pruner_steps_done(p), 2);   /* step 2 was taken before epoch 2 */
    ypr_trainer_free(t);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(b);
    /* resumed from it with a default pruner */
    ypr_model *c;
    assert_int_equal(ypr_model_load("pwt_b/last.safetensors", &c), YPR_OK);
    assert_int_equal(ypr_model_set_threads(c, 1), YPR_OK);
    int64_t pruned_once = ypr_model_num_params(c);
    assert_int_equal(ypr_trainer_create(c, tr, NULL, &t), YPR_OK);
    assert_int_equal(ypr_trainer_resume(t, "pwt_b/last.safetensors"), YPR_OK);
    assert_int_equal(ypr_trainer_epochs_done(t), 2);
    assert_int_equal(ypr_trainer_run(t), YPR_ESTATE);   /* steps to take, no pruner */
    assert_non_null(strstr(ypr_last_error(), "pruner"));
    assert_int_equal(ypr_depgraph_build(c, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_trainer_set_pruner(t, p), YPR_OK);
    int rc = ypr_trainer_run(t);
    if (rc != YPR_OK)
        fail_msg("resumed run: %s", ypr_last_error());
    assert_int_equal(ypr_pruner_steps_done(p), 2);
    assert_true(ypr_model_num_params(c) < pruned_once);
    assert_int_equal(total_floats(c), nwant);
    float *got = weights_of(c);
    assert_memory_equal(got, want, (size_t)nwant * sizeof(float));
    free(got);
    free(want);
    ypr_trainer_free(t);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(c);
    ypr_model_free(a);
    ypr_dataset_free(tr);
}

/* Distillation alone (YOLOv7 gains 0) pulls the student toward the teacher. */
static void test_distillation(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(8, 64, 3, 61, &tr), YPR_OK);
    ypr_model *teacher = mini(2), *student;
    assert_int_equal(ypr_model_from_cfg(data_path("model/mini.yaml"), 0, 0, 0, 99, &student),
                     YPR_OK);
    ypr_trainer *t = recipe(student, tr, NULL, 1);
    assert_int_equal(ypr_trainer_set_teacher(t, teacher), YPR_OK);
    for (const char *const *k = (const char *const[]){"box", "obj", "cls", NULL}; *k; k++)
        assert_int_equal(ypr_trainer_set_hyp(t, *k, 0), YPR_OK);
    assert_int_equal(ypr_trainer_set_hyp(t, "lr0", 0.05), YPR_OK);
    float *img = malloc(2 * 3 * 64 * 64 * sizeof(float));
    for (int i = 0; i < 2 * 3 * 64 * 64; i++)
        img[i] = (float)((i * 7919) % 255) / 255.0f;
    float tg[6] = {0, 1, 0.5f, 0.5f, 0.3f, 0.4f};
    double l0[4], l1[4];
    assert_int_equal(ypr_trainer_step(t, img, 2, 64, tg, 1, l0), YPR_OK);
    for (int i = 0; i < 15; i++)
        assert_int_equal(ypr_trainer_step(t, img, 2, 64, tg, 1, l1), YPR_OK);
    print_message("distillation loss %.5f -> %.5f\n", l0[3], l1[3]);
    assert_true(l0[3] > 0 && l1[3] < 0.8 * l0[3]);
    /* a teacher with another head is refused */
    ypr_model *other;
    assert_int_equal(ypr_model_from_cfg(data_path("model/mini.yaml"), 5, 0, 0, 1, &other), YPR_OK);
    assert_int_equal(ypr_trainer_set_teacher(t, other), YPR_EINVAL);
    ypr_model_free(other);
    free(img);
    ypr_trainer_free(t);
    ypr_model_free(student);
    ypr_model_free(teacher);
    ypr_dataset_free(tr);
}

/* Network-slimming sparsity drives BatchNorm scales down. */
static double mean_bn_scale(const ypr_model *m)
{
    double s = 0;
    int64_t n = 0;
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *name;
        int nd;
        int64_t sh[6];
        const float *d;
        ypr_model_tensor(m, i, &name, &nd, sh, &d);
        size_t l = strlen(name);
        if (l > 9 && strcmp(name + l - 9, "bn.weight") == 0)
            for (int64_t k = 0; k < sh[0]; k++, n++)
                s += fabs(d[k]);
    }
    return n ? s / (double)n : 0;
}

static void test_sparsity(void **state)
{
    (void)state;
    ypr_dataset *tr;
    assert_int_equal(ypr_dataset_synth(images(16), 64, 3, 71, &tr), YPR_OK);
    double scale[2];
    for (int sparse = 0; sparse < 2; sparse++) {
        ypr_model *m = mini(2);
        ypr_depgraph *g;
        ypr_pruner *p;
        assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
        assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
        ypr_trainer *t = recipe(m, tr, NULL, 2);
        assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EVAL, 0), YPR_OK);
        assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_EMA, 0), YPR_OK);
        assert_int_equal(ypr_trainer_set_pruner(t, p), YPR_OK);
        if (sparse) {
            assert_int_equal(ypr_trainer_set_int(t, YPR_TRAIN_SPARSITY, YPR_REG_BN_L1), YPR_OK);
            assert_int_equal(ypr_trainer_set_float(t, YPR_TRAIN_SPARSITY_LAMBDA, 1e-2), YPR_OK);
        }
        assert_int_equal(ypr_trainer_run(t), YPR_OK);
        scale[sparse] = mean_bn_scale(m);
        ypr_trainer_free(t);
        ypr_pruner_free(p);
        ypr_depgraph_free(g);
        ypr_model_free(m);
    }
    print_message("mean |BN scale|: %.4f plain, %.4f sparse\n", scale[0], scale[1]);
    assert_true(scale[1] < scale[0]);
    ypr_dataset_free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_goes_down_and_checkpoints_load),
        cmocka_unit_test(test_sigkill_and_resume_is_bit_identical),
        cmocka_unit_test(test_nonfinite_stops_and_keeps_last_epoch),
        cmocka_unit_test(test_cancel_and_settings),
        cmocka_unit_test(test_pruned_and_prune_while_training),
        cmocka_unit_test(test_resume_while_pruning),
        cmocka_unit_test(test_distillation),
        cmocka_unit_test(test_sparsity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
