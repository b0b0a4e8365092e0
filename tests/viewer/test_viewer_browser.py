"""The page in real headless Chromium: type a phrase, wait for the overlay, and check its hottest
pixels against the room's ground-truth mask; errors show on the page and the server keeps answering;
the layout reflows down to 800 px wide."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from viewer_browser import new_page, open_viewer, query, skip_without_chromium
from viewer_http import best_view, post_json

from lerf3d.query.overlay import OVERLAY_ALPHA, TURBO_ANCHORS, heatmap_overlay, turbo
from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread

skip_without_chromium()


def canvas_pixels(page) -> np.ndarray:
    url = page.eval_on_selector("#view", "canvas => canvas.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def plain_render(base: str, camera: str) -> np.ndarray:
    status, data = post_json(base, "/api/render", {"camera": {"name": camera}})
    assert status == 200, data
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image"].split(",", 1)[1]))).convert("RGB"))


def overlay_heat(shown: np.ndarray, plain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(painted mask, Turbo position in [0, 1] of each painted pixel) read back from the colours:
    shown = plain (1 - alpha) + turbo(t) alpha, so turbo(t) is recovered and t is its nearest entry."""
    painted = np.abs(shown.astype(int) - plain.astype(int)).max(axis=-1) > 2
    colour = (shown / 255.0 - plain / 255.0 * (1 - OVERLAY_ALPHA)) / OVERLAY_ALPHA  # (H, W, 3)
    table = turbo(np.linspace(0, 1, 256))  # (256, 3)
    nearest = np.argmin(((colour[..., None, :] - table) ** 2).sum(-1), axis=-1)  # (H, W)
    return painted, np.where(painted, nearest / 255.0, 0.0)


def test_a_phrase_lights_up_the_right_object(page, served, gt_scene):
    frame, label, mask = best_view(gt_scene.ground_truth, [f.name for f in gt_scene.capture.frames])
    open_viewer(page, served.url, frame)
    query(page, label, label)
    assert label in page.inner_text("#results") and " m" in page.inner_text("#results")  # scale shown
    assert label in page.inner_text("#recent")
    plain = plain_render(served.url, frame)
    painted, heat = overlay_heat(canvas_pixels(page), plain)
    assert painted.sum() > 50, "nothing painted over the view"
    brightest = heat >= np.quantile(heat[painted], 0.9)  # the hottest tenth of the painted pixels
    assert (brightest & mask).sum() / brightest.sum() > 0.9, "the brightest overlay is not on the object"
    assert (painted & mask).sum() / painted.sum() > 0.75
    # the slider re-colours without a request: at 0.9 only the object's core stays painted
    page.fill("#threshold", "0.9")
    page.wait_for_selector('#view[data-threshold="0.9"]')
    tight, _ = overlay_heat(canvas_pixels(page), plain)
    assert 0 < tight.sum() <= painted.sum() and (tight & mask).sum() / tight.sum() > 0.9
    # the points are coloured too: those over the threshold changed colour, the others did not
    changed = page.evaluate("""() => {
        const s = window.lerf3dViewer, now = s.three.colors.array, was = s.points.colors;
        const values = s.query.results[0].points.values;
        let hot = 0, hotChanged = 0, coldChanged = 0;
        for (let i = 0; i < values.length; i++) {
            const diff = [0, 1, 2].some((c) => now[3 * i + c] !== was[3 * i + c]);
            if (values[i] >= s.threshold) { hot++; if (diff) hotChanged++; } else if (diff) coldChanged++;
        }
        return {hot, hotChanged, coldChanged};
    }""")
    assert changed["hot"] > 20 and changed["hotChanged"] > 0.9 * changed["hot"]
    assert changed["coldChanged"] == 0


