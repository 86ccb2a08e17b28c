#!/usr/bin/env bash
# Makes tests/data/accuracy/base.safetensors, the trained model of test_accuracy.c:
# a width-0.25 yolov7-tiny trained from scratch by this library (examples/train_study)
# on the built-in synthetic set (512 train images of 96 px, 3 classes, seed 1; nominal
# batch 16), stored as F16. About 25 minutes on 2 free cores. The study's own numbers
# (pruned, fine-tuned, distilled) print along the way.
#   usage: tests/data/accuracy/make.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: make.sh BUILD_DIR}
out=$(mktemp -d)
"$build/examples/train_study" "$out" --width 0.25 --size 96 --classes 3 --train 512 --val 128 \
  --epochs 100 --ft-epochs 10 --nbs 16 --batch 16 --threads 2
/usr/bin/python3 "$here/to_f16.py" "$out/base.safetensors" "$here/base.safetensors"
rm -rf "$out"
