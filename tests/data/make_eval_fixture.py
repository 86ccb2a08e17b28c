#!/usr/bin/python3
"""Random detection fixture and expected metrics for tests/test_eval.c.

An independent NumPy re-implementation of the metric as described in
../shared/REFERENCE.md ("YOLOv7 metric facts") and COCO's published
evaluation rules; it shares no code with lib/eval. Run with Debian's
interpreter (NumPy):

    /usr/bin/python3 tests/data/make_eval_fixture.py

Writes tests/data/eval/random.bin (the inputs) and
tests/data/eval/random_expected.json (the numbers for both modes).

random.bin, little-endian: b"YPREVAL1", int32 nc, int32 nimg, then per
image int32 ndet, int32 ngt, float32 dets[ndet][6] (x1 y1 x2 y2 conf cls),
float32 gts[ngt][6] (cls x1 y1 x2 y2 difficult).
"""
import json
import os
import struct

import numpy as np

NC = 6            # class 5 never has a label: it must drop out of the means
NIMG = 400
THR = [0.5 + 0.05 * t for t in range(10)]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval")


# ------------------------------------------------------------------ data

def make_data(seed=20261107):
    rng = np.random.default_rng(seed)
    images = []
    for k in range(NIMG):
        crowded = k % 40 == 7
        ngt = int(rng.integers(15, 26)) if crowded else int(min(rng.poisson(3.0), 12))
        if rng.random() < 0.08 and not crowded:
            ngt = 0
        gts = []
        cx0, cy0 = rng.uniform(150, 490), rng.uniform(120, 360)
        for _ in range(ngt):
            c = int(rng.choice(5, p=[0.35, 0.25, 0.2, 0.15, 0.05]))
            if crowded:   # people in a queue: heavy overlaps
                w, h = rng.uniform(30, 60), rng.uniform(60, 120)
                cx, cy = cx0 + rng.normal(0, 40), cy0 + rng.normal(0, 25)
            else:
                w, h = rng.uniform(16, 220), rng.uniform(16, 200)
                cx, cy = rng.uniform(0, 640), rng.uniform(0, 480)
            diff = 1.0 if rng.random() < 0.08 else 0.0
            gts.append([c, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, diff])
        dets = []
        for g in gts:
            nd = int(rng.choice(4, p=[0.15, 0.6, 0.2, 0.05]))
            w, h = g[3] - g[1], g[4] - g[2]
            for _ in range(nd):
                s = rng.uniform(0.02, 0.25)
                x1 = g[1] + rng.normal(0, s) * w
                y1 = g[2] + rng.normal(0, s) * h
                x2 = g[3] + rng.normal(0, s) * w
                y2 = g[4] + rng.normal(0, s) * h
                if x2 < x1:
                    x1, x2 = x2, x1
                if y2 < y1:
                    y1, y2 = y2, y1
                c = g[0] if rng.random() < 0.88 else int(rng.integers(0, NC))
                conf = float(np.clip(rng.beta(4, 2) * (1.2 - s), 0.001, 0.999))
                dets.append([x1, y1, x2, y2, conf, c])
        for _ in range(int(rng.poisson(3.5))):
            w, h = rng.uniform(10, 200), rng.uniform(10, 200)
            x1, y1 = rng.uniform(-20, 620), rng.uniform(-20, 460)
            dets.append([x1, y1, x1 + w, y1 + h, float(rng.beta(1.5, 4)),
                         int(rng.integers(0, NC))])
        rng.shuffle(dets) if dets else None
        images.append((np.array(dets, dtype=np.float32).reshape(-1, 6),
                       np.array(gts, dtype=np.float32).reshape(-1, 6)))
    # unique confidences everywhere: test.py's argsort is not stable, ties
    # would make the order (and the numbers) implementation-defined
    allc = np.concatenate([d[:, 4] for d, _ in images])
    while len(np.unique(allc)) != len(allc):
        seen = set()
        for d, _ in images:
            for r in d:
                while float(r[4]) in seen:
                    r[4] = np.float32(np.clip(r[4] + np.float32(1e-5) * rng.random(), 0.0001, 0.9999))
                seen.add(float(r[4]))
        allc = np.concatenate([d[:, 4] for d, _ in images])
    return images


# ------------------------------------------------------------ reference

