"""What both TSDF backends read of a frame: its depth and colour at the depth map's resolution, and
the surface it measured."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from lerf3d.capture.io import load_depth, load_rgb
from lerf3d.geometry import backproject_depth
from lerf3d.types import Frame, Intrinsics


def frame_depth(frame: Frame) -> tuple[np.ndarray, Intrinsics]:
    """The frame's depth in metres (0 where unmeasured, :func:`load_depth`) and its intrinsics at the
    depth map's resolution."""
    depth = load_depth(frame)
    return depth, frame.intrinsics.scaled(depth.shape[1], depth.shape[0])


def frame_colour(frame: Frame, shape: tuple[int, int]) -> np.ndarray:
    """The frame's (H, W, 3) uint8 colour image at the depth map's ``shape`` (H, W)."""
    rgb = load_rgb(frame)
    if rgb.shape[:2] != shape:
        rgb = np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), Image.BILINEAR))
    return rgb


def measured_points(frame: Frame, depth_max: float) -> tuple[np.ndarray, np.ndarray, Intrinsics]:
    """The frame's measured surface: (N, 3) world points and their (N,) depths (depth in (0,
    depth_max)), and the depth map's intrinsics."""
    depth, intr = frame_depth(frame)
    valid = (depth > 0) & (depth < depth_max)
    return backproject_depth(depth, intr, frame.camera_to_world)[valid], depth[valid], intr


def measured_bounds(frames: Sequence[Frame], depth_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of the frames' measured points (infinite when none was measured)."""
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for frame in frames:
        world, _, _ = measured_points(frame, depth_max)
        if len(world):
            lo, hi = np.minimum(lo, world.min(0)), np.maximum(hi, world.max(0))
    return lo, hi
