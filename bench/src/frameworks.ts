/**
 * The frameworks under test and the five workloads written once per framework. Every workload
 * builder returns a `step()` whose timed region ends with a host read (so lazy work is counted)
 * and a `check()` giving the numbers compared across frameworks (same data, same weights).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as dg from "@deltagrad/autograd";
import { crossEntropy, LeNet5, MLP } from "@deltagrad/nn";
import { Adam, SGD } from "@deltagrad/optim";
import * as jax from "@jax-js/jax";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const jnp = jax.numpy;

export type DeltagradId = "deltagrad-wasm" | "deltagrad-wasm-2t" | "deltagrad-compiled" | "deltagrad-cpu";
export type PeerId = "tfjs-cpu" | "tfjs-wasm" | "jax-js-wasm";
export type FrameworkId = DeltagradId | PeerId;
/**
 * deltagrad on its wasm backend (the default where WebAssembly SIMD exists) with one thread and
 * with two (`setNumThreads`), the same on two threads with each step `compile()`d (traced once,
 * replayed; docs/compile.md), and on its cpu backend.
 */
export const DELTAGRAD: readonly DeltagradId[] = ["deltagrad-wasm", "deltagrad-wasm-2t", "deltagrad-compiled", "deltagrad-cpu"];
export const PEERS: readonly PeerId[] = ["tfjs-cpu", "tfjs-wasm", "jax-js-wasm"];
export const FRAMEWORKS: readonly FrameworkId[] = [...DELTAGRAD, ...PEERS];

export const isDeltagrad = (fw: FrameworkId): fw is DeltagradId => (DELTAGRAD as readonly FrameworkId[]).includes(fw);

/** The deltagrad backend a column runs on. */
const dgBackend = (fw: DeltagradId) => (fw === "deltagrad-cpu" ? "cpu" : "wasm");
/** The wasm backend's thread count a column runs with (`setNumThreads`; the cpu backend has one thread). */
const dgThreads = (fw: DeltagradId) => (fw === "deltagrad-wasm-2t" || fw === "deltagrad-compiled" ? 2 : 1);
/** Whether a column runs its steps through `compile()`. */
const compiled = (fw: FrameworkId) => fw === "deltagrad-compiled";

/**
 * Runs `f` with deltagrad's backend and thread count of column `fw` active and restores the
 * previous ones afterwards. Every deltagrad builder, step and check goes through this: the
 * default backend is wasm where SIMD exists, so a column that did not select its backend (or its
 * thread count) would silently measure another one.
 */
function on<T>(fw: DeltagradId, f: () => T): T {
  const prev = dg.getBackend().name;
  const prevThreads = dg.getNumThreads();
  dg.setBackend(dgBackend(fw));
  dg.setNumThreads(dgThreads(fw));
  try {
    return f();
  } finally {
    dg.setNumThreads(prevThreads);
    dg.setBackend(prev);
  }
}

/** A deltagrad runner whose construction, steps and checks all run on `fw`'s backend and thread count. */
function dgRunner(fw: DeltagradId, build: () => Runner): Runner {
  const r = on(fw, build);
  return { step: () => on(fw, () => r.step()), check: () => on(fw, () => r.check()), dispose: () => on(fw, () => r.dispose()) };
}

/** A prepared workload: one timed iteration, and the numbers that must agree across frameworks. */
export interface Runner {
  /** One iteration; returns a value read on the host. */
  step(): number;
  /** Values compared across frameworks (e.g. loss before and after one training step). */
  check(): number[];
  dispose(): void;
  /**
   * The share of the case's nominal step that `step()` does (default 1): a framework far slower
   * on a workload may run a smaller step (W4: fewer graphs), and its times are scaled up to the
   * full step before they are reported or compared.
   */
  fraction?: number;
}

/** Thrown by a builder when a framework cannot run a workload; recorded, not fatal. */
export class Unsupported extends Error {}

let peersReady: Promise<void> | null = null;

/**
 * Registers TF.js's wasm backend (its .wasm files live in the package's dist/) and starts jax-js
 * on its wasm device.
 */
