/* The training recipe's pure parts (lib/train: hyp.c, optim.c, results.c):
 * SGD and EMA bit for bit against PyTorch 1.13, the warm-up / one-cycle /
 * linear schedule against train.py's own loop (both from
 * tests/data/make_optim_fixture.py), hand-checked hyp defaults, hyp files
 * (YOLOv7's p5 and tiny values, and bad ones), the results CSV read back and
 * results.png decoded. White-box. Files are written in the working
 * directory (the build's tests/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/io/io.h"
#include "lib/train/train.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

static char *data_path(const char *rel)
{
    const char *dir = getenv("YPR_TEST_DATA");
    if (!dir)
        dir = "tests/data";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

/* A fixture file as text (NUL-terminated) or bytes; fails the test if absent. */
static char *fixture(const char *rel, size_t *len)
{
    char *path = data_path(rel);
    char *buf = test_slurp(path, len);
    if (!buf)
        fail_msg("cannot read %s (run tests/data/make_optim_fixture.py)", path);
    free(path);
    return buf;
}

static float *floats(const char *bytes, size_t *pos, size_t len, int64_t n)
{
    size_t nb = (size_t)n * sizeof(float);
    assert_true(*pos + nb <= len);
    float *f = malloc(nb ? nb : 1);
    assert_non_null(f);
    memcpy(f, bytes + *pos, nb);   /* the fixture is little-endian float32 */
    *pos += nb;
    return f;
}

static int same_bits(const float *a, const float *b, int64_t n, int64_t *first)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, &a[i], 4);
        memcpy(&y, &b[i], 4);
        if (x != y && !bad++)
            *first = i;
    }
    return bad;
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

/* ---------------------------------------------- SGD and EMA vs PyTorch */

/* Bit-identical: every float of every parameter and momentum buffer after
 * every step (fixture: torch.optim.SGD(nesterov=True), three groups). */
static void test_sgd_matches_pytorch(void **state)
{
    (void)state;
    size_t tlen, blen;
    char *txt = fixture("optim/sgd.txt", &tlen);
    char *bin = fixture("optim/sgd.f32", &blen);
    int groups, steps;
    int64_t n[3];
    double wd[3], lr[16][3], mom[16];
    const char *s = txt;
    int used;
    assert_int_equal(sscanf(s, "groups %d\nn %ld %ld %ld\nwd %lf %lf %lf\nsteps %d\n%n", &groups,
                            (long *)&n[0], (long *)&n[1], (long *)&n[2], &wd[0], &wd[1], &wd[2],
                            &steps, &used), 8);
    assert_int_equal(groups, 3);
    assert_true(steps > 1 && steps <= 16);
    s += used;
    for (int t = 0; t < steps; t++) {
        assert_int_equal(sscanf(s, "%lf %lf %lf %lf\n%n", &lr[t][0], &lr[t][1], &lr[t][2],
                                &mom[t], &used), 4);
        s += used;
    }
    assert_true(wd[1] > 0 && wd[0] == 0 && wd[2] == 0);
    size_t pos = 0;
    int64_t checked = 0;
    for (int gi = 0; gi < 3; gi++) {
        float *p = floats(bin, &pos, blen, n[gi]);
        float *buf = calloc((size_t)n[gi], sizeof(float));
        assert_non_null(buf);
        for (int t = 0; t < steps; t++) {
            float *g = floats(bin, &pos, blen, n[gi]);
            float *want_p = floats(bin, &pos, blen, n[gi]);
            float *want_b = floats(bin, &pos, blen, n[gi]);
            ypr__sgd_update(p, g, buf, n[gi], lr[t][gi], mom[t], wd[gi], t > 0);
            int64_t at = -1;
            int bad = same_bits(p, want_p, n[gi], &at);
            if (bad)
                fail_msg("group %d step %d: %d params differ (first %ld: %.9g vs %.9g)", gi, t, bad,
                         (long)at, p[at], want_p[at]);
            bad = same_bits(buf, want_b, n[gi], &at);
            if (bad)
                fail_msg("group %d step %d: %d momentum buffers differ (first %ld)", gi, t, bad,
                         (long)at);
            checked += 2 * n[gi];
            free(g);
            free(want_p);
            free(want_b);
        }
        free(p);
        free(buf);
    }
    assert_int_equal(pos, blen);
    assert_true(checked > 3000);
    free(txt);
    free(bin);
}

