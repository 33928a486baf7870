/**
 * Convolution and pooling modules over the functional ops of @deltagrad/autograd (conv2d,
 * maxPool2d, avgPool2d, adaptiveAvgPool2d — all composites of unfold/fold and matmul), and
 * LeNet-5 (LeCun et al. 1998) with its C3 connection table.
 */
import { describeValue, optionsOf } from "./options.js";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, type Generator, type Size2 } from "@deltagrad/autograd";
import { getInitializer, type Initializer } from "./init.js";
import { Linear } from "./layers/linear.js";
import { getActivation, type ActivationSpec } from "./layers/activations.js";
import { Module, builtInModules, parameter } from "./module.js";

const fmt = (s: readonly number[]) => `[${s.join(",")}]`;

function size2(where: string, name: string, v: unknown, min: number): [number, number] {
  const p = typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new DeltagradError(`${where}: ${name} must be an integer ≥ ${min} or a pair of them, got ${describeValue(v)}`);
  }
  return [p[0], p[1]];
}

function positiveInt(where: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new DeltagradError(`${where}: ${name} must be a positive integer, got ${String(v)}`);
  if ((v as number) > 2 ** 31 - 1) throw new DeltagradError(`${where}: ${name} ${String(v)} is too large (a tensor holds at most 2³¹−1 elements)`);
  return v as number;
}

function floatDType(where: string, dtype: unknown): "float32" | "float64" {
  if (dtype === undefined) return "float32";
  if (dtype !== "float32" && dtype !== "float64") throw new DeltagradError(`${where}: dtype must be "float32" or "float64", got ${describeValue(dtype)}`);
  return dtype;
}

const pairText = (p: readonly [number, number]) => (p[0] === p[1] ? String(p[0]) : `${p[0]},${p[1]}`);

/** Runs a functional op, prefixing its errors with the layer's description so they name the layer. */
function named<T>(layer: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DeltagradError) throw new DeltagradError(`${layer}: ${e.message}`);
    throw e;
  }
}

function checkInput(layer: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new DeltagradError(`${layer}: expected a Tensor input, got ${typeof x}`);
  if (x.rank !== 4) throw new DeltagradError(`${layer}: expected NCHW input of rank 4, got shape ${fmt(x.shape)}`);
  return x;
}

/** Options of {@link Conv2d}: geometry, bias, a connection table and initialization. */
export interface Conv2dOptions {
  /** Step between windows. Default 1. */
  stride?: Size2;
  /** Zero padding on each side. Default 0. */
  padding?: Size2;
  /** Spacing between kernel taps. Default 1. */
  dilation?: Size2;
  /** Independent channel groups; in and out channels must both be divisible. Default 1. */
  groups?: number;
  /** Add a bias per output map. Default true. */
  bias?: boolean;
  /**
   * Which input maps feed which output map: `connections[k][c]` is true when output map k sees
   * input map c (LeNet-5's C3 table). Shape `[outChannels][inChannels]`; needs `groups` 1.
   * Only connected filters are parameters, so the parameter count reflects the table.
   */
  connections?: readonly (readonly boolean[])[];
  /**
   * Weight initializer (a name or a function), applied to the dense `[K, C/groups, kh, kw]`
   * filter bank (with a table, the kept filters are then taken from it). Default: PyTorch's
   * U(±1/√fanIn) with fanIn = (input maps actually connected)·kh·kw.
   */
  init?: string | Initializer;
  /** Bias initializer. Default: PyTorch's U(±1/√fanIn), fanIn as for the weight. */
  biasInit?: string | Initializer;
  /** Parameter dtype: float32 (default) or float64 (for gradcheck). */
  dtype?: "float32" | "float64";
  /** Generator for the default initializers. */
  generator?: Generator;
}

/**
 * 2-D convolution layer (cross-correlation, as PyTorch) over NCHW input: weight
 * `[K, C/groups, kh, kw]`, bias `[K]`, output `[N, K, OH, OW]` with
 * OH = ⌊(H + 2P − D·(F−1) − 1)/S⌋ + 1. Runs {@link ag.conv2d} (im2col + one blocked matmul).
 *
 * With a `connections` table the layer keeps only the connected filters: `weight` is then the
 * packed `[connections, kh, kw]` tensor (true entries of the table in row-major order, output
 * map first), and {@link Conv2d.fullWeight} scatters it into the dense `[K, C, kh, kw]` filter
 * bank with zeros elsewhere (a differentiable gather, so masked filters never get a gradient
 * and never count as parameters).
 *
 * @example
 * ```ts
 * const conv = new Conv2d(3, 10, 5, { padding: 2 }); // lecture 003: ten 5×5 filters on 32×32×3
 * conv.call(zeros([1, 3, 32, 32])).shape;             // [1, 10, 32, 32]
 * conv.numParameters();                               // 760 = 10·(5·5·3) + 10
 * ```
 */
