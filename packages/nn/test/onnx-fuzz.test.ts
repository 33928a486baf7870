/**
 * The importer on hostile bytes: fast-check mutates and truncates real ONNX files (PyTorch's
 * CNN, a file deltagrad exported, and hand-made small graphs). The only acceptable outcomes are
 * a model that runs (or refuses an input) with DeltagradError, or a DeltagradError at import —
 * never another exception, and never a hang (each case is timed).
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, manualSeed } from "@deltagrad/autograd";
import { MLP } from "@deltagrad/nn";
import { exportOnnx, importOnnx } from "@deltagrad/nn/onnx";
import { decodeModel } from "../src/onnx/proto.js";
import { floatInit, handModel, int64Init } from "./onnx-support.js";

const cnn = new Uint8Array(readFileSync(new URL("./fixtures/onnx/cnn.onnx", import.meta.url)));
manualSeed(3);
const ours = exportOnnx(new MLP([6, 5, 3]).eval(), ag.zeros([2, 6]), { dynamicAxes: { x: { 0: "batch" }, y: { 0: "batch" } } });
const small = handModel({
  nodes: [
    { op: "Reshape", inputs: ["x", "s"] }, { op: "Pad", inputs: ["t0", "p"], attrs: { mode: "constant" } },
    { op: "Gemm", inputs: ["t1", "w", "b"], attrs: { transB: 1, alpha: { float: 0.5 } } }, { op: "Softmax", inputs: ["t2"], attrs: { axis: 1 } },
  ],
  inits: [int64Init("s", [0, -1]), int64Init("p", [0, 1, 0, 1]), floatInit("w", [3, 6]), floatInit("b", [3])],
});

/** Imports `bytes`; if that works, runs it on zeros of the declared shape. Anything but DeltagradError fails. */
function attempt(bytes: Uint8Array): "imported" | "refused" {
  const started = Date.now();
  try {
    const m = importOnnx(bytes);
    const dims = decodeModel(bytes).graph.inputs[0]?.dims;
    if (dims && dims.every((d) => d !== null)) {
      try {
        ag.noGrad(() => m.run([ag.zeros(dims.map((d) => (typeof d === "number" ? Math.min(d, 64) : 2)))]));
      } catch (e) {
        if (!(e instanceof DeltagradError)) throw e;
      }
    }
    return "imported";
  } catch (e) {
    if (!(e instanceof DeltagradError)) throw new Error(`not a DeltagradError: ${(e as Error)?.stack ?? String(e)}`);
    return "refused";
  } finally {
    expect(Date.now() - started).toBeLessThan(5_000);
  }
}

const mutation = (base: Uint8Array) =>
  fc.oneof(
    fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = base.slice();
      for (const [i, v] of edits) b[i] = v;
      return b;
    }),
    fc.nat(base.length).map((n) => base.slice(0, n)),
    fc.tuple(fc.nat(base.length), fc.uint8Array({ minLength: 1, maxLength: 12 })).map(([at, junk]) => {
      const b = new Uint8Array(base.length + junk.length);
      b.set(base.subarray(0, at));
      b.set(junk, at);
      b.set(base.subarray(at), at + junk.length);
      return b;
    }),
  );

describe("importOnnx on mutated and truncated files: DeltagradError or a working model, nothing else", () => {
  for (const [name, base, runs] of [["PyTorch's cnn.onnx", cnn, 150], ["an exported MLP", ours, 150], ["a small Reshape/Pad/Gemm/Softmax graph", small, 300]] as const) {
    it(name, () => {
      expect(attempt(base)).toBe("imported");
      const seen = { imported: 0, refused: 0 };
      fc.assert(fc.property(mutation(base), (bytes) => { seen[attempt(bytes)]++; }), { numRuns: Number(process.env.ONNX_FUZZ_RUNS ?? runs), seed: Number(process.env.ONNX_FUZZ_SEED ?? 24) });
      expect(seen.refused).toBeGreaterThan(0); // the mutations do reach the error paths
    });
  }

  it("random bytes and empty input", () => {
    expect(attempt(new Uint8Array(0))).toBe("refused");
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { attempt(b); }), { numRuns: 300, seed: 5 });
  });
});
