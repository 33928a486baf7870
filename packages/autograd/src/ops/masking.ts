/**
 * Masking composites: triangular parts (tril, triu) and maskedFill. Each is a `where` over a bool
 * mask, so the gradient flows exactly to the kept entries; masks are built from index ramps and
 * comparisons on the backend, never from values read on the host.
 */
import { DeltagradError, fmtShape, optionsOf } from "../errors.js";
import { scoped } from "../lifetime.js";
import { broadcastPair, describe } from "../shape.js";
import { Tensor } from "../tensor.js";
import { arange, scalar } from "./create.js";
import { asTensor, cast, greaterEqual, lessEqual, sub, where } from "./elementwise.js";
import { reshape } from "./movement.js";

/** Options of {@link tril} and {@link triu}. @example `tril(x, { diagonal: -1 })` */
export interface TriangleOptions {
  /** Which diagonal bounds the kept part: 0 the main one, k > 0 above it, k < 0 below it. Default 0. */
  diagonal?: number;
}

/**
 * The lower triangle of the last two axes (any leading axes are a batch): entry (i, j) is kept
 * where j − i ≤ diagonal and zeroed elsewhere, as PyTorch's `tril`. The gradient flows to the kept
 * entries only.
 *
 * @example
 * ```ts
 * tril(ones([3, 3]));                   // [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
 * tril(ones([2, 3]), { diagonal: 1 });  // [[1, 1, 0], [1, 1, 1]]
 * ```
 */
export function tril(x: Tensor, opts?: TriangleOptions): Tensor {
  return triangle("tril", x, opts);
}

/**
 * The upper triangle of the last two axes: entry (i, j) is kept where j − i ≥ diagonal, as
 * PyTorch's `triu`. `triu(x, { diagonal: 1 })` is the strictly upper part (a causal attention mask).
 *
 * @example
 * ```ts
 * triu(ones([3, 3]));                   // [[1, 1, 1], [0, 1, 1], [0, 0, 1]]
 * triu(ones([3, 3]), { diagonal: 1 });  // [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
 * ```
 */
export function triu(x: Tensor, opts?: TriangleOptions): Tensor {
  return triangle("triu", x, opts);
}

function triangle(op: "tril" | "triu", x: Tensor, opts: TriangleOptions | undefined): Tensor {
  asTensor(op, x);
  const { diagonal = 0 } = optionsOf(op, opts);
  if (!Number.isInteger(diagonal)) throw new DeltagradError(`${op}: diagonal must be an integer, got ${describe(diagonal)}`);
  if (x.rank < 2) throw new DeltagradError(`${op}: expected a tensor of rank ≥ 2 (the last two axes are the matrix), got shape ${fmtShape(x.shape)}`);
  const [m, n] = x.shape.slice(-2) as [number, number];
  return scoped(() => {
    // j − i over an [m, n] grid, from two int32 ramps.
    const offset = sub(reshape(arange(n, undefined, 1, { dtype: "int32" }), [1, n]), reshape(arange(m, undefined, 1, { dtype: "int32" }), [m, 1]));
    const keep = op === "tril" ? lessEqual(offset, diagonal) : greaterEqual(offset, diagonal);
    return where(keep, x, 0);
  });
}

/**
 * `value` where the bool `mask` is true, `x` elsewhere (PyTorch's `masked_fill`); `mask`
 * broadcasts against `x`. The result keeps `x`'s dtype (a fractional value truncates for int32).
 * The gradient flows to `x` only where the mask is false; `value` may be a number or a 0-d
 * tensor, which then gets the sum of the gradient where the mask is true.
 *
 * @example
 * ```ts
 * maskedFill(tensor([1, 2, 3]), tensor([true, false, true]), 0);    // [0, 2, 0]
 * const scores = maskedFill(randn([2, 2]), triu(ones([2, 2]), { diagonal: 1 }).cast("bool"), -Infinity);
 * ```
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  asTensor("maskedFill", x);
  asTensor("maskedFill", mask, "mask");
  if (mask.dtype !== "bool") throw new DeltagradError(`maskedFill: mask must be a bool tensor, got ${mask.dtype}`);
  broadcastPair("maskedFill", x.shape, mask.shape);
  if (value instanceof Tensor) {
    if (value.rank !== 0) throw new DeltagradError(`maskedFill: a tensor value must be 0-d, got shape ${fmtShape(value.shape)}`);
    return scoped(() => where(mask, cast(value, x.dtype), x));
  }
  if (typeof value !== "number") throw new DeltagradError(`maskedFill: value must be a number or a 0-d tensor, got ${describe(value)}`);
  const v = x.dtype === "bool" ? Number(value !== 0) : x.dtype === "int32" ? Math.trunc(value) : value;
  return scoped(() => where(mask, scalar(v, x.dtype), x));
}
