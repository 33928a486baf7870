import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeltagradError, getBackend, manualSeed, noGrad, ones, randn, setBackend, tensor, wasmSimdSupported, zeros, type Tensor } from "@deltagrad/autograd";
import { BatchNorm1d, Dropout, Linear, MLP, Module, ModuleDict, ModuleList, ReLU, Sequential, builtInModules, mseLoss, relu } from "@deltagrad/nn";
import { SGD } from "@deltagrad/optim";

const dir = mkdtempSync(join(tmpdir(), "deltagrad-module-api-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts its calls in an int32 buffer and keeps a float running sum (both persistent) and a scratch buffer (not). */
class Counter extends Module {
  readonly fc = new Linear(2, 2);
  constructor() {
    super();
    this.registerBuffer("count", zeros([], { dtype: "int32" }));
    this.registerBuffer("total", zeros([2]));
    this.registerBuffer("scratch", ones([3]), { persistent: false });
    this.registerBuffer("unset", null);
  }
  forward(x: Tensor): Tensor {
    const y = this.fc.call(x);
    noGrad(() => {
      this.getBuffer("count")!.assign(this.getBuffer("count")!.add(tensor(1, { dtype: "int32" })));
      this.getBuffer("total")!.assign(this.getBuffer("total")!.add(y.detach().sum({ axis: 0 })));
    });
    return y;
  }
}
builtInModules(Counter);

/** A module with several inputs and a nested tuple output, like an LSTM. */
class Pair extends Module<[Tensor, [Tensor, Tensor]?, { scale?: number }?], [Tensor, [Tensor, Tensor]]> {
  readonly fc: Linear;
  lastTemp: Tensor | null = null;
  constructor(readonly n = 3) {
    super();
    this.fc = new Linear(n, n);
  }
  forward(x: Tensor, state?: [Tensor, Tensor], opts: { scale?: number } = {}): [Tensor, [Tensor, Tensor]] {
    const [h, c] = state ?? [zeros([x.shape[0]!, this.n]), zeros([x.shape[0]!, this.n])];
    const temp = this.fc.call(x).mul(opts.scale ?? 1);
    this.lastTemp = temp.add(1); // made inside the scope and not returned: released
    const h2 = temp.add(h).tanh();
    const c2 = c.add(h2);
    return [h2.mul(2), [h2, c2]];
  }
}
builtInModules(Pair);

describe("call with any inputs and outputs", () => {
  it("passes several inputs and options through and keeps every tensor of a nested tuple result", () => {
    manualSeed(0);
    const m = new Pair();
    const x = randn([2, 3]);
    const [out, [h, c]] = m.call(x, undefined, { scale: 2 });
    expect([out.shape, h.shape, c.shape]).toEqual([[2, 3], [2, 3], [2, 3]]);
    for (const t of [out, h, c]) expect(t.isDisposed).toBe(false);
    expect(Array.from(out.dataSync())).toEqual(Array.from(h.mul(2).dataSync()));
    const [out2, [h2]] = m.call(x, [h, c]); // the state goes back in
    expect(out2.shape).toEqual([2, 3]);
    expect(h2.isDisposed).toBe(false);
    // forward and call agree
    const [o3] = m.forward(x, [h, c]);
    expect(Array.from(o3.dataSync())).toEqual(Array.from(out2.dataSync()));
  });

  it.skipIf(!wasmSimdSupported())("on wasm (managed memory) the scope releases temporaries and keeps the nested results", () => {
    const prev = getBackend().name;
    setBackend("wasm");
    try {
      // large enough to live in wasm memory (small tensors stay on the JS heap, untracked)
      const m = new Pair(64);
      const x = randn([64, 64]);
      const [out, [h, c]] = m.call(x, undefined, { scale: 2 });
      for (const t of [out, h, c, x]) expect(t.isDisposed).toBe(false);
      expect(m.lastTemp!.isDisposed).toBe(true); // made inside the scope and not returned
      expect(Array.from(out.dataSync())).toEqual(Array.from(h.mul(2).dataSync()));
      expect(c.dataSync().length).toBe(64 * 64);
    } finally {
      setBackend(prev);
    }
  });
  if (!wasmSimdSupported()) console.log("skipped: the wasm scope test needs WebAssembly SIMD");

  it("gradients flow through a tuple result", () => {
    const m = new Pair().to("float64");
    const [out, [, c]] = m.call(randn([4, 3], { dtype: "float64" }));
    out.sum().add(c.sum()).backward();
    expect(m.fc.weight.grad).not.toBeNull();
  });

  it("a user's module inside a built-in container runs unscoped (its kept tensors survive)", () => {
    class Keeper extends Module {
      kept: Tensor | null = null;
      forward(x: Tensor) { this.kept = x.mul(3); return x.add(1); }
    }
    const k = new Keeper();
    const outer = new ModuleList([k]);
    class Wrap extends Module { readonly inner = outer; forward(x: Tensor) { return this.inner.at(0)!.call(x); } }
    builtInModules(Wrap);
    new Wrap().call(ones([2]));
    expect(k.kept!.isDisposed).toBe(false);
  });
});

describe("buffers", () => {
  it("are listed, are in stateDict when persistent, never parameters, never get gradients", () => {
    const m = new Counter();
    expect(m.namedBuffers().map(([n]) => n)).toEqual(["count", "total", "scratch"]);
    expect(m.buffers().length).toBe(3);
    expect(m.namedParameters().map(([n]) => n)).toEqual(["fc.weight", "fc.bias"]);
    // PyTorch's order: a module's own parameters and buffers, then its children's
    expect(Object.keys(m.stateDict())).toEqual(["count", "total", "fc.weight", "fc.bias"]);
    m.call(ones([4, 2])).sum().backward();
    m.call(ones([1, 2]));
    expect(m.getBuffer("count")!.itemSync()).toBe(2);
    expect(m.getBuffer("count")!.dtype).toBe("int32");
    for (const b of m.buffers()) {
      expect(b.requiresGrad).toBe(false);
      expect(b.grad).toBeNull();
    }
    expect(m.getBuffer("unset")).toBeNull();
    expect(() => m.getBuffer("nope")).toThrow(/getBuffer: Counter has no buffer "nope" \(it has "count", "total", "scratch", "unset"\)/);
  });

  it("prefixes nested names and round-trips through loadStateDict", () => {
    const a = new Sequential(new Counter(), new ReLU());
    a.call(ones([3, 2]));
    const b = new Sequential(new Counter(), new ReLU());
    expect(Object.keys(b.stateDict())).toEqual(["0.count", "0.total", "0.fc.weight", "0.fc.bias"]);
    b.loadStateDict(a.stateDict());
    expect((b.at(0) as Counter).getBuffer("count")!.itemSync()).toBe(1);
    expect(Array.from((b.at(0) as Counter).getBuffer("total")!.dataSync())).toEqual(Array.from((a.at(0) as Counter).getBuffer("total")!.dataSync()));
    // a missing buffer is a missing key, checked before anything changes
    const sd = a.stateDict();
    delete sd["0.count"];
    expect(() => b.loadStateDict(sd)).toThrow(/missing keys: "0.count"/);
    expect(b.loadStateDict(sd, { strict: false }).missingKeys).toEqual(["0.count"]);
    const bad = a.stateDict();
    bad["0.count"] = zeros([]);
    expect(() => b.loadStateDict(bad)).toThrow(/"0.count" has dtype float32 in the state dict but int32 in the model/);
  });

  it("move with to(dtype) except integer buffers", () => {
    const m = new Counter().to("float64");
    expect(m.getBuffer("total")!.dtype).toBe("float64");
    expect(m.getBuffer("scratch")!.dtype).toBe("float64");
    expect(m.getBuffer("count")!.dtype).toBe("int32");
    expect(m.getBuffer("count")!.shape).toEqual([]);
    m.call(ones([1, 2], { dtype: "float64" }));
    expect(m.getBuffer("count")!.itemSync()).toBe(1);
  });

  it("reject bad registrations", () => {
    const m = new Counter();
    expect(() => m.registerBuffer("fc", zeros([1]))).toThrow(/"fc" is already a field of Counter/);
    expect(() => m.registerBuffer("w", tensor([1], { requiresGrad: true }))).toThrow(/registerBuffer: "w" is a parameter or requires gradients/);
    expect(() => m.registerBuffer("a.b", zeros([1]))).toThrow(/a name must be a non-empty string without "\."/);
    expect(() => m.registerParameter("count", zeros([1]))).toThrow(/"count" is already a buffer of Counter/);
    expect(() => m.registerBuffer("x", 3 as unknown as Tensor)).toThrow(DeltagradError);
    m.registerBuffer("count", zeros([], { dtype: "int32" })); // re-registering a buffer replaces it
    expect(m.getBuffer("count")!.itemSync()).toBe(0);
  });

  it("checkpoints carry persistent buffers", async () => {
    const a = new Counter();
    a.call(ones([2, 2]));
    const path = join(dir, "counter.safetensors");
    await a.save(path);
    const b = new Counter();
    await b.load(path);
    expect(b.getBuffer("count")!.itemSync()).toBe(1);
    expect(Array.from(b.getBuffer("total")!.dataSync())).toEqual(Array.from(a.getBuffer("total")!.dataSync()));
  });
});

describe("containers", () => {
  it("ModuleList registers its modules as 0, 1, … and iterates them typed", () => {
    class Deep extends Module {
      readonly layers = new ModuleList([1, 2, 3].map(() => new Linear(4, 4)));
      forward(x: Tensor) {
        for (const l of this.layers) x = relu(l.call(x));
        return x;
      }
    }
    const d = new Deep();
    expect(d.namedParameters().map(([n]) => n)).toEqual([
      "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias",
    ]);
    expect(d.layers.length).toBe(3);
    expect(d.layers.at(-1)!.inFeatures).toBe(4);
    expect(d.call(ones([2, 4])).shape).toEqual([2, 4]);
    d.layers.append(new Linear(4, 1));
    expect(d.numParameters()).toBe(3 * 20 + 5);
    expect(() => d.layers.call()).toThrow(/ModuleList: a ModuleList has no forward/);
    expect(() => new ModuleList([3 as unknown as Module])).toThrow(/ModuleList: element 0 is not a Module \(got number\)/);
  });

  it("ModuleDict keeps insertion order, replaces in place, rejects bad keys", () => {
    const heads = new ModuleDict({ cls: new Linear(8, 3), box: new Linear(8, 4) });
    expect(heads.get("box")!.call(zeros([2, 8])).shape).toEqual([2, 4]);
    expect([...heads.keys()]).toEqual(["cls", "box"]);
    heads.set("cls", new Linear(8, 5));
    expect(heads.namedParameters().map(([n, p]) => `${n} [${p.shape}]`)).toEqual(["cls.weight [8,5]", "cls.bias [5]", "box.weight [8,4]", "box.bias [4]"]);
    expect(heads.size).toBe(2);
    expect(heads.has("box")).toBe(true);
    expect(() => heads.set("a.b", new ReLU() as never)).toThrow(/ModuleDict: a key must be a non-empty string without "\."/);
    expect(() => heads.set("training", new ReLU() as never)).toThrow(/ModuleDict: key "training" is the name of a ModuleDict property/);
    const fromPairs = new ModuleDict([["x", new ReLU()]]);
    expect([...fromPairs].map(([k]) => k)).toEqual(["x"]);
  });

  it("Sequential is exported from the containers and still chains modules", () => {
    const s = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
    expect(s.call(ones([5, 2])).shape).toEqual([5, 1]);
    expect(s.length).toBe(3);
  });
});

describe("setRequiresGrad, train and eval", () => {
  it("setRequiresGrad(false) freezes every parameter; an optimizer leaves them unchanged", () => {
    manualSeed(3);
    const backbone = new Linear(3, 4);
    const head = new Linear(4, 1);
    const model = new Sequential(backbone, new ReLU(), head);
    expect(backbone.setRequiresGrad(false)).toBe(backbone);
    expect(model.parameters().length).toBe(4); // frozen parameters stay parameters
    const before = Array.from(backbone.weight.dataSync());
    const headBefore = Array.from(head.weight.dataSync());
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    mseLoss(model.call(randn([8, 3])), randn([8, 1])).backward();
    expect(backbone.weight.grad).toBeNull();
    expect(head.weight.grad).not.toBeNull();
    opt.step();
    expect(Array.from(backbone.weight.dataSync())).toEqual(before);
    expect(Array.from(head.weight.dataSync())).not.toEqual(headBefore);
    backbone.setRequiresGrad(true);
    expect(backbone.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it("eval() switches a nested BatchNorm to its running statistics, train() back to batch statistics", () => {
    const net = new ModuleList([new Sequential(new Linear(3, 3), new BatchNorm1d(3))]);
    const inner = net.at(0) as Sequential;
    const bn = inner.at(1) as BatchNorm1d;
    const x = randn([6, 3]);
    inner.call(x); // one training step
    net.eval();
    expect(bn.training).toBe(false);
    const y = inner.call(x);
    const byHand = inner.at(0)!.call(x).sub(bn.runningMean!).div(bn.runningVar!.add(bn.eps).sqrt()).mul(bn.weight!).add(bn.bias!);
    expect(Array.from(y.dataSync())).toEqual(Array.from(byHand.dataSync()));
    expect(bn.numBatchesTracked!.itemSync()).toBe(1);
    net.train();
    inner.call(x);
    expect(bn.numBatchesTracked!.itemSync()).toBe(2);
  });

  it("a BatchNorm's buffers go through a checkpoint", async () => {
    const a = new Sequential(new Linear(2, 3), new BatchNorm1d(3));
    a.call(randn([5, 2]));
    const path = join(dir, "bn.safetensors");
    await a.save(path);
    const b = new Sequential(new Linear(2, 3), new BatchNorm1d(3));
    await b.load(path);
    for (const [name, t] of a.namedBuffers()) {
      const u = b.namedBuffers().find(([n]) => n === name)![1];
      expect([name, u.dtype, Array.from(u.dataSync())]).toEqual([name, t.dtype, Array.from(t.dataSync())]);
    }
  });

  it("eval() turns Dropout off inside nested containers and train() back on", () => {
    manualSeed(1);
    const m = new ModuleDict({ body: new MLP([4, 4], { dropout: 0 }), drop: new Dropout(0.5) });
    const x = ones([64]);
    m.eval();
    expect(m.get("drop")!.call(x)).toBe(x);
    m.train();
    expect(Array.from(m.get("drop")!.call(x).dataSync()).some((v) => v === 0)).toBe(true);
  });
});
