#!/usr/bin/env bash
# Two builds' conv kernels compared in CPU time on one thread, per layer class:
# scripts/layer_cpu.sh run ROUNDS times on each build, alternating which goes
# first, and per class (stem, 1x1, 3x3 s1, 3x3 s2, all) the median over rounds
# of each build's CPU ms, share of one core's nominal FMA peak and the median
# of the per-round new/old ratios. A tool, not a test (docs/bench.md).
#
# usage: scripts/layer_cpu_ab.sh OLD_BUILD NEW_BUILD MODEL [SIZE=640] [ROUNDS=3] [REPS=5]
# environment: as scripts/layer_cpu.sh (ACT, PEAK)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: $0 OLD_BUILD NEW_BUILD MODEL [SIZE] [ROUNDS] [REPS]" >&2
  exit 2
fi
old=$1 new=$2 model=$3 size=${4:-640} rounds=${5:-3} reps=${6:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "$model @$size: $rounds rounds, load average before $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for w in $order; do
    b=$old
    [ "$w" = new ] && b=$new
    BUILD=$b scripts/layer_cpu.sh "$model" "$size" "$reps" > "$out/$w.$r"
  done
done
echo "load average after $(cut -d' ' -f1-3 /proc/loadavg)"
# the class table: "class convs GMACs cpu_ms share GFLOP/s %peak gemm_ms gemm/path"
for r in $(seq "$rounds"); do
  for w in old new; do
    awk -v w="$w" -v r="$r" '/^class +convs/ {t = 1; next}
      t && NF >= 9 { c = $1; if ($1 == "3x3") c = $1 "_" $2; print w, r, c, $(NF - 5), $(NF - 2) }' "$out/$w.$r"
  done
done > "$out/classes"
python3 - "$out/classes" <<'PY'
import sys, statistics as st
d = {}
for line in open(sys.argv[1]):
    w, r, c, ms, pk = line.split()
    d.setdefault(c, {}).setdefault(w, {})[r] = (float(ms), float(pk.rstrip("%")))
print("%-8s %9s %9s %9s %9s %8s  per round" % ("class", "old ms", "old peak", "new ms", "new peak", "new/old"))
for c, v in d.items():
    rs = sorted(set(v.get("old", {})) & set(v.get("new", {})))
    if not rs:
        continue
    ratios = [v["new"][r][0] / v["old"][r][0] for r in rs]
    med = lambda w, i: st.median(v[w][r][i] for r in rs)
    print("%-8s %9.2f %8.1f%% %9.2f %8.1f%% %8.3f  %s" % (
        c.replace("_", " "), med("old", 0), med("old", 1), med("new", 0), med("new", 1),
        st.median(ratios), " ".join("%.3f" % x for x in ratios)))
PY
