/* The training plan's backward pass against central finite differences of
 * its own forward pass, on the small cfg that uses every node kind
 * (tests/data/model/mini.yaml): conv with groups, BatchNorm in training
 * mode, SiLU and LeakyReLU, ReOrg, shortcut add, concat, max-pool,
 * upsample, RepConv branches, implicit add and multiply. The loss is a
 * fixed random linear form of the head maps, so its head gradient is known
 * exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/io/io.h"
#include "lib/model/model.h"
#include "lib/train/train.h"
#include "test_util.h"

static char *data_path(const char *rel)
{
    const char *dir = getenv("YPR_TEST_DATA");
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/data", rel);
    return buf;
}

typedef struct fixture {
    ypr_model *m;
    ypr_tplan *p;
    float *x;
    float *r[YPR_MAX_LEVELS];
    int64_t rn[YPR_MAX_LEVELS];
    int nl;
} fixture;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static float unif(uint64_t *s)
{
    return (float)((double)lcg(s) / 9007199254740992.0) * 2.0f - 1.0f;
}

static double loss_of(fixture *f)
{
    assert_int_equal(ypr__tplan_forward(f->p, f->x, 0), YPR_OK);
    double l = 0;
    for (int k = 0; k < f->nl; k++) {
        const float *o = ypr__tplan_output(f->p, k, NULL);
        for (int64_t i = 0; i < f->rn[k]; i++)
            l += (double)o[i] * f->r[k][i];
    }
    return l;
}

static void setup_fixture(fixture *f, int64_t n)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ypr_model_from_cfg(data_path("model/mini.yaml"), 0, 0, 0, 7, &f->m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(f->m, data_path("model/mini.safetensors"), 1),
                     YPR_OK);
    assert_int_equal(ypr__tplan_create(&f->m->net, f->m->pool, n, 64, 64, NULL, &f->p), YPR_OK);
    uint64_t s = 12345;
    f->x = malloc((size_t)(n * 3 * 64 * 64) * sizeof(float));
    for (int64_t i = 0; i < n * 3 * 64 * 64; i++)
        f->x[i] = 0.5f + 0.5f * unif(&s);
    f->nl = ypr__tplan_num_outputs(f->p);
    for (int k = 0; k < f->nl; k++) {
        ypr_shape sh;
        assert_non_null(ypr__tplan_output(f->p, k, &sh));
        f->rn[k] = n * sh.c * sh.h * sh.w;
        f->r[k] = malloc((size_t)f->rn[k] * sizeof(float));
        for (int64_t i = 0; i < f->rn[k]; i++)
            f->r[k][i] = unif(&s);
    }
}

static void free_fixture(fixture *f)
{
    for (int k = 0; k < f->nl; k++)
        free(f->r[k]);
    free(f->x);
    ypr__tplan_free(f->p);
    ypr_model_free(f->m);
}

static void backward(fixture *f)
{
    loss_of(f);
    for (int k = 0; k < f->nl; k++)
        memcpy(ypr__tplan_output_grad(f->p, k), f->r[k], (size_t)f->rn[k] * sizeof(float));
    ypr__tplan_zero_grad(f->p);
    assert_int_equal(ypr__tplan_backward(f->p), YPR_OK);
}

/* For every trainable tensor, the entries with the largest gradient and one
 * more: analytic vs central differences (float forward, loss summed in
 * double; step 2e-3 of the entry's scale). Tolerance 3 % of the larger of
 * the two values plus 2e-3 of the largest gradient of the net. */
