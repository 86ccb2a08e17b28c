#!/usr/bin/python3
"""Seed corpus for tests/fuzz/fuzz_onnx.c: small ONNX detectors (a few KB)
that reach every path of the importer — each supported op, the SiLU,
hard-swish, ReOrg and head patterns, Constant forms, opset 9 Upsample,
Resize by sizes, QDQ (QuantizeLinear/DequantizeLinear on activations,
per-channel INT8 and in-graph quantized weights, INT32 biases, our
"quantization" metadata) — plus a truncated file and one with an unknown op.

    /usr/bin/python3 tests/fuzz/make_onnx_corpus.py   (python3-onnx, NumPy)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "onnx")
rng = np.random.default_rng(1)


def init(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)   # a scalar for an int


def model(nodes, inits, outputs, opset=13, meta=None, size=32):
    g = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="seed")
    m.ir_version = 7
    for k, v in (meta or {"anchors": "[[16,16]]", "na": "1"}).items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    return m


def conv(name, x, out, cin, cout, k=1, s=1, bias=True, group=1):
    p = k // 2
    ins = [x, name + ".weight"] + ([name + ".bias"] if bias else [])
    node = helper.make_node("Conv", ins, [out], name=name, kernel_shape=[k, k], strides=[s, s],
                            pads=[p, p, p, p], group=group)
    inits = [init(name + ".weight", cout, cin // group, k, k)] + ([init(name + ".bias", cout)] if bias else [])
    return [node], inits


def save(name, m):
    onnx.save(m, os.path.join(OUT, name))


def main():
    os.makedirs(OUT, exist_ok=True)
    # 1. the smallest detector: one conv, one level, 1 anchor x (5 + 1)
    n, i = conv("head", "images", "out", 3, 6, 8, 8)
    n[0].attribute[0].ints[:] = [8, 8]
    n[0].attribute[-2].ints[:] = [0, 0, 0, 0]
    save("minimal.onnx", model(n, i, ["out"]))

    # 2. every op of a YOLOv7 export, PyTorch style (opset 13)
    N, I = [], []
    def add(nodes_inits):
        N.extend(nodes_inits[0])
        I.extend(nodes_inits[1])
    add(conv("/model.0/conv/Conv", "images", "c0", 3, 4, 3, 2, bias=False))
    I += [init("bn.w", 4), init("bn.b", 4), init("bn.m", 4),
          numpy_helper.from_array(np.ones(4, np.float32), "bn.v")]
    N += [helper.make_node("BatchNormalization", ["c0", "bn.w", "bn.b", "bn.m", "bn.v"], ["b0"],
                           name="/model.0/bn/BatchNormalization", epsilon=1e-3, momentum=0.97),
          helper.make_node("Sigmoid", ["b0"], ["s0"], name="/model.0/act/Sigmoid"),
          helper.make_node("Mul", ["b0", "s0"], ["a0"], name="/model.0/act/Mul"),
          helper.make_node("MaxPool", ["a0"], ["p1"], name="/model.1/m/MaxPool", kernel_shape=[2, 2],
                           strides=[2, 2]),
          helper.make_node("LeakyRelu", ["p1"], ["l1"], name="/model.2/LeakyRelu", alpha=0.1),
          helper.make_node("MaxPool", ["l1"], ["sp"], name="/model.3/m/MaxPool", kernel_shape=[5, 5],
                           strides=[1, 1], pads=[2, 2, 2, 2]),
          helper.make_node("Concat", ["l1", "sp"], ["cat"], name="/model.4/Concat", axis=1),
          helper.make_node("Relu", ["cat"], ["r"], name="/model.5/Relu"),
          helper.make_node("Constant", [], ["sc"], name="/model.6/Constant",
                           value=numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32))),
          helper.make_node("Resize", ["r", "", "sc"], ["up"], name="/model.6/Resize",
                           mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor"),
          helper.make_node("Identity", ["up"], ["upi"], name="id")]
    add(conv("/model.7/conv/Conv", "upi", "c7", 8, 4, 1, 1))
    N += [helper.make_node("Add", ["c7", "b0"], ["sum"], name="/model.8/Add"),
          helper.make_node("HardSigmoid", ["sum"], ["hs"], name="hsig", alpha=1.0 / 6, beta=0.5),
          helper.make_node("Mul", ["sum", "hs"], ["hsw"], name="hswish"),
          helper.make_node("HardSwish", ["hsw"], ["hsw2"], name="hswish2"),
          helper.make_node("Sum", ["hsw2", "sum", "hsw"], ["s3"], name="sum3")]
    I += [init("model.9.ia.0.implicit", 1, 4, 1, 1)]
    N += [helper.make_node("Add", ["model.9.ia.0.implicit", "s3"], ["ia"], name="/model.9/ia.0/Add")]
    add(conv("/model.9/m.0/Conv", "ia", "m0", 4, 21, 1, 1))
    I += [init("model.9.im.0.implicit", 1, 21, 1, 1)]
    N += [helper.make_node("Mul", ["m0", "model.9.im.0.implicit"], ["im"], name="/model.9/im.0/Mul"),
          helper.make_node("Constant", [], ["shape"], name="/model.9/Constant", value_ints=[1, 3, 7, 16, 16]),
          helper.make_node("Reshape", ["im", "shape"], ["rs"], name="/model.9/Reshape"),
          helper.make_node("Transpose", ["rs"], ["output0"], name="/model.9/Transpose", perm=[0, 1, 3, 4, 2])]
    save("yolo_ops.onnx", model(N, I, ["output0"], meta={"anchors": "[[10,13,16,30,33,23]]",
                                                          "names": '["a","b"]', "input_size": "32"}))

    # 3. ReOrg as four strided slices, opset 9 Upsample, Resize by sizes (opset 11)
    N = []
    I = [ints("st%d" % q, v) for q, v in enumerate([[0, 0], [1, 0], [0, 1], [1, 1]])]
    I += [ints("en", [2 ** 62, 2 ** 62]), ints("ax", [2, 3]), ints("stp", [2, 2])]
    for q in range(4):
        N.append(helper.make_node("Slice", ["images", "st%d" % q, "en", "ax", "stp"], ["q%d" % q], name="sl%d" % q))
    N.append(helper.make_node("Concat", ["q0", "q1", "q2", "q3"], ["reorg"], name="/model.0/Concat", axis=1))
    n2, i2 = conv("head", "reorg", "c", 12, 6, 4, 4)
    n2[0].attribute[-2].ints[:] = [0, 0, 0, 0]
    I += i2 + [ints("sizes", [1, 6, 8, 8]), numpy_helper.from_array(np.zeros(0, np.float32), "roi")]
    N += n2 + [helper.make_node("Resize", ["c", "roi", "", "sizes"], ["out"], name="rs", mode="nearest",
                                coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_floor")]
    save("reorg_resize.onnx", model(N, I, ["out"], opset=11))
    n3, i3 = conv("head", "images", "c", 3, 6, 8, 8)
    n3[0].attribute[-2].ints[:] = [0, 0, 0, 0]
    n3.append(helper.make_node("Upsample", ["c", "scales"], ["out"], name="up", mode="nearest"))
    i3.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    save("upsample9.onnx", model(n3, i3, ["out"], opset=9))

    # 3b. a dynamic-shape head: Shape/Gather/Unsqueeze/Concat into the Reshape
    n5, i5 = conv("head", "images", "c", 3, 6, 8, 8)
    n5[0].attribute[-2].ints[:] = [0, 0, 0, 0]
    i5 += [ints("i0", 0), ints("i2", 2), ints("i3", 3), ints("ax0", [0]), ints("nano", [1, 6])]
    n5 += [helper.make_node("Shape", ["c"], ["shp"], name="shape")]
    for k in ("0", "2", "3"):
        n5 += [helper.make_node("Gather", ["shp", "i" + k], ["g" + k], name="gather" + k, axis=0),
               helper.make_node("Unsqueeze", ["g" + k, "ax0"], ["u" + k], name="unsq" + k)]
    n5 += [helper.make_node("Concat", ["u0", "nano", "u2", "u3"], ["tgt"], name="tgt", axis=0),
           helper.make_node("Reshape", ["c", "tgt"], ["r"], name="reshape"),
           helper.make_node("Transpose", ["r"], ["out"], name="transpose", perm=[0, 1, 3, 4, 2])]
    save("dynamic_head.onnx", model(n5, i5, ["out"]))

    # 5. QDQ, ONNX Runtime / PyTorch style: UINT8 input, per-channel INT8 weights (axis 0),
    # INT32 bias, LeakyRelu, a QDQ pair after MaxPool repeating its input's step, a head
    # weight quantized in the graph (Q then DQ of a float initializer), our metadata
    def q(name, x, s, z, out, **kw):
        return helper.make_node("QuantizeLinear", [x, s, z], [out], name=name, **kw)

    def dq(name, x, s, z, out, **kw):
        return helper.make_node("DequantizeLinear", [x, s, z], [out], name=name, **kw)

    rq = np.random.default_rng(5)   # its own: the seeds above stay as they were
    w0 = rq.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    I = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in [
        ("x_s", 1 / 255, np.float32), ("x_z", 0, np.uint8), ("a_s", 0.05, np.float32),
        ("a_z", 0, np.int8), ("h_s", 0.1, np.float32), ("h_z", 0, np.int8)]]
    I += [numpy_helper.from_array(w0, "w0_q"),
          numpy_helper.from_array(np.array([0.01, 0.02, 0.005, 0.01], np.float32), "w0_s"),
          numpy_helper.from_array(np.zeros(4, np.int8), "w0_z"),
          numpy_helper.from_array(np.array([100, -50, 0, 7], np.int32), "b0_q"),
          numpy_helper.from_array(np.array([0.01, 0.02, 0.005, 0.01], np.float32) / 255, "b0_s"),
          numpy_helper.from_array(np.zeros(4, np.int32), "b0_z"),
          numpy_helper.from_array((rq.standard_normal((6, 4, 4, 4)) * 0.3).astype(np.float32),
                                  "head.weight"),
          numpy_helper.from_array(np.float32(0.02), "hw_s"),
          numpy_helper.from_array(np.int8(0), "hw_z")]
    N = [q("x/q", "images", "x_s", "x_z", "xq"), dq("x/dq", "xq", "x_s", "x_z", "xd"),
         dq("w0/dq", "w0_q", "w0_s", "w0_z", "w0", axis=0), dq("b0/dq", "b0_q", "b0_s", "b0_z", "b0", axis=0),
         helper.make_node("Conv", ["xd", "w0", "b0"], ["c0"], name="model.0.conv", kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1]),
         helper.make_node("LeakyRelu", ["c0"], ["l0"], name="model.0.act", alpha=26 / 256),
         q("l0/q", "l0", "a_s", "a_z", "l0q"), dq("l0/dq", "l0q", "a_s", "a_z", "l0d"),
         helper.make_node("MaxPool", ["l0d"], ["p"], name="model.1.m", kernel_shape=[2, 2], strides=[2, 2]),
         q("p/q", "p", "a_s", "a_z", "pq"), dq("p/dq", "pq", "a_s", "a_z", "pd"),
         q("hw/q", "head.weight", "hw_s", "hw_z", "hwq"), dq("hw/dq", "hwq", "hw_s", "hw_z", "hw"),
         helper.make_node("Conv", ["pd", "hw"], ["h"], name="model.2", kernel_shape=[4, 4], strides=[4, 4]),
         q("h/q", "h", "h_s", "h_z", "hq"), dq("h/dq", "hq", "h_s", "h_z", "out")]
    meta = {"anchors": "[[16,16]]", "na": "1",
            "quantization": '{"aq":{"images":[0.00392156886,0,0,255,0,0],"model.0.act":[0.05,0,-127,'
                            '127,2,0],"h":[0.1,0,-127,127,2,0]},"wq":{"model.2":[0.02,0,-127,127,1,0]},'
                            '"bq":{"model.0.conv":[0.0000784313772,0,-2147483647,2147483647,0,1]}}'}
    save("qdq.onnx", model(N, I, ["out"], meta=meta))

    # 4. refused: an unknown op; a truncated copy of the big seed
    n4, i4 = conv("head", "images", "c", 3, 6, 8, 8)
    n4.append(helper.make_node("Softplus", ["c"], ["out"], name="sp"))
    save("unknown_op.onnx", model(n4, i4, ["out"]))
    data = open(os.path.join(OUT, "yolo_ops.onnx"), "rb").read()
    open(os.path.join(OUT, "truncated.onnx"), "wb").write(data[: len(data) * 2 // 3])
    print("wrote", OUT)


if __name__ == "__main__":
    main()
