"""Camera geometry, written once: conventions, frames, pinhole projection, depth-tested visibility, z-buffers,
back-projection of depth maps and ``look_at``.

Conventions (also stated in :mod:`lerf3d.types`): a Z-up world in metres; OpenCV cameras (x right,
y down, z forward); ``camera_to_world`` is a 4x4 with ``p_w = T @ p_c``; depth is the distance
along the camera z axis, 0 meaning "no measurement"; pixel (col, row) covers
[col, col + 1) x [row, row + 1), so its centre is at + 0.5 and the image is [0, W) x [0, H).

OpenGL/nerfstudio/ARKit cameras look down -z with y up. The same camera in the other convention is
``T_cv = T_gl @ diag(1, -1, -1, 1)``; that diagonal is its own inverse, so one product converts
both ways.

Pure functions; the numpy ones serve poses and depth maps (float64), the torch ones point clouds.
torch is imported inside the torch functions: the capture readers use the pose conventions, and
reading a capture (or building the command line) must not pay for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import Bool, Float, Int

from lerf3d.types import Intrinsics

if TYPE_CHECKING:
    import torch

PIXEL_CENTRE = 0.5
"""Pixel (i, j) covers [i, i + 1) x [j, j + 1); its centre is at + 0.5 (types.Intrinsics)."""
WORLD_UP = np.array([0.0, 0.0, 1.0])
"""lerf3d worlds are Z-up."""
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
"""Right-multiply an OpenGL camera-to-world by this to get the OpenCV one (and back again)."""
NEAR_M = 1e-3
"""Points closer to the camera plane than this are not projected (division by ~0)."""
DEPTH_TOLERANCE_M = 0.05
"""Absolute part of the visibility test |z_point - depth(pixel)| <= tol. About two fusion voxels of a
room-scale TSDF (AUTO_VOXELS_ACROSS = 256 over ~5 m): a fused vertex can sit that far off the
measured surface."""
DEPTH_TOLERANCE_REL = 0.02
"""Relative part of the tolerance (times the measured depth): consumer depth noise grows with
range, about 1-2 % for RealSense/Kinect-class sensors."""
LOOK_AT_PARALLEL_EPS = 1e-6
"""``look_at`` refuses a viewing direction whose cross product with ``up`` is shorter than this
(unit vectors: within ~0.06 milliradians of parallel), where the roll is undefined."""


# --- conventions and poses (numpy, float64) ---------------------------------------------------


def opengl_to_opencv(camera_to_world: np.ndarray) -> np.ndarray:
    """A (4, 4) OpenGL camera-to-world as the OpenCV one (y and z axes flipped)."""
    return np.asarray(camera_to_world, dtype=np.float64) @ OPENGL_TO_OPENCV


def opencv_to_opengl(camera_to_world: np.ndarray) -> np.ndarray:
    """A (4, 4) OpenCV camera-to-world as the OpenGL (nerfstudio, three.js) one."""
    return np.asarray(camera_to_world, dtype=np.float64) @ OPENGL_TO_OPENCV  # the flip is an involution


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = WORLD_UP) -> np.ndarray:
    """(4, 4) OpenCV camera-to-world of a camera at ``eye`` looking at ``target``, no roll (world
    ``up`` points up in the image).

    Raises ValueError when the viewing direction is parallel to ``up`` (the roll is undefined).
    """
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    norm = np.linalg.norm(right)
    if norm < LOOK_AT_PARALLEL_EPS:
        raise ValueError(f"look_at: viewing direction {forward} is parallel to up {up}")
    right /= norm
    down = np.cross(forward, right)  # OpenCV y points down the image
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


# --- depth maps -> points (numpy) -------------------------------------------------------------


def pixel_rays(intrinsics: Intrinsics) -> np.ndarray:
    """(H, W, 3) camera-frame directions through pixel centres, scaled so that z = 1."""
    cols = np.arange(intrinsics.width) + PIXEL_CENTRE
    rows = np.arange(intrinsics.height) + PIXEL_CENTRE
    u, v = np.meshgrid(cols, rows)
    x = (u - intrinsics.cx) / intrinsics.fx
    y = (v - intrinsics.cy) / intrinsics.fy
    return np.stack([x, y, np.ones_like(x)], axis=-1)


def backproject_depth(depth: np.ndarray, intrinsics: Intrinsics, camera_to_world: np.ndarray) -> np.ndarray:
    """(H, W, 3) world points of a z-depth map (metres); pixels with depth 0 give NaN."""
    rays = pixel_rays(intrinsics)
    points_cam = rays * depth[..., None]
    pose = np.asarray(camera_to_world, dtype=np.float64)
    points = points_cam @ pose[:3, :3].T + pose[:3, 3]
    points[depth <= 0] = np.nan
    return points


# --- frames and projection (torch) ------------------------------------------------------------


def pose64(camera_to_world: torch.Tensor | np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """The pose as a (4, 4) float64 tensor: poses are stored in float64 (``Frame``) and far-from-origin
    translations lose millimetres in float32."""
    import torch

    if isinstance(camera_to_world, np.ndarray):
        # a copy: Frame stores read-only arrays, which torch refuses to wrap without a warning
        camera_to_world = torch.from_numpy(np.array(camera_to_world, dtype=np.float64))
    pose = camera_to_world.to(device=device, dtype=torch.float64)
    if pose.shape != (4, 4):
        raise ValueError(f"camera_to_world must be (4, 4), got {tuple(pose.shape)}")
    return pose


def to_camera_frame(
    xyz: Float[torch.Tensor, "N 3"], camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray
) -> Float[torch.Tensor, "N 3"]:
    """World points in the OpenCV frame of the camera with pose ``camera_to_world``.

    Uses the rigid inverse R^T (p - t) rather than a general matrix inverse: exact for a rotation
    and no worse conditioned than the pose itself.
    """
    pose = pose64(camera_to_world, xyz.device)
    rotation, translation = pose[:3, :3], pose[:3, 3]
    return ((xyz.double() - translation) @ rotation).to(xyz.dtype)  # row form of R^T (p - t)


def to_world_frame(
    xyz_cam: Float[torch.Tensor, "N 3"], camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray
) -> Float[torch.Tensor, "N 3"]:
    """Inverse of ``to_camera_frame``: p_w = R p_c + t."""
    pose = pose64(camera_to_world, xyz_cam.device)
    return (xyz_cam.double() @ pose[:3, :3].T + pose[:3, 3]).to(xyz_cam.dtype)


@dataclass(frozen=True, eq=False)
class Projection:
    """Where points land in one image."""

    pixels: Float[torch.Tensor, "N 2"]
    """(x, y) in pixels, pixel-centre convention (pixel column j spans [j, j + 1)); meaningless
    where ``in_front`` is False."""
    depth: Float[torch.Tensor, " N"]
    """Camera-frame z of each point, metres."""
    in_front: Bool[torch.Tensor, " N"]
    """Within the depth range (beyond the near plane and, when given, not past the far one)."""
    in_view: Bool[torch.Tensor, " N"]
    """In front and inside the image [0, W) x [0, H)."""


def project_camera_points(
    xyz_cam: Float[torch.Tensor, "N 3"], intrinsics: Intrinsics, near: float = NEAR_M, far: float | None = None
) -> Projection:
    """Pinhole projection of camera-frame points: ``u = fx x / z + cx``, ``v = fy y / z + cy``."""
    import torch

    if not near > 0:
        raise ValueError(f"near must be > 0 (points at z <= 0 cannot be projected), got {near}")
    z = xyz_cam[:, 2]
    front = z > near
    if far is not None:
        front &= z <= far
    safe_z = torch.where(front, z, torch.ones_like(z))
    u = intrinsics.fx * xyz_cam[:, 0] / safe_z + intrinsics.cx
    v = intrinsics.fy * xyz_cam[:, 1] / safe_z + intrinsics.cy
    inside = (u >= 0) & (u < intrinsics.width) & (v >= 0) & (v < intrinsics.height)
    return Projection(torch.stack([u, v], dim=1), z, front, front & inside)


def project(
    xyz: Float[torch.Tensor, "N 3"], camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray,
    intrinsics: Intrinsics, near: float = NEAR_M,
) -> Projection:
    """Project world points through a pinhole camera (OpenCV frame)."""
    return project_camera_points(to_camera_frame(xyz, camera_to_world), intrinsics, near)


def frustum_mask(
    xyz_cam: Float[torch.Tensor, "N 3"], intrinsics: Intrinsics, near: float = NEAR_M, far: float | None = None
) -> Bool[torch.Tensor, " N"]:
    """Camera-frame points in front of the camera, within ``(near, far]`` and inside the image."""
    return project_camera_points(xyz_cam, intrinsics, near, far).in_view


def depth_test(
    projection: Projection,
    depth: Float[torch.Tensor, "H W"],
    tolerance_m: float = DEPTH_TOLERANCE_M,
    tolerance_rel: float = DEPTH_TOLERANCE_REL,
) -> Bool[torch.Tensor, " N"]:
    """Projected points that are the surface the depth map measured: in view, and the depth at their
    pixel (nearest; ``projection`` must be at the depth map's resolution) agrees with theirs within
    ``tolerance_m + tolerance_rel * measured``. No measurement (0) hides a point."""
    height, width = depth.shape
    cols = projection.pixels[:, 0].floor().long().clamp(0, width - 1)
    rows = projection.pixels[:, 1].floor().long().clamp(0, height - 1)
    measured = depth.to(projection.depth.dtype)[rows, cols]  # (N,)
    tolerance = tolerance_m + tolerance_rel * measured
    return projection.in_view & (measured > 0) & ((projection.depth - measured).abs() <= tolerance)


def visible_mask(
    xyz: Float[torch.Tensor, "N 3"],
    camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray,
    intrinsics: Intrinsics,
    depth: Float[torch.Tensor, "Hd Wd"],
    tolerance_m: float = DEPTH_TOLERANCE_M,
    tolerance_rel: float = DEPTH_TOLERANCE_REL,
) -> Bool[torch.Tensor, " N"]:
    """World points that are the surface a camera's depth map measured (:func:`depth_test`); the
    intrinsics are those of the image and are rescaled to the depth map's resolution."""
    height, width = depth.shape
    projection = project(xyz, camera_to_world, intrinsics.scaled(width, height))
    return depth_test(projection, depth, tolerance_m, tolerance_rel)


def zbuffer(
    projection: Projection, height: int, width: int, radius: int = 0, keep: Bool[torch.Tensor, " N"] | None = None
) -> Int[torch.Tensor, "HW"]:
    """Index of the nearest point covering each pixel of an (height, width) image, row-major; -1 where
    none does. Every point in front of the camera (and in ``keep``, when given) covers the
    (2 ``radius`` + 1)^2 pixels around the one it lands in, so a point set a little sparser than the
    pixels leaves no holes; where footprints overlap the smallest camera z wins."""
    import torch

    if radius < 0:
        raise ValueError(f"radius must be >= 0 pixels, got {radius}")
    col, row = projection.pixels.floor().long().unbind(-1)
    drawn = projection.in_front if keep is None else projection.in_front & keep
    ids = torch.arange(len(col), device=col.device)
    pixel_list, depth_list, id_list = [], [], []
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = row + dr, col + dc
            ok = drawn & (r >= 0) & (r < height) & (c >= 0) & (c < width)
            pixel_list.append(r[ok] * width + c[ok])
            depth_list.append(projection.depth[ok])
            id_list.append(ids[ok])
    pixel, depth, point = torch.cat(pixel_list), torch.cat(depth_list), torch.cat(id_list)
    nearest = torch.full((height * width,), float("inf"), dtype=depth.dtype, device=depth.device)
    nearest = nearest.scatter_reduce(0, pixel, depth, "amin")
    wins = depth <= nearest[pixel]
    out = torch.full((height * width,), -1, dtype=torch.long, device=depth.device)
    return out.scatter(0, pixel[wins], point[wins])


def seen_points(
    xyz: Float[torch.Tensor, "N 3"],
    camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray,
    intrinsics: Intrinsics,
    max_side: int = 320,
    radius: int = 1,
    tolerance_m: float = DEPTH_TOLERANCE_M,
    tolerance_rel: float = DEPTH_TOLERANCE_REL,
) -> Bool[torch.Tensor, " N"]:
    """Points of a cloud that a camera which measured no depth would see: the cloud's own z-buffer
    (:func:`zbuffer`, at most ``max_side`` pixels on the long side, each point splatted over
    ``radius`` pixels around its own) stands in for the depth map of :func:`depth_test`, so a point
    counts as seen when it lies on the nearest surface at its pixel."""
    import torch

    scale = min(1.0, max_side / max(intrinsics.width, intrinsics.height))
    width, height = max(1, round(intrinsics.width * scale)), max(1, round(intrinsics.height * scale))
    projection = project(xyz, camera_to_world, intrinsics.scaled(width, height))
    nearest = zbuffer(projection, height, width, radius)
    depth = torch.zeros(height * width, dtype=projection.depth.dtype, device=projection.depth.device)
    hit = nearest >= 0
    depth[hit] = projection.depth[nearest[hit]]
    return depth_test(projection, depth.reshape(height, width), tolerance_m, tolerance_rel)


def pixel_centres(height: int, width: int, out_height: int, out_width: int) -> Float[torch.Tensor, "N 2"]:
    """(x, y) of every pixel centre of an (height, width) image, row-major, in the coordinates of an
    (out_height, out_width) image of the same view."""
    import torch

    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    x = (cols.reshape(-1) + PIXEL_CENTRE) * (out_width / width)
    y = (rows.reshape(-1) + PIXEL_CENTRE) * (out_height / height)
    return torch.stack([x, y], dim=-1).float()  # (H*W, 2)
