import { isFloat } from "./dtype.js";
import { sweep } from "./engine.js";
import { DeltagradError, fmtShape, optionsOf } from "./errors.js";
import { add, mul, ones, reshape, sum, zerosLike } from "./ops/index.js";
import { describe, shapesEqual } from "./shape.js";
import type { Tensor } from "./tensor.js";
import { isTensor } from "./is-tensor.js";

export interface GradientsOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

/**
 * d(Σ cotangent·output)/d(input) for each input, without touching any `.grad` (PyTorch's
 * `torch.autograd.grad`). Inputs the output does not depend on get zeros.
 *
 * @example
 * ```ts
 * const x = tensor(3, { requiresGrad: true });
 * const [g] = gradients(x.mul(x), [x]); // 6
 * ```
 */
export function gradients(output: Tensor, inputs: readonly Tensor[], cotangent?: Tensor, options?: GradientsOptions): Tensor[] {
  if (!isTensor(output)) throw new DeltagradError(`gradients: output must be a Tensor, got ${describe(output)}`);
  if (!Array.isArray(inputs)) throw new DeltagradError(`gradients: inputs must be an array of tensors, got ${describe(inputs)}`);
  inputs.forEach((x, i) => {
    if (!isTensor(x)) throw new DeltagradError(`gradients: inputs[${i}] must be a Tensor, got ${describe(x)}`);
  });
  if (cotangent !== undefined && !isTensor(cotangent)) throw new DeltagradError(`gradients: cotangent must be a Tensor, got ${describe(cotangent)}`);
  const opts = optionsOf("gradients", options);
  const createGraph = opts.createGraph ?? false;
  if (!output.requiresGrad) return inputs.map((x) => zerosLike(x));
  let g = cotangent;
  if (g === undefined) {
    if (output.size !== 1) throw new DeltagradError(`gradients: output of shape ${fmtShape(output.shape)} is not a scalar; pass a cotangent`);
    g = ones(output.shape, { dtype: output.dtype });
  } else if (!shapesEqual(g.shape, output.shape)) {
    throw new DeltagradError(`gradients: cotangent shape ${fmtShape(g.shape)} does not match output shape ${fmtShape(output.shape)}`);
  }
  const grads = sweep([output], [g], { retainGraph: opts.retainGraph ?? createGraph, createGraph, targets: [...inputs] });
  return inputs.map((x) => grads!.get(x) ?? zerosLike(x));
}

export interface GradOptions {
  /** Which arguments to differentiate: one index (result is a tensor) or a list (result is an array). Default 0. */
  argnums?: number | readonly number[];
  /**
   * Keep the returned gradients on the graph. Default: true when an argument already requires
   * gradients (someone outside is differentiating: `grad(grad(f))`), false otherwise.
   */
  createGraph?: boolean;
}

type Fn = (...args: Tensor[]) => Tensor;

/**
 * Prepares fresh differentiable stand-ins for the chosen arguments: an argument that already
 * requires gradients gets an identity op on top (so the outer graph stays connected), others a
 * new leaf.
 */
function prepare(op: string, args: Tensor[], argnums: readonly number[]): { args: Tensor[]; createGraph: boolean } {
  const out = args.slice();
  let connected = false;
  for (const i of argnums) {
    const a = args[i];
    if (!isTensor(a)) throw new DeltagradError(`${op}: argument ${i} must be a Tensor, got ${a === undefined ? "nothing" : typeof a}`);
    if (!isFloat(a.dtype)) throw new DeltagradError(`${op}: argument ${i} must be float32 or float64 to differentiate, got ${a.dtype}`);
    if (a.requiresGrad) {
      connected = true;
      out[i] = reshape(add(a, 0), a.shape); // a recorded identity
    } else out[i] = a.detach().requiresGrad_(true);
  }
  return { args: out, createGraph: connected };
}

function normArgnums(op: string, argnums: number | readonly number[] | undefined, n: number): number[] {
  if (argnums !== undefined && typeof argnums !== "number" && !Array.isArray(argnums)) {
    throw new DeltagradError(`${op}: argnums must be an index or an array of indices, got ${describe(argnums)}`);
  }
  const list = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : [...argnums];
  for (const i of list) if (!Number.isInteger(i) || i < 0 || i >= n) throw new DeltagradError(`${op}: argnums ${describe(argnums)} out of range for ${n} arguments`);
  return list;
}

