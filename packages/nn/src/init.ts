/**
 * Weight initializers. Each fills a float leaf tensor in place (with `assign`, under `noGrad`)
 * from the seeded generator — `manualSeed(n)` makes them reproducible, or pass `generator` —
 * and returns the same tensor.
 *
 * Fan-in and fan-out follow the project's layouts: a Linear weight is `[in, out]` (fanIn = in,
 * fanOut = out); a convolution filter `[K, C, F, F]` has fanIn = C·F·F and fanOut = K·F·F (any
 * rank ≥ 3 is `[out, in, ...window]`).
 */
import { describeValue, finiteNumber, optionsOf } from "./options.js";
import { DeltagradError, Tensor, defaultGenerator, full, isFloat, noGrad, rand, randn, type Generator, fmtShape } from "@deltagrad/autograd";

export interface GeneratorOption {
  /** Generator to draw from; defaults to the one `manualSeed` resets. */
  generator?: Generator;
}

export interface UniformOptions extends GeneratorOption {
  /** Lower bound (inclusive). Default 0. */
  low?: number;
  /** Upper bound (exclusive). Default 1. */
  high?: number;
}

export interface NormalOptions extends GeneratorOption {
  /** Default 0. */
  mean?: number;
  /** Standard deviation ≥ 0. Default 1. */
  std?: number;
}

export interface XavierOptions extends GeneratorOption {
  /** Scale factor (PyTorch's `gain`, e.g. 5/3 for tanh). Default 1. */
  gain?: number;
}

export interface HeOptions extends GeneratorOption {
  /** Scale by fan-in (default; preserves forward variance) or fan-out (backward variance). */
  mode?: "fanIn" | "fanOut";
  /** Scale factor. Default √2 (the ReLU gain). */
  gain?: number;
}

/** An initializer: fills a tensor in place and returns it. */
export type Initializer = (t: Tensor) => Tensor;

function target(op: string, t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`init.${op}: expected a Tensor, got ${typeof t}`);
  if (!isFloat(t.dtype)) throw new DeltagradError(`init.${op}: can only fill float tensors, got ${t.dtype}`);
  if (!t.isLeaf) throw new DeltagradError(`init.${op}: can only fill leaf tensors (this one was produced by ${t.gradFn})`);
  return t;
}

/** A finite number, for init.<op>'s `name` argument. */
function finite(op: string, name: string, v: unknown): number {
  return finiteNumber(`init.${op}`, name, v, () => true, "a finite number");
}

/**
 * Fan-in and fan-out of a weight shape: `[in, out]` for rank 2, `[out, in, ...window]` for rank ≥ 3.
 *
 * @example
 * ```ts
 * computeFans([784, 10]);     // { fanIn: 784, fanOut: 10 }
 * computeFans([6, 1, 5, 5]);  // { fanIn: 25, fanOut: 150 }
 * ```
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new DeltagradError(`init.computeFans: fan-in and fan-out need a weight of rank ≥ 2, got shape ${fmtShape(shape)}`);
  }
  if (shape.length === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  const window = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * window, fanOut: shape[0]! * window };
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => t.assign(make()));
  return t;
}

/**
 * Uniform values in [low, high) (default [0, 1)).
 *
 * @example
 * ```ts
 * manualSeed(0);
 * init.uniform(zeros([2, 3]), { low: -0.1, high: 0.1 });
 * ```
 */
export function uniform(t: Tensor, options?: UniformOptions): Tensor {
  const { low = 0, high = 1, generator = defaultGenerator } = optionsOf("uniform", options);
  target("uniform", t);
  finite("uniform", "low", low);
  finite("uniform", "high", high);
  if (!(low < high)) throw new DeltagradError(`init.uniform: need low < high, got low ${low}, high ${high}`);
  return fill(t, () => rand(t.shape, { dtype: t.dtype, generator }).mul(high - low).add(low));
}

