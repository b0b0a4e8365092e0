// lerf3d viewer page: the fused points in three.js (orbit/zoom), the field's render of the same
// camera from the server (a small colour-only preview while the camera moves, the full view when
// it stops), and relevancy overlays on both, coloured here so the threshold slider needs no request.
import * as THREE from "three";
import { OrbitControls } from "three/addons/OrbitControls.js";
import { clearAnswerObjects, showAnswerObjects, usedList } from "./chat.js";
import { objectScreen, paintBoxes, renderObjectList, setupBoxes, updateListing } from "./objects.js";

const STILL_DELAY_MS = 250; // the camera counts as still after this long without a change
const POINT_SIZE_FRACTION = 0.003; // point size as a fraction of the scene's diagonal

const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  named: null, // capture camera the view shows (its measured depth guides the render), or null
  seq: 0, // bumps at every camera change; responses for an older camera are not shown
  shown: { seq: -1, still: false },
  rgb: null, // {width, height, data: RGBA bytes} of the still colour render on screen
  query: null, // {text, phrases, mode, results, selected}
  mode: "pixels", // how a phrase is answered: "pixels" (per pixel and point) or "objects" (whole objects)
  objects: null, // {listing, boxes, hovered, selected, lit} when the scene has objects (objects.js)
  answer: null, // {question, objects, group, boxes}: what the latest chat answer rests on (chat.js)
  asked: 0, // bumps at every chat question; an older question's answer is logged but not boxed
  threshold: 0.5,
  points: null, // {count, positions, colors}
  three: null, // {renderer, scene, camera, controls, geometry, colors}
  previewBusy: false,
  previewPending: false,
  stillTimer: null,
};
window.lerf3dViewer = state; // for the console and the browser tests

