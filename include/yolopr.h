/*
 * libyolopr — prune, fine-tune, quantize and export YOLOv7-family detectors.
 *
 * A tour
 * ------
 * Everything a host sees is in this header. Objects are opaque handles
 * (ypr_model, ypr_depgraph, ypr_pruner, ypr_trainer, ypr_evaluator,
 * ypr_dataset) created by a `*_create`/`*_load` call and released by the
 * matching `*_free`, which accepts NULL. Every fallible function returns an
 * int status: 0 (YPR_OK) on success or a negative YPR_E… code; the detail of
 * the most recent failure on the calling thread is in ypr_last_error().
 *
 * Settings are enum keys with explicit, spaced values that are never
 * renumbered, so adding a setting never changes the ABI. Nothing in the
 * library prints to stdout, exits or aborts; diagnostics go to the log
 * callback installed with ypr_set_log_callback().
 *
 * Threads: no handle may be used from two threads at once unless its
 * documentation says so. Functions without a handle are thread safe except
 * where noted. Of the process-wide settings, ypr_set_log_callback() may be
 * called at any time from any thread; ypr_set_num_threads() and
 * ypr_simd_select() may not: call them while no other thread is inside the
 * library.
 *
 * Compute kernels are chosen once at start-up from the CPU (AVX-512, AVX2+FMA,
 * NEON or the scalar reference); the environment variable
 * YPR_SIMD=scalar|avx2|avx512|neon forces a lower kernel set.
 */
#ifndef YOLOPR_H
#define YOLOPR_H

#include <stddef.h>
#include <stdint.h>

#include "yolopr_version.h"

#if defined(_WIN32)
#  define YPR_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define YPR_API __attribute__((visibility("default")))
#else
#  define YPR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/** @return YPR_VERSION_NUMBER of the library actually loaded. @since 0.1 */
YPR_API unsigned ypr_version_number(void);
/** @return "MAJOR.MINOR.PATCH" of the library actually loaded. @since 0.1 */
YPR_API const char *ypr_version_string(void);

/* ------------------------------------------------------------ status codes */

/* X-macro: name, value, message. Values are stable and never reused. */
#define YPR_ERROR_LIST(X)                                                    \
    X(YPR_OK,           0,  "success")                                       \
    X(YPR_EINVAL,      -1,  "invalid argument")                              \
    X(YPR_ENOMEM,      -2,  "out of memory")                                 \
    X(YPR_ERANGE,      -3,  "value or size out of range")                    \
    X(YPR_EIO,         -4,  "input/output error")                            \
    X(YPR_EFORMAT,     -5,  "malformed file or data")                        \
    X(YPR_ESHAPE,      -6,  "tensor shape mismatch")                         \
    X(YPR_ENOTFOUND,   -7,  "not found")                                     \
    X(YPR_EUNSUPPORTED,-8,  "not supported")                                 \
    X(YPR_ESTATE,      -9,  "operation not valid in the current state")      \
    X(YPR_ECANCELED,  -10,  "canceled by callback")                          \
    X(YPR_EINTERNAL,  -11,  "internal error")                               \
    X(YPR_ENONFINITE, -12,  "non-finite value (training diverged)")

typedef enum ypr_status {
#define YPR_X_ENUM(name, value, msg) name = value,
    YPR_ERROR_LIST(YPR_X_ENUM)
#undef YPR_X_ENUM
    YPR_STATUS_MIN_ = -1000
} ypr_status;

/** @return a static English description of @p status ("unknown status" if
 *  it is not a YPR_E… code). Never NULL. @since 0.1 */
YPR_API const char *ypr_strerror(int status);
/** @return the code's name, e.g. "YPR_EINVAL"; "YPR_E?" if unknown. @since 0.1 */
YPR_API const char *ypr_err_name(int status);
/** @return the detailed message of the last failure on this thread (naming
 *  the file, line, node or tensor where one applies); "" if none. The text
 *  stays valid until the next failing call on this thread. @since 0.1 */
YPR_API const char *ypr_last_error(void);

/* -------------------------------------------------------- opaque handles */

typedef struct ypr_model ypr_model;
typedef struct ypr_depgraph ypr_depgraph;
typedef struct ypr_pruner ypr_pruner;
typedef struct ypr_trainer ypr_trainer;
typedef struct ypr_evaluator ypr_evaluator;
typedef struct ypr_dataset ypr_dataset;
typedef struct ypr_quantizer ypr_quantizer;   /**< @since 0.1 */

/* ------------------------------------------------------------ CPU and SIMD */

typedef enum ypr_cpu_feature {
    YPR_CPU_SSE42    = 1,
    YPR_CPU_AVX      = 2,
    YPR_CPU_AVX2     = 3,   /* AVX2 and FMA, with OS support for YMM state */
    YPR_CPU_FMA      = 4,
    YPR_CPU_AVX512F  = 5,   /* with OS support for ZMM/opmask state */
    YPR_CPU_AVX512BW = 6,
    YPR_CPU_AVX512VL = 7,
    YPR_CPU_AVX512VNNI = 8,
    YPR_CPU_AVXVNNI  = 9,
    YPR_CPU_AVX512DQ = 10,  /**< @since 0.1 */
    YPR_CPU_NEON     = 20,
    YPR_CPU_ASIMDDOT = 21
} ypr_cpu_feature;

/** @return 1 if the CPU (and OS) support @p feature, else 0. @since 0.1 */
YPR_API int ypr_cpu_has(int feature);
/** @return the name of the kernel set in use: "scalar", "avx2", "avx512"
 *  or "neon". @since 0.1 */
YPR_API const char *ypr_simd_active(void);
/** Select a kernel set by name for the whole process (for benchmarks and
 *  tests; not thread safe against concurrent computation).
 *  @return YPR_OK; YPR_EUNSUPPORTED if this CPU or build lacks it;
 *  YPR_EINVAL for an unknown name or NULL. @since 0.1 */
YPR_API int ypr_simd_select(const char *name);
/** @return 1 if the kernel set @p name is built in and runs on this CPU. @since 0.1 */
YPR_API int ypr_simd_available(const char *name);

/* ------------------------------------------------------- logging, threads */

typedef enum ypr_log_level {
    YPR_LOG_ERROR = 10,
    YPR_LOG_WARN  = 20,
    YPR_LOG_INFO  = 30,
    YPR_LOG_DEBUG = 40
} ypr_log_level;

/** Receives one message (no trailing newline), valid only during the call.
 *  May be called from any library thread, from several at once; it may
 *  call ypr_set_log_callback(). */
typedef void (*ypr_log_fn)(void *user, int level, const char *message);

/** Install the process-wide log callback (NULL: messages are dropped) and
 *  the most verbose level delivered. Thread safe: @p fn, @p user and
 *  @p max_level are replaced together, so a message always reaches a
 *  callback with its own user pointer. Messages formatted after the call
 *  returns go to the new callback; one already being delivered on another
 *  thread may still reach the old one, so keep the old @p user valid until
 *  the library calls that could log have returned. @since 0.1 */
YPR_API void ypr_set_log_callback(ypr_log_fn fn, void *user, int max_level);

/** Default number of worker threads for handles created afterwards and for
 *  handle-less calls; 0 means the number of online CPUs.
 *  @return YPR_OK; YPR_ERANGE if @p n is negative or above 1024. @since 0.1 */
YPR_API int ypr_set_num_threads(int n);
/** @return the current default thread count (resolved, ≥ 1). @since 0.1 */
YPR_API int ypr_get_num_threads(void);

/* -------------------------------------------------------------- benchmarks */

/** One measured case of ypr_bench_kernels(). @p gflops counts 2 flops per
 *  multiply-add; @p ms is the median time of one call. */
typedef void (*ypr_bench_fn)(void *user, const char *isa, int threads,
                             const char *kernel, const char *shape,
                             double gflops, double ms);

/** Measure the float kernels: the FMA peak ("peak"), SGEMM and the conv
 *  layers that dominate YOLOv7 at 640×640, for the kernel set @p isa (NULL:
 *  every set available here) and each thread count 1..@p max_threads.
 *  Each case runs for about @p seconds (0: 0.3 s). Results arrive through
 *  @p cb in order. Restores the previously selected kernel set.
 *  @return YPR_OK; YPR_EINVAL (NULL cb, bad threads);
 *  YPR_EUNSUPPORTED (isa unavailable); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_bench_kernels(const char *isa, int max_threads, double seconds,
                              ypr_bench_fn cb, void *user);

/** The FMA peak alone (the "peak" row of ypr_bench_kernels()) in GFLOP/s,
 *  for kernel set @p isa (NULL: the active one) on @p threads threads (0:
 *  ypr_get_num_threads()), the best of repeated bursts over about
 *  @p seconds (0: 0.3 s) — the yardstick for a model's effective
 *  throughput. @return YPR_OK; YPR_EINVAL; YPR_EUNSUPPORTED. @since 0.1 */
YPR_API int ypr_bench_peak(const char *isa, int threads, double seconds, double *gflops);


/* ------------------------------------------------------------------ models */

