#!/usr/bin/python3
"""Developer check (needs PyTorch; not part of CI): prune a model with
libyolopr, write it back with ypr_model_export_yolov7(), build the written
.yaml with our own PyTorch re-implementation of YOLOv7's cfg semantics, load
the state_dict strictly, and compare raw head outputs with libyolopr's.

usage: YOLOPR_LIBRARY=build/lib/libyolopr.so /usr/bin/python3 tests/data/check_yolov7_export.py
"""
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "python"))
import yolopr  # noqa: E402


def act_of(a):
    if a is False:
        return nn.Identity()
    if a is True or a is None:
        return nn.SiLU()
    return eval(a, {"nn": nn})  # cfg activation text such as nn.LeakyReLU(0.1)


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = act_of(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class RepConv(nn.Module):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        self.rbr_identity = nn.BatchNorm2d(c1, eps=1e-3, momentum=0.03) if c1 == c2 and s == 1 else None
        self.rbr_dense = nn.Sequential(nn.Conv2d(c1, c2, 3, s, 1, bias=False),
                                       nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))
        self.rbr_1x1 = nn.Sequential(nn.Conv2d(c1, c2, 1, s, 0, bias=False),
                                     nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))
        self.act = nn.SiLU()

    def forward(self, x):
        y = self.rbr_dense(x) + self.rbr_1x1(x)
        return self.act(y + self.rbr_identity(x) if self.rbr_identity is not None else y)


