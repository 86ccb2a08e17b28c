/* Trainer checkpoints: our safetensors checkpoint (it loads as a model with
 * ypr_model_load: the EMA weights, as YOLOv7's attempt_load prefers) plus
 * the trainer's state under "train.": the raw weights, SGD momentum, the
 * gradients accumulated toward the next step, and a JSON record of
 * epoch, EMA updates, best fitness, results, hyper-parameters and settings
 * (doubles written so they read back exactly). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "trainer_impl.h"

#define STATE_VERSION 1

static const char *const kinds[4] = {"train.raw.", "train.momentum.", "train.grad.",
                                     "train.prune_grad."};

/* The pruner's state goes into the checkpoint while it still has work: steps
 * to take, or groups for sparse training. */
static int pruner_active(const ypr_trainer *t)
{
    return t->pruner && (t->prunes_done < t->prune_steps || t->sparsity >= 0);
}

static void put_results(ypr_strbuf *sb, const ypr_trainer *t)
{
    ypr__sb_puts(sb, "[");
    for (int i = 0; i < t->nresults; i++) {
        const ypr_epoch_result *r = &t->results[i];
        double v[] = {r->box, r->obj, r->cls, r->total, r->p, r->r, r->map50, r->map,
                      r->val_box, r->val_obj, r->val_cls, r->lr[0], r->lr[1], r->lr[2],
                      r->seconds, r->images_per_second};
        ypr__sb_printf(sb, "%s[%d", i ? "," : "", r->epoch);
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            ypr__sb_puts(sb, ",");
            ypr__sb_json_double(sb, v[k]);
        }
        ypr__sb_puts(sb, "]");
    }
    ypr__sb_puts(sb, "]");
}

static int grads_pending(const ypr_trainer *t)
{
    const ypr_net *net = &t->model->net;
    for (int k = 0; t->tp && k < net->nparams; k++) {
        const float *g = ypr__tplan_param_grad(t->tp, k);
        for (int64_t i = 0; g && i < net->params[k].numel; i++)
            if (g[i] != 0.0f)
                return 1;
    }
    return 0;
}

