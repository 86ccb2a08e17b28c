/* The trainer: autograd over the net (a training mode of execution plans),
 * YOLOv7's losses, SGD with warm-up and schedules, EMA, hyper-parameters,
 * sparsity regularizers, checkpoints and resume. Knows no file format beyond
 * checkpoints and YOLOv7's hyp.*.yaml. */
#ifndef YPR_TRAIN_H
#define YPR_TRAIN_H

#include <stdint.h>

#include "lib/core/core.h"
#include "lib/net/net.h"

/* YOLOv7's hyper-parameters, with the keys and meaning of data/hyp.*.yaml
 * (values are doubles as read; the loss and optimizer convert). */
typedef struct ypr_hyp {
    double lr0, lrf, momentum, weight_decay;
    double warmup_epochs, warmup_momentum, warmup_bias_lr;
    double box, cls, cls_pw, obj, obj_pw, iou_t, anchor_t, fl_gamma;
    double hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective;
    double flipud, fliplr, mosaic, mixup, copy_paste, paste_in;
    double loss_ota, label_smoothing;
} ypr_hyp;

/* ---- hyper-parameters (hyp.c) */

/* Which YOLOv7 defaults: data/hyp.scratch.p5.yaml or hyp.scratch.tiny.yaml
 * (plus loss_ota 1 and label_smoothing 0, train.py's defaults). */
enum { YPR_HYP_P5 = 0, YPR_HYP_TINY = 1 };
/* Every field of *h set to those defaults (any other `which` means P5). */
void ypr__hyp_default(ypr_hyp *h, int which);
/* Read a YOLOv7 hyp yaml over h: keys present replace, keys absent keep
 * their value. Errors name `file:line`: YPR_EFORMAT (not YAML, not a
 * mapping, an unknown key), YPR_ERANGE (a value that is not a plain finite
 * number or lies outside the key's range, naming the key), YPR_ENOTFOUND /
 * YPR_EIO (the file). `anchors:` is checked and ignored with a warning
 * (the model keeps its anchors). h is unchanged on failure. */
int ypr__hyp_load(const char *path, ypr_hyp *h);
/* One key by its YAML name. YPR_ENOTFOUND (unknown key), YPR_ERANGE (not
 * finite, out of the key's range; h unchanged), YPR_EINVAL (NULL). */
int ypr__hyp_set(ypr_hyp *h, const char *key, double value);
int ypr__hyp_get(const ypr_hyp *h, const char *key, double *value);
/* The keys in struct order (for checkpoints and the CLI); NULL past the end. */
int ypr__hyp_count(void);
const char *ypr__hyp_key(int i);

/* ---- optimizer, schedules, EMA (optim.c) */

/* train.py's parameter groups: pg0 (BatchNorm weights, implicit and other
 * extra parameters: no decay), pg1 (conv weights: decay), pg2 (biases). */
enum { YPR_PG_NO_DECAY = 0, YPR_PG_DECAY = 1, YPR_PG_BIAS = 2 };

typedef struct ypr_sched {
    double lr[3];        /* per parameter group (YPR_PG_*) */
    double momentum;
    int accumulate;      /* optimizer step every `accumulate` batches */
} ypr_sched;

/* train.py's per-iteration state at global iteration ni (from 0; ni = i +
 * nb·epoch for batch i of an epoch of nb batches) with nw warm-up
 * iterations (ypr__warmup_iters; nw <= 0: none), in `epoch` (0-based) of
 * `epochs`, at batch size `batch` (nominal batch 64), with the one-cycle
 * cosine (cosine != 0) or linear LR factor lf. Rounding is Python's (half to
 * even).
 * - While ni <= nw: np.interp from (ni = 0: lr 0, bias lr warmup_bias_lr,
 *   momentum warmup_momentum, accumulate 1) to (ni = nw: lr0·lf(epoch),
 *   momentum, 64/batch), accumulate rounded, at least 1.
 * - After it: momentum, accumulate max(round(64/batch), 1) and the LambdaLR
 *   lr, which in train.py lags one epoch: lr0·lf(epoch − 1) (lf(0) in epoch
 *   0), except for the rest of the epoch in which the warm-up ended
 *   (epoch = nw / nb), which keeps the warm-up's end value lr0·lf(epoch).
 * Linear with epochs = 1 (a division by zero in train.py) gives lf = 1. */
