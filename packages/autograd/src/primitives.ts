/**
 * The closed set of primitives. Each row holds a forward kernel call and its VJP side by side;
 * the table's type `{ [P in Primitive]: Rule<Attrs[P]> }` makes a primitive without a VJP a
 * compile error. VJPs are written with public, differentiable ops only, so gradients of
 * gradients work. A VJP returns one cotangent per input, shaped like the *output* broadcast
 * (the sweep sums it back to the input's shape), or `null` for inputs with no gradient.
 */
import type { ArgReduceKernel, Backend, BackendData, BinaryKernel, CompareKernel, ReduceKernel, UnaryKernel, WindowParams } from "./backend.js";
import type { DType } from "./dtype.js";
import { broadcastPair, broadcastShapes, sizeOf, windowOutSize, type Shape } from "./shape.js";
import type { Tensor } from "./tensor.js";
import {
  add, cast, concat, cos, div, equal, erf, exp, expand, gather, matmul, maximum, mul, neg, pad,
  permute, reciprocal, reshape, scatterAdd, sin, slice, sqrt, square, sum, transpose, where, zerosLike,
  greater, zeros,
} from "./ops/index.js";
import { foldWith, unfoldWith } from "./ops/window-layout.js";
import type { CustomVjpAttrs } from "./ops/custom-vjp.js";

/** The elementwise unary and binary primitives (backend.ts's UNARY_KERNELS, BINARY_KERNELS) take no attributes. */
type UnaryAttrs = { [K in UnaryKernel]: null };
type BinaryAttrs = { [K in BinaryKernel]: null };
/** Each of REDUCE_KERNELS is a primitive over `axes`; the comparisons and arg-reductions share one row each. */
type ReduceAttrs = { [K in ReduceKernel]: { axes: number[] } };

/** Attributes of each primitive: the closed set (about twenty ops). */
export interface Attrs extends UnaryAttrs, BinaryAttrs, ReduceAttrs {
  where: null;
  compare: { op: CompareKernel };
  argReduce: { op: ArgReduceKernel; axis: number };
  reshape: { shape: number[] };
  expand: { shape: number[] };
  permute: { perm: number[] };
  slice: { begin: number[]; size: number[] };
  pad: { pads: [number, number][]; value: number };
  concat: { axis: number };
  matmul: null;
  cast: { dtype: DType };
  gather: { axis: number };
  scatterAdd: { axis: number; shape: number[] };
  unfold: WindowParams;
  fold: WindowParams & { outputShape: number[] };
  windowArgmax: WindowParams;
  /** A node whose VJP is the user's closure ({@link customVjp}); its forward ran before recording. */
  customVjp: CustomVjpAttrs;
}

export type Primitive = keyof Attrs;

/** A recorded op: which primitive produced a tensor, from which inputs, with which attributes. */
export interface Node {
  readonly op: Primitive;
  readonly inputs: Tensor[];
  readonly attrs: unknown;
  /** Set once a backward without `retainGraph` has run through this node. */
  freed: boolean;
  /** Where the op was recorded (anomaly mode only). */
  stack?: string | undefined;
  /** @internal The op's rule (`RULES[op]`), kept so the backward sweep need not look it up. */
  readonly rule: Rule<unknown>;
}

export interface Forward {
  data: BackendData;
  /** Not mutated after the forward returns, so it may be an input's (frozen) shape. */
  shape: readonly number[];
  dtype: DType;
}

export interface Rule<A> {
  forward(backend: Backend, inputs: Tensor[], attrs: A): Forward;
  /** Cotangents for each input given the output cotangent `g`; `null` where no gradient flows. */
  vjp(g: Tensor, inputs: Tensor[], out: Tensor, attrs: A): (Tensor | null)[];
}

/** Whether `t` was recorded as a permute that swaps its last two axes (a `transpose()`). */
function swapsLastTwo(t: Tensor): boolean {
  const n = t.node;
  if (n === null || n.op !== "permute") return false;
  const perm = (n.attrs as Attrs["permute"]).perm;
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.every((p, i) => i >= r - 2 || p === i);
}

/** The VJP of a non-differentiable primitive (sign, comparisons, arg-reductions): outputs are constants. */
export const noGradient = (_g: Tensor, inputs: Tensor[]): null[] => inputs.map(() => null);

