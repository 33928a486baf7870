/**
 * Tensors as HTML tables for notebooks and reports (NumPy-style summary of large tensors).
 * Jupyter kernels (Deno's included) call an object's `[Symbol.for("Jupyter.display")]()` and
 * render the MIME bundle it returns; nothing here imports a Deno-only module.
 */
import { DeltagradError } from "../errors.js";
import { formatNumber, formatTensor } from "../format.js";
import { isTensor } from "../is-tensor.js";
import type { Tensor } from "../tensor.js";
import type { MimeBundle } from "./registry.js";

// Same summary rule as format.ts (and NumPy/PyTorch): past 1,000 elements, show 3 items at each end.
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;

/**
 * Escapes `& < > " '` so any string can sit in XML/HTML text or a quoted attribute.
 *
 * @example
 * ```ts
 * escapeXml('a < b & "c"'); // "a &lt; b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]!};`);
}

// ---------------------------------------------------------------------------------------------
// Tensors as HTML
// ---------------------------------------------------------------------------------------------

export interface TensorHtmlOptions {
  /** Summarize tensors with more elements than this. Default 1000, as NumPy. */
  threshold?: number;
  /** Items kept at each end of a summarized axis. Default 3. */
  edgeItems?: number;
  /** Also show `.grad` (when set) as a second table. Default true. */
  grad?: boolean;
}

const TABLE_STYLE = "border-collapse:collapse;font-family:monospace;font-size:12px;text-align:right";
const CELL = "padding:1px 6px";
const HEAD = `${CELL};color:#888;font-weight:normal`;

/** Indices to show along an axis of length n: all, or the ends with -1 marking the ellipsis. */
function picks(n: number, summarize: boolean, edge: number): number[] {
  if (!summarize || n <= 2 * edge) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: edge }, (_, i) => i), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)];
}

/** @internal */
export function checkCount(fn: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new DeltagradError(`${fn}: ${name} must be an integer ≥ ${min}, got ${v}`);
}

/** @internal */
export function assertTensor(fn: string, t: unknown): asserts t is Tensor {
  if (!isTensor(t)) throw new DeltagradError(`${fn}: expected a Tensor, got ${t === null ? "null" : typeof t}`);
}

/** The values block: nested tables for rank ≥ 3, one table for rank ≤ 2. */
function valuesHtml(t: Tensor, threshold: number, edge: number): string {
  if (!t.backend.synchronous) return `<div><i>values on the asynchronous ${escapeXml(t.backend.name)} backend: use await t.data()</i></div>`;
  const flat = t.dataSync();
  const float = t.dtype === "float32" || t.dtype === "float64";
  const fmt = (v: number) => (t.dtype === "bool" ? (v ? "true" : "false") : formatNumber(v, float));
  const summarize = t.size > threshold;
  const shape = t.shape;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (t.size === 0) return `<div><i>empty</i></div>`;

  // A rank-≤2 slice starting at `offset`: rows × cols with index headers.
  const table = (offset: number, rows: number | null, cols: number | null): string => {
    const rs = rows === null ? [0] : picks(rows, summarize, edge);
    const cs = cols === null ? [0] : picks(cols, summarize, edge);
    const rStride = rows === null ? 0 : cols === null ? 1 : cols;
    const out = [`<table style="${TABLE_STYLE}">`];
    if (cols !== null) {
      out.push(`<thead><tr>${rows === null ? "" : `<th style="${HEAD}"></th>`}`);
      for (const c of cs) out.push(`<th style="${HEAD}">${c < 0 ? "…" : c}</th>`);
      out.push("</tr></thead>");
    }
    out.push("<tbody>");
    for (const r of rs) {
      out.push("<tr>");
      if (rows !== null) out.push(`<th style="${HEAD}">${r < 0 ? "⋮" : r}</th>`);
      for (const c of cs) {
        const text = r < 0 ? (c < 0 ? "⋱" : "⋮") : c < 0 ? "…" : fmt(flat[offset + r * rStride + (cols === null ? 0 : c)]!);
        out.push(`<td style="${CELL}">${text}</td>`);
      }
      out.push("</tr>");
    }
    out.push("</tbody></table>");
    return out.join("");
  };

  if (t.rank === 0) return table(0, null, null);
  if (t.rank === 1) return table(0, null, shape[0]!);
  if (t.rank === 2) return table(0, shape[0]!, shape[1]!);
  // Rank ≥ 3: one titled 2-D table per index of the leading axes, ellipses between summarized runs.
  const lead = t.rank - 2;
  const out: string[] = [];
  const walk = (axis: number, offset: number, index: string[]): void => {
    if (axis === lead) {
      const title = `[${[...index, ":", ":"].join(", ")}]`;
      out.push(`<div style="margin:2px 0"><div style="font-family:monospace;font-size:11px;color:#888">${title}</div>${table(offset, shape[lead]!, shape[lead + 1]!)}</div>`);
      return;
    }
    for (const i of picks(shape[axis]!, summarize, edge)) {
      if (i < 0) out.push(`<div style="font-family:monospace;color:#888">⋮ (${shape[axis]! - 2 * edge} more along axis ${axis})</div>`);
      else walk(axis + 1, offset + i * strides[axis]!, [...index, String(i)]);
    }
  };
  walk(0, 0, []);
  return out.join("");
}

