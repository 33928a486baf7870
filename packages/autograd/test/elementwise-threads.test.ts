/**
 * Eager elementwise ops on the worker threads (wasm/dispatch/elementwise.ts; sizes above its
 * thresholds: 2²⁰ elements for a binary op, compare or where, 2¹⁷ for exp): a large op's kernel
 * calls are split into pieces of rows, or of whole 16-element column blocks of one long row, so
 * every element is computed by the same lane operations — the bits equal one thread's. Cases
 * cover each split: one long row with a scalar tail (unary, vector·scalar, scalar·vector), many
 * rows with a row operand, few rows with a per-channel operand, many walk calls of at least
 * 4,096 elements each (broadcast compare with a bool output, where over a broadcast mask).
 * The ops run one by one (deferral off: wasm/lazy.ts would fuse the large unary and
 * same-shape binary ones), and with deferral on they must give the same bits.
 */
import { afterEach, describe, expect, test } from "vitest";
import { bits, firstDiff } from "./wasm-support.js";
import * as dg from "@deltagrad/autograd";
import { getBackend, manualSeed, rand, setBackend, tensor, type Tensor } from "@deltagrad/autograd";
import { lazy } from "../src/wasm/lazy.js";

const initial = getBackend().name;
const initialThreads = dg.getNumThreads();
afterEach(() => {
  lazy.enabled = true;
  setBackend(initial);
  dg.setNumThreads(initialThreads);
});

describe.skipIf(!dg.listBackends().includes("wasm"))("elementwise ops on 1 and 2 threads", () => {
  const big = (seed: number, shape: number[]) => {
    manualSeed(seed);
    return rand(shape).mul(4).sub(2);
  };

  test.each([
    { name: "exp over one row of 300,001 (column pieces, scalar tail)", shapes: [[300_001]], fn: (x: Tensor) => x.exp() },
    { name: "vector · scalar over one long row", shapes: [[1_048_583]], fn: (x: Tensor) => x.maximum(0.25) },
    { name: "scalar − vector over one long row", shapes: [[1_048_583]], fn: (x: Tensor) => tensor(1).sub(x) },
    { name: "many rows with a row operand", shapes: [[16384, 77], [77]], fn: (x: Tensor, b: Tensor) => x.add(b) },
    { name: "few rows with a per-channel operand", shapes: [[1, 3, 600, 601], [3, 1, 1]], fn: (x: Tensor, c: Tensor) => x.mul(c) },
    { name: "broadcast compare, bool output, many walk calls", shapes: [[64, 1, 8192], [1, 4, 1]], fn: (x: Tensor, y: Tensor) => x.greater(y) },
    { name: "where with a bool condition and a scalar", shapes: [[256, 6, 28, 28]], fn: (x: Tensor) => dg.where(x.greater(0), x, 0) },
    { name: "where over a broadcast mask", shapes: [[64, 1, 4096], [64, 4, 4096]], fn: (x: Tensor, g: Tensor) => dg.where(x.less(0.5), g, x) },
  ])("$name: the same bits as one thread", async ({ shapes, fn }) => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    const run = (threads: number, deferred: boolean) => {
      dg.setNumThreads(threads);
      lazy.enabled = deferred;
      return bits((fn as (...xs: Tensor[]) => Tensor)(...shapes.map((s, i) => big(7 + i, s))));
    };
    const two = run(2, false);
    const one = run(1, false);
    expect(two.length).toBe(one.length);
    expect(firstDiff(two, one)).toBe(-1);
    expect(firstDiff(run(2, true), one)).toBe(-1);
    expect(firstDiff(run(1, true), one)).toBe(-1);
  });

  test("jobs handed out while the workers poll for the next one and after they have gone to sleep: the same bits", async () => {
    setBackend("wasm");
    dg.setNumThreads(2);
    expect(await dg.threadsReady()).toBe(2);
    lazy.enabled = false; // two jobs a step (the fused chain would be one)
    const x = big(3, [1_048_583]);
    const once = () => bits(x.mul(1.5).add(x));
    const first = once();
    for (let i = 0; i < 50; i++) expect(firstDiff(once(), first)).toBe(-1); // back to back: the workers are polling
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 20)); // well past the 100 µs poll: asleep in Atomics.wait
      expect(firstDiff(once(), first)).toBe(-1);
    }
    dg.setNumThreads(1);
    expect(firstDiff(once(), first)).toBe(-1);
  });
});

