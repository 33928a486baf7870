/**
 * `pnpm bench [--quick] [--out DIR] [--only W1,W2] [--frameworks a,b]`: workloads W1–W5 timed
 * side by side in one process for deltagrad on its wasm backend (the default) with one thread and
 * with two, and on its cpu backend; TF.js cpu, TF.js wasm and jax-js (wasm). float32, warm-up
 * first, median of the repetitions; repetitions of the frameworks are interleaved (round robin)
 * so a burst of load on the machine hits every framework alike and the ratios stay fair.
 *
 * Then plain code against scoped code (plain.ts: no forced gc), and — full run only — a fresh
 * process's first steps of plain code and the plain pairs each alone (warmup.ts), W5 with the read
 * alone with the usual allocator, glibc not trimming and glibc on huge pages (w5-host.ts), and
 * W3/W4 of deltagrad wasm run alone in a fresh process, against their times in the full run.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, arch, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as dg from "@deltagrad/autograd";
import { activate, DELTAGRAD, FRAMEWORKS, PEERS, initPeers, Unsupported, type DeltagradId, type FrameworkId, type PeerId, type Runner } from "./frameworks.js";
import { elementwiseRunner, lenetRunner, matmulRunner, mlpRunner, scalarGraphRunner } from "./workloads.js";
import { fmt, median, table } from "./format.js";
import { freshProcessChecks, type CompileCost, type W5Host, type Warmup } from "./fresh.js";
import { plainMarkdown, runPlain, type PlainResult } from "./plain.js";
import { pairedTorch, runTorch, torchMarkdown, type TorchPaired, type TorchResult } from "./torch.js";

export interface BenchOptions {
  quick: boolean;
  /** Workload ids to run (default all). */
  only?: string[];
  /** Frameworks to run (default all; the plain-code section runs only when deltagrad wasm and TF.js wasm both do). */
  frameworks?: FrameworkId[];
  /** Print progress and the table to stdout. */
  log?: (line: string) => void;
}

export interface Row {
  workload: string;
  case: string;
  /** What `value` measures per framework: the figure of one iteration. */
  unit: "GFLOP/s" | "ms/step" | "µs/iter" | "ms";
  /** Per-framework figure (null where unsupported). */
  value: Partial<Record<FrameworkId, number | null>>;
  /** Extra figure for W5: GB/s (bytes read + written over time). */
  extra?: Partial<Record<FrameworkId, number | null>>;
  /** What `extra` measures. */
  extraUnit?: "GB/s";
  /** Speed of each deltagrad column relative to each peer: > 1 means deltagrad is faster. */
  ratio: Partial<Record<DeltagradId, Partial<Record<PeerId, number | null>>>>;
  unsupported: Partial<Record<FrameworkId, string>>;
  reps: number;
}

export interface Check {
  workload: string;
  /** The deltagrad column checked (its values are `deltagrad`). */
  against: DeltagradId;
  /** The other framework (a peer, or a later deltagrad column); its values are `peer`. */
  framework: FrameworkId;
  what: string;
  deltagrad: number[];
  peer: number[];
  maxRelErr: number;
  /** Bit-for-bit equality required (deltagrad wasm on 2 threads against 1) rather than float32 tolerance. */
  exact: boolean;
  ok: boolean;
}

export interface BenchResult {
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; node: string; platform: string; memoryGiB: number; loadavgStart: number[]; loadavgEnd: number[]; wasmFma?: boolean; stealPercent?: number };
  /** The versions of the peers (bench/package.json). */
  peers: Record<string, string>;
  note: string;
  rows: Row[];
  checks: Check[];
  /** Plain code against scoped code (plain.ts), when run. */
  plain?: PlainResult;
  /** A fresh process's first plain steps against its later ones (warmup.ts; full run only). */
  warmup?: Warmup;
  /** W5 with the read in a process running it alone: the usual allocator, glibc not trimming, glibc on huge pages (w5-host.ts; full run only). */
  w5Host?: W5Host;
  /** PyTorch (subprocess, 1 and 2 threads) on W2–W5, when available (torch.ts). */
  torch?: TorchResult;
  /** compiled ÷ PyTorch 1t of W2/W3 in alternating rounds (torch.ts's pairedTorch), when both ran (not --quick). */
  torchPaired?: TorchPaired[];
  /**
   * W3 and W4 of deltagrad wasm in this process after the full run (`here`) and alone in a fresh
   * process (`alone`), alternating round by round; `ratios` are here ÷ alone per round, `ratio`
   * their median (full run only). `full` is the main table's figure.
   */
  standalone?: { workload: string; full: number; here: number[]; alone: number[]; ratios: number[]; ratio: number }[];
  /** W2's first three steps, eager and compiled, in fresh processes (compile-cost.ts; full run only). */
  compileCost?: CompileCost;
  wallSeconds: number;
}

