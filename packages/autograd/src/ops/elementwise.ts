import type { CompareKernel } from "../backend.js";
import { isFloat, promote, checkDType, type DType } from "../dtype.js";
import { RULES } from "../primitives.js";
import { apply, unbroadcast } from "../engine.js";
import { customVjp } from "./custom-vjp.js";
import { DeltagradError, optionsOf } from "../errors.js";
import { broadcastPair, describe } from "../shape.js";
import { Tensor, type TensorLike } from "../tensor.js";
import { scalar } from "./create.js";
import { scoped } from "../lifetime.js";

/**
 * @internal Throws unless `x` is a Tensor.
 *
 * @example
 * ```ts
 * asTensor("exp", x); // x, or a DeltagradError "exp: expected a Tensor for x, got …"
 * ```
 */
export function asTensor(op: string, x: unknown, arg = "x"): Tensor {
  if (x instanceof Tensor) return x;
  throw new DeltagradError(`${op}: expected a Tensor for ${arg}, got ${describe(x)}`);
}

/**
 * @internal Turns a binary op's operands into tensors of one dtype. A plain number takes the
 * tensor operand's dtype (float32 if it is fractional and the tensor is integer), like
 * PyTorch's "weak" Python scalars. `minDType` lifts the result (e.g. float32 for division).
 *
 * @example
 * ```ts
 * operands("add", tensor([1], { dtype: "int32" }), 0.5); // both float32
 * ```
 */
export function operands(op: string, a: TensorLike, b: TensorLike, minDType: DType = "bool"): [Tensor, Tensor] {
  // The common cases first (every op of a scalar graph): two tensors of one dtype, or a float tensor and a number.
  if (a instanceof Tensor && promote(a.dtype, minDType) === a.dtype) {
    if (b instanceof Tensor) {
      if (b.dtype === a.dtype) return [a, b];
    } else if (typeof b === "number" && isFloat(a.dtype)) return [a, scalar(b, a.dtype)];
  }
  const dtype = promote(promote(operandType(op, a, b), operandType(op, b, a)), minDType);
  return [toOperand(a, dtype), toOperand(b, dtype)];
}

// Module-level helpers rather than closures: operands() runs on every binary op.
function operandType(op: string, x: TensorLike, other: TensorLike): DType {
  if (x instanceof Tensor) return x.dtype;
  if (typeof x !== "number") throw new DeltagradError(`${op}: expected a Tensor or a number, got ${describe(x)}`);
  if (!(other instanceof Tensor)) return "float32";
  if (isFloat(other.dtype)) return other.dtype;
  if (!Number.isInteger(x)) return "float32";
  return other.dtype === "bool" && x !== 0 && x !== 1 ? "int32" : other.dtype;
}

function toOperand(x: TensorLike, dtype: DType): Tensor {
  return x instanceof Tensor ? (x.dtype === dtype ? x : cast(x, dtype)) : scalar(x, dtype);
}

/** @internal Lifts integer and bool inputs of a float-only op to float32. */
function floatInput(op: string, x: Tensor): Tensor {
  asTensor(op, x);
  return isFloat(x.dtype) ? x : cast(x, "float32");
}

/** @internal Lifts bool to int32 for arithmetic. */
function numericInput(op: string, x: Tensor): Tensor {
  asTensor(op, x);
  return x.dtype === "bool" ? cast(x, "int32") : x;
}

/** Elementwise a + b with NumPy broadcasting. @example `add(tensor([1, 2]), 10) // [11, 12]` */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return apply(RULES.add, operands("add", a, b, "int32"), null);
}

/** Elementwise a · b with broadcasting. @example `mul(tensor([1, 2]), tensor([[3], [4]])) // [[3,6],[4,8]]` */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return apply(RULES.mul, operands("mul", a, b, "int32"), null);
}

/** −x. @example `neg(tensor([1, -2])) // [-1, 2]` */
export function neg(x: Tensor): Tensor {
  return apply(RULES.neg, [numericInput("neg", x)], null);
}

