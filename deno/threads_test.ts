/**
 * The wasm backend under Deno: the default backend, worker threads through Deno's
 * node:worker_threads, and results identical on one and two threads.
 */
import { activeThreads, conv2d, getBackend, manualSeed, matmul, randn, setNumThreads, workerKind } from "@deltagrad/autograd";
import { assert, assertEquals } from "./assert.ts";

Deno.test("wasm is the default backend; matmul and conv gradients are identical on 1 and 2 threads", async () => {
  assertEquals(getBackend().name, "wasm");
  // Workers start in the background; wait until one is up so that the 2-thread run really splits.
  setNumThreads(2);
  for (let i = 0; i < 500 && activeThreads() < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assertEquals(activeThreads(), 2);
  assertEquals(workerKind(), "worker_threads");
  const run = (threads: number) => {
    setNumThreads(threads);
    manualSeed(3);
    const x = randn([64, 3, 16, 16], { requiresGrad: true });
    const w = randn([8, 3, 5, 5], { requiresGrad: true });
    conv2d(x, w, null, { padding: 2 }).square().sum().backward();
    return [matmul(randn([256, 300]), randn([300, 400])).dataSync(), x.grad!.dataSync(), w.grad!.dataSync()].flatMap((v) => Array.from(v));
  };
  const one = run(1);
  const two = run(2);
  assertEquals(one.length, two.length);
  assert(one.every((v, i) => Object.is(v, two[i])), "1-thread and 2-thread results differ");
});
