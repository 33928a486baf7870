/**
 * Asynchronous forms of `predict` and `evaluate` that work on every backend, webgpu included:
 * the loss and the accuracy are reduced on the device and all numbers are read in one batch (on
 * webgpu one GPU wait), instead of `itemSync()`/`dataSync()`, which asynchronous backends refuse.
 */
import { concat, DeltagradError, noGrad, Tensor } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";
import type { Module } from "../module.js";
import { predict } from "./predict.js";
import { readMetrics, type DeviceMetric } from "./metrics.js";

/**
 * {@link predict} that resolves once the outputs are computed: each batch is awaited before the
 * next is recorded, so a long prediction keeps the event loop free and at most one batch of work
 * queued on the GPU. Same values as `predict`.
 *
 * @example
 * ```ts
 * const logits = await predictAsync(model, xTest, { batchSize: 512 });
 * console.log(await logits.array());
 * ```
 */
export async function predictAsync(model: Module, x: Tensor, options?: { batchSize?: number }): Promise<Tensor> {
  const { batchSize = 1024 } = optionsOf("predictAsync", options);
  if (!(x instanceof Tensor) || x.rank === 0) throw new DeltagradError(`predictAsync: x must be a Tensor with a batch axis, got ${x instanceof Tensor ? "a scalar" : String(x)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DeltagradError(`predictAsync: batchSize must be a positive integer, got ${String(batchSize)}`);
  const n = x.shape[0]!;
  const parts: Tensor[] = [];
  for (let s = 0; s < n || (n === 0 && s === 0); s += batchSize) {
    const rows = x.slice([s, ...x.shape.slice(1).map(() => 0)], [Math.min(batchSize, n - s), ...x.shape.slice(1)]);
    const out = predict(model, rows, { batchSize });
    await out.slice(out.shape.map(() => 0), out.shape.map((d) => Math.min(d, 1))).data(); // waits for this batch only
    parts.push(out);
    if (n === 0) break;
  }
  return parts.length === 1 ? parts[0]! : noGrad(() => concat(parts));
}

/**
 * Options of {@link evaluateAsync}.
 *
 * @example
 * ```ts
 * const opts: EvaluateAsyncOptions = { loss: crossEntropy, metrics: ["accuracy"], batchSize: 512 };
 * ```
 */
export interface EvaluateAsyncOptions {
  loss: (p: Tensor, t: Tensor) => Tensor;
  /** `"accuracy"` (counted on the device) or functions returning a number, a one-element tensor or a promise of a number. */
  metrics?: DeviceMetric[];
  batchSize?: number;
}

/**
 * {@link evaluate} for every backend: loss and metrics of `model` on `(x, y)` in eval mode, with
 * the loss and the accuracy reduced on the device and every number read in one batch. Accuracy
 * counts hits on the device and divides on the host, so it equals `evaluate`'s exactly.
 *
 * @example
 * ```ts
 * const { loss, metrics } = await evaluateAsync(model, xTest, yTest, { loss: crossEntropy, metrics: ["accuracy"] });
 * ```
 */
export async function evaluateAsync(model: Module, x: Tensor, y: Tensor, options: EvaluateAsyncOptions): Promise<{ loss: number; metrics: Record<string, number> }> {
  const { loss, metrics = [], batchSize = 1024 } = optionsOf("evaluateAsync", options);
  if (typeof loss !== "function") throw new DeltagradError("evaluateAsync: a loss function is required");
  if (!Array.isArray(metrics)) throw new DeltagradError(`evaluateAsync: metrics must be an array, got ${typeof metrics}`);
  const pred = predict(model, x, { batchSize });
  const r = await readMetrics("evaluateAsync", pred, y, metrics, noGrad(() => loss(pred, y)));
  return { loss: r.first, metrics: r.metrics };
}
