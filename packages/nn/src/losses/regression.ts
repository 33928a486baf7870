/**
 * Regression losses: squared, absolute, smooth-L1/Huber and log-cosh errors.
 */
import { Tensor, add, mul, softplus, square, sub, sum, where, scoped } from "@deltagrad/autograd";
import { optionsOf, finiteNumber } from "../options.js";
import { checkTensor, floatInput, checkSameShape, reduce, type ReductionOptions } from "./support.js";

/**
 * Mean squared error: mean((input − target)²).
 *
 * @example
 * ```ts
 * mseLoss(tensor([1, 2]), tensor([0, 0])); // 2.5
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("mseLoss", options);
    const x = floatInput("mseLoss", input);
    checkSameShape("mseLoss", x, checkTensor("mseLoss", target, "target"));
    return reduce("mseLoss", square(sub(x, target)), reduction);
  });
}

/**
 * The lectures' squared error E = ½ Σ (z − l)², summed over every element (outputs and batch).
 * Its gradient is simply z − l.
 *
 * @example
 * ```ts
 * sumSquaredError(tensor([0.743, 0.764]), tensor([0, 1])); // 0.304
 * ```
 */
export function sumSquaredError(input: Tensor, target: Tensor): Tensor {
  return scoped(() => {
    const x = floatInput("sumSquaredError", input);
    checkSameShape("sumSquaredError", x, checkTensor("sumSquaredError", target, "target"));
    return mul(sum(square(sub(x, target))), 0.5);
  });
}

/**
 * Mean absolute error: mean(|input − target|); the gradient at a zero difference is 0.
 *
 * @example
 * ```ts
 * l1Loss(tensor([1, -3]), tensor([0, 0])); // 2
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("l1Loss", options);
    const x = floatInput("l1Loss", input);
    checkSameShape("l1Loss", x, checkTensor("l1Loss", target, "target"));
    return reduce("l1Loss", sub(x, target).abs(), reduction);
  });
}

/**
 * Smooth L1 (PyTorch): 0.5·d²/β where |d| < β, |d| − 0.5·β elsewhere; β = 0 is the L1 loss.
 *
 * @example
 * ```ts
 * smoothL1Loss(tensor([0.5, 3]), tensor([0, 0])); // mean(0.125, 2.5) = 1.3125
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options?: ReductionOptions & { beta?: number }): Tensor {
  return scoped(() => {
    const { beta = 1, reduction } = optionsOf("smoothL1Loss", options);
    const op = "smoothL1Loss";
    finiteNumber(op, "beta", beta, (v) => v >= 0 && Number.isFinite(v), "a finite number ≥ 0");
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const d = sub(x, target);
    const a = d.abs();
    // β = 0 would divide by zero in the (then unused) quadratic branch and poison its gradient.
    const loss = beta === 0 ? a : where(a.less(beta), mul(square(d), 0.5 / beta), sub(a, 0.5 * beta));
    return reduce(op, loss, reduction);
  });
}

/**
 * Huber loss (PyTorch): 0.5·d² where |d| ≤ δ, δ·(|d| − 0.5·δ) elsewhere (= δ · smoothL1 with β = δ).
 *
 * @example
 * ```ts
 * huberLoss(tensor([0.5, 3]), tensor([0, 0]), { delta: 1 }); // mean(0.125, 2.5) = 1.3125
 * ```
 */
export function huberLoss(input: Tensor, target: Tensor, options?: ReductionOptions & { delta?: number }): Tensor {
  return scoped(() => {
    const { delta = 1, reduction } = optionsOf("huberLoss", options);
    const op = "huberLoss";
    finiteNumber(op, "delta", delta, (v) => v > 0 && Number.isFinite(v), "a finite number > 0");
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const d = sub(x, target);
    const a = d.abs();
    const loss = where(a.lessEqual(delta), mul(square(d), 0.5), mul(sub(a, 0.5 * delta), delta));
    return reduce(op, loss, reduction);
  });
}

/**
 * log(cosh(input − target)) (lecture 001), computed as |d| + softplus(−2|d|) − log 2 so that it
 * stays finite for any error (cosh overflows beyond |d| ≈ 710). Reduction: mean by default.
 *
 * @example
 * ```ts
 * logCoshLoss(tensor([0, 1e4]), tensor([0, 0]), { reduction: "sum" }); // ≈ 1e4 − log 2
 * ```
 */
export function logCoshLoss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("logCoshLoss", options);
    const op = "logCoshLoss";
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const a = sub(x, target).abs();
    return reduce(op, sub(add(a, softplus(mul(a, -2))), Math.LN2), reduction);
  });
}
