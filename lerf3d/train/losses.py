"""The training objective: the field package's loss functions weighted and summed for one batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lerf3d.field.losses import (
    CLIP_LOSS_WEIGHT,
    DINO_LOSS_WEIGHT,
    clip_loss,
    depth_l1_loss,
    dino_loss,
    free_space_loss,
    psnr,
    rgb_loss,
    surface_opacity_loss,
)
from lerf3d.field.model import RenderOutput
from lerf3d.train.datamanager import TrainBatch

DEPTH_WEIGHT = 0.1
"""Weight of |rendered - measured| depth. 0.1 lets depth shape geometry early without outvoting colour
once the surface is in place (the field package's overfit test uses the same weights)."""
FREE_SPACE_WEIGHT = 0.1
"""Weight of the line-of-sight empty-space term (Urban Radiance Fields, Eq. 6)."""
SURFACE_WEIGHT = 0.1
"""Weight of the "ray ends inside the surface band" term (URF's near term, simplified)."""


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms (0 switches a term off)."""

    rgb: float = 1.0
    """Colour MSE."""
    depth: float = DEPTH_WEIGHT
    """Depth L1 on rays with a measurement."""
    free_space: float = FREE_SPACE_WEIGHT
    """Weight in front of the measured surface."""
    surface: float = SURFACE_WEIGHT
    """Weight missing from the surface band."""
    clip: float = CLIP_LOSS_WEIGHT
    """CLIP Huber loss (LERF: 0.1)."""
    dino: float = DINO_LOSS_WEIGHT
    """DINO MSE (LERF: 1)."""

    def __post_init__(self) -> None:
        for name in ("rgb", "depth", "free_space", "surface", "clip", "dino"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"loss weight {name} must be >= 0, got {value}")


@dataclass(frozen=True, eq=False)
class LossTerms:
    """Every term of one batch (weighted), their sum, and the batch PSNR."""

    total: torch.Tensor
    """What is back-propagated."""
    rgb: torch.Tensor
    depth: torch.Tensor
    free_space: torch.Tensor
    surface: torch.Tensor
    clip: torch.Tensor | None
    """None when the batch had no CLIP target or the model no language field."""
    dino: torch.Tensor | None
    """None when the batch had no DINO target or the model no language field."""
    psnr: torch.Tensor
    """PSNR of the batch's colours (dB, detached)."""

    def scalars(self) -> dict[str, float]:
        """Plain floats for logging (absent terms left out)."""
        names = ("total", "rgb", "depth", "free_space", "surface", "clip", "dino", "psnr")
        return {n: float(getattr(self, n).detach()) for n in names if getattr(self, n) is not None}


def compute_losses(output: RenderOutput, batch: TrainBatch, config: LossConfig) -> LossTerms:
    """LERF's objective with depth supervision; ``output`` must carry weights and samples."""
    if output.weights is None or output.samples is None:
        raise ValueError("compute_losses needs render_rays(..., return_samples=True)")
    s = output.samples
    color = config.rgb * rgb_loss(output.rgb, batch.rgb)
    depth = config.depth * depth_l1_loss(output.depth, batch.rays.depth)
    free = config.free_space * free_space_loss(output.weights, s.t_ends, s.surface_t, s.band, s.has_depth)
    surface = config.surface * surface_opacity_loss(output.weights, s.t_mids, s.surface_t, s.band, s.has_depth)
    total = color + depth + free + surface
    clip = dino = None
    if output.clip is not None and batch.clip_target is not None and config.clip > 0:
        clip = clip_loss(output.clip, batch.clip_target, weight=config.clip)
        total = total + clip
    if output.dino is not None and batch.dino_target is not None and config.dino > 0:
        dino = dino_loss(output.dino, batch.dino_target, weight=config.dino)
        total = total + dino
    return LossTerms(total, color, depth, free, surface, clip, dino, psnr(output.rgb.detach(), batch.rgb))
