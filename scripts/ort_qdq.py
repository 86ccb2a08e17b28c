#!/usr/bin/python3
"""The libyolopr side of scripts/bench_vs_ort.sh's QDQ mode.

Loads one of our models (a float checkpoint, or a quantized one written by
`yolopr quantize`), exports it with ypr_model_export_onnx at one input size
(a quantized model in ONNX's QDQ form, docs/onnx.md) and writes what
scripts/ort_run.mjs reads: STEM.onnx, STEM.json (input/output names and
shapes, and per output the step of its last QuantizeLinear when quantized),
STEM.in.bin (a seeded uniform [0, 1) input, float32) and STEM.out<level>.bin
(libyolopr's raw head outputs for it: the fake-quantized simulation for a
quantized model).

usage: YOLOPR_LIBRARY=build/lib/libyolopr.so /usr/bin/python3 scripts/ort_qdq.py \\
           MODEL.safetensors SIZE STEM [--fuse]
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import yolopr  # noqa: E402


def output_steps(path, outputs):
    """Per graph output: the scale of the DequantizeLinear its head map
    passed through last (Reshape → Transpose → output), or 0."""
    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    made = {o: n for n in m.graph.node for o in n.output}
    steps = []
    for name in outputs:
        n, step = made.get(name), 0.0
        while n is not None and n.op_type in ("Transpose", "Reshape"):
            n = made.get(n.input[0])
        if n is not None and n.op_type == "DequantizeLinear":
            step = float(numpy_helper.to_array(inits[n.input[1]]).reshape(-1)[0])
        steps.append(step)
    return steps


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src, size, stem = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    m = yolopr.Model.load(src)
    if "--fuse" in sys.argv[4:]:
        m.fuse()
    m._set_setting(yolopr.INPUT_SIZE, False, size)
    m.set_threads(2)
    m.export_onnx(stem + ".onnx")
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    outs = m.forward(x)
    names = ["output%d" % i for i in range(len(outs))]
    with open(stem + ".json", "w") as f:
        json.dump({"input": "images", "shape": [1, 3, size, size], "outputs": names,
                   "steps": output_steps(stem + ".onnx", names)}, f)
    x.astype("<f4").tofile(stem + ".in.bin")
    for i, o in enumerate(outs):
        np.ascontiguousarray(o, dtype="<f4").tofile("%s.out%d.bin" % (stem, i))
    print("wrote %s.onnx (%d outputs)" % (stem, len(outs)))


if __name__ == "__main__":
    main()
