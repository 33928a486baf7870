import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Generator, conv2d, getBackend, mul, randint, randn, setBackend, sum, tensor, wasmSimdSupported, zeros, type Tensor } from "@deltagrad/autograd";
import { BatchNorm2d, Conv1d, ConvTranspose2d, Embedding, GroupNorm, LayerNorm, type Module } from "@deltagrad/nn";
import { expectClose, gradcheckModule, loadCases, runCase } from "./layers-support.js";

const LAYERS: Record<string, unknown> = { Conv1d, ConvTranspose2d };
const g = (seed: number) => new Generator(seed);
const input = (shape: number[], seed: number) => randn(shape, { dtype: "float64", generator: g(seed) }).requiresGrad_();

describe("PyTorch fixtures (float64, within 1e-6)", () => {
  for (const c of loadCases("conv")) {
    it(`${c.name}: ${c.layer}`, () => {
      runCase(c, (args, o) => new (LAYERS[c.layer] as new (...a: unknown[]) => Module)(...args, o));
    });
  }
});

/** Direct Σ loops of PyTorch's conv1d definition, the reference for the random cases. */
function naiveConv1d(x: number[][][], w: number[][][], b: number[] | null, s: number, p: number, d: number, groups: number): number[][][] {
  const [n, l] = [x.length, x[0]![0]!.length];
  const [k, cg, kk] = [w.length, w[0]!.length, w[0]![0]!.length];
  const lo = Math.floor((l + 2 * p - d * (kk - 1) - 1) / s) + 1;
  const out: number[][][] = [];
  for (let i = 0; i < n; i++) {
    out.push([]);
    for (let o = 0; o < k; o++) {
      const grp = Math.floor(o / (k / groups));
      const row: number[] = [];
      for (let t = 0; t < lo; t++) {
        let acc = b ? b[o]! : 0;
        for (let ci = 0; ci < cg; ci++) {
          for (let u = 0; u < kk; u++) {
            const pos = t * s - p + u * d;
            if (pos >= 0 && pos < l) acc += w[o]![ci]![u]! * x[i]![grp * cg + ci]![pos]!;
          }
        }
        row.push(acc);
      }
      out[i]!.push(row);
    }
  }
  return out;
}

describe("Conv1d", () => {
  const geometry = fc.record({
    n: fc.integer({ min: 1, max: 2 }), groups: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 2 }), kg: fc.integer({ min: 1, max: 2 }),
    k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 }), p: fc.integer({ min: 0, max: 2 }), d: fc.integer({ min: 1, max: 2 }),
    extra: fc.integer({ min: 0, max: 4 }), bias: fc.boolean(), seed: fc.integer({ min: 0, max: 1000 }),
  });

  it("matches the direct sum and gradchecks (input, weight, bias) over random geometry", () => {
    fc.assert(fc.property(geometry, ({ n, groups, cg, kg, k, s, p, d, extra, bias, seed }) => {
      const l = Math.max(1, d * (k - 1) + 1 - 2 * p) + extra;
      const conv = new Conv1d(cg * groups, kg * groups, k, { stride: s, padding: p, dilation: d, groups, bias, dtype: "float64", generator: g(seed) });
      expect(conv.weight.shape).toEqual([kg * groups, cg, k]);
      const x = input([n, cg * groups, l], seed + 1);
      const want = naiveConv1d(x.arraySync() as number[][][], conv.weight.arraySync() as number[][][], bias ? (conv.bias!.arraySync() as number[]) : null, s, p, d, groups);
      expectClose(conv.call(x), want, "conv1d vs direct sum", 1e-12);
      gradcheckModule(conv, x, bias ? ["weight", "bias"] : ["weight"]);
    }), { numRuns: 15, seed: 11 });
  });

  it("accepts unbatched [C, L] input, [k] sizes; PyTorch's init bound; clear errors", () => {
    const conv = new Conv1d(4, 2, [3], { stride: [2], padding: 1, generator: g(1) });
    expect(conv.call(zeros([4, 9])).shape).toEqual([2, 5]);
    const bound = 1 / Math.sqrt(4 * 3);
    expect(Math.max(...Array.from(conv.weight.dataSync(), Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(conv.bias!.dataSync(), Math.abs))).toBeLessThanOrEqual(bound);
    expect(() => conv.call(zeros([2, 3, 9]))).toThrow(/Conv1d\(4 → 2, 3\): input \[2,3,9\] has 3 channels, weight \[2,4,3\] expects 4/);
    expect(() => conv.call(zeros([1, 2, 4, 9]))).toThrow(/Conv1d\(4 → 2, 3\): expected \[N, C, L\] or \[C, L\] input, got shape \[1,2,4,9\]/);
    expect(() => new Conv1d(4, 2, 5).call(zeros([1, 4, 3]))).toThrow(/Conv1d\(4 → 2, 5\): input length 3 \(padded 3\) is shorter than the kernel's span 5/);
    expect(() => new Conv1d(3, 2, 3, { groups: 2 })).toThrow(/Conv1d: inChannels 3 and outChannels 2 must both be divisible by groups 2/);
    expect(() => new Conv1d(3, 2, [3, 3] as never)).toThrow(/Conv1d: kernel must be an integer ≥ 1/);
    expect(new Conv1d(2, 2, 1, { dtype: "float64" }).weight.dtype).toBe("float64");
  });
});

