/* ypr_trainer: YOLOv7's train.py loop over the training plan — loader
 * threads, warm-up and LR schedule, gradient accumulation to the nominal
 * batch, SGD with three parameter groups, EMA, per-epoch evaluation of the
 * EMA weights, checkpoints after every epoch (trainer_ckpt.c), distillation
 * (distill.c), sparse training and pruning between epochs through a
 * caller's pruner. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/data/data.h"
#include "lib/model/model.h"
#include "trainer_impl.h"

/* ------------------------------------------------------------ settings */

int ypr_trainer_create(ypr_model *model, const ypr_dataset *train, const ypr_dataset *val,
                       ypr_trainer **out)
{
    RETURN_IF(!model || !train || !out, YPR_EINVAL, "trainer: NULL argument");
    *out = NULL;
    RETURN_IF(ypr_dataset_num_classes(train) != model->nc, YPR_EINVAL,
              "trainer: the model has %d classes, the training data %d", model->nc,
              ypr_dataset_num_classes(train));
    RETURN_IF(val && ypr_dataset_num_classes(val) != model->nc, YPR_EINVAL,
              "trainer: the model has %d classes, the validation data %d", model->nc,
              ypr_dataset_num_classes(val));
    for (int i = 0; i < model->net.nnodes; i++)
        RETURN_IF(model->net.nodes[i].kind == YPR_NODE_CONV &&
                  model->net.nodes[i].act != YPR_ACT_IDENTITY, YPR_EINVAL,
                  "trainer: the model is fused (node %s): train the unfused model",
                  model->net.nodes[i].name);
    ypr_trainer *t = calloc(1, sizeof *t);
    RETURN_IF(!t, YPR_ENOMEM, "trainer: out of memory");
    t->model = model;
    t->train = train;
    t->val = val;
    t->epochs = 300;
    t->batch = 16;
    t->size = model->input_size > 0 ? model->input_size : 640;
    t->workers = 2;
    t->loss_kind = -1;
    t->ema_on = 1;
    t->eval_on = 1;
    t->nbs = 64;
    t->augment = 1;
    t->sparsity = -1;
    t->sparsity_lambda = 1e-4;
    t->distill = 1.0;
    t->prune_every = 1;
    t->best_fitness = -1.0;
    ypr__hyp_default(&t->hyp, YPR_HYP_P5);
    *out = t;
    return YPR_OK;
}

void ypr_trainer_free(ypr_trainer *t)
{
    if (!t)
        return;
    ypr__trainer_release(t);
    ypr__trainer_free_raw(t);
    ypr__trainer_free_prune_state(t);
    free(t->results);
    free(t->outdir);
    free(t);
}

