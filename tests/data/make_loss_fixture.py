#!/usr/bin/python3
"""Reference values for lib/train/loss.c: our own PyTorch re-implementation of
YOLOv7's ComputeLoss and ComputeLossOTA (utils/loss.py semantics: 3-positive
assignment with anchor_t, CIoU box loss, BCE-with-logits objectness and
classes with pos_weight, label smoothing, focal loss, balance 4.0/1.0/0.4,
gr = 1, no autobalance; OTA: dynamic k from the top-10 IoUs, cost = class BCE
+ 3·(−log IoU)), with autograd giving d total / d head.

Run with Debian's interpreter: /usr/bin/python3 tests/data/make_loss_fixture.py

Writes into tests/data/loss/:
  <case>.bin      float32 little-endian, concatenated: the head maps of every
                  level [B, na·no, H, W] (the raw conv output, channel a·no + k),
                  the targets [nt, 6] (image, class, x, y, w, h normalized),
                  then for ota = 0 and ota = 1 the gradient of the total loss
                  w.r.t. every level's head map (same layout as the maps)
  manifest.json   per case: options (gains after train.py's rescaling),
                  shapes, float offsets into the .bin, and the loss items
                  [lbox, lobj, lcls, total] for ota 0 and 1

One deliberate choice where YOLOv7 leaves the result to torch.topk: when two
OTA candidates have the same cost (two targets giving the same cell and
anchor), the one listed first is taken first (stable order). The position
lists are those of YOLOv7 (offset-major, then anchor, then target), and a
cell assigned twice gets the objectness target of the last assignment.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss")

P5_ANCHORS = [[12, 16, 19, 36, 40, 28], [36, 75, 76, 55, 72, 146], [142, 110, 192, 243, 459, 401]]
TINY_ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]]
HYP = dict(box=0.05, cls=0.3, obj=0.7, cls_pw=1.0, obj_pw=1.0, anchor_t=4.0, fl_gamma=0.0,
           label_smoothing=0.0)


# ---------------------------------------------------------------- criteria
def criterion(x, t, pos_weight, gamma):
    """BCEWithLogits(pos_weight), optionally wrapped in YOLOv7's FocalLoss
    (alpha 0.25), mean reduction."""
    loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor([pos_weight]),
                                              reduction="none")
    if gamma > 0:
        p = torch.sigmoid(x)
        pt = t * p + (1 - t) * (1 - p)
        af = t * 0.25 + (1 - t) * 0.75
        loss = loss * af * (1.0 - pt) ** gamma
    return loss.mean()


def ciou(p, t, eps=1e-7):
    """CIoU of predicted p [n, 4] and target t [n, 4] boxes, both xywh;
    the trade-off alpha is a constant (computed without gradient)."""
    px1, px2 = p[:, 0] - p[:, 2] / 2, p[:, 0] + p[:, 2] / 2
    py1, py2 = p[:, 1] - p[:, 3] / 2, p[:, 1] + p[:, 3] / 2
    tx1, tx2 = t[:, 0] - t[:, 2] / 2, t[:, 0] + t[:, 2] / 2
    ty1, ty2 = t[:, 1] - t[:, 3] / 2, t[:, 1] + t[:, 3] / 2
    inter = (torch.min(px2, tx2) - torch.max(px1, tx1)).clamp(0) * \
            (torch.min(py2, ty2) - torch.max(py1, ty1)).clamp(0)
    w1, h1 = px2 - px1, py2 - py1 + eps
    w2, h2 = tx2 - tx1, ty2 - ty1 + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(px2, tx2) - torch.min(px1, tx1)
    ch = torch.max(py2, ty2) - torch.min(py1, ty1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((tx1 + tx2 - px1 - px2) ** 2 + (ty1 + ty2 - py1 - py2) ** 2) / 4
    v = (4 / math.pi ** 2) * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


# ---------------------------------------------------------------- assignment
def three_positive(shapes, targets, anchors, anchor_t):
    """Per level: (b, a, gj, gi, target row) of every candidate, in YOLOv7's
    order (offset, then anchor, then target)."""
    nt, na = targets.shape[0], anchors.shape[1]
    out = []
    offs = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32) * 0.5
    for i, (h, w) in enumerate(shapes):
        if nt == 0:
            out.append([torch.zeros(0, dtype=torch.long)] * 5)
            continue
        gain = torch.tensor([1, 1, w, h, w, h], dtype=torch.float32)
        t = targets[None].repeat(na, 1, 1) * gain
        ai = torch.arange(na)[:, None].repeat(1, nt)
        ti = torch.arange(nt)[None].repeat(na, 1)
        r = t[..., 4:6] / anchors[i][:, None]
        keep = torch.max(r, 1.0 / r).max(2)[0] < anchor_t
        t, ai, ti = t[keep], ai[keep], ti[keep]
        gxy = t[:, 2:4]
        gxi = torch.tensor([w, h], dtype=torch.float32) - gxy
        lo = (gxy % 1.0 < 0.5) & (gxy > 1.0)
        hi = (gxi % 1.0 < 0.5) & (gxi > 1.0)
        masks = [torch.ones_like(lo[:, 0]), lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]]
        bs, as_, gjs, gis, ts = [], [], [], [], []
        for o, m in zip(offs, masks):
            gij = (gxy[m] - o).long()
            bs.append(t[m, 0].long())
            as_.append(ai[m])
            gis.append(gij[:, 0].clamp(0, w - 1))
            gjs.append(gij[:, 1].clamp(0, h - 1))
            ts.append(ti[m])
        out.append([torch.cat(x) for x in (bs, as_, gjs, gis, ts)])
    return out


def ota_assign(heads, shapes, targets, anchors, strides, anchor_t, nc, img_h):
    """ComputeLossOTA.build_targets: per level (b, a, gj, gi, target row)."""
    cand = three_positive(shapes, targets, anchors, anchor_t)
    nl, B = len(heads), heads[0].shape[0]
    res = [[[] for _ in range(5)] for _ in range(nl)]
    with torch.no_grad():
        for img in range(B):
            rows = torch.nonzero(targets[:, 0] == img).view(-1)
            if rows.numel() == 0:
                continue
            tx = targets[rows, 2:6] * img_h          # YOLOv7 scales by imgs.shape[1] (height)
            txyxy = torch.cat([tx[:, :2] - tx[:, 2:] / 2, tx[:, :2] + tx[:, 2:] / 2], 1)
            cols, pboxes, pobj, pcls = [], [], [], []
            for i in range(nl):
                b, a, gj, gi, ti = cand[i]
                m = b == img
                b, a, gj, gi, ti = b[m], a[m], gj[m], gi[m], ti[m]
                fg = heads[i][b, a, gj, gi]
                grid = torch.stack([gi, gj], 1)
                pxy = (fg[:, :2].sigmoid() * 2.0 - 0.5 + grid) * strides[i]
                pwh = (fg[:, 2:4].sigmoid() * 2) ** 2 * anchors[i][a] * strides[i]
                pboxes.append(torch.cat([pxy - pwh / 2, pxy + pwh / 2], 1))
                pobj.append(fg[:, 4:5])
                pcls.append(fg[:, 5:])
                for k in range(b.numel()):
                    cols.append((i, int(b[k]), int(a[k]), int(gj[k]), int(gi[k])))
            if not cols:
                continue
            pbox, pobj, pcls = torch.cat(pboxes), torch.cat(pobj), torch.cat(pcls)
            area1 = (txyxy[:, 2] - txyxy[:, 0]) * (txyxy[:, 3] - txyxy[:, 1])
            area2 = (pbox[:, 2] - pbox[:, 0]) * (pbox[:, 3] - pbox[:, 1])
            inter = (torch.min(txyxy[:, None, 2:], pbox[:, 2:]) -
                     torch.max(txyxy[:, None, :2], pbox[:, :2])).clamp(0).prod(2)
            iou = inter / (area1[:, None] + area2 - inter)
            top, _ = torch.topk(iou, min(10, iou.shape[1]), dim=1)
            ks = torch.clamp(top.sum(1).int(), min=1)
            ngt = rows.numel()
            onehot = F.one_hot(targets[rows, 1].long(), nc).float()[:, None].repeat(1, len(cols), 1)
            y = (pcls[None].repeat(ngt, 1, 1).sigmoid() * pobj[None].repeat(ngt, 1, 1).sigmoid()).sqrt()
            cls_cost = F.binary_cross_entropy_with_logits(torch.log(y / (1 - y)), onehot,
                                                          reduction="none").sum(-1)
            cost = cls_cost + 3.0 * -torch.log(iou + 1e-8)
            match = torch.zeros_like(cost)
            for g in range(ngt):
                order = torch.sort(cost[g], stable=True)[1]
                match[g, order[:int(ks[g])]] = 1.0
            multi = match.sum(0) > 1
            if multi.any():
                best = torch.min(cost[:, multi], 0)[1]
                match[:, multi] = 0.0
                match[best, multi] = 1.0
            for c in range(len(cols)):
                if match[:, c].sum() > 0:
                    g = int(match[:, c].argmax())
                    i, b, a, gj, gi = cols[c]
                    for lst, v in zip(res[i], (b, a, gj, gi, int(rows[g]))):
                        lst.append(v)
    return [[torch.tensor(x, dtype=torch.long) for x in r] for r in res]


# ---------------------------------------------------------------- the loss
def compute_loss(maps, targets, o, ota):
    """maps: level tensors [B, na·no, H, W] (requires_grad). Returns the loss
    items [lbox, lobj, lcls] (gains applied) and the total (·B)."""
    na, nc = o["na"], o["nc"]
    no = nc + 5
    heads = [m.view(m.shape[0], na, no, m.shape[2], m.shape[3]).permute(0, 1, 3, 4, 2) for m in maps]
    shapes = [(m.shape[2], m.shape[3]) for m in maps]
    anchors = torch.tensor(o["anchors"], dtype=torch.float32).view(o["nl"], na, 2)
    strides = torch.tensor(o["strides"], dtype=torch.float32)
    nl = len(maps)
    balance = [4.0, 1.0, 0.4] if nl == 3 else [4.0, 1.0, 0.25, 0.06, 0.02]
    cp, cn = 1.0 - 0.5 * o["label_smoothing"], 0.5 * o["label_smoothing"]
    if ota:
        pos = ota_assign(heads, shapes, targets, anchors, strides, o["anchor_t"], nc, o["img_h"])
    else:
        pos = three_positive(shapes, targets, anchors, o["anchor_t"])
    lbox = torch.zeros(1)
    lobj = torch.zeros(1)
    lcls = torch.zeros(1)
    for i, pi in enumerate(heads):
        b, a, gj, gi, ti = pos[i]
        tobj = torch.zeros_like(pi[..., 0])
        n = b.numel()
        if n:
            h, w = shapes[i]
            ps = pi[b, a, gj, gi]
            pxy = ps[:, :2].sigmoid() * 2.0 - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors[i][a]
            tb = targets[ti, 2:6] * torch.tensor([w, h, w, h], dtype=torch.float32)
            tb[:, :2] -= torch.stack([gi, gj], 1)
            iou = ciou(torch.cat([pxy, pwh], 1), tb)
            lbox = lbox + (1.0 - iou).mean()
            with torch.no_grad():
                for k in range(n):      # the last assignment of a cell wins
                    tobj[b[k], a[k], gj[k], gi[k]] = iou[k].clamp(0)
            if nc > 1:
                t = torch.full_like(ps[:, 5:], cn)
                t[range(n), targets[ti, 1].long()] = cp
                lcls = lcls + criterion(ps[:, 5:], t, o["cls_pw"], o["fl_gamma"])
        lobj = lobj + criterion(pi[..., 4], tobj, o["obj_pw"], o["fl_gamma"]) * balance[i]
    lbox = lbox * o["box"]
    lobj = lobj * o["obj"]
    lcls = lcls * o["cls"]
    bs = maps[0].shape[0]
    return lbox, lobj, lcls, (lbox + lobj + lcls) * bs


# ---------------------------------------------------------------- cases
def opts(nl, nc, img, **kw):
    h = dict(HYP)
    h.update(kw)
    strides = [8.0, 16.0, 32.0] if nl == 3 else [8.0, 16.0]
    anc = P5_ANCHORS if nl == 3 else TINY_ANCHORS
    a = (torch.tensor(anc, dtype=torch.float32).view(nl, 3, 2) /
         torch.tensor(strides).view(-1, 1, 1))
    imgsz = max(img)
    return dict(nc=nc, nl=nl, na=3, anchors=a.view(-1).tolist(), strides=strides,
                box=float(np.float32(h["box"] * 3.0 / nl)),
                cls=float(np.float32(h["cls"] * nc / 80.0 * 3.0 / nl)),
                obj=float(np.float32(h["obj"] * (imgsz / 640) ** 2 * 3.0 / nl)),
                cls_pw=h["cls_pw"], obj_pw=h["obj_pw"], anchor_t=h["anchor_t"],
                label_smoothing=h["label_smoothing"], fl_gamma=h["fl_gamma"],
                img_h=img[0], img_w=img[1])


def T(rows):
    return torch.tensor(rows, dtype=torch.float32).view(-1, 6)


CASES = [
    # several per image, image 1 empty, tiny (no anchor), huge, borders (x = 1.0
    # exactly, near 0), two targets in one cell with the same anchor
    ("l3_nc3_b3", 3, 3, 3, (96, 96), {}, T([
        [0, 0, 0.30, 0.40, 0.20, 0.25], [0, 2, 0.32, 0.41, 0.18, 0.22],
        [0, 1, 0.70, 0.20, 0.10, 0.15], [0, 1, 0.004, 0.50, 0.006, 0.004],
        [2, 2, 0.50, 0.50, 0.95, 0.90], [2, 0, 0.02, 0.98, 0.04, 0.03],
        [2, 1, 1.00, 0.33, 0.12, 0.30], [2, 0, 0.61, 0.07, 0.35, 0.12],
    ])),
    ("l2_nc1_b2", 2, 1, 2, (64, 64), {}, T([
        [0, 0, 0.50, 0.50, 0.30, 0.40], [0, 0, 0.52, 0.51, 0.28, 0.36],
        [0, 0, 0.10, 0.90, 0.10, 0.08], [1, 0, 0.002, 0.003, 0.01, 0.01],
        [1, 0, 0.80, 0.75, 0.45, 0.60], [1, 0, 0.97, 0.05, 0.05, 0.09],
    ])),
    ("l3_nc20_b4_smooth_pw", 3, 20, 4, (64, 64),
     dict(label_smoothing=0.1, cls_pw=1.3, obj_pw=0.9), T([
        [0, 5, 0.25, 0.25, 0.30, 0.30], [0, 19, 0.75, 0.70, 0.40, 0.50],
        [1, 0, 0.50, 0.50, 0.99, 0.99], [1, 7, 0.10, 0.10, 0.05, 0.08],
        [1, 7, 0.11, 0.12, 0.06, 0.07], [3, 12, 0.90, 0.40, 0.15, 0.60],
        [3, 3, 0.45, 0.55, 0.02, 0.20], [3, 3, 0.30, 0.80, 0.25, 0.10],
    ])),
    ("l3_nc3_focal", 3, 3, 2, (96, 96), dict(fl_gamma=1.5), T([
        [0, 1, 0.40, 0.60, 0.30, 0.20], [0, 2, 0.80, 0.30, 0.10, 0.40],
        [1, 0, 0.55, 0.45, 0.60, 0.70], [1, 1, 0.05, 0.95, 0.08, 0.08],
    ])),
    ("l3_nc3_nonsquare", 3, 3, 2, (64, 96), {}, T([
        [0, 0, 0.30, 0.50, 0.20, 0.40], [0, 2, 0.80, 0.20, 0.30, 0.25],
        [1, 1, 0.50, 0.50, 0.70, 0.60], [1, 1, 0.99, 0.99, 0.10, 0.10],
    ])),
    ("l3_nc3_no_targets", 3, 3, 2, (64, 64), {}, T([])),
]


def main():
    os.makedirs(HERE, exist_ok=True)
    torch.manual_seed(20261201)
    manifest = {"cases": []}
    for name, nl, nc, B, img, kw, targets in CASES:
        o = opts(nl, nc, img, **kw)
        no = nc + 5
        maps = []
        for s in o["strides"]:
            h, w = int(img[0] // s), int(img[1] // s)
            x = torch.randn(B, 3 * no, h, w) * 1.5
            maps.append(x)
        chunks, off = [], 0
        entry = dict(name=name, batch=B, nt=targets.shape[0], opts=o,
                     levels=[[m.shape[2], m.shape[3]] for m in maps])

        def put(t):
            nonlocal off
            a = t.detach().contiguous().view(-1).numpy().astype("<f4")
            chunks.append(a.tobytes())
            off += a.size
            return off - a.size

        entry["head"] = [put(m) for m in maps]
        entry["targets"] = put(targets)
        for ota in (0, 1):
            leaves = [m.clone().requires_grad_(True) for m in maps]
            lbox, lobj, lcls, total = compute_loss(leaves, targets, o, ota)
            total.backward()
            entry["loss_ota%d" % ota] = [float(lbox), float(lobj), float(lcls), float(total)]
            entry["grad_ota%d" % ota] = [put(g.grad) for g in leaves]
            print(name, "ota", ota, entry["loss_ota%d" % ota])
        entry["file"] = name + ".bin"
        with open(os.path.join(HERE, entry["file"]), "wb") as f:
            for c in chunks:
                f.write(c)
        manifest["cases"].append(entry)
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
