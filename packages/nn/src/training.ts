/**
 * Training: `fit` with callbacks, progress (training/progress.ts) and a History; `evaluate` and `predict`.
 * Deterministic given a seed (shuffling and dropout draw from seeded generators).
 */
import { optionsOf } from "./options.js";
import { DeltagradError, manualSeed, noGrad, concat, Tensor, scoped, logicalNot, tensor, compile, getBackend } from "@deltagrad/autograd";
import { batchCount, batches, takeRows, toClasses } from "./data.js";
import { hstackSvg, lineChartSvg, type Series } from "./chart.js";
import type { Module } from "./module.js";
import { jupyter, LiveChart, ProgressBar, ProgressEvents, type ProgressEvent } from "./training/progress.js";

export { ProgressBar, ProgressEvents, type ProgressEvent } from "./training/progress.js";

/** The part of an optimizer that `fit` uses (nn does not import optim). */
export interface OptimizerLike {
  step(): void;
  zeroGrad(opts?: { setToNone?: boolean }): void;
  paramGroups: { lr: number }[];
}

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

/** Per-epoch numbers, keyed `loss`, `valLoss`, metric names and `val` + Name. */
export type Logs = Record<string, number>;

/**
 * What `fit` returns: per-epoch loss, metrics, validation loss/metrics, learning rate, wall time
 * and throughput. Renders as an SVG chart (`toSvg()`), a Vega-Lite spec, and in Jupyter.
 *
 * @example
 * ```ts
 * const history = await fit(model, { x, y, loss: crossEntropy, optimizer, epochs: 5 });
 * history.loss;        // [2.1, 1.2, …]
 * history.toSvg();     // "<svg …>"
 * ```
 */
export class History {
  /** Epoch numbers (1-based). */
  epoch: number[] = [];
  /** Every logged series by key: `loss`, `valLoss`, `accuracy`, `valAccuracy`, `lr`, `seconds`, `samplesPerSecond`. */
  series: Record<string, number[]> = {};

  /** Appends one epoch's logs. */
  push(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.series[k] ??= []).push(v);
  }

  get loss(): number[] {
    return this.series.loss ?? [];
  }
  get valLoss(): number[] {
    return this.series.valLoss ?? [];
  }
  get lr(): number[] {
    return this.series.lr ?? [];
  }
  /** Wall time of each epoch in seconds. */
  get seconds(): number[] {
    return this.series.seconds ?? [];
  }
  /** Metric series (everything but loss, lr and timing). */
  get metrics(): Record<string, number[]> {
    const skip = new Set(["loss", "valLoss", "lr", "seconds", "samplesPerSecond"]);
    return Object.fromEntries(Object.entries(this.series).filter(([k]) => !skip.has(k)));
  }
  /** The last epoch's logs. */
  get last(): Logs {
    return Object.fromEntries(Object.entries(this.series).map(([k, v]) => [k, v[v.length - 1]!]));
  }

  /** Loss curves (and metric curves, if any) side by side as one SVG. */
  toSvg(): string {
    const lossSeries: Series[] = [{ name: "loss", values: this.loss, x: this.epoch }];
    if (this.valLoss.length) lossSeries.push({ name: "val loss", values: this.valLoss, x: this.epoch });
    const charts = [lineChartSvg(lossSeries, { title: "loss", xLabel: "epoch" })];
    const metricSeries = Object.entries(this.metrics).map(([k, v]) => ({ name: k, values: v, x: this.epoch }));
    if (metricSeries.length) charts.push(lineChartSvg(metricSeries, { title: "metrics", xLabel: "epoch" }));
    return charts.length === 1 ? charts[0]! : hstackSvg(charts);
  }

  /** A Vega-Lite v5 spec of every series against epoch. */
  toVegaLite(): Record<string, unknown> {
    const values = this.epoch.flatMap((e, i) =>
      Object.entries(this.series)
        .filter(([k]) => k !== "lr" && k !== "seconds" && k !== "samplesPerSecond")
        .map(([k, v]) => ({ epoch: e, series: k, value: v[i] })),
    );
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      data: { values },
      mark: { type: "line", point: true },
      encoding: { x: { field: "epoch", type: "quantitative" }, y: { field: "value", type: "quantitative" }, color: { field: "series", type: "nominal" } },
    };
  }

  /** The MIME bundle shown in notebooks: the chart as SVG (always renders) plus a Vega-Lite spec and text. */
  displayData(): Record<string, unknown> {
    return {
      "image/svg+xml": this.toSvg(),
      "application/vnd.vegalite.v5+json": this.toVegaLite(),
      "text/plain": `History(${this.epoch.length} epochs, last: ${JSON.stringify(this.last)})`,
    };
  }

  /** Jupyter rich display (Deno's kernel calls it). */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return this.displayData();
  }

  toJSON(): { epoch: number[]; series: Record<string, number[]> } {
    return { epoch: this.epoch, series: this.series };
  }
}

