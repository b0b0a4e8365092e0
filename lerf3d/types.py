"""Frozen dataclasses passed between lerf3d's stages.

Conventions used everywhere in lerf3d:

- World frame: right-handed, metres, **Z up** (a floor is the plane z = 0 in generated rooms).
- Camera frame: **OpenCV** — x right, y down, z forward (the direction the camera looks).
  ``camera_to_world`` maps homogeneous camera-frame points to world points: ``p_w = T @ p_c``.
  Readers of formats that use the OpenGL/nerfstudio convention (y up, z backward) convert on load.
- Depth: metric distance along the camera's z axis (not along the ray), in metres after
  multiplying the stored integer by ``Frame.depth_scale``; 0 means "no measurement".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one image, in pixels."""

    fx: float
    """Focal length along x."""
    fy: float
    """Focal length along y."""
    cx: float
    """Principal point x (pixel centres at 0.5, 1.5, ...)."""
    cy: float
    """Principal point y."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    def __post_init__(self) -> None:
        # Readers parse numbers with numpy; a stray np.float64 here makes every tensor built from
        # these values float64 (torch.tensor keeps numpy's dtype), beside float32 poses.
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("width", "height"):
            value = getattr(self, name)
            try:
                whole = int(value)
            except (TypeError, ValueError, OverflowError):  # None, NaN, inf
                whole = None
            if whole is None or whole != value:
                raise ValueError(f"intrinsics {name} must be a whole number of pixels, got {value!r}")
            object.__setattr__(self, name, whole)

    def matrix(self) -> np.ndarray:
        """The 3x3 calibration matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera seen at another resolution (e.g. RGB vs a smaller depth map)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)


@dataclass(frozen=True, eq=False)
class Frame:
    """One posed RGB(-D) image of a capture."""

    name: str
    """Unique name within the capture (usually the RGB file stem)."""
    rgb_path: Path
    """Colour image on disk (PNG/JPEG)."""
    depth_path: Path | None
    """Depth image on disk (16-bit PNG, .npy or .exr-free float formats), or None."""
    intrinsics: Intrinsics
    """Intrinsics of the RGB image."""
    camera_to_world: np.ndarray
    """(4, 4) float64 rigid transform, OpenCV camera convention (see module docstring)."""
    depth_scale: float = 0.001
    """Metres per stored depth unit (0.001 for millimetre PNGs)."""

    def __post_init__(self) -> None:
        pose = np.asarray(self.camera_to_world, dtype=np.float64)
        if pose.shape != (4, 4):
            raise ValueError(f"frame {self.name}: camera_to_world must be 4x4, got {pose.shape}")
        pose.setflags(write=False)
        object.__setattr__(self, "camera_to_world", pose)


@dataclass(frozen=True, eq=False)
class Capture:
    """A posed RGB-D capture of one scene: what every reader returns."""

    root: Path
    """Folder (or archive) the capture was read from."""
    frames: tuple[Frame, ...]
    """Frames in capture order."""
    source_format: str
    """Reader that produced it: nerfstudio, record3d, scannet, tum, replica."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Free-form provenance (device, scene id); never read by the algorithms."""

    @property
    def has_depth(self) -> bool:
        """True when every frame carries a depth image."""
        return all(f.depth_path is not None for f in self.frames)

    def frame(self, name: str) -> Frame:
        """The frame called ``name``; KeyError naming the available range otherwise."""
        for f in self.frames:
            if f.name == name:
                return f
        raise KeyError(f"no frame named {name!r} in {self.root} ({len(self.frames)} frames)")


@dataclass(frozen=True, eq=False)
class SceneBounds:
    """Axis-aligned bounds of the fused scene in world coordinates (metres)."""

    lower: np.ndarray
    """(3,) minimum corner."""
    upper: np.ndarray
    """(3,) maximum corner."""

    @property
    def center(self) -> np.ndarray:
        return (self.lower + self.upper) / 2

    @property
    def extent(self) -> np.ndarray:
        return self.upper - self.lower


@dataclass(frozen=True, eq=False)
class PointSet:
    """A coloured 3D point set (fused surface samples)."""

    xyz: np.ndarray
    """(N, 3) float32 world coordinates."""
    rgb: np.ndarray
    """(N, 3) float32 colours in [0, 1]."""
    normals: np.ndarray | None = None
    """(N, 3) float32 unit normals, when known."""
