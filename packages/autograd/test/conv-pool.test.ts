/**
 * maxPool2d (a window argmax and a gather, whose adjoint scatter-adds the cotangent) against the
 * plain composition it replaced, pad → unfold → argmax → one-hot → where → sum, written here with
 * public ops: the same values, the same gradients to second order, with ties (first maximum in
 * row-major window order takes it all), NaN, ±∞ and padding, on cpu (float64) and wasm
 * (float32); compiled equals eager bit for bit. Two differences are expected and checked as such:
 * a window whose taps inside the image are all −∞ chooses its first tap inside the image
 * (PyTorch's rule; the composition's −∞ padding could win there), and where windows overlap a
 * pixel's gradient sums the same terms in another order (output order, not tap order).
 */
import { afterEach, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { compile, getBackend, grad, maxPool2d, setBackend, tensor, type Tensor } from "@deltagrad/autograd";
import { seedArb, values } from "./helpers.js";

const initial = getBackend().name;
afterEach(() => setBackend(initial));
const BACKENDS = ["cpu", "wasm"].filter((b) => dg.listBackends().includes(b));

interface PoolOpts {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
}

/** The composition maxPool2d was before its fast path (and still equals). */
function composed(x: Tensor, o: PoolOpts): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [ph, pw] = o.padding ?? [0, 0];
  const p = { kernel: o.kernel, stride: o.stride ?? o.kernel, dilation: o.dilation ?? [1, 1] };
  const padded = dg.pad(x, [[0, 0], [0, 0], [ph, ph], [pw, pw]], -Infinity);
  const cols = dg.unfold(dg.reshape(padded, [n * c, 1, h + 2 * ph, w + 2 * pw]), p); // [N·C, kk, L]
  const kk = o.kernel[0] * o.kernel[1];
  // The first maximum; a window with no number above −∞ takes its first tap inside the image.
  const inside = dg.unfold(dg.pad(dg.ones([1, 1, h, w]), [[0, 0], [0, 0], [ph, ph], [pw, pw]]), p); // [1, kk, L]
  const top = dg.max(cols, { axis: 1, keepDims: true });
  const first = dg.where(dg.equal(top, -Infinity), dg.argmax(inside, { axis: 1, keepDims: true }), dg.argmax(cols, { axis: 1, keepDims: true }));
  const hot = dg.equal(first, dg.reshape(dg.arange(kk, undefined, 1, { dtype: "int32" }), [1, kk, 1]));
  const y = dg.sum(dg.where(hot, cols, 0), { axis: 1 });
  const oh = Math.floor((h + 2 * ph - p.dilation[0] * (o.kernel[0] - 1) - 1) / p.stride[0]) + 1;
  return dg.reshape(y, [n, c, oh, y.shape[1]! / oh]);
}

/**
 * Values equal as numbers (NaN equals NaN; −0 equals +0). With `bound`, element i may differ by
 * bound[i]: sums of the same terms in another order.
 */
function same(a: Tensor, b: Tensor, what: string, bound?: Float32Array | Float64Array): void {
  expect(a.shape, what).toEqual(b.shape);
  const [u, v] = [a.dataSync(), b.dataSync()];
  for (let i = 0; i < u.length; i++) {
    const ok = u[i] === v[i] || (Number.isNaN(u[i]!) && Number.isNaN(v[i]!)) || (bound !== undefined && Math.abs(u[i]! - v[i]!) <= bound[i]!);
    if (!ok) throw new Error(`${what}: element ${i} is ${u[i]}, the composition gives ${v[i]}${bound ? ` (allowed difference ${bound[i]})` : ""}`);
  }
}

/**
 * Whether windows overlap (a pixel can be chosen by several), and then the bound on reordering a
 * pixel's sum of its m ≤ kh·kw cotangent terms: m·ε·Σ|terms|, Σ|terms| being the gradient of
 * ⟨pool(x), |ct|⟩ (the same choice of elements, every term taken positive).
 */
function reorderBound(x: Tensor, o: PoolOpts, ct: Tensor): Float32Array | Float64Array | undefined {
  const s = o.stride ?? o.kernel;
  const d = o.dilation ?? [1, 1];
  if (s[0] >= o.kernel[0] * d[0] && s[1] >= o.kernel[1] * d[1]) return undefined;
  const abs = grad((t: Tensor) => dg.sum(dg.mul(maxPool2d(t, o), dg.abs(ct))))(x).dataSync() as Float32Array | Float64Array;
  const eps = x.dtype === "float64" ? 2 ** -52 : 2 ** -23;
  return abs.map((v) => o.kernel[0] * o.kernel[1] * eps * Math.abs(v));
}

/** Inputs with many ties: values from a few levels (0 as after a ReLU), and some NaN or ±∞ when asked. */
function tiesArb(size: number, special: boolean): fc.Arbitrary<number[]> {
  const levels = special ? [0, 0, 1, 2, -1, NaN, Infinity, -Infinity] : [0, 0, 0, 1, 2, -1];
  return fc.array(fc.constantFrom(...levels), { minLength: size, maxLength: size });
}

const geoArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 2 }),
  hw: fc.tuple(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 2, max: 7 })),
  kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { nil: undefined }),
  padding: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
  dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  seed: seedArb,
});

type Geo = typeof geoArb extends fc.Arbitrary<infer G> ? G : never;

/** Options the op accepts for this geometry (padding at most half the kernel; no window of padding only), or null. */
function optsFor(g: Geo): PoolOpts | null {
  const padding: [number, number] = [Math.min(g.padding[0], g.kernel[0] >> 1), Math.min(g.padding[1], g.kernel[1] >> 1)];
  const o: PoolOpts = { kernel: g.kernel, stride: g.stride, padding, dilation: g.dilation };
  try {
    maxPool2d(dg.zeros([1, 1, ...g.hw]), o);
    return o;
  } catch {
    return null;
  }
}

describe.each(BACKENDS)("maxPool2d's fast path equals the composition on %s", (backend) => {
  const dtype = backend === "cpu" ? "float64" : "float32";
  const input = (v: number[], shape: number[]) => tensor(v, { dtype }).reshape(shape);

  test.prop([geoArb, fc.boolean(), fc.nat()], { numRuns: 60 })("values and first-order gradients, ties, NaN and ±∞", (g, special, pick) => {
    setBackend(backend);
    const o = optsFor(g);
    fc.pre(o !== null);
    const shape = [g.n, g.c, ...g.hw];
    const size = shape.reduce((a, b) => a * b, 1);
    const xv = fc.sample(tiesArb(size, special), { seed: g.seed, numRuns: 1 })[0]!;
    if (pick % 3 === 0) values(shape, g.seed).forEach((v, i) => (xv[i] = v)); // also inputs without ties
    const x = input(xv, shape);
    const y = maxPool2d(x, o!);
    same(y, composed(x, o!), "y");
    const ct = input(values(y.shape.slice(), g.seed + 1), y.shape.slice());
    const gx = grad((t: Tensor) => dg.sum(dg.mul(maxPool2d(t, o!), ct)))(x);
    const gc = grad((t: Tensor) => dg.sum(dg.mul(composed(t, o!), ct)))(x);
    same(gx, gc, "grad", reorderBound(x, o!, ct));
  });

  it("second order: gradients of a gradient agree (through the VJP's mask, recorded with createGraph)", () => {
    setBackend(backend);
    const shape = [2, 2, 5, 6];
    const x = input(values(shape, 3).map((v, i) => (i % 4 === 0 ? 0 : v)), shape);
    const o: PoolOpts = { kernel: [3, 2], stride: [2, 1], padding: [1, 1] };
    const u = input(values(shape, 5), shape);
    // f(x) = Σ pool(x)² has a nonzero second derivative; d/dx ⟨∇f(x), u⟩ exercises the VJP's VJP.
    const second = (pool: (t: Tensor, o: PoolOpts) => Tensor) =>
      grad((t: Tensor) => dg.sum(dg.mul(grad((s: Tensor) => dg.sum(dg.square(pool(s, o))))(t), u)))(x);
    same(second(maxPool2d), second(composed), "second order");
  });

  it("ties: the first maximum in row-major window order takes the whole gradient, as the composition", () => {
    setBackend(backend);
    const x = input([0, 0, 1, 2, 0, 0, 2, 0, 5, 5, 5, 5, 5, 5, 5, 5], [1, 1, 4, 4]);
    const gx = grad((t: Tensor) => dg.sum(maxPool2d(t, { kernel: 2 })))(x);
    expect(Array.from(gx.dataSync())).toEqual([1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    const y = maxPool2d(input([NaN, 1, 2, 3], [1, 1, 2, 2]), { kernel: 2 });
    expect(Number.isNaN(y.itemSync())).toBe(true);
  });

  it("compiled equals eager bit for bit (forward and gradient, with ties)", () => {
    setBackend(backend);
    const shape = [3, 2, 8, 8];
    const step = (x: Tensor, ct: Tensor) => {
      const y = maxPool2d(dg.relu(x), { kernel: 2 });
      return [y, grad((t: Tensor) => dg.sum(dg.mul(maxPool2d(dg.relu(t), { kernel: 2 }), ct)))(x)];
    };
    const f = compile(step);
    const bits = (t: Tensor) => Array.from(t.dataSync(), (v) => (Object.is(v, -0) ? "-0" : String(v)));
    for (const seed of [1, 2]) {
      const x = input(values(shape, seed), shape);
      const ct = input(values([3, 2, 4, 4], seed + 7), [3, 2, 4, 4]);
      const [ey, eg] = step(x, ct);
      const [cy, cg] = f(x, ct);
      expect(bits(cy!)).toEqual(bits(ey!));
      expect(bits(cg!)).toEqual(bits(eg!));
    }
    expect(f.stats().traces).toBe(1);
  });
});
