import { gradients } from "./autograd.js";
import { enableGrad, noGrad } from "./engine.js";
import { DeltagradError, fmtShape, optionsOf } from "./errors.js";
import { describe } from "./shape.js";
import { Generator } from "./random.js";
import { concat, mul, reshape, sum, tensor, zerosLike } from "./ops/index.js";
import type { Tensor } from "./tensor.js";
import { isTensor } from "./is-tensor.js";

export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance. Default 1e-3. */
  rtol?: number;
  /** Seed of the random output cotangent. Default 0. */
  seed?: number;
}

/** The worst mismatch found by {@link gradcheck}. */
export interface GradcheckReport {
  input: number;
  index: number[];
  analytic: number;
  numeric: number;
}

/**
 * Thrown by {@link gradcheck} with a report of the worst element. @example
 * ```ts
 * try { gradcheck(f, [x]); } catch (e) { if (e instanceof GradcheckError) console.log(e.report); }
 * ```
 */
export class GradcheckError extends DeltagradError {
  constructor(
    message: string,
    readonly report: GradcheckReport,
  ) {
    super(message);
    this.name = "GradcheckError";
  }
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

function checkInputs(op: string, inputs: readonly Tensor[]): void {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new DeltagradError(`${op}: inputs must be a non-empty array of tensors`);
  inputs.forEach((x, i) => {
    if (!isTensor(x)) throw new DeltagradError(`${op}: input ${i} is not a Tensor`);
    if (x.requiresGrad && x.dtype !== "float64") throw new DeltagradError(`${op}: input ${i} is ${x.dtype}; finite differences need float64`);
  });
  if (!inputs.some((x) => x.requiresGrad)) throw new DeltagradError(`${op}: no input has requiresGrad: true`);
}

/**
 * Compares the VJPs of `f` against central finite differences in float64, for every element of
 * every input with `requiresGrad`. One random cotangent v (seeded) projects the output:
 * analytic ∂⟨v, f(x)⟩/∂xᵢ from one backward pass, numeric (⟨v, f(x+εeᵢ)⟩ − ⟨v, f(x−εeᵢ)⟩)/2ε.
 * Also checks that a zero cotangent gives zero gradients. Passes when
 * |analytic − numeric| ≤ atol + rtol·|numeric| everywhere; otherwise throws a
 * {@link GradcheckError} naming the worst element.
 *
 * @example
 * ```ts
 * const x = randn([3, 4], { dtype: "float64", requiresGrad: true });
 * gradcheck((x) => x.sigmoid(), [x]); // true
 * ```
 */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts?: GradcheckOptions): true {
  return gradcheckAs("gradcheck", f, inputs, opts);
}

/** Validates f and the tolerances, so a zero eps is a clear error rather than a NaN "mismatch". */
function checkArgs(op: string, f: unknown, options: GradcheckOptions | undefined): Required<GradcheckOptions> {
  if (typeof f !== "function") throw new DeltagradError(`${op}: f must be a function, got ${describe(f)}`);
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0 } = optionsOf(op, options);
  const positive = (name: string, v: unknown, strict: boolean) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (strict && v === 0)) {
      throw new DeltagradError(`${op}: ${name} must be a ${strict ? "positive" : "non-negative"} finite number, got ${describe(v)}`);
    }
  };
  positive("eps", eps, true);
  positive("atol", atol, false);
  positive("rtol", rtol, false);
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new DeltagradError(`${op}: seed must be a finite number, got ${describe(seed)}`);
  return { eps, atol, rtol, seed } as Required<GradcheckOptions>;
}

