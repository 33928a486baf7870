/**
 * The one Tensor test for modules outside the core loop (format, display, transforms, gradcheck):
 * a brand on Tensor's prototype instead of `instanceof Tensor`, so they need only `import type`
 * from tensor.ts and stay out of the import circle. This file imports nothing at run time.
 */
import type { Tensor } from "./tensor.js";

/** @internal The brand: `Tensor.prototype[TENSOR_BRAND]` is true. */
export const TENSOR_BRAND: unique symbol = Symbol("deltagrad.Tensor");

/**
 * Whether `x` is a deltagrad {@link Tensor} (of this copy of the library, as `instanceof` would say).
 *
 * @example
 * ```ts
 * isTensor(tensor([1, 2])); // true
 * isTensor([1, 2]); // false
 * ```
 */
export function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && (x as { [TENSOR_BRAND]?: unknown })[TENSOR_BRAND] === true;
}
