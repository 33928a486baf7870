/**
 * `@deltagrad/nn/onnx` — ONNX export ({@link exportOnnx}) and import ({@link importOnnx}), a
 * subpath of its own so that bundles which never touch ONNX do not carry the codec.
 *
 * @example
 * ```ts
 * import { exportOnnx, importOnnx } from "@deltagrad/nn/onnx";
 * const copy = importOnnx(exportOnnx(model.eval(), zeros([1, 784])));
 * ```
 *
 * @module @deltagrad/nn/onnx
 */
export { exportOnnx, type ExportOnnxOptions } from "./export.js";
export { importOnnx, OnnxModel, type ImportOnnxOptions } from "./import.js";
