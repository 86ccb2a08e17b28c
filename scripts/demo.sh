#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install, build, and run
# the demo on built-in data. Today: the kernel benchmark, then YOLOv7 models
# built from the built-in cfgs — summary, fused inference speed, detection on a
# generated picture. It grows into the whole prune → fine-tune → quantize →
# export chain as those capabilities land.
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
$y bench kernels --threads "$(nproc)"
echo "== yolov7-tiny (nc 20): layers, parameters, MACs at 416"
$y info yolov7-tiny --size 416 | tail -n 3
echo "== inference speed (random weights), batch 1, $(nproc) threads"
$y bench yolov7-tiny --size 416 --runs 10 --fuse
$y bench yolov7 --size 640 --runs 5 --fuse
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
  --size 64 --conf 0.34 --save "$out/mini-detections.png" | head -n 6
echo "demo outputs in $out/"
