"""Captures in the five supported formats, written by test code from each format's public description.

Independent of lerf3d: nothing here imports lerf3d or ``data_tools`` (whose writers share their
authors' reading of the specs with the readers under test). Each writer takes the same
:class:`View` list (colour, metric z-depth, K, an OpenCV camera-to-world in a Z-up world) and lays
it out as the format's own tools do:

- nerfstudio ``transforms.json`` (nerfstudio docs, "Data conventions"): OpenGL cameras (x right,
  y up, looking down -z), ``fl_x fl_y cx cy w h``, 16-bit depth PNGs scaled by
  ``depth_unit_scale_factor`` (metres per unit).
- Record3D ``.r3d`` (the app's export; record3d's own reader scripts): a zip with ``metadata``
  JSON (``w h dw dh``, ``K`` 9 floats column-major, ``poses`` [qx qy qz qw px py pz]), ARKit poses
  (OpenGL camera, gravity-aligned Y-up world), ``rgbd/N.jpg`` and LZFSE-compressed float32 metre
  depth ``rgbd/N.depth`` at a lower resolution, ``rgbd/N.conf`` confidence bytes.
- ScanNet SensReader export: ``color/N.jpg``, ``depth/N.png`` (uint16 mm, lower resolution),
  ``pose/N.txt`` (4x4 camera-to-world), ``intrinsic/intrinsic_color.txt`` (4x4 K).
- TUM RGB-D (file-formats page): ``rgb.txt``/``depth.txt`` "timestamp filename" lists with ``#``
  headers, ``groundtruth.txt`` "timestamp tx ty tz qx qy qz qw", depth PNGs at 5000 units per metre.
- Replica as rendered for NICE-SLAM: ``<scene>/results/frame%06d.jpg`` + ``depth%06d.png``
  (6553.5 units per metre), ``<scene>/traj.txt`` (row-major 4x4 per line) and the download's
  ``cam_params.json`` beside the scene folders.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from capture_scene import orbit_poses, render
from PIL import Image

FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])
"""OpenCV <-> OpenGL camera axes (right-multiplied onto a camera-to-world)."""
Z_UP_TO_Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])
"""A Z-up world point (x, y, z) seen in ARKit's Y-up world: (x, z, -y)."""


@dataclass(frozen=True)
class View:
    """One posed RGB-D image of the analytic scene."""

    rgb: np.ndarray
    """(H, W, 3) uint8."""
    depth: np.ndarray
    """(H, W) float32 z-depth in metres."""
    k: np.ndarray
    """(3, 3) pinhole calibration."""
    pose: np.ndarray
    """(4, 4) OpenCV camera-to-world in a Z-up world."""
    half_depth: np.ndarray
    """(H/2, W/2) float32 z-depth seen by a depth sensor of half the colour resolution."""


