import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as ag from "@deltagrad/autograd";
import { Generator, Tensor, gradcheck, manualSeed, noGrad, tensor } from "@deltagrad/autograd";
import { BatchNorm2d, ConvTranspose2d, LayerNorm, LeNet5, MLP, Module, ReLU, Sequential, nllLoss } from "@deltagrad/nn";
import { OnnxModel, exportOnnx, importOnnx } from "@deltagrad/nn/onnx";
import { encodeTensor } from "../src/onnx/proto-encode.js";
import { DT, decodeModel } from "../src/onnx/proto.js";
import { errorOf, floatInit, handModel, int64Init, maxDiff, runOrt } from "./onnx-support.js";

const dir = new URL("./fixtures/onnx/", import.meta.url);
const fixture = (name: string) => ({
  bytes: new Uint8Array(readFileSync(new URL(`${name}.onnx`, dir))),
  json: JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as { input: { shape: number[]; data: number[] }; output: { shape: number[]; data: number[] }; initializers: string[] },
});
const rand = (shape: number[], seed: number) => ag.rand(shape, { generator: new Generator(seed) });
const BATCH = { x: { 0: "batch" }, y: { 0: "batch" } };
const leaf64 = (t: Tensor) => {
  const l = ag.cast(t, "float64").detach();
  l.requiresGrad = true;
  return l;
};

describe("importOnnx: PyTorch 1.13 exports", () => {
  for (const name of ["mlp", "cnn"]) {
    it(`${name}.onnx: parameters by PyTorch's names, outputs within 1e-5 of PyTorch's, other batch sizes as onnxruntime`, async () => {
      const { bytes, json } = fixture(name);
      const model = importOnnx(bytes);
      expect(model).toBeInstanceOf(OnnxModel);
      expect(model.namedParameters().map(([n]) => n)).toEqual(json.initializers);
      expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
      const x = tensor(Float32Array.from(json.input.data)).reshape(json.input.shape);
      const y = model.call(x);
      expect(y.shape).toEqual(json.output.shape);
      const got = y.dataSync();
      const worst = json.output.data.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i]!)), 0);
      expect(worst).toBeLessThan(1e-5);
      const x5 = rand([5, ...json.input.shape.slice(1)], 7);
      const { y: ort5 } = await runOrt(bytes, { x: x5 });
      expect(maxDiff(model.call(x5), ort5!)).toBeLessThan(1e-5);
    });
  }

  it("fine-tunes: one SGD step on every initializer lowers the loss; gradcheck in float64 through the CNN graph", () => {
    const { bytes, json } = fixture("cnn");
    const model = importOnnx(bytes);
    const x = tensor(Float32Array.from(json.input.data)).reshape(json.input.shape);
    const labels = tensor([3, 1, 4], { dtype: "int32" });
    const loss0 = nllLoss(model.call(x), labels); // the graph ends in LogSoftmax
    loss0.backward();
    const params = model.parameters();
    for (const p of params) expect(p.grad?.shape).toEqual(p.shape);
    noGrad(() => { for (const p of params) p.assign(p.sub(p.grad!.mul(0.1))); });
    const loss1 = nllLoss(model.call(x), labels);
    expect(loss1.itemSync()).toBeLessThan(loss0.itemSync());

    const m64 = importOnnx(bytes).to("float64");
    expect(m64.parameters().every((p) => p.dtype === "float64")).toBe(true);
    const x64 = leaf64(rand([1, 1, 28, 28], 3));
    expect(gradcheck((t) => m64.call(t).mul(tensor([[1, -2, 3, 0.5, 1, 2, -1, 0, 1, 1]], { dtype: "float64" })).sum(), [x64])).toBe(true);
    const mlp = importOnnx(fixture("mlp").bytes).to("float64");
    expect(gradcheck((t) => mlp.call(t).square().sum(), [leaf64(rand([2, 784], 4))])).toBe(true);
  });
});

describe("importOnnx on the wasm backend", () => {
  it("forward and backward of an imported model release every intermediate: wasm bytes in use stay flat", () => {
    const prev = ag.getBackend().name;
    ag.setBackend("wasm");
    try {
      const { bytes, json } = fixture("cnn");
      const model = importOnnx(bytes);
      const x = tensor(Float32Array.from(json.input.data)).reshape(json.input.shape);
      const labels = tensor([3, 1, 4], { dtype: "int32" });
      const step = () => {
        noGrad(() => model.call(x));
        nllLoss(model.call(x), labels).backward();
        model.zeroGrad();
      };
      for (let i = 0; i < 3; i++) step();
      const warm = ag.wasmMemoryStats().inUseBytes;
      for (let i = 0; i < 20; i++) step();
      expect(ag.wasmMemoryStats().inUseBytes).toBeLessThanOrEqual(warm);
    } finally {
      ag.setBackend(prev);
    }
  });
});

