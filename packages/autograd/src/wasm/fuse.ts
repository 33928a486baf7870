/**
 * Fused elementwise kernels, generated at compile() time (compile/fusion.ts decides what fuses).
 * A chain of float32 unary and binary ops over same-shaped operands and scalars becomes one
 * SIMD loop: each vector operand is loaded once, every intermediate stays in a register, and only
 * the values needed outside the chain are stored — one memory pass instead of one per op (an
 * Adam update is ~15 ops over every parameter: one pass). The per-lane arithmetic is the
 * unfused kernels' own (kernels.ts's `unaryOp`/`binaryOp`, rounded to float32 at every op), so a
 * fused chain gives the same bits as the kernels it replaces. Each is compiled once per distinct
 * chain and instantiated on the backend's memory; a large run is split over the worker threads
 * (which instantiate the same module from its bytes, see threads.ts's `registerKernel`).
 */
import { BINARY_KERNELS, COMPARE_KERNELS } from "../backend.js";
import { Code, ModuleBuilder, f32, f64, i32, i32Params, v128 } from "./emit.js";
import { binaryOp, compareOp, unaryOp, UNARY_OPS, type BinaryOp, type CompareOp, type UnaryOp } from "./kernels.js";
import { maxLane, sumLane, sumPairs, sumVector } from "./kernels/reduce.js";
import { SMALL_BYTES, WasmBuffer } from "./buffer.js";
import { runtime } from "./runtime.js";
import { getNumThreads, pooled, runKernelTasks } from "./threads.js";

/**
 * One op of a chain: `args` index the chain's operands (vectors, then scalars, then earlier
 * steps). Besides the unary and binary float ops: `cmp:<op>` (a float comparison, giving a lane
 * mask), `where` (mask, x, y), `toBool` (x ≠ 0 and not NaN, a mask) and `fromBool` (mask → 1.0/0.0).
 */
export interface FusedStep {
  op: string;
  args: number[];
}

export interface FusedSpec {
  /**
   * Per vector operand: "f" float32 or "b" bool bytes, "r" appended for a row broadcast along the
   * leading axes; "c:K", one float32 per channel, row r taking value r mod K; or "ft:A:B", float32
   * rows read in another order — row r of the run is row (r mod A)·B + ⌊r / A⌋ of the operand (a
   * permute that swaps two leading axes, read in place instead of copied first).
   */
  vectors: string[];
  scalars: number;
  steps: FusedStep[];
  /**
   * Operand indices stored to outputs, in order, and their kinds ("f" float32, "b" bool bytes, or
   * "ft:A:B": float32 with row r of the run stored as row (r mod A)·B + ⌊r / A⌋, a following
   * permute written in place).
   */
  outputs: number[];
  outKinds: string[];
  /**
   * A reduction of value `of` over each row of the run, stored as one float per row after the
   * outputs: "sum" in sumRows' order (float64 pairs, then the row's tail one by one) or "max" by
   * maxRows' rule, element by element — so a chain and the sum or max that consumes it give the
   * bits of the chain stored and then reduced, without storing it. A run with a reduction is
   * split by rows only.
   */
  reduce?: { op: "sum" | "max"; of: number };
}

/**
 * A generated kernel: `fused(args, r0, r1, j0, j1)` computes rows [r0, r1) × columns [j0, j1)
 * of a run over rows × m elements, its operand pointers, scalars and m read from the argument
 * block at `args` (i32 pointers, f32 scalars, i32 m). The same function is a thread-pool task
 * (threads.ts's {@link registerKernel}): each task a block of rows or of columns.
 */
export interface FusedKernel {
  readonly fn: (args: number, r0: number, r1: number, j0: number, j1: number, scratch: number) => void;
  readonly bytes: Uint8Array;
  /** Its argument block (persistent: a replay writes it, no allocation). */
  readonly args: number;
  readonly nPtrs: number;
  readonly nScalars: number;
  /** The thread pool's function id, once registered (-1: not yet). */
  id: number;
  /** Ops per element (the work estimate that decides whether threads are woken). */
  readonly ops: number;
  /** Whether it reduces each row (see {@link FusedSpec.reduce}): then only whole rows make a task. */
  readonly reduces: boolean;
  /** Bytes of scratch each thread needs (a tiled reduction's tile), or 0. */
  readonly scratch: number;
}

