/** Which tensors are module parameters: the mark {@link parameter} sets and discovery reads. */
import { DeltagradError, Tensor, isFloat } from "@deltagrad/autograd";

/**
 * Tensors that are parameters. A tensor becomes one when a module registers it
 * ({@link Module.registerParameter}), when a layer creates it with {@link parameter}, or when
 * discovery first finds it as a float leaf with `requiresGrad`. Membership outlives
 * `requiresGrad = false`, so a frozen weight stays in `parameters()` and `stateDict()`.
 */
const PARAMETERS = new WeakSet<Tensor>();

/**
 * Marks a float leaf tensor as a module parameter and turns on its gradient tracking. Modules
 * find parameters among their own fields, so `this.weight = parameter(t)` is all a layer needs.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   readonly s = parameter(ones([1]));
 *   forward(x: Tensor) { return x.mul(this.s); }
 * }
 * new Scale().numParameters(); // 1
 * ```
 */
export function parameter(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`parameter: expected a Tensor, got ${typeof t}`);
  if (!isFloat(t.dtype)) throw new DeltagradError(`parameter: parameters must be float32 or float64, got ${t.dtype}`);
  if (!t.isLeaf) throw new DeltagradError(`parameter: a parameter must be a leaf tensor (this one was produced by ${t.gradFn}); use detach() first`);
  t.requiresGrad = true;
  PARAMETERS.add(t);
  return t;
}

/** @internal A parameter: marked, or found as a float leaf with `requiresGrad` (then marked). */
export function isParameter(v: unknown): v is Tensor {
  if (!(v instanceof Tensor)) return false;
  if (PARAMETERS.has(v)) return true;
  if (v.isLeaf && v.requiresGrad && isFloat(v.dtype)) {
    PARAMETERS.add(v);
    return true;
  }
  return false;
}

/** @internal Whether `t` was ever marked as a parameter (a buffer must not be one). */
export function isMarkedParameter(t: Tensor): boolean {
  return PARAMETERS.has(t);
}
