/**
 * The five workloads (W1 matmul, W2 MLP, W3 LeNet-5, W4 the scalar sigmoid graph, W5 an
 * elementwise expression), one runner per framework each; frameworks.ts holds the frameworks,
 * their activation and the shared training-step runners.
 */
import * as dg from "@deltagrad/autograd";
import { LeNet5, MLP } from "@deltagrad/nn";
import { Adam, SGD } from "@deltagrad/optim";
import * as jax from "@jax-js/jax";
import * as tf from "@tensorflow/tfjs";
import { Unsupported, compiled, dgRunner, dgTrainRunner, isDeltagrad, jaxParams, jaxTrainRunner, jnp, labels, on, snapshot, tfTrainRunner, uniform, type FrameworkId, type Runner } from "./frameworks.js";

// ----- W1 matmul -----

export function matmulRunner(fw: FrameworkId, n: number): Runner {
  const av = uniform(n * n, 11, -1, 1);
  const bv = uniform(n * n, 12, -1, 1);
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const a = dg.tensor(av).reshape([n, n]);
    const b = dg.tensor(bv).reshape([n, n]);
    // The product is given back at once, as the TF.js runner below disposes its own. Dropped
    // unreleased instead, 4 MB products would pile up to the wasm memory budget (fresh pages
    // each step) and then be evicted to the JS heap: correct, but that measures the eviction.
    const mm = compiled(fw) ? dg.compile((a: dg.Tensor, b: dg.Tensor) => dg.matmul(a, b)) : dg.matmul;
    const run = () => {
      const c = mm(a, b);
      const v = c.dataSync();
      c.dispose();
      return v;
    };
    return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => [a, b].forEach((t) => t.dispose()) };
  });
  if (fw === "jax-js-wasm") {
    const a = jnp.array(av).reshape([n, n]);
    const b = jnp.array(bv).reshape([n, n]);
    const run = () => jnp.matmul(a.ref, b.ref).dataSync() as Float32Array; // dataSync frees the product
    return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => jax.tree.dispose([a, b]) };
  }
  const a = tf.tensor2d(av, [n, n]);
  const b = tf.tensor2d(bv, [n, n]);
  const run = () => {
    const c = tf.matMul(a, b);
    const v = c.dataSync() as Float32Array;
    c.dispose();
    return v;
  };
  return { step: () => run()[0]!, check: () => Array.from(run().subarray(0, 64)), dispose: () => tf.dispose([a, b]) };
}

// ----- W2 MLP 784-784-784-10, relu, softmax cross-entropy, Adam 1e-3 -----

export function mlpRunner(fw: FrameworkId, batch: number, sizes: readonly number[] = [784, 784, 784, 10]): Runner {
  // Every framework starts from deltagrad's initialisation (seeded; the same on both backends).
  const build = () => {
    dg.manualSeed(1);
    return new MLP(sizes, { activation: "relu" });
  };
  const xv = uniform(batch * sizes[0]!, 21);
  const yv = labels(batch, sizes[sizes.length - 1]!, 22);
  const layers = sizes.length - 1;
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const model = build();
    return dgTrainRunner(model, new Adam(model.parameters(), { lr: 1e-3 }), dg.tensor(xv).reshape([batch, sizes[0]!]), dg.tensor(yv), compiled(fw));
  });
  const init = on("deltagrad-cpu", () => snapshot(build()));
  if (fw === "jax-js-wasm") {
    const names = Array.from({ length: layers }, (_, l) => [`layers.${2 * l}.weight`, `layers.${2 * l}.bias`]).flat();
    const mlp = (p: jax.Array[], x: jax.Array, y: jax.Array) => {
      let h = x;
      for (let l = 0; l < layers; l++) {
        h = jnp.matmul(h, p[2 * l]!).add(p[2 * l + 1]!);
        if (l + 1 < layers) h = jax.nn.relu(h);
      }
      return jax.nn.logSoftmax(h).mul(jax.nn.oneHot(y, sizes[layers]!)).sum(1).neg().mean();
    };
    const x = jnp.array(xv).reshape([batch, sizes[0]!]);
    const y = jnp.array(yv, { dtype: jnp.int32 });
    return jaxTrainRunner(mlp, jaxParams(init, names), x, y, { adam: true, lr: 1e-3 });
  }
  const ws: tf.Variable[] = [];
  const bs: tf.Variable[] = [];
  for (let l = 0; l < layers; l++) {
    const w = init.get(`layers.${2 * l}.weight`)!;
    const b = init.get(`layers.${2 * l}.bias`)!;
    ws.push(tf.variable(tf.tensor(w.values, w.shape)));
    bs.push(tf.variable(tf.tensor(b.values, b.shape)));
  }
  const x = tf.tensor2d(xv, [batch, sizes[0]!]);
  const y = tf.tensor1d(yv, "int32");
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return tfTrainRunner(opt, () => {
    let h: tf.Tensor = x;
    for (let l = 0; l < layers; l++) {
      h = tf.add(tf.matMul(h as tf.Tensor2D, ws[l]!), bs[l]!);
      if (l + 1 < layers) h = tf.relu(h);
    }
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, sizes[layers]!), h) as tf.Scalar;
  }, [...ws, ...bs, x, y]);
}

