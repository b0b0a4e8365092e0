"""How the objects of one scene stand to each other: which touch, which stand over which, and which
rests on which.

Pure geometry over objects' boxes and member points: anything shaped like
:class:`~lerf3d.objects.scene_objects.SceneObjects` (:class:`PlacedObjects`), so that it can ask
these questions of itself without the two modules importing each other.
Counting joins touching or stacked parts of one thing (:mod:`~lerf3d.objects.counting`); naming
keeps an item from being named after what it rests on (:mod:`~lerf3d.objects.naming`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from scipy.spatial import cKDTree

from lerf3d.objects.segment import footprint_overlap


class PlacedObjects(Protocol):
    """What these relations read of a scene's objects."""

    box_min: Float[torch.Tensor, "K 3"]
    box_max: Float[torch.Tensor, "K 3"]
    xyz: Float[torch.Tensor, "N 3"]
    point_object: Int[torch.Tensor, " N"]

    def __len__(self) -> int: ...


CONTACT_GAP_M = 0.12
"""Objects whose points come this close touch: two occupancy cells of the segmentation
(``SegmentConfig.fragment_gap_m``), the gap its grid can leave inside a piece or under an item."""

SUPPORT_FOOTPRINT_SHARE = 0.5
"""An object rests on another only when more than this share of its horizontal footprint lies
inside the other's: it stands on it rather than beside it."""


def footprints(objects: PlacedObjects) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(box lower corners, upper corners, footprint areas, [a, b]: share of a's footprint inside b's)."""
    lower, upper = objects.box_min.numpy(), objects.box_max.numpy()
    area = np.clip(upper[:, :2] - lower[:, :2], 1e-9, None).prod(axis=-1)  # (K,)
    return lower, upper, area, footprint_overlap(objects.box_min, objects.box_max).numpy()


def touching(
    objects: PlacedObjects, gap_m: float = CONTACT_GAP_M, candidates: Bool[np.ndarray, "K K"] | None = None
) -> Bool[np.ndarray, "K K"]:
    """[a, b]: some point of object a lies within ``gap_m`` of some point of object b (only the
    ``candidates`` pairs are tested, all when None; boxes further apart than ``gap_m`` never are)."""
    count = len(objects)
    lower, upper = objects.box_min.numpy(), objects.box_max.numpy()
    apart = (np.maximum(lower[:, None] - upper[None], lower[None] - upper[:, None]) > gap_m).any(axis=-1)  # (K, K)
    test = ~apart if candidates is None else ~apart & candidates
    owner = objects.point_object.numpy()
    xyz = objects.xyz.numpy()
    trees: dict[int, cKDTree] = {}

    def tree(k: int) -> cKDTree:
        if k not in trees:
            trees[k] = cKDTree(xyz[owner == k])
        return trees[k]

    near = np.zeros((count, count), dtype=bool)
    for a, b in zip(*np.nonzero(np.triu(test, k=1))):
        near[a, b] = near[b, a] = tree(int(a)).count_neighbors(tree(int(b)), gap_m) > 0
    return near


def stacked(objects: PlacedObjects) -> Bool[np.ndarray, "K K"]:
    """[a, b]: one of a and b stands over the other, apart: more than
    :data:`SUPPORT_FOOTPRINT_SHARE` of the smaller footprint lies inside the larger, and the upper
    one's base lies over the lower one's top, by less than the upper one's own height (a plant's
    leaves over its pot, the thin stems between them unfused; two wall shelves 30 cm apart are
    further apart than they are tall). Boxes that overlap in height are not stacked: side by side,
    a coarse box can reach over a neighbour's footprint. Symmetric."""
    lower, upper, area, inside = footprints(objects)
    smaller_inside = np.where(area[:, None] <= area[None], inside, inside.T)
    height = upper[:, 2] - lower[:, 2]
    gap = lower[:, None, 2] - upper[None, :, 2]  # [a, b]: a's base over b's top
    over = (gap >= 0) & (gap < height[:, None])
    out = (over | over.T) & (smaller_inside > SUPPORT_FOOTPRINT_SHARE)
    np.fill_diagonal(out, False)
    return out


def resting_on(objects: PlacedObjects, gap_m: float = CONTACT_GAP_M) -> Int[np.ndarray, " K"]:
    """Index of the object each object rests on, -1 for none.

    Object a rests on b when most of a's footprint lies inside b's
    (:data:`SUPPORT_FOOTPRINT_SHARE`), a's footprint is the smaller, a's base is more than ``gap_m``
    above b's, and their points touch. Of several such b (a cup on a tray on a table) the smallest
    footprint is the one a stands on.
    """
    count = len(objects)
    out = np.full(count, -1, dtype=np.int64)
    if count < 2:
        return out
    lower, upper, area, inside = footprints(objects)
    above = lower[:, None, 2] > lower[None, :, 2] + gap_m
    candidates = (inside > SUPPORT_FOOTPRINT_SHARE) & above & (area[:, None] < area[None, :])
    np.fill_diagonal(candidates, False)
    candidates &= touching(objects, gap_m, candidates | candidates.T)
    for a in range(count):
        below = np.nonzero(candidates[a])[0]
        if len(below):
            out[a] = below[np.argmin(area[below])]
    return out
