/**
 * matmul: batched GEMM through the packed sgemm kernels, split into jobs for the worker threads.
 */
import type { BackendData, WindowParams } from "../../backend.js";
import { cpuBackend } from "../../cpu/index.js";
import { type DType } from "../../dtype.js";
import { batchMatrixIndices, sizeOf, windowOutSize, type Shape } from "../../shape.js";
import { FOLD_PARAMS, GEMM_PANEL, GEMM_DOT, GEMM_DOT_COLS, GEMM_SCRATCH, MR, NC, NR } from "../kernels.js";
import { evenRuns, getNumThreads, pooled, PRODUCT_THREAD_WORK, runKernelTasks, runTasks } from "../threads.js";
import { bindFused, type EpilogueKernel } from "../fuse.js";
import { lazyProduct } from "../lazy.js";
import type { WasmBuffer } from "../memory.js";
import { Call, ColumnsView, isHost, large, solid, viaCpu, view, TransposedView, SMALL_BYTES, type Data } from "../placement.js";

/** Products sharing A are folded into one only below this many columns per batch (see matmul). */
const FOLD_N = 2 * NR;

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/**
 * A matmul operand in wasm memory: its pointer, and whether it is stored transposed; or
 * convolution columns never written out (`cols`; `ptr` unused).
 */
interface Operand {
  ptr: number;
  t: boolean;
  cols: ColumnsView | null;
}

function operand(c: Call, d: BackendData, n: number): Operand {
  if (d instanceof TransposedView) {
    if (d.base instanceof ColumnsView) return { ptr: 0, t: true, cols: d.base };
    return { ptr: c.rt.heap.pinResident(d.base), t: true, cols: null };
  }
  if (d instanceof ColumnsView) return { ptr: 0, t: false, cols: d };
  return { ptr: c.in(d, "float32", n), t: false, cols: null };
}

/** @internal Products that read convolution columns in place, by path (tests check that they ran). */
export const columnProducts = { packed: 0, dot: 0 };

/**
 * Columns read in place (see placement.ts's ColumnsView) by the two products a convolution
 * makes of them: its forward W·cols, packed straight from the image (packBCols), and its weight
 * gradient Ḡ·colsᵀ on the dot-product path (gemmDotCols). Anything else writes them out first.
 */
function readsColumns(A: Operand, B: Operand, nb: number, m: number, n: number, k: number): boolean {
  if (A.cols !== null || B.cols === null || nb !== 1) return false;
  const v = B.cols;
  // B is the [rows, cols] matrix the view describes (forward), or its transpose (weight gradient,
  // on the dot path).
  return B.t ? k === v.cols && n === v.rows && dotPath(A, B, m, n, k) : k === v.rows && n === v.cols;
}

/** The image's pointer and the view's offset tables, copied in for this call. */
function columnTables(c: Call, v: ColumnsView): { X: number; rowTab: number; groupTab: number; laneTab: number } {
  const heap = c.rt.heap;
  const X = heap.pinResident(v.base);
  const copy = (t: Int32Array) => {
    const p = c.temp(Math.max(4, t.byteLength));
    heap.u8.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), p);
    return p;
  };
  return { X, rowTab: copy(v.rowOffsets), groupTab: copy(v.columnGroups), laneTab: copy(v.laneOffsets) };
}

/**
 * Batched float32 matmul: `out[b] = a[b] · y[b]` over broadcast batch dims. Accumulates in
 * float32 (the cpu kernel in float64), so results differ by at most the summation-order bound
 * (k + 2)·2⁻²⁴·Σₚ|aᵢₚ·bₚⱼ| from the exactly rounded product — whatever the order, so it covers
 * both paths: the packed one (k in blocks of KC, each summed in order) and the dot-product one
 * for skinny long-k A·Bᵀ (float32 sums over k-chunks of at most 1024, added in float64 and
 * rounded once). Which path an element takes depends on the product's shape only, never on the
 * thread count. Either operand may be a {@link TransposedView} (packed straight from its base).
 *
 * A batch that shares B is folded into one product of stacked rows `[nb·m, k]·[k, n]` (on the
 * packed path each element's sum runs over p in the same order either way); a batch
 * sharing A with narrow B (n < 2·NR) puts the B matrices side by side, `[m, k]·[k, nb·n]`, which
 * packs A once instead of nb times and keeps n = 1 products from padding every tile to NR columns.
 * All products of a call form one parallel job (see threads.ts).
 */
