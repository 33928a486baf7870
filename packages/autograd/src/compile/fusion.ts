/**
 * Which recorded ops fuse (wasm backend, float32): maximal runs of consecutive schedule entries
 * that are elementwise unary ops or add/mul/maximum, whose operands are either of the run's own
 * shape (no broadcasting) or one-element scalars, over at least SMALL_BYTES of data: one
 * generated SIMD kernel (wasm/fuse.ts). Runs over smaller tensors (which live on the JS heap and
 * take the cpu kernels) become one generated JavaScript loop (small.ts). Consecutive in the schedule means every
 * operand from outside the run is ready before it starts and every value it makes for later
 * entries exists when it ends, so the run is one kernel call. A run's outputs are the values
 * read after it (or kept: results, writes, gradients); the others never touch memory. A run (even
 * of one op) also takes over a permute of two leading axes that only feeds it, or that only its
 * result feeds, with the reshapes between: the kernel reads or stores those rows in the permuted
 * order (a convolution's NCHW permutes, see {@link channelAddLater}). A sum or max over the
 * trailing axes of a value the run makes, right after it, is done by the run's kernel too (the
 * value reduced in registers in the reduction kernel's own order, and stored only if read again):
 * a sum of squares, a softmax's row sums over e^(x−m), a loss's sum.
 */
import { sizeOf } from "../shape.js";
import { SMALL_BYTES } from "../wasm/buffer.js";
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
  /**
   * Schedule entries outside [start, end) that the kernel does itself: a permute of two leading
   * axes (and the reshapes around it) read or written in place — see {@link fusionGroups}.
   */
  readonly before: number[];
  readonly after: number[];
  /**
   * A sum or max over the trailing axes that reads a value of the run: the schedule entry right
   * after it, done by the kernel (its output is `outIds`' last) — see {@link FusedSpec.reduce}.
   */
  readonly reduced: { readonly op: "sum" | "max"; readonly input: number; readonly output: number } | null;
  /** The generated SIMD kernel (wasm memory operands), or, for a run of small tensors, the generated JavaScript loop. */
  readonly spec: FusedSpec | null;
  readonly kernel: FusedKernel | null;
  readonly host: HostRun | null;
}

const MIN_ELEMENTS = SMALL_BYTES / 4; // float32 elements from which a tensor lives in wasm memory

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

/**
 * A per-channel add followed by a permute of the two leading axes, `permute(add(x, c), [1, 0, 2])`
 * with c of shape [K, 1, 1] (a convolution's bias on its [K, N, L] product, ops/conv.ts), becomes
 * `add(permute(x), c)` after the reshape to [N, K, H, W] that follows: then the add joins the
 * run after it (the relu) and the permute is read in place by that run's kernel, one pass where
 * there were three. The same float32 additions of the same pairs: the same values. Returns the
 * rewritten schedule and the values with the moved add's new output appended.
 *
 * @example `({ nodes, values } = channelAddLater(nodes, values, kept)); // before fusionGroups`
 */
export function channelAddLater(nodes: readonly RecNode[], values: readonly Value[], kept: ReadonlySet<number>): { nodes: RecNode[]; values: Value[] } {
  let out = nodes.slice();
  const vals = values.slice();
  const uses = useCounts(out, vals.length);
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    if (a.op !== "add" || kept.has(a.output) || uses[a.output] !== 1) continue;
    const as = vals[a.output]!.shape;
    if (as.length !== 3 || vals[a.output]!.dtype !== "float32") continue;
    const ci = a.inputs.findIndex((x) => roleOf(vals[x]!, as)?.role === "chan");
    const xi = 1 - ci;
    if (ci < 0 || roleOf(vals[a.inputs[xi]!]!, as)?.role !== "full") continue;
    // The permute reading it, then the reshapes of its result (each read once, not kept).
    const chain: number[] = [];
    let v = a.output;
    for (let j = i + 1; j < out.length; j++) {
      const n = out[j]!;
      if (!n.inputs.includes(v)) continue;
      if (chain.length === 0 ? !(n.op === "permute" && leadingSwap(n)) : n.op !== "reshape" || kept.has(v) || uses[v] !== 1) break;
      chain.push(j);
      v = n.output;
    }
    // q must be the [N, K, H, W] view of the permuted [N, K, L]: there c broadcasts along K again.
    const q = vals[v]!;
    if (chain.length === 0 || kept.has(v) || q.shape.length !== 4 || q.shape[0] !== as[1] || q.shape[1] !== as[0]) continue;
    const c = a.inputs[ci]!;
    const moved: Value = { ...q, id: vals.length, kind: "op" };
    vals.push(moved);
    const last = chain[chain.length - 1]!;
    const p = out[chain[0]!]!;
    const add: RecNode = { op: "add", attrs: a.attrs, inputs: ci === 1 ? [v, c] : [c, v], output: moved.id };
    out = out.map((n, j) => (j === chain[0] ? { ...p, inputs: [a.inputs[xi]!] } : j > last && n.inputs.includes(v) ? { ...n, inputs: n.inputs.map((x) => (x === v ? moved.id : x)) } : n));
    out.splice(last + 1, 0, add);
    out.splice(i, 1);
    uses[moved.id] = uses[v]!;
    uses[v] = 1;
    i--;
  }
  return { nodes: out, values: vals };
}

