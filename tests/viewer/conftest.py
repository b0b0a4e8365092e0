"""Fixtures of the viewer tests: the tiny room with a field fitted to its ground truth (a known
answer without trained towers), served on a free port for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from gt_scene import (
    LABEL_EMBED_DIM,
    FitConfig,
    GroundTruthScene,
    GroundTruthSceneConfig,
    compact_field_config,
    ground_truth_scene,
)

from lerf3d.query.session import QuerySessionConfig
from viewer.config import ViewerConfig
from viewer.server import ViewerHTTPServer, make_server, serve_in_thread

TEST_THREADS = 1
"""The two cores are shared with other jobs: one intra-op thread is faster than two fighting
(tests/train/conftest.py measured it)."""
TEST_SESSION = QuerySessionConfig(num_scales=12, cache_bytes=256 * 1024**2)
"""Fewer scales than LERF's 30 keep the view renders short; the search is the same code."""


@pytest.fixture(scope="session")
def gt_scene(tiny_room) -> GroundTruthScene:
    """The tiny room, fused, with a compact field fitted to its depth, colours and masks (~10 s)."""
    torch.set_num_threads(TEST_THREADS)
    config = GroundTruthSceneConfig(fit=FitConfig(steps=150, batch=2048),
                                    field_config=compact_field_config(LABEL_EMBED_DIM), session=TEST_SESSION)
    return ground_truth_scene(tiny_room, config)


@dataclass(frozen=True)
class Served:
    """A running viewer."""

    server: ViewerHTTPServer
    url: str
    """Base URL without the trailing slash."""
    outputs: Path
    """Its outputs folder (exports land in outputs/exports)."""


@pytest.fixture(scope="session")
def served(gt_scene, tmp_path_factory) -> Iterator[Served]:
    outputs = tmp_path_factory.mktemp("viewer_outputs")
    server = make_server(gt_scene.viewer, ViewerConfig(port=0, outputs_dir=outputs, full_long_side=96))
    serve_in_thread(server)
    yield Served(server, server.url.rstrip("/"), outputs)
    server.shutdown()
    server.server_close()
