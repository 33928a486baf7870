/**
 * bench/gpu: W1 (matmul N = 1024, 2048, 4096), W2 (MLP 784-784-784-10 training step, batch 200,
 * Adam) and W3 (LeNet-5 training step, batch 64, SGD) on the webgpu backend, in Deno.
 *
 *   node_modules/.bin/deno run -A bench/gpu/run.ts [--quick] [--out bench/gpu/results.json]
 *
 * Timing never waits per kernel: each measurement records `reps` matmuls or training steps
 * back to back (kernels batched into one command stream, nothing read), brackets them with GPU
 * timestamps where the device has "timestamp-query", and waits once at the end. The GPU figure
 * is the timestamp difference (device time only); the wall figure includes recording in
 * JavaScript and that one wait (~11 ms under Deno, spread over the reps).
 */
import * as dg from "@deltagrad/autograd";
import { crossEntropy, LeNet5, MLP } from "@deltagrad/nn";
import { Adam, SGD } from "@deltagrad/optim";

type DenoLike = { args: string[]; writeTextFileSync(p: string, s: string): void; exit(code: number): never };
const D = (globalThis as unknown as { Deno: DenoLike }).Deno;
const args = D.args;
const quick = args.includes("--quick");
const outAt = args.indexOf("--out");
const outPath = outAt >= 0 ? args[outAt + 1] : undefined;

const init = await dg.initWebGPU();
if (!init.ok) {
  console.log(`bench/gpu: no WebGPU adapter (${init.reason})`);
  D.exit(1);
}
const adapter = init.ok ? init.adapter : "";
dg.setBackend("webgpu");
console.log(`adapter: ${adapter}${quick ? " (quick)" : ""}`);

interface Row {
  workload: string;
  name: string;
  reps: number;
  gpuMs: number | null;
  wallMs: number;
  figure: string;
}
const rows: Row[] = [];

/**
 * Times `reps` calls of `body` recorded back to back: GPU ms per call (timestamps) and wall ms
 * per call (record + one wait). `reps` grows until the batch lasts ≥ `minMs` of wall time.
 */
async function timeBatch(body: () => void, minMs: number, maxReps: number): Promise<{ reps: number; gpuMs: number | null; wallMs: number }> {
  let reps = 1;
  for (;;) {
    await dg.webgpuSync();
    const t0 = performance.now();
    const stamped = dg.webgpuTimestamp();
    for (let i = 0; i < reps; i++) body();
    if (stamped) dg.webgpuTimestamp();
    await dg.webgpuSync();
    const wall = performance.now() - t0;
    const ts = stamped ? await dg.webgpuTimestamps() : [];
    if (wall >= minMs || reps >= maxReps) {
      const gpuMs = ts.length === 2 ? (ts[1]! - ts[0]!) / 1e6 / reps : null;
      return { reps, gpuMs, wallMs: wall / reps };
    }
    reps = Math.min(maxReps, Math.max(reps * 2, Math.ceil((reps * minMs * 1.2) / Math.max(wall, 1))));
  }
}

const fmt = (v: number | null, d = 2) => (v === null ? "–" : v.toFixed(d));

// ----- W1: C = A·B, N×N float32 -----
for (const n of quick ? [256, 512] : [1024, 2048, 4096]) {
  dg.manualSeed(1);
  const a = dg.randn([n, n]);
  const b = dg.randn([n, n]);
  // Correctness first: C[0, 0:8] against a float64 dot product of the same float32 values.
  const c = dg.matmul(a, b);
  const [av, bv, cv] = await Promise.all([a.slice([0, 0], [1, n]).data(), b.data(), c.slice([0, 0], [1, 8]).data()]);
  for (let j = 0; j < 8; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += av[k]! * bv[k * n + j]!;
    if (!(Math.abs(cv[j]! - s) <= 1e-3 * Math.sqrt(n))) throw new Error(`W1 N=${n}: C[0,${j}] = ${cv[j]} but the dot product is ${s}`);
  }
  c.dispose();
  const t = await timeBatch(() => dg.matmul(a, b).dispose(), quick ? 200 : 500, 200);
  const flops = 2 * n ** 3;
  const tflops = (ms: number | null) => (ms === null ? null : flops / (ms * 1e9));
  rows.push({ workload: "W1", name: `matmul N=${n}`, ...t, figure: `${fmt(tflops(t.gpuMs), 3)} TFLOP/s GPU, ${fmt(tflops(t.wallMs), 3)} wall` });
  a.dispose();
  b.dispose();
}

/** A training step of `model` (no read); W2/W3 check that the losses are finite and fall. */
async function trainCase(workload: string, name: string, build: () => { model: { call(x: dg.Tensor): dg.Tensor; parameters(): dg.Tensor[] }; opt: { zeroGrad(): void; step(): void } }, xShape: number[]) {
  dg.manualSeed(2);
  const { model, opt } = build();
  const x = dg.rand(xShape);
  const y = dg.randint(0, 9, [xShape[0]!]);
  let last: dg.Tensor | null = null;
  const step = () => {
    opt.zeroGrad();
    const loss = crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    last?.dispose();
    last = loss;
  };
  step();
  const first = await last!.item();
  // Warm the pipelines, the buffer pool and the bind-group cache (steps settle into the same
  // buffers after a few dozen steps; see device.ts takeOldest).
  const warm = quick ? 3 : 60;
  for (let i = 0; i < warm; i++) {
    step();
    if (i % 10 === 9) await last!.item(); // bound the queued work
  }
  const t = await timeBatch(step, quick ? 200 : 1000, 500);
  const after = await last!.item();
  if (!Number.isFinite(after) || !(after < first)) throw new Error(`${workload}: loss ${first} → ${after} (not finite or not falling)`);
  rows.push({ workload, name, ...t, figure: `${fmt(t.gpuMs)} ms/step GPU, ${fmt(t.wallMs)} ms/step wall (loss ${first.toFixed(3)} → ${after.toFixed(3)})` });
}

const mlpBatch = quick ? 32 : 200;
await trainCase("W2", `MLP 784-784-784-10 batch ${mlpBatch}, Adam 1e-3`, () => {
  const model = new MLP([784, 784, 784, 10]);
  return { model, opt: new Adam(model.parameters(), { lr: 1e-3 }) };
}, [mlpBatch, 784]);
const lenetBatch = quick ? 16 : 64;
await trainCase("W3", `LeNet-5 batch ${lenetBatch}, SGD 0.01`, () => {
  const model = new LeNet5({ activation: "relu", pool: "max" });
  return { model, opt: new SGD(model.parameters(), { lr: 0.01 }) };
}, [lenetBatch, 1, 28, 28]);

const stats = dg.webgpuStats();
console.log("| workload | case | reps | GPU ms | wall ms | figure |");
console.log("|---|---|---:|---:|---:|---|");
for (const r of rows) console.log(`| ${r.workload} | ${r.name} | ${r.reps} | ${fmt(r.gpuMs, 3)} | ${fmt(r.wallMs, 3)} | ${r.figure} |`);
console.log(`dispatches ${stats.dispatches}, submits ${stats.submits}`);
if (outPath) D.writeTextFileSync(outPath, JSON.stringify({ adapter, quick, date: new Date().toISOString(), rows }, null, 2) + "\n");
