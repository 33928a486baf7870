import { describeValue, optionsOf } from "./options.js";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, type DType, type Generator } from "@deltagrad/autograd";
import * as act from "./activations.js";
import { getInitializer, uniform, type Initializer } from "./init.js";
import { Module, builtInModules, parameter } from "./module.js";
import { Sequential } from "./containers.js";

export interface DTypeOption {
  /** Parameter dtype: float32 (default) or float64 (for gradcheck). */
  dtype?: "float32" | "float64";
}

function floatDType(where: string, dtype: unknown): "float32" | "float64" {
  if (dtype === undefined) return "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DeltagradError(`${where}: dtype must be "float32" or "float64", got ${describeValue(dtype)}`);
  return dtype;
}

function positiveInt(where: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new DeltagradError(`${where}: ${name} must be a positive integer, got ${String(v)}`);
  if ((v as number) > 2 ** 31 - 1) throw new DeltagradError(`${where}: ${name} ${String(v)} is too large (a tensor holds at most 2³¹−1 elements)`);
  return v as number;
}

const fmt = (s: readonly number[]) => `[${s.join(",")}]`;

export interface LinearOptions extends DTypeOption {
  /** Add a bias b. Default true. */
  bias?: boolean;
  /** Weight initializer (a name such as "glorotUniform" or a function). Default: PyTorch's U(±1/√in). */
  init?: string | Initializer;
  /** Bias initializer. Default: PyTorch's U(±1/√in). */
  biasInit?: string | Initializer;
  /** Generator for the default initializers. */
  generator?: Generator;
}

/**
 * Fully connected layer Z = X·W + b with W of shape `[in, out]` and b of shape `[out]`
 * (DESIGN.md: the lectures', Keras's and TF.js's layout, so ∂J/∂W = Xᵀ·δ). Accepts `[in]` or
 * `[..., in]` inputs. Default initialization is PyTorch's nn.Linear: W and b uniform in
 * ±1/√in; pass `init: "glorotUniform"` (and `biasInit: "zeros"`) for Keras's.
 *
 * @example
 * ```ts
 * const fc = new Linear(784, 10);
 * fc.call(zeros([32, 784])).shape; // [32, 10]
 * fc.weight.shape;                  // [784, 10]
 * ```
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options?: LinearOptions) {
    const { bias = true, init, biasInit, dtype, generator = defaultGenerator } = optionsOf("Linear", options);
    super();
    const where = "Linear";
    this.inFeatures = positiveInt(where, "inFeatures", inFeatures);
    this.outFeatures = positiveInt(where, "outFeatures", outFeatures);
    const dt = floatDType(where, dtype);
    const bound = 1 / Math.sqrt(inFeatures);
    const pytorchDefault: Initializer = (t) => uniform(t, { low: -bound, high: bound, generator });
    this.weight = parameter(getInitializer(init ?? pytorchDefault)(ag.zeros([inFeatures, outFeatures], { dtype: dt })));
    this.bias = bias ? parameter(getInitializer(biasInit ?? pytorchDefault)(ag.zeros([outFeatures], { dtype: dt }))) : null;
  }

  /** X·W + b. @example `fc.forward(x)` */
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new DeltagradError(`${this.#name()}: expected a Tensor input, got ${typeof x}`);
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new DeltagradError(
        `${this.#name()}: input of shape ${fmt(x.shape)} has ${x.rank === 0 ? "no axes" : `${x.shape[x.rank - 1]} features on its last axis`}, expected ${this.inFeatures}`,
      );
    }
    const z = ag.matmul(x, this.weight);
    return this.bias ? ag.add(z, this.bias) : z;
  }

  #name(): string {
    return `Linear(${this.inFeatures} → ${this.outFeatures})`;
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Returns its input unchanged.
 *
 * @example
 * ```ts
 * new Identity().call(x) === x; // true
 * ```
 */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/**
 * Flattens axes `startAxis … endAxis` into one (default 1 … −1: keeps the batch axis).
 *
 * @example
 * ```ts
 * new Flatten().call(zeros([8, 1, 28, 28])).shape; // [8, 784]
 * ```
 */
export class Flatten extends Module {
  readonly startAxis: number;
  readonly endAxis: number;

  constructor(options?: { startAxis?: number; endAxis?: number }) {
    const { startAxis = 1, endAxis = -1 } = optionsOf("Flatten", options);
    super();
    this.startAxis = startAxis;
    this.endAxis = endAxis;
  }

