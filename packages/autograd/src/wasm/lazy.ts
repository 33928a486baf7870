/**
 * Deferred elementwise chains and products. A float32 unary op (exp, log, sqrt, …),
 * add/mul/maximum, a comparison (a bool mask) or where on large operands of one size (or against
 * a one-element one) does not run at once: it returns a {@link LazyView}, the op and its
 * operands, which may themselves be deferred — so relu, sigmoid and tanh (built from comparisons
 * and where) defer too. The chain runs as one generated kernel (fuse.ts: every intermediate in
 * registers, one pass over memory) where its values are needed: stored — only its result, kept by
 * the tensor — when another kernel takes it as an operand ({@link force}, reached through
 * placement.ts's `solid`); into a block no tensor keeps for a synchronous read ({@link readLazy});
 * inside the reduction's kernel for a sum or max over its last axes ({@link lazyReduce}), nothing
 * stored. So `x.exp().mul(x).add(1)` makes one 4 MB block instead of three, or none, and in plain
 * code — where dropped results are what the sweep has to reclaim or copy out (memory.ts) — the
 * intermediates, and a result only read or summed, never exist as blocks. A result that is never
 * used is never computed, as in MLX or jax-js. A large float32 matmul is deferred the same way
 * ({@link lazyProduct}): read or reduced — or read or reduced through a chain over it — it runs
 * into a block no tensor keeps; any other kernel, a chain over it that is stored included, stores
 * it. The last op read without being stored keeps its block until the next chain runs, is
 * reduced or is read — and takes it as its result if it is read again or stored before then.
 *
 * Values are unchanged: the fused kernel runs the unfused kernels' own lane arithmetic, rounded
 * to float32 at every op, so a forced chain has the bits the ops one by one would have had, on any
 * number of threads. Storage stays immutable (the core never writes into a tensor's storage), so
 * an operand a chain holds cannot change before it runs. A chain holds its operands as a tensor
 * holds its storage (a reference count, and a token the sweep watches) and lets go of them once
 * it has been stored or released. Small tensors, float64 and broadcasts other than against one
 * element run at once, as before.
 */
import { Token, WasmBuffer } from "./memory.js";
import { fusedKernel, runFused, type FusedSpec } from "./fuse.js";
import { runtime } from "./runtime.js";

/**
 * Elements from which an op is deferred (1 MiB of float32): below it an op's own pass costs
 * little more than building and looking up a fused kernel (~10 µs), and its block is small.
 */
export const LAZY_MIN = 1 << 18;
/** Ops in one chain, and leaf operands, at most: a longer chain runs its operands first. */
const MAX_STEPS = 16;
const MAX_LEAVES = 6;

/**
 * Distinct chains compiled into a kernel of their own, at most (each a small WebAssembly module
 * kept for the process): past it a new chain runs op by op, each op a one-op kernel (a bounded
 * set), so a program that builds ever new chains does not compile without end.
 */
export const MAX_CHAIN_KERNELS = 512;

/** @internal Switch for tests and measurements (`enabled = false`: every op runs at once), and counts: deferred ops run and stored, chains run op by op, chains reduced and ops read without being stored, products deferred and products computed. */
export const lazy = { enabled: true, forced: 0, stepwise: 0, reduced: 0, read: 0, products: 0, productRuns: 0, maxKernels: MAX_CHAIN_KERNELS };
/** The chains given a kernel of their own so far (by their spec's text). */
const chains = new Set<string>();

/** An operand of a deferred op: a block, another deferred op, a one-element operand's value, or (a product's) a small host array. */
type Operand = WasmBuffer | LazyView | number | Float32Array;
/** A deferred product's operand as it runs: a block, or a small host array. */
export type ProductOperand = WasmBuffer | Float32Array;

/** A deferred elementwise op over `n` float32 elements (see the module comment). */
export class LazyView {
  /** Tensors and deferred ops referencing it (Backend.retain / release). */
  refs = 0;
  /** The result, once computed, held as a tensor holds its block (`token`). */
  solid: WasmBuffer | null = null;
  token: Token | true | null = null;
  /** The op and its operands until it runs (null after), the holds on the block operands, ops and leaves in the chain. */
  args: Operand[] | null;
  holds: (Token | true | null)[] | null;
  readonly steps: number;
  readonly leaves: number;

