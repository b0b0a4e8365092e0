"""Segments named and joined as the object layer names and counts its objects: a token per object.

The token segmentation leaves some pieces in parts that all carry the piece's name (a rocking horse
over its rockers, the balls on a pool table, a plant's leaves over its pot), so a count of tokens by
name counts one piece several times; and a small item's crops are half its support, so its token
reads as what it rests on. With ``TokenConfig.name_objects`` the segments are named among the run's
labels by :func:`lerf3d.objects.naming.object_names` (an item keeps its support's name only when it
is a part of it) and the segments of one name that touch or stand stacked become one
(:func:`lerf3d.objects.counting.instance_groups`, the object layer's instance counting, with its
stated limit: two pieces of one kind pushed together are one).

A joined segment takes the feature of its largest part; a segment the object layer names otherwise
than its own best label (an item renamed away from its support) takes its name's text embedding as
its language feature, so the label bridge and the readout read the name the object layer gave it.
Its points, colour, place and extent stay its own. Pure function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.features.interpolate import NORM_EPS
from lerf3d.objects.counting import instance_groups
from lerf3d.objects.naming import object_names
from lerf3d.objects.pooling import scatter_bounds
from lerf3d.objects.relations import resting_on
from lerf3d.query.relevancy import relevancy


@dataclass(frozen=True, eq=False)
class _Segments:
    """Segments as the object layer's relations read objects (:class:`lerf3d.objects.relations.PlacedObjects`)."""

    box_min: Float[torch.Tensor, "K 3"]
    box_max: Float[torch.Tensor, "K 3"]
    xyz: Float[torch.Tensor, "N 3"]
    point_object: Int[torch.Tensor, " N"]

    def __len__(self) -> int:
        return self.box_min.shape[0]


def named_segments(
    xyz: Float[torch.Tensor, "N 3"],
    segment_ids: Int[torch.Tensor, " N"],
    segment_features: Float[torch.Tensor, "S F"],
    label_keys: Float[torch.Tensor, "P F"],
    negative_keys: Float[torch.Tensor, "C F"],
) -> tuple[Int[torch.Tensor, " N"], Float[torch.Tensor, "K F"]]:
    """(segment id per point after joining, 0..K-1 and -1 as before; the joined segments' features).

    ``segment_features`` (indexed by segment id) name the segments: each is scored against the
    unit text embeddings ``label_keys`` (the labels, as the bridge writes them) by LERF relevancy
    against ``negative_keys`` (the canonical negatives), then named and joined as the module
    docstring says. Ids with no points are dropped."""
    keep = (segment_ids >= 0) & (segment_ids < segment_features.shape[0])
    present, index = torch.unique(segment_ids[keep], return_inverse=True)
    count = len(present)
    feats = F.normalize(segment_features[present].float(), dim=1, eps=NORM_EPS)
    group = torch.arange(count)  # nothing to name them by (one label, or no segment): each stands alone
    if count and label_keys.shape[0] >= 2:
        lower, upper = scatter_bounds(xyz[keep].float(), index, count)
        segments = _Segments(lower, upper, xyz[keep].float(), index)
        scores = relevancy(feats, label_keys.float(), negative_keys.float())  # (K, P)
        names = object_names(scores, resting_on(segments), lower[:, 2])
        renamed = names != scores.argmax(dim=1)
        feats = torch.where(renamed[:, None], F.normalize(label_keys.float(), dim=1)[names], feats)
        group = torch.from_numpy(instance_groups(segments, names.numpy().astype(np.int64)))
    largest = torch.full((int(group.max()) + 1 if count else 0,), -1, dtype=torch.long)
    for k in torch.argsort(torch.bincount(index, minlength=count), stable=True).tolist():  # larger parts win
        largest[group[k]] = k
    out = torch.full_like(segment_ids, -1)
    out[keep] = group[index]
    return out, feats[largest]
