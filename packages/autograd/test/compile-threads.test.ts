/**
 * compile()'s fused kernels on the worker threads: a large run is split into tasks (blocks of
 * rows, or of columns when there are fewer rows than tasks), each a call of the same generated
 * kernel, so the bits equal one thread's and eager's whatever the split — odd lengths (the
 * scalar tail of every column block), row and per-channel operands, bool masks stored as bytes,
 * and a sum or max done by the run's kernel (each row reduced by one task, in one order).
 */
import { afterEach, describe, expect, test } from "vitest";
import { bits, firstDiff } from "./wasm-support.js";
import * as dg from "@deltagrad/autograd";
import { compile, getBackend, manualSeed, rand, setBackend, type Tensor } from "@deltagrad/autograd";

const initial = getBackend().name;
const initialThreads = dg.getNumThreads();
afterEach(() => {
  setBackend(initial);
  dg.setNumThreads(initialThreads);
});

/**
 * `fn` compiled, traced on args(1) and run on args(2) with 2 threads, then the same with 1, and
 * eager on args(2): each output's bits three ways (and the plan as described on 2 threads).
 */
function threeWays(fn: (...a: Tensor[]) => Tensor[], args: (seed: number) => readonly Tensor[]) {
  const f = compile(fn);
  const run = (threads: number) => {
    dg.setNumThreads(threads);
    f(...args(1));
    return f(...args(2)).map(bits);
  };
  const two = run(2);
  const plan = f.describe();
  const one = run(1);
  dg.setNumThreads(2);
  return { two, one, eager: fn(...args(2)).map(bits), plan };
}

/** Every output's bits equal on 2 threads, 1 thread and eager. */
function expectSameBits({ two, one, eager }: ReturnType<typeof threeWays>): void {
  two.forEach((b, i) => {
    expect(b.length, `output ${i}: length`).toBe(eager[i]!.length);
    expect(firstDiff(b, one[i]!), `output ${i}: 2 threads vs 1`).toBe(-1);
    expect(firstDiff(b, eager[i]!), `output ${i}: compiled vs eager`).toBe(-1);
  });
}

describe.skipIf(!dg.listBackends().includes("wasm"))("fused kernels on 1 and 2 threads", () => {
  const big = (seed: number, shape: number[]) => {
    manualSeed(seed);
    return rand(shape).mul(4).sub(2);
  };

  test.each([
    // One row of 300,001: column blocks, the last one ending in a scalar tail.
    { name: "W5's chain over one long row", shapes: [[300_001]], fn: (x: Tensor) => [x.exp().mul(x).add(1)] },
    // 4,096 rows of 77 with a row operand: row blocks; a float and a bool output.
    {
      name: "bias + relu with its mask over many rows",
      shapes: [[4096, 77], [77]],
      fn: (x: Tensor, b: Tensor) => {
        const pre = x.add(b);
        return [pre.relu().mul(pre.exp()), pre.greater(0)];
      },
    },
    // 3 rows (fewer than the tasks) of 100,003 with a per-channel operand: column blocks across rows.
    { name: "a per-channel operand over few rows", shapes: [[1, 3, 317, 319], [3, 1, 1]], fn: (x: Tensor, c: Tensor) => [x.mul(c).add(x.sqrt()).maximum(x.neg().exp())] },
    // Reductions done by the run's kernel: row blocks only, each row reduced by one task.
    { reduces: true, name: "a softmax's row sums (tiled: exp) over 4,099 rows", shapes: [[4099, 301]], fn: (x: Tensor) => [dg.softmax(x, { axis: 1 })] },
    { reduces: true, name: "a sum of squares over 4,099 rows (reduced in the loop)", shapes: [[4099, 301]], fn: (x: Tensor) => [x.mul(x).add(1).sum({ axis: 1 })] },
    { reduces: true, name: "a max over 3 rows (fewer than the tasks)", shapes: [[3, 100_003]], fn: (x: Tensor) => [x.neg().exp().max({ axis: 1 })] },
    { reduces: true, name: "a sum over one long row (one task)", shapes: [[300_001]], fn: (x: Tensor) => [x.mul(x).sum()] },
  ] as { name: string; shapes: number[][]; fn: (...xs: Tensor[]) => Tensor[]; reduces?: boolean }[])("$name: the same bits as one thread and as eager", async ({ shapes, fn, reduces }) => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const args = (seed: number) => shapes.map((s, i) => big(seed + i, s));
    const f = compile(fn as (...xs: Tensor[]) => Tensor[]);
    const run = (threads: number, seed: number) => {
      dg.setNumThreads(threads);
      f(...args(seed)); // traces (a new thread count is a new signature)
      return f(...args(seed + 10)).map(bits);
    };
    const two = run(2, 1);
    const one = run(1, 1);
    dg.setNumThreads(2);
    const eager = (fn as (...xs: Tensor[]) => Tensor[])(...args(11)).map(bits);
    expect(f.stats().fusedKernels).toBe(1);
    if (reduces) expect(f.describe()).toMatch(/its (sum|max) in the same pass/);
    two.forEach((b, i) => {
      expect(b.length, `output ${i}: length`).toBe(eager[i]!.length);
      expect(firstDiff(b, one[i]!), `output ${i}: 2 threads vs 1, first differing byte`).toBe(-1);
      expect(firstDiff(b, eager[i]!), `output ${i}: compiled vs eager, first differing byte`).toBe(-1);
    });
  });
});

