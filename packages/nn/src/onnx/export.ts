/**
 * ONNX export: trace one forward pass (autograd's tracer, shared with compile), map recognised
 * layers to ONNX's named operators and every other primitive to its ONNX form, and write a
 * `ModelProto`. Everything is mapped before the first byte is encoded, so an unexportable model
 * fails with a {@link DeltagradError} and produces nothing.
 */
import { DeltagradError, Tensor, noGrad, trace, traceRegion, zeros, type DType, type TraceGraph, type TraceNode, fmtShape } from "@deltagrad/autograd";
import { Module } from "../module.js";
import { GraphBuilder, dimsOf, onnxType, type Dim, type SymbolicAxis } from "./builder.js";
import { MODULE_EXPORTS, type ModuleContext } from "./export-modules.js";
import { PRIMITIVE_EXPORTS, type PrimitiveContext } from "./export-ops.js";
import { Writer, encodeModel, encodeValueInfo, type AttrValue } from "./proto-encode.js";
import { AT, type NodeProto } from "./proto.js";

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** ONNX opset, 13–17. Default 17. */
  opset?: number;
  /** Names of the graph inputs, one per example input. Default `["x"]` (then `x1`, `x2`, …). */
  inputNames?: readonly string[];
  /** Names of the graph outputs. Default `["y"]` (then `y1`, …). */
  outputNames?: readonly string[];
  /**
   * Symbolic axes by input or output name, as PyTorch's: `{ x: { 0: "batch" }, y: { 0: "batch" } }`.
   * Input axes drive the graph (shapes that scale with them are computed at run time); output
   * entries only name the output's dims.
   */
  dynamicAxes?: Record<string, Record<number, string>>;
}

const MIN_OPSET = 13;
const MAX_OPSET = 17;

function fail(msg: string): never {
  throw new DeltagradError(`exportOnnx: ${msg}`);
}

function checkOptions(model: unknown, exampleInputs: unknown, options: ExportOnnxOptions | undefined) {
  if (!(model instanceof Module)) fail(`expected a Module, got ${model === null ? "null" : typeof model}`);
  const inputs = exampleInputs instanceof Tensor ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((t) => t instanceof Tensor)) fail("exampleInputs must be a Tensor or a non-empty array of Tensors");
  if (options !== undefined && (typeof options !== "object" || options === null)) fail("options must be an object");
  const { opset = 17, inputNames, outputNames, dynamicAxes } = options ?? {};
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) fail(`opset must be an integer ${MIN_OPSET}–${MAX_OPSET}, got ${String(opset)}`);
  const names = (given: readonly string[] | undefined, stem: string, n: number) => {
    if (given !== undefined && (!Array.isArray(given) || !given.every((s) => typeof s === "string" && s.length > 0))) fail(`${stem === "x" ? "inputNames" : "outputNames"} must be an array of non-empty strings`);
    return Array.from({ length: n }, (_, i) => given?.[i] ?? (i === 0 ? stem : `${stem}${i}`));
  };
  const inNames = names(inputNames, "x", inputs.length);
  if (new Set(inNames).size !== inNames.length) fail(`inputNames repeat a name: ${JSON.stringify(inNames)}`);
  if (dynamicAxes !== undefined && (typeof dynamicAxes !== "object" || dynamicAxes === null)) fail("dynamicAxes must be an object");
  return { model: model as Module, inputs: inputs as Tensor[], opset, inNames, names, outputNames, dynamicAxes: dynamicAxes ?? {} };
}

/** The dynamic input axes, validated: each names an existing axis of an input. */
function symbolsOf(dynamicAxes: Record<string, Record<number, string>>, inNames: string[], inputs: Tensor[]): SymbolicAxis[] {
  const out: SymbolicAxis[] = [];
  for (const [i, inName] of inNames.entries()) {
    if (!Object.prototype.hasOwnProperty.call(dynamicAxes, inName)) continue;
    const axes = dynamicAxes[inName]!;
    if (typeof axes !== "object" || axes === null) fail(`dynamicAxes.${inName} must map axes to names, e.g. { 0: "batch" }`);
    for (const key of Object.keys(axes)) {
      const axis = Number(key);
      const name = (axes as Record<string, unknown>)[key];
      if (!Number.isInteger(axis) || axis < 0 || axis >= inputs[i]!.rank) fail(`dynamicAxes.${inName}: axis ${key} does not exist in an input of shape ${fmtShape(inputs[i]!.shape)}`);
      if (typeof name !== "string" || name === "") fail(`dynamicAxes.${inName}[${key}] must be a non-empty name`);
      out.push({ name, input: inName, axis, base: inputs[i]!.shape[axis]! });
    }
  }
  return out;
}

