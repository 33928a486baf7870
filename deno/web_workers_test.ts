/**
 * The wasm backend's thread pool made of Web Workers (the browser path), run under Deno: Deno has
 * both node:worker_threads and Web Workers, and `DELTAGRAD_WORKERS = "web"` (set before the pool
 * starts) selects the latter. Deno runs each test module in its own isolate, so this pool is not
 * the one of threads_test.ts.
 */
import "./use_web_workers.ts";
import { assertSameBitsOnOneAndTwoThreads } from "./same_bits.ts";

Deno.test("Web Workers: matmul and conv gradients are identical on 1 and 2 threads", async () => {
  await assertSameBitsOnOneAndTwoThreads("web", 4);
});
