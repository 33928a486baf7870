import { describe, expect } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { gradcheck, gradgradcheck, type Tensor } from "@deltagrad/autograd";
import { expectClose, ravel, refMatmul, ref, seedArb, shapeArb, size, t64, unravel, values, type Shape } from "./helpers.js";

const RUNS = { numRuns: 12 };

/** Checks forward against a reference permutation of the input's elements, then gradients. */
function checkMovement(f: (x: Tensor) => Tensor, shape: Shape, seed: number, expectedShape: Shape, source: (outIdx: number[]) => number[] | null) {
  const v = values(shape, seed);
  const x = t64(v, shape);
  const y = f(x);
  expect(y.shape).toEqual(expectedShape);
  const expected = Array.from({ length: size(expectedShape) }, (_, o) => {
    const from = source(unravel(o, expectedShape));
    return from === null ? 0 : v[ravel(from, shape)]!;
  });
  expectClose(y.dataSync(), expected, 0, "values");
  expect(gradcheck(f, [x])).toBe(true);
}

const nonEmpty = shapeArb.filter((s) => s.length > 0);

describe("movement ops", () => {
  test.prop([shapeArb, seedArb], RUNS)("reshape (with −1) and flatten", (shape, seed) => {
    const n = size(shape);
    checkMovement((x) => dg.reshape(x, [-1]), shape, seed, [n], (i) => unravel(i[0]!, shape));
    checkMovement((x) => dg.flatten(x), shape, seed, [n], (i) => unravel(i[0]!, shape));
  });

  test.prop([nonEmpty.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length }))), seedArb], RUNS)(
    "permute and its inverse",
    ([shape, perm], seed) => {
      const out = perm.map((p) => shape[p]!);
      checkMovement((x) => dg.permute(x, perm), shape, seed, out, (o) => {
        const idx = new Array<number>(shape.length);
        perm.forEach((p, i) => (idx[p] = o[i]!));
        return idx;
      });
    },
  );

  test("transpose: reverse, swap two axes, or a permutation", () => {
    const x = dg.arange(24).reshape([2, 3, 4]);
    expect(dg.transpose(x).shape).toEqual([4, 3, 2]);
    expect(dg.transpose(x, -1, -2).shape).toEqual([2, 4, 3]);
    expect(dg.transpose(x, [1, 0, 2]).shape).toEqual([3, 2, 4]);
    expect((dg.transpose(dg.tensor([[1, 2], [3, 4]])).arraySync())).toEqual([[1, 3], [2, 4]]);
  });

  test.prop([nonEmpty, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer({ min: 1, max: 3 }), seedArb], RUNS)(
    "expand / broadcastTo from size-1 axes and new leading axes",
    (target, ones, lead, seed) => {
      const shape = target.map((d, i) => (ones[i] ? 1 : d));
      const out = [lead, ...target];
      checkMovement((x) => dg.expand(x, out), shape, seed, out, (o) => o.slice(1).map((d, i) => (shape[i] === 1 ? 0 : d)));
      checkMovement((x) => dg.broadcastTo(x, out), shape, seed, out, (o) => o.slice(1).map((d, i) => (shape[i] === 1 ? 0 : d)));
    },
  );

  test.prop([shapeArb, fc.integer({ min: 0, max: 3 }), seedArb], RUNS)("unsqueeze then squeeze", (shape, at, seed) => {
    const a = Math.min(at, shape.length);
    const out = [...shape.slice(0, a), 1, ...shape.slice(a)];
    checkMovement((x) => dg.unsqueeze(x, a), shape, seed, out, (o) => o.filter((_, i) => i !== a));
    checkMovement((x) => dg.squeeze(dg.unsqueeze(x, a), a), shape, seed, shape, (o) => o);
  });

  test.prop(
    [nonEmpty.chain((s) => fc.tuple(fc.constant(s), fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }))))).chain(([s, begin]) =>
      fc.tuple(fc.constant(s), fc.constant(begin), fc.tuple(...s.map((d, i) => fc.integer({ min: 0, max: d - begin[i]! })))),
    ), seedArb],
    RUNS,
  )("slice", ([shape, begin, sz], seed) => {
    checkMovement((x) => dg.slice(x, begin, sz), shape, seed, sz, (o) => o.map((d, i) => d + begin[i]!));
  });

  test.prop([nonEmpty.chain((s) => fc.tuple(fc.constant(s), fc.tuple(...s.map(() => fc.tuple(fc.nat(2), fc.nat(2)))))), seedArb], RUNS)(
    "pad with zeros (and a value)",
    ([shape, pads], seed) => {
      const out = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
      const inside = (o: number[]) => {
        const idx = o.map((d, i) => d - pads[i]![0]);
        return idx.every((d, i) => d >= 0 && d < shape[i]!) ? idx : null;
      };
      checkMovement((x) => dg.pad(x, pads), shape, seed, out, inside);
      const padded = dg.pad(dg.ones(shape), pads, -Infinity).dataSync();
      const expected = Array.from({ length: size(out) }, (_, o) => (inside(unravel(o, out)) ? 1 : -Infinity));
      expect(Array.from(padded)).toEqual(expected);
    },
  );

  test.prop([nonEmpty, fc.integer({ min: 1, max: 3 }), fc.nat(), seedArb], RUNS)("concat and stack (gradients split back)", (shape, parts, axisRaw, seed) => {
    const axis = axisRaw % shape.length;
    const shapes = Array.from({ length: parts }, (_, k) => shape.map((d, i) => (i === axis ? d + k : d)));
    const xs = shapes.map((s, k) => t64(values(s, seed + k), s));
    const y = dg.concat(xs, axis);
    expect(y.shape[axis]).toBe(shapes.reduce((n, s) => n + s[axis]!, 0));
    expect(gradcheck((...ts) => dg.concat(ts, axis), xs)).toBe(true);
    const same = shapes.map((_, k) => t64(values(shape, seed + k), shape));
    const st = dg.stack(same, axis);
    expect(st.shape).toEqual([...shape.slice(0, axis), parts, ...shape.slice(axis)]);
    expect(gradcheck((...ts) => dg.stack(ts, axis), same)).toBe(true);
  });

  test.prop([nonEmpty, fc.nat(), fc.array(fc.nat(), { minLength: 0, maxLength: 5 }), seedArb], RUNS)("gather, with repeated indices summing gradients", (shape, axisRaw, raw, seed) => {
    const axis = axisRaw % shape.length;
    const idx = raw.map((r) => r % shape[axis]!);
    const indices = dg.tensor(idx, { dtype: "int32" });
    const out = [...shape.slice(0, axis), idx.length, ...shape.slice(axis + 1)];
    checkMovement((x) => dg.gather(x, indices, axis), shape, seed, out, (o) => o.map((d, i) => (i === axis ? idx[d]! : d)));
  });

  test("oneHot", () => {
    const y = dg.oneHot(dg.tensor([0, 2, 5], { dtype: "int32" }), 3);
    expect(y.arraySync()).toEqual([[1, 0, 0], [0, 0, 1], [0, 0, 0]]);
    expect(y.requiresGrad).toBe(false);
  });

  test("cast: gradient returns in the input's dtype; int casts truncate toward zero", () => {
    const x = dg.tensor([1.5, -2.5], { dtype: "float64", requiresGrad: true });
    dg.cast(x, "float32").mul(dg.tensor([3, 4])).sum().backward();
    expect(x.grad!.dtype).toBe("float64");
    expect(Array.from(x.grad!.dataSync())).toEqual([3, 4]);
    expect(Array.from(dg.cast(dg.tensor([1.7, -1.7]), "int32").dataSync())).toEqual([1, -1]);
    expect(Array.from(dg.cast(dg.tensor([0, 2, NaN]), "bool").dataSync())).toEqual([0, 1, 0]);
  });
});

