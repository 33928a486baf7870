/**
 * Rich display for notebooks and reports, with no runtime dependency: a tensor as an HTML table
 * (NumPy-style summary of large tensors), and a recorded graph as a standalone SVG laid out
 * top-down like lecture 004's h1…h6 figure. Jupyter kernels (Deno's included) call an object's
 * `[Symbol.for("Jupyter.display")]()` and render the MIME bundle it returns; nothing here imports
 * a Deno-only module.
 */
import { graphNodes } from "./dot.js";
import { DeltagradError } from "./errors.js";
import { formatNumber, formatTensor } from "./format.js";
import type { Tensor } from "./tensor.js";

/**
 * The key Jupyter kernels look up on a value to get its rich representation (`Symbol.for("Jupyter.display")`).
 *
 * @example
 * ```ts
 * tensor([1, 2])[jupyterDisplay](); // { "text/plain": …, "text/html": … }
 * ```
 */
export const jupyterDisplay: unique symbol = Symbol.for("Jupyter.display");

/** MIME type → content, what a `[Symbol.for("Jupyter.display")]()` method returns. */
export type MimeBundle = Record<string, string>;

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

function checkCount(fn: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new DeltagradError(`${fn}: ${name} must be an integer ≥ ${min}, got ${v}`);
}

function assertTensor(fn: string, t: unknown): asserts t is Tensor {
  const ok = t !== null && typeof t === "object" && Array.isArray((t as Tensor).shape) && typeof (t as Tensor).dtype === "string" && "backend" in t;
  if (!ok) throw new DeltagradError(`${fn}: expected a Tensor, got ${t === null ? "null" : typeof t}`);
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

// ---------------------------------------------------------------------------------------------
// Layered (Sugiyama-style) layout
// ---------------------------------------------------------------------------------------------

/** A box to place: its id and size. */
export interface LayoutNodeInput {
  id: string;
  width: number;
  height: number;
}

/** A placed box: `x`, `y` is its top-left corner; `layer` is its rank, 0 at the top. */
export interface LayoutNode extends LayoutNodeInput {
  x: number;
  y: number;
  layer: number;
}

/** A routed edge: a polyline from the bottom of `from` to the top of `to`, through bend points. */
export interface LayoutEdge {
  from: string;
  to: string;
  points: [number, number][];
}

export interface LayoutOptions {
  /** Horizontal gap between boxes of a layer. Default 24. */
  nodeGap?: number;
  /** Vertical gap between layers. Default 44. */
  layerGap?: number;
  /** Margin around the drawing. Default 16. */
  margin?: number;
  /** Barycenter sweeps (each one down and one up). Default 12. */
  sweeps?: number;
  /**
   * Where sources go: `"consumer"` (default) puts each in the layer just above its first
   * consumer, beside the op that uses it, as the lecture draws `b` next to `h1`; `"top"` keeps
   * every source in layer 0 (plain longest-path layering).
   */
  sources?: "consumer" | "top";
}

export interface Layout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  width: number;
  height: number;
}

/**
 * A top-down layered drawing of a directed acyclic graph, small enough to need no library:
 * longest-path layering, virtual nodes on edges that span layers, barycenter ordering (sweeps down
 * and up, keeping the order with the fewest crossings), then x positions pulled toward the mean of
 * each box's neighbours while keeping `nodeGap` between boxes. Edges point down; boxes never overlap.
 *
 * @example
 * ```ts
 * const { nodes } = layeredLayout([{ id: "a", width: 40, height: 20 }, { id: "b", width: 40, height: 20 }], [["a", "b"]]);
 * nodes[1]!.y > nodes[0]!.y; // true
 * ```
 */
