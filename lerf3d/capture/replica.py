"""Reader for the Replica sequences rendered for NICE-SLAM (also used by many RGB-D SLAM papers).

Layout::

    results/frame000000.jpg ...   colour, 1200x680
    results/depth000000.png ...   16-bit depth, 6553.5 units per metre
    traj.txt                      one camera-to-world per line: 16 numbers, a row-major 4x4,
                                  OpenCV camera convention; line i belongs to frame i
    cam_params.json               optional: {"camera": {"w", "h", "fx", "fy", "cx", "cy", "scale"}};
                                  the download keeps it in the parent folder (Replica/cam_params.json
                                  beside Replica/room0/), so both places are searched

The camera is, in order: the ``intrinsics`` argument (``--intrinsics``), ``cam_params.json``, or
the NICE-SLAM Replica camera.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lerf3d.capture.calibration import (
    INTRINSICS_KEY,
    IntrinsicsOverride,
    as_override,
    describe_intrinsics,
    field_number,
    field_pixels,
)
from lerf3d.capture.errors import CaptureError
from lerf3d.types import Capture, Frame, Intrinsics

REPLICA_INTRINSICS = Intrinsics(fx=600.0, fy=600.0, cx=599.5, cy=339.5, width=1200, height=680)
"""NICE-SLAM's Replica camera (configs/Replica/replica.yaml)."""

REPLICA_DEPTH_UNITS_PER_METRE = 6553.5
"""NICE-SLAM's Replica ``png_depth_scale``: 16-bit depth covers 0-10 m."""

CAM_PARAMS = "cam_params.json"
"""Optional camera description shipped with the Replica download."""


def is_replica(path: Path) -> bool:
    """True for a folder with traj.txt and a results/ folder."""
    path = Path(path)
    return (path / "traj.txt").is_file() and (path / "results").is_dir()


def read_replica(path: Path, intrinsics: Intrinsics | IntrinsicsOverride | None = None) -> Capture:
    """Read a NICE-SLAM Replica sequence folder into a Capture."""
    path, intrinsics = Path(path), as_override(intrinsics)
    colors = sorted((path / "results").glob("frame*.jpg")) or sorted((path / "results").glob("frame*.png"))
    if not colors:
        raise CaptureError(f"{path / 'results'}: no frame*.jpg colour images")
    poses = _read_trajectory(path / "traj.txt")
    if len(poses) < len(colors):
        raise CaptureError(f"{path / 'traj.txt'}: {len(poses)} poses for {len(colors)} frames")
    units_per_metre = REPLICA_DEPTH_UNITS_PER_METRE
    camera, source = REPLICA_INTRINSICS, "NICE-SLAM's Replica camera (no cam_params.json found)"
    download = Path(os.path.abspath(path)).parent  # the parent of "." is the folder above it
    params = next((p for p in (path / CAM_PARAMS, download / CAM_PARAMS) if p.is_file()), None)
    if params is not None:
        (camera, units_per_metre), source = _read_cam_params(params), str(params)
    if intrinsics is not None:
        camera, source = intrinsics.resolve(colors[0]), intrinsics.source
    frames = []
    for rgb_path, pose in zip(colors, poses):
        depth_path = rgb_path.with_name("depth" + rgb_path.stem.removeprefix("frame") + ".png")
        frames.append(
            Frame(
                name=rgb_path.stem,
                rgb_path=rgb_path,
                depth_path=depth_path if depth_path.is_file() else None,
                intrinsics=camera,
                camera_to_world=pose,
                depth_scale=1.0 / units_per_metre,
            )
        )
    info = {"scene": path.name, INTRINSICS_KEY: describe_intrinsics(camera, source)}
    return Capture(root=path, frames=tuple(frames), source_format="replica", metadata=info)


def _read_trajectory(path: Path) -> np.ndarray:
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise CaptureError(f"{path}: unreadable trajectory ({type(exc).__name__}: {exc})") from None
    if values.shape[1] != 16:
        raise CaptureError(f"{path}: expected 16 numbers per line, got {values.shape[1]}")
    return values.reshape(-1, 4, 4)  # (N, 16) -> (N, 4, 4), row-major


def _read_cam_params(path: Path) -> tuple[Intrinsics, float]:
    try:
        cam = json.loads(path.read_text())["camera"]
    except (OSError, ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise CaptureError(f"{path}: unreadable camera parameters ({type(exc).__name__})") from None
    except (KeyError, TypeError):
        raise CaptureError(f"{path}: no 'camera' object") from None
    if not isinstance(cam, dict):
        raise CaptureError(f"{path}: 'camera' is not an object")
    where = f"{path}: camera"
    missing = [key for key in ("w", "h", "fx", "fy", "cx", "cy") if key not in cam]
    if missing:
        raise CaptureError(f"{where} lacks {missing}")
    fx, fy, cx, cy = (field_number(cam[key], key, where) for key in ("fx", "fy", "cx", "cy"))
    width, height = (field_pixels(cam[key], key, where) for key in ("w", "h"))
    scale = field_number(cam.get("scale", REPLICA_DEPTH_UNITS_PER_METRE), "scale", where)
    if scale <= 0:
        raise CaptureError(f"{where}: scale must be positive depth units per metre, got {scale}")
    return Intrinsics(fx, fy, cx, cy, width, height), scale
