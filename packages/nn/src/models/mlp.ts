/** The multi-layer perceptron model. */
import { DeltagradError, Tensor } from "@deltagrad/autograd";
import { optionsOf, checkP, positiveInt } from "../options.js";
import { type Initializer } from "../init.js";
import { Module, builtInModules } from "../module.js";
import { Sequential } from "../containers.js";
import { Linear, type DTypeOption } from "../layers/linear.js";
import { Dropout } from "../layers/dropout.js";
import { getActivation, type ActivationSpec } from "../layers/activations.js";

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

builtInModules(MLP);
