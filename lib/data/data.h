/* Data preparation shared by detection, datasets and evaluation. */
#ifndef YPR_DATA_H
#define YPR_DATA_H

#include <stdint.h>

#include "lib/core/core.h"
#include "lib/io/io.h"

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
/* The same with the resize ratio given (clipped to the canvas), as YOLOv7's
 * evaluation letterboxes into rectangular shapes without scaling up. */
int ypr__letterbox_ratio(const uint8_t *src, int sw, int sh, int dw, int dh, float ratio,
                         uint8_t pad, float *dst, ypr_letterbox *lb);

/* ------------------------------------------------------------- datasets */

/* Limits of the dataset readers (docs/input.md). */
#define YPR_DS_MAX_IMAGES 10000000           /* images in one dataset */
#define YPR_DS_TEXT_MAX ((size_t)256 << 20)  /* image lists (a data .yaml: YPR_YAML_MAX_BYTES) */
#define YPR_DS_LABEL_MAX ((size_t)64 << 20)  /* one YOLO label file */
#define YPR_DS_MAX_OBJECTS 10000             /* objects in one image */
#define YPR_DS_XML_MAX ((size_t)64 << 20)    /* one VOC annotation, a VOC split file */
#define YPR_DS_NAMES_MAX ((size_t)1 << 20)   /* classes.txt, labels.txt */
#define YPR_DS_MAX_WARNINGS 20               /* skip warnings logged one by one */

/* One image of a dataset: its file and its labels, rows of 6 floats
 * `class x1 y1 x2 y2 difficult` in pixels of the image. */
typedef struct ypr_ds_item {
    char *path;            /* NULL for synthetic images */
    float *rows;
    int n;
    int w, h;              /* from the file's header at open; 0 if unreadable */
} ypr_ds_item;

/* What a dataset problem is about (the public YPR_DATASET_SKIPPED_* values). */
enum { YPR_DS_IMAGE = YPR_DATASET_SKIPPED_IMAGE, YPR_DS_LABELS = YPR_DATASET_SKIPPED_LABELS };

struct ypr_dataset {
    int synth;             /* 1: built-in synthetic (rendered on demand) */
    int count, cap;
    ypr_ds_item *items;    /* count entries (file datasets) */
    int nc;
    char **names;          /* nc strings (never NULL entries) */
    int skipped;           /* images skipped (SKIP): skipped_image + skipped_labels */
    int skipped_image;     /* image missing, not a regular file or header unreadable */
    int skipped_labels;    /* label file or annotation problems */
    int first_code;        /* the first skip: its status code and message */
    char first_problem[512];
    int size;              /* synthetic: image side */
    uint64_t seed;         /* synthetic: seed */
};

/* An empty dataset handle. */
int ypr__ds_new(ypr_dataset **out);
/* Append an item (ownership of path and rows moves to ds; on failure they
 * are freed). */
int ypr__ds_push(ypr_dataset *ds, ypr_ds_item *it);
/* Set nc and class names (names may be NULL → ""; copied). */
int ypr__ds_set_names(ypr_dataset *ds, int nc, const char *const *names);
/* A problem of `kind` (YPR_DS_IMAGE, YPR_DS_LABELS) in `file` at `line` (0:
 * no line). STRICT: records the error and returns `code` (< 0). SKIP: counts
 * a skipped image, logs a warning (the first YPR_DS_MAX_WARNINGS; the rest
 * are summed up by ypr__ds_finish) and returns 1. */
int ypr__ds_problem(ypr_dataset *ds, int policy, int kind, int code, const char *file,
                    int line, const char *fmt, ...) YPR_PRINTF(7, 8);
/* End of an open: logs the skip summary; a dataset left without images is
 * an error (YPR_ENOTFOUND "no images found", or the first skip's code and
 * message when every image was skipped). */
int ypr__ds_finish(ypr_dataset *ds, const char *what);

/* ------------------------------------------- helpers (files.c) */

/* malloc'd copy of s; NULL on out of memory. */
char *ypr__strdup(const char *s);
/* s without leading and trailing white space (trailing part cut in place). */
char *ypr__trim(char *s);
/* 1 if s ends with suffix, ignoring case. */
int ypr__ends_with(const char *s, const char *suffix);
/* 1 if path is an existing directory / regular file. */
int ypr__is_dir(const char *path);
int ypr__is_file(const char *path);
/* 1 if there is a directory entry at path (of any type, even a dangling
 * symbolic link). */
int ypr__exists(const char *path);
/* What the last error says after its "YPR_E…: " and "path: " prefixes,
 * for messages that name the file themselves. Points into the last-error
 * buffer: copy it before recording another error. */
const char *ypr__error_detail(const char *path);
/* malloc'd "a/b" (b returned as is if absolute or a is empty). NULL on OOM. */
char *ypr__path_join(const char *a, const char *b);
/* malloc'd folder part of path ("." if none). */
char *ypr__path_dir(const char *path);
/* Whole file into a malloc'd NUL-terminated buffer (at most max bytes). */
int ypr__read_text(const char *path, size_t max, char **buf, size_t *len);
/* Split the next line off *p in place (NUL at its end) and return it;
 * *p moves past it, to NULL after the last line. */
