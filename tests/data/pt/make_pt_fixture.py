#!/usr/bin/python3
"""Fixtures for the .pt reader (tests/test_pt.c): checkpoints saved the way
YOLOv7's train.py saves them, from our own small re-implementation of the
YOLOv7 model classes under YOLOv7's module names (models.yolo.Model,
models.yolo.IDetect, models.common.Conv, MP, Concat, ImplicitA, ImplicitM),
written out as a package in a temporary folder so the pickles name them.

Writes into tests/data/pt/:
  tiny.yaml            the cfg (nc 3, two IDetect levels, LeakyReLU, Upsample)
  best.pt              strip_optimizer's file: 'model' = EMA in half precision
                       (requires_grad off), optimizer/ema/updates/... None, epoch -1
  last.pt              train.py's checkpoint: 'model' (half), 'ema' (half),
                       'updates', 'optimizer' state_dict, 'training_results',
                       'wandb_id', 'best_fitness' (a numpy array)
  sd.pt                torch.save(model.state_dict()) of the non-EMA model, float32
  sd_deflate.pt        sd.pt re-zipped with deflate
  views.pt             strided views, float16/bfloat16/float64/int64 storages
  ema.safetensors      the EMA state_dict as float32 (after the half rounding)
  model.safetensors    the non-EMA model's state_dict, float32
  input.bin            float32 [1, 3, 32, 32]
  ema_out{0,1}.bin     PyTorch's raw head outputs of the EMA model (float32)
and the fuzz seeds tests/fuzz/corpus/{zip,pickle}/.

Run with Debian's interpreter: /usr/bin/python3 tests/data/pt/make_pt_fixture.py
"""
import copy
import io
import json
import os
import pickle
import struct
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "..", "fuzz", "corpus")

CFG = """# libyolopr .pt test cfg
nc: 3
depth_multiple: 1.0
width_multiple: 1.0
anchors:
  - [10,13, 16,30]   # P3/8
  - [30,61, 62,45]   # P4/16
backbone:
  [[-1, 1, Conv, [8, 3, 2]],                              # 0 /2
   [-1, 1, Conv, [8, 3, 2]],                              # 1 /4
   [-1, 1, MP, []],                                       # 2 /8
   [-1, 1, Conv, [8, 1, 1]],                              # 3
   [-1, 1, Conv, [16, 3, 2]],                             # 4 /16
  ]
head:
  [[-1, 1, Conv, [8, 1, 1, None, 1, nn.LeakyReLU(0.1)]],  # 5
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],            # 6 /8
   [[-1, 3], 1, Concat, [1]],                             # 7
   [-1, 1, Conv, [8, 3, 1]],                              # 8
   [[8, 4], 1, IDetect, [nc, anchors]],                   # 9
  ]
"""

COMMON = '''
import torch
import torch.nn as nn


def autopad(k, p=None):
    return k // 2 if p is None else p


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU() if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class MP(nn.Module):
    def __init__(self, k=2):
        super().__init__()
        self.m = nn.MaxPool2d(kernel_size=k, stride=k)

    def forward(self, x):
        return self.m(x)


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class ImplicitA(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.implicit = nn.Parameter(torch.zeros(1, channel, 1, 1))
        nn.init.normal_(self.implicit, std=.02)

    def forward(self, x):
        return self.implicit + x


class ImplicitM(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.implicit = nn.Parameter(torch.ones(1, channel, 1, 1))
        nn.init.normal_(self.implicit, mean=1., std=.02)

    def forward(self, x):
        return self.implicit * x
'''

