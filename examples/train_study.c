/* train_study: the prune → fine-tune chain measured on the built-in synthetic
 * dataset, through the public API only (an example of the whole chain).
 *
 *   train_study OUT_DIR [--base CKPT] [--width W] [--size S] [--classes K]
 *               [--train N] [--val N] [--epochs E] [--ft-epochs F] [--batch B]
 *               [--nbs N] [--ratio R] [--distill W] [--threads T] [--lr0 X] [--kd 0|1]
 *
 * 1. A width-W yolov7-tiny trained from scratch for E epochs on N synthetic
 *    images (seed 1), evaluated on a held-out synthetic set (seed 2) — or
 *    the checkpoint --base, evaluated the same way.
 * 2. Pruned by R of every channel group (LAMP, round_to 8, detect head kept).
 * 3. Fine-tuned F epochs (lr0 X, no warm-up); then again from the same
 *    pruned weights with the base model as a distillation teacher (--kd 0:
 *    not).
 * Prints mAP@0.5 / mAP@0.5:0.95 per stage and per fine-tuning epoch, and
 * writes OUT_DIR/base.safetensors, pruned.safetensors, ft.safetensors,
 * ft-kd.safetensors and each run's results.csv (docs/train.md, "Accuracy"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "yolopr.h"

typedef struct opts {
    const char *out, *base;
    double width, ratio, distill, lr0;
    int size, classes, ntrain, nval, epochs, ft_epochs, batch, nbs, threads, kd;
} opts;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "train_study: %s: %s (%s)\n", what, ypr_last_error(), ypr_err_name(rc));
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* mAP@0.5 and mAP@0.5:0.95 of @p m on @p val with the trainer's settings
 * (test.py's, NMS IoU 0.6 as train.py evaluates). */
static int evaluate(ypr_model *m, const ypr_dataset *val, int size, double map[2])
{
    ypr_evaluator *e;
    int rc = ypr_evaluator_create(m, val, &e);
    if (rc < 0)
        return rc;
    if ((rc = ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, size)) >= 0 &&
        (rc = ypr_evaluator_set_float(e, YPR_EVAL_IOU_THRESHOLD, 0.6)) >= 0 &&
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_BATCH, 8)) >= 0 &&
        (rc = ypr_evaluator_run(e)) >= 0 &&
        (rc = ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, &map[0])) >= 0)
        rc = ypr_evaluator_get(e, -1, YPR_EVAL_MAP, &map[1]);
    ypr_evaluator_free(e);
    return rc;
}

/* Train @p m in place for @p epochs; per-epoch mAP@0.5 into map50 (may be
 * NULL). @p teacher: distillation (NULL: none). */
static int train(const opts *o, ypr_model *m, const ypr_dataset *tr, const ypr_dataset *val,
                 int epochs, double lr0, int warmup, ypr_model *teacher, const char *dir,
                 double *map50)
{
    ypr_trainer *t;
    int rc = ypr_trainer_create(m, tr, val, &t);
    if (rc < 0)
        return rc;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", o->out, dir);
    if ((rc = ypr_trainer_set_int(t, YPR_TRAIN_HYP_PRESET, YPR_HYP_SCRATCH_TINY)) >= 0 &&
        (rc = ypr_trainer_set_int(t, YPR_TRAIN_EPOCHS, epochs)) >= 0 &&
        (rc = ypr_trainer_set_int(t, YPR_TRAIN_BATCH, o->batch)) >= 0 &&
        (rc = ypr_trainer_set_int(t, YPR_TRAIN_NOMINAL_BATCH, o->nbs)) >= 0 &&
        (rc = ypr_trainer_set_int(t, YPR_TRAIN_SIZE, o->size)) >= 0 &&
        (rc = ypr_trainer_set_hyp(t, "lr0", lr0)) >= 0 &&
        (rc = ypr_trainer_set_hyp(t, "warmup_epochs", warmup)) >= 0 &&
        (rc = ypr_trainer_set_output(t, path)) >= 0 &&
        (!teacher || (rc = ypr_trainer_set_teacher(t, teacher)) >= 0) &&
        (!teacher || (rc = ypr_trainer_set_float(t, YPR_TRAIN_DISTILL, o->distill)) >= 0)) {
        double t0 = now();
        rc = ypr_trainer_run(t);
        for (int ep = 0; rc >= 0 && ep < ypr_trainer_epochs_done(t); ep++) {
            double v50 = 0, v = 0;
            ypr_trainer_result(t, ep, YPR_TV_MAP50, &v50);
            ypr_trainer_result(t, ep, YPR_TV_MAP, &v);
            if (map50)
                map50[ep] = v50;
            printf("  %-6s epoch %3d  mAP@0.5 %.4f  mAP@0.5:0.95 %.4f\n", dir, ep + 1, v50, v);
        }
        printf("  %-6s %d epochs in %.1f s\n", dir, epochs, now() - t0);
    }
    ypr_trainer_free(t);
    return rc;
}

