/**
 * compile(fn): trace once per signature, replay afterwards (docs/compile.md has the rules).
 */
import { getBackend, type Backend } from "../backend.js";
import { enableGrad, isGradEnabled, noGrad } from "../engine.js";
import { gradients } from "../autograd.js";
import { customVjp } from "../ops/custom-vjp.js";
import { DeltagradError } from "../errors.js";
import { describe } from "../shape.js";
import { Tensor } from "../tensor.js";
import { getNumThreads } from "../wasm/threads.js";
import { captureHost } from "./host.js";
import { isTracing } from "./trace.js";
import { disposePlan, plan, releaseKept, run, wrap, type Plan } from "./plan.js";
import { activeRecorder, recordWith, Recorder, type HostStep, type Recording } from "./record.js";
import { currentGrad } from "./record.js";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Signatures kept (least recently used dropped first). Default 8. */
  maxCacheSize?: number;
  /** The name used in errors and warnings (default: the function's name). */
  name?: string;
}

/** What {@link CompiledFunction.stats} reports. */
export interface CompileStats {
  /** Calls so far. */
  calls: number;
  /** Calls that traced (a new signature, or a guard that failed: `.grad` set/unset, new optimizer state). */
  traces: number;
  /** Calls that replayed a cached trace (inside grad/vjp: the forward replayed, the VJP rematerialized). */
  hits: number;
  /** Calls that ran the function eagerly (its result requires grad, so a caller differentiates it; or an asynchronous backend). */
  eagerCalls: number;
  /** Milliseconds spent tracing and planning, in total (tracing runs the function once, eagerly). */
  compileMs: number;
  /** Of those, milliseconds spent planning: dead code, liveness, fusion, code generation. */
  planMs: number;
  /** Signatures cached now. */
  cacheSize: number;
  /** The last plan: primitives recorded, and kernels its replay runs (after dead-code elimination and fusion). */
  recordedOps: number;
  kernels: number;
  /** The last plan's fused kernels (wasm: elementwise runs as one generated SIMD loop) and the ops inside them. */
  fusedKernels: number;
  fusedOps: number;
  /** Whether the last plan is a scalar graph replayed as one generated function (compile/scalar.ts). */
  singleFunction: boolean;
}

/** A compiled function: `fn`'s signature plus statistics. */
export interface CompiledFunction<A extends unknown[], R> {
  (...args: A): R;
  /** Trace and cache counters. */
  stats(): CompileStats;
  /** The kernel schedule of the most recent trace, one line per kernel (`v12 = matmul(v3, v7)`). */
  describe(): string;
  /** Drops every cached trace (the next call traces again). */
  clear(): void;
}

type Shape = { k: "t"; id: number } | { k: "a"; items: Shape[] } | { k: "o"; keys: string[]; items: Shape[] } | { k: "v"; value: unknown };

/** What a call must match to reuse an entry without building its key. */
interface Signature {
  backend: Backend;
  threads: number;
  grad: boolean;
  /** Per argument: a tensor's shape, dtype, requiresGrad and backend, or a plain value. */
  args: ({ tensor: true; shape: readonly number[]; dtype: string; rg: boolean; backend: Backend } | { tensor: false; value: unknown })[];
}

function signatureOf(args: readonly unknown[], backend: Backend): Signature {
  return {
    backend,
    threads: backend.name === "wasm" ? getNumThreads() : 0,
    grad: isGradEnabled(),
    args: args.map((a) => (a instanceof Tensor ? { tensor: true, shape: a.shape.slice(), dtype: a.dtype, rg: a.requiresGrad, backend: a.backend } : { tensor: false, value: a })),
  };
}

function sameSignature(s: Signature, args: readonly unknown[], backend: Backend): boolean {
  if (s.backend !== backend || args.length !== s.args.length || s.grad !== isGradEnabled()) return false;
  if (s.threads !== (backend.name === "wasm" ? getNumThreads() : 0)) return false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const x = s.args[i]!;
    if (!x.tensor) {
      if (a instanceof Tensor || !Object.is(a, x.value)) return false;
      continue;
    }
    if (!(a instanceof Tensor) || a.dtype !== x.dtype || a.requiresGrad !== x.rg || a.backend !== x.backend) return false;
    const sh = a.shape;
    if (sh.length !== x.shape.length) return false;
    for (let d = 0; d < sh.length; d++) if (sh[d] !== x.shape[d]) return false;
  }
  return true;
}

