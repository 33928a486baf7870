/**
 * Training, by concern: fit/evaluate (fit.ts), predict, callbacks, History and its charts, metrics,
 * progress reporting (Node's terminal behind a dynamic import) and the async forms.
 */
export * from "./fit.js";
export * from "./predict.js";
export * from "./types.js";
export { METRICS, type Metric } from "./metrics.js";
export * from "./history.js";
export * from "./chart.js";
export { EarlyStopping, LearningRateScheduler, ModelCheckpoint, type EarlyStoppingOptions, type SchedulerLike, type SaveFn, type ModelCheckpointOptions } from "./callbacks.js";
export { ProgressBar, ProgressEvents, type ProgressEvent } from "./progress.js";
export * from "./async.js";
