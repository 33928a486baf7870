/**
 * The skinny long-k product C = A·Bᵀ with both operands k-contiguous (A as [m, k], B as [n, k]):
 * convolution weight gradients, dY·colsᵀ with m·n small and k = N·L large. No packing: a DM×DN
 * tile of dot products keeps DM·DN f32x4 accumulators over 4 k-steps per vector, then each is
 * summed across its lanes as (l0 + l1) + (l2 + l3), and the k % 4 tail is added one product at a
 * time. One call covers k-steps [p0, p1) of every (i, j); the caller splits k into chunks fixed
 * by the shape and sums the chunks' partial C in chunk order, so the bits never depend on threads.
 */
import { Code, ModuleBuilder, f32, i32, v128 } from "../emit.js";

/** Dot-product tile: DM rows of A × DN rows of B. */
export const DM = 2;
export const DN = 4;

/**
 * gemmDot(A, B, k, m, n, C, p0, p1): C[i][j] = Σ_{p ∈ [p0, p1)} A[i][p]·B[j][p] for every i < m,
 * j < n (row stride n). p0 is a multiple of 4. Tiles clamp rows to the last one and store only
 * valid (i, j). Column groups outside, so a DN-row slice of B stays in L1 while A's rows stream.
 * With `fma` the vector steps are relaxed SIMD multiply-adds (the k % 4 tail stays scalar).
 */
export function gemmDot(fma: boolean) {
  return (c: Code): void => gemmDotBody(c, fma, false);
}

/**
 * gemmDotCols(A, X, k, m, n, C, p0, p1, rowTab, groupTab, laneTab, scratch): {@link gemmDot} with
 * B the columns of a convolution over image X, never written out (placement.ts's ColumnsView):
 * B[j][p] is the f32 at X + rowTab[j] + groupTab[p >> 2] + (p & 3)·4 (byte offsets) where the
 * group of four columns lies in one output row, else at X + rowTab[j] + laneTab[4s + (p & 3)]
 * (groupTab[p >> 2] = −1 − s: a group across the end of a row, as LeNet's conv2 with its 10-wide
 * rows has). Each DN-row slice of B's chunk is gathered once into `scratch` (DN·(p1 − p0)
 * floats, split groups lane by lane), then every A tile runs gemmDot's contiguous loop over it,
 * where the lookups used to be repeated for every A tile. The same products in the same order as
 * gemmDot over the written columns, so the same bits.
 */
export function gemmDotCols(fma: boolean) {
  return (c: Code): void => gemmDotBody(c, fma, true);
}

