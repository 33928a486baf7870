import { describe, expect, it } from "vitest";
import { DeltagradError, tensor } from "@deltagrad/autograd";
import {
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LinearWarmup,
  MultiStepLR,
  ReduceLROnPlateau,
  SGD,
  StepLR,
  type LRScheduler,
} from "@deltagrad/optim";

const sgd = (...lrs: number[]) => new SGD(lrs.map((lr) => ({ params: [tensor([0], { requiresGrad: true })], lr })), { lr: lrs[0] });

/** The lr in effect for each of `n` epochs (read before each scheduler.step(), as in the fixture). */
function trajectory(opt: SGD, sched: LRScheduler, n: number, group = 0): number[] {
  const out: number[] = [];
  for (let t = 0; t < n; t++) {
    out.push(opt.paramGroups[group]!.lr);
    expect(sched.getLastLr()[group]).toBe(opt.paramGroups[group]!.lr);
    sched.step();
  }
  return out;
}

function expectClose(actual: number[], expected: number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)))) expect.fail(`epoch ${i}: ${a} vs ${expected[i]}`);
  });
}

describe("epoch schedulers = their closed forms", () => {
  it("StepLR: base·γ^⌊t/stepSize⌋, on every group", () => {
    const opt = sgd(0.1, 1);
    const s = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    const lrs0: number[] = [];
    const lrs1: number[] = [];
    for (let t = 0; t < 10; t++) {
      lrs0.push(opt.paramGroups[0]!.lr);
      lrs1.push(opt.paramGroups[1]!.lr);
      s.step();
    }
    expectClose(lrs0, Array.from({ length: 10 }, (_, t) => 0.1 * 0.5 ** Math.floor(t / 3)));
    expectClose(lrs1, Array.from({ length: 10 }, (_, t) => 0.5 ** Math.floor(t / 3)));
  });

  it("MultiStepLR: γ at each milestone, γ² at a milestone listed twice", () => {
    const opt = sgd(1);
    const lrs = trajectory(opt, new MultiStepLR(opt, { milestones: [2, 5, 5], gamma: 0.1 }), 8);
    expectClose(lrs, [1, 1, 0.1, 0.1, 0.1, 0.001, 0.001, 0.001]);
  });

  it("ExponentialLR: base·γ^t", () => {
    const opt = sgd(0.5);
    expectClose(trajectory(opt, new ExponentialLR(opt, { gamma: 0.9 }), 20), Array.from({ length: 20 }, (_, t) => 0.5 * 0.9 ** t));
  });

  it("CosineAnnealingLR: η_min + (η₀ − η_min)(1 + cos(πt/T))/2, over two periods and a half", () => {
    const opt = sgd(0.1);
    const T = 7;
    const lrs = trajectory(opt, new CosineAnnealingLR(opt, { tMax: T, etaMin: 0.001 }), 5 * T);
    // PyTorch's recursive form drifts from the closed form only by rounding.
    expectClose(lrs, lrs.map((_, t) => 0.001 + ((0.1 - 0.001) * (1 + Math.cos((Math.PI * t) / T))) / 2), 1e-12);
    expect(Math.min(...lrs)).toBeCloseTo(0.001, 12);
  });

  it("LambdaLR: base·λ(t), one function per group", () => {
    const opt = sgd(0.1, 1);
    const s = new LambdaLR(opt, { lrLambda: [(t) => 1 / (t + 1), (t) => 0.5 ** t] });
    expectClose(trajectory(opt, s, 4, 0), [0.1, 0.05, 0.1 / 3, 0.025]);
    expect(opt.paramGroups[1]!.lr).toBe(0.5 ** 4);
  });

  it("LinearLR: base·(s + (e − s)·min(t, n)/n), in PyTorch's chainable form", () => {
    const opt = sgd(0.2);
    const lrs = trajectory(opt, new LinearLR(opt, { startFactor: 0.25, endFactor: 1, totalIters: 4 }), 7);
    expectClose(lrs, [0.05, 0.0875, 0.125, 0.1625, 0.2, 0.2, 0.2]);
  });

  it("LinearWarmup: from 0 to the base rate in warmupSteps, then flat", () => {
    const opt = sgd(0.1);
    expectClose(trajectory(opt, new LinearWarmup(opt, { warmupSteps: 4 }), 7), [0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1]);
    const opt2 = sgd(1);
    expectClose(trajectory(opt2, new LinearWarmup(opt2, { warmupSteps: 2, startFactor: 0.5 }), 4), [0.5, 0.75, 1, 1]);
  });

  it("schedulers chain multiplicatively, and a second one takes the first one's base rates", () => {
    const opt = sgd(1);
    const warm = new LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
    expect(opt.paramGroups[0]!.lr).toBe(0.5);
    const decay = new ExponentialLR(opt, { gamma: 0.9 });
    expect(decay.baseLrs).toEqual([1]); // PyTorch's initial_lr, not the warmed-down 0.5
    const lrs: number[] = [];
    for (let t = 0; t < 4; t++) {
      lrs.push(opt.paramGroups[0]!.lr);
      warm.step();
      decay.step();
    }
    // t=1: 0.5·1.5·0.9; t=2: ·(4/3)·0.9; t≥3: ·0.9
    expectClose(lrs, [0.5, 0.675, 0.81, 0.729]);
  });

  it("rejects bad options", () => {
    const opt = sgd(0.1);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/StepLR: invalid stepSize 0: expected a positive integer/);
    expect(() => new StepLR(opt, { stepSize: 2, gamma: -1 })).toThrow(/invalid gamma -1/);
    expect(() => new MultiStepLR(opt, { milestones: [1.5] })).toThrow(/MultiStepLR: invalid milestone 1.5/);
    expect(() => new CosineAnnealingLR(opt, { tMax: 0 })).toThrow(/CosineAnnealingLR: invalid tMax 0/);
    expect(() => new LinearLR(opt, { startFactor: 0 })).toThrow(/LinearLR: invalid startFactor 0: expected 0 < startFactor ≤ 1/);
    expect(() => new LambdaLR(opt, { lrLambda: [(t) => t, (t) => t] })).toThrow(/expected 1 lrLambda functions/);
    expect(() => new LinearWarmup(opt, { warmupSteps: 0 })).toThrow(/LinearWarmup: invalid warmupSteps 0/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/ReduceLROnPlateau: invalid factor 1: expected 0 ≤ factor < 1/);
    expect(() => new ReduceLROnPlateau(opt, { mode: "up" as never })).toThrow(/mode must be "min" or "max"/);
    expect(() => new ReduceLROnPlateau(opt, { minLr: [0, 0] })).toThrow(/expected 1 minLr values/);
    expect(() => new StepLR({} as never, { stepSize: 1 })).toThrow(DeltagradError);
    // None of these touched the rate.
    expect(opt.paramGroups[0]!.lr).toBe(0.1);
  });
});