describe("matmul", () => {
  const PAIRS: [Shape, Shape][] = [
    [[3], [3]],
    [[3], [3, 2]],
    [[2, 3], [3]],
    [[2, 3], [3, 4]],
    [[5, 2, 3], [5, 3, 4]],
    [[5, 2, 3], [3, 4]],
    [[2, 3], [5, 3, 4]],
    [[2, 1, 2, 3], [5, 3, 2]],
    [[4, 2, 3], [3]],
    [[1, 1], [1, 1]],
  ];
  const as2d = (s: Shape, left: boolean): Shape => (s.length > 1 ? s : left ? [1, s[0]!] : [s[0]!, 1]);
  test.prop([fc.constantFrom(...PAIRS), seedArb], { numRuns: 30 })("NumPy semantics, forward and gradients", ([sa, sb], seed) => {
    const va = values(sa, seed);
    const vb = values(sb, seed + 1);
    const a = t64(va, sa);
    const b = t64(vb, sb);
    const r = refMatmul(ref(va, as2d(sa, true)), ref(vb, as2d(sb, false)));
    const shape = r.shape.slice();
    if (sb.length === 1) shape.splice(shape.length - 1, 1);
    if (sa.length === 1) shape.splice(shape.length - (sb.length === 1 ? 1 : 2), 1);
    const y = dg.matmul(a, b);
    expect(y.shape).toEqual(shape);
    expectClose(y.dataSync(), r.values, 1e-12, "matmul");
    expect(gradcheck(dg.matmul, [a, b])).toBe(true);
  });
  test.prop([fc.constantFrom<[Shape, Shape]>([[2, 3], [4, 3]], [[5, 2, 3], [5, 4, 3]], [[5, 2, 3], [4, 3]], [[2, 1, 2, 3], [5, 2, 3]]), seedArb], { numRuns: 12 })(
    "a transposed right operand (x·wᵀ, q·kᵀ): gradients, and the second order",
    ([sa, sw], seed) => {
      const a = t64(values(sa, seed), sa);
      const w = t64(values(sw, seed + 1), sw);
      const f = (x: Tensor, v: Tensor) => dg.matmul(x, v.transpose(-1, -2));
      expect(gradcheck(f, [a, w])).toBe(true);
      expect(gradgradcheck((x, v) => f(x, v).tanh(), [a, w])).toBe(true);
    },
  );
  test.skipIf(!dg.listBackends().includes("wasm"))("x·wᵀ on wasm: w's gradient is Ḡᵀ·x written as a matrix (no transposed view left for the optimizer), the bits of (xᵀ·Ḡ)ᵀ", () => {
    const before = dg.getBackend().name;
    dg.setBackend("wasm");
    try {
      const x = dg.tensor(Float32Array.from(values([64, 400], 3))).reshape([64, 400]);
      const w = dg.tensor(Float32Array.from(values([120, 400], 4))).reshape([120, 400]).requiresGrad_();
      const g = dg.tensor(Float32Array.from(values([64, 120], 5))).reshape([64, 120]);
      dg.matmul(x, w.transpose()).backward(g);
      expect(w.grad!.handle.constructor.name).toBe("WasmBuffer");
      const old = dg.matmul(x.transpose(), g).transpose().dataSync();
      const got = w.grad!.dataSync();
      expect(got.every((v, i) => Object.is(v, old[i]))).toBe(true);
    } finally {
      dg.setBackend(before);
    }
  });
  test("second order through matmul", () => {
    const a = t64(values([2, 3], 1), [2, 3]);
    const b = t64(values([3, 2], 2), [3, 2]);
    expect(gradgradcheck((x, y) => dg.matmul(x, y).tanh(), [a, b])).toBe(true);
  });
  test.prop([fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), seedArb], { numRuns: 8 })(
    "blocked kernel equals the plain triple loop across block edges (float32)",
    (m, k, n, seed) => {
      const va = values([m, k], seed);
      const vb = values([k, n], seed + 1);
      const y = dg.matmul(dg.tensor(Float32Array.from(va)).reshape([m, k]), dg.tensor(Float32Array.from(vb)).reshape([k, n]));
      const a32 = Float32Array.from(va);
      const b32 = Float32Array.from(vb);
      const expected = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a32[i * k + p]! * b32[p * n + j]!;
        expected[i * n + j] = s;
      }
      expectClose(y.dataSync(), expected, 1e-4, "matmul f32");
    },
  );
  test("errors name the shapes", () => {
    expect(() => dg.matmul(dg.zeros([2, 3]), dg.zeros([4, 5]))).toThrow("matmul: inner dimensions differ: [2,3] · [4,5]");
    expect(() => dg.matmul(dg.zeros([2, 2, 3]), dg.zeros([3, 3, 1]))).toThrow(/matmul: shapes \[2\] and \[3\] cannot be broadcast/);
    expect(() => dg.matmul(dg.zeros([]), dg.zeros([3]))).toThrow(dg.DeltagradError);
  });
});