int ypr_trainer_set_int(ypr_trainer *t, int key, int64_t v)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: settings cannot change while it runs");
#define RANGE(lo, hi)                                                                   \
    RETURN_IF(v < (lo) || v > (hi), YPR_ERANGE, "trainer: setting %d: %lld outside %lld..%lld", \
              key, (long long)v, (long long)(lo), (long long)(hi))
    switch (key) {
    case YPR_TRAIN_EPOCHS: RANGE(1, 100000); t->epochs = (int)v; break;
    case YPR_TRAIN_BATCH: RANGE(1, 1024); t->batch = (int)v; break;
    case YPR_TRAIN_SIZE:
        RANGE(32, 8192);
        RETURN_IF(v % 32, YPR_ERANGE, "trainer: size %lld is not a multiple of 32", (long long)v);
        t->size = (int)v;
        break;
    case YPR_TRAIN_WORKERS: RANGE(1, 64); t->workers = (int)v; break;
    case YPR_TRAIN_SEED: t->seed = (uint64_t)v; break;
    case YPR_TRAIN_LOSS: RANGE(-1, 1); t->loss_kind = (int)v; break;
    case YPR_TRAIN_LINEAR_LR: RANGE(0, 1); t->linear_lr = (int)v; break;
    case YPR_TRAIN_EMA: RANGE(0, 1); t->ema_on = (int)v; break;
    case YPR_TRAIN_EVAL: RANGE(0, 1); t->eval_on = (int)v; break;
    case YPR_TRAIN_NOMINAL_BATCH: RANGE(1, 1 << 20); t->nbs = (int)v; break;
    case YPR_TRAIN_FREEZE: RANGE(0, 1 << 20); t->freeze = (int)v; break;
    case YPR_TRAIN_AUGMENT: RANGE(0, 1); t->augment = (int)v; break;
    case YPR_TRAIN_EVAL_IMAGES: RANGE(0, 1 << 30); t->eval_images = (int)v; break;
    case YPR_TRAIN_HYP_PRESET:
        RANGE(YPR_HYP_SCRATCH_P5, YPR_HYP_SCRATCH_TINY);
        ypr__hyp_default(&t->hyp, v == YPR_HYP_SCRATCH_TINY ? YPR_HYP_TINY : YPR_HYP_P5);
        break;
    case YPR_TRAIN_SPARSITY: RANGE(-1, YPR_REG_GROUP_NORM); t->sparsity = (int)v; break;
    case YPR_TRAIN_PRUNE_STEPS: RANGE(0, 1000); t->prune_steps = (int)v; break;
    case YPR_TRAIN_PRUNE_EVERY: RANGE(1, 100000); t->prune_every = (int)v; break;
    case YPR_TRAIN_DISTILL:
    case YPR_TRAIN_SPARSITY_LAMBDA:
        return ypr_trainer_set_float(t, key, (double)v);
    default:
        return ypr__error(YPR_EINVAL, "trainer: unknown setting %d", key);
    }
#undef RANGE
    return YPR_OK;
}

int ypr_trainer_set_float(ypr_trainer *t, int key, double v)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: settings cannot change while it runs");
    switch (key) {
    case YPR_TRAIN_DISTILL:
        RETURN_IF(!(v >= 0 && v <= 1e6), YPR_ERANGE, "trainer: distillation weight %g", v);
        t->distill = v;
        return YPR_OK;
    case YPR_TRAIN_SPARSITY_LAMBDA:
        RETURN_IF(!(v >= 0 && v <= 1e3), YPR_ERANGE, "trainer: sparsity lambda %g", v);
        t->sparsity_lambda = v;
        return YPR_OK;
    default:
        RETURN_IF(!(v == floor(v) && fabs(v) < 9e15), YPR_EINVAL,
                  "trainer: setting %d is an integer, not %g", key, v);
        return ypr_trainer_set_int(t, key, (int64_t)v);
    }
}

int ypr_trainer_get_int(const ypr_trainer *t, int key, int64_t *v)
{
    RETURN_IF(!t || !v, YPR_EINVAL, "trainer: NULL argument");
    switch (key) {
    case YPR_TRAIN_EPOCHS: *v = t->epochs; break;
    case YPR_TRAIN_BATCH: *v = t->batch; break;
    case YPR_TRAIN_SIZE: *v = t->size; break;
    case YPR_TRAIN_WORKERS: *v = t->workers; break;
    case YPR_TRAIN_SEED: *v = (int64_t)t->seed; break;
    case YPR_TRAIN_LOSS: *v = ypr__trainer_loss_kind(t); break;
    case YPR_TRAIN_LINEAR_LR: *v = t->linear_lr; break;
    case YPR_TRAIN_EMA: *v = t->ema_on; break;
    case YPR_TRAIN_EVAL: *v = t->eval_on; break;
    case YPR_TRAIN_NOMINAL_BATCH: *v = t->nbs; break;
    case YPR_TRAIN_FREEZE: *v = t->freeze; break;
    case YPR_TRAIN_AUGMENT: *v = t->augment; break;
    case YPR_TRAIN_EVAL_IMAGES: *v = t->eval_images; break;
    case YPR_TRAIN_SPARSITY: *v = t->sparsity; break;
    case YPR_TRAIN_PRUNE_STEPS: *v = t->prune_steps; break;
    case YPR_TRAIN_PRUNE_EVERY: *v = t->prune_every; break;
    default: return ypr__error(YPR_EINVAL, "trainer: setting %d has no integer value", key);
    }
    return YPR_OK;
}

