/**
 * The browser tests' page (browser.test.ts opens it isolated and not): checks on the main thread
 * (the lecture graph, `fit` with default options, save/load errors, threads refused with a note)
 * and in fresh module workers (the thread pool's start, bit-identical results, timings). The
 * results land in `window.testResults` for the test to read.
 */
import { activeThreads, getBackend, manualSeed, matmul, randn, setNumThreads, tensor, threadsReady, wasmFma } from "@deltagrad/autograd";
import { MLP, crossEntropy, fit, load, save, serialize, deserialize } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";
import type { Reply, Request, ThreadProbe, Timings } from "./protocol.js";
import { sigmoidGraph } from "./sigmoid.js";

/** Asks a fresh worker one question and resolves with its answer. */
function ask<T extends Reply["type"]>(request: Request, answer: T): Promise<Extract<Reply, { type: T }>> {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    w.onmessage = (m: MessageEvent<Reply>) => {
      if (m.data.type === "error") reject(new Error(m.data.message));
      else if (m.data.type === answer) {
        w.terminate();
        resolve(m.data as Extract<Reply, { type: T }>);
      }
    };
    w.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
    w.postMessage(request);
  });
}

const errorOf = async (f: () => Promise<unknown>) => {
  try {
    await f();
    return "";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};

async function run() {
  const sigmoid = sigmoidGraph(1, 0, 0);
  const edited = sigmoidGraph(2, -0.5, 0.25);
  // fit with default options (verbose 1: a line per epoch on the console), then checkpoints.
  manualSeed(0);
  const model = new MLP([4, 8, 3]);
  const history = await fit(model, { x: randn([32, 4]), y: tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3)), loss: crossEntropy, optimizer: new SGD(model.parameters(), { lr: 0.1 }) });
  const roundTrip = Object.keys(deserialize(serialize(model.stateDict())));
  const saveError = await errorOf(() => save(model.stateDict(), "model.safetensors"));
  const loadError = await errorOf(() => load("model.safetensors"));
  // Threads on the main thread: refused (a browser's main thread may not block), with a one-time note.
  setNumThreads(2);
  const mainReady = await threadsReady();
  const product = matmul(randn([256, 300]), randn([300, 400])).dataSync().length;
  matmul(randn([256, 300]), randn([300, 400])).dataSync();
  const main = { backend: getBackend().name, ready: mainReady, active: activeThreads(), product, fma: wasmFma() };
  const probe: ThreadProbe = (await ask({ type: "probe", threads: 2 }, "probe")).threads;
  const timings: Timings = (await ask({ type: "timings", hidden: 784, batchSize: 200, steps: 9 }, "timings")).timings;
  return { isolated: globalThis.crossOriginIsolated === true, sigmoid, edited, fitLoss: history.loss, roundTrip, saveError, loadError, main, probe, timings };
}

(window as unknown as { testResults: Promise<unknown> }).testResults = run().catch((e: unknown) => ({ error: String((e as Error)?.stack ?? e) }));
