/**
 * PyTorch as a peer: Debian's python3-torch (1.13) with OpenBLAS's pthread build (without
 * libopenblas0-pthread torch falls back to the reference BLAS and runs the MLP step ~15× slower),
 * installed when missing (as root, through apt-get), run as a subprocess of the bench process at
 * 1 and 2 threads (`torch.set_num_threads`), on the bench's workloads W2–W5 with the same
 * shapes, data (the same seeded LCG as frameworks.ts's `uniform`), optimizers and reads.
 * The two thread counts alternate rep by rep; figures are medians.
 */
import { spawnSync } from "node:child_process";
import { median } from "./format.js";
import type { CompileCost, W5Host } from "./fresh.js";

export interface TorchResult {
  version: string;
  /** Per thread count ("1", "2"): workload → ms per step (W4: µs per graph). */
  threads: Record<string, Record<string, number>>;
  /** Whether libopenblas0-pthread is installed (torch's BLAS through Debian's alternatives). */
  openblasPthread: boolean;
}

const PY = String.raw`
import json, sys, time, statistics
import torch
cfg = json.loads(sys.stdin.read())
torch.manual_seed(0)

def uniform(n, seed, lo=0.0, hi=1.0):
    # frameworks.ts's LCG: the same numbers deltagrad and TF.js see.
    out = [0.0] * n
    s = seed & 0xffffffff or 1
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xffffffff
        out[i] = lo + ((s >> 8) / 16777216) * (hi - lo)
    return torch.tensor(out, dtype=torch.float32)

def labels(n, k, seed):
    return (uniform(n, seed) * k).long().clamp(max=k - 1)

def train_step(m, opt, x, y):
    # One timed step of W2/W3: softmax cross-entropy, backward, update, the loss read on the host.
    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step

def mlp(batch):
    sizes = [784, 784, 784, 10]
    layers = []
    for i in range(3):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < 2: layers.append(torch.nn.ReLU())
    m = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = uniform(batch * 784, 21).reshape(batch, 784)
    y = labels(batch, 10, 22)
    return train_step(m, opt, x, y)

def lenet(batch):
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 120, 5), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    x = uniform(batch * 784, 31).reshape(batch, 1, 28, 28)
    y = labels(batch, 10, 32)
    return train_step(m, opt, x, y)

def scalar_graph(graphs):
    x = torch.tensor(1.0)
    def step():
        acc = 0.0
        for _ in range(graphs):
            w = torch.tensor(0.0, requires_grad=True)
            b = torch.tensor(0.0, requires_grad=True)
            torch.reciprocal(torch.exp(-(w * x + b)) + 1).backward()
            acc += w.grad.item() + b.grad.item()
        return acc
    return step

def elementwise(n):
    x = uniform(n, 51, -1.0, 1.0)
    def step():
        y = torch.exp(x) * x + 1
        return float(y.numpy().copy()[0])
    return step

builders = {"W2": lambda: mlp(cfg["mlpBatch"]), "W3": lambda: lenet(cfg["lenetBatch"]),
            "W4": lambda: scalar_graph(cfg["graphs"]), "W5": lambda: elementwise(cfg["n"])}
out = {"version": torch.__version__, "threads": {}}
for w in cfg["only"]:
    steps = {t: builders[w]() for t in cfg["threads"]}
    for t in cfg["threads"]:
        torch.set_num_threads(t)
        for _ in range(cfg["warmup"]): steps[t]()
    times = {t: [] for t in cfg["threads"]}
    deadline = time.perf_counter() + cfg["seconds"]
    reps = 0
    while reps < cfg["minReps"] or (time.perf_counter() < deadline and reps < cfg["maxReps"]):
        for t in cfg["threads"]:
            torch.set_num_threads(t)
            t0 = time.perf_counter()
            steps[t]()
            times[t].append((time.perf_counter() - t0) * 1000)
        reps += 1
    for t in cfg["threads"]:
        ms = statistics.median(times[t])
        if w == "W4": ms = ms * 1000 / cfg["graphs"]  # µs per graph
        out["threads"].setdefault(str(t), {})[w] = ms
print(json.dumps(out))
`;

/** Whether `python3 -c "import torch"` works, installing Debian's packages first when it does not (root only). */
export function ensureTorch(log: (s: string) => void): boolean {
  const probe = () => spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" }).status === 0;
  const blas = () => spawnSync("dpkg", ["-s", "libopenblas0-pthread"], { encoding: "utf8" }).status === 0;
  if (probe() && blas()) return true;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    log("PyTorch peer: python3-torch or libopenblas0-pthread missing and not root: skipped");
    return false;
  }
  log("PyTorch peer: installing python3-torch libopenblas0-pthread (apt-get) …");
  const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "python3-torch", "libopenblas0-pthread"], { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) log(`PyTorch peer: apt-get failed (${(r.stderr ?? "").trim().split("\n").pop()})`);
  return probe() && blas();
}

