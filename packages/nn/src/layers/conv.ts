/**
 * Conv1d and ConvTranspose2d, PyTorch's layouts and defaults, both built on the same windowing
 * primitives as Conv2d (unfold/fold and a batched matmul), so no gradient here is hand-written:
 *
 * - Conv1d is conv2d on `[N, C, 1, L]` with a `[1, k]` kernel.
 * - ConvTranspose2d is the adjoint of conv2d: each input pixel scatters `W[c]·x[c]` over a
 *   kh×kw patch of the output, i.e. `cols = Wᵀ·x` (a matmul per group) followed by `fold`
 *   (col2im), which sums overlapping patches. That is exactly the VJP of conv2d with respect
 *   to its input, and its own VJP is unfold followed by a matmul — a conv2d.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, type Generator, type Size2 } from "@deltagrad/autograd";
import { getInitializer, type Initializer } from "../init.js";
import { Module, builtInModules, parameter } from "../module.js";
import { optionsOf, floatDType, fmt, named, nchwInput, positiveInt, size2, sizeN, tensorInput, text } from "../options.js";

/** PyTorch's default for conv weights and biases: U(±1/√fanIn) (kaiming_uniform with a = √5 gives the same bound). */
function uniformInit(shape: number[], fanIn: number, dtype: "float32" | "float64", generator: Generator): Tensor {
  const b = 1 / Math.sqrt(Math.max(1, fanIn));
  return parameter(ag.noGrad(() => ag.rand(shape, { dtype, generator }).mul(2 * b).sub(b)));
}



/** Options of {@link Conv1d}. */
export interface Conv1dOptions {
  /** Step between windows. Default 1. */
  stride?: number | readonly [number];
  /** Zeros added on each side. Default 0. */
  padding?: number | readonly [number];
  /** Spacing between kernel taps. Default 1. */
  dilation?: number | readonly [number];
  /** Independent channel groups; in and out channels must both be divisible. Default 1. */
  groups?: number;
  /** Add a bias per output channel. Default true. */
  bias?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the default initialization. */
  generator?: Generator;
}

/**
 * 1-D convolution (cross-correlation, PyTorch's `Conv1d`) over `[N, C, L]` input (or unbatched
 * `[C, L]`): weight `[out, in/groups, k]`, bias `[out]`, output length
 * ⌊(L + 2P − D·(k−1) − 1)/S⌋ + 1. Initialization is PyTorch's U(±1/√(in/groups·k)).
 *
 * @example
 * ```ts
 * const conv = new Conv1d(4, 8, 3, { padding: 1 });
 * conv.call(zeros([2, 4, 10])).shape; // [2, 8, 10]
 * conv.weight.shape;                  // [8, 4, 3]
 * ```
 */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  /** `[out, in/groups, k]`. */
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernel: number | readonly [number], options?: Conv1dOptions) {
    const where = "Conv1d";
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, dtype, generator = defaultGenerator } = optionsOf(where, options);
    super();
    this.inChannels = positiveInt(where, "inChannels", inChannels);
    this.outChannels = positiveInt(where, "outChannels", outChannels);
    this.kernel = sizeN(where, "kernel", kernel, 1, 1)[0]!;
    this.stride = sizeN(where, "stride", stride, 1, 1)[0]!;
    this.padding = sizeN(where, "padding", padding, 1, 0)[0]!;
    this.dilation = sizeN(where, "dilation", dilation, 1, 1)[0]!;
    this.groups = positiveInt(where, "groups", groups);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new DeltagradError(`${where}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`);
    }
    if (typeof bias !== "boolean") throw new DeltagradError(`${where}: bias must be true or false, got ${String(bias)}`);
    const dt = floatDType(where, dtype);
    const fanIn = (inChannels / groups) * this.kernel;
    if (outChannels * fanIn > 2 ** 31 - 1) throw new DeltagradError(`${where}: the weight [${outChannels}, ${inChannels / groups}, ${this.kernel}] is too large`);
    this.weight = uniformInit([outChannels, inChannels / groups, this.kernel], fanIn, dt, generator);
    this.bias = bias ? uniformInit([outChannels], fanIn, dt, generator) : null;
  }

  #name(): string {
    return `Conv1d(${this.inChannels} → ${this.outChannels}, ${this.kernel})`;
  }

  /** The convolution. @example `conv.forward(x)` */
  forward(x: Tensor): Tensor {
    const layer = this.#name();
    tensorInput(layer, x);
    if (x.rank !== 2 && x.rank !== 3) throw new DeltagradError(`${layer}: expected [N, C, L] or [C, L] input, got shape ${fmt(x.shape)}`);
    const batched = x.rank === 3 ? x : ag.unsqueeze(x, 0);
    const [n, c, l] = batched.shape as [number, number, number];
    if (c !== this.inChannels) throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${c} channels, weight ${fmt(this.weight.shape)} expects ${this.inChannels}`);
    const span = this.dilation * (this.kernel - 1) + 1;
    if (l + 2 * this.padding < span) throw new DeltagradError(`${layer}: input length ${l} (padded ${l + 2 * this.padding}) is shorter than the kernel's span ${span}: input ${fmt(x.shape)}`);
    const y = named(layer, () => {
      const x4 = ag.reshape(batched, [n, c, 1, l]);
      const w4 = ag.reshape(this.weight, [this.outChannels, c / this.groups, 1, this.kernel]);
      const out = ag.conv2d(x4, w4, this.bias, { stride: [1, this.stride], padding: [0, this.padding], dilation: [1, this.dilation], groups: this.groups });
      return ag.reshape(out, [n, this.outChannels, out.shape[3]!]);
    });
    return x.rank === 3 ? y : ag.reshape(y, y.shape.slice(1));
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel=${this.kernel}`];
    if (this.stride !== 1) parts.push(`stride=${this.stride}`);
    if (this.padding !== 0) parts.push(`padding=${this.padding}`);
    if (this.dilation !== 1) parts.push(`dilation=${this.dilation}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
}

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dOptions {
  /** Stride of the convolution this layer transposes (the upsampling factor). Default 1. */
  stride?: Size2;
  /** Padding of the convolution this layer transposes: crops this much from each side of the output. Default 0. */
  padding?: Size2;
  /** Extra rows/columns added at the bottom/right of the output (to pick among the input sizes a strided conv maps to the same size); less than the stride or the dilation. Default 0. */
  outputPadding?: Size2;
  /** Independent channel groups; in and out channels must both be divisible. Default 1. */
  groups?: number;
  /** Spacing between kernel taps. Default 1. */
  dilation?: Size2;
  /** Add a bias per output channel. Default true. */
  bias?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the default initialization. */
  generator?: Generator;
}

