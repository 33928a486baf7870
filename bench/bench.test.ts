import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DELTAGRAD } from "./src/frameworks.js";
import type { BenchResult } from "./src/run.js";
import { plainMarkdown } from "./src/plain.js";
import { torchMarkdown } from "./src/torch.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// `pnpm bench --quick` end to end, in a child process as a user runs it: no crash, every
// workload reported for every framework (deltagrad wasm on 1 and 2 threads and cpu; TF.js cpu
// and wasm; jax-js wasm) (W3 on TF.js wasm as unsupported, with its reason), and every framework
// computing the same numbers (deltagrad on 2 threads the same bits as on 1). No timing
// thresholds: CI machines are noisy.
describe("pnpm bench --quick", () => {
  it("runs every workload side by side and the frameworks agree", () => {
    const out = mkdtempSync(join(tmpdir(), "deltagrad-bench-"));
    // The command `pnpm bench --quick` runs, with the results written to a scratch folder.
    const args = ["--expose-gc", "--conditions=source", "--import", "tsx", join(root, "bench", "src", "run.ts"), "--quick", "--out", out];
    execFileSync(process.execPath, args, { cwd: root, stdio: "pipe", timeout: 280_000 });
    expect(existsSync(join(out, "latest.md"))).toBe(true);
    const res = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as BenchResult;
    expect(res.quick).toBe(true);
    expect(new Set(res.rows.map((r) => r.workload))).toEqual(new Set(["W1", "W2", "W3", "W4", "W5"]));
    for (const r of res.rows) {
      for (const fw of [...DELTAGRAD, "tfjs-cpu", "jax-js-wasm"] as const) expect(r.value[fw], `${r.workload} ${fw}`).toBeGreaterThan(0);
      for (const d of DELTAGRAD) for (const p of ["tfjs-cpu", "jax-js-wasm"] as const) expect(r.ratio[d]?.[p]).toBeGreaterThan(0);
      if (r.workload === "W3") {
        expect(r.value["tfjs-wasm"]).toBeNull();
        expect(r.unsupported["tfjs-wasm"]).toMatch(/Conv2DBackpropFilter/);
      } else expect(r.value["tfjs-wasm"]).toBeGreaterThan(0);
    }
    // Each deltagrad column against every later column and every peer: wasm against 2t, compiled,
    // cpu and the 3 peers (6), 2t against compiled, cpu and the peers (5), compiled against cpu and
    // the peers (4), cpu against the peers (3) = 18 a row, 14 for W3 (no TF.js wasm); quick mode
    // has two W1 rows.
    expect(res.checks.length).toBe(18 * (res.rows.length - 1) + 14);
    for (const against of DELTAGRAD) {
      expect(res.checks.filter((c) => c.against === against && c.framework === "jax-js-wasm")).toHaveLength(res.rows.length);
    }
    const exact = res.checks.filter((c) => c.exact);
    // Bit for bit: wasm against 2t and against compiled, 2t against compiled (a replay runs eager's kernels).
    expect(exact).toHaveLength(3 * res.rows.length);
    for (const c of exact) expect([[c.against, c.framework], c.maxRelErr]).toEqual([expect.toSatisfy(([a, f]: string[]) => ["deltagrad-wasm,deltagrad-wasm-2t", "deltagrad-wasm,deltagrad-compiled", "deltagrad-wasm-2t,deltagrad-compiled"].includes(`${a},${f}`)), 0]);
    for (const c of res.checks) expect(c, `${c.workload} ${c.against} vs ${c.framework}: ${c.what}`).toMatchObject({ ok: true });
    expect(readFileSync(join(out, "latest.md"), "utf8")).toMatch(/\| W4 scalar sigmoid graph/);
  }, 300_000);
});

