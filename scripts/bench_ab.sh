#!/usr/bin/env bash
# Compare two builds on one model by alternating them within one run: on a
# shared machine a model's time swings 10–30 % from minute to minute, so only
# ratios measured side by side mean anything (docs/simd.md).
#   scripts/bench_ab.sh OLD_BUILD NEW_BUILD MODEL SIZE [ROUNDS] [RUNS] [THREADS]
# OLD_BUILD and NEW_BUILD are meson build folders (…/examples/yolopr inside).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 OLD_BUILD NEW_BUILD MODEL SIZE [ROUNDS=3] [RUNS=6] [THREADS=2]" >&2
  exit 2
fi
old=$1/examples/yolopr new=$2/examples/yolopr model=$3 size=$4
rounds=${5:-3} runs=${6:-6} threads=${7:-2}
for y in "$old" "$new"; do
  [ -x "$y" ] || { echo "$0: no $y" >&2; exit 2; }
done
median() {
  "$1" bench "$model" --size "$size" --runs "$runs" --threads "$threads" --fuse |
    sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'
}
for r in $(seq "$rounds"); do
  o=$(median "$old")
  n=$(median "$new")
  awk -v o="$o" -v n="$n" -v r="$r" -v m="$model@$size" \
    'BEGIN { printf "%s round %d: old %.2f ms, new %.2f ms, new/old %.3f\n", m, r, o, n, n / o }'
done
