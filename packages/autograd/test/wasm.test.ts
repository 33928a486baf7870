/**
 * The wasm backend against the cpu backend: sgemm over fast-check shapes (0, 1, odd sizes,
 * broadcast batch dims, cache-block boundaries, folded batches), the matmul VJPs end to end on
 * both backends, add/mul, transposes and arg-reductions. The other kernels, threads and memory
 * are in wasm-kernels.test.ts.
 *
 * Bounds. add/mul: bit-identical (float32 add and mul are correctly rounded in wasm, and the cpu
 * kernel's float64 result rounded once to float32 is the same value). sgemm: the cpu kernel
 * accumulates in float64 and rounds once; the wasm kernel accumulates in float32 in another
 * order, so by the recursive-summation bound |wasm − cpu| ≤ (k + 2)·2⁻²⁴·Σₚ|aᵢₚ·bₚⱼ|.
 */
import { afterEach, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { onWasm, rand } from "./wasm-support.js";
import {
  cpuBackend, getBackend, listBackends, matmul, reshape, setBackend, tensor, transpose, wasmBackend, wasmMemoryStats, wasmSimdSupported,
  type BackendData, type DType, type Tensor, type TypedArray,
} from "@deltagrad/autograd";

const SIMD = wasmSimdSupported();
const nodeMajor = Number(globalThis.process?.versions?.node?.split(".")[0] ?? 0);

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** NumPy broadcast of two compatible shapes (a 1 takes the other side's size, 0 included). */
function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[i - (r - a.length)] ?? 1;
    const db = b[i - (r - b.length)] ?? 1;
    return da === 1 ? db : da;
  });
}


/** Asserts |w − c| ≤ (k + 2)·2⁻²⁴·(|A|·|B|) elementwise, |A|·|B| computed in float64 on cpu. */
function expectGemmClose(w: Float32Array, c: Float32Array, a: Float32Array, as: readonly number[], b: Float32Array, bs: readonly number[], outShape: readonly number[]): void {
  const k = as[as.length - 1]!;
  const abs = (x: Float32Array) => Float64Array.from(x, Math.abs);
  const mag = cpuBackend.matmul(abs(a), as, abs(b), bs, outShape, "float64") as Float64Array;
  expect(w.length).toBe(c.length);
  for (let i = 0; i < c.length; i++) {
    const bound = (k + 2) * 2 ** -24 * mag[i]!;
    if (!(Math.abs(w[i]! - c[i]!) <= bound)) {
      throw new Error(`sgemm ${JSON.stringify(as)}·${JSON.stringify(bs)}: element ${i}: wasm ${w[i]} cpu ${c[i]} differ by more than ${bound}`);
    }
  }
}

function checkMatmul(as: number[], bs: number[], outShape: number[], seed: number): void {
  const a = rand(size(as), seed);
  const b = rand(size(bs), seed + 1);
  const c = cpuBackend.matmul(a, as, b, bs, outShape, "float32") as Float32Array;
  const w = onWasm("float32", size(outShape), wasmBackend.matmul, a, as, b, bs, outShape, "float32") as Float32Array;
  expectGemmClose(w, c, a, as, b, bs, outShape);
}

/** Batch dims that broadcast: each side drops leading dims and turns some dims into 1. */
const batchPairArb = fc
  .array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 })
  .chain((batch) =>
    fc.tuple(
      fc.constant(batch),
      fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
      fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
      fc.nat({ max: batch.length }),
      fc.nat({ max: batch.length }),
    ),
  )
  .map(([batch, oneA, oneB, dropA, dropB]) => ({
    batch,
    a: batch.map((d, i) => (oneA[i] ? 1 : d)).slice(dropA),
    b: batch.map((d, i) => (oneB[i] ? 1 : d)).slice(dropB),
  }));

const dimArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9, 13), fc.integer({ min: 0, max: 70 }));

