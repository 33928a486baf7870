/** Checkpoint files on disk: atomic writes, models and optimizers, Module.save / Module.load. */
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DeltagradError, Tensor, manualSeed, tensor } from "@deltagrad/autograd";
import { Adam, SGD } from "@deltagrad/optim";
import { MLP } from "@deltagrad/nn";
import { deserialize, deserializeMetadata, load, loadModel, loadOptimizer, save, saveModel, saveOptimizer } from "@deltagrad/nn";
import { makeModel, snapshot, useTempDir } from "./checkpoint-support.js";

const tmp = useTempDir();

describe("atomic writes", () => {
  const tmpFiles = async (d: string) => (await readdir(d)).filter((f) => f.endsWith(".tmp"));

  it("a tensor whose data cannot be read mid-way leaves the old file intact and no temporary file", async () => {
    const d = join(tmp(), "atomic1");
    await mkdir(d);
    const path = join(d, "model.safetensors");
    const m = makeModel();
    await saveModel(m, path);
    const good = await readFile(path);

    const broken = tensor([1, 2, 3]);
    broken.data = async () => {
      throw new Error("device lost");
    };
    // `a` is written first (same dtype, earlier in order), then reading `b` fails.
    await expect(save({ a: tensor([1, 2]), b: broken }, path)).rejects.toThrow(/save: cannot write ".*model\.safetensors": device lost/);
    expect(await readFile(path)).toEqual(good);
    expect(await tmpFiles(d)).toEqual([]);
    await loadModel(m, path);
  });

  it("a failing rename (the target is a directory) removes the temporary file", async () => {
    const d = join(tmp(), "atomic2");
    await mkdir(join(d, "model.safetensors"), { recursive: true });
    await writeFile(join(d, "model.safetensors", "keep"), "x");
    await expect(save({ a: tensor([1]) }, join(d, "model.safetensors"))).rejects.toThrow(DeltagradError);
    expect(await tmpFiles(d)).toEqual([]);
    expect(await readFile(join(d, "model.safetensors", "keep"), "utf8")).toBe("x");
  });

  it("a folder that does not exist (no temporary file can be created) is a clear error", async () => {
    await expect(save({ a: tensor([1]) }, join(tmp(), "missing", "m.safetensors"))).rejects.toThrow(/save: cannot write ".*m\.safetensors": ENOENT/);
  });

  it("bad input is refused before the file system is touched", async () => {
    const d = join(tmp(), "atomic3");
    await mkdir(d);
    const path = join(d, "m.safetensors");
    await writeFile(path, "old");
    await expect(save({ a: "x" as unknown as Tensor }, path)).rejects.toThrow(/save: "a" is not a Tensor/);
    await expect(save({}, path, { metadata: { a: 1 as unknown as string } })).rejects.toThrow(/metadata "a" must be a string/);
    expect(await readFile(path, "utf8")).toBe("old");
    expect(await readdir(d)).toEqual(["m.safetensors"]);
  });

  it("a successful save replaces the old file", async () => {
    const path = join(tmp(), "replace.safetensors");
    await save({ a: tensor([1]) }, path);
    await save({ b: tensor([2, 3]) }, path);
    expect(Object.keys(await load(path))).toEqual(["b"]);
  });
});

