/* The one intermediate representation: an ordered list of primitive nodes
 * with named parameter tensors (PyTorch state_dict names). Front-ends build
 * nets, back-ends read them; inference, training, pruning, quantization and
 * export all work on the same net. Knows nothing of file formats. */
#ifndef YPR_NET_H
#define YPR_NET_H

#include <stdint.h>

#include "lib/core/core.h"
#include "lib/kernels/kernels.h"

enum {
    YPR_NODE_INPUT = 0,
    YPR_NODE_CONV = 1,          /* params: weight [O, I/g, kh, kw], bias [O] or none */
    YPR_NODE_BN = 2,            /* params: weight, bias, running_mean, running_var [C] */
    YPR_NODE_ACT = 3,
    YPR_NODE_CONCAT = 4,        /* channel axis, inputs in order */
    YPR_NODE_ADD = 5,           /* elementwise sum of ≥ 2 same-shape inputs */
    YPR_NODE_IMPLICIT_ADD = 6,  /* y = x + implicit [1, C, 1, 1] */
    YPR_NODE_IMPLICIT_MUL = 7,  /* y = x · implicit [1, C, 1, 1] */
    YPR_NODE_MAXPOOL = 8,
    YPR_NODE_UPSAMPLE = 9,      /* nearest, integer factor (2) */
    YPR_NODE_REORG = 10,        /* space-to-depth ×2: [x[::2,::2], x[1::2,::2], x[::2,1::2], x[1::2,1::2]] */
    YPR_NODE_DETECT = 11,       /* nl inputs [B, na·no, H, W] → raw head outputs */
    YPR_NODE_KIND_COUNT_
};

#define YPR_MAX_LEVELS 8
#define YPR_NAME_MAX 96
#define YPR_MODULE_MAX 24

/* ---- limits, each checked before the memory it bounds is allocated (and
 * listed in docs/model.md). A net outside them is refused with a message
 * naming the node, tensor or size (and the cfg line when built from one). */
#define YPR_NET_INPUT_CHANNELS 3                 /* RGB: what detect and eval feed */
#define YPR_NET_MAX_NODES 16384
#define YPR_NET_MAX_CHANNELS 65536               /* output channels of any node */
#define YPR_NET_MAX_PARAM_BYTES ((int64_t)4 << 30)   /* all tensors together, float32 */
#define YPR_NET_MAX_INPUT_SIDE 16384             /* input height and width */
#define YPR_PLAN_MAX_ACTIVATION_BYTES ((int64_t)8 << 30)    /* one plan's activation arena */

/* A tensor has a dtype (YPR_DTYPE_* of the public header). `data` is always
 * its float view, what every reader (plans, pruner, trainer, evaluator,
 * export) uses; an I8 / I32 tensor also holds its integers `q`, and the two
 * agree exactly: data[i] = (float)(((double)q[i] − zero[c]) · scale[c]),
 * c = 0 per tensor (nscales 1) or the index along axis 0 per channel
 * (nscales = shape[0]). dtype.c keeps them so: whoever changes the float view
 * of a quantized tensor calls ypr__param_sync (which keeps the integers when
 * the new values are still on the grid and drops the tensor to F32
 * otherwise, never touching `data`). */
typedef struct ypr_param {
    char name[YPR_NAME_MAX];    /* state_dict key, e.g. "model.0.conv.weight" */
    int ndim;
    int64_t shape[6];
    int64_t numel;
    float *data;                /* owned, 64-byte aligned: the float view */
    int is_buffer;              /* running stats, anchors: not trainable, not counted */
    int dtype;                  /* YPR_DTYPE_F32 (0, the default), _I8, _I32 */
    void *q;                    /* I8 / I32: numel int8_t / int32_t, owned; NULL for F32 */
    int64_t nscales;            /* 0 (F32), 1 (per tensor) or shape[0] (per channel) */
    float *scales;              /* nscales, finite > 0, owned */
    int32_t *zeros;             /* nscales zero points within the dtype's range, owned */
} ypr_param;

/* Uniform quantization of one tensor, simulated in float ("fake
 * quantization"): q = clamp(round(x / scale) + zero, qmin, qmax), then
 * x' = (q − zero) · scale. scale 0 means "not quantized" (the default of a
 * zeroed node). Activation steps (ypr_node.aq) are applied by the execution
 * plan after the node's value is computed; weight and bias steps (wq, bq)
 * describe what was applied to the stored tensors, for an INT8 runtime and
 * for export. A future INT8 runtime reads the same fields. */
