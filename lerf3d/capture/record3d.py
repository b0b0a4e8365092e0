"""Reader for Record3D exports (iPhone/iPad LiDAR): a ``.r3d`` zip archive or its unzipped folder.

Layout (members of the zip, or files of the folder)::

    metadata          JSON: "w", "h" RGB size; "dw", "dh" depth size; "K" the RGB calibration
                      matrix as 9 floats in column-major order; "fps"; "poses" one
                      [qx, qy, qz, qw, px, py, pz] camera-to-world per frame
    rgbd/0.jpg ...    colour images, one per pose, numbered from 0
    rgbd/0.depth ...  depth: float32 metres, dh x dw row-major, LZFSE-compressed
    rgbd/0.conf ...   ARKit confidence (not read)

Poses are ARKit's: an OpenGL camera (y up, looking down -z) in a gravity-aligned **Y-up** world.
They are converted to lerf3d's OpenCV camera in a **Z-up** world:
``T = Y_UP_TO_Z_UP @ T_arkit @ diag(1, -1, -1, 1)``.

LZFSE decompression needs the PyPI package ``pyliblzfse`` (module ``liblzfse``). Depth files stored
uncompressed (exactly dw * dh * 4 bytes) are read without it.
"""

from __future__ import annotations

import json
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from lerf3d.capture.calibration import INTRINSICS_KEY, describe_intrinsics, field_pixels
from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import read_bytes, split_archive_path
from lerf3d.capture.poses import Y_UP_TO_Z_UP, pose_from_quat_translation
from lerf3d.geometry import opengl_to_opencv
from lerf3d.types import Capture, Frame, Intrinsics

METADATA_NAMES = ("metadata", "metadata.json")
"""Name of Record3D's metadata file (no extension in the app's exports)."""

RECORD3D_DEPTH_SCALE = 1.0
"""Record3D depth is already float32 metres."""

LZFSE_MAGIC = b"bvx"
"""Every LZFSE block header starts with these bytes (bvx1/bvx2/bvxn/bvx-/bvx$)."""


def is_record3d(path: Path) -> bool:
    """True for a ``.r3d``/zip archive holding a Record3D metadata file, or such a folder."""
    path = Path(path)
    if path.is_dir():
        return (path / "rgbd").is_dir() and any((path / n).is_file() for n in METADATA_NAMES)
    if path.is_file() and zipfile.is_zipfile(path):
        return _metadata_member(path) is not None
    return False


def read_record3d(path: Path) -> Capture:
    """Read a Record3D ``.r3d`` archive or unzipped export folder into a Capture."""
    path = Path(path)
    base, meta = _locate_and_parse(path)
    where = str(base / METADATA_NAMES[0])
    try:
        width, height = (field_pixels(meta[key], key, where) for key in ("w", "h"))
        k = np.asarray(meta["K"], dtype=np.float64).reshape(3, 3).T  # column-major on disk
        poses = np.asarray(meta["poses"], dtype=np.float64).reshape(-1, 7)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, CaptureError):
            raise
        raise CaptureError(f"{where}: malformed Record3D metadata ({type(exc).__name__}: {exc})") from None
    intrinsics = Intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], width, height)
    frames = []
    for i, pose in enumerate(poses):
        arkit = pose_from_quat_translation(pose[:4], pose[4:])
        frames.append(
            Frame(
                name=str(i),
                rgb_path=base / "rgbd" / f"{i}.jpg",
                depth_path=base / "rgbd" / f"{i}.depth",
                intrinsics=intrinsics,
                camera_to_world=Y_UP_TO_Z_UP @ opengl_to_opencv(arkit),
                depth_scale=RECORD3D_DEPTH_SCALE,
            )
        )
    info = {
        "fps": str(meta.get("fps", "")),
        "device": str(meta.get("cameraType", "")),
        INTRINSICS_KEY: describe_intrinsics(intrinsics, f"K in {where}"),
    }
    return Capture(root=path, frames=tuple(frames), source_format="record3d", metadata=info)


