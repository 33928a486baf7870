/**
 * Convolution and pooling, composites of the windowing primitive {@link unfold} (im2col) and
 * matmul/reductions. unfold's VJP is fold (col2im) and fold's is unfold, so every op in this file
 * differentiates to any order. maxPool2d is a window argmax and a gather, whose adjoint
 * (scatterAdd) carries the gradient.
 */
import type { WindowParams } from "../backend.js";
import { isFloat } from "../dtype.js";
import { DeltagradError, fmtShape } from "../errors.js";
import { describe, windowOutSize } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { ones, tensor } from "./create.js";
import { add, asTensor, cast, div } from "./elementwise.js";
import { matmul } from "./linalg.js";
import { gather, permute, reshape, transpose } from "./movement.js";
import { sum } from "./reduce.js";
import { type Size2, unfold, windowParams } from "./window.js";
import { unfoldWith, windowArgmax } from "./window-layout.js";
import { scoped } from "../lifetime.js";

/** Geometry of {@link conv2d}; sizes are one number for both axes or `[h, w]`. */
export interface Conv2dOptions {
  /** Step between windows, per axis. Default 1. */
  stride?: Size2;
  /** Zeros added on each side of each spatial axis. Default 0. */
  padding?: Size2;
  /** Spacing between kernel taps (à trous). Default 1. */
  dilation?: Size2;
  /** Split channels into this many independent groups (input and output channels both divisible). Default 1. */
  groups?: number;
}

/** Window of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: Size2;
  /** Default: the kernel size (non-overlapping windows). */
  stride?: Size2;
  /** −∞ added on each side; at most half the kernel. Default 0. */
  padding?: Size2;
  /** Spacing between window taps. Default 1. */
  dilation?: Size2;
}

/** Window of {@link avgPool2d}. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernel: Size2;
  /** Default: the kernel size. */
  stride?: Size2;
  /** Zeros added on each side; at most half the kernel. Default 0. */
  padding?: Size2;
  /** Whether padded zeros count in the divisor (PyTorch's default, true) or not. */
  countIncludePad?: boolean;
}

/** Validates window options, rethrowing with the operand shapes appended so the message names them all. */
function params(op: string, opts: Parameters<typeof windowParams>[1], shapes: string): WindowParams {
  try {
    return windowParams(op, opts);
  } catch (e) {
    if (e instanceof DeltagradError) throw new DeltagradError(`${e.message} (${shapes})`);
    throw e;
  }
}

function checkNCHW(op: string, x: Tensor, shapes: string): void {
  if (x.rank !== 4) throw new DeltagradError(`${op}: expected NCHW input of rank 4, got ${shapes}`);
}

/** Output size ⌊(N + 2P − D·(F−1) − 1)/S⌋ + 1 per axis, or a clear error when the input is too small. */
function outSize(op: string, x: Tensor, p: WindowParams, shapes: string): [number, number] {
  const [oh, ow] = windowOutSize(x.shape[2]!, x.shape[3]!, p);
  if (oh < 1 || ow < 1) {
    const k = p.kernel.map((f, i) => p.dilation[i]! * (f - 1) + 1);
    throw new DeltagradError(
      `${op}: input ${x.shape[2]}×${x.shape[3]} (padded ${x.shape[2]! + 2 * p.padding[0]}×${x.shape[3]! + 2 * p.padding[1]}) is too small for a ${k.join("×")} window: ${shapes}`,
    );
  }
  return [oh, ow];
}