void ypr__sched_at(const ypr_hyp *h, int64_t ni, int64_t nw, int64_t nb, int epoch, int epochs,
                   int batch, int cosine, ypr_sched *out);
/* max(round(warmup_epochs · batches_per_epoch), 1000). */
int64_t ypr__warmup_iters(const ypr_hyp *h, int64_t batches_per_epoch);
/* weight_decay · batch·accumulate/64 with accumulate = max(round(64/batch), 1):
 * pg1's decay. */
double ypr__scaled_weight_decay(const ypr_hyp *h, int batch);
/* One step of PyTorch's SGD (momentum, nesterov=True, dampening 0) on one
 * tensor of n floats, in place on p and buf: d = g + wd·p (skipped when wd
 * is 0); buf = d on the first step (has_buf 0), else buf = m·buf + d;
 * d = d + m·buf; p = p − lr·d. momentum 0 is plain SGD (buf untouched).
 * Bit-identical to PyTorch 1.13 on its AVX2/AVX-512 CPU kernels, which
 * compute each `x.add(y, alpha=s)` as one fused multiply-add with s
 * rounded to float (tests/test_optim.c checks against PyTorch). */
void ypr__sgd_update(float *p, const float *g, float *buf, int64_t n, double lr, double momentum,
                     double wd, int has_buf);
/* ModelEMA's decay 0.9999·(1 − exp(−updates/2000)), with `updates` already
 * incremented for this update. */
double ypr__ema_decay(int64_t updates);
/* ema = d·ema + (1 − d)·p in PyTorch's float32 order (ema·d rounded,
 * (1−d)·p rounded, then summed): bit-identical to ModelEMA.update. */
void ypr__ema_update(float *ema, const float *p, int64_t n, double d);

/* ---- per-epoch results: CSV and curves (results.c) */

typedef struct ypr_epoch_result {
    int epoch;                 /* 0-based */
    double box, obj, cls, total;   /* mean train loss items */
    double p, r, map50, map, val_box, val_obj, val_cls;   /* eval of the EMA weights; NaN if not measured */
    double lr[3];
    double seconds, images_per_second;
} ypr_epoch_result;

/* YOLOv7's fitness: 0.1·mAP@0.5 + 0.9·mAP@0.5:0.95 (P and R weigh 0). */
double ypr__fitness(const ypr_epoch_result *r);
/* The whole results.csv, atomically: a header line, then one line per row
 * (columns as YPR__RESULTS_CSV_HEADER; NaN written `nan`). YPR_EINVAL
 * (NULL path, rows NULL with n > 0, n < 0), YPR_EIO. */
#define YPR__RESULTS_CSV_HEADER                                                  \
    "epoch,train/box_loss,train/obj_loss,train/cls_loss,train/total_loss,"       \
    "metrics/precision,metrics/recall,metrics/mAP_0.5,metrics/mAP_0.5:0.95,"     \
    "val/box_loss,val/obj_loss,val/cls_loss,x/lr0,x/lr1,x/lr2,seconds,images_per_second"
int ypr__results_csv(const char *path, const ypr_epoch_result *rows, int n);
/* results.png, atomically: YOLOv7's ten panels (train box, objectness,
 * classification losses, precision, recall; val losses, mAP@0.5,
 * mAP@0.5:0.95) against the epoch, YPR__RESULTS_PNG_W × YPR__RESULTS_PNG_H
 * pixels. NaN points are left out. Errors as ypr__results_csv, YPR_ENOMEM. */
#define YPR__RESULTS_PNG_W 1500
#define YPR__RESULTS_PNG_H 640
int ypr__results_png(const char *path, const ypr_epoch_result *rows, int n);

/* ---- loss (loss.c) */

/* ---- autograd: the training plan (autograd.c) */

/* ---- the ypr_trainer handle (trainer.c) */

#endif