static void test_finite_differences(void **state)
{
    (void)state;
    fixture f;
    setup_fixture(&f, 2);
    backward(&f);
    ypr_net *net = &f.m->net;
    double gmax = 0;
    for (int t = 0; t < net->nparams; t++) {
        const float *g = ypr__tplan_param_grad(f.p, t);
        for (int64_t i = 0; g && i < net->params[t].numel; i++)
            gmax = fmax(gmax, fabs(g[i]));
    }
    assert_true(gmax > 0);
    int checked = 0, kinds[YPR_NODE_KIND_COUNT_] = {0};
    uint64_t s = 99;
    int tensor = 0, every = test_quick() ? 4 : 1;   /* quick scope: every 4th tensor */
    for (int t = 0; t < net->nparams; t++) {
        ypr_param *pr = &net->params[t];
        const float *g = ypr__tplan_param_grad(f.p, t);
        if (!pr->is_buffer && tensor++ % every != 0)
            continue;
        if (pr->is_buffer) {
            assert_null(g);
            continue;
        }
        assert_non_null(g);
        int64_t best = 0;
        for (int64_t i = 1; i < pr->numel; i++)
            if (fabsf(g[i]) > fabsf(g[best]))
                best = i;
        int64_t picks[2] = {best, (int64_t)(lcg(&s) % (uint64_t)pr->numel)};
        for (int q = 0; q < 2; q++) {
            int64_t i = picks[q];
            float w0 = pr->data[i];
            float h = 2e-3f * fmaxf(fabsf(w0), 0.1f);
            pr->data[i] = w0 + h;
            double lp = loss_of(&f);
            pr->data[i] = w0 - h;
            double lm = loss_of(&f);
            pr->data[i] = w0;
            double fd = (lp - lm) / (2.0 * ((double)(w0 + h) - (double)w0));
            double an = g[i];
            double tol = 0.03 * fmax(fabs(fd), fabs(an)) + 2e-3 * gmax;
            if (fabs(fd - an) > tol)
                fail_msg("%s[%lld]: analytic %.6g, central difference %.6g", pr->name,
                         (long long)i, an, fd);
            checked++;
        }
        for (int nd = 0; nd < net->nnodes; nd++)
            for (int k = 0; k < 4; k++)
                if (net->nodes[nd].p[k] == t)
                    kinds[net->nodes[nd].kind]++;
    }
    assert_true(checked >= 40 / every);
    assert_true(kinds[YPR_NODE_CONV] > 0 && kinds[YPR_NODE_BN] > 0);
    if (!test_quick())
        assert_true(kinds[YPR_NODE_IMPLICIT_ADD] > 0 && kinds[YPR_NODE_IMPLICIT_MUL] > 0);
    free_fixture(&f);
}

/* Two backward passes over the same batch give identical bits; running
 * statistics move only when asked. */
static void test_deterministic_and_stats(void **state)
{
    (void)state;
    fixture f;
    setup_fixture(&f, 3);
    ypr_net *net = &f.m->net;
    backward(&f);
    int64_t total = 0;
    for (int t = 0; t < net->nparams; t++)
        if (!net->params[t].is_buffer)
            total += net->params[t].numel;
    float *g1 = malloc((size_t)total * sizeof(float)), *at = g1;
    for (int t = 0; t < net->nparams; t++)
        if (!net->params[t].is_buffer) {
            memcpy(at, ypr__tplan_param_grad(f.p, t), (size_t)net->params[t].numel * sizeof(float));
            at += net->params[t].numel;
        }
    backward(&f);
    at = g1;
    for (int t = 0; t < net->nparams; t++)
        if (!net->params[t].is_buffer) {
            assert_memory_equal(at, ypr__tplan_param_grad(f.p, t),
                                (size_t)net->params[t].numel * sizeof(float));
            at += net->params[t].numel;
        }
    free(g1);
    /* running statistics */
    int bn = -1;
    for (int i = 0; i < net->nnodes && bn < 0; i++)
        if (net->nodes[i].kind == YPR_NODE_BN)
            bn = i;
    assert_true(bn >= 0);
    ypr_param *rm = &net->params[net->nodes[bn].p[2]];
    float before = rm->data[0];
    assert_int_equal(ypr__tplan_forward(f.p, f.x, 0), YPR_OK);
    assert_true(rm->data[0] == before);
    assert_int_equal(ypr__tplan_forward(f.p, f.x, 1), YPR_OK);
    assert_true(rm->data[0] != before);
    /* backward twice without a forward is refused */
    assert_int_equal(ypr__tplan_backward(f.p), YPR_OK);
    assert_int_equal(ypr__tplan_backward(f.p), YPR_ESTATE);
    free_fixture(&f);
}

