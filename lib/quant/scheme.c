/* Weight and bias quantization of the two schemes: power-of-two steps per
 * tensor (a DPU shifts instead of multiplying) and float steps per output
 * channel (a CPU's INT8 GEMM requantizes per channel). */
#include <math.h>

#include "quant.h"

double ypr__pot_scale(double t, int qmax)
{
    return ldexp(1.0, (int)ceil(log2(t / qmax)));
}

double ypr__sqnr_db(double signal, double noise)
{
    if (!(noise > 0))
        return 200;
    double db = 10 * log10(signal / noise);
    return db < 200 ? db : 200;
}

static double sq_error(const float *x, int64_t n, const ypr_qparam *q)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        ypr_qparam one = *q;
        ypr__fake_quant(&one, &v, 1);
        e += ((double)v - x[i]) * ((double)v - x[i]);
    }
    return e;
}

double ypr__quant_pot_tensor(float *x, int64_t n, int qmax, int round, ypr_qparam *q)
{
    double amax = 0;
    for (int64_t i = 0; i < n; i++)
        amax = fabs((double)x[i]) > amax ? fabs((double)x[i]) : amax;
    *q = (ypr_qparam){0, 0, -qmax, qmax, round, 0};
    if (!(amax > 0))
        return 0;
    double top = ypr__pot_scale(amax, qmax);
    ypr_qparam a = *q, b = *q;
    a.scale = (float)top;
    b.scale = (float)(top / 2);
    double ea = sq_error(x, n, &a), eb = sq_error(x, n, &b);
    *q = eb < ea ? b : a;
    ypr__fake_quant(q, x, n);
    return eb < ea ? eb : ea;
}

double ypr__quant_per_channel(float *w, int64_t c, int64_t per, int qmax, int round,
                              ypr_qparam *q)
{
    *q = (ypr_qparam){0, 0, -qmax, qmax, round, 1};
    double err = 0, top = 0;
    for (int64_t o = 0; o < c; o++) {
        float *x = w + o * per;
        double amax = 0;
        for (int64_t i = 0; i < per; i++)
            amax = fabs((double)x[i]) > amax ? fabs((double)x[i]) : amax;
        ypr_qparam one = *q;
        one.scale = amax > 0 ? (float)(amax / qmax) : 1.0f;
        err += sq_error(x, per, &one);
        ypr__fake_quant(&one, x, per);
        if (amax > 0 && one.scale > top)
            top = one.scale;
    }
    q->scale = (float)top;
    return err;
}
