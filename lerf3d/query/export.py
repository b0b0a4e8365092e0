"""3D exports of a query: a coloured point cloud with a relevancy scalar per point, and the box of
the most relevant region.

The region is the connected cluster, among points whose relevancy passes a threshold, that holds
the most relevant point; its box is a percentile box (robust to the few stray points a fused set
has at object borders), axis-aligned in world coordinates like ground_truth.json's boxes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float

from lerf3d.atomic import write_json_atomic
from lerf3d.ply import write_vertex_ply
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY

PLY_RELEVANCY_PROPERTY = "relevancy"
"""Name of the extra per-vertex float property (open3d's tensor API and trimesh keep it)."""
LINK_DISTANCE_M = 0.05
"""Points closer than this (m, via a voxel grid of this edge) belong to one region: ~3 voxels of
a room-scale TSDF (fusion.tsdf: ~256 voxels over ~5 m), bridging the gaps a fused surface has."""
BOX_PERCENTILE = 2.0
"""The box spans the 2nd to 98th percentile of the region's points along each axis."""
REGION_FRACTION = 0.5
"""A point joins the region when its relevancy is above min + 0.5 (max - min) of the set (the
same per-map min-max normalisation and 0.5 cut as the evaluation's IoU), and above 0.5."""


@dataclass(frozen=True)
class RegionConfig:
    """How the top region of a 3D relevancy is found."""

    fraction: float = REGION_FRACTION
    """Cut on the min-max normalised relevancy."""
    min_relevancy: float = NEUTRAL_RELEVANCY
    """Absolute floor of the cut: below 0.5 means "not this" (LERF)."""
    link_distance: float = LINK_DISTANCE_M
    """Voxel edge (m) of the connectivity grid (26-neighbour voxels are connected)."""
    percentile: float = BOX_PERCENTILE
    """Lower percentile of the box (the upper is 100 minus it)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0 or not self.link_distance > 0 or not 0 <= self.percentile < 50:
            raise ValueError("need fraction in [0, 1), link_distance > 0 and percentile in [0, 50), got "
                             f"{self.fraction}, {self.link_distance}, {self.percentile}")


@dataclass(frozen=True)
class RegionBox:
    """The most relevant region of a point set for one phrase (the JSON written beside the PLY)."""

    phrase: str
    """The query."""
    scale: float | None
    """Scale (m) the relevancy was computed at."""
    threshold: float
    """Relevancy cut the region's points pass."""
    num_points: int
    """Points in the region."""
    max_relevancy: float
    """Relevancy of the most relevant point."""
    peak: list[float]
    """World position of the most relevant point."""
    box_min: list[float]
    """Percentile box minimum (m)."""
    box_max: list[float]
    """Percentile box maximum (m)."""
    center: list[float]
    """Box centre (m)."""
    extent: list[float]
    """Box size (m)."""
    found: bool
    """False when no point passed the threshold (the box is then the peak point alone)."""


def connected_component(
    xyz: Float[np.ndarray, "N 3"], member: Bool[np.ndarray, "N"], seed: int, link_distance: float
) -> Bool[np.ndarray, "N"]:
    """Members reachable from point ``seed`` through occupied voxels of edge ``link_distance``
    (26-connectivity): a breadth-first search over the voxels that hold members."""
    if not member[seed]:
        raise ValueError("the seed point must be a member")
    cells = np.floor(xyz[member] / link_distance).astype(np.int64)
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    index = {tuple(c): i for i, c in enumerate(unique.tolist())}
    seed_cell = int(inverse[np.flatnonzero(np.flatnonzero(member) == seed)[0]])
    steps = (-1, 0, 1)
    offsets = [(a, b, c) for a in steps for b in steps for c in steps if (a, b, c) != (0, 0, 0)]
    reached = np.zeros(len(unique), bool)
    reached[seed_cell] = True
    queue = deque([seed_cell])
    while queue:
        x, y, z = unique[queue.popleft()]
        for dx, dy, dz in offsets:
            neighbour = index.get((x + dx, y + dy, z + dz))
            if neighbour is not None and not reached[neighbour]:
                reached[neighbour] = True
                queue.append(neighbour)
    out = np.zeros(len(xyz), bool)
    out[np.flatnonzero(member)] = reached[inverse]
    return out


def top_region(
    xyz: Float[np.ndarray, "N 3"],
    relevancy: Float[np.ndarray, "N"],
    phrase: str,
    scale: float | None = None,
    config: RegionConfig = RegionConfig(),
) -> RegionBox:
    """The cluster of relevant points around the most relevant one, and its percentile box."""
    xyz = np.asarray(xyz, np.float64)
    relevancy = np.asarray(relevancy, np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or relevancy.shape != (len(xyz),) or len(xyz) == 0:
        raise ValueError(f"need (N, 3) points and (N,) relevancy with N >= 1, got {xyz.shape}, "
                         f"{relevancy.shape}")
    peak = int(np.argmax(relevancy))
    low, high = float(relevancy.min()), float(relevancy.max())
    threshold = max(low + config.fraction * (high - low), config.min_relevancy)
    member = relevancy >= threshold
    found = bool(member[peak])
    if found:
        region = connected_component(xyz, member, peak, config.link_distance)
    else:
        region = np.zeros(len(xyz), bool)
        region[peak] = True
    points = xyz[region]
    box_min = np.percentile(points, config.percentile, axis=0)
    box_max = np.percentile(points, 100 - config.percentile, axis=0)
    return RegionBox(
        phrase=phrase, scale=scale, threshold=threshold, num_points=int(region.sum()), max_relevancy=high,
        peak=xyz[peak].tolist(), box_min=box_min.tolist(), box_max=box_max.tolist(),
        center=((box_min + box_max) / 2).tolist(), extent=(box_max - box_min).tolist(), found=found,
    )


def write_relevancy_ply(
    path: str | Path,
    xyz: Float[np.ndarray, "N 3"],
    rgb: Float[np.ndarray, "N 3"],
    relevancy: Float[np.ndarray, "N"],
) -> Path:
    """Binary little-endian PLY: float x y z, uchar red green blue, float ``relevancy``; atomic."""
    xyz, rgb, relevancy = np.asarray(xyz), np.asarray(rgb), np.asarray(relevancy)
    n = len(xyz)
    if xyz.shape != (n, 3) or rgb.shape != (n, 3) or relevancy.shape != (n,):
        raise ValueError(f"need (N, 3) xyz and rgb and (N,) relevancy, got {xyz.shape}, {rgb.shape}, "
                         f"{relevancy.shape}")
    colours = (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    xyz = xyz.astype(np.float32)
    return write_vertex_ply(path, {
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
        "red": colours[:, 0], "green": colours[:, 1], "blue": colours[:, 2],
        PLY_RELEVANCY_PROPERTY: relevancy.astype(np.float32),
    }, comment="lerf3d export: relevancy in [0, 1] per point")


def write_region_json(path: str | Path, region: RegionBox) -> Path:
    """The region box as JSON (atomic)."""
    return write_json_atomic(path, asdict(region))
