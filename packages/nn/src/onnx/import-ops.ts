/**
 * ONNX operators as deltagrad ops, for the importer. Each entry reads and checks its node's
 * attributes once, at import, and returns the step that runs the node. Integer tensors that
 * describe shapes (Shape → Gather → Concat → Reshape, Constant axes and pads) are evaluated on
 * the host as {@link Ints}, so a graph with symbolic batch sizes runs without reading tensors.
 */
import * as ag from "@deltagrad/autograd";
import type { DType, Tensor } from "@deltagrad/autograd";
import { DT } from "./proto.js";
import { Attrs, Ints, axis, bounded, err, intsOf, need, shp, unary, type Factory, type RunContext, type Step, type Value } from "./import-support.js";
import { WINDOW_OPS } from "./import-window.js";

export { Attrs, Ints, type RunContext, type Step, type Value } from "./import-support.js";

/** Elementwise binary op; two host Ints stay on the host (shape arithmetic). */
function binary(f: (a: Tensor, b: Tensor) => Tensor, host?: (a: number, b: number) => number): Step {
  return (ins, ctx) => {
    const [a, b] = ins;
    if (host && a instanceof Ints && b instanceof Ints && (a.data.length === b.data.length || a.data.length === 1 || b.data.length === 1)) {
      const n = Math.max(a.data.length, b.data.length);
      const data = Array.from({ length: n }, (_, i) => host(a.data[a.data.length === 1 ? 0 : i]!, b.data[b.data.length === 1 ? 0 : i]!));
      return [new Ints(a.data.length >= b.data.length ? a.shape : b.shape, data)];
    }
    return [f(need(ins, 0, ctx), need(ins, 1, ctx))];
  };
}

/** Pads [begin…, end…] into deltagrad's pairs. */
function pairs(pads: readonly number[], rank: number): [number, number][] {
  if (pads.length !== 2 * rank) err(`pads has ${pads.length} entries, expected ${2 * rank}`);
  return Array.from({ length: rank }, (_, i) => [pads[i]!, pads[i + rank]!] as [number, number]);
}

function reduceStep(at: Attrs, opset: number, opType: string, f: (x: Tensor, axes: number[], keep: boolean) => Tensor): Step {
  const keep = at.int("keepdims", 1) !== 0;
  const noop = at.int("noop_with_empty_axes", 0) !== 0;
  const attrAxes = at.ints("axes");
  const axesFromInput = opType === "ReduceSum" || opset >= 18;
  return (ins, ctx) => {
    const x = need(ins, 0, ctx);
    let axes = axesFromInput ? (ins[1] ? intsOf(ins[1], "axes") : []) : attrAxes ?? [];
    if (axes.length === 0) {
      if (noop) return [x];
      axes = x.shape.map((_, i) => i);
    }
    return [f(x, axes.map((a) => axis(a, x.rank)), keep)];
  };
}

function floatDType(to: number, ctx: RunContext): DType {
  if (to === DT.FLOAT || to === DT.DOUBLE) return ctx.float;
  if (to === DT.INT32 || to === DT.INT64) return "int32";
  if (to === DT.BOOL) return "bool";
  return err(`Cast to ONNX type ${to} is not supported`);
}

/** ONNX Reshape target: 0 copies the input's dim (unless allowzero), −1 is inferred. */
function reshapeTarget(x: readonly number[], target: number[], allowzero: boolean): number[] {
  const out = target.map((d, i) => (d === 0 && !allowzero ? (i < x.length ? x[i]! : err(`shape ${shp(target)} copies axis ${i} of ${shp(x)}`)) : d));
  const known = out.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
  const size = x.reduce((a, d) => a * d, 1);
  const inferred = out.filter((d) => d === -1).length;
  if (inferred > 1 || out.some((d) => d < -1)) err(`shape ${shp(target)} is invalid`);
  if (inferred === 1) {
    if (known === 0 || size % known !== 0) err(`cannot reshape ${shp(x)} to ${shp(target)}`);
    return out.map((d) => (d === -1 ? size / known : d));
  }
  return out;
}

