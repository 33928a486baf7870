/**
 * A tiny GPT that learns to sort (minGPT's "sort" demo): a sequence is six digits followed by the
 * same digits sorted, e.g. `3 1 4 1 5 9 | 1 1 3 4 5 9`. The model reads the first 11 tokens and,
 * at every position, predicts the next one; only the six sorted digits are scored. At test time it
 * gets six unseen digits and writes the sorted six itself, one greedy token at a time; a sequence
 * counts as right only if all six are.
 *
 * Model: token + position embeddings, two pre-norm TransformerEncoderLayers with a causal mask
 * (GPT-2's block), a final LayerNorm and a linear head over the 10 digits. Trained with `fit` and
 * Adam on cross-entropy, the learning rate warming up over 20 steps and then decaying to 0 on a
 * cosine, stepped after every batch. Writes the attention maps of one test sequence to
 * examples/out/tiny-gpt-attention.svg (one panel per layer and head).
 *
 *   pnpm gpt [--epochs 5] [--train-size 10000] [--test-size 1000] [--batch-size 128] [--d-model 32] [--heads 4] [--lr 0.003] [--seed 0]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as ag from "@deltagrad/autograd";
import { Generator, manualSeed, noGrad, tensor, type Tensor } from "@deltagrad/autograd";
import { Embedding, LayerNorm, Linear, Module, ModuleList, TransformerEncoderLayer, crossEntropy, fit } from "@deltagrad/nn";
import { Adam, LambdaLR } from "@deltagrad/optim";
import { isMain, parseFlags } from "./shared/cli.js";

/** Digits per sequence (and sorted digits to predict). */
export const LENGTH = 6;
/** Token values: the digits 0–9. */
export const VOCAB = 10;
/** The model sees 2·LENGTH − 1 tokens: the digits and all sorted ones but the last. */
export const CONTEXT = 2 * LENGTH - 1;

/**
 * `n` random digit sequences (none of them in `exclude`, and no two alike), as the model's
 * inputs `x` [n, 11] (digits, then sorted digits but the last) and targets `y` [n, 6] (sorted).
 */
export function sortData(n: number, { seed = 0, exclude = new Set<string>() }: { seed?: number; exclude?: Set<string> } = {}) {
  const g = new Generator(seed);
  const x = new Int32Array(n * CONTEXT);
  const y = new Int32Array(n * LENGTH);
  const keys = new Set<string>();
  for (let i = 0; i < n; ) {
    const digits = Array.from({ length: LENGTH }, () => Math.floor(g.uniform() * VOCAB));
    const key = digits.join("");
    if (exclude.has(key) || keys.has(key)) continue;
    keys.add(key);
    const sorted = digits.slice().sort((a, b) => a - b);
    x.set([...digits, ...sorted.slice(0, -1)], i * CONTEXT);
    y.set(sorted, i * LENGTH);
    i++;
  }
  return { x: tensor(x, { dtype: "int32" }).reshape([n, CONTEXT]), y: tensor(y, { dtype: "int32" }).reshape([n, LENGTH]), keys };
}

export interface TinyGPTOptions {
  dModel?: number;
  heads?: number;
  layers?: number;
  generator?: Generator;
}

/** GPT: embeddings → pre-norm causal encoder layers → LayerNorm → linear head; logits [N, T, VOCAB]. */
export class TinyGPT extends Module<[ids: Tensor], Tensor> {
  readonly tokens: Embedding;
  readonly positions: Embedding;
  readonly blocks: ModuleList<TransformerEncoderLayer>;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor({ dModel = 48, heads = 4, layers = 2, generator }: TinyGPTOptions = {}) {
    super();
    this.tokens = new Embedding(VOCAB, dModel, { generator });
    this.positions = new Embedding(CONTEXT, dModel, { generator });
    const block = () => new TransformerEncoderLayer(dModel, heads, { dimFeedforward: 4 * dModel, dropout: 0, activation: "gelu", normFirst: true, batchFirst: true, generator });
    this.blocks = new ModuleList(Array.from({ length: layers }, block));
    this.norm = new LayerNorm(dModel);
    this.head = new Linear(dModel, VOCAB, { generator });
  }

