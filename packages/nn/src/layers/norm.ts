/**
 * Normalization layers (PyTorch's semantics, defaults, parameter and buffer names): BatchNorm
 * over the channel axis 1 with running statistics, LayerNorm over the trailing axes, GroupNorm
 * over channel groups. All are composites of mean, variance, sqrt and elementwise ops, so their
 * gradients (and higher-order ones) come from the autograd core.
 *
 * Every one computes  y = (x − μ) / √(σ² + ε) · γ + β  with the biased variance σ²; they differ
 * only in the axes μ and σ² are taken over and in where γ, β live.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, type Generator } from "@deltagrad/autograd";
import { Module, builtInModules, parameter } from "../module.js";
import { optionsOf, bool, finiteNumber, floatDType, fmt, named, positiveInt, tensorInput } from "../options.js";

/** (x − μ)/√(σ² + ε), the one formula every layer here shares. */
function normalize(x: Tensor, mu: Tensor, v: Tensor, eps: number): Tensor {
  return ag.div(ag.sub(x, mu), ag.sqrt(ag.add(v, eps)));
}

/** `[1, C, 1, …, 1]` for a per-channel vector against an input of rank `rank`. */
const channelShape = (c: number, rank: number) => [1, c, ...new Array<number>(Math.max(0, rank - 2)).fill(1)];

/** Options of {@link BatchNorm1d}, {@link BatchNorm2d} and {@link BatchNorm}. */
export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /**
   * Weight of the new batch statistic in the running average: running = (1 − m)·running + m·batch.
   * Default 0.1. `null` gives the cumulative average over all batches seen (factor 1/num_batches_tracked).
   */
  momentum?: number | null;
  /** Learnable per-channel scale `weight` (γ, ones) and shift `bias` (β, zeros). Default true. */
  affine?: boolean;
  /** Keep running statistics (buffers) and use them in eval mode. Default true; false uses batch statistics always. */
  trackRunningStats?: boolean;
  /** Parameter and buffer dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Accepted for a uniform constructor signature; the default initialization is deterministic. */
  generator?: Generator;
}

/**
 * Batch normalization over axis 1 (channels) of `[N, C, …]` input, any rank ≥ 2 (PyTorch's
 * `_BatchNorm`; {@link BatchNorm1d} and {@link BatchNorm2d} restrict the rank). In training mode
 * it normalizes with the batch mean and biased variance over every axis but 1, and (under
 * `noGrad`, in place) updates the buffers `running_mean`, `running_var` (with the unbiased
 * batch variance, n/(n−1)·σ²) and `num_batches_tracked` (a 0-d int32). In eval mode it uses
 * the running statistics. Parameters `weight` (γ) and `bias` (β) are `[C]`.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm(3);                  // e.g. [N, 3, D, H, W] volumes
 * bn.call(randn([2, 3, 2, 2, 2])).shape;        // [2, 3, 2, 2, 2]
 * ```
 */
