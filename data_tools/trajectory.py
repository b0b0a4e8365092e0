"""Camera trajectory through a generated room: a jittered ring plus close-ups of single objects.

Ring views stand near the walls at hand height and look across the room, so every view sees most
of the furniture; close views look at one piece from about a metre, so objects appear at several
scales (what the multi-scale language field needs). Close views are spread through the sequence,
so any prefix of the frames mixes both kinds. Pure numpy; poses are exact OpenCV camera-to-world.
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.rooms import PlacedObject, RoomLayout
from lerf3d.geometry import look_at

CAMERA_WALL_MARGIN = 0.35
"""Cameras stay this far from the walls (m): a person holds the phone in front of them."""

CAMERA_OBJECT_CLEARANCE = 0.25
"""... and this far from any piece they are not above (m)."""

RING_TARGET_HEIGHT = (0.3, 0.9)
"""Height range (m) of the points ring views look at: furniture height, so views tilt down."""

RING_TARGET_JITTER = 0.25
"""Ring targets move this share of the room's half-extent from its centre."""

CLOSE_HEIGHT_ABOVE_TOP = (0.15, 0.6)
"""Close views are this much higher than the object's top (m), looking down at it."""

CLOSE_HEIGHT_RANGE = (0.6, 2.0)
"""... but within these absolute heights (m)."""

CLOSE_AZIMUTH_SPREAD_DEG = 70.0
"""Close views look from within this angle of the direction towards the room centre."""


def camera_poses(
    layout: RoomLayout,
    num_views: int,
    close_fraction: float,
    height_range: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """(num_views, 4, 4) camera-to-world poses (OpenCV) inside ``layout``."""
    num_close = round(num_views * close_fraction) if layout.objects else 0
    num_ring = num_views - num_close
    ring = [ring_pose(layout, i, num_ring, height_range, rng) for i in range(num_ring)]
    order = [int(i) for i in rng.permutation(len(layout.objects))] if layout.objects else []
    close = []
    for j in range(num_close):
        obj = layout.objects[order[j % len(order)]]
        pose = close_pose(layout, obj, rng)
        close.append(pose if pose is not None else ring_pose(layout, j, max(num_close, 1), height_range, rng))
    # spread close views evenly: consecutive slots differ by num_views / num_close >= 1, so distinct
    slots = {int((j + 0.5) * num_views / num_close) for j in range(num_close)}
    ring_iter, close_iter = iter(ring), iter(close)
    poses = [next(close_iter) if i in slots else next(ring_iter) for i in range(num_views)]
    return np.stack(poses)


def ring_pose(
    layout: RoomLayout, index: int, count: int, height_range: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """Pose ``index`` of ``count`` on an ellipse near the walls, looking across the room."""
    sx, sy, _ = layout.size
    angle = 2 * math.pi * (index + rng.uniform(-0.3, 0.3)) / count
    rx, ry = max(0.2, sx / 2 - CAMERA_WALL_MARGIN), max(0.2, sy / 2 - CAMERA_WALL_MARGIN)
    eye = np.array([rx * math.cos(angle), ry * math.sin(angle), rng.uniform(*height_range)])
    eye = free_position(layout, eye)
    target = np.array(
        [
            rng.uniform(-RING_TARGET_JITTER, RING_TARGET_JITTER) * sx / 2,
            rng.uniform(-RING_TARGET_JITTER, RING_TARGET_JITTER) * sy / 2,
            rng.uniform(*RING_TARGET_HEIGHT),
        ]
    )
    return look_at(eye, target)


def free_position(layout: RoomLayout, eye: np.ndarray) -> np.ndarray:
    """``eye`` slid towards the room's vertical axis until it is clear of every piece."""
    start = eye.copy()
    for t in np.linspace(0.0, 1.0, 21):
        candidate = start * np.array([1 - t, 1 - t, 1.0])
        if not any(_blocks(obj, candidate) for obj in layout.objects):
            return candidate
    return start * np.array([0.0, 0.0, 1.0])


def _blocks(obj: PlacedObject, eye: np.ndarray) -> bool:
    """True when ``eye`` is inside (or too near) the piece and not above its top."""
    c = CAMERA_OBJECT_CLEARANCE
    inside = all(obj.box_min[k] - c <= eye[k] <= obj.box_max[k] + c for k in (0, 1))
    return inside and eye[2] < obj.box_max[2] + c


def close_pose(
    layout: RoomLayout, obj: PlacedObject, rng: np.random.Generator, tries: int = 24
) -> np.ndarray | None:
    """A view of ``obj`` from about a metre, from the room side; None if no free spot was found."""
    lo, hi = np.asarray(obj.box_min), np.asarray(obj.box_max)
    centre = (lo + hi) / 2
    sx, sy, _ = layout.size
    extent = float(np.max(hi - lo))
    toward_room = math.atan2(-centre[1], -centre[0]) if np.hypot(centre[0], centre[1]) > 1e-6 else 0.0
    for _ in range(tries):
        azimuth = toward_room + math.radians(rng.uniform(-CLOSE_AZIMUTH_SPREAD_DEG, CLOSE_AZIMUTH_SPREAD_DEG))
        distance = max(0.7, 0.9 * extent) + rng.uniform(0.1, 0.5)
        height = float(np.clip(hi[2] + rng.uniform(*CLOSE_HEIGHT_ABOVE_TOP), *CLOSE_HEIGHT_RANGE))
        eye = np.array(
            [centre[0] + distance * math.cos(azimuth), centre[1] + distance * math.sin(azimuth), height]
        )
        inside = abs(eye[0]) <= sx / 2 - CAMERA_WALL_MARGIN and abs(eye[1]) <= sy / 2 - CAMERA_WALL_MARGIN
        if inside and not any(_blocks(o, eye) for o in layout.objects):
            target = centre + np.array([*rng.uniform(-0.05, 0.05, size=2), 0.0])
            return look_at(eye, target)
    return None
