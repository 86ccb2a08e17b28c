#!/usr/bin/env bash
# Every conv of a model timed alone in CPU time on one thread, INT8 (direct and
# Winograd F(2x2,3x3)) against float (the plan's path), by scripts/i8_layer_cpu.c:
# the per-conv data behind the INT8 Winograd cost rule and the per-class INT8/float
# ratios of docs/quant.md. A tool, not a test.
#
# usage: scripts/i8_layer_cpu.sh MODEL [SIZE=640] [REPS=5]   (environment: BUILD=build)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: $0 MODEL [SIZE] [REPS]} size=${2:-640} reps=${3:-5}
BUILD=${BUILD:-build}
Y=$BUILD/examples/yolopr
[ -x "$Y" ] && [ -e "$BUILD/lib/libyolopr_objs.a" ] || { echo "build first: ninja -C $BUILD" >&2; exit 1; }
nc=()
[ -e "$model" ] || nc=(--nc 20)
tool=$(mktemp)
trap 'rm -f "$tool"' EXIT
cc -O2 -std=c11 -I. -Iinclude -I"$BUILD" scripts/i8_layer_cpu.c "$BUILD/lib/libyolopr_objs.a" \
    $(pkg-config --libs libpng libjpeg zlib yaml-0.1 2>/dev/null || echo -lpng -ljpeg -lz -lyaml) \
    -lm -lpthread -o "$tool"
echo "$model @$size: each conv alone on one thread, thread CPU time, medians of $reps;" \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
YPR_PROFILE=1 "$Y" bench "$model" "${nc[@]}" --fuse --size "$size" --threads 1 --runs 1 2>&1 |
    sed -n 's/.* \([0-9]*\)x\([0-9]*\) *x\([0-9]*\) .* \([0-9]*\)x[0-9]*\/s\([0-9]*\) in \([0-9]*\) \([a-z]*\)$/\4 \5 \6 \1 \2 \3 \7/p' |
    "$tool" "$reps"
