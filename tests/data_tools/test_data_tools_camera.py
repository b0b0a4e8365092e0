"""Camera maths, and the pixel/depth conventions of pybullet's TinyRenderer measured directly."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from data_tools.camera import (
    TINY_RENDERER_SAMPLE_OFFSET,
    depth_from_zbuffer,
    intrinsics_from_fov,
    opengl_projection_matrix,
    opengl_view_matrix,
    to_pybullet,
)
from lerf3d.geometry import look_at
from lerf3d.types import Intrinsics


def test_intrinsics_from_fov():
    intr = intrinsics_from_fov(320, 240, 90.0)
    assert intr.fx == pytest.approx(160.0) and intr.fy == pytest.approx(160.0)
    assert (intr.cx, intr.cy) == (160.0, 120.0)


def test_projection_matrix_reproduces_the_pinhole_model():
    intr = Intrinsics(fx=200.0, fy=210.0, cx=150.0, cy=95.0, width=320, height=200)
    pose = look_at(np.array([0.3, -1.0, 1.2]), np.array([0.0, 1.0, 0.5]))
    rng = np.random.default_rng(0)
    points_cam = np.column_stack([rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50), rng.uniform(0.5, 5, 50)])
    points_world = points_cam @ pose[:3, :3].T + pose[:3, 3]
    clip = (
        opengl_projection_matrix(intr, 0.05, 20.0)
        @ opengl_view_matrix(pose)
        @ np.vstack([points_world.T, np.ones(50)])
    )
    ndc = clip[:3] / clip[3]
    u = (ndc[0] + 1) / 2 * intr.width
    v = (1 - ndc[1]) / 2 * intr.height  # image rows grow downwards
    np.testing.assert_allclose(u, intr.fx * points_cam[:, 0] / points_cam[:, 2] + intr.cx, atol=1e-9)
    np.testing.assert_allclose(v, intr.fy * points_cam[:, 1] / points_cam[:, 2] + intr.cy, atol=1e-9)
    # the depth buffer value of the same points decodes back to their z
    np.testing.assert_allclose(depth_from_zbuffer((ndc[2] + 1) / 2, 0.05, 20.0), points_cam[:, 2], rtol=1e-9)


def _render_plate(edge: str, offset: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A camera 2 m above a thin plate at z = 1 whose edge projects to pixel coordinate 40 + offset
    (columns) or 30 + offset (rows); returns depth, body-id mask and the plate's id."""
    intr = Intrinsics(fx=50.0, fy=50.0, cx=32.0, cy=24.0, width=64, height=48)
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # looking down, image y = -world y
    pose[:3, 3] = [0.0, 0.0, 2.0]
    near, far = 0.05, 20.0
    client = p.connect(p.DIRECT)
    try:
        if edge == "col":
            e = (40 + offset - intr.cx) / intr.fx  # plate spans x in [e, 5]: columns right of the edge
            half, centre = [(5 - e) / 2, 5, 1e-3], [(5 + e) / 2, 0, 1 - 1e-3]
        else:
            e = -(30 + offset - intr.cy) / intr.fy  # plate spans y in [-5, e]: rows below the edge
            half, centre = [5, (e + 5) / 2, 1e-3], [0, (e - 5) / 2, 1 - 1e-3]
        shape = p.createVisualShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        body = p.createMultiBody(
            baseMass=0, baseVisualShapeIndex=shape, basePosition=centre, physicsClientId=client
        )
        proj = opengl_projection_matrix(intr, near, far, TINY_RENDERER_SAMPLE_OFFSET)
        _, _, _, zbuf, seg = p.getCameraImage(
            64,
            48,
            to_pybullet(opengl_view_matrix(pose)),
            to_pybullet(proj),
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=client,
        )
    finally:
        p.disconnect(client)
    return depth_from_zbuffer(np.reshape(zbuf, (48, 64)), near, far), np.reshape(seg, (48, 64)), body


@pytest.mark.parametrize("offset, first", [(0.3, 40), (0.7, 41)])
def test_tiny_renderer_samples_pixel_centres_along_columns(offset, first):
    depth, seg, body = _render_plate("col", offset)
    covered = np.flatnonzero(seg[24] == body)
    # pixel j is the ray through j + 0.5: the plate edge at 40.3 starts at column 40, at 40.7 at 41
    assert covered[0] == first
    assert depth[24, covered].max() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("offset, first", [(0.3, 30), (0.7, 31)])
def test_tiny_renderer_samples_pixel_centres_along_rows(offset, first):
    _, seg, body = _render_plate("row", offset)
    assert np.flatnonzero(seg[:, 32] == body)[0] == first
