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
 * `epochs`, at batch size `batch` (nominal batch nbs, train.py's 64), with the one-cycle
 * cosine (cosine != 0) or linear LR factor lf. Rounding is Python's (half to
 * even).
 * - While ni <= nw: np.interp from (ni = 0: lr 0, bias lr warmup_bias_lr,
 *   momentum warmup_momentum, accumulate 1) to (ni = nw: lr0·lf(epoch),
 *   momentum, nbs/batch), accumulate rounded, at least 1.
 * - After it: momentum, accumulate max(round(nbs/batch), 1) and the LambdaLR
 *   lr, which in train.py lags one epoch: lr0·lf(epoch − 1) (lf(0) in epoch
 *   0), except for the rest of the epoch in which the warm-up ended
 *   (epoch = nw / nb), which keeps the warm-up's end value lr0·lf(epoch).
 * Linear with epochs = 1 (a division by zero in train.py) gives lf = 1. */
void ypr__sched_at(const ypr_hyp *h, int64_t ni, int64_t nw, int64_t nb, int epoch, int epochs,
                   int batch, int nbs, int cosine, ypr_sched *out);
/* max(round(warmup_epochs · batches_per_epoch), 1000). */
int64_t ypr__warmup_iters(const ypr_hyp *h, int64_t batches_per_epoch);
/* weight_decay · batch·accumulate/nbs with accumulate = max(round(nbs/batch), 1):
 * pg1's decay (nbs: the nominal batch, train.py's 64). */
double ypr__scaled_weight_decay(const ypr_hyp *h, int batch, int nbs);
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

/* YOLOv7's ComputeLoss (ota = 0) and ComputeLossOTA (ota = 1) on the raw
 * head maps, with d total / d head. Balance 4.0/1.0/0.4 (3 levels) or
 * 4.0/1.0/0.25/0.06/0.02 (nl ≠ 3, at most 5 levels), gr = 1, no
 * autobalance. One choice where YOLOv7 leaves it to torch.topk: OTA
 * candidates of equal cost are taken in list order. A cell assigned twice
 * gets the objectness target of the last assignment (YOLOv7's list order:
 * per level, offset, then anchor, then target; OTA: image, then level). */
typedef struct ypr_loss_opts {
    int nc, nl, na;
    float anchors[YPR_MAX_LEVELS * 16 * 2];  /* [nl, na, 2] grid units (pixels / stride), as the net stores them; na <= 16 */
    float strides[YPR_MAX_LEVELS];
    float box, obj, cls;       /* gains AFTER train.py's rescaling (see ypr__loss_opts_init) */
    float cls_pw, obj_pw, anchor_t, label_smoothing, fl_gamma;
    int ota;                   /* 1: ComputeLossOTA, 0: ComputeLoss */
} ypr_loss_opts;
/* Fill o from the hyperparameters as train.py does: box *= 3/nl, cls *= nc/80·3/nl,
 * obj *= (imgsz/640)²·3/nl; ota from loss_ota (== 1); anchors/strides from the net's
 * detect node (its last node). YPR_EINVAL: no detect node, nl > 5, na > 16,
 * imgsz < 1, non-finite or negative gains. */
int ypr__loss_opts_init(ypr_loss_opts *o, const ypr_hyp *h, const ypr_net *net, int imgsz);
typedef struct ypr_loss ypr_loss;   /* workspace: grows, reused across steps */
int ypr__loss_create(ypr_loss **out);
void ypr__loss_free(ypr_loss *l);
/* The loss of one batch. head[l], hl[l], wl[l]: level maps [B, na·no, H_l, W_l]
 * (no = nc + 5, channel a·no + k: k 0..3 box, 4 objectness, 5.. classes; for
 * IDetect after the implicit multiply). targets: nt rows (image, class, x, y,
 * w, h), xywh normalized to the input image of img_h × img_w (OTA scales all
 * four by img_h, as YOLOv7's imgs.shape[1]). out[4] = lbox, lobj, lcls (each
 * multiplied by its gain, as YOLOv7's loss_items) and total =
 * (lbox + lobj + lcls)·B (what train.py backpropagates). grad[l] (same layout
 * as head[l]; grad NULL skips gradients) receives d total / d head
 * (overwritten). Returns YPR_OK; YPR_EINVAL (NULL arguments, bad options or
 * sizes, a target row with a non-finite value, an image index or class that
 * is not an integer in range, or a negative width/height — naming the row);
 * YPR_ERANGE (a non-finite head value, naming the level and position);
 * YPR_ENOMEM. The workspace grows; on failure out and grad are unspecified. */
