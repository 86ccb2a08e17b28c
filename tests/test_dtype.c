/* Tensor dtypes: the I8 / I32 rules of lib/net/dtype.c on values worked by
 * hand (grid, range, per-channel slicing, sync), the quantized mini model
 * saved and loaded back bit for bit with I8 / I32 tensors about 4× smaller
 * than float, checkpoints written before dtypes, bad quantized files, and the
 * size-prefixed ypr_tensor_info. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "yolopr.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "test_util.h"

static const char *data_dir;

/* ------------------------------------------------ the rules, by hand */

static ypr_param *one_param(ypr_net *net, int ndim, const int64_t *shape, const float *v)
{
    ypr__net_init(net);
    int pi = ypr__net_add_param(net, "t.weight", ndim, shape, 0);
    assert_true(pi == 0);
    ypr_param *p = &net->params[0];
    memcpy(p->data, v, (size_t)p->numel * sizeof(float));
    return p;
}

static void test_param_rules(void **state)
{
    (void)state;
    ypr_net net;
    /* [3, 2]: per-channel scales 0.5, 0.25, 2 */
    const int64_t shape[2] = {3, 2};
    const float v[6] = {1.5f, -63.5f, 0.25f, 0.0f, 254.0f, -256.0f};
    ypr_param *p = one_param(&net, 2, shape, v);
    const float s3[3] = {0.5f, 0.25f, 2.0f};
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I8, 3, s3, NULL), YPR_OK);
    assert_int_equal(p->dtype, YPR_DTYPE_I8);
    const int8_t want[6] = {3, -127, 1, 0, 127, -128};
    assert_memory_equal(p->q, want, sizeof want);
    assert_memory_equal(p->data, v, sizeof v);       /* the float view is untouched */
    assert_true(ypr__param_consistent(p));
    /* compact axis 0 (drop channel 1): integers, values and scales follow */
    const unsigned char drop0[3] = {0, 1, 0};
    ypr__param_compact(p, 0, drop0);
    assert_true(p->shape[0] == 2 && p->numel == 4 && p->nscales == 2);
    assert_true(p->scales[0] == 0.5f && p->scales[1] == 2.0f);
    const int8_t want2[4] = {3, -127, 127, -128};
    assert_memory_equal(p->q, want2, sizeof want2);
    assert_true(p->data[2] == 254.0f && ypr__param_consistent(p));
    /* compact axis 1: scales stay */
    const unsigned char drop1[2] = {1, 0};
    ypr__param_compact(p, 1, drop1);
    assert_true(p->numel == 2 && p->nscales == 2 && ((int8_t *)p->q)[1] == -128);
    assert_true(p->data[0] == -63.5f && p->data[1] == -256.0f);
    /* the float view changed on the grid: kept, integers follow */
    p->data[0] = 0.5f;
    assert_int_equal(ypr__param_sync(p), 1);
    assert_int_equal(((int8_t *)p->q)[0], 1);
    /* off the grid: back to F32, values untouched */
    p->data[1] = 0.3f;
    assert_int_equal(ypr__param_sync(p), 0);
    assert_int_equal(p->dtype, YPR_DTYPE_F32);
    assert_null(p->q);
    assert_true(p->data[1] == 0.3f);
    ypr__net_free(&net);

    /* per tensor with a zero point, I32; off grid / out of range / bad scales refused, p unchanged */
    const int64_t s1[1] = {4};
    const float w[4] = {-0.75f, 0.0f, 1.0f, 3e9f * 0.25f};
    p = one_param(&net, 1, s1, w);
    float sc = 0.25f;
    int32_t z = 3;
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I8, 1, &sc, &z), YPR_ERANGE);  /* 3e9 */
    assert_int_equal(p->dtype, YPR_DTYPE_F32);
    p->data[3] = 2.0f;
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I32, 1, &sc, &z), YPR_OK);
    const int32_t want32[4] = {0, 3, 7, 11};
    assert_memory_equal(p->q, want32, sizeof want32);
    p->data[2] = 1.1f;
    assert_false(ypr__param_consistent(p));
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I32, 1, &sc, &z), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "t.weight"));
    assert_int_equal(p->dtype, YPR_DTYPE_I32);         /* unchanged by the failed call */
    p->data[2] = 1.0f;
    float bad[3] = {0.0f, NAN, -1.0f};
    for (int k = 0; k < 3; k++)
        assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I8, 1, &bad[k], NULL), YPR_EINVAL);
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I8, 2, s3, NULL), YPR_EINVAL); /* count */
    int32_t zbad = 300;
    assert_int_equal(ypr__param_quantize(p, YPR_DTYPE_I8, 1, &sc, &zbad), YPR_EINVAL);
    /* a clone copies integers, scales and zero points */
    ypr_net copy;
    assert_int_equal(ypr__net_clone(&net, &copy, 1), YPR_OK);
    const ypr_param *c = &copy.params[0];
    assert_true(c->dtype == YPR_DTYPE_I32 && c->q != p->q && c->zeros[0] == 3);
    assert_memory_equal(c->q, want32, sizeof want32);
    ypr__net_free(&copy);
    assert_int_equal(ypr__net_clone(&net, &copy, 0), YPR_OK);   /* structure only: F32 */
    assert_int_equal(copy.params[0].dtype, YPR_DTYPE_F32);
    ypr__net_free(&copy);
    ypr__net_free(&net);
}

