/**
 * webgpu against references: the PyTorch fixtures that apply to float32 kernels (ops.json and
 * conv.json of packages/autograd/test/fixtures, mlp_train.json of packages/nn/test/fixtures) and
 * an MLP and LeNet-5 trained 20 steps on webgpu with every loss within 1e-4 relative of the same
 * run on cpu. Loss tensors are kept and read once at the end (one GPU wait per run).
 *
 *   XDG_RUNTIME_DIR=/tmp node_modules/.bin/deno test -A deno/webgpu_train_test.ts
 */
import * as dg from "@deltagrad/autograd";
import type { Tensor } from "@deltagrad/autograd";
import { crossEntropy, LeNet5, Linear, MLP, Sequential, Sigmoid, type Module } from "@deltagrad/nn";
import { Adam, SGD, type Optimizer } from "@deltagrad/optim";
import { assert, AssertionError } from "./assert.ts";
import { noAdapter, on, onAsync, rng } from "./webgpu_support.ts";

const test = (name: string, fn: () => Promise<void> | void) => Deno.test({ name: `webgpu: ${name}`, ignore: noAdapter, fn });
// JSON modules: imported statically, so the tests need no --allow-read.
import opsFixture from "../packages/autograd/test/fixtures/ops.json" with { type: "json" };
import convFixture from "../packages/autograd/test/fixtures/conv.json" with { type: "json" };
import mlpFixture from "../packages/nn/test/fixtures/mlp_train.json" with { type: "json" };

type Nested = number | Nested[];
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const t32 = (v: Nested) => dg.tensor(Float32Array.from(flat(v))).reshape(shapeOf(v));

/** float32 against PyTorch's float64: inputs rounded to float32, ~1e-6 relative per op, a few ops deep. */
const RTOL = 1e-4;
const ATOL = 1e-5;

/** Compares read values with expected nested arrays; returns mismatch lines. */
function mismatches(what: string, actual: ArrayLike<number>, shape: readonly number[], expected: Nested): string[] {
  if (JSON.stringify(shape) !== JSON.stringify(shapeOf(expected))) return [`${what}: shape [${shape}] vs PyTorch [${shapeOf(expected)}]`];
  const e = flat(expected);
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(actual[i]! - e[i]!) <= ATOL + RTOL * Math.abs(e[i]!))) return [`${what}[${i}]: webgpu ${actual[i]} vs PyTorch ${e[i]}`];
  }
  return [];
}

/** Reads every (name, tensor, expected) triple in one batch and throws listing every mismatch. */
async function check(items: [string, Tensor, Nested][]): Promise<void> {
  for (const [name, t] of items) assert(t.backend.name === "webgpu", `${name} ran on ${t.backend.name}`);
  const values = await Promise.all(items.map(([, t]) => t.data()));
  const bad = items.flatMap(([name, t, e], i) => mismatches(name, values[i]!, t.shape, e));
  if (bad.length > 0) throw new AssertionError(`${bad.length} of ${items.length} mismatches:\n${bad.join("\n")}`);
}

const axisOf = (a: { dim?: number | null }) => (a.dim === null || a.dim === undefined ? undefined : a.dim);
// deno-lint-ignore no-explicit-any
const UNARY: Record<string, (x: Tensor, a: any) => Tensor> = {
  sigmoid: (x) => dg.sigmoid(x), tanh: (x) => dg.tanh(x), relu: (x) => dg.relu(x), softplus: (x) => dg.softplus(x),
  softmax: (x, a) => dg.softmax(x, { axis: a.dim }), log_softmax: (x, a) => dg.logSoftmax(x, { axis: a.dim }),
  logsumexp: (x, a) => dg.logSumExp(x, { axis: a.dim, keepDims: a.keepdim }),
  exp: (x) => dg.exp(x), log: (x) => dg.log(x), sqrt: (x) => dg.sqrt(x), reciprocal: (x) => dg.reciprocal(x), neg: (x) => dg.neg(x),
  pow: (x, a) => dg.pow(x, a.exponent),
  sum: (x, a) => dg.sum(x, { axis: axisOf(a), keepDims: a.keepdim }), mean: (x, a) => dg.mean(x, { axis: axisOf(a), keepDims: a.keepdim }),
  max: (x, a) => dg.max(x, { axis: axisOf(a), keepDims: a.keepdim }),
  var: (x, a) => dg.variance(x, { axis: axisOf(a), keepDims: a.keepdim, correction: a.unbiased ? 1 : 0 }),
  clamp: (x, a) => dg.clamp(x, { min: a.min, max: a.max }), cumsum: (x, a) => dg.cumsum(x, { axis: a.dim }),
};
const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = { pow: dg.pow, matmul: dg.matmul, add: dg.add, sub: dg.sub, mul: dg.mul, div: dg.div, maximum: dg.maximum };
/** ops.json cases that are nn activations (tested in packages/nn against the same fixture). */
const IN_NN = new Set(["leaky_relu", "elu", "silu", "gelu", "hardtanh", "hardsigmoid_torch", "hard_logistic", "prelu"]);

