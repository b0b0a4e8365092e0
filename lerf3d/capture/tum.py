"""Reader for TUM RGB-D sequences.

Layout::

    rgb.txt          "timestamp filename" per line (``#`` starts a comment), e.g. rgb/1305031102.175304.png
    depth.txt        the same for depth/ 16-bit PNGs, 5000 units per metre
    groundtruth.txt  "timestamp tx ty tz qx qy qz qw": pose of the colour camera's optical centre
                     in the motion-capture world (an optical frame, i.e. the OpenCV convention)
    camera.txt       optional, lerf3d's own: one line "fx fy cx cy [width height]"

Each colour image is paired with the depth image and the ground-truth pose nearest in time; pairs
further apart than ``max_time_difference`` (0.02 s, TUM's ``associate.py`` default) are dropped, and
the count is kept in ``Capture.metadata["unmatched_frames"]``. The nearest pose is used as is
(ground truth runs at 100 Hz, so it is at most 5 ms away).

The files do not state intrinsics: the default is TUM's published calibration of the Freiburg 1
colour camera, overridden by ``camera.txt`` or the ``intrinsics`` argument (Freiburg 2 and 3
sequences need one of those).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerf3d.capture.errors import CaptureError
from lerf3d.capture.poses import pose_from_quat_translation
from lerf3d.types import Capture, Frame, Intrinsics

TUM_DEPTH_SCALE = 1.0 / 5000.0
"""Metres per depth unit: TUM stores depth scaled by 5000 (dataset file-format page)."""

FREIBURG1_INTRINSICS = Intrinsics(fx=517.3, fy=516.5, cx=318.6, cy=255.3, width=640, height=480)
"""TUM's calibration of the Freiburg 1 colour camera (dataset camera-calibration page)."""

TUM_MAX_TIME_DIFFERENCE = 0.02
"""Seconds: largest gap accepted when pairing streams (TUM associate.py's default)."""

CAMERA_FILE = "camera.txt"
"""Optional intrinsics file: "fx fy cx cy [width height]"."""


def is_tum(path: Path) -> bool:
    """True for a folder with rgb.txt, depth.txt and groundtruth.txt."""
    path = Path(path)
    return all((path / name).is_file() for name in ("rgb.txt", "depth.txt", "groundtruth.txt"))


def read_tum(
    path: Path,
    intrinsics: Intrinsics | None = None,
    max_time_difference: float = TUM_MAX_TIME_DIFFERENCE,
) -> Capture:
    """Read a TUM RGB-D sequence folder into a Capture (intrinsics: see the module docstring)."""
    path = Path(path)
    rgb = read_timestamped(path / "rgb.txt", columns=1)
    depth = read_timestamped(path / "depth.txt", columns=1)
    truth = read_timestamped(path / "groundtruth.txt", columns=7)
    camera = intrinsics or _camera_file(path / CAMERA_FILE) or FREIBURG1_INTRINSICS
    depth_times = np.array([t for t, _ in depth])
    truth_times = np.array([t for t, _ in truth])
    frames, unmatched = [], 0
    for stamp, (rgb_name,) in rgb:
        d = _nearest(depth_times, stamp, max_time_difference)
        g = _nearest(truth_times, stamp, max_time_difference)
        if d is None or g is None:
            unmatched += 1
            continue
        values = np.asarray(truth[g][1], dtype=np.float64)
        frames.append(
            Frame(
                name=Path(rgb_name).stem,
                rgb_path=path / rgb_name,
                depth_path=path / depth[d][1][0],
                intrinsics=camera,
                camera_to_world=pose_from_quat_translation(values[3:7], values[0:3]),
                depth_scale=TUM_DEPTH_SCALE,
            )
        )
    info = {"sequence": path.name, "unmatched_frames": str(unmatched)}
    return Capture(root=path, frames=tuple(frames), source_format="tum", metadata=info)


def read_timestamped(path: Path, columns: int) -> list[tuple[float, list[str]]]:
    """``(timestamp, fields)`` rows of a TUM list file, sorted by time; comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CaptureError(f"{path}: unreadable ({exc})") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != columns + 1:
            raise CaptureError(f"{path}:{number}: expected {columns + 1} fields, got {len(fields)}")
        try:
            rows.append((float(fields[0]), fields[1:]))
        except ValueError:
            raise CaptureError(f"{path}:{number}: bad timestamp {fields[0]!r}") from None
    return sorted(rows, key=lambda row: row[0])


def _nearest(times: np.ndarray, stamp: float, tolerance: float) -> int | None:
    """Index of the time nearest ``stamp`` in the sorted ``times``, if within ``tolerance``."""
    after = int(np.searchsorted(times, stamp))
    candidates = [i for i in (after - 1, after) if 0 <= i < times.size]
    if not candidates:
        return None
    index = min(candidates, key=lambda i: abs(times[i] - stamp))
    return index if abs(times[index] - stamp) <= tolerance else None


def _camera_file(path: Path) -> Intrinsics | None:
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) not in (4, 6):
            raise CaptureError(f"{path}: expected 'fx fy cx cy [width height]', got {line!r}")
        try:
            fx, fy, cx, cy = (float(v) for v in fields[:4])
            w, h = (
                (int(v) for v in fields[4:])
                if len(fields) == 6
                else (FREIBURG1_INTRINSICS.width, FREIBURG1_INTRINSICS.height)
            )
        except ValueError:
            raise CaptureError(f"{path}: non-numeric intrinsics {line!r}") from None
        return Intrinsics(fx, fy, cx, cy, w, h)
    raise CaptureError(f"{path}: no intrinsics line")
