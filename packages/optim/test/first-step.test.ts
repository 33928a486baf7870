/**
 * Property: with random hyperparameters, parameters and gradients, each optimizer's first step
 * equals its closed form, written out here with plain numbers.
 *
 * Tolerance: 1e-12 relative to the size of the terms (|p| + |Δp|), i.e. a few thousand ulps of
 * float64 rounding; the closed forms and the implementations round differently (e.g. Adam's
 * √((1−β₂)g²)/√(1−β₂) vs |g|), never by more than ~1e-15 relative per operation.
 */
import { describe, expect } from "vitest";
import { fc, test } from "@fast-check/vitest";
import { tensor } from "@deltagrad/autograd";
import { Adagrad, Adam, AdamW, NAdam, RMSprop, SGD, type Optimizer } from "@deltagrad/optim";

const value = fc.double({ min: -10, max: 10, noNaN: true });
const pair = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.array(value, { minLength: n, maxLength: n }), fc.array(value, { minLength: n, maxLength: n })));
const lr = fc.double({ min: 1e-4, max: 1, noNaN: true });
const frac = (max: number) => fc.double({ min: 0, max, noNaN: true });
const eps = fc.double({ min: 1e-10, max: 1e-2, noNaN: true });
const weightDecay = fc.oneof(fc.constant(0), frac(0.5));
const beta = fc.double({ min: 0, max: 0.9999, noNaN: true });

/** Runs one step of `make([p])` with p.grad = g and returns the new values. */
function firstStep(p0: number[], g: number[], make: (params: ReturnType<typeof tensor>[]) => Optimizer): number[] {
  const p = tensor(p0, { dtype: "float64", requiresGrad: true });
  const opt = make([p]);
  p.grad = tensor(g, { dtype: "float64" });
  opt.step();
  return Array.from(p.dataSync());
}

/** `expected[i] = p[i] + delta[i]`; checks |actual − expected| ≤ 1e-12·(|p| + |Δ|). */
function expectStep(actual: number[], p: number[], delta: number[]): void {
  actual.forEach((a, i) => {
    const e = p[i]! + delta[i]!;
    const bound = 1e-12 * (Math.abs(p[i]!) + Math.abs(delta[i]!)) + 1e-300;
    if (!(Math.abs(a - e) <= bound)) expect.fail(`element ${i}: got ${a}, closed form ${e} (p ${p[i]}, Δ ${delta[i]})`);
  });
}

const sign = (maximize: boolean) => (maximize ? -1 : 1);

describe("first step = closed form (fast-check)", () => {
  test.prop([pair, lr, frac(0.99), frac(1), fc.boolean(), weightDecay, fc.boolean()])(
    "SGD: p − lr·d·(1 + μ if Nesterov), d = ±g + λp; dampening does not act on step 1",
    ([p, g], lr, momentum, dampening, nesterov, wd, maximize) => {
      fc.pre(!nesterov || momentum > 0);
      const opts = { lr, momentum, dampening: nesterov ? 0 : dampening, nesterov, weightDecay: wd, maximize };
      const got = firstStep(p, g, (ps) => new SGD(ps, opts));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => -lr * di * (nesterov ? 1 + momentum : 1)));
    },
  );

  test.prop([pair, lr, fc.double({ min: 0, max: 1, noNaN: true }), frac(2), weightDecay, eps, fc.boolean()])(
    "Adagrad: p − lr·d/(√(s₀ + d²) + eps); lrDecay does not act on step 1",
    ([p, g], lr, lrDecay, init, wd, eps, maximize) => {
      const got = firstStep(p, g, (ps) => new Adagrad(ps, { lr, lrDecay, initialAccumulatorValue: init, weightDecay: wd, eps, maximize }));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => (-lr * di) / (Math.sqrt(init + di * di) + eps)));
    },
  );

  test.prop([pair, lr, frac(1), weightDecay, eps, frac(0.99), fc.boolean()])(
    "RMSprop: p − lr·d/(√(1−α)|d| + eps), with or without momentum",
    ([p, g], lr, alpha, wd, eps, momentum, maximize) => {
      const got = firstStep(p, g, (ps) => new RMSprop(ps, { lr, alpha, weightDecay: wd, eps, momentum, maximize }));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => (-lr * di) / (Math.sqrt(1 - alpha) * Math.abs(di) + eps)));
    },
  );

  // α ≥ 0.01: the centered variance (1−α)d² − ((1−α)d)² = α(1−α)d² is a difference of nearly
  // equal numbers when α → 0; its rounding error relative to the result is ~ε/α, so below
  // α = 0.01 the bound above would have to grow with 1/α (and for α ≈ 1e-16 the root is NaN).
  test.prop([pair, lr, fc.double({ min: 0.01, max: 1, noNaN: true }), weightDecay, eps, frac(0.99), fc.boolean()])(
    "RMSprop centered: p − lr·d/(√(α(1−α))|d| + eps)",
    ([p, g], lr, alpha, wd, eps, momentum, maximize) => {
      const got = firstStep(p, g, (ps) => new RMSprop(ps, { lr, alpha, weightDecay: wd, eps, momentum, centered: true, maximize }));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => (-lr * di) / (Math.sqrt(alpha * (1 - alpha)) * Math.abs(di) + eps)));
    },
  );

  test.prop([pair, lr, beta, beta, eps, weightDecay, fc.boolean(), fc.boolean()])(
    "Adam: p − lr·d/(|d| + eps) after bias correction (AMSGrad too)",
    ([p, g], lr, b1, b2, eps, wd, amsgrad, maximize) => {
      const got = firstStep(p, g, (ps) => new Adam(ps, { lr, betas: [b1, b2], eps, weightDecay: wd, amsgrad, maximize }));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => (-lr * di) / (Math.abs(di) + eps)));
    },
  );

  test.prop([pair, lr, beta, beta, eps, weightDecay, fc.boolean(), fc.boolean()])(
    "AdamW: p·(1 − lr·λ) − lr·g/(|g| + eps)",
    ([p, g], lr, b1, b2, eps, wd, amsgrad, maximize) => {
      const got = firstStep(p, g, (ps) => new AdamW(ps, { lr, betas: [b1, b2], eps, weightDecay: wd, amsgrad, maximize }));
      const s = sign(maximize);
      // Written as p + Δ with Δ = −lr·λ·p − lr·g/(|g|+eps).
      expectStep(got, p, g.map((gi, i) => -lr * wd * p[i]! + (-lr * s * gi) / (Math.abs(gi) + eps)));
    },
  );

  test.prop([pair, lr, beta, beta, eps, weightDecay, fc.double({ min: 0, max: 0.1, noNaN: true }), fc.boolean()])(
    "NAdam: p − lr·d/(|d| + eps)·(1 + μ₂(1−β₁)/(1 − μ₁μ₂)), μₜ = β₁(1 − ½·0.96^(tψ))",
    ([p, g], lr, b1, b2, eps, wd, psi, maximize) => {
      const got = firstStep(p, g, (ps) => new NAdam(ps, { lr, betas: [b1, b2], eps, weightDecay: wd, momentumDecay: psi, maximize }));
      const mu1 = b1 * (1 - 0.5 * 0.96 ** psi);
      const mu2 = b1 * (1 - 0.5 * 0.96 ** (2 * psi));
      const d = g.map((gi, i) => sign(maximize) * gi + wd * p[i]!);
      expectStep(got, p, d.map((di) => ((-lr * di) / (Math.abs(di) + eps)) * (1 + (mu2 * (1 - b1)) / (1 - mu1 * mu2))));
    },
  );
});
