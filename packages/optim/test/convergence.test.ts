/**
 * The optimizers minimize real objectives, with gradients from autograd (`loss.backward()`):
 * a convex quadratic and the Rosenbrock function. Each row states the steps and the tolerance
 * (max |x − x*|); the runs are deterministic, and the measured errors are in the comments, so a
 * tolerance is a few times the measured error, not a guess.
 */
import { describe, expect, it } from "vitest";
import { tensor, type Tensor } from "@deltagrad/autograd";
import { CosineAnnealingLR } from "@deltagrad/optim";
import { makeOptimizer, type OptimizerName } from "./helpers.js";

// f(x) = ½xᵀAx − bᵀx with A symmetric positive definite (eigenvalues ≈ 0.71, 1.65, 3.64):
// the minimizer solves Ax = b, x* = (21, −46, 74)/17.
const A = tensor([[3, 1, 0], [1, 2, 0.5], [0, 0.5, 1]], { dtype: "float64" });
const b = tensor([1, -2, 3], { dtype: "float64" });
const quadratic = (x: Tensor) => x.reshape([1, 3]).matmul(A).mul(x).sum().mul(0.5).sub(x.mul(b).sum());
const quadraticMin = [21 / 17, -46 / 17, 74 / 17];

// Rosenbrock (1 − u)² + 100(v − u²)², minimum 0 at (1, 1), from the classic start (−1.2, 1).
const rosenbrock = (x: Tensor) => {
  const u = x.slice([0], [1]);
  const v = x.slice([1], [1]);
  return u.neg().add(1).square().add(v.sub(u.square()).square().mul(100)).sum();
};

function minimize(name: OptimizerName, options: Record<string, unknown>, f: (x: Tensor) => Tensor, x0: number[], steps: number, cosine: boolean): number[] {
  const x = tensor(x0, { dtype: "float64", requiresGrad: true });
  const opt = makeOptimizer(name, [x], options);
  // RMSprop's steps stay ~lr in size near the minimum (it divides by the gradient's RMS), so with
  // a constant rate it hovers at ~1e-3; annealing the rate to 0 lets it settle.
  const sched = cosine ? new CosineAnnealingLR(opt, { tMax: steps }) : null;
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    f(x).backward();
    opt.step();
    sched?.step();
  }
  return Array.from(x.dataSync());
}

const maxErr = (x: number[], target: number[]) => Math.max(...x.map((v, i) => Math.abs(v - target[i]!)));

type Row = [OptimizerName, Record<string, unknown>, number, number, boolean?];

describe("convex quadratic, from 0", () => {
  const rows: Row[] = [
    ["SGD", { lr: 0.3 }, 150, 1e-10], // measured 9e-16
    ["SGD", { lr: 0.1, momentum: 0.9 }, 300, 1e-6], // 2.7e-7
    ["SGD", { lr: 0.1, momentum: 0.9, nesterov: true }, 300, 1e-10], // 7e-12
    ["Adagrad", { lr: 1 }, 300, 1e-10], // 1.8e-15
    ["RMSprop", { lr: 0.05 }, 1000, 1e-10, true], // 4e-16 (cosine-annealed lr)
    ["RMSprop", { lr: 0.05, centered: true, momentum: 0.5 }, 1000, 1e-10, true], // 0
    ["Adam", { lr: 0.1 }, 500, 1e-9], // 1.8e-11
    ["Adam", { lr: 0.1, amsgrad: true }, 1000, 1e-6],
    ["AdamW", { lr: 0.1, weightDecay: 0 }, 500, 1e-9], // decoupled decay would move the minimum
    ["NAdam", { lr: 0.1 }, 1000, 1e-7], // 1.2e-9
  ];
  it.each(rows)("%s %j: %i steps to within %d", (name, options, steps, tol, cosine = false) => {
    const x = minimize(name, options, quadratic, [0, 0, 0], steps, cosine);
    expect(maxErr(x, quadraticMin)).toBeLessThan(tol);
  });
});

describe("Rosenbrock, from (−1.2, 1)", () => {
  const rows: Row[] = [
    ["SGD", { lr: 1e-3, momentum: 0.9 }, 5000, 1e-6], // measured 5.9e-10
    ["SGD", { lr: 1e-3, momentum: 0.9, nesterov: true }, 5000, 1e-6], // 7.4e-10
    ["Adam", { lr: 0.02 }, 5000, 1e-6], // 6.4e-12
    ["RMSprop", { lr: 3e-3, momentum: 0.9 }, 5000, 1e-6, true], // 1.6e-10 (cosine-annealed lr)
    // The adaptive methods without momentum crawl along the curved valley:
    ["Adagrad", { lr: 1 }, 5000, 5e-2], // 1.6e-2
    ["NAdam", { lr: 0.02 }, 5000, 3e-2], // 8.7e-3
  ];
  it.each(rows)("%s %j: %i steps to within %d", (name, options, steps, tol, cosine = false) => {
    const x = minimize(name, options, rosenbrock, [-1.2, 1], steps, cosine);
    expect(maxErr(x, [1, 1])).toBeLessThan(tol);
  });
});
