/** Helpers shared by the checkpoint tests (codec and file I/O). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { manualSeed, type Tensor } from "@deltagrad/autograd";
import { Linear } from "@deltagrad/nn";

/** A scratch folder for the file's tests, made before them and removed after; call at top level. */
export function useTempDir(prefix = "deltagrad-ckpt-"): () => string {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}

export const bits32 = (t: Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
export const bits64 = (t: Tensor) => Array.from(new BigUint64Array((t.dataSync() as Float64Array).slice().buffer));
export const f32 = (...u: number[]) => new Float32Array(new Uint32Array(u).buffer);
export const f64 = (...u: bigint[]) => new Float64Array(new BigUint64Array(u).buffer);

/** A safetensors file from raw header text and data bytes; the length prefix can be forced. */
export function file(headerText: string, data: ArrayLike<number> = [], length?: number | bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The model every bad file is offered to; it must come out unchanged. */
export function makeModel() {
  manualSeed(7);
  return new Linear(2, 3); // weight [2,3] F32 (24 bytes), bias [3] F32 (12 bytes)
}
export const snapshot = (m: { stateDict(): Record<string, Tensor> }) => Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape, bits32(t)]);
