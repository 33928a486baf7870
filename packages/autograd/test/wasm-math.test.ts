/**
 * The f32x4 math generators of src/wasm/math.ts, run in a standalone module: one exported kernel
 * per function maps a float32 array to a float32 array, the tail (n mod 4 elements) going through
 * the same vector code on a partially filled vector.
 *
 * Error measures, against a float64 reference (Math.exp, Math.log, Math.tanh; σ from Math.exp;
 * erf from erf64 below, itself checked against known values to 1e-15):
 * - ulp: |got − ref| / ulp(ref), ulp(y) = 2^(⌊log₂|y|⌋ − 23), 2⁻¹⁴⁹ in the subnormal range — the
 *   error from the exact value, in float32 units;
 * - steps: how many float32 steps got is from ref rounded to float32 (0 = correctly rounded).
 *   Results of ±∞ (overflow) and NaN must match exactly, and zeros in sign.
 * Each sweep asserts the bound in the test name (the measured maximum stated in math.ts, rounded
 * up a little: sweeps here are sparser than the one-off ones behind the measured figures) and
 * at most 1 step.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Code, ModuleBuilder, i32, v128 } from "../src/wasm/emit.js";
import { erf, exp, log, sigmoid, tanh } from "../src/wasm/math.js";

type Gen = (c: Code, x: number) => void;
const NAMES = ["exp", "log", "erf", "tanh", "sigmoid"] as const;
type Name = (typeof NAMES)[number];
const GENS: Record<Name, Gen> = { exp, log, erf, tanh, sigmoid };

// ---- the module ----

/** kernel(src, dst, n): dst[i] = f(src[i]) for i < n, in vectors of 4 plus one partial vector. */
function kernel(gens: readonly Gen[]) {
  return (c: Code) => {
    const [src, dst, n] = [0, 1, 2];
    const i = c.local(i32);
    const n4 = c.local(i32);
    const rem = c.local(i32);
    const x = c.local(v128);
    const y = c.local(v128);
    c.get(n).i32Const(3).i32And().set(rem);
    c.get(n).i32Const(-4).i32And().i32Const(2).i32Shl().set(n4);
    c.for(i, () => c.i32Const(0), () => c.get(n4), 16, () => {
      c.get(src).get(i).i32Add().v128Load().set(x);
      // Several generators: outputs k·n apart (the "all" kernel); one: just dst.
      gens.forEach((g, k) => {
        c.get(dst).get(i).i32Add().get(n).i32Const(k * 4).i32Mul().i32Add();
        g(c, x);
        c.v128Store();
      });
    });
    // Tail: lanes < rem loaded into a zero vector, the same code, lanes < rem stored.
    c.get(rem).if();
    c.v128Zero().set(x);
    for (let l = 0; l < 3; l++) {
      c.get(rem).i32Const(l).i32GtS().if();
      c.get(src).get(n4).i32Add().get(x).v128Load32Lane(l, 4 * l).set(x);
      c.end();
    }
    gens.forEach((g, k) => {
      g(c, x);
      c.set(y);
      for (let l = 0; l < 3; l++) {
        c.get(rem).i32Const(l).i32GtS().if();
        c.get(dst).get(n4).i32Add().get(n).i32Const(k * 4).i32Mul().i32Add().get(y).v128Store32Lane(l, 4 * l);
        c.end();
      }
    });
    c.end();
  };
}

function buildModule(): Uint8Array<ArrayBuffer> {
  const b = new ModuleBuilder();
  for (const name of NAMES) b.func(name, [i32, i32, i32], [], kernel([GENS[name]]));
  b.func("all", [i32, i32, i32], [], kernel(NAMES.map((n) => GENS[n])));
  return b.encode();
}

const bytes = buildModule();
const SIMD = WebAssembly.validate(bytes);
const mem = new WebAssembly.Memory({ initial: 1 });
type Fn = (src: number, dst: number, n: number) => void;
const wasm = SIMD ? (new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem } }).exports as Record<Name | "all", Fn>) : undefined;

/** Runs kernel `name` on xs (rounded to float32); "all" returns the five outputs back to back. */
function run(name: Name | "all", xs: ArrayLike<number>): Float32Array {
  const n = xs.length;
  const outs = name === "all" ? NAMES.length : 1;
  const need = 4 * n * (1 + outs) + 64;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  new Float32Array(mem.buffer, 0, n).set(xs);
  const dst = (4 * n + 15) & ~15;
  wasm![name](0, dst, n);
  return new Float32Array(mem.buffer, dst, n * outs).slice();
}

