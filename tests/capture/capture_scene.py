"""A tiny analytic scene for the capture tests: a box room with one box on its floor, ray-cast exactly.

Using our own renderer (not the pybullet room generator) keeps these tests independent of
data_tools' renderer and gives an exact signed-distance function to check geometry against.
"""

from __future__ import annotations

import numpy as np

ROOM_HALF = np.array([2.0, 1.5])
"""Room spans x in [-2, 2], y in [-1.5, 1.5] (metres)."""
ROOM_HEIGHT = 2.5
"""Floor at z = 0, ceiling at z = 2.5."""
BOX_LOWER = np.array([-0.3, -0.3, 0.0])
BOX_UPPER = np.array([0.3, 0.3, 0.8])
"""An obstacle standing on the floor at the room centre."""


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV camera-to-world at ``eye`` looking at ``target`` in a Z-up world."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = eye
    return pose


def orbit_poses(count: int) -> list[np.ndarray]:
    """Cameras on a circle around the box, at different heights, looking at it."""
    poses = []
    for i in range(count):
        angle = 2 * np.pi * i / count
        eye = np.array([1.3 * np.cos(angle), 1.0 * np.sin(angle), 1.2 + 0.2 * np.sin(3 * angle)])
        poses.append(look_at(eye, np.array([0.0, 0.0, 0.5])))
    return poses


def render(pose: np.ndarray, k: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (H, W, 3) uint8 colour and (H, W) float32 z-depth of the scene from ``pose``."""
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    dirs_cam = np.stack([(cols - k[0, 2]) / k[0, 0], (rows - k[1, 2]) / k[1, 1], np.ones_like(cols)], -1)
    dirs = dirs_cam.reshape(-1, 3) @ pose[:3, :3].T  # (H*W, 3), z-component 1 in camera frame
    origin = pose[:3, 3]
    t_room = _room_exit(origin, dirs)
    t_box = _box_entry(origin, dirs)
    t = np.minimum(t_room, t_box)  # ray parameter = camera z-depth because dirs_cam has z = 1
    points = origin + t[:, None] * dirs
    colour = _colour(points, t_box < t_room)
    return colour.reshape(height, width, 3), t.reshape(height, width).astype(np.float32)


def surface_distance(points: np.ndarray) -> np.ndarray:
    """Unsigned distance of (N, 3) points to the nearest scene surface (walls, floor, box)."""
    room = np.min(
        np.stack(
            [ROOM_HALF[0] - np.abs(points[:, 0]), ROOM_HALF[1] - np.abs(points[:, 1]),
             points[:, 2], ROOM_HEIGHT - points[:, 2]], -1
        ),
        axis=1,
    )
    centre, half = (BOX_LOWER + BOX_UPPER) / 2, (BOX_UPPER - BOX_LOWER) / 2
    q = np.abs(points - centre) - half
    box = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)
    return np.minimum(np.abs(room), np.abs(box))


def _room_exit(origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    upper = np.array([ROOM_HALF[0], ROOM_HALF[1], ROOM_HEIGHT])
    lower = np.array([-ROOM_HALF[0], -ROOM_HALF[1], 0.0])
    with np.errstate(divide="ignore"):
        bound = np.where(dirs > 0, upper, lower)
        t = (bound - origin) / dirs
    return np.where(np.isfinite(t), t, np.inf).min(axis=1)


def _box_entry(origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (BOX_LOWER - origin) / dirs, (BOX_UPPER - origin) / dirs
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((far >= near) & (near > 0), near, np.inf)


def _colour(points: np.ndarray, on_box: np.ndarray) -> np.ndarray:
    """Checkerboard walls (texture for JPEG to chew on) and a red box."""
    checker = (np.floor(points * 4).astype(np.int64).sum(axis=1) % 2).astype(np.float64)
    base = np.stack([60 + 120 * checker, 90 + 100 * checker, 150 + 60 * (points[:, 2] / ROOM_HEIGHT)], -1)
    base[on_box] = [200.0, 40.0, 30.0]
    return np.clip(base, 0, 255).astype(np.uint8)
