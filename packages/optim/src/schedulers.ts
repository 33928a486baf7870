import { checkNumber, fail, fmt } from "./optimizer.js";

/** What a scheduler drives: any optimizer (anything with parameter groups holding an `lr`). */
export interface LrOptimizer {
  paramGroups: { lr: number }[];
}

/**
 * The base of the epoch-indexed schedulers, with PyTorch's `LRScheduler` protocol: the
 * constructor records each group's `lr` as its base rate and performs step 0 (which leaves the
 * rates as they are); each `step()` advances `lastEpoch` by one and writes the new rates into
 * `opt.paramGroups[i].lr`. Call it after `opt.step()`.
 *
 * Like PyTorch, most schedulers are *chainable*: they compute the next rate from the group's
 * current `lr`, so two schedulers on one optimizer compose multiplicatively.
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * for (let epoch = 0; epoch < 100; epoch++) { train(); sched.step(); }
 * ```
 */
/**
 * Each optimizer's rates when its first scheduler was attached (PyTorch's `initial_lr`), so that
 * a second scheduler on the same optimizer starts from the same base rates as the first.
 */
const initialLrs = new WeakMap<LrOptimizer, number[]>();

/**
 * The base of every scheduler (PyTorch's LRScheduler): holds the base rates, counts epochs in
 * `lastEpoch`, and on `step()` writes the rate a subclass computes into `opt.paramGroups[i].lr`.
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 10, gamma: 0.5 }); // a subclass
 * sched.step(); sched.getLastLr();
 * ```
 */
export abstract class LRScheduler {
  /** The optimizer whose rates this scheduler sets. */
  readonly optimizer: LrOptimizer;
  /** Each group's rate when the scheduler was created. */
  readonly baseLrs: readonly number[];
  /** Steps taken (0 right after construction). */
  lastEpoch = -1;
  private lastLr: number[] = [];
  /** The scheduler's class name, for error messages. */
  readonly name: string;

  protected constructor(name: string, optimizer: LrOptimizer) {
    this.name = name;
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) fail(name, `expected an optimizer, got ${fmt(optimizer)}`);
    this.optimizer = optimizer;
    const known = initialLrs.get(optimizer) ?? [];
    // Groups added since the first scheduler start from their current rate.
    const base = optimizer.paramGroups.map((g, i) => known[i] ?? g.lr);
    this.baseLrs = Object.freeze(base.slice());
    this.pendingBase = base;
  }

  private pendingBase: number[] | null;

  /** Must be called at the end of a subclass constructor (after its options are set): PyTorch's initial step. */
  protected initialStep(): void {
    // Recorded only once the subclass has validated its options: a constructor that throws leaves no trace.
    if (this.pendingBase) initialLrs.set(this.optimizer, this.pendingBase);
    this.pendingBase = null;
    this.step();
  }

  /** The rates for `lastEpoch` (already advanced), one per group. */
  protected abstract computeLr(): number[];

  /**
   * Advances one epoch (or iteration) and sets every group's `lr`.
   *
   * @example
   * ```ts
   * opt.step(); sched.step();
   * ```
   */
  step(): void {
    this.lastEpoch += 1;
    const lrs = this.computeLr();
    const bad = lrs.findIndex((lr) => typeof lr !== "number" || !Number.isFinite(lr) || lr < 0);
    if (bad >= 0) {
      // Refuse rather than hand the optimizer an Infinity/NaN rate (e.g. gamma > 1 overflowing): nothing changes.
      this.lastEpoch -= 1;
      fail(`${this.name}.step`, `epoch ${this.lastEpoch + 1} would set param group ${bad}'s lr to ${fmt(lrs[bad])}; the rate must be a finite number ≥ 0`);
    }
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
    this.lastLr = lrs.slice();
  }

  /**
   * The rates set by the last `step()` (or the constructor), one per group.
   *
   * @example
   * ```ts
   * sched.getLastLr(); // [0.1]
   * ```
   */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

function checkGamma(name: string, gamma: unknown): void {
  checkNumber(name, "gamma", gamma, (x) => x > 0, "gamma > 0");
}

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

