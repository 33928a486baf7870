/** 2-D pooling layers over NCHW input: max, average, and adaptive average. */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, type Size2 } from "@deltagrad/autograd";
import { Module, builtInModules } from "../module.js";
import { optionsOf, named, nchwInput, size2, text } from "../options.js";

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** −∞ padding on each side, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Spacing between window taps. Default 1. */
  dilation?: Size2;
}

/**
 * Max pooling over NCHW input ({@link ag.maxPool2d}). Ties send the gradient to the first
 * maximum in row-major window order, as PyTorch and TF.js.
 *
 * @example
 * ```ts
 * new MaxPool2d(2).call(zeros([1, 6, 28, 28])).shape; // [1, 6, 14, 14]
 * ```
 */
export class MaxPool2d extends Module {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];

  constructor(kernel: Size2, options?: MaxPool2dOptions) {
    const { stride, padding = 0, dilation = 1 } = optionsOf("MaxPool2d", options);
    super();
    this.kernel = size2("MaxPool2d", "kernel", kernel, 1);
    this.stride = size2("MaxPool2d", "stride", stride ?? this.kernel, 1);
    this.padding = size2("MaxPool2d", "padding", padding, 0);
    this.dilation = size2("MaxPool2d", "dilation", dilation, 1);
    if (this.padding[0] > this.kernel[0] >> 1 || this.padding[1] > this.kernel[1] >> 1) {
      throw new DeltagradError(`MaxPool2d: padding ${text(this.padding)} must be at most half of kernel ${this.kernel.join("×")}`);
    }
  }

  forward(x: Tensor): Tensor {
    const layer = `MaxPool2d(${this.kernel.join("×")})`;
    nchwInput(layer, x);
    return named(layer, () => ag.maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, dilation: this.dilation }));
  }

  override extraRepr(): string {
    return `kernel=${text(this.kernel)}, stride=${text(this.stride)}, padding=${text(this.padding)}`;
  }
}

/** Options of {@link AvgPool2d}. */
export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** Zero padding on each side, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/**
 * Average pooling over NCHW input ({@link ag.avgPool2d}).
 *
 * @example
 * ```ts
 * new AvgPool2d(2).call(zeros([1, 6, 28, 28])).shape; // [1, 6, 14, 14]
 * ```
 */
export class AvgPool2d extends Module {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly countIncludePad: boolean;

  constructor(kernel: Size2, options?: AvgPool2dOptions) {
    const { stride, padding = 0, countIncludePad = true } = optionsOf("AvgPool2d", options);
    super();
    this.kernel = size2("AvgPool2d", "kernel", kernel, 1);
    this.stride = size2("AvgPool2d", "stride", stride ?? this.kernel, 1);
    this.padding = size2("AvgPool2d", "padding", padding, 0);
    if (this.padding[0] > this.kernel[0] >> 1 || this.padding[1] > this.kernel[1] >> 1) {
      throw new DeltagradError(`AvgPool2d: padding ${text(this.padding)} must be at most half of kernel ${this.kernel.join("×")}`);
    }
    this.countIncludePad = !!countIncludePad;
  }

  forward(x: Tensor): Tensor {
    const layer = `AvgPool2d(${this.kernel.join("×")})`;
    nchwInput(layer, x);
    return named(layer, () =>
      ag.avgPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, countIncludePad: this.countIncludePad }),
    );
  }

  override extraRepr(): string {
    return `kernel=${text(this.kernel)}, stride=${text(this.stride)}, padding=${text(this.padding)}`;
  }
}

/**
 * Average pooling to a fixed output size ({@link ag.adaptiveAvgPool2d}); `new AdaptiveAvgPool2d(1)`
 * is global average pooling.
 *
 * @example
 * ```ts
 * new AdaptiveAvgPool2d(1).call(zeros([8, 64, 7, 7])).shape; // [8, 64, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: readonly [number, number];

  constructor(outputSize: Size2) {
    super();
    this.outputSize = size2("AdaptiveAvgPool2d", "outputSize", outputSize, 1);
  }

  forward(x: Tensor): Tensor {
    const layer = `AdaptiveAvgPool2d(${this.outputSize.join("×")})`;
    nchwInput(layer, x);
    return named(layer, () => ag.adaptiveAvgPool2d(x, this.outputSize));
  }

  override extraRepr(): string {
    return `outputSize=${text(this.outputSize)}`;
  }
}

builtInModules(MaxPool2d, AvgPool2d, AdaptiveAvgPool2d);
