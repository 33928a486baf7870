/**
 * The wasm backend's drivers: where each tensor lives, and how each Backend kernel maps onto the
 * compiled kernels.
 *
 * Placement. Storage of at least {@link SMALL_BYTES} bytes (float32, int32, bool) lives in wasm
 * memory as a {@link WasmBuffer}; smaller tensors and float64 stay ordinary TypedArrays on the
 * JavaScript heap, exactly as on the cpu backend (a scalar graph never touches wasm memory, and
 * the garbage collector keeps owning them). A kernel runs in wasm when its dtype has a wasm
 * kernel and its output or an input is large; a small input is copied in for the call, a small
 * output copied out. Everything else runs the cpu backend's kernel on views of the inputs.
 *
 * A permute that swaps the last two axes of a float32 matrix returns a {@link TransposedView}
 * without moving data: matmul packs straight from it (the VJPs' Ḡ·Bᵀ and Aᵀ·Ḡ); any other kernel
 * materializes it once.
 */
import type { ArgReduceKernel, BackendData, BinaryKernel, CompareKernel, ReduceKernel, UnaryKernel, WindowParams } from "../backend.js";
import { cpuBackend } from "../cpu/index.js";
import { broadcastStrides } from "../cpu/strided.js";
import { windowOutSize } from "../cpu/window.js";
import { allocate, bytesPerElement, type DType, type TypedArray } from "../dtype.js";
import { batchMatrixIndices, sizeOf, stridesOf, type Shape } from "../shape.js";
import { GEMM_SCRATCH, MR, NC, NR, UNARY_OPS, type UnaryOp } from "./kernels.js";
import { Token, WasmBuffer } from "./memory.js";
import { runtime, type Runtime } from "./runtime.js";
import { getNumThreads, runTasks } from "./threads.js";

/** Tensors of at least this many bytes live in wasm memory. */
export const SMALL_BYTES = 4096;

/** A float32 batch of matrices stored transposed: the view is `[…, cols, rows]` of a `[…, rows, cols]` base. */
export class TransposedView {
  refs = 0;
  /** The materialized transpose, made on first use by a kernel other than matmul. */
  solid: WasmBuffer | null = null;
  constructor(readonly base: WasmBuffer, readonly batch: number, readonly rows: number, readonly cols: number) {
    base.refs++;
  }
}

type Data = TypedArray | WasmBuffer | TransposedView;

// Storage is a TypedArray (host), a WasmBuffer or a TransposedView. `ArrayBuffer.isView` is one
// instance-type check; two megamorphic `instanceof`s cost a scalar graph ~15% of its time.
const isHost = (d: BackendData): d is TypedArray => ArrayBuffer.isView(d);
const wasmDType = (dtype: DType) => dtype !== "float64";
const large = (dtype: DType, n: number) => wasmDType(dtype) && n * bytesPerElement(dtype) >= SMALL_BYTES;

/**
 * A tensor starts referencing `d`: counted, and for a wasm block the tensor gets a token through
 * which the heap learns that it was garbage-collected (memory.ts). Host storage is the GC's.
 */
export function retain(d: BackendData): boolean | Token {
  if (isHost(d)) return false;
  const b = d as WasmBuffer | TransposedView;
  b.refs++;
  return b instanceof WasmBuffer ? runtime().heap.tokens.hold(b) : true;
}

/** A tensor stops referencing `d` (given the token {@link retain} returned); the last one frees it. */
export function release(d: BackendData, token?: unknown): void {
  if (token instanceof Token) runtime().heap.tokens.unhold(token);
  drop(d);
}

function drop(d: BackendData): void {
  const b = d as WasmBuffer | TransposedView;
  if (--b.refs > 0) return;
  const heap = runtime().heap;
  if (b instanceof TransposedView) {
    if (b.solid) heap.drop(b.solid);
    drop(b.base);
  } else heap.drop(b);
}

/** The materialized storage of a view (transposing once), or the buffer itself. */
function solid(d: WasmBuffer | TransposedView): WasmBuffer {
  if (d instanceof WasmBuffer) return d;
  if (d.solid && !d.solid.dead) return d.solid;
  const { heap, k } = runtime();
  heap.nextEpoch();
  const out = heap.buffer(d.base.bytes);
  const src = heap.pinResident(d.base);
  const mat = d.rows * d.cols * 4;
  for (let t = 0; t < d.batch; t++) k.transpose(src + t * mat, out.ptr + t * mat, d.rows, d.cols);
  d.solid = out;
  return out;
}

