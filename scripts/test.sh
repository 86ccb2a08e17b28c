#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): install, build
# with -Werror, run the tests natively, under ASan+UBSan, and for aarch64 under
# qemu-user. Prints the time of every phase (build, test) and one closing line
# "tests: N passed, N failed, N skipped". docs/building.md says what each
# build covers (the sanitizer and qemu runs take the heavy tests' quick scope).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
t_start=$SECONDS
times=()

phase() {   # phase LABEL COMMAND...: run it, note its wall time
  local label=$1 t0=$SECONDS rc=0; shift
  "$@" || rc=$?
  times+=("$(printf '%-22s %4ds' "$label" $((SECONDS - t0)))")
  echo "-- $label: $((SECONDS - t0))s"
  return $rc
}

phase deps scripts/deps.sh --cross

build() {   # build BUILD_DIR MESON_SETUP_ARGS...: configure (again) and compile
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@" || return
  else
    meson setup --reconfigure "$dir" -Dwerror=true "$@" > /dev/null || return
  fi
  ninja -C "$dir" -j "$jobs"
}

run() {   # run NAME BUILD_DIR MESON_SETUP_ARGS...
  local name=$1 dir=$2; shift 2
  echo "== $name"
  phase "$name build" build "$dir" "$@"
  phase "$name test" meson test -C "$dir" --print-errorlogs --num-processes "$jobs" || status=1
}

# The AVX-512 kernels cannot run on a CPU without AVX-512F: the native build
# compiles them (-Werror); the sanitizer build, whose point is running code,
# leaves them out there rather than spend minutes instrumenting them.
asan_isa=()
grep -qw avx512f /proc/cpuinfo 2>/dev/null || asan_isa+=(-Davx512=disabled)

status=0
run native build-test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run sanitizers build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
      -Db_lundef=false "${asan_isa[@]}"
run aarch64 build-aarch64 --cross-file cross/aarch64-linux-gnu.txt

echo "== time per phase"
printf '  %s\n' "${times[@]}"
printf '  %-22s %4ds\n' total $((SECONDS - t_start))

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
