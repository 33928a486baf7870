/**
 * The playground page: trains the MNIST MLP in a module worker (wasm backend, worker threads),
 * charts loss and accuracy live, classifies digits drawn with the mouse, and draws the lecture's
 * h1 … h6 graph with values and gradients for inputs the user edits.
 *
 * URL parameters (the browser tests use them): train, test, epochs, hidden (e.g. "128" or
 * "784,784"), batch, threads, lr, autostart=1.
 */
import { hstackSvg, lineChartSvg } from "@deltagrad/nn";
import { drawingPad, toMnistPixels } from "./draw.js";
import type { Progress, Reply, Request } from "./protocol.js";
import { sigmoidGraph } from "./sigmoid.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const num = (k: string, d: number) => (params.has(k) ? Number(params.get(k)) : d);
const isolated = globalThis.crossOriginIsolated === true;

// ─── training in the worker ────────────────────────────────────────────────────────────────────

const field = (id: string, value: string) => (($(id) as HTMLInputElement).value = value);
field("train-size", String(num("train", 4000)));
field("test-size", String(num("test", 1000)));
field("epochs", String(num("epochs", 5)));
field("hidden", params.get("hidden") ?? "128");
field("batch", String(num("batch", 50)));
field("threads", String(num("threads", 2)));
$("isolation").textContent = isolated ? "cross-origin isolated: shared memory and worker threads available" : "not cross-origin isolated: the wasm backend runs on one thread";

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "deltagrad-playground" });
const send = (r: Request) => worker.postMessage(r);
const batches: { x: number; loss: number; acc: number }[] = [];
const epochs: { x: number; valAcc: number; valLoss: number }[] = [];

function chart(): void {
  const loss = lineChartSvg([{ name: "train loss", values: batches.map((b) => b.loss), x: batches.map((b) => b.x) }, { name: "val loss", values: epochs.map((e) => e.valLoss), x: epochs.map((e) => e.x), points: true }], { title: "loss", xLabel: "epoch" });
  const acc = lineChartSvg([{ name: "train accuracy", values: batches.map((b) => b.acc), x: batches.map((b) => b.x) }, { name: "val accuracy", values: epochs.map((e) => e.valAcc), x: epochs.map((e) => e.x), points: true }], { title: "accuracy", xLabel: "epoch" });
  $("chart").innerHTML = hstackSvg([loss, acc]);
}

function onProgress(e: Progress): void {
  if (e.type === "batch") {
    batches.push({ x: e.epoch - 1 + e.batch / e.steps, loss: e.loss, acc: e.metrics.accuracy ?? NaN });
    $("train-status").textContent = `epoch ${e.epoch}/${e.epochs}, batch ${e.batch}/${e.steps}: loss ${e.loss.toFixed(4)}, accuracy ${(100 * (e.metrics.accuracy ?? 0)).toFixed(1)} %, ${Math.round(e.samplesPerSecond)} samples/s`;
  } else {
    epochs.push({ x: e.epoch, valAcc: e.logs.valAccuracy ?? NaN, valLoss: e.logs.valLoss ?? NaN });
  }
  // One redraw per animation frame at most, however fast batches arrive.
  if (!pending) {
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      chart();
    });
  }
}
let pending = false;

worker.onmessage = (m: MessageEvent<Reply>) => {
  const r = m.data;
  if (r.type === "threads") {
    $("threads-status").textContent = `worker: ${r.active} of ${r.requested} threads active (${r.kind ?? "no pool"}), pool up in ${r.readyMs.toFixed(0)} ms`;
    $("threads-status").dataset.active = String(r.active);
  } else if (r.type === "progress") onProgress(r.event);
  else if (r.type === "trained") {
    $("train-status").textContent = `trained in ${r.seconds.toFixed(1)} s (${Math.round(r.samplesPerSecond)} samples/s): test accuracy ${(100 * r.testAccuracy).toFixed(2)} %, test loss ${r.testLoss.toFixed(4)}. Draw a digit →`;
    $("test-accuracy").textContent = r.testAccuracy.toFixed(4);
    document.body.dataset.trained = "1";
    ($("train") as HTMLButtonElement).disabled = false;
    classify();
  } else if (r.type === "probabilities") showProbabilities(r.probabilities);
  else if (r.type === "error") {
    $("train-status").textContent = `error: ${r.message}`;
    document.body.dataset.error = r.message;
    ($("train") as HTMLButtonElement).disabled = false;
  }
};

function train(): void {
  batches.length = 0;
  epochs.length = 0;
  chart();
  ($("train") as HTMLButtonElement).disabled = true;
  delete document.body.dataset.trained;
  const value = (id: string) => Number(($(id) as HTMLInputElement).value);
  const hidden = ($("hidden") as HTMLInputElement).value.split(",").map((s) => Number(s.trim())).filter((n) => n > 0);
  $("train-status").textContent = "loading digits and starting threads…";
  send({ type: "train", trainSize: value("train-size"), testSize: value("test-size"), epochs: value("epochs"), batchSize: value("batch"), hidden, lr: num("lr", 2e-3), threads: value("threads"), seed: 0 });
}
$("train").addEventListener("click", train);

// ─── drawing and classifying ───────────────────────────────────────────────────────────────────

const pad = $("pad") as HTMLCanvasElement;
function classify(): void {
  const pixels = toMnistPixels(pad);
  if (pixels && document.body.dataset.trained) send({ type: "classify", pixels });
}
const clearPad = drawingPad(pad, classify);
$("clear").addEventListener("click", () => {
  clearPad();
  $("probabilities").innerHTML = "";
  $("prediction").textContent = "–";
});

function showProbabilities(p: number[]): void {
  const best = p.indexOf(Math.max(...p));
  $("prediction").textContent = String(best);
  $("probabilities").innerHTML = p
    .map((v, d) => `<div class="bar${d === best ? " best" : ""}"><span>${d}</span><i style="width:${(100 * v).toFixed(1)}%"></i><b>${(100 * v).toFixed(1)} %</b></div>`)
    .join("");
}

// ─── the lecture graph ─────────────────────────────────────────────────────────────────────────

function graph(): void {
  const v = (id: string) => Number(($(id) as HTMLInputElement).value);
  const g = sigmoidGraph(v("x"), v("w"), v("b"));
  const rows = g.h.map((h, i) => `<tr><td>h${i + 1}</td><td>${h.toPrecision(6)}</td></tr>`).join("");
  $("values").innerHTML = `${rows}<tr><td>f</td><td id="f-value">${g.f.toPrecision(6)}</td></tr><tr><td>∂f/∂x</td><td id="dx">${g.dx.toPrecision(6)}</td></tr><tr><td>∂f/∂w</td><td id="dw">${g.dw.toPrecision(6)}</td></tr><tr><td>∂f/∂b</td><td id="db">${g.db.toPrecision(6)}</td></tr>`;
  $("graph").innerHTML = g.svg;
}
for (const id of ["x", "w", "b"]) $(id).addEventListener("input", graph);
graph();
chart();

if (params.get("autostart") === "1") train();