/**
 * Transposed 2-D convolution (PyTorch's `ConvTranspose2d`, sometimes called deconvolution) over
 * NCHW input: weight `[in, out/groups, kh, kw]`, bias `[out]`, output size
 * OH = (H − 1)·S − 2P + D·(kh − 1) + outputPadding + 1 (and the same for OW). It is the gradient
 * of a conv2d with respect to its input, so it maps a conv2d's output shape back to its input
 * shape. Initialization is PyTorch's U(±1/√(out/groups·kh·kw)).
 *
 * @example
 * ```ts
 * const up = new ConvTranspose2d(16, 8, 4, { stride: 2, padding: 1 }); // doubles H and W
 * up.call(zeros([1, 16, 7, 7])).shape; // [1, 8, 14, 14]
 * up.weight.shape;                     // [16, 8, 4, 4]
 * ```
 */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly outputPadding: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
  /** `[in, out/groups, kh, kw]`. */
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernel: Size2, options?: ConvTranspose2dOptions) {
    const where = "ConvTranspose2d";
    const { stride = 1, padding = 0, outputPadding = 0, groups = 1, dilation = 1, bias = true, dtype, generator = defaultGenerator } = optionsOf(where, options);
    super();
    this.inChannels = positiveInt(where, "inChannels", inChannels);
    this.outChannels = positiveInt(where, "outChannels", outChannels);
    const pair = (name: string, v: unknown, min: number) => sizeN(where, name, v, 2, min) as [number, number];
    this.kernel = pair("kernel", kernel, 1);
    this.stride = pair("stride", stride, 1);
    this.padding = pair("padding", padding, 0);
    this.outputPadding = pair("outputPadding", outputPadding, 0);
    this.dilation = pair("dilation", dilation, 1);
    this.groups = positiveInt(where, "groups", groups);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new DeltagradError(`${where}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`);
    }
    for (const a of [0, 1]) {
      if (this.outputPadding[a]! >= Math.max(this.stride[a]!, this.dilation[a]!)) {
        throw new DeltagradError(`${where}: outputPadding ${text(this.outputPadding)} must be smaller than the stride ${text(this.stride)} or the dilation ${text(this.dilation)}`);
      }
    }
    if (typeof bias !== "boolean") throw new DeltagradError(`${where}: bias must be true or false, got ${String(bias)}`);
    const dt = floatDType(where, dtype);
    const [kh, kw] = this.kernel;
    // PyTorch computes the fan-in of a transposed conv from weight.size(1): out/groups·kh·kw.
    const fanIn = (outChannels / groups) * kh * kw;
    if (inChannels * fanIn > 2 ** 31 - 1) throw new DeltagradError(`${where}: the weight [${inChannels}, ${outChannels / groups}, ${kh}, ${kw}] is too large`);
    this.weight = uniformInit([inChannels, outChannels / groups, kh, kw], fanIn, dt, generator);
    this.bias = bias ? uniformInit([outChannels], fanIn, dt, generator) : null;
  }

  #name(): string {
    return `ConvTranspose2d(${this.inChannels} → ${this.outChannels}, ${this.kernel.join("×")})`;
  }

  /** The output size for an input of spatial size h×w. @example `up.outputSize(7, 7) // [14, 14]` */
  outputSize(h: number, w: number): [number, number] {
    const o = (a: 0 | 1, n: number) => (n - 1) * this.stride[a] - 2 * this.padding[a] + this.dilation[a] * (this.kernel[a] - 1) + this.outputPadding[a] + 1;
    return [o(0, h), o(1, w)];
  }

  /** The transposed convolution. @example `up.forward(x)` */
  forward(x: Tensor): Tensor {
    const layer = this.#name();
    tensorInput(layer, x);
    if (x.rank !== 3 && x.rank !== 4) throw new DeltagradError(`${layer}: expected NCHW input of rank 4 (or unbatched CHW), got shape ${fmt(x.shape)}`);
    const batched = x.rank === 4 ? x : ag.unsqueeze(x, 0);
    const [n, c, h, w] = batched.shape as [number, number, number, number];
    if (c !== this.inChannels) throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${c} channels, weight ${fmt(this.weight.shape)} expects ${this.inChannels}`);
    if (!ag.isFloat(x.dtype)) throw new DeltagradError(`${layer}: input must be float32 or float64, got ${x.dtype}`);
    const [oh, ow] = this.outputSize(h, w);
    if (h < 1 || w < 1 || oh < 1 || ow < 1) throw new DeltagradError(`${layer}: input ${fmt(x.shape)} gives an empty output ${oh}×${ow} (padding ${text(this.padding)} crops too much)`);
    const y = named(layer, () => {
      const g = this.groups;
      const [kh, kw] = this.kernel;
      const cig = c / g;
      const rows = (this.outChannels / g) * kh * kw;
      // cols[n, g] = W_gᵀ · x[n, g]: [rows, cig] · [cig, H·W]; rows run over (out channel, ki, kj)
      // as unfold's do, so the groups' rows stack into [N, out·kh·kw, H·W] by a reshape.
      const wT = ag.transpose(ag.reshape(this.weight, [g, cig, rows]), -1, -2);
      const cols = ag.reshape(ag.matmul(wT, ag.reshape(batched, [n, g, cig, h * w])), [n, g * rows, h * w]);
      // Fold onto the uncropped output F = (H−1)·S + D·(k−1) + 1, which has exactly H×W windows,
      // then take rows [P, P + OH): zero rows are appended first when outputPadding reaches past F.
      const full: [number, number] = [(h - 1) * this.stride[0] + this.dilation[0] * (kh - 1) + 1, (w - 1) * this.stride[1] + this.dilation[1] * (kw - 1) + 1];
      let out = ag.fold(cols, full, { kernel: this.kernel, stride: this.stride, dilation: this.dilation });
      const extra = [0, 1].map((a) => Math.max(0, this.padding[a]! + [oh, ow][a]! - full[a]!));
      if (extra[0]! > 0 || extra[1]! > 0) out = ag.pad(out, [[0, 0], [0, 0], [0, extra[0]!], [0, extra[1]!]]);
      if (this.padding[0] > 0 || this.padding[1] > 0 || out.shape[2] !== oh || out.shape[3] !== ow) {
        out = ag.slice(out, [0, 0, this.padding[0], this.padding[1]], [n, this.outChannels, oh, ow]);
      }
      return this.bias ? ag.add(out, ag.reshape(this.bias, [1, this.outChannels, 1, 1])) : out;
    });
    return x.rank === 4 ? y : ag.reshape(y, y.shape.slice(1));
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel=${text(this.kernel)}`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=${text(this.stride)}`);
    if (this.padding.some((s) => s !== 0)) parts.push(`padding=${text(this.padding)}`);
    if (this.outputPadding.some((s) => s !== 0)) parts.push(`outputPadding=${text(this.outputPadding)}`);
    if (this.dilation.some((s) => s !== 1)) parts.push(`dilation=${text(this.dilation)}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
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
    nchwInput(layer, x);
    const w = this.fullWeight();
    if (x.shape[1] !== this.inChannels) {
      throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${x.shape[1]} channels, weight ${fmt(w.shape)} expects ${this.inChannels}`);
    }
    return named(layer, () =>
      ag.conv2d(x, w, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }),
    );
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel=${text(this.kernel)}`];
    if (this.stride[0] !== 1 || this.stride[1] !== 1) parts.push(`stride=${text(this.stride)}`);
    if (this.padding[0] !== 0 || this.padding[1] !== 0) parts.push(`padding=${text(this.padding)}`);
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) parts.push(`dilation=${text(this.dilation)}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    if (this.connections) parts.push(`connections=${this.connections.flat().filter(Boolean).length}/${this.inChannels * this.outChannels}`);
    return parts.join(", ");
  }
}

builtInModules(Conv1d, Conv2d, ConvTranspose2d);
