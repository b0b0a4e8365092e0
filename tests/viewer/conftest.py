"""Fixtures of the viewer tests: the known-answer scene (``gt_scene``, tests/conftest.py) with its
objects, served on a free port for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from viewer_browser import launched, new_page

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
def gt_objects(gt_scene):
    """The known-answer scene's objects, cut from the points the viewer shows (a fraction of a second)."""
    from lerf3d.objects.build import ObjectsConfig, build_objects
    from lerf3d.query.scene import frame_camera

    session = gt_scene.viewer.session
    cameras = [frame_camera(f) for f in gt_scene.capture.frames]
    # crop_views=0: the known-answer encoder is text only (no image tower to read crops with)
    return build_objects(session.field, session.encoder, gt_scene.viewer.points, cameras, None,
                         ObjectsConfig(crop_views=0))


@pytest.fixture(scope="session")
def served(gt_scene, gt_objects, tmp_path_factory) -> Iterator[Served]:
    outputs = tmp_path_factory.mktemp("viewer_outputs")
    scene = replace(gt_scene.viewer, objects=gt_objects)
    server = make_server(scene, ViewerConfig(port=0, outputs_dir=outputs, full_long_side=96))
    serve_in_thread(server)
    yield Served(server, server.url.rstrip("/"), outputs)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (browser test modules call viewer_browser.skip_without_chromium first)."""
    with launched() as browser:
        yield browser


@pytest.fixture
def page(browser):
    """A 1280x640 page; uncaught errors in it fail the test."""
    with new_page(browser) as page:
        yield page
