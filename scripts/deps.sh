#!/usr/bin/env bash
# Install what libyolopr needs to build and test on Debian 12 (as root).
# usage: scripts/deps.sh [--cross]   (--cross adds the aarch64 toolchain and qemu)
set -euo pipefail

want=(build-essential g++ meson ninja-build pkg-config
      libpng-dev libjpeg62-turbo-dev zlib1g-dev libyaml-dev libcmocka-dev python3 python3-numpy
      python3-onnx)   # python3-onnx: onnx.checker on our ONNX exports (tests/python)
cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
       libcmocka-dev:arm64 libpng-dev:arm64 libjpeg62-turbo-dev:arm64 zlib1g-dev:arm64
       libyaml-dev:arm64)

need_arch=0
pkgs=("${want[@]}")
if [ "${1:-}" = "--cross" ]; then
  pkgs+=("${cross[@]}")
  dpkg --print-foreign-architectures | grep -qx arm64 || need_arch=1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ $need_arch -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
[ $need_arch -eq 1 ] && "${sudo_cmd[@]}" dpkg --add-architecture arm64
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
