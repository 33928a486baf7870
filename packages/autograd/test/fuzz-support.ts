/**
 * Shared machinery of the robustness fuzz suites (packages/{autograd,nn,optim}/test/fuzz.test.ts):
 * fast-check arbitraries for tensors of ranks 0–5 and sizes 0–7 with hostile values (NaN, ±∞,
 * −0, subnormals, 1e±20), for axes, shapes and options — mostly valid, sometimes not — and the
 * one oracle every fuzzed call goes through.
 *
 * The oracle: a call either returns a well-formed result (a Tensor whose data length is the
 * product of its shape and whose TypedArray matches its dtype; if it requires gradients, a
 * backward pass through it must succeed and give every leaf a well-formed gradient of its own
 * shape and dtype) or throws a `DeltagradError` whose message names the function. Anything else
 * — a TypeError, a RangeError, an out-of-bounds read that surfaces as `undefined`, a malformed
 * tensor — fails the property, and fast-check prints the seed and the shrunk arguments.
 *
 * Seeds and sizes: `FUZZ_SEED` (default a fixed seed, so CI is reproducible) and `FUZZ_RUNS`
 * (runs per property; the defaults add up to well over 10,000 calls across the three suites).
 */
import fc from "fast-check";
import { DeltagradError, Tensor, tensor, type DType } from "@deltagrad/autograd";

export const FUZZ_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20_260_610;

/** Runs per property: `FUZZ_RUNS` when set, else the suite's default. */
export function runs(defaultRuns: number): number {
  const env = process.env.FUZZ_RUNS;
  return env !== undefined && Number(env) > 0 ? Math.floor(Number(env)) : defaultRuns;
}

/** Calls that went through {@link check} in this process (reported by each suite). */
export const counter = { calls: 0, threw: 0, returned: 0 };

/** fast-check parameters for one property: the shared seed, a property-specific offset, and the run count. */
export function params(name: string, defaultRuns: number): fc.Parameters<unknown> {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) | 0;
  const seed = (FUZZ_SEED + h) | 0;
  return {
    seed,
    numRuns: runs(defaultRuns),
    endOnFailure: false,
    reporter: (out) => {
      if (out.failed) {
        throw new Error(
          `fuzz property "${name}" failed (FUZZ_SEED=${FUZZ_SEED}, property seed ${seed}, path ${JSON.stringify(out.counterexamplePath)}): ` +
            `${(out.errorInstance as Error | undefined)?.message ?? ""}\n${fc.defaultReportMessage(out) ?? ""}`,
        );
      }
    },
  };
}

// ----- values -----

const F32_SUBNORMAL = 1.401298464324817e-45;
/** Hostile values: NaN, ±∞, −0, subnormals (float64 and float32), extremes near overflow. */
export const SPECIALS = [NaN, Infinity, -Infinity, -0, 0, 5e-324, -5e-324, F32_SUBNORMAL, -F32_SUBNORMAL, 1e-40, 1e4, -1e4, 1e20, -1e20, 3.4e38, 1.7976931348623157e308];

/** A deterministic filler so a tensor's values come from one integer seed (cheap to shrink). */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface TensorSpec {
  shape: number[];
  dtype: DType;
  seed: number;
  /** Probability that an element is drawn from {@link SPECIALS}. */
  special: number;
  requiresGrad: boolean;
  /** Range of int32 values (labels) [lo, hi). */
  intRange?: [number, number];
}

export function makeTensor({ shape, dtype, seed, special, requiresGrad, intRange }: TensorSpec): Tensor {
  const rnd = lcg(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === "bool") v[i] = rnd() < 0.5 ? 1 : 0;
    else if (dtype === "int32") {
      const [lo, hi] = intRange ?? [-4, 5];
      v[i] = lo + Math.floor(rnd() * (hi - lo));
    } else v[i] = rnd() < special ? SPECIALS[Math.floor(rnd() * SPECIALS.length)]! : (rnd() * 2 - 1) * 3;
  }
  const data = dtype === "bool" ? Uint8Array.from(v) : dtype === "int32" ? Int32Array.from(v) : dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v);
  const t = tensor(data).reshape(shape);
  // reshape of a leaf that needs no grad is a fresh leaf only when the shape changes; detach either way.
  const leaf = t.detach();
  if (requiresGrad && (dtype === "float32" || dtype === "float64")) leaf.requiresGrad = true;
  return leaf;
}

