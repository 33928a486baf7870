/** Learning-rate schedulers (PyTorch's torch.optim.lr_scheduler), by family. */
export { LRScheduler, type LrOptimizer } from "./base.js";
export * from "./decay.js";
export * from "./lambda.js";
export * from "./plateau.js";
