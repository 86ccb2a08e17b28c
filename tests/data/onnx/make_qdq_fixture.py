#!/usr/bin/python3
"""A QDQ ONNX fixture for tests/test_onnx.c, exported by PyTorch itself.

A tiny detector in plain torch with fake quantization written out with
torch's own ops, as quantization-aware training leaves a model:
torch.fake_quantize_per_tensor_affine on the input (UINT8 range [0, 255],
zero point 3: asymmetric) and on each value, torch.fake_quantize_per_channel_
affine on the conv weights (INT8 [-128, 127], one scale per output channel,
axis 0). torch.onnx.export (opset 13) writes these as QuantizeLinear /
DequantizeLinear pairs. Layout: fq(input) → Conv 3x3 s2 (+bias) → LeakyReLU(0.1)
→ fq → MaxPool 2 → fq (the same step) → Conv 1x1 head (per-channel weights,
+bias) → fq → the raw head view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2).

The expected output comes from running the torch module itself on a fixed
input (the oracle does not depend on our importer).

Run with Debian's interpreter (python3-torch 1.13, python3-onnx):
    /usr/bin/python3 tests/data/onnx/make_qdq_fixture.py
Writes qdq_torch.onnx and qdq_torch_expected.safetensors (input "images"
[1, 3, 32, 32], "output0" [1, 3, 8, 8, 7], "step": the output's step).
"""
import json
import os
import struct

import numpy as np
import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def fq(x, scale, zero, lo, hi):
    return torch.fake_quantize_per_tensor_affine(x, scale, zero, lo, hi)


def weight_steps(w, lo=-128, hi=127):
    """Per output channel: max |w_c| over 127.5 (PyTorch's symmetric observer)."""
    return (w.detach().abs().amax(dim=(1, 2, 3)) / ((hi - lo) / 2)).float()


def fq_weight(w, scale, lo=-128, hi=127):
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros_like(scale, dtype=torch.int32),
                                                  0, lo, hi)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 8, 3, 2, 1)
        self.act = nn.LeakyReLU(0.1)
        self.pool = nn.MaxPool2d(2, 2)
        self.head = nn.Conv2d(8, 3 * 7, 1)
        self.s_act, self.s_out = 0.04, 0.08

    def forward(self, x):
        x = fq(x, 1 / 255, 3, 0, 255)
        y = nn.functional.conv2d(x, fq_weight(self.c0.weight, self.s0), self.c0.bias, 2, 1)
        y = fq(self.act(y), self.s_act, 0, -128, 127)
        y = fq(self.pool(y), self.s_act, 0, -128, 127)
        y = nn.functional.conv2d(y, fq_weight(self.head.weight, self.s1), self.head.bias)
        y = fq(y, self.s_out, 0, -128, 127)
        bs, _, ny, nx = y.shape
        return y.view(bs, 3, 7, ny, nx).permute(0, 1, 3, 4, 2).contiguous()


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    torch.manual_seed(4)
    m = Tiny().eval()
    with torch.no_grad():
        m.c0.weight.mul_(3)
        m.head.bias.mul_(4)
    m.register_buffer("s0", weight_steps(m.c0.weight))   # constants in the graph
    m.register_buffer("s1", weight_steps(m.head.weight))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        y = m(x)
    path = os.path.join(HERE, "qdq_torch.onnx")
    torch.onnx.export(m, x, path, opset_version=13, input_names=["images"], output_names=["output0"])
    model = onnx.load(path)
    for k, v in (("anchors", "[[10,13,16,30,33,23]]"), ("names", '["a","b"]')):
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, path)
    write_safetensors(os.path.join(HERE, "qdq_torch_expected.safetensors"),
                      {"images": x.numpy(), "output0": y.numpy(),
                       "step": np.array([m.s_out], np.float32)})
    print("ops:", sorted({n.op_type for n in model.graph.node}))


if __name__ == "__main__":
    main()
