#!/usr/bin/env bash
# INT8 runtime against float (docs/quant.md, "INT8 runtime"): `yolopr bench` of
# the float model (fused) and of its quantized checkpoints, alternated within
# each round, each also on the float fake-quant simulation (YPR_INT8=0). On a
# shared machine only ratios measured side by side mean anything: the script
# prints each round and the median over rounds of each ratio.
#   scripts/bench_int8.sh BUILD FLOAT_MODEL QUANT_MODEL... [-- SIZE ROUNDS RUNS THREADS]
# e.g. scripts/bench_int8.sh build yolov7-tiny tiny_dpu.safetensors tiny_pc.safetensors -- 640 5 1 2
# Environment: I8_AB="VAR=VALUE ..." also runs each quantized model on the INT8 plan
# under those variables (e.g. I8_AB=YPR_I8_WINO=0: without the INT8 Winograd) in the
# same rounds; NO_SIM=1 leaves out the simulation runs.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BUILD FLOAT_MODEL QUANT_MODEL... [-- SIZE=640 ROUNDS=5 RUNS=1 THREADS=2]" >&2
  exit 2
fi
y=$1/examples/yolopr float=$2
shift 2
quant=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do quant+=("$1"); shift; done
[ $# -gt 0 ] && shift
size=${1:-640} rounds=${2:-5} runs=${3:-1} threads=${4:-2}
[ -x "$y" ] || { echo "$0: no $y" >&2; exit 2; }
median() {   # MODEL [extra bench args]
  "$y" bench "$@" --size "$size" --runs "$runs" --threads "$threads" 2>/dev/null |
    sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for r in $(seq "$rounds"); do
  f=$(median "$float" --fuse)
  line="round $r: float $f ms"
  for q in "${quant[@]}"; do
    i=$(median "$q")
    s=$i
    [ -n "${NO_SIM:-}" ] || s=$(YPR_INT8=0 median "$q")
    a=$i
    [ -z "${I8_AB:-}" ] || a=$(env $I8_AB "$y" bench "$q" --size "$size" --runs "$runs" \
                                 --threads "$threads" 2>/dev/null | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
    line="$line | $(basename "$q"): int8 $i ms, simulation $s ms${I8_AB:+, int8 with $I8_AB $a ms}"
    awk -v q="$(basename "$q")" -v f="$f" -v i="$i" -v s="$s" -v a="$a" -v ab="${I8_AB:-}" \
      'BEGIN { printf "%s float/int8 %.4f\n", q, f / i
               if (s != i) printf "%s sim/int8 %.4f\n", q, s / i
               if (ab != "") printf "%s float/int8[%s] %.4f\n%s int8[%s]/int8 %.4f\n", q, ab, f / a, q, ab, a / i }' >> "$tmp"
  done
  echo "$line"
done
# median per ratio
sort "$tmp" | awk '{ k = $1 " " $2; v[k] = v[k] " " $3 } END {
  for (k in v) { n = split(v[k], a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
    if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    printf "median %s: %.3f (%d rounds)\n", k, m, n } }' | sort