export class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  /** Input ranks this class accepts, for its error messages. */
  protected readonly ranks: readonly number[] | null = null;

  constructor(numFeatures: number, options?: BatchNormOptions) {
    const where = new.target.name;
    const { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype } = optionsOf(where, options);
    super();
    this.numFeatures = positiveInt(where, "numFeatures", numFeatures);
    this.eps = finiteNumber(where, "eps", eps, (e) => e > 0, "a finite number > 0");
    this.momentum = momentum === null ? null : finiteNumber(where, "momentum", momentum, (m) => m >= 0 && m <= 1, "a number in [0, 1] or null");
    this.affine = bool(where, "affine", affine);
    this.trackRunningStats = bool(where, "trackRunningStats", trackRunningStats);
    const dt = floatDType(where, dtype);
    this.weight = affine ? parameter(ag.ones([numFeatures], { dtype: dt })) : null;
    this.bias = affine ? parameter(ag.zeros([numFeatures], { dtype: dt })) : null;
    const track = this.trackRunningStats;
    this.registerBuffer("running_mean", track ? ag.zeros([numFeatures], { dtype: dt }) : null);
    this.registerBuffer("running_var", track ? ag.ones([numFeatures], { dtype: dt }) : null);
    this.registerBuffer("num_batches_tracked", track ? ag.zeros([], { dtype: "int32" }) : null);
  }

  /** The running mean `[C]` (a buffer), or null without `trackRunningStats`. @example `bn.runningMean!.arraySync()` */
  get runningMean(): Tensor | null {
    return this.getBuffer("running_mean");
  }

  /** The running (unbiased) variance `[C]` (a buffer), or null without `trackRunningStats`. @example `bn.runningVar!.arraySync()` */
  get runningVar(): Tensor | null {
    return this.getBuffer("running_var");
  }

  /** Training batches seen (a 0-d int32 buffer), or null without `trackRunningStats`. @example `bn.numBatchesTracked!.itemSync()` */
  get numBatchesTracked(): Tensor | null {
    return this.getBuffer("num_batches_tracked");
  }

  #name(): string {
    return `${this.constructor.name}(${this.numFeatures})`;
  }

  /** Normalizes `x` (see the class comment); in training mode also updates the running statistics. @example `bn.forward(x)` */
  forward(x: Tensor): Tensor {
    const layer = this.#name();
    tensorInput(layer, x);
    const ranks = this.ranks;
    if (ranks ? !ranks.includes(x.rank) : x.rank < 2) {
      const want = ranks ? ranks.map((r) => (r === 2 ? "[N, C]" : r === 3 ? "[N, C, L]" : r === 4 ? "[N, C, H, W]" : `rank ${r}`)).join(" or ") : "[N, C, …] (rank ≥ 2)";
      throw new DeltagradError(`${layer}: expected ${want} input, got shape ${fmt(x.shape)}`);
    }
    if (x.shape[1] !== this.numFeatures) throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${x.shape[1]} channels on axis 1, expected ${this.numFeatures}`);
    if (!ag.isFloat(x.dtype)) throw new DeltagradError(`${layer}: input must be float32 or float64, got ${x.dtype}`);
    const c = this.numFeatures;
    const shape = channelShape(c, x.rank);
    const axes = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)];
    const n = x.size / c; // values per channel
    let mu: Tensor;
    let v: Tensor;
    if (this.training || !this.trackRunningStats) {
      if (this.training && n <= 1) throw new DeltagradError(`${layer}: expected more than 1 value per channel in training mode, got input ${fmt(x.shape)}`);
      mu = ag.mean(x, { axis: axes, keepDims: true });
      v = ag.variance(x, { axis: axes, keepDims: true });
      if (this.training && this.trackRunningStats) this.#update(mu, v, n);
    } else {
      mu = ag.reshape(this.runningMean!, shape);
      v = ag.reshape(this.runningVar!, shape);
    }
    const y = named(layer, () => normalize(x, mu, v, this.eps));
    return this.weight && this.bias ? ag.add(ag.mul(y, ag.reshape(this.weight, shape)), ag.reshape(this.bias, shape)) : y;
  }

  /**
   * running ← (1 − m)·running + m·batch, with the unbiased variance n/(n−1)·σ². In place
   * (`assign`), under noGrad: the buffers keep their identity and the temporaries are released
   * by the caller's scope.
   */
  #update(mu: Tensor, v: Tensor, n: number): void {
    ag.noGrad(() => {
      const nbt = this.numBatchesTracked!;
      const rm = this.runningMean!;
      const rv = this.runningVar!;
      nbt.assign(ag.add(nbt, ag.ones([], { dtype: "int32" })));
      const c = this.numFeatures;
      const batchMean = ag.reshape(mu.detach(), [c]);
      const batchVar = ag.mul(ag.reshape(v.detach(), [c]), n / (n - 1));
      // momentum null: the cumulative average, running += (batch − running)/num_batches_tracked
      const m: number | Tensor = this.momentum ?? ag.reciprocal(ag.cast(nbt, rm.dtype));
      rm.assign(ag.add(rm, ag.mul(ag.sub(batchMean, rm), m)));
      rv.assign(ag.add(rv, ag.mul(ag.sub(batchVar, rv), m)));
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/**
 * Batch normalization of `[N, C]` or `[N, C, L]` input (PyTorch's `BatchNorm1d`): see
 * {@link BatchNorm}. Statistics are per channel C, over N (and L).
 *
 * @example
 * ```ts
 * const bn = new BatchNorm1d(4);
 * const y = bn.call(randn([8, 4]));  // training: batch statistics; running stats updated
 * bn.numBatchesTracked!.itemSync();  // 1
 * bn.eval().call(randn([2, 4])).shape; // [2, 4] — running statistics
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  protected override readonly ranks = [2, 3];
}

