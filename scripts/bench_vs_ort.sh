#!/usr/bin/env bash
# The speed anchor for inference: libyolopr (`yolopr bench MODEL --fuse`)
# against ONNX Runtime (npm onnxruntime-node, CPU execution provider, all
# graph optimizations, sequential, THREADS intra-op threads) on the same fused
# weights, alternating the two case by case, round by round, so both see the
# same machine load. A tool, not a test: nothing here asserts a time.
#
# The models are ours: yolov7 and yolov7-tiny built with NC classes (seed 0)
# with seeded random BatchNorm statistics and implicit layers (so that fusing
# does something), saved as libyolopr checkpoints, plus yolov7 pruned with
# `yolopr prune --importance l2 --ratio 0.25 --round-to 8`. Each is written
# back as YOLOv7, built and fused (as YOLOv7's Model.fuse() does) by our own
# PyTorch re-implementation and exported to ONNX (scripts/ort_export.py);
# ONNX Runtime's outputs must equal libyolopr's within 1e-4 (max |diff| over
# max |ours|, per output; scripts/ort_run.mjs check) before anything is timed.
#
# Both sides end with the raw head outputs in YOLOv7's layout: the exported graph
# permutes them (as YOLOv7's IDetect does), and `yolopr bench --outputs` copies
# them out with ypr_model_output in every timed run (before session 9 our side
# stopped at the head convs, which favoured it by the permutes: 4.6 % of ONNX
# Runtime's time for yolov7-tiny @416, 0.3 % for yolov7 @640).
#
# Cases (batch 1): yolov7 and yolov7-tiny at 640 and 416 on THREADS threads,
# yolov7 @640 on one thread, pruned yolov7 @640 on THREADS threads. Each round
# runs every case once per side (RUNS timed runs after a warm-up, median),
# libyolopr first in odd rounds and ONNX Runtime first in even ones. Prints
# each round, then per case the medians over rounds, their ratio yolopr/ORT
# (below 1: libyolopr is faster) and the median of the per-round ratios, and
# the load average before and after (only ratios measured side by side in one
# run mean anything on a shared machine).
#
# QDQ=1 (the INT8 mode): yolov7-tiny and yolov7 (ONLY filters) at SIZE (640), THREADS
# threads. Each is quantized by `yolopr quantize` (QSCHEME, per-channel by default; CALIB
# synthetic images) and exported by libyolopr itself (scripts/ort_qdq.py): the float model
# as plain ONNX, the quantized one in QDQ form. ONNX Runtime with its graph optimizations off
# must reproduce our fake-quantized simulation (`ort_run.mjs qcheck`: at most 0.1 % of the
# values more than one output step apart; an unoptimized QDQ graph computes DequantizeLinear
# → float op → QuantizeLinear as our simulation does, and only float summation order differs,
# which can flip a value lying within rounding error of a tie); with every optimization on
# (what is timed) the agreement is printed, not enforced (docs/onnx.md says why it differs).
# Then per round, in rotating order: ORT on the QDQ export, ORT on the float export,
# `yolopr bench` on the float model and on the quantized model; medians over rounds, their
# ratios, and the medians of the per-round ratios.
#
# BATCH=N (the throughput mode): yolov7-tiny and yolov7 (ONLY filters) at SIZE (640), THREADS
# threads, exported twice (batch 1 and a graph for batches of N) and checked as above. Per
# round, in rotating order: ORT at batch 1, ORT at batch N, `yolopr bench --batch 1` and
# `--batch N`. Prints the medians per image, each side's batch-N per-image time over its
# batch-1 time (the anchor for "a batch scales"), and yolopr/ORT at batch N.
#
# usage: scripts/bench_vs_ort.sh            (after meson setup build && ninja -C build)
# environment: ROUNDS (3, at least 3), RUNS (5), THREADS (2), NC (20), BUILD (build),
#              QDQ (0; 1: the INT8 mode, with SIZE 640, QSCHEME per-channel, CALIB 4),
#              BATCH (1; N in 2..64: the throughput mode, with SIZE 640),
#              ONLY (a grep -E pattern on case names, e.g. 'tiny'),
#              ORT_DIR (~/.cache/yolopr-ort: where onnxruntime-node is installed),
#              WORK (a new temporary folder, removed at the end: the models)
# Needs (installed with apt-get / npm when missing): Debian's python3-torch, python3-onnx,
# python3-yaml, nodejs and npm; onnxruntime-node 1.30.0 (npm install --ignore-scripts, as its
# install script would fetch an optional GPU part from elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} RUNS=${RUNS:-5} THREADS=${THREADS:-2} NC=${NC:-20} BUILD=${BUILD:-build}
ONLY=${ONLY:-.} ORT_DIR=${ORT_DIR:-$HOME/.cache/yolopr-ort} ORT_VERSION=1.30.0
Y=$BUILD/examples/yolopr
LIB=$BUILD/lib/libyolopr.so
[ -x "$Y" ] && [ -e "$LIB" ] || { echo "build first: meson setup $BUILD && ninja -C $BUILD" >&2; exit 1; }
[ "$ROUNDS" -ge 3 ] || { echo "ROUNDS must be at least 3" >&2; exit 1; }
[[ "${BATCH:-1}" =~ ^[1-9][0-9]?$ ]] && [ "${BATCH:-1}" -le 64 ] ||
    { echo "BATCH must be 1 to 64 images" >&2; exit 1; }

