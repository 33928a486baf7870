/**
 * conv2d, maxPool2d, avgPool2d, adaptiveAvgPool2d: forward against plain loop references written
 * here (independent of unfold), backward by finite differences over fast-check generated
 * geometries, second order through unfold/fold, and PyTorch's values in fixtures/conv.json.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import {
  DeltagradError, adaptiveAvgPool2d, avgPool2d, conv2d, gradcheck, gradgradcheck, graphNodes, maxPool2d, ones, randn, tensor, zeros,
  type Tensor,
} from "@deltagrad/autograd";
import { expectClose, ravel, seedArb, size, t64, values, type Shape } from "./helpers.js";
import { errorOf } from "@deltagrad/autograd/testing";

// ---- references: direct loops over output positions, the textbook definitions ----

interface Geo {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

const outDim = (n: number, f: number, g: Geo, a: 0 | 1) => Math.floor((n + 2 * g.padding[a] - g.dilation[a] * (f - 1) - 1) / g.stride[a]) + 1;

function refConv(x: number[], xs: Shape, w: number[], ws: Shape, b: number[] | null, g: Geo, groups: number): { values: number[]; shape: Shape } {
  const [n, c, h, wd] = xs as [number, number, number, number];
  const [k, cg, kh, kw] = ws as [number, number, number, number];
  const oh = outDim(h, kh, g, 0);
  const ow = outDim(wd, kw, g, 1);
  const kg = k / groups;
  const shape = [n, k, oh, ow];
  const out = new Array<number>(size(shape)).fill(0);
  for (let bi = 0; bi < n; bi++)
    for (let o = 0; o < k; o++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = b ? b[o]! : 0;
          const grp = Math.floor(o / kg);
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const y = i * g.stride[0] - g.padding[0] + u * g.dilation[0];
                const xx = j * g.stride[1] - g.padding[1] + v * g.dilation[1];
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                s += x[ravel([bi, grp * cg + ci, y, xx], xs)]! * w[ravel([o, ci, u, v], ws)]!;
              }
          out[ravel([bi, o, i, j], shape)] = s;
        }
  return { values: out, shape };
}

/** Visits each window's in-image taps in row-major order; `reduce` sees the taps and the window size. */
function refPool(x: number[], xs: Shape, kernel: [number, number], g: Geo, reduce: (taps: number[], kk: number) => number) {
  const [n, c, h, w] = xs as [number, number, number, number];
  const oh = outDim(h, kernel[0], g, 0);
  const ow = outDim(w, kernel[1], g, 1);
  const shape = [n, c, oh, ow];
  const out: number[] = [];
  for (let bi = 0; bi < n; bi++)
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const taps: number[] = [];
          for (let u = 0; u < kernel[0]; u++)
            for (let v = 0; v < kernel[1]; v++) {
              const y = i * g.stride[0] - g.padding[0] + u * g.dilation[0];
              const xx = j * g.stride[1] - g.padding[1] + v * g.dilation[1];
              if (y >= 0 && y < h && xx >= 0 && xx < w) taps.push(x[ravel([bi, ci, y, xx], xs)]!);
            }
          out.push(reduce(taps, kernel[0] * kernel[1]));
        }
  return { values: out, shape };
}

/** Distinct values ≥ 0.05 apart in random order, so max-pool has no ties and ±ε never reorders them. */
function distinct(shape: Shape, seed: number): number[] {
  const r = values(shape, seed, 0, 1);
  const order = r.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(r.length);
  order.forEach(([, i], rank) => (out[i] = (rank - r.length / 2) * 0.05));
  return out;
}

const pair = (lo: number, hi: number) => fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));

// ---- conv2d ----

/** Small geometries: batch 1–2, 1–2 groups of 1–2 channels in and out, 1–6 pixels, kernels 1–3. */
const convArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  groups: fc.integer({ min: 1, max: 2 }),
  cg: fc.integer({ min: 1, max: 2 }),
  kg: fc.integer({ min: 1, max: 2 }),
  hw: pair(1, 6),
  kernel: pair(1, 3),
  stride: pair(1, 3),
  padding: pair(0, 2),
  dilation: pair(1, 2),
  bias: fc.boolean(),
  seed: seedArb,
});

