/**
 * Plain code against scoped code (issue 20): the same deltagrad steps written the way a notebook
 * or a hand-written loop writes them — results dropped, never disposed — and inside
 * `scoped(() => …)`, timed side by side in one process on the wasm backend (1 thread), with
 * TF.js wasm (`tidy` + `dispose`) as the peer. No forced `gc()` anywhere: users have none. The
 * event loop turns between repetitions (as between notebook cells or in an async loop), never
 * inside one; a fresh process that never yields is measured separately (warmup.ts).
 */
import * as dg from "@deltagrad/autograd";
import { activate, uniform, type Runner } from "./frameworks.js";
import { elementwiseRunner } from "./workloads.js";
import { fmt, table } from "./format.js";
import type { Warmup } from "./fresh.js";
import type { BenchResult } from "./run.js";

export interface PlainRow {
  case: string;
  /** Median ms per step of the plain and the scoped version, and the 10th–90th percentile of the repetitions. */
  plain: number;
  scoped: number;
  plainRange: [number, number];
  scopedRange: [number, number];
  /** plain time ÷ scoped time (the target is ≤ 1.25). */
  ratio: number;
}

export interface PlainResult {
  rows: PlainRow[];
  /** TF.js wasm W5 with tidy and dataSync, ms, and its time ÷ deltagrad's plain W5 with the read (target ≥ 1.5). */
  tfjsW5: number;
  tfjsOverPlain: number;
  /** deltagrad's compiled W5 with the read (2 threads, the bench's compiled runner) in the same conditions, ms, and TF.js wasm's time ÷ it (issue 22's target: ≥ 4). */
  compiledW5: number;
  tfjsOverCompiled: number;
  reps: number;
  /** Wasm memory after the section (never above the budget). */
  memory: dg.WasmMemoryStats;
}

interface Pair {
  name: string;
  plain: () => unknown;
  scoped: () => unknown;
}

export const quantile = (xs: number[], q: number) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
};
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

/**
 * The pairs: W1 N=512 (product read, then dropped), W5 without and with the host read, and W5
 * summed. W5's chain is deferred (wasm/lazy.ts): without a read it never runs, plain or scoped;
 * read, it runs into a block no tensor keeps; summed, inside the sum's kernel, nothing stored.
 * W1's product at N = 512 is deferred too, its read run into such a block, so none of these loops
 * leaves a dropped block for the sweep to reclaim or copy out (the quick run's N = 128 product,
 * under 2¹⁸ outputs, is stored and dropped).
 */
export function pairs(quick: boolean): { list: Pair[]; dispose: () => void; n: number } {
  const n = quick ? 100_000 : 1_000_000;
  const m = quick ? 128 : 512;
  const x = dg.tensor(uniform(n, 51, -1, 1));
  const a = dg.tensor(uniform(m * m, 11, -1, 1)).reshape([m, m]);
  const b = dg.tensor(uniform(m * m, 12, -1, 1)).reshape([m, m]);
  const list: Pair[] = [
    { name: `W1 matmul N=${m}, read`, plain: () => dg.matmul(a, b).dataSync(), scoped: () => dg.scoped(() => dg.matmul(a, b).dataSync()) },
    {
      name: `W5 exp(x)·x + 1, n=${n.toLocaleString("en")}`,
      plain: () => x.exp().mul(x).add(1),
      scoped: () => dg.scoped(() => {
        x.exp().mul(x).add(1);
      }),
    },
    {
      name: `W5 exp(x)·x + 1, n=${n.toLocaleString("en")}, read`,
      plain: () => x.exp().mul(x).add(1).dataSync(),
      scoped: () => dg.scoped(() => x.exp().mul(x).add(1).dataSync()),
    },
    {
      name: `W5 exp(x)·x + 1, n=${n.toLocaleString("en")}, summed`,
      plain: () => x.exp().mul(x).add(1).sum(),
      scoped: () => dg.scoped(() => {
        x.exp().mul(x).add(1).sum();
      }),
    },
  ];
  return { list, n, dispose: () => [x, a, b].forEach((t) => t.dispose()) };
}

/** A loop timed by {@link interleave}: `times` gets each repetition's ms per iteration. */
export interface Timed {
  key: string;
  run: () => unknown;
  times: number[];
  iters: number;
}

/**
 * Times `timed` in turn, `reps` rounds, the event loop turning before each repetition (never inside
 * one), after a warm-up and a calibration to `minMs` a repetition, and at least `minIters` steps a
 * repetition. `before` runs first each time (TF.js's backend switch).
 */
export async function interleave(timed: Timed[], reps: number, minMs: number, before?: (t: Timed) => Promise<void> | undefined, minIters = 1): Promise<void> {
  for (const t of timed) {
    await before?.(t);
    for (let i = 0; i < 3; i++) t.run();
    const s = performance.now();
    t.run();
    t.iters = Math.max(minIters, Math.ceil(minMs / Math.max(performance.now() - s, 1e-3)));
  }
  for (let rep = 0; rep < reps; rep++) {
    for (const t of timed) {
      await before?.(t);
      await turn();
      const s = performance.now();
      for (let i = 0; i < t.iters; i++) t.run();
      t.times.push((performance.now() - s) / t.iters);
    }
  }
}

