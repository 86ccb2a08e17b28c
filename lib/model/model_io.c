/* Weights and checkpoints. A PyTorch state_dict saved as safetensors loads
 * into a cfg-built model by name, with no renaming; our own checkpoint is a
 * safetensors file whose metadata also carries the net description, so a
 * model whose channel counts match no cfg (a pruned one) loads back exactly.
 *
 * Metadata keys: "format" = "libyolopr", "format_version" = "1", "net" = the
 * JSON node list, "nc", "names" (JSON array), "input_size". Each node records
 * its cfg "module" (since 0.1; older checkpoints: derived from the tensor
 * names, as the cfg expansion gives them) and, when quantized, its steps
 * "aq", "wq", "bq" = [scale, zero, qmin, qmax, round, per_channel].
 *
 * Everything read is validated before the model is touched: shapes, finite
 * values, BatchNorm running variances ≥ 0, anchors > 0, strides > 0, the
 * node attributes (ypr__net_validate) and the format version. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/* Values a net cannot run with: NaN or ±Inf anywhere, a negative BatchNorm
 * running variance, anchors that are not positive. `data[i]` holds the
 * values of net->params[i]. */
static int check_values(const ypr_net *net, const float *const *data, const char *path)
{
    for (int i = 0; i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        for (int64_t k = 0; k < p->numel; k++)
            RETURN_IF(!isfinite(data[i][k]), YPR_ERANGE, "%s: tensor %s: element %lld is %g",
                      path, p->name, (long long)k, (double)data[i][k]);
    }
    for (int n = 0; n < net->nnodes; n++) {
        const ypr_node *nd = &net->nodes[n];
        if (nd->kind == YPR_NODE_BN && nd->p[3] >= 0) {
            const ypr_param *v = &net->params[nd->p[3]];
            for (int64_t k = 0; k < v->numel; k++)
                RETURN_IF(data[nd->p[3]][k] < 0.0f, YPR_ERANGE,
                          "%s: tensor %s: running variance %g < 0 at channel %lld", path,
                          v->name, (double)data[nd->p[3]][k], (long long)k);
        }
        for (int s = 0; nd->kind == YPR_NODE_DETECT && s < 2; s++) {
            if (nd->p[s] < 0)
                continue;
            const ypr_param *a = &net->params[nd->p[s]];
            for (int64_t k = 0; k < a->numel; k++)
                RETURN_IF(!(data[nd->p[s]][k] > 0.0f), YPR_ERANGE,
                          "%s: tensor %s: anchor value %g at %lld is not positive", path, a->name,
                          (double)data[nd->p[s]][k], (long long)k);
        }
    }
    return YPR_OK;
}

/* ---- quantized tensors in a checkpoint: an I8 / I32 tensor NAME holds the
 * integers; NAME.scale (F32, [1] per tensor or [shape[0]] per channel) its
 * scales; NAME.zero_point (I32, the same count; absent: all 0) its zero
 * points. The float view is (q − zero_point)·scale (docs/model.md). */
#define SCALE_SUFFIX ".scale"
#define ZERO_SUFFIX ".zero_point"

static const ypr_st_tensor *companion(const ypr_safetensors *st, const char *name,
                                      const char *suffix)
{
    char key[YPR_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s%s", name, suffix);
    return ypr__st_find(st, key);
}

/* `name` is the scale or zero point of a quantized tensor of the file. */
static int is_companion(const ypr_safetensors *st, const char *name)
{
    const char *suf[2] = {SCALE_SUFFIX, ZERO_SUFFIX};
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(name), m = strlen(suf[k]);
        if (n <= m || n - m >= YPR_NAME_MAX || strcmp(name + n - m, suf[k]) != 0)
            continue;
        char base[YPR_NAME_MAX];
        memcpy(base, name, n - m);
        base[n - m] = '\0';
        const ypr_st_tensor *t = ypr__st_find(st, base);
        if (t && (t->dtype == YPR_DT_I8 || t->dtype == YPR_DT_I32))
            return 1;
    }
    return 0;
}

/* The conv weight / bias step a tensor is quantized under, or NULL. */
static const ypr_qparam *step_of(const ypr_net *net, int param)
{
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV)
            continue;
        if (nd->p[0] == param && nd->wq.scale > 0)
            return &nd->wq;
        if (nd->p[1] == param && nd->bq.scale > 0)
            return &nd->bq;
    }
    return NULL;
}

/* Read quantized tensor t of the file into qp (integers, scales, zero
 * points) and its float view into data, checking everything. */
