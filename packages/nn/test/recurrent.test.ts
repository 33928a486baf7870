import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Generator, gradcheck, noGrad, tensor, type Tensor } from "@deltagrad/autograd";
import { GRU, LSTM, RNN } from "@deltagrad/nn";
import { readFileSync } from "node:fs";
import { casesOf, checkParamGrads, expectClose, fixture, fixtureLoss, flat, inputTensor, joined, randn64, type SeqCase } from "./seq-support.js";
import { errorOf } from "@deltagrad/autograd/testing";

/** Bidirectional cases made by fixtures/make-recurrent-fixture.py (PyTorch 1.13, float64); shapes read off the nested arrays. */
const bidirectional = JSON.parse(readFileSync(new URL("./fixtures/recurrent-bidirectional.json", import.meta.url), "utf8")) as { dtype: string; cases: SeqCase[] };
const shapeOf = (v: unknown): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
for (const c of bidirectional.cases) {
  c.shapes = {};
  for (const [kind, rec] of [["input", c.inputs], ["param", c.params!], ["output", c.outputs]] as const) for (const [k, v] of Object.entries(rec)) c.shapes[`${kind}.${k}`] = shapeOf(v);
}

type AnyRecurrent = RNN | LSTM | GRU;

function build(layer: string, args: number[], options: Record<string, unknown>): AnyRecurrent {
  const [i, h] = args as [number, number];
  const o = { ...options, dtype: "float64" as const };
  if (layer === "RNN") return new RNN(i, h, o);
  if (layer === "LSTM") return new LSTM(i, h, o);
  if (layer === "GRU") return new GRU(i, h, o);
  throw new Error(`no recurrent layer ${layer}`);
}

/** Calls any of the three with an optional state: [output, hN, cN?]. */
function run(m: AnyRecurrent, x: Tensor, h0?: Tensor, c0?: Tensor): Tensor[] {
  if (m instanceof LSTM) {
    const [out, [h, c]] = m.call(x, h0 ? [h0, c0!] : undefined);
    return [out, h, c];
  }
  const [out, h] = m.call(x, h0);
  return [out, h];
}


describe("PyTorch fixture (layers-seq.json): RNN, LSTM, GRU in float64 within 1e-6", () => {
  const cases = [...casesOf("RNN"), ...casesOf("LSTM"), ...casesOf("GRU")];
  it("has the 16 recurrent cases", () => {
    expect(fixture.dtype).toBe("float64");
    expect(cases.length).toBe(16);
  });

  it.each(cases)("%s: outputs, input and parameter gradients", (_, c: SeqCase) => checkCase(c));
});

describe("PyTorch fixture (recurrent-bidirectional.json): bidirectional RNN, LSTM, GRU in float64 within 1e-6", () => {
  it("has 6 cases", () => {
    expect(bidirectional.dtype).toBe("float64");
    expect(bidirectional.cases.length).toBe(6);
  });
  it.each(bidirectional.cases.map((c) => [c.name, c] as const))("%s: outputs, input and parameter gradients", (_, c) => checkCase(c));
});

function checkCase(c: SeqCase): void {
  {
    const m = build(c.layer, c.args!, c.options);
    const sd = Object.fromEntries(Object.entries(c.params!).map(([k, v]) => [k, tensor(flat(v), { dtype: "float64" }).reshape(c.shapes[`param.${k}`]!)]));
    expect(m.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] }); // PyTorch's names and layouts, unchanged
    if (c.mode === "eval") m.eval();
    const x = inputTensor(c, "input");
    const h0 = "h0" in c.inputs ? inputTensor(c, "h0") : undefined;
    const c0 = "c0" in c.inputs ? inputTensor(c, "c0") : undefined;
    const [output, hN, cN] = run(m, x, h0, c0);
    const outs: Record<string, Tensor> = { output: output!, h_n: hN! };
    if (cN) outs.c_n = cN;
    for (const [k, v] of Object.entries(c.outputs)) {
      expect(outs[k]!.shape).toEqual(c.shapes[`output.${k}`]);
      expectClose(outs[k]!, v, 1e-6, `${c.name} ${k}`);
    }
    fixtureLoss(outs, c).backward();
    const leaves: Record<string, Tensor | undefined> = { input: x, h0, c0 };
    for (const [k, v] of Object.entries(c.grads.inputs)) expectClose(leaves[k]!.grad!, v, 1e-6, `${c.name} d/d${k}`);
    const params = Object.fromEntries(m.namedParameters());
    for (const [k, v] of Object.entries(c.grads.params!)) expectClose(params[k]!.grad!, v, 1e-6, `${c.name} d/d${k}`);
  }
}

