"""A fused mesh small enough to check by hand, for the tests of what other programs read of lerf3d's
exports (trimesh, three.js): a 2 m x 1 m floor and a thin post, in lerf3d's Z-up world."""

from __future__ import annotations

import numpy as np

from lerf3d.fusion.tsdf import FusionResult
from lerf3d.types import PointSet, SceneBounds

FLOOR = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
"""A 2 m x 1 m floor at z = 0 in lerf3d's Z-up world, wound so its normal is +z (up)."""
POST_TOP = np.array([[1.0, 0.5, 1.5]])
"""Apex of a thin triangle standing 1.5 m above the floor."""
COLOUR = (0.8, 0.4, 0.2)
"""Every vertex's colour (bytes 204, 102, 51 once written)."""


def floor_and_post() -> FusionResult:
    """The floor (two triangles) and the post (one triangle on its south edge), all one colour."""
    vertices = np.concatenate([FLOOR, POST_TOP]).astype(np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 1, 4]], np.int32)
    colours = np.tile(np.array([COLOUR], np.float32), (len(vertices), 1))
    points = PointSet(vertices, colours)
    bounds = SceneBounds(vertices.min(axis=0).astype(np.float64), vertices.max(axis=0).astype(np.float64))
    return FusionResult(vertices, faces, colours, points, bounds, voxel_size=0.05)
