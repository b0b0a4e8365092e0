"""The viewer's object endpoints on the known-answer scene: the object list with best labels and
counts, object-mode queries that select whole objects (checked against the room's ground truth),
the shown points mapped to their objects, and a viewer without objects."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from viewer_http import best_view, decode_f32, get_json, post_json

from lerf3d.query.relevancy import CANONICAL_NEGATIVES, relevancy
from lerf3d.query.scene import frame_camera
from viewer.config import ViewerConfig
from viewer.objects_api import points_to_objects
from viewer.server import make_server, serve_in_thread

TOLERANCE_M = 0.05
"""Slack on a box test: fused points lie up to about a voxel off the true surface."""


def inside(point: np.ndarray, lower, upper, slack: float = TOLERANCE_M) -> bool:
    return bool(np.all(point >= np.asarray(lower) - slack) and np.all(point <= np.asarray(upper) + slack))


def centres(truth, label: str) -> list[np.ndarray]:
    """Centres of the ground-truth boxes of every furniture instance called ``label``."""
    return [(o.box_min + o.box_max) / 2 for o in truth.furniture if o.label == label]


def furniture_labels(truth) -> list[str]:
    return sorted({o.label for o in truth.furniture})


def test_object_list_has_every_box_and_labels_against_a_vocabulary(served, gt_scene, gt_objects):
    status, info = get_json(served.url, "/api/scene")
    assert status == 200 and info["objects"] == len(gt_objects) >= 3
    labels = furniture_labels(gt_scene.ground_truth)
    status, data = post_json(served.url, "/api/objects", {"labels": ", ".join(labels), "top": 2})
    assert status == 200, data
    assert data["count"] == len(gt_objects) == len(data["objects"]) and data["labels"] == labels
    encoder = gt_scene.viewer.session.encoder
    # the relevancy formula by hand: each object's embedding against the phrases and the negatives
    expected = relevancy(gt_objects.embedding, encoder.encode_text(labels), encoder.encode_text(list(CANONICAL_NEGATIVES)))
    for row in data["objects"]:
        i = row["id"]
        np.testing.assert_allclose(row["box_min"], gt_objects.box_min[i].numpy(), atol=1e-6)
        np.testing.assert_allclose(row["box_max"], gt_objects.box_max[i].numpy(), atol=1e-6)
        np.testing.assert_allclose(row["centroid"], gt_objects.centroid[i].numpy(), atol=1e-6)
        assert row["points"] == int((gt_objects.point_object == i).sum()) > 0
        assert len(row["best"]) == 2 and row["best"][0]["score"] >= row["best"][1]["score"]
        best = int(torch.argmax(expected[i]))
        assert row["best"][0]["label"] == labels[best]
        assert row["best"][0]["score"] == pytest.approx(float(expected[i, best]), abs=1e-5)
    best_labels = [row["best"][0]["label"] for row in data["objects"] if row["best"][0]["score"] >= 0.5]
    truth = [o.label for o in gt_scene.ground_truth.furniture]  # a chair's feet, cut apart, join it
    assert data["counts"] == {label: truth.count(label) for label in labels}
    assert data["unlabelled"] == len(gt_objects) - len(best_labels)
    # every annotated piece lies in an object whose best label is its own
    for label in labels:
        for centre in centres(gt_scene.ground_truth, label):
            owners = [r for r in data["objects"] if inside(centre, r["box_min"], r["box_max"])]
            assert owners and all(r["best"][0]["label"] == label for r in owners), (label, centre)
        assert data["counts"][label] >= len(centres(gt_scene.ground_truth, label))


def test_object_list_defaults_to_the_phrases_queried(served, gt_scene):
    assert post_json(served.url, "/api/query", {"phrases": "chair, oven"})[0] == 200
    status, data = post_json(served.url, "/api/objects", {})
    assert status == 200
    recent = get_json(served.url, "/api/scene")[1]["recent"]
    queried = list(dict.fromkeys(p for entry in reversed(recent) for p in entry["phrases"]))
    assert data["labels"] == queried and {"chair", "oven"} <= set(queried)
    truth = [o.label for o in gt_scene.ground_truth.furniture]
    assert data["counts"]["chair"] == truth.count("chair") and data["counts"]["oven"] == truth.count("oven")
    assert all(len(row["best"]) == min(3, len(queried)) for row in data["objects"])


@pytest.mark.parametrize("payload, status, message", [
    ({"labels": "chair", "top": 0}, 400, "top must be in"),
    ({"labels": ["chair", 3]}, 400, "must be a string"),
    ({"colour": True}, 400, "unknown objects field"),
])
def test_bad_object_requests(served, payload, status, message):
    got, data = post_json(served.url, "/api/objects", payload)
    assert got == status and message in data["error"]
    got, data = post_json(served.url, "/api/query", {"phrases": "chair", "mode": "boxes"})
    assert got == 400 and "mode must be one of" in data["error"]


def test_object_mode_selects_the_labelled_pieces(served, gt_scene, gt_objects):
    truth = gt_scene.ground_truth
    frame, _, _ = best_view(truth, [f.name for f in gt_scene.capture.frames])
    labels = furniture_labels(truth)
    status, data = post_json(served.url, "/api/query",
                             {"camera": {"name": frame}, "phrases": labels, "mode": "objects"})
    assert status == 200, data
    assert data["mode"] == "objects" and [r["phrase"] for r in data["results"]] == labels
    mask = truth.load_mask(frame)
    xyz = np.asarray(gt_scene.viewer.points.xyz)
    shown_object = points_to_objects(xyz, gt_objects)
    for result in data["results"]:
        label = result["phrase"]
        scores = np.array(result["objects"]["scores"])
        selected = result["objects"]["selected"]
        assert len(scores) == len(gt_objects)
        assert selected == sorted(np.flatnonzero(scores >= 0.5).tolist(), key=lambda i: -scores[i])
        boxes = [(gt_objects.box_min[i].numpy(), gt_objects.box_max[i].numpy()) for i in selected]
        for centre in centres(truth, label):  # every piece called that is selected ...
            assert any(inside(centre, lo, hi) for lo, hi in boxes), (label, centre)
        for other in labels:  # ... and no piece called something else
            if other != label:
                assert not any(inside(c, lo, hi, 0.0) for c in centres(truth, other) for lo, hi in boxes)
        # the shown points carry their object's score; points of no object are 0
        points = decode_f32(result["points"]["values"])
        assert points.shape == (len(xyz),)
        np.testing.assert_allclose(points[shown_object >= 0], scores[shown_object[shown_object >= 0]], atol=1e-6)
        assert np.all(points[shown_object < 0] == 0)
        # the view: each object's pixels carry its score, and the lit pixels are the piece's mask
        view = decode_f32(result["view"]["values"]).reshape(data["height"], data["width"])
        assert result["view"]["scale"] is None
        ids = [o.instance_id for o in truth.furniture if o.label == label]
        piece = np.isin(mask, ids)
        if piece.mean() >= 0.01:
            lit = view > 0.5
            assert (lit & piece).sum() / max(1, (lit | piece).sum()) > 0.5, label


def test_shown_points_map_to_their_objects(gt_objects):
    xyz = gt_objects.xyz.numpy()
    np.testing.assert_array_equal(points_to_objects(xyz, gt_objects), gt_objects.point_object.numpy())
    assert (points_to_objects(xyz + 1.0, gt_objects) == -1).all()  # a metre off: no object near
    assert points_to_objects(xyz[:0], gt_objects).shape == (0,)


def test_a_viewer_without_objects_says_so(gt_scene, tmp_path):
    server = make_server(gt_scene.viewer, ViewerConfig(port=0, outputs_dir=tmp_path))
    serve_in_thread(server)
    base = server.url.rstrip("/")
    try:
        assert get_json(base, "/api/scene")[1]["objects"] is None
        status, data = post_json(base, "/api/objects", {})
        assert status == 404 and "--no-objects" in data["error"]
        status, data = post_json(base, "/api/query", {"phrases": "chair", "mode": "objects"})
        assert status == 404 and "no objects" in data["error"]
        assert post_json(base, "/api/query", {"phrases": "chair"})[0] == 200  # per pixel still works
    finally:
        server.shutdown()
        server.server_close()


def test_object_mode_view_matches_the_scorer(served, gt_scene, gt_objects):
    """The endpoint's view map is the object layer's own (the same camera, the same numbers)."""
    from lerf3d.objects.scorer import ObjectScorer

    frame = gt_scene.capture.frames[1]
    status, data = post_json(served.url, "/api/query", {"camera": {"name": frame.name, "width": 96, "height": 72},
                                                        "phrases": "oven", "mode": "objects"})
    assert status == 200
    expected = ObjectScorer(gt_objects, gt_scene.viewer.session.encoder).maps(frame_camera(frame), ["oven"])[0]
    k = frame.intrinsics
    assert (k.width, k.height) == (96, 72)
    got = decode_f32(data["results"][0]["view"]["values"]).reshape(72, 96)
    np.testing.assert_allclose(got, expected.values.numpy(), atol=1e-6)