/** `tensor · shape [2,3] · float32 · gradFn mul`: the one-line header of the HTML display. */
function headerHtml(t: Tensor, what: string): string {
  const parts = [what, `shape [${t.shape.join(",")}]`, t.dtype];
  if (t.name) parts.splice(1, 0, escapeXml(t.name));
  if (t.gradFn) parts.push(`gradFn ${escapeXml(t.gradFn)}`);
  else if (t.requiresGrad) parts.push("requiresGrad");
  if (t.size > 0 && t.size !== 1) parts.push(`${t.size} elements`);
  return `<div style="font-family:monospace;font-size:11px;color:#555;margin:2px 0">${parts.join(" · ")}</div>`;
}

/**
 * A tensor as an HTML fragment: a header line (name, shape, dtype, gradFn) and its values as a
 * table with row/column indices. Past `threshold` elements every axis keeps `edgeItems` entries
 * at each end with `…`/`⋮` between, as NumPy prints. Rank ≥ 3 gives one table per leading index.
 * `.grad`, when set, follows as a second table. Well-formed XHTML (every tag closed).
 *
 * @example
 * ```ts
 * tensorToHtml(tensor([[1, 2], [3, 4]])); // '<div class="deltagrad-tensor">…<table …>…</table></div>'
 * ```
 */
export function tensorToHtml(t: Tensor, opts: TensorHtmlOptions = {}): string {
  assertTensor("tensorToHtml", t);
  const { threshold = THRESHOLD, edgeItems = EDGE_ITEMS, grad = true } = opts;
  checkCount("tensorToHtml", "threshold", threshold, 0);
  checkCount("tensorToHtml", "edgeItems", edgeItems, 1);
  const blocks = [headerHtml(t, "tensor"), valuesHtml(t, threshold, edgeItems)];
  if (grad && t.grad) blocks.push(headerHtml(t.grad, "grad"), valuesHtml(t.grad, threshold, edgeItems));
  return `<div class="deltagrad-tensor">${blocks.join("")}</div>`;
}

/**
 * The MIME bundle Jupyter shows for a tensor: `text/plain` (the PyTorch-style printout) and
 * `text/html` ({@link tensorToHtml}). `Tensor`'s `[Symbol.for("Jupyter.display")]()` returns this.
 *
 * @example
 * ```ts
 * tensorMimeBundle(tensor([1, 2]))["text/plain"]; // "tensor([1.0000, 2.0000], shape=[2], dtype=float32)"
 * ```
 */
export function tensorMimeBundle(t: Tensor): MimeBundle {
  assertTensor("tensorMimeBundle", t);
  return { "text/plain": formatTensor(t), "text/html": tensorToHtml(t) };
}
