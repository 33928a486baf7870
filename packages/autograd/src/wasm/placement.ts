/**
 * Where a wasm-backend tensor lives, and the per-call bookkeeping that moves data to the kernels.
 *
 * Placement. Storage of at least {@link SMALL_BYTES} bytes (float32, int32, bool) lives in wasm
 * memory as a {@link WasmBuffer}; smaller tensors and float64 stay ordinary TypedArrays on the
 * JavaScript heap, exactly as on the cpu backend (a scalar graph never touches wasm memory, and
 * the garbage collector keeps owning them). A kernel runs in wasm when its dtype has a wasm
 * kernel and its output or an input is large; a small input is copied in for the call, a small
 * output copied out. Everything else runs the cpu backend's kernel on views of the inputs.
 *
 * A permute that swaps the last two axes of a float32 matrix returns a {@link TransposedView}
 * without moving data: matmul packs straight from it (the VJPs' Ḡ·Bᵀ and Aᵀ·Ḡ); any other kernel
 * materializes it once. A convolution's unfold returns {@link ColumnsView}, its columns as offsets
 * into the image, in the same way. A large elementwise op returns a {@link LazyView} (lazy.ts),
 * run with the rest of its chain where its values are needed: stored for a kernel's operand
 * ({@link solid}), unstored for a synchronous read ({@link readView}) or a sum over its last axes.
 */
import { HostScalar, hostArrayOf, type BackendData } from "../backend.js";
import { allocate, bytesPerElement, type DType, type TypedArray } from "../dtype.js";
import { Token, WasmBuffer } from "./memory.js";
import { SMALL_BYTES } from "./buffer.js";
import { runtime, type Runtime } from "./runtime.js";
import { LazyView, force, readLazy, releaseLazy } from "./lazy.js";

export { LazyView } from "./lazy.js";

export { SMALL_BYTES } from "./buffer.js";

/** A tensor or view starts referencing `base`: counted, and a wasm block held through a token ({@link retain}); released by {@link dropData}. */
function holdBase(base: WasmBuffer | View): Token | true {
  base.refs++;
  return base instanceof WasmBuffer ? runtime().heap.tokens.hold(base) : true;
}

/** A float32 batch of matrices stored transposed: the view is `[…, cols, rows]` of a `[…, rows, cols]` base. */
export class TransposedView {
  refs = 0;
  /** The materialized transpose, made on first use by a kernel other than matmul. */
  solid: WasmBuffer | null = null;
  /**
   * The view's hold on a wasm block, as a tensor's (memory.ts): a transpose dropped unreleased
   * lets the collector's verdict free its base without a copy. A base that is itself a view needs
   * none: it goes unreachable with this one, and its own hold lets go.
   */
  readonly token: Token | true;
  constructor(readonly base: WasmBuffer | ColumnsView, readonly batch: number, readonly rows: number, readonly cols: number) {
    this.token = holdBase(base);
  }
}

/**
 * A convolution's im2col columns `[C·kh·kw, N·OH·OW]` (unfold with the batch in the columns),
 * not written out: element (p, q) is `image[rowOffset(p) + columnOffset(q)]`, the offsets in
 * bytes — `((c·H + ki·dh)·W + kj·dw)·4` for row p = (c, ki, kj), `((n·C·H + oy)·W + ox)·4` for
 * column q = (n, oy, ox) — which holds for stride 1 without padding. matmul reads it in place (the
 * forward's B, the weight gradient's Bᵀ; dispatch/matmul.ts), so the columns — 25× the image for
 * a 5×5 kernel — never pass through memory; any other kernel materializes them once, as unfold
 * would have written them.
 *
 * Columns go by groups of four (one SIMD vector): `columnGroups[g]` is the offset of column 4g
 * when the group lies in one output row (its four columns are adjacent in the image), else
 * −1 − s, and `laneOffsets[4s … 4s + 3]` are its four columns' offsets (a group across the end of
 * a row, where OW is not a multiple of 4).
 */