static int prune(const opts *o, ypr_model *m)
{
    ypr_depgraph *g;
    ypr_pruner *p;
    int rc = ypr_depgraph_build(m, &g);
    if (rc < 0)
        return rc;
    if ((rc = ypr_pruner_create(g, &p)) >= 0) {
        if ((rc = ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, YPR_CRITERION_LAMP)) >= 0 &&
            (rc = ypr_pruner_set_float(p, YPR_PRUNE_RATIO, o->ratio)) >= 0 &&
            (rc = ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, 8)) >= 0 &&
            (rc = ypr_pruner_ignore(p, "model.77.m.*")) >= 0)
            rc = ypr_pruner_step(p);
        ypr_pruner_free(p);
    }
    ypr_depgraph_free(g);
    return rc;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.width = 0.5, .ratio = 0.25, .distill = 1.0, .lr0 = 0.01, .size = 128,
                .classes = 3, .ntrain = 256, .nval = 128, .epochs = 150, .ft_epochs = 10,
                .batch = 16, .nbs = 64, .threads = 0, .kd = 1};
    if (argc < 2 || argv[1][0] == '-')
        return 1;
    o->out = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return 1;
        i++;
        if (!strcmp(k, "--base")) o->base = v;
        else if (!strcmp(k, "--width")) o->width = atof(v);
        else if (!strcmp(k, "--ratio")) o->ratio = atof(v);
        else if (!strcmp(k, "--distill")) o->distill = atof(v);
        else if (!strcmp(k, "--lr0")) o->lr0 = atof(v);
        else if (!strcmp(k, "--size")) o->size = atoi(v);
        else if (!strcmp(k, "--classes")) o->classes = atoi(v);
        else if (!strcmp(k, "--train")) o->ntrain = atoi(v);
        else if (!strcmp(k, "--val")) o->nval = atoi(v);
        else if (!strcmp(k, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(k, "--ft-epochs")) o->ft_epochs = atoi(v);
        else if (!strcmp(k, "--batch")) o->batch = atoi(v);
        else if (!strcmp(k, "--nbs")) o->nbs = atoi(v);
        else if (!strcmp(k, "--threads")) o->threads = atoi(v);
        else if (!strcmp(k, "--kd")) o->kd = atoi(v);
        else return 1;
    }
    return o->ft_epochs < 1 || o->ft_epochs > 1000;
}

