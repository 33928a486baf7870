import { add, full, mul, neg, sqrt, div, type Tensor } from "@deltagrad/autograd";
import { Optimizer, type Params, type StateSpec, type UpdateResult } from "./optimizer.js";
import { checkBoolean, checkNumber, resolveOptions, checkUpdateArgs } from "./checks.js";

/** Hyperparameters of {@link Adagrad} (PyTorch's, in camelCase). */
export interface AdagradOptions {
  /** Learning rate, ≥ 0. Default 1e-2. */
  lr: number;
  /** Learning-rate decay: step t uses lr / (1 + (t − 1)·lrDecay). ≥ 0, default 0. */
  lrDecay: number;
  /** L2 penalty λ added to the gradient. ≥ 0, default 0. */
  weightDecay: number;
  /** Starting value of the sum of squared gradients. ≥ 0, default 0. */
  initialAccumulatorValue: number;
  /** Added to √sum (outside the root) for stability. > 0, default 1e-10. */
  eps: number;
  /** Maximize the objective. Default false. */
  maximize: boolean;
}

/** State of one parameter under {@link Adagrad}: the step count and the running sum of g². */
export type AdagradState = { step: number; sum: Tensor };

const DEFAULTS: AdagradOptions = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };

/**
 * One Adagrad step for one parameter, as PyTorch computes it (t counts from 1):
 *
 *     g ← ±∇ (+ λp)
 *     s ← s + g²                   (s starts at initialAccumulatorValue)
 *     p ← p − lr/(1 + (t−1)·lrDecay) · g / (√s + eps)
 *
 * @example
 * ```ts
 * const hp = { lr: 0.1, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };
 * adagradUpdate(tensor([1]), tensor([2]), undefined, hp).param; // ≈ [0.9]
 * ```
 */
export function adagradUpdate(param: Tensor, grad: Tensor, state: AdagradState | undefined, hp: AdagradOptions): UpdateResult<AdagradState> {
  checkUpdateArgs("adagradUpdate", param, grad, hp);
  const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize } = hp;
  const step = (state?.step ?? 0) + 1;
  let g = maximize ? neg(grad) : grad;
  if (weightDecay !== 0) g = add(g, mul(param, weightDecay));
  const clr = lr / (1 + (step - 1) * lrDecay);
  const prev = state?.sum ?? full(param.shape, initialAccumulatorValue, { dtype: param.dtype });
  const sum = add(prev, mul(g, g));
  const std = add(sqrt(sum), eps);
  return { param: add(param, mul(div(g, std), -clr)), state: { step, sum } };
}

/**
 * Adagrad (Duchi et al., 2011): per-coordinate step sizes shrinking with the accumulated squared
 * gradients — PyTorch's `torch.optim.Adagrad`, step for step (dense gradients).
 *
 * @example
 * ```ts
 * const opt = new Adagrad([w], { lr: 0.1, lrDecay: 0.01 });
 * ```
 */
export class Adagrad extends Optimizer<AdagradOptions, AdagradState> {
  constructor(params: Params<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super("Adagrad", params, resolveOptions("Adagrad", options, DEFAULTS));
  }

  protected validate(hp: AdagradOptions): void {
    checkNumber("Adagrad", "lr", hp.lr, (x) => x >= 0, "lr ≥ 0");
    checkNumber("Adagrad", "lrDecay", hp.lrDecay, (x) => x >= 0, "lrDecay ≥ 0");
    checkNumber("Adagrad", "weightDecay", hp.weightDecay, (x) => x >= 0, "weightDecay ≥ 0");
    checkNumber("Adagrad", "initialAccumulatorValue", hp.initialAccumulatorValue, (x) => x >= 0, "initialAccumulatorValue ≥ 0");
    checkNumber("Adagrad", "eps", hp.eps, (x) => x > 0, "eps > 0");
    checkBoolean("Adagrad", "maximize", hp.maximize);
  }

  protected stateSpec(): StateSpec {
    return { tensors: ["sum"], scalars: ["step"] };
  }

  protected update(param: Tensor, grad: Tensor, state: AdagradState | undefined, hp: AdagradOptions): UpdateResult<AdagradState> {
    return adagradUpdate(param, grad, state, hp);
  }
}
