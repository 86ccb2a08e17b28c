/* YOLOv7's ComputeLoss and ComputeLossOTA (lib/train/loss.c) against our own
 * PyTorch re-implementation (tests/data/make_loss_fixture.py, autograd for
 * the head gradients), central finite differences of the gradient, the
 * options from a hyp and a net, and bad input. White-box. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "lib/train/train.h"
#include "test_util.h"

static char data_dir[1024];

/* Loss items: |c − p| ≤ 1e-4·|p| (+1e-7 absolute for the items that are 0).
 * Gradients: per level, max |c − p| over all elements ≤ 1e-3 · max |p|. */
#define LOSS_RTOL 1e-4
#define GRAD_RTOL 1e-3

typedef struct fcase {
    char name[64];
    ypr_loss_opts o;
    int64_t B, nt, hl[YPR_MAX_LEVELS], wl[YPR_MAX_LEVELS];
    float *data;                /* the whole .bin */
    const float *head[YPR_MAX_LEVELS], *targets, *grad[2][YPR_MAX_LEVELS];
    double loss[2][4];
} fcase;

static ypr_json *manifest(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/loss/manifest.json", data_dir);
    size_t n;
    char *text = test_slurp(path, &n);
    assert_non_null(text);
    ypr_json *j = NULL;
    assert_int_equal(ypr__json_parse(text, n, path, &j), YPR_OK);
    free(text);
    return j;
}

static double num(const ypr_json *o, const char *key)
{
    const ypr_json *v = ypr__json_get(o, key);
    assert_non_null(v);
    return ypr__json_num(v);
}