export function initPeers(): Promise<void> {
  peersReady ??= (async () => {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
    setWasmPaths(join(dist, "/").replace(/\\/g, "/"));
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false); // one thread, as deltagrad
    await tf.setBackend("wasm");
    await tf.ready();
    await tf.setBackend("cpu");
    await tf.ready();
    // jax-js's wasm device spreads kernels over Web Workers only where a global `Worker` and
    // SharedArrayBuffer both exist; Node has no global `Worker`, so here it runs on one thread.
    if (!(await jax.init("wasm")).includes("wasm")) throw new Error("jax-js: the wasm device did not start");
    jax.defaultDevice("wasm");
  })();
  return peersReady;
}

/** Makes `fw` the active TF.js backend (no-op for deltagrad, whose runners select their own backend, and for jax-js). */
export async function activate(fw: FrameworkId): Promise<void> {
  if (isDeltagrad(fw) || fw === "jax-js-wasm") return;
  const name = fw === "tfjs-cpu" ? "cpu" : "wasm";
  if (tf.getBackend() !== name) await tf.setBackend(name);
}

// ----- shared inputs: one seeded stream, so every framework sees the same numbers -----

/** Deterministic floats in [lo, hi) (a 32-bit LCG: cheap, and identical everywhere). */
export function uniform(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

function labels(n: number, classes: number, seed: number): Int32Array {
  const u = uniform(n, seed);
  return Int32Array.from(u, (v) => Math.min(classes - 1, Math.floor(v * classes)));
}

/** Parameters of a deltagrad model as plain arrays (the weights every framework starts from). */
function snapshot(model: { namedParameters(): [string, dg.Tensor][] }): Map<string, { shape: number[]; values: Float32Array }> {
  const m = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, p] of model.namedParameters()) m.set(name, { shape: p.shape.slice(), values: p.dataSync() as Float32Array });
  return m;
}

// ----- W1 matmul -----

export function matmulRunner(fw: FrameworkId, n: number): Runner {
  const av = uniform(n * n, 11, -1, 1);
  const bv = uniform(n * n, 12, -1, 1);
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const a = dg.tensor(av).reshape([n, n]);
    const b = dg.tensor(bv).reshape([n, n]);
    // The product is given back at once, as the TF.js runner below disposes its own. Dropped
    // unreleased instead, 4 MB products would pile up to the wasm memory budget (fresh pages
    // each step) and then be evicted to the JS heap: correct, but that measures the eviction.
    const mm = compiled(fw) ? dg.compile((a: dg.Tensor, b: dg.Tensor) => dg.matmul(a, b)) : dg.matmul;
    const run = () => {
      const c = mm(a, b);
      const v = c.dataSync();
      c.dispose();
      return v;
    };
    return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => [a, b].forEach((t) => t.dispose()) };
  });
  if (fw === "jax-js-wasm") {
    const a = jnp.array(av).reshape([n, n]);
    const b = jnp.array(bv).reshape([n, n]);
    const run = () => jnp.matmul(a.ref, b.ref).dataSync() as Float32Array; // dataSync frees the product
    return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => jax.tree.dispose([a, b]) };
  }
  const a = tf.tensor2d(av, [n, n]);
  const b = tf.tensor2d(bv, [n, n]);
  const run = () => {
    const c = tf.matMul(a, b);
    const v = c.dataSync() as Float32Array;
    c.dispose();
    return v;
  };
  return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => tf.dispose([a, b]) };
}