/** A host TypedArray holding `d`'s values (a view of wasm memory: valid until the next allocation). */
export function hostView(d: BackendData, dtype: DType, n: number): TypedArray {
  if (isHost(d)) return d;
  const b = solid(d as WasmBuffer | TransposedView);
  const Ctor = ctorOf(dtype);
  if (b.ptr < 0) {
    if (b.dead) throw new Error("wasm backend: read of freed storage");
    return new Ctor(b.host!.buffer as ArrayBuffer, b.host!.byteOffset, n);
  }
  return new Ctor(runtime().heap.memory.buffer as ArrayBuffer, b.ptr, n);
}

function ctorOf(dtype: DType) {
  return dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : dtype === "bool" ? Uint8Array : Float64Array;
}

/**
 * One kernel call: pins the buffers it reads (so making room for its output cannot evict them),
 * copies small host inputs into temporary blocks, and frees those at the end.
 */
class Call {
  readonly rt: Runtime = runtime();
  private readonly temps: number[] = [];

  constructor() {
    this.rt.heap.nextEpoch();
  }

  /** A pointer from which the kernel reads `n` elements of `d`. */
  in(d: BackendData, dtype: DType, n: number): number {
    const heap = this.rt.heap;
    if (!isHost(d)) return heap.pinResident(solid(d as WasmBuffer | TransposedView));
    const bytes = n * bytesPerElement(dtype);
    const p = this.temp(bytes);
    heap.u8.set(new Uint8Array(d.buffer, d.byteOffset, bytes), p);
    return p;
  }

  temp(bytes: number): number {
    const p = this.rt.heap.alloc(bytes);
    this.temps.push(p, bytes);
    return p;
  }

  /** Where the kernel writes an output of `n` elements: a new tensor buffer, or a temporary block for a small result. */
  out(dtype: DType, n: number): { ptr: number; buf: WasmBuffer | null } {
    const bytes = n * bytesPerElement(dtype);
    if (large(dtype, n)) {
      const buf = this.rt.heap.buffer(bytes);
      return { ptr: buf.ptr, buf };
    }
    return { ptr: this.temp(Math.max(bytes, 4)), buf: null };
  }

  /** The output's handle (copying a small one to the host) and the end of the call. */
  finish(o: { ptr: number; buf: WasmBuffer | null }, dtype: DType, n: number): Data {
    let result: Data;
    if (o.buf) result = o.buf;
    else {
      const host = allocate(dtype, n);
      if (n > 0) new Uint8Array(host.buffer, host.byteOffset, host.byteLength).set(this.rt.heap.u8.subarray(o.ptr, o.ptr + host.byteLength));
      result = host;
    }
    this.done();
    return result;
  }

  done(): void {
    const heap = this.rt.heap;
    for (let i = 0; i < this.temps.length; i += 2) heap.free(this.temps[i]!, this.temps[i + 1]!);
    this.temps.length = 0;
  }
}

/** Runs a cpu kernel on host views of wasm storage; a large result moves into wasm memory. */
function viaCpu<T extends unknown[]>(dtype: DType, kernel: (...args: T) => BackendData, ...args: T): Data {
  const out = kernel(...args) as TypedArray;
  return adopt(out, dtype);
}

/** A host array as this backend's storage: small ones stay, large ones are copied into wasm memory. */
export function adopt(values: TypedArray, dtype: DType): Data {
  const n = values.length;
  if (!large(dtype, n)) return values;
  const heap = runtime().heap;
  heap.nextEpoch();
  const buf = heap.buffer(values.byteLength);
  heap.u8.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), buf.ptr);
  return buf;
}

const view = (d: BackendData, dtype: DType, n: number) => hostView(d, dtype, n);

// ---------------------------------------------------------------- strided walks

/**
 * Drops size-1 dims and merges neighbours along which every operand's strides are contiguous, so
 * a broadcast or strided walk has as few levels as possible (usually one or two).
 */
export function collapse(shape: Shape, strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last]! *= n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `run(offsets, rows, inner, rowStrides)` once per index of the dims outside the last two
 * (offsets and strides in elements, one per operand; output offset last), after collapsing.
 */
