/**
 * A small protobuf codec for the part of ONNX's `onnx.proto` that models use: ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto (tensor types only),
 * OperatorSetIdProto. Field numbers are ONNX's (onnx/onnx.proto, IR version 8).
 *
 * Hand-written rather than protobufjs because the file is untrusted input: the decoder reads
 * only the fields listed here (subgraphs, sparse tensors, sequence/map types and external data
 * are skipped or refused), bounds every count, never recurses (the message tree is five levels
 * deep by construction), decodes int64 exactly (a value beyond ±2⁵³ is an error, not a rounded
 * number or a Long object), and generates no code at run time (protobufjs compiles decoders with
 * `new Function`, which a strict Content-Security-Policy forbids in browsers). Every failure is a
 * {@link DeltagradError} that says where in the file it happened.
 */
import { DeltagradError } from "@deltagrad/autograd";

/** ONNX TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** Attribute types (AttributeProto.AttributeType). */
export const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array | null;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  /** 1 = EXTERNAL (weights in another file): refused by the importer. */
  dataLocation: number;
}

export interface AttributeProto {
  name: string;
  type: number;
  f: number;
  i: number;
  s: Uint8Array;
  t: TensorProto | null;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
}

export interface NodeProto {
  inputs: string[];
  outputs: string[];
  name: string;
  opType: string;
  domain: string;
  attributes: AttributeProto[];
}

/** A graph input or output: name, element type and dims (a number, a symbolic name, or null for unknown). */
export interface ValueInfo {
  name: string;
  elemType: number;
  dims: (number | string | null)[] | null;
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export interface ModelProto {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProto;
}

/** Bounds on what a file may declare (each far above any real model of this library's scale). */
export const LIMITS = { nodes: 200_000, initializers: 200_000, attributes: 1_000, ioPerNode: 10_000, rank: 16, graphIO: 10_000 };

const utf8 = new TextDecoder("utf-8", { fatal: false });

// ---------------------------------------------------------------- decoding

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number, readonly where: string) {
    this.pos = start;
  }

  fail(msg: string): never {
    throw new DeltagradError(`importOnnx: malformed protobuf in ${this.where} at byte ${this.pos}: ${msg}`);
  }

  /** A varint as an exact JS number; int64 two's complement negatives come back negative. */
  varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x70) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
      if ((b & 0x80) === 0) return combine(lo >>> 0, hi >>> 0, this);
    }
    return this.fail("varint longer than 10 bytes");
  }

  tag(): [number, number] {
    const t = this.varint();
    if (t < 0 || t > 0x1fffffff * 8 + 7) this.fail(`bad field tag ${t}`);
    const field = Math.floor(t / 8);
    if (field === 0) this.fail("field number 0");
    return [field, t & 7];
  }

  /** The [start, end) of a length-delimited field. */
  span(): [number, number] {
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) this.fail(`length ${n} runs past the end (${this.end - this.pos} bytes left)`);
    const s = this.pos;
    this.pos += n;
    return [s, this.pos];
  }

  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  fixed(n: 4 | 8): DataView {
    if (this.end - this.pos < n) this.fail("truncated fixed-width value");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return v;
  }

  float(): number {
    return this.fixed(4).getFloat32(0, true);
  }

  double(): number {
    return this.fixed(8).getFloat64(0, true);
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.fixed(8);
    else if (wire === 2) this.span();
    else if (wire === 5) this.fixed(4);
    else this.fail(`unsupported wire type ${wire}`);
  }

  sub(where: string): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e, where);
  }

  /** A repeated scalar field, packed (wire 2) or not. */
  repeated(wire: number, scalarWire: number, read: (r: Reader) => number, out: number[], limit: number): void {
    if (wire === 2) {
      const r = this.sub(this.where);
      while (r.pos < r.end) {
        if (out.length >= limit) this.fail(`more than ${limit} values`);
        out.push(read(r));
      }
    } else if (wire === scalarWire) {
      if (out.length >= limit) this.fail(`more than ${limit} values`);
      out.push(read(this));
    } else this.fail(`wire type ${wire} for a repeated field`);
  }
}

function combine(lo: number, hi: number, r: Reader): number {
  if (hi & 0x80000000) {
    // Negative int64: −(2⁶⁴ − v) = −((~hi)·2³² + (~lo) + 1)
    const nlo = ~lo >>> 0;
    const nhi = ~hi >>> 0;
    if (nhi > 0x1fffff) r.fail("int64 value below −2⁵³");
    return -(nhi * 4294967296 + nlo + 1);
  }
  if (hi > 0x1fffff) r.fail("int64 value above 2⁵³");
  return hi * 4294967296 + lo;
}

