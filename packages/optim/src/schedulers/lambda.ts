/** Schedulers driven by a factor per epoch: LambdaLR, LinearLR and the LinearWarmup built on them. */
import { checkNumber, fail, fmt } from "../checks.js";
import { LRScheduler, schedulerOptions, type LrOptimizer } from "./base.js";

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
