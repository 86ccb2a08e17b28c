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
