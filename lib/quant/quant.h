/* Post-training quantization: calibration statistics, the dpu and
 * per-channel schemes as fake quantization of a fused float net (weights
 * and biases rounded in place, activation steps on the net's nodes, applied
 * by the execution plan), bias correction and the per-layer SQNR report.
 * Works on the net and the public handles; knows nothing of training. */
#ifndef YPR_QUANT_H
#define YPR_QUANT_H

#include <stdint.h>

#include "yolopr.h"
#include "lib/core/core.h"
#include "lib/net/net.h"

/* ---- calibration statistics (calib.c) */
#define YPR_QHIST_BINS 2048

/* Statistics of one tensor over the calibration images: its min and max,
 * and a histogram of |x| over [0, range) in YPR_QHIST_BINS equal bins
 * (bin of |x| = floor(|x| · BINS / range)). range is the smallest power of
 * two above the largest |x| seen: it doubles (pairs of bins merged, exactly)
 * as larger values arrive, so the histogram does not depend on the order
 * the values came in. */
typedef struct ypr_qstats {
    double min, max;
    double range;                    /* 0 until a nonzero value is seen */
    uint64_t count;                  /* finite values seen */
    uint64_t nonfinite;              /* NaN / Inf seen (a calibration error) */
    uint64_t hist[YPR_QHIST_BINS];
} ypr_qstats;

enum { YPR_QMETHOD_MINMAX = 0, YPR_QMETHOD_PERCENTILE = 1, YPR_QMETHOD_ENTROPY = 2,
       YPR_QMETHOD_MSE = 3, YPR_QMETHOD_COUNT_ };

void ypr__qstats_init(ypr_qstats *s);
void ypr__qstats_add(ypr_qstats *s, const float *x, int64_t n);
/* The largest |x| seen (0 when none). */
double ypr__qstats_absmax(const ypr_qstats *s);
/* The clipping threshold T (> 0) for a symmetric quantizer with `qmax`
 * positive levels: minmax (the largest |x|), percentile `pct` (the upper
 * edge of the bin where the cumulative count reaches pct % of all), entropy
 * (TensorRT's: the T = i·width, i ≥ qmax + 1 bins, whose distribution with
 * the outliers folded into its last bin is closest in KL divergence to its
 * own quantization into qmax + 1 levels), mse (the T = i·width minimizing
 * the expected squared error of quantizing the bin centres). All are capped
 * at the largest |x|. YPR_ERANGE when the tensor saw non-finite values;
 * YPR_ESTATE when it saw nothing; a tensor of zeros gives T = 0. */
int ypr__qstats_threshold(const ypr_qstats *s, int method, double pct, int qmax, double *t);
/* Expected squared error per value of quantizing the histogram (bin
 * centres) with step `scale` and `qmax` positive levels (half away from
 * zero), and the signal power per value; for SQNR and the MSE search. */
double ypr__qstats_mse(const ypr_qstats *s, double scale, int qmax);
double ypr__qstats_power(const ypr_qstats *s);
/* The power-of-two step among those near absmax/qmax that minimizes
 * ypr__qstats_mse (ties: the larger step). */
double ypr__qstats_pot_mse(const ypr_qstats *s, int qmax);

/* For a value read through a sigmoid (the detect head's raw maps): the
 * step that minimizes the expected squared error after the sigmoid, among
 * the power-of-two steps near absmax/qmax (pot) or the steps T/qmax of the
 * histogram's bin edges T ≤ absmax. Values past ±8 barely move the sigmoid,
 * so clipping them buys resolution where it counts. 0 for a zero tensor. */
double ypr__qstats_sigmoid_step(const ypr_qstats *s, int qmax, int pot);
/* SQNR (dB) after the sigmoid of quantizing with `scale`: signal E[(σ(x) − ½)²]. */
double ypr__qstats_sigmoid_sqnr(const ypr_qstats *s, double scale, int qmax);

