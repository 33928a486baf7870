/**
 * Margin and similarity losses: cosine, cosine-embedding, hinge-embedding, hinge, exponential
 * and multi-class margin losses.
 */
import { DeltagradError, Tensor, fmtShape, add, clamp, equal, exp, mul, neg, relu, sqrt, square, sub, sum, where, scoped } from "@deltagrad/autograd";
import { optionsOf, finiteNumber } from "../options.js";
import { sameShape, checkTensor, floatInput, checkSameShape, reduce, checkClassLabels, checkSignLabels, oneHotLike, type ReductionOptions } from "./support.js";

/**
 * Cosine similarity along `axis`: Σa·b / (max(‖a‖, eps)·max(‖b‖, eps)). The norms are clamped
 * through their squares, so a zero vector gives similarity 0 with finite gradients.
 */
function cosineSimilarity(a: Tensor, b: Tensor, axis: number, eps: number): Tensor {
  const norm = (v: Tensor) => sqrt(clamp(sum(square(v), { axis }), { min: eps * eps }));
  return sum(mul(a, b), { axis }).div(mul(norm(a), norm(b)));
}

/**
 * 1 − cosine similarity between `input` and `target` along `axis` (default −1), then reduced
 * (mean by default). Norms below eps = 1e-8 are clamped to eps.
 *
 * @example
 * ```ts
 * cosineLoss(tensor([[1, 0], [1, 1]]), tensor([[0, 1], [2, 2]])); // mean(1, 0) = 0.5
 * ```
 */
export function cosineLoss(input: Tensor, target: Tensor, options?: ReductionOptions & { axis?: number }): Tensor {
  return scoped(() => {
    const { axis = -1, reduction } = optionsOf("cosineLoss", options);
    const op = "cosineLoss";
    const x = floatInput(op, input);
    const t = checkTensor(op, target, "target");
    checkSameShape(op, x, t);
    if (x.rank === 0) throw new DeltagradError(`${op}: input must have at least one axis, got a scalar`);
    if (!Number.isInteger(axis) || axis < -x.rank || axis >= x.rank) {
      throw new DeltagradError(`${op}: axis ${String(axis)} is out of range for shape ${fmtShape(x.shape)}`);
    }
    return reduce(op, sub(1, cosineSimilarity(x, t, axis, 1e-8)), reduction);
  });
}

/**
 * PyTorch's cosine embedding loss for pairs of rows `input1`, `input2` (`[N, D]`, or `[D]`) with
 * labels y = ±1 (`[N]`, or a scalar): 1 − cos where y = 1, max(0, cos − margin) where y = −1.
 *
 * @example
 * ```ts
 * cosineEmbeddingLoss(tensor([[1, 0]]), tensor([[1, 1]]), tensor([-1]), { margin: 0.5 }); // 0.2071
 * ```
 */
export function cosineEmbeddingLoss(input1: Tensor, input2: Tensor, target: Tensor, options?: ReductionOptions & { margin?: number }): Tensor {
  return scoped(() => {
    const { margin = 0, reduction } = optionsOf("cosineEmbeddingLoss", options);
    const op = "cosineEmbeddingLoss";
    finiteNumber(op, "margin", margin, Number.isFinite, "a finite number");
    const a = floatInput(op, input1, "input1");
    const b = checkTensor(op, input2, "input2");
    checkSameShape(op, a, b, "input2");
    const y = checkTensor(op, target, "target");
    if (a.rank < 1 || a.rank > 2 || !sameShape(y.shape, a.shape.slice(0, -1))) {
      throw new DeltagradError(`${op}: expected inputs [N, D] with target [N] (or [D] with a scalar target), got ${fmtShape(a.shape)} and target ${fmtShape(y.shape)}`);
    }
    checkSignLabels(op, y);
    const cos = cosineSimilarity(a, b, -1, 1e-8);
    return reduce(op, where(equal(y, 1), sub(1, cos), relu(sub(cos, margin))), reduction);
  });
}

