/**
 * Loss functions and classification metrics. Every loss is a composite of autograd ops (no
 * hand-written gradient), differentiable with respect to its input and, where it makes sense,
 * its target. Semantics follow PyTorch's `torch.nn.functional` unless a comment says otherwise.
 *
 * Label validation: class indices and ±1 labels are checked (range, integrality) by reading them
 * on the host — only on synchronous backends (cpu). On an asynchronous backend (webgpu) labels
 * are not read back, so an out-of-range class index is not reported there: it selects an
 * all-zero one-hot row and contributes 0 to the loss.
 */
import { optionsOf } from "./options.js";
import {
  DeltagradError, Tensor, add, argmax, cast, clamp, equal, exp, greater, isFloat, log, logSoftmax, mean, mul,
  neg, noGrad, notEqual, oneHot, permute, relu, softplus, sqrt, square, sub, sum, where, type DType, scoped, isTracing } from "@deltagrad/autograd";

/** How a loss combines its per-element values: their mean (default), their sum, or none. */
export type Reduction = "mean" | "sum" | "none";

export interface ReductionOptions {
  /** `"mean"` (default), `"sum"` or `"none"` (the unreduced per-element loss). */
  reduction?: Reduction;
}

// ----- helpers -----

const shapeStr = (s: readonly number[]) => `[${s.join(",")}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function checkTensor(op: string, x: unknown, arg: string): Tensor {
  if (x instanceof Tensor) return x;
  let what: string = typeof x;
  if (Array.isArray(x)) what = "an array";
  else if (x === null) what = "null";
  throw new DeltagradError(`${op}: expected a Tensor for ${arg}, got ${what}`);
}

/** The input as a float tensor (int and bool inputs become float32). */
function floatInput(op: string, x: unknown, arg = "input"): Tensor {
  const t = checkTensor(op, x, arg);
  return isFloat(t.dtype) ? t : cast(t, "float32");
}

function checkSameShape(op: string, input: Tensor, target: Tensor, targetName = "target"): void {
  if (!sameShape(input.shape, target.shape)) {
    throw new DeltagradError(`${op}: ${targetName} shape ${shapeStr(target.shape)} does not match input shape ${shapeStr(input.shape)}`);
  }
}

function reduce(op: string, loss: Tensor, reduction: Reduction | undefined): Tensor {
  switch (reduction ?? "mean") {
    case "mean": return mean(loss);
    case "sum": return sum(loss);
    case "none": return loss;
    default: throw new DeltagradError(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  }
}

function checkNumber(op: string, name: string, v: unknown, ok: (v: number) => boolean, what: string): number {
  if (typeof v !== "number" || !ok(v)) throw new DeltagradError(`${op}: ${name} must be ${what}, got ${String(v)}`);
  return v;
}

function unravel(i: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return shapeStr(idx);
}

/** Host-side label values, or null on an asynchronous backend (see the module comment). */
function hostValues(t: Tensor): ArrayLike<number> | null {
  // While compile() traces, labels are a graph input whose values change at every replay: no host check.
  return t.backend.synchronous && !isTracing() ? t.dataSync() : null;
}

/**
 * Checks int32 class indices of `expectedShape` in 0 … classes−1. A float tensor is rejected,
 * naming its first non-integer value when it has one.
 */
function checkClassLabels(op: string, target: Tensor, classes: number, expectedShape: readonly number[]): void {
  if (target.dtype !== "int32") {
    const v = isFloat(target.dtype) ? hostValues(target) : null;
    const bad = v ? Array.prototype.findIndex.call(v, (e: number) => !Number.isInteger(e)) : -1;
    const detail = bad >= 0 ? ` (non-integer label ${v![bad]} at ${unravel(bad, target.shape)})` : "";
    throw new DeltagradError(`${op}: class-index targets must be int32, got ${target.dtype}${detail}`);
  }
  if (!sameShape(target.shape, expectedShape)) {
    throw new DeltagradError(`${op}: target shape ${shapeStr(target.shape)} does not match the expected ${shapeStr(expectedShape)} (input shape without its class axis)`);
  }
  const v = hostValues(target);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    const e = v[i]!;
    if (e < 0 || e >= classes) {
      throw new DeltagradError(`${op}: label ${e} at ${unravel(i, target.shape)} is out of range for ${classes} classes (valid: 0…${classes - 1})`);
    }
  }
}

/** Checks that every label is −1 or +1 (on synchronous backends). */
function checkSignLabels(op: string, target: Tensor): void {
  const v = hostValues(target);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 1 && v[i] !== -1) throw new DeltagradError(`${op}: labels must be -1 or 1, got ${v[i]} at ${unravel(i, target.shape)}`);
  }
}

/** The class axis of a classification input: 0 for one sample `[C]`, else 1 (`[N, C, …]`, as PyTorch). */
function classAxis(op: string, x: Tensor): number {
  if (x.rank === 0) throw new DeltagradError(`${op}: input must have a class axis, got a scalar`);
  return x.rank === 1 ? 0 : 1;
}

/** One-hot rows of `target` laid out like `like` (class axis `axis`), in `like`'s dtype. */
function oneHotLike(target: Tensor, like: Tensor, axis: number): Tensor {
  const oh = oneHot(target, like.shape[axis]!, { dtype: like.dtype as DType });
  if (axis === like.rank - 1) return oh;
  // oneHot puts classes last: move that axis to position `axis`.
  const perm = [...Array(like.rank).keys()].map((i) => (i < axis ? i : i === axis ? like.rank - 1 : i - 1));
  return permute(oh, perm);
}

/** x·log(y) with 0·log 0 = 0 (xlogy); gradients stay finite where y = 0. */
function xlogy(x: Tensor, y: Tensor): Tensor {
  const pos = greater(y, 0);
  return where(pos, mul(x, log(where(pos, y, 1))), 0);
}

/** log(p) clamped to ≥ −100 (PyTorch's BCE rule), without ever evaluating log(0) on the graph. */
function clampedLog(p: Tensor): Tensor {
  const pos = greater(p, 0);
  return clamp(where(pos, log(where(pos, p, 1)), -100), { min: -100 });
}

// ----- regression losses -----

/**
 * Mean squared error: mean((input − target)²).
 *
 * @example
 * ```ts
 * mseLoss(tensor([1, 2]), tensor([0, 0])); // 2.5
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("mseLoss", options);
    const x = floatInput("mseLoss", input);
    checkSameShape("mseLoss", x, checkTensor("mseLoss", target, "target"));
    return reduce("mseLoss", square(sub(x, target)), reduction);
  });
}

