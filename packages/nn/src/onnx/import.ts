/**
 * ONNX import: decode a `ModelProto` (untrusted bytes), check the whole graph — opset, every
 * op and attribute, every name defined before use, initializer sizes — and only then build an
 * {@link OnnxModel}, a Module whose parameters are the float initializers (trainable, by their
 * ONNX names) and whose forward runs the graph with deltagrad ops. A dry run on zeros of the
 * declared input shape (symbolic dims as 1) catches shape mismatches at import, naming the node.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, escapeScope, isTracing, noGrad, scoped, traceRegion, type DType, fmtShape } from "@deltagrad/autograd";
import { Module } from "../module.js";
import { Attrs, IMPORT_OPS, Ints, type RunContext, type Step, type Value } from "./import-ops.js";
import { AT, DT, decodeModel, type NodeProto, type TensorProto, type ValueInfo } from "./proto.js";

/** Options of {@link importOnnx}. */
export interface ImportOnnxOptions {
  /** Run the graph once on zeros of the declared input shapes at import (symbolic dims = 1). Default true. */
  validate?: boolean;
}

interface Compiled {
  node: NodeProto;
  name: string;
  opType: string;
  inputs: string[];
  output: string;
  step: Step;
}

const MAX_ELEMENTS = 2 ** 31 - 1;

/** Operators on tensors only that re-export as themselves (their attributes copied) rather than as the primitives they ran. */
export const PASSTHROUGH: ReadonlySet<string> = new Set([
  "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh",
  "Softplus", "Softmax", "LogSoftmax", "LayerNormalization", "BatchNormalization", "Flatten", "Erf",
]);
const VALIDATE_MAX_ELEMENTS = 2 ** 24;

const fail = (msg: string): never => {
  throw new DeltagradError(`importOnnx: ${msg}`);
};

const nodeLabel = (n: NodeProto, i: number) => `node ${JSON.stringify(n.name || `#${i}`)} (${n.opType || "?"})`;

/** An initializer or Constant tensor as a deltagrad value: floats a tensor, integers host Ints, booleans a bool tensor. */
function decodeTensor(t: TensorProto, what: string): Value {
  if (t.dataLocation === 1) fail(`${what}: external data (weights in a separate file) is not supported`);
  if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`${what}: invalid dims [${t.dims.join(",")}]`);
  const n = t.dims.reduce((a, d) => a * d, 1);
  if (n > MAX_ELEMENTS) fail(`${what}: ${n} elements is too many`);
  const raw = t.raw;
  const check = (len: number) => {
    if (len !== n) fail(`${what}: holds ${len} values but dims [${t.dims.join(",")}] need ${n}`);
  };
  const bytes = (size: number) => {
    check(raw!.length / size);
    return raw!.slice().buffer; // aligned copy
  };
  switch (t.dataType) {
    case DT.FLOAT: {
      const data = raw ? new Float32Array(bytes(4)) : Float32Array.from(t.floatData);
      if (!raw) check(data.length);
      return ag.tensor(data, { dtype: "float32" }).reshape(t.dims);
    }
    case DT.DOUBLE: {
      const data = raw ? new Float64Array(bytes(8)) : Float64Array.from(t.doubleData);
      if (!raw) check(data.length);
      return ag.tensor(data, { dtype: "float64" }).reshape(t.dims);
    }
    case DT.INT64: {
      let data: number[];
      if (raw) {
        const big = new BigInt64Array(bytes(8));
        data = Array.from(big, (v) => (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? fail(`${what}: int64 value ${v} out of range`) : Number(v)));
      } else data = t.int64Data.slice();
      check(data.length);
      return new Ints(t.dims, data);
    }
    case DT.INT32: case DT.INT8: case DT.UINT8: {
      const data = raw ? Array.from(t.dataType === DT.INT32 ? new Int32Array(bytes(4)) : t.dataType === DT.INT8 ? new Int8Array(bytes(1)) : new Uint8Array(bytes(1))) : t.int32Data.slice();
      check(data.length);
      return new Ints(t.dims, data);
    }
    case DT.BOOL: {
      const data = raw ? new Uint8Array(bytes(1)) : Uint8Array.from(t.int32Data, (v) => (v ? 1 : 0));
      check(data.length);
      return ag.tensor(data, { dtype: "bool" }).reshape(t.dims);
    }
    default:
      return fail(`${what}: data type ${t.dataType} is not supported (float, double, int8/uint8/int32/int64, bool)`);
  }
}