/* ------------------------------------------------ quantized models */

static ypr_model *quantized(int scheme)
{
    ypr_dataset *ds = test_e2e_val(data_dir);
    ypr_model *m = test_mini_trained(data_dir);
    ypr_quantizer *q = test_quantizer(m, ds, scheme, 2, 64);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 0), YPR_OK);
    ypr_model *out;
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    ypr_quantizer_free(q);
    ypr_model_free(m);
    ypr_dataset_free(ds);
    return out;
}

/* A fixed input (a smooth pattern in [0, 1]) through the model: the raw head maps. */
static float *outputs(ypr_model *m, size_t *n)
{
    const int S = 64;
    float *x = malloc((size_t)3 * S * S * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < 3 * S * S; i++)
        x[i] = (float)((i * 37) % 101) / 100.0f;
    assert_int_equal(ypr_model_forward(m, x, 1, S, S), YPR_OK);
    free(x);
    size_t total = 0;
    int64_t sh[5];
    for (int l = 0; l < ypr_model_num_levels(m); l++) {
        assert_int_equal(ypr_model_output(m, l, NULL, sh), YPR_OK);
        total += (size_t)(sh[0] * sh[1] * sh[2] * sh[3] * sh[4]);
    }
    float *y = malloc(total * sizeof *y), *at = y;
    assert_non_null(y);
    for (int l = 0; l < ypr_model_num_levels(m); l++) {
        assert_int_equal(ypr_model_output(m, l, at, sh), YPR_OK);
        at += sh[0] * sh[1] * sh[2] * sh[3] * sh[4];
    }
    *n = total;
    return y;
}

/* Same tensors (dtype, values, integers, scales) and node steps, and the
 * same outputs bit for bit. */
