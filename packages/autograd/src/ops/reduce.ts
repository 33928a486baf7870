import type { ArgReduceKernel } from "../backend.js";
import { isFloat } from "../dtype.js";
import { RULES } from "../primitives.js";
import { apply, noGrad } from "../engine.js";
import { DeltagradError, optionsOf, within } from "../errors.js";
import { describe, normalizeAxes, normalizeAxis, sizeOf } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { add, asTensor, cast, div, equal, exp, log, mul, neg, sqrt, square, sub, where } from "./elementwise.js";
import { matmul } from "./linalg.js";
import { reshape, transpose } from "./movement.js";
import { ones, tensor } from "./create.js";
import { scoped } from "../lifetime.js";

export interface ReduceOptions {
  /** Axis or axes to reduce; all when omitted. Negative axes count from the end. */
  axis?: number | readonly number[];
  /** Keep reduced axes as size 1. Default false. */
  keepDims?: boolean;
}

export interface AxisOptions {
  /** The one axis to reduce; when omitted the tensor is flattened first. */
  axis?: number;
  keepDims?: boolean;
}

export interface VarianceOptions extends ReduceOptions {
  /** Subtracted from the count in the denominator: 0 (default, NumPy/TF.js) or 1 (unbiased). */
  correction?: number;
}

