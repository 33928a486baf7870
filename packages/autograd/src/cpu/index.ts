import { HostScalar, hostArrayOf, type ArgReduceKernel, type Backend, type BackendData, type BinaryKernel, type CompareKernel, type ReduceKernel, type UnaryKernel, type WindowParams } from "../backend.js";
import { allocate, type DType, type TypedArray } from "../dtype.js";
import { DeltagradError } from "../errors.js";
import { type Shape, broadcastStrides, sizeOf, stridesOf, windowOutSize } from "../shape.js";
import { erf } from "./erf.js";
import { exp32 } from "./exp32.js";
import { matmulKernel } from "./matmul.js";
import { compile, gatherStrided, makeBinaryLoop, makeReduceLoop, makeUnaryLoop, scatterStrided, transposeLast2, transposeLast2Body } from "./strided.js";
import { foldKernel, unfoldKernel, windowArgmaxKernel } from "./window.js";

/**
 * One compiled loop per (kernel, dtype) (see `compile` in strided.ts): a loop shared by
 * Float32Array and Float64Array inputs sees several element kinds and V8 then takes its slow,
 * polymorphic path for every element.
 */
function perDType<F, S = undefined>(make: (dtype: DType) => F, scalar32?: S): ByDType<F, S> {
  return new ByDType(make("float32"), make("float64"), make("int32"), make("bool"), scalar32 as S);
}

/**
 * A kernel per dtype, picked by a switch: `table[dtype]` with a dtype that varies is a megamorphic
 * keyed load (a stub-cache lookup on every op; with the rule lookup it was ~10% of a scalar graph).
 */
class ByDType<F, S = undefined> {
  /** `scalar32`: the elementwise kernels' function of one element, for a {@link HostScalar} result (the same function the float32 loop computes, then rounded to float32 as its store does). */
  constructor(readonly float32: F, readonly float64: F, readonly int32: F, readonly bool: F, readonly scalar32: S) {}
  of(dtype: DType): F {
    switch (dtype) {
      case "float32": return this.float32;
      case "float64": return this.float64;
      case "int32": return this.int32;
      default: return this.bool;
    }
  }
}

function binary(expr: string, f: (x: number, y: number) => number) {
  return perDType(() => makeBinaryLoop(expr, f), f);
}

function unary(expr: string, f: (x: number) => number, helpers: Record<string, unknown> = {}) {
  return perDType(() => makeUnaryLoop(expr, f, helpers), f);
}

const UNARY = {
  neg: unary("-x", (x) => -x),
  reciprocal: unary("1 / x", (x) => 1 / x),
  // float32 results take exp32 (inlined tables and a polynomial; same float32 values as Math.exp).
  exp: perDType((dtype) => (dtype === "float32" ? makeUnaryLoop("exp32(x)", exp32, { exp32 }) : makeUnaryLoop("Math.exp(x)", Math.exp)), exp32),
  log: unary("Math.log(x)", Math.log),
  sqrt: unary("Math.sqrt(x)", Math.sqrt),
  erf: unary("erf(x)", erf, { erf }),
  // sign(±0) = 0 and sign(NaN) = NaN, as in NumPy and PyTorch.
  sign: unary("x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN", (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN)),
  // In float64, then rounded once by the Float32Array store: float32 results are within half a float32 step.
  sin: unary("Math.sin(x)", Math.sin),
  cos: unary("Math.cos(x)", Math.cos),
  log1p: unary("Math.log1p(x)", Math.log1p),
  expm1: unary("Math.expm1(x)", Math.expm1),
} satisfies Record<UnaryKernel, unknown>;

const BINARY = {
  add: binary("x + y", (x, y) => x + y),
  mul: binary("x * y", (x, y) => x * y),
  // NaN propagates from either side, as in PyTorch's maximum.
  maximum: binary("x !== x || y !== y ? NaN : x > y ? x : y", (x, y) => (x !== x || y !== y ? NaN : x > y ? x : y)),
} satisfies Record<BinaryKernel, unknown>;

/**
 * `UNARY[op]` and `BINARY[op]` by a switch, for the reason of {@link ByDType} (every op of a
 * scalar graph goes through one). Exhaustive: a kernel added to the list without its case here
 * is a type error (`op` is not `never` in the default branch).
 */
function unaryOf(op: UnaryKernel): ByDType<(src: TypedArray, out: TypedArray) => void, (x: number) => number> {
  switch (op) {
    case "neg": return UNARY.neg;
    case "reciprocal": return UNARY.reciprocal;
    case "exp": return UNARY.exp;
    case "log": return UNARY.log;
    case "sqrt": return UNARY.sqrt;
    case "erf": return UNARY.erf;
    case "sign": return UNARY.sign;
    case "sin": return UNARY.sin;
    case "cos": return UNARY.cos;
    case "log1p": return UNARY.log1p;
    case "expm1": return UNARY.expm1;
    default: return unknownKernel("unary", op);
  }
}

