/* The public ypr_model: creation from cfgs and built-ins, counts, forward. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include "lib/io/io.h"

int ypr__model_new(ypr_model **out)
{
    ypr_model *m = calloc(1, sizeof *m);
    if (!m)
        return ypr__error(YPR_ENOMEM, "out of memory");
    ypr__net_init(&m->net);
    m->input_size = 640;
    m->conf_thr = 0.25f;
    m->iou_thr = 0.45f;
    m->max_det = 300;
    int rc = ypr__pool_create(ypr_get_num_threads(), &m->pool);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return YPR_OK;
}

static void drop_workers(ypr_model *m)
{
    for (int i = 0; i < m->nworkers; i++) {
        ypr__plan_free(m->wplans[i]);
        ypr__pool_free(m->wpools[i]);
    }
    free(m->wplans);
    free(m->wpools);
    m->wplans = NULL;
    m->wpools = NULL;
    m->nworkers = 0;
    m->bout_n = 0;
}

void ypr__model_drop_plans(ypr_model *m)
{
    for (int i = 0; i < 4; i++) {
        ypr__plan_free(m->plans[i]);
        m->plans[i] = NULL;
    }
    m->plan = NULL;
    for (int i = 0; i < 4; i++) {
        ypr__plan_i8_free(m->i8s[i]);
        m->i8s[i] = NULL;
    }
    m->i8 = NULL;
    m->i8_used = 0;
    drop_workers(m);
    ypr__free(m->bout);
    free(m->bout_off);
    m->bout = NULL;
    m->bout_off = NULL;
    m->bout_floats = 0;
}

int ypr__model_plan(ypr_model *m, int64_t n, int64_t h, int64_t w)
{
    int free_slot = -1, lru = 0;
    ypr_plan *donor = NULL;
    m->tick++;
    m->bout_n = 0;   /* the next outputs are this plan's */
    m->i8_used = 0;
    for (int i = 0; i < 4; i++) {
        ypr_plan *p = m->plans[i];
        if (p && ypr__plan_matches(p, &m->net, n, h, w)) {
            m->plan = p;
            m->plan_used[i] = m->tick;
            return YPR_OK;
        }
        if (p && ypr__plan_matches(p, &m->net, ypr__plan_batch(p), ypr__plan_height(p),
                                   ypr__plan_width(p)))
            donor = p;          /* same net version and kernels: share its packed weights */
        else if (p) {           /* stale */
            ypr__plan_free(p);
            m->plans[i] = NULL;
            p = NULL;
        }
        if (!p && free_slot < 0)
            free_slot = i;
        if (m->plan_used[i] < m->plan_used[lru])
            lru = i;
    }
    int slot = free_slot >= 0 ? free_slot : lru;
    ypr_plan *fresh = NULL;
    TRY(ypr__plan_create_from(&m->net, m->pool, n, h, w,
                              donor != m->plans[slot] ? donor : NULL, &fresh));
    ypr__plan_free(m->plans[slot]);   /* refcounted packs survive in the donor */
    m->plans[slot] = fresh;
    m->plan_used[slot] = m->tick;
    m->plan = fresh;
    return YPR_OK;
}

void ypr_model_free(ypr_model *m)
{
    if (!m)
        return;
    ypr__model_drop_plans(m);
    ypr__net_free(&m->net);
    if (m->names)
        for (int i = 0; i < m->nc; i++)
            free(m->names[i]);
    free(m->names);
    ypr__pool_free(m->pool);
    free(m);
}

