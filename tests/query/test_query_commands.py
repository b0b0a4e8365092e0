"""The query commands on the generated tiny room with a tiny random-weight field (the commands'
plumbing does not depend on the weights): heat-map PNGs, orbit videos, PLY + box export, evaluation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from query_helpers import HashTextEncoder, make_field

from lerf3d.capture import load_capture
from lerf3d.features.tiling import PyramidConfig
from lerf3d.fusion import FusionConfig, fuse_capture
from lerf3d.ground_truth import load_ground_truth
from lerf3d.query.commands import export_phrase, path_cameras, query_view, render_orbit, render_video
from lerf3d.query.eval_scene import evaluate_scene
from lerf3d.query.export import PLY_RELEVANCY_PROPERTY
from lerf3d.query.scene import QueryScene
from lerf3d.query.session import QuerySession, QuerySessionConfig

CONFIG = QuerySessionConfig(num_scales=4, point_scales=(0.25, 1.0), chunk_size=4096)


@pytest.fixture(scope="module")
def fused(tiny_room):
    # 4 cm voxels: the auto size (~3 cm here) makes open3d take ~40x longer for no benefit to these tests
    return fuse_capture(load_capture(tiny_room), FusionConfig(voxel_size=0.04, progress=False))


@pytest.fixture(scope="module")
def scene(tiny_room, fused, tmp_path_factory) -> QueryScene:
    capture = load_capture(tiny_room)
    field = make_field(seed=0, bounds=fused.bounds)
    session = QuerySession(field, HashTextEncoder(), config=CONFIG)
    train = tuple(f.name for i, f in enumerate(capture.frames) if i % 4)
    pyramid = PyramidConfig(num_levels=3, min_tile_fraction=0.2, max_tile_fraction=0.5)
    return QueryScene(session, capture, train, pyramid, tmp_path_factory.mktemp("features"), fused.points)


def test_camera_selection(scene):
    assert scene.camera("train:0").name == scene.capture.frames[1].name
    assert scene.camera("eval:1").name == scene.capture.frames[4].name
    named = scene.camera(scene.capture.frames[2].name)
    assert named.depth is not None and named.depth.shape == (72, 96)
    for bad in ("train:99", "nothing", "eval:x", "train:-1"):  # -1: not the last frame
        with pytest.raises(ValueError, match="--camera"):
            scene.camera(bad)


def test_query_writes_heat_maps(scene, tmp_path):
    out = query_view(scene, scene.camera("train:2"), ["oven", "chair"], tmp_path / "q")
    names = ["frame_00003_oven.png", "frame_00003_chair.png", "frame_00003_rgb.png"]
    assert [p.name for p in out.images] == names
    for path in out.images:
        assert np.asarray(Image.open(path)).shape == (72, 96, 3)
    summary = json.loads(out.summary.read_text())
    assert [p["phrase"] for p in summary["phrases"]] == ["oven", "chair"]
    assert not list((tmp_path / "q").glob(".*tmp*"))  # atomic writes leave no temporaries


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_render_orbit_video(scene, tmp_path, suffix):
    import imageio.v3 as iio

    path = render_orbit(scene, ["oven", "chair"], tmp_path / f"orbit{suffix}", num_frames=3, size=(40, 30),
                        fps=4)
    frames = iio.imread(path, index=None) if suffix == ".gif" else iio.imread(path, plugin="FFMPEG")
    assert frames.shape[0] == 3
    assert frames.shape[1:3] == (30, 80)  # two phrases side by side


def test_render_along_the_training_frames(scene, tmp_path):
    import imageio.v3 as iio

    train = scene.frames("train")
    cameras = path_cameras(scene, "frames", 2, (40, 30))
    assert [c.name for c in cameras] == [train[0].name, train[-1].name]  # first and last, in order
    for camera, frame in zip(cameras, (train[0], train[-1])):
        np.testing.assert_array_equal(camera.camera_to_world, frame.camera_to_world)
        assert camera.intrinsics == frame.intrinsics.scaled(40, 30) and camera.depth is None
    every = path_cameras(scene, "frames", 10 * len(train), (40, 30))
    assert [c.name for c in every] == [f.name for f in train]  # fewer frames than asked: each once
    path = render_video(scene, cameras, ["oven"], tmp_path / "frames.gif", fps=4)
    assert iio.imread(path, index=None).shape[:3] == (2, 30, 40)
    with pytest.raises(ValueError, match="only 'orbit' or 'frames'"):
        path_cameras(scene, "spiral", 2, (40, 30))


def test_export_round_trips_through_open3d_and_trimesh(scene, fused, tmp_path):
    import open3d as o3d
    import trimesh

    out = export_phrase(scene, "oven", tmp_path / "oven.ply")
    query = scene.session.point_query(fused.points.xyz)
    expected = query.query(["oven"])[0].values.numpy()
    n = len(fused.points.xyz)

    legacy = o3d.io.read_point_cloud(str(out.ply))
    np.testing.assert_allclose(np.asarray(legacy.points), fused.points.xyz, atol=1e-6)
    np.testing.assert_allclose(np.asarray(legacy.colors), fused.points.rgb, atol=1 / 255 + 1e-6)
    tensor = o3d.t.io.read_point_cloud(str(out.ply))
    np.testing.assert_allclose(tensor.point[PLY_RELEVANCY_PROPERTY].numpy().reshape(-1), expected, atol=1e-6)
    mesh = trimesh.load(out.ply)
    assert len(mesh.vertices) == n
    raw = mesh.metadata["_ply_raw"]["vertex"]["data"][PLY_RELEVANCY_PROPERTY]
    np.testing.assert_allclose(raw.reshape(-1), expected, atol=1e-6)

    box = json.loads(out.box_json.read_text())
    assert box["phrase"] == "oven" and box["max_relevancy"] == pytest.approx(expected.max(), abs=1e-6)
    assert box["num_points"] >= 1
    assert all(lo <= hi for lo, hi in zip(box["box_min"], box["box_max"]))


def test_evaluate_scene_runs_field_and_baselines(scene, tiny_room, tmp_path, capsys):
    truth = load_ground_truth(tiny_room)
    out = evaluate_scene(scene, truth, tmp_path / "eval.json", max_views=2)
    report = json.loads(out.json_path.read_text())
    methods = {s["method"] for s in report["scores"]}
    assert methods == {"lerf3d-field", "2d-pyramid", "point-fusion"}
    assert report["views"] == {"held_out": 2, "train": 2}
    splits = {s["split"] for s in report["scores"]}
    assert splits == {"held_out", "train"}
    assert all(0.0 <= s["iou"] <= 1.0 for s in report["scores"])
    printed = capsys.readouterr().out
    assert "| lerf3d-field | all |" in printed and "| point-fusion | all |" in printed
    labels = {s["phrase"] for s in report["scores"]}
    assert labels <= {o.label for o in truth.furniture}


def test_room_cameras_carry_the_measured_depth(scene):
    """Captured views are rendered around their measured depth (as in training): the rays carry it."""
    from lerf3d.query.camera import camera_rays_for

    camera = scene.camera("train:0")
    field = scene.session.field
    rays = camera_rays_for(camera, field.lower, field.upper)
    torch.testing.assert_close(rays.depth.reshape(72, 96), torch.as_tensor(camera.depth))
    assert replace(camera, depth=None).key != camera.key
