import { DeltagradError } from "./errors.js";
import { describe } from "./shape.js";
import type { Tensor } from "./tensor.js";
import { isTensor } from "./is-tensor.js";

const EDGE = 3; // elements shown at each end of a summarized axis
const THRESHOLD = 1000; // summarize tensors with more elements, as NumPy and PyTorch

/** Formats one number the way PyTorch prints floats (4 decimals, or scientific when needed). */
export function formatNumber(v: number, isFloat: boolean): string {
  if (!isFloat) return String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e8 || a < 1e-4)) return v.toExponential(4);
  return v.toFixed(4);
}

/**
 * Nested-bracket text of a tensor's values, summarized with `...` past 1,000 elements.
 * Reads values only on synchronous backends.
 */
export function formatValues(t: Tensor): string {
  if (!t.backend.synchronous) return "<values on an asynchronous backend>";
  const flat = t.dataSync();
  const isFloat = t.dtype === "float32" || t.dtype === "float64";
  const fmt = (v: number) => (t.dtype === "bool" ? (v ? "true" : "false") : formatNumber(v, isFloat));
  if (t.rank === 0) return fmt(flat[0]!);
  const summarize = t.size > THRESHOLD;
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const width = Math.max(...Array.from(flat.slice(0, 2000), fmt).map((s) => s.length));
  const build = (axis: number, offset: number, indent: string): string => {
    const n = t.shape[axis]!;
    const picks = summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];
    if (axis === t.rank - 1) {
      return `[${picks.map((i) => (i < 0 ? "..." : fmt(flat[offset + i]!).padStart(width))).join(", ")}]`;
    }
    const sep = `,${"\n".repeat(t.rank - axis - 1)}${indent} `;
    return `[${picks.map((i) => (i < 0 ? "..." : build(axis + 1, offset + i * strides[axis]!, indent + " "))).join(sep)}]`;
  };
  return build(0, 0, "");
}

/**
 * `tensor([...], shape=[2,3], dtype=float32, gradFn=mul)`, like PyTorch's repr.
 *
 * @example
 * ```ts
 * formatTensor(tensor([1, 2])); // "tensor([1.0000, 2.0000], shape=[2], dtype=float32)"
 * ```
 */
export function formatTensor(t: Tensor): string {
  if (!isTensor(t)) throw new DeltagradError(`formatTensor: expected a Tensor, got ${describe(t)}`);
  const head = "tensor(";
  const values = formatValues(t).replace(/\n/g, `\n${" ".repeat(head.length)}`);
  const extras = [`shape=[${t.shape.join(",")}]`, `dtype=${t.dtype}`];
  if (t.gradFn) extras.push(`gradFn=${t.gradFn}`);
  else if (t.requiresGrad) extras.push("requiresGrad=true");
  return `${head}${values}, ${extras.join(", ")})`;
}