def test_errors_show_on_the_page_and_the_server_keeps_answering(page, served):
    open_viewer(page, served.url, "frame_00001")
    page.fill("#phrases", " , ")
    page.press("#phrases", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "empty" in page.inner_text("#error")
    statuses = page.evaluate("""async () => {
        const post = (path, body) =>
            fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
        const identity = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
        const huge = {camera_to_world: identity, fov_y: 60, width: 5000, height: 5000};
        const requests = [
            ['/api/query', '{"phrases": '],
            ['/api/render', JSON.stringify({camera: {name: 'frame_00000', zoom: 2}})],
            ['/api/render', JSON.stringify({camera: huge})],
            ['/api/query', JSON.stringify({phrases: 'oven', camera: {name: 'nowhere'}})],
        ];
        const results = [];
        for (const [path, body] of requests) {
            const response = await post(path, body);
            results.push([response.status, (await response.json()).error]);
        }
        return results;
    }""")
    assert [s for s, _ in statuses] == [400, 400, 400, 404]
    assert "bad JSON" in statuses[0][1] and "zoom" in statuses[1][1] and "unknown camera" in statuses[3][1]
    query(page, "chair", "chair")  # the server still answers, and the page recovered
    assert page.is_hidden("#error")


def test_orbiting_shows_a_preview_then_the_full_view(page, served):
    open_viewer(page, served.url, "frame_00002")
    page.evaluate("""() => {
        window.viewStates = [];
        new MutationObserver(() => window.viewStates.push(document.getElementById('view').dataset.state))
            .observe(document.getElementById('view'), {attributes: true, attributeFilter: ['data-state']});
    }""")
    box = page.locator("#points3d canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x + 12 * step, y + 3 * step)
    page.mouse.up()
    page.wait_for_selector("#view[data-state=still][data-camera=free]")
    states = page.evaluate("() => window.viewStates")
    assert "preview" in states and states[-1] == "still"
    assert page.input_value("#camera-select") == ""


def test_export_button_downloads_a_ply(page, served):
    open_viewer(page, served.url, "frame_00000")
    query(page, "oven", "oven")
    with page.expect_download() as download:
        page.click("#export")
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"ply\nformat binary_little_endian 1.0")
    assert "top region" in page.inner_text("#export-info")


def test_page_colours_match_the_python_overlay(page, served):
    open_viewer(page, served.url)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (500, 3)).astype(np.uint8)
    values = rng.uniform(0, 1, 500).astype(np.float32)
    painted = page.evaluate("""([colours, values, threshold]) => {
        const out = new Uint8Array(colours.length);
        const rgb = Uint8Array.from(colours);
        window.lerf3dPaintRelevancy(out, 3, rgb, 3, Float32Array.from(values), threshold);
        return Array.from(out);
    }""", [colours.ravel().tolist(), values.tolist(), 0.6])
    expected = heatmap_overlay(colours[None] / 255.0, values[None], threshold=0.6)[0]
    assert np.abs(np.array(painted).reshape(-1, 3) - expected.astype(int)).max() <= 1
    assert page.evaluate("() => window.lerf3dViewer.info.overlay.turbo") == TURBO_ANCHORS.tolist()


def test_chat_panel_only_with_a_scene_llm(page, served, gt_scene, tmp_path):
    open_viewer(page, served.url)
    assert page.is_hidden("#chat")
    server = make_server(replace(gt_scene.viewer, chat=lambda question: f"two ({question})"),
                         ViewerConfig(port=0, outputs_dir=tmp_path))
    serve_in_thread(server)
    try:
        open_viewer(page, server.url.rstrip("/"))
        assert page.is_visible("#chat")
        page.fill("#question", "how many ovens?")
        page.press("#question", "Enter")
        page.wait_for_selector("#chat-log .a")
        assert page.inner_text("#chat-log .a") == "A: two (how many ovens?)"
    finally:
        server.shutdown()
        server.server_close()


LAYOUT_CONTROLS = ["header h1", "#title", "#points3d", "#view", "#phrases", "#query-button", "#mode", "#threshold",
                   "#results", "#camera-select", "#export", "#export-link", "#export-info", "#labels",
                   "#labels-button", "#object-counts", "#object-list", "#recent"]
"""The page's main controls: at any width from 800 px none may overlap another."""
LONG_PHRASE = "stainless steel kitchen oven with a glass door"


def overlaps(boxes: dict[str, dict]) -> list[tuple[str, str]]:
    """Pairs of boxes whose interiors intersect (touching edges do not count)."""
    names, found = list(boxes), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p, q = boxes[a], boxes[b]
            dx = min(p["x"] + p["width"], q["x"] + q["width"]) - max(p["x"], q["x"])
            dy = min(p["y"] + p["height"], q["y"] + q["height"]) - max(p["y"], q["y"])
            if dx > 0.5 and dy > 0.5:
                found.append((a, b))
    return found


def test_the_page_reflows_at_800_pixels_wide(browser, served):
    with new_page(browser, 800, 600) as page:
        open_viewer(page, served.url, "frame_00000")
        page.wait_for_selector("#object-list li")
        query(page, LONG_PHRASE, LONG_PHRASE)  # a long export name must wrap, not run over the button
        with page.expect_download():
            page.click("#export")
        page.wait_for_selector("#export-link:not([hidden])")
        boxes = {}
        for selector in LAYOUT_CONTROLS:
            box = page.locator(selector).bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0, f"{selector} is not shown"
            boxes[selector] = box
        assert overlaps(boxes) == []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
        assert boxes["#view"]["width"] >= 320 and boxes["#points3d"]["width"] >= 320
        assert boxes["#camera-select"]["height"] <= 2.5 * boxes["#phrases"]["height"]  # a one-line dropdown
        for selector in ("#export-link", "#export", "#query-button", "#threshold"):
            assert boxes[selector]["x"] + boxes[selector]["width"] <= 800, f"{selector} runs off the page"
