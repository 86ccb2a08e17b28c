#!/usr/bin/python3
"""Reference fixture for the model tests: a small YOLOv7-style cfg that uses
every module kind (Conv with SiLU/LeakyReLU/groups, ReOrg, Shortcut, Concat,
MP, SP, SPPCSPC, nn.Upsample, RepConv with and without the identity branch,
IDetect), built by our own small PyTorch re-implementation of the module
semantics, with randomized weights and BatchNorm statistics.

Writes into tests/data/model/:
  mini.yaml              the cfg
  mini.safetensors       the state_dict (float32), our own writer below
  mini_input.bin         float32 [1, 3, 64, 64] (= mini_image.bin / 255)
  mini_image.bin         uint8 RGB [64, 64, 3], row-major
  mini_dets.bin          float32 [n, 6] detections (x1 y1 x2 y2 conf cls) with
                         conf 0.3, NMS IoU 0.45, one label per box, per class
  mini_out{0,1}.bin      float32 raw head outputs [1, na, H, W, 5 + nc]
  mini_manifest.json     shapes, parameter count

Run with Debian's interpreter: /usr/bin/python3 tests/data/make_model_fixture.py
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model")

CFG = """# libyolopr test cfg: every module kind, tiny widths
nc: 3
depth_multiple: 1.0
width_multiple: 0.25
anchors:
  - [10,13, 16,30, 33,23]   # P2/4
  - [30,61, 62,45, 59,119]  # P3/8
backbone:
  [[-1, 1, Conv, [32, 3, 1]],                              # 0
   [-1, 1, ReOrg, []],                                     # 1  /2
   [-1, 1, Conv, [64, 3, 2]],                              # 2  /4
   [-1, 1, Conv, [32, 1, 1, None, 1, nn.LeakyReLU(0.1)]],  # 3
   [-2, 1, Conv, [32, 1, 1]],                              # 4
   [[-1, -2], 1, Shortcut, [1]],                           # 5
   [[-1, -3, 2], 1, Concat, [1]],                          # 6
   [-1, 1, MP, []],                                        # 7  /8
   [-1, 1, Conv, [64, 3, 1, None, 2]],                     # 8  groups 2
   [-1, 1, SP, [5]],                                       # 9
   [-1, 1, SPPCSPC, [64]],                                 # 10
  ]
head:
  [[-1, 1, Conv, [32, 1, 1]],                              # 11
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],             # 12 /4
   [[-1, 2], 1, Concat, [1]],                              # 13
   [-1, 1, RepConv, [32, 3, 1]],                           # 14 no identity
   [-1, 1, RepConv, [32, 3, 1]],                           # 15 identity branch
   [10, 1, RepConv, [64, 3, 1]],                           # 16
   [[15, 16], 1, IDetect, [nc, anchors]],                  # 17
  ]
