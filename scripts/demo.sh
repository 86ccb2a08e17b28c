#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install, build, and run
# the demo. For now the demo is the kernel benchmark; it grows into the whole
# prune → fine-tune → quantize → export chain as those capabilities land.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build -j "$(nproc)"
./build/examples/yolopr version
./build/examples/yolopr bench kernels --threads "$(nproc)"