  forward(x: Tensor): Tensor {
    return ag.flatten(x, this.startAxis, this.endAxis);
  }

  override extraRepr(): string {
    return `startAxis=${this.startAxis}, endAxis=${this.endAxis}`;
  }
}

function checkP(where: string, p: unknown): number {
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new DeltagradError(`${where}: p must be a number in [0, 1), got ${String(p)}`);
  return p;
}

export interface DropoutOptions {
  /** Drop probability in [0, 1). */
  p: number;
  /** Apply dropout (true) or return x unchanged (false). Default true. */
  training?: boolean;
  /** Generator for the mask; defaults to the one `manualSeed` resets. */
  generator?: Generator;
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1 − p),
 * so the expected value is unchanged and evaluation needs no rescaling. The mask comes from
 * the seeded generator (one uniform draw per element, kept where u ≥ p).
 *
 * @example
 * ```ts
 * manualSeed(0);
 * dropout(ones([4]), { p: 0.5 }); // e.g. [2, 0, 2, 2]
 * ```
 */
export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  if (options === undefined) throw new DeltagradError("dropout: options { p } are required");
  const { p, training = true, generator = defaultGenerator } = optionsOf("dropout", options);
  checkP("dropout", p);
  if (!(x instanceof Tensor)) throw new DeltagradError(`dropout: expected a Tensor, got ${typeof x}`);
  if (!training || p === 0) return x;
  const dtype: DType = ag.isFloat(x.dtype) ? x.dtype : "float32";
  const keep = ag.cast(ag.greaterEqual(ag.rand(x.shape, { dtype, generator }), p), dtype);
  return ag.mul(x, ag.mul(keep, 1 / (1 - p)));
}

/**
 * Module form of {@link dropout}: active in training mode, the identity in eval mode.
 *
 * @example
 * ```ts
 * const d = new Dropout(0.2);
 * d.eval(); d.call(x) === x; // true
 * ```
 */
export class Dropout extends Module {
  readonly p: number;
  readonly generator: Generator | undefined;

  constructor(p = 0.5, options?: { generator?: Generator }) {
    const { generator } = optionsOf("Dropout", options);
    super();
    this.p = checkP("Dropout", p);
    this.generator = generator;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, training: this.training, generator: this.generator ?? defaultGenerator });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

// ----- activation modules: thin wrappers over the functions in activations.ts -----

/** Module form of {@link act.relu}. @example `new ReLU().call(tensor([-1, 2])) // [0, 2]` */
export class ReLU extends Module {
  forward(x: Tensor): Tensor { return act.relu(x); }
}

/** Module form of {@link act.relu6}. @example `new ReLU6().call(tensor([9])) // [6]` */
export class ReLU6 extends Module {
  forward(x: Tensor): Tensor { return act.relu6(x); }
}

/** Module form of {@link act.sigmoid}. @example `new Sigmoid().call(tensor([0])) // [0.5]` */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return act.sigmoid(x); }
}

/** Module form of {@link act.tanh}. @example `new Tanh().call(tensor([0])) // [0]` */
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return act.tanh(x); }
}

/** Module form of {@link act.logistic} (slope a). @example `new Logistic({ slope: 2 }).call(x)` */
export class Logistic extends Module {
  readonly slope: number;
  constructor(options?: { slope?: number }) {
    const { slope = 1 } = optionsOf("Logistic", options);
    super();
    this.slope = slope;
  }
  forward(x: Tensor): Tensor { return act.logistic(x, { slope: this.slope }); }
  override extraRepr(): string { return `slope=${this.slope}`; }
}

/** Module form of {@link act.scaledTanh} (a·tanh(bx)). @example `new ScaledTanh({ a: 1.7159, b: 2 / 3 })` */
export class ScaledTanh extends Module {
  readonly a: number;
  readonly b: number;
  constructor(options?: { a?: number; b?: number }) {
    const { a = 1.7159, b = 2 / 3 } = optionsOf("ScaledTanh", options);
    super();
    this.a = a;
    this.b = b;
  }
  forward(x: Tensor): Tensor { return act.scaledTanh(x, { a: this.a, b: this.b }); }
  override extraRepr(): string { return `a=${this.a}, b=${this.b}`; }
}

