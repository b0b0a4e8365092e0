// The scene's objects on the page: one box per object in the 3D view (hover shows its best labels,
// a click selects it), the object list with counts per best label, and the boxes an object-mode
// phrase lights (relevancy over the threshold slider, like the overlays).
import * as THREE from "three";

const COLOURS = { normal: 0x5d6b85, hovered: 0xffd166, lit: 0xe3450e, selected: 0xffffff };
const CLICK_SLOP_PX = 4; // a press that moves further is an orbit, not a click
const $ = (id) => document.getElementById(id);

export function labelText(object, count = 3) {
  if (!object.best.length) return `object ${object.id} (no labels yet: query a phrase or give labels)`;
  return `object ${object.id}: ` + object.best.slice(0, count).map((b) => `${b.label} ${b.score.toFixed(2)}`).join(", ");
}

// Objects an object-mode answer lights: those whose relevancy for the shown phrase is >= threshold.
export function litObjects(state) {
  const q = state.query;
  const result = q ? q.results[q.selected] : null;
  if (!result || !result.objects) return new Set();
  const lit = new Set();
  result.objects.scores.forEach((score, id) => {
    if (score >= state.threshold) lit.add(id);
  });
  return lit;
}

// A wireframe box from its lower to its upper corner (world metres), tagged with an id.
export function boxHelper(lower, upper, colour, id) {
  const helper = new THREE.Box3Helper(new THREE.Box3(new THREE.Vector3(...lower), new THREE.Vector3(...upper)), colour);
  helper.userData.id = id;
  return helper;
}

export function setupBoxes(state, listing) {
  const three = state.three;
  const boxes = [];
  if (three) {
    const group = new THREE.Group();
    for (const object of listing.objects) {
      const helper = boxHelper(object.box_min, object.box_max, COLOURS.normal, object.id);
      group.add(helper);
      boxes.push(helper);
    }
    three.scene.add(group);
    bindPointer(state);
  }
  state.objects = { listing, boxes, hovered: null, selected: null, lit: new Set() };
}

// The object whose box the ray under the pointer enters first (inside several: the smallest).
export function pickObject(state, clientX, clientY) {
  const three = state.three;
  if (!three || !state.objects) return null;
  const rect = three.renderer.domElement.getBoundingClientRect();
  const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
  const raycaster = new THREE.Raycaster();
  raycaster.setFromCamera(ndc, three.camera);
  let best = null;
  const hit = new THREE.Vector3();
  const size = new THREE.Vector3();
  for (const helper of state.objects.boxes) {
    if (raycaster.ray.intersectBox(helper.box, hit) === null) continue;
    const distance = hit.distanceTo(raycaster.ray.origin);
    helper.box.getSize(size);
    const volume = size.x * size.y * size.z;
    if (best === null || distance < best.distance - 1e-6 || (Math.abs(distance - best.distance) <= 1e-6 && volume < best.volume)) {
      best = { id: helper.userData.id, distance, volume };
    }
  }
  return best === null ? null : best.id;
}

// Client (page) coordinates of an object's centroid in the 3D view, or null behind the camera.
export function objectScreen(state, id) {
  const three = state.three;
  const object = state.objects && state.objects.listing.objects[id];
  if (!three || !object) return null;
  const point = new THREE.Vector3(...object.centroid).project(three.camera);
  if (point.z > 1) return null;
  const rect = three.renderer.domElement.getBoundingClientRect();
  return { x: rect.left + ((point.x + 1) / 2) * rect.width, y: rect.top + ((1 - point.y) / 2) * rect.height };
}

function bindPointer(state) {
  const canvas = state.three.renderer.domElement;
  let down = null;
  canvas.addEventListener("pointermove", (event) => hover(state, event));
  canvas.addEventListener("pointerleave", () => hover(state, null));
  canvas.addEventListener("pointerdown", (event) => (down = { x: event.clientX, y: event.clientY }));
  canvas.addEventListener("pointerup", (event) => {
    if (down && Math.hypot(event.clientX - down.x, event.clientY - down.y) <= CLICK_SLOP_PX) {
      selectObject(state, pickObject(state, event.clientX, event.clientY));
    }
    down = null;
  });
}

