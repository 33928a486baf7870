/**
 * conv2d's column layout `[C·kh·kw, N, L]` (WindowParams.batchInColumns: the batch in the
 * columns, no permute before the GEMM). Its im2col must equal the `[N, C·kh·kw, L]` columns with
 * the first two axes swapped, and its col2im the col2im of the swapped columns, bit for bit (both
 * layouts walk in the same order, so fold's sums are the same), over random geometries (padding,
 * stride, dilation, N = 1 and N > 1, odd L, many channels): the cpu kernels against a swap written
 * here; wasm against cpu at the kernel level, split into tasks on 1 and 2 threads; the ops on
 * each backend; gradients through the VJPs (which keep the layout) by finite differences, second
 * order too; compiled conv2d equals eager.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as dg from "@deltagrad/autograd";
import {
  compile, cpuBackend, getBackend, gradcheck, gradgradcheck, setBackend, wasmBackend, wasmSimdSupported,
  type DType, type Tensor, type TypedArray, type WindowParams,
} from "@deltagrad/autograd";
import { foldWith, unfoldWith } from "../src/ops/window-layout.js";
import { onWasm, rand } from "./wasm-support.js";
import { t64, values } from "./helpers.js";

const initial = getBackend().name;
afterEach(() => setBackend(initial));
const BACKENDS = ["cpu", "wasm"].filter((b) => dg.listBackends().includes(b));

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Equal bit for bit as far as values go (NaN equals NaN, −0 does not equal 0); names the first difference. */
function same(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) if (!Object.is(actual[i], expected[i])) expect({ at: i, value: actual[i] }).toEqual({ at: i, value: expected[i] });
}
const outSize = (shape: readonly number[], p: WindowParams) =>
  [0, 1].map((a) => Math.floor((shape[2 + a]! + 2 * p.padding[a]! - p.dilation[a]! * (p.kernel[a]! - 1) - 1) / p.stride[a]!) + 1) as [number, number];
const inColumns = (p: WindowParams): WindowParams => ({ ...p, batchInColumns: true });

/** `[A, B, L]` → `[B, A, L]`: the other layout of the same columns. */
function swap<T extends TypedArray>(v: T, a: number, b: number, L: number): T {
  const out = new (v.constructor as new (n: number) => T)(v.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let l = 0; l < L; l++) out[(j * a + i) * L + l] = v[(i * b + j) * L + l]!;
  return out;
}

/** A small LCG for geometries. */
function rng(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0 || 1;
  return (lo, hi) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
}

/** Random NCHW shapes with window params that fit (at least one window). */
function geometries(count: number, seed: number): { shape: number[]; p: WindowParams }[] {
  const r = rng(seed);
  const out: { shape: number[]; p: WindowParams }[] = [];
  while (out.length < count) {
    const shape = [[1, 2, 3, 5][r(0, 3)]!, r(1, 4), r(1, 9), r(1, 9)];
    const p: WindowParams = { kernel: [r(1, 3), r(1, 3)], stride: [r(1, 3), r(1, 3)], padding: [r(0, 2), r(0, 2)], dilation: [r(1, 2), r(1, 2)] };
    const [oh, ow] = outSize(shape, p);
    if (oh >= 1 && ow >= 1) out.push({ shape, p });
  }
  return out;
}

/** Values with −0, NaN and ±∞ sprinkled in. */
function special(n: number, seed: number): Float32Array {
  const v = rand(n, seed).map((x) => x * 3);
  const specials = [NaN, -0, 0, Infinity, -Infinity, 1];
  for (let i = 0; i < n; i += 7) v[i] = specials[(i / 7) % specials.length]!;
  return v;
}

describe("cpu kernels: [C·kk, N, L] is [N, C·kk, L] with the first two axes swapped", () => {
  for (const dtype of ["float64", "float32"] as DType[]) {
    it(`${dtype}: 60 random geometries`, () => {
      for (const [i, { shape, p }] of geometries(60, dtype === "float64" ? 1 : 2).entries()) {
        const [n, c] = shape as [number, number];
        const [oh, ow] = outSize(shape, p);
        const [rows, L] = [c * p.kernel[0] * p.kernel[1], oh * ow];
        const x = dtype === "float64" ? Float64Array.from(special(size(shape), i)) : special(size(shape), i);
        const old = cpuBackend.unfold(x, shape, p, dtype) as TypedArray;
        same(cpuBackend.unfold(x, shape, inColumns(p), dtype) as TypedArray, swap(old, n, rows, L));
        const cols = dtype === "float64" ? Float64Array.from(special(n * rows * L, i + 100)) : special(n * rows * L, i + 100);
        const folded = cpuBackend.fold(swap(cols, rows, n, L), shape, p, dtype) as TypedArray; // cols read as [C·kk, N, L]
        same(cpuBackend.fold(cols, shape, inColumns(p), dtype) as TypedArray, folded);
      }
    });
  }
});