const BINARY = new Set<string>(BINARY_KERNELS);
/** Ops computed by a polynomial over many constants (math.ts). */
const POLYNOMIAL = new Set(["exp", "log", "erf", "expm1", "log1p"]);

/** Whether a comparison op name fuses (all six do). @example `fusibleCompare("greater"); // true` */
export function fusibleCompare(op: string): boolean {
  return COMPARE.has(op);
}

/** Whether float op `op` has a fused form (the float32 SIMD unary kernels and add/mul/maximum). @example `fusible("exp"); // true; fusible("sin") is false (no SIMD kernel)` */
export function fusible(op: string): boolean {
  return BINARY.has(op) || (UNARY_OPS as readonly string[]).includes(op);
}

const COMPARE = new Set<string>(COMPARE_KERNELS);

const cache = new Map<string, FusedKernel>();

/** The generated kernel of `spec` (see {@link FusedKernel}). Cached by the chain's text (`key`, when the caller has it already). @example `fusedKernel({ vectors: ["f"], scalars: 1, steps: [{ op: "exp", args: [0] }, { op: "mul", args: [2, 1] }], outputs: [3], outKinds: ["f"] });` */
export function fusedKernel(spec: FusedSpec, key = JSON.stringify(spec)): FusedKernel {
  const hit = cache.get(key);
  if (hit) return hit;
  const rt = runtime();
  const mb = new ModuleBuilder(rt.heap.shared ? { sharedMaxPages: 65536 } : {});
  // (args, r0, r1, j0, j1, scratch): the thread pool appends a scratch address to every task.
  mb.func("fused", [i32, i32, i32, i32, i32, i32], [], fusedBody(spec));
  const bytes = mb.encode();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: rt.heap.memory } });
  const k: FusedKernel = { fn: inst.exports.fused as FusedKernel["fn"], bytes, ...blockOf(spec), id: -1, ops: spec.steps.length + pointersOf(spec), reduces: spec.reduce !== undefined, scratch: tiledRun(spec) ? TILE * 4 : 0 };
  cache.set(key, k);
  return k;
}

/**
 * A fused kernel run as the epilogue of a product's column blocks: `fused(args, A, aT, aRows, B,
 * bT, k, m, n, C, ldc, jc, nc, scratch)` runs the sgemm panel C[0:m, jc:jc+nc] = A·B (the kernel
 * module's `gemmPanel`, imported — the same function, so the same bits) and then the chain of
 * `spec` over those rows × columns, while they are in the thread's cache: a product's bias add
 * and activation without a second job reading the product back (no faster on the machine we
 * measured: docs/compile.md). `spec` reads the product as one of its full vectors, pointed at C;
 * it reduces nothing (a row's sum would span tasks).
 */
export interface EpilogueKernel {
  readonly fn: (args: number, A: number, aT: number, aRows: number, B: number, bT: number, k: number, m: number, n: number, C: number, ldc: number, jc: number, nc: number, scratch: number) => void;
  readonly bytes: Uint8Array;
  readonly args: number;
  readonly nPtrs: number;
  readonly nScalars: number;
  /** The thread pool's function id, once registered (-1: not yet). */
  id: number;
}

const epilogues = new Map<string, EpilogueKernel>();