/* Frozen tensors get no gradient; the rest are unchanged by freezing. */
static void test_frozen(void **state)
{
    (void)state;
    fixture f;
    setup_fixture(&f, 1);
    ypr_net *net = &f.m->net;
    backward(&f);
    int last = net->nparams - 1;
    while (last >= 0 && net->params[last].is_buffer)
        last--;
    float *ref = malloc((size_t)net->params[last].numel * sizeof(float));
    memcpy(ref, ypr__tplan_param_grad(f.p, last), (size_t)net->params[last].numel * sizeof(float));
    unsigned char *fr = calloc((size_t)net->nparams, 1);
    for (int t = 0; t < net->nparams; t++)
        fr[t] = strncmp(net->params[t].name, "model.0.", 8) == 0 ||
                strncmp(net->params[t].name, "model.2.", 8) == 0;
    ypr__tplan_free(f.p);
    assert_int_equal(ypr__tplan_create(net, f.m->pool, 1, 64, 64, fr, &f.p), YPR_OK);
    backward(&f);
    for (int t = 0; t < net->nparams; t++)
        if (fr[t])
            assert_null(ypr__tplan_param_grad(f.p, t));
    assert_memory_equal(ref, ypr__tplan_param_grad(f.p, last),
                        (size_t)net->params[last].numel * sizeof(float));
    free(fr);
    free(ref);
    free_fixture(&f);
}


/* One training step against tests/data/train (make_train_fixture.py): the
 * same cfg, weights and batch in PyTorch, train mode. Head maps and
 * BatchNorm running statistics after the forward, the loss items (1e-4
 * relative), and every parameter gradient: the largest error in a tensor
 * at most 1e-3 of that tensor's largest reference gradient. */
static float *st_floats(const ypr_safetensors *st, const char *name, int64_t *numel)
{
    const ypr_st_tensor *t = ypr__st_find(st, name);
    if (!t)
        fail_msg("fixture tensor %s missing", name);
    float *d = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    assert_int_equal(ypr__st_to_f32(t, d), YPR_OK);
    if (numel)
        *numel = t->numel;
    return d;
}

static double max_rel(const float *a, const float *ref, int64_t n)
{
    double m = 0, e = 0;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(ref[i]));
        e = fmax(e, fabs((double)a[i] - ref[i]));
    }
    return m > 0 ? e / m : e;
}