int main(int argc, char **argv)
{
    opts o;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* progress lines as they come, even into a file */
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: train_study OUT_DIR [--base CKPT] [--width W] [--size S] "
                "[--classes K] [--train N] [--val N] [--epochs E] [--ft-epochs F] [--batch B] "
                "[--nbs N] [--ratio R] [--distill W] [--threads T] [--lr0 X] [--kd 0|1]\n");
        return 2;
    }
    mkdir(o.out, 0777);
    ypr_dataset *tr, *val;
    int rc;
    if ((rc = ypr_dataset_synth(o.ntrain, o.size, o.classes, 1, &tr)) < 0 ||
        (rc = ypr_dataset_synth(o.nval, o.size, o.classes, 2, &val)) < 0)
        return fail("synthetic dataset", rc);
    char path[1024];
    ypr_model *base;
    if (o.base) {
        if ((rc = ypr_model_load(o.base, &base)) < 0)
            return fail(o.base, rc);
    } else if ((rc = ypr_model_from_cfg("yolov7-tiny", o.classes, 0, o.width, 0, &base)) < 0) {
        return fail("yolov7-tiny", rc);
    }
    if (o.threads > 0)
        ypr_model_set_threads(base, o.threads);
    printf("train_study: yolov7-tiny width %.2f, %lld parameters, %d classes, %d train / %d val "
           "images at %d, batch %d, nominal batch %d\n", o.width,
           (long long)ypr_model_num_params(base), o.classes, o.ntrain, o.nval, o.size, o.batch,
           o.nbs);
    if (!o.base) {
        printf("== train from scratch, %d epochs\n", o.epochs);
        if ((rc = train(&o, base, tr, val, o.epochs, 0.01, 3, NULL, "scratch", NULL)) < 0)
            return fail("training", rc);
    }
    snprintf(path, sizeof path, "%s/base.safetensors", o.out);
    if ((rc = ypr_model_save(base, path)) < 0)
        return fail(path, rc);
    double m_base[2], m_pruned[2];
    if ((rc = evaluate(base, val, o.size, m_base)) < 0)
        return fail("evaluating the base model", rc);
    printf("base:   mAP@0.5 %.4f  mAP@0.5:0.95 %.4f  (%lld parameters)\n", m_base[0], m_base[1],
           (long long)ypr_model_num_params(base));

    ypr_model *pruned;
    if ((rc = ypr_model_load(path, &pruned)) < 0 || (rc = prune(&o, pruned)) < 0)
        return fail("pruning", rc);
    if (o.threads > 0)
        ypr_model_set_threads(pruned, o.threads);
    snprintf(path, sizeof path, "%s/pruned.safetensors", o.out);
    if ((rc = ypr_model_save(pruned, path)) < 0)
        return fail(path, rc);
    if ((rc = evaluate(pruned, val, o.size, m_pruned)) < 0)
        return fail("evaluating the pruned model", rc);
    printf("pruned: mAP@0.5 %.4f  mAP@0.5:0.95 %.4f  (%lld parameters, LAMP %.2f, round_to 8)\n",
           m_pruned[0], m_pruned[1], (long long)ypr_model_num_params(pruned), o.ratio);
    ypr_model_free(pruned);

    double *plain = calloc((size_t)o.ft_epochs, sizeof *plain);
    double *kd = calloc((size_t)o.ft_epochs, sizeof *kd);
    const char *names[2] = {"ft", "ft-kd"};
    for (int run = 0; run < 1 + (o.kd != 0); run++) {
        ypr_model *m;
        if ((rc = ypr_model_load(path, &m)) < 0)
            return fail(path, rc);
        if (o.threads > 0)
            ypr_model_set_threads(m, o.threads);
        printf("== fine-tune %d epochs%s\n", o.ft_epochs,
               run ? ", distilled from the base model" : "");
        if ((rc = train(&o, m, tr, val, o.ft_epochs, o.lr0, 0, run ? base : NULL, names[run],
                        run ? kd : plain)) < 0)
            return fail("fine-tuning", rc);
        char out[1024];
        snprintf(out, sizeof out, "%s/%s.safetensors", o.out, names[run]);
        if ((rc = ypr_model_save(m, out)) < 0)
            return fail(out, rc);
        ypr_model_free(m);
    }
    double goal = 0.95 * m_base[0];
    int reach[2] = {0, 0};
    for (int run = 0; run < 2; run++)
        for (int ep = 0; ep < o.ft_epochs && !reach[run]; ep++)
            if ((run ? kd : plain)[ep] >= goal)
                reach[run] = ep + 1;
    printf("summary: base %.4f, pruned %.4f, fine-tuned %.4f (%s), distilled %.4f (%s); "
           "95 %% of base = %.4f\n", m_base[0], m_pruned[0], plain[o.ft_epochs - 1],
           reach[0] ? "reached" : "not reached", kd[o.ft_epochs - 1],
           reach[1] ? "reached" : "not reached", goal);
    printf("epochs to 95 %% of base: fine-tune %d, distilled %d (0: not within %d)\n", reach[0],
           reach[1], o.ft_epochs);
    free(plain);
    free(kd);
    ypr_model_free(base);
    ypr_dataset_free(tr);
    ypr_dataset_free(val);
    return 0;
}
