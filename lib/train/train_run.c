/* The epoch loop of ypr_trainer_run(): train.py's order of things —
 * pruning step (when pruning while training), batches with warm-up and
 * accumulation, SGD + EMA after every `accumulate` batches, evaluation of
 * the EMA weights, results, checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/data/data.h"
#include "trainer_impl.h"

void ypr__trainer_restore_raw(ypr_trainer *t)
{
    const ypr_net *net = &t->model->net;
    if (t->raw && t->nraw == net->nparams)
        for (int k = 0; k < net->nparams; k++)
            memcpy(net->params[k].data, t->raw[k], (size_t)net->params[k].numel * sizeof(float));
    ypr__trainer_free_raw(t);
    t->model->net.version++;
    ypr__model_drop_plans(t->model);
}

/* After a finished run: the model takes the EMA weights, the raw ones wait
 * for a later run. */
static int finish(ypr_trainer *t)
{
    ypr_net *net = &t->model->net;
    if (t->ema) {
        ypr__trainer_free_raw(t);
        t->raw = calloc((size_t)net->nparams + 1, sizeof(float *));
        RETURN_IF(!t->raw, YPR_ENOMEM, "trainer: out of memory");
        t->nraw = net->nparams;
        for (int k = 0; k < net->nparams; k++) {
            t->raw[k] = ypr__alloc((size_t)(net->params[k].numel + 1) * sizeof(float));
            if (!t->raw[k]) {
                ypr__trainer_free_raw(t);
                return YPR_ENOMEM;
            }
            memcpy(t->raw[k], net->params[k].data, (size_t)net->params[k].numel * sizeof(float));
            memcpy(net->params[k].data, t->ema->net.params[k].data,
                   (size_t)net->params[k].numel * sizeof(float));
        }
    }
    net->version++;
    ypr__model_drop_plans(t->model);
    return YPR_OK;
}

/* After a failure: the weights of the last completed epoch. */
static void fall_back(ypr_trainer *t)
{
    ypr_net *net = &t->model->net;
    if (t->snap && t->nsnap == net->nparams)
        for (int k = 0; k < net->nparams; k++)
            memcpy(net->params[k].data, t->snap[k], (size_t)net->params[k].numel * sizeof(float));
    if (t->tp)
        ypr__tplan_zero_grad(t->tp);
    t->has_buf = 0;
    net->version++;
    ypr__model_drop_plans(t->model);
}

static int evaluate(ypr_trainer *t, ypr_epoch_result *r)
{
    ypr_model *m = t->ema ? t->ema : t->model;
    ypr__model_drop_plans(m);
    m->net.version++;
    ypr_evaluator *e;
    TRY(ypr_evaluator_create(m, t->val, &e));
    int rc = ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, t->size);
    if (rc == YPR_OK)   /* train.py calls test.test() with its default NMS IoU, 0.6 */
        rc = ypr_evaluator_set_float(e, YPR_EVAL_IOU_THRESHOLD, 0.6);
    if (rc == YPR_OK && t->eval_images > 0)
        rc = ypr_evaluator_set_int(e, YPR_EVAL_MAX_IMAGES, t->eval_images);
    if (rc == YPR_OK)
        rc = ypr_evaluator_run(e);
    if (rc == YPR_OK) {
        ypr_evaluator_get(e, -1, YPR_EVAL_P, &r->p);
        ypr_evaluator_get(e, -1, YPR_EVAL_R, &r->r);
        ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, &r->map50);
        ypr_evaluator_get(e, -1, YPR_EVAL_MAP, &r->map);
    }
    ypr_evaluator_free(e);
    ypr__model_drop_plans(m);
    return rc;
}

