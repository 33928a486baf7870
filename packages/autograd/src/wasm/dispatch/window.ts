/**
 * im2col / col2im drivers (unfold, fold) over the window kernels.
 */
import type { BackendData, WindowParams } from "../../backend.js";
import { cpuBackend } from "../../cpu/index.js";
import { type DType } from "../../dtype.js";
import { sizeOf, windowOutSize, type Shape } from "../../shape.js";
import { evenRuns, getNumThreads, runPlainTasks, runTasks } from "../threads.js";
import { Call, ColumnsView, isHost, large, viaCpu, view, type Data } from "../placement.js";
import { WasmBuffer } from "../memory.js";

/**
 * Runs im2col (toCols) or col2im over NCHW `shape`, split across threads. Columns
 * `[N, C·kk, L]`: a task is a run of the batch's N·C image planes, whose columns follow each
 * other (one task per image cost more in JS than in wasm for maxPool2d's 1024 single-channel
 * 10×10 planes). Columns `[C·kk, N, L]` (`p.batchInColumns`): a task is a run of one channel's
 * images, whose rows for each tap are adjacent; the kernel then loops over taps outside.
 */
function windowWalk(c: Call, shape: Shape, p: WindowParams, img: number, cols: number, toCols: boolean): void {
  const [n, ch, h, w] = shape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  const kk = p.kernel[0] * p.kernel[1];
  const [plane, L4] = [h * w * 4, oh * ow * 4];
  const work = n * ch * kk * L4;
  // A few tasks per thread so the threads stay busy when planes differ in cost (borders).
  const want = work < 2e6 ? 1 : 4 * Math.max(1, getNumThreads());
  const geometry = [h, w, ...p.kernel, ...p.stride, ...p.padding, ...p.dilation, oh, ow, toCols ? 1 : 0];
  const tasks: number[][] = [];
  if (!p.batchInColumns || n === 1) { // one image: both layouts are the same
    for (const [p0, p1] of evenRuns(n * ch, Math.min(n * ch, want))) tasks.push([img + p0 * plane, cols + p0 * kk * L4, p1 - p0, plane, kk * L4, L4, ...geometry]);
  } else {
    for (let c0 = 0; c0 < ch; c0++) {
      for (const [b0, b1] of evenRuns(n, Math.min(n, Math.ceil(want / ch)))) {
        tasks.push([img + (b0 * ch + c0) * plane, cols + (c0 * kk * n + b0) * L4, b1 - b0, ch * plane, L4, n * L4, ...geometry]);
      }
    }
  }
  runTasks(c.rt.k, "windowImage", tasks, 0, (b) => c.temp(b), (b) => c.temp(b), work);
}

/**
 * Whether the window is the whole unpadded image: then im2col's columns are the image itself
 * (not with the batch in the columns, where they are its transpose `[C·H·W, N]`).
 */
const wholeImage = (shape: Shape, p: WindowParams) =>
  p.kernel[0] === shape[2] && p.kernel[1] === shape[3] && p.padding[0] === 0 && p.padding[1] === 0 && (!p.batchInColumns || shape[0] === 1);

export function unfold(x: BackendData, shape: Shape, p: WindowParams, dtype: DType): Data {
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  const n = shape[0]! * shape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
  if (dtype !== "float32" || !(large(dtype, n) || !isHost(x))) return viaCpu(dtype, cpuBackend.unfold, view(x, dtype, sizeOf(shape)), shape, p, dtype);
  if (columnViews && x instanceof WasmBuffer && readInPlace(shape, p, oh, ow) && large(dtype, n)) {
    const t = columnTables(shape, p, oh, ow);
    return new ColumnsView(x, t.rows, t.groups, t.lanes, (img, out) => {
      const c = new Call();
      windowWalk(c, shape, p, img, out, true);
      c.done();
    });
  }
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape));
  const o = c.out(dtype, n);
  // Every column element is written, the padding taps as +0 (no zero fill first).
  if (n > 0 && wholeImage(shape, p)) c.rt.k.copyRows(px, n * 4, o.ptr, n * 4, 1, n * 4);
  else if (n > 0) windowWalk(c, shape, p, px, o.ptr, true);
  return c.finish(o, dtype, n);
}

let columnViews = true;

/**
 * @internal Whether a convolution's unfold returns its columns as a {@link ColumnsView} (read in
 * place by matmul) rather than writing them out; returns the previous setting. For tests, which
 * compare both ways bit for bit.
 */
export function setColumnViews(on: boolean): boolean {
  const prev = columnViews;
  columnViews = on;
  return prev;
}

