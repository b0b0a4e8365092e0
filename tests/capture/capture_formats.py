"""Writers of the capture formats lerf3d reads: a :class:`lerf3d.types.Capture` -> files on disk.

Test scaffolding (not shipped): the round-trip and reader tests of :mod:`lerf3d.capture`. Each writer
is the inverse of the reader of the same name (see that reader's module docstring for the layout),
up to the format's quantisation: JPEG colour (an RGB source that already is a JPEG is copied
byte-for-byte), and 16-bit depth in the format's unit (1 mm for nerfstudio and ScanNet, 0.2 mm for
TUM, 1/6553.5 m for Replica). Depth beyond a 16-bit encoding's range is written as 0, "no
measurement", rather than clipped to a wrong distance. Frames are renamed in the format's own
scheme (0, 1, ... for ScanNet and Record3D); their order is kept.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from lerf3d.capture.files import read_bytes
from lerf3d.capture.io import load_depth, load_rgb
from lerf3d.capture.poses import Y_UP_TO_Z_UP, matrix_to_quat_xyzw
from lerf3d.capture.replica import REPLICA_DEPTH_UNITS_PER_METRE
from lerf3d.capture.tum import TUM_DEPTH_SCALE
from lerf3d.geometry import opencv_to_opengl
from lerf3d.types import Capture, Frame, Intrinsics

JPEG_QUALITY = 95
"""Quality of re-encoded JPEG colour: high enough that round trips stay within a few grey levels."""

JPEG_SUBSAMPLING = 0
"""4:4:4 chroma (PIL's code 0): the default 4:2:0 smears colour across small textured images."""

MILLIMETRE = 1e-3
"""Metres per depth unit of nerfstudio's and ScanNet's 16-bit PNGs."""

UINT16_MAX = 65535
"""Largest value a 16-bit depth PNG holds."""

TUM_DEFAULT_FPS = 30.0
"""Frame rate of the Kinect streams in TUM RGB-D: spacing of the synthetic timestamps."""

TUM_START_TIME = 1305031102.0
"""Synthetic sequences start at a TUM-like Unix time, so timestamps look like the real ones."""


def write_nerfstudio(capture: Capture, out: Path) -> Path:
    """Write ``transforms.json``, images/ (PNG) and depth/ (16-bit mm PNG); returns ``out``."""
    out = Path(out)
    k0 = capture.frames[0].intrinsics
    same_camera = all(f.intrinsics == k0 for f in capture.frames)
    entries = []
    for frame in capture.frames:
        entry = {"file_path": f"images/{frame.name}.png"}
        _write_rgb(frame, out / entry["file_path"])
        if frame.depth_path is not None:
            entry["depth_file_path"] = f"depth/{frame.name}.png"
            _write_depth_png(load_depth(frame), 1.0 / MILLIMETRE, out / entry["depth_file_path"])
        entry["transform_matrix"] = opencv_to_opengl(frame.camera_to_world).tolist()
        if not same_camera:
            entry.update(_nerfstudio_intrinsics(frame.intrinsics))
        entries.append(entry)
    meta = {"camera_model": "PINHOLE", "depth_unit_scale_factor": MILLIMETRE}
    if same_camera:
        meta.update(_nerfstudio_intrinsics(k0))
    meta["frames"] = entries
    (out / "transforms.json").write_text(json.dumps(meta, indent=2))
    return out


def write_scannet(capture: Capture, out: Path) -> Path:
    """Write color/, depth/ (mm), pose/ and intrinsic/ as ScanNet's SensReader does; returns ``out``."""
    out = Path(out)
    k = _single_camera(capture, "scannet")
    depth_size = None
    for i, frame in enumerate(capture.frames):
        _write_rgb(frame, out / "color" / f"{i}.jpg")
        depth = load_depth(_require_depth(frame, "scannet"))
        depth_size = depth.shape[::-1]
        _write_depth_png(depth, 1.0 / MILLIMETRE, out / "depth" / f"{i}.png")
        _write_matrix(frame.camera_to_world, out / "pose" / f"{i}.txt")
    _write_matrix(_k4(k), out / "intrinsic" / "intrinsic_color.txt")
    _write_matrix(_k4(k.scaled(*depth_size)), out / "intrinsic" / "intrinsic_depth.txt")
    _write_matrix(np.eye(4), out / "intrinsic" / "extrinsic_color.txt")
    _write_matrix(np.eye(4), out / "intrinsic" / "extrinsic_depth.txt")
    return out


def write_tum(capture: Capture, out: Path, fps: float = TUM_DEFAULT_FPS) -> Path:
    """Write rgb/, depth/ (1/5000 m), the three list files and ``camera.txt``; returns ``out``."""
    out = Path(out)
    k = _single_camera(capture, "tum")
    rgb_lines, depth_lines, truth_lines = [], [], []
    for i, frame in enumerate(capture.frames):
        stamp = f"{TUM_START_TIME + i / fps:.6f}"
        _write_rgb(frame, out / "rgb" / f"{stamp}.png")
        depth = load_depth(_require_depth(frame, "tum"))
        _write_depth_png(depth, 1.0 / TUM_DEPTH_SCALE, out / "depth" / f"{stamp}.png")
        rgb_lines.append(f"{stamp} rgb/{stamp}.png")
        depth_lines.append(f"{stamp} depth/{stamp}.png")
        pose = frame.camera_to_world
        values = [*pose[:3, 3], *matrix_to_quat_xyzw(pose[:3, :3])]
        truth_lines.append(stamp + " " + " ".join(f"{v:.9f}" for v in values))
    header = "# written by lerf3d's capture tests\n"
    (out / "rgb.txt").write_text(header + "# timestamp filename\n" + "\n".join(rgb_lines) + "\n")
    (out / "depth.txt").write_text(header + "# timestamp filename\n" + "\n".join(depth_lines) + "\n")
    (out / "groundtruth.txt").write_text(
        header + "# timestamp tx ty tz qx qy qz qw\n" + "\n".join(truth_lines) + "\n"
    )
    (out / "camera.txt").write_text(
        f"# fx fy cx cy width height\n{k.fx!r} {k.fy!r} {k.cx!r} {k.cy!r} {k.width} {k.height}\n"
    )
    return out


def write_replica(capture: Capture, out: Path) -> Path:
    """Write results/ (JPEG + 1/6553.5 m depth), traj.txt and cam_params.json; returns ``out``."""
    out = Path(out)
    k = _single_camera(capture, "replica")
    rows = []
    for i, frame in enumerate(capture.frames):
        _write_rgb(frame, out / "results" / f"frame{i:06d}.jpg")
        depth = load_depth(_require_depth(frame, "replica"))
        _write_depth_png(depth, REPLICA_DEPTH_UNITS_PER_METRE, out / "results" / f"depth{i:06d}.png")
        rows.append(" ".join(f"{v:.17g}" for v in frame.camera_to_world.reshape(-1)))
    (out / "traj.txt").write_text("\n".join(rows) + "\n")
    camera = {"w": k.width, "h": k.height, "fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy}
    camera["scale"] = REPLICA_DEPTH_UNITS_PER_METRE
    (out / "cam_params.json").write_text(json.dumps({"camera": camera}, indent=2))
    return out


def write_record3d(capture: Capture, out: Path, zipped: bool = False, compress: bool | None = None) -> Path:
    """Write a Record3D export: a folder, or with ``zipped`` a ``.r3d`` zip archive at ``out``.

    ``compress`` LZFSE-compresses depth as the app does; the default compresses when the
    ``pyliblzfse`` package is installed and otherwise writes raw float32 (which the reader accepts).
    """
    out = Path(out)
    k = _single_camera(capture, "record3d")
    compressor = _lzfse_compressor(compress)
    members: dict[str, bytes] = {}
    depth_size = None
    poses = []
    for i, frame in enumerate(capture.frames):
        members[f"rgbd/{i}.jpg"] = _rgb_bytes(frame, ".jpg")
        depth = load_depth(_require_depth(frame, "record3d"))
        depth_size = depth.shape[::-1]
        members[f"rgbd/{i}.depth"] = compressor(depth.astype("<f4").tobytes())
        arkit = opencv_to_opengl(np.linalg.inv(Y_UP_TO_Z_UP) @ frame.camera_to_world)
        poses.append([*matrix_to_quat_xyzw(arkit[:3, :3]), *arkit[:3, 3]])
    meta = {
        "w": k.width,
        "h": k.height,
        "dw": int(depth_size[0]),
        "dh": int(depth_size[1]),
        "K": k.matrix().T.reshape(-1).tolist(),  # column-major, as Record3D stores it
        "fps": 30,
        "poses": poses,
    }
    members["metadata"] = json.dumps(meta).encode()
    if zipped:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:  # content is compressed
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        for name, data in members.items():
            _write_bytes(out / name, data)
    return out


def _nerfstudio_intrinsics(k: Intrinsics) -> dict:
    return {"fl_x": k.fx, "fl_y": k.fy, "cx": k.cx, "cy": k.cy, "w": k.width, "h": k.height}


def _single_camera(capture: Capture, format_name: str) -> Intrinsics:
    k0 = capture.frames[0].intrinsics
    if any(f.intrinsics != k0 for f in capture.frames):
        raise ValueError(f"{format_name} stores one camera per capture; {capture.root} has several")
    return k0


def _require_depth(frame: Frame, format_name: str) -> Frame:
    if frame.depth_path is None:
        raise ValueError(f"{format_name} needs depth for every frame; frame {frame.name} has none")
    return frame


def _k4(k: Intrinsics) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = k.matrix()
    return matrix


def _write_matrix(matrix: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, matrix, fmt="%.17g")


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _rgb_bytes(frame: Frame, suffix: str) -> bytes:
    """Encoded colour for a file ending in ``suffix``; the source bytes when already that type."""
    jpeg = (".jpg", ".jpeg")
    if frame.rgb_path.suffix.lower() == suffix or (suffix in jpeg and frame.rgb_path.suffix.lower() in jpeg):
        return read_bytes(frame.rgb_path)
    buffer = io.BytesIO()
    image = Image.fromarray(load_rgb(frame))
    if suffix in jpeg:
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def _write_rgb(frame: Frame, path: Path) -> None:
    _write_bytes(path, _rgb_bytes(frame, path.suffix.lower()))


def _write_depth_png(depth_m: np.ndarray, units_per_metre: float, path: Path) -> None:
    units = np.round(depth_m.astype(np.float64) * units_per_metre)
    units[(units > UINT16_MAX) | ~np.isfinite(units)] = 0  # out of range: "no measurement"
    buffer = io.BytesIO()
    Image.fromarray(units.astype(np.uint16)).save(buffer, format="PNG")
    _write_bytes(path, buffer.getvalue())


def _lzfse_compressor(compress: bool | None) -> Callable[[bytes], bytes]:
    try:
        import liblzfse  # optional: package pyliblzfse
    except ImportError:
        if compress:
            raise ImportError("compressed Record3D depth needs the package 'pyliblzfse'") from None
        return lambda data: data
    return liblzfse.compress if compress in (None, True) else (lambda data: data)
