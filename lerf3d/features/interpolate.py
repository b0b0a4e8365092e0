"""Sampling the crop pyramid at pixels and scales (pure functions).

Pixels are ``(x, y)`` in the pixel-centre convention of :mod:`lerf3d.types` (pixel row i, column j
has its centre at (j + 0.5, i + 0.5)). A fractional pyramid level ``l`` lies between levels
floor(l) and ceil(l); levels map to tile fractions piecewise-linearly, and tile fractions to
physical scales by docs/architecture.md's ``scale_world = tile_fraction x H x depth / f_y`` (a tile of
``tile_fraction x H`` pixels seen at ``depth`` metres spans that many metres).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.features.pyramid import FeaturePyramid

NORM_EPS = 1e-8
"""Guards re-normalisation of a blend of (nearly) opposite unit vectors."""


def _axis_weights(
    centres: Float[torch.Tensor, "g"], coords: Float[torch.Tensor, "N"]
) -> tuple[Int[torch.Tensor, "N"], Int[torch.Tensor, "N"], Float[torch.Tensor, "N"]]:
    """Left/right neighbour indices and the right weight of each coordinate along one grid axis,
    clamped at the outermost centres (a coordinate outside them takes the outer value)."""
    count = centres.shape[0]
    if count == 1:
        zeros = torch.zeros_like(coords, dtype=torch.long)
        return zeros, zeros, torch.zeros_like(coords)
    left = torch.searchsorted(centres.contiguous(), coords.contiguous(), right=True) - 1
    left = left.clamp(0, count - 2)
    c0, c1 = centres[left], centres[left + 1]
    weight = ((coords - c0) / (c1 - c0)).clamp(0.0, 1.0)
    return left, left + 1, weight


def bilinear_grid_sample(
    grid: Float[torch.Tensor, "gh gw D"],
    centres_y: Float[torch.Tensor, "gh"],
    centres_x: Float[torch.Tensor, "gw"],
    pixels: Float[torch.Tensor, "N 2"],
) -> Float[torch.Tensor, "N D"]:
    """Bilinear interpolation of values stored at the nodes of a rectilinear grid of centres.

    The grid's spacing may be uneven (crop origins are rounded to whole pixels); outside the
    outermost centres the value is clamped. Computed in float32 whatever the grid's dtype. With more
    samples than grid nodes (point fusion, 3D features) by torch's ``grid_sample``
    (:func:`bilinear_by_grid_sample`, 3-5x faster on this CPU, bench/interpolate.py); else by four
    gathers (:func:`bilinear_by_gathers`): a training batch samples the stacked grids of every image,
    thousands of node rows tall, where a float32 node coordinate would cost ~1e-4 of a cell.
    """
    kernel = bilinear_by_grid_sample if pixels.shape[0] > grid.shape[0] * grid.shape[1] else bilinear_by_gathers
    return kernel(grid, centres_y, centres_x, pixels)


def bilinear_by_gathers(
    grid: Float[torch.Tensor, "gh gw D"],
    centres_y: Float[torch.Tensor, "gh"],
    centres_x: Float[torch.Tensor, "gw"],
    pixels: Float[torch.Tensor, "N 2"],
) -> Float[torch.Tensor, "N D"]:
    """:func:`bilinear_grid_sample` written out: four gathers of the grid's nodes, weighted (the
    reference the faster kernel is tested and benchmarked against)."""
    x0, x1, tx = _axis_weights(centres_x.float(), pixels[:, 0].float())
    y0, y1, ty = _axis_weights(centres_y.float(), pixels[:, 1].float())
    tx, ty = tx[:, None], ty[:, None]
    values = grid.float()
    top = values[y0, x0] * (1 - tx) + values[y0, x1] * tx  # (N, D)
    bottom = values[y1, x0] * (1 - tx) + values[y1, x1] * tx  # (N, D)
    return top * (1 - ty) + bottom * ty


def bilinear_by_grid_sample(
    grid: Float[torch.Tensor, "gh gw D"],
    centres_y: Float[torch.Tensor, "gh"],
    centres_x: Float[torch.Tensor, "gw"],
    pixels: Float[torch.Tensor, "N 2"],
) -> Float[torch.Tensor, "N D"]:
    """:func:`bilinear_grid_sample` by torch's ``grid_sample``: each pixel becomes a fractional node
    index (its left node plus its weight, per axis), which with ``align_corners`` puts node i at
    index i exactly, so uneven centres and the clamping carry over."""
    x0, _, tx = _axis_weights(centres_x.float(), pixels[:, 0].float())
    y0, _, ty = _axis_weights(centres_y.float(), pixels[:, 1].float())
    gh, gw = grid.shape[0], grid.shape[1]
    index = torch.stack([2 * (x0 + tx) / max(gw - 1, 1) - 1, 2 * (y0 + ty) / max(gh - 1, 1) - 1], dim=-1)
    channels_first = grid.float().permute(2, 0, 1)[None]  # (1, D, gh, gw)
    sampled = F.grid_sample(channels_first, index[None, None], mode="bilinear", align_corners=True)
    return sampled[0, :, 0].T  # (N, D)


def level_weights(level: Float[torch.Tensor, "N"], num_levels: int) -> Float[torch.Tensor, "N L"]:
    """Blend weight of each of ``num_levels`` pyramid levels at fractional ``level`` (clamped to
    [0, L - 1]): 1 - f on the level below and f on the one above, so each row sums to 1."""
    last = num_levels - 1
    level = level.float().clamp(0.0, float(last))
    lower = level.floor().long().clamp(max=last)
    upper_weight = level - lower
    upper = (lower + 1).clamp(max=last)
    weights = torch.zeros(level.shape[0], num_levels, device=level.device)
    weights.scatter_add_(1, lower[:, None], (1 - upper_weight)[:, None])
    return weights.scatter_add_(1, upper[:, None], upper_weight[:, None])


def sample_pyramid(
    pyramid: FeaturePyramid, pixels: Float[torch.Tensor, "N 2"], level: Float[torch.Tensor, "N"]
) -> Float[torch.Tensor, "N D"]:
    """Unit-norm embeddings at ``pixels`` and fractional pyramid ``level`` (clamped to the range).

    Within a level: bilinear between crop centres; across levels: linear blend of the two
    neighbouring levels; then re-normalised, because a blend of unit vectors is shorter than 1.
    """
    if pixels.shape[0] != level.shape[0]:
        raise ValueError(f"{pixels.shape[0]} pixels but {level.shape[0]} levels")
    weights = level_weights(level, pyramid.num_levels)
    out = torch.zeros(pixels.shape[0], pyramid.embedding_dim, device=pixels.device)
    for index, grid in enumerate(pyramid.levels):
        weight = weights[:, index]
        rays = torch.nonzero(weight > 0).squeeze(1)
        if rays.numel() == 0:
            continue
        sampled = bilinear_grid_sample(grid.embeddings, grid.centres_y, grid.centres_x, pixels[rays])
        out.index_add_(0, rays, sampled * weight[rays, None])
    return F.normalize(out, dim=-1, eps=NORM_EPS)


def _piecewise_linear(
    values: Float[torch.Tensor, "N"], xs: Float[torch.Tensor, "L"], ys: Float[torch.Tensor, "L"]
) -> Float[torch.Tensor, "N"]:
    """Interpolate y(x) through increasing knots ``xs``, clamped to the end knots."""
    if xs.shape[0] == 1:
        return torch.full_like(values, float(ys[0]))
    left, right, weight = _axis_weights(xs, values)
    return ys[left] * (1 - weight) + ys[right] * weight


def level_from_tile_fraction(
    tile_fraction: Float[torch.Tensor, "N"], tile_fractions: Sequence[float]
) -> Float[torch.Tensor, "N"]:
    """Fractional level of a tile fraction; clamped to [0, L - 1] outside the pyramid's range."""
    fractions = torch.tensor(tile_fractions, dtype=torch.float32, device=tile_fraction.device)
    levels = torch.arange(len(tile_fractions), dtype=torch.float32, device=tile_fraction.device)
    return _piecewise_linear(tile_fraction.float(), fractions, levels)


