"""Write the synthetic capture in every format, read it back, compare with the source.

Beyond equality with the source, each read-back capture is checked against the *scene*: depth
back-projected through the read intrinsics and pose must land on the room's surfaces. That catches
convention errors (OpenGL vs OpenCV, Y-up vs Z-up, transposed K) that a writer and reader sharing
the same mistake would hide from a plain round trip.
"""

from __future__ import annotations

import numpy as np
import pytest
from capture_formats import write_nerfstudio, write_record3d, write_replica, write_scannet, write_tum
from capture_scene import surface_distance

from lerf3d.capture import load_capture, load_depth, load_rgb
from lerf3d.types import Capture

# (format, writer, depth quantum in metres, colour is lossless)
CASES = {
    "nerfstudio": (write_nerfstudio, 1e-3, True),
    "scannet": (write_scannet, 1e-3, False),
    "tum": (write_tum, 1 / 5000, True),
    "replica": (write_replica, 1 / 6553.5, False),
    "record3d": (write_record3d, 0.0, False),
}
JPEG_MEAN_ABS_ERROR = 4.0
"""Largest mean |difference| in grey levels after a quality-95 JPEG round trip of the checker room."""


def backprojected_world_points(frame, depth: np.ndarray) -> np.ndarray:
    """(N, 3) world points of a frame's valid depth pixels, using the depth-resolution camera."""
    height, width = depth.shape
    k = frame.intrinsics.scaled(width, height)
    rows, cols = np.nonzero(depth > 0)
    z = depth[rows, cols]
    cam = np.stack([(cols + 0.5 - k.cx) / k.fx * z, (rows + 0.5 - k.cy) / k.fy * z, z], -1)  # (N, 3)
    pose = frame.camera_to_world
    return cam @ pose[:3, :3].T + pose[:3, 3]


def assert_matches_source(loaded: Capture, source: Capture, depth_quantum: float, lossless: bool) -> None:
    assert len(loaded.frames) == len(source.frames)
    for got, want in zip(loaded.frames, source.frames):
        np.testing.assert_allclose(got.camera_to_world, want.camera_to_world, atol=1e-5)
        for field in ("fx", "fy", "cx", "cy"):
            assert getattr(got.intrinsics, field) == pytest.approx(getattr(want.intrinsics, field), abs=1e-9)
        assert got.intrinsics.width == want.intrinsics.width
        assert got.intrinsics.height == want.intrinsics.height
        got_depth, want_depth = load_depth(got), load_depth(want)
        assert got_depth.shape == want_depth.shape
        assert np.abs(got_depth - want_depth).max() <= depth_quantum / 2 + 1e-6
        got_rgb, want_rgb = load_rgb(got).astype(int), load_rgb(want).astype(int)
        if lossless:
            np.testing.assert_array_equal(got_rgb, want_rgb)
        else:
            assert np.abs(got_rgb - want_rgb).mean() < JPEG_MEAN_ABS_ERROR


@pytest.mark.parametrize("format_name", sorted(CASES))
def test_round_trip_each_format(format_name, synthetic_capture, tmp_path):
    writer, quantum, lossless = CASES[format_name]
    out = writer(synthetic_capture, tmp_path / format_name)
    loaded = load_capture(out)  # auto-detection + full validation
    assert loaded.source_format == format_name
    assert_matches_source(loaded, synthetic_capture, quantum, lossless)
    points = backprojected_world_points(loaded.frames[0], load_depth(loaded.frames[0]))
    assert len(points) == 64 * 48  # the closed room gives every pixel a depth
    assert np.median(surface_distance(points)) < max(quantum, 1e-5)


@pytest.mark.parametrize("compress", [True, False])
def test_record3d_zipped_archive_round_trip(compress, synthetic_capture, tmp_path):
    archive = write_record3d(synthetic_capture, tmp_path / "scan.r3d", zipped=True, compress=compress)
    assert archive.is_file()
    loaded = load_capture(archive)
    assert loaded.source_format == "record3d"
    assert loaded.frames[0].rgb_path == archive / "rgbd" / "0.jpg"  # a virtual path inside the zip
    assert_matches_source(loaded, synthetic_capture, 0.0, lossless=False)


def test_writers_copy_jpeg_bytes_unchanged(synthetic_capture, tmp_path):
    """Converting between JPEG formats must not re-encode (each re-encode loses detail)."""
    scannet = load_capture(write_scannet(synthetic_capture, tmp_path / "scannet"))
    replica = load_capture(write_replica(scannet, tmp_path / "replica"))
    for a, b in zip(scannet.frames, replica.frames):
        assert a.rgb_path.read_bytes() == b.rgb_path.read_bytes()


def test_generated_room_loads_and_round_trips(generated_room, tmp_path):
    """The project's own generator output goes through the reader, validation and every writer."""
    room = load_capture(generated_room)
    assert room.source_format == "nerfstudio" and len(room.frames) == 12 and room.has_depth
    assert (room.frames[0].intrinsics.width, room.frames[0].intrinsics.height) == (96, 72)
    for format_name, (writer, quantum, lossless) in sorted(CASES.items()):
        loaded = load_capture(writer(room, tmp_path / format_name))
        assert loaded.source_format == format_name
        assert_matches_source(loaded, room, quantum, lossless)
