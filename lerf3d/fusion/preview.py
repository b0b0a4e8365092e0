"""Quick previews of a fused point set: a z-buffered point splat from any pinhole camera."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lerf3d.atomic import atomic_path
from lerf3d.geometry import look_at, project, zbuffer
from lerf3d.types import Intrinsics, PointSet, SceneBounds

if TYPE_CHECKING:
    from lerf3d.fusion.tsdf import FusionResult


def splat_points(
    points: PointSet, intrinsics: Intrinsics, camera_to_world: np.ndarray, radius: int = 1
) -> np.ndarray:
    """Render ``points`` as (H, W, 3) uint8 from an OpenCV camera; nearest point wins, grey background.

    Each point covers a (2 ``radius`` - 1)^2 square of pixels (1: its own pixel). Points whose normal faces away from the camera are culled, so a room seen from outside shows its
    inside through the near walls (TSDF normals point out of the surface, into free space).
    """
    import torch

    if radius < 1:
        raise ValueError(f"radius must be >= 1 (1: each point covers one pixel), got {radius}")
    # float64 points: the projection keeps the precision of the float64 pose
    projection = project(torch.from_numpy(np.asarray(points.xyz, dtype=np.float64)), camera_to_world, intrinsics)
    keep = None
    if points.normals is not None:
        to_camera = camera_to_world[:3, 3] - points.xyz
        keep = torch.from_numpy(np.einsum("nd,nd->n", points.normals, to_camera) > 0)
    h, w = intrinsics.height, intrinsics.width
    index = zbuffer(projection, h, w, radius - 1, keep).numpy().reshape(h, w)
    image = np.where((index >= 0)[..., None], points.rgb[np.maximum(index, 0)], np.float32(0.25))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def overview_camera(bounds: SceneBounds, width: int = 640, height: int = 480) -> tuple[Intrinsics, np.ndarray]:
    """A camera above one corner of the bounds looking down at the centre (world Z up)."""
    center, extent = bounds.center, bounds.extent
    eye = center + np.array([-0.9 * extent[0], -0.9 * extent[1], 1.2 * max(extent[2], 0.5 * extent[:2].max())])
    pose = look_at(eye, center)
    f = 0.8 * width
    return Intrinsics(f, f, width / 2, height / 2, width, height), pose


PREVIEW_NAME = "preview.png"
"""File name of the fused points' overview picture in a fusion output folder."""


def write_preview(result: FusionResult, folder: str | Path) -> Path:
    """``folder/preview.png``: the fused points splatted from :func:`overview_camera`, written to a
    temporary name and renamed (no half-written picture on a crash)."""
    from PIL import Image

    intrinsics, pose = overview_camera(result.bounds)
    path = Path(folder) / PREVIEW_NAME
    with atomic_path(path) as tmp:
        Image.fromarray(splat_points(result.points, intrinsics, pose, radius=2)).save(tmp)
    return path
