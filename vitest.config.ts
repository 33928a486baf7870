import { defineConfig } from "vitest/config";

// Tests run the TypeScript sources through the "source" export condition (TOOLCHAIN.md);
// TEST_DIST=1 runs them against the built dist/ instead.
const conditions = process.env.TEST_DIST ? ["node", "import", "default"] : ["source", "node", "import", "default"];

export default defineConfig({
  ssr: { resolve: { conditions } },
  resolve: { conditions },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts", "bench/**/*.test.ts", "docs/**/*.test.ts"],
    testTimeout: 120_000,
    // DELTAGRAD_BACKEND=wasm runs every test on that backend (packages/autograd/test/setup-backend.ts).
    setupFiles: ["packages/autograd/test/setup-backend.ts"],
    // The JSON report feeds the plain "N passed, N failed" line that .ci/run prints.
    reporters: ["default", ["json", { outputFile: process.env.VITEST_JSON ?? ".vitest-report.json" }]],
  },
});
