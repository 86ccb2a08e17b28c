"""libyolopr through ctypes: one module, classes wrapping the library's handles.

The shared library is found, in order: $YOLOPR_LIBRARY; a libyolopr.so* next
to this file; the soname libyolopr.so.0 through the dynamic loader.
Errors are raised as YoloprError (with .code and the library's detailed
message). NumPy is used where present (forward takes and returns float32
arrays); without it, forward takes any buffer of float32 values, and the
methods that return arrays (Dataset.image, Dataset.labels) raise RuntimeError.

Objects that the library borrows stay referenced from Python: an Evaluator
keeps its Model and Dataset, a DepGraph its Model, a Pruner its DepGraph.
Closing one of those explicitly makes its dependents raise ValueError.
"""
import ctypes
import glob
import json as _json
import os

try:
    import numpy as np
except ImportError:  # pragma: no cover - optional
    np = None

__all__ = ["YoloprError", "Model", "Dataset", "Evaluator", "DepGraph", "Pruner", "Trainer", "version",
           "simd_active", "library"]


def _load():
    env = os.environ.get("YOLOPR_LIBRARY")
    if env:
        return ctypes.CDLL(env)
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in sorted(glob.glob(os.path.join(here, "libyolopr.so*"))):
        return ctypes.CDLL(cand)
    return ctypes.CDLL("libyolopr.so.0")


library = _load()
_c = library
_P = ctypes.c_void_p
_i64 = ctypes.c_int64


def _sig(name, res, *args):
    f = getattr(_c, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_sig("ypr_version_string", ctypes.c_char_p)
_sig("ypr_simd_active", ctypes.c_char_p)
_sig("ypr_bench_peak", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_double,
     ctypes.POINTER(ctypes.c_double))
_sig("ypr_last_error", ctypes.c_char_p)
_sig("ypr_strerror", ctypes.c_char_p, ctypes.c_int)
_sig("ypr_model_from_cfg", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_double,
     ctypes.c_double, ctypes.c_uint64, ctypes.POINTER(_P))
_sig("ypr_model_load", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_P))
_sig("ypr_model_load_weights", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int)
_sig("ypr_model_save", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_model_free", None, _P)
_sig("ypr_model_fuse", ctypes.c_int, _P)
_sig("ypr_model_num_params", _i64, _P)
_sig("ypr_model_macs", ctypes.c_int, _P, ctypes.c_int, ctypes.c_int, ctypes.c_int,
     ctypes.POINTER(_i64))
_sig("ypr_model_num_classes", ctypes.c_int, _P)
_sig("ypr_model_num_levels", ctypes.c_int, _P)
_sig("ypr_model_forward", ctypes.c_int, _P, _P, ctypes.c_int, ctypes.c_int, ctypes.c_int)
_sig("ypr_model_output", ctypes.c_int, _P, ctypes.c_int, _P, ctypes.POINTER(_i64))
_sig("ypr_model_set_float", ctypes.c_int, _P, ctypes.c_int, ctypes.c_double)
_sig("ypr_model_set_int", ctypes.c_int, _P, ctypes.c_int, _i64)
_sig("ypr_model_get_float", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(ctypes.c_double))
_sig("ypr_model_get_int", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_i64))
_sig("ypr_model_detect", ctypes.c_int, _P, _P, ctypes.c_int, ctypes.c_int, _P, ctypes.c_int,
     ctypes.POINTER(ctypes.c_int))
_sig("ypr_model_set_threads", ctypes.c_int, _P, ctypes.c_int)
_sig("ypr_model_export_yolov7", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_char_p)
_sig("ypr_model_export_onnx", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_model_export_onnx_flags", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_uint)
_sig("ypr_model_plan_name", ctypes.c_char_p, _P)

_sig("ypr_free", None, _P)

# datasets
_sig("ypr_dataset_open", ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
     ctypes.POINTER(_P))
_sig("ypr_dataset_synth", ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint64,
     ctypes.POINTER(_P))
_sig("ypr_dataset_free", None, _P)
_sig("ypr_dataset_count", ctypes.c_int, _P)
_sig("ypr_dataset_num_classes", ctypes.c_int, _P)
_sig("ypr_dataset_class_name", ctypes.c_char_p, _P, ctypes.c_int)
_sig("ypr_dataset_num_skipped", ctypes.c_int, _P)
_sig("ypr_dataset_image", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_P),
     ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
_sig("ypr_dataset_labels", ctypes.c_int, _P, ctypes.c_int, _P, ctypes.c_int,
     ctypes.POINTER(ctypes.c_int))
_sig("ypr_dataset_image_path", ctypes.c_char_p, _P, ctypes.c_int)
_sig("ypr_dataset_write_yolo", ctypes.c_int, _P, ctypes.c_char_p)

# evaluation
_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, _i64, _i64)
_sig("ypr_evaluator_create", ctypes.c_int, _P, _P, ctypes.POINTER(_P))
_sig("ypr_evaluator_free", None, _P)
_sig("ypr_evaluator_set_float", ctypes.c_int, _P, ctypes.c_int, ctypes.c_double)
_sig("ypr_evaluator_set_int", ctypes.c_int, _P, ctypes.c_int, _i64)
_sig("ypr_evaluator_set_progress", ctypes.c_int, _P, _PROGRESS_FN, _P)
_sig("ypr_evaluator_run", ctypes.c_int, _P)
_sig("ypr_evaluator_add_detections", ctypes.c_int, _P, ctypes.c_int, _P, ctypes.c_int)
_sig("ypr_evaluator_compute", ctypes.c_int, _P)
_sig("ypr_evaluator_read_detections", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_evaluator_get", ctypes.c_int, _P, ctypes.c_int, ctypes.c_int,
     ctypes.POINTER(ctypes.c_double))
_sig("ypr_evaluator_speed", ctypes.c_int, _P, ctypes.POINTER(ctypes.c_double))
_sig("ypr_evaluator_table", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_evaluator_json", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_evaluator_save_plots", ctypes.c_int, _P, ctypes.c_char_p)

# dependency graph
_sig("ypr_depgraph_build", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_depgraph_free", None, _P)
_sig("ypr_depgraph_num_groups", ctypes.c_int, _P)
_sig("ypr_depgraph_group_info", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_i64),
     ctypes.POINTER(ctypes.c_int))
