/**
 * Every stage-2 wasm kernel against the cpu kernel over fast-check shapes — 0, 1, odd sizes,
 * broadcasting, sizes on both sides of the 4 KiB line between JS-heap and wasm-memory storage —
 * plus transposed matmul operands, thread-count independence, memory reuse and eviction.
 *
 * Bounds. Copies, comparisons, `where`, casts, neg/sign, maximum and max-reductions are exact, so
 * bit-identical. reciprocal and sqrt are correctly rounded in wasm and in float64-then-float32
 * on cpu (double rounding is innocuous for them: float64 has more than 2·24 + 2 bits), so also
 * bit-identical. Sums: the wasm kernels accumulate in float64 and round once; the cpu kernel
 * accumulates some reductions in float32, so both are compared to a float64 reference —
 * wasm within 2⁻²⁴·|s| + n·2⁻⁵²·Σ|x| (one final rounding plus the float64 summation error),
 * cpu within the float32 summation bound (n + 1)·2⁻²⁴·Σ|x|. fold (col2im) adds overlapping
 * windows in the same order as cpu: bit-identical.
 */
import { afterEach, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { cpuBackend, wasmBackend, wasmSimdSupported, type BackendData, type DType, type TypedArray } from "@deltagrad/autograd";
import { onWasm, rand } from "./wasm-support.js";

const SIMD = wasmSimdSupported();
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
// Read through readSync, as the core does: a one-element float32 result is a HostScalar, not an array (cpu's readSync needs no dtype or size).
const cpu = <T extends unknown[]>(k: (...a: T) => unknown, ...a: T) => cpuBackend.readSync(k(...a) as BackendData, "float32", 0);

/** Values with the specials every kernel must carry through: NaN, ±0, ±∞, huge, tiny. */
function values(n: number, seed: number, scale = 3): Float32Array {
  const v = rand(n, seed).map((x) => x * scale);
  const specials = [NaN, -0, 0, Infinity, -Infinity, 3.4e38, -1e-45, 1];
  for (let i = 0; i < n; i += 13) v[i] = specials[(i / 13) % specials.length]!;
  return v;
}

/** Shapes of up to 4 dims, ≤ 12,000 elements, so both storage kinds occur (4 KiB = 1024 floats). */
const dimArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 31, 33), fc.integer({ min: 1, max: 70 }));
const shapeArb = fc.array(dimArb, { maxLength: 4 }).filter((s) => size(s) <= 12_000);
const bigShapeArb = fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 4 }).filter((s) => size(s) >= 1024 && size(s) <= 12_000);

/** A shape and one that broadcasts to it (dims set to 1, leading dims dropped). */
const pairArb = fc.tuple(fc.oneof(shapeArb, bigShapeArb), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat({ max: 4 })).map(([out, ones, drop]) => ({
  out,
  other: out.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, out.length)),
}));

/** Maximal runs of reduced axes once size-1 dims are dropped (the wasm reduce's passes). */
function reducedGroups(shape: number[], axes: number[]): number {
  const flags = shape.map((d, i) => (d > 1 ? axes.includes(i) : null)).filter((f) => f !== null);
  return flags.filter((f, i) => f && (i === 0 || !flags[i - 1])).length;
}