# --- what it needs ----------------------------------------------------------------------
apt_missing=()
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
for p in python3-torch python3-onnx python3-yaml python3-numpy; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$p")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
    echo "installing ${apt_missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
ort_pkg=$ORT_DIR/node_modules/onnxruntime-node/package.json
if ! grep -q "\"version\": \"$ORT_VERSION\"" "$ort_pkg" 2>/dev/null; then
    echo "installing onnxruntime-node $ORT_VERSION into $ORT_DIR" >&2
    mkdir -p "$ORT_DIR"
    [ -f "$ORT_DIR/package.json" ] || echo '{"name": "yolopr-ort", "private": true}' >"$ORT_DIR/package.json"
    (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
        "onnxruntime-node@$ORT_VERSION" >/dev/null)
fi
export ORT_DIR

if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

# --- the models, their ONNX exports and the output check -----------------------------------
py() { YOLOPR_LIBRARY=$LIB /usr/bin/python3 -W ignore scripts/ort_export.py "$@"; }
ort() { node scripts/ort_run.mjs "$@"; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# The QDQ and BATCH modes: ROUNDS rounds; per round and model the four sides given, in an
# order rotating round by round, each timed by side_ms MODEL SIDE (the mode's own). Collects
# M[model/side] (the times) and, per RATIOS entry "key:num:den", R[model/key] (that round's
# num/den); prints each round.
declare -A M R
run_rounds() {
    local -a sides=("$@")
    local r mdl k side v spec key num den line
    for r in $(seq 1 "$ROUNDS"); do
        for mdl in "${models[@]}"; do
            line="round $r  $mdl"
            local -A t=()
            for k in 0 1 2 3; do
                side=${sides[$(((k + r - 1) % 4))]}
                v=$(side_ms "$mdl" "$side")
                M[$mdl/$side]+="$v " t[$side]=$v
                line+="  $side $v ms"
            done
            for spec in "${RATIOS[@]}"; do
                IFS=: read -r key num den <<<"$spec"
                R[$mdl/$key]+="$(awk -v x="${t[$num]}" -v y="${t[$den]}" 'BEGIN { print x / y }') "
            done
            echo "$line"
        done
    done
}

# After run_rounds SIDES…: per model the medians of the sides (columns LABELS, the same
# order) and of RATIOS as ratios of those medians (columns RATIO_LABELS), then the medians of
# the per-round ratios. $1: the unit of the times.
summary() {
    local mdl side spec key num den i
    local load1
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    echo
    echo "== medians over $ROUNDS rounds, $1 (load average before: $load0, after: $load1)"
    printf "| %-12s |" model
    for i in "${LABELS[@]}"; do printf " %11s |" "$i"; done
    for i in "${RATIO_LABELS[@]}"; do printf " %20s |" "$i"; done
    echo
    for mdl in "${models[@]}"; do
        local -A med=()
        printf "| %-12s |" "$mdl"
        for side in "${SIDES[@]}"; do
            med[$side]=$(median "${M[$mdl/$side]}")
            printf " %11.2f |" "${med[$side]}"
        done
        for spec in "${RATIOS[@]}"; do
            IFS=: read -r key num den <<<"$spec"
            printf " %20.3f |" "$(awk -v x="${med[$num]}" -v y="${med[$den]}" 'BEGIN { print x / y }')"
        done
        echo
    done
    echo "medians of the per-round ratios (each round's sides measured back to back):"
    for mdl in "${models[@]}"; do
        printf "  %-12s" "$mdl"
        i=0
        for spec in "${RATIOS[@]}"; do
            IFS=: read -r key num den <<<"$spec"
            printf " %s %.3f" "${RATIO_LABELS[$i]}" "$(median "${R[$mdl/$key]}")"
            i=$((i + 1))
        done
        echo
    done
}

if [ "${QDQ:-0}" = 1 ]; then
    SIZE=${SIZE:-640} QSCHEME=${QSCHEME:-per-channel} CALIB=${CALIB:-4}
    qpy() { YOLOPR_LIBRARY=$LIB /usr/bin/python3 -W ignore scripts/ort_qdq.py "$@"; }
    models=()
    for mdl in yolov7-tiny yolov7; do grep -Eq -- "$ONLY" <<<"$mdl" && models+=("$mdl"); done
    [ ${#models[@]} -gt 0 ] || { echo "ONLY=$ONLY matches no model" >&2; exit 1; }
    echo "== QDQ mode: quantizing ($QSCHEME, $CALIB calibration images) and exporting to $WORK"
    for mdl in "${models[@]}"; do
        ck=$WORK/$mdl.safetensors q=$WORK/$mdl-q.safetensors
        [ -e "$ck" ] || py --model "$mdl" --nc "$NC" --checkpoint "$ck"
        [ -e "$q" ] || "$Y" quantize "$ck" --data "synth:$CALIB:$SIZE:$NC" --calib-images "$CALIB" \
            --size "$SIZE" --scheme "$QSCHEME" --sqnr-images 0 --threads "$THREADS" -o "$q" |
            tail -n 1
        qpy "$ck" "$SIZE" "$WORK/$mdl-f" --fuse
        qpy "$q" "$SIZE" "$WORK/$mdl-q"
        echo "-- ONNX Runtime, graph optimizations off, on the QDQ export vs our simulation:"
        ORT_OPT=disabled ort qcheck "$WORK/$mdl-q" "$THREADS" 0.001
        echo "-- ONNX Runtime, every optimization (as timed), same comparison (not enforced):"
        ort qcheck "$WORK/$mdl-q" "$THREADS" 1 || true
    done
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "== $ROUNDS rounds, $RUNS timed runs per side (after a warm-up), batch 1, $SIZE," \
         "$THREADS threads; $(nproc) CPUs, load average $load0"
    ours() { "$Y" bench "$@" --size "$SIZE" --threads "$THREADS" --runs "$RUNS" --outputs |
                 sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'; }
    side_ms() {
        case $2 in
        ort-int8) ort time "$WORK/$1-q" "$THREADS" "$RUNS" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' ;;
        ort-float) ort time "$WORK/$1-f" "$THREADS" "$RUNS" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' ;;
        yolopr-float) ours "$WORK/$1.safetensors" --fuse ;;
        yolopr-int8) ours "$WORK/$1-q.safetensors" ;;
        esac
    }
    RATIOS=(a:yolopr-int8:ort-int8 b:ort-int8:ort-float c:yolopr-int8:yolopr-float)
    SIDES=(ort-int8 ort-float yolopr-float yolopr-int8)
    LABELS=("ORT int8" "ORT f32" "yolopr f32" "yolopr int8")
    RATIO_LABELS=("yolopr int8/ORT int8" "ORT int8/f32" "yolopr int8/f32")
    run_rounds "${SIDES[@]}"
    summary ms
    exit 0
