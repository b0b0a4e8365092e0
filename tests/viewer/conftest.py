"""Fixtures of the viewer tests: the known-answer scene (``gt_scene``, tests/conftest.py) served on a
free port for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from viewer.config import ViewerConfig
from viewer.server import ViewerHTTPServer, make_server, serve_in_thread


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