enum {
    YPR_ROUND_HALF_EVEN = 0,   /* rintf: IEEE default, ONNX QuantizeLinear */
    YPR_ROUND_HALF_AWAY = 1,   /* roundf: C round(), std::round */
    YPR_ROUND_HALF_UP = 2,     /* floor(x + 0.5): a hardware shift with rounding constant */
    YPR_ROUND_COUNT_
};

typedef struct ypr_qparam {
    float scale;               /* > 0 quantized; 0 float. Weights per channel: see per_channel */
    int32_t zero;
    int32_t qmin, qmax;
    int round;                 /* YPR_ROUND_* */
    int per_channel;           /* weights only: one scale per output channel, each
                                * max|w_c| / qmax of the stored (already quantized) weights;
                                * `scale` then holds the largest of them */
} ypr_qparam;

typedef struct ypr_node {
    int kind;
    char name[YPR_NAME_MAX];    /* module path, e.g. "model.51.cv1.conv" */
    int layer;                  /* cfg layer index (model.<layer>), -1 for input */
    char module[YPR_MODULE_MAX];  /* the cfg module the node came from ("Conv", "RepConv",
                                 * "SPPCSPC", "IDetect" …); "" when unknown */
    int *inputs;                /* node indices, all < this node's index */
    int ninputs;
    int64_t c;                  /* output channels */
    /* conv / pool */
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    /* act (also the fused activation of a conv after ypr_model_fuse) */
    int act;
    float alpha;
    /* bn */
    float eps, momentum;
    /* upsample */
    int scale;
    /* detect */
    int nc, na, nl;
    float strides[YPR_MAX_LEVELS];
    /* parameter indices into net->params; -1 when absent.
     * conv: [0] weight, [1] bias; bn: weight, bias, mean, var;
     * implicit: [0]; detect: [0] anchors [nl, na, 2] (pixels / stride, as
     * YOLOv7 stores them), [1] anchor_grid (pixels). */
    int p[4];
    /* quantization (all zero for a float net): aq the node's output value
     * (applied after the node, on its folded chain's end), wq / bq its
     * weight and bias (conv) */
    ypr_qparam aq, wq, bq;
} ypr_node;

typedef struct ypr_net {
    ypr_node *nodes;
    int nnodes, node_cap;
    ypr_param *params;
    int nparams, param_cap;
    int *pindex;                /* open-addressing index of param names: slot → index + 1 */
    int pindex_cap;             /* a power of two > 2·nparams, or 0 */
    int64_t param_floats;       /* elements added so far: an upper bound once pruning shrinks
                                 * tensors (add_param recounts before refusing) */
    uint64_t version;           /* bumped whenever parameters or shapes change */
    uint64_t shape_version;     /* bumped only when nodes or tensor shapes change (pruning,
                                 * fusing): what a dependency graph depends on */
    int split_lut_acts;         /* plans made while set end a chain before an activation
                                 * an INT8 plan looks up in a table (ypr__act_lut_able), so
                                 * its input is a value of its own: the quantizer's
                                 * calibration observes it (not copied by ypr__net_clone) */
} ypr_net;

/* Activations an INT8 plan computes through a 256-entry table when their
 * input value is quantized (SiLU, hard-swish, sigmoid). */
static inline int ypr__act_lut_able(int act)
{
    return act == YPR_ACT_SILU || act == YPR_ACT_HARDSWISH || act == YPR_ACT_SIGMOID;
}

/* ---- building (net.c) */
void ypr__net_init(ypr_net *net);
void ypr__net_free(ypr_net *net);
/* Append a node; returns its index (≥ 0) or a negative status. The node's
 * attributes start zeroed with p[] = -1, sh = sw = dh = dw = groups = 1. */
int ypr__net_add(ypr_net *net, int kind, const char *name, int layer,
                 const int *inputs, int ninputs);
/* Add a zero-filled parameter tensor; returns its index or a negative status. */
int ypr__net_add_param(ypr_net *net, const char *name, int ndim, const int64_t *shape,
                       int is_buffer);