/** Build a YOLOv7-family model from a cfg: a built-in name ("yolov7",
 *  "yolov7-tiny", "yolov7x") or the path of a YOLOv7 model `.yaml`. Tensor
 *  names are PyTorch's state_dict keys (`model.0.conv.weight` …). Weights are
 *  initialized as PyTorch and YOLOv7 do, deterministically from @p seed.
 *  @param nc              classes; 0 keeps the cfg's `nc`
 *  @param depth_multiple  0 keeps the cfg's
 *  @param width_multiple  0 keeps the cfg's
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOTFOUND (no such file); YPR_EIO
 *  (unreadable, or not a regular file); YPR_EFORMAT (YAML or cfg syntax or
 *  semantics, naming the file and line); YPR_EUNSUPPORTED (an unknown
 *  module, `ch` other than 3, a YAML alias, naming the line); YPR_ERANGE (a
 *  limit of docs/model.md: repeats, nodes, channels, parameter bytes, naming
 *  the line); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_from_cfg(const char *cfg, int nc, double depth_multiple,
                               double width_multiple, uint64_t seed, ypr_model **out);
/** The same from cfg text in memory.
 *  @return YPR_OK; YPR_EINVAL (NULL, or @p nc outside 0..100000); YPR_EFORMAT
 *  (cfg syntax or semantics, naming the line); YPR_EUNSUPPORTED (an unknown
 *  module); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_from_cfg_text(const char *text, size_t len, int nc, uint64_t seed,
                                    ypr_model **out);
/** Release a model (NULL is a no-op). @since 0.1 */
YPR_API void ypr_model_free(ypr_model *model);
/** @return the number of trainable parameters (buffers such as BatchNorm
 *  running statistics and anchors are not counted); YPR_EINVAL for NULL. @since 0.1 */
YPR_API int64_t ypr_model_num_params(const ypr_model *model);
/** Multiply-accumulates of one forward pass on an @p h × @p w image.
 *  @param conv_only  1: convolutions only; 0: also BatchNorm, implicit
 *                    layers, adds and pooling
 *  @return YPR_OK; YPR_EINVAL; YPR_ESHAPE (the size does not fit the net). @since 0.1 */
YPR_API int ypr_model_macs(const ypr_model *model, int h, int w, int conv_only, int64_t *macs);
/** @return the number of classes. @since 0.1 */
YPR_API int ypr_model_num_classes(const ypr_model *model);
/** @return the number of detection levels (3 for YOLOv7 P3–P5). @since 0.1 */
YPR_API int ypr_model_num_levels(const ypr_model *model);
/** Worker threads of this model (0: online CPUs). @return YPR_OK; YPR_ERANGE. @since 0.1 */
YPR_API int ypr_model_set_threads(ypr_model *model, int threads);
/** Run the network on a float NCHW batch [n, 3, h, w] (RGB in [0, 1]); h and
 *  w must be multiples of the largest stride (32). The first call for a
 *  shape builds an execution plan (folded BatchNorm, packed weights, one
 *  activation arena); later calls reuse it.
 *  @return YPR_OK; YPR_EINVAL; YPR_ESHAPE (size, naming the node); YPR_ERANGE
 *  (the activations would pass the 8 GiB limit; nothing is allocated);
 *  YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_forward(ypr_model *model, const float *input, int n, int h, int w);
/** Copy the raw head output of @p level from the last forward pass, in
 *  YOLOv7's layout [n, anchors, H, W, 5 + nc] (logits, before the sigmoid).
 *  @param dst    n·anchors·H·W·(5+nc) floats, or NULL to query the shape only
 *  @param shape  receives the 5 dimensions
 *  @return YPR_OK; YPR_ESTATE (no forward yet); YPR_ERANGE (level). @since 0.1 */
YPR_API int ypr_model_output(const ypr_model *model, int level, float *dst, int64_t shape[5]);
/** Load a model: our checkpoint (`.safetensors` written by
 *  ypr_model_save(), carrying the net description, so pruned models load
 *  exactly), a YOLOv7 `.pt` checkpoint (torch.save's zip format, read
 *  without executing anything: the `ema` model when present, else `model`,
 *  built from the cfg dict it carries; docs/pt.md), an ONNX detector
 *  (`.onnx`: Conv, BatchNormalization, Relu,
 *  LeakyRelu, Sigmoid, Mul, Add, Concat, MaxPool, Resize/Upsample nearest,
 *  the head's Reshape/Transpose (and Shape/Gather/Unsqueeze feeding it),
 *  Identity, Constant, as PyTorch exports
 *  YOLOv7 at opsets 11–17; docs/onnx.md), a cfg path or a built-in name (as
 *  ypr_model_from_cfg() with the cfg's nc and seed 0). An ONNX file with
 *  another op, external data or inconsistent shapes is refused naming the
 *  node (name and op type) or tensor: YPR_EUNSUPPORTED, YPR_EFORMAT,
 *  YPR_ESHAPE.
 *  @return YPR_OK; YPR_EIO; YPR_EFORMAT (naming the file and what is wrong,
 *  e.g. a plain PyTorch state_dict without a net description);
 *  YPR_ENOTFOUND / YPR_ESHAPE (a tensor, named); YPR_ERANGE (NaN/Inf values,
 *  a negative BatchNorm running variance, anchors ≤ 0: the tensor named);
 *  YPR_EINVAL (node attributes such as eps ≤ 0); YPR_EUNSUPPORTED (an
 *  unknown format_version, input other than 3 channels; in a `.pt`: the
 *  legacy pre-1.6 format, a callable the unpickler does not know, limits
 *  exceeded). @since 0.1 */
YPR_API int ypr_model_load(const char *path, ypr_model **out);
/** Load weights by name from a safetensors file (a PyTorch state_dict saved
 *  as safetensors, or our checkpoint) or a PyTorch `.pt` (a state_dict or a
 *  checkpoint's model object) into a model of the same architecture.
 *  F32, F16, BF16 and F64 tensors are converted to float32;
 *  `num_batches_tracked` entries are ignored; other unknown tensors are
 *  reported through the log hook, and are an error when @p strict is 1.
 *  Every tensor is checked before anything is copied, so a failed load
 *  leaves the model unchanged.
 *  @return YPR_OK; YPR_EIO; YPR_EFORMAT; YPR_ENOTFOUND (a missing tensor,
 *  named); YPR_ESHAPE (naming the tensor and both shapes); YPR_ERANGE (NaN/Inf
 *  values, a negative BatchNorm running variance, anchors ≤ 0, naming the
 *  tensor); YPR_EUNSUPPORTED (a `.pt` this reader does not take). @since 0.1 */
YPR_API int ypr_model_load_weights(ypr_model *model, const char *path, int strict);
/** Save our checkpoint: the weights as float32 safetensors under their
 *  PyTorch names (loadable by PyTorch as a state_dict) plus the net
 *  description, class names and input size in the metadata. Written to a
 *  temporary name, flushed, then renamed.
 *  @return YPR_OK; YPR_EIO (naming the file); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_save(const ypr_model *model, const char *path);
/** Write the model back for YOLOv7's own code: a model `.yaml` (width and
 *  depth multiples 1, every Conv/RepConv at its current width, SPPCSPC
 *  written as primitive Conv/SP/Concat layers when its inner widths no longer
 *  follow its formula, with later layers renumbered) and a safetensors
 *  state_dict under the matching names (plus BatchNorm num_batches_tracked).
 *  Widths must be multiples of 8 (YOLOv7 rounds them up); fused models are
 *  refused. @return YPR_OK; YPR_EUNSUPPORTED (naming the layer); YPR_EIO. @since 0.1 */
YPR_API int ypr_model_export_yolov7(const ypr_model *model, const char *yaml_path,
                                    const char *weights_path);
/** Memory held by the model: tensors (the float values, and a quantized
 *  tensor's integers, scales and zero points), plus its cached execution plans
 *  (activation arenas, packed weights, scratch). @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_model_memory(const ypr_model *model, int64_t *bytes);
/** @return the number of tensors (parameters and buffers) of the model. @since 0.1 */
YPR_API int ypr_model_num_tensors(const ypr_model *model);
/** Name (PyTorch state_dict key), shape and read-only data of tensor @p i;
 *  valid until the model changes. @return YPR_OK; YPR_ERANGE. @since 0.1 */
YPR_API int ypr_model_tensor(const ypr_model *model, int i, const char **name, int *ndim,
                             int64_t shape[6], const float **data);
/** Overwrite tensor @p i with @p numel floats (cached execution plans are
 *  rebuilt). @return YPR_OK; YPR_ERANGE; YPR_ESHAPE. @since 0.1 */
YPR_API int ypr_model_set_tensor(ypr_model *model, int i, const float *data, int64_t numel);
/** Check that every parameter and buffer is finite.
 *  @return YPR_OK; YPR_ERANGE naming the first tensor holding NaN or Inf. @since 0.1 */