/** Runs the section; `log` gets one line per row. */
export async function runPlain(quick: boolean, log: (line: string) => void): Promise<PlainResult> {
  const prevBackend = dg.getBackend().name;
  const prevThreads = dg.getNumThreads();
  dg.setBackend("wasm");
  dg.setNumThreads(1);
  // Many short repetitions, interleaved: load from other processes comes in bursts of seconds.
  const reps = quick ? 5 : 21;
  const minMs = quick ? 3 : 80;
  const { list, n, dispose } = pairs(quick);
  // The peer: TF.js wasm W5 with tidy and dataSync (the bench's W5 runner).
  await activate("tfjs-wasm");
  const tf: Runner = elementwiseRunner("tfjs-wasm", n);
  // compile()'s W5 with the read, 2 threads (the main table's compiled column, here without the forced gc()).
  const comp: Runner = elementwiseRunner("deltagrad-compiled", n);
  const timed: Timed[] = [];
  for (const p of list) {
    timed.push({ key: `${p.name}|plain`, run: p.plain, times: [], iters: 1 });
    timed.push({ key: `${p.name}|scoped`, run: p.scoped, times: [], iters: 1 });
  }
  timed.push({ key: "tfjs", run: () => tf.step(), times: [], iters: 1 });
  timed.push({ key: "compiled", run: () => comp.step(), times: [], iters: 1 });
  try {
    await interleave(timed, reps, minMs, (t) => (t.key === "tfjs" ? activate("tfjs-wasm") : undefined));
  } finally {
    tf.dispose();
    comp.dispose();
    dispose();
    dg.setNumThreads(prevThreads);
    dg.setBackend(prevBackend);
  }
  const get = (key: string) => timed.find((t) => t.key === key)!.times;
  const rows: PlainRow[] = list.map((p) => {
    const pl = get(`${p.name}|plain`);
    const sc = get(`${p.name}|scoped`);
    const row: PlainRow = {
      case: p.name,
      plain: quantile(pl, 0.5),
      scoped: quantile(sc, 0.5),
      plainRange: [quantile(pl, 0.1), quantile(pl, 0.9)],
      scopedRange: [quantile(sc, 0.1), quantile(sc, 0.9)],
      ratio: quantile(pl, 0.5) / quantile(sc, 0.5),
    };
    log(`  plain ${row.case}: plain ${row.plain.toFixed(2)} ms, scoped ${row.scoped.toFixed(2)} ms, ratio ${row.ratio.toFixed(2)}`);
    return row;
  });
  const tfjsW5 = quantile(get("tfjs"), 0.5);
  const plainRead = rows[2]!.plain;
  const compiledW5 = quantile(get("compiled"), 0.5);
  log(`  plain: TF.js wasm W5 (tidy, read) ${tfjsW5.toFixed(2)} ms = ${(tfjsW5 / plainRead).toFixed(2)}× deltagrad's plain W5 with the read, ${(tfjsW5 / compiledW5).toFixed(2)}× its compiled W5 with the read (${compiledW5.toFixed(2)} ms)`);
  return { rows, tfjsW5, tfjsOverPlain: tfjsW5 / plainRead, compiledW5, tfjsOverCompiled: tfjsW5 / compiledW5, reps, memory: dg.wasmMemoryStats() };
}