int ypr__trainer_save(ypr_trainer *t, const char *path)
{
    const ypr_net *net = &t->model->net;
    int np = net->nparams, pending = grads_pending(t);
    int with_pruner = pruner_active(t);
    ypr_st_entry *ex = calloc((size_t)4 * np + 1, sizeof *ex);
    char **names = calloc((size_t)4 * np + 1, sizeof(char *));
    const float **data = calloc((size_t)np + 1, sizeof(float *));
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    int rc = YPR_OK;
    size_t n = 0;
    if (!ex || !names || !data)
        rc = ypr__error(YPR_ENOMEM, "trainer: out of memory");
    for (int k = 0; rc == YPR_OK && k < np; k++) {
        const ypr_param *p = &net->params[k];
        data[k] = t->ema ? t->ema->net.params[k].data : p->data;
        const float *pg = NULL;
        if (with_pruner)
            ypr_pruner_gradient(t->pruner, k, &pg);
        const float *src[4] = {t->ema ? p->data : NULL,
                               t->has_buf && t->mom ? t->mom[k] : NULL,
                               pending ? ypr__tplan_param_grad(t->tp, k) : NULL, pg};
        for (int s = 0; s < 4; s++) {
            if (!src[s])
                continue;
            size_t len = strlen(kinds[s]) + strlen(p->name) + 1;
            names[n] = malloc(len);
            if (!names[n]) {
                rc = ypr__error(YPR_ENOMEM, "trainer: out of memory");
                break;
            }
            snprintf(names[n], len, "%s%s", kinds[s], p->name);
            ex[n] = (ypr_st_entry){names[n], YPR_DT_F32, p->ndim, p->shape, src[s]};
            n++;
        }
    }
    if (rc == YPR_OK) {
        ypr__sb_printf(&sb, "{\"version\":%d,\"epoch\":%d,\"updates\":%lld,\"has_buf\":%d,"
                       "\"prunes_done\":%d,\"best_fitness\":", STATE_VERSION, t->epoch,
                       (long long)t->updates, t->has_buf, t->prunes_done);
        ypr__sb_json_double(&sb, t->best_fitness);
        ypr__sb_printf(&sb, ",\"settings\":{\"epochs\":%d,\"batch\":%d,\"size\":%d,\"seed\":"
                       "%lld,\"loss\":%d,\"linear_lr\":%d,\"ema\":%d,\"eval\":%d,\"nbs\":%d,"
                       "\"freeze\":%d,\"augment\":%d,\"eval_images\":%d,\"sparsity\":%d,"
                       "\"prune_steps\":%d,\"prune_every\":%d,\"sparsity_lambda\":",
                       t->epochs, t->batch, t->size, (long long)t->seed, t->loss_kind,
                       t->linear_lr, t->ema_on, t->eval_on, t->nbs, t->freeze, t->augment,
                       t->eval_images, t->sparsity, t->prune_steps, t->prune_every);
        ypr__sb_json_double(&sb, t->sparsity_lambda);
        ypr__sb_puts(&sb, ",\"distill\":");
        ypr__sb_json_double(&sb, t->distill);
        ypr__sb_puts(&sb, "},\"hyp\":{");
        for (int i = 0; i < ypr__hyp_count(); i++) {
            double v = 0;
            ypr__hyp_get(&t->hyp, ypr__hyp_key(i), &v);
            ypr__sb_printf(&sb, "%s", i ? "," : "");
            ypr__sb_json_str(&sb, ypr__hyp_key(i));
            ypr__sb_puts(&sb, ":");
            ypr__sb_json_double(&sb, v);
        }
        ypr__sb_puts(&sb, "},\"results\":");
        put_results(&sb, t);
        ypr__sb_puts(&sb, "}");
        if (sb.failed)
            rc = ypr__error(YPR_ENOMEM, "trainer: out of memory");
    }
    char *pstate = NULL;   /* the pruner's own state, beside the trainer's */
    if (rc == YPR_OK && with_pruner)
        rc = ypr_pruner_save_state(t->pruner, &pstate);
    if (rc == YPR_OK) {
        const char *meta[4] = {"train", sb.data, "train.pruner", pstate};
        rc = ypr__model_save_ext(t->model, path, data, ex, n, meta, pstate ? 2 : 1);
    }
    ypr_free(pstate);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(ex);
    free(data);
    ypr__sb_free(&sb);
    return rc;
}

/* ------------------------------------------------------------ resume */

static int jint_of(const ypr_json *o, const char *key, int64_t lo, int64_t hi, int64_t *v,
                   const char *path)
{
    const ypr_json *j = ypr__json_get(o, key);
    RETURN_IF(!j || ypr__json_int(j, v) < 0 || *v < lo || *v > hi, YPR_EFORMAT,
              "%s: trainer state: '%s' missing or outside %lld..%lld", path, key, (long long)lo,
              (long long)hi);
    return YPR_OK;
}

static double jnum_of(const ypr_json *o, const char *key)
{
    const ypr_json *j = ypr__json_get(o, key);
    return j && ypr__json_type(j) == YPR_JSON_NUMBER ? ypr__json_num(j) : NAN;
}

/* Everything read and checked into `s` (a copy of the trainer's settings)
 * before anything of the trainer changes. */
