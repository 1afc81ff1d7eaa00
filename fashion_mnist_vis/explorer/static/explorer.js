// The explorer's page: inputs (canvas, upload, test images) -> POST /api/classify -> the views.
// Vanilla JavaScript, no build step, nothing loaded from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const pen = canvas.getContext("2d");
const state = { classes: [], source: null, busy: false, again: false, timer: null, drawing: false, last: null };
// Colour stops of the class map (an inferno-like scale, as the CSS colour bar).
const STOPS = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];

function clearCanvas() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, canvas.width, canvas.height);
}

function showError(text) { $("error").textContent = text || ""; }

// ---- inputs -------------------------------------------------------------------------------
function position(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", (event) => {
  stopWebcam();
  canvas.setPointerCapture(event.pointerId);
  state.drawing = true;
  state.source = null;  // the canvas (with whatever was loaded into it) is now the image
  $("truth").textContent = "";
  state.last = position(event);
  stroke(state.last, state.last);
});
canvas.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const point = position(event);
  stroke(state.last, point);
  state.last = point;
});
for (const name of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(name, () => {
    if (!state.drawing) return;
    state.drawing = false;
    schedule();  // one update per stroke
  });
}

function stroke(from, to) {
  pen.strokeStyle = "#fff";
  pen.lineWidth = Number($("brush").value);
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(from[0], from[1]);
  pen.lineTo(to[0], to[1]);
  pen.stroke();
}

$("clear").addEventListener("click", () => { clearCanvas(); state.source = null; $("truth").textContent = ""; });
$("invert").addEventListener("click", () => {
  const pixels = pen.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < pixels.data.length; i += 4) {
    for (let c = 0; c < 3; c++) pixels.data[i + c] = 255 - pixels.data[i + c];
  }
  pen.putImageData(pixels, 0, 0);
  state.source = null;
  schedule();
});

function showOnCanvas(blob) {
  const image = new Image();
  image.onload = () => {
    clearCanvas();
    const scale = Math.min(canvas.width / image.width, canvas.height / image.height);
    pen.imageSmoothingEnabled = image.width > 64;
    pen.drawImage(image, (canvas.width - image.width * scale) / 2, (canvas.height - image.height * scale) / 2,
                  image.width * scale, image.height * scale);
    URL.revokeObjectURL(image.src);
  };
  image.onerror = () => URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(blob);
}

function useFile(file) {
  if (!file) return;
  stopWebcam();
  state.source = file;  // sent as it is, so the numbers are those of the file itself
  $("truth").textContent = `Uploaded: ${file.name}`;
  showOnCanvas(file);
  schedule(0);
}
$("upload").addEventListener("change", (event) => useFile(event.target.files[0]));
canvas.addEventListener("dragover", (event) => event.preventDefault());
canvas.addEventListener("drop", (event) => { event.preventDefault(); useFile(event.dataTransfer.files[0]); });

async function randomImage(mistake) {
  stopWebcam();
  showError("");
  if (mistake) $("truth").textContent = "Finding the test images the model gets wrong (once)...";
  const answer = await fetch(`api/random${mistake ? "?mistake=1" : ""}`);
  const record = await answer.json();
  if (!answer.ok) { showError(record.error); $("truth").textContent = ""; return; }
  const blob = await (await fetch(record.image)).blob();
  blob.truth = record;
  state.source = blob;
  state.truth = record;
  $("truth").textContent = `Test image #${record.index}: truly a ${record.class}`;
  showOnCanvas(blob);
  schedule(0);
}
$("random").addEventListener("click", () => randomImage(false));
$("mistake").addEventListener("click", () => randomImage(true));
// The webcam: a square from the middle of each frame is copied onto the canvas and sent, one frame
// after another (the next once the previous answer is in, at most every 300 ms).
const webcam = { stream: null, video: null, timer: null };

async function startWebcam() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser gives this page no camera (it allows one on localhost or over a secure connection).");
    return;
  }
  try {
    webcam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (error) {
    showError(`No camera: ${error.message}`);
    return;
  }
  webcam.video = document.createElement("video");
  webcam.video.muted = true;
  webcam.video.playsInline = true;
  webcam.video.srcObject = webcam.stream;
  await webcam.video.play();
  $("webcam").textContent = "Stop the webcam";
  $("truth").textContent = "Webcam: hold one garment in front of a plain background.";
  grabFrame();
}

function grabFrame() {
  if (!webcam.stream) return;
  const video = webcam.video;
  const side = Math.min(video.videoWidth, video.videoHeight);
  if (side && !state.busy) {
    pen.drawImage(video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side,
                  0, 0, canvas.width, canvas.height);
    state.source = null;
    schedule(0);
  }
  webcam.timer = setTimeout(grabFrame, 300);
}

