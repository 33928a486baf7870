import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import fc from "fast-check";
import { DeltagradError, manualSeed, rand, randint, randn, tensor } from "@deltagrad/autograd";
import { shapeArb } from "./helpers.js";

describe("constructors", () => {
  test("tensor from numbers, nested arrays, booleans and typed arrays", () => {
    const s = tensor(3);
    expect([s.shape, s.rank, s.size, s.dtype]).toEqual([[], 0, 1, "float32"]);
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect([m.shape, m.size]).toEqual([[2, 3], 6]);
    expect(m.arraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor([true, false]).dtype).toBe("bool");
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor(new Int32Array([1, 2])).dtype).toBe("int32");
    expect(tensor([new Float32Array([1, 2]), new Float32Array([3, 4])]).shape).toEqual([2, 2]);
    expect(tensor([1.9, -1.9], { dtype: "int32" }).arraySync()).toEqual([1, -1]);
    expect(tensor([]).shape).toEqual([0]);
  });

  test("ragged or non-numeric data is a clear error", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow("tensor: ragged data: [1] has length 1 where length 2 was expected");
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/tensor: ragged data: \[1\]/);
    expect(() => tensor(["a"] as never)).toThrow(/tensor: expected a number at \[0\], got "a"/);
    expect(() => tensor([1], { dtype: "float16" as never })).toThrow(/tensor: unknown dtype "float16"/);
  });

  test("zeros, ones, full, zerosLike, onesLike, eye", () => {
    expect(dg.zeros([2]).arraySync()).toEqual([0, 0]);
    expect(dg.ones([2], { dtype: "int32" }).arraySync()).toEqual([1, 1]);
    expect(dg.full([2, 1], 7).arraySync()).toEqual([[7], [7]]);
    const x = tensor([[1, 2]], { dtype: "float64" });
    expect([dg.zerosLike(x).dtype, dg.onesLike(x).shape]).toEqual(["float64", [1, 2]]);
    expect(dg.eye(2, 3).arraySync()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(() => dg.zeros([2, -1])).toThrow("zeros: a shape must be an array of non-negative integers, got [2,-1]");
    expect(() => dg.zeros([NaN])).toThrow(/a shape must be an array of non-negative integers/);
  });

  test("arange and linspace", () => {
    expect(dg.arange(4).arraySync()).toEqual([0, 1, 2, 3]);
    expect(dg.arange(1, 2, 0.25).arraySync()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(dg.arange(3, 0, -1).arraySync()).toEqual([3, 2, 1]);
    expect(dg.linspace(0, 1, 5).arraySync()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(dg.linspace(2, 2, 1).arraySync()).toEqual([2]);
    expect(() => dg.arange(0, 1, 0)).toThrow(/arange: .*step non-zero/);
  });

  test("seeded random: same seed, same numbers; int ranges respected", () => {
    manualSeed(42);
    const a = randn([100], { dtype: "float64" }).dataSync();
    const u = rand([5]).dataSync();
    manualSeed(42);
    expect(randn([100], { dtype: "float64" }).dataSync()).toEqual(a);
    expect(rand([5]).dataSync()).toEqual(u);
    const mean = Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.3);
    const r = randint(2, 5, [1000]);
    expect(r.dtype).toBe("int32");
    const vals = Array.from(r.dataSync());
    expect(Math.min(...vals)).toBe(2);
    expect(Math.max(...vals)).toBe(4);
    for (const v of u) expect(v >= 0 && v < 1).toBe(true);
  });

  // Expected values computed independently (Python, arbitrary-precision ints masked to 32 bits)
  // from the xoshiro128** reference with the splitmix32 seeding of src/random.ts.
  test("the generator's integer stream is fixed (cross-platform determinism)", () => {
    const g = new dg.Generator(0);
    expect(Array.from({ length: 4 }, () => g.nextUint32())).toMatchInlineSnapshot(`
      [
        3809008728,
        1133695204,
        53579671,
        2891528803,
      ]
    `);
  });
});

