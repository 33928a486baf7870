/**
 * The wasm backend under Deno: the default backend, worker threads through Deno's
 * node:worker_threads, and results identical on one and two threads.
 */
import { getBackend } from "@deltagrad/autograd";
import { assertEquals } from "./assert.ts";
import { assertSameBitsOnOneAndTwoThreads } from "./same_bits.ts";

Deno.test("wasm is the default backend; matmul and conv gradients are identical on 1 and 2 threads", async () => {
  assertEquals(getBackend().name, "wasm");
  await assertSameBitsOnOneAndTwoThreads("worker_threads", 3);
});
