/**
 * Reductions (sum, max over a set of axes) and arg-reductions (argmax, argmin along one axis).
 *
 * The input's axes split into kept ones (which index the output) and reduced ones; each list is
 * collapsed where contiguous. When the reduced extent R is small (≤ 32) one invocation computes
 * one output with a loop. Otherwise one workgroup computes one output: its 256 invocations each
 * fold a strided subset of the R elements, then a tree reduction in workgroup memory halves the
 * partials eight times. Max: NaN wins (tested by bits). Arg-reductions keep (value, index) pairs
 * and combine them so that the first NaN, else the first extreme, wins — NumPy's rule and the
 * cpu backend's.
 */
import type { ArgReduceKernel, ReduceKernel } from "../backend.js";
import type { DType } from "../dtype.js";
import { sizeOf } from "../shape.js";
import type { GpuData, GpuRuntime } from "./device.js";
import { collapse, entry1d, entryPerGroup, offsetFn, PRELUDE, rowMajor, WG, wgslType, type Wgsl } from "./wgsl.js";

/** Below this reduced extent one invocation per output beats a workgroup per output. */
const SMALL = 32;

function identity(op: ReduceKernel, t: Wgsl): string {
  if (op === "sum") return `${t}(0)`;
  return t === "f32" ? "f_ninf()" : t === "i32" ? "i32(-2147483647 - 1)" : "0u";
}

function combine(op: ReduceKernel, t: Wgsl): string {
  if (op === "sum") return "acc + v";
  return t === "f32" ? "select(acc, v, is_nan(v) || v > acc)" : "max(acc, v)";
}

/** Reduces `axes` of `x` (kept as size-1 axes in the output's shape). */
export function reduce(rt: GpuRuntime, op: ReduceKernel, x: GpuData, shape: readonly number[], axes: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  const s = rowMajor(shape);
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const redShape = shape.map((d, i) => (axes.includes(i) ? d : 1));
  const nOut = sizeOf(keptShape);
  const R = sizeOf(redShape);
  const out = rt.alloc(nOut * 4);
  if (nOut === 0) return out;
  const k = collapse(keptShape, [s]);
  const r = collapse(redShape, [s]);
  const [kr, rr] = [k.shape.length, r.shape.length];
  // Parameters: nOut, R, kept shape[kr], kept strides[kr], reduced shape[rr], reduced strides[rr].
  const params = [nOut, R, ...k.shape, ...k.strides[0]!, ...r.shape, ...r.strides[0]!];
  const fns = `${offsetFn("kept", kr, 2, 2 + kr)}\n${offsetFn("red", rr, 2 + 2 * kr, 2 + 2 * kr + rr)}`;
  const decl = `@group(0) @binding(1) var<storage, read> X: array<${t}>;\n@group(0) @binding(2) var<storage, read_write> Y: array<${t}>;`;
  const small = R <= SMALL;
  rt.dispatch(
    `reduce:${op}:${t}:${kr}:${rr}:${small ? "s" : "g"}`,
    () =>
      small
        ? `${PRELUDE}${decl}
${fns}
${entry1d()}
  if (i >= P[0]) { return; }
  let base = kept(i);
  var acc = ${identity(op, t)};
  for (var j = 0u; j < P[1]; j++) { let v = X[base + red(j)]; acc = ${combine(op, t)}; }
  Y[i] = acc;
}`
        : `${PRELUDE}${decl}
var<workgroup> part: array<${t}, ${WG}>;
${fns}
${entryPerGroup()}
  if (o >= P[0]) { return; }
  let base = kept(o);
  var acc = ${identity(op, t)};
  for (var j = t; j < P[1]; j += ${WG}u) { let v = X[base + red(j)]; acc = ${combine(op, t)}; }
  part[t] = acc;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h >> 1u) {
    if (t < h) { let v = part[t + h]; acc = part[t]; part[t] = ${combine(op, t)}; }
    workgroupBarrier();
  }
  if (t == 0u) { Y[o] = part[0]; }
}`,
    params,
    [x.buffer, out.buffer],
    small ? Math.ceil(nOut / WG) : nOut,
  );
  return out;
}

/** Index (int32) of the first max/min of `x` along `axis`, kept as a size-1 axis. */
export function argReduce(rt: GpuRuntime, op: ArgReduceKernel, x: GpuData, shape: readonly number[], axis: number, dtype: DType): GpuData {
  const t = wgslType(dtype);
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const nOut = outer * inner;
  const out = rt.alloc(nOut * 4);
  if (nOut === 0) return out;
  const cmp = op === "argmax" ? ">" : "<";
  // Whether candidate (v, j) beats the current (b, at): NaN first, then the extreme, ties to the lower index.
  const nan = t === "f32" ? "is_nan" : "no_nan";
  const better = `(!${nan}(b) && (${nan}(v) || v ${cmp} b)) || (v == b && j < at) || (${nan}(v) && ${nan}(b) && j < at)`;
  const small = n <= SMALL;
  const helpers = `${PRELUDE}
fn no_nan(x: ${t}) -> bool { return false; }
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<i32>;`;
  rt.dispatch(
    `argReduce:${op}:${t}:${small ? "s" : "g"}`,
    () =>
      small
        ? `${helpers}
${entry1d()}
  if (i >= P[0]) { return; }
  let inner = P[2];
  let base = (i / inner) * P[1] * inner + i % inner;
  var b = X[base];
  var at = 0u;
  for (var j = 1u; j < P[1]; j++) {
    let v = X[base + j * inner];
    if (!${nan}(b) && (${nan}(v) || v ${cmp} b)) { b = v; at = j; }
  }
  Y[i] = i32(at);
}`
        : `${helpers}
var<workgroup> pv: array<${t}, ${WG}>;
var<workgroup> pi: array<u32, ${WG}>;
${entryPerGroup()}
  if (o >= P[0]) { return; }
  let inner = P[2];
  let base = (o / inner) * P[1] * inner + o % inner;
  var b = X[base + t * inner];
  var at = t;
  for (var j = t + ${WG}u; j < P[1]; j += ${WG}u) {
    let v = X[base + j * inner];
    if (!${nan}(b) && (${nan}(v) || v ${cmp} b)) { b = v; at = j; }
  }
  if (t >= P[1]) { at = 0xffffffffu; }
  pv[t] = b;
  pi[t] = at;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h >> 1u) {
    if (t < h && pi[t + h] != 0xffffffffu) {
      let v = pv[t + h];
      let j = pi[t + h];
      b = pv[t];
      at = pi[t];
      if (at == 0xffffffffu || ${better}) { pv[t] = v; pi[t] = j; }
    }
    workgroupBarrier();
  }
  if (t == 0u) { Y[o] = i32(pi[0]); }
}`,
    [nOut, n, inner],
    [x.buffer, out.buffer],
    small ? Math.ceil(nOut / WG) : nOut,
  );
  return out;
}
