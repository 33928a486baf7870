/**
 * The playground's module worker: trains the MNIST MLP on the wasm backend with worker threads
 * (they need this thread — a browser's main thread may not block — and a cross-origin isolated
 * page), classifies drawn digits, and measures threads for the browser tests.
 */
import { activeThreads, conv2d, manualSeed, matmul, randn, setNumThreads, softmax, tensor, threadsReady, workerKind, type Tensor } from "@deltagrad/autograd";
import { MLP, crossEntropy, evaluate, fit, predict } from "@deltagrad/nn";
import { Adam } from "@deltagrad/optim";
import { decodeDigits, digitTensors } from "./digits.js";
import type { Reply, Request, ThreadProbe, Timings } from "./protocol.js";

const scope = self as unknown as { postMessage(m: Reply): void; onmessage: ((e: MessageEvent<Request>) => void) | null };
const post = (m: Reply) => scope.postMessage(m);
const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
let model: MLP | null = null;

async function train(r: Extract<Request, { type: "train" }>): Promise<void> {
  setNumThreads(r.threads);
  const t0 = performance.now();
  const active = await threadsReady();
  post({ type: "threads", requested: r.threads, active, kind: workerKind(), isolated, readyMs: performance.now() - t0 });
  const digits = decodeDigits(await (await fetch(new URL("digits.bin", import.meta.url))).arrayBuffer());
  const train = digitTensors(digits, 0, r.trainSize);
  const test = digitTensors(digits, r.trainSize, r.testSize);
  manualSeed(r.seed);
  model = new MLP([784, ...r.hidden, 10], { activation: "relu" });
  const t1 = performance.now();
  // Default verbose: one line per epoch on the worker's console (no TTY bar in a browser).
  await fit(model, {
    x: train.x, y: train.y, loss: crossEntropy, optimizer: new Adam(model.parameters(), { lr: r.lr }),
    epochs: r.epochs, batchSize: r.batchSize, metrics: ["accuracy"], validation: test, seed: r.seed,
    onProgress: (event) => {
      if (event.type !== "end") post({ type: "progress", event });
    },
  });
  const seconds = (performance.now() - t1) / 1000;
  const ev = evaluate(model, test.x, test.y, { loss: crossEntropy, metrics: ["accuracy"] });
  post({ type: "trained", testAccuracy: ev.metrics.accuracy!, testLoss: ev.loss, seconds, samplesPerSecond: (r.trainSize * r.epochs) / seconds });
}

async function classify(pixels: Float32Array): Promise<void> {
  if (!model) throw new Error("classify: train a model first");
  const p = softmax(predict(model, tensor(pixels).reshape([1, 784])));
  post({ type: "probabilities", probabilities: Array.from(await p.data()) });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ms = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

/** Products, conv gradients and large elementwise ops (split across threads too) on `threads` threads, for the bit-for-bit comparison. */
function sameBitsRun(threads: number): number[] {
  setNumThreads(threads);
  manualSeed(4);
  const x = randn([16, 3, 16, 16], { requiresGrad: true });
  const w = randn([8, 3, 5, 5], { requiresGrad: true });
  conv2d(x, w, null, { padding: 2 }).square().sum().backward();
  const e = randn([300_001]).exp(); // one long row: column pieces, a scalar tail
  const rows = randn([1024, 1100]).add(randn([1100])); // many rows with a row operand
  return [matmul(randn([256, 300]), randn([300, 400])).dataSync(), x.grad!.dataSync(), w.grad!.dataSync(), e.dataSync(), rows.dataSync()].flatMap((v) => Array.from(v));
}

async function probe(threads: number): Promise<ThreadProbe> {
  const a = randn([256, 300]);
  const b = randn([300, 400]);
  setNumThreads(threads);
  // The first product big enough for threads starts the pool; it must not wait for it.
  const firstProductMs = ms(() => matmul(a, b).dataSync());
  const activeAfterFirst = activeThreads();
  const t = performance.now();
  const ready = await threadsReady();
  const readyMs = performance.now() - t;
  const later = Array.from({ length: 7 }, () => ms(() => matmul(a, b).dataSync()));
  const one = sameBitsRun(1);
  const many = sameBitsRun(threads);
  setNumThreads(threads);
  const sameBits = one.length === many.length && one.every((v, i) => Object.is(v, many[i]));
  return { isolated, requested: threads, firstProductMs, activeAfterFirst, readyMs, ready, laterProductMs: median(later), kind: workerKind(), sameBits };
}

async function timings(hidden: number, batchSize: number, steps: number): Promise<Timings> {
  setNumThreads(2);
  const active = await threadsReady();
  manualSeed(0);
  const net = new MLP([784, hidden, 10], { activation: "relu" });
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const x = randn([batchSize, 784]);
  const y = tensor(Int32Array.from({ length: batchSize }, (_, i) => i % 10));
  const step = () => {
    opt.zeroGrad();
    const l: Tensor = crossEntropy(net.call(x), y);
    l.backward();
    opt.step();
    l.itemSync();
  };
  // Alternating rounds (1 thread, then 2), medians of each: load that drifts during the run
  // (other processes on the machine) weighs on both columns alike.
  const one: number[] = [];
  const two: number[] = [];
  for (let i = 0; i < 2; i++) step();
  for (let i = 0; i < steps; i++) {
    setNumThreads(1);
    one.push(ms(step));
    setNumThreads(2);
    two.push(ms(step));
  }
  return { hidden, batchSize, oneThreadMs: median(one), twoThreadsMs: median(two), activeThreads: active };
}

scope.onmessage = (e) => {
  const r = e.data;
  const run = async () => {
    if (r.type === "train") await train(r);
    else if (r.type === "classify") await classify(r.pixels);
    else if (r.type === "probe") post({ type: "probe", threads: await probe(r.threads) });
    else if (r.type === "timings") post({ type: "timings", timings: await timings(r.hidden, r.batchSize, r.steps) });
  };
  run().catch((err: unknown) => post({ type: "error", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
};
