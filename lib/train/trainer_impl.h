/* The ypr_trainer handle's fields, shared by trainer.c (settings, one
 * batch, SGD, EMA), train_run.c (the epoch loop, evaluation),
 * train_ckpt.c (checkpoints and resume) and distill.c. */
#ifndef YPR_TRAINER_IMPL_H
#define YPR_TRAINER_IMPL_H

#include "lib/model/model.h"
#include "train.h"

struct ypr_trainer {
    ypr_model *model;
    const ypr_dataset *train, *val;
    /* settings */
    int epochs, batch, size, workers, loss_kind, linear_lr, ema_on, eval_on, nbs, freeze;
    int augment, eval_images, sparsity, prune_steps, prune_every;
    double distill, sparsity_lambda;
    uint64_t seed;
    ypr_hyp hyp;
    char *outdir;
    ypr_train_fn cb;
    void *cb_user;
    ypr_model *teacher;
    ypr_pruner *pruner;
    /* state that a checkpoint carries */
    int epoch;                  /* completed epochs */
    int64_t updates;            /* EMA updates (optimizer steps) */
    int has_buf;                /* momentum buffers hold a value */
    int prunes_done;            /* pruning steps taken while training */
    double best_fitness;        /* -1 before any evaluation */
    ypr_epoch_result *results;
    int nresults, results_cap;
    char *prune_meta;           /* after a resume: the checkpoint's "train.pruner" state
                                 * (ypr_pruner_save_state), restored by run() */
    float **prune_grads;        /* with it: the pruner's accumulated gradients (per tensor) */
    /* sized by the net */
    ypr_tplan *tp;
    ypr_loss *loss;
    float *mom_mem, **mom;      /* SGD momentum per parameter (NULL for buffers) */
    int64_t mom_floats;
    int *group;                 /* YPR_PG_* per parameter */
    unsigned char *frozen;
    ypr_model *ema;             /* the EMA weights as a model (evaluated, saved) */
    float **snap;               /* what the model gets back on failure: the last epoch's weights */
    int nsnap;
    float **raw;                /* after a finished run the model holds the EMA; the raw weights wait here */
    int nraw;
    float *distill_grad;
    uint64_t prepared_shape;
    int prepared_size;
    int running;
};

int ypr__trainer_prepare(ypr_trainer *t, int batch, int size);
void ypr__trainer_release(ypr_trainer *t);
void ypr__trainer_snapshot(ypr_trainer *t);
void ypr__trainer_free_raw(ypr_trainer *t);
void ypr__trainer_restore_raw(ypr_trainer *t);
void ypr__trainer_free_prune_state(ypr_trainer *t);
int ypr__trainer_restore_pruner(ypr_trainer *t);
int ypr__trainer_loss_kind(const ypr_trainer *t);
double ypr__result_value(const ypr_epoch_result *r, int what);
int ypr__trainer_batch(ypr_trainer *t, const float *images, int n, const float *targets,
                       int64_t nt, int epoch, int iter, double items[4]);
void ypr__trainer_sgd(ypr_trainer *t, const ypr_sched *s, double wd);
void ypr__trainer_ema(ypr_trainer *t);
/* checkpoints (train_ckpt.c) */
int ypr__trainer_save(ypr_trainer *t, const char *path);
/* distillation (distill.c) */
int ypr__distill_check(const ypr_model *student, const ypr_model *teacher);
int ypr__distill(ypr_trainer *t, const float *images, int n, const float *const *head,
                 float *const *grad, const int64_t *hl, const int64_t *wl, double *loss);

#endif
