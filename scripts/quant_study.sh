#!/bin/sh
# Post-training quantization accuracy matrix (docs/quant.md): the trained
# mini detector of tests/data/e2e on a larger held-out synthetic set drawn
# like its training images (scripts/make_quant_eval_set.py), float against
# dpu (each calibration method) and per-channel, with and without bias
# correction. Usage: scripts/quant_study.sh BUILD_DIR WORK_DIR [NVAL NCALIB]
set -eu
build=$1
work=$2
nval=${3:-400}
ncal=${4:-100}
src=$(cd "$(dirname "$0")/.." && pwd)
yolopr=$build/examples/yolopr
[ -f "$work/data.yaml" ] || /usr/bin/python3 "$src/scripts/make_quant_eval_set.py" "$work" "$nval" "$ncal"
model="$src/tests/data/model/mini.yaml --weights $src/tests/data/e2e/mini_trained.safetensors"
printf '%-12s %-10s %-5s %8s %10s\n' scheme method bc mAP@.5 mAP@.5:.95
first=1
for scheme in dpu per-channel; do
  for method in minmax percentile entropy mse; do
    for bc in 0 1; do
      flag=
      [ "$bc" = 1 ] && flag=--bias-correction
      # shellcheck disable=SC2086
      out=$("$yolopr" quantize $model --data "$work/data.yaml" --size 128 \
            --calib-images "$ncal" --scheme "$scheme" --method "$method" $flag \
            --sqnr-images 0 --eval --threads 1 2>/dev/null)
      if [ "$first" = 1 ]; then
        echo "$out" | awk '/^float/ {printf "%-12s %-10s %-5s %8s %10s\n", "float", "-", "-", $3, $5}'
        first=0
      fi
      echo "$out" | awk -v s="$scheme" -v m="$method" -v b="$bc" \
        '/^quantized/ {printf "%-12s %-10s %-5s %8s %10s\n", s, m, b, $3, $5}'
    done
  done
done