export function matmul(x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType): Data {
  if (dtype === "float32") {
    // A large product of blocks is deferred (lazy.ts): run where its values are needed, into a
    // block no tensor keeps when it is only read or reduced.
    const v = lazyProduct(x, y, sizeOf(outShape), (a, b) => matmuls([[a, xs, b, ys, outShape, dtype]])[0] as WasmBuffer);
    if (v !== null) return v;
  }
  return matmuls([[x, xs, y, ys, outShape, dtype]])[0]!;
}

/** The arguments of one {@link matmul}. */
export type MatmulArgs = [x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, dtype: DType];

/**
 * Several independent matmuls as one parallel job: their tasks share one table, so the threads'
 * idle tail at the end of a job (the last task still running on one thread) is paid once
 * instead of once per product — compile() runs a backward pass's dX and dW products this way.
 * The tasks are the ones each product makes alone, so the results are {@link matmul}'s, bit for
 * bit.
 *
 * @example `const [dx, dw] = matmuls([[g, [200, 784], wT, [784, 784], [200, 784], "float32"], [xT, [784, 200], g, [200, 784], [784, 784], "float32"]]);`
 */
export function matmuls(calls: readonly MatmulArgs[]): Data[] {
  const out: (Data | null)[] = [];
  const pending: { c: Call; o: ReturnType<Call["out"]>; nOut: number; i: number }[] = [];
  const job: Job = { tasks: [], after: [], work: 0 };
  let first: Call | null = null;
  for (const [x, xs, y, ys, outShape, dtype] of calls) {
    const nOut = sizeOf(outShape);
    if (dtype !== "float32" || (isHost(x) && isHost(y) && !large(dtype, nOut) && sizeOf(xs) * 4 < SMALL_BYTES && sizeOf(ys) * 4 < SMALL_BYTES)) {
      out.push(viaCpu(dtype, cpuBackend.matmul, view(x, dtype, sizeOf(xs)), xs, view(y, dtype, sizeOf(ys)), ys, outShape, dtype));
      continue;
    }
    const r = outShape.length;
    const m = outShape[r - 2]!;
    const n = outShape[r - 1]!;
    const k = xs[xs.length - 1]!;
    const c = new Call();
    first ??= c;
    const A = operand(c, x, sizeOf(xs));
    const B = operand(c, y, sizeOf(ys));
    for (const op of [A, B]) {
      if (op.cols !== null && (op === A || !readsColumns(A, B, sizeOf(outShape.slice(0, -2)), m, n, k))) {
        op.ptr = c.rt.heap.pinResident(solid(op.cols));
        op.cols = null;
      }
    }
    const o = c.out(dtype, nOut);
    if (nOut > 0) {
      if (k === 0) c.rt.k.fill8(o.ptr, nOut * 4, 0);
      else products(c, job, A, xs, B, ys, outShape, m, n, k, o.ptr);
    }
    pending.push({ c, o, nOut, i: out.length });
    out.push(null);
  }
  if (first !== null && job.tasks.length > 0) {
    const c = first;
    runTasks(c.rt.k, "gemmBlock", job.tasks, GEMM_SCRATCH, (b) => c.temp(b), (b) => c.temp(b), job.work);
  }
  for (const f of job.after) f();
  for (const p of pending) out[p.i] = p.c.finish(p.o, "float32", p.nOut);
  return out as Data[];
}