describe("unfold and fold (the windowing primitives)", () => {
  const opts = { kernel: [2, 3] as [number, number], stride: [1, 2] as [number, number], padding: 1, dilation: [2, 1] as [number, number] };
  test("unfold gradcheck and second order; fold is its adjoint", () => {
    const x = t64(values([2, 2, 5, 6], 3), [2, 2, 5, 6]);
    expect(gradcheck((t) => dg.unfold(t, opts), [x])).toBe(true);
    expect(gradgradcheck((t) => dg.unfold(t, opts).square(), [x])).toBe(true);
    const cols = dg.unfold(x.detach(), opts);
    const c = t64(values(cols.shape.slice(), 4), cols.shape.slice());
    expect(gradcheck((t) => dg.fold(t, [5, 6], opts), [c])).toBe(true);
    // ⟨unfold(x), c⟩ = ⟨x, fold(c)⟩
    const lhs = dg.sum(dg.mul(dg.unfold(x, opts), c)).itemSync();
    const rhs = dg.sum(dg.mul(x, dg.fold(c, [5, 6], opts))).itemSync();
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12);
  });
  test("a 3×3 window of a 4×4 image has 4 positions", () => {
    const y = dg.unfold(dg.arange(16).reshape([1, 1, 4, 4]), { kernel: 3 });
    expect(y.shape).toEqual([1, 9, 4]);
    expect((y.arraySync() as number[][][])[0]![0]).toEqual([0, 1, 4, 5]);
  });
  test("too small an input is a clear error", () => {
    expect(() => dg.unfold(dg.zeros([1, 1, 2, 2]), { kernel: 3 })).toThrow("unfold: input 2×2 is too small for kernel 3×3");
    expect(() => dg.unfold(dg.zeros([1, 1, 4, 4]), { kernel: 3, stride: 0 })).toThrow(/unfold: stride must be an integer ≥ 1/);
  });
});

