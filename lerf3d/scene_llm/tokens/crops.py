"""Segment tokens named from crops of the views that see each segment best, as the object layer names
its objects (:mod:`lerf3d.objects.crops`, after OpenMask3D).

A segment token's feature is otherwise the mean of its points' back-projected pyramid features: tiles
of fixed sizes that cut objects anywhere, so a small item's points carry its support's name and a
large piece's carry its neighbours'. A crop framed on the segment, in the views that show it largest,
fills the crop with the object. The token's feature is the re-normalised sum of the two (a segment
no view shows well enough keeps its pooled feature), the same blend ``lerf3d.objects.build`` makes of
the field's embedding and the crops.

The crops come from the capture's own frames (images, depth for the visibility test, poses), so a
store that uses them needs each scene's capture folder and the image-text encoder the features came
from: :class:`CropSource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.capture.io import FrameImages
from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.features.interpolate import NORM_EPS
from lerf3d.objects.crops import CROP_LEVELS, crop_embeddings
from lerf3d.objects.views import MIN_VIEW_FRACTION, VIEW_SAMPLES, object_views
from lerf3d.query.scene import frame_camera
from lerf3d.types import Capture


@dataclass(frozen=True, eq=False)
class CropSource:
    """What crop-named tokens need besides the feature points: each scene's capture and the encoder."""

    captures: Mapping[str, Path]
    """Scene name -> capture folder (the frames the scene's features were computed from)."""
    encoder: ImageTextEncoder
    """The image-text encoder of the scene features (crops must land in the same space)."""
    labels: tuple[str, ...] = ()
    """The names segments are named by with ``TokenConfig.name_objects`` (the run's vocabulary:
    :mod:`lerf3d.scene_llm.tokens.naming`); empty otherwise."""
    template: str = "a photo of a {}"
    """How a label is written for the text tower (give the label bridge's ``template``)."""


def segment_crop_features(
    capture: Capture,
    xyz: Float[torch.Tensor, "N 3"],
    segment_ids: Int[torch.Tensor, " N"],
    encoder: ImageTextEncoder,
    top_views: int,
) -> Float[torch.Tensor, "S D"]:
    """Per segment id 0..S-1 (S = max id + 1; -1 ignored), the unit mean embedding of crops around it
    in its ``top_views`` best frames of ``capture``; a zero row where no frame shows it well enough."""
    count = int(segment_ids.max()) + 1 if len(segment_ids) else 0
    if count == 0:
        return torch.zeros(0, encoder.embedding_dim)
    cameras = [frame_camera(frame) for frame in capture.frames if frame.depth_path is not None]
    views = object_views(xyz, segment_ids, count, cameras, VIEW_SAMPLES, MIN_VIEW_FRACTION)
    return crop_embeddings(xyz, segment_ids, views, {c.name: c for c in cameras}, FrameImages(capture.frames),
                           encoder, top_views, CROP_LEVELS)


def crop_named_features(
    features: Float[torch.Tensor, "N D"], segment_ids: Int[torch.Tensor, " N"], crops: Float[torch.Tensor, "S D"]
) -> Float[torch.Tensor, "S D"]:
    """Per segment id k < S, unit(unit mean of its points' features + crops[k]): the token feature of
    the whole segment, whatever part of it a view sees (a zero crop row keeps the pooled feature)."""
    count = crops.shape[0]
    inside = (segment_ids >= 0) & (segment_ids < count)
    pooled = torch.zeros(count, features.shape[1]).index_add_(0, segment_ids[inside], features[inside].float())
    pooled = F.normalize(pooled, dim=1, eps=NORM_EPS)
    return F.normalize(pooled + crops.float(), dim=1, eps=NORM_EPS)