static int read_quantized(const ypr_net *net, int param, const ypr_safetensors *st,
                          const ypr_st_tensor *t, const char *path, float *data, ypr_param *qp)
{
    const ypr_param *p = &net->params[param];
    int dtype = t->dtype == YPR_DT_I8 ? YPR_DTYPE_I8 : YPR_DTYPE_I32;
    const char *dn = ypr__dtype_name(dtype);
    const ypr_st_tensor *ts = companion(st, p->name, SCALE_SUFFIX);
    const ypr_st_tensor *tz = companion(st, p->name, ZERO_SUFFIX);
    RETURN_IF(!ts, YPR_EFORMAT, "%s: tensor %s is %s but its scale %s%s is missing", path,
              p->name, dn, p->name, SCALE_SUFFIX);
    RETURN_IF(ts->dtype != YPR_DT_F32 || ts->ndim != 1, YPR_EFORMAT,
              "%s: tensor %s%s: scales must be a 1-D F32 tensor", path, p->name, SCALE_SUFFIX);
    int64_t ns = ts->numel;
    RETURN_IF(ns != 1 && (p->ndim < 1 || ns != p->shape[0]), YPR_ESHAPE,
              "%s: tensor %s (%s): %lld scales, expected 1 (per tensor) or %lld (per channel)",
              path, p->name, dn, (long long)ns, (long long)(p->ndim ? p->shape[0] : 1));
    RETURN_IF(tz && (tz->dtype != YPR_DT_I32 || tz->ndim != 1 || tz->numel != ns), YPR_ESHAPE,
              "%s: tensor %s%s: expected %lld I32 zero points", path, p->name, ZERO_SUFFIX,
              (long long)ns);
    qp->dtype = dtype;
    qp->nscales = ns;
    qp->scales = malloc((size_t)ns * sizeof(float));
    qp->zeros = calloc((size_t)ns, sizeof(int32_t));
    qp->q = ypr__alloc((size_t)(p->numel ? p->numel : 1) * ypr__dtype_size(dtype));
    RETURN_IF(!qp->scales || !qp->zeros || !qp->q, YPR_ENOMEM, "%s: out of memory", path);
    TRY(ypr__st_to_f32(ts, qp->scales));
    if (tz)
        TRY(ypr__st_to_int(tz, YPR_DT_I32, qp->zeros));
    TRY(ypr__st_to_int(t, t->dtype, qp->q));
    int64_t lo, hi;
    ypr__dtype_range(dtype, &lo, &hi);
    for (int64_t c = 0; c < ns; c++) {
        RETURN_IF(!(qp->scales[c] > 0.0f) || !isfinite(qp->scales[c]), YPR_ERANGE,
                  "%s: tensor %s: scale %lld is %g, not a positive finite number", path,
                  p->name, (long long)c, (double)qp->scales[c]);
        RETURN_IF(qp->zeros[c] < lo || qp->zeros[c] > hi, YPR_ERANGE,
                  "%s: tensor %s: zero point %d outside %s", path, p->name, (int)qp->zeros[c], dn);
    }
    const ypr_qparam *step = step_of(net, param);
    int64_t per = ns > 1 ? p->numel / ns : p->numel;
    for (int64_t i = 0; i < p->numel; i++) {
        int64_t c = ns > 1 ? i / per : 0;
        int64_t v = dtype == YPR_DTYPE_I8 ? ((const int8_t *)qp->q)[i]
                                          : ((const int32_t *)qp->q)[i];
        RETURN_IF(step && (v < step->qmin || v > step->qmax), YPR_ERANGE,
                  "%s: tensor %s: element %lld = %lld outside its quantization step's range "
                  "[%d, %d]", path, p->name, (long long)i, (long long)v, (int)step->qmin,
                  (int)step->qmax);
        data[i] = ypr__dequant1(dtype, qp->q, i, qp->scales[c], qp->zeros[c]);
    }
    return YPR_OK;
}

int ypr__model_read_tensor(const ypr_net *net, int param, const ypr_safetensors *st,
                           const ypr_st_tensor *t, const char *path, float *data, ypr_param *qp)
{
    if (t->dtype != YPR_DT_I8 && t->dtype != YPR_DT_I32)
        return ypr__st_to_f32(t, data);
    int rc = read_quantized(net, param, st, t, path, data, qp);
    if (rc < 0)
        ypr__param_drop_q(qp);
    return rc;
}

/* Check every tensor's name, shape and values first, then swap: a failed
 * load leaves the model as it was. */
