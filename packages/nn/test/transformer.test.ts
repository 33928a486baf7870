import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Generator, gradcheck, tensor, type Tensor } from "@deltagrad/autograd";
import { readFileSync } from "node:fs";
import { GELU, GRU, LSTM, LayerNorm, TransformerEncoder, TransformerEncoderLayer, causalMask, loadTorchStateDict, torchStateDict } from "@deltagrad/nn";
import { checkParamGrads, expectClose, flat, randn64, type Nested } from "./seq-support.js";
import { errorOf } from "@deltagrad/autograd/testing";

/** PyTorch 1.13 float64 references made by fixtures/make-transformer-fixture.py. */
const fixture = JSON.parse(readFileSync(new URL("./fixtures/transformer-encoder.json", import.meta.url), "utf8")) as {
  dtype: string;
  cases: {
    name: string; args: [number, number]; options: Record<string, unknown>; params: Record<string, Nested>; inputs: Record<string, unknown>;
    input_dtypes: Record<string, string>; outputs: { output: Nested }; cotangents: { output: Nested }; grads: { inputs: { src: Nested }; params: Record<string, Nested> };
  }[];
};

/** nn.TransformerEncoder stacks (same generator script). */
const stack = JSON.parse(readFileSync(new URL("./fixtures/transformer-stack.json", import.meta.url), "utf8")) as {
  cases: (typeof fixture.cases[number] & { numLayers: number; finalNorm: boolean })[];
};

const shapeOf = (v: unknown): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
const num = (v: unknown): number => (v === "-inf" ? -Infinity : Number(v));
const deep = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(deep) : [num(v)]);


const nested = (t: Tensor) => t.arraySync() as number[][][];

describe("PyTorch fixture (transformer-encoder.json, float64) within 1e-6", () => {
  it("has 4 cases", () => {
    expect(fixture.dtype).toBe("float64");
    expect(fixture.cases.length).toBe(4);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s: output, input and parameter gradients", (_, c) => {
    const layer = new TransformerEncoderLayer(c.args[0], c.args[1], { ...(c.options as object), dtype: "float64" });
    const sd = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, tensor(flat(v), { dtype: "float64" }).reshape(shapeOf(v))]));
    expect(loadTorchStateDict(layer, sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const src = tensor(deep(c.inputs.src), { dtype: "float64" }).reshape(shapeOf(c.inputs.src)).requiresGrad_();
    const mask = (k: string) => {
      if (!(k in c.inputs)) return undefined;
      const v = c.inputs[k];
      return c.input_dtypes[k] === "bool" ? tensor(deep(v).map((b) => b !== 0), { dtype: "bool" }).reshape(shapeOf(v)) : tensor(deep(v), { dtype: "float64" }).reshape(shapeOf(v));
    };
    const out = layer.call(src, { srcMask: mask("src_mask"), srcKeyPaddingMask: mask("src_key_padding_mask") });
    expectClose(out, c.outputs.output, 1e-6, `${c.name} output`);
    out.mul(tensor(flat(c.cotangents.output), { dtype: "float64" }).reshape(out.shape)).sum().backward();
    expectClose(src.grad!, c.grads.inputs.src, 1e-6, `${c.name} d/dsrc`);
    const linear = new Set(["self_attn.out_proj.weight", "linear1.weight", "linear2.weight"]);
    const params = Object.fromEntries(layer.namedParameters());
    for (const [k, g] of Object.entries(c.grads.params)) {
      const mine = linear.has(k) ? ag.transpose(params[k]!.grad!) : params[k]!.grad!;
      expectClose(mine, g, 1e-6, `${c.name} d/d${k}`);
    }
  });
});