const NO_STEPS: HostStep[] = [];

interface Entry {
  sig: Signature;
  /** Indices of the tensor arguments (the recording's inputs, in order). */
  tensorArgs: number[];
  guards: { gradOf: Tensor[]; gradArg: number[]; entryNull: boolean[]; live: Tensor[] };
  eager: boolean;
  /**
   * The result is differentiated by the caller (inside grad/vjp) and the function is pure in its
   * tensor arguments: calls replay the forward (traced again under noGrad) as a customVjp whose
   * VJP re-runs the function eagerly (rematerialization) and pulls the cotangent back.
   */
  remat: boolean;
  rec: Recording | null;
  plan: Plan | null;
  result: Shape;
  /** Current values of the host regions' scalars, by value id. */
  scalarVals: Map<number, number>;
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

function argKey(a: unknown, i: number, name: string): string {
  if (a instanceof Tensor) return `T${a.shape.join("x")}:${a.dtype}:${a.requiresGrad ? 1 : 0}:${a.backend.name}`;
  if (a === undefined) return "u";
  if (a === null || typeof a === "number" || typeof a === "string" || typeof a === "boolean") return `V${JSON.stringify(a)}`;
  throw new DeltagradError(`${name}: argument ${i} is ${describe(a)}; a compiled function takes tensors, numbers, strings and booleans (other values: capture them in the function)`);
}

/**
 * Compiles `fn`: the first call with a given signature (argument shapes, dtypes, which require
 * grad, the values of non-tensor arguments, the backend, the thread count) runs `fn` once while
 * recording every primitive and side effect; later calls replay that record without running
 * `fn` — no graph bookkeeping, no per-op objects, intermediates freed at their last use.
 * `fn` may be a whole training step: forward, `backward()`, reading `.grad`, `opt.step()` and
 * `opt.zeroGrad()` (parameter and optimizer-state updates are replayed as in-place writes; the
 * optimizer's learning rate and step counts are re-read at every call). Reading a traced value on
 * the host (`itemSync`, `dataSync`, `arraySync`) inside `fn` throws; return it instead.
 *
 * @example
 * ```ts
 * const f = compile((x: Tensor) => x.mul(x).sum());
 * f(tensor([1, 2])).itemSync(); // 5 (traced)
 * f(tensor([3, 4])).itemSync(); // 25 (replayed)
 * f.stats().traces;              // 1
 * ```
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, options: CompileOptions = {}): CompiledFunction<A, R> {
  if (typeof fn !== "function") throw new DeltagradError(`compile: expected a function, got ${describe(fn)}`);
  if (options === null || typeof options !== "object") throw new DeltagradError(`compile: options must be an object, got ${describe(options)}`);
  const maxCache = options.maxCacheSize ?? 8;
  if (!Number.isInteger(maxCache) || maxCache < 1) throw new DeltagradError(`compile: maxCacheSize must be a positive integer, got ${describe(maxCache)}`);
  const name = `compile(${options.name ?? (fn.name || "fn")})`;
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { calls: 0, traces: 0, hits: 0, eagerCalls: 0, compileMs: 0, planMs: 0, cacheSize: 0, recordedOps: 0, kernels: 0, fusedKernels: 0, fusedOps: 0, singleFunction: false };
  let lastPlan: Plan | null = null;
  /** What describe() says instead of a plan: before any trace, or when the last one made state (not planned). */
  let unplanned = "(not traced yet)";

  const drop = (key: string) => {
    const e = cache.get(key);
    if (e === lastEntry) lastEntry = null;
    if (e?.plan) disposePlan(e.plan);
    cache.delete(key);
  };