// ---- references ----

const SQRT_PI = Math.sqrt(Math.PI);

/** a² = hi + lo exactly (Veltkamp split, float64). */
function square(a: number): [number, number] {
  const t = a * 134217729; // 2²⁷ + 1
  const ah = t - (t - a);
  const al = a - ah;
  const hi = a * a;
  return [hi, ah * ah - hi + 2 * ah * al + al * al];
}

/**
 * erf in float64, relative error ~1e-16: for |x| < 2.5 the everywhere-positive series
 * erf x = 2/√π·e^(−x²)·Σₙ 2ⁿx^(2n+1)/(1·3···(2n+1)) (no cancellation); for |x| ≥ 2.5 erfc from
 * the continued fraction erfc x = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), 1 − erfc
 * (erfc < 4.1e-4, so the subtraction loses nothing). e^(−x²) uses x² split exactly in two.
 */
function erf64(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(a)) return NaN;
  if (a === 0) return x; // ±0
  if (a >= 6) return Math.sign(x); // erfc(6) = 2.2e-17
  const [hi, lo] = square(a);
  const g = Math.exp(-hi) * (1 - lo); // e^(−a²), |lo| ≤ 2⁻⁵³·a²
  let r: number;
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; term > sum * 1e-18; n++) {
      term *= (2 * a * a) / (2 * n + 1);
      sum += term;
    }
    r = (2 / SQRT_PI) * g * sum;
  } else {
    let f = a;
    for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - g / SQRT_PI / f;
  }
  return x < 0 ? -r : r;
}

const REF: Record<Name, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  erf: erf64,
  tanh: Math.tanh,
  // e^x/(1 + e^x) for x < 0 keeps the relative accuracy of tiny results.
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
};

// ---- error measures ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u32of64 = new Uint32Array(f64.buffer);

/** Float32 bits of v as a monotone integer (−0 and +0 both 0). */
function ord(v: number): number {
  f32[0] = v;
  const b = u32[0]!;
  return b >= 0x80000000 ? -(b - 0x80000000) : b;
}
function fromBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0]!;
}
/** The float32 next to x (a float32) towards +∞ (dir 1) or −∞ (dir −1). */
function step(x: number, dir: 1 | -1): number {
  const o = ord(x) + dir;
  return fromBits(o >= 0 ? o : 0x80000000 + -o);
}
/** ulp of float32 at the exact value y (float64): 2^(⌊log₂|y|⌋ − 23), at least 2⁻¹⁴⁹. */
function ulp(y: number): number {
  f64[0] = y;
  const e = ((u32of64[1]! >>> 20) & 0x7ff) - 1023;
  return 2 ** (Math.max(e, -126) - 23);
}

interface Stats {
  maxUlp: number;
  maxSteps: number;
  worst: number; // the input of maxUlp
  n: number;
}

/** Compares got[i] with ref(xs[i]); NaN and overflowed results must match exactly. */
function measure(name: Name, xs: Float32Array, got: Float32Array): Stats {
  const ref = REF[name];
  const s: Stats = { maxUlp: 0, maxSteps: 0, worst: NaN, n: xs.length };
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const g = got[i]!;
    const r = ref(x);
    const r32 = Math.fround(r);
    if (Number.isNaN(r) || !Number.isFinite(r32)) {
      if (!Object.is(g, r32)) throw new Error(`${name}(${x}) = ${g}, expected ${r32}`);
      continue;
    }
    if (r32 === 0 && g === 0 && !Object.is(g, r32)) throw new Error(`${name}(${x}) = ${g}: wrong sign of zero`);
    const e = Math.abs(g - r) / ulp(r);
    const st = Math.abs(ord(g) - ord(r32));
    if (!(e <= s.maxUlp)) {
      s.maxUlp = e; // also catches NaN results (e = NaN)
      s.worst = x;
    }
    if (!(st <= s.maxSteps)) s.maxSteps = st;
  }
  return s;
}

/** Asserts one sweep: ulp ≤ bound, steps ≤ 1. */
function check(name: Name, xs: Float32Array, bound: number): Stats {
  const s = measure(name, xs, run(name, xs));
  expect(s.maxUlp, `${name}: max ${s.maxUlp} ulp at x = ${s.worst} (${s.n} inputs)`).toBeLessThanOrEqual(bound);
  expect(s.maxSteps, `${name}: ${s.maxSteps} float32 steps from the rounded reference`).toBeLessThanOrEqual(1);
  return s;
}

