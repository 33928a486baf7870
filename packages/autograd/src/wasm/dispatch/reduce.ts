/**
 * Reduction drivers: sum/max over any axes and arg-max/min, in wasm for large float32 input.
 */
import type { ArgReduceKernel, BackendData, ReduceKernel } from "../../backend.js";
import { cpuBackend } from "../../cpu/index.js";
import { type DType } from "../../dtype.js";
import { sizeOf, type Shape } from "../../shape.js";
import { lazyReduce, readLazy } from "../lazy.js";
import { Call, isHost, large, LazyView, viaCpu, view, type Data } from "../placement.js";
import { evenRuns, getNumThreads, runPlainTasks } from "../threads.js";

/**
 * Elements from which a reduction over rows (the last axes) splits its rows across the threads:
 * handing out a job costs ~50 µs on a 2-core VM, and sumRows reads ~2 floats a nanosecond.
 */
const ROWS_WORK = 1 << 18;

/** sumRows / maxRows over `rows` rows of `len` floats: runs of rows on the threads when large (each row's value is the same either way). */
function rowsReduce(c: Call, op: ReduceKernel, src: number, out: number, rows: number, len: number): void {
  const name = op === "sum" ? "sumRows" : "maxRows";
  const runs = evenRuns(rows, rows * len < ROWS_WORK ? 1 : Math.min(rows, 4 * getNumThreads()));
  runPlainTasks(name, c.rt.k[name], runs.map(([r0, r1]) => [src + r0 * len * 4, out + r0 * 4, r1 - r0, len]));
}

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
  // A deferred chain reduced over its trailing axes: the chain's own kernel sums (or maxes) each
  // row without storing the chain; any other deferred op (a product, or other axes) is computed
  // into a block no tensor keeps and reduced from there (lazy.ts).
  if (x instanceof LazyView && x.solid === null) {
    if (groups.length > 0 && groups.findIndex((g) => g.reduced) === groups.length - 1) {
      const len = groups[groups.length - 1]!.size;
      const r = lazyReduce(op, x, n / len, len);
      if (r !== null) return r;
    }
    x = readLazy(x) ?? x;
  }
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
    if (inner === 1) rowsReduce(c, op, src, o.ptr, outer, len);
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
