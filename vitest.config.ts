import { defineConfig } from "vitest/config";

// Tests run the TypeScript sources through the "source" export condition (TOOLCHAIN.md);
// TEST_DIST=1 runs them against the built dist/ instead.
const conditions = process.env.TEST_DIST ? ["node", "import", "default"] : ["source", "node", "import", "default"];

export default defineConfig({
  ssr: { resolve: { conditions } },
  resolve: { conditions },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