function expectWire(r: Reader, wire: number, want: number, field: string): void {
  if (wire !== want) r.fail(`field ${field} has wire type ${wire}, expected ${want}`);
}

const readVarint = (r: Reader) => r.varint();
const readFloat = (r: Reader) => r.float();
const readDouble = (r: Reader) => r.double();

function decodeTensor(r: Reader): TensorProto {
  const t: TensorProto = { name: "", dims: [], dataType: 0, raw: null, floatData: [], int32Data: [], int64Data: [], doubleData: [], dataLocation: 0 };
  const max = r.end - r.pos; // no more values than bytes
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1) r.repeated(w, 0, readVarint, t.dims, LIMITS.rank);
    else if (f === 2) (expectWire(r, w, 0, "data_type"), (t.dataType = r.varint()));
    else if (f === 4) r.repeated(w, 5, readFloat, t.floatData, max);
    else if (f === 5) r.repeated(w, 0, readVarint, t.int32Data, max);
    else if (f === 7) r.repeated(w, 0, readVarint, t.int64Data, max);
    else if (f === 8) (expectWire(r, w, 2, "name"), (t.name = r.string()));
    else if (f === 9) (expectWire(r, w, 2, "raw_data"), (t.raw = r.bytes()));
    else if (f === 10) r.repeated(w, 1, readDouble, t.doubleData, max);
    else if (f === 14) (expectWire(r, w, 0, "data_location"), (t.dataLocation = r.varint()));
    else r.skip(w);
  }
  return t;
}

function decodeAttribute(r: Reader): AttributeProto {
  const a: AttributeProto = { name: "", type: 0, f: 0, i: 0, s: new Uint8Array(0), t: null, floats: [], ints: [], strings: [] };
  const max = r.end - r.pos;
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1) (expectWire(r, w, 2, "name"), (a.name = r.string()));
    else if (f === 20) (expectWire(r, w, 0, "type"), (a.type = r.varint()));
    else if (f === 2) (expectWire(r, w, 5, "f"), (a.f = r.float()));
    else if (f === 3) (expectWire(r, w, 0, "i"), (a.i = r.varint()));
    else if (f === 4) (expectWire(r, w, 2, "s"), (a.s = r.bytes()));
    else if (f === 5) (expectWire(r, w, 2, "t"), (a.t = decodeTensor(r.sub(`${r.where} attribute tensor`))));
    else if (f === 7) r.repeated(w, 5, readFloat, a.floats, max);
    else if (f === 8) r.repeated(w, 0, readVarint, a.ints, max);
    else if (f === 9) (expectWire(r, w, 2, "strings"), a.strings.push(r.bytes()));
    else r.skip(w); // subgraphs (If/Loop bodies), sparse tensors, type protos: not supported
  }
  return a;
}

function decodeNode(r: Reader): NodeProto {
  const n: NodeProto = { inputs: [], outputs: [], name: "", opType: "", domain: "", attributes: [] };
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1 || f === 2) {
      expectWire(r, w, 2, f === 1 ? "input" : "output");
      const list = f === 1 ? n.inputs : n.outputs;
      if (list.length >= LIMITS.ioPerNode) r.fail(`a node with more than ${LIMITS.ioPerNode} inputs or outputs`);
      list.push(r.string());
    } else if (f === 3) (expectWire(r, w, 2, "name"), (n.name = r.string()));
    else if (f === 4) (expectWire(r, w, 2, "op_type"), (n.opType = r.string()));
    else if (f === 7) (expectWire(r, w, 2, "domain"), (n.domain = r.string()));
    else if (f === 5) {
      expectWire(r, w, 2, "attribute");
      if (n.attributes.length >= LIMITS.attributes) r.fail(`a node with more than ${LIMITS.attributes} attributes`);
      n.attributes.push(decodeAttribute(r.sub(`${r.where} attribute`)));
    } else r.skip(w);
  }
  return n;
}