/* Hand-worked: one step from buf = 0 state (has_buf 0), then one with a
 * buffer, on exactly representable numbers. */
static void test_sgd_hand(void **state)
{
    (void)state;
    float p[2] = { 1.0f, -2.0f }, g[2] = { 0.5f, 0.25f }, buf[2] = { 99.0f, 99.0f };
    /* wd 0.5: d = g + 0.5p = {1, -0.75}; buf = d; d += 0.5·buf = {1.5, -1.125};
     * p -= 0.25·d = {0.625, -1.71875} */
    ypr__sgd_update(p, g, buf, 2, 0.25, 0.5, 0.5, 0);
    assert_true(buf[0] == 1.0f && buf[1] == -0.75f);
    assert_true(p[0] == 0.625f && p[1] == -1.71875f);
    /* no decay: d = g; buf = 0.5·buf + d = {1, -0.125}; d += 0.5·buf = {1, 0.1875};
     * p -= 0.5·d */
    ypr__sgd_update(p, g, buf, 2, 0.5, 0.5, 0.0, 1);
    assert_true(buf[0] == 1.0f && buf[1] == -0.125f);
    assert_true(p[0] == 0.125f && p[1] == -1.8125f);
    /* momentum 0: plain SGD, buffer untouched */
    ypr__sgd_update(p, g, buf, 2, 1.0, 0.0, 0.0, 1);
    assert_true(p[0] == -0.375f && p[1] == -2.0625f);
    assert_true(buf[0] == 1.0f && buf[1] == -0.125f);
}

static void test_ema_matches_pytorch(void **state)
{
    (void)state;
    size_t tlen, blen;
    char *txt = fixture("optim/ema.txt", &tlen);
    char *bin = fixture("optim/ema.f32", &blen);
    long n;
    int used;
    const char *s = txt;
    assert_int_equal(sscanf(s, "n %ld\nupdates%n", &n, &used), 1);
    s += used;
    long updates[16];
    int nu = 0;
    while (nu < 16 && sscanf(s, " %ld%n", &updates[nu], &used) == 1 && s[0] == ' ') {
        s += used;
        nu++;
    }
    assert_true(nu >= 3);
    size_t pos = 0;
    float *ema = floats(bin, &pos, blen, n);
    for (int k = 0; k < nu; k++) {
        float *p = floats(bin, &pos, blen, n);
        float *want = floats(bin, &pos, blen, n);
        ypr__ema_update(ema, p, n, ypr__ema_decay(updates[k]));
        int64_t at = -1;
        int bad = same_bits(ema, want, n, &at);
        if (bad)
            fail_msg("update %ld: %d values differ (first %ld)", updates[k], bad, (long)at);
        free(p);
        free(want);
    }
    assert_int_equal(pos, (size_t)blen);
    free(ema);
    /* the decay sequence */
    int nd = 0;
    const char *d = s;
    while ((d = strstr(d, "decay ")) != NULL) {
        long u;
        double want;
        assert_int_equal(sscanf(d, "decay %ld %lf", &u, &want), 2);
        double got = ypr__ema_decay(u);
        if (!(fabs(got - want) <= 1e-15 * fabs(want)))
            fail_msg("decay(%ld) = %.17g, ModelEMA %.17g", u, got, want);
        nd++;
        d += 6;
    }
    assert_true(nd >= 8);
    /* hand: decay(0) = 0; decay → 0.9999 */
    assert_true(ypr__ema_decay(0) == 0.0);
    assert_true(fabs(ypr__ema_decay(200000) - 0.9999) < 1e-12);
    free(txt);
    free(bin);
}

/* ------------------------------------------------ schedule vs train.py */

