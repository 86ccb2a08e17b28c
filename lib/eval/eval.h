/* Detection metrics as YOLOv7's test.py computes them, plus a COCO-style
 * mode. Knows nothing of models or datasets: it is fed per-image detections
 * and ground truth. */
#ifndef YPR_EVAL_H
#define YPR_EVAL_H

#include <stdint.h>

#include "lib/core/core.h"

enum {
    YPR_METRIC_YOLOV7 = 0,  /* match once at IoU > 0.5 greedily, score all 10 thresholds */
    YPR_METRIC_COCO = 1     /* greedy matching per threshold, 101-point sum */
};

#define YPR_EVAL_NIOU 10    /* IoU thresholds 0.50:0.05:0.95 */

typedef struct ypr_eval_acc ypr_eval_acc;

/* nc classes in [1, 2048]; mode YPR_METRIC_* (how the two differ: see the
 * top of metrics.c). */
int ypr__eval_create(int nc, int mode, ypr_eval_acc **out);
void ypr__eval_free(ypr_eval_acc *acc);
/* One image. dets: ndet rows x1 y1 x2 y2 conf cls (pixels); gts: ngt rows
 * cls x1 y1 x2 y2 difficult (same pixel frame; difficult is 0 or not).
 * Difficult ground truths are neither required nor penalized (VOC): a
 * detection matched to one is ignored. Detections are matched in order of
 * decreasing confidence whatever order they come in. YPR_EINVAL, naming the
 * row, for classes outside [0, nc) or not integral, boxes that are not
 * finite or have x2 < x1 or y2 < y1, non-finite confidences or flags,
 * negative counts or NULL arrays with a count; nothing is added then. */
int ypr__eval_add(ypr_eval_acc *acc, const float *dets, int ndet, const float *gts, int ngt);

typedef struct ypr_class_metrics {
    int64_t images;        /* images containing this class (labels) */
    int64_t labels;        /* non-difficult ground truths */
    double p, r;           /* at the confidence of best mean F1 */
    double ap50, ap;       /* AP@0.5, mean AP@0.5:0.95 */
} ypr_class_metrics;

typedef struct ypr_eval_result {
    int nc;
    int64_t images;
    ypr_class_metrics all;          /* means over classes with labels */
    ypr_class_metrics *per_class;   /* nc entries (malloc'd) */
    double best_conf;               /* the confidence where mean F1 peaks */
    /* PR curves at IoU 0.5 on a 1000-point recall grid for plots:
     * curves[c * 1000 + i] = interpolated precision (nc × 1000, malloc'd) */
    float *pr_curves;
    /* confusion matrix (nc+1)×(nc+1) at conf 0.25, IoU 0.45, YOLOv7 style:
     * rows predicted class (last = background), columns true class (last =
     * background) (malloc'd) */
    int64_t *confusion;
} ypr_eval_result;

int ypr__eval_compute(const ypr_eval_acc *acc, ypr_eval_result *res);
void ypr__eval_result_free(ypr_eval_result *res);

/* The YOLOv7 results table (Class Images Labels P R mAP@.5 mAP@.5:.95, `all`
 * first, test.py's %20s/%12i/%12.3g columns), class names optional (nc
 * entries; NULL or a NULL entry prints the index); per-class rows, as
 * test.py, only when nc > 1 and only for classes with labels; malloc'd text
 * (free()), NULL on error. */
char *ypr__eval_table(const ypr_eval_result *res, const char *const *names);
/* JSON of the result (malloc'd, free()): {"nc", "images", "best_conf",
 * "all": {images, labels, p, r, map50, map}, "classes": [{class, name,
 * images, labels, p, r, ap50, ap}] for all nc classes, "confusion":
 * {"rows": "predicted", "columns": "true", "matrix": [[...]]}}. */
char *ypr__eval_json(const ypr_eval_result *res, const char *const *names);
/* PR-curve and confusion-matrix PNGs drawn with lib/io.
 * The PR plot is YPR__EVAL_PR_W x YPR__EVAL_PR_H: one curve per class with
 * labels (in the class colour with a legend entry "name AP@0.5" when there
 * are at most 20 such classes, grey otherwise) and their mean, thick, as
 * "all classes <mAP@0.5> mAP@0.5".
 * The confusion plot is a grid of (nc+1)^2 cells of ypr__eval_confusion_cell
 * (nc) pixels, coloured by the value normalized by its column (true class),
 * with the value printed when cells are at least 28 px and names when at
 * least 10 px; the picture is (LEFT + cell·(nc+1) + RIGHT) x
 * (TOP + cell·(nc+1) + BOTTOM). Errors: YPR_EINVAL, YPR_ENOMEM, YPR_EIO. */
#define YPR__EVAL_PR_W 800
#define YPR__EVAL_PR_H 560
#define YPR__EVAL_CM_LEFT 130
#define YPR__EVAL_CM_RIGHT 20
#define YPR__EVAL_CM_TOP 40
#define YPR__EVAL_CM_BOTTOM 140
int ypr__eval_confusion_cell(int nc);       /* clamp(720 / (nc+1), 1, 48) */
int ypr__eval_plot_pr(const ypr_eval_result *res, const char *const *names, const char *path);
int ypr__eval_plot_confusion(const ypr_eval_result *res, const char *const *names,
                             const char *path);

#endif