static int load_from(ypr_net *net, const ypr_safetensors *st, const char *path, int strict)
{
    for (int i = 0; i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        const ypr_st_tensor *t = ypr__st_find(st, p->name);
        RETURN_IF(!t, YPR_ENOTFOUND, "%s: tensor %s is missing", path, p->name);
        int same = t->ndim == p->ndim || (t->numel == p->numel && (t->ndim == 0 || p->ndim == 0));
        for (int d = 0; same && d < p->ndim && t->ndim == p->ndim; d++)
            same = t->shape[d] == p->shape[d];
        if (!same) {
            char a[96], b[96];
            shape_text(a, sizeof a, t->ndim, t->shape);
            shape_text(b, sizeof b, p->ndim, p->shape);
            return ypr__error(YPR_ESHAPE, "%s: tensor %s has shape %s, the model expects %s", path,
                              p->name, a, b);
        }
        RETURN_IF(t->dtype != YPR_DT_F32 && t->dtype != YPR_DT_F16 && t->dtype != YPR_DT_BF16 &&
                  t->dtype != YPR_DT_F64 && t->dtype != YPR_DT_I8 && t->dtype != YPR_DT_I32,
                  YPR_EFORMAT, "%s: tensor %s is neither floating point nor quantized (I8, I32)",
                  path, p->name);
    }
    int extra = 0;
    for (size_t i = 0; i < ypr__st_count(st); i++) {
        const char *name = ypr__st_at(st, i)->name;
        if (ends_with(name, ".num_batches_tracked") || ypr__net_find_param(net, name) >= 0 ||
            strncmp(name, YPR_TRAIN_STATE_PREFIX, strlen(YPR_TRAIN_STATE_PREFIX)) == 0 ||
            is_companion(st, name))
            continue;
        extra++;
        ypr__log(YPR_LOG_WARN, "%s: tensor %s is not part of the model", path, name);
        RETURN_IF(strict, YPR_EFORMAT, "%s: tensor %s is not part of the model (strict load)",
                  path, name);
    }
    if (extra)
        ypr__log(YPR_LOG_WARN, "%s: %d unknown tensors ignored", path, extra);
    /* convert into fresh buffers, check the values, and only then swap them in */
    float **fresh = calloc((size_t)net->nparams + 1, sizeof *fresh);
    ypr_param *fq = calloc((size_t)net->nparams + 1, sizeof *fq);   /* integers, scales */
    if (!fresh || !fq) {
        free(fresh);
        free(fq);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    }
    int rc = YPR_OK;
    for (int i = 0; rc == YPR_OK && i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        const ypr_st_tensor *t = ypr__st_find(st, p->name);
        fresh[i] = ypr__alloc((size_t)(p->numel ? p->numel : 1) * sizeof(float));
        if (!fresh[i])
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", path);
        else if (t->dtype == YPR_DT_I8 || t->dtype == YPR_DT_I32)
            rc = read_quantized(net, i, st, t, path, fresh[i], &fq[i]);
        else
            rc = ypr__st_to_f32(t, fresh[i]);
    }
    if (rc == YPR_OK)
        rc = check_values(net, (const float *const *)fresh, path);
    for (int i = 0; i < net->nparams; i++) {
        if (rc == YPR_OK) {
            ypr_param *p = &net->params[i];
            float *old = p->data;
            p->data = fresh[i];
            fresh[i] = old;
            ypr_param oldq = *p;   /* the tensor's dtype is the file's */
            p->dtype = fq[i].dtype;
            p->q = fq[i].q;
            p->nscales = fq[i].nscales;
            p->scales = fq[i].scales;
            p->zeros = fq[i].zeros;
            fq[i] = oldq;
        }
        ypr__free(fresh[i]);
        ypr__param_drop_q(&fq[i]);
    }
    free(fresh);
    free(fq);
    if (rc == YPR_OK)
        net->version++;
    return rc;
}

int ypr__model_load_tensors(ypr_net *net, const ypr_safetensors *st, const char *path,
                            int strict)
{
    return load_from(net, st, path, strict);
}

/* A PyTorch checkpoint by its name, or by its first bytes when the name
 * says nothing (a safetensors file may start with any byte). */
static int is_pt(const char *path)
{
    return ends_with(path, ".pt") || ends_with(path, ".pth") ||
           (!ends_with(path, ".safetensors") && ypr__pt_sniff(path));
}

