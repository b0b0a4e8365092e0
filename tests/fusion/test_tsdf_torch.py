"""The PyTorch TSDF backend on an analytic scene (depth maps computed here from the pinhole model),
and backend selection when open3d is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from lerf3d.fusion import FusionConfig, fuse_capture
from lerf3d.fusion.tsdf import resolve_backend
from lerf3d.fusion.tsdf_torch import MAX_VOXELS, DenseTSDF, sample_surface
from lerf3d.geometry import look_at
from lerf3d.types import Capture, Frame, Intrinsics

WIDTH, HEIGHT, FOCAL = 64, 48, 50.0
PLANE_Z = 0.3
"""A horizontal plane, the floor of the scene, at this height (metres)."""
BOX = (np.array([-0.2, -0.2, PLANE_Z]), np.array([0.2, 0.2, PLANE_Z + 0.25]))
"""An axis-aligned box standing on it."""


def _ray_depth(pose: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """z-depth of the first hit of each pixel-centre ray with the plane or the box (slab method)."""
    u, v = np.meshgrid(np.arange(intr.width) + 0.5, np.arange(intr.height) + 0.5)
    rays_cam = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u)], -1)
    dirs = rays_cam @ pose[:3, :3].T  # world direction per unit camera z
    origin = pose[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_plane = np.where(dirs[..., 2] < 0, (PLANE_Z - origin[2]) / dirs[..., 2], np.inf)
        t0, t1 = (BOX[0] - origin) / dirs, (BOX[1] - origin) / dirs
    near = np.nanmax(np.minimum(t0, t1), axis=-1)
    far = np.nanmin(np.maximum(t0, t1), axis=-1)
    t_box = np.where((near <= far) & (near > 0), near, np.inf)
    return np.minimum(t_plane, t_box)  # the ray parameter is the camera z (dirs have camera z = 1)


@pytest.fixture(scope="module")
def box_scene(tmp_path_factory) -> Capture:
    folder = tmp_path_factory.mktemp("box_scene")
    intr = Intrinsics(FOCAL, FOCAL, WIDTH / 2, HEIGHT / 2, WIDTH, HEIGHT)
    frames = []
    for k, angle in enumerate(np.linspace(0, 2 * np.pi, 8, endpoint=False)):
        eye = np.array([1.2 * np.cos(angle), 1.2 * np.sin(angle), 1.4])
        pose = look_at(eye, np.array([0.0, 0.0, PLANE_Z]))
        depth = _ray_depth(pose, intr)
        depth_mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)
        Image.fromarray(depth_mm).save(folder / f"depth_{k}.png")
        colour = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        colour[..., 0] = 200  # the scene is uniformly red
        Image.fromarray(colour).save(folder / f"rgb_{k}.png")
        frames.append(Frame(f"f{k}", folder / f"rgb_{k}.png", folder / f"depth_{k}.png", intr, pose))
    return Capture(folder, tuple(frames), "synthetic")


@pytest.fixture(scope="module")
def fused_box(box_scene):
    return fuse_capture(box_scene, FusionConfig(voxel_size=0.02, backend="torch", progress=False))


def _distance_to_scene(points: np.ndarray) -> np.ndarray:
    """Distance of each point to the union of the plane (outside the box) and the box surface."""
    inside_xy = np.all((points[:, :2] >= BOX[0][:2]) & (points[:, :2] <= BOX[1][:2]), axis=1)
    to_plane = np.abs(points[:, 2] - PLANE_Z)
    outside = np.maximum(BOX[0] - points, 0) + np.maximum(points - BOX[1], 0)
    to_box_out = np.linalg.norm(outside, axis=1)
    to_box_in = np.min(np.concatenate([points - BOX[0], BOX[1] - points], axis=1), axis=1)
    to_box = np.where(to_box_out > 0, to_box_out, to_box_in)
    return np.where(inside_xy, to_box, np.minimum(to_plane, to_box))


def test_the_surface_lies_on_the_analytic_scene(fused_box):
    distance = _distance_to_scene(fused_box.vertices)
    assert np.median(distance) < 0.25 * fused_box.voxel_size
    assert np.percentile(distance, 95) < 1.0 * fused_box.voxel_size
    top = np.abs(fused_box.vertices[:, 2] - BOX[1][2]) < 0.005
    assert top.sum() > 50, "the box's top face is in the mesh"
    colours = fused_box.vertex_colors
    np.testing.assert_allclose(np.median(colours, axis=0), [200 / 255, 0, 0], atol=0.02)


def test_normals_point_into_free_space(fused_box):
    normals = fused_box.points.normals
    floor = (np.abs(fused_box.vertices[:, 2] - PLANE_Z) < 0.005) & (np.abs(fused_box.vertices[:, 0]) > 0.4)
    top = np.abs(fused_box.vertices[:, 2] - BOX[1][2]) < 0.005
    assert np.median(normals[floor, 2]) > 0.95 and np.median(normals[top, 2]) > 0.95
    side = (np.abs(fused_box.vertices[:, 0] - BOX[1][0]) < 0.005) & (fused_box.vertices[:, 2] > PLANE_Z + 0.05)
    assert np.median(normals[side, 0]) > 0.9


def test_unseen_space_adds_no_surface(fused_box):
    # Nothing was measured below the floor: a surface there would be the border of the unobserved
    # default, which the extraction must drop.
    # (the truncation band reaches 4 voxels below; grazing rays far out bias the plane by about one)
    assert fused_box.vertices[:, 2].min() > PLANE_Z - 2 * fused_box.voxel_size


def test_uniform_samples_cover_the_surface_by_area(fused_box):
    from lerf3d.fusion.tsdf_torch import DenseSurface

    surface = DenseSurface(fused_box.vertices, fused_box.faces, fused_box.vertex_colors, fused_box.points.normals)
    points = sample_surface(surface, per_m2=20000, minimum=10)
    distance = _distance_to_scene(points.xyz)
    assert np.percentile(distance, 95) < fused_box.voxel_size
    top = np.abs(points.xyz[:, 2] - BOX[1][2]) < 0.01
    expected = 0.4 * 0.4 * 20000  # the box top's area times the density
    assert 0.8 * expected < top.sum() < 1.25 * expected
    np.testing.assert_allclose(np.linalg.norm(points.normals, axis=1), 1, atol=1e-4)


def test_a_grid_past_the_memory_bound_is_refused():
    with pytest.raises(ValueError, match="larger voxel size"):
        DenseTSDF(np.zeros(3), np.full(3, 100.0), 0.01, 0.04)
    assert MAX_VOXELS > 256**3  # the default 256-across room fits


def test_auto_takes_torch_without_open3d(monkeypatch, box_scene):
    monkeypatch.setitem(sys.modules, "open3d", None)  # import open3d raises ImportError
    assert resolve_backend("auto") == "torch"
    with pytest.raises(ImportError, match="backend='torch'"):
        resolve_backend("open3d")
    result = fuse_capture(box_scene, FusionConfig(voxel_size=0.04, progress=False))
    assert len(result.faces) > 0


def test_bad_backend_is_rejected(tiny_room, tmp_path, capsys):
    from lerf3d_cli.main import main

    with pytest.raises(ValueError, match="backend"):
        FusionConfig(backend="vdb")
    assert main(["fuse", str(tiny_room), "--out", str(tmp_path / "out"), "--backend", "vdb"]) == 2
    assert "backend must be one of ('auto', 'open3d', 'torch'), got 'vdb'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fusion_matches_the_cpu(box_scene, fused_box):
    on_gpu = fuse_capture(box_scene, FusionConfig(voxel_size=0.02, backend="torch", device="cuda", progress=False))
    assert abs(len(on_gpu.vertices) - len(fused_box.vertices)) <= 0.01 * len(fused_box.vertices)
    assert np.median(_distance_to_scene(on_gpu.vertices)) < 0.25 * on_gpu.voxel_size


def test_a_run_trains_and_answers_without_open3d(monkeypatch, tiny_room, tmp_path, capsys):
    from lerf3d.fusion import load_points
    from lerf3d_cli.main import main

    monkeypatch.setitem(sys.modules, "open3d", None)
    run = tmp_path / "run"
    assert main(["train", str(tiny_room), "--out", str(run), "--preset", "tiny", "--steps", "2", "--no-objects",
                 "--set", "logging.progress=false"]) == 0
    points = load_points(run / "fusion" / "points.ply")
    assert len(points.xyz) > 1000 and points.normals is not None
    assert main(["query", str(run), "chair", "--camera", "eval:0", "--out", str(tmp_path / "q")]) == 0
    assert "chair" in (tmp_path / "q" / "frame_00000_query.json").read_text()


def test_the_backend_is_recorded_and_printed(box_scene, tiny_room, tmp_path, capsys):
    import json

    from lerf3d.fusion import save_fusion
    from lerf3d_cli.main import main

    result = fuse_capture(box_scene, FusionConfig(voxel_size=0.04, backend="torch", progress=False))
    assert result.backend == "torch:cpu"
    files = save_fusion(result, tmp_path / "fusion")
    assert json.loads(files.bounds_json.read_text())["backend"] == "torch:cpu"
    assert main(["fuse", str(tiny_room), "--out", str(tmp_path / "cli"), "--backend", "torch", "--stride", "4",
                 "--voxel-size", "0.05"]) == 0
    assert "(torch:cpu TSDF)" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli" / "bounds.json").read_text())["backend"] == "torch:cpu"
