import { add, div, maximum, mul, neg, sqrt, zerosLike, type Tensor } from "@deltagrad/autograd";
import { Optimizer, type Params, type StateSpec, type UpdateResult } from "./optimizer.js";
import { checkBoolean, checkNumber, fail, fmt, resolveOptions, checkUpdateArgs } from "./checks.js";

/** Hyperparameters of {@link Adam} and {@link AdamW} (PyTorch's, in camelCase). */
export interface AdamOptions {
  /** Learning rate, ≥ 0. Default 1e-3. */
  lr: number;
  /** Decay rates (β₁, β₂) of the first and second moment estimates, each in [0, 1). Default [0.9, 0.999]. */
  betas: [number, number];
  /** Added to √v̂ (outside the root). > 0, default 1e-8. */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay p ← p·(1 − lr·λ) (default 0.01). ≥ 0. */
  weightDecay: number;
  /** AMSGrad: normalize by the running maximum of v. Default false. */
  amsgrad: boolean;
  /** Maximize the objective. Default false. */
  maximize: boolean;
}

/** State of one parameter under {@link Adam} / {@link AdamW}. */
export type AdamState = { step: number; exp_avg: Tensor; exp_avg_sq: Tensor; max_exp_avg_sq?: Tensor };

/**
 * The moment updates and the step shared by Adam and AdamW, after any weight decay
 * (PyTorch's `_single_tensor_adam`):
 *
 *     m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,   amsgrad: v_max ← max(v_max, v)
 *     p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + eps)
 */
function adamCore(param: Tensor, g: Tensor, state: AdamState | undefined, hp: AdamOptions): UpdateResult<AdamState> {
  const { lr, betas: [beta1, beta2], eps, amsgrad } = hp;
  const step = (state?.step ?? 0) + 1;
  const expAvg = add(mul(state?.exp_avg ?? zerosLike(param), beta1), mul(g, 1 - beta1));
  const expAvgSq = add(mul(state?.exp_avg_sq ?? zerosLike(param), beta2), mul(mul(g, g), 1 - beta2));
  const next: AdamState = { step, exp_avg: expAvg, exp_avg_sq: expAvgSq };
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
  const stepSize = lr / biasCorrection1;
  let v = expAvgSq;
  if (amsgrad) {
    // The running max of v itself (not of v̂), as PyTorch keeps it.
    v = state?.max_exp_avg_sq === undefined ? expAvgSq : maximum(state.max_exp_avg_sq, expAvgSq);
    next.max_exp_avg_sq = v;
  }
  const denom = add(div(sqrt(v), biasCorrection2Sqrt), eps);
  return { param: add(param, mul(div(expAvg, denom), -stepSize)), state: next };
}

/**
 * One Adam step for one parameter, as PyTorch computes it: g ← ±∇ + λp (L2 weight decay), then
 * the bias-corrected moment step. The first step is −lr·g/(|g| + eps).
 *
 * @example
 * ```ts
 * const hp = { lr: 0.01, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
 * adamUpdate(tensor([1]), tensor([3]), undefined, hp).param; // ≈ [0.99]
 * ```
 */
export function adamUpdate(param: Tensor, grad: Tensor, state: AdamState | undefined, hp: AdamOptions): UpdateResult<AdamState> {
  checkUpdateArgs("adamUpdate", param, grad, hp);
  let g = hp.maximize ? neg(grad) : grad;
  if (hp.weightDecay !== 0) g = add(g, mul(param, hp.weightDecay));
  return adamCore(param, g, state, hp);
}

/**
 * One AdamW step for one parameter, as PyTorch computes it: p ← p·(1 − lr·λ) (decoupled weight
 * decay, Loshchilov & Hutter), then Adam's moment step on g = ±∇.
 *
 * @example
 * ```ts
 * const hp = { lr: 0.01, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, amsgrad: false, maximize: false };
 * adamwUpdate(tensor([1]), tensor([3]), undefined, hp).param; // ≈ [0.9899]
 * ```
 */
export function adamwUpdate(param: Tensor, grad: Tensor, state: AdamState | undefined, hp: AdamOptions): UpdateResult<AdamState> {
  checkUpdateArgs("adamwUpdate", param, grad, hp);
  const g = hp.maximize ? neg(grad) : grad;
  const decayed = hp.weightDecay !== 0 ? mul(param, 1 - hp.lr * hp.weightDecay) : param;
  return adamCore(decayed, g, state, hp);
}

/** @internal Validation shared by Adam, AdamW and NAdam. */
export function validateAdamLike(name: string, hp: { lr: number; betas: unknown; eps: number; weightDecay: number }): void {
  checkNumber(name, "lr", hp.lr, (x) => x >= 0, "lr ≥ 0");
  if (!Array.isArray(hp.betas) || hp.betas.length !== 2) fail(name, `betas must be a pair [beta1, beta2], got ${fmt(hp.betas)}`);
  checkNumber(name, "betas[0]", hp.betas[0], (x) => x >= 0 && x < 1, "0 ≤ beta1 < 1");
  checkNumber(name, "betas[1]", hp.betas[1], (x) => x >= 0 && x < 1, "0 ≤ beta2 < 1");
  checkNumber(name, "eps", hp.eps, (x) => x > 0, "eps > 0");
  checkNumber(name, "weightDecay", hp.weightDecay, (x) => x >= 0, "weightDecay ≥ 0");
}

abstract class AdamBase extends Optimizer<AdamOptions, AdamState> {
  protected validate(hp: AdamOptions): void {
    validateAdamLike(this.name, hp);
    checkBoolean(this.name, "amsgrad", hp.amsgrad);
    checkBoolean(this.name, "maximize", hp.maximize);
  }

  protected stateSpec(hp: AdamOptions): StateSpec {
    return { tensors: hp.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"], scalars: ["step"] };
  }
}

/**
 * Adam (Kingma & Ba, 2015) with optional L2 weight decay, AMSGrad and maximization —
 * PyTorch's `torch.optim.Adam`, step for step.
 *
 * @example
 * ```ts
 * const opt = new Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.999] });
 * ```
 */
export class Adam extends AdamBase {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    const defaults: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    super("Adam", params, resolveOptions("Adam", options, defaults));
  }

  protected update(param: Tensor, grad: Tensor, state: AdamState | undefined, hp: AdamOptions): UpdateResult<AdamState> {
    return adamUpdate(param, grad, state, hp);
  }
}

/**
 * AdamW: Adam with decoupled weight decay p ← p·(1 − lr·λ), default λ = 0.01 —
 * PyTorch's `torch.optim.AdamW`, step for step.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * ```
 */
export class AdamW extends AdamBase {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    const defaults: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false };
    super("AdamW", params, resolveOptions("AdamW", options, defaults));
  }

  protected update(param: Tensor, grad: Tensor, state: AdamState | undefined, hp: AdamOptions): UpdateResult<AdamState> {
    return adamwUpdate(param, grad, state, hp);
  }
}