export function layeredLayout(nodes: readonly LayoutNodeInput[], edges: readonly (readonly [string, string])[], opts: LayoutOptions = {}): Layout {
  const fn = "layeredLayout";
  const { nodeGap = 24, layerGap = 44, margin = 16, sweeps = 12, sources = "consumer" } = opts;
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (index.has(n.id)) throw new DeltagradError(`${fn}: duplicate node id "${n.id}"`);
    if (!(n.width >= 0 && n.height >= 0)) throw new DeltagradError(`${fn}: node "${n.id}" has size ${n.width}×${n.height}`);
    index.set(n.id, i);
  });
  const n = nodes.length;
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  const seenEdge = new Set<string>();
  const edgeList: [number, number][] = [];
  for (const [a, b] of edges) {
    const u = index.get(a);
    const v = index.get(b);
    if (u === undefined || v === undefined) throw new DeltagradError(`${fn}: edge ${a} → ${b} names an unknown node`);
    if (u === v) throw new DeltagradError(`${fn}: self-loop on "${a}"`);
    const key = `${u},${v}`;
    if (seenEdge.has(key)) continue; // x·x: one drawn edge is enough
    seenEdge.add(key);
    succ[u]!.push(v);
    pred[v]!.push(u);
    edgeList.push([u, v]);
  }

  // 1. Layers: longest path from the sources (Kahn's order; leftover nodes mean a cycle).
  const indeg = pred.map((p) => p.length);
  const topo: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) topo.push(i);
  for (let k = 0; k < topo.length; k++) for (const v of succ[topo[k]!]!) if (--indeg[v]! === 0) topo.push(v);
  if (topo.length !== n) throw new DeltagradError(`${fn}: the graph has a cycle (${n - topo.length} nodes on or after it)`);
  const layer = new Array<number>(n).fill(0);
  for (const u of topo) for (const v of succ[u]!) layer[v] = Math.max(layer[v]!, layer[u]! + 1);
  if (sources === "consumer") {
    for (const u of topo) {
      if (pred[u]!.length === 0 && succ[u]!.length > 0) layer[u] = Math.min(...succ[u]!.map((v) => layer[v]!)) - 1;
    }
  }

  // 2. Virtual nodes: an edge spanning k layers becomes a chain through k − 1 zero-width points.
  type V = { real: number; layer: number; width: number; height: number };
  const vs: V[] = nodes.map((nd, i) => ({ real: i, layer: layer[i]!, width: nd.width, height: nd.height }));
  const up: number[][] = Array.from({ length: n }, () => []);
  const down: number[][] = Array.from({ length: n }, () => []);
  const chains: { from: number; to: number; path: number[] }[] = [];
  for (const [u, v] of edgeList) {
    const path = [u];
    let prev = u;
    for (let l = layer[u]! + 1; l < layer[v]!; l++) {
      const id = vs.push({ real: -1, layer: l, width: 0, height: 0 }) - 1;
      up.push([prev]);
      down.push([]);
      down[prev]!.push(id);
      path.push(id);
      prev = id;
    }
    down[prev]!.push(v);
    up[v]!.push(prev);
    path.push(v);
    chains.push({ from: u, to: v, path });
  }
  const depth = vs.reduce((m, x) => Math.max(m, x.layer), 0) + 1;
  const layers: number[][] = Array.from({ length: depth }, () => []);
  // Initial order: topological order, so inputs recorded first start on the left.
  const seq = [...topo, ...vs.map((_, i) => i).slice(n)];
  for (const i of seq) layers[vs[i]!.layer]!.push(i);

  // 3. Crossing reduction: barycenter sweeps, keeping the best ordering seen.
  const pos = new Array<number>(vs.length).fill(0);
  const setPos = () => layers.forEach((row) => row.forEach((id, k) => (pos[id] = k)));
  const crossings = (): number => {
    let c = 0;
    for (let l = 0; l + 1 < depth; l++) {
      const es: [number, number][] = [];
      for (const u of layers[l]!) for (const v of down[u]!) es.push([pos[u]!, pos[v]!]);
      for (let i = 0; i < es.length; i++) {
        for (let j = i + 1; j < es.length; j++) {
          const [a, b] = es[i]!;
          const [c2, d] = es[j]!;
          if ((a - c2) * (b - d) < 0) c++;
        }
      }
    }
    return c;
  };
  setPos();
  let best = layers.map((row) => row.slice());
  let bestCross = crossings();
  const reorder = (l: number, nbrs: number[][]) => {
    const row = layers[l]!;
    const key = new Map<number, number>();
    for (const id of row) {
      const ns = nbrs[id]!;
      key.set(id, ns.length ? ns.reduce((s, x) => s + pos[x]!, 0) / ns.length : pos[id]!);
    }
    row.sort((a, b) => key.get(a)! - key.get(b)! || pos[a]! - pos[b]!); // stable on ties
    row.forEach((id, k) => (pos[id] = k));
  };
  for (let s = 0; s < sweeps && bestCross > 0; s++) {
    for (let l = 1; l < depth; l++) reorder(l, up);
    for (let l = depth - 2; l >= 0; l--) reorder(l, down);
    const c = crossings();
    if (c < bestCross) {
      bestCross = c;
      best = layers.map((row) => row.slice());
    }
  }
  for (let l = 0; l < depth; l++) layers[l] = best[l]!;
  setPos();

  // 4. x: pack left to right, then pull each box toward its neighbours' mean without overlaps.
  const xs = new Array<number>(vs.length).fill(0); // centre x
  const half = (id: number) => vs[id]!.width / 2;
  const gap = (a: number, b: number) => half(a) + half(b) + (vs[a]!.real < 0 && vs[b]!.real < 0 ? nodeGap / 3 : nodeGap);
  for (const row of layers) row.forEach((id, k) => (xs[id] = k === 0 ? half(id) : xs[row[k - 1]!]! + gap(row[k - 1]!, id)));
  const place = (row: number[], want: number[]) => {
    // Closest positions to `want` in order with minimum gaps: sweep right then left, then average.
    const a = want.slice();
    for (let k = 1; k < row.length; k++) a[k] = Math.max(a[k]!, a[k - 1]! + gap(row[k - 1]!, row[k]!));
    const b = want.slice();
    for (let k = row.length - 2; k >= 0; k--) b[k] = Math.min(b[k]!, b[k + 1]! - gap(row[k]!, row[k + 1]!));
    const mid = a.map((v, k) => (v + b[k]!) / 2);
    for (let k = 1; k < row.length; k++) mid[k] = Math.max(mid[k]!, mid[k - 1]! + gap(row[k - 1]!, row[k]!));
    row.forEach((id, k) => (xs[id] = mid[k]!));
  };
  const pull = (l: number, nbrs: number[][]) => {
    const row = layers[l]!;
    const want = row.map((id) => {
      const ns = nbrs[id]!;
      return ns.length ? ns.reduce((s, x) => s + xs[x]!, 0) / ns.length : xs[id]!;
    });
    place(row, want);
  };
  const both = vs.map((_, i) => [...up[i]!, ...down[i]!]);
  for (let it = 0; it < 8; it++) {
    for (let l = 1; l < depth; l++) pull(l, up);
    for (let l = depth - 2; l >= 0; l--) pull(l, down);
  }
  for (let l = 0; l < depth; l++) pull(l, both);

  // 5. y: each layer as tall as its tallest box; boxes centred vertically in their layer.
  const layerH = layers.map((row) => row.reduce((m, id) => Math.max(m, vs[id]!.height), 0));
  const layerY: number[] = [];
  let y = margin;
  for (let l = 0; l < depth; l++) {
    layerY.push(y);
    y += layerH[l]! + layerGap;
  }
  const minX = Math.min(...vs.map((v, i) => xs[i]! - v.width / 2));
  const maxX = Math.max(...vs.map((v, i) => xs[i]! + v.width / 2));
  const shift = margin - (Number.isFinite(minX) ? minX : 0);
  const cy = (id: number) => layerY[vs[id]!.layer]! + layerH[vs[id]!.layer]! / 2;
  const out: LayoutNode[] = nodes.map((nd, i) => ({
    id: nd.id,
    width: nd.width,
    height: nd.height,
    layer: vs[i]!.layer,
    x: xs[i]! + shift - nd.width / 2,
    y: cy(i) - nd.height / 2,
  }));
  const routed: LayoutEdge[] = chains.map(({ from, to, path }) => ({
    from: nodes[from]!.id,
    to: nodes[to]!.id,
    points: [
      [xs[from]! + shift, cy(from) + vs[from]!.height / 2],
      ...path.slice(1, -1).map((id): [number, number] => [xs[id]! + shift, cy(id)]),
      [xs[to]! + shift, cy(to) - vs[to]!.height / 2],
    ],
  }));
  return {
    nodes: out,
    edges: routed,
    width: n ? maxX - minX + 2 * margin : 2 * margin,
    height: n ? y - layerGap + margin : 2 * margin,
  };
}

