/**
 * Shared pieces of the importer's operator table: host integer tensors, attribute access, and
 * the small checks every operator uses.
 */
import { DeltagradError, Tensor, type DType } from "@deltagrad/autograd";
import { AT, type AttributeProto, type NodeProto } from "./proto.js";

/** An integer tensor known on the host (int64 in the file, range-checked when it becomes an int32 tensor). */
export class Ints {
  constructor(readonly shape: readonly number[], readonly data: readonly number[]) {}
}

export type Value = Tensor | Ints;

/** What a step may ask of the running graph. */
export interface RunContext {
  /** The float dtype the model computes in (its parameters' dtype). */
  readonly float: DType;
  /** A value as a tensor (Ints become int32 tensors, float tensors the compute dtype). */
  tensor(v: Value): Tensor;
}

export type Step = (ins: readonly (Value | null)[], ctx: RunContext) => Value[];

/** A node's attributes by name, checked by type on read. */
export class Attrs {
  private readonly byName = new Map<string, AttributeProto>();
  constructor(readonly node: NodeProto) {
    for (const a of node.attributes) this.byName.set(a.name, a);
  }
  private get(name: string, type: number): AttributeProto | undefined {
    const a = this.byName.get(name);
    if (a !== undefined && a.type !== type) throw new DeltagradError(`attribute ${name} has type ${a.type}, expected ${type}`);
    return a;
  }
  int(name: string, dflt: number): number {
    return this.get(name, AT.INT)?.i ?? dflt;
  }
  float(name: string, dflt: number): number {
    return this.get(name, AT.FLOAT)?.f ?? dflt;
  }
  ints(name: string): number[] | undefined {
    return this.get(name, AT.INTS)?.ints;
  }
  string(name: string, dflt: string): string {
    const a = this.get(name, AT.STRING);
    return a === undefined ? dflt : new TextDecoder().decode(a.s);
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
}

export const err = (msg: string): never => {
  throw new DeltagradError(msg);
};

/** Host integers of an input that must be known without running the graph on data. */
export function intsOf(v: Value | null, what: string): number[] {
  if (v instanceof Ints) return v.data.slice();
  if (v instanceof Tensor && (v.dtype === "int32" || v.dtype === "bool")) return Array.from(v.dataSync());
  if (v instanceof Tensor && v.backend.synchronous) {
    const d = Array.from(v.dataSync());
    if (d.every(Number.isInteger)) return d;
  }
  return err(`${what} must be an integer tensor, got ${v === null ? "nothing" : v instanceof Tensor ? v.dtype : "?"}`);
}

export const axis = (a: number, rank: number, what = "axis"): number => {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= rank) err(`${what} ${a} is out of range for rank ${rank}`);
  return r;
};

/** Shapes print as in every error message (autograd's formatter). */
export { fmtShape as shp } from "@deltagrad/autograd";

export function need(ins: readonly (Value | null)[], i: number, ctx: RunContext): Tensor {
  const v = ins[i];
  if (v === null || v === undefined) return err(`input ${i} is missing`);
  return ctx.tensor(v);
}

/** One-input op on a tensor. */
export const unary = (f: (x: Tensor) => Tensor): Step => (ins, ctx) => [f(need(ins, 0, ctx))];

/** Builds a node's step from its attributes (at import) and the model's opset. */
export type Factory = (at: Attrs, opset: number) => Step;

/** The most elements one value of an imported graph may allocate (a file cannot ask for gigabytes through Pad or Expand). */
export const MAX_VALUE_ELEMENTS = 2 ** 26;

/** Throws unless a value of `shape` stays within {@link MAX_VALUE_ELEMENTS}. */
export function bounded(shape: readonly number[], what: string): void {
  const n = shape.reduce((a, d) => a * d, 1);
  if (!(n <= MAX_VALUE_ELEMENTS)) err(`${what} would hold ${n} elements [${shape.join(",")}], more than ${MAX_VALUE_ELEMENTS}`);
}