// ----- arbitraries -----

export const dtypeArb: fc.Arbitrary<DType> = fc.constantFrom<DType>("float32", "float32", "float64", "int32", "bool");
export const floatDTypeArb: fc.Arbitrary<DType> = fc.constantFrom<DType>("float32", "float64");

/** One axis size: mostly 1–3, sometimes 0 (an empty axis), up to 7. */
export const dimArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 4, max: 7 }) });

/** Shapes of rank `minRank`–`maxRank` (default 0–5) with sizes 0–7, at most ~600 elements. */
export function shapeArb(minRank = 0, maxRank = 5): fc.Arbitrary<number[]> {
  return fc.array(dimArb, { minLength: minRank, maxLength: maxRank }).map((s) => {
    // Keep the volume small so thousands of calls stay fast: shrink the largest axes first.
    const out = s.slice();
    while (out.reduce((a, b) => a * b, 1) > 600) {
      const i = out.indexOf(Math.max(...out));
      out[i] = Math.max(1, out[i]! >> 1);
    }
    return out;
  });
}

export interface TensorArbOptions {
  shape?: fc.Arbitrary<number[]>;
  dtype?: fc.Arbitrary<DType>;
  /** Probability of requiresGrad on float tensors (default 0.5). */
  grad?: number;
  intRange?: [number, number];
}

export function tensorSpecArb(o: TensorArbOptions = {}): fc.Arbitrary<TensorSpec> {
  return fc.record({
    shape: o.shape ?? shapeArb(),
    dtype: o.dtype ?? dtypeArb,
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    special: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0.2), fc.constant(1)),
    requiresGrad: fc.double({ min: 0, max: 1, noNaN: true }).map((u) => u < (o.grad ?? 0.5)),
  }).map((s) => ({ ...s, ...(o.intRange ? { intRange: o.intRange } : {}) }));
}

export function tensorArb(o: TensorArbOptions = {}): fc.Arbitrary<Tensor> {
  return tensorSpecArb(o).map(makeTensor);
}

/** Values that are never valid where a tensor, shape, axis or option object is due. */
export const junkArb: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  null,
  undefined,
  "x",
  "",
  "float16",
  true,
  false,
  {},
  [],
  [[]],
  [1, [2]],
  NaN,
  Infinity,
  -Infinity,
  -1,
  -0,
  1.5,
  2 ** 31,
  1e300,
  Symbol("junk"),
  10n,
  () => 1,
  new Float32Array(2),
  { shape: [2], dtype: "float32" },
);

/** An axis: mostly in [−6, 6) (valid for most ranks), sometimes junk. */
export const axisArb: fc.Arbitrary<unknown> = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -6, max: 5 }) }, { weight: 1, arbitrary: junkArb });

/** An `axis` option of a reduction: undefined (all), one axis, or a list (possibly repeated). */
export const axesArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.integer({ min: -6, max: 5 }) },
  { weight: 3, arbitrary: fc.array(fc.integer({ min: -6, max: 5 }), { maxLength: 4 }) },
  { weight: 1, arbitrary: junkArb },
);

/** A user-given shape argument: plausible sizes (−1 included) or junk entries. */
export const shapeArgArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: shapeArb() },
  { weight: 2, arbitrary: fc.array(fc.integer({ min: -2, max: 8 }), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), junkArb), { maxLength: 4 }) },
  { weight: 1, arbitrary: junkArb },
);

/** A number where one is due: small integers, reals, specials, or junk. */
export const numberArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 8 }) },
  { weight: 3, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIALS) },
  { weight: 1, arbitrary: junkArb },
);

/** A small positive integer size, sometimes 0, negative, fractional or junk. */
export const sizeArgArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 2.5, NaN, Infinity) },
  { weight: 1, arbitrary: junkArb },
);