  /** The residual stream entering each block and leaving the last, for the attention maps. */
  #embed(ids: Tensor): Tensor {
    const T = ids.shape[1]!;
    return this.tokens.call(ids).add(this.positions.call(ag.arange(T, undefined, 1, { dtype: "int32" })));
  }

  forward(ids: Tensor): Tensor {
    let h = this.#embed(ids);
    for (const b of this.blocks) h = b.call(h, { isCausal: true });
    return this.head.call(this.norm.call(h));
  }

  /** Per layer, the attention weights of every head, `[N, heads, T, T]` (eval mode, no graph). */
  attentionMaps(ids: Tensor): Tensor[] {
    return noGrad(() => {
      const maps: Tensor[] = [];
      let h = this.#embed(ids);
      for (const b of this.blocks) {
        const n = b.norm1.call(h);
        maps.push(b.self_attn.call(n, n, n, { isCausal: true, averageAttnWeights: false })[1]!);
        h = b.call(h, { isCausal: true });
      }
      return maps;
    });
  }
}

/** Cross-entropy over the six sorted positions (the last six of the 11 predictions). */
export function sortLoss(logits: Tensor, y: Tensor): Tensor {
  return crossEntropy(logits.slice([0, LENGTH - 1, 0], [-1, LENGTH, -1]).reshape([-1, VOCAB]), y.reshape([-1]));
}

/** Teacher-forced exact-sequence accuracy: all six next-digit predictions right. */
export function exactSequence(logits: Tensor, y: Tensor): number {
  const pred = noGrad(() => ag.argmax(logits.slice([0, LENGTH - 1, 0], [-1, LENGTH, -1]), { axis: -1 })).dataSync();
  const t = y.dataSync();
  let right = 0;
  for (let i = 0; i < y.shape[0]!; i++) {
    let ok = true;
    for (let j = 0; j < LENGTH && ok; j++) ok = pred[i * LENGTH + j] === t[i * LENGTH + j];
    if (ok) right++;
  }
  return right / y.shape[0]!;
}

/** Greedy generation: given digits [N, 6], the model writes six tokens, each fed back in. */
export function generateSorted(model: TinyGPT, digits: Tensor): Int32Array {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      let seq = digits;
      for (let k = 0; k < LENGTH; k++) {
        const logits = model.call(seq);
        const next = ag.argmax(logits.slice([0, seq.shape[1]! - 1, 0], [-1, 1, -1]), { axis: -1 }).cast("int32");
        seq = ag.concat([seq, next], 1);
      }
      return seq.slice([0, LENGTH], [-1, LENGTH]).dataSync() as Int32Array;
    });
  } finally {
    if (wasTraining) model.train();
  }
}

