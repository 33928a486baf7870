/**
 * @internal The unfold (im2col), fold (col2im) and windowArgmax primitives applied with validated
 * {@link WindowParams}, the columns' layout included (`batchInColumns`). ops/index.ts does not
 * re-export this module: the public {@link unfold}/{@link fold} (window.ts) always make
 * `[N, C·kh·kw, L]`; conv2d asks for `[C·kh·kw, N, L]` here, and the primitives' VJPs come
 * through here too, so a layout survives every order of differentiation.
 */
import type { WindowParams } from "../backend.js";
import { RULES } from "../primitives.js";
import { apply } from "../engine.js";
import { DeltagradError, fmtShape } from "../errors.js";
import { windowOutSize } from "../shape.js";
import type { Tensor } from "../tensor.js";

/**
 * The window fields of `p` alone (a fold's `outputShape` dropped), `batchInColumns` only when set.
 *
 * @example
 * ```ts
 * geometry({ ...p, outputShape: [1, 1, 4, 4] }); // p's kernel, stride, padding, dilation
 * ```
 */
export function geometry(p: WindowParams): WindowParams {
  const g: WindowParams = { kernel: [p.kernel[0], p.kernel[1]], stride: [p.stride[0], p.stride[1]], padding: [p.padding[0], p.padding[1]], dilation: [p.dilation[0], p.dilation[1]] };
  if (p.batchInColumns) g.batchInColumns = true;
  return g;
}

/** Throws unless an h×w image holds at least one window. */
export function checkFits(op: string, h: number, w: number, p: WindowParams): void {
  const [oh, ow] = windowOutSize(h, w, p);
  if (oh < 1 || ow < 1) {
    throw new DeltagradError(
      `${op}: input ${h}×${w} is too small for kernel ${p.kernel.join("×")} (padding ${p.padding.join(",")}, dilation ${p.dilation.join(",")})`,
    );
  }
}

/**
 * im2col of NCHW `x` into `[N, C·kh·kw, L]`, or `[C·kh·kw, N, L]` with `p.batchInColumns`.
 *
 * @example
 * ```ts
 * unfoldWith(zeros([2, 3, 4, 4]), { ...windowParams("conv2d", { kernel: 3 }), batchInColumns: true }).shape; // [27, 2, 4]
 * ```
 */
export function unfoldWith(x: Tensor, p: WindowParams): Tensor {
  if (x.rank !== 4) throw new DeltagradError(`unfold: expected NCHW input of rank 4, got shape ${fmtShape(x.shape)}`);
  checkFits("unfold", x.shape[2]!, x.shape[3]!, p);
  return apply(RULES.unfold, [x], geometry(p));
}

/**
 * col2im of columns laid out as {@link unfoldWith} makes them into NCHW with spatial size `[h, w]`.
 *
 * @example
 * ```ts
 * foldWith(ones([9, 2, 4]), [4, 4], { ...windowParams("fold", { kernel: 3 }), batchInColumns: true }).shape; // [2, 1, 4, 4]
 * ```
 */
export function foldWith(cols: Tensor, [h, w]: readonly [number, number], p: WindowParams): Tensor {
  checkFits("fold", h, w, p);
  const [oh, ow] = windowOutSize(h, w, p);
  const kk = p.kernel[0] * p.kernel[1];
  const [rowsAxis, batchAxis] = p.batchInColumns ? [0, 1] : [1, 0];
  if (cols.rank !== 3 || cols.shape[rowsAxis]! % kk !== 0 || cols.shape[2] !== oh * ow) {
    const expected = p.batchInColumns ? `[C·${kk}, N, ${oh * ow}]` : `[N, C·${kk}, ${oh * ow}]`;
    throw new DeltagradError(`fold: columns of shape ${fmtShape(cols.shape)} do not fit output ${h}×${w} with kernel ${p.kernel.join("×")} (expected ${expected})`);
  }
  return apply(RULES.fold, [cols], { ...geometry(p), outputShape: [cols.shape[batchAxis]!, cols.shape[rowsAxis]! / kk, h, w] });
}

/**
 * For each window of NCHW `x` (the validated `p`, zero or more padding), the flat index into `x`
 * of its first largest element: int32 `[N, C, oh, ow]`, no gradient (Backend.windowArgmax).
 *
 * @example
 * ```ts
 * windowArgmax(tensor([[[[1, 4], [3, 2]]]]), windowParams("maxPool2d", { kernel: 2 })).arraySync(); // [[[[1]]]]
 * ```
 */
export function windowArgmax(x: Tensor, p: WindowParams): Tensor {
  if (x.rank !== 4) throw new DeltagradError(`maxPool2d: expected NCHW input of rank 4, got shape ${fmtShape(x.shape)}`);
  if (x.size > 2 ** 31 - 1) throw new DeltagradError(`maxPool2d: input ${fmtShape(x.shape)} has more than 2³¹ − 1 elements (its window indices are int32)`);
  checkFits("maxPool2d", x.shape[2]!, x.shape[3]!, p);
  return apply(RULES.windowArgmax, [x], geometry({ ...p, batchInColumns: false }));
}