/** What callbacks see and may change. */
export interface TrainingContext {
  model: Module;
  optimizer: OptimizerLike;
  history: History;
  epochs: number;
  /** Batches per epoch. */
  steps: number;
  /** Set to true to stop after the current epoch. */
  stopTraining: boolean;
}

/** What `onBatchEnd` receives: the batch's loss, its size, and each metric on this batch. */
export interface BatchLogs {
  loss: number;
  size: number;
  metrics: Record<string, number>;
}

/** Hooks called by `fit`. All optional; async hooks are awaited. */
export interface Callback {
  onTrainBegin?(ctx: TrainingContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: TrainingContext): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs, ctx: TrainingContext): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, ctx: TrainingContext): void | Promise<void>;
  onTrainEnd?(ctx: TrainingContext): void | Promise<void>;
}

export { EarlyStopping, LearningRateScheduler, ModelCheckpoint, type EarlyStoppingOptions, type SchedulerLike, type SaveFn, type ModelCheckpointOptions } from "./training/callbacks.js";

export interface FitOptions {
  x: Tensor;
  y: Tensor;
  /** (predictions, targets) → scalar loss tensor, e.g. `crossEntropy`. */
  loss: (pred: Tensor, target: Tensor) => Tensor;
  optimizer: OptimizerLike;
  epochs?: number;
  batchSize?: number;
  /** Held-out data evaluated after every epoch. */
  validation?: { x: Tensor; y: Tensor };
  /** Or: the last fraction of rows (before shuffling) held out, as Keras. */
  validationSplit?: number;
  metrics?: Metric[];
  callbacks?: Callback[];
  /**
   * 0: silent; 1 (default): a live bar on a terminal, a live chart in a Deno notebook, one line
   * per epoch elsewhere (logs, a browser's console); 2: one line per epoch.
   */
  verbose?: 0 | 1 | 2;
  /** Called after every batch, every epoch and at the end (see {@link ProgressEvent}), whatever `verbose` says: what a page draws progress from. */
  onProgress?: (event: ProgressEvent) => void | Promise<void>;
  /** Seeds shuffling and (through `manualSeed`) dropout. */
  seed?: number;
  shuffle?: boolean;
  /**
   * Run each step through `compile()` (docs/compile.md): forward + backward traced once per batch
   * shape and replayed, the optimizer step compiled likewise. Default: on for synchronous backends
   * (cpu, wasm). A model or loss that does not trace (it reads a value on the host) falls back to
   * eager steps with one warning.
   */
  compile?: boolean;
}

function metricFns(metrics: Metric[] = []): [string, (p: Tensor, y: Tensor) => number][] {
  if (!Array.isArray(metrics)) throw new DeltagradError(`fit: metrics must be an array of names or functions, got ${metrics === null ? "null" : typeof metrics}`);
  return metrics.map((m, i) => {
    if (typeof m === "function") return [m.name || `metric${i}`, m];
    const f = METRICS[m];
    if (!f) throw new DeltagradError(`fit: unknown metric "${String(m)}" (known: ${Object.keys(METRICS).join(", ")})`);
    return [m, f];
  });
}

/** NaN and ±∞ entries over every gradient of `params`, as a scalar tensor computed where the gradients live (|g| < ∞ is false exactly for those). */
function nonFiniteCount(params: Tensor[]): Tensor {
  return scoped(() => noGrad(() => {
    const counts = params.flatMap((p) => {
      const g = p.peekGrad();
      return g ? [logicalNot(g.abs().less(Infinity)).cast("float32").sum()] : [];
    });
    return counts.length === 0 ? tensor(0) : counts.reduce((acc, c) => acc.add(c));
  }));
}

/**
 * fit's step in two halves — forward + backward (returning the predictions, the loss and the
 * count of non-finite gradient entries), then the optimizer update — so a bad loss is caught
 * between them. With `compiled`, each half is a compiled function; a half that fails to trace
 * (a host read inside the model or loss) falls back to eager code with one warning.
 */
