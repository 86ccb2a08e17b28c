/* Calibration statistics: a range-doubling histogram of |x| per tensor and
 * the four ways of choosing a clipping threshold from it. */
#include <math.h>
#include <string.h>

#include "quant.h"

void ypr__qstats_init(ypr_qstats *s)
{
    memset(s, 0, sizeof *s);
    s->min = INFINITY;
    s->max = -INFINITY;
}

/* Double the range until it exceeds a: bins 2i and 2i+1 become bin i. */
static void grow_range(ypr_qstats *s, double a)
{
    if (s->range == 0) {
        int e;
        frexp(a, &e);              /* a = m·2^e, m in [0.5, 1): 2^e > a */
        s->range = ldexp(1.0, e);
        return;
    }
    while (a >= s->range) {
        for (int i = 0; i < YPR_QHIST_BINS / 2; i++)
            s->hist[i] = s->hist[2 * i] + s->hist[2 * i + 1];
        memset(s->hist + YPR_QHIST_BINS / 2, 0, sizeof s->hist / 2);
        s->range *= 2;
    }
}

void ypr__qstats_add(ypr_qstats *s, const float *x, int64_t n)
{
    double amax = 0, lo = s->min, hi = s->max;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) {
            s->nonfinite++;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        amax = fabs(v) > amax ? fabs(v) : amax;
    }
    s->min = lo;
    s->max = hi;
    if (amax > 0 && amax >= s->range)
        grow_range(s, amax);
    const double k = s->range > 0 ? YPR_QHIST_BINS / s->range : 0;   /* exact: range is 2^e */
    for (int64_t i = 0; i < n; i++) {
        double v = fabs((double)x[i]);
        if (!isfinite(v))
            continue;
        int64_t b = (int64_t)(v * k);
        s->hist[b < YPR_QHIST_BINS ? b : YPR_QHIST_BINS - 1]++;
        s->count++;
    }
}

double ypr__qstats_absmax(const ypr_qstats *s)
{
    if (s->count == 0)
        return 0;
    double a = fabs(s->min), b = fabs(s->max);
    return a > b ? a : b;
}

static double width(const ypr_qstats *s)
{
    return s->range / YPR_QHIST_BINS;
}

double ypr__qstats_power(const ypr_qstats *s)
{
    if (s->count == 0)
        return 0;
    double w = width(s), sum = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        double c = (j + 0.5) * w;
        sum += (double)s->hist[j] * c * c;
    }
    return sum / (double)s->count;
}

double ypr__qstats_mse(const ypr_qstats *s, double scale, int qmax)
{
    if (s->count == 0 || !(scale > 0))
        return 0;
    double w = width(s), sum = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        if (!s->hist[j])
            continue;
        double c = (j + 0.5) * w, q = round(c / scale);
        q = q < qmax ? q : qmax;
        double e = c - q * scale;
        sum += (double)s->hist[j] * e * e;
    }
    return sum / (double)s->count;
}

static double percentile(const ypr_qstats *s, double pct)
{
    double need = pct / 100.0 * (double)s->count, cum = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        cum += (double)s->hist[j];
        if (cum >= need)
            return (j + 1) * width(s);
    }
    return s->range;
}

/* The divergence of candidate i (the first i bins, the `outliers` beyond
 * folded into bin i − 1) from its quantization into `levels` groups, each
 * group's mass spread evenly over its nonzero bins. With p' the folded
 * counts (sum psum) and q' the spread ones (sum qsum),
 *   KL = (Σ p' log p' − Σ p' log q') / psum − log psum + log qsum,
 * where Σ p' log q' is Σ over groups of sum_g · log(sum_g / nz_g), plus the
 * outliers' share of bin i − 1: O(levels) per candidate from the prefix
 * sums H (counts), NZ (nonzero bins) and HL (h log h). INFINITY when bin
 * i − 1 is empty but outliers land in it (Q misses mass P has). */
static double kl_candidate(const double *H, const int *NZ, const double *HL, const uint64_t *h,
                           int i, int levels, double outliers)
{
    double last = (double)h[i - 1] + outliers;
    if (h[i - 1] == 0 && outliers > 0)
        return INFINITY;
    double psum = H[i] + outliers, qsum = H[i];
    if (!(psum > 0) || !(qsum > 0))
        return INFINITY;
    double a = HL[i - 1] + (last > 0 ? last * log(last) : 0), b = 0, qlast = 0;
    for (int g = 0; g < levels; g++) {
        int lo = (int)((int64_t)g * i / levels), hi = (int)((int64_t)(g + 1) * i / levels);
        double sum = H[hi] - H[lo];
        int nz = NZ[hi] - NZ[lo];
        if (nz == 0)
            continue;
        double q = sum / nz;
        b += sum * log(q);
        if (hi == i)
            qlast = q;   /* bin i − 1 is in the last group */
    }
    if (outliers > 0)
        b += outliers * log(qlast);
    return (a - b) / psum - log(psum) + log(qsum);
}