/**
 * The lectures' squared error E = ½ Σ (z − l)², summed over every element (outputs and batch).
 * Its gradient is simply z − l.
 *
 * @example
 * ```ts
 * sumSquaredError(tensor([0.743, 0.764]), tensor([0, 1])); // 0.304
 * ```
 */
export function sumSquaredError(input: Tensor, target: Tensor): Tensor {
  return scoped(() => {
    const x = floatInput("sumSquaredError", input);
    checkSameShape("sumSquaredError", x, checkTensor("sumSquaredError", target, "target"));
    return mul(sum(square(sub(x, target))), 0.5);
  });
}

/**
 * Mean absolute error: mean(|input − target|); the gradient at a zero difference is 0.
 *
 * @example
 * ```ts
 * l1Loss(tensor([1, -3]), tensor([0, 0])); // 2
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("l1Loss", options);
    const x = floatInput("l1Loss", input);
    checkSameShape("l1Loss", x, checkTensor("l1Loss", target, "target"));
    return reduce("l1Loss", sub(x, target).abs(), reduction);
  });
}

/**
 * Smooth L1 (PyTorch): 0.5·d²/β where |d| < β, |d| − 0.5·β elsewhere; β = 0 is the L1 loss.
 *
 * @example
 * ```ts
 * smoothL1Loss(tensor([0.5, 3]), tensor([0, 0])); // mean(0.125, 2.5) = 1.3125
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options?: ReductionOptions & { beta?: number }): Tensor {
  return scoped(() => {
    const { beta = 1, reduction } = optionsOf("smoothL1Loss", options);
    const op = "smoothL1Loss";
    checkNumber(op, "beta", beta, (v) => v >= 0 && Number.isFinite(v), "a finite number ≥ 0");
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const d = sub(x, target);
    const a = d.abs();
    // β = 0 would divide by zero in the (then unused) quadratic branch and poison its gradient.
    const loss = beta === 0 ? a : where(a.less(beta), mul(square(d), 0.5 / beta), sub(a, 0.5 * beta));
    return reduce(op, loss, reduction);
  });
}

/**
 * Huber loss (PyTorch): 0.5·d² where |d| ≤ δ, δ·(|d| − 0.5·δ) elsewhere (= δ · smoothL1 with β = δ).
 *
 * @example
 * ```ts
 * huberLoss(tensor([0.5, 3]), tensor([0, 0]), { delta: 1 }); // mean(0.125, 2.5) = 1.3125
 * ```
 */
export function huberLoss(input: Tensor, target: Tensor, options?: ReductionOptions & { delta?: number }): Tensor {
  return scoped(() => {
    const { delta = 1, reduction } = optionsOf("huberLoss", options);
    const op = "huberLoss";
    checkNumber(op, "delta", delta, (v) => v > 0 && Number.isFinite(v), "a finite number > 0");
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const d = sub(x, target);
    const a = d.abs();
    const loss = where(a.lessEqual(delta), mul(square(d), 0.5), mul(sub(a, 0.5 * delta), delta));
    return reduce(op, loss, reduction);
  });
}

