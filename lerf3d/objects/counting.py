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
from jaxtyping import Int

from lerf3d.objects.relations import CONTACT_GAP_M, PlacedObjects, stacked, touching
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.segment import join_linked
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY


def instance_groups(
    objects: PlacedObjects, names: Int[np.ndarray, " K"], gap_m: float = CONTACT_GAP_M
) -> Int[np.ndarray, " K"]:
    """The instance (0..I-1) each object belongs to: objects of one name (``names``, an index per
    object; negative: named by nothing, standing alone) whose points come within ``gap_m`` of each
    other, or of which one stands over the other (:func:`~lerf3d.objects.relations.stacked`), are one
    instance."""
    named = names >= 0
    same = (names[:, None] == names[None]) & named[:, None] & named[None]  # (K, K)
    link = touching(objects, gap_m, same) | (stacked(objects) & same)
    return join_linked(torch.arange(len(objects)), torch.from_numpy(link)).numpy()


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
    group = instance_groups(objects, np.where(described, best, -1), gap_m)
    for p, phrase in enumerate(labels.phrases):
        counts[phrase] = len(np.unique(group[(best == p) & described]))
    return counts, int((~described).sum())
