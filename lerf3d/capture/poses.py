"""Pose conventions shared by the readers (and the format writers in ``data_tools``).

lerf3d poses are OpenCV camera-to-world matrices (x right, y down, z forward) in a Z-up world; the
OpenGL <-> OpenCV camera flip lives in :mod:`lerf3d.geometry`, with the other camera maths.
"""

from __future__ import annotations

import numpy as np

Y_UP_TO_Z_UP = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
"""Left-multiply a pose in a Y-up world (ARKit: +y against gravity) to express it in lerf3d's Z-up
world: x stays, y becomes z, z becomes -y (a proper rotation, det +1)."""


def quat_xyzw_to_matrix(quat: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of a quaternion given as (qx, qy, qz, qw); normalised first, because text
    formats (TUM prints 4 decimals) store quaternions that are only nearly unit."""
    x, y, z, w = np.asarray(quat, dtype=np.float64) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat_xyzw(rotation: np.ndarray) -> np.ndarray:
    """(qx, qy, qz, qw) of a (3, 3) rotation, with qw >= 0.

    Shepperd's method: branch on the largest of the trace and the diagonal so the square root is
    never taken of a number near zero (precision matters: writers round-trip poses to 1e-5).
    """
    r = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(r)
    if trace > max(r[0, 0], r[1, 1], r[2, 2]):
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4]
    elif r[0, 0] >= r[1, 1] and r[0, 0] >= r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
    elif r[1, 1] >= r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4, (r[1, 0] - r[0, 1]) / s]
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0 else quat


def pose_from_quat_translation(quat_xyzw: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform from a quaternion (qx, qy, qz, qw) and a translation."""
    pose = np.eye(4)
    pose[:3, :3] = quat_xyzw_to_matrix(quat_xyzw)
    pose[:3, 3] = translation
    return pose