static int read_state(ypr_trainer *s, const ypr_json *j, const char *path)
{
    int64_t v;
    TRY(jint_of(j, "version", STATE_VERSION, STATE_VERSION, &v, path));
    TRY(jint_of(j, "epoch", 0, 100000, &v, path));
    s->epoch = (int)v;
    TRY(jint_of(j, "updates", 0, INT64_MAX, &v, path));
    s->updates = v;
    TRY(jint_of(j, "has_buf", 0, 1, &v, path));
    s->has_buf = (int)v;
    TRY(jint_of(j, "prunes_done", 0, 1000, &v, path));
    s->prunes_done = (int)v;
    s->best_fitness = jnum_of(j, "best_fitness");
    if (isnan(s->best_fitness))
        s->best_fitness = -1.0;
    const ypr_json *st = ypr__json_get(j, "settings");
    RETURN_IF(!st || ypr__json_type(st) != YPR_JSON_OBJECT, YPR_EFORMAT,
              "%s: trainer state has no settings", path);
    struct { const char *key; int64_t lo, hi; int *dst; } ints[] = {
        {"epochs", 1, 100000, &s->epochs}, {"batch", 1, 1024, &s->batch},
        {"size", 32, 8192, &s->size}, {"loss", -1, 1, &s->loss_kind},
        {"linear_lr", 0, 1, &s->linear_lr}, {"ema", 0, 1, &s->ema_on},
        {"eval", 0, 1, &s->eval_on}, {"nbs", 1, 1 << 20, &s->nbs},
        {"freeze", 0, 1 << 20, &s->freeze}, {"augment", 0, 1, &s->augment},
        {"eval_images", 0, 1 << 30, &s->eval_images}, {"sparsity", -1, 1, &s->sparsity},
        {"prune_steps", 0, 1000, &s->prune_steps}, {"prune_every", 1, 100000, &s->prune_every},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        TRY(jint_of(st, ints[i].key, ints[i].lo, ints[i].hi, &v, path));
        *ints[i].dst = (int)v;
    }
    RETURN_IF(s->size % 32, YPR_EFORMAT, "%s: trainer state: size %d", path, s->size);
    TRY(jint_of(st, "seed", INT64_MIN, INT64_MAX, &v, path));
    s->seed = (uint64_t)v;
    s->sparsity_lambda = jnum_of(st, "sparsity_lambda");
    s->distill = jnum_of(st, "distill");
    RETURN_IF(!(s->sparsity_lambda >= 0) || !(s->distill >= 0), YPR_EFORMAT,
              "%s: trainer state: bad sparsity_lambda or distill", path);
    const ypr_json *h = ypr__json_get(j, "hyp");
    RETURN_IF(!h || ypr__json_type(h) != YPR_JSON_OBJECT, YPR_EFORMAT,
              "%s: trainer state has no hyper-parameters", path);
    for (size_t i = 0; i < ypr__json_len(h); i++) {
        const ypr_json *x = ypr__json_at(h, i);
        RETURN_IF(ypr__json_type(x) != YPR_JSON_NUMBER, YPR_EFORMAT,
                  "%s: hyper-parameter %s is not a number", path, ypr__json_key_at(h, i));
        int rc = ypr__hyp_set(&s->hyp, ypr__json_key_at(h, i), ypr__json_num(x));
        RETURN_IF(rc < 0, YPR_EFORMAT, "%s: hyper-parameter %s: %s", path,
                  ypr__json_key_at(h, i), ypr_last_error());
    }
    const ypr_json *res = ypr__json_get(j, "results");
    size_t nr = res ? ypr__json_len(res) : 0;
    RETURN_IF(!res || ypr__json_type(res) != YPR_JSON_ARRAY || nr != (size_t)s->epoch,
              YPR_EFORMAT, "%s: trainer state: %zu results for %d epochs", path, nr, s->epoch);
    s->results = nr ? calloc(nr, sizeof *s->results) : NULL;
    RETURN_IF(nr && !s->results, YPR_ENOMEM, "trainer: out of memory");
    s->nresults = s->results_cap = (int)nr;
    for (size_t i = 0; i < nr; i++) {
        const ypr_json *row = ypr__json_at(res, i);
        RETURN_IF(ypr__json_type(row) != YPR_JSON_ARRAY || ypr__json_len(row) != 17,
                  YPR_EFORMAT, "%s: trainer state: result %zu malformed", path, i);
        double x[17];
        for (int k = 0; k < 17; k++) {
            const ypr_json *e = ypr__json_at(row, (size_t)k);
            x[k] = ypr__json_type(e) == YPR_JSON_NUMBER ? ypr__json_num(e) : NAN;
        }
        ypr_epoch_result *r = &s->results[i];
        r->epoch = (int)x[0];
        r->box = x[1]; r->obj = x[2]; r->cls = x[3]; r->total = x[4];
        r->p = x[5]; r->r = x[6]; r->map50 = x[7]; r->map = x[8];
        r->val_box = x[9]; r->val_obj = x[10]; r->val_cls = x[11];
        r->lr[0] = x[12]; r->lr[1] = x[13]; r->lr[2] = x[14];
        r->seconds = x[15]; r->images_per_second = x[16];
    }
    return YPR_OK;
}

