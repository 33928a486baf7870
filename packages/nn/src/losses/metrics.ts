/**
 * Classification metrics (no gradient): the 0-1 loss and accuracy.
 */
import { DeltagradError, Tensor, fmtShape, argmax, cast, mean, noGrad, notEqual, sub, scoped } from "@deltagrad/autograd";
import { optionsOf } from "../options.js";
import { sameShape, checkTensor, reduce, checkClassLabels, type ReductionOptions } from "./support.js";

function misclassified(op: string, scores: Tensor, target: Tensor): Tensor {
  const s = checkTensor(op, scores, "scores");
  const t = checkTensor(op, target, "target");
  return noGrad(() => {
    if (s.rank === t.rank + 1) {
      checkClassLabels(op, t, s.shape[s.rank - 1]!, s.shape.slice(0, -1));
      return cast(notEqual(argmax(s, { axis: -1 }), t), "float32");
    }
    if (!sameShape(s.shape, t.shape)) {
      throw new DeltagradError(`${op}: expected scores [..., C] with int32 labels [...], or predicted labels of the target's shape; got ${fmtShape(s.shape)} and ${fmtShape(t.shape)}`);
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
