"""Object tokens: one token per segment of the room's furniture (our variant of Scene-LLM's pooling).

Voxel tokens spread a small token budget over what covers most of a room, its floor, walls and
ceiling; a question is about furniture. Here the budget goes to objects: the room is segmented by
:mod:`lerf3d.objects.segment` (shell removed, feature-gated connected components, items split off
support surfaces) and :func:`segment_tokens` pools each segment into one token: mean feature,
centroid, extent, colour. A count is then a count of matching tokens, "left of" a comparison of two
centroids, "on top" one of extents.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.features.interpolate import NORM_EPS
from lerf3d.objects.pooling import scatter_bounds, scatter_mean
from lerf3d.objects.segment import SegmentConfig, scene_segments
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenFrame

__all__ = ["SegmentConfig", "scene_segments", "segment_tokens"]


def segment_tokens(
    xyz: Float[torch.Tensor, "N 3"],
    features: Float[torch.Tensor, "N F"],
    rgb: Float[torch.Tensor, "N 3"] | None,
    segment_ids: Int[torch.Tensor, " N"],
    frame: TokenFrame,
    bounds: Float[torch.Tensor, "2 3"] | None = None,
    sort_axis: int | None = 0,
    segment_features: Float[torch.Tensor, "S F"] | None = None,
) -> SceneTokens:
    """One token per segment present in ``segment_ids`` (-1 ignored): mean xyz, re-normalised mean
    feature, mean colour, the segment's extent and its confidence (the mean cosine of its points'
    features to the token's, as ``lerf3d.objects`` scores an object); ordered along ``sort_axis`` (0: west to east in a
    room, left to right in a camera; None keeps id order). ``segment_features`` (indexed by segment id):
    the token features to use instead of the mean (e.g. crop-named, :mod:`.crops`); the confidence
    still measures how well the points agree with their own mean."""
    keep = segment_ids >= 0
    xyz, features, ids = xyz[keep], features[keep].float(), segment_ids[keep]
    rgb = None if rgb is None else rgb[keep]
    present, index = torch.unique(ids, return_inverse=True)
    count = present.shape[0]
    centre = scatter_mean(xyz, index, count)  # (S, 3)
    lower, upper = scatter_bounds(xyz, index, count)  # (S, 3) each
    feats = F.normalize(scatter_mean(features, index, count), dim=1, eps=NORM_EPS)
    colour = None if rgb is None else scatter_mean(rgb, index, count)
    unit = F.normalize(features, dim=1, eps=NORM_EPS)
    coherence = (unit * feats[index]).sum(dim=1, keepdim=True)  # (M, 1)
    confidence = scatter_mean(coherence, index, count).squeeze(1).clamp(0.0, 1.0)  # (S,)
    if segment_features is not None and count:
        feats = segment_features[present].float()
    if sort_axis is not None and count:
        order = torch.argsort(centre[:, sort_axis], stable=True)
        centre, lower, upper, feats = centre[order], lower[order], upper[order], feats[order]
        colour = None if colour is None else colour[order]
        confidence = confidence[order]
    return SceneTokens(centre, feats, colour, frame, lower=lower, upper=upper, bounds=bounds,
                       confidence=confidence)
