import { getBackend, type Backend } from "./backend.js";
import { isFloat } from "./dtype.js";
import { DeltagradError, fmtShape } from "./errors.js";
import { noGradient, type Attrs, type NamedRule, type Forward, type Node, type Primitive, type Rule } from "./primitives.js";
import { closeScope, currentScope, openScope, type Scope } from "./lifetime.js";
import { broadcastShapes, checkShape, describe, shapesEqual } from "./shape.js";
import { latestStamp, newStamp, NO_INPUTS, restamp, topoOrder } from "./topo.js";
import { Tensor } from "./tensor.js";
import { add, reshape, sum } from "./ops/index.js";

let gradEnabled = true;
let anomaly = false;
/** True while VJPs run: anomaly mode then checks each VJP's result rather than the ops inside it. */
let inBackward = false;
/** @internal compile/trace.ts's recorder while a trace is active: told of every primitive apply runs. */
let traceHook: ((op: Primitive, inputs: Tensor[], attrs: unknown, out: Tensor) => void) | null = null;
/** @internal Installs (or clears) the trace recorder; returns the previous one. @example `setTraceHook(null)` */
export function setTraceHook(h: typeof traceHook): typeof traceHook { const prev = traceHook; traceHook = h; return prev; }

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
  checkFn("noGrad", fn);
  return withGradMode(false, fn);
}

/** Re-enables recording inside a {@link noGrad} region. @example `noGrad(() => enableGrad(() => w.mul(2)))` */
export function enableGrad<T>(fn: () => T): T {
  checkFn("enableGrad", fn);
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
  checkFn("detectAnomaly", fn);
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
  if (typeof on !== "boolean") throw new DeltagradError(`setAnomalyMode: expected true or false, got ${describe(on)}`);
  anomaly = on;
}

function checkFn(op: string, fn: unknown): void {
  if (typeof fn !== "function") throw new DeltagradError(`${op}: expected a function, got ${describe(fn)}`);
}

/** Frames of deltagrad's own sources (or its built package), dropped so the stack starts at user code. */
const INTERNAL_FRAME = /[\\/]packages[\\/](autograd|nn|optim)[\\/](src|dist)[\\/]|[\\/]@deltagrad[\\/]|\(node:internal|^\s*at node:internal/;

/**
 * Anomaly mode's record-time stack: captured deep enough to get past nested composites
 * (crossEntropy → logSoftmax → logSumExp → sub → add → apply), then trimmed to the caller's frames,
 * so its first line is the user code that created the op.
 */
function userStack(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  const frames = (stack ?? "").split("\n").slice(1);
  const user = frames.filter((f) => !INTERNAL_FRAME.test(f));
  return (user.length > 0 ? user : frames).slice(0, 10).join("\n") || undefined;
}

function checkFinite(t: Tensor, what: string, node: Node | null): void {
  if (!isFloat(t.dtype) || !t.backend.synchronous) return;
  const v = t.backend.readSync(t.handle, t.dtype, t.size);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      // An op run under noGrad (e.g. logSumExp's max) has no node: take the stack now, at the failure.
      const stack = node?.stack ?? (inBackward ? undefined : userStack());
      const where = stack ? `\nrecorded at:\n${stack}` : "";
      throw new DeltagradError(`${what} produced ${Number.isNaN(v[i]!) ? "NaN" : v[i]! > 0 ? "Infinity" : "-Infinity"} at flat index ${i} (shape ${fmtShape(t.shape)})${where}`);
    }
  }
}

/**
 * Runs primitive `rule.op` on `inputs` and records it on the graph when gradients are enabled and
 * some input requires them. The only place where graph nodes are created.
 */
export function apply<P extends Primitive>(rule: NamedRule<P>, inputs: Tensor[], attrs: Attrs[P]): Tensor {
  // The hot path of every op (and all of a scalar graph's cost): no closures, no array copies, no lookup by name.
  let backend = inputs.length > 0 ? inputs[0]!.backend : getBackend();
  const prim = rule.op;
  let f: Forward;
  if (sameBackend(inputs, backend)) f = rule.forward(backend, inputs, attrs);
  else {
    backend = getBackend();
    f = forwardOnto(backend, rule, inputs, attrs);
  }
  const out = new Tensor(f.data, f.shape, f.dtype, backend);
  if (gradEnabled && rule.vjp !== noGradient && isFloat(f.dtype) && anyRequiresGrad(inputs)) {
    // A class instance holding a copy of `inputs`, never an object or array literal: see GraphNode.
    const node: Node = new GraphNode(prim, inputs.slice(), attrs, anomaly ? userStack() : undefined, rule as Rule<unknown>);
    for (let i = 0; i < inputs.length; i++) inputs[i]!._uses++;
    out._setNode(node);
  }
  if (anomaly && !inBackward) checkFinite(out, `${prim}: forward output`, out.node);
  if (traceHook !== null) traceHook(prim, inputs, attrs, out);
  return out;
}

