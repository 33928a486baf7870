/**
 * The wasm sgemm's paths by shape (wasm/kernels/gemm.ts, gemm-dot.ts, dispatch/matmul.ts), each
 * against the cpu backend's float64 product within matmul's stated bound
 * (k + 2)·2⁻²⁴·Σₚ|aᵢₚ·bₚⱼ|:
 * - edge tiles stored in place: a last row strip of 1–3 rows (its own micro-kernel), tiles
 *   narrower than NR (stored element by element), with k past KC so the later k-blocks add into
 *   partial tiles, and m past MC (several row blocks);
 * - short k blocks (kc ≤ 32): row strips outside, the later k-blocks adding into C;
 * - few rows (m ≤ 16) and k ≤ 64: B read in place (row strides a multiple of 4 KiB too), only a
 *   last partial strip packed; a longer k takes the packed path (whole strips packed in k-blocks);
 * - the skinny long-k A·Bᵀ (both operands k-contiguous): dot-product tiles over fixed k-chunks,
 *   a k % 4 tail, partial C's summed in chunk order;
 * - transposed operands, k = 1, batches (shared B folded, narrow B side by side, broadcast);
 * and bit-identical on 1 and 2 threads, compiled == eager for a step using them.
 */
import { afterEach, describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { compile, cpuBackend, manualSeed, rand, type Tensor } from "@deltagrad/autograd";
import { FUSED, UNFUSED, probeColumns, probeLongRows, probeRows } from "./fma-support.js";

const initial = dg.getBackend().name;
const initialThreads = dg.getNumThreads();
afterEach(() => {
  dg.setBackend(initial);
  dg.setNumThreads(initialThreads);
});

/** Deterministic values in [−1, 1) (a linear congruential generator). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** [rows, cols] stored transposed: the [cols, rows] array. */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/**
 * matmul of [batch…, m, k]·[batch…, k, n] on wasm (operands optionally as lazy transposes) vs the
 * cpu float64 product: every element within (k + 2)·2⁻²⁴·Σ|a·b|. Returns the wasm result's values.
 */
function check(as: number[], bs: number[], ta: boolean, tb: boolean, seed: number): Float32Array {
  const [m, k] = as.slice(-2) as [number, number];
  const n = bs[bs.length - 1]!;
  const A = values(as.reduce((x, y) => x * y, 1), seed);
  const B = values(bs.reduce((x, y) => x * y, 1), seed + 1);
  const lazyT = (v: Float32Array, s: number[], t: boolean) => {
    if (!t) return dg.tensor(v).reshape(s);
    const r = s.length;
    const mats = v.length / (s[r - 2]! * s[r - 1]!);
    const st = new Float32Array(v.length);
    for (let b = 0; b < mats; b++) st.set(transposed(v.subarray(b * s[r - 2]! * s[r - 1]!, (b + 1) * s[r - 2]! * s[r - 1]!), s[r - 2]!, s[r - 1]!), b * s[r - 2]! * s[r - 1]!);
    return dg.tensor(st).reshape([...s.slice(0, -2), s[r - 1]!, s[r - 2]!]).transpose(-2, -1);
  };
  dg.setBackend("wasm");
  const w = dg.matmul(lazyT(A, as, ta), lazyT(B, bs, tb));
  const outShape = w.shape;
  const got = w.dataSync() as Float32Array;
  const exact = cpuBackend.matmul(Float64Array.from(A), as, Float64Array.from(B), bs, outShape, "float64") as Float64Array;
  const mag = cpuBackend.matmul(Float64Array.from(A, Math.abs), as, Float64Array.from(B, Math.abs), bs, outShape, "float64") as Float64Array;
  let worst = -1;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i]! - exact[i]!) <= (k + 2) * 2 ** -24 * mag[i]!)) {
      worst = i;
      break;
    }
  }
  expect(worst, `[${as}]${ta ? "ᵀ" : ""}·[${bs}]${tb ? "ᵀ" : ""} (m=${m}, n=${n}, k=${k}): first element out of bound`).toBe(-1);
  return got;
}

