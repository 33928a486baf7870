/** Metrics `fit` and `evaluate` report, by name or as functions. */
import { DeltagradError, type Tensor } from "@deltagrad/autograd";
import { toClasses } from "../data.js";

/** A metric: a name from {@link METRICS} or a function of (predictions, targets) → number. */
export type Metric = "accuracy" | ((pred: Tensor, y: Tensor) => number);

/**
 * Built-in metrics by name.
 *
 * @example
 * ```ts
 * METRICS.accuracy(logits, labels); // share of rows whose argmax is the label
 * ```
 */
export const METRICS: Record<string, (pred: Tensor, y: Tensor) => number> = {
  /** Share of rows whose argmax (or int prediction) equals the class label (or the target row's argmax). */
  accuracy: (pred, y) => {
    const p = toClasses(pred);
    const t = toClasses(y);
    let hit = 0;
    for (let i = 0; i < p.length; i++) if (p[i] === t[i]) hit++;
    return p.length ? hit / p.length : NaN;
  },
};

/** @internal The named functions for `fit`'s `metrics` option (names resolved, unknown ones rejected). */
export function metricFns(metrics: Metric[] = []): [string, (p: Tensor, y: Tensor) => number][] {
  if (!Array.isArray(metrics)) throw new DeltagradError(`fit: metrics must be an array of names or functions, got ${metrics === null ? "null" : typeof metrics}`);
  return metrics.map((m, i) => {
    if (typeof m === "function") return [m.name || `metric${i}`, m];
    const f = METRICS[m];
    if (!f) throw new DeltagradError(`fit: unknown metric "${String(m)}" (known: ${Object.keys(METRICS).join(", ")})`);
    return [m, f];
  });
}