describe("conv2d", () => {
  test.prop([convArb], { numRuns: 60 })("matches the loop reference; gradcheck of x, weight, bias", (p) => {
    const g: Geo = { stride: p.stride, padding: p.padding, dilation: p.dilation };
    fc.pre(outDim(p.hw[0], p.kernel[0], g, 0) >= 1 && outDim(p.hw[1], p.kernel[1], g, 1) >= 1);
    const xs = [p.n, p.cg * p.groups, ...p.hw];
    const ws = [p.kg * p.groups, p.cg, ...p.kernel];
    const xv = values(xs, p.seed);
    const wv = values(ws, p.seed + 1);
    const bv = p.bias ? values([ws[0]!], p.seed + 2) : null;
    const opts = { ...g, groups: p.groups };
    const x = t64(xv, xs);
    const w = t64(wv, ws);
    const b = bv ? t64(bv, [ws[0]!]) : null;
    const y = conv2d(x, w, b, opts);
    const expected = refConv(xv, xs, wv, ws, bv, g, p.groups);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 1e-12, "conv2d");
    const inputs = b ? [x, w, b] : [x, w];
    expect(gradcheck((...t: Tensor[]) => conv2d(t[0]!, t[1]!, t[2] ?? null, opts), inputs)).toBe(true);
  });

  it.each([
    { name: "a batch (its images side by side in the GEMM's columns)", xs: [3, 2, 5, 4], ws: [3, 2, 3, 2], opts: { padding: 1 } },
    { name: "one image", xs: [1, 4, 5, 5], ws: [4, 2, 3, 3], opts: { groups: 2, stride: 2 } },
    { name: "one output position, window = whole image", xs: [3, 2, 4, 3], ws: [5, 2, 4, 3], opts: {} },
    { name: "one output position with padding and stride", xs: [2, 2, 3, 3], ws: [3, 2, 4, 4], opts: { padding: 1, stride: 3 } },
    { name: "one output position, two groups", xs: [2, 4, 3, 3], ws: [4, 2, 3, 3], opts: { groups: 2 } },
  ])("each layout of the product matches the loop reference, and gradcheck: $name", ({ xs, ws, opts }) => {
    const g: Geo = { stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    if ("stride" in opts) g.stride = [opts.stride!, opts.stride!];
    if ("padding" in opts) g.padding = [opts.padding!, opts.padding!];
    const groups = "groups" in opts ? opts.groups! : 1;
    const [xv, wv, bv] = [values(xs, 7), values(ws, 8), values([ws[0]!], 9)];
    const [x, w, b] = [t64(xv, xs), t64(wv, ws), t64(bv, [ws[0]!])];
    const expected = refConv(xv, xs, wv, ws, bv, g, groups);
    const y = conv2d(x, w, b, opts);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 1e-12, "conv2d");
    expect(gradcheck((x, w, b) => conv2d(x!, w!, b!, opts), [x, w, b])).toBe(true);
    // float32 on the active backend against the float64 loop reference.
    const y32 = conv2d(tensor(xv).reshape(xs), tensor(wv).reshape(ws), tensor(bv), opts);
    expectClose(y32.dataSync(), expected.values, 1e-5, "conv2d float32");
  });

  it.each([
    { name: "stride 2, padding 1, dilation 2", xs: [1, 2, 5, 5], ws: [2, 2, 2, 2], opts: { stride: 2, padding: 1, dilation: 2 } },
    { name: "two groups, non-square everything", xs: [2, 2, 4, 3], ws: [2, 1, 2, 3], opts: { stride: [1, 2] as [number, number], padding: [1, 0] as [number, number], groups: 2 } },
  ])("second order (gradgradcheck through unfold and fold): $name", ({ xs, ws, opts }) => {
    const x = t64(values(xs, 3), xs);
    const w = t64(values(ws, 4), ws);
    const b = t64(values([ws[0]!], 5), [ws[0]!]);
    expect(gradgradcheck((x, w, b) => conv2d(x, w, b, opts), [x, w, b])).toBe(true);
  });

  it("is a composite: unfold, reshapes, a permute, one matmul and the bias add — every VJP comes from those primitives", () => {
    const x = randn([2, 4, 6, 6], { requiresGrad: true });
    const w = randn([6, 2, 3, 3], { requiresGrad: true });
    const opsOf = (y: Tensor) => graphNodes(y).flatMap((n) => (n.op ? [n.op] : [])).sort();
    // The batch is in the GEMM's columns: unfold writes them [C·kk, N, L] itself (a reshape makes
    // [G, rows, N·L]) and the product [G, K/G, N·L] goes back to NCHW with one permute.
    const y = conv2d(x, w, zeros([6], { requiresGrad: true }), { groups: 2, padding: 1 });
    expect(opsOf(y)).toEqual(["add", "matmul", "permute", ...Array(5).fill("reshape"), "unfold"]);
    const cols = graphNodes(y).find((n) => n.op === "unfold")!.tensor;
    expect(cols.node!.attrs).toEqual({ kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], batchInColumns: true });
    expect(cols.shape).toEqual([4 * 9, 2, 36]);
    // The same ops for one image (exportOnnx's dynamic batch axis needs that); one output
    // position per image is [N, rows]·Wᵀ, without permutes.
    const batchOf = (n: number) => opsOf(conv2d(randn([n, 4, 6, 6], { requiresGrad: true }), w, null, { groups: 2 }));
    expect(batchOf(1)).toEqual(["matmul", "permute", ...Array(4).fill("reshape"), "unfold"]);
    expect(batchOf(1)).toEqual(batchOf(3));
    expect(opsOf(conv2d(x, randn([5, 4, 6, 6], { requiresGrad: true })))).toEqual(["matmul", "permute", "reshape", "reshape", "reshape", "unfold"]);
    const ops = (t: Tensor) => new Set(graphNodes(t).flatMap((n) => (n.op ? [n.op] : [])));
    // maxPool2d gathers the flat input at the window argmax (int32, off the gradient graph; conv-pool.test.ts): no columns, no padding copy.
    expect(ops(maxPool2d(x, { kernel: 2, padding: 1 }))).toEqual(new Set(["reshape", "gather"]));
    expect(ops(avgPool2d(x, { kernel: 2 }))).toEqual(new Set(["reshape", "unfold", "sum", "mul"]));
  });

  it("lecture 003: 32×32×3 input, ten 5×5 filters, stride 1, padding 2 → 32×32×10 with 760 parameters", () => {
    const w = zeros([10, 3, 5, 5]);
    const b = zeros([10]);
    const y = conv2d(randn([1, 3, 32, 32]), w, b, { stride: 1, padding: 2 });
    expect(y.shape).toEqual([1, 10, 32, 32]);
    expect(w.size + b.size).toBe(10 * (5 * 5 * 3) + 10); // 760: 75 weights and one bias per filter
    expect(w.size + b.size).toBe(760);
  });

  it("output size is ⌊(N + 2P − F)/S⌋ + 1", () => {
    for (const [n, f, p, s] of [[7, 3, 0, 2], [8, 3, 1, 2], [5, 5, 0, 1], [6, 2, 2, 3], [28, 5, 0, 1]] as const) {
      const y = conv2d(zeros([1, 1, n, n]), zeros([1, 1, f, f]), null, { stride: s, padding: p });
      expect(y.shape.slice(2)).toEqual([Math.floor((n + 2 * p - f) / s) + 1, Math.floor((n + 2 * p - f) / s) + 1]);
    }
  });

  it("float32 by default, gradient reaches x, weight and bias", () => {
    const x = randn([2, 3, 6, 6], { requiresGrad: true });
    const w = randn([4, 3, 3, 3], { requiresGrad: true });
    const b = zeros([4], { requiresGrad: true });
    const y = conv2d(x, w, b, { padding: 1 });
    expect(y.dtype).toBe("float32");
    y.sum().backward();
    expect(x.grad!.shape).toEqual([2, 3, 6, 6]);
    expect(w.grad!.shape).toEqual([4, 3, 3, 3]);
    expect(Array.from(b.grad!.dataSync())).toEqual([72, 72, 72, 72]); // 2 images × 6×6 outputs each
  });

  it("errors name conv2d and both shapes", () => {
    const err = errorOf;
    const tooSmall = err(() => conv2d(zeros([1, 3, 4, 4]), zeros([10, 3, 5, 5])));
    expect(tooSmall).toMatch(/^conv2d: input 4×4 .*too small/);
    expect(tooSmall).toContain("input [1,3,4,4], weight [10,3,5,5]");
    const stride0 = err(() => conv2d(zeros([1, 3, 8, 8]), zeros([10, 3, 5, 5]), null, { stride: 0 }));
    expect(stride0).toMatch(/^conv2d: stride must be an integer ≥ 1/);
    expect(stride0).toContain("input [1,3,8,8], weight [10,3,5,5]");
    const channels = err(() => conv2d(zeros([1, 4, 8, 8]), zeros([10, 3, 5, 5])));
    expect(channels).toMatch(/^conv2d: input has 4 channels but weight expects 3/);
    expect(channels).toContain("input [1,4,8,8], weight [10,3,5,5]");
    expect(err(() => conv2d(zeros([1, 4, 8, 8]), zeros([3, 2, 3, 3]), null, { groups: 2 }))).toMatch(/^conv2d: 3 output channels are not divisible by groups 2/);
    expect(err(() => conv2d(zeros([1, 3, 8, 8]), zeros([10, 3, 5, 5]), zeros([9])))).toMatch(/^conv2d: bias must be \[10\], got \[9\]/);
    expect(err(() => conv2d(zeros([3, 8, 8]), zeros([10, 3, 5, 5])))).toMatch(/^conv2d: expected NCHW input of rank 4/);
    expect(err(() => maxPool2d(zeros([1, 1, 2, 2]), { kernel: 3 }))).toMatch(/^maxPool2d: input 2×2 .*too small.*input \[1,1,2,2\]/);
    expect(err(() => maxPool2d(zeros([1, 1, 4, 4]), { kernel: 2, stride: 0 }))).toMatch(/^maxPool2d: stride must be/);
    expect(err(() => maxPool2d(zeros([1, 1, 1, 1]), { kernel: [1, 2], padding: [0, 1], dilation: [1, 2] }))).toBe(
      "maxPool2d: window 0 along width covers only padding (kernel 1×2, dilation 1,2, padding 0,1, input [1,1,1,1])",
    );
    expect(err(() => avgPool2d(zeros([1, 1, 4, 4]), { kernel: 2, padding: 2 }))).toMatch(/^avgPool2d: padding 2,2 must be at most half of kernel 2×2/);
  });
});

