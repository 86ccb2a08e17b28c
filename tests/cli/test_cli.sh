#!/bin/sh
# The yolopr tool on bad input: each case asserts the exit status, a piece of
# the message, and that nothing in the work folder changed (every input
# byte-identical, no output and no temporary file left behind).
# usage: test_cli.sh PATH/TO/yolopr
set -u
Y=$1
case $Y in /*) ;; *) Y=$(pwd)/$Y ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/w"
cd "$T/w" || exit 1
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# the work folder's state: every entry with its type and inode, every file
# with its size, time (a file replaced or rewritten shows) and CRC (its
# bytes); not the folders' times (temporary files come and go)
snap() {
    find . ! -type f -printf '%y %i %p\n' | LC_ALL=C sort
    find . -type f -printf '%i %s %T@ %p\n' | LC_ALL=C sort
    find . -type f -exec cksum {} + | LC_ALL=C sort
}

# run CODE MESSAGE ARGS...: yolopr ARGS exits with CODE and its stderr
# contains MESSAGE (stdout in $T/out, stderr in $T/err)
run() {
    code=$1 msg=$2
    shift 2
    "$Y" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        fail "yolopr $*: exit $rc, expected $code"
        sed 's/^/    /' "$T/err" | head -5
    elif [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/err"; then
        fail "yolopr $*: stderr lacks '$msg'"
        sed 's/^/    /' "$T/err" | head -5
    elif grep -qE 'Sanitizer|runtime error:' "$T/err"; then
        fail "yolopr $*: sanitizer report"
        grep -E 'Sanitizer|runtime error:' "$T/err" | head -3
    fi
}

# bad CODE MESSAGE ARGS...: as run, and the work folder is left as it was
bad() {
    snap >"$T/before"
    run "$@"
    snap >"$T/after"
    if ! cmp -s "$T/before" "$T/after"; then
        shift 2
        fail "yolopr $*: the work folder changed"
        diff "$T/before" "$T/after" | head -5
    fi
}

# ------------------------------------------------------------ the inputs
run 0 "" synth ds --images 3 --size 64 --classes 2
run 0 "" prune yolov7-tiny --nc 2 --ratio 0.5 --round-to 8 --size 64 -o m.safetensors --yolov7 y7
for f in m.safetensors y7.yaml y7.safetensors ds/data.yaml ds/images/val/000000.png; do
    [ -f "$f" ] || { echo "setup failed: no $f"; exit 1; }
done
mkfifo fifo
mkdir adir
ln y7.yaml hard.yaml
ln -s m.safetensors sym.safetensors
mkdir dets
printf '0 0.5 0.5 0.2 0.2 0.9\n' >dets/000000.txt
printf '0 0.5 0.5 0.2 0.2 0.9\n7 0.5 0.5 0.2 0.2 0.5\n' >dets/000001.txt
# a dataset whose every label is broken, one with one broken label
mkdir -p bad/images bad/labels part/images part/labels
cp ds/images/val/*.png bad/images/
cp ds/images/val/*.png part/images/
cp ds/labels/val/*.txt part/labels/
for i in 000000 000001 000002; do echo "0 x" >bad/labels/$i.txt; done
echo "0 0.5 0.5" >part/labels/000001.txt
I=ds/images/val/000000.png

# ------------------------------------------------- outputs onto inputs
bad 2 "it is the input y7.yaml" prune y7.yaml --ratio 0.25 --size 64 -o y7.yaml
bad 2 "it is the input m.safetensors" \
    prune m.safetensors --ratio 0.25 --size 64 -o new.safetensors --report m.safetensors
bad 2 "it is the input m.safetensors" graph m.safetensors --dot m.safetensors
bad 2 "it is the input ds/data.yaml" \
    eval m.safetensors --data ds/data.yaml --size 64 --json ds/data.yaml
bad 2 "it is the input $I" detect m.safetensors $I --size 64 --save $I
bad 2 "--yolov7 y7.yaml: it is the input y7.yaml" \
    prune y7.yaml --ratio 0.25 --round-to 8 --size 64 --yolov7 y7
bad 2 "it is the input y7.safetensors" \
    prune y7.yaml --weights y7.safetensors --ratio 0.25 --size 64 -o y7.safetensors
bad 2 "it is the input y7.yaml" prune y7.yaml --ratio 0.25 --size 64 -o hard.yaml
bad 2 "it is the input m.safetensors" \
    prune m.safetensors --ratio 0.25 --size 64 -o sym.safetensors
bad 2 "ds/labels/val/000000.txt: it is the input" \
    eval m.safetensors --data ds/data.yaml --size 64 --json ds/labels/val/000000.txt
bad 2 "input folder" eval m.safetensors --data ds/data.yaml --size 64 --plots ds/images/val
bad 2 "input folder" eval --data ds/data.yaml --size 64 --detections dets --json dets/r.json

# ------------------------------------- outputs that are not regular files
bad 2 "not a regular file" prune m.safetensors --ratio 0.25 --size 64 -o fifo
bad 2 "it is a folder" prune m.safetensors --ratio 0.25 --size 64 -o adir
bad 2 "not a regular file" graph m.safetensors --dot fifo
bad 2 "not a folder" eval m.safetensors --data ds/data.yaml --size 64 --plots fifo
if [ "$(id -u)" = 0 ] && [ -c /dev/full ]; then
    bad 2 "not a regular file" prune m.safetensors --ratio 0.25 --size 64 -o /dev/full
    [ -c /dev/full ] || fail "/dev/full is no longer a device"
fi
bad 2 "one file twice" prune m.safetensors --ratio 0.25 --size 64 -o a.safetensors \
    --report ./a.safetensors
bad 2 "its folder does not exist" prune m.safetensors --ratio 0.25 --size 64 -o no/a.safetensors
bad 2 "not empty" synth ds --images 2 --size 64
bad 2 "not a folder" synth m.safetensors --images 2 --size 64

# ------------------------------------- a failing command writes nothing
# the YOLOv7 export refuses widths that are not multiples of 8 (--round-to 1)
bad 1 "--yolov7" prune m.safetensors --ratio 0.3 --size 64 -o out.safetensors \
    --report r.json --plot p.png --yolov7 P
bad 1 "every image was skipped" eval m.safetensors --data bad/images --size 64 --json r.json
grep -qF "image skipped" "$T/err" || fail "eval: the skipped images' warnings are not shown"
bad 2 "would be discarded" prune m.safetensors --ratio 0.25 --size 64
bad 0 "" prune m.safetensors --ratio 0.25 --size 64 --dry-run   # the report only
grep -qF "model.0" "$T/out" || fail "prune --dry-run: no report"

# --------------------------------------------------------------- messages
bad 2 "--ratio needs a value" prune m.safetensors -o a.safetensors --ratio
bad 2 "--detections nosuch: no such folder" eval --data ds/data.yaml --detections nosuch
bad 1 "dets/000001.txt:2" eval --data ds/data.yaml --size 64 --detections dets
bad 2 "unknown option '--bogus'" info m.safetensors --bogus
bad 2 "no MODEL given" graph --dot g.dot
bad 2 "no OUT_DIR given" synth --images 2

# ------------------------------------------------- numbers on the command line
bad 2 "--ratio expects a number in [0, 1), not 'x'" \
    prune m.safetensors --ratio x -o a.safetensors
bad 2 "not '0.25abc'" prune m.safetensors --ratio 0.25abc -o a.safetensors
bad 2 "not '1'" prune m.safetensors --ratio 1 -o a.safetensors
bad 2 "--target-macs expects a number in (0, 1000000]" \
    prune m.safetensors --target-macs 1e30 -o a.safetensors
bad 2 "--conf expects a number in [0, 1], not 'x'" detect m.safetensors $I --conf x
bad 2 "--threads expects an integer in [1, 1024], not 'x'" detect m.safetensors $I --threads x
bad 2 "--seconds expects a number in (0, 60], not 'nan'" bench kernels --seconds nan
bad 2 "--threads expects an integer" bench kernels --threads 2x
for cmd in info bench detect eval prune graph; do
    bad 2 "--size expects a multiple of 32 in [32, 8192], not '33'" $cmd m.safetensors --size 33
done
bad 2 "not '4294967360'" info m.safetensors --size 4294967360
bad 2 "not '100000'" bench m.safetensors --size 100000
bad 2 "at most 1024 MB" bench m.safetensors --size 8192 --batch 2
bad 2 "--images expects an integer" synth new --images 10x
bad 2 "--seed expects an integer in [0, 2^64)" synth new --seed -1
bad 2 "--metric expects one of yolov7|coco" eval m.safetensors --data ds/data.yaml --metric x
bad 2 "--layer-ratio expects a number in [0, 1)" \
    prune m.safetensors --ratio 0.1 --layer-ratio 'model.1*=0.5x' -o a.safetensors

# ------------------------------------------------------ what does work
# one broken label: the image is skipped with a warning, the rest evaluated
run 0 "1 image(s) skipped" eval m.safetensors --data part/images --size 64
grep -qF "part/labels/000001.txt:1" "$T/err" || fail "eval: the warning names no label file"
# more than 256 images: every one is detected
set --
i=0
while [ $i -lt 260 ]; do
    set -- "$@" $I
    i=$((i + 1))
done
run 0 "" detect m.safetensors "$@" --size 32 --threads 1
[ "$(grep -c '^ds/images/val/000000.png: ' "$T/out")" = 260 ] || fail "detect: not 260 images"
# every output, all at once; no temporary file left
run 0 "" prune m.safetensors --ratio 0.25 --round-to 8 --size 64 -o o.safetensors \
    --report o.json --plot o.png --yolov7 O
for f in o.safetensors o.json o.png O.yaml O.safetensors; do
    [ -s "$f" ] || fail "prune: $f not written"
done
run 0 "" eval o.safetensors --data ds/data.yaml --size 64 --json e.json --plots plots
for f in e.json plots/PR_curve.png plots/confusion_matrix.png; do
    [ -s "$f" ] || fail "eval: $f not written"
done
# writing again over its own earlier outputs is fine
run 0 "" eval o.safetensors --data ds/data.yaml --size 64 --json e.json --plots plots
[ -z "$(find . -name '*.yolopr-*' -o -name '*.tmp-*')" ] || fail "temporary files left behind"

# bench kernels: each percentage is of the peak on as many threads (the
# "peak" row just above it), checked to the printed rounding
isa=$("$Y" version | sed -n 's/.*kernels \([a-z0-9]*\).*/\1/p')
run 0 "" bench kernels --isa "$isa" --threads 2 --seconds 0.01
awk '$3 == "peak" { peak = $NF; next }
     NR > 1 && $NF ~ /%$/ {
         pct = $NF; sub(/%$/, "", pct); g = $(NF - 1); want = 100 * g / peak
         # GFLOP/s and the peak are printed to 0.1, the percentage to 0.1
         tol = want * (0.05 / g + 0.05 / peak) * 1.01 + 0.051
         d = pct - want; if (d < 0) d = -d
         if (d > tol) { print "bench kernels row", NR, ":", pct, "!=", want; bad = 1 }
         rows++
     }
     END { exit bad || rows != 10 }' "$T/out" ||
    fail "bench kernels: a percentage is not of its own thread count's peak"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all cases passed"
