"""Geometry of the crop pyramid: tile sizes, strides and crop windows (no encoder, no tensors).

Reading of docs/architecture.md's "stride ratio from 1.0 down to 0.5 for the small tiles" (the LERF recipe):
the stride of a level is ``ratio x tile side``, and the ratio falls linearly from
:data:`SMALL_TILE_STRIDE_RATIO` (1.0: tiles touch, no overlap) at a tile fraction of
:data:`STRIDE_RAMP_FRACTIONS`\\[0] to :data:`LARGE_TILE_STRIDE_RATIO` (0.5: half-overlapping tiles)
at \\[1], and stays at 0.5 above it. Why this way round:

- small tiles are the numerous ones (a 0.05-of-H tile gives ~20 x 27 crops on a 4:3 image at
  ratio 1.0); halving their stride would quadruple the cost of the finest level alone, while
  their centres are already dense enough for bilinear interpolation to be smooth;
- large tiles are few (a 0.5-of-H tile at ratio 1.0 gives only 2 rows): without overlap a pixel
  is mostly far from every centre and the interpolated embedding mixes unrelated crops, so they
  get 50 % overlap.

Border rule: windows are **clamped inside the image**, never padded. Along an axis of length L a
level with tile side t and nominal stride s gets ``n = ceil((L - t) / s) + 1`` windows whose
origins are spread evenly over [0, L - t] (so the actual stride is <= s) and rounded to whole
pixels. Padding would feed the encoder black borders that bias the embedding of every edge crop;
the price is that pixels closer to the border than t/2 take the outermost centre's embedding
(interpolation is clamped there, see :mod:`lerf3d.features.interpolate`).

Pixel coordinates follow :mod:`lerf3d.types`: pixel centres at 0.5, 1.5, ..., so a window with
origin x0 and side t covers [x0, x0 + t) and has its centre at x0 + t / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NUM_LEVELS = 7
"""Tile sizes in the pyramid (LERF: ``tile_size_res`` = 7; docs/architecture.md, "Crop pyramid")."""
MIN_TILE_FRACTION = 0.05
"""Smallest tile side as a fraction of image height (LERF: ``tile_size_range`` = (0.05, 0.5))."""
MAX_TILE_FRACTION = 0.5
"""Largest tile side as a fraction of image height (LERF, as above)."""
SMALL_TILE_STRIDE_RATIO = 1.0
"""Stride / tile side for the smallest tiles (docs/architecture.md: "stride ratio from 1.0 down to 0.5")."""
LARGE_TILE_STRIDE_RATIO = 0.5
"""Stride / tile side for large tiles (LERF: ``stride_scaler`` = 0.5)."""
STRIDE_RAMP_FRACTIONS = (0.05, 0.15)
"""Tile fractions over which the stride ratio ramps from small to large (LERF's small-tile ramp)."""


@dataclass(frozen=True)
class PyramidConfig:
    """Settings of the crop pyramid; every field changes the embeddings, so all are in cache keys."""

    num_levels: int = NUM_LEVELS
    """Number of tile sizes, evenly spaced between the two fractions below."""
    min_tile_fraction: float = MIN_TILE_FRACTION
    """Side of the smallest tile as a fraction of image height."""
    max_tile_fraction: float = MAX_TILE_FRACTION
    """Side of the largest tile as a fraction of image height."""
    small_stride_ratio: float = SMALL_TILE_STRIDE_RATIO
    """Stride / tile side at and below ``stride_ramp[0]``."""
    large_stride_ratio: float = LARGE_TILE_STRIDE_RATIO
    """Stride / tile side at and above ``stride_ramp[1]``."""
    stride_ramp: tuple[float, float] = STRIDE_RAMP_FRACTIONS
    """Tile fractions between which the stride ratio goes linearly from small to large."""

    def __post_init__(self) -> None:
        if self.num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {self.num_levels}")
        if not 0.0 < self.min_tile_fraction <= self.max_tile_fraction <= 1.0:
            raise ValueError(
                "tile fractions must satisfy 0 < min_tile_fraction <= max_tile_fraction <= 1, got "
                f"{self.min_tile_fraction} and {self.max_tile_fraction}"
            )
        if self.num_levels > 1 and self.min_tile_fraction == self.max_tile_fraction:
            raise ValueError(f"{self.num_levels} levels need min_tile_fraction < max_tile_fraction")
        for name in ("small_stride_ratio", "large_stride_ratio"):
            ratio = getattr(self, name)
            if not 0.0 < ratio <= 1.0:
                raise ValueError(f"{name} must be in (0, 1] (a longer stride leaves gaps), got {ratio}")
        low, high = self.stride_ramp
        if not 0.0 <= low < high:
            raise ValueError(f"stride_ramp must be (low, high) with 0 <= low < high, got {self.stride_ramp}")

    def tile_fractions(self) -> tuple[float, ...]:
        """Tile side / image height of each level, smallest first."""
        if self.num_levels == 1:
            return (self.min_tile_fraction,)
        fractions = np.linspace(self.min_tile_fraction, self.max_tile_fraction, self.num_levels)
        return tuple(float(f) for f in fractions)


@dataclass(frozen=True, eq=False)
class LevelLayout:
    """Where the crops of one pyramid level lie in an image."""

    tile_fraction: float
    """Nominal tile side / image height."""
    tile_pixels: int
    """Tile side in pixels (square tiles)."""
    stride_ratio: float
    """Nominal stride / tile side used to count the windows."""
    origins_x: np.ndarray
    """(gw,) int64 left edges of the window columns."""
    origins_y: np.ndarray
    """(gh,) int64 top edges of the window rows."""

    @property
    def centres_x(self) -> np.ndarray:
        """(gw,) float32 x coordinates of the crop centres (pixel-centre convention)."""
        return (self.origins_x + self.tile_pixels / 2).astype(np.float32)

    @property
    def centres_y(self) -> np.ndarray:
        """(gh,) float32 y coordinates of the crop centres."""
        return (self.origins_y + self.tile_pixels / 2).astype(np.float32)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(gh, gw): crop rows and columns."""
        return len(self.origins_y), len(self.origins_x)

    @property
    def num_crops(self) -> int:
        return len(self.origins_y) * len(self.origins_x)


def stride_ratio(tile_fraction: float, config: PyramidConfig) -> float:
    """Stride / tile side for a tile of ``tile_fraction`` of the height (linear ramp, clamped)."""
    low, high = config.stride_ramp
    return float(
        np.interp(tile_fraction, [low, high], [config.small_stride_ratio, config.large_stride_ratio])
    )


def tile_side_pixels(tile_fraction: float, height: int, width: int) -> int:
    """Tile side in whole pixels: at least 1, at most the image's shorter side (it must fit)."""
    return int(min(max(round(tile_fraction * height), 1), min(height, width)))


def window_origins(length: int, tile: int, stride: float) -> np.ndarray:
    """(n,) int64 origins of windows of side ``tile`` spread evenly over an axis of ``length``.

    ``n = ceil((length - tile) / stride) + 1``: the fewest windows whose spacing is at most the
    nominal stride while the first starts at 0 and the last ends at ``length`` (clamped inside).
    """
    if not 1 <= tile <= length:
        raise ValueError(f"tile side {tile} must be in [1, {length}]")
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    span = length - tile
    count = math.ceil(span / stride - 1e-9) + 1  # 1e-9: an exact fit must not round up to an extra window
    return np.rint(np.linspace(0.0, span, count)).astype(np.int64)


def pyramid_layout(config: PyramidConfig, height: int, width: int) -> tuple[LevelLayout, ...]:
    """The crop windows of every level for an image of ``height`` x ``width`` pixels."""
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1 pixels, got {height}x{width}")
    layouts = []
    for fraction in config.tile_fractions():
        tile = tile_side_pixels(fraction, height, width)
        ratio = stride_ratio(fraction, config)
        stride = ratio * tile
        layouts.append(
            LevelLayout(
                tile_fraction=fraction,
                tile_pixels=tile,
                stride_ratio=ratio,
                origins_x=window_origins(width, tile, stride),
                origins_y=window_origins(height, tile, stride),
            )
        )
    return tuple(layouts)