int ypr__model_clone(const ypr_model *m, ypr_model **out)
{
    RETURN_IF(!m || !out, YPR_EINVAL, "model: NULL argument");
    *out = NULL;
    ypr_model *c = NULL;
    TRY(ypr__model_new(&c));
    int rc = ypr_model_set_threads(c, ypr__pool_size(m->pool));
    if (rc == YPR_OK)
        rc = ypr__net_clone(&m->net, &c->net, 1);
    if (rc == YPR_OK && m->names) {
        c->nc = m->nc;   /* ypr_model_free() frees nc names */
        c->names = calloc((size_t)(m->nc > 0 ? m->nc : 1), sizeof(char *));
        if (!c->names)
            rc = ypr__error(YPR_ENOMEM, "model: out of memory");
        for (int i = 0; rc == YPR_OK && i < m->nc; i++)
            if (m->names[i] && !(c->names[i] = strdup(m->names[i])))
                rc = ypr__error(YPR_ENOMEM, "model: out of memory");
    }
    if (rc < 0) {
        ypr_model_free(c);
        return rc;
    }
    c->nc = m->nc;
    c->input_size = m->input_size;
    c->conf_thr = m->conf_thr;
    c->iou_thr = m->iou_thr;
    c->max_det = m->max_det;
    c->multi_label = m->multi_label;
    c->agnostic = m->agnostic;
    *out = c;
    return YPR_OK;
}

int ypr__model_max_stride(const ypr_model *m)
{
    const ypr_node *d = m && m->net.nnodes ? &m->net.nodes[m->net.nnodes - 1] : NULL;
    float s = 0;
    for (int l = 0; d && d->kind == YPR_NODE_DETECT && l < d->nl; l++)
        if (d->strides[l] > s)
            s = d->strides[l];
    return (int)s;
}

static int from_text(const char *text, size_t len, const char *file, const ypr_model_opts *o,
                     ypr_model **out)
{
    ypr_model *m = NULL;
    TRY(ypr__model_new(&m));
    int rc = ypr__yolo_build(text, len, file, o, &m->net, &m->nc);
    if (rc < 0) {
        ypr_model_free(m);
        return rc;
    }
    ypr__yolo_init(&m->net, o ? o->seed : 0);
    *out = m;
    return YPR_OK;
}

int ypr_model_from_cfg(const char *cfg, int nc, double depth_multiple, double width_multiple,
                       uint64_t seed, ypr_model **out)
{
    RETURN_IF(!cfg || !out, YPR_EINVAL, "model: NULL argument");
    *out = NULL;
    RETURN_IF(nc < 0 || nc > 100000, YPR_EINVAL, "model: class count %d outside 0..100000", nc);
    RETURN_IF(!(depth_multiple >= 0 && depth_multiple <= 100) ||
              !(width_multiple >= 0 && width_multiple <= 100), YPR_EINVAL,
              "model: depth/width multiples must be in [0, 100] (0 = the cfg's)");
    ypr_model_opts o = {nc, depth_multiple, width_multiple, seed};
    char *text = NULL;
    size_t len = 0;
    int rc = ypr__builtin_cfg(cfg, &text);
    if (rc == YPR_OK) {
        char label[80];
        snprintf(label, sizeof label, "<builtin %s>", cfg);
        rc = from_text(text, strlen(text), label, &o, out);
        free(text);
        return rc;
    }
    if (rc != YPR_ENOTFOUND)
        return rc;
    TRY(ypr__file_read_all(cfg, (size_t)64 << 20, &text, &len));
    rc = from_text(text, len, cfg, &o, out);
    free(text);
    return rc;
}

int ypr_model_from_cfg_text(const char *text, size_t len, int nc, uint64_t seed, ypr_model **out)
{
    RETURN_IF(!text || !out, YPR_EINVAL, "model: NULL argument");
    *out = NULL;
    RETURN_IF(nc < 0 || nc > 100000, YPR_EINVAL, "model: class count %d outside 0..100000", nc);
    ypr_model_opts o = {nc, 0, 0, seed};
    return from_text(text, len, "<cfg text>", &o, out);
}

int64_t ypr_model_num_params(const ypr_model *m)
{
    if (!m)
        return ypr__error(YPR_EINVAL, "model: NULL handle");
    return ypr__net_num_params(&m->net);
}

int ypr_model_macs(const ypr_model *m, int h, int w, int conv_only, int64_t *macs)
{
    RETURN_IF(!m || !macs, YPR_EINVAL, "model: NULL argument");
    return ypr__net_macs(&m->net, h, w, conv_only, macs);
}

