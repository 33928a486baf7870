/**
 * The working tree against a git revision, in one process: `pnpm bench:ab <rev> [W4|W5|W1|SQ|W5s|W5ss|LSc|W3c|W3e|W2c|W2e]
 * [--rounds N] [--ms M]`. On this VM one workload's speed drifts 2–3× over minutes (the same
 * commit's eager W4 read 2.56 µs in one full run and 7.75 in another), so two figures taken
 * apart say little about a change; two taken alternately in one process do. Both trees'
 * `@deltagrad/autograd` sources are bundled with esbuild beside the same probe — plain user code,
 * nothing disposed or scoped, one thread on the default backend — and imported into this
 * process. The rounds alternate which side runs first, and the event loop turns between them.
 * Prints each side's median and the median of the round ratios (working tree ÷ revision: below 1
 * is faster). Only the autograd core is bundled, so any revision whose `tensor`, `mul`, `matmul`
 * and `backward` match today's can be measured (`ebf690b^`, before the lifetime machinery, works).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { median } from "./format.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** LeNet-5's gradient step as probe source, `step` the expression that makes it from `gradients` (dg.grad over the ten parameters). */
function lenet(step: string): string {
  return `
      const v = (n, s, scale) => Float32Array.from({ length: n }, (_, i) => ((((i + s) * 7919) % 1000) / 500 - 1) * scale);
      const x = dg.tensor(v(64 * 784, 1, 1)).reshape([64, 1, 28, 28]);
      const y = dg.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 10));
      const shapes = [[6, 1, 5, 5], [6], [16, 6, 5, 5], [16], [120, 16, 5, 5], [120], [120, 84], [84], [84, 10], [10]];
      const params = shapes.map((s, i) => dg.tensor(v(s.reduce((a, b) => a * b, 1), i + 2, 0.1)).reshape(s));
      const loss = (w1, b1, w2, b2, w3, b3, w6, b6, wo, bo) => {
        let h = dg.maxPool2d(dg.conv2d(x, w1, b1, { padding: 2 }).relu(), { kernel: 2 });
        h = dg.maxPool2d(dg.conv2d(h, w2, b2).relu(), { kernel: 2 });
        h = dg.conv2d(h, w3, b3).relu().reshape([64, 120]);
        h = dg.matmul(h, w6).add(b6).relu();
        return dg.logSoftmax(dg.matmul(h, wo).add(bo), { axis: 1 }).mul(dg.oneHot(y, 10)).sum().neg().div(64);
      };
      const gradients = (...ps) => dg.grad(loss, { argnums: ps.map((_, i) => i) })(...ps);
      const step = ${step};
      const once = () => step(...params).map((g) => g.dataSync()[0]);
      export const check = once;`;
}

/** W2's MLP (784-784-784-10, batch 200) gradient step as probe source, `step` the expression that makes it from `gradients` (dg.grad over the six parameters). */
function mlp(step: string): string {
  return `
      const v = (n, s, scale) => Float32Array.from({ length: n }, (_, i) => ((((i + s) * 7919) % 1000) / 500 - 1) * scale);
      const x = dg.tensor(v(200 * 784, 1, 1)).reshape([200, 784]);
      const y = dg.tensor(Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 10));
      const shapes = [[784, 784], [784], [784, 784], [784], [784, 10], [10]];
      const params = shapes.map((s, i) => dg.tensor(v(s.reduce((a, b) => a * b, 1), i + 2, 0.05)).reshape(s));
      const loss = (w1, b1, w2, b2, w3, b3) => {
        const h = dg.matmul(dg.matmul(x, w1).add(b1).relu(), w2).add(b2).relu();
        return dg.logSoftmax(dg.matmul(h, w3).add(b3), { axis: 1 }).mul(dg.oneHot(y, 10)).sum().neg().div(200);
      };
      const gradients = (...ps) => dg.grad(loss, { argnums: ps.map((_, i) => i) })(...ps);
      const step = ${step};
      // Each gradient's sum read, not the gradient: a 784×784 read would be most of the time.
      const once = () => step(...params).map((g) => g.sum().dataSync()[0]);
      export const check = once;`;
}