static void assert_same_model(ypr_model *a, ypr_model *b)
{
    const ypr_net *x = &a->net, *y = &b->net;
    assert_int_equal(x->nparams, y->nparams);
    assert_int_equal(x->nnodes, y->nnodes);
    for (int i = 0; i < x->nparams; i++) {
        const ypr_param *p = &x->params[i], *q = &y->params[i];
        assert_string_equal(p->name, q->name);
        assert_int_equal(p->dtype, q->dtype);
        assert_memory_equal(p->data, q->data, (size_t)p->numel * sizeof(float));
        if (p->dtype != YPR_DTYPE_F32) {
            assert_int_equal(p->nscales, q->nscales);
            assert_memory_equal(p->q, q->q, (size_t)p->numel * ypr__dtype_size(p->dtype));
            assert_memory_equal(p->scales, q->scales, (size_t)p->nscales * sizeof(float));
            assert_memory_equal(p->zeros, q->zeros, (size_t)p->nscales * sizeof(int32_t));
            assert_true(ypr__param_consistent(q));
        }
    }
    for (int i = 0; i < x->nnodes; i++) {
        const ypr_node *n = &x->nodes[i], *o = &y->nodes[i];
        assert_memory_equal(&n->aq, &o->aq, sizeof n->aq);
        assert_memory_equal(&n->wq, &o->wq, sizeof n->wq);
        assert_memory_equal(&n->bq, &o->bq, sizeof n->bq);
    }
    size_t na, nb;
    float *ya = outputs(a, &na), *yb = outputs(b, &nb);
    assert_true(na == nb && na > 0);
    assert_memory_equal(ya, yb, na * sizeof *ya);
    free(ya);
    free(yb);
}

static long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

/* Every quantized conv's weight is I8 and its bias I8 (dpu) or I32
 * (per-channel) with the scheme's scales; the checkpoint holds them as such,
 * about 4× smaller than the float one, and loads back identical. */
static void roundtrip(int scheme, const char *tag)
{
    ypr_model *m = quantized(scheme);
    const ypr_net *net = &m->net;
    int convs = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind != YPR_NODE_CONV || !(nd->wq.scale > 0))
            continue;
        convs++;
        const ypr_param *w = &net->params[nd->p[0]];
        assert_int_equal(w->dtype, YPR_DTYPE_I8);
        assert_true(ypr__param_consistent(w));
        if (scheme == YPR_QSCHEME_DPU) {   /* one power-of-two scale, the step's */
            assert_true(w->nscales == 1 && w->scales[0] == nd->wq.scale);
            assert_true(frexpf(w->scales[0], &(int){0}) == 0.5f);
        } else {                           /* per channel; the largest is the step's */
            assert_true(w->nscales == nd->c);
            float top = 0;
            for (int64_t o = 0; o < w->nscales; o++)
                top = w->scales[o] > top ? w->scales[o] : top;
            assert_true(fabsf(top - nd->wq.scale) <= 1e-6f * nd->wq.scale);
        }
        if (nd->p[1] >= 0 && nd->bq.scale > 0) {
            const ypr_param *b = &net->params[nd->p[1]];
            assert_int_equal(b->dtype, scheme == YPR_QSCHEME_DPU ? YPR_DTYPE_I8 : YPR_DTYPE_I32);
            if (scheme != YPR_QSCHEME_DPU)   /* s_w[o]·s_in, within the float's rounding */
                for (int64_t o = 0; o < b->numel; o++) {
                    double want = (double)w->scales[o] * net->nodes[nd->inputs[0]].aq.scale;
                    if (net->nodes[nd->inputs[0]].aq.scale > 0)
                        assert_true(fabs(b->scales[o] - want) <= 3e-7 * want);
                }
        }
    }
    assert_true(convs >= 3);
    char qpath[256], fpath[256], lpath[256];
    snprintf(qpath, sizeof qpath, "dtype_%s_q.safetensors", tag);
    snprintf(fpath, sizeof fpath, "dtype_%s_f.safetensors", tag);
    snprintf(lpath, sizeof lpath, "dtype_%s_legacy.safetensors", tag);
    assert_int_equal(ypr_model_save(m, qpath), YPR_OK);
    /* the same model as today's files hold it: float tensors, steps in the metadata */
    ypr_model *f;
    assert_int_equal(ypr__model_clone(m, &f), YPR_OK);
    for (int i = 0; i < f->net.nparams; i++)
        ypr__param_drop_q(&f->net.params[i]);
    assert_int_equal(ypr_model_save(f, fpath), YPR_OK);
    /* tensor bytes: 1 per I8 weight value (+4 per scale) against 4 per float */
    long qs = file_size(qpath), fs = file_size(fpath);
    int64_t fbytes = 0, qbytes = 0;
    for (int i = 0; i < net->nparams; i++) {
        const ypr_param *p = &net->params[i];
        fbytes += 4 * p->numel;
        qbytes += p->dtype == YPR_DTYPE_I8 ? p->numel + 4 * p->nscales : 4 * p->numel +
                  (p->dtype == YPR_DTYPE_I32 ? 4 * p->nscales : 0);
    }
    print_message("%s: file %ld -> %ld bytes (%.2fx); tensor data %lld -> %lld bytes (%.2fx)\n",
                  tag, fs, qs, (double)fs / qs, (long long)fbytes, (long long)qbytes,
                  (double)fbytes / qbytes);
    assert_true(fs - qs >= (fbytes - qbytes) * 9 / 10);   /* the data shrank as counted */
    assert_true(fbytes >= 3 * qbytes);                     /* and that is about 4x */
    /* load: identical quantized model */
    ypr_model *l;
    assert_int_equal(ypr_model_load(qpath, &l), YPR_OK);
    assert_same_model(m, l);
    /* fusing an already fused quantized model rebuilds the net: dtypes stay */
    assert_int_equal(ypr_model_fuse(l), YPR_OK);
    assert_same_model(m, l);
    ypr_model_free(l);
    /* today's file loads too, and its on-grid tensors become I8 / I32 again */
    assert_int_equal(ypr_model_load(fpath, &l), YPR_OK);
    assert_same_model(m, l);
    /* save what was loaded: the same bytes as the quantized save */
    assert_int_equal(ypr_model_save(l, lpath), YPR_OK);
    size_t la, lb;
    char *ba = test_slurp(qpath, &la), *bb = test_slurp(lpath, &lb);
    assert_true(ba && bb && la == lb && memcmp(ba, bb, la) == 0);
    free(ba);
    free(bb);
    ypr_model_free(l);
    /* weights loaded by name into the float model's architecture take the file's dtypes */
    assert_int_equal(ypr_model_load_weights(f, qpath, 1), YPR_OK);
    for (int i = 0; i < f->net.nparams; i++)
        assert_int_equal(f->net.params[i].dtype, net->params[i].dtype);
    ypr_model_free(f);
    ypr_model_free(m);
    remove(qpath);
    remove(fpath);
    remove(lpath);
}