/** The epilogue form of `spec` (see {@link EpilogueKernel}); it must not reduce. @example `epilogueKernel({ vectors: ["f", "fr"], scalars: 0, steps: [{ op: "add", args: [0, 1] }], outputs: [2], outKinds: ["f"] });` */
export function epilogueKernel(spec: FusedSpec): EpilogueKernel {
  if (spec.reduce !== undefined) throw new Error("epilogueKernel: a chain that reduces its rows cannot be split into column blocks");
  const key = JSON.stringify(spec);
  const hit = epilogues.get(key);
  if (hit) return hit;
  const rt = runtime();
  const mb = new ModuleBuilder(rt.heap.shared ? { sharedMaxPages: 65536 } : {});
  mb.importFunc("k", "gemmPanel", i32Params(13), []);
  mb.func("chain", [i32, i32, i32, i32, i32, i32], [], fusedBody(spec), false);
  mb.func("fused", i32Params(14), [], (c) => {
    for (let p = 1; p <= 13; p++) c.get(p);
    c.call(mb.indexOf("gemmPanel"));
    // chain(args, 0, m, jc, jc + nc, 0)
    c.get(0).i32Const(0).get(7).get(11).get(11).get(12).i32Add().i32Const(0).call(mb.indexOf("chain"));
  });
  const bytes = mb.encode();
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: rt.heap.memory }, k: { gemmPanel: rt.k.gemmPanel } });
  const k: EpilogueKernel = { fn: inst.exports.fused as EpilogueKernel["fn"], bytes, ...blockOf(spec), id: -1 };
  epilogues.set(key, k);
  return k;
}

/** Pointers a kernel of `spec` reads from its argument block: vectors, outputs, the reduction's. */
const pointersOf = (spec: FusedSpec) => spec.vectors.length + spec.outputs.length + (spec.reduce ? 1 : 0);

/** A kernel's argument block (persistent: a replay writes it, no allocation) and its layout. */
function blockOf(spec: FusedSpec): { args: number; nPtrs: number; nScalars: number } {
  const nPtrs = pointersOf(spec);
  return { args: runtime().heap.alloc(4 * (nPtrs + spec.scalars + 1)), nPtrs, nScalars: spec.scalars };
}

/**
 * A run with a polynomial op reduces its values a tile at a time: accumulated in the same loop
 * (two float64 adds and a shuffle a vector) the polynomial's constants no longer fit in the
 * registers, and exp(x − m)'s row sums took 1.43 ms where storing e and summing it took 1.30;
 * tiled 1.27. A light run (x·x) accumulates in the loop: 0.19 ms, tiled 0.28.
 */
const tiledRun = (spec: FusedSpec) => spec.reduce !== undefined && spec.steps.some((st) => POLYNOMIAL.has(st.op));