int ypr_model_num_classes(const ypr_model *m)
{
    if (!m)
        return ypr__error(YPR_EINVAL, "model: NULL handle");
    return m->nc;
}

static const ypr_node *detect_node(const ypr_model *m)
{
    return m->net.nnodes ? &m->net.nodes[m->net.nnodes - 1] : NULL;
}

int ypr_model_num_levels(const ypr_model *m)
{
    if (!m)
        return ypr__error(YPR_EINVAL, "model: NULL handle");
    return detect_node(m)->nl;
}

int ypr_model_set_threads(ypr_model *m, int threads)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    RETURN_IF(threads < 0 || threads > 1024, YPR_ERANGE, "model: thread count %d outside 0..1024",
              threads);
    ypr_pool *p;
    TRY(ypr__pool_create(threads, &p));
    ypr__model_drop_plans(m);
    ypr__pool_free(m->pool);
    m->pool = p;
    return YPR_OK;
}

/* ---------------------------------------------------- image-parallel batches
 *
 * A batch of n >= 2 images on a pool of P >= 2 threads runs as whole images
 * on min(n, P) workers at once, each with its own batch-1 plan on its own
 * pool of P / workers threads (one thread each when n >= P), instead of one
 * batch-n plan whose every step is split over the P threads. Each worker
 * takes the next image as it finishes one, so nothing waits on a barrier
 * between layers, a worker's activations stay the size of one image's, and
 * a slow or descheduled core delays only its own image. The plans share the
 * packed weights; each image's values are computed exactly as by a batch-1
 * pass (every output element by one task in a fixed order), so the outputs
 * are bit-identical to running the images one by one. */

/* Make m's workers right for [1, 3, h, w] on min(n, P) workers. */
static int ensure_workers(ypr_model *m, int64_t n, int64_t h, int64_t w)
{
    int threads = ypr__pool_size(m->pool);
    int nw = n < threads ? (int)n : threads, each = threads / nw;
    int ok = m->nworkers == nw;
    for (int i = 0; ok && i < nw; i++)
        ok = ypr__plan_matches(m->wplans[i], &m->net, 1, h, w) &&
             ypr__pool_size(m->wpools[i]) == each;
    if (ok)
        return YPR_OK;
    drop_workers(m);
    ypr_plan *donor = NULL;   /* packed weights: share a cached plan's when it is current */
    for (int i = 0; i < 4 && !donor; i++)
        if (m->plans[i] && ypr__plan_matches(m->plans[i], &m->net, ypr__plan_batch(m->plans[i]),
                                             ypr__plan_height(m->plans[i]),
                                             ypr__plan_width(m->plans[i])))
            donor = m->plans[i];
    m->wplans = calloc((size_t)nw, sizeof *m->wplans);
    m->wpools = calloc((size_t)nw, sizeof *m->wpools);
    if (!m->wplans || !m->wpools) {
        free(m->wplans);
        free(m->wpools);
        m->wplans = NULL;
        m->wpools = NULL;
        return ypr__error(YPR_ENOMEM, "model: out of memory");
    }
    int rc = YPR_OK;
    for (int i = 0; rc == YPR_OK && i < nw; i++) {
        m->nworkers = i + 1;
        rc = ypr__pool_create(each, &m->wpools[i]);
        if (rc == YPR_OK)
            rc = ypr__plan_create_from(&m->net, m->wpools[i], 1, h, w,
                                       donor ? donor : m->wplans[0], &m->wplans[i]);
    }
    if (rc < 0)
        drop_workers(m);
    return rc;
}

