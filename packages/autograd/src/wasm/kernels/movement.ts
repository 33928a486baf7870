/**
 * Data-movement kernels: row copies, strided gathers/scatters, transpose and fills.
 */
import { Code, i32, v128 } from "../emit.js";

/** copyRows(src, srcStride, dst, dstStride, rows, rowBytes): row-by-row memory.copy (strides in bytes). */
export function copyRows(c: Code): void {
  const [src, ss, dst, ds, rows, nb] = [0, 1, 2, 3, 4, 5];
  const r = c.local(i32);
  c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
    c.get(dst).get(src).get(nb).memoryCopy();
    c.get(src).get(ss).i32Add().set(src);
    c.get(dst).get(ds).i32Add().set(dst);
  });
}

/**
 * gather{4,1}(src, dst, rows, cols, rowStride, colStride): dst (contiguous) ← src walked by (row,
 * col) byte strides (permute, expand with stride 0, slice); scatter{4,1}: the adjoint walk, src
 * contiguous and dst strided (pad, concat). A column stride equal to the element size is one
 * memory.copy per row, otherwise an element loop. Elements of 4 or 1 bytes.
 */
export function strided2d(size: 4 | 1, gather: boolean) {
  return (c: Code) => {
    const [src, dst, rows, cols, rs, cs] = [0, 1, 2, 3, 4, 5];
    // The strided side advances by rs per row and cs per element; the contiguous side by the element size.
    const [strided, dense] = gather ? [src, dst] : [dst, src];
    const r = c.local(i32);
    const j = c.local(i32);
    const s = c.local(i32);
    const nb = c.local(i32);
    c.get(cols).i32Const(size === 4 ? 2 : 0).i32Shl().set(nb);
    c.for(r, () => c.i32Const(0), () => c.get(rows), 1, () => {
      c.get(cs).i32Const(size).i32Eq().if();
      c.get(dst).get(src).get(nb).memoryCopy();
      c.get(dense).get(nb).i32Add().set(dense);
      c.else();
      c.get(strided).set(s);
      c.for(j, () => c.i32Const(0), () => c.get(cols), 1, () => {
        c.get(gather ? dst : s);
        const from = gather ? s : src;
        if (size === 4) c.get(from).i32Load().i32Store();
        else c.get(from).i32Load8U().i32Store8();
        c.get(dense).i32Const(size).i32Add().set(dense);
        c.get(s).get(cs).i32Add().set(s);
      });
      c.end();
      c.get(strided).get(rs).i32Add().set(strided);
    });
  };
}

/**
 * transpose(src, dst, rows, cols): dst[j][i] = src[i][j] for one 4-byte-element matrix. Whole
 * 4×4 blocks move through registers (four row loads, an 8-shuffle transpose, four column
 * stores), visited in 32×32 tiles so the rows read and written stay in L1; the ragged right and
 * bottom strips are copied element by element.
 */