/**
 * Columns matmul can read in place (ColumnsView): a convolution's layout (the batch in the
 * columns), stride 1 and no padding — each column's taps are then its output position's offset
 * plus the tap's, with no bounds to check — and a multiple of 4 columns (whole SIMD groups).
 */
const readInPlace = (shape: Shape, p: WindowParams, oh: number, ow: number) =>
  p.batchInColumns === true && p.stride[0] === 1 && p.stride[1] === 1 && p.padding[0] === 0 && p.padding[1] === 0 && (shape[0]! * oh * ow) % 4 === 0 && sizeOf(shape) > 0;

type ColumnTables = { rows: Int32Array; groups: Int32Array; lanes: Int32Array };

/** Offset tables of a ColumnsView, by geometry (a training loop unfolds the same shapes every step). */
const tables = new Map<string, ColumnTables>();

function columnTables(shape: Shape, p: WindowParams, oh: number, ow: number): ColumnTables {
  const [n, ch, h, w] = shape as [number, number, number, number];
  const [kh, kw] = p.kernel;
  const [dh, dw] = p.dilation;
  const key = `${shape.join(",")}/${kh},${kw}/${dh},${dw}`;
  let t = tables.get(key);
  if (t !== undefined) return t;
  const rows = new Int32Array(ch * kh * kw);
  for (let c = 0, r = 0; c < ch; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) rows[r++] = ((c * h + i * dh) * w + j * dw) * 4;
  // Column q = (b, oy, ox) at ((b·C·H + oy)·W + ox)·4.
  const L = oh * ow;
  const column = (q: number) => {
    const b = Math.floor(q / L);
    const oy = Math.floor((q - b * L) / ow);
    return ((b * ch * h + oy) * w + (q - b * L - oy * ow)) * 4;
  };
  const groups = new Int32Array((n * L) / 4);
  const lanes: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    const first = column(4 * g);
    if (column(4 * g + 3) === first + 12) groups[g] = first; // one output row: adjacent in the image
    else {
      groups[g] = -1 - lanes.length / 4;
      for (let l = 0; l < 4; l++) lanes.push(column(4 * g + l));
    }
  }
  if (tables.size >= 32) tables.clear();
  t = { rows, groups, lanes: Int32Array.from(lanes) };
  tables.set(key, t);
  return t;
}

export function fold(cols: BackendData, outShape: Shape, p: WindowParams, dtype: DType): Data {
  const [oh, ow] = windowOutSize(outShape[2]!, outShape[3]!, p);
  const nCols = outShape[0]! * outShape[1]! * p.kernel[0] * p.kernel[1] * oh * ow;
  const n = sizeOf(outShape);
  if (dtype !== "float32" || !(large(dtype, n) || !isHost(cols))) return viaCpu(dtype, cpuBackend.fold, view(cols, dtype, nCols), outShape, p, dtype);
  const c = new Call();
  const pc = c.in(cols, dtype, nCols);
  const o = c.out(dtype, n);
  c.rt.k.fill8(o.ptr, n * 4, 0);
  // A whole-image window: image = 0 + columns (the add, not a copy, turns −0 into +0 as col2im does).
  if (nCols > 0 && wholeImage(outShape, p)) c.rt.k.bin_add_vv!(pc, o.ptr, o.ptr, 1, n, 0, 0);
  else if (nCols > 0) windowWalk(c, outShape, p, o.ptr, pc, false);
  return c.finish(o, dtype, n);
}

/** Max pooling's choice (Backend.windowArgmax): one kernel call over every plane; float64 on cpu. */
export function windowArgmax(x: BackendData, shape: Shape, p: WindowParams, dtype: DType): Data {
  if (dtype !== "float32" || !(large(dtype, sizeOf(shape)) || !isHost(x))) return viaCpu("int32", cpuBackend.windowArgmax, view(x, dtype, sizeOf(shape)), shape, p, dtype);
  const c = new Call();
  const px = c.in(x, dtype, sizeOf(shape)); // pinned before the output is made
  const nOut = outputs(shape, p);
  const o = c.out("int32", nOut);
  argmaxKernel(c, px, shape, p, o.ptr, 0);
  return c.finish(o, "int32", nOut);
}

/**
 * Max pooling in one pass: the window choice (as {@link windowArgmax}) and the pooled values,
 * the same bits as gathering `x` at the choice (compile's plan runs a maxPool2d's windowArgmax
 * and gather this way). `[indices, values]`, or null for float32 `x` not in wasm memory (the
 * caller then runs the two ops).
 */
