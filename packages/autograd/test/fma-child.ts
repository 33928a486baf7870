/**
 * Run by wasm-fma.test.ts in a fresh process (the kernels are compiled once per process):
 * `node [--experimental-wasm-relaxed-simd] --conditions=source --import tsx fma-child.ts on|off`.
 * "off" calls setWasmFma(false) before any wasm op. Prints one JSON line: whether relaxed SIMD is
 * there, which kernels run, a·a − 1 through the sgemm (a = 1 + 2⁻¹², after −1·1 in the same sum),
 * and the message of a late setWasmFma that disagrees with the compiled kernels.
 */
import * as dg from "@deltagrad/autograd";

const mode = process.argv[2] ?? "on";
if (mode === "off") dg.setWasmFma(false);
dg.setBackend("wasm");
const a = 1 + 2 ** -12;
const A = dg.tensor(Float32Array.from({ length: 128 }, (_, i) => (i % 2 === 0 ? -1 : a))).reshape([64, 2]);
const B = dg.tensor(Float32Array.from({ length: 128 }, (_, i) => (i < 64 ? 1 : a))).reshape([2, 64]);
const values = [...new Set(dg.matmul(A, B).dataSync())];
let lateError = "";
try {
  dg.setWasmFma(mode === "off");
} catch (e) {
  lateError = `${(e as Error).name}: ${(e as Error).message}`;
}
console.log(JSON.stringify({ relaxed: dg.relaxedSimdSupported(), fma: dg.wasmFma(), values, lateError }));
