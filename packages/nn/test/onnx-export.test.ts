import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as ag from "@deltagrad/autograd";
import { Generator, RULES, Tensor, customVjp, manualSeed, tensor, type DType } from "@deltagrad/autograd";
import {
  AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d, ELU, Embedding, Flatten, GELU, GroupNorm,
  LayerNorm, LeNet5, LeakyReLU, Linear, LogSoftmax, MLP, MaxPool2d, Module, MultiheadAttention, ReLU, Sequential, Sigmoid, Softmax, Softplus,
  Tanh, TransformerEncoderLayer,
} from "@deltagrad/nn";
import { exportOnnx, importOnnx } from "@deltagrad/nn/onnx";
import { PRIMITIVE_EXPORTS } from "../src/onnx/export-ops.js";
import { decodeModel } from "../src/onnx/proto.js";
import { errorOf, maxDiff, runOrt } from "./onnx-support.js";

const BATCH = { x: { 0: "batch" }, y: { 0: "batch" } };
const rand = (shape: number[], seed: number, dtype: DType = "float32") => ag.randn(shape, { dtype, generator: new Generator(seed) });

/** Exports on an example of batch 2, then checks onnxruntime against deltagrad on batches 1, 3 and 5. */
async function checkAgainstOrt(model: Module, example: Tensor, makeInput: (batch: number, seed: number) => Tensor, tol = 1e-5) {
  model.eval();
  const bytes = exportOnnx(model, example, { dynamicAxes: BATCH });
  for (const [batch, seed] of [[1, 11], [3, 12], [5, 13]] as const) {
    const x = makeInput(batch, seed);
    const { y } = await runOrt(bytes, { x });
    expect(maxDiff(ag.noGrad(() => model.call(x)), y!)).toBeLessThan(tol);
  }
  return bytes;
}

const opTypes = (bytes: Uint8Array) => decodeModel(bytes).graph.nodes.map((n) => n.opType);