// ---------------------------------------------------------------------------------------------
// Graphs as SVG
// ---------------------------------------------------------------------------------------------

export interface SvgOptions {
  /** A title drawn above the graph. */
  title?: string;
  /** Show values (synchronous backends). Default true. */
  values?: boolean;
  /** Show `.grad` where set (leaves after backward, or retained non-leaves). Default true. */
  grads?: boolean;
  /** Values shown inline for a non-scalar tensor before `…`. Default 4. */
  maxValues?: number;
  /** Refuse graphs with more tensors than this (a picture of thousands of nodes helps no one). Default 400. */
  maxNodes?: number;
}

const FONT = 12; // px, monospace
const CHAR_W = 7.25; // advance of a 12px monospace glyph (0.6 em, plus a little slack)
const LINE_H = 16;
const PAD_X = 10;
const PAD_Y = 6;

/** "0.5000", or "[0.1000, 0.2000, 0.3000, 0.4000, …]" for small peeks into larger tensors. */
function inlineValues(t: Tensor, max: number): string | null {
  if (!t.backend.synchronous) return null;
  const flat = t.dataSync();
  const float = t.dtype === "float32" || t.dtype === "float64";
  const fmt = (v: number) => (t.dtype === "bool" ? (v ? "true" : "false") : formatNumber(v, float));
  if (t.rank === 0) return fmt(flat[0]!);
  const shown = Array.from(flat.slice(0, max), fmt);
  return `[${shown.join(", ")}${flat.length > max ? ", …" : ""}]`;
}

