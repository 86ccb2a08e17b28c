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

#endif
