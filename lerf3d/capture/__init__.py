"""Capture readers: a posed RGB-D recording on disk -> :class:`lerf3d.types.Capture`.

Supported formats (one module each, its docstring describes the layout): nerfstudio
``transforms.json``, Record3D ``.r3d`` (zipped or not), ScanNet SensReader exports, TUM RGB-D and
NICE-SLAM Replica. Every problem is reported as :class:`CaptureError` naming the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lerf3d.capture.calibration import (
    INTRINSICS_KEY,
    OVERRIDE_KEY,
    IntrinsicsOverride,
    as_override,
    describe_intrinsics,
    parse_intrinsics,
)
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.io import load_depth, load_rgb, resize_depth_nearest
from lerf3d.capture.nerfstudio import is_nerfstudio, read_nerfstudio
from lerf3d.capture.record3d import is_record3d, read_record3d
from lerf3d.capture.replica import is_replica, read_replica
from lerf3d.capture.scannet import is_scannet, read_scannet
from lerf3d.capture.summary import frames_summary
from lerf3d.capture.tum import is_tum, read_tum
from lerf3d.capture.validate import validate_capture
from lerf3d.types import Capture, Intrinsics

FORMATS = ("nerfstudio", "record3d", "scannet", "tum", "replica")
"""Format names accepted by :func:`load_capture` (besides "auto")."""

_DETECTORS = (
    ("record3d", is_record3d),
    ("scannet", is_scannet),
    ("tum", is_tum),
    ("replica", is_replica),
    ("nerfstudio", is_nerfstudio),  # last: its file test (any .json) is the loosest
)

def detect_format(path: Path) -> str:
    """The format of the capture at ``path``; CaptureError saying what was looked for otherwise."""
    path = Path(path)
    if not path.exists():
        raise CaptureError(f"{path}: no such file or folder")
    for name, detector in _DETECTORS:
        if detector(path):
            return name
    raise CaptureError(
        f"{path}: unrecognised capture; expected transforms.json (nerfstudio), a .r3d archive or folder "
        "with metadata + rgbd/ (record3d), color/ pose/ intrinsic/ (scannet), rgb.txt depth.txt "
        "groundtruth.txt (tum), or traj.txt + results/ (replica)"
    )


def load_capture(
    path: Path | str,
    format: str = "auto",
    validate: bool = True,
    check_images: bool = True,
    intrinsics: Intrinsics | IntrinsicsOverride | None = None,
) -> Capture:
    """Read the capture at ``path``.

    Args:
        path: capture folder, ``transforms.json`` or ``.r3d`` file.
        format: one of :data:`FORMATS`, or "auto" to detect it.
        validate: run :func:`validate_capture` before returning.
        check_images: let validation read image headers and depth maps (slower, catches more).
        intrinsics: camera replacing the one the files state or imply (``--intrinsics``); an
            :class:`IntrinsicsOverride` without a size takes the colour images' size.
    """
    path = Path(path)
    name = detect_format(path) if format == "auto" else format
    if name not in FORMATS:
        raise CaptureError(f"{path}: unknown capture format {format!r}; choose from {FORMATS} or 'auto'")
    intrinsics = as_override(intrinsics)
    if name == "tum":
        capture = read_tum(path, intrinsics=intrinsics)
    elif name == "replica":
        capture = read_replica(path, intrinsics=intrinsics)
    else:
        readers = {"nerfstudio": read_nerfstudio, "record3d": read_record3d, "scannet": read_scannet}
        capture = readers[name](path)
        if intrinsics is not None and capture.frames:
            capture = _with_intrinsics(capture, intrinsics)
    if intrinsics is not None:  # recorded for whoever reopens the capture (a run's later commands)
        capture = dataclasses.replace(capture, metadata={**capture.metadata, OVERRIDE_KEY: dataclasses.asdict(intrinsics)})
    if validate:
        validate_capture(capture, check_images=check_images)
    return capture


def _with_intrinsics(capture: Capture, override: IntrinsicsOverride) -> Capture:
    """Every frame given the override's camera (sized on the first colour image when it has no size)."""
    camera = override.resolve(capture.frames[0].rgb_path)
    frames = tuple(dataclasses.replace(frame, intrinsics=camera) for frame in capture.frames)
    metadata = {**capture.metadata, INTRINSICS_KEY: describe_intrinsics(camera, override.source)}
    return dataclasses.replace(capture, frames=frames, metadata=metadata)


__all__ = [
    "FORMATS",
    "CaptureError",
    "IntrinsicsOverride",
    "detect_format",
    "frames_summary",
    "load_capture",
    "load_depth",
    "load_rgb",
    "parse_intrinsics",
    "resize_depth_nearest",
    "validate_capture",
]
