"""Fixtures shared across the test tree: generated scenes (tiny presets, seconds to make)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_room(tmp_path_factory) -> Path:
    """The generator's tiny preset with real CC0 furniture when the Debian archive is installed
    (``make test`` installs it), textured primitives otherwise. A nerfstudio capture folder with
    ``ground_truth.json``; shared read-only by every test."""
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    base = tmp_path_factory.mktemp("tiny_room")
    config = RoomConfig.preset("tiny", seed=0, cache_dir=base / "models")
    return generate_room(config, base / "room").out_dir


FUSION_VOXEL_M = 0.04
"""Coarser than the automatic voxel: a few thousand points are plenty and fusion stays quick."""


@pytest.fixture(scope="session")
def tiny_capture(tiny_room: Path):
    from lerf3d.capture import load_capture

    return load_capture(tiny_room)


@pytest.fixture(scope="session")
def tiny_points(tiny_capture):
    """The tiny room's fused PointSet."""
    from lerf3d.fusion.tsdf import FusionConfig, fuse_capture

    return fuse_capture(tiny_capture, FusionConfig(voxel_size=FUSION_VOXEL_M, progress=False)).points