/** Module form of {@link act.leakyRelu}. @example `new LeakyReLU({ slope: 0.2 })` */
export class LeakyReLU extends Module {
  readonly slope: number;
  constructor(options?: { slope?: number }) {
    const { slope = 0.01 } = optionsOf("LeakyReLU", options);
    super();
    this.slope = slope;
  }
  forward(x: Tensor): Tensor { return act.leakyRelu(x, { slope: this.slope }); }
  override extraRepr(): string { return `slope=${this.slope}`; }
}

/** Module form of {@link act.elu}. @example `new ELU({ alpha: 1 })` */
export class ELU extends Module {
  readonly alpha: number;
  constructor(options?: { alpha?: number }) {
    const { alpha = 1 } = optionsOf("ELU", options);
    super();
    this.alpha = alpha;
  }
  forward(x: Tensor): Tensor { return act.elu(x, { alpha: this.alpha }); }
  override extraRepr(): string { return `alpha=${this.alpha}`; }
}

/** Module form of {@link act.softplus}. @example `new Softplus({ beta: 2 })` */
export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;
  constructor(options?: { beta?: number; threshold?: number }) {
    const { beta = 1, threshold = 20 } = optionsOf("Softplus", options);
    super();
    this.beta = beta;
    this.threshold = threshold;
  }
  forward(x: Tensor): Tensor { return act.softplus(x, { beta: this.beta, threshold: this.threshold }); }
  override extraRepr(): string { return `beta=${this.beta}, threshold=${this.threshold}`; }
}

/** Module form of {@link act.gelu}. @example `new GELU({ approximate: "tanh" })` */
export class GELU extends Module {
  readonly approximate: "none" | "tanh";
  constructor(options?: { approximate?: "none" | "tanh" }) {
    const { approximate = "none" } = optionsOf("GELU", options);
    super();
    this.approximate = approximate;
  }
  forward(x: Tensor): Tensor { return act.gelu(x, { approximate: this.approximate }); }
  override extraRepr(): string { return `approximate="${this.approximate}"`; }
}

/** Module form of {@link act.silu} (x·σ(x)). @example `new SiLU().call(x)` */
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return act.silu(x); }
}

/**
 * Swish x·σ(βx) with a learnable β (a one-element parameter, initially `beta`, default 1);
 * `learnable: false` keeps β fixed.
 *
 * @example
 * ```ts
 * const s = new Swish();
 * s.numParameters(); // 1
 * ```
 */
export class Swish extends Module {
  readonly beta: Tensor | number;
  constructor(options?: { beta?: number; learnable?: boolean } & DTypeOption) {
    const { beta = 1, learnable = true, dtype } = optionsOf("Swish", options);
    super();
    if (typeof beta !== "number" || !Number.isFinite(beta)) throw new DeltagradError(`Swish: beta must be a finite number, got ${String(beta)}`);
    this.beta = learnable ? parameter(ag.full([1], beta, { dtype: floatDType("Swish", dtype) })) : beta;
  }
  forward(x: Tensor): Tensor { return act.swish(x, { beta: this.beta }); }
  override extraRepr(): string { return this.beta instanceof Tensor ? "learnable β" : `beta=${this.beta}`; }
}

/**
 * Parametric ReLU with a learnable slope per channel (axis 1) or one shared slope
 * (`numParameters = 1`, default), initially `init` (0.25, as PyTorch).
 *
 * @example
 * ```ts
 * const p = new PReLU(16);   // for [N, 16, H, W] or [N, 16] inputs
 * p.weight.shape;            // [16]
 * ```
 */
export class PReLU extends Module {
  readonly weight: Tensor;
  constructor(numParameters = 1, options?: { init?: number } & DTypeOption) {
    const { init = 0.25, dtype } = optionsOf("PReLU", options);
    super();
    positiveInt("PReLU", "numParameters", numParameters);
    if (numParameters > 2 ** 31 - 1) throw new DeltagradError(`PReLU: numParameters ${numParameters} is too large`);
    if (typeof init !== "number" || !Number.isFinite(init)) throw new DeltagradError(`PReLU: init must be a finite number, got ${String(init)}`);
    this.weight = parameter(ag.full([numParameters], init, { dtype: floatDType("PReLU", dtype) }));
  }
  forward(x: Tensor): Tensor { return act.prelu(x, this.weight); }
  override extraRepr(): string { return `numParameters=${this.weight.size}`; }
}

