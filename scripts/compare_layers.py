#!/usr/bin/python3
"""Per YOLOv7 layer: ONNX Runtime's time against libyolopr's (docs/bench.md).

ONNX Runtime side: `node scripts/ort_run.mjs layers STEM THREADS RUNS` (its
profiler, each node's median kernel time over RUNS runs). libyolopr side:
`YPR_PROFILE=1 yolopr bench MODEL --fuse` (one profiled pass per call), PASSES
calls, half before and half after the ONNX Runtime run, each step's median
over the passes. Both sides are summed per layer of the cfg (the `model.N` in
ONNX node names and in libyolopr's step names), so fused nodes on either side
(ORT's Conv+activation, our conv+BN+activation chains) land on the same row.
Prints the layers where libyolopr loses most and wins most, and the totals.
A diagnostic, not a speed claim: profiling adds overhead on both sides, and
the two runs are not interleaved step by step.

usage: ORT_DIR=~/.cache/yolopr-ort /usr/bin/python3 scripts/compare_layers.py \\
           --ort STEM --model CHECKPOINT --size 416 [--threads 2] [--runs 10] \\
           [--passes 4] [--build build] [--top 15]
STEM: what scripts/ort_export.py wrote for that checkpoint and size (the
speed harness leaves it in its WORK folder: WORK=DIR scripts/bench_vs_ort.sh).
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STEP = re.compile(r"step\s+(\d+)\s+(\S+)\s+(\d+)x\s*(\d+)\s*x\s*(\d+)\s+([0-9.]+) ms(.*)$")
LAYER = re.compile(r"model\.(\d+)")


def layer_of(name):
    m = LAYER.search(name)
    return int(m.group(1)) if m else -1


def ours(a):
    """{step: [ms per pass]}, {step: (name, description)} from one bench call."""
    env = dict(os.environ, YPR_PROFILE="1")
    cmd = [os.path.join(a.build, "examples", "yolopr"), "bench", a.model, "--fuse",
           "--size", str(a.size), "--threads", str(a.threads), "--runs", "3"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr
    times, desc = {}, {}
    for line in out.splitlines():
        m = STEP.search(line)
        if not m:
            continue
        s = int(m.group(1))
        times[s] = float(m.group(6))
        kind = m.group(7).split("GFLOP/s")[-1].strip()
        desc[s] = (m.group(2), f"{m.group(3)}x{m.group(4)}x{m.group(5)} {kind}".strip())
    if not times:
        sys.exit("compare_layers: no YPR_PROFILE step lines from " + " ".join(cmd))
    return times, desc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ort", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    if "ORT_DIR" not in os.environ:
        sys.exit("compare_layers: set ORT_DIR (where onnxruntime-node is installed)")

    passes, desc = collections.defaultdict(list), {}
    for _ in range(a.passes // 2):
        t, desc = ours(a)
        for s, ms in t.items():
            passes[s].append(ms)
    run = subprocess.run(["node", os.path.join(ROOT, "scripts", "ort_run.mjs"), "layers", a.ort,
                          str(a.threads), str(a.runs)], capture_output=True, text=True,
                         check=True).stdout
    for _ in range(a.passes - a.passes // 2):
        t, desc = ours(a)
        for s, ms in t.items():
            passes[s].append(ms)

    ort, ops = collections.defaultdict(float), collections.defaultdict(set)
    for line in run.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] == "layer":
            k = layer_of(parts[3])
            ort[k] += float(parts[1])
            ops[k].add(parts[2])
    mine, what = collections.defaultdict(float), {}
    for s, v in passes.items():
        k = layer_of(desc[s][0])
        mine[k] += statistics.median(v)
        if "/s" in desc[s][1] or k not in what:
            what[k] = desc[s][1]

    rows = sorted(((mine[k] - ort[k], k) for k in set(ort) | set(mine)), reverse=True)
    print(f"{a.model} @{a.size}, {a.threads} threads: ONNX Runtime {sum(ort.values()):.2f} ms, "
          f"libyolopr {sum(mine.values()):.2f} ms (sums of the profiled layers)")
    head = f"{'layer':>5} {'ORT ms':>8} {'ours ms':>8} {'ours-ORT':>9}  {'ours':<34} ORT ops"
    for title, part in (("where libyolopr loses most", rows[:a.top]),
                        ("where libyolopr wins most", rows[::-1][:a.top])):
        print(f"\n{title}\n{head}")
        for d, k in part:
            print(f"{k:>5} {ort[k]:8.3f} {mine[k]:8.3f} {d:+9.3f}  {what.get(k, ''):<34} "
                  f"{','.join(sorted(ops[k]))}")


if __name__ == "__main__":
    main()
