#!/usr/bin/python3
"""Our ONNX exports through python3-onnx: onnx.checker (with full shape
inference) accepts them, the declared output shapes are what shape inference
derives, and a small NumPy interpreter of the ops we write (written here from
the ONNX operator specs, independent of the library) reproduces the
library's own outputs within 1e-4. Quantized models (both schemes) export in
QDQ form: the checker accepts them, and the interpreter (QuantizeLinear and
DequantizeLinear as the spec defines them: float32 x / scale, round half to
even, saturate; (q - zero) * scale) reproduces the fake-quantized outputs
within one output step for at least 99 % of the values (the interpreter sums
convolutions in float64, the library in float32: a value within rounding
error of a tie may land one step apart, and such a flip travels on).
python3-onnx 1.12 has no reference evaluator (onnx.reference came in 1.13).
Skips (77) without python3-onnx/NumPy.

Env: YOLOPR_LIBRARY (the shared library), YPR_TEST_DATA (tests/data).
"""
import os
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError:
    print("python3-onnx or NumPy missing: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python"))
import yolopr  # noqa: E402

DATA = os.environ.get("YPR_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))


def conv(x, w, b, a):
    s = a.get("strides", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    d = a.get("dilations", [1, 1])
    g = a.get("group", 1)
    n, c, h, wd = x.shape
    o, ci, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    oh = (h + p[0] + p[2] - (kh - 1) * d[0] - 1) // s[0] + 1
    ow = (wd + p[1] + p[3] - (kw - 1) * d[1] - 1) // s[1] + 1
    y = np.zeros((n, o, oh, ow), np.float64)
    og = o // g
    for gi in range(g):
        xs = xp[:, gi * ci:(gi + 1) * ci]
        ws = w[gi * og:(gi + 1) * og].astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, :, ky * d[0]:ky * d[0] + s[0] * (oh - 1) + 1:s[0],
                           kx * d[1]:kx * d[1] + s[1] * (ow - 1) + 1:s[1]]
                y[:, gi * og:(gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, ky, kx])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def maxpool(x, a):
    k, s, p = a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=-np.inf)
    oh = (xp.shape[2] - k[0]) // s[0] + 1
    ow = (xp.shape[3] - k[1]) // s[1] + 1
    y = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for ky in range(k[0]):
        for kx in range(k[1]):
            y = np.maximum(y, xp[:, :, ky:ky + s[0] * (oh - 1) + 1:s[0], kx:kx + s[1] * (ow - 1) + 1:s[1]])
    return y


def per_axis(v, x, axis):
    """A scale or zero point v broadcast along `axis` of x (a scalar as is)."""
    v = np.asarray(v)
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    shape = [1] * x.ndim
    shape[axis] = v.size
    return v.reshape(shape)


def quantize(x, s, z, axis):
    lo, hi = (-128, 127) if z.dtype == np.int8 else (0, 255)
    q = np.rint(x.astype(np.float32) / per_axis(s, x, axis).astype(np.float32))
    return np.clip(q + per_axis(z, x, axis).astype(np.int64), lo, hi).astype(z.dtype)


def dequantize(q, s, z, axis):
    d = q.astype(np.int64) - per_axis(z, q, axis).astype(np.int64)
    return (d.astype(np.float32) * per_axis(s, q, axis).astype(np.float32)).astype(np.float32)


