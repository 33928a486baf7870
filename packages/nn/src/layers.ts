/**
 * @internal Transitional barrel: the layers now live in layers/ and models/ (linear, dropout,
 * activations, mlp). Kept so that files not yet updated keep importing "../layers.js".
 */
export * from "./layers/linear.js";
export * from "./layers/dropout.js";
export * from "./layers/activations.js";
export * from "./models/mlp.js";
