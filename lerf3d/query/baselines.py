"""Baselines the language field is evaluated against, answering phrases on the same views.

- :class:`PyramidScorer`, the raw 2D crop pyramid (no 3D field): the pyramid embedding interpolated
  at every pixel, with the same scale search in metres as the field — a world scale becomes a
  fractional pyramid level through the view's measured depth (``level_from_world_scale``; pixels
  without depth take the coarsest level).
- :class:`PointFusionScorer`, ConceptFusion-style fusion (Jatavallabhula et al. 2023): each fused
  point is projected into every training frame, kept where that frame's depth agrees (it is the
  visible surface there), the pyramid embedding at that pixel and at the level of each world scale
  is sampled, and the samples are averaged per point. A view is answered by z-buffering the points
  into it (nearest point per pixel); pixels no point reaches score 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.features.interpolate import level_from_world_scale, sample_pyramid
from lerf3d.features.pyramid import FeaturePyramid
from lerf3d.geometry import depth_test, pixel_centres, project, zbuffer
from lerf3d.query.camera import QueryCamera
from lerf3d.query.phrases import Phrases, check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RelevancyMap
from lerf3d.query.search import (
    ScaledEmbeddings,
    SearchConfig,
    check_scales,
    relevancy_streamed,
    scale_search,
    to_relevancy_maps,
)

SPLAT_RADIUS = 1
"""Each point covers the (2r+1)^2 pixels around its projection in the z-buffer, so a fused set a
little sparser than the pixels leaves no holes; the nearest point wins where footprints overlap."""


def _answer(
    embeddings_at, scales: tuple[float, ...], encoder: ImageTextEncoder, phrases: Phrases,
    negatives: Phrases, search: SearchConfig, shape: tuple[int, int],
) -> list[RelevancyMap]:
    """The scale search over embeddings streamed one scale at a time, for phrases checked by ``maps``."""
    positives = encode_phrases(encoder, phrases)
    negative = encode_phrases(encoder, negatives, what="negative phrase")
    per_scale = relevancy_streamed(embeddings_at, scales, positives, negative, search.temperature,
                                   search.row_chunk)
    values, index = scale_search(per_scale, search.quantile)
    return to_relevancy_maps(values, index, scales, phrases, shape)


class PyramidScorer:
    """Baseline (a): relevancy of the view's own crop pyramid at every pixel, scale searched in metres."""

    name = "2d-pyramid"

    def __init__(self, pyramids: Mapping[str, FeaturePyramid], encoder: ImageTextEncoder,
                 scales: Sequence[float], search: SearchConfig = SearchConfig()) -> None:
        self.pyramids = pyramids
        self.encoder = encoder
        self.scales = check_scales(scales)
        self.search = search

    def maps(self, camera: QueryCamera, phrases: Sequence[str],
             negatives: Sequence[str] = CANONICAL_NEGATIVES) -> list[RelevancyMap]:
        phrases, negatives = check_phrases(phrases), check_phrases(negatives, "negative phrase")
        if camera.name not in self.pyramids:
            raise KeyError(f"no crop pyramid for view {camera.name!r}")
        if camera.depth is None:
            raise ValueError(f"view {camera.name!r}: the 2D baseline needs measured depth to turn metres "
                             "into pyramid levels")
        pyramid = self.pyramids[camera.name]
        k = camera.intrinsics
        pixels = pixel_centres(k.height, k.width, pyramid.image_height, pyramid.image_width)
        depth = torch.as_tensor(camera.depth, dtype=torch.float32).reshape(-1)  # (H*W,)
        fy = k.fy * pyramid.image_height / k.height

        def embeddings_at(s: int) -> torch.Tensor:
            scale = torch.full_like(depth, self.scales[s])
            level = level_from_world_scale(scale, depth, fy, pyramid.image_height, pyramid.tile_fractions)
            return sample_pyramid(pyramid, pixels, level)

        return _answer(embeddings_at, self.scales, self.encoder, phrases, negatives, self.search,
                       (k.height, k.width))


