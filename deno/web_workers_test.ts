/**
 * The wasm backend's thread pool made of Web Workers (the browser path), run under Deno: Deno has
 * both node:worker_threads and Web Workers, and `DELTAGRAD_WORKERS = "web"` (set before the pool
 * starts) selects the latter. Deno runs each test module in its own isolate, so this pool is not
 * the one of threads_test.ts.
 */
import "./use_web_workers.ts";
import { activeThreads, conv2d, manualSeed, matmul, randn, setNumThreads, workerKind } from "@deltagrad/autograd";
import { assert, assertEquals } from "./assert.ts";

Deno.test("Web Workers: matmul and conv gradients are identical on 1 and 2 threads", async () => {
  setNumThreads(2);
  for (let i = 0; i < 500 && activeThreads() < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assertEquals(activeThreads(), 2);
  assertEquals(workerKind(), "web");
  const run = (threads: number) => {
    setNumThreads(threads);
    manualSeed(4);
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