// The targets against PyTorch read the paired rounds' median where they ran (torch.ts's
// pairedTorch), not the main table's ratio of figures taken minutes apart.
describe("torchMarkdown", () => {
  const rows = [{ workload: "W3", case: "LeNet-5 batch 64, SGD", value: { "deltagrad-wasm-2t": 30, "deltagrad-compiled": 20 } }];
  const torch = { version: "1.13", openblasPthread: true, threads: { "1": { W3: 10 }, "2": { W3: 12 } } };

  it("reads W3's target from the paired median and shows the table's ratio beside it", () => {
    const paired = [{ workload: "W3", deltagrad: [9, 11, 30], torch: [10, 10, 10], ratios: [0.9, 1.1, 3], ratio: 1.1 }];
    const md = torchMarkdown({ rows, torch, torchPaired: paired }).join("\n");
    expect(md).toContain("W3 compiled ≤ 1.0× PyTorch 1t: 1.10× (paired rounds; the table's 2.00×) not met");
    expect(md).toContain("ratios 0.90 · 1.10 · 3.00 (median 1.10)");
    const met = torchMarkdown({ rows, torch, torchPaired: [{ ...paired[0]!, ratio: 0.95 }] }).join("\n");
    expect(met).toContain("0.95× (paired rounds; the table's 2.00×) met");
  });

  // W2's speed-up over eager: eager 2t timed in the same rounds as compiled, so the target reads
  // neighbours in time too (the table's compiled W2 read 19.4 ms while its rounds read 15.5–18.0).
  it("reads W2's speed-up over eager from the paired rounds where eager ran in them", () => {
    const w2 = [{ workload: "W2", case: "MLP", value: { "deltagrad-wasm-2t": 24, "deltagrad-compiled": 20 } }];
    const t2 = { version: "1.13", openblasPthread: true, threads: { "1": { W2: 40 }, "2": { W2: 30 } } };
    const paired = [{ workload: "W2", deltagrad: [16, 17, 20], torch: [40, 40, 40], ratios: [0.4, 0.425, 0.5], ratio: 0.425, eager: [24, 22, 22], speedups: [1.5, 22 / 17, 1.1], speedup: 22 / 17 }];
    const md = torchMarkdown({ rows: w2, torch: t2, torchPaired: paired }).join("\n");
    expect(md).toContain("≥ 1.3× faster than eager: 1.29× (paired rounds; the table's 1.20×) not met");
    expect(md).toContain("eager 2t in the same rounds 24.0 · 22.0 · 22.0, eager ÷ compiled 1.50 · 1.29 · 1.10 (median 1.29)");
    const met = torchMarkdown({ rows: w2, torch: t2, torchPaired: [{ ...paired[0]!, speedup: 1.4 }] }).join("\n");
    expect(met).toContain("1.40× (paired rounds; the table's 1.20×) met");
    expect(torchMarkdown({ rows: w2, torch: t2 }).join("\n")).toContain("≥ 1.3× faster than eager: 1.20× not met");
    // A median just under the bound prints four decimals, never a "1.30× … not met".
    const under = torchMarkdown({ rows: w2, torch: t2, torchPaired: [{ ...paired[0]!, speedup: 1.2996 }] }).join("\n");
    expect(under).toContain("1.2996× (paired rounds; the table's 1.20×) not met");
  });

  // W5's target beside the same runners in a process of their own, with the usual allocator and
  // with glibc keeping freed memory: how much of the figure is host pages (fresh.ts's w5Host).
  it("shows W5 alone under both allocator settings beside the table's ratio", () => {
    const w5 = [{ workload: "W5", case: "exp", value: { "deltagrad-wasm-2t": 6, "deltagrad-compiled": 4, "tfjs-wasm": 12 } }];
    const t5 = { version: "1.13", openblasPthread: true, threads: { "1": { W5: 3 }, "2": { W5: 3 } } };
    const w5Host = { usual: { compiled: 11.4, tfjs: 18.1, compiledInto: 1.81 }, noTrim: { compiled: 1.71, tfjs: 7.61 } };
    const md = torchMarkdown({ rows: w5, torch: t5, w5Host }).join("\n");
    expect(md).toContain("≥ 4× TF.js wasm: 3.00× not met; in a process running W5 alone 1.59× not met (compiled 11.4 ms, TF.js 18.1), and with glibc not trimming its heap (a diagnostic) 4.45× (1.71 and 7.61); compiled reading into one reused array (`dataSync(out)`) 1.81 ms alone, 10.0× TF.js");
  });

  it("falls back to the table's ratio without paired rounds", () => {
    expect(torchMarkdown({ rows, torch }).join("\n")).toContain("W3 compiled ≤ 1.0× PyTorch 1t: 2.00× not met");
  });

  // The 15:03 run of 2026-12-03 (7% steal) printed "-115.16 ms in a fresh process met": its eager
  // process ran slower than its tracing one, and a negative cost judged nothing.
  it("judges compile()'s start-up cost only when the difference is one", () => {
    const first = (steps: number[]) => ({ steps, compileMs: null, planMs: null, traces: 2 });
    const cost = (eager: number[], compiled: number[]) => ({
      workload: "W2",
      eager: { cold: first(eager), warm: first([80, 80, 80]) },
      compiled: { cold: first(compiled), warm: first([120, 100, 60]) },
    });
    const md = (eager: number[], compiled: number[]) => torchMarkdown({ rows, torch, compileCost: cost(eager, compiled) }).join("\n");
    expect(md([100, 90, 90], [200, 100, 60])).toContain("110 ms in a fresh process met, 60.0 ms for a second model met");
    expect(md([100, 90, 90], [250, 100, 60])).toContain("160 ms in a fresh process not met");
    expect(md([388, 272, 223], [295, 250, 135])).toContain("-115.00 ms in a fresh process not measured (the eager process ran slower than the tracing one), 60.0 ms for a second model met");
  });
});