int ypr__loss_run(ypr_loss *l, const ypr_loss_opts *o, int64_t batch,
                  const float *const *head, const int64_t *hl, const int64_t *wl,
                  int64_t img_h, int64_t img_w, const float *targets, int64_t nt,
                  double out[4], float *const *grad);

/* ---- autograd: the training plan (autograd.c) */
/* The net in training mode for input [n, 3, h, w]: every node's value kept
 * for the backward pass, BatchNorm on batch statistics, gradient buffers
 * shared by liveness over the reverse walk, one gradient array per
 * trainable parameter. frozen (nparams entries, may be NULL): parameters
 * that get no gradient (nodes upstream of only frozen ones are skipped).
 * The plan holds pointers into the net's tensors: their data may change
 * between steps (the optimizer), their shapes may not (make a new plan
 * after pruning). Nets with fused activations in convs are refused. */
typedef struct ypr_tplan ypr_tplan;
int ypr__tplan_create(ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                      const unsigned char *frozen, ypr_tplan **out);
void ypr__tplan_free(ypr_tplan *p);
/* Forward x [n, 3, h, w]; update_stats: BatchNorm running statistics move
 * toward the batch's (PyTorch's momentum rule, unbiased variance). */
int ypr__tplan_forward(ypr_tplan *p, const float *x, int update_stats);
int ypr__tplan_num_outputs(const ypr_tplan *p);
/* Head map of `level` ([n, na·no, H, W]) after the forward, and the buffer
 * the loss writes its gradient into (same layout) before the backward. */
const float *ypr__tplan_output(const ypr_tplan *p, int level, ypr_shape *shape);
float *ypr__tplan_output_grad(ypr_tplan *p, int level);
/* Backward from the head gradients: parameter gradients accumulate (+=). */
int ypr__tplan_backward(ypr_tplan *p);
void ypr__tplan_zero_grad(ypr_tplan *p);
/* Gradient of net parameter `param` (NULL: a buffer or frozen). */
float *ypr__tplan_param_grad(ypr_tplan *p, int param);
/* Bytes held: parts[0] saved activations, [1] gradient buffers, [2]
 * parameter gradients, [3] packed weights, statistics and scratch. */
size_t ypr__tplan_bytes(const ypr_tplan *p, size_t parts[4]);
int64_t ypr__tplan_batch(const ypr_tplan *p);          /* the batch it was made for */
/* Run the next passes on the first n ≤ that batch images (a last, smaller batch). */
int ypr__tplan_set_batch(ypr_tplan *p, int64_t n);

/* ---- quantization-aware training (qat.c): the training plan's fake
 * quantization for a net that carries quantization steps (ypr_node.aq, wq,
 * bq): the forward applies them as the inference plan does, the backward is
 * the straight-through estimator (the gradient passes where the value was
 * not clipped). Steps stay frozen. All calls accept q NULL (a float net). */
typedef struct ypr_qat ypr_qat;
/* 1 when some node of the net carries a step. */
int ypr__qat_needed(const ypr_net *net);
/* NULL in *out for a float net; shapes: the net's for one image; ncap the
 * largest batch. YPR_ERANGE / YPR_EINVAL (an invalid step, naming the
 * node), YPR_EUNSUPPORTED (a weight step off a conv), YPR_ENOMEM. */
int ypr__qat_create(const ypr_net *net, const ypr_shape *shapes, int64_t ncap, ypr_qat **out);
void ypr__qat_free(ypr_qat *q);
/* The input x [n floats] as the forward reads it: a quantized copy when
 * node 0 has a step, else x. */
const float *ypr__qat_input(ypr_qat *q, const ypr_net *net, const float *x, int64_t n);
/* Node `node`'s value y [n floats] after its forward: fake-quantized in
 * place, remembering where it clipped. */
void ypr__qat_act(ypr_qat *q, const ypr_net *net, int node, float *y, int64_t n);
/* The gradient g [n] of node `node`'s value: zeroed where it clipped. */
void ypr__qat_act_grad(const ypr_qat *q, int node, float *g, int64_t n);
/* Conv `node`'s weight and bias as the forward (and the input gradient)
 * uses them: fake-quantized copies, or the net's tensors (bias NULL: none).
 * refresh 0: the weight copy of the last forward (for the backward). */
const float *ypr__qat_weight(ypr_qat *q, const ypr_net *net, int node, int refresh);
const float *ypr__qat_bias(ypr_qat *q, const ypr_net *net, int node);
/* After conv `node`'s parameter gradients: zero them where the weight or
 * bias was clipped (dw, db may be NULL). */
void ypr__qat_param_grad(const ypr_qat *q, const ypr_net *net, int node, float *dw, float *db);

/* ---- the ypr_trainer handle (trainer.c) */

#endif
