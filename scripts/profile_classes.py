#!/usr/bin/python3
"""Per-layer-class times of a fused model from YPR_PROFILE (docs/bench.md).

Runs `YPR_PROFILE=1 yolopr bench MODEL --fuse` PASSES times, takes each
step's median over the passes and sums the steps by class: the stem (the
first conv, 3 input channels), 1x1 convs, 3x3 stride-1 convs, 3x3 stride-2
convs, other convs, and everything that is not a conv. Kernel sizes come from
the fused model's weights, strides from the cfg libyolopr writes back
(ypr_model_export_yolov7). Prints per class the steps, GMACs, milliseconds,
share of the time and GFLOP/s, and the model's conv MACs over the sum of the
medians as a share of an FMA peak: --peak-gflops, or by default
cores x FMA units x lanes x 2 x clock from --fma-units (2), --lanes (8: AVX2
fp32) and the clock of /proc/cpuinfo (override with --ghz), and of the peak
measured on as many threads just before and after the passes.

usage: YOLOPR_LIBRARY=build/lib/libyolopr.so /usr/bin/python3 scripts/profile_classes.py \\
           MODEL [--nc 20] [--size 640] [--threads 2] [--passes 3] [--build build]
MODEL: a built-in name (with --nc) or one of our checkpoints. Batch 1 only: a
batch on 2+ threads runs its images on parallel workers, whose step lines
interleave.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import yolopr  # noqa: E402

STEP = re.compile(r"step\s+(\d+)\s+(\S+)\s+(\d+)x\s*(\d+)\s*x\s*(\d+)\s+([0-9.]+) ms")
CLASSES = ["stem", "1x1", "3x3 s1", "3x3 s2", "other conv", "not conv"]


def conv_strides(model):
    """{layer index: stride} of the Conv and RepConv layers of the written-back cfg."""
    with tempfile.TemporaryDirectory() as d:
        model.export_yolov7(os.path.join(d, "m.yaml"), os.path.join(d, "m.safetensors"))
        with open(os.path.join(d, "m.yaml")) as f:
            cfg = yaml.safe_load(f)
    out = {}
    for i, (_, _, mod, args) in enumerate(cfg["backbone"] + cfg["head"]):
        if mod in ("Conv", "RepConv"):
            out[i] = args[2] if len(args) > 2 else 1
    return out


def classify(name, weights, strides):
    w = weights.get(name + ".weight")
    if w is None or w.ndim != 4:
        return "not conv", 0
    o, i, kh, kw = w.shape
    layer = int(name.split(".")[1])
    s = strides.get(layer, 1) if name.endswith(".conv") or name.endswith("rbr_reparam") else 1
    if i == 3:
        cls = "stem"
    elif kh == kw == 1:
        cls = "1x1"
    elif kh == kw == 3:
        cls = "3x3 s1" if s == 1 else "3x3 s2" if s == 2 else "other conv"
    else:
        cls = "other conv"
    return cls, o * i * kh * kw


def ghz_of_cpuinfo():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1000
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--nc", type=int, default=0)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peak-gflops", type=float, default=0)
    ap.add_argument("--fma-units", type=int, default=2)
    ap.add_argument("--lanes", type=int, default=8)
    ap.add_argument("--ghz", type=float, default=0)
    a = ap.parse_args()

    m = yolopr.Model.from_cfg(a.model, nc=a.nc) if a.nc else yolopr.Model.load(a.model)
    strides = conv_strides(m)
    m.fuse()
    weights = {k: v for k, v in m.tensors().items() if k.endswith(".weight")}

    cmd = [os.path.join(a.build, "examples", "yolopr"), "bench", a.model, "--fuse", "--size",
           str(a.size), "--threads", str(a.threads), "--runs", "1"]
    if a.nc:
        cmd += ["--nc", str(a.nc)]
    env = dict(os.environ, YPR_PROFILE="1")
    times, names, shapes = {}, {}, {}
    measured = [yolopr.bench_peak(threads=a.threads, seconds=0.3)]
    for _ in range(a.passes):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        for line in r.stderr.splitlines():
            mt = STEP.search(line)
            if mt:
                s = int(mt.group(1))
                names[s] = mt.group(2)
                shapes[s] = tuple(int(mt.group(k)) for k in (3, 4, 5))
                times.setdefault(s, []).append(float(mt.group(6)))
    measured.append(yolopr.bench_peak(threads=a.threads, seconds=0.3))
    agg = {c: [0, 0.0, 0.0] for c in CLASSES}   # steps, MACs, ms
    for s in sorted(times):
        cls, wmacs = classify(names[s], weights, strides)
        _, oh, ow = shapes[s]
        agg[cls][0] += 1
        agg[cls][1] += wmacs * oh * ow
        agg[cls][2] += statistics.median(times[s])
    total_ms = sum(v[2] for v in agg.values())
    conv_macs = sum(v[1] for v in agg.values())
    print("%s @%d batch 1, %d threads, kernels %s: medians of %d profiled passes" %
          (a.model, a.size, a.threads, yolopr.simd_active(), a.passes))
    print("%-11s %5s %8s %10s %7s %9s" % ("class", "steps", "GMACs", "ms", "share", "GFLOP/s"))
    for c in CLASSES:
        n, macs, ms = agg[c]
        if n:
            print("%-11s %5d %8.2f %10.2f %6.1f%% %9.1f" %
                  (c, n, macs / 1e9, ms, 100 * ms / total_ms, 2 * macs / ms / 1e6 if ms else 0))
    print("%-11s %5d %8.2f %10.2f %6.1f%% %9.1f" %
          ("all", sum(v[0] for v in agg.values()), conv_macs / 1e9, total_ms, 100.0,
           2 * conv_macs / total_ms / 1e6))
    cores = a.threads
    ghz = a.ghz or ghz_of_cpuinfo()
    peak = a.peak_gflops or cores * a.fma_units * a.lanes * 2 * ghz
    how = ("given" if a.peak_gflops else "%d cores x %d FMA units x %d lanes x 2 x %.3f GHz" %
           (cores, a.fma_units, a.lanes, ghz))
    print("conv MACs / summed step time = %.1f GFLOP/s = %.1f %% of the FMA peak %.1f GFLOP/s (%s)"
          % (2 * conv_macs / total_ms / 1e6, 100 * 2 * conv_macs / total_ms / 1e6 / peak, peak,
             how))
    got = 2 * conv_macs / total_ms / 1e6
    print("measured FMA peak on %d threads (yolopr.bench_peak, before and after the passes): "
          "%.1f / %.1f GFLOP/s; the model runs at %.1f %% of the larger (on a busy machine the "
          "measured peak falls with the load, the nominal one does not)" %
          (a.threads, measured[0], measured[1], 100 * got / max(max(measured), 1e-9)))


if __name__ == "__main__":
    main()