int ypr_model_load_weights(ypr_model *m, const char *path, int strict)
{
    RETURN_IF(!m || !path, YPR_EINVAL, "model: NULL argument");
    if (is_pt(path))
        return ypr__model_load_weights_pt(&m->net, path, strict);
    ypr_safetensors *st;
    TRY(ypr__st_open(path, &st));
    int rc = load_from(&m->net, st, path, strict);
    ypr__st_close(st);
    return rc;
}

int ypr_model_check_finite(const ypr_model *m)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    for (int i = 0; i < m->net.nparams; i++) {
        const ypr_param *p = &m->net.params[i];
        for (int64_t k = 0; k < p->numel; k++)
            RETURN_IF(!isfinite(p->data[k]), YPR_ERANGE,
                      "tensor %s: element %lld is %g", p->name, (long long)k, p->data[k]);
    }
    return YPR_OK;
}

/* ------------------------------------------------------ net description */

static const char *const slot_names[4] = {"p0", "p1", "p2", "p3"};

static const char *const qnames[3] = {"aq", "wq", "bq"};

static const ypr_qparam *node_q(const ypr_node *nd, int k)
{
    return k == 0 ? &nd->aq : k == 1 ? &nd->wq : &nd->bq;
}

/* A quantization step, when set: [scale, zero, qmin, qmax, round, per_channel]. */
static void describe_q(ypr_strbuf *sb, const char *key, const ypr_qparam *q)
{
    if (!(q->scale > 0))
        return;
    ypr__sb_printf(sb, ",\"%s\":[", key);
    ypr__sb_json_double(sb, q->scale);
    ypr__sb_printf(sb, ",%d,%d,%d,%d,%d]", (int)q->zero, (int)q->qmin, (int)q->qmax, q->round,
                   q->per_channel);
}

static void describe(const ypr_net *net, ypr_strbuf *sb)
{
    ypr__sb_puts(sb, "[");
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        ypr__sb_printf(sb, "%s{\"kind\":", i ? "," : "");
        ypr__sb_json_str(sb, ypr__node_kind_name(nd->kind));
        ypr__sb_puts(sb, ",\"name\":");
        ypr__sb_json_str(sb, nd->name);
        if (nd->module[0]) {
            ypr__sb_puts(sb, ",\"module\":");
            ypr__sb_json_str(sb, nd->module);
        }
        ypr__sb_printf(sb, ",\"layer\":%d,\"c\":%lld,\"inputs\":[", nd->layer, (long long)nd->c);
        for (int j = 0; j < nd->ninputs; j++)
            ypr__sb_printf(sb, "%s%d", j ? "," : "", nd->inputs[j]);
        ypr__sb_printf(sb, "],\"k\":[%d,%d],\"s\":[%d,%d],\"p\":[%d,%d],\"d\":[%d,%d],\"groups\":%d,"
                       "\"act\":%d,\"alpha\":", nd->kh, nd->kw, nd->sh, nd->sw, nd->ph, nd->pw,
                       nd->dh, nd->dw, nd->groups, nd->act);
        ypr__sb_json_double(sb, nd->alpha);
        ypr__sb_puts(sb, ",\"eps\":");
        ypr__sb_json_double(sb, nd->eps);
        ypr__sb_puts(sb, ",\"momentum\":");
        ypr__sb_json_double(sb, nd->momentum);
        ypr__sb_printf(sb, ",\"scale\":%d,\"nc\":%d,\"na\":%d,\"nl\":%d,\"strides\":[", nd->scale,
                       nd->nc, nd->na, nd->nl);
        for (int l = 0; l < nd->nl; l++) {
            ypr__sb_puts(sb, l ? "," : "");
            ypr__sb_json_double(sb, nd->strides[l]);
        }
        ypr__sb_puts(sb, "]");
        for (int s = 0; s < 4; s++) {
            if (nd->p[s] < 0)
                continue;
            ypr__sb_printf(sb, ",\"%s\":", slot_names[s]);
            ypr__sb_json_str(sb, net->params[nd->p[s]].name);
        }
        for (int k = 0; k < 3; k++)
            describe_q(sb, qnames[k], node_q(nd, k));
        ypr__sb_puts(sb, "}");
    }
    ypr__sb_puts(sb, "]");
}

