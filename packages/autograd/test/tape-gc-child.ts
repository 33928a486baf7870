/**
 * Run by tape.test.ts in a fresh process: `node --conditions=source --import tsx tape-gc-child.ts`.
 * Prints one JSON line.
 *
 * First the graph is made to outlive young-generation collections, as a long training step's
 * graph does (a CNN step on the cpu backend takes ~250 ms, over many scavenges): chains of 600
 * ops held while short-lived garbage is allocated, so V8's allocation-site feedback sees the graph
 * objects survive. Then the lecture's scalar graph (build, backward, read) runs 20,000 times, and
 * the old generation's growth over those graphs is reported. A graph object that V8 has learned to
 * allocate straight into the old generation ("pretenuring") keeps each young object it points to
 * alive through every scavenge until the next full collection, so the scalar graphs would be
 * promoted wholesale (~100 MB over this loop, each graph costing twice its time).
 */
import { getHeapSpaceStatistics } from "node:v8";
import * as dg from "@deltagrad/autograd";

dg.setBackend(process.argv[2] ?? "cpu");
let sink = 0;
let slot: unknown = null;
for (let round = 0; round < 12; round++) {
  let h = dg.tensor([1, 2, 3, 4], { requiresGrad: true });
  const keep: dg.Tensor[] = [];
  for (let i = 0; i < 600; i++) {
    h = h.mul(1.0001).add(0.001);
    keep.push(h);
    // ~40 KB of short-lived objects per op: young collections run while the chain is alive.
    for (let j = 0; j < 400; j++) slot = { j, next: { j } };
  }
  h.sum().backward();
}

const x = dg.tensor(1);
const w = dg.tensor(0, { requiresGrad: true });
const b = dg.tensor(0, { requiresGrad: true });
const graph = () => {
  w.grad = null;
  b.grad = null;
  w.mul(x).add(b).neg().exp().add(1).reciprocal().backward();
  return w.grad!.itemSync() + b.grad!.itemSync();
};
for (let i = 0; i < 2000; i++) sink += graph();
const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!.space_used_size;
const before = oldSpace();
let grew = 0;
for (let i = 0; i < 20_000; i++) {
  sink += graph();
  grew = Math.max(grew, oldSpace() - before);
}
console.log(JSON.stringify({ oldSpaceGrowthBytes: grew, sink: Number.isFinite(sink) && slot !== null }));