function dropAxes(t: Tensor, axes: readonly number[], keepDims: boolean | undefined): Tensor {
  return keepDims ? t : reshape(t, t.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Sum over axes (all by default). Bool and int32 sum to int32.
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0 }); // [4, 6]
 * ```
 */
export function sum(x: Tensor, opts?: ReduceOptions): Tensor {
  asTensor("sum", x);
  const { axis, keepDims } = optionsOf("sum", opts);
  const axes = normalizeAxes("sum", axis, x.rank);
  const xin = x.dtype === "bool" ? cast(x, "int32") : x;
  return dropAxes(apply(RULES.sum, [xin], { axes }), axes, keepDims);
}

/** Mean over axes (float result). @example `mean(tensor([1, 2, 3, 4])) // 2.5` */
export function mean(x: Tensor, opts?: ReduceOptions): Tensor {
  asTensor("mean", x);
  const axes = normalizeAxes("mean", optionsOf("mean", opts).axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  return scoped(() => div(sum(isFloat(x.dtype) ? x : cast(x, "float32"), opts), n));
}

/**
 * Maximum over axes. NaN propagates. Equal maxima share the gradient evenly (PyTorch's rule for
 * reductions); `argmax` picks the first of them.
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), { axis: 1 }); // [5, 7]
 * ```
 */
export function max(x: Tensor, opts?: ReduceOptions): Tensor {
  asTensor("max", x);
  const { axis, keepDims } = optionsOf("max", opts);
  const axes = normalizeAxes("max", axis, x.rank);
  if (axes.some((a) => x.shape[a] === 0)) throw new DeltagradError(`max: cannot reduce an empty axis of shape [${x.shape.join(",")}]`);
  const xin = x.dtype === "bool" ? cast(x, "int32") : x;
  return dropAxes(apply(RULES.max, [xin], { axes }), axes, keepDims);
}

/** Minimum over axes = −max(−x). @example `min(tensor([3, 1, 2])) // 1` */
export function min(x: Tensor, opts?: ReduceOptions): Tensor {
  asTensor("min", x);
  return within("min", () => neg(max(neg(x), opts)));
}

function argReduce(op: ArgReduceKernel, x: Tensor, opts: AxisOptions | undefined): Tensor {
  asTensor(op, x);
  const { axis, keepDims } = optionsOf(op, opts);
  if (axis === undefined) {
    const flat = reshape(x, [x.size]);
    const r = argReduce(op, flat, { axis: 0 });
    return keepDims ? reshape(r, x.shape.map(() => 1)) : r;
  }
  const a = normalizeAxis(op, axis, x.rank);
  if (x.rank === 0) return reshape(argReduce(op, reshape(x, [1]), { axis: 0 }), []);
  if (x.shape[a] === 0) throw new DeltagradError(`${op}: cannot reduce an empty axis ${a} of shape [${x.shape.join(",")}]`);
  return dropAxes(apply(RULES.argReduce, [x], { op, axis: a }), [a], keepDims);
}

/** Index (int32) of the largest value; ties go to the first index. @example `argmax(tensor([1, 3, 3])) // 1` */
export function argmax(x: Tensor, opts?: AxisOptions): Tensor {
  return argReduce("argmax", x, opts);
}

/** Index (int32) of the smallest value; ties go to the first index. @example `argmin(tensor([2, 1, 1])) // 1` */
export function argmin(x: Tensor, opts?: AxisOptions): Tensor {
  return argReduce("argmin", x, opts);
}

/**
 * Σ(x − mean)² / (n − correction). correction 0 (default) as NumPy and TF.js; 1 is unbiased.
 *
 * @example
 * ```ts
 * variance(tensor([1, 2, 3, 4]));                     // 1.25
 * variance(tensor([1, 2, 3, 4]), { correction: 1 });  // 1.666…
 * ```
 */
export function variance(x: Tensor, opts?: VarianceOptions): Tensor {
  return varianceOf("variance", x, opts);
}

function varianceOf(op: string, x: Tensor, opts: VarianceOptions | undefined): Tensor {
  asTensor(op, x);
  const { axis, keepDims, correction = 0 } = optionsOf(op, opts);
  if (typeof correction !== "number" || !Number.isFinite(correction)) throw new DeltagradError(`${op}: correction must be a finite number, got ${describe(correction)}`);
  const axes = normalizeAxes(op, axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  return scoped(() => {
    const centered = sub(x, mean(x, { axis: axes, keepDims: true }));
    return div(sum(square(centered), { axis: axes, keepDims }), n - correction);
  });
}

/**
 * √variance. Where the variance is exactly 0 (a constant slice) the gradient is 0, as PyTorch
 * defines it, rather than √'s 0·∞ = NaN: the value there is taken from a branch where no
 * gradient flows, and √ sees 1 instead of 0 (so its own derivative stays finite).
 *
 * @example
 * ```ts
 * std(tensor([1, 3])); // 1
 * ```
 */
export function std(x: Tensor, opts?: VarianceOptions): Tensor {
  return scoped(() => {
    const v = varianceOf("std", x, opts);
    const zero = equal(v, 0);
    return where(zero, 0, sqrt(where(zero, 1, v)));
  });
}

/**
 * log Σ eˣ, stable: m + log Σ e^(x−m) with m = max(x) held constant (the result does not depend on
 * m, so its gradient is exactly softmax). An all −∞ slice gives −∞, and so does an empty one
 * (log of an empty sum, log 0).
 *
 * @example
 * ```ts
 * logSumExp(tensor([1000, 1000])); // 1000.6931…
 * ```
 */
export function logSumExp(x: Tensor, opts?: ReduceOptions): Tensor {
  asTensor("logSumExp", x);
  const { axis, keepDims } = optionsOf("logSumExp", opts);
  const axes = normalizeAxes("logSumExp", axis, x.rank);
  return scoped(() => {
    const m = noGrad(() => {
      if (axes.some((a) => x.shape[a] === 0)) return 0; // an empty slice: log Σ over nothing = log 0 = −∞
      const mx = max(x, { axis: axes, keepDims: true });
      return where(equal(mx, -Infinity), 0, mx); // keeps x − m finite when a whole slice is −∞
    });
    const s = log(sum(exp(sub(x, m)), { axis: axes, keepDims: true }));
    return dropAxes(add(s, m), axes, keepDims);
  });
}

/**
 * log softmax along `axis` (default −1): x − logSumExp(x).
 *
 * @example
 * ```ts
 * logSoftmax(tensor([0, 0])); // [-0.6931, -0.6931]
 * ```
 */
export function logSoftmax(x: Tensor, opts?: { axis?: number }): Tensor {
  asTensor("logSoftmax", x);
  const { axis = -1 } = optionsOf("logSoftmax", opts);
  normalizeAxis("logSoftmax", axis, x.rank);
  return scoped(() => sub(x, logSumExp(x, { axis, keepDims: true })));
}

/**
 * softmax along `axis` (default −1): e^(x−m) / Σ e^(x−m), stable for large logits.
 *
 * @example
 * ```ts
 * softmax(tensor([1, 1])); // [0.5, 0.5]
 * ```
 */
export function softmax(x: Tensor, opts?: { axis?: number }): Tensor {
  asTensor("softmax", x);
  const { axis = -1 } = optionsOf("softmax", opts);
  const a = normalizeAxis("softmax", axis, x.rank);
  // An empty axis has no max; its softmax is empty anyway, so any shift will do.
  return scoped(() => {
    const m = x.shape[a] === 0 ? 0 : noGrad(() => max(x, { axis: a, keepDims: true }));
    const e = exp(sub(x, m));
    return div(e, sum(e, { axis: a, keepDims: true }));
  });
}

/**
 * Cumulative sum along `axis` (default −1), as a product with an upper-triangular matrix of ones
 * (a composite: its gradient is the reversed cumulative sum).
 *
 * @example
 * ```ts
 * cumsum(tensor([1, 2, 3])); // [1, 3, 6]
 * ```
 */
export function cumsum(x: Tensor, opts?: { axis?: number }): Tensor {
  asTensor("cumsum", x);
  const { axis = -1 } = optionsOf("cumsum", opts);
  if (x.rank === 0) return x;
  const a = normalizeAxis("cumsum", axis, x.rank);
  const n = x.shape[a]!;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = 1;
  const xf = isFloat(x.dtype) ? x : cast(x, "float32");
  const tri = tensor(u, { dtype: xf.dtype });
  const moved = transpose(xf, a, x.rank - 1);
  return transpose(matmul(moved, reshape(tri, [n, n])), a, x.rank - 1);
}

