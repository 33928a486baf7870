/**
 * The primitive-level fallback of ONNX export: one mapping per deltagrad primitive (a module the
 * exporter does not recognise runs as primitives, and each becomes one or a few ONNX nodes).
 * unfold/fold exist only inside a recognised convolution or pooling module; customVjp is a user
 * closure. Both refuse with an error naming the op.
 */
import { DeltagradError, type DType } from "@deltagrad/autograd";
import { onnxType, type Dim, type GraphBuilder } from "./builder.js";

/** What a primitive's mapping sees: the node's ONNX input names and the traced shapes. */
export interface PrimitiveContext {
  readonly b: GraphBuilder;
  readonly op: string;
  /** The node's attributes in the example trace. */
  readonly attrs: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Dims of a shape-like attribute list, given its values in every trace (`pick(attrs)`). */
  dims(what: string, pick: (attrs: any) => readonly number[]): Dim[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Dims of an input's shape across the traces. */
  inputDims(i: number): Dim[];
  readonly ins: readonly string[];
  readonly inShapes: readonly (readonly number[])[];
  readonly inDTypes: readonly DType[];
  readonly outShape: readonly number[];
  readonly outDType: DType;
}

type Mapping = (c: PrimitiveContext) => string;

const unary = (opType: string): Mapping => (c) => c.b.op(opType, c.ins);
const binary = (opType: string): Mapping => (c) => c.b.op(opType, c.ins);

const COMPARE: Record<string, string> = {
  equal: "Equal", greater: "Greater", greaterEqual: "GreaterOrEqual", less: "Less", lessEqual: "LessOrEqual",
};

/** ONNX reductions want axes; deltagrad's keep every axis (keepDims), so keepdims=1 throughout. */
function reduce(c: PrimitiveContext, opType: "ReduceSum" | "ReduceMax"): string {
  const axes: number[] = c.attrs.axes;
  if (axes.length === 0) return c.b.op("Identity", c.ins);
  // ReduceSum takes axes as an input from opset 13; ReduceMax only from 18 (an attribute before).
  if (opType === "ReduceSum" || c.b.opset >= 18) return c.b.op(opType, [c.ins[0]!, c.b.int64(axes)], { keepdims: 1 });
  return c.b.op(opType, c.ins, { axes, keepdims: 1 });
}

function refuse(what: string): Mapping {
  return (c) => {
    throw new DeltagradError(`exportOnnx: primitive ${c.op} ${what}`);
  };
}

/**
 * Every primitive's ONNX form. A primitive missing here is reported by name (a test checks that
 * every entry of `RULES` has one).
 */
const TABLE: Record<string, Mapping> = {
  add: binary("Add"),
  mul: binary("Mul"),
  maximum: binary("Max"),
  neg: unary("Neg"),
  reciprocal: unary("Reciprocal"),
  exp: unary("Exp"),
  log: unary("Log"),
  sqrt: unary("Sqrt"),
  erf: unary("Erf"),
  sign: unary("Sign"),
  sin: unary("Sin"),
  cos: unary("Cos"),
  log1p: (c) => c.b.op("Log", [c.b.op("Add", [c.ins[0]!, c.b.scalar(1, c.outDType)])]),
  expm1: (c) => c.b.op("Sub", [c.b.op("Exp", c.ins), c.b.scalar(1, c.outDType)]),
  // onnxruntime has no boolean Where kernel: for bool values, (c ∧ x) ∨ (¬c ∧ y).
  where: (c) => {
    if (c.outDType !== "bool") return c.b.op("Where", c.ins);
    const [cond, x, y] = c.ins as [string, string, string];
    return c.b.op("Or", [c.b.op("And", [cond, x]), c.b.op("And", [c.b.op("Not", [cond]), y])]);
  },
  compare: (c) => {
    const op: string = c.attrs.op;
    if (op === "notEqual") return c.b.op("Not", [c.b.op("Equal", c.ins)]);
    return c.b.op(COMPARE[op]!, c.ins);
  },
  sum: (c) => reduce(c, "ReduceSum"),
  max: (c) => reduce(c, "ReduceMax"),
  argReduce: (c) => {
    const idx = c.b.op(c.attrs.op === "argmax" ? "ArgMax" : "ArgMin", c.ins, { axis: c.attrs.axis, keepdims: 1 });
    return c.b.op("Cast", [idx], { to: onnxType("int32") }); // ONNX gives int64; deltagrad int32
  },
  // allowzero (opset 14): a 0 in the shape means a size-0 axis, not "copy the input's".
  reshape: (c) => c.b.op("Reshape", [c.ins[0]!, c.b.shapeVector(c.dims("reshape", (a) => a.shape))], c.b.opset >= 14 ? { allowzero: 1 } : {}),
  expand: (c) => c.b.op("Expand", [c.ins[0]!, c.b.shapeVector(c.dims("expand", (a) => a.shape))]),
  permute: (c) => c.b.op("Transpose", c.ins, { perm: c.attrs.perm }),
  slice: (c) => {
    const begin = c.dims("slice begin", (a) => a.begin);
    const ends = c.dims("slice end", (a) => a.begin.map((s: number, i: number) => s + a.size[i]));
    const full = c.inputDims(0);
    const axes: number[] = [];
    begin.forEach((s, i) => {
      const whole = s.kind === "static" && s.value === 0 && JSON.stringify(ends[i]) === JSON.stringify(full[i]);
      if (!whole) axes.push(i);
    });
    if (axes.length === 0) return c.b.op("Identity", c.ins);
    const starts = c.b.shapeVector(axes.map((i) => begin[i]!));
    const stops = c.b.shapeVector(axes.map((i) => ends[i]!));
    return c.b.op("Slice", [c.ins[0]!, starts, stops, c.b.int64(axes)]);
  },
  pad: (c) => {
    const pads: [number, number][] = c.attrs.pads;
    const flat = c.dims("pad", (a) => [...a.pads.map((p: number[]) => p[0]), ...a.pads.map((p: number[]) => p[1])]);
    const value = c.b.scalar(c.attrs.value, c.outDType);
    if (pads.every(([a, z]) => a === 0 && z === 0)) return c.b.op("Identity", [c.ins[0]!]);
    return c.b.op("Pad", [c.ins[0]!, c.b.shapeVector(flat), value], { mode: "constant" });
  },
  concat: (c) => c.b.op("Concat", c.ins, { axis: c.attrs.axis }),
  matmul: binary("MatMul"),
  cast: (c) => c.b.op("Cast", c.ins, { to: onnxType(c.attrs.dtype) }),
  gather: (c) => c.b.op("Gather", c.ins, { axis: c.attrs.axis }),
  // out = zeros(shape); out[…, idx[j], …] += g[…, j, …] along axis — ScatterElements with reduction
  // "add" (opset 16) after flattening idx and broadcasting it to g's shape.
  scatterAdd: (c) => {
    if (c.b.opset < 16) throw new DeltagradError(`exportOnnx: primitive scatterAdd needs opset ≥ 16 (ScatterElements reduction "add"), got opset ${c.b.opset}`);
    const axis: number = c.attrs.axis;
    const shape: number[] = c.attrs.shape;
    const k = c.inShapes[1]!.reduce((a, d) => a * d, 1);
    const gShape = [...shape.slice(0, axis), k, ...shape.slice(axis + 1)];
    const g = c.b.op("Reshape", [c.ins[0]!, c.b.int64(gShape)]);
    const idxShape = gShape.map((d, i) => (i === axis ? k : 1));
    const idx = c.b.op("Expand", [c.b.op("Reshape", [c.ins[1]!, c.b.int64(idxShape)]), c.b.int64(gShape)]);
    const zeros = c.b.constant(c.outDType, shape, new Float64Array(shape.reduce((a, d) => a * d, 1)));
    return c.b.op("ScatterElements", [zeros, idx, g], { axis, reduction: "add" });
  },
  unfold: refuse("(im2col) is exported only inside a recognised convolution or pooling module (Conv2d, MaxPool2d, AvgPool2d); a functional conv2d/maxPool2d/unfold call has no ONNX form — use the module"),
  fold: refuse("(col2im) is exported only inside a recognised convolution module; a functional fold call has no ONNX form"),
  windowArgmax: refuse("(max pooling's window choice) is exported only inside a recognised MaxPool2d module; a functional maxPool2d call has no ONNX form — use the module"),
  customVjp: refuse("is a user closure (customVjp) and has no ONNX form"),
};

/** Lookup by primitive name (own keys only, so no name reaches Object.prototype). */
export const PRIMITIVE_EXPORTS: ReadonlyMap<string, Mapping> = new Map(Object.entries(TABLE));