// ---- inputs ----

/** Every `stride`-th float32 bit pattern of each sign, NaNs left out, ±∞ kept. */
function bitSweep(stride: number): Float32Array {
  const out: number[] = [];
  for (let b = 0; b <= 0x7f800000; b += stride) {
    const v = fromBits(b);
    out.push(v, -v);
  }
  out.push(Infinity, -Infinity);
  return Float32Array.from(out);
}
/** Float32 values from lo to hi in steps of h (rounded to float32). */
function range(lo: number, hi: number, h: number): Float32Array {
  const n = Math.floor((hi - lo) / h) + 1;
  return Float32Array.from({ length: n }, (_, i) => lo + i * h);
}
/** `k` consecutive float32 values on either side of each of `centers`. */
function around(centers: readonly number[], k: number): Float32Array {
  const out: number[] = [];
  for (const c of centers) {
    let lo = Math.fround(c);
    for (let j = 0; j < k; j++) lo = step(lo, -1);
    for (let j = 0, v = lo; j <= 2 * k; j++, v = step(v, 1)) out.push(v);
  }
  return Float32Array.from(out);
}
const cat = (...as: Float32Array[]) => {
  const out = new Float32Array(as.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of as) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};
/** The first float32 in [lo, hi] where pred(fround(ref(x))) holds (pred false at lo, true at hi). */
function edge(name: Name, lo: number, hi: number, pred: (y: number) => boolean): number {
  let a = ord(lo);
  let b = ord(hi);
  const at = (o: number) => pred(Math.fround(REF[name](fromBits(o >= 0 ? o : 0x80000000 + -o))));
  expect(at(a)).toBe(false);
  expect(at(b)).toBe(true);
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (at(m)) b = m;
    else a = m;
  }
  return fromBits(b >= 0 ? b : 0x80000000 + -b);
}

/** Range-reduction boundaries: where round(x/ln2) changes, and e^(2x) for tanh, e^(−|x|) for σ. */
const expBreaks = (scale: number, lo: number, hi: number) =>
  Array.from({ length: Math.floor((hi - lo) / Math.LN2) + 1 }, (_, k) => ((Math.ceil(lo / Math.LN2) + k + 0.5) * Math.LN2) / scale);

/** Per function: the measured and asserted bounds in ulp, dense sweep regions, thresholds. */
interface Spec {
  measured: number; // max ulp seen in one-off sweeps 4–8× denser than these (math.ts)
  bound: number; // asserted here
  regions: string; // what dense() covers
  dense: () => Float32Array;
  edges: () => number[]; // thresholds: each is tested with its neighbours, both signs
}
const SPEC: Record<Name, Spec> = {
  exp: {
    measured: 0.89,
    bound: 0.9,
    regions: "[−1, 1] by 2⁻¹⁸, [−104, 89] by 2⁻¹², 129 floats around each switch of round(x/ln2)",
    dense: () => cat(range(-1, 1, 2 ** -18), range(-104, 89, 2 ** -12), around(expBreaks(1, -104, 89).filter((x) => x < 89), 64)),
    edges: () => [
      edge("exp", 88, 89, (y) => y === Infinity), // overflow
      edge("exp", -110, -100, (y) => y > 0), // underflow to 0
      edge("exp", -110, -80, (y) => y >= 2 ** -126), // subnormal results below
    ],
  },
  log: {
    measured: 0.84,
    bound: 0.85,
    regions: "every 5th float in [0.5, 2), subnormals, 65 floats around each √½·2ᵏ",
    dense: () => {
      const out: number[] = [];
      for (let b = 0x3f000000; b < 0x40000000; b += 5) out.push(fromBits(b)); // [0.5, 2), every 5th float32
      for (let b = 1; b < 0x00800000; b += 4099) out.push(fromBits(b)); // subnormals
      return cat(Float32Array.from(out), around(Array.from({ length: 280 }, (_, k) => Math.SQRT1_2 * 2 ** (k - 150)), 32));
    },
    edges: () => [1, 2 ** -126, 2 ** -149, 3.4028234663852886e38, 2, 0.5, Math.fround(Math.SQRT1_2), Math.fround(Math.SQRT2)],
  },
  erf: {
    measured: 1.26,
    bound: 1.3,
    regions: "[−1, 1] by 2⁻¹⁹, [1, 4.5] by 2⁻¹⁸, 8193 floats around ±1 (the branch switch)",
    dense: () => cat(range(-1, 1, 2 ** -19), range(1, 4.5, 2 ** -18), around([1, -1], 4096)),
    edges: () => [edge("erf", 3, 5, (y) => y === 1), 1, 4, 1e-30, 2 ** -126, 2 ** -149],
  },
  tanh: {
    measured: 1.06,
    bound: 1.1,
    regions: "[−1, 1] by 2⁻¹⁹, [0.75, 9.5] by 2⁻¹⁷, around ±0.75 (the branch switch) and each switch of round(2x/ln2)",
    dense: () => cat(range(-1, 1, 2 ** -19), range(0.75, 9.5, 2 ** -17), around([0.75, -0.75], 4096), around(expBreaks(2, 0.75, 9.5), 64)),
    edges: () => [edge("tanh", 5, 10, (y) => y === 1), 0.75, 2 ** -126, 2 ** -149],
  },
  sigmoid: {
    measured: 1.16,
    bound: 1.2,
    regions: "[−20, 20] by 2⁻¹⁵, [−104, −20] by 2⁻¹¹, around each switch of round(x/ln2)",
    dense: () => cat(range(-20, 20, 2 ** -15), range(-104, -20, 2 ** -11), around(expBreaks(1, 0, 104).flatMap((x) => [x, -x]), 64)),
    edges: () => [
      edge("sigmoid", 10, 20, (y) => y === 1), // rounds to 1 from here
      edge("sigmoid", -110, -100, (y) => y > 0), // underflow to 0
      edge("sigmoid", -110, -80, (y) => y >= 2 ** -126), // subnormal results below
      -100,
    ],
  },
};