int ypr__model_save_ext(const ypr_model *m, const char *path, const float *const *data,
                        const ypr_st_entry *extra, size_t nextra, const char *const *meta_kv,
                        size_t nmeta)
{
    RETURN_IF(!m || !path, YPR_EINVAL, "model: NULL argument");
    const ypr_net *net = &m->net;
    size_t n = (size_t)net->nparams + nextra;
    ypr_st_entry *e = calloc(n + 1, sizeof *e);
    const char **meta = calloc(12 + 2 * nmeta, sizeof *meta);
    if (!e || !meta) {
        free(e);
        free(meta);
        return ypr__error(YPR_ENOMEM, "out of memory");
    }
    size_t ne = 0, nq = 0;
    for (int i = 0; i < net->nparams; i++)
        nq += net->params[i].dtype != YPR_DTYPE_F32;
    ypr_st_entry *ex = nq ? realloc(e, (n + 2 * nq + 1) * sizeof *e) : e;
    char (*cname)[YPR_NAME_MAX + 16] = nq ? malloc(2 * nq * sizeof *cname) : NULL;
    if (!ex || (nq && !cname)) {
        free(ex ? ex : e);
        free(cname);
        free(meta);
        return ypr__error(YPR_ENOMEM, "out of memory");
    }
    e = ex;
    size_t ncomp = 0;
    for (int i = 0; i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        const float *f = data && data[i] ? data[i] : p->data;
        /* integers only while they are the values saved: other values
         * (the trainer's EMA), or a float view changed behind the
         * integers' back, are written as F32 */
        if (p->dtype == YPR_DTYPE_F32 || f != p->data || !ypr__param_consistent(p)) {
            e[ne++] = (ypr_st_entry){p->name, YPR_DT_F32, p->ndim, p->shape, f};
            continue;
        }
        e[ne++] = (ypr_st_entry){p->name, p->dtype == YPR_DTYPE_I8 ? YPR_DT_I8 : YPR_DT_I32,
                                 p->ndim, p->shape, p->q};
        int zero = 1;
        for (int64_t c = 0; c < p->nscales; c++)
            zero &= p->zeros[c] == 0;
        snprintf(cname[ncomp], sizeof cname[ncomp], "%s" SCALE_SUFFIX, p->name);
        e[ne++] = (ypr_st_entry){cname[ncomp++], YPR_DT_F32, 1, &p->nscales, p->scales};
        if (!zero) {
            snprintf(cname[ncomp], sizeof cname[ncomp], "%s" ZERO_SUFFIX, p->name);
            e[ne++] = (ypr_st_entry){cname[ncomp++], YPR_DT_I32, 1, &p->nscales, p->zeros};
        }
    }
    for (size_t i = 0; i < nextra; i++)
        e[ne++] = extra[i];
    n = ne;
    ypr_strbuf desc, names;
    ypr__sb_init(&desc);
    ypr__sb_init(&names);
    describe(net, &desc);
    ypr__sb_puts(&names, "[");
    for (int i = 0; m->names && i < m->nc; i++) {
        ypr__sb_puts(&names, i ? "," : "");
        ypr__sb_json_str(&names, m->names[i] ? m->names[i] : "");
    }
    ypr__sb_puts(&names, "]");
    char nc[24], size[24];
    snprintf(nc, sizeof nc, "%d", m->nc);
    snprintf(size, sizeof size, "%d", m->input_size);
    int rc;
    if (desc.failed || names.failed) {
        rc = ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    } else {
        const char *base[] = {"format", "libyolopr", "format_version", "1", "net", desc.data,
                              "nc", nc, "names", names.data, "input_size", size};
        memcpy(meta, base, sizeof base);
        for (size_t i = 0; i < 2 * nmeta; i++)
            meta[12 + i] = meta_kv[i];
        rc = ypr__st_write(path, e, n, meta, 6 + nmeta);
    }
    ypr__sb_free(&desc);
    ypr__sb_free(&names);
    free(e);
    free(cname);
    free(meta);
    return rc;
}

int ypr_model_save(const ypr_model *m, const char *path)
{
    return ypr__model_save_ext(m, path, NULL, NULL, 0, NULL, 0);
}

static int kind_of(const char *name)
{
    for (int k = 0; k < YPR_NODE_KIND_COUNT_; k++)
        if (strcmp(name, ypr__node_kind_name(k)) == 0)
            return k;
    return -1;
}

static int jint(const ypr_json *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                const char *path, int node)
{
    int64_t v = 0;
    const ypr_json *j = ypr__json_get(o, key);
    RETURN_IF(!j || ypr__json_int(j, &v) < 0 || v < lo || v > hi, YPR_EFORMAT,
              "%s: net description: node %d: '%s' missing or out of range", path, node, key);
    *out = v;
    return YPR_OK;
}