int ypr_trainer_get_float(const ypr_trainer *t, int key, double *v)
{
    RETURN_IF(!t || !v, YPR_EINVAL, "trainer: NULL argument");
    switch (key) {
    case YPR_TRAIN_DISTILL: *v = t->distill; return YPR_OK;
    case YPR_TRAIN_SPARSITY_LAMBDA: *v = t->sparsity_lambda; return YPR_OK;
    default: {
        int64_t i;
        TRY(ypr_trainer_get_int(t, key, &i));
        *v = (double)i;
        return YPR_OK;
    }
    }
}

int ypr_trainer_set_hyp(ypr_trainer *t, const char *key, double value)
{
    RETURN_IF(!t || !key, YPR_EINVAL, "trainer: NULL argument");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: settings cannot change while it runs");
    return ypr__hyp_set(&t->hyp, key, value);
}

int ypr_trainer_get_hyp(const ypr_trainer *t, const char *key, double *value)
{
    RETURN_IF(!t || !key || !value, YPR_EINVAL, "trainer: NULL argument");
    return ypr__hyp_get(&t->hyp, key, value);
}

int ypr_trainer_load_hyp(ypr_trainer *t, const char *path)
{
    RETURN_IF(!t || !path, YPR_EINVAL, "trainer: NULL argument");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: settings cannot change while it runs");
    return ypr__hyp_load(path, &t->hyp);
}

int ypr_trainer_set_output(ypr_trainer *t, const char *dir)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    if (!dir) {
        free(t->outdir);
        t->outdir = NULL;
        return YPR_OK;
    }
    RETURN_IF(mkdir(dir, 0777) != 0 && errno != EEXIST, YPR_EIO, "%s: cannot create: %s", dir,
              strerror(errno));
    struct stat st;
    RETURN_IF(stat(dir, &st) != 0 || !S_ISDIR(st.st_mode), YPR_EIO, "%s: not a folder", dir);
    char *d = strdup(dir);
    RETURN_IF(!d, YPR_ENOMEM, "trainer: out of memory");
    free(t->outdir);
    t->outdir = d;
    return YPR_OK;
}

int ypr_trainer_set_callback(ypr_trainer *t, ypr_train_fn fn, void *user)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    t->cb = fn;
    t->cb_user = user;
    return YPR_OK;
}

int ypr_trainer_set_teacher(ypr_trainer *t, ypr_model *teacher)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: the teacher cannot change while it runs");
    if (teacher)
        TRY(ypr__distill_check(t->model, teacher));
    t->teacher = teacher;
    return YPR_OK;
}

int ypr_trainer_set_pruner(ypr_trainer *t, ypr_pruner *pruner)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: the pruner cannot change while it runs");
    t->pruner = pruner;
    return YPR_OK;
}

int ypr_trainer_epochs_done(const ypr_trainer *t)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    return t->epoch;
}

int ypr_trainer_result(const ypr_trainer *t, int epoch, int what, double *value)
{
    RETURN_IF(!t || !value, YPR_EINVAL, "trainer: NULL argument");
    RETURN_IF(epoch < 0 || epoch >= t->nresults, YPR_ERANGE,
              "trainer: epoch %d not completed (%d done)", epoch, t->nresults);
    RETURN_IF(what < 0 || what >= YPR_TV_COUNT_, YPR_ERANGE, "trainer: value %d unknown", what);
    *value = ypr__result_value(&t->results[epoch], what);
    return YPR_OK;
}