describe("movement errors", () => {
  test.each([
    [() => dg.reshape(dg.zeros([2, 3]), [4, 2]), "reshape: cannot reshape [2,3] (size 6) into [4,2]"],
    [() => dg.permute(dg.zeros([2, 3]), [0, 0]), "permute: perm [0,0] repeats an axis"],
    [() => dg.expand(dg.zeros([2, 3]), [4, 3]), "expand: cannot expand [2,3] to [4,3]"],
    [() => dg.squeeze(dg.zeros([2, 3]), 0), "squeeze: axis 0 of shape [2,3] has size 2, not 1"],
    [() => dg.slice(dg.zeros([3]), [2], [2]), "slice: begin [2] size [2] is out of bounds for shape [3]"],
    [() => dg.concat([dg.zeros([2, 3]), dg.zeros([2, 4])], 0), "concat: shapes [2,3], [2,4] differ outside axis 0"],
    [() => dg.gather(dg.zeros([3]), dg.tensor([3], { dtype: "int32" })), "gather: index 3 is out of range for axis 0 of size 3"],
    [() => dg.gather(dg.zeros([3]), dg.tensor([1])), "gather: indices must be int32, got float32"],
    [() => dg.pad(dg.zeros([3]), [[1, -1]]), "pad: pads must be 1 pairs of non-negative integers"],
  ])("%#", (f, msg) => {
    expect(f).toThrow(dg.DeltagradError);
    expect(f).toThrow(msg);
  });
});
