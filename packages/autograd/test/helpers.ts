/**
 * Test support: plain float64 reference implementations (written independently of the kernels:
 * index arithmetic on number[], no TypedArray loops shared with src/) and fast-check arbitraries
 * for shapes, broadcasting pairs and values.
 */
import fc from "fast-check";
import { Generator, tensor, type Tensor } from "@deltagrad/autograd";

export type Shape = number[];

export interface Ref {
  values: number[];
  shape: Shape;
}

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d]! + idx[d]!;
  return i;
}

/** NumPy broadcasting, written out directly. */
export function refBroadcastShape(...shapes: Shape[]): Shape {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => s[i - (rank - s.length)] ?? 1)));
}

/** Value of a broadcast operand at an output index. */
export function at(r: Ref, outIdx: number[]): number {
  const lead = outIdx.length - r.shape.length;
  const idx = r.shape.map((d, i) => (d === 1 ? 0 : outIdx[i + lead]!));
  return r.values[ravel(idx, r.shape)]!;
}

export function refMap(f: (...v: number[]) => number, ...xs: Ref[]): Ref {
  const shape = refBroadcastShape(...xs.map((x) => x.shape));
  const values = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(...xs.map((x) => at(x, idx)));
  });
  return { values, shape };
}

/** Groups the elements of `x` by their index outside `axes`; `f` reduces each group. */
export function refReduce(x: Ref, axes: number[], keepDims: boolean, f: (group: number[]) => number): Ref {
  const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: size(outShapeKeep) }, () => []);
  x.values.forEach((v, i) => {
    const idx = unravel(i, x.shape).map((d, k) => (axes.includes(k) ? 0 : d));
    groups[ravel(idx, outShapeKeep)]!.push(v);
  });
  const shape = keepDims ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i));
  return { values: groups.map(f), shape };
}

/** Applies `f` to every 1-D lane along `axis` (softmax, cumsum). */
export function refLanes(x: Ref, axis: number, f: (lane: number[]) => number[]): Ref {
  const out = x.values.slice();
  const n = x.shape[axis]!;
  const lanes = new Map<number, number[]>();
  x.values.forEach((_, i) => {
    const idx = unravel(i, x.shape);
    idx[axis] = 0;
    const key = ravel(idx, x.shape);
    if (!lanes.has(key)) lanes.set(key, Array.from({ length: n }, (_, j) => ravel(idx.map((d, k) => (k === axis ? j : d)), x.shape)));
  });
  for (const positions of lanes.values()) {
    const r = f(positions.map((p) => x.values[p]!));
    positions.forEach((p, j) => (out[p] = r[j]!));
  }
  return { values: out, shape: x.shape.slice() };
}

export function refMatmul(a: Ref, b: Ref): Ref {
  const [m, k] = [a.shape[a.shape.length - 2]!, a.shape[a.shape.length - 1]!];
  const n = b.shape[b.shape.length - 1]!;
  const batch = refBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const values = Array.from({ length: size(shape) }, (_, o) => {
    const idx = unravel(o, shape);
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let p = 0; p < k; p++) s += at(a, [...bi, i, p]) * at(b, [...bi, p, j]);
    return s;
  });
  return { values, shape };
}

/** Deterministic values in [lo, hi] for a shape, from a seed. */
export function values(shape: Shape, seed: number, lo = -2, hi = 2): number[] {
  const g = new Generator(seed);
  return Array.from({ length: size(shape) }, () => lo + (hi - lo) * g.uniform());
}

/** Values kept at least `gap` away from each point in `kinks` (for relu, abs, clamp…). */
export function valuesAway(shape: Shape, seed: number, kinks: number[], gap = 0.05, lo = -2, hi = 2): number[] {
  return values(shape, seed, lo, hi).map((v) => {
    for (const k of kinks) if (Math.abs(v - k) < gap) return v >= k ? k + gap : k - gap;
    return v;
  });
}

export function t64(vals: number[], shape: Shape, requiresGrad = true): Tensor {
  return tensor(Float64Array.from(vals), { dtype: "float64" }).reshape(shape).detach().requiresGrad_(requiresGrad);
}

export const ref = (vals: number[], shape: Shape): Ref => ({ values: vals, shape });

// ---- arbitraries ----

/** A shape of rank 0–3 with sizes 1–4. */
export const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 });

/** Two shapes that broadcast: some axes set to 1 and some leading axes dropped, either side. */
export const broadcastPairArb = fc
  .tuple(shapeArb, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.nat(3), fc.boolean())
  .map(([s, ones, drop, swap]) => {
    const other = s.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, s.length));
    return (swap ? [other, s] : [s, other]) as [Shape, Shape];
  });

/** The HIPS-autograd shape sweep: scalars, vectors, matrices, size-1 axes. */
export const SHAPE_PAIRS: [Shape, Shape][] = [
  [[], []],
  [[], [4]],
  [[4], []],
  [[4], [4]],
  [[3, 4], [4]],
  [[3, 4], [1, 4]],
  [[3, 1], [1, 4]],
  [[1], [3, 4]],
  [[2, 3, 4], [3, 1]],
];

export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** Random axes (possibly negative) of a shape, or undefined for all. */
export function axesArb(rank: number): fc.Arbitrary<number[] | undefined> {
  if (rank === 0) return fc.constant(undefined);
  return fc.option(fc.subarray(Array.from({ length: rank }, (_, i) => i), { minLength: 1 }).chain((axes) => fc.constant(axes)), { nil: undefined });
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9, what = ""): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) throw new Error(`${what}: element ${i} is ${a}, expected ${e} (tol ${tol})`);
  }
}
