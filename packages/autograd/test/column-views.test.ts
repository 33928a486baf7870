/**
 * Convolution columns read in place (wasm/placement.ts's ColumnsView): where a convolution's
 * unfold has stride 1 and no padding, its columns are not written out; the forward product packs
 * them straight from the image (groups of four columns split across two output rows lane by
 * lane), and where every group lies in one row, the weight gradient's dot-product path reads them
 * there too. Every value and gradient must be bit for bit what the
 * written-out columns give, on 1 and 2 threads; columns any other kernel reads are written out
 * once, as unfold writes them; and a view holds its image only as long as it lives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { test } from "@fast-check/vitest";
import fc from "fast-check";
import * as dg from "@deltagrad/autograd";
import { cpuBackend, wasmBackend, wasmSimdSupported, type TypedArray, type WindowParams } from "@deltagrad/autograd";
import { setColumnViews } from "../src/wasm/dispatch/window.js";
import { columnProducts } from "../src/wasm/dispatch/matmul.js";
import { ColumnsView } from "../src/wasm/placement.js";
import { bits, firstDiff, rand } from "./wasm-support.js";

interface Case {
  x: number[];
  w: number[];
  o: dg.Conv2dOptions;
  xGrad: boolean;
}

/** conv2d of seeded data, then backward of a seeded cotangent: the output and every gradient's bytes. */
function convBits(c: Case, threads: number, views: boolean): Buffer[] {
  const prev = setColumnViews(views);
  const prevThreads = dg.getNumThreads();
  dg.setNumThreads(threads);
  try {
    return dg.scoped(() => {
      const sz = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = dg.tensor(rand(sz(c.x), 1)).reshape(c.x).requiresGrad_(c.xGrad);
      const w = dg.tensor(rand(sz(c.w), 2)).reshape(c.w).requiresGrad_();
      const b = dg.tensor(rand(c.w[0]!, 3)).requiresGrad_();
      const y = dg.conv2d(x, w, b, c.o);
      y.backward(dg.tensor(rand(y.size, 4)).reshape(y.shape));
      const out = [bits(y), bits(w.grad!), bits(b.grad!), ...(c.xGrad ? [bits(x.grad!)] : [])];
      for (const t of [x, w, b]) t.grad?.dispose();
      return out;
    });
  } finally {
    dg.setNumThreads(prevThreads);
    setColumnViews(prev);
  }
}

/** Asserts equal bytes, naming the first differing float. */
function sameBits(got: Buffer[], want: Buffer[], what: string): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(`${what}, result ${i}: first difference at byte ${firstDiff(g, want[i]!)}`).toBe(`${what}, result ${i}: first difference at byte -1`));
}

/** The convolution's output width (stride 1, no padding). */
const outW = (c: Case) => c.x[3]! - (c.o.dilation === undefined ? 1 : typeof c.o.dilation === "number" ? c.o.dilation : c.o.dilation[1]) * (c.w[3]! - 1);

