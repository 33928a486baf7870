/**
 * compile()'s recorder: runs a function once for real and records, besides every primitive
 * (engine.ts's trace hook, as trace.ts does for ONNX export), the side effects a training step
 * has — `.grad` changes, in-place `assign` writes (optimizer updates of parameters and state),
 * random draws, and the host numbers an optimizer turns into scalar tensors — so a replay can
 * redo all of them without running the function.
 *
 * Values are classified at first sight:
 * - `input`: an argument of the function;
 * - `live`: a tensor that existed before the trace (a parameter, optimizer state, a captured
 *   tensor) — read by reference at each replay, so it sees the current value;
 * - `grad`: the `.grad` a tensor had when the call began — read as `owner.grad` at each replay;
 * - `const`: a tensor made during the trace by a creation op (`tensor`, `zeros`, a scalar an op
 *   turned a number into) — its values are copied once;
 * - `scalar`: such a scalar made inside a host region ({@link hostRegion}: an optimizer's
 *   update), whose value the region recomputes before each replay (lr, bias corrections);
 * - `random`: drawn from a generator — drawn again at each replay, in the same order;
 * - `op`: the output of a recorded primitive.
 */
import type { TypedArray } from "../dtype.js";
import { setTraceHook } from "../engine.js";
import { DeltagradError, fmtShape } from "../errors.js";
import type { Primitive } from "../primitives.js";
import { randomHooks, type Generator } from "../random.js";
import { compileHooks, Tensor } from "../tensor.js";
import type { Backend } from "../backend.js";
import { compileState } from "./state.js";

export type ValueKind = "input" | "live" | "grad" | "const" | "scalar" | "random" | "op";

export interface Value {
  readonly id: number;
  readonly kind: ValueKind;
  readonly shape: readonly number[];
  readonly dtype: Tensor["dtype"];
  /** input: the argument index; grad: its owner's argument index (−1: not an input); scalar: the host region's index. */
  readonly index: number;
  /** live: the tensor; grad: the tensor whose `.grad` it is. */
  readonly tensor: Tensor | null;
  /** const and scalar: the values seen while tracing. */
  readonly data: TypedArray | null;
  /** random: how to draw it. */
  readonly random: { g: Generator; draw: (g: Generator) => number } | null;
}

export interface RecNode {
  readonly op: Primitive;
  readonly attrs: unknown;
  readonly inputs: readonly number[];
  readonly output: number;
}

/** What a host region recomputes before a replay: its scalars in order, and what to commit after it. */
export interface HostStep {
  scalars: number[];
  commit(): void;
}

/**
 * A host region's recompute: given a maker of placeholder tensors (one-element cpu tensors the
 * capture does not count as scalars), rerun the host logic and return how to commit its host
 * state, or null when the region's structure changed (then compile() traces again).
 */
export type HostRecompute = (placeholder: (like: Tensor) => Tensor) => (() => void) | null;

/** A `.grad` change: on `arg` (an input's index) or the recorded tensor itself (arg −1). */
export interface GradEffect {
  readonly arg: number;
  readonly entryNull: boolean;
  /** The value at the end: null, a value id, or −1 for unchanged. */
  readonly final: number | null;
}

export interface HostRegion {
  readonly recompute: HostRecompute;
  readonly scalars: number[];
  /**
   * What the region's host numbers are a function of (its hyperparameters and host state), or
   * null when that cannot be said now: while it returns the same string, the last capture holds
   * (see host.ts's captureHost).
   */
  readonly key: (() => string | null) | null;
  /** The last capture and its key. */
  last: { key: string; step: HostStep } | null;
}

export interface Recording {
  readonly values: Value[];
  readonly nodes: RecNode[];
  /** Value ids in creation order of random draws (the order a replay must draw in). */
  readonly randoms: number[];
  readonly hosts: HostRegion[];
  /** In-place writes: the tensor and the value it holds at the end (last write wins). */
  readonly writes: Map<Tensor, number>;
  /** `.grad` of tensors: whether it was null at entry, and its value at the end (null, or unchanged = -1). */
  readonly grads: Map<Tensor, GradEffect>;
  /** Input tensors by argument index: a grad or write on one applies to that call's argument. */
  readonly inputs: readonly Tensor[];
}

const NO_BACKEND = { name: "none" } as unknown as Backend;

/**
 * A tensor's `.grad` without claiming it (the getter marks a gradient as the caller's). Read
 * from the field so that it does not depend on the name of Tensor's internal accessor.
 *
 * @example
 * ```ts
 * currentGrad(w) === null; // before any backward
 * ```
 */
