import { describe, expect, test } from "vitest";
import * as dg from "@deltagrad/autograd";
import { exp32 } from "../src/cpu/exp32.js";

// The float32 exp kernel replaces Math.exp by tables and a polynomial; stored as float32 it must
// give Math.exp's value.
describe("cpu exp for float32 results (exp32)", () => {
  test("equals Math.exp rounded to float32 across the whole float32 range", () => {
    let differ = 0;
    let n = 0;
    for (let x = -110; x <= 95; x += 0.000731) {
      const want = Math.fround(Math.exp(x));
      const got = Math.fround(exp32(x));
      n++;
      if (got === want) continue;
      differ++;
      const ulp = Math.abs(Math.fround(want * (1 + 2 ** -23)) - want) || 2 ** -149;
      expect(Math.abs(got - want), `exp32(${x})`).toBeLessThanOrEqual(ulp); // a double-rounding tie at worst
    }
    expect(differ / n).toBeLessThan(1e-5);
  });

  test("float32 inputs near 0 and at the limits", () => {
    const xs = [0, -0, 2 ** -24, -(2 ** -24), 1e-30, Math.fround(Math.LN2), 1, -1, 10, -10, 88.72, 88.7228, 88.73, 89, 100, -87.3, -103.9, -104, -200];
    for (const x of xs) expect(Math.fround(exp32(Math.fround(x))), String(x)).toBe(Math.fround(Math.exp(Math.fround(x))));
    expect(exp32(Infinity)).toBe(Infinity);
    expect(exp32(-Infinity)).toBe(0);
    expect(exp32(NaN)).toBeNaN();
  });

  test("the exp primitive uses it for float32 tensors and keeps Math.exp for float64", () => {
    const xs = [-3.5, -1, 0, 0.5, 2, 20, NaN, Infinity, -Infinity];
    expect(Array.from(dg.tensor(Float32Array.from(xs)).exp().dataSync())).toEqual(xs.map((x) => Math.fround(Math.exp(Math.fround(x)))));
    expect(Array.from(dg.tensor(Float64Array.from(xs)).exp().dataSync())).toEqual(xs.map(Math.exp));
  });
});
