import type { DType, TypedArray } from "./dtype.js";
import { DeltagradError } from "./errors.js";
import type { Shape, WindowParams } from "./shape.js";

/** An opaque handle to a tensor's storage on some backend (a TypedArray or a `HostScalar` on cpu, a GPU buffer on webgpu). */
export type BackendData = object;

/**
 * A one-element float32 result kept as a number rather than a `Float32Array(1)`: making one of
 * those costs ~45 ns and three heap objects (the typed array, its ArrayBuffer and the backing
 * store), and the scalar graph of the lectures made fourteen a graph (with these: 10.0 → 7.9 KB
 * allocated a graph, 0.88× the time). Made only by the cpu kernels' `unary`,
 * `binary` and `fill` (which the wasm backend uses for small tensors), and read as it is only by
 * them, through `Tensor._raw`; every other reader — `Tensor.handle`, hence every other kernel,
 * `readSync`, an optimizer's in-place `write` — gets {@link HostScalar.array}, made once and from
 * then on the value's only home, so a write through it is what the next scalar read sees.
 *
 * @example
 * ```ts
 * const s = new HostScalar(0.5);
 * s.array()[0] = 2; // the array is now the storage
 * s.value();        // 2
 * ```
 */
export class HostScalar {
  private arr: Float32Array | null = null;
  /** `v` must already be a float32 value (`Math.fround`). */
  constructor(private readonly v: number) {}

  /** The value (from the array once one was made). */
  value(): number {
    return this.arr === null ? this.v : this.arr[0]!;
  }

  /** The value as a one-element Float32Array, the same one on every call. */
  array(): Float32Array {
    if (this.arr === null) {
      this.arr = new Float32Array(1);
      this.arr[0] = this.v;
    }
    return this.arr;
  }
}

/** `d` as a backend's storage other than a {@link HostScalar} (which becomes its array). @example `hostArrayOf(new HostScalar(1)) // Float32Array [1]` */
export function hostArrayOf(d: BackendData): BackendData {
  return d instanceof HostScalar ? d.array() : d;
}

/**
 * The elementwise unary kernels, declared once: the {@link UnaryKernel} union, the primitives'
 * attribute table and every backend's kernel table are derived from this list (docs/adding-an-op.md).
 *
 * @example
 * ```ts
 * UNARY_KERNELS.includes("sin"); // true
 * ```
 */
export const UNARY_KERNELS = ["neg", "reciprocal", "exp", "log", "sqrt", "erf", "sign", "sin", "cos", "log1p", "expm1"] as const;
export type UnaryKernel = (typeof UNARY_KERNELS)[number];

/**
 * The other kernel families, each declared once like {@link UNARY_KERNELS}: the unions below, the
 * primitives' attribute rows and the backends' `satisfies Record<…>` tables derive from them.
 *
 * @example
 * ```ts
 * BINARY_KERNELS.includes("maximum"); // true
 * ```
 */
export const BINARY_KERNELS = ["add", "mul", "maximum"] as const;
export type BinaryKernel = (typeof BINARY_KERNELS)[number];
/** The elementwise comparisons (bool output). @example `COMPARE_KERNELS.length // 6` */
export const COMPARE_KERNELS = ["equal", "notEqual", "greater", "greaterEqual", "less", "lessEqual"] as const;
export type CompareKernel = (typeof COMPARE_KERNELS)[number];
/** The reductions over axes (each a primitive of its own). @example `REDUCE_KERNELS.includes("sum") // true` */
export const REDUCE_KERNELS = ["sum", "max"] as const;
export type ReduceKernel = (typeof REDUCE_KERNELS)[number];
/** The index-of reductions along one axis (int32 output, no gradient). @example `ARG_REDUCE_KERNELS[0] // "argmax"` */
export const ARG_REDUCE_KERNELS = ["argmax", "argmin"] as const;
export type ArgReduceKernel = (typeof ARG_REDUCE_KERNELS)[number];

// Window geometry lives with the other shape arithmetic (shape.ts); re-exported for the backends.
export type { WindowParams } from "./shape.js";

/**
 * The seam between the autograd core and the machines that compute. Every kernel takes opaque
 * {@link BackendData} handles plus shapes and returns a fresh handle; no kernel mutates its
 * inputs. Shapes are contiguous row-major. Binary kernels broadcast (NumPy rules) and take
 * inputs of one dtype (the core casts first). A wasm-SIMD or WebGPU backend implements this
 * interface and plugs in with {@link registerBackend}; the core never reads values on the host
 * except through `read`/`readSync`.
 */
export interface Backend {
  readonly name: string;
  /** Whether `readSync` works (cpu, wasm); false for webgpu, where reads are asynchronous. */
  readonly synchronous: boolean;
  /** Whether this backend computes in float64 (cpu does; webgpu does not). */
  supports(dtype: DType): boolean;

  /**
   * Optional explicit memory management (wasm; a GPU backend). `retain` is called whenever a
   * tensor starts referencing `data` and returns whether this backend manages that storage; the
   * core then calls `release` once per retain when it knows the tensor is dead (see lifetime.ts).
   * Backends whose storage is garbage-collected (cpu) leave both out. `retain` may return an
   * object instead of `true`: the tensor holds it (and nothing else does) while it references the
   * storage and hands it back to `release`, so a backend watching it through a WeakRef learns when
   * the tensor was garbage-collected (the wasm backend does; src/wasm/memory.ts).
   */
  retain?(data: BackendData): boolean | object;
  release?(data: BackendData, token?: unknown): void;

