/**
 * The bench's checks that need a fresh process (full run only): plain W5's first 40 steps against
 * the later ones (warmup.ts), W3/W4 of deltagrad wasm run alone against the full run, and what
 * compile() costs a user's first steps (compile-cost.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, median } from "./format.js";
import type { BenchResult } from "./run.js";

/** What warmup.ts prints. */
export interface Warmup {
  steps: number;
  first40: number;
  later: number;
  ratio: number;
  scopedLater: number;
  plainOverScoped: number;
  /** Means of the same later steps, plain and scoped (medians of single steps pass over the steps that evict). */
  meanLater?: number;
  scopedMeanLater?: number;
  /** The scoped loop alone in another fresh process, from its first step: the floor. */
  scopedFresh?: { first40: number; later: number; ratio: number };
  /**
   * The same two checks of W5 with the read (`warmup.ts 160 1000000 plain read`): the median, by
   * ratio, of three fresh processes (`ratios`: all three — where each 4 MB array lands decides a
   * process's figures), and `hugePages`, one process with glibc on huge pages ({@link HUGE_PAGES}).
   */
  read?: Warmup & { ratios?: number[]; hugePages?: Warmup };
  /**
   * The plain section's pairs, each the only loop of a fresh process (after its first turn): median
   * ms per step over the first 21 repetitions, wasm memory (MB) and the blocks reclaimed or evicted
   * by then, and `later`: the last 21 of 42 more repetitions.
   */
  alone?: { case: string; plain: number; scoped: number; ratio: number; memoryMB?: number; swept?: number; later?: { plain: number; scoped: number; ratio: number } }[];
}

/** Runs `args` in a fresh node with the bench's flags (`gc` only where asked); returns its last stdout line. */
function freshNode(args: string[], exposeGc: boolean, env: Record<string, string> = {}): string {
  const flags = [...(exposeGc ? ["--expose-gc"] : []), "--conditions=source", "--import", "tsx"];
  const out = execFileSync(process.execPath, [...flags, ...args], { encoding: "utf8", timeout: 900_000, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  return out.trim().split("\n").pop()!;
}

/**
 * glibc's malloc told to keep freed memory (a diagnostic run of w5-host.ts, not a setting the
 * library makes): arrays of 4 MB come from its heap and are reused instead of the heap's top being
 * given back to the kernel after each collection and faulted in again.
 */
const NO_TRIM = { MALLOC_MMAP_THRESHOLD_: "67108864", MALLOC_TRIM_THRESHOLD_: "1073741824" };

/**
 * glibc's malloc asked to back its memory with transparent huge pages (glibc ≥ 2.35; a setting a
 * user can make for their own process, docs/performance.md): a 4 MB array then faults in as two
 * 2 MiB pages instead of 1,024 small ones — where the kernel's THP mode is `madvise` or `always`.
 */
const HUGE_PAGES = { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" };

/** What w5-host.ts prints, run with the usual allocator, with {@link NO_TRIM} and with {@link HUGE_PAGES}: ms per step. */
export interface W5Host {
  /** `compiledInto`: the compiled step reading into one reused array (`dataSync(out)`). */
  usual: { compiled: number; tfjs: number; compiledInto?: number };
  noTrim: { compiled: number; tfjs: number; compiledInto?: number };
  hugePages?: { compiled: number; tfjs: number; compiledInto?: number };
}

/** What compile-cost.ts prints: the first three steps from a fresh process (cold) and of a second model in it (warm). */
export interface CompileCost {
  workload: string;
  eager: { cold: FirstSteps; warm: FirstSteps };
  compiled: { cold: FirstSteps; warm: FirstSteps };
}
interface FirstSteps {
  steps: number[];
  compileMs: number | null;
  planMs: number | null;
  traces: number | null;
}

/** W3 and W4 of deltagrad wasm in a fresh process, alone (full sizes, as in the full run): workload → figure. */
function standaloneOnce(here: string): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "deltagrad-standalone-"));
  freshNode([join(here, "run.ts"), "--only", "W3,W4", "--frameworks", "deltagrad-wasm", "--out", dir], true);
  const alone = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchResult;
  const out = new Map<string, number>();
  for (const r of alone.rows) {
    const v = r.value["deltagrad-wasm"];
    if (typeof v === "number") out.set(r.workload, v);
  }
  return out;
}

/** One workload's figure measured again in the bench's own process (after every other workload ran). */
export type InProcess = (workload: string) => Promise<number>;

/** compile() against eager for W2's first steps, each in its own fresh process (compile-cost.ts). */
function compileCost(here: string, log: (line: string) => void): CompileCost {
  log("fresh processes: W2's first steps, eager and compiled (compile-cost.ts) …");
  const run = (mode: string) => JSON.parse(freshNode([join(here, "compile-cost.ts"), "W2", mode], false)) as { cold: FirstSteps; warm: FirstSteps };
  const eager = run("eager");
  const compiled = run("compiled");
  const sum = (f: FirstSteps) => f.steps.reduce((a, b) => a + b, 0);
  log(`  first three steps, fresh process: eager ${sum(eager.cold).toFixed(0)} ms, compiled ${sum(compiled.cold).toFixed(0)} ms; second model: eager ${sum(eager.warm).toFixed(0)}, compiled ${sum(compiled.warm).toFixed(0)} ms`);
  return { workload: "W2", eager, compiled };
}