int ypr__net_find_param(const ypr_net *net, const char *name);   /* -1 if absent */
const char *ypr__node_kind_name(int kind);
/* Deep copy of nodes and tensors; without data the tensors have shapes but
 * NULL data (for what-if pruning; such a net cannot run). */
int ypr__net_clone(const ypr_net *src, ypr_net *dst, int with_data);

/* ---- shapes and costs (net.c) */
typedef struct ypr_shape { int64_t c, h, w; } ypr_shape;
/* Output shape of every node for an input of h×w (shapes has nnodes entries).
 * YPR_ESHAPE naming the node when shapes do not fit (concat of different
 * sizes, add of different shapes, a conv whose input channels differ from
 * its weight, an input size not divisible by the largest stride …). */
int ypr__net_shapes(const ypr_net *net, int64_t h, int64_t w, ypr_shape *shapes);
int64_t ypr__net_num_params(const ypr_net *net);          /* trainable elements */
/* Multiply-accumulates for one image of h×w (conv only when conv_only). */
int ypr__net_macs(const ypr_net *net, int64_t h, int64_t w, int conv_only, int64_t *macs);
/* Structural checks: inputs, param shapes, the limits above, attributes
 * (BatchNorm eps > 0, finite activation slopes and momenta, 3 input channels). */
int ypr__net_validate(const ypr_net *net);

/* ---- graph queries (net.c), shared by planning and fusing */
/* Who reads each node: the readers of node i are list[start[i] .. start[i+1])
 * in node order (a node reading i twice appears twice). */
typedef struct ypr_consumers { int *start, *list; int n; } ypr_consumers;
int ypr__net_consumers(const ypr_net *net, ypr_consumers *out);
void ypr__consumers_free(ypr_consumers *c);
int ypr__consumers_count(const ypr_consumers *c, int node);
/* The single reader of `node` (reading it once), or -1. */
int ypr__consumers_sole(const ypr_consumers *c, int node);
/* Compose the per-channel affine map of node i — BatchNorm (γ/√(var+eps),
 * β − mean·γ/√(var+eps)), implicit multiply, implicit add — onto
 * y = x·s + b, for c channels: s and b are updated in place. Returns 1, or 0
 * (nothing changed) when node i is of another kind. */
int ypr__net_fold_affine(const ypr_net *net, int i, int64_t c, float *s, float *b);

/* ---- fake quantization (qparam.c) */
/* Round v as `mode` says (YPR_ROUND_*). */
float ypr__qround(float v, int mode);
/* x[i] ← (clamp(round(x[i] / s) + z) − z) · s for n values, in place. */
void ypr__fake_quant(const ypr_qparam *q, float *x, int64_t n);
/* The same per output channel c of a [c, per] tensor with scales s[c]. */
void ypr__fake_quant_channels(const ypr_qparam *q, const float *s, float *x, int64_t c,
                              int64_t per);
/* A step is valid: scale 0 (off) or finite > 0, qmin < qmax within int32,
 * zero within [qmin, qmax], a known rounding mode. `what` names it in errors. */
int ypr__qparam_check(const ypr_qparam *q, const char *node, const char *what);

/* ---- tensor dtypes (dtype.c) */
/* The range of a dtype's integers: [-128, 127] (I8), [INT32_MIN, INT32_MAX] (I32). */
void ypr__dtype_range(int dtype, int64_t *lo, int64_t *hi);
const char *ypr__dtype_name(int dtype);   /* "F32", "I8", "I32", "?" */
/* Element size in bytes of the integers of `dtype` (1, 4; 0 for F32). */
size_t ypr__dtype_size(int dtype);
/* The float value of integer k (I8 / I32 storage `q`) under its channel's
 * scale and zero point: the one formula every path uses. */
float ypr__dequant1(int dtype, const void *q, int64_t k, float scale, int32_t zero);
/* Make p an I8 / I32 tensor with these scales and zero points (zeros NULL:
 * all 0), nscales 1 or shape[0]. Its current float view must lie exactly on
 * the grid (each value = (q − zero)·scale for an integer q in the dtype's
 * range): the float view never changes. YPR_ERANGE naming the tensor and
 * the first value off the grid; YPR_EINVAL (bad scales, zero points, count);
 * YPR_ENOMEM. On failure p is unchanged. dtype F32: back to float. */
