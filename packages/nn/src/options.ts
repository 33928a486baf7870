import { DeltagradError } from "@deltagrad/autograd";

/**
 * @internal An options argument: `{}` when omitted, else it must be an object. `null`, a number
 * or an array is a {@link DeltagradError} naming the function, not a destructuring TypeError.
 */
export function optionsOf<T extends object>(op: string, o: T | null | undefined): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    throw new DeltagradError(`${op}: options must be an object, got ${o === null ? "null" : Array.isArray(o) ? "an array" : typeof o}`);
  }
  return o;
}

/** @internal A value for an error message; never throws (symbols, bigints, cycles). */
export function describeValue(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "symbol" || typeof v === "function") return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}
