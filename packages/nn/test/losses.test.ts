import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { DeltagradError, Generator, gradcheck, logSoftmax, tensor, type Tensor } from "@deltagrad/autograd";
import {
  accuracy, binaryCrossEntropy, binaryCrossEntropyWithLogits, cosineEmbeddingLoss, cosineLoss, crossEntropy,
  exponentialLoss, hingeEmbeddingLoss, hingeLoss, huberLoss, klDiv, l1Loss, logCoshLoss, mseLoss, multiMarginLoss,
  nllLoss, smoothL1Loss, sumSquaredError, zeroOneLoss, type Reduction,
} from "@deltagrad/nn";

// ----- helpers -----

type Nested = number | Nested[];
const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const f64 = (v: Nested, requiresGrad = false) => tensor(v as number[], { dtype: "float64", requiresGrad });
const i32 = (v: Nested) => tensor(v as number[], { dtype: "int32" });

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  expect(worst, `${what}: worst |diff| at element ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(atol);
}

function expectFinite(t: Tensor, what: string): void {
  const bad = Array.from(t.dataSync()).findIndex((v) => !Number.isFinite(v));
  expect(bad, `${what}: element ${bad} is ${t.dataSync()[bad]}`).toBe(-1);
}

// ----- the PyTorch fixture -----

interface LossCase {
  name: string;
  loss: string;
  attrs: Record<string, unknown>;
  input: Nested;
  input2?: Nested;
  target: Nested;
  target_dtype: string;
  value: number;
  grad_input: Nested;
  grad_input2?: Nested;
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/losses.json", import.meta.url), "utf8")) as { dtype: string; cases: LossCase[] };

/** Runs one fixture case; returns the loss and the leaves whose gradients the fixture gives. */
function runCase(c: LossCase): { loss: Tensor; leaves: [Tensor, Nested][] } {
  const x = f64(c.input, true);
  const target = c.target_dtype === "int64" ? i32(c.target) : f64(c.target);
  const reduction = c.attrs.reduction as Reduction;
  const num = (k: string) => c.attrs[k] as number;
  const leaves: [Tensor, Nested][] = [[x, c.grad_input]];
  const loss = ((): Tensor => {
    switch (c.loss) {
      case "mse_loss": return mseLoss(x, target, { reduction });
      case "l1_loss": return l1Loss(x, target, { reduction });
      case "smooth_l1_loss": return smoothL1Loss(x, target, { reduction, beta: num("beta") });
      case "huber_loss": return huberLoss(x, target, { reduction, delta: num("delta") });
      case "log_cosh": return logCoshLoss(x, target, { reduction });
      case "cross_entropy": return crossEntropy(x, target, { reduction, labelSmoothing: (c.attrs.label_smoothing as number | undefined) ?? 0 });
      case "nll_loss": return nllLoss(x, target, { reduction });
      case "binary_cross_entropy": return binaryCrossEntropy(x, target, { reduction });
      case "binary_cross_entropy_with_logits": return binaryCrossEntropyWithLogits(x, target, { reduction });
      case "kl_div": return klDiv(x, target, { reduction: c.attrs.reduction as "batchmean" });
      case "cosine_distance": return cosineLoss(x, target, { reduction, axis: num("dim") });
      case "multi_margin_loss": return multiMarginLoss(x, target, { reduction, margin: num("margin"), p: num("p") as 1 });
      case "hinge_embedding_loss": return hingeEmbeddingLoss(x, target, { reduction, margin: num("margin") });
      case "cosine_embedding_loss": {
        const x2 = f64(c.input2!, true);
        leaves.push([x2, c.grad_input2!]);
        return cosineEmbeddingLoss(x, x2, target, { reduction, margin: num("margin") });
      }
      default: throw new Error(`no deltagrad loss mapped for fixture loss ${c.loss}`);
    }
  })();
  return { loss, leaves };
}

describe("PyTorch fixture losses.json (float64)", () => {
  it("is the float64 fixture with the 17 cases this file maps", () => {
    expect(fixture.dtype).toBe("float64");
    expect(fixture.cases.length).toBe(17);
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s: value and grad_input within 1e-6", (_, c) => {
    const { loss, leaves } = runCase(c);
    expect(loss.shape).toEqual([]);
    expect(loss.dtype).toBe("float64");
    expectClose([loss.itemSync()], [c.value], 1e-6, `${c.name} value`);
    loss.backward();
    for (const [leaf, expected] of leaves) expectClose(leaf.grad!.dataSync(), flat(expected), 1e-6, `${c.name} grad`);
  });
});

// ----- gradcheck every loss over random shapes -----

const REDUCTIONS: Reduction[] = ["mean", "sum", "none"];

/** Values from a seeded generator: normal, or uniform in [lo, hi], kept `gap` away from `avoid`. */
function draw(g: Generator, n: number, { lo, hi, avoid = [], gap = 0.05 }: { lo?: number; hi?: number; avoid?: number[]; gap?: number } = {}): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const v = lo === undefined ? g.normal() : lo + (hi! - lo) * g.uniform();
    if (avoid.every((k) => Math.abs(v - k) >= gap)) out.push(v);
  }
  return out;
}

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  c: fc.integer({ min: 2, max: 5 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  reduction: fc.constantFrom(...REDUCTIONS),
});
const RUNS = { numRuns: 15 };

/** A [n, c] float64 leaf. */
const leaf = (vals: number[], n: number, c: number) => tensor(vals, { dtype: "float64", requiresGrad: true }).reshape([n, c]).detach().requiresGrad_();
const plain = (vals: number[], shape: number[]) => tensor(vals, { dtype: "float64" }).reshape(shape);
const labels = (g: Generator, n: number, c: number) => tensor(Array.from({ length: n }, () => g.int(0, c)), { dtype: "int32" });
const signs = (g: Generator, shape: number[]) => tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (g.uniform() < 0.5 ? -1 : 1)), { dtype: "float64" }).reshape(shape);

describe("gradcheck (float64, random shapes, every reduction)", () => {
  test.prop([caseArb], RUNS)("regression losses w.r.t. input and target (kinks avoided)", ({ n, c, seed, reduction }) => {
    const g = new Generator(seed);
    const x = draw(g, n * c);
    // Differences kept away from the kinks: 0 (l1), ±β = ±0.7 (smoothL1), ±δ = ±1.3 (huber).
    const d = draw(g, n * c, { lo: -3, hi: 3, avoid: [0, 0.7, -0.7, 1.3, -1.3] });
    const t = x.map((v, i) => v - d[i]!);
    const fns: [string, (a: Tensor, b: Tensor) => Tensor][] = [
      ["mseLoss", (a, b) => mseLoss(a, b, { reduction })],
      ["sumSquaredError", (a, b) => sumSquaredError(a, b)],
      ["l1Loss", (a, b) => l1Loss(a, b, { reduction })],
      ["smoothL1Loss", (a, b) => smoothL1Loss(a, b, { beta: 0.7, reduction })],
      ["huberLoss", (a, b) => huberLoss(a, b, { delta: 1.3, reduction })],
      ["logCoshLoss", (a, b) => logCoshLoss(a, b, { reduction })],
    ];
    for (const [name, f] of fns) {
      expect(() => gradcheck(f, [leaf(x, n, c), leaf(t, n, c)]), name).not.toThrow();
    }
  });

  test.prop([caseArb, fc.constantFrom(0, 0.2)], RUNS)("crossEntropy (indices and probability rows), nllLoss", ({ n, c, seed, reduction }, labelSmoothing) => {
    const g = new Generator(seed);
    const x = draw(g, n * c);
    const y = labels(g, n, c);
    const raw = draw(g, n * c, { lo: 0.1, hi: 1 });
    const probs = raw.map((v, i) => v / raw.slice(i - (i % c), i - (i % c) + c).reduce((a, b) => a + b, 0));
    expect(() => gradcheck((a) => crossEntropy(a, y, { labelSmoothing, reduction }), [leaf(x, n, c)])).not.toThrow();
    // Probability targets are differentiable too.
    expect(() => gradcheck((a, p) => crossEntropy(a, p, { labelSmoothing, reduction }), [leaf(x, n, c), leaf(probs, n, c)])).not.toThrow();
    expect(() => gradcheck((a) => nllLoss(logSoftmax(a), y, { reduction }), [leaf(x, n, c)])).not.toThrow();
  });

  test.prop([caseArb], RUNS)("binaryCrossEntropy, binaryCrossEntropyWithLogits, klDiv, cosineLoss", ({ n, c, seed, reduction }) => {
    const g = new Generator(seed);
    const p = draw(g, n * c, { lo: 0.05, hi: 0.95 });
    const y = draw(g, n * c, { lo: 0, hi: 1 });
    const logits = draw(g, n * c, { lo: -6, hi: 6 });
    expect(() => gradcheck((a, b) => binaryCrossEntropy(a, b, { reduction }), [leaf(p, n, c), leaf(y, n, c)])).not.toThrow();
    expect(() => gradcheck((a, b) => binaryCrossEntropyWithLogits(a, b, { reduction }), [leaf(logits, n, c), leaf(y, n, c)])).not.toThrow();
    const q = draw(g, n * c, { lo: 0.05, hi: 1 });
    const klReduction = reduction === "mean" ? "batchmean" : reduction;
    expect(() => gradcheck((a, b) => klDiv(a, b, { reduction: klReduction }), [leaf(logits.map((v) => -Math.abs(v)), n, c), leaf(q, n, c)])).not.toThrow();
    expect(() => gradcheck((a, b) => klDiv(a, b, { reduction, logTarget: true }), [leaf(logits.map((v) => -Math.abs(v)), n, c), leaf(q.map(Math.log), n, c)])).not.toThrow();
    const u = draw(g, n * c);
    const v = draw(g, n * c);
    expect(() => gradcheck((a, b) => cosineLoss(a, b, { reduction }), [leaf(u, n, c), leaf(v, n, c)])).not.toThrow();
    expect(() => gradcheck((a, b) => cosineLoss(a, b, { axis: 0, reduction }), [leaf(u, n, c), leaf(v, n, c)])).not.toThrow();
  });

  test.prop([caseArb], RUNS)("margin losses (kinks avoided): hinge, exponential, multiMargin, hingeEmbedding, cosineEmbedding", ({ n, c, seed, reduction }) => {
    const g = new Generator(seed);
    const ys = signs(g, [n, c]);
    // y·f stays away from the hinge's kink at y·f = 1, so f stays away from ±1.
    const f = draw(g, n * c, { lo: -3, hi: 3, avoid: [1, -1] });
    expect(() => gradcheck((a) => hingeLoss(a, ys, { reduction }), [leaf(f, n, c)])).not.toThrow();
    expect(() => gradcheck((a) => exponentialLoss(a, ys, { reduction }), [leaf(f, n, c)])).not.toThrow();
    // hingeEmbedding's kink is at x = margin = 1 (for y = −1).
    expect(() => gradcheck((a) => hingeEmbeddingLoss(a, ys, { reduction }), [leaf(f, n, c)])).not.toThrow();

    // multiMargin: kinks where x[i] − x[y] = −margin; draw scores until every pair is 0.05 away.
    const y = labels(g, n, c);
    const yv = Array.from(y.dataSync());
    let s: number[];
    do s = draw(g, n * c, { lo: -2, hi: 2 });
    while (s.some((v, k) => Math.abs(v - s[Math.floor(k / c) * c + yv[Math.floor(k / c)]!]! + 1) < 0.05));
    for (const p of [1, 2] as const) {
      expect(() => gradcheck((a) => multiMarginLoss(a, y, { p, reduction }), [leaf(s, n, c)])).not.toThrow();
    }

    // cosineEmbedding with margin 0.1: its kink is at cos = 0.1 for y = −1 rows.
    const rowY = signs(g, [n]);
    let a: number[], b: number[];
    const cosines = (a: number[], b: number[]) => Array.from({ length: n }, (_, r) => {
      const [u, v] = [a.slice(r * c, r * c + c), b.slice(r * c, r * c + c)];
      const dot = u.reduce((acc, e, i) => acc + e * v[i]!, 0);
      return dot / Math.hypot(...u) / Math.hypot(...v);
    });
    do [a, b] = [draw(g, n * c), draw(g, n * c)];
    while (cosines(a, b).some((cs) => Math.abs(cs - 0.1) < 0.05));
    expect(() => gradcheck((u, v) => cosineEmbeddingLoss(u, v, rowY, { margin: 0.1, reduction }), [leaf(a, n, c), leaf(b, n, c)])).not.toThrow();
  });
});

// ----- values by hand -----

describe("values written as arithmetic", () => {
  it("reductions: none keeps the elementwise loss, sum and mean reduce it", () => {
    const x = f64([[1, 2], [3, 5]]);
    const t = f64([[0, 0], [1, 1]]);
    expect(mseLoss(x, t, { reduction: "none" }).arraySync()).toEqual([[1, 4], [4, 16]]);
    expect(mseLoss(x, t, { reduction: "sum" }).itemSync()).toBe(1 + 4 + 4 + 16);
    expect(mseLoss(x, t).itemSync()).toBe((1 + 4 + 4 + 16) / 4);
    expect(sumSquaredError(x, t).itemSync()).toBe((1 + 4 + 4 + 16) / 2);
    expect(l1Loss(x, t).itemSync()).toBe((1 + 2 + 2 + 4) / 4);
  });

  it("smoothL1 / huber branches, and smoothL1 with β = 0 is L1", () => {
    const x = f64([0.5, -3]);
    const z = f64([0, 0]);
    expect(smoothL1Loss(x, z, { reduction: "none" }).arraySync()).toEqual([0.5 * 0.25, 3 - 0.5]);
    expect(smoothL1Loss(x, z, { beta: 2, reduction: "none" }).arraySync()).toEqual([(0.5 * 0.25) / 2, 3 - 1]);
    expect(huberLoss(x, z, { delta: 2, reduction: "none" }).arraySync()).toEqual([0.5 * 0.25, 2 * (3 - 1)]);
    const xg = f64([0.5, -3], true);
    smoothL1Loss(xg, z, { beta: 0, reduction: "sum" }).backward();
    expect(xg.grad!.arraySync()).toEqual([1, -1]);
  });

  it("crossEntropy: −log softmax at the label, and the gradient (softmax − onehot)/N", () => {
    const logits = f64([[1, 2, 3], [0, 0, 0]], true);
    const loss = crossEntropy(logits, i32([2, 0]));
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(loss.itemSync()).toBeCloseTo((lse - 3 + Math.log(3)) / 2, 14);
    loss.backward();
    const sm = [1, 2, 3].map((v) => Math.exp(v - lse));
    expectClose(logits.grad!.dataSync(), [sm[0]! / 2, sm[1]! / 2, (sm[2]! - 1) / 2, (1 / 3 - 1) / 2, 1 / 6, 1 / 6], 1e-15, "grad");
  });

  it("crossEntropy: indices equal one-hot probability rows, also with label smoothing; [C] and [N, C, d] layouts", () => {
    const g = new Generator(3);
    const x = plain(draw(g, 12), [4, 3]);
    const y = i32([2, 0, 1, 1]);
    const onehot = f64([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 1, 0]]);
    for (const labelSmoothing of [0, 0.3]) {
      expectClose(crossEntropy(x, y, { labelSmoothing, reduction: "none" }).dataSync(), crossEntropy(x, onehot, { labelSmoothing, reduction: "none" }).dataSync(), 1e-14, `ε ${labelSmoothing}`);
    }
    // One sample [C] with a scalar label equals the first row.
    expectClose([crossEntropy(x.slice([0], [1]).reshape([3]), tensor(2, { dtype: "int32" })).itemSync()], [crossEntropy(x, y, { reduction: "none" }).dataSync()[0]!], 1e-15, "[C]");
    // [N, C, d]: classes on axis 1, as PyTorch; equals the [N·d, C] layout.
    const x3 = plain(draw(g, 2 * 3 * 4), [2, 3, 4]);
    const y3 = i32([[0, 1, 2, 2], [1, 0, 0, 2]]);
    const rows = x3.permute([0, 2, 1]).reshape([8, 3]);
    expectClose(crossEntropy(x3, y3, { reduction: "none" }).dataSync(), crossEntropy(rows, y3.reshape([8]), { reduction: "none" }).dataSync(), 1e-14, "[N,C,d]");
  });

  it("nllLoss picks −logProbs at the label: −log 0.4", () => {
    expect(nllLoss(f64([[0.3, 0.3, 0.4]]).log(), i32([2])).itemSync()).toBeCloseTo(-Math.log(0.4), 15);
  });

  it("binaryCrossEntropy clamps each log at −100 (p = 0 and 1 give finite values and gradients)", () => {
    const p = f64([0, 1, 0, 1, 0.25], true);
    const y = f64([1, 0, 0, 1, 0.5]);
    const loss = binaryCrossEntropy(p, y, { reduction: "none" });
    expectClose(loss.dataSync(), [100, 100, 0, 0, -(0.5 * Math.log(0.25) + 0.5 * Math.log(0.75))], 1e-12, "values");
    loss.sum().backward();
    expectFinite(p.grad!, "grad");
    expect(p.grad!.dataSync()[4]).toBeCloseTo((0.25 - 0.5) / (0.25 * 0.75), 12); // (p − y)/(p(1 − p))
  });

  it("klDiv: 0·log 0 = 0, reductions, logTarget", () => {
    const logq = f64([[0.25, 0.75], [0.5, 0.5]]).log();
    const p = f64([[0, 1], [0.5, 0.5]]);
    const row0 = Math.log(1 / 0.75);
    expectClose(klDiv(logq, p, { reduction: "none" }).dataSync(), [0, row0, 0, 0], 1e-15, "none");
    expect(klDiv(logq, p).itemSync()).toBeCloseTo(row0 / 2, 15); // batchmean
    expect(klDiv(logq, p, { reduction: "mean" }).itemSync()).toBeCloseTo(row0 / 4, 15);
    expect(klDiv(logq, p, { reduction: "sum" }).itemSync()).toBeCloseTo(row0, 15);
    expect(klDiv(logq, f64([[0.25, 0.75], [0.5, 0.5]]).log(), { logTarget: true }).itemSync()).toBeCloseTo(0, 15);
    const pg = f64([[0, 1], [0.5, 0.5]], true);
    klDiv(logq, pg).backward();
    expectFinite(pg.grad!, "target grad at p = 0");
  });

  it("cosineLoss: 1 − cos along an axis; a zero vector gives 1 with finite gradients", () => {
    expectClose(cosineLoss(f64([[1, 0], [1, 1]]), f64([[0, 1], [2, 2]]), { reduction: "none" }).dataSync(), [1, 0], 1e-15, "rows");
    expectClose(cosineLoss(f64([[1, 0], [1, 1]]), f64([[0, 1], [2, 2]]), { axis: 0, reduction: "none" }).dataSync(), [1 - 2 / (Math.SQRT2 * 2), 1 - 2 / (1 * Math.sqrt(5))], 1e-15, "columns");
    const z = f64([[0, 0]], true);
    expect(cosineLoss(z, f64([[1, 2]])).itemSync()).toBe(1);
    cosineLoss(z, f64([[1, 2]])).backward();
    expectFinite(z.grad!, "grad at 0");
  });

  it("hinge, exponential, multiMargin, hingeEmbedding, cosineEmbedding", () => {
    expectClose(hingeLoss(f64([2, 0.5, -1]), f64([1, 1, 1]), { reduction: "none" }).dataSync(), [0, 0.5, 2], 0, "hinge");
    expectClose(hingeLoss(f64([2, 0.5]), f64([-1, -1]), { reduction: "none" }).dataSync(), [3, 1.5], 0, "hinge −1");
    expect(exponentialLoss(f64([0, 1]), f64([1, -1]), { reduction: "sum" }).itemSync()).toBeCloseTo(1 + Math.E, 15);
    // Σ_{i≠3} max(0, 1 − 0.8 + x_i) / 4 = (0.3 + 0.4 + 0.6) / 4
    expect(multiMarginLoss(f64([[0.1, 0.2, 0.4, 0.8]]), i32([3])).itemSync()).toBeCloseTo((0.3 + 0.4 + 0.6) / 4, 15);
    expect(multiMarginLoss(f64([[0.1, 0.2, 0.4, 0.8]]), i32([3]), { p: 2 }).itemSync()).toBeCloseTo((0.09 + 0.16 + 0.36) / 4, 15);
    expect(multiMarginLoss(f64([0.1, 0.2, 0.4, 0.8]), tensor(3, { dtype: "int32" }), { margin: 0.5 }).itemSync()).toBeCloseTo(0.1 / 4, 15);
    expectClose(hingeEmbeddingLoss(f64([0.3, 0.3, 2]), f64([1, -1, -1]), { reduction: "none" }).dataSync(), [0.3, 0.7, 0], 1e-15, "hingeEmbedding");
    expectClose(cosineEmbeddingLoss(f64([[1, 0], [1, 0]]), f64([[1, 1], [1, 1]]), f64([1, -1]), { margin: 0.5, reduction: "none" }).dataSync(), [1 - Math.SQRT1_2, Math.SQRT1_2 - 0.5], 1e-15, "cosineEmbedding");
  });
});

// ----- stability -----

describe("stability at |logit| = 1e4", () => {
  const big = [[1e4, -1e4, 0], [-1e4, 1e4, 5], [1e4, 1e4, -1e4]];

  it("crossEntropy and nllLoss(logSoftmax): finite values and gradients, exact where the answer is known", () => {
    const x = f64(big, true);
    const loss = crossEntropy(x, i32([1, 1, 2]), { reduction: "none" });
    expectClose(loss.dataSync(), [2e4, Math.log1p(Math.exp(5 - 1e4)), 2e4 + Math.LN2], 1e-9, "values");
    loss.sum().backward();
    expectFinite(x.grad!, "crossEntropy grad");
    expectClose(x.grad!.dataSync(), [1, -1, 0, 0, 0, 0, 0.5, 0.5, -1], 1e-12, "grad = softmax − onehot");
    const x2 = f64(big, true);
    const l2 = crossEntropy(x2, f64([[0, 1, 0], [0.5, 0.5, 0], [0, 0, 1]]), { labelSmoothing: 0.1 });
    l2.backward();
    expectFinite(l2, "prob-target value");
    expectFinite(x2.grad!, "prob-target grad");
    const x3 = f64(big, true);
    const l3 = nllLoss(logSoftmax(x3), i32([0, 0, 0]));
    l3.backward();
    expectFinite(l3, "nll value");
    expectFinite(x3.grad!, "nll grad");
  });

  it("binaryCrossEntropyWithLogits: softplus(x) − x·y, gradient σ(x) − y", () => {
    const x = f64([1e4, -1e4, 1e4, -1e4], true);
    const y = f64([1, 0, 0, 1]);
    const loss = binaryCrossEntropyWithLogits(x, y, { reduction: "none" });
    expectClose(loss.dataSync(), [0, 0, 1e4, 1e4], 0, "values");
    loss.sum().backward();
    expectClose(x.grad!.dataSync(), [0, 0, 1, -1], 0, "grad");
  });

  it("logCosh, smoothL1, huber, hinge, cosine stay finite for errors of 1e4", () => {
    const fns: [string, (a: Tensor, b: Tensor) => Tensor, number][] = [
      ["logCoshLoss", (a, b) => logCoshLoss(a, b, { reduction: "sum" }), 2e4 - 2 * Math.LN2],
      ["smoothL1Loss", (a, b) => smoothL1Loss(a, b, { reduction: "sum" }), 2 * (1e4 - 0.5)],
      ["huberLoss", (a, b) => huberLoss(a, b, { reduction: "sum" }), 2 * (1e4 - 0.5)],
    ];
    for (const [name, f, expected] of fns) {
      const x = f64([1e4, -1e4], true);
      const l = f(x, f64([0, 0]));
      expect(l.itemSync(), name).toBeCloseTo(expected, 8);
      l.backward();
      expectClose(x.grad!.dataSync(), [1, -1], 1e-12, `${name} grad`);
    }
    const x = f64([[1e4, -1e4]], true);
    const h = hingeLoss(x, f64([[-1, 1]]), { reduction: "sum" });
    expect(h.itemSync()).toBe(2 * (1 + 1e4));
    h.backward();
    expect(x.grad!.arraySync()).toEqual([[1, -1]]);
    const c = f64([[1e4, -1e4]], true);
    cosineLoss(c, f64([[1, 1]])).backward();
    expectFinite(c.grad!, "cosine grad");
  });
});

// ----- bad targets -----

describe("bad targets and options throw DeltagradError naming the loss and the value", () => {
  const x = f64([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]);
  const cases: [string, () => unknown, RegExp][] = [
    ["label ≥ classes", () => crossEntropy(x, i32([0, 3])), /^crossEntropy: label 3 at \[1\] is out of range for 3 classes/],
    ["negative label", () => crossEntropy(x, i32([-1, 0])), /^crossEntropy: label -1 at \[0\] is out of range/],
    ["nll label ≥ classes", () => nllLoss(x, i32([5, 0])), /^nllLoss: label 5 at \[0\] is out of range for 3 classes/],
    ["multiMargin label", () => multiMarginLoss(x, i32([1, 7])), /^multiMarginLoss: label 7 at \[1\]/],
    ["wrong label shape", () => crossEntropy(x, i32([0, 1, 2])), /^crossEntropy: target shape \[3\] does not match the expected \[2\]/],
    ["non-integer float labels", () => crossEntropy(x, f64([0, 1.5])), /^crossEntropy: class-index targets must be int32, got float64 \(non-integer label 1.5 at \[1\]\)/],
    ["integer-valued float labels", () => nllLoss(x, f64([0, 1])), /^nllLoss: class-index targets must be int32, got float64$/],
    ["int probability rows", () => crossEntropy(x, i32([[0, 0, 1], [1, 0, 0]])), /^crossEntropy: probability targets must be float, got int32/],
    ["shape mismatch", () => mseLoss(x, f64([1, 2, 3])), /^mseLoss: target shape \[3\] does not match input shape \[2,3\]/],
    ["bce shape mismatch", () => binaryCrossEntropy(x, f64([[1, 0]])), /^binaryCrossEntropy: target shape \[1,2\]/],
    ["hinge label 0", () => hingeLoss(f64([1, 2]), f64([1, 0])), /^hingeLoss: labels must be -1 or 1, got 0 at \[1\]/],
    ["exponential label 2", () => exponentialLoss(f64([1, 2]), f64([2, 1])), /^exponentialLoss: labels must be -1 or 1, got 2 at \[0\]/],
    ["cosineEmbedding target shape", () => cosineEmbeddingLoss(x, x, f64([1, 1, 1])), /^cosineEmbeddingLoss: expected inputs \[N, D\] with target \[N\]/],
    ["bad reduction", () => mseLoss(x, x, { reduction: "avg" as Reduction }), /^mseLoss: reduction must be "mean", "sum" or "none", got "avg"/],
    ["bad labelSmoothing", () => crossEntropy(x, i32([0, 1]), { labelSmoothing: 1.5 }), /^crossEntropy: labelSmoothing must be a number in \[0, 1\], got 1.5/],
    ["negative beta", () => smoothL1Loss(x, x, { beta: -1 }), /^smoothL1Loss: beta must be/],
    ["zero delta", () => huberLoss(x, x, { delta: 0 }), /^huberLoss: delta must be a finite number > 0, got 0/],
    ["not a tensor", () => mseLoss(x, [1, 2] as unknown as Tensor), /^mseLoss: expected a Tensor for target, got an array/],
    ["scalar logits", () => crossEntropy(f64(1), i32([0])), /^crossEntropy: input must have a class axis, got a scalar/],
    ["accuracy label", () => accuracy(x, i32([0, 3])), /^accuracy: label 3 at \[1\] is out of range/],
  ];
  it.each(cases)("%s", (_, f, message) => {
    expect(f).toThrow(DeltagradError);
    expect(f).toThrow(message);
  });
});

// ----- metrics -----

describe("zeroOneLoss and accuracy", () => {
  it("count argmax mismatches and carry no gradient", () => {
    const s = f64([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], true);
    const y = i32([0, 0, 0]);
    expect(zeroOneLoss(s, y).itemSync()).toBeCloseTo(1 / 3, 7);
    expect(zeroOneLoss(s, y, { reduction: "sum" }).itemSync()).toBe(1);
    expect(zeroOneLoss(s, y, { reduction: "none" }).arraySync()).toEqual([0, 1, 0]);
    expect(accuracy(s, y).itemSync()).toBeCloseTo(2 / 3, 7);
    expect(zeroOneLoss(s, y).requiresGrad).toBe(false);
    expect(accuracy(s, y).requiresGrad).toBe(false);
  });

  it("compare predicted labels of the target's shape", () => {
    expect(zeroOneLoss(i32([1, 2, 3, 4]), i32([1, 2, 0, 0])).itemSync()).toBe(0.5);
    expect(accuracy(f64([1, -1, 1]), f64([1, 1, 1])).itemSync()).toBeCloseTo(2 / 3, 7);
  });
});