  const traceCall = (key: string, args: A): R => {
    const t0 = now();
    if (!getBackend().synchronous) {
      // Recording copies constants' values on the host: an asynchronous backend (webgpu) runs eagerly.
      cache.set(key, { sig: signatureOf(args, getBackend()), tensorArgs: [], guards: { gradOf: [], gradArg: [], entryNull: [], live: [] }, eager: true, remat: false, rec: null, plan: null, result: { k: "v", value: undefined }, scalarVals: new Map() });
      stats.eagerCalls++;
      return fn(...args);
    }
    const tensors = args.filter((a): a is Tensor => a instanceof Tensor);
    const rec = new Recorder(name, tensors);
    const result = recordWith(rec, () => fn(...args));
    const t1 = now();
    const outs: number[] = [];
    let needsGraph = false;
    const shapeOf = (r: unknown): Shape => {
      if (r instanceof Tensor) {
        // A result whose graph is still there is differentiated by the caller: the replay could not.
        if (r.requiresGrad && r.node !== null && !r.node.freed && isGradEnabled()) needsGraph = true;
        const id = rec.valueOf(r);
        outs.push(id);
        return { k: "t", id };
      }
      if (Array.isArray(r)) return { k: "a", items: r.map(shapeOf) };
      if (r !== null && typeof r === "object" && Object.getPrototypeOf(r) === Object.prototype) {
        const keys = Object.keys(r);
        return { k: "o", keys, items: keys.map((k) => shapeOf((r as Record<string, unknown>)[k])) };
      }
      return { k: "v", value: r };
    };
    const shape = shapeOf(result);
    const recording = rec.finish();
    const backend = getBackend();
    const foreign = recording.values.some((v) => (v.kind === "live" || v.kind === "input") && (v.tensor ?? tensors[v.index]!).backend !== backend);
    const eager = needsGraph || foreign;
    // A trace whose host regions made state (an optimizer's first step creates its moments)
    // cannot replay: the next call fails the same check and traces again. So it is not planned
    // or cached — planning it was most of a first compiled training step's extra cost. (An
    // eager entry is cached as before: its next call runs fn, whatever its regions did.)
    const stale = !eager && recording.hosts.some((h) => captureHost(h) === null);
    const grads = [...recording.grads.entries()];
    const entry: Entry = {
      sig: signatureOf(args, backend),
      tensorArgs: args.flatMap((a, i) => (a instanceof Tensor ? [i] : [])),
      guards: {
        gradOf: grads.map(([t]) => t),
        gradArg: grads.map(([, g]) => (g.arg >= 0 ? args.findIndex((a) => a === tensors[g.arg]) : -1)),
        entryNull: grads.map(([, g]) => g.entryNull),
        live: recording.values.filter((v) => v.kind === "live").map((v) => v.tensor!),
      },
      eager,
      remat: needsGraph && !foreign && pureInArgs(args, shape, recording),
      rec: recording,
      plan: null,
      result: shape,
      scalarVals: new Map(),
    };
    if (stale) unplanned = "(not planned yet: the last trace made state, such as an optimizer's moments, so the next call traces again)";
    else if (!eager) {
      entry.plan = plan(recording, outs, backend);
      for (const h of recording.hosts) for (const id of h.scalars) entry.scalarVals.set(id, recording.values[id]!.data![0]!);
      lastPlan = entry.plan;
      unplanned = "";
      stats.recordedOps = entry.plan.recorded;
      stats.kernels = entry.plan.steps.length;
      stats.fusedKernels = entry.plan.steps.filter((st) => st.group !== null).length;
      stats.fusedOps = entry.plan.steps.reduce((a, st) => a + (st.group !== null ? st.nodes.length : 0), 0);
      stats.singleFunction = entry.plan.scalar !== null;
    }
    if (!stale) {
      if (cache.size >= maxCache) drop(cache.keys().next().value!);
      cache.set(key, entry);
    }
    stats.traces++;
    stats.cacheSize = cache.size;
    stats.compileMs += now() - t0;
    stats.planMs += now() - t1;
    return result;
  };