class SPPCSPC(nn.Module):
    def __init__(self, c1, c2, e=0.5, k=(5, 9, 13)):
        super().__init__()
        h = int(2 * c2 * e)
        self.cv1, self.cv2 = Conv(c1, h, 1), Conv(c1, h, 1)
        self.cv3, self.cv4 = Conv(h, h, 3), Conv(h, h, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(q, 1, q // 2) for q in k)
        self.cv5, self.cv6, self.cv7 = Conv(4 * h, h, 1), Conv(h, h, 3), Conv(2 * h, c2, 1)

    def forward(self, x):
        a = self.cv4(self.cv3(self.cv1(x)))
        a = self.cv6(self.cv5(torch.cat([a] + [m(a) for m in self.m], 1)))
        return self.cv7(torch.cat([a, self.cv2(x)], 1))


class Implicit(nn.Module):
    def __init__(self, c, mul):
        super().__init__()
        self.implicit = nn.Parameter(torch.ones(1, c, 1, 1) if mul else torch.zeros(1, c, 1, 1))
        self.mul = mul

    def forward(self, x):
        return x * self.implicit if self.mul else x + self.implicit


class Head(nn.Module):
    def __init__(self, nc, anchors, ch, implicit):
        super().__init__()
        self.no, self.nl, self.na = nc + 5, len(anchors), len(anchors[0]) // 2
        a = torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2)
        self.register_buffer("anchors", a)
        self.register_buffer("anchor_grid", a.clone().view(self.nl, 1, -1, 1, 1, 2))
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
        self.implicit = implicit
        if implicit:
            self.ia = nn.ModuleList(Implicit(c, False) for c in ch)
            self.im = nn.ModuleList(Implicit(self.no * self.na, True) for _ in ch)

    def forward(self, xs):
        out = []
        for i, x in enumerate(xs):
            y = self.m[i](self.ia[i](x) if self.implicit else x)
            if self.implicit:
                y = self.im[i](y)
            b, _, h, w = y.shape
            out.append(y.view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return out


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def build(cfg):
    nc, anchors = cfg["nc"], cfg["anchors"]
    layers, froms, ch = [], [], [3]
    for i, (f, n, m, args) in enumerate(cfg["backbone"] + cfg["head"]):
        assert n == 1
        args = [nc if a == "nc" else anchors if a == "anchors" else a for a in args]
        cin = ch[f if isinstance(f, int) and f >= 0 else f] if not isinstance(f, list) else None
        if i == 0:
            cin = 3
        elif isinstance(f, int):
            cin = ch[f + 1] if f >= 0 else ch[f]
        chs = [ch[j + 1] if j >= 0 else ch[j] for j in f] if isinstance(f, list) else None
        if m == "Conv":
            c2, k, s = args[0], args[1] if len(args) > 1 else 1, args[2] if len(args) > 2 else 1
            p = args[3] if len(args) > 3 else None
            g = args[4] if len(args) > 4 else 1
            act = args[5] if len(args) > 5 else True
            mod, cout = Conv(cin, c2, k, s, p, g, act), c2
        elif m == "RepConv":
            mod, cout = RepConv(cin, args[0], 3, args[2] if len(args) > 2 else 1), args[0]
        elif m == "SPPCSPC":
            mod, cout = SPPCSPC(cin, args[0]), args[0]
        elif m == "MP":
            mod, cout = nn.MaxPool2d(2, 2), cin
        elif m == "SP":
            k = args[0] if args else 3
            s = args[1] if len(args) > 1 else 1
            mod, cout = nn.MaxPool2d(k, s, k // 2), cin
        elif m == "nn.Upsample":
            mod, cout = nn.Upsample(scale_factor=args[1], mode="nearest"), cin
        elif m == "Concat":
            mod, cout = Lambda(lambda xs: torch.cat(xs, 1)), sum(chs)
        elif m == "Shortcut":
            mod, cout = Lambda(lambda xs: xs[0] + xs[1]), chs[0]
        elif m == "ReOrg":
            mod = Lambda(lambda t: torch.cat([t[..., ::2, ::2], t[..., 1::2, ::2],
                                              t[..., ::2, 1::2], t[..., 1::2, 1::2]], 1))
            cout = 4 * cin
        elif m in ("IDetect", "Detect"):
            mod, cout = Head(args[0], args[1], chs, m == "IDetect"), 0
        else:
            raise ValueError("module " + m)
        layers.append(mod)
        froms.append(f)
        ch.append(cout)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.ModuleList(layers)

        def forward(self, x):
            ys = []
            for i, (mod, f) in enumerate(zip(self.model, froms)):
                if isinstance(f, list):
                    inp = [ys[j] if j >= 0 else ys[i + j] for j in f]
                else:
                    inp = x if i == 0 else (ys[f] if f >= 0 else ys[i + f])
                ys.append(mod(inp))
            return ys[-1]

    return Net().eval()


def read_safetensors(path):
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).copy())
    return out


def check(name, width, pattern):
    m = yolopr.Model.from_cfg(name, nc=3, width_multiple=width, seed=3)
    g = yolopr.DepGraph(m)
    p = yolopr.Pruner(g, ratio=0.25, round_to=8, layer_ratios={pattern: 0.5} if pattern else {})
    p.step()
    with tempfile.TemporaryDirectory() as d:
        m.export_yolov7(os.path.join(d, "m.yaml"), os.path.join(d, "m.safetensors"))
        cfg = yaml.safe_load(open(os.path.join(d, "m.yaml")))
        net = build(cfg)
        net.load_state_dict(read_safetensors(os.path.join(d, "m.safetensors")), strict=True)
    x = np.random.default_rng(1).random((1, 3, 96, 96), dtype=np.float32)
    ours = m.forward(x)
    with torch.no_grad():
        theirs = [t.numpy() for t in net(torch.from_numpy(x))]
    worst = max(float(np.max(np.abs(a - b) / (np.abs(b) + 1e-3))) for a, b in zip(ours, theirs))
    nparams = sum(t.numel() for t in net.parameters())
    print(f"{name} width {width} ({pattern or 'uniform'}): {len(cfg['backbone']) + len(cfg['head'])} "
          f"layers, PyTorch params {nparams} vs ours {m.num_params}, max rel err {worst:.2e}")
    assert nparams == m.num_params and worst < 1e-4


def fixture():
    """tests/data/export/: the PyTorch-checked mini model (every module kind)
    pruned with L2 0.25 / round_to 8 but SPPCSPC's cv7 kept whole (so SPPCSPC is
    written as primitives), written back by
    libyolopr, built by the PyTorch re-implementation above, and its outputs
    on mini_input.bin — the C test re-exports and compares against these."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "export")
    os.makedirs(out, exist_ok=True)
    m = yolopr.Model.from_cfg(os.path.join(here, "model", "mini.yaml"))
    m.load_weights(os.path.join(here, "model", "mini.safetensors"), strict=True)
    g = yolopr.DepGraph(m)
    yolopr.Pruner(g, ratio=0.25, round_to=8, layer_ratios={"model.10.cv7*": 0.0}).step()
    y, w = os.path.join(out, "pruned_mini.yaml"), os.path.join(out, "pruned_mini.safetensors")
    m.export_yolov7(y, w)
    net = build(yaml.safe_load(open(y)))
    net.load_state_dict(read_safetensors(w), strict=True)
    x = np.fromfile(os.path.join(here, "model", "mini_input.bin"), "<f4").reshape(1, 3, 64, 64)
    with torch.no_grad():
        outs = [t.numpy() for t in net(torch.from_numpy(x))]
    for i, o in enumerate(outs):
        o.astype("<f4").tofile(os.path.join(out, "pruned_mini_out%d.bin" % i))
    print("fixture:", [o.shape for o in outs])


if __name__ == "__main__":
    check("yolov7-tiny", 0.5, None)
    check("yolov7", 0.25, "model.51.cv1*")   # SPPCSPC written as primitives
    fixture()
    print("ok")