/** Module form of {@link act.hardTanh}. @example `new HardTanh({ min: -2, max: 2 })` */
export class HardTanh extends Module {
  readonly min: number;
  readonly max: number;
  constructor(options?: { min?: number; max?: number }) {
    const { min = -1, max = 1 } = optionsOf("HardTanh", options);
    super();
    this.min = min;
    this.max = max;
  }
  forward(x: Tensor): Tensor { return act.hardTanh(x, { min: this.min, max: this.max }); }
  override extraRepr(): string { return `min=${this.min}, max=${this.max}`; }
}

/** Module form of {@link act.hardSigmoid} (PyTorch's relu6(x+3)/6). @example `new HardSigmoid().call(x)` */
export class HardSigmoid extends Module {
  forward(x: Tensor): Tensor { return act.hardSigmoid(x); }
}

/** Module form of {@link act.hardLogistic} (clamp(0.25x + 0.5, 0, 1)). @example `new HardLogistic().call(x)` */
export class HardLogistic extends Module {
  forward(x: Tensor): Tensor { return act.hardLogistic(x); }
}

/** Module form of {@link act.softmax}. @example `new Softmax({ axis: 1 })` */
export class Softmax extends Module {
  readonly axis: number;
  constructor(options?: { axis?: number }) {
    const { axis = -1 } = optionsOf("Softmax", options);
    super();
    this.axis = axis;
  }
  forward(x: Tensor): Tensor { return act.softmax(x, { axis: this.axis }); }
  override extraRepr(): string { return `axis=${this.axis}`; }
}

/** Module form of {@link act.logSoftmax}. @example `new LogSoftmax()` */
export class LogSoftmax extends Module {
  readonly axis: number;
  constructor(options?: { axis?: number }) {
    const { axis = -1 } = optionsOf("LogSoftmax", options);
    super();
    this.axis = axis;
  }
  forward(x: Tensor): Tensor { return act.logSoftmax(x, { axis: this.axis }); }
  override extraRepr(): string { return `axis=${this.axis}`; }
}

/** Module form of {@link act.step} (no gradient). @example `new Step().call(tensor([-1, 0])) // [0, 1]` */
export class Step extends Module {
  forward(x: Tensor): Tensor { return act.step(x); }
}

/** Module form of {@link act.sign} (no gradient). @example `new Sign().call(tensor([-3])) // [-1]` */
export class Sign extends Module {
  forward(x: Tensor): Tensor { return act.sign(x); }
}

/**
 * A maxout layer (lecture 004): a Linear map to `outFeatures·pieces` values, then the max over
 * each unit's `pieces` values (`z_k = w_kᵀx + b_k`, output max_k z_k).
 *
 * @example
 * ```ts
 * const m = new Maxout(4, 3, 2); // Linear(4 → 6), then max over pairs
 * m.call(zeros([5, 4])).shape;   // [5, 3]
 * ```
 */
export class Maxout extends Module {
  readonly linear: Linear;
  readonly pieces: number;
  constructor(inFeatures: number, outFeatures: number, pieces: number, opts?: LinearOptions) {
    optionsOf("Maxout", opts);
    super();
    positiveInt("Maxout", "outFeatures", outFeatures);
    this.linear = new Linear(inFeatures, outFeatures * positiveInt("Maxout", "pieces", pieces), opts);
    this.pieces = pieces;
  }
  forward(x: Tensor): Tensor { return act.maxout(this.linear.call(x), { pieces: this.pieces }); }
  override extraRepr(): string { return `pieces=${this.pieces}`; }
}

/** Activation names that {@link getActivation} and {@link MLP} accept (case, "_" and "-" are ignored). */
export type ActivationName =
  | "relu" | "relu6" | "sigmoid" | "logistic" | "tanh" | "scaledTanh" | "leakyRelu" | "elu" | "softplus" | "gelu"
  | "geluTanh" | "silu" | "swish" | "prelu" | "hardTanh" | "hardSigmoid" | "hardLogistic" | "softmax" | "logSoftmax"
  | "step" | "sign" | "identity" | "linear";

