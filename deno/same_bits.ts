/**
 * The check both Deno thread tests make: wait until the wasm backend's pool has a second thread
 * up (workers start in the background), confirm which worker API it uses, then require matmul
 * and conv gradients (im2col and col2im) to be the same bits on one thread and on two.
 */
import { activeThreads, conv2d, manualSeed, matmul, randn, setNumThreads, workerKind } from "@deltagrad/autograd";
import { assert, assertEquals } from "./assert.ts";

export async function assertSameBitsOnOneAndTwoThreads(kind: "worker_threads" | "web", seed: number): Promise<void> {
  setNumThreads(2);
  for (let i = 0; i < 500 && activeThreads() < 2; i++) await new Promise((r) => setTimeout(r, 10));
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
