/**
 * Elementwise drivers (unary, binary, compare, where, cast, fill, upload): the wasm kernel per
 * row, or the cpu kernel on host views when the data is small or of a dtype wasm has no kernel for.
 */
import { hostArrayOf, type BackendData, type BinaryKernel, type CompareKernel, type UnaryKernel } from "../../backend.js";
import { cpuBackend } from "../../cpu/index.js";

import { bytesPerElement, type DType, type TypedArray } from "../../dtype.js";
import { broadcastStrides, sizeOf, type Shape } from "../../shape.js";
import { UNARY_OPS, type UnaryOp } from "../kernels.js";
import { Call, adopt, isHost, large, onHost, viaCpu, view, type Data } from "../placement.js";
import { getNumThreads, runPlainTasks } from "../threads.js";
import { lazyBinary, lazyCompare, lazyUnary, lazyWhere } from "../lazy.js";
import { walk2 } from "./walk.js";

/**
 * Work from which one op is split across the threads — elements weighted by the op's cost per
 * element (1 for a binary op, a compare or where; {@link UNARY_COST} for the unary ops). Handing
 * out a job costs ~50 µs on a 2-core VM (waking a worker), so only an op that takes well over
 * that alone gains: a product of 1 M floats (0.20 → 0.18 ms), `exp` of 400 k (0.87 → 0.52 ms).
 */
const THREAD_WORK = 1 << 20;
/** Relative cost per element of the unary kernels (a binary op on float32 is 1). */
const UNARY_COST: Partial<Record<UnaryOp, number>> = { exp: 8, log: 8, erf: 8, expm1: 8, log1p: 8, sqrt: 2, reciprocal: 2 };
/** Elements per kernel call below which a walk's calls are not handed out as tasks. */
const MIN_TASK = 4096;

/**
 * Runs kernel `name` over its walk's calls on the threads: each call `[ptrs…, out, rows, inner,
 * rowStrides…]` (k inputs; pointers and row strides in bytes) becomes pieces of its rows or, for
 * one row, of its columns — whole vectors of 16 elements, so a piece's lanes are the call's
 * lanes. `inBytes[j]` is input j's element size and `vec[j]` whether it advances along a row.
 */
function threaded(name: string, f: (...a: number[]) => void, calls: number[][], k: number, inBytes: number[], vec: boolean[], outBytes: number): void {
  const want = 4 * getNumThreads();
  const tasks: number[][] = [];
  const per = Math.ceil(want / calls.length);
  for (const a of calls) {
    const rows = a[k + 1]!;
    const inner = a[k + 2]!;
    if (per <= 1 || (rows === 1 && inner < 32)) {
      tasks.push(a);
      continue;
    }
    const byRows = rows > 1;
    const len = byRows ? rows : inner;
    const step = byRows ? Math.ceil(len / per) : Math.ceil(len / per / 16) * 16;
    for (let s = 0; s < len; s += step) {
      const e = Math.min(len, s + step);
      const t = a.slice();
      for (let j = 0; j < k; j++) t[j]! += byRows ? s * a[k + 3 + j]! : vec[j] ? s * inBytes[j]! : 0;
      t[k]! += (byRows ? s * inner : s) * outBytes;
      t[byRows ? k + 1 : k + 2] = e - s;
      tasks.push(t);
    }
  }
  runPlainTasks(name, f, tasks);
}

export function unary(op: UnaryKernel, x: BackendData, dtype: DType, n: number): Data {
  // A small host operand (a scalar graph's every op, a HostScalar) takes the cpu kernel directly: its result is small too.
  if (onHost(x) && !large(dtype, n)) return cpuBackend.unary(op, x, dtype, n) as TypedArray;
  if (dtype !== "float32" || !(UNARY_OPS as readonly string[]).includes(op)) {
    return viaCpu(dtype, cpuBackend.unary, op, view(x, dtype, n), dtype, n);
  }
  const deferred = lazyUnary(op, x, n);
  if (deferred !== null) return deferred;
  const c = new Call();
  const px = c.in(x, dtype, n);
  const o = c.out(dtype, n);
  const name = `un_${op as UnaryOp}`;
  const f = c.rt.k[name as `un_${UnaryOp}`]!;
  if (n * (UNARY_COST[op as UnaryOp] ?? 1) >= THREAD_WORK && getNumThreads() > 1) threaded(name, f, [[px, o.ptr, 1, n, 0]], 1, [4], [true], 4);
  else f(px, o.ptr, 1, n, 0);
  return c.finish(o, dtype, n);
}

const mode = (innerStride: number) => (innerStride === 0 ? "s" : "v");

