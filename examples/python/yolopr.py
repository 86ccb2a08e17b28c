"""libyolopr through ctypes: one module, classes wrapping the library's handles.

The shared library is found, in order: $YOLOPR_LIBRARY; a libyolopr.so* next
to this file; the soname libyolopr.so.0 through the dynamic loader.
Errors are raised as YoloprError (with .code and the library's detailed
message). NumPy is used where present (forward takes and returns float32
arrays); without it, forward takes any buffer of float32 values.
"""
import ctypes
import glob
import os

try:
    import numpy as np
except ImportError:  # pragma: no cover - optional
    np = None

__all__ = ["YoloprError", "Model", "version", "simd_active", "library"]


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
_sig("ypr_model_detect", ctypes.c_int, _P, _P, ctypes.c_int, ctypes.c_int, _P, ctypes.c_int,
     ctypes.POINTER(ctypes.c_int))
_sig("ypr_model_set_threads", ctypes.c_int, _P, ctypes.c_int)

CONF_THRESHOLD, IOU_THRESHOLD, MAX_DET, MULTI_LABEL, AGNOSTIC_NMS, INPUT_SIZE = range(100, 106)


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


def version():
    return _c.ypr_version_string().decode()


def simd_active():
    return _c.ypr_simd_active().decode()


class Model:
    """A YOLOv7-family model (wraps ypr_model)."""

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
        """Load our checkpoint (.safetensors with a net description), a cfg or a built-in."""
        h = _P()
        _check(_c.ypr_model_load(os.fsencode(path), ctypes.byref(h)))
        return cls(h.value)

    def close(self):
        if self._h:
            _c.ypr_model_free(self._h)
            self._h = _P()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def load_weights(self, path, strict=False):
        _check(_c.ypr_model_load_weights(self._h, os.fsencode(path), int(strict)))

    def save(self, path):
        _check(_c.ypr_model_save(self._h, os.fsencode(path)))

    def fuse(self):
        _check(_c.ypr_model_fuse(self._h))

    def set_threads(self, n):
        _check(_c.ypr_model_set_threads(self._h, n))

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

    def detect(self, image, conf=0.25, iou=0.45, size=640, max_det=300):
        """image: uint8 [H, W, 3] RGB. Returns rows (x1, y1, x2, y2, conf, class)."""
        if np is None:
            raise RuntimeError("detect needs NumPy")
        img = np.ascontiguousarray(image, dtype=np.uint8)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("detect expects an RGB image [H, W, 3]")
        _check(_c.ypr_model_set_float(self._h, CONF_THRESHOLD, conf))
        _check(_c.ypr_model_set_float(self._h, IOU_THRESHOLD, iou))
        _check(_c.ypr_model_set_int(self._h, INPUT_SIZE, size))
        _check(_c.ypr_model_set_int(self._h, MAX_DET, max_det))
        out = np.zeros((max_det, 6), dtype=np.float32)
        count = ctypes.c_int()
        _check(_c.ypr_model_detect(self._h, img.ctypes.data, img.shape[1], img.shape[0],
                                   out.ctypes.data, max_det, ctypes.byref(count)))
        return out[:count.value].copy()