static double entropy(const ypr_qstats *s, int qmax)
{
    const int levels = qmax + 1;
    int last = 0;   /* bins in use */
    for (int j = 0; j < YPR_QHIST_BINS; j++)
        if (s->hist[j])
            last = j + 1;
    if (last <= levels)
        return ypr__qstats_absmax(s);
    /* the spike of exact and near zeros (ReLU, SiLU, padding) would dominate
     * the divergence: bin 0 counts as bin 1, as TensorRT's calibrator does */
    uint64_t h[YPR_QHIST_BINS];
    memcpy(h, s->hist, sizeof h);
    h[0] = h[1];
    static _Thread_local double H[YPR_QHIST_BINS + 1], HL[YPR_QHIST_BINS + 1];
    static _Thread_local int NZ[YPR_QHIST_BINS + 1];
    H[0] = HL[0] = 0;
    NZ[0] = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        double v = (double)h[j];
        H[j + 1] = H[j] + v;
        HL[j + 1] = HL[j] + (v > 0 ? v * log(v) : 0);
        NZ[j + 1] = NZ[j] + (h[j] != 0);
    }
    double best = INFINITY;
    int besti = last;
    for (int i = levels; i <= last; i++) {
        double kl = kl_candidate(H, NZ, HL, h, i, levels, H[YPR_QHIST_BINS] - H[i]);
        if (kl < best) {
            best = kl;
            besti = i;
        }
    }
    return besti * width(s);
}

static double mse_threshold(const ypr_qstats *s, int qmax)
{
    double best = INFINITY, bt = s->range;
    for (int i = 1; i <= YPR_QHIST_BINS; i++) {
        double t = i * width(s), e = ypr__qstats_mse(s, t / qmax, qmax);
        if (e < best) {
            best = e;
            bt = t;
        }
    }
    return bt;
}

int ypr__qstats_threshold(const ypr_qstats *s, int method, double pct, int qmax, double *t)
{
    RETURN_IF(s->nonfinite, YPR_ERANGE, "%llu non-finite values (NaN or Inf)",
              (unsigned long long)s->nonfinite);
    RETURN_IF(s->count == 0, YPR_ESTATE, "no values observed");
    RETURN_IF(qmax < 1, YPR_EINVAL, "qmax %d", qmax);
    double amax = ypr__qstats_absmax(s), v;
    if (amax == 0) {
        *t = 0;
        return YPR_OK;
    }
    switch (method) {
    case YPR_QMETHOD_MINMAX: v = amax; break;
    case YPR_QMETHOD_PERCENTILE:
        RETURN_IF(!(pct > 0 && pct <= 100), YPR_ERANGE, "percentile %g outside (0, 100]", pct);
        v = percentile(s, pct);
        break;
    case YPR_QMETHOD_ENTROPY: v = entropy(s, qmax); break;
    case YPR_QMETHOD_MSE: v = mse_threshold(s, qmax); break;
    default: return ypr__error(YPR_EINVAL, "unknown calibration method %d", method);
    }
    *t = v < amax ? v : amax;
    return YPR_OK;
}

double ypr__qstats_pot_mse(const ypr_qstats *s, int qmax)
{
    double amax = ypr__qstats_absmax(s);
    if (!(amax > 0))
        return 0;
    double top = ypr__pot_scale(amax, qmax), best = INFINITY, bs = top;
    for (int k = 0; k < 8; k++) {   /* top, top/2 … top/128 */
        double sc = ldexp(top, -k), e = ypr__qstats_mse(s, sc, qmax);
        if (e < best) {
            best = e;
            bs = sc;
        }
    }
    return bs;
}

/* Expected squared error after a sigmoid: (σ(c) − σ(q(c)))² over the bin
 * centres (σ(−x) = 1 − σ(x): the error of −c equals that of c). */
static double sigmoid_mse(const ypr_qstats *s, double scale, int qmax)
{
    double w = width(s), sum = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        if (!s->hist[j])
            continue;
        double c = (j + 0.5) * w, q = round(c / scale);
        q = q < qmax ? q : qmax;
        double e = 1 / (1 + exp(-c)) - 1 / (1 + exp(-q * scale));
        sum += (double)s->hist[j] * e * e;
    }
    return sum / (double)s->count;
}

double ypr__qstats_sigmoid_sqnr(const ypr_qstats *s, double scale, int qmax)
{
    if (s->count == 0)
        return 200;
    double w = width(s), sig = 0;
    for (int j = 0; j < YPR_QHIST_BINS; j++) {
        double c = (j + 0.5) * w, d = 1 / (1 + exp(-c)) - 0.5;
        sig += (double)s->hist[j] * d * d;
    }
    return ypr__sqnr_db(sig / (double)s->count, sigmoid_mse(s, scale, qmax));
}

double ypr__qstats_sigmoid_step(const ypr_qstats *s, int qmax, int pot)
{
    double amax = ypr__qstats_absmax(s);
    if (!(amax > 0))
        return 0;
    double best = INFINITY, bs = amax / qmax;
    if (pot) {
        double top = ypr__pot_scale(amax, qmax);
        for (int k = 0; k < 8; k++) {
            double sc = ldexp(top, -k), e = sigmoid_mse(s, sc, qmax);
            if (e < best) {
                best = e;
                bs = sc;
            }
        }
        return bs;
    }
    for (int i = YPR_QHIST_BINS; i >= 1; i--) {   /* ties: the larger threshold */
        double t = i * width(s);
        if (t > amax)
            continue;
        double e = sigmoid_mse(s, t / qmax, qmax);
        if (e < best) {
            best = e;
            bs = t / qmax;
        }
    }
    return bs;
}