YPR_API int ypr_model_check_finite(const ypr_model *model);
/** Reparameterize for deployment, in place: fold every BatchNorm into the
 *  conv before it (adding a bias), merge RepConv's 3×3, 1×1 and identity
 *  branches into one 3×3 conv (`model.<i>.rbr_reparam`), and fold the
 *  detect head's ImplicitA/ImplicitM into its convs. Outputs agree with the
 *  unfused model up to float rounding. Patterns are found from the graph's
 *  structure, so pruned models fuse too.
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM (the model is then unchanged). @since 0.1 */
YPR_API int ypr_model_fuse(ypr_model *model);
/** Export the model as ONNX (opset 13; docs/onnx.md), fused or not: the
 *  ops PyTorch writes for the same modules (Conv, BatchNormalization, SiLU
 *  as Sigmoid + Mul, Concat, MaxPool, Resize …), parameters as initializers
 *  under their state_dict names, one graph output per detection level in
 *  YOLOv7's raw layout [batch, anchors, H, W, 5 + nc] (logits), for a
 *  [batch, 3, S, S] input with S the model's input size
 *  (#YPR_MODEL_INPUT_SIZE). Class names, anchors (pixels), strides and the
 *  input size go in metadata_props. A quantized model is written in ONNX's
 *  QDQ form (see ypr_model_export_onnx_flags()). ypr_model_load() reads the
 *  file back with outputs unchanged. Written to a temporary name, flushed,
 *  then renamed.
 *  @return YPR_OK; YPR_EINVAL (NULL); YPR_ESHAPE (the input size does not
 *  fit the net); YPR_ERANGE (more than ONNX's 2 GiB); YPR_EIO (naming the
 *  file); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_export_onnx(const ypr_model *model, const char *path);
/** Flags of ypr_model_export_onnx_flags() (bits, never renumbered). */
typedef enum ypr_export_flag {
    YPR_EXPORT_INT8  = 1,  /**< require the QDQ form: the model must be quantized */
    YPR_EXPORT_FLOAT = 2   /**< a quantized model as plain float ops: its weights (on their
                           *   grid) without QuantizeLinear/DequantizeLinear */
} ypr_export_flag;
/** As ypr_model_export_onnx(), which writes a quantized model (one made by
 *  ypr_quantizer_quantize(), or loaded from one) in ONNX's QDQ form:
 *  QuantizeLinear + DequantizeLinear on every quantized value, INT8 weight
 *  initializers (per tensor, or per output channel along axis 0) and INT32
 *  biases read through DequantizeLinear (docs/onnx.md); @p flags 0 does the same.
 *  @param flags 0, #YPR_EXPORT_INT8 or #YPR_EXPORT_FLOAT
 *  @return as ypr_model_export_onnx(); YPR_EINVAL also for unknown or both
 *  flags, and for #YPR_EXPORT_INT8 on a model without quantization steps. @since 0.1 */
YPR_API int ypr_model_export_onnx_flags(const ypr_model *model, const char *path,
                                        unsigned flags);
/** Which execution plan the model's last forward pass (ypr_model_forward(),
 *  ypr_model_detect(), the evaluator) ran, and on which kernel set:
 *  "int8 (SET)" (a quantized model on the INT8 runtime, SET its INT8
 *  kernel set, e.g. "avx2", "avx512vnni", "neondot"), "float simulation
 *  (SET)" (a quantized model on the float fake-quant plan: YPR_INT8=0, or a
 *  net the INT8 runtime cannot run) or "float (SET)" (a float model), SET
 *  then the float kernel set (ypr_simd_active()); "none" before any pass or
 *  for NULL. @return a string owned by the model, valid until its next
 *  forward pass or ypr_model_free(). @since 0.1 */
YPR_API const char *ypr_model_plan_name(const ypr_model *model);

/* --------------------------------------------------- tensor dtypes and info */

/** Element type of a model tensor (ypr_tensor_info::dtype; never renumbered).
 *  A quantized tensor (I8, I32) also has a float view holding exactly
 *  (q − zero_point)·scale, what ypr_model_tensor() returns. @since 0.1 */
typedef enum ypr_dtype {
    YPR_DTYPE_F32 = 0,   /**< float32 */
    YPR_DTYPE_I8 = 1,    /**< int8 with scales and zero points (quantized weights) */
    YPR_DTYPE_I32 = 2    /**< int32 with scales and zero points (quantized biases) */
} ypr_dtype;

/** What ypr_model_tensor_info() tells about one tensor. Size-prefixed: the
 *  caller sets @c struct_size to `sizeof(ypr_tensor_info)` of the header it
 *  was compiled with; the library fills the fields that fit in that many
 *  bytes (a program built against an older, smaller struct gets the fields
 *  it knows) and never writes past it. Fields are only ever added at the
 *  end. Pointers stay valid until the model changes. @since 0.1 */
typedef struct ypr_tensor_info {
    size_t struct_size;         /**< set by the caller: sizeof(ypr_tensor_info) */
    const char *name;           /**< PyTorch state_dict key */
    int dtype;                  /**< #ypr_dtype */
    int ndim;                   /**< 0..6 */
    int64_t shape[6];           /**< ndim dimensions, the rest 0 */
    int64_t numel;              /**< elements */
    const void *data;           /**< numel values in dtype: float, int8_t or int32_t */
    const float *fdata;         /**< the float view, numel floats (data itself for F32) */
    int is_buffer;              /**< 1: a buffer (running statistics, anchors), not a parameter */
    int axis;                   /**< per-channel axis (0), or -1 (per tensor, or F32) */
    int64_t nscales;            /**< 0 (F32), 1 (per tensor) or shape[axis] (per channel) */
    float scale;                /**< per-tensor scale (the first channel's when per channel); 0 for F32 */
    int32_t zero_point;         /**< per-tensor zero point (the first channel's) */
    const float *scales;        /**< nscales scales, NULL for F32 */
    const int32_t *zero_points; /**< nscales zero points, NULL for F32 */
} ypr_tensor_info;

/** The smallest struct_size ypr_model_tensor_info() accepts: up to and
 *  including @c fdata. @since 0.1 */
#define YPR_TENSOR_INFO_MIN_SIZE (offsetof(ypr_tensor_info, fdata) + sizeof(const float *))

/** Describe the tensor named @p name (a PyTorch state_dict key): dtype,
 *  shape, its values in their dtype and as floats, scales and zero points.
 *  @param info  its struct_size set by the caller (see #ypr_tensor_info)
 *  @return YPR_OK; YPR_EINVAL (NULL, or struct_size below
 *  #YPR_TENSOR_INFO_MIN_SIZE or above 65536); YPR_ENOTFOUND (no tensor of that name). @since 0.1 */
YPR_API int ypr_model_tensor_info(const ypr_model *model, const char *name,
                                  ypr_tensor_info *info);
/** The same for tensor @p i (0 ≤ i < ypr_model_num_tensors()).
 *  @return YPR_OK; YPR_EINVAL (as ypr_model_tensor_info()); YPR_ERANGE (@p i). @since 0.1 */
YPR_API int ypr_model_tensor_info_at(const ypr_model *model, int i, ypr_tensor_info *info);

/* ---------------------------------------------------------------- detection */

/** Model settings (enum keys, never renumbered). */
typedef enum ypr_model_setting {
    YPR_MODEL_CONF_THRESHOLD = 100, /**< float, default 0.25 (objectness × class) */
    YPR_MODEL_IOU_THRESHOLD  = 101, /**< float, NMS IoU, default 0.45 */
    YPR_MODEL_MAX_DET        = 102, /**< int, default 300 */
    YPR_MODEL_MULTI_LABEL    = 103, /**< int 0/1, default 0: one class per box */
    YPR_MODEL_AGNOSTIC_NMS   = 104, /**< int 0/1, default 0: NMS per class */
    YPR_MODEL_INPUT_SIZE     = 105  /**< int, square letterbox size, multiple of 32, default 640 */
} ypr_model_setting;

/** @return YPR_OK; YPR_EINVAL (not a float key); YPR_ERANGE. @since 0.1 */
YPR_API int ypr_model_set_float(ypr_model *model, int key, double value);
/** @return YPR_OK; YPR_EINVAL (not an int key); YPR_ERANGE. @since 0.1 */
YPR_API int ypr_model_set_int(ypr_model *model, int key, int64_t value);
/** @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_model_get_float(const ypr_model *model, int key, double *value);
/** @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_model_get_int(const ypr_model *model, int key, int64_t *value);

/** Detect objects in an RGB8 image (row-major, 3 bytes a pixel): letterbox
 *  to the input size (pad 114), forward, decode as YOLOv7, confidence
 *  filter, NMS, boxes mapped back to the image and clipped.
 *  @param dets      receives up to @p capacity rows of 6 floats:
 *                   x1, y1, x2, y2 (pixels), confidence, class index
 *  @param count     receives the number of rows written
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_detect(ypr_model *model, const uint8_t *rgb, int width, int height,
                             float *dets, int capacity, int *count);

/** Decode image @p image of the last forward pass with the model's detection
 *  settings (confidence, NMS IoU, multi-label, agnostic, max detections):
 *  rows x1, y1, x2, y2, conf, class in the network input's pixels (no
 *  letterbox undone) — for hosts that do their own pre-processing.
 *  @return YPR_OK; YPR_ESTATE (no forward yet); YPR_ERANGE (image). @since 0.1 */
