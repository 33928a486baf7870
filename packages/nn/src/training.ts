/**
 * Training: `fit` with callbacks, a progress bar and a History; `evaluate` and `predict`.
 * Deterministic given a seed (shuffling and dropout draw from seeded generators).
 */
import { optionsOf } from "./options.js";
import { DeltagradError, manualSeed, noGrad, concat, Tensor } from "@deltagrad/autograd";
import cliProgress from "cli-progress";
import { batchCount, batches, takeRows, toClasses } from "./data.js";
import { hstackSvg, lineChartSvg, type Series } from "./chart.js";
import type { Module } from "./module.js";

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

function pickMonitor(logs: Logs, monitor: string): number | undefined {
  if (monitor in logs) return logs[monitor];
  if (monitor === "valLoss" && "loss" in logs) return logs.loss;
  return undefined;
}

function better(mode: "min" | "max", value: number, best: number, minDelta: number): boolean {
  return mode === "min" ? value < best - minDelta : value > best + minDelta;
}

const autoMode = (monitor: string): "min" | "max" => (/acc|auc|precision|recall|f1/i.test(monitor) ? "max" : "min");

export interface EarlyStoppingOptions {
  /** Log key to watch. Default "valLoss" (falls back to "loss" without validation data). */
  monitor?: string;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  mode?: "min" | "max" | "auto";
  /** Put back the best epoch's weights when stopping. Default false. */
  restoreBestWeights?: boolean;
}

/**
 * Stops training when the monitored value stops improving (Keras semantics; lecture 001 uses
 * patience 5, minDelta 1e-6).
 *
 * @example
 * ```ts
 * await fit(model, { …, callbacks: [new EarlyStopping({ patience: 5, minDelta: 1e-6, restoreBestWeights: true })] });
 * ```
 */
export class EarlyStopping implements Callback {
  best = Infinity;
  bestEpoch = -1;
  stoppedEpoch = -1;
  private wait = 0;
  private bestWeights: Record<string, Tensor> | null = null;
  private readonly o: Required<Omit<EarlyStoppingOptions, "mode">>;
  private readonly mode: "min" | "max";

  constructor(options: EarlyStoppingOptions = {}) {
    const { monitor = "valLoss", patience = 0, minDelta = 0, mode = "auto", restoreBestWeights = false } = options;
    if (!Number.isInteger(patience) || patience < 0) throw new DeltagradError(`EarlyStopping: patience must be a non-negative integer, got ${patience}`);
    if (!(minDelta >= 0)) throw new DeltagradError(`EarlyStopping: minDelta must be ≥ 0, got ${minDelta}`);
    this.mode = mode === "auto" ? autoMode(monitor) : mode;
    this.o = { monitor, patience, minDelta, restoreBestWeights };
  }

  onTrainBegin(): void {
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.wait = 0;
    this.bestWeights = null;
    this.stoppedEpoch = -1;
  }

  onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): void {
    const v = pickMonitor(logs, this.o.monitor);
    if (v === undefined) throw new DeltagradError(`EarlyStopping: monitor "${this.o.monitor}" is not among the logs (${Object.keys(logs).join(", ")})`);
    if (better(this.mode, v, this.best, this.o.minDelta)) {
      this.best = v;
      this.bestEpoch = epoch;
      this.wait = 0;
      // Tensors are immutable (optimizers swap storage), so holding detached references is a snapshot.
      if (this.o.restoreBestWeights) this.bestWeights = Object.fromEntries(Object.entries(ctx.model.stateDict()).map(([k, t]) => [k, t.detach()]));
      return;
    }
    if (++this.wait > this.o.patience) {
      this.stoppedEpoch = epoch;
      ctx.stopTraining = true;
      if (this.bestWeights) ctx.model.loadStateDict(this.bestWeights);
    }
  }
}

/** An LR scheduler as optim defines it: `step()` or, for ReduceLROnPlateau, `step(metric)`. */
export interface SchedulerLike {
  step(metric?: number): void;
}

/**
 * Steps an optim scheduler after every epoch (passing the monitored value, for ReduceLROnPlateau).
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 10, gamma: 0.5 });
 * await fit(model, { …, callbacks: [new LearningRateScheduler(sched)] });
 * ```
 */