/** Something where a tensor is due: usually a tensor, sometimes junk (null/undefined included). */
export function tensorOrJunk(o: TensorArbOptions = {}): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 12, arbitrary: tensorArb(o) }, { weight: 1, arbitrary: junkArb });
}

/**
 * An options object built from per-key arbitraries; each key may be absent, and sometimes the
 * whole object is junk or carries a key of the wrong type.
 */
export function optionsArb(keys: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const rec = fc.record(keys, { requiredKeys: [] });
  return fc.oneof({ weight: 10, arbitrary: rec }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junkArb });
}

/**
 * Two shapes that broadcast most of the time: the second is the first with leading axes dropped
 * and some sizes set to 1, or (sometimes) an unrelated shape.
 */
export const broadcastShapesArb: fc.Arbitrary<[number[], number[]]> = fc
  .tuple(shapeArb(), fc.integer({ min: 0, max: 5 }), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.boolean(), shapeArb(), fc.integer({ min: 0, max: 9 }))
  .map(([a, drop, ones, swap, other, mode]) => {
    if (mode === 0) return [a, other] as [number[], number[]];
    const b = a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d));
    return (swap ? [b, a] : [a, b]) as [number[], number[]];
  });

/** A pair of tensors with broadcast-compatible shapes (mostly) and random dtypes. */
export function tensorPairArb(o: TensorArbOptions = {}): fc.Arbitrary<[Tensor, Tensor]> {
  return broadcastShapesArb.chain(([sa, sb]) => fc.tuple(tensorArb({ ...o, shape: fc.constant(sa) }), tensorArb({ ...o, shape: fc.constant(sb) })));
}

// ----- argument mutation -----

/**
 * Takes a well-typed argument tuple and, one time in `1/(1+odds)`, replaces one argument with junk —
 * so most calls reach deep into an op and some test its boundary.
 */
export function withJunk(args: fc.Arbitrary<unknown[]>, odds = 5): fc.Arbitrary<unknown[]> {
  return fc
    .tuple(args, fc.option(fc.tuple(fc.nat(), junkArb), { freq: odds, nil: null }))
    .map(([a, j]) => {
      if (!j || a.length === 0) return a;
      const out = a.slice();
      out[j[0] % out.length] = j[1];
      return out;
    });
}

// ----- the oracle -----

const TYPED: Record<DType, new (n: number) => ArrayLike<number>> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
};

/** Describes arguments for a failure message without throwing on symbols or bigints. */
export function show(v: unknown, depth = 0): string {
  if (v instanceof Tensor) return `Tensor(${v.dtype}[${v.shape.join(",")}]${v.requiresGrad ? ",grad" : ""})`;
  if (typeof v === "symbol" || typeof v === "bigint" || typeof v === "function") return String(v);
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (Array.isArray(v)) return depth > 3 ? "[…]" : `[${v.map((x) => show(x, depth + 1)).join(", ")}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (v && typeof v === "object") {
    if (depth > 3) return "{…}";
    return `{${Object.entries(v).map(([k, x]) => `${k}: ${show(x, depth + 1)}`).join(", ")}}`;
  }
  return JSON.stringify(v) ?? String(v);
}

/** Throws unless `t` is a well-formed tensor: a real shape, data of its size, the dtype's TypedArray. */
export function expectWellFormed(what: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${what}: expected a Tensor, got ${show(t)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${what}: malformed shape ${show(t.shape)}`);
  if (!(t.dtype in TYPED)) throw new Error(`${what}: unknown dtype ${show(t.dtype)}`);
  const data = t.dataSync();
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`${what}: data length ${data.length} ≠ product of shape [${t.shape.join(",")}] = ${n}`);
  if (!(data instanceof TYPED[t.dtype])) throw new Error(`${what}: dtype ${t.dtype} stored in a ${data.constructor.name}`);
  return t;
}

/** The leaves (requiresGrad, no node) a tensor's graph reaches. */
function leavesOf(t: Tensor): Tensor[] {
  const out: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    if (x.isLeaf) {
      if (x.requiresGrad) out.push(x);
    } else stack.push(...x.node!.inputs);
  }
  return out;
}