describe("exportOnnx → onnxruntime-node", () => {
  it("MLP: Gemm + Relu, weights as initializers named as namedParameters, symbolic batch", async () => {
    manualSeed(1);
    const model = new MLP([784, 64, 10]);
    const bytes = await checkAgainstOrt(model, ag.zeros([2, 784]), (n, s) => rand([n, 784], s));
    const m = decodeModel(bytes);
    expect(opTypes(bytes)).toEqual(["Gemm", "Relu", "Gemm", "Identity"]);
    expect(m.graph.initializers.map((t) => t.name)).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
    expect(m.graph.inputs[0]!.dims).toEqual(["batch", 784]);
    expect(m.graph.outputs[0]!.dims).toEqual(["batch", 10]);
    expect(m.opsets).toEqual([{ domain: "", version: 17 }]);
  });

  it("LeNet-5 (tanh, average pooling, the C3 table) and a ReLU/max-pool variant: Conv, pools, a computed reshape", async () => {
    manualSeed(2);
    const classic = new LeNet5({ c3Table: true });
    const bytes = await checkAgainstOrt(classic, ag.zeros([2, 1, 28, 28]), (n, s) => rand([n, 1, 28, 28], s));
    expect(opTypes(bytes).filter((t) => t === "Conv").length).toBe(3);
    expect(opTypes(bytes)).toContain("AveragePool");
    // The C3 weight goes out as its dense filter bank, masked filters zero.
    const c3 = decodeModel(bytes).graph.initializers.find((t) => t.name === "c3.weight")!;
    expect(c3.dims).toEqual([16, 6, 5, 5]);
    const relu = new LeNet5({ pool: "max", activation: "relu" });
    const b2 = await checkAgainstOrt(relu, ag.zeros([2, 1, 32, 32]), (n, s) => rand([n, 1, 32, 32], s));
    expect(opTypes(b2)).toContain("MaxPool");
    expect(opTypes(b2)).toContain("Shape"); // reshape([n, 120]) follows the batch at run time
  });

  it("activations and pooling modules map to ONNX's named ops", async () => {
    manualSeed(3);
    const model = new Sequential(
      new Conv2d(3, 4, 3, { stride: 2, padding: 1, dilation: 1 }), new LeakyReLU({ slope: 0.2 }),
      new Conv2d(4, 4, 3, { padding: 2, dilation: 2, groups: 2 }), new ELU({ alpha: 0.7 }),
      new MaxPool2d(3, { stride: 2, padding: 1 }), new Tanh(),
      new AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false }), new Sigmoid(),
      new AdaptiveAvgPool2d(1), new Flatten(), new Softplus(), new Linear(4, 6), new Softmax(), new LogSoftmax({ axis: 1 }),
    );
    const bytes = await checkAgainstOrt(model, ag.zeros([2, 3, 9, 9]), (n, s) => rand([n, 3, 9, 9], s));
    expect(opTypes(bytes)).toEqual([
      "Conv", "LeakyRelu", "Conv", "Elu", "MaxPool", "Tanh", "AveragePool", "Sigmoid", "GlobalAveragePool", "Flatten", "Softplus", "Gemm", "Softmax", "LogSoftmax", "Identity",
    ]);
  });

  it("new layers: BatchNorm (eval, running stats), LayerNorm, GroupNorm (primitives), Conv1d, ConvTranspose2d", async () => {
    manualSeed(4);
    const bn = new BatchNorm2d(4);
    bn.train().call(rand([6, 4, 5, 5], 40)); // move the running statistics away from 0 and 1
    const conv = new Sequential(new Conv2d(2, 4, 3, { padding: 1 }), bn, new ReLU(), new ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), new GroupNorm(3, 3));
    const b1 = await checkAgainstOrt(conv, ag.zeros([2, 2, 6, 6]), (n, s) => rand([n, 2, 6, 6], s));
    expect(opTypes(b1).slice(0, 4)).toEqual(["Conv", "BatchNormalization", "Relu", "ConvTranspose"]);
    expect(decodeModel(b1).graph.initializers.map((t) => t.name)).toContain("1.running_mean");
    const bn1 = new BatchNorm1d(8);
    bn1.train().call(rand([5, 8, 7], 41));
    const seq = new Sequential(new Conv1d(3, 8, 3, { padding: 1 }), bn1, new LayerNorm(7), new GELU());
    const b2 = await checkAgainstOrt(seq, ag.zeros([2, 3, 7]), (n, s) => rand([n, 3, 7], s));
    expect(opTypes(b2).slice(0, 3)).toEqual(["Conv", "BatchNormalization", "LayerNormalization"]);
    expect(opTypes(b2)).toContain("Erf"); // GELU: no ONNX op before opset 20, so its primitives
  });

  it("Embedding → Gather on int32 indices (and the primitive fallback for everything around it)", async () => {
    manualSeed(5);
    class Bag extends Module {
      readonly emb = new Embedding(20, 6, { paddingIdx: 0 });
      readonly fc = new Linear(6, 3);
      forward(ids: Tensor) { return this.fc.call(ag.mean(this.emb.call(ids), { axis: 1 })); }
    }
    const ids = (n: number, s: number) => ag.randint(0, 20, [n, 4], { generator: new Generator(s) });
    const bytes = await checkAgainstOrt(new Bag(), ids(2, 1), ids);
    expect(opTypes(bytes)).toContain("Gather");
  });

  it("attention: a causal MultiheadAttention and a TransformerEncoderLayer, as primitives (boolean Where as And/Or/Not)", async () => {
    manualSeed(7);
    class SelfAttention extends Module {
      readonly mha = new MultiheadAttention(8, 2, { batchFirst: true });
      forward(x: Tensor) { return this.mha.call(x, x, x, { isCausal: true, needWeights: false })[0]; }
    }
    class Encoder extends Module {
      readonly layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
      forward(x: Tensor) { return this.layer.call(x); }
    }
    for (const [model, ops] of [[new SelfAttention(), ["MatMul", "Or", "And", "Not"]], [new Encoder(), ["MatMul", "LayerNormalization"]]] as const) {
      const bytes = await checkAgainstOrt(model, ag.zeros([2, 5, 8]), (n, s) => rand([n, 5, 8], s));
      expect(opTypes(bytes)).toEqual(expect.arrayContaining([...ops]));
      // and back: the imported graph computes the same
      const back = importOnnx(bytes);
      const x = rand([3, 5, 8], 21);
      expect(ag.max(ag.abs(ag.sub(back.call(x), model.call(x)))).itemSync()).toBeLessThan(1e-5);
    }
  });

  it("every primitive of RULES has an ONNX mapping, and a primitive-level model matches onnxruntime", async () => {
    expect(Object.keys(RULES).filter((p) => !PRIMITIVE_EXPORTS.has(p))).toEqual([]);
    class Prims extends Module {
      readonly a = tensor([[0.5, -1, 2, 0.25]], { requiresGrad: true });
      forward(x: Tensor) {
        const e = ag.exp(ag.neg(x)).add(ag.sqrt(ag.abs(x).add(1))).mul(ag.log(ag.square(x).add(2)));
        const m = ag.maximum(e, this.a).sub(ag.erf(x)).add(ag.sin(x)).add(ag.cos(x)).add(ag.log1p(ag.abs(x))).add(ag.expm1(ag.neg(ag.abs(x))));
        const w = ag.where(ag.greater(x, 0), m, ag.reciprocal(ag.add(ag.abs(x), 1)));
        const s = ag.sum(w, { axis: 1, keepDims: true }).add(ag.max(w, { axis: 1, keepDims: true }));
        const p = ag.pad(ag.slice(w, [0, 1], [w.shape[0]!, 2]), [[0, 0], [1, 2]], 0.5); // [n, 5]
        const c = ag.concat([p, s, ag.sign(ag.sub(x, 0.1))], 1); // [n, 10]
        const t = ag.permute(ag.reshape(c, [c.shape[0]!, 2, 5]), [0, 2, 1]); // [n, 5, 2]
        const mm = ag.matmul(t, ag.expand(ag.reshape(this.a, [1, 2, 2]), [t.shape[0]!, 2, 2])); // batched matmul
        const idx = ag.cast(ag.argmax(w, { axis: 1, keepDims: true }), "float32");
        const g = ag.gather(ag.reshape(mm, [mm.shape[0]!, 10]), tensor([3, 0, 9], { dtype: "int32" }), 1);
        const eq = ag.cast(ag.notEqual(ag.lessEqual(x, 0), ag.less(x, 0.5)), "float32");
        return ag.concat([g, idx, ag.sum(eq, { axis: 1, keepDims: true })], 1);
      }
    }
    const bytes = await checkAgainstOrt(new Prims(), ag.zeros([2, 4]).add(0.3), (n, s) => rand([n, 4], s));
    const ops = new Set(opTypes(bytes));
    for (const op of ["Exp", "Sqrt", "Log", "Max", "Erf", "Sin", "Cos", "Where", "Greater", "ReduceSum", "ReduceMax", "Slice", "Pad", "Concat", "Sign", "Transpose", "Reshape", "Expand", "MatMul", "ArgMax", "Cast", "Gather", "Not", "Equal", "LessOrEqual", "Less", "Reciprocal", "Neg", "Mul"]) {
      expect([op, ops.has(op)]).toEqual([op, true]);
    }
  });

  it("a model without dynamic axes keeps the example's batch; opsets 13–16 work too (LayerNorm as primitives there)", async () => {
    manualSeed(6);
    const model = new Sequential(new Linear(5, 4), new LayerNorm(4), new Tanh(), new Linear(4, 3), new Softmax()).eval();
    const x = rand([2, 5], 1);
    for (const opset of [13, 14, 15, 16]) {
      const bytes = exportOnnx(model, x, { opset, inputNames: ["input"], outputNames: ["logits"] });
      const m = decodeModel(bytes);
      expect(m.opsets[0]!.version).toBe(opset);
      expect(m.graph.inputs[0]).toMatchObject({ name: "input", dims: [2, 5] });
      const { logits } = await runOrt(bytes, { input: x });
      expect(maxDiff(model.call(x), logits!)).toBeLessThan(1e-5);
      expect(opTypes(bytes)).not.toContain("LayerNormalization"); // opset 17
    }
  });

  it("several outputs, named y, y1, … unless outputNames says otherwise", async () => {
    class Two extends Module {
      readonly fc = new Linear(3, 2);
      forward(x: Tensor) {
        const h = this.fc.call(x);
        return [h, ag.exp(h)] as unknown as Tensor;
      }
    }
    const model = new Two().eval();
    const x = rand([4, 3], 2);
    const bytes = exportOnnx(model, x, { dynamicAxes: { x: { 0: "n" } } });
    expect(decodeModel(bytes).graph.outputs.map((o) => [o.name, o.dims])).toEqual([["y", ["n", 2]], ["y1", ["n", 2]]]);
    const out = await runOrt(bytes, { x });
    const [h, e] = model.call(x) as unknown as [Tensor, Tensor];
    expect(maxDiff(h, out.y!)).toBeLessThan(1e-6);
    expect(maxDiff(e, out.y1!)).toBeLessThan(1e-6);
  });
});

