/**
 * The wasm backend under Deno: the default backend, worker threads through Deno's
 * node:worker_threads, and results identical on one and two threads.
 */
import { activeThreads, getBackend, manualSeed, matmul, randn, setNumThreads } from "@deltagrad/autograd";
import { assert, assertEquals } from "./assert.ts";

Deno.test("wasm is the default backend and its matmul is identical on 1 and 2 threads", () => {
  assertEquals(getBackend().name, "wasm");
  const run = (threads: number) => {
    setNumThreads(threads);
    manualSeed(3);
    return Array.from(matmul(randn([256, 300]), randn([300, 400])).dataSync());
  };
  const one = run(1);
  const two = run(2);
  assert(activeThreads() === 2, `expected 2 active threads, got ${activeThreads()}`);
  assert(one.every((v, i) => Object.is(v, two[i])), "1-thread and 2-thread results differ");
});
