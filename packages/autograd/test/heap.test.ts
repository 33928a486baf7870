/**
 * The wasm heap's allocator (memory.ts): exact-size bins, a best fit split from the free blocks
 * as they are when a bin is empty and the top has no room, and coalescing only when no single
 * free block is large enough.
 */
import { describe, expect, it } from "vitest";
import { Heap } from "../src/wasm/memory.js";

const MiB = 1 << 20;

/** A heap whose 4 MiB memory (its initial size) is full up to the top: one big free block below a small live one. */
function fullHeap(): { heap: Heap; hole: number } {
  const heap = new Heap({ shared: false, budget: 64 * MiB, reserved: 4096 });
  const end = heap.memory.buffer.byteLength;
  const hole = end - 4096 - 64 * 1024;
  const big = heap.alloc(hole);
  heap.alloc(64 * 1024); // live, at the top
  heap.free(big, hole);
  return { heap, hole };
}

describe("wasm heap allocator", () => {
  it("a repeating pattern of allocations settles into its bins: after a few passes, no coalescing, no bump, no growth", () => {
    const { heap } = fullHeap();
    const bytes = heap.memory.buffer.byteLength;
    // Each size is allocated after blocks of other sizes were freed (as in a training step), so
    // coalescing on a miss would merge those blocks back and the next pass would miss again.
    const pass = () => {
      const a = heap.alloc(100_000);
      const b = heap.alloc(50_000);
      heap.free(b, 50_000);
      const c = heap.alloc(200_000);
      heap.free(a, 100_000);
      const d = heap.alloc(30_000);
      heap.free(c, 200_000);
      heap.free(d, 30_000);
    };
    for (let i = 0; i < 3; i++) pass();
    const before = { ...heap.counters };
    for (let i = 0; i < 5; i++) pass();
    const c = heap.counters;
    expect(c.allocs - before.allocs).toBe(20);
    expect(c.binHits - before.binHits).toBe(20);
    expect(c.coalesces - before.coalesces).toBe(0);
    expect(c.bumps - before.bumps).toBe(0);
    expect(heap.memory.buffer.byteLength).toBe(bytes);
  });

  it("splits a free block without merging the others, and coalesces only when no single free block fits", () => {
    const { heap, hole } = fullHeap();
    const bytes = heap.memory.buffer.byteLength;
    const third = Math.floor(hole / 3 / 64) * 64;
    const p = [heap.alloc(third), heap.alloc(third), heap.alloc(third)];
    expect(heap.counters.coalesces).toBe(0);
    heap.free(p[0]!, third);
    heap.free(p[1]!, third);
    // Fits in one free block: split, no coalescing.
    const small = heap.alloc(1024);
    expect(heap.counters.coalesces).toBe(0);
    expect([p[0], p[1]]).toContain(small);
    heap.free(small, 1024);
    // Larger than either free block, smaller than the two merged (they are adjacent): coalesced, no growth.
    const two = heap.alloc(third + third / 2);
    expect(heap.counters.coalesces).toBe(1);
    expect(two).toBe(p[0]);
    expect(heap.memory.buffer.byteLength).toBe(bytes);
  });
});