export class ColumnsView {
  refs = 0;
  /** The materialized columns, made on first use by a kernel other than matmul. */
  solid: WasmBuffer | null = null;
  /**
   * The view's hold on its image, as a tensor's (memory.ts): a view dropped with the graph that
   * held it, never released, lets the collector's verdict free the image without a copy.
   */
  readonly token: Token | true;
  constructor(
    readonly base: WasmBuffer,
    /** Row offsets (K), column-group offsets (N·OH·OW / 4) and the split groups' lane offsets, in bytes. */
    readonly rowOffsets: Int32Array,
    readonly columnGroups: Int32Array,
    readonly laneOffsets: Int32Array,
    /** Writes the columns out (the unfold kernel), for {@link solid}. */
    readonly write: (image: number, out: number) => void,
  ) {
    this.token = holdBase(base);
  }

  get rows(): number {
    return this.rowOffsets.length;
  }

  get cols(): number {
    return this.columnGroups.length * 4;
  }
}

export type Data = TypedArray | WasmBuffer | TransposedView | ColumnsView | LazyView;

// Storage is a TypedArray (host), a WasmBuffer or a View. `ArrayBuffer.isView` is one
// instance-type check; two megamorphic `instanceof`s cost a scalar graph ~15% of its time.
export const isHost = (d: BackendData): d is TypedArray => ArrayBuffer.isView(d);
/** Storage on the JavaScript heap: a TypedArray, or a {@link HostScalar} (the cpu kernels' one-element float32 result). */
export const onHost = (d: BackendData): d is TypedArray | HostScalar => isHost(d) || d instanceof HostScalar;
export const wasmDType = (dtype: DType) => dtype !== "float64";
// n < 512 is small in every dtype (≤ 8 bytes an element): one comparison for a scalar graph's every op.
export const large = (dtype: DType, n: number) => n >= SMALL_BYTES / 8 && wasmDType(dtype) && n * bytesPerElement(dtype) >= SMALL_BYTES;

/**
 * A tensor starts referencing `d`: counted, and for a wasm block the tensor gets a token through
 * which the heap learns that it was garbage-collected (memory.ts). Host storage is the GC's.
 */
export function retain(d: BackendData): boolean | Token {
  return onHost(d) ? false : holdBase(d as WasmBuffer | View);
}

/** A tensor stops referencing `d` (given the token {@link retain} returned); the last one frees it. */
export function release(d: BackendData, token?: unknown): void {
  if (token instanceof Token) runtime().heap.tokens.unhold(token);
  dropData(d);
}

/** One reference to `d` less (a tensor's or a view's); the last one frees it. */
function dropData(d: BackendData): void {
  const b = d as WasmBuffer | View;
  if (--b.refs > 0) return;
  const heap = runtime().heap;
  if (b instanceof WasmBuffer) heap.drop(b);
  else if (b instanceof LazyView) releaseLazy(b);
  else {
    if (b.solid) heap.drop(b.solid);
    if (b.token instanceof Token) heap.tokens.unhold(b.token);
    dropData(b.base);
  }
}

/** Storage that is not written out (yet): a lazy transpose, convolution columns, or a deferred elementwise chain (lazy.ts). */
export type View = TransposedView | ColumnsView | LazyView;

/** Whether `d` is a {@link View} (kernels other than matmul read it through {@link solid}). */
export const isView = (d: BackendData): d is View => d instanceof TransposedView || d instanceof ColumnsView || d instanceof LazyView;

/** The materialized storage of a view (transposing, unfolding or running its chain once), or the buffer itself. */
export function solid(d: WasmBuffer | View): WasmBuffer {
  if (d instanceof WasmBuffer) return d;
  if (d instanceof LazyView) return force(d);
  if (d.solid && !d.solid.dead) return d.solid;
  const { heap, k } = runtime();
  heap.nextEpoch();
  if (d instanceof ColumnsView) {
    const out = heap.buffer(d.rows * d.cols * 4);
    d.write(heap.pinResident(d.base), out.ptr);
    d.solid = out;
    return out;
  }
  const base = solid(d.base);
  const out = heap.buffer(base.bytes);
  const src = heap.pinResident(base);
  const mat = d.rows * d.cols * 4;
  for (let t = 0; t < d.batch; t++) k.transpose(src + t * mat, out.ptr + t * mat, d.rows, d.cols);
  d.solid = out;
  return out;
}