function walk2(shape: Shape, strides: number[][], run: (offsets: number[], rows: number, inner: number, rowStrides: number[], innerStrides: number[]) => void): void {
  const c = collapse(shape, [...strides, stridesOf(shape)]);
  const r = c.shape.length;
  const inner = r > 0 ? c.shape[r - 1]! : 1;
  const rows = r > 1 ? c.shape[r - 2]! : 1;
  const inS = c.strides.map((s) => (r > 0 ? s[r - 1]! : 0));
  const rowS = c.strides.map((s) => (r > 1 ? s[r - 2]! : 0));
  const outer = c.shape.slice(0, Math.max(0, r - 2));
  const idx = new Array<number>(outer.length).fill(0);
  const offs = c.strides.map(() => 0);
  const total = sizeOf(outer);
  for (let t = 0; t < total; t++) {
    run(offs, rows, inner, rowS, inS);
    for (let d = outer.length - 1; d >= 0; d--) {
      for (let k = 0; k < offs.length; k++) offs[k]! += c.strides[k]![d]!;
      if (++idx[d]! < outer[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= c.strides[k]![d]! * outer[d]!;
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------- elementwise

export function unary(op: UnaryKernel, x: BackendData, dtype: DType, n: number): Data {
  // A small host operand (a scalar graph's every op) takes the cpu kernel directly: its result is small too.
  if (isHost(x) && !large(dtype, n)) return cpuBackend.unary(op, x, dtype, n) as TypedArray;
  if (dtype !== "float32" || !(UNARY_OPS as readonly string[]).includes(op)) {
    return viaCpu(dtype, cpuBackend.unary, op, view(x, dtype, n), dtype, n);
  }
  const c = new Call();
  const px = c.in(x, dtype, n);
  const o = c.out(dtype, n);
  c.rt.k[`un_${op as UnaryOp}`]!(px, o.ptr, 1, n, 0);
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
    walk2(outShape, strides, (offs, rows, inner, rowS, inS) => {
      const kname = `${name}_${ins.map((_, k) => mode(inS[k]!)).join("")}`;
      const args = ins.map((a, k) => ptrs[k]! + offs[k]! * a.bytes);
      fn[kname]!(...args, o.ptr + offs[ins.length]! * ob, rows, inner, ...ins.map((a, k) => rowS[k]! * a.bytes));
    });
  }
  return c.finish(o, outDType, n);
}

/** Whether an elementwise op runs in wasm: float32 with a large output or an operand in wasm memory. */
function wasmEligible(dtype: DType, outShape: Shape, x: BackendData, y: BackendData, z: BackendData = x): boolean {
  return dtype === "float32" && (!isHost(x) || !isHost(y) || !isHost(z) || large(dtype, sizeOf(outShape)));
}

export function binary(op: BinaryKernel, x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  // Small host operands and a small result: the cpu kernel directly (no views, no adopt).
  if (isHost(x) && isHost(y) && !large(dtype, sizeOf(outShape))) return cpuBackend.binary(op, x, xs, y, ys, outShape, dtype) as TypedArray;
  if (!wasmEligible(dtype, outShape, x, y)) {
    return viaCpu(dtype, cpuBackend.binary, op, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  }
  return broadcastRun(`bin_${op}`, [{ d: x, shape: xs, bytes: 4, dtype }, { d: y, shape: ys, bytes: 4, dtype }], outShape, dtype);
}

export function compare(op: CompareKernel, x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  if (!wasmEligible(dtype === "int32" ? "float32" : dtype, outShape, x, y)) {
    return viaCpu("bool", cpuBackend.compare, op, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
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

// ---------------------------------------------------------------- reductions

export function reduce(op: ReduceKernel, x: BackendData, shape: Shape, axes: readonly number[], dtype: DType): Data {
  const n = sizeOf(shape);
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const m = sizeOf(outShape);
  if (dtype !== "float32" || (isHost(x) && !large(dtype, n)) || n === 0) {
    return viaCpu(dtype, cpuBackend.reduce, op, view(x, dtype, n), shape, axes, dtype);
  }
  // Collapse into alternating kept/reduced groups; reduce one reduced group at a time (innermost
  // first), each a [outer, n, inner] reduction.
  const groups: { size: number; reduced: boolean }[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const r = axes.includes(i);
    const last = groups[groups.length - 1];
    if (last && last.reduced === r) last.size *= d;
    else groups.push({ size: d, reduced: r });
  });
  const c = new Call();
  let src = c.in(x, dtype, n);
  let cur = groups;
  while (cur.some((g) => g.reduced)) {
    let gi = -1;
    for (let i = cur.length - 1; i >= 0; i--) if (cur[i]!.reduced) { gi = i; break; }
    const outer = sizeOf(cur.slice(0, gi).map((g) => g.size));
    const len = cur[gi]!.size;
    const inner = sizeOf(cur.slice(gi + 1).map((g) => g.size));
    const rest = cur.filter((_, i) => i !== gi);
    const last = !rest.some((g) => g.reduced);
    const o = last ? c.out(dtype, m) : { ptr: c.temp(outer * inner * 4), buf: null };
    if (inner === 1) (op === "sum" ? c.rt.k.sumRows : c.rt.k.maxRows)(src, o.ptr, outer, len);
    else if (op === "sum") c.rt.k.sumOuter(src, o.ptr, outer, len, inner, c.temp(inner * 8));
    else c.rt.k.maxOuter(src, o.ptr, outer, len, inner);
    if (last) return c.finish(o, dtype, m);
    src = o.ptr;
    // merge neighbours of the removed group that are both kept
    cur = [];
    for (const g of rest) {
      const l = cur[cur.length - 1];
      if (l && l.reduced === g.reduced) l.size *= g.size;
      else cur.push({ ...g });
    }
  }
  // No reduced group of size > 1: a copy.
  const o = c.out(dtype, m);
  c.rt.heap.u8.copyWithin(o.ptr, src, src + m * 4);
  return c.finish(o, dtype, m);
}

export function argReduce(op: ArgReduceKernel, x: BackendData, shape: Shape, axis: number, dtype: DType): Data {
  const n = sizeOf(shape);
  if (dtype !== "float32" || (isHost(x) && !large(dtype, n)) || n === 0) {
    return viaCpu("int32", cpuBackend.argReduce, op, view(x, dtype, n), shape, axis, dtype);
  }
  const outer = sizeOf(shape.slice(0, axis));
  const len = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const c = new Call();
  const px = c.in(x, dtype, n);
  const o = c.out("int32", outer * inner);
  (op === "argmax" ? c.rt.k.argmaxOuter : c.rt.k.argminOuter)(px, o.ptr, outer, len, inner);
  return c.finish(o, "int32", outer * inner);
}

// ---------------------------------------------------------------- movement

/** out (contiguous, shape `outShape`) ← src walked with element `strides` from element `offset`. */
function gatherWalk(c: Call, src: number, outPtr: number, outShape: Shape, strides: readonly number[], offset: number, bytes: 4 | 1): void {
  const g = bytes === 4 ? c.rt.k.gather4 : c.rt.k.gather1;
  walk2(outShape, [strides.slice()], (offs, rows, inner, rowS, inS) => {
    g(src + (offset + offs[0]!) * bytes, outPtr + offs[1]! * bytes, rows, inner, rowS[0]! * bytes, inS[0]! * bytes);
  });
}

const elemBytes = (dtype: DType): 4 | 1 => (dtype === "bool" ? 1 : 4);

function movementEligible(dtype: DType, outN: number, x: BackendData): boolean {
  return wasmDType(dtype) && (large(dtype, outN) || !isHost(x));
}

export function expand(x: BackendData, shape: Shape, outShape: Shape, dtype: DType): Data {
  const n = sizeOf(outShape);
  if (!movementEligible(dtype, n, x)) return viaCpu(dtype, cpuBackend.expand, view(x, dtype, sizeOf(shape)), shape, outShape, dtype);
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const o = c.out(dtype, n);
  if (n > 0) gatherWalk(c, px, o.ptr, outShape, broadcastStrides(shape, outShape), 0, elemBytes(dtype));
  return c.finish(o, dtype, n);
}

export function permute(x: BackendData, shape: Shape, perm: readonly number[], dtype: DType): Data {
  const n = sizeOf(shape);
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  if (!movementEligible(dtype, n, x)) return viaCpu(dtype, cpuBackend.permute, view(x, dtype, n), shape, perm, dtype);
  const swapLast2 = r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.every((p, i) => i >= r - 2 || p === i);
  if (swapLast2 && dtype === "float32" && n > 0) {
    const rows = shape[r - 2]!;
    const cols = shape[r - 1]!;
    const batch = n / (rows * cols);
    if (x instanceof TransposedView && x.rows === cols && x.cols === rows) {
      // The transpose of a transpose: the base itself.
      return x.base;
    }
    if (x instanceof WasmBuffer && rows > 1 && cols > 1) return new TransposedView(x, batch, rows, cols);
  }
  const c = new Call();
  const px = c.in(x, dtype, n);
  const o = c.out(dtype, n);
  if (n > 0) {
    const s = stridesOf(shape);
    if (swapLast2 && elemBytes(dtype) === 4 && shape[r - 2]! > 1 && shape[r - 1]! > 1) {
      const rows = shape[r - 2]!;
      const cols = shape[r - 1]!;
      const mat = rows * cols * 4;
      for (let t = 0; t < n / (rows * cols); t++) c.rt.k.transpose(px + t * mat, o.ptr + t * mat, rows, cols);
    } else gatherWalk(c, px, o.ptr, outShape, perm.map((p) => s[p]!), 0, elemBytes(dtype));
  }
  return c.finish(o, dtype, n);
}

export function slice(x: BackendData, shape: Shape, begin: readonly number[], size: readonly number[], dtype: DType): Data {
  const n = sizeOf(size);
  if (!movementEligible(dtype, n, x)) return viaCpu(dtype, cpuBackend.slice, view(x, dtype, sizeOf(shape)), shape, begin, size, dtype);
  const s = stridesOf(shape);
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const o = c.out(dtype, n);
  if (n > 0) gatherWalk(c, px, o.ptr, size, s, begin.reduce((acc, b, i) => acc + b * s[i]!, 0), elemBytes(dtype));
  return c.finish(o, dtype, n);
}

/** Writes contiguous `src` (shape `shape`) into `dst` walked with element `strides` from `offset`. */
function scatterWalk(c: Call, src: number, dst: number, shape: Shape, strides: readonly number[], offset: number, bytes: 4 | 1): void {
  const sc = bytes === 4 ? c.rt.k.scatter4 : c.rt.k.scatter1;
  walk2(shape, [strides.slice()], (offs, rows, inner, rowS, inS) => {
    sc(src + offs[1]! * bytes, dst + (offset + offs[0]!) * bytes, rows, inner, rowS[0]! * bytes, inS[0]! * bytes);
  });
}

function fillOut(c: Call, ptr: number, n: number, dtype: DType, value: number): void {
  if (dtype === "bool") c.rt.k.fill8(ptr, n, value !== 0 && !Number.isNaN(value) ? 1 : 0);
  else if (value === 0) c.rt.k.fill8(ptr, n * 4, 0);
  else c.rt.k.fill32(ptr, n, new Int32Array(new (dtype === "float32" ? Float32Array : Int32Array)([value]).buffer)[0]!);
}

export function pad(x: BackendData, shape: Shape, pads: readonly (readonly [number, number])[], value: number, dtype: DType): Data {
  const outShape = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const n = sizeOf(outShape);
  if (!movementEligible(dtype, n, x)) return viaCpu(dtype, cpuBackend.pad, view(x, dtype, sizeOf(shape)), shape, pads, value, dtype);
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const o = c.out(dtype, n);
  fillOut(c, o.ptr, n, dtype, value);
  const s = stridesOf(outShape);
  if (sizeOf(shape) > 0) scatterWalk(c, px, o.ptr, shape, s, pads.reduce((acc, p, i) => acc + p[0] * s[i]!, 0), elemBytes(dtype));
  return c.finish(o, dtype, n);
}

export function concat(xs: readonly BackendData[], shapes: readonly Shape[], axis: number, dtype: DType): Data {
  const outShape = shapes[0]!.slice();
  outShape[axis] = shapes.reduce((acc, s) => acc + s[axis]!, 0);
  const n = sizeOf(outShape);
  if (!wasmDType(dtype) || !(large(dtype, n) || xs.some((x) => !isHost(x)))) {
    return viaCpu(dtype, cpuBackend.concat, xs.map((x, i) => view(x, dtype, sizeOf(shapes[i]!))), shapes, axis, dtype);
  }
  const c = new Call();
  const ptrs = xs.map((x, i) => c.in(x, dtype, sizeOf(shapes[i]!)));
  const o = c.out(dtype, n);
  const s = stridesOf(outShape);
  let at = 0;
  shapes.forEach((shape, i) => {
    if (sizeOf(shape) > 0) scatterWalk(c, ptrs[i]!, o.ptr, shape, s, at * s[axis]!, elemBytes(dtype));
    at += shape[axis]!;
  });
  return c.finish(o, dtype, n);
}

export function gather(x: BackendData, shape: Shape, indices: BackendData, nIndices: number, axis: number, dtype: DType): Data {
  return viaCpu(dtype, cpuBackend.gather, view(x, dtype, sizeOf(shape)), shape, view(indices, "int32", nIndices), nIndices, axis, dtype);
}

export function scatterAdd(g: BackendData, indices: BackendData, nIndices: number, outShape: Shape, axis: number, dtype: DType): Data {
  const gShape = outShape.map((d, i) => (i === axis ? nIndices : d));
  return viaCpu(dtype, cpuBackend.scatterAdd, view(g, dtype, sizeOf(gShape)), view(indices, "int32", nIndices), nIndices, outShape, axis, dtype);
}

// ---------------------------------------------------------------- windows

/** Runs im2col (toCols) or col2im over NCHW `shape`: one task per image, split across threads. */
function windowWalk(c: Call, shape: Shape, p: WindowParams, img: number, cols: number, toCols: boolean): void {
  const [n, ch, h, w] = shape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  const colBytes = ch * p.kernel[0] * p.kernel[1] * oh * ow * 4;
  const tasks: number[][] = [];
  for (let b = 0; b < n; b++) {
    tasks.push([img + b * ch * h * w * 4, cols + b * colBytes, ch, h, w, ...p.kernel, ...p.stride, ...p.padding, ...p.dilation, oh, ow, toCols ? 1 : 0]);
  }
  runTasks(c.rt.k, "windowImage", tasks, 0, (b) => c.temp(b), (b) => c.temp(b), n * colBytes);
}

export function unfold(x: BackendData, shape: Shape, p: WindowParams, dtype: DType): Data {
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  const n = shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
  if (dtype !== "float32" || !(large(dtype, n) || !isHost(x))) return viaCpu(dtype, cpuBackend.unfold, view(x, dtype, sizeOf(shape)), shape, p, dtype);
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const o = c.out(dtype, n);
  c.rt.k.fill8(o.ptr, n * 4, 0);
  if (n > 0) windowWalk(c, shape, p, px, o.ptr, true);
  return c.finish(o, dtype, n);
}

export function fold(cols: BackendData, outShape: Shape, p: WindowParams, dtype: DType): Data {
  const [oh, ow] = windowOutSize(outShape[2]!, outShape[3]!, p);
  const nCols = outShape[0]! * outShape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
  const n = sizeOf(outShape);
  if (dtype !== "float32" || !(large(dtype, n) || !isHost(cols))) return viaCpu(dtype, cpuBackend.fold, view(cols, dtype, nCols), outShape, p, dtype);
  const c = new Call();
  const pc = c.in(cols, dtype, nCols);
  const o = c.out(dtype, n);
  c.rt.k.fill8(o.ptr, n * 4, 0);
  if (nCols > 0) windowWalk(c, outShape, p, o.ptr, pc, false);
  return c.finish(o, dtype, n);
}

// ---------------------------------------------------------------- matmul

/** Products sharing A are folded into one only below this many columns per batch (see matmul). */
const FOLD_N = 2 * NR;

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** A matmul operand in wasm memory: its pointer, and whether it is stored transposed. */
interface Operand {
  ptr: number;
  t: boolean;
}

function operand(c: Call, d: BackendData, n: number): Operand {
  if (d instanceof TransposedView) return { ptr: c.rt.heap.pinResident(d.base), t: true };
  return { ptr: c.in(d, "float32", n), t: false };
}

/**
 * Batched float32 matmul: `out[b] = a[b] · y[b]` over broadcast batch dims. Accumulates in
 * float32 (the cpu kernel in float64), so results differ by at most the summation-order bound
 * (k + 2)·2⁻²⁴·Σₚ|aᵢₚ·bₚⱼ| from the exactly rounded product. Either operand may be a
 * {@link TransposedView} (packed straight from its base).
 *
 * A batch that shares B is folded into one product of stacked rows `[nb·m, k]·[k, n]` (each
 * element's sum runs over p in the same order either way, so folding changes no value); a batch
 * sharing A with narrow B (n < 2·NR) puts the B matrices side by side, `[m, k]·[k, nb·n]`, which
 * packs A once instead of nb times and keeps n = 1 products from padding every tile to NR columns.
 * All products of a call form one parallel job (see threads.ts).
 */
export function matmul(x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  const nOut = sizeOf(outShape);
  if (dtype !== "float32" || (isHost(x) && isHost(y) && !large(dtype, nOut) && sizeOf(xs) * 4 < SMALL_BYTES && sizeOf(ys) * 4 < SMALL_BYTES)) {
    return viaCpu(dtype, cpuBackend.matmul, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype);
  }
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = xs[xs.length - 1]!;
  const c = new Call();
  const A = operand(c, x, sizeOf(xs));
  const B = operand(c, y, sizeOf(ys));
  const o = c.out(dtype, nOut);
  if (nOut > 0) {
    if (k === 0) c.rt.k.fill8(o.ptr, nOut * 4, 0);
    else products(c, A, xs, B, ys, outShape, m, n, k, o.ptr);
  }
  return c.finish(o, dtype, nOut);
}

/** The products of one batched matmul as gemm tasks, run as one job, then any copies out of padded blocks. */
function products(c: Call, A: Operand, as: Shape, B: Operand, bs: Shape, outShape: Shape, m: number, n: number, k: number, out: number): void {
  const nb = sizeOf(outShape.slice(0, -2));
  const aMats = sizeOf(as) / (m * k);
  const bMats = sizeOf(bs) / (k * n);
  const job: Job = { tasks: [], after: [], work: 0 };
  if (nb > 1 && bMats === 1 && aMats === nb && !A.t) {
    gemm(c, job, A, k, B, m * nb, n, k, out);
  } else if (nb > 1 && aMats === 1 && bMats === nb && n < FOLD_N) {
    // Bcat[p][t·n + j] = b[t][p][j]: one [m, k]·[k, nb·n] product, then out[t][i][j] = C[i][t·n + j].
    const w = nb * n;
    const bc = c.temp(k * w * 4);
    for (let t = 0; t < nb; t++) {
      if (B.t) c.rt.k.scatter4(B.ptr + t * n * k * 4, bc + t * n * 4, n, k, 4, w * 4);
      else c.rt.k.copyRows(B.ptr + t * k * n * 4, n * 4, bc + t * n * 4, w * 4, k, n * 4);
    }
    const C = c.temp(m * w * 4);
    gemm(c, job, A, m, { ptr: bc, t: false }, m, w, k, C);
    job.after.push(() => {
      for (let t = 0; t < nb; t++) c.rt.k.copyRows(C + t * n * 4, w * 4, out + t * m * n * 4, n * 4, m, n * 4);
    });
  } else {
    const mats = batchMatrixIndices(as, bs, outShape);
    for (let t = 0; t < nb; t++) {
      gemm(c, job, { ptr: A.ptr + mats.a[t]! * m * k * 4, t: A.t }, m, { ptr: B.ptr + mats.b[t]! * k * n * 4, t: B.t }, m, n, k, out + t * m * n * 4);
    }
  }
  runTasks(c.rt.k, "gemmBlock", job.tasks, GEMM_SCRATCH, (b) => c.temp(b), (b) => c.temp(b), job.work);
  for (const f of job.after) f();
}

interface Job {
  tasks: number[][];
  after: (() => void)[];
  work: number;
}

/**
 * Adds the tasks of one product C = A·B (m×k · k×n) into `out` (row stride n): column blocks of
 * at most NC, narrower when threads can share them. `aRows` is A's row count as stored when
 * transposed (its leading dimension). Tiles go straight into `out` when m and n are whole tiles,
 * else into a padded block copied out after the job.
 */
function gemm(c: Call, job: Job, A: Operand, aRows: number, B: Operand, m: number, n: number, k: number, out: number): void {
  const direct = m % MR === 0 && n % NR === 0;
  const ldc = direct ? n : roundUp(n, NR);
  const C = direct ? out : c.temp(roundUp(m, MR) * ldc * 4);
  // Two column blocks per thread when threads share the product, so a thread slowed by others
  // on its core does not hold the whole job up (tasks are claimed dynamically).
  const threads = getNumThreads();
  const width = Math.min(NC, roundUp(Math.ceil(n / (threads > 1 ? 2 * threads : 1)), NR));
  for (let jc = 0; jc < n; jc += width) {
    job.tasks.push([A.ptr, A.t ? 1 : 0, aRows, B.ptr, B.t ? 1 : 0, k, m, n, C, ldc, jc, Math.min(width, n - jc)]);
  }
  job.work += m * n * k;
  if (!direct) job.after.push(() => c.rt.k.copyRows(C, ldc * 4, out, n * 4, m, n * 4));
}