YOLO = '''
import math
from copy import deepcopy

import torch
import torch.nn as nn

from models.common import *


class IDetect(nn.Module):
    stride = None

    def __init__(self, nc=80, anchors=(), ch=()):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid = [torch.zeros(1)] * self.nl
        a = torch.tensor(anchors).float().view(self.nl, -1, 2)
        self.register_buffer('anchors', a)
        self.register_buffer('anchor_grid', a.clone().view(self.nl, 1, -1, 1, 1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.ia = nn.ModuleList(ImplicitA(x) for x in ch)
        self.im = nn.ModuleList(ImplicitM(self.no * self.na) for _ in ch)

    def forward(self, x):   # the raw per-level outputs (training-mode layout)
        out = []
        for i in range(self.nl):
            y = self.im[i](self.m[i](self.ia[i](x[i])))
            bs, _, ny, nx = y.shape
            out.append(y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        return out


def make_divisible(x, divisor):
    return math.ceil(x / divisor) * divisor


def parse_model(d, ch):
    anchors, nc, gd, gw = d['anchors'], d['nc'], d['depth_multiple'], d['width_multiple']
    na = (len(anchors[0]) // 2) if isinstance(anchors, list) else anchors
    no = na * (nc + 5)
    layers, save, c2 = [], [], ch[-1]
    for i, (f, n, m, args) in enumerate(d['backbone'] + d['head']):
        m = eval(m) if isinstance(m, str) else m
        args = list(args)
        for j, a in enumerate(args):
            try:
                args[j] = eval(a) if isinstance(a, str) else a
            except Exception:
                pass
        if m is Conv:
            c1, c2 = ch[f], args[0]
            if c2 != no:
                c2 = make_divisible(c2 * gw, 8)
            args = [c1, c2, *args[1:]]
        elif m is Concat:
            c2 = sum(ch[x] for x in f)
        elif m is IDetect:
            args.append([ch[x] for x in f])
        else:
            c2 = ch[f]
        m_ = m(*args)
        t = str(m)[8:-2].replace('__main__.', '')
        m_.i, m_.f, m_.type, m_.np = i, f, t, sum(x.numel() for x in m_.parameters())
        save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(m_)
        if i == 0:
            ch = []
        ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


class Model(nn.Module):
    def __init__(self, cfg, ch=3, nc=None):
        super().__init__()
        self.traced = False
        self.yaml = deepcopy(cfg)
        ch = self.yaml['ch'] = self.yaml.get('ch', ch)
        self.model, self.save = parse_model(deepcopy(self.yaml), ch=[ch])
        self.names = [str(i) for i in range(self.yaml['nc'])]
        m = self.model[-1]
        s = 256
        m.stride = torch.tensor([s / x.shape[-3] for x in self.forward(torch.zeros(1, ch, s, s))])
        m.anchors /= m.stride.view(-1, 1, 1)
        self.stride = m.stride
        for mod in self.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eps = 1e-3
                mod.momentum = 0.03

    def forward(self, x):
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x
'''


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def float_sd(model):
    return {k: v.float() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def randomize(model, scale):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * scale)
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 1.5)


def seed(name, data, kind):
    with open(os.path.join(FUZZ, kind, name), "wb") as f:
        f.write(data)