static void test_roundtrip_per_channel(void **state)
{
    (void)state;
    roundtrip(YPR_QSCHEME_PER_CHANNEL, "pc");
}

static void test_roundtrip_dpu(void **state)
{
    (void)state;
    if (test_quick())
        skip();
    roundtrip(YPR_QSCHEME_DPU, "dpu");
}

/* Pruning a quantized model slices the integers and per-channel scales with
 * the values: every tensor stays consistent and round-trips. */
static void test_prune_quantized(void **state)
{
    (void)state;
    ypr_model *m = quantized(YPR_QSCHEME_PER_CHANNEL);
    int64_t before = ypr_model_num_params(m);
    ypr_depgraph *g;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    int cut = 0;
    for (int k = 0; k < ypr_depgraph_num_groups(g) && cut < 3; k++) {
        int64_t ch;
        int prunable;
        assert_int_equal(ypr_depgraph_group_info(g, k, &ch, &prunable), YPR_OK);
        if (!prunable || ch < 4)
            continue;
        const int64_t drop[2] = {0, ch - 2};
        assert_int_equal(ypr_depgraph_prune_group(g, k, drop, 2), YPR_OK);
        cut++;
    }
    ypr_depgraph_free(g);
    assert_true(cut > 0 && ypr_model_num_params(m) < before);
    int quantized = 0;
    for (int i = 0; i < m->net.nparams; i++) {
        const ypr_param *p = &m->net.params[i];
        if (p->dtype == YPR_DTYPE_F32)
            continue;
        quantized++;
        assert_true(ypr__param_consistent(p));
        assert_true(p->nscales == 1 || p->nscales == p->shape[0]);
    }
    assert_true(quantized >= 6);
    assert_int_equal(ypr_model_save(m, "dtype_pruned.safetensors"), YPR_OK);
    ypr_model *l;
    assert_int_equal(ypr_model_load("dtype_pruned.safetensors", &l), YPR_OK);
    assert_same_model(m, l);
    ypr_model_free(l);
    ypr_model_free(m);
    remove("dtype_pruned.safetensors");
}

