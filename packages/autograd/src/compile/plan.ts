/**
 * A recording turned into a flat schedule and replayed. Planning (once per trace):
 * - dead-code elimination: only nodes some result, write or gradient needs are kept;
 * - liveness: each intermediate is released right after its last use, so a step's peak memory
 *   is the plan's, not the whole trace's, and the allocator's free lists hand the same blocks
 *   back to the same nodes at every replay;
 * - per node, one preallocated operand record per input (the fields a primitive's forward reads),
 *   so a replay creates no JavaScript object per op besides the kernel's result.
 * Replaying runs the primitives' forward kernels in order over an array of storage handles.
 * Nothing user-visible changes until every kernel has run: then results are wrapped, in-place
 * writes applied and `.grad`s set — a replay that throws leaves parameters and state untouched.
 */
import { hostArrayOf, type Backend, type BackendData, type WindowParams } from "../backend.js";
import type { DType, TypedArray } from "../dtype.js";
import { RULES, type Rule } from "../primitives.js";
import { sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import type { RecNode, Recording, Value } from "./record.js";
import { currentGrad } from "./record.js";
import { hostOperands, scalarProgram, type ScalarProgram } from "./scalar.js";
import { channelAddLater, fusionGroups, hoistScalars, type FusedGroup } from "./fusion.js";
import { epilogueKernel, residentBuffers, runFused, type EpilogueKernel } from "../wasm/fuse.js";
import { foldsProduct, matmulEpilogue, matmulFold, matmuls, type MatmulArgs } from "../wasm/dispatch/matmul.js";
import { isView, solid } from "../wasm/placement.js";
import { maxUnpool2, tilesPool2, windowMax } from "../wasm/dispatch/window.js";

/**
 * Nodes one wasm call runs: independent matmuls as one thread job ({@link jointMatmuls}), a max
 * pooling's choice and gather ({@link pooledMax}), its gradient's scatter ({@link unpooledMax},
 * `shape` the pooled input's), a product folded into images ({@link foldedProducts}; `internal`
 * the values between, never made).
 */
type Joint = { readonly kind: "matmuls" } | { readonly kind: "maxPool" } | { readonly kind: "maxUnpool"; readonly shape: readonly number[]; readonly p: WindowParams } | { readonly kind: "matmulFold"; readonly internal: readonly number[] } | Epilogue;

/**
 * A product and the fused run that alone reads it, as one thread job ({@link matmulEpilogues}):
 * `kernel` the run's epilogue form, `at` the product's place among the run's vectors, `rest` the
 * run's own step (the fallback).
 */
interface Epilogue {
  readonly kind: "epilogue";
  readonly at: number;
  readonly kernel: EpilogueKernel;
  readonly rest: Step;
}

/** The fields a primitive's forward reads from its input tensors. */
interface Operand {
  handle: BackendData;
  /** The same as `handle` (what Tensor._raw is to the elementwise rules; slots never hold a HostScalar). */
  _raw: BackendData;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  readonly rank: number;
}

/** One primitive of the schedule. */
interface NodeStep {
  readonly rule: Rule<unknown>;
  readonly attrs: unknown;
  readonly operands: Operand[];
  readonly inputIds: number[];
  readonly out: number;
}

/**
 * A schedule entry: one node, or a fused run (its nodes kept for the fallback when an operand is
 * not a wasm buffer), or nodes run together by one wasm call (`joint`; the nodes are again the fallback).
 */
export interface Step {
  readonly group: FusedGroup | null;
  readonly joint: Joint | null;
  readonly nodes: NodeStep[];
  /** Values read from outside the step, and values it makes for later steps. */
  readonly inputIds: number[];
  readonly outIds: number[];
  readonly names: string[];
}

export interface Plan {
  readonly backend: Backend;
  readonly values: readonly Value[];
  readonly steps: Step[];
  /** Values released after step i. */
  readonly freeAfter: number[][];
  /** Persistent tensors holding const and scalar values (index = value id). */
  readonly consts: (Tensor | null)[];
  readonly constIds: number[];
  /** Value ids the replay reads from outside: inputs, live tensors, entry grads. */
  readonly bound: number[];
  readonly randoms: number[];
  /** Values that survive the schedule (results, writes, grads): released after wrapping. */
  readonly kept: number[];
  readonly slots: BackendData[];
  readonly tokens: unknown[];
  /** Nodes recorded, and nodes kept after dead-code elimination. */
  readonly recorded: number;
  readonly kernels: number;
  /** A scalar graph's generated program (scalar.ts), and the values it reads; null otherwise. */
  readonly scalar: ScalarProgram | null;
  readonly scalarReads: number[];
}

/** Builds the schedule of `rec` whose results are `outputs` (value ids). @example `const p = plan(rec.finish(), [outId], getBackend()); run(p, [x], null);` */
export function plan(rec: Recording, outputs: readonly number[], backend: Backend): Plan {
  let values = rec.values;
  const needed = new Uint8Array(values.length);
  for (const o of outputs) needed[o] = 1;
  for (const v of rec.writes.values()) needed[v] = 1;
  for (const g of rec.grads.values()) if (g.final !== null && g.final >= 0) needed[g.final] = 1;
  const kept = [...new Set([...needed.keys()].filter((i) => needed[i] === 1))];
  const keep: boolean[] = new Array(rec.nodes.length).fill(false);
  for (let i = rec.nodes.length - 1; i >= 0; i--) {
    const n = rec.nodes[i]!;
    if (needed[n.output] !== 1) continue;
    keep[i] = true;
    for (const x of n.inputs) needed[x] = 1;
  }
  const live = rec.nodes.filter((_, i) => keep[i]);
  const scalar = scalarProgram(live, values, kept);
  // Fusion (wasm, float32 elementwise runs) unless the whole graph is one scalar program.
  const fuse = scalar === null && backend.name === "wasm";
  let nodes = fuse ? hoistScalars(live, values) : live;
  if (fuse) ({ nodes, values } = channelAddLater(nodes, values, new Set(kept)));
  const groups = fuse ? fusionGroups(nodes, values, new Set(kept)) : [];
  const absorbed = new Set(groups.flatMap((g) => [...g.before, ...g.after]));
  const operand = (v: Value): Operand => ({ handle: null as unknown as BackendData, _raw: null as unknown as BackendData, shape: Object.freeze(v.shape.slice()), dtype: v.dtype, size: sizeOf(v.shape), rank: v.shape.length });
  const nodeStep = (n: RecNode): NodeStep => ({ rule: RULES[n.op] as Rule<unknown>, attrs: n.attrs, operands: n.inputs.map((x) => operand(values[x]!)), inputIds: n.inputs.slice(), out: n.output });
  // The schedule: single nodes and fused runs, in recording order.
  const steps: Step[] = [];
  for (let i = 0, g = 0; i < nodes.length; ) {
    const grp = groups[g];
    if (grp !== undefined && grp.start === i) {
      // The permutes (and reshapes) the kernel does itself are listed with it, in order: its fallback runs them.
      const all = [...grp.before, ...Array.from({ length: grp.end - grp.start }, (_, k) => grp.start + k), ...grp.after].map((k) => nodes[k]!);
      steps.push({ group: grp, joint: null, nodes: all.map(nodeStep), inputIds: [...grp.vecIds, ...grp.scalarIds], outIds: grp.outIds, names: all.map(opName) });
      i = grp.end;
      g++;
    } else if (absorbed.has(i)) {
      i++;
    } else {
      const n = nodes[i++]!;
      steps.push({ group: null, joint: null, nodes: [nodeStep(n)], inputIds: n.inputs.slice(), outIds: [n.output], names: [opName(n)] });
    }
  }
  if (fuse) {
    foldedProducts(steps, kept);
    matmulEpilogues(steps, kept, values);
    jointMatmuls(steps);
    pooledMax(steps);
    unpooledMax(steps);
  }
  // Liveness: the last step reading each value; kept values are never released by the schedule.
  const last = new Int32Array(values.length).fill(-1);
  steps.forEach((st, i) => st.inputIds.forEach((x) => (last[x] = i)));
  const isKept = new Uint8Array(values.length);
  for (const k of kept) isKept[k] = 1;
  const between = (st: Step) => (st.joint?.kind === "matmulFold" ? st.joint.internal : st.joint?.kind === "epilogue" ? [st.nodes[0]!.out] : []);
  const internal = new Set([...groups.flatMap((g) => g.internal), ...steps.flatMap(between)]);
  const owned = (id: number) => values[id]!.kind === "op" || values[id]!.kind === "random";
  const freeAfter: number[][] = steps.map(() => []);
  for (let id = 0; id < values.length; id++) {
    // (Values the planner made after dead-code elimination — channelAddLater's — are all needed.)
    if (!owned(id) || isKept[id] === 1 || (id < needed.length && needed[id] !== 1) || internal.has(id)) continue;
    // A value no kept step reads (a random draw that only feeds dead code) is freed at once.
    const at = last[id]! >= 0 ? last[id]! : 0;
    if (steps.length > 0) freeAfter[at]!.push(id);
  }
  const consts = values.map((v) =>
    v.kind === "const" || v.kind === "scalar" ? new Tensor(backend.upload(v.data!.slice(), v.dtype), v.shape, v.dtype, backend) : null,
  );
  return {
    backend,
    values,
    steps,
    freeAfter,
    consts,
    constIds: values.filter((v) => v.kind === "const" || v.kind === "scalar").map((v) => v.id),
    bound: values.filter((v) => v.kind === "input" || v.kind === "live" || v.kind === "grad").map((v) => v.id),
    randoms: rec.randoms.filter((id) => needed[id] === 1),
    kept: kept.filter(owned),
    slots: new Array(values.length).fill(null),
    tokens: new Array(values.length).fill(null),
    recorded: rec.nodes.length,
    kernels: nodes.length,
    scalar,
    scalarReads: [...new Set(nodes.flatMap((n) => n.inputs))].filter((id) => !nodes.some((n) => n.output === id)),
  };
}

const opName = (n: RecNode) => (n.op === "compare" ? (n.attrs as { op: string }).op : n.op);

/** The storage a bound value reads at this call. */
function bind(v: Value, args: readonly Tensor[]): BackendData {
  if (v.kind === "input") return args[v.index]!.handle;
  if (v.kind === "live") return v.tensor!.handle;
  return currentGrad((v.index >= 0 ? args[v.index]! : v.tensor!))!.handle; // grad: the guard checked it is set
}

/**
 * Runs the schedule. Returns with every kept value's storage in `p.slots` (held by the plan:
 * call {@link releaseKept} once the results are wrapped).
 *
 * @example `run(p, tensorArgs, null); const y = wrap(p, outId); releaseKept(p);`
 */
export function run(p: Plan, args: readonly Tensor[], scalars: readonly (readonly number[])[] | null): void {
  const b = p.backend;
  const managed = b.retain !== undefined;
  const slots = p.slots;
  const tokens = p.tokens;
  const values = p.values;
  for (let i = 0; i < p.bound.length; i++) slots[p.bound[i]!] = bind(values[p.bound[i]!]!, args);
  for (let i = 0; i < p.constIds.length; i++) slots[p.constIds[i]!] = p.consts[p.constIds[i]!]!.handle;
  if (p.scalar !== null && hostOperands(slots, p.scalarReads)) {
    p.scalar(slots);
    for (const id of p.kept) tokens[id] = false;
    return;
  }
  let done = 0;
  const owned: number[] = [];
  try {
    for (const id of p.randoms) {
      const v = values[id]!;
      const r = v.random!;
      const n = sizeOf(v.shape);
      const a = v.dtype === "float64" ? new Float64Array(n) : v.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = r.draw(r.g);
      slots[id] = b.upload(a, v.dtype);
      tokens[id] = managed ? b.retain!(slots[id]!) : false;
      owned.push(id);
    }
    const steps = p.steps;
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i]!;
      if (st.joint !== null) runJoint(st, values, b, slots, tokens, managed);
      else if (st.group !== null) runGroup(st, b, slots, tokens, managed);
      else runNode(st.nodes[0]!, b, slots, tokens, managed);
      done = i + 1;
      const free = p.freeAfter[i]!;
      for (let k = 0; k < free.length; k++) {
        const id = free[k]!;
        if (tokens[id]) b.release!(slots[id]!, tokens[id]);
        slots[id] = null as unknown as BackendData;
      }
    }
  } catch (e) {
    // Release whatever this replay made and still holds; nothing user-visible changed.
    if (managed) {
      const live = new Set<number>(owned);
      for (let i = 0; i < done; i++) for (const id of p.steps[i]!.outIds) live.add(id);
      for (let i = 0; i < done; i++) for (const id of p.freeAfter[i]!) live.delete(id);
      for (const id of live) if (slots[id] && tokens[id]) b.release!(slots[id]!, tokens[id]);
    }
    throw e;
  }
  void scalars;
}