/**
 * Normal values with the given mean and standard deviation (default N(0, 1)).
 *
 * @example
 * ```ts
 * init.normal(zeros([3, 3]), { std: 0.05 }); // Keras's "normal" initializer
 * ```
 */
export function normal(t: Tensor, options?: NormalOptions): Tensor {
  const { mean = 0, std = 1, generator = defaultGenerator } = optionsOf("normal", options);
  target("normal", t);
  finite("normal", "mean", mean);
  if (finite("normal", "std", std) < 0) throw new DeltagradError(`init.normal: std must be ≥ 0, got ${std}`);
  return fill(t, () => randn(t.shape, { dtype: t.dtype, generator }).mul(std).add(mean));
}

/**
 * Glorot/Xavier uniform: U(−a, a) with a = gain·√(6 / (fanIn + fanOut)) (Keras's default).
 *
 * @example
 * ```ts
 * init.xavierUniform(zeros([784, 10])); // a = √(6/794) ≈ 0.0869
 * ```
 */
export function xavierUniform(t: Tensor, options?: XavierOptions): Tensor {
  const { gain = 1, generator } = optionsOf("xavierUniform", options);
  target("xavierUniform", t);
  const { fanIn, fanOut } = computeFans(t.shape);
  const a = finite("xavierUniform", "gain", gain) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, { low: -a, high: a, generator });
}

/**
 * Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)) (plain, not truncated,
 * as PyTorch).
 *
 * @example
 * ```ts
 * init.xavierNormal(zeros([100, 50]));
 * ```
 */
export function xavierNormal(t: Tensor, options?: XavierOptions): Tensor {
  const { gain = 1, generator } = optionsOf("xavierNormal", options);
  target("xavierNormal", t);
  const { fanIn, fanOut } = computeFans(t.shape);
  return normal(t, { std: finite("xavierNormal", "gain", gain) * Math.sqrt(2 / (fanIn + fanOut)), generator });
}

function heFan(op: string, t: Tensor, mode: string): number {
  const { fanIn, fanOut } = computeFans(t.shape);
  if (mode !== "fanIn" && mode !== "fanOut") throw new DeltagradError(`init.${op}: mode must be "fanIn" or "fanOut", got ${describeValue(mode)}`);
  return mode === "fanIn" ? fanIn : fanOut;
}

/**
 * He/Kaiming uniform: U(−a, a) with a = gain·√(3 / fan), gain √2, fan = fanIn by default —
 * i.e. √(6 / fanIn), as Keras's `he_uniform`.
 *
 * @example
 * ```ts
 * init.heUniform(zeros([784, 784]));
 * ```
 */
export function heUniform(t: Tensor, options?: HeOptions): Tensor {
  const { mode = "fanIn", gain = Math.SQRT2, generator } = optionsOf("heUniform", options);
  target("heUniform", t);
  const a = finite("heUniform", "gain", gain) * Math.sqrt(3 / heFan("heUniform", t, mode));
  return uniform(t, { low: -a, high: a, generator });
}

/**
 * He/Kaiming normal: N(0, σ²) with σ = gain/√fan = √(2 / fanIn) by default (plain normal, as
 * PyTorch's `kaiming_normal_`; Keras truncates at 2σ).
 *
 * @example
 * ```ts
 * init.heNormal(zeros([6, 1, 5, 5])); // σ = √(2/25)
 * ```
 */
export function heNormal(t: Tensor, options?: HeOptions): Tensor {
  const { mode = "fanIn", gain = Math.SQRT2, generator } = optionsOf("heNormal", options);
  target("heNormal", t);
  return normal(t, { std: finite("heNormal", "gain", gain) / Math.sqrt(heFan("heNormal", t, mode)), generator });
}

/**
 * LeCun uniform: U(−a, a) with a = √(3 / fanIn) (variance 1/fanIn, for tanh/SELU nets).
 *
 * @example
 * ```ts
 * init.lecunUniform(zeros([10, 10]));
 * ```
 */
