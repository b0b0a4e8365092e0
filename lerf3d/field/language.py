"""LERF language field: its own hash grids, a scale-conditioned CLIP head and a DINO head."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import nn

from lerf3d.field.encoding import HashGrid, HashGridConfig
from lerf3d.field.mlp import build_mlp

NORM_EPS = 1e-12
"""Smallest norm divided by when normalising (torch.nn.functional.normalize's default)."""


def _lerf_grids() -> tuple[HashGridConfig, ...]:
    # LERF (Kerr et al. 2023, Sec. 3.4 and its lerf_config): two 12-level grids, 8 features per
    # level, 2^19 entries, resolutions 16-128 and 128-512.
    return (
        HashGridConfig(
            num_levels=12, features_per_level=8, log2_table_size=19, base_resolution=16, max_resolution=128
        ),
        HashGridConfig(
            num_levels=12, features_per_level=8, log2_table_size=19, base_resolution=128, max_resolution=512
        ),
    )


@dataclass(frozen=True)
class LanguageFieldConfig:
    """Sizes of the language field (defaults: LERF's, for OpenCLIP ViT-B-16 and DINO ViT-S)."""

    grids: tuple[HashGridConfig, ...] = field(default_factory=_lerf_grids)
    """Hash grids whose features are concatenated (coarse and fine in LERF)."""
    clip_dim: int = 512
    """Image-text embedding dimension (512 OpenCLIP ViT-B-16; 384 the embedded text space)."""
    dino_dim: int = 384
    """Dense feature dimension (384 DINO ViT-S; ~192 the embedded dense encoder)."""
    clip_hidden_dim: int = 256
    """Width of the CLIP head."""
    clip_hidden_layers: int = 4
    """Hidden layers of the CLIP head."""
    dino_hidden_dim: int = 256
    """Width of the DINO head."""
    dino_hidden_layers: int = 1
    """Hidden layers of the DINO head."""

    def __post_init__(self) -> None:
        if not self.grids:
            raise ValueError("the language field needs at least one hash grid")
        if self.clip_dim < 1 or self.dino_dim < 1:
            raise ValueError(f"clip_dim and dino_dim must be >= 1, got {self.clip_dim}, {self.dino_dim}")


class LanguageField(nn.Module):
    """Grid features at points in [0, 1]^3, then CLIP (given a world scale) and DINO heads."""

    def __init__(self, config: LanguageFieldConfig) -> None:
        super().__init__()
        self.config = config
        self.grids = nn.ModuleList([HashGrid(g) for g in config.grids])
        self.feature_dim = sum(g.output_dim for g in self.grids)
        # The scale enters the CLIP head raw, in metres, as in LERF.
        self.clip_mlp = build_mlp(
            self.feature_dim + 1, config.clip_hidden_dim, config.clip_hidden_layers, config.clip_dim
        )
        self.dino_mlp = build_mlp(
            self.feature_dim, config.dino_hidden_dim, config.dino_hidden_layers, config.dino_dim
        )

    def encode(self, coords: Float[torch.Tensor, "N 3"]) -> Float[torch.Tensor, "N D"]:
        """Concatenated grid features; cache them to evaluate the CLIP head at many scales."""
        return torch.cat([grid(coords) for grid in self.grids], dim=-1)

    def clip_hidden(
        self, features: Float[torch.Tensor, "N D"], scales: Float[torch.Tensor, "N"]
    ) -> Float[torch.Tensor, "N H"]:
        """The CLIP head up to (not including) its output layer."""
        return self.clip_mlp[:-1](torch.cat([features, scales[:, None].to(features.dtype)], dim=-1))

    def clip_decode(self, hidden: Float[torch.Tensor, "N H"]) -> Float[torch.Tensor, "N C"]:
        """Output layer of the CLIP head, normalised to unit length."""
        return unit_normalise(self.clip_mlp[-1](hidden))

    def clip(
        self, features: Float[torch.Tensor, "N D"], scales: Float[torch.Tensor, "N"]
    ) -> Float[torch.Tensor, "N C"]:
        """Unit CLIP embedding of each point seen at a physical scale (metres)."""
        return self.clip_decode(self.clip_hidden(features, scales))

    def dino_hidden(self, features: Float[torch.Tensor, "N D"]) -> Float[torch.Tensor, "N H"]:
        """The DINO head up to its (linear) output layer: averaging here then decoding is exact."""
        return self.dino_mlp[:-1](features)

    def dino_decode(self, hidden: Float[torch.Tensor, "N H"]) -> Float[torch.Tensor, "N E"]:
        return self.dino_mlp[-1](hidden)

    def dino(self, features: Float[torch.Tensor, "N D"]) -> Float[torch.Tensor, "N E"]:
        """DINO feature of each point."""
        return self.dino_decode(self.dino_hidden(features))


class _UnitNormalise(torch.autograd.Function):
    """x / |x| with a fused backward: (g - y (y . g)) / |x| in three passes instead of autograd's
    division and norm graph, which dominates the CLIP head's cost at 512 dimensions per sample."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        inv_norm = torch.rsqrt((x * x).sum(dim=-1, keepdim=True).clamp_min(NORM_EPS**2))
        y = x * inv_norm
        ctx.save_for_backward(y, inv_norm)
        return y

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        y, inv_norm = ctx.saved_tensors
        along = (grad * y).sum(dim=-1, keepdim=True)
        return torch.addcmul(grad, y, along, value=-1.0).mul_(inv_norm)


def unit_normalise(x: Float[torch.Tensor, "N C"]) -> Float[torch.Tensor, "N C"]:
    """Rows scaled to unit length (rows shorter than 1e-12 are divided by 1e-12, like F.normalize)."""
    return _UnitNormalise.apply(x)