  const replay = (e: Entry, args: A, steps: HostStep[]): R => {
    const p = e.plan!;
    const rec = e.rec!;
    // The host regions' scalars (lr, bias corrections) for this call.
    if (rec.hosts.length > 0) rec.hosts.forEach((h, i) => {
      const vals = steps[i]!.scalars;
      h.scalars.forEach((id, k) => {
        const v = vals[k]!;
        if (e.scalarVals.get(id) === v) return;
        const old = p.consts[id]!;
        p.consts[id] = new Tensor(p.backend.fill(old.dtype, 1, v), old.shape, old.dtype, p.backend);
        old.dispose();
        e.scalarVals.set(id, v);
      });
    });
    const tensors = e.tensorArgs.length === args.length ? (args as unknown as Tensor[]) : e.tensorArgs.map((i) => args[i] as Tensor);
    run(p, tensors, null);
    const result = buildResult(p, e.result) as R;
    if (rec.writes.size > 0) for (const [t, id] of rec.writes) {
      const w = wrap(p, id);
      const k = rec.inputs.indexOf(t);
      (k >= 0 ? tensors[k]! : t).assign(w);
      w.dispose();
    }
    if (rec.grads.size > 0) for (const [t, g] of rec.grads) {
      if (g.final === -1) continue;
      (g.arg >= 0 ? tensors[g.arg]! : t)._setGrad(g.final === null ? null : wrap(p, g.final));
    }
    releaseKept(p);
    for (const s of steps) s.commit();
    return result;
  };

  // Forward: this compiled function under noGrad (its own signature, replayed); VJP: eager vjp of fn.
  const rematerialized = customVjp(
    (...xs: Tensor[]) => noGrad(() => compiled(...(xs as unknown as A))) as unknown as Tensor,
    (g: Tensor, xs: Tensor[]) => {
      // On the inputs themselves, so that under createGraph the VJP is on the caller's graph (second order).
      const create = isGradEnabled();
      const y = enableGrad(() => fn(...(xs as unknown as A))) as unknown as Tensor;
      const need = xs.filter((x) => x.requiresGrad);
      const gs = gradients(y, need, g, { createGraph: create });
      return xs.map((x) => (x.requiresGrad ? gs[need.indexOf(x)]! : null));
    },
  );

  /** The guards of a cached trace: `.grad`s null exactly where they were, live tensors not disposed. */
  const guardsHold = (e: Entry, args: A): boolean => {
    const g = e.guards;
    for (let i = 0; i < g.gradOf.length; i++) {
      const k = g.gradArg[i]!;
      const t = k >= 0 ? (args[k] as Tensor) : g.gradOf[i]!;
      if ((currentGrad(t) === null) !== g.entryNull[i]) return false;
    }
    for (let i = 0; i < g.live.length; i++) if (g.live[i]!.isDisposed) return false;
    return true;
  };

  /** The entry of the previous call: checked field by field before any key string is built. */
  let lastKey: string | null = null;
  let lastEntry: Entry | null = null;

  const compiled = (...args: A): R => {
    stats.calls++;
    if (activeRecorder() !== null || isTracing()) return fn(...args); // inside another trace (compile, ONNX export): record inline
    const backend = getBackend();
    let key: string;
    let e: Entry | undefined;
    if (lastEntry !== null && sameSignature(lastEntry.sig, args, backend)) {
      key = lastKey!;
      e = lastEntry;
    } else {
      key = `${backend.name}|${backend.name === "wasm" ? getNumThreads() : 0}|${isGradEnabled() ? 1 : 0}|${args.map((a, i) => argKey(a, i, name)).join(",")}`;
      e = cache.get(key);
      if (e !== undefined) {
        cache.delete(key);
        cache.set(key, e); // most recently used last
      }
    }
    if (e !== undefined) {
      lastKey = key;
      lastEntry = e;
      if (e.remat) {
        stats.hits++;
        return rematerialized(...(args as unknown as Tensor[])) as R;
      }
      if (e.eager) {
        stats.eagerCalls++;
        return fn(...args);
      }
      if (guardsHold(e, args)) {
        const hosts = e.rec!.hosts;
        const steps: HostStep[] = hosts.length === 0 ? NO_STEPS : [];
        let ok = true;
        for (let i = 0; i < hosts.length; i++) {
          const st = captureHost(hosts[i]!);
          if (st === null) {
            ok = false;
            break;
          }
          steps.push(st);
        }
        if (ok) {
          stats.hits++;
          return replay(e, args, steps);
        }
      }
      drop(key);
    }
    lastEntry = null;
    const r = traceCall(key, args);
    lastKey = key;
    lastEntry = cache.get(key) ?? null;
    return r;
  };
  return Object.assign(compiled, {
    stats: (): CompileStats => ({ ...stats, cacheSize: cache.size }),
    describe: (): string => (lastPlan === null || unplanned !== "" ? unplanned : describePlan(lastPlan)),
    clear: (): void => {
      for (const k of [...cache.keys()]) drop(k);
      stats.cacheSize = 0;
    },
  });
}

