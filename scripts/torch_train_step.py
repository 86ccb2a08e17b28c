#!/usr/bin/python3
"""The PyTorch side of the training-speed anchor (scripts/bench_train_vs_torch.sh):
one YOLOv7 training step — forward with BatchNorm in train mode, YOLOv7's
ComputeLossOTA (or ComputeLoss), backward, SGD with Nesterov momentum in
train.py's three parameter groups — on the same model, weights and batch as
`yolopr bench MODEL --train`. Our own re-implementation: the model is built
from the cfg libyolopr writes back (tests/data/check_yolov7_export.py's
builder), the weights are libyolopr's, the batch is the built-in synthetic
set's first images with their labels, and the OTA assignment is vectorized
per image as YOLOv7's build_targets is (the criteria, CIoU and the
three-positive candidates come from tests/data/make_loss_fixture.py).

usage: YOLOPR_LIBRARY=build/lib/libyolopr.so /usr/bin/python3 scripts/torch_train_step.py \\
           [--model yolov7-tiny] [--nc 20] [--size 416] [--batch 8] [--threads 2] [--runs 5] \\
           [--loss ota|simple]
Prints the median seconds per step, images/s and the peak RSS.
"""
import argparse
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import yolopr  # noqa: E402
from check_yolov7_export import build, read_safetensors  # noqa: E402
from make_loss_fixture import ciou, criterion, three_positive  # noqa: E402

HYP = dict(lr0=0.01, momentum=0.937, weight_decay=0.0005, box=0.05, cls=0.3, obj=0.7,
           cls_pw=1.0, obj_pw=1.0, anchor_t=4.0, fl_gamma=0.0, label_smoothing=0.0)