/* The trainer's own tensors (prefix "train.…") are F32; the model's
 * (prefix "") may also be I8 / I32, as ypr_model_save writes a quantized
 * tensor that training has not moved off its grid (a frozen layer of a
 * quantization-aware run, a run without EMA). */
static int check_tensor(const ypr_safetensors *st, const ypr_param *p, const char *prefix,
                        const char *path, int required, const ypr_st_tensor **out)
{
    char name[YPR_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const ypr_st_tensor *x = ypr__st_find(st, name);
    *out = x;
    if (!x) {
        RETURN_IF(required, YPR_EFORMAT, "%s: tensor %s is missing", path, name);
        return YPR_OK;
    }
    int quantized = x->dtype == YPR_DT_I8 || x->dtype == YPR_DT_I32;
    RETURN_IF(x->dtype != YPR_DT_F32 && !(quantized && !*prefix), YPR_EFORMAT,
              "%s: tensor %s: a trainer checkpoint holds it as F32%s", path, name,
              *prefix ? "" : ", I8 or I32");
    int same = x->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++)
        same = x->shape[d] == p->shape[d];
    RETURN_IF(!same, YPR_ESHAPE, "%s: tensor %s does not match the model's %s (another net?)",
              path, name, p->name);
    return YPR_OK;
}

/* The quantization steps of the checkpoint's net description ("aq", "wq",
 * "bq" of each node: [scale, …]) against the trainer's model: a
 * quantization-aware run resumes on a model with the same steps (its own,
 * as ypr_model_load() of the checkpoint gives), a float run on a float
 * model — never the one as the other. */
