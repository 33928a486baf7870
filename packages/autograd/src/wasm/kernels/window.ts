/**
 * im2col / col2im: the window kernel for one kernel tap, and whole images at once.
 */
import { Code, ModuleBuilder, f32, i32, i32Params as I, v128 } from "../emit.js";

/** Byte lanes of i8x16.shuffle for the given 32-bit lanes (0–3 the first operand, 4–7 the second). */
const lanes32 = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
const LANES = {
  even: lanes32(0, 2, 4, 6), // a0 a2 b0 b2
  c0c0c1c1: lanes32(0, 0, 1, 1),
  c2c2c3c3: lanes32(2, 2, 3, 3),
  evenFromA: lanes32(0, 5, 2, 7), // sum's even lanes, the original's odd ones
};

/**
 * Sets locals lo, hi to the output columns [lo, hi) ⊆ [0, OW) whose image columns ox·SW + dx lie
 * in [0, W) for every dx from dxLo to dxHi (emitted values; the same one for a single tap), hi ≥
 * lo; `t` is scratch. lo = dxLo ≥ 0 ? 0 : min(OW, ⌈−dxLo / SW⌉); hi = W − 1 − dxHi < 0 ? lo :
 * max(lo, min(OW, ⌊(W − 1 − dxHi) / SW⌋ + 1)).
 */
function validColumns(c: Code, dxLo: () => void, dxHi: () => void, W: number, SW: number, OW: number, t: number, lo: number, hi: number): void {
  c.i32Const(0);
  c.i32Const(0);
  dxLo();
  c.i32Sub().get(SW).i32Add().i32Const(1).i32Sub().get(SW).i32Div().tee(t);
  c.get(OW).get(t).get(OW).i32LtS().select();
  dxLo();
  c.i32Const(0).i32GeS().select().set(lo);
  c.get(W).i32Const(1).i32Sub();
  dxHi();
  c.i32Sub().tee(t).i32Const(0).i32LtS().if();
  c.get(lo).set(hi);
  c.else();
  c.get(t).get(SW).i32Div().i32Const(1).i32Add().tee(t);
  c.get(OW).get(t).get(OW).i32LtS().select().tee(t);
  c.get(lo).get(t).get(lo).i32GtS().select().set(hi);
  c.end();
}

