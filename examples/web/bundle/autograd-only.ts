// A bundler fixture (bundle.test.ts): an app that uses only `tensor` and `matmul`. Tree shaking
// keeps what they reach; autograd's `sideEffects` keeps the backend registration in its index.
import { matmul, tensor } from "@deltagrad/autograd";

const a = tensor([[1, 2], [3, 4]]);
const b = tensor([[5, 6], [7, 8]]);
console.log(JSON.stringify({ product: Array.from(await matmul(a, b).data()) }));
