/**
 * The frameworks under test: ids, activation, shared seeded inputs and the training-step runners
 * the workloads (workloads.ts) build on. Every workload builder returns a `step()` whose timed region ends with a host read (so lazy work is counted)
 * and a `check()` giving the numbers compared across frameworks (same data, same weights).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as dg from "@deltagrad/autograd";
import { crossEntropy } from "@deltagrad/nn";
import * as jax from "@jax-js/jax";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
export const jnp = jax.numpy;

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
export const compiled = (fw: FrameworkId) => fw === "deltagrad-compiled";

/**
 * Runs `f` with deltagrad's backend and thread count of column `fw` active and restores the
 * previous ones afterwards. Every deltagrad builder, step and check goes through this: the
 * default backend is wasm where SIMD exists, so a column that did not select its backend (or its
 * thread count) would silently measure another one.
 */
export function on<T>(fw: DeltagradId, f: () => T): T {
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
export function dgRunner(fw: DeltagradId, build: () => Runner): Runner {
  const r = on(fw, build);
  return { step: () => on(fw, () => r.step()), check: () => on(fw, () => r.check()), dispose: () => on(fw, () => r.dispose()), stats: r.stats };
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
  /** A compiled deltagrad step's trace and cache counters (compile-cost.ts). */
  stats?: () => dg.CompileStats;
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

export function labels(n: number, classes: number, seed: number): Int32Array {
  const u = uniform(n, seed);
  return Int32Array.from(u, (v) => Math.min(classes - 1, Math.floor(v * classes)));
}

/** Parameters of a deltagrad model as plain arrays (the weights every framework starts from). */
export function snapshot(model: { namedParameters(): [string, dg.Tensor][] }): Map<string, { shape: number[]; values: Float32Array }> {
  const m = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, p] of model.namedParameters()) m.set(name, { shape: p.shape.slice(), values: p.dataSync() as Float32Array });
  return m;
}

/** A deltagrad training step (zero grads, forward, softmax cross-entropy, backward, update) as a Runner. */
export function dgTrainRunner(
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
  const compiledTrain = compiledStep ? dg.compile(train) : null;
  const f = compiledTrain ?? train;
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
  return { step, check: () => [step(), step()], dispose, ...(compiledTrain ? { stats: () => compiledTrain.stats() } : {}) };
}

/** A TF.js training step (`opt.minimize` of `lossFn`, read the loss) as a Runner that disposes `owned`. */
export function tfTrainRunner(opt: tf.Optimizer, lossFn: () => tf.Scalar, owned: tf.Tensor[]): Runner {
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
export function jaxTrainRunner(lossFn: (p: jax.Array[], x: jax.Array, y: jax.Array) => jax.Array, params: jax.Array[], x: jax.Array, y: jax.Array, opt: { adam: boolean; lr: number }): Runner {
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
export function jaxParams(init: ReturnType<typeof snapshot>, names: string[]): jax.Array[] {
  return names.map((name) => {
    const p = init.get(name)!;
    return jnp.array(p.values).reshape(p.shape);
  });
}