fi

if [ "${BATCH:-1}" -gt 1 ]; then
    SIZE=${SIZE:-640}
    models=()
    for mdl in yolov7-tiny yolov7; do grep -Eq -- "$ONLY" <<<"$mdl" && models+=("$mdl"); done
    [ ${#models[@]} -gt 0 ] || { echo "ONLY=$ONLY matches no model" >&2; exit 1; }
    echo "== batch mode: exporting to $WORK (batch 1 and $BATCH, $SIZE)"
    for mdl in "${models[@]}"; do
        ck=$WORK/$mdl.safetensors
        [ -e "$ck" ] || py --model "$mdl" --nc "$NC" --checkpoint "$ck"
        for b in 1 "$BATCH"; do
            stem=$WORK/$mdl-$SIZE-b$b
            [ -e "$stem.onnx" ] || py --model "$ck" --size "$SIZE" --out "$stem" --batch "$b"
            ort check "$stem" "$THREADS"
        done
    done
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "== $ROUNDS rounds, $RUNS timed runs per side (after a warm-up), $SIZE, $THREADS threads;" \
         "$(nproc) CPUs, load average $load0; times per image"
    side_ms() {
        local b=1
        case $2 in
        ort-1) ort time "$WORK/$1-$SIZE-b1" "$THREADS" "$RUNS" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' ;;
        ort-n) ort time "$WORK/$1-$SIZE-b$BATCH" "$THREADS" "$RUNS" |
               sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' | awk -v b="$BATCH" '{ print $1 / b }' ;;
        yolopr-1 | yolopr-n)
            [ "$2" = yolopr-n ] && b=$BATCH
            "$Y" bench "$WORK/$1.safetensors" --fuse --size "$SIZE" --threads "$THREADS" \
                --batch "$b" --runs "$RUNS" --outputs | sed -n 's/.* \([0-9.]*\) ms\/image.*/\1/p' ;;
        esac
    }
    RATIOS=(a:ort-n:ort-1 b:yolopr-n:yolopr-1 c:yolopr-n:ort-n)
    SIDES=(ort-1 ort-n yolopr-1 yolopr-n)
    LABELS=("ORT b1" "ORT b$BATCH" "yolopr b1" "yolopr b$BATCH")
    RATIO_LABELS=("ORT b$BATCH/b1" "yolopr b$BATCH/b1" "yolopr/ORT b$BATCH")
    run_rounds "${SIDES[@]}"
    summary "ms per image"
    exit 0