def iou_matrix(a, b):
    """IoU of every row of a (n, 4) with every row of b (m, 4), float64."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_yolov7(dets, gts):
    """Single assignment at IoU > 0.5 in confidence order, scored at all
    thresholds. Returns (tp (n,10) bool, ign (n,10) bool) in `dets` order."""
    n = len(dets)
    tp = np.zeros((n, 10), bool)
    ign = np.zeros((n, 10), bool)
    if n == 0 or len(gts) == 0:
        return tp, ign
    iou = iou_matrix(dets[:, :4], gts[:, 1:5])
    order = np.argsort(-dets[:, 4].astype(np.float64), kind="stable")
    for c in np.unique(gts[:, 0]):
        gi = np.nonzero(gts[:, 0] == c)[0]
        di = [j for j in order if dets[j, 5] == c]
        used = set()
        for j in di:
            row = iou[j, gi]
            b = int(np.argmax(row))          # first of the best
            if not row[b] > THR[0]:
                continue
            g = gi[b]
            if gts[g, 5] != 0:
                ign[j, :] = True
            elif g not in used:
                used.add(g)
                tp[j] = [row[b] > t for t in THR]
    return tp, ign


def match_coco(dets, gts):
    """Matching redone per threshold: best unmatched ordinary box with
    IoU >= t, else ignored when a difficult box qualifies."""
    n = len(dets)
    tp = np.zeros((n, 10), bool)
    ign = np.zeros((n, 10), bool)
    if n == 0 or len(gts) == 0:
        return tp, ign
    iou = iou_matrix(dets[:, :4], gts[:, 1:5])
    order = np.argsort(-dets[:, 4].astype(np.float64), kind="stable")
    for t, thr in enumerate(THR):
        used = np.zeros(len(gts), bool)
        for j in order:
            same = gts[:, 0] == dets[j, 5]
            ok = same & (iou[j] >= thr)
            cand = np.nonzero(ok & (gts[:, 5] == 0) & ~used)[0]
            if len(cand):
                g = cand[int(np.argmax(iou[j, cand]))]
                used[g] = True
                tp[j, t] = True
            elif np.any(ok & (gts[:, 5] != 0)):
                ign[j, t] = True
    return tp, ign


def confusion_update(m, dets, gts, nc):
    d = dets[dets[:, 4] > 0.25]
    matched = {}                      # gt -> det
    if len(d) and len(gts):
        iou = iou_matrix(gts[:, 1:5], d[:, :4])          # (gt, det)
        g_idx, d_idx = np.nonzero(iou > 0.45)
        v = iou[g_idx, d_idx]
        if len(v):
            o = np.argsort(-v, kind="stable")
            g_idx, d_idx, v = g_idx[o], d_idx[o], v[o]
            _, first = np.unique(d_idx, return_index=True)   # each det: its best box
            g_idx, d_idx, v = g_idx[first], d_idx[first], v[first]
            o = np.argsort(-v, kind="stable")
            g_idx, d_idx, v = g_idx[o], d_idx[o], v[o]
            _, first = np.unique(g_idx, return_index=True)   # each box: best remaining det
            for g, j in zip(g_idx[first], d_idx[first]):
                matched[int(g)] = int(j)
    used_dets = set(matched.values())
    for g in range(len(gts)):
        if gts[g, 5] != 0:
            continue
        gc = int(gts[g, 0])
        if g in matched:
            m[int(d[matched[g], 5]), gc] += 1
        else:
            m[nc, gc] += 1
    for j in range(len(d)):
        if j not in used_dets:
            m[int(d[j, 5]), nc] += 1


def compute_ap_yolov7(recall, precision):
    mrec = np.concatenate(([0.0], recall, [recall[-1] + 0.01]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return np.trapz(np.interp(x, mrec, mpre), x), mrec, mpre


def compute_ap_coco(tpc, fpc, nl):
    rc = tpc / nl
    pr = tpc / (tpc + fpc + np.spacing(1))
    pr = np.flip(np.maximum.accumulate(np.flip(pr)))
    rt = np.linspace(0, 1, 101)
    idx = np.searchsorted(rc, rt, side="left")
    q = np.array([pr[i] if i < len(pr) else 0.0 for i in idx])
    return q.mean()


def metrics(images, mode):
    tps, igns, confs, clss = [], [], [], []
    nl = np.zeros(NC, np.int64)
    nimg = np.zeros(NC, np.int64)
    conf_m = np.zeros((NC + 1, NC + 1), np.int64)
    for dets, gts in images:
        tp, ign = (match_yolov7 if mode == "yolov7" else match_coco)(dets, gts)
        o = np.argsort(-dets[:, 4].astype(np.float64), kind="stable")
        tps.append(tp[o])
        igns.append(ign[o])
        confs.append(dets[o, 4].astype(np.float64))
        clss.append(dets[o, 5].astype(np.int64))
        ordinary = gts[gts[:, 5] == 0]
        for c in range(NC):
            k = int(np.sum(ordinary[:, 0] == c))
            nl[c] += k
            nimg[c] += k > 0
        confusion_update(conf_m, dets, gts, NC)
    tp = np.concatenate(tps)
    ign = np.concatenate(igns)
    conf = np.concatenate(confs)
    cls = np.concatenate(clss)
    o = np.argsort(-conf, kind="stable")
    tp, ign, conf, cls = tp[o], ign[o], conf[o], cls[o]

    px = np.linspace(0, 1, 1000)
    classes = [c for c in range(NC) if nl[c] > 0]
    P = np.zeros((len(classes), 1000))
    R = np.zeros((len(classes), 1000))
    AP = np.zeros((len(classes), 10))
    curves = np.zeros((NC, 1000))
    for ci, c in enumerate(classes):
        for t in range(10):
            sel = (cls == c) & ~ign[:, t]
            if not sel.any():
                continue
            hit = tp[sel, t].astype(np.float64)
            tpc = np.cumsum(hit)
            fpc = np.cumsum(1.0 - hit)
            recall = tpc / (nl[c] + 1e-16)
            precision = tpc / (tpc + fpc)
            ap, mrec, mpre = compute_ap_yolov7(recall, precision)
            if mode == "coco":
                ap = compute_ap_coco(tpc, fpc, float(nl[c]))
            AP[ci, t] = ap
            if t == 0:
                curves[c] = np.interp(px, mrec, mpre)
                R[ci] = np.interp(-px, -conf[sel], recall, left=0)
                P[ci] = np.interp(-px, -conf[sel], precision, left=1)
    f1 = 2 * P * R / (P + R + 1e-16)
    i = int(f1.mean(0).argmax())
    p, r = P[:, i], R[:, i]
    ap50, apm = AP[:, 0], AP.mean(1)
    if mode == "yolov7" and not tp.any():
        p, r, ap50, apm = (np.zeros(len(classes)),) * 4
    per = []
    for c in range(NC):
        e = {"labels": int(nl[c]), "images": int(nimg[c]), "p": 0.0, "r": 0.0, "ap50": 0.0, "ap": 0.0}
        if c in classes:
            k = classes.index(c)
            e.update(p=float(p[k]), r=float(r[k]), ap50=float(ap50[k]), ap=float(apm[k]))
        per.append(e)
    return {
        "images": len(images), "labels": int(nl.sum()),
        "mp": float(p.mean()), "mr": float(r.mean()),
        "map50": float(ap50.mean()), "map": float(apm.mean()),
        "best_conf": float(px[i]),
        "classes": per,
        "confusion": conf_m.tolist(),
        # every 37th point of each class's curve (rounded to float32 as the C side stores them)
        "curve_step": 37,
        "curves": [[float(np.float32(v)) for v in curves[c, ::37]] for c in range(NC)],
    }


def main():
    images = make_data()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "random.bin"), "wb") as f:
        f.write(b"YPREVAL1" + struct.pack("<ii", NC, len(images)))
        for dets, gts in images:
            f.write(struct.pack("<ii", len(dets), len(gts)))
            f.write(dets.astype("<f4").tobytes())
            f.write(gts.astype("<f4").tobytes())
    exp = {"nc": NC, "yolov7": metrics(images, "yolov7"), "coco": metrics(images, "coco")}
    with open(os.path.join(OUT, "random_expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    nd = sum(len(d) for d, _ in images)
    ng = sum(len(g) for _, g in images)
    print(f"{len(images)} images, {nd} detections, {ng} ground truths")
    for m in ("yolov7", "coco"):
        e = exp[m]
        print(f"{m}: P {e['mp']:.4f} R {e['mr']:.4f} mAP@.5 {e['map50']:.4f} "
              f"mAP@.5:.95 {e['map']:.4f} best conf {e['best_conf']:.4f}")


if __name__ == "__main__":
    main()