int ypr_trainer_memory(const ypr_trainer *t, int64_t parts[6])
{
    RETURN_IF(!t || !parts, YPR_EINVAL, "trainer: NULL argument");
    size_t tp[4] = {0, 0, 0, 0};
    if (t->tp)
        ypr__tplan_bytes(t->tp, tp);
    int64_t params = 0;
    for (int i = 0; i < t->model->net.nparams; i++)
        params += t->model->net.params[i].numel;
    parts[0] = (int64_t)tp[0];
    parts[1] = (int64_t)tp[1];
    parts[2] = (int64_t)tp[2];
    parts[3] = t->mom_mem ? (int64_t)t->mom_floats * 4 : 0;
    parts[4] = t->ema ? params * 4 : 0;
    parts[5] = (int64_t)tp[3];
    return YPR_OK;
}

/* ------------------------------------------------------------ state */

int ypr__trainer_loss_kind(const ypr_trainer *t)
{
    return t->loss_kind >= 0 ? t->loss_kind : (t->hyp.loss_ota != 0.0 ? 1 : 0);
}

double ypr__result_value(const ypr_epoch_result *r, int what)
{
    switch (what) {
    case YPR_TV_BOX: return r->box;
    case YPR_TV_OBJ: return r->obj;
    case YPR_TV_CLS: return r->cls;
    case YPR_TV_TOTAL: return r->total;
    case YPR_TV_LR: return r->lr[YPR_PG_DECAY];
    case YPR_TV_IMAGES_PER_SEC: return r->images_per_second;
    case YPR_TV_P: return r->p;
    case YPR_TV_R: return r->r;
    case YPR_TV_MAP50: return r->map50;
    case YPR_TV_MAP: return r->map;
    case YPR_TV_FITNESS: return isnan(r->map50) ? NAN : ypr__fitness(r);
    case YPR_TV_SECONDS: return r->seconds;
    default: return NAN;
    }
}

void ypr__trainer_free_raw(ypr_trainer *t)
{
    for (int i = 0; t->raw && i < t->nraw; i++)
        ypr__free(t->raw[i]);
    free(t->raw);
    t->raw = NULL;
    t->nraw = 0;
}

/* Everything sized by the net: dropped when it changes shape (pruning). */
void ypr__trainer_release(ypr_trainer *t)
{
    ypr__tplan_free(t->tp);
    t->tp = NULL;
    ypr__loss_free(t->loss);
    t->loss = NULL;
    ypr__free(t->mom_mem);
    t->mom_mem = NULL;
    free(t->mom);
    t->mom = NULL;
    t->has_buf = 0;
    free(t->group);
    t->group = NULL;
    free(t->frozen);
    t->frozen = NULL;
    ypr_model_free(t->ema);
    t->ema = NULL;
    for (int i = 0; t->snap && i < t->nsnap; i++)
        ypr__free(t->snap[i]);
    free(t->snap);
    t->snap = NULL;
    t->nsnap = 0;
    free(t->distill_grad);
    t->distill_grad = NULL;
}

/* train.py's three groups: BatchNorm weights and implicit tensors without
 * decay (pg0), conv weights with decay (pg1), biases (pg2). */
static void assign_groups(ypr_trainer *t)
{
    const ypr_net *net = &t->model->net;
    for (int k = 0; k < net->nparams; k++)
        t->group[k] = YPR_PG_NO_DECAY;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_CONV) {
            t->group[nd->p[0]] = YPR_PG_DECAY;
            if (nd->p[1] >= 0)
                t->group[nd->p[1]] = YPR_PG_BIAS;
        } else if (nd->kind == YPR_NODE_BN) {
            t->group[nd->p[1]] = YPR_PG_BIAS;
        } else if (nd->kind == YPR_NODE_DETECT) {
            for (int k = 0; k < 2; k++)   /* anchors: constant buffers, left out of the EMA */
                if (nd->p[k] >= 0)
                    t->group[nd->p[k]] = -1;
        }
    }
    /* frozen: names under model.0. … model.(freeze-1). as train.py's --freeze */
    for (int k = 0; k < net->nparams; k++) {
        t->frozen[k] = 0;
        for (int l = 0; l < t->freeze; l++) {
            char pre[32];
            snprintf(pre, sizeof pre, "model.%d.", l);
            if (strncmp(net->params[k].name, pre, strlen(pre)) == 0)
                t->frozen[k] = 1;
        }
    }
}