/** The body of `fused(args, r0, r1, j0, j1, scratch)` for `spec` (see {@link FusedKernel}). */
function fusedBody(spec: FusedSpec): (c: Code) => void {
  const nOut = spec.outputs.length;
  const nVec = spec.vectors.length;
  const red = spec.reduce;
  const nPtrs = pointersOf(spec);
  const tiled = tiledRun(spec);
  return (c: Code) => {
    const [args, r0, r1, j0, j1, scratch] = [0, 1, 2, 3, 4, 5];
    // Operand pointers (vectors, then outputs) and m, from the argument block.
    const ptr = Array.from({ length: nPtrs }, (_, k) => {
      const l = c.local(i32);
      c.get(args).i32Load(4 * k).set(l);
      return l;
    });
    const m = c.local(i32);
    c.get(args).i32Load(4 * (nPtrs + spec.scalars)).set(m);
    const r = c.local(i32);
    const j = c.local(i32);
    const e = c.local(i32); // r·m + j: the element index of full operands and outputs
    const j4 = c.local(i32); // j0 + the multiple of 4 below j1 − j0: where the vector loop stops
    const res = c.local(v128);
    const vals = Array.from({ length: nVec + spec.scalars + spec.steps.length }, () => c.local(v128));
    // Rows read or written in another order ("ft:A:B" operands and outputs): the row's address, set per row.
    const kinds = [...spec.vectors, ...spec.outKinds];
    const rowAt = kinds.map((kind) => (kind.startsWith("ft:") ? c.local(i32) : -1));
    for (let k = 0; k < spec.scalars; k++) c.get(args).v128Load32Splat(4 * (nPtrs + k)).set(vals[nVec + k]!);
    c.get(j1).get(j0).i32Sub().i32Const(-4).i32And().get(j0).i32Add().set(j4);
    const body = (lane: boolean) => {
      c.get(r).get(m).i32Mul().get(j).i32Add().set(e);
      spec.vectors.forEach((kind, k) => {
        if (kind.startsWith("c:")) return; // splatted once per row
        const idx = kind.includes("r") ? j : e;
        if (kind.startsWith("f")) {
          if (rowAt[k]! >= 0) c.get(rowAt[k]!).get(j).i32Const(2).i32Shl().i32Add();
          else c.get(ptr[k]!).get(idx).i32Const(2).i32Shl().i32Add();
          if (lane) c.v128Load32Zero();
          else c.v128Load();
        } else {
          c.get(ptr[k]!).get(idx).i32Add();
          if (lane) c.i32Load8U().i32x4Splat();
          else c.v128Load32Zero().i16x8ExtendLowI8x16U().i32x4ExtendLowI16x8U();
          c.v128Zero().i32x4Ne();
        }
        c.set(vals[k]!);
      });
      spec.steps.forEach((st, q) => {
        const [x, y, z] = st.args.map((a) => vals[a]!);
        if (BINARY.has(st.op)) binaryOp(c, st.op as BinaryOp, x!, y!);
        else if (st.op.startsWith("cmp:")) compareOp(c, st.op.slice(4) as CompareOp, x!, y!, false);
        else if (st.op === "where") c.get(y!).get(z!).get(x!).v128Bitselect();
        else if (st.op === "toBool") c.get(x!).v128Zero().f32x4Ne().get(x!).get(x!).f32x4Eq().v128And();
        else if (st.op === "fromBool") c.f32x4Const(1).get(x!).v128And();
        else unaryOp(c, st.op as UnaryOp, x!);
        c.set(vals[nVec + spec.scalars + q]!);
      });
      spec.outputs.forEach((ref, o) => {
        if (spec.outKinds[o] !== "b") {
          if (rowAt[nVec + o]! >= 0) c.get(rowAt[nVec + o]!).get(j).i32Const(2).i32Shl().i32Add().get(vals[ref]!);
          else c.get(ptr[nVec + o]!).get(e).i32Const(2).i32Shl().i32Add().get(vals[ref]!);
          if (lane) c.v128Store32Lane(0);
          else c.v128Store();
        } else {
          // Masks to bytes 0/1, as the compare kernels store them.
          c.get(ptr[nVec + o]!).get(e).i32Add();
          c.get(vals[ref]!).i32x4Const(1).v128And().set(res);
          if (lane) c.get(res).i32x4ExtractLane(0).i32Store8();
          else {
            c.get(res).get(res).i16x8NarrowI32x4U().set(res);
            c.get(res).get(res).i8x16NarrowI16x8U().set(res);
            c.get(res).v128Store32Lane(0);
          }
        }
      });
      // The reduced value: into the row's reduction here, or (a vector of a tiled run) into the tile.
      if (red && (lane || !tiled)) accumulate(vals[red.of]!, lane);
      else if (red) c.get(scratch).get(j).get(jt).i32Sub().i32Const(2).i32Shl().i32Add().get(vals[red.of]!).v128Store();
    };
    // The row's reduction (sumRows' and maxRows' own steps, kernels/reduce.ts), over tiles of the
    // reduced value in the thread's scratch (`jt` the tile's first column, `je` its end, `q` a
    // pointer into it).
    const [a0, a1, s, best, el, jt, je, q, qe, v] = red ? [c.local(v128), c.local(v128), c.local(f64), c.local(f32), c.local(f32), c.local(i32), c.local(i32), c.local(i32), c.local(i32), c.local(v128)] : Array<number>(10).fill(0);
    const accumulate = (v: number, lane: boolean) => {
      if (red!.op === "sum") {
        if (lane) sumLane(c, s, () => c.get(v).f32x4ExtractLane(0));
        else sumVector(c, a0, a1, v);
        return;
      }
      for (let l = 0; l < (lane ? 1 : 4); l++) {
        c.get(v).f32x4ExtractLane(l).set(el);
        maxLane(c, best, el);
      }
    };
    c.for(r, () => c.get(r0), () => c.get(r1), 1, () => {
      spec.vectors.forEach((kind, k) => {
        if (!kind.startsWith("c:")) return;
        c.get(ptr[k]!).get(r).i32Const(Number(kind.slice(2))).i32RemU().i32Const(2).i32Shl().i32Add().v128Load32Splat().set(vals[k]!);
      });
      kinds.forEach((kind, k) => {
        if (rowAt[k]! < 0) return;
        // row (r mod A)·B + ⌊r / A⌋, m floats each
        const [A, B] = kind.slice(3).split(":").map(Number) as [number, number];
        c.get(ptr[k]!).get(r).i32Const(A).i32RemU().i32Const(B).i32Mul().get(r).i32Const(A).i32DivU().i32Add();
        c.get(m).i32Mul().i32Const(2).i32Shl().i32Add().set(rowAt[k]!);
      });
      if (red?.op === "sum") c.v128Zero().set(a0).v128Zero().set(a1);
      else if (red) c.f32Const(-Infinity).set(best);
      if (!tiled) c.for(j, () => c.get(j0), () => c.get(j4), 4, () => body(false));
      else {
        // Tiles of TILE values: computed into the scratch (in L1), then reduced in order.
        c.for(jt, () => c.get(j0), () => c.get(j4), TILE, () => {
          c.get(jt).i32Const(TILE).i32Add().tee(je).get(j4).get(je).get(j4).i32LtS().select().set(je);
          c.for(j, () => c.get(jt), () => c.get(je), 4, () => body(false));
          c.get(scratch).get(je).get(jt).i32Sub().i32Const(2).i32Shl().i32Add().set(qe);
          if (red!.op === "sum") {
            c.for(q, () => c.get(scratch), () => c.get(qe), 16, () => {
              c.get(q).v128Load().set(v);
              sumVector(c, a0, a1, v);
            });
          } else {
            c.for(q, () => c.get(scratch), () => c.get(qe), 4, () => {
              c.get(q).f32Load().set(el);
              maxLane(c, best, el);
            });
          }
        });
      }
      if (red?.op === "sum") sumPairs(c, a0, a1, s);
      c.for(j, () => c.get(j4), () => c.get(j1), 1, () => body(true));
      if (red) {
        c.get(ptr[nVec + nOut]!).get(r).i32Const(2).i32Shl().i32Add();
        if (red.op === "sum") c.get(s).f32DemoteF64();
        else c.get(best);
        c.f32Store();
      }
    });
  };
}

