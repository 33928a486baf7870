/**
 * Batched matmul: a workgroup computes a BM×BN tile of C = A·B, staging BK-deep slabs of A and B
 * in workgroup memory; each of its 256 invocations accumulates a TM×TN block in registers (so a
 * value loaded from workgroup memory is used TN or TM times). Two shapes:
 *
 * - "big": 128×128 tiles, 8×8 per invocation, BK = 8, vec4 loads and stores (needs K and N
 *   multiples of 4). Per slab an invocation reads 2+2 vec4 from workgroup memory per k and does
 *   64 FMAs: arithmetic intensity 8 FMA per load, the shape that reaches ~25 TFLOP/s fp32 on an
 *   H100-class GPU (a 16×16 one-output-per-thread kernel is bound by workgroup-memory bandwidth).
 * - "small": 32×32 tiles, 2×2 per invocation, BK = 32, scalar loads, any sizes: the layers of a
 *   small MLP (a 200×10 output would leave a 128×128 tile 92% idle).
 *
 * A is staged transposed (As[k][m]) so each invocation's TM values of one k are adjacent. Batch
 * dims broadcast: the z workgroup index walks the output's batch and each operand's batch offset
 * comes from its own (0 along broadcast) batch strides. Transposed operands: a transpose of the
 * last two axes is left pending by permute (movement.ts, permuteLazily) and read here in place —
 * A from its [K, M] source, B from its [N, K] source — with loads that stay coalesced and vec4.
 */
import type { DType } from "../dtype.js";
import { DeltagradError } from "../errors.js";
import { sizeOf } from "../shape.js";
import type { GpuData, GpuRuntime } from "./device.js";
import { fillInto } from "./elementwise.js";
import { PRELUDE, wgslType } from "./wgsl.js";

interface Tile {
  name: string;
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
  vec4: boolean;
}

const BIG: Tile = { name: "big", BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, vec4: true };
const SMALL: Tile = { name: "small", BM: 32, BN: 32, BK: 32, TM: 2, TN: 2, vec4: false };
const THREADS = 256;

/** The batch-offset function: decomposes z over the output batch shape (P[4…]) into each operand's offset. */
function batchFn(rank: number): string {
  const lines = ["fn batch_off(z: u32) -> vec2u {", "  var rem = z;", "  var o = vec2u(0u, 0u);"];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`  { let s = P[${4 + d}]; let c = rem % s; rem = rem / s; o += c * vec2u(P[${4 + rank + d}], P[${4 + 2 * rank + d}]); }`);
  }
  lines.push("  return o;", "}");
  return lines.join("\n");
}

/** `count` copies of `body(i)` joined by newlines: loops unrolled at generation time. */
const unroll = (count: number, body: (i: number) => string) => Array.from({ length: count }, (_, i) => body(i)).join("\n");

/**
 * The kernel source. Every loop over registers is unrolled here, so each accumulator, A value
 * and B value is a named scalar (or vec4) that the shader compiler keeps in a register: a
 * private array indexed by a loop variable may be placed in memory (lavapipe spills such arrays
 * and ran 10× slower).
 */