export function currentGrad(t: Tensor): Tensor | null {
  return (t as unknown as { _grad: Tensor | null })._grad;
}

/** A scalar tensor created during the trace is a const: the placeholder for that test. */
const isScalarLike = (t: Tensor) => t.shape.length === 0;

export class Recorder {
  readonly values: Value[] = [];
  readonly nodes: RecNode[] = [];
  readonly randoms: number[] = [];
  readonly hosts: HostRegion[] = [];
  readonly writes = new Map<Tensor, number>();
  private readonly ids = new Map<Tensor, number>();
  private readonly byStorage = new Map<object, { shape: string; id: number }[]>();
  /** `.grad` at entry of every tensor whose grad was seen or changed. */
  private readonly entryGrad = new Map<Tensor, Tensor | null>();
  /** Entry grad tensor → its owner. */
  private readonly gradOwner = new Map<Tensor, Tensor>();
  private readonly randomOf = new Map<Tensor, { g: Generator; draw: (g: Generator) => number }>();
  /** The host region being recorded (its scalars are collected), or null. */
  private host: HostRegion | null = null;
  readonly startId: number;

  constructor(readonly name: string, readonly inputs: readonly Tensor[]) {
    // Tensor ids only grow: one made now (on no backend: it holds nothing) marks the trace's start.
    this.startId = new Tensor({}, [0], "float32", NO_BACKEND).id;
    inputs.forEach((t, i) => {
      if (this.ids.has(t)) throw new DeltagradError(`${name}: the same tensor is passed as two inputs; pass it once`);
      this.add(t, "input", i);
      this.noteEntryGrad(t, currentGrad(t));
    });
  }

  private add(t: Tensor, kind: ValueKind, index = -1): number {
    const id = this.values.length;
    let data: TypedArray | null = null;
    if (kind === "const" || kind === "scalar") data = t.backend.readSync(t.handle, t.dtype, t.size).slice();
    this.values.push({
      id, kind, shape: t.shape, dtype: t.dtype, index, // tensor shapes are frozen: shared
      tensor: kind === "live" ? t : kind === "grad" ? this.gradOwner.get(t)! : null,
      data, random: this.randomOf.get(t) ?? null,
    });
    this.ids.set(t, id);
    if (kind !== "const" && kind !== "scalar") {
      const list = this.byStorage.get(t.handle) ?? [];
      list.push({ shape: t.shape.join(), id });
      this.byStorage.set(t.handle, list);
    }
    return id;
  }

  private noteEntryGrad(t: Tensor, entry: Tensor | null): void {
    if (this.entryGrad.has(t)) return;
    this.entryGrad.set(t, entry);
    if (entry !== null && !this.gradOwner.has(entry)) this.gradOwner.set(entry, t);
  }