/** The products of one batched matmul as tasks added to `job` (and what runs after it: copies out of a folded product, sums of k-chunks). */
function products(c: Call, job: Job, A: Operand, as: Shape, B: Operand, bs: Shape, outShape: Shape, m: number, n: number, k: number, out: number): void {
  const nb = sizeOf(outShape.slice(0, -2));
  if (B.cols !== null) return gemm(c, job, A, m, B, m, n, k, out); // one product (readsColumns)
  const aMats = sizeOf(as) / (m * k);
  const bMats = sizeOf(bs) / (k * n);
  if (nb > 1 && bMats === 1 && aMats === nb && !A.t) {
    gemm(c, job, A, k, B, m * nb, n, k, out);
  } else if (nb > 1 && aMats === 1 && bMats === nb && n < FOLD_N) {
    // Bcat[p][t·n + j] = b[t][p][j]: one [m, k]·[k, nb·n] product, then out[t][i][j] = C[i][t·n + j].
    const w = nb * n;
    const bc = c.temp(k * w * 4);
    for (let t = 0; t < nb; t++) {
      if (B.t) c.rt.k.scatter4(B.ptr + t * n * k * 4, bc + t * n * 4, n, k, 4, w * 4);
      else c.rt.k.copyRows(B.ptr + t * k * n * 4, n * 4, bc + t * n * 4, w * 4, k, n * 4);
    }
    const C = c.temp(m * w * 4);
    gemm(c, job, A, m, { ptr: bc, t: false, cols: null }, m, w, k, C);
    job.after.push(() => {
      for (let t = 0; t < nb; t++) c.rt.k.copyRows(C + t * n * 4, w * 4, out + t * m * n * 4, n * 4, m, n * 4);
    });
  } else {
    const mats = batchMatrixIndices(as, bs, outShape);
    for (let t = 0; t < nb; t++) {
      gemm(c, job, { ptr: A.ptr + mats.a[t]! * m * k * 4, t: A.t, cols: null }, m, { ptr: B.ptr + mats.b[t]! * k * n * 4, t: B.t, cols: null }, m, n, k, out + t * m * n * 4);
    }
  }
}

interface Job {
  tasks: number[][];
  after: (() => void)[];
  work: number;
}

/** C = A·Bᵀ with both operands k-contiguous takes the dot-product path below this many outputs … */
const DOT_MAX_OUT = 4096;
/** … from this k on. */
const DOT_MIN_K = 1024;

/**
 * k-steps per chunk of the dot-product path: about k/8 (so two threads get a balanced share),
 * a multiple of 4 within [256, 1024] so each chunk's rows stay in cache. A function of k alone:
 * the chunks, and so the order of the partial sums, never depend on the thread count.
 */
function dotChunk(k: number): number {
  return Math.min(1024, Math.max(256, roundUp(Math.ceil(k / 8), 4)));
}

/**
 * Adds the tasks of one product C = A·B (m×k · k×n) into `out` (row stride n). `aRows` is A's
 * row count as stored when transposed (its leading dimension).
 *
 * The skinny long-k product A·Bᵀ with both operands k-contiguous (a convolution's weight
 * gradient dY·colsᵀ: m·n ≤ DOT_MAX_OUT, k ≥ DOT_MIN_K) runs as dot-product tiles over chunks of
 * k ({@link dotChunk}), one task per chunk writing its own partial C, summed in chunk order after
 * the job (in float64, rounded once). Everything else: column blocks of at most NC, narrower when
 * threads can share them, each a gemmPanel task (through gemmBlock) writing its columns of `out`
 * in place — or, for a product with fewer column strips than blocks (`rowSplit`; a caller that
 * needs whole columns per task says false), blocks of rows. Each element is the same sum
 * whichever block it falls in.
 */