interface Case {
  workload: string;
  name: string;
  unit: Row["unit"];
  build: (fw: FrameworkId) => Runner;
  /** Converts ms per step into the reported figure. */
  figure: (ms: number) => number;
  extra?: (ms: number) => number;
  check: { what: string; rtol: number; atol: number };
}

function cases(quick: boolean): Case[] {
  const list: Case[] = [];
  for (const n of quick ? [64, 256] : [64, 128, 256, 512, 1024]) {
    list.push({
      workload: "W1",
      name: `matmul N=${n}`,
      unit: "GFLOP/s",
      build: (fw) => matmulRunner(fw, n),
      figure: (ms) => (2 * n ** 3) / (ms * 1e6),
      check: { what: "C[0, 0:64]", rtol: 1e-4, atol: 1e-4 },
    });
  }
  const mlpBatch = quick ? 32 : 200;
  list.push({
    workload: "W2",
    name: `MLP 784-784-784-10 batch ${mlpBatch}, Adam`,
    unit: "ms/step",
    build: (fw) => mlpRunner(fw, mlpBatch),
    figure: (ms) => ms,
    check: { what: "loss at steps 1 and 2", rtol: 1e-4, atol: 1e-5 },
  });
  const lenetBatch = quick ? 16 : 64;
  list.push({
    workload: "W3",
    name: `LeNet-5 batch ${lenetBatch}, SGD`,
    unit: "ms/step",
    build: (fw) => lenetRunner(fw, lenetBatch),
    figure: (ms) => ms,
    check: { what: "loss at steps 1 and 2", rtol: 1e-4, atol: 1e-5 },
  });
  const graphs = quick ? 1000 : 10_000;
  list.push({
    workload: "W4",
    name: `scalar sigmoid graph ×${graphs}`,
    unit: "µs/iter",
    build: (fw) => scalarGraphRunner(fw, graphs),
    figure: (ms) => (ms * 1000) / graphs,
    check: { what: "(∂f/∂w, ∂f/∂b)", rtol: 1e-6, atol: 1e-7 },
  });
  const n = quick ? 100_000 : 1_000_000;
  list.push({
    workload: "W5",
    name: `exp(x)·x + 1, n=${n.toLocaleString("en")}`,
    unit: "ms",
    build: (fw) => elementwiseRunner(fw, n),
    figure: (ms) => ms,
    extra: (ms) => (8 * n) / (ms * 1e6), // 4 bytes read + 4 written per element
    check: { what: "y[0], y[1], y[n/2], y[n−1], Σy", rtol: 1e-4, atol: 1e-4 },
  });
  return list;
}

function relErr(a: number[], b: number[], rtol: number, atol: number): { err: number; ok: boolean } {
  let err = 0;
  let ok = a.length === b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = Math.abs(a[i]! - b[i]!);
    err = Math.max(err, d / Math.max(Math.abs(a[i]!), 1e-30));
    if (!(d <= atol + rtol * Math.abs(a[i]!))) ok = false;
  }
  return { err, ok };
}

/** Warm-up (JIT, caches, TF.js kernel setup) and calibration: returns the steps per repetition. */
export function warmUp(r: Runner, warmUpMs: number, minMs: number): number {
  // At least two steps and warmUpMs, so the JIT has optimized the hot loops before timing.
  const w0 = performance.now();
  for (let i = 0; i < 2 || performance.now() - w0 < warmUpMs; i++) r.step();
  const s = performance.now();
  r.step();
  const one = Math.max(performance.now() - s, 1e-3);
  return Math.max(1, Math.ceil(minMs / one));
}

