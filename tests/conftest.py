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


@pytest.fixture(scope="session")
def gt_scene(tiny_room):
    """The tiny room, fused, with a compact field fitted to its depth, colours and instance masks
    (~10 s): a known answer without trained towers (a label lights up exactly its masks)."""
    import torch
    from gt_scene import (
        LABEL_EMBED_DIM,
        FitConfig,
        GroundTruthSceneConfig,
        compact_field_config,
        ground_truth_scene,
    )

    from lerf3d.query.session import QuerySessionConfig

    torch.set_num_threads(1)  # the two cores are shared with other jobs (tests/train/conftest.py)
    session = QuerySessionConfig(num_scales=12, cache_bytes=256 * 1024**2)  # fewer scales: short renders
    config = GroundTruthSceneConfig(fit=FitConfig(steps=150, batch=2048),
                                    field_config=compact_field_config(LABEL_EMBED_DIM), session=session)
    return ground_truth_scene(tiny_room, config)
