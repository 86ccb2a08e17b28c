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
# "peak" row just above it), checked to the printed rounding. It times eleven
# full-size convolutions at least four times each: the native run checks it;
# the sanitizer run (quick scope) would spend minutes in instrumented kernels.
if [ "${YPR_TEST_SCOPE:-}" != quick ]; then
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
     END { exit bad || rows < 10 }' "$T/out" ||
    fail "bench kernels: a percentage is not of its own thread count's peak"
fi

# ------------------------------------------------------------------ train
# a cfg of a few thousand parameters keeps these cases to seconds
cat >tiny.yaml <<'CFG'
nc: 2
depth_multiple: 1.0
width_multiple: 1.0
anchors:
  - [10,13, 16,30, 33,23]
  - [30,61, 62,45, 59,119]
backbone:
  [[-1, 1, Conv, [8, 3, 2]],
   [-1, 1, Conv, [16, 3, 2]],
   [-1, 1, Conv, [16, 3, 2]],
   [-1, 1, Conv, [16, 3, 2]],
  ]
head:
  [[[2, 3], 1, IDetect, [nc, anchors]]]
CFG
TR="--data synth:4:64:2 --batch 2 --size 64"
run 0 "" train tiny.yaml $TR --epochs 1 -o t.safetensors
for f in t.safetensors train-t/results.csv train-t/last.safetensors; do
    [ -s "$f" ] || fail "train: $f not written"
done
grep -q '^0,' train-t/results.csv || fail "train: results.csv has no row for epoch 0"
grep -qF "mAP@.5:.95" "$T/out" || fail "train: no evaluation line"
grep -qF "saved t.safetensors" "$T/out" || fail "train: no 'saved' line"
run 0 "" info t.safetensors --size 64   # the trained model loads
grep -qF "2 classes" "$T/out" || fail "train: the saved model is not the 2-class cfg"
# a data .yaml on disk; outputs kept out of its folders
run 0 "" train tiny.yaml --data ds/data.yaml --batch 2 --size 64 --epochs 1 --no-eval \
    -o d.safetensors --project dproj
[ -s d.safetensors ] && [ -s dproj/results.csv ] || fail "train --data DATA.yaml: not written"
bad 2 "--loss expects one of simple|ota, not 'x'" train tiny.yaml $TR --epochs 1 --loss x \
    -o u.safetensors
bad 2 "--epochs expects an integer in [1, 100000], not '0'" \
    train tiny.yaml $TR --epochs 0 -o u.safetensors
bad 2 "no --epochs N given" train tiny.yaml $TR -o u.safetensors
bad 2 "no --data" train tiny.yaml --epochs 1 -o u.safetensors
bad 2 "the trained model would be discarded" train tiny.yaml $TR --epochs 1
bad 2 "no MODEL (or --resume CKPT) given" train $TR --epochs 1 -o u.safetensors
bad 2 "--data expects synth[:COUNT[:SIZE[:CLASSES]]]" \
    train tiny.yaml --data synth:4:64:2:9 --epochs 1 -o u.safetensors
bad 2 "--data synth:COUNT expects a number" train tiny.yaml --data synth:x --epochs 1 \
    -o u.safetensors
bad 2 "its folder does not exist" train tiny.yaml $TR --epochs 1 -o no/u.safetensors
bad 2 "it is the input m.safetensors" train m.safetensors $TR --epochs 1 -o m.safetensors
bad 2 "not a regular file" train tiny.yaml $TR --epochs 1 -o fifo
bad 2 "input folder" train tiny.yaml --data ds/data.yaml --epochs 1 -o ds/images/val/u.safetensors
bad 2 "input folder" train tiny.yaml --data ds/data.yaml --epochs 1 -o u.safetensors \
    --project ds/labels/val
bad 2 "holds an earlier run (last.safetensors)" train tiny.yaml $TR --epochs 1 -o t.safetensors
bad 2 "it is the run's own train-t/last.safetensors" \
    train tiny.yaml $TR --epochs 1 -o train-t/last.safetensors --project train-t --exist-ok
bad 2 "--prune-steps needs a budget" train tiny.yaml $TR --epochs 3 --prune-steps 1 \
    -o u.safetensors
bad 2 "need more than 2 epochs" train tiny.yaml $TR --epochs 2 --prune-steps 2 --prune-ratio 0.5 \
    -o u.safetensors
