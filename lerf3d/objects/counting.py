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


def touching(objects: SceneObjects, gap_m: float) -> Bool[np.ndarray, "K K"]:
    """[a, b]: some point of object a lies within ``gap_m`` of some point of object b."""
    count = len(objects)
    owner = objects.point_object.numpy()
    xyz = objects.xyz.numpy()
    trees = [cKDTree(xyz[owner == k]) for k in range(count)]
    near = np.zeros((count, count), dtype=bool)
    for a in range(count):
        for b in range(a + 1, count):
            near[a, b] = near[b, a] = trees[a].count_neighbors(trees[b], gap_m) > 0
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
    best = labels.best()
    described = (labels.scores.max(dim=1).values >= floor).numpy()
    same = np.array([[a == b for b in best] for a in best]) & described[:, None] & described[None, :]
    group = join_linked(torch.arange(len(objects)), torch.from_numpy(same & touching(objects, gap_m))).numpy()
    for phrase in labels.phrases:
        counts[phrase] = len({int(group[k]) for k in range(len(objects)) if best[k] == phrase and described[k]})
    return counts, int((~described).sum())