describe("gradcheck (float64) over random sizes", () => {
  const arb = fc.record({
    layer: fc.constantFrom("RNN-tanh", "RNN-relu", "LSTM", "GRU"),
    L: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 2 }),
    I: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 3 }),
    numLayers: fc.integer({ min: 1, max: 2 }),
    batchFirst: fc.boolean(),
    bias: fc.boolean(),
    withState: fc.boolean(),
    unbatched: fc.boolean(),
    bidirectional: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });

  test.prop([arb], { numRuns: 12, seed: 21 })("inputs, initial states and every parameter", (p) => {
    const [layer, nl] = p.layer.split("-") as [string, string | undefined];
    const m = build(layer, [p.I, p.H], { numLayers: p.numLayers, batchFirst: p.batchFirst, bias: p.bias, bidirectional: p.bidirectional, ...(nl ? { nonlinearity: nl } : {}), generator: new Generator(p.seed) });
    const xShape = p.unbatched ? [p.L, p.I] : p.batchFirst ? [p.N, p.L, p.I] : [p.L, p.N, p.I];
    const D = p.bidirectional ? 2 : 1;
    const sShape = p.unbatched ? [D * p.numLayers, p.H] : [D * p.numLayers, p.N, p.H];
    const x = randn64(xShape, p.seed + 1, true);
    const h0 = randn64(sShape, p.seed + 2, true);
    const c0 = randn64(sShape, p.seed + 3, true);
    const isLstm = m instanceof LSTM;
    const outs = run(m, x);
    expect(outs[0]!.shape).toEqual([...xShape.slice(0, -1), D * p.H]);
    for (const s of outs.slice(1)) expect(s.shape).toEqual(sShape);
    if (p.withState) {
      const inputs = isLstm ? [x, h0, c0] : [x, h0];
      expect(gradcheck((x, h, c) => joined(...run(m, x!, h, c)), inputs)).toBe(true);
    } else {
      expect(gradcheck((x) => joined(...run(m, x!)), [x])).toBe(true);
    }
    const ct = randn64([outs.reduce((n, o) => n + o.size, 0)], p.seed + 4);
    const xd = x.detach();
    checkParamGrads(m, () => joined(...run(m, xd, p.withState ? h0.detach() : undefined, p.withState ? c0.detach() : undefined)).mul(ct).sum());
  });
});

