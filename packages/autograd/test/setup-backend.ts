/**
 * Vitest setup (root vitest.config.ts `setupFiles`): `DELTAGRAD_BACKEND=wasm npx vitest run`
 * runs the whole suite with that backend active. Unset, the default (cpu) stays active.
 * `DELTAGRAD_WASM_FMA=0` compiles the wasm sgemm without relaxed SIMD's multiply-add before any
 * test runs (vitest.config.ts's second-kernels project, on an engine where it is on by default).
 */
import { getBackend, setBackend, setWasmFma } from "@deltagrad/autograd";

if (process.env.DELTAGRAD_WASM_FMA === "0") setWasmFma(false);
const wanted = process.env.DELTAGRAD_BACKEND;
if (wanted) {
  setBackend(wanted);
  if (getBackend().name !== wanted) throw new Error(`setup-backend: asked for ${wanted}, got ${getBackend().name}`);
}