/** Values per tile of a reduced run (16 KiB of a thread's scratch): computed, then reduced from L1. */
const TILE = 4096;

/** Elements × ops per element below which a fused kernel runs on the calling thread alone (waking a worker costs tens of µs). */
const THREAD_WORK = 1 << 20;
/** Tasks per thread (claimed one at a time, so a thread slowed by another process does not hold the others up). */
const TASKS_PER_THREAD = 4;

/**
 * Runs a fused kernel over rows × m elements: `vectors` are wasm buffers or small host arrays
 * (the caller checked {@link residentBuffers}), `scalars` plain numbers, `outBytes` each
 * output's element size; returns the new output buffers (unretained, as every kernel's result),
 * then, for a kernel that reduces its rows, the `rows` reduced values — a buffer, or a host
 * array when small, as any kernel's small result. Large runs are split over the worker threads —
 * by rows, or by columns when there are fewer rows than tasks (never for a reduction) — and
 * every element is computed by the same lane operations whichever thread takes it, so the bits
 * do not depend on the thread count.
 *
 * @example `const [y] = runFused(k, [xBuf], [2], [4], 1, n); // y = exp(x)·2`
 */
export function runFused(k: FusedKernel, vectors: readonly unknown[], scalars: readonly number[], outBytes: readonly number[], rows: number, m: number): (WasmBuffer | Float32Array)[] {
  const heap = runtime().heap;
  heap.nextEpoch();
  const temps: number[] = [];
  const temp = (bytes: number) => {
    const p = heap.alloc(bytes);
    temps.push(p, bytes);
    return p;
  };
  const { outs, reduced } = bindFused(k, k.reduces, vectors, scalars, outBytes, rows, m, temp);
  try {
    split(k, rows, m, temp);
    if (typeof reduced === "number") outs.push(heap.f32.slice(reduced >> 2, (reduced >> 2) + rows));
    else if (reduced !== null) outs.push(reduced);
  } finally {
    for (let i = 0; i < temps.length; i += 2) heap.free(temps[i]!, temps[i + 1]!);
  }
  return outs;
}