/**
 * PyTorch's hinge embedding loss: x where y = 1, max(0, margin − x) where y = −1 (labels ±1).
 *
 * @example
 * ```ts
 * hingeEmbeddingLoss(tensor([0.3, 0.3]), tensor([1, -1])); // mean(0.3, 0.7) = 0.5
 * ```
 */
export function hingeEmbeddingLoss(input: Tensor, target: Tensor, options?: ReductionOptions & { margin?: number }): Tensor {
  return scoped(() => {
    const { margin = 1, reduction } = optionsOf("hingeEmbeddingLoss", options);
    const op = "hingeEmbeddingLoss";
    finiteNumber(op, "margin", margin, Number.isFinite, "a finite number");
    const x = floatInput(op, input);
    const y = checkTensor(op, target, "target");
    checkSameShape(op, x, y);
    checkSignLabels(op, y);
    return reduce(op, where(equal(y, 1), x, relu(sub(margin, x))), reduction);
  });
}

/**
 * Hinge loss for labels y = ±1 and scores f (lecture 002): max(0, 1 − y·f).
 *
 * @example
 * ```ts
 * hingeLoss(tensor([2, 0.5, -1]), tensor([1, 1, 1])); // mean(0, 0.5, 2) = 0.8333
 * ```
 */
export function hingeLoss(scores: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("hingeLoss", options);
    const op = "hingeLoss";
    const f = floatInput(op, scores, "scores");
    const y = checkTensor(op, target, "target");
    checkSameShape(op, f, y);
    checkSignLabels(op, y);
    return reduce(op, relu(sub(1, mul(y, f))), reduction);
  });
}

/**
 * Exponential loss for labels y = ±1 and scores f (lecture 002, AdaBoost's loss): e^(−y·f).
 *
 * @example
 * ```ts
 * exponentialLoss(tensor([0, 1]), tensor([1, -1]), { reduction: "sum" }); // 1 + e
 * ```
 */
export function exponentialLoss(scores: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("exponentialLoss", options);
    const op = "exponentialLoss";
    const f = floatInput(op, scores, "scores");
    const y = checkTensor(op, target, "target");
    checkSameShape(op, f, y);
    checkSignLabels(op, y);
    return reduce(op, exp(neg(mul(y, f))), reduction);
  });
}

/**
 * Multiclass hinge loss (PyTorch's multi_margin_loss) for scores `[N, C]` (or `[C]`) and int32
 * labels: Σ_{i≠y} max(0, margin − x[y] + x[i])^p / C per sample, p = 1 (default) or 2.
 *
 * @example
 * ```ts
 * multiMarginLoss(tensor([[0.1, 0.2, 0.4, 0.8]]), tensor([3], { dtype: "int32" })); // 0.325
 * ```
 */
export function multiMarginLoss(input: Tensor, target: Tensor, options?: ReductionOptions & { margin?: number; p?: 1 | 2 }): Tensor {
  return scoped(() => {
    const { margin = 1, p = 1, reduction } = optionsOf("multiMarginLoss", options);
    const op = "multiMarginLoss";
    finiteNumber(op, "margin", margin, Number.isFinite, "a finite number");
    finiteNumber(op, "p", p, (v) => v === 1 || v === 2, "1 or 2");
    const x = floatInput(op, input);
    const t = checkTensor(op, target, "target");
    if (x.rank < 1 || x.rank > 2) throw new DeltagradError(`${op}: input must be [N, C] or [C], got ${fmtShape(x.shape)}`);
    const axis = x.rank - 1;
    const classes = x.shape[axis]!;
    checkClassLabels(op, t, classes, x.shape.slice(0, -1));
    const oh = oneHotLike(t, x, axis);
    const xy = sum(mul(x, oh), { axis, keepDims: true });
    const hinge = relu(add(sub(x, xy), margin));
    const terms = mul(p === 2 ? square(hinge) : hinge, sub(1, oh)); // the i = y term is excluded
    return reduce(op, sum(terms, { axis }).div(classes), reduction);
  });
}