  constructor(
    readonly op: string,
    args: Operand[],
    readonly n: number,
    /** For a deferred matmul ({@link lazyProduct}): the product of its two operands' blocks, as a new block. */
    readonly product: ((a: ProductOperand, b: ProductOperand) => WasmBuffer) | null = null,
  ) {
    [this.steps, this.leaves] = extent(args);
    this.args = args;
    this.holds = args.map(hold);
  }

  /** Whether its values are bool bytes (a comparison's mask) rather than float32. */
  get bool(): boolean {
    return this.op.startsWith("cmp:");
  }
}

/** Ops and leaf operands (blocks and deferred products, counted once per use) of an op over `args`. */
function extent(args: readonly Operand[]): [number, number] {
  let steps = 1;
  let leaves = 0;
  for (const a of args) {
    if (a instanceof LazyView && a.product === null) (steps += a.steps), (leaves += a.leaves);
    else if (typeof a !== "number") leaves++;
  }
  return [steps, leaves];
}

/** An operand starts being referenced (counted; a block also through a token, as a tensor holds its storage). */
function hold(a: Operand): Token | true | null {
  if (typeof a === "number" || a instanceof Float32Array) return null;
  a.refs++;
  return a instanceof WasmBuffer ? runtime().heap.tokens.hold(a) : null;
}

/** One reference to an operand less; the last one frees it. */
function drop(a: WasmBuffer | LazyView): void {
  if (--a.refs > 0) return;
  if (a instanceof WasmBuffer) runtime().heap.drop(a);
  else releaseLazy(a);
}

/** An operand as a deferred op takes it, or null when the op must run at once. */
function operand(d: unknown, size: number, n: number): Operand | null {
  if (size === 1 && ArrayBuffer.isView(d)) return (d as Float32Array)[0]!;
  if (size !== n) return null;
  if (d instanceof LazyView) return d.solid ?? d;
  return d instanceof WasmBuffer ? d : null;
}

/** A deferred op, its deferred operands run first where the chain would grow past its bounds. */
function defer(op: string, args: Operand[], n: number): LazyView {
  const [steps, leaves] = extent(args);
  if (steps > MAX_STEPS || leaves > MAX_LEAVES) args = args.map((a) => (a instanceof LazyView ? force(a) : a));
  return new LazyView(op, args, n);
}

/**
 * @internal A float32 matmul with an output of at least {@link LAZY_MIN} elements, deferred
 * (`run` computes it from its operands' blocks; dispatch/matmul.ts supplies it), or null (run it
 * now). Its operands are blocks, deferred ops or small host arrays (not transposed or columns
 * views). Stored where another kernel takes it, as a chain is ({@link force}); computed into a
 * block no tensor keeps for a synchronous read or a reduction ({@link readLazy}) — so plain code
 * that reads or sums a product and drops it leaves no block behind. A chain over it reads it from
 * such a block when the chain is read or reduced and has no other product ({@link readLazy},
 * {@link lazyReduce}), and takes it as an operand (stores it) otherwise.
 *
 * @example `lazyProduct(a, b, 512 * 512, (x, y) => gemm(x, y))`
 */
export function lazyProduct(x: unknown, y: unknown, n: number, run: (a: ProductOperand, b: ProductOperand) => WasmBuffer): LazyView | null {
  if (!lazy.enabled || n < LAZY_MIN) return null;
  const block = (d: unknown) => (d instanceof LazyView ? (d.solid ?? d) : d instanceof WasmBuffer || d instanceof Float32Array ? d : null);
  const [a, b] = [block(x), block(y)];
  if (a === null || b === null) return null;
  lazy.products++;
  return new LazyView("matmul", [a, b], n, run);
}

/** @internal `op(x)` deferred, or null (run it now). @example `lazyUnary("exp", buf, n)` */
export function lazyUnary(op: string, x: unknown, n: number): LazyView | null {
  if (!lazy.enabled || n < LAZY_MIN) return null;
  const a = operand(x, n, n);
  return a === null || typeof a === "number" ? null : defer(op, [a], n);
}