function gradcheckAs(op: string, f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradcheckOptions | undefined): true {
  const { eps, atol, rtol, seed } = checkArgs(op, f, opts);
  checkInputs(op, inputs);
  const out0 = noGrad(() => f(...inputs));
  if (!isTensor(out0)) throw new DeltagradError(`${op}: the function must return a Tensor`);
  if (out0.dtype !== "float64") throw new DeltagradError(`${op}: the function returned ${out0.dtype}; it must compute in float64`);
  const g = new Generator(seed);
  const vValues = new Float64Array(out0.size).map(() => g.normal());
  const v = reshape(tensor(vValues, { dtype: "float64" }), out0.shape);

  // Fresh leaves so the check never touches the caller's .grad.
  const leaves = inputs.map((x) => (x.requiresGrad ? x.detach().requiresGrad_(true) : x));
  const diff = leaves.filter((x) => x.requiresGrad);
  const y = f(...leaves);
  const analytic = y.requiresGrad ? gradients(y, diff, v, { retainGraph: true }) : diff.map((x) => zerosLike(x));
  if (y.requiresGrad) {
    const zero = gradients(y, diff, zerosLike(y));
    zero.forEach((z, k) => {
      const bad = z.dataSync().findIndex((e) => e !== 0);
      if (bad >= 0) {
        throw new GradcheckError(`${op}: a zero cotangent gave a nonzero gradient ${z.dataSync()[bad]} for input ${k} at ${fmtShape(unravel(bad, z.shape))}`, {
          input: k, index: unravel(bad, z.shape), analytic: z.dataSync()[bad]!, numeric: 0,
        });
      }
    });
  }

  const project = (args: Tensor[]) => noGrad(() => sum(mul(f(...args), v)).itemSync());
  let worst: (GradcheckReport & { excess: number }) | null = null;
  diff.forEach((x, k) => {
    const base = x.dataSync();
    const a = analytic[k]!.dataSync();
    for (let i = 0; i < base.length; i++) {
      const at = (delta: number) => {
        const p = base.slice();
        p[i] = base[i]! + delta;
        const args = leaves.map((l) => (l === x ? tensor(p, { dtype: "float64" }).reshape(x.shape) : l));
        return project(args);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      const err = Math.abs(a[i]! - numeric);
      const excess = err - (atol + rtol * Math.abs(numeric));
      if (!(excess <= 0) && (!worst || !(excess <= worst.excess))) {
        worst = { input: inputs.indexOf(x) >= 0 ? inputs.indexOf(x) : leaves.indexOf(x), index: unravel(i, x.shape), analytic: a[i]!, numeric, excess };
      }
    }
  });
  if (worst) {
    const w = worst as GradcheckReport & { excess: number };
    throw new GradcheckError(
      `${op}: gradient mismatch for input ${w.input} at ${fmtShape(w.index)}: analytic ${w.analytic}, numeric ${w.numeric} (atol ${atol}, rtol ${rtol})`,
      { input: w.input, index: w.index, analytic: w.analytic, numeric: w.numeric },
    );
  }
  return true;
}

/**
 * Second-order check: runs {@link gradcheck} on the map x ↦ ∂⟨v, f(x)⟩/∂x (computed with
 * `createGraph`), so the VJPs' own VJPs are compared against finite differences.
 *
 * @example
 * ```ts
 * gradgradcheck((x) => x.tanh(), [randn([4], { dtype: "float64", requiresGrad: true })]); // true
 * ```
 */
export function gradgradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts?: GradcheckOptions): true {
  checkArgs("gradgradcheck", f, opts);
  checkInputs("gradgradcheck", inputs);
  const out0 = noGrad(() => f(...inputs));
  if (!isTensor(out0)) throw new DeltagradError("gradgradcheck: the function must return a Tensor");
  const g = new Generator((opts?.seed ?? 0) + 1);
  const v = reshape(tensor(new Float64Array(out0.size).map(() => g.normal()), { dtype: "float64" }), out0.shape);
  const mask = inputs.map((x) => x.requiresGrad);
  // Evaluated both on the graph (analytic pass) and under noGrad (finite differences), so it
  // turns recording back on and makes fresh leaves of inputs that are plain values.
  const firstOrder = (...xs: Tensor[]) =>
    enableGrad(() => {
      const ins = xs.map((x, i) => (mask[i] && !x.requiresGrad ? x.detach().requiresGrad_(true) : x));
      const y = f(...ins);
      const diff = ins.filter((_, i) => mask[i]);
      const gs = y.requiresGrad ? gradients(y, diff, v, { createGraph: true }) : diff.map((d) => zerosLike(d));
      return concat(gs.map((d) => reshape(d, [d.size])));
    });
  return gradcheckAs("gradgradcheck", firstOrder, inputs, opts);
}