/** One timed repetition of k steps: ms per step. */
export function timedRep(r: Runner, k: number): number {
  // The previous repetition's garbage (another framework's, mostly) is collected outside the
  // timed region, and one untimed step follows: the first step after a forced full collection
  // runs slower than the next ones (W3 of deltagrad wasm: 22–117 ms against 18–60 for the
  // following steps, medians over repetitions on a loaded machine; no collection ran inside
  // that step), a cost of the forced gc() itself that users, who never call it, do not pay.
  (globalThis as { gc?: () => void }).gc?.();
  r.step();
  const s = performance.now();
  for (let i = 0; i < k; i++) r.step();
  return (performance.now() - s) / k / (r.fraction ?? 1);
}

/**
 * One workload's figure for a deltagrad column (default deltagrad wasm) measured again in this
 * process, as the main table measures it (warm-up, calibration, 7 repetitions, median) — the
 * fresh-process check's "here" side, and the deltagrad side of the paired PyTorch rounds.
 */
async function timeAgain(workload: string, fw: DeltagradId = "deltagrad-wasm"): Promise<number> {
  const c = cases(false).find((x) => x.workload === workload)!;
  await activate(fw);
  const r = c.build(fw);
  try {
    const k = warmUp(r, 300, 250);
    return c.figure(median(Array.from({ length: 7 }, () => timedRep(r, k))));
  } finally {
    r.dispose();
  }
}

/**
 * The machine's CPU ticks from /proc/stat (Linux): all, and stolen — time the hypervisor gave
 * other guests while this VM's vCPUs wanted to run. On a shared VM a fork-join step waits for
 * whichever vCPU is stolen: at 25% steal the compiled LeNet-5 step took 46–53 ms on 2 threads
 * against 26–35 ms on one, while a one-thread PyTorch subprocess kept its speed. Null elsewhere.
 */
function cpuTicks(): { total: number; steal: number } | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/** The share of CPU time stolen since `start` (percent), as machine.stealPercent; {} where unknown. */
function stealSince(start: { total: number; steal: number } | null): { stealPercent?: number } {
  const end = cpuTicks();
  if (start === null || end === null || end.total <= start.total) return {};
  return { stealPercent: (100 * (end.steal - start.steal)) / (end.total - start.total) };
}

