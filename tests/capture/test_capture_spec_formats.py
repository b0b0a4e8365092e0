"""Every reader on captures written from the formats' public descriptions (spec_formats.py), not by
data_tools' writers: poses, cameras and depth must come back as the analytic scene rendered them."""

from __future__ import annotations

import numpy as np
import pytest
from spec_formats import TUM_CAMERA_ARGUMENT, WRITERS, analytic_views

from lerf3d.capture import load_capture, load_depth, parse_intrinsics

DEPTH_QUANTUM = {"nerfstudio": 1e-3, "record3d": 0.0, "scannet": 1e-3, "tum": 1 / 5000, "replica": 1 / 6553.5}
"""Metres per stored depth unit of each writer (Record3D stores float32 metres)."""
HALF_RESOLUTION_DEPTH = {"record3d", "scannet"}
"""Formats whose depth sensor is written at half the colour resolution, as on the real devices."""


@pytest.fixture(scope="module")
def views():
    return analytic_views(6)


@pytest.mark.parametrize("format_name", sorted(WRITERS))
def test_reader_recovers_the_rendered_scene(format_name, views, tmp_path):
    path = WRITERS[format_name](views, tmp_path)
    camera = parse_intrinsics(TUM_CAMERA_ARGUMENT) if format_name == "tum" else None
    capture = load_capture(path, intrinsics=camera)  # auto-detection and full validation
    assert capture.source_format == format_name and len(capture.frames) == len(views)
    for frame, view in zip(capture.frames, views):
        k = frame.intrinsics
        # one dtype: plain Python numbers, whatever the reader parsed them with
        assert all(type(v) is float for v in (k.fx, k.fy, k.cx, k.cy))
        assert type(k.width) is int and type(k.height) is int
        np.testing.assert_allclose(k.matrix(), view.k, atol=1e-6)
        assert (k.width, k.height) == (64, 48)
        np.testing.assert_allclose(frame.camera_to_world, view.pose, atol=2e-6)
        want = view.half_depth if format_name in HALF_RESOLUTION_DEPTH else view.depth
        depth = load_depth(frame)
        assert depth.shape == want.shape
        assert np.abs(depth - want).max() <= DEPTH_QUANTUM[format_name] / 2 + 1e-6
    source = capture.metadata["intrinsics"]
    expected_source = {
        "nerfstudio": "transforms.json", "record3d": "K in", "scannet": "intrinsic_color.txt",
        "tum": f"--intrinsics {TUM_CAMERA_ARGUMENT}", "replica": "cam_params.json",
    }[format_name]
    assert expected_source in source and source.startswith("fx=50 fy=52 cx=31.5 cy=24.25 (64x48) from ")


def test_intrinsics_hold_plain_numbers_whatever_they_are_given():
    """The type every stage shares converts numpy scalars, so no float64 reaches a float32 tensor."""
    from lerf3d.types import Intrinsics

    k = Intrinsics(np.float64(50.0), np.float32(52.0), np.float64(31.5), 24, np.int64(64), 48.0)
    assert [type(v) for v in (k.fx, k.fy, k.cx, k.cy, k.width, k.height)] == [float] * 4 + [int] * 2
    assert k == Intrinsics(50.0, 52.0, 31.5, 24.0, 64, 48)
    with pytest.raises(ValueError, match="width must be a whole number of pixels, got 64.5"):
        Intrinsics(50.0, 52.0, 31.5, 24.0, 64.5, 48)