static int check_steps(const ypr_safetensors *st, const ypr_net *net, const char *path)
{
    const char *desc = ypr__st_meta(st, "net");
    if (!desc)
        return YPR_OK;   /* a checkpoint without a net description: shapes only */
    ypr_json *j;
    TRY(ypr__json_parse(desc, strlen(desc), path, &j));
    static const char *const keys[3] = {"aq", "wq", "bq"};
    int rc = YPR_OK, file_steps = 0, model_steps = 0;
    for (size_t i = 0; i < ypr__json_len(j); i++)
        for (int k = 0; k < 3; k++)
            file_steps |= ypr__json_get(ypr__json_at(j, i), keys[k]) != NULL;
    for (int i = 0; i < net->nnodes; i++)
        model_steps |= net->nodes[i].aq.scale > 0 || net->nodes[i].wq.scale > 0 ||
                       net->nodes[i].bq.scale > 0;
    if (!file_steps && !model_steps) {
        ypr__json_free(j);
        return YPR_OK;   /* float on float: the tensors' shapes decide */
    }
    if (ypr__json_type(j) != YPR_JSON_ARRAY || ypr__json_len(j) != (size_t)net->nnodes)
        rc = ypr__error(YPR_ESHAPE, "%s: the checkpoint's net has %zu nodes, the model %d "
                        "(another net?)", path, ypr__json_len(j), net->nnodes);
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        const ypr_qparam *mine[3] = {&nd->aq, &nd->wq, &nd->bq};
        for (int k = 0; rc == YPR_OK && k < 3; k++) {
            const ypr_json *q = ypr__json_get(ypr__json_at(j, (size_t)i), keys[k]);
            const ypr_json *sc = ypr__json_type(q) == YPR_JSON_ARRAY ? ypr__json_at(q, 0) : NULL;
            float file = ypr__json_type(sc) == YPR_JSON_NUMBER ? (float)ypr__json_num(sc) : 0.0f;
            float have = mine[k]->scale > 0 ? mine[k]->scale : 0.0f;
            if (file == have)
                continue;
            if (!(have > 0))
                rc = ypr__error(YPR_ESHAPE, "%s: a quantization-aware run (node %s has a %s "
                                "step) resumes on its quantized model (ypr_model_load of the "
                                "checkpoint), not on a float one", path, nd->name, keys[k]);
            else if (!(file > 0))
                rc = ypr__error(YPR_ESHAPE, "%s: the checkpoint's run was not quantization-"
                                "aware, the model is quantized (node %s has a %s step)", path,
                                nd->name, keys[k]);
            else
                rc = ypr__error(YPR_ESHAPE, "%s: node %s: %s step %g in the checkpoint, %g in "
                                "the model (another quantization)", path, nd->name, keys[k],
                                (double)file, (double)have);
        }
    }
    ypr__json_free(j);
    return rc;
}

/* The model's quantized tensors of the checkpoint, read and checked (float
 * view, integers, scales, zero points) before anything changes: qd[k] NULL
 * where tensor k is F32. */
typedef struct qtensors {
    float **qd;
    ypr_param *qp;
} qtensors;

static int read_quantized(const ypr_net *net, const ypr_safetensors *st,
                          const ypr_st_tensor *const *tt, const char *path, qtensors *q)
{
    q->qd = calloc((size_t)net->nparams + 1, sizeof *q->qd);
    q->qp = calloc((size_t)net->nparams + 1, sizeof *q->qp);
    RETURN_IF(!q->qd || !q->qp, YPR_ENOMEM, "trainer: out of memory");
    for (int k = 0; k < net->nparams; k++) {
        const ypr_st_tensor *x = tt[4 * k];
        if (x->dtype != YPR_DT_I8 && x->dtype != YPR_DT_I32)
            continue;
        const ypr_param *p = &net->params[k];
        q->qd[k] = malloc((size_t)(p->numel ? p->numel : 1) * sizeof(float));
        RETURN_IF(!q->qd[k], YPR_ENOMEM, "trainer: out of memory");
        TRY(ypr__model_read_tensor(net, k, st, x, path, q->qd[k], &q->qp[k]));
        q->qp[k].numel = p->numel;   /* what ypr__param_copy_q copies */
        memcpy(q->qp[k].name, p->name, sizeof p->name);
    }
    return YPR_OK;
}

static void free_quantized(const ypr_net *net, qtensors *q)
{
    for (int k = 0; q->qd && k < net->nparams; k++) {
        free(q->qd[k]);
        ypr__param_drop_q(&q->qp[k]);
    }
    free(q->qd);
    free(q->qp);
}

/* Tensor k of the checkpoint's model into p: a quantized one with its
 * dtype, scales and zero points (moved out of q when `take`, else copied). */
static int put_model_tensor(ypr_param *p, int k, const ypr_st_tensor *x, qtensors *q, int take)
{
    if (!q->qd[k])
        return ypr__st_to_f32(x, p->data);
    if (!take)
        TRY(ypr__param_copy_q(p, &q->qp[k]));
    memcpy(p->data, q->qd[k], (size_t)p->numel * sizeof(float));
    if (take) {
        ypr_param *from = &q->qp[k];
        ypr__param_drop_q(p);
        p->dtype = from->dtype;
        p->q = from->q;
        p->nscales = from->nscales;
        p->scales = from->scales;
        p->zeros = from->zeros;
        memset(from, 0, sizeof *from);   /* F32, nothing owned */
    }
    return YPR_OK;
}