/** Elementwise kernels over broadcast operands (f32 in; f32 or bool out). */
function broadcastRun(name: string, ins: { d: BackendData; shape: Shape; bytes: number; dtype: DType }[], outShape: Shape, outDType: DType): Data {
  const n = sizeOf(outShape);
  const c = new Call();
  const ptrs = ins.map((a) => c.in(a.d, a.dtype, sizeOf(a.shape)));
  const o = c.out(outDType, n);
  const ob = bytesPerElement(outDType);
  const fn = c.rt.k;
  const strides = ins.map((a) => broadcastStrides(a.shape, outShape));
  if (n > 0) {
    // The walk calls the kernel once per index of the dims outside the last two (1024 times for
    // maxPool2d's [1024,1,25]·[1,4,1] mask), so the kernel, its name and the argument list are
    // set up once: the inner strides, hence the modes, are the same on every call. A large op
    // collects the calls and splits them across the threads instead.
    const k = ins.length;
    const args = new Array<number>(2 * k + 3).fill(0);
    const calls: number[][] | null = n >= THREAD_WORK && getNumThreads() > 1 ? [] : null;
    let kernel: ((...a: number[]) => void) | undefined;
    let full = "";
    let vec: boolean[] = [];
    walk2(outShape, strides, (offs, rows, inner, rowS, inS) => {
      if (kernel === undefined) {
        full = `${name}_${inS.slice(0, k).map(mode).join("")}`;
        vec = inS.slice(0, k).map((s) => s !== 0);
        kernel = fn[full]!;
        for (let j = 0; j < k; j++) args[k + 3 + j] = rowS[j]! * ins[j]!.bytes;
        args[k + 1] = rows;
        args[k + 2] = inner;
      }
      for (let j = 0; j < k; j++) args[j] = ptrs[j]! + offs[j]! * ins[j]!.bytes;
      args[k] = o.ptr + offs[k]! * ob;
      if (calls) calls.push(args.slice());
      else kernel(...args);
    });
    if (calls && kernel) {
      // Many small calls (a broadcast walk over 1024 tiny planes): a task per call would cost
      // more to hand out than it computes, so those stay on this thread.
      if (n / calls.length >= MIN_TASK) threaded(full, kernel, calls, k, ins.map((a) => a.bytes), vec, ob);
      else for (const a of calls) kernel(...a);
    }
  }
  return c.finish(o, outDType, n);
}

/** Whether an elementwise op runs in wasm: float32 with a large output or an operand in wasm memory. */
function wasmEligible(dtype: DType, outShape: Shape, x: BackendData, y: BackendData, z: BackendData = x): boolean {
  return dtype === "float32" && (!isHost(x) || !isHost(y) || !isHost(z) || large(dtype, sizeOf(outShape)));
}

export function binary(op: BinaryKernel, x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  // Small host operands (HostScalars among them) and a small result: the cpu kernel directly (no views, no adopt).
  if (onHost(x) && onHost(y) && !large(dtype, sizeOf(outShape))) {
    return cpuBackend.binary(op, x, xs, y, ys, outShape, dtype) as TypedArray;
  }
  // A scalar against a large tensor: its array, like any small host operand.
  x = hostArrayOf(x);
  y = hostArrayOf(y);
  if (!wasmEligible(dtype, outShape, x, y)) {
    return viaCpu(dtype, cpuBackend.binary, op, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  }
  if (dtype === "float32") {
    const deferred = lazyBinary(op, x, sizeOf(xs), y, sizeOf(ys), sizeOf(outShape));
    if (deferred !== null) return deferred;
  }
  return broadcastRun(`bin_${op}`, [{ d: x, shape: xs, bytes: 4, dtype }, { d: y, shape: ys, bytes: 4, dtype }], outShape, dtype);
}

export function compare(op: CompareKernel, x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  if (!wasmEligible(dtype === "int32" ? "float32" : dtype, outShape, x, y)) {
    return viaCpu("bool", cpuBackend.compare, op, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  }
  if (dtype === "float32") {
    const deferred = lazyCompare(op, hostArrayOf(x), sizeOf(xs), hostArrayOf(y), sizeOf(ys), sizeOf(outShape));
    if (deferred !== null) return deferred;
  }
  const family = dtype === "int32" ? "cmpi" : "cmp";
  return broadcastRun(`${family}_${op}`, [{ d: x, shape: xs, bytes: 4, dtype }, { d: y, shape: ys, bytes: 4, dtype }], outShape, "bool");
}

export function where(cond: BackendData, cs: Shape, x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  if (!wasmEligible(dtype, outShape, cond, x, y)) {
    return viaCpu(dtype, cpuBackend.where, view(cond, "bool", sizeOf(cs)), cs, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  }
  // The kernel's operand order is (cond, x, y); all-scalar operands only occur for a size-1 output.
  const ins = [{ d: cond, shape: cs, bytes: 1, dtype: "bool" as DType }, { d: x, shape: xs, bytes: 4, dtype }, { d: y, shape: ys, bytes: 4, dtype }];
  if (sizeOf(outShape) <= 1) return viaCpu(dtype, cpuBackend.where, view(cond, "bool", sizeOf(cs)), cs, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  if (dtype === "float32") {
    const deferred = lazyWhere(cond, sizeOf(cs), hostArrayOf(x), sizeOf(xs), hostArrayOf(y), sizeOf(ys), sizeOf(outShape));
    if (deferred !== null) return deferred;
  }
  return broadcastRun("where", ins, outShape, dtype);
}

export function cast(x: BackendData, from: DType, to: DType, n: number): Data {
  const pair = `${from}>${to}`;
  if ((pair !== "float32>bool" && pair !== "bool>float32") || (isHost(x) && !large(to, n))) {
    return viaCpu(to, cpuBackend.cast, view(x, from, n), from, to, n);
  }
  const c = new Call();
  const px = c.in(x, from, n);
  const o = c.out(to, n);
  if (pair === "float32>bool") c.rt.k.castF32ToBool(px, o.ptr, 1, n, 0);
  else c.rt.k.castBoolToF32(px, o.ptr, 1, n, 0);
  return c.finish(o, to, n);
}

export function fill(dtype: DType, n: number, value: number): Data {
  if (!large(dtype, n)) return cpuBackend.fill(dtype, n, value) as TypedArray;
  const c = new Call();
  const o = c.out(dtype, n);
  if (dtype === "bool") c.rt.k.fill8(o.ptr, n, value !== 0 && !Number.isNaN(value) ? 1 : 0);
  else {
    const bits = new (dtype === "float32" ? Float32Array : Int32Array)([value]);
    c.rt.k.fill32(o.ptr, n, new Int32Array(bits.buffer)[0]!);
  }
  return c.finish(o, dtype, n);
}

export function upload(values: TypedArray, dtype: DType): Data {
  return adopt(values, dtype);
}