YPR_API int ypr_model_decode(const ypr_model *model, int image, float *dets, int capacity,
                             int *count);

/* ------------------------------------------------------------------ images */

/** Decode a JPEG or PNG (by its content) into RGB8; free *rgb with ypr_free().
 *  Limits: docs/input.md. @return YPR_OK; YPR_ENOTFOUND (no such file);
 *  YPR_EIO (unreadable, or not a regular file); YPR_EFORMAT (corrupt,
 *  truncated, or a header its data cannot hold, naming the file);
 *  YPR_ERANGE (too large). @since 0.1 */
YPR_API int ypr_image_load(const char *path, uint8_t **rgb, int *width, int *height);
/** Write RGB8 as PNG (temporary name, flush, rename). @return YPR_OK; YPR_EIO. @since 0.1 */
YPR_API int ypr_image_save_png(const char *path, const uint8_t *rgb, int width, int height);
/** Draw detection rows (as from ypr_model_detect()) with class-coloured
 *  boxes and "name conf" labels; @p names may be NULL.
 *  @return YPR_OK; YPR_EINVAL (NULL image, sizes below 1, n < 0, NULL
 *  @p dets with n > 0). @since 0.1 */
YPR_API int ypr_image_draw_detections(uint8_t *rgb, int width, int height, const float *dets,
                                      int n, const char *const *names, int nnames);
/** Free memory the library returned. @since 0.1 */
YPR_API void ypr_free(void *p);
/** A per-layer table (cfg layer, node kinds, tensors, parameters, output
 *  shape, conv MACs) for an @p h × @p w input, as text; free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ESHAPE; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_model_summary(const ypr_model *model, int h, int w, char **text);

/* ---------------------------------------------------------------- datasets */

/** How label problems are handled when a dataset is opened. */
typedef enum ypr_dataset_policy {
    YPR_DATASET_STRICT = 0,   /**< the first problem fails the open (file and line named) */
    YPR_DATASET_SKIP   = 1    /**< skip the image, warn through the log hook, count it */
} ypr_dataset_policy;

/** Open a detection dataset: a YOLOv7 data `.yaml` (@p split is "train", "val"
 *  or "test": image folders, lists of folders or `.txt` image lists; `nc`,
 *  `names`), a folder of images (labels from the parallel `labels/` folder),
 *  or a Pascal VOC tree (Annotations/, ImageSets/Main/<split>.txt,
 *  JPEGImages/). YOLO labels are `class cx cy w h` lines (normalized).
 *  Every image's header is read at open. Under YPR_DATASET_SKIP, an image
 *  with a problem (image or labels) is skipped, counted and logged as a
 *  warning; a dataset left without images fails. Limits: docs/input.md.
 *  @return YPR_OK; YPR_EIO (unreadable, or not a regular file);
 *  YPR_EFORMAT (naming the file and line); YPR_ENOTFOUND (missing key,
 *  split, image or Annotations/ folder); YPR_ERANGE (beyond a limit);
 *  YPR_EUNSUPPORTED (a YAML alias `*name`). @since 0.1 */
YPR_API int ypr_dataset_open(const char *path, const char *split, int policy, ypr_dataset **out);
/** The built-in synthetic detection dataset, deterministic from @p seed:
 *  textured backgrounds and objects of @p classes kinds (shapes and colours)
 *  of varied size, aspect and overlap, @p size × @p size pixels, labels exact.
 *  Images are rendered on demand, nothing is written to disk (see
 *  ypr_dataset_write_yolo()).
 *  @return YPR_OK; YPR_EINVAL (count 1..1000000, size 32..4096, classes 1..80). @since 0.1 */
