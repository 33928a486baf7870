/**
 * Movement drivers: expand, permute (a lazy transpose for the last two axes), slice, pad,
 * concat, gather and scatterAdd.
 */
import type { BackendData } from "../../backend.js";
import { cpuBackend } from "../../cpu/index.js";

import { type DType } from "../../dtype.js";
import { broadcastStrides, sizeOf, stridesOf, type Shape } from "../../shape.js";
import { WasmBuffer } from "../memory.js";
import { DeltagradError } from "../../errors.js";
import { Call, ColumnsView, isHost, large, viaCpu, view, wasmDType, TransposedView, type Data } from "../placement.js";
import { walk2 } from "./walk.js";

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
    // Columns not written out: transposed as the [rows, cols] matrix they are (not another reshape of them).
    const asColumns = x instanceof ColumnsView && batch === 1 && x.rows === rows && x.cols === cols;
    if ((x instanceof WasmBuffer || asColumns) && rows > 1 && cols > 1) return new TransposedView(x, batch, rows, cols);
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

/** The first of `k` int32 indices (at `idx`) outside [0, n) throws, as on cpu, before anything is written. */
function checkIndices(c: Call, op: string, idx: number, k: number, n: number, axis: number): void {
  const bad = c.rt.k.indexCheck(idx, k, n);
  if (bad >= 0) {
    c.done();
    throw new DeltagradError(`${op}: index ${c.rt.heap.i32[(idx >> 2) + bad]} is out of range for axis ${axis} of size ${n}`);
  }
}

/** [outer, n, inner] around `axis`. */
const around = (shape: Shape, axis: number) => [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))] as const;

export function gather(x: BackendData, shape: Shape, indices: BackendData, nIndices: number, axis: number, dtype: DType): Data {
  const [outer, n, inner] = around(shape, axis);
  const nOut = outer * nIndices * inner;
  if (elemBytes(dtype) !== 4 || !(large(dtype, nOut) || !isHost(x))) {
    return viaCpu(dtype, cpuBackend.gather, view(x, dtype, sizeOf(shape)), shape, view(indices, "int32", nIndices), nIndices, axis, dtype);
  }
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const pi = c.in(indices, "int32", nIndices);
  checkIndices(c, "gather", pi, nIndices, n, axis);
  const o = c.out(dtype, nOut);
  if (nOut > 0) c.rt.k.gatherIdx(px, pi, o.ptr, outer, nIndices, n, inner * 4);
  return c.finish(o, dtype, nOut);
}

export function scatterAdd(g: BackendData, indices: BackendData, nIndices: number, outShape: Shape, axis: number, dtype: DType): Data {
  const gShape = outShape.map((d, i) => (i === axis ? nIndices : d));
  const [outer, n, inner] = around(outShape, axis);
  const nOut = sizeOf(outShape);
  if (dtype !== "float32" || !(large(dtype, nOut) || !isHost(g))) {
    return viaCpu(dtype, cpuBackend.scatterAdd, view(g, dtype, sizeOf(gShape)), view(indices, "int32", nIndices), nIndices, outShape, axis, dtype);
  }
  const c = new Call();
  const pg = c.in(g, dtype, sizeOf(gShape));
  const pi = c.in(indices, "int32", nIndices);
  checkIndices(c, "scatterAdd", pi, nIndices, n, axis);
  const o = c.out(dtype, nOut);
  c.rt.k.fill8(o.ptr, nOut * 4, 0);
  if (nOut > 0 && nIndices > 0) c.rt.k.scatterAddIdx(pg, pi, o.ptr, outer, nIndices, n, inner);
  return c.finish(o, dtype, nOut);
}