/* Room in m->bout for n images of every level of the workers' plans. */
static int ensure_bout(ypr_model *m, int64_t n)
{
    const ypr_plan *p = m->wplans[0];
    int nl = ypr__plan_num_outputs(p);
    int64_t *off = malloc((size_t)(nl + 1) * sizeof *off);
    RETURN_IF(!off, YPR_ENOMEM, "model: out of memory");
    int64_t at = 0, per = 0;
    for (int l = 0; l < nl; l++) {
        ypr_shape s;
        ypr__plan_output(p, l, &s);
        per += s.c * s.h * s.w;   /* one image's outputs: within the plan's own limits */
    }
    if (ypr__mul_size(per, n, &at) < 0 ||
        at > YPR_PLAN_MAX_ACTIVATION_BYTES / (int64_t)sizeof(float)) {
        free(off);
        return ypr__error(YPR_ERANGE, "model: batch %lld: %lld output values per image exceed "
                          "the %lld-byte limit", (long long)n, (long long)per,
                          (long long)YPR_PLAN_MAX_ACTIVATION_BYTES);
    }
    at = 0;
    for (int l = 0; l < nl; l++) {
        ypr_shape s;
        ypr__plan_output(p, l, &s);
        off[l] = at;
        at += n * s.c * s.h * s.w;
    }
    off[nl] = at;
    if ((size_t)at > m->bout_floats) {
        float *b = ypr__alloc((size_t)at * sizeof(float));
        if (!b) {
            free(off);
            return YPR_ENOMEM;
        }
        ypr__free(m->bout);
        m->bout = b;
        m->bout_floats = (size_t)at;
    }
    free(m->bout_off);
    m->bout_off = off;
    return YPR_OK;
}

typedef struct image_job {
    ypr_model *m;
    const float *x;
    int64_t n, in_floats;
    atomic_llong next;     /* the next image to take */
    atomic_int rc;         /* the first failure */
    char msg[512];         /* its message (recorded on the worker's thread) */
} image_job;

static void image_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    image_job *j = ctx;
    ypr_model *m = j->m;
    ypr_plan *p = m->wplans[task];
    int nl = ypr__plan_num_outputs(p);
    for (;;) {
        if (atomic_load_explicit(&j->rc, memory_order_relaxed) != 0)
            return;
        int64_t i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (i >= j->n)
            return;
        int rc = ypr__plan_run(p, j->x + i * j->in_floats);
        if (rc < 0) {
            int none = 0;
            if (atomic_compare_exchange_strong(&j->rc, &none, rc)) {
                const char *e = ypr_last_error(), *colon = strstr(e, ": ");
                snprintf(j->msg, sizeof j->msg, "%s", colon ? colon + 2 : e);
            }
            return;
        }
        for (int l = 0; l < nl; l++) {
            ypr_shape s;
            const float *src = ypr__plan_output(p, l, &s);
            int64_t per = s.c * s.h * s.w;
            memcpy(m->bout + m->bout_off[l] + i * per, src, (size_t)per * sizeof(float));
        }
    }
}

/* A batch is refused as a batch-n plan would refuse it when one of its
 * values passes the activation limit, so the thread count never decides
 * whether a call succeeds (the plans check the rest per image). */
static int check_batch(const ypr_model *m, int64_t n, int64_t h, int64_t w)
{
    const ypr_net *net = &m->net;
    ypr_shape *sh = malloc((size_t)net->nnodes * sizeof *sh);
    RETURN_IF(!sh, YPR_ENOMEM, "model: out of memory");
    int rc = ypr__net_shapes(net, h, w, sh);
    const int64_t max_floats = YPR_PLAN_MAX_ACTIVATION_BYTES / (int64_t)sizeof(float);
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        int64_t e = 0;
        if (net->nodes[i].kind == YPR_NODE_INPUT)
            continue;
        if (ypr__mul_size(n, sh[i].c, &e) < 0 || ypr__mul_size(e, sh[i].h, &e) < 0 ||
            ypr__mul_size(e, sh[i].w, &e) < 0 || e > max_floats)
            rc = ypr__error(YPR_ERANGE, "plan: node %s: %lldx%lldx%lldx%lld activations exceed "
                            "the %lld-byte limit (batch %lld, input %lldx%lld)",
                            net->nodes[i].name, (long long)n, (long long)sh[i].c,
                            (long long)sh[i].h, (long long)sh[i].w,
                            (long long)YPR_PLAN_MAX_ACTIVATION_BYTES, (long long)n,
                            (long long)h, (long long)w);
    }
    free(sh);
    return rc;
}

