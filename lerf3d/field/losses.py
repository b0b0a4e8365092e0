"""Training losses as pure functions: photometric, depth supervision and LERF's language losses."""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float

CLIP_LOSS_WEIGHT = 0.1
"""LERF (Kerr et al. 2023, Sec. 3.5; lerf.py clip_loss_weight): CLIP loss scale."""
CLIP_HUBER_DELTA = 1.25
"""LERF: Huber threshold of the CLIP loss."""
DINO_LOSS_WEIGHT = 1.0
"""LERF: the DINO MSE is unweighted."""


def rgb_loss(pred: Float[torch.Tensor, "R 3"], target: Float[torch.Tensor, "R 3"]) -> torch.Tensor:
    """Mean squared error over rays and channels (NeRF, nerfacto)."""
    return torch.nn.functional.mse_loss(pred, target)


def psnr(pred: Float[torch.Tensor, "*B 3"], target: Float[torch.Tensor, "*B 3"]) -> torch.Tensor:
    """Peak signal-to-noise ratio (dB) for colours in [0, 1]."""
    return -10.0 * torch.log10(torch.nn.functional.mse_loss(pred, target))


def _masked_mean(values: Float[torch.Tensor, "R"], mask: Bool[torch.Tensor, "R"]) -> torch.Tensor:
    """Mean over masked rays; 0 (still differentiable) when no ray is selected."""
    return (values * mask).sum() / mask.sum().clamp_min(1)


def depth_l1_loss(
    pred_depth: Float[torch.Tensor, "R"], target_depth: Float[torch.Tensor, "R"]
) -> torch.Tensor:
    """|rendered - measured| z-depth (m), averaged over rays with a measurement (target > 0)."""
    return _masked_mean((pred_depth - target_depth).abs(), target_depth > 0)


def free_space_loss(
    weights: Float[torch.Tensor, "R S"],
    t_ends: Float[torch.Tensor, "R S"],
    surface_t: Float[torch.Tensor, "R"],
    band: Float[torch.Tensor, "R"],
    has_depth: Bool[torch.Tensor, "R"],
) -> torch.Tensor:
    """Line-of-sight "empty" term (Urban Radiance Fields, Rematas et al. 2022, Eq. 6).

    The camera saw through everything in front of the measured surface, so any weight in a bin that
    ends before the band penalises as its square; summed along the ray, averaged over depth rays.
    """
    in_front = t_ends <= (surface_t - band)[:, None]
    return _masked_mean((weights.square() * in_front).sum(dim=-1), has_depth)


def surface_opacity_loss(
    weights: Float[torch.Tensor, "R S"],
    t_mids: Float[torch.Tensor, "R S"],
    surface_t: Float[torch.Tensor, "R"],
    band: Float[torch.Tensor, "R"],
    has_depth: Bool[torch.Tensor, "R"],
) -> torch.Tensor:
    """(1 - weight inside the surface band)^2, averaged over depth rays.

    A simplification of Urban Radiance Fields' "near" term (Eq. 7): the ray should end at the
    measured surface. Without it a depth-supervised ray may stay half transparent, since the
    expected depth is normalised by accumulation and a "last_sample" background hides it.
    """
    in_band = (t_mids - surface_t[:, None]).abs() <= band[:, None]
    return _masked_mean((1.0 - (weights * in_band).sum(dim=-1)).square(), has_depth)


def clip_loss(
    pred: Float[torch.Tensor, "R C"], target: Float[torch.Tensor, "R C"], weight: float = CLIP_LOSS_WEIGHT
) -> torch.Tensor:
    """LERF: weight x Huber(delta 1.25) summed over dimensions, averaged over rays (NaN rays skipped)."""
    per_dim = torch.nn.functional.huber_loss(pred, target, delta=CLIP_HUBER_DELTA, reduction="none")
    return weight * per_dim.sum(dim=-1).nanmean()


def dino_loss(
    pred: Float[torch.Tensor, "R D"], target: Float[torch.Tensor, "R D"], weight: float = DINO_LOSS_WEIGHT
) -> torch.Tensor:
    """LERF: squared error summed over dimensions, averaged over rays (NaN rays skipped)."""
    per_dim = torch.nn.functional.mse_loss(pred, target, reduction="none")
    return weight * per_dim.sum(dim=-1).nanmean()
