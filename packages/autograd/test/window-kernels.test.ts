/**
 * The wasm im2col/col2im fast cases against the cpu kernels, bit for bit (−0 and NaN included):
 * a window that is the whole unpadded image (a copy, and col2im's 0 + column add), unfold with
 * and without padding (no zero fill first: every column element is written, the padding taps as
 * +0, even into reused dirty memory),
 * stride 2 (four columns a step), and a batch split into runs of planes across tasks. Max
 * pooling's choice against the cpu kernel, and its kernels (the choice with its values,
 * maxUnpool2) and the row reductions split across two threads against one.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as dg from "@deltagrad/autograd";
import { cpuBackend, wasmBackend, wasmSimdSupported, type TypedArray, type WindowParams } from "@deltagrad/autograd";
import { windowMax, maxUnpool2 } from "../src/wasm/dispatch/window.js";
import { onWasm, rand } from "./wasm-support.js";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Bit-for-bit equal (NaN equal, −0 ≠ 0); a mismatch reports its first index, not a diff of a million floats. */
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let i = 0;
  while (i < a.length && Object.is(a[i], b[i])) i++;
  expect(i === a.length ? "equal" : `first difference at ${i}: ${a[i]} vs ${b[i]}`).toBe("equal");
};

/** Values with −0, NaN and ±∞ sprinkled in. */
function values(n: number, seed: number): Float32Array {
  const v = rand(n, seed).map((x) => x * 3);
  const specials = [NaN, -0, 0, Infinity, -Infinity, 1];
  for (let i = 0; i < n; i += 7) v[i] = specials[(i / 7) % specials.length]!;
  return v;
}

function check(shape: number[], p: WindowParams, seed: number): void {
  const [oh, ow] = [0, 1].map((a) => Math.floor((shape[2 + a]! + 2 * p.padding[a]! - p.dilation[a]! * (p.kernel[a]! - 1) - 1) / p.stride[a]!) + 1);
  const nCols = shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh! * ow!;
  const x = values(size(shape), seed);
  same(onWasm("float32", nCols, wasmBackend.unfold, x, shape, p, "float32"), cpuBackend.unfold(x, shape, p, "float32") as TypedArray);
  const cols = values(nCols, seed + 1);
  same(onWasm("float32", size(shape), wasmBackend.fold, cols, shape, p, "float32"), cpuBackend.fold(cols, shape, p, "float32") as TypedArray);
}

const P = (kernel: [number, number], stride: [number, number] = [1, 1], padding: [number, number] = [0, 0]): WindowParams => ({ kernel, stride, padding, dilation: [1, 1] });

