/** The shapes `fit`, its callbacks and its progress reporters share. */
import type { Module } from "../module.js";
import type { History } from "./history.js";

/** The part of an optimizer that `fit` uses (nn does not import optim). */
export interface OptimizerLike {
  step(): void;
  zeroGrad(opts?: { setToNone?: boolean }): void;
  paramGroups: { lr: number }[];
}

/** Per-epoch numbers, keyed `loss`, `valLoss`, metric names and `val` + Name. */
export type Logs = Record<string, number>;

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
