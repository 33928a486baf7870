/** Schedulers that decay the rate on a fixed epoch schedule: step, multi-step, exponential, cosine. */
import { checkNumber, fail, fmt } from "../checks.js";
import { LRScheduler, checkGamma, schedulerOptions, type LrOptimizer } from "./base.js";

/**
 * Multiplies the rate by `gamma` every `stepSize` epochs: lr = base·γ^⌊epoch/stepSize⌋ (PyTorch's StepLR).
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 3, gamma: 0.5 }); // 0.1, 0.1, 0.1, 0.05, …
 * ```
 */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: LrOptimizer, options: { stepSize: number; gamma?: number }) {
    const { stepSize, gamma = 0.1 } = schedulerOptions("StepLR", options);
    super("StepLR", optimizer);
    checkNumber("StepLR", "stepSize", stepSize, (x) => Number.isInteger(x) && x > 0, "a positive integer");
    checkGamma("StepLR", gamma);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }
}

/**
 * Multiplies the rate by `gamma` at each milestone epoch (a milestone listed twice applies γ²) (PyTorch's MultiStepLR).
 *
 * @example
 * ```ts
 * const sched = new MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 * ```
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: ReadonlyMap<number, number>;
  readonly gamma: number;

  constructor(optimizer: LrOptimizer, options: { milestones: readonly number[]; gamma?: number }) {
    const { milestones, gamma = 0.1 } = schedulerOptions("MultiStepLR", options);
    super("MultiStepLR", optimizer);
    if (!Array.isArray(milestones)) fail("MultiStepLR", `milestones must be an array of epochs, got ${fmt(milestones)}`);
    const counts = new Map<number, number>();
    for (const m of milestones) {
      checkNumber("MultiStepLR", "milestone", m, (x) => Number.isInteger(x) && x >= 0, "a non-negative integer");
      counts.set(m, (counts.get(m) ?? 0) + 1);
    }
    checkGamma("MultiStepLR", gamma);
    this.milestones = counts;
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const n = this.milestones.get(this.lastEpoch);
    if (n === undefined) return lrs;
    return lrs.map((lr) => lr * this.gamma ** n);
  }
}

/**
 * Multiplies the rate by `gamma` every epoch: lr = base·γ^epoch (PyTorch's ExponentialLR).
 *
 * @example
 * ```ts
 * const sched = new ExponentialLR(opt, { gamma: 0.95 });
 * ```
 */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: LrOptimizer, options: { gamma: number }) {
    const { gamma } = schedulerOptions("ExponentialLR", options);
    super("ExponentialLR", optimizer);
    checkGamma("ExponentialLR", gamma);
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    return this.lastEpoch === 0 ? lrs : lrs.map((lr) => lr * this.gamma);
  }
}

/**
 * Cosine annealing from the base rate to `etaMin` over `tMax` epochs, then back up (period 2·tMax):
 * η = η_min + (η_base − η_min)(1 + cos(π·epoch/tMax))/2, computed in PyTorch's recursive
 * (chainable) form, so the trajectory matches PyTorch's CosineAnnealingLR.
 *
 * @example
 * ```ts
 * const sched = new CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: LrOptimizer, options: { tMax: number; etaMin?: number }) {
    const { tMax, etaMin = 0 } = schedulerOptions("CosineAnnealingLR", options);
    super("CosineAnnealingLR", optimizer);
    checkNumber("CosineAnnealingLR", "tMax", tMax, (x) => Number.isInteger(x) && x > 0, "a positive integer");
    checkNumber("CosineAnnealingLR", "etaMin", etaMin, (x) => x >= 0, "etaMin ≥ 0");
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    const lrs = this.currentLrs();
    if (e === 0) return lrs;
    // Python's modulo is non-negative; this branch restarts the rise after each trough.
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return lrs.map((lr, i) => lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return lrs.map((lr) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin);
  }
}