  upload(values: TypedArray, dtype: DType): BackendData;
  /** The values; the result may be a view of backend memory, valid only until the next kernel call. */
  readSync(data: BackendData, dtype: DType, size: number): TypedArray;
  read(data: BackendData, dtype: DType, size: number): Promise<TypedArray>;
  /** Copies `src` over `dst`'s storage in place (used by optimizers; same dtype and size). */
  write(dst: BackendData, src: BackendData, dtype: DType, size: number): void;
  fill(dtype: DType, size: number, value: number): BackendData;

  unary(op: UnaryKernel, x: BackendData, dtype: DType, size: number): BackendData;
  binary(op: BinaryKernel, a: BackendData, aShape: Shape, b: BackendData, bShape: Shape, outShape: Shape, dtype: DType): BackendData;
  compare(op: CompareKernel, a: BackendData, aShape: Shape, b: BackendData, bShape: Shape, outShape: Shape, dtype: DType): BackendData;
  where(cond: BackendData, cShape: Shape, a: BackendData, aShape: Shape, b: BackendData, bShape: Shape, outShape: Shape, dtype: DType): BackendData;
  cast(x: BackendData, from: DType, to: DType, size: number): BackendData;

  /** Reduces `axes` keeping them as size-1 dims. */
  reduce(op: ReduceKernel, x: BackendData, shape: Shape, axes: readonly number[], dtype: DType): BackendData;
  /** Index (int32) of the first max/min along `axis`, kept as a size-1 dim. */
  argReduce(op: ArgReduceKernel, x: BackendData, shape: Shape, axis: number, dtype: DType): BackendData;

  expand(x: BackendData, shape: Shape, outShape: Shape, dtype: DType): BackendData;
  permute(x: BackendData, shape: Shape, perm: readonly number[], dtype: DType): BackendData;
  slice(x: BackendData, shape: Shape, begin: readonly number[], size: readonly number[], dtype: DType): BackendData;
  pad(x: BackendData, shape: Shape, pads: readonly (readonly [number, number])[], value: number, dtype: DType): BackendData;
  concat(xs: readonly BackendData[], shapes: readonly Shape[], axis: number, dtype: DType): BackendData;
  /** Batched matmul; both operands have rank ≥ 2 and their batch dims broadcast to outShape's. */
  matmul(a: BackendData, aShape: Shape, b: BackendData, bShape: Shape, outShape: Shape, dtype: DType): BackendData;
  /** `out = x` indexed along `axis` by int32 `indices` (TensorFlow's gather). Throws for out-of-range indices. */
  gather(x: BackendData, shape: Shape, indices: BackendData, nIndices: number, axis: number, dtype: DType): BackendData;
  /** Adjoint of gather: sums slices of `g` into a zero tensor of `outShape` at `indices` along `axis`. */
  scatterAdd(g: BackendData, indices: BackendData, nIndices: number, outShape: Shape, axis: number, dtype: DType): BackendData;
  /** im2col: NCHW `x` → `[N, C·kh·kw, L]` (`[C·kh·kw, N, L]` with `p.batchInColumns`), zero padding. */
  unfold(x: BackendData, shape: Shape, p: WindowParams, dtype: DType): BackendData;
  /** col2im: `[N, C·kh·kw, L]` (or `[C·kh·kw, N, L]`, `p.batchInColumns`) → NCHW `outShape`, summing overlaps (the adjoint of unfold). */
  fold(cols: BackendData, outShape: Shape, p: WindowParams, dtype: DType): BackendData;
  /**
   * Max pooling's choice without its values: int32 `[N, C, oh, ow]`, each the flat index into
   * NCHW `x` of its window's first largest element in row-major window order, taps in the padding
   * skipped. NaN beats every number (the first NaN wins); a window whose taps are all −∞ gives its
   * first tap inside the image (PyTorch's rule).
   */
  windowArgmax(x: BackendData, shape: Shape, p: WindowParams, dtype: DType): BackendData;
}

const registry = new Map<string, Backend>();
let active: Backend | undefined;

/**
 * Makes a backend available under its name; the first one registered becomes active.
 *
 * @example
 * ```ts
 * registerBackend(myWasmBackend); setBackend("wasm");
 * ```
 */
export function registerBackend(b: Backend): void {
  if (b === null || typeof b !== "object" || typeof b.name !== "string" || typeof b.upload !== "function") {
    throw new DeltagradError(`registerBackend: expected a Backend object with a name and kernels, got ${b === null ? "null" : typeof b}`);
  }
  registry.set(b.name, b);
  active ??= b;
}

/**
 * Chooses the backend new tensors are created on.
 *
 * @example
 * ```ts
 * setBackend("cpu"); getBackend().name; // "cpu"
 * ```
 */
export function setBackend(name: string): void {
  const b = typeof name === "string" ? registry.get(name) : undefined;
  if (!b) throw new DeltagradError(`setBackend: unknown backend ${typeof name === "string" ? `"${name}"` : String(name)} (available: ${[...registry.keys()].join(", ")})`);
  active = b;
}

/** The active backend. @example `getBackend().name // "cpu"` */
export function getBackend(): Backend {
  if (!active) throw new DeltagradError("getBackend: no backend registered");
  return active;
}

/** Names of all registered backends. @example `listBackends() // ["cpu"]` */
export function listBackends(): string[] {
  return [...registry.keys()];
}