/**
 * A recorded node. V8 learns per allocation site (each object or array literal) whether the
 * objects it makes outlive young-generation collections, and once they have (a long training
 * step's graph does: a LeNet step on the cpu backend spans many scavenges) it allocates that
 * site's objects straight into the old generation for good. A node or inputs array made there
 * then keeps every young tensor it points to alive through each scavenge until the next full
 * collection, so every later graph is promoted wholesale: the scalar graph ran 2× slower, its
 * scavenges 20× longer (tape-gc-child.ts). So the graph's long-lived objects come from sites V8
 * does not track: a class constructor (no allocation site), and the inputs copied by `slice()` (a
 * builtin), while the caller's literal array dies young.
 */
class GraphNode implements Node {
  freed = false;
  constructor(readonly op: Primitive, readonly inputs: Tensor[], readonly attrs: unknown, public stack: string | undefined, readonly rule: Rule<unknown>) {}
}

function sameBackend(inputs: Tensor[], b: Backend): boolean {
  for (let i = 1; i < inputs.length; i++) if (inputs[i]!.backend !== b) return false;
  return true;
}

/**
 * Inputs on different backends (a tensor made before `setBackend`): the op runs on the active
 * backend, on copies of the others' values. The graph still records the original inputs.
 */
function forwardOnto<A>(backend: Backend, rule: Rule<A>, inputs: Tensor[], attrs: A): Forward {
  const moved = inputs.map((t) =>
    t.backend === backend ? t : new Tensor(backend.upload(t.backend.readSync(t.handle, t.dtype, t.size).slice(), t.dtype), t.shape, t.dtype, backend),
  );
  try {
    return rule.forward(backend, moved, attrs);
  } finally {
    moved.forEach((m, i) => m !== inputs[i] && m.dispose());
  }
}

function anyRequiresGrad(inputs: Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i]!.requiresGrad) return true;
  return false;
}

/**
 * Sums a gradient of a broadcast result back to `shape` (NumPy broadcasting's adjoint).
 *
 * @example
 * ```ts
 * unbroadcast(ones([2, 3]), [3]).arraySync(); // [2, 2, 2]
 * ```
 */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (!(g instanceof Tensor) || !Array.isArray(shape)) {
    throw new DeltagradError(`unbroadcast: expected a Tensor and a shape, got ${describe(g)} and ${describe(shape)}`);
  }
  if (shapesEqual(g.shape, shape)) return g;
  if (!shapesEqual(broadcastShapes("unbroadcast", checkShape("unbroadcast", shape), g.shape), g.shape)) {
    throw new DeltagradError(`unbroadcast: shape ${describe(shape)} does not broadcast to the gradient's ${fmtShape(g.shape)}`);
  }
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, { axis: axes, keepDims: true }) : g;
  return reshape(s, shape);
}

/** Options of {@link Tensor.backward}. */
export interface BackwardOptions {
  /** Keep the graph so that backward can run through it again. Default false. */
  retainGraph?: boolean;
  /** Record the backward pass itself so gradients can be differentiated again. Default false. */
  createGraph?: boolean;
}

