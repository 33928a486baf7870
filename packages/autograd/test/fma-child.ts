/**
 * Run by wasm-fma.test.ts in a fresh process (the kernels are compiled once per process):
 * `node [--experimental-wasm-relaxed-simd] --conditions=source --import tsx fma-child.ts on|off`.
 * "off" calls setWasmFma(false) before any wasm op. Prints one JSON line: whether relaxed SIMD is
 * there, which kernels run, the distinct values of fma-support.ts's product a·a − 1 through the sgemm,
 * and the message of a late setWasmFma that disagrees with the compiled kernels.
 */
import * as dg from "@deltagrad/autograd";
import { probeColumns, probeRows } from "./fma-support.js";

const mode = process.argv[2] ?? "on";
if (mode === "off") dg.setWasmFma(false);
dg.setBackend("wasm");
const values = [...new Set(dg.matmul(probeRows(64), probeColumns(64)).dataSync())];
let lateError = "";
try {
  dg.setWasmFma(mode === "off");
} catch (e) {
  lateError = `${(e as Error).name}: ${(e as Error).message}`;
}
console.log(JSON.stringify({ relaxed: dg.relaxedSimdSupported(), fma: dg.wasmFma(), values, lateError }));