static int jpair(const ypr_json *o, const char *key, int *a, int *b, const char *path, int node)
{
    const ypr_json *j = ypr__json_get(o, key);
    int64_t x, y;
    RETURN_IF(!j || ypr__json_len(j) != 2 || ypr__json_int(ypr__json_at(j, 0), &x) < 0 ||
              ypr__json_int(ypr__json_at(j, 1), &y) < 0 || x < 0 || y < 0 || x > 1024 ||
              y > 1024, YPR_EFORMAT, "%s: net description: node %d: bad '%s'", path, node, key);
    *a = (int)x;
    *b = (int)y;
    return YPR_OK;
}

static int q_from_json(const ypr_json *o, const char *key, ypr_qparam *q, const char *path,
                       const char *name)
{
    const ypr_json *j = ypr__json_get(o, key);
    if (!j)
        return YPR_OK;
    int64_t v[5];
    int ok = ypr__json_type(j) == YPR_JSON_ARRAY && ypr__json_len(j) == 6 &&
             ypr__json_type(ypr__json_at(j, 0)) == YPR_JSON_NUMBER;
    for (int k = 0; ok && k < 5; k++)
        ok = ypr__json_int(ypr__json_at(j, (size_t)k + 1), &v[k]) == 0 && v[k] >= INT32_MIN &&
             v[k] <= INT32_MAX;
    RETURN_IF(!ok, YPR_EFORMAT, "%s: node %s: bad '%s' (a quantization step: [scale, zero, "
              "qmin, qmax, round, per_channel])", path, name, key);
    q->scale = (float)ypr__json_num(ypr__json_at(j, 0));
    q->zero = (int32_t)v[0];
    q->qmin = (int32_t)v[1];
    q->qmax = (int32_t)v[2];
    q->round = (int)v[3];
    q->per_channel = v[4] != 0;
    RETURN_IF(!(q->scale > 0), YPR_EFORMAT, "%s: node %s: '%s' scale is not positive", path,
              name, key);
    return YPR_OK;
}

static int node_from_json(ypr_net *net, const ypr_json *o, const ypr_safetensors *st,
                          const char *path, int i)
{
    const char *kname = ypr__json_str(ypr__json_get(o, "kind"));
    const char *name = ypr__json_str(ypr__json_get(o, "name"));
    int kind = kname ? kind_of(kname) : -1;
    RETURN_IF(kind < 0 || !name, YPR_EFORMAT, "%s: net description: node %d: bad kind or name",
              path, i);
    const ypr_json *ins = ypr__json_get(o, "inputs");
    size_t nin = ypr__json_len(ins);
    RETURN_IF(nin > 256, YPR_EFORMAT, "%s: node %s: too many inputs", path, name);
    int in[256];
    for (size_t j = 0; j < nin; j++) {
        int64_t v;
        RETURN_IF(ypr__json_int(ypr__json_at(ins, j), &v) < 0 || v < 0 || v >= i, YPR_EFORMAT,
                  "%s: node %s: input %zu is not an earlier node", path, name, j);
        in[j] = (int)v;
    }
    int64_t layer = 0, c = 0, groups = 1, act = 0, scale = 1, nc = 0, na = 0, nl = 0;
    TRY(jint(o, "layer", -1, 1 << 20, &layer, path, i));
    int id = ypr__net_add(net, kind, name, (int)layer, in, (int)nin);
    if (id < 0)
        return id;
    ypr_node *nd = &net->nodes[id];
    TRY(jint(o, "c", 0, (int64_t)1 << 24, &c, path, i));
    TRY(jint(o, "groups", 1, 1 << 24, &groups, path, i));
    TRY(jint(o, "act", 0, YPR_ACT_COUNT_ - 1, &act, path, i));
    TRY(jint(o, "scale", 1, 64, &scale, path, i));
    TRY(jint(o, "nc", 0, 100000, &nc, path, i));
    TRY(jint(o, "na", 0, 64, &na, path, i));
    TRY(jint(o, "nl", 0, YPR_MAX_LEVELS, &nl, path, i));
    nd = &net->nodes[id];
    nd->c = c;
    nd->groups = (int)groups;
    nd->act = (int)act;
    nd->scale = (int)scale;
    nd->nc = (int)nc;
    nd->na = (int)na;
    nd->nl = (int)nl;
    TRY(jpair(o, "k", &nd->kh, &nd->kw, path, i));
    TRY(jpair(o, "s", &nd->sh, &nd->sw, path, i));
    TRY(jpair(o, "p", &nd->ph, &nd->pw, path, i));
    TRY(jpair(o, "d", &nd->dh, &nd->dw, path, i));
    nd->alpha = (float)ypr__json_num(ypr__json_get(o, "alpha"));
    nd->eps = (float)ypr__json_num(ypr__json_get(o, "eps"));
    nd->momentum = (float)ypr__json_num(ypr__json_get(o, "momentum"));
    const ypr_json *strides = ypr__json_get(o, "strides");
    RETURN_IF(ypr__json_len(strides) != (size_t)nl, YPR_EFORMAT, "%s: node %s: bad strides",
              path, name);
    for (int l = 0; l < nl; l++) {
        const ypr_json *sj = ypr__json_at(strides, (size_t)l);
        double sv = ypr__json_num(sj);
        RETURN_IF(ypr__json_type(sj) != YPR_JSON_NUMBER || !(sv > 0) || sv > 65536, YPR_EFORMAT,
                  "%s: node %s: stride %d must be a positive number", path, name, l);
        nd->strides[l] = (float)sv;
    }
    for (int k = 0; k < 3; k++)
        TRY(q_from_json(o, qnames[k], (ypr_qparam *)node_q(&net->nodes[id], k), path, name));
    const ypr_json *mod = ypr__json_get(o, "module");
    if (mod) {
        const char *ms = ypr__json_str(mod);
        size_t ml = ypr__json_strlen(mod);
        int ok = ms && ml < YPR_MODULE_MAX;
        for (size_t k = 0; ok && k < ml; k++)
            ok = ms[k] > ' ' && ms[k] < 127;
        RETURN_IF(!ok, YPR_EFORMAT, "%s: node %s: bad module name", path, name);
        memcpy(nd->module, ms, ml + 1);
    }
    for (int s = 0; s < 4; s++) {
        const char *pn = ypr__json_str(ypr__json_get(o, slot_names[s]));
        if (!pn)
            continue;
        const ypr_st_tensor *t = ypr__st_find(st, pn);
        RETURN_IF(!t, YPR_ENOTFOUND, "%s: tensor %s (node %s) is missing", path, pn, name);
        RETURN_IF(t->ndim > 6, YPR_EFORMAT, "%s: tensor %s has too many dimensions", path, pn);
        int is_buffer = kind == YPR_NODE_DETECT || (kind == YPR_NODE_BN && s >= 2);
        int pi = ypr__net_add_param(net, pn, t->ndim, t->shape, is_buffer);
        if (pi < 0)
            return pi;
        net->nodes[id].p[s] = pi;
    }
    return YPR_OK;
}