def synth_batch(b, size, nc):
    """The batch `yolopr bench --train` uses: synthetic images 0..b-1 (seed 1)
    as float NCHW in [0, 1] and their labels as (image, class, x, y, w, h)."""
    ds = yolopr.Dataset.synth(b, size, classes=nc, seed=1)
    x = np.stack([ds.image(i).transpose(2, 0, 1) for i in range(b)]).astype(np.float32) / 255
    rows = []
    for i in range(b):
        for c, x1, y1, x2, y2, _ in ds.labels(i)[:64]:
            rows.append([i, c, (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size,
                         (y2 - y1) / size])
    return torch.from_numpy(x), torch.tensor(rows, dtype=torch.float32).view(-1, 6)


def ota_targets(heads, targets, anchors, strides, size, nc, anchor_t):
    """ComputeLossOTA.build_targets, vectorized per image as YOLOv7's is:
    per level (b, a, gj, gi, target row) of the matched predictions."""
    shapes = [(h.shape[2], h.shape[3]) for h in heads]
    cand = three_positive(shapes, targets, anchors, anchor_t)
    nl = len(heads)
    out = [[[] for _ in range(5)] for _ in range(nl)]
    with torch.no_grad():
        for img in range(heads[0].shape[0]):
            rows = torch.nonzero(targets[:, 0] == img).view(-1)
            if rows.numel() == 0:
                continue
            tx = targets[rows, 2:6] * size
            txyxy = torch.cat([tx[:, :2] - tx[:, 2:] / 2, tx[:, :2] + tx[:, 2:] / 2], 1)
            sel, boxes, objs, clss, layer = [], [], [], [], []
            for i in range(nl):
                b, a, gj, gi, ti = cand[i]
                m = b == img
                b, a, gj, gi = b[m], a[m], gj[m], gi[m]
                fg = heads[i][b, a, gj, gi]
                grid = torch.stack([gi, gj], 1)
                pxy = (fg[:, :2].sigmoid() * 2.0 - 0.5 + grid) * strides[i]
                pwh = (fg[:, 2:4].sigmoid() * 2) ** 2 * anchors[i][a] * strides[i]
                boxes.append(torch.cat([pxy - pwh / 2, pxy + pwh / 2], 1))
                objs.append(fg[:, 4:5])
                clss.append(fg[:, 5:])
                sel.append(torch.stack([b, a, gj, gi], 1))
                layer.append(torch.full((b.numel(),), i, dtype=torch.long))
            pbox, pobj, pcls = torch.cat(boxes), torch.cat(objs), torch.cat(clss)
            if pbox.shape[0] == 0:
                continue
            sel, layer = torch.cat(sel), torch.cat(layer)
            lt = torch.max(txyxy[:, None, :2], pbox[:, :2])
            rb = torch.min(txyxy[:, None, 2:], pbox[:, 2:])
            inter = (rb - lt).clamp(0).prod(2)
            a1 = (txyxy[:, 2:] - txyxy[:, :2]).prod(1)
            a2 = (pbox[:, 2:] - pbox[:, :2]).prod(1)
            iou = inter / (a1[:, None] + a2 - inter)
            top, _ = torch.topk(iou, min(10, iou.shape[1]), dim=1)
            ks = torch.clamp(top.sum(1).int(), min=1)
            ngt, n = rows.numel(), pbox.shape[0]
            onehot = F.one_hot(targets[rows, 1].long(), nc).float()[:, None].expand(ngt, n, nc)
            y = (pcls[None].sigmoid() * pobj[None].sigmoid()).sqrt().expand(ngt, n, nc)
            cls_cost = F.binary_cross_entropy_with_logits(torch.log(y / (1 - y)), onehot,
                                                          reduction="none").sum(-1)
            cost = cls_cost + 3.0 * -torch.log(iou + 1e-8)
            match = torch.zeros_like(cost)
            for g in range(ngt):
                _, pos = torch.topk(cost[g], k=int(ks[g]), largest=False)
                match[g, pos] = 1.0
            multi = match.sum(0) > 1
            if multi.any():
                best = torch.min(cost[:, multi], 0)[1]
                match[:, multi] = 0.0
                match[best, multi] = 1.0
            fgm = match.sum(0) > 0
            gt = rows[match[:, fgm].argmax(0)]
            sel, layer = sel[fgm], layer[fgm]
            for i in range(nl):
                m = layer == i
                for k in range(4):
                    out[i][k].append(sel[m, k])
                out[i][4].append(gt[m])
    return [[torch.cat(x) if x else torch.zeros(0, dtype=torch.long) for x in lv] for lv in out]


def yolo_loss(heads, targets, anchors, strides, size, nc, ota, hyp):
    """YOLOv7's ComputeLoss(OTA).__call__: (loss·B, items)."""
    nl = len(heads)
    balance = [4.0, 1.0, 0.4] if nl == 3 else [4.0, 1.0, 0.25, 0.06, 0.02]
    if ota:
        pos = ota_targets(heads, targets, anchors, strides, size, nc, hyp["anchor_t"])
    else:
        pos = three_positive([(h.shape[2], h.shape[3]) for h in heads], targets, anchors,
                             hyp["anchor_t"])
    lbox, lobj, lcls = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    for i, pi in enumerate(heads):
        b, a, gj, gi, ti = pos[i]
        tobj = torch.zeros_like(pi[..., 0])
        if b.numel():
            h, w = pi.shape[2], pi.shape[3]
            ps = pi[b, a, gj, gi]
            grid = torch.stack([gi, gj], 1).float()
            pxy = ps[:, :2].sigmoid() * 2.0 - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors[i][a]
            tbox = targets[ti, 2:6] * torch.tensor([w, h, w, h], dtype=torch.float32)
            tbox = torch.cat([tbox[:, :2] - grid, tbox[:, 2:]], 1)
            iou = ciou(torch.cat([pxy, pwh], 1), tbox)
            lbox = lbox + (1.0 - iou).mean()
            tobj[b, a, gj, gi] = iou.detach().clamp(0).type(tobj.dtype)
            if nc > 1:
                t = torch.zeros_like(ps[:, 5:])
                t[torch.arange(b.numel()), targets[ti, 1].long()] = 1.0
                lcls = lcls + criterion(ps[:, 5:], t, hyp["cls_pw"], hyp["fl_gamma"])
        lobj = lobj + criterion(pi[..., 4], tobj, hyp["obj_pw"], hyp["fl_gamma"]) * balance[i]
    lbox, lobj, lcls = lbox * hyp["box"], lobj * hyp["obj"], lcls * hyp["cls"]
    bs = heads[0].shape[0]
    loss = lbox + lobj + lcls
    return loss * bs, torch.cat([lbox, lobj, lcls, loss]).detach()


def sgd_groups(model, hyp):
    """train.py's groups: BatchNorm weights (no decay), other weights (decay), biases."""
    pg0, pg1, pg2 = [], [], []
    for mod in model.modules():
        if hasattr(mod, "bias") and isinstance(mod.bias, nn.Parameter):
            pg2.append(mod.bias)
        if isinstance(mod, nn.BatchNorm2d):
            pg0.append(mod.weight)
        elif hasattr(mod, "weight") and isinstance(mod.weight, nn.Parameter):
            pg1.append(mod.weight)
        if hasattr(mod, "implicit") and isinstance(mod.implicit, nn.Parameter):
            pg0.append(mod.implicit)
    opt = torch.optim.SGD(pg0, lr=hyp["lr0"], momentum=hyp["momentum"], nesterov=True)
    opt.add_param_group({"params": pg1, "weight_decay": hyp["weight_decay"]})
    opt.add_param_group({"params": pg2})
    return opt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="yolov7-tiny")
    ap.add_argument("--nc", type=int, default=20)
    ap.add_argument("--size", type=int, default=416)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loss", choices=("ota", "simple"), default="ota")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = yolopr.Model.from_cfg(a.model, nc=a.nc)   # seed 0, as `yolopr bench --nc` builds it
    with tempfile.TemporaryDirectory() as tmp:
        m.export_yolov7(os.path.join(tmp, "m.yaml"), os.path.join(tmp, "m.safetensors"))
        with open(os.path.join(tmp, "m.yaml")) as f:
            cfg = yaml.safe_load(f)
        sd = read_safetensors(os.path.join(tmp, "m.safetensors"))
    net = build(cfg)
    net.load_state_dict(sd, strict=False)
    net.train()
    x, targets = synth_batch(a.batch, a.size, a.nc)
    head = net.model[-1]
    hyp = dict(HYP)
    nl = head.nl
    hyp["box"] *= 3.0 / nl
    hyp["cls"] *= a.nc / 80.0 * 3.0 / nl
    hyp["obj"] *= (a.size / 640.0) ** 2 * 3.0 / nl
    opt = sgd_groups(net, hyp)
    strides = None
    times = []
    for r in range(a.runs + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        heads = net(x)
        if strides is None:
            strides = torch.tensor([a.size / h.shape[2] for h in heads])
            anchors = head.anchors / strides.view(-1, 1, 1)   # grid units, as Detect keeps them
        loss, items = yolo_loss(heads, targets, anchors, strides, a.size, a.nc, a.loss == "ota",
                                hyp)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if r:   # the first step is the warm-up
            times.append(dt)
    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch %s train step @%dx%d batch %d (%d targets), %d threads, torch %s: median %.4f s "
          "per step (min %.4f), %.2f images/s, loss %.4g, peak RSS %.1f MB" %
          (a.model, a.size, a.size, a.batch, targets.shape[0], a.threads, torch.__version__, med,
           min(times), a.batch / med, float(items[3]), rss))


if __name__ == "__main__":
    main()
