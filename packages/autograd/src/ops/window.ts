import type { WindowParams } from "../backend.js";
import { DeltagradError } from "../errors.js";
import { describe } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { asTensor } from "./elementwise.js";
import { foldWith, unfoldWith } from "./window-layout.js";

/** A size per spatial axis: one number for both, or `[h, w]`. */
export type Size2 = number | readonly [number, number];

export interface WindowOptions {
  kernel: Size2;
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
}

function pair(op: string, name: string, v: Size2 | undefined, dflt: number, min: number): [number, number] {
  const p = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new DeltagradError(`${op}: ${name} must be an integer ≥ ${min} or a pair of them, got ${describe(v)}`);
  }
  return [p[0]!, p[1]!];
}

/**
 * @internal Validates window options into {@link WindowParams}.
 *
 * @example
 * ```ts
 * windowParams("unfold", { kernel: 3 }); // { kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }
 * ```
 */
export function windowParams(op: string, o: WindowOptions): WindowParams {
  if (!o || typeof o !== "object") throw new DeltagradError(`${op}: options with a kernel size are required`);
  return {
    kernel: pair(op, "kernel", o.kernel, 1, 1),
    stride: pair(op, "stride", o.stride, 1, 1),
    padding: pair(op, "padding", o.padding, 0, 0),
    dilation: pair(op, "dilation", o.dilation, 1, 1),
  };
}

/**
 * im2col: NCHW `x` → `[N, C·kh·kw, L]` where L counts output positions (PyTorch's `unfold`).
 * A primitive whose adjoint is {@link fold}; convolution and pooling are built on it.
 *
 * @example
 * ```ts
 * unfold(zeros([1, 2, 4, 4]), { kernel: 3 }); // shape [1, 18, 4]
 * ```
 */
export function unfold(x: Tensor, opts: WindowOptions): Tensor {
  asTensor("unfold", x);
  return unfoldWith(x, windowParams("unfold", opts));
}

/**
 * col2im: `[N, C·kh·kw, L]` → NCHW with spatial size `outputSize`, summing overlapping windows
 * (PyTorch's `fold`, the adjoint of {@link unfold}).
 *
 * @example
 * ```ts
 * fold(ones([1, 9, 4]), [4, 4], { kernel: 3 }); // shape [1, 1, 4, 4]
 * ```
 */
export function fold(cols: Tensor, outputSize: readonly [number, number], opts: WindowOptions): Tensor {
  asTensor("fold", cols);
  const p = windowParams("fold", opts);
  // Size 0 is allowed when padding makes room for windows: unfold's VJP folds back to it.
  return foldWith(cols, pair("fold", "outputSize", outputSize, 1, 0), p);
}
