import { defineConfig } from "tsup";

export default defineConfig({
  // The Node-only files and their browser stand-ins are entries of their own, reached at run time
  // through package.json "imports" (#progress-bar, #file-io), which pick one by export condition.
  // src/onnx/index.ts is the "./onnx" subpath (dist/onnx/index.js), kept out of the main bundle.
  entry: ["src/index.ts", "src/training/progress-node.ts", "src/training/progress-browser.ts", "src/checkpoint/file-io-node.ts", "src/checkpoint/file-io-browser.ts", "src/onnx/index.ts"],
  external: ["#progress-bar", "#file-io"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
});
