import { getBackend } from "../backend.js";
import { allocate, checkDType, dtypeOfArray, isFloat, type DType, type TypedArray } from "../dtype.js";
import { DeltagradError, optionsOf } from "../errors.js";
import { defaultGenerator, Generator as GeneratorClass, randomHooks, type Generator } from "../random.js";
import { checkShape, describe, sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";

export interface CreateOptions {
  /** Element type; float32 unless the data says otherwise (a TypedArray, booleans). */
  dtype?: DType;
  /** Make the new leaf track gradients (float dtypes only). */
  requiresGrad?: boolean;
  /** Display name used by graph rendering. */
  name?: string;
}

export interface RandomOptions extends CreateOptions {
  /** Generator to draw from; the default one is reset by `manualSeed`. */
  generator?: Generator;
}

/** Nested arrays of numbers or booleans, a TypedArray, or a single number: what {@link tensor} accepts. */
export type TensorData = number | boolean | TypedArray | readonly TensorData[];

/**
 * @internal Wraps a TypedArray already of `dtype` as a tensor on the active backend.
 *
 * @example
 * ```ts
 * fromTypedArray(new Float32Array([1, 2]), [2], "float32");
 * ```
 */
export function fromTypedArray(values: TypedArray, shape: readonly number[], dtype: DType, opts: CreateOptions = {}): Tensor {
  const b = getBackend();
  const t = new Tensor(b.upload(values, dtype), shape, dtype, b);
  if (opts.requiresGrad) t.requiresGrad = true;
  if (opts.name !== undefined) t.name = opts.name;
  return t;
}

/**
 * The most elements one tensor may hold: int32 indexing in the kernels, and far more than
 * memory allows anyway. A larger request is a DeltagradError, not a RangeError from the allocator.
 *
 * @example
 * ```ts
 * zeros([MAX_ELEMENTS + 1]); // throws a DeltagradError instead of a RangeError
 * ```
 */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Validates a creation op's options (an object; requiresGrad only on float dtypes; a string name). */
function createOptions<T extends CreateOptions>(op: string, o: T | undefined, dtype?: DType): T {
  const opts = optionsOf(op, o);
  if (opts.requiresGrad !== undefined && typeof opts.requiresGrad !== "boolean") {
    throw new DeltagradError(`${op}: requiresGrad must be a boolean, got ${describe(opts.requiresGrad)}`);
  }
  if (opts.name !== undefined && typeof opts.name !== "string") throw new DeltagradError(`${op}: name must be a string, got ${describe(opts.name)}`);
  const d = dtype ?? (opts.dtype === undefined ? undefined : checkDType(op, opts.dtype));
  if (opts.requiresGrad && d !== undefined && !isFloat(d)) throw new DeltagradError(`${op}: only float tensors can require gradients, got dtype ${d}`);
  return opts;
}

/** checkShape plus the element cap. */
function checkedShape(op: string, shape: unknown): number[] {
  const s = checkShape(op, shape);
  checkCount(op, sizeOf(s), `shape ${describe(s)}`);
  return s;
}

function checkCount(op: string, n: number, what: string): void {
  if (n > MAX_ELEMENTS) throw new DeltagradError(`${op}: ${what} has ${n} elements, more than the ${MAX_ELEMENTS} a tensor can hold`);
}

function inferShape(data: TensorData): number[] {
  const shape: number[] = [];
  let d: TensorData = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    if (d.length === 0) break;
    d = d[0] as TensorData;
  }
  if (ArrayBuffer.isView(d)) shape.push((d as TypedArray).length);
  return shape;
}

/**
 * Creates a tensor from a number, nested arrays, or a TypedArray (whose type sets the dtype unless
 * `dtype` is given). Ragged nesting is an error.
 *
 * @example
 * ```ts
 * tensor([[1, 2], [3, 4]]);                       // float32 [2,2]
 * tensor(0, { requiresGrad: true, name: "w" });   // a scalar leaf
 * tensor([1, 2], { dtype: "int32" });
 * ```
 */