// ----- W3 LeNet-5 (conv 6@5×5 pad 2, relu, maxpool 2, conv 16@5×5, relu, maxpool 2, 400-120-84-10), SGD 0.01 -----

export function lenetRunner(fw: FrameworkId, batch: number): Runner {
  if (fw === "tfjs-wasm") throw new Unsupported("TF.js wasm 4.22 has no Conv2DBackpropFilter kernel, so a convolution cannot be trained on it");
  const build = () => {
    dg.manualSeed(2);
    return new LeNet5({ activation: "relu", pool: "max" });
  };
  const xv = uniform(batch * 28 * 28, 31);
  const yv = labels(batch, 10, 32);
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const model = build();
    return dgTrainRunner(model, new SGD(model.parameters(), { lr: 0.01 }), dg.tensor(xv).reshape([batch, 1, 28, 28]), dg.tensor(yv), compiled(fw));
  });
  const init = on("deltagrad-cpu", () => snapshot(build()));
  if (fw === "jax-js-wasm") {
    // NCHW and [K, C, F, F] filters, as deltagrad: the weights go in unchanged.
    const names = ["c1", "c3", "c5", "f6", "output"].flatMap((l) => [`${l}.weight`, `${l}.bias`]);
    const conv = (h: jax.Array, w: jax.Array, b: jax.Array, pad: number) =>
      jax.nn.relu(jax.lax.convGeneralDilated(h, w, [1, 1], [[pad, pad], [pad, pad]]).add(b.reshape([1, -1, 1, 1])));
    const pool = (h: jax.Array) => jax.lax.reduceWindow(h, jnp.max, [2, 2], [2, 2]);
    const lenet = (p: jax.Array[], x: jax.Array, y: jax.Array) => {
      let h = pool(conv(x, p[0]!, p[1]!, 2));
      h = pool(conv(h, p[2]!, p[3]!, 0));
      h = conv(h, p[4]!, p[5]!, 0).reshape([batch, 120]);
      h = jax.nn.relu(jnp.matmul(h, p[6]!).add(p[7]!));
      const logits = jnp.matmul(h, p[8]!).add(p[9]!);
      return jax.nn.logSoftmax(logits).mul(jax.nn.oneHot(y, 10)).sum(1).neg().mean();
    };
    const x = jnp.array(xv).reshape([batch, 1, 28, 28]);
    const y = jnp.array(yv, { dtype: jnp.int32 });
    return jaxTrainRunner(lenet, jaxParams(init, names), x, y, { adam: false, lr: 0.01 });
  }
  // NHWC; filters [K, C, F, F] → [F, F, C, K]. With C = 1 the input needs only a reshape.
  const filt = (name: string) => {
    const p = init.get(name)!;
    return tf.variable(tf.tidy(() => tf.transpose(tf.tensor(p.values, p.shape), [2, 3, 1, 0])));
  };
  const vec = (name: string) => {
    const p = init.get(name)!;
    return tf.variable(tf.tensor(p.values, p.shape));
  };
  const w1 = filt("c1.weight"), b1 = vec("c1.bias"), w3 = filt("c3.weight"), b3 = vec("c3.bias");
  const w5 = filt("c5.weight"), b5 = vec("c5.bias"), w6 = vec("f6.weight"), b6 = vec("f6.bias");
  const wo = vec("output.weight"), bo = vec("output.bias");
  const x = tf.tensor4d(xv, [batch, 28, 28, 1]);
  const y = tf.tensor1d(yv, "int32");
  const opt = tf.train.sgd(0.01);
  return tfTrainRunner(opt, () => {
    const conv = (h: tf.Tensor4D, w: tf.Variable, b: tf.Variable, pad: "same" | "valid") => tf.relu(tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, pad), b)) as tf.Tensor4D;
    let h = tf.maxPool(conv(x, w1, b1, "same"), 2, 2, "valid");
    h = tf.maxPool(conv(h, w3, b3, "valid"), 2, 2, "valid");
    const h5 = conv(h, w5, b5, "valid").reshape([batch, 120]) as tf.Tensor2D;
    const h6 = tf.relu(tf.add(tf.matMul(h5, w6 as tf.Tensor2D), b6)) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(h6, wo as tf.Tensor2D), bo);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits) as tf.Scalar;
  }, [w1, b1, w3, b3, w5, b5, w6, b6, wo, bo, x, y]);
}

// ----- W4 the lecture's scalar sigmoid graph: build + backward + read both gradients -----