char *ypr__next_line(char **p);

/* A growable vector of owned strings. */
typedef struct ypr_strvec { char **v; int n, cap; } ypr_strvec;
/* Append str, taking ownership (freed on failure; NULL means out of memory). */
int ypr__sv_push(ypr_strvec *s, char *str);
void ypr__sv_free(ypr_strvec *s);

/* ------------------------------------------- YOLO sources */

/* State of one ypr_dataset_open() over YOLO-format sources. */
typedef struct ypr_ds_open {
    ypr_dataset *ds;
    int policy;
    int no_label_file;     /* images without a label file (no objects) */
    int unsupported;       /* images in formats the decoder does not read */
    int max_cls;           /* largest class id seen */
} ypr_ds_open;

/* Add a folder (recursively, sorted), a .txt list of images or a single
 * image (yolo_tree.c). */
int ypr__ds_add_source(ypr_ds_open *c, const char *src);
/* Parse the label file of image `img` (w×h, 0 if unknown) (yolo_labels.c).
 * Returns <0 (STRICT error), 1 (skip), 0 ok with rows (pixels when w > 0,
 * normalized otherwise). *missing = 1 if there is no label file. */
int ypr__yolo_labels(ypr_dataset *ds, int policy, const char *img, int w, int h,
                     float **rows_out, int *n_out, int *missing, int *max_cls);

/* A data .yaml (data_yaml.c), read by core's YAML reader: the split's
 * sources join c->ds, with nc and names. Errors name file:line. */
int ypr__ds_open_yaml(ypr_ds_open *c, const char *path, const char *split);

/* Pascal VOC tree (voc.c): fills ds (names, items). */
int ypr__voc_open(const char *root, const char *split, int policy, ypr_dataset *ds);

/* Synthetic dataset (synth.c). At most YPR_SYNTH_MAX_OBJ objects per image. */
#define YPR_SYNTH_MAX_OBJ 8
/* Render image i: img (may be NULL for labels only) gets size×size RGB8
 * (allocated here); rows (YPR_SYNTH_MAX_OBJ × 6) and *n get the labels. */
int ypr__synth_render(const ypr_dataset *ds, int i, ypr_image *img, float *rows, int *n);
/* Name of synthetic class c ("circle", …, "red_square"…) into buf (32 bytes suffice). */
void ypr__synth_class_name(int c, char *buf, size_t size);

/* ------------------------------------------- training augmentation and loader
 * YOLOv7's training pipeline (utils/datasets.py), docs/augment.md. Images
 * are RGB8 (interleaved, stride 3·w) while augmenting; labels are rows of
 * YPR_AUG_ROW = 5 floats `class x1 y1 x2 y2` in pixels of the current image. */
#define YPR_AUG_ROW 5
#define YPR_AUG_FILL 114       /* YOLOv7's grey for borders and empty canvas */

typedef struct ypr_aug_cfg {   /* YOLOv7 hyp keys, same meaning */
    float hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective;
    float flipud, fliplr, mosaic, mixup;
} ypr_aug_cfg;

/* Bilinear resize with half-pixel centres (OpenCV's INTER_LINEAR geometry,
 * float weights, rounded to nearest). */
void ypr__aug_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);
/* random_perspective's matrix M (row-major 3×3, forward: output = M·input)
 * for an in_w×in_h image warped into out_w×out_h (out = in + 2·border):
 * draws, in YOLOv7's order, perspective x/y, angle, scale s (uniform in
 * [1 − scale, 1.1 + scale] as YOLOv7 has it), shear x/y, translation x/y.
 * *s gets the scale (box_candidates compares areas against it). */
void ypr__aug_perspective_matrix(ypr_rng *r, const ypr_aug_cfg *c, int in_w, int in_h,
                                 int out_w, int out_h, double m[9], double *s);
/* Warp src (sw×sh) by M into dst (dw×dh): each output pixel samples the
 * input at M⁻¹·(x, y, 1) (divided by w when `perspective`), bilinear, outside
 * pixels YPR_AUG_FILL. Returns YPR_EINVAL (message) when M is singular. */
int ypr__aug_warp(const uint8_t *src, int sw, int sh, const double m[9], int perspective,
                  uint8_t *dst, int dw, int dh);
/* Boxes through M: the 4 corners transformed (divided by w when
 * `perspective`), their bounding box clipped to [0, w]×[0, h], kept when
 * ypr__aug_box_candidate(old box · s, new box) (wh_thr 2, ar_thr 20,
 * area_thr 0.1). Rows are compacted in place; returns how many remain. */
int ypr__aug_warp_boxes(float *rows, int n, const double m[9], int perspective, double s,
                        int w, int h);
/* YOLOv7's box_candidates for one box pair (x1 y1 x2 y2, before and after):
 * 1 if the new box is wider and taller than wh_thr pixels, keeps more than
 * area_thr of the old area and its aspect ratio (either way) is below ar_thr. */
