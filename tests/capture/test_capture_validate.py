"""One test per validation failure: the error type, the file it names, and the problem it states."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lerf3d.capture import CaptureError, load_rgb, validate_capture
from lerf3d.types import Capture, Frame, Intrinsics


def with_frame(capture: Capture, index: int = 0, **changes) -> Capture:
    frames = list(capture.frames)
    frames[index] = dataclasses.replace(frames[index], **changes)
    return dataclasses.replace(capture, frames=tuple(frames))


def save_depth_png(path: Path, depth_units: np.ndarray) -> Path:
    Image.fromarray(depth_units.astype(np.uint16)).save(path)
    return path


def test_valid_capture_passes(synthetic_capture):
    assert validate_capture(synthetic_capture) is None


def test_empty_capture(synthetic_capture):
    with pytest.raises(CaptureError, match="no frames"):
        validate_capture(dataclasses.replace(synthetic_capture, frames=()))


def test_missing_image_names_the_file(synthetic_capture, tmp_path):
    missing = tmp_path / "gone.png"
    with pytest.raises(CaptureError, match=f"{missing}.*not found"):
        validate_capture(with_frame(synthetic_capture, 2, rgb_path=missing))


def test_unreadable_image(synthetic_capture, tmp_path):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    with pytest.raises(CaptureError, match=f"{garbage}.*not a readable image"):
        validate_capture(with_frame(synthetic_capture, rgb_path=garbage))


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG (PNG spec: signature, IHDR, IDAT, IEND chunks) whose header claims an 8-bit RGB
    image of this size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(10))) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"P6\n", "ValueError: Reached EOF while reading header"),  # PIL's PPM plugin raises ValueError
        (b"P1\n64 48\n", "ValueError: not enough image data"),  # ... on opening, and on decoding
        (png_claiming(100_000, 100_000), "DecompressionBombError"),  # a header claiming 10^10 pixels
    ],
)
def test_image_bytes_pil_rejects_with_other_errors(synthetic_capture, tmp_path, content, problem):
    path = tmp_path / "frame.png"
    path.write_bytes(content)
    frame = dataclasses.replace(synthetic_capture.frames[0], rgb_path=path)
    with pytest.raises(CaptureError, match=rf"{path}: .*{problem}"):
        validate_capture(dataclasses.replace(synthetic_capture, frames=(frame,)))
        load_rgb(frame)


def test_truncated_image_fails_on_load(synthetic_capture, tmp_path):
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(synthetic_capture.frames[0].rgb_path.read_bytes()[:200])
    with pytest.raises(CaptureError, match=f"{truncated}.*corrupt"):
        load_rgb(dataclasses.replace(synthetic_capture.frames[0], rgb_path=truncated))


def test_image_size_disagrees_with_intrinsics(synthetic_capture):
    wrong = dataclasses.replace(synthetic_capture.frames[0].intrinsics, width=65)
    with pytest.raises(CaptureError, match="image is 64x48 but its intrinsics say 65x48"):
        validate_capture(with_frame(synthetic_capture, intrinsics=wrong))


def test_depth_with_another_aspect_ratio(synthetic_capture, tmp_path):
    square = tmp_path / "square.png"
    save_depth_png(square, np.full((30, 30), 2000))
    with pytest.raises(CaptureError, match=f"{square}.*30x30, incompatible with the 64x48"):
        validate_capture(with_frame(synthetic_capture, depth_path=square, depth_scale=1e-3))


def test_depth_at_other_resolution_with_same_aspect_is_fine(synthetic_capture, tmp_path):
    """ScanNet-like: depth smaller than colour, non-integral ratio, aspect within 1 %."""
    half = save_depth_png(tmp_path / "half.png", np.full((25, 33), 2000))  # 1.32 vs 1.333
    validate_capture(with_frame(synthetic_capture, depth_path=half, depth_scale=1e-3))


def test_depth_all_zero(synthetic_capture, tmp_path):
    zero = save_depth_png(tmp_path / "zero.png", np.zeros((48, 64)))
    with pytest.raises(CaptureError, match=f"{zero}.*no valid pixel"):
        validate_capture(with_frame(synthetic_capture, 3, depth_path=zero, depth_scale=1e-3))


def test_depth_all_nan(synthetic_capture, tmp_path):
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((48, 64), np.nan, dtype=np.float32))
    with pytest.raises(CaptureError, match=f"{nan}.*all zero or NaN"):
        validate_capture(with_frame(synthetic_capture, depth_path=nan))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p * np.array([1.1, 1.1, 1.1, 1.0])[:, None], "not rigid"),  # scaled rotation
        (lambda p: p @ np.diag([1.0, 1.0, -1.0, 1.0]), "not rigid"),  # mirror: det -1
        (lambda p: np.where(np.eye(4, dtype=bool) & (np.arange(4) == 0), np.nan, p), "NaN"),
        (lambda p: np.vstack([p[:3], [0.0, 0.0, 0.1, 1.0]]), "last row"),
    ],
    ids=["scaled", "mirrored", "nan", "last-row"],
)
def test_bad_pose(change, message, synthetic_capture):
    frame = synthetic_capture.frames[1]
    bad = with_frame(synthetic_capture, 1, camera_to_world=change(frame.camera_to_world.copy()))
    with pytest.raises(CaptureError, match=f"frame {frame.name} .*{message}"):
        validate_capture(bad, check_images=False)


def test_pose_printed_to_six_digits_is_accepted(synthetic_capture):
    rounded = np.round(synthetic_capture.frames[0].camera_to_world, 6)
    validate_capture(with_frame(synthetic_capture, camera_to_world=rounded), check_images=False)


@pytest.mark.parametrize(
    ("intrinsics", "message"),
    [
        (Intrinsics(50.0, 52.0, 70.0, 24.0, 64, 48), r"principal point \(70.0, 24.0\) lies outside"),
        (Intrinsics(50.0, 52.0, 32.0, -1.0, 64, 48), "principal point"),
        (Intrinsics(0.0, 52.0, 32.0, 24.0, 64, 48), "must be positive"),
        (Intrinsics(50.0, -5.0, 32.0, 24.0, 64, 48), "must be positive"),
    ],
)
def test_bad_intrinsics(intrinsics, message, synthetic_capture):
    with pytest.raises(CaptureError, match=message):
        validate_capture(with_frame(synthetic_capture, intrinsics=intrinsics), check_images=False)


def test_duplicate_frame_names(synthetic_capture):
    with pytest.raises(CaptureError, match=r"duplicate frame names \['view00'\]"):
        validate_capture(with_frame(synthetic_capture, 4, name="view00"), check_images=False)


def test_millimetres_read_as_metres_suggest_millimetres(tmp_path):
    frames = []
    for i in range(3):
        depth = save_depth_png(tmp_path / f"d{i}.png", np.full((48, 64), 2400 + i))
        rgb = tmp_path / f"c{i}.png"
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(rgb)
        k = Intrinsics(50.0, 50.0, 32.0, 24.0, 64, 48)
        frames.append(Frame(f"f{i}", rgb, depth, k, np.eye(4), depth_scale=1.0))
    capture = Capture(tmp_path, tuple(frames), "synthetic")
    expected = r"median depth 2401 m is not a room.*millimetres, depth_scale 0.001 gives 2.4 m"
    with pytest.raises(CaptureError, match=expected):
        validate_capture(capture)


def test_metres_read_as_millimetres_suggest_metres(synthetic_capture):
    frames = [dataclasses.replace(f, depth_scale=1e-3) for f in synthetic_capture.frames]
    with pytest.raises(CaptureError, match="is not a room.*if the depth is in metres, depth_scale 1 gives"):
        validate_capture(dataclasses.replace(synthetic_capture, frames=tuple(frames)))