describe("round trip: export → import → export", () => {
  it("LeNet-5 and an MLP: the imported model equals the original, and both exported files agree in onnxruntime", async () => {
    manualSeed(9);
    const cases: [Module, number[]][] = [
      [new LeNet5({ pool: "max", activation: "relu" }), [2, 1, 28, 28]],
      [new MLP([6, 5, 4], { activation: "sigmoid" }), [2, 6]],
      [new Sequential(new ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1 }), new BatchNorm2d(3), new ReLU(), new LayerNorm([3, 7, 7])), [2, 2, 4, 4]],
    ];
    for (const [model, shape] of cases) {
      model.eval();
      const first = exportOnnx(model, ag.zeros(shape), { dynamicAxes: BATCH });
      const imported = importOnnx(first);
      const x = rand([3, ...shape.slice(1)], 5);
      expect(maxDiff(model.call(x), (await runOrt(first, { x })).y!)).toBeLessThan(1e-5);
      const again = exportOnnx(imported, ag.zeros(shape), { dynamicAxes: BATCH });
      const a = (await runOrt(first, { x })).y!;
      const b = (await runOrt(again, { x })).y!;
      expect(Array.from(b.data as Float32Array)).toEqual(Array.from(a.data as Float32Array));
      expect(maxDiff(imported.call(x), a)).toBeLessThan(1e-5);
      // the named ops come back as themselves
      const ops = (bytes: Uint8Array) => decodeModel(bytes).graph.nodes.map((n) => n.opType).filter((t) => !["Identity", "Shape", "Gather", "Concat", "Reshape", "Constant"].includes(t));
      expect(ops(again)).toEqual(ops(first));
    }
  });
});

describe("importOnnx rejects bad files with DeltagradError naming the node, building nothing", () => {
  const gemm = { op: "Gemm", inputs: ["x", "w", "b"], attrs: { transB: 1 } };
  const ok = () => handModel({ nodes: [gemm], inits: [floatInit("w", [3, 4]), floatInit("b", [3])] });

  it("a hand-made Gemm imports and runs", () => {
    const m = importOnnx(ok());
    expect(m.call(ag.ones([2, 4])).shape).toEqual([2, 3]);
  });

  it("unsupported op, missing initializer, shape mismatch, bad attribute type", () => {
    expect(errorOf(() => importOnnx(handModel({ nodes: [{ op: "LSTM", inputs: ["x"] }] })))).toMatch(/node "n0" \(LSTM\): operator "LSTM" is not supported/);
    expect(errorOf(() => importOnnx(handModel({ nodes: [gemm], inits: [floatInit("w", [3, 4])] })))).toMatch(/node "n0" \(Gemm\): input "b" is not .*missing initializer/);
    expect(errorOf(() => importOnnx(handModel({ nodes: [gemm], inits: [floatInit("w", [3, 5]), floatInit("b", [3])] })))).toMatch(/node "n0" \(Gemm\): matmul/);
    expect(errorOf(() => importOnnx(handModel({ nodes: [{ ...gemm, attrs: { transB: "yes" } }], inits: [floatInit("w", [3, 4]), floatInit("b", [3])] })))).toMatch(/node "n0" \(Gemm\): attribute transB/);
    expect(errorOf(() => importOnnx(ok().subarray(0, 40)))).toMatch(/importOnnx: malformed protobuf/);
    expect(errorOf(() => importOnnx(handModel({ nodes: [gemm], inits: [floatInit("w", [3, 4]), floatInit("b", [3])], opset: 12 })))).toMatch(/opset 12 is not supported/);
    expect(errorOf(() => importOnnx("x" as never))).toMatch(/expected a Uint8Array/);
  });

  it("a shape mismatch at run time names the node; int64 shapes are range-checked", () => {
    const m = importOnnx(ok());
    expect(errorOf(() => m.call(ag.ones([2, 5])))).toMatch(/OnnxModel: input "x" has shape \[2,5\], the graph declares \[batch,4\]/);
    const reshape = handModel({ nodes: [{ op: "Reshape", inputs: ["x", "s"] }], inits: [int64Init("s", [-1, 3])], input: [2, 4] });
    expect(errorOf(() => importOnnx(reshape))).toMatch(/node "n0" \(Reshape\): cannot reshape \[2,4\] to \[-1,3\]/);
    const big = handModel({ nodes: [{ op: "Gather", inputs: ["w", "i"] }], inits: [floatInit("w", [3, 4]), int64Init("i", [2 ** 40])], input: [2, 4] });
    expect(errorOf(() => importOnnx(big))).toMatch(/int32 range/);
  });

  it("PyTorch's shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) runs on the host for any batch", () => {
    const scalar0 = { tensor: encodeTensor({ name: "i0", dims: [], dataType: DT.INT64, raw: new Uint8Array(BigInt64Array.from([0n]).buffer) }) };
    const m = importOnnx(handModel({
      nodes: [
        { op: "Shape", inputs: ["x"] }, { op: "Constant", inputs: [], attrs: { value: scalar0 } }, { op: "Gather", inputs: ["t0", "t1"], attrs: { axis: 0 } },
        { op: "Unsqueeze", inputs: ["t2", "ax"] }, { op: "Concat", inputs: ["t3", "rest"], attrs: { axis: 0 } }, { op: "Reshape", inputs: ["x", "t4"] },
      ],
      inits: [int64Init("ax", [0]), int64Init("rest", [-1])],
      input: ["batch", 2, 3],
    }));
    const x = ag.randn([4, 2, 3]);
    expect(m.call(x).arraySync()).toEqual(x.reshape([4, 6]).arraySync());
  });

  it("names reaching Object.prototype are plain names: parameters __proto__ and constructor.weight", () => {
    const m = importOnnx(handModel({
      nodes: [{ op: "Gemm", inputs: ["x", "constructor.weight", "__proto__"], attrs: { transB: 1 } }],
      inits: [floatInit("constructor.weight", [3, 4]), floatInit("__proto__", [3])],
    }));
    expect(m.namedParameters().map(([n]) => n).sort()).toEqual(["__proto__", "constructor.weight"]);
    expect(({} as Record<string, unknown>).weight).toBeUndefined();
    expect(m.call(ag.ones([1, 4])).shape).toEqual([1, 3]);
  });
});
