/**
 * Attention: the scaled dot-product attention function and PyTorch's `MultiheadAttention`.
 *
 * softmax(Q·Kᵀ·scale + M)·V, composed from public ops (matmul, where, softmax), so gradients of
 * any order come from the primitives' VJPs.
 */
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, broadcastShapes, defaultGenerator, isFloat, scoped, type Generator } from "@deltagrad/autograd";
import { optionsOf, describeValue, floatDType, fmt } from "../options.js";
import { Linear } from "./linear.js";
import { dropout } from "./dropout.js";
import { xavierUniform } from "../init.js";
import { Module, builtInModules, parameter } from "../module.js";


export interface ScaledDotProductAttentionOptions {
  /**
   * A mask broadcasting to the scores `[..., L, S]`. Bool: true where a query **may** attend (as
   * PyTorch's `scaled_dot_product_attention`); float: added to the scores (use −∞ to block).
   */
  attnMask?: Tensor | null;
  /** Top-left lower-triangular mask: query i sees keys j ≤ i. Cannot be combined with `attnMask`. Default false. */
  isCausal?: boolean;
  /** Multiplies Q·Kᵀ. Default 1/√D (D = the query's last axis). */
  scale?: number;
  /** Dropout probability on the attention weights (applied whenever > 0, as PyTorch). Default 0. */
  dropoutP?: number;
  /** Generator for the dropout mask. */
  generator?: Generator;
}

function checkTensor(op: string, what: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new DeltagradError(`${op}: ${what} must be a Tensor, got ${describeValue(t)}`);
  return t;
}

/**
 * Validates query/key (and value) shapes and the options; returns the scaled scores with the mask
 * applied, `[..., L, S]`.
 */
function maskedScores(op: string, q: Tensor, k: Tensor, v: Tensor | null, options: ScaledDotProductAttentionOptions | undefined): Tensor {
  const { attnMask = null, isCausal = false, scale } = optionsOf(op, options);
  checkTensor(op, "query", q);
  checkTensor(op, "key", k);
  if (v !== null) checkTensor(op, "value", v);
  for (const [name, t] of [["query", q], ["key", k], ["value", v]] as const) {
    if (t === null) continue;
    if (t.rank < 2) throw new DeltagradError(`${op}: ${name} must have shape [..., length, features], got ${fmt(t.shape)}`);
    if (!isFloat(t.dtype)) throw new DeltagradError(`${op}: ${name} must be float32 or float64, got ${t.dtype}`);
  }
  const D = q.shape[q.rank - 1]!;
  if (k.shape[k.rank - 1] !== D) throw new DeltagradError(`${op}: query ${fmt(q.shape)} and key ${fmt(k.shape)} differ in the feature (last) axis`);
  if (v !== null && v.shape[v.rank - 2] !== k.shape[k.rank - 2]) {
    throw new DeltagradError(`${op}: key ${fmt(k.shape)} and value ${fmt(v.shape)} differ in the sequence (second-to-last) axis`);
  }
  if (typeof isCausal !== "boolean") throw new DeltagradError(`${op}: isCausal must be a boolean, got ${describeValue(isCausal)}`);
  if (scale !== undefined && (typeof scale !== "number" || !Number.isFinite(scale))) throw new DeltagradError(`${op}: scale must be a finite number, got ${describeValue(scale)}`);
  const L = q.shape[q.rank - 2]!;
  const S = k.shape[k.rank - 2]!;
  const batch = broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2));
  let mask: Tensor | null = null;
  if (attnMask !== null && attnMask !== undefined) {
    checkTensor(op, "attnMask", attnMask);
    if (isCausal) throw new DeltagradError(`${op}: give either attnMask or isCausal, not both (isCausal is itself a mask)`);
    if (attnMask.dtype !== "bool" && !isFloat(attnMask.dtype)) throw new DeltagradError(`${op}: attnMask must be bool or float, got ${attnMask.dtype}`);
    const target = [...batch, L, S];
    const ok = (() => {
      try {
        return broadcastShapes(op, attnMask.shape, target).join() === target.join();
      } catch {
        return false;
      }
    })();
    if (!ok) throw new DeltagradError(`${op}: attnMask ${fmt(attnMask.shape)} does not broadcast to the scores ${fmt(target)} (query ${fmt(q.shape)}, key ${fmt(k.shape)})`);
    mask = attnMask;
  } else if (isCausal) {
    mask = causalMask(L, S);
  }
  let scores = ag.mul(ag.matmul(q, ag.transpose(k, -1, -2)), scale ?? 1 / Math.sqrt(D));
  if (mask !== null) scores = mask.dtype === "bool" ? ag.maskedFill(scores, ag.logicalNot(mask), -Infinity) : ag.add(scores, mask);
  return scores;
}