test("ops.json (PyTorch): forward and VJP of every autograd op case in float32", async () => {
  const cases = (opsFixture as any).cases as any[]; // deno-lint-ignore no-explicit-any
  const items: [string, Tensor, Nested][] = [];
  on("webgpu", () => {
    for (const c of cases) {
      if (IN_NN.has(c.op)) continue;
      assert(c.op in UNARY || c.op in BINARY || c.op === "where", `ops.json op ${c.op} has no runner here`);
      if ("x" in c) {
        const x = t32(c.x).requiresGrad_();
        const y = UNARY[c.op]!(x, c.attrs);
        y.backward(t32(c.cotangent));
        items.push([`${c.name} y`, y, c.y], [`${c.name} vjp`, x.grad!, c.vjp]);
        continue;
      }
      const a = t32(c.a).requiresGrad_();
      const b = t32(c.b).requiresGrad_();
      const y = c.op === "where" ? dg.where(dg.tensor(c.cond, { dtype: "bool" }), a, b) : BINARY[c.op]!(a, b);
      y.backward(t32(c.cotangent));
      items.push([`${c.name} y`, y, c.y], [`${c.name} vjp_a`, a.grad!, c.vjp_a], [`${c.name} vjp_b`, b.grad!, c.vjp_b]);
    }
  });
  assert(items.length > 80, `only ${items.length} outputs`);
  await check(items);
});

