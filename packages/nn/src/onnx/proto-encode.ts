/**
 * The encoding half of the ONNX protobuf codec (see proto.ts): a writer and the few messages
 * export needs (ModelProto, GraphProto fields, NodeProto with attributes, TensorProto with
 * raw data, ValueInfoProto of tensors). Field numbers are onnx.proto's.
 */
import { DeltagradError } from "@deltagrad/autograd";
import { AT } from "./proto.js";

const utf8enc = new TextEncoder();

/** Protobuf writer: fields appended in order, nested messages written into their own writer first. */
export class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  /** A varint; negative integers as 10-byte two's complement (int64). */
  varint(v: number): this {
    if (!Number.isSafeInteger(v)) throw new DeltagradError(`exportOnnx: cannot encode ${v} as an int64`);
    let x = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
    return this;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    this.tag(field, 0);
    return this.varint(v);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8enc.encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, v, true);
    this.len += 4;
    return this;
  }

  packedInts(field: number, vs: readonly number[]): this {
    const w = new Writer();
    for (const v of vs) w.varint(v);
    return this.bytes(field, w.finish());
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Encodes a TensorProto whose data is little-endian `raw` bytes. */
export function encodeTensor(t: { name: string; dims: readonly number[]; dataType: number; raw: Uint8Array }): Writer {
  const w = new Writer();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType).string(8, t.name).bytes(9, t.raw);
  return w;
}

export type AttrValue = number | string | number[] | { floats: number[] } | { tensor: Writer } | { float: number };

/** Encodes a NodeProto; integer attributes are INT/INTS, `{ float }`/`{ floats }` are FLOAT/FLOATS. */
export function encodeNode(n: { inputs: readonly string[]; outputs: readonly string[]; name: string; opType: string; attrs: Record<string, AttrValue> }): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const key of Object.keys(n.attrs)) {
    const v = n.attrs[key]!;
    const a = new Writer().string(1, key);
    if (typeof v === "number") a.int(20, AT.INT).int(3, v);
    else if (typeof v === "string") a.int(20, AT.STRING).string(4, v);
    else if (Array.isArray(v)) a.int(20, AT.INTS).packedInts(8, v);
    else if ("floats" in v) a.int(20, AT.FLOATS).packedFloats(7, v.floats);
    else if ("float" in v) a.int(20, AT.FLOAT).float(2, v.float);
    else a.int(20, AT.TENSOR).message(5, v.tensor);
    w.message(5, a);
  }
  return w;
}

/** Encodes a ValueInfoProto of a tensor; a string dim is symbolic (dim_param). */
export function encodeValueInfo(name: string, elemType: number, dims: readonly (number | string)[]): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, typeof d === "number" ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, elemType).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensorType));
}

/** Encodes a ModelProto around a graph already written (nodes, initializers, inputs, outputs). */
export function encodeModel(graph: Writer, opset: number, irVersion: number): Uint8Array {
  return new Writer()
    .int(1, irVersion)
    .string(2, "deltagrad")
    .string(3, "0.1.0")
    .message(7, graph)
    .message(8, new Writer().string(1, "").int(2, opset))
    .finish();
}