function stopWebcam() {
  if (!webcam.stream) return;
  clearTimeout(webcam.timer);
  webcam.stream.getTracks().forEach((track) => track.stop());
  webcam.stream = null;
  $("webcam").textContent = "Webcam";
}
$("webcam").addEventListener("click", () => (webcam.stream ? stopWebcam() : startWebcam()));
$("method").addEventListener("change", () => schedule(0));
$("contrast").addEventListener("change", () => schedule(0));

// ---- requests: at most one in flight; changes meanwhile send the newest image afterwards ----
function schedule(delay = 60) {
  clearTimeout(state.timer);
  state.timer = setTimeout(send, delay);
}

function currentImage() {
  if (state.source) return Promise.resolve(state.source);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

async function send() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  try {
    const body = await currentImage();
    const query = new URLSearchParams({ method: $("method").value, contrast: $("contrast").value });
    const started = performance.now();
    const answer = await fetch(`api/classify?${query}`, { method: "POST", body });
    const record = await answer.json();
    if (!answer.ok) { showError(record.error); return; }
    showError("");
    render(record, performance.now() - started);
  } catch (error) {
    showError(`The explorer did not answer (${error.message}); is it still running?`);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; schedule(0); }
  }
}

// ---- views ----------------------------------------------------------------------------------
function render(record, roundTrip) {
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  $("prediction").textContent = `${record.prediction} (${(100 * record.score).toFixed(1)}%)`;
  if (state.source && state.truth && state.source.truth === state.truth) {
    const right = record.class_index === state.truth.class_index;
    $("truth").textContent = `Test image #${state.truth.index}: truly a ${state.truth.class}; the model is `
      + (right ? "right." : `wrong: it says ${record.prediction}.`);
  }
  const unfamiliar = record.unfamiliarity;
  $("unfamiliar").textContent = unfamiliar && unfamiliar.flagged
    ? "Unfamiliar: this looks like no training image, so the prediction means little." : "";
  renderBars(record);
  renderMap(record);
  renderStages(record.stages);
  renderLayers(record.layers);
  renderNeighbours(record.neighbours);
  $("timing").textContent = `Computed in ${record.milliseconds} ms on the server, ${roundTrip.toFixed(0)} ms round trip.`;
}