function binaryOf(op: BinaryKernel): (typeof BINARY)["add"] {
  switch (op) {
    case "add": return BINARY.add;
    case "mul": return BINARY.mul;
    case "maximum": return BINARY.maximum;
    default: return unknownKernel("binary", op);
  }
}

function unknownKernel(family: string, op: never): never {
  throw new DeltagradError(`cpu ${family}: unknown kernel ${String(op)}`);
}

const COMPARE = {
  equal: binary("x === y ? 1 : 0", (x, y) => (x === y ? 1 : 0)),
  notEqual: binary("x !== y ? 1 : 0", (x, y) => (x !== y ? 1 : 0)),
  greater: binary("x > y ? 1 : 0", (x, y) => (x > y ? 1 : 0)),
  greaterEqual: binary("x >= y ? 1 : 0", (x, y) => (x >= y ? 1 : 0)),
  less: binary("x < y ? 1 : 0", (x, y) => (x < y ? 1 : 0)),
  lessEqual: binary("x <= y ? 1 : 0", (x, y) => (x <= y ? 1 : 0)),
} satisfies Record<CompareKernel, unknown>;

const REDUCE = {
  sum: perDType(() => makeReduceLoop("acc + x", (acc, x) => acc + x, 0)),
  // NaN wins; otherwise the larger value. The start value must survive the output array's store:
  // an Int32Array turns −∞ into 0, which made the max of all-negative int32 values 0.
  max: perDType((dtype) =>
    makeReduceLoop("x > acc || x !== x ? x : acc", (acc, x) => (x > acc || x !== x ? x : acc), dtype === "int32" ? -2147483648 : -Infinity),
  ),
} satisfies Record<ReduceKernel, unknown>;

/** One blocked transpose per dtype (monomorphic element access; see perDType). */
const TRANSPOSE = perDType(() => compile<typeof transposeLast2>(["src", "out", "batch", "rows", "cols"], transposeLast2Body, transposeLast2));

/**
 * argmax/argmin along the middle axis of `[outer, n, inner]`, one compiled loop per (op, dtype)
 * (a shared comparison closure cost a call per element). The first index wins ties; the first
 * NaN wins over everything (NumPy's rule). Rows are walked with `inner` innermost, so a window
 * reduction (max-pool: inner = the pooled pixels) reads memory in order.
 */
function argReduceLoop(cmp: ">" | "<") {
  const body = `
    for (let o = 0; o < outer; o++) {
      const row = o * n * inner;
      const ob = o * inner;
      for (let i = 0; i < inner; i++) { best[i] = src[row + i]; out[ob + i] = 0; }
      for (let j = 1; j < n; j++) {
        const rj = row + j * inner;
        for (let i = 0; i < inner; i++) {
          const b = best[i];
          const v = src[rj + i];
          if (b === b && (v !== v || v ${cmp} b)) { best[i] = v; out[ob + i] = j; }
        }
      }
    }`;
  const fallback = (src: TypedArray, outer: number, n: number, inner: number, out: Int32Array, best: Float64Array) => {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let b = src[o * n * inner + i]!;
        let at = 0;
        for (let j = 1; j < n && b === b; j++) {
          const v = src[(o * n + j) * inner + i]!;
          if (v !== v || (cmp === ">" ? v > b : v < b)) {
            b = v;
            at = j;
          }
        }
        out[o * inner + i] = at;
      }
    }
    void best;
  };
  return perDType(() => {
    const loop = compile<typeof fallback>(["src", "outer", "n", "inner", "out", "best"], body, fallback);
    let scratch = new Float64Array(0);
    return (src: TypedArray, outer: number, n: number, inner: number, out: Int32Array) => {
      if (scratch.length < inner) scratch = new Float64Array(inner);
      loop(src, outer, n, inner, out, scratch);
    };
  });
}

const ARG_REDUCE = { argmax: argReduceLoop(">"), argmin: argReduceLoop("<") } satisfies Record<ArgReduceKernel, unknown>;

/** Storage as an array (a {@link HostScalar} becomes its array). */
const a = (d: BackendData) => hostArrayOf(d) as TypedArray;

/** The one value of one-element float32 storage. */
const only = (d: BackendData) => (d instanceof HostScalar ? d.value() : (d as TypedArray)[0]!);

