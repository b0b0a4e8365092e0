"""Reader for ScanNet frames exported by its SensReader tool.

Layout::

    color/0.jpg ...                 colour (1296x968 in ScanNet v2)
    depth/0.png ...                 16-bit depth in millimetres (640x480), registered to colour
    pose/0.txt ...                  4x4 camera-to-world, OpenCV camera convention, 4 rows of text
    intrinsic/intrinsic_color.txt   4x4 matrix whose upper-left 3x3 is K of the colour camera
    intrinsic/intrinsic_depth.txt   the same for the depth image (not needed: see below)

Frames are ordered by their integer number. ScanNet writes ``-inf`` poses where its tracking was
lost; those frames are skipped and counted in ``Capture.metadata["skipped_frames"]`` rather than
failing the whole scan. Depth keeps its own resolution (see :mod:`lerf3d.capture.io`); its camera is
the colour camera scaled to the depth size, which matches ScanNet's ``intrinsic_depth`` to within a
pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerf3d.capture.calibration import INTRINSICS_KEY, describe_intrinsics
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import image_size
from lerf3d.capture.summary import COLOUR_FRAMES_KEY, DROPPED_KEY, dropped_note
from lerf3d.types import Capture, Frame, Intrinsics

SCANNET_DEPTH_SCALE = 1e-3
"""ScanNet depth PNGs store millimetres."""

COLOR_EXTENSIONS = (".jpg", ".jpeg", ".png")
"""Colour image types SensReader (and its forks) export."""


def is_scannet(path: Path) -> bool:
    """True for a folder with ScanNet's color/, pose/ and intrinsic/ sub-folders."""
    path = Path(path)
    return all((path / sub).is_dir() for sub in ("color", "pose", "intrinsic"))


def read_scannet(path: Path) -> Capture:
    """Read an exported ScanNet scene folder into a Capture."""
    path = Path(path)
    if not (path / "color").is_dir():
        raise CaptureError(f"{path / 'color'}: no such folder (ScanNet exports colour images there)")
    colors = sorted(
        (p for p in (path / "color").iterdir() if p.suffix.lower() in COLOR_EXTENSIONS),
        key=lambda p: _frame_number(p),
    )
    if not colors:
        raise CaptureError(f"{path / 'color'}: no colour images")
    k_path = path / "intrinsic" / "intrinsic_color.txt"
    k = read_matrix_file(k_path)
    width, height = image_size(colors[0])  # the intrinsics file does not state the image size
    intrinsics = Intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], width, height)
    frames, lost, without_pose = [], [], []
    for rgb_path in colors:
        pose_path = path / "pose" / f"{rgb_path.stem}.txt"
        if not pose_path.is_file():
            without_pose.append(rgb_path.stem)
            continue
        pose = read_matrix_file(pose_path)
        if np.isinf(pose).any():  # ScanNet's marker for lost tracking
            lost.append(rgb_path.stem)
            continue
        depth_path = path / "depth" / f"{rgb_path.stem}.png"
        frames.append(
            Frame(
                name=rgb_path.stem,
                rgb_path=rgb_path,
                depth_path=depth_path if depth_path.is_file() else None,
                intrinsics=intrinsics,
                camera_to_world=pose,
                depth_scale=SCANNET_DEPTH_SCALE,
            )
        )
    info = {
        "scene": path.name,
        "skipped_frames": str(len(lost) + len(without_pose)),
        COLOUR_FRAMES_KEY: str(len(colors)),
        DROPPED_KEY: dropped_note({"without a pose file": without_pose, "with lost tracking (-inf pose)": lost}),
        INTRINSICS_KEY: describe_intrinsics(intrinsics, str(k_path)),
    }
    return Capture(root=path, frames=tuple(frames), source_format="scannet", metadata=info)


def read_matrix_file(path: Path) -> np.ndarray:
    """A 4x4 matrix written as 4 whitespace-separated rows; CaptureError naming the file otherwise."""
    try:
        matrix = np.loadtxt(path, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise CaptureError(f"{path}: unreadable matrix file ({type(exc).__name__}: {exc})") from None
    if matrix.shape != (4, 4):
        raise CaptureError(f"{path}: expected a 4x4 matrix, got shape {matrix.shape}")
    return matrix


def _frame_number(path: Path) -> tuple[int, str]:
    stem = path.stem
    return (int(stem), stem) if stem.isascii() and stem.isdigit() else (10**12, stem)