YPR_API int ypr_dataset_synth(int count, int size, int classes, uint64_t seed, ypr_dataset **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_dataset_free(ypr_dataset *ds);
/** @return the number of images (after skips). @since 0.1 */
YPR_API int ypr_dataset_count(const ypr_dataset *ds);
/** @return the number of classes. @since 0.1 */
YPR_API int ypr_dataset_num_classes(const ypr_dataset *ds);
/** @return class @p i's name ("" if unnamed); NULL for a bad index, with
 *  ypr_last_error() set. @since 0.1 */
YPR_API const char *ypr_dataset_class_name(const ypr_dataset *ds, int i);
/** @return how many images were skipped when opening (policy SKIP). @since 0.1 */
YPR_API int ypr_dataset_num_skipped(const ypr_dataset *ds);
/** Decode image @p i as RGB8; free *rgb with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ERANGE (index); YPR_EIO, YPR_EFORMAT
 *  (the image file, named); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_dataset_image(const ypr_dataset *ds, int i, uint8_t **rgb, int *width, int *height);
/** Labels of image @p i: up to @p capacity rows of 6 floats
 *  `class, x1, y1, x2, y2, difficult` in pixels of the image; *count gets
 *  the total (may exceed capacity).
 *  @return YPR_OK; YPR_EINVAL; YPR_ERANGE (index); YPR_EFORMAT (the image's
 *  size is unknown, naming it); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_dataset_labels(const ypr_dataset *ds, int i, float *rows, int capacity, int *count);
/** @return the path of image @p i ("" for synthetic images); NULL for a bad
 *  index, with ypr_last_error() set. @since 0.1 */
YPR_API const char *ypr_dataset_image_path(const ypr_dataset *ds, int i);
/** Write the dataset as a YOLO dataset: PNG images under OUT/images/val/,
 *  label files under OUT/labels/val/ and OUT/data.yaml (written last).
 *  @p out_dir must be a new folder (made with its missing parents) or an
 *  empty one: nothing already there is replaced or deleted. A failed write
 *  removes what it wrote and the folders it made.
 *  @return YPR_OK; YPR_EINVAL (NULL or empty argument); YPR_ESTATE (@p out_dir
 *  is not empty: the message names it and an entry); YPR_EIO (not a folder,
 *  cannot create or write); YPR_ERANGE (more than 10^6 images); YPR_ENOMEM;
 *  an error of ypr_dataset_image() (an image that no longer decodes). @since 0.1 */
YPR_API int ypr_dataset_write_yolo(const ypr_dataset *ds, const char *out_dir);
/** Why an image was skipped when a dataset was opened with YPR_DATASET_SKIP. */
typedef enum ypr_dataset_skip_reason {
    YPR_DATASET_SKIPPED_IMAGE  = 1, /**< image missing, not a regular file, or header unreadable */
    YPR_DATASET_SKIPPED_LABELS = 2  /**< label file or annotation problem */
} ypr_dataset_skip_reason;
/** How many images were skipped for @p reason (a ypr_dataset_skip_reason);
 *  the sum over the reasons is ypr_dataset_num_skipped().
 *  @return the count (≥ 0); YPR_EINVAL (NULL dataset, unknown reason). @since 0.1 */
YPR_API int ypr_dataset_num_skipped_for(const ypr_dataset *ds, int reason);
/** As ypr_dataset_write_yolo(), with the images as JPEG (libjpeg-turbo,
 *  @p quality 1..100, NNNNNN.jpg) as real datasets ship them; quality 0
 *  writes PNG. @return as ypr_dataset_write_yolo(); YPR_ERANGE (quality).
 *  @since 0.1 */
YPR_API int ypr_dataset_write_yolo_jpeg(const ypr_dataset *ds, const char *out_dir, int quality);

/* -------------------------------------------------------------- evaluation */

/** Progress of a long call: @p done of @p total; return nonzero to cancel
 *  (the call then fails with YPR_ECANCELED). */
typedef int (*ypr_progress_fn)(void *user, int64_t done, int64_t total);

/** Evaluator settings (enum keys, never renumbered). */
typedef enum ypr_eval_setting {
    YPR_EVAL_CONF_THRESHOLD = 400, /**< float, default 0.001 (YOLOv7 test.py) */
    YPR_EVAL_IOU_THRESHOLD  = 401, /**< float, NMS IoU, default 0.65 */
    YPR_EVAL_MAX_DET        = 402, /**< int, default 300 */
    YPR_EVAL_METRIC         = 403, /**< int: 0 YOLOv7's matching (default), 1 COCO's */
    YPR_EVAL_INPUT_SIZE     = 404, /**< int, default 640 */
    YPR_EVAL_BATCH          = 405, /**< int, default 1 */
    YPR_EVAL_MULTI_LABEL    = 406, /**< int 0/1, default 1 */
    YPR_EVAL_MAX_IMAGES     = 407, /**< int, 0 (default) = all */
    YPR_EVAL_RECT           = 408, /**< int 0/1, default 1: YOLOv7 test.py's rectangular batches:
                                        images sorted by aspect ratio, each batch letterboxed to
                                        ceil(shape·size/stride + 0.5)·stride (a square image at
                                        640 on 672 × 672); 0: size × size */
    YPR_EVAL_CAP_CANVAS     = 409  /**< int 0/1, default 0; 1: no canvas side exceeds the
                                        input size (test.py's reach past it) */
} ypr_eval_setting;

/** What ypr_evaluator_get() reads. */
typedef enum ypr_eval_value {
    YPR_EVAL_IMAGES = 0, YPR_EVAL_LABELS = 1, YPR_EVAL_P = 2, YPR_EVAL_R = 3,
    YPR_EVAL_MAP50 = 4, YPR_EVAL_MAP = 5
} ypr_eval_value;

/** An evaluator of @p model (NULL: score detections added by the host) on
 *  the ground truth of @p ds (both must outlive it).
 *  @return YPR_OK; YPR_EINVAL (class counts disagree, naming both). @since 0.1 */
YPR_API int ypr_evaluator_create(ypr_model *model, const ypr_dataset *ds, ypr_evaluator **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_evaluator_free(ypr_evaluator *e);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE. @since 0.1 */
YPR_API int ypr_evaluator_set_float(ypr_evaluator *e, int key, double value);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE. @since 0.1 */
YPR_API int ypr_evaluator_set_int(ypr_evaluator *e, int key, int64_t value);
/** Progress callback for ypr_evaluator_run(), called after each batch.
 *  @return YPR_OK; YPR_EINVAL (NULL handle). @since 0.1 */
YPR_API int ypr_evaluator_set_progress(ypr_evaluator *e, ypr_progress_fn fn, void *user);
/** Run the model over the dataset and compute the metrics. The model's
 *  settings and tensors are not changed (the evaluator decodes with its own
 *  thresholds); only its cached execution plans are.
 *  @return YPR_OK; YPR_ESTATE (no model); YPR_ENOTFOUND (no images to
 *  evaluate); YPR_ECANCELED; errors of image decoding (naming the file). @since 0.1 */
YPR_API int ypr_evaluator_run(ypr_evaluator *e);
/** Score detections made elsewhere: rows x1, y1, x2, y2, conf, class in
 *  pixels of dataset image @p image, taken as given (no second NMS). Call
 *  ypr_evaluator_compute() after the last image.
 *  @return YPR_OK; YPR_EINVAL (a bad row: box, confidence or class, named);
 *  YPR_ERANGE (image); YPR_ESTATE (the image was given twice); YPR_EFORMAT
 *  (its labels); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_evaluator_add_detections(ypr_evaluator *e, int image, const float *dets, int n);
/** Compute metrics from the added detections (images without any count as
 *  misses). @return YPR_OK; YPR_EINVAL; YPR_ENOTFOUND (the dataset has no
 *  images); YPR_EFORMAT (an image's labels); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_evaluator_compute(ypr_evaluator *e);
/** Read one `<image stem>.txt` per image from @p dir, in the layout YOLOv7's
 *  `detect.py --save-txt --save-conf` writes (`class cx cy w h conf`,
 *  normalized), add them and compute. Files must be regular files of at most
 *  16 MiB with at most 4096 detections each.
 *  @return YPR_OK; YPR_EFORMAT (naming the file and line); YPR_ERANGE (too
 *  large, naming the file); YPR_ENOTFOUND (@p dir is not a folder, no file
 *  matched, or the dataset has no images). @since 0.1 */
YPR_API int ypr_evaluator_read_detections(ypr_evaluator *e, const char *dir);
/** A result: @p cls -1 for `all`. @return YPR_OK; YPR_ESTATE; YPR_ERANGE. @since 0.1 */
YPR_API int ypr_evaluator_get(const ypr_evaluator *e, int cls, int what, double *value);
/** Mean ms per image: inference, NMS, total (zeros before a run).
 *  @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_evaluator_speed(const ypr_evaluator *e, double ms[3]);
/** YOLOv7's results table (`Class Images Labels P R mAP@.5 mAP@.5:.95`, `all`
 *  first) and Speed line; free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ESTATE (nothing evaluated yet); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_evaluator_table(const ypr_evaluator *e, char **text);
/** The results as JSON; free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ESTATE (nothing evaluated yet); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_evaluator_json(const ypr_evaluator *e, char **text);
/** Write PR_curve.png and confusion_matrix.png into @p dir (created).
 *  @return YPR_OK; YPR_EINVAL; YPR_ESTATE (nothing evaluated yet); YPR_EIO
 *  (naming the path); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_evaluator_save_plots(const ypr_evaluator *e, const char *dir);

/* ---------------------------------------------------------------- trainer */

/** Trainer settings (enum keys 300–399, never renumbered). YOLOv7's
 *  hyper-parameters (lr0, momentum, box, mosaic …) are set by name with
 *  ypr_trainer_set_hyp() or from a hyp file with ypr_trainer_load_hyp(). */
typedef enum ypr_train_setting {
    YPR_TRAIN_EPOCHS        = 300, /**< int ≥ 1, default 300 (train.py) */
    YPR_TRAIN_BATCH         = 301, /**< int in 1..1024, default 16 */
    YPR_TRAIN_SIZE          = 302, /**< int: square training size, a multiple of 32, default: the model's input size */
    YPR_TRAIN_WORKERS       = 303, /**< int in 1..64: loader threads (decode + augment), default 2; results never depend on it */
    YPR_TRAIN_SEED          = 304, /**< int, default 0: augmentation and shuffling */
    YPR_TRAIN_LOSS          = 305, /**< int ypr_train_loss, default: the hyp's loss_ota (1: OTA) */
    YPR_TRAIN_LINEAR_LR     = 306, /**< int 0/1, default 0: one-cycle cosine to lrf; 1: linear */
    YPR_TRAIN_EMA           = 307, /**< int 0/1, default 1: keep YOLOv7's EMA of the weights (evaluated and saved) */
    YPR_TRAIN_EVAL          = 308, /**< int 0/1, default 1: evaluate after each epoch (needs a val dataset) */
    YPR_TRAIN_NOMINAL_BATCH = 309, /**< int ≥ 1, default 64: gradients accumulate up to this many images */
    YPR_TRAIN_FREEZE        = 310, /**< int ≥ 0, default 0: freeze cfg layers model.0 … model.(k-1) */
    YPR_TRAIN_AUGMENT       = 311, /**< int 0/1, default 1: mosaic, affine, HSV, flips, mixup (0: letterbox only) */
    YPR_TRAIN_EVAL_IMAGES   = 312, /**< int ≥ 0, default 0 (all): val images scored per epoch */
    YPR_TRAIN_HYP_PRESET    = 313, /**< int ypr_hyp_preset: reset every hyper-parameter to a built-in set */
    YPR_TRAIN_DISTILL       = 314, /**< float ≥ 0, default 1 when a teacher is set: weight of the distillation term */
    YPR_TRAIN_SPARSITY      = 315, /**< int: -1 (default) none, or a ypr_regularizer applied every step */
    YPR_TRAIN_SPARSITY_LAMBDA = 316, /**< float ≥ 0, default 1e-4: the regularizer's λ */
    YPR_TRAIN_PRUNE_STEPS   = 317, /**< int ≥ 0, default 0: prune while training in this many steps (see ypr_trainer_set_pruner) */
    YPR_TRAIN_PRUNE_EVERY   = 318  /**< int ≥ 1, default 1: training epochs before each pruning step */
} ypr_train_setting;

/** Losses for YPR_TRAIN_LOSS. */
typedef enum ypr_train_loss {
    YPR_LOSS_SIMPLE = 0,   /**< YOLOv7's ComputeLoss */
    YPR_LOSS_OTA = 1       /**< YOLOv7's ComputeLossOTA (dynamic-k assignment) */
} ypr_train_loss;

/** Built-in hyper-parameter sets (YOLOv7's data/hyp.scratch.*.yaml). */
typedef enum ypr_hyp_preset {
    YPR_HYP_SCRATCH_P5 = 0,
    YPR_HYP_SCRATCH_TINY = 1
} ypr_hyp_preset;

/** What the progress callback and ypr_trainer_result() report (indices
 *  into the value array). */
typedef enum ypr_train_value {
    YPR_TV_BOX = 0, YPR_TV_OBJ = 1, YPR_TV_CLS = 2, YPR_TV_TOTAL = 3,  /**< loss items (running means over the epoch) */
    YPR_TV_LR = 4,               /**< learning rate of the weights group */
    YPR_TV_IMAGES_PER_SEC = 5,   /**< training throughput so far this epoch (loading included) */
    YPR_TV_P = 6, YPR_TV_R = 7, YPR_TV_MAP50 = 8, YPR_TV_MAP = 9,  /**< after an epoch's evaluation (NaN if none) */
    YPR_TV_FITNESS = 10,         /**< 0.1·mAP@0.5 + 0.9·mAP@0.5:0.95 */
    YPR_TV_SECONDS = 11,         /**< wall time of the epoch */
    YPR_TV_COUNT_ = 12
} ypr_train_value;

/** Progress of training, called after every batch: @p epoch (0-based) of
 *  @p epochs, batch @p iter of @p iters, @p values indexed by
 *  ypr_train_value (YPR_TV_COUNT_ entries). Return nonzero to cancel. */
typedef int (*ypr_train_fn)(void *user, int epoch, int epochs, int iter, int iters,
                            const double *values);

/** A trainer of @p model on @p train, evaluated on @p val (may be NULL: no
 *  per-epoch evaluation). The model is trained in place (its net, pruned or
 *  not, is the one that trains); both datasets must outlive the trainer.
 *  A model from ypr_quantizer_quantize() trains quantization-aware: the
 *  forward applies its weight, bias and activation steps (frozen), the
 *  gradient passes where a value was not clipped (straight-through
 *  estimator); ypr_quantizer_convert() then rounds the trained weights.
 *  @return YPR_OK; YPR_EINVAL (class counts of model and data disagree,
 *  naming both; a fused model); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_trainer_create(ypr_model *model, const ypr_dataset *train,
                               const ypr_dataset *val, ypr_trainer **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_trainer_free(ypr_trainer *trainer);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value). @since 0.1 */
YPR_API int ypr_trainer_set_int(ypr_trainer *trainer, int key, int64_t value);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value). @since 0.1 */
YPR_API int ypr_trainer_set_float(ypr_trainer *trainer, int key, double value);
/** @return YPR_OK; YPR_EINVAL (key or NULL). @since 0.1 */
YPR_API int ypr_trainer_get_int(const ypr_trainer *trainer, int key, int64_t *value);
/** Set one YOLOv7 hyper-parameter by its hyp.yaml key ("lr0", "mosaic" …).
 *  @return YPR_OK; YPR_ENOTFOUND (unknown key); YPR_ERANGE. @since 0.1 */
YPR_API int ypr_trainer_set_hyp(ypr_trainer *trainer, const char *key, double value);
/** @return YPR_OK; YPR_ENOTFOUND (unknown key). @since 0.1 */
YPR_API int ypr_trainer_get_hyp(const ypr_trainer *trainer, const char *key, double *value);
/** Read a YOLOv7 hyp.*.yaml over the current values (all or nothing).
 *  @return YPR_OK; YPR_ENOTFOUND; YPR_EFORMAT/YPR_ERANGE naming file:line. @since 0.1 */
YPR_API int ypr_trainer_load_hyp(ypr_trainer *trainer, const char *path);
/** Write last.safetensors (after every epoch), best.safetensors (best
 *  fitness), results.csv and results.png into @p dir (created if missing;
 *  NULL: write nothing). Checkpoints are written atomically; each loads with
 *  ypr_model_load() (EMA weights, as YOLOv7's attempt_load) and resumes with
 *  ypr_trainer_resume(). @return YPR_OK; YPR_EIO (naming the folder). @since 0.1 */
YPR_API int ypr_trainer_set_output(ypr_trainer *trainer, const char *dir);
/** Progress callback (NULL to remove). @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_trainer_set_callback(ypr_trainer *trainer, ypr_train_fn fn, void *user);
/** Knowledge distillation from @p teacher (same classes, levels and
 *  anchors; only run forward; must outlive the trainer; NULL removes it).
 *  @return YPR_OK; YPR_EINVAL (NULL trainer, or the heads disagree, named). @since 0.1 */
YPR_API int ypr_trainer_set_teacher(ypr_trainer *trainer, ypr_model *teacher);
/** Prune while training (with YPR_TRAIN_PRUNE_STEPS K > 0): train
 *  PRUNE_EVERY epochs, call ypr_pruner_step() on @p pruner, and so on K
 *  times (before epochs E, 2E … K·E, E = PRUNE_EVERY), then fine-tune the
 *  remaining epochs (EPOCHS must exceed K·E). The pruner is built on the
 *  trainer's model with its STEPS set to K and its ratio or MAC target; the
 *  trainer feeds it the gradients of every optimizer step (the Taylor
 *  criterion's input) and continues on the smaller net (optimizer state and
 *  EMA start over at each cut).
 *  Sparse training (YPR_TRAIN_SPARSITY) also uses this pruner's groups when
 *  set. @return YPR_OK; YPR_EINVAL (a pruner of another model). @since 0.1 */
YPR_API int ypr_trainer_set_pruner(ypr_trainer *trainer, ypr_pruner *pruner);
/** Continue a run from a checkpoint written by this trainer's output
 *  (weights, EMA, optimizer state, epoch, results, hyper-parameters and
 *  settings). With one thread, a resumed run ends bit-identical to an
 *  uninterrupted one. A quantization-aware run resumes on a model
 *  with its steps (ypr_model_load() of the checkpoint); its I8 / I32 tensors
 *  keep their dtype, scales and zero points. @return YPR_OK; YPR_EFORMAT
 *  (not a trainer checkpoint, named); YPR_ESHAPE (another net, or other
 *  quantization steps than the checkpoint's run, the node named);
 *  YPR_ESTATE (already running). @since 0.1 */
YPR_API int ypr_trainer_resume(ypr_trainer *trainer, const char *checkpoint);
/** Train the remaining epochs. On success the model holds the final (EMA)
 *  weights. On YPR_ECANCELED, YPR_ENONFINITE (a non-finite loss or
 *  gradient; the message names epoch and batch) or another error, the model
 *  holds the weights of the last completed epoch (the same as
 *  last.safetensors, or its starting weights) and the checkpoints written so
 *  far are left in place. @return YPR_OK; YPR_ECANCELED; YPR_ENONFINITE;
 *  errors of data loading (naming the file). @since 0.1 */
YPR_API int ypr_trainer_run(ypr_trainer *trainer);
/** One optimizer step on a caller's batch: @p images [n, 3, size, size]
 *  RGB in [0, 1], @p targets [nt, 6] rows (image, class, x, y, w, h
 *  normalized). Forward, loss, backward and an SGD update with the current
 *  learning rate (no accumulation, no EMA). @p loss receives box, obj, cls
 *  and the total (may be NULL). @return YPR_OK; YPR_EINVAL (a bad target
 *  row, named); YPR_ENONFINITE. @since 0.1 */
YPR_API int ypr_trainer_step(ypr_trainer *trainer, const float *images, int n, int size,
                             const float *targets, int64_t nt, double loss[4]);
/** @return the number of completed epochs (≥ 0), or a negative status. @since 0.1 */
YPR_API int ypr_trainer_epochs_done(const ypr_trainer *trainer);
/** A result of completed epoch @p epoch: a ypr_train_value.
 *  @return YPR_OK; YPR_ERANGE (epoch or what). @since 0.1 */
YPR_API int ypr_trainer_result(const ypr_trainer *trainer, int epoch, int what, double *value);
/** Memory held by the training state in bytes: parts[0] saved activations,
 *  [1] gradient buffers, [2] parameter gradients, [3] optimizer state
 *  (momentum), [4] EMA copy, [5] other (packed weights, scratch, loss);
 *  any may be 0 before the first step. @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_trainer_memory(const ypr_trainer *trainer, int64_t parts[6]);
/** Any setting as a float (integer settings converted).
 *  @return YPR_OK; YPR_EINVAL (key or NULL). @since 0.1 */
YPR_API int ypr_trainer_get_float(const ypr_trainer *trainer, int key, double *value);

/* ------------------------------------------------------- dependency graph */

/** Build the groups of coupled channels of @p model (channels that must be
 *  removed together: a conv's outputs, the BatchNorm and implicit vectors on
 *  them, every consumer conv's input columns, through concats, adds and
 *  reorgs). The graph is tied to the model; it must be rebuilt after the
 *  model changes by other means than ypr_depgraph_prune_group().
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_depgraph_build(ypr_model *model, ypr_depgraph **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_depgraph_free(ypr_depgraph *graph);
/** @return the number of groups; YPR_ESTATE if the model changed. @since 0.1 */
YPR_API int ypr_depgraph_num_groups(const ypr_depgraph *graph);
/** Channels of a group and whether it may be pruned (the image's channels,
 *  the detect head's outputs and grouped convolutions are fixed).
 *  @return YPR_OK; YPR_ERANGE; YPR_ESTATE. @since 0.1 */
YPR_API int ypr_depgraph_group_info(const ypr_depgraph *graph, int group, int64_t *channels,
                                    int *prunable);
/** Text listing every member (tensor, axis, index range) of @p group, or of
 *  all groups when @p group is -1; free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ERANGE (group); YPR_ESTATE (the model
 *  changed); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_depgraph_describe(const ypr_depgraph *graph, int group, char **text);
/** The net as a Graphviz dot graph with each conv's group; free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ESTATE (the model changed); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_depgraph_dot(const ypr_depgraph *graph, char **text);
/** Remove channels (indices into the group, any order, unique, fewer than
 *  all) from every tensor of @p group; the model physically shrinks and the
 *  graph is rebuilt (group numbers may change). Checked before anything is
 *  cut: on failure the model is unchanged.
 *  @return YPR_OK; YPR_EINVAL (fixed group, bad indices); YPR_ERANGE;
 *  YPR_ESTATE; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_depgraph_prune_group(ypr_depgraph *graph, int group, const int64_t *channels,
                                     int64_t n);
/** Hardware legality for a DPU (or SIMD unit) that processes @p lanes
 *  channels at once: every conv whose input or output width wastes lanes,
 *  and the share of MACs spent on padding lanes at @p size × @p size. Free
 *  the text with ypr_free(). @return YPR_OK; YPR_ERANGE; YPR_ESTATE. @since 0.1 */
YPR_API int ypr_depgraph_lane_report(const ypr_depgraph *graph, int lanes, int size, char **text);

/* ------------------------------------------------------------------ pruner */

/** Importance criteria. */
typedef enum ypr_criterion {
    YPR_CRITERION_RANDOM = 0, YPR_CRITERION_L1 = 1, YPR_CRITERION_L2 = 2,
    YPR_CRITERION_LAMP = 3, YPR_CRITERION_BN_SCALE = 4, YPR_CRITERION_FPGM = 5,
    YPR_CRITERION_TAYLOR = 6   /**< first-order Taylor Σ|w·g|: needs ypr_pruner_add_gradient() */
} ypr_criterion;
/** Sparse-training regularizers for ypr_pruner_regularize(). */
typedef enum ypr_regularizer {
    YPR_REG_BN_L1 = 0,       /**< network slimming: λ·sign(γ) on BatchNorm scales */
    YPR_REG_GROUP_NORM = 1   /**< group norm: λ·w / ‖channel‖₂ over each whole group */
} ypr_regularizer;
/** How a group's member scores are combined. */
typedef enum ypr_reduction {
    YPR_REDUCE_MEAN = 0, YPR_REDUCE_SUM = 1, YPR_REDUCE_MAX = 2, YPR_REDUCE_FIRST = 3
} ypr_reduction;
/** How a group's scores are normalized (LAMP always uses YPR_NORM_LAMP). */
typedef enum ypr_normalizer {
    YPR_NORM_NONE = 0, YPR_NORM_MEAN = 1, YPR_NORM_MAX = 2, YPR_NORM_SUM = 3, YPR_NORM_LAMP = 4
} ypr_normalizer;
/** Pruner settings (enum keys 200–299, never renumbered). */
typedef enum ypr_prune_setting {
    YPR_PRUNE_RATIO           = 200, /**< float in [0, 1): fraction of each group's channels, default 0.25 */
    YPR_PRUNE_CRITERION       = 201, /**< int ypr_criterion, default L2 */
    YPR_PRUNE_GLOBAL          = 202, /**< int 0/1: one ranking over all groups, default 0 */
    YPR_PRUNE_ROUND_TO        = 203, /**< int: kept channels a multiple of this, default 1 */
    YPR_PRUNE_STEPS           = 204, /**< int: iterative steps (linear schedule), default 1 */
    YPR_PRUNE_MAX_LAYER_RATIO = 205, /**< float in (0, 1]: cap per group, default 1 */
    YPR_PRUNE_SEED            = 206, /**< int: for the random criterion */
    YPR_PRUNE_REDUCTION       = 207, /**< int ypr_reduction, default mean */
    YPR_PRUNE_NORMALIZER      = 208, /**< int ypr_normalizer, default mean */
    YPR_PRUNE_REPORT_SIZE     = 209, /**< int: image size for MAC reports and MAC targets, default 640 */
    YPR_PRUNE_TARGET_MACS     = 210, /**< int: prune until conv MACs at the report size fall to this (local widths; replaces the ratio) */
    YPR_PRUNE_TARGET_PARAMS   = 211, /**< int: prune until parameters fall to this (local widths; replaces the ratio) */
    YPR_PRUNE_CLAMP_WIDTHS    = 212  /**< int 0/1, default 0 (Torch-Pruning 1.6.1: a group whose rounded selection would remove all its channels is left whole). 1: it keeps its best round_to channels, and no group loses more than MAX_LAYER_RATIO of its original width in a step (global ranking too). @since 0.1 */
} ypr_prune_setting;

/** A pruner over @p graph (and its model).
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_pruner_create(ypr_depgraph *graph, ypr_pruner **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_pruner_free(ypr_pruner *pruner);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value). @since 0.1 */
YPR_API int ypr_pruner_set_float(ypr_pruner *pruner, int key, double value);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value). @since 0.1 */
YPR_API int ypr_pruner_set_int(ypr_pruner *pruner, int key, int64_t value);
/** Never prune groups produced by a layer whose node or tensor name matches
 *  the fnmatch pattern (e.g. "model.105.*").
 *  @return YPR_OK; YPR_ENOTFOUND (kept, but it matches nothing: also logged). @since 0.1 */
