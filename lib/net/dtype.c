/* Tensor dtypes: the integers of an I8 / I32 tensor beside its float view,
 * and the one rule that keeps them equal (net.h, ypr_param). The float view
 * is never changed here: a tensor becomes quantized only when its values
 * already lie exactly on the grid, so marking, cloning, pruning and loading
 * a quantized net leave every output bit as it was. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

void ypr__dtype_range(int dtype, int64_t *lo, int64_t *hi)
{
    if (dtype == YPR_DTYPE_I8) {
        *lo = INT8_MIN;
        *hi = INT8_MAX;
    } else {
        *lo = INT32_MIN;
        *hi = INT32_MAX;
    }
}

const char *ypr__dtype_name(int dtype)
{
    switch (dtype) {
    case YPR_DTYPE_F32: return "F32";
    case YPR_DTYPE_I8: return "I8";
    case YPR_DTYPE_I32: return "I32";
    default: return "?";
    }
}

size_t ypr__dtype_size(int dtype)
{
    return dtype == YPR_DTYPE_I8 ? 1 : dtype == YPR_DTYPE_I32 ? 4 : 0;
}

/* The product is exact in double for I8 (8 × 24 bits) and rounded once to
 * float: the same value float arithmetic gives, so fake quantization
 * (qparam.c: (v − z)·s in float) and this agree bit for bit. */
float ypr__dequant1(int dtype, const void *q, int64_t k, float scale, int32_t zero)
{
    int64_t v = dtype == YPR_DTYPE_I8 ? ((const int8_t *)q)[k] : ((const int32_t *)q)[k];
    return (float)((double)(v - zero) * (double)scale);
}

static int64_t per_channel(const ypr_param *p, int64_t nscales)
{
    return nscales > 1 ? p->numel / nscales : p->numel;
}

static int check_scales(const ypr_param *p, int dtype, int64_t nscales, const float *scales,
                        const int32_t *zeros)
{
    if (dtype != YPR_DTYPE_I8 && dtype != YPR_DTYPE_I32)
        return 0;
    int64_t lo, hi;
    ypr__dtype_range(dtype, &lo, &hi);
    if (nscales < 1 || !scales || (nscales > 1 && (p->ndim < 1 || nscales != p->shape[0])))
        return 0;
    for (int64_t c = 0; c < nscales; c++) {
        if (!(scales[c] > 0.0f) || !isfinite(scales[c]))
            return 0;
        if (zeros && (zeros[c] < lo || zeros[c] > hi))
            return 0;
    }
    return 1;
}

/* ypr__param_fits with the integers also within [lo, hi]. */
static int fits_within(const ypr_param *p, int dtype, int64_t nscales, const float *scales,
                       const int32_t *zeros, int64_t lo, int64_t hi, void *q_out)
{
    if (!p->data || !check_scales(p, dtype, nscales, scales, zeros))
        return 0;
    int64_t per = per_channel(p, nscales);
    for (int64_t c = 0; c < nscales; c++) {
        const float s = scales[c];
        const int32_t z = zeros ? zeros[c] : 0;
        for (int64_t i = c * per; i < (c + 1) * per; i++) {
            double v = rint((double)p->data[i] / (double)s) + z;
            if (!(v >= (double)lo && v <= (double)hi))   /* also NaN */
                return 0;
            int32_t qi = (int32_t)v;
            if ((float)((double)((int64_t)qi - z) * (double)s) != p->data[i])
                return 0;
            if (q_out && dtype == YPR_DTYPE_I8)
                ((int8_t *)q_out)[i] = (int8_t)qi;
            else if (q_out)
                ((int32_t *)q_out)[i] = qi;
        }
    }
    return 1;
}

int ypr__param_fits(const ypr_param *p, int dtype, int64_t nscales, const float *scales,
                    const int32_t *zeros, void *q_out)
{
    int64_t lo, hi;
    ypr__dtype_range(dtype, &lo, &hi);
    return fits_within(p, dtype, nscales, scales, zeros, lo, hi, q_out);
}

/* −0 and +0 are the same grid point, integer zero − zero point: the float
 * view keeps +0, what the integers give back (a checkpoint then reloads bit
 * for bit). Nothing else changes. */
static void positive_zeros(ypr_param *p)
{
    for (int64_t i = 0; i < p->numel; i++)
        if (p->data[i] == 0.0f)
            p->data[i] = 0.0f;
}