/** The measured maxima (denser one-off sweeps, see math.ts), also in the test names. */
const MEASURED_TEXT = NAMES.map((n) => `${n} ${SPEC[n].measured}`).join(", ");

// ---- tests ----

describe.skipIf(!SIMD)(`wasm f32x4 math (max error ${MEASURED_TEXT} ulp; ≤ 1 float32 step from the rounded reference)`, () => {
  test("the erf reference matches known values to 1e-15", () => {
    // mpmath, 30 digits.
    const known: [number, number][] = [
      [1e-10, 1.1283791670955126e-10],
      [0.1, 0.1124629160182848922],
      [0.5, 0.5204998778130465377],
      [1, 0.8427007929497148693],
      [1.5, 0.9661051464753107271],
      [2, 0.9953222650189527342],
      [2.4999, 0.9995928300996665491],
      [2.5, 0.9995930479825550411],
      [3, 0.9999779095030014146],
      [4, 0.9999999845827420997],
      [-0.75, -0.7111556336535151316],
      [5, 0.9999999999984625402],
    ];
    for (const [x, want] of known) expect(Math.abs(erf64(x) - want), `erf64(${x})`).toBeLessThanOrEqual(1e-15 * Math.abs(want));
  });

  for (const name of NAMES) {
    const spec = SPEC[name];
    describe(`${name} (measured max ${spec.measured} ulp, asserted ≤ ${spec.bound})`, () => {
      test("special values", () => {
        const xs = [0, -0, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -149), 2 ** -126, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1];
        const got = run(name, xs);
        xs.forEach((x, i) => {
          const want = Math.fround(REF[name](x));
          if (Number.isNaN(want) || !Number.isFinite(want) || want === 0 || Math.abs(want) === 1) expect(got[i], `${name}(${x})`).toBe(want);
        });
        check(name, Float32Array.from(xs.filter((x) => !Number.isNaN(x))), spec.bound);
      });

      test("thresholds and one float32 step either side", () => {
        const es = spec.edges().map(Math.fround);
        const xs = es.flatMap((e) => [step(e, -1), e, step(e, 1), -step(e, -1), -e, -step(e, 1)]);
        // (At a threshold itself the result may be the neighbour of 1 or 0 within the bound; ±∞
        // and NaN must match exactly, which measure() checks.)
        check(name, Float32Array.from(xs), spec.bound);
      });

      test(`whole float32 range, every 4099th bit pattern (≤ ${spec.bound} ulp)`, () => {
        check(name, bitSweep(4099), spec.bound);
      });

      test(`dense sweeps: ${spec.regions} (≤ ${spec.bound} ulp)`, () => {
        check(name, spec.dense(), spec.bound);
      });

      test(`random float32 inputs (fast-check, ≤ ${spec.bound} ulp)`, () => {
        fc.assert(
          fc.property(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 64 }), (xs) => {
            const a = Float32Array.from(xs);
            const s = measure(name, a, run(name, a));
            return s.maxUlp <= spec.bound && s.maxSteps <= 1;
          }),
          { numRuns: 300 },
        );
      });
    });
  }

  test("every length 0…9 (the tail) and all five generators in one body give the same bits", () => {
    const xs = Float32Array.from([-3.5, -0.25, 0, 0.5, 1, 2.75, 10, -100, 1e-20]);
    const whole = NAMES.map((name) => run(name, xs));
    for (let n = 0; n <= xs.length; n++) {
      const part = xs.subarray(0, n);
      NAMES.forEach((name, k) => expect(run(name, part)).toEqual(whole[k]!.subarray(0, n)));
      const all = run("all", part);
      NAMES.forEach((_, k) => expect(all.subarray(k * n, (k + 1) * n)).toEqual(whole[k]!.subarray(0, n)));
    }
  });

  test("σ(−100) is the subnormal e⁻¹⁰⁰/(1 + e⁻¹⁰⁰) ≈ 3.72e-44, σ(±large) is 0 or 1, exp/log/erf/tanh at a glance", () => {
    expect(run("sigmoid", [-100])[0]).toBe(Math.fround(Math.exp(-100))); // 27·2⁻¹⁴⁹
    expect(Array.from(run("sigmoid", [-1e30, -200, 20, 1e30]))).toEqual([0, 0, 1, 1]);
    expect(Array.from(run("exp", [0, 1, -1, 100, -120]))).toEqual([1, Math.fround(Math.E), Math.fround(1 / Math.E), Infinity, 0]);
    expect(Array.from(run("log", [1, Math.E, 2 ** -149, -1]))).toEqual([0, 1, Math.fround(-149 * Math.LN2), NaN]);
    expect(Array.from(run("erf", [-10, 10]))).toEqual([-1, 1]);
    // erf(1e-30) = 1.128e-30, here 0.53 ulp from exact: the float32 above the rounded value.
    expect(Math.abs(ord(run("erf", [1e-30])[0]!) - ord((2 / SQRT_PI) * Math.fround(1e-30)))).toBeLessThanOrEqual(1);
    expect(Array.from(run("tanh", [-10, 1e-30, 10]))).toEqual([-1, Math.fround(1e-30), 1]);
  });

  test("scratch locals are declared once per body", () => {
    const counts: Record<string, number> = {};
    for (const name of NAMES) {
      const c = new Code(0);
      const x = c.local(v128);
      GENS[name](c, x);
      const first = c.local(v128) - x - 1;
      GENS[name](c, x);
      GENS[name](c, x);
      counts[name] = c.local(v128) - x - 2;
      expect(counts[name]).toBe(first);
    }
    expect(counts).toEqual({ exp: 11, log: 10, erf: 17, tanh: 15, sigmoid: 17 });
  });
});

