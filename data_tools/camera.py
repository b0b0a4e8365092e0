"""Camera maths for the room renderer: OpenGL matrices for pybullet, depth decoding (poses,
``look_at`` and back-projection are :mod:`lerf3d.geometry`'s).

Pure numpy. Conventions are lerf3d's (see :mod:`lerf3d.types`): Z-up world in metres, OpenCV camera
(x right, y down, z forward), ``camera_to_world`` 4x4, depth = distance along the camera z axis.

pybullet's renderers take OpenGL matrices: a view matrix (world -> OpenGL camera, which looks down
-z with y up) and a projection matrix, both flattened column-major. We build both from our own
intrinsics and pose instead of using ``computeViewMatrix``/``computeProjectionMatrixFOV``, so the
poses and intrinsics written to ``transforms.json`` are exactly the ones that produced the pixels.
"""

from __future__ import annotations

import math

import numpy as np

from lerf3d.geometry import opencv_to_opengl
from lerf3d.types import Intrinsics

TINY_RENDERER_SAMPLE_OFFSET = (-0.5, 0.5)
"""Where pybullet's ER_TINY_RENDERER samples pixel (col, row), relative to the pixel centre, in
top-down image coordinates: it rasterises at integer coordinates of a y-up framebuffer and flips
the image, so pixel (col, row) is the ray through (col, row + 1), i.e. (centre - 0.5, centre + 0.5).
Measured with sub-pixel edges (``tests/data_tools/test_camera.py``); we shift the principal point by
the opposite amount so that every pixel is the ray through its centre, as lerf3d's intrinsics
convention (``cx = W / 2`` is the image centre) assumes."""


def intrinsics_from_fov(width: int, height: int, horizontal_fov_deg: float) -> Intrinsics:
    """Square-pixel pinhole intrinsics with the principal point at the image centre."""
    if not 1.0 < horizontal_fov_deg < 179.0:
        raise ValueError(f"horizontal field of view must be in (1, 179) degrees, got {horizontal_fov_deg}")
    focal = (width / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
    return Intrinsics(fx=focal, fy=focal, cx=width / 2.0, cy=height / 2.0, width=width, height=height)


def opengl_view_matrix(camera_to_world: np.ndarray) -> np.ndarray:
    """(4, 4) world -> OpenGL camera matrix of an OpenCV camera-to-world pose."""
    return np.linalg.inv(opencv_to_opengl(camera_to_world))


def opengl_projection_matrix(
    intrinsics: Intrinsics, near: float, far: float, sample_offset: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """(4, 4) OpenGL projection reproducing ``u = fx x/z + cx``, ``v = fy y/z + cy`` (OpenCV camera).

    ``sample_offset`` is where the rasteriser samples a pixel relative to its centre (top-down
    coordinates); the principal point is shifted by the opposite amount to compensate.
    """
    w, h = intrinsics.width, intrinsics.height
    cx = intrinsics.cx + sample_offset[0]
    cy = intrinsics.cy + sample_offset[1]
    proj = np.zeros((4, 4))
    proj[0, 0] = 2.0 * intrinsics.fx / w
    proj[0, 2] = 1.0 - 2.0 * cx / w
    proj[1, 1] = 2.0 * intrinsics.fy / h
    proj[1, 2] = 2.0 * cy / h - 1.0
    proj[2, 2] = -(far + near) / (far - near)
    proj[2, 3] = -2.0 * far * near / (far - near)
    proj[3, 2] = -1.0
    return proj


def to_pybullet(matrix: np.ndarray) -> list[float]:
    """A 4x4 matrix as the flat column-major list pybullet's ``getCameraImage`` expects."""
    return [float(v) for v in np.asarray(matrix, dtype=np.float64).T.reshape(16)]  # (16,)


def depth_from_zbuffer(zbuffer: np.ndarray, near: float, far: float) -> np.ndarray:
    """Metric z-depth of an OpenGL depth buffer in [0, 1] (pybullet returns this nonlinear value).

    Inverts the projection's depth row: ``d = (1 + z_ndc) / 2`` with
    ``z_ndc = (f + n)/(f - n) - 2 f n / ((f - n) z)``, giving ``z = f n / (f - (f - n) d)``.
    """
    zbuffer = np.asarray(zbuffer, dtype=np.float64)
    return far * near / (far - (far - near) * zbuffer)