function runNode(st: NodeStep, b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const ops = st.operands;
  const ins = st.inputIds;
  for (let k = 0; k < ops.length; k++) ops[k]!.handle = ops[k]!._raw = slots[ins[k]!]!;
  store(st.out, st.rule.forward(b, ops as unknown as Tensor[], st.attrs).data, b, slots, tokens, managed);
}

/** A step's result into its slot, with the backend's hold on it where the backend manages storage. */
function store(id: number, data: BackendData, b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  // A HostScalar (a kernel's one-element float32 result) is kept as its array: the fused and
  // scalar programs read their slots as typed arrays.
  data = hostArrayOf(data);
  slots[id] = data;
  // retain says whether the backend manages this storage (a small wasm result lives on the JS heap: false).
  tokens[id] = managed ? b.retain!(data) : false;
}

/**
 * Independent matmuls one job apart (a backward pass's dX = G·Wᵀ and dW = Xᵀ·G, with only the
 * lazy transposes between them) become one step: the transposes move ahead, and the products run
 * as one thread job (wasm/dispatch/matmul.ts's `matmuls`), so the threads' idle tail at the end of
 * a job is paid once. The same tasks run, so the values are the same.
 */
function jointMatmuls(steps: Step[]): void {
  for (let i = 0; i < steps.length; i++) {
    if (!single(steps[i], "matmul")) continue;
    const a = steps[i]!;
    const reads = (st: Step) => st.inputIds.includes(a.outIds[0]!);
    let j = i + 1;
    while ((single(steps[j], "permute") || single(steps[j], "reshape")) && !reads(steps[j]!)) j++;
    const b = steps[j];
    if (b === undefined || !single(b, "matmul") || reads(b)) continue;
    const joint: Step = { group: null, joint: { kind: "matmuls" }, nodes: [a.nodes[0]!, b.nodes[0]!], inputIds: [...new Set([...a.inputIds, ...b.inputIds])], outIds: [a.outIds[0]!, b.outIds[0]!], names: ["matmul", "matmul"] };
    steps.splice(i, j - i + 1, ...steps.slice(i + 1, j), joint);
    i = j - 1; // the joint step's index
  }
}

