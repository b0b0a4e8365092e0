"""Cameras to query from: captured frames, pose files and orbit paths, and their rays.

A :class:`QueryCamera` is what a view embedding is cached under: its ``key`` is a digest of the
intrinsics, the pose and the depth guide, so two cameras that render the same rays share an entry.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from lerf3d.field.rays import RayBundle, clip_to_box, image_rays
from lerf3d.geometry import look_at, opengl_to_opencv
from lerf3d.types import Frame, Intrinsics, SceneBounds

DEFAULT_MIN_NEAR = 0.05
"""Rays start at least this far from the camera (m), as in training (train.datamanager.MIN_NEAR)."""
ORBIT_HEIGHT_FRACTION = 0.8
"""Orbit cameras sit this fraction of the scene's height above the floor: high enough to see over
furniture, below a ceiling that would otherwise fill the frame."""
ORBIT_RADIUS_FRACTION = 0.35
"""Orbit radius as a fraction of the room's larger horizontal extent: inside the walls of a room
(the cameras look across it), where a fused capture has its observed surfaces."""
ORBIT_FOV_DEGREES = 70.0
"""Horizontal field of view of orbit cameras (a phone's main camera is ~65-75 degrees)."""
MAX_RENDER_SIDE = 4096
"""Longest side of a requested render (a pose file, ``render --size``), in pixels."""
MAX_RENDER_PIXELS = 2048 * 2048
"""Most pixels of a requested render: phone and RGB-D captures (up to 1920x1440) fit, while a
view's embeddings cost ~4-16 KB a pixel at 30 scales (render.STORAGE_DTYPE), so 4 MP is already
tens of GB; a bigger request is a typo or a hostile pose file, refused before any allocation."""


@dataclass(frozen=True, eq=False)
class QueryCamera:
    """A pinhole camera in the world (OpenCV convention, lerf3d.types), optionally with measured depth."""

    intrinsics: Intrinsics
    """Intrinsics at the resolution to render."""
    camera_to_world: np.ndarray
    """(4, 4) float64 pose."""
    depth: np.ndarray | None = None
    """(H, W) measured z-depth (m, 0 = none) to sample around, as in training; None at novel views."""
    name: str = "view"
    """Human-readable name (file names of outputs)."""

    def __post_init__(self) -> None:
        pose = np.asarray(self.camera_to_world, dtype=np.float64)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise ValueError(f"camera {self.name}: camera_to_world must be a finite 4x4, got {pose.shape}")
        pose.setflags(write=False)
        object.__setattr__(self, "camera_to_world", pose)
        if self.depth is not None:
            shape = (self.intrinsics.height, self.intrinsics.width)
            if self.depth.shape != shape:
                raise ValueError(f"camera {self.name}: depth {self.depth.shape} does not match image {shape}")

    @property
    def key(self) -> str:
        """Digest of everything that decides the rendered rays (not the name)."""
        k = self.intrinsics
        digest = hashlib.sha256(np.array([k.fx, k.fy, k.cx, k.cy, k.width, k.height], np.float64).tobytes())
        digest.update(self.camera_to_world.tobytes())
        if self.depth is not None:
            digest.update(np.ascontiguousarray(self.depth, dtype=np.float32).tobytes())
        return digest.hexdigest()[:24]

    def resized(self, width: int, height: int) -> QueryCamera:
        """The same camera at another resolution (the depth guide is dropped unless it fits)."""
        depth = self.depth if self.depth is not None and self.depth.shape == (height, width) else None
        return replace(self, intrinsics=self.intrinsics.scaled(width, height), depth=depth)


def camera_rays_for(
    camera: QueryCamera,
    lower: torch.Tensor,
    upper: torch.Tensor,
    min_near: float = DEFAULT_MIN_NEAR,
) -> RayBundle:
    """One ray per pixel (row-major), near/far clipped to the field's box, with the depth guide."""
    device = lower.device
    pose = torch.tensor(camera.camera_to_world, dtype=torch.float32, device=device)
    rays = image_rays(camera.intrinsics, pose, near=0.0, far=0.0)
    rays = clip_to_box(rays, lower, upper, min_near)
    if camera.depth is None:
        return rays
    depth = torch.as_tensor(np.ascontiguousarray(camera.depth), dtype=torch.float32, device=device)
    return replace(rays, depth=depth.reshape(-1))  # (H, W) -> (H*W,), row-major like the rays


def camera_from_frame(frame: Frame, depth: np.ndarray | None = None) -> QueryCamera:
    """The camera of a captured frame; pass its depth (resampled to the RGB grid) to guide samples."""
    return QueryCamera(frame.intrinsics, frame.camera_to_world, depth, frame.name)


def load_pose_file(path: str | Path) -> QueryCamera:
    """A camera from JSON: ``{"camera_to_world": 4x4, "intrinsics": {fx, fy, cx, cy, width, height},
    "convention": "opencv" | "opengl"}`` (default opencv; opengl is nerfstudio's, converted)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        pose = np.asarray(data["camera_to_world"], dtype=np.float64)
        k = data["intrinsics"]
        intrinsics = Intrinsics(float(k["fx"]), float(k["fy"]), float(k["cx"]), float(k["cy"]),
                                int(k["width"]), int(k["height"]))
        convention = data.get("convention", "opencv")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no pose file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RecursionError) as err:
        raise ValueError(f"{path}: malformed pose file ({type(err).__name__}: {err}); expected "
                         '{"camera_to_world": [[4x4]], "intrinsics": {"fx", "fy", "cx", "cy", '
                         '"width", "height"}, "convention": "opencv"}') from None
    if convention not in ("opencv", "opengl"):
        raise ValueError(f"{path}: convention must be 'opencv' or 'opengl', got {convention!r}")
    if pose.shape != (4, 4):
        raise ValueError(f"{path}: camera_to_world must be 4x4, got {pose.shape}")
    check_render_size(intrinsics.width, intrinsics.height, f"{path}: intrinsics width x height")
    k = intrinsics
    if not (k.fx > 0 and k.fy > 0 and all(math.isfinite(v) for v in (k.fx, k.fy, k.cx, k.cy))):
        raise ValueError(f"{path}: intrinsics fx, fy must be finite and > 0 and cx, cy finite, got "
                         f"{k.fx}, {k.fy}, {k.cx}, {k.cy}")
    if convention == "opengl":
        pose = opengl_to_opencv(pose)
    return QueryCamera(intrinsics, pose, None, path.stem)


def check_render_size(width: int, height: int, what: str) -> None:
    """ValueError naming ``what`` unless width x height is a render size within the caps above."""
    if not (1 <= width <= MAX_RENDER_SIDE and 1 <= height <= MAX_RENDER_SIDE) \
            or width * height > MAX_RENDER_PIXELS:
        raise ValueError(f"{what}: {width}x{height} is not a render size: sides 1..{MAX_RENDER_SIDE} "
                         f"and at most {MAX_RENDER_PIXELS:,} pixels")


def orbit_cameras(bounds: SceneBounds, num_frames: int, width: int, height: int) -> list[QueryCamera]:
    """Cameras on a horizontal circle inside the room, looking outwards-and-down across it.

    Each camera sits on a circle about the room's centre and looks at the point diametrically
    opposite on the floor-level circle, so over one turn the path sees every wall and the
    furniture in front of it (a camera outside a room would see only walls).
    """
    if num_frames < 1:
        raise ValueError(f"an orbit needs at least one frame, got {num_frames}")
    check_render_size(width, height, "orbit size")
    lower, upper = np.asarray(bounds.lower, float), np.asarray(bounds.upper, float)
    centre = (lower + upper) / 2
    radius = ORBIT_RADIUS_FRACTION * float(max(upper[0] - lower[0], upper[1] - lower[1]))
    eye_z = lower[2] + ORBIT_HEIGHT_FRACTION * (upper[2] - lower[2])
    target_z = lower[2] + 0.25 * (upper[2] - lower[2])  # furniture height, below the eye
    focal = width / 2 / math.tan(math.radians(ORBIT_FOV_DEGREES) / 2)
    intrinsics = Intrinsics(focal, focal, width / 2, height / 2, width, height)
    cameras = []
    for i in range(num_frames):
        angle = 2 * math.pi * i / num_frames
        direction = np.array([math.cos(angle), math.sin(angle), 0.0])
        eye = np.array([centre[0], centre[1], eye_z]) - radius * direction
        target = np.array([centre[0], centre[1], target_z]) + radius * direction
        cameras.append(QueryCamera(intrinsics, look_at(eye, target), None, f"orbit_{i:04d}"))
    return cameras
