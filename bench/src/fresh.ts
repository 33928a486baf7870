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

/**
 * The checks that need a fresh process (full run only): plain W5's first 40 steps against the
 * later ones (warmup.ts, no gc, never yielding), and W3/W4 of deltagrad wasm alone against their
 * times in this full run.
 */
export function freshProcessChecks(res: BenchResult, here: string, log: (line: string) => void): void {
  log("fresh process: plain W5 from the first step (warmup.ts) …");
  res.warmup = JSON.parse(freshNode([join(here, "warmup.ts"), "160"], false)) as Warmup;
  log(`  first 40 steps ${res.warmup.first40.toFixed(2)} ms, steps 41–160 ${res.warmup.later.toFixed(2)} ms (ratio ${res.warmup.ratio.toFixed(2)}); scoped ${res.warmup.scopedLater.toFixed(2)} ms`);
  log("fresh process: W3 and W4 of deltagrad wasm alone …");
  const dir = mkdtempSync(join(tmpdir(), "deltagrad-standalone-"));
  freshNode([join(here, "run.ts"), "--only", "W3,W4", "--frameworks", "deltagrad-wasm", "--out", dir], true);
  const alone = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchResult;
  res.standalone = [];
  for (const w of ["W3", "W4"]) {
    const full = res.rows.find((r) => r.workload === w)?.value["deltagrad-wasm"];
    const one = alone.rows.find((r) => r.workload === w)?.value["deltagrad-wasm"];
    if (typeof full !== "number" || typeof one !== "number") continue;
    res.standalone.push({ workload: w, full, alone: one, ratio: full / one });
    log(`  ${w}: full run ${fmt(full)}, alone ${fmt(one)} (ratio ${(full / one).toFixed(2)})`);
  }
}
