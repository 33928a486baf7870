/** ReduceLROnPlateau: lowers the rate when a watched metric stops improving. */
import { checkNumber, fail, fmt } from "../checks.js";
import { schedulerOptions, type LrOptimizer } from "./base.js";

/** Options of {@link ReduceLROnPlateau} (PyTorch's, in camelCase). */
export interface ReduceLROnPlateauOptions {
  /** "min": the metric should decrease (a loss); "max": increase (an accuracy). Default "min". */
  mode?: "min" | "max";
  /** New rate = rate·factor, factor < 1. Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing. Default 10. */
  patience?: number;
  /** What counts as an improvement (see thresholdMode). Default 1e-4. */
  threshold?: number;
  /** "rel": better than best·(1 ∓ threshold); "abs": better than best ∓ threshold. Default "rel". */
  thresholdMode?: "rel" | "abs";
  /** Epochs to wait after a reduction before counting bad epochs again. Default 0. */
  cooldown?: number;
  /** Lower bound on the rate: one number, or one per group. Default 0. */
  minLr?: number | readonly number[];
  /** Reductions smaller than eps are skipped. Default 1e-8. */
  eps?: number;
}

/**
 * Reduces the rate by `factor` once the metric has not improved for more than `patience`
 * epochs (PyTorch's ReduceLROnPlateau). Call `step(metric)` once per epoch with the validation loss.
 *
 * @example
 * ```ts
 * const sched = new ReduceLROnPlateau(opt, { patience: 2, factor: 0.5 });
 * for (const epoch of epochs) { train(); sched.step(validationLoss()); }
 * ```
 */
export class ReduceLROnPlateau {
  readonly optimizer: LrOptimizer;
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLrs: readonly number[];
  readonly eps: number;
  /** Best metric so far. */
  best: number;
  /** Consecutive epochs without improvement. */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Number of `step()` calls. */
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: LrOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const N = "ReduceLROnPlateau";
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) fail(N, `expected an optimizer, got ${fmt(optimizer)}`);
    const { mode = "min", factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = "rel", cooldown = 0, minLr = 0, eps = 1e-8 } = schedulerOptions(N, options);
    if (mode !== "min" && mode !== "max") fail(N, `mode must be "min" or "max", got ${fmt(mode)}`);
    if (thresholdMode !== "rel" && thresholdMode !== "abs") fail(N, `thresholdMode must be "rel" or "abs", got ${fmt(thresholdMode)}`);
    checkNumber(N, "factor", factor, (x) => x >= 0 && x < 1, "0 ≤ factor < 1");
    checkNumber(N, "patience", patience, (x) => Number.isInteger(x) && x >= 0, "a non-negative integer");
    checkNumber(N, "threshold", threshold, (x) => x >= 0, "threshold ≥ 0");
    checkNumber(N, "cooldown", cooldown, (x) => Number.isInteger(x) && x >= 0, "a non-negative integer");
    checkNumber(N, "eps", eps, (x) => x >= 0, "eps ≥ 0");
    const n = optimizer.paramGroups.length;
    const minLrs = Array.isArray(minLr) ? minLr.slice() : new Array<number>(n).fill(minLr as number);
    if (minLrs.length !== n) fail(N, `expected ${n} minLr values (one per param group), got ${minLrs.length}`);
    minLrs.forEach((m) => checkNumber(N, "minLr", m, (x) => x >= 0, "minLr ≥ 0"));
    this.optimizer = optimizer;
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.eps = eps;
    this.minLrs = Object.freeze(minLrs);
    this.best = mode === "min" ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Whether `a` improves on the best so far by more than the threshold. */
  private isBetter(a: number): boolean {
    const { best, threshold: t } = this;
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === "rel" ? a > best * (1 + t) : a > best + t;
  }

  /**
   * Records one epoch's metric and reduces the rates if it has plateaued.
   *
   * @example
   * ```ts
   * sched.step(0.42);
   * ```
   */
  step(metric: number): void {
    if (typeof metric !== "number" || Number.isNaN(metric)) fail("ReduceLROnPlateau", `step: metric must be a number, got ${fmt(metric)}`);
    this.lastEpoch += 1;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const newLr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * The rates after the last `step()`, one per group.
   *
   * @example
   * ```ts
   * sched.getLastLr(); // [0.01]
   * ```
   */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }
}