YPR_API int ypr_pruner_ignore(ypr_pruner *pruner, const char *pattern);
/** A ratio for the groups produced by layers matching @p pattern.
 *  @return YPR_OK; YPR_EINVAL (empty pattern); YPR_ERANGE (ratio outside
 *  [0, 1), or too many patterns); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_pruner_set_layer_ratio(ypr_pruner *pruner, const char *pattern, double ratio);
/** Advance one step of the schedule (step k of K prunes k/K of the ratio of
 *  the original widths): score, rank, cut. The model physically shrinks.
 *  @return YPR_OK; YPR_ESTATE (all steps done, or the model changed). @since 0.1 */
YPR_API int ypr_pruner_step(ypr_pruner *pruner);
/** @return the number of steps done. @since 0.1 */
YPR_API int ypr_pruner_steps_done(const ypr_pruner *pruner);
/** Parameters and MACs before/after and channels per layer, as text
 *  (@p json 0) or JSON (1); free with ypr_free().
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_pruner_report(const ypr_pruner *pruner, char **text, int json);
/** A PNG bar chart of each group's channels before and after pruning.
 *  @return YPR_OK; YPR_EIO (naming the file). @since 0.1 */
YPR_API int ypr_pruner_plot(const ypr_pruner *pruner, const char *path);
/** Accumulate the gradient of model tensor @p tensor (index as in
 *  ypr_model_tensor()) for the Taylor criterion; called by a trainer
 *  after each backward pass. @return YPR_OK; YPR_ERANGE; YPR_ESHAPE. @since 0.1 */