describe("exportOnnx refuses clearly, before producing any bytes", () => {
  it("a model in training mode", () => {
    expect(errorOf(() => exportOnnx(new MLP([2, 2]), ag.zeros([1, 2])))).toMatch(/training mode.*model\.eval\(\)/);
  });

  it("unfold and windowArgmax outside a recognised layer (functional conv2d, maxPool2d), and customVjp, naming the op", () => {
    class Functional extends Module {
      readonly w = ag.randn([2, 1, 3, 3], { requiresGrad: true });
      forward(x: Tensor) { return ag.conv2d(x, this.w); }
    }
    expect(errorOf(() => exportOnnx(new Functional().eval(), ag.zeros([1, 1, 5, 5])))).toMatch(/primitive unfold.*Conv2d/);
    class FunctionalPool extends Module { forward(x: Tensor) { return ag.maxPool2d(x, { kernel: 2 }); } }
    expect(errorOf(() => exportOnnx(new FunctionalPool().eval(), ag.zeros([1, 1, 4, 4])))).toMatch(/primitive windowArgmax.*MaxPool2d/);
    const f = customVjp((x: Tensor) => x.mul(2), (g) => [g.mul(2)]);
    class Custom extends Module { forward(x: Tensor) { return f(x); } }
    expect(errorOf(() => exportOnnx(new Custom().eval(), ag.zeros([1, 2])))).toMatch(/customVjp/);
  });

  it("junk options and arguments (fast-check): a DeltagradError or bytes, never another exception", () => {
    const m = new MLP([2, 2]).eval();
    const junk = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.string({ maxLength: 3 }), fc.constant([]), fc.constant({}), fc.constant([1, "x"]));
    const names = fc.oneof(junk, fc.array(fc.oneof(fc.string({ maxLength: 2 }), junk), { maxLength: 2 }));
    const axes = fc.oneof(junk, fc.dictionary(fc.constantFrom("x", "y", "__proto__", "z"), fc.oneof(junk, fc.dictionary(fc.constantFrom("0", "1", "-1", "2", "a"), fc.oneof(junk, fc.string({ maxLength: 2 }))))));
    const opts = fc.oneof(junk, fc.record({ opset: fc.oneof(junk, fc.integer({ min: 12, max: 18 })), inputNames: names, outputNames: names, dynamicAxes: axes }, { requiredKeys: [] }));
    const inputs = fc.oneof(fc.constant(ag.zeros([3, 2])), fc.constant([ag.zeros([3, 2])]), junk, fc.constant(ag.zeros([3, 5])));
    fc.assert(fc.property(inputs, opts, (x, o) => {
      try {
        expect(exportOnnx(m, x as never, o as never)).toBeInstanceOf(Uint8Array);
      } catch (e) {
        if (!(e instanceof ag.DeltagradError)) throw e;
      }
    }), { numRuns: 200, seed: 11 });
    expect(errorOf(() => importOnnx(new Uint8Array(0), 5 as never))).toMatch(/options must be an object/);
  });

  it("bad options, and axes whose size leaks into a constant", () => {
    const m = new MLP([2, 2]).eval();
    expect(errorOf(() => exportOnnx(m, ag.zeros([1, 2]), { opset: 12 }))).toMatch(/opset must be an integer 13–17/);
    expect(errorOf(() => exportOnnx(m, [] as never))).toMatch(/exampleInputs/);
    expect(errorOf(() => exportOnnx({} as never, ag.zeros([1, 2])))).toMatch(/expected a Module/);
    expect(errorOf(() => exportOnnx(m, ag.zeros([1, 2]), { dynamicAxes: { x: { 3: "b" } } }))).toMatch(/axis 3 does not exist/);
    class Leaky extends Module { forward(x: Tensor) { return x.add(ag.ones([x.shape[0]!, 2])); } }
    expect(errorOf(() => exportOnnx(new Leaky().eval(), ag.zeros([2, 2]), { dynamicAxes: BATCH }))).toMatch(/changes shape with dynamic axis "batch"/);
  });
});