describe("reads", () => {
  test("sync and async reads agree and return copies", async () => {
    const x = tensor([[1, 2], [3, 4]]);
    const d = x.dataSync();
    d[0] = 99;
    expect(x.dataSync()[0]).toBe(1);
    expect(await x.array()).toEqual([[1, 2], [3, 4]]);
    expect(Array.from(await x.data())).toEqual([1, 2, 3, 4]);
    expect(await tensor(5).item()).toBe(5);
    expect(tensor([[7]]).itemSync()).toBe(7);
    expect(() => x.itemSync()).toThrow("itemSync: only one-element tensors have an item, got shape [2,2]");
  });

  // dataSync(out) / data(out): a caller's array of the tensor's dtype and size, filled and
  // returned — a loop reading a large tensor every step then allocates nothing.
  test("reads into a caller's array: every dtype, random shapes, the same array reused", async () => {
    const arrays = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array } as const;
    fc.assert(
      fc.property(shapeArb, fc.constantFrom("float32", "float64", "int32", "bool" as const), fc.integer(), (shape, dtype, seed) => {
        manualSeed(seed);
        const x = dtype === "bool" ? rand(shape).greater(0.5) : dtype === "int32" ? randint(-9, 9, shape) : randn(shape, { dtype });
        const out = new arrays[dtype](x.size);
        expect(x.dataSync(out)).toBe(out);
        expect(Array.from(out)).toEqual(Array.from(x.dataSync()));
        // Reused: the next tensor's values replace the last ones entirely.
        const y = dtype === "bool" ? rand(shape).less(0.3) : x.neg();
        y.dataSync(out);
        expect(Array.from(out)).toEqual(Array.from(y.dataSync()));
      }),
      { numRuns: 40 },
    );
    const z = dg.zeros([0, 3]);
    expect(z.dataSync(new Float32Array(0)).length).toBe(0);
    // Large enough for wasm memory (8 KB), and a lazy view of it (a transpose the wasm backend
    // reads in place).
    const x = randn([40, 50]);
    const buf = new Float32Array(2000);
    const typed: Float32Array = await x.data(buf); // the caller's own array type comes back
    expect(typed).toBe(buf);
    expect(Array.from(buf)).toEqual(Array.from(x.dataSync()));
    expect(Array.from(x.transpose().dataSync(buf))).toEqual(Array.from(x.transpose().dataSync()));
  });

  test("a read into the wrong array names the op, the array and the tensor, and writes nothing", async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const wrongLength = new Float32Array(5).fill(7);
    expect(() => x.dataSync(wrongLength)).toThrow(DeltagradError);
    expect(() => x.dataSync(wrongLength)).toThrow("dataSync: out must be a Float32Array of 6 elements (the tensor's [2,3] float32), got Float32Array of 5");
    expect(Array.from(wrongLength)).toEqual([7, 7, 7, 7, 7]);
    expect(() => x.dataSync(new Float64Array(6))).toThrow("dataSync: out must be a Float32Array of 6 elements (the tensor's [2,3] float32), got Float64Array of 6");
    expect(() => x.dataSync([1, 2, 3, 4, 5, 6] as never)).toThrow("dataSync: out must be a Float32Array of 6 elements (the tensor's [2,3] float32), got Array");
    expect(() => tensor([1, 2], { dtype: "int32" }).dataSync(new Float32Array(2))).toThrow("dataSync: out must be a Int32Array of 2 elements");
    expect(() => tensor([true]).dataSync(new Int32Array(1))).toThrow("dataSync: out must be a Uint8Array of 1 elements (the tensor's [1] bool), got Int32Array of 1");
    await expect(x.data(new Float32Array(2))).rejects.toThrow("data: out must be a Float32Array of 6 elements");
    expect(() => x.dataSync(null as never)).toThrow("dataSync: out must be a Float32Array of 6 elements (the tensor's [2,3] float32), got null");
  });

  test("toString prints like PyTorch, summarizing large tensors", () => {
    expect(String(tensor([[1, 2], [3, 4]]))).toBe("tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=[2,2], dtype=float32)");
    expect(String(tensor([1, 2], { dtype: "int32" }))).toBe("tensor([1, 2], shape=[2], dtype=int32)");
    expect(String(tensor(2, { requiresGrad: true }).mul(3))).toBe("tensor(6.0000, shape=[], dtype=float32, gradFn=mul)");
    expect(String(tensor([true, false]))).toBe("tensor([ true, false], shape=[2], dtype=bool)");
    const big = String(dg.arange(2000));
    expect(big).toContain("...");
    expect(big.length).toBeLessThan(200);
  });

  test("assign replaces values in place and keeps identity", () => {
    const w = dg.zeros([2], { requiresGrad: true });
    const same = w;
    w.assign(tensor([1, 2], { dtype: "float64" }));
    expect(same.arraySync()).toEqual([1, 2]);
    expect(w.dtype).toBe("float32");
    expect(() => w.assign(dg.zeros([3]))).toThrow("assign: shape [3] does not match [2]");
  });
});

describe("errors are DeltagradErrors naming the op", () => {
  test.each([
    [() => dg.add(tensor([1, 2]), tensor([1, 2, 3])), "add: shapes [2] and [3] cannot be broadcast together"],
    [() => dg.add(tensor([1]), "x" as never), 'add: expected a Tensor or a number, got "x"'],
    [() => dg.exp(null as never), "exp: expected a Tensor for x, got null"],
    [() => dg.where(tensor([1]), 1, 2), "where: cond must be a bool tensor, got float32"],
    [() => dg.clamp(tensor([1]), { min: 2, max: 1 }), "clamp: min 2 is greater than max 1"],
    [() => dg.cast(tensor([1]), "complex" as never), /cast: unknown dtype "complex"/],
    [() => dg.setBackend("webgl"), 'setBackend: unknown backend "webgl" (available: cpu, wasm)'],
  ])("%#", (f, msg) => {
    expect(f).toThrow(DeltagradError);
    expect(f).toThrow(msg);
  });
});
