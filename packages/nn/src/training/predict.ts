/** `predict`: a model's outputs in eval mode, batched, without a graph (shared by fit, evaluate and the async forms). */
import { concat, DeltagradError, noGrad, Tensor } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";
import { takeRows } from "../data.js";
import type { Module } from "../module.js";

/**
 * Model outputs for `x` in eval mode without recording a graph, batched.
 *
 * @example
 * ```ts
 * const logits = predict(model, xTest);
 * ```
 */
export function predict(model: Module, x: Tensor, options?: { batchSize?: number }): Tensor {
  const { batchSize = 1024 } = optionsOf("predict", options);
  if (!model || typeof model.call !== "function") throw new DeltagradError("predict: model must be a Module");
  if (!(x instanceof Tensor) || x.rank === 0) throw new DeltagradError(`predict: x must be a Tensor with a batch axis, got ${x instanceof Tensor ? "a scalar" : String(x)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DeltagradError(`predict: batchSize must be a positive integer, got ${String(batchSize)}`);
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const n = x.shape[0]!;
      const outs: Tensor[] = [];
      for (let s = 0; s < n; s += batchSize) outs.push(model.call(takeRows(x, Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i))));
      return outs.length === 1 ? outs[0]! : concat(outs);
    });
  } finally {
    if (wasTraining) model.train();
  }
}
