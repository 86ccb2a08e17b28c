#!/usr/bin/python3
"""End-to-end fixture for the evaluator: a small trained detector, a small
held-out dataset of non-square images, and the mAP that YOLOv7's test.py
pipeline gives on them, from our own PyTorch re-implementation of that
pipeline (written from YOLOv7's published behaviour; it shares no code with
libyolopr):

  * rect batches: images sorted by aspect ratio (h / w), consecutive groups of
    `batch` images, each group letterboxed to
    ceil(shape * img_size / stride + 0.5) * stride, where shape is
    [max ar, 1] when every image of the group is wide, [1, 1 / min ar] when
    every image is tall, [1, 1] otherwise (stride = max(model stride, 32));
  * letterbox: the image (long side == img_size here, so no resampling) padded
    with 114, top/left = round(pad - 0.1), the boxes mapped back with the
    unrounded half padding (scale_coords with ratio_pad), clipped;
  * labels: normalized xywh -> canvas pixels -> normalized by the canvas ->
    pixels -> scale_coords, in float32 as the data loader does;
  * IDetect decode, NMS with confidence 0.001 (objectness and obj x cls), IoU
    0.65, multi-label, boxes offset by class x 4096, at most 30000 candidates
    and 300 detections;
  * matching: per image and class, predictions in NMS order take their best
    IoU label above 0.5, each label once, scored at 0.50:0.05:0.95;
  * ap_per_class: confidence order, recall sentinels [0, r, r_last + 0.01],
    precision envelope, 101-point trapezoid; means over classes with labels.

Sorts are stable here (test.py's are not; ties are absent in practice).

The model is tests/data/model/mini.yaml (the architecture of
make_model_fixture.py, imported from there), trained here briefly on
synthetic images of three shape classes with a simple YOLO loss. It need not
be good, only clearly better than chance.

Writes tests/data/e2e/:
  images/*.png, labels/*.txt, classes.txt   the held-out set (long side 128)
  mini_trained.safetensors                  the trained weights
  expected.json, expected.txt               mAP@0.5 and mAP@0.5:0.95 per mode
                                            (batch 1 and 3, test.py's canvas and
                                            the one capped at the input size)

Run with Debian's interpreter (python3-torch, NumPy); training takes about
half an hour on one core (REUSE=1 keeps the committed weights and only
re-derives the dataset and the expected numbers):
    /usr/bin/python3 tests/data/make_e2e_fixture.py
"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "e2e")
sys.path.insert(0, HERE)
import make_model_fixture as mm  # noqa: E402  (the PyTorch mini model)

SIZE = 128          # evaluation input size (long side of every image)
NC = 3
NAMES = ["ellipse", "box", "triangle"]
STRIDES = [4.0, 8.0]
ANCHORS = torch.tensor(mm.ANCHORS, dtype=torch.float32).view(2, 3, 2)   # pixels
NVAL = 40
TRAIN_CANVAS = 160



# ------------------------------------------------------------------ images

def draw_image(rng, w, h):
    """A smooth background with muted clutter and 1-5 coloured shapes.
    Returns uint8 [h, w, 3] and labels [cls, x1, y1, x2, y2] (pixels)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(60, 200, 3), rng.uniform(60, 200, 3)
    t = (xx / w * rng.uniform(0, 1) + yy / h * rng.uniform(0, 1))[..., None]
    img = c0 * (1 - t / 2) + c1 * (t / 2)
    for _ in range(int(rng.integers(0, 4))):          # grey clutter
        x1, y1 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        bw, bh = int(rng.integers(6, 30)), int(rng.integers(6, 30))
        img[y1:y1 + bh, x1:x1 + bw] = rng.uniform(70, 190) + rng.uniform(-12, 12, 3)
    labels = []
    for _ in range(int(rng.integers(1, 6))):
        cls = int(rng.integers(0, NC))
        bw, bh = float(rng.uniform(12, 56)), float(rng.uniform(12, 56))
        if max(bw / bh, bh / bw) > 2.5:
            bh = bw * float(rng.uniform(0.6, 1.6))
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        px, py = xx + 0.5 - cx, yy + 0.5 - cy
        if cls == 0:
            mask = (px / (bw / 2)) ** 2 + (py / (bh / 2)) ** 2 <= 1
            col = (rng.uniform(180, 255), rng.uniform(40, 120), rng.uniform(20, 90))
        elif cls == 1:
            mask = (np.abs(px) <= bw / 2) & (np.abs(py) <= bh / 2)
            col = (rng.uniform(20, 90), rng.uniform(60, 140), rng.uniform(170, 255))
        else:   # apex up: inside when |x| <= (y + h/2) * w / (2h)
            mask = (np.abs(px) <= (py + bh / 2) * bw / (2 * bh)) & (np.abs(py) <= bh / 2)
            col = (rng.uniform(30, 110), rng.uniform(170, 255), rng.uniform(30, 110))
        ys, xs = np.nonzero(mask)
        if len(xs) < 30:
            continue
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        if any(mm.iou(box, l[1:]) > 0.3 for l in labels):
            continue
        img[mask] = col
        labels.append([cls] + box)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    # later shapes may cover earlier ones: recompute nothing, overlap <= 0.3
    return img, labels


