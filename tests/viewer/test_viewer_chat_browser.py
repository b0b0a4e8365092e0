"""What a chat answer rests on, in real headless Chromium: its objects are boxed in the 3D view in
their own colour and listed under the answer; the next question replaces them. The scene LLM is a
stand-in with known objects here (tests/viewer/test_viewer_chat_packaged.py asks the real weights)."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import numpy as np
from PIL import Image
from viewer_browser import open_viewer, skip_without_chromium

from lerf3d.scene_llm.use.explain import UsedObject
from viewer.chat import ChatReply
from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread

skip_without_chromium()

ANSWER_COLOUR = (0x3D, 0xDC, 0x97)
"""viewer/static/chat.js ANSWER_COLOUR."""
MARKER_FRACTION = 0.02
"""viewer/static/chat.js: the cube marking a token without a box, as a fraction of the diagonal."""


def answer_boxes(page) -> list[dict]:
    """The answer boxes in the 3D scene: id, corners and colour, straight from three.js."""
    return page.evaluate("""() => {
        const found = [];
        window.lerf3dViewer.three.scene.traverse((o) => {
            if (o.userData.answer) found.push({id: o.userData.id, min: o.box.min.toArray(), max: o.box.max.toArray(),
                                               colour: o.material.color.getHex(), visible: o.visible});
        });
        return found;
    }""")


def answer_pixels(page) -> int:
    """Pixels of the 3D view within a few levels of the answer colour."""
    url = page.eval_on_selector("#points3d canvas", "canvas => canvas.toDataURL('image/png')")
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.array(ANSWER_COLOUR)).max(axis=-1) <= 24).sum())


def used_rows(page, asked: int) -> list[str]:
    page.wait_for_selector(f'#chat-log .used[data-asked="{asked}"]')
    return page.eval_on_selector_all(f'#chat-log .used[data-asked="{asked}"] li', "rows => rows.map((r) => r.textContent)")


def test_answer_objects_are_boxed_listed_and_replaced(page, gt_scene, gt_objects, tmp_path):
    bounds = gt_scene.viewer.scene_bounds
    low, high = np.asarray(bounds.lower, float), np.asarray(bounds.upper, float)
    span = high - low
    # two boxes well inside the room (apart from every object box's edges) and one token without a box
    first = [UsedObject(2, "oven", tuple(low + 0.4 * span), None, "question", tuple(low + 0.3 * span), tuple(low + 0.5 * span)),
             UsedObject(5, "chair", tuple(low + 0.7 * span), None, "identifier", tuple(low + 0.6 * span),
                        tuple(low + 0.8 * span))]
    second = [UsedObject(9, "lamp", tuple(low + 0.5 * span), None, "answer")]
    replies = {"which oven?": ChatReply("<obj5>", tuple(first)), "where is the lamp?": ChatReply("lamp", tuple(second)),
               "is there a sofa?": ChatReply("no", (), "the objects behind answers cannot be named: no vocabulary.json")}
    replies["is the lamp left of the oven?"] = ChatReply("yes", tuple(second))
    cameras = []

    def chat(question, camera=None):
        cameras.append(camera)
        return replies[question]

    server = make_server(replace(gt_scene.viewer, objects=gt_objects, chat=chat),
                         ViewerConfig(port=0, outputs_dir=tmp_path, full_long_side=96))
    serve_in_thread(server)
    try:
        open_viewer(page, server.url.rstrip("/"))
        page.wait_for_selector("#object-list li")
        assert answer_boxes(page) == []
        before = answer_pixels(page)

        page.fill("#question", "which oven?")
        page.press("#question", "Enter")
        assert used_rows(page, 1) == ["<obj2> oven", "<obj5> chair"]
        drawn = sorted(answer_boxes(page), key=lambda b: b["id"])
        assert [b["id"] for b in drawn] == [2, 5] and all(b["visible"] for b in drawn)
        for box, used in zip(drawn, first):
            np.testing.assert_allclose(box["min"], used.lower, atol=1e-5)
            np.testing.assert_allclose(box["max"], used.upper, atol=1e-5)
        object_colours = page.evaluate("() => window.lerf3dViewer.objects.boxes.map((h) => h.material.color.getHex())")
        assert {b["colour"] for b in drawn} == {0x3DDC97} and 0x3DDC97 not in object_colours
        assert answer_pixels(page) > before + 20, "the answer boxes are not on the 3D view"
        assert page.get_attribute('#chat-log .used[data-asked="1"]', "class") == "used shown"

        # the next question's objects replace them; a token without a box is a small cube at its centre
        page.fill("#question", "where is the lamp?")
        page.press("#question", "Enter")
        assert used_rows(page, 2) == ["<obj9> lamp"]
        (marker,) = answer_boxes(page)
        half = MARKER_FRACTION * np.linalg.norm(span) / 2
        np.testing.assert_allclose(marker["min"], low + 0.5 * span - half, atol=1e-5)
        np.testing.assert_allclose(marker["max"], low + 0.5 * span + half, atol=1e-5)
        assert marker["id"] == 9
        assert page.get_attribute('#chat-log .used[data-asked="1"]', "class") == "used"
        assert page.get_attribute('#chat-log .used[data-asked="2"]', "class") == "used shown"

        # an answer naming no objects clears the boxes and says why under the answer
        page.fill("#question", "is there a sofa?")
        page.press("#question", "Enter")
        page.wait_for_selector('#chat-log .used[data-asked="3"]')
        assert "no vocabulary.json" in page.inner_text('#chat-log .used[data-asked="3"]')
        assert answer_boxes(page) == [] and answer_pixels(page) == before
        assert cameras == [None] * 3  # asked about the whole scene so far

        # "ask from this view": the page sends its camera, the answer says it was asked from the view
        page.check("#chat-from-view")
        page.fill("#question", "is the lamp left of the oven?")
        page.press("#question", "Enter")
        assert used_rows(page, 4) == ["<obj9> lamp"]
        assert page.eval_on_selector_all("#chat-log .a", "rows => rows.map((r) => r.dataset.askedFrom)") == [
            "scene", "scene", "scene", "view"]
        shown = page.evaluate("() => window.lerf3dViewer.named")  # the capture camera shown, or null
        asked = cameras[-1]
        assert asked is not None and asked.intrinsics.width > 0
        if shown is not None:  # a capture camera is shown: the question is asked from it
            np.testing.assert_allclose(asked.camera_to_world, gt_scene.viewer.cameras[shown].camera_to_world)
    finally:
        server.shutdown()
        server.server_close()