/** The plain-code section: plain against scoped, TF.js wasm, the fresh process's first steps, W3/W4 alone. */
export function plainMarkdown(res: BenchResult): string[] {
  const p = res.plain;
  if (!p && !res.warmup && !res.standalone) return [];
  const ms = (v: number) => fmt(v);
  const range = (r: [number, number]) => `${fmt(r[0])}–${fmt(r[1])}`;
  const lines = ["", "Plain code (results dropped, never disposed) against the same code in `scoped(() => …)`: deltagrad wasm, 1 thread, no forced `gc()`; the event loop turns between repetitions, never inside one. W5's chain is deferred (docs/memory.md): without a read it never runs, plain or scoped; read, it runs into a block no tensor keeps; summed, inside the sum's kernel, nothing stored; W1's product (N = 512) is deferred too, its read run into such a block — so none of these loops drops a stored block. Medians of interleaved repetitions, 10th–90th percentile in parentheses:", ""];
  if (p) {
    lines.push(
      ...table(
        ["case", "plain ms", "scoped ms", "plain ÷ scoped"],
        [false, true, true, true],
        p.rows.map((r) => [r.case, `${ms(r.plain)} (${range(r.plainRange)})`, `${ms(r.scoped)} (${range(r.scopedRange)})`, r.ratio.toFixed(2)]),
      ),
      "",
      `TF.js wasm W5 with \`tidy\` and \`dataSync()\`: ${ms(p.tfjsW5)} ms, ${p.tfjsOverPlain.toFixed(2)}× deltagrad's plain W5 with the read; deltagrad's compiled W5 with the read (2 threads) in the same conditions ${ms(p.compiledW5)} ms, ${p.tfjsOverCompiled.toFixed(2)}× faster than TF.js wasm. Wasm memory after the section: ${(p.memory.memoryBytes / 2 ** 20).toFixed(0)} MiB (budget ${(p.memory.budgetBytes / 2 ** 20).toFixed(0)} MiB); ${p.memory.reclaimed} blocks reclaimed without a copy, ${p.memory.evictions} evicted.`,
    );
  }
  if (res.warmup) {
    const w = res.warmup;
    lines.push("", `Fresh process, plain W5 summed from its first step (the chain runs in the sum's kernel: nothing stored), never yielding to the event loop (warmup.ts): steps 1–40 ${ms(w.first40)} ms, steps 41–${w.steps} ${ms(w.later)} ms (ratio ${w.ratio.toFixed(2)}); the same loop scoped ${ms(w.scopedLater)} ms (plain ÷ scoped ${w.plainOverScoped.toFixed(2)})${w.meanLater !== undefined && w.scopedMeanLater !== undefined ? `; means of steps 41–${w.steps} plain ${ms(w.meanLater)} ms, scoped ${ms(w.scopedMeanLater)} (${(w.meanLater / w.scopedMeanLater).toFixed(2)}: a median of single steps passes over the steps that evict)` : ""}${w.scopedFresh ? `; the scoped loop alone in another fresh process: steps 1–40 ${ms(w.scopedFresh.first40)} ms, steps 41–${w.steps} ${ms(w.scopedFresh.later)} ms (ratio ${w.scopedFresh.ratio.toFixed(2)}: a fresh process's own first steps)` : ""}.`);
    const r = w.read;
    if (r) lines.push("", `The same with the read (\`dataSync()\`: the chain run into a block no tensor keeps, and a new 4 MB array, each step): plain steps 1–40 ${ms(r.first40)} ms, steps 41–${r.steps} ${ms(r.later)} ms (ratio ${r.ratio.toFixed(2)}${r.ratios ? `, the median of three fresh processes: ${r.ratios.map((x) => x.toFixed(2)).join(" · ")}` : ""})${r.hugePages ? `; with glibc on huge pages (\`GLIBC_TUNABLES=glibc.malloc.hugetlb=1\`) ${ms(r.hugePages.first40)} then ${ms(r.hugePages.later)} ms (ratio ${r.hugePages.ratio.toFixed(2)})` : ""}${r.scopedFresh ? `; the scoped loop alone in another fresh process ${ms(r.scopedFresh.first40)} then ${ms(r.scopedFresh.later)} ms (ratio ${r.scopedFresh.ratio.toFixed(2)}): each new array lands on fresh pages until the allocator starts recycling freed ones` : ""}.`);
  }
  if (res.warmup?.alone) {
    const later = (r: NonNullable<Warmup["alone"]>[number]) =>
      r.later ? `, then ${ms(r.later.plain)} and ${ms(r.later.scoped)} (${r.later.ratio.toFixed(2)}) over the last 21 of 42 more (wasm memory ${Math.round(r.memoryMB!)} MB after the first 21, ${r.swept} blocks reclaimed or evicted by then)` : "";
    lines.push("", `The same pairs, each the only loop of a fresh process (warmup.ts alone; after its first turn of the event loop, which still turns between repetitions of at least 20 steps), over 21 repetitions: ${res.warmup.alone.map((r) => `${r.case}: plain ${ms(r.plain)} ms, scoped ${ms(r.scoped)} ms (${r.ratio.toFixed(2)})${later(r)}`).join("; ")}. Above, the other loops' garbage makes the collector run often; alone, it runs when this loop's own host arrays (reads, evicted copies) press it, so more dropped results are evicted by copy, and the copies land on fresh memory more often (this VM faults a fresh page in at ~10 µs). A plain loop's first repetitions also fill wasm memory with dropped results up to the resident target (256 MiB; fresh pages) before the sweep recycles them.`);
  }
  if (res.standalone && res.standalone.length > 0) {
    // Fresh processes of the same code differ among themselves (up to 1.6× on this VM, a process's
    // memory placement: docs/performance.md), and "here" is one process: its spread says how far
    // one draw can be from another.
    const spread = (v: number[]) => (Math.max(...v) / Math.min(...v)).toFixed(2);
    lines.push("", `deltagrad wasm W3/W4 in this process after the full run against the same alone in a fresh process, alternating round by round (this VM's speed drifts over minutes; a ratio of neighbours cancels it): ${res.standalone.map((s) => `${s.workload} here ${s.here.map(fmt).join(" · ")}, alone ${s.alone.map(fmt).join(" · ")} (slowest ÷ fastest fresh process ${spread(s.alone)}), round ratios ${s.ratios.map((r) => r.toFixed(2)).join(" · ")} (median ${s.ratio.toFixed(2)}; the main table's figure ${fmt(s.full)})`).join("; ")}. "Here" is a single process: one draw from a spread like the fresh ones'.`);
  }
  return lines;
}
