/**
 * A canvas to draw a digit on with the mouse (or a finger), and the MNIST-style preprocessing that
 * turns the drawing into the 784 inputs the model was trained on: the ink's bounding box scaled to
 * fit 20×20 (aspect kept), placed in a 28×28 field with its centre of mass at the centre.
 */

/** Makes `canvas` a drawing surface; calls `onStroke` after each stroke ends. Returns a clear function. */
export function drawingPad(canvas: HTMLCanvasElement, onStroke: () => void): () => void {
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  ctx.strokeStyle = "#fff";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = canvas.width / 12;
  let drawing = false;
  const at = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height] as const;
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 0.01, y);
    ctx.stroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    onStroke();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return clear;
}

/** The drawing as 784 values in [0, 1] (MNIST layout), or null when nothing is drawn. */
export function toMnistPixels(canvas: HTMLCanvasElement): Float32Array | null {
  const { width: W, height: H } = canvas;
  const src = canvas.getContext("2d")!.getImageData(0, 0, W, H).data;
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (src[(y * W + x) * 4]! > 32) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  // Scale the ink's box into 20×20 (longer side 20 px) on a 28×28 canvas, smoothing as it shrinks.
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const s = 20 / Math.max(bw, bh);
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sc = small.getContext("2d", { willReadFrequently: true })!;
  sc.imageSmoothingEnabled = true;
  sc.imageSmoothingQuality = "high";
  sc.fillStyle = "#000";
  sc.fillRect(0, 0, 28, 28);
  sc.drawImage(canvas, x0, y0, bw, bh, (28 - bw * s) / 2, (28 - bh * s) / 2, bw * s, bh * s);
  const img = sc.getImageData(0, 0, 28, 28).data;
  const v = new Float32Array(784);
  let mass = 0, cx = 0, cy = 0;
  for (let i = 0; i < 784; i++) {
    v[i] = img[i * 4]! / 255;
    mass += v[i]!;
    cx += v[i]! * (i % 28);
    cy += v[i]! * Math.floor(i / 28);
  }
  // Shift by whole pixels so that the centre of mass sits at (13.5, 13.5), as in MNIST.
  const dx = Math.round(13.5 - cx / mass), dy = Math.round(13.5 - cy / mass);
  const out = new Float32Array(784);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = v[sy * 28 + sx]!;
    }
  }
  return out;
}
