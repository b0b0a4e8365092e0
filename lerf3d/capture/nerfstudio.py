"""Reader for nerfstudio captures: ``transforms.json`` with optional per-frame depth.

Layout (paths in the JSON are relative to the JSON's folder)::

    transforms.json   {"fl_x", "fl_y", "cx", "cy", "w", "h",      global intrinsics (pixels)
                       "depth_unit_scale_factor": 0.001,         metres per stored depth unit
                       "frames": [{"file_path": "images/frame_00001.png",
                                   "depth_file_path": "depth/frame_00001.png",   optional
                                   "transform_matrix": 4x4 camera-to-world,
                                   "fl_x", ...: optional per-frame intrinsics}, ...]}
    images/ depth/    16-bit PNG depth (or .npy), each multiplied by depth_unit_scale_factor

``transform_matrix`` uses the OpenGL camera convention (y up, looking down -z); it is converted to
OpenCV with ``T_cv = T_gl @ diag(1, -1, -1, 1)``. The world frame is kept as written (lerf3d's own
room generator writes a Z-up world). Lens distortion coefficients are not applied: lerf3d assumes
undistorted pinhole images, as nerfstudio's ``ns-process-data`` produces; the camera model is
recorded in ``Capture.metadata``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lerf3d.capture.calibration import INTRINSICS_KEY, describe_intrinsics, field_number, field_pixels
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import image_size, inside_folder
from lerf3d.geometry import opengl_to_opencv
from lerf3d.types import Capture, Frame, Intrinsics

TRANSFORMS_NAME = "transforms.json"
"""File name nerfstudio gives its capture description."""

NERFSTUDIO_DEFAULT_DEPTH_SCALE = 1e-3
"""nerfstudio's default ``depth_unit_scale_factor``: depth PNGs in millimetres."""

INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h")
"""Keys nerfstudio accepts globally or per frame (a frame's value wins)."""


def is_nerfstudio(path: Path) -> bool:
    """True for a ``transforms.json`` file or a folder holding one."""
    path = Path(path)
    return (path.is_file() and path.name.endswith(".json")) or (path / TRANSFORMS_NAME).is_file()


def read_nerfstudio(path: Path) -> Capture:
    """Read a nerfstudio capture (the folder, or its ``transforms.json``) into a Capture."""
    path = Path(path)
    json_path = path if path.is_file() else path / TRANSFORMS_NAME
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{json_path}: unreadable transforms file ({exc})") from exc
    except RecursionError:
        raise CaptureError(f"{json_path}: unreadable transforms file (JSON nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CaptureError(f"{json_path}: expected a JSON object with a 'frames' list, got a {type(meta).__name__}")
    if not isinstance(meta.get("frames"), list):
        raise CaptureError(f"{json_path}: no 'frames' list")
    folder = json_path.parent
    depth_scale = field_number(
        meta.get("depth_unit_scale_factor", NERFSTUDIO_DEFAULT_DEPTH_SCALE), "depth_unit_scale_factor", str(json_path)
    )
    frames = tuple(
        _read_frame(entry, index, meta, folder, depth_scale, json_path) for index, entry in enumerate(meta["frames"])
    )
    info = {"camera_model": str(meta.get("camera_model", "PINHOLE"))}
    if frames:
        info[INTRINSICS_KEY] = describe_intrinsics(frames[0].intrinsics, str(json_path))
    return Capture(root=folder, frames=frames, source_format="nerfstudio", metadata=info)


def _read_frame(entry: object, index: int, meta: dict, folder: Path, depth_scale: float, json_path: Path) -> Frame:
    where = f"{json_path}: frames[{index}]"
    if not isinstance(entry, dict):
        raise CaptureError(f"{where} is {entry!r}, expected an object with file_path and transform_matrix")
    if "file_path" not in entry or "transform_matrix" not in entry:
        raise CaptureError(f"{where} lacks 'file_path' or 'transform_matrix'")
    rgb_path = inside_folder(folder, entry["file_path"], f"{where}.file_path")
    depth_path = None
    if entry.get("depth_file_path"):
        depth_path = inside_folder(folder, entry["depth_file_path"], f"{where}.depth_file_path")
    try:
        pose_gl = np.asarray(entry["transform_matrix"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CaptureError(f"{where}.transform_matrix is not a matrix of numbers ({exc})") from None
    if pose_gl.shape == (3, 4):  # some writers drop the constant last row
        pose_gl = np.vstack([pose_gl, [0.0, 0.0, 0.0, 1.0]])
    if pose_gl.shape != (4, 4):
        raise CaptureError(f"{where}.transform_matrix has shape {pose_gl.shape}, expected 4x4")
    return Frame(
        name=Path(entry["file_path"]).stem,
        rgb_path=rgb_path,
        depth_path=depth_path,
        intrinsics=_frame_intrinsics(entry, meta, rgb_path, where),
        camera_to_world=opengl_to_opencv(pose_gl),
        depth_scale=depth_scale,
    )


def _frame_intrinsics(entry: dict, meta: dict, rgb_path: Path, where: str) -> Intrinsics:
    values = {key: entry.get(key, meta.get(key)) for key in INTRINSIC_KEYS}
    if values["w"] is None or values["h"] is None:
        values["w"], values["h"] = image_size(rgb_path)  # nerfstudio also falls back to the image
    missing = [key for key in ("fl_x", "fl_y", "cx", "cy") if values[key] is None]
    if missing:
        raise CaptureError(f"{where} ({entry['file_path']}) has no intrinsics {missing}")
    fx, fy, cx, cy = (field_number(values[key], key, where) for key in ("fl_x", "fl_y", "cx", "cy"))
    width, height = (field_pixels(values[key], key, where) for key in ("w", "h"))
    return Intrinsics(fx=fx, fy=fy, cx=cx, cy=cy, width=width, height=height)