// Elementwise forwards hand the (frozen, shared) input shape on rather than copying it.
function unaryForward(op: UnaryKernel) {
  return (b: Backend, xs: Tensor[]): Forward => {
    const x = xs[0]!;
    // _raw: a HostScalar as it is (the elementwise kernels read it as a number).
    return { data: b.unary(op, x._raw, x.dtype, x.size), shape: x.shape, dtype: x.dtype };
  };
}

function binaryForward(op: BinaryKernel) {
  return (b: Backend, xs: Tensor[]): Forward => {
    const x = xs[0]!;
    const y = xs[1]!;
    const shape = broadcastPair(op, x.shape, y.shape);
    return { data: b.binary(op, x._raw, x.shape, y._raw, y.shape, shape, x.dtype), shape, dtype: x.dtype };
  };
}

/** A rule with its primitive's name: ops pass `RULES.add` to `apply`, whose lookup by a string (`RULES[prim]`, a megamorphic keyed load) cost ~10% of a scalar graph. */
export type NamedRule<P extends Primitive> = Rule<Attrs[P]> & { readonly op: P };

/** Stamps each row of the table with its key. */
function named(table: { [P in Primitive]: Rule<Attrs[P]> }): { readonly [P in Primitive]: NamedRule<P> } {
  for (const op of Object.keys(table) as Primitive[]) (table[op] as { op?: Primitive }).op = op;
  return table as { [P in Primitive]: NamedRule<P> };
}

const SQRT_PI_OVER_2 = 0.886226925452758; // √π / 2

/**
 * @example
 * ```ts
 * RULES.exp.vjp(g, [x], y, null); // [g·y]: the table a VJP lookup goes through
 * ```
 */