/** A Constant node's value (value, value_float(s), value_int(s)). */
function constantValue(n: NodeProto, where: string): Value {
  const a = n.attributes[0];
  if (n.attributes.length !== 1 || a === undefined) return fail(`${where}: a Constant needs exactly one value attribute`);
  if (a.name === "value" && a.type === AT.TENSOR && a.t) return decodeTensor(a.t, where);
  if (a.name === "value_float" && a.type === AT.FLOAT) return ag.tensor(a.f, { dtype: "float32" });
  if (a.name === "value_floats" && a.type === 6) return ag.tensor(Float32Array.from(a.floats), { dtype: "float32" });
  if (a.name === "value_int" && a.type === AT.INT) return new Ints([], [a.i]);
  if (a.name === "value_ints" && a.type === AT.INTS) return new Ints([a.ints.length], a.ints.slice());
  return fail(`${where}: Constant attribute ${JSON.stringify(a.name)} is not supported`);
}

/** Holds a group of parameters under one dotted-name segment (the module tree mirrors ONNX names). */
class OnnxScope extends Module {
  forward(): Tensor {
    throw new DeltagradError("OnnxScope: holds parameters only");
  }
}

function dtypeOf(elemType: number, float: DType): DType {
  if (elemType === DT.FLOAT || elemType === DT.DOUBLE || elemType === 0) return float;
  if (elemType === DT.INT64 || elemType === DT.INT32) return "int32";
  if (elemType === DT.BOOL) return "bool";
  return fail(`graph input type ${elemType} is not supported`);
}

/**
 * A model imported by {@link importOnnx}: parameters are the float initializers by their ONNX
 * names (dotted names become nested modules, so `namedParameters()` gives `0.weight` back), and
 * forward runs the graph with deltagrad ops, differentiably. Float inputs and constants are cast
 * to the parameters' dtype, so `model.to("float64")` runs the graph in float64.
 *
 * @example
 * ```ts
 * const model = importOnnx(bytes);
 * model.namedParameters().map(([n]) => n); // ["0.weight", "0.bias", "2.weight", "2.bias"]
 * model.call(x).shape;                      // [3, 10]
 * ```
 */
export class OnnxModel extends Module {
  readonly #steps: Compiled[];
  readonly #inputs: ValueInfo[];
  readonly #outputs: string[];
  readonly #constants: Map<string, Value>;
  readonly #ints = new WeakMap<Ints, Tensor>();
  readonly #constantInts = new WeakSet<Ints>();

  /** @internal Use {@link importOnnx}. */
  constructor(steps: Compiled[], inputs: ValueInfo[], outputs: string[], constants: Map<string, Value>, params: [string, Tensor, boolean][]) {
    super();
    this.#steps = steps;
    this.#inputs = inputs;
    this.#outputs = outputs;
    this.#constants = constants;
    for (const v of constants.values()) if (v instanceof Ints) this.#constantInts.add(v);
    const scopes = new Map<string, Module>([["", this]]);
    for (const [name, t, buffer] of params) {
      const parts = name.split(".");
      let owner: Module = this;
      let path = "";
      try {
        for (const part of parts.slice(0, -1)) {
          path = path ? `${path}.${part}` : part;
          let s = scopes.get(path);
          if (s === undefined) {
            s = owner.registerModule(part, new OnnxScope());
            scopes.set(path, s);
          }
          owner = s;
        }
        if (buffer) owner.registerBuffer(parts[parts.length - 1]!, t);
        else owner.registerParameter(parts[parts.length - 1]!, t);
      } catch (e) {
        if (e instanceof DeltagradError) fail(`initializer ${JSON.stringify(name)} cannot be a parameter name (${e.message})`);
        throw e;
      }
    }
  }

  /** Names of the graph inputs, in order. @example `model.inputNames // ["x"]` */
  get inputNames(): string[] {
    return this.#inputs.map((v) => v.name);
  }

  /** Names of the graph outputs, in order. @example `model.outputNames // ["y"]` */
  get outputNames(): string[] {
    return this.#outputs.slice();
  }

