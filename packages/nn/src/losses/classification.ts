/**
 * Classification losses over class scores or probabilities: cross entropy, NLL, binary cross
 * entropy (on probabilities or logits) and KL divergence.
 */
import { DeltagradError, Tensor, fmtShape, add, exp, isFloat, logSoftmax, mean, mul, neg, softplus, sub, sum, scoped } from "@deltagrad/autograd";
import { optionsOf, finiteNumber } from "../options.js";
import { sameShape, checkTensor, floatInput, checkSameShape, reduce, checkClassLabels, classAxis, oneHotLike, xlogy, clampedLog, type Reduction, type ReductionOptions } from "./support.js";

export interface CrossEntropyOptions extends ReductionOptions {
  /** ε in [0, 1]: the target becomes (1 − ε)·target + ε/C (PyTorch's label_smoothing). Default 0. */
  labelSmoothing?: number;
}

/**
 * Softmax cross-entropy from logits `[N, C]` (or `[C]`, or `[N, C, d…]` with classes on axis 1).
 * `target` is either int32 class indices of shape `[N]` (`[N, d…]`) or float probability rows
 * of the logits' shape. Computed as −Σ target·logSoftmax(logits), stable for any logit size;
 * its gradient is (softmax − target)/N — the lecture's δᴸ = a − y.
 *
 * @example
 * ```ts
 * const logits = tensor([[2, 0, 0], [0, 0, 3]], { requiresGrad: true });
 * crossEntropy(logits, tensor([0, 2], { dtype: "int32" }));
 * crossEntropy(logits, tensor([[1, 0, 0], [0.5, 0, 0.5]]), { labelSmoothing: 0.1 });
 * ```
 */
export function crossEntropy(logits: Tensor, target: Tensor, options?: CrossEntropyOptions): Tensor {
  return scoped(() => {
    const { labelSmoothing = 0, reduction } = optionsOf("crossEntropy", options);
    const op = "crossEntropy";
    const x = floatInput(op, logits, "logits");
    const t = checkTensor(op, target, "target");
    finiteNumber(op, "labelSmoothing", labelSmoothing, (v) => v >= 0 && v <= 1, "a number in [0, 1]");
    const axis = classAxis(op, x);
    const classes = x.shape[axis]!;
    const logp = logSoftmax(x, { axis });
    let loss: Tensor;
    if (isFloat(t.dtype) && sameShape(t.shape, x.shape)) {
      const q = labelSmoothing > 0 ? add(mul(t, 1 - labelSmoothing), labelSmoothing / classes) : t;
      loss = neg(sum(mul(q, logp), { axis }));
    } else {
      if (sameShape(t.shape, x.shape)) {
        throw new DeltagradError(`${op}: probability targets must be float, got ${t.dtype} of shape ${fmtShape(t.shape)}`);
      }
      checkClassLabels(op, t, classes, x.shape.filter((_, i) => i !== axis));
      const nll = neg(sum(mul(oneHotLike(t, logp, axis), logp), { axis }));
      // PyTorch: (1 − ε)·nll + ε·mean over classes of −log p.
      loss = labelSmoothing > 0 ? add(mul(nll, 1 - labelSmoothing), mul(neg(mean(logp, { axis })), labelSmoothing)) : nll;
    }
    return reduce(op, loss, reduction);
  });
}

/**
 * Negative log-likelihood of int32 class indices given log-probabilities `[N, C]` (e.g. from
 * `logSoftmax`): −logProbs[n, target[n]]. `crossEntropy(x, t)` equals `nllLoss(logSoftmax(x), t)`.
 *
 * @example
 * ```ts
 * nllLoss(tensor([[0.3, 0.3, 0.4]]).log(), tensor([2], { dtype: "int32" })); // −log 0.4 = 0.916
 * ```
 */
export function nllLoss(logProbs: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("nllLoss", options);
    const op = "nllLoss";
    const x = floatInput(op, logProbs, "logProbs");
    const t = checkTensor(op, target, "target");
    const axis = classAxis(op, x);
    checkClassLabels(op, t, x.shape[axis]!, x.shape.filter((_, i) => i !== axis));
    return reduce(op, neg(sum(mul(oneHotLike(t, x, axis), x), { axis })), reduction);
  });
}

/**
 * Binary cross-entropy of probabilities p ∈ [0, 1] against targets y ∈ [0, 1]:
 * −[y·log p + (1 − y)·log(1 − p)], each log clamped to ≥ −100 as PyTorch, so p = 0 or 1 gives a
 * finite loss. log(0) is never evaluated on the graph, so gradients are finite too (0 where a
 * log is clamped — the derivative of the clamped function; PyTorch instead divides by
 * max(p(1 − p), 1e-12) there).
 *
 * @example
 * ```ts
 * binaryCrossEntropy(tensor([0.9, 0.2]), tensor([1, 0])); // mean(−log 0.9, −log 0.8)
 * ```
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("binaryCrossEntropy", options);
    const op = "binaryCrossEntropy";
    const p = floatInput(op, input);
    const y = checkTensor(op, target, "target");
    checkSameShape(op, p, y);
    const loss = neg(add(mul(y, clampedLog(p)), mul(sub(1, y), clampedLog(sub(1, p)))));
    return reduce(op, loss, reduction);
  });
}

/**
 * Binary cross-entropy from logits x: max(x, 0) − x·y + log(1 + e^(−|x|)) = softplus(x) − x·y,
 * finite with finite gradient σ(x) − y for any |x| (1e4 included).
 *
 * @example
 * ```ts
 * binaryCrossEntropyWithLogits(tensor([1e4, -1e4]), tensor([1, 0])); // 0
 * ```
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("binaryCrossEntropyWithLogits", options);
    const op = "binaryCrossEntropyWithLogits";
    const x = floatInput(op, logits, "logits");
    const y = checkTensor(op, target, "target");
    checkSameShape(op, x, y);
    return reduce(op, sub(softplus(x), mul(x, y)), reduction);
  });
}

export interface KlDivOptions {
  /**
   * `"batchmean"` (default: the sum divided by the batch size `input.shape[0]`, the true KL
   * divergence per sample), `"sum"`, `"mean"` (over every element, PyTorch's default) or `"none"`.
   */
  reduction?: Reduction | "batchmean";
  /** The target is given as log-probabilities. Default false. */
  logTarget?: boolean;
}

/**
 * Kullback–Leibler divergence with PyTorch's argument order: `input` holds log-probabilities
 * log q, `target` probabilities p; pointwise p·(log p − log q) with 0·log 0 = 0. The default
 * reduction is `"batchmean"` — a deliberate difference from PyTorch, whose `"mean"` default
 * divides by the element count and so is not the KL divergence (PyTorch's docs announce the
 * same change).
 *
 * @example
 * ```ts
 * klDiv(tensor([[0.07158904, 0.92822515]]).log(), tensor([[0, 1]])); // −log 0.92822515 = 0.07448 (lecture 001)
 * ```
 */
export function klDiv(input: Tensor, target: Tensor, options?: KlDivOptions): Tensor {
  return scoped(() => {
    const { reduction = "batchmean", logTarget = false } = optionsOf("klDiv", options);
    const op = "klDiv";
    const x = floatInput(op, input);
    const t = checkTensor(op, target, "target");
    checkSameShape(op, x, t);
    const pointwise = logTarget ? mul(exp(t), sub(t, x)) : sub(xlogy(t, t), mul(t, x));
    if (reduction === "batchmean") {
      const batch = x.rank === 0 ? 1 : x.shape[0]!;
      return sum(pointwise).div(batch);
    }
    return reduce(op, pointwise, reduction);
  });
}
