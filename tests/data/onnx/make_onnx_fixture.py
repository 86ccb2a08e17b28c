#!/usr/bin/python3
"""ONNX fixtures for tests/test_onnx.c, exported by PyTorch itself.

A tiny YOLOv7-like detector written here in plain torch (YOLOv7's module
names and semantics: Conv = Conv2d(bias=False) + BatchNorm2d + act, MP, SP,
Concat, nn.Upsample nearest, IDetect with ImplicitA/ImplicitM and the raw
training-mode head view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2)), with
random weights and BatchNorm statistics, exported by torch.onnx.export at
opsets 11, 13 and 17, and at 13 with dynamic axes (eval mode: PyTorch folds each BatchNorm into its
conv). The expected head outputs come from running the torch module itself
on a fixed input, so the oracle does not depend on our importer.

Run with Debian's interpreter (python3-torch 1.13, python3-onnx):
    /usr/bin/python3 tests/data/onnx/make_onnx_fixture.py
Writes tiny_opset{11,13,17}.onnx, tiny_dynamic_opset13.onnx (symbolic batch
and size) and tiny_expected.safetensors (input
"images" [1, 3, 32, 32] and "output0", "output1": [1, 3, H, W, 8]).
"""
import json
import os
import struct

import numpy as np
import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, act=nn.SiLU()):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = act

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class MP(nn.Module):
    def __init__(self):
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.m(x)


class SP(nn.Module):
    def __init__(self, k=5):
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        return self.m(x)


class Concat(nn.Module):
    def forward(self, x):
        return torch.cat(x, 1)


class ImplicitA(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(torch.randn(1, c, 1, 1) * 0.2)

    def forward(self, x):
        return self.implicit + x


class ImplicitM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(1.0 + torch.randn(1, c, 1, 1) * 0.2)

    def forward(self, x):
        return self.implicit * x


class IDetect(nn.Module):
    def __init__(self, nc, anchors, ch):
        super().__init__()
        self.nc, self.no, self.nl = nc, nc + 5, len(anchors)
        self.na = len(anchors[0]) // 2
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.ia = nn.ModuleList(ImplicitA(c) for c in ch)
        self.im = nn.ModuleList(ImplicitM(self.no * self.na) for _ in ch)

    def forward(self, x):
        out = []
        for i in range(self.nl):
            y = self.im[i](self.m[i](self.ia[i](x[i])))
            bs, _, ny, nx = y.shape
            out.append(y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        return out


class Tiny(nn.Module):
    """layers as a YOLOv7 cfg would number them (model.<i>)"""

    def __init__(self):
        super().__init__()
        self.model = nn.ModuleList([
            Conv(3, 8, 3, 2),                              # 0  /2
            Conv(8, 16, 3, 2),                             # 1  /4
            MP(),                                          # 2  /8
            Conv(16, 16, 1, 1, nn.LeakyReLU(0.1)),         # 3
            SP(5),                                         # 4
            Concat(),                                      # 5  [3, 4]
            Conv(32, 16, 1, 1),                            # 6
            nn.Upsample(None, 2, 'nearest'),               # 7  /4
            Concat(),                                      # 8  [7, 1]
            Conv(32, 16, 1, 1, nn.ReLU()),                 # 9
            IDetect(3, [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]], [16, 16]),  # 10
        ])

    def forward(self, x):
        m = self.model
        x0 = m[0](x)
        x1 = m[1](x0)
        x2 = m[2](x1)
        x3 = m[3](x2)
        x4 = m[4](x3)
        x5 = m[5]([x3, x4])
        x6 = m[6](x5)
        x7 = m[7](x6)
        x8 = m[8]([x7, x1])
        x9 = m[9](x8)
        return m[10]([x9, x6])


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr, dtype='<f4')
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + arr.nbytes]}
        blobs.append(arr.tobytes())
        off += arr.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    torch.manual_seed(7)
    net = Tiny()
    with torch.no_grad():   # non-trivial BatchNorm statistics and affine
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = net(x)
    write_safetensors(os.path.join(HERE, "tiny_expected.safetensors"),
                      {"images": x.numpy(), "output0": y[0].numpy(), "output1": y[1].numpy()})
    runs = [(11, False), (13, False), (17, False), (13, True)]
    for opset, dynamic in runs:
        name = "tiny_dynamic_opset%d.onnx" if dynamic else "tiny_opset%d.onnx"
        path = os.path.join(HERE, name % opset)
        # dynamic: batch, height and width symbolic, so the head's reshape
        # target is computed by Shape/Gather/Unsqueeze/Concat
        axes = {"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch"},
                "output1": {0: "batch"}} if dynamic else None
        torch.onnx.export(net, x, path, opset_version=opset, input_names=["images"],
                          output_names=["output0", "output1"], dynamic_axes=axes)
        # what PyTorch cannot write: the anchors (pixels, as in the cfg) and,
        # for two of the files, class names, as metadata_props
        model = onnx.load(path)
        meta = {"anchors": json.dumps([[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]])}
        if opset != 11:
            meta["names"] = json.dumps(["cat", "dog", "bird"])
        for k, v in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(model, path)
    print("wrote", HERE)


if __name__ == "__main__":
    main()
