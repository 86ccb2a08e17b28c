/* Data preparation shared by detection, datasets and evaluation. */
#ifndef YPR_DATA_H
#define YPR_DATA_H

#include <stdint.h>

#include "lib/core/core.h"

/* Where a letterboxed image sits in its canvas: canvas = src·ratio + pad. */
typedef struct ypr_letterbox {
    float ratio;
    float pad_x, pad_y;    /* left and top padding in canvas pixels */
    int new_w, new_h;      /* the resized image inside the canvas */
} ypr_letterbox;

/* Resize RGB8 `src` (sw×sh) keeping its aspect ratio into a dw×dh canvas
 * filled with `pad` (114 in YOLOv7), centred as YOLOv7's letterbox does
 * (rounding the split padding with ∓0.1), bilinear with half-pixel centres.
 * Writes float CHW in [0, 1] into `dst` (3·dw·dh floats). */
int ypr__letterbox(const uint8_t *src, int sw, int sh, int dw, int dh, uint8_t pad,
                   float *dst, ypr_letterbox *lb);

#endif