def run(model, x):
    """Evaluate the ops our exporter writes, in float64."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for nd in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in nd.attribute}
        a = {k: (v.decode() if isinstance(v, bytes) else list(v) if isinstance(v, (list, tuple)) or
                 hasattr(v, "__len__") and not isinstance(v, (str, np.ndarray)) else v) for k, v in a.items()}
        i = [env[n] if n else None for n in nd.input]
        op = nd.op_type
        if op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "BatchNormalization":
            sc = i[1] / np.sqrt(i[4].astype(np.float64) + a.get("epsilon", 1e-5))
            y = i[0] * sc.reshape(1, -1, 1, 1) + (i[2] - i[3] * sc).reshape(1, -1, 1, 1)
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "HardSigmoid":
            y = np.clip(a["alpha"] * i[0] + a["beta"], 0, 1)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            y = np.where(i[0] > 0, i[0], a.get("alpha", 0.01) * i[0])
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Sum":
            y = sum(i)
        elif op == "Identity":
            y = i[0]
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif op == "MaxPool":
            y = maxpool(i[0], a)
        elif op == "Resize":
            assert a["mode"] == "nearest" and a["coordinate_transformation_mode"] == "asymmetric"
            assert a["nearest_mode"] == "floor"
            s = i[2].astype(np.int64)
            y = i[0].repeat(s[2], axis=2).repeat(s[3], axis=3)
        elif op == "Slice":
            sl = [slice(None)] * 4
            for st, en, ax, sp in zip(i[1], i[2], i[3], i[4]):
                sl[ax] = slice(st, min(en, i[0].shape[ax]), sp)
            y = i[0][tuple(sl)]
        elif op == "Reshape":
            y = i[0].reshape(i[1])
        elif op == "Transpose":
            y = i[0].transpose(a["perm"])
        elif op == "QuantizeLinear":
            y = quantize(i[0], i[1], i[2], a.get("axis", 1))
        elif op == "DequantizeLinear":
            y = dequantize(i[0], i[1], i[2], a.get("axis", 1)).astype(np.float64)
        else:
            raise AssertionError("unexpected op " + op)
        env[nd.output[0]] = y
    return [env[o.name] for o in model.graph.output]


def check(m, path, size):
    m.export_onnx(path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert model.opset_import[0].version == 13 and model.ir_version == 7
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["nc"] == str(m.num_classes) and "anchors" in meta and "strides" in meta, meta
    for o in inferred.graph.output:
        dims = [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]
        assert dims[0] == "batch" and dims[4] == m.num_classes + 5, dims
    x = np.random.default_rng(5).random((2, 3, size, size)).astype(np.float32)
    ours = m.forward(x)
    ref = run(model, x)
    assert len(ref) == len(ours)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape, (a.shape, b.shape)
        err = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))
        assert err < 1e-4, err


def output_steps(model):
    """Per graph output, the scale of the DequantizeLinear its head map came through."""
    made = {o: n for n in model.graph.node for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    steps = []
    for o in model.graph.output:
        n = made[o.name]
        while n.op_type in ("Transpose", "Reshape"):
            n = made[n.input[0]]
        assert n.op_type == "DequantizeLinear", n.op_type
        steps.append(float(inits[n.input[1]]))
    return steps


def check_qdq(m, path, size):
    m.export_onnx(path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, strict_mode=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert "quantization" in meta
    ops = [n.op_type for n in model.graph.node]
    inits = {t.name: t for t in model.graph.initializer}
    int8 = [t for t in inits.values() if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert ops.count("QuantizeLinear") > 5 and len(int8) == ops.count("Conv"), (ops, len(int8))
    x = np.random.default_rng(5).random((2, 3, size, size)).astype(np.float32)
    ours = m.forward(x)
    ref = run(model, x)
    for a, b, step in zip(ours, ref, output_steps(model)):
        d = np.abs(a - b) / step
        assert (d > 1.001).mean() <= 0.01 and (d < 1e-3).mean() >= 0.9, (d.max(), (d > 1.001).mean())


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def check_flags_float(m, tmp):
    """A float model: int8=False writes what the default writes, int8=True
    is refused (EINVAL, naming why) and writes nothing."""
    auto, flt, qdq = (os.path.join(tmp, n) for n in ("auto.onnx", "float.onnx", "qdq.onnx"))
    m.export_onnx(auto)
    m.export_onnx(flt, int8=False)
    assert read_bytes(auto) == read_bytes(flt)
    try:
        m.export_onnx(qdq, int8=True)
    except yolopr.YoloprError as e:
        assert e.code == yolopr.EINVAL and "INT8" in str(e), (e.code, str(e))
    else:
        raise AssertionError("int8=True exported a float model")
    assert not os.path.exists(qdq)


def check_flags_quantized(q, tmp):
    """A quantized model: int8=True writes the automatic (QDQ) file;
    int8=False plain float ops whose weights are the model's float view,
    on the grid of the tensor's scales, and no Q/DQ node."""
    auto, flt, qdq = (os.path.join(tmp, n) for n in ("auto.onnx", "float.onnx", "qdq.onnx"))
    q.export_onnx(auto)
    q.export_onnx(qdq, int8=True)
    assert read_bytes(auto) == read_bytes(qdq)
    q.export_onnx(flt, int8=False)
    model = onnx.load(flt)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops, ops
    inits = {t.name: t for t in model.graph.initializer}
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in inits.values()
               if t.data_type != onnx.TensorProto.INT64)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) > 5
    on_grid = 0
    for n in convs:
        w = numpy_helper.to_array(inits[n.input[1]])
        info = q.tensor_info(n.input[1])
        assert np.array_equal(w, info.floats), n.input[1]
        if info.dtype == "I8":
            shape = (-1,) + (1,) * (w.ndim - 1)
            s = np.asarray(info.scales, np.float64).reshape(shape)
            z = np.asarray(info.zero_points, np.float64).reshape(shape)
            grid = ((info.values.astype(np.float64) - z) * s).astype(np.float32)
            assert np.array_equal(grid, w), n.input[1]
            on_grid += 1
    assert on_grid == len(convs), (on_grid, len(convs))
    # the same net, without the activation steps: not the QDQ file's outputs
    x = np.random.default_rng(7).random((1, 3, 32, 32)).astype(np.float32)
    a = run(model, x)
    b = run(onnx.load(qdq), x)
    assert any(not np.allclose(u, v, rtol=0, atol=1e-7) for u, v in zip(a, b))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        m = yolopr.Model.from_cfg(os.path.join(DATA, "model", "mini.yaml"), seed=3)
        m.load_weights(os.path.join(DATA, "model", "mini.safetensors"))
        m.set_threads(1)
        m._set_setting(yolopr.INPUT_SIZE, False, 32)
        check(m, path, 32)             # BatchNorm, RepConv branches, ReOrg, implicit layers
        check_flags_float(m, tmp)
        assert m.plan_name == "float (%s)" % yolopr.simd_active(), m.plan_name
        m.fuse()
        check(m, path, 32)             # fused: Conv with bias
        # a PyTorch export read back and written again by us
        t = yolopr.Model.load(os.path.join(DATA, "onnx", "tiny_opset13.onnx"))
        t.set_threads(1)
        check(t, path, 32)
        # quantized: the QDQ form
        calib = yolopr.Dataset.synth(4, 64, 3)
        for scheme in ("dpu", "per-channel"):
            q = m.quantize(calib, scheme=scheme, calib_images=2, size=64, sqnr_images=0,
                           hard_act=int(scheme == "dpu"))
            q.set_threads(1)
            q._set_setting(yolopr.INPUT_SIZE, False, 32)
            check_qdq(q, path, 32)
            assert q.plan_name.startswith("int8 ("), q.plan_name   # the INT8 runtime ran
            check_flags_quantized(q, tmp)
            back = yolopr.Model.load(path)   # and back: the same simulation
            back.set_threads(1)
            x = np.random.default_rng(6).random((1, 3, 32, 32)).astype(np.float32)
            for a, b in zip(q.forward(x), back.forward(x)):
                assert np.array_equal(a, b)
    print("onnx export: checker, shape inference and a NumPy interpreter agree (float and QDQ); "
          "export_onnx(int8=None/True/False) writes the form asked for")


if __name__ == "__main__":
    main()
