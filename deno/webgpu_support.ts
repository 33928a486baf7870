/**
 * Shared by the webgpu Deno tests: one `initWebGPU()` per file, a skip that says why (never a
 * silent pass), a seeded generator, and `compareOnBackends`, which runs the same function on cpu
 * and on webgpu over the same input values and compares every output after ONE batched read
 * (each GPU wait costs ~11 ms under Deno, so a test reads all its results at once).
 */
import * as dg from "@deltagrad/autograd";
import type { DType, Tensor, TypedArray } from "@deltagrad/autograd";
import { AssertionError } from "./assert.ts";

export const init = await dg.initWebGPU();
/** Deno.test's `ignore` for every webgpu test: true where no adapter exists. */
export const noAdapter = !init.ok;
if (!init.ok) console.log(`skipped: no adapter (${init.reason})`);

/** Runs `fn` with `name` as the active backend, restoring the previous one. */
export function on<T>(name: string, fn: () => T): T {
  const prev = dg.getBackend().name;
  dg.setBackend(name);
  try {
    return fn();
  } finally {
    dg.setBackend(prev);
  }
}

/** {@link on} for async work: `name` stays the active backend until `fn`'s promise settles. */
export async function onAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const prev = dg.getBackend().name;
  dg.setBackend(name);
  try {
    return await fn();
  } finally {
    dg.setBackend(prev);
  }
}

/** mulberry32: a small seeded generator, so every run draws the same shapes and values. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}
export type Rng = ReturnType<typeof rng>;

/** An input: values and shape, created as a tensor on whichever backend is active. */
export interface Input {
  values: TypedArray;
  shape: number[];
  dtype: DType;
}

export function floats(r: Rng, shape: number[], scale = 1, shift = 0): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  return { values: Float32Array.from({ length: n }, () => shift + scale * r.normal()), shape, dtype: "float32" };
}

export function ints(r: Rng, shape: number[], lo: number, hi: number): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  return { values: Int32Array.from({ length: n }, () => r.int(lo, hi)), shape, dtype: "int32" };
}

export function make(i: Input): Tensor {
  return dg.tensor(i.values.slice(), { dtype: i.dtype }).reshape(i.shape);
}

export interface Tol {
  rtol: number;
  atol: number;
}

/** float32 kernels that round once (add, mul, max, movement): GPU and cpu agree to the last bit or one rounding. */
export const EXACTISH: Tol = { rtol: 1e-6, atol: 1e-7 };

export interface Case {
  name: string;
  inputs: Input[];
  fn: (...xs: Tensor[]) => Tensor | Tensor[];
  tol?: Tol;
}

function close(a: number, b: number, tol: Tol): boolean {
  if (Number.isNaN(b)) return Number.isNaN(a);
  if (!Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(b);
}

/**
 * Runs every case on cpu and on webgpu, reads all webgpu outputs in one batch, and throws listing
 * every mismatch (shape, dtype or value beyond the case's tolerance; integers and bools exactly).
 * Returns the number of outputs compared.
 */
export async function compareOnBackends(cases: readonly Case[], tol: Tol = EXACTISH): Promise<number> {
  const expected = cases.map((c) => on("cpu", () => [c.fn(...c.inputs.map(make))].flat()));
  const actual = cases.map((c) => on("webgpu", () => [c.fn(...c.inputs.map(make))].flat()));
  const values = await Promise.all(actual.flat().map((t) => t.data()));
  const errors: string[] = [];
  let k = 0;
  cases.forEach((c, ci) => {
    const t = c.tol ?? tol;
    expected[ci]!.forEach((e, oi) => {
      const a = actual[ci]![oi]!;
      const av = values[k++]!;
      const where = `${c.name}${expected[ci]!.length > 1 ? ` output ${oi}` : ""}`;
      if (a.backend.name !== "webgpu" && e.dtype !== "float64") errors.push(`${where}: ran on ${a.backend.name}, not webgpu`);
      if (JSON.stringify(a.shape) !== JSON.stringify(e.shape) || a.dtype !== e.dtype) {
        errors.push(`${where}: webgpu ${a.dtype}[${a.shape}] vs cpu ${e.dtype}[${e.shape}]`);
        return;
      }
      const ev = e.dataSync();
      const exact = !dg.isFloat(e.dtype);
      for (let i = 0; i < ev.length; i++) {
        if (exact ? av[i] !== ev[i] : !close(av[i]!, ev[i]!, t)) {
          errors.push(`${where} [${e.shape}] ${e.dtype}: at ${i} webgpu ${av[i]} vs cpu ${ev[i]}`);
          return;
        }
      }
    });
  });
  if (errors.length > 0) throw new AssertionError(`${errors.length} mismatches:\n${errors.slice(0, 30).join("\n")}`);
  return k;
}

/** A random shape of rank 0…maxRank with sizes from `sizes` (0 and 1 included by the caller's choice). */
export function shape(r: Rng, maxRank: number, sizes: readonly number[] = [1, 2, 3, 5]): number[] {
  return Array.from({ length: r.int(0, maxRank) }, () => r.pick(sizes));
}

/** A shape that broadcasts to `out`: some leading axes dropped, some axes set to 1. */
export function broadcastable(r: Rng, out: readonly number[]): number[] {
  const drop = r.int(0, out.length);
  return out.slice(drop).map((d) => (r.next() < 0.3 ? 1 : d));
}