def main():
    import yaml
    tmp = tempfile.mkdtemp()
    os.makedirs(os.path.join(tmp, "models"))
    for name, text in (("__init__.py", ""), ("common.py", COMMON), ("yolo.py", YOLO)):
        with open(os.path.join(tmp, "models", name), "w") as f:
            f.write(text)
    sys.path.insert(0, tmp)
    from models.yolo import Model

    torch.manual_seed(20261213)
    cfg = yaml.safe_load(CFG)
    model = Model(cfg)
    model.nc = 3
    model.names = ["person", "car", "dog"]
    model.hyp = {"lr0": 0.01, "box": 0.05}
    model.gr = 1.0
    model.class_weights = torch.tensor([0.5, 0.3, 0.2])
    randomize(model, 0.1)
    ema = copy.deepcopy(model).eval()
    randomize(ema, 0.05)      # the EMA differs from the model, so the pick shows
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 0.01
    opt.step()

    with open(os.path.join(HERE, "tiny.yaml"), "w") as f:
        f.write(CFG)
    best_fitness = np.array([0.25])
    last = {"epoch": 3, "best_fitness": best_fitness, "training_results": "0/299 ...\n",
            "model": copy.deepcopy(model).half(), "ema": copy.deepcopy(ema).half(),
            "updates": 42, "optimizer": opt.state_dict(), "wandb_id": None}
    torch.save(last, os.path.join(HERE, "last.pt"))
    # utils/general.py strip_optimizer
    best = torch.load(os.path.join(HERE, "last.pt"))
    if best.get("ema"):
        best["model"] = best["ema"]
    for k in "optimizer", "training_results", "wandb_id", "ema", "updates":
        best[k] = None
    best["epoch"] = -1
    best["model"].half()
    for p in best["model"].parameters():
        p.requires_grad = False
    torch.save(best, os.path.join(HERE, "best.pt"))

    torch.save(model.state_dict(), os.path.join(HERE, "sd.pt"))
    with zipfile.ZipFile(os.path.join(HERE, "sd.pt")) as zin, \
            zipfile.ZipFile(os.path.join(HERE, "sd_deflate.pt"), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():   # a fixed time: the file is reproducible
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, zin.read(info.filename))

    ema_h = copy.deepcopy(ema).half().float()
    write_safetensors(os.path.join(HERE, "ema.safetensors"), float_sd(ema_h))
    write_safetensors(os.path.join(HERE, "model.safetensors"), float_sd(model))
    x = torch.rand(1, 3, 32, 32)
    x.numpy().astype("<f4").tofile(os.path.join(HERE, "input.bin"))
    with torch.no_grad():
        outs = ema_h.eval()(x)
    for i, o in enumerate(outs):
        o.numpy().astype("<f4").tofile(os.path.join(HERE, f"ema_out{i}.bin"))

    # strided views and other dtypes; values are small integers, so the test
    # can state them by hand: a = [1, 5, 9], b = [[0, 3], [1, 4], [2, 5]],
    # c = [-2, 0.5] (bfloat16), d = [1.25] (float64), e = [7] (int64)
    views = {"a": torch.arange(12.0).view(3, 4)[:, 1],
             "b": torch.arange(6, dtype=torch.float16).view(2, 3).t(),
             "c": torch.tensor([-2.0, 0.5], dtype=torch.bfloat16),
             "d": torch.tensor([1.25], dtype=torch.float64),
             "e": torch.tensor([7])}
    torch.save(views, os.path.join(HERE, "views.pt"))

    os.makedirs(os.path.join(FUZZ, "zip"), exist_ok=True)
    os.makedirs(os.path.join(FUZZ, "pickle"), exist_ok=True)
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4, dtype=torch.float16)}, buf)
    seed("tiny.pt", buf.getvalue(), "zip")
    with open(os.path.join(HERE, "views.pt"), "rb") as f:
        seed("views.pt", f.read(), "zip")
    with open(os.path.join(HERE, "sd_deflate.pt"), "rb") as f:
        seed("sd_deflate.pt", f.read(), "zip")
    for name in ("best.pt", "views.pt"):
        with zipfile.ZipFile(os.path.join(HERE, name)) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            seed(name.replace(".pt", ".pkl"), z.read(pkl), "pickle")
    seed("proto4.pkl", pickle.dumps({"a": [1, 2.5, None, True, "x", b"y", (1, 2)],
                                     "s": {3}, "f": frozenset([4])}, protocol=4), "pickle")
    seed("proto5.pkl", pickle.dumps([bytearray(b"z"), -(2 ** 70), "é"], protocol=5), "pickle")
    # what Python's own pickle would run: os.system("true")
    seed("system.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.", "pickle")
    print("sizes:", {n: os.path.getsize(os.path.join(HERE, n)) for n in sorted(os.listdir(HERE))
                     if not n.endswith(".py")})


if __name__ == "__main__":
    main()