static void test_sched_matches_train_py(void **state)
{
    (void)state;
    size_t len;
    char *txt = fixture("optim/sched.txt", &len);
    ypr_hyp h;
    int cosine = 0, epochs = 0, batch = 0, configs = 0, its = 0;
    int64_t nw = 0, nb = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "config", 6) == 0) {
            int id;
            long want_nw;
            double wd_scaled;
            ypr__hyp_default(&h, YPR_HYP_P5);
            assert_int_equal(sscanf(line, "config %d %d %d %d %ld %lf %lf %lf %lf %lf %lf %lf %ld %lf",
                                    &id, &cosine, &epochs, &batch, (long *)&nb, &h.lr0, &h.lrf,
                                    &h.momentum, &h.warmup_momentum, &h.warmup_bias_lr,
                                    &h.warmup_epochs, &h.weight_decay, &want_nw, &wd_scaled), 14);
            nw = ypr__warmup_iters(&h, nb);
            assert_int_equal(nw, want_nw);
            assert_true(close_to(ypr__scaled_weight_decay(&h, batch, 64), wd_scaled, 1e-15));
            configs++;
            continue;
        }
        long ni;
        int epoch, acc;
        double lr[3], m;
        assert_int_equal(sscanf(line, "it %ld %d %lf %lf %lf %lf %d", &ni, &epoch, &lr[0], &lr[1],
                                &lr[2], &m, &acc), 7);
        ypr_sched sc;
        ypr__sched_at(&h, ni, nw, nb, epoch, epochs, batch, 64, cosine, &sc);
        for (int j = 0; j < 3; j++)
            if (!close_to(sc.lr[j], lr[j], 1e-12))
                fail_msg("ni %ld group %d: lr %.17g, train.py %.17g", ni, j, sc.lr[j], lr[j]);
        if (!close_to(sc.momentum, m, 1e-12))
            fail_msg("ni %ld: momentum %.17g, train.py %.17g", ni, sc.momentum, m);
        if (sc.accumulate != acc)
            fail_msg("ni %ld: accumulate %d, train.py %d", ni, sc.accumulate, acc);
        its++;
    }
    assert_int_equal(configs, 4);
    assert_true(its > 500);
    free(txt);
}