int ypr__aug_box_candidate(const float before[4], const float after[4], float wh_thr,
                           float ar_thr, float area_thr);
/* augment_hsv with the gains already drawn (g = 1 + uniform(−1, 1)·hyp):
 * OpenCV's 8-bit RGB→HSV (H in [0, 180)), the lookup tables
 * (H·gh mod 180, clip(S·gs), clip(V·gv), truncated), HSV→RGB. Gains all
 * exactly 1 leave the image untouched (OpenCV's round trip would not). */
void ypr__aug_hsv(uint8_t *rgb, int64_t npix, double gh, double gs, double gv);
/* Mirror the image left-right / up-down with its w×h pixel labels. */
void ypr__aug_fliplr(uint8_t *rgb, int w, int h, float *rows, int n);
void ypr__aug_flipud(uint8_t *rgb, int w, int h, float *rows, int n);
/* Place image k (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of
 * a 4-mosaic with centre (xc, yc) into the (2s)×(2s) canvas, as load_mosaic
 * does; its labels shift by the placement and are clipped to [0, 2s]. */
void ypr__aug_mosaic_place(uint8_t *canvas, int s, int xc, int yc, int k, const uint8_t *img,
                           int w, int h, float *rows, int n);
/* A uniform double in [lo, hi) (53 random bits). */
double ypr__aug_uniform(ypr_rng *r, double lo, double hi);
/* A Beta(a, b) draw (ratios of Marsaglia–Tsang gamma draws), a, b ≥ 1. */
double ypr__aug_beta(ypr_rng *r, double a, double b);

/* Per-thread buffers of the sample pipeline, grown on demand, reused. */
typedef struct ypr_aug_scratch {
    uint8_t *buf[4];       /* resized image, canvas, warp output, mixup's output */
    size_t cap[4];
    float *rows[3];        /* raw labels, sample labels, mixup's labels */
    int rcap[3];
} ypr_aug_scratch;
void ypr__aug_scratch_free(ypr_aug_scratch *sc);

/* One training sample of YOLOv7's __getitem__ at size S (multiple of 32):
 * with `augment` 0, dataset image `index` letterboxed to S×S (no
 * randomness); with 1, mosaic (partners drawn from r over the whole
 * dataset) or letterbox plus random_perspective, mixup, HSV and flips.
 * Writes `chw` (3·S·S floats, RGB in [0, 1]) and *labels (owned by sc,
 * *n rows of `class cx cy w h` normalized to S). Decoding errors name the
 * file. Labels marked difficult (VOC) are left out, as YOLOv7's VOC
 * conversion does. */
int ypr__aug_sample(const ypr_dataset *ds, int index, int augment, const ypr_aug_cfg *cfg,
                    int size, ypr_rng *r, ypr_aug_scratch *sc, float *chw,
                    const float **labels, int *n);

typedef struct ypr_loader_opts {
    int batch;           /* images per batch */
    int size;            /* square training size S (multiple of 32) */
    int augment;         /* 0: letterbox only (no randomness), 1: the training pipeline */
    ypr_aug_cfg aug;
    int workers;         /* loader threads (>= 1); results never depend on it */
    uint64_t seed;
    int shuffle;         /* permute the order each epoch (from seed and epoch) */
} ypr_loader_opts;
typedef struct ypr_batch {
    int n;               /* images in this batch (the last batch may be smaller) */
    float *images;       /* [n, 3, S, S] RGB in [0, 1], owned by the loader, valid until the next call */
    float *targets;      /* [nt, 6]: image index in batch, class, x, y, w, h normalized to S */
    int64_t nt;
} ypr_batch;
typedef struct ypr_loader ypr_loader;
/* A loader over ds (which must outlive it); its worker threads start
 * here and sleep until ypr__loader_start. Errors: YPR_EINVAL (bad options,
 * named), YPR_ENOMEM, YPR_EIO (threads). */
int ypr__loader_create(const ypr_dataset *ds, const ypr_loader_opts *o, ypr_loader **out);
/* Stops and joins the workers (even mid-epoch); NULL is a no-op. */
void ypr__loader_free(ypr_loader *l);
int ypr__loader_num_batches(const ypr_loader *l);   /* ceil(count / batch) */
/* Begin epoch `epoch` (>= 0) at batch `first` (for resuming); workers start
 * preparing batches ahead (bounded queue, a few batches). Batch j of epoch
 * e depends only on (dataset, options but workers, e, j). YPR_EINVAL for a
 * negative epoch or `first` outside [0, num_batches]. */
int ypr__loader_start(ypr_loader *l, int epoch, int first);
/* The next batch of the epoch, in order; YPR_ENOTFOUND (no message) after the last.
 * A decode error returns a negative status naming the image file (that
 * batch is then skipped: the next call moves on). YPR_ESTATE before start. */
int ypr__loader_next(ypr_loader *l, ypr_batch *b);

#endif
