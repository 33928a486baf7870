/**
 * One-element float32 results of the elementwise kernels are HostScalars (numbers), not typed
 * arrays (backend.ts). They must give the same bits as the loops that compute every larger
 * result, and once anything has taken their array (`handle`, an in-place write), that array is
 * the value.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { BINARY_KERNELS, UNARY_KERNELS, cpuBackend, tensor } from "@deltagrad/autograd";
import { HostScalar } from "../src/backend.js";

/** float32 values with the specials: NaN, ±0, ±∞, the largest and the smallest. */
const f32 = fc.oneof(fc.float({ noDefaultInfinity: false }), fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, 3.4028234663852886e38, 1.401298464324817e-45, -1e-45));

const bits = (v: number) => (Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : String(v));

describe("HostScalar", () => {
  test.prop([fc.constantFrom(...UNARY_KERNELS), f32])("a unary kernel's one-element result has the bits of its loop's", (op, v) => {
    const one = cpuBackend.unary(op, Float32Array.of(v), "float32", 1);
    expect(one).toBeInstanceOf(HostScalar);
    // The loop runs on two elements: the same value twice.
    const loop = cpuBackend.readSync(cpuBackend.unary(op, Float32Array.of(v, v), "float32", 2), "float32", 2);
    expect(bits((one as HostScalar).value())).toBe(bits(loop[0]!));
  });

  test.prop([fc.constantFrom(...BINARY_KERNELS), f32, f32])("a binary kernel's one-element result has the bits of its loop's", (op, x, y) => {
    const one = cpuBackend.binary(op, Float32Array.of(x), [], new HostScalar(Math.fround(y)), [], [], "float32");
    expect(one).toBeInstanceOf(HostScalar);
    const loop = cpuBackend.readSync(cpuBackend.binary(op, Float32Array.of(x, x), [2], Float32Array.of(y, y), [2], [2], "float32"), "float32", 2);
    expect(bits((one as HostScalar).value())).toBe(bits(loop[0]!));
  });

  it("rounds a filled value to float32 as a Float32Array store does, -0 included", () => {
    for (const v of [0.1, -0, 1e40, NaN]) expect(bits((cpuBackend.fill("float32", 1, v) as HostScalar).value())).toBe(bits(Float32Array.of(v)[0]!));
    expect(cpuBackend.fill("float64", 1, 0.1)).toBeInstanceOf(Float64Array); // float32 only
  });

  it("is a number on the way, an array once anything takes one, and that array is the value", () => {
    const x = tensor(2).mul(3); // a HostScalar inside
    const arr = x.handle as Float32Array; // every reader but the elementwise kernels gets an array
    expect(arr).toBeInstanceOf(Float32Array);
    expect(x.handle).toBe(arr); // the same one each time
    arr[0] = 5; // an in-place write (as an optimizer's)
    expect(x.itemSync()).toBe(5);
    expect(x.mul(2).itemSync()).toBe(10);
    expect(x.detach().add(1).itemSync()).toBe(6); // a detached copy shares the storage
  });

  it("keeps a scalar graph's values and gradients those of the typed-array path", () => {
    // The lecture's sigmoid neuron, once on scalars and once on two-element vectors (typed arrays)
    // holding the same values twice: each element's gradient is its own.
    const run = (n: number) => {
      const v = (c: number) => (n === 0 ? tensor(c) : tensor(Array.from({ length: n }, () => c)));
      const x = v(1);
      const w = v(0.5);
      const b = v(-0.25);
      w.requiresGrad = true;
      b.requiresGrad = true;
      const y = w.mul(x).add(b).neg().exp().add(1).reciprocal();
      y.sum().backward();
      return [y, w.grad!, b.grad!].map((t) => t.dataSync()[0]);
    };
    expect(run(0)).toEqual(run(2));
  });
});
