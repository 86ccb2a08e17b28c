#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install, build, and run
# the demo on built-in data: kernels benchmark, synthetic dataset, YOLOv7-tiny
# evaluated, pruned, evaluated again, fine-tuned, quantized (fake INT8) and
# exported to ONNX, speed before/after, detection.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build -j "$(nproc)"
y=./build/examples/yolopr
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
$y version
echo "== kernels"
$y bench kernels --threads "$(nproc)" --seconds 0.2
echo "== the built-in synthetic dataset (YOLO layout)"
# synth writes only into a new or empty folder: clear the demo's own dataset
# from an earlier run (the folder this script made, nothing else)
rm -rf "$out/synth"
$y synth "$out/synth" --images 48 --size 320 --classes 8 --seed 7
echo "== yolov7-tiny as built in (80 classes): layers, parameters, MACs at 320"
$y info yolov7-tiny --size 320 | tail -n 2
echo "== evaluate (random weights: the chain runs; a useful mAP needs a long training run, see docs/train.md)"
$y eval yolov7-tiny --data "$out/synth/data.yaml" --size 320 --json "$out/eval.json" --plots "$out/plots"
echo "== prune 25 % of every coupled channel group (LAMP, round_to 8), keep the head"
$y prune yolov7-tiny --nc 8 --ratio 0.25 --importance lamp --round-to 8 --ignore 'model.77.m.*' \
  --size 320 --time --report "$out/prune.json" -o "$out/tiny-pruned.safetensors" \
  | grep -E '^(Parameters|MACs|Time|saved)'
$y eval "$out/tiny-pruned.safetensors" --data "$out/synth/data.yaml" --size 320 | grep -E 'Class| all |Speed' 
echo "== fine-tune the pruned model for one epoch (checkpoints and results.csv in $out/train)"
$y train "$out/tiny-pruned.safetensors" --data "$out/synth/data.yaml" --epochs 1 --batch 8 \
  --size 320 --hyp tiny --project "$out/train" --exist-ok -o "$out/tiny-finetuned.safetensors"
echo "== quantize the fine-tuned model to INT8 (DPU scheme: power-of-two steps), float vs INT8 mAP"
$y quantize "$out/tiny-finetuned.safetensors" --data "$out/synth/data.yaml" --size 320 \
  --calib-images 16 --scheme dpu --method minmax --bias-correction --eval \
  --report "$out/quant.json" -o "$out/tiny-int8.safetensors" | grep -E 'mAP|wrote|saved'
echo "== export the fine-tuned model to ONNX (opset 13, raw head outputs)"
$y export "$out/tiny-finetuned.safetensors" -o "$out/tiny-finetuned.onnx" --fuse
echo "== one training step, batch 8 at 320, $(nproc) threads"
$y bench "$out/tiny-pruned.safetensors" --train --size 320 --batch 8 --runs 2
echo "== inference speed, batch 1, $(nproc) threads, fused (before / after pruning)"
$y bench yolov7-tiny --size 416 --runs 10 --fuse
$y bench "$out/tiny-pruned.safetensors" --size 416 --runs 10 --fuse
$y bench yolov7 --size 640 --runs 3 --fuse --peak
echo "== detect (the PyTorch-checked test model and its fixture picture, see tests/data)"
/usr/bin/python3 - tests/data/model/mini_image.bin "$out/mini.png" <<'PY'
import struct, sys, zlib
raw = open(sys.argv[1], "rb").read()
w = h = 64
rows = b"".join(b"\x00" + raw[y * w * 3:(y + 1) * w * 3] for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
open(sys.argv[2], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
$y detect tests/data/model/mini.yaml "$out/mini.png" --weights tests/data/model/mini.safetensors \
  --size 64 --conf 0.34 --save "$out/mini-detections.png" | sed -n 1,6p
echo "demo outputs in $out/"