describe("TransformerEncoder (PyTorch fixture transformer-stack.json within 1e-6; clones)", () => {
  it.each(stack.cases.map((c) => [c.name, c] as const))("%s: output, input and parameter gradients", (_, c) => {
    const layer = new TransformerEncoderLayer(c.args[0], c.args[1], { ...(c.options as object), dtype: "float64" });
    const enc = new TransformerEncoder(layer, c.numLayers, { norm: c.finalNorm ? new LayerNorm(c.args[0], { dtype: "float64" }) : null });
    const sd = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, tensor(flat(v), { dtype: "float64" }).reshape(shapeOf(v))]));
    expect(loadTorchStateDict(enc, sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const src = tensor(deep(c.inputs.src), { dtype: "float64" }).reshape(shapeOf(c.inputs.src)).requiresGrad_();
    const m = (k: string) => (k in c.inputs ? (c.input_dtypes[k] === "bool" ? tensor(deep(c.inputs[k]).map((b) => b !== 0), { dtype: "bool" }) : tensor(deep(c.inputs[k]), { dtype: "float64" })).reshape(shapeOf(c.inputs[k])) : undefined);
    const out = enc.call(src, { mask: m("mask"), srcKeyPaddingMask: m("src_key_padding_mask") });
    expectClose(out, c.outputs.output, 1e-6, `${c.name} output`);
    out.mul(tensor(flat(c.cotangents.output), { dtype: "float64" }).reshape(out.shape)).sum().backward();
    expectClose(src.grad!, c.grads.inputs.src, 1e-6, `${c.name} d/dsrc`);
    const params = Object.fromEntries(enc.namedParameters());
    for (const [k, g] of Object.entries(c.grads.params)) {
      const mine = /(out_proj|linear1|linear2)\.weight$/.test(k) ? ag.transpose(params[k]!.grad!) : params[k]!.grad!;
      expectClose(mine, g, 1e-6, `${c.name} d/d${k}`);
    }
  });

  it("clones the layer: equal starting values in separate tensors, dtype and mode kept; names as PyTorch's", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, activation: "gelu" }).to("float64").eval();
    const enc = new TransformerEncoder(layer, 2, { norm: new LayerNorm(4) });
    const [a, b] = [enc.layers.at(0)!, enc.layers.at(1)!];
    expect(a.linear1.weight.dataSync()).toEqual(layer.linear1.weight.dataSync());
    expect(b.linear1.weight.dataSync()).toEqual(layer.linear1.weight.dataSync());
    expect(a.linear1.weight).not.toBe(b.linear1.weight);
    expect(a.linear1.weight.dtype).toBe("float64");
    expect(a.training).toBe(false);
    expect(a.activation).toBeInstanceOf(GELU);
    expect(Object.keys(torchStateDict(enc)).filter((k) => !k.startsWith("layers.0."))).toEqual([
      "layers.1.self_attn.in_proj_weight", "layers.1.self_attn.in_proj_bias", "layers.1.self_attn.out_proj.weight", "layers.1.self_attn.out_proj.bias",
      "layers.1.linear1.weight", "layers.1.linear1.bias", "layers.1.linear2.weight", "layers.1.linear2.bias",
      "layers.1.norm1.weight", "layers.1.norm1.bias", "layers.1.norm2.weight", "layers.1.norm2.bias", "norm.weight", "norm.bias",
    ]);
    expect(errorOf(() => new TransformerEncoder(layer, 0))).toBe("TransformerEncoder: numLayers must be a positive integer, got 0");
    expect(errorOf(() => new TransformerEncoder({} as never, 2))).toMatch(/^TransformerEncoder: encoderLayer must be a TransformerEncoderLayer/);
  });

  it("gradcheck (float64) through a two-layer causal stack with a final norm", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 3, dropout: 0, normFirst: true, dtype: "float64", generator: new Generator(8) });
    const enc = new TransformerEncoder(layer, 2, { norm: new LayerNorm(4, { dtype: "float64" }) });
    const x = randn64([3, 2, 4], 40, true);
    expect(gradcheck((t) => enc.call(t!, { isCausal: true }), [x])).toBe(true);
    const ct = randn64([3, 2, 4], 41);
    const xd = x.detach();
    checkParamGrads(enc, () => enc.call(xd, { isCausal: true }).mul(ct).sum());
  });
});