def write_png(path, img):
    """RGB8 PNG, every row with the Up filter (our own tiny encoder)."""
    h, w, _ = img.shape
    rows = img.astype(np.int16)
    up = np.vstack([rows[:1], rows[1:] - rows[:-1]]) % 256
    raw = b"".join(bytes([2 if y else 0]) + up[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def label_text(labels, w, h):
    lines = []
    for c, x1, y1, x2, y2 in labels:
        lines.append("%d %.6f %.6f %.6f %.6f" % (c, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h,
                                                 (x2 - x1) / w, (y2 - y1) / h))
    return "".join(l + "\n" for l in lines)


# ---------------------------------------------------------------- training

def train_batch(rng, n):
    """n canvases of TRAIN_CANVAS^2: an image (long side SIZE) at a random
    place on grey 114, labels [img, cls, x1, y1, x2, y2] in canvas pixels."""
    x = np.full((n, TRAIN_CANVAS, TRAIN_CANVAS, 3), 114, np.uint8)
    targets = []
    for k in range(n):
        w, h = SIZE, int(rng.integers(48, SIZE + 1))
        if rng.random() < 0.5:
            w, h = h, w
        img, labels = draw_image(rng, w, h)
        if rng.random() < 0.5:
            img = img[:, ::-1]
            labels = [[c, w - x2, y1, w - x1, y2] for c, x1, y1, x2, y2 in labels]
        ox, oy = int(rng.integers(0, TRAIN_CANVAS - w + 1)), int(rng.integers(0, TRAIN_CANVAS - h + 1))
        x[k, oy:oy + h, ox:ox + w] = img
        for c, x1, y1, x2, y2 in labels:
            targets.append([k, c, x1 + ox, y1 + oy, x2 + ox, y2 + oy])
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    return xt, torch.tensor(targets, dtype=torch.float32).view(-1, 6)


def giou(a, b):
    """a, b: [n, 4] xyxy."""
    iw = (torch.min(a[:, 2], b[:, 2]) - torch.max(a[:, 0], b[:, 0])).clamp(0)
    ih = (torch.min(a[:, 3], b[:, 3]) - torch.max(a[:, 1], b[:, 1])).clamp(0)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    u = inter / (union + 1e-7)
    cw = torch.max(a[:, 2], b[:, 2]) - torch.min(a[:, 0], b[:, 0])
    ch = torch.max(a[:, 3], b[:, 3]) - torch.min(a[:, 1], b[:, 1])
    c = cw * ch + 1e-7
    return u - (c - union) / c, u


def yolo_loss(outs, targets):
    """A simple YOLO loss: each label goes to the anchors whose shape is within
    4x of its own, at its centre cell and the two nearest neighbour cells (as in
    YOLOv5/v7); GIoU box loss, BCE objectness (target: IoU) and classes."""
    bce = nn.BCEWithLogitsLoss()
    lbox, lobj, lcls = 0.0, 0.0, 0.0
    balance = [4.0, 1.0]
    for l, o in enumerate(outs):               # [b, na, H, W, no]
        b, na, H, W, no = o.shape
        s = STRIDES[l]
        tobj = torch.zeros(o.shape[:4])
        if len(targets):
            gxy = (targets[:, 2:4] + targets[:, 4:6]) / 2 / s
            gwh = (targets[:, 4:6] - targets[:, 2:4])
            frac = gxy % 1
            near = [torch.ones(len(targets), dtype=torch.bool),
                    (frac[:, 0] < 0.5) & (gxy[:, 0] > 1), (frac[:, 1] < 0.5) & (gxy[:, 1] > 1),
                    (frac[:, 0] > 0.5) & (gxy[:, 0] < W - 1), (frac[:, 1] > 0.5) & (gxy[:, 1] < H - 1)]
            offs = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32)
            parts = []
            for a in range(na):
                r = gwh / ANCHORS[l, a]
                ok = torch.max(r, 1 / r).max(1).values < 4.0
                for o_i in range(5):
                    t = torch.nonzero(ok & near[o_i]).view(-1)
                    cell = (gxy[t] - offs[o_i]).long()
                    gi = cell[:, 0].clamp(0, W - 1)
                    gj = cell[:, 1].clamp(0, H - 1)
                    parts.append(torch.stack([targets[t, 0].long(), torch.full_like(t, a), gj, gi, t], 1))
            idx = torch.cat(parts, 0)
            if len(idx):
                ii = idx
                p = o[ii[:, 0], ii[:, 1], ii[:, 2], ii[:, 3]]        # [m, no]
                sig = p.sigmoid()
                cx = (sig[:, 0] * 2 - 0.5 + ii[:, 3]) * s
                cy = (sig[:, 1] * 2 - 0.5 + ii[:, 2]) * s
                bw = (sig[:, 2] * 2) ** 2 * ANCHORS[l, ii[:, 1], 0]
                bh = (sig[:, 3] * 2) ** 2 * ANCHORS[l, ii[:, 1], 1]
                pb = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
                tb = targets[ii[:, 4], 2:6]
                g, u = giou(pb, tb)
                lbox = lbox + (1 - g).mean()
                tobj[ii[:, 0], ii[:, 1], ii[:, 2], ii[:, 3]] = u.detach().clamp(0).float()
                tc = torch.zeros(len(ii), NC)
                tc[torch.arange(len(ii)), targets[ii[:, 4], 1].long()] = 1.0
                lcls = lcls + bce(p[:, 5:], tc)
        lobj = lobj + bce(o[..., 4], tobj) * balance[l]
    return lbox + lobj + 0.5 * lcls


def init_biases(net):
    det = net.model[-1]
    with torch.no_grad():
        for l, conv in enumerate(det.m):
            b = conv.bias.view(det.na, -1)
            b[:, 4] = math.log(8 / (TRAIN_CANVAS / STRIDES[l]) ** 2)
            b[:, 5:] = math.log(0.6 / (NC - 0.99))
        for im in det.im:
            im.implicit.fill_(1.0)
        for ia in det.ia:
            ia.implicit.zero_()


def train(steps, seed=7):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = mm.Net()
    init_biases(net)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps,
                                                pct_start=0.1)
    for step in range(steps):
        x, t = train_batch(rng, 16)
        loss = yolo_loss(net(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step} loss {float(loss):.4f}", flush=True)
    return net.eval()


# ------------------------------------------- test.py's pipeline, our own code

def batch_shapes(ars, batch, stride, cap):
    """Canvas (h, w) of each batch of the aspect-ratio-sorted images."""
    shapes = []
    for i in range(0, len(ars), batch):
        a = ars[i:i + batch]
        mini, maxi = min(a), max(a)
        s = [1.0, 1.0]
        if maxi < 1:
            s = [maxi, 1.0]
        elif mini > 1:
            s = [1.0, 1.0 / mini]
        hw = [int(math.ceil(v * SIZE / stride + 0.5)) * stride for v in s]
        if cap:
            hw = [min(v, SIZE) for v in hw]
        shapes.append(hw)
    return shapes


def letterbox(img, H, W):
    """No resize (the long side is SIZE); pad with 114 as test.py's letterbox."""
    h, w, _ = img.shape
    dw, dh = (W - w) / 2, (H - h) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    out = np.full((H, W, 3), 114, np.uint8)
    out[top:top + h, left:left + w] = img
    return out, (dw, dh)


def idetect_inference(outs):
    z = []
    for l, o in enumerate(outs):
        y = o.sigmoid()
        b, na, H, W, no = y.shape
        gy, gx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        grid = torch.stack((gx, gy), 2).view(1, 1, H, W, 2).float()
        xy = (y[..., 0:2] * 2.0 - 0.5 + grid) * STRIDES[l]
        wh = (y[..., 2:4] * 2) ** 2 * ANCHORS[l].view(1, na, 1, 1, 2)
        z.append(torch.cat((xy, wh, y[..., 4:]), -1).view(b, -1, no))
    return torch.cat(z, 1)


def box_iou(a, b):
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = (torch.min(a[:, None, 2:], b[:, 2:]) - torch.max(a[:, None, :2], b[:, :2])).clamp(0).prod(2)
    return inter / (area_a[:, None] + area_b - inter)


def nms_greedy(boxes, scores, thr, limit):
    """Indices kept, in decreasing score: a box is dropped when its IoU with a
    kept box exceeds thr. Greedy, so the first `limit` kept do not depend on
    the boxes after them: stop there."""
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order]
    dead = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if dead[i]:
            continue
        keep.append(int(order[i]))
        if len(keep) == limit:
            break
        dead |= box_iou(b[i:i + 1], b)[0] > thr
    return torch.tensor(keep, dtype=torch.long)