bad 2 "--importance only applies when pruning" train tiny.yaml $TR --epochs 1 --importance l1 \
    -o u.safetensors
bad 2 "--reg sets the --sparsity" train tiny.yaml $TR --epochs 1 --reg 0.001 -o u.safetensors
bad 2 "drop --epochs" train --resume train-t/last.safetensors $TR --epochs 2 -o u.safetensors
bad 1 "not a trainer checkpoint" train --resume m.safetensors --data synth:4:64:2 -o u.safetensors
bad 1 "nothing to resume" train --resume train-t/last.safetensors --data synth:4:64:2 \
    -o u.safetensors
# pruning while training: a step is shown and the run completes
run 0 "" train tiny.yaml $TR --epochs 2 --prune-steps 1 --prune-ratio 0.5 -o p.safetensors
grep -qF "pruned before epoch 1" "$T/out" || fail "train --prune-steps: no pruning step shown"
# Ctrl-C: once the first checkpoint exists, SIGINT cancels at the next batch:
# exit 1 with a message, the checkpoints stay, -o is not written
"$Y" train tiny.yaml $TR --epochs 100000 --no-eval -o c.safetensors --project cproj \
    >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ ! -s cproj/last.safetensors ] && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 1 ] || fail "train: SIGINT gave exit $rc, expected 1"
grep -qF "interrupted after" "$T/err" || fail "train: SIGINT without the message"
[ -s cproj/last.safetensors ] || fail "train: SIGINT lost the checkpoint"
[ ! -e c.safetensors ] || fail "train: SIGINT still wrote -o"
# bench MODEL --train
run 0 "" bench tiny.yaml --train --size 64 --batch 2 --runs 2 --threads 1
grep -qF "s per step" "$T/out" && grep -qF "peak RSS" "$T/out" ||
    fail "bench --train: no step time or memory"
bad 2 "--loss needs --train" bench tiny.yaml --loss ota
bad 2 "--train times training steps: drop --fuse" bench tiny.yaml --train --fuse
bad 2 "drop --fuse, --peak and --outputs" bench tiny.yaml --train --outputs
# bench MODEL --outputs: the head copies are timed with each pass
run 0 "" bench tiny.yaml --size 64 --runs 2 --threads 1 --outputs
grep -qF "ms/image" "$T/out" || fail "bench --outputs: no time"
# PyTorch .pt checkpoints (tests/data/pt): every MODEL command takes them
if [ -n "${YPR_PT_DATA:-}" ] && [ -f "$YPR_PT_DATA/best.pt" ]; then
    cp "$YPR_PT_DATA/best.pt" "$YPR_PT_DATA/sd.pt" .
    cp "$YPR_PT_DATA/tiny.yaml" pt_tiny.yaml   # not the test's own tiny.yaml
    run 0 "" convert best.pt best.safetensors
    run 0 "" info best.safetensors
    grep -qF "3 classes" "$T/out" || fail "info best.safetensors: not the checkpoint's 3 classes"
    run 0 "" info best.pt
    grep -qF "3 classes" "$T/out" || fail "info best.pt: not the checkpoint's 3 classes"
    run 0 "" graph best.pt
    bad 2 "it is the input" convert best.safetensors best.safetensors
    bad 1 "bare state_dict" info sd.pt
    bad 1 "bare state_dict" convert sd.pt sd.safetensors
    run 0 "" convert pt_tiny.yaml sd.safetensors --weights sd.pt
    printf 'PK\003\004 this is not the rest of a ZIP archive' >junk.pt
    bad 1 "without its end record" info junk.pt
    rm -f best.pt sd.pt pt_tiny.yaml best.safetensors sd.safetensors junk.pt
fi
# export / convert (ONNX): a round trip, then refusals that write nothing
run 0 "" export m.safetensors -o m.onnx --size 64
params=$(grep -o '[0-9]* parameters' "$T/out")
[ -n "$params" ] && [ -s m.onnx ] || fail "export: no m.onnx or no summary"
run 0 "" convert m.onnx back.safetensors
grep -qF "libyolopr checkpoint, 2 classes, $params" "$T/out" || fail "convert: not $params"
run 0 "" info back.safetensors --size 64
bad 2 "-o OUT.onnx is required" export m.safetensors -o m.txt
bad 2 "expected IN and OUT" convert m.onnx out.bin
bad 2 "it is the input m.onnx" convert m.onnx m.onnx
head -c 500 m.onnx >cut.onnx
bad 1 "cut.onnx: ONNX: malformed or truncated" convert cut.onnx c.safetensors
printf 'not an onnx file' >junk.onnx
bad 1 "junk.onnx: ONNX" export junk.onnx -o j2.onnx