/* The cfg module of layer [i, j] from the names the cfg expansion gives its
 * nodes (checkpoints written before nodes recorded it); "" when unknown. */
static const char *derive_module(const ypr_net *net, int i, int j)
{
    char pre[32];
    int implicit = 0;
    snprintf(pre, sizeof pre, "model.%d.", net->nodes[i].layer);
    size_t n = strlen(pre);
    for (int k = i; k <= j; k++) {
        const char *nm = net->nodes[k].name;
        implicit |= net->nodes[k].kind == YPR_NODE_IMPLICIT_ADD ||
                    net->nodes[k].kind == YPR_NODE_IMPLICIT_MUL;
        if (strncmp(nm, pre, n) != 0)
            continue;
        const char *rest = nm + n, *r = rest;
        while (*r >= '0' && *r <= '9')   /* repeats: model.L.<r>.conv */
            r++;
        if (r != rest && *r == '.')
            rest = r + 1;
        if (strcmp(rest, "conv") == 0)
            return "Conv";
        if (strcmp(rest, "rbr_dense.0") == 0 || strcmp(rest, "rbr_reparam") == 0)
            return "RepConv";
        if (strcmp(rest, "cv1.conv") == 0)
            return "SPPCSPC";
    }
    const ypr_node *ln = &net->nodes[j];
    switch (ln->kind) {
    case YPR_NODE_DETECT: return implicit ? "IDetect" : "Detect";
    case YPR_NODE_CONCAT: return i == j ? "Concat" : "";
    case YPR_NODE_ADD: return i == j ? "Shortcut" : "";
    case YPR_NODE_MAXPOOL: return i != j ? "" : ln->kh == ln->sh && ln->ph == 0 ? "MP" : "SP";
    case YPR_NODE_UPSAMPLE: return i == j ? "nn.Upsample" : "";
    case YPR_NODE_REORG: return i == j ? "ReOrg" : "";
    default: return "";
    }
}

