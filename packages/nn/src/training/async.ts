/**
 * Asynchronous forms of `predict` and `evaluate` that work on every backend, webgpu included:
 * the loss and the accuracy are reduced on the device and all numbers are read in one batch (on
 * webgpu one GPU wait), instead of `itemSync()`/`dataSync()`, which asynchronous backends refuse.
 */
import { argmax, cast, concat, DeltagradError, equal, noGrad, scoped, sum, Tensor } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";
import type { Module } from "../module.js";
import { predict } from "./fit.js";
import type { Metric } from "./metrics.js";

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
  metrics?: (Metric | ((p: Tensor, y: Tensor) => number | Tensor | Promise<number>))[];
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
  const rows = pred.rank === 0 ? 1 : pred.shape[0]!;
  const names: string[] = [];
  const pending: (Tensor | number | Promise<number>)[] = [noGrad(() => loss(pred, y))];
  for (const [i, m] of metrics.entries()) {
    if (m === "accuracy") {
      names.push("accuracy");
      pending.push(noGrad(() => scoped(() => sum(cast(equal(toClassesT(pred), toClassesT(y)), "float32")))));
    } else if (typeof m === "function") {
      names.push(m.name || `metric${i}`);
      pending.push(m(pred, y));
    } else throw new DeltagradError(`evaluateAsync: unknown metric "${String(m)}" (known: accuracy)`);
  }
  const values = await Promise.all(pending.map((v) => (v instanceof Tensor ? v.item() : v)));
  const out: Record<string, number> = {};
  names.forEach((k, i) => (out[k] = k === "accuracy" && metrics[i] === "accuracy" ? (rows ? values[i + 1]! / rows : NaN) : values[i + 1]!));
  return { loss: values[0]!, metrics: out };
}

/** Class labels as a device tensor: int32 labels as they are, else the argmax of the last axis. */
function toClassesT(t: Tensor): Tensor {
  return t.dtype === "int32" ? t : argmax(t, { axis: -1 });
}