function renderBars(record) {
  const bars = $("bars");
  bars.replaceChildren();
  record.probabilities.forEach((p, index) => {
    const row = document.createElement("div");
    row.className = "bar-row" + (index === record.class_index ? " top" : "");
    row.dataset.probability = p;
    row.innerHTML = `<span></span><div class="bar-track"><div class="bar-fill"></div></div><span></span>`;
    row.children[0].textContent = state.classes[index];
    row.querySelector(".bar-fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.children[2].textContent = `${(100 * p).toFixed(1)}%`;
    bars.appendChild(row);
  });
}

function colour(value) {
  const position = Math.max(0, Math.min(1, value)) * (STOPS.length - 1);
  const low = Math.min(Math.floor(position), STOPS.length - 2);
  const t = position - low;
  return STOPS[low].map((c, i) => Math.round(c + t * (STOPS[low + 1][i] - c)));
}

function renderMap(record) {
  const map = record.map;
  const target = $("map").getContext("2d");
  target.imageSmoothingEnabled = false;
  const input = new Image();
  input.onload = () => {
    target.globalAlpha = 1;
    target.drawImage(input, 0, 0, 224, 224);
    if (!map.heatmap) return;
    const height = map.heatmap.length, width = map.heatmap[0].length;
    const small = document.createElement("canvas");
    small.width = width; small.height = height;
    const pixels = small.getContext("2d").createImageData(width, height);
    map.heatmap.forEach((row, y) => row.forEach((value, x) => {
      const [r, g, b] = colour(value);
      pixels.data.set([r, g, b, 255], 4 * (y * width + x));
    }));
    small.getContext("2d").putImageData(pixels, 0, 0);
    target.globalAlpha = 0.6;
    target.drawImage(small, 0, 0, 224, 224);
    target.globalAlpha = 1;
  };
  input.src = record.stages[record.stages.length - 1].image;
  $("map-caption").textContent = map.error ? `No map: ${map.error}`
    : `${map.title}: where the evidence for ${map.class}` + (map.contrast ? ` rather than ${map.contrast}` : "")
      + ` lies` + (map.layer ? ` (layer ${map.layer})` : "") + ", drawn over the model's input.";
}

function renderStages(stages) {
  $("stages").replaceChildren(...stages.map((stage) => {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = stage.image;
    image.alt = stage.title;
    const caption = document.createElement("figcaption");
    caption.textContent = stage.title;
    figure.append(image, caption);
    return figure;
  }));
}

function renderLayers(layers) {
  $("layers").replaceChildren(...layers.map((layer) => {
    const block = document.createElement("div");
    block.className = "layer";
    const title = document.createElement("h3");
    title.textContent = `${layer.name} (${layer.type}), output ${layer.shape.join(" x ")}`;
    block.appendChild(title);
    if (layer.image) block.appendChild(mosaic(layer));
    else if (layer.values) block.appendChild(vector(layer.values));
    else title.textContent += ": the probabilities above";
    return block;
  }));
}

function mosaic(layer) {
  const [tileHeight, tileWidth] = layer.tile;
  const scale = Math.max(1, Math.floor(Math.min(4, 640 / (layer.columns * (tileWidth + 1)))));
  const view = document.createElement("canvas");
  const image = new Image();
  image.onload = () => {
    view.width = image.width * scale;
    view.height = image.height * scale;
    const context = view.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(image, 0, 0, view.width, view.height);
  };
  image.src = layer.image;
  view.title = "click a channel to enlarge it";
  view.addEventListener("click", (event) => {
    const box = view.getBoundingClientRect();
    const x = Math.floor((event.clientX - box.left) / box.width * image.width / (tileWidth + 1));
    const y = Math.floor((event.clientY - box.top) / box.height * image.height / (tileHeight + 1));
    const channel = y * layer.columns + x;
    if (x < layer.columns && channel < layer.channels) enlarge(layer, image, channel);
  });
  return view;
}

function enlarge(layer, image, channel) {
  const [tileHeight, tileWidth] = layer.tile;
  const context = $("channel").getContext("2d");
  context.imageSmoothingEnabled = false;
  context.drawImage(image, (channel % layer.columns) * (tileWidth + 1), Math.floor(channel / layer.columns) * (tileHeight + 1),
                    tileWidth, tileHeight, 0, 0, 168, 168);
  $("channel-caption").textContent = `${layer.name}, channel ${channel}: ${layer.low[channel]} (black) to ${layer.high[channel]} (white)`;
  channelExamples(layer.name, channel);
}

async function channelExamples(layerName, channel) {
  const box = $("channel-examples");
  box.replaceChildren();
  if (!state.testImages) return;
  box.textContent = "Searching the training images (once)...";
  const answer = await fetch(`api/channel?${new URLSearchParams({ layer: layerName, channel })}`);
  const record = await answer.json();
  if (!answer.ok) { box.textContent = record.error; return; }
  const title = document.createElement("p");
  title.textContent = `What excites it most, of ${record.searched.toLocaleString()} training images:`;
  box.replaceChildren(title, ...record.images.map((item) => {
    const image = document.createElement("img");
    image.src = item.image;
    image.alt = image.title = `${item.class}, response ${item.score}`;
    return image;
  }));
}

function vector(values) {
  const strip = document.createElement("div");
  strip.className = "vector";
  const largest = Math.max(1e-9, ...values.map(Math.abs));
  for (const value of values) {
    const bar = document.createElement("div");
    bar.style.height = `${Math.max(1, 40 * Math.abs(value) / largest)}px`;
    if (value < 0) bar.style.background = "#c0504d";
    bar.title = String(value);
    strip.appendChild(bar);
  }
  return strip;
}

function renderNeighbours(neighbours) {
  $("neighbours-panel").hidden = !neighbours;
  if (!neighbours) return;
  $("neighbours").replaceChildren(...neighbours.map((item) => {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = item.image;
    image.alt = item.class;
    const caption = document.createElement("figcaption");
    caption.textContent = `${item.class}, distance ${item.distance}`;
    figure.append(image, caption);
    return figure;
  }));
}

// ---- start ------------------------------------------------------------------------------------
async function start() {
  clearCanvas();
  const info = await (await fetch("api/info")).json();
  state.classes = info.classes;
  $("model").textContent = `Model: ${info.model}, run by ${info.engine}.`;
  for (const method of info.methods) {
    const option = new Option(method.title + (method.unavailable ? " (not for this model)" : ""), method.key);
    option.disabled = Boolean(method.unavailable);
    option.selected = method.key === info.default_method;
    $("method").appendChild(option);
  }
  info.classes.forEach((name, index) => $("contrast").appendChild(new Option(`not ${name}?`, String(index))));
  $("random").disabled = $("mistake").disabled = !info.test_images;
  state.testImages = info.test_images;
  document.body.dataset.ready = "1";
}
start();
