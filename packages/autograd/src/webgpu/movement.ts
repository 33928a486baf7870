/**
 * Movement kernels: expand, permute and slice are strided maps (elementwise.ts); pad and concat
 * place a tensor into a larger one through the output's strides; gather and scatterAdd index
 * along one axis. scatterAdd accumulates with atomics (float32 by a compare-exchange loop on the
 * u32 bit pattern, int32 by atomicAdd), so sums into one slot are exact for int32 and
 * order-dependent in the last bits for float32. Index checks run on the device: an out-of-range
 * index writes 0 (gather) or is skipped (scatterAdd) and records the call's sequence number in the
 * runtime's error flag, which the next read reports as a DeltagradError (device.ts).
 */
import type { DType } from "../dtype.js";
import { sizeOf } from "../shape.js";
import type { GpuData, GpuRuntime } from "./device.js";
import { fillInto, map } from "./elementwise.js";
import { broadcastStrides, collapse, entry1d, offsetFn, PRELUDE, rowMajor, valueBits, WG, wgslType } from "./wgsl.js";

/** Broadcast copy of `x` from `shape` to `outShape`. */
export function expand(rt: GpuRuntime, x: GpuData, shape: readonly number[], outShape: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  return map(rt, "copy", "v0", [{ data: x, type: t, strides: broadcastStrides(shape, outShape) }], outShape, t);
}

/** Axis permutation: output axis i is input axis perm[i]. */
export function permute(rt: GpuRuntime, x: GpuData, shape: readonly number[], perm: readonly number[], dtype: DType, into?: GpuData): GpuData {
  const t = wgslType(dtype);
  const s = rowMajor(shape);
  return map(rt, "copy", "v0", [{ data: x, type: t, strides: perm.map((p) => s[p]!) }], perm.map((p) => shape[p]!), t, into);
}

/**
 * Swapping the last two axes of a float32 tensor is left pending (GpuRuntime.lazyTranspose):
 * the matmul VJPs' transposes are read in place by the matmul kernel; anything else writes the
 * transpose the first time it touches the buffer.
 */
export function permuteLazily(rt: GpuRuntime, x: GpuData, shape: readonly number[], perm: readonly number[], dtype: DType): GpuData {
  const r = shape.length;
  const lastTwo = r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.every((p, i) => i >= r - 2 || p === i);
  if (!lastTwo || dtype !== "float32" || x.pending || shape[r - 1]! <= 1 || shape[r - 2]! <= 1) return permute(rt, x, shape, perm, dtype);
  return rt.lazyTranspose(x, (out) => permute(rt, x, shape, perm, dtype, out));
}

/** The box `begin`…`begin + size` of `x`. */
export function slice(rt: GpuRuntime, x: GpuData, shape: readonly number[], begin: readonly number[], size: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  const s = rowMajor(shape);
  const base = begin.reduce((acc, b, i) => acc + b * s[i]!, 0);
  return map(rt, "copy", "v0", [{ data: x, type: t, strides: s, base }], size, t);
}