describe("the emitter's imported functions", () => {
  test("a module calls an import like its own function; imports come before every definition", () => {
    // twice(x) = add(x, x), add imported from another module's instance.
    const lib = new ModuleBuilder().func("add", [i32, i32], [i32], (c) => void c.get(0).get(1).i32Add()).encode();
    const mem = new WebAssembly.Memory({ initial: 1 });
    const add = new WebAssembly.Instance(new WebAssembly.Module(lib), { env: { mem } }).exports.add;
    const b = new ModuleBuilder().importFunc("k", "add", [i32, i32], [i32]);
    b.func("inner", [i32], [i32], (c) => void c.get(0).get(0).call(b.indexOf("add")), false);
    b.func("twice", [i32], [i32], (c) => void c.get(0).call(b.indexOf("inner")));
    const twice = new WebAssembly.Instance(new WebAssembly.Module(b.encode()), { env: { mem }, k: { add } }).exports.twice as (x: number) => number;
    expect(twice(21)).toBe(42);
    expect(b.indexOf("add")).toBe(0);
    expect(b.indexOf("twice")).toBe(2);
    expect(() => b.importFunc("k", "late", [], [])).toThrow(/import k\.late after a function was defined/);
    expect(() => new ModuleBuilder().importFunc("k", "f", [], []).importFunc("m", "f", [], [])).toThrow(/function f imported twice/);
  });
});
