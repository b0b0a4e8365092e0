"""Left/right from a view: hand-placed boxes seen by a camera of known pose, and the tiny room's views."""

from __future__ import annotations

import numpy as np
import pytest

from lerf3d.geometry import look_at
from lerf3d.ground_truth import GroundTruthObject, load_ground_truth
from lerf3d.scene_llm.data.egocentric import (
    View,
    box_span,
    capture_views,
    ego_relation_questions,
    view_pairs,
)
from lerf3d.scene_llm.data.questions import QuestionConfig
from lerf3d.types import Intrinsics

CAMERA = Intrinsics(fx=50, fy=50, cx=50, cy=40, width=100, height=80)
"""100 px wide: a 5 % gap is 5 px."""
CFG = QuestionConfig(min_pixels=10, max_ego_views=4, max_ego_pairs=100, ego_gap_fraction=0.05)


def _box(iid: int, label: str, centre, half=0.2) -> GroundTruthObject:
    centre = np.asarray(centre, float)
    return GroundTruthObject(iid, label, "Living room", centre - half, centre + half)


def _view(name: str = "v0", eye=(0.0, -3.0, 0.0), target=(0.0, 0.0, 0.0)) -> View:
    """A camera at ``eye`` looking at ``target``: from the default, camera x is world +x."""
    return View(name, look_at(np.array(eye), np.array(target)), CAMERA)


def _mask(*ids: int, pixels: int = 40) -> np.ndarray:
    """An instance mask showing each id on ``pixels`` pixels (where does not matter: only counts do)."""
    mask = np.zeros((CAMERA.height, CAMERA.width), np.int32).ravel()
    for k, iid in enumerate(ids):
        mask[k * pixels:(k + 1) * pixels] = iid
    return mask.reshape(CAMERA.height, CAMERA.width)


def test_an_object_at_camera_x_minus_one_is_left():
    lamp, bed = _box(1, "lamp", [-1, 0, 0]), _box(2, "bed", [1, 0, 0])
    view = _view()
    span = box_span(lamp, view)
    # corners at x -1.2..-0.8, depth 2.8..3.2: columns 50 + 50 x / z
    assert span.x_min == pytest.approx(-1.2) and span.x_max == pytest.approx(-0.8)
    assert span.col_min == pytest.approx(50 - 50 * 1.2 / 2.8)
    assert span.col_max == pytest.approx(50 - 50 * 0.8 / 3.2)
    assert view_pairs([lamp, bed], view, _mask(1, 2), CFG) == [("lamp", "bed")]
    qas = ego_relation_questions([lamp, bed], [view], lambda name: _mask(1, 2), CFG, np.random.default_rng(0))
    assert len(qas) == 1 and qas[0].frame == "v0" and qas[0].type == "ego_relation"
    expected = {("lamp", "bed"): "left", ("bed", "lamp"): "right"}
    assert qas[0].answer == expected[qas[0].labels]
    assert "this view" in qas[0].question


def test_turning_round_swaps_the_sides():
    lamp, bed = _box(1, "lamp", [-1, 0, 0]), _box(2, "bed", [1, 0, 0])
    behind = _view(eye=(0, 3, 0))  # looking south: world -x is on the camera's right
    assert view_pairs([lamp, bed], behind, _mask(1, 2), CFG) == [("bed", "lamp")]


def test_unclear_pairs_are_not_asked():
    view = _view()
    lamp, bed = _box(1, "lamp", [-1, 0, 0]), _box(2, "bed", [1, 0, 0])
    assert view_pairs([lamp, bed], view, _mask(1, 2, pixels=5), CFG) == []  # below min_pixels
    assert view_pairs([lamp, bed], view, _mask(1), CFG) == []  # the bed is not in this frame
    close = _box(3, "stool", [-0.45, 0, 0])  # columns under 1 px from the lamp's: not the 5 px gap
    assert view_pairs([lamp, close], view, _mask(1, 3), CFG) == []
    assert view_pairs([lamp, close], view, _mask(1, 3), QuestionConfig(min_pixels=10, ego_gap_fraction=0)) \
        == [("lamp", "stool")]
    # near and far: the near box projects left of the far one, yet the far one is further left in
    # camera x, so "left of" depends on the reading: not asked
    near, far = _box(4, "cup", [-0.3, -2.2, 0], half=0.05), _box(5, "sofa", [-0.5, 4, 0])
    assert box_span(near, view).col_max < box_span(far, view).col_min
    assert box_span(far, view).x_min < box_span(near, view).x_min
    assert view_pairs([near, far], view, _mask(4, 5), CFG) == []
    behind_camera = _box(6, "rug", [1, -3.1, 0])  # straddles the camera plane
    assert box_span(behind_camera, view) is None
    assert view_pairs([lamp, behind_camera], view, _mask(1, 6), CFG) == []


def test_left_and_right_are_balanced_and_capped():
    objects = [_box(i + 1, f"thing {i}", [-5 + 2 * i, 2, 0]) for i in range(6)]  # a row, ~10 px apart
    views = [_view(f"v{k}", eye=(0.2 * k, -6.0, 0.0), target=(0.2 * k, 0, 0)) for k in range(3)]
    mask = _mask(*range(1, 7))
    rng = np.random.default_rng(1)
    qas = ego_relation_questions(objects, views, lambda name: mask, CFG, rng)
    assert len(qas) == 3 * 15  # every pair of six from each of three views
    answers = [qa.answer for qa in qas]
    assert abs(answers.count("left") - answers.count("right")) <= 1
    for qa in qas:  # the answer agrees with the row's order whichever way round it was asked
        first, second = (int(label.split()[1]) for label in qa.labels)
        assert qa.answer == ("left" if first < second else "right")
    capped = ego_relation_questions(objects, views, lambda name: mask,
                                    QuestionConfig(min_pixels=10, max_ego_pairs=5, max_ego_views=2), rng)
    assert len(capped) == 5 and len({qa.frame for qa in capped}) <= 2
    twins = [_box(1, "chair", [-1, 0, 0]), _box(2, "chair", [1, 0, 0])]  # "the chair" names no one thing
    assert ego_relation_questions(twins, views, lambda name: _mask(1, 2), CFG, rng) == []


def test_capture_views_read_the_tiny_rooms_poses(tiny_room):
    truth = load_ground_truth(tiny_room)
    views = capture_views(truth)
    assert [v.name for v in views] == sorted(truth.mask_paths)
    mask = truth.load_mask(views[0].name)
    assert (views[0].intrinsics.height, views[0].intrinsics.width) == mask.shape
    assert views[0].camera_to_world.shape == (4, 4)
    rotation = views[0].camera_to_world[:3, :3]
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)


def test_no_capture_is_a_clear_error(tmp_path):
    from lerf3d.ground_truth import GroundTruth

    truth = GroundTruth(tmp_path / "ground_truth.json", "hand", (), {})
    with pytest.raises(ValueError, match="no capture poses to ask egocentric questions from"):
        capture_views(truth)
