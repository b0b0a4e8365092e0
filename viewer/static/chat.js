// What a chat answer rests on: the objects its question or answer names (POST /api/chat sends
// them with world-coordinate boxes), boxed in the 3D view in their own colour and listed under the
// answer. Only the latest question's objects are shown: asking again clears them.
import * as THREE from "three";
import { boxHelper } from "./objects.js";

export const ANSWER_COLOUR = 0x3ddc97; // apart from the object boxes' grey, yellow, orange and white
const MARKER_FRACTION = 0.02; // a token without a box is marked by a cube this fraction of the scene's diagonal

// Remove the previous answer's boxes from the 3D view.
export function clearAnswerObjects(state) {
  const shown = state.answer;
  state.answer = null;
  const three = state.three;
  if (!shown || !three) return;
  three.scene.remove(shown.group);
  for (const helper of shown.boxes) {
    helper.geometry.dispose();
    helper.material.dispose();
  }
  three.renderer.render(three.scene, three.camera);
}

// Box the objects of an answer (world coordinates) in the 3D view.
export function showAnswerObjects(state, question, objects) {
  clearAnswerObjects(state);
  const three = state.three;
  const boxes = [];
  let group = null;
  if (three) {
    const half = (MARKER_FRACTION * three.upper.distanceTo(three.lower)) / 2;
    group = new THREE.Group();
    for (const o of objects) {
      const lower = o.lower ?? o.centre.map((v) => v - half);
      const upper = o.upper ?? o.centre.map((v) => v + half);
      const helper = boxHelper(lower, upper, ANSWER_COLOUR, o.id);
      helper.userData.answer = true;
      group.add(helper);
      boxes.push(helper);
    }
    three.scene.add(group);
    three.renderer.render(three.scene, three.camera);
  }
  state.answer = { question, objects, group, boxes };
}

// The list under an answer: "<obj2> chair" per object, or the note saying why none could be named.
export function usedList(data) {
  if (!data.objects || !data.objects.length) {
    const none = document.createElement("div");
    none.className = "used none";
    none.textContent = data.note ?? "rests on no object the question or answer names";
    return none;
  }
  const list = document.createElement("ul");
  list.className = "used";
  for (const o of data.objects) {
    const item = document.createElement("li");
    item.dataset.object = String(o.id);
    item.textContent = `${o.identifier} ${o.label}`;
    const where = o.lower ? `box (${o.lower.map((v) => v.toFixed(2)).join(", ")}) to (${o.upper.map((v) => v.toFixed(2)).join(", ")}) m`
      : `at (${o.centre.map((v) => v.toFixed(2)).join(", ")}) m`;
    item.title = `${where}; ${o.reason === "identifier" ? "its identifier is in the answer" : `named in the ${o.reason}`}`;
    list.append(item);
  }
  return list;
}