/** Runs the forward under the tracer with every recognised module's forward wrapped in a region. */
function traceModel(model: Module, inputs: Tensor[], params: Tensor[]): TraceGraph {
  const patched: Module[] = [];
  try {
    for (const m of model.modules()) {
      if (!MODULE_EXPORTS.has(m.constructor) || Object.prototype.hasOwnProperty.call(m, "forward")) continue;
      const forward = (m as unknown as { forward: (x: Tensor) => Tensor }).forward;
      Object.defineProperty(m, "forward", {
        configurable: true, enumerable: false, writable: true,
        value: (x: Tensor) => traceRegion(m.constructor.name, m, [x], () => forward.call(m, x)),
      });
      patched.push(m);
    }
    const call = (model as unknown as { call: (...xs: Tensor[]) => unknown }).call.bind(model);
    return noGrad(() => trace((...xs) => call(...xs) as Tensor | Tensor[], inputs, { params }));
  } finally {
    for (const m of patched) delete (m as unknown as Record<string, unknown>).forward;
  }
}

/**
 * The same op sequence in every trace (else the graph depends on the dynamic sizes). Returns the
 * constants whose shape changed with the axis: an error if one is ever written out.
 */
function checkSameGraph(a: TraceGraph, b: TraceGraph, sym: SymbolicAxis, varying: Map<number, string>): void {
  const same = a.nodes.length === b.nodes.length && a.values.length === b.values.length && a.regions.length === b.regions.length &&
    a.nodes.every((n, i) => n.op === b.nodes[i]!.op && n.output === b.nodes[i]!.output && n.inputs.join() === b.nodes[i]!.inputs.join());
  if (!same) fail(`the model runs different ops when ${sym.input} axis ${sym.axis} ("${sym.name}") changes size, so it cannot be exported with that axis dynamic`);
  a.values.forEach((v, i) => {
    const w = b.values[i]!;
    if ((v.kind === "const" || v.kind === "param") && v.shape.join() !== w.shape.join()) {
      varying.set(i, `a ${v.kind} of shape ${fmtShape(v.shape)} changes shape with dynamic axis "${sym.name}" (a constant made from the input's size); it cannot be exported with that axis dynamic`);
    }
  });
}

/**
 * Writes `model` as an ONNX `ModelProto` (opset 13–17, default 17), traced on `exampleInputs`.
 * Recognised layers become ONNX's named operators (Linear → Gemm, Conv2d → Conv, MaxPool2d →
 * MaxPool, activations → Relu/Tanh/…); everything else is exported primitive by primitive.
 * Parameters become initializers named as in `namedParameters()`. With `dynamicAxes` the named
 * input axes are symbolic (sizes that follow them are computed from the input's shape).
 * The model must be in eval mode; an unexportable op is a {@link DeltagradError} naming it, and
 * nothing is produced.
 *
 * @example
 * ```ts
 * const model = new MLP([4, 8, 3]).eval();
 * const bytes = exportOnnx(model, zeros([2, 4]), { dynamicAxes: { x: { 0: "batch" }, y: { 0: "batch" } } });
 * // bytes: a Uint8Array to write to model.onnx and serve with onnxruntime
 * ```
 */
