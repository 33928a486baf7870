/**
 * Activation functions (lectures 001–004), each a composite of autograd primitives: no
 * hand-written gradient. All are stable for large |x| (finite values and gradients at ±1e4).
 *
 * Kinks, decided once: at a corner between a sloped piece and another sloped piece the
 * derivative is the left piece's (leakyRelu′(0) = slope, prelu′(0) = weight, elu′(0) = α, as
 * the lecture's table I(x ≤ 0)·γ·eˣ and PyTorch); at a corner with a flat (saturated) piece it
 * is 0 (relu′(0) = 0 as the lecture's I(x > 0); hardTanh, relu6, hardSigmoid and hardLogistic
 * have derivative 0 at their corners, as PyTorch's hardtanh). Max ties split evenly.
 */
import { describeValue, optionsOf } from "./options.js";
import * as ag from "@deltagrad/autograd";
import { DeltagradError, Tensor, isFloat, scoped, fmtShape } from "@deltagrad/autograd";

/** A float input: integer and bool tensors are lifted to float32. */
function input(fn: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new DeltagradError(`${fn}: expected a Tensor, got ${x === null ? "null" : typeof x}`);
  return isFloat(x.dtype) ? x : ag.cast(x, "float32");
}

function num(fn: string, name: string, v: unknown, { positive = false } = {}): number {
  if (typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0))) {
    throw new DeltagradError(`${fn}: ${name} must be a finite${positive ? " positive" : ""} number, got ${String(v)}`);
  }
  return v;
}

/**
 * The unit step u(x) of the M-P neuron and the perceptron (lecture 001): 1 for x ≥ 0, else 0
 * (u(0) = 1, the perceptron's "fires at threshold"); NaN stays NaN.
 * **No gradient**: like {@link sign} its result does not require gradients (a constant for
 * backward), so a perceptron trained through it needs the perceptron rule, not backprop.
 *
 * @example
 * ```ts
 * step(tensor([-2, 0, 3])); // [0, 1, 1]
 * ```
 */
export function step(x: Tensor): Tensor {
  return scoped(() => {
    // sign(sign(x) + ½) maps {−1, 0, 1} to {−1, 1, 1} (and NaN to NaN); sign has no VJP.
    return ag.sign(ag.sign(input("step", x)).add(0.5)).add(1).mul(0.5);
  });
}

/**
 * The sign function: −1, 0 (at 0) or 1. **No gradient**: the result does not require gradients.
 *
 * @example
 * ```ts
 * sign(tensor([-2, 0, 3])); // [-1, 0, 1]
 * ```
 */
export function sign(x: Tensor): Tensor {
  return scoped(() => {
    return ag.sign(input("sign", x));
  });
}

/**
 * The logistic function with slope a: 1 / (1 + e^(−a·x)) (lecture 003); derivative a·y(1 − y).
 *
 * @example
 * ```ts
 * logistic(tensor([0, 1]), { slope: 2 }); // [0.5, 0.8808]
 * ```
 */
export function logistic(x: Tensor, options?: { slope?: number }): Tensor {
  return scoped(() => {
    const { slope = 1 } = optionsOf("logistic", options);
    const xf = input("logistic", x);
    num("logistic", "slope", slope);
    return ag.sigmoid(slope === 1 ? xf : ag.mul(xf, slope));
  });
}

/**
 * σ(x) = 1 / (1 + e⁻ˣ); σ′ = σ(1 − σ). Stable for any |x| (autograd's two-branch form).
 *
 * @example
 * ```ts
 * sigmoid(tensor([0])); // [0.5]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return scoped(() => {
    return ag.sigmoid(input("sigmoid", x));
  });
}

/**
 * tanh(x) = 2σ(2x) − 1; tanh′ = 1 − tanh².
 *
 * @example
 * ```ts
 * tanh(tensor([0])); // [0]
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return scoped(() => {
    return ag.tanh(input("tanh", x));
  });
}

/**
 * a·tanh(b·x) (lecture 003); derivative (b/a)(a − y)(a + y). Defaults a = 1.7159, b = 2/3
 * (LeCun's choice, so that f(±1) ≈ ±1).
 *
 * @example
 * ```ts
 * scaledTanh(tensor([1])); // [1.0000…]
 * ```
 */