/* Hand-worked schedule values. */
static void test_sched_hand(void **state)
{
    (void)state;
    ypr_hyp h;
    ypr__hyp_default(&h, YPR_HYP_P5);
    assert_int_equal(ypr__warmup_iters(&h, 100), 1000);      /* 300 < 1000 */
    assert_int_equal(ypr__warmup_iters(&h, 1000), 3000);
    assert_true(ypr__scaled_weight_decay(&h, 16, 64) == 0.0005);  /* 16·4/64 = 1 */
    assert_true(fabs(ypr__scaled_weight_decay(&h, 8, 64) - 0.0005) < 1e-18);
    assert_true(fabs(ypr__scaled_weight_decay(&h, 24, 64) - 0.0005 * 72 / 64) < 1e-18);
    ypr_sched sc;
    /* start of warm-up: lr 0, bias lr 0.1, momentum 0.8, accumulate 1 */
    ypr__sched_at(&h, 0, 1000, 1000, 0, 300, 16, 64, 1, &sc);
    assert_true(sc.lr[0] == 0 && sc.lr[1] == 0 && sc.lr[2] == 0.1);
    assert_true(sc.momentum == 0.8 && sc.accumulate == 1);
    /* halfway (epoch 0, lf 1): lr 0.005, bias (0.1 + 0.01)/2, momentum
     * (0.8 + 0.937)/2, accumulate round(2.5) = 2 (half to even) */
    ypr__sched_at(&h, 500, 1000, 1000, 0, 300, 16, 64, 1, &sc);
    assert_true(fabs(sc.lr[0] - 0.005) < 1e-15 && fabs(sc.lr[2] - 0.055) < 1e-15);
    assert_true(fabs(sc.momentum - 0.8685) < 1e-15);
    assert_int_equal(sc.accumulate, 2);
    /* 400 batches per epoch: the warm-up ends at ni 1000 in epoch 2, whose
     * rest and the whole of epoch 3 run at lr0·lf(2) */
    ypr_sched end, rest, next, later;
    ypr__sched_at(&h, 1000, 1000, 400, 2, 300, 16, 64, 1, &end);
    ypr__sched_at(&h, 1100, 1000, 400, 2, 300, 16, 64, 1, &rest);
    ypr__sched_at(&h, 1300, 1000, 400, 3, 300, 16, 64, 1, &next);
    ypr__sched_at(&h, 1700, 1000, 400, 4, 300, 16, 64, 1, &later);
    double lf2 = (1 - cos(2 * M_PI / 300)) / 2 * (0.1 - 1) + 1;
    assert_true(fabs(end.lr[2] - 0.01 * lf2) < 1e-17);
    assert_true(rest.lr[0] == end.lr[2] && next.lr[1] == end.lr[2] && later.lr[2] < next.lr[2]);
    assert_true(end.accumulate == 4 && rest.accumulate == 4 && rest.momentum == 0.937);
    /* after warm-up, cosine in epoch 151 of 300: lr0·lf(150) = lr0·(1 + lrf)/2 */
    ypr__sched_at(&h, 151 * 400 + 7, 1000, 400, 151, 300, 16, 64, 1, &sc);
    for (int j = 0; j < 3; j++)
        assert_true(fabs(sc.lr[j] - 0.01 * 0.55) < 1e-15);
    assert_true(sc.momentum == 0.937 && sc.accumulate == 4);
    /* linear in the last epoch: lr0·lf(298) = lr0·((1 − 298/299)·0.9 + 0.1) */
    ypr__sched_at(&h, 299 * 400, 1000, 400, 299, 300, 16, 64, 0, &sc);
    assert_true(fabs(sc.lr[1] - 0.01 * (0.9 / 299 + 0.1)) < 1e-15);
    /* batch 128: round(0.5) = 0 → accumulate 1 */
    ypr__sched_at(&h, 5000, 1000, 400, 12, 300, 128, 64, 1, &sc);
    assert_int_equal(sc.accumulate, 1);
    /* no warm-up (nw 0): epoch 0 at lr0 */
    ypr__sched_at(&h, 0, 0, 400, 0, 300, 16, 64, 1, &sc);
    assert_true(sc.lr[0] == 0.01 && sc.lr[2] == 0.01 && sc.momentum == 0.937);
}

/* ------------------------------------------------------------------ hyp */

static void test_hyp_defaults(void **state)
{
    (void)state;
    ypr_hyp p5, tiny;
    ypr__hyp_default(&p5, YPR_HYP_P5);
    ypr__hyp_default(&tiny, YPR_HYP_TINY);
    /* docs: REFERENCE.md's table of hyp.scratch.p5 / tiny */
    assert_true(p5.lr0 == 0.01 && p5.lrf == 0.1 && tiny.lrf == 0.01);
    assert_true(p5.momentum == 0.937 && p5.weight_decay == 0.0005);
    assert_true(p5.warmup_epochs == 3.0 && p5.warmup_momentum == 0.8 && p5.warmup_bias_lr == 0.1);
    assert_true(p5.box == 0.05 && p5.cls == 0.3 && p5.obj == 0.7);
    assert_true(tiny.box == 0.05 && tiny.cls == 0.5 && tiny.obj == 1.0);
    assert_true(p5.iou_t == 0.2 && p5.anchor_t == 4.0);
    assert_true(p5.hsv_h == 0.015 && p5.hsv_s == 0.7 && p5.hsv_v == 0.4);
    assert_true(p5.translate == 0.2 && p5.scale == 0.9 && tiny.translate == 0.1 && tiny.scale == 0.5);
    assert_true(p5.fliplr == 0.5 && p5.mosaic == 1.0 && p5.mixup == 0.15 && tiny.mixup == 0.05);
    assert_true(p5.paste_in == 0.15 && tiny.paste_in == 0.05);
    assert_true(p5.loss_ota == 1 && tiny.loss_ota == 1 && p5.label_smoothing == 0);
    assert_true(p5.cls_pw == 1 && p5.obj_pw == 1 && p5.fl_gamma == 0 && p5.flipud == 0);
}