/* (Re)build what depends on the net's shapes and the batch size. */
int ypr__trainer_prepare(ypr_trainer *t, int batch, int size)
{
    ypr_model *m = t->model;
    const ypr_net *net = &m->net;
    int same_net = t->group && t->prepared_shape == net->shape_version;
    if (same_net && t->tp && ypr__tplan_batch(t->tp) == batch && t->prepared_size == size)
        return YPR_OK;
    if (!same_net) {
        ypr__trainer_release(t);     /* new or reshaped net: optimizer state starts over */
    } else {
        ypr__tplan_free(t->tp);      /* another batch or size: only the plan changes */
        t->tp = NULL;
    }
    int np = net->nparams;
    if (!t->group) {
        t->group = calloc((size_t)np + 1, sizeof(int));
        t->frozen = calloc((size_t)np + 1, 1);
        RETURN_IF(!t->group || !t->frozen, YPR_ENOMEM, "trainer: out of memory");
        assign_groups(t);
    }
    t->prepared_shape = net->shape_version;
    TRY(ypr__tplan_create(&m->net, m->pool, batch, size, size, t->frozen, &t->tp));
    t->prepared_size = size;
    if (!t->loss)
        TRY(ypr__loss_create(&t->loss));
    if (!t->mom_mem) {
        int64_t total = 0;
        for (int k = 0; k < np; k++)
            if (!net->params[k].is_buffer)
                total += (net->params[k].numel + 15) & ~(int64_t)15;
        t->mom_mem = ypr__alloc((size_t)(total ? total : 1) * sizeof(float));
        t->mom = calloc((size_t)np + 1, sizeof(float *));
        RETURN_IF(!t->mom_mem || !t->mom, YPR_ENOMEM, "trainer: out of memory");
        memset(t->mom_mem, 0, (size_t)(total ? total : 1) * sizeof(float));
        t->mom_floats = total;
        float *at = t->mom_mem;
        for (int k = 0; k < np; k++)
            if (!net->params[k].is_buffer) {
                t->mom[k] = at;
                at += (net->params[k].numel + 15) & ~(int64_t)15;
            }
        t->has_buf = 0;
    }
    if (t->ema_on && !t->ema)
        TRY(ypr__model_clone(m, &t->ema));
    if (!t->snap) {
        t->snap = calloc((size_t)np + 1, sizeof(float *));
        RETURN_IF(!t->snap, YPR_ENOMEM, "trainer: out of memory");
        t->nsnap = np;
        for (int k = 0; k < np; k++) {
            t->snap[k] = ypr__alloc((size_t)(net->params[k].numel + 1) * sizeof(float));
            RETURN_IF(!t->snap[k], YPR_ENOMEM, "trainer: out of memory");
        }
        ypr__trainer_snapshot(t);
    }
    return YPR_OK;
}

/* The weights a failed run leaves in the model: the EMA (or raw) weights now. */
void ypr__trainer_snapshot(ypr_trainer *t)
{
    const ypr_model *src = t->ema ? t->ema : t->model;
    for (int k = 0; t->snap && k < t->nsnap; k++)
        memcpy(t->snap[k], src->net.params[k].data,
               (size_t)src->net.params[k].numel * sizeof(float));
}

/* ------------------------------------------------------------ one batch */

static int check_finite_grads(ypr_trainer *t, int epoch, int iter)
{
    const ypr_net *net = &t->model->net;
    for (int k = 0; k < net->nparams; k++) {
        const float *g = ypr__tplan_param_grad(t->tp, k);
        if (!g)
            continue;
        float s = 0.0f;
        for (int64_t i = 0; i < net->params[k].numel; i++)
            s += g[i] * 0.0f;        /* NaN or Inf anywhere makes s NaN */
        RETURN_IF(s != 0.0f, YPR_ENONFINITE,
                  "train: epoch %d batch %d: the gradient of %s is not finite", epoch, iter,
                  net->params[k].name);
    }
    return YPR_OK;
}