// ---- pooling ----

const poolArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 2 }),
  hw: pair(1, 6),
  kernel: pair(1, 3),
  stride: fc.option(pair(1, 3), { nil: undefined }),
  padding: pair(0, 1),
  dilation: pair(1, 2),
  seed: seedArb,
});

describe("maxPool2d", () => {
  test.prop([poolArb], { numRuns: 40 })("matches the loop reference; gradcheck (no ties)", (p) => {
    const padding: [number, number] = [Math.min(p.padding[0], p.kernel[0] >> 1), Math.min(p.padding[1], p.kernel[1] >> 1)];
    const g: Geo = { stride: p.stride ?? p.kernel, padding, dilation: p.dilation };
    fc.pre(outDim(p.hw[0], p.kernel[0], g, 0) >= 1 && outDim(p.hw[1], p.kernel[1], g, 1) >= 1);
    const xs = [p.n, p.c, ...p.hw];
    const xv = distinct(xs, p.seed);
    const opts = { kernel: p.kernel, stride: p.stride, padding, dilation: p.dilation };
    const x = t64(xv, xs);
    const expected = refPool(xv, xs, p.kernel, g, (taps) => (taps.length ? Math.max(...taps) : NaN));
    if (expected.values.some(Number.isNaN)) {
      // Dilated taps can straddle the input so a window sees only padding: an error, not −∞.
      expect(() => maxPool2d(x, opts)).toThrow(/^maxPool2d: window \d+ along (height|width) covers only padding/);
      return;
    }
    const y = maxPool2d(x, opts);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 0, "maxPool2d");
    expect(gradcheck((t) => maxPool2d(t, opts), [x])).toBe(true);
  });

  it("ties: the whole gradient goes to the first maximum in row-major window order", () => {
    const x = tensor([[[[5, 5], [0, 5]]]], { dtype: "float64", requiresGrad: true });
    maxPool2d(x, { kernel: 2 }).sum().backward();
    expect(x.grad!.arraySync()).toEqual([[[[1, 0], [0, 0]]]]);

    // An all-zero window (what a ReLU leaves behind) and a tie down a column.
    const z = tensor([[[[0, 0, 1, 2], [0, 0, 2, 0]]]], { dtype: "float64", requiresGrad: true });
    maxPool2d(z, { kernel: 2 }).backward(tensor([[[[3, 7]]]], { dtype: "float64" }));
    expect(z.grad!.arraySync()).toEqual([[[[3, 0, 0, 7], [0, 0, 0, 0]]]]);
  });

  it("ties across overlapping windows: each window's first maximum, gradients summed", () => {
    // Windows of 2 with stride 1 over [4, 4, 4]: both windows pick their left element.
    const x = tensor([[[[4, 4, 4]]]], { dtype: "float64", requiresGrad: true });
    maxPool2d(x, { kernel: [1, 2], stride: 1 }).sum().backward();
    expect(x.grad!.arraySync()).toEqual([[[[1, 1, 0]]]]);
  });

  it("padding is −∞: it never wins, even against negative inputs", () => {
    const x = tensor([[[[-5, -6], [-7, -8]]]], { dtype: "float64", requiresGrad: true });
    const y = maxPool2d(x, { kernel: 3, stride: 1, padding: 1 });
    expect(y.arraySync()).toEqual([[[[-5, -5], [-5, -5]]]]);
    y.sum().backward();
    expect(x.grad!.arraySync()).toEqual([[[[4, 0], [0, 0]]]]);
  });

  it("NaN propagates", () => {
    const y = maxPool2d(tensor([[[[1, NaN], [3, 4]]]]), { kernel: 2 });
    expect(Number.isNaN(y.itemSync())).toBe(true);
  });
});