describe.skipIf(!wasmSimdSupported())("wasm unfold/fold fast cases equal the cpu kernels bit for bit", () => {
  it("a window that is the whole unpadded image (LeNet's C5: [64,16,5,5], 5×5)", () => {
    check([64, 16, 5, 5], P([5, 5]), 1);
    check([3, 2, 4, 7], P([4, 7], [2, 3]), 2);
  });

  it("unfold writes every column element, padding taps as +0, also into reused (dirty) memory, in both column layouts", () => {
    dg.setBackend("wasm");
    /** A large result freed just before: its block is handed out again with its old contents. */
    const dirty = (n: number) => dg.scoped(() => void dg.full([n], NaN).add(7));
    for (let i = 0; i < 3; i++) {
      dirty(64 * 32 * 25 * 28);
      check([64, 1, 32, 32], P([5, 5]), 3 + i);
      check([16, 6, 14, 14], P([5, 5]), 6 + i);
    }
    // Padding: rows above and below the image, columns left and right of it, a tap wholly in the
    // padding (a 1-wide image under a 3-wide window), stride 2 and dilation (the general path).
    const geometries: [number[], WindowParams][] = [
      [[64, 1, 28, 28], P([5, 5], [1, 1], [2, 2])], // LeNet's first convolution, padded in the convolution
      [[8, 3, 9, 13], P([3, 3], [1, 1], [1, 1])],
      [[4096, 2, 1, 1], P([3, 3], [1, 1], [1, 1])],
      [[4, 2, 11, 10], P([3, 3], [2, 2], [1, 1])],
      [[3, 2, 9, 9], { kernel: [3, 3], stride: [1, 2], padding: [2, 1], dilation: [2, 2] }],
      [[5, 4, 7, 6], P([2, 3], [1, 1], [1, 0])],
    ];
    for (const [shape, p] of geometries) {
      for (const batchInColumns of [false, true]) {
        const q = { ...p, batchInColumns };
        const [oh, ow] = [0, 1].map((a) => Math.floor((shape[2 + a]! + 2 * p.padding[a]! - p.dilation[a]! * (p.kernel[a]! - 1) - 1) / p.stride[a]!) + 1);
        const nCols = size(shape) / shape[2]! / shape[3]! * p.kernel[0] * p.kernel[1] * oh! * ow!;
        const x = values(size(shape), nCols);
        dirty(nCols);
        same(onWasm("float32", nCols, wasmBackend.unfold, x, shape, q, "float32"), cpuBackend.unfold(x, shape, q, "float32") as TypedArray);
      }
    }
  });

  it("stride 2: rows of every width around the vector loop's bound, any tap offset", () => {
    for (const w of [2, 3, 7, 8, 9, 10, 11, 15, 16, 17, 28]) {
      check([3, 2, 5, w], P([2, 2], [2, 2]), w);
      check([2, 1, 6, w + 2], P([3, 3], [2, 2], [1, 1]), w + 50);
    }
  });

  it("a batch split into runs of planes across tasks (more than 2 MB of columns)", () => {
    const before = dg.getNumThreads();
    for (const threads of [1, 2]) {
      dg.setNumThreads(threads);
      check([64, 6, 28, 28], P([2, 2], [2, 2]), 11);
      check([64, 6, 14, 14], P([5, 5]), 12);
    }
    dg.setNumThreads(before);
  });
});

describe.skipIf(!wasmSimdSupported())("wasm windowArgmax (max pooling's choice) equals the cpu kernel", () => {
  /** Values from a few levels (many ties), with NaN and ±∞ when `special`. */
  function levels(n: number, seed: number, special: boolean): Float32Array {
    const l = special ? [0, 0, 1, 2, -1, NaN, Infinity, -Infinity, -Infinity] : [0, 0, 0, 1, 2, -1];
    return rand(n, seed).map((u) => l[Math.floor(((u + 1) / 2) * l.length) % l.length]!);
  }
  const argmaxCheck = (shape: number[], p: WindowParams, x: Float32Array) => {
    const [oh, ow] = [0, 1].map((a) => Math.floor((shape[2 + a]! + 2 * p.padding[a]! - p.dilation[a]! * (p.kernel[a]! - 1) - 1) / p.stride[a]!) + 1);
    const n = shape[0]! * shape[1]! * oh! * ow!;
    const cpu = cpuBackend.windowArgmax(x, shape, p, "float32") as Int32Array;
    expect(cpu.every((i) => i >= 0 && i < x.length)).toBe(true);
    same(onWasm("int32", n, wasmBackend.windowArgmax, x, shape, p, "float32"), cpu);
  };

  it("every geometry: kernels, strides (the four-window lane loads), padding, dilation, widths around the vector loop", () => {
    let seed = 1;
    for (const kernel of [[1, 1], [2, 2], [3, 2], [3, 3]] as [number, number][]) {
      for (const stride of [[1, 1], [2, 2], [1, 3]] as [number, number][]) {
        for (const padding of [[0, 0], [1, 0], [0, 1], [1, 1]] as [number, number][]) {
          if (padding[0] > kernel[0] >> 1 || padding[1] > kernel[1] >> 1) continue;
          for (const dilation of [[1, 1], [2, 1]] as [number, number][]) {
            for (const w of [3, 6, 9, 14]) {
              const h = 5 + (seed % 3);
              const shape = [Math.ceil(1100 / (h * w)), 2, h, w];
              const p = { kernel, stride, padding, dilation };
              if ((h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) < 0 || (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) < 0) continue;
              argmaxCheck(shape, p, levels(size(shape), seed, seed % 2 === 0));
              argmaxCheck(shape, p, values(size(shape), seed++));
            }
          }
        }
      }
    }
  });

  it("LeNet's pools ([64,6,28,28] and [64,16,10,10], 2×2 stride 2), after a ReLU (ties of 0)", () => {
    for (const shape of [[64, 6, 28, 28], [64, 16, 10, 10]]) {
      const x = rand(size(shape), 3).map((v) => Math.max(0, v));
      argmaxCheck(shape, P([2, 2], [2, 2]), x);
    }
  });
});