/** Runs `once` n times (one graph each) and sums the first gradient, so no run can be skipped. */
function repeat(n: number, once: () => [number, number]): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += once()[0];
  return acc;
}

/** `iters` graphs per step (the figure reported is per graph). */
export function scalarGraphRunner(fw: FrameworkId, iters: number): Runner {
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const x = dg.tensor(1);
    const w = dg.tensor(0, { requiresGrad: true });
    const b = dg.tensor(0, { requiresGrad: true });
    const eager = (): [number, number] => {
      w.grad = null;
      b.grad = null;
      w.mul(x).add(b).neg().exp().add(1).reciprocal().backward(); // h1 … h6 of the lecture
      return [w.grad!.itemSync(), (b.grad as dg.Tensor | null)!.itemSync()];
    };
    // Compiled: the same graph and its two gradients, one generated function per replay.
    const grads = dg.compile((x: dg.Tensor, w: dg.Tensor, b: dg.Tensor) =>
      dg.grad((w: dg.Tensor, b: dg.Tensor) => w.mul(x).add(b).neg().exp().add(1).reciprocal(), { argnums: [0, 1] })(w, b) as unknown as dg.Tensor[]);
    const w0 = dg.tensor(0);
    const b0 = dg.tensor(0);
    const once = compiled(fw)
      ? (): [number, number] => {
          const [gw, gb] = grads(x, w0, b0);
          return [gw!.itemSync(), gb!.itemSync()];
        }
      : eager;
    return {
      step: () => repeat(iters, once),
      check: once,
      dispose() {},
    };
  });
  if (fw === "jax-js-wasm") {
    const x = jnp.array(1);
    const w = jnp.array(0);
    const b = jnp.array(0);
    const g = jax.grad((w: jax.Array, b: jax.Array) => jnp.reciprocal(jnp.exp(w.mul(x.ref).add(b).neg()).add(1)), { argnums: [0, 1] });
    const once = (): [number, number] => {
      const [gw, gb] = g(w.ref, b.ref) as [jax.Array, jax.Array];
      return [gw.item(), gb.item()];
    };
    // jax-js traces every eager grad (~1 ms a graph): a step runs a tenth of the graphs.
    const k = Math.max(1, Math.round(iters / 10));
    return {
      step: () => repeat(k, once),
      check: once,
      dispose: () => jax.tree.dispose([x, w, b]),
      fraction: k / iters,
    };
  }
  const x = tf.scalar(1);
  const w = tf.scalar(0);
  const b = tf.scalar(0);
  const g = tf.grads((w: tf.Tensor, b: tf.Tensor) => w.mul(x).add(b).neg().exp().add(1).reciprocal());
  const once = (): [number, number] =>
    tf.tidy(() => {
      const [gw, gb] = g([w, b]);
      return [gw!.dataSync()[0]!, gb!.dataSync()[0]!] as [number, number];
    });
  return {
    step: () => repeat(iters, once),
    check: once,
    dispose: () => tf.dispose([x, w, b]),
  };
}

// ----- W5 y = exp(x)·x + 1, forward only -----

export function elementwiseRunner(fw: FrameworkId, n: number): Runner {
  const xv = uniform(n, 51, -1, 1);
  const pick = (v: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += v[i]!;
    return [v[0]!, v[1]!, v[n >> 1]!, v[n - 1]!, sum];
  };
  if (isDeltagrad(fw)) return dgRunner(fw, () => {
    const x = dg.tensor(xv).reshape([n]);
    // `scoped` gives the two temporaries and the result back at once, as TF.js's tidy/dispose
    // below. Without it the step is as correct, but a loop that drops tensors unreleased fills
    // wasm memory up to its budget and then pays for evicting the oldest to the JS heap.
    const f = dg.compile((x: dg.Tensor) => x.exp().mul(x).add(1));
    const run = compiled(fw)
      ? () => {
          const y = f(x);
          const v = y.dataSync();
          y.dispose();
          return v;
        }
      : () => dg.scoped(() => x.exp().mul(x).add(1).dataSync());
    return { step: () => run()[0]!, check: () => pick(run()), dispose() {} };
  });
  if (fw === "jax-js-wasm") {
    const x = jnp.array(xv);
    // Eager, as the other frameworks (jax-js's arrays are lazy: it may fuse the three ops itself).
    const run = () => jnp.exp(x.ref).mul(x.ref).add(1).dataSync();
    return { step: () => run()[0]!, check: () => pick(run()), dispose: () => x.dispose() };
  }
  const x = tf.tensor1d(xv);
  // tidy returns the tensor, not its values: tidy walks whatever it returns looking for tensors,
  // which for a million-element array costs ~0.5 s and would not be TF.js's cost.
  const run = () => {
    const y = tf.tidy(() => tf.exp(x).mul(x).add(1));
    const v = y.dataSync();
    y.dispose();
    return v;
  };
  return { step: () => run()[0]!, check: () => pick(run()), dispose: () => x.dispose() };
}
