/**
 * Affine layers: Linear (with its dtype option), Identity, Flatten, and Maxout (a Linear map
 * followed by a max over pieces).
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, type Generator } from "@deltagrad/autograd";
import { optionsOf, floatDType, fmt, positiveInt } from "../options.js";
import * as act from "../activations.js";
import { getInitializer, uniform, type Initializer } from "../init.js";
import { Module, builtInModules, parameter } from "../module.js";

export interface DTypeOption {
  /** Parameter dtype: float32 (default) or float64 (for gradcheck). */
  dtype?: "float32" | "float64";
}

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

builtInModules(Linear, Identity, Flatten, Maxout);