/**
 * The function's value and its gradient with respect to `argnums`. `f` must return a scalar.
 *
 * @example
 * ```ts
 * const [y, dy] = valueAndGrad((x) => x.mul(x).sum())(tensor([1, 2])); // 5, [2, 4]
 * ```
 */
export function valueAndGrad(f: Fn, options?: GradOptions) {
  return transform("valueAndGrad", f, options);
}

function transform(op: string, f: Fn, options: GradOptions | undefined) {
  if (typeof f !== "function") throw new DeltagradError(`${op}: f must be a function, got ${describe(f)}`);
  const opts = optionsOf(op, options);
  return (...args: Tensor[]): [Tensor, Tensor | Tensor[]] => {
    const nums = normArgnums(op, opts.argnums, args.length);
    const p = prepare(op, args, nums);
    const createGraph = opts.createGraph ?? p.createGraph;
    const y = f(...p.args);
    if (!isTensor(y)) throw new DeltagradError(`${op}: the function must return a Tensor`);
    if (y.size !== 1) throw new DeltagradError(`${op}: the function must return a scalar, got shape ${fmtShape(y.shape)}; use vjp for other outputs`);
    const gs = gradients(y, nums.map((i) => p.args[i]!), undefined, { createGraph });
    const value = createGraph ? y : y.detach();
    return [value, typeof opts.argnums === "object" ? gs : gs[0]!];
  };
}

/**
 * The gradient transform: `grad(f)(x)` is ∇f(x) (a tensor); with `argnums: [0, 2]` it returns an
 * array. Composes: `grad(grad(f))` is the second derivative.
 *
 * @example
 * ```ts
 * const d2 = grad(grad((x) => x.pow(3).sum()));
 * d2(tensor(2)); // 12
 * ```
 */
export function grad(f: Fn, opts: GradOptions & { argnums: readonly number[] }): (...args: Tensor[]) => Tensor[];
export function grad(f: Fn, opts?: GradOptions & { argnums?: number }): (...args: Tensor[]) => Tensor;
export function grad(f: Fn, opts?: GradOptions): (...args: Tensor[]) => Tensor | Tensor[];
export function grad(f: Fn, opts?: GradOptions): (...args: Tensor[]) => Tensor | Tensor[] {
  const vg = transform("grad", f, opts);
  return (...args: Tensor[]) => vg(...args)[1];
}

/**
 * Runs `f` on `primals` and returns its output with a function that maps an output cotangent to
 * the cotangents of every primal (reusable: the graph is retained).
 *
 * @example
 * ```ts
 * const [y, back] = vjp((x) => x.mul(2), tensor([1, 2]));
 * back(tensor([1, 1])); // [[2, 2]]
 * ```
 */
export function vjp(f: (...args: Tensor[]) => Tensor, ...primals: Tensor[]): [Tensor, (cotangent: Tensor) => Tensor[]] {
  if (typeof f !== "function") throw new DeltagradError(`vjp: f must be a function, got ${describe(f)}`);
  const nums = primals.map((_, i) => i);
  const p = prepare("vjp", primals, nums);
  const y = f(...p.args);
  if (!isTensor(y)) throw new DeltagradError("vjp: the function must return a Tensor");
  const back = (ct: Tensor): Tensor[] => {
    if (!isTensor(ct)) throw new DeltagradError("vjp: the cotangent must be a Tensor");
    if (!shapesEqual(ct.shape, y.shape)) throw new DeltagradError(`vjp: cotangent shape ${fmtShape(ct.shape)} does not match output shape ${fmtShape(y.shape)}`);
    return gradients(y, p.args, ct, { createGraph: p.createGraph, retainGraph: true });
  };
  return [p.createGraph ? y : y.detach(), back];
}

/**
 * Hessian-vector product H(x)·v of a scalar function, by differentiating ⟨∇f(x), v⟩ — no Hessian
 * is formed.
 *
 * @example
 * ```ts
 * hvp((x) => x.pow(3).sum(), tensor([1, 2]), tensor([1, 1])); // [6, 12]
 * ```
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  if (typeof f !== "function") throw new DeltagradError(`hvp: f must be a function, got ${describe(f)}`);
  if (!isTensor(v) || !isTensor(x) || !shapesEqual(v.shape, x.shape)) {
    throw new DeltagradError(`hvp: v must be a Tensor shaped like x ${isTensor(x) ? fmtShape(x.shape) : ""}`);
  }
  return grad((xx: Tensor) => sum(mul(grad(f, { createGraph: true })(xx), v)))(x);
}
