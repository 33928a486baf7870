import { HostScalar, hostArrayOf, type Backend, type BackendData } from "./backend.js";
import { isFloat, type DType, type TypedArray } from "./dtype.js";
import { DeltagradError, fmtShape } from "./errors.js";
import { formatTensor } from "./format.js";
import { jupyterDisplay, mimeBundleOf, type MimeBundle } from "./display/registry.js";
import * as ops from "./ops/index.js";
import type { Node } from "./primitives.js";
import { nest, sizeOf, type NestedArray } from "./shape.js";
import { TENSOR_BRAND } from "./is-tensor.js";
import type { AxisOptions, ClampOptions, ReduceOptions, TriangleOptions, VarianceOptions, WindowOptions } from "./ops/index.js";
import { track, type Scope } from "./lifetime.js";
import { backwardImpl, freeNode, type BackwardOptions } from "./engine.js";
import { checkGrad, checkOut, disposedError } from "./tensor-checks.js";

/** Anything the binary ops accept where a tensor is due. */
export type TensorLike = Tensor | number;

/** A gradient taken off by {@link Tensor.stashGrad}: put it back, or free it. */
export interface GradStash {
  /** Puts the gradient back on its tensor (replacing, as {@link Tensor.replaceGrad}, whatever is there now). */
  restore(): void;
  /** Frees the stashed gradient unless user code has read it through `grad`. */
  release(): void;
}

let nextId = 0;
const SCALAR_SHAPE: readonly number[] = Object.freeze([]);

/**
 * @internal compile()'s recorder (compile/record.ts) while it traces; every field null otherwise,
 * so each costs one load on the paths below. `setGrad` sees `.grad` changes, `assign` in-place
 * writes, `hostRead` host reads (it throws for a traced value).
 */
export const compileHooks: {
  setGrad: ((t: Tensor, old: Tensor | null, g: Tensor | null) => void) | null;
  assign: ((t: Tensor, value: Tensor) => void) | null;
  hostRead: ((t: Tensor, op: string) => void) | null;
} = { setGrad: null, assign: null, hostRead: null };

/**
 * `Symbol.dispose` (Node ≥ 20, Deno, current browsers), or the registered symbol esbuild's and
 * TypeScript's `using` helpers fall back to where the engine lacks it.
 */
const DISPOSE: typeof Symbol.dispose = (Symbol.dispose ?? Symbol.for("Symbol.dispose")) as typeof Symbol.dispose;

/**
 * An n-dimensional array on a backend, optionally recorded on the autograd graph.
 * Storage is contiguous row-major and immutable: ops return new tensors; only
 * {@link Tensor.assign} (used by optimizers) swaps a tensor's storage in place.
 *
 * @example
 * ```ts
 * const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const loss = w.mul(w).sum();
 * loss.backward();
 * w.grad!.arraySync(); // [[2, 4], [6, 8]]
 * ```
 */
export class Tensor {
  /** A unique id, stable for the tensor's life (graph display uses it). */
  readonly id = nextId++;
  /** Size along each axis, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** The backend that holds the storage. */
  readonly backend: Backend;
  /** An optional display name (graph rendering, error messages). */
  name: string | undefined;
  private _data: BackendData;
  /** Whether the backend manages this storage explicitly: what Backend.retain returned (true, or a token this tensor holds for the backend), false once released. */
  private _managed: boolean | object;
  private _requiresGrad = false;
  private _node: Node | null = null;
  private _grad: Tensor | null = null;
  /** False while `.grad` holds a tensor only the library has seen (so replacing it may free it). */
  private _gradSeen = false;
  private _disposed = false;
  private _released = false;
  /** @internal */
  _retainsGrad = false;
  /** @internal The library scope that disposes this tensor unless it is part of the scope's result (lifetime.ts). */
  _scope: Scope | null = null;
  /** @internal Recorded graph nodes, not yet freed by backward, that use this tensor as an input. */
  _uses = 0;
  /** @internal The stamp of the last backward sweep that visited this tensor, and its index in that sweep's order (topo.ts). */
  _mark = 0;
  _topo = 0;

  /** @internal The brand {@link isTensor} reads (modules outside the core test tensors without importing this class). */
  get [TENSOR_BRAND](): true { return true; }

