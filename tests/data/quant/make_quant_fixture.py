#!/usr/bin/python3
"""Calibration-statistics fixture for tests/test_quant.c, computed with NumPy
only (an implementation independent of libyolopr's C code, written from the
definitions in lib/quant/quant.h and TensorRT's published entropy
calibration):

  * histogram of |x|: range R = the smallest power of two above max|x|,
    2048 equal bins, bin = floor(|x| * 2048 / R);
  * percentile p: upper edge of the first bin where the cumulative count
    reaches p % of all values (capped at max|x|);
  * entropy (qmax 127, 128 levels): bin 0 replaced by bin 1 (the zero spike
    of ReLU/SiLU outputs, as TensorRT's calibrator does); for i = 128 .. last used bin, P = the
    first i bins with every count beyond folded into bin i-1, Q = those i
    bins (without the outliers) merged into 128 groups (group g holds bins
    floor(g*i/128) .. floor((g+1)*i/128)-1) and spread evenly back over the
    group's nonzero bins; KL(P||Q) of the normalized vectors (infinite when
    Q is 0 where P is not); T = i * R / 2048 for the least KL (first on ties);
  * mse: T = i * R / 2048, i = 1 .. 2048, minimizing the mean of
    count * (c - min(round_half_away(c / s), 127) * s)^2 over bin centres c,
    s = T / 127;
  * dpu power-of-two steps: 2^ceil(log2(T / 127)).

Writes tensors.bin (float32 little-endian, the tensors one after another) and
expected.txt (one line per tensor: name count absmax range percentile99.9
percentile99.99 entropy mse np_percentile99.9, then the first 8 and a checksum
of the histogram). Run: /usr/bin/python3 make_quant_fixture.py
"""
import os

import numpy as np

BINS = 2048
OUT = os.path.dirname(os.path.abspath(__file__))


def tensors():
    rng = np.random.default_rng(20261203)
    t = {}
    g = rng.standard_normal(6000)
    g[:5] *= 6.0                                   # a few outliers
    t["gauss_outliers"] = g
    lap = rng.laplace(0.0, 0.7, 6000)
    t["relu_laplace"] = np.maximum(lap, 0.0)
    s = rng.standard_normal(6000) * 2.0
    t["silu"] = s / (1.0 + np.exp(-s))
    t["uniform"] = rng.uniform(-3.0, 1.5, 4000)
    return {k: v.astype(np.float32) for k, v in t.items()}


def histogram(a):
    x = np.abs(a.astype(np.float64))
    amax = x.max()
    rng_ = 2.0 ** (np.frexp(amax)[1])
    b = np.floor(x * (BINS / rng_)).astype(np.int64)
    b = np.minimum(b, BINS - 1)
    return np.bincount(b, minlength=BINS).astype(np.float64), rng_, amax


def percentile(h, rng_, amax, p):
    cum = np.cumsum(h)
    j = int(np.argmax(cum >= p / 100.0 * h.sum()))
    return min((j + 1) * rng_ / BINS, amax)


def entropy(h, rng_, amax, levels=128):
    used = int(np.nonzero(h)[0].max()) + 1
    h = h.copy()
    h[0] = h[1]                                   # the zero spike counts as bin 1
    if used <= levels:
        return amax
    best, besti = np.inf, used
    for i in range(levels, used + 1):
        p = h[:i].copy()
        p[i - 1] += h[i:].sum()
        q = np.zeros(i)
        edges = (np.arange(levels + 1) * i) // levels
        for g in range(levels):
            a, b = edges[g], edges[g + 1]
            seg = h[a:b]
            nz = np.count_nonzero(seg)
            if nz:
                q[a:b] = np.where(seg != 0, seg.sum() / nz, 0.0)
        if np.any((p > 0) & (q == 0)):
            continue
        p = p / p.sum()
        q = q / q.sum()
        m = p > 0
        kl = float(np.sum(p[m] * np.log(p[m] / q[m])))
        if kl < best:
            best, besti = kl, i
    return min(besti * rng_ / BINS, amax)


def round_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def mse(h, rng_, amax, qmax=127):
    c = (np.arange(BINS) + 0.5) * rng_ / BINS
    best, bt = np.inf, rng_
    for i in range(1, BINS + 1):
        t = i * rng_ / BINS
        s = t / qmax
        q = np.minimum(round_away(c / s), qmax)
        e = float(np.sum(h * (c - q * s) ** 2) / h.sum())
        if e < best:
            best, bt = e, t
    return min(bt, amax)


def main():
    ts = tensors()
    with open(os.path.join(OUT, "tensors.bin"), "wb") as f:
        for a in ts.values():
            f.write(a.astype("<f4").tobytes())
    lines = ["# name count absmax range p99.9 p99.99 entropy mse np_p99.9 "
             "hist[0..7] hist_checksum (make_quant_fixture.py)"]
    for name, a in ts.items():
        h, r, amax = histogram(a)
        vals = [amax, r, percentile(h, r, amax, 99.9), percentile(h, r, amax, 99.99),
                entropy(h, r, amax), mse(h, r, amax),
                float(np.percentile(np.abs(a.astype(np.float64)), 99.9))]
        chk = int(np.sum(h * (np.arange(BINS) + 1)))
        lines.append("%s %d %s %s %d" % (name, a.size, " ".join("%.17g" % v for v in vals),
                                         " ".join("%d" % v for v in h[:8]), chk))
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
