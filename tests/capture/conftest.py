"""Fixtures: an analytic capture (exact geometry, PNG colour + float .npy depth) and a room from
the project's generator (``data_tools.make_room``, the capture a user's demo starts from)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from capture_scene import orbit_poses, render
from PIL import Image

from lerf3d.types import Capture, Frame, Intrinsics

WIDTH, HEIGHT = 64, 48
"""Image size of the synthetic capture: small, so every test stays fast."""
INTRINSICS = Intrinsics(fx=50.0, fy=52.0, cx=31.5, cy=24.25, width=WIDTH, height=HEIGHT)
"""Deliberately fx != fy and an off-centre cy, so swapped or rounded intrinsics fail the tests."""
N_VIEWS = 6


def make_capture(root: Path, n_views: int = N_VIEWS) -> Capture:
    """Render the analytic room and save it as ``root/rgb/*.png`` + ``root/depth/*.npy`` (metres)."""
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    frames = []
    for i, pose in enumerate(orbit_poses(n_views)):
        rgb, depth = render(pose, INTRINSICS.matrix(), WIDTH, HEIGHT)
        name = f"view{i:02d}"
        Image.fromarray(rgb).save(root / "rgb" / f"{name}.png")
        np.save(root / "depth" / f"{name}.npy", depth)
        frames.append(
            Frame(name, root / "rgb" / f"{name}.png", root / "depth" / f"{name}.npy", INTRINSICS, pose, 1.0)
        )
    return Capture(root=root, frames=tuple(frames), source_format="synthetic")


@pytest.fixture(scope="session")
def synthetic_capture(tmp_path_factory) -> Capture:
    """Six posed 64x48 RGB-D views of the analytic room (shared, read-only)."""
    return make_capture(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def generated_room(tmp_path_factory) -> Path:
    """The generator's tiny preset (12 views, 96x72) as a nerfstudio folder; primitive furniture so
    the tests neither need the furniture archive nor write a model cache outside tmp."""
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    base = tmp_path_factory.mktemp("generated")
    config = RoomConfig.preset("tiny", seed=0, primitives_only=True, cache_dir=base / "models")
    return generate_room(config, base / "room").out_dir
