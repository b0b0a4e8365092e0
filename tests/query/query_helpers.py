"""Helpers of the query tests: a deterministic image-text encoder, tiny fields, a brief fit, cameras."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from lerf3d.field import (
    HashGridConfig,
    LanguageFieldConfig,
    LerfField,
    LerfFieldConfig,
    RadianceFieldConfig,
    SamplerConfig,
)
from lerf3d.query.camera import QueryCamera
from lerf3d.types import Intrinsics, SceneBounds

EMBED_DIM = 16
"""Embedding width of the test encoder and tiny fields."""
ROOM = SceneBounds(np.array([-1.0, -1.0, -0.2]), np.array([3.0, 3.0, 0.3]))
"""A flat box: the floor plane z = 0 with a little margin."""
# Camera 2 m above the floor plane, looking straight down (OpenCV: z forward = world -z).
DOWN = np.array([[1.0, 0, 0, 1.0], [0, -1.0, 0, 1.0], [0, 0, -1.0, 2.0], [0, 0, 0, 1]])


class HashTextEncoder:
    """Phrases -> fixed random unit vectors seeded by their UTF-8 bytes (any length, any script);
    images -> a fixed random projection of mean colours (only the 2D baselines encode images)."""

    def __init__(self, embedding_dim: int = EMBED_DIM, input_size: int = 8) -> None:
        self.name = f"test:hash-{embedding_dim}"
        self.embedding_dim = embedding_dim
        self.input_size = input_size
        self.calls = 0
        self.mix = torch.randn(3 * 4, embedding_dim, generator=torch.Generator().manual_seed(7))

    def encode_text(self, phrases: list[str]) -> torch.Tensor:
        self.calls += 1
        rows = []
        for phrase in phrases:
            seed = int.from_bytes(hashlib.sha256(phrase.encode("utf-8")).digest()[:4], "little")
            rows.append(torch.randn(self.embedding_dim, generator=torch.Generator().manual_seed(seed)))
        return F.normalize(torch.stack(rows), dim=-1)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(images - 0.5, 2).flatten(1)  # (B, 3 * 2 * 2)
        return F.normalize(pooled @ self.mix, dim=-1)


def tiny_field_config(clip_dim: int = EMBED_DIM, clip_rendering: str = "per_sample") -> LerfFieldConfig:
    grid = HashGridConfig(num_levels=4, features_per_level=2, log2_table_size=12, base_resolution=8,
                          max_resolution=64)
    language = LanguageFieldConfig(
        grids=(HashGridConfig(num_levels=4, features_per_level=4, log2_table_size=12, base_resolution=8,
                              max_resolution=64),),
        clip_dim=clip_dim, dino_dim=8, clip_hidden_dim=32, clip_hidden_layers=1, dino_hidden_dim=16,
        dino_hidden_layers=1,
    )
    return LerfFieldConfig(
        radiance=RadianceFieldConfig(grid=grid, density_hidden_dim=16, color_hidden_dim=16,
                                     geo_feature_dim=7),
        language=language,
        sampler=SamplerConfig(num_surface_samples=8, num_free_samples=4),
        language_top_k=4,
        clip_rendering=clip_rendering,
    )


def make_field(seed: int = 0, clip_dim: int = EMBED_DIM, bounds: SceneBounds = ROOM, **kwargs) -> LerfField:
    torch.manual_seed(seed)
    return LerfField(tiny_field_config(clip_dim, **kwargs), bounds).eval()


def fit_clip_by_scale(field: LerfField, small: torch.Tensor, large: torch.Tensor, split: float = 0.75,
                      steps: int = 80) -> LerfField:
    """Briefly train the language field so every point embeds as ``small`` below ``split`` metres of
    scale and as ``large`` above it (position ignored): a field whose best scale depends on the phrase."""
    assert field.language is not None
    optimiser = torch.optim.Adam(field.language.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    lower, upper = field.lower, field.upper
    for _ in range(steps):
        points = lower + (upper - lower) * torch.rand(256, 3, generator=generator)
        scales = 1.5 * torch.rand(256, generator=generator)
        target = torch.where((scales < split)[:, None], small, large)
        coords, _ = field.grid_coords(points)
        embeds = field.language.clip(field.language.encode(coords), scales)
        loss = (1 - (embeds * target).sum(-1)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return field.eval()


def down_camera(side: int = 12, depth: bool = False) -> QueryCamera:
    k = Intrinsics(fx=0.75 * side, fy=0.75 * side, cx=side / 2, cy=side / 2, width=side, height=side)
    guide = np.full((side, side), 2.0, np.float32) if depth else None
    return QueryCamera(k, DOWN, guide, "down")
