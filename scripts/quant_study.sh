#!/bin/sh
# Post-training quantization accuracy matrix (docs/quant.md): the trained
# mini detector of tests/data/e2e on a larger held-out synthetic set drawn
# like its training images (scripts/make_quant_eval_set.py), float against
# dpu (each calibration method) and per-channel, with and without bias
# correction. Each quantized model is saved, reloaded and scored by
# `yolopr eval` (the checkpoint round trip included).
# Usage: scripts/quant_study.sh BUILD_DIR WORK_DIR [NVAL NCALIB [SEARCH]]
# (SEARCH: --search-images for every quantized row, default 0; QFLAGS: more
# `yolopr quantize` options for every row, e.g. QFLAGS=--no-act-lut)
#
# scripts/quant_study.sh --qat BUILD_DIR WORK_DIR [QAT_EPOCHS [COUNT]]: the
# PTQ / QAT matrix instead, on the trained width-0.25 yolov7-tiny of
# tests/data/accuracy (the built-in synthetic set at 96 px, 3 classes:
# COUNT training images (default 2048, seed 1) for calibration and
# quantization-aware fine-tuning, COUNT/4 held-out ones (seed 2) scored),
# unpruned and pruned (LAMP 25 %, round to 8, head kept, then fine-tuned 5
# epochs at lr0 0.003 as tests/test_accuracy.c does): float, dpu and
# per-channel INT8 with entropy calibration, PTQ and QAT (QAT_EPOCHS,
# default 4, lr0 1e-4).
set -eu
if [ "${1:-}" = "--qat" ]; then
  shift
  build=$1
  work=$2
  epochs=${3:-4}
  count=${4:-2048}
  src=$(cd "$(dirname "$0")/.." && pwd)
  yolopr=$build/examples/yolopr
  base=$src/tests/data/accuracy/base.safetensors
  data=synth:$count:96:3
  mkdir -p "$work"
  if [ ! -f "$work/pruned.safetensors" ]; then
    sed -e 's/^lr0:.*/lr0: 0.003/' -e 's/^warmup_epochs:.*/warmup_epochs: 0/' \
      "$src/tests/data/hyp/hyp.scratch.tiny.yaml" > "$work/hyp.ft.yaml"
    "$yolopr" prune "$base" --ratio 0.25 --importance lamp --round-to 8 \
      --ignore 'model.77.m.*' -o "$work/pruned0.safetensors" > /dev/null
    "$yolopr" train "$work/pruned0.safetensors" --data synth:512:96:3 --epochs 5 --batch 16 \
      --size 96 --hyp "$work/hyp.ft.yaml" --no-eval --project "$work/ft" --exist-ok \
      -o "$work/pruned.safetensors" > /dev/null 2>&1
  fi
  printf '%-8s %-12s %-4s %8s %10s\n' model scheme how mAP@.5 mAP@.5:.95
  for model in base pruned; do
    m=$base
    [ "$model" = pruned ] && m=$work/pruned.safetensors
    for scheme in dpu per-channel; do
      for qat in 0 "$epochs"; do
        how=PTQ
        flag=
        if [ "$qat" != 0 ]; then how=QAT$qat; flag="--qat $qat --hyp $src/tests/data/hyp/hyp.scratch.tiny.yaml"; fi
        # shellcheck disable=SC2086
        out=$("$yolopr" quantize "$m" --data "$data" --size 96 --calib-images 100 \
          --scheme "$scheme" --method entropy --sqnr-images 0 --eval $flag 2>/dev/null)
        [ "$scheme" = dpu ] && [ "$qat" = 0 ] &&
          echo "$out" | awk -v m="$model" '$1 == "float" {printf "%-8s %-12s %-4s %8s %10s\n", m, "float", "-", $3, $5}'
        echo "$out" | awk -v m="$model" -v s="$scheme" -v h="$how" \
          '$1 == "quantized" {printf "%-8s %-12s %-4s %8s %10s\n", m, s, h, $3, $5}'
      done
    done
  done
  exit 0
fi
build=$1
work=$2
nval=${3:-400}
ncal=${4:-100}
search=${5:-0}
src=$(cd "$(dirname "$0")/.." && pwd)
yolopr=$build/examples/yolopr
[ -f "$work/data.yaml" ] || /usr/bin/python3 "$src/scripts/make_quant_eval_set.py" "$work" "$nval" "$ncal"
cfg=$src/tests/data/model/mini.yaml
weights=$src/tests/data/e2e/mini_trained.safetensors
score() {   # MODEL [--weights W] -> "mAP@.5 mAP@.5:.95"
  "$yolopr" eval "$@" --data "$work/data.yaml" --size 128 --threads 1 2>/dev/null |
    awk '$1 == "all" {print $(NF-1), $NF}'
}
printf '%-12s %-10s %-3s %8s %10s\n' scheme method bc mAP@.5 mAP@.5:.95
printf '%-12s %-10s %-3s %8s %10s\n' float - - $(score "$cfg" --weights "$weights")
for scheme in dpu per-channel; do
  for method in minmax percentile entropy mse; do
    for bc in 0 1; do
      flag=
      [ "$bc" = 1 ] && flag=--bias-correction
      rm -f "$work/q.safetensors"
      # shellcheck disable=SC2086
      "$yolopr" quantize "$cfg" --weights "$weights" --data "$work/data.yaml" --size 128 \
        --calib-images "$ncal" --scheme "$scheme" --method "$method" $flag ${QFLAGS:-} \
        --search-images "$search" --sqnr-images 0 --threads 1 \
        -o "$work/q.safetensors" > /dev/null 2>&1
      printf '%-12s %-10s %-3s %8s %10s\n' "$scheme" "$method" "$bc" \
        $(score "$work/q.safetensors")
    done
  done
done
