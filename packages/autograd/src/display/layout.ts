/**
 * A layered (Sugiyama-style) layout of a directed acyclic graph, for the SVG of a recorded graph
 * (svg.ts); plain geometry, no tensors.
 */
import { DeltagradError } from "../errors.js";

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