_sig("ypr_depgraph_describe", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_P))
_sig("ypr_depgraph_dot", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_depgraph_prune_group", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_i64), _i64)

# pruner
_sig("ypr_pruner_create", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_pruner_free", None, _P)
_sig("ypr_pruner_set_float", ctypes.c_int, _P, ctypes.c_int, ctypes.c_double)
_sig("ypr_pruner_set_int", ctypes.c_int, _P, ctypes.c_int, _i64)
_sig("ypr_pruner_ignore", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_pruner_set_layer_ratio", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_double)
_sig("ypr_pruner_step", ctypes.c_int, _P)
_sig("ypr_pruner_steps_done", ctypes.c_int, _P)
_sig("ypr_pruner_report", ctypes.c_int, _P, ctypes.POINTER(_P), ctypes.c_int)
_sig("ypr_pruner_plot", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_pruner_plot_sensitivity", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_pruner_sensitivity", ctypes.c_int, _P, _P, ctypes.c_int, ctypes.c_int,
     ctypes.POINTER(ctypes.c_double), ctypes.c_int, _P, _P, ctypes.POINTER(_P))
_sig("ypr_model_num_tensors", ctypes.c_int, _P)
_sig("ypr_model_tensor", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p),
     ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_i64), ctypes.POINTER(ctypes.POINTER(ctypes.c_float)))
_sig("ypr_model_set_tensor", ctypes.c_int, _P, ctypes.c_int, _P, _i64)


class _TensorInfo(ctypes.Structure):
    """ypr_tensor_info (size-prefixed: struct_size is set to this struct's size)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p),
                ("dtype", ctypes.c_int), ("ndim", ctypes.c_int), ("shape", _i64 * 6),
                ("numel", _i64), ("data", _P), ("fdata", ctypes.POINTER(ctypes.c_float)),
                ("is_buffer", ctypes.c_int), ("axis", ctypes.c_int), ("nscales", _i64),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32),
                ("scales", ctypes.POINTER(ctypes.c_float)),
                ("zero_points", ctypes.POINTER(ctypes.c_int32))]


_sig("ypr_model_tensor_info", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(_TensorInfo))
_sig("ypr_model_tensor_info_at", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_TensorInfo))

# trainer
_TRAIN_FN = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                             ctypes.c_int, ctypes.POINTER(ctypes.c_double))
_sig("ypr_trainer_create", ctypes.c_int, _P, _P, _P, ctypes.POINTER(_P))
_sig("ypr_trainer_free", None, _P)
_sig("ypr_trainer_set_int", ctypes.c_int, _P, ctypes.c_int, _i64)
_sig("ypr_trainer_set_float", ctypes.c_int, _P, ctypes.c_int, ctypes.c_double)
_sig("ypr_trainer_get_int", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_i64))
_sig("ypr_trainer_set_hyp", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_double)
_sig("ypr_trainer_get_hyp", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_double))
_sig("ypr_trainer_load_hyp", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_trainer_set_output", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_trainer_set_callback", ctypes.c_int, _P, _TRAIN_FN, _P)
_sig("ypr_trainer_set_teacher", ctypes.c_int, _P, _P)
_sig("ypr_trainer_set_pruner", ctypes.c_int, _P, _P)
_sig("ypr_trainer_resume", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_trainer_run", ctypes.c_int, _P)
_sig("ypr_trainer_step", ctypes.c_int, _P, _P, ctypes.c_int, ctypes.c_int, _P, _i64,
     ctypes.POINTER(ctypes.c_double))
_sig("ypr_trainer_epochs_done", ctypes.c_int, _P)
_sig("ypr_trainer_result", ctypes.c_int, _P, ctypes.c_int, ctypes.c_int,
     ctypes.POINTER(ctypes.c_double))
_sig("ypr_trainer_memory", ctypes.c_int, _P, ctypes.POINTER(_i64))

# quantizer
_sig("ypr_quantizer_create", ctypes.c_int, _P, _P, ctypes.POINTER(_P))
_sig("ypr_quantizer_free", None, _P)
_sig("ypr_quantizer_set_int", ctypes.c_int, _P, ctypes.c_int, _i64)
_sig("ypr_quantizer_set_float", ctypes.c_int, _P, ctypes.c_int, ctypes.c_double)
_sig("ypr_quantizer_get_float", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(ctypes.c_double))
_sig("ypr_quantizer_keep_float", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_quantizer_set_progress", ctypes.c_int, _P, _PROGRESS_FN, _P)
_sig("ypr_quantizer_calibrate", ctypes.c_int, _P)
_sig("ypr_quantizer_quantize", ctypes.c_int, _P, ctypes.POINTER(_P))
_sig("ypr_quantizer_report", ctypes.c_int, _P, ctypes.POINTER(_P), ctypes.c_int)
_sig("ypr_quantizer_plot", ctypes.c_int, _P, ctypes.c_char_p)
_sig("ypr_quantizer_convert", ctypes.c_int, _P, _P, ctypes.POINTER(_P))

# The enum tables below mirror include/yolopr.h by hand; tests/python/test_enums.py
# checks every entry (and that no header value is missing) against the header.

# ypr_model_setting
CONF_THRESHOLD, IOU_THRESHOLD, MAX_DET, MULTI_LABEL, AGNOSTIC_NMS, INPUT_SIZE = range(100, 106)

# Status codes (YPR_E…), stable.
(OK, EINVAL, ENOMEM, ERANGE, EIO, EFORMAT, ESHAPE, ENOTFOUND, EUNSUPPORTED, ESTATE, ECANCELED,
 EINTERNAL, ENONFINITE) = range(0, -13, -1)

# ypr_eval_setting / ypr_eval_value
(EVAL_CONF_THRESHOLD, EVAL_IOU_THRESHOLD, EVAL_MAX_DET, EVAL_METRIC, EVAL_INPUT_SIZE, EVAL_BATCH,
 EVAL_MULTI_LABEL, EVAL_MAX_IMAGES, EVAL_RECT, EVAL_CAP_CANVAS) = range(400, 410)
EVAL_IMAGES, EVAL_LABELS, EVAL_P, EVAL_R, EVAL_MAP50, EVAL_MAP = range(6)

# ypr_prune_setting and the pruner's enums
(PRUNE_RATIO, PRUNE_CRITERION, PRUNE_GLOBAL, PRUNE_ROUND_TO, PRUNE_STEPS, PRUNE_MAX_LAYER_RATIO,
 PRUNE_SEED, PRUNE_REDUCTION, PRUNE_NORMALIZER, PRUNE_REPORT_SIZE, PRUNE_TARGET_MACS,
 PRUNE_TARGET_PARAMS, PRUNE_CLAMP_WIDTHS) = range(200, 213)
CRITERIA = {"random": 0, "l1": 1, "l2": 2, "lamp": 3, "bn_scale": 4, "bn": 4, "fpgm": 5,
            "taylor": 6}
REDUCTIONS = {"mean": 0, "sum": 1, "max": 2, "first": 3}
NORMALIZERS = {"none": 0, "mean": 1, "max": 2, "sum": 3, "lamp": 4}
METRICS = {"yolov7": 0, "coco": 1}

# ypr_train_setting, ypr_train_value and the trainer's enums
(TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_SIZE, TRAIN_WORKERS, TRAIN_SEED, TRAIN_LOSS, TRAIN_LINEAR_LR,
 TRAIN_EMA, TRAIN_EVAL, TRAIN_NOMINAL_BATCH, TRAIN_FREEZE, TRAIN_AUGMENT, TRAIN_EVAL_IMAGES,
 TRAIN_HYP_PRESET, TRAIN_DISTILL, TRAIN_SPARSITY, TRAIN_SPARSITY_LAMBDA, TRAIN_PRUNE_STEPS,
 TRAIN_PRUNE_EVERY) = range(300, 319)
(TV_BOX, TV_OBJ, TV_CLS, TV_TOTAL, TV_LR, TV_IMAGES_PER_SEC, TV_P, TV_R, TV_MAP50, TV_MAP,
 TV_FITNESS, TV_SECONDS, TV_COUNT_) = range(13)
LOSSES = {"simple": 0, "ota": 1}
HYP_PRESETS = {"scratch_p5": 0, "p5": 0, "scratch_tiny": 1, "tiny": 1}
REGULARIZERS = {"bn_l1": 0, "bn": 0, "group_norm": 1, "group": 1}
# ypr_quant_setting and the quantizer's enums
(QUANT_SCHEME, QUANT_METHOD, QUANT_CALIB_IMAGES, QUANT_INPUT_SIZE, QUANT_PERCENTILE,
 QUANT_BIAS_CORRECTION, QUANT_KEEP_WORST, QUANT_HARD_ACT, QUANT_SQNR_IMAGES,
 QUANT_SEARCH_IMAGES, QUANT_ACT_LUT) = range(500, 511)
SCHEMES = {"dpu": 0, "per_channel": 1, "per-channel": 1}
CALIB_METHODS = {"minmax": 0, "percentile": 1, "entropy": 2, "mse": 3}
# ypr_dtype: a model tensor's element type (Model.tensor_info)
DTYPES = {"f32": 0, "i8": 1, "i32": 2}
# ypr_export_flag: Model.export_onnx(int8=True / False)
EXPORT_INT8, EXPORT_FLOAT = 1, 2
# the names of a ypr_train_value array, in index order
TRAIN_VALUES = ("box", "obj", "cls", "total", "lr", "images_per_sec", "p", "r", "map50", "map",
                "fitness", "seconds")


class YoloprError(RuntimeError):
    """A libyolopr call failed; .code is the YPR_E… status."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check(rc):
    if rc < 0:
        detail = _c.ypr_last_error().decode("utf-8", "replace")
        raise YoloprError(rc, detail or _c.ypr_strerror(rc).decode())
    return rc


def _take_text(call):
    """call(out) makes a library call with @p out as its char ** output; the
    text is copied and the library's buffer released with ypr_free()."""
    p = _P()
    _check(call(ctypes.byref(p)))
    try:
        return ctypes.string_at(p.value).decode("utf-8", "replace") if p.value else ""
    finally:
        _c.ypr_free(p)


def _need_numpy(what):
    if np is None:
        raise RuntimeError("%s needs NumPy" % what)


def _enum(kind, table, value):
    """A name from @p table (case-insensitive) or the enum's integer value."""
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError("unknown %s %r (one of %s)" % (kind, value, ", ".join(sorted(table))))
    return int(value)


def _live(obj, what):
    """The handle of @p obj, refusing one already closed."""
    h = getattr(obj, "_h", None)
    if not h:
        raise ValueError("%s is closed" % what)
    return h


class _Handle:
    """Shared close()/__del__/context-manager plumbing; subclasses set _free."""

    _free = None
    _h = None

    def close(self):
        if self._h:
            type(self)._free(self._h)
            self._h = _P()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def version():
    return _c.ypr_version_string().decode()


def simd_active():
    return _c.ypr_simd_active().decode()


def bench_peak(threads=0, seconds=0.3, isa=None):
    """The FMA peak in GFLOP/s on `threads` threads (0: the library's
    default) for kernel set `isa` (None: the active one)."""
    g = ctypes.c_double()
    _check(_c.ypr_bench_peak(isa.encode() if isa else None, threads, seconds, ctypes.byref(g)))
    return g.value


class Model(_Handle):
    """A YOLOv7-family model (wraps ypr_model)."""

    _free = staticmethod(_c.ypr_model_free)

    def __init__(self, handle):
        self._h = _P(handle)

    @classmethod
    def from_cfg(cls, cfg, nc=0, depth_multiple=0.0, width_multiple=0.0, seed=0):
        """Build from a built-in name ('yolov7', 'yolov7-tiny', 'yolov7x') or a .yaml path."""
        h = _P()
        _check(_c.ypr_model_from_cfg(os.fsencode(cfg), nc, depth_multiple, width_multiple,
                                     seed, ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def load(cls, path):
        """Load our checkpoint (.safetensors with a net description), a YOLOv7 .pt
        checkpoint (best.pt, last.pt), a cfg or a built-in."""
        h = _P()
        _check(_c.ypr_model_load(os.fsencode(path), ctypes.byref(h)))
        return cls(h.value)

    def load_weights(self, path, strict=False):
        _check(_c.ypr_model_load_weights(self._h, os.fsencode(path), int(strict)))

    def save(self, path):
        _check(_c.ypr_model_save(self._h, os.fsencode(path)))

    def fuse(self):
        _check(_c.ypr_model_fuse(self._h))

    def quantize(self, calib, qat=0, train=None, qat_settings=None, **settings):
        """A new fake-quantized Model (this one is unchanged): see Quantizer
        for the settings (scheme="dpu"|"per-channel", method="entropy"|…,
        calib_images, size, bias_correction, keep_float=[patterns] …).
        qat=N: then N epochs of quantization-aware fine-tuning on `train`
        (default: the calibration set) before conversion (Quantizer.qat;
        qat_settings: Trainer keyword arguments, e.g. {"hyp": {"lr0": 1e-4}})."""
        with Quantizer(self, calib, **settings) as q:
            if qat:
                return q.qat(train if train is not None else calib, qat, **(qat_settings or {}))
            return q.quantize()

    def tensors(self):
        """{state_dict name: NumPy copy} of every parameter and buffer."""
        if np is None:
            raise RuntimeError("tensors needs NumPy")
        out = {}
        for i in range(_check(_c.ypr_model_num_tensors(self._h))):
            name = ctypes.c_char_p()
            ndim = ctypes.c_int()
            shape = (_i64 * 6)()
            data = ctypes.POINTER(ctypes.c_float)()
            _check(_c.ypr_model_tensor(self._h, i, ctypes.byref(name), ctypes.byref(ndim), shape,
                                       ctypes.byref(data)))
            dims = tuple(shape[:ndim.value])
            count = int(np.prod(dims)) if dims else 1
            out[name.value.decode()] = np.ctypeslib.as_array(data, shape=(count,)).reshape(dims).copy()
        return out

    def tensor_info(self, key):
        """One tensor by state_dict name or index: a TensorInfo with name,
        dtype ("F32", "I8", "I32"), shape, is_buffer, axis (per-channel axis
        or None), scales and zero_points (lists; empty for F32), values (in
        the dtype: int8 / int32 / float32) and floats (the float view, exactly
        (values - zero_point) * scale). Arrays are NumPy copies when NumPy is
        present, else lists."""
        info = _TensorInfo()
        info.struct_size = ctypes.sizeof(_TensorInfo)
        if isinstance(key, str):
            _check(_c.ypr_model_tensor_info(self._h, key.encode(), ctypes.byref(info)))
        else:
            _check(_c.ypr_model_tensor_info_at(self._h, int(key), ctypes.byref(info)))
        return TensorInfo(info)

    def export_yolov7(self, yaml_path, weights_path):
        """Write a YOLOv7 model .yaml and a matching safetensors state_dict."""
        _check(_c.ypr_model_export_yolov7(self._h, os.fsencode(yaml_path), os.fsencode(weights_path)))

    def export_onnx(self, path, int8=None):
        """Write the model as ONNX opset 13 (docs/onnx.md); Model.load() reads it back.
        int8: None (automatic: a quantized model in QDQ form, a float one as
        float ops), True (require the QDQ form: YoloprError EINVAL on a model
        without quantization steps) or False (a quantized model as plain
        float ops, its weights on their grid, no QuantizeLinear /
        DequantizeLinear)."""
        flags = 0 if int8 is None else EXPORT_INT8 if int8 else EXPORT_FLOAT
        _check(_c.ypr_model_export_onnx_flags(self._h, os.fsencode(path), flags))

    def set_threads(self, n):
        _check(_c.ypr_model_set_threads(self._h, n))

    @property
    def plan_name(self):
        """The plan the last forward pass ran: "int8 (SET)", "float simulation
        (SET)" (a quantized model on the float plan) or "float (SET)"; "none"
        before any pass."""
        return _c.ypr_model_plan_name(self._h).decode()

    @property
    def num_params(self):
        return _check(_c.ypr_model_num_params(self._h))

    @property
    def num_classes(self):
        return _check(_c.ypr_model_num_classes(self._h))

    @property
    def num_levels(self):
        return _check(_c.ypr_model_num_levels(self._h))

    def macs(self, h, w=None, conv_only=True):
        out = _i64()
        _check(_c.ypr_model_macs(self._h, h, w or h, int(conv_only), ctypes.byref(out)))
        return out.value

    def forward(self, x):
        """x: float32 [N, 3, H, W]. Returns the raw head outputs, one per level,
        each [N, anchors, H_l, W_l, 5 + nc] (NumPy arrays when NumPy is present)."""
        if np is not None:
            x = np.ascontiguousarray(x, dtype=np.float32)
            if x.ndim != 4:
                raise ValueError("forward expects [N, C, H, W], got shape %r" % (x.shape,))
            n, _, h, w = x.shape
            _check(_c.ypr_model_forward(self._h, x.ctypes.data, n, h, w))
        else:
            data, (n, _, h, w) = x
            buf = (ctypes.c_float * len(data))(*data)
            _check(_c.ypr_model_forward(self._h, ctypes.addressof(buf), n, h, w))
        outs = []
        for level in range(self.num_levels):
            shape = (_i64 * 5)()
            _check(_c.ypr_model_output(self._h, level, None, shape))
            dims = tuple(shape)
            count = dims[0] * dims[1] * dims[2] * dims[3] * dims[4]
            if np is not None:
                out = np.empty(dims, dtype=np.float32)
                _check(_c.ypr_model_output(self._h, level, out.ctypes.data, shape))
            else:
                raw = (ctypes.c_float * count)()
                _check(_c.ypr_model_output(self._h, level, ctypes.addressof(raw), shape))
                out = (list(raw), dims)
            outs.append(out)
        return outs

    def detect(self, image, conf=None, iou=None, size=None, max_det=None):
        """image: uint8 [H, W, 3] RGB. Returns rows (x1, y1, x2, y2, conf, class).
        conf, iou, size and max_det apply to this call only (None: the model's
        own setting); the model's settings are as before afterwards."""
        if np is None:
            raise RuntimeError("detect needs NumPy")
        img = np.ascontiguousarray(image, dtype=np.uint8)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("detect expects an RGB image [H, W, 3]")
        wanted = [(CONF_THRESHOLD, True, conf), (IOU_THRESHOLD, True, iou),
                  (INPUT_SIZE, False, size), (MAX_DET, False, max_det)]
        saved = []
        try:
            for key, is_float, value in wanted:
                if value is not None:
                    saved.append((key, is_float, self._setting(key, is_float)))
                    self._set_setting(key, is_float, value)
            cap = self._setting(MAX_DET, False)
            out = np.zeros((cap, 6), dtype=np.float32)
            count = ctypes.c_int()
            _check(_c.ypr_model_detect(self._h, img.ctypes.data, img.shape[1], img.shape[0],
                                       out.ctypes.data, cap, ctypes.byref(count)))
            return out[:count.value].copy()
        finally:
            for key, is_float, value in reversed(saved):
                self._set_setting(key, is_float, value)

    def _setting(self, key, is_float):
        v = ctypes.c_double() if is_float else _i64()
        _check((_c.ypr_model_get_float if is_float else _c.ypr_model_get_int)(
            self._h, key, ctypes.byref(v)))
        return v.value

    def _set_setting(self, key, is_float, value):
        _check((_c.ypr_model_set_float if is_float else _c.ypr_model_set_int)(self._h, key, value))


class TensorInfo:
    """What Model.tensor_info() returns (copies: valid after the model changes)."""
    _CTYPES = {0: ctypes.c_float, 1: ctypes.c_int8, 2: ctypes.c_int32}
    _NP = {0: "float32", 1: "int8", 2: "int32"}

    def __init__(self, info):
        self.name = info.name.decode()
        self.dtype = {0: "F32", 1: "I8", 2: "I32"}.get(info.dtype, "?")
        self.shape = tuple(info.shape[:info.ndim])
        self.numel = info.numel
        self.is_buffer = bool(info.is_buffer)
        self.axis = info.axis if info.axis >= 0 else None
        self.scales = [info.scales[i] for i in range(info.nscales)] if info.nscales else []
        self.zero_points = ([info.zero_points[i] for i in range(info.nscales)]
                            if info.nscales else [])
        n = info.numel
        kind = info.dtype if info.dtype in self._CTYPES else 0
        raw = ctypes.cast(info.data, ctypes.POINTER(self._CTYPES[kind]))
        if np is not None:
            self.values = (np.ctypeslib.as_array(raw, shape=(n,)).astype(self._NP[kind])
                           .reshape(self.shape) if n else np.zeros(self.shape, self._NP[kind]))
            self.floats = (np.ctypeslib.as_array(info.fdata, shape=(n,)).copy().reshape(self.shape)
                           if n else np.zeros(self.shape, "float32"))
        else:
            self.values = [raw[i] for i in range(n)]
            self.floats = [info.fdata[i] for i in range(n)]

    @property
    def scale(self):
        """The per-tensor scale (the first channel's when per channel); None for F32."""
        return self.scales[0] if self.scales else None

    def __repr__(self):
        return "TensorInfo(%s, %s, shape=%s, %d scales)" % (self.name, self.dtype, self.shape,
                                                            len(self.scales))


class Dataset(_Handle):
    """A detection dataset (wraps ypr_dataset): YOLO/VOC on disk or synthetic."""

    _free = staticmethod(_c.ypr_dataset_free)

    def __init__(self, handle):
        self._h = _P(handle)

    @classmethod
    def open(cls, path, split="val", skip_bad=False):
        """A YOLOv7 data .yaml (with @p split), a folder of images or a VOC tree.
        skip_bad: skip images with bad labels (counted in num_skipped) instead of failing."""
        h = _P()
        _check(_c.ypr_dataset_open(os.fsencode(path), split.encode() if split else None,
                                   1 if skip_bad else 0, ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def synth(cls, count, size=416, classes=8, seed=0):
        """The built-in synthetic dataset, deterministic from @p seed."""
        h = _P()
        _check(_c.ypr_dataset_synth(count, size, classes, seed, ctypes.byref(h)))
        return cls(h.value)

    def _hh(self):
        return _live(self, "dataset")

    def __len__(self):
        return _c.ypr_dataset_count(self._hh())

    def _index(self, i):
        n = len(self)
        if not 0 <= i < n:
            raise IndexError("image %d outside [0, %d)" % (i, n))
        return i

    @property
    def num_classes(self):
        return _c.ypr_dataset_num_classes(self._hh())

    @property
    def class_names(self):
        h = self._hh()
        return [(_c.ypr_dataset_class_name(h, i) or b"").decode("utf-8", "replace")
                for i in range(self.num_classes)]

    @property
    def num_skipped(self):
        return _c.ypr_dataset_num_skipped(self._hh())

    def image(self, i):
        """Image @p i as uint8 [H, W, 3] RGB (a copy)."""
        _need_numpy("Dataset.image")
        rgb, w, h = _P(), ctypes.c_int(), ctypes.c_int()
        _check(_c.ypr_dataset_image(self._hh(), i, ctypes.byref(rgb), ctypes.byref(w),
                                    ctypes.byref(h)))
        try:
            raw = ctypes.string_at(rgb.value, w.value * h.value * 3)
        finally:
            _c.ypr_free(rgb)
        return np.frombuffer(raw, dtype=np.uint8).reshape(h.value, w.value, 3).copy()

    def labels(self, i):
        """Labels of image @p i: float32 [n, 6] rows class, x1, y1, x2, y2, difficult (pixels)."""
        _need_numpy("Dataset.labels")
        h = self._hh()
        count = ctypes.c_int()
        _check(_c.ypr_dataset_labels(h, i, None, 0, ctypes.byref(count)))
        while True:
            cap = count.value
            out = np.zeros((cap, 6), dtype=np.float32)
            _check(_c.ypr_dataset_labels(h, i, out.ctypes.data if cap else None, cap,
                                         ctypes.byref(count)))
            if count.value <= cap:
                return out[:count.value]

    def image_path(self, i):
        """The file of image @p i ("" for synthetic images)."""
        p = _c.ypr_dataset_image_path(self._hh(), self._index(i))
        return os.fsdecode(p) if p else ""

    def write_yolo(self, out_dir):
        """Write OUT/images/val/*.png, OUT/labels/val/*.txt and OUT/data.yaml."""
        _check(_c.ypr_dataset_write_yolo(self._hh(), os.fsencode(out_dir)))


class Evaluator(_Handle):
    """mAP of a model on a dataset, or of detections made elsewhere (wraps ypr_evaluator).

    Settings are keyword arguments of the constructor or properties:
    conf, iou, max_det, metric ('yolov7' or 'coco'), size, batch, multi_label,
    max_images, rect, cap_canvas (no canvas side past size; default off:
    test.py's canvas)."""

    _free = staticmethod(_c.ypr_evaluator_free)
    # name: (key, is_float, library default)
    _SETTINGS = {
        "conf": (EVAL_CONF_THRESHOLD, True, 0.001),
        "iou": (EVAL_IOU_THRESHOLD, True, 0.65),
        "max_det": (EVAL_MAX_DET, False, 300),
        "metric": (EVAL_METRIC, False, "yolov7"),
        "size": (EVAL_INPUT_SIZE, False, 640),
        "batch": (EVAL_BATCH, False, 1),
        "multi_label": (EVAL_MULTI_LABEL, False, True),
        "max_images": (EVAL_MAX_IMAGES, False, 0),
        "rect": (EVAL_RECT, False, True),
        "cap_canvas": (EVAL_CAP_CANVAS, False, False),
    }

    def __init__(self, model, dataset, **settings):
        unknown = set(settings) - set(self._SETTINGS)
        if unknown:
            raise TypeError("unknown evaluator setting(s): %s" % ", ".join(sorted(unknown)))
        # the library borrows both: keep them alive as long as this evaluator
        self._model = model
        self._dataset = dataset
        self._values = {k: v[2] for k, v in self._SETTINGS.items()}
        h = _P()
        _check(_c.ypr_evaluator_create(_live(model, "model") if model is not None else None,
                                       _live(dataset, "dataset"), ctypes.byref(h)))
        self._h = h
        for k, v in settings.items():
            self._set(k, v)

    def _hh(self):
        if self._model is not None:
            _live(self._model, "the evaluator's model")
        _live(self._dataset, "the evaluator's dataset")
        return _live(self, "evaluator")

    def _set(self, name, value):
        key, is_float, _ = self._SETTINGS[name]
        if is_float:
            _check(_c.ypr_evaluator_set_float(self._hh(), key, float(value)))
        else:
            v = _enum("metric", METRICS, value) if name == "metric" else int(value)
            _check(_c.ypr_evaluator_set_int(self._hh(), key, v))
        self._values[name] = value

    def _setting(name):  # noqa: N805 - property factory used in the class body
        return property(lambda self: self._values[name],
                        lambda self, value: self._set(name, value))

    conf = _setting("conf")
    iou = _setting("iou")
    max_det = _setting("max_det")
    metric = _setting("metric")
    size = _setting("size")
    batch = _setting("batch")
    multi_label = _setting("multi_label")
    max_images = _setting("max_images")
    rect = _setting("rect")
    cap_canvas = _setting("cap_canvas")
    del _setting

    @property
    def model(self):
        return self._model

    @property
    def dataset(self):
        return self._dataset

    def run(self, progress=None):
        """Run the model over the dataset and compute the metrics. progress:
        callable(done, total) called after each batch; a truthy return cancels
        (YoloprError with code ECANCELED). An exception raised by it also
        cancels the run and is re-raised here."""
        h = self._hh()
        if progress is None:
            _check(_c.ypr_evaluator_run(h))
            return self
        raised = []

        def trampoline(_user, done, total):
            try:
                return 1 if progress(done, total) else 0
            except BaseException as exc:  # carried out of C, re-raised below
                raised.append(exc)
                return 1

        fn = _PROGRESS_FN(trampoline)   # kept alive by this frame during the call
        _check(_c.ypr_evaluator_set_progress(h, fn, None))
        try:
            rc = _c.ypr_evaluator_run(h)
        finally:
            _c.ypr_evaluator_set_progress(h, _PROGRESS_FN(), None)
        if raised:
            raise raised[0]
        _check(rc)
        return self

    def add_detections(self, image, dets):
        """Detections of dataset image @p image: rows x1, y1, x2, y2, conf, class
        in image pixels (float32 [n, 6]; without NumPy, a sequence of 6-tuples)."""
        h = self._hh()
        if np is not None:
            arr = np.ascontiguousarray(dets, dtype=np.float32)
            if arr.size == 0:
                arr = arr.reshape(0, 6)
            if arr.ndim != 2 or arr.shape[1] != 6:
                raise ValueError("detections must be [n, 6], got shape %r" % (arr.shape,))
            n = arr.shape[0]
            _check(_c.ypr_evaluator_add_detections(h, image, arr.ctypes.data if n else None, n))
        else:
            rows = [tuple(float(v) for v in r) for r in dets]
            if any(len(r) != 6 for r in rows):
                raise ValueError("detections must be rows of 6 values")
            buf = (ctypes.c_float * (6 * len(rows)))(*[v for r in rows for v in r])
            _check(_c.ypr_evaluator_add_detections(h, image, ctypes.addressof(buf) if rows
                                                   else None, len(rows)))

    def compute(self):
        """Metrics of the added detections (images without any count as misses)."""
        _check(_c.ypr_evaluator_compute(self._hh()))
        return self

    def read_detections(self, directory):
        """Add YOLOv7 detect.py --save-txt --save-conf files from @p directory and compute."""
        _check(_c.ypr_evaluator_read_detections(self._hh(), os.fsencode(directory)))
        return self

    def get(self, cls=-1):
        """Results for class @p cls (-1: all): images, labels, p, r, map50, map."""
        h = self._hh()
        out = {}
        for name, what in (("images", EVAL_IMAGES), ("labels", EVAL_LABELS), ("p", EVAL_P),
                           ("r", EVAL_R), ("map50", EVAL_MAP50), ("map", EVAL_MAP)):
            v = ctypes.c_double()
            _check(_c.ypr_evaluator_get(h, cls, what, ctypes.byref(v)))
            out[name] = int(v.value) if what in (EVAL_IMAGES, EVAL_LABELS) else v.value
        return out

    def per_class(self):
        """One dict per class (as get(), plus 'class' and 'name')."""
        names = self._dataset.class_names
        rows = []
        for c, name in enumerate(names):
            row = {"class": c, "name": name}
            row.update(self.get(c))
            rows.append(row)
        return rows

    def speed(self):
        """Mean ms per image: (inference, NMS, total)."""
        ms = (ctypes.c_double * 3)()
        _check(_c.ypr_evaluator_speed(self._hh(), ms))
        return tuple(ms)

    def table(self):
        """YOLOv7's results table and Speed line."""
        return _take_text(lambda out: _c.ypr_evaluator_table(self._hh(), out))

    def json(self):
        """The results as a dict (the library's JSON, parsed)."""
        return _json.loads(_take_text(lambda out: _c.ypr_evaluator_json(self._hh(), out)))

    def save_plots(self, directory):
        """Write PR_curve.png and confusion_matrix.png into @p directory (created)."""
        _check(_c.ypr_evaluator_save_plots(self._hh(), os.fsencode(directory)))


class DepGraph(_Handle):
    """Groups of coupled channels of a model (wraps ypr_depgraph)."""

    _free = staticmethod(_c.ypr_depgraph_free)

    def __init__(self, model):
        self._model = model   # the graph is tied to (and must not outlive) the model
        h = _P()
        _check(_c.ypr_depgraph_build(_live(model, "model"), ctypes.byref(h)))
        self._h = h

    @property
    def model(self):
        return self._model

    def _hh(self):
        _live(self._model, "the graph's model")
        return _live(self, "dependency graph")

    def __len__(self):
        return _check(_c.ypr_depgraph_num_groups(self._hh()))

    def group(self, i):
        """(channels, prunable) of group @p i."""
        c, p = _i64(), ctypes.c_int()
        _check(_c.ypr_depgraph_group_info(self._hh(), i, ctypes.byref(c), ctypes.byref(p)))
        return c.value, bool(p.value)

    def describe(self, i=-1):
        """The members (tensor, axis, index range) of group @p i, or of all groups."""
        return _take_text(lambda out: _c.ypr_depgraph_describe(self._hh(), i, out))

    def dot(self):
        """The net as a Graphviz dot graph."""
        return _take_text(lambda out: _c.ypr_depgraph_dot(self._hh(), out))

    def prune_group(self, i, channels):
        """Remove @p channels (indices into group @p i) from the model; the graph
        is rebuilt, so group numbers may change."""
        idx = [int(c) for c in channels]
        arr = (_i64 * max(len(idx), 1))(*idx)
        _check(_c.ypr_depgraph_prune_group(self._hh(), i, arr, len(idx)))


class Pruner(_Handle):
    """Structured channel pruning over a DepGraph (wraps ypr_pruner).

    importance: 'random', 'l1', 'l2', 'lamp', 'bn_scale' (or 'bn'), 'fpgm', 'taylor';
    reduction: 'mean', 'sum', 'max', 'first'; normalizer: 'none', 'mean',
    'max', 'sum', 'lamp'. ignore: fnmatch patterns of layers never pruned
    (one matching nothing raises YoloprError ENOTFOUND); layer_ratios:
    {pattern: ratio}. clamp_widths: a group whose selection would remove all
    its channels keeps its best round_to ones instead of being left whole
    (Torch-Pruning's rule, the default)."""

    _free = staticmethod(_c.ypr_pruner_free)

    def __init__(self, graph, ratio=0.25, importance="l2", global_pruning=False, round_to=1,
                 steps=1, max_layer_ratio=1.0, seed=0, ignore=(), layer_ratios=None,
                 reduction="mean", normalizer="mean", report_size=640, clamp_widths=False):
        self._graph = graph   # keeps the graph (and through it the model) alive
        h = _P()
        _check(_c.ypr_pruner_create(_live(graph, "dependency graph"), ctypes.byref(h)))
        self._h = h
        self._set_float(PRUNE_RATIO, ratio)
        self._set_int(PRUNE_CRITERION, _enum("importance", CRITERIA, importance))
        self._set_int(PRUNE_GLOBAL, 1 if global_pruning else 0)
        self._set_int(PRUNE_ROUND_TO, round_to)
        self._set_int(PRUNE_STEPS, steps)
        self._set_float(PRUNE_MAX_LAYER_RATIO, max_layer_ratio)
        self._set_int(PRUNE_SEED, seed)
        self._set_int(PRUNE_REDUCTION, _enum("reduction", REDUCTIONS, reduction))
        self._set_int(PRUNE_NORMALIZER, _enum("normalizer", NORMALIZERS, normalizer))
        self._set_int(PRUNE_REPORT_SIZE, report_size)
        self._set_int(PRUNE_CLAMP_WIDTHS, 1 if clamp_widths else 0)
        if isinstance(ignore, str):
            ignore = (ignore,)
        for pattern in ignore:
            self.ignore(pattern)
        for pattern, r in (layer_ratios or {}).items():
            self.set_layer_ratio(pattern, r)

    @property
    def graph(self):
        return self._graph

    def _hh(self):
        self._graph._hh()
        return _live(self, "pruner")

    def _set_float(self, key, value):
        _check(_c.ypr_pruner_set_float(self._hh(), key, float(value)))

    def _set_int(self, key, value):
        _check(_c.ypr_pruner_set_int(self._hh(), key, int(value)))

    def ignore(self, pattern):
        """Never prune groups of layers matching the fnmatch @p pattern."""
        rc = _c.ypr_pruner_ignore(self._hh(), pattern.encode())
        if rc == ENOTFOUND:   # the library keeps the pattern but sets no message
            raise YoloprError(rc, "pruner: ignore pattern '%s' matches no layer" % pattern)
        _check(rc)

    def set_layer_ratio(self, pattern, ratio):
        """Prune groups of layers matching @p pattern by @p ratio instead."""
        _check(_c.ypr_pruner_set_layer_ratio(self._hh(), pattern.encode(), float(ratio)))

    def step(self):
        """One step of the schedule: score, rank, cut (the model shrinks)."""
        _check(_c.ypr_pruner_step(self._hh()))
        return self

    @property
    def steps_done(self):
        return _check(_c.ypr_pruner_steps_done(self._hh()))

    def report(self, json=False):
        """Parameters and MACs before/after and channels per layer: text, or a
        dict when @p json is true."""
        text = _take_text(lambda out: _c.ypr_pruner_report(self._hh(), out, 1 if json else 0))
        return _json.loads(text) if json else text

    def plot(self, path):
        """PNG bar chart of channels per group before and after."""
        _check(_c.ypr_pruner_plot(self._hh(), os.fsencode(path)))

    def sensitivity(self, dataset, size=320, max_images=8, ratios=(0.25, 0.5, 0.75), plot=None):
        """Prune each group alone at each ratio, measure mAP@0.5 on the first
        max_images images of dataset; returns the table as a dict (and plans
        per-group ratios when a MAC budget is set)."""
        arr = (ctypes.c_double * len(ratios))(*[float(r) for r in ratios])
        text = _take_text(lambda out: _c.ypr_pruner_sensitivity(
            self._hh(), _live(dataset, "dataset"), size, max_images, arr, len(ratios), None, None,
            out))
        if plot:
            _check(_c.ypr_pruner_plot_sensitivity(self._hh(), os.fsencode(plot)))
        return _json.loads(text)



class Quantizer(_Handle):
    """Post-training quantization of a copy of a model (wraps ypr_quantizer).
    Settings: scheme ("dpu", "per-channel"), method ("minmax", "percentile",
    "entropy", "mse"), calib_images, size, percentile, bias_correction,
    keep_worst, hard_act, sqnr_images, search_images, act_lut; keep_float: fnmatch
    patterns of layers left in float. qat() fine-tunes the quantized model
    quantization-aware, convert() rounds a fine-tuned one."""

    _free = staticmethod(_c.ypr_quantizer_free)
    _SETTINGS = {
        "scheme": (QUANT_SCHEME, SCHEMES), "method": (QUANT_METHOD, CALIB_METHODS),
        "calib_images": (QUANT_CALIB_IMAGES, None), "size": (QUANT_INPUT_SIZE, None),
        "percentile": (QUANT_PERCENTILE, float), "bias_correction": (QUANT_BIAS_CORRECTION, None),
        "keep_worst": (QUANT_KEEP_WORST, None), "hard_act": (QUANT_HARD_ACT, None),
        "sqnr_images": (QUANT_SQNR_IMAGES, None), "search_images": (QUANT_SEARCH_IMAGES, None),
        "act_lut": (QUANT_ACT_LUT, None),
    }

    def __init__(self, model, calib, keep_float=(), **settings):
        unknown = set(settings) - set(self._SETTINGS)
        if unknown:
            raise TypeError("unknown quantizer setting(s): %s" % ", ".join(sorted(unknown)))
        h = _P()
        _check(_c.ypr_quantizer_create(model._h, calib._h, ctypes.byref(h)))
        self._h = h
        self._calib = calib   # the dataset must outlive the quantizer
        for name, value in settings.items():
            self.set(name, value)
        for pattern in ([keep_float] if isinstance(keep_float, str) else keep_float):
            rc = _c.ypr_quantizer_keep_float(self._h, pattern.encode())
            if rc != ENOTFOUND:   # kept either way; a pattern may match only after fusing
                _check(rc)

    def set(self, name, value):
        key, kind = self._SETTINGS[name]
        if isinstance(kind, dict):
            if value not in kind:
                raise ValueError("%s: %r is not one of %s" % (name, value, sorted(kind)))
            _check(_c.ypr_quantizer_set_int(self._h, key, kind[value]))
        elif kind is float:
            _check(_c.ypr_quantizer_set_float(self._h, key, float(value)))
        else:
            _check(_c.ypr_quantizer_set_int(self._h, key, int(value)))

    def get(self, name):
        v = ctypes.c_double()
        _check(_c.ypr_quantizer_get_float(self._h, self._SETTINGS[name][0], ctypes.byref(v)))
        return v.value

    def calibrate(self):
        _check(_c.ypr_quantizer_calibrate(self._h))
        return self

    def quantize(self):
        """The fake-quantized Model (calibrates when needed)."""
        h = _P()
        _check(_c.ypr_quantizer_quantize(self._h, ctypes.byref(h)))
        return Model(h.value)

    def convert(self, trained):
        """A fine-tuned quantized Model (from quantize(), trained) rounded
        onto its steps' grids: the form quantize() returns."""
        h = _P()
        _check(_c.ypr_quantizer_convert(self._h, _live(trained, "model"), ctypes.byref(h)))
        return Model(h.value)

    def qat(self, train, epochs, val=None, **trainer_settings):
        """Quantization-aware training: quantize(), fine-tune that model
        `epochs` epochs through its frozen steps (a Trainer on `train`,
        defaults batch 16, nominal_batch = batch, no warm-up, lr0 1e-4,
        no per-epoch evaluation; trainer_settings override), then convert()."""
        hyp = {"warmup_epochs": 0, "lr0": 1e-4}
        extra = trainer_settings.pop("hyp", None) or {}
        if not isinstance(extra, dict):
            raise TypeError("qat: hyp must be a dict of hyper-parameters")
        hyp.update(extra)
        settings = {"batch": 16, "eval": 0}
        settings.update(trainer_settings)
        settings.setdefault("nominal_batch", settings["batch"])
        settings["epochs"] = epochs
        model = self.quantize()
        try:
            with Trainer(model, train, val, hyp=hyp, **settings) as t:
                t.run()
            return self.convert(model)
        finally:
            model.close()

    def report(self, json_format=False):
        text = _take_text(lambda out: _c.ypr_quantizer_report(self._h, out, 1 if json_format else 0))
        if json_format:
            import json
            return json.loads(text)
        return text

    def plot(self, path):
        _check(_c.ypr_quantizer_plot(self._h, path.encode()))

class Trainer(_Handle):
    """Train @p model in place on @p train, evaluated on @p val after each
    epoch (None: no evaluation) (wraps ypr_trainer).

    Settings are keyword arguments of the constructor, or set()/get() by
    name: epochs, batch, size, workers, seed, loss ('ota' or 'simple'),
    linear_lr, ema, eval, nominal_batch, freeze, augment, eval_images,
    hyp_preset ('p5' or 'tiny'; resets every hyper-parameter), distill,
    sparsity (None, 'bn' or 'group'), sparsity_lambda, prune_steps,
    prune_every. hyp: {name: value} of YOLOv7's hyper-parameters ('lr0',
    'mosaic' …) or the path of a hyp.*.yaml; output: the folder for
    last/best checkpoints and results.csv; teacher: a Model to distill from;
    pruner: a Pruner on @p model (prune while training, sparse training's
    groups). The trainer keeps the objects it borrows alive."""

    _free = staticmethod(_c.ypr_trainer_free)
    # name: (key, kind) with kind "int", "float" or an enum table
    _SETTINGS = {
        "epochs": (TRAIN_EPOCHS, "int"), "batch": (TRAIN_BATCH, "int"),
        "size": (TRAIN_SIZE, "int"), "workers": (TRAIN_WORKERS, "int"),
        "seed": (TRAIN_SEED, "int"), "loss": (TRAIN_LOSS, LOSSES),
        "linear_lr": (TRAIN_LINEAR_LR, "int"), "ema": (TRAIN_EMA, "int"),
        "eval": (TRAIN_EVAL, "int"), "nominal_batch": (TRAIN_NOMINAL_BATCH, "int"),
        "freeze": (TRAIN_FREEZE, "int"), "augment": (TRAIN_AUGMENT, "int"),
        "eval_images": (TRAIN_EVAL_IMAGES, "int"), "hyp_preset": (TRAIN_HYP_PRESET, HYP_PRESETS),
        "distill": (TRAIN_DISTILL, "float"), "sparsity": (TRAIN_SPARSITY, REGULARIZERS),
        "sparsity_lambda": (TRAIN_SPARSITY_LAMBDA, "float"),
        "prune_steps": (TRAIN_PRUNE_STEPS, "int"), "prune_every": (TRAIN_PRUNE_EVERY, "int"),
    }

    def __init__(self, model, train, val=None, hyp=None, output=None, teacher=None, pruner=None,
                 callback=None, **settings):
        unknown = set(settings) - set(self._SETTINGS)
        if unknown:
            raise TypeError("unknown trainer setting(s): %s" % ", ".join(sorted(unknown)))
        self._model, self._train, self._val = model, train, val
        self._teacher = self._pruner = None
        self._floats = {}
        self.callback = callback
        h = _P()
        _check(_c.ypr_trainer_create(_live(model, "model"), _live(train, "training dataset"),
                                     _live(val, "validation dataset") if val is not None else None,
                                     ctypes.byref(h)))
        self._h = h
        if "hyp_preset" in settings:   # a preset resets the hyper-parameters: first
            self.set("hyp_preset", settings.pop("hyp_preset"))
        if isinstance(hyp, (str, bytes, os.PathLike)):
            _check(_c.ypr_trainer_load_hyp(self._hh(), os.fsencode(hyp)))
        elif hyp:
            for k, v in hyp.items():
                self.set_hyp(k, v)
        for k, v in settings.items():
            self.set(k, v)
        if output is not None:
            self.set_output(output)
        if teacher is not None:
            self.set_teacher(teacher)
        if pruner is not None:
            self.set_pruner(pruner)

    def _hh(self):
        _live(self._model, "the trainer's model")
        _live(self._train, "the trainer's training dataset")
        if self._val is not None:
            _live(self._val, "the trainer's validation dataset")
        return _live(self, "trainer")

    @property
    def model(self):
        return self._model

    def set(self, name, value):
        """Set a setting by name (see the class documentation)."""
        if name not in self._SETTINGS:
            raise KeyError("unknown trainer setting %r" % name)
        key, kind = self._SETTINGS[name]
        if kind == "float":
            _check(_c.ypr_trainer_set_float(self._hh(), key, float(value)))
            self._floats[name] = float(value)
            return
        if isinstance(kind, dict):
            v = -1 if value is None and name == "sparsity" else _enum(name, kind, value)
        else:
            v = int(value)
        _check(_c.ypr_trainer_set_int(self._hh(), key, v))

    def get(self, name):
        """An integer setting's value (enum settings as their integer); float
        settings as last set here (None if never set)."""
        key, kind = self._SETTINGS[name]
        if kind == "float":
            return self._floats.get(name)
        v = _i64()
        _check(_c.ypr_trainer_get_int(self._hh(), key, ctypes.byref(v)))
        return v.value

    def set_hyp(self, key, value):
        """Set one YOLOv7 hyper-parameter by its hyp.yaml key."""
        _check(_c.ypr_trainer_set_hyp(self._hh(), key.encode(), float(value)))

    def get_hyp(self, key):
        v = ctypes.c_double()
        _check(_c.ypr_trainer_get_hyp(self._hh(), key.encode(), ctypes.byref(v)))
        return v.value

    def load_hyp(self, path):
        """Read a YOLOv7 hyp.*.yaml over the current values (all or nothing)."""
        _check(_c.ypr_trainer_load_hyp(self._hh(), os.fsencode(path)))

    def set_output(self, directory):
        """Write last/best.safetensors, results.csv and results.png into @p directory."""
        _check(_c.ypr_trainer_set_output(self._hh(), os.fsencode(directory)
                                         if directory is not None else None))

    def set_teacher(self, teacher):
        """Distill from @p teacher (a Model; None removes it)."""
        _check(_c.ypr_trainer_set_teacher(self._hh(), _live(teacher, "teacher")
                                          if teacher is not None else None))
        self._teacher = teacher

    def set_pruner(self, pruner):
        """Prune while training with @p pruner (a Pruner on this trainer's model)."""
        _check(_c.ypr_trainer_set_pruner(self._hh(), pruner._hh() if pruner is not None
                                         else None))
        self._pruner = pruner

    def resume(self, checkpoint):
        """Continue the run of a checkpoint written by a trainer's output."""
        _check(_c.ypr_trainer_resume(self._hh(), os.fsencode(checkpoint)))
        return self

    def run(self, callback=None):
        """Train the remaining epochs. callback (or the constructor's):
        callable(epoch, epochs, iter, iters, values) after every batch and once
        more after each epoch (iter == iters, with the epoch's results);
        values is a dict named as TRAIN_VALUES. A truthy return cancels
        (YoloprError with code ECANCELED); an exception raised by it cancels
        too and is re-raised here."""
        h = self._hh()
        cb = callback if callback is not None else self.callback
        if cb is None:
            _check(_c.ypr_trainer_run(h))
            return self
        raised = []

        def trampoline(_user, epoch, epochs, it, iters, values):
            try:
                v = {name: values[k] for k, name in enumerate(TRAIN_VALUES)}
                return 1 if cb(epoch, epochs, it, iters, v) else 0
            except BaseException as exc:  # carried out of C, re-raised below
                raised.append(exc)
                return 1

        fn = _TRAIN_FN(trampoline)   # kept alive by this frame during the call
        _check(_c.ypr_trainer_set_callback(h, fn, None))
        try:
            rc = _c.ypr_trainer_run(h)
        finally:
            _c.ypr_trainer_set_callback(h, _TRAIN_FN(), None)
        if raised:
            raise raised[0]
        _check(rc)
        return self

    def step(self, images, targets):
        """One optimizer step on a batch: images float32 [n, 3, S, S] (RGB in
        [0, 1]), targets float32 [nt, 6] rows (image, class, x, y, w, h
        normalized). Returns {'box', 'obj', 'cls', 'total'}."""
        _need_numpy("Trainer.step")
        x = np.ascontiguousarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3]:
            raise ValueError("step expects images [n, 3, S, S], got shape %r" % (x.shape,))
        t = np.ascontiguousarray(targets, dtype=np.float32)
        if t.size == 0:
            t = t.reshape(0, 6)
        if t.ndim != 2 or t.shape[1] != 6:
            raise ValueError("targets must be [nt, 6], got shape %r" % (t.shape,))
        loss = (ctypes.c_double * 4)()
        _check(_c.ypr_trainer_step(self._hh(), x.ctypes.data, x.shape[0], x.shape[2],
                                   t.ctypes.data if t.shape[0] else None, t.shape[0], loss))
        return dict(zip(("box", "obj", "cls", "total"), loss))

    @property
    def epochs_done(self):
        return _check(_c.ypr_trainer_epochs_done(self._hh()))

    def result(self, epoch):
        """The values of completed epoch @p epoch, a dict named as TRAIN_VALUES."""
        out = {}
        for k, name in enumerate(TRAIN_VALUES):
            v = ctypes.c_double()
            _check(_c.ypr_trainer_result(self._hh(), epoch, k, ctypes.byref(v)))
            out[name] = v.value
        return out

    def results(self):
        """One dict per completed epoch (as result())."""
        return [self.result(e) for e in range(self.epochs_done)]

    def memory(self):
        """Bytes held by the training state, by part."""
        parts = (_i64 * 6)()
        _check(_c.ypr_trainer_memory(self._hh(), parts))
        return dict(zip(("activations", "gradient_buffers", "parameter_gradients", "momentum",
                         "ema", "other"), parts))
