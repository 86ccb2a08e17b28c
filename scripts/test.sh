#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): install, build
# with -Werror, run the tests natively, under ASan+UBSan, and for aarch64 under
# qemu-user. Prints one closing line "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/deps.sh --cross

run() {   # run NAME BUILD_DIR MESON_SETUP_ARGS...
  local name=$1 dir=$2; shift 2
  echo "== $name"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@"
  else
    meson setup --reconfigure "$dir" -Dwerror=true "$@" > /dev/null
  fi
  ninja -C "$dir" -j "$jobs"
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" || status=1
}

status=0
run native build-test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run sanitizers build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
      -Db_lundef=false
run aarch64 build-aarch64 --cross-file cross/aarch64-linux-gnu.txt

/usr/bin/python3 - build-test build-asan build-aarch64 <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for d in sys.argv[1:]:
    with open(f"{d}/meson-logs/testlog.json") as f:
        for line in f:
            r = json.loads(line)["result"]
            key = {"OK": "OK", "SKIP": "SKIP", "EXPECTEDFAIL": "OK"}.get(r, "FAIL")
            counts[key] += 1
print(f"tests: {counts['OK']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
PY
exit $status