describe.skipIf(!dg.listBackends().includes("wasm"))("joint matmul jobs", () => {
  test("a backward pass's dX and dW products run as one thread job with eager's bits, on 1 and 2 threads", async () => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    // h = relu(x·w1)·w2: the backward's g·w2ᵀ and hᵀ·g are independent (only lazy transposes between them).
    const fn = (x: Tensor, w1: Tensor, w2: Tensor, g: Tensor) => {
      const y = x.matmul(w1).relu().matmul(w2);
      y.backward(g);
      return [y, w1.grad!, w2.grad!];
    };
    const args = (seed: number) => {
      manualSeed(seed);
      return [rand([96, 130]), rand([130, 200]).requiresGrad_(true), rand([200, 150]).requiresGrad_(true), rand([96, 150])] as const;
    };
    const r = threeWays(fn, args);
    expect(r.plan).toMatch(/joint#\d+ \(2 matmuls, one thread job\)/);
    expectSameBits(r);
  });
});

describe.skipIf(!dg.listBackends().includes("wasm"))("a product folded into images", () => {
  // A convolution's input gradient col2im(Wᵀ·Ḡ): one thread job folding each run of images'
  // columns. (A product under 4 KiB is not fused: it goes to the JS heap and eager runs it and
  // its fold on the cpu; the last case is just above that.)
  const geometries: { name: string; x: number[]; w: number[]; o: dg.Conv2dOptions; fused: boolean }[] = [
    { name: "LeNet's C3", x: [64, 6, 14, 14], w: [16, 6, 5, 5], o: {}, fused: true },
    { name: "stride 2, padding 1", x: [9, 3, 13, 11], w: [5, 3, 3, 3], o: { stride: 2, padding: 1 }, fused: true },
    { name: "dilation 2, one image", x: [1, 2, 12, 17], w: [3, 2, 3, 2], o: { dilation: 2 }, fused: true },
    { name: "a 1×1 kernel, odd sizes", x: [7, 5, 9, 23], w: [4, 5, 1, 1], o: {}, fused: true },
    { name: "a product under 4 KiB (not fused)", x: [7, 5, 9, 3], w: [4, 5, 1, 1], o: {}, fused: false },
  ];
  test.each(geometries)("$name: the input gradient has eager's bits, on 1 and 2 threads", async ({ x, w, o, fused }) => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const fn = (x: Tensor, w: Tensor, g: Tensor) => [dg.vjp((x: Tensor) => dg.conv2d(x, w, null, o), x)[1](g)].flat()[0]!;
    const args = (seed: number) => {
      manualSeed(seed);
      const xs = rand(x);
      const ws = rand(w);
      return [xs, ws, rand(dg.conv2d(xs, ws, null, o).shape)] as const;
    };
    const f = compile(fn);
    const run = (threads: number) => {
      dg.setNumThreads(threads);
      f(...args(1));
      return bits(f(...args(2)));
    };
    const two = run(2);
    expect(/joint#\d+ \(a product folded into images, one thread job\)/.test(f.describe())).toBe(fused);
    const one = run(1);
    const eager = bits(fn(...args(2)));
    expect(firstDiff(two, one), "2 threads vs 1").toBe(-1);
    expect(firstDiff(two, eager), "compiled vs eager").toBe(-1);
  });
});

describe.skipIf(!dg.listBackends().includes("wasm"))("a product's epilogue", () => {
  // A 2-d product that only a fused run reads (a layer's bias add and activation): each column
  // block of the product, then the run over it, in one thread task; the product written into the
  // run's float output and overwritten in place, or (no float output) into a block of the call.
  const cases: { name: string; shapes: number[][]; fn: (...xs: Tensor[]) => Tensor[]; epilogue: boolean }[] = [
    {
      name: "relu(x·w + b) and its gradients (odd rows, a partial column strip)",
      shapes: [[203, 131], [131, 301], [301], [203, 301]],
      fn: (x, w, b, g) => {
        const [y, back] = dg.vjp((w: Tensor, b: Tensor) => x.matmul(w).add(b).relu(), w, b);
        return [y, ...back(g)];
      },
      epilogue: true,
    },
    { name: "a chain without row operands over x·wᵀ (a lazy transpose)", shapes: [[64, 517], [300, 517]], fn: (x, w) => [x.matmul(w.transpose()).tanh().mul(2).add(1)], epilogue: true },
    { name: "a chain whose only output is a mask (the product in a block of the call)", shapes: [[97, 200], [200, 211], [211]], fn: (x, w, b) => [x.matmul(w).add(b).greater(0.5)], epilogue: true },
    // Planned as an epilogue, but x·wᵀ with k = 1024 and 64×64 outputs takes the dot-product
    // path (k-chunks summed after the job): the replay falls back to the product, then the run.
    { name: "a product on the dot-product path (the fallback)", shapes: [[64, 1024], [64, 1024]], fn: (x, w) => [x.matmul(w.transpose()).add(0.25).relu()], epilogue: true },
    { name: "a product also returned (not an epilogue)", shapes: [[97, 200], [200, 211], [211]], fn: (x, w, b) => { const p = x.matmul(w); return [p.add(b).relu(), p]; }, epilogue: false },
  ];
  test.each(cases)("$name: eager's bits on 1 and 2 threads", async ({ shapes, fn, epilogue }) => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const args = (seed: number) => {
      manualSeed(seed);
      return shapes.map((s) => rand(s).mul(2).sub(1));
    };
    const r = threeWays(fn, args);
    expect(/fused#\d+ \(a product and \d+ ops over it, one thread job/.test(r.plan), r.plan).toBe(epilogue);
    expectSameBits(r);
  });
});