/** A deltagrad training step (zero grads, forward, softmax cross-entropy, backward, update) as a Runner. */
function dgTrainRunner(
  model: { call(x: dg.Tensor): dg.Tensor; parameters(): dg.Tensor[] },
  opt: { zeroGrad(): void; step(): void },
  x: dg.Tensor,
  y: dg.Tensor,
  compiledStep = false,
): Runner {
  const train = (x: dg.Tensor, y: dg.Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  const f = compiledStep ? dg.compile(train) : train;
  const step = () => f(x, y).itemSync();
  // Weights, gradients and data go back to wasm memory at once, as the TF.js runners dispose
  // theirs (else they stay until the memory budget evicts them, and the next workload allocates
  // around them). The optimizer's moments have no public handle; they wait for eviction.
  const dispose = () => {
    for (const p of model.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
    x.dispose();
    y.dispose();
  };
  return { step, check: () => [step(), step()], dispose };
}

/** A TF.js training step (`opt.minimize` of `lossFn`, read the loss) as a Runner that disposes `owned`. */
function tfTrainRunner(opt: tf.Optimizer, lossFn: () => tf.Scalar, owned: tf.Tensor[]): Runner {
  const step = () => {
    const loss = opt.minimize(lossFn, true)!;
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  };
  return { step, check: () => [step(), step()], dispose: () => {
      opt.dispose();
      tf.dispose(owned);
    } };
}

/**
 * A jax-js training step as a Runner: loss, gradient (`valueAndGrad`) and the update (Adam, or
 * SGD when `adam` is false) form one `jit`-compiled function of the parameters, the optimizer
 * state and the data. It consumes the arrays it is given (jax-js's ownership rule) and returns the
 * new parameters and state, which replace the old; `dispose` frees what is left.
 */
function jaxTrainRunner(lossFn: (p: jax.Array[], x: jax.Array, y: jax.Array) => jax.Array, params: jax.Array[], x: jax.Array, y: jax.Array, opt: { adam: boolean; lr: number }): Runner {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  type State = [jax.Array[], jax.Array[], jax.Array[]]; // parameters, Adam's m and v (empty for SGD)
  let state: State = opt.adam ? [params, params.map((p) => jnp.zerosLike(p.ref)), params.map((p) => jnp.zerosLike(p.ref))] : [params, [], []];
  // stepSize = lr / (1 − β₁ᵗ) and bc2 = √(1 − β₂ᵗ) change every step, so they are arguments (as
  // arrays: a static argument would recompile each step).
  const update = jax.jit((p: jax.Array[], m: jax.Array[], v: jax.Array[], x: jax.Array, y: jax.Array, stepSize: jax.Array, bc2: jax.Array) => {
    const [loss, g] = jax.valueAndGrad(lossFn)(jax.tree.ref(p), x, y) as [jax.Array, jax.Array[]];
    const next: State = [[], [], []];
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      if (!opt.adam) {
        next[0].push(p[i]!.sub(gi.mul(stepSize.ref)));
        continue;
      }
      // PyTorch's Adam (as deltagrad's): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − stepSize · m / (√v / bc2 + eps).
      const mi = m[i]!.mul(beta1).add(gi.ref.mul(1 - beta1));
      const vi = v[i]!.mul(beta2).add(gi.ref.mul(gi).mul(1 - beta2));
      next[0].push(p[i]!.sub(mi.ref.div(jnp.sqrt(vi.ref).div(bc2.ref).add(eps)).mul(stepSize.ref)));
      next[1].push(mi);
      next[2].push(vi);
    }
    stepSize.dispose();
    bc2.dispose();
    return [loss, next] as [jax.Array, State];
  });
  let t = 0;
  const step = () => {
    t++;
    const stepSize = opt.adam ? opt.lr / (1 - beta1 ** t) : opt.lr;
    const bc2 = opt.adam ? Math.sqrt(1 - beta2 ** t) : 1;
    const [loss, next] = update(...state, x.ref, y.ref, jnp.array(stepSize), jnp.array(bc2));
    state = next;
    return loss.item(); // item() reads and frees the loss
  };
  return { step, check: () => [step(), step()], dispose: () => {
      jax.tree.dispose([...state, x, y]);
      update.dispose();
    } };
}

/** jax-js arrays holding a deltagrad snapshot's parameters, in `names` order. */
function jaxParams(init: ReturnType<typeof snapshot>, names: string[]): jax.Array[] {
  return names.map((name) => {
    const p = init.get(name)!;
    return jnp.array(p.values).reshape(p.shape);
  });
}

// ----- W2 MLP 784-784-784-10, relu, softmax cross-entropy, Adam 1e-3 -----

export function mlpRunner(fw: FrameworkId, batch: number, sizes: readonly number[] = [784, 784, 784, 10]): Runner {
  // Every framework starts from deltagrad's initialisation (seeded; the same on both backends).
  const build = () => {
    dg.manualSeed(1);
    return new MLP(sizes, { activation: "relu" });
  };
  const xv = uniform(batch * sizes[0]!, 21);
  const yv = labels(batch, sizes[sizes.length - 1]!, 22);
  const layers = sizes.length - 1;
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const model = build();
    return dgTrainRunner(model, new Adam(model.parameters(), { lr: 1e-3 }), dg.tensor(xv).reshape([batch, sizes[0]!]), dg.tensor(yv), compiled(fw));
  });
  const init = on("deltagrad-cpu", () => snapshot(build()));
  if (fw === "jax-js-wasm") {
    const names = Array.from({ length: layers }, (_, l) => [`layers.${2 * l}.weight`, `layers.${2 * l}.bias`]).flat();
    const mlp = (p: jax.Array[], x: jax.Array, y: jax.Array) => {
      let h = x;
      for (let l = 0; l < layers; l++) {
        h = jnp.matmul(h, p[2 * l]!).add(p[2 * l + 1]!);
        if (l + 1 < layers) h = jax.nn.relu(h);
      }
      return jax.nn.logSoftmax(h).mul(jax.nn.oneHot(y, sizes[layers]!)).sum(1).neg().mean();
    };
    const x = jnp.array(xv).reshape([batch, sizes[0]!]);
    const y = jnp.array(yv, { dtype: jnp.int32 });
    return jaxTrainRunner(mlp, jaxParams(init, names), x, y, { adam: true, lr: 1e-3 });
  }
  const ws: tf.Variable[] = [];
  const bs: tf.Variable[] = [];
  for (let l = 0; l < layers; l++) {
    const w = init.get(`layers.${2 * l}.weight`)!;
    const b = init.get(`layers.${2 * l}.bias`)!;
    ws.push(tf.variable(tf.tensor(w.values, w.shape)));
    bs.push(tf.variable(tf.tensor(b.values, b.shape)));
  }
  const x = tf.tensor2d(xv, [batch, sizes[0]!]);
  const y = tf.tensor1d(yv, "int32");
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return tfTrainRunner(opt, () => {
    let h: tf.Tensor = x;
    for (let l = 0; l < layers; l++) {
      h = tf.add(tf.matMul(h as tf.Tensor2D, ws[l]!), bs[l]!);
      if (l + 1 < layers) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, sizes[layers]!), h) as tf.Scalar;
  }, [...ws, ...bs, x, y]);
}

