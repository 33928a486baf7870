/**
 * The forward-recording tracer: runs a function once and records every primitive it executes
 * (op name, attributes, input and output values with their shapes and dtypes) into a static
 * graph, which ONNX export reads. `compile()` listens on the same engine hook with a recorder of
 * its own (compile/record.ts: it also captures backward, host regions and in-place updates); one
 * recorder for both is still to do. Recording costs nothing when no trace is active: engine.ts's
 * `apply` checks one module variable.
 *
 * Values are numbered in order of first sight. A tensor the function did not compute is a
 * graph input (one of `inputs`), a parameter (listed in `params`, or a float leaf that requires
 * grad), or a constant (anything else: a captured tensor, a scalar an op turned into a tensor);
 * constants' values are copied when first seen (synchronous backends), since the library may
 * free them before the trace ends. A tensor over the storage of a recorded value with its shape
 * (what `detach()` makes) is that value: in the forward pass detach is the identity.
 *
 * Regions ({@link traceRegion}) mark a composite — a layer, a named function — around the
 * primitives it ran, so a consumer can replace the whole span with one fused kernel or one ONNX
 * operator and fall back to the primitives otherwise.
 */
import type { DType, TypedArray } from "../dtype.js";
import { setTraceHook } from "../engine.js";
import { DeltagradError } from "../errors.js";
import type { Primitive } from "../primitives.js";
import { Tensor } from "../tensor.js";
import { compileState } from "./state.js";

/** How a value entered the graph. */
export type TraceValueKind = "input" | "param" | "const" | "op";

/** One value of a traced graph. */
export interface TraceValue {
  readonly id: number;
  readonly kind: TraceValueKind;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** The tensor itself for inputs, parameters and constants (null for op results). */
  readonly tensor: Tensor | null;
  /** A constant's values, copied when first seen (null for other kinds or an asynchronous backend). */
  readonly data: TypedArray | null;
}

/** One recorded primitive: `output = op(inputs…; attrs)`. */
export interface TraceNode {
  readonly op: Primitive;
  readonly attrs: unknown;
  readonly inputs: readonly number[];
  readonly output: number;
}

/** A composite marked with {@link traceRegion}: nodes `[start, end)` computed `output` from `inputs`. */
export interface TraceRegion {
  readonly name: string;
  readonly info: unknown;
  readonly inputs: readonly number[];
  readonly output: number;
  readonly start: number;
  readonly end: number;
  /** Nesting depth: 0 for a region not inside another. */
  readonly depth: number;
}

/** The static graph one call produced. */
export interface TraceGraph {
  readonly values: readonly TraceValue[];
  readonly nodes: readonly TraceNode[];
  /** In order of entry (an outer region before the regions inside it). */
  readonly regions: readonly TraceRegion[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/** Options of {@link trace}. */
export interface TraceOptions {
  /** Tensors to classify as parameters (besides float leaves that require grad). */
  params?: Iterable<Tensor>;
}

interface MutableRegion {
  name: string;
  info: unknown;
  inputs: number[];
  output: number;
  start: number;
  end: number;
  depth: number;
}

class Recorder {
  readonly values: TraceValue[] = [];
  readonly nodes: TraceNode[] = [];
  readonly regions: MutableRegion[] = [];
  readonly ids = new Map<Tensor, number>();
  /** Recorded values by storage: `detach()` makes a new tensor over the same storage, the same value. */
  readonly byStorage = new Map<object, { shape: string; id: number }[]>();
  depth = 0;
  constructor(readonly params: Set<Tensor>) {}

  add(t: Tensor, kind: TraceValueKind): number {
    const id = this.values.length;
    let data: TypedArray | null = null;
    if (kind === "const" && t.backend.synchronous) data = t.dataSync();
    this.values.push({ id, kind, shape: t.shape.slice(), dtype: t.dtype, tensor: kind === "op" ? null : t, data });
    this.ids.set(t, id);
    if (kind !== "const") {
      const list = this.byStorage.get(t.handle) ?? [];
      list.push({ shape: t.shape.join(), id });
      this.byStorage.set(t.handle, list);
    }
    return id;
  }

  valueOf(t: Tensor): number {
    const id = this.ids.get(t);
    if (id !== undefined) return id;
    // A detached copy of a traced value is that value (in the forward pass detach is the identity),
    // not a constant frozen at the example's numbers.
    const list = this.byStorage.get(t.handle) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (e.shape === t.shape.join() && this.values[e.id]!.dtype === t.dtype) {
        this.ids.set(t, e.id);
        return e.id;
      }
    }
    const isParam = this.params.has(t) || (t.isLeaf && t.requiresGrad);
    return this.add(t, isParam ? "param" : "const");
  }

  record(op: Primitive, inputs: Tensor[], attrs: unknown, out: Tensor): void {
    const ins = inputs.map((t) => this.valueOf(t));
    // An op may hand back one of its inputs (a no-op reshape): that value keeps its id.
    if (this.ids.has(out)) return;
    const output = this.add(out, "op");
    this.nodes.push({ op, attrs: structuredCloneAttrs(attrs), inputs: ins, output });
  }
}

/** Attributes are plain data except customVjp's closures; copy arrays so later mutation cannot change the record. */
function structuredCloneAttrs(a: unknown): unknown {
  if (a === null || typeof a !== "object") return a;
  if (Array.isArray(a)) return a.map(structuredCloneAttrs);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(a)) out[k] = structuredCloneAttrs((a as Record<string, unknown>)[k]);
  return out;
}