/** @internal `op(x, y)` deferred (same sizes, or one of one element), or null. @example `lazyBinary("mul", a, n, b, n, n)` */
export function lazyBinary(op: string, x: unknown, xn: number, y: unknown, yn: number, n: number): LazyView | null {
  if (!lazy.enabled || n < LAZY_MIN) return null;
  const a = operand(x, xn, n);
  const b = operand(y, yn, n);
  if (a === null || b === null || (typeof a === "number" && typeof b === "number")) return null;
  return defer(op, [a, b], n);
}

/** @internal The float32 comparison `op(x, y)` deferred as a bool mask (same sizes, or one of one element), or null. @example `lazyCompare("greater", a, n, zero, 1, n)` */
export function lazyCompare(op: string, x: unknown, xn: number, y: unknown, yn: number, n: number): LazyView | null {
  return lazyBinary(`cmp:${op}`, x, xn, y, yn, n);
}

/**
 * @internal `where(cond, x, y)` deferred (a mask of the output's size; values of its size or of
 * one element), or null. @example `lazyWhere(mask, n, a, n, zero, 1, n)`
 */
export function lazyWhere(cond: unknown, cn: number, x: unknown, xn: number, y: unknown, yn: number, n: number): LazyView | null {
  if (!lazy.enabled || n < LAZY_MIN || cn !== n) return null;
  const m = operand(cond, cn, n);
  const a = operand(x, xn, n);
  const b = operand(y, yn, n);
  if (m === null || typeof m === "number" || a === null || b === null) return null;
  return defer("where", [m, a, b], n);
}

/** A chain ready to run: its fused spec and that spec's text, its block operands and one-element values in the spec's order, its length and its result's bytes an element. */
interface Chain {
  spec: FusedSpec;
  key: string;
  vecs: WasmBuffer[];
  scalars: number[];
  n: number;
  bytes: number;
}

/**
 * The chain below `root` (see {@link Chain}). `leaf(a)` gives the block to read for a deferred op
 * met inside the chain in place of its ops (its result once it has run), or null to take its ops
 * in. So `force` fuses the whole chain and `stepwise` runs one op at a time over the same builder.
 * With `reduce`, the root's values are reduced over rows instead of stored ({@link lazyReduce}).
 */
function specOf(root: LazyView, leaf: (a: LazyView) => WasmBuffer | null, reduce?: "sum" | "max", product: (p: LazyView) => WasmBuffer = force): Chain {
  // The chain in post-order: its block operands (each once), one-element values, then its ops.
  const vecs: WasmBuffer[] = [];
  const kinds: string[] = [];
  const scalars: number[] = [];
  type Ref = { k: "v" | "s" | "t"; i: number };
  const steps: { op: string; args: Ref[] }[] = [];
  const seen = new Map<LazyView, Ref>();
  const ref = (a: Operand, bool: boolean): Ref => {
    if (typeof a === "number") return { k: "s", i: scalars.push(a) - 1 };
    if (a instanceof LazyView) {
      // A deferred product is a leaf: its block (stored, or for a chain read or reduced a held one), not a step of a kernel.
      const b = a === root ? null : a.product !== null ? product(a) : leaf(a);
      if (b !== null) return ref(b, bool);
      let r = seen.get(a);
      if (r === undefined) {
        // where's first operand is a mask (bool bytes when it is a block); every other one is float32.
        const args = a.args!.map((x, i) => ref(x, a.op === "where" && i === 0));
        r = { k: "t", i: steps.push({ op: a.op, args }) - 1 };
        seen.set(a, r);
      }
      return r;
    }
    // (A host array is a product's operand only, and a product is never inside a chain.)
    const block = a as WasmBuffer;
    let i = vecs.indexOf(block);
    if (i < 0) (i = vecs.push(block) - 1), kinds.push(bool ? "b" : "f");
    return { k: "v", i };
  };
  const out = ref(root, false);
  const at = (r: Ref) => (r.k === "v" ? r.i : r.k === "s" ? vecs.length + r.i : vecs.length + scalars.length + r.i);
  const spec: FusedSpec = {
    vectors: kinds,
    scalars: scalars.length,
    steps: steps.map((st) => ({ op: st.op, args: st.args.map(at) })),
    outputs: reduce ? [] : [at(out)],
    outKinds: reduce ? [] : [root.bool ? "b" : "f"],
    ...(reduce ? { reduce: { op: reduce, of: at(out) } } : {}),
  };
  return { spec, key: JSON.stringify(spec), vecs, scalars, n: root.n, bytes: root.bool ? 1 : 4 };
}