describe.skipIf(!wasmSimdSupported())("wasm kernels with the batch in the columns equal the cpu kernels bit for bit", () => {
  function check(shape: number[], p: WindowParams, seed: number, q = inColumns(p)): void {
    const [oh, ow] = outSize(shape, p);
    const nCols = shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
    const x = special(size(shape), seed);
    same(onWasm("float32", nCols, wasmBackend.unfold, x, shape, q, "float32"), cpuBackend.unfold(x, shape, q, "float32") as TypedArray);
    const cols = special(nCols, seed + 1);
    same(onWasm("float32", size(shape), wasmBackend.fold, cols, shape, q, "float32"), cpuBackend.fold(cols, shape, q, "float32") as TypedArray);
  }
  const P = (kernel: [number, number], stride: [number, number] = [1, 1], padding: [number, number] = [0, 0], dilation: [number, number] = [1, 1]): WindowParams =>
    ({ kernel, stride, padding, dilation });

  it("random geometries, and sizes that take the wasm kernels (≥ 4 KiB)", () => {
    for (const [i, { shape, p }] of geometries(40, 3).entries()) check(shape, p, i);
    for (const [i, { shape, p }] of geometries(20, 4).entries()) check([shape[0]! * 4, shape[1]! * 3, shape[2]! + 6, shape[3]! + 5], p, 50 + i);
  });

  it("LeNet's convolutions, stride 2, a whole-image window (N = 1: a copy; N > 1: the transpose)", () => {
    check([64, 1, 32, 32], P([5, 5]), 1);
    check([64, 6, 14, 14], P([5, 5]), 2);
    check([3, 2, 9, 17], P([3, 3], [2, 2], [1, 1]), 3);
    check([4, 3, 11, 28], P([2, 2], [2, 2]), 4);
    check([1, 16, 5, 5], P([5, 5]), 5);
    check([8, 16, 5, 5], P([5, 5]), 6);
  });

  it("tasks on 1 and 2 threads (more than 2 MB of columns): runs of planes from mid-image, runs of a channel's images", () => {
    const before = dg.getNumThreads();
    try {
      for (const threads of [1, 2]) {
        dg.setNumThreads(threads);
        // [N, C·kk, L]: 35 planes in 4 or 8 runs, starting mid-image (8, 17, …); [C·kk, N, L]:
        // each channel's 5 images in 1 or 2 runs (uneven), taps outside.
        for (const p of [P([3, 3]), inColumns(P([3, 3]))]) check([5, 7, 44, 44], p, 7, p);
        check([3, 13, 40, 30], P([3, 3], [1, 2], [1, 1], [2, 1]), 8);
        check([64, 6, 14, 14], P([5, 5]), 9);
      }
    } finally {
      dg.setNumThreads(before);
    }
  });
});

describe.each(BACKENDS)("ops on %s", (backend) => {
  it("unfoldWith/foldWith equal unfold/fold with a permute, bit for bit; shapes; errors", () => {
    setBackend(backend);
    for (const [i, { shape, p }] of geometries(30, 5).entries()) {
      const x = dg.tensor(special(size(shape), i), { dtype: "float32" }).reshape(shape);
      const cols = unfoldWith(x, inColumns(p));
      const [oh, ow] = outSize(shape, p);
      expect(cols.shape).toEqual([shape[1]! * p.kernel[0] * p.kernel[1], shape[0], oh * ow]);
      same(cols.dataSync(), dg.permute(dg.unfold(x, p), [1, 0, 2]).dataSync());
      const back = foldWith(cols, [shape[2]!, shape[3]!], inColumns(p));
      expect(back.shape).toEqual(shape);
      same(back.dataSync(), dg.fold(dg.permute(cols, [1, 0, 2]), [shape[2]!, shape[3]!], p).dataSync());
    }
    const p = inColumns({ kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] });
    expect(() => foldWith(dg.zeros([2, 9, 4]), [4, 4], p)).toThrow(/fold: columns of shape \[2,9,4\] do not fit output 4×4 with kernel 3×3 \(expected \[C·9, N, 4\]\)/);
  });

  it("compiled conv2d (forward and gradients) equals eager bit for bit", () => {
    setBackend(backend);
    const step = (x: Tensor, w: Tensor, b: Tensor, ct: Tensor) => {
      const loss = (x: Tensor, w: Tensor, b: Tensor) => dg.sum(dg.mul(dg.conv2d(x, w, b, { padding: [1, 0], stride: [1, 2], groups: 2 }), ct));
      return [dg.conv2d(x, w, b, { padding: [1, 0], stride: [1, 2], groups: 2 }), ...dg.grad(loss, { argnums: [0, 1, 2] })(x, w, b)];
    };
    const f = compile(step);
    for (const seed of [1, 2]) {
      const [x, w, b, ct] = ([[3, 4, 7, 9], [6, 2, 3, 2], [6], [3, 6, 7, 4]] as number[][]).map((s, k) => dg.tensor(values(s, seed * 10 + k), { dtype: "float32" }).reshape(s));
      const eager = step(x!, w!, b!, ct!);
      const compiled = f(x!, w!, b!, ct!);
      eager.forEach((e, k) => same(compiled[k]!.dataSync(), e.dataSync()));
    }
    expect(f.stats().traces).toBe(1);
  });
});

describe("gradients through the layout (float64, finite differences)", () => {
  it("unfold and fold with the batch in the columns, to second order", () => {
    for (const [i, { shape, p }] of geometries(6, 6).entries()) {
      const q = inColumns(p);
      const x = t64(values(shape, i), shape);
      expect(gradcheck((x) => unfoldWith(x, q), [x])).toBe(true);
      expect(gradgradcheck((x) => dg.mul(unfoldWith(x, q), unfoldWith(x, q)), [x])).toBe(true);
      const [oh, ow] = outSize(shape, p);
      const cs = [shape[1]! * p.kernel[0] * p.kernel[1], shape[0]!, oh * ow];
      const cols = t64(values(cs, i + 9), cs);
      expect(gradcheck((c) => foldWith(c, [shape[2]!, shape[3]!], q), [cols])).toBe(true);
      expect(gradgradcheck((c) => dg.square(foldWith(c, [shape[2]!, shape[3]!], q)), [cols])).toBe(true);
    }
  });
});