describe.skipIf(!wasmSimdSupported())("max pooling's kernels and row reductions on 1 and 2 threads", () => {
  const initialThreads = dg.getNumThreads();
  afterAll(() => dg.setNumThreads(initialThreads));
  /** `f` on one thread, then on two (the pool up): both results, for a bit-for-bit comparison. */
  const onThreads = async <T>(f: () => T): Promise<[T, T]> => {
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const two = f();
    dg.setNumThreads(1);
    return [f(), two];
  };
  // Above the split's threshold (2¹⁷ input elements): runs of planes, each run's indices from its first plane's.
  const shapes = [[64, 6, 28, 28], [50, 7, 20, 22]];

  it("windowArgmax: the same indices, and the cpu kernel's, over runs of planes (2×2 stride 2, and 3×3 stride 2 padded)", async () => {
    for (const shape of shapes) {
      for (const p of [P([2, 2], [2, 2]), P([3, 3], [2, 2], [1, 1])]) {
        const x = values(size(shape), 11);
        const [oh, ow] = [0, 1].map((a) => Math.floor((shape[2 + a]! + 2 * p.padding[a]! - (p.kernel[a]! - 1) - 1) / p.stride[a]!) + 1);
        const n = shape[0]! * shape[1]! * oh! * ow!;
        const [one, two] = await onThreads(() => onWasm("int32", n, wasmBackend.windowArgmax, x, shape, p, "float32"));
        same(two, one);
        same(one, cpuBackend.windowArgmax(x, shape, p, "float32") as TypedArray);
      }
    }
  });

  it("the choice with its values (windowMax), then maxUnpool2 scattering a gradient back: the same bits, and scatterAdd's", async () => {
    for (const shape of shapes) {
      const p = P([2, 2], [2, 2]);
      const x = values(size(shape), 5);
      const nOut = size(shape) / 4;
      const g = values(nOut, 6);
      const [one, two] = await onThreads(() => {
        const xh = wasmBackend.upload(x, "float32");
        const gh = wasmBackend.upload(g, "float32");
        const [idx, vals] = windowMax(xh, shape, p)!;
        const dx = maxUnpool2(gh, idx, shape, p)!;
        const read = (h: unknown, d: "int32" | "float32", n: number) => wasmBackend.readSync(h as never, d, n).slice();
        const r = { idx: read(idx, "int32", nOut), vals: read(vals, "float32", nOut), dx: read(dx, "float32", size(shape)) };
        for (const h of [xh, gh, idx, vals, dx]) if (wasmBackend.retain!(h as never)) wasmBackend.release!(h as never);
        return r;
      });
      same(two.idx, one.idx);
      same(two.vals, one.vals);
      same(two.dx, one.dx);
      same(one.idx, cpuBackend.windowArgmax(x, shape, p, "float32") as TypedArray);
      same(one.vals, Float32Array.from(one.idx as Int32Array, (i) => x[i]!));
      same(one.dx, cpuBackend.scatterAdd(g, one.idx, nOut, [size(shape)], 0, "float32") as TypedArray);
    }
  });

  it("sum and max over the last axes (sumRows, maxRows) over runs of rows", async () => {
    for (const [shape, axes] of [[[6, 64, 784], [1, 2]], [[5, 70_001], [1]], [[3, 2, 50_000], [2]]] as [number[], number[]][]) {
      const x = values(size(shape), 9);
      const m = size(shape) / axes.reduce((a, i) => a * shape[i]!, 1);
      for (const op of ["sum", "max"] as const) {
        const [one, two] = await onThreads(() => onWasm("float32", m, wasmBackend.reduce, op, x, shape, axes, "float32"));
        same(two, one);
      }
    }
  });
});