int ypr__param_quantize(ypr_param *p, int dtype, int64_t nscales, const float *scales,
                        const int32_t *zeros);
/* 1 when `data` lies exactly on the grid given (the test ypr__param_quantize
 * makes), else 0; writes the integers into q_out when not NULL. Records no error. */
int ypr__param_fits(const ypr_param *p, int dtype, int64_t nscales, const float *scales,
                    const int32_t *zeros, void *q_out);
/* Back to F32: free the integers, scales and zero points (data untouched). */
void ypr__param_drop_q(ypr_param *p);
/* After the float view of p changed: re-derive the integers when the values
 * are still on p's grid (returns 1), else drop p to F32 (returns 0). Never
 * fails, never changes data; F32 tensors: 0. */
int ypr__param_sync(ypr_param *p);
/* 1 when p's integers reproduce its float view exactly (the invariant);
 * F32 tensors: 1. */
int ypr__param_consistent(const ypr_param *p);
/* Deep copy of src's dtype, integers, scales and zero points into dst (same
 * shape, F32 so far). YPR_ENOMEM (dst then unchanged). */
int ypr__param_copy_q(ypr_param *dst, const ypr_param *src);
/* Remove the slices of `axis` marked in drop (shape[axis] entries) from the
 * float view, the integers and (axis 0, per channel) the scales and zero
 * points, in place; shape and numel follow. Never fails. A tensor without
 * data (a structure-only clone) only changes shape. */
void ypr__param_compact(ypr_param *p, int axis, const unsigned char *drop);
/* The conv weights and biases that carry a quantization step (ypr_node.wq,
 * .bq) and whose values lie exactly on that step's grid become I8 (ranges
 * within [-128, 127]) or I32 tensors; scales per tensor, or per output
 * channel for per_channel steps (a weight's channel scale max|w_c|/qmax; an
 * INT32 bias's s_w[c]·s_in, s_in the step of the value the conv reads) —
 * each the float nearest that step which reproduces the stored values
 * exactly. Tensors off their grid stay F32. YPR_ENOMEM only. */
int ypr__net_mark_quantized(ypr_net *net);

/* ---- execution (exec.c) */
typedef struct ypr_plan ypr_plan;
/* Build an execution plan for batch n, size h×w: BatchNorm, implicit
 * multiply and activations fused into conv epilogues where a conv's output
 * has no other consumer; weights packed; one activation arena with buffers
 * reused by liveness. The plan snapshots net->version: run it after the
 * net changed and it is rebuilt. */
int ypr__plan_create(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                     ypr_plan **out);
/* The same, sharing the packed weights of `donor` (a plan of the same net,
 * version and kernel set for another shape) instead of packing again. */
int ypr__plan_create_from(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                          ypr_plan *donor, ypr_plan **out);
void ypr__plan_free(ypr_plan *plan);
/* x: [n, C_in, h, w]. Outputs: the detect node's inputs (the raw head maps
 * [n, na·no, H_l, W_l] per level), readable until the next run. */
int ypr__plan_run(ypr_plan *plan, const float *x);
int ypr__plan_num_outputs(const ypr_plan *plan);
const float *ypr__plan_output(const ypr_plan *plan, int level, ypr_shape *shape);
size_t ypr__plan_arena_bytes(const ypr_plan *plan);
/* Arena + GEMM scratch + the plan's own stacked weights of sibling 1×1
 * pairs, plus the shared packed weights when with_packs (plans of one model
 * share one set of packed weights: count it once). */
size_t ypr__plan_bytes(const ypr_plan *plan, int with_packs);
int64_t ypr__plan_batch(const ypr_plan *plan);
int64_t ypr__plan_height(const ypr_plan *plan);
int64_t ypr__plan_width(const ypr_plan *plan);
int ypr__plan_matches(const ypr_plan *plan, const ypr_net *net, int64_t n, int64_t h, int64_t w);
/* Sibling 1×1 conv pairs the plan runs as one conv each (exec.c,
 * merge_siblings; YPR_CONV_MERGE=0 turns them off when a plan is made). */