function castValue(v: number, to: DType): number {
  if (to === "bool") return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  return v;
}

/**
 * The default backend: TypedArrays and plain loops, synchronous, float32 and float64.
 *
 * @example
 * ```ts
 * setBackend("cpu"); getBackend() === cpuBackend; // true
 * ```
 */
export const cpuBackend: Backend = {
  name: "cpu",
  synchronous: true,
  supports: () => true,

  upload: (values) => values,
  readSync: (data) => a(data),
  read: async (data) => a(data),
  write(dst, src) {
    a(dst).set(a(src));
  },
  fill(dtype, size, value) {
    if (size === 1 && dtype === "float32") return new HostScalar(Math.fround(value));
    const out = allocate(dtype, size);
    if (size === 1) out[0] = castValue(value, dtype); // a scalar (x.add(1), backward's seed): no call into fill
    else if (value !== 0 || Object.is(value, -0)) out.fill(castValue(value, dtype)); // −0 is a value (maskedFill(x, m, -0))
    return out;
  },

  unary(op, x, dtype, size) {
    // One float32 element: a number, not a typed array (HostScalar).
    if (size === 1 && dtype === "float32") return new HostScalar(Math.fround(unaryOf(op).scalar32(only(x))));
    const out = allocate(dtype, size);
    unaryOf(op).of(dtype)(a(x), out);
    return out;
  },
  binary(op, x, xs, y, ys, outShape, dtype) {
    // One float32 element out means one element in each operand.
    if (dtype === "float32" && (outShape.length === 0 || sizeOf(outShape) === 1)) return new HostScalar(Math.fround(binaryOf(op).scalar32(only(x), only(y))));
    const out = allocate(dtype, sizeOf(outShape));
    binaryOf(op).of(dtype)(a(x), xs, a(y), ys, out, outShape);
    return out;
  },
  compare(op, x, xs, y, ys, outShape, dtype) {
    const out = allocate("bool", sizeOf(outShape));
    COMPARE[op].of(dtype)(a(x), xs, a(y), ys, out, outShape);
    return out;
  },
  where(cond, cs, x, xs, y, ys, outShape, dtype) {
    const n = sizeOf(outShape);
    const out = allocate(dtype, n);
    const c = a(cond);
    const X = a(x);
    const Y = a(y);
    if (c.length === n && (X.length === n || X.length === 1) && (Y.length === n || Y.length === 1)) {
      // The common case (relu, clamp, losses): cond full-size, each side full-size or a scalar.
      const xs = X.length === n ? 1 : 0;
      const ys = Y.length === n ? 1 : 0;
      for (let i = 0; i < n; i++) out[i] = c[i] ? X[i * xs]! : Y[i * ys]!;
      return out;
    }
    const cStr = broadcastStrides(cs, outShape);
    const xStr = broadcastStrides(xs, outShape);
    const yStr = broadcastStrides(ys, outShape);
    const idx = new Array<number>(outShape.length).fill(0);
    let ci = 0;
    let xi = 0;
    let yi = 0;
    for (let o = 0; o < n; o++) {
      out[o] = c[ci] ? X[xi]! : Y[yi]!;
      for (let d = outShape.length - 1; d >= 0; d--) {
        ci += cStr[d]!;
        xi += xStr[d]!;
        yi += yStr[d]!;
        if (++idx[d]! < outShape[d]!) break;
        ci -= cStr[d]! * outShape[d]!;
        xi -= xStr[d]! * outShape[d]!;
        yi -= yStr[d]! * outShape[d]!;
        idx[d] = 0;
      }
    }
    return out;
  },
  cast(x, from, to, size) {
    const src = a(x);
    const out = allocate(to, size);
    // Float → int32 truncates toward zero (the TypedArray conversion), as PyTorch's .int().
    if (to === "bool") for (let i = 0; i < size; i++) out[i] = castValue(src[i]!, "bool");
    else out.set(src);
    return out;
  },

  reduce(op, x, shape, axes, dtype) {
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = allocate(dtype, sizeOf(outShape));
    REDUCE[op].of(dtype)(a(x), shape, axes, out);
    return out;
  },
  argReduce(op: ArgReduceKernel, x, shape, axis, dtype) {
    const outer = sizeOf(shape.slice(0, axis));
    const n = shape[axis]!;
    const inner = sizeOf(shape.slice(axis + 1));
    const out = allocate("int32", outer * inner) as Int32Array;
    ARG_REDUCE[op].of(dtype)(a(x), outer, n, inner, out);
    return out;
  },

  expand(x, shape, outShape, dtype) {
    const out = allocate(dtype, sizeOf(outShape));
    gatherStrided(a(x), out, outShape, broadcastStrides(shape, outShape), 0);
    return out;
  },
  permute(x, shape, perm, dtype) {
    const s = stridesOf(shape);
    const outShape = perm.map((p) => shape[p]!);
    const out = allocate(dtype, sizeOf(outShape));
    const r = shape.length;
    // Swapping the last two axes (transpose(x, -1, -2), the matmul VJPs): a cache-blocked
    // transpose; any other permutation takes the strided gather.
    if (r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.every((p, i) => i >= r - 2 || p === i)) {
      const rows = shape[r - 2]!;
      const cols = shape[r - 1]!;
      if (rows > 1 && cols > 1) {
        TRANSPOSE.of(dtype)(a(x), out, out.length / (rows * cols) || 0, rows, cols);
        return out;
      }
    }
    gatherStrided(a(x), out, outShape, perm.map((p) => s[p]!), 0);
    return out;
  },
  slice(x, shape, begin, size, dtype) {
    const s = stridesOf(shape);
    const out = allocate(dtype, sizeOf(size));
    gatherStrided(a(x), out, size, s, begin.reduce((acc, b, i) => acc + b * s[i]!, 0));
    return out;
  },
  pad(x, shape, pads, value, dtype) {
    const outShape = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
    const out = allocate(dtype, sizeOf(outShape));
    if (value !== 0) out.fill(value);
    const s = stridesOf(outShape);
    scatterStrided(a(x), shape, out, s, pads.reduce((acc, p, i) => acc + p[0] * s[i]!, 0));
    return out;
  },
  concat(xs, shapes, axis, dtype) {
    const outShape = shapes[0]!.slice();
    outShape[axis] = shapes.reduce((acc, s) => acc + s[axis]!, 0);
    const out = allocate(dtype, sizeOf(outShape));
    const s = stridesOf(outShape);
    let at = 0;
    xs.forEach((x, i) => {
      scatterStrided(a(x), shapes[i]!, out, s, at * s[axis]!);
      at += shapes[i]![axis]!;
    });
    return out;
  },
  matmul(x, xs, y, ys, outShape, dtype) {
    const out = allocate(dtype, sizeOf(outShape));
    matmulKernel(a(x), xs, a(y), ys, out, outShape);
    return out;
  },
  gather(x, shape, indices, nIndices, axis, dtype) {
    const src = a(x);
    const idx = a(indices);
    const outer = sizeOf(shape.slice(0, axis));
    const n = shape[axis]!;
    const inner = sizeOf(shape.slice(axis + 1));
    const out = allocate(dtype, outer * nIndices * inner);
    for (let t = 0; t < nIndices; t++) checkIndex("gather", idx[t]!, n, axis);
    for (let o = 0; o < outer; o++) {
      for (let t = 0; t < nIndices; t++) {
        const from = (o * n + idx[t]!) * inner;
        const to = (o * nIndices + t) * inner;
        for (let i = 0; i < inner; i++) out[to + i] = src[from + i]!;
      }
    }
    return out;
  },
  scatterAdd(g, indices, nIndices, outShape, axis, dtype) {
    const src = a(g);
    const idx = a(indices);
    const outer = sizeOf(outShape.slice(0, axis));
    const n = outShape[axis]!;
    const inner = sizeOf(outShape.slice(axis + 1));
    const out = allocate(dtype, sizeOf(outShape));
    for (let t = 0; t < nIndices; t++) checkIndex("scatterAdd", idx[t]!, n, axis);
    for (let o = 0; o < outer; o++) {
      for (let t = 0; t < nIndices; t++) {
        const to = (o * n + idx[t]!) * inner;
        const from = (o * nIndices + t) * inner;
        for (let i = 0; i < inner; i++) out[to + i] += src[from + i]!;
      }
    }
    return out;
  },
  unfold(x, shape, p: WindowParams, dtype) {
    const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
    const out = allocate(dtype, shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh * ow);
    unfoldKernel(a(x), shape, p, out);
    return out;
  },
  fold(cols, outShape, p, dtype) {
    const out = allocate(dtype, sizeOf(outShape));
    foldKernel(a(cols), outShape, p, out);
    return out;
  },
  windowArgmax(x, shape, p, _dtype) {
    const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
    const out = new Int32Array(shape[0]! * shape[1]! * oh * ow);
    windowArgmaxKernel(a(x), shape, p, out);
    return out;
  },
};

function checkIndex(op: string, i: number, n: number, axis: number): void {
  if (!(i >= 0 && i < n)) throw new DeltagradError(`${op}: index ${i} is out of range for axis ${axis} of size ${n}`);
}

export type { Shape };