function trainStep(model: Module, loss: FitOptions["loss"], optimizer: OptimizerLike, params: Tensor[], compiled: boolean) {
  const fb = (x: Tensor, y: Tensor): [Tensor, Tensor, Tensor] => {
    optimizer.zeroGrad();
    const pred = model.call(x);
    const l = loss(pred, y);
    l.backward();
    return [pred, l, nonFiniteCount(params)];
  };
  const up = (): void => optimizer.step();
  if (!compiled) return { forwardBackward: fb, update: up };
  const cfb = compile(fb, { name: "fit step" });
  const cup = compile(up, { name: "fit update" });
  let eager = false;
  const guarded = <A extends unknown[], R>(c: (...a: A) => R, plain: (...a: A) => R) => (...a: A): R => {
    if (eager) return plain(...a);
    try {
      return c(...a);
    } catch (e) {
      if (!(e instanceof DeltagradError) || !e.message.startsWith("compile(")) throw e;
      eager = true;
      console.warn(`fit: the step does not compile, training eagerly (pass compile: false to silence this): ${e.message}`);
      return plain(...a);
    }
  };
  return { forwardBackward: guarded(cfb, fb), update: guarded(cup, up) };
}

/**
 * Trains `model` on `(x, y)` with mini-batches, returning a {@link History}. Each step: zero
 * gradients, forward, loss, backward, optimizer step. A NaN/±Inf loss or gradient stops training
 * with an error naming the epoch and batch, before the optimizer step, so parameters, `.grad`
 * and optimizer state are as they were before that step.
 *
 * @example
 * ```ts
 * const model = new MLP([4, 6, 3], { activation: "sigmoid" });
 * const history = await fit(model, {
 *   x, y, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr: 1e-2 }),
 *   epochs: 50, batchSize: 16, metrics: ["accuracy"], validation: { x: xTest, y: yTest }, seed: 0,
 * });
 * ```
 */