  /** A recorded value over `t`'s storage with its shape (what detach() makes), or undefined. */
  private sameStorage(t: Tensor): number | undefined {
    const list = this.byStorage.get(t.handle);
    if (list === undefined) return undefined;
    const key = t.shape.join();
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (e.shape === key && this.values[e.id]!.dtype === t.dtype) return e.id;
    }
    return undefined;
  }

  valueOf(t: Tensor): number {
    const id = this.ids.get(t);
    if (id !== undefined) return id;
    const alias = this.sameStorage(t);
    if (alias !== undefined) {
      this.ids.set(t, alias);
      return alias;
    }
    if (this.gradOwner.has(t)) return this.add(t, "grad", this.inputs.indexOf(this.gradOwner.get(t)!));
    if (t.id < this.startId) {
      this.noteEntryGrad(t, currentGrad(t));
      return this.add(t, "live");
    }
    if (this.randomOf.has(t)) {
      const v = this.add(t, "random");
      return v;
    }
    if (this.host !== null && isScalarLike(t)) {
      const v = this.add(t, "scalar", this.hosts.length - 1);
      this.host.scalars.push(v);
      return v;
    }
    return this.add(t, "const");
  }

  record(op: Primitive, inputs: Tensor[], attrs: unknown, out: Tensor): void {
    const ins = inputs.map((t) => this.valueOf(t));
    if (this.ids.has(out)) return; // an op that hands back its input (a no-op reshape)
    if (op === "customVjp") {
      // Its forward ran the user's function (recorded already); the output shares that result's storage.
      const alias = this.sameStorage(out);
      if (alias === undefined) throw new DeltagradError(`${this.name}: a customVjp function whose result lives on another backend cannot be compiled`);
      this.ids.set(out, alias);
      return;
    }
    const output = this.add(out, "op");
    this.nodes.push({ op, attrs, inputs: ins, output });
  }

  onRandom(t: Tensor, g: Generator, draw: (g: Generator) => number): void {
    this.randomOf.set(t, { g, draw });
    this.randoms.push(this.valueOf(t));
  }

  onSetGrad(t: Tensor, old: Tensor | null): void {
    this.noteEntryGrad(t, old);
  }

  onAssign(t: Tensor, value: Tensor): void {
    const v = this.valueOf(value);
    if (t.id < this.startId || this.inputs.includes(t)) {
      this.valueOf(t); // its entry value is a live value or an input (it may have been read before)
      this.writes.set(t, v);
    }
    // Later reads of t see the new value (t's storage becomes value's: byStorage finds it too).
    this.ids.set(t, v);
  }

  onHostRead(t: Tensor, op: string): void {
    const id = this.ids.get(t) ?? this.sameStorage(t);
    const kind = id === undefined ? (t.id < this.startId ? "live" : this.randomOf.has(t) ? "random" : "const") : this.values[id]!.kind;
    if (kind === "const") return;
    const what = kind === "op" ? `the result of ${this.producer(id!)}` : kind === "input" ? "an input" : kind === "random" ? "a random tensor" : "a tensor whose value changes between calls (a parameter, optimizer state or gradient)";
    throw new DeltagradError(
      `${this.name}: ${op}() reads ${what} (shape ${fmtShape(t.shape)}, ${t.dtype}) on the host while compile() traces the function; ` +
        "a replay does not run the function, so the value cannot be known there. Return the tensor from the function and read it after the call " +
        "(e.g. const loss = step(x, y); loss.itemSync()), and branch only on shapes and plain numbers.",
    );
  }

  private producer(id: number): string {
    const n = this.nodes.find((x) => x.output === id);
    return n === undefined ? "an op" : n.op;
  }

  /** Runs `body` as a host region: the scalars it makes are recomputed by `recompute` before each replay (unless `key` says nothing changed). */
  hostRegion<T>(body: () => T, recompute: HostRecompute, key: (() => string | null) | null = null): T {
    if (this.host !== null) return body();
    this.hosts.push({ recompute, scalars: [], key, last: null });
    this.host = this.hosts[this.hosts.length - 1]!;
    try {
      return body();
    } finally {
      this.host = null;
    }
  }

  /** After the function returned: the grads' final values (null, or the value; unchanged ones dropped). */
  finish(): Recording {
    const grads = new Map<Tensor, GradEffect>();
    for (const [t, entry] of this.entryGrad) {
      const now = currentGrad(t);
      const arg = this.inputs.indexOf(t);
      grads.set(t, { arg, entryNull: entry === null, final: now === entry ? -1 : now === null ? null : this.valueOf(now) });
    }
    return { values: this.values, nodes: this.nodes, randoms: this.randoms, hosts: this.hosts, writes: this.writes, grads, inputs: this.inputs };
  }
}

let active: Recorder | null = null;

/** The recorder of the running compile() trace, or null. @example `activeRecorder() === null; // outside compile()` */
export function activeRecorder(): Recorder | null {
  return active;
}

/** Runs `fn` with `rec` installed on every hook; restores them however `fn` ends. @example `const rec = new Recorder("compile(f)", [x]); const y = recordWith(rec, () => f(x));` */
export function recordWith<T>(rec: Recorder, fn: () => T): T {
  if (active !== null) throw new DeltagradError(`${rec.name}: compile() traces do not nest (a compiled function was called while another one traced)`);
  const prevHook = setTraceHook((op, ins, attrs, out) => rec.record(op, ins, attrs, out));
  active = rec;
  compileState.tracing = true;
  compileHooks.setGrad = (t, old) => rec.onSetGrad(t, old);
  compileHooks.assign = (t, v) => rec.onAssign(t, v);
  compileHooks.hostRead = (t, op) => rec.onHostRead(t, op);
  randomHooks.drawn = (t, g, draw) => rec.onRandom(t, g, draw);
  try {
    return fn();
  } finally {
    setTraceHook(prevHook);
    active = null;
    compileState.tracing = false;
    compileHooks.setGrad = null;
    compileHooks.assign = null;
    compileHooks.hostRead = null;
    randomHooks.drawn = null;
  }
}