/**
 * A probe: plain user code defining `once()` (one unit of the workload) and `check()` (values
 * to compare); the bundle adds `bench(ms)`, the time of one unit in `unit`, over batches of
 * `batch` units (a scalar graph is too short to time alone).
 */
export const PROBES: Record<string, { unit: string; perMs: number; batch: number; threads?: number; source: string }> = {
  W4: {
    unit: "µs per graph",
    perMs: 1000,
    batch: 200,
    source: `
      const x = dg.tensor(1);
      const w = dg.tensor(0, { requiresGrad: true });
      const b = dg.tensor(0, { requiresGrad: true });
      const once = () => {
        w.grad = null;
        b.grad = null;
        w.mul(x).add(b).neg().exp().add(1).reciprocal().backward();
        return [w.grad.itemSync(), b.grad.itemSync()];
      };
      export const check = once;`,
  },
  W5: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const x = dg.tensor(Float32Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1000) / 1000));
      const once = () => x.exp().mul(x).add(1).dataSync();
      export const check = () => Array.from(once().subarray(0, 8));`,
  },
  W1: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const v = (s) => Float32Array.from({ length: 512 * 512 }, (_, i) => (((i + s) * 7919) % 1000) / 500 - 1);
      const a = dg.tensor(v(1)).reshape([512, 512]);
      const b = dg.tensor(v(2)).reshape([512, 512]);
      const once = () => dg.matmul(a, b).dataSync();
      export const check = () => Array.from(once().subarray(0, 8));`,
  },
  // A sum of squares over 1 M floats, eager (a deferred chain summed where it is made).
  SQ: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const x = dg.tensor(Float32Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1000) / 500 - 1));
      const once = () => x.mul(x).sum().itemSync();
      export const check = () => [once()];`,
  },
  // W5 summed: exp(x)·x + 1 over 1 M floats, then its sum — plain code, and the same in scoped().
  W5s: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const x = dg.tensor(Float32Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1000) / 500 - 1));
      const once = () => x.exp().mul(x).add(1).sum().itemSync();
      export const check = () => [once()];`,
  },
  W5ss: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const x = dg.tensor(Float32Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1000) / 500 - 1));
      const once = () => dg.scoped(() => x.exp().mul(x).add(1).sum().itemSync());
      export const check = () => [once()];`,
  },
  // log-softmax over 1000 rows of 1000, compiled (its rows' sums of e^(x−m)).
  LSc: {
    unit: "ms",
    perMs: 1,
    batch: 1,
    source: `
      const x = dg.tensor(Float32Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1000) / 100 - 5)).reshape([1000, 1000]);
      const f = dg.compile((t) => dg.logSoftmax(t, { axis: 1 }));
      const once = () => f(x).dataSync();
      export const check = () => Array.from(once().subarray(0, 8));`,
  },
  // LeNet-5's forward and backward (W3 without the SGD update), compiled (W3c) and eager (W3e,
  // whose conv1 activations, 64·6·28·28 floats, are large enough to defer), on two threads.
  W3c: { unit: "ms", perMs: 1, batch: 1, threads: 2, source: lenet("dg.compile(gradients)") },
  W3e: { unit: "ms", perMs: 1, batch: 1, threads: 2, source: lenet("gradients") },
  // W2's MLP forward and backward (without Adam), compiled (W2c) and eager (W2e), on two threads.
  W2c: { unit: "ms", perMs: 1, batch: 1, threads: 2, source: mlp("dg.compile(gradients)") },
  W2e: { unit: "ms", perMs: 1, batch: 1, threads: 2, source: mlp("gradients") },
};

interface Side {
  check(): number[];
  bench(ms: number): number;
}

/** The probe for `workload` bundled against the autograd sources in `src` (a tree's packages/autograd/src), as an ES module file. */
async function bundle(workload: string, src: string, out: string): Promise<string> {
  const entry = join(out, `probe-${workload}.mjs`);
  const { source, batch, perMs, threads = 1 } = PROBES[workload]!;
  const bench = `
    export function bench(ms) {
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < ms) for (let i = 0; i < ${batch}; i++, n++) once();
      return ((performance.now() - t0) / n) * ${perMs};
    }`;
  writeFileSync(entry, `import * as dg from "@deltagrad/autograd";\nif (dg.setNumThreads) dg.setNumThreads(${threads});\n${source}\n${bench}\n`);
  const file = join(out, `bundle-${workload}.mjs`);
  // ignoreAnnotations: older revisions declare `sideEffects: false` yet register their backends
  // at import; the bundle must keep that.
  await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: file, alias: { "@deltagrad/autograd": join(src, "index.ts") }, ignoreAnnotations: true, logLevel: "warning" });
  return file;
}

/** The revision's packages/autograd/src, extracted with `git archive` into `dir`. */
function extract(rev: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const tar = execFileSync("git", ["archive", "--format=tar", rev, "packages/autograd/src"], { cwd: root, maxBuffer: 1 << 28 });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  return join(dir, "packages", "autograd", "src");
}

/** Lets the event loop turn (as between a notebook's cells): what the garbage collector freed is reclaimed then. */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Alternating rounds of `a` and `b`, `ms` each, the event loop turning between them: [a's times, b's times, b ÷ a per round]. */
export async function alternate(a: Side, b: Side, rounds: number, ms: number): Promise<[number[], number[], number[]]> {
  for (let i = 0; i < 3; i++) (a.bench(ms / 2), await turn(), b.bench(ms / 2), await turn()); // JIT warm-up on both sides
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Which side goes first alternates, so a drift within a round favours neither.
    const [first, second, tFirst, tSecond] = r % 2 === 0 ? [a, b, ta, tb] : [b, a, tb, ta];
    tFirst.push(first.bench(ms));
    await turn();
    tSecond.push(second.bench(ms));
    await turn();
  }
  return [ta, tb, tb.map((t, i) => t / ta[i]!)];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i < 0 ? dflt : Number(args.splice(i, 2)[1]);
  };
  const rounds = flag("--rounds", 30);
  const ms = flag("--ms", 150);
  const [rev, workload = "W4"] = args;
  if (!rev || !(workload in PROBES) || !(rounds > 0) || !(ms > 0)) {
    console.error(`usage: pnpm bench:ab <git revision> [${Object.keys(PROBES).join("|")}] [--rounds N] [--ms M]`);
    process.exit(2);
  }
  const found = spawnSync("git", ["rev-parse", "--short", "--verify", "--quiet", `${rev}^{commit}`], { cwd: root, encoding: "utf8" });
  if (found.status !== 0) {
    console.error(`bench:ab: ${rev} is not a commit of this repository`);
    process.exit(1);
  }
  const sha = found.stdout.trim();
  const tmp = mkdtempSync(join(tmpdir(), "deltagrad-ab-"));
  try {
    const theirs = await bundle(workload, extract(sha, join(tmp, "rev")), join(tmp, "rev"));
    const ours = await bundle(workload, join(root, "packages", "autograd", "src"), tmp);
    const a = (await import(pathToFileURL(theirs).href)) as Side;
    const b = (await import(pathToFileURL(ours).href)) as Side;
    const [ca, cb] = [a.check(), b.check()];
    const diff = Math.max(...ca.map((v, i) => Math.abs(v - cb[i]!)));
    const [ta, tb, ratios] = await alternate(a, b, rounds, ms);
    const q = [...ratios].sort((x, y) => x - y);
    const unit = PROBES[workload]!.unit;
    const threads = PROBES[workload]!.threads ?? 1;
    console.log(`${workload}, plain code, ${threads} thread${threads > 1 ? "s" : ""}, ${rounds} alternating rounds of ${ms} ms (results differ by at most ${diff}):`);
    console.log(`  ${sha.padEnd(12)} ${median(ta).toPrecision(3)} ${unit}`);
    console.log(`  working tree ${median(tb).toPrecision(3)} ${unit}`);
    console.log(`  working tree ÷ ${sha}: median ${median(ratios).toFixed(3)} (quartiles ${q[q.length >> 2]!.toFixed(3)}–${q[(3 * q.length) >> 2]!.toFixed(3)})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(0); // the wasm runtimes' workers would keep the process alive
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