/** @internal The body of `Tensor.backward`: checks the cotangent, then one {@link sweep}. */
export function backwardImpl(t: Tensor, gradOutput: Tensor | undefined, opts: BackwardOptions): void {
  if (!t.requiresGrad) throw new DeltagradError("backward: this tensor does not require gradients (no input had requiresGrad: true, or it was computed under noGrad)");
  let g = gradOutput;
  if (g === undefined) {
    if (t.size !== 1) throw new DeltagradError(`backward: output of shape ${fmtShape(t.shape)} is not a scalar; pass a gradient of the same shape`);
    // ones(t.shape) without re-validating a shape and dtype that a tensor already has.
    const b = getBackend();
    g = new Tensor(b.fill(t.dtype, 1, 1), t.shape, t.dtype, b);
  } else {
    if (!(g instanceof Tensor)) throw new DeltagradError(`backward: gradOutput must be a Tensor, got ${typeof g}`);
    if (!shapesEqual(g.shape, t.shape)) throw new DeltagradError(`backward: gradOutput shape ${fmtShape(g.shape)} does not match output shape ${fmtShape(t.shape)}`);
    if (g.dtype !== t.dtype) throw new DeltagradError(`backward: gradOutput dtype ${g.dtype} does not match output dtype ${t.dtype}`);
  }
  // As PyTorch: createGraph implies retainGraph unless told otherwise.
  sweep([t], [g], { retainGraph: opts.retainGraph ?? opts.createGraph ?? false, createGraph: opts.createGraph ?? false });
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
 * input's shape with {@link unbroadcast}, and accumulates. Returns the targets' gradients (null
 * without targets).
 */
export function sweep(roots: Tensor[], cotangents: Tensor[], opts: SweepOptions): Map<Tensor, Tensor> | null {
  const targets = opts.targets ? new Set(opts.targets) : null;
  const mark = newStamp();
  const order = topoOrder(roots, mark);
  // With targets, a node needs its VJP only when one of its inputs is a target or leads to one;
  // a target still passes its cotangent on to targets below it (torch.autograd.grad(z, [x, y])
  // with y = f(x) gives x its full gradient). `reaches[k]`: order[k] is a target or leads to one.
  let useful: boolean[] | null = null;
  if (targets) {
    useful = new Array<boolean>(order.length).fill(false);
    const reaches = new Array<boolean>(order.length).fill(false);
    for (let k = 0; k < order.length; k++) {
      const t = order[k]!;
      const inputs = t.node === null ? NO_INPUTS : t.node.inputs;
      let u = false;
      for (let i = 0; !u && i < inputs.length; i++) u = inputs[i]!._mark === mark && reaches[inputs[i]!._topo]!;
      useful[k] = u;
      reaches[k] = u || targets.has(t);
    }
  }
  const wasInBackward = inBackward;
  const prevGrad = gradEnabled;
  inBackward = true;
  gradEnabled = opts.createGraph;
  let r: SweepResult;
  // Every cotangent and VJP temporary is created in this scope and released when the sweep no
  // longer needs it; only the new gradients survive it. (openScope rather than scoped(): no closure.)
  const s = openScope();
  try {
    r = sweepNodes(order, mark, roots, cotangents, targets, useful, opts);
  } catch (e) {
    closeScope(s, null);
    throw e;
  } finally {
    inBackward = wasInBackward;
    gradEnabled = prevGrad;
  }
  closeScope(s, r);
  // Commit only now that the whole sweep succeeded, so a VJP that throws part-way (anomaly mode,
  // a freed graph) leaves every .grad and the graph as they were.
  for (let i = 0; i < r.leaves.length; i++) {
    const g = r.leafGrads[i]!;
    g._scope = null; // stored in .grad: no enclosing scope may dispose it
    r.leaves[i]!._setGrad(g);
  }
  for (let i = 0; i < r.freed.length; i++) freeNode(r.freed[i]!);
  return r.out;
}

/**
 * @internal Frees a recorded node once: each input loses a consumer, and a disposed input left with
 * none is released — with its own node, which nothing can reach any more (Tensor._release).
 */
export function freeNode(node: Node): void {
  if (node.freed) return;
  node.freed = true;
  const inputs = node.inputs;
  for (let i = 0; i < inputs.length; i++) inputs[i]!._unuse();
}

interface SweepResult {
  leaves: Tensor[];
  leafGrads: Tensor[];
  freed: Node[];
  out: Map<Tensor, Tensor> | null;
}

/**
 * The cotangents of one sweep, by position in its topological order. `held` counts the slots
 * holding each cotangent (one tensor can be several inputs' cotangent: add's VJP returns [g, g]);
 * a cotangent made by this sweep is disposed as soon as no slot holds it, so its memory is reused
 * by the next VJP while still in cache. Methods, not closures: a scalar graph's backward is all
 * overhead.
 */
class Cotangents {
  readonly grads: (Tensor | null)[];
  /** Made on the first cotangent the sweep may dispose: a scalar graph's (on the JS heap, never tracked) need none. */
  private held: Map<Tensor, number> | null = null;
  /** The sweep's scope: only cotangents created inside it are disposed. */
  constructor(n: number, private readonly scope: Scope | null) {
    const grads: (Tensor | null)[] = [];
    for (let k = 0; k < n; k++) grads.push(null);
    this.grads = grads;
  }

  // Only cotangents this sweep may dispose (tracked by its scope) are counted: a tensor on the JS
  // heap (every cotangent of a scalar graph) is never tracked, and skipping it halves the sweep.
  hold(g: Tensor): void {
    if (g._scope !== this.scope || this.scope === null) return;
    const held = (this.held ??= new Map());
    held.set(g, (held.get(g) ?? 0) + 1);
  }

  drop(g: Tensor): void {
    if (g._scope !== this.scope || this.scope === null) return;
    const held = this.held!;
    const n = held.get(g)! - 1;
    if (n > 0) held.set(g, n);
    else {
      held.delete(g);
      g.dispose();
    }
  }

  accumulate(k: number, g: Tensor): void {
    this.hold(g);
    const prev = this.grads[k]!;
    if (prev === null) this.grads[k] = g;
    else {
      const s = add(prev, g);
      this.grads[k] = s;
      this.hold(s);
      this.drop(prev);
      this.drop(g);
    }
  }
}

/** One node's VJP, each input's cotangent summed back to its shape (null where it needs none), checked. */
function nodeVjp(node: Node, g: Tensor, t: Tensor): (Tensor | null)[] {
  const inputs = node.inputs;
  const raw = node.rule.vjp(g, inputs, t, node.attrs);
  if (!anomaly && usable(raw, inputs)) return raw;
  const gis: (Tensor | null)[] = []; // pushed: `new Array(n)` of a variable n is a call, a literal is inline
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const gi = raw[i];
    if (!gi || !input.requiresGrad) {
      gis.push(null);
      continue;
    }
    const r = shapesEqual(gi.shape, input.shape) ? gi : unbroadcast(gi, input.shape);
    if (r.dtype !== input.dtype || (r !== gi && !shapesEqual(r.shape, input.shape))) {
      throw new DeltagradError(
        `${node.op}: VJP for input ${i} has shape ${fmtShape(r.shape)} ${r.dtype}, expected ${fmtShape(input.shape)} ${input.dtype}`,
      );
    }
    if (anomaly) checkFinite(r, `${node.op}: backward gradient for input ${i}`, node);
    gis.push(r);
  }
  return gis;
}