static void derive_modules(ypr_net *net)
{
    for (int i = 0; i < net->nnodes;) {
        int j = i, unknown = net->nodes[i].module[0] == '\0';
        while (j + 1 < net->nnodes && net->nodes[j + 1].layer == net->nodes[i].layer) {
            j++;
            unknown &= net->nodes[j].module[0] == '\0';
        }
        if (unknown && net->nodes[i].layer >= 0) {
            const char *mod = derive_module(net, i, j);
            for (int k = i; k <= j; k++)
                snprintf(net->nodes[k].module, sizeof net->nodes[k].module, "%s", mod);
        }
        i = j + 1;
    }
}

static int net_from_checkpoint(ypr_model *m, const ypr_safetensors *st, const char *path)
{
    const char *desc = ypr__st_meta(st, "net");
    RETURN_IF(!desc, YPR_EFORMAT, "%s: no net description in the metadata", path);
    ypr_json *j;
    TRY(ypr__json_parse(desc, strlen(desc), path, &j));
    int rc = YPR_OK;
    size_t n = ypr__json_len(j);
    if (ypr__json_type(j) != YPR_JSON_ARRAY || n < 2 || n > 100000)
        rc = ypr__error(YPR_EFORMAT, "%s: net description is not a node list", path);
    for (size_t i = 0; rc == YPR_OK && i < n; i++)
        rc = node_from_json(&m->net, ypr__json_at(j, i), st, path, (int)i);
    ypr__json_free(j);
    TRY(rc);
    if ((rc = ypr__net_validate(&m->net)) < 0) {   /* name the file too */
        char msg[512];
        const char *e = ypr_last_error(), *colon = strstr(e, ": ");
        snprintf(msg, sizeof msg, "%s", colon ? colon + 2 : e);
        return ypr__error(rc, "%s: %s", path, msg);
    }
    derive_modules(&m->net);
    const char *nc = ypr__st_meta(st, "nc"), *size = ypr__st_meta(st, "input_size");
    m->nc = m->net.nodes[m->net.nnodes - 1].nc;
    RETURN_IF(nc && atoi(nc) != m->nc, YPR_EFORMAT, "%s: nc %s disagrees with the head", path, nc);
    if (size && atoi(size) > 0)
        m->input_size = atoi(size);
    const char *names = ypr__st_meta(st, "names");
    if (names && *names) {
        ypr_json *nj;
        TRY(ypr__json_parse(names, strlen(names), path, &nj));
        if (ypr__json_len(nj) == (size_t)m->nc) {
            m->names = calloc((size_t)m->nc, sizeof(char *));
            for (int i = 0; m->names && i < m->nc; i++) {
                const char *s = ypr__json_str(ypr__json_at(nj, (size_t)i));
                m->names[i] = strdup(s ? s : "");
            }
        }
        ypr__json_free(nj);
    }
    TRY(load_from(&m->net, st, path, 1));
    /* checkpoints written before tensors had dtypes: the float values of
     * quantized convs on their steps' grids become I8 / I32 again */
    return ypr__net_mark_quantized(&m->net);
}

int ypr_model_load(const char *path, ypr_model **out)
{
    RETURN_IF(!path || !out, YPR_EINVAL, "model: NULL argument");
    *out = NULL;
    if (is_pt(path))
        return ypr__model_load_pt(path, out);
    if (ypr__onnx_is_path(path))   /* ONNX: onnx_import.c, docs/onnx.md */
        return ypr__onnx_load(path, out);
    if (!ends_with(path, ".safetensors"))
        return ypr_model_from_cfg(path, 0, 0, 0, 0, out);
    ypr_safetensors *st;
    TRY(ypr__st_open(path, &st));
    const char *fmt = ypr__st_meta(st, "format"), *ver = ypr__st_meta(st, "format_version");
    int rc;
    if (!fmt || strcmp(fmt, "libyolopr") != 0) {
        rc = ypr__error(YPR_EFORMAT, "%s: not a libyolopr checkpoint (no net description); "
                        "build the model from its cfg and use ypr_model_load_weights()", path);
    } else if (!ver || strcmp(ver, "1") != 0) {
        rc = ypr__error(YPR_EUNSUPPORTED, "%s: checkpoint format_version '%.20s' is not one this "
                        "library reads (1)", path, ver ? ver : "(none)");
    } else {
        ypr_model *m = NULL;
        rc = ypr__model_new(&m);
        if (rc == YPR_OK)
            rc = net_from_checkpoint(m, st, path);
        if (rc == YPR_OK)
            *out = m;
        else
            ypr_model_free(m);
    }
    ypr__st_close(st);
    return rc;
}