/**
 * Batch normalization of `[N, C, H, W]` input (PyTorch's `BatchNorm2d`): see {@link BatchNorm}.
 * Statistics are per channel C, over N, H and W.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(16);
 * bn.call(randn([4, 16, 8, 8])).shape; // [4, 16, 8, 8]
 * Object.keys(bn.stateDict());         // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  protected override readonly ranks = [4];
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Learnable `weight` (ones) and `bias` (zeros) of shape `normalizedShape`. Default true. */
  elementwiseAffine?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Accepted for a uniform constructor signature; the default initialization is deterministic. */
  generator?: Generator;
}

/**
 * Layer normalization (PyTorch's `LayerNorm`): each sample is normalized over its trailing axes
 * `normalizedShape` (a number for the last axis, or an array for the last few) with the biased
 * variance, then scaled elementwise by `weight` and shifted by `bias` (both of that shape).
 * The same in training and eval mode.
 *
 * @example
 * ```ts
 * const ln = new LayerNorm(8);
 * ln.call(randn([2, 5, 8])).shape; // [2, 5, 8], each row of 8 has mean 0 and variance ≈ 1
 * ```
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], options?: LayerNormOptions) {
    const where = "LayerNorm";
    const { eps = 1e-5, elementwiseAffine = true, dtype } = optionsOf(where, options);
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length === 0) throw new DeltagradError(`${where}: normalizedShape must be a positive integer or a non-empty array of them, got ${JSON.stringify(normalizedShape) ?? String(normalizedShape)}`);
    shape.forEach((d, i) => positiveInt(where, `normalizedShape[${i}]`, d));
    if (shape.reduce((a, b) => a * b, 1) > 2 ** 31 - 1) throw new DeltagradError(`${where}: normalizedShape ${fmt(shape)} is too large`);
    this.normalizedShape = Object.freeze(shape.slice());
    this.eps = finiteNumber(where, "eps", eps, (e) => e > 0, "a finite number > 0");
    this.elementwiseAffine = bool(where, "elementwiseAffine", elementwiseAffine);
    const dt = floatDType(where, dtype);
    this.weight = elementwiseAffine ? parameter(ag.ones(shape, { dtype: dt })) : null;
    this.bias = elementwiseAffine ? parameter(ag.zeros(shape, { dtype: dt })) : null;
  }

  /** Normalizes over the trailing `normalizedShape` axes. @example `ln.forward(x)` */
  forward(x: Tensor): Tensor {
    const layer = `LayerNorm(${fmt(this.normalizedShape)})`;
    tensorInput(layer, x);
    const d = this.normalizedShape.length;
    const tail = x.shape.slice(x.rank - d);
    if (x.rank < d || tail.some((s, i) => s !== this.normalizedShape[i])) {
      throw new DeltagradError(`${layer}: input ${fmt(x.shape)} must end with the normalized shape ${fmt(this.normalizedShape)}`);
    }
    if (!ag.isFloat(x.dtype)) throw new DeltagradError(`${layer}: input must be float32 or float64, got ${x.dtype}`);
    const axes = Array.from({ length: d }, (_, i) => x.rank - d + i);
    const y = named(layer, () => normalize(x, ag.mean(x, { axis: axes, keepDims: true }), ag.variance(x, { axis: axes, keepDims: true }), this.eps));
    return this.weight && this.bias ? ag.add(ag.mul(y, this.weight), this.bias) : y;
  }

  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}