describe("ReduceLROnPlateau (PyTorch's rules, traced by hand)", () => {
  const run = (metrics: number[], options: ConstructorParameters<typeof ReduceLROnPlateau>[1], lr = 1) => {
    const opt = sgd(lr);
    const s = new ReduceLROnPlateau(opt, options);
    return metrics.map((m) => {
      s.step(m);
      expect(s.getLastLr()).toEqual([opt.paramGroups[0]!.lr]);
      return opt.paramGroups[0]!.lr;
    });
  };

  it("reduces after more than `patience` epochs without improvement", () => {
    expect(run([1, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85], { patience: 2, factor: 0.5 })).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]);
  });

  it("waits `cooldown` epochs after a reduction", () => {
    expect(run([1, 1, 1, 1, 1, 1], { patience: 0, factor: 0.5, cooldown: 2 })).toEqual([1, 0.5, 0.5, 0.5, 0.25, 0.25]);
  });

  it("never goes below minLr", () => {
    expect(run([1, 1, 1, 1], { patience: 0, factor: 0.1, minLr: 0.05 })).toEqual([1, 0.1, 0.05, 0.05]);
  });

  it("mode max with an absolute threshold", () => {
    // 0.55 is not > 0.5 + 0.1: reduce; 0.7 > 0.6: new best; 0.75 is not > 0.8: reduce.
    expectClose(run([0.5, 0.55, 0.7, 0.75], { mode: "max", thresholdMode: "abs", threshold: 0.1, patience: 0 }), [1, 0.1, 0.1, 0.01]);
  });

  it("a relative threshold: 1 → 0.99995 is not an improvement at 1e-4", () => {
    expect(run([1, 0.99995, 0.9998], { patience: 0, factor: 0.5 })).toEqual([1, 0.5, 0.5]);
  });

  it("rejects a NaN metric", () => {
    expect(() => run([NaN], {})).toThrow(/ReduceLROnPlateau: step: metric must be a number, got NaN/);
  });
});