static void test_hyp_keys(void **state)
{
    (void)state;
    assert_int_equal(ypr__hyp_count(), (int)(sizeof(ypr_hyp) / sizeof(double)));
    assert_string_equal(ypr__hyp_key(0), "lr0");
    assert_string_equal(ypr__hyp_key(ypr__hyp_count() - 1), "label_smoothing");
    assert_null(ypr__hyp_key(ypr__hyp_count()));
    assert_null(ypr__hyp_key(-1));
    ypr_hyp h;
    ypr__hyp_default(&h, YPR_HYP_P5);
    /* every key reads the field of the same name: set a distinct value through
     * the key, then find it by the struct's layout */
    for (int i = 0; i < ypr__hyp_count(); i++) {
        ypr_hyp z;
        memset(&z, 0, sizeof z);
        const char *key = ypr__hyp_key(i);
        double v = strcmp(key, "loss_ota") == 0 ? 1          /* a whole number */
                 : strcmp(key, "anchor_t") == 0 ? 4 : 0.001 * (i + 1);
        assert_int_equal(ypr__hyp_set(&z, key, v), YPR_OK);
        double got;
        assert_int_equal(ypr__hyp_get(&z, key, &got), YPR_OK);
        assert_true(got == v);
        const double *f = (const double *)&z;
        for (int k = 0; k < ypr__hyp_count(); k++)
            assert_true(f[k] == (k == i ? v : 0));
    }
    double v;
    assert_int_equal(ypr__hyp_get(&h, "momentum", &v), YPR_OK);
    assert_true(v == 0.937);
    ypr_hyp before = h;
    assert_int_equal(ypr__hyp_set(&h, "warmpu_epochs", 1), YPR_ENOTFOUND);
    assert_int_equal(ypr__hyp_get(&h, "anchors", &v), YPR_ENOTFOUND);
    assert_int_equal(ypr__hyp_set(&h, "lr0", -0.01), YPR_ERANGE);
    assert_int_equal(ypr__hyp_set(&h, "lr0", NAN), YPR_ERANGE);
    assert_int_equal(ypr__hyp_set(&h, "mosaic", 1.5), YPR_ERANGE);
    assert_int_equal(ypr__hyp_set(&h, "loss_ota", 0.5), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "loss_ota"));
    assert_memory_equal(&h, &before, sizeof h);
    assert_int_equal(ypr__hyp_set(&h, "loss_ota", 0), YPR_OK);
    assert_true(h.loss_ota == 0);
}

static void test_hyp_load(void **state)
{
    (void)state;
    ypr_hyp p5, tiny, h;
    ypr__hyp_default(&p5, YPR_HYP_P5);
    ypr__hyp_default(&tiny, YPR_HYP_TINY);
    /* p5's file over tiny's defaults gives p5's defaults, and the reverse */
    h = tiny;
    char *path = data_path("hyp/hyp.scratch.p5.yaml");
    assert_int_equal(ypr__hyp_load(path, &h), YPR_OK);
    assert_memory_equal(&h, &p5, sizeof h);
    free(path);
    h = p5;
    path = data_path("hyp/hyp.scratch.tiny.yaml");   /* has `anchors: 3`: ignored */
    assert_int_equal(ypr__hyp_load(path, &h), YPR_OK);
    assert_memory_equal(&h, &tiny, sizeof h);
    free(path);
    /* keys absent keep their values */
    h = p5;
    h.label_smoothing = 0.1;
    path = data_path("hyp/hyp.scratch.tiny.yaml");
    assert_int_equal(ypr__hyp_load(path, &h), YPR_OK);
    assert_true(h.label_smoothing == 0.1 && h.lrf == 0.01);
    free(path);
}

/* A bad file fails with `code`, its message holding `file:line` and `what`,
 * and leaves h as it was. */