const bits = new DataView(new ArrayBuffer(4));
/** The float32's position on the number line in steps (sign-magnitude bits → ordered integer). */
function f32Bits(v: number): number {
  bits.setFloat32(0, v);
  const b = bits.getInt32(0);
  return b < 0 ? -(b & 0x7fffffff) : b;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => expect(Array.from(a)).toEqual(Array.from(b)); // NaN equal, −0 ≠ 0

describe.skipIf(!SIMD)("wasm kernels against cpu", () => {
  const initialThreads = dg.getNumThreads();
  afterEach(() => dg.setNumThreads(initialThreads));

  test.prop([fc.oneof(shapeArb, bigShapeArb), fc.constantFrom("neg", "reciprocal", "sqrt", "sign") as fc.Arbitrary<"neg" | "reciprocal" | "sqrt" | "sign">, fc.nat()])(
    "unary neg, reciprocal, sqrt, sign: bit-identical, specials included",
    (shape, op, seed) => {
      const x = values(size(shape), seed);
      same(onWasm("float32", x.length, wasmBackend.unary, op, x, "float32", x.length), cpu(cpuBackend.unary, op, x, "float32", x.length));
    },
  );

  test.prop([fc.oneof(shapeArb, bigShapeArb), fc.constantFrom("exp", "log", "erf") as fc.Arbitrary<"exp" | "log" | "erf">, fc.nat(), fc.constantFrom(1, 30, 100)])(
    "unary exp, log, erf (f32x4 polynomials): within one float32 step of the float64 result, specials exact",
    (shape, op, seed, scale) => {
      const x = values(size(shape), seed, scale);
      const w = onWasm("float32", x.length, wasmBackend.unary, op, x, "float32", x.length) as Float32Array;
      const ref = cpu(cpuBackend.unary, op, Float64Array.from(x), "float64", x.length);
      for (let i = 0; i < x.length; i++) {
        const r = Math.fround(ref[i]!);
        if (Number.isNaN(r) || !Number.isFinite(r) || r === 0) expect(w[i], `${op}(${x[i]})`).toBe(r);
        else expect(Math.abs(f32Bits(w[i]!) - f32Bits(r)), `${op}(${x[i]}) = ${w[i]}, reference ${ref[i]}`).toBeLessThanOrEqual(1);
      }
    },
  );

  test.prop([pairArb, fc.boolean(), fc.constantFrom("add", "mul", "maximum") as fc.Arbitrary<"add" | "mul" | "maximum">, fc.nat()])(
    "binary add, mul, maximum under broadcasting (either side): bit-identical",
    ({ out, other }, swap, op, seed) => {
      const [as, bs] = swap ? [other, out] : [out, other];
      const a = values(size(as), seed);
      const b = values(size(bs), seed + 1);
      same(onWasm("float32", size(out), wasmBackend.binary, op, a, as, b, bs, out, "float32"), cpu(cpuBackend.binary, op, a, as, b, bs, out, "float32"));
    },
  );

  const cmpArb = fc.constantFrom("equal", "notEqual", "greater", "greaterEqual", "less", "lessEqual") as fc.Arbitrary<"equal" | "notEqual" | "greater" | "greaterEqual" | "less" | "lessEqual">;
  test.prop([pairArb, fc.boolean(), cmpArb, fc.nat()])("comparisons of float32 and int32 under broadcasting: bit-identical bool masks", ({ out, other }, swap, op, seed) => {
    const [as, bs] = swap ? [other, out] : [out, other];
    // Rounded values: many equal pairs, so equal/greaterEqual are exercised.
    const a = values(size(as), seed).map((v) => Math.round(v));
    const b = values(size(bs), seed + 1).map((v) => Math.round(v));
    same(onWasm("bool", size(out), wasmBackend.compare, op, a, as, b, bs, out, "float32"), cpu(cpuBackend.compare, op, a, as, b, bs, out, "float32"));
    const ai = Int32Array.from(a, (v) => (Number.isFinite(v) ? v : -7));
    const bi = Int32Array.from(b, (v) => (Number.isFinite(v) ? v : 2 ** 31 - 1));
    same(onWasm("bool", size(out), wasmBackend.compare, op, ai, as, bi, bs, out, "int32"), cpu(cpuBackend.compare, op, ai, as, bi, bs, out, "int32"));
  });

  test.prop([pairArb, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.nat()])("where with any of cond, x, y broadcast: bit-identical", ({ out, other }, which, seed) => {
    const shapes = which.map((w) => (w ? other : out));
    const c = Uint8Array.from(rand(size(shapes[0]!), seed), (v) => (v > 0 ? 1 : 0));
    const x = values(size(shapes[1]!), seed + 1);
    const y = values(size(shapes[2]!), seed + 2);
    const full = dg.broadcastShapes("where", ...shapes);
    same(
      onWasm("float32", size(full), wasmBackend.where, c, shapes[0], x, shapes[1], y, shapes[2], full, "float32"),
      cpu(cpuBackend.where, c, shapes[0]!, x, shapes[1]!, y, shapes[2]!, full, "float32"),
    );
  });

  test.prop([fc.oneof(shapeArb, bigShapeArb), fc.nat()])("casts float32 → bool (NaN and 0 are false) and bool → float32", (shape, seed) => {
    const n = size(shape);
    const x = values(n, seed).map((v, i) => (i % 3 === 0 ? 0 : v));
    const m = onWasm("bool", n, wasmBackend.cast, x, "float32", "bool", n);
    same(m, cpu(cpuBackend.cast, x, "float32", "bool", n));
    same(onWasm("float32", n, wasmBackend.cast, m, "bool", "float32", n), cpu(cpuBackend.cast, m, "bool", "float32", n));
  });

  test.prop([fc.oneof(shapeArb, bigShapeArb), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat()])(
    "sum and max over any set of axes: max bit-identical, sums within their float64/float32 bounds of the exact sum",
    (shape, pick, seed) => {
      const axes = shape.map((_, i) => i).filter((i) => pick[i]);
      const x = rand(size(shape), seed).map((v) => v * 100);
      const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const m = size(outShape);
      const xmax = values(size(shape), seed);
      same(onWasm("float32", m, wasmBackend.reduce, "max", xmax, shape, axes, "float32"), cpu(cpuBackend.reduce, "max", xmax, shape, axes, "float32"));
      const w = onWasm("float32", m, wasmBackend.reduce, "sum", x, shape, axes, "float32");
      const c = cpu(cpuBackend.reduce, "sum", x, shape, axes, "float32");
      // The exact sums and Σ|x| per output, in float64.
      const exact = cpu(cpuBackend.reduce, "sum", Float64Array.from(x), shape, axes, "float64");
      const mag = cpu(cpuBackend.reduce, "sum", Float64Array.from(x, Math.abs), shape, axes, "float64");
      const n = size(shape) / Math.max(m, 1);
      // Non-adjacent reduced axes are reduced one group at a time, each partial result rounded
      // to float32 once more: g groups add (g − 1)·2⁻²⁴·Σ|x|.
      const groups = reducedGroups(shape, axes);
      // Inputs under 4 KiB stay on the JS heap and take the cpu kernel on either backend.
      if (size(shape) < 1024) same(w, c);
      else for (let i = 0; i < m; i++) {
        expect(Math.abs(w[i]! - exact[i]!)).toBeLessThanOrEqual(2 ** -24 * Math.abs(exact[i]!) + (Math.max(groups, 1) - 1) * 2 ** -24 * mag[i]! + n * 2 ** -52 * mag[i]!);
      }
      for (let i = 0; i < m; i++) expect(Math.abs(c[i]! - exact[i]!)).toBeLessThanOrEqual((n + 1) * 2 ** -24 * mag[i]!);
    },
  );

  const dtypeArb = fc.constantFrom("float32", "int32", "bool") as fc.Arbitrary<DType>;
  const typed = (dtype: DType, n: number, seed: number): TypedArray =>
    dtype === "float32" ? values(n, seed) : dtype === "int32" ? Int32Array.from(rand(n, seed), (v) => Math.round(v * 1000)) : Uint8Array.from(rand(n, seed), (v) => (v > 0 ? 1 : 0));

  test.prop([pairArb, dtypeArb, fc.nat()])("expand (broadcast copy), every dtype: bit-identical", ({ out, other }, dtype, seed) => {
    const x = typed(dtype, size(other), seed);
    same(onWasm(dtype, size(out), wasmBackend.expand, x, other, out, dtype), cpu(cpuBackend.expand, x, other, out, dtype));
  });

  test.prop([fc.oneof(shapeArb, bigShapeArb).filter((s) => s.length > 0), dtypeArb, fc.nat(), fc.nat()])("slice, pad, concat, permute, every dtype: bit-identical", (shape, dtype, seed, s2) => {
    const n = size(shape);
    const x = typed(dtype, n, seed);
    const r = shape.length;
    const begin = shape.map((d, i) => (d === 0 ? 0 : (seed >> i) % d));
    const sz = shape.map((d, i) => d - begin[i]! - (d - begin[i]! > 1 ? (s2 >> i) % 2 : 0));
    same(onWasm(dtype, size(sz), wasmBackend.slice, x, shape, begin, sz, dtype), cpu(cpuBackend.slice, x, shape, begin, sz, dtype));
    const pads = shape.map((_, i) => [(seed >> i) % 3, (s2 >> i) % 2] as [number, number]);
    const padded = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
    same(onWasm(dtype, size(padded), wasmBackend.pad, x, shape, pads, 1, dtype), cpu(cpuBackend.pad, x, shape, pads, 1, dtype));
    const axis = seed % r;
    const other = shape.map((d, i) => (i === axis ? (s2 % 4) : d));
    const y = typed(dtype, size(other), s2);
    const cat = shape.map((d, i) => (i === axis ? d + other[i]! : d));
    same(onWasm(dtype, size(cat), wasmBackend.concat, [x, y], [shape, other], axis, dtype), cpu(cpuBackend.concat, [x, y], [shape, other], axis, dtype));
    const perm = shape.map((_, i) => i).sort((a, b) => ((a * 7 + seed) % r) - ((b * 7 + seed) % r));
    same(onWasm(dtype, n, wasmBackend.permute, x, shape, perm, dtype), cpu(cpuBackend.permute, x, shape, perm, dtype));
  });

  test.prop([fc.constantFrom(0, 1, 3, 1023, 1024, 1025, 5000), dtypeArb, fc.constantFrom(0, 1, -2.5, NaN)])("fill, every dtype", (n, dtype, v) => {
    same(onWasm(dtype, n, wasmBackend.fill, dtype, n, v), cpu(cpuBackend.fill, dtype, n, v));
  });

  const windowArb = fc.record({
    n: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 14 }), w: fc.integer({ min: 1, max: 14 }),
    k: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    p: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  });
  test.prop([windowArb, fc.nat()])("unfold (im2col) and fold (col2im), strides, padding, dilation: bit-identical", (g, seed) => {
    const p = { kernel: g.k, stride: g.s, padding: g.p, dilation: g.d } as dg.WindowParams;
    const oh = Math.floor((g.h + 2 * g.p[0] - g.d[0] * (g.k[0] - 1) - 1) / g.s[0]) + 1;
    const ow = Math.floor((g.w + 2 * g.p[1] - g.d[1] * (g.k[1] - 1) - 1) / g.s[1]) + 1;
    fc.pre(oh > 0 && ow > 0);
    const shape = [g.n, g.c, g.h, g.w];
    const x = values(size(shape), seed);
    const nCols = g.n * g.c * g.k[0] * g.k[1] * oh * ow;
    same(onWasm("float32", nCols, wasmBackend.unfold, x, shape, p, "float32"), cpu(cpuBackend.unfold, x, shape, p, "float32"));
    const cols = rand(nCols, seed + 1);
    same(onWasm("float32", size(shape), wasmBackend.fold, cols, shape, p, "float32"), cpu(cpuBackend.fold, cols, shape, p, "float32"));
  });

  test.prop([fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 90 }), fc.boolean(), fc.boolean(), fc.nat()])(
    "matmul with either operand stored transposed (the VJPs' G·Bᵀ and Aᵀ·G), within the sgemm bound",
    (m, k, n, ta, tb, seed) => {
      dg.setBackend("wasm");
      const A = rand(m * k, seed);
      const B = rand(k * n, seed + 1);
      // A stored as Aᵀ ([k, m]) and transposed back by permute: a zero-copy view on wasm.
      const At = new Float32Array(k * m);
      for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) At[p * m + i] = A[i * k + p]!;
      const Bt = new Float32Array(n * k);
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) Bt[j * k + p] = B[p * n + j]!;
      const a = ta ? dg.tensor(At).reshape([k, m]).transpose() : dg.tensor(A).reshape([m, k]);
      const b = tb ? dg.tensor(Bt).reshape([n, k]).transpose() : dg.tensor(B).reshape([k, n]);
      const w = dg.matmul(a, b).dataSync() as Float32Array;
      const c = cpuBackend.matmul(A, [m, k], B, [k, n], [m, n], "float64") as Float64Array;
      const mag = cpuBackend.matmul(Float64Array.from(A, Math.abs), [m, k], Float64Array.from(B, Math.abs), [k, n], [m, n], "float64") as Float64Array;
      for (let i = 0; i < m * n; i++) expect(Math.abs(w[i]! - c[i]!)).toBeLessThanOrEqual((k + 2) * 2 ** -24 * mag[i]!);
    },
  );

  it("matmul, conv and their gradients are bit-identical on 1 and 2 threads", async () => {
    dg.setBackend("wasm");
    // Workers start in the background; until one is up, kernels run on the calling thread only.
    dg.setNumThreads(2);
    for (let i = 0; i < 500 && dg.activeThreads() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(dg.activeThreads()).toBe(2);
    expect(dg.workerKind()).toBe("worker_threads"); // Node has no global Web Worker
    const run = (threads: number) => {
      dg.setNumThreads(threads);
      dg.manualSeed(7);
      // Large enough that every threaded kernel splits (≥ 2e6 multiply-adds or bytes): the
      // convolution's im2col (forward, w.grad) and col2im (x.grad), and each matmul.
      const x = dg.randn([64, 3, 16, 16], { requiresGrad: true });
      const w = dg.randn([8, 3, 5, 5], { requiresGrad: true });
      const a = dg.randn([300, 500], { requiresGrad: true });
      const b = dg.randn([500, 777]);
      const loss = dg.conv2d(x, w, null, { padding: 2 }).square().sum().add(dg.matmul(a, b).square().sum());
      loss.backward();
      return [loss.dataSync(), w.grad!.dataSync(), x.grad!.dataSync(), a.grad!.dataSync()].map((v) => Array.from(v));
    };
    const one = run(1);
    const two = run(2);
    expect(two).toEqual(one);
  });
});

