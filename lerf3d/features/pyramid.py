"""The crop pyramid of one image: crops per level, encoded in batches into a grid of embeddings.

Geometry (tile sizes, strides, border rule) lives in :mod:`lerf3d.features.tiling`; sampling the
result at pixels and scales lives in :mod:`lerf3d.features.interpolate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.features.tiling import LevelLayout, PyramidConfig, pyramid_layout

STORAGE_DTYPE = torch.float16
"""Embeddings are kept (and cached) in half precision: unit vectors lose < 1e-3 per component, far
below the CLIP-loss Huber threshold, and the pyramid of a capture halves in size."""


@dataclass(frozen=True, eq=False)
class PyramidLevel:
    """Embeddings of the crops of one tile size, on their grid of crop centres."""

    tile_fraction: float
    """Nominal tile side / image height."""
    tile_pixels: int
    """Tile side in pixels."""
    centres_x: Float[torch.Tensor, "gw"]
    """(gw,) increasing x coordinates of the crop centres, pixels."""
    centres_y: Float[torch.Tensor, "gh"]
    """(gh,) increasing y coordinates of the crop centres, pixels."""
    embeddings: Float[torch.Tensor, "gh gw D"]
    """Unit-norm embedding of the crop centred at (centres_y[i], centres_x[j])."""

    def __post_init__(self) -> None:
        gh, gw = len(self.centres_y), len(self.centres_x)
        if self.embeddings.ndim != 3 or tuple(self.embeddings.shape[:2]) != (gh, gw):
            raise ValueError(
                f"level {self.tile_fraction:.3f}: embeddings {tuple(self.embeddings.shape)} do not match "
                f"a ({gh}, {gw}, D) grid of centres"
            )

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> PyramidLevel:
        """The same level with its tensors on ``device`` (embeddings also cast to ``dtype``)."""
        return PyramidLevel(
            tile_fraction=self.tile_fraction,
            tile_pixels=self.tile_pixels,
            centres_x=self.centres_x.to(device),
            centres_y=self.centres_y.to(device),
            embeddings=self.embeddings.to(device=device, dtype=dtype or self.embeddings.dtype),
        )


@dataclass(frozen=True, eq=False)
class FeaturePyramid:
    """Multi-scale image-text embeddings of one image (one :class:`PyramidLevel` per tile size)."""

    levels: tuple[PyramidLevel, ...]
    """Levels, smallest tile first; fractional level l blends levels floor(l) and ceil(l)."""
    image_height: int
    """Height of the encoded image, pixels (the H of tile fraction x H)."""
    image_width: int
    """Width of the encoded image, pixels."""

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("a feature pyramid needs at least one level")
        dims = {level.embeddings.shape[-1] for level in self.levels}
        if len(dims) != 1:
            raise ValueError(f"all levels must share one embedding dimension, got {sorted(dims)}")
        fractions = self.tile_fractions
        if any(b <= a for a, b in zip(fractions, fractions[1:])):
            raise ValueError(f"levels must be ordered by increasing tile fraction, got {fractions}")

    @property
    def tile_fractions(self) -> tuple[float, ...]:
        """Tile side / image height per level."""
        return tuple(level.tile_fraction for level in self.levels)

    @property
    def tile_pixels(self) -> tuple[int, ...]:
        """Tile side in pixels per level."""
        return tuple(level.tile_pixels for level in self.levels)

    @property
    def embedding_dim(self) -> int:
        return int(self.levels[0].embeddings.shape[-1])

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> FeaturePyramid:
        """The same pyramid on ``device`` (e.g. moved to the GPU once before training)."""
        return FeaturePyramid(
            tuple(level.to(device, dtype) for level in self.levels), self.image_height, self.image_width
        )


def image_to_tensor(rgb: np.ndarray, device: torch.device | str) -> Float[torch.Tensor, "3 H W"]:
    """(H, W, 3) uint8 pixels -> (3, H, W) float32 in [0, 1] on ``device`` (the encoders' input)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    pixels = torch.from_numpy(np.ascontiguousarray(rgb)).to(device)
    return pixels.permute(2, 0, 1).float() / 255.0  # (H, W, 3) -> (3, H, W)


def gather_crops(
    image: Float[torch.Tensor, "3 H W"], layout: LevelLayout, crop_ids: np.ndarray, out_size: int
) -> Float[torch.Tensor, "n 3 S S"]:
    """The crops ``crop_ids`` (row-major indices into the level's grid) resized to ``out_size``."""
    gw = len(layout.origins_x)
    tile = layout.tile_pixels
    offsets = torch.arange(tile, device=image.device)
    top = torch.as_tensor(layout.origins_y[crop_ids // gw], device=image.device)
    left = torch.as_tensor(layout.origins_x[crop_ids % gw], device=image.device)
    rows = top[:, None] + offsets  # (n, t)
    cols = left[:, None] + offsets  # (n, t)
    crops = image[:, rows[:, :, None], cols[:, None, :]]  # (3, n, t, t)
    crops = crops.permute(1, 0, 2, 3)  # (n, 3, t, t)
    if tile == out_size:
        return crops.contiguous()
    # antialias: the largest tiles shrink, and plain bilinear downsampling would alias textures
    size = (out_size, out_size)
    return F.interpolate(crops, size=size, mode="bilinear", align_corners=False, antialias=True)


def _crop_batches(
    layouts: tuple[LevelLayout, ...], batch_size: int
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Batches of at most ``batch_size`` crops as [(level, crop ids)], running across level borders
    so every batch but the last is full."""
    batch: list[tuple[int, np.ndarray]] = []
    room = batch_size
    for level, layout in enumerate(layouts):
        start = 0
        while start < layout.num_crops:
            stop = min(start + room, layout.num_crops)
            batch.append((level, np.arange(start, stop)))
            room -= stop - start
            start = stop
            if room == 0:
                yield batch
                batch, room = [], batch_size
    if batch:
        yield batch


def _assemble(
    layouts: tuple[LevelLayout, ...], flat: list[torch.Tensor], height: int, width: int
) -> FeaturePyramid:
    levels = []
    for layout, embeddings in zip(layouts, flat):
        gh, gw = layout.grid_shape
        levels.append(
            PyramidLevel(
                tile_fraction=layout.tile_fraction,
                tile_pixels=layout.tile_pixels,
                centres_x=torch.from_numpy(layout.centres_x),
                centres_y=torch.from_numpy(layout.centres_y),
                embeddings=embeddings.reshape(gh, gw, -1),  # (gh * gw, D) -> (gh, gw, D)
            )
        )
    return FeaturePyramid(tuple(levels), height, width)


@torch.no_grad()  # not inference_mode: its tensors could not be saved for backward later
def extract_pyramid(
    image: Float[torch.Tensor, "3 H W"],
    encoder: ImageTextEncoder,
    config: PyramidConfig,
    batch_size: int = 64,
) -> FeaturePyramid:
    """Encode every crop of ``image`` (on the encoder's device) in batches of ``batch_size``.

    The result is on the CPU in :data:`STORAGE_DTYPE`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _, height, width = image.shape
    layouts = pyramid_layout(config, height, width)
    per_level: list[list[torch.Tensor]] = [[] for _ in layouts]
    for batch in _crop_batches(layouts, batch_size):
        crops = torch.cat(
            [gather_crops(image, layouts[level], ids, encoder.input_size) for level, ids in batch]
        )  # (B, 3, S, S)
        embeddings = encoder.encode_image(crops).to("cpu", STORAGE_DTYPE)
        start = 0
        for level, ids in batch:
            per_level[level].append(embeddings[start : start + len(ids)])
            start += len(ids)
    return _assemble(layouts, [torch.cat(chunks) for chunks in per_level], height, width)


@torch.no_grad()  # not inference_mode: its tensors could not be saved for backward later
def extract_pyramid_one_by_one(
    image: Float[torch.Tensor, "3 H W"], encoder: ImageTextEncoder, config: PyramidConfig
) -> FeaturePyramid:
    """Reference loop: crop, resize and encode one crop at a time (the baseline of bench/features.py)."""
    _, height, width = image.shape
    layouts = pyramid_layout(config, height, width)
    flat = []
    for layout in layouts:
        rows = []
        for crop_id in range(layout.num_crops):
            crop = gather_crops(image, layout, np.array([crop_id]), encoder.input_size)  # (1, 3, S, S)
            rows.append(encoder.encode_image(crop).to("cpu", STORAGE_DTYPE))
        flat.append(torch.cat(rows))
    return _assemble(layouts, flat, height, width)


def pyramid_to_arrays(pyramid: FeaturePyramid) -> dict[str, np.ndarray]:
    """Flat named arrays for the on-disk cache (inverse: :func:`pyramid_from_arrays`)."""
    arrays = {
        "image_size": np.array([pyramid.image_height, pyramid.image_width], dtype=np.int64),
        "tile_fractions": np.array(pyramid.tile_fractions, dtype=np.float64),
        "tile_pixels": np.array(pyramid.tile_pixels, dtype=np.int64),
    }
    for i, level in enumerate(pyramid.levels):
        arrays[f"level{i}_centres_x"] = level.centres_x.cpu().numpy().astype(np.float32)
        arrays[f"level{i}_centres_y"] = level.centres_y.cpu().numpy().astype(np.float32)
        arrays[f"level{i}_embeddings"] = level.embeddings.cpu().to(STORAGE_DTYPE).numpy()
    return arrays


def pyramid_from_arrays(arrays: dict[str, np.ndarray]) -> FeaturePyramid:
    """Rebuild a pyramid from :func:`pyramid_to_arrays`; KeyError/ValueError when inconsistent."""
    height, width = (int(v) for v in arrays["image_size"])
    levels = tuple(
        PyramidLevel(
            tile_fraction=float(fraction),
            tile_pixels=int(tile),
            centres_x=torch.from_numpy(arrays[f"level{i}_centres_x"]),
            centres_y=torch.from_numpy(arrays[f"level{i}_centres_y"]),
            embeddings=torch.from_numpy(arrays[f"level{i}_embeddings"]),
        )
        for i, (fraction, tile) in enumerate(zip(arrays["tile_fractions"], arrays["tile_pixels"]))
    )
    return FeaturePyramid(levels, height, width)
