/**
 * The check both Deno thread tests make: the pool starts without blocking (a product right after
 * `setNumThreads(2)` runs at once, on the threads already up), `threadsReady()` then resolves to 2
 * once the second thread is up, the pool uses the expected worker API, and matmul and conv
 * gradients (im2col and col2im) are the same bits on one thread and on two.
 */
import { activeThreads, conv2d, manualSeed, matmul, randn, setNumThreads, threadsReady, workerKind } from "@deltagrad/autograd";
import { assert, assertEquals } from "./assert.ts";

export async function assertSameBitsOnOneAndTwoThreads(kind: "worker_threads" | "web", seed: number): Promise<void> {
  setNumThreads(2);
  // The first threaded product starts the pool and must not wait for it (it used to block up to 10 s).
  const t0 = performance.now();
  matmul(randn([256, 300]), randn([300, 400])).dataSync();
  const first = performance.now() - t0;
  assert(first < 1000, `first threaded product took ${first.toFixed(0)} ms`);
  assertEquals(await threadsReady(), 2);
  assertEquals(activeThreads(), 2);
  assertEquals(workerKind(), kind);
  const run = (threads: number) => {
    setNumThreads(threads);
    manualSeed(seed);
    const x = randn([64, 3, 16, 16], { requiresGrad: true });
    const w = randn([8, 3, 5, 5], { requiresGrad: true });
    conv2d(x, w, null, { padding: 2 }).square().sum().backward();
    return [matmul(randn([256, 300]), randn([300, 400])).dataSync(), x.grad!.dataSync(), w.grad!.dataSync()].flatMap((v) => Array.from(v));
  };
  const one = run(1);
  const two = run(2);
  assertEquals(one.length, two.length);
  assert(one.every((v, i) => Object.is(v, two[i])), "1-thread and 2-thread results differ");
}