test("conv.json (PyTorch): conv2d, max and avg pooling, forward and gradients in float32", async () => {
  const cases = (convFixture as any).cases as any[]; // deno-lint-ignore no-explicit-any
  const items: [string, Tensor, Nested][] = [];
  on("webgpu", () => {
    for (const c of cases) {
      const x = t32(c.x).requiresGrad_();
      if (c.op === "conv2d") {
        const w = t32(c.weight).requiresGrad_();
        const b = c.bias ? t32(c.bias).requiresGrad_() : null;
        const y = dg.conv2d(x, w, b, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
        y.backward(t32(c.cotangent));
        items.push([`${c.name} y`, y, c.y], [`${c.name} grad_x`, x.grad!, c.grad_x], [`${c.name} grad_weight`, w.grad!, c.grad_weight]);
        if (b) items.push([`${c.name} grad_bias`, b.grad!, c.grad_bias]);
        continue;
      }
      const opts = { kernel: c.kernel, stride: c.stride, padding: c.padding };
      let y: Tensor;
      if (c.op === "max_pool2d") y = dg.maxPool2d(x, opts);
      else if (c.op === "avg_pool2d") y = dg.avgPool2d(x, { ...opts, countIncludePad: c.count_include_pad });
      else if (c.op === "adaptive_avg_pool2d") y = dg.adaptiveAvgPool2d(x, c.output_size);
      else throw new AssertionError(`conv.json op ${c.op} has no runner here`);
      y.backward(t32(c.cotangent));
      items.push([`${c.name} y`, y, c.y], [`${c.name} grad_x`, x.grad!, c.grad_x]);
    }
  });
  await check(items);
});

test("mlp_train.json (PyTorch): a sigmoid MLP's losses over SGD, momentum and Adam steps in float32", async () => {
  const cases = (mlpFixture as any).cases as any[]; // deno-lint-ignore no-explicit-any
  const items: [string, Tensor, Nested][] = [];
  on("webgpu", () => {
    for (const c of cases) {
      const [nIn, nHidden, nOut] = c.layers;
      const fc1 = new Linear(nIn, nHidden);
      const fc2 = new Linear(nHidden, nOut);
      const model = new Sequential(fc1, new Sigmoid(), fc2);
      fc1.weight.assign(t32(c.init.W1));
      fc1.bias!.assign(t32(c.init.b1));
      fc2.weight.assign(t32(c.init.W2));
      fc2.bias!.assign(t32(c.init.b2));
      const opt = c.optimizer === "SGD" ? new SGD(model.parameters(), c.options) : new Adam(model.parameters(), c.options);
      const x = t32(c.X);
      const y = dg.tensor(c.labels, { dtype: "int32" });
      for (let t = 0; t < c.steps; t++) {
        opt.zeroGrad();
        const l = crossEntropy(model.call(x), y);
        l.backward();
        opt.step();
        items.push([`${c.name} loss before step ${t}`, l, c.losses[t]]);
      }
      items.push([`${c.name} W1 after the last step`, fc1.weight, c.params[c.steps - 1].W1]);
    }
  });
  await check(items);
});

/** Trains `build()` for 20 steps on `backend`; returns the 20 losses (read once, at the end). */
async function train(backend: string, build: () => { model: Module; opt: Optimizer }, x: Float32Array, xShape: number[], y: Int32Array): Promise<number[]> {
  const losses = on(backend, () => {
    dg.manualSeed(7);
    const { model, opt } = build();
    const X = dg.tensor(x).reshape(xShape);
    const Y = dg.tensor(y, { dtype: "int32" });
    const out: Tensor[] = [];
    for (let step = 0; step < 20; step++) {
      opt.zeroGrad();
      const loss = crossEntropy(model.call(X), Y);
      loss.backward();
      opt.step();
      out.push(loss);
    }
    return out;
  });
  const values = await Promise.all(losses.map((l) => l.item()));
  return values;
}

async function sameLosses(name: string, build: () => { model: Module; opt: Optimizer }, xShape: number[], classes: number): Promise<void> {
  const r = rng(11);
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, () => r.next());
  const y = Int32Array.from({ length: xShape[0]! }, () => r.int(0, classes - 1));
  const cpu = await train("cpu", build, x, xShape, y);
  const gpu = await train("webgpu", build, x, xShape, y);
  const worst = Math.max(...cpu.map((c, i) => Math.abs(gpu[i]! - c) / Math.abs(c)));
  console.log(`${name}: losses ${cpu[0]!.toFixed(5)} → ${cpu[19]!.toFixed(5)} on cpu; worst relative difference on webgpu ${worst.toExponential(2)}`);
  assert(cpu[19]! < cpu[0]!, `${name}: the cpu run did not learn (${cpu[0]} → ${cpu[19]})`);
  assert(worst <= 1e-4, `${name}: webgpu losses differ from cpu by ${worst} relative\ncpu ${cpu.join(", ")}\ngpu ${gpu.join(", ")}`);
}

test("MLP 784-128-64-10 (relu, Adam 1e-3), 20 steps: losses equal to cpu within 1e-4 relative", async () => {
  await sameLosses("MLP", () => {
    const model = new MLP([784, 128, 64, 10]);
    return { model, opt: new Adam(model.parameters(), { lr: 1e-3 }) };
  }, [64, 784], 10);
});

test("LeNet-5 (relu, max pool, SGD 0.05 momentum 0.9), 20 steps: losses equal to cpu within 1e-4 relative", async () => {
  await sameLosses("LeNet-5", () => {
    const model = new LeNet5({ activation: "relu", pool: "max" });
    return { model, opt: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }) };
  }, [16, 1, 28, 28], 10);
});