/**
 * Writes a fused kernel's argument block for one call over rows × m elements and allocates its
 * outputs: `vectors` are wasm buffers (pinned for the call), small host arrays (copied into
 * `temp` blocks) or pointers already in wasm memory; the reduced values of a kernel that
 * `reduces` go to a new buffer or (small) a `temp` block. The caller is in a fresh heap epoch.
 *
 * @example `const { outs } = bindFused(k, false, [buf], [2], [4], 1, n, temp); k.fn(k.args, 0, 1, 0, n, 0);`
 */
export function bindFused(k: { readonly args: number }, reduces: boolean, vectors: readonly unknown[], scalars: readonly number[], outBytes: readonly number[], rows: number, m: number, temp: (bytes: number) => number): { outs: (WasmBuffer | Float32Array)[]; reduced: WasmBuffer | number | null } {
  const heap = runtime().heap;
  const ptrs: number[] = [];
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i];
    if (typeof v === "number") ptrs.push(v);
    else if (v instanceof WasmBuffer) ptrs.push(heap.pinResident(v));
    else {
      // A small operand on the JS heap (a bias row, a short mask): copied in for this call.
      const a = v as Uint8Array;
      const p = temp(Math.max(a.byteLength, 4));
      heap.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
      ptrs.push(p);
    }
  }
  const outs: (WasmBuffer | Float32Array)[] = [];
  for (let o = 0; o < outBytes.length; o++) outs.push(heap.buffer(rows * m * outBytes[o]!));
  for (let o = 0; o < outs.length; o++) ptrs.push((outs[o] as WasmBuffer).ptr);
  // The reduced values: a new buffer, or (small) a block copied out by the caller.
  const reduced = !reduces ? null : rows * 4 >= SMALL_BYTES ? heap.buffer(rows * 4) : temp(rows * 4);
  if (reduced !== null) ptrs.push(typeof reduced === "number" ? reduced : reduced.ptr);
  // The argument block (views fetched after the last allocation: growing replaces the buffer).
  const i32 = heap.i32;
  const f32 = heap.f32;
  let a = k.args >> 2;
  for (let i = 0; i < ptrs.length; i++) i32[a++] = ptrs[i]!;
  for (let i = 0; i < scalars.length; i++) f32[a++] = scalars[i]!;
  i32[a] = m;
  return { outs, reduced };
}

/** One call on the calling thread, or tasks over blocks of rows (or of columns) on the pool. */
function split(k: FusedKernel, rows: number, m: number, scratch: (bytes: number) => number): void {
  const threads = getNumThreads();
  const work = rows * m * k.ops;
  const per = k.scratch;
  const alone = () => k.fn(k.args, 0, rows, 0, m, per > 0 ? scratch(per) : 0);
  if (threads === 1 || work < THREAD_WORK || (k.reduces && rows === 1) || !pooled(k)) return alone();
  const parts = TASKS_PER_THREAD * threads;
  const tasks: number[][] = [];
  if (rows >= parts || k.reduces) {
    const n = Math.min(rows, parts);
    for (let t = 0, r0 = 0; t < n; t++) {
      const r1 = Math.floor((rows * (t + 1)) / n);
      if (r1 > r0) tasks.push([k.args, r0, r1, 0, m]);
      r0 = r1;
    }
  } else {
    // Column blocks of whole cache lines (16 floats).
    const chunk = Math.ceil(Math.ceil(m / parts) / 16) * 16;
    for (let j0 = 0; j0 < m; j0 += chunk) tasks.push([k.args, 0, rows, j0, Math.min(m, j0 + chunk)]);
  }
  runKernelTasks(k.id, k.fn, tasks, per, scratch);
}

/**
 * Whether every handle is what {@link bindFused} takes: a plain wasm buffer, a host array or a
 * pointer into wasm memory (not a lazy transposed view). @example `residentBuffers([buf, new Float32Array(3)]); // true`
 */
export function residentBuffers(handles: readonly unknown[]): boolean {
  for (let i = 0; i < handles.length; i++) {
    const h = handles[i];
    if (!(h instanceof WasmBuffer) && !ArrayBuffer.isView(h) && typeof h !== "number") return false;
  }
  return true;
}
