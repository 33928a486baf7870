import { RULES } from "../primitives.js";
import { apply } from "../engine.js";
import { DeltagradError, fmtShape, optionsOf, within } from "../errors.js";
import { checkShape, describe, normalizeAxis, shapesEqual, sizeOf } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { asTensor, cast, equal } from "./elementwise.js";
import { arange } from "./create.js";
import { checkDType, type DType } from "../dtype.js";

function checkIntList(op: string, what: string, v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d))) {
    throw new DeltagradError(`${op}: ${what} must be an array of integers, got ${describe(v)}`);
  }
  return v.slice();
}

/**
 * Same values, new shape (same size). One size may be −1 (inferred). No copy: storage is shared.
 *
 * @example
 * ```ts
 * reshape(arange(6), [2, -1]); // shape [2, 3]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  asTensor("reshape", x);
  const s = checkIntList("reshape", "shape", shape);
  const infer = s.indexOf(-1);
  if (s.some((d, i) => d < -1 || (d === -1 && i !== infer))) {
    throw new DeltagradError(`reshape: invalid shape ${fmtShape(s)} (sizes must be ≥ 0, with at most one −1)`);
  }
  if (infer >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== infer));
    if (rest === 0 || x.size % rest !== 0) throw new DeltagradError(`reshape: cannot reshape ${fmtShape(x.shape)} (size ${x.size}) into ${fmtShape(shape)}`);
    s[infer] = x.size / rest;
  }
  if (sizeOf(s) !== x.size) throw new DeltagradError(`reshape: cannot reshape ${fmtShape(x.shape)} (size ${x.size}) into ${fmtShape(shape)}`);
  if (shapesEqual(s, x.shape)) return x;
  return apply(RULES.reshape, [x], { shape: s });
}

/**
 * Merges axes `startAxis … endAxis` (default: all) into one.
 *
 * @example
 * ```ts
 * flatten(zeros([2, 3, 4]), 1); // shape [2, 12]
 * ```
 */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  asTensor("flatten", x);
  if (x.rank === 0) return reshape(x, [1]);
  const s = normalizeAxis("flatten", startAxis, x.rank);
  const e = normalizeAxis("flatten", endAxis, x.rank);
  if (s > e) throw new DeltagradError(`flatten: startAxis ${startAxis} comes after endAxis ${endAxis}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/**
 * Reorders axes: output axis i is input axis perm[i].
 *
 * @example
 * ```ts
 * permute(zeros([2, 3, 4]), [2, 0, 1]); // shape [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  asTensor("permute", x);
  const p = checkIntList("permute", "perm", perm);
  if (p.length !== x.rank) throw new DeltagradError(`permute: perm ${fmtShape(p)} has ${p.length} axes, tensor has ${x.rank} (shape ${fmtShape(x.shape)})`);
  const norm = p.map((a) => normalizeAxis("permute", a, x.rank));
  if (new Set(norm).size !== norm.length) throw new DeltagradError(`permute: perm ${fmtShape(p)} repeats an axis`);
  if (norm.every((a, i) => a === i)) return x;
  return apply(RULES.permute, [x], { perm: norm });
}

/**
 * `transpose(x)` reverses the axes (NumPy, TF.js); `transpose(x, perm)` is {@link permute};
 * `transpose(x, a, b)` swaps two axes (PyTorch).
 *
 * @example
 * ```ts
 * transpose(zeros([2, 3]));           // shape [3, 2]
 * transpose(zeros([5, 2, 3]), -1, -2); // shape [5, 3, 2]
 * ```
 */
export function transpose(x: Tensor, a?: number | readonly number[], b?: number): Tensor {
  asTensor("transpose", x);
  if (Array.isArray(a)) return within("transpose", () => permute(x, a));
  if (a === undefined) return permute(x, x.shape.map((_, i) => x.rank - 1 - i));
  if (b === undefined) throw new DeltagradError("transpose: give both axes to swap, a permutation, or nothing");
  const i = normalizeAxis("transpose", a, x.rank);
  const j = normalizeAxis("transpose", b, x.rank);
  const perm = x.shape.map((_, k) => (k === i ? j : k === j ? i : k));
  return permute(x, perm);
}

