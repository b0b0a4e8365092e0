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