let active: Recorder | null = null;

/** Whether a {@link trace} (or a compile() trace) is recording right now. @example `isTracing() // false` */
export function isTracing(): boolean {
  return active !== null || compileState.tracing;
}

/**
 * Runs `fn(...inputs)` once and returns the graph of primitives it ran. `fn` returns a tensor or
 * an array of tensors (the graph's outputs). Traces do not nest.
 *
 * @example
 * ```ts
 * const g = trace((x) => x.mul(2).exp(), [tensor([1, 2])]);
 * g.nodes.map((n) => n.op); // ["mul", "exp"]
 * g.values[g.nodes[0].inputs[1]].kind; // "const" (the scalar 2)
 * ```
 */
export function trace(fn: (...xs: Tensor[]) => Tensor | readonly Tensor[], inputs: readonly Tensor[], options: TraceOptions = {}): TraceGraph {
  if (typeof fn !== "function") throw new DeltagradError(`trace: expected a function, got ${typeof fn}`);
  if (!Array.isArray(inputs) || !inputs.every((t) => t instanceof Tensor)) throw new DeltagradError("trace: inputs must be an array of Tensors");
  if (active !== null) throw new DeltagradError("trace: a trace is already recording (traces do not nest)");
  const rec = new Recorder(new Set(options.params ?? []));
  const inputIds = inputs.map((t) => {
    if (rec.ids.has(t)) throw new DeltagradError("trace: the same tensor is passed as two inputs");
    return rec.add(t, "input");
  });
  active = rec;
  const prev = setTraceHook((op, ins, attrs, out) => rec.record(op, ins, attrs, out));
  let result: Tensor | readonly Tensor[];
  try {
    result = fn(...inputs);
  } finally {
    setTraceHook(prev);
    active = null;
  }
  const outs = result instanceof Tensor ? [result] : result;
  if (!Array.isArray(outs) || !outs.every((t) => t instanceof Tensor)) throw new DeltagradError("trace: the function must return a Tensor or an array of Tensors");
  return { values: rec.values, nodes: rec.nodes, regions: rec.regions, inputs: inputIds, outputs: outs.map((t) => rec.valueOf(t)) };
}

/**
 * Marks `fn` as one composite named `name` in the active trace (and just runs it otherwise).
 * `info` travels with the region (a module, attributes); `inputs` are the composite's operands.
 *
 * @example
 * ```ts
 * const y = traceRegion("Tanh", null, [x], () => x.tanh());
 * ```
 */
export function traceRegion<T extends Tensor>(name: string, info: unknown, inputs: readonly Tensor[], fn: () => T): T {
  if (typeof name !== "string") throw new DeltagradError(`traceRegion: name must be a string, got ${typeof name}`);
  if (typeof fn !== "function") throw new DeltagradError(`traceRegion: expected a function, got ${typeof fn}`);
  if (!Array.isArray(inputs) || !inputs.every((t) => t instanceof Tensor)) throw new DeltagradError(`traceRegion: inputs of ${name} must be an array of Tensors`);
  const rec = active;
  if (rec === null) return fn();
  const r: MutableRegion = { name, info, inputs: inputs.map((t) => rec.valueOf(t)), output: -1, start: rec.nodes.length, end: -1, depth: rec.depth };
  rec.regions.push(r);
  rec.depth++;
  let out: T;
  try {
    out = fn();
  } finally {
    rec.depth--;
  }
  if (!(out instanceof Tensor)) throw new DeltagradError(`trace: region ${name} returned ${typeof out}, not a Tensor`);
  r.output = rec.valueOf(out);
  r.end = rec.nodes.length;
  return out;
}