/**
 * A matmul whose only reader is a fold (through a reshape): a convolution's input gradient
 * col2im(Wᵀ·Ḡ). The three become one step, run as one thread job that folds each run of images'
 * columns while they are in cache (wasm/dispatch/matmul.ts's `matmulFold`), where the product's
 * columns — 25× the image for a 5×5 kernel — went through memory and back. The same sums, so
 * the same bits. The step sits where the fold was.
 */
function foldedProducts(steps: Step[], kept: readonly number[]): void {
  const readers = (id: number) => steps.filter((st) => st.inputIds.includes(id));
  for (let i = 0; i < steps.length; i++) {
    if (!single(steps[i], "matmul")) continue;
    const a = steps[i]!;
    const out = a.outIds[0]!;
    const rs = readers(out);
    const r = rs[0];
    if (rs.length !== 1 || !single(r, "reshape") || kept.includes(out)) continue;
    const fs = readers(r.outIds[0]!);
    const f = fs[0];
    if (fs.length !== 1 || !single(f, "fold") || kept.includes(r.outIds[0]!)) continue;
    const [x, y] = a.nodes[0]!.operands as [Operand, Operand];
    const p = f.nodes[0]!.attrs as WindowParams & { outputShape: number[] };
    if (x.dtype !== "float32" || !foldsProduct(x.shape, y.shape, p.outputShape, p)) continue;
    const j = steps.indexOf(f);
    steps[j] = { group: null, joint: { kind: "matmulFold", internal: [out, r.outIds[0]!] }, nodes: [a.nodes[0]!, r.nodes[0]!, f.nodes[0]!], inputIds: a.inputIds.slice(), outIds: f.outIds.slice(), names: ["matmul", "reshape", "fold"] };
    steps.splice(steps.indexOf(r), 1);
    steps.splice(i--, 1);
  }
}