describe("avgPool2d", () => {
  test.prop([poolArb, fc.boolean()], { numRuns: 40 })("matches the loop reference both ways of counting padding; gradcheck", (p, countIncludePad) => {
    const padding: [number, number] = [Math.min(p.padding[0], p.kernel[0] >> 1), Math.min(p.padding[1], p.kernel[1] >> 1)];
    const g: Geo = { stride: p.stride ?? p.kernel, padding, dilation: [1, 1] };
    fc.pre(outDim(p.hw[0], p.kernel[0], g, 0) >= 1 && outDim(p.hw[1], p.kernel[1], g, 1) >= 1);
    const xs = [p.n, p.c, ...p.hw];
    const xv = values(xs, p.seed);
    const opts = { kernel: p.kernel, stride: p.stride, padding, countIncludePad };
    const x = t64(xv, xs);
    const mean = (taps: number[], kk: number) => taps.reduce((a, b) => a + b, 0) / (countIncludePad ? kk : taps.length);
    const expected = refPool(xv, xs, p.kernel, g, mean);
    const y = avgPool2d(x, opts);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y.dataSync(), expected.values, 1e-12, "avgPool2d");
    expect(gradcheck((t) => avgPool2d(t, opts), [x])).toBe(true);
  });

  it("countIncludePad decides the divisor at the border", () => {
    const x = ones([1, 1, 2, 2], { dtype: "float64" });
    expect(avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }).arraySync()).toEqual([[[[4 / 9, 4 / 9], [4 / 9, 4 / 9]]]]);
    expect(avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false }).arraySync()).toEqual([[[[1, 1], [1, 1]]]]);
  });
});

