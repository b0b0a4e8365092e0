"""World points -> the unit cube the hash grids read.

Two modes (``ContractionConfig.mode``):

- ``"clamp"`` (default for rooms): an affine map of the fused scene's axis-aligned box onto [0, 1]^3.
  Points outside the box are flagged ``inside = False`` and the radiance field gives them zero
  density, as nerfacto does with an AABB scene box. With an RGB-D capture the fused box (padded by
  ``margin``) holds every observed surface, so the whole grid resolution goes to the room.
- ``"contract"``: mip-NeRF 360's contraction (Barron et al. 2022, Eq. 10) with the L-infinity norm
  (as nerfacto's SceneContraction): the box maps to [-1, 1]^3, the unbounded outside to
  [-2, 2]^3, then everything to [0, 1]^3. Half the grid goes to the box; use it for captures that
  see through windows or doors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Bool, Float


@dataclass(frozen=True)
class ContractionConfig:
    """How world points are normalised for the grids."""

    mode: Literal["clamp", "contract"] = "clamp"
    """"clamp": affine to the padded box, outside is empty; "contract": mip-NeRF 360 contraction."""
    margin: float = 0.1
    """Metres added on every side of the fused bounds before normalising."""

    def __post_init__(self) -> None:
        if self.mode not in ("clamp", "contract"):
            raise ValueError(f"contraction mode must be 'clamp' or 'contract', got {self.mode!r}")
        if self.margin < 0:
            raise ValueError(f"contraction margin must be >= 0 metres, got {self.margin}")


def normalise_to_box(
    points: Float[torch.Tensor, "*B 3"], lower: Float[torch.Tensor, "3"], upper: Float[torch.Tensor, "3"]
) -> Float[torch.Tensor, "*B 3"]:
    """Affine map sending ``lower`` to (-1, -1, -1) and ``upper`` to (1, 1, 1)."""
    return (points - lower) * (2.0 / (upper - lower)) - 1.0


def contract_linf(x: Float[torch.Tensor, "*B 3"]) -> Float[torch.Tensor, "*B 3"]:
    """mip-NeRF 360 contraction with the L-inf norm: identity in [-1, 1]^3, the rest into [-2, 2]^3."""
    norm = x.abs().amax(dim=-1, keepdim=True)
    safe = norm.clamp_min(1.0)  # avoids dividing by ~0 where the identity branch is taken anyway
    return torch.where(norm <= 1.0, x, (2.0 - 1.0 / safe) * (x / safe))


def to_unit_cube(
    points: Float[torch.Tensor, "*B 3"],
    lower: Float[torch.Tensor, "3"],
    upper: Float[torch.Tensor, "3"],
    mode: Literal["clamp", "contract"],
) -> tuple[Float[torch.Tensor, "*B 3"], Bool[torch.Tensor, "*B"]]:
    """Grid coordinates in [0, 1]^3 and whether each point lies in the (padded) box."""
    x = normalise_to_box(points, lower, upper)
    inside = x.abs().amax(dim=-1) <= 1.0
    if mode == "clamp":
        return ((x + 1.0) * 0.5).clamp(0.0, 1.0), inside
    return (contract_linf(x) + 2.0) * 0.25, inside