describe.skipIf(!wasmSimdSupported())("convolution columns read in place", () => {
  let backend = "";
  beforeAll(() => {
    backend = dg.getBackend().name;
    dg.setBackend("wasm");
  });
  afterAll(() => dg.setBackend(backend));

  const cases: [string, Case, { packed: boolean; dot: boolean }][] = [
    // LeNet-5's first convolution (after its explicit pad): 28-wide rows, both products in place.
    ["LeNet's C1", { x: [64, 1, 32, 32], w: [6, 1, 5, 5], o: {}, xGrad: false }, { packed: true, dot: true }],
    ["a rectangular kernel, 8-wide rows, N·L = 1024 (the dot path's least k)", { x: [16, 2, 10, 11], w: [5, 2, 3, 4], o: {}, xGrad: true }, { packed: true, dot: true }],
    ["many output channels (m > 16), a 1×4 kernel", { x: [4, 3, 20, 23], w: [40, 3, 1, 4], o: {}, xGrad: true }, { packed: true, dot: true }],
    ["dilation 2, N·L = 512: the forward in place, the weight gradient off the dot path (written out)", { x: [8, 3, 12, 12], w: [4, 3, 3, 3], o: { dilation: 2 }, xGrad: true }, { packed: true, dot: false }],
    ["m·n = 4,480 > 4,096: the weight gradient packed from written-out columns", { x: [4, 1, 39, 39], w: [70, 1, 8, 8], o: {}, xGrad: false }, { packed: true, dot: false }],
    // Not read in place: padding, stride 2, an image small enough to stay on the JS heap.
    ["LeNet's C3: 10-wide rows, groups split across rows (the weight gradient gathers their lanes)", { x: [64, 6, 14, 14], w: [16, 6, 5, 5], o: {}, xGrad: true }, { packed: true, dot: true }],
    ["9-wide rows, N·L = 1,296: split groups on the dot path", { x: [16, 2, 11, 11], w: [5, 2, 3, 3], o: {}, xGrad: false }, { packed: true, dot: true }],
    ["7-wide rows, a last strip of one group", { x: [12, 2, 9, 9], w: [9, 2, 3, 3], o: {}, xGrad: true }, { packed: true, dot: false }],
    ["N·OH·OW not a multiple of 4 (written out)", { x: [3, 2, 11, 11], w: [4, 2, 3, 3], o: {}, xGrad: true }, { packed: false, dot: false }],
    ["padding 1", { x: [8, 4, 16, 16], w: [8, 4, 3, 3], o: { padding: 1 }, xGrad: true }, { packed: false, dot: false }],
    ["stride 2", { x: [8, 4, 17, 17], w: [8, 4, 3, 3], o: { stride: 2 }, xGrad: true }, { packed: false, dot: false }],
    ["a small image (JS heap)", { x: [2, 1, 9, 11], w: [3, 1, 2, 4], o: {}, xGrad: true }, { packed: false, dot: false }],
  ];

  for (const [name, c, expected] of cases) {
    it(`${name}: the same bits as written-out columns, on 1 and 2 threads`, () => {
      for (const threads of [1, 2]) {
        const want = convBits(c, threads, false);
        const before = { ...columnProducts };
        const got = convBits(c, threads, true);
        expect({ packed: columnProducts.packed > before.packed, dot: columnProducts.dot > before.dot }, `${name}: which products read the columns in place`).toEqual(expected);
        sameBits(got, want, `${name}, ${threads} thread(s)`);
      }
    });
  }

  // Random geometries (N a multiple of 4, so whole groups): C, K, kernel, dilation, output size.
  const geometry = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    c: fc.integer({ min: 1, max: 3 }),
    k: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    dil: fc.integer({ min: 1, max: 2 }),
    oh: fc.integer({ min: 1, max: 7 }),
    ow: fc.integer({ min: 1, max: 21 }),
    xGrad: fc.boolean(),
  });
  test.prop([geometry], { numRuns: 25 })("random geometries: the same bits as written-out columns, on 1 and 2 threads", (g) => {
    const h = g.oh + g.dil * (g.kh - 1);
    const w = g.ow + g.dil * (g.kw - 1);
    // At least 1,024 floats, so that the image lives in wasm memory.
    const n = 4 * Math.max(g.n, Math.ceil(1024 / (4 * g.c * h * w)));
    const c: Case = { x: [n, g.c, h, w], w: [g.k, g.c, g.kh, g.kw], o: { dilation: g.dil }, xGrad: g.xGrad };
    expect(outW(c)).toBe(g.ow);
    // Columns in place unless there is one output position (conv2d's plain product) or they are
    // small enough for the JS heap (under 4 KiB).
    const inPlace = g.oh * g.ow > 1 && g.c * g.kh * g.kw * n * g.oh * g.ow >= 1024;
    for (const threads of [1, 2]) {
      const want = convBits(c, threads, false);
      const packed = columnProducts.packed;
      const got = convBits(c, threads, true);
      expect(columnProducts.packed > packed, "packed from the image").toBe(inPlace);
      sameBits(got, want, JSON.stringify(c));
    }
  });

  it("columns another kernel reads are written out once, as unfold writes them, also transposed or reshaped", () => {
    const shape = [6, 2, 9, 12];
    const p: WindowParams = { kernel: [2, 5], stride: [1, 1], padding: [0, 0], dilation: [1, 1], batchInColumns: true };
    const [rows, cols] = [2 * 2 * 5, 6 * 8 * 8];
    const x = rand(6 * 2 * 9 * 12, 5);
    const want = cpuBackend.unfold(x, shape, p, "float32") as Float32Array;
    const img = wasmBackend.upload(x, "float32");
    const view = wasmBackend.unfold(img, shape, p, "float32");
    expect(view).toBeInstanceOf(ColumnsView);
    const u = new dg.Tensor(view, [rows, cols], "float32", wasmBackend); // the view holds the image
    try {
      expect(Buffer.from(u.dataSync().buffer).equals(Buffer.from(want.buffer))).toBe(true);
      // Transposed: as the transpose of the written columns.
      const t = dg.transpose(u);
      const tWant = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) tWant[j * rows + i] = want[i * cols + j]!;
      expect(Buffer.from(t.dataSync().buffer).equals(Buffer.from(tWant.buffer))).toBe(true);
      // Reshaped to another matrix and multiplied: matmul must not read it as the [rows, cols] it describes.
      const a = dg.tensor(rand(3 * rows * 8, 6)).reshape([3, rows * 8]);
      const got = dg.matmul(a, u.reshape([rows * 8, cols / 8]));
      const ref = dg.matmul(a, dg.tensor(want).reshape([rows * 8, cols / 8]));
      expect(bits(got).equals(bits(ref))).toBe(true);
      // Elementwise: the kernels read the written-out columns.
      expect(bits(u.mul(2)).equals(bits(dg.tensor(want).reshape([rows, cols]).mul(2)))).toBe(true);
    } finally {
      u.dispose();
    }
  });

  it("a view holds its image only while it lives: 200 training steps of LeNet's C1 leave wasm memory as they found it", () => {
    const step = () =>
      dg.scoped(() => {
        const x = dg.tensor(rand(64 * 32 * 32, 7)).reshape([64, 1, 32, 32]);
        const w = dg.tensor(rand(150, 8)).reshape([6, 1, 5, 5]).requiresGrad_();
        dg.conv2d(x, w).sum().backward();
        w.grad!.dispose();
      });
    step();
    const before = dg.wasmMemoryStats();
    const packed = columnProducts.packed;
    for (let i = 0; i < 200; i++) step();
    expect(columnProducts.packed - packed).toBe(200);
    const after = dg.wasmMemoryStats();
    expect(after.inUseBytes).toBe(before.inUseBytes);
    expect(after.residentBuffers).toBe(before.residentBuffers);
    expect(after.evictions).toBe(before.evictions);
  });
});