const ACTIVATIONS: Record<string, () => Module> = {
  relu: () => new ReLU(), relu6: () => new ReLU6(), sigmoid: () => new Sigmoid(), logistic: () => new Logistic(),
  tanh: () => new Tanh(), scaledtanh: () => new ScaledTanh(), leakyrelu: () => new LeakyReLU(), elu: () => new ELU(),
  softplus: () => new Softplus(), gelu: () => new GELU(), gelutanh: () => new GELU({ approximate: "tanh" }),
  silu: () => new SiLU(), swish: () => new Swish(), prelu: () => new PReLU(), hardtanh: () => new HardTanh(),
  hardsigmoid: () => new HardSigmoid(), hardlogistic: () => new HardLogistic(), softmax: () => new Softmax(),
  logsoftmax: () => new LogSoftmax(), step: () => new Step(), sign: () => new Sign(), identity: () => new Identity(),
  linear: () => new Identity(),
};

/**
 * An activation for {@link MLP}: a name (an {@link ActivationName}, or another spelling of one such
 * as Keras's "leaky_relu", checked at run time), a module (shared by every layer), or a factory
 * (one module per layer).
 */
export type ActivationSpec = ActivationName | (string & {}) | Module | (() => Module);

/**
 * A fresh activation module from its name (Keras spellings such as "leaky_relu" work too), or
 * the module a factory builds; a module passes through.
 *
 * @example
 * ```ts
 * getActivation("leaky_relu"); // LeakyReLU(slope=0.01)
 * ```
 */
export function getActivation(spec: ActivationSpec): Module {
  if (spec instanceof Module) return spec;
  if (typeof spec === "function") {
    const m = spec();
    if (!(m instanceof Module)) throw new DeltagradError("getActivation: the factory did not return a Module");
    return m;
  }
  const make = typeof spec === "string" ? ACTIVATIONS[spec.replace(/[_-]/g, "").toLowerCase()] : undefined;
  if (!make) throw new DeltagradError(`getActivation: unknown activation ${describeValue(spec)} (known: ${Object.keys(ACTIVATIONS).join(", ")})`);
  return make();
}

export interface MLPOptions extends DTypeOption {
  /** Hidden-layer activation. Default "relu". */
  activation?: ActivationSpec;
  /** Activation after the last layer. Default none (the output is the logits). */
  outputActivation?: ActivationSpec;
  /** Dropout probability after each hidden activation. Default 0 (no Dropout modules). */
  dropout?: number;
  /** Biases in every Linear. Default true. */
  bias?: boolean;
  /** Weight initializer for every Linear (see {@link LinearOptions.init}). */
  init?: string | Initializer;
  /** Bias initializer for every Linear. */
  biasInit?: string | Initializer;
}

/**
 * A multi-layer perceptron: `sizes = [in, h1, …, out]` gives Linear layers with the activation
 * (and optional dropout) between them, in a `Sequential` named `layers`, so parameters are
 * `layers.0.weight`, `layers.0.bias`, `layers.2.weight`, …
 *
 * @example
 * ```ts
 * const model = new MLP([784, 784, 784, 10], { activation: "relu" }); // lecture 001's Keras MNIST net
 * model.numParameters(); // 1238730
 * ```
 */
export class MLP extends Module {
  readonly layers: Sequential;
  readonly sizes: readonly number[];

  constructor(sizes: readonly number[], options?: MLPOptions) {
    const { activation = "relu", outputActivation, dropout: p = 0, bias, init, biasInit, dtype } = optionsOf("MLP", options);
    super();
    if (!Array.isArray(sizes) || sizes.length < 2) throw new DeltagradError(`MLP: sizes must list at least an input and an output size, got ${JSON.stringify(sizes)}`);
    sizes.forEach((s, i) => positiveInt("MLP", `sizes[${i}]`, s));
    checkP("MLP", p);
    this.sizes = Object.freeze(sizes.slice());
    this.layers = new Sequential();
    for (let i = 0; i + 1 < sizes.length; i++) {
      this.layers.append(new Linear(sizes[i]!, sizes[i + 1]!, { bias, init, biasInit, dtype }));
      if (i + 2 < sizes.length) {
        this.layers.append(getActivation(activation));
        if (p > 0) this.layers.append(new Dropout(p));
      } else if (outputActivation !== undefined) this.layers.append(getActivation(outputActivation));
    }
  }

  forward(x: Tensor): Tensor {
    return this.layers.call(x);
  }
}

builtInModules(
  Linear, Identity, Flatten, Dropout, ReLU, ReLU6, Sigmoid, Tanh, Logistic, ScaledTanh, LeakyReLU, ELU,
  Softplus, GELU, SiLU, Swish, PReLU, HardTanh, HardSigmoid, HardLogistic, Softmax, LogSoftmax, Step, Sign, Maxout, MLP,
);