def nearest_point_map(
    xyz: Float[torch.Tensor, "N 3"], camera: QueryCamera, radius: int = SPLAT_RADIUS
) -> Int[torch.Tensor, "HW"]:
    """Index of the nearest point covering each pixel (row-major), -1 where none does (a z-buffer)."""
    k = camera.intrinsics
    return zbuffer(project(xyz, camera.camera_to_world, k), k.height, k.width, radius)


def fuse_pyramids(
    xyz: Float[torch.Tensor, "N 3"],
    views: Sequence[tuple[QueryCamera, FeaturePyramid]],
    scales: Sequence[float],
) -> ScaledEmbeddings:
    """Per point and world scale, the mean pyramid embedding over the views that see the point
    (re-normalised; zero where no view does). Each view's camera must carry its measured depth."""
    scales = check_scales(scales)
    dim = views[0][1].embedding_dim if views else 0
    out = torch.zeros(len(scales), len(xyz), dim, dtype=torch.float16)
    observed = torch.zeros(len(scales), len(xyz), dtype=torch.bool)
    visible = [_visible_pixels(xyz, camera, pyramid) for camera, pyramid in views]
    for s, scale in enumerate(scales):
        total = torch.zeros(len(xyz), dim)
        for (camera, pyramid), (ids, pixels, z) in zip(views, visible):
            fy = camera.intrinsics.fy * pyramid.image_height / camera.intrinsics.height
            level = level_from_world_scale(torch.full_like(z, scale), z, fy, pyramid.image_height,
                                           pyramid.tile_fractions)
            total.index_add_(0, ids, sample_pyramid(pyramid, pixels, level))
        out[s] = F.normalize(total, dim=-1).to(torch.float16)  # a zero total stays zero
        observed[s] = total.abs().amax(dim=-1) > 0
    return ScaledEmbeddings(out, scales, observed)


def _visible_pixels(xyz: torch.Tensor, camera: QueryCamera, pyramid: FeaturePyramid):
    """Points of ``xyz`` on the measured surface of ``camera``'s view, their pixel in the pyramid's
    image, and their camera z."""
    if camera.depth is None:
        raise ValueError(f"view {camera.name!r}: fusion needs its measured depth")
    k = camera.intrinsics
    projection = project(xyz, camera.camera_to_world, k)
    keep = depth_test(projection, torch.as_tensor(camera.depth, dtype=torch.float32))
    ids = torch.nonzero(keep).squeeze(1)
    scale = torch.tensor([pyramid.image_width / k.width, pyramid.image_height / k.height])
    pixels = projection.pixels[ids] * scale  # (n, 2) in the pyramid's image
    return ids, pixels, projection.depth[ids]


class PointFusionScorer:
    """Baseline (b): fused per-point pyramid embeddings, z-buffered into the view, scale searched."""

    name = "point-fusion"

    def __init__(self, xyz: Float[torch.Tensor, "N 3"], fused: ScaledEmbeddings, encoder: ImageTextEncoder,
                 search: SearchConfig = SearchConfig(), radius: int = SPLAT_RADIUS) -> None:
        if fused.num_points != len(xyz):
            raise ValueError(f"{fused.num_points} fused embeddings for {len(xyz)} points")
        self.xyz = xyz.float()
        self.fused = fused
        self.encoder = encoder
        self.search = search
        self.radius = radius

    def maps(self, camera: QueryCamera, phrases: Sequence[str],
             negatives: Sequence[str] = CANONICAL_NEGATIVES) -> list[RelevancyMap]:
        phrases, negatives = check_phrases(phrases), check_phrases(negatives, "negative phrase")
        index = nearest_point_map(self.xyz, camera, self.radius)
        seen = (index >= 0)[:, None]  # (H*W, 1)
        safe = index.clamp_min(0)

        def embeddings_at(s: int) -> torch.Tensor:
            rows = self.fused.embeddings[s][safe]  # (H*W, C)
            return torch.where(seen, rows, torch.zeros_like(rows))

        k = camera.intrinsics
        return _answer(embeddings_at, self.fused.scales, self.encoder, phrases, negatives, self.search,
                       (k.height, k.width))
