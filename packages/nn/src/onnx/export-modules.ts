/**
 * Module-level recognition for ONNX export: a library layer whose class is listed here becomes
 * ONNX's named operator (Linear → Gemm, Conv2d → Conv, …) instead of the primitives its forward
 * ran. A mapping may return null (e.g. Softplus with β ≠ 1): the primitives are exported instead.
 * Exact classes only — a user's subclass may override forward, so it is traced as primitives.
 */
import { Tensor, noGrad, ones, zeros } from "@deltagrad/autograd";
import { Conv2d } from "../layers/conv.js";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "../layers/pooling.js";
import { Flatten, Identity, Linear } from "../layers/linear.js";
import { Dropout } from "../layers/dropout.js";
import { ELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh } from "../layers/activations.js";
import { BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm } from "../layers/norm.js";
import { Embedding } from "../layers/embedding.js";
import { Conv1d, ConvTranspose2d } from "../layers/conv.js";
import type { Module } from "../module.js";
import type { GraphBuilder } from "./builder.js";

/** What a module's mapping sees. */
export interface ModuleContext {
  readonly b: GraphBuilder;
  /** ONNX name of the module's input. */
  readonly x: string;
  readonly xShape: readonly number[];
  /** The initializer holding a parameter (created on first use, named as in `namedParameters`). */
  param(t: Tensor): string;
  /** A computed tensor's values: an initializer named `name` (state such as running statistics), or a Constant node without a name. */
  constant(t: Tensor, name?: string): string;
  /** The dotted name of a module in the exported model. */
  nameOf(m: Module): string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModuleMapping = (m: any, c: ModuleContext) => string | null;

const pads2 = (p: readonly [number, number]) => [p[0], p[1], p[0], p[1]];
const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** The exact classes the exporter maps, and how. */
export const MODULE_EXPORTS = new Map<Function, ModuleMapping>([ // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  [Linear, (m: Linear, c) => {
    const w = c.param(m.weight); // [in, out]: Gemm with transB = 0, or MatMul
    if (c.xShape.length === 2) return c.b.op("Gemm", m.bias ? [c.x, w, c.param(m.bias)] : [c.x, w]);
    const y = c.b.op("MatMul", [c.x, w]);
    return m.bias ? c.b.op("Add", [y, c.param(m.bias)]) : y;
  }],
  [Conv2d, (m: Conv2d, c) => {
    // A connection table's packed weight is exported as the dense filter bank it stands for.
    const w = m.connections ? c.constant(noGrad(() => m.fullWeight()), `${c.nameOf(m)}.weight`) : c.param(m.weight);
    const inputs = m.bias ? [c.x, w, c.param(m.bias)] : [c.x, w];
    return c.b.op("Conv", inputs, {
      kernel_shape: [...m.kernel], strides: [...m.stride], pads: pads2(m.padding), dilations: [...m.dilation], group: m.groups,
    });
  }],
  [MaxPool2d, (m: MaxPool2d, c) =>
    c.b.op("MaxPool", [c.x], { kernel_shape: [...m.kernel], strides: [...m.stride], pads: pads2(m.padding), dilations: [...m.dilation] })],
  [AvgPool2d, (m: AvgPool2d, c) =>
    c.b.op("AveragePool", [c.x], { kernel_shape: [...m.kernel], strides: [...m.stride], pads: pads2(m.padding), count_include_pad: m.countIncludePad ? 1 : 0 })],
  [AdaptiveAvgPool2d, (m: AdaptiveAvgPool2d, c) => {
    if (m.outputSize[0] === 1 && m.outputSize[1] === 1) return c.b.op("GlobalAveragePool", [c.x]);
    const [h, w] = [c.xShape[2]!, c.xShape[3]!];
    const [oh, ow] = m.outputSize;
    if (h % oh !== 0 || w % ow !== 0) return null; // uneven bins: the two averaging matmuls
    return c.b.op("AveragePool", [c.x], { kernel_shape: [h / oh, w / ow], strides: [h / oh, w / ow] });
  }],
  [ReLU, (_m, c) => c.b.op("Relu", [c.x])],
  [Sigmoid, (_m, c) => c.b.op("Sigmoid", [c.x])],
  [Tanh, (_m, c) => c.b.op("Tanh", [c.x])],
  [LeakyReLU, (m: LeakyReLU, c) => c.b.op("LeakyRelu", [c.x], { alpha: { float: m.slope } })],
  [ELU, (m: ELU, c) => c.b.op("Elu", [c.x], { alpha: { float: m.alpha } })],
  // ONNX Softplus has no threshold; deltagrad's (x above 20) differs from log(1 + eˣ) by < 2e-9.
  [Softplus, (m: Softplus, c) => (m.beta === 1 && m.threshold >= 20 ? c.b.op("Softplus", [c.x]) : null)],
  [Softmax, (m: Softmax, c) => c.b.op("Softmax", [c.x], { axis: normAxis(m.axis, c.xShape.length) })],
  [LogSoftmax, (m: LogSoftmax, c) => c.b.op("LogSoftmax", [c.x], { axis: normAxis(m.axis, c.xShape.length) })],
  [Flatten, (m: Flatten, c) => {
    // ONNX Flatten always yields rank 2: the same as deltagrad's only for axes 1 … last.
    const r = c.xShape.length;
    const start = normAxis(m.startAxis, r);
    if (normAxis(m.endAxis, r) !== r - 1 || start !== 1) return null;
    return c.b.op("Flatten", [c.x], { axis: start });
  }],
  [Conv1d, (m: Conv1d, c) => {
    if (c.xShape.length !== 3) return null; // unbatched [C, L]: the primitives (a reshape around conv2d)
    const inputs = m.bias ? [c.x, c.param(m.weight), c.param(m.bias)] : [c.x, c.param(m.weight)];
    return c.b.op("Conv", inputs, { kernel_shape: [m.kernel], strides: [m.stride], pads: [m.padding, m.padding], dilations: [m.dilation], group: m.groups });
  }],
  [ConvTranspose2d, (m: ConvTranspose2d, c) => {
    if (c.xShape.length !== 4) return null;
    const inputs = m.bias ? [c.x, c.param(m.weight), c.param(m.bias)] : [c.x, c.param(m.weight)];
    return c.b.op("ConvTranspose", inputs, {
      kernel_shape: [...m.kernel], strides: [...m.stride], pads: pads2(m.padding), output_padding: [...m.outputPadding], dilations: [...m.dilation], group: m.groups,
    });
  }],
  ...[BatchNorm, BatchNorm1d, BatchNorm2d].map((cls) => [cls, batchNorm] as [Function, ModuleMapping]), // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  [LayerNorm, (m: LayerNorm, c) => {
    if (c.b.opset < 17) return null; // LayerNormalization is opset 17: the primitives before that
    const d = m.normalizedShape.length;
    const shape = m.normalizedShape;
    const scale = m.weight ? c.param(m.weight) : c.constant(ones(shape.slice(), { dtype: scaleDType(m) }));
    const bias = m.bias ? c.param(m.bias) : c.constant(zeros(shape.slice(), { dtype: scaleDType(m) }));
    return c.b.op("LayerNormalization", [c.x, scale, bias], { axis: -d, epsilon: { float: m.eps } });
  }],
  // Embedding's paddingIdx only changes gradients (the padding row's output is detached).
  [Embedding, (m: Embedding, c) => c.b.op("Gather", [c.param(m.weight), c.x], { axis: 0 })],
  [Identity, (_m, c) => c.b.op("Identity", [c.x])],
  [Dropout, (_m, c) => c.b.op("Identity", [c.x])], // eval mode only (export refuses training mode)
]);

function scaleDType(m: { weight: Tensor | null }): "float32" | "float64" {
  return m.weight?.dtype === "float64" ? "float64" : "float32";
}

/** BatchNormalization in inference mode with the running statistics (eval without them uses batch statistics: primitives). */
function batchNorm(m: BatchNorm, c: ModuleContext): string | null {
  const mean = m.runningMean;
  const variance = m.runningVar;
  if (mean === null || variance === null) return null;
  const name = c.nameOf(m);
  const prefix = name ? `${name}.` : "";
  const shape = [m.numFeatures];
  const scale = m.weight ? c.param(m.weight) : c.constant(ones(shape, { dtype: mean.dtype }));
  const bias = m.bias ? c.param(m.bias) : c.constant(zeros(shape, { dtype: mean.dtype }));
  const inputs = [c.x, scale, bias, c.constant(mean, `${prefix}running_mean`), c.constant(variance, `${prefix}running_var`)];
  return c.b.op("BatchNormalization", inputs, { epsilon: { float: m.eps } });
}