function gemm(c: Call, job: Job, A: Operand, aRows: number, B: Operand, m: number, n: number, k: number, out: number, rowSplit = true): void {
  job.work += m * n * k;
  if (dotPath(A, B, m, n, k)) {
    const ks = dotChunk(k);
    const chunks = Math.ceil(k / ks);
    const P = c.temp(chunks * m * n * 4);
    const cols = B.cols === null ? null : columnTables(c, B.cols);
    if (cols !== null) columnProducts.dot++;
    for (let q = 0; q < chunks; q++) {
      const [p0, p1, Pq] = [q * ks, Math.min(k, (q + 1) * ks), P + q * m * n * 4];
      job.tasks.push(cols === null ? [GEMM_DOT, A.ptr, B.ptr, k, m, n, Pq, p0, p1, 0, 0, 0, 0] : [GEMM_DOT_COLS, A.ptr, cols.X, k, m, n, Pq, p0, p1, cols.rowTab, cols.groupTab, cols.laneTab, 0]);
    }
    const acc = c.temp(m * n * 8);
    job.after.push(() => c.rt.k.sumOuter(P, out, 1, chunks, m * n, acc));
    return;
  }
  // Two blocks per thread when threads share the product, so a thread slowed by others on its
  // core does not hold the whole job up (tasks are claimed dynamically); one block when the
  // product is too small to wake a thread for (a joint job may still hand it to one), as every
  // block packs the rows of A it reads again.
  const threads = m * n * k >= PRODUCT_THREAD_WORK ? getNumThreads() : 1;
  const parts = threads > 1 ? 2 * threads : 1;
  // A narrow product (a classifier's n = 10 outputs) has fewer column strips than blocks: its
  // rows are split instead, each block packing its own rows of A and all of the narrow B.
  if (rowSplit && parts > 1 && B.cols === null && Math.ceil(n / NR) < parts && m >= parts * MR) {
    const rows = roundUp(Math.ceil(m / parts), MR);
    for (let i0 = 0; i0 < m; i0 += rows) {
      const a = A.ptr + i0 * (A.t ? 1 : k) * 4;
      job.tasks.push([GEMM_PANEL, a, A.t ? 1 : 0, aRows, B.ptr, B.t ? 1 : 0, k, Math.min(rows, m - i0), n, out + i0 * n * 4, n, 0, n]);
    }
    return;
  }
  const width = Math.min(NC, roundUp(Math.ceil(n / parts), NR));
  let [b, bT] = [B.ptr, B.t ? 1 : 0];
  if (B.cols !== null) {
    // Columns packed straight from the image (packBCols reads this description).
    const { X, rowTab, groupTab, laneTab } = columnTables(c, B.cols);
    b = c.temp(16);
    new Int32Array(c.rt.heap.memory.buffer as ArrayBuffer, b, 4).set([X, rowTab, groupTab, laneTab]);
    bT = 2;
    columnProducts.packed++;
  }
  for (let jc = 0; jc < n; jc += width) {
    job.tasks.push([GEMM_PANEL, A.ptr, A.t ? 1 : 0, aRows, b, bT, k, m, n, out, n, jc, Math.min(width, n - jc)]);
  }
}

/**
 * A 2-d float32 product C = x·y and the fused chain that reads it (its bias add and activation) as
 * one thread job: each task computes a column block of C, then runs the chain over those columns
 * while they are in the thread's cache (`k`, see fuse.ts's {@link EpilogueKernel}), where the
 * chain was a second job reading C back from memory. C is never a tensor: it is written into the
 * chain's first float output, which the chain then overwrites in place, or (none) into a block
 * the call holds. `vectors` are the chain's vector operands with C's place, `at`, unused; the
 * rest as {@link runFused}'s. The product's tasks and sums are {@link matmul}'s and the chain's
 * lane operations the fused kernel's, so the bits are the two run apart, on any thread count.
 * Null (the caller runs the two) for a product the packed path does not take in column blocks:
 * a batch, convolution columns, the dot-product path, or one small enough for the JS heap.
 *
 * @example `const [mask, y] = matmulEpilogue(x, [200, 784], w, [784, 784], k, [null, bias], 0, [0], [1, 4])!; // relu(x·w + b) and its mask`
 */
