"""How well a fused surface matches a capture's measured depth and its ground-truth boxes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerf3d.fusion.frames import measured_points
from lerf3d.fusion.tsdf import FusionResult
from lerf3d.ground_truth import GroundTruth
from lerf3d.types import Capture

MIN_VISIBLE_PIXELS = 50
"""An instance counts as seen when its masks cover at least this many pixels over all frames."""
MIN_POINTS_IN_BOX = 20
"""A seen instance counts as reconstructed with at least this many fused points in its box."""


@dataclass(frozen=True)
class FusionReport:
    """Surface distances (metres) and per-object coverage."""

    accuracy_median: float
    """Median distance from fused points to the nearest measured depth point."""
    accuracy_p95: float
    """95th percentile of the same."""
    completeness_median: float
    """Median distance from measured depth points to the nearest fused point."""
    objects_seen: tuple[str, ...]
    """Labels of instances visible in the masks."""
    objects_missing: tuple[str, ...]
    """Seen instances with fewer than MIN_POINTS_IN_BOX fused points in their (voxel-padded) box."""


def depth_points(capture: Capture, stride: int = 1) -> np.ndarray:
    """(N, 3) world points of every frame's depth, back-projected (every ``stride``-th pixel)."""
    # measured_points keeps the pixels' row-major order
    return np.concatenate([measured_points(frame, np.inf)[0][::stride] for frame in capture.frames])


def visible_pixel_counts(truth: GroundTruth) -> dict[int, int]:
    """Instance id -> mask pixels over all frames."""
    counts: dict[int, int] = {}
    for name in truth.mask_paths:
        ids, n = np.unique(truth.load_mask(name), return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist()):
            counts[i] = counts.get(i, 0) + c
    return counts


def evaluate_fusion(result: FusionResult, capture: Capture, truth: GroundTruth) -> FusionReport:
    """Compare ``result`` with the capture's depth and ``truth``'s boxes."""
    from scipy.spatial import cKDTree

    measured = depth_points(capture)
    accuracy = cKDTree(measured).query(result.points.xyz)[0]
    completeness = cKDTree(result.points.xyz).query(measured[::7])[0]
    visible = visible_pixel_counts(truth)
    margin = 1.5 * result.voxel_size  # marching-cubes vertices may sit up to a voxel outside a face
    seen, missing = [], []
    for obj in truth.objects:
        if visible.get(obj.instance_id, 0) < MIN_VISIBLE_PIXELS:
            continue
        seen.append(obj.label)
        inside = np.all((result.points.xyz >= obj.box_min - margin) & (result.points.xyz <= obj.box_max + margin), 1)
        if inside.sum() < MIN_POINTS_IN_BOX:
            missing.append(obj.label)
    return FusionReport(
        float(np.median(accuracy)),
        float(np.percentile(accuracy, 95)),
        float(np.median(completeness)),
        tuple(seen),
        tuple(missing),
    )
