/* train.py's optimizer recipe as pure functions: nominal batch 64 with
 * gradient accumulation, scaled weight decay, warm-up by np.interp, one-cycle
 * (cosine) or linear LR per epoch, PyTorch's SGD with Nesterov momentum, and
 * ModelEMA.
 *
 * Floating-point order matters here: the schedule is evaluated in double in
 * exactly Python's / NumPy's operation order, and the SGD and EMA updates in
 * float32 in exactly PyTorch's. Each rounding step is its own statement (the
 * project builds as ISO C11, where GCC does not contract a*b+c into an FMA;
 * clang contracts only within one expression); the FMAs PyTorch's CPU
 * kernels do perform are fmaf() in the scalar reference of ypr_ktable.sgd
 * (lib/kernels), real FMA instructions in the vector sets. */
#include <math.h>

#include "lib/kernels/kernels.h"
#include "train.h"

#define NBS 64   /* train.py's nominal batch size */

/* numpy.interp(x, [0, x1], [y0, y1]) for 0 <= x <= x1, x1 > 0, as NumPy
 * computes it: the end points exactly, else slope·(x − 0) + y0. */
static double interp2(double x, double x1, double y0, double y1)
{
    if (x <= 0)
        return y0;
    if (x >= x1)
        return y1;
    double slope = (y1 - y0) / (x1 - 0.0);
    double t = slope * (x - 0.0);
    return t + y0;
}

/* max(round(nbs / batch), 1) with Python's round-half-to-even. */
static int nominal_accumulate(int batch, int nbs)
{
    double a = nearbyint((double)nbs / (double)batch);
    return a < 1 ? 1 : (int)a;
}

/* train.py's lf(epoch): one_cycle(1, lrf, epochs) or the linear ramp. */
static double lr_factor(const ypr_hyp *h, int epoch, int epochs, int cosine)
{
    if (cosine) {
        double a = (double)epoch * M_PI;
        a = a / (double)epochs;
        double t = (1.0 - cos(a)) / 2.0;
        t = t * (h->lrf - 1.0);
        return t + 1.0;
    }
    if (epochs <= 1)
        return 1.0;   /* train.py divides by epochs − 1 = 0 here */
    double t = 1.0 - (double)epoch / (double)(epochs - 1);
    t = t * (1.0 - h->lrf);
    return t + h->lrf;
}

void ypr__sched_at(const ypr_hyp *h, int64_t ni, int64_t nw, int64_t nb, int epoch, int epochs,
                   int batch, int nbs, int cosine, ypr_sched *out)
{
    if (batch < 1)
        batch = 1;
    if (nbs < 1)
        nbs = NBS;
    if (epochs < 1)
        epochs = 1;
    if (nb < 1)
        nb = 1;
    if (nw > 0 && ni <= nw) {
        /* the warm-up aims at initial_lr · lf(epoch) of the current epoch */
        double lr = h->lr0 * lr_factor(h, epoch, epochs, cosine);
        double x = (double)ni, x1 = (double)nw;
        double acc = nearbyint(interp2(x, x1, 1.0, (double)nbs / (double)batch));
        out->accumulate = acc < 1 ? 1 : (int)acc;
        for (int j = 0; j < 3; j++)
            out->lr[j] = interp2(x, x1, j == YPR_PG_BIAS ? h->warmup_bias_lr : 0.0, lr);
        out->momentum = interp2(x, x1, h->warmup_momentum, h->momentum);
        return;
    }
    /* After the warm-up the LambdaLR value stands. train.py resets
     * scheduler.last_epoch to start_epoch − 1 after the constructor's own
     * step, so epoch e runs at lf(e − 1) (lf(0) in epoch 0); but the rest of
     * the epoch in which the warm-up ends keeps the warm-up's end value
     * lf(epoch). */
    int lf_epoch = epoch > 0 ? epoch - 1 : 0;
    if (nw > 0 && nw / nb == epoch)
        lf_epoch = epoch;
    double lr = h->lr0 * lr_factor(h, lf_epoch, epochs, cosine);
    out->accumulate = nominal_accumulate(batch, nbs);
    for (int j = 0; j < 3; j++)
        out->lr[j] = lr;
    out->momentum = h->momentum;
}

int64_t ypr__warmup_iters(const ypr_hyp *h, int64_t batches_per_epoch)
{
    double w = nearbyint(h->warmup_epochs * (double)batches_per_epoch);
    if (!(w < 9.0e18))
        return INT64_MAX;
    return w > 1000 ? (int64_t)w : 1000;
}

double ypr__scaled_weight_decay(const ypr_hyp *h, int batch, int nbs)
{
    if (batch < 1)
        batch = 1;
    if (nbs < 1)
        nbs = NBS;
    int64_t prod = (int64_t)batch * nominal_accumulate(batch, nbs);
    double f = (double)prod / (double)nbs;
    return h->weight_decay * f;
}

/* PyTorch 1.13 _single_tensor_sgd, float32, on its AVX2/AVX-512 CPU kernels:
 * `a.add(b, alpha=s)` is one fused multiply-add fma(b, (float)s, a) (their
 * vectorized fmadd; the scalar tail is contracted the same way), `mul_` is a
 * rounded product, and add_(d_p, alpha=1) is a plain sum. */
void ypr__sgd_update(float *p, const float *g, float *buf, int64_t n, double lr, double momentum,
                     double wd, int has_buf)
{
    int mode = (wd != 0 ? YPR_SGD_WD : 0) | (momentum != 0 ? YPR_SGD_MOMENTUM : 0) |
               (has_buf ? YPR_SGD_HAS_BUF : 0);
    /* the loop is a kernel entry: fmaf() is a slow library call in the
     * baseline build, an instruction in the vector sets (bit-identical) */
    ypr__kt()->sgd(p, g, buf, n, (float)wd, (float)momentum, (float)(-lr), mode);
}

double ypr__ema_decay(int64_t updates)
{
    double x = -(double)updates / 2000.0;
    double t = 1.0 - exp(x);
    return 0.9999 * t;
}

/* ModelEMA.update: v *= d; v += (1 − d)·p — three rounded float32 ops. */
void ypr__ema_update(float *ema, const float *p, int64_t n, double d)
{
    const float fd = (float)d, fo = (float)(1.0 - d);
    for (int64_t i = 0; i < n; i++) {
        float v = ema[i] * fd;
        float t = fo * p[i];
        ema[i] = v + t;
    }
}