/**
 * Broadcasts to `shape` (NumPy rules; −1 keeps a size). Materializes the result.
 *
 * @example
 * ```ts
 * expand(tensor([[1], [2]]), [2, 3]); // [[1,1,1],[2,2,2]]
 * ```
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  asTensor("expand", x);
  const s = checkIntList("expand", "shape", shape);
  if (s.length < x.rank) throw new DeltagradError(`expand: cannot expand ${fmtShape(x.shape)} to fewer axes ${fmtShape(s)}`);
  const lead = s.length - x.rank;
  s.forEach((d, i) => {
    const from = i >= lead ? x.shape[i - lead]! : 1;
    if (d === -1 && i >= lead) s[i] = from;
    else if (d < 0 || (from !== 1 && from !== d)) throw new DeltagradError(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  });
  if (shapesEqual(s, x.shape)) return x;
  return apply(RULES.expand, [x], { shape: s });
}

/** Alias of {@link expand} (TF.js's name). @example `broadcastTo(tensor([1, 2]), [3, 2])` */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return within("broadcastTo", () => expand(x, shape));
}

/**
 * Removes size-1 axes (all, or the given ones, which must have size 1).
 *
 * @example
 * ```ts
 * squeeze(zeros([1, 3, 1])); // shape [3]
 * ```
 */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  asTensor("squeeze", x);
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : (Array.isArray(axis) ? axis : [axis]).map((a) => normalizeAxis("squeeze", a, x.rank));
  for (const a of axes) if (x.shape[a] !== 1) throw new DeltagradError(`squeeze: axis ${a} of shape ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Inserts a size-1 axis at `axis` (−1 appends). @example `unsqueeze(zeros([3]), 0) // shape [1, 3]` */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  asTensor("unsqueeze", x);
  const a = normalizeAxis("unsqueeze", axis, x.rank + 1);
  const s = x.shape.slice();
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/**
 * A block of `x` starting at `begin` with `size` (TF.js's slice; −1 or omitted sizes run to the end).
 *
 * @example
 * ```ts
 * slice(arange(10), [2], [3]); // [2, 3, 4]
 * ```
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  asTensor("slice", x);
  const b = checkIntList("slice", "begin", begin);
  const sz = size === undefined ? b.map(() => -1) : checkIntList("slice", "size", size);
  if (b.length > x.rank || sz.length !== b.length) {
    throw new DeltagradError(`slice: begin ${fmtShape(b)} and size ${fmtShape(sz)} do not fit shape ${fmtShape(x.shape)}`);
  }
  const fullBegin = x.shape.map((_, i) => b[i] ?? 0);
  const fullSize = x.shape.map((d, i) => (sz[i] === undefined || sz[i] === -1 ? d - fullBegin[i]! : sz[i]!));
  x.shape.forEach((d: number, i: number) => {
    if (fullBegin[i]! < 0 || fullSize[i]! < 0 || fullBegin[i]! + fullSize[i]! > d) {
      throw new DeltagradError(`slice: begin ${fmtShape(b)} size ${fmtShape(sz)} is out of bounds for shape ${fmtShape(x.shape)}`);
    }
  });
  if (shapesEqual(fullSize, x.shape)) return x;
  return apply(RULES.slice, [x], { begin: fullBegin, size: fullSize });
}

/**
 * Pads each axis with `[before, after]` elements of `value` (default 0).
 *
 * @example
 * ```ts
 * pad(tensor([1, 2]), [[1, 0]]); // [0, 1, 2]
 * ```
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  asTensor("pad", x);
  if (!Array.isArray(pads) || pads.length !== x.rank || !pads.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0))) {
    throw new DeltagradError(`pad: pads must be ${x.rank} pairs of non-negative integers for shape ${fmtShape(x.shape)}, got ${describe(pads)}`);
  }
  if (typeof value !== "number") throw new DeltagradError(`pad: value must be a number, got ${describe(value)}`);
  if (pads.every((p) => p[0] === 0 && p[1] === 0)) return x;
  return apply(RULES.pad, [x], { pads: pads.map((p) => [p[0], p[1]] as [number, number]), value });
}

/**
 * Joins tensors along an existing axis (default 0). Mixed dtypes are promoted.
 *
 * @example
 * ```ts
 * concat([tensor([1]), tensor([2, 3])]); // [1, 2, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new DeltagradError("concat: expected a non-empty array of tensors");
  xs.forEach((x, i) => asTensor("concat", x, `tensors[${i}]`));
  const first = xs[0]!;
  if (first.rank === 0) throw new DeltagradError("concat: cannot concatenate scalars; use stack");
  const a = normalizeAxis("concat", axis, first.rank);
  for (const x of xs as Tensor[]) {
    if (x.rank !== first.rank || x.shape.some((d: number, i: number) => i !== a && d !== first.shape[i])) {
      throw new DeltagradError(`concat: shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ outside axis ${a}`);
    }
  }
  const dtype = xs.map((x) => x.dtype).reduce((p, d) => (rankOf(d) > rankOf(p) ? d : p));
  const same = xs.map((x) => cast(x, dtype));
  if (same.length === 1) return same[0]!;
  return apply(RULES.concat, same, { axis: a });
}

function rankOf(d: DType): number {
  return ["bool", "int32", "float32", "float64"].indexOf(d);
}

/**
 * Joins tensors of one shape along a new axis.
 *
 * @example
 * ```ts
 * stack([tensor([1, 2]), tensor([3, 4])]); // [[1, 2], [3, 4]]
 * ```
 */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new DeltagradError("stack: expected a non-empty array of tensors");
  xs.forEach((x, i) => asTensor("stack", x, `tensors[${i}]`));
  const a = normalizeAxis("stack", axis, xs[0]!.rank + 1);
  for (const x of xs) {
    if (!shapesEqual(x.shape, xs[0]!.shape)) throw new DeltagradError(`stack: shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ`);
  }
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

function checkIndices(op: string, indices: Tensor): void {
  asTensor(op, indices, "indices");
  if (indices.dtype !== "int32") throw new DeltagradError(`${op}: indices must be int32, got ${indices.dtype}`);
}

/**
 * Selects slices along `axis` (default 0) at int32 `indices` (TF.js's gather, PyTorch's
 * index_select generalized to any index shape). Out-of-range indices throw.
 *
 * @example
 * ```ts
 * gather(tensor([[1, 2], [3, 4], [5, 6]]), tensor([2, 0], { dtype: "int32" })); // [[5, 6], [1, 2]]
 * ```
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  asTensor("gather", x);
  checkIndices("gather", indices);
  if (x.rank === 0) throw new DeltagradError("gather: cannot gather from a scalar");
  const a = normalizeAxis("gather", axis, x.rank);
  return apply(RULES.gather, [x, indices], { axis: a });
}

/**
 * The adjoint of {@link gather}: adds slices of `g` into zeros of `shape` at `indices` along `axis`.
 *
 * @example
 * ```ts
 * scatterAdd(ones([2]), tensor([1, 1], { dtype: "int32" }), [3]); // [0, 2, 0]
 * ```
 */
export function scatterAdd(g: Tensor, indices: Tensor, shape: readonly number[], axis = 0): Tensor {
  asTensor("scatterAdd", g);
  checkIndices("scatterAdd", indices);
  const s = checkShape("scatterAdd", shape);
  const a = normalizeAxis("scatterAdd", axis, s.length);
  const expected = [...s.slice(0, a), ...indices.shape, ...s.slice(a + 1)];
  if (!shapesEqual(expected, g.shape)) {
    throw new DeltagradError(`scatterAdd: values of shape ${fmtShape(g.shape)} do not match indices ${fmtShape(indices.shape)} into ${fmtShape(s)} along axis ${a}`);
  }
  return apply(RULES.scatterAdd, [g, indices], { axis: a, shape: s });
}

/**
 * One-hot rows for int32 class indices: shape `[...indices.shape, depth]` (float32 by default, no gradient).
 * Out-of-range indices give all-zero rows, as TF.js.
 *
 * @example
 * ```ts
 * oneHot(tensor([0, 2], { dtype: "int32" }), 3); // [[1,0,0],[0,0,1]]
 * ```
 */
export function oneHot(indices: Tensor, depth: number, opts?: { dtype?: DType }): Tensor {
  checkIndices("oneHot", indices);
  const { dtype = "float32" } = optionsOf("oneHot", opts);
  if (!Number.isInteger(depth) || depth < 0 || depth * Math.max(1, indices.size) > 2 ** 31 - 1) {
    throw new DeltagradError(`oneHot: depth must be a non-negative integer (and depth × indices no more than 2³¹−1 elements), got ${describe(depth)}`);
  }
  checkDType("oneHot", dtype);
  // A comparison kernel, so it never reads index values on the host.
  const classes = arange(depth, undefined, 1, { dtype: "int32" });
  return cast(equal(unsqueeze(indices, -1), classes), dtype);
}
