"""Per-ray language targets: a random pyramid level, its physical scale, CLIP and DINO features.

The scale a CLIP target stands for is docs/architecture.md's ``tile fraction x H x depth / f_y`` metres: a crop
of ``tile_fraction x H`` pixels seen at ``depth`` metres through focal length ``f_y`` spans that
many metres.

Two ways to sample the targets, compared in the tests:

- ``sample_targets`` (reference): per image in the batch, :func:`~lerf3d.features.sample_pyramid`
  and :func:`~lerf3d.features.sample_dino_map`;
- :class:`StackedFeatures` (fast): the images of a capture share one size, so their pyramids share
  one crop layout; each level's grids are stacked into one tall grid and every ray of the batch is
  sampled in one pass per level instead of one per (image, level) - 7 passes instead of ~250 for a
  4096-ray batch over 35 images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.features.dino import DinoMap, sample_dino_map
from lerf3d.features.interpolate import (
    NORM_EPS,
    bilinear_grid_sample,
    level_weights,
    sample_pyramid,
    tile_fraction_from_level,
)
from lerf3d.features.pyramid import FeaturePyramid


def random_levels(count: int, num_levels: int, generator: torch.Generator) -> Float[torch.Tensor, "N"]:
    """Continuous levels uniform in [0, num_levels - 1] (LERF draws a uniform crop size per ray;
    our levels are evenly spaced in tile fraction, so uniform levels are uniform crop sizes)."""
    return torch.rand(count, generator=generator) * (num_levels - 1)


def scale_per_depth(
    levels: Float[torch.Tensor, "N"],
    tile_fractions: Sequence[float],
    image_height: int,
    fy: Float[torch.Tensor, "N"],
) -> Float[torch.Tensor, "N"]:
    """Metres per metre of depth of each ray's crop: ``tile_fraction x H / f_y``.

    Times a z-depth this is the crop's physical scale; the field multiplies it by each sample's own
    depth (LERF does the same), and the data manager by the measured depth for ``TrainBatch.clip_scale``.
    """
    return tile_fraction_from_level(levels, tile_fractions) * image_height / fy


def sample_targets(
    images: Int[torch.Tensor, "N"],
    pixels: Float[torch.Tensor, "N 2"],
    levels: Float[torch.Tensor, "N"],
    pyramids: Sequence[FeaturePyramid],
    dino_maps: Sequence[DinoMap] | None,
) -> tuple[Float[torch.Tensor, "N C"], Float[torch.Tensor, "N D"] | None]:
    """CLIP targets (level blend of the image's pyramid) and DINO targets (bilinear in its map).

    ``images`` index ``pyramids`` / ``dino_maps``; ``pixels`` are (x, y) in the pixel-centre
    convention of :mod:`lerf3d.types`.
    """
    clip = pixels.new_zeros(len(images), pyramids[0].embedding_dim)
    dino = pixels.new_zeros(len(images), dino_maps[0].feature_dim) if dino_maps else None
    for image in torch.unique(images).tolist():
        rows = torch.nonzero(images == image).squeeze(1)
        clip[rows] = sample_pyramid(pyramids[image], pixels[rows], levels[rows])
        if dino is not None:
            dino[rows] = sample_dino_map(dino_maps[image], pixels[rows])
    return clip, dino


@dataclass(frozen=True, eq=False)
class StackedGrid:
    """The grids of T images sharing one set of centres, stacked along y: (T * gh, gw, D).

    Image t's rows sit at y + t * ``row_offset``. Clamping y into the centres' range first (which
    is what sampling does at the border anyway) keeps every sample between two centres of its own
    image, so plain bilinear sampling of the tall grid never mixes images.
    """

    grid: Float[torch.Tensor, "TH gw D"]
    """Stacked values, float32."""
    centres_y: Float[torch.Tensor, "TH"]
    """Centres of every image's rows, offset per image."""
    centres_x: Float[torch.Tensor, "gw"]
    """Column centres shared by all images."""
    row_offset: float
    """y offset between consecutive images (> the span of one image's centres)."""
    y_range: tuple[float, float]
    """First and last row centre of one image."""

    @staticmethod
    def stack(
        grids: Sequence[torch.Tensor], centres_y: Sequence[torch.Tensor], centres_x: Sequence[torch.Tensor]
    ) -> StackedGrid:
        """Stack (gh, gw, D) grids; ValueError unless all share their centres."""
        cy, cx = centres_y[0].float(), centres_x[0].float()
        for y, x in zip(centres_y, centres_x):
            if not (torch.equal(y.float(), cy) and torch.equal(x.float(), cx)):
                raise ValueError("stacked sampling needs every image to share one crop layout (same image size)")
        offset = float(cy[-1] - cy[0]) + 1.0
        ys = torch.cat([cy + t * offset for t in range(len(grids))])  # (T * gh,)
        # float32 once here: bilinear_grid_sample casts its grid on every call otherwise.
        return StackedGrid(torch.cat(list(grids)).float(), ys, cx, offset, (float(cy[0]), float(cy[-1])))

    def sample(self, images: Int[torch.Tensor, "N"], pixels: Float[torch.Tensor, "N 2"]) -> Float[torch.Tensor, "N D"]:
        """Bilinear values at (x, y) pixels of the given images (float32)."""
        y = pixels[:, 1].clamp(*self.y_range) + images.to(pixels.dtype) * self.row_offset
        return bilinear_grid_sample(self.grid, self.centres_y, self.centres_x, torch.stack([pixels[:, 0], y], -1))


@dataclass(frozen=True, eq=False)
class StackedFeatures:
    """Pyramid levels and DINO maps of all training images, stacked for one-pass sampling."""

    levels: tuple[StackedGrid, ...]
    """One stacked grid per pyramid level."""
    dino: StackedGrid | None
    """Stacked DINO maps, None without."""

    @staticmethod
    def build(pyramids: Sequence[FeaturePyramid], dino_maps: Sequence[DinoMap] | None) -> StackedFeatures:
        levels = tuple(
            StackedGrid.stack(
                [p.levels[i].embeddings for p in pyramids],
                [p.levels[i].centres_y for p in pyramids],
                [p.levels[i].centres_x for p in pyramids],
            )
            for i in range(pyramids[0].num_levels)
        )
        dino = None
        if dino_maps:
            dino = StackedGrid.stack([d.features for d in dino_maps], [d.centres_y() for d in dino_maps],
                                     [d.centres_x() for d in dino_maps])
        return StackedFeatures(levels, dino)

    def sample(
        self, images: Int[torch.Tensor, "N"], pixels: Float[torch.Tensor, "N 2"], levels: Float[torch.Tensor, "N"]
    ) -> tuple[Float[torch.Tensor, "N C"], Float[torch.Tensor, "N D"] | None]:
        """Same result as :func:`sample_targets` (level blend as in ``sample_pyramid``)."""
        weights = level_weights(levels, len(self.levels))
        clip = pixels.new_zeros(len(images), self.levels[0].grid.shape[-1])
        for index, grid in enumerate(self.levels):
            weight = weights[:, index]
            rays = torch.nonzero(weight > 0).squeeze(1)
            if rays.numel():
                clip.index_add_(0, rays, grid.sample(images[rays], pixels[rays]) * weight[rays, None])
        dino = self.dino.sample(images, pixels) if self.dino is not None else None
        return F.normalize(clip, dim=-1, eps=NORM_EPS), dino
