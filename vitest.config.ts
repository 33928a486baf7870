import { defineConfig } from "vitest/config";
import { relaxedSimdSupported } from "./packages/autograd/src/wasm/runtime.ts";

// Tests run the TypeScript sources through the "source" export condition (TOOLCHAIN.md);
// TEST_DIST=1 runs them against the built dist/ instead.
const conditions = process.env.TEST_DIST ? ["node", "import", "default"] : ["source", "node", "import", "default"];

/**
 * The wasm sgemm accumulates with relaxed SIMD's fused multiply-add where the engine validates it
 * (Node ≥ 22, Deno, Chrome), and with a multiply then an add elsewhere (Node 20). The kernel tests
 * run once more with the other build, whichever Node runs the suite: on Node 20 the "fma" project
 * switches relaxed SIMD on (a V8 flag that newer Nodes reject as a bad option), on newer Nodes the
 * "no-fma" project compiles the kernels with `setWasmFma(false)` (test/setup-backend.ts).
 */
const relaxedByDefault = relaxedSimdSupported();
const KERNEL_TESTS = [
  "packages/autograd/test/gemm-shapes.test.ts",
  "packages/autograd/test/conv-pool.test.ts",
  "packages/autograd/test/compile.test.ts",
  "packages/autograd/test/robustness.test.ts",
  "packages/nn/test/conv.test.ts",
  "packages/nn/test/reference.test.ts",
  "packages/nn/test/layers.test.ts",
  "packages/nn/test/compile-train.test.ts",
];

export default defineConfig({
  ssr: { resolve: { conditions } },
  resolve: { conditions },
  test: {
    testTimeout: 120_000,
    // DELTAGRAD_BACKEND=wasm runs every test on that backend (packages/autograd/test/setup-backend.ts).
    setupFiles: ["packages/autograd/test/setup-backend.ts"],
    // The JSON report feeds the plain "N passed, N failed" line that .ci/run prints.
    reporters: ["default", ["json", { outputFile: process.env.VITEST_JSON ?? ".vitest-report.json" }]],
    projects: [
      {
        extends: true,
        test: { name: "main", include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts", "bench/**/*.test.ts", "docs/**/*.test.ts"] },
      },
      relaxedByDefault
        ? { extends: true, test: { name: "no-fma", include: KERNEL_TESTS, env: { DELTAGRAD_WASM_FMA: "0" } } }
        : { extends: true, test: { name: "fma", include: KERNEL_TESTS, execArgv: ["--experimental-wasm-relaxed-simd"] } },
    ],
  },
});