/**
 * A 2-d float32 matmul whose product only a fused run reads — a layer's bias add and activation,
 * `relu(x·W + b)` — becomes one step: the run is done as the epilogue of the product's column
 * blocks, each while it is in its thread's cache (wasm/dispatch/matmul.ts's `matmulEpilogue`),
 * and the product is never stored as a tensor; where the run was a second thread job reading the
 * whole product back. The run must not reduce (a row's sum spans column blocks) nor permute, and
 * covers the product's rows × columns: its row operands are rows of the product's length, or it
 * has none (then any split of the elements is the same loop). The same kernels' operations, so
 * the same bits. The step sits where the run was.
 */
function matmulEpilogues(steps: Step[], kept: readonly number[], values: readonly Value[]): void {
  for (let i = 0; i < steps.length; i++) {
    if (!single(steps[i], "matmul")) continue;
    const a = steps[i]!;
    const out = a.outIds[0]!;
    const readers = steps.filter((st) => st.inputIds.includes(out));
    const r = readers[0];
    const g = r?.group;
    if (readers.length !== 1 || r!.joint !== null || !g || g.kernel === null || g.reduced !== null || g.before.length + g.after.length > 0 || kept.includes(out)) continue;
    const [x, y] = a.nodes[0]!.operands as [Operand, Operand];
    const shape = values[out]!.shape;
    const at = g.vecIds.indexOf(out);
    const spec = g.spec!;
    if (x.dtype !== "float32" || x.rank !== 2 || y.rank !== 2 || shape.length !== 2 || spec.vectors[at] !== "f") continue;
    const flat = [...spec.vectors, ...spec.outKinds].every((kind) => kind === "f" || kind === "b");
    if (!flat && (g.rows !== shape[0] || g.m !== shape[1])) continue;
    const j = steps.indexOf(r!);
    const inputIds = [...new Set([...a.inputIds, ...r!.inputIds.filter((id) => id !== out)])];
    steps[j] = { group: g, joint: { kind: "epilogue", at, kernel: epilogueKernel(spec), rest: r! }, nodes: [a.nodes[0]!, ...r!.nodes], inputIds, outIds: r!.outIds, names: ["matmul", ...r!.names] };
    steps.splice(i--, 1);
  }
}

