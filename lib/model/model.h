/* The public ypr_model and its front-ends: the YOLOv7 cfg reader (over
 * core's YAML reader), module expansion into primitive nodes with PyTorch state_dict
 * names, built-in architectures, initialization. */
#ifndef YPR_MODEL_H
#define YPR_MODEL_H

#include "lib/core/core.h"
#include "lib/net/net.h"

/* ---- cfg values (cfg_yaml.c): the cfg's YAML is read by core's reader;
 * these give its scalars their YOLOv7 meaning. */
#define YPR_CFG_MAX_LAYERS 1024     /* backbone + head rows */
#define YPR_CFG_MAX_REPEATS 64      /* a row's repeat count, before and after depth_multiple */
#define YPR_CFG_MAX_MULTIPLE 100.0  /* depth_multiple, width_multiple */
#define YPR_CFG_MAX_CLASSES 100000

enum { YPR_CFG_NONE, YPR_CFG_INT, YPR_CFG_FLOAT, YPR_CFG_BOOL, YPR_CFG_STR, YPR_CFG_ACT,
       YPR_CFG_NC, YPR_CFG_ANCHORS, YPR_CFG_LIST };

typedef struct ypr_cfg_arg {
    int kind;                 /* YPR_CFG_* */
    double v;                 /* INT, FLOAT, BOOL */
    int act;                  /* ACT: YPR_ACT_*, with alpha for LeakyReLU */
    float alpha;
    const ypr_yaml *node;     /* the value itself (LIST items, STR text, line) */
} ypr_cfg_arg;

/* Read cfg text into a YAML tree whose root is a mapping (else YPR_EFORMAT
 * naming file:line). Free with ypr__yaml_free. */
int ypr__cfg_parse(const char *text, size_t len, const char *file, ypr_yaml **root);
/* The meaning of one value; errors name file:line (and the layer when ≥ 0). */
int ypr__cfg_arg(const ypr_yaml *v, int layer, ypr_cfg_arg *a);
/* Top-level number `key` in (lo, hi], or `def` when absent. */
int ypr__cfg_number(const ypr_yaml *root, const char *key, double def, double lo, double hi,
                    double *out);

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
    /* Batches run image-parallel (model.c, forward_images): per worker a
     * batch-1 plan on its own pool, and the outputs gathered per level. */
    int nworkers;
    ypr_pool **wpools;
    ypr_plan **wplans;
    float *bout;              /* [level][n, C, H, W] of the last such pass */
    int64_t *bout_off;        /* per level: its offset in bout, in floats */
    size_t bout_floats;
    int64_t bout_n;           /* images in bout; 0: the last pass's outputs are in plan */
    /* Quantized nets run on the INT8 plan (lib/net/exec_i8.c) unless
     * YPR_INT8=0: i8s are cached per input shape as plans[] (LRU, sharing
     * packed weights), i8 the one of the last INT8 pass, i8_used whether the
     * last pass ran it, i8_refused the net version + 1 it refused (then the
     * float plan). */
    ypr_plan_i8 *i8;
    ypr_plan_i8 *i8s[4];
    int64_t i8_shape[4][3];   /* n, h, w each of i8s was made for */
    uint64_t i8_at[4];        /* its last use (tick) */
    int i8_used;
    char plan_name[48];       /* ypr_model_plan_name() of the last pass; "" none */
    uint64_t i8_refused;
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
/* Trainer state stored in a checkpoint next to the weights (raw weights,
 * momentum): tensors under this prefix are not part of the model. */
#define YPR_TRAIN_STATE_PREFIX "train."
struct ypr_st_entry;
/* ypr_model_save() with, per parameter, other data to write (NULL entries
 * or data NULL: the model's own), extra tensors and extra metadata pairs. */
int ypr__model_save_ext(const ypr_model *m, const char *path, const float *const *data,
                        const struct ypr_st_entry *extra, size_t nextra,
                        const char *const *meta_kv, size_t nmeta);
/* The largest detection stride of the net (0 without a detect head). */
int ypr__model_max_stride(const ypr_model *m);

/* Check every tensor of st against net's (name, shape, finite values, BN
 * variances, anchors), then swap them in: a failed load changes nothing. */
struct ypr_safetensors;
int ypr__model_load_tensors(ypr_net *net, const struct ypr_safetensors *st, const char *path,
                            int strict);
/* Tensor t of st (the file @p path) as the value of net's parameter
 * @p param, shape already checked: its float view into data (numel
 * floats) and, for an I8 / I32 tensor, its integers, scales and zero points
 * into qp (zeroed by the caller; its dtype stays F32 for a float tensor),
 * each checked as a model load checks them. On failure qp holds nothing. */
struct ypr_st_tensor;
int ypr__model_read_tensor(const ypr_net *net, int param, const struct ypr_safetensors *st,
                           const struct ypr_st_tensor *t, const char *path, float *data,
                           ypr_param *qp);
/* PyTorch .pt checkpoints (model_pt.c): a YOLOv7 model object built from
 * its cfg dict with its weights; weights from a model object or a bare
 * state_dict into an existing net. */
int ypr__model_load_pt(const char *path, ypr_model **out);
int ypr__model_load_weights_pt(ypr_net *net, const char *path, int strict);
/* The cfg dict of a pickled YOLOv7 Model as cfg YAML text (malloc'd). */
struct ypr_pk;
int ypr__pt_cfg_text(const struct ypr_pk *cfg, const char *what, char **text, size_t *len);

/* Drop every cached execution plan (after the net or the pool changed). */
void ypr__model_drop_plans(ypr_model *m);
/* Make m->plan a plan for [n, 3, h, w], reusing a cached one. */
int ypr__model_plan(ypr_model *m, int64_t n, int64_t h, int64_t w);
/* The outputs of the last forward pass at @p level: [n, C, H, W] floats, with
 * *shape = (C, H, W) and *n; NULL if no pass has run. */
const float *ypr__model_output_at(const ypr_model *m, int level, ypr_shape *shape, int64_t *n);

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

/* ---- ONNX (onnx_export.c, onnx_import.c; docs/onnx.md) */
/* Write the net as ONNX opset 13 (atomically). */
int ypr__onnx_export(const ypr_model *m, const char *path);
struct ypr_onnx;
/* Build a model from a decoded ONNX graph; errors name `what` and the ONNX
 * node (name and op type) or tensor. */
int ypr__onnx_import(const struct ypr_onnx *o, const char *what, ypr_model **out);
/* Read, decode and import an .onnx file. */
int ypr__onnx_load(const char *path, ypr_model **out);
/* Does the path name an ONNX model (".onnx", any case)? */
int ypr__onnx_is_path(const char *path);

#endif