/* ---- schemes (scheme.c) */
/* The smallest power of two ≥ t / qmax (t > 0): the step that covers t. */
double ypr__pot_scale(double t, int qmax);
/* Symmetric per-tensor power-of-two quantization of x[n]: the step that
 * covers max|x| or half of it, whichever gives the smaller squared error
 * (Vitis AI's weight rule); fills q (scale 0 when x is all zero) and
 * quantizes x in place. Returns the squared error. */
double ypr__quant_pot_tensor(float *x, int64_t n, int qmax, int round, ypr_qparam *q);
/* Symmetric per-channel quantization of w [c, per], scale_c = max|w_c|/qmax
 * (1 for an all-zero channel); in place. Returns the squared error. */
double ypr__quant_per_channel(float *w, int64_t c, int64_t per, int qmax, int round,
                              ypr_qparam *q);
/* Bias correction. For conv `c` reading one image's value x [in], add to
 * taps[(ci·kh + ky)·kw + kx] the sum over the oh × ow output positions of
 * the input its tap (ky, kx) reads in channel ci (0 in the padding). */
void ypr__quant_add_taps(const ypr_node *c, const float *x, const ypr_shape *in, int64_t oh,
                         int64_t ow, double *taps);
/* The mean output change per output channel of replacing weights w0 by w1
 * [c->c, cin/groups, kh, kw], given taps summed over `count` positions:
 * shift[o] = Σ (w1 − w0)[o, ci, ky, kx] · taps[g·cin/groups + ci, ky, kx] / count
 * — exactly the mean of conv(w1, x) − conv(w0, x) over those positions. */
void ypr__quant_bias_shift(const ypr_node *c, int64_t cin, const float *w0, const float *w1,
                           const double *taps, double count, double *shift);
/* 10·log10(signal / noise) in dB; 200 when noise is 0 (capped). */
double ypr__sqnr_db(double signal, double noise);

/* ---- the quantizer handle (quantizer.c, apply.c, report.c) */
/* One row of the per-layer report: a node whose value is quantized (a
 * conv's chain end, an add, a concat, the input). */
typedef struct ypr_qrow {
    int node;                  /* in the fused net */
    int conv;                  /* the conv whose chain ends here, or -1 */
    double threshold, absmax;  /* activation clipping threshold and largest |x| */
    double act_scale, w_scale; /* w_scale: per tensor, or the largest per channel */
    double sqnr_w, sqnr_a;     /* dB: weights, activation (local, from the histogram) */
    double sqnr_local;         /* dB: both noises together (what ranks keep-worst) */
    double sqnr_e2e;           /* dB: this value in the quantized net vs the float net; NAN if
                                * not measured */
    int kept;                  /* left in float (keep-float pattern or keep-worst) */
    int head;                  /* read by the detect head (through its sigmoid) */
    int pooled;                /* read by a max-pool, or a concat of pooled values: minmax */
} ypr_qrow;

struct ypr_quantizer {
    ypr_model *src;            /* a clone of the caller's model */
    const ypr_dataset *ds;
    int scheme, method, calib_images, size, bias_corr, keep_worst, hard_act, sqnr_images;
    int search_images;
    int act_lut;               /* YPR_QUANT_ACT_LUT */
    double pct;
    char **patterns;
    int npatterns;
    ypr_progress_fn progress;
    void *puser;
    /* calibration */
    ypr_model *work;           /* fused (dpu: DPU activations): the float reference */
    int calibrated, calib_done, nnodes;
    uint64_t calib_key;        /* the settings it was made with */
    ypr_qstats *stats;         /* per node of work */
    char *observed;            /* per node: a value the plan materializes */
    double **taps;             /* bias correction: per conv, Σ input at each tap [cin, kh, kw] */
    int64_t *tap_count;        /* per conv: output positions summed */
    /* the last quantization */
    ypr_qrow *rows;
    int nrows;
};

int ypr__quant_num_images(const ypr_quantizer *q, int *n);
uint64_t ypr__quant_settings_key(const ypr_quantizer *q);

#endif