/**
 * Runs the PyTorch workloads in a subprocess; null when torch is unavailable or the run fails.
 * `threads` and `seconds` (per workload) narrow a run: the paired rounds time one thread, briefly.
 */
export function runTorch(o: { quick: boolean; only?: string[]; log: (s: string) => void; threads?: number[]; seconds?: number }): TorchResult | null {
  if (!ensureTorch(o.log)) return null;
  const only = ["W2", "W3", "W4", "W5"].filter((w) => !o.only || o.only.includes(w));
  if (only.length === 0) return null;
  const threads = o.threads ?? [1, 2];
  const cfg = {
    only,
    threads,
    mlpBatch: o.quick ? 32 : 200,
    lenetBatch: o.quick ? 16 : 64,
    graphs: o.quick ? 200 : 1000,
    n: o.quick ? 100_000 : 1_000_000,
    warmup: 3,
    minReps: o.quick ? 3 : 7,
    maxReps: 40,
    seconds: o.seconds ?? (o.quick ? 1 : 4),
  };
  o.log(`PyTorch peer (subprocess): ${only.join(", ")} at ${threads.join(" and ")} thread${threads.length > 1 || threads[0] !== 1 ? "s" : ""} …`);
  const r = spawnSync("/usr/bin/python3", ["-c", PY], { input: JSON.stringify(cfg), encoding: "utf8", maxBuffer: 1 << 20, env: { ...process.env, OMP_NUM_THREADS: "2" } });
  if (r.status !== 0) {
    o.log(`PyTorch peer failed: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
    return null;
  }
  const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as TorchResult;
  res.openblasPthread = spawnSync("dpkg", ["-s", "libopenblas0-pthread"], { encoding: "utf8" }).status === 0;
  return res;
}

/** compiled ÷ PyTorch 1t of one workload, round by round (see {@link pairedTorch}). */
export interface TorchPaired {
  workload: string;
  /** deltagrad compiled (2 threads) in the bench process, ms per step, one per round. */
  deltagrad: number[];
  /** PyTorch on one thread in that round's subprocess. */
  torch: number[];
  ratios: number[];
  /** The median of `ratios`: the figure the targets are read from. */
  ratio: number;
  /**
   * Where eager was paired too (W2's speed-up target): deltagrad eager on 2 threads in the same
   * rounds, each round's eager ÷ compiled, and their median.
   */
  eager?: number[];
  speedups?: number[];
  speedup?: number;
}

/**
 * compiled ÷ PyTorch 1t by alternation. The main table's ratio divides figures taken minutes apart,
 * and on a shared VM the two sides drift apart in that time: the same commit's W3 compiled ÷
 * PyTorch 1t was 1.49 at 19:53 and 2.63 at 23:33 (every JavaScript and wasm column of the second run
 * ran ~1.7× slower; PyTorch's did not). Here each round times deltagrad compiled again in this
 * process (`again`: warm-up, 7 repetitions, median, as the table), then PyTorch on one thread in a
 * fresh subprocess right after; each round's ratio divides neighbours in time, and the target is
 * read from the median over the rounds.
 */
export async function pairedTorch(
  workloads: string[],
  again: (workload: string, eager?: boolean) => Promise<number>,
  log: (s: string) => void,
  rounds = 5,
  eagerToo: string[] = [],
): Promise<TorchPaired[] | null> {
  const dg = new Map<string, number[]>(workloads.map((w) => [w, []]));
  const eg = new Map<string, number[]>(workloads.map((w) => [w, []]));
  const pt = new Map<string, number[]>(workloads.map((w) => [w, []]));
  log(`compiled ÷ PyTorch 1t, alternating (this process, then a PyTorch subprocess), ${rounds} rounds …`);
  for (let i = 0; i < rounds; i++) {
    for (const w of workloads) {
      // Eager beside compiled, which goes first in alternate rounds (a drift within a round then
      // favours neither).
      if (!eagerToo.includes(w)) dg.get(w)!.push(await again(w));
      else if (i % 2 === 0) {
        dg.get(w)!.push(await again(w));
        eg.get(w)!.push(await again(w, true));
      } else {
        eg.get(w)!.push(await again(w, true));
        dg.get(w)!.push(await again(w));
      }
    }
    const t = runTorch({ quick: false, only: workloads, log: () => {}, threads: [1], seconds: 1.5 });
    if (t === null) return null;
    for (const w of workloads) pt.get(w)!.push(t.threads["1"]![w]!);
  }
  return workloads.map((w) => {
    const [d, p, e] = [dg.get(w)!, pt.get(w)!, eg.get(w)!];
    const ratios = d.map((v, i) => v / p[i]!);
    const r: TorchPaired = { workload: w, deltagrad: d, torch: p, ratios, ratio: median(ratios) };
    if (e.length > 0) {
      r.eager = e;
      r.speedups = e.map((v, i) => v / d[i]!);
      r.speedup = median(r.speedups);
    }
    log(`  ${roundsText(r)}`);
    return r;
  });
}

/** One workload's rounds, as the log and the report print them. */
const roundsText = (p: TorchPaired) =>
  `${p.workload} deltagrad ${p.deltagrad.map(f2).join(" · ")}, PyTorch 1t ${p.torch.map(f2).join(" · ")}, ratios ${p.ratios.map(f2).join(" · ")} (median ${f2(p.ratio)})` +
  (p.eager && p.speedups ? `; eager 2t in the same rounds ${p.eager.map(f2).join(" · ")}, eager ÷ compiled ${p.speedups.map(f2).join(" · ")} (median ${f2(p.speedup)})` : "");

/** The rows torchMarkdown reads (run.ts's Row, structurally). */
interface RowLike {
  workload: string;
  case: string;
  value: Partial<Record<string, number | null>>;
}

const f2 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? "n/a" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * The PyTorch section: its figures at 1 and 2 threads beside deltagrad's eager and compiled
 * 2-thread columns of the same run, and the issue's targets (compiled, 2 threads) met or not.
 */
export function torchMarkdown(res: {
  rows: RowLike[];
  torch?: TorchResult;
  torchPaired?: TorchPaired[];
  compileCost?: CompileCost;
  plain?: { compiledW5: number; tfjsOverCompiled: number };
  w5Host?: W5Host;
}): string[] {
  const t = res.torch;
  if (!t) return [];
  const lines = [
    "",
    `PyTorch ${t.version} (Debian python3-torch, ${t.openblasPthread ? "OpenBLAS pthread" : "**without libopenblas0-pthread**"}), a subprocess of this run, at 1 and 2 threads; its W4 figure is per graph, as deltagrad's:`,
    "",
    "| workload | deltagrad wasm 2t | deltagrad compiled 2t | PyTorch 1t | PyTorch 2t | compiled ÷ PyTorch 1t (time) | eager ÷ compiled (speed-up) |",
    "|:--|--:|--:|--:|--:|--:|--:|",
  ];
  const targets: string[] = [];
  for (const w of ["W2", "W3", "W4", "W5"]) {
    const r = res.rows.find((x) => x.workload === w);
    const p1 = t.threads["1"]?.[w];
    if (!r || p1 === undefined) continue;
    const eager = r.value["deltagrad-wasm-2t"] ?? null;
    const comp = r.value["deltagrad-compiled"] ?? null;
    const p2 = t.threads["2"]?.[w];
    lines.push(`| ${w} ${r.case} | ${f2(eager)} | ${f2(comp)} | ${f2(p1)} | ${f2(p2)} | ${comp === null ? "n/a" : f2(comp / p1)} | ${eager === null || comp === null ? "n/a" : f2(eager / comp)} |`);
    if (comp === null) continue;
    // The ratio to PyTorch: the paired rounds' median where they ran, the table's ratio beside it.
    const paired = res.torchPaired?.find((x) => x.workload === w);
    const ratio = paired?.ratio ?? comp / p1;
    const vsTorch = (bound: number) => `${paired ? `${f2(ratio)}× (paired rounds; the table's ${f2(comp / p1)}×)` : `${f2(ratio)}×`} ${ratio <= bound ? "met" : "not met"}`;
    // The speed-up over eager likewise: the paired rounds' median where eager ran in them.
    const speedup = paired?.speedup ?? (eager === null ? null : eager / comp);
    // Four decimals where two would round onto the bound (1.2996 is not met, and must not read 1.30).
    const near = (v: number, bound: number) => (f2(v) === f2(bound) ? v.toFixed(4) : f2(v));
    const table = eager === null ? "no eager column in the table" : `the table's ${f2(eager / comp)}×`;
    const vsEager = speedup === null ? "n/a" : `${near(speedup, 1.3)}×${paired?.speedup !== undefined ? ` (paired rounds; ${table})` : ""} ${speedup >= 1.3 ? "met" : "not met"}`;
    if (w === "W2") targets.push(`W2 compiled ≤ 0.5× PyTorch 1t: ${vsTorch(0.5)}; ≥ 1.3× faster than eager: ${vsEager}`);
    if (w === "W3") targets.push(`W3 compiled ≤ 1.0× PyTorch 1t: ${vsTorch(1)}`);
    if (w === "W5") {
      const tfw = r.value["tfjs-wasm"] ?? null;
      const pl = res.plain;
      const noGc = pl ? `; without the forced gc() (plain section) ${f2(pl.tfjsOverCompiled)}× ${pl.tfjsOverCompiled >= 4 ? "met" : "not met"}` : "";
      // The same two runners in a process of their own: with the usual allocator, and with glibc
      // keeping freed memory (each dataSync() result then reuses warm pages).
      const h = res.w5Host;
      const x = (v: { compiled: number; tfjs: number }) => v.tfjs / v.compiled;
      const alone = h
        ? `; in a process running W5 alone ${f2(x(h.usual))}× ${x(h.usual) >= 4 ? "met" : "not met"} (compiled ${f2(h.usual.compiled)} ms, TF.js ${f2(h.usual.tfjs)}), and with glibc not trimming its heap (a diagnostic) ${f2(x(h.noTrim))}× (${f2(h.noTrim.compiled)} and ${f2(h.noTrim.tfjs)})${h.hugePages ? `, with glibc on huge pages (\`GLIBC_TUNABLES=glibc.malloc.hugetlb=1\`, a setting of the user's process) ${f2(x(h.hugePages))}× (${f2(h.hugePages.compiled)} and ${f2(h.hugePages.tfjs)})` : ""}${h.usual.compiledInto !== undefined ? `; compiled reading into one reused array (\`dataSync(out)\`) ${f2(h.usual.compiledInto)} ms alone, ${f2(h.usual.tfjs / h.usual.compiledInto)}× TF.js` : ""}`
        : "";
      targets.push(`W5 compiled (with the host read) ≥ 4× TF.js wasm: ${tfw === null ? "n/a" : `${f2(tfw / comp)}× ${tfw / comp >= 4 ? "met" : "not met"}`}${noGc}${alone}`);
    }
    if (w === "W4") targets.push(`W4 compiled ≤ 2 µs per graph: ${f2(comp)} µs ${comp <= 2 ? "met" : "not met"}`);
  }
  if (res.torchPaired?.length) {
    lines.push("", `compiled ÷ PyTorch 1t in alternating rounds (deltagrad compiled 2t in this process — and for W2 eager 2t beside it — then PyTorch 1t in a fresh subprocess; this VM's speed drifts over minutes, a ratio of neighbours cancels it): ${res.torchPaired.map(roundsText).join("; ")}.`);
  }
  const cc = res.compileCost;
  if (cc) {
    // The two calls that trace (the first creates Adam's state inside the trace, so the second
    // traces again) against the same two eager steps: what compile() adds to a user's start.
    const extra = (k: "cold" | "warm") => cc.compiled[k].steps[0]! + cc.compiled[k].steps[1]! - cc.eager[k].steps[0]! - cc.eager[k].steps[1]!;
    const steps = (s: number[]) => s.map(f2).join(", ");
    lines.push(
      "",
      `compile() at the start, W2 on 2 threads, first three steps (fresh process | a second model in it): eager ${steps(cc.eager.cold.steps)} | ${steps(cc.eager.warm.steps)} ms; compiled ${steps(cc.compiled.cold.steps)} | ${steps(cc.compiled.warm.steps)} ms (${cc.compiled.cold.traces} traces; stats().compileMs ${f2(cc.compiled.cold.compileMs)} | ${f2(cc.compiled.warm.compileMs)}, which includes running the step eagerly while tracing; planning ${f2(cc.compiled.cold.planMs)} | ${f2(cc.compiled.warm.planMs)}). The two tracing calls cost ${f2(extra("cold"))} | ${f2(extra("warm"))} ms more than two eager steps.`,
    );
    // The eager and the compiled steps run in two processes; when the machine's speed changed
    // between them by more than tracing costs, the difference comes out negative and says nothing.
    const judged = (v: number, where: string) =>
      `${f2(v)} ms ${where} ${v < 0 ? "not measured (the eager process ran slower than the tracing one)" : v <= 150 ? "met" : "not met"}`;
    targets.push(`trace + compile of W2 ≤ 150 ms (the two tracing calls over two eager steps): ${judged(extra("cold"), "in a fresh process")}, ${judged(extra("warm"), "for a second model")}`);
  }
  if (targets.length) lines.push("", `Targets (compiled, 2 threads): ${targets.join("; ")}.`);
  return lines;
}