static void load_case(const ypr_json *c, fcase *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", ypr__json_str(ypr__json_get(c, "name")));
    const ypr_json *o = ypr__json_get(c, "opts");
    f->o.nc = (int)num(o, "nc");
    f->o.nl = (int)num(o, "nl");
    f->o.na = (int)num(o, "na");
    const ypr_json *an = ypr__json_get(o, "anchors"), *st = ypr__json_get(o, "strides");
    for (size_t i = 0; i < ypr__json_len(an); i++)
        f->o.anchors[i] = (float)ypr__json_num(ypr__json_at(an, i));
    for (size_t i = 0; i < ypr__json_len(st); i++)
        f->o.strides[i] = (float)ypr__json_num(ypr__json_at(st, i));
    f->o.box = (float)num(o, "box");
    f->o.obj = (float)num(o, "obj");
    f->o.cls = (float)num(o, "cls");
    f->o.cls_pw = (float)num(o, "cls_pw");
    f->o.obj_pw = (float)num(o, "obj_pw");
    f->o.anchor_t = (float)num(o, "anchor_t");
    f->o.label_smoothing = (float)num(o, "label_smoothing");
    f->o.fl_gamma = (float)num(o, "fl_gamma");
    f->B = (int64_t)num(c, "batch");
    f->nt = (int64_t)num(c, "nt");
    const ypr_json *lv = ypr__json_get(c, "levels");
    assert_int_equal((int)ypr__json_len(lv), f->o.nl);
    for (int l = 0; l < f->o.nl; l++) {
        f->hl[l] = (int64_t)ypr__json_num(ypr__json_at(ypr__json_at(lv, l), 0));
        f->wl[l] = (int64_t)ypr__json_num(ypr__json_at(ypr__json_at(lv, l), 1));
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/loss/%s", data_dir, ypr__json_str(ypr__json_get(c, "file")));
    size_t n;
    f->data = (float *)test_slurp(path, &n);
    assert_non_null(f->data);
    const ypr_json *h = ypr__json_get(c, "head");
    for (int l = 0; l < f->o.nl; l++)
        f->head[l] = f->data + (int64_t)ypr__json_num(ypr__json_at(h, l));
    f->targets = f->data + (int64_t)num(c, "targets");
    for (int ota = 0; ota < 2; ota++) {
        char key[32];
        snprintf(key, sizeof key, "grad_ota%d", ota);
        const ypr_json *g = ypr__json_get(c, key);
        for (int l = 0; l < f->o.nl; l++)
            f->grad[ota][l] = f->data + (int64_t)ypr__json_num(ypr__json_at(g, l));
        snprintf(key, sizeof key, "loss_ota%d", ota);
        const ypr_json *v = ypr__json_get(c, key);
        for (int k = 0; k < 4; k++)
            f->loss[ota][k] = ypr__json_num(ypr__json_at(v, (size_t)k));
    }
}

static int64_t level_size(const fcase *f, int l)
{
    return f->B * f->o.na * (f->o.nc + 5) * f->hl[l] * f->wl[l];
}

static int run_case(ypr_loss *L, const fcase *f, const ypr_loss_opts *o, const float *const *head,
                    double out[4], float *const *grad)
{
    return ypr__loss_run(L, o, f->B, head, f->hl, f->wl, f->hl[0] * (int64_t)f->o.strides[0],
                         f->wl[0] * (int64_t)f->o.strides[0], f->targets, f->nt, out, grad);
}

/* Central difference of the total in head coordinate (l, i). */
static double fd(ypr_loss *L, const fcase *f, const ypr_loss_opts *o, float **head, int l, int64_t i)
{
    const float x = head[l][i], eps = 1e-3f;
    double up[4], dn[4];
    head[l][i] = x + eps;
    double s1 = (double)head[l][i] - x;
    assert_int_equal(run_case(L, f, o, (const float *const *)head, up, NULL), YPR_OK);
    head[l][i] = x - eps;
    double s2 = x - (double)head[l][i];
    assert_int_equal(run_case(L, f, o, (const float *const *)head, dn, NULL), YPR_OK);
    head[l][i] = x;
    return (up[3] - dn[3]) / (s1 + s2);
}

/* For every case and both losses: items and gradients against PyTorch. */
static void test_against_pytorch(void **state)
{
    (void)state;
    ypr_json *j = manifest();
    const ypr_json *cases = ypr__json_get(j, "cases");
    assert_true(ypr__json_len(cases) >= 5);
    ypr_loss *L = NULL;
    assert_int_equal(ypr__loss_create(&L), YPR_OK);
    for (int pass = 0; pass < 2; pass++)     /* the second pass reuses the grown workspace */
        for (size_t ci = 0; ci < ypr__json_len(cases); ci++) {
            fcase f;
            load_case(ypr__json_at(cases, ci), &f);
            float *grad[YPR_MAX_LEVELS];
            for (int l = 0; l < f.o.nl; l++) {
                grad[l] = malloc((size_t)level_size(&f, l) * sizeof(float));
                for (int64_t i = 0; i < level_size(&f, l); i++)
                    grad[l][i] = 123.0f;   /* overwritten, not accumulated */
            }
            for (int ota = 0; ota < 2; ota++) {
                ypr_loss_opts o = f.o;
                o.ota = ota;
                double out[4], out2[4];
                assert_int_equal(run_case(L, &f, &o, f.head, out, grad), YPR_OK);
                assert_int_equal(run_case(L, &f, &o, f.head, out2, NULL), YPR_OK);
                double worst = 0;
                for (int k = 0; k < 4; k++) {
                    double p = f.loss[ota][k], d = fabs(out[k] - p);
                    assert_true(out[k] == out2[k]);
                    if (d > LOSS_RTOL * fabs(p) + 1e-7)
                        fail_msg("%s ota %d: item %d is %.9g, PyTorch %.9g", f.name, ota, k, out[k], p);
                    if (p != 0 && d / fabs(p) > worst)
                        worst = d / fabs(p);
                }
                double gworst = 0;
                for (int l = 0; l < f.o.nl; l++) {
                    double gmax = 0, dmax = 0;
                    for (int64_t i = 0; i < level_size(&f, l); i++) {
                        double p = f.grad[ota][l][i];
                        gmax = fmax(gmax, fabs(p));
                        dmax = fmax(dmax, fabs(grad[l][i] - p));
                    }
                    if (dmax > GRAD_RTOL * gmax)
                        fail_msg("%s ota %d level %d: gradient off by %g (max |grad| %g)", f.name, ota,
                                 l, dmax, gmax);
                    gworst = fmax(gworst, dmax / gmax);
                }
                if (pass == 0)
                    print_message("%-22s ota %d: loss rel err %.2e, grad err / max|grad| %.2e\n",
                                  f.name, ota, worst, gworst);
            }
            for (int l = 0; l < f.o.nl; l++)
                free(grad[l]);
            free(f.data);
        }
    ypr__loss_free(L);
    ypr__json_free(j);
}

/* The gradient against central differences at the coordinates where it is
 * largest (box, objectness, class channels), for both losses: within 2e-3
 * relative for objectness and classes. The objectness target is a detached
 * function of the box (as in YOLOv7), so box channels are differenced with
 * the objectness gain at 0. CIoU's alpha is a constant in YOLOv7's gradient
 * but not in a difference quotient: through w, h it changes the slope by
 * tens of percent, through x, y (via the IoU) by a term of order v², so
 * only the x, y channels are differenced, within 5 % (the PyTorch
 * comparison above holds all channels to 1e-3). */
static void test_finite_differences(void **state)
{
    (void)state;
    ypr_json *j = manifest();
    const ypr_json *cases = ypr__json_get(j, "cases");
    ypr_loss *L = NULL;
    assert_int_equal(ypr__loss_create(&L), YPR_OK);
    int checked = 0;
    double worst[3] = {0, 0, 0};
    for (size_t ci = 0; ci < 4; ci++) {
        fcase f;
        load_case(ypr__json_at(cases, ci), &f);
        float *head[YPR_MAX_LEVELS], *grad[YPR_MAX_LEVELS];
        for (int l = 0; l < f.o.nl; l++) {
            head[l] = malloc((size_t)level_size(&f, l) * sizeof(float));
            grad[l] = malloc((size_t)level_size(&f, l) * sizeof(float));
            memcpy(head[l], f.head[l], (size_t)level_size(&f, l) * sizeof(float));
        }
        int no = f.o.nc + 5;
        for (int ota = 0; ota < 2; ota++)
            for (int group = 0; group < 3; group++) {   /* box, obj, cls */
                if (group == 2 && f.o.nc == 1)
                    continue;
                ypr_loss_opts o = f.o;
                o.ota = ota;
                if (group == 0)
                    o.obj = 0;
                double out[4];
                assert_int_equal(run_case(L, &f, &o, (const float *const *)head, out, grad), YPR_OK);
                for (int l = 0; l < f.o.nl; l++) {
                    int64_t best = -1, hw = f.hl[l] * f.wl[l];
                    for (int64_t i = 0; i < level_size(&f, l); i++) {
                        int k = (int)(i / hw % no);
                        int g = k < 2 ? 0 : k < 4 ? -1 : k == 4 ? 1 : 2;
                        if (g == group && (best < 0 || fabsf(grad[l][i]) > fabsf(grad[l][best])))
                            best = i;
                    }
                    if (best < 0 || grad[l][best] == 0)
                        continue;
                    double num_g = fd(L, &f, &o, head, l, best);
                    double an = grad[l][best];
                    double tol = group == 0 ? 5e-2 : 2e-3;
                    worst[group] = fmax(worst[group], fabs(num_g - an) / fabs(an));
                    if (fabs(num_g - an) > tol * fabs(an) + 1e-7)
                        fail_msg("%s ota %d level %d index %lld: gradient %.8g, difference %.8g",
                                 f.name, ota, l, (long long)best, an, num_g);
                    checked++;
                }
            }
        for (int l = 0; l < f.o.nl; l++) {
            free(head[l]);
            free(grad[l]);
        }
        free(f.data);
    }
    print_message("%d coordinates; worst relative difference box %.2e, obj %.2e, cls %.2e\n",
                  checked, worst[0], worst[1], worst[2]);
    assert_true(checked >= 30);
    ypr__loss_free(L);
    ypr__json_free(j);
}

/* Gains rescaled as train.py does, anchors and strides from the detect node. */
static void test_opts_init(void **state)
{
    (void)state;
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/model/mini.yaml", data_dir);
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(cfg, 0, 0, 0, 3, &m), YPR_OK);
    ypr_hyp h;
    memset(&h, 0, sizeof h);   /* hyp.scratch.p5 */
    h.lr0 = 0.01, h.lrf = 0.1, h.momentum = 0.937, h.weight_decay = 0.0005;
    h.box = 0.05, h.cls = 0.3, h.cls_pw = 1.0, h.obj = 0.7, h.obj_pw = 1.0;
    h.iou_t = 0.2, h.anchor_t = 4.0, h.fl_gamma = 0.0, h.loss_ota = 1, h.label_smoothing = 0.0;
    ypr_loss_opts o;
    assert_int_equal(ypr__loss_opts_init(&o, &h, &m->net, 64), YPR_OK);
    assert_int_equal(o.nc, 3);
    assert_int_equal(o.nl, 2);
    assert_int_equal(o.na, 3);
    assert_int_equal(o.ota, 1);
    /* mini.yaml: 2 levels, nc 3, 64 px: box 0.05·3/2, cls 0.3·3/80·3/2, obj 0.7·0.01·3/2 */
    assert_true(fabsf(o.box - 0.075f) < 1e-8f);
    assert_true(fabsf(o.cls - 0.016875f) < 1e-9f);
    assert_true(fabsf(o.obj - 0.0105f) < 1e-9f);
    assert_true(o.strides[0] == 4.0f && o.strides[1] == 8.0f);
    /* anchors 10,13 … in pixels / stride */
    assert_true(fabsf(o.anchors[0] - 2.5f) < 1e-6f && fabsf(o.anchors[1] - 3.25f) < 1e-6f);
    assert_true(fabsf(o.anchors[6] - 3.75f) < 1e-6f && fabsf(o.anchors[11] - 14.875f) < 1e-6f);
    assert_true(o.anchor_t == 4.0f && o.cls_pw == 1.0f && o.label_smoothing == 0.0f);
    h.loss_ota = 0;
    assert_int_equal(ypr__loss_opts_init(&o, &h, &m->net, 640), YPR_OK);
    assert_int_equal(o.ota, 0);
    assert_true(fabsf(o.obj - 1.05f) < 1e-6f);
    ypr_loss_opts keep = o;
    h.box = NAN;
    assert_int_equal(ypr__loss_opts_init(&o, &h, &m->net, 640), YPR_EINVAL);
    assert_memory_equal(&keep, &o, sizeof o);   /* untouched on failure */
    h.box = 0.05;
    assert_int_equal(ypr__loss_opts_init(&o, &h, &m->net, 0), YPR_EINVAL);
    ypr_net empty;
    ypr__net_init(&empty);
    assert_int_equal(ypr__loss_opts_init(&o, &h, &empty, 640), YPR_EINVAL);
    ypr__net_free(&empty);
    ypr_model_free(m);
}

