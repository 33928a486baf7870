import { add, div, mul, neg, sqrt, zerosLike, type Tensor } from "@deltagrad/autograd";
import { validateAdamLike } from "./adam.js";
import { Optimizer, type Params, type StateSpec, type UpdateResult } from "./optimizer.js";
import { checkBoolean, checkNumber, resolveOptions, checkUpdateArgs } from "./checks.js";

/** Hyperparameters of {@link NAdam} (PyTorch's, in camelCase). */
export interface NAdamOptions {
  /** Learning rate, ≥ 0. Default 2e-3. */
  lr: number;
  /** (β₁, β₂), each in [0, 1). Default [0.9, 0.999]. */
  betas: [number, number];
  /** Added to √v̂. > 0, default 1e-8. */
  eps: number;
  /** L2 penalty λ added to the gradient. ≥ 0, default 0. */
  weightDecay: number;
  /** ψ of the momentum schedule μₜ = β₁(1 − ½·0.96^(tψ)). ≥ 0, default 4e-3. */
  momentumDecay: number;
  /** Maximize the objective (as PyTorch ≥ 2.0). Default false. */
  maximize: boolean;
}

/** State of one parameter under {@link NAdam}: step, the product μ₁⋯μₜ, and Adam's moments. */
export type NAdamState = { step: number; mu_product: number; exp_avg: Tensor; exp_avg_sq: Tensor };

const DEFAULTS: NAdamOptions = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false };

/**
 * One NAdam step (Dozat, 2016: Adam with Nesterov momentum) for one parameter, as PyTorch computes it:
 *
 *     g ← ±∇ (+ λp);   μₜ = β₁(1 − ½·0.96^(tψ)),  Πₜ = μ₁⋯μₜ
 *     m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,   d = √(v/(1−β₂ᵗ)) + eps
 *     p ← p − lr(1−μₜ)/(1−Πₜ) · g/d − lr·μₜ₊₁/(1−Πₜ·μₜ₊₁) · m/d
 *
 * @example
 * ```ts
 * const hp = { lr: 2e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3, maximize: false };
 * const { param, state } = nadamUpdate(tensor([1]), tensor([3]), undefined, hp); // state.step === 1
 * ```
 */
export function nadamUpdate(param: Tensor, grad: Tensor, state: NAdamState | undefined, hp: NAdamOptions): UpdateResult<NAdamState> {
  checkUpdateArgs("nadamUpdate", param, grad, hp);
  const { lr, betas: [beta1, beta2], eps, weightDecay, momentumDecay, maximize } = hp;
  const step = (state?.step ?? 0) + 1;
  let g = maximize ? neg(grad) : grad;
  if (weightDecay !== 0) g = add(g, mul(param, weightDecay));
  const biasCorrection2 = 1 - beta2 ** step;
  const mu = beta1 * (1 - 0.5 * 0.96 ** (step * momentumDecay));
  const muNext = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentumDecay));
  const muProduct = (state?.mu_product ?? 1) * mu;
  const muProductNext = muProduct * muNext;
  const expAvg = add(mul(state?.exp_avg ?? zerosLike(param), beta1), mul(g, 1 - beta1));
  const expAvgSq = add(mul(state?.exp_avg_sq ?? zerosLike(param), beta2), mul(mul(g, g), 1 - beta2));
  const denom = add(sqrt(div(expAvgSq, biasCorrection2)), eps);
  let p = add(param, mul(div(g, denom), (-lr * (1 - mu)) / (1 - muProduct)));
  p = add(p, mul(div(expAvg, denom), (-lr * muNext) / (1 - muProductNext)));
  return { param: p, state: { step, mu_product: muProduct, exp_avg: expAvg, exp_avg_sq: expAvgSq } };
}

/**
 * NAdam: Adam with Nesterov momentum — the lecture's "RMSProp + NAG" (RMSProp's per-coordinate
 * scaling with a Nesterov look-ahead on the momentum), in the form PyTorch ships as
 * `torch.optim.NAdam`, with its momentum-decay schedule, step for step.
 *
 * @example
 * ```ts
 * const opt = new NAdam(model.parameters(), { lr: 2e-3 });
 * ```
 */
export class NAdam extends Optimizer<NAdamOptions, NAdamState> {
  constructor(params: Params<NAdamOptions>, options: Partial<NAdamOptions> = {}) {
    super("NAdam", params, resolveOptions("NAdam", options, DEFAULTS));
  }

  protected validate(hp: NAdamOptions): void {
    validateAdamLike("NAdam", hp);
    checkNumber("NAdam", "momentumDecay", hp.momentumDecay, (x) => x >= 0, "momentumDecay ≥ 0");
    checkBoolean("NAdam", "maximize", hp.maximize);
  }

  protected stateSpec(): StateSpec {
    return { tensors: ["exp_avg", "exp_avg_sq"], scalars: ["step", "mu_product"] };
  }

  protected update(param: Tensor, grad: Tensor, state: NAdamState | undefined, hp: NAdamOptions): UpdateResult<NAdamState> {
    return nadamUpdate(param, grad, state, hp);
  }
}