function source(T: Tile, batchRank: number, t: string, transA: boolean, transB: boolean): string {
  const { BM, BN, BK, TM, TN, vec4 } = T;
  const TX = BN / TN; // invocations along N
  const la = (BM * BK) / THREADS / (vec4 ? 4 : 1); // loads per invocation per slab
  const lb = (BK * BN) / THREADS / (vec4 ? 4 : 1);
  const V = vec4 ? `vec4<${t}>` : t;
  const NB = vec4 ? TN / 4 : TN; // register words of B per k
  const BW = vec4 ? BN / 4 : BN; // words per row of Bs
  // A [M, K] (or, transposed, its source [K, M]) into As[k][m]; B [K, N] (or [N, K]) into Bs[k][n].
  // Consecutive invocations take consecutive source addresses in every case (coalesced loads).
  const loadA = unroll(la, (l) => {
    const e = `let e = tid + ${l * THREADS}u;`;
    if (vec4 && transA) {
      return `    { ${e} let c = e / ${BM / 4}u; let r = (e % ${BM / 4}u) * 4u;
      var v = vec4<${t}>();
      if (row0 + r < M && k0 + c < K) { v = A[(offA + (k0 + c) * M + row0 + r) / 4u]; }
      As[c * ${BM}u + r] = v.x; As[c * ${BM}u + r + 1u] = v.y; As[c * ${BM}u + r + 2u] = v.z; As[c * ${BM}u + r + 3u] = v.w; }`;
    }
    if (vec4) {
      return `    { ${e} let r = e / ${BK / 4}u; let c = (e % ${BK / 4}u) * 4u;
      var v = vec4<${t}>();
      if (row0 + r < M && k0 + c < K) { v = A[(offA + (row0 + r) * K + k0 + c) / 4u]; }
      As[c * ${BM}u + r] = v.x; As[(c + 1u) * ${BM}u + r] = v.y; As[(c + 2u) * ${BM}u + r] = v.z; As[(c + 3u) * ${BM}u + r] = v.w; }`;
    }
    const [rc, addr] = transA ? [`let r = e % ${BM}u; let c = e / ${BM}u;`, `(k0 + c) * M + row0 + r`] : [`let r = e / ${BK}u; let c = e % ${BK}u;`, `(row0 + r) * K + k0 + c`];
    return `    { ${e} ${rc}
      var v = ${t}(0);
      if (row0 + r < M && k0 + c < K) { v = A[offA + ${addr}]; }
      As[c * ${BM}u + r] = v; }`;
  });
  const loadB = unroll(lb, (l) => {
    const e = `let e = tid + ${l * THREADS}u;`;
    if (vec4 && transB) {
      return `    { ${e} let c = e / ${BK / 4}u; let r = (e % ${BK / 4}u) * 4u;
      var v = vec4<${t}>();
      if (k0 + r < K && col0 + c < N) { v = B[(offB + (col0 + c) * K + k0 + r) / 4u]; }
      let w = c / 4u; let q = c % 4u;
      Bs[r * ${BW}u + w][q] = v.x; Bs[(r + 1u) * ${BW}u + w][q] = v.y; Bs[(r + 2u) * ${BW}u + w][q] = v.z; Bs[(r + 3u) * ${BW}u + w][q] = v.w; }`;
    }
    if (vec4) {
      return `    { ${e} let r = e / ${BW}u; let c = (e % ${BW}u) * 4u;
      var v = vec4<${t}>();
      if (k0 + r < K && col0 + c < N) { v = B[(offB + (k0 + r) * N + col0 + c) / 4u]; }
      Bs[r * ${BW}u + c / 4u] = v; }`;
    }
    const [rc, addr] = transB ? [`let r = e % ${BK}u; let c = e / ${BK}u;`, `(col0 + c) * K + k0 + r`] : [`let r = e / ${BN}u; let c = e % ${BN}u;`, `(k0 + r) * N + col0 + c`];
    return `    { ${e} ${rc}
      var v = ${t}(0);
      if (k0 + r < K && col0 + c < N) { v = B[offB + ${addr}]; }
      Bs[r * ${BN}u + c] = v; }`;
  });
  const fma = (a: string, b: string, c: string) => (t === "f32" ? `fma(${vec4 ? `${V}(${a})` : a}, ${b}, ${c})` : `${c} + ${a} * ${b}`);
  const inner = `    for (var k = 0u; k < ${BK}u; k++) {
${unroll(TM, (i) => `      let a${i} = As[k * ${BM}u + ty * ${TM}u + ${i}u];`)}
${unroll(NB, (j) => `      let b${j} = Bs[k * ${BW}u + tx * ${NB}u + ${j}u];`)}
${unroll(TM * NB, (q) => `      c${q} = ${fma(`a${Math.floor(q / NB)}`, `b${q % NB}`, `c${q}`)};`)}
    }`;
  const store = unroll(TM, (i) => `  { let r = row0 + ty * ${TM}u + ${i}u;
    if (r < M) {
${unroll(NB, (j) => `      { let c = col0 + tx * ${TN}u + ${vec4 ? j * 4 : j}u; if (c < N) { C[(offC + r * N + c)${vec4 ? " / 4u" : ""}] = c${i * NB + j}; } }`)}
    } }`);
  return `${PRELUDE}
@group(0) @binding(1) var<storage, read> A: array<${V}>;
@group(0) @binding(2) var<storage, read> B: array<${V}>;
@group(0) @binding(3) var<storage, read_write> C: array<${V}>;
var<workgroup> As: array<${t}, ${BK * BM}>;
var<workgroup> Bs: array<${V}, ${BK * BW}>;
${batchFn(batchRank)}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let M = P[0];
  let N = P[1];
  let K = P[2];
  let tid = lid.x;
  let tx = tid % ${TX}u;
  let ty = tid / ${TX}u;
  let row0 = wid.y * ${BM}u;
  let col0 = wid.x * ${BN}u;
  let bo = batch_off(wid.z);
  let offA = bo.x * M * K;
  let offB = bo.y * K * N;
  let offC = wid.z * M * N;
${unroll(TM * NB, (q) => `  var c${q} = ${V}();`)}
  for (var k0 = 0u; k0 < K; k0 += ${BK}u) {
${loadA}
${loadB}
    workgroupBarrier();
${inner}
    workgroupBarrier();
  }
${store}
}`;
}

