import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { expectClose, ref, refMatmul, t64, values } from "./helpers.js";

// The cpu backend's blocked kernels have edge paths (rows and columns past the 4×4 tiles, k past
// one cache block) that small random shapes rarely reach; these shapes reach every one of them.
describe("cpu kernels: blocked matmul", () => {
  const cases: [number[], number[]][] = [
    [[7, 300], [300, 70]], // k > one 256-deep block; m and n not multiples of 4
    [[4, 513], [513, 4]],
    [[1, 3], [3, 1]],
    [[9, 1], [1, 130]], // n spans three 64-column blocks
    [[3, 6, 257], [257, 5]], // batched, broadcast right operand
    [[2, 1, 5, 8], [3, 8, 66]],
  ];
  for (const [as, bs] of cases) {
    test(`${JSON.stringify(as)} · ${JSON.stringify(bs)} matches the reference in float64 and float32`, () => {
      const av = values(as, 1);
      const bv = values(bs, 2);
      const expected = refMatmul(ref(av, as), ref(bv, bs)).values;
      expectClose(dg.matmul(t64(av, as, false), t64(bv, bs, false)).dataSync(), expected, 1e-12, "float64");
      const a32 = dg.tensor(Float32Array.from(av)).reshape(as);
      const b32 = dg.tensor(Float32Array.from(bv)).reshape(bs);
      expectClose(dg.matmul(a32, b32).dataSync(), expected, 1e-4 * Math.sqrt(as[as.length - 1]!), "float32");
    });
  }

  test("a constant operand gets no gradient work, the other its full gradient", () => {
    const a = t64(values([5, 6], 3), [5, 6], false);
    const b = t64(values([6, 7], 4), [6, 7]);
    dg.matmul(a, b).sum().backward();
    expect(a.grad).toBeNull();
    expectClose(b.grad!.dataSync(), refMatmul(transposeRef(values([5, 6], 3), 5, 6), ref(new Array(35).fill(1), [5, 7])).values, 1e-12, "b.grad");
  });
});

function transposeRef(v: number[], m: number, n: number) {
  const out: number[] = [];
  for (let j = 0; j < n; j++) for (let i = 0; i < m; i++) out.push(v[i * n + j]!);
  return ref(out, [n, m]);
}

// Where a Content-Security-Policy forbids code generation, the compiled loops fall back to
// closures; both must give the same numbers.
describe("cpu kernels: closure fallbacks without code generation", () => {
  test("unary, binary (with broadcasting) and reduce loops agree with the compiled ones", async () => {
    const { makeBinaryLoop, makeReduceLoop, makeUnaryLoop, transposeLast2 } = await import("../src/cpu/strided.js");
    const RealFunction = globalThis.Function;
    let fallback!: { add: ReturnType<typeof makeBinaryLoop>; exp: ReturnType<typeof makeUnaryLoop>; sum: ReturnType<typeof makeReduceLoop>; max: ReturnType<typeof makeReduceLoop> };
    (globalThis as { Function: unknown }).Function = function () {
      throw new EvalError("code generation from strings disallowed");
    };
    try {
      fallback = {
        add: makeBinaryLoop("x + y", (x, y) => x + y),
        exp: makeUnaryLoop("Math.exp(x)", Math.exp),
        sum: makeReduceLoop("acc + x", (acc, x) => acc + x, 0),
        max: makeReduceLoop("x > acc || x !== x ? x : acc", (acc, x) => (x > acc || x !== x ? x : acc), -Infinity),
      };
    } finally {
      globalThis.Function = RealFunction;
    }
    const x = dg.tensor(Float64Array.from(values([2, 3, 4], 5))).reshape([2, 3, 4]);
    const y = dg.tensor(Float64Array.from(values([3, 1], 6))).reshape([3, 1]);
    const out = new Float64Array(24);
    fallback.add(x.dataSync(), x.shape, y.dataSync(), y.shape, out, [2, 3, 4]);
    expectClose(out, dg.add(x, y).dataSync(), 0, "add");
    fallback.exp(x.dataSync(), out);
    expectClose(out, dg.exp(x).dataSync(), 0, "exp");
    for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
      const r = new Float64Array(dg.sum(x, { axis: axes, keepDims: true }).size);
      fallback.sum(x.dataSync(), x.shape, axes, r);
      expectClose(r, dg.sum(x, { axis: axes }).dataSync(), 1e-15, `sum ${axes}`);
      fallback.max(x.dataSync(), x.shape, axes, r);
      expectClose(r, dg.max(x, { axis: axes }).dataSync(), 0, `max ${axes}`);
    }
    const t = new Float64Array(24);
    transposeLast2(x.dataSync(), t, 2, 3, 4);
    expectClose(t, dg.transpose(x, -1, -2).dataSync(), 0, "transpose");
  });
});