export async function fit(model: Module, options: FitOptions): Promise<History> {
  const { loss, optimizer, epochs = 1, batchSize = 32, metrics, callbacks = [], verbose = 1, seed, shuffle = true, validationSplit, onProgress, compile: useCompile = getBackend().synchronous } = options ?? ({} as FitOptions);
  let { x, y, validation } = options ?? ({} as FitOptions);
  if (!model || typeof model.call !== "function" || typeof model.parameters !== "function") throw new DeltagradError("fit: model must be a Module");
  if (typeof loss !== "function") throw new DeltagradError("fit: a loss function is required");
  if (!optimizer || typeof optimizer.step !== "function" || typeof optimizer.zeroGrad !== "function" || !Array.isArray(optimizer.paramGroups)) {
    throw new DeltagradError("fit: an optimizer is required (an object with step(), zeroGrad() and paramGroups)");
  }
  if (onProgress !== undefined && typeof onProgress !== "function") throw new DeltagradError(`fit: onProgress must be a function, got ${onProgress === null ? "null" : typeof onProgress}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new DeltagradError(`fit: epochs must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DeltagradError(`fit: batchSize must be a positive integer, got ${batchSize}`);
  if (!x || !y || x.rank === 0 || y.rank === 0 || x.shape[0] !== y.shape[0]) {
    throw new DeltagradError(`fit: x and y need the same number of rows, got ${x ? `[${x.shape}]` : x} and ${y ? `[${y.shape}]` : y}`);
  }
  if (validationSplit !== undefined) {
    if (!(validationSplit > 0 && validationSplit < 1)) throw new DeltagradError(`fit: validationSplit must be in (0, 1), got ${validationSplit}`);
    const n = x.shape[0]!;
    const nVal = Math.max(1, Math.round(n * validationSplit));
    const rows = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
    validation = { x: takeRows(x, rows(n - nVal, n)), y: takeRows(y, rows(n - nVal, n)) };
    x = takeRows(x, rows(0, n - nVal));
    y = takeRows(y, rows(0, n - nVal));
  }
  if (seed !== undefined) manualSeed(seed);
  const mfns = metricFns(metrics);
  const params = model.parameters();
  const n = x.shape[0]!;
  const history = new History();
  const live = verbose === 1 ? jupyter() : undefined;
  const cbs: Callback[] = [...callbacks];
  if (verbose === 1) cbs.push(live ? new LiveChart(live) : new ProgressBar());
  if (verbose === 2) cbs.push(new ProgressBar({ tty: false }));
  if (onProgress) cbs.push(new ProgressEvents(onProgress));
  const ctx: TrainingContext = { model, optimizer, history, epochs, steps: batchCount(n, batchSize), stopTraining: false };
  const step = trainStep(model, loss, optimizer, params, useCompile);
  for (const cb of cbs) await cb.onTrainBegin?.(ctx);
  for (let epoch = 1; epoch <= epochs && !ctx.stopTraining; epoch++) {
    for (const cb of cbs) await cb.onEpochBegin?.(epoch, ctx);
    model.train();
    const t0 = performance.now();
    let lossSum = 0;
    let b = 0;
    const preds: Tensor[] = [];
    const targets: Tensor[] = [];
    for (const batch of batches(x, y, { batchSize, shuffle, seed: seed === undefined ? undefined : seed * 1_000_003 + epoch })) {
      b++;
      // The gradients before this batch, set aside (not freed) so that a failing batch can put them back.
      const savedGrads = params.map((p) => p.stashGrad());
      try {
        const [pred, l, nonFinite] = step.forwardBackward(batch.x, batch.y);
        // One read per step, not a download of every gradient: the loss and a count of non-finite
        // gradient entries computed on the device, read together (on webgpu one GPU wait).
        const [lv, bad] = await Promise.all([l.item(), nonFinite.item()]);
        if (!Number.isFinite(lv)) throw new DeltagradError(`fit: loss is ${lv} at epoch ${epoch}, batch ${b}; training stopped before this step, parameters unchanged`);
        if (bad !== 0) throw new DeltagradError(`fit: a gradient at epoch ${epoch}, batch ${b} (training stopped before this step, parameters unchanged) has ${bad} NaN or infinite entries`);
        step.update();
        // Superseded gradients only the library has seen are freed now.
        for (const s of savedGrads) s.release();
        lossSum += lv * batch.indices.length;
        const batchMetrics: Record<string, number> = {};
        if (mfns.length) {
          preds.push(pred.detach());
          targets.push(batch.y);
          for (const [name, f] of mfns) batchMetrics[name] = f(pred, batch.y);
        }
        for (const cb of cbs) await cb.onBatchEnd?.(b, { loss: lv, size: batch.indices.length, metrics: batchMetrics }, ctx);
      } catch (e) {
        for (const s of savedGrads) s.restore();
        throw e;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const logs: Logs = { loss: lossSum / n };
    if (mfns.length) {
      const P = concat(preds);
      const Y = concat(targets);
      for (const [name, f] of mfns) logs[name] = f(P, Y);
    }
    if (validation) {
      const v = evaluate(model, validation.x, validation.y, { loss, metrics, batchSize: Math.max(batchSize, 256) });
      logs.valLoss = v.loss;
      for (const [k, val] of Object.entries(v.metrics)) logs[`val${k[0]!.toUpperCase()}${k.slice(1)}`] = val;
    }
    logs.lr = optimizer.paramGroups?.[0]?.lr ?? NaN;
    logs.seconds = seconds;
    logs.samplesPerSecond = n / seconds;
    history.push(epoch, logs);
    for (const cb of cbs) await cb.onEpochEnd?.(epoch, logs, ctx);
  }
  for (const cb of cbs) await cb.onTrainEnd?.(ctx);
  return history;
}

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

/**
 * Loss and metrics of `model` on `(x, y)` in eval mode.
 *
 * @example
 * ```ts
 * const { loss, metrics } = evaluate(model, xTest, yTest, { loss: crossEntropy, metrics: ["accuracy"] });
 * ```
 */
export function evaluate(
  model: Module,
  x: Tensor,
  y: Tensor,
  options: { loss: (p: Tensor, t: Tensor) => Tensor; metrics?: Metric[]; batchSize?: number },
): { loss: number; metrics: Record<string, number> } {
  const { loss, metrics, batchSize = 1024 } = optionsOf("evaluate", options);
  if (typeof loss !== "function") throw new DeltagradError("evaluate: a loss function is required");
  const pred = predict(model, x, { batchSize });
  const lv = noGrad(() => loss(pred, y).itemSync());
  return { loss: lv, metrics: Object.fromEntries(metricFns(metrics).map(([k, f]) => [k, f(pred, y)])) };
}
