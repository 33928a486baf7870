import type { TypedArray } from "./dtype.js";
import { DeltagradError, fmtShape } from "./errors.js";

/** A tensor shape: non-negative integer sizes, outermost first. `[]` is a scalar. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!; // indexed: for…of allocated an iterator per call
  return n;
}

/** Row-major strides of a contiguous tensor. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * Strides of `shape` read as broadcast to `outShape` (aligned to its rank), 0 where an axis is
 * broadcast. Every backend's strided and broadcast walks start here.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = rank - shape.length + i;
    s[o] = shape[i] === 1 && outShape[o] !== 1 ? 0 : acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * Drops size-1 axes and merges neighbours along which every operand's strides are contiguous
 * (`strides[k]` are operand k's strides over `shape`), so a walk or kernel sees the smallest rank
 * that describes the access: a full-size elementwise op becomes rank 1. Shared by the wasm and
 * webgpu backends.
 */
export function collapse(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Validates a user-given shape: an array of non-negative integers. */
export function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !allSizes(shape)) {
    throw new DeltagradError(`${op}: a shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  return shape.slice();
}

function allSizes(shape: unknown[]): boolean {
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isInteger(d) || (d as number) < 0) return false;
  }
  return true;
}

/** A short printable description of any value, for error messages. */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(describe).join(",")}]`;
  if (typeof v === "number") return String(v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object" && "shape" in v && Array.isArray((v as { shape: unknown }).shape)) {
    return `Tensor${fmtShape((v as { shape: number[] }).shape)}`;
  }
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/**
 * NumPy broadcasting of several shapes; throws naming the op and the shapes when they clash.
 *
 * @example
 * ```ts
 * broadcastShapes("add", [3, 1], [4]); // [3, 4]
 * ```
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  for (const s of shapes) if (!Array.isArray(s) || !allSizes(s)) checkShape(op, s); // throws naming op
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o]) continue;
      if (out[o] === 1) out[o] = d;
      else if (d !== 1) {
        throw new DeltagradError(`${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together`);
      }
    }
  }
  return out;
}

/** Normalizes one axis (negatives count from the end); throws for out-of-range or non-integer axes. */
export function normalizeAxis(op: string, axis: unknown, rank: number): number {
  if (!Number.isInteger(axis) || (axis as number) < -rank || (axis as number) >= Math.max(rank, 1)) {
    throw new DeltagradError(`${op}: axis ${describe(axis)} is out of range for a tensor of rank ${rank}`);
  }
  const a = axis as number;
  return a < 0 ? a + rank : a;
}

/** Normalizes `axis` (a number, an array, or undefined = all axes) to sorted unique axes. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined | null, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(axis) ? axis : [axis];
  const out = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new DeltagradError(`${op}: repeated axis in ${describe(axis)}`);
  return out.sort((a, b) => a - b);
}

/**
 * @internal {@link broadcastShapes} of two shapes, for the ops' hot path: equal shapes (the
 * common case) broadcast to `a` itself, no new array. The result must not be mutated.
 */
export function broadcastPair(op: string, a: Shape, b: Shape): Shape {
  return shapesEqual(a, b) ? a : broadcastShapes(op, a, b);
}

/**
 * For a batched matmul whose operands' batch axes (all but the last two) broadcast to
 * `outShape`'s, the index of the A matrix and of the B matrix used by each output matrix, in
 * order. Shared by every backend's matmul.
 */
export function batchMatrixIndices(aShape: Shape, bShape: Shape, outShape: Shape): { a: Int32Array; b: Int32Array } {
  const batch = outShape.slice(0, -2);
  const n = sizeOf(batch);
  const strides = (s: Shape) => {
    const own = s.slice(0, -2);
    const out = new Array<number>(batch.length).fill(0);
    for (let i = own.length - 1, j = batch.length - 1, acc = 1; i >= 0; i--, j--) {
      out[j] = own[i] === 1 && batch[j] !== 1 ? 0 : acc;
      acc *= own[i]!;
    }
    return out;
  };
  const as = strides(aShape);
  const bs = strides(bShape);
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0, ai = 0, bi = 0; t < n; t++) {
    a[t] = ai;
    b[t] = bi;
    for (let d = batch.length - 1; d >= 0; d--) {
      ai += as[d]!;
      bi += bs[d]!;
      if (++idx[d]! < batch[d]!) break;
      ai -= as[d]! * batch[d]!;
      bi -= bs[d]! * batch[d]!;
      idx[d] = 0;
    }
  }
  return { a, b };
}

/**
 * Geometry of an unfold (im2col) / fold (col2im) window over NCHW data, and the columns' layout.
 *
 * @example
 * ```ts
 * const p: WindowParams = { kernel: [5, 5], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
 * ```
 */
export interface WindowParams {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  /**
   * Columns laid out `[C·kh·kw, N, L]` (row (c, tap), then image n, then output position l)
   * instead of `[N, C·kh·kw, L]`. conv2d sets it so that one matmul takes the whole batch as
   * columns without a permute; the public unfold/fold never do. A backend's `unfold` writes and
   * its `fold` reads this layout when it is true; absent means false. With N = 1 both coincide.
   */
  batchInColumns?: boolean;
}

/** Output spatial size ⌊(N + 2P − D·(F−1) − 1)/S⌋ + 1 per axis. */
export function windowOutSize(h: number, w: number, p: WindowParams): [number, number] {
  const oh = Math.floor((h + 2 * p.padding[0] - p.dilation[0] * (p.kernel[0] - 1) - 1) / p.stride[0]) + 1;
  const ow = Math.floor((w + 2 * p.padding[1] - p.dilation[1] * (p.kernel[1] - 1) - 1) / p.stride[1]) + 1;
  return [oh, ow];
}

/** Nested arrays of numbers as returned by `arraySync()`; a scalar tensor gives a number. */
export type NestedArray = number | NestedArray[];

/** Flat row-major values as nested arrays (what `arraySync` returns). */
export function nest(flat: TypedArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0]!;
  const build = (axis: number, offset: number): NestedArray[] => {
    const n = shape[axis]!;
    const inner = sizeOf(shape.slice(axis + 1));
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = axis === shape.length - 1 ? flat[offset + i]! : build(axis + 1, offset + i * inner);
    return out;
  };
  return build(0, 0);
}