/** How many nodes read each value. */
function useCounts(nodes: readonly RecNode[], n: number): number[] {
  const uses = new Array<number>(n + nodes.length).fill(0);
  for (const nd of nodes) for (const x of nd.inputs) uses[x]!++;
  return uses;
}

/** A permute of a 3-d tensor that swaps its two leading axes (rows reordered, each row kept whole). */
function leadingSwap(n: RecNode): boolean {
  const perm = (n.attrs as { perm: number[] }).perm;
  return perm.length === 3 && perm[0] === 1 && perm[1] === 0 && perm[2] === 2;
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
  const links: Links = { producer: new Map(nodes.map((n, i) => [n.output, i])), uses: useCounts(nodes, values.length), kept, claimed: new Set() };
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
    const red = first.small ? null : reductionAfter(nodes, values, i, j, m);
    // One op alone is a kernel already, unless it also does a permute's or a reduction's work.
    if (j - i >= 2 || !first.small) {
      const g = build(nodes, values, links, lastUse, i, j, m, info.slice(i, j).map((x) => x!.f.op), first.small, red);
      if (g !== null && (j - i >= 2 || g.before.length + g.after.length > 0 || g.reduced !== null)) {
        groups.push(g);
        for (const k of [...g.before, ...g.after]) links.claimed.add(k);
        if (g.reduced !== null) j++;
      }
    }
    i = j;
  }
  return groups;
}

/**
 * Who makes each value, how many nodes read it, which values must survive the schedule, and the
 * nodes an earlier run took over (a permute one run stores in place cannot also be read in place
 * by the next: its input never exists).
 */
interface Links {
  producer: Map<number, number>;
  uses: number[];
  kept: ReadonlySet<number>;
  claimed: Set<number>;
}

/**
 * Operand `x` of the run [start, end) as rows of a permute's input: x = reshape…(permute(s, [1, 0, 2]))
 * with s = [A, B, L], each value on the way read only there (x only by the run). Row r of the
 * run is then row (r mod A)·B + ⌊r / A⌋ of s. Null when x is not such a value.
 */
function permutedSource(x: number, nodes: readonly RecNode[], values: readonly Value[], links: Links, start: number, end: number): { id: number; kind: string; L: number; chain: number[] } | null {
  let readers = 0;
  for (let k = start; k < end; k++) for (const y of nodes[k]!.inputs) if (y === x) readers++;
  if (links.kept.has(x) || links.uses[x] !== readers) return null;
  const chain: number[] = [];
  for (let v = x; ; ) {
    const at = links.producer.get(v);
    if (at === undefined || links.claimed.has(at)) return null;
    const n = nodes[at]!;
    chain.unshift(at);
    if (n.op === "permute") {
      const src = values[n.inputs[0]!]!;
      if (!leadingSwap(n) || src.dtype !== "float32") return null;
      const [A, B, L] = src.shape as [number, number, number];
      return { id: src.id, kind: `ft:${A}:${B}`, L, chain };
    }
    if (n.op !== "reshape") return null;
    v = n.inputs[0]!;
    if (links.kept.has(v) || links.uses[v] !== 1) return null;
  }
}

/**
 * Output `w` of a run ending at `end` as rows of a permute's result: w is read only by
 * reshape…→ permute(·, [1, 0, 2]) of a [B, A, L] value, every value on the way read only there.
 * Row r of the run is then row (r mod A)·B + ⌊r / A⌋ of the permute's result. Null otherwise.
 */
function permutedSink(w: number, nodes: readonly RecNode[], values: readonly Value[], links: Links, end: number): { id: number; kind: string; L: number; chain: number[] } | null {
  const chain: number[] = [];
  for (let v = w; ; ) {
    if (links.kept.has(v) || links.uses[v] !== 1 || values[v]!.dtype !== "float32") return null;
    let at = -1;
    for (let k = end; k < nodes.length && at < 0; k++) if (nodes[k]!.inputs.includes(v)) at = k;
    if (at < 0) return null;
    const n = nodes[at]!;
    chain.push(at);
    if (n.op === "permute") {
      if (!leadingSwap(n)) return null;
      const [B, A, L] = values[v]!.shape as [number, number, number];
      return { id: n.output, kind: `ft:${A}:${B}`, L, chain };
    }
    if (n.op !== "reshape") return null;
    v = n.output;
  }
}

