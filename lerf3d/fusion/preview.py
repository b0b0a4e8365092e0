"""Quick previews of a fused point set: a z-buffered point splat from any pinhole camera."""

from __future__ import annotations

import numpy as np

from lerf3d.geometry import look_at, project
from lerf3d.types import Intrinsics, PointSet, SceneBounds


def splat_points(
    points: PointSet, intrinsics: Intrinsics, camera_to_world: np.ndarray, radius: int = 1
) -> np.ndarray:
    """Render ``points`` as (H, W, 3) uint8 from an OpenCV camera; nearest point wins, grey background.

    Points whose normal faces away from the camera are culled, so a room seen from outside shows its
    inside through the near walls (TSDF normals point out of the surface, into free space).
    """
    import torch

    # float64 points: the projection keeps the precision of the float64 pose
    projection = project(torch.from_numpy(np.asarray(points.xyz, dtype=np.float64)), camera_to_world, intrinsics)
    front = projection.in_front.numpy()
    if points.normals is not None:
        to_camera = camera_to_world[:3, 3] - points.xyz
        front &= np.einsum("nd,nd->n", points.normals, to_camera) > 0
    u, v = np.floor(projection.pixels.numpy()[front]).astype(np.int64).T
    z, rgb = projection.depth.numpy()[front], points.rgb[front]
    h, w = intrinsics.height, intrinsics.width
    image = np.full((h, w, 3), 0.25, np.float32)
    # The z-buffer is the order: far to near, so later writes (nearer points) overwrite earlier ones.
    order = np.argsort(-z)
    for du in range(-radius + 1, radius):
        for dv in range(-radius + 1, radius):
            uu, vv = u[order] + du, v[order] + dv
            ok = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
            idx = order[ok]
            image[vv[ok], uu[ok]] = rgb[idx]
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def overview_camera(bounds: SceneBounds, width: int = 640, height: int = 480) -> tuple[Intrinsics, np.ndarray]:
    """A camera above one corner of the bounds looking down at the centre (world Z up)."""
    center, extent = bounds.center, bounds.extent
    eye = center + np.array([-0.9 * extent[0], -0.9 * extent[1], 1.2 * max(extent[2], 0.5 * extent[:2].max())])
    pose = look_at(eye, center)
    f = 0.8 * width
    return Intrinsics(f, f, width / 2, height / 2, width, height), pose