/**
 * 2-D cross-correlation over NCHW input (PyTorch's `conv2d`): `weight` is `[K, C/groups, kh, kw]`,
 * `bias` (optional) is `[K]`; output `[N, K, OH, OW]` with OH = ⌊(H + 2P − D·(F−1) − 1)/S⌋ + 1.
 *
 * Composite: `unfold` (im2col) turns x into columns laid out `[C·kh·kw, N·L]` (the batch in
 * the columns; the public {@link unfold} makes `[N, C·kh·kw, L]`) so that one matmul
 * `W[K, C·kh·kw] · cols` covers the whole batch; its `[K, N·L]` result is permuted back to NCHW.
 * Groups split both into `[G, K/G, ·]` and `[G, ·, N·L]` and batch over G. The batch in the
 * GEMM's columns (rather than a batch of N products sharing W) makes the weight gradient one long
 * product `dY · colsᵀ` instead of N small ones and a sum over the batch. With one output position per image (L = 1) it is simply
 * `[N, C·kh·kw] · Wᵀ`.
 * The gradient comes from matmul's, permute's and unfold's VJPs (fold, i.e. col2im), so second
 * order works too.
 *
 * @example
 * ```ts
 * const x = randn([1, 3, 32, 32]);
 * const w = randn([10, 3, 5, 5]);
 * conv2d(x, w, zeros([10]), { padding: 2 }).shape; // [1, 10, 32, 32]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  asTensor("conv2d", x);
  asTensor("conv2d", weight, "weight");
  if (bias !== undefined && bias !== null) asTensor("conv2d", bias, "bias");
  const shapes = `input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}`;
  checkNCHW("conv2d", x, shapes);
  if (weight.rank !== 4) throw new DeltagradError(`conv2d: weight must be [K, C/groups, kh, kw], got ${shapes}`);
  const { groups = 1 } = opts ?? {};
  const [n, c] = x.shape as [number, number];
  const [k, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1) throw new DeltagradError(`conv2d: groups must be a positive integer, got ${describe(groups)} (${shapes})`);
  if (c !== cg * groups) {
    throw new DeltagradError(`conv2d: input has ${c} channels but weight expects ${cg}×${groups} (C/groups × groups): ${shapes}`);
  }
  if (k % groups !== 0) throw new DeltagradError(`conv2d: ${k} output channels are not divisible by groups ${groups}: ${shapes}`);
  if (bias !== undefined && bias !== null && (bias.rank !== 1 || bias.shape[0] !== k)) {
    throw new DeltagradError(`conv2d: bias must be [${k}], got ${fmtShape(bias.shape)} (${shapes})`);
  }
  const p = params("conv2d", { kernel: [kh, kw], stride: opts?.stride, padding: opts?.padding, dilation: opts?.dilation }, shapes);
  const [oh, ow] = outSize("conv2d", x, p, shapes);
  const L = oh * ow;
  const rows = cg * kh * kw;
  const hasBias = bias !== undefined && bias !== null;
  return scoped(() => {
    // The bias is added before the result is permuted to NCHW, where each output channel is a
    // contiguous row, so its gradient is a sum along rows rather than over axes 0, 2 and 3.
    if (L === 1 && groups === 1) {
      // One output position per image: the convolution is [N, rows] · Wᵀ (no permutes).
      const y = matmul(reshape(unfold(x, p), [n, rows]), transpose(reshape(weight, [k, rows]))); // [N, K]
      return reshape(hasBias ? add(y, bias) : y, [n, k, oh, ow]);
    }
    // The batch is in the GEMM's columns, [G, rows, N·L]: the forward packs W once and the
    // weight gradient is one long product dY·colsᵀ over all N·L positions, not N products and a
    // sum. unfold writes that layout itself, [C·kh·kw, N, L] (no permute of the columns, nor of
    // their gradient, which fold reads in the same layout); rows run over (channel, ki, kj), so
    // each group's rows are contiguous and [G, rows, N·L] is a reshape. (The same ops for one
    // image: they must not depend on the batch size, or exportOnnx could not make it dynamic.)
    const cols = reshape(unfoldWith(x, { ...p, batchInColumns: true }), [groups, rows, n * L]);
    const yT = reshape(matmul(reshape(weight, [groups, k / groups, rows]), cols), [k, n, L]);
    return reshape(permute(hasBias ? add(yT, reshape(bias, [k, 1, 1])) : yT, [1, 0, 2]), [n, k, oh, ow]);
  });
}

/** [N, C, H, W] → columns [N·C, kh·kw, L] of every window of every channel (its own "image"). */
function windows(x: Tensor, p: WindowParams): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return unfold(reshape(x, [n * c, 1, h, w]), p);
}

function poolParams(op: string, x: Tensor, o: MaxPool2dOptions | AvgPool2dOptions): WindowParams {
  const shapes = `input ${fmtShape(x.shape)}`;
  checkNCHW(op, x, shapes);
  if (!o || typeof o !== "object") throw new DeltagradError(`${op}: options with a kernel size are required (${shapes})`);
  const kernel = params(op, { kernel: o.kernel }, shapes).kernel;
  const p = params(op, { kernel, stride: o.stride ?? kernel, padding: o.padding, dilation: "dilation" in o ? o.dilation : undefined }, shapes);
  // PyTorch's rule: a window must always overlap the input, so no output is made of padding alone.
  if (p.padding[0] > Math.floor(kernel[0] / 2) || p.padding[1] > Math.floor(kernel[1] / 2)) {
    throw new DeltagradError(`${op}: padding ${p.padding.join(",")} must be at most half of kernel ${kernel.join("×")} (${shapes})`);
  }
  const [oh, ow] = outSize(op, x, p, `${shapes}, kernel ${kernel.join("×")}, stride ${p.stride.join(",")}, padding ${p.padding.join(",")}`);
  // With dilation a window can still fall entirely in the padding (its taps straddle the input);
  // its max would be −∞ and its mean 0/0, so that is an error too.
  ([0, 1] as const).forEach((a) => {
    const n = x.shape[2 + a]!;
    for (let i = 0; i < (a === 0 ? oh : ow); i++) {
      const start = i * p.stride[a] - p.padding[a];
      let hit = false;
      for (let u = 0; u < kernel[a] && !hit; u++) hit = start + u * p.dilation[a] >= 0 && start + u * p.dilation[a] < n;
      if (!hit) {
        throw new DeltagradError(
          `${op}: window ${i} along ${a === 0 ? "height" : "width"} covers only padding (kernel ${kernel.join("×")}, dilation ${p.dilation.join(",")}, padding ${p.padding.join(",")}, ${shapes})`,
        );
      }
    }
  });
  return p;
}