// ----- W3 LeNet-5 (conv 6@5×5 pad 2, relu, maxpool 2, conv 16@5×5, relu, maxpool 2, 400-120-84-10), SGD 0.01 -----

export function lenetRunner(fw: FrameworkId, batch: number): Runner {
  if (fw === "tfjs-wasm") throw new Unsupported("TF.js wasm 4.22 has no Conv2DBackpropFilter kernel, so a convolution cannot be trained on it");
  const build = () => {
    dg.manualSeed(2);
    return new LeNet5({ activation: "relu", pool: "max" });
  };
  const xv = uniform(batch * 28 * 28, 31);
  const yv = labels(batch, 10, 32);
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const model = build();
    return dgTrainRunner(model, new SGD(model.parameters(), { lr: 0.01 }), dg.tensor(xv).reshape([batch, 1, 28, 28]), dg.tensor(yv), compiled(fw));
  });
  const init = on("deltagrad-cpu", () => snapshot(build()));
  if (fw === "jax-js-wasm") {
    // NCHW and [K, C, F, F] filters, as deltagrad: the weights go in unchanged.
    const names = ["c1", "c3", "c5", "f6", "output"].flatMap((l) => [`${l}.weight`, `${l}.bias`]);
    const conv = (h: jax.Array, w: jax.Array, b: jax.Array, pad: number) =>
      jax.nn.relu(jax.lax.convGeneralDilated(h, w, [1, 1], [[pad, pad], [pad, pad]]).add(b.reshape([1, -1, 1, 1])));
    const pool = (h: jax.Array) => jax.lax.reduceWindow(h, jnp.max, [2, 2], [2, 2]);
    const lenet = (p: jax.Array[], x: jax.Array, y: jax.Array) => {
      let h = pool(conv(x, p[0]!, p[1]!, 2));
      h = pool(conv(h, p[2]!, p[3]!, 0));
      h = conv(h, p[4]!, p[5]!, 0).reshape([batch, 120]);
      h = jax.nn.relu(jnp.matmul(h, p[6]!).add(p[7]!));
      const logits = jnp.matmul(h, p[8]!).add(p[9]!);
      return jax.nn.logSoftmax(logits).mul(jax.nn.oneHot(y, 10)).sum(1).neg().mean();
    };
    const x = jnp.array(xv).reshape([batch, 1, 28, 28]);
    const y = jnp.array(yv, { dtype: jnp.int32 });
    return jaxTrainRunner(lenet, jaxParams(init, names), x, y, { adam: false, lr: 0.01 });
  }
  // NHWC; filters [K, C, F, F] → [F, F, C, K]. With C = 1 the input needs only a reshape.
  const filt = (name: string) => {
    const p = init.get(name)!;
    return tf.variable(tf.tidy(() => tf.transpose(tf.tensor(p.values, p.shape), [2, 3, 1, 0])));
  };
  const vec = (name: string) => {
    const p = init.get(name)!;
    return tf.variable(tf.tensor(p.values, p.shape));
  };
  const w1 = filt("c1.weight"), b1 = vec("c1.bias"), w3 = filt("c3.weight"), b3 = vec("c3.bias");
  const w5 = filt("c5.weight"), b5 = vec("c5.bias"), w6 = vec("f6.weight"), b6 = vec("f6.bias");
  const wo = vec("output.weight"), bo = vec("output.bias");
  const x = tf.tensor4d(xv, [batch, 28, 28, 1]);
  const y = tf.tensor1d(yv, "int32");
  const opt = tf.train.sgd(0.01);
  return tfTrainRunner(opt, () => {
    const conv = (h: tf.Tensor4D, w: tf.Variable, b: tf.Variable, pad: "same" | "valid") => tf.relu(tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, pad), b)) as tf.Tensor4D;
    let h = tf.maxPool(conv(x, w1, b1, "same"), 2, 2, "valid");
    h = tf.maxPool(conv(h, w3, b3, "valid"), 2, 2, "valid");
    const h5 = conv(h, w5, b5, "valid").reshape([batch, 120]) as tf.Tensor2D;
    const h6 = tf.relu(tf.add(tf.matMul(h5, w6 as tf.Tensor2D), b6)) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(h6, wo as tf.Tensor2D), bo);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits) as tf.Scalar;
  }, [w1, b1, w3, b3, w5, b5, w6, b6, wo, bo, x, y]);
}