describe("adaptiveAvgPool2d", () => {
  test.prop([fc.record({ hw: pair(1, 7), out: pair(1, 4), seed: seedArb })], { numRuns: 20 })("PyTorch's bins; gradcheck", ({ hw, out, seed }) => {
    const xs = [1, 2, ...hw];
    const xv = values(xs, seed);
    const x = t64(xv, xs);
    const y = adaptiveAvgPool2d(x, out);
    const expected: number[] = [];
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < out[0]; i++)
        for (let j = 0; j < out[1]; j++) {
          const [h0, h1] = [Math.floor((i * hw[0]) / out[0]), Math.ceil(((i + 1) * hw[0]) / out[0])];
          const [w0, w1] = [Math.floor((j * hw[1]) / out[1]), Math.ceil(((j + 1) * hw[1]) / out[1])];
          let s = 0;
          for (let u = h0; u < h1; u++) for (let v = w0; v < w1; v++) s += xv[ravel([0, c, u, v], xs)]!;
          expected.push(s / ((h1 - h0) * (w1 - w0)));
        }
    expect(y.shape).toEqual([1, 2, ...out]);
    expectClose(y.dataSync(), expected, 1e-12, "adaptiveAvgPool2d");
    expect(gradcheck((t) => adaptiveAvgPool2d(t, out), [x])).toBe(true);
  });
});

