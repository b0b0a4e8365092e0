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

The files do not state intrinsics. In order: the ``intrinsics`` argument (``--intrinsics``),
lerf3d's ``camera.txt``, or TUM's published calibration of the sensor the sequence folder is named
after (``rgbd_dataset_freiburg2_xyz`` -> Freiburg 2); a folder named otherwise is refused rather
than given a guess. Lens distortion is not applied (Freiburg 3 images ship undistorted; Freiburg 1
and 2 are mildly distorted).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from lerf3d.capture.calibration import (
    INTRINSICS_KEY,
    IntrinsicsOverride,
    as_override,
    describe_intrinsics,
    field_number,
)
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import inside_folder
from lerf3d.capture.poses import pose_from_quat_translation
from lerf3d.capture.summary import COLOUR_FRAMES_KEY, DROPPED_KEY, dropped_note
from lerf3d.types import Capture, Frame, Intrinsics

TUM_DEPTH_SCALE = 1.0 / 5000.0
"""Metres per depth unit: TUM stores depth scaled by 5000 (dataset file-format page)."""

FREIBURG1_INTRINSICS = Intrinsics(fx=517.3, fy=516.5, cx=318.6, cy=255.3, width=640, height=480)
"""TUM's calibration of the Freiburg 1 colour camera (dataset camera-calibration page)."""
FREIBURG_INTRINSICS = {
    1: FREIBURG1_INTRINSICS,
    2: Intrinsics(fx=520.9, fy=521.0, cx=325.1, cy=249.7, width=640, height=480),
    3: Intrinsics(fx=535.4, fy=539.2, cx=320.1, cy=247.6, width=640, height=480),
}
"""TUM's published colour-camera calibrations of its three sensors (dataset camera-calibration page)."""
FREIBURG_NAME = re.compile(r"freiburg([123])", re.IGNORECASE)
"""How TUM names a sequence's sensor: rgbd_dataset_freiburg<N>_<scene>."""

TUM_MAX_TIME_DIFFERENCE = 0.02
"""Seconds: largest gap accepted when pairing streams (TUM associate.py's default)."""

POSE_FIELDS = ("tx", "ty", "tz", "qx", "qy", "qz", "qw")
"""Columns of groundtruth.txt after the timestamp."""

CAMERA_FILE = "camera.txt"
"""Optional intrinsics file: "fx fy cx cy [width height]"."""


def is_tum(path: Path) -> bool:
    """True for a folder with rgb.txt, depth.txt and groundtruth.txt."""
    path = Path(path)
    return all((path / name).is_file() for name in ("rgb.txt", "depth.txt", "groundtruth.txt"))


def read_tum(
    path: Path,
    intrinsics: Intrinsics | IntrinsicsOverride | None = None,
    max_time_difference: float = TUM_MAX_TIME_DIFFERENCE,
) -> Capture:
    """Read a TUM RGB-D sequence folder into a Capture (intrinsics: see the module docstring)."""
    path, intrinsics = Path(path), as_override(intrinsics)
    rgb = read_timestamped(path / "rgb.txt", columns=1)
    depth = read_timestamped(path / "depth.txt", columns=1)
    truth = read_timestamped(path / "groundtruth.txt", columns=7)
    depth_times = np.array([t for t, _ in depth])
    truth_times = np.array([t for t, _ in truth])
    matched, without_pose, without_depth = [], [], []
    for stamp, (rgb_name,) in rgb:
        rgb_path = inside_folder(path, rgb_name, f"{path / 'rgb.txt'} (timestamp {stamp})")
        d = _nearest(depth_times, stamp, max_time_difference)
        g = _nearest(truth_times, stamp, max_time_difference)
        if g is None:
            without_pose.append(rgb_path.stem)
        elif d is None:
            without_depth.append(rgb_path.stem)
        else:
            matched.append((rgb_path, d, g))
    frames, info = [], {}
    if matched:  # without a frame there is no camera to name (validation reports the empty capture)
        camera, source = _camera(path, intrinsics, matched[0][0])
        info[INTRINSICS_KEY] = describe_intrinsics(camera, source)
    for rgb_path, d, g in matched:
        where = f"{path / 'groundtruth.txt'} (timestamp {truth[g][0]})"
        values = np.array([field_number(v, name, where) for v, name in zip(truth[g][1], POSE_FIELDS)])
        frames.append(
            Frame(
                name=rgb_path.stem,
                rgb_path=rgb_path,
                depth_path=inside_folder(path, depth[d][1][0], f"{path / 'depth.txt'} (timestamp {depth[d][0]})"),
                intrinsics=camera,
                camera_to_world=pose_from_quat_translation(values[3:7], values[0:3]),
                depth_scale=TUM_DEPTH_SCALE,
            )
        )
    tolerance = f"within {max_time_difference:g} s"
    info |= {
        "sequence": path.name,
        "unmatched_frames": str(len(without_pose) + len(without_depth)),
        COLOUR_FRAMES_KEY: str(len(rgb)),
        DROPPED_KEY: dropped_note(
            {f"without a pose {tolerance}": without_pose, f"without depth {tolerance}": without_depth}
        ),
    }
    return Capture(root=path, frames=tuple(frames), source_format="tum", metadata=info)


def _camera(path: Path, override: IntrinsicsOverride | None, first_rgb: Path) -> tuple[Intrinsics, str]:
    """The sequence's camera and where it came from (see the module docstring for the order)."""
    if override is not None:
        return override.resolve(first_rgb), override.source
    from_file = _camera_file(path / CAMERA_FILE)
    if from_file is not None:
        return from_file, str(path / CAMERA_FILE)
    name = Path(os.path.abspath(path)).name  # "." names no sequence; the folder it stands for does
    match = FREIBURG_NAME.search(name)
    if match is None:
        raise CaptureError(
            f"{path}: TUM files do not state the camera, and the folder name does not say which sensor "
            "(freiburg1/2/3) recorded it; pass --intrinsics fx,fy,cx,cy (or a JSON file), or keep TUM's "
            "folder name (e.g. rgbd_dataset_freiburg1_xyz)"
        )
    sensor = int(match.group(1))
    return FREIBURG_INTRINSICS[sensor], f"TUM's Freiburg {sensor} calibration (folder name {name})"


def read_timestamped(path: Path, columns: int) -> list[tuple[float, list[str]]]:
    """``(timestamp, fields)`` rows of a TUM list file, sorted by time; comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
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
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptureError(f"{path}: unreadable ({exc})") from exc
    for line in lines:
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
