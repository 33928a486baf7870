/**
 * The bench's checks that need a fresh process (full run only): plain W5's first 40 steps against
 * the later ones (warmup.ts), W3/W4 of deltagrad wasm run alone against the full run, and what
 * compile() costs a user's first steps (compile-cost.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt } from "./format.js";
import type { BenchResult } from "./run.js";

/** What warmup.ts prints. */
export interface Warmup {
  steps: number;
  first40: number;
  later: number;
  ratio: number;
  scopedLater: number;
  plainOverScoped: number;
}

/** Runs `args` in a fresh node with the bench's flags (`gc` only where asked); returns its last stdout line. */
function freshNode(args: string[], exposeGc: boolean): string {
  const flags = [...(exposeGc ? ["--expose-gc"] : []), "--conditions=source", "--import", "tsx"];
  const out = execFileSync(process.execPath, [...flags, ...args], { encoding: "utf8", timeout: 900_000, stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").pop()!;
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

/**
 * W3 and W4 of deltagrad wasm alone, each time in a fresh process (full sizes, as in the full
 * run), `times` times: workload → one figure per process. (One process alone differed from the
 * next by up to 1.37× on this 2-core machine, so the check takes the median of several.)
 */
export function standaloneRun(here: string, log: (line: string) => void, times = 3): Map<string, number[]> {
  log(`fresh processes: W3 and W4 of deltagrad wasm alone, ${times}× …`);
  const out = new Map<string, number[]>();
  for (let i = 0; i < times; i++) {
    const dir = mkdtempSync(join(tmpdir(), "deltagrad-standalone-"));
    freshNode([join(here, "run.ts"), "--only", "W3,W4", "--frameworks", "deltagrad-wasm", "--out", dir], true);
    const alone = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchResult;
    for (const r of alone.rows) {
      const v = r.value["deltagrad-wasm"];
      if (typeof v === "number") (out.get(r.workload) ?? out.set(r.workload, []).get(r.workload)!).push(v);
    }
  }
  return out;
}

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

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * The checks that need a fresh process (full run only): plain W5's first 40 steps against the
 * later ones (warmup.ts, no gc, never yielding), W2's first steps eager and compiled, and W3/W4 of
 * deltagrad wasm alone — run in fresh processes before the full run (`before`) and after it, so
 * that a drift of the machine's load shows up — against their times in this full run.
 */
export function freshProcessChecks(res: BenchResult, here: string, log: (line: string) => void, before: Map<string, number[]>): void {
  log("fresh process: plain W5 from the first step (warmup.ts) …");
  res.warmup = JSON.parse(freshNode([join(here, "warmup.ts"), "160"], false)) as Warmup;
  log(`  first 40 steps ${res.warmup.first40.toFixed(2)} ms, steps 41–160 ${res.warmup.later.toFixed(2)} ms (ratio ${res.warmup.ratio.toFixed(2)}); scoped ${res.warmup.scopedLater.toFixed(2)} ms`);
  res.compileCost = compileCost(here, log);
  const after = standaloneRun(here, log);
  res.standalone = [];
  for (const w of ["W3", "W4"]) {
    const full = res.rows.find((r) => r.workload === w)?.value["deltagrad-wasm"];
    const b = before.get(w);
    const a = after.get(w);
    if (typeof full !== "number" || b === undefined || a === undefined) continue;
    // W3 and W4 are times: a ratio above 1 means slower in the full run than alone.
    const alone = median([...b, ...a]);
    res.standalone.push({ workload: w, full, aloneBefore: b, aloneAfter: a, alone, ratio: full / alone });
    log(`  ${w}: full run ${fmt(full)}, alone ${b.map(fmt).join(" · ")} before and ${a.map(fmt).join(" · ")} after (ratio to their median ${(full / alone).toFixed(2)})`);
  }
}
