/**
 * Tensor's argument checks and errors, kept out of tensor.ts (which stays a class of one-line
 * delegates). Only types from tensor.ts: this module is not part of the core import loop.
 */
import { dtypeOfArray, isFloat, type TypedArray } from "./dtype.js";
import { DeltagradError, fmtShape } from "./errors.js";
import { isTensor } from "./is-tensor.js";
import type { Tensor } from "./tensor.js";

/**
 * @internal `g` if it can be `t`'s gradient: null, or a float Tensor of `t`'s shape (optimizers cast the other float dtype).
 *
 * @example
 * ```ts
 * checkGrad(w, g, "replaceGrad"); // g, or a DeltagradError naming replaceGrad and both shapes
 * ```
 */
export function checkGrad(t: Tensor, g: Tensor | null, op: string): Tensor | null {
  if (g !== null && !isTensor(g)) throw new DeltagradError(`${op}: expected a Tensor or null, got ${typeof g}`);
  if (g !== null && (!isFloat(g.dtype) || g.shape.length !== t.shape.length || g.shape.some((d, i) => d !== t.shape[i]))) {
    throw new DeltagradError(`${op}: gradient ${fmtShape(g.shape)} ${g.dtype} does not fit the tensor's ${fmtShape(t.shape)} (same shape, a float dtype)`);
  }
  return g;
}

/** @internal The error a read of a disposed tensor throws. @example `throw disposedError(t)` */
export function disposedError(t: Tensor): DeltagradError {
  return new DeltagradError(
    `tensor ${fmtShape(t.shape)} ${t.dtype} was disposed${t.isLeaf ? "" : ` (an intermediate of ${t.gradFn}, released when backward freed its graph; pass { retainGraph: true } to keep it)`} and can no longer be used`,
  );
}

/** The array type that holds each dtype's values, for error messages. */
const ARRAY_OF = { float32: "Float32Array", float64: "Float64Array", int32: "Int32Array", bool: "Uint8Array" } as const;

/**
 * @internal `out` if a read of `t` can write into it: an array of `t`'s dtype (Float32Array for
 * float32, …) with exactly `t.size` elements.
 *
 * @example
 * ```ts
 * checkOut(t, buf, "dataSync"); // buf, or a DeltagradError naming dataSync, the array and the tensor
 * ```
 */
export function checkOut(t: Tensor, out: unknown, op: string): TypedArray {
  const d = dtypeOfArray(out);
  if (d !== t.dtype || (out as TypedArray).length !== t.size) {
    const got = d === undefined ? (out === null ? "null" : typeof out === "object" ? (out as object).constructor?.name ?? "an object" : typeof out) : `${(out as TypedArray).constructor.name} of ${(out as TypedArray).length}`;
    throw new DeltagradError(`${op}: out must be a ${ARRAY_OF[t.dtype]} of ${t.size} elements (the tensor's ${fmtShape(t.shape)} ${t.dtype}), got ${got}`);
  }
  return out as TypedArray;
}