test("fit on webgpu: one loss-and-flag read per step, a NaN gradient stops training with parameters unchanged", async () => {
  const { fit, mseLoss } = await import("@deltagrad/nn");
  const [model, x, y, opt] = on("webgpu", () => {
    dg.manualSeed(5);
    const model = new MLP([3, 8, 1]);
    return [model, dg.randn([32, 3]), dg.randn([32, 1]), new Adam(model.parameters(), { lr: 0.01 })] as const;
  });
  const before = dg.webgpuStats().submits;
  const history = await onAsync("webgpu", () => fit(model, { x, y, loss: mseLoss, optimizer: opt, epochs: 3, batchSize: 8, shuffle: false, verbose: 0 }));
  const submits = dg.webgpuStats().submits - before;
  assert(history.loss.length === 3 && history.loss[2]! < history.loss[0]!, `loss did not fall: ${history.loss}`);
  // 12 steps: one batched read each (loss + non-finite count), no per-gradient downloads.
  assert(submits <= 12 + 3, `${submits} submits for 12 steps`);
  // A NaN gradient with a finite loss (√0 in the loss) at batch 2: fit throws and nothing changes.
  const params = model.parameters();
  const snapshot = async () => Promise.all(params.map((p) => p.data().then((d) => Array.from(d))));
  let calls = 0;
  const loss = (p: Tensor, t: Tensor) => (++calls === 2 ? mseLoss(p, t).add(p.sub(p).sqrt().sum()) : mseLoss(p, t));
  let seen: number[][] = [];
  const err = await onAsync("webgpu", () => fit(model, {
    x, y, loss, optimizer: opt, epochs: 1, batchSize: 8, shuffle: false, verbose: 0,
    callbacks: [{ onBatchEnd: async (b: number) => { if (b === 1) seen = await snapshot(); } }],
  })).then(() => null, (e) => e);
  assert(err instanceof dg.DeltagradError && /fit: a gradient at epoch 1, batch 2 .* NaN or infinite entries/.test(String(err)), String(err));
  assertClose(await snapshot(), seen);
});

function assertClose(a: number[][], b: number[][]): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new AssertionError(`parameters changed: ${JSON.stringify(a).slice(0, 200)} vs ${JSON.stringify(b).slice(0, 200)}`);
}

test("clipGradNorm stays on the device and matches cpu; evaluateAsync, predictAsync, serializeAsync match cpu", async () => {
  const { clipGradNorm } = await import("@deltagrad/optim");
  const { evaluateAsync, predictAsync, serializeAsync, evaluate, predict, serialize } = await import("@deltagrad/nn");
  const run = (backend: string) => on(backend, () => {
    dg.manualSeed(9);
    const model = new MLP([5, 7, 3]);
    const x = dg.randn([20, 5]);
    const y = dg.randint(0, 2, [20]);
    crossEntropy(model.call(x), y).mul(50).backward();
    const submits = dg.webgpuStats().submits;
    const norm = clipGradNorm(model.parameters(), 0.5);
    const noWait = dg.webgpuStats().submits === submits;
    return { model, x, y, norm, grads: model.parameters().map((p) => p.grad!), noWait };
  });
  const cpu = run("cpu");
  const gpu = run("webgpu");
  assert(gpu.noWait, "clipGradNorm submitted GPU work (it waited on the host)");
  assert(gpu.norm.backend.name === "webgpu" && gpu.norm.shape.length === 0, "the norm is a scalar tensor on webgpu");
  const [gn, ...gg] = await Promise.all([gpu.norm.item(), ...gpu.grads.map((g) => g.data())]);
  const cn = cpu.norm.itemSync();
  assert(Math.abs(gn - cn) <= 1e-5 * cn, `norm webgpu ${gn} vs cpu ${cn}`);
  gg.forEach((g, i) => {
    const c = cpu.grads[i]!.dataSync();
    for (let k = 0; k < c.length; k++) assert(Math.abs(g[k]! - c[k]!) <= 1e-5 * Math.abs(c[k]!) + 1e-7, `clipped grad ${i}[${k}]: ${g[k]} vs ${c[k]}`);
  });
  const opts = { loss: crossEntropy, metrics: ["accuracy" as const] };
  const ec = on("cpu", () => evaluate(cpu.model, cpu.x, cpu.y, opts));
  const [e, p, bytes] = await onAsync("webgpu", () =>
    Promise.all([evaluateAsync(gpu.model, gpu.x, gpu.y, opts), predictAsync(gpu.model, gpu.x, { batchSize: 7 }), serializeAsync(gpu.model.stateDict())]),
  );
  assert(Math.abs(e.loss - ec.loss) <= 1e-5 * ec.loss && e.metrics.accuracy === ec.metrics.accuracy, `evaluateAsync ${JSON.stringify(e)} vs evaluate ${JSON.stringify(ec)}`);
  const pc = on("cpu", () => predict(cpu.model, cpu.x)).dataSync();
  const pg = await p.data();
  for (let k = 0; k < pc.length; k++) assert(Math.abs(pg[k]! - pc[k]!) <= 1e-5 * Math.abs(pc[k]!) + 1e-6, `predictAsync[${k}] ${pg[k]} vs ${pc[k]}`);
  const sc = on("cpu", () => serialize(cpu.model.stateDict()));
  assert(bytes.length === sc.length, `serializeAsync wrote ${bytes.length} bytes, serialize ${sc.length}`);
});