// -- server ---------------------------------------------------------------------------------------

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error(`the viewer server is unreachable (${err.message})`);
  }
  let data;
  try {
    data = await response.json();
  } catch {
    throw new Error(`HTTP ${response.status} from ${path}`);
  }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status} from ${path}`);
  return data;
}

function bytesOf(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
const float32Of = (b64) => new Float32Array(bytesOf(b64).buffer);

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the server sent an unreadable image"));
    image.src = url;
  });
}

// -- messages -------------------------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

// -- relevancy colours (lerf3d/query/overlay.py: same Turbo anchors, alpha and rule) --------------

function turbo(t, anchors) {
  const n = anchors.length - 1;
  const position = Math.min(Math.max(t, 0), 1) * n;
  const low = Math.min(Math.floor(position), n - 1);
  const frac = position - low;
  return [0, 1, 2].map((c) => anchors[low][c] * (1 - frac) + anchors[low + 1][c] * frac);
}

// Values >= threshold are painted from cold (threshold) to hot (the map's maximum) over the colours.
function paintRelevancy(out, outStride, colours, stride, values, threshold) {
  const { alpha, turbo: anchors } = state.info.overlay;
  let top = -Infinity;
  for (const v of values) top = Math.max(top, v);
  const span = Math.max(top - threshold, 1e-6);
  for (let i = 0; i < values.length; i++) {
    const shown = values[i] >= threshold;
    const colour = shown ? turbo((values[i] - threshold) / span, anchors) : null;
    for (let c = 0; c < 3; c++) {
      const base = colours[i * stride + c] / 255;
      const mixed = shown ? base * (1 - alpha) + colour[c] * alpha : base;
      out[i * outStride + c] = Math.floor(mixed * 255 + 0.5);
    }
  }
}
window.lerf3dPaintRelevancy = paintRelevancy;
window.lerf3dObjectScreen = (id) => objectScreen(state, id);

function selectedResult() {
  const q = state.query;
  return q ? q.results[q.selected] : null;
}

function drawView() {
  const canvas = $("view");
  if (!state.rgb) return;
  const { width, height, data } = state.rgb;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(width, height);
  image.data.set(data);
  const result = selectedResult();
  const overlay = result && result.view && result.view.values.length === width * height && result.viewSeq === state.shown.seq;
  if (overlay) paintRelevancy(image.data, 4, data, 4, result.view.values, state.threshold);
  ctx.putImageData(image, 0, 0);
  canvas.dataset.state = overlay ? "overlay" : "still";
  canvas.dataset.camera = state.named ?? "free";
  canvas.dataset.phrase = overlay ? result.phrase : "";
  canvas.dataset.threshold = String(state.threshold);
  canvas.dataset.mode = overlay ? state.query.mode : "";
  $("view-state").textContent = overlay ? `"${result.phrase}" ${scaleText(result.view)}` : `${width}x${height}`;
}

// Per-pixel answers are read at a physical scale; object-mode ones at each object's own.
const scaleText = (map) => (map.scale === null ? "by object" : `at ${map.scale.toFixed(2)} m`);

function paintPoints() {
  const three = state.three;
  if (!three || !state.points) return;
  const result = selectedResult();
  const out = three.colors.array;
  if (result) {
    paintRelevancy(out, 3, state.points.colors, 3, result.points.values, state.threshold);
  } else {
    out.set(state.points.colors);
  }
  three.colors.needsUpdate = true;
  render3d();
}

function refreshOverlays() {
  drawView();
  paintPoints();
  paintBoxes(state);
}

// -- the 3D point cloud ---------------------------------------------------------------------------

function aspectOf(info) {
  const first = info.cameras[0];
  return first ? first.width / first.height : 4 / 3;
}

function setup3d(info, points) {
  const container = $("points3d");
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (err) {
    showError(`3D view unavailable (${err.message}); the rendered view and queries still work`);
    return null;
  }
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  container.appendChild(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x1f232b);
  const lower = new THREE.Vector3(...info.bounds.lower);
  const upper = new THREE.Vector3(...info.bounds.upper);
  const diagonal = upper.distanceTo(lower);
  const camera = new THREE.PerspectiveCamera(60, aspectOf(info), 0.01, 20 * diagonal);
  camera.up.set(0, 0, 1); // lerf3d's world is z-up
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.BufferAttribute(points.positions, 3));
  const colors = new THREE.BufferAttribute(new Uint8Array(points.colors), 3, true);
  geometry.setAttribute("color", colors);
  const material = new THREE.PointsMaterial({ size: POINT_SIZE_FRACTION * diagonal, vertexColors: true });
  scene.add(new THREE.Points(geometry, material));
  scene.add(new THREE.Box3Helper(new THREE.Box3(lower, upper), 0x465064));
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.addEventListener("start", () => {
    state.named = null;
    $("camera-select").value = "";
  });
  controls.addEventListener("change", () => {
    render3d();
    if (state.named === null) cameraMoved();
  });
  state.three = { renderer, scene, camera, controls, geometry, colors, lower, upper };
  resize3d();
  window.addEventListener("resize", resize3d);
  return state.three;
}

function resize3d() {
  const three = state.three;
  if (!three) return;
  const container = $("points3d");
  const width = container.clientWidth || 400;
  const height = Math.round(width / aspectOf(state.info));
  three.renderer.setSize(width, height);
  render3d();
}

function render3d() {
  const three = state.three;
  if (three) three.renderer.render(three.scene, three.camera);
}

// Put the three.js camera where a capture camera was (OpenGL camera-to-world rows).
function placeCamera(cameraJson) {
  const three = state.three;
  if (!three) return;
  const m = cameraJson.camera_to_world;
  const position = new THREE.Vector3(m[0][3], m[1][3], m[2][3]);
  const forward = new THREE.Vector3(-m[0][2], -m[1][2], -m[2][2]);
  const centre = three.lower.clone().add(three.upper).multiplyScalar(0.5);
  const distance = Math.max(0.5, centre.clone().sub(position).dot(forward));
  const target = position.clone().add(forward.multiplyScalar(distance));
  three.camera.fov = cameraJson.fov_y;
  three.camera.aspect = cameraJson.width / cameraJson.height;
  three.camera.updateProjectionMatrix();
  three.camera.position.copy(position);
  three.controls.target.copy(target);
  three.camera.lookAt(target);
  three.controls.update();
  render3d();
}

function placeOverview() {
  const three = state.three;
  if (!three) return;
  const centre = three.lower.clone().add(three.upper).multiplyScalar(0.5);
  const extent = three.upper.clone().sub(three.lower);
  three.camera.position.set(centre.x - 0.9 * extent.x, centre.y - 0.9 * extent.y, three.upper.z + 0.6 * extent.z);
  three.controls.target.copy(centre);
  three.controls.update();
  render3d();
}

// -- cameras and frames ---------------------------------------------------------------------------

function stillSize() {
  const aspect = state.three ? state.three.camera.aspect : aspectOf(state.info);
  const long = state.info.limits.full_long_side;
  return aspect >= 1 ? [long, Math.max(1, Math.round(long / aspect))] : [Math.max(1, Math.round(long * aspect)), long];
}

// The camera of the view: a capture frame by name, else the 3D view's (null without WebGL).
function currentCamera() {
  if (state.named !== null) return { name: state.named };
  if (!state.three) return null;
  const camera = state.three.camera;
  camera.updateMatrixWorld();
  const e = camera.matrixWorld.elements; // column-major
  const rows = [0, 1, 2, 3].map((r) => [e[r], e[r + 4], e[r + 8], e[r + 12]]);
  const [width, height] = stillSize();
  return { camera_to_world: rows, fov_y: camera.fov, width, height, convention: "opengl" };
}

function cameraMoved() {
  state.seq += 1;
  $("view").dataset.state = "moving";
  schedulePreview();
  clearTimeout(state.stillTimer);
  state.stillTimer = setTimeout(requestStill, STILL_DELAY_MS);
}

async function schedulePreview() {
  if (state.previewBusy) {
    state.previewPending = true;
    return;
  }
  state.previewBusy = true;
  const seq = state.seq;
  try {
    const data = await api("/api/render", { camera: currentCamera(), preview: true });
    const image = await loadImage(data.image);
    if (seq === state.seq && !(state.shown.seq === seq && state.shown.still)) {
      const canvas = $("view");
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.dataset.state = "preview";
      canvas.dataset.camera = state.named ?? "free";
      state.shown = { seq, still: false };
      $("view-state").textContent = `preview ${data.width}x${data.height}`;
      setStatus(`preview ${data.ms} ms`);
    }
  } catch (err) {
    showError(err.message);
  } finally {
    state.previewBusy = false;
    if (state.previewPending) {
      state.previewPending = false;
      schedulePreview();
    }
  }
}

async function showStill(url, seq) {
  const image = await loadImage(url);
  if (seq !== state.seq) return false; // the camera moved on meanwhile
  const scratch = document.createElement("canvas");
  scratch.width = image.naturalWidth;
  scratch.height = image.naturalHeight;
  const ctx = scratch.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, scratch.width, scratch.height).data;
  state.rgb = { width: scratch.width, height: scratch.height, data };
  state.shown = { seq, still: true };
  return true;
}

async function requestStill() {
  if (state.query) return runQuery(state.query.text);
  const camera = currentCamera();
  if (camera === null) return;
  const seq = state.seq;
  $("view-state").textContent = "rendering…";
  try {
    const data = await api("/api/render", { camera });
    if (await showStill(data.image, seq)) {
      drawView();
      setStatus(`view ${data.width}x${data.height} in ${data.ms} ms${data.cached ? " (cached)" : ""}`);
    }
  } catch (err) {
    showError(err.message);
  }
}

function goToNamed(name) {
  const cameraJson = state.info.cameras.find((c) => c.name === name);
  if (!cameraJson) return;
  state.named = name;
  state.seq += 1;
  placeCamera(cameraJson);
  clearTimeout(state.stillTimer);
  requestStill();
}

// -- queries --------------------------------------------------------------------------------------

async function runQuery(text) {
  const seq = state.seq;
  const previous = selectedResult();
  $("query-button").disabled = true;
  setStatus("querying…");
  try {
    const body = { phrases: text };
    if (state.mode !== "pixels") body.mode = state.mode;
    const camera = currentCamera();
    if (camera !== null) body.camera = camera; // else the points only
    const data = await api("/api/query", body);
    clearError();
    const results = data.results.map((r) => ({
      phrase: r.phrase,
      view: r.view ? { ...r.view, values: float32Of(r.view.values) } : null,
      points: { ...r.points, values: float32Of(r.points.values) },
      objects: r.objects || null,
      viewSeq: seq,
    }));
    const keep = previous ? results.findIndex((r) => r.phrase === previous.phrase) : -1;
    state.query = { text, phrases: data.phrases, mode: data.mode, results, selected: Math.max(0, keep) };
    if (data.image) await showStill(data.image, seq);
    renderResults();
    renderRecent(data.recent);
    refreshOverlays();
    if (state.objects && !$("labels").value.trim()) loadObjects(); // the phrases queried so far label them
    $("export").disabled = false;
    setStatus(`query ${data.ms} ms${data.view_cached ? " (view cached)" : " (view rendered)"}`);
  } catch (err) {
    showError(err.message);
    setStatus("");
  } finally {
    $("query-button").disabled = false;
  }
}

function renderResults() {
  const box = $("results");
  box.replaceChildren();
  if (!state.query) return;
  state.query.results.forEach((r, i) => {
    const row = document.createElement("div");
    row.className = "result" + (i === state.query.selected ? " selected" : "");
    row.dataset.index = String(i);
    const name = document.createElement("b");
    name.textContent = r.phrase;
    const scale = document.createElement("div");
    scale.className = "scale";
    if (r.objects) {
      const ids = r.objects.selected;
      scale.textContent = `${ids.length} object(s) over 0.50` + (ids.length ? `: ${ids.map((i) => `#${i}`).join(", ")}` : "") +
        `; best ${Math.max(0, ...r.objects.scores).toFixed(2)}`;
    } else {
      const viewPart = r.view ? `view scale ${r.view.scale.toFixed(2)} m, max ${r.view.max.toFixed(2)}; ` : "";
      scale.textContent = `${viewPart}points scale ${r.points.scale.toFixed(2)} m, max ${r.points.max.toFixed(2)}`;
    }
    row.append(name, scale);
    row.addEventListener("click", () => {
      state.query.selected = i;
      renderResults();
      refreshOverlays();
    });
    box.append(row);
  });
  const bar = document.createElement("div");
  bar.className = "colorbar";
  bar.title = "threshold (cold) to the map's maximum (hot)";
  box.append(bar);
}

function renderRecent(recent) {
  const list = $("recent");
  list.replaceChildren();
  for (const entry of recent || []) {
    const item = document.createElement("li");
    item.textContent = entry.text;
    item.addEventListener("click", () => {
      $("phrases").value = entry.text;
      runQuery(entry.text);
    });
    list.append(item);
  }
}

async function exportPly() {
  const result = selectedResult();
  if (!result) return;
  $("export").disabled = true;
  try {
    const data = await api("/api/export", { phrase: result.phrase });
    clearError();
    const link = $("export-link");
    link.href = data.url;
    link.download = data.name;
    link.textContent = data.name;
    link.hidden = false;
    link.click();
    const c = data.region.center.map((v) => v.toFixed(2)).join(", ");
    $("export-info").textContent = `${data.name}: ${(data.bytes / 1024).toFixed(0)} kB; top region at (${c}) m`;
  } catch (err) {
    showError(err.message);
  } finally {
    $("export").disabled = false;
  }
}

// The object list, labelled against the labels typed in its panel (else the phrases queried so far).
async function loadObjects() {
  const labels = $("labels").value.trim();
  try {
    const listing = await api("/api/objects", labels ? { labels } : {});
    if (state.objects) updateListing(state, listing);
    else {
      setupBoxes(state, listing);
      renderObjectList(state);
      paintBoxes(state);
    }
    $("objects-panel").dataset.labels = listing.labels.join(",");
  } catch (err) {
    showError(err.message);
  }
}

async function ask(question) {
  const log = $("chat-log");
  const q = document.createElement("div");
  q.className = "q";
  q.textContent = `Q: ${question}`;
  log.append(q);
  state.asked += 1;
  const asked = state.asked;
  clearAnswerObjects(state); // a new question: the previous answer's boxes go
  for (const list of log.querySelectorAll(".used.shown")) list.classList.remove("shown");
  try {
    const body = { question };
    const camera = $("chat-from-view").checked ? currentCamera() : null;
    if (camera !== null) body.camera = camera; // asked from this view: the LLM reads egocentric tokens
    const data = await api("/api/chat", body);
    clearError();
    const a = document.createElement("div");
    a.className = "a";
    a.textContent = `A: ${data.answer}`;
    a.dataset.askedFrom = data.asked_from;
    if (data.asked_from === "view") a.title = "asked from this view (egocentric)";
    const used = usedList(data);
    used.dataset.asked = String(asked);
    log.append(a, used);
    if (asked === state.asked) {
      showAnswerObjects(state, question, data.objects);
      used.classList.add("shown");
    }
  } catch (err) {
    showError(err.message);
  }
}

// -- start ----------------------------------------------------------------------------------------

function bindControls() {
  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runQuery($("phrases").value);
  });
  $("threshold").addEventListener("input", () => {
    state.threshold = Number($("threshold").value);
    $("threshold-value").textContent = state.threshold.toFixed(2);
    refreshOverlays();
  });
  $("camera-select").addEventListener("change", () => {
    const name = $("camera-select").value;
    if (name) goToNamed(name);
    else state.named = null;
  });
  $("export").addEventListener("click", exportPly);
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      state.mode = radio.value;
      document.body.dataset.mode = state.mode;
      if (state.query) runQuery(state.query.text);
    });
  }
  $("labels-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadObjects();
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
}

async function start() {
  bindControls();
  let info, points;
  try {
    [info, points] = await Promise.all([api("/api/scene"), api("/api/points")]);
  } catch (err) {
    showError(err.message);
    return;
  }
  state.info = info;
  state.points = { count: points.count, positions: float32Of(points.positions), colors: bytesOf(points.colors) };
  state.threshold = info.threshold;
  $("threshold").value = String(info.threshold);
  $("threshold-value").textContent = info.threshold.toFixed(2);
  $("title").textContent = `${info.title} — ${info.num_points} points, encoder ${info.encoder}`;
  document.querySelectorAll(".panel").forEach((p) => (p.style.aspectRatio = String(aspectOf(info))));
  const select = $("camera-select");
  for (const c of info.cameras) {
    const option = document.createElement("option");
    option.value = c.name;
    option.textContent = c.name;
    select.append(option);
  }
  $("chat").hidden = !info.chat;
  renderRecent(info.recent);
  setup3d(info, state.points);
  const hasObjects = info.objects !== null;
  $("mode").hidden = !hasObjects;
  $("objects-panel").hidden = !hasObjects;
  if (hasObjects) await loadObjects();
  if (info.cameras.length > 0) {
    select.value = info.cameras[0].name;
    goToNamed(info.cameras[0].name);
  } else if (state.three) {
    placeOverview();
    requestStill();
  } else {
    showError("no WebGL and no capture cameras: nothing to show");
  }
  document.body.dataset.ready = "true";
}

start();