function gemmDotBody(c: Code, fma: boolean, cols: boolean): void {
  const [A, B, k, m, n, C, p0, p1, rowTab, groupTab, laneTab, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const i0 = c.local(i32);
  const j0 = c.local(i32);
  const o = c.local(i32);
  const oEnd = c.local(i32);
  const oTail = c.local(i32);
  const ld = c.local(i32);
  const ar = Array.from({ length: DM }, () => c.local(i32));
  const br = Array.from({ length: DN }, () => c.local(i32));
  const acc = Array.from({ length: DM * DN }, () => c.local(v128));
  const av = Array.from({ length: DM }, () => c.local(v128));
  const bv = c.local(v128);
  const h = c.local(f32);
  const q = c.local(i32);
  const xo = c.local(i32);
  const rowBytes = c.local(i32);
  c.get(k).i32Const(2).i32Shl().set(ld);
  // Byte offsets of the chunk within a row: [p0·4, p1·4), vector part up to oTail.
  c.get(p1).get(p0).i32Sub().i32Const(-4).i32And().get(p0).i32Add().i32Const(2).i32Shl().set(oTail);
  c.get(p1).i32Const(2).i32Shl().set(oEnd);
  // A gathered row's length in bytes, a multiple of 16 (rows stay aligned in scratch).
  c.get(p1).get(p0).i32Sub().i32Const(3).i32Add().i32Const(-4).i32And().i32Const(2).i32Shl().set(rowBytes);
  // Leaves min(idx, count − 1) on the stack (a tile's rows past the last one clamp to it); dst is scratch.
  const clamped = (idx: () => void, count: number, dst: number) => {
    idx();
    c.tee(dst).get(count).i32Const(1).i32Sub().tee(q).get(dst).get(q).i32LtS().select();
  };
  // dst = base + min(idx, count − 1)·ld
  const rowPtr = (base: number, idx: () => void, count: number, dst: number) => {
    clamped(idx, count, dst);
    c.get(ld).i32Mul().get(base).i32Add().set(dst);
  };
  // B's row j: its own row of B, or (cols) X + rowTab[j], j clamped to n − 1.
  const bRow = (jj: number) => {
    const j = () => c.get(j0).i32Const(jj).i32Add();
    if (!cols) return rowPtr(B, j, n, br[jj]!);
    clamped(j, n, br[jj]!);
    c.i32Const(2).i32Shl().get(rowTab).i32Add().i32Load().get(B).i32Add().set(br[jj]!);
  };
  // (cols) xo = the byte offset, within a row of B, of column element p = o/4: in a group lying in
  // one output row, groupTab[p >> 2] + (p & 3)·4; in a split group (groupTab = −1 − s), its lane's
  // own offset laneTab[4s + (p & 3)].
  const elemOffset = () => {
    c.get(o).i32Const(4).i32ShrU().i32Const(2).i32Shl().get(groupTab).i32Add().i32Load().tee(xo);
    c.i32Const(0).i32GeS().if();
    c.get(xo).get(o).i32Const(12).i32And().i32Add().set(xo);
    c.else();
    c.i32Const(-1).get(xo).i32Sub().i32Const(4).i32Shl().get(laneTab).i32Add().get(o).i32Const(12).i32And().i32Add().i32Load().set(xo);
    c.end();
  };
  // Where element o of gathered row jj goes in scratch.
  const dst = (jj: number) => c.get(scratch).get(rowBytes).i32Const(jj).i32Mul().i32Add().get(o).i32Add().get(p0).i32Const(2).i32Shl().i32Sub();
  // (cols) The DN rows of B's chunk gathered into scratch; br[jj] then addresses row jj there as
  // a row of B (br[jj] + o is scratch + jj·rowBytes + o − p0·4). One table lookup per group of
  // four: a vector load where the group lies in one output row, four lanes where it is split.
  const gather = () => {
    c.for(o, () => c.get(p0).i32Const(2).i32Shl(), () => c.get(oTail), 16, () => {
      c.get(o).i32Const(4).i32ShrU().i32Const(2).i32Shl().get(groupTab).i32Add().i32Load().tee(xo);
      c.i32Const(0).i32GeS().if();
      for (let jj = 0; jj < DN; jj++) (dst(jj), c.get(br[jj]!).get(xo).i32Add().v128Load().v128Store());
      c.else();
      c.i32Const(-1).get(xo).i32Sub().i32Const(4).i32Shl().get(laneTab).i32Add().set(xo);
      for (let jj = 0; jj < DN; jj++) {
        for (let l = 0; l < 4; l++) (dst(jj), c.get(xo).i32Load(4 * l).get(br[jj]!).i32Add().f32Load().f32Store(4 * l));
      }
      c.end();
    });
    c.for(o, () => c.get(oTail), () => c.get(oEnd), 4, () => {
      elemOffset();
      for (let jj = 0; jj < DN; jj++) (dst(jj), c.get(br[jj]!).get(xo).i32Add().f32Load().f32Store());
    });
    for (let jj = 0; jj < DN; jj++) c.get(scratch).get(rowBytes).i32Const(jj).i32Mul().i32Add().get(p0).i32Const(2).i32Shl().i32Sub().set(br[jj]!);
  };
  c.for(j0, () => c.i32Const(0), () => c.get(n), DN, () => {
    for (let jj = 0; jj < DN; jj++) bRow(jj);
    if (cols) gather();
    c.for(i0, () => c.i32Const(0), () => c.get(m), DM, () => {
      for (let ii = 0; ii < DM; ii++) rowPtr(A, () => c.get(i0).i32Const(ii).i32Add(), m, ar[ii]!);
      for (const a of acc) c.v128Zero().set(a);
      c.for(o, () => c.get(p0).i32Const(2).i32Shl(), () => c.get(oTail), 16, () => {
        for (let ii = 0; ii < DM; ii++) c.get(ar[ii]!).get(o).i32Add().v128Load().set(av[ii]!);
        for (let jj = 0; jj < DN; jj++) {
          c.get(br[jj]!).get(o).i32Add().v128Load().set(bv);
          for (let ii = 0; ii < DM; ii++) {
            const a = acc[ii * DN + jj]!;
            if (fma) c.get(av[ii]!).get(bv).get(a).f32x4RelaxedMadd().set(a);
            else c.get(a).get(av[ii]!).get(bv).f32x4Mul().f32x4Add().set(a);
          }
        }
      });
      for (let ii = 0; ii < DM; ii++) {
        for (let jj = 0; jj < DN; jj++) {
          const a = acc[ii * DN + jj]!;
          c.get(a).f32x4ExtractLane(0).get(a).f32x4ExtractLane(1).f32Add();
          c.get(a).f32x4ExtractLane(2).get(a).f32x4ExtractLane(3).f32Add().f32Add().set(h);
          c.for(o, () => c.get(oTail), () => c.get(oEnd), 4, () => {
            c.get(h).get(ar[ii]!).get(o).i32Add().f32Load();
            c.get(br[jj]!).get(o).i32Add().f32Load().f32Mul().f32Add().set(h);
          });
          // Store if i0 + ii < m and j0 + jj < n.
          c.get(i0).i32Const(ii).i32Add().get(m).i32LtS().get(j0).i32Const(jj).i32Add().get(n).i32LtS().i32And().if();
          c.get(C).get(i0).i32Const(ii).i32Add().get(n).i32Mul().get(j0).i32Add().i32Const(jj).i32Add().i32Const(2).i32Shl().i32Add();
          c.get(h).f32Store();
          c.end();
        }
      }
    });
  });
}

/** Task kinds of {@link gemmBlock}. */
export const GEMM_PANEL = 0;
export const GEMM_DOT = 1;
export const GEMM_DOT_COLS = 2;

/**
 * gemmBlock(kind, a0 … a11, scratch): one matmul thread task (threads.ts's TASK_FUNCTIONS) —
 * kind GEMM_PANEL runs gemmPanel(a0 … a11, scratch), GEMM_DOT runs gemmDot(a0 … a7),
 * GEMM_DOT_COLS gemmDotCols(a0 … a10, scratch) — so one job (threads.ts runs one function per job) can hold
 * every kind of product.
 */
export function gemmBlock(m0: ModuleBuilder) {
  return (c: Code) => {
    c.get(0).i32Eqz().if();
    for (let a = 1; a <= 13; a++) c.get(a);
    c.call(m0.indexOf("gemmPanel"));
    c.else();
    c.get(0).i32Const(GEMM_DOT).i32Eq().if();
    for (let a = 1; a <= 8; a++) c.get(a);
    c.call(m0.indexOf("gemmDot"));
    c.else();
    for (let a = 1; a <= 11; a++) c.get(a);
    c.get(13);
    c.call(m0.indexOf("gemmDotCols"));
    c.end();
    c.end();
  };
}

/** Int32 slots of {@link gemmFold}'s parameter block, in order. */
export const FOLD_PARAMS = ["A", "aT", "aRows", "B", "bT", "k", "m", "n", "image", "channels", "plane", "L", "taps", "H", "W", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "OH", "OW", "cAt"] as const;

/**
 * gemmFold(P, b0, b1, scratch): images [b0, b1) of fold(A·B) — a convolution's input gradient
 * col2im(Wᵀ·Ḡ), columns `[C·KH·KW, N·L]` with the batch in the columns — as one thread task:
 * gemmPanel writes the images' columns [b0·L, b1·L) of A·B into `scratch + cAt` (row stride
 * (b1 − b0)·L, so the block stays in this core's cache), then windowImage adds them into the
 * images, zeroed first, one channel at a time. P holds {@link FOLD_PARAMS} (bytes for `image`,
 * `plane`, `cAt`). Each column is gemmPanel's and each image's taps are summed in windowImage's
 * order, so the bits are fold's of the written-out product, whatever the tasks.
 */
export function gemmFold(m0: ModuleBuilder) {
  return (c: Code): void => {
    const [P, b0, b1, scratch] = [0, 1, 2, 3];
    const at = (name: (typeof FOLD_PARAMS)[number]) => c.get(P).i32Load(4 * FOLD_PARAMS.indexOf(name));
    const nb = c.local(i32);
    const width = c.local(i32);
    const cs = c.local(i32);
    const ch = c.local(i32);
    c.get(b1).get(b0).i32Sub().set(nb);
    at("L");
    c.get(nb).i32Mul().set(width);
    c.get(scratch);
    at("cAt");
    c.i32Add().set(cs);
    // The images' planes, contiguous: image + b0·C·plane, (b1 − b0)·C·plane bytes.
    at("image");
    c.get(b0);
    at("channels");
    c.i32Mul();
    at("plane");
    c.i32Mul().i32Add();
    c.get(nb);
    at("channels");
    c.i32Mul();
    at("plane");
    c.i32Mul().i32Const(0).call(m0.indexOf("fill8"));
    // gemmPanel(A, aT, aRows, B, bT, k, m, n, C = cs − jc·4, ldc = width, jc = b0·L, nc = width, scratch)
    for (const name of ["A", "aT", "aRows", "B", "bT", "k", "m", "n"] as const) at(name);
    c.get(cs).get(b0);
    at("L");
    c.i32Mul().i32Const(2).i32Shl().i32Sub();
    c.get(width).get(b0);
    at("L");
    c.i32Mul().get(width).get(scratch).call(m0.indexOf("gemmPanel"));
    // windowImage per channel: planes image + (b0·C + ch)·plane (stride C·plane), tap rows of the block.
    c.for(ch, () => c.i32Const(0), () => at("channels"), 1, () => {
      at("image");
      c.get(b0);
      at("channels");
      c.i32Mul().get(ch).i32Add();
      at("plane");
      c.i32Mul().i32Add();
      c.get(cs).get(ch);
      at("taps");
      c.i32Mul().get(width).i32Mul().i32Const(2).i32Shl().i32Add();
      c.get(nb);
      at("channels");
      at("plane");
      c.i32Mul();
      at("L");
      c.i32Const(2).i32Shl();
      c.get(width).i32Const(2).i32Shl();
      for (const name of ["H", "W", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "OH", "OW"] as const) at(name);
      c.i32Const(0).get(scratch).call(m0.indexOf("windowImage"));
    });
  };
}
