#!/usr/bin/env bash
# The speed anchor for training: one YOLOv7 training step (forward with batch
# statistics, loss, backward, SGD) of libyolopr (`yolopr bench MODEL --train`)
# against our PyTorch re-implementation of the same step on the same model,
# weights and batch (scripts/torch_train_step.py, torch with jemalloc
# preloaded), alternating the two for ROUNDS rounds so both see the same
# machine load. Prints each round, the medians over rounds, the ratio
# ours/PyTorch (below 1: we are faster) and the peak RSS of each.
# A tool, not a test: nothing here asserts a time.
#
# usage: scripts/bench_train_vs_torch.sh            (after meson setup build && ninja -C build)
# environment: MODEL (yolov7-tiny), NC (20), SIZE (416), BATCH (8), THREADS (2),
#              RUNS (3 steps timed per run, after a warm-up step), ROUNDS (3),
#              LOSS (ota|simple), BUILD (build)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-yolov7-tiny} NC=${NC:-20} SIZE=${SIZE:-416} BATCH=${BATCH:-8}
THREADS=${THREADS:-2} RUNS=${RUNS:-3} ROUNDS=${ROUNDS:-3} LOSS=${LOSS:-ota} BUILD=${BUILD:-build}
Y=$BUILD/examples/yolopr
LIB=$BUILD/lib/libyolopr.so
[ -x "$Y" ] && [ -e "$LIB" ] || { echo "build first: meson setup $BUILD && ninja -C $BUILD" >&2; exit 1; }
[ "$ROUNDS" -ge 3 ] || { echo "ROUNDS must be at least 3" >&2; exit 1; }

# jemalloc for PyTorch (as its own benchmarks run it): Debian's libjemalloc2
JE=$(ls /usr/lib/*-linux-gnu/libjemalloc.so.2 2>/dev/null | head -n 1 || true)
if [ -z "$JE" ]; then
    apt-get install -y libjemalloc2 >/dev/null
    JE=$(ls /usr/lib/*-linux-gnu/libjemalloc.so.2 | head -n 1)
fi

ours() {
    "$Y" bench "$MODEL" --nc "$NC" --train --size "$SIZE" --batch "$BATCH" --threads "$THREADS" \
        --runs "$RUNS" --loss "$LOSS"
}
torch_step() {
    YOLOPR_LIBRARY=$LIB LD_PRELOAD=$JE OMP_NUM_THREADS=$THREADS /usr/bin/python3 \
        scripts/torch_train_step.py --model "$MODEL" --nc "$NC" --size "$SIZE" --batch "$BATCH" \
        --threads "$THREADS" --runs "$RUNS" --loss "$LOSS"
}
# "median X s per step" and "peak RSS Y MB" of a run's output
step_s() { sed -n 's/.*median \([0-9.]*\) s per step.*/\1/p' | head -n 1; }
rss_mb() { sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p' | head -n 1; }

echo "== $MODEL nc $NC, ${SIZE}x$SIZE, batch $BATCH, $THREADS threads, loss $LOSS," \
     "$RUNS timed steps per run, $ROUNDS rounds"
o_t=() t_t=() o_m=() t_m=()
for r in $(seq 1 "$ROUNDS"); do
    out=$(ours)
    o_t+=("$(step_s <<<"$out")")
    o_m+=("$(rss_mb <<<"$out")")
    [ "$r" = 1 ] && echo "$out"
    out=$(torch_step)
    t_t+=("$(step_s <<<"$out")")
    t_m+=("$(rss_mb <<<"$out")")
    [ "$r" = 1 ] && echo "$out"
    echo "round $r: libyolopr ${o_t[-1]} s/step, PyTorch ${t_t[-1]} s/step"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
mo=$(median "${o_t[@]}") mt=$(median "${t_t[@]}")
awk -v o="$mo" -v t="$mt" -v b="$BATCH" -v om="$(median "${o_m[@]}")" -v tm="$(median "${t_m[@]}")" \
    'BEGIN {
        printf "median over rounds: libyolopr %.4f s/step (%.2f images/s), PyTorch %.4f s/step (%.2f images/s)\n", o, b / o, t, b / t
        printf "ratio ours/PyTorch: %.2f (below 1: libyolopr is faster)\n", o / t
        printf "peak RSS: libyolopr %.0f MB, PyTorch %.0f MB\n", om, tm
    }'
