import { describe, expect, it } from "vitest";
import { DeltagradError, manualSeed, ones, randn, tensor, zeros, type Tensor } from "@deltagrad/autograd";
import { Dropout, Linear, MLP, Module, PReLU, ReLU, Sequential, Swish, l2Penalty, parameter, relu } from "@deltagrad/nn";

const values = (ps: Tensor[]) => ps.map((p) => Array.from(p.dataSync()));

class TwoLayer extends Module {
  readonly fc1 = new Linear(4, 8);
  readonly fc2 = new Linear(8, 3);
  forward(x: Tensor) {
    return this.fc2.call(relu(this.fc1.call(x)));
  }
}

describe("registration and naming", () => {
  it("MLP parameters are layers.<i>.weight / .bias, skipping the activations' indices", () => {
    const m = new MLP([2, 3, 4, 1]);
    expect(m.namedParameters().map(([n, p]) => `${n} [${p.shape}]`)).toEqual([
      "layers.0.weight [2,3]", "layers.0.bias [3]", "layers.2.weight [3,4]", "layers.2.bias [4]", "layers.4.weight [4,1]", "layers.4.bias [1]",
    ]);
    expect(m.parameters()).toEqual(m.namedParameters().map(([, p]) => p));
  });

  it("fields are found in declaration order; arrays give name.i; own parameters come first (PyTorch's order)", () => {
    class Net extends Module {
      readonly enc = new Linear(2, 2);
      readonly blocks = [new Linear(2, 2, { bias: false }), new PReLU(2)];
      readonly scale = tensor([1], { requiresGrad: true });
      readonly notAParameter = tensor([5]); // no requiresGrad: a plain constant
      readonly label = "text";
      forward(x: Tensor) { return x; }
    }
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual(["scale", "enc.weight", "enc.bias", "blocks.0.weight", "blocks.1.weight"]);
    expect(net.namedChildren().map(([n]) => n)).toEqual(["enc", "blocks.0", "blocks.1"]);
    expect(net.children()).toEqual([net.enc, net.blocks[0], net.blocks[1]]);
    expect(net.namedModules().map(([n]) => n)).toEqual(["", "enc", "blocks.0", "blocks.1"]);
  });

  it("registerModule / registerParameter add computed names after the fields", () => {
    class Dyn extends Module {
      readonly first = new Linear(1, 1);
      constructor() {
        super();
        this.registerParameter("gain", ones([2]));
        this.registerModule("head", new Linear(1, 2));
      }
      forward(x: Tensor) { return x; }
    }
    const d = new Dyn();
    expect(d.namedParameters().map(([n]) => n)).toEqual(["gain", "first.weight", "first.bias", "head.weight", "head.bias"]);
    expect(() => d.registerModule("a.b", new ReLU())).toThrow(/registerModule: a name must be a non-empty string without "\."/);
    expect(() => d.registerModule("first", new ReLU())).toThrow(/"first" is already a field of Dyn/);
    expect(() => d.registerParameter("ints", tensor([1], { dtype: "int32" }))).toThrow(/parameter: parameters must be float32 or float64, got int32/);
  });

  it("a module or parameter reachable twice is listed once, under its first name", () => {
    const shared = new Linear(2, 2);
    const seq = new Sequential(shared, new ReLU(), shared);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias"]);
    expect(seq.numParameters()).toBe(6);
  });

  it("a frozen parameter (requiresGrad = false) stays a parameter and in the state dict", () => {
    const fc = new Linear(2, 2);
    fc.weight.requiresGrad = false;
    expect(fc.namedParameters().map(([n]) => n)).toEqual(["weight", "bias"]);
    expect(Object.keys(fc.stateDict())).toEqual(["weight", "bias"]);
  });

  it("parameter() rejects non-leaves", () => {
    const w = tensor([1], { requiresGrad: true });
    expect(() => parameter(w.mul(2))).toThrow(/parameter: a parameter must be a leaf tensor \(this one was produced by mul\)/);
  });

  it("call is forward", () => {
    manualSeed(1);
    const net = new TwoLayer();
    const x = randn([5, 4]);
    expect(Array.from(net.call(x).dataSync())).toEqual(Array.from(net.forward(x).dataSync()));
    expect(net.call(x).shape).toEqual([5, 3]);
  });
});