/**
 * window(img, cols, oh, ow, h, w, sh, sw, yOff, dx, ox0, ox1, toCols): one (image channel, kernel
 * tap) pair of im2col (toCols ≠ 0: cols row ← image) or col2im (image += cols row). For output
 * row oy the image row is y = oy·sh + yOff (skipped outside [0, h)); output columns [ox0, ox1)
 * read image column ox·sw + dx (the driver computes the valid interval once per tap). im2col
 * writes every element of its oh·ow columns: the taps in the padding (columns outside [ox0, ox1),
 * rows outside the image) get +0 as the run goes, so the output needs no zero fill first — a
 * second pass over the largest buffer of a padded convolution.
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
  const [nb, n16, e, iStep] = [0, 1, 2, 3].map(() => c.local(i32));
  const z = c.local(i32);
  const zEnd = c.local(i32);
  /** +0 into the floats [row + from·4, row + to·4) of a column row (im2col's padding taps). */
  const zeros = (row: () => void, from: () => void, to: () => void) => {
    row();
    from();
    c.i32Const(2).i32Shl().i32Add().set(z);
    row();
    to();
    c.i32Const(2).i32Shl().i32Add().set(zEnd);
    c.for(z, () => c.get(z), () => c.get(zEnd), 4, () => c.get(z).f32Const(0).f32Store());
  };
  /** The padding taps of the column row starting at `row`: the row's columns outside [ox0, ox1), or all of it when `inImage` is false. */
  const padRow = (row: () => void, inImage: boolean) => {
    if (!inImage) return zeros(row, () => c.i32Const(0), () => c.get(ow));
    zeros(row, () => c.i32Const(0), () => c.get(ox0));
    zeros(row, () => c.get(ox1), () => c.get(ow));
  };
  // Stride 1 (every convolution of LeNet, VGG, ResNet's 3×3s): each row is the same contiguous
  // run of nb = (ox1 − ox0)·4 bytes on both sides, so the run's split (16-byte steps, then 8, then
  // 4) is computed once and the row pointers advance by constants; the loop is chosen once per
  // call by direction. The same copies and additions as the general path below, row by row.
  c.get(sw).i32Const(1).i32Eq().if();
  {
    c.get(ox1).get(ox0).i32Sub().i32Const(2).i32Shl().tee(nb).i32Const(-16).i32And().set(n16);
    c.get(cols).get(ox0).i32Const(2).i32Shl().i32Add().set(cp);
    c.get(img).get(yOff).get(w).i32Mul().get(dx).i32Add().get(ox0).i32Add().i32Const(2).i32Shl().i32Add().set(ip);
    c.get(sh).get(w).i32Mul().i32Const(2).i32Shl().set(iStep);
    c.get(yOff).set(y);
    const rows = (add: boolean) =>
      c.for(oy, () => c.i32Const(0), () => c.get(oh), 1, () => {
        // cp − ox0·4: the column row's start.
        const rowStart = () => c.get(cp).get(ox0).i32Const(2).i32Shl().i32Sub();
        c.get(y).get(h).i32LtU().if(); // 0 ≤ y < h
        if (!add) padRow(rowStart, true);
        c.for(e, () => c.i32Const(0), () => c.get(n16), 16, () => {
          c.get(cp).get(e).i32Add().set(t);
          if (add) c.get(ip).get(e).i32Add().tee(swb).get(swb).v128Load().get(t).v128Load().f32x4Add().v128Store();
          else c.get(t).get(ip).get(e).i32Add().v128Load().v128Store();
        });
        c.get(nb).i32Const(8).i32And().if();
        c.get(cp).get(n16).i32Add().set(t);
        if (add) c.get(ip).get(n16).i32Add().tee(swb).get(swb).v128Load64Zero().get(t).v128Load64Zero().f32x4Add().v128Store64Lane(0);
        else c.get(t).get(ip).get(n16).i32Add().v128Load64Zero().v128Store64Lane(0);
        c.end();
        c.get(nb).i32Const(4).i32And().if();
        c.get(cp).get(nb).i32Add().i32Const(4).i32Sub().set(t);
        if (add) c.get(ip).get(nb).i32Add().i32Const(4).i32Sub().tee(swb).get(swb).f32Load().get(t).f32Load().f32Add().f32Store();
        else c.get(t).get(ip).get(nb).i32Add().i32Const(4).i32Sub().f32Load().f32Store();
        c.end();
        if (!add) {
          c.else();
          padRow(rowStart, false);
        }
        c.end();
        c.get(cp).get(ow).i32Const(2).i32Shl().i32Add().set(cp);
        c.get(ip).get(iStep).i32Add().set(ip);
        c.get(y).get(sh).i32Add().set(y);
      });
    c.get(toCols).if();
    rows(false);
    c.else();
    rows(true);
    c.end();
    c.return();
  }
  c.end();
  c.get(sw).i32Const(2).i32Shl().set(swb);
  c.for(oy, () => c.i32Const(0), () => c.get(oh), 1, () => {
    c.get(oy).get(sh).i32Mul().get(yOff).i32Add().set(y);
    const rowStart = () => c.get(cols).get(oy).get(ow).i32Mul().i32Const(2).i32Shl().i32Add();
    c.get(toCols).if();
    c.get(y).i32Const(0).i32GeS().get(y).get(h).i32LtS().i32And().if();
    padRow(rowStart, true);
    c.else();
    padRow(rowStart, false);
    c.end();
    c.end();
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
 * windowImage(img, cols, P, IPS, CPS, TS, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols,
 * scratch): im2col (or col2im) of P image planes: plane j is `img + j·IPS` and its tap t's
 * column row of L = OH·OW floats `cols + j·CPS + t·TS` (bytes). For every kernel tap the valid
 * output-column interval [ox0, ox1) — x = ox·SW + dx must lie in [0, W) — is computed once,
 * then {@link windowKernel} runs the rows. The loop over the smaller column stride is the inner
 * one, so the columns are written (or read) in address order: planes outside, taps inside for
 * `[N, C·KH·KW, L]` (a run of a batch's planes: CPS = KH·KW·L·4, TS = L·4); taps outside, planes
 * inside for `[C·KH·KW, N, L]` (a run of one channel's images: CPS = L·4, TS = N·L·4). Each
 * plane still takes its taps in order, so col2im's sums are the same either way. Tasks take
 * disjoint planes, so they write disjoint outputs; `scratch` is unused.
 */
export function windowImage(m0: ModuleBuilder) {
  return (c: Code) => {
    const [img, cols, P, IPS, CPS, TS, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, toCols] = I(19).map((_, i) => i);
    const j = c.local(i32);
    const ki = c.local(i32);
    const kj = c.local(i32);
    const dx = c.local(i32);
    const ox0 = c.local(i32);
    const ox1 = c.local(i32);
    const t = c.local(i32);
    const ip = c.local(i32);
    const cp = c.local(i32);
    const base = c.local(i32);
    /**
     * dx, ox0, ox1 of tap (ki, kj); leaves on the stack whether to run it: when some column reads
     * the image, and always for im2col (a tap wholly in the padding writes its zeros).
     */
    const tap = () => {
      c.get(kj).get(DW).i32Mul().get(PW).i32Sub().set(dx);
      validColumns(c, () => c.get(dx), () => c.get(dx), W, SW, OW, t, ox0, ox1);
      c.get(ox1).get(ox0).i32GtS().get(toCols).i32Or();
    };
    /** window() for plane at ip, column row at cp. */
    const run = () => {
      c.get(ip).get(cp).get(OH).get(OW).get(H).get(W).get(SH).get(SW);
      c.get(ki).get(DH).i32Mul().get(PH).i32Sub().get(dx).get(ox0).get(ox1).get(toCols).call(m0.indexOf("window"));
    };
    const taps = (body: () => void) =>
      c.for(ki, () => c.i32Const(0), () => c.get(KH), 1, () => c.for(kj, () => c.i32Const(0), () => c.get(KW), 1, body));
    c.get(CPS).get(TS).i32LtU().if();
    // Taps outside: each tap's rows of all P planes are adjacent.
    taps(() => {
      tap();
      c.if();
      c.get(img).set(ip);
      c.get(cols).get(ki).get(KW).i32Mul().get(kj).i32Add().get(TS).i32Mul().i32Add().set(cp);
      c.for(j, () => c.i32Const(0), () => c.get(P), 1, () => {
        run();
        c.get(ip).get(IPS).i32Add().set(ip);
        c.get(cp).get(CPS).i32Add().set(cp);
      });
      c.end();
    });
    c.else();
    // Planes outside: a plane's tap rows are adjacent.
    c.get(img).set(ip);
    c.get(cols).set(base);
    c.for(j, () => c.i32Const(0), () => c.get(P), 1, () => {
      c.get(base).set(cp);
      taps(() => {
        tap();
        c.if();
        run();
        c.end();
        c.get(cp).get(TS).i32Add().set(cp);
      });
      c.get(ip).get(IPS).i32Add().set(ip);
      c.get(base).get(CPS).i32Add().set(base);
    });
    c.end();
  };
}

/**
 * windowArgmax(img, out, P, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, base, vals): max
 * pooling's choice over P float32 image planes from `img` (bytes): `out` (int32, OH·OW per plane)
 * gets, for each window, the element index `base + plane·H·W + y·W + x` of its first largest tap
 * in row-major window order, taps in the padding skipped, and `vals` (float32, same layout; 0 for
 * none) that tap's value — the pooled output itself, the same bits a gather of the index reads.
 * NaN wins, the first one (a tap wins when `v > best`, or v is NaN and best is not). Windows
 * whose taps all lie in the image go four at a time (ox … ox + 3) in f32x4/i32x4 lanes: each tap
 * loads its four values (one v128.load at stride 1, two and a shuffle at stride 2, lane loads
 * otherwise) and bitselects keep value and index where it wins, from tap 0 on; the border
 * windows run a scalar loop with bounds tests.
 * Both take the same comparisons in the same order, so the choice does not depend on which path
 * a window took. `pool2` builds the variant for 2×2 windows at stride 2 without dilation
 * (LeNet's, VGG's, most CNNs' pooling; the driver picks it): its four taps are unrolled, each
 * window row two loads and two shuffles (even and odd floats).
 */
export const windowArgmax = (pool2: boolean) => (c: Code): void => {
  const [img, out, P, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, base, vals] = I(17).map((_, k) => k);
  const [j, oy, ox, ki, kj, y0, y, x, at, t, pl, pb, op, oxA, oxB, tapIdx, vp] = I(17).map(() => c.local(i32));
  const best = c.local(f32);
  const v = c.local(f32);
  const [bv, av, vv, iv, win, lanes, i0, a, b] = Array.from({ length: 9 }, () => c.local(v128));
  /** Where (vv, iv) wins over (bv, av): v > best, or v NaN and best not. */
  const keep = () => {
    c.get(vv).get(bv).f32x4Gt();
    c.get(vv).get(vv).f32x4Ne().get(bv).get(bv).f32x4Eq().v128And().v128Or().set(win);
    c.get(vv).get(bv).get(win).v128Bitselect().set(bv);
    c.get(iv).get(av).get(win).v128Bitselect().set(av);
  };
  /** Four 2×2 stride-2 windows from tap (0, 0) of lane 0 at element tapIdx (t its byte address). */
  const unrolled = () => {
    c.get(pb).get(tapIdx).i32Add().i32x4Splat().get(lanes).i32x4Add().set(i0);
    for (const row of [0, 1]) {
      c.get(t).v128Load().set(a);
      c.get(t).v128Load(16).set(b);
      for (const col of [0, 1]) {
        c.get(a).get(b).i8x16Shuffle(col ? lanes32(1, 3, 5, 7) : LANES.even).set(vv);
        if (row === 0 && col === 0) {
          c.get(vv).set(bv);
          c.get(i0).set(av);
          continue;
        }
        c.get(i0);
        if (row) c.get(W).i32Const(col).i32Add().i32x4Splat().i32x4Add();
        else c.i32x4Const(1).i32x4Add();
        c.set(iv);
        keep();
      }
      c.get(t).get(W).i32Const(2).i32Shl().i32Add().set(t);
    }
  };
  // Interior windows [oxA, oxB): every tap column ox·SW − PW + kj·DW (kj = 0 … KW − 1) in the image.
  validColumns(c, () => c.i32Const(0).get(PW).i32Sub(), () => c.get(KW).i32Const(1).i32Sub().get(DW).i32Mul().get(PW).i32Sub(), W, SW, OW, t, oxA, oxB);
  // Four neighbouring windows' taps are SW elements apart.
  c.i32x4Const(0, 1, 2, 3).get(SW).i32x4Splat().i32x4Mul().set(lanes);
  /** Scalar windows ox … end − 1 of the row at y0 (taps bounds-tested). */
  const scalarWindows = (end: () => void) =>
    c.for(ox, () => c.get(ox), end, 1, () => {
      c.i32Const(-1).set(at);
      c.for(ki, () => c.i32Const(0), () => c.get(KH), 1, () => {
        c.get(y0).get(ki).get(DH).i32Mul().i32Add().tee(y).i32Const(0).i32GeS().get(y).get(H).i32LtS().i32And().if();
        c.for(kj, () => c.i32Const(0), () => c.get(KW), 1, () => {
          c.get(ox).get(SW).i32Mul().get(PW).i32Sub().get(kj).get(DW).i32Mul().i32Add().tee(x).i32Const(0).i32GeS().get(x).get(W).i32LtS().i32And().if();
          c.get(y).get(W).i32Mul().get(x).i32Add().tee(t).i32Const(2).i32Shl().get(pl).i32Add().f32Load().set(v);
          c.get(at).i32Const(0).i32LtS().get(v).get(best).f32Gt().i32Or();
          c.get(v).get(v).f32Ne().get(best).get(best).f32Eq().i32And().i32Or().if();
          c.get(pb).get(t).i32Add().set(at);
          c.get(v).set(best);
          c.end();
          c.end();
        });
        c.end();
      });
      c.get(op).get(ox).i32Const(2).i32Shl().i32Add().get(at).i32Store();
      c.get(vals).if();
      c.get(vp).get(ox).i32Const(2).i32Shl().i32Add().get(best).f32Store();
      c.end();
    });
  /** Four interior windows ox … ox + 3 of the row at y0, stored. */
  const group = () => {
    if (pool2) {
      c.get(y0).get(W).i32Mul().get(ox).i32Const(1).i32Shl().i32Add().get(PW).i32Sub().tee(tapIdx);
      c.i32Const(2).i32Shl().get(pl).i32Add().set(t);
      unrolled();
    } else {
      c.for(ki, () => c.i32Const(0), () => c.get(KH), 1, () => {
        c.for(kj, () => c.i32Const(0), () => c.get(KW), 1, () => {
          // The tap's element in lane 0: (y0 + ki·DH)·W + ox·SW − PW + kj·DW; t its byte address.
          c.get(y0).get(ki).get(DH).i32Mul().i32Add().get(W).i32Mul().get(ox).get(SW).i32Mul().i32Add().get(PW).i32Sub().get(kj).get(DW).i32Mul().i32Add().tee(tapIdx);
          c.i32Const(2).i32Shl().get(pl).i32Add().set(t);
          c.get(SW).i32Const(1).i32Eq().if();
          c.get(t).v128Load().set(vv);
          c.else();
          // Stride 2: x, x + 2 from x … x + 3 and x + 4, x + 6 from x + 3 … x + 6, so nothing
          // past the last tap is read; other strides: one lane at a time.
          c.get(SW).i32Const(2).i32Eq().if();
          c.get(t).v128Load().get(t).v128Load(12).i8x16Shuffle(lanes32(0, 2, 5, 7)).set(vv);
          c.else();
          c.get(t).v128Load32Zero().set(vv);
          for (const l of [1, 2, 3]) c.get(t).get(SW).i32Const(4 * l).i32Mul().i32Add().get(vv).v128Load32Lane(l).set(vv);
          c.end();
          c.end();
          c.get(pb).get(tapIdx).i32Add().i32x4Splat().get(lanes).i32x4Add().set(iv);
          c.get(ki).get(kj).i32Or().i32Eqz().if();
          c.get(vv).set(bv);
          c.get(iv).set(av);
          c.else();
          keep();
          c.end();
        });
      });
    }
    c.get(op).get(ox).i32Const(2).i32Shl().i32Add().get(av).v128Store();
    c.get(vals).if();
    c.get(vp).get(ox).i32Const(2).i32Shl().i32Add().get(bv).v128Store();
    c.end();
  };
  c.get(img).set(pl);
  c.get(base).set(pb);
  c.get(out).set(op);
  c.get(vals).set(vp);
  c.for(j, () => c.i32Const(0), () => c.get(P), 1, () => {
    c.for(oy, () => c.i32Const(0), () => c.get(OH), 1, () => {
      c.get(oy).get(SH).i32Mul().get(PH).i32Sub().set(y0);
      c.i32Const(0).set(ox);
      // Four windows at a time only where every tap row lies in the image.
      c.get(y0).i32Const(0).i32GeS().get(y0).get(KH).i32Const(1).i32Sub().get(DH).i32Mul().i32Add().get(H).i32LtS().i32And().if();
      scalarWindows(() => c.get(oxA));
      c.for(ox, () => c.get(ox), () => c.get(oxB).i32Const(3).i32Sub(), 4, group);
      // The last 1–3 interior windows: the four ending at oxB again (the overlap is rewritten with
      // the same choice), not the scalar loop, when the interior holds four.
      c.get(ox).get(oxB).i32LtS().get(oxB).get(oxA).i32Sub().i32Const(4).i32GeS().i32And().if();
      c.get(oxB).i32Const(4).i32Sub().set(ox);
      group();
      c.get(oxB).set(ox);
      c.end();
      c.end();
      scalarWindows(() => c.get(OW));
      c.get(op).get(OW).i32Const(2).i32Shl().i32Add().set(op);
      c.get(vp).get(OW).i32Const(2).i32Shl().i32Add().set(vp);
    });
    c.get(pl).get(H).get(W).i32Mul().i32Const(2).i32Shl().i32Add().set(pl);
    c.get(pb).get(H).get(W).i32Mul().i32Add().set(pb);
  });
};

/**
 * maxUnpool2(g, idx, dst, P, OH, OW, base): the gradient of 2×2 stride-2 max pooling that tiles
 * its input exactly (H = 2·OH, W = 2·OW, no padding): each of the P planes of `dst` (float32, H·W)
 * gets `0 + g[w]` at the element its window w chose (`idx`, int32 element indices from
 * windowArgmax with the same `base`, the index of dst's first element) and +0 everywhere else.
 * Each input element lies in exactly one window, so this is scatterAdd's result — the same
 * additions to zero, the same bits — written in one pass, two output rows at a time, without
 * zeroing the output first. Four windows a step: their choices, relative to each window's
 * top-left element (0, 1, W or W + 1), mask 0 + g into the four taps, interleaved back into the
 * rows' order; the last 0–3 windows of a row one at a time (its four taps as four lanes).
 */
export function maxUnpool2(c: Code): void {
  const [g, idx, dst, P, OH, OW, base] = [0, 1, 2, 3, 4, 5, 6];
  const [j, oy, ox, W, at, r0, r1, bytes] = Array.from({ length: 8 }, () => c.local(i32));
  const [gz, rv, tl, tr, bl, br, taps] = Array.from({ length: 7 }, () => c.local(v128));
  /** out = gz where rv equals the splat `k` pushes, +0 elsewhere. */
  const masked = (k: () => void, out: number) => {
    c.get(gz).get(rv);
    k();
    c.i32x4Eq().v128And().set(out);
  };
  c.get(OW).i32Const(1).i32Shl().set(W);
  c.get(W).i32Const(2).i32Shl().set(bytes);
  // A window's taps relative to its top-left element: 0, 1, W, W + 1.
  c.i32x4Const(0, 1, 0, 1).get(W).i32x4Splat().i32x4Const(0, 0, -1, -1).v128And().i32x4Add().set(taps);
  c.get(dst).set(r0);
  c.get(base).set(at); // the element index of the current window row's first tap
  c.for(j, () => c.i32Const(0), () => c.get(P), 1, () => {
    c.for(oy, () => c.i32Const(0), () => c.get(OH), 1, () => {
      c.get(r0).get(bytes).i32Add().set(r1);
      c.for(ox, () => c.i32Const(0), () => c.get(OW).i32Const(3).i32Sub(), 4, () => {
        c.i32x4Const(0).get(g).v128Load().f32x4Add().set(gz); // 0 + g, as scatterAdd adds g to the zeroed output
        // Each lane's choice relative to its window's top-left element at + 2·ox + 2·lane.
        c.get(idx).v128Load().get(at).get(ox).i32Const(1).i32Shl().i32Add().i32x4Splat().i32x4Const(0, 2, 4, 6).i32x4Add().i32x4Sub().set(rv);
        masked(() => c.i32x4Const(0), tl);
        masked(() => c.i32x4Const(1), tr);
        masked(() => c.get(W).i32x4Splat(), bl);
        masked(() => c.get(W).i32Const(1).i32Add().i32x4Splat(), br);
        for (const [row, a, b] of [[r0, tl, tr], [r1, bl, br]] as const) {
          c.get(row).get(a).get(b).i8x16Shuffle(lanes32(0, 4, 1, 5)).v128Store();
          c.get(row).get(a).get(b).i8x16Shuffle(lanes32(2, 6, 3, 7)).v128Store(16);
          c.get(row).i32Const(32).i32Add().set(row);
        }
        c.get(g).i32Const(16).i32Add().set(g);
        c.get(idx).i32Const(16).i32Add().set(idx);
      });
      c.for(ox, () => c.get(ox), () => c.get(OW), 1, () => {
        // One window: its taps (0, 1, W, W + 1) as four lanes, masked without a branch (which
        // tap won is random, a branch on it mispredicts), the top pair stored at r0, the bottom at r1.
        c.i32x4Const(0).get(g).v128Load32Splat().f32x4Add();
        c.get(idx).i32Load().get(at).get(ox).i32Const(1).i32Shl().i32Add().i32Sub().i32x4Splat().get(taps).i32x4Eq().v128And().set(tl);
        c.get(r0).get(tl).v128Store64Lane(0);
        c.get(r1).get(tl).v128Store64Lane(1);
        c.get(r0).i32Const(8).i32Add().set(r0);
        c.get(r1).i32Const(8).i32Add().set(r1);
        c.get(g).i32Const(4).i32Add().set(g);
        c.get(idx).i32Const(4).i32Add().set(idx);
      });
      // r0 ends where row 2·oy + 1 starts, which r1 covered: the next window row starts after it.
      c.get(r1).set(r0);
      c.get(at).get(W).i32Const(1).i32Shl().i32Add().set(at);
    });
  });
}