export function scaledTanh(x: Tensor, options?: { a?: number; b?: number }): Tensor {
  return scoped(() => {
    const { a = 1.7159, b = 2 / 3 } = optionsOf("scaledTanh", options);
    const xf = input("scaledTanh", x);
    return ag.mul(ag.tanh(ag.mul(xf, num("scaledTanh", "b", b))), num("scaledTanh", "a", a));
  });
}

/**
 * Clamps to [min, max] with derivative 1 strictly inside and 0 at and beyond the ends.
 */
function hardClamp(x: Tensor, min: number, max: number): Tensor {
  return ag.where(ag.lessEqual(x, min), min, ag.where(ag.greaterEqual(x, max), max, x));
}

/**
 * hard-tanh(x) = max(min(x, max), min), default [−1, 1] (lecture 004). Derivative 1 on the
 * open interval (min, max), 0 elsewhere, including at the corners (PyTorch's hardtanh).
 *
 * @example
 * ```ts
 * hardTanh(tensor([-3, 0.5, 3])); // [-1, 0.5, 1]
 * ```
 */
export function hardTanh(x: Tensor, options?: { min?: number; max?: number }): Tensor {
  return scoped(() => {
    const { min = -1, max = 1 } = optionsOf("hardTanh", options);
    const xf = input("hardTanh", x);
    num("hardTanh", "min", min);
    num("hardTanh", "max", max);
    if (!(min < max)) throw new DeltagradError(`hardTanh: min must be less than max, got min ${min}, max ${max}`);
    return hardClamp(xf, min, max);
  });
}

/**
 * Lecture 004's hard-logistic: clamp(0.25x + 0.5, 0, 1), the first-order Taylor expansion of σ
 * at 0 clipped to [0, 1]. Derivative 0.25 on (−2, 2), 0 elsewhere (0 at ±2).
 *
 * @example
 * ```ts
 * hardLogistic(tensor([-3, 0, 1])); // [0, 0.5, 0.75]
 * ```
 */
export function hardLogistic(x: Tensor): Tensor {
  return scoped(() => {
    return hardClamp(ag.add(ag.mul(input("hardLogistic", x), 0.25), 0.5), 0, 1);
  });
}

/**
 * PyTorch's hardsigmoid: relu6(x + 3) / 6 = clamp(x/6 + ½, 0, 1). Derivative 1/6 on (−3, 3),
 * 0 elsewhere (0 at ±3). Compare {@link hardLogistic} (slope ¼).
 *
 * @example
 * ```ts
 * hardSigmoid(tensor([-4, 0, 3])); // [0, 0.5, 1]
 * ```
 */
export function hardSigmoid(x: Tensor): Tensor {
  return scoped(() => {
    return ag.div(relu6(ag.add(input("hardSigmoid", x), 3)), 6);
  });
}

/**
 * max(0, x); derivative I(x > 0), so relu′(0) = 0 (the lecture's table and PyTorch).
 *
 * @example
 * ```ts
 * relu(tensor([-1, 0, 2])); // [0, 0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return scoped(() => {
    return ag.relu(input("relu", x));
  });
}

/**
 * min(max(0, x), 6); derivative I(0 < x < 6) (0 at both corners).
 *
 * @example
 * ```ts
 * relu6(tensor([-1, 3, 9])); // [0, 3, 6]
 * ```
 */
export function relu6(x: Tensor): Tensor {
  return scoped(() => {
    return hardClamp(input("relu6", x), 0, 6);
  });
}

/**
 * x for x > 0, slope·x for x ≤ 0 (lecture 002/004, γ = slope, default 0.01). Derivative 1 for
 * x > 0 and slope for x ≤ 0 (so slope at 0, as PyTorch).
 *
 * @example
 * ```ts
 * leakyRelu(tensor([-10, 5]), { slope: 0.1 }); // [-1, 5]
 * ```
 */
export function leakyRelu(x: Tensor, options?: { slope?: number }): Tensor {
  return scoped(() => {
    const { slope = 0.01 } = optionsOf("leakyRelu", options);
    const xf = input("leakyRelu", x);
    return ag.where(ag.greater(xf, 0), xf, ag.mul(xf, num("leakyRelu", "slope", slope)));
  });
}