export class LearningRateScheduler implements Callback {
  constructor(
    readonly scheduler: SchedulerLike,
    readonly options: { monitor?: string } = {},
  ) {
    if (!scheduler || typeof scheduler.step !== "function") throw new DeltagradError("LearningRateScheduler: expected a scheduler with a step() method");
  }
  onEpochEnd(_epoch: number, logs: Logs): void {
    const m = this.options.monitor === undefined ? undefined : pickMonitor(logs, this.options.monitor);
    this.scheduler.step(m);
  }
}

/** A function that saves a model's state dict to a path (the checkpoint module's `save`). */
export type SaveFn = (stateDict: Record<string, Tensor>, path: string) => Promise<void>;

export interface ModelCheckpointOptions {
  /** File path; `{epoch}` is replaced by the epoch number. */
  path: string;
  monitor?: string;
  mode?: "min" | "max" | "auto";
  /** Only write when the monitored value improves. Default true. */
  saveBestOnly?: boolean;
}

/**
 * Saves the model's weights (safetensors, written atomically) after an epoch — every epoch, or
 * only when the monitored value improves.
 *
 * @example
 * ```ts
 * await fit(model, { …, callbacks: [new ModelCheckpoint({ path: "best.safetensors" })] });
 * ```
 */
export class ModelCheckpoint implements Callback {
  best: number;
  saved: string[] = [];
  private readonly mode: "min" | "max";
  constructor(
    readonly options: ModelCheckpointOptions,
    private readonly saveFn?: SaveFn,
  ) {
    if (!options || typeof options.path !== "string" || !options.path) throw new DeltagradError("ModelCheckpoint: a path is required");
    this.mode = !options.mode || options.mode === "auto" ? autoMode(options.monitor ?? "valLoss") : options.mode;
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): Promise<void> {
    const { saveBestOnly = true, monitor = "valLoss" } = this.options;
    if (saveBestOnly) {
      const v = pickMonitor(logs, monitor);
      if (v === undefined) throw new DeltagradError(`ModelCheckpoint: monitor "${monitor}" is not among the logs`);
      if (!better(this.mode, v, this.best, 0)) return;
      this.best = v;
    }
    const path = this.options.path.replace("{epoch}", String(epoch));
    const save = this.saveFn ?? ((await import("./checkpoint.js")) as unknown as { save: SaveFn }).save;
    await save(ctx.model.stateDict(), path);
    this.saved.push(path);
  }
}

type Out = { write(s: string): unknown; isTTY?: boolean };

function defaultOut(): Out {
  const p = (globalThis as { process?: { stdout?: Out } }).process;
  return p?.stdout ?? { write: (s: string) => console.log(s.replace(/\n$/, "")) };
}

const fmtLogs = (logs: Logs) =>
  Object.entries(logs)
    .filter(([k]) => k !== "seconds" && k !== "samplesPerSecond" && k !== "lr")
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(" - ");

/**
 * Progress display. On a TTY: a live bar per epoch (cli-progress) with batch progress, loss,
 * metrics, samples/s and ETA. Otherwise (CI logs, files): one clean line per epoch.
 *
 * @example
 * ```ts
 * await fit(model, { …, verbose: 0, callbacks: [new ProgressBar()] });
 * ```
 */
export class ProgressBar implements Callback {
  private bar: cliProgress.SingleBar | null = null;
  private seen = 0;
  private lossSum = 0;
  private metricSums: Record<string, number> = {};
  private start = 0;
  private readonly out: Out;
  private readonly tty: boolean;
  constructor(options: { stream?: Out; tty?: boolean } = {}) {
    this.out = options.stream ?? defaultOut();
    this.tty = options.tty ?? !!this.out.isTTY;
  }
  onEpochBegin(epoch: number, ctx: TrainingContext): void {
    this.seen = 0;
    this.lossSum = 0;
    this.metricSums = {};
    this.start = performance.now();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `epoch ${epoch}/${ctx.epochs} [{bar}] {value}/{total} | loss {loss}{metrics} | {speed} samples/s | ETA {eta_formatted}`,
        stream: this.out as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(ctx.steps, 0, { loss: "-", metrics: "", speed: "-" });
  }
  onBatchEnd(_b: number, logs: BatchLogs): void {
    this.seen += logs.size;
    this.lossSum += logs.loss * logs.size;
    // Running means over the epoch's batches so far (weighted by batch size).
    for (const [k, v] of Object.entries(logs.metrics)) this.metricSums[k] = (this.metricSums[k] ?? 0) + v * logs.size;
    const metrics = Object.entries(this.metricSums).map(([k, v]) => ` | ${k} ${(v / this.seen).toFixed(4)}`).join("");
    const secs = (performance.now() - this.start) / 1000;
    this.bar?.increment(1, { loss: (this.lossSum / this.seen).toFixed(4), metrics, speed: Math.round(this.seen / Math.max(secs, 1e-9)) });
  }
  onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): void {
    this.bar?.stop();
    this.bar = null;
    const lr = ctx.optimizer.paramGroups[0]?.lr;
    this.out.write(
      `epoch ${epoch}/${ctx.epochs} - ${fmtLogs(logs)}${lr !== undefined ? ` - lr ${lr.toPrecision(3)}` : ""} - ${Math.round(logs.samplesPerSecond ?? 0)} samples/s - ${(logs.seconds ?? 0).toFixed(2)}s\n`,
    );
  }
}

