/** @internal The options check every package shares (one copy, in autograd's errors.ts). */
export { optionsOf } from "@deltagrad/autograd";

/** @internal A value for an error message; never throws (symbols, bigints, cycles). */
export function describeValue(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "symbol" || typeof v === "function") return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}