export function tensor(data: TensorData, options?: CreateOptions): Tensor {
  const opts = createOptions("tensor", options);
  if (data instanceof Tensor) throw new DeltagradError("tensor: got a Tensor; use t.clone() or t.detach() to copy one");
  const typed = dtypeOfArray(data);
  const shape = inferShape(data);
  const size = sizeOf(shape);
  let inferred: DType = typed ?? "float32";
  const flat: number[] = [];
  const walk = (d: TensorData, axis: number, path: string): void => {
    if (axis === shape.length) {
      if (typeof d === "boolean") {
        if (!typed && opts.dtype === undefined) inferred = "bool";
        flat.push(d ? 1 : 0);
      } else if (typeof d === "number") flat.push(d);
      else throw new DeltagradError(`tensor: expected a number at ${path || "the top level"}, got ${describe(d)} (ragged or non-numeric data)`);
      return;
    }
    const isArr = Array.isArray(d) || ArrayBuffer.isView(d);
    const len = isArr ? (d as ArrayLike<TensorData>).length : -1;
    if (len !== shape[axis]) {
      throw new DeltagradError(`tensor: ragged data: ${path || "the top level"} has ${isArr ? `length ${len}` : describe(d)} where length ${shape[axis]} was expected`);
    }
    for (let i = 0; i < len; i++) walk((d as ArrayLike<TensorData>)[i]!, axis + 1, `${path}[${i}]`);
  };
  if (typed && !Array.isArray(data)) {
    const dtype = opts.dtype === undefined ? typed : checkDType("tensor", opts.dtype);
    createOptions("tensor", opts, dtype);
    const values = allocate(dtype, size);
    values.set(data as TypedArray);
    return fromTypedArray(values, shape, dtype, opts);
  }
  walk(data, 0, "");
  const dtype = opts.dtype === undefined ? inferred : checkDType("tensor", opts.dtype);
  createOptions("tensor", opts, dtype);
  const values = allocate(dtype, size);
  for (let i = 0; i < size; i++) values[i] = dtype === "bool" ? (flat[i] ? 1 : 0) : flat[i]!;
  return fromTypedArray(values, shape, dtype, opts);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * full([2, 3], 7); // [[7,7,7],[7,7,7]]
 * ```
 */
export function full(shape: readonly number[], value: number, opts?: CreateOptions): Tensor {
  return fullOf("full", shape, value, opts);
}

function fullOf(op: string, shape: readonly number[], value: number, options: CreateOptions | undefined, like?: DType): Tensor {
  const opts = optionsOf(op, options);
  const s = checkedShape(op, shape);
  const dtype = checkDType(op, opts.dtype ?? like ?? "float32");
  createOptions(op, opts, dtype);
  if (typeof value !== "number") throw new DeltagradError(`${op}: value must be a number, got ${describe(value)}`);
  const b = getBackend();
  const t = new Tensor(b.fill(dtype, sizeOf(s), value), s, dtype, b);
  if (opts.requiresGrad) t.requiresGrad = true;
  if (opts.name !== undefined) t.name = opts.name;
  return t;
}

/** Zeros of `shape`. @example `zeros([2, 3])` */
export function zeros(shape: readonly number[], opts?: CreateOptions): Tensor {
  return fullOf("zeros", shape, 0, opts);
}

/** Ones of `shape`. @example `ones([3], { dtype: "float64" })` */
export function ones(shape: readonly number[], opts?: CreateOptions): Tensor {
  return fullOf("ones", shape, 1, opts);
}

/** Zeros with `t`'s shape and dtype. @example `zerosLike(x)` */
export function zerosLike(t: Tensor, opts?: CreateOptions): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`zerosLike: expected a Tensor, got ${describe(t)}`);
  return fullOf("zerosLike", t.shape, 0, opts, t.dtype);
}

/** Ones with `t`'s shape and dtype. @example `onesLike(x)` */
export function onesLike(t: Tensor, opts?: CreateOptions): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`onesLike: expected a Tensor, got ${describe(t)}`);
  return fullOf("onesLike", t.shape, 1, opts, t.dtype);
}

/**
 * Values `start, start+step, …` below `stop` (NumPy's arange); `arange(n)` is `0 … n−1`.
 *
 * @example
 * ```ts
 * arange(4);          // [0, 1, 2, 3]
 * arange(1, 2, 0.25); // [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, options?: CreateOptions): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isFinite) || step === 0) {
    throw new DeltagradError(`arange: start, stop and step must be finite numbers and step non-zero, got ${describe(start)}, ${describe(stop)}, ${describe(step)}`);
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkCount("arange", n, `the range ${start} … ${stop} by ${step}`);
  const opts = createOptions("arange", options);
  const dtype = checkDType("arange", opts.dtype ?? "float32");
  createOptions("arange", opts, dtype);
  const values = allocate(dtype, n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return fromTypedArray(values, [n], dtype, opts);
}

/**
 * `num` evenly spaced values from `start` to `stop` inclusive.
 *
 * @example
 * ```ts
 * linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, stop: number, num: number, options?: CreateOptions): Tensor {
  if (!Number.isInteger(num) || num < 0) throw new DeltagradError(`linspace: num must be a non-negative integer, got ${describe(num)}`);
  if (typeof start !== "number" || typeof stop !== "number") throw new DeltagradError(`linspace: start and stop must be numbers, got ${describe(start)}, ${describe(stop)}`);
  checkCount("linspace", num, "num");
  const opts = createOptions("linspace", options);
  const dtype = checkDType("linspace", opts.dtype ?? "float32");
  createOptions("linspace", opts, dtype);
  const values = allocate(dtype, num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) values[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return fromTypedArray(values, [num], dtype, opts);
}

/**
 * The `n × m` identity matrix (`m` defaults to `n`).
 *
 * @example
 * ```ts
 * eye(2); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, m = n, options?: CreateOptions): Tensor {
  const s = checkedShape("eye", [n, m]);
  const opts = createOptions("eye", options);
  const dtype = checkDType("eye", opts.dtype ?? "float32");
  createOptions("eye", opts, dtype);
  const values = allocate(dtype, s[0]! * s[1]!);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return fromTypedArray(values, s, dtype, opts);
}

function random(op: string, shape: readonly number[], options: RandomOptions | undefined, draw: (g: Generator) => number, dflt: DType = "float32"): Tensor {
  const s = checkedShape(op, shape);
  const opts = optionsOf(op, options);
  const dtype = checkDType(op, opts.dtype ?? dflt);
  if (!isFloat(dtype) && op !== "randint") throw new DeltagradError(`${op}: dtype must be float32 or float64, got ${dtype}`);
  createOptions(op, opts, dtype);
  const g = opts.generator ?? defaultGenerator;
  if (!(g instanceof GeneratorClass)) throw new DeltagradError(`${op}: generator must be a Generator, got ${describe(g)}`);
  const values = allocate(dtype, sizeOf(s));
  for (let i = 0; i < values.length; i++) values[i] = draw(g);
  const out = fromTypedArray(values, s, dtype, opts);
  if (randomHooks.drawn !== null) randomHooks.drawn(out, g, draw);
  return out;
}

/**
 * Uniform samples in [0, 1) from the seeded generator.
 *
 * @example
 * ```ts
 * manualSeed(0); rand([2, 2]);
 * ```
 */
export function rand(shape: readonly number[], opts?: RandomOptions): Tensor {
  return random("rand", shape, opts, (g) => g.uniform());
}

/** Standard normal samples from the seeded generator. @example `randn([3], { dtype: "float64" })` */
export function randn(shape: readonly number[], opts?: RandomOptions): Tensor {
  return random("randn", shape, opts, (g) => g.normal());
}

/**
 * Integers uniform in [low, high), int32 by default.
 *
 * @example
 * ```ts
 * randint(0, 10, [5]); // five labels in 0…9
 * ```
 */
export function randint(low: number, high: number, shape: readonly number[], opts?: RandomOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new DeltagradError(`randint: need integers low < high, got ${describe(low)}, ${describe(high)}`);
  }
  return random("randint", shape, opts, (g) => g.int(low, high), "int32");
}

/**
 * @internal A scalar tensor of `dtype`.
 *
 * @example
 * ```ts
 * scalar(2, "float64"); // tensor(2.0000, shape=[], dtype=float64)
 * ```
 */
export function scalar(v: number, dtype: DType): Tensor {
  // Every `x.add(1)` makes one: skip full()'s validation (v and dtype are already checked).
  const b = getBackend();
  return new Tensor(b.fill(dtype, 1, v), SCALAR_SHAPE, dtype, b);
}

const SCALAR_SHAPE: readonly number[] = Object.freeze([]);