/**
 * The top-left causal mask `[L, S]`: true where key j may be seen by query i, i.e. j ≤ i
 * (PyTorch's `is_causal`, `torch.ones(L, S).tril()`).
 *
 * @example
 * ```ts
 * causalMask(3, 3).arraySync(); // [[1,0,0],[1,1,0],[1,1,1]] (bool)
 * ```
 */
export function causalMask(L: number, S: number = L): Tensor {
  for (const [n, v] of [["L", L], ["S", S]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new DeltagradError(`causalMask: ${n} must be a non-negative integer, got ${describeValue(v)}`);
  }
  if (L * S > 2 ** 31 - 1) throw new DeltagradError(`causalMask: a ${L}×${S} mask exceeds 2³¹−1 elements`);
  return ag.tril(ag.ones([L, S], { dtype: "bool" }));
}

/**
 * The attention weights softmax(Q·Kᵀ·scale + M) `[..., L, S]` that
 * {@link scaledDotProductAttention} multiplies V with (before dropout): each row sums to 1.
 * Masks as in {@link scaledDotProductAttention}. Handy to draw attention maps.
 *
 * @example
 * ```ts
 * const w = attentionWeights(randn([4, 8]), randn([4, 8]), { isCausal: true });
 * w.arraySync()[0]; // [1, 0, 0, 0]: the first query sees only the first key
 * ```
 */
export function attentionWeights(query: Tensor, key: Tensor, options?: ScaledDotProductAttentionOptions): Tensor {
  return scoped(() => ag.softmax(maskedScores("attentionWeights", query, key, null, options), { axis: -1 }));
}

/**
 * Scaled dot-product attention, PyTorch's `F.scaled_dot_product_attention`:
 * softmax(Q·Kᵀ·scale + M)·V for query `[..., L, D]`, key `[..., S, D]`, value `[..., S, Dv]`
 * (leading axes broadcast) → `[..., L, Dv]`. A bool `attnMask` is true where a query may attend;
 * a float one is added to the scores; `isCausal` lets query i see keys j ≤ i. A query row with
 * every key masked gives NaN, as in PyTorch.
 *
 * @example
 * ```ts
 * const q = randn([2, 5, 8]), k = randn([2, 7, 8]), v = randn([2, 7, 3]);
 * scaledDotProductAttention(q, k, v).shape;                      // [2, 5, 3]
 * scaledDotProductAttention(q, q, q, { isCausal: true }).shape;  // [2, 5, 8]
 * ```
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options?: ScaledDotProductAttentionOptions): Tensor {
  const op = "scaledDotProductAttention";
  return scoped(() => {
    const { dropoutP = 0, generator = defaultGenerator } = optionsOf(op, options);
    if (typeof dropoutP !== "number" || !(dropoutP >= 0 && dropoutP < 1)) throw new DeltagradError(`${op}: dropoutP must be a number in [0, 1), got ${describeValue(dropoutP)}`);
    const w = ag.softmax(maskedScores(op, query, key, value, options), { axis: -1 });
    const wd = dropoutP > 0 ? dropout(w, { p: dropoutP, generator }) : w;
    return ag.matmul(wd, value);
  });
}

/**
 * PyTorch's `Transformer.generate_square_subsequent_mask`: a float `[n, n]` mask, 0 on and below
 * the diagonal and −∞ above it, to add to attention scores (query i sees keys j ≤ i).
 *
 * @example
 * ```ts
 * generateSquareSubsequentMask(3).arraySync(); // [[0,-Inf,-Inf],[0,0,-Inf],[0,0,0]]
 * ```
 */
export function generateSquareSubsequentMask(n: number, options?: { dtype?: "float32" | "float64" }): Tensor {
  const { dtype = "float32" } = optionsOf("generateSquareSubsequentMask", options);
  if (!Number.isInteger(n) || n < 0 || n * n > 2 ** 31 - 1) throw new DeltagradError(`generateSquareSubsequentMask: n must be a non-negative integer with n² < 2³¹, got ${describeValue(n)}`);
  if (dtype !== "float32" && dtype !== "float64") throw new DeltagradError(`generateSquareSubsequentMask: dtype must be "float32" or "float64", got ${describeValue(dtype)}`);
  return ag.where(causalMask(n, n), ag.zeros([], { dtype }), -Infinity);
}

export interface MultiheadAttentionOptions {
  /** Biases in the input and output projections. Default true. */
  bias?: boolean;
  /** Inputs and output are `[N, L, E]` instead of `[L, N, E]`. Default false. */
  batchFirst?: boolean;
  /** Dropout probability on the attention weights in training mode. Default 0. */
  dropout?: number;
  /** Parameter dtype: float32 (default) or float64. */
  dtype?: "float32" | "float64";
  /** Generator for the initial weights and the dropout masks. */
  generator?: Generator;
}

export interface MultiheadAttentionCallOptions {
  /**
   * `[L, S]` or `[N·numHeads, L, S]`. Bool: true where a query may **not** attend (PyTorch's
   * `nn.MultiheadAttention` convention, the opposite of {@link scaledDotProductAttention}'s);
   * float: added to the scores.
   */
  attnMask?: Tensor | null;
  /** `[N, S]` (`[S]` unbatched). Bool: true at padding keys, which no query attends to; float: added. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights too. Default true. */
  needWeights?: boolean;
  /** Average the returned weights over the heads (`[N, L, S]`) or not (`[N, numHeads, L, S]`). Default true. */
  averageAttnWeights?: boolean;
  /** Apply the causal mask (query i sees keys j ≤ i); not together with `attnMask`. Default false. */
  isCausal?: boolean;
}

/**
 * Multi-head attention, PyTorch's `nn.MultiheadAttention`: Q = query·W_qᵀ + b_q (likewise K, V,
 * from the rows of `in_proj_weight` `[3E, E]` and `in_proj_bias` `[3E]`), split into `numHeads`
 * heads of E/numHeads features, softmax(QKᵀ/√(E/h) + masks)·V per head, heads concatenated and
 * passed through `out_proj`, a {@link Linear}. `call(query, key, value, options?)` →
 * `[output, weights | null]`; query `[L, N, E]`, key and value `[S, N, E]` (`[N, ·, E]` with
 * `batchFirst`, or unbatched `[L, E]`), output like query, weights `[N, L, S]` averaged over heads.
 *
 * **PyTorch state dicts:** `out_proj` is a deltagrad `Linear`, whose weight is `[in, out]`, the
 * transpose of PyTorch's `out_proj.weight`; load PyTorch weights with {@link loadTorchStateDict},
 * which transposes every `Linear` weight (and {@link torchStateDict} writes them back).
 *
 * @example
 * ```ts
 * const mha = new MultiheadAttention(16, 4, { batchFirst: true });
 * const x = randn([2, 5, 16]);
 * const [y, w] = mha.call(x, x, x, { isCausal: true });
 * y.shape;  // [2, 5, 16]
 * w!.shape; // [2, 5, 5]
 * ```
 */
export class MultiheadAttention extends Module<[query: Tensor, key: Tensor, value: Tensor, options?: MultiheadAttentionCallOptions], [Tensor, Tensor | null]> {
  readonly in_proj_weight: Tensor;
  readonly in_proj_bias: Tensor | null;
  readonly out_proj: Linear;
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly #generator: Generator;

  constructor(embedDim: number, numHeads: number, options?: MultiheadAttentionOptions) {
    const { bias = true, batchFirst = false, dropout: p = 0, dtype, generator = defaultGenerator } = optionsOf("MultiheadAttention", options);
    super();
    const where = "MultiheadAttention";
    for (const [n, v] of [["embedDim", embedDim], ["numHeads", numHeads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new DeltagradError(`${where}: ${n} must be a positive integer, got ${describeValue(v)}`);
    }
    if (embedDim % numHeads !== 0) throw new DeltagradError(`${where}: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    if (3 * embedDim * embedDim > 2 ** 31 - 1) throw new DeltagradError(`${where}: embedDim ${embedDim} is too large (in_proj_weight [${3 * embedDim}, ${embedDim}] would exceed 2³¹−1 elements)`);
    if (typeof bias !== "boolean") throw new DeltagradError(`${where}: bias must be a boolean, got ${describeValue(bias)}`);
    if (typeof batchFirst !== "boolean") throw new DeltagradError(`${where}: batchFirst must be a boolean, got ${describeValue(batchFirst)}`);
    if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new DeltagradError(`${where}: dropout must be a number in [0, 1), got ${describeValue(p)}`);
    const dt = floatDType(where, dtype);
    // PyTorch's _reset_parameters: xavier_uniform_ in_proj_weight, zero biases; out_proj keeps Linear's U(±1/√E) weight.
    this.in_proj_weight = parameter(xavierUniform(ag.zeros([3 * embedDim, embedDim], { dtype: dt }), { generator }));
    this.in_proj_bias = bias ? parameter(ag.zeros([3 * embedDim], { dtype: dt })) : null;
    this.out_proj = new Linear(embedDim, embedDim, { bias, biasInit: "zeros", dtype: dt, generator });
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.batchFirst = batchFirst;
    this.dropout = p;
    this.#generator = generator;
  }

  /** `[output, weights | null]`. @example `const [y, w] = mha.forward(q, k, v, { keyPaddingMask })` */
  forward(query: Tensor, key: Tensor, value: Tensor, options?: MultiheadAttentionCallOptions): [Tensor, Tensor | null] {
    const where = `MultiheadAttention(${this.embedDim}, ${this.numHeads})`;
    const { attnMask = null, keyPaddingMask = null, needWeights = true, averageAttnWeights = true, isCausal = false } = optionsOf(where, options);
    const E = this.embedDim;
    const layout = this.batchFirst ? "[N, L, E]" : "[L, N, E]";
    const names = ["query", "key", "value"] as const;
    [query, key, value].forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new DeltagradError(`${where}: ${names[i]} must be a Tensor, got ${describeValue(t)}`);
      if (!isFloat(t.dtype)) throw new DeltagradError(`${where}: ${names[i]} must be float32 or float64, got ${t.dtype}`);
    });
    const rank = query.rank;
    if ((rank !== 3 && rank !== 2) || key.rank !== rank || value.rank !== rank || [query, key, value].some((t) => t.shape[rank - 1] !== E)) {
      throw new DeltagradError(`${where}: query, key and value must all be ${layout} (or unbatched [L, E]) with E = ${E}, got ${fmt(query.shape)}, ${fmt(key.shape)}, ${fmt(value.shape)}`);
    }
    // Inside: batch-first [N, L, E]; unbatched is a batch of one.
    // Tensors are converted to batch-first only where used: a tensor made and never used would keep
    // its input alive after backward on the wasm backend (see the note in the seq issue report).
    const bf = (t: Tensor) => (rank === 2 ? ag.unsqueeze(t, 0) : this.batchFirst ? t : ag.transpose(t, 0, 1));
    const dims = (t: Tensor) => (rank === 2 ? [1, t.shape[0]!] : this.batchFirst ? [t.shape[0]!, t.shape[1]!] : [t.shape[1]!, t.shape[0]!]);
    const [[N, L], [NK, S], [NV, SV]] = [dims(query), dims(key), dims(value)] as [number, number][];
    if (NK !== N || NV !== N || SV !== S) {
      throw new DeltagradError(`${where}: query ${fmt(query.shape)}, key ${fmt(key.shape)} and value ${fmt(value.shape)} must agree in batch size, and key and value in length (layout ${layout})`);
    }
    const h = this.numHeads;
    const d = this.headDim;
    const w = this.in_proj_weight;
    const b = this.in_proj_bias;
    // Q, K, V = x·W_iᵀ + b_i with W_i the rows [iE, (i+1)E) of in_proj_weight, split into heads
    // [N, h, ·, d]. The products take [N·len, E] rows, so W's gradient is one product rather than
    // a product per batch element summed; self-attention (query, key and value one tensor)
    // projects once with all 3E rows, as PyTorch's packed in-projection.
    const rows = (x: Tensor, len: number) => ag.reshape(x, [N * len, E]);
    let Q: Tensor, K: Tensor, V: Tensor;
    if (query === key && key === value) {
      let y = ag.matmul(rows(bf(query), L), ag.transpose(w)); // [N·L, 3E]
      if (b) y = ag.add(y, b);
      const qkv = ag.permute(ag.reshape(y, [N, L, 3, h, d]), [2, 0, 3, 1, 4]); // [3, N, h, L, d]
      [Q, K, V] = [0, 1, 2].map((i) => ag.reshape(ag.slice(qkv, [i, 0, 0, 0, 0], [1, N, h, L, d]), [N, h, L, d])) as [Tensor, Tensor, Tensor];
    } else {
      const project = (x: Tensor, i: number, len: number) => {
        let y = ag.matmul(rows(x, len), ag.transpose(ag.slice(w, [i * E, 0], [E, E])));
        if (b) y = ag.add(y, ag.slice(b, [i * E], [E]));
        return ag.permute(ag.reshape(y, [N, len, h, d]), [0, 2, 1, 3]);
      };
      [Q, K, V] = [project(bf(query), 0, L), project(bf(key), 1, S), project(bf(value), 2, S)];
    }
    let scores = ag.mul(ag.matmul(Q, ag.transpose(K, -1, -2)), 1 / Math.sqrt(d)); // [N, h, L, S]
    if (isCausal) {
      if (attnMask !== null) throw new DeltagradError(`${where}: give either attnMask or isCausal, not both`);
      scores = ag.maskedFill(scores, ag.triu(ag.ones([L, S], { dtype: "bool" }), { diagonal: 1 }), -Infinity);
    }
    if (attnMask !== null) {
      const shapes = [[L, S], [N * h, L, S]];
      if (!(attnMask instanceof Tensor) || !shapes.some((s) => s.join() === attnMask.shape.join()) || !(attnMask.dtype === "bool" || isFloat(attnMask.dtype))) {
        throw new DeltagradError(`${where}: attnMask must be a bool or float tensor of shape [${L},${S}] or [${N * h},${L},${S}] (N·numHeads, L, S), got ${attnMask instanceof Tensor ? `${attnMask.dtype} ${fmt(attnMask.shape)}` : describeValue(attnMask)}`);
      }
      scores = maskAdd(scores, attnMask.rank === 3 ? ag.reshape(attnMask, [N, h, L, S]) : attnMask);
    }
    if (keyPaddingMask !== null) {
      const s = rank === 2 ? [S] : [N, S];
      if (!(keyPaddingMask instanceof Tensor) || keyPaddingMask.shape.join() !== s.join() || !(keyPaddingMask.dtype === "bool" || isFloat(keyPaddingMask.dtype))) {
        throw new DeltagradError(`${where}: keyPaddingMask must be a bool or float tensor of shape ${fmt(s)}, got ${keyPaddingMask instanceof Tensor ? `${keyPaddingMask.dtype} ${fmt(keyPaddingMask.shape)}` : describeValue(keyPaddingMask)}`);
      }
      scores = maskAdd(scores, ag.reshape(keyPaddingMask, [N, 1, 1, S]));
    }
    const weights = ag.softmax(scores, { axis: -1 });
    const dropped = this.training && this.dropout > 0 ? dropout(weights, { p: this.dropout, generator: this.#generator }) : weights;
    const heads = ag.matmul(dropped, V); // [N, h, L, d]
    let out = ag.reshape(this.out_proj.call(ag.reshape(ag.permute(heads, [0, 2, 1, 3]), [N * L, E])), [N, L, E]);
    out = rank === 2 ? ag.squeeze(out, 0) : this.batchFirst ? out : ag.transpose(out, 0, 1);
    if (!needWeights) return [out, null];
    let wOut = averageAttnWeights ? ag.mean(weights, { axis: 1 }) : weights;
    if (rank === 2) wOut = ag.squeeze(wOut, 0);
    return [out, wOut];
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, batchFirst=${this.batchFirst}${this.dropout ? `, dropout=${this.dropout}` : ""}`;
  }
}

/** PyTorch's MultiheadAttention mask rule: a bool mask blocks where true (−∞); a float mask is added. */
function maskAdd(scores: Tensor, mask: Tensor): Tensor {
  return mask.dtype === "bool" ? ag.maskedFill(scores, mask, -Infinity) : ag.add(scores, mask);
}

builtInModules(MultiheadAttention);
