"""Camera geometry against hand-computed cases: conventions, look_at, frames, projection, the depth
test, back-projection and the z-buffer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerf3d.geometry import (
    DEPTH_TOLERANCE_M,
    DEPTH_TOLERANCE_REL,
    OPENGL_TO_OPENCV,
    backproject_depth,
    depth_test,
    frustum_mask,
    look_at,
    opencv_to_opengl,
    opengl_to_opencv,
    pixel_centres,
    project,
    project_camera_points,
    seen_points,
    to_camera_frame,
    to_world_frame,
    visible_mask,
    zbuffer,
)
from lerf3d.types import Intrinsics

# camera at (1, 2, 3) looking along world +x: camera z (forward) = world x, camera x (right) =
# world -y, camera y (down) = world -z
ALONG_X = np.array([[0, 0, 1, 1], [-1, 0, 0, 2], [0, -1, 0, 3], [0, 0, 0, 1]], dtype=np.float64)


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_convention_flip_is_a_rotation_and_its_own_inverse():
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(opengl_to_opencv(opengl_to_opencv(pose)), pose)
    np.testing.assert_array_equal(opencv_to_opengl(opengl_to_opencv(pose)), pose)
    assert np.linalg.det(OPENGL_TO_OPENCV[:3, :3]) == pytest.approx(1.0)  # a rotation, not a mirror


def test_opengl_pose_flips_y_and_z():
    gl = opencv_to_opengl(ALONG_X)
    np.testing.assert_array_equal(gl[:3, 2], [-1.0, 0.0, 0.0])  # OpenGL cameras look down -z
    np.testing.assert_array_equal(gl[:3, 1], [0.0, 0.0, 1.0])  # y up
    np.testing.assert_array_equal(gl[:3, 0], ALONG_X[:3, 0])  # x unchanged
    np.testing.assert_array_equal(gl[:3, 3], [1.0, 2.0, 3.0])  # same position


def test_look_at_by_hand():
    # from the origin towards +y with z up: right = y x z = +x, down = y x x = -z
    pose = look_at(np.zeros(3), np.array([0.0, 4.0, 0.0]))
    np.testing.assert_allclose(pose[:3, :3], [[1, 0, 0], [0, 0, 1], [0, -1, 0]], atol=1e-15)
    pose = look_at(np.array([1.0, 2.0, 3.0]), np.array([5.0, 2.0, 3.0]))
    np.testing.assert_allclose(pose, ALONG_X, atol=1e-15)


def test_look_at_is_a_rotation_that_faces_the_target():
    eye, target = np.array([1.0, -2.0, 1.5]), np.array([0.0, 0.5, 0.4])
    pose = look_at(eye, target)
    rot = pose[:3, :3]
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    np.testing.assert_allclose(rot[:, 2], (target - eye) / np.linalg.norm(target - eye), atol=1e-12)
    assert rot[2, 0] == pytest.approx(0.0, abs=1e-12)  # no roll: image x stays horizontal
    assert rot[2, 1] < 0  # image y points down in the world
    np.testing.assert_array_equal(pose[:3, 3], eye)


def test_look_at_along_up_is_refused():
    with pytest.raises(ValueError, match="parallel"):
        look_at(np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 0.0]))
    # another up vector makes the same view well defined
    pose = look_at(np.array([0.0, 0.0, 2.0]), np.zeros(3), up=np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(pose[:3, 2], [0.0, 0.0, -1.0])


def test_camera_frame_by_hand_and_round_trip():
    xyz = torch.tensor([[3.0, 2.0, 3.0], [1.0, 1.0, 3.0], [1.0, 2.0, 2.0]])
    cam = to_camera_frame(xyz, ALONG_X)
    torch.testing.assert_close(cam, torch.tensor([[0.0, 0, 2], [1.0, 0, 0], [0, 1.0, 0]]))
    g = torch.Generator().manual_seed(0)
    points = torch.randn(100, 3, generator=g) * 5
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = _rotation_z(0.7) @ ALONG_X[:3, :3], [10.0, -4.0, 1.5]
    torch.testing.assert_close(to_world_frame(to_camera_frame(points, pose), pose), points)
    torch.testing.assert_close(to_camera_frame(points, torch.from_numpy(pose)), to_camera_frame(points, pose))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        to_camera_frame(points, np.eye(3))


def test_projection_by_hand():
    k = Intrinsics(fx=8.0, fy=8.0, cx=4.0, cy=4.0, width=8, height=8)
    proj = project(torch.tensor([[0.0, 0.0, 1.0], [1.0, -0.5, 2.0], [0.0, 0.0, -1.0]]), np.eye(4), k)
    # (0, 0, 1) -> the principal point; (1, -0.5, 2) -> (8 * 0.5 + 4, 8 * -0.25 + 4) = (8, 2)
    torch.testing.assert_close(proj.pixels[:2], torch.tensor([[4.0, 4.0], [8.0, 2.0]]))
    torch.testing.assert_close(proj.depth, torch.tensor([1.0, 2.0, -1.0]))
    assert proj.in_front.tolist() == [True, True, False]
    assert proj.in_view.tolist() == [True, False, False]  # x = 8 is the right edge: outside [0, 8)
    # the same world point through a camera that is not at the origin
    proj = project(torch.tensor([[3.0, 2.0, 3.0]]), ALONG_X, k)
    torch.testing.assert_close(proj.pixels, torch.tensor([[4.0, 4.0]]))
    torch.testing.assert_close(proj.depth, torch.tensor([2.0]))


def test_zbuffer_by_hand():
    k = Intrinsics(fx=4.0, fy=4.0, cx=2.0, cy=2.0, width=4, height=4)
    # camera frame = world (identity pose): (x, y, z) lands on (4 x / z + 2, 4 y / z + 2)
    xyz = torch.tensor([
        [0.0, 0.0, 2.0],      # 0: pixel (col 2, row 2), far
        [-0.25, 0.0, 1.0],    # 1: pixel (1, 2), near: its 3x3 footprint covers point 0's pixel
        [-1.0, -1.0, 2.0],    # 2: pixel (0, 0), far
        [0.0, 0.0, -1.0],     # 3: behind the camera, never drawn
    ])
    proj = project(xyz, np.eye(4), k)
    alone = zbuffer(proj, 4, 4).reshape(4, 4)
    expected = torch.full((4, 4), -1)
    expected[2, 2], expected[2, 1], expected[0, 0] = 0, 1, 2
    assert torch.equal(alone, expected)
    wide = zbuffer(proj, 4, 4, radius=1).reshape(4, 4)
    # point 1 (z = 1) covers rows 1-3, cols 0-2, point 0's own pixel included; point 0 keeps the rest
    # of its footprint (col 3); point 2's footprint is clipped at the corner and loses row 1 to point 1
    assert wide[2, 2] == 1 and wide[1:4, 0:3].eq(1).all()
    assert wide[1:4, 3].eq(0).all()
    assert wide[0].tolist() == [2, 2, -1, -1]
    kept = zbuffer(proj, 4, 4, radius=1, keep=torch.tensor([True, False, True, True])).reshape(4, 4)
    assert kept[2, 2] == 0 and kept[2, 1] == 0 and kept[0, 0] == 2  # point 1 left out
    with pytest.raises(ValueError, match="radius"):
        zbuffer(proj, 4, 4, radius=-1)


def test_frustum_near_far_and_image_edges():
    k = Intrinsics(fx=100.0, fy=100.0, cx=50.0, cy=40.0, width=100, height=80)
    cam = torch.tensor([
        [0.0, 0.0, 1.0],     # centre pixel -> in
        [0.0, 0.0, -1.0],    # behind -> out
        [0.49, 0.0, 1.0],    # u = 99 -> in
        [0.5, 0.0, 1.0],     # u = 100 = width -> out
        [0.0, -0.4, 1.0],    # v = 0 -> in
        [0.0, 0.0, 20.0],    # beyond far -> out
    ])
    assert frustum_mask(cam, k, far=10.0).tolist() == [True, False, True, False, True, False]
    assert frustum_mask(cam, k)[-1].item()
    with pytest.raises(ValueError, match="near"):
        project_camera_points(cam, k, near=0.0)


def test_depth_test_tolerance_by_hand():
    k = Intrinsics(fx=2.0, fy=2.0, cx=1.0, cy=1.0, width=2, height=2)
    depth = torch.tensor([[2.0, 2.0], [0.0, 2.0]])
    tolerance = DEPTH_TOLERANCE_M + DEPTH_TOLERANCE_REL * 2.0  # 0.09 m at 2 m
    # points straight through pixel (0, 0)'s centre (x = y = -0.25 z) at depths around 2 m
    zs = [2.0, 2.0 + tolerance - 0.005, 2.0 + tolerance + 0.005, 2.0 - tolerance - 0.005]
    xyz = torch.tensor([[-0.25 * z, -0.25 * z, z] for z in zs], dtype=torch.float64)
    proj = project_camera_points(xyz, k)
    assert depth_test(proj, depth).tolist() == [True, True, False, False]
    # a wider tolerance accepts what the default refused; no measurement (pixel (0, 1)) hides
    assert depth_test(proj, depth, tolerance_m=0.2).tolist() == [True, True, True, True]
    below = project_camera_points(torch.tensor([[-0.5, 0.5, 2.0]], dtype=torch.float64), k)
    assert below.pixels[0].tolist() == [0.5, 1.5] and not depth_test(below, depth).item()


def test_visible_mask_rescales_to_the_depth_map():
    # a 4x4 image whose depth map is 2x2: the depth pixel (col 1, row 0) covers image columns 2-3
    k = Intrinsics(fx=4.0, fy=4.0, cx=2.0, cy=2.0, width=4, height=4)
    depth = torch.tensor([[1.0, 3.0], [1.0, 1.0]])
    # image pixel (2.5, 0.5): x = 0.125 z, y = -0.375 z
    on = torch.tensor([[0.125 * 3.0, -0.375 * 3.0, 3.0]])
    off = torch.tensor([[0.125 * 1.0, -0.375 * 1.0, 1.0]])  # same pixel, in front of the surface
    assert visible_mask(torch.cat([on, off]), np.eye(4), k, depth).tolist() == [True, False]


def test_seen_points_hides_what_a_nearer_surface_covers():
    k = Intrinsics(fx=8.0, fy=8.0, cx=4.0, cy=4.0, width=8, height=8)
    # a wall filling the left half at z = 2 (x in [-1, -0.25]), a sheet behind it at z = 4 over the
    # whole width, one point beside the image and one behind the camera; identity pose
    grid = torch.linspace(-0.9, 0.9, 10)
    wall = torch.tensor([[x, y, 2.0] for x in torch.linspace(-0.95, -0.3, 6) for y in grid])
    sheet = torch.tensor([[x, y, 4.0] for x in torch.linspace(-1.9, 1.9, 20) for y in 2 * grid])
    odd = torch.tensor([[5.0, 0.0, 2.0], [0.0, 0.0, -2.0]])
    xyz = torch.cat([wall, sheet, odd])
    seen = seen_points(xyz, np.eye(4), k)
    assert seen[: len(wall)].all()
    behind = sheet[:, 0] / 4.0 < -0.3 / 2.0 - 0.25  # pixels the wall covers, a splat's width inside its edge
    sheet_seen = seen[len(wall): len(wall) + len(sheet)]
    assert not sheet_seen[behind].any() and sheet_seen[sheet[:, 0] > 0.5].all()  # the right half is open
    assert not seen[-2:].any()
    # from the other side (a half turn about y, at z = 6 looking down -z) the sheet hides the wall
    turned = np.eye(4)
    turned[:3, :3] = np.diag([-1.0, 1.0, -1.0])
    turned[2, 3] = 6.0
    seen = seen_points(xyz, turned, k)
    in_view = project(sheet, turned, k).in_view
    assert not seen[: len(wall)].any() and torch.equal(seen[len(wall): len(wall) + len(sheet)], in_view)


def test_backproject_depth_by_hand():
    k = Intrinsics(fx=50.0, fy=50.0, cx=8.0, cy=6.0, width=16, height=12)
    pose = look_at(np.array([0.0, -3.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    depth = np.full((12, 16), 3.0)
    depth[0, 0] = 0.0
    points = backproject_depth(depth, k, pose)
    # the camera looks at the plane y = 0 head-on from 3 m: every point lies on it
    np.testing.assert_allclose(points[1:, :, 1], 0.0, atol=1e-12)
    assert np.isnan(points[0, 0]).all()
    # pixel (col 12, row 6) centre is 4.5 px right of, 0.5 px below the principal point
    np.testing.assert_allclose(points[6, 12], [4.5 * 3.0 / 50.0, 0.0, 1.0 - 0.5 * 3.0 / 50.0], atol=1e-12)
    # and projecting the points back lands on the pixel centres
    valid = ~np.isnan(points[..., 0])
    proj = project(torch.from_numpy(points[valid]), pose, k)
    rows, cols = np.nonzero(valid)
    np.testing.assert_allclose(proj.pixels.numpy(), np.stack([cols + 0.5, rows + 0.5], -1), atol=1e-9)


def test_pixel_centres_in_another_resolution():
    centres = pixel_centres(2, 2, 4, 4)  # a 2x2 grid's centres in a 4x4 image
    torch.testing.assert_close(centres, torch.tensor([[1.0, 1.0], [3.0, 1.0], [1.0, 3.0], [3.0, 3.0]]))