def analytic_views(count: int = 6, width: int = 64, height: int = 48) -> list[View]:
    """Exact renders of the test scene (capture_scene.py) from ``count`` orbiting cameras."""
    k = np.array([[50.0, 0.0, 31.5], [0.0, 52.0, 24.25], [0.0, 0.0, 1.0]]) * [[width / 64], [height / 48], [1]]
    views = []
    for pose in orbit_poses(count):
        rgb, depth = render(pose, k, width, height)
        _, half_depth = render(pose, k * [[0.5], [0.5], [1.0]], width // 2, height // 2)
        views.append(View(rgb, depth, k, pose, half_depth))
    return views


def quaternion_xyzw(rotation: np.ndarray) -> list[float]:
    """Unit quaternion (x, y, z, w) of a rotation matrix: the dominant eigenvector of Bar-Itzhack's
    symmetric 4x4 matrix (a different route from lerf3d's own conversion, on purpose)."""
    (xx, xy, xz), (yx, yy, yz), (zx, zy, zz) = rotation
    k = np.array(
        [
            [xx - yy - zz, yx + xy, zx + xz, zy - yz],
            [yx + xy, yy - xx - zz, zy + yz, xz - zx],
            [zx + xz, zy + yz, zz - xx - yy, yx - xy],
            [zy - yz, xz - zx, yx - xy, xx + yy + zz],
        ]
    ) / 3.0
    values, vectors = np.linalg.eigh(k)
    q = vectors[:, np.argmax(values)]
    return (q if q[3] >= 0 else -q).tolist()


def _png16(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(array).astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def _image(rgb: np.ndarray, kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=kind, **({"quality": 95} if kind == "JPEG" else {}))
    return buffer.getvalue()


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)


def write_nerfstudio(views: list[View], root: Path) -> Path:
    height, width = views[0].depth.shape
    k = views[0].k
    frames = []
    for i, view in enumerate(views):
        name = f"frame_{i + 1:05d}.png"
        _write(root / "images" / name, _image(view.rgb, "PNG"))
        _write(root / "depth" / name, _png16(view.depth * 1000.0))  # millimetres
        frame = {
            "file_path": f"images/{name}",
            "depth_file_path": f"depth/{name}",
            "transform_matrix": (view.pose @ FLIP_YZ).tolist(),
        }
        if not np.array_equal(view.k, k):  # the spec lets a frame override the global camera
            frame.update(fl_x=view.k[0, 0], fl_y=view.k[1, 1], cx=view.k[0, 2], cy=view.k[1, 2])
        frames.append(frame)
    meta = {
        "camera_model": "OPENCV", "fl_x": k[0, 0], "fl_y": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
        "w": width, "h": height, "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "depth_unit_scale_factor": 1e-3, "frames": frames,
    }
    _write(root / "transforms.json", json.dumps(meta, indent=2))
    return root


def write_record3d(views: list[View], archive: Path) -> Path:
    import liblzfse

    height, width = views[0].depth.shape
    depth_h, depth_w = views[0].half_depth.shape
    poses, members = [], {}
    for i, view in enumerate(views):
        arkit = Z_UP_TO_Y_UP @ view.pose @ FLIP_YZ
        poses.append(quaternion_xyzw(arkit[:3, :3]) + arkit[:3, 3].tolist())
        members[f"rgbd/{i}.jpg"] = _image(view.rgb, "JPEG")
        members[f"rgbd/{i}.depth"] = liblzfse.compress(view.half_depth.astype("<f4").tobytes())
        members[f"rgbd/{i}.conf"] = liblzfse.compress(np.full((depth_h, depth_w), 2, np.uint8).tobytes())
    meta = {
        "w": width, "h": height, "dw": depth_w, "dh": depth_h, "fps": 60, "cameraType": 1,
        "K": views[0].k.T.reshape(-1).tolist(),  # column-major
        "initPose": poses[0], "poses": poses, "frameTimestamps": [i / 60 for i in range(len(views))],
    }
    members["metadata"] = json.dumps(meta).encode()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return archive


def _matrix_text(matrix: np.ndarray) -> str:
    return "\n".join(" ".join(f"{v:.9f}" for v in row) for row in matrix) + "\n"


def write_scannet(views: list[View], root: Path) -> Path:
    k4 = np.eye(4)
    k4[:3, :3] = views[0].k
    depth_k4 = k4.copy()
    depth_k4[:2] /= 2.0
    _write(root / "intrinsic" / "intrinsic_color.txt", _matrix_text(k4))
    _write(root / "intrinsic" / "intrinsic_depth.txt", _matrix_text(depth_k4))
    _write(root / "intrinsic" / "extrinsic_color.txt", _matrix_text(np.eye(4)))
    _write(root / "intrinsic" / "extrinsic_depth.txt", _matrix_text(np.eye(4)))
    for i, view in enumerate(views):
        _write(root / "color" / f"{i}.jpg", _image(view.rgb, "JPEG"))
        _write(root / "depth" / f"{i}.png", _png16(view.half_depth * 1000.0))
        _write(root / "pose" / f"{i}.txt", _matrix_text(view.pose))
    return root


def write_tum(views: list[View], root: Path, without_pose: int = 0) -> Path:
    """A TUM sequence at 30 Hz; the last ``without_pose`` colour frames get no ground truth near them
    (the motion-capture system lost the camera), as happens at the ends of real sequences."""
    rgb_lines = ["# color images", "# file: 'rgbd_dataset.bag'", "# timestamp filename"]
    depth_lines = ["# depth maps", "# file: 'rgbd_dataset.bag'", "# timestamp filename"]
    truth_lines = ["# ground truth trajectory", "# file: 'rgbd_dataset.bag'", "# timestamp tx ty tz qx qy qz qw"]
    start = 1305031102.0
    for i, view in enumerate(views):
        stamp = start + i / 30.0
        rgb_name, depth_name = f"rgb/{stamp:.6f}.png", f"depth/{stamp + 0.004:.6f}.png"
        _write(root / rgb_name, _image(view.rgb, "PNG"))
        _write(root / depth_name, _png16(view.depth * 5000.0))
        rgb_lines.append(f"{stamp:.6f} {rgb_name}")
        depth_lines.append(f"{stamp + 0.004:.6f} {depth_name}")
        if i < len(views) - without_pose:
            x, y, z = view.pose[:3, 3]
            qx, qy, qz, qw = quaternion_xyzw(view.pose[:3, :3])
            truth_lines.append(f"{stamp + 0.002:.4f} {x:.6f} {y:.6f} {z:.6f} {qx:.7f} {qy:.7f} {qz:.7f} {qw:.7f}")
    for name, lines in (("rgb.txt", rgb_lines), ("depth.txt", depth_lines), ("groundtruth.txt", truth_lines)):
        _write(root / name, "\n".join(lines) + "\n")
    return root


def write_replica(views: list[View], root: Path) -> Path:
    """``root`` is the download's top folder: root/cam_params.json and the scene root/room0/."""
    height, width = views[0].depth.shape
    k = views[0].k
    scale = 6553.5
    camera = {"w": width, "h": height, "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2], "scale": scale}
    _write(root / "cam_params.json", json.dumps({"camera": camera}))
    scene = root / "room0"
    for i, view in enumerate(views):
        _write(scene / "results" / f"frame{i:06d}.jpg", _image(view.rgb, "JPEG"))
        _write(scene / "results" / f"depth{i:06d}.png", _png16(view.depth * scale))
    _write(scene / "traj.txt", "".join(" ".join(f"{v:.9e}" for v in view.pose.reshape(-1)) + "\n" for view in views))
    return scene


WRITERS = {
    "nerfstudio": lambda views, base: write_nerfstudio(views, base / "nerfstudio"),
    "record3d": lambda views, base: write_record3d(views, base / "scan.r3d"),
    "scannet": lambda views, base: write_scannet(views, base / "scene0000_00"),
    "tum": lambda views, base: write_tum(views, base / "rgbd_dataset_custom"),
    "replica": lambda views, base: write_replica(views, base / "Replica"),
}
"""Format -> writer of a capture under ``base``; returns what a user passes to lerf3d."""
TUM_CAMERA_ARGUMENT = "50,52,31.5,24.25"
"""The TUM writer's folder names no Freiburg sensor (its camera is not one), so it needs --intrinsics."""