/** A product with its epilogue (see {@link matmulEpilogues}): one wasm thread job, or (another backend, operands off wasm memory, a product the packed path does not split by columns) the product, then the run. */
function runEpilogue(st: Step, e: Epilogue, b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const mm = st.nodes[0]!;
  const g = st.group!;
  if (b.name === "wasm") {
    // The product's place holds 0 (it is never made; matmulEpilogue points it at its block).
    const vecs = g.vecIds.map((id, k) => (k === e.at ? 0 : unviewed(slots[id]!)));
    const [x, y] = mm.operands as [Operand, Operand];
    const outs = residentBuffers(vecs) ? matmulEpilogue(slots[mm.inputIds[0]!]!, x.shape, slots[mm.inputIds[1]!]!, y.shape, e.kernel, vecs, e.at, g.scalarIds.map((id) => (slots[id] as unknown as Float32Array)[0]!), g.outBytes) : null;
    if (outs !== null) {
      for (let k = 0; k < outs.length; k++) store(g.outIds[k]!, outs[k]!, b, slots, tokens, managed);
      return;
    }
  }
  runNode(mm, b, slots, tokens, managed);
  runGroup(e.rest, b, slots, tokens, managed);
  releaseSlots([mm.out], b, slots, tokens);
}

/** Whether `st` is one unfused node of primitive `name`. */
const single = (st: Step | undefined, name: string): st is Step => st !== undefined && st.group === null && st.joint === null && st.names[0] === name;

/**
 * A max pooling's window choice and the gather of its input at that choice (maxPool2d's two
 * primitives) become one step: one kernel pass writes both the indices, which the backward's
 * scatter reads, and the pooled values (wasm/dispatch/window.ts's `windowMax`), where the gather
 * was a second pass reading the input at random. The values are the input's own bits, as the
 * gather's. The step sits where the gather was; nothing between reads the indices.
 */
