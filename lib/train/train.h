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

/* ---- the ypr_trainer handle (trainer.c) */

#endif