/**
 * Max over each window of NCHW input, padding never chosen. Floor mode:
 * OH = ⌊(H + 2P − D·(F−1) − 1)/S⌋ + 1.
 *
 * **Ties** (several window elements equal to the maximum — common after a ReLU, where whole
 * windows are 0) send the whole gradient to the **first** of them in row-major window order
 * (top-left first), as PyTorch and TensorFlow.js do. This is deliberate: it is not the core
 * `max` reduction's rule (which splits the gradient evenly among equal maxima). NaN propagates
 * (the first NaN is chosen); a window whose taps are all −∞ chooses its first tap inside the
 * image, as PyTorch does.
 *
 * Composite of two primitives: `windowArgmax` picks each window's element (an int32 flat index
 * into x, one pass over the image, no window columns), and {@link gather} reads the values. The
 * gradient is gather's adjoint, a {@link scatterAdd} of the cotangent to the chosen elements,
 * whose own adjoint is gather again, so every order of gradient works. It equals the plain
 * composition `sum(where(argmax one-hot, unfold(pad(x, −∞)), 0))` in value and in every gradient
 * order (conv-pool.test.ts).
 *
 * @example
 * ```ts
 * const x = tensor([[[[1, 2], [3, 4]]]], { requiresGrad: true });
 * maxPool2d(x, { kernel: 2 }).arraySync(); // [[[[4]]]]
 * const t = tensor([[[[5, 5], [0, 5]]]], { requiresGrad: true });
 * maxPool2d(t, { kernel: 2 }).sum().backward();
 * t.grad!.arraySync(); // [[[[1, 0], [0, 0]]]] — the first 5 takes it all
 * ```
 */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  asTensor("maxPool2d", x);
  const p = poolParams("maxPool2d", x, opts);
  if (!isFloat(x.dtype)) x = cast(x, "float32"); // as before: pooled integers come back as float32
  return scoped(() => gather(reshape(x, [x.size]), windowArgmax(x, p)));
}

/**
 * Mean over each window of NCHW input with zero padding. With `countIncludePad` (default true,
 * PyTorch's default) every window divides by kh·kw; with false, by the number of taps inside
 * the input. Floor mode, like {@link maxPool2d}.
 *
 * @example
 * ```ts
 * avgPool2d(tensor([[[[1, 2], [3, 4]]]]), { kernel: 2 }).arraySync(); // [[[[2.5]]]]
 * ```
 */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  asTensor("avgPool2d", x);
  const p = poolParams("avgPool2d", x, opts);
  if (!isFloat(x.dtype)) x = cast(x, "float32");
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  return scoped(() => {
    const sums = sum(windows(x, p), { axis: 1 }); // [N·C, L]
    const divisor = opts.countIncludePad === false
      ? sum(unfold(ones([1, 1, h, w], { dtype: x.dtype }), p), { axis: 1 }) // taps inside the image, [1, L]
      : p.kernel[0] * p.kernel[1];
    return reshape(div(sums, divisor), [n, c, oh, ow]);
  });
}

/** Row i of the [out, size] matrix averaging PyTorch's adaptive bin [⌊i·size/out⌋, ⌈(i+1)·size/out⌉). */
function binMatrix(size: number, out: number): Float64Array {
  const m = new Float64Array(out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) m[i * size + j] = 1 / (end - start);
  }
  return m;
}

/**
 * Average pooling to a fixed output size (PyTorch's `adaptive_avg_pool2d`): output cell (i, j)
 * averages rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1 and the same for columns. Bins may differ in size,
 * so instead of unfold it is two matmuls with constant averaging matrices: `A_h · x · A_wᵀ`
 * (a rectangle's mean is the row-bin mean of the column-bin means).
 *
 * @example
 * ```ts
 * adaptiveAvgPool2d(zeros([2, 16, 5, 5]), 1).shape; // [2, 16, 1, 1] — global average pooling
 * ```
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  asTensor("adaptiveAvgPool2d", x);
  const shapes = `input ${fmtShape(x.shape)}`;
  checkNCHW("adaptiveAvgPool2d", x, shapes);
  const [oh, ow] = params("adaptiveAvgPool2d", { kernel: outputSize }, shapes).kernel;
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  if (h < 1 || w < 1) throw new DeltagradError(`adaptiveAvgPool2d: input must have a non-empty spatial size, got ${shapes}`);
  if (oh * h > 2 ** 31 - 1 || ow * w > 2 ** 31 - 1) throw new DeltagradError(`adaptiveAvgPool2d: output size ${oh}×${ow} is too large (${shapes})`);
  const xf = isFloat(x.dtype) ? x : cast(x, "float32");
  const ah = reshape(tensor(binMatrix(h, oh), { dtype: xf.dtype }), [oh, h]);
  const awT = reshape(tensor(binMatrix(w, ow), { dtype: xf.dtype }), [ow, w]).transpose();
  return matmul(matmul(ah, xf), awT);
}