/** Backpropagates ones through a well-formed result and checks each leaf's gradient. */
export function checkBackward(name: string, out: Tensor): void {
  if (!out.requiresGrad) return;
  const leaves = leavesOf(out);
  const before = new Map(leaves.map((l) => [l, l.grad]));
  try {
    out.backward(new Tensor(out.backend.fill(out.dtype, out.size, 1), out.shape, out.dtype, out.backend));
  } catch (e) {
    throw new Error(`${name}: forward succeeded but backward threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack ?? ""}`);
  }
  for (const l of leaves) {
    const g = l.grad;
    if (g === null) continue; // a leaf the output does not reach through a differentiable path
    expectWellFormed(`${name}: gradient`, g);
    if (g.dtype !== l.dtype || g.shape.length !== l.shape.length || g.shape.some((d, i) => d !== l.shape[i])) {
      throw new Error(`${name}: gradient ${g.dtype}[${g.shape}] for a leaf ${l.dtype}[${l.shape}]`);
    }
    l.grad = before.get(l) ?? null;
  }
}

export interface CheckOptions {
  /** Validates a non-tensor result (default: accepted as is). */
  result?: (r: unknown) => void;
  /** Skip the backward pass (default false). */
  noBackward?: boolean;
  /** Names that an error message may start with besides `name` (e.g. a class's method). */
  alsoNamed?: readonly string[];
}

/**
 * Calls `fn(...args)` through the oracle. Returns the result, or `undefined` when it threw a
 * proper {@link DeltagradError}; throws (failing the property) otherwise.
 */
export function check<R>(name: string, fn: (...a: any[]) => R, args: readonly unknown[], o: CheckOptions = {}): R | undefined {
  let r: R;
  try {
    r = fn(...args);
  } catch (e) {
    return threw(name, e, args, o);
  }
  return returned(name, r, o);
}

/** Async twin of {@link check} for functions returning promises (fit, load…). */
export async function checkAsync<R>(name: string, fn: (...a: any[]) => Promise<R>, args: readonly unknown[], o: CheckOptions = {}): Promise<R | undefined> {
  let r: R;
  try {
    r = await fn(...args);
  } catch (e) {
    return threw(name, e, args, o);
  }
  return returned(name, r, o);
}

/** The two outcomes a checked call may have: a proper DeltagradError, or a well-formed result. */
function threw(name: string, e: unknown, args: readonly unknown[], o: CheckOptions): undefined {
  counter.calls++;
  expectDeltagradError(name, e, args, o.alsoNamed);
  counter.threw++;
  return undefined;
}

function returned<R>(name: string, r: R, o: CheckOptions): R {
  counter.calls++;
  counter.returned++;
  validateResult(name, r, o);
  return r;
}

function validateResult(name: string, r: unknown, o: CheckOptions): void {
  if (r instanceof Tensor) {
    expectWellFormed(name, r);
    if (!o.noBackward) checkBackward(name, r);
  } else if (Array.isArray(r) && r.length > 0 && r.every((x) => x instanceof Tensor)) {
    r.forEach((x, i) => expectWellFormed(`${name}[${i}]`, x));
  } else if (o.result) o.result(r);
}

export function expectDeltagradError(name: string, e: unknown, args: readonly unknown[], alsoNamed: readonly string[] = []): void {
  const names = [name, ...alsoNamed];
  if (e instanceof DeltagradError && typeof e.message === "string" && names.some((n) => e.message.includes(n))) return;
  const err = e as Error;
  const kind = e instanceof DeltagradError ? `DeltagradError not naming ${names.join("/")}` : `${err?.name ?? typeof e} (not a DeltagradError)`;
  const wrapped = new Error(`${name}(${args.map((a) => show(a)).join(", ")}) threw ${kind}: ${err?.message ?? String(e)}\n--- original stack ---\n${err?.stack ?? ""}`);
  throw wrapped;
}

/** Builds a property that runs `check(name, fn, args)` for generated argument tuples. */
export function opProperty(name: string, fn: (...a: any[]) => unknown, args: fc.Arbitrary<unknown[]>, o: CheckOptions = {}): fc.IPropertyWithHooks<[unknown[]]> {
  return fc.property(args, (a) => {
    check(name, fn, a, o);
  });
}