/** 1/x. @example `reciprocal(tensor([2, 4])) // [0.5, 0.25]` */
export function reciprocal(x: Tensor): Tensor {
  return apply(RULES.reciprocal, [floatInput("reciprocal", x)], null);
}

/** eˣ. @example `exp(tensor([0])) // [1]` */
export function exp(x: Tensor): Tensor {
  return apply(RULES.exp, [floatInput("exp", x)], null);
}

/** Natural log; log(0) = −∞, log of a negative is NaN. @example `log(tensor([1])) // [0]` */
export function log(x: Tensor): Tensor {
  return apply(RULES.log, [floatInput("log", x)], null);
}

/** √x. @example `sqrt(tensor([4])) // [2]` */
export function sqrt(x: Tensor): Tensor {
  return apply(RULES.sqrt, [floatInput("sqrt", x)], null);
}

/** The error function (a primitive; GELU needs it). @example `erf(tensor([0])) // [0]` */
export function erf(x: Tensor): Tensor {
  return apply(RULES.erf, [floatInput("erf", x)], null);
}

/** sin x (radians). @example `sin(tensor([0, Math.PI / 2])) // [0, 1]` */
export function sin(x: Tensor): Tensor {
  return apply(RULES.sin, [floatInput("sin", x)], null);
}

/** cos x (radians). @example `cos(tensor([0, Math.PI])) // [1, -1]` */
export function cos(x: Tensor): Tensor {
  return apply(RULES.cos, [floatInput("cos", x)], null);
}

/**
 * log(1 + x), accurate near 0 (a primitive: `log(add(x, 1))` rounds 1 + x first and loses every
 * digit of x below the dtype's epsilon).
 *
 * @example
 * ```ts
 * log1p(tensor([1e-10], { dtype: "float64" })); // [9.9999999995e-11]
 * ```
 */
export function log1p(x: Tensor): Tensor {
  return apply(RULES.log1p, [floatInput("log1p", x)], null);
}

/**
 * eˣ − 1, accurate near 0 (a primitive: `exp(x) − 1` cancels).
 *
 * @example
 * ```ts
 * expm1(tensor([1e-10], { dtype: "float64" })); // [1.00000000005e-10]
 * ```
 */
export function expm1(x: Tensor): Tensor {
  return apply(RULES.expm1, [floatInput("expm1", x)], null);
}

/** −1, 0 or 1 (NaN for NaN); no gradient flows through it. @example `sign(tensor([-3, 0, 2])) // [-1, 0, 1]` */
export function sign(x: Tensor): Tensor {
  return apply(RULES.sign, [numericInput("sign", x)], null);
}

/** a − b = a + (−b). @example `sub(tensor([3]), 1) // [2]` */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands("sub", a, b, "int32");
  broadcastPair("sub", x.shape, y.shape); // so a shape clash names sub, not add
  return scoped(() => add(x, neg(y)));
}

/** a / b = a · (1/b), always floating point. @example `div(tensor([1]), 4) // [0.25]` */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands("div", a, b, "float32");
  broadcastPair("div", x.shape, y.shape);
  return scoped(() => mul(x, reciprocal(y)));
}

/** x · x. @example `square(tensor([3])) // [9]` */
export function square(x: Tensor): Tensor {
  return mul(asTensor("square", x), x);
}

/** |x| = x · sign(x); its gradient is sign(x), 0 at 0 (as PyTorch). @example `abs(tensor([-2])) // [2]` */
export function abs(x: Tensor): Tensor {
  return scoped(() => mul(asTensor("abs", x), sign(x)));
}

function intPow(x: Tensor, n: number): Tensor {
  // Square-and-multiply: exact products of primitives, so negative bases work.
  let result: Tensor | null = null;
  let base = x;
  while (n > 0) {
    if (n & 1) result = result ? mul(result, base) : base;
    n >>= 1;
    if (n) base = mul(base, base);
  }
  return result!;
}

