import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Generator, gradcheck, tensor, type Tensor } from "@deltagrad/autograd";
import {
  Linear, MultiheadAttention, attentionWeights, causalMask, generateSquareSubsequentMask, loadTorchStateDict,
  scaledDotProductAttention, torchStateDict,
} from "@deltagrad/nn";
import { casesOf, checkParamGrads, expectClose, fixture, fixtureLoss, flat, inputTensor, joined, randn64, type SeqCase } from "./seq-support.js";
import { errorOf } from "@deltagrad/autograd/testing";


const f64 = (v: unknown, shape: number[]) => tensor(flat(v), { dtype: "float64" }).reshape(shape);

describe("PyTorch fixture (layers-seq.json) within 1e-6", () => {
  it("has the 6 scaledDotProductAttention and 4 MultiheadAttention cases", () => {
    expect(fixture.dtype).toBe("float64");
    expect(casesOf("scaledDotProductAttention").length).toBe(6);
    expect(casesOf("MultiheadAttention").length).toBe(4);
  });

  it.each(casesOf("scaledDotProductAttention"))("%s: output and d/dq, d/dk, d/dv", (_, c: SeqCase) => {
    const [q, k, v] = ["q", "k", "v"].map((n) => inputTensor(c, n)) as [Tensor, Tensor, Tensor];
    const attnMask = "attn_mask" in c.inputs ? inputTensor(c, "attn_mask").detach() : undefined;
    const out = scaledDotProductAttention(q, k, v, { ...(c.options as { isCausal: boolean; scale?: number }), attnMask });
    expectClose(out, c.outputs.output!, 1e-6, `${c.name} output`);
    fixtureLoss({ output: out }, c).backward();
    for (const [n, t] of [["q", q], ["k", k], ["v", v]] as const) expectClose(t.grad!, c.grads.inputs[n]!, 1e-6, `${c.name} d/d${n}`);
  });

  it.each(casesOf("MultiheadAttention"))("%s: output, weights, input and parameter gradients (PyTorch state dict via loadTorchStateDict)", (_, c: SeqCase) => {
    const [E, h] = c.args as [number, number];
    const mha = new MultiheadAttention(E, h, { ...(c.options as object), dtype: "float64" });
    const sd = Object.fromEntries(Object.entries(c.params!).map(([k, v]) => [k, f64(v, c.shapes[`param.${k}`]!)]));
    expect(loadTorchStateDict(mha, sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expectClose(mha.out_proj.weight, ag.transpose(sd["out_proj.weight"]!).arraySync() as number[][], 0, "out_proj.weight is transposed");
    const [query, key, value] = ["query", "key", "value"].map((n) => inputTensor(c, n)) as [Tensor, Tensor, Tensor];
    const opt = (n: string) => (n in c.inputs ? inputTensor(c, n).detach() : undefined);
    const [output, weights] = mha.call(query, key, value, { attnMask: opt("attn_mask"), keyPaddingMask: opt("key_padding_mask"), ...(c.call_options as object) });
    expect(output.shape).toEqual(c.shapes["output.output"]);
    expectClose(output, c.outputs.output!, 1e-6, `${c.name} output`);
    expectClose(weights!, c.outputs.attn_weights!, 1e-6, `${c.name} attn_weights`);
    fixtureLoss({ output }, c).backward();
    for (const [n, t] of [["query", query], ["key", key], ["value", value]] as const) expectClose(t.grad!, c.grads.inputs[n]!, 1e-6, `${c.name} d/d${n}`);
    const grads: Record<string, Tensor> = {
      in_proj_weight: mha.in_proj_weight.grad!, in_proj_bias: mha.in_proj_bias!.grad!,
      "out_proj.weight": ag.transpose(mha.out_proj.weight.grad!), "out_proj.bias": mha.out_proj.bias!.grad!,
    };
    for (const [n, g] of Object.entries(c.grads.params!)) expectClose(grads[n]!, g, 1e-6, `${c.name} d/d${n}`);
  });
});

/** A random mask broadcasting to [.., L, S] whose key 0 is always open (so no row is fully masked). */
function openMask(shape: number[], seed: number, kind: "bool" | "float"): Tensor {
  const g = new Generator(seed);
  const S = shape[shape.length - 1]!;
  const vals = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % S === 0 ? 1 : g.uniform() < 0.6 ? 1 : 0));
  if (kind === "bool") return tensor(vals.map((v) => v === 1), { dtype: "bool" }).reshape(shape);
  return tensor(vals.map((v) => (v === 1 ? g.normal() : -Infinity)), { dtype: "float64" }).reshape(shape);
}

