/** Metrics `fit` and `evaluate` report, by name or as functions. */
import { argmax, cast, DeltagradError, equal, noGrad, scoped, sum, Tensor } from "@deltagrad/autograd";
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

/** A metric an asynchronous backend can compute: a name, or a function returning a number, a one-element tensor or a promise. */
export type DeviceMetric = Metric | ((p: Tensor, y: Tensor) => number | Tensor | Promise<number>);

/**
 * @internal Metrics computed on the device and read in one batch together with `first` (a loss),
 * for backends whose reads are asynchronous (on webgpu one GPU wait). Accuracy counts hits on the
 * device and divides on the host, so it equals {@link METRICS}' value exactly.
 */
export async function readMetrics(op: string, pred: Tensor, y: Tensor, metrics: DeviceMetric[], first: Tensor | null): Promise<{ first: number; metrics: Record<string, number> }> {
  if (!Array.isArray(metrics)) throw new DeltagradError(`${op}: metrics must be an array, got ${typeof metrics}`);
  const rows = pred.rank === 0 ? 1 : pred.shape[0]!;
  const names: string[] = [];
  const pending: (Tensor | number | Promise<number>)[] = [first ?? NaN];
  for (const [i, m] of metrics.entries()) {
    if (m === "accuracy") {
      names.push("accuracy");
      pending.push(noGrad(() => scoped(() => sum(cast(equal(classesOf(pred), classesOf(y)), "float32")))));
    } else if (typeof m === "function") {
      names.push(m.name || `metric${i}`);
      pending.push(m(pred, y));
    } else throw new DeltagradError(`${op}: unknown metric "${String(m)}" (known: ${Object.keys(METRICS).join(", ")})`);
  }
  const values = await Promise.all(pending.map((v) => (v instanceof Tensor ? v.item() : v)));
  const out: Record<string, number> = {};
  names.forEach((k, i) => (out[k] = metrics[i] === "accuracy" ? (rows ? values[i + 1]! / rows : NaN) : values[i + 1]!));
  return { first: values[0]!, metrics: out };
}

/** Class labels as a device tensor: int32 labels as they are, else the argmax of the last axis. */
function classesOf(t: Tensor): Tensor {
  return t.dtype === "int32" ? t : argmax(t, { axis: -1 });
}