  /** Runs the graph on its single input and returns its first output. @example `model.call(x)` */
  forward(x: Tensor): Tensor {
    if (this.#inputs.length !== 1) throw new DeltagradError(`OnnxModel: the graph has ${this.#inputs.length} inputs (${this.inputNames.join(", ")}); use run()`);
    return this.run([x])[this.#outputs[0]!]!;
  }

  /**
   * Runs the graph on inputs given in order or by name; returns every output by name
   * (a null-prototype record).
   *
   * @example
   * ```ts
   * const { y } = model.run({ x });
   * ```
   */
  run(inputs: readonly Tensor[] | Record<string, Tensor>): Record<string, Tensor> {
    const given = Array.isArray(inputs) ? inputs : this.#inputs.map((v) => (Object.prototype.hasOwnProperty.call(inputs, v.name) ? (inputs as Record<string, Tensor>)[v.name] : undefined));
    if (given.length !== this.#inputs.length) throw new DeltagradError(`OnnxModel: expected ${this.#inputs.length} inputs (${this.inputNames.join(", ")}), got ${given.length}`);
    const env = new Map<string, Value>(this.#constants);
    for (const [n, t] of this.namedParameters()) env.set(n, t);
    for (const [n, t] of this.namedBuffers()) env.set(n, t);
    const float = this.parameters().find((p) => ag.isFloat(p.dtype))?.dtype ?? "float32";
    this.#inputs.forEach((v, i) => {
      const t = given[i];
      if (!(t instanceof Tensor)) throw new DeltagradError(`OnnxModel: input ${JSON.stringify(v.name)} must be a Tensor, got ${t === null ? "null" : typeof t}`);
      const want = dtypeOf(v.elemType, float);
      if ((want === "int32") !== (t.dtype === "int32")) throw new DeltagradError(`OnnxModel: input ${JSON.stringify(v.name)} must be ${want}, got ${t.dtype}`);
      if (v.dims && (v.dims.length !== t.rank || v.dims.some((d, k) => typeof d === "number" && d !== t.shape[k]))) {
        throw new DeltagradError(`OnnxModel: input ${JSON.stringify(v.name)} has shape ${fmtShape(t.shape)}, the graph declares [${v.dims.map((d) => d ?? "?").join(",")}]`);
      }
      env.set(v.name, t);
    });
    // Every intermediate is released when the graph is done with it (wasm), as a library module's forward.
    return scoped(() => this.#runSteps(env, float));
  }

  #runSteps(env: Map<string, Value>, float: DType): Record<string, Tensor> {
    const ctx: RunContext = { float, tensor: (v) => this.#tensor(v, float) };
    const tracing = isTracing();
    for (const s of this.#steps) {
      const ins = s.inputs.map((n) => (n === "" ? null : env.get(n)!));
      let out: Value[];
      try {
        // Under a trace (re-export), a node on tensors is one region, so it goes out as the same ONNX node.
        out = tracing && PASSTHROUGH.has(s.opType) && ins.every((v) => v === null || v instanceof Tensor)
          ? [traceRegion(`onnx:${s.opType}`, { onnxNode: s.node, present: ins.map((v) => v !== null) }, ins.filter((v): v is Tensor => v !== null), () => s.step(ins, ctx)[0] as Tensor)]
          : s.step(ins, ctx);
      } catch (e) {
        if (e instanceof DeltagradError) throw new DeltagradError(`OnnxModel: node ${JSON.stringify(s.name)} (${s.opType}): ${e.message}`);
        throw e;
      }
      env.set(s.output, out[0]!);
    }
    const result: Record<string, Tensor> = Object.create(null);
    for (const n of this.#outputs) result[n] = this.#tensor(env.get(n)!, float);
    return result;
  }

  #tensor(v: Value, float: DType): Tensor {
    if (v instanceof Tensor) return ag.isFloat(v.dtype) && v.dtype !== float ? ag.cast(v, float) : v;
    let t = this.#ints.get(v);
    if (t === undefined) {
      if (v.data.some((d) => d > 2147483647 || d < -2147483648)) throw new DeltagradError(`int64 value out of int32 range in [${v.data.slice(0, 4).join(",")}…]`);
      t = ag.tensor(Int32Array.from(v.data), { dtype: "int32" }).reshape(v.shape);
      // A constant of the file is made once and kept; one computed during this run is the run's.
      if (this.#constantInts.has(v)) this.#ints.set(v, escapeScope(t));
    }
    return t;
  }

  override extraRepr(): string {
    return `inputs=${this.inputNames.join(",")}, outputs=${this.#outputs.join(",")}, nodes=${this.#steps.length}`;
  }
}

/**
 * Reads an ONNX model (opset 13–17) into an {@link OnnxModel}: parameters are the float
 * initializers (trainable, by their ONNX names; BatchNormalization's running mean and variance
 * are buffers), forward runs the graph with deltagrad ops, so the model can be evaluated,
 * fine-tuned and differentiated. The bytes are untrusted: malformed or truncated protobuf,
 * unsupported ops or attributes, missing initializers and shape mismatches are
 * {@link DeltagradError}s naming the node, and nothing is built.
 *
 * @example
 * ```ts
 * const model = importOnnx(new Uint8Array(readFileSync("mlp.onnx")));
 * model.call(x); // the graph's output, differentiable with respect to model.parameters()
 * ```
 */
export function importOnnx(bytes: Uint8Array, options?: ImportOnnxOptions): OnnxModel {
  if (options !== undefined && (typeof options !== "object" || options === null)) fail("options must be an object");
  const validate = options?.validate ?? true;
  const m = decodeModel(bytes);
  const defaultOpset = m.opsets.filter((o) => o.domain === "" || o.domain === "ai.onnx");
  if (defaultOpset.length !== 1) fail(`expected one import of the default opset, got ${defaultOpset.length}`);
  const opset = defaultOpset[0]!.version;
  if (opset < 13 || opset > 17) fail(`opset ${opset} is not supported (13–17)`);
  const g = m.graph;

  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (name === "") fail(`${what} has an empty name`);
    if (defined.has(name)) fail(`${what}: the name ${JSON.stringify(name)} is defined twice`);
    defined.add(name);
  };
  // BatchNormalization's mean and variance are running statistics: buffers, not parameters.
  const stats = new Set(g.nodes.filter((n) => n.opType === "BatchNormalization").flatMap((n) => n.inputs.slice(3, 5)));
  const constants = new Map<string, Value>();
  const params: [string, Tensor, boolean][] = [];
  for (const t of g.initializers) {
    const what = `initializer ${JSON.stringify(t.name)}`;
    define(t.name, what);
    const v = decodeTensor(t, what);
    if (v instanceof Tensor && ag.isFloat(v.dtype)) params.push([t.name, v, stats.has(t.name)]);
    else constants.set(t.name, v);
  }
  const inputs = g.inputs.filter((v) => !defined.has(v.name));
  for (const v of inputs) {
    define(v.name, "graph input");
    dtypeOf(v.elemType, "float32");
  }
  const steps: Compiled[] = [];
  const used = new Set([...g.nodes.flatMap((x) => x.inputs), ...g.outputs.map((o) => o.name)]);
  g.nodes.forEach((n, i) => {
    const where = nodeLabel(n, i);
    if (n.domain !== "" && n.domain !== "ai.onnx") fail(`${where}: domain ${JSON.stringify(n.domain)} is not supported`);
    for (const input of n.inputs) if (input !== "" && !defined.has(input)) fail(`${where}: input ${JSON.stringify(input)} is not a graph input, an initializer or an earlier node's output (missing initializer?)`);
    if (n.outputs.length === 0 || n.outputs[0] === "") fail(`${where}: no output`);
    n.outputs.slice(1).forEach((o, k) => {
      if (o !== "" && used.has(o)) fail(`${where}: output ${k + 1} (${JSON.stringify(o)}) is not supported`);
    });
    define(n.outputs[0]!, where);
    if (n.opType === "Constant") {
      constants.set(n.outputs[0]!, constantValue(n, where));
      return;
    }
    const factory = IMPORT_OPS.get(n.opType);
    if (factory === undefined) fail(`${where}: operator ${JSON.stringify(n.opType)} is not supported`);
    let step: Step;
    try {
      step = factory!(new Attrs(n), opset);
    } catch (e) {
      if (e instanceof DeltagradError) fail(`${where}: ${e.message}`);
      throw e;
    }
    steps.push({ node: n, name: n.name || `#${i}`, opType: n.opType, inputs: n.inputs.slice(), output: n.outputs[0]!, step: step! });
  });
  if (g.outputs.length === 0) fail("the graph has no outputs");
  for (const o of g.outputs) if (!defined.has(o.name)) fail(`graph output ${JSON.stringify(o.name)} is never computed`);

  // An inference graph: nothing in it depends on training mode, and eval mode lets it be re-exported.
  const model = new OnnxModel(steps, inputs, g.outputs.map((o) => o.name), constants, params).eval();
  if (validate) dryRun(model, inputs);
  return model;
}

/** Runs the graph once on zeros shaped like the declared inputs, so a shape mismatch fails at import. */
function dryRun(model: OnnxModel, inputs: ValueInfo[]): void {
  if (inputs.some((v) => v.dims === null || v.dims.some((d) => d === null))) return; // undeclared shapes: nothing to try
  const shapes = inputs.map((v) => v.dims!.map((d) => (typeof d === "number" ? d : 1)));
  if (shapes.some((s) => s.reduce((a, d) => a * d, 1) > VALIDATE_MAX_ELEMENTS)) return;
  const float = model.parameters().find((p) => ag.isFloat(p.dtype))?.dtype ?? "float32";
  const xs = inputs.map((v, i) => ag.zeros(shapes[i]!, { dtype: dtypeOf(v.elemType, float) }));
  try {
    noGrad(() => model.run(xs));
  } catch (e) {
    if (e instanceof DeltagradError) fail(e.message.replace(/^OnnxModel: /, ""));
    throw e;
  }
}
