/**
 * Fused elementwise kernels, generated at compile() time (compile/fusion.ts decides what fuses).
 * A chain of float32 unary and binary ops over same-shaped operands and scalars becomes one
 * SIMD loop: each vector operand is loaded once, every intermediate stays in a register, and only
 * the values needed outside the chain are stored — one memory pass instead of one per op (an
 * Adam update is ~15 ops over every parameter: one pass). The per-lane arithmetic is the
 * unfused kernels' own (kernels.ts's `unaryOp`/`binaryOp`, rounded to float32 at every op), so a
 * fused chain gives the same bits as the kernels it replaces. A kernel runs on the calling
 * thread; each is compiled once per distinct chain and instantiated on the backend's memory.
 */
import { Code, ModuleBuilder, f32, i32, v128, type ValType } from "./emit.js";
import { binaryOp, unaryOp, UNARY_OPS, type BinaryOp, type UnaryOp } from "./kernels.js";
import { WasmBuffer } from "./buffer.js";
import { runtime } from "./runtime.js";

/** One op of a chain: `args` index the chain's operands (vectors, then scalars, then earlier steps). */
export interface FusedStep {
  op: UnaryOp | BinaryOp;
  args: number[];
}

export interface FusedSpec {
  vectors: number;
  scalars: number;
  steps: FusedStep[];
  /** Operand indices stored to outputs, in order. */
  outputs: number[];
}

export type FusedKernel = (...args: number[]) => void;

const BINARY = new Set<string>(["add", "mul", "maximum"]);

/** Whether `op` has a fused form (the float32 SIMD unary kernels and add/mul/maximum). */
export function fusible(op: string): boolean {
  return BINARY.has(op) || (UNARY_OPS as readonly string[]).includes(op);
}

const cache = new Map<string, FusedKernel>();

/** The generated kernel of `spec`: `(vecPtr…, outPtr…, scalar…, n)`. Cached by the chain's text. */
export function fusedKernel(spec: FusedSpec): FusedKernel {
  const key = JSON.stringify(spec);
  const hit = cache.get(key);
  if (hit) return hit;
  const nOut = spec.outputs.length;
  const params: ValType[] = [...Array(spec.vectors + nOut).fill(i32), ...Array(spec.scalars).fill(f32), i32];
  const build = (c: Code) => {
    const n = spec.vectors + nOut + spec.scalars;
    const i = c.local(i32);
    const n4 = c.local(i32);
    const vals = Array.from({ length: spec.vectors + spec.scalars + spec.steps.length }, () => c.local(v128));
    for (let s = 0; s < spec.scalars; s++) c.get(spec.vectors + nOut + s).f32x4Splat().set(vals[spec.vectors + s]!);
    c.get(n).i32Const(-4).i32And().set(n4);
    const body = (lane: boolean) => {
      for (let k = 0; k < spec.vectors; k++) {
        c.get(k).get(i).i32Const(2).i32Shl().i32Add();
        if (lane) c.v128Load32Zero();
        else c.v128Load();
        c.set(vals[k]!);
      }
      spec.steps.forEach((st, j) => {
        if (BINARY.has(st.op)) binaryOp(c, st.op as BinaryOp, vals[st.args[0]!]!, vals[st.args[1]!]!);
        else unaryOp(c, st.op as UnaryOp, vals[st.args[0]!]!);
        c.set(vals[spec.vectors + spec.scalars + j]!);
      });
      spec.outputs.forEach((ref, o) => {
        c.get(spec.vectors + o).get(i).i32Const(2).i32Shl().i32Add().get(vals[ref]!);
        if (lane) c.v128Store32Lane(0);
        else c.v128Store();
      });
    };
    c.for(i, () => c.i32Const(0), () => c.get(n4), 4, () => body(false));
    c.for(i, () => c.get(n4), () => c.get(n), 1, () => body(true));
  };
  const rt = runtime();
  const m = new ModuleBuilder(rt.heap.shared ? { sharedMaxPages: 65536 } : {});
  m.func("fused", params, [], build);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { env: { mem: rt.heap.memory } });
  const k = inst.exports.fused as FusedKernel;
  cache.set(key, k);
  return k;
}

/**
 * Runs a fused kernel over `n` elements: `vectors` are wasm-resident buffers (the caller checked
 * {@link residentBuffers}), `scalars` plain numbers; returns the new output buffers (unretained,
 * as every kernel's result).
 */
export function runFused(k: FusedKernel, vectors: readonly unknown[], scalars: readonly number[], nOut: number, n: number): WasmBuffer[] {
  const heap = runtime().heap;
  heap.nextEpoch();
  const args: number[] = [];
  for (let i = 0; i < vectors.length; i++) args.push(heap.pinResident(vectors[i] as WasmBuffer));
  const outs: WasmBuffer[] = [];
  for (let o = 0; o < nOut; o++) outs.push(heap.buffer(n * 4));
  for (const b of outs) args.push(b.ptr);
  for (const s of scalars) args.push(s);
  args.push(n);
  k(...args);
  return outs;
}

/** Whether every handle is a plain wasm buffer (not a host array or a lazy transposed view). */
export function residentBuffers(handles: readonly unknown[]): boolean {
  for (let i = 0; i < handles.length; i++) if (!(handles[i] instanceof WasmBuffer)) return false;
  return true;
}