int ypr_trainer_resume(ypr_trainer *t, const char *path)
{
    RETURN_IF(!t || !path, YPR_EINVAL, "trainer: NULL argument");
    RETURN_IF(t->running, YPR_ESTATE, "trainer: already running");
    ypr_safetensors *st;
    TRY(ypr__st_open(path, &st));
    const char *meta = ypr__st_meta(st, "train");
    int rc = YPR_OK;
    ypr_json *j = NULL;
    ypr_trainer s = *t;          /* the settings the checkpoint will set */
    s.results = NULL;
    if (!meta)
        rc = ypr__error(YPR_EFORMAT, "%s: not a trainer checkpoint (no trainer state)", path);
    if (rc == YPR_OK)
        rc = ypr__json_parse(meta, strlen(meta), path, &j);
    if (rc == YPR_OK)
        rc = read_state(&s, j, path);
    const char *pmeta = ypr__st_meta(st, "train.pruner");
    int has_pruner = rc == YPR_OK && pmeta != NULL;
    ypr__json_free(j);
    /* the same kind of run (steps), then every tensor present with the
     * model's shapes, before anything changes */
    const ypr_net *net = &t->model->net;
    if (rc == YPR_OK)
        rc = check_steps(st, net, path);
    const ypr_st_tensor **tt = calloc((size_t)net->nparams * 5 + 1, sizeof *tt);
    const ypr_st_tensor **pg = tt ? tt + (size_t)net->nparams * 4 : NULL;
    if (rc == YPR_OK && !tt)
        rc = ypr__error(YPR_ENOMEM, "trainer: out of memory");
    for (int k = 0; rc == YPR_OK && has_pruner && k < net->nparams; k++)
        rc = check_tensor(st, &net->params[k], kinds[3], path, 0, &pg[k]);
    char *prune_meta = rc == YPR_OK && has_pruner ? strdup(pmeta) : NULL;
    float **prune_grads = rc == YPR_OK && has_pruner ?
                          calloc((size_t)net->nparams + 1, sizeof *prune_grads) : NULL;
    if (has_pruner && rc == YPR_OK && (!prune_meta || !prune_grads))
        rc = ypr__error(YPR_ENOMEM, "trainer: out of memory");
    for (int k = 0; rc == YPR_OK && has_pruner && k < net->nparams; k++) {
        if (!pg[k])
            continue;
        prune_grads[k] = malloc((size_t)net->params[k].numel * sizeof(float));
        rc = prune_grads[k] ? ypr__st_to_f32(pg[k], prune_grads[k])
                            : ypr__error(YPR_ENOMEM, "trainer: out of memory");
    }
    for (int k = 0; rc == YPR_OK && k < net->nparams; k++) {
        rc = check_tensor(st, &net->params[k], "", path, 1, &tt[4 * k]);
        for (int q = 0; rc == YPR_OK && q < 3; q++) {
            int need = (q == 0 && s.ema_on) ||
                       (q == 1 && s.has_buf && !net->params[k].is_buffer);
            rc = check_tensor(st, &net->params[k], kinds[q], path, need, &tt[4 * k + 1 + q]);
        }
        if (rc == YPR_OK && net->params[k].is_buffer)
            tt[4 * k + 2] = tt[4 * k + 3] = NULL;
    }
    qtensors qt = {NULL, NULL};
    if (rc == YPR_OK)
        rc = read_quantized(net, st, tt, path, &qt);
    if (rc == YPR_OK) {
        /* apply: settings, then a fresh state sized for the net, then the tensors */
        free(t->results);
        ypr_trainer keep = *t;
        *t = s;
        t->tp = keep.tp; t->loss = keep.loss; t->mom_mem = keep.mom_mem; t->mom = keep.mom;
        t->group = keep.group; t->frozen = keep.frozen; t->ema = keep.ema; t->snap = keep.snap;
        t->nsnap = keep.nsnap; t->raw = keep.raw; t->nraw = keep.nraw;
        t->distill_grad = keep.distill_grad;
        t->prune_meta = keep.prune_meta; t->prune_grads = keep.prune_grads;
        ypr__trainer_free_prune_state(t);
        t->prune_meta = prune_meta;
        t->prune_grads = prune_grads;
        prune_meta = NULL;
        prune_grads = NULL;
        ypr__trainer_free_raw(t);
        ypr__trainer_release(t);
        rc = ypr__trainer_prepare(t, t->batch, t->size);
        for (int k = 0; rc == YPR_OK && k < net->nparams; k++) {
            /* the model's tensor (the EMA's when there is one: the raw
             * weights are then the trainer's) keeps the file's dtype,
             * scales and zero points */
            ypr_param *p = &t->model->net.params[k];
            if (!t->ema)
                rc = put_model_tensor(p, k, tt[4 * k], &qt, 1);
            else if (tt[4 * k + 1])
                rc = ypr__st_to_f32(tt[4 * k + 1], p->data);
            else
                rc = put_model_tensor(p, k, tt[4 * k], &qt, 0);
            if (rc == YPR_OK && t->ema)
                rc = put_model_tensor(&t->ema->net.params[k], k, tt[4 * k], &qt, 1);
            if (rc == YPR_OK && tt[4 * k + 2] && t->mom[k])
                rc = ypr__st_to_f32(tt[4 * k + 2], t->mom[k]);
            float *g = ypr__tplan_param_grad(t->tp, k);
            if (rc == YPR_OK && tt[4 * k + 3] && g)
                rc = ypr__st_to_f32(tt[4 * k + 3], g);
        }
        t->has_buf = s.has_buf;
        if (rc == YPR_OK) {
            t->model->net.version++;
            if (t->ema)
                t->ema->net.version++;
            ypr__model_drop_plans(t->model);
            ypr__trainer_snapshot(t);
        }
    } else {
        free(s.results);
    }
    for (int k = 0; prune_grads && k < net->nparams; k++)
        free(prune_grads[k]);
    free(prune_grads);
    free(prune_meta);
    free_quantized(net, &qt);
    free(tt);
    ypr__st_close(st);
    return rc;
}

