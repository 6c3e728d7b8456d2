// Classifies a face image in the browser with a model exported by `deno task export`.
//
// Query parameters:
//   model=URL     the export folder (model.json, weights.bin, preprocess.json, tf.min.js); default ./model/
//   tfjs=URL      where TensorFlow.js comes from; default tf.min.js in the model folder
//   backend=NAME  a TensorFlow.js backend (cpu, webgl, wasm...); default: TensorFlow.js's choice
//   resize=Q      canvas smoothing quality of the resize: low (plain bilinear), medium or high; default high
//   image=URL     classify this image at once, then write the result as JSON into #result and set
//                 document.title to "done" (or "error: ..."), for automated checks
//
// Preprocessing follows preprocess.json: resize to inputSize x inputSize (canvas smoothing, aspect
// ratio ignored), RGB, value / 255, (value - mean) / std, NHWC. With crops = 10 (TenCrop): resize the
// shorter side to resizeShorter, take the four corner and centre crops of the image and of its mirror,
// and combine the ten probability vectors by a renormalised per-class geometric mean.

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function folderUrl(value) {
  const url = new URL(value, location.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

const modelBase = folderUrl(params.get("model") ?? "./model/");
// "high" smooths when shrinking, like the trainer's (antialiased) bilinear resize with sharp; "low" is
// plain bilinear and aliases when an image is shrunk a lot.
const resizeQuality = params.get("resize") ?? "high";

function setStatus(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return await response.json();
}

/** Draws `source` (or its region `box`) scaled to `width` x `height`, optionally mirrored. */
function draw(source, width, height, options = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = resizeQuality;
  if (options.mirror) {
    ctx.translate(width, 0);
    ctx.scale(-1, 1);
  }
  const box = options.box ?? { left: 0, top: 0, width: source.width, height: source.height };
  ctx.drawImage(source, box.left, box.top, box.width, box.height, 0, 0, width, height);
  return canvas;
}

/** The RGB values of a canvas, normalised as preprocess.json says, appended to `out` at `offset`. */
function normalizeInto(canvas, spec, out, offset) {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const { mean, std } = spec;
  for (let i = 0, j = offset; i < data.length; i += 4, j += 3) {
    for (let c = 0; c < 3; c++) out[j + c] = (data[i + c] / 255 - mean[c]) / std[c];
  }
}

/** The normalised crops of an image: [crops * size * size * 3] floats. */
function preprocess(image, spec) {
  const size = spec.inputSize;
  const per = size * size * 3;
  const out = new Float32Array(spec.crops * per);
  if (spec.crops === 1) {
    normalizeInto(draw(image, size, size), spec, out, 0);
    return out;
  }
  // TenCrop: the shorter side to resizeShorter and the longer int(n * long / short), as torchvision's
  // Resize(n), then torchvision's five crops of the image and of its mirror (the centre's offsets rounded
  // as Python rounds, a half to even).
  const n = spec.resizeShorter;
  const long = Math.trunc((n * Math.max(image.width, image.height)) / Math.min(image.width, image.height));
  const [w, h] = image.width <= image.height ? [n, long] : [long, n];
  const resized = draw(image, w, h);
  const roundHalfEven = (x) => {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const top = roundHalfEven((h - size) / 2);
  const left = roundHalfEven((w - size) / 2);
  const boxes = [[0, 0], [w - size, 0], [0, h - size], [w - size, h - size], [left, top]];
  let k = 0;
  for (const mirror of [false, true]) {
    const source = mirror ? draw(resized, w, h, { mirror: true }) : resized;
    for (const [x, y] of boxes) {
      const crop = draw(source, size, size, { box: { left: x, top: y, width: size, height: size } });
      normalizeInto(crop, spec, out, (k++) * per);
    }
  }
  return out;
}

async function classify(tf, model, spec, image) {
  const input = preprocess(image, spec);
  const size = spec.inputSize;
  const probs = tf.tidy(() => {
    const p = model.predict(tf.tensor4d(input, [spec.crops, size, size, 3]));
    if (spec.crops === 1) return p.reshape([-1]);
    return tf.softmax(tf.mean(tf.log(tf.maximum(p, 1e-30)), 0));
  });
  const values = Array.from(await probs.data());
  probs.dispose();
  const probabilities = Object.fromEntries(spec.classNames.map((name, j) => [name, values[j]]));
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return { prediction: spec.classNames[best], probabilities };
}

function showBars(result) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [name, p] of Object.entries(result.probabilities)) {
    const row = document.createElement("div");
    row.className = name === result.prediction ? "bar best" : "bar";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(100 * p).toFixed(1)}%`;
    row.append(label, track, value);
    bars.append(row);
  }
}

async function imageFromBlob(blob) {
  return await createImageBitmap(blob);
}

async function main() {
  if (!globalThis.tf) await loadScript(params.get("tfjs") ?? new URL("tf.min.js", modelBase).href);
  const tf = globalThis.tf;
  const backend = params.get("backend");
  if (backend) {
    if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend is not available`);
  }
  await tf.ready();
  const spec = await fetchJson(new URL("preprocess.json", modelBase).href);
  const model = await tf.loadLayersModel(new URL("model.json", modelBase).href);
  setStatus(
    `Model ready: ${spec.backbone}, ${spec.inputSize}x${spec.inputSize}, ${spec.classNames.length} classes ` +
      `(TensorFlow.js ${tf.version.tfjs}, ${tf.getBackend()} backend).`,
  );

  const run = async (blob, label) => {
    $("preview").src = URL.createObjectURL(blob);
    const started = performance.now();
    const result = await classify(tf, model, spec, await imageFromBlob(blob));
    const ms = performance.now() - started;
    showBars(result);
    setStatus(`${label}: ${result.prediction}`);
    return { ...result, backend: tf.getBackend(), ms };
  };

  const file = $("file");
  file.disabled = false;
  file.addEventListener("change", async () => {
    if (!file.files?.length) return;
    try {
      await run(file.files[0], file.files[0].name);
    } catch (error) {
      setStatus(`error: ${error.message}`, true);
    }
  });

  const imageUrl = params.get("image");
  if (imageUrl) {
    const url = new URL(imageUrl, location.href).href;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const result = await run(await response.blob(), url.split("/").pop());
    $("result").textContent = JSON.stringify(result);
    document.title = "done";
  }
}

main().catch((error) => {
  setStatus(`error: ${error.message}`, true);
  $("result").textContent = JSON.stringify({ error: error.message });
  document.title = `error: ${error.message}`;
});