/** Records a copy of `x` (of `shape`) into `out` at element offset `base`, walking out's `outStrides`. */
function place(rt: GpuRuntime, x: GpuData, shape: readonly number[], out: GpuData, outStrides: readonly number[], base: number): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const c = collapse(shape, [rowMajor(shape), outStrides]);
  const rank = c.shape.length;
  // Parameters: n, shape[rank], destination strides[rank], base.
  const params = [n, ...c.shape, ...c.strides[1]!, base];
  rt.dispatch(
    `place:${rank}`,
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<u32>;
${offsetFn("dst", rank, 1, 1 + rank, 1 + 2 * rank)}
${entry1d()}
  if (i >= P[0]) { return; }
  Y[dst(i)] = X[i];
}`,
    params,
    [x.buffer, out.buffer],
    Math.ceil(n / WG),
  );
}

/** Constant padding: `pads[d] = [before, after]` elements along axis d, filled with `value`. */
export function pad(rt: GpuRuntime, x: GpuData, shape: readonly number[], pads: readonly (readonly [number, number])[], value: number, dtype: DType): GpuData {
  const outShape = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const n = sizeOf(outShape);
  const out = rt.alloc(n * 4);
  fillInto(rt, out, wgslType(dtype), n, valueBits(value, dtype));
  const s = rowMajor(outShape);
  place(rt, x, shape, out, s, pads.reduce((acc, p, i) => acc + p[0] * s[i]!, 0));
  return out;
}

/** Joins `xs` along `axis`. */
export function concat(rt: GpuRuntime, xs: readonly GpuData[], shapes: readonly (readonly number[])[], axis: number, _dtype: DType): GpuData {
  const outShape = shapes[0]!.slice();
  outShape[axis] = shapes.reduce((acc, s) => acc + s[axis]!, 0);
  const out = rt.alloc(sizeOf(outShape) * 4);
  const s = rowMajor(outShape);
  let at = 0;
  xs.forEach((x, i) => {
    place(rt, x, shapes[i]!, out, s, at * s[axis]!);
    at += shapes[i]![axis]!;
  });
  return out;
}

/** `[outer, n, inner]` of `shape` around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

/**
 * WGSL shared by gather and scatterAdd: element `i` of the `[outer, k indices, inner]` grid decoded
 * into (o, t, c), its index `j = I[t]` read and, when out of range for the axis (`P[1]`), the
 * error recorded (check sequence `P[4]`, the bad index) before `onBad` runs and the thread returns.
 */
function indexedElement(onBad: string): string {
  return `  let inner = P[3];
  let k = P[2];
  let c = i % inner;
  let t = (i / inner) % k;
  let o = i / (inner * k);
  let j = I[t];
  if (j < 0 || u32(j) >= P[1]) {
    atomicMax(&E[0], i32(P[4]));
    atomicStore(&E[1], j);
${onBad}    return;
  }`;
}

/**
 * TensorFlow's gather along `axis`: out `[outer, nIndices, inner]` from x `[outer, n, inner]`.
 * An index outside [0, n) gives 0 and sets the error flag (reported at the next read).
 */
export function gather(rt: GpuRuntime, x: GpuData, shape: readonly number[], indices: GpuData, nIndices: number, axis: number, dtype: DType): GpuData {
  const [outer, n, inner] = around(shape, axis);
  const total = outer * nIndices * inner;
  const out = rt.alloc(total * 4);
  if (total === 0) return out;
  const seq = rt.check(`gather: an index for axis ${axis} of size ${n} (input shape [${shape.join(", ")}])`);
  rt.dispatch(
    "gather",
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> Y: array<u32>;
@group(0) @binding(4) var<storage, read_write> E: array<atomic<i32>>;
${entry1d()}
  if (i >= P[0]) { return; }
${indexedElement("    Y[i] = 0u;\n")}
  Y[i] = X[(o * P[1] + u32(j)) * inner + c];
}`,
    [total, n, nIndices, inner, seq],
    [x.buffer, indices.buffer, out.buffer, rt.errorFlag],
    Math.ceil(total / WG),
  );
  void dtype;
  return out;
}

/**
 * Adjoint of gather: zeros of `outShape`, then every slice of `g` added at its index along `axis`.
 * One invocation per element of `g`, accumulating atomically.
 */
export function scatterAdd(rt: GpuRuntime, g: GpuData, indices: GpuData, nIndices: number, outShape: readonly number[], axis: number, dtype: DType): GpuData {
  const [outer, n, inner] = around(outShape, axis);
  const size = sizeOf(outShape);
  const out = rt.alloc(size * 4);
  fillInto(rt, out, "u32", size, 0);
  const total = outer * nIndices * inner;
  if (total === 0) return out;
  const float = dtype === "float32";
  const seq = rt.check(`scatterAdd: an index for axis ${axis} of size ${n} (output shape [${outShape.join(", ")}])`);
  const add = float
    ? `var old = atomicLoad(&Y[dst]);
  loop {
    let r = atomicCompareExchangeWeak(&Y[dst], old, bitcast<u32>(bitcast<f32>(old) + bitcast<f32>(G[i])));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`
    : "atomicAdd(&Y[dst], G[i]);"; // integers: a u32 add is the two's-complement add
  rt.dispatch(
    `scatterAdd:${dtype}`,
    () => `${PRELUDE}
@group(0) @binding(1) var<storage, read> G: array<u32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> Y: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> E: array<atomic<i32>>;
${entry1d()}
  if (i >= P[0]) { return; }
${indexedElement("")}
  let dst = (o * P[1] + u32(j)) * inner + c;
  ${add}
}`,
    [total, n, nIndices, inner, seq],
    [g.buffer, indices.buffer, out.buffer, rt.errorFlag],
    Math.ceil(total / WG),
  );
  return out;
}