/* Bad input: refused with a message naming the level or row; gradients untouched. */
static void test_bad_input(void **state)
{
    (void)state;
    ypr_json *j = manifest();
    fcase f;
    load_case(ypr__json_at(ypr__json_get(j, "cases"), 0), &f);
    ypr_loss *L = NULL;
    assert_int_equal(ypr__loss_create(&L), YPR_OK);
    float *head[YPR_MAX_LEVELS], *grad[YPR_MAX_LEVELS];
    for (int l = 0; l < f.o.nl; l++) {
        head[l] = malloc((size_t)level_size(&f, l) * sizeof(float));
        grad[l] = malloc((size_t)level_size(&f, l) * sizeof(float));
        memcpy(head[l], f.head[l], (size_t)level_size(&f, l) * sizeof(float));
        for (int64_t i = 0; i < level_size(&f, l); i++)
            grad[l][i] = 7.0f;
    }
    double out[4];
    const float *const *ch = (const float *const *)head;
    int64_t img = f.hl[0] * 8;
    for (int ota = 0; ota < 2; ota++) {
        ypr_loss_opts o = f.o;
        o.ota = ota;
        head[1][17] = NAN;
        assert_int_equal(ypr__loss_run(L, &o, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_ERANGE);
        assert_non_null(strstr(ypr_last_error(), "level 1"));
        head[1][17] = INFINITY;
        assert_int_equal(ypr__loss_run(L, &o, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_ERANGE);
        head[1][17] = f.head[1][17];
        for (int l = 0; l < f.o.nl; l++)
            for (int64_t i = 0; i < level_size(&f, l); i++)
                assert_true(grad[l][i] == 7.0f);

        float *t = malloc((size_t)f.nt * 6 * sizeof(float));
        const struct { int64_t row; int col; float v; } bad[] = {
            {2, 1, 3.0f},     /* class = nc */
            {2, 1, -1.0f},
            {2, 1, 0.5f},     /* not an integer */
            {3, 0, 3.0f},     /* image = B */
            {3, 0, -1.0f},
            {3, 2, NAN},
            {3, 4, INFINITY},
            {3, 5, -0.1f},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            memcpy(t, f.targets, (size_t)f.nt * 6 * sizeof(float));
            t[bad[k].row * 6 + bad[k].col] = bad[k].v;
            assert_int_equal(ypr__loss_run(L, &o, f.B, ch, f.hl, f.wl, img, img, t, f.nt, out, grad),
                             YPR_EINVAL);
            char want[32];
            snprintf(want, sizeof want, "row %lld", (long long)bad[k].row);
            if (!strstr(ypr_last_error(), want))
                fail_msg("case %zu: message \"%s\" does not name %s", k, ypr_last_error(), want);
        }
        free(t);
        /* arguments */
        assert_int_equal(ypr__loss_run(NULL, &o, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        assert_int_equal(ypr__loss_run(L, &o, 0, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        assert_int_equal(ypr__loss_run(L, &o, f.B, ch, f.hl, f.wl, img, img, NULL, f.nt, out, grad),
                         YPR_EINVAL);
        int64_t h0[YPR_MAX_LEVELS];
        memcpy(h0, f.hl, sizeof h0);
        h0[2] = 0;
        assert_int_equal(ypr__loss_run(L, &o, f.B, ch, h0, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        ypr_loss_opts b = o;
        b.nl = 6;
        assert_int_equal(ypr__loss_run(L, &b, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        b = o;
        b.anchors[4] = 0;
        assert_int_equal(ypr__loss_run(L, &b, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        b = o;
        b.box = NAN;
        assert_int_equal(ypr__loss_run(L, &b, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_EINVAL);
        for (int l = 0; l < f.o.nl; l++)
            for (int64_t i = 0; i < level_size(&f, l); i++)
                assert_true(grad[l][i] == 7.0f);
        /* and it still works afterwards */
        assert_int_equal(ypr__loss_run(L, &o, f.B, ch, f.hl, f.wl, img, img, f.targets, f.nt, out, grad),
                         YPR_OK);
        assert_true(fabs(out[3] - f.loss[ota][3]) <= LOSS_RTOL * f.loss[ota][3]);
        for (int l = 0; l < f.o.nl; l++)
            for (int64_t i = 0; i < level_size(&f, l); i++)
                grad[l][i] = 7.0f;
    }
    ypr__loss_create(NULL);
    ypr__loss_free(NULL);
    for (int l = 0; l < f.o.nl; l++) {
        free(head[l]);
        free(grad[l]);
    }
    free(f.data);
    ypr__loss_free(L);
    ypr__json_free(j);
}

/* The train-step fixture (make_train_fixture.py) is consistent with this
 * loss: on its train-mode head maps, the loss items and d total / d head. */
static float *st_f32(const ypr_safetensors *st, const char *name, int64_t *numel)
{
    const ypr_st_tensor *t = ypr__st_find(st, name);
    if (!t)
        fail_msg("train.safetensors: no %s", name);
    float *v = malloc((size_t)t->numel * sizeof(float));
    assert_int_equal(ypr__st_to_f32(t, v), YPR_OK);
    if (numel)
        *numel = t->numel;
    return v;
}

static void test_train_fixture_heads(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/train/manifest.json", data_dir);
    size_t n;
    char *text = test_slurp(path, &n);
    assert_non_null(text);
    ypr_json *j = NULL;
    assert_int_equal(ypr__json_parse(text, n, path, &j), YPR_OK);
    free(text);
    /* reuse the case loader for the options */
    fcase f;
    memset(&f, 0, sizeof f);
    const ypr_json *o = ypr__json_get(j, "opts");
    f.o.nc = (int)num(o, "nc");
    f.o.nl = (int)num(o, "nl");
    f.o.na = (int)num(o, "na");
    for (size_t i = 0; i < ypr__json_len(ypr__json_get(o, "anchors")); i++)
        f.o.anchors[i] = (float)ypr__json_num(ypr__json_at(ypr__json_get(o, "anchors"), i));
    for (int l = 0; l < f.o.nl; l++)
        f.o.strides[l] = (float)ypr__json_num(ypr__json_at(ypr__json_get(o, "strides"), (size_t)l));
    f.o.box = (float)num(o, "box");
    f.o.obj = (float)num(o, "obj");
    f.o.cls = (float)num(o, "cls");
    f.o.cls_pw = (float)num(o, "cls_pw");
    f.o.obj_pw = (float)num(o, "obj_pw");
    f.o.anchor_t = (float)num(o, "anchor_t");
    snprintf(path, sizeof path, "%s/train/train.safetensors", data_dir);
    ypr_safetensors *st = NULL;
    assert_int_equal(ypr__st_open(path, &st), YPR_OK);
    int64_t nt6;
    float *targets = st_f32(st, "targets", &nt6);
    float *head[YPR_MAX_LEVELS], *grad[YPR_MAX_LEVELS];
    int64_t size[YPR_MAX_LEVELS];
    for (int l = 0; l < f.o.nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "head.%d", l);
        head[l] = st_f32(st, name, &size[l]);
        const ypr_st_tensor *t = ypr__st_find(st, name);
        f.B = t->shape[0];
        f.hl[l] = t->shape[2];
        f.wl[l] = t->shape[3];
        grad[l] = malloc((size_t)size[l] * sizeof(float));
    }
    ypr_loss *L = NULL;
    assert_int_equal(ypr__loss_create(&L), YPR_OK);
    for (int ota = 0; ota < 2; ota++) {
        ypr_loss_opts lo = f.o;
        lo.ota = ota;
        double out[4];
        assert_int_equal(ypr__loss_run(L, &lo, f.B, (const float *const *)head, f.hl, f.wl, 64, 64,
                                       targets, nt6 / 6, out, grad), YPR_OK);
        char key[32];
        snprintf(key, sizeof key, "loss_ota%d", ota);
        for (int k = 0; k < 4; k++) {
            double p = ypr__json_num(ypr__json_at(ypr__json_get(j, key), (size_t)k));
            if (fabs(out[k] - p) > LOSS_RTOL * fabs(p) + 1e-7)
                fail_msg("train fixture ota %d: item %d is %.9g, PyTorch %.9g", ota, k, out[k], p);
        }
        for (int l = 0; l < f.o.nl; l++) {
            char name[64];
            snprintf(name, sizeof name, "ota%d.head_grad.%d", ota, l);
            float *ref = st_f32(st, name, NULL);
            double gmax = 0, dmax = 0;
            for (int64_t i = 0; i < size[l]; i++) {
                gmax = fmax(gmax, fabs(ref[i]));
                dmax = fmax(dmax, fabs(grad[l][i] - ref[i]));
            }
            assert_true(gmax > 0);
            if (dmax > GRAD_RTOL * gmax)
                fail_msg("train fixture ota %d level %d: gradient off by %g (max %g)", ota, l, dmax, gmax);
            free(ref);
        }
    }
    for (int l = 0; l < f.o.nl; l++) {
        free(head[l]);
        free(grad[l]);
    }
    free(targets);
    ypr__loss_free(L);
    ypr__st_close(st);
    ypr__json_free(j);
}

int main(void)
{
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_opts_init),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_train_fixture_heads),
    };
    return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
