import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, test } from "vitest";
import {
  DeltagradError,
  Tensor,
  escapeXml,
  graphDisplay,
  jupyterDisplay,
  layeredLayout,
  ones,
  randn,
  tensor,
  tensorMimeBundle,
  tensorToHtml,
  toSvg,
  type Layout,
} from "@deltagrad/autograd";

// ---------- a small well-formedness checker (no XML parser dependency) ----------

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

const VOID = new Set(["br", "hr", "img", "input", "meta", "link", "col", "wbr"]);
const ENTITY = /&(?:amp|lt|gt|quot|#\d+|#x[0-9a-f]+);/gi;

/** Parses XML/XHTML strictly enough to catch unbalanced tags, bad attributes and raw `<`/`&` in text. */
function parseMarkup(src: string): Element {
  const root: Element = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const checkText = (s: string, where: string) => {
    if (s.replace(ENTITY, "").includes("&")) throw new Error(`raw & in ${where}: ${JSON.stringify(s.slice(0, 60))}`);
    if (s.includes("<") || s.includes(">")) throw new Error(`raw < or > in ${where}: ${JSON.stringify(s.slice(0, 60))}`);
  };
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    const between = src.slice(last, m.index);
    checkText(between, `text before ${m[0].slice(0, 30)}`);
    stack[stack.length - 1]!.text += between;
    last = re.lastIndex;
    if (m[0].startsWith("<!--") || m[0].startsWith("<?")) continue;
    const [, close, name, attrSrc, selfClose] = m as unknown as [string, string, string, string, string];
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrSrc.matchAll(/([\w:-]+)\s*=\s*"([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
      checkText(a[2]!, `attribute ${a[1]}`);
      attrs[a[1]!] = a[2]!;
    }
    const el: Element = { name: name!, attrs, children: [], text: "" };
    stack[stack.length - 1]!.children.push(el);
    if (!selfClose && !VOID.has(name!.toLowerCase())) stack.push(el);
  }
  const tail = src.slice(last);
  checkText(tail, "trailing text");
  if (tail.trim()) throw new Error(`text after the last element: ${tail.slice(0, 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1) throw new Error(`expected one root element, got ${root.children.length}`);
  return root.children[0]!;
}

const all = (el: Element, pred: (e: Element) => boolean): Element[] => [
  ...(pred(el) ? [el] : []),
  ...el.children.flatMap((c) => all(c, pred)),
];
const byName = (el: Element, name: string) => all(el, (e) => e.name === name);
const decode = (s: string) =>
  s.replace(ENTITY, (e) => ({ "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"' })[e.toLowerCase()] ?? String.fromCodePoint(Number(e.slice(2, -1).replace(/^x/i, "0x"))));
const textOf = (el: Element): string => decode(el.text) + el.children.map(textOf).join("");

describe("the markup checker itself", () => {
  test("rejects what a renderer would choke on", () => {
    expect(() => parseMarkup("<a><b></a></b>")).toThrow("</a> closes <b>");
    expect(() => parseMarkup("<a>")).toThrow("unclosed <a>");
    expect(() => parseMarkup("<a>x & y</a>")).toThrow("raw &");
    expect(() => parseMarkup("<a>x < y</a>")).toThrow("raw <");
    expect(() => parseMarkup('<a t="1" t="2"/>')).toThrow("duplicate attribute");
    expect(() => parseMarkup("<a/><b/>")).toThrow("one root element");
    expect(parseMarkup('<a k="v">x &amp; <b/>y</a>').children.map((c) => c.name)).toEqual(["b"]);
  });
});

// ---------- lecture 004's sigmoid, h1…h6 ----------

function sigmoidGraph() {
  const x = tensor(1, { name: "x" });
  const w = tensor(0, { requiresGrad: true, name: "w" });
  const b = tensor(0, { requiresGrad: true, name: "b" });
  const f = w.mul(x).add(b).neg().exp().add(1).reciprocal();
  return { x, w, b, f };
}

describe("toSvg: the computation graph as a standalone SVG", () => {
  test("the sigmoid graph: 6 op nodes h1…h6, 4 leaves, 9 edges, well-formed", () => {
    const { f } = sigmoidGraph();
    const svg = parseMarkup(toSvg(f, { title: "f = 1 / (exp(-(w·x + b)) + 1)" }));
    expect(svg.name).toBe("svg");
    expect(svg.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
    const nodes = all(svg, (e) => e.name === "g" && /\bnode\b/.test(e.attrs.class ?? ""));
    const ops = nodes.filter((n) => n.attrs.class === "node op");
    const leaves = nodes.filter((n) => n.attrs.class === "node leaf");
    expect(ops.map((n) => n.attrs["data-label"])).toEqual(["h1", "h2", "h3", "h4", "h5", "h6"]);
    expect(leaves.map((n) => n.attrs["data-label"]).sort()).toEqual(["1", "b", "w", "x"]);
    expect(ops.map((n) => textOf(byName(n, "text")[0]!))).toEqual(["h1 = mul", "h2 = add", "h3 = neg", "h4 = exp", "h5 = add", "h6 = reciprocal"]);
    expect(byName(svg, "path").filter((p) => p.attrs.class === "edge")).toHaveLength(9);
    expect(textOf(byName(svg, "title")[0]!)).toBe("f = 1 / (exp(-(w·x + b)) + 1)");
  });

  test("values always; gradients only after backward (leaves, and non-leaves that retain them)", () => {
    const { f, w } = sigmoidGraph();
    const before = toSvg(f);
    expect(before).not.toContain("grad ");
    expect(before).toContain("value 0.5000"); // h6
    const h5 = f.node!.inputs[0]!;
    h5.retainGrad();
    f.backward();
    const svg = parseMarkup(toSvg(f));
    const lines = byName(svg, "text").map(textOf);
    expect(lines.filter((l) => l.startsWith("grad "))).toEqual(["grad 0.2500", "grad 0.2500", "grad -0.2500"]); // w, b, h5 = −1/h5²
    const wNode = all(svg, (e) => e.attrs["data-label"] === "w")[0]!;
    expect(byName(wNode, "text").map(textOf)).toEqual(["w", "[] float32", "value 0.0000", "grad 0.2500"]);
    expect(w.grad!.itemSync()).toBe(0.25);
    expect(toSvg(f, { values: false, grads: false })).not.toMatch(/value |grad /);
  });

  test("non-scalars show a short peek of their values; names of op outputs are kept", () => {
    const a = tensor([1, 2, 3, 4, 5, 6], { name: "a", requiresGrad: true });
    const y = a.mul(2);
    y.name = "y";
    const s = y.sum();
    const svg = toSvg(s, { maxValues: 3 });
    expect(svg).toContain("value [2.0000, 4.0000, 6.0000, …]");
    expect(svg).toContain("y: h1 = mul");
    expect(svg).toContain("[6] float32");
  });

  test("every box and edge lies inside the viewBox, and boxes are wide enough for their text", () => {
    const x = randn([4, 5], { name: "X" });
    const w1 = randn([5, 4], { requiresGrad: true, name: "W1" });
    const w2 = randn([4, 3], { requiresGrad: true, name: "W2" });
    const loss = x.matmul(w1).sigmoid().matmul(w2).logSoftmax().mean();
    loss.backward();
    const svg = parseMarkup(toSvg(loss, { title: "5-4-3" }));
    const [, , vw, vh] = svg.attrs.viewBox!.split(" ").map(Number) as [number, number, number, number];
    const dy = Number(/translate\(0,(\d+)\)/.exec(all(svg, (e) => !!e.attrs.transform)[0]!.attrs.transform!)![1]);
    for (const g of all(svg, (e) => e.name === "g" && /\bnode\b/.test(e.attrs.class ?? ""))) {
      const r = byName(g, "rect")[0]!;
      const [x0, y0, w, h] = ["x", "y", "width", "height"].map((k) => Number(r.attrs[k]));
      expect(x0).toBeGreaterThanOrEqual(0);
      expect(x0! + w!).toBeLessThanOrEqual(vw + 0.5);
      expect(y0! + dy + h!).toBeLessThanOrEqual(vh + 0.5);
      for (const t of byName(g, "text")) expect([...textOf(t)].length * 7).toBeLessThan(w!);
    }
  });

  test("maxNodes guards against drawing huge graphs; bad input names the function", () => {
    let y = ones([2], { requiresGrad: true });
    for (let i = 0; i < 50; i++) y = y.add(1);
    expect(() => toSvg(y, { maxNodes: 20 })).toThrow(/^toSvg: the graph has \d+ tensors, more than maxNodes = 20/);
    expect(() => toSvg(null as never)).toThrow(DeltagradError);
    expect(() => toSvg({} as never)).toThrow("toSvg: expected a Tensor, got object");
    expect(() => toSvg(y, { maxValues: 0 })).toThrow("toSvg: maxValues must be an integer ≥ 1, got 0");
  });

  test("labels with markup characters are escaped", () => {
    const a = tensor(1, { name: 'a<b & "c"', requiresGrad: true });
    const svg = toSvg(a.add(1));
    expect(() => parseMarkup(svg)).not.toThrow();
    expect(svg).toContain("a&lt;b &amp; &quot;c&quot;");
    expect(byName(parseMarkup(svg), "text").map(textOf)).toContain('a<b & "c"');
  });
});

describe("graphDisplay: Jupyter's image/svg+xml", () => {
  test("the bundle holds the SVG and a text summary; it is drawn when displayed", () => {
    const { f } = sigmoidGraph();
    const display = graphDisplay(f, { title: "lecture 004" });
    const first = display[jupyterDisplay]();
    expect(Object.keys(first).sort()).toEqual(["image/svg+xml", "text/plain"]);
    expect(first["text/plain"]).toBe("<computation graph: 6 ops, 4 leaves>");
    expect(first["image/svg+xml"]).not.toContain("grad ");
    f.backward();
    const second = (display as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();
    expect(second["image/svg+xml"]).toBe(toSvg(f, { title: "lecture 004" }));
    expect(second["image/svg+xml"]).toContain("grad 0.2500");
    expect(display.toSvg()).toBe(second["image/svg+xml"]);
    expect(() => graphDisplay(3 as never)).toThrow("graphDisplay: expected a Tensor, got number");
  });
});

// ---------- the layout ----------

function overlaps(l: Layout): string[] {
  const bad: string[] = [];
  for (let i = 0; i < l.nodes.length; i++) {
    for (let j = i + 1; j < l.nodes.length; j++) {
      const a = l.nodes[i]!;
      const b = l.nodes[j]!;
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) bad.push(`${a.id}/${b.id}`);
    }
  }
  return bad;
}

/** Crossings between straight segments of edges that join adjacent layers. */
function crossings(l: Layout): number {
  const segs = l.edges.flatMap((e) => e.points.slice(1).map((p, k) => [e.points[k]!, p] as const));
  let c = 0;
  for (let i = 0; i < segs.length; i++) {
    for (let j = i + 1; j < segs.length; j++) {
      const [[ax, ay], [bx, by]] = segs[i]!;
      const [[cx, cy], [dx, dy]] = segs[j]!;
      if (ay !== cy || by !== dy) continue; // only segments spanning the same band
      if ((ax - cx) * (bx - dx) < 0) c++;
    }
  }
  return c;
}

describe("layeredLayout", () => {
  const box = (id: string, width = 60, height = 30) => ({ id, width, height });

  test("the sigmoid graph: top-down, one op per layer from h1 to h6, no overlaps, no crossings", () => {
    const ids = ["w", "x", "h1", "b", "h2", "h3", "h4", "one", "h5", "h6"];
    const edges: [string, string][] = [["w", "h1"], ["x", "h1"], ["h1", "h2"], ["b", "h2"], ["h2", "h3"], ["h3", "h4"], ["h4", "h5"], ["one", "h5"], ["h5", "h6"]];
    const l = layeredLayout(ids.map((id) => box(id)), edges);
    const at = Object.fromEntries(l.nodes.map((n) => [n.id, n]));
    expect(["h1", "h2", "h3", "h4", "h5", "h6"].map((h) => at[h]!.layer)).toEqual([1, 2, 3, 4, 5, 6]);
    // Sources sit just above their consumer, beside the previous op (b next to h1, 1 next to h4).
    expect([at.w!.layer, at.x!.layer, at.b!.layer, at.one!.layer]).toEqual([0, 0, 1, 4]);
    expect(overlaps(l)).toEqual([]);
    expect(crossings(l)).toBe(0);
    for (const n of l.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(16 - 1e-9);
      expect(n.x + n.width).toBeLessThanOrEqual(l.width - 16 + 1e-9);
      expect(n.y + n.height).toBeLessThanOrEqual(l.height - 16 + 1e-9);
    }
    // Edges start at the bottom centre of their source and end at the top centre of their target.
    for (const e of l.edges) {
      const [sx, sy] = e.points[0]!;
      const [tx, ty] = e.points[e.points.length - 1]!;
      expect([sx, sy]).toEqual([at[e.from]!.x + at[e.from]!.width / 2, at[e.from]!.y + at[e.from]!.height]);
      expect([tx, ty]).toEqual([at[e.to]!.x + at[e.to]!.width / 2, at[e.to]!.y]);
    }
  });

  test("barycenter ordering removes the crossing that input order would draw", () => {
    // a b c on top, B under a's right neighbour… input order places them so that edges cross.
    const nodes = ["a", "b", "c", "A", "B", "C"].map((id) => box(id));
    const edges: [string, string][] = [["a", "C"], ["b", "B"], ["c", "A"]];
    const l = layeredLayout(nodes, edges);
    expect(crossings(l)).toBe(0);
    expect(overlaps(l)).toEqual([]);
  });

  test("an edge spanning several layers bends through one point per skipped layer", () => {
    const l = layeredLayout(["a", "b", "c", "d"].map((id) => box(id)), [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"]], { sources: "top" });
    const long = l.edges.find((e) => e.from === "a" && e.to === "d")!;
    expect(long.points).toHaveLength(4); // start, two bends (layers 1 and 2), end
    expect(long.points.map((p) => p[1])).toEqual([...long.points.map((p) => p[1])].sort((p, q) => p - q));
  });

  test("sources: 'top' keeps every source in layer 0", () => {
    const l = layeredLayout(["a", "b", "c", "d"].map((id) => box(id)), [["a", "b"], ["b", "c"], ["d", "c"]], { sources: "top" });
    expect(l.nodes.find((n) => n.id === "d")!.layer).toBe(0);
    const l2 = layeredLayout(["a", "b", "c", "d"].map((id) => box(id)), [["a", "b"], ["b", "c"], ["d", "c"]]);
    expect(l2.nodes.find((n) => n.id === "d")!.layer).toBe(1);
  });

  test("empty graphs, lone nodes and duplicate edges", () => {
    expect(layeredLayout([], [])).toEqual({ nodes: [], edges: [], width: 32, height: 32 });
    const one = layeredLayout([box("a", 50, 20)], []);
    expect(one.nodes[0]).toMatchObject({ x: 16, y: 16, layer: 0 });
    expect([one.width, one.height]).toEqual([82, 52]);
    expect(layeredLayout([box("a"), box("b")], [["a", "b"], ["a", "b"]]).edges).toHaveLength(1);
  });

  test("bad graphs are errors naming layeredLayout", () => {
    expect(() => layeredLayout([box("a"), box("b")], [["a", "b"], ["b", "a"]])).toThrow("layeredLayout: the graph has a cycle (2 nodes on or after it)");
    expect(() => layeredLayout([box("a")], [["a", "a"]])).toThrow('layeredLayout: self-loop on "a"');
    expect(() => layeredLayout([box("a")], [["a", "z"]])).toThrow("layeredLayout: edge a → z names an unknown node");
    expect(() => layeredLayout([box("a"), box("a")], [])).toThrow('layeredLayout: duplicate node id "a"');
    expect(() => layeredLayout([box("a", -1)], [])).toThrow('layeredLayout: node "a" has size -1×30');
  });

  // Random DAGs: edges only go from a lower to a higher index, so there is never a cycle.
  const dag = fc
    .integer({ min: 1, max: 14 })
    .chain((n) =>
      fc.record({
        sizes: fc.array(fc.record({ w: fc.integer({ min: 0, max: 200 }), h: fc.integer({ min: 0, max: 60 }) }), { minLength: n, maxLength: n }),
        edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 3 * n }),
      }),
    );

  fcTest.prop([dag, fc.constantFrom("consumer" as const, "top" as const)])("random DAGs: no overlapping boxes, every edge points down a layer", ({ sizes, edges }, sources) => {
    const nodes = sizes.map((s, i) => ({ id: `v${i}`, width: s.w, height: s.h }));
    const es = edges.filter(([a, b]) => a !== b).map(([a, b]): [string, string] => [`v${Math.min(a, b)}`, `v${Math.max(a, b)}`]);
    const l = layeredLayout(nodes, es, { sources });
    expect(l.nodes).toHaveLength(nodes.length);
    expect(overlaps(l)).toEqual([]);
    const at = new Map(l.nodes.map((n) => [n.id, n]));
    for (const e of l.edges) {
      expect(at.get(e.to)!.layer).toBeGreaterThan(at.get(e.from)!.layer);
      expect(e.points).toHaveLength(at.get(e.to)!.layer - at.get(e.from)!.layer + 1);
      for (let k = 1; k < e.points.length; k++) expect(e.points[k]![1]).toBeGreaterThanOrEqual(e.points[k - 1]![1]);
    }
    for (const n of l.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(16 - 1e-6);
      expect(n.x + n.width).toBeLessThanOrEqual(l.width - 16 + 1e-6);
    }
  });
});

// ---------- tensors as HTML ----------

const cells = (el: Element) => byName(el, "td").map(textOf);

describe("tensorToHtml and the Tensor's Jupyter display", () => {
  test("a [2,3] matrix: one table, header with column indices, two rows of three values", () => {
    const html = parseMarkup(tensorToHtml(tensor([[1, 2, 3], [4, 5, 6]])));
    expect(html.attrs.class).toBe("deltagrad-tensor");
    expect(byName(html, "table")).toHaveLength(1);
    expect(byName(html, "tr")).toHaveLength(3);
    expect(cells(html)).toEqual(["1.0000", "2.0000", "3.0000", "4.0000", "5.0000", "6.0000"]);
    expect(byName(html, "th").map(textOf)).toEqual(["", "0", "1", "2", "0", "1"]);
    expect(textOf(html.children[0]!)).toBe("tensor · shape [2,3] · float32 · 6 elements");
  });

  test("scalars, vectors, int32 and bool", () => {
    expect(cells(parseMarkup(tensorToHtml(tensor(2.5))))).toEqual(["2.5000"]);
    expect(cells(parseMarkup(tensorToHtml(tensor([7, -1], { dtype: "int32" }))))).toEqual(["7", "-1"]);
    expect(cells(parseMarkup(tensorToHtml(tensor([true, false]))))).toEqual(["true", "false"]);
    expect(textOf(parseMarkup(tensorToHtml(tensor([])))).endsWith("empty")).toBe(true);
  });

  test("more than 1,000 elements are summarized like NumPy: 3 at each end with ellipses", () => {
    const v = parseMarkup(tensorToHtml(tensor(Array.from({ length: 2000 }, (_, i) => i))));
    expect(cells(v)).toEqual(["0.0000", "1.0000", "2.0000", "…", "1997.0000", "1998.0000", "1999.0000"]);
    const m = parseMarkup(tensorToHtml(ones([100, 100])));
    expect(byName(m, "tr")).toHaveLength(1 + 7);
    expect(cells(m)).toHaveLength(49);
    expect(cells(m).filter((c) => c === "⋱")).toHaveLength(1);
    expect(byName(m, "th").map(textOf).slice(0, 8)).toEqual(["", "0", "1", "2", "…", "97", "98", "99"]);
    // 1,000 elements exactly are shown in full.
    expect(cells(parseMarkup(tensorToHtml(ones([1000]))))).toHaveLength(1000);
    // The threshold is an option.
    expect(cells(parseMarkup(tensorToHtml(ones([10]), { threshold: 4, edgeItems: 2 })))).toEqual(["1.0000", "1.0000", "…", "1.0000", "1.0000"]);
  });

  test("rank 4: one titled table per leading index, summarized leading axes", () => {
    const small = parseMarkup(tensorToHtml(ones([2, 3, 2, 2])));
    expect(byName(small, "table")).toHaveLength(6);
    const titles = all(small, (e) => e.name === "div" && /^\[\d, \d, :, :\]$/.test(e.text)).map((e) => e.text);
    expect(titles).toEqual(["[0, 0, :, :]", "[0, 1, :, :]", "[0, 2, :, :]", "[1, 0, :, :]", "[1, 1, :, :]", "[1, 2, :, :]"]);
    const big = parseMarkup(tensorToHtml(ones([10, 10, 10, 10])));
    expect(byName(big, "table")).toHaveLength(36);
    expect(cells(big)).toHaveLength(36 * 49);
    expect(textOf(big)).toContain("⋮ (4 more along axis 0)");
  });

  test("values come from the right offsets in a rank-3 tensor", () => {
    const t = tensor(Array.from({ length: 24 }, (_, i) => i)).reshape([2, 3, 4]);
    const tables = byName(parseMarkup(tensorToHtml(t)), "table");
    expect(cells(tables[1]!)).toEqual(Array.from({ length: 12 }, (_, i) => (12 + i).toFixed(4)));
  });

  test("the header names the tensor, its gradFn or requiresGrad; .grad follows after backward", () => {
    const w = tensor([1, 2], { requiresGrad: true, name: "w<1>" });
    expect(textOf(parseMarkup(tensorToHtml(w)).children[0]!)).toBe("tensor · w<1> · shape [2] · float32 · requiresGrad · 2 elements");
    const y = w.mul(w);
    expect(textOf(parseMarkup(tensorToHtml(y)).children[0]!)).toContain("gradFn mul");
    y.sum().backward();
    const html = parseMarkup(tensorToHtml(w));
    expect(byName(html, "table")).toHaveLength(2);
    expect(cells(html)).toEqual(["1.0000", "2.0000", "2.0000", "4.0000"]);
    expect(byName(parseMarkup(tensorToHtml(w, { grad: false })), "table")).toHaveLength(1);
  });

  test("a tensor on an asynchronous backend is described, not read", () => {
    const fake = { name: "webgpu", synchronous: false } as unknown as Tensor["backend"];
    const t = new Tensor(null as never, [2], "float32", fake);
    expect(textOf(parseMarkup(tensorToHtml(t)))).toContain("values on the asynchronous webgpu backend");
  });

  test("[Symbol.for('Jupyter.display')]() gives text/plain and text/html", () => {
    const t = tensor([[1, 2], [3, 4]]);
    const bundle = (t as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();
    expect(Object.keys(bundle).sort()).toEqual(["text/html", "text/plain"]);
    expect(bundle["text/plain"]).toBe(String(t));
    expect(bundle["text/html"]).toBe(tensorToHtml(t));
    expect(t[jupyterDisplay]()).toEqual(tensorMimeBundle(t));
  });

  test("bad input is a DeltagradError naming the function", () => {
    expect(() => tensorToHtml([1, 2] as never)).toThrow("tensorToHtml: expected a Tensor, got object");
    expect(() => tensorMimeBundle(undefined as never)).toThrow("tensorMimeBundle: expected a Tensor, got undefined");
    expect(() => tensorToHtml(ones([2]), { edgeItems: 0 })).toThrow("tensorToHtml: edgeItems must be an integer ≥ 1, got 0");
    expect(() => tensorToHtml(ones([2]), { threshold: -1 })).toThrow("tensorToHtml: threshold must be an integer ≥ 0, got -1");
  });
});

test("escapeXml", () => {
  expect(escapeXml(`<a href="x">Tom & Jerry's</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
});