/** Runs a chain as one kernel; returns its new block. */
function run(c: Chain): WasmBuffer {
  return runFused(fusedKernel(c.spec, c.key), c.vecs, c.scalars, [c.bytes], 1, c.n)[0] as WasmBuffer;
}

/**
 * Blocks of ops read without being stored ({@link readLazy}), by op: the last op read and, when it
 * is a chain over a deferred product, that product (at most two). Let go when the next chain
 * runs, is reduced or is read, or when the op is released; taken as the op's result if the op is
 * stored or read again first (nothing computed twice).
 */
const held = new Map<LazyView, WasmBuffer>();

/** @internal Lets go of the held blocks now (tests that count blocks). @example `dropLastRead();` */
export function dropLastRead(): void {
  dropHeldExcept(null);
}

/** Lets go of the held blocks, except `keep`'s (a product a chain about to run reads). */
function dropHeldExcept(keep: LazyView | null): void {
  for (const [v, b] of held) {
    if (v === keep) continue;
    held.delete(v);
    drop(b);
  }
}

/** The block held for `v`, as its result (then no longer held), or null. */
function takeLastRead(v: LazyView): WasmBuffer | null {
  const b = held.get(v) ?? null;
  held.delete(v);
  return b;
}

/**
 * A chain that has not run, its fused spec, when it can still get a kernel of its own (else null:
 * the caller forces it). A chain over one deferred product (`relu(matmul(a, b))`, read or reduced)
 * reads the product as a read would ({@link readLazy}): from a block no tensor keeps, which stays
 * held (for a read, beside the chain's) — so the product is stored only if it is used again, and
 * then from that block.
 */
function unstored(v: LazyView, reduce?: "sum" | "max"): Chain | null {
  if (!lazy.enabled || v.solid !== null || v.args === null || v.product !== null || held.has(v)) return null;
  const one = soleProduct(v);
  const c = specOf(v, (a) => a.solid, reduce, (p) => (p === one ? (readLazy(p) ?? force(p)) : force(p)));
  if (!chains.has(c.key) && chains.size >= lazy.maxKernels) return null;
  chains.add(c.key);
  dropHeldExcept(one);
  return c;
}

/** The chain's one deferred product that has not run, or null (none, or more than one: one block is held for it). */
function soleProduct(root: LazyView): LazyView | null {
  let found: LazyView | null = null;
  let many = false;
  const seen = new Set<LazyView>();
  const walk = (a: LazyView): void => {
    if (seen.has(a) || a.solid !== null || a.args === null) return;
    seen.add(a);
    if (a.product !== null) {
      if (found !== null) many = true;
      found = a;
      return;
    }
    for (const x of a.args) if (x instanceof LazyView) walk(x);
  };
  walk(root);
  return many ? null : found;
}

/** A deferred product computed (its operands stored first, the held blocks let go so they can be reused). */
function runProduct(v: LazyView): WasmBuffer {
  const [a, b] = (v.args as (ProductOperand | LazyView)[]).map((x) => (x instanceof LazyView ? force(x) : x));
  dropLastRead();
  lazy.productRuns++;
  return v.product!(a!, b!);
}

/**
 * @internal The values of a deferred op that has not run, for a synchronous host read
 * (`dataSync`, `arraySync`) or a reduction: the op — a chain, or a product — runs into a block
 * that no tensor keeps; the op stays deferred, its tensor holding no block. The block is let go
 * when the next chain runs, is reduced or is read (the caller copies the values out, or reduces
 * them, at once), and becomes the op's result if the op is read again or stored before that. So
 * plain code that reads a result and drops it leaves no block for the sweep to reclaim or copy;
 * an op read, then another op read, then the first used again is computed again. A chain over one
 * deferred product reads it from a block held beside the chain's, and let go the same way. Null
 * when `v` has run or the kernel bound is reached (the caller reads the forced chain).
 *
 * @example `const b = readLazy(view); new Float32Array(memory.buffer, b.ptr, view.n).slice();`
 */
