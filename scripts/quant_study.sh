#!/bin/sh
# Post-training quantization accuracy matrix (docs/quant.md): the trained
# mini detector of tests/data/e2e on a larger held-out synthetic set drawn
# like its training images (scripts/make_quant_eval_set.py), float against
# dpu (each calibration method) and per-channel, with and without bias
# correction. Each quantized model is saved, reloaded and scored by
# `yolopr eval` (the checkpoint round trip included).
# Usage: scripts/quant_study.sh BUILD_DIR WORK_DIR [NVAL NCALIB]
set -eu
build=$1
work=$2
nval=${3:-400}
ncal=${4:-100}
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
        --calib-images "$ncal" --scheme "$scheme" --method "$method" $flag \
        --sqnr-images 0 --threads 1 -o "$work/q.safetensors" > /dev/null 2>&1
      printf '%-12s %-10s %-3s %8s %10s\n' "$scheme" "$method" "$bc" \
        $(score "$work/q.safetensors")
    done
  done
done
