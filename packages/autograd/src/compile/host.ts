/**
 * Host regions: code inside a compiled function that turns host numbers into scalar tensors —
 * an optimizer's update reads `lr` (which a scheduler changes), step counts and bias corrections
 * `1 − βᵗ`. Baking those in as constants of the trace would be silently wrong at the next step, so
 * the region's scalars are recomputed before every replay: the region's host logic runs again on
 * one-element cpu placeholders (microseconds), its scalars are captured in the order they were
 * made and written into the plan, and its host state (step counts) is committed once the replay
 * succeeded. A region whose structure changed (another number of scalars, state created or
 * replaced) makes compile() trace again.
 */
import { getBackend, setBackend } from "../backend.js";
import { noGrad, setTraceHook } from "../engine.js";
import { zeros } from "../ops/index.js";
import { Tensor } from "../tensor.js";
import { activeRecorder, type HostRecompute, type HostRegion, type HostStep } from "./record.js";
import type { Backend } from "../backend.js";

/**
 * @internal Runs `body` — host logic that makes scalar tensors from numbers that may change
 * between calls — as a host region of the running compile() trace (and just runs it otherwise).
 * `operands` are the tensors `body` reads (registered first so detached views resolve), and
 * `recompute` reruns the host logic on placeholders before each replay (see {@link HostRecompute}).
 * `key`, where given, names everything the host numbers depend on (a string; null when the
 * region's structure may have changed): a replay whose key equals the last capture's reuses it.
 *
 * @example
 * ```ts
 * const out = compileHostRegion([p, g], () => update(p.detach(), g.detach(), state, hp), (ph) => { … }, () => JSON.stringify(hp));
 * ```
 */
export function compileHostRegion<T>(operands: readonly Tensor[], body: () => T, recompute: HostRecompute, key: (() => string | null) | null = null): T {
  const rec = activeRecorder();
  if (rec === null) return body();
  for (const t of operands) rec.valueOf(t);
  return rec.hostRegion(body, recompute, key);
}

const NO_BACKEND = { name: "none" } as unknown as Backend;

/**
 * Reruns a region's host logic on the cpu backend, capturing its scalars; null when its structure
 * changed. Where the region has a key and it equals the last capture's, that capture is returned
 * as it is: the same host numbers make the same scalars and the same commit (an SGD update without
 * a scheduler reran its whole host logic, ten parameters' worth, at every LeNet-5 step).
 *
 * @example `const step = captureHost(region); if (step !== null) step.commit(); // after the replay`
 */
export function captureHost(region: HostRegion): HostStep | null {
  const key = region.key?.() ?? null;
  if (key !== null && region.last !== null && region.last.key === key) return region.last.step;
  const step = recapture(region);
  region.last = key !== null && step !== null ? { key, step } : null;
  return step;
}

function recapture(region: HostRegion): HostStep | null {
  const prev = getBackend();
  const exclude = new Set<Tensor>();
  const placeholder = (like: Tensor): Tensor => {
    const t = zeros([], { dtype: like.dtype });
    exclude.add(t);
    return t;
  };
  const start = new Tensor({}, [0], "float32", NO_BACKEND).id;
  const produced = new Set<object>();
  const seen = new Set<Tensor>();
  const scalars: number[] = [];
  const prevHook = setTraceHook((_op, ins, _attrs, out) => {
    for (let i = 0; i < ins.length; i++) {
      const t = ins[i]!;
      if (t.shape.length !== 0 || t.id < start || exclude.has(t) || seen.has(t) || produced.has(t.handle)) continue;
      seen.add(t);
      scalars.push(t.backend.readSync(t.handle, t.dtype, 1)[0]!);
    }
    produced.add(out.handle);
  });
  let commit: (() => void) | null;
  setBackend("cpu");
  try {
    commit = noGrad(() => region.recompute(placeholder));
  } finally {
    setTraceHook(prevHook);
    setBackend(prev.name);
  }
  if (commit === null || scalars.length !== region.scalars.length) return null;
  return { scalars, commit };
}