void ypr__param_drop_q(ypr_param *p)
{
    ypr__free(p->q);
    free(p->scales);
    free(p->zeros);
    p->q = NULL;
    p->scales = NULL;
    p->zeros = NULL;
    p->nscales = 0;
    p->dtype = YPR_DTYPE_F32;
}

int ypr__param_quantize(ypr_param *p, int dtype, int64_t nscales, const float *scales,
                        const int32_t *zeros)
{
    if (dtype == YPR_DTYPE_F32) {
        ypr__param_drop_q(p);
        return YPR_OK;
    }
    RETURN_IF(!check_scales(p, dtype, nscales, scales, zeros), YPR_EINVAL,
              "tensor %s: %s needs 1 or shape[0] finite positive scales and zero points "
              "within its range (got %lld)", p->name, ypr__dtype_name(dtype), (long long)nscales);
    RETURN_IF(!p->data, YPR_EINVAL, "tensor %s: no values to quantize", p->name);
    size_t es = ypr__dtype_size(dtype);
    void *q = ypr__alloc((size_t)(p->numel ? p->numel : 1) * es);
    float *s = malloc((size_t)nscales * sizeof *s);
    int32_t *z = calloc((size_t)nscales, sizeof *z);
    if (!q || !s || !z) {
        ypr__free(q);
        free(s);
        free(z);
        return ypr__error(YPR_ENOMEM, "tensor %s: out of memory", p->name);
    }
    memcpy(s, scales, (size_t)nscales * sizeof *s);
    if (zeros)
        memcpy(z, zeros, (size_t)nscales * sizeof *z);
    if (!ypr__param_fits(p, dtype, nscales, s, z, q)) {
        /* name the first value off the grid */
        int64_t lo, hi, per = per_channel(p, nscales), bad = 0;
        ypr__dtype_range(dtype, &lo, &hi);
        for (int64_t i = 0; i < p->numel; i++) {
            int64_t c = nscales > 1 ? i / per : 0;
            double v = rint((double)p->data[i] / s[c]) + z[c];
            if (!(v >= (double)lo && v <= (double)hi) ||
                (float)((v - z[c]) * (double)s[c]) != p->data[i]) {
                bad = i;
                break;
            }
        }
        int64_t c = nscales > 1 ? bad / per : 0;
        ypr__free(q);
        free(s);
        free(z);
        return ypr__error(YPR_ERANGE, "tensor %s: element %lld (%g) is not on the %s grid of "
                          "scale %g, zero point %d", p->name, (long long)bad,
                          (double)p->data[bad], ypr__dtype_name(dtype), (double)scales[c],
                          zeros ? (int)zeros[c] : 0);
    }
    ypr__param_drop_q(p);
    positive_zeros(p);
    p->dtype = dtype;
    p->q = q;
    p->nscales = nscales;
    p->scales = s;
    p->zeros = z;
    return YPR_OK;
}

int ypr__param_consistent(const ypr_param *p)
{
    if (p->dtype == YPR_DTYPE_F32)
        return 1;
    if (!p->q || !p->data || !p->scales || !p->zeros)
        return 0;
    int64_t per = per_channel(p, p->nscales);
    for (int64_t i = 0; i < p->numel; i++) {
        int64_t c = p->nscales > 1 ? i / per : 0;
        if (ypr__dequant1(p->dtype, p->q, i, p->scales[c], p->zeros[c]) != p->data[i])
            return 0;
    }
    return 1;
}

int ypr__param_sync(ypr_param *p)
{
    if (p->dtype == YPR_DTYPE_F32)
        return 0;
    if (p->q && ypr__param_fits(p, p->dtype, p->nscales, p->scales, p->zeros, NULL)) {
        ypr__param_fits(p, p->dtype, p->nscales, p->scales, p->zeros, p->q);
        positive_zeros(p);
        return 1;
    }
    ypr__param_drop_q(p);
    return 0;
}

int ypr__param_copy_q(ypr_param *dst, const ypr_param *src)
{
    if (src->dtype == YPR_DTYPE_F32 || !src->q)
        return YPR_OK;
    size_t qb = (size_t)(src->numel ? src->numel : 1) * ypr__dtype_size(src->dtype);
    void *q = ypr__alloc(qb);
    float *s = malloc((size_t)src->nscales * sizeof *s);
    int32_t *z = malloc((size_t)src->nscales * sizeof *z);
    if (!q || !s || !z) {
        ypr__free(q);
        free(s);
        free(z);
        return ypr__error(YPR_ENOMEM, "tensor %s: out of memory", src->name);
    }
    memcpy(q, src->q, (size_t)src->numel * ypr__dtype_size(src->dtype));
    memcpy(s, src->scales, (size_t)src->nscales * sizeof *s);
    memcpy(z, src->zeros, (size_t)src->nscales * sizeof *z);
    ypr__param_drop_q(dst);
    dst->dtype = src->dtype;
    dst->q = q;
    dst->nscales = src->nscales;
    dst->scales = s;
    dst->zeros = z;
    return YPR_OK;
}