// ----- W4 the lecture's scalar sigmoid graph: build + backward + read both gradients -----

/** Runs `once` n times (one graph each) and sums the first gradient, so no run can be skipped. */
function repeat(n: number, once: () => [number, number]): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += once()[0];
  return acc;
}

/** `iters` graphs per step (the figure reported is per graph). */
export function scalarGraphRunner(fw: FrameworkId, iters: number): Runner {
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const x = dg.tensor(1);
    const w = dg.tensor(0, { requiresGrad: true });
    const b = dg.tensor(0, { requiresGrad: true });
    const eager = (): [number, number] => {
      w.grad = null;
      b.grad = null;
      w.mul(x).add(b).neg().exp().add(1).reciprocal().backward(); // h1 … h6 of the lecture
      return [w.grad!.itemSync(), (b.grad as dg.Tensor | null)!.itemSync()];
    };
    // Compiled: the same graph and its two gradients, one generated function per replay.
    const grads = dg.compile((x: dg.Tensor, w: dg.Tensor, b: dg.Tensor) =>
      dg.grad((w: dg.Tensor, b: dg.Tensor) => w.mul(x).add(b).neg().exp().add(1).reciprocal(), { argnums: [0, 1] })(w, b) as unknown as dg.Tensor[]);
    const w0 = dg.tensor(0);
    const b0 = dg.tensor(0);
    const once = compiled(fw)
      ? (): [number, number] => {
          const [gw, gb] = grads(x, w0, b0);
          return [gw!.itemSync(), gb!.itemSync()];
        }
      : eager;
    return {
      step: () => repeat(iters, once),
      check: once,
      dispose() {},
    };
  });
  if (fw === "jax-js-wasm") {
    const x = jnp.array(1);
    const w = jnp.array(0);
    const b = jnp.array(0);
    const g = jax.grad((w: jax.Array, b: jax.Array) => jnp.reciprocal(jnp.exp(w.mul(x.ref).add(b).neg()).add(1)), { argnums: [0, 1] });
    const once = (): [number, number] => {
      const [gw, gb] = g(w.ref, b.ref) as [jax.Array, jax.Array];
      return [gw.item(), gb.item()];
    };
    // jax-js traces every eager grad (~1 ms a graph): a step runs a tenth of the graphs.
    const k = Math.max(1, Math.round(iters / 10));
    return {
      step: () => repeat(k, once),
      check: once,
      dispose: () => jax.tree.dispose([x, w, b]),
      fraction: k / iters,
    };
  }
  const x = tf.scalar(1);
  const w = tf.scalar(0);
  const b = tf.scalar(0);
  const g = tf.grads((w: tf.Tensor, b: tf.Tensor) => w.mul(x).add(b).neg().exp().add(1).reciprocal());
  const once = (): [number, number] =>
    tf.tidy(() => {
      const [gw, gb] = g([w, b]);
      return [gw!.dataSync()[0]!, gb!.dataSync()[0]!] as [number, number];
    });
  return {
    step: () => repeat(iters, once),
    check: once,
    dispose: () => tf.dispose([x, w, b]),
  };
}

