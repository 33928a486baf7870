/**
 * @internal The one argument-checking module of nn: the options object (autograd's optionsOf),
 * value descriptions for messages, and the checks layers, models, losses and init share. Each
 * throws a {@link DeltagradError} that names the function or layer and the value it got.
 */
import { DeltagradError, Tensor, fmtShape } from "@deltagrad/autograd";

/** @internal The options check every package shares (one copy, in autograd's errors.ts). */
export { optionsOf } from "@deltagrad/autograd";

/** @internal A value for an error message; never throws (symbols, bigints, cycles). */
export function describeValue(v: unknown): string {
  // Numbers as written: JSON would print NaN and ±Infinity as "null".
  if (typeof v === "number") return String(v);
  if (typeof v === "bigint" || typeof v === "symbol" || typeof v === "function") return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}

/** Shapes print as in every error message: `[2,3]` (autograd's formatter). */
export { fmtShape as fmt } from "@deltagrad/autograd";

/** A positive integer that fits a tensor dimension. */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new DeltagradError(`${where}: ${name} must be a positive integer, got ${describeValue(v)}`);
  if ((v as number) > 2 ** 31 - 1) throw new DeltagradError(`${where}: ${name} ${String(v)} is too large (a tensor holds at most 2³¹−1 elements)`);
  return v as number;
}

/** A finite number strictly above `min` (eps) or in a range (momentum). */
export function finiteNumber(where: string, name: string, v: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new DeltagradError(`${where}: ${name} must be ${rule}, got ${describeValue(v)}`);
  return v;
}

export function bool(where: string, name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new DeltagradError(`${where}: ${name} must be true or false, got ${describeValue(v)}`);
  return v;
}

/** Parameter dtype: float32 (default) or float64. */
export function floatDType(where: string, dtype: unknown): "float32" | "float64" {
  if (dtype === undefined) return "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DeltagradError(`${where}: dtype must be "float32" or "float64", got ${describeValue(dtype)}`);
  return dtype;
}

/** A per-axis size: a number for every axis, or an array of `n` of them, each an integer ≥ min. */
export function sizeN(where: string, name: string, v: unknown, n: number, min: number): number[] {
  const p = typeof v === "number" ? new Array<number>(n).fill(v) : v;
  if (!Array.isArray(p) || p.length !== n || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new DeltagradError(`${where}: ${name} must be an integer ≥ ${min}${n === 1 ? "" : n === 2 ? " or a pair of them" : ` or ${n} of them`}, got ${describeValue(v)}`);
  }
  return p.slice() as number[];
}

/** A size for both spatial axes of a 2-D layer: one number for both, or `[h, w]`. */
export function size2(where: string, name: string, v: unknown, min: number): [number, number] {
  return sizeN(where, name, v, 2, min) as [number, number];
}

/** Sizes in the extra text of a layer: one number when every axis agrees, else `h,w`. */
export const text = (v: readonly number[]): string => (v.every((d) => d === v[0]) ? String(v[0]) : v.join(","));

/** The input of a layer's forward: a tensor (of a float dtype unless `int` is asked for). */
export function tensorInput(where: string, x: unknown, what = "input"): Tensor {
  if (!(x instanceof Tensor)) throw new DeltagradError(`${where}: expected a Tensor ${what}, got ${x === null ? "null" : typeof x}`);
  return x;
}

/** Runs a functional op, prefixing its errors with the layer's description so they name the layer. */
export function named<T>(layer: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DeltagradError && !e.message.startsWith(layer)) throw new DeltagradError(`${layer}: ${e.message}`);
    throw e;
  }
}

/** @internal A drop probability in [0, 1) (Dropout, and MLP's `dropout` option). */
export function checkP(where: string, p: unknown): number {
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new DeltagradError(`${where}: p must be a number in [0, 1), got ${String(p)}`);
  return p;
}

/** The NCHW input of a 2-D layer: a tensor of rank 4. */
export function nchwInput(layer: string, x: unknown): Tensor {
  tensorInput(layer, x);
  if ((x as Tensor).rank !== 4) throw new DeltagradError(`${layer}: expected NCHW input of rank 4, got shape ${fmtShape((x as Tensor).shape)}`);
  return x as Tensor;
}