/**
 * Whether a VJP's result is already what the sweep needs — each cotangent null where its input
 * needs no gradient, else of the input's shape and dtype — so nodeVjp can pass it on instead of
 * building a copy (most VJPs' results are: one array less per node of a scalar graph).
 */
function usable(raw: (Tensor | null)[], inputs: Tensor[]): boolean {
  if (raw.length !== inputs.length) return false;
  for (let i = 0; i < inputs.length; i++) {
    const gi = raw[i];
    const input = inputs[i]!;
    if (gi === null) continue;
    if (gi === undefined || !input.requiresGrad || gi.dtype !== input.dtype || !shapesEqual(gi.shape, input.shape)) return false;
  }
  return true;
}

/** The sweep proper, inside the sweep's scope; each VJP's temporaries are released by a scope of their own. */
function sweepNodes(
  order: Tensor[], mark: number, roots: Tensor[], cotangents: Tensor[], targets: Set<Tensor> | null, useful: boolean[] | null, opts: SweepOptions,
): SweepResult {
  const c = new Cotangents(order.length, currentScope());
  const grads = c.grads;
  for (let i = 0; i < roots.length; i++) if (roots[i]!.requiresGrad) c.accumulate(roots[i]!._topo, cotangents[i]!);

  const leaves: Tensor[] = [];
  const leafGrads: Tensor[] = [];
  const freed: Node[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const g = grads[k]!;
    if (g === null) continue;
    const t = order[k]!;
    if (targets === null && (t.isLeaf || t._retainsGrad)) {
      const prev = t.peekGrad();
      const lg = prev ? add(prev, g) : opts.createGraph ? g : g.detach();
      if (lg === g) c.hold(g); // g itself becomes the gradient: never released here
      leaves.push(t);
      leafGrads.push(lg);
    }
    const node = t.node;
    if (node === null || (useful !== null && !useful[k])) continue;
    if (node.freed) {
      throw new DeltagradError(
        `backward: the graph through ${node.op} ${fmtShape(t.shape)} was already freed by an earlier backward(); pass { retainGraph: true } to the first call to backpropagate twice`,
      );
    }
    const s = openScope();
    let gis: (Tensor | null)[];
    try {
      gis = nodeVjp(node, g, t);
    } catch (e) {
      closeScope(s, null);
      throw e;
    }
    closeScope(s, gis);
    if (latestStamp() !== mark) restamp(order, mark);
    const inputs = node.inputs;
    for (let i = 0; i < inputs.length; i++) {
      const r = gis[i];
      // An input given a cotangent requires grad, so topoOrder visited it (unless a VJP turned requiresGrad on).
      if (r && inputs[i]!._mark === mark) c.accumulate(inputs[i]!._topo, r);
    }
    if (!opts.retainGraph) freed.push(node);
    if (targets !== null && targets.has(t)) continue; // a target keeps its gradient for the result
    grads[k] = null;
    c.drop(g);
  }
  let out: Map<Tensor, Tensor> | null = null;
  if (targets) {
    out = new Map();
    for (const t of targets) {
      const g = t._mark === mark ? grads[t._topo] : null;
      if (g) out.set(t, opts.createGraph ? g : g.detach());
    }
  }
  return { leaves, leafGrads, freed, out };
}
