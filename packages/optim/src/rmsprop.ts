import { add, div, mul, neg, sqrt, sub, zerosLike, type Tensor } from "@deltagrad/autograd";
import { Optimizer, type Params, type StateSpec, type UpdateResult } from "./optimizer.js";
import { checkBoolean, checkNumber, resolveOptions, checkUpdateArgs } from "./checks.js";

/** Hyperparameters of {@link RMSprop} (PyTorch's, in camelCase). */
export interface RMSpropOptions {
  /** Learning rate, ≥ 0. Default 1e-2. */
  lr: number;
  /** Smoothing constant α of the running mean of g², in [0, 1]. Default 0.99. */
  alpha: number;
  /** Added to the root (outside it). > 0, default 1e-8. */
  eps: number;
  /** L2 penalty λ added to the gradient. ≥ 0, default 0. */
  weightDecay: number;
  /** Momentum factor μ of the step buffer, ≥ 0. Default 0. */
  momentum: number;
  /** Normalize by an estimate of the variance (E[g²] − E[g]²) instead of E[g²]. Default false. */
  centered: boolean;
  /** Maximize the objective. Default false. */
  maximize: boolean;
}

/** State of one parameter under {@link RMSprop}. */
export type RMSpropState = { step: number; square_avg: Tensor; momentum_buffer?: Tensor; grad_avg?: Tensor };

const DEFAULTS: RMSpropOptions = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };

/**
 * One RMSprop step for one parameter, as PyTorch computes it:
 *
 *     g ← ±∇ (+ λp)
 *     v ← αv + (1−α)g²;   centered: m ← αm + (1−α)g,  a ← √(v − m²) + eps;  else a ← √v + eps
 *     momentum: b ← μb + g/a,  p ← p − lr·b;            else p ← p − lr·g/a
 *
 * @example
 * ```ts
 * const hp = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };
 * rmspropUpdate(tensor([1]), tensor([2]), undefined, hp).param; // ≈ [0.9]
 * ```
 */
export function rmspropUpdate(param: Tensor, grad: Tensor, state: RMSpropState | undefined, hp: RMSpropOptions): UpdateResult<RMSpropState> {
  checkUpdateArgs("rmspropUpdate", param, grad, hp);
  const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = hp;
  let g = maximize ? neg(grad) : grad;
  const step = (state?.step ?? 0) + 1;
  if (weightDecay !== 0) g = add(g, mul(param, weightDecay));
  const squareAvg = add(mul(state?.square_avg ?? zerosLike(param), alpha), mul(mul(g, g), 1 - alpha));
  const next: RMSpropState = { step, square_avg: squareAvg };
  let avg: Tensor;
  if (centered) {
    const gradAvg = add(mul(state?.grad_avg ?? zerosLike(param), alpha), mul(g, 1 - alpha));
    next.grad_avg = gradAvg;
    avg = sqrt(sub(squareAvg, mul(gradAvg, gradAvg)));
  } else {
    avg = sqrt(squareAvg);
  }
  avg = add(avg, eps);
  if (momentum > 0) {
    const buf = add(mul(state?.momentum_buffer ?? zerosLike(param), momentum), div(g, avg));
    next.momentum_buffer = buf;
    return { param: add(param, mul(buf, -lr)), state: next };
  }
  return { param: add(param, mul(div(g, avg), -lr)), state: next };
}

/**
 * RMSprop (Hinton's lecture 6e): divides the gradient by a running root-mean-square, optionally
 * centered and with momentum — PyTorch's `torch.optim.RMSprop`, step for step.
 *
 * @example
 * ```ts
 * const opt = new RMSprop([w], { lr: 0.01, momentum: 0.9, centered: true });
 * ```
 */
export class RMSprop extends Optimizer<RMSpropOptions, RMSpropState> {
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super("RMSprop", params, resolveOptions("RMSprop", options, DEFAULTS));
  }

  protected validate(hp: RMSpropOptions): void {
    checkNumber("RMSprop", "lr", hp.lr, (x) => x >= 0, "lr ≥ 0");
    checkNumber("RMSprop", "alpha", hp.alpha, (x) => x >= 0 && x <= 1, "0 ≤ alpha ≤ 1");
    checkNumber("RMSprop", "eps", hp.eps, (x) => x > 0, "eps > 0");
    checkNumber("RMSprop", "weightDecay", hp.weightDecay, (x) => x >= 0, "weightDecay ≥ 0");
    checkNumber("RMSprop", "momentum", hp.momentum, (x) => x >= 0, "momentum ≥ 0");
    checkBoolean("RMSprop", "centered", hp.centered);
    checkBoolean("RMSprop", "maximize", hp.maximize);
  }

  protected stateSpec(hp: RMSpropOptions): StateSpec {
    const tensors = ["square_avg"];
    if (hp.momentum > 0) tensors.push("momentum_buffer");
    if (hp.centered) tensors.push("grad_avg");
    return { tensors, scalars: ["step"] };
  }

  protected update(param: Tensor, grad: Tensor, state: RMSpropState | undefined, hp: RMSpropOptions): UpdateResult<RMSpropState> {
    return rmspropUpdate(param, grad, state, hp);
  }
}