export function transpose(c: Code): void {
  const [src, dst, rows, cols] = [0, 1, 2, 3];
  const T = 32;
  const [i0, j0, i, j, i1, j1, rs, cs, rows4, cols4, s, d] = Array.from({ length: 12 }, () => c.local(i32));
  const r = Array.from({ length: 4 }, () => c.local(v128));
  const t = Array.from({ length: 4 }, () => c.local(v128));
  const lanes = (a: number, b: number) => [...[0, 1, 2, 3].map((x) => a * 4 + x), ...[0, 1, 2, 3].map((x) => 16 + a * 4 + x), ...[0, 1, 2, 3].map((x) => b * 4 + x), ...[0, 1, 2, 3].map((x) => 16 + b * 4 + x)];
  const LO = lanes(0, 1); // (a0 b0 a1 b1)
  const HI = lanes(2, 3); // (a2 b2 a3 b3)
  const LO64 = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
  const HI64 = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
  const min = (a: () => void, b: () => void) => {
    a(); b(); a(); b(); c.i32LtS().select();
  };
  const scalarCopy = () => {
    // dst[j][i] = src[i][j]
    c.get(dst).get(j).get(cs).i32Mul().i32Add().get(i).i32Const(2).i32Shl().i32Add();
    c.get(src).get(i).get(rs).i32Mul().i32Add().get(j).i32Const(2).i32Shl().i32Add().i32Load();
    c.i32Store();
  };
  c.get(cols).i32Const(2).i32Shl().set(rs); // src row stride
  c.get(rows).i32Const(2).i32Shl().set(cs); // dst row stride
  c.get(rows).i32Const(-4).i32And().set(rows4);
  c.get(cols).i32Const(-4).i32And().set(cols4);
  c.for(i0, () => c.i32Const(0), () => c.get(rows4), T, () => {
    min(() => c.get(i0).i32Const(T).i32Add(), () => c.get(rows4));
    c.set(i1);
    c.for(j0, () => c.i32Const(0), () => c.get(cols4), T, () => {
      min(() => c.get(j0).i32Const(T).i32Add(), () => c.get(cols4));
      c.set(j1);
      c.for(i, () => c.get(i0), () => c.get(i1), 4, () => {
        c.for(j, () => c.get(j0), () => c.get(j1), 4, () => {
          c.get(src).get(i).get(rs).i32Mul().i32Add().get(j).i32Const(2).i32Shl().i32Add().set(s);
          for (let k = 0; k < 4; k++) {
            c.get(s).v128Load().set(r[k]!);
            if (k < 3) c.get(s).get(rs).i32Add().set(s);
          }
          c.get(r[0]!).get(r[1]!).i8x16Shuffle(LO).set(t[0]!);
          c.get(r[0]!).get(r[1]!).i8x16Shuffle(HI).set(t[1]!);
          c.get(r[2]!).get(r[3]!).i8x16Shuffle(LO).set(t[2]!);
          c.get(r[2]!).get(r[3]!).i8x16Shuffle(HI).set(t[3]!);
          c.get(dst).get(j).get(cs).i32Mul().i32Add().get(i).i32Const(2).i32Shl().i32Add().set(d);
          const outs: [number, number, number[]][] = [[0, 2, LO64], [0, 2, HI64], [1, 3, LO64], [1, 3, HI64]];
          outs.forEach(([a, b, sh], k) => {
            c.get(d).get(t[a]!).get(t[b]!).i8x16Shuffle(sh).v128Store();
            if (k < 3) c.get(d).get(cs).i32Add().set(d);
          });
        });
      });
    });
  });
  // Right strip (columns cols4…cols, every row) and bottom strip (rows rows4…rows, columns < cols4).
  c.for(i, () => c.i32Const(0), () => c.get(rows), 1, () => c.for(j, () => c.get(cols4), () => c.get(cols), 1, scalarCopy));
  c.for(i, () => c.get(rows4), () => c.get(rows), 1, () => c.for(j, () => c.i32Const(0), () => c.get(cols4), 1, scalarCopy));
}

/**
 * fill8(dst, bytes, value): `bytes` bytes set to `value` (memory.fill). Zeroing wasm memory from
 * JavaScript (`Uint8Array.fill` on the shared buffer) runs ~30× slower than this: V8 fills shared
 * memory a byte at a time.
 */
export function fill8(c: Code): void {
  c.get(0).get(2).get(1).memoryFill();
}

/** fill32(dst, n, bits): n 4-byte elements set to the 32-bit pattern `bits`. */
export function fill32(c: Code): void {
  const [dst, n, bits] = [0, 1, 2];
  const i = c.local(i32);
  const n4 = c.local(i32);
  const v = c.local(v128);
  c.get(bits).i32x4Splat().set(v);
  c.get(n).i32Const(-4).i32And().i32Const(2).i32Shl().set(n4);
  c.get(n).i32Const(2).i32Shl().set(n);
  c.for(i, () => c.i32Const(0), () => c.get(n4), 16, () => c.get(dst).get(i).i32Add().get(v).v128Store());
  c.for(i, () => c.get(n4), () => c.get(n), 4, () => c.get(dst).get(i).i32Add().get(bits).i32Store());
}

/** indexCheck(idx, k, n) → the first t with idx[t] outside [0, n) (int32 indices), or −1. */
export function indexCheck(c: Code): void {
  const [idx, k, n] = [0, 1, 2];
  const t = c.local(i32);
  c.for(t, () => c.i32Const(0), () => c.get(k), 1, () => {
    c.get(idx).get(t).i32Const(2).i32Shl().i32Add().i32Load().get(n).i32GeU().if();
    c.get(t).return();
    c.end();
  });
  c.i32Const(-1);
}

