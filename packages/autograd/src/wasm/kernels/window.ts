/**
 * im2col / col2im: the window kernel for one kernel tap, and whole images at once.
 */
import { Code, ModuleBuilder, i32, i32Params as I } from "../emit.js";

/** Byte lanes of i8x16.shuffle for the given 32-bit lanes (0–3 the first operand, 4–7 the second). */
const lanes32 = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
const LANES = {
  even: lanes32(0, 2, 4, 6), // a0 a2 b0 b2
  c0c0c1c1: lanes32(0, 0, 1, 1),
  c2c2c3c3: lanes32(2, 2, 3, 3),
  evenFromA: lanes32(0, 5, 2, 7), // sum's even lanes, the original's odd ones
};

/**
 * window(img, cols, oh, ow, h, w, sh, sw, yOff, dx, ox0, ox1, toCols): one (image channel, kernel
 * tap) pair of im2col (toCols ≠ 0: cols row ← image) or col2im (image += cols row). For output
 * row oy the image row is y = oy·sh + yOff (skipped outside [0, h)); output columns [ox0, ox1)
 * read image column ox·sw + dx (the driver computes the valid interval once per tap).
 */
export function windowKernel(c: Code): void {
  const [img, cols, oh, ow, h, w, sh, sw, yOff, dx, ox0, ox1, toCols] = I(13).map((_, k) => k);
  const oy = c.local(i32);
  const ox = c.local(i32);
  const y = c.local(i32);
  const cp = c.local(i32);
  const ip = c.local(i32);
  const swb = c.local(i32);
  const t = c.local(i32);
  c.get(sw).i32Const(2).i32Shl().set(swb);
  c.for(oy, () => c.i32Const(0), () => c.get(oh), 1, () => {
    c.get(oy).get(sh).i32Mul().get(yOff).i32Add().set(y);
    c.get(y).i32Const(0).i32GeS().get(y).get(h).i32LtS().i32And().if();
    // cp = cols + (oy·ow + ox0)·4; ip = img + (y·w + dx + ox0·sw)·4
    c.get(cols).get(oy).get(ow).i32Mul().get(ox0).i32Add().i32Const(2).i32Shl().i32Add().set(cp);
    c.get(img).get(y).get(w).i32Mul().get(dx).i32Add().get(ox0).get(sw).i32Mul().i32Add().i32Const(2).i32Shl().i32Add().set(ip);
    // One row of one direction (im2col copies cols ← image; col2im adds image += cols), chosen
    // once per row rather than per element. Stride 1: the run is contiguous on both sides, four
    // floats a step (runs are short, 8–32 floats in LeNet, where a memory.copy call per run
    // costs more than the copy); then the rest (every column when the stride is not 1).
    const row = (add: boolean) => {
      c.get(ox0).set(ox);
      c.get(sw).i32Const(1).i32Eq().if();
      c.for(ox, () => c.get(ox0), () => c.get(ox1).i32Const(3).i32Sub(), 4, () => {
        if (add) c.get(ip).get(ip).v128Load().get(cp).v128Load().f32x4Add().v128Store();
        else c.get(cp).get(ip).v128Load().v128Store();
        c.get(cp).i32Const(16).i32Add().set(cp);
        c.get(ip).i32Const(16).i32Add().set(ip);
      });
      // The 0–3 columns left: two at once (64-bit lanes), then one (LeNet's 10-wide rows end in two).
      c.get(ox1).get(ox).i32Sub().i32Const(2).i32And().if();
      if (add) c.get(ip).get(ip).v128Load64Zero().get(cp).v128Load64Zero().f32x4Add().v128Store64Lane(0);
      else c.get(cp).get(ip).v128Load64Zero().v128Store64Lane(0);
      c.get(cp).i32Const(8).i32Add().set(cp);
      c.get(ip).i32Const(8).i32Add().set(ip);
      c.end();
      c.get(ox1).get(ox).i32Sub().i32Const(1).i32And().if();
      if (add) c.get(ip).get(ip).f32Load().get(cp).f32Load().f32Add().f32Store();
      else c.get(cp).get(ip).f32Load().f32Store();
      c.end();
      c.get(ox1).set(ox);
      c.else();
      // Stride 2 (2×2 pooling, strided convolutions): four columns are the even floats of eight
      // image floats, x = dx + 2·ox … dx + 2·ox + 7, and all eight must lie in this row (fold
      // stores the odd ones back; another task may own the next row's plane): the vector loop
      // runs while ox + 3 < ox1 and dx + 2·ox + 7 ≤ w − 1, i.e. ox < ⌊(w − 8 − dx)/2⌋ + 1.
      c.get(sw).i32Const(2).i32Eq().if();
      c.for(ox, () => c.get(ox0), () => {
        c.get(ox1).i32Const(3).i32Sub();
        c.get(w).i32Const(8).i32Sub().get(dx).i32Sub().i32Const(1).i32ShrS().i32Const(1).i32Add().tee(t);
        c.get(ox1).i32Const(3).i32Sub().get(t).i32LtS().select();
      }, 4, () => {
        if (add) {
          // image[2i] += cols[i]; the odd floats are stored back unchanged (same bits, same task).
          for (const half of [0, 1]) {
            c.get(ip).get(ip).v128Load(16 * half).get(cp).v128Load().get(cp).v128Load().i8x16Shuffle(LANES[half ? "c2c2c3c3" : "c0c0c1c1"]).f32x4Add();
            c.get(ip).v128Load(16 * half).i8x16Shuffle(LANES.evenFromA).v128Store(16 * half);
          }
        } else c.get(cp).get(ip).v128Load().get(ip).v128Load(16).i8x16Shuffle(LANES.even).v128Store();
        c.get(cp).i32Const(16).i32Add().set(cp);
        c.get(ip).i32Const(32).i32Add().set(ip);
      });
      c.end();
      c.end();
      c.block();
      c.get(ox).get(ox1).i32GeS().brIf(0);
      c.loop();
      if (add) c.get(ip).get(ip).f32Load().get(cp).f32Load().f32Add().f32Store();
      else c.get(cp).get(ip).f32Load().f32Store();
      c.get(cp).i32Const(4).i32Add().set(cp);
      c.get(ip).get(swb).i32Add().set(ip);
      c.get(ox).i32Const(1).i32Add().tee(ox).get(ox1).i32LtS().brIf(0);
      c.end();
      c.end();
    };
    c.get(toCols).if();
    row(false);
    c.else();
    row(true);
    c.end();
    c.end();
  });
}