fi

# name:checkpoint:size:threads
cases=()
add_case() { if grep -Eq -- "$ONLY" <<<"$1"; then cases+=("$1:$2:$3:$4"); fi; }
add_case "yolov7@640" yolov7 640 "$THREADS"
add_case "yolov7@416" yolov7 416 "$THREADS"
add_case "yolov7-tiny@640" yolov7-tiny 640 "$THREADS"
add_case "yolov7-tiny@416" yolov7-tiny 416 "$THREADS"
add_case "yolov7@640-1thread" yolov7 640 1
add_case "yolov7-pruned@640" yolov7-pruned 640 "$THREADS"
[ ${#cases[@]} -gt 0 ] || { echo "ONLY=$ONLY matches no case" >&2; exit 1; }

echo "== exporting to $WORK"
for c in "${cases[@]}"; do
    IFS=: read -r name model size threads <<<"$c"
    ck=$WORK/$model.safetensors stem=$WORK/$model-$size
    [ -e "$stem.onnx" ] && continue
    if [ ! -e "$ck" ]; then
        if [ "$model" = yolov7-pruned ]; then
            [ -e "$WORK/yolov7.safetensors" ] ||
                py --model yolov7 --nc "$NC" --checkpoint "$WORK/yolov7.safetensors"
            "$Y" prune "$WORK/yolov7.safetensors" --importance l2 --ratio 0.25 --round-to 8 \
                -o "$ck" | tail -n 2
        else
            py --model "$model" --nc "$NC" --checkpoint "$ck"
        fi
    fi
    py --model "$ck" --size "$size" --out "$stem"
    ort check "$stem" "$threads"
done

# --- alternating rounds --------------------------------------------------------------------
ours_ms() {
    "$Y" bench "$1" --fuse --size "$2" --threads "$3" --runs "$RUNS" --outputs |
        sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'
}
ort_ms() { ort time "$1" "$2" "$RUNS" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
isa=$(YOLOPR_LIBRARY=$LIB /usr/bin/python3 -c \
    'import sys; sys.path.insert(0, "examples/python"); import yolopr; print(yolopr.simd_active())')
echo "== $ROUNDS rounds, $RUNS timed runs per side and case (after a warm-up), batch 1;" \
     "libyolopr kernels $isa; $(nproc) CPUs, load average $load0"
declare -A O T R
for r in $(seq 1 "$ROUNDS"); do
    for c in "${cases[@]}"; do
        IFS=: read -r name model size threads <<<"$c"
        ck=$WORK/$model.safetensors stem=$WORK/$model-$size
        if [ $((r % 2)) = 1 ]; then
            o=$(ours_ms "$ck" "$size" "$threads")
            t=$(ort_ms "$stem" "$threads")
        else
            t=$(ort_ms "$stem" "$threads")
            o=$(ours_ms "$ck" "$size" "$threads")
        fi
        O[$name]+="$o " T[$name]+="$t " R[$name]+="$(awk -v o="$o" -v t="$t" 'BEGIN { print o / t }') "
        awk -v n="$name" -v r="$r" -v th="$threads" -v o="$o" -v t="$t" 'BEGIN {
            printf "round %d  %-20s %d thr  ORT %8.2f ms  yolopr %8.2f ms  yolopr/ORT %.3f\n",
                   r, n, th, t, o, o / t }'
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== medians over $ROUNDS rounds (load average before: $load0, after: $load1)"
printf "| %-20s | %7s | %14s | %11s | %10s | %12s |\n" "model @ size" threads "ONNX Runtime" \
    yolopr "yolopr/ORT" "round ratios"
printf "|%s|%s|%s|%s|%s|%s|\n" "$(printf -- '-%.0s' {1..22})" "---------" "----------------" \
    "-------------" "------------" "--------------"
for c in "${cases[@]}"; do
    IFS=: read -r name model size threads <<<"$c"
    mo=$(median "${O[$name]}") mt=$(median "${T[$name]}") mr=$(median "${R[$name]}")
    awk -v n="$name" -v th="$threads" -v o="$mo" -v t="$mt" -v r="$mr" 'BEGIN {
        printf "| %-20s | %7d | %11.2f ms | %8.2f ms | %10.3f | %12.3f |\n", n, th, t, o, o / t, r }'
done
echo "(yolopr/ORT: ratio of the medians; round ratios: median of the per-round ratios)"
