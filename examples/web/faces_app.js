// Finds, aligns and classifies every face of a photo or of the webcam stream, in the browser, with a model
// exported by `deno task export` and the face networks that `build_faces.ts` puts beside it.
//
// Query parameters:
//   model=URL     the export folder (model.json, weights.bin, preprocess.json, faces.bundle.js,
//                 face-models/); default ./model/
//   backend=NAME  a TensorFlow.js backend (webgl, wasm, cpu); default: TensorFlow.js's choice
//   size=N        side of the aligned faces before the model's resize; default 100 (as deno task predict),
//                 or the size of the template's alignment.json
//   template=URL  a five-point template JSON or an aligned folder's alignment.json (as deno task predict
//                 --template); default: the library's DEFAULT_TEMPLATE
//   image=URL     process this photo at once, write the result as JSON into #result and set the title to
//                 "done" (or "error: ..."), for automated checks
//   camera=N      start the webcam at once; after N processed frames write the last one's result into
//                 #result and set the title to "done"
//
// The pipeline is deno task predict's: detection (SSD MobileNet v1), 68 landmarks, the least-squares
// similarity of the five points onto the template, then preprocess.json's resize and normalisation. The
// warp is a canvas transform (bilinear, smoothed when shrinking) where Deno uses sharp.

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function folderUrl(value) {
  const url = new URL(value, location.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

const modelBase = folderUrl(params.get("model") ?? "./model/");
let alignSize = Number(params.get("size") ?? 100);
let template;
const COLOURS = ["#00e676", "#ffea00", "#00b0ff", "#ff4081", "#ff9100", "#d500f9", "#76ff03", "#f44336"];

function setStatus(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return await response.json();
}

function canvas(width, height) {
  const c = document.createElement("canvas");
  c.width = width;
  c.height = height;
  return c;
}

function context(c) {
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  return ctx;
}

/** The aligned face: the similarity (photo pixels to aligned pixels) drawn as a canvas transform. */
function warp(frame, t, size) {
  const out = canvas(size, size);
  const ctx = context(out);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, size, size);
  ctx.setTransform(t.a, t.b, -t.b, t.a, t.tx, t.ty);
  ctx.drawImage(frame, 0, 0);
  return out;
}

async function classify(tf, model, spec, face) {
  const size = spec.inputSize;
  const resized = canvas(size, size);
  context(resized).drawImage(face, 0, 0, size, size);
  const { data } = resized.getContext("2d").getImageData(0, 0, size, size);
  const input = new Float32Array(size * size * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    for (let c = 0; c < 3; c++) input[j + c] = (data[i + c] / 255 - spec.mean[c]) / spec.std[c];
  }
  const probs = tf.tidy(() => model.predict(tf.tensor4d(input, [1, size, size, 3])).reshape([-1]));
  const values = Array.from(await probs.data());
  probs.dispose();
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return {
    prediction: spec.classNames[best],
    probabilities: Object.fromEntries(spec.classNames.map((name, j) => [name, values[j]])),
  };
}

/** Finds, aligns and classifies the faces of a frame (a canvas at the source's size). */
async function processFrame(lib, state, frame) {
  const { tf, model, spec, faceModels } = state;
  const pixels = frame.getContext("2d").getImageData(0, 0, frame.width, frame.height);
  const found = await lib.findFaces(faceModels, lib.rgbFromRgba(pixels.data, frame.width, frame.height));
  const results = [];
  for (const face of found) {
    const { transform } = lib.alignmentTransform(face.points, { size: alignSize, template });
    const aligned = warp(frame, transform, alignSize);
    results.push({
      box: face.box,
      score: face.score,
      aligned,
      ...(await classify(tf, model, spec, aligned)),
    });
  }
  return results;
}

function show(frame, results) {
  const view = $("view");
  view.width = frame.width;
  view.height = frame.height;
  const ctx = view.getContext("2d");
  ctx.drawImage(frame, 0, 0);
  const unit = Math.max(2, Math.round(Math.min(frame.width, frame.height) / 300));
  ctx.font = `bold ${7 * unit}px sans-serif`;
  ctx.lineWidth = unit;
  const list = $("faces");
  list.replaceChildren();
  results.forEach((r, k) => {
    const colour = COLOURS[k % COLOURS.length];
    ctx.strokeStyle = colour;
    ctx.strokeRect(r.box.x, r.box.y, r.box.width, r.box.height);
    const label = `#${k + 1} ${r.prediction} ${(100 * r.probabilities[r.prediction]).toFixed(0)}%`;
    const width = ctx.measureText(label).width + 2 * unit;
    const top = r.box.y >= 9 * unit ? r.box.y - 9 * unit : r.box.y;
    ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
    ctx.fillRect(r.box.x, top, width, 9 * unit);
    ctx.fillStyle = colour;
    ctx.fillText(label, r.box.x + unit, top + 7 * unit);
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = label;
    figure.append(r.aligned, caption);
    list.append(figure);
  });
}

function report(tf, results, ms) {
  return {
    backend: tf.getBackend(),
    ms,
    faces: results.map(({ box, score, prediction, probabilities }) => ({
      box,
      score,
      prediction,
      probabilities,
    })),
  };
}

function frameOf(source, width, height) {
  const frame = canvas(width, height);
  frame.getContext("2d", { willReadFrequently: true }).drawImage(source, 0, 0, width, height);
  return frame;
}

async function main() {
  const lib = await import(new URL("faces.bundle.js", modelBase).href);
  const { tf } = lib;
  const backend = params.get("backend");
  if (backend === "wasm") lib.useWasm(new URL("wasm/", modelBase));
  if (backend && !(await tf.setBackend(backend))) throw new Error(`the ${backend} backend is not available`);
  await tf.ready();
  const spec = await fetchJson(new URL("preprocess.json", modelBase).href);
  if (spec.crops !== 1) {
    throw new Error("this page classifies single-crop exports (preprocess.json crops: 1)");
  }
  const model = await tf.loadLayersModel(new URL("model.json", modelBase).href);
  const faceModels = await lib.loadFaceModels(new URL("face-models/", modelBase));
  if (params.get("template")) {
    const url = new URL(params.get("template"), location.href).href;
    const json = await fetchJson(url);
    const aligned = json.format === "ada-df-alignment";
    template = lib.checkTemplate(aligned ? json.template : json, url);
    if (aligned && !params.get("size")) alignSize = json.size;
  }
  const state = { tf, model, spec, faceModels };
  setStatus(`Models ready (TensorFlow.js ${tf.version.tfjs}, ${tf.getBackend()} backend). Choose a photo.`);

  const runPhoto = async (blob, name) => {
    const bitmap = await createImageBitmap(blob);
    const frame = frameOf(bitmap, bitmap.width, bitmap.height);
    const started = performance.now();
    const results = await processFrame(lib, state, frame);
    const ms = performance.now() - started;
    show(frame, results);
    setStatus(`${name}: ${results.length} face${results.length === 1 ? "" : "s"} (${ms.toFixed(0)} ms)`);
    return report(tf, results, ms);
  };

  const file = $("file");
  file.disabled = false;
  file.addEventListener("change", async () => {
    if (!file.files?.length) return;
    try {
      await runPhoto(file.files[0], file.files[0].name);
    } catch (error) {
      setStatus(`error: ${error.message}`, true);
    }
  });

  const startCamera = async (frames) => {
    const video = $("video");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    await video.play();
    let done = 0;
    const step = async () => {
      if (video.videoWidth > 0) {
        const frame = frameOf(video, video.videoWidth, video.videoHeight);
        const started = performance.now();
        const results = await processFrame(lib, state, frame);
        const ms = performance.now() - started;
        show(frame, results);
        setStatus(
          `webcam: ${results.length} face${results.length === 1 ? "" : "s"} (${ms.toFixed(0)} ms a frame)`,
        );
        done++;
        if (frames > 0 && done === frames) {
          $("result").textContent = JSON.stringify({
            ...report(tf, results, ms),
            width: frame.width,
            height: frame.height,
          });
          document.title = "done";
          return;
        }
      }
      setTimeout(step, 0);
    };
    step();
  };
  const camera = $("camera");
  camera.disabled = false;
  camera.addEventListener("click", () => {
    camera.disabled = true;
    startCamera(0).catch((error) => setStatus(`error: ${error.message}`, true));
  });

  const imageUrl = params.get("image");
  if (imageUrl) {
    const url = new URL(imageUrl, location.href).href;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    $("result").textContent = JSON.stringify(await runPhoto(await response.blob(), url.split("/").pop()));
    document.title = "done";
  } else if (params.get("camera")) {
    await startCamera(Number(params.get("camera")) || 1);
  }
}

main().catch((error) => {
  setStatus(`error: ${error.message}`, true);
  $("result").textContent = JSON.stringify({ error: error.message });
  document.title = `error: ${error.message}`;
});
