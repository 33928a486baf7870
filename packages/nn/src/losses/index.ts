/**
 * Loss functions and classification metrics. Every loss is a composite of autograd ops (no
 * hand-written gradient), differentiable with respect to its input and, where it makes sense,
 * its target. Semantics follow PyTorch's `torch.nn.functional` unless a comment says otherwise.
 *
 * Label validation: class indices and ±1 labels are checked (range, integrality) by reading them
 * on the host — only on synchronous backends (cpu). On an asynchronous backend (webgpu) labels
 * are not read back, so an out-of-range class index is not reported there: it selects an
 * all-zero one-hot row and contributes 0 to the loss.
 */
export type { Reduction, ReductionOptions } from "./support.js";
export * from "./regression.js";
export * from "./classification.js";
export * from "./margin.js";
export * from "./metrics.js";
export * from "./regularization.js";