/**
 * The checks that need a fresh process (full run only): plain W5's first 40 steps against the
 * later ones (warmup.ts, no gc, never yielding), the plain section's pairs each alone in a
 * process, W5 with the read alone under three allocator settings (w5-host.ts), W2's first steps eager and compiled, and W3/W4 of
 * deltagrad wasm alone in a fresh process against the same workloads in this process, after every
 * other workload ran. The two alternate round by round — this process, then a fresh one — and each
 * round gives a ratio: this 2-core VM's speed drifts by up to 2× over minutes, which a comparison
 * of figures taken minutes apart (the full table's against processes run before and after it)
 * cannot tell from a real slowdown, while a ratio of neighbours cancels it.
 */
export async function freshProcessChecks(res: BenchResult, here: string, log: (line: string) => void, inProcess: InProcess, rounds = 5): Promise<void> {
  log("fresh process: plain W5 from the first step (warmup.ts) …");
  res.warmup = JSON.parse(freshNode([join(here, "warmup.ts"), "160"], false)) as Warmup;
  res.warmup.scopedFresh = JSON.parse(freshNode([join(here, "warmup.ts"), "160", "1000000", "scoped"], false)) as Warmup["scopedFresh"];
  log(`  first 40 steps ${res.warmup.first40.toFixed(2)} ms, steps 41–160 ${res.warmup.later.toFixed(2)} ms (ratio ${res.warmup.ratio.toFixed(2)}); scoped ${res.warmup.scopedLater.toFixed(2)} ms`);
  log("fresh processes: plain W5 with the read from the first step, three and one on huge pages (warmup.ts … read) …");
  const readOnce = (env: Record<string, string> = {}) => JSON.parse(freshNode([join(here, "warmup.ts"), "160", "1000000", "plain", "read"], false, env)) as Warmup;
  const reads = [readOnce(), readOnce(), readOnce()].sort((a, b) => a.ratio - b.ratio);
  const read: NonNullable<Warmup["read"]> = { ...reads[1]!, ratios: reads.map((r) => r.ratio), hugePages: readOnce(HUGE_PAGES) };
  read.scopedFresh = JSON.parse(freshNode([join(here, "warmup.ts"), "160", "1000000", "scoped", "read"], false)) as Warmup["scopedFresh"];
  res.warmup.read = read;
  log(`  first 40 steps ${read.first40.toFixed(2)} ms, steps 41–160 ${read.later.toFixed(2)} ms (ratio ${read.ratio.toFixed(2)}, the median of ${read.ratios!.map((x) => x.toFixed(2)).join(" · ")}; huge pages ${read.hugePages!.ratio.toFixed(2)}); scoped alone ${read.scopedFresh!.first40.toFixed(2)} then ${read.scopedFresh!.later.toFixed(2)} ms (ratio ${read.scopedFresh!.ratio.toFixed(2)})`);
  log("fresh process: the plain section's pairs, each alone (warmup.ts alone) …");
  res.warmup.alone = JSON.parse(freshNode([join(here, "warmup.ts"), "0", "1000000", "alone"], false)) as Warmup["alone"];
  for (const r of res.warmup.alone!) log(`  ${r.case}: plain ${r.plain.toFixed(2)} ms, scoped ${r.scoped.toFixed(2)} ms, ratio ${r.ratio.toFixed(2)}; later ${r.later!.plain.toFixed(2)} / ${r.later!.scoped.toFixed(2)} ms, ratio ${r.later!.ratio.toFixed(2)}`);
  log("fresh process: W5 with the read alone, the usual allocator, glibc not trimming and glibc on huge pages (w5-host.ts) …");
  const w5 = (env: Record<string, string>) => JSON.parse(freshNode([join(here, "w5-host.ts")], true, env)) as W5Host["usual"];
  res.w5Host = { usual: w5({}), noTrim: w5(NO_TRIM), hugePages: w5(HUGE_PAGES) };
  const { usual, noTrim, hugePages } = res.w5Host;
  log(`  compiled ${usual.compiled.toFixed(2)} ms, TF.js wasm ${usual.tfjs.toFixed(2)}, compiled into one reused array ${usual.compiledInto?.toFixed(2)}; not trimming ${noTrim.compiled.toFixed(2)} and ${noTrim.tfjs.toFixed(2)}; huge pages ${hugePages!.compiled.toFixed(2)} and ${hugePages!.tfjs.toFixed(2)}`);
  res.compileCost = compileCost(here, log);
  log(`W3 and W4 of deltagrad wasm: this process against a fresh one, alternating, ${rounds} rounds …`);
  const inThis = new Map<string, number[]>();
  const alone = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, w: string, v: number) => (m.get(w) ?? m.set(w, []).get(w)!).push(v);
  for (let i = 0; i < rounds; i++) {
    for (const w of ["W3", "W4"]) push(inThis, w, await inProcess(w));
    for (const [w, v] of standaloneOnce(here)) push(alone, w, v);
  }
  res.standalone = [];
  for (const w of ["W3", "W4"]) {
    const full = res.rows.find((r) => r.workload === w)?.value["deltagrad-wasm"];
    const h = inThis.get(w);
    const a = alone.get(w);
    if (typeof full !== "number" || h === undefined || a === undefined || h.length !== a.length) continue;
    // Times: a ratio above 1 means slower here, after the other workloads, than alone.
    const ratios = h.map((v, i) => v / a[i]!);
    res.standalone.push({ workload: w, full, here: h, alone: a, ratios, ratio: median(ratios) });
    log(`  ${w}: here ${h.map(fmt).join(" · ")}, alone ${a.map(fmt).join(" · ")}; round ratios ${ratios.map((r) => r.toFixed(2)).join(" · ")} (median ${median(ratios).toFixed(2)}); the full table's figure ${fmt(full)}`);
  }
}