export class Conv2d extends Module {
  /** `[K, C/groups, kh, kw]`, or `[connections, kh, kw]` with a connection table. */
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
  /** The connection table (`[out][in]`), or null when every input map feeds every output map. */
  readonly connections: readonly (readonly boolean[])[] | null;
  /** For a table: int32 `[K·C]`, 0 for a masked filter, 1 + its row in the packed weight otherwise. */
  readonly #slots: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernel: Size2, opts: Conv2dOptions = {}) {
    super();
    const where = "Conv2d";
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, connections, init, biasInit, dtype, generator = defaultGenerator } = optionsOf("Conv2d", opts);
    this.inChannels = positiveInt(where, "inChannels", inChannels);
    this.outChannels = positiveInt(where, "outChannels", outChannels);
    this.kernel = size2(where, "kernel", kernel, 1);
    this.stride = size2(where, "stride", stride, 1);
    this.padding = size2(where, "padding", padding, 0);
    this.dilation = size2(where, "dilation", dilation, 1);
    this.groups = positiveInt(where, "groups", groups);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new DeltagradError(`${where}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`);
    }
    const dt = floatDType(where, dtype);
    const [kh, kw] = this.kernel;
    const cg = inChannels / groups;
    const dense = [outChannels, cg, kh, kw];
    let fanIns: number[];
    if (connections !== undefined) {
      if (groups !== 1) throw new DeltagradError(`${where}: a connections table needs groups 1, got groups ${groups}`);
      const ok = Array.isArray(connections) && connections.length === outChannels &&
        connections.every((row) => Array.isArray(row) && row.length === inChannels && row.every((b) => typeof b === "boolean"));
      if (!ok) throw new DeltagradError(`${where}: connections must be a boolean table [outChannels=${outChannels}][inChannels=${inChannels}]`);
      this.connections = Object.freeze(connections.map((row) => Object.freeze(row.slice())));
      fanIns = connections.map((row) => row.filter(Boolean).length * kh * kw);
    } else {
      this.connections = null;
      fanIns = new Array<number>(outChannels).fill(cg * kh * kw);
    }

    // PyTorch's default, U(±1/√fanIn), per output map (so a map fed by 3 of 6 inputs gets the
    // wider range its fan-in calls for).
    const g = generator;
    const pytorchDefault = (perElement: number) => (t: Tensor) => {
      const v = new Float64Array(t.size);
      for (let i = 0; i < v.length; i++) {
        const b = 1 / Math.sqrt(Math.max(1, fanIns[Math.floor(i / perElement)]!));
        v[i] = (2 * g.uniform() - 1) * b;
      }
      t.assign(ag.tensor(v, { dtype: t.dtype }).reshape(t.shape));
      return t;
    };
    const w = ag.noGrad(() => getInitializer(init ?? pytorchDefault(cg * kh * kw))(ag.zeros(dense, { dtype: dt })));
    if (this.connections) {
      const slots = new Int32Array(outChannels * inChannels);
      const kept: number[] = [];
      this.connections.forEach((row, k) => row.forEach((on, c) => {
        if (on) {
          kept.push(k * inChannels + c);
          slots[k * inChannels + c] = kept.length; // 1-based: slot 0 is the zero filter
        }
      }));
      this.#slots = ag.tensor(slots, { dtype: "int32" });
      const flat = w.reshape([outChannels * inChannels, kh, kw]);
      this.weight = parameter(ag.noGrad(() => ag.gather(flat, ag.tensor(Int32Array.from(kept), { dtype: "int32" }), 0)).detach());
    } else {
      this.#slots = null;
      this.weight = parameter(w);
    }
    const biasDefault: Initializer = (t) => pytorchDefault(1)(t);
    this.bias = bias ? parameter(ag.noGrad(() => getInitializer(biasInit ?? biasDefault)(ag.zeros([outChannels], { dtype: dt })))) : null;
  }

  /**
   * The dense filter bank `[K, C/groups, kh, kw]`: `weight` itself, or with a connection table
   * the packed filters gathered into place and zeros for the masked ones (differentiable).
   *
   * @example
   * ```ts
   * new Conv2d(6, 16, 5, { connections: LENET5_C3_TABLE }).fullWeight().shape; // [16, 6, 5, 5]
   * ```
   */
  fullWeight(): Tensor {
    if (!this.#slots) return this.weight;
    const [kh, kw] = this.kernel;
    const padded = ag.concat([ag.zeros([1, kh, kw], { dtype: this.weight.dtype }), this.weight], 0);
    return ag.reshape(ag.gather(padded, this.#slots, 0), [this.outChannels, this.inChannels, kh, kw]);
  }

  #name(): string {
    return `Conv2d(${this.inChannels} → ${this.outChannels}, ${this.kernel.join("×")})`;
  }

  forward(x: Tensor): Tensor {
    const layer = this.#name();
    checkInput(layer, x);
    const w = this.fullWeight();
    if (x.shape[1] !== this.inChannels) {
      throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${x.shape[1]} channels, weight ${fmt(w.shape)} expects ${this.inChannels}`);
    }
    return named(layer, () =>
      ag.conv2d(x, w, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }),
    );
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel=${pairText(this.kernel)}`];
    if (this.stride[0] !== 1 || this.stride[1] !== 1) parts.push(`stride=${pairText(this.stride)}`);
    if (this.padding[0] !== 0 || this.padding[1] !== 0) parts.push(`padding=${pairText(this.padding)}`);
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) parts.push(`dilation=${pairText(this.dilation)}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    if (this.connections) parts.push(`connections=${this.connections.flat().filter(Boolean).length}/${this.inChannels * this.outChannels}`);
    return parts.join(", ");
  }
}

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** −∞ padding on each side, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Spacing between window taps. Default 1. */
  dilation?: Size2;
}

/**
 * Max pooling over NCHW input ({@link ag.maxPool2d}). Ties send the gradient to the first
 * maximum in row-major window order, as PyTorch and TF.js.
 *
 * @example
 * ```ts
 * new MaxPool2d(2).call(zeros([1, 6, 28, 28])).shape; // [1, 6, 14, 14]
 * ```
 */
export class MaxPool2d extends Module {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];

  constructor(kernel: Size2, options?: MaxPool2dOptions) {
    const { stride, padding = 0, dilation = 1 } = optionsOf("MaxPool2d", options);
    super();
    this.kernel = size2("MaxPool2d", "kernel", kernel, 1);
    this.stride = size2("MaxPool2d", "stride", stride ?? this.kernel, 1);
    this.padding = size2("MaxPool2d", "padding", padding, 0);
    this.dilation = size2("MaxPool2d", "dilation", dilation, 1);
    if (this.padding[0] > this.kernel[0] >> 1 || this.padding[1] > this.kernel[1] >> 1) {
      throw new DeltagradError(`MaxPool2d: padding ${pairText(this.padding)} must be at most half of kernel ${this.kernel.join("×")}`);
    }
  }

  forward(x: Tensor): Tensor {
    const layer = `MaxPool2d(${this.kernel.join("×")})`;
    checkInput(layer, x);
    return named(layer, () => ag.maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, dilation: this.dilation }));
  }

  override extraRepr(): string {
    return `kernel=${pairText(this.kernel)}, stride=${pairText(this.stride)}, padding=${pairText(this.padding)}`;
  }
}

/** Options of {@link AvgPool2d}. */
export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** Zero padding on each side, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/**
 * Average pooling over NCHW input ({@link ag.avgPool2d}).
 *
 * @example
 * ```ts
 * new AvgPool2d(2).call(zeros([1, 6, 28, 28])).shape; // [1, 6, 14, 14]
 * ```
 */
export class AvgPool2d extends Module {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly countIncludePad: boolean;

  constructor(kernel: Size2, options?: AvgPool2dOptions) {
    const { stride, padding = 0, countIncludePad = true } = optionsOf("AvgPool2d", options);
    super();
    this.kernel = size2("AvgPool2d", "kernel", kernel, 1);
    this.stride = size2("AvgPool2d", "stride", stride ?? this.kernel, 1);
    this.padding = size2("AvgPool2d", "padding", padding, 0);
    if (this.padding[0] > this.kernel[0] >> 1 || this.padding[1] > this.kernel[1] >> 1) {
      throw new DeltagradError(`AvgPool2d: padding ${pairText(this.padding)} must be at most half of kernel ${this.kernel.join("×")}`);
    }
    this.countIncludePad = !!countIncludePad;
  }

  forward(x: Tensor): Tensor {
    const layer = `AvgPool2d(${this.kernel.join("×")})`;
    checkInput(layer, x);
    return named(layer, () =>
      ag.avgPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, countIncludePad: this.countIncludePad }),
    );
  }

  override extraRepr(): string {
    return `kernel=${pairText(this.kernel)}, stride=${pairText(this.stride)}, padding=${pairText(this.padding)}`;
  }
}

/**
 * Average pooling to a fixed output size ({@link ag.adaptiveAvgPool2d}); `new AdaptiveAvgPool2d(1)`
 * is global average pooling.
 *
 * @example
 * ```ts
 * new AdaptiveAvgPool2d(1).call(zeros([8, 64, 7, 7])).shape; // [8, 64, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: readonly [number, number];

  constructor(outputSize: Size2) {
    super();
    this.outputSize = size2("AdaptiveAvgPool2d", "outputSize", outputSize, 1);
  }

  forward(x: Tensor): Tensor {
    const layer = `AdaptiveAvgPool2d(${this.outputSize.join("×")})`;
    checkInput(layer, x);
    return named(layer, () => ag.adaptiveAvgPool2d(x, this.outputSize));
  }

  override extraRepr(): string {
    return `outputSize=${pairText(this.outputSize)}`;
  }
}

// ----- LeNet-5 -----

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
    checkInput("LeNet5", x);
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

builtInModules(Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, LeNet5);
