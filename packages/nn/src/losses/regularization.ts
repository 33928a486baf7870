/** Regularization terms to add to a loss. */
import { DeltagradError, Tensor, mul, sum, zeros } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";
import { Module } from "../module.js";

export interface L2PenaltyOptions {
  /**
   * Which parameters to penalize. Default: weights only, i.e. parameters of rank ≥ 2 whose name
   * does not end in "bias" (biases, PReLU slopes and Swish's β are rank ≤ 1 and are skipped).
   */
  filter?: (name: string, p: Tensor) => boolean;
}

const weightsOnly = (name: string, p: Tensor) => p.rank >= 2 && !name.endsWith("bias");

/**
 * The structured-risk term ½λ Σ‖W‖²_F (lecture 004), a differentiable scalar to add to a loss.
 * Takes a module (parameters with their names) or an array of tensors (names unknown, so the
 * default filter is the rank ≥ 2 rule alone). Its gradient is λW for each penalized W.
 *
 * @example
 * ```ts
 * const loss = mseLoss(model.call(x), y).add(l2Penalty(model, 1e-3));
 * ```
 */
export function l2Penalty(params: Module | readonly Tensor[], lambda: number, options?: L2PenaltyOptions): Tensor {
  const { filter = weightsOnly } = optionsOf("l2Penalty", options);
  if (typeof lambda !== "number" || !Number.isFinite(lambda) || lambda < 0) {
    throw new DeltagradError(`l2Penalty: lambda must be a finite number ≥ 0, got ${String(lambda)}`);
  }
  let named: [string, Tensor][];
  if (params instanceof Module) named = params.namedParameters();
  else if (Array.isArray(params)) {
    named = params.map((p, i) => {
      if (!(p instanceof Tensor)) throw new DeltagradError(`l2Penalty: params[${i}] is not a Tensor`);
      return [String(i), p] as [string, Tensor];
    });
  } else throw new DeltagradError(`l2Penalty: expected a Module or an array of tensors, got ${typeof params}`);
  const picked = named.filter(([n, p]) => filter(n, p)).map(([, p]) => p);
  if (picked.length === 0) return zeros([], { dtype: named[0]?.[1].dtype ?? "float32" });
  const total = picked.map((p) => sum(mul(p, p))).reduce((a, b) => a.add(b));
  return mul(total, lambda / 2);
}