/* Forward, loss (+ distillation), backward: gradients accumulate. */
int ypr__trainer_batch(ypr_trainer *t, const float *images, int n, const float *targets,
                       int64_t nt, int epoch, int iter, double items[4])
{
    ypr_model *m = t->model;
    TRY(ypr__tplan_set_batch(t->tp, n));
    TRY(ypr__tplan_forward(t->tp, images, 1));
    ypr_loss_opts lo;
    TRY(ypr__loss_opts_init(&lo, &t->hyp, &m->net, t->prepared_size));
    lo.ota = ypr__trainer_loss_kind(t);
    int nl = ypr__tplan_num_outputs(t->tp);
    const float *head[YPR_MAX_LEVELS];
    float *grad[YPR_MAX_LEVELS];
    int64_t hl[YPR_MAX_LEVELS], wl[YPR_MAX_LEVELS];
    for (int l = 0; l < nl; l++) {
        ypr_shape s;
        head[l] = ypr__tplan_output(t->tp, l, &s);
        grad[l] = ypr__tplan_output_grad(t->tp, l);
        hl[l] = s.h;
        wl[l] = s.w;
    }
    int rc = ypr__loss_run(t->loss, &lo, n, head, hl, wl, t->prepared_size, t->prepared_size,
                           targets, nt, items,
                           grad);
    if (rc == YPR_ERANGE)
        return ypr__error(YPR_ENONFINITE, "train: epoch %d batch %d: %s", epoch, iter,
                          ypr_last_error());
    TRY(rc);
    RETURN_IF(!isfinite(items[3]), YPR_ENONFINITE, "train: epoch %d batch %d: the loss is %g",
              epoch, iter, items[3]);
    if (t->teacher && t->distill > 0) {
        double kd = 0;
        TRY(ypr__distill(t, images, n, head, grad, hl, wl, &kd));
        RETURN_IF(!isfinite(kd), YPR_ENONFINITE,
                  "train: epoch %d batch %d: the distillation loss is %g", epoch, iter, kd);
        items[3] += kd;
    }
    TRY(ypr__tplan_backward(t->tp));
    TRY(check_finite_grads(t, epoch, iter));
    if (t->sparsity >= 0 && t->pruner && t->sparsity_lambda > 0) {
        /* the pruner's regularizer adds λ·∂R/∂w into the gradients, per model tensor */
        float **g = calloc((size_t)m->net.nparams + 1, sizeof(float *));
        RETURN_IF(!g, YPR_ENOMEM, "trainer: out of memory");
        for (int k = 0; k < m->net.nparams; k++)
            g[k] = ypr__tplan_param_grad(t->tp, k);
        rc = ypr_pruner_regularize(t->pruner, g, t->sparsity_lambda * n, t->sparsity);
        free(g);
        TRY(rc);
    }
    return YPR_OK;
}

/* SGD and EMA are elementwise, so any split gives the same bits: every
 * tensor is cut into chunks of UPD_CHUNK floats and the chunks of all
 * tensors are tasks over the model's pool. */
#define UPD_CHUNK 32768

typedef struct upd_job {
    ypr_trainer *t;
    const ypr_sched *s;
    double wd, decay;
    int ema;
    const int64_t *first;      /* per parameter: its first task; [nparams]: the count */
    int np;
} upd_job;

static void upd_tensor(const upd_job *j, int k, int64_t off, int64_t len)
{
    ypr_trainer *t = j->t;
    const ypr_param *pr = &t->model->net.params[k];
    if (j->ema) {
        ypr__ema_update(t->ema->net.params[k].data + off, pr->data + off, len, j->decay);
        return;
    }
    int grp = t->group[k];
    ypr__sgd_update(pr->data + off, ypr__tplan_param_grad(t->tp, k) + off,
                    t->mom[k] ? t->mom[k] + off : NULL, len, j->s->lr[grp], j->s->momentum,
                    grp == YPR_PG_DECAY ? j->wd : 0.0, t->has_buf);
}

