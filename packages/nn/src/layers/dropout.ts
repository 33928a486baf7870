/** Inverted dropout, as a function and as a module. */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, type DType, type Generator } from "@deltagrad/autograd";
import { optionsOf, checkP } from "../options.js";
import { Module, builtInModules } from "../module.js";

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

builtInModules(Dropout);