def record3d_depth_size(depth_path: Path) -> tuple[int, int]:
    """``(dw, dh)`` of a Record3D depth file, from the metadata of its export."""
    base = Path(depth_path).parent.parent
    _, meta = _cached_metadata(str(base), _metadata_stamp(base))
    if "dw" not in meta or "dh" not in meta:
        raise CaptureError(f"{base}: Record3D metadata lacks the depth size dw/dh")
    return tuple(field_pixels(meta[key], key, f"{base / METADATA_NAMES[0]}") for key in ("dw", "dh"))


def decode_record3d_depth(data: bytes, width: int, height: int, path: Path) -> np.ndarray:
    """(height, width) float32 metres from the bytes of a ``.depth`` file (LZFSE or raw)."""
    expected = width * height * 4
    if len(data) != expected:
        if not data.startswith(LZFSE_MAGIC):
            raise CaptureError(
                f"{path}: {len(data)} bytes is neither LZFSE data nor a raw {width}x{height} float32 map"
            )
        data = _lzfse_decompress(data, path)
    if len(data) != expected:
        raise CaptureError(
            f"{path}: decompressed to {len(data)} bytes, expected {expected} ({width}x{height} float32)"
        )
    return np.frombuffer(data, dtype="<f4").reshape(height, width).copy()  # (dh, dw)


def _lzfse_decompress(data: bytes, path: Path) -> bytes:
    try:
        import liblzfse  # optional: only compressed Record3D depth needs it
    except ImportError:
        raise CaptureError(
            f"{path}: LZFSE-compressed Record3D depth needs the package 'pyliblzfse' "
            "(pip install pyliblzfse)"
        ) from None
    try:
        return liblzfse.decompress(data)
    except Exception as exc:  # liblzfse raises its own error type, not exported
        raise CaptureError(f"{path}: corrupt LZFSE depth data ({exc})") from exc


def _metadata_member(archive: Path) -> str | None:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    for name in sorted(names, key=len):  # the shallowest one: some zips wrap a top-level folder
        if name.rsplit("/", 1)[-1] in METADATA_NAMES:
            return name
    return None


def _locate_and_parse(path: Path) -> tuple[Path, dict]:
    """The base path frames hang off (a folder, or a virtual path inside the archive) and metadata."""
    if path.is_dir():
        base = path
    elif path.is_file() and zipfile.is_zipfile(path):
        member = _metadata_member(path)
        if member is None:
            raise CaptureError(f"{path}: zip archive has no Record3D 'metadata' file")
        base = path / member.rsplit("/", 1)[0] if "/" in member else path
    else:
        raise CaptureError(f"{path}: neither a Record3D folder nor a .r3d archive")
    return _cached_metadata(str(base), _metadata_stamp(base))


def _metadata_stamp(base: Path) -> int:
    """Modification time of whatever holds the metadata (the archive, or the file itself)."""
    inside = split_archive_path(base / METADATA_NAMES[0])
    if inside is not None:
        return inside[0].stat().st_mtime_ns
    stamps = [(base / n).stat().st_mtime_ns for n in METADATA_NAMES if (base / n).is_file()]
    return max(stamps, default=0)


@lru_cache(maxsize=8)
def _cached_metadata(base: str, mtime_ns: int) -> tuple[Path, dict]:
    """Parsed metadata of an export; cached because every depth load needs dw/dh from it and a long
    capture's metadata (thousands of poses) is not free to parse. ``mtime_ns`` invalidates it."""
    del mtime_ns  # part of the cache key only
    for name in METADATA_NAMES:
        candidate = Path(base) / name
        try:
            text = read_bytes(candidate)
        except CaptureError:
            continue
        try:
            meta = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise CaptureError(f"{candidate}: metadata is not valid JSON ({type(exc).__name__})") from None
        if not isinstance(meta, dict):
            raise CaptureError(f"{candidate}: metadata is a JSON {type(meta).__name__}, expected an object")
        return Path(base), meta
    raise CaptureError(f"{base}: no Record3D metadata file ({' or '.join(METADATA_NAMES)})")