/**
 * xᵉ with PyTorch's values and gradients. A number exponent: 0 gives ones, a small integer
 * exponent repeated products (any base), 0.5 a square root. Any other exponent (a number or a
 * tensor) computes |x|ᵉ = exp(e·log|x|), negated for a negative base and an odd integer exponent,
 * NaN for a negative base and a non-integer exponent; its gradients are PyTorch's formulas rather
 * than the derivative of that composition (a {@link customVjp}): ∂/∂x = e·xᵉ⁻¹ (so 0 at x = 0
 * for e > 1) and ∂/∂e = xᵉ·log x (0 at x = 0 for e ≥ 0, NaN for a negative base).
 * Integer-valued exponents are recognised exactly for |e| < 2³¹; larger ones are even.
 *
 * @example
 * ```ts
 * pow(tensor([-2, 3]), 3);               // [-8, 27]
 * pow(tensor([4]), tensor([0.5]));       // [2]
 * pow(tensor([-2]), tensor([2]));        // [4]
 * ```
 */
export function pow(x: TensorLike, e: TensorLike): Tensor {
  if (typeof e === "number" && x instanceof Tensor) {
    const xf = isFloat(x.dtype) || (Number.isInteger(e) && e >= 0) ? x : cast(x, "float32");
    if (e === 0) return add(mul(xf, 0), 1);
    if (e === 1) return xf;
    if (e === 0.5) return sqrt(xf);
    if (Number.isInteger(e) && Math.abs(e) <= 64) return e > 0 ? intPow(xf, e) : reciprocal(intPow(xf, -e));
    return powNumber(floatInput("pow", xf), e);
  }
  const [a, b] = operands("pow", x, e, "float32");
  broadcastPair("pow", a.shape, b.shape);
  return powTensor(a, b);
}

/** xᵉ for a number e (not one of pow's special cases); d xᵉ = e·xᵉ⁻¹·dx, written so that it is 0 at x = 0 for e > 1. */
function powNumber(x: Tensor, e: number): Tensor {
  return customVjp(
    function pow(x: Tensor) {
      return Number.isInteger(e) ? signedPow(x, scalar(e, x.dtype)) : exp(mul(log(x), e));
    },
    (g, [x]) => [mul(g, mul(pow(x!, e - 1), e))],
  )(x);
}

/**
 * aᵇ for tensors (PyTorch's pow_backward): ∂/∂a = b·aᵇ⁻¹ (0 where a = b = 0), ∂/∂b = aᵇ·log a
 * (0 where a = 0 and b ≥ 0). Each is summed back to its operand's shape.
 */
function powTensor(a: Tensor, b: Tensor): Tensor {
  return customVjp(
    function pow(a: Tensor, b: Tensor) {
      return signedPow(a, b);
    },
    (g, [a, b], y) => {
      // Masked entries also get a safe operand (1 for a), so the unused branch stays finite and
      // differentiating these expressions again (createGraph) leaks no 0·∞ = NaN.
      const da = () => {
        const m = where(equal(b!, 0), equal(a!, 0), 0); // a = b = 0
        return where(m, 0, mul(b!, pow(where(m, 1, a!), sub(b!, 1))));
      };
      const db = () => {
        const m = where(equal(a!, 0), greaterEqual(b!, 0), 0); // a = 0, b ≥ 0
        return where(m, 0, mul(y, log(where(m, 1, a!))));
      };
      return [a!.requiresGrad ? unbroadcast(mul(g, da()), a!.shape) : null, b!.requiresGrad ? unbroadcast(mul(g, db()), b!.shape) : null];
    },
  )(a, b);
}

/**
 * aᵇ as computed by C's pow: |a|ᵇ = exp(b·log|a|), negated for a < 0 and an odd integer b, NaN
 * for a < 0 and a non-integer b, 1 for b = 0. Integer b is told by truncation through int32
 * (exact for |b| < 2³¹; a larger float is an even integer). Unrecorded (pow's forward).
 */
