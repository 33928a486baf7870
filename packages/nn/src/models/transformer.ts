/**
 * PyTorch's `nn.TransformerEncoderLayer` (and a stack of them, `TransformerEncoder`), built from
 * {@link MultiheadAttention}, {@link Linear}, {@link LayerNorm} and {@link Dropout}, with
 * PyTorch's child names (`self_attn`, `linear1`, `linear2`, `norm1`, `norm2`) so state dicts
 * match key for key (load PyTorch's with {@link loadTorchStateDict}: Linear weights transpose).
 */
import { DeltagradError, Tensor, defaultGenerator, type Generator, fmtShape } from "@deltagrad/autograd";
import { Linear } from "../layers/linear.js";
import { Dropout } from "../layers/dropout.js";
import { getActivation, type ActivationSpec } from "../layers/activations.js";
import { LayerNorm } from "../layers/norm.js";
import { MultiheadAttention } from "../layers/attention.js";
import { Module, builtInModules, type AnyModule } from "../module.js";
import { ModuleList } from "../containers.js";
import { describeValue, optionsOf, floatDType } from "../options.js";

export interface TransformerEncoderLayerOptions {
  /** Hidden size of the feed-forward block. Default 2048. */
  dimFeedforward?: number;
  /** Dropout probability after attention, inside and after the feed-forward block, and on the attention weights. Default 0.1. */
  dropout?: number;
  /** Feed-forward activation: "relu" (default), "gelu", any name {@link getActivation} knows, or a module. */
  activation?: ActivationSpec;
  /** LayerNorm epsilon. Default 1e-5. */
  layerNormEps?: number;
  /** Input and output are `[N, L, E]` instead of `[L, N, E]`. Default false. */
  batchFirst?: boolean;
  /** Pre-norm (`x + f(norm(x))`, GPT-2 style) instead of post-norm (`norm(x + f(x))`, the 2017 paper's). Default false. */
  normFirst?: boolean;
  /** Biases in the attention projections and the feed-forward Linear layers. Default true. */
  bias?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the initial weights and the dropout masks. */
  generator?: Generator;
}

export interface TransformerEncoderLayerCallOptions {
  /** Self-attention mask `[L, L]` or `[N·nHead, L, L]` (MultiheadAttention's: bool true = blocked, float added). */
  srcMask?: Tensor | null;
  /** `[N, L]`: true (or −∞) at padding positions, which no position attends to. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (position i sees j ≤ i) without building a mask; not together with `srcMask`. Default false. */
  isCausal?: boolean;
}

/**
 * One Transformer encoder block (Vaswani et al. 2017; PyTorch's `nn.TransformerEncoderLayer`):
 * self-attention then a position-wise feed-forward network `linear2(dropout(act(linear1(x))))`,
 * each with a residual connection and a LayerNorm — after the residual by default
 * (`x = norm1(x + sa(x)); x = norm2(x + ff(x))`), or before with `normFirst`
 * (`x = x + sa(norm1(x)); x = x + ff(norm2(x))`). Input and output `[L, N, dModel]`
 * (`[N, L, dModel]` with `batchFirst`, or unbatched `[L, dModel]`).
 *
 * @example
 * ```ts
 * const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, normFirst: true, batchFirst: true });
 * const y = layer.call(randn([2, 10, 32]), { isCausal: true });
 * y.shape; // [2, 10, 32]
 * ```
 */
export class TransformerEncoderLayer extends Module<[src: Tensor, options?: TransformerEncoderLayerCallOptions], Tensor> {
  readonly self_attn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly activation: AnyModule;
  readonly normFirst: boolean;
  readonly dModel: number;
  /** The constructor's arguments, for {@link TransformerEncoderLayer.clone}. */
  readonly #args: [number, number, TransformerEncoderLayerOptions];