/** Batched matmul of contiguous `a` [..., M, K] and `b` [..., K, N]; batch dims broadcast to outShape's. */
export function matmul(rt: GpuRuntime, a: GpuData, aShape: readonly number[], b: GpuData, bShape: readonly number[], outShape: readonly number[], dtype: DType): GpuData {
  const t = wgslType(dtype);
  const r = outShape.length;
  const [M, N] = [outShape[r - 2]!, outShape[r - 1]!];
  const K = aShape[aShape.length - 1]!;
  const batchShape = outShape.slice(0, -2);
  const nBatch = sizeOf(batchShape);
  const out = rt.alloc(sizeOf(outShape) * 4);
  if (M * N * nBatch === 0) return out;
  if (K === 0) {
    fillInto(rt, out, t, M * N * nBatch, 0);
    return out;
  }
  const bs = (shape: readonly number[]) => {
    const own = shape.slice(0, -2);
    const k = batchShape.length - own.length;
    const strides = own.map((_, d) => sizeOf(own.slice(d + 1)));
    return batchShape.map((_, d) => (d < k || own[d - k] === 1 ? 0 : strides[d - k]!));
  };
  // Batch dims as params: the output batch shape, then A's and B's batch strides (in matrices).
  const params = [M, N, K, nBatch, ...batchShape, ...bs(aShape), ...bs(bShape)];
  if (nBatch > 65535) throw new DeltagradError(`matmul: webgpu runs at most 65535 batched products per call, got ${nBatch} (batch shape [${batchShape.join(", ")}])`);
  // A pending transpose (the VJPs' transpose(b, -1, -2)) is read in place: its source, transposed.
  const transA = a.pending !== null;
  const transB = b.pending !== null;
  const A = transA ? a.pending!.src : a;
  const B = transB ? b.pending!.src : b;
  // vec4 loads run along the operand's contiguous axis: K or M for A, N or K for B; stores along N.
  const vecOk = N % 4 === 0 && (transA ? M % 4 === 0 : K % 4 === 0) && (transB ? K % 4 === 0 : N % 4 === 0);
  const T = t === "f32" && vecOk && M * N >= 128 * 128 ? BIG : SMALL;
  const key = `matmul:${T.name}:${t}:${batchShape.length}:${transA ? "T" : "N"}${transB ? "T" : "N"}`;
  rt.dispatch(key, () => source(T, batchShape.length, t, transA, transB), params, [A.buffer, B.buffer, out.buffer], [Math.ceil(N / T.BN), Math.ceil(M / T.BM), nBatch]);
  return out;
}