"""

NC = 3
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]]


def div8(x):
    return int(math.ceil(x / 8) * 8)


class ConvBlock(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, g=1, act=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = act if act is not None else nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Rep(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.rbr_identity = nn.BatchNorm2d(c1, eps=1e-3, momentum=0.03) if c1 == c2 else None
        self.rbr_dense = nn.Sequential(nn.Conv2d(c1, c2, 3, 1, 1, bias=False),
                                       nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))
        self.rbr_1x1 = nn.Sequential(nn.Conv2d(c1, c2, 1, 1, 0, bias=False),
                                     nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03))
        self.act = nn.SiLU()

    def forward(self, x):
        y = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            y = y + self.rbr_identity(x)
        return self.act(y)


class SppCspc(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        h = c2
        self.cv1 = ConvBlock(c1, h, 1)
        self.cv2 = ConvBlock(c1, h, 1)
        self.cv3 = ConvBlock(h, h, 3)
        self.cv4 = ConvBlock(h, h, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13)])
        self.cv5 = ConvBlock(4 * h, h, 1)
        self.cv6 = ConvBlock(h, h, 3)
        self.cv7 = ConvBlock(2 * h, c2, 1)

    def forward(self, x):
        a = self.cv4(self.cv3(self.cv1(x)))
        a = self.cv6(self.cv5(torch.cat([a] + [m(a) for m in self.m], 1)))
        return self.cv7(torch.cat([a, self.cv2(x)], 1))


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def reorg(x):
    return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)


class IDet(nn.Module):
    def __init__(self, chs):
        super().__init__()
        self.no = NC + 5
        self.na = len(ANCHORS[0]) // 2
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in chs)
        self.ia = nn.ModuleList(ImplicitA(c) for c in chs)
        self.im = nn.ModuleList(ImplicitM(self.no * self.na) for _ in chs)

    def forward(self, xs):
        out = []
        for i, x in enumerate(xs):
            y = self.im[i](self.m[i](self.ia[i](x)))
            b, _, h, w = y.shape
            out.append(y.view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return out


class ImplicitA(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(torch.randn(1, c, 1, 1) * 0.2)

    def forward(self, x):
        return x + self.implicit


class ImplicitM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.implicit = nn.Parameter(1 + torch.randn(1, c, 1, 1) * 0.2)

    def forward(self, x):
        return x * self.implicit


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        w = lambda c: div8(c * 0.25)
        leaky = nn.LeakyReLU(0.1)
        # (module, from) in cfg order, widths as the cfg parser computes them
        L = [
            (ConvBlock(3, w(32), 3, 1), -1),                 # 0: 8
            (Lambda(reorg), -1),                            # 1: 32
            (ConvBlock(32, w(64), 3, 2), -1),               # 2: 16
            (ConvBlock(16, w(32), 1, 1, act=leaky), -1),    # 3: 8
            (ConvBlock(16, w(32), 1, 1), -2),               # 4: 8
            (Lambda(lambda xs: xs[0] + xs[1]), [-1, -2]),   # 5: 8
            (Lambda(lambda xs: torch.cat(xs, 1)), [-1, -3, 2]),  # 6: 32
            (nn.MaxPool2d(2, 2), -1),                       # 7
            (ConvBlock(32, w(64), 3, 1, g=2), -1),          # 8: 16
            (nn.MaxPool2d(5, 1, 2), -1),                    # 9
            (SppCspc(16, w(64)), -1),                       # 10: 16
            (ConvBlock(16, w(32), 1, 1), -1),               # 11: 8
            (nn.Upsample(scale_factor=2, mode="nearest"), -1),  # 12
            (Lambda(lambda xs: torch.cat(xs, 1)), [-1, 2]), # 13: 24
            (Rep(24, w(32)), -1),                           # 14: 8
            (Rep(8, w(32)), -1),                            # 15: 8
            (Rep(16, w(64)), 10),                           # 16: 16
            (IDet([8, 16]), [15, 16]),                      # 17
        ]
        self.model = nn.ModuleList(m for m, _ in L)
        self.froms = [f for _, f in L]

    def forward(self, x):
        ys = []
        for i, (m, f) in enumerate(zip(self.model, self.froms)):
            if isinstance(f, list):
                inp = [ys[j] if j >= 0 else ys[i + j] for j in f]
            else:
                inp = x if (i == 0 and f == -1) else (ys[f] if f >= 0 else ys[i + f])
            ys.append(m(inp))
        return ys[-1]


def decode(outs, strides, anchors_px, conf_thr, iou_thr):
    """YOLOv7's inference decode and NMS, written from the published formulas."""
    cands = []
    for l, o in enumerate(outs):
        y = o[0].sigmoid()                       # [na, H, W, no]
        na, h, w, _ = y.shape
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        for a in range(na):
            t = y[a]
            cx = (t[..., 0] * 2 - 0.5 + gx) * strides[l]
            cy = (t[..., 1] * 2 - 0.5 + gy) * strides[l]
            bw = (t[..., 2] * 2) ** 2 * anchors_px[l, a, 0]
            bh = (t[..., 3] * 2) ** 2 * anchors_px[l, a, 1]
            obj = t[..., 4]
            cls_conf, cls = (t[..., 5:] * obj[..., None]).max(-1)
            keep = (obj > conf_thr) & (cls_conf > conf_thr)
            for i, j in zip(*torch.nonzero(keep, as_tuple=True)):
                cands.append([float(cx[i, j] - bw[i, j] / 2), float(cy[i, j] - bh[i, j] / 2),
                              float(cx[i, j] + bw[i, j] / 2), float(cy[i, j] + bh[i, j] / 2),
                              float(cls_conf[i, j]), float(cls[i, j])])
    cands.sort(key=lambda c: -c[4])
    kept = []
    for c in cands:
        if all(k[5] != c[5] or iou(k, c) <= iou_thr for k in kept):
            kept.append(c)
    out = torch.tensor(kept, dtype=torch.float32).view(-1, 6)
    out[:, :4] = out[:, :4].clamp(0, 64)
    return out


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


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


def main():
    torch.manual_seed(20261129)
    net = Net().eval()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 1.5)
    sd = {k: v.float() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    # YOLOv7 stores anchors (in strides) and anchor_grid (in pixels) as buffers
    strides = [4.0, 8.0]
    a = torch.tensor(ANCHORS, dtype=torch.float32).view(2, 3, 2)
    sd["model.17.anchors"] = a / torch.tensor(strides).view(-1, 1, 1)
    sd["model.17.anchor_grid"] = a.clone().view(2, 1, 3, 1, 1, 2)
    img = torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8)
    x = (img.permute(2, 0, 1).float() / 255.0).unsqueeze(0).contiguous()
    with torch.no_grad():
        outs = net(x)
    os.makedirs(HERE, exist_ok=True)
    with open(os.path.join(HERE, "mini.yaml"), "w") as f:
        f.write(CFG)
    write_safetensors(os.path.join(HERE, "mini.safetensors"), sd)
    x.numpy().astype("<f4").tofile(os.path.join(HERE, "mini_input.bin"))
    img.numpy().tofile(os.path.join(HERE, "mini_image.bin"))
    dets = decode(outs, strides, a, 0.3, 0.45)
    dets.numpy().astype("<f4").tofile(os.path.join(HERE, "mini_dets.bin"))
    print("detections", dets.shape[0])
    for i, o in enumerate(outs):
        o.numpy().astype("<f4").tofile(os.path.join(HERE, f"mini_out{i}.bin"))
    nparams = sum(p.numel() for p in net.parameters())
    with open(os.path.join(HERE, "mini_manifest.json"), "w") as f:
        json.dump({"params": nparams, "input": list(x.shape),
                   "outputs": [list(o.shape) for o in outs], "tensors": sorted(sd)}, f, indent=1)
    print("params", nparams, "outputs", [list(o.shape) for o in outs])


if __name__ == "__main__":
    main()
