"""Quick previews of a fused point set: a z-buffered point splat from any pinhole camera."""

from __future__ import annotations

import numpy as np

from lerf3d.types import Intrinsics, PointSet, SceneBounds


def splat_points(
    points: PointSet, intrinsics: Intrinsics, camera_to_world: np.ndarray, radius: int = 1
) -> np.ndarray:
    """Render ``points`` as (H, W, 3) uint8 from an OpenCV camera; nearest point wins, grey background.

    Points whose normal faces away from the camera are culled, so a room seen from outside shows its
    inside through the near walls (TSDF normals point out of the surface, into free space).
    """
    world_to_cam = np.linalg.inv(camera_to_world)
    cam = points.xyz @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]  # (N, 3)
    front = cam[:, 2] > 1e-3
    if points.normals is not None:
        to_camera = camera_to_world[:3, 3] - points.xyz
        front &= np.einsum("nd,nd->n", points.normals, to_camera) > 0
    cam, rgb = cam[front], points.rgb[front]
    u = np.floor(cam[:, 0] / cam[:, 2] * intrinsics.fx + intrinsics.cx).astype(np.int64)
    v = np.floor(cam[:, 1] / cam[:, 2] * intrinsics.fy + intrinsics.cy).astype(np.int64)
    h, w = intrinsics.height, intrinsics.width
    image = np.full((h, w, 3), 0.25, np.float32)
    zbuf = np.full((h, w), np.inf, np.float32)
    # Far-to-near order: later writes (nearer points) overwrite earlier ones in fancy assignment.
    order = np.argsort(-cam[:, 2])
    for du in range(-radius + 1, radius):
        for dv in range(-radius + 1, radius):
            uu, vv = u[order] + du, v[order] + dv
            ok = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
            idx = order[ok]
            image[vv[ok], uu[ok]] = rgb[idx]
            zbuf[vv[ok], uu[ok]] = np.minimum(zbuf[vv[ok], uu[ok]], cam[idx, 2])
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def overview_camera(bounds: SceneBounds, width: int = 640, height: int = 480) -> tuple[Intrinsics, np.ndarray]:
    """A camera above one corner of the bounds looking down at the centre (world Z up)."""
    center, extent = bounds.center, bounds.extent
    eye = center + np.array([-0.9 * extent[0], -0.9 * extent[1], 1.2 * max(extent[2], 0.5 * extent[:2].max())])
    forward = center - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    f = 0.8 * width
    return Intrinsics(f, f, width / 2, height / 2, width, height), pose