  constructor(dModel: number, nHead: number, options?: TransformerEncoderLayerOptions) {
    const where = "TransformerEncoderLayer";
    const {
      dimFeedforward = 2048, dropout: p = 0.1, activation = "relu", layerNormEps = 1e-5, batchFirst = false, normFirst = false, bias = true, dtype,
      generator = defaultGenerator,
    } = optionsOf(where, options);
    super();
    if (!Number.isInteger(dimFeedforward) || dimFeedforward < 1) throw new DeltagradError(`${where}: dimFeedforward must be a positive integer, got ${describeValue(dimFeedforward)}`);
    for (const [n, v] of [["normFirst", normFirst], ["batchFirst", batchFirst], ["bias", bias]] as const) {
      if (typeof v !== "boolean") throw new DeltagradError(`${where}: ${n} must be a boolean, got ${describeValue(v)}`);
    }
    if (typeof layerNormEps !== "number" || !(layerNormEps > 0) || !Number.isFinite(layerNormEps)) throw new DeltagradError(`${where}: layerNormEps must be a finite number > 0, got ${describeValue(layerNormEps)}`);
    floatDType(where, dtype);
    for (const [n, v] of [["dModel", dModel], ["nHead", nHead]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new DeltagradError(`${where}: ${n} must be a positive integer, got ${describeValue(v)}`);
    }
    if (dModel % nHead !== 0) throw new DeltagradError(`${where}: dModel ${dModel} must be divisible by nHead ${nHead}`);
    if (Math.max(3 * dModel, dimFeedforward) * dModel > 2 ** 31 - 1) throw new DeltagradError(`${where}: dModel ${dModel} and dimFeedforward ${dimFeedforward} are too large (a weight would exceed 2³¹−1 elements)`);
    if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new DeltagradError(`${where}: dropout must be a number in [0, 1), got ${describeValue(p)}`);
    this.self_attn = new MultiheadAttention(dModel, nHead, { dropout: p, bias, batchFirst, dtype, generator });
    this.linear1 = new Linear(dModel, dimFeedforward, { bias, dtype, generator });
    this.dropout = new Dropout(p, { generator });
    this.linear2 = new Linear(dimFeedforward, dModel, { bias, dtype, generator });
    this.norm1 = new LayerNorm(dModel, { eps: layerNormEps, dtype });
    this.norm2 = new LayerNorm(dModel, { eps: layerNormEps, dtype });
    this.dropout1 = new Dropout(p, { generator });
    this.dropout2 = new Dropout(p, { generator });
    this.activation = getActivation(activation);
    this.normFirst = normFirst;
    this.dModel = dModel;
    this.#args = [dModel, nHead, { ...optionsOf(where, options) }];
  }

  /**
   * A new layer with the same configuration and a copy of this one's current parameter values (and
   * dtype and training mode), as PyTorch's `TransformerEncoder` deep-copies its layer. An activation
   * given as a module instance is shared; names and factories make a fresh one.
   *
   * @example
   * ```ts
   * const a = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
   * const b = a.clone();
   * b.linear1.weight.arraySync(); // equal to a.linear1.weight's values, in a tensor of its own
   * ```
   */
  clone(): TransformerEncoderLayer {
    const [d, h, o] = this.#args;
    const copy = new TransformerEncoderLayer(d, h, { ...o, dtype: this.self_attn.in_proj_weight.dtype as "float32" | "float64" });
    copy.loadStateDict(this.stateDict());
    return copy.train(this.training);
  }

  /** The block on `src`. @example `layer.forward(src, { srcKeyPaddingMask })` */
  forward(src: Tensor, options?: TransformerEncoderLayerCallOptions): Tensor {
    const where = `TransformerEncoderLayer(${this.dModel})`;
    const { srcMask = null, srcKeyPaddingMask = null, isCausal = false } = optionsOf(where, options);
    if (!(src instanceof Tensor) || (src.rank !== 2 && src.rank !== 3) || src.shape[src.rank - 1] !== this.dModel) {
      const got = src instanceof Tensor ? `${fmtShape(src.shape)}` : describeValue(src);
      throw new DeltagradError(`${where}: src must be a tensor ${this.self_attn.batchFirst ? "[N, L, dModel]" : "[L, N, dModel]"} (or unbatched [L, dModel]) with dModel = ${this.dModel}, got ${got}`);
    }
    const sa = (x: Tensor) => this.dropout1.call(this.self_attn.call(x, x, x, { attnMask: srcMask, keyPaddingMask: srcKeyPaddingMask, isCausal, needWeights: false })[0]);
    // The feed-forward block on [N·L, E] rows: one product per weight gradient (see MultiheadAttention).
    const ff = (x: Tensor) => {
      const y = this.linear2.call(this.dropout.call(this.activation.call(this.linear1.call(x.reshape([-1, this.dModel])))));
      return this.dropout2.call(y.reshape(x.shape));
    };
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.call(x)));
      return x.add(ff(this.norm2.call(x)));
    }
    x = this.norm1.call(x.add(sa(x)));
    return this.norm2.call(x.add(ff(x)));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, normFirst=${this.normFirst}`;
  }
}

export interface TransformerEncoderOptions {
  /** A module applied to the last layer's output (PyTorch's `norm`, e.g. a `LayerNorm` for pre-norm stacks). Default none. */
  norm?: Module | null;
}

export interface TransformerEncoderCallOptions {
  /** Every layer's `srcMask`. */
  mask?: Tensor | null;
  /** Every layer's `srcKeyPaddingMask`. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention in every layer. Default false. */
  isCausal?: boolean;
}

/**
 * A stack of `numLayers` copies of an encoder layer (PyTorch's `nn.TransformerEncoder`): the layer is
 * cloned, so every copy starts from the same values and then trains on its own; children are named
 * `layers.0`, `layers.1`, … and `norm`, as PyTorch's, so `torchStateDict` keys match.
 *
 * @example
 * ```ts
 * const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, normFirst: true, batchFirst: true });
 * const encoder = new TransformerEncoder(layer, 3, { norm: new LayerNorm(32) });
 * encoder.call(randn([2, 10, 32]), { isCausal: true }).shape; // [2, 10, 32]
 * ```
 */
export class TransformerEncoder extends Module<[src: Tensor, options?: TransformerEncoderCallOptions], Tensor> {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  readonly norm: Module | null;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, options?: TransformerEncoderOptions) {
    const where = "TransformerEncoder";
    const { norm = null } = optionsOf(where, options);
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) throw new DeltagradError(`${where}: encoderLayer must be a TransformerEncoderLayer, got ${describeValue(encoderLayer)}`);
    if (!Number.isInteger(numLayers) || numLayers < 1 || numLayers > 10_000) throw new DeltagradError(`${where}: numLayers must be a positive integer, got ${describeValue(numLayers)}`);
    if (norm !== null && !(norm instanceof Module)) throw new DeltagradError(`${where}: norm must be a Module or null, got ${describeValue(norm)}`);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone()));
    this.norm = norm;
  }

  /** Every layer in turn, then `norm`. @example `encoder.forward(src, { srcKeyPaddingMask })` */
  forward(src: Tensor, options?: TransformerEncoderCallOptions): Tensor {
    const { mask = null, srcKeyPaddingMask = null, isCausal = false } = optionsOf("TransformerEncoder", options);
    let x = src;
    for (const layer of this.layers) x = layer.call(x, { srcMask: mask, srcKeyPaddingMask, isCausal });
    return this.norm ? this.norm.call(x) : x;
  }
}

builtInModules(TransformerEncoderLayer, TransformerEncoder);