/**
 * log(cosh(input − target)) (lecture 001), computed as |d| + softplus(−2|d|) − log 2 so that it
 * stays finite for any error (cosh overflows beyond |d| ≈ 710). Reduction: mean by default.
 *
 * @example
 * ```ts
 * logCoshLoss(tensor([0, 1e4]), tensor([0, 0]), { reduction: "sum" }); // ≈ 1e4 − log 2
 * ```
 */
export function logCoshLoss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("logCoshLoss", options);
    const op = "logCoshLoss";
    const x = floatInput(op, input);
    checkSameShape(op, x, checkTensor(op, target, "target"));
    const a = sub(x, target).abs();
    return reduce(op, sub(add(a, softplus(mul(a, -2))), Math.LN2), reduction);
  });
}

// ----- classification losses -----

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
    checkNumber(op, "labelSmoothing", labelSmoothing, (v) => v >= 0 && v <= 1, "a number in [0, 1]");
    const axis = classAxis(op, x);
    const classes = x.shape[axis]!;
    const logp = logSoftmax(x, { axis });
    let loss: Tensor;
    if (isFloat(t.dtype) && sameShape(t.shape, x.shape)) {
      const q = labelSmoothing > 0 ? add(mul(t, 1 - labelSmoothing), labelSmoothing / classes) : t;
      loss = neg(sum(mul(q, logp), { axis }));
    } else {
      if (sameShape(t.shape, x.shape)) {
        throw new DeltagradError(`${op}: probability targets must be float, got ${t.dtype} of shape ${shapeStr(t.shape)}`);
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
      throw new DeltagradError(`${op}: axis ${String(axis)} is out of range for shape ${shapeStr(x.shape)}`);
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
    checkNumber(op, "margin", margin, Number.isFinite, "a finite number");
    const a = floatInput(op, input1, "input1");
    const b = checkTensor(op, input2, "input2");
    checkSameShape(op, a, b, "input2");
    const y = checkTensor(op, target, "target");
    if (a.rank < 1 || a.rank > 2 || !sameShape(y.shape, a.shape.slice(0, -1))) {
      throw new DeltagradError(`${op}: expected inputs [N, D] with target [N] (or [D] with a scalar target), got ${shapeStr(a.shape)} and target ${shapeStr(y.shape)}`);
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
    checkNumber(op, "margin", margin, Number.isFinite, "a finite number");
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
    checkNumber(op, "margin", margin, Number.isFinite, "a finite number");
    checkNumber(op, "p", p, (v) => v === 1 || v === 2, "1 or 2");
    const x = floatInput(op, input);
    const t = checkTensor(op, target, "target");
    if (x.rank < 1 || x.rank > 2) throw new DeltagradError(`${op}: input must be [N, C] or [C], got ${shapeStr(x.shape)}`);
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

// ----- metrics (no gradient) -----

function misclassified(op: string, scores: Tensor, target: Tensor): Tensor {
  const s = checkTensor(op, scores, "scores");
  const t = checkTensor(op, target, "target");
  return noGrad(() => {
    if (s.rank === t.rank + 1) {
      checkClassLabels(op, t, s.shape[s.rank - 1]!, s.shape.slice(0, -1));
      return cast(notEqual(argmax(s, { axis: -1 }), t), "float32");
    }
    if (!sameShape(s.shape, t.shape)) {
      throw new DeltagradError(`${op}: expected scores [..., C] with int32 labels [...], or predicted labels of the target's shape; got ${shapeStr(s.shape)} and ${shapeStr(t.shape)}`);
    }
    return cast(notEqual(s, t), "float32");
  });
}

/**
 * The 0-1 loss (lecture 002): 1 for a wrong prediction, 0 for a right one; mean (error rate) by
 * default. Predictions are the argmax of `scores [..., C]` against int32 labels `[...]`, or
 * predicted labels of the target's own shape. A metric: no gradient (float32 result).
 *
 * @example
 * ```ts
 * zeroOneLoss(tensor([[0.9, 0.1], [0.2, 0.8]]), tensor([0, 0], { dtype: "int32" })); // 0.5
 * ```
 */
export function zeroOneLoss(scores: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  return scoped(() => {
    const { reduction } = optionsOf("zeroOneLoss", options);
    const wrong = misclassified("zeroOneLoss", scores, target);
    return noGrad(() => reduce("zeroOneLoss", wrong, reduction));
  });
}

/**
 * Fraction of correct predictions (1 − the mean 0-1 loss), as a float32 scalar; no gradient.
 *
 * @example
 * ```ts
 * accuracy(tensor([[0.9, 0.1], [0.2, 0.8]]), tensor([0, 1], { dtype: "int32" })).itemSync(); // 1
 * ```
 */
export function accuracy(scores: Tensor, target: Tensor): Tensor {
  const wrong = misclassified("accuracy", scores, target);
  return noGrad(() => sub(1, mean(wrong)));
}