export function readLazy(v: LazyView): WasmBuffer | null {
  const h = held.get(v);
  if (h !== undefined) return h;
  let out: WasmBuffer;
  if (v.product !== null && lazy.enabled && v.args !== null) out = runProduct(v);
  else {
    const c = unstored(v);
    if (c === null) return null;
    out = run(c); // the product it read from, if any, stays held beside it
  }
  out.refs = 1;
  held.set(v, out);
  lazy.read++;
  return out;
}

/**
 * @internal The sum or max over each run of `len` elements of a deferred chain that has not run,
 * computed by the chain's kernel without storing the chain (its values are reduced in registers,
 * in sumRows' or maxRows' order: the bits of the chain run and then reduced). The chain stays
 * deferred — a later read runs it then. A product in the chain that has not run (the only one)
 * runs into a held block first, as {@link readLazy} runs it, and is not stored. Null when `v` has
 * run, is a product or held, or the kernel bound is reached (the caller reduces
 * {@link readLazy}'s block, or the forced chain).
 * Returns `rows` floats: a block, or a host array when small.
 *
 * @example `lazyReduce("sum", view, 1, view.n); // Σ of the whole chain, never stored`
 */
export function lazyReduce(op: "sum" | "max", v: LazyView, rows: number, len: number): WasmBuffer | Float32Array | null {
  const c = unstored(v, op);
  if (c === null) return null;
  lazy.reduced++;
  return runFused(fusedKernel(c.spec, c.key), c.vecs, c.scalars, [], rows, len)[0]!;
}

/**
 * Computes a deferred op (its whole chain, as one fused kernel; or its product) if it has not run
 * yet, and lets go of its operands; returns its block. @example `force(view).ptr`
 */
export function force(v: LazyView): WasmBuffer {
  if (v.solid !== null) return v.solid;
  if (v.args === null) throw new Error("wasm backend: read of a released deferred op");
  let out = takeLastRead(v);
  if (out === null && v.product !== null) out = runProduct(v);
  else if (out === null) {
    const c = specOf(v, (a) => a.solid);
    dropLastRead();
    if (chains.has(c.key) || chains.size < lazy.maxKernels) {
      chains.add(c.key);
      out = run(c);
    } else out = stepwise(v);
  }
  const heap = runtime().heap;
  out.refs = 1;
  v.token = heap.tokens.hold(out);
  v.solid = out;
  releaseOperands(v);
  lazy.forced++;
  return out;
}

/** A chain run op by op (one-op kernels; each intermediate freed once its users have run). */
function stepwise(v: LazyView): WasmBuffer {
  lazy.stepwise++;
  const temps = new Map<LazyView, WasmBuffer>();
  // Each op over its operands' blocks (run first, innermost first): a one-op chain.
  const done = (a: LazyView): WasmBuffer => a.solid ?? temps.get(a) ?? (a.product !== null ? force(a) : one(a));
  const one = (a: LazyView): WasmBuffer => {
    for (const x of a.args!) if (x instanceof LazyView) done(x);
    const b = run(specOf(a, done));
    temps.set(a, b);
    return b;
  };
  const out = one(v);
  temps.delete(v);
  const heap = runtime().heap;
  for (const t of temps.values()) heap.drop(t);
  return out;
}

function releaseOperands(v: LazyView): void {
  const [args, holds] = [v.args, v.holds];
  v.args = null;
  v.holds = null;
  if (args === null) return;
  const tokens = runtime().heap.tokens;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (typeof a === "number" || a instanceof Float32Array) continue;
    const h = holds![i];
    if (h instanceof Token) tokens.unhold(h);
    drop(a);
  }
}

/** @internal Its last reference is gone: its result, or its operands if it never ran, are let go. */
export function releaseLazy(v: LazyView): void {
  if (held.has(v)) dropLastRead();
  const s = v.solid;
  if (s === null) return releaseOperands(v);
  if (v.token instanceof Token) runtime().heap.tokens.unhold(v.token);
  v.token = null;
  drop(s);
}
