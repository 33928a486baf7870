/**
 * @internal The reduction option and the argument checks every loss shares. Not re-exported by
 * the package index except the two reduction types (see losses/index.ts).
 */
import { DeltagradError, Tensor, cast, clamp, greater, isFloat, log, mean, mul, oneHot, permute, sum, where, type DType, isTracing, fmtShape } from "@deltagrad/autograd";

/** How a loss combines its per-element values: their mean (default), their sum, or none. */
export type Reduction = "mean" | "sum" | "none";

export interface ReductionOptions {
  /** `"mean"` (default), `"sum"` or `"none"` (the unreduced per-element loss). */
  reduction?: Reduction;
}

export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function checkTensor(op: string, x: unknown, arg: string): Tensor {
  if (x instanceof Tensor) return x;
  let what: string = typeof x;
  if (Array.isArray(x)) what = "an array";
  else if (x === null) what = "null";
  throw new DeltagradError(`${op}: expected a Tensor for ${arg}, got ${what}`);
}

/** The input as a float tensor (int and bool inputs become float32). */
export function floatInput(op: string, x: unknown, arg = "input"): Tensor {
  const t = checkTensor(op, x, arg);
  return isFloat(t.dtype) ? t : cast(t, "float32");
}

export function checkSameShape(op: string, input: Tensor, target: Tensor, targetName = "target"): void {
  if (!sameShape(input.shape, target.shape)) {
    throw new DeltagradError(`${op}: ${targetName} shape ${fmtShape(target.shape)} does not match input shape ${fmtShape(input.shape)}`);
  }
}

export function reduce(op: string, loss: Tensor, reduction: Reduction | undefined): Tensor {
  switch (reduction ?? "mean") {
    case "mean": return mean(loss);
    case "sum": return sum(loss);
    case "none": return loss;
    default: throw new DeltagradError(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  }
}

export function unravel(i: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return fmtShape(idx);
}

/** Host-side label values, or null on an asynchronous backend (see the module comment). */
export function hostValues(t: Tensor): ArrayLike<number> | null {
  // While compile() traces, labels are a graph input whose values change at every replay: no host check.
  return t.backend.synchronous && !isTracing() ? t.dataSync() : null;
}

/**
 * Checks int32 class indices of `expectedShape` in 0 … classes−1. A float tensor is rejected,
 * naming its first non-integer value when it has one.
 */
export function checkClassLabels(op: string, target: Tensor, classes: number, expectedShape: readonly number[]): void {
  if (target.dtype !== "int32") {
    const v = isFloat(target.dtype) ? hostValues(target) : null;
    const bad = v ? Array.prototype.findIndex.call(v, (e: number) => !Number.isInteger(e)) : -1;
    const detail = bad >= 0 ? ` (non-integer label ${v![bad]} at ${unravel(bad, target.shape)})` : "";
    throw new DeltagradError(`${op}: class-index targets must be int32, got ${target.dtype}${detail}`);
  }
  if (!sameShape(target.shape, expectedShape)) {
    throw new DeltagradError(`${op}: target shape ${fmtShape(target.shape)} does not match the expected ${fmtShape(expectedShape)} (input shape without its class axis)`);
  }
  const v = hostValues(target);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    const e = v[i]!;
    if (e < 0 || e >= classes) {
      throw new DeltagradError(`${op}: label ${e} at ${unravel(i, target.shape)} is out of range for ${classes} classes (valid: 0…${classes - 1})`);
    }
  }
}

/** Checks that every label is −1 or +1 (on synchronous backends). */
export function checkSignLabels(op: string, target: Tensor): void {
  const v = hostValues(target);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 1 && v[i] !== -1) throw new DeltagradError(`${op}: labels must be -1 or 1, got ${v[i]} at ${unravel(i, target.shape)}`);
  }
}

/** The class axis of a classification input: 0 for one sample `[C]`, else 1 (`[N, C, …]`, as PyTorch). */
export function classAxis(op: string, x: Tensor): number {
  if (x.rank === 0) throw new DeltagradError(`${op}: input must have a class axis, got a scalar`);
  return x.rank === 1 ? 0 : 1;
}

/** One-hot rows of `target` laid out like `like` (class axis `axis`), in `like`'s dtype. */
export function oneHotLike(target: Tensor, like: Tensor, axis: number): Tensor {
  const oh = oneHot(target, like.shape[axis]!, { dtype: like.dtype as DType });
  if (axis === like.rank - 1) return oh;
  // oneHot puts classes last: move that axis to position `axis`.
  const perm = [...Array(like.rank).keys()].map((i) => (i < axis ? i : i === axis ? like.rank - 1 : i - 1));
  return permute(oh, perm);
}

/** x·log(y) with 0·log 0 = 0 (xlogy); gradients stay finite where y = 0. */
export function xlogy(x: Tensor, y: Tensor): Tensor {
  const pos = greater(y, 0);
  return where(pos, mul(x, log(where(pos, y, 1))), 0);
}

/** log(p) clamped to ≥ −100 (PyTorch's BCE rule), without ever evaluating log(0) on the graph. */
export function clampedLog(p: Tensor): Tensor {
  const pos = greater(p, 0);
  return clamp(where(pos, log(where(pos, p, 1)), -100), { min: -100 });
}