describe("numParameters", () => {
  it("MLP([784, 784, 784, 10]) has 1,238,730 parameters (lecture 001's Keras MNIST net)", () => {
    // (784·784 + 784) + (784·784 + 784) + (784·10 + 10) = 615,440 + 615,440 + 7,850
    expect(784 * 784 + 784 + (784 * 784 + 784) + (784 * 10 + 10)).toBe(1_238_730);
    expect(new MLP([784, 784, 784, 10]).numParameters()).toBe(1_238_730);
  });

  it("counts a bias-free Linear, PReLU channels and Swish's β", () => {
    expect(new Linear(3, 5, { bias: false }).numParameters()).toBe(15);
    expect(new PReLU(7).numParameters()).toBe(7);
    expect(new Swish().numParameters()).toBe(1);
    expect(new Swish({ learnable: false }).numParameters()).toBe(0);
  });
});

describe("train / eval / zeroGrad / apply / to", () => {
  it("train() and eval() set the mode recursively and return the module", () => {
    const m = new MLP([2, 3, 1], { dropout: 0.5 });
    expect(m.modules().every((c) => c.training)).toBe(true);
    expect(m.eval()).toBe(m);
    expect(m.training).toBe(false);
    expect(m.modules().every((c) => !c.training)).toBe(true);
    m.train();
    expect(m.modules().every((c) => c.training)).toBe(true);
  });

  it("zeroGrad sets every .grad to null", () => {
    const m = new TwoLayer();
    m.call(randn([2, 4])).sum().backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it("apply visits children before the parent", () => {
    const seen: string[] = [];
    const m = new Sequential(new Linear(1, 1), new Sequential(new ReLU()));
    expect(m.apply((c) => seen.push(c.constructor.name))).toBe(m);
    expect(seen).toEqual(["ReLU", "Sequential", "Linear", "Sequential"]);
  });

  it("to('float64') rebinds every parameter as a float64 leaf, keeping names, values and requiresGrad", () => {
    const m = new TwoLayer();
    m.fc2.bias!.requiresGrad = false;
    const before = values(m.parameters());
    expect(m.to("float64")).toBe(m);
    expect(m.parameters().every((p) => p.dtype === "float64" && p.isLeaf)).toBe(true);
    expect(m.fc1.weight.dtype).toBe("float64");
    expect(m.fc2.bias!.requiresGrad).toBe(false);
    expect(m.fc1.weight.requiresGrad).toBe(true);
    const after = values(m.parameters());
    after.forEach((v, i) => v.forEach((e, j) => expect(e).toBe(before[i]![j]))); // float32 → float64 is exact
    expect(() => m.to("int32")).toThrow(/Module.to: parameters must be float32 or float64, got "int32"/);
  });
});

describe("stateDict / loadStateDict", () => {
  it("stateDict is a null-prototype record of detached snapshots by dotted name", () => {
    const m = new MLP([2, 3, 1]);
    const sd = m.stateDict();
    expect(Object.getPrototypeOf(sd)).toBe(null);
    expect(Object.keys(sd)).toEqual(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
    expect(sd["layers.0.weight"]!.requiresGrad).toBe(false);
    const snapshot = Array.from(sd["layers.0.weight"]!.dataSync());
    m.layers.at(0)!.parameters()[0]!.assign(zeros([2, 3])); // later in-place updates do not leak into the snapshot
    expect(Array.from(sd["layers.0.weight"]!.dataSync())).toEqual(snapshot);
  });

  it("round trip: a second model loads the first's state and computes the same function, keeping its tensors", () => {
    manualSeed(1);
    const a = new MLP([3, 5, 2], { activation: "tanh" });
    manualSeed(2);
    const b = new MLP([3, 5, 2], { activation: "tanh" });
    const x = randn([4, 3]);
    expect(Array.from(a.call(x).dataSync())).not.toEqual(Array.from(b.call(x).dataSync()));
    const tensorsBefore = b.parameters();
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(Array.from(b.call(x).dataSync())).toEqual(Array.from(a.call(x).dataSync()));
    expect(b.parameters()).toEqual(tensorsBefore);
    b.parameters().forEach((p, i) => expect(p).toBe(tensorsBefore[i])); // same identities: optimizers keep working
  });

  describe("validates every key, shape and dtype before touching anything; the model is unchanged on error", () => {
    const cases: [string, (sd: Record<string, Tensor>) => void, RegExp][] = [
      ["shape mismatch", (sd) => (sd["layers.2.weight"] = zeros([5, 2])), /"layers\.2\.weight" has shape \[5,2\] in the state dict but \[4,1\] in the model/],
      ["dtype mismatch", (sd) => (sd["layers.2.bias"] = zeros([1], { dtype: "float64" })), /"layers\.2\.bias" has dtype float64 in the state dict but float32 in the model/],
      ["missing key", (sd) => delete sd["layers.2.bias"], /missing keys: "layers\.2\.bias"/],
      ["unexpected key", (sd) => (sd["layers.9.weight"] = zeros([1])), /unexpected keys: "layers\.9\.weight"/],
      ["not a tensor", (sd) => ((sd as Record<string, unknown>)["layers.2.bias"] = [1]), /"layers\.2\.bias" is not a Tensor \(got object\)/],
    ];
    it.each(cases)("%s", (_name, corrupt, message) => {
      manualSeed(3);
      const source = new MLP([2, 4, 1]);
      const model = new MLP([2, 4, 1]);
      const before = values(model.parameters());
      const sd = source.stateDict(); // the first keys are valid and would change the model
      corrupt(sd);
      const load = () => model.loadStateDict(sd);
      expect(load).toThrow(DeltagradError);
      expect(load).toThrow(message);
      expect(load).toThrow(/^MLP\.loadStateDict: .*\(the model was not changed\)$/);
      expect(values(model.parameters())).toEqual(before);
      expect(values(source.parameters())).not.toEqual(before);
    });

    it("reports every problem at once", () => {
      const model = new MLP([2, 4, 1]);
      const sd = model.stateDict();
      sd["layers.0.weight"] = zeros([3, 4]);
      delete sd["layers.0.bias"];
      expect(() => model.loadStateDict(sd)).toThrow(/"layers\.0\.weight" has shape \[3,4\].*; missing keys: "layers\.0\.bias"/);
    });
  });

  it("strict: false skips missing and unexpected keys and reports them, but still rejects bad shapes", () => {
    manualSeed(4);
    const source = new MLP([2, 4, 1]);
    const model = new MLP([2, 4, 1]);
    const sd = source.stateDict();
    delete sd["layers.2.bias"];
    sd["extra"] = zeros([1]);
    const biasBefore = Array.from(model.layers.at(2)!.parameters()[1]!.dataSync());
    expect(model.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ["layers.2.bias"], unexpectedKeys: ["extra"] });
    expect(Array.from(model.parameters()[0]!.dataSync())).toEqual(Array.from(source.parameters()[0]!.dataSync()));
    expect(Array.from(model.layers.at(2)!.parameters()[1]!.dataSync())).toEqual(biasBefore);
    sd["layers.0.bias"] = zeros([7]);
    expect(() => model.loadStateDict(sd, { strict: false })).toThrow(/"layers\.0\.bias" has shape \[7\] in the state dict but \[4\] in the model/);
  });

  it("rejects a non-record", () => {
    expect(() => new Linear(1, 1).loadStateDict(null as unknown as Record<string, Tensor>)).toThrow(/Linear\.loadStateDict: expected a record of tensors by name, got null/);
  });
});

describe("toString", () => {
  it("prints the tree with parameter shapes and counts", () => {
    const m = new MLP([4, 8, 3], { dropout: 0.1 });
    expect(String(m)).toBe(
      [
        "MLP(  # 67 parameters",
        "  (layers): Sequential(  # 67 parameters",
        "    (0): Linear(inFeatures=4, outFeatures=8, bias=true)  # weight [4,8], bias [8]: 40 parameters",
        "    (1): ReLU()",
        "    (2): Dropout(p=0.1)",
        "    (3): Linear(inFeatures=8, outFeatures=3, bias=true)  # weight [8,3], bias [3]: 27 parameters",
        "  )",
        ")",
      ].join("\n"),
    );
  });

  it("shows non-float32 dtypes, own parameters of containers, extra text, thousands separators and shared modules", () => {
    class Net extends Module {
      readonly scale = tensor([1], { requiresGrad: true, dtype: "float64" });
      readonly body = new MLP([784, 784, 10]);
      readonly again = this.body;
      forward(x: Tensor) { return x; }
    }
    expect(String(new Net())).toBe(
      [
        "Net(  # scale [1] float64: 623,291 parameters",
        "  (body): MLP(  # 623,290 parameters",
        "    (layers): Sequential(  # 623,290 parameters",
        "      (0): Linear(inFeatures=784, outFeatures=784, bias=true)  # weight [784,784], bias [784]: 615,440 parameters",
        "      (1): ReLU()",
        "      (2): Linear(inFeatures=784, outFeatures=10, bias=true)  # weight [784,10], bias [10]: 7,850 parameters",
        "    )",
        "  )",
        "  (again): MLP(…)  # shared, listed above",
        ")",
      ].join("\n"),
    );
    expect(String(new Swish())).toBe("Swish(learnable β)  # beta [1]: 1 parameter");
    expect(String(new Dropout(0.25))).toBe("Dropout(p=0.25)");
  });
});

describe("l2Penalty = ½λ Σ‖W‖²_F over weights only", () => {
  it("skips biases and rank-1 parameters; gradient is λW", () => {
    const m = new Sequential(new Linear(3, 2), new PReLU(2), new Linear(2, 1));
    const [w1, b1, , w2, b2] = m.parameters() as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const sq = (t: Tensor) => Array.from(t.dataSync()).reduce((s, v) => s + v * v, 0);
    const lambda = 0.3;
    const pen = l2Penalty(m, lambda);
    expect(pen.shape).toEqual([]);
    expect(pen.itemSync()).toBeCloseTo(0.5 * lambda * (sq(w1) + sq(w2)), 6);
    pen.backward();
    Array.from(w1.grad!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(lambda * w1.dataSync()[i]!, 6));
    expect(b1.grad).toBe(null);
    expect(b2.grad).toBe(null);
    expect(m.parameters()[2]!.grad).toBe(null); // the PReLU slope
  });

  it("accepts an array of tensors (rank rule only) and a custom filter", () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const b = tensor([10], { requiresGrad: true });
    expect(l2Penalty([w, b], 2).itemSync()).toBe(30); // ½·2·(1 + 4 + 9 + 16)
    expect(l2Penalty([w, b], 2, { filter: () => true }).itemSync()).toBe(130);
    expect(l2Penalty([b], 2).itemSync()).toBe(0);
  });

  it("validates lambda and params", () => {
    expect(() => l2Penalty(new Linear(1, 1), -1)).toThrow(/l2Penalty: lambda must be a finite number ≥ 0, got -1/);
    expect(() => l2Penalty([1 as unknown as Tensor], 1)).toThrow(/l2Penalty: params\[0\] is not a Tensor/);
  });
});

describe("rich display", () => {
  it("Module renders as an HTML table with one row per module and the total", () => {
    const m = new MLP([4, 6, 3]);
    const bundle = (m as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]!();
    expect(bundle["text/plain"]).toBe(String(m));
    const html = bundle["text/html"]!;
    expect(html.match(/<tr>/g)!.length).toBe(1 + m.namedModules().length + 1); // header, modules, total
    expect(html).toContain("weight [4,6]");
    expect(html).toContain(">51<"); // 4·6+6 + 6·3+3
    expect((html.match(/<table>/g) ?? []).length).toBe((html.match(/<\/table>/g) ?? []).length);
  });
});
