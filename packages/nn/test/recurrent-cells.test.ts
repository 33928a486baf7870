import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Generator, gradcheck, tensor, type Tensor } from "@deltagrad/autograd";
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from "@deltagrad/nn";
import { checkParamGrads, expectClose, flat, joined, randn64, type SeqCase } from "./seq-support.js";
import { errorOf } from "@deltagrad/autograd/testing";

/** PyTorch 1.13 float64 cases made by fixtures/make-recurrent-fixture.py. */
const fixture = JSON.parse(readFileSync(new URL("./fixtures/recurrent-cells.json", import.meta.url), "utf8")) as { dtype: string; cases: SeqCase[] };
const shapeOf = (v: unknown): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
const f64 = (v: unknown) => tensor(flat(v), { dtype: "float64" }).reshape(shapeOf(v));

type AnyCell = RNNCell | LSTMCell | GRUCell;
function build(layer: string, I: number, H: number, options: Record<string, unknown>): AnyCell {
  const o = { ...options, dtype: "float64" as const };
  return layer === "RNNCell" ? new RNNCell(I, H, o) : layer === "LSTMCell" ? new LSTMCell(I, H, o) : new GRUCell(I, H, o);
}
/** One step of any cell: [h′] or [h′, c′]. */
function stepOf(m: AnyCell, x: Tensor, h?: Tensor, c?: Tensor): Tensor[] {
  if (m instanceof LSTMCell) return m.call(x, h ? [h, c!] : undefined);
  return [m.call(x, h)];
}


describe("PyTorch fixture (recurrent-cells.json, float64) within 1e-6", () => {
  it("has 6 cases", () => {
    expect(fixture.dtype).toBe("float64");
    expect(fixture.cases.length).toBe(6);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s: outputs, input and parameter gradients", (_, c) => {
    const m = build(c.layer, c.args![0]!, c.args![1]!, c.options);
    expect(m.loadStateDict(Object.fromEntries(Object.entries(c.params!).map(([k, v]) => [k, f64(v)])))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const leaves: Record<string, Tensor> = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, f64(v).requiresGrad_()]));
    const [h, cc] = stepOf(m, leaves.input!, leaves.h, leaves.c);
    const outs: Record<string, Tensor> = cc ? { h: h!, c: cc } : { h: h! };
    let loss: Tensor | null = null;
    for (const [k, v] of Object.entries(c.outputs)) {
      expectClose(outs[k]!, v, 1e-6, `${c.name} ${k}`);
      const term = outs[k]!.mul(f64(c.cotangents[k])).sum();
      loss = loss ? loss.add(term) : term;
    }
    loss!.backward();
    for (const [k, g] of Object.entries(c.grads.inputs)) expectClose(leaves[k]!.grad!, g, 1e-6, `${c.name} d/d${k}`);
    const params = Object.fromEntries(m.namedParameters());
    for (const [k, g] of Object.entries(c.grads.params!)) expectClose(params[k]!.grad!, g, 1e-6, `${c.name} d/d${k}`);
  });
});

describe("cells", () => {
  const arb = fc.record({
    layer: fc.constantFrom("RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"),
    N: fc.integer({ min: 1, max: 3 }),
    I: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 3 }),
    bias: fc.boolean(),
    unbatched: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });
  test.prop([arb], { numRuns: 12, seed: 21 })("gradcheck (float64): input, states and every parameter", (p) => {
    const [layer, nl] = p.layer.split("-") as [string, string | undefined];
    const m = build(layer, p.I, p.H, { bias: p.bias, generator: new Generator(p.seed), ...(nl ? { nonlinearity: nl } : {}) });
    const x = randn64(p.unbatched ? [p.I] : [p.N, p.I], p.seed + 1, true);
    const h = randn64(p.unbatched ? [p.H] : [p.N, p.H], p.seed + 2, true);
    const c = randn64(p.unbatched ? [p.H] : [p.N, p.H], p.seed + 3, true);
    const inputs = m instanceof LSTMCell ? [x, h, c] : [x, h];
    expect(gradcheck((x, h, c) => joined(...stepOf(m, x!, h, c)), inputs)).toBe(true);
    const out = stepOf(m, x, h, c);
    out.forEach((t) => expect(t.shape).toEqual(h.shape));
    const ct = randn64([out.length * h.size], p.seed + 4);
    const [xd, hd, cd] = [x.detach(), h.detach(), c.detach()];
    checkParamGrads(m, () => joined(...stepOf(m, xd, hd, cd)).mul(ct).sum());
  });

  it("a cell is one step of the sequence layer with the same weights (names weight_ih ↔ weight_ih_l0)", () => {
    const x = randn64([1, 2, 3], 1);
    const pairs: [AnyCell, RNN | LSTM | GRU][] = [
      [new RNNCell(3, 4, { dtype: "float64", nonlinearity: "relu" }), new RNN(3, 4, { dtype: "float64", nonlinearity: "relu" })],
      [new LSTMCell(3, 4, { dtype: "float64" }), new LSTM(3, 4, { dtype: "float64" })],
      [new GRUCell(3, 4, { dtype: "float64" }), new GRU(3, 4, { dtype: "float64" })],
    ];
    for (const [cell, layer] of pairs) {
      layer.loadStateDict(Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [`${k}_l0`, v])));
      const fromCell = stepOf(cell, x.reshape([2, 3]))[0]!;
      const fromLayer = (layer instanceof LSTM ? layer.call(x)[0] : (layer as RNN).call(x)[0]).reshape([2, 4]);
      expectClose(fromCell, fromLayer.arraySync() as number[][], 1e-15, cell.constructor.name);
    }
    const init = new LSTMCell(3, 5, { generator: new Generator(2) });
    expect(init.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual(["weight_ih [20,3]", "weight_hh [20,5]", "bias_ih [20]", "bias_hh [20]"]);
    expect(Math.max(...init.parameters().flatMap((t) => Array.from(t.dataSync()).map(Math.abs)))).toBeLessThanOrEqual(1 / Math.sqrt(5));
    expect(new GRUCell(3, 5, { bias: false }).numParameters()).toBe(15 * 3 + 15 * 5);
  });

  it("errors name the cell and the shapes", () => {
    const cell = new GRUCell(3, 4);
    expect(errorOf(() => cell.call(ag.zeros([2, 5])))).toBe("GRUCell(3, 4): input must be [N, 3] or unbatched [3], got [2,5]");
    expect(errorOf(() => cell.call(ag.zeros([2, 3]), ag.zeros([2, 5])))).toBe("GRUCell(3, 4): h must be a float tensor of shape [2,4] for input [2,3], got float32 [2,5]");
    expect(errorOf(() => new LSTMCell(3, 4).call(ag.zeros([3]), ag.zeros([4]) as never))).toMatch(/LSTMCell\(3, 4\): the state must be a pair \[h, c\]/);
    expect(errorOf(() => new RNNCell(3, 4, { nonlinearity: "gelu" as "tanh" }))).toBe('RNNCell: nonlinearity must be "tanh" or "relu", got "gelu"');
    expect(errorOf(() => new RNNCell(0, 4))).toBe("RNNCell: inputSize must be a positive integer, got 0");
  });
});
