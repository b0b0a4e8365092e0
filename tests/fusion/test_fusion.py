"""TSDF fusion against the generated room's ground truth."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lerf3d.capture import load_capture, load_depth
from lerf3d.cli import main
from lerf3d.fusion import FusionConfig, fuse_capture, load_bounds, load_points, save_fusion


@pytest.fixture(scope="module")
def fused(tiny_room):
    capture = load_capture(tiny_room)
    return capture, fuse_capture(capture, FusionConfig(progress=False))


def _depth_points(capture) -> np.ndarray:
    """Ground-truth surface samples: every frame's rendered depth back-projected to the world."""
    out = []
    for frame in capture.frames:
        depth = load_depth(frame)
        intr = frame.intrinsics.scaled(depth.shape[1], depth.shape[0])
        v, u = np.nonzero(depth > 0)
        z = depth[v, u]
        cam = np.stack([(u + 0.5 - intr.cx) / intr.fx * z, (v + 0.5 - intr.cy) / intr.fy * z, z], 1)
        out.append(cam @ frame.camera_to_world[:3, :3].T + frame.camera_to_world[:3, 3])
    return np.concatenate(out)


def _nearest_distance(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return cKDTree(dst).query(src)[0]


def test_fused_surface_is_close_to_the_rendered_surface(fused):
    capture, result = fused
    truth = _depth_points(capture)
    accuracy = _nearest_distance(result.points.xyz, truth)  # fused -> truth
    completeness = _nearest_distance(truth[::7], result.points.xyz)  # truth -> fused
    # A TSDF surface sits within about one voxel of the measured surface (marching-cubes vertices lie
    # on voxel edges); both point sets are about one voxel apart (auto voxel = pixel footprint), so
    # nearest-neighbour distances include up to half that spacing.
    assert np.median(accuracy) < 1.0 * result.voxel_size
    assert np.percentile(accuracy, 95) < 2.0 * result.voxel_size
    assert np.median(completeness) < 1.0 * result.voxel_size


def _visible_pixels(room: Path, truth: dict) -> dict[int, int]:
    """Instance id -> number of mask pixels over all frames."""
    from PIL import Image

    counts: dict[int, int] = {}
    for entry in truth["frames"].values():
        ids, n = np.unique(np.asarray(Image.open(room / entry["mask_path"])), return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist()):
            counts[i] = counts.get(i, 0) + c
    return counts


def test_every_visible_object_box_contains_fused_points(fused, tiny_room):
    _, result = fused
    truth = json.loads((Path(tiny_room) / "ground_truth.json").read_text())
    visible = _visible_pixels(Path(tiny_room), truth)
    margin = 1.5 * result.voxel_size
    seen = [o for o in truth["objects"] if visible.get(o["instance_id"], 0) >= 50]
    assert len(seen) >= 5, f"the tiny room should show floor, walls and furniture, saw {len(seen)} instances"
    for obj in seen:
        lo, hi = np.array(obj["box_min"]) - margin, np.array(obj["box_max"]) + margin
        inside = np.all((result.points.xyz >= lo) & (result.points.xyz <= hi), axis=1).sum()
        assert inside >= 20, f"{obj['label']} (id {obj['instance_id']}): only {inside} fused points in its box"


def test_bounds_enclose_the_room(fused, tiny_room):
    _, result = fused
    room = json.loads((Path(tiny_room) / "ground_truth.json").read_text())
    floor = next(o for o in room["objects"] if o["label"] == "floor")
    # The floor's top face is z = 0 and spans the room: fused bounds must reach it within a voxel.
    assert abs(result.bounds.lower[2] - floor["box_max"][2]) < result.voxel_size
    assert result.bounds.lower[0] <= floor["box_min"][0] + 2 * result.voxel_size
    assert result.bounds.upper[1] >= floor["box_max"][1] - 2 * result.voxel_size


def test_save_and_load_round_trip(fused, tmp_path):
    _, result = fused
    files = save_fusion(result, tmp_path / "fusion")
    points = load_points(files.points_ply)
    np.testing.assert_allclose(points.xyz, result.points.xyz, atol=1e-5)
    np.testing.assert_allclose(points.rgb, result.points.rgb, atol=1 / 255)
    bounds = load_bounds(files.bounds_json)
    np.testing.assert_allclose(bounds.lower, result.bounds.lower)
    import trimesh

    mesh = trimesh.load(files.mesh_glb, force="mesh")
    assert len(mesh.faces) == len(result.faces)
    # Writes are atomic: no temporary files are left beside the outputs.
    assert sorted(p.name for p in (tmp_path / "fusion").iterdir()) == sorted(
        ["mesh.ply", "mesh.glb", "points.ply", "bounds.json"]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [({"voxel_size": -0.01}, "voxel_size"), ({"trunc_voxels": 0.5}, "trunc_voxels"), ({"frame_stride": 0}, "frame_stride")],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FusionConfig(**kwargs)


def test_capture_without_depth_is_rejected(tiny_room):
    capture = load_capture(tiny_room)
    no_depth = replace(capture, frames=tuple(replace(f, depth_path=None) for f in capture.frames))
    with pytest.raises(ValueError, match="needs depth"):
        fuse_capture(no_depth, FusionConfig(progress=False))


def test_cli_fuse_writes_outputs(tiny_room, tmp_path, capsys):
    assert main(["fuse", str(tiny_room), "--out", str(tmp_path / "out"), "--stride", "2"]) == 0
    printed = capsys.readouterr().out
    assert "fused 6 frames" in printed
    for name in ("mesh.ply", "mesh.glb", "points.ply", "bounds.json", "preview.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_cli_fuse_reports_bad_capture(tmp_path, capsys):
    (tmp_path / "transforms.json").write_text("{not json")
    assert main(["fuse", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "transforms.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