void ypr__trainer_free_prune_state(ypr_trainer *t)
{
    for (int k = 0; t->prune_grads && k < t->model->net.nparams; k++)
        free(t->prune_grads[k]);
    free(t->prune_grads);
    free(t->prune_meta);
    t->prune_grads = NULL;
    t->prune_meta = NULL;
}

/* At the start of a resumed run: the checkpoint's pruner state into the
 * pruner set now (built on the model as it is), with the gradients it had
 * accumulated; then the kept state is dropped. */
int ypr__trainer_restore_pruner(ypr_trainer *t)
{
    if (!t->prune_meta)
        return YPR_OK;
    RETURN_IF(!t->pruner, YPR_ESTATE, "trainer: the resumed run used a pruner (pruning "
              "steps to take or sparse training): set one on the model with "
              "ypr_trainer_set_pruner (its settings come from the checkpoint)");
    int rc = ypr_pruner_load_state(t->pruner, t->prune_meta);
    if (rc == YPR_OK)
        rc = ypr_pruner_clear_gradients(t->pruner);
    const ypr_net *net = &t->model->net;
    for (int k = 0; rc == YPR_OK && k < net->nparams; k++)
        if (t->prune_grads[k])
            rc = ypr_pruner_add_gradient(t->pruner, k, t->prune_grads[k], net->params[k].numel);
    if (rc == YPR_OK)
        ypr__trainer_free_prune_state(t);
    return rc;
}
