/**
 * The bench's checks that need a fresh process (full run only): plain W5's first 40 steps against
 * the later ones (warmup.ts), and W3/W4 of deltagrad wasm run alone against the full run.
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

/** W3 and W4 of deltagrad wasm alone in a fresh process (full sizes, as in the full run): workload → figure. */
export function standaloneRun(here: string, log: (line: string) => void): Map<string, number> {
  log("fresh process: W3 and W4 of deltagrad wasm alone …");
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

/**
 * The checks that need a fresh process (full run only): plain W5's first 40 steps against the
 * later ones (warmup.ts, no gc, never yielding), and W3/W4 of deltagrad wasm alone — run once
 * before the full run (`before`) and once after it, so that a drift of the machine's load between
 * the two shows up — against their times in this full run.
 */
export function freshProcessChecks(res: BenchResult, here: string, log: (line: string) => void, before: Map<string, number>): void {
  log("fresh process: plain W5 from the first step (warmup.ts) …");
  res.warmup = JSON.parse(freshNode([join(here, "warmup.ts"), "160"], false)) as Warmup;
  log(`  first 40 steps ${res.warmup.first40.toFixed(2)} ms, steps 41–160 ${res.warmup.later.toFixed(2)} ms (ratio ${res.warmup.ratio.toFixed(2)}); scoped ${res.warmup.scopedLater.toFixed(2)} ms`);
  const after = standaloneRun(here, log);
  res.standalone = [];
  for (const w of ["W3", "W4"]) {
    const full = res.rows.find((r) => r.workload === w)?.value["deltagrad-wasm"];
    const b = before.get(w);
    const a = after.get(w);
    if (typeof full !== "number" || b === undefined || a === undefined) continue;
    // W3 and W4 are times: a ratio above 1 means slower in the full run than alone.
    res.standalone.push({ workload: w, full, aloneBefore: b, aloneAfter: a, ratio: full / ((a + b) / 2) });
    log(`  ${w}: full run ${fmt(full)}, alone ${fmt(b)} before and ${fmt(a)} after (ratio ${(full / ((a + b) / 2)).toFixed(2)})`);
  }
}
