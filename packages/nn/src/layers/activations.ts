/**
 * Activation modules: thin wrappers over the functions in ../activations.ts, and the
 * name → module table that MLP and the models use ({@link getActivation}).
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor } from "@deltagrad/autograd";
import { describeValue, optionsOf, floatDType, positiveInt } from "../options.js";
import * as act from "../activations.js";
import { Module, builtInModules, parameter } from "../module.js";
import { Identity, type DTypeOption } from "./linear.js";

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

builtInModules(
  ReLU, ReLU6, Sigmoid, Tanh, Logistic, ScaledTanh, LeakyReLU, ELU, Softplus, GELU, SiLU, Swish, PReLU,
  HardTanh, HardSigmoid, HardLogistic, Softmax, LogSoftmax, Step, Sign,
);
