#!/usr/bin/env bash
# Compare two builds on one training step by alternating them within one run
# (the training counterpart of bench_ab.sh): `yolopr bench MODEL --train` of
# OLD_BUILD, then of NEW_BUILD, ROUNDS times; prints each round's medians and
# their ratio, then the median ratios. Both the wall time and the process's
# CPU time per step are compared: on an overloaded machine the wall time
# mostly measures the wait for a core, the CPU time (all threads) the work —
# with THREADS=1 it is the steadiest measure of a kernel change. A tool, not
# a test.
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
# "WALL CPU" seconds per step of one run
step() {
  "$1" bench "$MODEL" --nc "$NC" --train --size "$SIZE" --batch "$BATCH" --threads "$THREADS" \
    --runs "$RUNS" --loss "$LOSS" |
    sed -n -e 's/.*median \([0-9.]*\) s per step.*/\1/p' -e 's/.*median CPU \([0-9.]*\) s.*/\1/p' |
    paste -sd ' '
}
wr=() cr=()
for r in $(seq "$rounds"); do
  read -r ow oc <<<"$(step "$old")"
  read -r nw nc <<<"$(step "$new")"
  wr+=("$(awk -v o="$ow" -v n="$nw" 'BEGIN { printf "%.4f", n / o }')")
  cr+=("$(awk -v o="$oc" -v n="$nc" 'BEGIN { printf "%.4f", n / o }')")
  echo "$MODEL@$SIZE batch $BATCH, $THREADS threads, round $r: wall old $ow s new $nw s" \
       "(new/old ${wr[-1]}), CPU old $oc s new $nc s (new/old ${cr[-1]})"
done
med() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%.3f", v[int((NR + 1) / 2)]}'; }
echo "median new/old: wall $(med "${wr[@]}"), CPU $(med "${cr[@]}")"
