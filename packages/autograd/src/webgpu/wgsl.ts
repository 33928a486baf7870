/**
 * WGSL code-generation helpers shared by the kernel families: storage types per dtype, the
 * parameter binding, the linear invocation id, strided offsets and shape collapsing.
 *
 * Storage: float32 → `f32`, int32 → `i32`, bool → `u32` (one word per element: WGSL has no 8-bit
 * storage; upload/read widen and narrow). Parameters are `u32` words in binding 0 (`P`); a kernel
 * is generated per (op, dtype, rank, access pattern) and cached by that key, while the sizes and
 * strides themselves travel in `P`, so one pipeline serves every shape of its class.
 */
import type { DType } from "../dtype.js";
import { DeltagradError } from "../errors.js";

/** Layout geometry shared with the other backends (one copy, in shape.ts). */
export { stridesOf as rowMajor, broadcastStrides, collapse } from "../shape.js";

/** Invocations per workgroup of the 1-D kernels. */
export const WG = 256;

export type Wgsl = "f32" | "i32" | "u32";

/** The WGSL storage type of a GPU dtype. */
export function wgslType(dtype: DType): Wgsl {
  switch (dtype) {
    case "float32": return "f32";
    case "int32": return "i32";
    case "bool": return "u32";
    default: throw new DeltagradError(`webgpu: ${dtype} tensors are not stored on the GPU`);
  }
}

/** Binding 0 (the parameter words), the NaN test by bits (safe under fast-math compilers), specials. */
export const PRELUDE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
const F_INF = 0x7f800000u;
// NaN and ±∞ as runtime values: Tint (Chrome, Dawn) evaluates bitcast<f32>(constant) when it
// compiles and rejects non-finite constants, so the bits come from private variables.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NINF_BITS: u32 = 0xff800000u;
fn f_nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn f_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn f_ninf() -> f32 { return bitcast<f32>(NINF_BITS); }
`;

/** Entry point header of a 1-D kernel: `i` is the linear invocation id across a 2-D grid. */
export function entry1d(wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid.x;`;
}

/** Entry point of a kernel with one workgroup per output: `o` is the workgroup's linear id, `t` the thread. */
export function entryPerGroup(wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = wid.y * nwg.x + wid.x;
  let t = lid.x;`;
}

/**
 * A WGSL function `name(i) -> u32`: the offset of linear index `i` of a row-major shape whose
 * sizes are `P[shapeAt + d]` under strides `P[strideAt + d]`, plus `P[baseAt]` when given.
 */
export function offsetFn(name: string, rank: number, shapeAt: number, strideAt: number, baseAt?: number): string {
  const lines = [`fn ${name}(idx: u32) -> u32 {`, `  var rem = idx;`, `  var off = ${baseAt === undefined ? "0u" : `P[${baseAt}]`};`];
  for (let d = rank - 1; d >= 0; d--) {
    if (d > 0) lines.push(`  { let s = P[${shapeAt + d}]; off += (rem % s) * P[${strideAt + d}]; rem = rem / s; }`);
    else lines.push(`  off += rem * P[${strideAt}];`);
  }
  lines.push(`  return off;`, `}`);
  return lines.join("\n");
}

/** The bits of `v` as a float32, for passing a float through the u32 parameter words. */
export function f32Bits(v: number): number {
  F32[0] = v;
  return U32[0]!;
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The bits of `v` stored as `dtype` (float32 bits, int32 two's complement, bool 0/1). */
export function valueBits(v: number, dtype: DType): number {
  if (dtype === "float32") return f32Bits(v);
  if (dtype === "bool") return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  return v | 0;
}
