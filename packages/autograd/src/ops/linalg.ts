import { RULES } from "../primitives.js";
import { apply } from "../engine.js";
import { DeltagradError, fmtShape } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { asTensor, operands } from "./elementwise.js";
import { reshape } from "./movement.js";

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted (a vector on the left is a row,
 * on the right a column) and the promoted axis is removed from the result; leading (batch) axes
 * broadcast. Gradients: Ā = Ḡ·Bᵀ, B̄ = Aᵀ·Ḡ, summed over broadcast batch axes.
 *
 * @example
 * ```ts
 * matmul(ones([2, 3]), ones([3, 4]));    // shape [2, 4]
 * matmul(ones([5, 2, 3]), ones([3]));    // shape [5, 2]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  asTensor("matmul", a, "a");
  asTensor("matmul", b, "b");
  if (a.rank === 0 || b.rank === 0) {
    throw new DeltagradError(`matmul: both operands need at least one axis, got ${fmtShape(a.shape)} · ${fmtShape(b.shape)}`);
  }
  const [x, y] = operands("matmul", a, b, "int32");
  const x2 = x.rank === 1 ? reshape(x, [1, x.shape[0]!]) : x;
  const y2 = y.rank === 1 ? reshape(y, [y.shape[0]!, 1]) : y;
  if (x2.shape[x2.rank - 1] !== y2.shape[y2.rank - 2]) {
    throw new DeltagradError(`matmul: inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)}`);
  }
  const out = apply(RULES.matmul, [x2, y2], null);
  if (x.rank > 1 && y.rank > 1) return out;
  const s = out.shape.slice();
  if (y.rank === 1) s.splice(s.length - 1, 1);
  if (x.rank === 1) s.splice(s.length - (y.rank === 1 ? 1 : 2), 1);
  return reshape(out, s);
}