def suppress(pred, conf_thres=0.001, iou_thres=0.65):
    out = []
    for x in pred:
        x = x[x[:, 4] > conf_thres].clone()
        if not len(x):
            out.append(torch.zeros((0, 6)))
            continue
        x[:, 5:] *= x[:, 4:5]
        box = torch.stack([x[:, 0] - x[:, 2] / 2, x[:, 1] - x[:, 3] / 2,
                           x[:, 0] + x[:, 2] / 2, x[:, 1] + x[:, 3] / 2], 1)
        i, j = (x[:, 5:] > conf_thres).nonzero(as_tuple=False).T
        x = torch.cat((box[i], x[i, j + 5, None], j[:, None].float()), 1)
        if not len(x):
            out.append(torch.zeros((0, 6)))
            continue
        if len(x) > 30000:
            x = x[torch.sort(x[:, 4], descending=True, stable=True).indices[:30000]]
        keep = nms_greedy(x[:, :4] + x[:, 5:6] * 4096, x[:, 4], iou_thres, 300)
        out.append(x[keep])
    return out


def to_native(boxes, pad, gain, h0, w0):
    boxes = boxes.clone()
    boxes[:, [0, 2]] -= pad[0]
    boxes[:, [1, 3]] -= pad[1]
    boxes[:, :4] /= gain
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clamp(0, w0)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clamp(0, h0)
    return boxes


