/**
 * The wasm backend's kernels, written with the emitter in emit.ts and compiled once, on first
 * use. All pointers and strides are byte offsets into the one imported memory; sizes are i32
 * element counts. Every elementwise kernel takes a row count and per-operand row strides, so one
 * call covers a contiguous run, a broadcast row (stride 0) and the bias-add pattern alike; the
 * driver in dispatch/ collapses any broadcast into at most two such levels plus a JS loop.
 *
 * Lanes. Elementwise kernels process four elements per f32x4 step and finish a row with the same
 * vector code on single lanes (`v128.load32_zero` … `v128.store32_lane`), so every element goes
 * through identical instructions wherever it sits; results never depend on alignment, row length
 * or how rows are split among threads.
 *
 * sgemm follows the GotoBLAS/BLIS structure: B is packed into NR-column strips (`Bp[strip][p][j]`),
 * A into MR-row strips (`Ap[strip][p][i]`), and a register-tiled micro-kernel keeps an MR×NR tile
 * of C in MR·NR/4 f32x4 accumulators: per step p it loads NR/4 vectors of B, splats MR scalars of
 * A and does MR·NR/4 vector multiply-adds. Packing clamps out-of-range rows/columns to the last
 * valid one; edge tiles are stored masked (a last row strip of fewer than MR rows runs a shorter
 * micro-kernel, a tile narrower than NR is stored element by element), so C is written in place
 * whatever m and n. Either operand may be given transposed in memory (packAT/packBT read it that
 * way), so the matmul VJPs' Ḡ·Bᵀ and Aᵀ·Ḡ never materialize a transpose. With few rows (m ≤
 * SMALL_M) B is read in place instead of packed. The skinny long-k product A·Bᵀ with both operands
 * k-contiguous (convolution weight gradients) has its own kernel, kernels/gemm-dot.ts.
 *
 * The kernels live in kernels/ by family (gemm, movement, elementwise, reduce, window); this file
 * assembles them into the one module and re-exports what the backend and compile/ use.
 */
import { ModuleBuilder, i32, i32Params as I } from "./emit.js";
import { GEMM_SCRATCH, KC, MC, MR, NC, NR, gemmPanel, macro, packBCols, packCols, packRows } from "./kernels/gemm.js";
import { GEMM_PANEL, GEMM_DOT, GEMM_DOT_COLS, FOLD_PARAMS, gemmDot, gemmDotCols, gemmBlock, gemmFold } from "./kernels/gemm-dot.js";
import { copyRows, fill32, fill8, gatherIdx, indexCheck, scatterAddIdx, strided2d, transpose } from "./kernels/movement.js";
import { BINARY_OPS, COMPARE_OPS, MODES, UNARY_OPS, binaryKernel, castKernel, unaryKernel, whereKernel, type Mode } from "./kernels/elementwise.js";
import { argOuter, maxOuter, rowsKernel, sumOuter } from "./kernels/reduce.js";
import { maxUnpool2, windowArgmax, windowImage, windowKernel } from "./kernels/window.js";

export { GEMM_SCRATCH, GEMM_PANEL, GEMM_DOT, GEMM_DOT_COLS, FOLD_PARAMS, KC, MC, MR, NC, NR };
export { BINARY_OPS, COMPARE_OPS, UNARY_OPS, binaryOp, compareOp, unaryOp, type BinaryOp, type CompareOp, type UnaryOp } from "./kernels/elementwise.js";

// ---------------------------------------------------------------- the module

