import type { WindowParams } from "../backend.js";
import { apply } from "../engine.js";
import { DeltagradError, fmtShape } from "../errors.js";
import { describe, windowOutSize } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { asTensor } from "./elementwise.js";

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

function checkFits(op: string, h: number, w: number, p: WindowParams): void {
  const [oh, ow] = windowOutSize(h, w, p);
  if (oh < 1 || ow < 1) {
    throw new DeltagradError(
      `${op}: input ${h}×${w} is too small for kernel ${p.kernel.join("×")} (padding ${p.padding.join(",")}, dilation ${p.dilation.join(",")})`,
    );
  }
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
  if (x.rank !== 4) throw new DeltagradError(`unfold: expected NCHW input of rank 4, got shape ${fmtShape(x.shape)}`);
  const p = windowParams("unfold", opts);
  checkFits("unfold", x.shape[2]!, x.shape[3]!, p);
  return apply("unfold", [x], p);
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
  const [h, w] = pair("fold", "outputSize", outputSize, 1, 0);
  checkFits("fold", h, w, p);
  const [oh, ow] = windowOutSize(h, w, p);
  const kk = p.kernel[0] * p.kernel[1];
  if (cols.rank !== 3 || cols.shape[1]! % kk !== 0 || cols.shape[2] !== oh * ow) {
    throw new DeltagradError(`fold: columns of shape ${fmtShape(cols.shape)} do not fit output ${h}×${w} with kernel ${p.kernel.join("×")} (expected [N, C·${kk}, ${oh * ow}])`);
  }
  return apply("fold", [cols], { ...p, outputShape: [cols.shape[0]!, cols.shape[1]! / kk, h, w] });
}
