"""How many of each label a scene holds: one instance per group of touching or stacked objects
sharing a label.

Segmentation can leave one piece in parts whose field features differ: a pedestal chair's base
under its seat, a plant's leaves over its pot, a rocking horse over its rockers. Their crops and
own-scale embeddings still name them alike, so counting joins objects with one name whose points
come within :data:`~lerf3d.objects.relations.CONTACT_GAP_M` of each other, or of which one stands
over the other closer than its own height (:func:`~lerf3d.objects.relations.stacked`: the unfused
stems between a pot and its leaves). A part resting on the rest keeps its name
(:mod:`~lerf3d.objects.naming`). Objects of one name further apart are separate instances, however
alike. Stated limit: two pieces of one kind that touch (chairs pushed together) count once.
"""

from __future__ import annotations

import numpy as np
import torch

from lerf3d.objects.relations import CONTACT_GAP_M, stacked, touching
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.segment import join_linked
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY


def instance_counts(
    objects: SceneObjects, labels: ObjectLabels, gap_m: float = CONTACT_GAP_M, floor: float = NEUTRAL_RELEVANCY
) -> tuple[dict[str, int], int]:
    """(instances per phrase, objects that no phrase describes). An object counts as its name
    (:attr:`ObjectLabels.named`) when its best score is at least ``floor`` (LERF's neutral 0.5:
    against a one-word vocabulary every object's best label is that word); touching or stacked
    objects of one name are one instance."""
    counts = dict.fromkeys(labels.phrases, 0)
    if not labels.phrases or len(objects) == 0:
        return counts, len(objects)
    best = labels.named.numpy()  # (K,) phrase index
    described = (labels.scores.max(dim=1).values >= floor).numpy()
    same = (best[:, None] == best[None]) & described[:, None] & described[None]  # (K, K)
    link = touching(objects, gap_m, same) | (stacked(objects) & same)
    group = join_linked(torch.arange(len(objects)), torch.from_numpy(link)).numpy()
    for p, phrase in enumerate(labels.phrases):
        counts[phrase] = len(np.unique(group[(best == p) & described]))
    return counts, int((~described).sum())