describe.skipIf(!SIMD)("wasm memory", () => {
  afterEach(() => dg.setBackend(process.env.DELTAGRAD_BACKEND ?? "wasm"));

  it("large tensors live in wasm memory, small ones on the JS heap; dispose gives storage back", () => {
    dg.setBackend("wasm");
    const before = dg.wasmMemoryStats().inUseBytes;
    const big = dg.ones([1024]); // 4 KiB: wasm memory
    const small = dg.ones([1023]);
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before + 4096);
    const view = big.reshape([32, 32]); // shares the storage
    big.dispose();
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before + 4096);
    expect(view.sum().itemSync()).toBe(1024);
    view.dispose();
    expect(dg.wasmMemoryStats().inUseBytes).toBe(before);
    expect(() => view.dataSync()).toThrow(/disposed/);
    small.dispose();
    expect(() => small.dataSync()).toThrow(/disposed/);
  });

  it("a training step gives back every temporary: bytes in use stay flat over 200 steps (no tidy)", () => {
    dg.setBackend("wasm");
    dg.manualSeed(1);
    const w1 = dg.randn([64, 128]).mul(0.1).requiresGrad_();
    const w2 = dg.randn([128, 10]).mul(0.1).requiresGrad_();
    const x = dg.randn([256, 64]);
    const step = () => {
      const loss = dg.scoped(() => dg.matmul(dg.relu(dg.matmul(x, w1)), w2).logSoftmax({ axis: 1 }).neg().mean());
      loss.backward();
      for (const w of [w1, w2]) {
        // As the optimizers do: the update's temporaries are scoped; the new value, once
        // assigned, is disposed (the parameter holds its own reference to the storage).
        const v = dg.scoped(() => dg.noGrad(() => w.sub(w.peekGrad()!.mul(0.01))));
        w.assign(v);
        v.dispose();
        w.replaceGrad(null);
      }
    };
    for (let i = 0; i < 5; i++) step();
    const warm = dg.wasmMemoryStats();
    for (let i = 0; i < 200; i++) step();
    const after = dg.wasmMemoryStats();
    expect(after.inUseBytes).toBe(warm.inUseBytes);
    expect(after.memoryBytes).toBe(warm.memoryBytes);
    expect(after.evictions).toBe(warm.evictions);
  });

  it("beyond the budget, cold blocks move to the JS heap and come back intact when used", () => {
    dg.setBackend("wasm");
    const stats0 = dg.wasmMemoryStats();
    dg.setWasmMemoryBudget(2 ** 20 + stats0.inUseBytes);
    try {
      const kept: dg.Tensor[] = [];
      for (let i = 0; i < 64; i++) kept.push(dg.full([16, 1024], i)); // 64 KiB each: 4 MiB ≫ the 1 MiB budget
      const s = dg.wasmMemoryStats();
      expect(s.evictions).toBeGreaterThan(stats0.evictions);
      expect(s.inUseBytes - stats0.inUseBytes).toBeLessThanOrEqual(2 ** 20 + 65536);
      // Every tensor still reads back (evicted ones from the JS heap) and computes (brought back in).
      kept.forEach((t, i) => expect(t.sum().itemSync()).toBe(16 * 1024 * i));
      kept.forEach((t) => t.dispose());
    } finally {
      dg.setWasmMemoryBudget(stats0.budgetBytes);
    }
  });

  it("tensors made on the cpu backend mix with wasm tensors (the op runs on the active backend)", () => {
    dg.setBackend("cpu");
    const a = dg.arange(0, 2048).reshape([2, 1024]).requiresGrad_();
    dg.setBackend("wasm");
    const b = dg.ones([2, 1024]).mul(2);
    const y = a.mul(b);
    expect(y.backend.name).toBe("wasm");
    y.sum().backward();
    expect(Array.from(a.grad!.dataSync().subarray(0, 3))).toEqual([2, 2, 2]);
    expect(y.sum().itemSync()).toBe(2 * (2047 * 2048) / 2);
  });
});