YPR_API int ypr_pruner_add_gradient(ypr_pruner *pruner, int tensor, const float *grad,
                                    int64_t numel);
/** Forget accumulated gradients. @return YPR_OK; YPR_EINVAL (NULL handle). @since 0.1 */
YPR_API int ypr_pruner_clear_gradients(ypr_pruner *pruner);
/** Sparse training: add the regularizer's gradient (λ, ypr_regularizer) to
 *  @p grads, one array per model tensor in model order (NULL entries are
 *  skipped), for the prunable, non-ignored groups.
 *  @return YPR_OK; YPR_EINVAL (NULL, unknown @p kind); YPR_ERANGE (λ < 0);
 *  YPR_ESTATE (the model changed); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_pruner_regularize(ypr_pruner *pruner, float *const *grads, double lambda,
                                  int kind);
/** Sensitivity analysis: prune each prunable group alone at each of
 *  @p ratios (increasing, in (0, 1)), measure mAP@0.5 on the first
 *  @p max_images images of @p val at @p size, and return the table as JSON
 *  (free with ypr_free()). When a MAC budget (YPR_PRUNE_TARGET_MACS) is set,
 *  also plan per-group ratios that meet it with the least predicted loss
 *  (greedy on mAP lost per MAC saved); the next ypr_pruner_step() uses them.
 *  The model is not changed. @return YPR_OK; YPR_ERANGE; YPR_ECANCELED. @since 0.1 */
YPR_API int ypr_pruner_sensitivity(ypr_pruner *pruner, const ypr_dataset *val, int size,
                                   int max_images, const double *ratios, int nratios,
                                   ypr_progress_fn progress, void *user, char **json);
/** A PNG of the last sensitivity table: mAP@0.5 drop per group and ratio.
 *  @return YPR_OK; YPR_ESTATE (no table yet); YPR_EIO. @since 0.1 */
YPR_API int ypr_pruner_plot_sensitivity(const ypr_pruner *pruner, const char *path);
/** The pruner's settings and progress as JSON (free with ypr_free()): every
 *  setting and pattern, the steps done, the widths at creation that its
 *  schedule is relative to, budget baselines and plan — what an
 *  interrupted iterative pruning needs to go on (ypr_pruner_load_state()).
 *  Accumulated gradients are not included (ypr_pruner_gradient()).
 *  @return YPR_OK; YPR_EINVAL; YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_pruner_save_state(const ypr_pruner *pruner, char **json);
/** Load a state from ypr_pruner_save_state() into a pruner built on the
 *  model as it is now (after the steps the state counts): its settings and
 *  progress become the state's. All or nothing.
 *  @return YPR_OK; YPR_EINVAL (NULL, or groups wider than the state's:
 *  another model); YPR_EFORMAT (malformed state, naming what). @since 0.1 */