/**
 * Parametric ReLU (lecture 004): x for x > 0, wᵢ·x for x ≤ 0, with a learnable weight (module
 * {@link PReLU}). `weight` has one element (shared) or one per channel, the channel axis being
 * axis 1 (NCHW, or `[batch, features]`), as PyTorch. Derivatives: ∂/∂x = 1 or w (w at 0);
 * ∂/∂w = x on x ≤ 0, summed over everything but the channel.
 *
 * @example
 * ```ts
 * prelu(tensor([[-2, 2], [-4, 4]]), tensor([0.25, 0.5])); // [[-0.5, 2], [-1, 4]]
 * ```
 */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  return scoped(() => {
    const xf = input("prelu", x);
    if (!(weight instanceof Tensor)) throw new DeltagradError(`prelu: weight must be a Tensor, got ${typeof weight}`);
    let w: Tensor;
    if (weight.size === 1) w = ag.reshape(weight, []);
    else {
      if (weight.rank !== 1 || xf.rank < 2 || xf.shape[1] !== weight.size) {
        throw new DeltagradError(
          `prelu: weight of shape ${fmtShape(weight.shape)} needs 1 element or one per channel on axis 1 of the input, got input shape ${fmtShape(xf.shape)}`,
        );
      }
      w = ag.reshape(weight, [weight.size, ...xf.shape.slice(2).map(() => 1)]);
    }
    return ag.where(ag.greater(xf, 0), xf, ag.mul(w, xf));
  });
}

/**
 * ELU (lecture 002/004): x for x > 0, α(eˣ − 1) for x ≤ 0 (default α = 1). Derivative
 * I(x > 0) + I(x ≤ 0)·α·eˣ (α at 0). The exponential only ever sees min(x, 0), so large
 * positive x cannot overflow it (and poison the gradient with ∞·0).
 *
 * @example
 * ```ts
 * elu(tensor([-1, 2])); // [-0.6321, 2]
 * ```
 */
export function elu(x: Tensor, options?: { alpha?: number }): Tensor {
  return scoped(() => {
    const { alpha = 1 } = optionsOf("elu", options);
    const xf = input("elu", x);
    num("elu", "alpha", alpha);
    const pos = ag.greater(xf, 0);
    const neg = ag.where(pos, 0, xf);
    return ag.where(pos, xf, ag.mul(ag.sub(ag.exp(neg), 1), alpha));
  });
}

/**
 * softplus(x) = (1/β)·log(1 + e^(βx)) (lecture 001; default β = 1); derivative σ(βx).
 * Computed stably as max(βx, 0) + log(1 + e^(−|βx|)); where βx > `threshold` (default 20) it
 * returns x itself, as PyTorch does (the two differ by less than 2e-9 there).
 *
 * @example
 * ```ts
 * softplus(tensor([0, 1e4])); // [0.6931, 10000]
 * ```
 */
export function softplus(x: Tensor, options?: { beta?: number; threshold?: number }): Tensor {
  return scoped(() => {
    const { beta = 1, threshold = 20 } = optionsOf("softplus", options);
    const xf = input("softplus", x);
    num("softplus", "beta", beta, { positive: true });
    num("softplus", "threshold", threshold);
    const bx = beta === 1 ? xf : ag.mul(xf, beta);
    const smooth = beta === 1 ? ag.softplus(bx) : ag.div(ag.softplus(bx), beta);
    return ag.where(ag.greater(bx, threshold), xf, smooth);
  });
}

/**
 * swish(x) = x·σ(βx) (lecture 004; default β = 1, which is {@link silu}). β may be a tensor
 * (learnable, module {@link Swish}). Derivative σ(βx) + βx·σ(βx)(1 − σ(βx)).
 *
 * @example
 * ```ts
 * swish(tensor([1]), { beta: 2 }); // [0.8808]
 * ```
 */