/**
 * Node `at` (the one after the run [start, at)) as a reduction the run's kernel can do: a float32
 * sum or max of a value the run makes over its trailing axes (the axes of size > 1 after the last
 * kept one), `len` elements a row, compatible with the run's row operands (row length m, 0: none).
 */
function reductionAfter(nodes: readonly RecNode[], values: readonly Value[], start: number, at: number, m: number): { op: "sum" | "max"; len: number } | null {
  const n = nodes[at];
  if (n === undefined || (n.op !== "sum" && n.op !== "max")) return null;
  const x = values[n.inputs[0]!]!;
  if (x.dtype !== "float32" || !nodes.slice(start, at).some((r) => r.output === x.id)) return null;
  const axes = (n.attrs as { axes: readonly number[] }).axes;
  let len = 1;
  let k = x.shape.length - 1;
  for (; k >= 0 && (axes.includes(k) || x.shape[k] === 1); k--) len *= axes.includes(k) ? x.shape[k]! : 1;
  for (; k >= 0; k--) if (axes.includes(k) && x.shape[k] !== 1) return null;
  return len > 1 && (m === 0 || m === len) ? { op: n.op, len } : null;
}

function build(nodes: readonly RecNode[], values: readonly Value[], links: Links, lastUse: Int32Array, start: number, end: number, m: number, ops: string[], small: boolean, red: { op: "sum" | "max"; len: number } | null = null): FusedGroup | null {
  const kept = links.kept;
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
    return { start, end, rows: 1, m: n, vecIds, scalarIds, outIds, outBytes: outIds.map((id) => (values[id]!.dtype === "bool" ? 1 : 4)), internal, before: [], after: [], reduced: null, spec: null, kernel: null, host };
  }
  const base = vecIds.length + scalarIds.length;
  const ref = (x: number) => (made.has(x) ? base + made.get(x)! : vecIds.includes(x) ? vecIds.indexOf(x) : vecIds.length + scalarIds.indexOf(x));
  const steps = nodes.slice(start, end).map((nd, k) => ({ op: ops[k]!, args: nd.inputs.map(ref) }));
  const outIds: number[] = [];
  const internal: number[] = [];
  // With a reduction (node `end`), a value it alone reads afterwards stays in registers.
  const stop = red ? end + 1 : end;
  for (const [id] of made) (kept.has(id) || lastUse[id]! >= stop ? outIds : internal).push(id);
  const outKinds: string[] = outIds.map((id) => (values[id]!.dtype === "bool" ? "b" : "f"));
  const outputs = outIds.map(ref);
  // Permutes of two leading axes around the run, done by the kernel's row order (rows of L floats).
  const before: number[] = [];
  const after: number[] = [];
  let rowLen = red ? red.len : m;
  vecIds.forEach((x, k) => {
    const src = vecKinds[k] === "f" ? permutedSource(x, nodes, values, links, start, end) : null;
    if (src === null || (rowLen !== 0 && rowLen !== src.L)) return;
    rowLen = src.L;
    vecIds[k] = src.id;
    vecKinds[k] = src.kind;
    before.push(...src.chain);
    for (const at of src.chain) internal.push(nodes[at]!.output);
  });
  outIds.forEach((w, o) => {
    const sink = outKinds[o] === "f" ? permutedSink(w, nodes, values, links, end) : null;
    if (sink === null || (rowLen !== 0 && rowLen !== sink.L)) return;
    rowLen = sink.L;
    outIds[o] = sink.id;
    outKinds[o] = sink.kind;
    after.push(...sink.chain);
    internal.push(w, ...sink.chain.slice(0, -1).map((at) => nodes[at]!.output));
  });
  before.sort((a, b) => a - b);
  const spec: FusedSpec = { vectors: vecKinds, scalars: scalarIds.length, steps, outputs, outKinds };
  const outBytes = outKinds.map((k) => (k === "b" ? 1 : 4));
  let reduced: FusedGroup["reduced"] = null;
  if (red) {
    const r = nodes[end]!;
    spec.reduce = { op: red.op, of: ref(r.inputs[0]!) };
    reduced = { op: red.op, input: r.inputs[0]!, output: r.output };
    outIds.push(r.output);
  }
  if (rowLen === 0) rowLen = n;
  return { start, end: stop, rows: n / rowLen, m: rowLen, vecIds, scalarIds, outIds, outBytes, internal, before, after, reduced, spec, kernel: fusedKernel(spec), host: null };
}
