/**
 * Messages between the playground page and its training worker (worker.ts). The worker owns the
 * model; the page only draws. Everything here is plain data (structured clone).
 */
import type { ProgressEvent } from "@deltagrad/nn";

/** What the page asks of the worker. */
export type Request =
  | { type: "train"; trainSize: number; testSize: number; epochs: number; batchSize: number; hidden: number[]; lr: number; threads: number; seed: number }
  | { type: "classify"; pixels: Float32Array }
  | { type: "probe"; threads: number }
  | { type: "timings"; hidden: number; batchSize: number; steps: number };

/** A batch or epoch of training, as the page charts it (no History object crosses the boundary). */
export type Progress = Exclude<ProgressEvent, { type: "end" }>;

/** What the worker answers. */
export type Reply =
  | { type: "threads"; requested: number; active: number; kind: string | null; isolated: boolean; readyMs: number }
  | { type: "progress"; event: Progress }
  | { type: "trained"; testAccuracy: number; testLoss: number; seconds: number; samplesPerSecond: number }
  | { type: "probabilities"; probabilities: number[] }
  | { type: "probe"; threads: ThreadProbe }
  | { type: "timings"; timings: Timings }
  | { type: "error"; message: string };

/** The worker's thread pool as seen right after `setNumThreads`, without and then with waiting. */
export interface ThreadProbe {
  isolated: boolean;
  requested: number;
  /** Milliseconds of the first product big enough to use threads, started right after setNumThreads (it must not wait for workers). */
  firstProductMs: number;
  /** Threads in use right after that product (workers may still be starting). */
  activeAfterFirst: number;
  /** Milliseconds until `threadsReady()` resolved, and what it resolved to. */
  readyMs: number;
  ready: number;
  /** Median milliseconds of later products (the pool up). */
  laterProductMs: number;
  kind: string | null;
  /** A 1-thread and an n-thread product and conv gradient compared bit for bit. */
  sameBits: boolean;
}

/** Median milliseconds of one MLP training step (784 → hidden → 10, Adam) on 1 and on 2 threads, in the worker. */
export interface Timings {
  hidden: number;
  batchSize: number;
  oneThreadMs: number;
  twoThreadsMs: number;
  activeThreads: number;
}