function signedPow(a: Tensor, b: Tensor): Tensor {
  const m = exp(mul(b, log(abs(a))));
  const trunc = (t: Tensor) => cast(cast(t, "int32"), t.dtype);
  const half = mul(b, 0.5);
  const odd = notEqual(trunc(half), half);
  const ofNegative = where(greaterEqual(abs(b), 2 ** 31), m, where(equal(trunc(b), b), where(odd, neg(m), m), NaN));
  return where(equal(b, 0), 1, where(less(a, 0), ofNegative, m));
}

/** Elementwise maximum; equal values split the gradient evenly. @example `maximum(tensor([1, 5]), 3) // [3, 5]` */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return apply(RULES.maximum, operands("maximum", a, b, "int32"), null);
}

/** Elementwise minimum = −maximum(−a, −b). @example `minimum(tensor([1, 5]), 3) // [1, 3]` */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands("minimum", a, b, "int32");
  broadcastPair("minimum", x.shape, y.shape);
  return scoped(() => neg(maximum(neg(x), neg(y))));
}

/**
 * Picks `a` where `cond` is true and `b` elsewhere, broadcasting all three. `cond` is bool and
 * carries no gradient.
 *
 * @example
 * ```ts
 * where(tensor([true, false]), tensor([1, 2]), 0); // [1, 0]
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  asTensor("where", cond, "cond");
  if (cond.dtype !== "bool") throw new DeltagradError(`where: cond must be a bool tensor, got ${cond.dtype}`);
  return apply(RULES.where, [cond, ...operands("where", a, b)], null);
}

export interface ClampOptions {
  min?: number;
  max?: number;
}

/**
 * Limits values to [min, max]. The gradient is 1 inside the closed interval (ends included) and
 * 0 outside, as PyTorch's clamp.
 *
 * @example
 * ```ts
 * clamp(tensor([-2, 0.5, 3]), { min: 0, max: 1 }); // [0, 0.5, 1]
 * ```
 */
export function clamp(x: Tensor, opts?: ClampOptions): Tensor {
  asTensor("clamp", x);
  const { min, max } = optionsOf("clamp", opts);
  if ((min !== undefined && typeof min !== "number") || (max !== undefined && typeof max !== "number")) {
    throw new DeltagradError(`clamp: min and max must be numbers, got ${describe(min)} and ${describe(max)}`);
  }
  if (min !== undefined && max !== undefined && min > max) throw new DeltagradError(`clamp: min ${min} is greater than max ${max}`);
  return scoped(() => {
    let y = x;
    if (min !== undefined) y = where(less(y, min), min, y);
    if (max !== undefined) y = where(greater(y, max), max, y);
    return y;
  });
}

/** Converts to another dtype (float → int truncates toward zero; nonzero → true). @example `cast(tensor([1.7]), "int32") // [1]` */
export function cast(x: Tensor, dtype: DType): Tensor {
  asTensor("cast", x);
  checkDType("cast", dtype);
  if (x.dtype === dtype) return x;
  return apply(RULES.cast, [x], { dtype });
}

function compare(op: CompareKernel, a: TensorLike, b: TensorLike): Tensor {
  return apply(RULES.compare, operands(op, a, b), { op });
}

/** a == b as a bool tensor (no gradient). @example `equal(tensor([1, 2]), 2) // [false, true]` */
export function equal(a: TensorLike, b: TensorLike): Tensor { return compare("equal", a, b); }
/** a != b as a bool tensor. @example `notEqual(tensor([1, 2]), 2) // [true, false]` */
export function notEqual(a: TensorLike, b: TensorLike): Tensor { return compare("notEqual", a, b); }
/** a > b as a bool tensor. @example `greater(tensor([1, 3]), 2) // [false, true]` */
export function greater(a: TensorLike, b: TensorLike): Tensor { return compare("greater", a, b); }
/** a >= b as a bool tensor. @example `greaterEqual(tensor([2]), 2) // [true]` */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor { return compare("greaterEqual", a, b); }
/** a < b as a bool tensor. @example `less(tensor([1, 3]), 2) // [true, false]` */
export function less(a: TensorLike, b: TensorLike): Tensor { return compare("less", a, b); }
/** a <= b as a bool tensor. @example `lessEqual(tensor([2]), 2) // [true]` */
export function lessEqual(a: TensorLike, b: TensorLike): Tensor { return compare("lessEqual", a, b); }