/** The kernel module's exports, typed. */
export interface KernelExports {
  packA(src: number, lda: number, kc: number, mrows: number, dst: number): void;
  packAT(src: number, ld: number, kc: number, mrows: number, dst: number): void;
  packB(src: number, ldb: number, kc: number, ncols: number, dst: number): void;
  packBT(src: number, ld: number, kc: number, ncols: number, dst: number): void;
  packBCols(desc: number, p0: number, kc: number, q0: number, count: number, dst: number): void;
  macro(Ap: number, Bp: number, bStep: number, bStrip: number, C: number, mc: number, nc: number, kc: number, ldc: number, first: number, tile: number): void;
  gemmPanel(A: number, aT: number, aRows: number, B: number, bT: number, k: number, m: number, n: number, C: number, ldc: number, jc: number, nc: number, scratch: number): void;
  gemmDot(A: number, B: number, k: number, m: number, n: number, C: number, p0: number, p1: number): void;
  gemmDotCols(A: number, X: number, k: number, m: number, n: number, C: number, p0: number, p1: number, rowTab: number, groupTab: number, laneTab: number, scratch: number): void;
  gemmBlock(kind: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number, a9: number, a10: number, a11: number, scratch: number): void;
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, rowBytes: number): void;
  gather4(src: number, dst: number, rows: number, cols: number, srcRowStride: number, srcColStride: number): void;
  gather1(src: number, dst: number, rows: number, cols: number, srcRowStride: number, srcColStride: number): void;
  scatter4(src: number, dst: number, rows: number, cols: number, dstRowStride: number, dstColStride: number): void;
  scatter1(src: number, dst: number, rows: number, cols: number, dstRowStride: number, dstColStride: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  indexCheck(idx: number, k: number, n: number): number;
  gatherIdx(src: number, idx: number, dst: number, outer: number, k: number, n: number, innerBytes: number): void;
  scatterAddIdx(g: number, idx: number, dst: number, outer: number, k: number, n: number, inner: number): void;
  fill8(dst: number, bytes: number, value: number): void;
  fill32(dst: number, n: number, bits: number): void;
  sumOuter(x: number, out: number, outer: number, n: number, inner: number, acc: number): void;
  maxOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  sumRows(x: number, out: number, rows: number, n: number): void;
  maxRows(x: number, out: number, rows: number, n: number): void;
  argmaxOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  argminOuter(x: number, out: number, outer: number, n: number, inner: number): void;
  window(img: number, cols: number, oh: number, ow: number, h: number, w: number, sh: number, sw: number, yOff: number, dx: number, ox0: number, ox1: number, toCols: number): void;
  windowImage(img: number, cols: number, P: number, IPS: number, CPS: number, TS: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, toCols: number, scratch: number): void;
  gemmFold(params: number, b0: number, b1: number, scratch: number): void;
  windowArgmax(img: number, out: number, P: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, base: number, vals: number): void;
  windowArgmax2(img: number, out: number, P: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, base: number, vals: number): void;
  maxUnpool2(g: number, idx: number, dst: number, P: number, OH: number, OW: number, base: number): void;
  castF32ToBool(x: number, out: number, rows: number, n: number, xs: number): void;
  castBoolToF32(x: number, out: number, rows: number, n: number, xs: number): void;
  [elementwise: string]: (...args: number[]) => void;
}

/**
 * The kernel module's binary; `sharedMaxPages` makes it import a shared memory (worker threads),
 * `fma` makes the sgemm micro-kernels accumulate with relaxed SIMD's multiply-add (only for an
 * engine that validates it).
 */
export function kernelModule(sharedMaxPages?: number, fma = false): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder(sharedMaxPages === undefined ? {} : { sharedMaxPages });
  m.func("packA", I(5), [], packRows(MR))
    .func("packAT", I(5), [], packCols(MR))
    .func("packB", I(5), [], packCols(NR))
    .func("packBT", I(5), [], packRows(NR))
    .func("packBCols", I(6), [], packBCols)
    .func("macro", I(11), [], macro(fma))
    .func("gemmPanel", I(13), [], gemmPanel(m))
    .func("gemmDot", I(8), [], gemmDot(fma))
    .func("gemmDotCols", I(12), [], gemmDotCols(fma))
    .func("gemmBlock", I(14), [], gemmBlock(m))
    .func("copyRows", I(6), [], copyRows)
    .func("gather4", I(6), [], strided2d(4, true))
    .func("gather1", I(6), [], strided2d(1, true))
    .func("scatter4", I(6), [], strided2d(4, false))
    .func("scatter1", I(6), [], strided2d(1, false))
    .func("transpose", I(4), [], transpose)
    .func("indexCheck", I(3), [i32], indexCheck)
    .func("gatherIdx", I(7), [], gatherIdx)
    .func("scatterAddIdx", I(7), [], scatterAddIdx)
    .func("fill8", I(3), [], fill8)
    .func("fill32", I(3), [], fill32)
    .func("sumOuter", I(6), [], sumOuter)
    .func("maxOuter", I(5), [], maxOuter)
    .func("sumRows", I(4), [], rowsKernel("sum"))
    .func("maxRows", I(4), [], rowsKernel("max"))
    .func("argmaxOuter", I(5), [], argOuter(">"))
    .func("argminOuter", I(5), [], argOuter("<"))
    .func("window", I(13), [], windowKernel)
    .func("windowImage", I(20), [], windowImage(m))
    .func("gemmFold", I(4), [], gemmFold(m))
    .func("windowArgmax", I(17), [], windowArgmax(false))
    .func("windowArgmax2", I(17), [], windowArgmax(true))
    .func("maxUnpool2", I(7), [], maxUnpool2)
    .func("castF32ToBool", I(5), [], castKernel("bool"))
    .func("castBoolToF32", I(5), [], castKernel("float32"));
  for (const op of UNARY_OPS) m.func(`un_${op}`, I(5), [], unaryKernel(op));
  for (const [xm, ym] of MODES) {
    for (const op of BINARY_OPS) m.func(`bin_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, false));
    for (const op of COMPARE_OPS) m.func(`cmp_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, true));
    for (const op of COMPARE_OPS) m.func(`cmpi_${op}_${xm}${ym}`, I(7), [], binaryKernel(op, xm, ym, true, true));
  }
  for (const cm of ["v", "s"] as Mode[]) {
    for (const [xm, ym] of [...MODES, ["s", "s"]] as [Mode, Mode][]) {
      if (cm === "s" && xm === "s" && ym === "s") continue;
      m.func(`where_${cm}${xm}${ym}`, I(9), [], whereKernel(cm, xm, ym));
    }
  }
  return m.encode();
}
