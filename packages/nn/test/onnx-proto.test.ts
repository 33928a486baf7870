import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as ag from "@deltagrad/autograd";
import { importOnnx } from "@deltagrad/nn/onnx";
import { Writer, encodeModel, encodeNode, encodeTensor, encodeValueInfo } from "../src/onnx/proto-encode.js";
import { DT, decodeModel } from "../src/onnx/proto.js";
import { errorOf } from "./onnx-support.js";

/** A model whose one node carries `ints` as an INTS attribute, to read int64 varints back through the decoder. */
function withInts(ints: number[]): Uint8Array {
  const g = new Writer().message(1, encodeNode({ inputs: ["x"], outputs: ["y"], name: "n", opType: "Identity", attrs: { v: ints } }));
  return encodeModel(g, 17, 8);
}

describe("the ONNX protobuf codec", () => {
  it("int64 varints round-trip exactly over the safe range, negatives as 10-byte two's complement", () => {
    const edge = [0, 1, -1, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    expect(decodeModel(withInts(edge)).graph.nodes[0]!.attributes[0]!.ints).toEqual(edge);
    fc.assert(fc.property(fc.array(fc.maxSafeInteger(), { maxLength: 20 }), (v) => {
      expect(decodeModel(withInts(v)).graph.nodes[0]!.attributes[0]!.ints).toEqual(v.map((x) => x + 0)); // -0 is 0
    }), { numRuns: 200 });
    expect(new Writer().varint(-1).finish()).toEqual(Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]));
    expect(() => new Writer().varint(2 ** 53)).toThrow(/cannot encode/);
  });

  it("int64 beyond ±2⁵³ in a file is an error, not a rounded number", () => {
    // field 1 (ir_version), varint 2⁵³ = 0x20000000000000
    const big = Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(errorOf(() => decodeModel(big))).toMatch(/int64 value above 2⁵³/);
  });

  it("reads packed and unpacked repeated fields, skips unknown fields, reads graph IO with symbolic dims", () => {
    const dims = Uint8Array.from([0x08, 2, 0x08, 3]); // dims = 1 unpacked, twice
    const raw = new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer);
    const tensorBytes = new Uint8Array([...dims, ...encodeTensor({ name: "w", dims: [], dataType: DT.FLOAT, raw }).finish()]);
    const g = new Writer().bytes(5, tensorBytes).string(99, "unknown field").message(11, encodeValueInfo("x", DT.FLOAT, ["N", 3])).message(12, encodeValueInfo("y", DT.FLOAT, [2]));
    g.message(1, encodeNode({ inputs: ["x", "w"], outputs: ["y"], name: "mm", opType: "MatMul", attrs: {} }));
    const m = decodeModel(encodeModel(g, 17, 8));
    expect(m.graph.initializers[0]).toMatchObject({ name: "w", dims: [2, 3], dataType: DT.FLOAT });
    expect(m.graph.inputs[0]).toEqual({ name: "x", elemType: DT.FLOAT, dims: ["N", 3] });
    expect(m.opsets).toEqual([{ domain: "", version: 17 }]);
    expect(m.producerName).toBe("deltagrad");
  });

  it("wire-type mismatches, truncation, group wire types and huge lengths are DeltagradErrors with a byte offset", () => {
    expect(errorOf(() => decodeModel(Uint8Array.from([0x0a, 0x00])))).toMatch(/field ir_version has wire type 2, expected 0/);
    expect(errorOf(() => decodeModel(Uint8Array.from([0x08, 0x80])))).toMatch(/at byte 2: truncated varint/);
    expect(errorOf(() => decodeModel(Uint8Array.from([0x4b])))).toMatch(/unsupported wire type 3/);
    expect(errorOf(() => decodeModel(Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f])))).toMatch(/runs past the end/);
    expect(errorOf(() => decodeModel(Uint8Array.from([0x08, 0x08])))).toMatch(/no graph/);
  });

  it("tensor data given as float_data, int64 and bool initializers, and a data/dims mismatch", () => {
    const floats = new Writer().packedInts(1, [2]).int(2, DT.FLOAT).packedFloats(4, [0.5, -1]).string(8, "b");
    const g = new Writer().message(5, floats).message(11, encodeValueInfo("x", DT.FLOAT, ["N", 2])).message(12, encodeValueInfo("y", DT.FLOAT, ["N", 2]));
    g.message(1, encodeNode({ inputs: ["x", "b"], outputs: ["y"], name: "add", opType: "Add", attrs: {} }));
    const m = importOnnx(encodeModel(g, 17, 8));
    expect(m.call(ag.tensor([[1, 1]])).arraySync()).toEqual([[1.5, 0]]);
    const short = new Writer().packedInts(1, [3]).int(2, DT.FLOAT).packedFloats(4, [0.5, -1]).string(8, "b");
    const g2 = new Writer().message(5, short).message(11, encodeValueInfo("x", DT.FLOAT, [2])).message(12, encodeValueInfo("y", DT.FLOAT, [2]));
    g2.message(1, encodeNode({ inputs: ["x", "b"], outputs: ["y"], name: "add", opType: "Add", attrs: {} }));
    expect(errorOf(() => importOnnx(encodeModel(g2, 17, 8)))).toMatch(/initializer "b": holds 2 values but dims \[3\] need 3/);
    const external = new Writer().packedInts(1, [1]).int(2, DT.FLOAT).string(8, "e").int(14, 1);
    const g3 = new Writer().message(5, external).message(11, encodeValueInfo("x", DT.FLOAT, [1])).message(12, encodeValueInfo("x", DT.FLOAT, [1]));
    expect(errorOf(() => importOnnx(encodeModel(g3, 17, 8)))).toMatch(/external data/);
  });

  it("an int64 graph input (PyTorch's indices) takes an int32 tensor", () => {
    const w = encodeTensor({ name: "emb", dims: [5, 2], dataType: DT.FLOAT, raw: new Uint8Array(Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]).buffer) });
    const g = new Writer().message(5, w).message(11, encodeValueInfo("ids", DT.INT64, ["N"])).message(12, encodeValueInfo("y", DT.FLOAT, ["N", 2]));
    g.message(1, encodeNode({ inputs: ["emb", "ids"], outputs: ["y"], name: "g", opType: "Gather", attrs: { axis: 0 } }));
    const m = importOnnx(encodeModel(g, 17, 8));
    expect(m.call(ag.tensor([4, 1], { dtype: "int32" })).arraySync()).toEqual([[4, 4], [1, 1]]);
    expect(errorOf(() => m.call(ag.tensor([1.5])))).toMatch(/input "ids" must be int32/);
  });
});