/* Remove the marked slices of one axis from `n`-element rows of elem bytes. */
static void compact_bytes(void *base, size_t elem, int64_t outer, int64_t dim, int64_t inner,
                          const unsigned char *drop)
{
    unsigned char *data = base, *o = base;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < dim;) {
            if (drop[k]) {
                k++;
                continue;
            }
            int64_t run = 1;   /* copy runs of kept rows at once */
            while (k + run < dim && !drop[k + run])
                run++;
            const unsigned char *src = data + (size_t)((a * dim + k) * inner) * elem;
            if (src != o)
                memmove(o, src, (size_t)(run * inner) * elem);
            o += (size_t)(run * inner) * elem;
            k += run;
        }
}

void ypr__param_compact(ypr_param *p, int axis, const unsigned char *drop)
{
    int64_t outer = 1, inner = 1, dim = p->shape[axis], keep = 0;
    for (int d = 0; d < axis; d++)
        outer *= p->shape[d];
    for (int d = axis + 1; d < p->ndim; d++)
        inner *= p->shape[d];
    for (int64_t k = 0; k < dim; k++)
        keep += !drop[k];
    if (p->data)
        compact_bytes(p->data, sizeof(float), outer, dim, inner, drop);
    if (p->q)
        compact_bytes(p->q, ypr__dtype_size(p->dtype), outer, dim, inner, drop);
    if (axis == 0 && p->nscales > 1) {
        compact_bytes(p->scales, sizeof(float), 1, dim, 1, drop);
        compact_bytes(p->zeros, sizeof(int32_t), 1, dim, 1, drop);
        p->nscales = keep;
    }
    p->shape[axis] = keep;
    p->numel = 1;
    for (int d = 0; d < p->ndim; d++)
        p->numel *= p->shape[d];
    if (p->dtype != YPR_DTYPE_F32 && p->numel == 0)
        ypr__param_drop_q(p);   /* nothing left to describe */
}

/* ------------------------------------------------- marking from steps */

/* The float nearest `s` (s itself, then 1 and 2 ulps either side) whose grid
 * holds values x[0..n) exactly; 0 when none does. */
static float exact_scale(const ypr_param *p, int64_t c0, int64_t n, float s,
                         const ypr_qparam *step)
{
    float cand[5] = {s, nextafterf(s, INFINITY), nextafterf(s, 0.0f), 0, 0};
    cand[3] = nextafterf(cand[1], INFINITY);
    cand[4] = nextafterf(cand[2], 0.0f);
    const int64_t lo = step->qmin, hi = step->qmax;
    const int32_t zero = step->zero;
    for (int k = 0; k < 5; k++) {
        if (!(cand[k] > 0.0f) || !isfinite(cand[k]))
            continue;
        int ok = 1;
        for (int64_t i = c0; ok && i < c0 + n; i++) {
            double v = rint((double)p->data[i] / cand[k]) + zero;
            ok = v >= (double)lo && v <= (double)hi &&
                 (float)((v - zero) * (double)cand[k]) == p->data[i];
        }
        if (ok)
            return cand[k];
    }
    return 0.0f;
}

static int step_dtype(const ypr_qparam *q)
{
    return q->qmin >= INT8_MIN && q->qmax <= INT8_MAX ? YPR_DTYPE_I8 : YPR_DTYPE_I32;
}

/* The step of the value conv node `c` reads: through max-pools, upsamples
 * and reorgs, which move values without changing their grid. */
static float input_step(const ypr_net *net, int c)
{
    int i = net->nodes[c].inputs[0];
    while (net->nodes[i].kind == YPR_NODE_MAXPOOL || net->nodes[i].kind == YPR_NODE_UPSAMPLE ||
           net->nodes[i].kind == YPR_NODE_REORG)
        i = net->nodes[i].inputs[0];
    return net->nodes[i].aq.scale;
}

/* Per-channel scales of a conv weight (max|w_c|/qmax, 1 for an all-zero
 * channel, as the per-channel scheme picks them) made exact; 0 on failure. */