  /** @internal Use {@link tensor} and the other constructors. */
  constructor(data: BackendData, shape: readonly number[], dtype: DType, backend: Backend) {
    this._data = data;
    // Shapes are frozen once and then shared: an op whose output has its input's shape passes it on.
    // Every scalar shares one (Object.isFrozen is a runtime call: ~2% of a scalar graph).
    this.shape = shape.length === 0 ? SCALAR_SHAPE : Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.dtype = dtype;
    this.backend = backend;
    this._managed = backend.retain !== undefined && backend.retain(data);
    if (this._managed) track(this);
  }

  /** @internal The backend storage handle. */
  get handle(): BackendData {
    if (this._released) throw disposedError(this);
    return hostArrayOf(this._data);
  }

  /**
   * @internal The storage as the backend made it: a one-element float32 result may be a
   * {@link HostScalar}, which only the elementwise kernels take as it is (`handle` gives its array).
   */
  get _raw(): BackendData {
    if (this._released) throw disposedError(this);
    return this._data;
  }

  /**
   * Accumulated gradient of a leaf (or of a non-leaf after {@link Tensor.retainGrad}). Reading it
   * makes it yours: the library no longer frees it when a later backward or `zeroGrad` replaces it.
   * Setting it (`p.grad = g`) takes null or a float tensor of this shape, which stays the caller's.
   */
  get grad(): Tensor | null {
    this._gradSeen = true;
    return this._grad;
  }

  set grad(g: Tensor | null) {
    this._setGrad(checkGrad(this, g, "grad"));
    this._gradSeen = true; // a gradient set by the caller is the caller's
  }

  /**
   * `.grad` without claiming it: it stays the library's, freed when a later backward,
   * {@link Tensor.replaceGrad} or `zeroGrad` replaces it. For optimizers, clipping and checks
   * that use it now and keep no reference.
   *
   * @example
   * ```ts
   * const g = p.peekGrad(); if (g !== null) total += g.square().sum().itemSync();
   * ```
   */
  peekGrad(): Tensor | null { return this._grad; }

  /**
   * Sets `.grad` to a gradient the caller made and hands over (or null), as optimizers and
   * `zeroGrad` do: the previous gradient is freed unless user code has read it through
   * {@link Tensor.grad}. Throws unless `g` is null or a float Tensor of this shape (optimizers
   * cast a gradient of the other float dtype).
   *
   * @example
   * ```ts
   * p.replaceGrad(null); // what zeroGrad() does for each parameter
   * ```
   */
  replaceGrad(g: Tensor | null): void {
    this._setGrad(checkGrad(this, g, "replaceGrad"));
  }

  /**
   * Takes `.grad` off (to null) without freeing it, for a step that may fail: `restore()` puts it
   * back as it was; `release()` frees it unless user code has read it.
   *
   * @example
   * ```ts
   * const saved = p.stashGrad();
   * try { step(); saved.release(); } catch (e) { saved.restore(); throw e; }
   * ```
   */
  stashGrad(): GradStash {
    const [g, seen] = [this._grad, this._gradSeen];
    this._grad = null;
    this._gradSeen = false;
    return {
      restore: () => ((this._setGrad(g), (this._gradSeen = seen))),
      release: () => (g !== null && !seen ? g.dispose() : undefined),
    };
  }

  /** @internal The engine's and compile()'s `.grad` write: the previous gradient is freed unless user code has read it. */
  _setGrad(g: Tensor | null): void {
    const old = this._grad;
    if (compileHooks.setGrad !== null) compileHooks.setGrad(this, old, g);
    this._grad = g;
    if (old !== null && old !== g && !this._gradSeen) old.dispose();
    this._gradSeen = false;
  }