/** Options of {@link GroupNorm}. */
export interface GroupNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /** Learnable per-channel `weight` (ones) and `bias` (zeros), `[numChannels]`. Default true. */
  affine?: boolean;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Accepted for a uniform constructor signature; the default initialization is deterministic. */
  generator?: Generator;
}

/**
 * Group normalization (Wu & He 2018; PyTorch's `GroupNorm`) of `[N, C, …]` input: the C channels
 * are split into `numGroups` groups of C/G consecutive channels, each sample's group is normalized
 * over its channels and all other axes (biased variance), then every channel gets its own scale
 * `weight` and shift `bias` (`[C]`). The same in training and eval mode; GroupNorm(1, C) is a
 * LayerNorm over [C, …] with per-channel affine, GroupNorm(C, C) is InstanceNorm.
 *
 * @example
 * ```ts
 * const gn = new GroupNorm(2, 6);
 * gn.call(randn([4, 6, 5, 5])).shape; // [4, 6, 5, 5]
 * ```
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(numGroups: number, numChannels: number, options?: GroupNormOptions) {
    const where = "GroupNorm";
    const { eps = 1e-5, affine = true, dtype } = optionsOf(where, options);
    super();
    this.numGroups = positiveInt(where, "numGroups", numGroups);
    this.numChannels = positiveInt(where, "numChannels", numChannels);
    if (numChannels % numGroups !== 0) throw new DeltagradError(`${where}: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    this.eps = finiteNumber(where, "eps", eps, (e) => e > 0, "a finite number > 0");
    this.affine = bool(where, "affine", affine);
    const dt = floatDType(where, dtype);
    this.weight = affine ? parameter(ag.ones([numChannels], { dtype: dt })) : null;
    this.bias = affine ? parameter(ag.zeros([numChannels], { dtype: dt })) : null;
  }

  /** Normalizes each group of channels per sample. @example `gn.forward(x)` */
  forward(x: Tensor): Tensor {
    const layer = `GroupNorm(${this.numGroups}, ${this.numChannels})`;
    tensorInput(layer, x);
    if (x.rank < 2) throw new DeltagradError(`${layer}: expected [N, C, …] input (rank ≥ 2), got shape ${fmt(x.shape)}`);
    if (x.shape[1] !== this.numChannels) throw new DeltagradError(`${layer}: input ${fmt(x.shape)} has ${x.shape[1]} channels on axis 1, expected ${this.numChannels}`);
    if (!ag.isFloat(x.dtype)) throw new DeltagradError(`${layer}: input must be float32 or float64, got ${x.dtype}`);
    const n = x.shape[0]!;
    const g = this.numGroups;
    const perGroup = x.size / Math.max(1, n * g);
    if (x.size === 0) return x;
    const y = named(layer, () => {
      // Channels of a group are consecutive, so [N, C, …] → [N, G, (C/G)·…] is a reshape.
      const xg = ag.reshape(x, [n, g, perGroup]);
      return ag.reshape(normalize(xg, ag.mean(xg, { axis: 2, keepDims: true }), ag.variance(xg, { axis: 2, keepDims: true }), this.eps), x.shape);
    });
    if (!this.weight || !this.bias) return y;
    const shape = channelShape(this.numChannels, x.rank);
    return ag.add(ag.mul(y, ag.reshape(this.weight, shape)), ag.reshape(this.bias, shape));
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}

builtInModules(BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm);