static int forward_images(ypr_model *m, const float *x, int64_t n, int64_t h, int64_t w)
{
    m->bout_n = 0;
    TRY(check_batch(m, n, h, w));
    TRY(ensure_workers(m, n, h, w));
    TRY(ensure_bout(m, n));
    image_job *j = calloc(1, sizeof *j);
    RETURN_IF(!j, YPR_ENOMEM, "model: out of memory");
    j->m = m;
    j->x = x;
    j->n = n;
    j->in_floats = 3 * h * w;
    atomic_init(&j->next, 0);
    atomic_init(&j->rc, 0);
    ypr__pool_run(m->pool, m->nworkers, image_task, j);
    int rc = atomic_load(&j->rc);
    if (rc < 0)
        rc = ypr__error(rc, "%s", j->msg);
    else
        m->bout_n = n;
    free(j);
    return rc;
}

const float *ypr__model_output_at(const ypr_model *m, int level, ypr_shape *shape, int64_t *n)
{
    if (m->i8_used) {
        *n = ypr__plan_i8_batch(m->i8);
        return ypr__plan_i8_output(m->i8, level, shape);
    }
    if (m->bout_n > 0) {
        if (level < 0 || level >= ypr__plan_num_outputs(m->wplans[0]))
            return NULL;
        ypr__plan_output(m->wplans[0], level, shape);
        *n = m->bout_n;
        return m->bout + m->bout_off[level];
    }
    if (!m->plan)
        return NULL;
    *n = ypr__plan_batch(m->plan);
    return ypr__plan_output(m->plan, level, shape);
}

/* YPR_INT8=0 runs quantized nets on the float fake-quant plan (A/B runs). */
static int int8_wanted(void)
{
    const char *e = getenv("YPR_INT8");
    return !(e && strcmp(e, "0") == 0);
}

/* Make m->i8 an INT8 plan for [n, 3, h, w]: a cached one (one per input
 * shape, at most 4, the least recently used replaced, as the float plans
 * are), or a new one sharing the packed weights of a cached plan of the
 * same net version. A plan of an older net version is dropped. */
static int i8_plan(ypr_model *m, int64_t n, int64_t h, int64_t w)
{
    int free_slot = -1, lru = 0;
    ypr_plan_i8 *donor = NULL;
    m->tick++;
    for (int i = 0; i < 4; i++) {
        ypr_plan_i8 *p = m->i8s[i];
        if (p && ypr__plan_i8_matches(p, &m->net, n, h, w)) {
            m->i8 = p;
            m->i8_at[i] = m->tick;
            return YPR_OK;
        }
        if (p && ypr__plan_i8_matches(p, &m->net, m->i8_shape[i][0], m->i8_shape[i][1],
                                      m->i8_shape[i][2]))
            donor = p;          /* same net version and kernels: share its packed weights */
        else if (p) {           /* stale */
            ypr__plan_i8_free(p);
            m->i8s[i] = NULL;
            if (m->i8 == p)
                m->i8 = NULL;
            p = NULL;
        }
        if (!p && free_slot < 0)
            free_slot = i;
        if (m->i8_at[i] < m->i8_at[lru])
            lru = i;
    }
    int slot = free_slot >= 0 ? free_slot : lru;
    ypr_plan_i8 *fresh = NULL;
    TRY(ypr__plan_i8_create_from(&m->net, m->pool, n, h, w,
                                 donor != m->i8s[slot] ? donor : NULL, &fresh));
    if (m->i8 == m->i8s[slot])
        m->i8 = NULL;
    ypr__plan_i8_free(m->i8s[slot]);   /* refcounted packs survive in the donor */
    m->i8s[slot] = fresh;
    m->i8_shape[slot][0] = n;
    m->i8_shape[slot][1] = h;
    m->i8_shape[slot][2] = w;
    m->i8_at[slot] = m->tick;
    m->i8 = fresh;
    return YPR_OK;
}

/* A quantized net runs on the INT8 plan (cached per input shape, whose
 * steps use the whole pool); YPR_EUNSUPPORTED (nothing run) sends the
 * caller to the float plan: a float net, YPR_INT8=0, or a net the INT8 plan
 * refused (logged once per net version). */
