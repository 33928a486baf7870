/**
 * The product that tells the sgemm's two builds apart (gemm-shapes.test.ts, fma-child.ts, and
 * deno/smoke_test.ts): rows [−1, a] times columns [1, a] with a = 1 + 2⁻¹². Every output is
 * −1·1 + a·a, summed in that order: exactly 2⁻¹¹ + 2⁻²⁴. A fused multiply-add keeps the 2⁻²⁴; a
 * multiply then an add first rounds a·a to float32, a tie that drops it (ties to even), leaving 2⁻¹¹.
 */
import { tensor, type Tensor } from "@deltagrad/autograd";

const A = 1 + 2 ** -12;
/** a·a − 1 from a fused multiply-add. */
export const FUSED = 2 ** -11 + 2 ** -24;
/** a·a − 1 from a multiply then an add. */
export const UNFUSED = 2 ** -11;

/** [m, 2]: every row [−1, a]. @example `matmul(probeRows(64), probeColumns(64))` */
export function probeRows(m: number): Tensor {
  return tensor(Float32Array.from({ length: m * 2 }, (_, i) => (i % 2 === 0 ? -1 : A))).reshape([m, 2]);
}

/** [2, n]: every column [1, a]. @example `matmul(probeRows(4), probeColumns(1040))` */
export function probeColumns(n: number): Tensor {
  return tensor(Float32Array.from({ length: 2 * n }, (_, i) => (i < n ? 1 : A))).reshape([2, n]);
}

/** The same sum along k = 1024 (the dot-product path): rows whose p = 0 holds `first` and p = 4 holds a (lane 0 of two vectors). */
export function probeLongRows(m: number, first: number): Tensor {
  const k = 1024;
  return tensor(Float32Array.from({ length: m * k }, (_, i) => (i % k === 0 ? first : i % k === 4 ? A : 0))).reshape([m, k]);
}