export function windowMax(x: BackendData, shape: Shape, p: WindowParams): [Data, Data] | null {
  if (isHost(x)) return null;
  const c = new Call();
  const px = c.in(x, "float32", sizeOf(shape));
  const nOut = outputs(shape, p);
  const o = c.out("int32", nOut);
  const v = c.out("float32", nOut);
  argmaxKernel(c, px, shape, p, o.ptr, v.ptr);
  const idx = c.result(o, "int32", nOut);
  return [idx, c.finish(v, "float32", nOut)];
}

/**
 * The gradient of a 2×2 stride-2 max pooling that tiles NCHW `shape` exactly (even H and W, no
 * padding): `g` scattered to the elements `idx` chose (windowArgmax's), zeros elsewhere, in one
 * pass (kernels/window.ts's maxUnpool2) — scatterAdd's bits. Null where it does not apply (other
 * windows, or `g`/`idx` not in wasm memory): the caller runs scatterAdd.
 */
export function maxUnpool2(g: BackendData, idx: BackendData, shape: Shape, p: WindowParams): Data | null {
  const [n, ch, h, w] = shape as [number, number, number, number];
  if (!tilesPool2(shape, p) || isHost(g) || isHost(idx)) return null;
  const c = new Call();
  const nIn = (h >> 1) * (w >> 1) * n * ch;
  const pg = c.in(g, "float32", nIn);
  const pi = c.in(idx, "int32", nIn);
  const o = c.out("float32", n * ch * h * w);
  if (nIn > 0) {
    const [oh, ow] = [h >> 1, w >> 1];
    const tasks = planeRuns(n * ch, n * ch * h * w).map(([p0, p1]) => [pg + p0 * oh * ow * 4, pi + p0 * oh * ow * 4, o.ptr + p0 * h * w * 4, p1 - p0, oh, ow, p0 * h * w]);
    runPlainTasks("maxUnpool2", c.rt.k.maxUnpool2, tasks);
  }
  return c.finish(o, "float32", n * ch * h * w);
}

/** 2×2 windows at stride 2 without dilation: they have their own argmax kernel (taps unrolled). */
const pool2 = (p: WindowParams) => [...p.kernel, ...p.stride].every((v) => v === 2) && p.dilation[0] === 1 && p.dilation[1] === 1;

/** 2×2 windows at stride 2, no padding or dilation, over an even H and W: every element in exactly one window. */
export const tilesPool2 = (shape: Shape, p: WindowParams) =>
  pool2(p) && p.padding[0] === 0 && p.padding[1] === 0 && shape[2]! % 2 === 0 && shape[3]! % 2 === 0;

const outputs = (shape: Shape, p: WindowParams) => {
  const [oh, ow] = windowOutSize(shape[2]!, shape[3]!, p);
  return shape[0]! * shape[1]! * oh * ow;
};

/**
 * Input elements from which max pooling's kernels (its choice, and maxUnpool2) split their planes
 * across the threads. Handing out a job costs ~50 µs on a 2-core VM; the 2×2 choice over LeNet's
 * first pooling (301 k elements) took 0.38 ms alone.
 */
const POOL_WORK = 1 << 17;

/** Plane runs [p0, p1) of `planes` for the threads: one run below POOL_WORK input elements, else a few per thread. */
function planeRuns(planes: number, work: number): [number, number][] {
  return evenRuns(planes, work < POOL_WORK ? 1 : Math.min(planes, 4 * getNumThreads()));
}

/** The argmax kernel over every plane of NCHW `shape` at `px`: indices to `out`, values to `vals` (0: none). */
function argmaxKernel(c: Call, px: number, shape: Shape, p: WindowParams, out: number, vals: number): void {
  const [n, ch, h, w] = shape as [number, number, number, number];
  const [oh, ow] = windowOutSize(h, w, p);
  if (n * ch * oh * ow === 0) return;
  const name = pool2(p) ? "windowArgmax2" : "windowArgmax";
  // A run of planes from p0: its indices start at element p0·H·W (the kernel's `base`).
  const tasks = planeRuns(n * ch, n * ch * h * w).map(([p0, p1]) => [
    px + p0 * h * w * 4, out + p0 * oh * ow * 4, p1 - p0, h, w, ...p.kernel, ...p.stride, ...p.padding, ...p.dilation, oh, ow, p0 * h * w, vals === 0 ? 0 : vals + p0 * oh * ow * 4,
  ]);
  runPlainTasks(name, c.rt.k[name], tasks);
}