/** A host TypedArray holding `d`'s values (a view of wasm memory: valid until the next allocation). */
export function hostView(d: BackendData, dtype: DType, n: number): TypedArray {
  d = hostArrayOf(d);
  if (isHost(d)) return d;
  const b = solid(d as WasmBuffer | View);
  const Ctor = ctorOf(dtype);
  if (b.ptr < 0) {
    if (b.dead) throw new Error("wasm backend: read of freed storage");
    return new Ctor(b.host!.buffer as ArrayBuffer, b.host!.byteOffset, n);
  }
  return new Ctor(runtime().heap.memory.buffer as ArrayBuffer, b.ptr, n);
}

/**
 * A host view for a synchronous read (`readSync`: the caller copies the values at once): a
 * deferred chain that has not run is computed into a block no tensor keeps (lazy.ts `readLazy`),
 * anything else as {@link hostView}. @example `readView(d, "float32", n).slice()`
 */
export function readView(d: BackendData, dtype: DType, n: number): TypedArray {
  if (d instanceof LazyView && d.solid === null) {
    const b = readLazy(d);
    if (b !== null) return hostView(b, dtype, n);
  }
  return hostView(d, dtype, n);
}

function ctorOf(dtype: DType) {
  return dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : dtype === "bool" ? Uint8Array : Float64Array;
}

/**
 * One kernel call: pins the buffers it reads (so making room for its output cannot evict them),
 * copies small host inputs into temporary blocks, and frees those at the end.
 */
export class Call {
  readonly rt: Runtime = runtime();
  private readonly temps: number[] = [];

  constructor() {
    this.rt.heap.nextEpoch();
  }

  /** A pointer from which the kernel reads `n` elements of `d`. */
  in(d: BackendData, dtype: DType, n: number): number {
    const heap = this.rt.heap;
    if (!isHost(d)) return heap.pinResident(solid(d as WasmBuffer | View));
    const bytes = n * bytesPerElement(dtype);
    const p = this.temp(bytes);
    heap.u8.set(new Uint8Array(d.buffer, d.byteOffset, bytes), p);
    return p;
  }

  temp(bytes: number): number {
    const p = this.rt.heap.alloc(bytes);
    this.temps.push(p, bytes);
    return p;
  }

  /** Where the kernel writes an output of `n` elements: a new tensor buffer, or a temporary block for a small result. */
  out(dtype: DType, n: number): { ptr: number; buf: WasmBuffer | null } {
    const bytes = n * bytesPerElement(dtype);
    if (large(dtype, n)) {
      const buf = this.rt.heap.buffer(bytes);
      return { ptr: buf.ptr, buf };
    }
    return { ptr: this.temp(Math.max(bytes, 4)), buf: null };
  }

  /** The output's handle (copying a small one to the host) and the end of the call. */
  finish(o: { ptr: number; buf: WasmBuffer | null }, dtype: DType, n: number): Data {
    const r = this.result(o, dtype, n);
    this.done();
    return r;
  }

  /** An output's handle (a small one copied to the host), the call still open (a kernel with several outputs). */
  result(o: { ptr: number; buf: WasmBuffer | null }, dtype: DType, n: number): Data {
    if (o.buf) return o.buf;
    const host = allocate(dtype, n);
    if (n > 0) new Uint8Array(host.buffer, host.byteOffset, host.byteLength).set(this.rt.heap.u8.subarray(o.ptr, o.ptr + host.byteLength));
    return host;
  }

  done(): void {
    const heap = this.rt.heap;
    for (let i = 0; i < this.temps.length; i += 2) heap.free(this.temps[i]!, this.temps[i + 1]!);
    this.temps.length = 0;
  }
}

/** Runs a cpu kernel on host views of wasm storage; a large result moves into wasm memory. */
export function viaCpu<T extends unknown[]>(dtype: DType, kernel: (...args: T) => BackendData, ...args: T): Data {
  const out = kernel(...args) as TypedArray;
  return adopt(out, dtype);
}

/** A host array as this backend's storage: small ones stay, large ones are copied into wasm memory. */
export function adopt(values: TypedArray, dtype: DType): Data {
  const n = values.length;
  if (!large(dtype, n)) return values;
  const heap = runtime().heap;
  heap.nextEpoch();
  const buf = heap.buffer(values.byteLength);
  heap.u8.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), buf.ptr);
  return buf;
}

export const view = (d: BackendData, dtype: DType, n: number) => hostView(d, dtype, n);