/** Attention maps as an SVG: one T×T grid per layer (rows) and head (columns), darker = more weight. */
export function attentionSvg(maps: number[][][][], tokens: number[], { cell = 14 } = {}): string {
  const T = tokens.length;
  const heads = maps[0]!.length;
  const pad = 26;
  const panel = T * cell + pad + 10;
  const W = heads * panel + 10;
  const H = maps.length * (panel + 16) + 24;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="9">`];
  parts.push(`<text x="6" y="14" font-size="12">attention of "${tokens.slice(0, LENGTH).join(" ")} | ${tokens.slice(LENGTH).join(" ")}" (row: query, column: key)</text>`);
  maps.forEach((layer, l) =>
    layer.forEach((w, h) => {
      const x0 = 10 + h * panel + pad;
      const y0 = 24 + l * (panel + 16) + pad;
      parts.push(`<text x="${x0}" y="${y0 - 14}" font-size="10">layer ${l + 1}, head ${h + 1}</text>`);
      for (let i = 0; i < T; i++) {
        parts.push(`<text x="${x0 - 10}" y="${y0 + i * cell + cell * 0.7}">${tokens[i]}</text>`);
        parts.push(`<text x="${x0 + i * cell + cell * 0.3}" y="${y0 - 3}">${tokens[i]}</text>`);
        for (let j = 0; j < T; j++) {
          const v = Math.max(0, Math.min(1, w[i]![j]!));
          const shade = Math.round(255 * (1 - v));
          parts.push(`<rect x="${x0 + j * cell}" y="${y0 + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#eee" stroke-width="0.5"/>`);
        }
      }
    }),
  );
  parts.push("</svg>");
  return parts.join("");
}

export interface GptOptions {
  epochs?: number;
  trainSize?: number;
  testSize?: number;
  batchSize?: number;
  dModel?: number;
  heads?: number;
  lr?: number;
  seed?: number;
  /** Where to write the attention maps (null: don't). */
  svg?: string | null;
  verbose?: 0 | 1 | 2;
  log?: (line: string) => void;
}

export async function main({
  epochs = 5, trainSize = 10000, testSize = 1000, batchSize = 128, dModel = 32, heads = 4, lr = 3e-3, seed = 0,
  svg = "examples/out/tiny-gpt-attention.svg", verbose = 1, log = console.log,
}: GptOptions = {}) {
  manualSeed(seed);
  const train = sortData(trainSize, { seed });
  const test = sortData(testSize, { seed: seed + 1, exclude: train.keys });
  const model = new TinyGPT({ dModel, heads, generator: new Generator(seed) });
  log(`tiny GPT (${model.numParameters().toLocaleString("en-US")} parameters: ${model.blocks.length} pre-norm layers, dModel ${dModel}, ${heads} heads) sorting ${LENGTH} digits: ${trainSize} train / ${testSize} held-out sequences`);
  const optimizer = new Adam(model.parameters(), { lr });
  // Per batch: linear warm-up over 20 steps, then a cosine from lr down to 0 at the last step.
  const total = epochs * Math.ceil(trainSize / batchSize);
  const warmup = Math.min(20, total);
  const schedule = new LambdaLR(optimizer, { lrLambda: (s) => (s < warmup ? (s + 1) / warmup : 0.5 * (1 + Math.cos((Math.PI * (s - warmup)) / Math.max(1, total - warmup)))) });
  const t0 = performance.now();
  const history = await fit(model, {
    x: train.x, y: train.y, loss: sortLoss, optimizer, epochs, batchSize, metrics: [exactSequence], seed, verbose,
    callbacks: [{ onBatchEnd: () => schedule.step() }],
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const digits = test.x.slice([0, 0], [-1, LENGTH]);
  const written = generateSorted(model, digits);
  const truth = test.y.dataSync();
  let right = 0;
  for (let i = 0; i < testSize; i++) {
    let ok = true;
    for (let j = 0; j < LENGTH && ok; j++) ok = written[i * LENGTH + j] === truth[i * LENGTH + j];
    if (ok) right++;
  }
  const accuracy = right / testSize;
  const show = (i: number) => `${Array.from(digits.dataSync().slice(i * LENGTH, (i + 1) * LENGTH)).join(" ")} → ${Array.from(written.slice(i * LENGTH, (i + 1) * LENGTH)).join(" ")}`;
  log(`held-out exact-sequence accuracy (greedy generation): ${(100 * accuracy).toFixed(2)} % (${right}/${testSize}); e.g. ${show(0)}, ${show(1)}`);
  log(`time: ${trainSeconds.toFixed(1)} s for ${epochs} epochs (${history.seconds.map((s) => s.toFixed(1) + " s").join(", ")})`);
  let svgText: string | null = null;
  if (svg !== null) {
    model.eval();
    const ids = ag.concat([digits.slice([0, 0], [1, LENGTH]), tensor(Int32Array.from(written.slice(0, LENGTH - 1)), { dtype: "int32" }).reshape([1, LENGTH - 1])], 1);
    const maps = model.attentionMaps(ids).map((m) => (m.arraySync() as number[][][][])[0]!);
    svgText = attentionSvg(maps, Array.from(ids.dataSync()));
    mkdirSync(dirname(svg), { recursive: true });
    writeFileSync(svg, svgText);
    log(`attention maps: ${svg}`);
  }
  return { accuracy, history, trainSeconds, model, svg: svgText };
}

if (isMain(import.meta.url)) {
  const f = parseFlags(process.argv.slice(2), { epochs: 5, trainSize: 10000, testSize: 1000, batchSize: 128, dModel: 32, heads: 4, lr: 3e-3, seed: 0, svg: "examples/out/tiny-gpt-attention.svg" });
  await main({
    epochs: f.epochs as number, trainSize: f.trainSize as number, testSize: f.testSize as number, batchSize: f.batchSize as number,
    dModel: f.dModel as number, heads: f.heads as number, lr: f.lr as number, seed: f.seed as number, svg: f.svg as string,
  });
}