export function exportOnnx(model: Module, exampleInputs: Tensor | readonly Tensor[], options?: ExportOnnxOptions): Uint8Array {
  const o = checkOptions(model, exampleInputs, options);
  const training = o.model.namedModules().filter(([, m]) => m.training);
  if (training.length) fail(`the model is in training mode (${training.slice(0, 3).map(([n, m]) => n || m.constructor.name).join(", ")}…); call model.eval() first`);
  const symbols = symbolsOf(o.dynamicAxes, o.inNames, o.inputs);
  const named = o.model.namedParameters();
  const params = named.map(([, p]) => p);
  const main = traceModel(o.model, o.inputs, params);
  const varying = new Map<number, string>();
  // One more trace per dynamic axis, that axis one larger: whatever changes follows that axis.
  const extra = symbols.map((s) => {
    const xs = o.inputs.map((t, i) => (o.inNames[i] === s.input ? zeros(t.shape.map((d, k) => (k === s.axis ? d + 1 : d)), { dtype: t.dtype }) : t));
    const g = traceModel(o.model, xs, params);
    checkSameGraph(main, g, s, varying);
    return g;
  });
  const traces = [main, ...extra];
  const outNames = o.names(o.outputNames, "y", main.outputs.length);
  const b = new GraphBuilder(o.opset, symbols);
  const graph = new Writer();
  main.inputs.forEach((id, i) => {
    b.reserve(o.inNames[i]!);
    const v = main.values[id]!;
    const dims = dimsOf(`input ${o.inNames[i]}`, traces.map((t) => t.values[id]!.shape), symbols).map((d) => b.dimLabel(d));
    graph.message(11, encodeValueInfo(o.inNames[i]!, onnxType(v.dtype), dims));
  });
  outNames.forEach((n) => b.reserve(n));
  const lowered = lower(b, traces, symbols, new Map(named.map(([n, p]) => [p, n])), o.inNames, o.model, varying);
  outNames.forEach((name, i) => {
    const id = main.outputs[i]!;
    b.node("Identity", [lowered(id)], {}, [name]);
    const dims = dimsOf(`output ${name}`, traces.map((t) => t.values[id]!.shape), symbols).map((d) => b.dimLabel(d));
    const given = o.dynamicAxes[name];
    if (given && typeof given === "object") for (const k of Object.keys(given)) if (Number(k) < dims.length && typeof given[Number(k)] === "string") dims[Number(k)] = given[Number(k)]!;
    graph.message(12, encodeValueInfo(name, onnxType(main.values[id]!.dtype), dims));
  });
  for (const n of b.nodes) graph.message(1, n);
  graph.string(2, o.model.constructor.name);
  for (const t of b.initializers) graph.message(5, t);
  return encodeModel(graph, o.opset, 8);
}

/**
 * Walks the main trace: a recognised region becomes its module's ONNX node(s), any other node its
 * primitive's. Returns the ONNX name of a value (initializers made on first use).
 */
function lower(b: GraphBuilder, traces: TraceGraph[], symbols: SymbolicAxis[], paramNames: Map<Tensor, string>, inNames: string[], model: Module, varying: Map<number, string>): (id: number) => string {
  const main = traces[0]!;
  const names = new Map<number, string>();
  main.inputs.forEach((id, i) => names.set(id, inNames[i]!));
  const tensorNames = new Map<Tensor, string>();
  const moduleNames = new Map(model.namedModules().map(([n, m]) => [m as Module, n]));
  const param = (t: Tensor): string => {
    let n = tensorNames.get(t);
    if (n === undefined) {
      const pn = paramNames.get(t);
      n = b.initializer(pn ?? null, t.dtype, t.shape, t.dataSync());
      tensorNames.set(t, n);
    }
    return n;
  };
  const nameOf = (id: number): string => {
    const known = names.get(id);
    if (known !== undefined) return known;
    const v = main.values[id]!;
    if (varying.has(id)) fail(varying.get(id)!);
    if (v.kind === "param" && v.tensor) return param(v.tensor);
    if (v.kind === "const") {
      if (v.data === null) fail("a constant lives on an asynchronous backend; export on cpu or wasm");
      const n = b.constant(v.dtype, v.shape, v.data);
      names.set(id, n);
      return n;
    }
    return fail(`internal: value ${id} is used before it is computed (a region's intermediate escaped it)`);
  };
  const valueDims = (id: number, what: string): Dim[] => dimsOf(what, traces.map((t) => t.values[id]!.shape), symbols);
  const regionsAt = new Map<number, typeof main.regions[number][]>();
  for (const r of main.regions) if (r.end > r.start) regionsAt.set(r.start, [...(regionsAt.get(r.start) ?? []), r]);

  let i = 0;
  while (i < main.nodes.length) {
    let done = false;
    for (const r of regionsAt.get(i) ?? []) {
      let out: string | null;
      if (r.info instanceof Module) {
        const m = r.info;
        const map = MODULE_EXPORTS.get(m.constructor)!;
        const x = r.inputs[0]!;
        const ctx: ModuleContext = {
          b, x: nameOf(x), xShape: main.values[x]!.shape, param, nameOf: (mm) => moduleNames.get(mm) ?? mm.constructor.name,
          constant: (t, name) => (name === undefined ? b.constant(t.dtype, t.shape, t.dataSync()) : b.initializer(name, t.dtype, t.shape, t.dataSync())),
        };
        out = map(m, ctx);
      } else out = reexport(b, r.info as OnnxRegion, r.inputs.map(nameOf));
      if (out === null) continue;
      names.set(r.output, out);
      i = r.end;
      done = true;
      break;
    }
    if (done) continue;
    const node = main.nodes[i]!;
    names.set(node.output, primitive(b, traces, i, node, nameOf, valueDims));
    i++;
  }
  return nameOf;
}