describe("scaledDotProductAttention: gradcheck (float64) over random shapes", () => {
  const arb = fc.record({
    batch: fc.constantFrom<number[][]>([[], []], [[2], [2]], [[2, 1], [3]], [[1], [2, 1]], [[2, 2], [2, 2]]),
    L: fc.integer({ min: 1, max: 3 }),
    S: fc.integer({ min: 1, max: 3 }),
    D: fc.integer({ min: 1, max: 3 }),
    Dv: fc.integer({ min: 1, max: 3 }),
    mask: fc.constantFrom("none", "bool", "float", "causal", "bool-2d"),
    scale: fc.option(fc.double({ min: 0.1, max: 2, noNaN: true }), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  test.prop([arb], { numRuns: 25, seed: 21 })("q, k, v with broadcast batch axes, masks and scales", (p) => {
    const [bq, bk] = p.batch;
    const q = randn64([...bq!, p.L, p.D], p.seed, true);
    const k = randn64([...bk!, p.S, p.D], p.seed + 1, true);
    const v = randn64([...bk!, p.S, p.Dv], p.seed + 2, true);
    const batch = ag.broadcastShapes("test", bq!, bk!);
    const attnMask = p.mask === "bool" || p.mask === "float" ? openMask([...batch, p.L, p.S], p.seed + 3, p.mask) : p.mask === "bool-2d" ? openMask([p.L, p.S], p.seed + 3, "bool") : undefined;
    const opts = { attnMask, isCausal: p.mask === "causal", scale: p.scale };
    const out = scaledDotProductAttention(q, k, v, opts);
    expect(out.shape).toEqual([...batch, p.L, p.Dv]);
    expect(gradcheck((q, k, v) => scaledDotProductAttention(q!, k!, v!, opts), [q, k, v])).toBe(true);
  });
});

describe("scaledDotProductAttention semantics", () => {
  const q = randn64([2, 4, 3], 1), k = randn64([2, 4, 3], 2), v = randn64([2, 4, 5], 3);

  it("is softmax(q·kᵀ/√D)·v; isCausal equals the lower-triangular bool mask and the additive −∞ mask", () => {
    const manual = ag.matmul(ag.softmax(ag.matmul(q, ag.transpose(k, -1, -2)).mul(1 / Math.sqrt(3)), { axis: -1 }), v);
    expectClose(scaledDotProductAttention(q, k, v), manual.arraySync() as number[][][], 1e-14, "plain");
    const causal = scaledDotProductAttention(q, k, v, { isCausal: true });
    expectClose(causal, scaledDotProductAttention(q, k, v, { attnMask: causalMask(4) }).arraySync() as number[][][], 0, "bool");
    expectClose(causal, scaledDotProductAttention(q, k, v, { attnMask: generateSquareSubsequentMask(4, { dtype: "float64" }) }).arraySync() as number[][][], 1e-15, "float");
    // Query 0 sees only key 0: its output is v's first row.
    expectClose(causal.slice([0, 0, 0], [2, 1, 5]), v.slice([0, 0, 0], [2, 1, 5]).arraySync() as number[][][], 1e-15, "first query");
  });

  it("causalMask is top-left aligned for L ≠ S; attentionWeights rows sum to 1", () => {
    expect(causalMask(2, 4).arraySync()).toEqual([[1, 0, 0, 0], [1, 1, 0, 0]]);
    expect(generateSquareSubsequentMask(2).arraySync()).toEqual([[0, -Infinity], [0, 0]]);
    const w = attentionWeights(q, k, { isCausal: true });
    expectClose(w.sum({ axis: -1 }), [[1, 1, 1, 1], [1, 1, 1, 1]], 1e-15, "rows");
    expect(w.slice([0, 0, 1], [1, 1, 3]).arraySync()).toEqual([[[0, 0, 0]]]);
  });

  it("a row with every key masked is NaN, as in PyTorch", () => {
    const mask = tensor([[false, false, false, false], [true, true, true, true], [true, false, false, false], [true, true, true, true]]);
    const out = scaledDotProductAttention(q, k, v, { attnMask: mask }).arraySync() as number[][][];
    expect(out[0]![0]!.every(Number.isNaN)).toBe(true);
    expect(out[0]![1]!.every(Number.isFinite)).toBe(true);
  });

  it("dropoutP drops weights (seeded) and keeps the expectation", () => {
    const a = scaledDotProductAttention(q, k, v, { dropoutP: 0.5, generator: new Generator(1) });
    const b = scaledDotProductAttention(q, k, v, { dropoutP: 0.5, generator: new Generator(1) });
    expect(a.dataSync()).toEqual(b.dataSync());
    expect(a.dataSync()).not.toEqual(scaledDotProductAttention(q, k, v).dataSync());
  });

  it("errors name the function and the shapes", () => {
    expect(errorOf(() => scaledDotProductAttention(q, ag.zeros([2, 4, 2], { dtype: "float64" }), v))).toBe(
      "scaledDotProductAttention: query [2,4,3] and key [2,4,2] differ in the feature (last) axis",
    );
    expect(errorOf(() => scaledDotProductAttention(q, k, ag.zeros([2, 3, 5], { dtype: "float64" })))).toBe(
      "scaledDotProductAttention: key [2,4,3] and value [2,3,5] differ in the sequence (second-to-last) axis",
    );
    expect(errorOf(() => scaledDotProductAttention(q, k, v, { attnMask: causalMask(4), isCausal: true }))).toBe(
      "scaledDotProductAttention: give either attnMask or isCausal, not both (isCausal is itself a mask)",
    );
    expect(errorOf(() => scaledDotProductAttention(q, k, v, { attnMask: causalMask(3) }))).toBe(
      "scaledDotProductAttention: attnMask [3,3] does not broadcast to the scores [2,4,4] (query [2,4,3], key [2,4,3])",
    );
    expect(errorOf(() => scaledDotProductAttention(q, k, v, { attnMask: ag.zeros([4, 4], { dtype: "int32" }) }))).toMatch(/attnMask must be bool or float, got int32/);
    expect(errorOf(() => scaledDotProductAttention(ag.zeros([3], { dtype: "float64" }), k, v))).toMatch(/query must have shape \[\.\.\., length, features\], got \[3\]/);
    expect(errorOf(() => scaledDotProductAttention(q, k, v, { dropoutP: 1 }))).toMatch(/dropoutP must be a number in \[0, 1\)/);
    expect(errorOf(() => scaledDotProductAttention(q, ag.zeros([3, 4, 3], { dtype: "float64" }), ag.zeros([3, 4, 5], { dtype: "float64" })))).toMatch(/cannot be broadcast/);
  });
});

describe("MultiheadAttention", () => {
  const arb = fc.record({
    E: fc.constantFrom(2, 4),
    heads: fc.constantFrom(1, 2),
    L: fc.integer({ min: 1, max: 3 }),
    S: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 2 }),
    batchFirst: fc.boolean(),
    unbatched: fc.boolean(),
    bias: fc.boolean(),
    attn: fc.constantFrom("none", "bool", "float", "bool-3d", "causal"),
    padding: fc.constantFrom("none", "bool", "float"),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  test.prop([arb], { numRuns: 10, seed: 21 })("gradcheck (float64): query, key, value and every parameter, with masks", (p) => {
    const mha = new MultiheadAttention(p.E, p.heads, { batchFirst: p.batchFirst, bias: p.bias, dtype: "float64", generator: new Generator(p.seed) });
    const shape = (len: number) => (p.unbatched ? [len, p.E] : p.batchFirst ? [p.N, len, p.E] : [len, p.N, p.E]);
    const q = randn64(shape(p.L), p.seed + 1, true), k = randn64(shape(p.S), p.seed + 2, true), v = randn64(shape(p.S), p.seed + 3, true);
    const N = p.unbatched ? 1 : p.N;
    // MultiheadAttention's bool masks are true where attention is NOT allowed: invert the open mask.
    const block = (m: Tensor) => (m.dtype === "bool" ? ag.logicalNot(m) : m);
    const attnMask = p.attn === "bool" ? block(openMask([p.L, p.S], p.seed + 4, "bool")) : p.attn === "float" ? openMask([p.L, p.S], p.seed + 4, "float")
      : p.attn === "bool-3d" ? block(openMask([N * p.heads, p.L, p.S], p.seed + 4, "bool")) : undefined;
    const keyPaddingMask = p.padding === "none" ? undefined : block(openMask(p.unbatched ? [p.S] : [p.N, p.S], p.seed + 5, p.padding as "bool"));
    const opts = { attnMask, keyPaddingMask, isCausal: p.attn === "causal" };
    const [out, w] = mha.call(q, k, v, opts);
    expect(out.shape).toEqual(shape(p.L));
    expect(w!.shape).toEqual(p.unbatched ? [p.L, p.S] : [p.N, p.L, p.S]);
    expect(gradcheck((q, k, v) => joined(...(mha.call(q!, k!, v!, opts) as Tensor[])), [q, k, v])).toBe(true);
    const ct = randn64(out.shape, p.seed + 6);
    const [qd, kd, vd] = [q.detach(), k.detach(), v.detach()];
    checkParamGrads(mha, () => mha.call(qd, kd, vd, opts)[0].mul(ct).sum());
  });

  it("self-attention (one tensor as query, key and value) takes the packed in-projection: same values, gradcheck", () => {
    const mha = new MultiheadAttention(4, 2, { batchFirst: true, dtype: "float64", generator: new Generator(4) });
    const x = randn64([2, 3, 4], 11, true);
    const [packed, wp] = mha.call(x, x, x, { isCausal: true });
    const [separate, ws] = mha.call(x, x.add(0), x.mul(1), { isCausal: true });
    expectClose(packed, separate.arraySync() as number[][][], 1e-14, "output");
    expectClose(wp!, ws!.arraySync() as number[][][], 1e-14, "weights");
    expect(gradcheck((x) => mha.call(x!, x!, x!, { isCausal: true })[0], [x])).toBe(true);
    const ct = randn64([2, 3, 4], 12);
    const xd = x.detach();
    checkParamGrads(mha, () => mha.call(xd, xd, xd)[0].mul(ct).sum());
  });

  it("parameters: PyTorch names, shapes and init (xavier in_proj, zero biases)", () => {
    const mha = new MultiheadAttention(8, 2, { generator: new Generator(0) });
    expect(mha.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual(["in_proj_weight [24,8]", "in_proj_bias [24]", "out_proj.weight [8,8]", "out_proj.bias [8]"]);
    expect(mha.out_proj).toBeInstanceOf(Linear);
    const bound = Math.sqrt(6 / (8 + 24));
    const w = Array.from(mha.in_proj_weight.dataSync()).map(Math.abs);
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.max(...w)).toBeGreaterThan(0.9 * bound);
    expect(Array.from(mha.in_proj_bias!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(mha.out_proj.bias!.dataSync()).every((x) => x === 0)).toBe(true);
    expect(new MultiheadAttention(8, 2, { bias: false }).numParameters()).toBe(3 * 64 + 64);
  });

  it("one head with identity projections is scaledDotProductAttention; needWeights, averageAttnWeights", () => {
    const mha = new MultiheadAttention(3, 1, { batchFirst: true, dtype: "float64" });
    loadTorchStateDict(mha, { in_proj_weight: ag.concat([ag.eye(3), ag.eye(3), ag.eye(3)]).cast("float64"), in_proj_bias: ag.zeros([9], { dtype: "float64" }), "out_proj.weight": ag.eye(3).cast("float64"), "out_proj.bias": ag.zeros([3], { dtype: "float64" }) });
    const x = randn64([2, 4, 3], 9), y = randn64([2, 5, 3], 10);
    const [out, w] = mha.call(x, y, y);
    expectClose(out, scaledDotProductAttention(x, y, y).arraySync() as number[][][], 1e-14, "sdpa");
    expectClose(w!, attentionWeights(x, y).arraySync() as number[][][], 1e-14, "weights");
    expect(mha.call(x, y, y, { needWeights: false })[1]).toBeNull();
    const mh = new MultiheadAttention(4, 2);
    expect(mh.call(ag.randn([3, 2, 4]), ag.randn([5, 2, 4]), ag.randn([5, 2, 4]), { averageAttnWeights: false })[1]!.shape).toEqual([2, 2, 3, 5]);
  });

  it("bool masks block where true (the opposite of scaledDotProductAttention's), like −∞ float masks; padding keys get weight 0", () => {
    const mha = new MultiheadAttention(4, 2, { dtype: "float64", generator: new Generator(3) });
    const x = randn64([3, 2, 4], 1);
    const blocked = ag.logicalNot(causalMask(3));
    const [a, wa] = mha.call(x, x, x, { attnMask: blocked });
    const [b] = mha.call(x, x, x, { attnMask: generateSquareSubsequentMask(3, { dtype: "float64" }) });
    const [c] = mha.call(x, x, x, { isCausal: true });
    expectClose(a, b.arraySync() as number[][][], 1e-15, "bool vs float");
    expectClose(a, c.arraySync() as number[][][], 0, "bool vs isCausal");
    expect((wa!.arraySync() as number[][][])[0]![0]!.slice(1)).toEqual([0, 0]);
    const pad = tensor([[false, false, true], [false, true, true]]);
    const [, wp] = mha.call(x, x, x, { keyPaddingMask: pad });
    const rows = wp!.arraySync() as number[][][];
    expect(rows[0]!.map((r) => r[2])).toEqual([0, 0, 0]);
    expect(rows[1]!.map((r) => r[1]! + r[2]!)).toEqual([0, 0, 0]);
  });

  it("gradcheck with attention dropout (masks fixed by reseeding) and scaledDotProductAttention's dropoutP", () => {
    const mha = new MultiheadAttention(4, 2, { dropout: 0.3, dtype: "float64" });
    const x = randn64([3, 2, 4], 31, true);
    const seeded = (t: Tensor) => { ag.manualSeed(9); return mha.call(t, t, t)[0]; };
    expect(gradcheck((t) => seeded(t!), [x])).toBe(true);
    const [q, k, v] = [randn64([2, 3, 2], 32, true), randn64([2, 4, 2], 33, true), randn64([2, 4, 3], 34, true)];
    expect(gradcheck((q, k, v) => scaledDotProductAttention(q!, k!, v!, { dropoutP: 0.4, generator: new Generator(1) }), [q, k, v])).toBe(true);
  });

  it("dropout on the weights in training only", () => {
    const mha = new MultiheadAttention(4, 2, { dropout: 0.5, generator: new Generator(1) });
    const x = ag.randn([3, 2, 4]);
    expect(mha.call(x, x, x)[0].dataSync()).not.toEqual(mha.call(x, x, x)[0].dataSync());
    mha.eval();
    expect(mha.call(x, x, x)[0].dataSync()).toEqual(mha.call(x, x, x)[0].dataSync());
  });

  it("torchStateDict writes PyTorch layouts; loadTorchStateDict reads them back", () => {
    const a = new MultiheadAttention(6, 3, { generator: new Generator(1) });
    const sd = torchStateDict(a);
    expect(Object.keys(sd)).toEqual(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    expect(sd["out_proj.weight"]!.arraySync()).toEqual(ag.transpose(a.out_proj.weight).arraySync());
    const b = new MultiheadAttention(6, 3, { generator: new Generator(2) });
    loadTorchStateDict(b, sd);
    expect(b.out_proj.weight.dataSync()).toEqual(a.out_proj.weight.dataSync());
    expect(torchStateDict(new Linear(3, 2)).weight!.shape).toEqual([2, 3]);
    expect(errorOf(() => loadTorchStateDict(b, { ...sd, "out_proj.weight": ag.zeros([6, 5]) }))).toMatch(/out_proj.weight/);
  });

  it("errors name the layer and the shapes", () => {
    const mha = new MultiheadAttention(4, 2);
    const x = ag.zeros([3, 2, 4]);
    expect(errorOf(() => new MultiheadAttention(5, 2))).toBe("MultiheadAttention: embedDim 5 must be divisible by numHeads 2");
    expect(errorOf(() => new MultiheadAttention(2 ** 15, 1))).toMatch(/^MultiheadAttention: embedDim 32768 is too large/);
    expect(errorOf(() => causalMask(2 ** 31, 1))).toMatch(/^causalMask: a 2147483648×1 mask exceeds/);
    expect(errorOf(() => mha.call(ag.zeros([3, 2, 5]), x, x))).toBe(
      "MultiheadAttention(4, 2): query, key and value must all be [L, N, E] (or unbatched [L, E]) with E = 4, got [3,2,5], [3,2,4], [3,2,4]",
    );
    expect(errorOf(() => mha.call(x, ag.zeros([3, 1, 4]), ag.zeros([3, 1, 4])))).toMatch(/must agree in batch size/);
    expect(errorOf(() => mha.call(x, x, x, { attnMask: ag.zeros([3, 4]) }))).toBe(
      "MultiheadAttention(4, 2): attnMask must be a bool or float tensor of shape [3,3] or [4,3,3] (N·numHeads, L, S), got float32 [3,4]",
    );
    expect(errorOf(() => mha.call(x, x, x, { keyPaddingMask: tensor([[true, false]]) }))).toBe(
      "MultiheadAttention(4, 2): keyPaddingMask must be a bool or float tensor of shape [2,3], got bool [1,2]",
    );
    expect(errorOf(() => mha.call(x, x, x, { attnMask: causalMask(3), isCausal: true }))).toMatch(/either attnMask or isCausal/);
  });
});
