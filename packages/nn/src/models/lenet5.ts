/** LeNet-5 (LeCun et al. 1998): the convolutional model of the lectures, with its C3 connection table. */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, type Generator } from "@deltagrad/autograd";
import { Module, builtInModules } from "../module.js";
import { describeValue, optionsOf, fmt, nchwInput, positiveInt } from "../options.js";
import { Linear } from "../layers/linear.js";
import { Conv2d } from "../layers/conv.js";
import { AvgPool2d, MaxPool2d } from "../layers/pooling.js";
import { getActivation, type ActivationSpec } from "../layers/activations.js";

/** Output maps of C3 and the S2 maps each one reads (LeCun et al. 1998, Table I). */
const C3_INPUTS: readonly (readonly number[])[] = [
  [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1], // six maps see 3 contiguous maps
  [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2], // six see 4 contiguous
  [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], // three see 4 non-contiguous
  [0, 1, 2, 3, 4, 5], // one sees all six
];

/**
 * LeNet-5's C3 connection table as `[out 16][in 6]` booleans: 60 of the 96 possible
 * (S2 map → C3 map) connections. The asymmetry forces C3's maps to learn different features
 * and cuts the parameter count.
 *
 * @example
 * ```ts
 * LENET5_C3_TABLE[15].every(Boolean); // true — the last map sees all six
 * ```
 */
export const LENET5_C3_TABLE: readonly (readonly boolean[])[] = Object.freeze(
  C3_INPUTS.map((ins) => Object.freeze(Array.from({ length: 6 }, (_, c) => ins.includes(c)))),
);

/** Options of {@link LeNet5}. */
export interface LeNet5Options {
  /** Use the classic C3 connection table (60,806 parameters) instead of a full C3 (61,706). Default false. */
  c3Table?: boolean;
  /** Activation after C1, C3, C5 and F6. Default "tanh" (the paper used a scaled tanh). */
  activation?: ActivationSpec;
  /** Subsampling layers S2 and S4: "avg" (default; the paper's, minus its trainable coefficients) or "max". */
  pool?: "avg" | "max";
  /** Output classes. Default 10. */
  numClasses?: number;
  /** Parameter dtype. Default float32. */
  dtype?: "float32" | "float64";
  /** Generator for the initializers. */
  generator?: Generator;
}

/**
 * LeNet-5: CONV-POOL-CONV-POOL-CONV-FC-FC on `[N, 1, 32, 32]` input (`[N, 1, 28, 28]` MNIST
 * digits are zero-padded by 2 to 32×32 first), returning logits `[N, numClasses]`.
 *
 * ```
 * C1  conv 1→6,   5×5  → 6×28×28     6·(1·25) + 6      =    156
 * S2  pool 2×2         → 6×14×14                               0
 * C3  conv 6→16,  5×5  → 16×10×10   16·(6·25) + 16     =  2,416   (table: 60·25 + 16 = 1,516)
 * S4  pool 2×2         → 16×5×5                                0
 * C5  conv 16→120, 5×5 → 120×1×1  120·(16·25) + 120   = 48,120
 * F6  linear 120→84                 120·84 + 84        = 10,164
 * out linear 84→10                  84·10 + 10         =    850
 *                                                 total   61,706   (table: 60,806)
 * ```
 *
 * The C3 table changes only C3's weight count: a full C3 has 16·6 = 96 filters of 5×5; the
 * table keeps 60 (six maps × 3 inputs + nine × 4 + one × 6 = 18 + 36 + 6), so
 * (96 − 60)·25 = 900 weights go, and 61,706 − 900 = 60,806. Biases (one per map) are unchanged.
 *
 * @example
 * ```ts
 * const net = new LeNet5({ c3Table: true });
 * net.numParameters();                    // 60806
 * net.call(zeros([2, 1, 28, 28])).shape;  // [2, 10]
 * ```
 */
export class LeNet5 extends Module {
  readonly c1: Conv2d;
  readonly s2: Module;
  readonly c3: Conv2d;
  readonly s4: Module;
  readonly c5: Conv2d;
  readonly f6: Linear;
  readonly output: Linear;
  /** The activation module, shared by every layer that uses it (it has no parameters). */
  readonly activation: Module;

  constructor(options?: LeNet5Options) {
    const { c3Table = false, activation = "tanh", pool = "avg", numClasses = 10, dtype, generator } = optionsOf("LeNet5", options);
    super();
    if (pool !== "avg" && pool !== "max") throw new DeltagradError(`LeNet5: pool must be "avg" or "max", got ${describeValue(pool)}`);
    positiveInt("LeNet5", "numClasses", numClasses);
    const pooling = () => (pool === "avg" ? new AvgPool2d(2) : new MaxPool2d(2));
    this.c1 = new Conv2d(1, 6, 5, { dtype, generator });
    this.s2 = pooling();
    this.c3 = new Conv2d(6, 16, 5, { dtype, generator, ...(c3Table ? { connections: LENET5_C3_TABLE } : {}) });
    this.s4 = pooling();
    this.c5 = new Conv2d(16, 120, 5, { dtype, generator });
    this.f6 = new Linear(120, 84, { dtype, generator });
    this.output = new Linear(84, numClasses, { dtype, generator });
    this.activation = getActivation(activation);
  }

  forward(x: Tensor): Tensor {
    nchwInput("LeNet5", x);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const is28 = h === 28 && w === 28;
    if (c !== 1 || !(is28 || (h === 32 && w === 32))) {
      throw new DeltagradError(`LeNet5: expected input [N, 1, 32, 32] or [N, 1, 28, 28], got ${fmt(x.shape)}`);
    }
    const a = (t: Tensor) => this.activation.call(t);
    let h1 = is28 ? ag.pad(x, [[0, 0], [0, 0], [2, 2], [2, 2]]) : x;
    h1 = this.s2.call(a(this.c1.call(h1)));
    const h3 = this.s4.call(a(this.c3.call(h1)));
    const h5 = a(this.c5.call(h3)).reshape([n, 120]);
    return this.output.call(a(this.f6.call(h5)));
  }

  override extraRepr(): string {
    return this.c3.connections ? "c3Table=true" : "";
  }
}

builtInModules(LeNet5);