static void upd_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const upd_job *j = ctx;
    /* the last k with first[k] <= task: it has tasks (a tensor without any
     * shares its first with the next one) */
    int lo = 0, hi = j->np - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (j->first[mid] <= task)
            lo = mid;
        else
            hi = mid - 1;
    }
    int64_t off = (task - j->first[lo]) * UPD_CHUNK, n = j->t->model->net.params[lo].numel;
    upd_tensor(j, lo, off, n - off < UPD_CHUNK ? n - off : UPD_CHUNK);
}

/* Run the update on tensors k with want(k): over the pool when the task
 * table can be had, else tensor by tensor. */
static void upd_run(upd_job *j, int (*want)(ypr_trainer *, int))
{
    ypr_trainer *t = j->t;
    int np = t->model->net.nparams;
    int64_t *first = malloc(((size_t)np + 1) * sizeof(int64_t));
    if (!first) {
        for (int k = 0; k < np; k++)
            if (want(t, k))
                upd_tensor(j, k, 0, t->model->net.params[k].numel);
        return;
    }
    int64_t n = 0;
    for (int k = 0; k < np; k++) {
        first[k] = n;
        if (want(t, k))
            n += (t->model->net.params[k].numel + UPD_CHUNK - 1) / UPD_CHUNK;
    }
    first[np] = n;
    j->first = first;
    j->np = np;
    ypr__pool_run(t->model->pool, n, upd_task, j);
    free(first);
}

static int want_sgd(ypr_trainer *t, int k)
{
    return ypr__tplan_param_grad(t->tp, k) != NULL;
}

static int want_ema(ypr_trainer *t, int k)
{
    return t->group[k] >= 0;
}

/* SGD over the groups, then the gradients are cleared. */
void ypr__trainer_sgd(ypr_trainer *t, const ypr_sched *s, double wd)
{
    upd_job j = {t, s, wd, 0.0, 0, NULL, 0};
    upd_run(&j, want_sgd);
    t->has_buf = 1;
    ypr__tplan_zero_grad(t->tp);
}

void ypr__trainer_ema(ypr_trainer *t)
{
    if (!t->ema)
        return;
    t->updates++;
    upd_job j = {t, NULL, 0.0, ypr__ema_decay(t->updates), 1, NULL, 0};
    upd_run(&j, want_ema);
    t->ema->net.version++;
}

int ypr_trainer_step(ypr_trainer *t, const float *images, int n, int size, const float *targets,
                     int64_t nt, double loss[4])
{
    RETURN_IF(!t || !images || (nt > 0 && !targets), YPR_EINVAL, "trainer: NULL argument");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: already running");
    RETURN_IF(n < 1 || n > 1024, YPR_ERANGE, "trainer: batch %d outside 1..1024", n);
    RETURN_IF(size < 32 || size % 32, YPR_ERANGE, "trainer: size %d is not a multiple of 32", size);
    if (t->raw)
        ypr__trainer_restore_raw(t);
    int batch = n;
    if (t->tp && t->prepared_size == size && t->prepared_shape == t->model->net.shape_version &&
        ypr__tplan_batch(t->tp) >= n)
        batch = (int)ypr__tplan_batch(t->tp);
    TRY(ypr__trainer_prepare(t, batch, size));
    ypr__tplan_zero_grad(t->tp);
    double items[4] = {0, 0, 0, 0};
    int rc = ypr__trainer_batch(t, images, n, targets, nt, t->epoch, 0, items);
    if (rc < 0) {
        ypr__tplan_zero_grad(t->tp);
        return rc;
    }
    /* the learning rate of the current epoch, after warm-up */
    ypr_sched s;
    ypr__sched_at(&t->hyp, (int64_t)1 << 40, 0, (int64_t)1 << 40, t->epoch, t->epochs, n,
                  t->nbs, !t->linear_lr, &s);
    ypr__trainer_sgd(t, &s, ypr__scaled_weight_decay(&t->hyp, n, t->nbs));
    t->model->net.version++;
    ypr__model_drop_plans(t->model);
    if (loss)
        memcpy(loss, items, sizeof items);
    return YPR_OK;
}