function hover(state, event) {
  const id = event ? pickObject(state, event.clientX, event.clientY) : null;
  const tip = $("object-tip");
  state.objects.hovered = id;
  if (id === null) {
    tip.hidden = true;
    tip.dataset.object = "";
  } else {
    const panel = $("points3d").getBoundingClientRect();
    tip.textContent = labelText(state.objects.listing.objects[id]);
    tip.dataset.object = String(id);
    tip.style.left = `${Math.min(event.clientX - panel.left + 12, panel.width - 160)}px`;
    tip.style.top = `${Math.max(event.clientY - panel.top - 28, 0)}px`;
    tip.hidden = false;
  }
  paintBoxes(state);
}

export function selectObject(state, id) {
  state.objects.selected = id;
  const info = $("object-info");
  if (id === null) {
    info.textContent = "";
    info.dataset.object = "";
  } else {
    const o = state.objects.listing.objects[id];
    const size = o.box_max.map((v, c) => (v - o.box_min[c]).toFixed(2)).join(" x ");
    const centre = o.centroid.map((v) => v.toFixed(2)).join(", ");
    info.replaceChildren();
    const title = document.createElement("b");
    title.textContent = labelText(o, 5);
    const detail = document.createElement("div");
    detail.textContent = `centre (${centre}) m, box ${size} m, ${o.points} points, seen in ${o.views} views, ` +
      `confidence ${o.confidence.toFixed(2)}`;
    info.append(title, detail);
    info.dataset.object = String(id);
  }
  renderObjectList(state);
  paintBoxes(state);
}

// Box colours: selected, then lit, then hovered, else the plain colour.
export function paintBoxes(state) {
  if (!state.objects) return;
  const lit = litObjects(state);
  state.objects.lit = lit;
  for (const helper of state.objects.boxes) {
    const id = helper.userData.id;
    const kind = id === state.objects.selected ? "selected" : lit.has(id) ? "lit" : id === state.objects.hovered ? "hovered" : "normal";
    helper.material.color.setHex(COLOURS[kind]);
    helper.userData.state = kind;
  }
  for (const row of document.querySelectorAll("#object-list li")) {
    row.dataset.lit = String(lit.has(Number(row.dataset.object)));
  }
  if (state.three) state.three.renderer.render(state.three.scene, state.three.camera);
}

export function renderObjectList(state) {
  const { listing, selected } = state.objects;
  $("objects-count").textContent = `${listing.count} objects` + (listing.labels.length ? `, labelled against ${listing.labels.length} phrases` : "");
  const counts = $("object-counts");
  counts.replaceChildren();
  for (const [label, count] of Object.entries(listing.counts)) {
    const row = document.createElement("tr");
    row.dataset.label = label;
    const name = document.createElement("td");
    name.textContent = label;
    const number = document.createElement("td");
    number.textContent = String(count);
    row.append(name, number);
    counts.append(row);
  }
  if (listing.unlabelled) {
    const row = document.createElement("tr");
    row.className = "unlabelled";
    const name = document.createElement("td");
    name.textContent = listing.labels.length ? "no label over 0.50" : "not labelled yet";
    const number = document.createElement("td");
    number.textContent = String(listing.unlabelled);
    row.append(name, number);
    counts.append(row);
  }
  const list = $("object-list");
  list.replaceChildren();
  for (const object of listing.objects) {
    const item = document.createElement("li");
    item.dataset.object = String(object.id);
    item.textContent = labelText(object, 1);
    if (object.id === selected) item.className = "selected";
    item.addEventListener("click", () => selectObject(state, object.id === state.objects.selected ? null : object.id));
    list.append(item);
  }
}

// Replace the listing (new labels) keeping the boxes, the selection and the lit set.
export function updateListing(state, listing) {
  state.objects.listing = listing;
  selectObject(state, state.objects.selected);
}
