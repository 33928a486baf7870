import { getBackend } from "./backend.js";
import { isFloat } from "./dtype.js";
import { DeltagradError, fmtShape } from "./errors.js";
import { noGradient, RULES, type Attrs, type Primitive } from "./primitives.js";
import { shapesEqual } from "./shape.js";
import { Tensor, type Node } from "./tensor.js";
import { add, reshape, sum } from "./ops/index.js";

let gradEnabled = true;
let anomaly = false;
/** True while VJPs run: anomaly mode then checks each VJP's result rather than the ops inside it. */
let inBackward = false;

/** Whether ops are being recorded for backward (false inside {@link noGrad}). @example `isGradEnabled() // true` */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs `fn` without recording a graph: results have `requiresGrad = false`. Synchronous `fn` only.
 *
 * @example
 * ```ts
 * const w = tensor(2, { requiresGrad: true });
 * const y = noGrad(() => w.mul(3)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Re-enables recording inside a {@link noGrad} region. @example `noGrad(() => enableGrad(() => w.mul(2)))` */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/**
 * Anomaly mode: every op checks its forward output and every VJP its gradient for NaN/±Inf and
 * throws naming the op, the shapes, and where the op was recorded (a stack captured only in this mode).
 * It reads values on the host, so it is for debugging on synchronous backends.
 *
 * @example
 * ```ts
 * detectAnomaly(() => tensor(-1, { requiresGrad: true }).log()); // throws: log produced NaN …
 * ```
 */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = anomaly;
  anomaly = true;
  try {
    return fn();
  } finally {
    anomaly = prev;
  }
}

/** Turns anomaly mode on or off globally (see {@link detectAnomaly}). @example `setAnomalyMode(true)` */
export function setAnomalyMode(on: boolean): void {
  anomaly = on;
}

function checkFinite(t: Tensor, what: string, node: Node | null): void {
  if (!isFloat(t.dtype) || !t.backend.synchronous) return;
  const v = t.backend.readSync(t.handle, t.dtype, t.size);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      const where = node?.stack ? `\nrecorded at:\n${node.stack}` : "";
      throw new DeltagradError(`${what} produced ${Number.isNaN(v[i]!) ? "NaN" : v[i]! > 0 ? "Infinity" : "-Infinity"} at flat index ${i} (shape ${fmtShape(t.shape)})${where}`);
    }
  }
}

/**
 * Runs primitive `prim` on `inputs` and records it on the graph when gradients are enabled and
 * some input requires them. The only place where graph nodes are created.
 */
export function apply<P extends Primitive>(prim: P, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  const backend = inputs[0]?.backend ?? getBackend();
  const { data, shape, dtype } = RULES[prim].forward(backend, inputs, attrs);
  const out = new Tensor(data, shape, dtype, backend);
  if (gradEnabled && isFloat(dtype) && RULES[prim].vjp !== noGradient && inputs.some((t) => t.requiresGrad)) {
    const node: Node = { op: prim, inputs, attrs, freed: false };
    if (anomaly) node.stack = new Error().stack?.split("\n").slice(2).join("\n");
    out._setNode(node);
  }
  if (anomaly && !inBackward) checkFinite(out, `${prim}: forward output`, out.node);
  return out;
}

/** Sums a gradient of a broadcast result back to `shape` (NumPy broadcasting's adjoint). */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, { axis: axes, keepDims: true }) : g;
  return reshape(s, shape);
}

/** Post-order (inputs before outputs) over tensors that require grad; iterative, so 100,000-op chains are fine. */
function topoOrder(roots: Tensor[], stop: Set<Tensor> | null): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [];
  for (const r of roots) {
    if (!r.requiresGrad || seen.has(r)) continue;
    seen.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [t, i] = top;
      const inputs = stop?.has(t) ? [] : (t.node?.inputs ?? []);
      if (i < inputs.length) {
        top[1]++;
        const c = inputs[i]!;
        if (c.requiresGrad && !seen.has(c)) {
          seen.add(c);
          stack.push([c, 0]);
        }
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order;
}

export interface SweepOptions {
  retainGraph: boolean;
  createGraph: boolean;
  /** When given, return gradients for these tensors and leave `.grad` alone (like torch.autograd.grad). */
  targets?: Tensor[];
}

/**
 * The reverse sweep. Seeds `roots` with `cotangents`, visits nodes in reverse topological order,
 * calls each primitive's VJP (under noGrad unless `createGraph`), sums the results back to each
 * input's shape with {@link unbroadcast}, and accumulates.
 */
export function sweep(roots: Tensor[], cotangents: Tensor[], opts: SweepOptions): Map<Tensor, Tensor> {
  const targets = opts.targets ? new Set(opts.targets) : null;
  const order = topoOrder(roots, targets);
  // With targets, only nodes on a path to a target need their VJP.
  let useful: Set<Tensor> | null = null;
  if (targets) {
    useful = new Set();
    for (const t of order) {
      if (targets.has(t) || t.node?.inputs.some((c) => useful!.has(c))) useful.add(t);
    }
  }
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  roots.forEach((r, i) => r.requiresGrad && accumulate(r, cotangents[i]!));

  const wasInBackward = inBackward;
  inBackward = true;
  try {
    withGradMode(opts.createGraph, () => sweepNodes(order, grads, accumulate, targets, useful, opts));
  } finally {
    inBackward = wasInBackward;
  }
  if (!targets) return grads;
  const out = new Map<Tensor, Tensor>();
  for (const t of targets) {
    const g = grads.get(t);
    if (g) out.set(t, opts.createGraph ? g : g.detach());
  }
  return out;
}

function sweepNodes(
  order: Tensor[],
  grads: Map<Tensor, Tensor>,
  accumulate: (t: Tensor, g: Tensor) => void,
  targets: Set<Tensor> | null,
  useful: Set<Tensor> | null,
  opts: SweepOptions,
): void {
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    const g = grads.get(t);
    if (!g) continue;
    if (!targets && (t.isLeaf || t._retainsGrad)) {
      t.grad = t.grad ? add(t.grad, g) : opts.createGraph ? g : g.detach();
    }
    const node = t.node;
    if (!node || targets?.has(t) || (useful && !useful.has(t))) continue;
    if (node.freed) {
      throw new DeltagradError(
        `backward: the graph through ${node.op} ${fmtShape(t.shape)} was already freed by an earlier backward(); pass { retainGraph: true } to the first call to backpropagate twice`,
      );
    }
    const gis = RULES[node.op].vjp(g, node.inputs, t, node.attrs as never);
    node.inputs.forEach((input, i) => {
      const gi = gis[i];
      if (!gi || !input.requiresGrad) return;
      const r = unbroadcast(gi, input.shape);
      if (!shapesEqual(r.shape, input.shape) || r.dtype !== input.dtype) {
        throw new DeltagradError(
          `${node.op}: VJP for input ${i} has shape ${fmtShape(r.shape)} ${r.dtype}, expected ${fmtShape(input.shape)} ${input.dtype}`,
        );
      }
      if (anomaly) checkFinite(r, `${node.op}: backward gradient for input ${i}`, node);
      accumulate(input, r);
    });
    if (!opts.retainGraph) node.freed = true;
  }
}
