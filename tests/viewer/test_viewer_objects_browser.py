"""The page's objects in real headless Chromium: one box per object in the 3D view, hovering one
shows its best labels, clicking selects it, an object-mode phrase lights the boxes of the pieces the
room's ground truth calls that, and the object list counts objects per best label."""

from __future__ import annotations

import numpy as np
from viewer_browser import open_viewer, skip_without_chromium
from viewer_http import post_json

skip_without_chromium()

SLACK_M = 0.05
"""Box tests allow a voxel of fusion error."""


def boxes(page) -> list[dict]:
    """The boxes drawn in the 3D view: corners and colour state, straight from three.js."""
    return page.evaluate("""() => window.lerf3dViewer.objects.boxes.map((h) => ({
        id: h.userData.id, min: h.box.min.toArray(), max: h.box.max.toArray(), state: h.userData.state,
        visible: h.visible && h.parent !== null}))""")


def piece_frame(gt_scene, label: str) -> str:
    """The frame in which the pieces called ``label`` cover the most pixels."""
    truth = gt_scene.ground_truth
    ids = [o.instance_id for o in truth.furniture if o.label == label]
    return max((f.name for f in gt_scene.capture.frames), key=lambda n: np.isin(truth.load_mask(n), ids).sum())


def test_boxes_hover_labels_and_selection(page, served, gt_scene, gt_objects):
    open_viewer(page, served.url)
    page.wait_for_selector("#object-list li")
    drawn = boxes(page)
    assert len(drawn) == len(gt_objects) and all(b["visible"] for b in drawn)
    for b in drawn:
        np.testing.assert_allclose(b["min"], gt_objects.box_min[b["id"]].numpy(), atol=1e-5)
        np.testing.assert_allclose(b["max"], gt_objects.box_max[b["id"]].numpy(), atol=1e-5)
    assert page.locator("#object-list li").count() == len(gt_objects)
    # label the objects against the room's furniture names, then hover the chair's box
    labels = sorted({o.label for o in gt_scene.ground_truth.furniture})
    page.fill("#labels", ", ".join(labels))
    page.press("#labels", "Enter")
    page.wait_for_selector(f'#objects-panel[data-labels="{",".join(labels)}"]')
    status, listing = post_json(served.url, "/api/objects", {"labels": labels})
    assert status == 200
    label = "chair" if "chair" in labels else labels[0]
    (target,) = [r for r in listing["objects"] if r["best"][0]["label"] == label][:1]
    open_viewer(page, served.url, piece_frame(gt_scene, label))  # the 3D view from where the piece shows best
    page.fill("#labels", ", ".join(labels))
    page.press("#labels", "Enter")
    page.wait_for_selector(f'#objects-panel[data-labels="{",".join(labels)}"]')
    at = page.evaluate("(id) => window.lerf3dObjectScreen(id)", target["id"])
    assert at is not None, "the piece is behind the camera"
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector(f'#object-tip:not([hidden])[data-object="{target["id"]}"]')
    tip = page.inner_text("#object-tip")
    best = target["best"][0]
    assert f"object {target['id']}" in tip and f"{best['label']} {best['score']:.2f}" in tip
    assert {b["id"]: b["state"] for b in boxes(page)}[target["id"]] == "hovered"
    # a click (press and release in place) selects it: highlighted, its details in the info panel
    page.mouse.down()
    page.mouse.up()
    page.wait_for_selector(f'#object-info[data-object="{target["id"]}"]')
    assert {b["id"]: b["state"] for b in boxes(page)}[target["id"]] == "selected"
    assert best["label"] in page.inner_text("#object-info") and "views" in page.inner_text("#object-info")
    assert page.get_attribute(f'#object-list li[data-object="{target["id"]}"]', "class") == "selected"
    # the pointer off every box: no tooltip
    box = page.locator("#points3d canvas").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    hidden = page.evaluate("() => document.getElementById('object-tip').hidden")
    shown_id = page.get_attribute("#object-tip", "data-object")
    assert hidden or shown_id != str(target["id"])


def test_object_mode_lights_the_labelled_pieces_and_counts_them(page, served, gt_scene, gt_objects):
    truth = gt_scene.ground_truth
    labels = sorted({o.label for o in truth.furniture})
    for label in labels:
        open_viewer(page, served.url, piece_frame(gt_scene, label))
        page.check("#mode-objects")
        page.fill("#phrases", label)
        page.press("#phrases", "Enter")
        page.wait_for_selector(f'#view[data-state=overlay][data-mode=objects][data-phrase="{label}"]')
        lit = [b for b in boxes(page) if b["state"] == "lit"]
        assert lit, f"{label}: no box lit"
        for piece in (o for o in truth.furniture if o.label == label):  # every piece's box is lit
            centre = (piece.box_min + piece.box_max) / 2
            assert any(np.all(centre >= np.array(b["min"]) - SLACK_M) and np.all(centre <= np.array(b["max"]) + SLACK_M)
                       for b in lit), (label, centre)
        for piece in (o for o in truth.furniture if o.label != label):  # and no other piece's
            centre = (piece.box_min + piece.box_max) / 2
            assert not any(np.all(centre >= b["min"]) and np.all(centre <= b["max"]) for b in lit), (label, piece.label)
        lit_rows = page.eval_on_selector_all('#object-list li[data-lit="true"]', "rows => rows.map((r) => +r.dataset.object)")
        assert sorted(lit_rows) == sorted(b["id"] for b in lit)
        assert "object(s) over 0.50" in page.inner_text("#results")
    # the object list counts objects per best label over the phrases queried so far
    page.fill("#labels", "")
    page.press("#labels", "Enter")
    page.wait_for_selector("#object-counts tr")
    counts = page.eval_on_selector_all("#object-counts tr[data-label]",
                                       "rows => rows.map((r) => [r.dataset.label, +r.cells[1].textContent])")
    status, listing = post_json(served.url, "/api/objects", {})
    assert status == 200 and dict(counts) == listing["counts"]
    unlabelled = page.eval_on_selector_all("#object-counts tr.unlabelled", "rows => rows.map((r) => +r.cells[1].textContent)")
    assert unlabelled == ([listing["unlabelled"]] if listing["unlabelled"] else [])
    annotated = [o.label for o in truth.furniture]  # the known-answer room's pieces, a chair's cut-off feet joined
    assert all(dict(counts)[label] == annotated.count(label) for label in set(annotated))
    for label in labels:
        assert dict(counts)[label] >= sum(o.label == label for o in truth.furniture)