// ---- PyTorch fixture ----

interface FixtureCase {
  name: string;
  op: "conv2d" | "max_pool2d" | "avg_pool2d";
  x: unknown;
  weight?: unknown;
  bias?: unknown;
  stride: number;
  padding: number;
  dilation?: number;
  groups?: number;
  kernel?: number;
  ceil_mode?: boolean;
  count_include_pad?: boolean;
  cotangent: unknown;
  y: unknown;
  grad_x: unknown;
  grad_weight?: unknown;
  grad_bias?: unknown;
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/conv.json", import.meta.url), "utf8")) as { dtype: string; cases: FixtureCase[] };
const f64 = (v: unknown, requiresGrad = false) => tensor(v as number[], { dtype: "float64", requiresGrad });
const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
/** |actual − expected| ≤ 1e-6 for every element: absolute, whatever the magnitude. */
function within1e6(actual: ArrayLike<number>, expected: number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const worst = expected.reduce((m, e, i) => Math.max(m, Math.abs(actual[i]! - e)), 0);
  expect(worst, what).toBeLessThanOrEqual(1e-6);
}

describe("PyTorch fixture (fixtures/conv.json)", () => {
  it("is float64 and has cases of every op", () => {
    expect(fixture.dtype).toBe("float64");
    expect(new Set(fixture.cases.map((c) => c.op))).toEqual(new Set(["conv2d", "max_pool2d", "avg_pool2d"]));
  });

  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s: y and every gradient within 1e-6", (_name, c) => {
    expect(c.ceil_mode ?? false).toBe(false); // floor mode is what we implement
    const x = f64(c.x, true);
    const leaves: [string, Tensor, unknown][] = [["grad_x", x, c.grad_x]];
    let y: Tensor;
    if (c.op === "conv2d") {
      const w = f64(c.weight, true);
      const b = f64(c.bias, true);
      leaves.push(["grad_weight", w, c.grad_weight], ["grad_bias", b, c.grad_bias]);
      y = conv2d(x, w, b, { stride: c.stride, padding: c.padding, dilation: c.dilation!, groups: c.groups! });
    } else if (c.op === "max_pool2d") {
      y = maxPool2d(x, { kernel: c.kernel!, stride: c.stride, padding: c.padding });
    } else {
      y = avgPool2d(x, { kernel: c.kernel!, stride: c.stride, padding: c.padding, countIncludePad: c.count_include_pad! });
    }
    expect(y.shape).toEqual(f64(c.y).shape);
    within1e6(y.dataSync(), flat(c.y), `${c.name} y`);
    y.backward(f64(c.cotangent));
    for (const [what, leaf, expected] of leaves) within1e6(leaf.grad!.dataSync(), flat(expected), `${c.name} ${what}`);
  });
});
