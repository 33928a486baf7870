/**
 * Which recorded ops fuse (wasm backend, float32): maximal runs of consecutive schedule entries
 * that are elementwise unary ops or add/mul/maximum, whose operands are either of the run's own
 * shape (no broadcasting) or one-element scalars, over at least SMALL_BYTES of data: one
 * generated SIMD kernel (wasm/fuse.ts). Runs over smaller tensors (which live on the JS heap and
 * take the cpu kernels) become one generated JavaScript loop (small.ts). Consecutive in the schedule means every
 * operand from outside the run is ready before it starts and every value it makes for later
 * entries exists when it ends, so the run is one kernel call. A run's outputs are the values
 * read after it (or kept: results, writes, gradients); the others never touch memory.
 */
import { sizeOf } from "../shape.js";
import { fusedKernel, fusible, fusibleCompare, type FusedKernel, type FusedSpec } from "../wasm/fuse.js";
import type { RecNode, Value } from "./record.js";
import { hostRun, type HostRun } from "./small.js";

/** A fused run of nodes `[start, end)` of the schedule. */
export interface FusedGroup {
  readonly start: number;
  readonly end: number;
  /** The run covers rows × m elements (m: a row operand's size, or all of it). */
  readonly rows: number;
  readonly m: number;
  readonly outBytes: number[];
  /** Values read from outside: vectors (wasm buffers), scalars (one-element host arrays). */
  readonly vecIds: number[];
  readonly scalarIds: number[];
  /** Values stored for later use; `internal` are the ones that stay in registers. */
  readonly outIds: number[];
  readonly internal: number[];
  /** The generated SIMD kernel (wasm memory operands), or, for a run of small tensors, the generated JavaScript loop. */
  readonly spec: FusedSpec | null;
  readonly kernel: FusedKernel | null;
  readonly host: HostRun | null;
}

const MIN_ELEMENTS = 1024; // wasm/placement.ts's SMALL_BYTES of float32

/**
 * The schedule with every scalar op (one-element inputs and output: lr·bias-correction
 * arithmetic) moved up to just after its last operand is made, so it does not split the vector
 * run around it (an Adam update would be cut in two at `div(·, scalar)`'s reciprocal). Pure ops
 * in a dependency order: the values are the same.
 *
 * @example `hoistScalars(nodes, values); // lr·bias-correction ops moved ahead of the vector run`
 */
export function hoistScalars(nodes: readonly RecNode[], values: readonly Value[]): RecNode[] {
  const one = (id: number) => sizeOf(values[id]!.shape) === 1;
  const out: RecNode[] = [];
  for (const n of nodes) {
    if (!one(n.output) || !n.inputs.every(one)) {
      out.push(n);
      continue;
    }
    let at = 0;
    for (let k = out.length - 1; k >= 0; k--) {
      if (n.inputs.includes(out[k]!.output)) {
        at = k + 1;
        break;
      }
    }
    out.splice(at, 0, n);
  }
  return out;
}

/** How a node's operand enters a fused run: full (the run's shape), a trailing-axes row broadcast, or a scalar. */
type Role = "full" | "row" | "chan" | "scalar";

/** What the fused kernel computes for a node, with the dtype each input must have; null when it does not fuse. */
function fusedOp(n: RecNode, values: readonly Value[]): { op: string; ins: string[] } | null {
  const out = values[n.output]!.dtype;
  const attrs = n.attrs as { op?: string; dtype?: string } | null;
  if (n.op === "compare") return out === "bool" && fusibleCompare(attrs!.op!) ? { op: `cmp:${attrs!.op}`, ins: ["float32", "float32"] } : null;
  if (out !== "float32" && !(n.op === "cast" && out === "bool")) return null;
  if (n.op === "where") return { op: "where", ins: ["bool", "float32", "float32"] };
  if (n.op === "cast") {
    const from = values[n.inputs[0]!]!.dtype;
    if (out === "bool" && from === "float32") return { op: "toBool", ins: ["float32"] };
    if (out === "float32" && from === "bool") return { op: "fromBool", ins: ["bool"] };
    return null;
  }
  return fusible(n.op) ? { op: n.op, ins: n.inputs.map(() => "float32") } : null;
}

/**
 * The role of operand `x` in a run over `shape`, or null (another broadcast). `m`: the row length
 * the role needs (a row operand's size; for a per-channel operand [K, 1, …, 1], the size of the
 * axes after its channel axis, `k` being K).
 */
function roleOf(x: Value, shape: readonly number[]): { role: Role; m: number; k?: number } | null {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return { role: "full", m: 0 };
  if (sizeOf(x.shape) === 1) return x.dtype === "float32" ? { role: "scalar", m: 0 } : null;
  // Leading 1s dropped, the rest equal to the run's trailing axes: the same row for every leading index.
  let k = 0;
  while (k < x.shape.length && x.shape[k] === 1) k++;
  const tail = x.shape.slice(k);
  if (tail.length === 0 || tail.length > shape.length) return null;
  const off = shape.length - tail.length;
  if (tail.every((d, i) => d === shape[off + i])) return { role: "row", m: sizeOf(tail) };
  // [K, 1, …, 1] against […, K, H, W]: one value per channel (a convolution's bias).
  if (x.dtype === "float32" && tail.length >= 2 && tail[0] === shape[off] && tail.slice(1).every((d) => d === 1)) {
    return { role: "chan", m: sizeOf(shape.slice(off + 1)), k: tail[0]! };
  }
  return null;
}

