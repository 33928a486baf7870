import { formatNumber } from "../format.js";
import { DeltagradError, optionsOf } from "../errors.js";
import { describe } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { isTensor } from "../is-tensor.js";

export interface DotOptions {
  /** Graph title. */
  title?: string;
  /** Show values and gradients of scalar tensors (synchronous backends). Default true. */
  values?: boolean;
}

/** One tensor of a recorded graph, in topological order (inputs first). */
export interface GraphNode {
  tensor: Tensor;
  /** `h1`, `h2`, … for op outputs in the order they were recorded; the leaf's name (or `x0`, `x1`, …) otherwise. */
  label: string;
  op: string | null;
  inputs: Tensor[];
}

/**
 * The graph behind `root`, inputs before outputs (iterative DFS). Ops are numbered h1, h2, … the
 * way lecture 004 names the sigmoid's intermediate results.
 *
 * @example
 * ```ts
 * graphNodes(f).map((n) => n.label); // ["x", "w", "h1", "b", "h2", …]
 * ```
 */
export function graphNodes(root: Tensor): GraphNode[] {
  if (!isTensor(root)) throw new DeltagradError(`graphNodes: expected a Tensor, got ${describe(root)}`);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const c = inputs[top[1]++]!;
      if (!seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  let h = 0;
  let x = 0;
  return order.map((t) => ({
    tensor: t,
    label: t.node ? `h${++h}` : (t.name ?? constantName(t) ?? `x${x++}`),
    op: t.node?.op ?? null,
    inputs: t.node?.inputs ?? [],
  }));
}

/** @internal "value 0.5000 · grad 0.2500" for scalars on synchronous backends. */
export function scalarDetails(t: Tensor): string[] {
  if (t.size !== 1 || !t.backend.synchronous) return [];
  const float = t.dtype === "float32" || t.dtype === "float64";
  const out = [`value ${formatNumber(t.itemSync(), float)}`];
  if (t.grad) out.push(`grad ${formatNumber(t.grad.itemSync(), true)}`);
  return out;
}

/** An unnamed scalar constant is labelled by its value (the lecture's "+ 1"). */
function constantName(t: Tensor): string | undefined {
  if (t.size !== 1 || t.rank !== 0 || t.requiresGrad || !t.backend.synchronous) return undefined;
  return String(t.itemSync());
}

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

/**
 * The recorded graph as Graphviz DOT, top-down: one box per leaf, one ellipse per op labelled
 * `hN = op`, with shapes and, for scalars, value and gradient.
 *
 * @example
 * ```ts
 * const f = w.mul(x).add(b).neg().exp().add(1).reciprocal();
 * console.log(toDot(f)); // digraph { … "h6 = reciprocal" … }
 * ```
 */
export function toDot(root: Tensor, options?: DotOptions): string {
  if (!isTensor(root)) throw new DeltagradError(`toDot: expected a Tensor, got ${describe(root)}`);
  const opts = optionsOf("toDot", options);
  const nodes = graphNodes(root);
  const ids = new Map(nodes.map((n, i) => [n.tensor, `n${i}`]));
  const lines = ["digraph deltagrad {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=11];'];
  if (opts.title) lines.push(`  label="${esc(opts.title)}"; labelloc=t;`);
  for (const n of nodes) {
    const t = n.tensor;
    const rows = [n.op ? `${n.label} = ${n.op}` : n.label, `[${t.shape.join(",")}] ${t.dtype}`];
    if (opts.values !== false) rows.push(...scalarDetails(t));
    const shape = n.op ? "ellipse" : "box";
    lines.push(`  ${ids.get(t)} [shape=${shape}, label="${rows.map(esc).join("\\n")}"];`);
  }
  for (const n of nodes) for (const i of n.inputs) lines.push(`  ${ids.get(i)} -> ${ids.get(n.tensor)};`);
  lines.push("}");
  return lines.join("\n");
}
