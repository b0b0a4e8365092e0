"""Building a scene's objects from a trained field and its fused points.

1. Every fused point gets the field's language feature at one segmentation scale and its DINO
   feature (the field is multi-view consistent: one feature per 3D point, not one frame's pixels).
2. :func:`lerf3d.objects.segment.scene_segments` cuts the room into objects by geometry (shell and
   support planes, connected components) gated by those features.
3. Each object reads the field again at its own scale (its box's largest side, LERF's notion of
   scale: the world size of the crop that describes it) and pools embedding, DINO descriptor, box,
   centroid and colour; the views that see it come from a depth-tested projection.
4. With the capture's images, crops inside the object in its best views are encoded and averaged
   into its embedding (after OpenMask3D; :mod:`lerf3d.objects.crops`): the tower names what fills a
   crop, while the field's small-scale embedding of an item on a table leans towards the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.features.interpolate import NORM_EPS
from lerf3d.field.model import LerfField
from lerf3d.objects.crops import CROP_LEVELS, TOP_VIEWS, crop_embeddings
from lerf3d.objects.pooling import scatter_bounds, scatter_mean
from lerf3d.objects.scene_objects import SceneObjects
from lerf3d.objects.segment import FURNITURE_SCALE_M, SegmentConfig, scene_segments
from lerf3d.objects.views import MIN_VIEW_FRACTION, VIEW_SAMPLES, object_views
from lerf3d.query.camera import QueryCamera
from lerf3d.types import PointSet

LERF_MAX_SCALE_M = 1.5
"""Largest world scale LERF's scale search considers (Kerr et al. 2023, sec. 3.4)."""


@dataclass(frozen=True)
class ObjectsConfig:
    """Settings of :func:`build_objects`."""

    segment: SegmentConfig = field(
        default_factory=lambda: SegmentConfig(
            max_tokens=256, shell_band_m=0.025, surface_peak_share=0.5, merge_stacked=True, merge_fragments=True,
            drop_ceiling=True, item_clearance_m=0.015, item_voxel_m=0.03, item_min_points=24, item_min_rise_m=0.03,
            item_min_aspect=0.3,
        )
    )
    """Shell removal and segmentation: up to 256 objects (a furnished room holds tens), the shell
    only within 2.5 cm of its planes (under two fusion voxels: a mat or slippers on the floor stay),
    stacked parts of one piece merged and so are small fragments beside a piece, strips of ceiling
    that the band leaves dropped, support surfaces at their piece's densest level; an item on a
    surface is what lies a fusion voxel (1.5 cm) over its plane, in 3 cm cells, with at least 24
    points (a 5 cm cup's sides and top: fewer are shreds of the piece), rising 3 cm and at least 0.3
    times its width (a cup or a bread, not a cushion)."""
    segment_scale_m: float = FURNITURE_SCALE_M
    """World scale of the language features that gate segmentation: about a piece of furniture, so
    neighbouring pieces differ while one piece's parts agree."""
    use_dino: bool = True
    """Gate segmentation on the DINO head's features too (the cosine is the mean of both)."""
    min_scale_m: float = 0.05
    """Smallest scale an object's embedding is read at (LERF's smallest crops are 5 % of a view)."""
    max_scale_m: float = LERF_MAX_SCALE_M
    """Largest scale an object's embedding is read at."""
    chunk_size: int = 65536
    """Points per field evaluation (bounded memory)."""
    view_samples: int = VIEW_SAMPLES
    """Member points per object projected to find the views that see it."""
    min_view_fraction: float = MIN_VIEW_FRACTION
    """A view sees an object when at least this share of its sampled points pass the depth test."""
    crop_views: int = TOP_VIEWS
    """Average each object's field embedding with the image-text encoder's embedding of crops from
    this many of its best views (OpenMask3D; :mod:`lerf3d.objects.crops`) when the capture's images
    are given; 0 keeps the field's alone."""
    crop_levels: tuple[float, ...] = CROP_LEVELS
    """Square crop sides as multiples of the projected object's larger side, one crop per level and
    view (:data:`lerf3d.objects.crops.CROP_LEVELS`: inside the object's box)."""

    def __post_init__(self) -> None:
        if not 0 < self.min_scale_m <= self.max_scale_m:
            raise ValueError(f"need 0 < min_scale_m <= max_scale_m, got {self.min_scale_m}, {self.max_scale_m}")
        if not self.segment_scale_m > 0 or self.chunk_size < 1 or self.view_samples < 1:
            raise ValueError("segment_scale_m must be > 0, chunk_size and view_samples >= 1")
        if not 0 < self.min_view_fraction <= 1:
            raise ValueError(f"min_view_fraction must be in (0, 1], got {self.min_view_fraction}")
        if self.crop_views < 0:
            raise ValueError(f"crop_views must be >= 0, got {self.crop_views}")
        if not self.crop_levels or min(self.crop_levels) <= 0:
            raise ValueError(f"crop_levels must be positive multiples of the object's size, got {self.crop_levels}")