function pooledMax(steps: Step[]): void {
  for (let i = 0; i < steps.length; i++) {
    const a = steps[i]!;
    if (!single(a, "windowArgmax")) continue;
    const [x, idx] = [a.inputIds[0]!, a.outIds[0]!];
    let j = i + 1;
    while (j < steps.length && !steps[j]!.inputIds.includes(idx)) j++;
    const g = steps[j];
    if (g === undefined || !single(g, "gather") || g.inputIds[1] !== idx || (g.nodes[0]!.attrs as { axis: number }).axis !== 0) continue;
    // The gather reads x flattened (maxPool2d's reshape): x itself, in the kernel's order.
    const xf = g.inputIds[0]!;
    if (!steps.some((st) => single(st, "reshape") && st.outIds[0] === xf && st.inputIds[0] === x)) continue;
    steps[j] = { group: null, joint: { kind: "maxPool" }, nodes: [a.nodes[0]!, g.nodes[0]!], inputIds: [x, xf], outIds: [idx, g.outIds[0]!], names: ["windowArgmax", "gather"] };
    steps.splice(i--, 1);
  }
}

/**
 * The scatter of a max pooling's gradient to the elements its windows chose, where 2×2 windows at
 * stride 2 tile the input exactly (LeNet's, most CNNs' pooling): one pass writes every element,
 * the chosen ones 0 + g and the others zero (wasm/dispatch/window.ts's `maxUnpool2`), where
 * scatterAdd zeroed the whole input's gradient first, checked every index and then added. Each
 * element lies in exactly one window, so the bits are scatterAdd's.
 */
function unpooledMax(steps: Step[]): void {
  const pools = new Map<number, NodeStep>(); // index value → its windowArgmax node
  for (const st of steps) if (st.joint?.kind === "maxPool") pools.set(st.outIds[0]!, st.nodes[0]!);
  steps.forEach((st, i) => {
    const a = single(st, "scatterAdd") ? pools.get(st.inputIds[1]!) : undefined;
    if (a === undefined || a.operands[0]!.dtype !== "float32" || (st.nodes[0]!.attrs as { axis: number }).axis !== 0) return;
    const [shape, p] = [a.operands[0]!.shape, a.attrs as WindowParams];
    if (tilesPool2(shape, p)) steps[i] = { ...st, joint: { kind: "maxUnpool", shape, p }, names: ["maxUnpool"] };
  });
}

/** Max pooling's joint step (see {@link pooledMax}): one kernel pass, or (not a float32 wasm buffer) its two nodes. */
function runPool(st: Step, b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const [a, g] = st.nodes as [NodeStep, NodeStep];
  const x = a.operands[0]!;
  const r = b.name === "wasm" && x.dtype === "float32" ? windowMax(slots[a.inputIds[0]!]!, x.shape, a.attrs as WindowParams) : null;
  if (r === null) {
    runNode(a, b, slots, tokens, managed);
    runNode(g, b, slots, tokens, managed);
    return;
  }
  store(a.out, r[0], b, slots, tokens, managed);
  store(g.out, r[1], b, slots, tokens, managed);
}

/** A joint step: its matmuls as one wasm thread job, or a max pooling's kernel; (another backend, or operands off wasm memory) its nodes one by one. */
function runJoint(st: Step, values: readonly Value[], b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const j = st.joint!;
  if (j.kind === "maxPool") return runPool(st, b, slots, tokens, managed);
  if (j.kind === "matmulFold") return runMatmulFold(st, j.internal, b, slots, tokens, managed);
  if (j.kind === "epilogue") return runEpilogue(st, j, b, slots, tokens, managed);
  if (j.kind === "maxUnpool") {
    const n = st.nodes[0]!;
    const r = b.name === "wasm" ? maxUnpool2(slots[n.inputIds[0]!]!, slots[n.inputIds[1]!]!, j.shape, j.p) : null;
    if (r === null) runNode(n, b, slots, tokens, managed);
    else store(n.out, r, b, slots, tokens, managed);
    return;
  }
  if (b.name !== "wasm") {
    for (const n of st.nodes) runNode(n, b, slots, tokens, managed);
    return;
  }
  const args = st.nodes.map((n): MatmulArgs => {
    const [x, y] = n.operands;
    return [slots[n.inputIds[0]!]!, x!.shape, slots[n.inputIds[1]!]!, y!.shape, values[n.out]!.shape, x!.dtype];
  });
  const outs = matmuls(args);
  for (let k = 0; k < outs.length; k++) store(st.nodes[k]!.out, outs[k]!, b, slots, tokens, managed);
}

