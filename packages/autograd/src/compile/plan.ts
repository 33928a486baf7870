/**
 * A recording turned into a flat schedule and replayed. Planning (once per trace):
 * - dead-code elimination: only nodes some result, write or gradient needs are kept;
 * - liveness: each intermediate is released right after its last use, so a step's peak memory
 *   is the plan's, not the whole trace's, and the allocator's free lists hand the same blocks
 *   back to the same nodes at every replay;
 * - per node, one preallocated operand record per input (the fields a primitive's forward reads),
 *   so a replay creates no JavaScript object per op besides the kernel's result.
 * Replaying runs the primitives' forward kernels in order over an array of storage handles.
 * Nothing user-visible changes until every kernel has run: then results are wrapped, in-place
 * writes applied and `.grad`s set — a replay that throws leaves parameters and state untouched.
 */
import type { Backend, BackendData } from "../backend.js";
import type { DType } from "../dtype.js";
import { RULES, type Rule } from "../primitives.js";
import { sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import type { Recording, Value } from "./record.js";
import { hostOperands, scalarProgram, type ScalarProgram } from "./scalar.js";

/** The fields a primitive's forward reads from its input tensors. */
interface Operand {
  handle: BackendData;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  readonly rank: number;
}

export interface Plan {
  readonly backend: Backend;
  readonly values: readonly Value[];
  /** Kept nodes, in order: rule, attrs, operand records, input ids, output id. */
  readonly rules: Rule<unknown>[];
  readonly opNames: string[];
  readonly attrs: unknown[];
  readonly operands: Operand[][];
  readonly inputIds: number[][];
  readonly outIds: number[];
  /** Values released after node i. */
  readonly freeAfter: number[][];
  /** Persistent tensors holding const and scalar values (index = value id). */
  readonly consts: (Tensor | null)[];
  readonly constIds: number[];
  /** Value ids the replay reads from outside: inputs, live tensors, entry grads. */
  readonly bound: number[];
  readonly randoms: number[];
  /** Values that survive the schedule (results, writes, grads): released after wrapping. */
  readonly kept: number[];
  readonly slots: BackendData[];
  readonly tokens: unknown[];
  /** Nodes recorded and nodes kept after dead-code elimination. */
  readonly recorded: number;
  /** A scalar graph's generated program (scalar.ts), and the values it reads; null otherwise. */
  readonly scalar: ScalarProgram | null;
  readonly scalarReads: number[];
}

/** Builds the schedule of `rec` whose results are `outputs` (value ids). */
export function plan(rec: Recording, outputs: readonly number[], backend: Backend): Plan {
  const values = rec.values;
  const needed = new Uint8Array(values.length);
  for (const o of outputs) needed[o] = 1;
  for (const v of rec.writes.values()) needed[v] = 1;
  for (const g of rec.grads.values()) if (g.final !== null && g.final >= 0) needed[g.final] = 1;
  const kept = [...new Set([...needed.keys()].filter((i) => needed[i] === 1))];
  const keep: boolean[] = new Array(rec.nodes.length).fill(false);
  for (let i = rec.nodes.length - 1; i >= 0; i--) {
    const n = rec.nodes[i]!;
    if (needed[n.output] !== 1) continue;
    keep[i] = true;
    for (const x of n.inputs) needed[x] = 1;
  }
  const nodes = rec.nodes.filter((_, i) => keep[i]);
  // Liveness: the last node reading each value; kept values are never released by the schedule.
  const last = new Int32Array(values.length).fill(-1);
  nodes.forEach((n, i) => n.inputs.forEach((x) => (last[x] = i)));
  const isKept = new Uint8Array(values.length);
  for (const k of kept) isKept[k] = 1;
  const owned = (id: number) => values[id]!.kind === "op" || values[id]!.kind === "random";
  const freeAfter: number[][] = nodes.map(() => []);
  for (let id = 0; id < values.length; id++) {
    if (!owned(id) || isKept[id] === 1 || needed[id] !== 1) continue;
    // A value no kept node reads (a random draw that only feeds dead code) is freed at once.
    const at = last[id]! >= 0 ? last[id]! : 0;
    if (nodes.length > 0) freeAfter[at]!.push(id);
  }
  const consts = values.map((v) =>
    v.kind === "const" || v.kind === "scalar" ? new Tensor(backend.upload(v.data!.slice(), v.dtype), v.shape, v.dtype, backend) : null,
  );
  const operand = (v: Value): Operand => ({ handle: null as unknown as BackendData, shape: Object.freeze(v.shape.slice()), dtype: v.dtype, size: sizeOf(v.shape), rank: v.shape.length });
  return {
    backend,
    values,
    rules: nodes.map((n) => RULES[n.op] as Rule<unknown>),
    opNames: nodes.map((n) => (n.op === "compare" ? (n.attrs as { op: string }).op : n.op)),
    attrs: nodes.map((n) => n.attrs),
    operands: nodes.map((n) => n.inputs.map((x) => operand(values[x]!))),
    inputIds: nodes.map((n) => n.inputs.slice()),
    outIds: nodes.map((n) => n.output),
    freeAfter,
    consts,
    constIds: values.filter((v) => v.kind === "const" || v.kind === "scalar").map((v) => v.id),
    bound: values.filter((v) => v.kind === "input" || v.kind === "live" || v.kind === "grad").map((v) => v.id),
    randoms: rec.randoms.filter((id) => needed[id] === 1),
    kept: kept.filter(owned),
    slots: new Array(values.length).fill(null),
    tokens: new Array(values.length).fill(null),
    recorded: rec.nodes.length,
    scalar: scalarProgram(nodes, values, kept),
    scalarReads: [...new Set(nodes.flatMap((n) => n.inputs))].filter((id) => !nodes.some((n) => n.output === id)),
  };
}

/** The storage a bound value reads at this call. */
function bind(v: Value, args: readonly Tensor[]): BackendData {
  if (v.kind === "input") return args[v.index]!.handle;
  if (v.kind === "live") return v.tensor!.handle;
  return (v.index >= 0 ? args[v.index]! : v.tensor!)._peekGrad()!.handle; // grad: the guard checked it is set
}

/**
 * Runs the schedule. Returns with every kept value's storage in `p.slots` (held by the plan:
 * call {@link releaseKept} once the results are wrapped).
 */
export function run(p: Plan, args: readonly Tensor[], scalars: readonly (readonly number[])[] | null): void {
  const b = p.backend;
  const managed = b.retain !== undefined;
  const slots = p.slots;
  const tokens = p.tokens;
  const values = p.values;
  for (let i = 0; i < p.bound.length; i++) slots[p.bound[i]!] = bind(values[p.bound[i]!]!, args);
  for (let i = 0; i < p.constIds.length; i++) slots[p.constIds[i]!] = p.consts[p.constIds[i]!]!.handle;
  if (p.scalar !== null && hostOperands(slots, p.scalarReads)) {
    p.scalar(slots);
    for (const id of p.kept) tokens[id] = false;
    return;
  }
  let done = 0;
  const owned: number[] = [];
  try {
    for (const id of p.randoms) {
      const v = values[id]!;
      const r = v.random!;
      const n = sizeOf(v.shape);
      const a = v.dtype === "float64" ? new Float64Array(n) : v.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = r.draw(r.g);
      slots[id] = b.upload(a, v.dtype);
      tokens[id] = managed ? b.retain!(slots[id]!) : false;
      owned.push(id);
    }
    const n = p.rules.length;
    for (let i = 0; i < n; i++) {
      const ops = p.operands[i]!;
      const ins = p.inputIds[i]!;
      for (let k = 0; k < ops.length; k++) ops[k]!.handle = slots[ins[k]!]!;
      const f = p.rules[i]!.forward(b, ops as unknown as Tensor[], p.attrs[i]);
      const out = p.outIds[i]!;
      slots[out] = f.data;
      // retain says whether the backend manages this storage (a small wasm result lives on the JS heap: false).
      tokens[out] = managed ? b.retain!(f.data) : false;
      done = i + 1;
      const free = p.freeAfter[i]!;
      for (let k = 0; k < free.length; k++) {
        const id = free[k]!;
        if (tokens[id]) b.release!(slots[id]!, tokens[id]);
        slots[id] = null as unknown as BackendData;
      }
    }
  } catch (e) {
    // Release whatever this replay made and still holds; nothing user-visible changed.
    if (managed) {
      const live = new Set<number>(owned);
      for (let i = 0; i < done; i++) live.add(p.outIds[i]!);
      for (let i = 0; i < done; i++) for (const id of p.freeAfter[i]!) live.delete(id);
      for (const id of live) if (slots[id] && tokens[id]) b.release!(slots[id]!, tokens[id]);
    }
    throw e;
  }
  void scalars;
}

/** Drops the plan's own references to the kept values (after the results took theirs). */
export function releaseKept(p: Plan): void {
  const b = p.backend;
  for (const id of p.kept) {
    if (p.slots[id] && p.tokens[id]) b.release!(p.slots[id]!, p.tokens[id]);
    p.tokens[id] = false;
    p.slots[id] = null as unknown as BackendData;
  }
}

/** A tensor over the storage of value `id` (it takes its own reference). */
export function wrap(p: Plan, id: number): Tensor {
  const v = p.values[id]!;
  return new Tensor(p.slots[id]!, v.shape, v.dtype, p.backend);
}

/** Frees the plan's constants. */
export function disposePlan(p: Plan): void {
  for (const c of p.consts) c?.dispose();
}