describe("ConvTranspose2d", () => {
  const geometry = fc.record({
    n: fc.integer({ min: 1, max: 2 }), groups: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 2 }), kg: fc.integer({ min: 1, max: 2 }),
    kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 2 }),
    ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 1 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 6 }), bias: fc.boolean(), seed: fc.integer({ min: 0, max: 1000 }),
  });

  it("is the adjoint of conv2d: ⟨conv2d(x, W), y⟩ = ⟨x, convT(y, W)⟩ for random geometry (outputPadding picks x's size)", () => {
    fc.assert(fc.property(geometry, ({ n, groups, cg, kg, kh, kw, sh, sw, ph, pw, dh, dw, h, w, seed }) => {
      // x is the conv's input [N, C, H, W]; the conv's output size; outputPadding recovers H, W.
      const H = Math.max(h, dh * (kh - 1) + 1 - 2 * ph);
      const W = Math.max(w, dw * (kw - 1) + 1 - 2 * pw);
      const span = (n_: number, k: number, s: number, p: number, d: number) => n_ + 2 * p - d * (k - 1) - 1;
      const [oh, ow] = [Math.floor(span(H, kh, sh, ph, dh) / sh) + 1, Math.floor(span(W, kw, sw, pw, dw) / sw) + 1];
      const op: [number, number] = [span(H, kh, sh, ph, dh) % sh, span(W, kw, sw, pw, dw) % sw];
      const C = cg * groups;
      const K = kg * groups;
      const up = new ConvTranspose2d(K, C, [kh, kw], { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], outputPadding: op, groups, bias: false, dtype: "float64", generator: g(seed) });
      expect(up.weight.shape).toEqual([K, C / groups, kh, kw]); // a conv2d weight [K, C/groups, kh, kw] read as [in, out/groups, …]
      const x = randn([n, C, H, W], { dtype: "float64", generator: g(seed + 1) });
      const y = randn([n, K, oh, ow], { dtype: "float64", generator: g(seed + 2) });
      const z = up.call(y);
      expect(z.shape).toEqual([n, C, H, W]);
      const lhs = sum(mul(conv2d(x, up.weight, null, { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups }), y)).itemSync();
      const rhs = sum(mul(x, z)).itemSync();
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(lhs)));
    }), { numRuns: 40, seed: 5 });
  });

  it("gradchecks (input, weight, bias) over random geometry", () => {
    fc.assert(fc.property(geometry, fc.integer({ min: 0, max: 2 }), ({ n, groups, cg, kg, kh, kw, sh, sw, ph, pw, dh, dw, h, w, bias, seed }, opRaw) => {
      const op = opRaw % Math.max(sh, dh);
      const up = new ConvTranspose2d(cg * groups, kg * groups, [kh, kw], { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], outputPadding: [op, 0], groups, bias, dtype: "float64", generator: g(seed) });
      const [oh, ow] = up.outputSize(h, w);
      if (oh < 1 || ow < 1) return;
      gradcheckModule(up, input([n, cg * groups, h, w], seed + 1), bias ? ["weight", "bias"] : ["weight"]);
    }), { numRuns: 15, seed: 9 });
  });

  it("output size, unbatched input, PyTorch's init bound and clear errors", () => {
    const up = new ConvTranspose2d(4, 6, 4, { stride: 2, padding: 1, generator: g(2) });
    expect(up.call(zeros([2, 4, 7, 5])).shape).toEqual([2, 6, 14, 10]);
    expect(up.call(zeros([4, 3, 3])).shape).toEqual([6, 6, 6]);
    const bound = 1 / Math.sqrt(6 * 16); // fan-in from weight.size(1)·kh·kw, as PyTorch
    expect(Math.max(...Array.from(up.weight.dataSync(), Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(up.weight.dataSync(), Math.abs))).toBeGreaterThan(bound / 2);
    expect(() => up.call(zeros([1, 3, 5, 5]))).toThrow(/ConvTranspose2d\(4 → 6, 4×4\): input \[1,3,5,5\] has 3 channels, weight \[4,6,4,4\] expects 4/);
    expect(() => up.call(zeros([4, 5]))).toThrow(/ConvTranspose2d\(4 → 6, 4×4\): expected NCHW input of rank 4/);
    expect(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 })).toThrow(/ConvTranspose2d: outputPadding 2 must be smaller than the stride 2 or the dilation 1/);
    expect(() => new ConvTranspose2d(2, 2, 1, { padding: 1 }).call(zeros([1, 2, 2, 2]))).toThrow(/ConvTranspose2d\(2 → 2, 1×1\): input \[1,2,2,2\] gives an empty output 0×0/);
    expect(() => new ConvTranspose2d(3, 2, 3, { groups: 2 })).toThrow(/must both be divisible by groups 2/);
    const tiny = new ConvTranspose2d(1, 1, 2, { bias: false, dtype: "float64" });
    tiny.weight.assign(tensor([[[[1, 2], [3, 4]]]], { dtype: "float64" }));
    // each input pixel stamps its value times the kernel; overlaps add
    expectClose(tiny.call(tensor([[[[1, 10]]]], { dtype: "float64" })), [[[[1, 12, 20], [3, 34, 40]]]], "stamped kernels");
  });
});