describe("models and optimizers", () => {
  it("saveModel / loadModel restore a model in another instance", async () => {
    manualSeed(5);
    const a = new MLP([4, 8, 3]);
    manualSeed(6);
    const b = new MLP([4, 8, 3]);
    const path = join(tmp(), "mlp.safetensors");
    await saveModel(a, path);
    expect(await loadModel(b, path)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(snapshot(b)).toEqual(snapshot(a));
  });

  async function trained(opt: "adam" | "sgd") {
    manualSeed(9);
    const model = new MLP([3, 4, 2]);
    const o = opt === "adam" ? new Adam(model.parameters(), { lr: 0.01 }) : new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = tensor([[1, 2, 3], [-1, 0, 2]]);
    for (let i = 0; i < 3; i++) {
      o.zeroGrad();
      model.call(x).square().sum().backward();
      o.step();
    }
    return { model, o, x };
  }

  it("saveOptimizer writes state tensors as tensors and the rest as JSON metadata", async () => {
    const { o } = await trained("adam");
    const path = join(tmp(), "adam.safetensors");
    await saveOptimizer(o, path);
    const bytes = await readFile(path);
    const meta = deserializeMetadata(bytes);
    expect(meta.format).toBe("deltagrad.optimizer/1");
    expect(meta.type).toBe("Adam");
    expect(JSON.parse(meta.param_groups!)[0]).toMatchObject({ lr: 0.01, betas: [0.9, 0.999], params: [0, 1, 2, 3] });
    expect(JSON.parse(meta.scalars!)["state.0.step"]).toBe(3);
    expect(Object.keys(deserialize(bytes)).sort()).toEqual(Object.keys(o.stateDict().tensors).sort());
  });

  for (const kind of ["adam", "sgd"] as const) {
    it(`${kind}: model + optimizer restored in a fresh process-like setup continue identically`, async () => {
      const { model, o, x } = await trained(kind);
      const mp = join(tmp(), `${kind}-model.safetensors`);
      const op = join(tmp(), `${kind}-opt.safetensors`);
      await saveModel(model, mp);
      await saveOptimizer(o, op);

      manualSeed(100);
      const model2 = new MLP([3, 4, 2]);
      await loadModel(model2, mp);
      const o2 = kind === "adam" ? new Adam(model2.parameters(), { lr: 0.5 }) : new SGD(model2.parameters(), { lr: 0.5, momentum: 0.9 });
      await loadOptimizer(o2, op);
      for (const [m, opt] of [[model, o], [model2, o2]] as const) {
        opt.zeroGrad();
        m.call(x).square().sum().backward();
        opt.step();
      }
      expect(snapshot(model2)).toEqual(snapshot(model));
    });
  }

  it("loadOptimizer refuses a model file, a mismatched optimizer and bad metadata, leaving the optimizer unchanged", async () => {
    const { model, o } = await trained("adam");
    const mp = join(tmp(), "only-model.safetensors");
    await saveModel(model, mp);
    const before = JSON.stringify(o.stateDict().scalars);
    await expect(loadOptimizer(o, mp)).rejects.toThrow(/not an optimizer checkpoint \("__metadata__" format is missing/);

    const sgd = (await trained("sgd")).o;
    const sp = join(tmp(), "sgd-state.safetensors");
    await saveOptimizer(sgd, sp);
    await expect(loadOptimizer(o, sp)).rejects.toThrow(/state dict is for "SGD", not Adam/);

    const dup = join(tmp(), "dup-meta.safetensors");
    await save(o.stateDict().tensors, dup, { metadata: { format: "deltagrad.optimizer/1", type: "Adam", param_groups: "[]", scalars: '{"state.0.step":1,"state.0.step":2}' } });
    await expect(loadOptimizer(o, dup)).rejects.toThrow(/"__metadata__" "scalars": duplicate key "state.0.step"/);
    const notJson = join(tmp(), "bad-meta.safetensors");
    await save({}, notJson, { metadata: { format: "deltagrad.optimizer/1", type: "Adam", param_groups: "[{", scalars: "{}" } });
    await expect(loadOptimizer(o, notJson)).rejects.toThrow(/"param_groups" is not valid JSON/);
    expect(JSON.stringify(o.stateDict().scalars)).toBe(before);
  });

  it("saveOptimizer refuses state JSON cannot hold", async () => {
    const fake = { stateDict: () => ({ type: "X", paramGroups: [{ lr: Infinity, params: [] }], tensors: {}, scalars: {} }), loadStateDict: () => {} };
    await expect(saveOptimizer(fake, join(tmp(), "inf.safetensors"))).rejects.toThrow(/saveOptimizer: a hyperparameter "lr" is Infinity, which JSON cannot hold/);
  });
});

describe("Module.save / Module.load", () => {
  it("round-trips a model through a file with the module methods", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dg-module-"));
    const a = new MLP([3, 4, 2]);
    const b = new MLP([3, 4, 2]);
    await a.save(join(dir, "m.safetensors"));
    await b.load(join(dir, "m.safetensors"));
    a.parameters().forEach((p, i) => expect(Array.from(b.parameters()[i]!.dataSync())).toEqual(Array.from(p.dataSync())));
    await rm(dir, { recursive: true });
  });
});