describe("semantics", () => {
  it("parameter names, PyTorch layouts and order; uniform(±1/√H) init, seeded", () => {
    const lstm = new LSTM(3, 5, { numLayers: 2, generator: new Generator(1) });
    expect(lstm.namedParameters().map(([n, p]) => `${n} [${p.shape}]`)).toEqual([
      "weight_ih_l0 [20,3]", "weight_hh_l0 [20,5]", "bias_ih_l0 [20]", "bias_hh_l0 [20]",
      "weight_ih_l1 [20,5]", "weight_hh_l1 [20,5]", "bias_ih_l1 [20]", "bias_hh_l1 [20]",
    ]);
    const bound = 1 / Math.sqrt(5);
    const all = lstm.parameters().flatMap((p) => Array.from(p.dataSync()));
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...all.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(new LSTM(3, 5, { numLayers: 2, generator: new Generator(1) }).parameters()[3]!.dataSync()).toEqual(lstm.parameters()[3]!.dataSync());
    expect(new GRU(2, 4).parameters().map((p) => p.shape)).toEqual([[12, 2], [12, 4], [12], [12]]);
    expect(new RNN(2, 4, { bias: false }).parameters().map((p) => p.shape)).toEqual([[4, 2], [4, 4]]);
    expect(new RNN(2, 4).parameters()[0]!.dtype).toBe("float32");
  });

  it("an RNN step is tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), step by step", () => {
    const rnn = new RNN(2, 3, { dtype: "float64", generator: new Generator(3) });
    const [wih, whh, bih, bhh] = rnn.parameters() as [Tensor, Tensor, Tensor, Tensor];
    const x = randn64([4, 2, 2], 5);
    const [out, hN] = rnn.call(x);
    let h = ag.zeros([2, 3], { dtype: "float64" });
    for (let t = 0; t < 4; t++) {
      const xt = x.slice([t, 0, 0], [1, 2, 2]).reshape([2, 2]);
      h = xt.matmul(wih.transpose()).add(bih).add(h.matmul(whh.transpose())).add(bhh).tanh();
      expectClose(out.slice([t, 0, 0], [1, 2, 3]).reshape([2, 3]), h.arraySync() as number[][], 1e-12, `t=${t}`);
    }
    expectClose(hN, h.arraySync() as number[][], 1e-12, "hN");
  });

  it("batchFirst transposes input and output only; unbatched [L, I] equals a batch of one", () => {
    const a = new GRU(3, 4, { dtype: "float64", generator: new Generator(2) });
    const b = new GRU(3, 4, { dtype: "float64", batchFirst: true });
    b.loadStateDict(a.stateDict());
    const x = randn64([5, 2, 3], 1);
    const h0 = randn64([1, 2, 4], 2);
    const [oa, ha] = a.call(x, h0);
    const [ob, hb] = b.call(x.transpose(0, 1), h0);
    expect(ob.transpose(0, 1).dataSync()).toEqual(oa.dataSync());
    expect(hb.dataSync()).toEqual(ha.dataSync());
    const [ou, hu] = a.call(x.slice([0, 1, 0], [5, 1, 3]).reshape([5, 3]), h0.slice([0, 1, 0], [1, 1, 4]).reshape([1, 4]));
    expect(ou.shape).toEqual([5, 4]);
    expect(hu.shape).toEqual([1, 4]);
    expectClose(ou, oa.slice([0, 1, 0], [5, 1, 4]).arraySync() as number[][][], 1e-15, "unbatched output");
  });

  it("the last output step is the top layer's hN; to(float64) and loadStateDict are seen by the next call", () => {
    const lstm = new LSTM(2, 3, { numLayers: 2 }).to("float64");
    const x = randn64([4, 1, 2], 3);
    const [out, [hN]] = lstm.call(x);
    expect(out.dtype).toBe("float64");
    expectClose(out.slice([3, 0, 0], [1, 1, 3]), hN.slice([1, 0, 0], [1, 1, 3]).arraySync() as number[][][], 0, "last step");
    const zeroed = Object.fromEntries(Object.entries(lstm.stateDict()).map(([k, v]) => [k, ag.zerosLike(v)]));
    lstm.loadStateDict(zeroed);
    // All-zero weights: every gate is σ(0) = ½, g = 0, so c and h stay 0.
    expect(Array.from(lstm.call(x)[0].dataSync()).every((v) => v === 0)).toBe(true);
  });

  it("bidirectional: the reverse direction is a forward pass over the reversed sequence; names and shapes", () => {
    const bi = new GRU(2, 3, { bidirectional: true, dtype: "float64", generator: new Generator(4) });
    expect(bi.namedParameters().map(([n, p]) => `${n} [${p.shape}]`)).toEqual([
      "weight_ih_l0 [9,2]", "weight_hh_l0 [9,3]", "bias_ih_l0 [9]", "bias_hh_l0 [9]",
      "weight_ih_l0_reverse [9,2]", "weight_hh_l0_reverse [9,3]", "bias_ih_l0_reverse [9]", "bias_hh_l0_reverse [9]",
    ]);
    expect(new LSTM(2, 3, { bidirectional: true, numLayers: 2 }).namedParameters().find(([n]) => n === "weight_ih_l1_reverse")![1].shape).toEqual([12, 6]);
    const fwd = new GRU(2, 3, { dtype: "float64" });
    const rev = new GRU(2, 3, { dtype: "float64" });
    const sd = bi.stateDict();
    fwd.loadStateDict(Object.fromEntries(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map((k) => [k, sd[k]!])));
    rev.loadStateDict(Object.fromEntries(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map((k) => [k, sd[`${k}_reverse`]!])));
    const x = randn64([4, 2, 2], 6);
    const reversed = ag.stack([3, 2, 1, 0].map((t) => x.slice([t, 0, 0], [1, 2, 2]).reshape([2, 2])), 0);
    const [out, hN] = bi.call(x);
    expect(out.shape).toEqual([4, 2, 6]);
    expect(hN.shape).toEqual([2, 2, 3]);
    const [of, hf] = fwd.call(x);
    const [or, hr] = rev.call(reversed);
    expectClose(out.slice([0, 0, 0], [4, 2, 3]), of.arraySync() as number[][][], 1e-14, "forward half");
    const orBack = ag.stack([3, 2, 1, 0].map((t) => or.slice([t, 0, 0], [1, 2, 3]).reshape([2, 3])), 0);
    expectClose(out.slice([0, 0, 3], [4, 2, 3]), orBack.arraySync() as number[][][], 1e-14, "reverse half");
    expectClose(hN, ag.concat([hf, hr]).arraySync() as number[][][], 1e-14, "hN = [forward, reverse]");
    expect(errorOf(() => bi.call(x, ag.zeros([1, 2, 3], { dtype: "float64" })))).toBe(
      "GRU(2, 3, bidirectional): h0 must have shape [2,2,3] ([2·numLayers, N, hiddenSize]), got [1,2,3] for input [4,2,2]",
    );
  });

  it("dropout between layers acts in training only", () => {
    const rnn = new RNN(2, 8, { numLayers: 2, dropout: 0.5, dtype: "float64", generator: new Generator(0) });
    const x = randn64([3, 2, 2], 4);
    const a = rnn.call(x)[0].dataSync();
    const b = rnn.call(x)[0].dataSync();
    expect(a).not.toEqual(b);
    rnn.eval();
    expect(rnn.call(x)[0].dataSync()).toEqual(rnn.call(x)[0].dataSync());
    expect(new RNN(2, 8, { numLayers: 2, dropout: 0.5 }).extraRepr()).toContain("dropout=0.5");
  });

  it("gradcheck with dropout between layers: train mode with the masks fixed by reseeding, and eval mode", () => {
    const lstm = new LSTM(2, 3, { numLayers: 2, dropout: 0.4, dtype: "float64" });
    const x = randn64([3, 2, 2], 7, true);
    const seeded = (t: Tensor) => { ag.manualSeed(3); const [o, [h, c]] = lstm.call(t); return joined(o, h, c); };
    expect(gradcheck((t) => seeded(t!), [x])).toBe(true);
    const ct = randn64([seeded(x).size], 8);
    const xd = x.detach();
    checkParamGrads(lstm, () => seeded(xd).mul(ct).sum());
    lstm.eval();
    expect(gradcheck((t) => joined(...run(lstm, t!)), [x])).toBe(true);
  });

  it("runs under noGrad without recording", () => {
    const gru = new GRU(2, 3);
    const [out] = noGrad(() => gru.call(ag.randn([3, 2, 2])));
    expect(out.requiresGrad).toBe(false);
  });
});