YPR_API int ypr_pruner_load_state(ypr_pruner *pruner, const char *json);
/** The gradient accumulated for tensor @p tensor by
 *  ypr_pruner_add_gradient() (*grad NULL when none; valid until the next
 *  call that changes the pruner). @return YPR_OK; YPR_EINVAL; YPR_ERANGE. @since 0.1 */
YPR_API int ypr_pruner_gradient(const ypr_pruner *pruner, int tensor, const float **grad);

/* -------------------------------------------------------------- quantizer */

/** Quantization schemes (YPR_QUANT_SCHEME). */
typedef enum ypr_quant_scheme {
    /** Symmetric signed INT8 in the narrow range [-127, 127] with power-of-two
     *  steps per tensor for weights, biases and activations, as a Vitis-AI
     *  style DPU computes: LeakyReLU(0.1) runs with slope 26/256, weights and
     *  biases round half away from zero, activations half up (floor(x + 0.5),
     *  a hardware shift with rounding constant). */
    YPR_QSCHEME_DPU = 0,
    /** For CPUs: symmetric INT8 weights [-127, 127] with one float step per
     *  output channel (max |w| / 127), INT32 biases at the step of weight ×
     *  input, symmetric per-tensor INT8 activations [-128, 127] (zero point
     *  0); everything rounds half to even (as ONNX QuantizeLinear). */
    YPR_QSCHEME_PER_CHANNEL = 1
} ypr_quant_scheme;

/** How calibration chooses an activation's clipping threshold
 *  (YPR_QUANT_METHOD), from a 2048-bin histogram of |x| per tensor. */
typedef enum ypr_calib_method {
    YPR_CALIB_MINMAX = 0,      /**< the largest |x| seen */
    YPR_CALIB_PERCENTILE = 1,  /**< YPR_QUANT_PERCENTILE of |x| (default 99.99 %) */
    YPR_CALIB_ENTROPY = 2,     /**< least KL divergence between the clipped and the quantized distribution (TensorRT) */
    YPR_CALIB_MSE = 3          /**< least expected squared quantization error */
} ypr_calib_method;

/** Quantizer settings (enum keys 500–599, never renumbered). */
typedef enum ypr_quant_setting {
    YPR_QUANT_SCHEME          = 500, /**< int ypr_quant_scheme, default DPU */
    YPR_QUANT_METHOD          = 501, /**< int ypr_calib_method, default ENTROPY */
    YPR_QUANT_CALIB_IMAGES    = 502, /**< int 1..10^6, default 100: calibration images (spread evenly over the dataset; all when it has fewer) */
    YPR_QUANT_INPUT_SIZE      = 503, /**< int, square letterbox size, multiple of 32, default: the model's input size */
    YPR_QUANT_PERCENTILE      = 504, /**< float in (0, 100], default 99.99 */
    YPR_QUANT_BIAS_CORRECTION = 505, /**< int 0/1, default 0: subtract each conv's mean output error (quantized vs float weights on the calibration inputs) from its bias */
    YPR_QUANT_KEEP_WORST      = 506, /**< int ≥ 0, default 0: leave the k layers with the lowest local SQNR in float */
    YPR_QUANT_HARD_ACT        = 507, /**< int 0/1, default 0; dpu only: SiLU → hard-swish (sigmoid → hard-sigmoid is refused: no such kernel yet) */
    YPR_QUANT_SQNR_IMAGES     = 508, /**< int 0..1000, default 2: calibration images over which the report's end-to-end SQNR is measured (0: not measured) */
    YPR_QUANT_SEARCH_IMAGES   = 509, /**< int 0..1000, default 0 (off): refine the calibrated steps on this many calibration images — each value's step (dpu: each concat group's, then each conv's weight step) doubled or halved where that lowers the head's error after the sigmoid (docs/quant.md) @since 0.1 */
    YPR_QUANT_ACT_LUT         = 510  /**< int 0/1, default 1: also quantize the input of each SiLU (hard-swish) that follows a conv, so that the INT8 runtime computes the activation as a 256-entry table lookup from the conv's int8 value; 0: the conv's sum goes through the activation in float before its one rounding (slower, one rounding fewer; docs/quant.md) @since 0.1 */
} ypr_quant_setting;

/** A post-training quantizer of a copy of @p model (taken now: later changes
 *  to @p model are not seen), calibrated on images of @p calib (which must
 *  outlive the quantizer). The result is a fake-quantized float model (see
 *  ypr_quantizer_quantize()).
 *  @return YPR_OK; YPR_EINVAL (NULL); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_create(const ypr_model *model, const ypr_dataset *calib,
                                 ypr_quantizer **out);
/** Release (NULL is a no-op). @since 0.1 */
YPR_API void ypr_quantizer_free(ypr_quantizer *q);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value). @since 0.1 */
YPR_API int ypr_quantizer_set_int(ypr_quantizer *q, int key, int64_t value);
/** @return YPR_OK; YPR_EINVAL (key); YPR_ERANGE (value, or a fraction for an
 *  integer key). @since 0.1 */
YPR_API int ypr_quantizer_set_float(ypr_quantizer *q, int key, double value);
/** Any setting as a float. @return YPR_OK; YPR_EINVAL (key or NULL). @since 0.1 */
YPR_API int ypr_quantizer_get_float(const ypr_quantizer *q, int key, double *value);
/** Leave in float the layers whose node name (in the fused net: a conv,
 *  its activation, an add or concat) matches the fnmatch @p pattern, e.g.
 *  "model.105.*": their weights are not rounded and their output gets no
 *  quantization step. @return YPR_OK; YPR_EINVAL (NULL or empty);
 *  YPR_ERANGE (more than 256 patterns); YPR_ENOTFOUND (kept, but it matches
 *  no node of the unfused model). @since 0.1 */
YPR_API int ypr_quantizer_keep_float(ypr_quantizer *q, const char *pattern);
/** Progress callback of calibration (per image). @return YPR_OK; YPR_EINVAL. @since 0.1 */
YPR_API int ypr_quantizer_set_progress(ypr_quantizer *q, ypr_progress_fn fn, void *user);
/** Calibrate: fuse the copy (BatchNorm folded, RepConv merged), apply the
 *  scheme's activations, run YPR_QUANT_CALIB_IMAGES letterboxed images
 *  through it and keep per-tensor statistics of every value the net
 *  materializes (the input, each conv's output after its activation, adds,
 *  concats, pools). ypr_quantizer_quantize() calibrates when needed; call
 *  this to do it up front or again.
 *  @return YPR_OK; YPR_ENOTFOUND (the dataset has no images); YPR_ERANGE
 *  (the float net produced NaN or Inf, naming the node); YPR_ECANCELED;
 *  errors of image decoding (naming the file); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_calibrate(ypr_quantizer *q);
/** Make a new fake-quantized model (the quantizer's copy, and the model it
 *  was made from, are unchanged): fused, weights and biases rounded to the scheme's grid (stored
 *  as floats), an activation quantization step on every quantized value
 *  (saved with the model in its net description, applied by every forward
 *  pass: ypr_model_forward(), ypr_model_detect(), the evaluator), optional
 *  bias correction, keep-float layers. The per-layer report is then ready.
 *  Free *out with ypr_model_free().
 *  @return YPR_OK; errors of ypr_quantizer_calibrate(); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_quantize(ypr_quantizer *q, ypr_model **out);
/** The per-layer report of the last ypr_quantizer_quantize(): per quantized
 *  value its threshold, steps, weight / activation / local and end-to-end
 *  SQNR in dB and whether it stayed float, as text (@p json 0) or JSON (1);
 *  free with ypr_free(). @return YPR_OK; YPR_EINVAL; YPR_ESTATE (nothing
 *  quantized yet); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_report(const ypr_quantizer *q, char **text, int json);
/** A PNG bar chart of the report: local and end-to-end SQNR per layer.
 *  @return YPR_OK; YPR_EINVAL; YPR_ESTATE (nothing quantized yet); YPR_EIO
 *  (naming the file); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_plot(const ypr_quantizer *q, const char *path);
/** Quantization-aware training, last step: @p trained is a model that
 *  ypr_quantizer_quantize() of this quantizer returned and a ypr_trainer then
 *  fine-tuned (a model whose net carries quantization steps trains through
 *  them: fake quantization of weights, biases and activations in the
 *  forward, the straight-through estimator in the backward, steps frozen).
 *  Makes a new model of the form ypr_quantizer_quantize() returns: its
 *  weights and biases rounded onto their steps' grids (per-channel weight
 *  steps and INT32 biases recomputed as the scheme does), activation steps
 *  kept; the report's weight and end-to-end SQNR (against the float net) are
 *  measured again. @p trained is unchanged; free *out with ypr_model_free().
 *  @return YPR_OK; YPR_EINVAL (NULL; @p trained is not a quantized model of
 *  this quantizer's net, naming the first difference); YPR_ESTATE (nothing
 *  quantized yet); YPR_ENOMEM. @since 0.1 */
YPR_API int ypr_quantizer_convert(ypr_quantizer *q, const ypr_model *trained, ypr_model **out);

#ifdef __cplusplus
}
#endif

#endif /* YOLOPR_H */
