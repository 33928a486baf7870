/**
 * `fit`'s built-in callbacks: EarlyStopping, LearningRateScheduler (steps an optim scheduler) and
 * ModelCheckpoint (safetensors files, loaded lazily so that nn loads without a file system).
 */
import { DeltagradError, type Tensor } from "@deltagrad/autograd";
import type { Callback, Logs, TrainingContext } from "./types.js";

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
    const save = this.saveFn ?? ((await import("../checkpoint/files.js")) as unknown as { save: SaveFn }).save;
    await save(ctx.model.stateDict(), path);
    this.saved.push(path);
  }
}