/** The fusible runs of `nodes` (each at least two ops long). @example `fusionGroups(nodes, values, new Set(kept)).map((g) => g.end - g.start); // ops per fused kernel` */
export function fusionGroups(nodes: readonly RecNode[], values: readonly Value[], kept: ReadonlySet<number>): FusedGroup[] {
  // A node's run key: its shape, and the row size its row operands need (0: none).
  const info = nodes.map((n) => {
    const out = values[n.output]!;
    const f = fusedOp(n, values);
    const size = sizeOf(out.shape);
    if (f === null || size <= 1) return null;
    // Small tensors (on the JS heap): a generated loop, over operands of the run's shape or scalars only.
    const small = size < MIN_ELEMENTS;
    let m = 0;
    for (let k = 0; k < n.inputs.length; k++) {
      const x = values[n.inputs[k]!]!;
      if (x.dtype !== f.ins[k]) return null;
      const r = roleOf(x, out.shape);
      if (r === null || ((r.role === "row" || r.role === "chan") && (small || (m !== 0 && r.m !== m)))) return null;
      if (r.role === "row" || r.role === "chan") m = r.m;
    }
    return { key: `${small ? "s" : ""}${out.shape.join("x")}`, m, f, small };
  });
  const lastUse = new Int32Array(values.length).fill(-1);
  nodes.forEach((n, i) => n.inputs.forEach((x) => (lastUse[x] = i)));
  const groups: FusedGroup[] = [];
  let i = 0;
  while (i < nodes.length) {
    const first = info[i];
    if (first === null || first === undefined) {
      i++;
      continue;
    }
    let m = first.m;
    let j = i + 1;
    for (; j < nodes.length; j++) {
      const x = info[j];
      if (x === null || x === undefined || x.key !== first.key || (x.m !== 0 && m !== 0 && x.m !== m)) break;
      if (x.m !== 0) m = x.m;
    }
    if (j - i >= 2) {
      const g = build(nodes, values, kept, lastUse, i, j, m, info.slice(i, j).map((x) => x!.f.op), first.small);
      if (g !== null) groups.push(g);
    }
    i = j;
  }
  return groups;
}

function build(nodes: readonly RecNode[], values: readonly Value[], kept: ReadonlySet<number>, lastUse: Int32Array, start: number, end: number, m: number, ops: string[], small: boolean): FusedGroup | null {
  const shape = values[nodes[start]!.output]!.shape;
  const n = sizeOf(shape);
  const made = new Map<number, number>(); // value id → step index within the run
  const vecIds: number[] = [];
  const vecKinds: string[] = [];
  const scalarIds: number[] = [];
  for (let k = start; k < end; k++) {
    for (const x of nodes[k]!.inputs) {
      if (made.has(x) || vecIds.includes(x) || scalarIds.includes(x)) continue;
      const r = roleOf(values[x]!, shape)!;
      if (r.role === "scalar") scalarIds.push(x);
      else {
        vecIds.push(x);
        vecKinds.push(r.role === "chan" ? `c:${r.k}` : (values[x]!.dtype === "bool" ? "b" : "f") + (r.role === "row" ? "r" : ""));
      }
    }
    made.set(nodes[k]!.output, k - start);
  }
  if (small) {
    const outIds: number[] = [];
    const internal: number[] = [];
    for (const [id] of made) (kept.has(id) || lastUse[id]! >= end ? outIds : internal).push(id);
    const host = hostRun(nodes.slice(start, end), values, vecIds, scalarIds, outIds);
    if (host === null) return null;
    return { start, end, rows: 1, m: n, vecIds, scalarIds, outIds, outBytes: outIds.map((id) => (values[id]!.dtype === "bool" ? 1 : 4)), internal, spec: null, kernel: null, host };
  }
  const base = vecIds.length + scalarIds.length;
  const ref = (x: number) => (made.has(x) ? base + made.get(x)! : vecIds.includes(x) ? vecIds.indexOf(x) : vecIds.length + scalarIds.indexOf(x));
  const steps = nodes.slice(start, end).map((nd, k) => ({ op: ops[k]!, args: nd.inputs.map(ref) }));
  const outIds: number[] = [];
  const internal: number[] = [];
  for (const [id] of made) (kept.has(id) || lastUse[id]! >= end ? outIds : internal).push(id);
  const outKinds = outIds.map((id) => (values[id]!.dtype === "bool" ? "b" : "f"));
  const spec: FusedSpec = { vectors: vecKinds, scalars: scalarIds.length, steps, outputs: outIds.map(ref), outKinds };
  const rowLen = m === 0 ? n : m;
  return { start, end, rows: n / rowLen, m: rowLen, vecIds, scalarIds, outIds, outBytes: outKinds.map((k) => (k === "b" ? 1 : 4)), internal, spec, kernel: fusedKernel(spec), host: null };
}
