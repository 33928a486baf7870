/**
 * ONNX test support: run a model in onnxruntime-node and compare with deltagrad, and build small
 * ONNX files by hand (for the importer's error paths).
 */
import * as ort from "onnxruntime-node";
import { expect } from "vitest";
import { DeltagradError, Tensor } from "@deltagrad/autograd";
import { Writer, encodeModel, encodeNode, encodeTensor, encodeValueInfo, type AttrValue } from "../src/onnx/proto-encode.js";
import { DT } from "../src/onnx/proto.js";

const ORT_TYPE = { float32: "float32", float64: "float64", int32: "int32", bool: "bool" } as const;

/** Runs `bytes` in onnxruntime on named deltagrad tensors; returns the outputs by name. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const data = t.dtype === "bool" ? Array.from(t.dataSync(), Boolean) : t.dataSync();
    inputs[name] = new ort.Tensor(ORT_TYPE[t.dtype], data as Float32Array, t.shape.slice());
  }
  return session.run(inputs) as Promise<Record<string, ort.Tensor>>;
}

/** Largest |a − b| after checking the shapes agree. */
export function maxDiff(ours: Tensor, theirs: ort.Tensor): number {
  expect(theirs.dims.map(Number)).toEqual(ours.shape);
  const a = ours.dataSync();
  const b = theirs.data as ArrayLike<number | bigint | boolean>;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
}

/** The DeltagradError message `f` throws (fails the test for any other outcome). */
export { errorOf } from "@deltagrad/autograd/testing";

export interface HandNode {
  op: string;
  inputs: string[];
  outputs?: string[];
  name?: string;
  attrs?: Record<string, AttrValue>;
}

/** A float32 initializer. */
export function floatInit(name: string, dims: number[], values?: number[]): Writer {
  const n = dims.reduce((a, d) => a * d, 1);
  const data = Float32Array.from(values ?? Array.from({ length: n }, (_, i) => ((i % 7) - 3) / 10));
  return encodeTensor({ name, dims, dataType: DT.FLOAT, raw: new Uint8Array(data.buffer) });
}

/** An int64 initializer. */
export function int64Init(name: string, values: number[]): Writer {
  return encodeTensor({ name, dims: [values.length], dataType: DT.INT64, raw: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
}

/** A one-input one-output float32 model from nodes and initializers. */
export function handModel(opts: { nodes: HandNode[]; inits?: Writer[]; input?: (number | string)[]; output?: string; opset?: number; outDims?: (number | string)[] }): Uint8Array {
  const g = new Writer();
  opts.nodes.forEach((n, i) => g.message(1, encodeNode({ inputs: n.inputs, outputs: n.outputs ?? [`t${i}`], name: n.name ?? `n${i}`, opType: n.op, attrs: n.attrs ?? {} })));
  g.string(2, "hand");
  for (const t of opts.inits ?? []) g.message(5, t);
  g.message(11, encodeValueInfo("x", DT.FLOAT, opts.input ?? ["batch", 4]));
  g.message(12, encodeValueInfo(opts.output ?? `t${opts.nodes.length - 1}`, DT.FLOAT, opts.outDims ?? ["batch"]));
  return encodeModel(g, opts.opset ?? 17, 8);
}