/**
 * The recorded graph behind `root` as a standalone SVG document, drawn top-down: inputs at the
 * top, `root` at the bottom. Ops are rounded boxes titled `hN = op` (numbered in recording
 * order, as lecture 004 names the sigmoid's steps h1…h6); leaves are square boxes titled by
 * name (or by value for unnamed constants). Each box shows shape and dtype, the value, and the
 * gradient once `backward()` has set one. Laid out by {@link layeredLayout}; no dependency.
 *
 * @example
 * ```ts
 * const w = tensor(0, { requiresGrad: true, name: "w" });
 * const f = w.mul(tensor(1, { name: "x" })).add(0).neg().exp().add(1).reciprocal();
 * f.backward();
 * const svg = toSvg(f, { title: "σ(w·x + b)" }); // "<svg xmlns=…>…h6 = reciprocal…</svg>"
 * ```
 */
export function toSvg(root: Tensor, opts: SvgOptions = {}): string {
  assertTensor("toSvg", root);
  const { title, values = true, grads = true, maxValues = 4, maxNodes = 400 } = opts;
  checkCount("toSvg", "maxValues", maxValues, 1);
  const graph = graphNodes(root);
  if (graph.length > maxNodes) {
    throw new DeltagradError(`toSvg: the graph has ${graph.length} tensors, more than maxNodes = ${maxNodes}; pass a larger maxNodes or draw a smaller sub-computation`);
  }
  const ids = new Map(graph.map((g, i) => [g.tensor, `n${i}`]));
  const boxes = graph.map((g, i) => {
    const t = g.tensor;
    // Unnamed constants are labelled by value (dot.ts); float32 noise such as 0.0833333358… is trimmed.
    const label = !g.op && !t.name && Number.isFinite(Number(g.label)) ? String(Number(Number(g.label).toPrecision(6))) : g.label;
    const head = g.op ? `${label} = ${g.op}` : label;
    const lines = [t.name && g.op ? `${t.name}: ${head}` : head, `[${t.shape.join(",")}] ${t.dtype}`];
    if (values) {
      const v = inlineValues(t, maxValues);
      if (v !== null) lines.push(`value ${v}`);
    }
    if (grads && t.grad) {
      const gv = inlineValues(t.grad, maxValues);
      if (gv !== null) lines.push(`grad ${gv}`);
    }
    const width = Math.ceil(Math.max(...lines.map((l) => [...l].length)) * CHAR_W + 2 * PAD_X);
    return { id: `n${i}`, width, height: lines.length * LINE_H + 2 * PAD_Y, lines, op: g.op !== null, grad: !!t.grad, label };
  });
  const edges: [string, string][] = [];
  for (const g of graph) for (const i of g.inputs) edges.push([ids.get(i)!, ids.get(g.tensor)!]);
  const titleH = title ? 28 : 0;
  const layout = layeredLayout(boxes, edges);
  const width = Math.ceil(Math.max(layout.width, title ? [...title].length * 8 + 32 : 0));
  const height = Math.ceil(layout.height + titleH);
  const at = new Map(layout.nodes.map((nd) => [nd.id, nd]));
  const f = (v: number) => String(Math.round(v * 10) / 10);

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="${FONT}">`,
    `<title>${escapeXml(title ?? `computation graph of ${graph[graph.length - 1]!.label}`)}</title>`,
    `<defs><marker id="dg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (title) out.push(`<text class="title" x="${f(width / 2)}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<g transform="translate(0,${titleH})">`);
  for (const e of layout.edges) {
    const [first, ...rest] = e.points;
    const d = [`M${f(first![0])},${f(first![1])}`];
    let prev = first!;
    // Smooth vertical S-curves between consecutive points.
    for (const p of rest) {
      const my = (prev[1] + p[1]) / 2;
      d.push(`C${f(prev[0])},${f(my)} ${f(p[0])},${f(my)} ${f(p[0])},${f(p[1])}`);
      prev = p;
    }
    out.push(`<path class="edge" data-from="${e.from}" data-to="${e.to}" d="${d.join(" ")}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#dg-arrow)"/>`);
  }
  for (const b of boxes) {
    const nd = at.get(b.id)!;
    const fill = b.op ? "#e8f0fe" : b.grad ? "#fff4e0" : "#f3f3f3";
    const stroke = b.op ? "#3b6fd8" : b.grad ? "#d08a1c" : "#888";
    out.push(`<g class="node ${b.op ? "op" : "leaf"}" id="${b.id}" data-label="${escapeXml(b.label)}">`);
    out.push(`<rect x="${f(nd.x)}" y="${f(nd.y)}" width="${f(nd.width)}" height="${f(nd.height)}" rx="${b.op ? 10 : 2}" fill="${fill}" stroke="${stroke}" stroke-width="1.2"/>`);
    b.lines.forEach((line, k) => {
      const weight = k === 0 ? ` font-weight="bold"` : "";
      const color = line.startsWith("grad ") ? ` fill="#a0600a"` : k === 1 ? ` fill="#666"` : "";
      out.push(`<text x="${f(nd.x + nd.width / 2)}" y="${f(nd.y + PAD_Y + (k + 1) * LINE_H - 4)}" text-anchor="middle"${weight}${color}>${escapeXml(line)}</text>`);
    });
    out.push("</g>");
  }
  out.push("</g></svg>");
  return out.join("\n");
}

/** What {@link graphDisplay} returns: renders as the graph's SVG in Jupyter, and has `toSvg()` elsewhere. */
export interface GraphDisplay {
  /** The standalone SVG document. */
  toSvg(): string;
  /** `image/svg+xml` plus a one-line `text/plain` summary. */
  [jupyterDisplay](): MimeBundle;
}

/**
 * Wraps a tensor's graph for notebook display: make it the last expression of a Jupyter cell
 * (Deno kernel) and the cell shows the SVG of {@link toSvg}. The SVG is drawn when displayed, so
 * gradients set by a later `backward()` show up on re-display.
 *
 * @example
 * ```ts
 * f.backward();
 * graphDisplay(f, { title: "lecture 004" }); // in a notebook cell: the h1…h6 figure
 * ```
 */
export function graphDisplay(root: Tensor, opts: SvgOptions = {}): GraphDisplay {
  assertTensor("graphDisplay", root);
  return {
    toSvg: () => toSvg(root, opts),
    [jupyterDisplay]: () => {
      const g = graphNodes(root);
      const ops = g.filter((x) => x.op).length;
      return {
        "image/svg+xml": toSvg(root, opts),
        "text/plain": `<computation graph: ${ops} op${ops === 1 ? "" : "s"}, ${g.length - ops} lea${g.length - ops === 1 ? "f" : "ves"}>`,
      };
    },
  };
}
