import { lenetRunner } from "./workloads.js";
import { Session } from "node:inspector/promises";
const r = lenetRunner("deltagrad-compiled", 64);
for (let i = 0; i < 20; i++) r.step();
const s = new Session(); s.connect();
await s.post("Profiler.enable");
await s.post("Profiler.setSamplingInterval", { interval: 25 });
await s.post("Profiler.start");
const N = 300;
for (let i = 0; i < N; i++) r.step();
const { profile } = (await s.post("Profiler.stop")) as any;
const byId = new Map<number, any>(profile.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
// inclusive time per function name (each sample counted once per distinct name on its stack)
const incl = new Map<string, number>();
const name = (n: any) => `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-1)[0]}`;
for (const [id, t] of dt) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) { const k = name(byId.get(cur)); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t); } }
}
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log((t / 1000 / N).toFixed(3).padStart(7), "ms", k);