/**
 * gatherIdx(src, idx, dst, outer, k, n, innerBytes): TensorFlow's gather along one axis, x
 * `[outer, n, inner]` → `[outer, k, inner]`, row t of each outer block copied from row idx[t]
 * (checked by the caller). One element a row (4 bytes) is a load and a store; longer rows are
 * one memory.copy each.
 */
export function gatherIdx(c: Code): void {
  const [src, idx, dst, outer, k, n, nb] = [0, 1, 2, 3, 4, 5, 6];
  const [o, t, ip, end] = [c.local(i32), c.local(i32), c.local(i32), c.local(i32)];
  c.for(o, () => c.i32Const(0), () => c.get(outer), 1, () => {
    c.get(idx).set(ip);
    c.get(idx).get(k).i32Const(2).i32Shl().i32Add().set(end);
    c.get(nb).i32Const(4).i32Eq().if();
    c.for(ip, () => c.get(ip), () => c.get(end), 4, () => {
      c.get(dst).get(src).get(ip).i32Load().i32Const(2).i32Shl().i32Add().i32Load().i32Store();
      c.get(dst).i32Const(4).i32Add().set(dst);
    });
    c.else();
    c.for(t, () => c.i32Const(0), () => c.get(k), 1, () => {
      c.get(dst).get(src).get(idx).get(t).i32Const(2).i32Shl().i32Add().i32Load().get(nb).i32Mul().i32Add().get(nb).memoryCopy();
      c.get(dst).get(nb).i32Add().set(dst);
    });
    c.end();
    c.get(src).get(n).get(nb).i32Mul().i32Add().set(src);
  });
}

/**
 * scatterAddIdx(g, idx, dst, outer, k, n, inner): the adjoint of gatherIdx for float32, into dst
 * `[outer, n, inner]` (zeroed by the caller): row idx[t] += row t of g, in t order (the cpu
 * kernel's order, so the sums are the same bits), four floats a step, then single ones.
 */
export function scatterAddIdx(c: Code): void {
  const [g, idx, dst, outer, k, n, inner] = [0, 1, 2, 3, 4, 5, 6];
  const [o, t, to, i, rowBytes, ip, end] = [c.local(i32), c.local(i32), c.local(i32), c.local(i32), c.local(i32), c.local(i32), c.local(i32)];
  c.get(inner).i32Const(2).i32Shl().set(rowBytes);
  c.for(o, () => c.i32Const(0), () => c.get(outer), 1, () => {
    c.get(inner).i32Const(1).i32Eq().if();
    // One float a row: dst[idx[t]] += g[t].
    c.get(idx).set(ip);
    c.get(idx).get(k).i32Const(2).i32Shl().i32Add().set(end);
    c.for(ip, () => c.get(ip), () => c.get(end), 4, () => {
      c.get(dst).get(ip).i32Load().i32Const(2).i32Shl().i32Add().tee(to).get(to).f32Load().get(g).f32Load().f32Add().f32Store();
      c.get(g).i32Const(4).i32Add().set(g);
    });
    c.else();
    c.for(t, () => c.i32Const(0), () => c.get(k), 1, () => {
      c.get(dst).get(idx).get(t).i32Const(2).i32Shl().i32Add().i32Load().get(rowBytes).i32Mul().i32Add().set(to);
      c.for(i, () => c.i32Const(0), () => c.get(inner).i32Const(3).i32Sub(), 4, () => {
        c.get(to).get(to).v128Load().get(g).v128Load().f32x4Add().v128Store();
        c.get(to).i32Const(16).i32Add().set(to);
        c.get(g).i32Const(16).i32Add().set(g);
      });
      c.for(i, () => c.get(i), () => c.get(inner), 1, () => {
        c.get(to).get(to).f32Load().get(g).f32Load().f32Add().f32Store();
        c.get(to).i32Const(4).i32Add().set(to);
        c.get(g).i32Const(4).i32Add().set(g);
      });
    });
    c.end();
    c.get(dst).get(n).get(rowBytes).i32Mul().i32Add().set(dst);
  });
}
