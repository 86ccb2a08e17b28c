/* Fake quantization: the float simulation of uniform integer quantization
 * that activation steps (applied by the execution plan) and quantized
 * weights share, so the simulation and a future INT8 runtime round alike. */
#include <math.h>

#include "net.h"

float ypr__qround(float v, int mode)
{
    switch (mode) {
    case YPR_ROUND_HALF_AWAY: return roundf(v);
    case YPR_ROUND_HALF_UP: return floorf(v + 0.5f);
    default: return rintf(v);
    }
}

/* One value: clamp before rounding so huge or infinite inputs saturate
 * (NaN becomes qmin: a quantized tensor has no NaN). */
static inline float fq1(float x, float s, float z, float lo, float hi, int mode)
{
    float v = x / s + z;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    v = ypr__qround(v, mode);
    return (v - z) * s;
}

void ypr__fake_quant(const ypr_qparam *q, float *x, int64_t n)
{
    if (!(q->scale > 0.0f))
        return;
    const float s = q->scale, z = (float)q->zero, lo = (float)q->qmin, hi = (float)q->qmax;
    switch (q->round) {   /* one loop per mode: the rounding call inlines */
    case YPR_ROUND_HALF_AWAY:
        for (int64_t i = 0; i < n; i++)
            x[i] = fq1(x[i], s, z, lo, hi, YPR_ROUND_HALF_AWAY);
        break;
    case YPR_ROUND_HALF_UP:
        for (int64_t i = 0; i < n; i++)
            x[i] = fq1(x[i], s, z, lo, hi, YPR_ROUND_HALF_UP);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            x[i] = fq1(x[i], s, z, lo, hi, YPR_ROUND_HALF_EVEN);
        break;
    }
}

void ypr__fake_quant_channels(const ypr_qparam *q, const float *s, float *x, int64_t c,
                              int64_t per)
{
    for (int64_t o = 0; o < c; o++) {
        ypr_qparam one = *q;
        one.scale = s[o];
        ypr__fake_quant(&one, x + o * per, per);
    }
}

int ypr__qparam_check(const ypr_qparam *q, const char *node, const char *what)
{
    if (q->scale == 0.0f)
        return YPR_OK;
    RETURN_IF(!(q->scale > 0.0f) || !isfinite(q->scale), YPR_ERANGE,
              "node %s: %s quantization scale %g is not a positive finite number", node, what,
              (double)q->scale);
    RETURN_IF(q->qmin >= q->qmax || q->zero < q->qmin || q->zero > q->qmax, YPR_ERANGE,
              "node %s: %s quantization range [%d, %d] with zero point %d", node, what,
              (int)q->qmin, (int)q->qmax, (int)q->zero);
    RETURN_IF(q->round < 0 || q->round >= YPR_ROUND_COUNT_, YPR_EINVAL,
              "node %s: %s quantization rounding mode %d unknown", node, what, q->round);
    return YPR_OK;
}