static int forward_i8(ypr_model *m, const float *x, int64_t n, int64_t h, int64_t w)
{
    if (!int8_wanted() || m->i8_refused == m->net.version + 1 ||
        !ypr__net_is_quantized(&m->net))
        return YPR_EUNSUPPORTED;
    int rc = i8_plan(m, n, h, w);
    if (rc == YPR_EUNSUPPORTED) {
        ypr__log(YPR_LOG_WARN, "quantized model runs on the float simulation: %s",
                 ypr_last_error());
        m->i8_refused = m->net.version + 1;
    }
    if (rc < 0)
        return rc;
    m->bout_n = 0;
    m->plan = NULL;
    TRY(ypr__plan_i8_run(m->i8, x));
    m->i8_used = 1;
    return YPR_OK;
}

static int forward_any(ypr_model *m, const float *input, int n, int h, int w)
{
    m->i8_used = 0;
    int rc = forward_i8(m, input, n, h, w);
    if (rc != YPR_EUNSUPPORTED)
        return rc;
    if (n >= 2 && ypr__pool_size(m->pool) >= 2)
        return forward_images(m, input, n, h, w);
    TRY(ypr__model_plan(m, n, h, w));
    return ypr__plan_run(m->plan, input);
}

int ypr_model_forward(ypr_model *m, const float *input, int n, int h, int w)
{
    RETURN_IF(!m || !input, YPR_EINVAL, "model: NULL argument");
    RETURN_IF(n < 1 || h < 1 || w < 1, YPR_EINVAL, "model: input size %dx%dx%d must be positive",
              n, h, w);
    m->plan_name[0] = '\0';
    int rc = forward_any(m, input, n, h, w);
    if (rc < 0)
        return rc;
    if (m->i8_used)
        snprintf(m->plan_name, sizeof m->plan_name, "int8 (%s)", ypr__plan_i8_kernels(m->i8));
    else
        snprintf(m->plan_name, sizeof m->plan_name, "%s (%s)",
                 ypr__net_is_quantized(&m->net) ? "float simulation" : "float",
                 ypr_simd_active());
    return rc;
}

const char *ypr_model_plan_name(const ypr_model *m)
{
    return m && m->plan_name[0] ? m->plan_name : "none";
}

/* o[i·no + k] = planes[k·hw + i]: no planes of hw values to hw rows of no,
 * 64 positions at a time; 4 × 4 blocks through SSE registers (yolov7-tiny
 * @416, all levels: 0.134 → 0.07 ms). */
static void to_positions(const float *planes, int64_t no, int64_t hw, float *o)
{
    enum { SPAN = 64 };
    for (int64_t i0 = 0; i0 < hw; i0 += SPAN) {
        const int64_t i1 = i0 + SPAN < hw ? i0 + SPAN : hw;
        int64_t k = 0;
#if defined(__SSE2__)
        for (; k + 4 <= no; k += 4) {
            const float *p = planes + k * hw;
            int64_t i = i0;
            for (; i + 4 <= i1; i += 4) {
                __m128 r0 = _mm_loadu_ps(p + i), r1 = _mm_loadu_ps(p + hw + i);
                __m128 r2 = _mm_loadu_ps(p + 2 * hw + i), r3 = _mm_loadu_ps(p + 3 * hw + i);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(o + i * no + k, r0);
                _mm_storeu_ps(o + (i + 1) * no + k, r1);
                _mm_storeu_ps(o + (i + 2) * no + k, r2);
                _mm_storeu_ps(o + (i + 3) * no + k, r3);
            }
            for (; i < i1; i++)
                for (int64_t kk = k; kk < k + 4; kk++)
                    o[i * no + kk] = p[(kk - k) * hw + i];
        }
#endif
        for (; k < no; k++)
            for (int64_t i = i0; i < i1; i++)
                o[i * no + k] = planes[k * hw + i];
    }
}