it("WebAssembly SIMD is available here (Node ≥ 20, Deno, current browsers); without it the wasm tests below are skipped", () => {
  if (!SIMD) console.warn("wasm.test.ts: this engine has no WebAssembly SIMD: the wasm kernel tests are SKIPPED");
  if (nodeMajor >= 20) expect(SIMD).toBe(true);
});

describe.skipIf(!SIMD)(`wasm backend${SIMD ? "" : " (SKIPPED: no WebAssembly SIMD in this engine)"}`, () => {
  // Tests below switch backends; restore whichever was active (wasm by default, or the one
  // DELTAGRAD_BACKEND chose) so later tests in this file run where the suite asked.
  const initial = getBackend().name;
  afterEach(() => setBackend(initial));

  it("is registered next to cpu, selectable by name, and the default wherever SIMD exists", () => {
    expect(listBackends()).toEqual(expect.arrayContaining(["cpu", "wasm"]));
    if (!process.env.DELTAGRAD_BACKEND) expect(initial).toBe("wasm");
    setBackend("wasm");
    expect(getBackend().name).toBe("wasm");
    setBackend("cpu");
    expect(getBackend().name).toBe("cpu");
  });

  describe("sgemm against the cpu kernel", () => {
    test.prop([dimArb, dimArb, dimArb, fc.nat()])("single matrices [m,k]·[k,n], odd sizes, 1 and 0", (m, k, n, seed) => {
      checkMatmul([m, k], [k, n], [m, n], seed);
    });

    test.prop([batchPairArb, fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 19 }), fc.nat()])(
      "batched, batch dims broadcast",
      ({ batch, a, b }, m, k, n, seed) => {
        checkMatmul([...a, m, k], [...b, k, n], [...batch, m, n], seed);
      },
    );

    it.each([
      [131, 520, 70], // crosses the KC = 256 and MC = 128 cache blocks, ragged tiles
      [129, 257, 9],
      [5, 3, 2051], // wider than NC = 2048
      [256, 256, 256],
      [1, 600, 1],
    ])("across cache-block boundaries: [%i,%i]·[%i]", (m, k, n) => {
      checkMatmul([m, k], [k, n], [m, n], m + k + n);
    });

    // A batch sharing one operand is folded into one product (B shared: A's matrices stacked;
    // A shared with n < 16: B's matrices side by side); the folded paths against cpu.
    it.each([
      [[1, 400, 120], [64, 1, 120, 1], [64, 1, 400, 1]], // conv input gradient: A shared, n = 1
      [[1, 120, 400], [64, 1, 400, 1], [64, 1, 120, 1]],
      [[3, 7], [5, 7, 15], [5, 3, 15]], // A without batch dims, n = 15 (folded)
      [[3, 7], [5, 7, 16], [5, 3, 16]], // n = 16: per batch
      [[2, 1, 9, 5], [5, 3], [2, 1, 9, 3]], // B shared: rows stacked
      [[6, 33, 300], [300, 2], [6, 33, 2]], // B shared across KC = 256
      [[1, 37, 260], [4, 260, 3], [4, 37, 3]], // A shared across KC = 256
    ])("one operand shared across the batch: %j·%j", (as, bs, outShape) => {
      checkMatmul(as, bs, outShape, size(as) + size(bs));
    });

    it("keeps Inf and NaN where the cpu kernel does", () => {
      const a = new Float32Array([1, 2, 3, Infinity, 5, 6, NaN, 8]);
      const b = new Float32Array([1, 0, 2, 1]);
      const c = cpuBackend.matmul(a, [4, 2], b, [2, 2], [4, 2], "float32") as Float32Array;
      const w = onWasm("float32", 8, wasmBackend.matmul, a, [4, 2], b, [2, 2], [4, 2], "float32");
      expect(Array.from(w)).toEqual(Array.from(c));
      // …and in the SIMD kernel (operands of 4 KiB and more live in wasm memory).
      const big = rand(1024 * 2, 9);
      big.set(a);
      const cb = cpuBackend.matmul(big, [1024, 2], b, [2, 2], [1024, 2], "float32") as Float32Array;
      const wb = onWasm("float32", 2048, wasmBackend.matmul, big, [1024, 2], b, [2, 2], [1024, 2], "float32");
      expect(Array.from(wb.subarray(0, 8))).toEqual(Array.from(cb.subarray(0, 8)));
    });

    it("delegates float64 to the cpu kernel (bit-identical)", () => {
      const a = Float64Array.from(rand(35, 1));
      const b = Float64Array.from(rand(56, 2));
      const c = cpuBackend.matmul(a, [5, 7], b, [7, 8], [5, 8], "float64");
      const w = onWasm("float64", 40, wasmBackend.matmul, a, [5, 7], b, [7, 8], [5, 8], "float64");
      expect(w).toBeInstanceOf(Float64Array);
      expect(Array.from(w)).toEqual(Array.from(c as Float64Array));
    });

    it("gives its memory back: repeated calls do not grow wasm memory or the bytes in use", () => {
      checkMatmul([64, 64], [64, 64], [64, 64], 3);
      const before = wasmMemoryStats();
      for (let i = 0; i < 200; i++) onWasm("float32", 4096, wasmBackend.matmul, rand(4096, i), [64, 64], rand(4096, i + 1), [64, 64], [64, 64], "float32");
      const after = wasmMemoryStats();
      expect(after.memoryBytes).toBe(before.memoryBytes);
      expect(after.inUseBytes).toBe(before.inUseBytes);
    });
  });

  describe("matmul VJPs on the wasm backend (transposed operands: g·Bᵀ and Aᵀ·g)", () => {
    function grads(backend: "cpu" | "wasm", as: number[], bs: number[], seed: number) {
      setBackend(backend);
      const a = tensor(rand(size(as), seed), { requiresGrad: true });
      const b = tensor(rand(size(bs), seed + 1), { requiresGrad: true });
      const y = matmul(reshape(a, as), reshape(b, bs));
      const g = tensor(rand(y.size, seed + 2)).reshape(y.shape);
      y.mul(g).sum().backward();
      expect(y.backend.name).toBe(backend);
      return { y: y.dataSync() as Float32Array, ga: a.grad!.dataSync() as Float32Array, gb: b.grad!.dataSync() as Float32Array, g: g.dataSync() as Float32Array, yShape: y.shape };
    }

    test.prop([batchPairArb, fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 17 }), fc.nat()])(
      "forward and both gradients agree with cpu within the sgemm bound",
      ({ a: ab, b: bb }, m, k, n, seed) => {
        const as = [...ab, m, k];
        const bs = [...bb, k, n];
        const c = grads("cpu", as, bs, seed);
        const w = grads("wasm", as, bs, seed);
        const A = rand(size(as), seed);
        const B = rand(size(bs), seed + 1);
        expectGemmClose(w.y, c.y, A, as, B, bs, c.yShape);
        // The gradients sum over broadcast batch dims as well; bound each by the largest k′ involved.
        const gaTol = (n * size(c.yShape) + 2) * 2 ** -24;
        const gbTol = (m * size(c.yShape) + 2) * 2 ** -24;
        const close = (x: Float32Array, y: Float32Array, tol: number) =>
          x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i]!)) * 4));
        close(w.ga, c.ga, gaTol);
        close(w.gb, c.gb, gbTol);
      },
    );

    it("matmul(transpose(A), G) with materialized transposes matches cpu", () => {
      const run = (backend: "cpu" | "wasm") => {
        setBackend(backend);
        const A: Tensor = tensor(rand(37 * 21, 5)).reshape([37, 21]);
        const G: Tensor = tensor(rand(37 * 11, 6)).reshape([37, 11]);
        return matmul(transpose(A, -1, -2), G).dataSync() as Float32Array;
      };
      const c = run("cpu");
      const w = run("wasm");
      const A = rand(37 * 21, 5);
      const At = new Float32Array(21 * 37);
      for (let i = 0; i < 37; i++) for (let j = 0; j < 21; j++) At[j * 37 + i] = A[i * 21 + j]!;
      expectGemmClose(w, c, At, [21, 37], rand(37 * 11, 6), [37, 11], [21, 11]);
    });
  });

  describe("add and mul against the cpu kernel (bit-identical)", () => {
    const special = fc.constantFrom(0, -0, 1, -1, Infinity, -Infinity, NaN, 3.4e38, 1e-45, 0.1);
    const valueArb = fc.oneof(fc.float({ noNaN: false }), special);
    /** Two operand shapes that broadcast (dropped leading dims, 1s) and their broadcast shape. */
    const pairArb = fc
      .array(fc.integer({ min: 0, max: 9 }), { maxLength: 4 })
      .chain((out) =>
        fc.tuple(
          fc.constant(out),
          fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
          fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
          fc.nat({ max: out.length }),
          fc.nat({ max: out.length }),
        ),
      )
      .map(([base, oneA, oneB, dropA, dropB]) => {
        const a = base.map((d, i) => (oneA[i] ? 1 : d)).slice(dropA);
        const b = base.map((d, i) => (oneB[i] ? 1 : d)).slice(dropB);
        return { out: broadcast(a, b), a, b };
      });

    // (Operands and outputs under 4 KiB stay on the JS heap and take the cpu loop; pairArb reaches 9⁴ = 6561 elements.)
    test.prop([fc.constantFrom("add" as const, "mul" as const), pairArb, fc.array(valueArb, { minLength: 64, maxLength: 64 })])(
      "every broadcasting pattern, special values included",
      (op, { out, a, b }, pool) => {
        const fill = (s: number[]) => Float32Array.from({ length: size(s) }, (_, i) => pool[(i * 7 + s.length) % pool.length]!);
        const x = fill(a);
        const y = fill(b);
        const c = cpuBackend.readSync(cpuBackend.binary(op, x, a, y, b, out, "float32"), "float32", size(out));
        const w = onWasm("float32", size(out), wasmBackend.binary, op, x, a, y, b, out, "float32");
        expect(w).toBeInstanceOf(Float32Array);
        expect(Array.from(w)).toEqual(Array.from(c)); // toEqual treats NaN as equal and tells -0 from 0
      },
    );

    it.each([
      [[7, 9], [9]], // bias add, ragged vector tail
      [[3, 4, 8], [4, 8]],
      [[4, 5], []], // scalar
      [[], [4, 5]],
      [[33], [33]],
      [[2, 1, 5], [3, 1]], // both sides broadcast
      [[32, 32], [32]], // 1024 elements (4 KiB): the smallest output kept in wasm memory
      [[300], [300]],
      [[4, 63], [63]],
    ])("%j ∘ %j", (a, b) => {
      const out = broadcast(a, b);
      for (const op of ["add", "mul"] as const) {
        const x = rand(size(a), 1);
        const y = rand(size(b), 2);
        expect(Array.from(onWasm("float32", size(out), wasmBackend.binary, op, x, a, y, b, out, "float32"))).toEqual(Array.from(cpuBackend.readSync(cpuBackend.binary(op, x, a, y, b, out, "float32"), "float32", size(out))));
      }
    });
  });

  // Transposes of the last two axes (a zero-copy view for float32 in wasm memory, materialized by
  // the blocked wasm transpose when read) and argmax/argmin, against plain reference loops (copies
  // and comparisons only, so bit-identical; NaN and ±0 included).
  describe("permute (blocked transpose of the last two axes) and argmax/argmin against reference loops", () => {
    const shapeArb = fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 31, 32, 33), fc.integer({ min: 0, max: 70 })), { minLength: 2, maxLength: 4 })
      .filter((s) => size(s) <= 40_000);
    const values = (n: number, seed: number) => {
      const v = rand(n, seed);
      for (let i = 0; i < n; i += 17) v[i] = [NaN, -0, Infinity, -Infinity, 0][(i / 17) % 5]!;
      return v;
    };

    /** out[idx] = x[permuted idx], the definition. */
    function refPermute(x: Float32Array, shape: number[], perm: number[]): Float32Array {
      const outShape = perm.map((p) => shape[p]!);
      const out = new Float32Array(size(outShape));
      const strides = shape.map((_, i) => size(shape.slice(i + 1)));
      const idx = new Array<number>(outShape.length).fill(0);
      for (let o = 0; o < out.length; o++) {
        out[o] = x[idx.reduce((acc, v, d) => acc + v * strides[perm[d]!]!, 0)]!;
        for (let d = outShape.length - 1; d >= 0; d--) {
          if (++idx[d]! < outShape[d]!) break;
          idx[d] = 0;
        }
      }
      return out;
    }

    test.prop([shapeArb, fc.nat()])("swapping the last two axes, every dtype, both backends", (shape, seed) => {
      const r = shape.length;
      const perm = [...shape.keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
      const x = values(size(shape), seed);
      const ref = refPermute(x, shape, perm);
      const n = size(shape);
      const xi = Int32Array.from(x, (v) => (Number.isFinite(v) ? Math.round(v * 100) : 7));
      for (const run of [(d: DType, ...a: unknown[]) => (cpuBackend.permute as (...a: unknown[]) => TypedArray)(...a), (d: DType, ...a: unknown[]) => onWasm(d, n, wasmBackend.permute, ...a)]) {
        expect(Array.from(run("float32", x, shape, perm, "float32"))).toEqual(Array.from(ref));
        expect(Array.from(run("float64", Float64Array.from(x), shape, perm, "float64"))).toEqual(Array.from(ref));
        expect(Array.from(run("int32", xi, shape, perm, "int32"))).toEqual(Array.from(refPermute(Float32Array.from(xi), shape, perm)));
      }
    });

    test.prop([shapeArb, fc.nat(), fc.nat()])("other permutations (strided gather) are unchanged", (shape, seed, rot) => {
      const perm = [...shape.keys()].map((i) => (i + (rot % shape.length)) % shape.length);
      const x = values(size(shape), seed);
      expect(Array.from(onWasm("float32", size(shape), wasmBackend.permute, x, shape, perm, "float32"))).toEqual(Array.from(refPermute(x, shape, perm)));
    });

    test.prop([shapeArb.filter((s) => s.every((d) => d > 0)), fc.nat(), fc.nat(), fc.boolean(), fc.boolean()])(
      "argmax/argmin: first index wins ties, first NaN wins",
      (shape, seed, axisSeed, ties, f64) => {
        const axis = axisSeed % shape.length;
        let x = values(size(shape), seed);
        if (ties) x = x.map((v) => Math.round(v * 2) / 2); // many equal values
        const outer = size(shape.slice(0, axis));
        const n = shape[axis]!;
        const inner = size(shape.slice(axis + 1));
        for (const op of ["argmax", "argmin"] as const) {
          const ref = new Int32Array(outer * inner);
          for (let o = 0; o < outer; o++) {
            for (let i = 0; i < inner; i++) {
              let best = x[o * n * inner + i]!;
              let at = 0;
              for (let j = 1; j < n && !Number.isNaN(best); j++) {
                const v = x[(o * n + j) * inner + i]!;
                if (Number.isNaN(v) || (op === "argmax" ? v > best : v < best)) [best, at] = [v, j];
              }
              ref[o * inner + i] = at;
            }
          }
          const got = f64 ? onWasm("int32", outer * inner, wasmBackend.argReduce, op, Float64Array.from(x), shape, axis, "float64") : onWasm("int32", outer * inner, wasmBackend.argReduce, op, x, shape, axis, "float32");
          expect(Array.from(got)).toEqual(Array.from(ref));
        }
      },
    );
  });
});
