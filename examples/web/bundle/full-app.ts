// A bundler fixture (bundle.test.ts): an app that uses autograd, nn and optim — fit with default
// options (one console line per epoch), checkpoint bytes, and the browser's save error.
import { manualSeed, randn, tensor } from "@deltagrad/autograd";
import { MLP, crossEntropy, deserialize, fit, save, serialize } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";

manualSeed(0);
const x = randn([64, 4]);
const y = tensor(Int32Array.from({ length: 64 }, (_, i) => i % 3));
const model = new MLP([4, 8, 3]);
const history = await fit(model, { x, y, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr: 0.01 }), epochs: 2 });
const keys = Object.keys(deserialize(serialize(model.stateDict())));
let saveError = "";
try {
  await save(model.stateDict(), "model.safetensors");
} catch (e) {
  saveError = (e as Error).message;
}
console.log(JSON.stringify({ loss: history.loss, keys, saveError }));