@torch.no_grad()
def field_features(
    field: LerfField, xyz: Float[torch.Tensor, "N 3"], scales: Float[torch.Tensor, " N"], chunk_size: int
) -> tuple[Float[torch.Tensor, "N C"], Float[torch.Tensor, "N E"]]:
    """The field's unit CLIP embedding (each point at its own scale) and DINO feature at points."""
    if field.language is None:
        raise ValueError("this field was trained without a language field: it has no objects to describe")
    clips, dinos = [], []
    for start in range(0, len(xyz), chunk_size):
        points = xyz[start : start + chunk_size].float()
        coords, _ = field.grid_coords(points)
        features = field.language.encode(coords)  # (n, F)
        clips.append(field.language.clip(features, scales[start : start + chunk_size].to(features.dtype)))
        dinos.append(field.language.dino(features))
    if not clips:
        language = field.language.config
        return xyz.new_zeros(0, language.clip_dim), xyz.new_zeros(0, language.dino_dim)
    return torch.cat(clips).float(), torch.cat(dinos).float()


def segmentation_features(
    clip: Float[torch.Tensor, "N C"], dino: Float[torch.Tensor, "N E"] | None
) -> Float[torch.Tensor, "N F"]:
    """Unit rows whose cosine is the mean of the CLIP and DINO cosines (CLIP alone without DINO)."""
    clip = F.normalize(clip, dim=1, eps=NORM_EPS)
    if dino is None:
        return clip
    return torch.cat([clip, F.normalize(dino, dim=1, eps=NORM_EPS)], dim=1) / math.sqrt(2.0)  # (N, C+E)


def object_scales(
    lower: Float[torch.Tensor, "K 3"], upper: Float[torch.Tensor, "K 3"], min_scale: float, max_scale: float
) -> Float[torch.Tensor, " K"]:
    """Each object's own scale: its box's largest side, clamped to the field's scale range."""
    return (upper - lower).amax(dim=1).clamp(min_scale, max_scale)


def pool_objects(
    xyz: Float[torch.Tensor, "N 3"],
    rgb: Float[torch.Tensor, "N 3"],
    point_object: Int[torch.Tensor, " N"],
    num_objects: int,
) -> tuple[Float[torch.Tensor, "K 3"], ...]:
    """(box_min, box_max, centroid, colour) of each object from its member points."""
    members = point_object >= 0
    index = point_object[members]
    lower, upper = scatter_bounds(xyz[members], index, num_objects)
    return lower, upper, scatter_mean(xyz[members], index, num_objects), scatter_mean(rgb[members], index, num_objects)


def build_objects(
    field: LerfField,
    encoder: ImageTextEncoder,
    points: PointSet,
    cameras: Sequence[QueryCamera] = (),
    images: Mapping[str, np.ndarray] | None = None,
    config: ObjectsConfig | None = None,
) -> SceneObjects:
    """Segment ``points`` into objects and describe each with the trained ``field``.

    ``cameras`` (with measured depth) give each object the views that see it; none leaves the view
    lists empty. ``encoder`` is the image-text encoder the field was trained with; with ``images``
    (frame name -> RGB) it also embeds crops of each object's best views (``config.crop_views``).
    """
    config = config if config is not None else ObjectsConfig()
    device = next(field.parameters()).device
    xyz = torch.as_tensor(np.asarray(points.xyz), dtype=torch.float32, device=device)
    rgb = torch.as_tensor(np.asarray(points.rgb), dtype=torch.float32, device=device)
    fixed = torch.full((len(xyz),), config.segment_scale_m, device=device)
    clip, dino = field_features(field, xyz, fixed, config.chunk_size)
    gate = segmentation_features(clip, dino if config.use_dino else None)
    point_object = scene_segments(xyz, gate, config.segment)
    count = int(point_object.max()) + 1 if len(point_object) else 0
    lower, upper, centroid, colour = pool_objects(xyz, rgb, point_object, count)
    scales = object_scales(lower, upper, config.min_scale_m, config.max_scale_m)
    members = torch.nonzero(point_object >= 0).squeeze(1)
    index = point_object[members]
    own_clip, _ = field_features(field, xyz[members], scales[index], config.chunk_size)
    embedding = F.normalize(scatter_mean(own_clip, index, count), dim=1, eps=NORM_EPS)  # (K, C)
    coherence = (own_clip * embedding[index]).sum(dim=1)  # (M,) cosine of each member to its object
    confidence = scatter_mean(coherence[:, None], index, count).squeeze(1).clamp(0.0, 1.0)
    descriptor = F.normalize(scatter_mean(dino[members], index, count), dim=1, eps=NORM_EPS)
    views = object_views(xyz, point_object, count, cameras, config.view_samples, config.min_view_fraction)
    if images is not None and config.crop_views > 0:
        named = {camera.name: camera for camera in cameras}
        crops = crop_embeddings(xyz.cpu(), point_object.cpu(), views, named, images, encoder, config.crop_views,
                                config.crop_levels)
        embedding = F.normalize(embedding.cpu() + crops, dim=1, eps=NORM_EPS)  # a zero crop row keeps the field's
    return SceneObjects(
        xyz=xyz.cpu(), rgb=rgb.cpu(), point_object=point_object.cpu(), box_min=lower.cpu(), box_max=upper.cpu(),
        centroid=centroid.cpu(), colour=colour.cpu(), embedding=embedding.cpu(), scale=scales.cpu(),
        dino=descriptor.cpu(), views=views, confidence=confidence.cpu(), encoder=encoder.name,
    )