static int push_result(ypr_trainer *t, const ypr_epoch_result *r)
{
    if (t->nresults == t->results_cap) {
        int cap = t->results_cap ? 2 * t->results_cap : 16;
        ypr_epoch_result *n = realloc(t->results, (size_t)cap * sizeof *n);
        RETURN_IF(!n, YPR_ENOMEM, "trainer: out of memory");
        t->results = n;
        t->results_cap = cap;
    }
    t->results[t->nresults++] = *r;
    return YPR_OK;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int write_outputs(ypr_trainer *t, int best)
{
    if (!t->outdir)
        return YPR_OK;
    const char *names[4] = {"last.safetensors", "best.safetensors", "results.csv", "results.png"};
    char *paths[4];
    for (int i = 0; i < 4; i++)
        paths[i] = join(t->outdir, names[i]);
    int rc = paths[0] && paths[1] && paths[2] && paths[3]
                 ? YPR_OK : ypr__error(YPR_ENOMEM, "trainer: out of memory");
    if (rc == YPR_OK)
        rc = ypr__trainer_save(t, paths[0]);
    if (rc == YPR_OK && best)
        rc = ypr__trainer_save(t, paths[1]);
    if (rc == YPR_OK)
        rc = ypr__results_csv(paths[2], t->results, t->nresults);
    if (rc == YPR_OK)
        rc = ypr__results_png(paths[3], t->results, t->nresults);
    for (int i = 0; i < 4; i++)
        free(paths[i]);
    return rc;
}

/* Taylor scores want gradients of real batches: hand the pruner each step's. */
static int feed_pruner(ypr_trainer *t)
{
    const ypr_net *net = &t->model->net;
    for (int k = 0; k < net->nparams; k++) {
        const float *g = ypr__tplan_param_grad(t->tp, k);
        if (g)
            TRY(ypr_pruner_add_gradient(t->pruner, k, g, net->params[k].numel));
    }
    return YPR_OK;
}

static int prune_step(ypr_trainer *t)
{
    ypr__log(YPR_LOG_INFO, "train: pruning step %d of %d before epoch %d", t->prunes_done + 1,
             t->prune_steps, t->epoch);
    int64_t before = ypr__net_num_params(&t->model->net);
    TRY(ypr_pruner_step(t->pruner));
    ypr_pruner_clear_gradients(t->pruner);
    t->prunes_done++;
    ypr__log(YPR_LOG_INFO, "train: %lld → %lld parameters", (long long)before,
             (long long)ypr__net_num_params(&t->model->net));
    ypr__model_drop_plans(t->model);
    return ypr__trainer_prepare(t, t->batch, t->size);   /* the net changed shape */
}

static int run_epoch(ypr_trainer *t, ypr_loader *ld, int nb, int64_t nw, double wd)
{
    int epoch = t->epoch;
    double t0 = ypr__now(), sums[4] = {0, 0, 0, 0};
    int64_t images = 0;
    ypr_epoch_result r;
    memset(&r, 0, sizeof r);
    r.epoch = epoch;
    r.p = r.r = r.map50 = r.map = r.val_box = r.val_obj = r.val_cls = NAN;
    TRY(ypr__loader_start(ld, epoch, 0));
    for (int i = 0; i < nb; i++) {
        ypr_batch b;
        int rc = ypr__loader_next(ld, &b);
        if (rc == YPR_ENOTFOUND)
            break;
        TRY(rc);
        int64_t ni = (int64_t)i + (int64_t)nb * epoch;
        ypr_sched s;
        ypr__sched_at(&t->hyp, ni, nw, nb, epoch, t->epochs, t->batch, t->nbs, !t->linear_lr, &s);
        double items[4];
        TRY(ypr__trainer_batch(t, b.images, b.n, b.targets, b.nt, epoch, i, items));
        if (ni % (s.accumulate > 0 ? s.accumulate : 1) == 0) {
            if (t->pruner && t->prunes_done < t->prune_steps)
                TRY(feed_pruner(t));
            ypr__trainer_sgd(t, &s, wd);
            ypr__trainer_ema(t);
        }
        images += b.n;
        for (int k = 0; k < 4; k++)   /* train.py's running means: (m·i + x)/(i + 1) */
            sums[k] = (sums[k] * i + items[k] / (k == 3 ? b.n : 1)) / (i + 1);
        memcpy(r.lr, s.lr, sizeof r.lr);
        double el = ypr__now() - t0;
        r.images_per_second = el > 0 ? (double)images / el : 0;
        if (t->cb) {
            double v[YPR_TV_COUNT_];
            for (int k = 0; k < YPR_TV_COUNT_; k++)
                v[k] = NAN;
            v[YPR_TV_BOX] = sums[0];
            v[YPR_TV_OBJ] = sums[1];
            v[YPR_TV_CLS] = sums[2];
            v[YPR_TV_TOTAL] = sums[3];
            v[YPR_TV_LR] = s.lr[YPR_PG_DECAY];
            v[YPR_TV_IMAGES_PER_SEC] = r.images_per_second;
            v[YPR_TV_SECONDS] = el;
            RETURN_IF(t->cb(t->cb_user, epoch, t->epochs, i, nb, v) != 0, YPR_ECANCELED,
                      "train: canceled by the callback at epoch %d batch %d", epoch, i);
        }
    }
    r.box = sums[0];
    r.obj = sums[1];
    r.cls = sums[2];
    r.total = sums[3];
    r.seconds = ypr__now() - t0;
    if (t->eval_on && t->val)
        TRY(evaluate(t, &r));
    TRY(push_result(t, &r));
    int best = 0;
    if (!isnan(r.map50)) {
        double f = ypr__fitness(&r);
        if (f > t->best_fitness) {
            t->best_fitness = f;
            best = 1;
        }
    }
    t->epoch = epoch + 1;
    ypr__trainer_snapshot(t);
    if (t->cb) {
        double v[YPR_TV_COUNT_];
        for (int k = 0; k < YPR_TV_COUNT_; k++)
            v[k] = ypr__result_value(&r, k);
        RETURN_IF(t->cb(t->cb_user, epoch, t->epochs, nb, nb, v) != 0, YPR_ECANCELED,
                  "train: canceled by the callback after epoch %d", epoch);
    }
    return write_outputs(t, best || (!t->eval_on && t->epoch == t->epochs));
}

static int run_epochs(ypr_trainer *t)
{
    ypr_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = t->batch;
    o.size = t->size;
    o.augment = t->augment;
    o.aug = (ypr_aug_cfg){(float)t->hyp.hsv_h, (float)t->hyp.hsv_s, (float)t->hyp.hsv_v,
                          (float)t->hyp.degrees, (float)t->hyp.translate, (float)t->hyp.scale,
                          (float)t->hyp.shear, (float)t->hyp.perspective, (float)t->hyp.flipud,
                          (float)t->hyp.fliplr, (float)t->hyp.mosaic, (float)t->hyp.mixup};
    o.workers = t->workers;
    o.seed = t->seed;
    o.shuffle = 1;
    ypr_loader *ld;
    TRY(ypr__loader_create(t->train, &o, &ld));
    int nb = ypr__loader_num_batches(ld);
    /* train.py's warm-up; warmup_epochs 0 turns it off (train.py cannot: its
     * rule is at least 1000 iterations) */
    int64_t nw = t->hyp.warmup_epochs > 0 ? ypr__warmup_iters(&t->hyp, nb) : 0;
    double wd = ypr__scaled_weight_decay(&t->hyp, t->batch, t->nbs);
    int rc = ypr__trainer_prepare(t, t->batch, t->size);
    while (rc == YPR_OK && t->epoch < t->epochs) {
        if (t->pruner && t->prunes_done < t->prune_steps &&
            t->epoch >= (t->prunes_done + 1) * t->prune_every)
            rc = prune_step(t);
        if (rc == YPR_OK)
            rc = run_epoch(t, ld, nb, nw, wd);
    }
    ypr__loader_free(ld);
    return rc;
}

int ypr_trainer_run(ypr_trainer *t)
{
    RETURN_IF(!t, YPR_EINVAL, "trainer: NULL handle");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: already running");
    RETURN_IF(t->prune_steps > t->prunes_done && !t->pruner, YPR_ESTATE,
              "trainer: %d pruning steps asked for but no pruner set",
              t->prune_steps - t->prunes_done);
    RETURN_IF(t->prune_steps > 0 && t->prune_steps * t->prune_every >= t->epochs, YPR_ERANGE,
              "trainer: %d pruning steps every %d epochs need more than %d epochs",
              t->prune_steps, t->prune_every, t->prune_steps * t->prune_every);
    RETURN_IF(t->sparsity >= 0 && !t->pruner, YPR_ESTATE,
              "trainer: sparse training needs a pruner (its groups): ypr_trainer_set_pruner");
    TRY(ypr__trainer_restore_pruner(t));
    if (t->raw)
        ypr__trainer_restore_raw(t);
    t->running = 1;
    int rc = run_epochs(t);
    t->running = 0;
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ypr_last_error());
        fall_back(t);
        return ypr__error(rc, "%s", msg);
    }
    return finish(t);
}