export function matmulEpilogue(x: BackendData, xs: Shape, y: BackendData, ys: Shape, k: EpilogueKernel, vectors: readonly unknown[], at: number, scalars: readonly number[], outBytes: readonly number[]): (WasmBuffer | Float32Array)[] | null {
  if (xs.length !== 2 || ys.length !== 2 || columnsOf(x) || columnsOf(y)) return null;
  const [m, kk, n] = [xs[0]!, xs[1]!, ys[1]!];
  if (kk === 0 || !large("float32", m * n)) return null;
  const c = new Call();
  try {
    const A = operand(c, x, m * kk);
    const B = operand(c, y, kk * n);
    if (dotPath(A, B, m, n, kk)) return null;
    const { outs } = bindFused(k, false, vectors.map((v, i) => (i === at ? 0 : v)), scalars, outBytes, m, n, (b) => c.temp(b));
    // C is written into a float output, where there is one, and the chain overwrites it in
    // place (each element is loaded before any output is stored); else into a block of the call.
    const o = outBytes.indexOf(4);
    const C = o >= 0 ? (outs[o] as WasmBuffer).ptr : c.temp(m * n * 4);
    c.rt.heap.i32[(k.args >> 2) + at] = C;
    const job: Job = { tasks: [], after: [], work: 0 };
    gemm(c, job, A, m, B, m, n, kk, C, false);
    // [GEMM_PANEL, A, aT, aRows, B, bT, k, m, n, C, ldc, jc, nc] → the epilogue's (args, A, …, nc).
    const tasks = job.tasks.map((t) => [k.args, ...t.slice(1)]);
    const f = k.fn as (...a: number[]) => void;
    if (getNumThreads() > 1 && job.work >= PRODUCT_THREAD_WORK && pooled(k)) runKernelTasks(k.id, f, tasks, GEMM_SCRATCH, (b) => c.temp(b));
    else {
      const s = c.temp(GEMM_SCRATCH);
      for (const t of tasks) f(...t, s);
    }
    return outs;
  } finally {
    c.done();
  }
}

/** Whether a matmul operand is convolution columns never written out (or their lazy transpose). */
const columnsOf = (d: BackendData) => d instanceof ColumnsView || (d instanceof TransposedView && d.base instanceof ColumnsView);

/** Whether C = A·Bᵀ takes the dot-product path (skinny, long k, both operands k-contiguous). */
function dotPath(A: Operand, B: Operand, m: number, n: number, k: number): boolean {
  return !A.t && B.t && m * n <= DOT_MAX_OUT && k >= DOT_MIN_K;
}

/**
 * Whether {@link matmulFold} takes fold(x·y) of these shapes: one product (no batch), columns
 * `[C·KH·KW, N·L]` with the batch inside, nonempty, one image's columns within a task's block,
 * and the product large enough to land in wasm memory — a smaller one goes to the JS heap, and
 * the two kernels then run on the cpu, which sums in float64 (other bits).
 *
 * @example `foldsProduct([150, 16], [16, 6400], [64, 6, 14, 14], p) // true for LeNet's C3`
 */
export function foldsProduct(xs: Shape, ys: Shape, outShape: Shape, p: WindowParams): boolean {
  return foldGeometry(xs, ys, outShape, p) !== null;
}