static void bad_hyp(const char *rel, int code, int line, const char *what)
{
    ypr_hyp h, before;
    ypr__hyp_default(&h, YPR_HYP_P5);
    before = h;
    char *path = data_path(rel);
    assert_int_equal(ypr__hyp_load(path, &h), code);
    assert_memory_equal(&h, &before, sizeof h);
    char where[512];
    snprintf(where, sizeof where, "%s:%d:", path, line);
    const char *msg = ypr_last_error();
    if (!strstr(msg, where) || (what && !strstr(msg, what)))
        fail_msg("%s: message '%s' lacks '%s' or '%s'", rel, msg, where, what ? what : "");
    free(path);
}

static void test_hyp_bad(void **state)
{
    (void)state;
    bad_hyp("hyp/bad_key.yaml", YPR_EFORMAT, 3, "warmpu_epochs");
    bad_hyp("hyp/bad_value.yaml", YPR_ERANGE, 3, "box");
    bad_hyp("hyp/bad_lr.yaml", YPR_ERANGE, 4, "lr0");
    bad_hyp("hyp/bad_ota.yaml", YPR_ERANGE, 2, "loss_ota");
    bad_hyp("hyp/bad_list.yaml", YPR_EFORMAT, 1, "mapping");
    ypr_hyp h;
    ypr__hyp_default(&h, YPR_HYP_P5);
    char *path = data_path("hyp/no_such_file.yaml");
    assert_int_equal(ypr__hyp_load(path, &h), YPR_ENOTFOUND);
    free(path);
}

/* -------------------------------------------------------------- results */

static void fill_rows(ypr_epoch_result *rows, int n)
{
    for (int i = 0; i < n; i++) {
        ypr_epoch_result *r = &rows[i];
        memset(r, 0, sizeof *r);
        r->epoch = i;
        r->box = 0.06 - 0.01 * i;
        r->obj = 0.03 + 0.001 * i;
        r->cls = 0.02 / (i + 1);
        r->total = r->box + r->obj + r->cls;
        r->p = 0.1 * i;
        r->r = 0.2 + 0.05 * i;
        r->map50 = 0.3 + 0.1 * i;
        r->map = 0.1 + 0.05 * i;
        r->val_box = r->val_obj = r->val_cls = NAN;   /* not measured */
        r->lr[0] = 0.001 * i;
        r->lr[1] = 0.0011 * i;
        r->lr[2] = 0.1 - 0.01 * i;
        r->seconds = 12.5 + i;
        r->images_per_second = 8.25;
    }
    rows[1].p = NAN;   /* a gap in one curve */
}

static void test_fitness(void **state)
{
    (void)state;
    ypr_epoch_result r;
    memset(&r, 0, sizeof r);
    r.p = 0.9;
    r.r = 0.8;
    r.map50 = 0.5;
    r.map = 0.3;
    assert_true(fabs(ypr__fitness(&r) - 0.32) < 1e-15);
}

static void test_results_csv(void **state)
{
    (void)state;
    enum { N = 4 };
    ypr_epoch_result rows[N];
    fill_rows(rows, N);
    const char *path = "optim_results.csv";
    assert_int_equal(ypr__results_csv(path, rows, N), YPR_OK);
    size_t len;
    char *txt = test_slurp(path, &len);
    assert_non_null(txt);
    char *save = NULL;
    char *line = strtok_r(txt, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, YPR__RESULTS_CSV_HEADER);
    int cols = 1;
    for (const char *c = line; *c; c++)
        cols += *c == ',';
    assert_int_equal(cols, 17);
    int nrow = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        double v[17];
        int k = 0;
        char *end = line;
        for (; k < 17; k++) {
            v[k] = strtod(end, &end);
            if (*end != ',')
                break;
            end++;
        }
        assert_int_equal(k, 16);
        assert_int_equal(*end, 0);
        const ypr_epoch_result *r = &rows[nrow];
        const double want[17] = { r->epoch, r->box, r->obj, r->cls, r->total, r->p, r->r,
                                  r->map50, r->map, r->val_box, r->val_obj, r->val_cls,
                                  r->lr[0], r->lr[1], r->lr[2], r->seconds, r->images_per_second };
        for (k = 0; k < 17; k++) {
            if (isnan(want[k]))
                assert_true(isnan(v[k]));
            else if (!(fabs(v[k] - want[k]) <= 1e-8 * fmax(1e-3, fabs(want[k]))))
                fail_msg("row %d column %d: %.17g written as %.17g", nrow, k, want[k], v[k]);
        }
        nrow++;
    }
    assert_int_equal(nrow, N);
    free(txt);
    /* zero rows: the header alone */
    assert_int_equal(ypr__results_csv(path, rows, 0), YPR_OK);
    txt = test_slurp(path, &len);
    assert_non_null(txt);
    assert_string_equal(txt, YPR__RESULTS_CSV_HEADER "\n");
    free(txt);
    assert_int_equal(ypr__results_csv(path, NULL, 2), YPR_EINVAL);
    assert_int_equal(ypr__results_csv(NULL, rows, 2), YPR_EINVAL);
    assert_int_equal(ypr__results_csv("no_such_dir/x/results.csv", rows, 2), YPR_EIO);
}