/** Logical not of a bool tensor. @example `logicalNot(tensor([true])) // [false]` */
export function logicalNot(x: Tensor): Tensor {
  return equal(cast(cast(asTensor("logicalNot", x), "bool"), "int32"), 0);
}

/**
 * The logistic function 1/(1+e⁻ˣ). Mathematically the lecture's h1…h6 composition
 * `reciprocal(add(exp(neg(x)), 1))`; computed as z = e^(−|x|), σ = 1/(1+z) for x ≥ 0 and z/(1+z)
 * for x < 0, so neither branch overflows and gradients stay finite for any |x|. A test proves the
 * two agree wherever the plain composition is finite.
 *
 * @example
 * ```ts
 * sigmoid(tensor([0])); // [0.5]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return scoped(() => {
    const xf = floatInput("sigmoid", x);
    const pos = greaterEqual(xf, 0);
    const z = exp(neg(absTakingPositiveSide(xf, pos)));
    const p = reciprocal(add(z, 1));
    return where(pos, p, mul(z, p));
  });
}

/**
 * The hyperbolic tangent, −expm1(−2|x|)/(2 + expm1(−2|x|)) with the sign of x: the same value as
 * tinygrad's 2·σ(2x) − 1, but with full relative precision near 0 (where 2·σ(2x) − 1 cancels:
 * float32 lost every digit below |x| ≈ 1e-4) and no overflow for large |x|.
 *
 * @example
 * ```ts
 * tanh(tensor([0])); // [0]
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return scoped(() => {
    const xf = floatInput("tanh", x);
    const pos = greaterEqual(xf, 0);
    // u = e^(−2|x|) − 1 ∈ (−1, 0]: tanh|x| = (1 − e^(−2|x|))/(1 + e^(−2|x|)) = −u/(2 + u), no cancellation near 0, no overflow.
    const u = expm1(mul(absTakingPositiveSide(xf, pos), -2));
    const t = div(neg(u), add(u, 2));
    return where(pos, t, neg(t));
  });
}

/**
 * max(x, 0). relu′(0) = 0 (PyTorch's choice): the gradient flows only where x > 0.
 *
 * @example
 * ```ts
 * relu(tensor([-1, 0, 2])); // [0, 0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  asTensor("relu", x);
  return scoped(() => where(greater(x, 0), x, 0));
}

/**
 * log(1 + eˣ), computed as max(x, 0) + log1p(e^(−|x|)) so that it is finite for any |x| and
 * keeps eˣ's relative precision for x ≪ 0 (where log(1 + e^(−|x|)) rounds to 0).
 *
 * @example
 * ```ts
 * softplus(tensor([0])); // [0.6931…]
 * ```
 */
export function softplus(x: Tensor): Tensor {
  return scoped(() => {
    const xf = floatInput("softplus", x);
    const pos = greaterEqual(xf, 0);
    return add(where(pos, xf, 0), log1p(exp(neg(absTakingPositiveSide(xf, pos)))));
  });
}

/**
 * |x| as where(x ≥ 0, x, −x): its derivative at 0 is +1 (the x ≥ 0 branch), not abs's 0. The
 * stable sigmoid and softplus evaluate the x ≥ 0 branch at 0, so with abs their derivative at
 * exactly 0 would come out 0 instead of σ′(0) = 1/4 and softplus′(0) = 1/2.
 */
function absTakingPositiveSide(x: Tensor, pos: Tensor): Tensor {
  return where(pos, x, neg(x));
}
