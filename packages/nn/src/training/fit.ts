/**
 * `fit` (batches, validation, callbacks, progress, compiled steps), `predict` and `evaluate`.
 * Deterministic given a seed (shuffling and dropout draw from seeded generators).
 */
import { optionsOf } from "../options.js";
import { DeltagradError, manualSeed, noGrad, concat, Tensor, scoped, logicalNot, tensor, compile, getBackend } from "@deltagrad/autograd";
import { batchCount, batches, takeRows } from "../data.js";
import type { Module } from "../module.js";
import { jupyter, LiveChart, ProgressBar, ProgressEvents, type ProgressEvent } from "./progress.js";
import { History } from "./history.js";
import { metricFns, readMetrics, type Metric } from "./metrics.js";
import { predict } from "./predict.js";
import { evaluateAsync } from "./async.js";
import type { Callback, Logs, OptimizerLike, TrainingContext } from "./types.js";

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
  const sync = getBackend().synchronous; // else metrics and validation are reduced on the device, read once an epoch
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
          // Per-batch metrics read on the host: only where reads are synchronous (not a read per step on webgpu).
          if (sync) for (const [name, f] of mfns) batchMetrics[name] = f(pred, batch.y);
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
      if (sync) for (const [name, f] of mfns) logs[name] = f(P, Y);
      else Object.assign(logs, (await readMetrics("fit", P, Y, metrics!, null)).metrics);
    }
    if (validation) {
      const vOpts = { loss, metrics, batchSize: Math.max(batchSize, 256) };
      const v = sync ? evaluate(model, validation.x, validation.y, vOpts) : await evaluateAsync(model, validation.x, validation.y, vOpts);
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
