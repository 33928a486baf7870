/**
 * A recorded graph as a standalone SVG, laid out top-down like lecture 004's h1…h6 figure, and
 * its notebook wrapper ({@link graphDisplay}).
 */
import { DeltagradError } from "../errors.js";
import { formatNumber } from "../format.js";
import type { Tensor } from "../tensor.js";
import { graphNodes } from "./dot.js";
import { assertTensor, checkCount, escapeXml } from "./html.js";
import { layeredLayout } from "./layout.js";
import { jupyterDisplay, type MimeBundle } from "./registry.js";

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