/* ------------------------------------------------ bad files */

typedef struct edit {
    const char *drop;          /* leave this tensor out */
    const char *name;          /* replace this tensor … */
    int dtype, ndim;           /* … by these */
    int64_t shape[2];
    const void *data;
} edit;

/* Rewrite the checkpoint `src` into `dst` with one edit. */
static void rewrite(const char *src, const char *dst, const edit *ed)
{
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open(src, &st), YPR_OK);
    size_t n = ypr__st_count(st), k = 0, nm = ypr__st_meta_count(st);
    ypr_st_entry *e = calloc(n, sizeof *e);
    const char **meta = calloc(2 * nm + 1, sizeof *meta);
    assert_true(e && meta);
    for (size_t i = 0; i < n; i++) {
        const ypr_st_tensor *t = ypr__st_at(st, i);
        if (ed->drop && strcmp(t->name, ed->drop) == 0)
            continue;
        if (ed->name && strcmp(t->name, ed->name) == 0)
            e[k++] = (ypr_st_entry){t->name, ed->dtype, ed->ndim, ed->shape, ed->data};
        else
            e[k++] = (ypr_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    for (size_t i = 0; i < nm; i++) {
        meta[2 * i] = ypr__st_meta_key(st, i);
        meta[2 * i + 1] = ypr__st_meta(st, meta[2 * i]);
    }
    assert_int_equal(ypr__st_write(dst, e, k, meta, nm), YPR_OK);
    free(e);
    free(meta);
    ypr__st_close(st);
}

static void expect_error(const char *path, const edit *ed, int code, const char *tensor)
{
    rewrite("dtype_bad_src.safetensors", path, ed);
    ypr_model *m = (ypr_model *)1;
    assert_int_equal(ypr_model_load(path, &m), code);
    assert_null(m);
    const char *msg = ypr_last_error();
    if (!strstr(msg, path) || !strstr(msg, tensor))
        fail_msg("message '%s' names neither %s nor %s", msg, path, tensor);
}

static void test_bad_files(void **state)
{
    (void)state;
    ypr_model *m = quantized(YPR_QSCHEME_PER_CHANNEL);
    assert_int_equal(ypr_model_save(m, "dtype_bad_src.safetensors"), YPR_OK);
    /* the first quantized conv weight and its bias */
    const ypr_param *w = NULL, *b = NULL;
    const ypr_node *cv = NULL;
    for (int i = 0; i < m->net.nnodes && !w; i++) {
        const ypr_node *nd = &m->net.nodes[i];
        if (nd->kind == YPR_NODE_CONV && m->net.params[nd->p[0]].dtype == YPR_DTYPE_I8 &&
            nd->p[1] >= 0 && m->net.params[nd->p[1]].dtype == YPR_DTYPE_I32) {
            cv = nd;
            w = &m->net.params[nd->p[0]];
            b = &m->net.params[nd->p[1]];
        }
    }
    if (!w || !b || !cv) {
        fail_msg("no quantized conv with an I32 bias");
        return;
    }
    char wscale[200];
    snprintf(wscale, sizeof wscale, "%s.scale", w->name);
    (void)b;
    const char *bad = "dtype_bad.safetensors";
    edit ed = {wscale, NULL, 0, 0, {0, 0}, NULL};
    expect_error(bad, &ed, YPR_EFORMAT, w->name);                   /* scale missing */
    float *s = malloc((size_t)w->nscales * sizeof *s);
    memcpy(s, w->scales, (size_t)w->nscales * sizeof *s);
    const float badv[3] = {NAN, 0.0f, -0.5f};
    for (int k = 0; k < 3; k++) {                                   /* NaN, 0, < 0 */
        s[w->nscales - 1] = badv[k];
        ed = (edit){NULL, wscale, YPR_DT_F32, 1, {w->nscales, 0}, s};
        expect_error(bad, &ed, YPR_ERANGE, w->name);
    }
    ed = (edit){NULL, wscale, YPR_DT_F32, 1, {w->nscales - 1, 0}, w->scales};
    expect_error(bad, &ed, YPR_ESHAPE, w->name);                    /* scale count */
    ed = (edit){NULL, wscale, YPR_DT_I32, 1, {w->nscales, 0}, w->q};
    expect_error(bad, &ed, YPR_EFORMAT, w->name);                   /* scales not F32 */
    /* -128: outside the weight step's [-127, 127] */
    int8_t *q = malloc((size_t)w->numel);
    memcpy(q, w->q, (size_t)w->numel);
    q[w->numel / 2] = -128;
    assert_int_equal(cv->wq.qmin, -127);
    ed = (edit){NULL, w->name, YPR_DT_I8, 2, {w->shape[0], w->numel / w->shape[0]}, q};
    expect_error(bad, &ed, YPR_ESHAPE, w->name);                    /* shape [O, rest] */
    /* the right shape through a 4-D entry */
    {
        ypr_safetensors *st;
        assert_int_equal(ypr__st_open("dtype_bad_src.safetensors", &st), YPR_OK);
        size_t n = ypr__st_count(st), nm = ypr__st_meta_count(st);
        ypr_st_entry *e = calloc(n, sizeof *e);
        const char **meta = calloc(2 * nm + 1, sizeof *meta);
        for (size_t i = 0; i < n; i++) {
            const ypr_st_tensor *t = ypr__st_at(st, i);
            e[i] = (ypr_st_entry){t->name, t->dtype, t->ndim, t->shape,
                                  strcmp(t->name, w->name) == 0 ? (const void *)q : t->data};
        }
        for (size_t i = 0; i < nm; i++) {
            meta[2 * i] = ypr__st_meta_key(st, i);
            meta[2 * i + 1] = ypr__st_meta(st, meta[2 * i]);
        }
        assert_int_equal(ypr__st_write(bad, e, n, meta, nm), YPR_OK);
        free(e);
        free(meta);
        ypr__st_close(st);
        ypr_model *l = NULL;
        assert_int_equal(ypr_model_load(bad, &l), YPR_ERANGE);
        assert_non_null(strstr(ypr_last_error(), w->name));
        assert_non_null(strstr(ypr_last_error(), "-128"));
        /* a failed load of weights changes nothing: values and dtypes as before */
        ypr_model *c;
        assert_int_equal(ypr__model_clone(m, &c), YPR_OK);
        assert_int_equal(ypr_model_load_weights(c, bad, 1), YPR_ERANGE);
        assert_same_model(m, c);
        ypr_model_free(c);
    }
    /* the bias's zero point outside I32 cannot be written; one outside I8 for the weight can */
    int32_t *z = calloc((size_t)w->nscales, sizeof *z);
    z[0] = 200;
    char wzero[200];
    snprintf(wzero, sizeof wzero, "%s.zero_point", w->name);
    {
        /* add a zero-point tensor: rewrite with an extra entry */
        ypr_safetensors *st;
        assert_int_equal(ypr__st_open("dtype_bad_src.safetensors", &st), YPR_OK);
        size_t n = ypr__st_count(st), nm = ypr__st_meta_count(st);
        ypr_st_entry *e = calloc(n + 1, sizeof *e);
        const char **meta = calloc(2 * nm + 1, sizeof *meta);
        for (size_t i = 0; i < n; i++) {
            const ypr_st_tensor *t = ypr__st_at(st, i);
            e[i] = (ypr_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
        }
        e[n] = (ypr_st_entry){wzero, YPR_DT_I32, 1, &w->nscales, z};
        for (size_t i = 0; i < nm; i++) {
            meta[2 * i] = ypr__st_meta_key(st, i);
            meta[2 * i + 1] = ypr__st_meta(st, meta[2 * i]);
        }
        assert_int_equal(ypr__st_write(bad, e, n + 1, meta, nm), YPR_OK);
        free(e);
        free(meta);
        ypr__st_close(st);
        ypr_model *l = NULL;
        assert_int_equal(ypr_model_load(bad, &l), YPR_ERANGE);
        assert_non_null(strstr(ypr_last_error(), w->name));
    }
    free(z);
    free(q);
    free(s);
    ypr_model_free(m);
    remove(bad);
    remove("dtype_bad_src.safetensors");
}

/* ------------------------------------------------ the public struct */

static void test_tensor_info_abi(void **state)
{
    (void)state;
    ypr_model *m = quantized(YPR_QSCHEME_PER_CHANNEL);
    int n = ypr_model_num_tensors(m), found = 0;
    for (int i = 0; i < n; i++) {
        ypr_tensor_info t;
        memset(&t, 0xAB, sizeof t);
        t.struct_size = sizeof t;
        assert_int_equal(ypr_model_tensor_info_at(m, i, &t), YPR_OK);
        const char *name;
        const float *fd;
        int ndim;
        int64_t shape[6];
        assert_int_equal(ypr_model_tensor(m, i, &name, &ndim, shape, &fd), YPR_OK);
        assert_true(t.struct_size == sizeof t && t.name == name && t.fdata == fd);
        assert_int_equal(t.ndim, ndim);
        assert_memory_equal(t.shape, shape, sizeof shape);
        if (t.dtype == YPR_DTYPE_F32) {
            assert_true(t.data == (const void *)fd && t.nscales == 0 && t.scales == NULL &&
                        t.axis == -1 && t.scale == 0.0f);
            continue;
        }
        /* the float view is (q - zero)·scale */
        assert_true(t.nscales == 1 || (t.axis == 0 && t.nscales == t.shape[0]));
        int64_t per = t.numel / t.nscales;
        for (int64_t k = 0; k < t.numel; k++) {
            int64_t c = k / per;
            int64_t v = t.dtype == YPR_DTYPE_I8 ? ((const int8_t *)t.data)[k]
                                                : ((const int32_t *)t.data)[k];
            assert_true((float)((double)(v - t.zero_points[c]) * t.scales[c]) == t.fdata[k]);
        }
        assert_true(t.scale == t.scales[0] && t.zero_point == t.zero_points[0]);
        found++;
        /* by name: the same */
        ypr_tensor_info u;
        memset(&u, 0, sizeof u);
        u.struct_size = sizeof u;
        assert_int_equal(ypr_model_tensor_info(m, name, &u), YPR_OK);
        assert_memory_equal(&u, &t, sizeof u);
        if (found > 1)
            continue;
        /* an older caller whose struct ended before `scale`: filled up to there only */
        unsigned char buf[sizeof(ypr_tensor_info) + 32];
        memset(buf, 0xAB, sizeof buf);
        ypr_tensor_info *old = (ypr_tensor_info *)(void *)buf;
        const size_t oldsize = offsetof(ypr_tensor_info, scale);
        old->struct_size = oldsize;
        assert_int_equal(ypr_model_tensor_info(m, name, old), YPR_OK);
        assert_true(old->struct_size == oldsize && old->dtype == t.dtype &&
                    old->nscales == t.nscales && old->fdata == t.fdata);
        for (size_t k = oldsize; k < sizeof buf; k++)
            assert_int_equal(buf[k], 0xAB);
        /* a newer caller's larger struct: ours filled, the rest zero */
        memset(buf, 0xAB, sizeof buf);
        old->struct_size = sizeof buf;
        assert_int_equal(ypr_model_tensor_info(m, name, old), YPR_OK);
        assert_true(old->scales == t.scales && old->struct_size == sizeof buf);
        for (size_t k = sizeof(ypr_tensor_info); k < sizeof buf; k++)
            assert_int_equal(buf[k], 0);
        /* too small: refused, nothing written */
        memset(buf, 0xAB, sizeof buf);
        old->struct_size = YPR_TENSOR_INFO_MIN_SIZE - 1;
        assert_int_equal(ypr_model_tensor_info(m, name, old), YPR_EINVAL);
        assert_int_equal(buf[sizeof(size_t)], 0xAB);
        old->struct_size = YPR_TENSOR_INFO_MIN_SIZE;   /* the minimum: fine */
        assert_int_equal(ypr_model_tensor_info_at(m, i, old), YPR_OK);
        assert_true(old->fdata == t.fdata && buf[YPR_TENSOR_INFO_MIN_SIZE] == 0xAB);
        /* set_tensor: on the grid keeps the dtype, off it falls back to F32 */
        float *v = malloc((size_t)t.numel * sizeof *v);
        memcpy(v, t.fdata, (size_t)t.numel * sizeof *v);
        v[0] = (float)(t.scales[0] * 1.0);   /* q = 1 + zero in channel 0 */
        assert_int_equal(ypr_model_set_tensor(m, i, v, t.numel), YPR_OK);
        assert_int_equal(ypr_model_tensor_info_at(m, i, &u), YPR_OK);
        assert_int_equal(u.dtype, t.dtype);
        v[0] = t.scales[0] * 0.5f + t.scales[0] * 0.25f;   /* 0.75 step: off the grid */
        assert_int_equal(ypr_model_set_tensor(m, i, v, t.numel), YPR_OK);
        assert_int_equal(ypr_model_tensor_info_at(m, i, &u), YPR_OK);
        assert_true(u.dtype == YPR_DTYPE_F32 && u.data == (const void *)u.fdata && u.fdata[0] == v[0]);
        free(v);
    }
    assert_true(found >= 4);
    /* a float view changed behind the integers' back (as training would):
     * shown and saved as F32, and reloaded with its values */
    for (int i = 0; i < n; i++) {
        ypr_param *p = &m->net.params[i];
        if (p->dtype != YPR_DTYPE_I8)
            continue;
        p->data[0] = nextafterf(p->data[0], INFINITY);
        ypr_tensor_info u = {.struct_size = sizeof u};
        assert_int_equal(ypr_model_tensor_info_at(m, i, &u), YPR_OK);
        assert_true(u.dtype == YPR_DTYPE_F32 && u.data == (const void *)p->data &&
                    u.scales == NULL && u.nscales == 0);
        assert_int_equal(ypr_model_save(m, "dtype_stale.safetensors"), YPR_OK);
        ypr_model *l;
        assert_int_equal(ypr_model_load("dtype_stale.safetensors", &l), YPR_OK);
        assert_int_equal(l->net.params[i].dtype, YPR_DTYPE_F32);
        assert_memory_equal(l->net.params[i].data, p->data, (size_t)p->numel * sizeof(float));
        ypr_model_free(l);
        remove("dtype_stale.safetensors");
        break;
    }
    ypr_tensor_info t = {.struct_size = sizeof t};
    assert_int_equal(ypr_model_tensor_info(m, "no.such.tensor", &t), YPR_ENOTFOUND);
    assert_int_equal(ypr_model_tensor_info_at(m, n, &t), YPR_ERANGE);
    assert_int_equal(ypr_model_tensor_info_at(m, -1, &t), YPR_ERANGE);
    assert_int_equal(ypr_model_tensor_info(NULL, "x", &t), YPR_EINVAL);
    assert_int_equal(ypr_model_tensor_info(m, "x", NULL), YPR_EINVAL);
    t.struct_size = 8;
    assert_int_equal(ypr_model_tensor_info(m, "no.such.tensor", &t), YPR_EINVAL);
    ypr_model_free(m);
}

int main(void)
{
    data_dir = getenv("YPR_TEST_DATA");
    if (!data_dir)
        data_dir = "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_rules),
        cmocka_unit_test(test_roundtrip_per_channel),
        cmocka_unit_test(test_roundtrip_dpu),
        cmocka_unit_test(test_prune_quantized),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_tensor_info_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
