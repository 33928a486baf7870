/**
 * Which recorded ops fuse (wasm backend, float32): maximal runs of consecutive schedule entries
 * that are elementwise unary ops or add/mul/maximum, whose operands are either of the run's own
 * shape (no broadcasting) or one-element scalars, over at least SMALL_BYTES of data (smaller
 * tensors live on the JS heap and take the cpu kernels). Consecutive in the schedule means every
 * operand from outside the run is ready before it starts and every value it makes for later
 * entries exists when it ends, so the run is one kernel call. A run's outputs are the values
 * read after it (or kept: results, writes, gradients); the others never touch memory.
 */
import { sizeOf } from "../shape.js";
import { fusedKernel, fusible, type FusedKernel, type FusedSpec } from "../wasm/fuse.js";
import type { RecNode, Value } from "./record.js";

/** A fused run of nodes `[start, end)` of the schedule. */
export interface FusedGroup {
  readonly start: number;
  readonly end: number;
  readonly n: number;
  /** Values read from outside: vectors (wasm buffers), scalars (one-element host arrays). */
  readonly vecIds: number[];
  readonly scalarIds: number[];
  /** Values stored for later use; `internal` are the ones that stay in registers. */
  readonly outIds: number[];
  readonly internal: number[];
  readonly spec: FusedSpec;
  readonly kernel: FusedKernel;
}

const MIN_ELEMENTS = 1024; // wasm/ops.ts's SMALL_BYTES of float32

/**
 * The schedule with every scalar op (one-element inputs and output: lr·bias-correction
 * arithmetic) moved up to just after its last operand is made, so it does not split the vector
 * run around it (an Adam update would be cut in two at `div(·, scalar)`'s reciprocal). Pure ops
 * in a dependency order: the values are the same.
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

/** The fusible runs of `nodes` (each at least two ops long). */
export function fusionGroups(nodes: readonly RecNode[], values: readonly Value[], kept: ReadonlySet<number>): FusedGroup[] {
  const shapeKey = (id: number) => values[id]!.shape.join("x");
  const eligible = (n: RecNode) => {
    const out = values[n.output]!;
    if (out.dtype !== "float32" || !fusible(n.op) || sizeOf(out.shape) < MIN_ELEMENTS) return false;
    const key = shapeKey(n.output);
    return n.inputs.every((x) => values[x]!.dtype === "float32" && (shapeKey(x) === key || sizeOf(values[x]!.shape) === 1));
  };
  // Last reader of each value (by node index).
  const lastUse = new Int32Array(values.length).fill(-1);
  nodes.forEach((n, i) => n.inputs.forEach((x) => (lastUse[x] = i)));
  const groups: FusedGroup[] = [];
  let i = 0;
  while (i < nodes.length) {
    if (!eligible(nodes[i]!)) {
      i++;
      continue;
    }
    const key = shapeKey(nodes[i]!.output);
    let j = i + 1;
    while (j < nodes.length && eligible(nodes[j]!) && shapeKey(nodes[j]!.output) === key) j++;
    if (j - i >= 2) groups.push(build(nodes, values, kept, lastUse, i, j));
    i = j;
  }
  return groups;
}

function build(nodes: readonly RecNode[], values: readonly Value[], kept: ReadonlySet<number>, lastUse: Int32Array, start: number, end: number): FusedGroup {
  const made = new Map<number, number>(); // value id → step index within the run
  const vecIds: number[] = [];
  const scalarIds: number[] = [];
  for (let k = start; k < end; k++) {
    for (const x of nodes[k]!.inputs) {
      if (made.has(x) || vecIds.includes(x) || scalarIds.includes(x)) continue;
      (sizeOf(values[x]!.shape) === 1 && sizeOf(values[nodes[k]!.output]!.shape) !== 1 ? scalarIds : vecIds).push(x);
    }
    made.set(nodes[k]!.output, k - start);
  }
  const base = vecIds.length + scalarIds.length;
  const ref = (x: number) => (made.has(x) ? base + made.get(x)! : vecIds.includes(x) ? vecIds.indexOf(x) : vecIds.length + scalarIds.indexOf(x));
  const steps = [];
  for (let k = start; k < end; k++) {
    const n = nodes[k]!;
    steps.push({ op: n.op as FusedSpec["steps"][number]["op"], args: n.inputs.map(ref) });
  }
  const outIds: number[] = [];
  const internal: number[] = [];
  for (const [id] of made) (kept.has(id) || lastUse[id]! >= end ? outIds : internal).push(id);
  const spec: FusedSpec = { vectors: vecIds.length, scalars: scalarIds.length, steps, outputs: outIds.map(ref) };
  return { start, end, n: sizeOf(values[nodes[start]!.output]!.shape), vecIds, scalarIds, outIds, internal, spec, kernel: fusedKernel(spec) };
}