/* How many pixels of the curve colour lie in panel k (5 × 2 grid). */
static int curve_pixels(const ypr_image *img, int k)
{
    const int pw = YPR__RESULTS_PNG_W / 5, ph = YPR__RESULTS_PNG_H / 2;
    int x0 = (k % 5) * pw, y0 = (k / 5) * ph, count = 0;
    for (int y = y0; y < y0 + ph; y++)
        for (int x = x0; x < x0 + pw; x++) {
            const uint8_t *px = img->rgb + ((size_t)y * img->w + x) * 3;
            count += px[0] == 31 && px[1] == 119 && px[2] == 180;
        }
    return count;
}

static void test_results_png(void **state)
{
    (void)state;
    enum { N = 5 };
    ypr_epoch_result rows[N];
    fill_rows(rows, N);
    const char *path = "optim_results.png";
    assert_int_equal(ypr__results_png(path, rows, N), YPR_OK);
    ypr_image img = { 0, 0, NULL };
    assert_int_equal(ypr__image_load(path, &img), YPR_OK);
    assert_int_equal(img.w, YPR__RESULTS_PNG_W);
    assert_int_equal(img.h, YPR__RESULTS_PNG_H);
    /* measured panels (box, obj, cls, P, R, mAP@0.5, mAP@0.5:0.95) hold a
     * curve; the unmeasured val losses do not */
    for (int k = 0; k < 10; k++) {
        int px = curve_pixels(&img, k);
        if (k >= 5 && k <= 7)
            assert_int_equal(px, 0);
        else if (px < 5 * 25)   /* at least the five 5×5 markers */
            fail_msg("panel %d: %d curve pixels", k, px);
    }
    ypr__image_free(&img);
    /* no rows: empty panels, still a valid picture */
    assert_int_equal(ypr__results_png(path, rows, 0), YPR_OK);
    assert_int_equal(ypr__image_load(path, &img), YPR_OK);
    assert_int_equal(img.w, YPR__RESULTS_PNG_W);
    for (int k = 0; k < 10; k++)
        assert_int_equal(curve_pixels(&img, k), 0);
    ypr__image_free(&img);
    /* one row, all-equal values, huge values: no crash, a marker drawn */
    rows[0].box = 1e300;
    assert_int_equal(ypr__results_png(path, rows, 1), YPR_OK);
    assert_int_equal(ypr__image_load(path, &img), YPR_OK);
    assert_true(curve_pixels(&img, 0) >= 25);
    ypr__image_free(&img);
    assert_int_equal(ypr__results_png(path, rows, -1), YPR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_matches_pytorch),
        cmocka_unit_test(test_sgd_hand),
        cmocka_unit_test(test_ema_matches_pytorch),
        cmocka_unit_test(test_sched_matches_train_py),
        cmocka_unit_test(test_sched_hand),
        cmocka_unit_test(test_hyp_defaults),
        cmocka_unit_test(test_hyp_keys),
        cmocka_unit_test(test_hyp_load),
        cmocka_unit_test(test_hyp_bad),
        cmocka_unit_test(test_fitness),
        cmocka_unit_test(test_results_csv),
        cmocka_unit_test(test_results_png),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