export function lecunUniform(t: Tensor, opts: GeneratorOption = {}): Tensor {
  target("lecunUniform", t);
  return heUniform(t, { gain: 1, generator: optionsOf("lecunUniform", opts).generator });
}

/**
 * LeCun normal: N(0, 1/fanIn).
 *
 * @example
 * ```ts
 * init.lecunNormal(zeros([10, 10]));
 * ```
 */
export function lecunNormal(t: Tensor, opts: GeneratorOption = {}): Tensor {
  target("lecunNormal", t);
  return heNormal(t, { gain: 1, generator: optionsOf("lecunNormal", opts).generator });
}

/**
 * Fills with `value`.
 *
 * @example
 * ```ts
 * init.constant(zeros([3]), 0.25); // [0.25, 0.25, 0.25]
 * ```
 */
export function constant(t: Tensor, value: number): Tensor {
  target("constant", t);
  finite("constant", "value", value);
  return fill(t, () => full(t.shape, value, { dtype: t.dtype }));
}

/** Fills with zeros. @example `init.zeros(linear.bias!)` */
export function zeros(t: Tensor): Tensor {
  return constant(target("zeros", t), 0);
}

/** Fills with ones. @example `init.ones(zeros([2]))` */
export function ones(t: Tensor): Tensor {
  return constant(target("ones", t), 1);
}

const NAMED: Record<string, Initializer> = {
  zeros,
  ones,
  glorotuniform: (t) => xavierUniform(t),
  glorotnormal: (t) => xavierNormal(t),
  xavieruniform: (t) => xavierUniform(t),
  xaviernormal: (t) => xavierNormal(t),
  heuniform: (t) => heUniform(t),
  henormal: (t) => heNormal(t),
  kaiminguniform: (t) => heUniform(t),
  kaimingnormal: (t) => heNormal(t),
  lecununiform: (t) => lecunUniform(t),
  lecunnormal: (t) => lecunNormal(t),
  // Keras's RandomUniform / RandomNormal defaults (and its old "uniform"/"normal" aliases).
  randomuniform: (t) => uniform(t, { low: -0.05, high: 0.05 }),
  randomnormal: (t) => normal(t, { std: 0.05 }),
  uniform: (t) => uniform(t, { low: -0.05, high: 0.05 }),
  normal: (t) => normal(t, { std: 0.05 }),
};

/**
 * Initializer names accepted by {@link getInitializer} (case and underscores are ignored).
 *
 * @example
 * ```ts
 * init.initializerNames.includes("glorotUniform"); // true
 * ```
 */
export const initializerNames: readonly string[] = [
  "zeros", "ones", "glorotUniform", "glorotNormal", "xavierUniform", "xavierNormal", "heUniform", "heNormal",
  "kaimingUniform", "kaimingNormal", "lecunUniform", "lecunNormal", "randomUniform", "randomNormal", "uniform", "normal",
];

/**
 * Resolves a Keras-style initializer name ("glorotUniform", "he_normal", "zeros", …) to a
 * function; a function passes through. Keras's "uniform"/"normal" mean U(−0.05, 0.05) and
 * N(0, 0.05²), as in Keras (the lecture's `kernel_initializer='normal'`).
 *
 * @example
 * ```ts
 * init.getInitializer("glorot_uniform")(zeros([4, 3]));
 * new Linear(4, 3, { init: "heNormal" });
 * ```
 */
export function getInitializer(name: string | Initializer): Initializer {
  if (typeof name === "function") return name;
  const key = typeof name === "string" ? name.replace(/_/g, "").toLowerCase() : "";
  const f = NAMED[key];
  if (!f) throw new DeltagradError(`init.getInitializer: unknown initializer ${describeValue(name)} (known: ${initializerNames.join(", ")})`);
  return f;
}
