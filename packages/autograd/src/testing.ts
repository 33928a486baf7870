/**
 * Vitest (or Jest) matchers for deltagrad tensors. Register once:
 *
 * @example
 * ```ts
 * import { expect } from "vitest";
 * import { matchers } from "@deltagrad/autograd/testing";
 * expect.extend(matchers);
 * expect(tensor([1, 2])).toBeAllClose([1, 2.0000001]);
 * expect((x: Tensor) => x.sigmoid()).toHaveValidGradients([randn([3], { dtype: "float64", requiresGrad: true })]);
 * ```
 *
 * @module @deltagrad/autograd/testing
 */
import type {} from "vitest";
import { gradcheck, type GradcheckOptions } from "./gradcheck.js";
import type { Tensor } from "./tensor.js";
import { isTensor } from "./is-tensor.js";
import { DeltagradError } from "./errors.js";

export interface AllCloseOptions {
  atol?: number;
  rtol?: number;
}

interface MatcherResult {
  pass: boolean;
  message: () => string;
}

type Expected = Tensor | number | readonly unknown[] | ArrayLike<number>;

function flatten(v: Expected): { values: number[]; shape: number[] | null } {
  if (isTensor(v)) return { values: Array.from(v.dataSync()), shape: v.shape.slice() };
  if (typeof v === "number") return { values: [v], shape: null };
  const out: number[] = [];
  const walk = (x: unknown): void => {
    if (typeof x === "number" || typeof x === "boolean") out.push(Number(x));
    else if (Array.isArray(x) || ArrayBuffer.isView(x)) for (const e of Array.from(x as ArrayLike<unknown>)) walk(e);
    else out.push(NaN);
  };
  walk(v);
  return { values: out, shape: null };
}

/**
 * Elementwise |actual − expected| ≤ atol + rtol·|expected| (NaN equals NaN, ±∞ must match), with
 * the worst element in the failure message. Shapes must match when both sides are tensors.
 *
 * @example
 * ```ts
 * allClose(tensor([1, 2]), [1, 2]); // { ok: true, … }
 * ```
 */
export function allClose(actual: Tensor | Expected, expected: Expected, { atol = 1e-6, rtol = 1e-5 }: AllCloseOptions = {}) {
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.shape && e.shape && a.shape.join(",") !== e.shape.join(",")) {
    return { ok: false, message: `shape [${a.shape}] differs from expected [${e.shape}]` };
  }
  if (e.values.length === 1 && a.values.length !== 1) e.values = new Array(a.values.length).fill(e.values[0]);
  if (a.values.length !== e.values.length) return { ok: false, message: `${a.values.length} elements, expected ${e.values.length}` };
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i]!;
    const y = e.values[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return { ok: false, message: `element ${i} is ${x}, expected ${y}` };
      continue;
    }
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= worstExcess) || (excess > 0 && worst < 0)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0 && worstExcess > 0) {
    return { ok: false, message: `element ${worst} is ${a.values[worst]}, expected ${e.values[worst]} (|diff| ${Math.abs(a.values[worst]! - e.values[worst]!)}, atol ${atol}, rtol ${rtol})` };
  }
  return { ok: true, message: "all elements close" };
}

/**
 * The matchers object for `expect.extend`.
 *
 * @example
 * ```ts
 * expect.extend(matchers); expect(tensor([1])).toBeAllClose([1]);
 * ```
 */
export const matchers = {
  /** `expect(t).toBeAllClose(expected, { atol, rtol })`. */
  toBeAllClose(received: Tensor, expected: Expected, opts: AllCloseOptions = {}): MatcherResult {
    const r = allClose(received, expected, opts);
    return { pass: r.ok, message: () => (r.ok ? "expected tensors not to be close" : `expected tensors to be close: ${r.message}`) };
  },
  /** `expect(f).toHaveValidGradients(inputs, gradcheckOptions)`: runs {@link gradcheck}. */
  toHaveValidGradients(received: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): MatcherResult {
    try {
      gradcheck(received, inputs, opts);
      return { pass: true, message: () => "expected gradients to be invalid" };
    } catch (e) {
      return { pass: false, message: () => (e as Error).message };
    }
  },
};

/**
 * The message of the {@link DeltagradError} that `f` throws. Anything else thrown, or nothing
 * thrown, fails with an Error saying so — the helper every package's error-message tests share.
 *
 * @example
 * ```ts
 * expect(errorOf(() => matmul(zeros([2, 3]), zeros([4, 5])))).toMatch(/^matmul: /);
 * ```
 */
export function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof DeltagradError) return e.message;
    throw new Error(`expected a DeltagradError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  throw new Error("expected a DeltagradError, but nothing was thrown");
}

/**
 * An independent erf reference for tests: Simpson integration of 2/√π·e^(−t²) on [0, x] with
 * 2,000 panels (error ≪ 1e-12 for |x| ≤ 6), sharing no code with the library's erf.
 *
 * @example
 * ```ts
 * erfRef(1); // 0.8427007929497149
 * ```
 */
export function erfRef(x: number): number {
  const n = 2000;
  const h = x / n;
  let s = 0;
  for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

declare module "vitest" {
  interface Assertion<T> {
    toBeAllClose(expected: Expected, opts?: AllCloseOptions): T;
    toHaveValidGradients(inputs: Tensor[], opts?: GradcheckOptions): T;
  }
  interface AsymmetricMatchersContaining {
    toBeAllClose(expected: Expected, opts?: AllCloseOptions): unknown;
  }
}