int ypr_model_output(const ypr_model *m, int level, float *dst, int64_t shape[5])
{
    RETURN_IF(!m || !shape, YPR_EINVAL, "model: NULL argument");
    RETURN_IF(!m->plan && !m->bout_n && !m->i8_used, YPR_ESTATE, "model: no forward pass has run");
    const ypr_node *d = detect_node(m);
    RETURN_IF(level < 0 || level >= d->nl, YPR_ERANGE, "model: level %d outside 0..%d", level,
              d->nl - 1);
    ypr_shape s;
    int64_t n = 0;
    const float *src = ypr__model_output_at(m, level, &s, &n);
    RETURN_IF(!src, YPR_EINTERNAL, "model: missing output %d", level);
    int64_t na = d->na, no = d->nc + 5, hw = s.h * s.w;
    shape[0] = n;
    shape[1] = na;
    shape[2] = s.h;
    shape[3] = s.w;
    shape[4] = no;
    if (!dst)
        return YPR_OK;
    /* [n, na·no, H, W] → [n, na, H, W, no], 64 positions at a time so that
     * the block written (64·no floats) stays in L1 while its no planes are
     * read (one plane at a time over all positions went through the whole
     * output no times: 0.6 ms of yolov7-tiny's 416 pass) */
    for (int64_t b = 0; b < n; b++)
        for (int64_t a = 0; a < na; a++)
            to_positions(src + (b * na + a) * no * hw, no, hw, dst + (b * na + a) * hw * no);
    return YPR_OK;
}

/* ---------------------------------------------------------------- summary */

static void sb_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    YPR_PRINTF(4, 5);

static void sb_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    if (!*buf)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (*len + (size_t)n + 1 > *cap) {
        size_t nc = *cap * 2 + (size_t)n + 1;
        char *b = realloc(*buf, nc);
        if (!b) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, tmp, (size_t)n + 1);
    *len += (size_t)n;
}

int ypr_model_summary(const ypr_model *m, int h, int w, char **text)
{
    RETURN_IF(!m || !text, YPR_EINVAL, "model: NULL argument");
    *text = NULL;
    const ypr_net *net = &m->net;
    ypr_shape *sh = malloc((size_t)net->nnodes * sizeof *sh);
    RETURN_IF(!sh, YPR_ENOMEM, "out of memory");
    int rc = ypr__net_shapes(net, h, w, sh);
    if (rc < 0) {
        free(sh);
        return rc;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (buf)
        buf[0] = '\0';
    sb_add(&buf, &len, &cap, "%5s %-28s %-34s %12s %20s %10s\n", "layer", "module (nodes)",
           "tensors", "params", "output", "MMACs");
    int64_t tot_p = 0, tot_m = 0;
    for (int i = 0; i < net->nnodes;) {
        int layer = net->nodes[i].layer, j = i;
        int64_t params = 0, macs = 0;
        char kinds[128] = "";
        size_t kl = 0;
        int ntensors = 0;
        const char *first_tensor = "";
        for (; j < net->nnodes && net->nodes[j].layer == layer; j++) {
            const ypr_node *nd = &net->nodes[j];
            if (kl < sizeof kinds - 16) {
                int n = snprintf(kinds + kl, sizeof kinds - kl, "%s%s", kl ? "," : "",
                                 ypr__node_kind_name(nd->kind));
                kl += n > 0 ? (size_t)n : 0;
            }
            for (int s = 0; s < 4; s++)
                if (nd->p[s] >= 0) {
                    const ypr_param *p = &net->params[nd->p[s]];
                    if (!p->is_buffer)
                        params += p->numel;
                    if (!ntensors++)
                        first_tensor = p->name;
                }
            if (nd->kind == YPR_NODE_CONV)
                macs += sh[j].h * sh[j].w * net->params[nd->p[0]].numel;
        }
        const ypr_shape *o = &sh[j - 1];
        char out[48];
        if (net->nodes[j - 1].kind == YPR_NODE_DETECT)
            snprintf(out, sizeof out, "%d levels", net->nodes[j - 1].nl);
        else
            snprintf(out, sizeof out, "%lldx%lldx%lld", (long long)o->c, (long long)o->h,
                     (long long)o->w);
        char tens[64];
        snprintf(tens, sizeof tens, "%.40s%s", first_tensor, ntensors > 1 ? " ..." : "");
        sb_add(&buf, &len, &cap, "%5d %-28.28s %-34.34s %12lld %20s %10.2f\n", layer, kinds, tens,
               (long long)params, out, (double)macs / 1e6);
        tot_p += params;
        tot_m += macs;
        i = j;
    }
    sb_add(&buf, &len, &cap, "%d nodes, %lld parameters, %.3f GMACs (conv) at %dx%d\n",
           net->nnodes, (long long)tot_p, (double)tot_m / 1e9, w, h);
    free(sh);
    RETURN_IF(!buf, YPR_ENOMEM, "out of memory");
    *text = buf;
    return YPR_OK;
}

int ypr_model_num_tensors(const ypr_model *m)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    return m->net.nparams;
}