describe("TransformerEncoderLayer", () => {
  it("has PyTorch's parameter names, order and shapes (Linear weights transposed in torchStateDict)", () => {
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    expect(Object.entries(torchStateDict(layer)).map(([n, t]) => `${n} [${t.shape}]`)).toEqual([
      "self_attn.in_proj_weight [24,8]", "self_attn.in_proj_bias [24]", "self_attn.out_proj.weight [8,8]", "self_attn.out_proj.bias [8]",
      "linear1.weight [16,8]", "linear1.bias [16]", "linear2.weight [8,16]", "linear2.bias [8]",
      "norm1.weight [8]", "norm1.bias [8]", "norm2.weight [8]", "norm2.bias [8]",
    ]);
    expect(new TransformerEncoderLayer(8, 2).linear1.outFeatures).toBe(2048);
    expect(new TransformerEncoderLayer(8, 2).dropout.p).toBe(0.1);
    expect(new TransformerEncoderLayer(8, 2).self_attn.dropout).toBe(0.1);
  });

  for (const normFirst of [false, true]) {
    it(`${normFirst ? "pre" : "post"}-norm equals the composition of its children`, () => {
      const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, normFirst, dtype: "float64", generator: new Generator(1) }).eval();
      const x = randn64([3, 2, 4], 2);
      const sa = (h: Tensor) => layer.self_attn.call(h, h, h, { isCausal: true })[0];
      const ff = (h: Tensor) => layer.linear2.call(layer.linear1.call(h).relu());
      let expected: Tensor;
      if (normFirst) {
        const h = x.add(sa(layer.norm1.call(x)));
        expected = h.add(ff(layer.norm2.call(h)));
      } else {
        const h = layer.norm1.call(x.add(sa(x)));
        expected = layer.norm2.call(h.add(ff(h)));
      }
      expectClose(layer.call(x, { isCausal: true }), nested(expected), 1e-14, "composition");
    });
  }

  it("masks reach the attention: isCausal = bool srcMask; padding keys are ignored; gelu activation", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, batchFirst: true, activation: "gelu", dtype: "float64" }).eval();
    expect(layer.activation).toBeInstanceOf(GELU);
    const x = randn64([2, 3, 4], 5);
    const causal = layer.call(x, { isCausal: true });
    expectClose(causal, nested(layer.call(x, { srcMask: ag.logicalNot(causalMask(3)) })), 0, "isCausal vs mask");
    expect(causal.dataSync()).not.toEqual(layer.call(x).dataSync());
    // With the last position padded, the other positions do not depend on its value.
    const pad = tensor([[false, false, true], [false, false, true]]);
    const x2 = ag.concat([x.slice([0, 0, 0], [2, 2, 4]), randn64([2, 1, 4], 6)], 1);
    const a = layer.call(x, { srcKeyPaddingMask: pad }).slice([0, 0, 0], [2, 2, 4]);
    const b = layer.call(x2, { srcKeyPaddingMask: pad }).slice([0, 0, 0], [2, 2, 4]);
    expectClose(a, nested(b), 1e-14, "padding");
  });

  it("gradcheck with dropout: train mode with the masks fixed by reseeding, and eval mode", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 5, dropout: 0.3, dtype: "float64" });
    const x = randn64([3, 2, 4], 21, true);
    // The layer draws from the default generator; reseeding it makes every evaluation use the same masks.
    const seeded = (t: Tensor) => { ag.manualSeed(5); return layer.call(t, { isCausal: true }); };
    expect(seeded(x).dataSync()).not.toEqual(layer.eval().call(x, { isCausal: true }).dataSync());
    layer.train();
    expect(gradcheck((t) => seeded(t!), [x])).toBe(true);
    const ct = randn64([3, 2, 4], 22);
    const xd = x.detach();
    checkParamGrads(layer, () => seeded(xd).mul(ct).sum());
    layer.eval();
    expect(gradcheck((t) => layer.call(t!), [x])).toBe(true);
  });

  it("to(float64) converts every parameter (MultiheadAttention's own fields included) and the next call uses them", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0 });
    const x32 = ag.randn([3, 2, 4]);
    const y32 = layer.call(x32);
    layer.to("float64");
    expect(layer.parameters().every((p) => p.dtype === "float64")).toBe(true);
    expect(layer.self_attn.in_proj_weight.dtype).toBe("float64");
    const y64 = layer.call(x32.cast("float64"));
    expect(y64.dtype).toBe("float64");
    expectClose(y64, nested(y32), 1e-5, "float32 vs float64");
  });

  it.skipIf(!ag.wasmSimdSupported())("wasm: forward and backward of LSTM, GRU, MultiheadAttention and TransformerEncoderLayer (pre- and post-norm) release every intermediate", () => {
    const prev = ag.getBackend().name;
    ag.setBackend("wasm");
    try {
      // Sizes above the few-KiB threshold under which the wasm backend keeps tensors on the JS heap.
      const lstm = new LSTM(32, 64, { numLayers: 2, bidirectional: true });
      const gru = new GRU(32, 64);
      const pre = new TransformerEncoderLayer(64, 4, { dimFeedforward: 128, normFirst: true });
      const post = new TransformerEncoderLayer(64, 4, { dimFeedforward: 128 });
      const xs = ag.randn([6, 4, 32]);
      const xt = ag.randn([6, 4, 64]);
      const kv = ag.randn([5, 4, 64]);
      const pad = ag.zeros([4, 5], { dtype: "bool" });
      // The test disposes what it holds (results and losses); the layers must release the rest.
      const flatten = (v: unknown): Tensor[] => (Array.isArray(v) ? v.flatMap(flatten) : v instanceof ag.Tensor ? [v] : []);
      const backward = (out: unknown) => {
        const ts = flatten(out);
        const loss = ts.map((t) => t.sum()).reduce((a, b) => a.add(b));
        loss.backward();
        loss.dispose();
        ts.forEach((t) => t.dispose());
      };
      const step = () => {
        flatten(ag.noGrad(() => pre.call(xt, { isCausal: true }))).forEach((t) => t.dispose());
        backward(lstm.call(xs));
        backward(gru.call(xs));
        backward(pre.call(xt, { isCausal: true }));
        backward(post.call(xt, { srcKeyPaddingMask: ag.zeros([4, 6], { dtype: "bool" }) }));
        backward(pre.self_attn.call(xt, kv, kv, { keyPaddingMask: pad }));
        for (const m of [lstm, gru, pre, post]) m.zeroGrad();
      };
      for (let i = 0; i < 3; i++) step();
      const warm = ag.wasmMemoryStats().inUseBytes;
      for (let i = 0; i < 10; i++) step();
      expect(ag.wasmMemoryStats().inUseBytes).toBeLessThanOrEqual(warm);
    } finally {
      ag.setBackend(prev);
    }
  });

  it("dropout acts in training mode only", () => {
    const layer = new TransformerEncoderLayer(4, 1, { dimFeedforward: 8, dropout: 0.5, generator: new Generator(3) });
    const x = ag.randn([3, 2, 4]);
    expect(layer.call(x).dataSync()).not.toEqual(layer.call(x).dataSync());
    layer.eval();
    expect(layer.call(x).dataSync()).toEqual(layer.call(x).dataSync());
  });

  const arb = fc.record({
    dModel: fc.constantFrom(2, 4),
    nHead: fc.constantFrom(1, 2),
    ff: fc.integer({ min: 1, max: 4 }),
    L: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 2 }),
    normFirst: fc.boolean(),
    batchFirst: fc.boolean(),
    causal: fc.boolean(),
    activation: fc.constantFrom("relu", "gelu"),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  test.prop([arb], { numRuns: 8, seed: 21 })("gradcheck (float64): input and every parameter (dropout 0)", (p) => {
    const layer = new TransformerEncoderLayer(p.dModel, p.nHead, {
      dimFeedforward: p.ff, dropout: 0, normFirst: p.normFirst, batchFirst: p.batchFirst, activation: p.activation, dtype: "float64", generator: new Generator(p.seed),
    });
    // Give the LayerNorms non-trivial affine parameters, so their gradients are checked at a generic point.
    for (const n of [layer.norm1, layer.norm2]) {
      n.weight!.assign(randn64([p.dModel], p.seed + 7));
      n.bias!.assign(randn64([p.dModel], p.seed + 8));
    }
    const x = randn64(p.batchFirst ? [p.N, p.L, p.dModel] : [p.L, p.N, p.dModel], p.seed + 1, true);
    const opts = { isCausal: p.causal };
    expect(gradcheck((x) => layer.call(x!, opts), [x])).toBe(true);
    const ct = randn64(x.shape, p.seed + 2);
    const xd = x.detach();
    checkParamGrads(layer, () => layer.call(xd, opts).mul(ct).sum());
  });

  it("errors name the layer", () => {
    expect(errorOf(() => new TransformerEncoderLayer(6, 4))).toBe("TransformerEncoderLayer: dModel 6 must be divisible by nHead 4");
    expect(errorOf(() => new TransformerEncoderLayer(8, 2, { dimFeedforward: 0 }))).toBe("TransformerEncoderLayer: dimFeedforward must be a positive integer, got 0");
    expect(errorOf(() => new TransformerEncoderLayer(8, 2, { activation: "nope" }))).toMatch(/unknown activation "nope"/);
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 4 });
    expect(errorOf(() => layer.call(ag.zeros([3, 2, 5])))).toBe("TransformerEncoderLayer(8): src must be a tensor [L, N, dModel] (or unbatched [L, dModel]) with dModel = 8, got [3,2,5]");
    expect(errorOf(() => layer.call(null as never))).toMatch(/^TransformerEncoderLayer\(8\): src must be a tensor .* got null/);
    expect(errorOf(() => new TransformerEncoderLayer(8, 2, { batchFirst: null as never }))).toBe("TransformerEncoderLayer: batchFirst must be a boolean, got null");
    expect(errorOf(() => new TransformerEncoderLayer(2 ** 15, 1))).toMatch(/^TransformerEncoderLayer: dModel 32768 and dimFeedforward 2048 are too large/);
    expect(errorOf(() => layer.call(ag.zeros([3, 2, 8]), { srcMask: causalMask(3), isCausal: true }))).toMatch(/either attnMask or isCausal/);
  });
});