describe.skipIf(!dg.listBackends().includes("wasm"))("wasm gemm paths by shape", () => {
  test("edge tiles in place: m % 4 ≠ 0, n % 8 ≠ 0, several k-blocks and row blocks, transposed operands", () => {
    let seed = 1;
    for (const m of [1, 2, 3, 5, 7, 17, 131]) {
      for (const n of [1, 7, 9, 30]) {
        for (const k of [1, 3, 20, 276, 300]) { // 20, 276: short k blocks (the second of 276 adds into C)
          for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) check([m, k], [k, n], ta, tb, seed++);
        }
      }
    }
  });

  test("few rows: B read in place (n % 8 ≠ 0 packs the last strip only; n·4 a multiple of 4 KiB too); k > 64 packed", () => {
    let seed = 100;
    for (const m of [1, 4, 6, 13, 16, 17]) {
      for (const n of [8, 29, 1024, 1031, 2048]) check([m, 25], [25, n], false, false, seed++);
      for (const k of [64, 65]) check([m, k], [k, 1031], false, false, seed++); // the in-place bound
    }
    check([6, 600], [600, 1037], false, false, seed++); // k > KC: packed strips over three k-blocks
    check([16, 150], [150, 6400], false, false, seed++); // LeNet's conv2 forward
    check([150, 16], [16, 6400], true, false, seed++); // its input gradient (k = 16: row strips outside)
  });

  test("skinny long-k A·Bᵀ: dot-product chunks, k % 4 tails, edge rows and columns", () => {
    let seed = 200;
    for (const [m, n, k] of [
      [1, 1, 1024],
      [6, 25, 5001],
      [3, 7, 4099],
      [16, 150, 6400],
      [2, 5, 1027],
      [64, 64, 2050],
      [5, 9, 20_003],
    ]) {
      check([m!, k!], [k!, n!], false, true, seed++);
      check([m!, k!], [k!, n!], true, true, seed++); // A transposed: the packed path
    }
  });

  test("batches: shared B folded into rows, narrow B side by side, broadcast, k = 1", () => {
    let seed = 300;
    check([3, 5, 40], [40, 9], false, false, seed++);
    check([3, 5, 40], [40, 9], false, true, seed++);
    check([6, 25], [4, 25, 3], false, false, seed++);
    check([6, 25], [4, 25, 3], false, true, seed++);
    check([2, 1, 6, 1100], [3, 1100, 7], false, true, seed++);
    check([2, 3, 7, 1], [2, 3, 1, 13], true, false, seed++);
  });

  test("bit-identical on 1 and 2 threads (every path split into several tasks)", async () => {
    dg.setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const shapes: [number[], number[], boolean, boolean][] = [
      [[6, 25], [25, 20_000], false, false], // few rows, in place, 2 threads
      [[6, 20_000], [20_000, 25], false, true], // dot chunks
      [[150, 16], [16, 1001], true, false], // edge rows and columns
      [[37, 300], [300, 301], false, false],
      [[200, 784], [784, 10], false, false], // too small to split: one block
      [[1030, 784], [784, 10], false, false], // narrow: row blocks, the last one partial
      [[1030, 784], [784, 10], true, false], // … A stored transposed
      [[1030, 784], [784, 17], false, true], // … B stored transposed, a partial strip
    ];
    const run = (threads: number) => {
      dg.setNumThreads(threads);
      return shapes.map(([as, bs, ta, tb], i) => Array.from(check(as, bs, ta, tb, 400 + i)));
    };
    const two = run(2);
    const one = run(1);
    two.forEach((v, i) => expect(v, `product ${i}`).toEqual(one[i]));
  });

  test("compiled == eager, bit for bit, for a convolution-like step (few-rows forward, dot weight gradient, one joint job)", async () => {
    dg.setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const bits = (t: Tensor) => Array.from(t.dataSync());
    // y = w·cols (m = 6), then w.grad = g·colsᵀ (k = 4001: dot chunks) and cols.grad = wᵀ·g.
    const fn = (w: Tensor, cols: Tensor, g: Tensor) => {
      const y = w.matmul(cols);
      y.backward(g);
      return [y, w.grad!, cols.grad!];
    };
    const args = (seed: number) => {
      manualSeed(seed);
      return [rand([6, 25]).requiresGrad_(true), rand([25, 4001]).requiresGrad_(true), rand([6, 4001])] as const;
    };
    const f = compile(fn);
    f(...args(1));
    const compiled = f(...args(2)).map(bits);
    expect(f.describe()).toMatch(/joint#\d+ \(2 matmuls, one thread job\)/);
    const eager = fn(...args(2)).map(bits);
    compiled.forEach((v, i) => expect(v, `output ${i}`).toEqual(eager[i]));
    dg.setNumThreads(1);
    const one = f(...args(2)).map(bits);
    compiled.forEach((v, i) => expect(v, `output ${i}: 2 threads vs 1`).toEqual(one[i]));
  });

  // fma-support.ts's product a·a − 1 (a = 1 + 2⁻¹²) on every sgemm path: 2⁻¹¹ + 2⁻²⁴ fused, 2⁻¹¹ not.
  test(`the sgemm's accumulation: ${dg.wasmFma() ? "one fused multiply-add per step (relaxed SIMD)" : "a multiply then an add (this engine has no relaxed SIMD, or setWasmFma(false))"} on every path`, () => {
    dg.setBackend("wasm");
    // vitest.config.ts's second-kernels project: "fma" switches relaxed SIMD on (Node 20), "no-fma"
    // compiles the kernels with setWasmFma(false) (newer Nodes) — each must run the build it asks for.
    if (process.execArgv.includes("--experimental-wasm-relaxed-simd")) expect(dg.wasmFma()).toBe(true);
    const optOut = process.env.DELTAGRAD_WASM_FMA === "0";
    expect(dg.wasmFma()).toBe(dg.relaxedSimdSupported() && !optOut);
    const want = dg.wasmFma() ? FUSED : UNFUSED;
    const expectAll = (t: Tensor, what: string) => {
      const v = t.dataSync();
      const off = v.findIndex((x) => x !== want);
      expect(off, `${what}: element ${off} is ${v[off]} (want ${want})`).toBe(-1);
    };
    expectAll(dg.matmul(probeRows(64), probeColumns(64)), "packed path (m = 64)");
    expectAll(dg.matmul(probeRows(4), probeColumns(1040)), "B read in place (m = 4)");
    // The dot path (A·Bᵀ, k = 1024): lane 0 of each vector accumulates p = 0 (−1·1), then p = 4 (a·a).
    expectAll(dg.matmul(probeLongRows(8, -1), probeLongRows(130, 1).transpose(0, 1)), "dot-product path (A·Bᵀ, k = 1024)");
  });
});