/** Deno Jupyter, detected at run time (no Deno-only import): one chart updated in place every epoch. */
class LiveChart implements Callback {
  private readonly id = `deltagrad-fit-${Math.random().toString(36).slice(2)}`;
  constructor(private readonly jupyter: { broadcast(type: string, content: unknown): Promise<void> }) {}
  private async send(type: string, history: History): Promise<void> {
    await this.jupyter.broadcast(type, { data: history.displayData(), metadata: {}, transient: { display_id: this.id } });
  }
  async onTrainBegin(ctx: TrainingContext): Promise<void> {
    await this.send("display_data", ctx.history);
  }
  async onEpochEnd(_e: number, _l: Logs, ctx: TrainingContext): Promise<void> {
    await this.send("update_display_data", ctx.history);
  }
}

function jupyter(): { broadcast(type: string, content: unknown): Promise<void> } | undefined {
  return (globalThis as { Deno?: { jupyter?: { broadcast(type: string, content: unknown): Promise<void> } } }).Deno?.jupyter;
}

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
  /** 0: silent; 1 (default): progress bar (or a live chart in a Deno notebook); 2: one line per epoch. */
  verbose?: 0 | 1 | 2;
  /** Seeds shuffling and (through `manualSeed`) dropout. */
  seed?: number;
  shuffle?: boolean;
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

function checkFinite(op: string, what: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new DeltagradError(`${op}: ${what} is ${values[i]}`);
  }
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
  const { loss, optimizer, epochs = 1, batchSize = 32, metrics, callbacks = [], verbose = 1, seed, shuffle = true, validationSplit } = options ?? ({} as FitOptions);
  let { x, y, validation } = options ?? ({} as FitOptions);
  if (!model || typeof model.call !== "function" || typeof model.parameters !== "function") throw new DeltagradError("fit: model must be a Module");
  if (typeof loss !== "function") throw new DeltagradError("fit: a loss function is required");
  if (!optimizer || typeof optimizer.step !== "function" || typeof optimizer.zeroGrad !== "function" || !Array.isArray(optimizer.paramGroups)) {
    throw new DeltagradError("fit: an optimizer is required (an object with step(), zeroGrad() and paramGroups)");
  }
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
  const ctx: TrainingContext = { model, optimizer, history, epochs, steps: batchCount(n, batchSize), stopTraining: false };
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
      const savedGrads = params.map((p) => p._stashGrad());
      try {
        optimizer.zeroGrad();
        const pred = model.call(batch.x);
        const l = loss(pred, batch.y);
        const lv = await l.item();
        if (!Number.isFinite(lv)) throw new DeltagradError(`fit: loss is ${lv} at epoch ${epoch}, batch ${b}; training stopped before this step, parameters unchanged`);
        l.backward();
        for (const p of params) {
          const g = p._peekGrad();
          if (g) checkFinite("fit", `a gradient at epoch ${epoch}, batch ${b} (training stopped before this step, parameters unchanged)`, await g.data());
        }
        optimizer.step();
        // Superseded gradients only the library has seen are freed now.
        for (const [g, seen] of savedGrads) if (g && !seen) g.dispose();
        lossSum += lv * batch.indices.length;
        const batchMetrics: Record<string, number> = {};
        if (mfns.length) {
          preds.push(pred.detach());
          targets.push(batch.y);
          for (const [name, f] of mfns) batchMetrics[name] = f(pred, batch.y);
        }
        for (const cb of cbs) await cb.onBatchEnd?.(b, { loss: lv, size: batch.indices.length, metrics: batchMetrics }, ctx);
      } catch (e) {
        params.forEach((p, i) => p._unstashGrad(savedGrads[i]!));
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