/** The supported operators (default domain, opset 13–17). */
export const IMPORT_OPS: ReadonlyMap<string, Factory> = new Map<string, Factory>([
  ["Identity", () => (ins) => [ins[0]!]],
  ["Dropout", () => (ins) => [ins[0]!]], // inference: identity
  ["Add", () => binary(ag.add, (a, b) => a + b)],
  ["Sub", () => binary(ag.sub, (a, b) => a - b)],
  ["Mul", () => binary(ag.mul, (a, b) => a * b)],
  ["Div", () => binary(ag.div, (a, b) => (b === 0 ? err("integer division by zero") : Math.trunc(a / b)))],
  ["Pow", () => binary(ag.pow)],
  ["Max", () => (ins, ctx) => [ins.map((_, i) => need(ins, i, ctx)).reduce((a, b) => ag.maximum(a, b))]],
  ["Min", () => (ins, ctx) => [ins.map((_, i) => need(ins, i, ctx)).reduce((a, b) => ag.minimum(a, b))]],
  ["Neg", () => unary(ag.neg)],
  ["Abs", () => unary(ag.abs)],
  ["Exp", () => unary(ag.exp)],
  ["Log", () => unary(ag.log)],
  ["Sqrt", () => unary(ag.sqrt)],
  ["Reciprocal", () => unary(ag.reciprocal)],
  ["Erf", () => unary(ag.erf)],
  ["Sign", () => unary(ag.sign)],
  ["Sin", () => unary(ag.sin)],
  ["Cos", () => unary(ag.cos)],
  ["Not", () => unary(ag.logicalNot)],
  ["And", () => binary((a, b) => ag.where(a, b, ag.zeros([], { dtype: "bool" })))],
  ["Or", () => binary((a, b) => ag.where(a, ag.ones([], { dtype: "bool" }), b))],
  ["Equal", () => binary(ag.equal)],
  ["Greater", () => binary(ag.greater)],
  ["GreaterOrEqual", () => binary(ag.greaterEqual)],
  ["Less", () => binary(ag.less)],
  ["LessOrEqual", () => binary(ag.lessEqual)],
  ["Where", () => (ins, ctx) => [ag.where(need(ins, 0, ctx), need(ins, 1, ctx), need(ins, 2, ctx))]],
  ["Relu", () => unary(ag.relu)],
  ["Sigmoid", () => unary(ag.sigmoid)],
  ["Tanh", () => unary(ag.tanh)],
  ["Softplus", () => unary(ag.softplus)],
  ["LeakyRelu", (at) => {
    const alpha = at.float("alpha", 0.01);
    return unary((x) => ag.where(ag.greater(x, 0), x, ag.mul(x, alpha)));
  }],
  ["Elu", (at) => {
    const alpha = at.float("alpha", 1);
    return unary((x) => {
      const pos = ag.greater(x, 0);
      return ag.where(pos, x, ag.mul(ag.sub(ag.exp(ag.where(pos, 0, x)), 1), alpha));
    });
  }],
  ["Softmax", (at) => {
    const a = at.int("axis", -1);
    return unary((x) => ag.softmax(x, { axis: axis(a, x.rank) }));
  }],
  ["LogSoftmax", (at) => {
    const a = at.int("axis", -1);
    return unary((x) => ag.logSoftmax(x, { axis: axis(a, x.rank) }));
  }],
  ["MatMul", () => (ins, ctx) => {
    let a = need(ins, 0, ctx);
    let b = need(ins, 1, ctx);
    if (a.rank === 0 || b.rank === 0) err("MatMul of a scalar");
    const va = a.rank === 1;
    const vb = b.rank === 1;
    if (va) a = ag.reshape(a, [1, a.shape[0]!]);
    if (vb) b = ag.reshape(b, [b.shape[0]!, 1]);
    let y = ag.matmul(a, b);
    if (va) y = ag.squeeze(y, y.rank - 2);
    if (vb) y = ag.squeeze(y, y.rank - 1);
    return [y];
  }],
  ["Gemm", (at) => {
    const alpha = at.float("alpha", 1);
    const beta = at.float("beta", 1);
    const ta = at.int("transA", 0) !== 0;
    const tb = at.int("transB", 0) !== 0;
    return (ins, ctx) => {
      const a = need(ins, 0, ctx);
      const b = need(ins, 1, ctx);
      if (a.rank !== 2 || b.rank !== 2) err(`Gemm needs rank-2 A and B, got ${shp(a.shape)} and ${shp(b.shape)}`);
      let y = ag.matmul(ta ? ag.transpose(a) : a, tb ? ag.transpose(b) : b);
      if (alpha !== 1) y = ag.mul(y, alpha);
      if (ins[2]) y = ag.add(y, beta === 1 ? need(ins, 2, ctx) : ag.mul(need(ins, 2, ctx), beta));
      return [y];
    };
  }],
  ...WINDOW_OPS,
  ["Flatten", (at) => {
    const a = at.int("axis", 1);
    return unary((x) => {
      const k = a < 0 ? a + x.rank : a;
      if (k < 0 || k > x.rank) err(`axis ${a} is out of range for rank ${x.rank}`);
      const lead = x.shape.slice(0, k).reduce((p, d) => p * d, 1);
      return ag.reshape(x, [lead, x.size === 0 ? 0 : x.size / Math.max(lead, 1)]);
    });
  }],
  ["LayerNormalization", (at) => {
    const a = at.int("axis", -1);
    const eps = at.float("epsilon", 1e-5);
    return (ins, ctx) => {
      const x = need(ins, 0, ctx);
      const k = axis(a, x.rank);
      const axes = x.shape.slice(k).map((_, i) => k + i);
      const centered = ag.sub(x, ag.mean(x, { axis: axes, keepDims: true }));
      const variance = ag.mean(ag.square(centered), { axis: axes, keepDims: true });
      let y = ag.div(centered, ag.sqrt(ag.add(variance, eps)));
      y = ag.mul(y, need(ins, 1, ctx));
      return [ins[2] ? ag.add(y, need(ins, 2, ctx)) : y];
    };
  }],
  ["BatchNormalization", (at) => {
    const eps = at.float("epsilon", 1e-5);
    if (at.int("training_mode", 0) !== 0) err("training_mode 1 is not supported (export in eval mode)");
    return (ins, ctx) => {
      const x = need(ins, 0, ctx);
      if (x.rank < 2) err(`BatchNormalization needs [N, C, …] input, got ${shp(x.shape)}`);
      const c = [x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
      const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => ag.reshape(need(ins, i, ctx), c));
      const inv = ag.div(scale!, ag.sqrt(ag.add(variance!, eps)));
      return [ag.add(ag.mul(ag.sub(x, mean!), inv), bias!)];
    };
  }],
  ["Gather", (at) => {
    const a = at.int("axis", 0);
    return (ins, ctx) => {
      const [x, idx] = ins;
      if (x instanceof Ints && idx instanceof Ints) {
        if (x.shape.length !== 1) err("host Gather needs 1-D data");
        const n = x.data.length;
        return [new Ints(idx.shape, idx.data.map((i) => x.data[i < 0 ? i + n : i] ?? err(`index ${i} out of range for ${n} entries`)))];
      }
      const data = need(ins, 0, ctx);
      const k = axis(a, data.rank);
      const indices = idx instanceof Ints ? new Ints(idx.shape, idx.data.map((i) => (i < 0 ? i + data.shape[k]! : i))) : idx;
      return [ag.gather(data, need([indices ?? null], 0, ctx), k)];
    };
  }],
  ["Shape", (at) => {
    const start = at.int("start", 0);
    const end = at.has("end") ? at.int("end", 0) : undefined;
    return (ins) => {
      const s = (ins[0] ?? err("input 0 is missing")).shape;
      const dims = s.slice(start, end);
      return [new Ints([dims.length], dims)];
    };
  }],
  ["Constant", () => err("internal: Constant is folded at import")],
  ["Reshape", (at) => {
    const allowzero = at.int("allowzero", 0) !== 0;
    return (ins, ctx) => {
      const x = ins[0];
      const target = intsOf(ins[1] ?? null, "shape");
      if (x instanceof Ints) return [new Ints(reshapeTarget(x.shape, target, allowzero), x.data)];
      const t = need(ins, 0, ctx);
      return [ag.reshape(t, reshapeTarget(t.shape, target, allowzero))];
    };
  }],
  ["Transpose", (at) => {
    const perm = at.ints("perm");
    return unary((x) => ag.permute(x, perm ?? x.shape.map((_, i) => x.rank - 1 - i)));
  }],
  ["Squeeze", (at) => (ins, ctx) => {
    const x = ins[0];
    const given = ins[1] ? intsOf(ins[1], "axes") : at.ints("axes");
    if (x instanceof Ints) return [new Ints(x.shape.filter((d, i) => (given ? !given.map((a) => axis(a, x.shape.length)).includes(i) : d !== 1)), x.data)];
    const t = need(ins, 0, ctx);
    return [given ? ag.squeeze(t, given.map((a) => axis(a, t.rank))) : ag.squeeze(t)];
  }],
  ["Unsqueeze", (at) => (ins, ctx) => {
    const x = ins[0] ?? err("input 0 is missing");
    const axes = ins[1] ? intsOf(ins[1], "axes") : at.ints("axes") ?? err("Unsqueeze needs axes");
    const r = x.shape.length + axes.length;
    const norm = axes.map((a) => axis(a, r)).sort((p, q) => p - q);
    const shape = x.shape.slice();
    for (const a of norm) shape.splice(a, 0, 1);
    return [x instanceof Ints ? new Ints(shape, x.data) : ag.reshape(need(ins, 0, ctx), shape)];
  }],
  ["Concat", (at) => {
    const a = at.int("axis", 0);
    return (ins, ctx) => {
      const present = ins.filter((v): v is Value => v !== null);
      if (present.every((v) => v instanceof Ints && v.shape.length === 1)) {
        const data = present.flatMap((v) => (v as Ints).data);
        return [new Ints([data.length], data)];
      }
      const ts = present.map((v) => ctx.tensor(v));
      return [ag.concat(ts, axis(a, ts[0]!.rank))];
    };
  }],
  ["Slice", () => (ins, ctx) => {
    const x = ins[0] ?? err("input 0 is missing");
    const starts = intsOf(ins[1] ?? null, "starts");
    const ends = intsOf(ins[2] ?? null, "ends");
    const axes = ins[3] ? intsOf(ins[3], "axes") : starts.map((_, i) => i);
    if (ins[4] && intsOf(ins[4], "steps").some((s) => s !== 1)) err("Slice with steps other than 1 is not supported");
    const rank = x.shape.length;
    const begin = x.shape.map(() => 0);
    const size = x.shape.slice();
    axes.forEach((a0, i) => {
      const a = axis(a0, rank);
      const d = x.shape[a]!;
      const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      begin[a] = clampIdx(starts[i]!);
      size[a] = Math.max(0, clampIdx(ends[i]!) - begin[a]!);
    });
    if (x instanceof Ints) {
      if (rank !== 1) err("host Slice needs 1-D data");
      return [new Ints([size[0]!], x.data.slice(begin[0], begin[0]! + size[0]!))];
    }
    return [ag.slice(need(ins, 0, ctx), begin, size)];
  }],
  ["Pad", (at) => {
    const mode = at.string("mode", "constant");
    if (mode !== "constant") err(`Pad mode ${mode} is not supported (constant only)`);
    return (ins, ctx) => {
      const x = need(ins, 0, ctx);
      if (ins[3]) err("Pad with an axes input is not supported");
      const value = ins[2] ? intsOrFloat(ins[2], ctx) : 0;
      const p = pairs(intsOf(ins[1] ?? null, "pads"), x.rank);
      if (p.some(([a, b]) => a < 0 || b < 0)) err(`negative pads ${JSON.stringify(p)} are not supported`);
      bounded(x.shape.map((d, i) => d + p[i]![0] + p[i]![1]), "the padded output");
      return [ag.pad(x, p, value)];
    };
  }],
  ["Expand", () => (ins, ctx) => {
    const x = need(ins, 0, ctx);
    const target = intsOf(ins[1] ?? null, "shape");
    const shape = ag.broadcastShapes("Expand", x.shape, target);
    bounded(shape, "the expanded output");
    return [ag.expand(x, shape)];
  }],
  ["Cast", (at) => {
    const to = at.int("to", 0);
    return (ins, ctx) => {
      const x = ins[0] ?? err("input 0 is missing");
      if (x instanceof Ints && (to === DT.INT64 || to === DT.INT32)) return [x];
      return [ag.cast(ctx.tensor(x), floatDType(to, ctx))];
    };
  }],
  ["ReduceMean", (at, opset) => reduceStep(at, opset, "ReduceMean", (x, axes, keepDims) => ag.mean(x, { axis: axes, keepDims }))],
  ["ReduceSum", (at, opset) => reduceStep(at, opset, "ReduceSum", (x, axes, keepDims) => ag.sum(x, { axis: axes, keepDims }))],
  ["ReduceMax", (at, opset) => reduceStep(at, opset, "ReduceMax", (x, axes, keepDims) => ag.max(x, { axis: axes, keepDims }))],
  ["ArgMax", (at) => argStep(at, ag.argmax)],
  ["ArgMin", (at) => argStep(at, ag.argmin)],
]);

function argStep(at: Attrs, f: typeof ag.argmax): Step {
  const a = at.int("axis", 0);
  const keepDims = at.int("keepdims", 1) !== 0;
  if (at.int("select_last_index", 0) !== 0) err("select_last_index 1 is not supported");
  return unary((x) => f(x, { axis: axis(a, x.rank), keepDims }));
}

function intsOrFloat(v: Value, ctx: RunContext): number {
  if (v instanceof Ints) return v.data[0] ?? 0;
  const t = ctx.tensor(v);
  if (t.size !== 1) err(`constant_value must be a scalar, got ${shp(t.shape)}`);
  return t.dataSync()[0]!;
}