def compute_ap(recall, precision):
    mrec = np.concatenate(([0.0], recall, [recall[-1] + 0.01]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return np.trapz(np.interp(x, mrec, mpre), x)


def ap_per_class(tp, conf, pred_cls, target_cls):
    i = np.argsort(-conf, kind="stable")
    tp, conf, pred_cls = tp[i], conf[i], pred_cls[i]
    classes = np.unique(target_cls)
    ap = np.zeros((len(classes), tp.shape[1]))
    for ci, c in enumerate(classes):
        sel = pred_cls == c
        n_l = (target_cls == c).sum()
        if sel.sum() == 0 or n_l == 0:
            continue
        fpc = (1 - tp[sel]).cumsum(0)
        tpc = tp[sel].cumsum(0)
        recall = tpc / (n_l + 1e-16)
        precision = tpc / (tpc + fpc)
        for j in range(tp.shape[1]):
            ap[ci, j] = compute_ap(recall[:, j], precision[:, j])
    return ap


def evaluate(net, items, batch, cap):
    """items: (img uint8 [h, w, 3], label text) in file-name order."""
    iouv = torch.linspace(0.5, 0.95, 10)
    ars = [it[0].shape[0] / it[0].shape[1] for it in items]
    order = sorted(range(len(items)), key=lambda k: ars[k])      # stable
    shapes = batch_shapes([ars[k] for k in order], batch, 32, cap)
    stats = []
    for bi, (H, W) in enumerate(shapes):
        idx = order[bi * batch:(bi + 1) * batch]
        canv, meta, tl = [], [], []
        for k in idx:
            img, text = items[k]
            h0, w0 = img.shape[:2]
            lb, pad = letterbox(img, H, W)
            canv.append(lb)
            meta.append((h0, w0, pad, 1.0))      # gain h/h0 = 1: no resize
            rows = [r.split() for r in text.strip().splitlines()]
            lab = np.array(rows, dtype=np.float32).reshape(-1, 5)
            if len(lab):   # xywhn -> canvas xyxy -> canvas-normalized xywh
                xy = lab.copy()
                xy[:, 1] = w0 * (lab[:, 1] - lab[:, 3] / 2) + pad[0]
                xy[:, 2] = h0 * (lab[:, 2] - lab[:, 4] / 2) + pad[1]
                xy[:, 3] = w0 * (lab[:, 1] + lab[:, 3] / 2) + pad[0]
                xy[:, 4] = h0 * (lab[:, 2] + lab[:, 4] / 2) + pad[1]
                lab = xy.copy()
                lab[:, 1] = (xy[:, 1] + xy[:, 3]) / 2 / W
                lab[:, 2] = (xy[:, 2] + xy[:, 4]) / 2 / H
                lab[:, 3] = (xy[:, 3] - xy[:, 1]) / W
                lab[:, 4] = (xy[:, 4] - xy[:, 2]) / H
            tl.append(torch.from_numpy(lab))
        x = torch.from_numpy(np.stack(canv)).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
            preds = suppress(idetect_inference(net(x)))
        for si, pred in enumerate(preds):
            h0, w0, pad, gain = meta[si]
            labels = tl[si].clone()
            labels[:, 1:] *= torch.tensor([W, H, W, H], dtype=torch.float32)
            nl = len(labels)
            tcls = labels[:, 0].tolist() if nl else []
            if len(pred) == 0:
                if nl:
                    stats.append((np.zeros((0, 10), bool), np.zeros(0), np.zeros(0), tcls))
                continue
            predn = to_native(pred[:, :4], pad, gain, h0, w0)
            correct = torch.zeros(len(pred), 10, dtype=torch.bool)
            if nl:
                detected = []
                tc = labels[:, 0]
                tbox = torch.stack([labels[:, 1] - labels[:, 3] / 2, labels[:, 2] - labels[:, 4] / 2,
                                    labels[:, 1] + labels[:, 3] / 2, labels[:, 2] + labels[:, 4] / 2], 1)
                tbox = to_native(tbox, pad, gain, h0, w0)
                for c in torch.unique(tc):
                    ti = (c == tc).nonzero(as_tuple=False).view(-1)
                    pi = (c == pred[:, 5]).nonzero(as_tuple=False).view(-1)
                    if pi.shape[0]:
                        ious, i = box_iou(predn[pi], tbox[ti]).max(1)
                        seen = set()
                        for j in (ious > iouv[0]).nonzero(as_tuple=False):
                            d = ti[i[j]]
                            if d.item() not in seen:
                                seen.add(d.item())
                                detected.append(d)
                                correct[pi[j]] = ious[j] > iouv
                                if len(detected) == nl:
                                    break
            stats.append((correct.numpy(), pred[:, 4].numpy(), pred[:, 5].numpy(), tcls))
    tp = np.concatenate([s[0] for s in stats], 0)
    conf = np.concatenate([s[1] for s in stats], 0)
    pcls = np.concatenate([s[2] for s in stats], 0)
    tcls = np.concatenate([np.array(s[3]) for s in stats], 0)
    if not tp.any():
        return 0.0, 0.0, len(conf)
    ap = ap_per_class(tp.astype(np.float64), conf.astype(np.float64), pcls, tcls)
    return float(ap[:, 0].mean()), float(ap.mean(1).mean()), len(conf)


# --------------------------------------------------------------------- main

def main():
    torch.set_num_threads(1)
    steps = int(os.environ.get("STEPS", "800"))
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "labels"), exist_ok=True)
    rng = np.random.default_rng(20261203)
    items = []
    for k in range(NVAL):
        # square, wide and tall; odd sides give the letterbox padding halves
        w, h = SIZE, SIZE if k % 5 == 0 else int(rng.integers(48, SIZE))
        if k % 2:
            w, h = h, w
        img, labels = draw_image(rng, w, h)
        text = label_text(labels, w, h)
        write_png(os.path.join(OUT, "images", "val%02d.png" % k), img)
        with open(os.path.join(OUT, "labels", "val%02d.txt" % k), "w") as f:
            f.write(text)
        items.append((img, text))
    with open(os.path.join(OUT, "classes.txt"), "w") as f:
        f.write("".join(n + "\n" for n in NAMES))
    path = os.path.join(OUT, "mini_trained.safetensors")
    if os.environ.get("REUSE") and os.path.exists(path):
        net = load(path)
    else:
        net = train(steps)
        sd = {k: v.float() for k, v in net.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        sd["model.17.anchors"] = ANCHORS / torch.tensor(STRIDES).view(-1, 1, 1)
        sd["model.17.anchor_grid"] = ANCHORS.clone().view(2, 1, 3, 1, 1, 2)
        mm.write_safetensors(path, sd)
        net = load(path)   # evaluate exactly the float32 weights written
    exp = {"size": SIZE, "images": NVAL, "iou": 0.65, "conf": 0.001, "modes": []}
    for cap in (0, 1):
        for batch in (1, 3):
            m50, m, nd = evaluate(net, items, batch, cap)
            exp["modes"].append({"batch": batch, "cap_canvas": cap, "map50": m50, "map": m,
                                 "detections": nd})
            print(f"batch {batch} cap {cap}: mAP@.5 {m50:.6f} mAP@.5:.95 {m:.6f} ({nd} dets)")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "expected.txt"), "w") as f:   # for the C test
        f.write("# batch cap_canvas map50 map (make_e2e_fixture.py)\n")
        for e in exp["modes"]:
            f.write("%d %d %.9f %.9f\n" % (e["batch"], e["cap_canvas"], e["map50"], e["map"]))


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        blob = f.read()
    net = mm.Net()
    sd = net.state_dict()
    for k, v in head.items():
        if k in sd:
            a, b = v["data_offsets"]
            sd[k] = torch.from_numpy(np.frombuffer(blob[a:b], "<f4").copy()).view(v["shape"])
    net.load_state_dict(sd)
    return net.eval()


if __name__ == "__main__":
    main()
