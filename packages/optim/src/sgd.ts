import { add, mul, neg, type Tensor } from "@deltagrad/autograd";
import { Optimizer, type Params, type StateSpec, type UpdateResult } from "./optimizer.js";
import { checkBoolean, checkNumber, fail, resolveOptions, checkUpdateArgs } from "./checks.js";

/** Hyperparameters of {@link SGD} (PyTorch's, in camelCase). */
export interface SGDOptions {
  /** Learning rate, ≥ 0. Default 1e-3 (PyTorch ≥ 2.2). */
  lr: number;
  /** Momentum factor μ, ≥ 0. Default 0 (plain gradient descent). */
  momentum: number;
  /** Dampening τ of the momentum's gradient term (applies from the second step on). Default 0. */
  dampening: number;
  /** Nesterov momentum (NAG); needs momentum > 0 and dampening 0. Default false. */
  nesterov: boolean;
  /** L2 penalty λ added to the gradient (g + λp). Default 0. */
  weightDecay: number;
  /** Maximize the objective (ascend the gradient). Default false. */
  maximize: boolean;
}

/** State of one parameter under {@link SGD}: the momentum buffer, when momentum ≠ 0. */
export type SGDState = { momentum_buffer?: Tensor };

const DEFAULTS: SGDOptions = { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };

/**
 * One SGD step for one parameter, as PyTorch computes it:
 *
 *     g ← ±∇ (+ λp)                      (− when maximizing; λ = weightDecay)
 *     b ← g at the first step, else μb + (1 − τ)g
 *     d ← g + μb with Nesterov, else b    (d = g without momentum)
 *     p ← p − lr·d
 *
 * Pure: returns new tensors, changes nothing.
 *
 * @example
 * ```ts
 * const hp = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
 * const { param, state } = sgdUpdate(tensor([1]), tensor([0.5]), undefined, hp); // param [0.95]
 * sgdUpdate(param, tensor([0.5]), state, hp).param;                                // [0.855]
 * ```
 */
export function sgdUpdate(param: Tensor, grad: Tensor, state: SGDState | undefined, hp: SGDOptions): UpdateResult<SGDState> {
  checkUpdateArgs("sgdUpdate", param, grad, hp);
  const { lr, momentum, dampening, nesterov, weightDecay, maximize } = hp;
  let d = maximize ? neg(grad) : grad;
  if (weightDecay !== 0) d = add(d, mul(param, weightDecay));
  const next: SGDState = {};
  if (momentum !== 0) {
    const prev = state?.momentum_buffer;
    const buf = prev === undefined ? d : add(mul(prev, momentum), mul(d, 1 - dampening));
    next.momentum_buffer = buf;
    d = nesterov ? add(d, mul(buf, momentum)) : buf;
  }
  return { param: add(param, mul(d, -lr)), state: next };
}

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum (NAG), dampening,
 * L2 weight decay and maximization — PyTorch's `torch.optim.SGD`, step for step.
 *
 * @example
 * ```ts
 * const w = tensor([1, -2], { requiresGrad: true });
 * const opt = new SGD([w], { lr: 0.1, momentum: 0.9, nesterov: true });
 * w.mul(w).sum().backward();
 * opt.step();
 * ```
 */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super("SGD", params, resolveOptions("SGD", options, DEFAULTS));
  }

  protected validate(hp: SGDOptions): void {
    checkNumber("SGD", "lr", hp.lr, (x) => x >= 0, "lr ≥ 0");
    checkNumber("SGD", "momentum", hp.momentum, (x) => x >= 0, "momentum ≥ 0");
    checkNumber("SGD", "dampening", hp.dampening, () => true, "a number");
    checkNumber("SGD", "weightDecay", hp.weightDecay, (x) => x >= 0, "weightDecay ≥ 0");
    checkBoolean("SGD", "nesterov", hp.nesterov);
    checkBoolean("SGD", "maximize", hp.maximize);
    if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0)) {
      fail("SGD", `nesterov momentum requires momentum > 0 and dampening = 0 (got momentum ${hp.momentum}, dampening ${hp.dampening})`);
    }
  }

  protected stateSpec(hp: SGDOptions): StateSpec {
    return { tensors: hp.momentum !== 0 ? ["momentum_buffer"] : [], scalars: [] };
  }

  protected update(param: Tensor, grad: Tensor, state: SGDState | undefined, hp: SGDOptions): UpdateResult<SGDState> {
    return sgdUpdate(param, grad, state, hp);
  }
}