describe.skipIf(!SIMD)("gather and scatterAdd (wasm kernels) equal the cpu kernels bit for bit", () => {
  // Shapes around one axis, from one element a row (maxPool2d's flat gather) to rows of 1–9
  // floats (the vector and single-float parts of scatterAdd's rows), sized past the 4 KiB line.
  const arb = fc.record({
    outer: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 40 }),
    inner: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 })),
    k: fc.integer({ min: 1, max: 3000 }),
    seed: fc.nat(),
  });
  test.prop([arb], { numRuns: 40 })("repeated indices, float32 and int32, rows of any length", ({ outer, n, inner, k, seed }) => {
    const shape = [outer, n, inner];
    const idx = Int32Array.from(rand(k, seed), (u) => Math.floor(((u + 1) / 2) * n) % n);
    const x = values(size(shape), seed);
    same(onWasm("float32", outer * k * inner, wasmBackend.gather, x, shape, idx, k, 1, "float32"), cpu(cpuBackend.gather, x, shape, idx, k, 1, "float32"));
    const xi = Int32Array.from(x, (v, i) => (Number.isFinite(v) ? Math.round(v * 1000) : i));
    same(onWasm("int32", outer * k * inner, wasmBackend.gather, xi, shape, idx, k, 1, "int32"), cpu(cpuBackend.gather, xi, shape, idx, k, 1, "int32"));
    const g = values(outer * k * inner, seed + 1);
    same(onWasm("float32", size(shape), wasmBackend.scatterAdd, g, idx, k, shape, 1, "float32"), cpu(cpuBackend.scatterAdd, g, idx, k, shape, 1, "float32"));
  });

  it("an index out of range throws before anything is written, naming the op, the index and the axis", () => {
    const x = values(4096, 1);
    for (const bad of [-1, 64, 2 ** 31 - 1]) {
      const idx = Int32Array.from({ length: 2000 }, (_, i) => (i === 1500 ? bad : i % 64));
      expect(() => onWasm("float32", 2000 * 64, wasmBackend.gather, x, [64, 64], idx, 2000, 0, "float32")).toThrow(`gather: index ${bad} is out of range for axis 0 of size 64`);
      expect(() => onWasm("float32", 4096, wasmBackend.scatterAdd, values(2000 * 64, 2), idx, 2000, [64, 64], 0, "float32")).toThrow(`scatterAdd: index ${bad} is out of range for axis 0 of size 64`);
    }
  });
});