/** The product's and the fold's sizes where {@link foldsProduct} holds; null elsewhere. */
function foldGeometry(xs: Shape, ys: Shape, outShape: Shape, p: WindowParams) {
  if (p.batchInColumns !== true || xs.length < 2 || ys.length < 2 || outShape.length !== 4) return null;
  const [N, ch, h, w] = outShape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  const [m, k, n] = [xs[xs.length - 2]!, xs[xs.length - 1]!, ys[ys.length - 1]!];
  const ok = N > 0 && k > 0 && oh * ow > 0 && sizeOf(xs) === m * k && sizeOf(ys) === k * n && m === ch * p.kernel[0] * p.kernel[1] && n === N * oh * ow && m * oh * ow * 4 <= FOLD_BLOCK_BYTES && large("float32", m * n);
  return ok ? { N, ch, h, w, oh, ow, m, k, n } : null;
}

/** The product block each task of {@link matmulFold} keeps in its scratch, at most (bytes). */
const FOLD_BLOCK_BYTES = 256 * 1024;

/**
 * fold(x·y) (col2im of a product; `outShape` and `p` fold's) as one thread job: a convolution's
 * input gradient Wᵀ·Ḡ, whose columns `[C·KH·KW, N·L]` — 25× the image for a 5×5 kernel — were
 * written out and read back by fold. Each task takes a run of images: its columns of the
 * product into its scratch (at most {@link FOLD_BLOCK_BYTES}, so they stay in cache), then their
 * fold into those images (wasm gemmFold). compile() runs a matmul whose only reader is a fold
 * this way. The same products and the same sums as matmul then fold, so the same bits, on any
 * thread count. Null (the caller runs the two ops) unless both operands are float32 matrices
 * in wasm memory or on the host (not convolution columns) and the columns have the batch
 * inside (`p.batchInColumns`).
 *
 * @example `const dx = matmulFold(wT, [150, 16], g, [16, 6400], [64, 6, 14, 14], p);`
 */
export function matmulFold(x: BackendData, xs: Shape, y: BackendData, ys: Shape, outShape: Shape, p: WindowParams): Data | null {
  const g = foldGeometry(xs, ys, outShape, p);
  if (g === null || columnsOf(x) || columnsOf(y)) return null;
  const { N, ch, h, w, oh, ow, m, k, n } = g;
  const [L, taps] = [oh * ow, p.kernel[0] * p.kernel[1]];
  const perImage = m * L * 4;
  const c = new Call();
  const A = operand(c, x, m * k);
  const B = operand(c, y, k * n);
  const nOut = sizeOf(outShape);
  const o = c.out("float32", nOut);
  // Runs of images: each block within FOLD_BLOCK_BYTES and NC columns, and a few tasks per thread.
  const most = Math.max(1, Math.min(Math.floor(FOLD_BLOCK_BYTES / perImage), Math.floor(NC / L)));
  const runs = evenRuns(N, Math.min(N, Math.max(Math.ceil(N / most), 4 * getNumThreads())));
  const block = Math.max(...runs.map(([b0, b1]) => (b1 - b0) * perImage));
  const values: Record<(typeof FOLD_PARAMS)[number], number> = {
    A: A.ptr, aT: A.t ? 1 : 0, aRows: m, B: B.ptr, bT: B.t ? 1 : 0, k, m, n,
    image: o.ptr, channels: ch, plane: h * w * 4, L, taps,
    H: h, W: w, KH: p.kernel[0], KW: p.kernel[1], SH: p.stride[0], SW: p.stride[1], PH: p.padding[0], PW: p.padding[1], DH: p.dilation[0], DW: p.dilation[1], OH: oh, OW: ow,
    cAt: GEMM_SCRATCH,
  };
  const params = c.temp(FOLD_PARAMS.length * 4);
  c.rt.heap.i32.set(FOLD_PARAMS.map((name) => values[name]), params >> 2);
  runTasks(c.rt.k, "gemmFold", runs.map(([b0, b1]) => [params, b0, b1]), GEMM_SCRATCH + block, (b) => c.temp(b), (b) => c.temp(b), m * n * k);
  return c.finish(o, "float32", nOut);
}