describe("errors name the layer and the shapes", () => {
  const rnn = new RNN(3, 4, { numLayers: 2 });
  it("input", () => {
    expect(errorOf(() => rnn.call(ag.zeros([5, 2, 2])))).toBe("RNN(3, 4, numLayers=2): input [5,2,2] has 2 features on its last axis, expected inputSize 3");
    expect(errorOf(() => rnn.call(ag.zeros([1, 5, 2, 3])))).toBe("RNN(3, 4, numLayers=2): input must be [L, N, inputSize] (or unbatched [L, inputSize]), got [1,5,2,3]");
    expect(errorOf(() => rnn.call(ag.zeros([0, 2, 3])))).toMatch(/sequence is empty/);
    expect(errorOf(() => rnn.call(ag.zeros([2, 3], { dtype: "int32" })))).toMatch(/float32 or float64, got int32/);
  });
  it("states", () => {
    expect(errorOf(() => rnn.call(ag.zeros([5, 2, 3]), ag.zeros([1, 2, 4])))).toBe(
      "RNN(3, 4, numLayers=2): h0 must have shape [2,2,4] ([numLayers, N, hiddenSize]), got [1,2,4] for input [5,2,3]",
    );
    const lstm = new LSTM(3, 4);
    expect(errorOf(() => lstm.call(ag.zeros([5, 2, 3]), ag.zeros([1, 2, 4]) as unknown as [Tensor, Tensor]))).toMatch(/LSTM\(3, 4\): the state must be a pair \[h0, c0\]/);
    expect(errorOf(() => lstm.call(ag.zeros([5, 2, 3]), [ag.zeros([1, 2, 4]), ag.zeros([1, 2, 5])]))).toMatch(/c0 must have shape \[1,2,4\]/);
  });
  it("constructor", () => {
    expect(errorOf(() => new RNN(0, 4))).toBe("RNN: inputSize must be a positive integer, got 0");
    expect(errorOf(() => new GRU(3, 2.5))).toBe("GRU: hiddenSize must be a positive integer, got 2.5");
    expect(errorOf(() => new LSTM(2 ** 20, 2 ** 10))).toMatch(/^LSTM: inputSize 1048576 and hiddenSize 1024 are too large/);
    expect(errorOf(() => new RNN(3, 4, { nonlinearity: "sigmoid" as "tanh" }))).toBe('RNN: nonlinearity must be "tanh" or "relu", got "sigmoid"');
    expect(errorOf(() => new LSTM(3, 4, { dropout: 1 }))).toMatch(/dropout must be a number in \[0, 1\)/);
    expect(errorOf(() => new LSTM(3, 4, null as never))).toMatch(/LSTM: options must be an object/);
  });
});