/**
 * Whether a differentiated call can replay its forward and rematerialize its VJP: every argument
 * a tensor, one tensor result, and nothing but the arguments to differentiate (no parameter that
 * requires grad read by reference, no side effect, no random draw a re-run would redraw).
 */
function pureInArgs(args: readonly unknown[], result: Shape, rec: Recording): boolean {
  if (result.k !== "t" || !args.every((a) => a instanceof Tensor)) return false;
  if (rec.writes.size > 0 || rec.hosts.length > 0 || rec.randoms.length > 0) return false;
  for (const [, g] of rec.grads) if (g.final !== -1) return false;
  return rec.values.every((v) => v.kind !== "live" || !v.tensor!.requiresGrad);
}

/** The function's result structure over the replayed values (new tensors). */
function buildResult(p: Plan, s: Shape): unknown {
  if (s.k === "t") return wrap(p, s.id);
  if (s.k === "a") {
    const out = new Array(s.items.length);
    for (let i = 0; i < out.length; i++) out[i] = buildResult(p, s.items[i]!);
    return out;
  }
  if (s.k === "o") return Object.fromEntries(s.keys.map((k, i) => [k, buildResult(p, s.items[i]!)]));
  return s.value;
}

/** One line per kernel of a plan. @example `describePlan(plan).split("\n")[0]; // "114 kernels (156 ops recorded, …)"` */
export function describePlan(p: Plan): string {
  const name = (id: number) => {
    const v = p.values[id]!;
    return v.kind === "op" ? `v${id}` : `${v.kind}${id}`;
  };
  const shape = (id: number) => p.values[id]!.shape.join("×") || "scalar";
  const line = (op: string, ins: readonly number[], out: number) => `${name(out)} = ${op}(${ins.map(name).join(", ")}) [${shape(out)}]`;
  if (p.scalar !== null) {
    const ops = p.steps.map((st) => "  " + line(st.names[0]!, st.inputIds, st.outIds[0]!));
    return [`one generated function (${ops.length} scalar ops, no kernel calls):`, ...ops].join("\n");
  }
  const fused = p.steps.filter((st) => st.group !== null);
  const head = `${p.steps.length} kernels (${p.recorded} ops recorded, ${p.kernels} after dead-code elimination; ${fused.length} fused kernels doing ${fused.reduce((a, st) => a + st.nodes.length, 0)} ops):`;
  const lines = p.steps.map((st, k) => {
    if (st.joint?.kind === "epilogue") {
      const inner = st.nodes.map((n, j) => `      ${line(st.names[j]!, n.inputIds, n.out)}`);
      return [`  fused#${k} (a product and ${st.nodes.length - 1} ops over it, one thread job: each column block of ${shape(st.nodes[0]!.out)} then the ops on it) → ${st.outIds.map(name).join(", ")}:`, ...inner].join("\n");
    }
    if (st.joint !== null && st.joint.kind !== "maxUnpool") {
      const kind = st.joint.kind;
      const what = kind === "maxPool" ? "max pooling: indices and values in one pass" : kind === "matmulFold" ? "a product folded into images, one thread job" : `${st.nodes.length} matmuls, one thread job`;
      return [`  joint#${k} (${what}):`, ...st.nodes.map((n, j) => `      ${line(st.names[j]!, n.inputIds, n.out)}`)].join("\n");
    }
    if (st.group === null) return "  " + line(st.names[0]!, st.inputIds, st.outIds[0]!);
    const inner = st.nodes.map((n, j) => `      ${line(st.names[j]!, n.inputIds, n.out)}`);
    const red = st.group.reduced;
    const over = red === null ? shape(st.outIds[0]!) : `${shape(red.input)}, its ${red.op} in the same pass`;
    return [`  fused#${k} (${st.nodes.length} ops, one pass over ${over}) → ${st.outIds.map(name).join(", ")}:`, ...inner].join("\n");
  });
  return [head, ...lines].join("\n");
}