def tile_fraction_from_level(
    level: Float[torch.Tensor, "N"], tile_fractions: Sequence[float]
) -> Float[torch.Tensor, "N"]:
    """Tile fraction of a fractional level (inverse of :func:`level_from_tile_fraction`)."""
    fractions = torch.tensor(tile_fractions, dtype=torch.float32, device=level.device)
    levels = torch.arange(len(tile_fractions), dtype=torch.float32, device=level.device)
    return _piecewise_linear(level.float(), levels, fractions)


def world_scale_from_tile_fraction(
    tile_fraction: Float[torch.Tensor, "N"], depth: Float[torch.Tensor, "N"], fy: float, height: int
) -> Float[torch.Tensor, "N"]:
    """Metres spanned by a tile of ``tile_fraction x height`` pixels at ``depth`` metres."""
    return tile_fraction * height * depth / fy


def tile_fraction_from_world_scale(
    scale: Float[torch.Tensor, "N"], depth: Float[torch.Tensor, "N"], fy: float, height: int
) -> Float[torch.Tensor, "N"]:
    """Tile fraction whose footprint at ``depth`` is ``scale`` metres (inverse of the above).

    Depth 0 ("no measurement") gives inf, which :func:`level_from_tile_fraction` clamps to the
    coarsest level; callers should mask such rays instead.
    """
    return scale * fy / (height * depth)


def level_from_world_scale(
    scale: Float[torch.Tensor, "N"],
    depth: Float[torch.Tensor, "N"],
    fy: float,
    height: int,
    tile_fractions: Sequence[float],
) -> Float[torch.Tensor, "N"]:
    """Fractional pyramid level for a physical ``scale`` seen at ``depth`` (clamped to the range)."""
    return level_from_tile_fraction(tile_fraction_from_world_scale(scale, depth, fy, height), tile_fractions)


def world_scale_from_level(
    level: Float[torch.Tensor, "N"],
    depth: Float[torch.Tensor, "N"],
    fy: float,
    height: int,
    tile_fractions: Sequence[float],
) -> Float[torch.Tensor, "N"]:
    """Physical scale (metres) of fractional ``level`` at ``depth`` (the CLIP head's scale input)."""
    return world_scale_from_tile_fraction(tile_fraction_from_level(level, tile_fractions), depth, fy, height)
