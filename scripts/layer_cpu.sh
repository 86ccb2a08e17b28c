#!/usr/bin/env bash
# Every conv of a model timed alone in CPU time on one thread (scripts/layer_cpu.c):
# the kernels' cost independent of the machine's load, per conv and per layer class,
# with the plan's path (Winograd where the cost rule picks it) against the GEMM path
# (YPR_CONV_ALGO=gemm) alternated call by call. A tool, not a test.
#
# usage: scripts/layer_cpu.sh MODEL [SIZE=640] [REPS=5]
#   MODEL: a built-in name (yolov7, yolov7-tiny: nc 20) or a checkpoint
# environment: BUILD (build), ACT (3 = SiLU; 2 = leaky ReLU 0.1 by default for *tiny*),
#              PEAK (one core's FMA peak in GFLOP/s; default 2 FMA units x 8 lanes x 2 x
#              the clock of /proc/cpuinfo)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: $0 MODEL [SIZE] [REPS]} size=${2:-640} reps=${3:-5}
BUILD=${BUILD:-build}
Y=$BUILD/examples/yolopr
[ -x "$Y" ] && [ -e "$BUILD/lib/libyolopr_objs.a" ] || { echo "build first: ninja -C $BUILD" >&2; exit 1; }
case $model in *tiny*) act=${ACT:-2} ;; *) act=${ACT:-3} ;; esac
ghz=$(awk -F: '/cpu MHz/ {print $2 / 1000; exit}' /proc/cpuinfo)
peak=${PEAK:-$(awk -v g="$ghz" 'BEGIN {print 2 * 8 * 2 * g}')}
nc=()
[ -e "$model" ] || nc=(--nc 20)
tool=$(mktemp)
trap 'rm -f "$tool"' EXIT
cc -O2 -std=c11 -I. -Iinclude -I"$BUILD" scripts/layer_cpu.c "$BUILD/lib/libyolopr_objs.a" \
    $(pkg-config --libs libpng libjpeg zlib yaml-0.1 2>/dev/null || echo -lpng -ljpeg -lz -lyaml) \
    -lm -lpthread -o "$tool"
echo "$model @$size: each conv alone on one thread, thread CPU time, medians of $reps;" \
     "act $act; one core's peak $peak GFLOP/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
YPR_PROFILE=1 "$Y" bench "$model" "${nc[@]}" --fuse --size "$size" --threads 1 --runs 1 2>&1 |
    sed -n 's/.* \([0-9]*\)x\([0-9]*\) *x\([0-9]*\) .* \([0-9]*\)x[0-9]*\/s\([0-9]*\) in \([0-9]*\) \([a-z]*\)$/\4 \5 \6 \1 \2 \3 \7/p' |
    "$tool" "$reps" "$act" 0.1 "$peak"
