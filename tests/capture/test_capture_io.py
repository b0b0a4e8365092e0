"""Pixel loaders, lazily read frame images, zip virtual paths and pose helpers."""

from __future__ import annotations

import dataclasses
import zipfile

import numpy as np
import pytest
from PIL import Image

from lerf3d.capture import CaptureError, load_depth, load_rgb, resize_depth_nearest
from lerf3d.capture.files import file_exists, read_bytes
from lerf3d.capture.io import FrameImages
from lerf3d.capture.poses import Y_UP_TO_Z_UP, matrix_to_quat_xyzw, quat_xyzw_to_matrix
from lerf3d.types import Frame, Intrinsics


def test_resize_depth_nearest_picks_source_pixels():
    depth = np.arange(12, dtype=np.float32).reshape(3, 4)
    up = resize_depth_nearest(depth, 8, 6)
    np.testing.assert_array_equal(up[::2, ::2], depth)  # each source pixel becomes a 2x2 block
    np.testing.assert_array_equal(up[1::2, 1::2], depth)
    down = resize_depth_nearest(depth, 2, 3)
    np.testing.assert_array_equal(down, depth[:, [1, 3]])  # centres 1.0 and 3.0 of the 4 columns


def test_resize_depth_never_blends_with_missing():
    depth = np.array([[0.0, 4.0], [4.0, 0.0]], dtype=np.float32)
    resized = resize_depth_nearest(depth, 5, 5)
    assert set(np.unique(resized)) == {0.0, 4.0}


def test_load_depth_png_scale_and_invalid_values(synthetic_capture, tmp_path):
    png = tmp_path / "d.png"
    Image.fromarray(np.array([[0, 1000], [65535, 2500]], np.uint16)).save(png)
    frame = dataclasses.replace(synthetic_capture.frames[0], depth_path=png, depth_scale=1e-3)
    np.testing.assert_allclose(load_depth(frame), [[0.0, 1.0], [65.535, 2.5]], rtol=1e-6)
    npy = tmp_path / "d.npy"
    np.save(npy, np.array([[np.nan, -1.0], [np.inf, 1.25]], np.float32))
    frame = dataclasses.replace(frame, depth_path=npy, depth_scale=1.0)
    np.testing.assert_array_equal(load_depth(frame), [[0.0, 0.0], [0.0, 1.25]])


def test_load_depth_refuses_8_bit_images(synthetic_capture, tmp_path):
    png = tmp_path / "d8.png"
    Image.fromarray(np.ones((4, 4), np.uint8)).save(png)
    frame = dataclasses.replace(synthetic_capture.frames[0], depth_path=png)
    with pytest.raises(CaptureError, match="mode L, expected 16-bit"):
        load_depth(frame)


def test_frames_inside_a_zip_read_like_files(synthetic_capture, tmp_path):
    source = synthetic_capture.frames[0]
    archive = tmp_path / "cap.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source.rgb_path, "inner/c.png")
    inner = archive / "inner" / "c.png"
    assert file_exists(inner) and not file_exists(archive / "inner" / "x.png")
    frame = dataclasses.replace(source, rgb_path=inner)
    np.testing.assert_array_equal(load_rgb(frame), load_rgb(source))
    with pytest.raises(CaptureError, match="no member 'inner/x.png'"):
        read_bytes(archive / "inner" / "x.png")


@pytest.mark.parametrize("seed", range(5))
def test_quaternion_round_trip(seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    rotation = quat_xyzw_to_matrix(q)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(quat_xyzw_to_matrix(matrix_to_quat_xyzw(rotation)), rotation, atol=1e-12)
    np.testing.assert_allclose(matrix_to_quat_xyzw(rotation), q if q[3] >= 0 else -q, atol=1e-12)


@pytest.mark.parametrize("axis", range(3))
def test_quaternion_of_half_turns(axis):
    """180-degree rotations have trace -1: the branch where naive formulas divide by ~0."""
    rotation = -np.eye(3)
    rotation[axis, axis] = 1.0
    q = matrix_to_quat_xyzw(rotation)
    np.testing.assert_allclose(np.abs(q), np.eye(4)[axis], atol=1e-12)
    np.testing.assert_allclose(quat_xyzw_to_matrix(q), rotation, atol=1e-12)


def test_quaternion_known_value():
    """90 degrees about z maps x to y: q = (0, 0, sin 45, cos 45)."""
    rotation = quat_xyzw_to_matrix([0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(rotation @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)


def test_convention_matrices():
    assert np.linalg.det(Y_UP_TO_Z_UP[:3, :3]) == pytest.approx(1.0)
    np.testing.assert_array_equal(Y_UP_TO_Z_UP[:3, :3] @ [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])


def test_frame_images_read_a_frame_only_when_its_pixels_are_asked_for(tmp_path):
    k = Intrinsics(fx=10.0, fy=10.0, cx=2.0, cy=1.5, width=4, height=3)
    frames = []
    for name, value in (("a", 10), ("b", 200)):
        Image.fromarray(np.full((3, 4, 3), value, np.uint8)).save(tmp_path / f"{name}.png")
        frames.append(Frame(name, tmp_path / f"{name}.png", None, k, np.eye(4)))
    images = FrameImages(frames)
    (tmp_path / "b.png").write_bytes(b"not a png")  # corrupt, but never asked for
    assert "b" in images and "c" not in images and sorted(images) == ["a", "b"] and len(images) == 2
    assert int(images["a"][0, 0, 0]) == 10 and images["a"].shape == (3, 4, 3)
    with pytest.raises(KeyError):
        images["c"]