static int weight_scales(const ypr_param *w, const ypr_qparam *q, float *s)
{
    int64_t oc = w->shape[0], per = oc ? w->numel / oc : 0;
    for (int64_t o = 0; o < oc; o++) {
        double amax = 0;
        for (int64_t i = o * per; i < (o + 1) * per; i++)
            amax = fabs((double)w->data[i]) > amax ? fabs((double)w->data[i]) : amax;
        float want = amax > 0 ? (float)(amax / q->qmax) : 1.0f;
        s[o] = exact_scale(w, o * per, per, want, q);
        if (!(s[o] > 0))
            return 0;
    }
    return 1;
}

static int mark_conv(ypr_net *net, int c, float *s)
{
    const ypr_node *nd = &net->nodes[c];
    ypr_param *w = &net->params[nd->p[0]];
    int wok = 0;
    if (nd->wq.scale > 0 && w->dtype == YPR_DTYPE_F32 && w->data && w->ndim == 4 &&
        w->shape[0] > 0) {
        int dt = step_dtype(&nd->wq);
        int32_t z = nd->wq.zero;
        if (nd->wq.per_channel && dt == YPR_DTYPE_I8 && nd->wq.qmax > 0) {
            wok = weight_scales(w, &nd->wq, s);
            if (wok) {
                int32_t *zs = malloc((size_t)w->shape[0] * sizeof *zs);
                RETURN_IF(!zs, YPR_ENOMEM, "net: out of memory");
                for (int64_t o = 0; o < w->shape[0]; o++)
                    zs[o] = z;
                int rc = ypr__param_quantize(w, dt, w->shape[0], s, zs);
                free(zs);
                if (rc == YPR_ENOMEM)
                    return rc;
                wok = rc == YPR_OK;
            }
        } else if (!nd->wq.per_channel &&
                   fits_within(w, dt, 1, &nd->wq.scale, &z, nd->wq.qmin, nd->wq.qmax, NULL)) {
            TRY(ypr__param_quantize(w, dt, 1, &nd->wq.scale, &z));
            wok = 1;
        }
    }
    if (nd->p[1] < 0 || !(nd->bq.scale > 0))
        return YPR_OK;
    ypr_param *b = &net->params[nd->p[1]];
    if (b->dtype != YPR_DTYPE_F32 || !b->data || b->ndim != 1)
        return YPR_OK;
    int dt = step_dtype(&nd->bq);
    int32_t z = nd->bq.zero;
    if (!nd->bq.per_channel) {
        if (fits_within(b, dt, 1, &nd->bq.scale, &z, nd->bq.qmin, nd->bq.qmax, NULL))
            TRY(ypr__param_quantize(b, dt, 1, &nd->bq.scale, &z));
        return YPR_OK;
    }
    /* per channel: s_w[c]·s_in, the accumulator's step of a per-channel conv */
    float sin = input_step(net, c);
    if ((!wok && w->dtype == YPR_DTYPE_F32) || w->nscales != b->numel || !(sin > 0))
        return YPR_OK;
    int32_t *zs = malloc((size_t)b->numel * sizeof *zs);
    RETURN_IF(!zs, YPR_ENOMEM, "net: out of memory");
    int ok = 1;
    for (int64_t o = 0; ok && o < b->numel; o++) {
        zs[o] = z;
        s[o] = exact_scale(b, o, 1, (float)((double)w->scales[o] * sin), &nd->bq);
        ok = s[o] > 0;
    }
    int rc = ok ? ypr__param_quantize(b, dt, b->numel, s, zs) : YPR_OK;
    free(zs);
    return rc == YPR_ENOMEM ? rc : YPR_OK;
}

int ypr__net_mark_quantized(ypr_net *net)
{
    int64_t most = 1;
    for (int i = 0; i < net->nnodes; i++)
        if (net->nodes[i].kind == YPR_NODE_CONV && net->nodes[i].c > most)
            most = net->nodes[i].c;
    float *s = malloc((size_t)most * sizeof *s);
    RETURN_IF(!s, YPR_ENOMEM, "net: out of memory");
    int rc = YPR_OK;
    for (int i = 0; rc == YPR_OK && i < net->nnodes; i++) {
        const ypr_node *nd = &net->nodes[i];
        if (nd->kind == YPR_NODE_CONV && nd->p[0] >= 0 && (nd->wq.scale > 0 || nd->bq.scale > 0) &&
            net->params[nd->p[0]].shape[0] <= most)
            rc = mark_conv(net, i, s);
    }
    free(s);
    return rc;
}
