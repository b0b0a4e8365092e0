"""Checks that a Capture is usable, with one error type whose message names the file and the problem.

Cheap checks (names, poses, intrinsics) always run; ``check_images`` adds a header read of every RGB
image and a full read of every depth map (depth has to be decoded to know it is not empty and is in
sensible units).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from lerf3d.capture.calibration import INTRINSICS_KEY
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import image_size
from lerf3d.capture.io import load_depth
from lerf3d.types import Capture, Frame, Intrinsics

ROTATION_TOLERANCE = 1e-3
"""Largest |R^T R - I| entry and |det R - 1| accepted: text formats print 6 digits, well inside it."""

LAST_ROW_TOLERANCE = 1e-6
"""Largest deviation of a pose's last row from (0, 0, 0, 1)."""

ASPECT_TOLERANCE = 0.01
"""Relative aspect-ratio mismatch accepted between depth and RGB (ScanNet's 640x480 depth under
1296x968 colour differs by 0.45 %)."""

ROOM_DEPTH_RANGE_M = (0.05, 100.0)
"""A median valid depth outside this range (metres) cannot be a room: the depth scale is wrong."""

TYPICAL_ROOM_DEPTH_M = 2.5
"""Median depth a suggested scale should land closest to (a few metres across a room)."""

COMMON_DEPTH_SCALES = {
    "metres": 1.0,
    "millimetres": 1e-3,
    "TUM units (1/5000 m)": 1 / 5000,
    "Replica units (1/6553.5 m)": 1 / 6553.5,
    "0.1 mm": 1e-4,
}
"""Metres per stored unit of the depth encodings met in practice, offered as fixes."""


def validate_capture(capture: Capture, check_images: bool = True) -> None:
    """Raise CaptureError at the first problem found; return None for a usable capture."""
    if not capture.frames:
        raise CaptureError(f"{capture.root}: capture has no frames")
    _check_unique_names(capture)
    for frame in capture.frames:
        check_pose(frame)
        check_intrinsics(frame)
    if check_images:
        medians = []
        for frame in capture.frames:
            check_rgb(frame, capture.metadata.get(INTRINSICS_KEY))
            if frame.depth_path is not None:
                medians.append((frame, check_depth(frame)))
        if medians:
            check_depth_units(capture, medians)


def check_pose(frame: Frame) -> None:
    """The camera-to-world is finite and rigid: orthonormal rotation with det +1, last row 0 0 0 1."""
    pose = frame.camera_to_world
    where = f"frame {frame.name} ({frame.rgb_path})"
    if not np.isfinite(pose).all():
        raise CaptureError(f"{where}: pose has NaN or infinite entries")
    if np.abs(pose[3] - [0.0, 0.0, 0.0, 1.0]).max() > LAST_ROW_TOLERANCE:
        raise CaptureError(f"{where}: pose last row is {pose[3].tolist()}, expected [0, 0, 0, 1]")
    rotation = pose[:3, :3]
    orthonormal_error = np.abs(rotation.T @ rotation - np.eye(3)).max()
    det = np.linalg.det(rotation)
    if orthonormal_error > ROTATION_TOLERANCE or abs(det - 1.0) > ROTATION_TOLERANCE:
        raise CaptureError(
            f"{where}: pose is not rigid (|R^T R - I| = {orthonormal_error:.3g}, det R = {det:.4f}); "
            "a scaled or mirrored transform cannot be a camera pose"
        )


def check_intrinsics(frame: Frame) -> None:
    """Positive finite focal lengths, positive size, principal point inside the image."""
    k: Intrinsics = frame.intrinsics
    where = f"frame {frame.name} ({frame.rgb_path})"
    if k.width <= 0 or k.height <= 0:
        raise CaptureError(f"{where}: image size {k.width}x{k.height} in intrinsics is not positive")
    if not (np.isfinite([k.fx, k.fy]).all() and k.fx > 0 and k.fy > 0):
        raise CaptureError(f"{where}: focal lengths fx={k.fx}, fy={k.fy} must be positive")
    if not (0.0 <= k.cx <= k.width and 0.0 <= k.cy <= k.height):
        raise CaptureError(
            f"{where}: principal point ({k.cx}, {k.cy}) lies outside the {k.width}x{k.height} image"
        )


def check_rgb(frame: Frame, intrinsics_source: str | None = None) -> None:
    """The colour image exists, has a readable header, and matches the intrinsics' size.

    ``intrinsics_source`` (the capture's ``metadata["intrinsics"]``) is quoted on a size mismatch,
    since the usual cause is a default camera that is not this one.
    """
    width, height = image_size(frame.rgb_path)  # CaptureError naming the file if missing/unreadable
    k = frame.intrinsics
    if (width, height) != (k.width, k.height):
        used = f" (intrinsics {intrinsics_source})" if intrinsics_source else ""
        raise CaptureError(
            f"{frame.rgb_path}: image is {width}x{height} but its intrinsics say {k.width}x{k.height}{used}; "
            "pass this camera's --intrinsics fx,fy,cx,cy (or a JSON file)"
        )


def check_depth(frame: Frame) -> float:
    """Depth is readable, has the RGB aspect ratio and some valid pixels; returns its median (m)."""
    depth = load_depth(frame)
    depth_h, depth_w = depth.shape
    k = frame.intrinsics
    rgb_aspect, depth_aspect = k.width / k.height, depth_w / depth_h
    if abs(depth_aspect / rgb_aspect - 1.0) > ASPECT_TOLERANCE:
        raise CaptureError(
            f"{frame.depth_path}: depth is {depth_w}x{depth_h}, incompatible with the "
            f"{k.width}x{k.height} RGB image (aspect ratios differ)"
        )
    valid = depth[depth > 0]
    if valid.size == 0:
        raise CaptureError(f"{frame.depth_path}: depth has no valid pixel (all zero or NaN)")
    return float(np.median(valid))


def check_depth_units(capture: Capture, medians: list[tuple[Frame, float]]) -> None:
    """The capture's median depth is room-sized; otherwise suggest the scale that would make it so."""
    overall = float(np.median([m for _, m in medians]))
    low, high = ROOM_DEPTH_RANGE_M
    if low <= overall <= high:
        return
    frame = medians[0][0]
    stored = overall / frame.depth_scale  # median in the file's own units
    name, scale = min(
        COMMON_DEPTH_SCALES.items(),
        key=lambda item: abs(np.log(stored * item[1] / TYPICAL_ROOM_DEPTH_M)),
    )
    raise CaptureError(
        f"{frame.depth_path} (and the rest of {capture.root}): median depth {overall:.4g} m is not a "
        f"room (expected {low}-{high} m): depth_scale {frame.depth_scale:g} looks wrong; "
        f"if the depth is in {name}, depth_scale {scale:g} gives {stored * scale:.3g} m"
    )


def _check_unique_names(capture: Capture) -> None:
    counts = Counter(frame.name for frame in capture.frames)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        paths = [str(f.rgb_path) for f in capture.frames if f.name == duplicates[0]]
        raise CaptureError(
            f"{capture.root}: duplicate frame names {duplicates[:5]} (frame {duplicates[0]!r}: {paths})"
        )