test("memory: a warm training loop reuses pooled buffers (the library frees its temporaries on the GPU too)", async () => {
  const [model, opt, x, y] = on("webgpu", () => {
    dg.manualSeed(12);
    const model = new MLP([64, 48, 10]);
    return [model, new Adam(model.parameters(), { lr: 1e-3 }), dg.randn([32, 64]), dg.randint(0, 9, [32])] as const;
  });
  // The logits are the caller's (returned by model.call): disposed here as the loss is, so the count
  // measures only what the library frees. Left to the garbage collector, their buffers come back
  // through the FinalizationRegistry at GC-dependent times, and 3–6 new buffers appeared over 30
  // steps depending on when collections ran.
  const step = () => on("webgpu", () => {
    opt.zeroGrad();
    const logits = model.call(x);
    const loss = crossEntropy(logits, y);
    loss.backward();
    opt.step();
    logits.dispose();
    return loss;
  });
  for (let i = 0; i < 5; i++) await step().item();
  const before = dg.webgpuStats().buffersCreated;
  let last = 0;
  for (let i = 0; i < 30; i++) {
    const l = step();
    last = await l.item();
    l.dispose();
  }
  const created = dg.webgpuStats().buffersCreated - before;
  assert(Number.isFinite(last), `loss ${last}`);
  // 30 steps of ~40 kernels each: without release every step would create dozens of buffers.
  assert(created <= 2, `${created} buffers created over 30 warm steps`);
});

test("fit with metrics and validation on webgpu: reduced on the device, read once an epoch, equal to cpu's", async () => {
  const { fit, crossEntropy: ce } = await import("@deltagrad/nn");
  const run = async (backend: string) => {
    const [model, x, y, opt] = on(backend, () => {
      dg.manualSeed(11);
      const model = new MLP([4, 16, 3]);
      const x = dg.randn([48, 4]);
      const y = dg.argmax(x.slice([0, 0], [48, 3]), { axis: 1 }); // a learnable labelling
      return [model, x, y, new Adam(model.parameters(), { lr: 0.05 })] as const;
    });
    const history = await onAsync(backend, () => fit(model, {
      x, y, loss: ce, optimizer: opt, epochs: 3, batchSize: 16, shuffle: false, verbose: 0, compile: false,
      metrics: ["accuracy"], validation: { x, y },
    }));
    return { acc: history.series.accuracy!, valAcc: history.series.valAccuracy!, valLoss: history.valLoss };
  };
  const gpu = await run("webgpu");
  const cpu = await run("cpu");
  assert(JSON.stringify(gpu.acc) === JSON.stringify(cpu.acc), `accuracy ${gpu.acc} vs cpu ${cpu.acc}`);
  assert(JSON.stringify(gpu.valAcc) === JSON.stringify(cpu.valAcc), `val accuracy ${gpu.valAcc} vs cpu ${cpu.valAcc}`);
  gpu.valLoss.forEach((v, i) => assert(Math.abs(v - cpu.valLoss[i]!) <= 1e-4 * Math.abs(cpu.valLoss[i]!), `val loss ${v} vs cpu ${cpu.valLoss[i]}`));
});