int ypr__plan_pair_convs(const ypr_plan *plan);
/* Whether plans made now merge sibling 1×1 convs (YPR_CONV_MERGE ≠ 0). */
int ypr__plan_merge_on(void);
/* The steps of a plan's lane `which` (1: A, the neck beside the head;
 * 2: B, the detect head's first levels; 3: lane B's steps that wait for
 * the lane-A step making their input), 0 when the plan has no lanes
 * (exec.c, plan_streams; YPR_PLAN_LANES=0 turns them off). */
int ypr__plan_lane_steps(const ypr_plan *plan, int which);
/* Called by ypr__plan_run with each node value the plan materializes, in
 * order: the input (node 0, after its fake quantization if any), then the
 * last node of every step (after its activation fake quantization). The
 * values are [n, shape] NCHW floats, valid during the call. A negative
 * return stops the run with that status. Nodes folded into a step (a conv's
 * BatchNorm, activation …) are not seen; a fused net has none. */
typedef int (*ypr_plan_observer)(void *user, int node, const float *value,
                                 const ypr_shape *shape, int64_t n);
void ypr__plan_set_observer(ypr_plan *plan, ypr_plan_observer fn, void *user);

/* ---- the INT8 plan of a quantized net (exec_i8.c; docs/quant.md "INT8
 * runtime"). Same contract as the float plan above for what it computes
 * (the detect head's inputs, as float) without observers. Creation fails
 * with YPR_EUNSUPPORTED, naming the node, for what it cannot run in INT8
 * (an unfused net, asymmetric or wider-than-int8 steps, weights off their
 * grid); the caller then runs the float fake-quant plan. */
typedef struct ypr_plan_i8 ypr_plan_i8;
/* Whether any node carries a quantization step. */
int ypr__net_is_quantized(const ypr_net *net);
int ypr__plan_i8_create(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h, int64_t w,
                        ypr_plan_i8 **out);
/* The same, sharing the converted and packed weights of `donor` (an INT8
 * plan of the same net, version and kernel sets for another shape). */
int ypr__plan_i8_create_from(const ypr_net *net, ypr_pool *pool, int64_t n, int64_t h,
                             int64_t w, ypr_plan_i8 *donor, ypr_plan_i8 **out);
void ypr__plan_i8_free(ypr_plan_i8 *plan);
int ypr__plan_i8_run(ypr_plan_i8 *plan, const float *x);
int ypr__plan_i8_num_outputs(const ypr_plan_i8 *plan);
const float *ypr__plan_i8_output(const ypr_plan_i8 *plan, int level, ypr_shape *shape);
int ypr__plan_i8_matches(const ypr_plan_i8 *plan, const ypr_net *net, int64_t n, int64_t h,
                         int64_t w);
size_t ypr__plan_i8_bytes(const ypr_plan_i8 *plan);
/* The part of ypr__plan_i8_bytes that is its packed weights (shared with
 * the plans made from it: count it once). */
size_t ypr__plan_i8_pack_bytes(const ypr_plan_i8 *plan);
int64_t ypr__plan_i8_batch(const ypr_plan_i8 *plan);
const char *ypr__plan_i8_kernels(const ypr_plan_i8 *plan);
/* How many of the plan's INT8 convs run as the exact Winograd F(2×2, 3×3). */
int ypr__plan_i8_wino_convs(const ypr_plan_i8 *p);
/* Sibling 1×1 conv pairs the INT8 plan runs as one conv each (exec_i8.c,
 * merge_siblings; YPR_CONV_MERGE=0 turns them off when a plan is made). */
int ypr__plan_i8_pair_convs(const ypr_plan_i8 *p);
/* How many of its INT8 convs end in an activation table (YPR_QUANT_ACT_LUT). */
int ypr__plan_i8_lut_convs(const ypr_plan_i8 *p);
/* How many values its producers write straight into a concat's buffer. */
int ypr__plan_i8_concat_in_place(const ypr_plan_i8 *p);
/* The INT8 plan's max-pool of one int8 plane h × w (PyTorch MaxPool2d: k×k
 * windows, stride s, implicit −inf padding pad, floor mode) into y; tmp
 * holds ypr__i8_maxpool_tmp_bytes bytes. */
void ypr__i8_maxpool_plane(const int8_t *x, int64_t h, int64_t w, int k, int s, int pad,
                           int8_t *tmp, int8_t *y);
int64_t ypr__i8_maxpool_tmp_bytes(int64_t h, int64_t w, int k, int s, int pad);

#endif
