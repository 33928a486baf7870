/**
 * A lookup table of learnable vectors (PyTorch's `nn.Embedding`): `gather` of rows of `weight`,
 * whose VJP (`scatterAdd`) sends each output row's gradient back to the row it came from.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, defaultGenerator, isTracing, type Generator } from "@deltagrad/autograd";
import { normal } from "../init.js";
import { Module, builtInModules, parameter } from "../module.js";
import { describeValue, optionsOf, floatDType, fmt, positiveInt, tensorInput } from "../options.js";

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /**
   * A row that stays a fixed "padding" vector: zero-initialized, and it never receives a gradient
   * (the optimizer leaves it alone). Negative values count from the end, as PyTorch.
   */
  paddingIdx?: number;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the default N(0, 1) initialization. */
  generator?: Generator;
}

/**
 * Embedding table: `weight` `[numEmbeddings, embeddingDim]`, initialized N(0, 1) as PyTorch. The
 * forward takes int32 indices of any shape and returns `[...indices.shape, embeddingDim]`.
 *
 * Indices are user input, not traced values, so the layer reads them on the host (on synchronous
 * backends) to report an out-of-range index by value and position, naming the layer and the
 * valid range, before anything is computed. With `paddingIdx`, that row is zeroed at
 * construction and its gradient is always zero: the output is `where(isPad, out.detach(), out)`,
 * which has the same values but lets no gradient through at padding positions.
 *
 * @example
 * ```ts
 * const emb = new Embedding(10, 4, { paddingIdx: 0 });
 * const ids = tensor([[1, 2, 0], [4, 0, 0]], { dtype: "int32" });
 * emb.call(ids).shape; // [2, 3, 4]
 * ```
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** The padding row (normalized to ≥ 0), or null. */
  readonly paddingIdx: number | null;
  readonly weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options?: EmbeddingOptions) {
    const where = "Embedding";
    const { paddingIdx, dtype, generator = defaultGenerator } = optionsOf(where, options);
    super();
    this.numEmbeddings = positiveInt(where, "numEmbeddings", numEmbeddings);
    this.embeddingDim = positiveInt(where, "embeddingDim", embeddingDim);
    if (numEmbeddings * embeddingDim > 2 ** 31 - 1) throw new DeltagradError(`${where}: a ${numEmbeddings}×${embeddingDim} table is too large (at most 2³¹−1 elements)`);
    if (paddingIdx !== undefined && (!Number.isInteger(paddingIdx) || paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings)) {
      throw new DeltagradError(`${where}: paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings}), got ${describeValue(paddingIdx)}`);
    }
    this.paddingIdx = paddingIdx === undefined ? null : paddingIdx < 0 ? numEmbeddings + paddingIdx : paddingIdx;
    const dt = floatDType(where, dtype);
    const w = ag.noGrad(() => normal(ag.zeros([numEmbeddings, embeddingDim], { dtype: dt }), { generator }));
    if (this.paddingIdx !== null) {
      const keep = new Float64Array(numEmbeddings).fill(1);
      keep[this.paddingIdx] = 0;
      w.assign(ag.noGrad(() => ag.mul(w, ag.reshape(ag.tensor(keep, { dtype: dt }), [numEmbeddings, 1]))));
    }
    this.weight = parameter(w);
  }

  #name(): string {
    return `Embedding(${this.numEmbeddings}, ${this.embeddingDim})`;
  }

  /** Rows of `weight` at `indices` (int32, any shape). @example `emb.forward(ids)` */
  forward(indices: Tensor): Tensor {
    const layer = this.#name();
    tensorInput(layer, indices, "of indices");
    if (indices.dtype !== "int32") throw new DeltagradError(`${layer}: indices must be int32, got ${indices.dtype} (shape ${fmt(indices.shape)})`);
    // Indices are data the user gave, not values of the traced computation: reading them here
    // does not break the "core never reads values" rule, and lets the error name the bad one.
    if (indices.backend.synchronous && !isTracing()) {
      const v = indices.dataSync();
      for (let i = 0; i < v.length; i++) {
        const k = v[i]!;
        if (k < 0 || k >= this.numEmbeddings) {
          throw new DeltagradError(`${layer}: index ${k} at position ${i} (flat) of indices ${fmt(indices.shape)} is out of range [0, ${this.numEmbeddings})`);
        }
      }
    }
    const out = ag.gather(this.weight, indices, 0);
    if (this.paddingIdx === null) return out;
    const isPad = ag.unsqueeze(ag.equal(indices, ag.full([], this.paddingIdx, { dtype: "int32" })), -1);
    return ag.where(isPad, out.detach(), out);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? "" : `, paddingIdx=${this.paddingIdx}`}`;
  }
}

builtInModules(Embedding);
