import { describe, expect, it } from "vitest";
import { DeltagradError, isTracing, ones, tensor, trace, traceRegion, type Tensor } from "@deltagrad/autograd";

describe("trace (the forward recorder shared by compile and ONNX export)", () => {
  it("records each primitive with attributes, input ids, shapes and dtypes, and classifies leaves", () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const c = tensor([10, 20]);
    const g = trace((x) => x.matmul(w).add(c).mul(2).sum({ axis: 1 }), [ones([3, 2])]);
    expect(g.nodes.map((n) => n.op)).toEqual(["matmul", "add", "mul", "sum", "reshape"]);
    expect(g.values.map((v) => v.kind)).toEqual(["input", "param", "op", "const", "op", "const", "op", "op", "op"]);
    expect(g.values[g.nodes[0]!.output]!.shape).toEqual([3, 2]);
    expect(g.nodes[3]!.attrs).toEqual({ axes: [1] });
    expect(Array.from(g.values[3]!.data!)).toEqual([10, 20]); // constants' values are captured
    expect(g.values[5]!.shape).toEqual([]); // the scalar 2
    expect(g.values[1]!.tensor).toBe(w);
    expect(g.inputs).toEqual([0]);
    expect(g.outputs).toEqual([g.nodes[4]!.output]);
    expect(g.values.every((v) => v.dtype === "float32")).toBe(true);
  });

  it("a detached copy of a traced value is that value, not a constant frozen at the example", () => {
    const g = trace((x) => {
      const y = x.exp();
      return y.detach().add(y.reshape([2, 1]).detach().reshape([2]));
    }, [tensor([1, 2])]);
    expect(g.nodes.map((n) => n.op)).toEqual(["exp", "reshape", "reshape", "add"]);
    // exp's output, or the reshape back to its shape over the same storage: the same values either way
    expect([g.nodes[0]!.output, g.nodes[2]!.output]).toContain(g.nodes[3]!.inputs[0]);
    expect(g.nodes[1]!.inputs[0]).toBe(g.nodes[0]!.output);
    expect(g.nodes[2]!.inputs[0]).toBe(g.nodes[1]!.output);
    expect(g.values.filter((v) => v.kind === "const")).toEqual([]);
  });

  it("params option marks tensors as parameters even without requiresGrad", () => {
    const w = tensor([2]);
    const g = trace((x) => x.mul(w), [tensor([1])], { params: [w] });
    expect(g.values[g.nodes[0]!.inputs[1]!]!.kind).toBe("param");
  });

  it("regions bracket the primitives a composite ran, nested ones with their depth; no trace → just runs", () => {
    const inner = (x: Tensor) => traceRegion("Inner", "i", [x], () => x.exp());
    const g = trace((x) => traceRegion("Outer", { k: 1 }, [x], () => inner(x.neg()).add(1)), [tensor([1, 2])]);
    expect(g.regions.map((r) => [r.name, r.start, r.end, r.depth])).toEqual([["Outer", 0, 3, 0], ["Inner", 1, 2, 1]]);
    expect(g.regions[0]!.info).toEqual({ k: 1 });
    expect(g.regions[0]!.output).toBe(g.outputs[0]);
    expect(traceRegion("X", null, [], () => tensor(3)).itemSync()).toBe(3);
  });

  it("is off after the trace, also when the function throws; traces do not nest", () => {
    expect(() => trace(() => { throw new Error("boom"); }, [])).toThrow("boom");
    expect(isTracing()).toBe(false);
    expect(() => trace(() => trace((x) => x, [tensor(1)]) as never, [])).toThrow(DeltagradError);
    expect(isTracing()).toBe(false);
    // Nothing is recorded outside a trace: a second trace sees only its own ops.
    tensor([1]).exp();
    expect(trace((x) => x.neg(), [tensor([1])]).nodes.length).toBe(1);
  });

  it("rejects bad arguments with DeltagradError", () => {
    expect(() => trace(null as never, [])).toThrow(DeltagradError);
    expect(() => trace((x) => x, [1 as never])).toThrow(DeltagradError);
    const t = tensor(1);
    expect(() => trace((x) => x, [t, t])).toThrow(/two inputs/);
    expect(() => trace(() => 3 as never, [])).toThrow(/return a Tensor/);
  });
});