/** Runs the benchmark; returns the results (the caller writes them). */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const loadavgStart = loadavg();
  const cpuStart = cpuTicks();
  await initPeers();
  const reps = opts.quick ? 5 : 7;
  // Each repetition runs enough iterations to last this long: a single step, timed right after
  // another framework's repetition, pays for that framework's cache footprint and garbage.
  const minMs = opts.quick ? 3 : 250;
  const warmUpMs = opts.quick ? 20 : 300;
  const rows: Row[] = [];
  const checks: Check[] = [];
  // The small-object workloads run first: the training workloads keep large graphs alive across
  // minor GCs, after which V8 may pretenure a tape's allocation sites for the rest of the process,
  // and W4 (nothing but small short-lived objects) then ran up to 2× slower. deltagrad's tape no
  // longer makes its graph from sites V8 tracks (engine.ts, GraphNode; the in-process W4 rounds of
  // freshProcessChecks run after everything and show it); the order stays for the peers' tapes.
  // The table keeps the W1…W5 order.
  const order = ["W4", "W5", "W1", "W2", "W3"];
  const all = cases(opts.quick).sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload));
  for (const c of all) {
    if (opts.only && !opts.only.includes(c.workload)) continue;
    log(`${c.workload} ${c.name} …`);
    // Collect the previous workload's garbage now rather than inside this one's timed regions
    // (available when node runs with --expose-gc, as `pnpm bench` does).
    (globalThis as { gc?: () => void }).gc?.();
    const runners = new Map<FrameworkId, Runner>();
    const unsupported: Row["unsupported"] = {};
    const checkValues = new Map<FrameworkId, number[]>();
    for (const fw of FRAMEWORKS) {
      if (opts.frameworks && !opts.frameworks.includes(fw)) continue;
      await activate(fw);
      try {
        // The check runs on a fresh runner (training changes the weights), then a second one is timed.
        const probe = c.build(fw);
        checkValues.set(fw, probe.check());
        probe.dispose();
        runners.set(fw, c.build(fw));
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        unsupported[fw] = e.message;
      }
    }
    // Warm-up (JIT, caches, TF.js kernel setup) and calibration of iterations per repetition.
    const iters = new Map<FrameworkId, number>();
    for (const [fw, r] of runners) {
      await activate(fw);
      iters.set(fw, warmUp(r, warmUpMs, minMs));
    }
    const times = new Map<FrameworkId, number[]>();
    for (let rep = 0; rep < reps; rep++) {
      for (const [fw, r] of runners) {
        await activate(fw);
        (times.get(fw) ?? times.set(fw, []).get(fw)!).push(timedRep(r, iters.get(fw)!));
      }
    }
    for (const [fw, r] of runners) {
      await activate(fw);
      r.dispose();
    }
    const ms = new Map<FrameworkId, number>();
    for (const [fw, t] of times) ms.set(fw, median(t));
    const row: Row = { workload: c.workload, case: c.name, unit: c.unit, value: {}, ratio: {}, unsupported, reps };
    if (c.extra) {
      row.extra = {};
      row.extraUnit = "GB/s";
    }
    for (const fw of FRAMEWORKS) {
      const m = ms.get(fw);
      row.value[fw] = m === undefined ? null : c.figure(m);
      if (row.extra) row.extra[fw] = m === undefined ? null : c.extra!(m);
    }
    for (const d of DELTAGRAD) {
      const mine = ms.get(d);
      if (mine === undefined) continue; // not run (--frameworks)
      row.ratio[d] = {};
      for (const p of PEERS) {
        const m = ms.get(p);
        row.ratio[d]![p] = m === undefined ? null : m / mine;
      }
    }
    rows.push(row);
    // Each deltagrad column against each peer and against each later deltagrad column. The wasm
    // backend promises the same bits whatever its thread count, so 2 threads against 1 is exact.
    for (const [i, d] of DELTAGRAD.entries()) {
      const ref = checkValues.get(d);
      if (ref === undefined) continue; // not run (--frameworks)
      for (const fw of [...DELTAGRAD.slice(i + 1), ...PEERS]) {
        const v = checkValues.get(fw);
        if (v === undefined) continue; // unsupported
        // The wasm backend promises the same bits on 1 and 2 threads, and a compiled replay runs the same kernels.
        const exact = (d === "deltagrad-wasm" || d === "deltagrad-wasm-2t") && (fw === "deltagrad-wasm-2t" || fw === "deltagrad-compiled");
        const { err, ok } = exact ? relErr(ref, v, 0, 0) : relErr(ref, v, c.check.rtol, c.check.atol);
        checks.push({ workload: `${c.workload} ${c.name}`, against: d, framework: fw, what: c.check.what, deltagrad: ref, peer: v, maxRelErr: err, exact, ok });
      }
    }
    log(formatRow(row));
  }
  rows.sort((a, b) => a.workload.localeCompare(b.workload));
  const runs = (fw: FrameworkId) => !opts.frameworks || opts.frameworks.includes(fw);
  let plain: PlainResult | undefined;
  if (runs("deltagrad-wasm") && runs("tfjs-wasm") && (!opts.only || opts.only.includes("plain"))) {
    log("plain code against scoped code (deltagrad wasm, 1 thread, no forced gc) …");
    plain = await runPlain(opts.quick, log);
  }
  // PyTorch as a peer, as a subprocess of this same process (torch.ts), after the in-process columns.
  const torch = runs("deltagrad-compiled") ? runTorch({ quick: opts.quick, only: opts.only, log }) : null;
  const pairs = ["W2", "W3"].filter((w) => !opts.only || opts.only.includes(w));
  const torchPaired = torch && !opts.quick && pairs.length ? await pairedTorch(pairs, (w, eager) => timeAgain(w, eager ? "deltagrad-wasm-2t" : "deltagrad-compiled"), log, 5, ["W2"]) : null;
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    quick: opts.quick,
    machine: {
      cpu: cpu[0]?.model.trim() ?? "unknown",
      cores: cpu.length,
      node: process.version,
      platform: `${platform()} ${arch()}`,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadavgStart,
      loadavgEnd: loadavg(),
      ...stealSince(cpuStart),
      wasmFma: dg.wasmFma(),
    },
    peers: peerVersions(),
    note: "ratio[d][p] = speed of deltagrad column d / speed of peer p (p's time ÷ d's time): > 1 means deltagrad is faster. Medians of interleaved repetitions; every timed region ends with a host read.",
    rows,
    checks,
    ...(plain ? { plain } : {}),
    ...(torch ? { torch } : {}),
    ...(torchPaired ? { torchPaired } : {}),
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

