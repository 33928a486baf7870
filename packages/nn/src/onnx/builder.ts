/**
 * The ONNX graph under construction during export: nodes, initializers, fresh names, and the
 * symbolic dimensions of `dynamicAxes` (a dimension that scales with a dynamic input axis is
 * computed in the graph from `Shape(input)`, so the file runs for any batch size).
 */
import { DeltagradError, type DType, type TypedArray } from "@deltagrad/autograd";
import { DT } from "./proto.js";
import { Writer, encodeNode, encodeTensor, type AttrValue } from "./proto-encode.js";

/** ONNX element type of a deltagrad dtype. */
export function onnxType(dtype: DType | "int64"): number {
  switch (dtype) {
    case "float32": return DT.FLOAT;
    case "float64": return DT.DOUBLE;
    case "int32": return DT.INT32;
    case "int64": return DT.INT64;
    case "bool": return DT.BOOL;
  }
}

/** Little-endian bytes of values in an ONNX element type. */
function rawBytes(dtype: DType | "int64", data: ArrayLike<number>): Uint8Array {
  const n = data.length;
  if (dtype === "float32") return new Uint8Array(Float32Array.from(data).buffer);
  if (dtype === "float64") return new Uint8Array(Float64Array.from(data).buffer);
  if (dtype === "int32") return new Uint8Array(Int32Array.from(data).buffer);
  if (dtype === "bool") return Uint8Array.from(data, (v) => (v ? 1 : 0));
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) out[i] = BigInt(data[i]!);
  return new Uint8Array(out.buffer);
}

/** A dynamic axis: graph input `input` (an ONNX name), axis `axis`, named `name`, of size `base` in the example. */
export interface SymbolicAxis {
  name: string;
  input: string;
  axis: number;
  base: number;
}

/** One entry of a shape-like list: a number, or a·N + b for dynamic axis N. */
export type Dim = { kind: "static"; value: number } | { kind: "affine"; sym: number; a: number; b: number };

export class GraphBuilder {
  readonly nodes: Writer[] = [];
  readonly initializers: Writer[] = [];
  private readonly used = new Set<string>();
  private readonly dimCache = new Map<number, string>();
  private counter = 0;

  constructor(readonly opset: number, readonly symbols: readonly SymbolicAxis[]) {}

  /** Reserves a name exactly (graph inputs, initializers named after parameters). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new DeltagradError(`exportOnnx: the name "${name}" is used twice`);
    this.used.add(name);
    return name;
  }

  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.used.has(n));
    this.used.add(n);
    return n;
  }

  /** Appends a node and returns its output names (`outs` given, or `nOut` fresh ones). */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outs?: readonly string[]): string[] {
    const outputs = outs ? outs.slice() : [this.fresh(opType.toLowerCase())];
    this.nodes.push(encodeNode({ inputs, outputs, name: `${opType}_${this.nodes.length}`, opType, attrs }));
    return outputs;
  }

  /** One-output node. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, attrs)[0]!;
  }

  /** An initializer: parameters and named state (running statistics), what an importer makes parameters of. */
  initializer(name: string | null, dtype: DType | "int64", dims: readonly number[], data: ArrayLike<number> | TypedArray): string {
    const n = name === null ? this.fresh("param") : this.reserve(name);
    this.initializers.push(encodeTensor({ name: n, dims, dataType: onnxType(dtype), raw: rawBytes(dtype, data) }));
    return n;
  }

  /** Any other fixed tensor (shapes, axes, scalars, captured constants): a Constant node, so it is never mistaken for a weight. */
  constant(dtype: DType | "int64", dims: readonly number[], data: ArrayLike<number> | TypedArray): string {
    const name = this.fresh("const");
    return this.node("Constant", [], { value: { tensor: encodeTensor({ name, dims, dataType: onnxType(dtype), raw: rawBytes(dtype, data) }) } }, [name])[0]!;
  }

  /** A 1-D int64 constant (axes, pads, static shapes). */
  int64(values: readonly number[]): string {
    return this.constant("int64", [values.length], values);
  }

  /** A rank-0 constant of `dtype`. */
  scalar(value: number, dtype: DType): string {
    return this.constant(dtype, [], [value]);
  }

  /** `[N]` (int64, 1-D) for dynamic axis `sym`, read from its input's shape at run time. */
  private dim(sym: number): string {
    let name = this.dimCache.get(sym);
    if (name === undefined) {
      const s = this.symbols[sym]!;
      name = this.op("Gather", [this.op("Shape", [s.input]), this.int64([s.axis])], { axis: 0 });
      this.dimCache.set(sym, name);
    }
    return name;
  }

  /** A 1-D int64 tensor holding `dims`: a constant when all are static, else computed from the inputs' shapes. */
  shapeVector(dims: readonly Dim[]): string {
    if (dims.every((d) => d.kind === "static")) return this.int64(dims.map((d) => (d as { value: number }).value));
    const pieces: string[] = [];
    let run: number[] = [];
    for (const d of dims) {
      if (d.kind === "static") {
        run.push(d.value);
        continue;
      }
      if (run.length) pieces.push(this.int64(run));
      run = [];
      let t = this.dim(d.sym);
      if (d.a !== 1) t = this.op("Mul", [t, this.int64([d.a])]);
      if (d.b !== 0) t = this.op("Add", [t, this.int64([d.b])]);
      pieces.push(t);
    }
    if (run.length) pieces.push(this.int64(run));
    return pieces.length === 1 ? pieces[0]! : this.op("Concat", pieces, { axis: 0 });
  }

  /** How a dim prints in a ValueInfo: a number, the axis name, or an expression such as `2*batch+1`. */
  dimLabel(d: Dim): number | string {
    if (d.kind === "static") return d.value;
    const name = this.symbols[d.sym]!.name;
    const scaled = d.a === 1 ? name : `${d.a}*${name}`;
    return d.b === 0 ? scaled : `${scaled}${d.b > 0 ? "+" : ""}${d.b}`;
  }
}

/**
 * The entries of a shape-like list seen in the example trace (`vals[0]`) and in one extra trace
 * per dynamic axis k, where only axis k grew by one (`vals[k + 1]`): each entry is static or
 * affine in exactly one axis. `what` names the op for the error.
 */
export function dimsOf(what: string, vals: readonly (readonly number[])[], symbols: readonly SymbolicAxis[]): Dim[] {
  const base = vals[0]!;
  for (const v of vals) {
    if (v.length !== base.length) throw new DeltagradError(`exportOnnx: ${what} changes rank with the dynamic axes, so it cannot be exported with dynamicAxes`);
  }
  return base.map((b0, i) => {
    let dim: Dim = { kind: "static", value: b0 };
    for (let k = 0; k < symbols.length; k++) {
      const d = vals[k + 1]![i]! - b0;
      if (d === 0) continue;
      if (dim.kind !== "static") {
        throw new DeltagradError(`exportOnnx: ${what}: entry ${i} depends on two dynamic axes (${symbols[dim.sym]!.name} and ${symbols[k]!.name}); export with one of them fixed`);
      }
      dim = { kind: "affine", sym: k, a: d, b: b0 - d * symbols[k]!.base };
    }
    return dim;
  });
}