// ----- W5 y = exp(x)·x + 1, forward only -----

export function elementwiseRunner(fw: FrameworkId, n: number): Runner {
  const xv = uniform(n, 51, -1, 1);
  const pick = (v: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += v[i]!;
    return [v[0]!, v[1]!, v[n >> 1]!, v[n - 1]!, sum];
  };
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const x = dg.tensor(xv).reshape([n]);
    // `scoped` gives the two temporaries and the result back at once, as TF.js's tidy/dispose
    // below. Without it the step is as correct, but a loop that drops tensors unreleased fills
    // wasm memory up to its budget and then pays for evicting the oldest to the JS heap.
    const f = dg.compile((x: dg.Tensor) => x.exp().mul(x).add(1));
    const run = compiled(fw)
      ? () => {
          const y = f(x);
          const v = y.dataSync();
          y.dispose();
          return v;
        }
      : () => dg.scoped(() => x.exp().mul(x).add(1).dataSync());
    return { step: () => run()[0]!, check: () => pick(run()), dispose() {} };
  });
  if (fw === "jax-js-wasm") {
    const x = jnp.array(xv);
    // Eager, as the other frameworks (jax-js's arrays are lazy: it may fuse the three ops itself).
    const run = () => jnp.exp(x.ref).mul(x.ref).add(1).dataSync();
    return { step: () => run()[0]!, check: () => pick(run()), dispose: () => x.dispose() };
  }
  const x = tf.tensor1d(xv);
  // tidy returns the tensor, not its values: tidy walks whatever it returns looking for tensors,
  // which for a million-element array costs ~0.5 s and would not be TF.js's cost.
  const run = () => {
    const y = tf.tidy(() => tf.exp(x).mul(x).add(1));
    const v = y.dataSync();
    y.dispose();
    return v;
  };
  return { step: () => run()[0]!, check: () => pick(run()), dispose: () => x.dispose() };
}
