"""Room layout and camera trajectory: deterministic, non-overlapping, inside the room."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from data_tools.catalog import load_catalog
from data_tools.rooms import FILL_RATIO, FIRST_OBJECT_ID, OBJECT_GAP, choose_models, make_layout, room_size
from data_tools.trajectory import camera_poses


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(force_primitives=True)


def _layout(catalog, seed: int, objects: int = 6, tabletop: int = 2):
    return make_layout(catalog, objects, tabletop, 2.6, np.random.default_rng(seed))


def test_layout_is_deterministic(catalog):
    assert _layout(catalog, 5) == _layout(catalog, 5)
    assert _layout(catalog, 5) != _layout(catalog, 6)


@pytest.mark.parametrize("seed", range(6))
def test_floor_pieces_do_not_overlap_and_stay_inside(catalog, seed):
    layout = _layout(catalog, seed)
    sx, sy, _ = layout.size
    floor = [o for o in layout.objects if o.support_id is None]
    assert len(floor) == 6
    for o in floor:
        assert -sx / 2 <= o.box_min[0] and o.box_max[0] <= sx / 2
        assert -sy / 2 <= o.box_min[1] and o.box_max[1] <= sy / 2
        assert o.box_min[2] == 0.0 and o.yaw_deg in (0, 90, 180, 270)
    for a, b in itertools.combinations(floor, 2):
        gap_x = max(a.box_min[0] - b.box_max[0], b.box_min[0] - a.box_max[0])
        gap_y = max(a.box_min[1] - b.box_max[1], b.box_min[1] - a.box_max[1])
        assert max(gap_x, gap_y) >= OBJECT_GAP - 1e-9


def test_box_matches_size_and_yaw(catalog):
    for o in _layout(catalog, 1).objects:
        w, d, h = o.entry.size
        extent = np.subtract(o.box_max, o.box_min)
        expected = (d, w, h) if o.yaw_deg in (90, 270) else (w, d, h)
        np.testing.assert_allclose(extent, expected, atol=1e-9)


def test_tabletop_items_stand_on_their_support(catalog):
    layout = _layout(catalog, 2, objects=5, tabletop=3)
    by_id = {o.instance_id: o for o in layout.objects}
    items = [o for o in layout.objects if o.support_id is not None]
    assert items, "the primitive catalogue has tables for small items"
    for item in items:
        support = by_id[item.support_id]
        assert item.box_min[2] == pytest.approx(support.box_min[2] + support.entry.top_height)
        assert support.box_min[0] <= item.box_min[0] and item.box_max[0] <= support.box_max[0]
        assert support.box_min[1] <= item.box_min[1] and item.box_max[1] <= support.box_max[1]
    ids = [o.instance_id for o in layout.objects]
    assert ids == list(range(FIRST_OBJECT_ID, FIRST_OBJECT_ID + len(ids)))


def test_room_grows_with_object_count(catalog):
    rng = np.random.default_rng(0)
    floor = catalog.select("floor")
    areas = []
    for count in (3, 8, 16):
        models = choose_models(floor, count, rng)
        sx, sy = room_size(models, np.random.default_rng(1))
        footprint = sum(m.size[0] * m.size[1] for m in models)
        assert sx * sy >= footprint / FILL_RATIO - 0.05  # furniture covers at most FILL_RATIO of the floor
        areas.append(sx * sy)
    assert areas[0] < areas[1] < areas[2] and areas[2] > 2 * areas[0]


def test_surfaces_face_into_the_room(catalog):
    layout = _layout(catalog, 0)
    for s in layout.surfaces:
        normal = np.cross(s.u_dir, s.v_dir)
        centre = np.add(
            s.origin, np.multiply(s.u_dir, s.size_uv[0] / 2) + np.multiply(s.v_dir, s.size_uv[1] / 2)
        )
        inside = np.array([0.0, 0.0, layout.size[2] / 2])
        assert np.dot(normal, inside - centre) > 0, s.label


@pytest.mark.parametrize("seed", range(4))
def test_cameras_are_inside_the_room_and_outside_furniture(catalog, seed):
    layout = _layout(catalog, seed)
    poses = camera_poses(layout, 20, 0.35, (1.4, 1.7), np.random.default_rng(seed))
    assert poses.shape == (20, 4, 4)
    sx, sy, sz = layout.size
    for pose in poses:
        np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-9)
        eye = pose[:3, 3]
        assert abs(eye[0]) < sx / 2 and abs(eye[1]) < sy / 2 and 0.5 < eye[2] < sz
        for o in layout.objects:
            inside = all(o.box_min[k] <= eye[k] <= o.box_max[k] for k in range(3))
            assert not inside


def test_close_views_look_at_an_object(catalog):
    layout = _layout(catalog, 3)
    poses = camera_poses(layout, 20, 0.5, (1.4, 1.7), np.random.default_rng(0))
    centres = np.array([np.add(o.box_min, o.box_max) / 2 for o in layout.objects])
    hits = 0
    for pose in poses:
        to_centres = centres - pose[:3, 3]
        cosines = to_centres @ pose[:3, 2] / np.linalg.norm(to_centres, axis=1)
        distances = np.linalg.norm(to_centres, axis=1)
        hits += bool(np.any((cosines > 0.99) & (distances < 2.5)))  # an object dead ahead, near
    assert hits >= 10  # the 10 close views, whatever the ring views happen to face