/**
 * Sets each group's rate to base·`lrLambda(epoch)` (PyTorch's LambdaLR; not chainable). One
 * function for every group, or one per group. A linear warm-up is
 * `new LambdaLR(opt, { lrLambda: (e) => Math.min(1, (e + 1) / warmupSteps) })` — or use {@link LinearWarmup}.
 *
 * @example
 * ```ts
 * const sched = new LambdaLR(opt, { lrLambda: (epoch) => 0.95 ** epoch });
 * ```
 */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: readonly ((epoch: number) => number)[];

  constructor(optimizer: LrOptimizer, options: { lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[] }) {
    const { lrLambda } = schedulerOptions("LambdaLR", options);
    super("LambdaLR", optimizer);
    const n = optimizer.paramGroups.length;
    const fns = Array.isArray(lrLambda) ? lrLambda : new Array<(epoch: number) => number>(n).fill(lrLambda as (epoch: number) => number);
    if (fns.length !== n) fail("LambdaLR", `expected ${n} lrLambda functions (one per param group), got ${fns.length}`);
    if (fns.some((f) => typeof f !== "function")) fail("LambdaLR", "lrLambda must be a function or an array of functions");
    this.lambdas = fns;
    this.initialStep();
  }

  protected computeLr(): number[] {
    return this.baseLrs.map((base, i) => {
      const f = this.lambdas[i]!(this.lastEpoch);
      if (typeof f !== "number" || Number.isNaN(f)) fail("LambdaLR", `lrLambda(${this.lastEpoch}) returned ${fmt(f)}, expected a number`);
      return base * f;
    });
  }
}

/**
 * Scales the rate by a factor going linearly from `startFactor` to `endFactor` over `totalIters`
 * steps, then holds it (PyTorch's LinearLR, chainable form). The usual warm-up.
 *
 * @example
 * ```ts
 * const sched = new LinearLR(opt, { startFactor: 0.1, totalIters: 10 }); // 0.1·lr → lr in 10 steps
 * ```
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: LrOptimizer, options?: { startFactor?: number; endFactor?: number; totalIters?: number }) {
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = schedulerOptions("LinearLR", options);
    super("LinearLR", optimizer);
    checkNumber("LinearLR", "startFactor", startFactor, (x) => x > 0 && x <= 1, "0 < startFactor ≤ 1");
    checkNumber("LinearLR", "endFactor", endFactor, (x) => x >= 0 && x <= 1, "0 ≤ endFactor ≤ 1");
    checkNumber("LinearLR", "totalIters", totalIters, (x) => Number.isInteger(x) && x > 0, "a positive integer");
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    const lrs = this.currentLrs();
    if (e === 0) return lrs.map((lr) => lr * s);
    if (e > n) return lrs;
    return lrs.map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
}

/**
 * Linear warm-up: the rate rises from base·`startFactor` (default 0) to the base rate over
 * `warmupSteps` steps, then stays: lr = base·(s + (1 − s)·min(epoch, warmupSteps)/warmupSteps).
 * Closed form (a {@link LambdaLR}), so it may start at 0, which {@link LinearLR} cannot.
 *
 * @example
 * ```ts
 * const sched = new LinearWarmup(opt, { warmupSteps: 4 }); // 0, 0.25·lr, 0.5·lr, 0.75·lr, lr, lr, …
 * ```
 */
export class LinearWarmup extends LambdaLR {
  constructor(optimizer: LrOptimizer, options: { warmupSteps: number; startFactor?: number }) {
    const { warmupSteps, startFactor = 0 } = schedulerOptions("LinearWarmup", options);
    checkNumber("LinearWarmup", "warmupSteps", warmupSteps, (x) => Number.isInteger(x) && x > 0, "a positive integer");
    checkNumber("LinearWarmup", "startFactor", startFactor, (x) => x >= 0 && x <= 1, "0 ≤ startFactor ≤ 1");
    super(optimizer, { lrLambda: (e) => startFactor + ((1 - startFactor) * Math.min(e, warmupSteps)) / warmupSteps });
  }
}

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

/** A scheduler's options: an object (`{}` when omitted), else a DeltagradError naming the scheduler. */
function schedulerOptions<T extends object>(name: string, o: T | null | undefined): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== "object" || Array.isArray(o)) fail(name, `options must be an object, got ${fmt(o)}`);
  return o;
}