function primitive(b: GraphBuilder, traces: TraceGraph[], i: number, node: TraceNode, nameOf: (id: number) => string, valueDims: (id: number, what: string) => Dim[]): string {
  const main = traces[0]!;
  const map = PRIMITIVE_EXPORTS.get(node.op);
  if (map === undefined) fail(`primitive ${node.op} has no ONNX mapping`);
  const out = main.values[node.output]!;
  const ctx: PrimitiveContext = {
    b, op: node.op, attrs: node.attrs,
    dims: (what, pick) => dimsOf(what, traces.map((t) => pick(t.nodes[i]!.attrs)), b.symbols),
    inputDims: (k) => valueDims(node.inputs[k]!, `${node.op} input ${k}`),
    ins: node.inputs.map(nameOf),
    inShapes: node.inputs.map((id) => main.values[id]!.shape),
    inDTypes: node.inputs.map((id) => main.values[id]!.dtype as DType),
    outShape: out.shape, outDType: out.dtype,
  };
  // Attributes other than shape lists must not change with the dynamic axes.
  for (let k = 1; k < traces.length; k++) {
    const other = traces[k]!.nodes[i]!.attrs;
    if (!["reshape", "expand", "slice", "pad"].includes(node.op) && JSON.stringify(other) !== JSON.stringify(node.attrs)) {
      fail(`primitive ${node.op}'s attributes change with dynamic axis "${b.symbols[k - 1]!.name}" (${JSON.stringify(node.attrs)} vs ${JSON.stringify(other)})`);
    }
  }
  return map(ctx);
}

/** A node of an imported model, re-exported as itself (import.ts marks it with a region). */
interface OnnxRegion {
  onnxNode: NodeProto;
  present: boolean[];
}

function reexport(b: GraphBuilder, info: OnnxRegion, names: string[]): string {
  const inputs: string[] = [];
  let k = 0;
  for (const p of info.present) inputs.push(p ? names[k++]! : "");
  while (inputs.length && inputs[inputs.length - 1] === "") inputs.pop();
  const attrs: Record<string, AttrValue> = Object.create(null); // names come from a file
  for (const a of info.onnxNode.attributes) {
    if (a.type === AT.INT) attrs[a.name] = a.i;
    else if (a.type === AT.INTS) attrs[a.name] = a.ints.slice();
    else if (a.type === AT.FLOAT) attrs[a.name] = { float: a.f };
    else if (a.type === AT.FLOATS) attrs[a.name] = { floats: a.floats.slice() };
    else if (a.type === AT.STRING) attrs[a.name] = new TextDecoder().decode(a.s);
    else fail(`re-exporting ${info.onnxNode.opType}: attribute ${a.name} of type ${a.type} is not supported`);
  }
  return b.op(info.onnxNode.opType, inputs, attrs);
}