/** ValueInfoProto → TypeProto.tensor_type → (elem_type, TensorShapeProto.dim*). Other types are left empty. */
function decodeValueInfo(r: Reader): ValueInfo {
  const v: ValueInfo = { name: "", elemType: 0, dims: null };
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1) (expectWire(r, w, 2, "name"), (v.name = r.string()));
    else if (f === 2) {
      expectWire(r, w, 2, "type");
      const tr = r.sub(`${r.where} type`);
      while (tr.pos < tr.end) {
        const [tf, tw] = tr.tag();
        if (tf !== 1) {
          tr.skip(tw);
          continue;
        }
        expectWire(tr, tw, 2, "tensor_type");
        const tt = tr.sub(`${r.where} tensor_type`);
        while (tt.pos < tt.end) {
          const [ff, fw] = tt.tag();
          if (ff === 1) (expectWire(tt, fw, 0, "elem_type"), (v.elemType = tt.varint()));
          else if (ff === 2) {
            expectWire(tt, fw, 2, "shape");
            v.dims = [];
            const sr = tt.sub(`${r.where} shape`);
            while (sr.pos < sr.end) {
              const [sf, sw] = sr.tag();
              if (sf !== 1) {
                sr.skip(sw);
                continue;
              }
              expectWire(sr, sw, 2, "dim");
              if (v.dims.length >= LIMITS.rank) sr.fail(`more than ${LIMITS.rank} dims`);
              const dr = sr.sub(`${r.where} dim`);
              let d: number | string | null = null;
              while (dr.pos < dr.end) {
                const [df, dw] = dr.tag();
                if (df === 1) (expectWire(dr, dw, 0, "dim_value"), (d = dr.varint()));
                else if (df === 2) (expectWire(dr, dw, 2, "dim_param"), (d = dr.string()));
                else dr.skip(dw);
              }
              v.dims.push(d);
            }
          } else tt.skip(fw);
        }
      }
    } else r.skip(w);
  }
  return v;
}

function decodeGraph(r: Reader): GraphProto {
  const g: GraphProto = { name: "", nodes: [], initializers: [], inputs: [], outputs: [] };
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1) {
      expectWire(r, w, 2, "node");
      if (g.nodes.length >= LIMITS.nodes) r.fail(`more than ${LIMITS.nodes} nodes`);
      g.nodes.push(decodeNode(r.sub(`node ${g.nodes.length}`)));
    } else if (f === 2) (expectWire(r, w, 2, "name"), (g.name = r.string()));
    else if (f === 5) {
      expectWire(r, w, 2, "initializer");
      if (g.initializers.length >= LIMITS.initializers) r.fail(`more than ${LIMITS.initializers} initializers`);
      g.initializers.push(decodeTensor(r.sub(`initializer ${g.initializers.length}`)));
    } else if (f === 11 || f === 12) {
      expectWire(r, w, 2, f === 11 ? "input" : "output");
      const list = f === 11 ? g.inputs : g.outputs;
      if (list.length >= LIMITS.graphIO) r.fail(`more than ${LIMITS.graphIO} graph inputs or outputs`);
      list.push(decodeValueInfo(r.sub(`graph ${f === 11 ? "input" : "output"} ${list.length}`)));
    } else r.skip(w);
  }
  return g;
}

/**
 * Decodes an ONNX `ModelProto`. Throws a {@link DeltagradError} for anything malformed.
 *
 * @example
 * ```ts
 * const m = decodeModel(bytes); m.graph.nodes.map((n) => n.opType); // ["Gemm", "Relu", "Gemm"]
 * ```
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new DeltagradError(`importOnnx: expected a Uint8Array, got ${bytes === null ? "null" : typeof bytes}`);
  const r = new Reader(bytes, 0, bytes.length, "ModelProto");
  const m: ModelProto = { irVersion: 0, opsets: [], producerName: "", producerVersion: "", graph: null as unknown as GraphProto };
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1) (expectWire(r, w, 0, "ir_version"), (m.irVersion = r.varint()));
    else if (f === 2) (expectWire(r, w, 2, "producer_name"), (m.producerName = r.string()));
    else if (f === 3) (expectWire(r, w, 2, "producer_version"), (m.producerVersion = r.string()));
    else if (f === 7) (expectWire(r, w, 2, "graph"), (m.graph = decodeGraph(r.sub("graph"))));
    else if (f === 8) {
      expectWire(r, w, 2, "opset_import");
      if (m.opsets.length >= 100) r.fail("more than 100 opset imports");
      const o = r.sub("opset_import");
      const op = { domain: "", version: 0 };
      while (o.pos < o.end) {
        const [of, ow] = o.tag();
        if (of === 1) (expectWire(o, ow, 2, "domain"), (op.domain = o.string()));
        else if (of === 2) (expectWire(o, ow, 0, "version"), (op.version = o.varint()));
        else o.skip(ow);
      }
      m.opsets.push(op);
    } else r.skip(w);
  }
  if (m.graph === null) throw new DeltagradError("importOnnx: the file has no graph (not an ONNX model, or truncated)");
  return m;
}
