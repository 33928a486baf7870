// A bundler fixture (bundle.test.ts): nn's "./onnx" subpath, which is also meant to load in a page.
import { exportOnnx, importOnnx } from "@deltagrad/nn/onnx";

console.log(JSON.stringify({ exportOnnx: typeof exportOnnx, importOnnx: typeof importOnnx }));