describe.skipIf(!wasmSimdSupported())("on the wasm backend (float32)", () => {
  it("every layer of this family and of norm/embedding agrees with cpu within float32 rounding, gradients too", () => {
    const build = () => [
      [new Conv1d(4, 6, 3, { padding: 1, groups: 2, generator: g(1) }), () => randn([2, 4, 40], { generator: g(2) })],
      [new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, generator: g(3) }), () => randn([2, 4, 9, 9], { generator: g(4) })],
      [new BatchNorm2d(16), () => randn([4, 16, 6, 6], { generator: g(5) })],
      [new LayerNorm(64), () => randn([8, 64], { generator: g(6) })],
      [new GroupNorm(4, 16), () => randn([2, 16, 8, 8], { generator: g(7) })],
      [new Embedding(300, 16, { paddingIdx: 0, generator: g(8) }), () => randint(0, 300, [8, 40], { generator: g(9) })],
    ] as [Module, () => Tensor][];
    const run = () => build().map(([m, x]) => {
      const y = m.call(x());
      y.mul(y).sum().backward();
      return [y, ...m.parameters().map((p) => p.grad!)].map((t) => Array.from(t.dataSync()));
    });
    const prev = getBackend().name;
    setBackend("cpu");
    const want = run();
    setBackend("wasm");
    let got: number[][][];
    try {
      got = run();
    } finally {
      setBackend(prev);
    }
    want.forEach((layer, i) => layer.forEach((v, j) => {
      const scale = Math.max(1, ...v.map(Math.abs));
      const worst = Math.max(...v.map((e, k) => Math.abs(e - got[i]![j]![k]!)));
      expect(worst / scale, `layer ${i}, tensor ${j}`).toBeLessThan(1e-4);
    }));
  });
});
if (!wasmSimdSupported()) console.log("skipped: the wasm comparison needs WebAssembly SIMD");
