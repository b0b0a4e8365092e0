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
from lerf3d.field.rays import PIXEL_CENTRE
from lerf3d.query.camera import QueryCamera
from lerf3d.query.phrases import check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RelevancyMap
from lerf3d.query.search import (
    ScaledEmbeddings,
    check_scales,
    relevancy_streamed,
    scale_search,
    to_relevancy_maps,
)
from lerf3d.query.searcher import SearchConfig

DEPTH_TOLERANCE_M = 0.05
"""Absolute part of the visibility test |z_point - depth(pixel)| <= tol: about two voxels of a
room-scale TSDF (~2 cm), the distance a fused vertex can sit off the measured surface."""
DEPTH_TOLERANCE_REL = 0.02
"""Relative part (times the measured depth): consumer depth noise is ~1-2 % of range."""
NEAR_M = 1e-3
"""Points closer to the camera plane than this are not projected (division by ~0)."""
SPLAT_RADIUS = 1
"""Each point covers the (2r+1)^2 pixels around its projection in the z-buffer, so a fused set a
little sparser than the pixels leaves no holes; the nearest point wins where footprints overlap."""


def _answer(
    embeddings_at, scales: tuple[float, ...], encoder: ImageTextEncoder, phrases: Sequence[str],
    negatives: Sequence[str], search: SearchConfig, shape: tuple[int, int],
) -> list[RelevancyMap]:
    cleaned = check_phrases(phrases)
    positives = encode_phrases(encoder, cleaned)
    negative = encode_phrases(encoder, negatives, what="negative phrase")
    per_scale = relevancy_streamed(embeddings_at, scales, positives, negative, search.temperature,
                                   search.row_chunk)
    values, index = scale_search(per_scale, search.quantile)
    return to_relevancy_maps(values, index, scales, cleaned, shape)


def pixel_centres(height: int, width: int, out_height: int, out_width: int) -> Float[torch.Tensor, "N 2"]:
    """(x, y) of every pixel centre of an (height, width) image, row-major, in the coordinates of an
    (out_height, out_width) image of the same view."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    x = (cols.reshape(-1) + PIXEL_CENTRE) * (out_width / width)
    y = (rows.reshape(-1) + PIXEL_CENTRE) * (out_height / height)
    return torch.stack([x, y], dim=-1).float()  # (H*W, 2)


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


def project(
    xyz: Float[torch.Tensor, "N 3"], camera: QueryCamera
) -> tuple[Float[torch.Tensor, "N"], Float[torch.Tensor, "N"], Float[torch.Tensor, "N"]]:
    """Pixel x, y (continuous, pixel-centre convention) and camera z of world points."""
    world_to_camera = torch.linalg.inv(torch.tensor(camera.camera_to_world, dtype=torch.float64)).float()
    cam = xyz @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]  # (N, 3)
    z = cam[:, 2]
    safe = torch.where(z > NEAR_M, z, torch.ones_like(z))
    k = camera.intrinsics
    return cam[:, 0] / safe * k.fx + k.cx, cam[:, 1] / safe * k.fy + k.cy, z


def nearest_point_map(
    xyz: Float[torch.Tensor, "N 3"], camera: QueryCamera, radius: int = SPLAT_RADIUS
) -> Int[torch.Tensor, "HW"]:
    """Index of the nearest point covering each pixel (row-major), -1 where none does (a z-buffer)."""
    k = camera.intrinsics
    x, y, z = project(xyz, camera)
    col, row = torch.floor(x).long(), torch.floor(y).long()
    ids = torch.arange(len(xyz))
    pixel_list, depth_list, id_list = [], [], []
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = row + dr, col + dc
            ok = (z > NEAR_M) & (r >= 0) & (r < k.height) & (c >= 0) & (c < k.width)
            pixel_list.append(r[ok] * k.width + c[ok])
            depth_list.append(z[ok])
            id_list.append(ids[ok])
    pixel, depth, point = torch.cat(pixel_list), torch.cat(depth_list), torch.cat(id_list)
    nearest = torch.full((k.height * k.width,), float("inf")).scatter_reduce(0, pixel, depth, "amin")
    wins = depth <= nearest[pixel]
    return torch.full((k.height * k.width,), -1, dtype=torch.long).scatter(0, pixel[wins], point[wins])


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
    x, y, z = project(xyz, camera)
    col, row = torch.floor(x).long(), torch.floor(y).long()
    inside = (z > NEAR_M) & (col >= 0) & (col < k.width) & (row >= 0) & (row < k.height)
    depth = torch.as_tensor(camera.depth, dtype=torch.float32)
    measured = torch.zeros_like(z)
    measured[inside] = depth[row[inside], col[inside]]
    tolerance = DEPTH_TOLERANCE_M + DEPTH_TOLERANCE_REL * measured
    keep = inside & (measured > 0) & ((z - measured).abs() <= tolerance)
    ids = torch.nonzero(keep).squeeze(1)
    sx, sy = pyramid.image_width / k.width, pyramid.image_height / k.height
    pixels = torch.stack([x[ids] * sx, y[ids] * sy], dim=-1)  # (n, 2) in the pyramid's image
    return ids, pixels, z[ids]


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
        index = nearest_point_map(self.xyz, camera, self.radius)
        seen = (index >= 0)[:, None]  # (H*W, 1)
        safe = index.clamp_min(0)

        def embeddings_at(s: int) -> torch.Tensor:
            rows = self.fused.embeddings[s][safe]  # (H*W, C)
            return torch.where(seen, rows, torch.zeros_like(rows))

        k = camera.intrinsics
        return _answer(embeddings_at, self.fused.scales, self.encoder, phrases, negatives, self.search,
                       (k.height, k.width))