/** The peers' versions as bench/package.json pins them. */
function peerVersions(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const all = { ...pkg.dependencies, ...pkg.devDependencies };
  return Object.fromEntries(["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@jax-js/jax"].map((p) => [p, all[p] ?? "?"]));
}

const fmtRatio = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}×`);

/** Column titles. */
export const LABEL: Record<FrameworkId, string> = {
  "deltagrad-wasm": "deltagrad wasm",
  "deltagrad-wasm-2t": "deltagrad wasm 2t",
  "deltagrad-compiled": "deltagrad compiled 2t",
  "deltagrad-cpu": "deltagrad cpu",
  "tfjs-cpu": "TF.js cpu",
  "tfjs-wasm": "TF.js wasm",
  "jax-js-wasm": "jax-js wasm",
};
/** Short names of the deltagrad columns inside a ratio cell. */
const SHORT: Record<DeltagradId, string> = { "deltagrad-wasm": "wasm", "deltagrad-wasm-2t": "2t", "deltagrad-compiled": "compiled", "deltagrad-cpu": "cpu" };

/** A figure, with W5's GB/s in parentheses. */
const value = (r: Row, fw: FrameworkId) => `${fmt(r.value[fw])}${r.extra ? ` (${fmt(r.extra[fw])})` : ""}`;

function formatRow(r: Row): string {
  const cell = (fw: FrameworkId) => `${fw} ${r.unsupported[fw] ? "unsupported" : value(r, fw)}`;
  return `  ${r.workload} ${r.case} [${r.unit}${r.extraUnit ? ` (${r.extraUnit})` : ""}]: ${FRAMEWORKS.map(cell).join(" | ")}`;
}

/**
 * The results as Markdown (what bench/README.md and results/latest.md show): the figures of every framework, then each
 * deltagrad column's speed relative to each peer, then the footnotes and the checks' verdict.
 */
export function toMarkdown(res: BenchResult): string {
  const m = res.machine;
  // One footnote mark per distinct reason a cell is unsupported.
  const reasons = [...new Set(res.rows.flatMap((r) => FRAMEWORKS.flatMap((fw) => r.unsupported[fw] ?? [])))];
  const marks = ["¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];
  const mark = (why: string) => marks[reasons.indexOf(why)] ?? `[${reasons.indexOf(why) + 1}]`;
  const name = (r: Row) => `${r.workload} ${r.case}`;
  const unit = (r: Row) => `${r.unit}${r.extraUnit ? ` (${r.extraUnit})` : ""}`;
  const cell = (r: Row, fw: FrameworkId) => (r.unsupported[fw] ? `unsupported${mark(r.unsupported[fw])}` : value(r, fw));
  const ratioCell = (r: Row, p: PeerId) => (r.unsupported[p] ? `n/a${mark(r.unsupported[p])}` : DELTAGRAD.map((d) => fmtRatio(r.ratio[d]?.[p])).join(" · "));
  const versions = Object.entries(res.peers ?? {}).map(([p, v]) => `${p} ${v}`).join(", ");
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}${m.wasmFma === undefined ? "" : m.wasmFma ? ", wasm sgemm with fused multiply-add (relaxed SIMD)" : ", wasm sgemm without fused multiply-add (no relaxed SIMD in this engine)"}; load average ${m.loadavgStart.map((x) => x.toFixed(1)).join(" ")} at start, ${m.loadavgEnd.map((x) => x.toFixed(1)).join(" ")} at end${m.stealPercent === undefined ? "" : `; CPU steal ${m.stealPercent.toFixed(0)}% of the vCPUs' time during the run (the hypervisor ran other guests)`}. ${versions ? `${versions}. ` : ""}${res.quick ? "Quick mode (reduced sizes). " : ""}${res.date}`,
    "",
    "Figures (W1 higher is better, W2–W5 lower is better):",
    "",
    ...table(
      ["workload", "unit", ...FRAMEWORKS.map((fw) => LABEL[fw])],
      [false, false, ...FRAMEWORKS.map(() => true)],
      res.rows.map((r) => [name(r), unit(r), ...FRAMEWORKS.map((fw) => cell(r, fw))]),
    ),
    "",
    `deltagrad's speed ÷ the peer's, for its columns ${DELTAGRAD.map((d) => `${SHORT[d]} (${LABEL[d]})`).join(" · ")} (higher is better for deltagrad):`,
    "",
    ...table(
      ["workload", ...PEERS.map((p) => `÷ ${LABEL[p]}: ${DELTAGRAD.map((d) => SHORT[d]).join(" · ")}`)],
      [false, ...PEERS.map(() => true)],
      res.rows.map((r) => [name(r), ...PEERS.map((p) => ratioCell(r, p))]),
    ),
    "",
    "deltagrad wasm is the default backend (WebAssembly SIMD) with `setNumThreads(1)`, wasm 2t the same with `setNumThreads(2)`; deltagrad cpu is `setBackend(\"cpu\")`, pure TypeScript. TF.js wasm runs one thread; jax-js runs on its wasm device, one thread in Node (no global `Worker`), W2 and W3 as one `jit`-compiled step, W1, W4 and W5 eagerly.",
  ];
  reasons.forEach((why) => lines.push(`${mark(why)} ${why}.`));
  const bad = res.checks.filter((c) => !c.ok);
  const exact = res.checks.filter((c) => c.exact).length;
  lines.push(
    bad.length === 0
      ? `Same numbers across frameworks: all ${res.checks.length} checks agree (within float32 tolerance; the ${exact} of deltagrad wasm on 2 threads against 1 bit for bit).`
      : `**${bad.length} of ${res.checks.length} cross-framework checks disagree:** ${bad.map((c) => `${c.workload} ${c.against} vs ${c.framework}${c.exact ? " (bit for bit)" : ""}`).join("; ")}.`,
  );
  lines.push(...torchMarkdown(res));
  lines.push(...plainMarkdown(res));
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const outAt = args.indexOf("--out");
  const onlyAt = args.indexOf("--only");
  const here = dirname(fileURLToPath(import.meta.url));
  const out = outAt >= 0 ? resolve(args[outAt + 1]!) : join(here, "..", "results");
  const only = onlyAt >= 0 ? args[onlyAt + 1]!.split(",") : undefined;
  const fwAt = args.indexOf("--frameworks");
  const frameworks = fwAt >= 0 ? (args[fwAt + 1]!.split(",") as FrameworkId[]) : undefined;
  const full = !quick && !only && !frameworks;
  const log = (l: string) => console.log(l);
  const res = await runBench({ quick, only, frameworks, log });
  if (full) await freshProcessChecks(res, here, log, timeAgain);
  const md = toMarkdown(res);
  console.log("\n" + md);
  for (const c of res.checks) {
    if (!c.ok) console.log(`check FAILED: ${c.workload} ${c.against} vs ${c.framework}${c.exact ? " (bit for bit)" : ""}: ${c.what} ${c.deltagrad.join(", ")} vs ${c.peer.join(", ")}`);
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "latest.json"), JSON.stringify(res, null, 2) + "\n");
  writeFileSync(join(out, "latest.md"), md);
  console.log(`wrote ${join(out, "latest.json")} and latest.md (${res.wallSeconds.toFixed(1)} s)`);
  if (res.checks.some((c) => !c.ok)) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
