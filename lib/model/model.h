/* The public ypr_model and its front-ends: the YOLOv7 cfg reader (a YAML
 * subset), module expansion into primitive nodes with PyTorch state_dict
 * names, built-in architectures, initialization. */
#ifndef YPR_MODEL_H
#define YPR_MODEL_H

#include "lib/core/core.h"
#include "lib/net/net.h"

/* ---- YAML subset (cfg_yaml.c): top-level `key: value` mappings whose
 * values are scalars, flow lists ([a, [b, c]], across lines, trailing
 * commas allowed) or block lists (- item); `#` comments; quoted strings. */
enum { YV_SCALAR = 0, YV_LIST = 1, YV_MAP = 2 };

typedef struct ypr_yv {
    int type;
    int line;                 /* 1-based source line */
    int quoted;               /* scalar was quoted */
    char *s;                  /* scalar text */
    struct ypr_yv **items;    /* list items or map values */
    char **keys;              /* map keys */
    int n, cap;
} ypr_yv;

int ypr__yaml_parse(const char *text, size_t len, const char *file, ypr_yv **out);
void ypr__yv_free(ypr_yv *v);
const ypr_yv *ypr__yv_get(const ypr_yv *map, const char *key);

/* ---- the model */
typedef struct ypr_model_opts {
    int nc;                   /* > 0 overrides the cfg's nc */
    double depth_multiple;    /* > 0 overrides */
    double width_multiple;    /* > 0 overrides */
    uint64_t seed;
} ypr_model_opts;

/* ypr__model_clone() copies every field: extend it when adding one. */
struct ypr_model {
    ypr_net net;
    int nc;
    int input_size;           /* default square input, e.g. 640 */
    char **names;             /* class names (nc), may be NULL */
    ypr_pool *pool;
    int own_pool;
    ypr_plan *plan;           /* the plan of the last forward pass (one of plans[]) */
    ypr_plan *plans[4];       /* per input shape, sharing packed weights; LRU */
    uint64_t plan_used[4], tick;
    float conf_thr, iou_thr;  /* detection settings */
    int max_det, multi_label, agnostic;
};

/* How one decode filters: confidence threshold (objectness, then objectness
 * × class), NMS IoU threshold, one row per class above the threshold or only
 * the best class, NMS across classes, at most max_det rows. class_offset > 0
 * makes NMS YOLOv7's batched one: IoUs of the boxes shifted by class ×
 * class_offset, in float32 (test.py uses 4096), so they round as test.py's
 * do; 0 compares the boxes themselves, per class. */
typedef struct ypr_decode_opts {
    float conf, iou;
    int multi_label, agnostic, max_det;
    float class_offset;
} ypr_decode_opts;

/* Decode image `image` of the last forward pass into dets (x1 y1 x2 y2 conf
 * cls rows, in network input pixels), after confidence filter and NMS. */
int ypr__detect_decode(const ypr_model *m, int image, const ypr_decode_opts *o, float *dets,
                       int *ndet);

/* ypr_model_decode() with the given settings instead of the model's (the
 * evaluator's own thresholds): same checks, same rows. */
int ypr__model_decode_with(const ypr_model *m, int image, const ypr_decode_opts *o,
                           float *dets, int capacity, int *count);
/* A deep copy of every field of m: the net (tensors and version), classes
 * and their names, input size, detection settings and thread count; no
 * cached execution plans. */
int ypr__model_clone(const ypr_model *m, ypr_model **out);
/* The largest detection stride of the net (0 without a detect head). */
int ypr__model_max_stride(const ypr_model *m);

/* Drop every cached execution plan (after the net or the pool changed). */
void ypr__model_drop_plans(ypr_model *m);
/* Make m->plan a plan for [n, 3, h, w], reusing a cached one. */
int ypr__model_plan(ypr_model *m, int64_t n, int64_t h, int64_t w);

/* An empty model with its thread pool. */
int ypr__model_new(ypr_model **out);

/* Build a net from cfg text (file names the source in errors). */
int ypr__yolo_build(const char *text, size_t len, const char *file, const ypr_model_opts *o,
                    ypr_net *net, int *nc_out);
/* Cfg text (malloc'd) of a built-in architecture ("yolov7", "yolov7-tiny",
 * "yolov7x"); YPR_ENOTFOUND (no message) for other names. */
int ypr__builtin_cfg(const char *name, char **text);
/* PyTorch default + YOLOv7 initialization, deterministic from the seed. */
void ypr__yolo_init(ypr_net *net, uint64_t seed);

#endif
