#!/usr/bin/env bash
# Compare two builds on one training step by alternating them within one run
# (the training counterpart of bench_ab.sh): `yolopr bench MODEL --train` of
# OLD_BUILD, then of NEW_BUILD, ROUNDS times; prints each round's medians and
# their ratio, then the median ratio. A tool, not a test.
#   scripts/bench_train_ab.sh OLD_BUILD NEW_BUILD [ROUNDS=3]
# environment: MODEL (yolov7-tiny), NC (20), SIZE (416), BATCH (8), THREADS (2),
#              RUNS (3 timed steps per run), LOSS (ota)
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OLD_BUILD NEW_BUILD [ROUNDS=3]" >&2
  exit 2
fi
old=$1/examples/yolopr new=$2/examples/yolopr rounds=${3:-3}
MODEL=${MODEL:-yolov7-tiny} NC=${NC:-20} SIZE=${SIZE:-416} BATCH=${BATCH:-8}
THREADS=${THREADS:-2} RUNS=${RUNS:-3} LOSS=${LOSS:-ota}
for y in "$old" "$new"; do
  [ -x "$y" ] || { echo "$0: no $y" >&2; exit 2; }
done
step() {
  "$1" bench "$MODEL" --nc "$NC" --train --size "$SIZE" --batch "$BATCH" --threads "$THREADS" \
    --runs "$RUNS" --loss "$LOSS" | sed -n 's/.*median \([0-9.]*\) s per step.*/\1/p'
}
ratios=()
for r in $(seq "$rounds"); do
  o=$(step "$old")
  n=$(step "$new")
  ratios+=("$(awk -v o="$o" -v n="$n" 'BEGIN { printf "%.4f", n / o }')")
  echo "$MODEL@$SIZE batch $BATCH round $r: old $o s, new $n s, new/old ${ratios[-1]}"
done
printf '%s\n' "${ratios[@]}" | sort -g |
  awk '{v[NR] = $1} END {printf "median new/old: %.3f\n", v[int((NR + 1) / 2)]}'