export function swish(x: Tensor, options?: { beta?: number | Tensor }): Tensor {
  return scoped(() => {
    const { beta = 1 } = optionsOf("swish", options);
    const xf = input("swish", x);
    let b: number | Tensor = beta;
    if (!(b instanceof Tensor)) num("swish", "beta", b);
    else if (b.size === 1) b = ag.reshape(b, []); // a one-element β must not add an axis to x
    else throw new DeltagradError(`swish: a tensor beta must have one element, got shape ${fmtShape(b.shape)}`);
    return ag.mul(xf, ag.sigmoid(b === 1 ? xf : ag.mul(xf, b)));
  });
}

/**
 * SiLU: x·σ(x) (swish with β = 1).
 *
 * @example
 * ```ts
 * silu(tensor([0, 1])); // [0, 0.7311]
 * ```
 */
export function silu(x: Tensor): Tensor {
  return scoped(() => {
    const xf = input("silu", x);
    return ag.mul(xf, ag.sigmoid(xf));
  });
}

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU(x) = x·Φ(x) (lecture 004), Φ the standard normal CDF. `approximate: "none"` (default)
 * uses ½x(1 + erf(x/√2)) with autograd's erf primitive; `"tanh"` uses
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch.
 *
 * @example
 * ```ts
 * gelu(tensor([1]));                          // [0.8413]
 * gelu(tensor([1]), { approximate: "tanh" }); // [0.8412]
 * ```
 */
export function gelu(x: Tensor, options?: { approximate?: "none" | "tanh" }): Tensor {
  return scoped(() => {
    const { approximate = "none" } = optionsOf("gelu", options);
    const xf = input("gelu", x);
    let inner: Tensor;
    if (approximate === "none") inner = ag.erf(ag.mul(xf, SQRT1_2));
    else if (approximate === "tanh") inner = ag.tanh(ag.mul(ag.add(xf, ag.mul(ag.mul(ag.mul(xf, xf), xf), 0.044715)), SQRT_2_OVER_PI));
    else throw new DeltagradError(`gelu: approximate must be "none" or "tanh", got ${describeValue(approximate)}`);
    return ag.mul(ag.mul(xf, 0.5), ag.add(inner, 1));
  });
}

/**
 * Maxout (lecture 004): the last axis holds `units·pieces` values z; unit j outputs
 * max(z[j·pieces], …, z[j·pieces + pieces − 1]). Output last axis: units. The gradient goes to
 * the maximal piece (ties share it evenly). Module {@link Maxout} adds the affine map.
 *
 * @example
 * ```ts
 * maxout(tensor([1, 5, 3, 2]), { pieces: 2 }); // [5, 3]
 * ```
 */
export function maxout(x: Tensor, options: { pieces: number }): Tensor {
  return scoped(() => {
    const { pieces } = optionsOf("maxout", options);
    const xf = input("maxout", x);
    if (!Number.isInteger(pieces) || pieces < 1) throw new DeltagradError(`maxout: pieces must be a positive integer, got ${String(pieces)}`);
    const n = xf.shape[xf.rank - 1];
    if (xf.rank === 0 || n! % pieces !== 0) {
      throw new DeltagradError(`maxout: the last axis of shape ${fmtShape(xf.shape)} must be a multiple of pieces = ${pieces}`);
    }
    const grouped = ag.reshape(xf, [...xf.shape.slice(0, -1), n! / pieces, pieces]);
    return ag.max(grouped, { axis: -1 });
  });
}

/**
 * softmax along `axis` (default −1), stable for large logits.
 *
 * @example
 * ```ts
 * softmax(tensor([[1, 1], [0, 1e4]])); // [[0.5, 0.5], [0, 1]]
 * ```
 */
export function softmax(x: Tensor, options?: { axis?: number }): Tensor {
  return scoped(() => {
    const { axis = -1 } = optionsOf("softmax", options);
    return ag.softmax(input("softmax", x), { axis });
  });
}

/**
 * log softmax along `axis` (default −1): x − logSumExp(x), stable for large logits.
 *
 * @example
 * ```ts
 * logSoftmax(tensor([0, 0])); // [-0.6931, -0.6931]
 * ```
 */
export function logSoftmax(x: Tensor, options?: { axis?: number }): Tensor {
  return scoped(() => {
    const { axis = -1 } = optionsOf("logSoftmax", options);
    return ag.logSoftmax(input("logSoftmax", x), { axis });
  });
}
