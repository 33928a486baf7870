import { DeltagradError } from "./errors.js";

/** Element types: `float32` (default), `float64` (cpu; gradcheck), `int32` (labels, indices), `bool`. */
export type DType = "float32" | "float64" | "int32" | "bool";

/** The TypedArray that stores each dtype on the cpu backend. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool"];

/** Allocates a zero-filled TypedArray of `size` elements for `dtype`. */
export function allocate(dtype: DType, size: number): TypedArray {
  // A switch keeps each `new` monomorphic (a table lookup made this a megamorphic call site).
  switch (dtype) {
    case "float32": return new Float32Array(size);
    case "float64": return new Float64Array(size);
    case "int32": return new Int32Array(size);
    default: return new Uint8Array(size);
  }
}

/** Bytes per element of `dtype`. */
export function bytesPerElement(dtype: DType): number {
  // A switch, not a table lookup: a keyed load that turns megamorphic once a process has seen every dtype.
  switch (dtype) {
    case "float32": case "int32": return 4;
    case "float64": return 8;
    default: return 1;
  }
}

/**
 * Whether gradients can flow through tensors of this dtype.
 *
 * @example
 * ```ts
 * isFloat("float64"); // true — isFloat("int32") is false
 * ```
 */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** bool < int32 < float32 < float64 (a switch for the same reason as {@link bytesPerElement}). */
function rank(d: DType): number {
  switch (d) {
    case "bool": return 0;
    case "int32": return 1;
    case "float32": return 2;
    default: return 3;
  }
}

/** Result dtype of a binary op (bool < int32 < float32 < float64), as NumPy/PyTorch promote. */
export function promote(a: DType, b: DType): DType {
  return a === b || rank(a) >= rank(b) ? a : b;
}

/** Throws a clear error unless `d` is one of the four dtypes. */
export function checkDType(op: string, d: unknown): DType {
  if (typeof d === "string" && (DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new DeltagradError(`${op}: unknown dtype ${typeof d === "string" ? JSON.stringify(d) : String(d)} (expected one of ${DTYPES.join(", ")})`);
}

/** The dtype a TypedArray stores, or undefined for other arrays. */
export function dtypeOfArray(a: unknown): DType | undefined {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Uint8Array) return "bool";
  return undefined;
}
