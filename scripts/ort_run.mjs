// The ONNX Runtime side of scripts/bench_vs_ort.sh, run with Debian's nodejs.
//
//   ORT_DIR=~/.cache/yolopr-ort node scripts/ort_run.mjs check STEM [THREADS]
//   ORT_DIR=~/.cache/yolopr-ort node scripts/ort_run.mjs time STEM THREADS RUNS
//   ORT_DIR=~/.cache/yolopr-ort node scripts/ort_run.mjs qcheck STEM [THREADS] [TOL]
//   ORT_DIR=~/.cache/yolopr-ort node scripts/ort_run.mjs layers STEM THREADS RUNS
// ORT_OPT (all) sets the graph optimization level: disabled, basic, extended, all.
//
// STEM is what scripts/ort_export.py wrote (STEM.onnx, STEM.json, STEM.in.bin,
// STEM.out<i>.bin). The session: CPU execution provider, THREADS intra-op
// threads, one inter-op thread, sequential execution, every graph
// optimization. `check` runs STEM.in.bin and compares each output with
// libyolopr's (STEM.out<i>.bin): max |ort - ours| / max |ours| per output must
// be at most 1e-4 (exit 1 otherwise). `time` runs the input `yolopr bench`
// uses (x[i] = (i mod 251) / 251) once to warm up, then RUNS times, and prints
// "median X ms (min Y)", as `yolopr bench` does. `qcheck` compares a QDQ
// export (scripts/ort_qdq.py) with libyolopr's fake-quantized simulation in
// units of each output's step (STEM.json "steps"): the share of values equal,
// within one step, and the largest difference; it fails when more than TOL
// (default 0.01) of the values differ by more than one step. `layers` runs the
// `time` input RUNS times after a warm-up with ONNX Runtime's profiler on and
// prints each node's median kernel time: "layer MS OP NODE" per line
// (scripts/compare_layers.py matches them with libyolopr's steps).
import { createRequire } from "node:module";
import { readFileSync, readdirSync, rmSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";

const ortDir = process.env.ORT_DIR;
if (!ortDir) {
  console.error("ort_run.mjs: set ORT_DIR to the folder onnxruntime-node is installed in");
  process.exit(2);
}
const ort = createRequire(join(ortDir, "package.json"))("onnxruntime-node");
const [mode, stem, threadsArg, runsArg] = process.argv.slice(2);
if (!["check", "time", "qcheck", "layers"].includes(mode) || !stem) {
  console.error("usage: ort_run.mjs check STEM [THREADS] | time STEM THREADS RUNS | " +
                "qcheck STEM [THREADS] [TOL] | layers STEM THREADS RUNS");
  process.exit(2);
}
const profDir = mode === "layers" ? mkdtempSync(join(tmpdir(), "yolopr-ortprof-")) : null;
const threads = Number(threadsArg || 2);
const meta = JSON.parse(readFileSync(stem + ".json", "utf8"));

function floats(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

const session = await ort.InferenceSession.create(stem + ".onnx", {
  executionProviders: ["cpu"],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: process.env.ORT_OPT || "all",
  ...(profDir ? { enableProfiling: true, profileFilePrefix: join(profDir, "ort") } : {}),
});

if (mode === "check") {
  const x = new ort.Tensor("float32", floats(stem + ".in.bin"), meta.shape);
  const out = await session.run({ [meta.input]: x });
  let worst = 0;
  meta.outputs.forEach((name, i) => {
    const got = out[name].data;
    const want = floats(`${stem}.out${i}.bin`);
    if (got.length !== want.length)
      throw new Error(`${name}: ${got.length} values, libyolopr has ${want.length}`);
    let diff = 0, ref = 0;
    for (let k = 0; k < got.length; k++) {
      diff = Math.max(diff, Math.abs(got[k] - want[k]));
      ref = Math.max(ref, Math.abs(want[k]));
    }
    const rel = diff / Math.max(ref, 1e-30);
    if (!(rel <= worst)) worst = rel;   // NaN sticks
    console.log(`  ${name} [${out[name].dims}]: max |ort - ours| ${diff.toExponential(2)}, ` +
                `max |ours| ${ref.toPrecision(3)}, relative ${rel.toExponential(2)}`);
  });
  const ok = worst <= 1e-4;
  console.log(`ort check ${stem}: worst relative difference ${worst.toExponential(2)} ` +
              `${ok ? "<=" : "EXCEEDS"} 1e-4 (onnxruntime-node ${ort.env.versions.common})`);
  process.exit(ok ? 0 : 1);
}

if (mode === "qcheck") {
  const tol = Number(runsArg || 0.01);
  const x = new ort.Tensor("float32", floats(stem + ".in.bin"), meta.shape);
  const out = await session.run({ [meta.input]: x });
  let worst = 0;
  meta.outputs.forEach((name, i) => {
    const got = out[name].data, want = floats(`${stem}.out${i}.bin`), step = meta.steps[i];
    if (got.length !== want.length)
      throw new Error(`${name}: ${got.length} values, libyolopr has ${want.length}`);
    if (!(step > 0)) throw new Error(`${name}: no quantization step (not a QDQ export?)`);
    let equal = 0, one = 0, most = 0, sum = 0;
    for (let k = 0; k < got.length; k++) {
      const d = Math.abs(got[k] - want[k]) / step;
      if (!(d <= most)) most = d;
      if (d < 1e-3) equal++;
      if (d < 1 + 1e-3) one++;
      sum += d;
    }
    const n = got.length, beyond = (n - one) / n;
    if (!(beyond <= worst)) worst = beyond;
    console.log(`  ${name} [${out[name].dims}] step ${step.toPrecision(4)}: equal ` +
                `${(100 * equal / n).toFixed(3)} %, within one step ${(100 * one / n).toFixed(3)} %, ` +
                `mean ${(sum / n).toFixed(4)} steps, largest ${most.toFixed(1)} steps`);
  });
  const ok = worst <= tol;
  console.log(`ort qcheck ${stem}: ${(100 * worst).toFixed(3)} % of values beyond one step ` +
              `${ok ? "<=" : "EXCEEDS"} ${(100 * tol).toFixed(2)} % (onnxruntime-node ` +
              `${ort.env.versions.common})`);
  process.exit(ok ? 0 : 1);
}

const runs = Number(runsArg || 5), shape = meta.shape;
const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
for (let i = 0; i < data.length; i++) data[i] = (i % 251) / 251;
const feeds = { [meta.input]: new ort.Tensor("float32", data, shape) };
await session.run(feeds);   // warm-up
if (mode === "layers") {
  for (let r = 0; r < runs; r++) await session.run(feeds);
  session.endProfiling();
  const file = readdirSync(profDir).filter((f) => f.endsWith(".json"))[0];
  const events = JSON.parse(readFileSync(join(profDir, file), "utf8"));
  rmSync(profDir, { recursive: true, force: true });
  const per = new Map();   // node name -> [op, durations]
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const name = e.name.slice(0, -"_kernel_time".length);
    if (!per.has(name)) per.set(name, [e.args.op_name, []]);
    per.get(name)[1].push(e.dur);
  }
  for (const [name, [op, d]] of per) {
    const kept = d.slice(d.length - runs);   // the timed runs (the first is the warm-up)
    kept.sort((a, b) => a - b);
    console.log(`layer ${(kept[kept.length >> 1] / 1000).toFixed(4)} ${op} ${name}`);
  }
  process.exit(0);
}
const t = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  await session.run(feeds);
  t.push(performance.now() - t0);
}
t.sort((a, b) => a - b);
console.log(`ort ${stem}, ${threads} threads: median ${t[runs >> 1].toFixed(2)} ms ` +
            `(min ${t[0].toFixed(2)})`);