# --------------------------------------------------------------- quantize
Q="--data synth:3:64:2 --size 64 --calib-images 2 --sqnr-images 1"
run 0 "" quantize tiny.yaml $Q --report q.json --plot q.png -o q.safetensors
for f in q.safetensors q.json q.png; do
    [ -s "$f" ] || fail "quantize: $f not written"
done
grep -qF "scheme dpu, method entropy" "$T/out" || fail "quantize: no report table"
grep -qF '"layers":[' q.json || fail "quantize: the JSON report has no layers"
# activation tables (the default): each SiLU's input has a step, so the report lists the
# activation as a value of its own; --no-act-lut quantizes only the activation's output
grep -qF '"name":"model.0.act"' q.json || fail "quantize: no SiLU input step (activation tables)"
run 0 "" quantize tiny.yaml $Q --no-act-lut --report qn.json -o qn.safetensors
grep -qF '"name":"model.0.act"' qn.json && fail "quantize --no-act-lut: the SiLU input has a step"
grep -qF '"name":"model.0.conv"' qn.json || fail "quantize --no-act-lut: no row for model.0"
run 0 "" eval q.safetensors --data ds/data.yaml --size 64   # the quantized model loads and runs
grep -F "mAP" "$T/out" >q_eval.txt
grep -qE "^plan: int8 \(" "$T/out" || fail "eval: the speed report does not say the INT8 plan ran"
# bench says which plan ran: INT8 runtime, float simulation (YPR_INT8=0), float
run 0 "" bench q.safetensors --size 64 --runs 1 --threads 1
grep -qE "^plan: int8 \([a-z0-9-]+\)$" "$T/out" || fail "bench: no 'plan: int8 (SET)' line"
export YPR_INT8=0
run 0 "" bench q.safetensors --size 64 --runs 1 --threads 1
unset YPR_INT8
grep -qE "^plan: float simulation \([a-z0-9]+\)$" "$T/out" || fail "bench: YPR_INT8=0 not reported"
run 0 "" bench m.safetensors --size 64 --runs 1 --threads 1
grep -qE "^plan: float \([a-z0-9]+\)$" "$T/out" || fail "bench: no 'plan: float (SET)' line"
run 0 "" info q.safetensors --size 64 --tensors   # dtypes: I8 weights with their scales
grep -qE "^tensors: [0-9]+ F32, [1-9][0-9]* I8, 0 I32" "$T/out" || fail "info: no dtype tally for dpu"
grep -qE "\.weight +I8 +\[" "$T/out" || fail "info --tensors: no I8 weight line"
# its ONNX QDQ form evaluates the same; refusals
run 0 "" export q.safetensors -o q.onnx --int8
run 0 "" eval q.onnx --data ds/data.yaml --size 64
grep -F "mAP" "$T/out" | cmp -s - q_eval.txt || fail "export --int8: the QDQ model evaluates differently"
bad 1 "no quantization steps" export m.safetensors -o m8.onnx --int8
bad 2 "exclude each other" export q.safetensors -o q2.onnx --int8 --float
run 0 "" quantize tiny.yaml $Q -o q3.onnx
[ -s q3.onnx ] || fail "quantize -o q3.onnx: not written"
run 0 "" quantize tiny.yaml $Q --scheme per-channel --method mse --bias-correction \
    --keep-float 'model.0.*' --eval
grep -qF "quantized  mAP@.5" "$T/out" || fail "quantize --eval: no quantized line"
bad 2 "--method expects one of" quantize tiny.yaml $Q --method kl -o r.safetensors
bad 2 "no --data" quantize tiny.yaml -o r.safetensors
bad 2 "nothing to do" quantize tiny.yaml $Q
bad 2 "--data synth" quantize tiny.yaml --data synth:x -o r.safetensors
bad 1 "keep-float" quantize tiny.yaml $Q --keep-float '' -o r.safetensors
[ -z "$(find . -name '*.yolopr-*' -o -name '*.tmp-*')" ] || fail "temporary files left behind"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all cases passed"