describe("plainMarkdown", () => {
  // Fresh processes of the same W4 code ran 3.6–4.2 or 5.6–7.1 µs a graph on this VM (the
  // process's memory placement): the line shows how far the fresh processes lie apart, so one
  // process's "here" figure is read against that spread.
  it("shows the spread of the fresh processes beside the round ratios", () => {
    const standalone = [{ workload: "W4", full: 6.2, here: [6.1, 6.3], alone: [4, 6.4], ratios: [1.525, 0.984], ratio: 1.25 }];
    const md = plainMarkdown({ rows: [], standalone } as unknown as BenchResult).join("\n");
    expect(md).toContain("alone 4.00 · 6.40 (slowest ÷ fastest fresh process 1.60), round ratios 1.52 · 0.98 (median 1.25");
    expect(md).toContain("\"Here\" is a single process");
  });

  // The never-yielding plain loop's first steps against the scoped loop's own from another fresh
  // process: the floor any memory policy meets.
  it("prints the scoped loop's fresh-process ratio beside the plain loop's warm-up", () => {
    const warmup = { steps: 160, first40: 28.6, later: 3.78, ratio: 7.566, scopedLater: 1.64, plainOverScoped: 2.305, scopedFresh: { first40: 1.73, later: 1.66, ratio: 1.042 } };
    const md = plainMarkdown({ rows: [], warmup } as unknown as BenchResult).join("\n");
    expect(md).toContain("steps 1–40 28.6 ms, steps 41–160 3.78 ms (ratio 7.57)");
    expect(md).toContain("the scoped loop alone in another fresh process: steps 1–40 1.73 ms, steps 41–160 1.66 ms (ratio 1.04");
  });

  // The pairs each alone in a fresh process: the user's one loop, which the interleaved section
  // above (other loops' garbage driving the collector) can flatter.
  it("prints each plain/scoped pair's figures alone in a fresh process", () => {
    const alone = [
      { case: "W1 matmul N=512, read", plain: 8.25, scoped: 5.88, ratio: 1.403, memoryMB: 177.1, swept: 0, later: { plain: 8.07, scoped: 8.44, ratio: 0.957 } },
      { case: "W5 exp(x)·x + 1, n=1,000,000", plain: 1.61, scoped: 1.36, ratio: 1.184 },
    ];
    const md = plainMarkdown({ rows: [], warmup: { steps: 160, first40: 1, later: 1, ratio: 1, scopedLater: 1, plainOverScoped: 1, alone } } as unknown as BenchResult).join("\n");
    expect(md).toContain("each the only loop of a fresh process");
    expect(md).toContain("repetitions of at least 20 steps");
    // The steady state beside the first repetitions: W1's gap is its fill of wasm memory.
    expect(md).toContain("W1 matmul N=512, read: plain 8.25 ms, scoped 5.88 ms (1.40), then 8.07 and 8.44 (0.96) over the last 21 of 42 more (wasm memory 177 MB after the first 21, 0 blocks reclaimed or evicted by then)");
    // A row from an older run (no later figures) prints as before.
    expect(md).toContain("W5 exp(x)·x + 1, n=1,000,000: plain 1.61 ms, scoped 1.36 ms (1.18).");
  });

  // A never-yielding loop's later steps as means too: the median passes over the steps that evict.
  it("prints the never-yielding loop's means beside its medians", () => {
    const warmup = { steps: 160, first40: 28.6, later: 3.78, ratio: 7.566, scopedLater: 1.64, plainOverScoped: 2.305, meanLater: 5.02, scopedMeanLater: 1.4 };
    const md = plainMarkdown({ rows: [], warmup } as unknown as BenchResult).join("\n");
    expect(md).toContain("means of steps 41–160 plain 5.02 ms, scoped 1.40 (3.59: a median of single steps passes over the steps that evict)");
  });
});
