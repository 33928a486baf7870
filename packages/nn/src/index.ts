/**
 * `@deltagrad/nn` — modules, activations, losses, initializers and the closed-form BP reference,
 * all composed from @deltagrad/autograd primitives (no hand-written gradients).
 *
 * @module @deltagrad/nn
 */
export * from "./module.js";
export * from "./containers.js";
export * from "./layers/linear.js";
export * from "./layers/dropout.js";
export * from "./layers/activations.js";
export * from "./models/mlp.js";
export * from "./activations.js";
export * as init from "./init.js";
export * from "./losses/index.js";
export * as reference from "./reference.js";
export * from "./layers/pooling.js";
export * from "./models/lenet5.js";
export * from "./layers/norm.js";
export * from "./layers/embedding.js";
export * from "./layers/conv.js";
export * from "./data.js";
export * from "./training/index.js";
export * from "./checkpoint/index.js";
export * from "./layers/recurrent.js";
export * from "./layers/recurrent-cells.js";
export * from "./layers/attention.js";
export * from "./layers/torch-state-dict.js";
export * from "./models/transformer.js";