/**
 * windowImage(img, cols, P, C, ch0, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols, NB,
 * scratch): im2col (or col2im) of a run of P consecutive image planes (planes of a batch are
 * consecutive, N·C of them; the first is channel ch0 of its image, whose columns start at
 * `cols`): every (plane, kernel tap) with its valid output-column interval [ox0, ox1) — x =
 * ox·SW + dx must lie in [0, W) — then {@link windowKernel} for the tap's row of L = OH·OW.
 * NB images share each column row: NB = 1 is `[N, C·KH·KW, L]` (rows L apart, images C·KH·KW·L
 * apart: a batch is one image of N·C channels), NB = N is `[C·KH·KW, N, L]` (rows N·L apart,
 * images L). Tasks take disjoint runs of planes, so they write disjoint outputs; `scratch` is
 * unused.
 */
export function windowImage(m0: ModuleBuilder) {
  return (c: Code) => {
    const [img, cols, P, C, ch0, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols, NB] = I(19).map((_, i) => i);
    const pl = c.local(i32);
    const ch = c.local(i32);
    const ki = c.local(i32);
    const kj = c.local(i32);
    const dx = c.local(i32);
    const ox0 = c.local(i32);
    const ox1 = c.local(i32);
    const t = c.local(i32);
    const imgBase = c.local(i32);
    const colBase = c.local(i32);
    const tapBase = c.local(i32);
    const rowStride = c.local(i32);
    const nextImage = c.local(i32);
    // rowStride = NB·L·4 bytes; after an image's last channel the columns move on by
    // nextImage = (NB = 1 ? 0 : L·4 − C·KH·KW·rowStride) (NB = 1: images follow their rows).
    c.get(OH).get(OW).i32Mul().get(NB).i32Mul().i32Const(2).i32Shl().set(rowStride);
    c.i32Const(0);
    c.get(OH).get(OW).i32Mul().i32Const(2).i32Shl().get(C).get(KH).i32Mul().get(KW).i32Mul().get(rowStride).i32Mul().i32Sub();
    c.get(NB).i32Const(1).i32Eq().select().set(nextImage);
    c.get(img).set(imgBase);
    c.get(cols).set(colBase);
    c.get(ch0).set(ch);
    c.for(pl, () => c.i32Const(0), () => c.get(P), 1, () => {
      c.get(colBase).set(tapBase);
      c.for(ki, () => c.i32Const(0), () => c.get(KH), 1, () => {
        c.for(kj, () => c.i32Const(0), () => c.get(KW), 1, () => {
          c.get(kj).get(DW).i32Mul().get(PW).i32Sub().set(dx);
          // ox0 = dx ≥ 0 ? 0 : min(OW, ⌈−dx / SW⌉)
          c.i32Const(0);
          c.i32Const(0).get(dx).i32Sub().get(SW).i32Add().i32Const(1).i32Sub().get(SW).i32Div().tee(t);
          c.get(OW).get(t).get(OW).i32LtS().select();
          c.get(dx).i32Const(0).i32GeS().select().set(ox0);
          // ox1 = W − 1 − dx < 0 ? ox0 : max(ox0, min(OW, ⌊(W − 1 − dx) / SW⌋ + 1))
          c.get(W).i32Const(1).i32Sub().get(dx).i32Sub().tee(t).i32Const(0).i32LtS().if();
          c.get(ox0).set(ox1);
          c.else();
          c.get(t).get(SW).i32Div().i32Const(1).i32Add().tee(t);
          c.get(OW).get(t).get(OW).i32LtS().select().tee(t);
          c.get(ox0).get(t).get(ox0).i32GtS().select().set(ox1);
          c.end();
          c.get(ox1).get(ox0).i32GtS().if();
          c.get(imgBase).get(tapBase).get(OH).get(OW).get(H).get(W).get(SH).get(SW);
          c.get(ki).get(DH).i32Mul().get(PH).i32Sub().get(dx).get(ox0).get(ox1).get(toCols).call(m0.indexOf("window"));
          c.end();
          c.get(tapBase).get(rowStride).i32Add().set(tapBase);
        });
      });
      // Next plane: the image's next channel (its rows follow this one's), or the next image.
      c.get(imgBase).get(H).get(W).i32Mul().i32Const(2).i32Shl().i32Add().set(imgBase);
      c.get(tapBase).set(colBase);
      c.get(ch).i32Const(1).i32Add().tee(ch).get(C).i32Eq().if();
      c.i32Const(0).set(ch);
      c.get(colBase).get(nextImage).i32Add().set(colBase);
      c.end();
    });
  };
}
