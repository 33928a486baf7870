/**
 * `@deltagrad/optim` — optimizers (SGD with momentum/Nesterov, Adagrad, RMSprop, Adam, AdamW,
 * NAdam), learning-rate schedulers and gradient clipping, matching PyTorch step for step.
 * Depends only on @deltagrad/autograd.
 *
 * @example
 * ```ts
 * import { tensor } from "@deltagrad/autograd";
 * import { Adam } from "@deltagrad/optim";
 * const w = tensor([3, -2], { requiresGrad: true });
 * const opt = new Adam([w], { lr: 0.1 });
 * for (let i = 0; i < 100; i++) { opt.zeroGrad(); w.mul(w).sum().backward(); opt.step(); }
 * ```
 *
 * @module @deltagrad/optim
 */
export {
  Optimizer,
  type Hyperparameters,
  type ParamState,
  type ParamGroup,
  type ParamGroupInput,
  type Params,
  type ParamGroupState,
  type OptimizerStateDict,
  type StateSpec,
  type UpdateResult,
  type ZeroGradOptions,
} from "./optimizer.js";
export { SGD, sgdUpdate, type SGDOptions, type SGDState } from "./sgd.js";
export { Adagrad, adagradUpdate, type AdagradOptions, type AdagradState } from "./adagrad.js";
export { RMSprop, rmspropUpdate, type RMSpropOptions, type RMSpropState } from "./rmsprop.js";
export { Adam, AdamW, adamUpdate, adamwUpdate, type AdamOptions, type AdamState } from "./adam.js";
export { NAdam, nadamUpdate, type NAdamOptions, type NAdamState } from "./nadam.js";
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LambdaLR,
  LinearLR,
  LinearWarmup,
  ReduceLROnPlateau,
  type LrOptimizer,
  type ReduceLROnPlateauOptions,
} from "./schedulers/index.js";
export { clipGradNorm, clipGradValue, type ClipGradNormOptions } from "./clip.js";