export const RULES: { readonly [P in Primitive]: NamedRule<P> } = named({
  // Null for an input that needs no gradient (x.add(1)'s constant), as mul does: the sweep then passes the result on as it is.
  add: { forward: binaryForward("add"), vjp: (g, [a, b]) => [a!.requiresGrad ? g : null, b!.requiresGrad ? g : null] }, // d(a+b) = da + db
  // Inputs that need no gradient get none (the sweep would drop it): x·w with a constant x costs one product.
  mul: { forward: binaryForward("mul"), vjp: (g, [a, b]) => [a!.requiresGrad ? mul(g, b!) : null, b!.requiresGrad ? mul(g, a!) : null] }, // d(ab) = b·da + a·db
  neg: { forward: unaryForward("neg"), vjp: (g) => [neg(g)] },
  reciprocal: { forward: unaryForward("reciprocal"), vjp: (g, _, y) => [neg(mul(g, square(y)))] }, // d(1/x) = −dx/x² = −y²·dx
  exp: { forward: unaryForward("exp"), vjp: (g, _, y) => [mul(g, y)] }, // d(eˣ) = eˣ·dx
  log: { forward: unaryForward("log"), vjp: (g, [x]) => [div(g, x!)] }, // d(log x) = dx/x
  sqrt: { forward: unaryForward("sqrt"), vjp: (g, _, y) => [div(g, mul(y, 2))] }, // d√x = dx/(2√x)
  erf: { forward: unaryForward("erf"), vjp: (g, [x]) => [div(mul(g, exp(neg(square(x!)))), SQRT_PI_OVER_2)] }, // d erf = 2/√π·e^(−x²)·dx
  sign: { forward: unaryForward("sign"), vjp: noGradient },
  sin: { forward: unaryForward("sin"), vjp: (g, [x]) => [mul(g, cos(x!))] }, // d sin x = cos x·dx
  cos: { forward: unaryForward("cos"), vjp: (g, [x]) => [neg(mul(g, sin(x!)))] }, // d cos x = −sin x·dx
  log1p: { forward: unaryForward("log1p"), vjp: (g, [x]) => [div(g, add(x!, 1))] }, // d log(1+x) = dx/(1+x)
  expm1: { forward: unaryForward("expm1"), vjp: (g, _, y) => [mul(g, add(y, 1))] }, // d(eˣ−1) = eˣ·dx = (y+1)·dx
  // Ties split the gradient evenly between a and b (PyTorch's rule).
  maximum: {
    forward: binaryForward("maximum"),
    vjp: (g, [a, b]) => {
      const half = mul(cast(equal(a!, b!), g.dtype), 0.5);
      const wa = add(cast(greater(a!, b!), g.dtype), half);
      const wb = add(cast(greater(b!, a!), g.dtype), half);
      return [mul(g, wa), mul(g, wb)];
    },
  },
  where: {
    forward: (b, [c, x, y]) => {
      const shape = broadcastShapes("where", c!.shape, x!.shape, y!.shape);
      return { data: b.where(c!.handle, c!.shape, x!.handle, x!.shape, y!.handle, y!.shape, shape, x!.dtype), shape, dtype: x!.dtype };
    },
    vjp: (g, [c]) => {
      const z = zeros([], { dtype: g.dtype });
      return [null, where(c!, g, z), where(c!, z, g)];
    },
  },
  compare: {
    forward: (b, [x, y], { op }) => {
      const shape = broadcastPair(op, x!.shape, y!.shape);
      return { data: b.compare(op, x!.handle, x!.shape, y!.handle, y!.shape, shape, x!.dtype), shape, dtype: "bool" };
    },
    vjp: noGradient,
  },
  sum: {
    forward: (b, [x], { axes }) => ({
      data: b.reduce("sum", x!.handle, x!.shape, axes, x!.dtype),
      shape: x!.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      dtype: x!.dtype,
    }),
    vjp: (g, [x]) => [expand(g, x!.shape)], // every summand gets the output's cotangent
  },
  // Equal maxima share the gradient evenly (PyTorch's rule for max/amax over a dim set).
  max: {
    forward: (b, [x], { axes }) => ({
      data: b.reduce("max", x!.handle, x!.shape, axes, x!.dtype),
      shape: x!.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      dtype: x!.dtype,
    }),
    vjp: (g, [x], y, { axes }) => {
      const mask = cast(equal(x!, y), g.dtype);
      return [mul(mask, div(g, sum(mask, { axis: axes, keepDims: true })))];
    },
  },
  argReduce: {
    forward: (b, [x], { op, axis }) => ({
      data: b.argReduce(op, x!.handle, x!.shape, axis, x!.dtype),
      shape: x!.shape.map((d, i) => (i === axis ? 1 : d)),
      dtype: "int32",
    }),
    vjp: noGradient,
  },
  reshape: {
    forward: (_b, [x], { shape }) => ({ data: x!.handle, shape: shape.slice(), dtype: x!.dtype }), // contiguous: no copy
    vjp: (g, [x]) => [reshape(g, x!.shape)],
  },
  expand: {
    forward: (b, [x], { shape }) => ({ data: b.expand(x!.handle, x!.shape, shape, x!.dtype), shape: shape.slice(), dtype: x!.dtype }),
    vjp: (g) => [g], // the sweep's unbroadcast sums it back to the input's shape
  },
  permute: {
    forward: (b, [x], { perm }) => ({ data: b.permute(x!.handle, x!.shape, perm, x!.dtype), shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype }),
    vjp: (g, _, __, { perm }) => {
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return [permute(g, inverse)];
    },
  },
  slice: {
    forward: (b, [x], { begin, size }) => ({ data: b.slice(x!.handle, x!.shape, begin, size, x!.dtype), shape: size.slice(), dtype: x!.dtype }),
    vjp: (g, [x], _, { begin, size }) => [pad(g, begin.map((s, i) => [s, x!.shape[i]! - s - size[i]!] as [number, number]))],
  },
  pad: {
    forward: (b, [x], { pads, value }) => ({
      data: b.pad(x!.handle, x!.shape, pads, value, x!.dtype),
      shape: x!.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]),
      dtype: x!.dtype,
    }),
    vjp: (g, [x], _, { pads }) => [slice(g, pads.map((p) => p[0]), x!.shape)],
  },
  concat: {
    forward: (b, xs, { axis }) => {
      const shape = xs[0]!.shape.slice();
      shape[axis] = xs.reduce((acc, t) => acc + t.shape[axis]!, 0);
      return { data: b.concat(xs.map((t) => t.handle), xs.map((t) => t.shape), axis, xs[0]!.dtype), shape, dtype: xs[0]!.dtype };
    },
    vjp: (g, xs, _, { axis }) => {
      let at = 0;
      return xs.map((t) => {
        const begin = g.shape.map((_d, i) => (i === axis ? at : 0));
        at += t.shape[axis]!;
        return slice(g, begin, t.shape);
      });
    },
  },
  // Both operands rank ≥ 2; batch dims broadcast. d(AB) = dA·B + A·dB, so Ā = Ḡ·Bᵀ, B̄ = Aᵀ·Ḡ.
  matmul: {
    forward: (b, [x, y]) => {
      const batch = broadcastShapes("matmul", x!.shape.slice(0, -2), y!.shape.slice(0, -2));
      const shape = [...batch, x!.shape[x!.rank - 2]!, y!.shape[y!.rank - 1]!];
      return { data: b.matmul(x!.handle, x!.shape, y!.handle, y!.shape, shape, x!.dtype), shape, dtype: x!.dtype };
    },
    // B̄ = Aᵀ·Ḡ. When B is itself a transpose (x·Wᵀ, q·kᵀ), B̄ is taken as (Ḡᵀ·A)ᵀ: the same
    // products summed in the same order, and the transpose's own VJP then undoes the outer
    // transpose, so W̄ comes out as the matrix Ḡᵀ·A rather than a transposed view of Aᵀ·Ḡ that
    // its first elementwise reader (an optimizer step) would have to write out (on wasm, where a
    // transpose is a view; where it is a copy, cpu and webgpu, this costs one more k·n copy
    // beside the m·k·n product).
    vjp: (g, [a, b]) => [
      a!.requiresGrad ? matmul(g, transpose(b!, -1, -2)) : null,
      b!.requiresGrad ? (swapsLastTwo(b!) ? transpose(matmul(transpose(g, -1, -2), a!), -1, -2) : matmul(transpose(a!, -1, -2), g)) : null,
    ],
  },
  cast: {
    forward: (b, [x], { dtype }) => ({ data: b.cast(x!.handle, x!.dtype, dtype, x!.size), shape: x!.shape.slice(), dtype }),
    vjp: (g, [x]) => [x!.dtype === "float32" || x!.dtype === "float64" ? cast(g, x!.dtype) : null],
  },
  // TensorFlow's gather along one axis; its adjoint scatter-adds, and scatterAdd's adjoint gathers.
  gather: {
    forward: (b, [x, idx], { axis }) => ({
      data: b.gather(x!.handle, x!.shape, idx!.handle, idx!.size, axis, x!.dtype),
      shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)],
      dtype: x!.dtype,
    }),
    vjp: (g, [x, idx], _, { axis }) => [scatterAdd(g, idx!, x!.shape, axis), null],
  },
  scatterAdd: {
    forward: (b, [g, idx], { axis, shape }) => ({
      data: b.scatterAdd(g!.handle, idx!.handle, idx!.size, shape, axis, g!.dtype),
      shape: shape.slice(),
      dtype: g!.dtype,
    }),
    vjp: (g, [, idx], _, { axis }) => [gather(g, idx!, axis), null],
  },
  // im2col and col2im are each other's adjoints, so convolutions differentiate to any order; the
  // VJPs keep the columns' layout ([N, C·kk, L], or [C·kk, N, L] with batchInColumns).
  unfold: {
    forward: (b, [x], p) => {
      const [oh, ow] = windowOutSize(x!.shape[2]!, x!.shape[3]!, p);
      const [n, rows] = [x!.shape[0]!, x!.shape[1]! * p.kernel[0] * p.kernel[1]];
      return {
        data: b.unfold(x!.handle, x!.shape, p, x!.dtype),
        shape: p.batchInColumns ? [rows, n, oh * ow] : [n, rows, oh * ow],
        dtype: x!.dtype,
      };
    },
    vjp: (g, [x], _, p) => [foldWith(g, x!.shape.slice(2) as [number, number], p)],
  },
  fold: {
    forward: (b, [cols], p) => ({ data: b.fold(cols!.handle, p.outputShape, p, cols!.dtype), shape: p.outputShape.slice(), dtype: cols!.dtype }),
    vjp: (g, _, __, p) => [unfoldWith(g, p)],
  },
  // Max pooling's choice of element per window (int32 flat indices into x): maxPool2d gathers
  // its values, so the gradient flows through gather's adjoint and this node needs none.
  windowArgmax: {
    forward: (b, [x], p) => {
      const [oh, ow] = windowOutSize(x!.shape[2]!, x!.shape[3]!, p);
      return { data: b.windowArgmax(x!.handle, x!.shape, p, x!.dtype), shape: [x!.shape[0]!, x!.shape[1]!, oh, ow], dtype: "int32" };
    },
    vjp: noGradient,
  },
  // The user's closures (custom-vjp.ts): fn computed the output unrecorded, vjp is checked there.
  customVjp: { forward: (b, xs, a) => a.forward(b, xs), vjp: (g, xs, y, a) => a.vjp(g, xs, y) },
});