int ypr_model_tensor(const ypr_model *m, int i, const char **name, int *ndim, int64_t shape[6],
                     const float **data)
{
    RETURN_IF(!m, YPR_EINVAL, "model: NULL handle");
    RETURN_IF(i < 0 || i >= m->net.nparams, YPR_ERANGE, "model: tensor %d outside 0..%d", i,
              m->net.nparams - 1);
    const ypr_param *p = &m->net.params[i];
    if (name)
        *name = p->name;
    if (ndim)
        *ndim = p->ndim;
    if (shape)
        for (int d = 0; d < 6; d++)
            shape[d] = d < p->ndim ? p->shape[d] : 0;
    if (data)
        *data = p->data;
    return YPR_OK;
}

int ypr_model_set_tensor(ypr_model *m, int i, const float *data, int64_t numel)
{
    RETURN_IF(!m || !data, YPR_EINVAL, "model: NULL argument");
    RETURN_IF(i < 0 || i >= m->net.nparams, YPR_ERANGE, "model: tensor %d outside 0..%d", i,
              m->net.nparams - 1);
    ypr_param *p = &m->net.params[i];
    RETURN_IF(numel != p->numel, YPR_ESHAPE, "model: tensor %s has %lld elements, got %lld",
              p->name, (long long)p->numel, (long long)numel);
    memcpy(p->data, data, (size_t)numel * sizeof(float));
    ypr__param_sync(p);   /* stays I8 / I32 while the values are on its grid, else F32 */
    m->net.version++;
    return YPR_OK;
}

int ypr_model_memory(const ypr_model *m, int64_t *bytes)
{
    RETURN_IF(!m || !bytes, YPR_EINVAL, "model: NULL argument");
    int64_t t = 0;
    for (int i = 0; i < m->net.nparams; i++) {   /* float view, and a quantized tensor's integers */
        const ypr_param *p = &m->net.params[i];
        t += p->numel * (int64_t)sizeof(float);
        t += p->numel * (int64_t)ypr__dtype_size(p->dtype);
        t += p->nscales * (int64_t)(sizeof(float) + sizeof(int32_t));
    }
    int packs_counted = 0;
    for (int i = 0; i < 4; i++)
        if (m->plans[i]) {
            t += (int64_t)ypr__plan_bytes(m->plans[i], !packs_counted);
            packs_counted = 1;
        }
    for (int i = 0; i < m->nworkers; i++) {   /* image-parallel batches */
        t += (int64_t)ypr__plan_bytes(m->wplans[i], !packs_counted);
        packs_counted = 1;
    }
    t += (int64_t)(m->bout_floats * sizeof(float));
    packs_counted = 0;   /* the INT8 plans share one set of packed weights */
    for (int i = 0; i < 4; i++)
        if (m->i8s[i]) {
            t += (int64_t)(ypr__plan_i8_bytes(m->i8s[i]) -
                           (packs_counted ? ypr__plan_i8_pack_bytes(m->i8s[i]) : 0));
            packs_counted = 1;
        }
    *bytes = t;
    return YPR_OK;
}
