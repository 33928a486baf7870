/**
 * The scheduler protocol (PyTorch's LRScheduler) and the checks every scheduler shares; the
 * schedulers themselves are in decay.ts, lambda.ts and plateau.ts.
 */
import { checkNumber, fail, fmt } from "../checks.js";

/** What a scheduler drives: any optimizer (anything with parameter groups holding an `lr`). */
export interface LrOptimizer {
  paramGroups: { lr: number }[];
}

/**
 * Each optimizer's rates when its first scheduler was attached (PyTorch's `initial_lr`), so that
 * a second scheduler on the same optimizer starts from the same base rates as the first.
 */
const initialLrs = new WeakMap<LrOptimizer, number[]>();

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

/** @internal γ > 0, checked the same way by every decaying scheduler. */
export function checkGamma(name: string, gamma: unknown): void {
  checkNumber(name, "gamma", gamma, (x) => x > 0, "gamma > 0");
}


/** A scheduler's options: an object (`{}` when omitted), else a DeltagradError naming the scheduler. */
export function schedulerOptions<T extends object>(name: string, o: T | null | undefined): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== "object" || Array.isArray(o)) fail(name, `options must be an object, got ${fmt(o)}`);
  return o;
}