static void step_against_pytorch(int ota)
{
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open(data_path("train/train.safetensors"), &st), YPR_OK);
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(data_path("model/mini.yaml"), 0, 0, 0, 7, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, data_path("model/mini.safetensors"), 1), YPR_OK);
    ypr_tplan *p;
    assert_int_equal(ypr__tplan_create(&m->net, m->pool, 2, 64, 64, NULL, &p), YPR_OK);
    float *x = st_floats(st, "input", NULL);
    int64_t ntf;
    float *targets = st_floats(st, "targets", &ntf);
    assert_int_equal(ypr__tplan_forward(p, x, 1), YPR_OK);
    /* heads */
    int nl = ypr__tplan_num_outputs(p);
    assert_int_equal(nl, 2);
    const float *head[2];
    float *grad[2];
    int64_t hl[2], wl[2];
    for (int l = 0; l < nl; l++) {
        char name[32];
        snprintf(name, sizeof name, "head.%d", l);
        int64_t n;
        float *ref = st_floats(st, name, &n);
        ypr_shape sh;
        head[l] = ypr__tplan_output(p, l, &sh);
        assert_int_equal(n, 2 * sh.c * sh.h * sh.w);
        double e = max_rel(head[l], ref, n);
        if (e > 1e-4)
            fail_msg("head %d differs from PyTorch's by %.3g of its largest value", l, e);
        grad[l] = ypr__tplan_output_grad(p, l);
        hl[l] = sh.h;
        wl[l] = sh.w;
        free(ref);
    }
    /* running statistics */
    int nbn = 0;
    for (int i = 0; i < m->net.nnodes; i++) {
        const ypr_node *nd = &m->net.nodes[i];
        if (nd->kind != YPR_NODE_BN)
            continue;
        for (int k = 2; k < 4; k++) {
            const ypr_param *pr = &m->net.params[nd->p[k]];
            char name[YPR_NAME_MAX + 8];
            snprintf(name, sizeof name, "bn.%s", pr->name);
            int64_t n;
            float *ref = st_floats(st, name, &n);
            assert_int_equal(n, pr->numel);
            double e = max_rel(pr->data, ref, n);
            if (e > 1e-4)
                fail_msg("%s after one forward differs by %.3g", pr->name, e);
            free(ref);
        }
        nbn++;
    }
    assert_true(nbn > 10);
    /* loss */
    ypr_hyp h;
    ypr__hyp_default(&h, YPR_HYP_P5);
    ypr_loss_opts lo;
    assert_int_equal(ypr__loss_opts_init(&lo, &h, &m->net, 64), YPR_OK);
    lo.ota = ota;
    ypr_loss *loss;
    assert_int_equal(ypr__loss_create(&loss), YPR_OK);
    double items[4];
    assert_int_equal(ypr__loss_run(loss, &lo, 2, head, hl, wl, 64, 64, targets, ntf / 6, items,
                                   grad), YPR_OK);
    char key[64];
    snprintf(key, sizeof key, "ota%d", ota);
    /* the loss items from the manifest */
    size_t len = 0;
    char *text = test_slurp(data_path("train/manifest.json"), &len);
    assert_non_null(text);
    char pat[32];
    snprintf(pat, sizeof pat, "\"loss_ota%d\"", ota);
    const char *at = strstr(text, pat);
    assert_non_null(at);
    at = strchr(at, '[');
    assert_non_null(at);
    double want[4];
    for (int k = 0; k < 4; k++) {
        want[k] = strtod(at + 1, (char **)&at);
        while (*at == ' ' || *at == '\n')
            at++;
        assert_true(*at == ',' || *at == ']');
    }
    free(text);
    for (int k = 0; k < 4; k++)
        if (fabs(items[k] - want[k]) > 1e-4 * fabs(want[k]) + 1e-9)
            fail_msg("%s loss item %d: %.9g, PyTorch %.9g", key, k, items[k], want[k]);
    /* gradients */
    ypr__tplan_zero_grad(p);
    assert_int_equal(ypr__tplan_backward(p), YPR_OK);
    int checked = 0;
    double worst = 0;
    const char *worst_name = "";
    for (int t = 0; t < m->net.nparams; t++) {
        const ypr_param *pr = &m->net.params[t];
        if (pr->is_buffer)
            continue;
        char name[YPR_NAME_MAX + 80];
        snprintf(name, sizeof name, "%s.grad.%s", key, pr->name);
        int64_t n;
        float *ref = st_floats(st, name, &n);
        assert_int_equal(n, pr->numel);
        double e = max_rel(ypr__tplan_param_grad(p, t), ref, n);
        if (e > worst) {
            worst = e;
            worst_name = pr->name;
        }
        if (e > 1e-3)
            fail_msg("%s: gradient differs from PyTorch's by %.3g of its largest", name, e);
        free(ref);
        checked++;
    }
    print_message("%s: %d gradients, worst %.3g (%s)\n", key, checked, worst, worst_name);
    assert_true(checked > 40);
    ypr__loss_free(loss);
    free(x);
    free(targets);
    ypr__tplan_free(p);
    ypr_model_free(m);
    ypr__st_close(st);
}

static void test_pytorch_simple(void **state)
{
    (void)state;
    step_against_pytorch(0);
}

static void test_pytorch_ota(void **state)
{
    (void)state;
    step_against_pytorch(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_deterministic_and_stats),
        cmocka_unit_test(test_frozen),
        cmocka_unit_test(test_pytorch_simple),
        cmocka_unit_test(test_pytorch_ota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
