"""The fused-point preview: a z-buffered splat through lerf3d.geometry's projection, by hand."""

from __future__ import annotations

import numpy as np
import torch

from lerf3d.fusion.preview import overview_camera, splat_points
from lerf3d.geometry import project
from lerf3d.types import Intrinsics, PointSet, SceneBounds

K = Intrinsics(10.0, 10.0, 5.0, 4.0, 10, 8)
"""f = 10 px, principal point (5, 4) on a 10 x 8 image: (x, y, z) lands on (10 x / z + 5, 10 y / z + 4)."""
RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _points(xyz, rgb, normals=None) -> PointSet:
    return PointSet(np.array(xyz, np.float32), np.array(rgb, np.float32),
                    None if normals is None else np.array(normals, np.float32))


def test_splat_lands_where_the_pinhole_says_and_the_nearest_point_wins():
    # (0.25, 0, 1) -> u = 7.5, v = 4 (column 7, row 4); two points on the ray of pixel (2, 6): the
    # nearer (z = 1) must win whatever the order; a point behind the camera is not drawn.
    points = _points([[0.25, 0.0, 1.0], [-0.25, 0.2, 1.0], [-0.5, 0.4, 2.0], [0.0, 0.0, -1.0]],
                     [RED, GREEN, BLUE, BLUE])
    image = splat_points(points, K, np.eye(4))
    assert image.shape == (8, 10, 3)
    assert tuple(image[4, 7]) == (255, 0, 0)
    assert tuple(image[6, 2]) == (0, 255, 0)
    background = np.ones((8, 10), bool)
    background[4, 7] = background[6, 2] = False
    assert (image[background] == int(0.25 * 255)).all()  # the grey background everywhere else


def test_splat_radius_covers_the_neighbours_and_culls_backfaces():
    points = _points([[0.0, 0.0, 1.0]], [RED])
    wide = splat_points(points, K, np.eye(4), radius=2)
    covered = (wide == (255, 0, 0)).all(-1)
    assert covered[3:6, 4:7].all() and covered.sum() == 9  # 3 x 3 around pixel (5, 4)
    # a far point's footprint never covers a nearer point: the nearer one wins its pixel whatever the order
    near_and_far = _points([[0.0, 0.0, 1.0], [0.2, 0.0, 2.0]], [RED, GREEN])  # pixels (5, 4) and (6, 4)
    image = splat_points(near_and_far, K, np.eye(4), radius=2)
    assert tuple(image[4, 5]) == (255, 0, 0) and tuple(image[4, 6]) == (255, 0, 0)
    assert tuple(image[4, 7]) == (0, 255, 0)  # the far point's footprint beyond the near one's
    facing_away = _points([[0.0, 0.0, 1.0]], [RED], normals=[[0.0, 0.0, 1.0]])  # points away from the camera
    assert not (splat_points(facing_away, K, np.eye(4)) == (255, 0, 0)).all(-1).any()
    facing = _points([[0.0, 0.0, 1.0]], [RED], normals=[[0.0, 0.0, -1.0]])
    assert tuple(splat_points(facing, K, np.eye(4))[4, 5]) == (255, 0, 0)


def test_overview_camera_looks_at_the_centre_from_above_a_corner():
    bounds = SceneBounds(np.array([0.0, 0.0, 0.0]), np.array([4.0, 2.0, 1.0]))
    intrinsics, pose = overview_camera(bounds, 64, 48)
    assert (intrinsics.width, intrinsics.height, intrinsics.cx, intrinsics.cy) == (64, 48, 32.0, 24.0)
    eye = pose[:3, 3]
    np.testing.assert_allclose(eye, [2.0 - 3.6, 1.0 - 1.8, 0.5 + 2.4])
    forward = pose[:3, 2]
    np.testing.assert_allclose(forward, (bounds.center - eye) / np.linalg.norm(bounds.center - eye))
    np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-12)
    centre = project(torch.from_numpy(bounds.center[None]), pose, intrinsics).pixels[0]
    np.testing.assert_allclose(centre.numpy(), [32.0, 24.0], atol=1e-9)  # the centre lands on the principal point
    # which of the four pixels meeting there it is drawn in is rounding (23.999... or 24.0): one of them
    centre_image = splat_points(_points([bounds.center], [RED]), intrinsics, pose)
    assert (centre_image[23:25, 31:33] == (255, 0, 0)).all(-1).sum() == 1
