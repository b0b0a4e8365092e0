"""Features of a whole capture: crop pyramid + DINO map per frame, through the on-disk cache."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from lerf3d.capture.io import load_rgb
from lerf3d.encoders.base import DenseFeatureEncoder, ImageTextEncoder
from lerf3d.features.cache import CacheKey, FeatureCache, image_digest, settings_digest
from lerf3d.features.dino import DinoMap, dino_from_arrays, dino_to_arrays, extract_dino_map
from lerf3d.features.pyramid import (
    FeaturePyramid,
    extract_pyramid,
    image_to_tensor,
    pyramid_from_arrays,
    pyramid_to_arrays,
)
from lerf3d.features.tiling import PyramidConfig
from lerf3d.types import Capture

T = TypeVar("T")

CROP_RESIZE_METHOD = "bilinear-antialias"
"""How crops reach the encoder's input size; part of the pyramid cache key (changing it changes
the embeddings)."""


@dataclass(frozen=True)
class FeatureExtractorConfig:
    """Settings of :class:`FeatureExtractor`."""

    pyramid: PyramidConfig = field(default_factory=PyramidConfig)
    """Crop pyramid geometry (all of it is part of the cache key)."""
    batch_size: int = 64
    """Crops per ``encode_image`` call; changes speed and memory, not the result (not in the key)."""
    show_progress: bool = True
    """Show a tqdm bar over the frames."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """Everything precomputed for one image."""

    pyramid: FeaturePyramid
    """Multi-scale image-text embeddings."""
    dino: DinoMap | None
    """Dense DINO map, or None when extraction ran without a dense encoder."""
    image_digest: str
    """Content hash of the decoded pixels the features were computed from."""


@dataclass(frozen=True, eq=False)
class CaptureFeatures:
    """Features of every frame of a capture, by frame name (all held in memory, CPU, float16)."""

    frames: Mapping[str, FrameFeatures]
    """Frame name -> its features, in capture order."""
    image_text_encoder: str
    """Name of the encoder behind the pyramids."""
    dense_encoder: str | None
    """Name of the encoder behind the DINO maps, None without."""
    cache_hits: int = 0
    """Feature files loaded from the cache during extraction."""
    cache_misses: int = 0
    """Feature files computed (absent or rejected) during extraction."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", MappingProxyType(dict(self.frames)))

    def pyramid(self, name: str) -> FeaturePyramid:
        return self._frame(name).pyramid

    def dino(self, name: str) -> DinoMap:
        dino = self._frame(name).dino
        if dino is None:
            raise ValueError(f"features of frame {name!r} were extracted without a dense encoder")
        return dino

    def _frame(self, name: str) -> FrameFeatures:
        try:
            return self.frames[name]
        except KeyError:
            raise KeyError(f"no features for frame {name!r} ({len(self.frames)} frames)") from None


class FeatureExtractor:
    """Computes (or loads from ``cache_dir``) the pyramid and DINO map of each frame.

    Images go to ``device``, which must be where the encoders were built; results come back to
    the CPU. ``cache_dir=None`` disables the cache.
    """

    def __init__(
        self,
        config: FeatureExtractorConfig,
        image_text_encoder: ImageTextEncoder,
        dense_encoder: DenseFeatureEncoder | None,
        cache_dir: Path | str | None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.config = config
        self.image_text_encoder = image_text_encoder
        self.dense_encoder = dense_encoder
        self.cache = FeatureCache(cache_dir) if cache_dir is not None else None
        self.device = torch.device(device)
        self._pyramid_settings = settings_digest(
            {
                "pyramid": config.pyramid,
                "input_size": image_text_encoder.input_size,
                "embedding_dim": image_text_encoder.embedding_dim,
                "resize": CROP_RESIZE_METHOD,
            }
        )
        self._dense_settings = (
            settings_digest({"feature_dim": dense_encoder.feature_dim}) if dense_encoder is not None else ""
        )
        self.hits = 0
        self.misses = 0

    def extract(self, capture: Capture) -> CaptureFeatures:
        """Features of every frame of ``capture``, frames loaded with :func:`lerf3d.capture.io.load_rgb`."""
        hits, misses = self.hits, self.misses
        frames = {}
        bar = tqdm(capture.frames, desc="features", unit="img", disable=not self.config.show_progress)
        for frame in bar:
            frames[frame.name] = self.extract_image(load_rgb(frame))
        return CaptureFeatures(
            frames=frames,
            image_text_encoder=self.image_text_encoder.name,
            dense_encoder=self.dense_encoder.name if self.dense_encoder is not None else None,
            cache_hits=self.hits - hits,
            cache_misses=self.misses - misses,
        )

    def extract_image(self, rgb: np.ndarray) -> FrameFeatures:
        """Features of one (H, W, 3) uint8 image, through the cache."""
        digest = image_digest(rgb)
        image: torch.Tensor | None = None  # decoded onto the device only on a cache miss

        def tensor() -> torch.Tensor:
            nonlocal image
            if image is None:
                image = image_to_tensor(rgb, self.device)
            return image

        pyramid_key = CacheKey("pyramid", digest, self.image_text_encoder.name, self._pyramid_settings)
        config = self.config
        pyramid = self._cached(
            pyramid_key,
            pyramid_from_arrays,
            lambda: pyramid_to_arrays(
                extract_pyramid(tensor(), self.image_text_encoder, config.pyramid, config.batch_size)
            ),
        )
        dino = None
        if self.dense_encoder is not None:
            dense = self.dense_encoder
            dino_key = CacheKey("dino", digest, dense.name, self._dense_settings)
            dino = self._cached(
                dino_key, dino_from_arrays, lambda: dino_to_arrays(extract_dino_map(tensor(), dense))
            )
        return FrameFeatures(pyramid=pyramid, dino=dino, image_digest=digest)

    def _cached(
        self,
        key: CacheKey,
        decode: Callable[[dict[str, np.ndarray]], T],
        compute: Callable[[], dict[str, np.ndarray]],
    ) -> T:
        """Load ``key`` from the cache, or compute, store and return it (decoded the same way either
        path, so a hit returns exactly what the miss returned)."""
        result = self.cache.load(key, decode) if self.cache is not None else None
        if result is not None:
            self.hits += 1
            return result
        self.misses += 1
        arrays = compute()
        if self.cache is not None:
            self.cache.save(key, arrays)
        return decode(arrays)
