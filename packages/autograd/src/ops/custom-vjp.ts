/**
 * customVjp: a function with a hand-written gradient (PyTorch's `autograd.Function`, JAX's
 * `custom_vjp`). The forward runs unrecorded; the graph gets one node, the `customVjp` row of the
 * primitive table, whose attributes carry the user's two closures. The VJP is recorded like any
 * other (under `createGraph` its ops are on the graph), so a VJP written with public ops
 * differentiates again.
 */
import type { Backend } from "../backend.js";
import { apply, noGrad } from "../engine.js";
import { DeltagradError, fmtShape } from "../errors.js";
import { closeScope, openScope } from "../lifetime.js";
import { RULES, type Forward } from "../primitives.js";
import { describe, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";

/**
 * The VJP of a {@link customVjp} function: one cotangent (or null for none) per input, each
 * shaped like its input.
 *
 * @example
 * ```ts
 * const mulVjp: CustomVjpRule<[Tensor, Tensor]> = (g, [a, b]) => [unbroadcast(g.mul(b), a.shape), unbroadcast(g.mul(a), b.shape)];
 * ```
 */
export type CustomVjpRule<A extends Tensor[]> = (g: Tensor, inputs: A, output: Tensor) => readonly (Tensor | null)[];

/** @internal The attributes of a `customVjp` node: the user's closures, wrapped with checks. */
export interface CustomVjpAttrs {
  readonly name: string;
  forward(backend: Backend, inputs: Tensor[]): Forward;
  vjp(g: Tensor, inputs: Tensor[], output: Tensor): (Tensor | null)[];
}

/**
 * Wraps `fn` so that its gradient is `vjp` rather than the derivative of the ops inside it.
 * `fn(...inputs)` may use any ops (they are not recorded) and returns one tensor.
 * `vjp(g, inputs, output)` gets the output's cotangent `g`, the inputs and the output, and returns
 * one cotangent per input (`null` where none flows), shaped exactly like that input. Write it with
 * public ops: it is recorded under `createGraph`, so gradients of gradients work.
 *
 * For a numerically delicate composite whose plain derivative is unstable, a straight-through
 * estimator, or a gradient that is cheaper to write than to derive. A cotangent list of the
 * wrong length, or a cotangent of the wrong shape or dtype, throws a DeltagradError naming `fn`.
 *
 * @example
 * ```ts
 * // log(1 + eˣ) whose gradient is σ(x), finite for any x
 * const log1pexp = customVjp(
 *   (x: Tensor) => softplus(x),
 *   (g, [x]) => [g.mul(sigmoid(x))],
 * );
 * // straight-through rounding: round in the forward, identity gradient
 * const roundSte = customVjp(
 *   (x: Tensor) => x.add(0.5).cast("int32").cast(x.dtype), // non-negative x
 *   (g) => [g],
 * );
 * ```
 */
export function customVjp<A extends Tensor[]>(fn: (...inputs: A) => Tensor, vjp: CustomVjpRule<A>): (...inputs: A) => Tensor {
  if (typeof fn !== "function") throw new DeltagradError(`customVjp: fn must be a function, got ${describe(fn)}`);
  if (typeof vjp !== "function") throw new DeltagradError(`customVjp: vjp must be a function, got ${describe(vjp)}`);
  const name = fn.name || "fn";
  const attrs: CustomVjpAttrs = {
    name,
    forward: (backend, inputs) => {
      const y = noGrad(() => fn(...(inputs as A)));
      if (!(y instanceof Tensor)) throw new DeltagradError(`customVjp(${name}): fn must return a Tensor, got ${describe(y)}`);
      // fn ran on the active backend; the node's output lives on the backend apply chose.
      const data = y.backend === backend ? y.handle : backend.upload(y.backend.readSync(y.handle, y.dtype, y.size).slice(), y.dtype);
      return { data, shape: y.shape, dtype: y.dtype };
    },
    vjp: (g, inputs, output) => checkCotangents(name, inputs, vjp(g, inputs.slice() as A, output)),
  };
  return (...inputs: A): Tensor => {
    inputs.forEach((x, i) => {
      if (!(x instanceof Tensor)) throw new DeltagradError(`customVjp(${name}): input ${i} must be a Tensor, got ${describe(x)}`);
    });
    // fn's temporaries (its result included, once the node's output shares its storage) are released here.
    const s = openScope();
    let out: Tensor;
    try {
      out = apply(RULES.customVjp, inputs.slice(), attrs);
    } catch (e) {
      closeScope(s, null);
      throw e;
    }
    closeScope(s, out);
    return out;
  };
}

function checkCotangents(name: string, inputs: Tensor[], gs: unknown): (Tensor | null)[] {
  if (!Array.isArray(gs)) {
    throw new DeltagradError(`customVjp(${name}): vjp must return an array of ${inputs.length} cotangents (Tensor or null), got ${describe(gs)}`);
  }
  if (gs.length !== inputs.length) {
    throw new DeltagradError(`customVjp(${name}): vjp returned ${gs.length} cotangent${gs.length === 1 ? "" : "s"} for ${inputs.length} input${inputs.length === 1 ? "" : "s"}`);
  }
  return gs.map((gi: unknown, i) => {
    if (gi === null || gi === undefined) return null;
    const x = inputs[i]!;
    if (!(gi instanceof Tensor)) throw new DeltagradError(`customVjp(${name}): cotangent ${i} must be a Tensor or null, got ${describe(gi)}`);
    if (!shapesEqual(gi.shape, x.shape) || gi.dtype !== x.dtype) {
      throw new DeltagradError(`customVjp(${name}): cotangent ${i} is ${fmtShape(gi.shape)} ${gi.dtype}, expected ${fmtShape(x.shape)} ${x.dtype} (the shape and dtype of input ${i})`);
    }
    return gi;
  });
}
