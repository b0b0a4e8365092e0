"""How many of each label a scene holds: one instance per group of touching objects sharing a label.

Segmentation can leave one piece in parts whose field features differ: a pedestal chair's base
under its seat, a plant over its pot, a rocking horse over its rockers. Their crops and own-scale
embeddings still name them alike, so counting joins objects with one name whose points come within
:data:`~lerf3d.objects.relations.CONTACT_GAP_M` of each other (a part resting on the rest keeps its
name: :mod:`~lerf3d.objects.naming`). Objects of one name further apart are separate instances,
however alike. Stated limit: two pieces of one kind that touch (chairs pushed together) count once.
"""

from __future__ import annotations

import numpy as np
import torch

from lerf3d.objects.relations import CONTACT_GAP_M, touching
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.segment import join_linked
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY


def instance_counts(
    objects: SceneObjects, labels: ObjectLabels, gap_m: float = CONTACT_GAP_M, floor: float = NEUTRAL_RELEVANCY
) -> tuple[dict[str, int], int]:
    """(instances per phrase, objects that no phrase describes). An object counts as its name
    (:attr:`ObjectLabels.named`) when its best score is at least ``floor`` (LERF's neutral 0.5:
    against a one-word vocabulary every object's best label is that word); touching objects of one
    name are one instance."""
    counts = dict.fromkeys(labels.phrases, 0)
    if not labels.phrases or len(objects) == 0:
        return counts, len(objects)
    best = labels.named.numpy()  # (K,) phrase index
    described = (labels.scores.max(dim=1).values >= floor).numpy()
    same = (best[:, None] == best[None]) & described[:, None] & described[None]  # (K, K)
    group = join_linked(torch.arange(len(objects)), torch.from_numpy(touching(objects, gap_m, same))).numpy()
    for p, phrase in enumerate(labels.phrases):
        counts[phrase] = len(np.unique(group[(best == p) & described]))
    return counts, int((~described).sum())
