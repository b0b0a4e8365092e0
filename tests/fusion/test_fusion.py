"""TSDF fusion against the generated room's ground truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lerf3d.capture import load_capture
from lerf3d.fusion import FusionConfig, fuse_capture, load_bounds, load_points, save_fusion
from lerf3d.fusion.evaluate import evaluate_fusion
from lerf3d.ground_truth import load_ground_truth
from lerf3d_cli.main import main


@pytest.fixture(scope="module", params=["open3d", "torch"])
def fused(request, tiny_room):
    """Both backends meet the same ground-truth checks."""
    capture = load_capture(tiny_room)
    return capture, fuse_capture(capture, FusionConfig(progress=False, backend=request.param))


@pytest.fixture(scope="module")
def report(fused, tiny_room):
    capture, result = fused
    return evaluate_fusion(result, capture, load_ground_truth(tiny_room))


def test_fused_surface_is_close_to_the_rendered_surface(fused, report):
    voxel = fused[1].voxel_size
    # A TSDF surface sits within about one voxel of the measured surface (marching-cubes vertices lie
    # on voxel edges); both point sets are about one voxel apart (auto voxel = pixel footprint), so
    # nearest-neighbour distances include up to half that spacing.
    assert report.accuracy_median < 1.0 * voxel
    assert report.accuracy_p95 < 2.0 * voxel
    assert report.completeness_median < 1.0 * voxel


def test_every_visible_object_box_contains_fused_points(report):
    assert len(report.objects_seen) >= 5, f"the tiny room should show floor, walls and furniture: {report.objects_seen}"
    assert "floor" in report.objects_seen
    assert report.objects_missing == ()


def test_an_object_absent_from_the_surface_is_reported_missing(fused, tiny_room):
    capture, result = fused
    truth = load_ground_truth(tiny_room)
    # Move every furniture box 20 m away: the report must notice the fused surface is not there.
    moved = [replace(o, box_min=o.box_min + 20, box_max=o.box_max + 20) if not o.is_structure else o for o in truth.objects]
    report = evaluate_fusion(result, capture, replace(truth, objects=tuple(moved)))
    assert set(report.objects_missing) == {o.label for o in truth.furniture} & set(report.objects_seen)


def test_bounds_enclose_the_room(fused, tiny_room):
    _, result = fused
    floor = next(o for o in load_ground_truth(tiny_room).objects if o.label == "floor")
    # The floor's top face is z = 0 and spans the room: fused bounds must reach it within a voxel.
    assert abs(result.bounds.lower[2] - floor.box_max[2]) < result.voxel_size
    assert result.bounds.lower[0] <= floor.box_min[0] + 2 * result.voxel_size
    assert result.bounds.upper[1] >= floor.box_max[1] - 2 * result.voxel_size


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
    assert "fused 6 of 12 frames" in printed
    for name in ("mesh.ply", "mesh.glb", "points.ply", "bounds.json", "preview.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_cli_fuse_reports_bad_capture(tmp_path, capsys):
    (tmp_path / "transforms.json").write_text("{not json")
    assert main(["fuse", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "transforms.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