  /**
   * Gives this tensor's storage back to its backend as soon as no recorded graph node needs it
   * (as TF.js's `dispose`). Never required: the library frees its own temporaries, and the wasm
   * backend reclaims the rest under memory pressure; it only returns memory sooner. Reading the
   * tensor afterwards throws. Idempotent.
   *
   * @example
   * ```ts
   * const big = randn([1000, 1000]); use(big); big.dispose();
   * ```
   */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    if (this._uses === 0) this._release();
  }

  /**
   * Explicit resource management: `using y = x.exp();` disposes `y` when the enclosing block
   * exits, by any path (TypeScript ≥ 5.2 and esbuild compile `using`; Node 20 and Deno run it).
   * Exactly {@link Tensor.dispose}: once, idempotent, deferred while a recorded graph node needs it.
   *
   * @example
   * ```ts
   * let total = 0;
   * { using y = x.exp(); total += y.sum().itemSync(); } // y's storage is free again here
   * ```
   */
  [DISPOSE](): void { this.dispose(); }

  /** Whether the storage has been released ({@link Tensor.dispose}); such a tensor can no longer be read. */
  get isDisposed(): boolean { return this._released; }

  /** @internal Disposed and used by no node: the storage goes, and the node too (no backward can reach it now). */
  _release(): void {
    if (this._released) return;
    this._released = true;
    const token = this._managed;
    this._managed = false; // the token is the backend's again
    if (token) this.backend.release!(this._data, token);
    if (this._node !== null) freeNode(this._node); // else a dead result kept its inputs' storage
  }

  /** @internal A recorded node using this tensor as an input was freed by backward. */
  _unuse(): void { if (--this._uses === 0 && this._disposed) this._release(); }

  /** Number of elements. */
  get size(): number { return sizeOf(this.shape); }

  /** Number of axes (0 for a scalar). */
  get rank(): number { return this.shape.length; }

  /** The op that produced this tensor (null for leaves). */
  get node(): Node | null { return this._node; }

  /** Name of the primitive that produced this tensor, or null for a leaf. */
  get gradFn(): string | null { return this._node?.op ?? null; }

  /** True for tensors created by the user rather than by a recorded op. */
  get isLeaf(): boolean { return this._node === null; }

  /** Whether gradients flow to this tensor. Settable on float leaves only. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(v: boolean) {
    if (!this.isLeaf) throw new DeltagradError(`requiresGrad: can only be set on leaf tensors (this one was produced by ${this.gradFn}); use detach() first`);
    if (v && !isFloat(this.dtype)) throw new DeltagradError(`requiresGrad: only float tensors can require gradients, got ${this.dtype}`);
    this._requiresGrad = !!v;
  }

  /** Sets {@link requiresGrad} and returns this tensor. @example `zeros([3]).requiresGrad_()` */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }

  /** @internal Called by the engine when the tensor is produced by a recorded op. */
  _setNode(node: Node): void {
    this._node = node;
    this._requiresGrad = true;
  }

  /** Keeps `.grad` on this non-leaf tensor after backward. @example `const h = x.mul(2); h.retainGrad();` */
  retainGrad(): this {
    if (!this._requiresGrad) throw new DeltagradError("retainGrad: this tensor does not require gradients");
    this._retainsGrad = true;
    return this;
  }

  /** A new leaf sharing this tensor's values, cut from the graph. @example `const c = y.detach();` */
  detach(): Tensor { return new Tensor(this._raw, this.shape, this.dtype, this.backend); }

  /** A copy with its own storage, recorded on the graph like an identity op. @example `const c = x.clone();` */
  clone(): Tensor { return ops.add(this, ops.zeros([], { dtype: this.dtype })); }

  /**
   * Replaces this tensor's values in place with `value`'s (same shape; cast to this dtype),
   * keeping its identity. For optimizers and loading weights; not recorded on the graph.
   *
   * @example
   * ```ts
   * const w = zeros([2]); w.assign(ones([2])); w.arraySync(); // [1, 1]
   * ```
   */
  assign(value: Tensor): this {
    if (!(value instanceof Tensor)) throw new DeltagradError(`assign: expected a Tensor, got ${typeof value}`);
    if (value.shape.length !== this.shape.length || value.shape.some((d, i) => d !== this.shape[i])) {
      throw new DeltagradError(`assign: shape ${fmtShape(value.shape)} does not match ${fmtShape(this.shape)}`);
    }
    if (this._node) throw new DeltagradError("assign: cannot assign to a tensor produced by a recorded op (use a leaf)");
    if (this._released) throw disposedError(this);
    if (compileHooks.assign !== null) compileHooks.assign(this, value);
    const converted = value.dtype !== this.dtype || value.backend !== this.backend;
    const v = value.dtype === this.dtype ? value : ops.cast(value.detach(), this.dtype);
    const data = v.backend === this.backend ? v.handle : this.backend.upload(v.backend.readSync(v.handle, v.dtype, v.size).slice(), v.dtype);
    const [old, oldManaged] = [this._data, this._managed];
    this._data = data;
    this._managed = this.backend.retain !== undefined && this.backend.retain(data);
    if (oldManaged) this.backend.release!(old, oldManaged);
    if (converted && v !== value) v.dispose();
    return this;
  }

  /**
   * Backpropagates from this tensor: accumulates d(this)/d(leaf) into every leaf's `.grad`.
   * Scalars need no argument; other shapes need the cotangent (same shape).
   *
   * @example
   * ```ts
   * const x = tensor([1, 2, 3], { requiresGrad: true });
   * x.mul(x).backward(ones([3])); // x.grad = [2, 4, 6]
   * ```
   */
  backward(gradOutput?: Tensor, options: BackwardOptions = {}): void {
    backwardImpl(this, gradOutput, options);
  }

  // ----- reads -----

  /**
   * The values as a flat TypedArray copy (synchronous backends); given `out` — an array of the
   * tensor's dtype (Float32Array for float32, Float64Array, Int32Array, Uint8Array for bool) and
   * exactly its size — the values are written into it and `out` is returned, so a loop that
   * reads a large tensor every step allocates nothing (each new array is fresh memory the
   * allocator may have to fault in: docs/memory.md).
   *
   * @example
   * ```ts
   * tensor([1, 2]).dataSync(); // Float32Array [1, 2]
   * const buf = new Float32Array(2);
   * tensor([3, 4]).dataSync(buf); // buf, now [3, 4]
   * ```
   */
  dataSync(): TypedArray;
  dataSync<T extends TypedArray>(out: T): T;
  dataSync(out?: TypedArray): TypedArray {
    if (out !== undefined) checkOut(this, out, "dataSync");
    this.assertSync("dataSync");
    if (compileHooks.hostRead !== null) compileHooks.hostRead(this, "dataSync");
    const values = this.backend.readSync(this.handle, this.dtype, this.size);
    if (out === undefined) return values.slice();
    out.set(values);
    return out;
  }

  /** The values as nested arrays (synchronous backends). @example `tensor([[1, 2]]).arraySync() // [[1, 2]]` */
  arraySync(): NestedArray {
    if (compileHooks.hostRead !== null) compileHooks.hostRead(this, "arraySync");
    return nest(this.dataSync(), this.shape);
  }

  /** The value of a one-element tensor (synchronous backends). @example `tensor(3).itemSync() // 3` */
  itemSync(): number {
    if (this.size !== 1) throw new DeltagradError(`itemSync: only one-element tensors have an item, got shape ${fmtShape(this.shape)}`);
    if (compileHooks.hostRead !== null) compileHooks.hostRead(this, "itemSync");
    this.assertSync("itemSync");
    const d = this._raw;
    if (d instanceof HostScalar) return d.value();
    return this.backend.readSync(d, this.dtype, 1)[0]!; // one number: no copy of the storage
  }

  /** Async {@link Tensor.dataSync} (also with `out`); works on every backend. @example `await x.data()` */
  data(): Promise<TypedArray>;
  data<T extends TypedArray>(out: T): Promise<T>;
  async data(out?: TypedArray): Promise<TypedArray> {
    if (out !== undefined) checkOut(this, out, "data");
    if (compileHooks.hostRead !== null) compileHooks.hostRead(this, "data");
    const values = await this.backend.read(this.handle, this.dtype, this.size);
    if (out === undefined) return values.slice();
    out.set(values);
    return out;
  }

  /** Async {@link Tensor.arraySync}. @example `await x.array()` */
  async array(): Promise<NestedArray> { return nest(await this.data(), this.shape); }

  /** Async {@link Tensor.itemSync}. @example `await loss.item()` */
  async item(): Promise<number> {
    if (this.size !== 1) throw new DeltagradError(`item: only one-element tensors have an item, got shape ${fmtShape(this.shape)}`);
    return (await this.data())[0]!;
  }

  private assertSync(op: string): void {
    if (!this.backend.synchronous) {
      throw new DeltagradError(`${op}: the ${this.backend.name} backend reads asynchronously; use await t.${op.replace("Sync", "")}()`);
    }
  }

  /** PyTorch-style printout: values, shape, dtype and gradFn. @example `String(tensor([1, 2]))` */
  toString(): string { return formatTensor(this); }

  /** Jupyter rich display (Deno kernel): `text/plain` and an HTML table. @example `t[Symbol.for("Jupyter.display")]()["text/html"]` */
  [jupyterDisplay](): MimeBundle { return mimeBundleOf(this); }

  // ----- one-line delegates to the free functions -----
  add(b: TensorLike): Tensor { return ops.add(this, b); }
  sub(b: TensorLike): Tensor { return ops.sub(this, b); }
  mul(b: TensorLike): Tensor { return ops.mul(this, b); }
  div(b: TensorLike): Tensor { return ops.div(this, b); }
  neg(): Tensor { return ops.neg(this); }
  reciprocal(): Tensor { return ops.reciprocal(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  pow(e: TensorLike): Tensor { return ops.pow(this, e); }
  square(): Tensor { return ops.square(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  erf(): Tensor { return ops.erf(this); }
  maximum(b: TensorLike): Tensor { return ops.maximum(this, b); }
  minimum(b: TensorLike): Tensor { return ops.minimum(this, b); }
  clamp(o: ClampOptions): Tensor { return ops.clamp(this, o); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  relu(): Tensor { return ops.relu(this); }
  softplus(): Tensor { return ops.softplus(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  log1p(): Tensor { return ops.log1p(this); }
  expm1(): Tensor { return ops.expm1(this); }
  /** PyTorch's `x.where(condition, other)`: this where `condition` holds, `other` elsewhere. */
  where(condition: Tensor, other: TensorLike): Tensor { return ops.where(condition, this, other); }
  maskedFill(mask: Tensor, value: number | Tensor): Tensor { return ops.maskedFill(this, mask, value); }
  tril(o?: TriangleOptions): Tensor { return ops.tril(this, o); }
  triu(o?: TriangleOptions): Tensor { return ops.triu(this, o); }
  sum(o?: ReduceOptions): Tensor { return ops.sum(this, o); }
  mean(o?: ReduceOptions): Tensor { return ops.mean(this, o); }
  max(o?: ReduceOptions): Tensor { return ops.max(this, o); }
  min(o?: ReduceOptions): Tensor { return ops.min(this, o); }
  argmax(o?: AxisOptions): Tensor { return ops.argmax(this, o); }
  argmin(o?: AxisOptions): Tensor { return ops.argmin(this, o); }
  variance(o?: VarianceOptions): Tensor { return ops.variance(this, o); }
  std(o?: VarianceOptions): Tensor { return ops.std(this, o); }
  logSumExp(o?: ReduceOptions): Tensor { return ops.logSumExp(this, o); }
  softmax(o?: { axis?: number }): Tensor { return ops.softmax(this, o); }
  logSoftmax(o?: { axis?: number }): Tensor { return ops.logSoftmax(this, o); }
  cumsum(o?: { axis?: number }): Tensor { return ops.cumsum(this, o); }
  matmul(b: Tensor): Tensor { return ops.matmul(this, b); }
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  flatten(startAxis?: number, endAxis?: number): Tensor { return ops.flatten(this, startAxis, endAxis); }
  transpose(a?: number | readonly number[], b?: number): Tensor { return ops.transpose(this, a, b); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  expand(shape: readonly number[]): Tensor { return ops.expand(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  squeeze(axis?: number | readonly number[]): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  slice(begin: readonly number[], size?: readonly number[]): Tensor { return ops.slice(this, begin, size); }
  pad(pads: readonly (readonly [number, number])[], value?: number): Tensor { return ops.pad(this, pads, value); }
  gather(indices: Tensor, axis?: number): Tensor { return ops.gather(this, indices, axis); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  equal(b: TensorLike): Tensor { return ops.equal(this, b); }
  notEqual(b: TensorLike): Tensor { return ops.notEqual(this, b); }
  greater(b: TensorLike): Tensor { return ops.greater(this, b); }
  greaterEqual(b: TensorLike): Tensor { return ops.greaterEqual(this, b); }
  less(b: TensorLike): Tensor { return ops.less(this, b); }
  lessEqual(b: TensorLike): Tensor { return ops.lessEqual(this, b); }
  /** `concat([this, ...others], axis)`. */
  concat(others: readonly Tensor[], axis?: number): Tensor { return ops.concat(Array.isArray(others) ? [this, ...others] : others, axis); }
  /** `stack([this, ...others], axis)`. */
  stack(others: readonly Tensor[], axis?: number): Tensor { return ops.stack(Array.isArray(others) ? [this, ...others] : others, axis); }
  scatterAdd(indices: Tensor, shape: readonly number[], axis?: number): Tensor { return ops.scatterAdd(this, indices, shape, axis); }
  oneHot(depth: number, o?: { dtype?: DType }): Tensor { return ops.oneHot(this, depth, o); }
  unfold(o: WindowOptions): Tensor { return ops.unfold(this, o); }
  fold(outputSize: readonly [number, number], o: WindowOptions): Tensor { return ops.fold(this, outputSize, o); }
}