/** A product folded into images (see {@link foldedProducts}): one wasm thread job, or (another backend, other operands) its three nodes. */
function runMatmulFold(st: Step, internal: readonly number[], b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const [mm, , f] = st.nodes as [NodeStep, NodeStep, NodeStep];
  const [x, y] = mm.operands as [Operand, Operand];
  const p = f.attrs as WindowParams & { outputShape: number[] };
  const r = b.name === "wasm" && x.dtype === "float32" ? matmulFold(slots[mm.inputIds[0]!]!, x.shape, slots[mm.inputIds[1]!]!, y.shape, p.outputShape, p) : null;
  if (r !== null) return store(f.out, r, b, slots, tokens, managed);
  for (const n of st.nodes) runNode(n, b, slots, tokens, managed);
  releaseSlots(internal, b, slots, tokens);
}

/** A fused run: one generated kernel (or loop, for small tensors), or — an operand not where it expects it — its nodes one by one. */
function runGroup(st: Step, b: Backend, slots: BackendData[], tokens: unknown[], managed: boolean): void {
  const g = st.group!;
  // A lazy transpose (a weight gradient through transpose's VJP) or convolution columns are
  // materialized once, as any kernel but matmul does (the view keeps them); the fused kernel then
  // reads them like a buffer.
  const vecs = g.vecIds.map((id) => unviewed(slots[id]!));
  if (g.host !== null) {
    if (hostOperands(slots, g.vecIds) && hostOperands(slots, g.scalarIds)) {
      const outs = g.host(vecs as unknown as TypedArray[], g.scalarIds.map((id) => slots[id] as unknown as TypedArray), g.m);
      for (let k = 0; k < outs.length; k++) store(g.outIds[k]!, outs[k]!, b, slots, tokens, managed);
      return;
    }
  } else if (residentBuffers(vecs)) {
    const outs = runFused(g.kernel!, vecs, g.scalarIds.map((id) => (slots[id] as unknown as Float32Array)[0]!), g.outBytes, g.rows, g.m);
    for (let k = 0; k < outs.length; k++) store(g.outIds[k]!, outs[k]!, b, slots, tokens, managed);
    return;
  }
  for (const n of st.nodes) runNode(n, b, slots, tokens, managed);
  releaseSlots(g.internal, b, slots, tokens);
}

/** A slot's storage as a fused kernel reads it: a lazy view made a buffer (kept by the view), anything else as it is. */
const unviewed = (h: BackendData) => (isView(h) ? solid(h) : h);

/** The fallback's values between a joint or fused step's nodes (never made by its one kernel): released again. */
function releaseSlots(ids: readonly number[], b: Backend, slots: BackendData[], tokens: unknown[]): void {
  for (const id of ids) {
    if (tokens[id]) b.release!(slots[id]!, tokens[id]);
    slots[id] = null as unknown as BackendData;
  }
}

/** Drops the plan's own references to the kept values (after the results took theirs). @example `const y = wrap(p, outId); releaseKept(p); // y keeps the storage` */
export function releaseKept(p: Plan): void {
  const b = p.backend;
  for (const id of p.kept) {
    if (p.slots[id] && p.tokens[id]) b.release!(p.slots[id]!, p.tokens[id]);
    p.tokens[id] = false;
    p.slots[id] = null as unknown as BackendData;
  }
}

/** A tensor over the storage of value `id` (it takes its own reference). @example `wrap(p, outId).arraySync();` */
export function wrap(p: Plan, id: number): Tensor {
  const v = p.values[id]!;
  return new Tensor(p.slots[id]!, v.shape, v.dtype, p.backend);
}

/** Frees the plan's constants. @example `disposePlan(p); // when its cache entry is dropped` */
export function disposePlan(p: Plan): void {
  for (const c of p.consts) c?.dispose();
}
