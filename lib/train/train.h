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

/* ---- optimizer, schedules, EMA (optim.c) */

/* ---- per-epoch results: CSV and curves (results.c) */

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

/* ---- the ypr_trainer handle (trainer.c) */

#endif
