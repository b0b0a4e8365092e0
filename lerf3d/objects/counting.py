"""How many of each label a scene holds: one instance per group of touching objects sharing a label.

Segmentation can leave one piece in parts whose field features differ: a pedestal chair's base
under its seat, a plant over its pot, a rocking horse over its rockers. Their crops and own-scale
embeddings still name them alike, so counting joins objects whose best label is the same and whose
points come within :data:`INSTANCE_GAP_M` of each other. Objects of one label further apart are
separate instances, however alike. Stated limit: two pieces of one kind that touch (chairs pushed
together) count once.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Bool
from scipy.spatial import cKDTree

from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.segment import join_linked
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY

INSTANCE_GAP_M = 0.12
"""Objects with one best label whose points come this close are one instance: two occupancy cells
of the segmentation (``SegmentConfig.fragment_gap_m``), the gap its grid can leave inside a piece."""


def touching(
    objects: SceneObjects, gap_m: float, candidates: Bool[np.ndarray, "K K"] | None = None
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


def instance_counts(
    objects: SceneObjects, labels: ObjectLabels, gap_m: float = INSTANCE_GAP_M, floor: float = NEUTRAL_RELEVANCY
) -> tuple[dict[str, int], int]:
    """(instances per phrase, objects that no phrase describes). An object counts as its best phrase
    when that scores at least ``floor`` (LERF's neutral 0.5: against a one-word vocabulary every
    object's best label is that word); touching objects of one best phrase are one instance."""
    counts = dict.fromkeys(labels.phrases, 0)
    if not labels.phrases or len(objects) == 0:
        return counts, len(objects)
    best = labels.scores.argmax(dim=1).numpy()  # (K,) phrase index
    described = (labels.scores.max(dim=1).values >= floor).numpy()
    same = (best[:, None] == best[None]) & described[:, None] & described[None]  # (K, K)
    group = join_linked(torch.arange(len(objects)), torch.from_numpy(touching(objects, gap_m, same))).numpy()
    for p, phrase in enumerate(labels.phrases):
        counts[phrase] = len(np.unique(group[(best == p) & described]))
    return counts, int((~described).sum())
