"""nerfacto-style radiance field: hash grid -> density + geometry feature; SH(view) + feature -> RGB."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import nn

from lerf3d.field.encoding import HashGrid, HashGridConfig
from lerf3d.field.harmonics import MAX_SH_DEGREE, spherical_harmonics
from lerf3d.field.mlp import build_mlp

TRUNC_EXP_MAX = 15.0
"""trunc_exp clamps the exponent of its gradient here so early large densities cannot blow up
training (torch-ngp's trunc_exp, used by nerfacto)."""


class _TruncExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=TRUNC_EXP_MAX))


def trunc_exp(x: Float[torch.Tensor, "*B"]) -> Float[torch.Tensor, "*B"]:
    """exp(x) whose gradient uses exp(min(x, 15))."""
    return _TruncExp.apply(x)


@dataclass(frozen=True)
class RadianceFieldConfig:
    """Sizes of the radiance field (defaults: nerfacto, Tancik et al. 2023, Sec. 3.1)."""

    grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Position encoding."""
    density_hidden_dim: int = 64
    """Width of the density MLP."""
    density_hidden_layers: int = 1
    """Hidden layers of the density MLP."""
    geo_feature_dim: int = 15
    """Geometry feature passed from the density MLP to the colour MLP."""
    color_hidden_dim: int = 64
    """Width of the colour MLP."""
    color_hidden_layers: int = 2
    """Hidden layers of the colour MLP."""
    sh_degree: int = 4
    """Spherical-harmonic bands of the view direction (degree**2 coefficients)."""
    appearance_dim: int = 32
    """Per-image appearance embedding (exposure, white balance); 0 disables it."""
    density_activation: Literal["trunc_exp", "softplus"] = "trunc_exp"
    """Raw output -> density: nerfacto's trunc_exp, or softplus (smoother, slower to go opaque)."""

    def __post_init__(self) -> None:
        if not 1 <= self.sh_degree <= MAX_SH_DEGREE:
            raise ValueError(f"sh_degree must be in [1, {MAX_SH_DEGREE}], got {self.sh_degree}")
        if self.geo_feature_dim < 0 or self.appearance_dim < 0:
            raise ValueError("geo_feature_dim and appearance_dim must be >= 0")
        if self.density_activation not in ("trunc_exp", "softplus"):
            raise ValueError(
                f"density_activation must be trunc_exp or softplus, got {self.density_activation!r}"
            )


class RadianceField(nn.Module):
    """Density and colour at points already mapped into [0, 1]^3."""

    def __init__(self, config: RadianceFieldConfig, num_cameras: int = 0) -> None:
        super().__init__()
        self.config = config
        self.grid = HashGrid(config.grid)
        self.density_mlp = build_mlp(
            self.grid.output_dim,
            config.density_hidden_dim,
            config.density_hidden_layers,
            1 + config.geo_feature_dim,
        )
        use_appearance = num_cameras > 0 and config.appearance_dim > 0
        self.appearance = nn.Embedding(num_cameras, config.appearance_dim) if use_appearance else None
        color_in = (
            config.sh_degree**2 + config.geo_feature_dim + (config.appearance_dim if use_appearance else 0)
        )
        self.color_mlp = build_mlp(color_in, config.color_hidden_dim, config.color_hidden_layers, 3)

    def density(
        self, coords: Float[torch.Tensor, "N 3"]
    ) -> tuple[Float[torch.Tensor, "N"], Float[torch.Tensor, "N G"]]:
        """Volume density (1/m) and the geometry feature for the colour head."""
        raw = self.density_mlp(self.grid(coords))
        if self.config.density_activation == "trunc_exp":
            sigma = trunc_exp(raw[:, 0])
        else:
            sigma = nn.functional.softplus(raw[:, 0])
        return sigma, raw[:, 1:]

    def _view_inputs(
        self, directions: Float[torch.Tensor, "N 3"], camera_indices: Int[torch.Tensor, "N"] | None
    ) -> Float[torch.Tensor, "N V"]:
        """SH of the direction, then the appearance code (the mean code without a camera index)."""
        parts = [spherical_harmonics(directions, self.config.sh_degree)]
        if self.appearance is not None:
            if camera_indices is None:
                parts.append(self.appearance.weight.mean(dim=0, keepdim=True).expand(len(directions), -1))
            else:
                parts.append(self.appearance(camera_indices))
        return torch.cat(parts, dim=-1)

    def color(
        self,
        geo_features: Float[torch.Tensor, "N G"],
        directions: Float[torch.Tensor, "N 3"],
        camera_indices: Int[torch.Tensor, "N"] | None = None,
    ) -> Float[torch.Tensor, "N 3"]:
        """RGB in [0, 1] at points seen along unit ``directions``."""
        view = self._view_inputs(directions, camera_indices)
        num_sh = self.config.sh_degree**2
        inputs = torch.cat([view[:, :num_sh], geo_features, view[:, num_sh:]], dim=-1)
        return torch.sigmoid(self.color_mlp(inputs))

    def color_along_rays(
        self,
        geo_features: Float[torch.Tensor, "R S G"],
        directions: Float[torch.Tensor, "R 3"],
        camera_indices: Int[torch.Tensor, "R"] | None = None,
        keep: Bool[torch.Tensor, "R S"] | None = None,
    ) -> Float[torch.Tensor, "R S 3"]:
        """``color`` for S samples sharing each ray's direction and camera; 0 where ``keep`` is False.

        The first layer is linear, so its view/appearance part is evaluated once per ray and
        broadcast over samples instead of concatenating the same inputs S times.
        """
        first = self.color_mlp[0]
        num_sh, geo_dim = self.config.sh_degree**2, geo_features.shape[-1]
        w_view = torch.cat([first.weight[:, :num_sh], first.weight[:, num_sh + geo_dim :]], dim=1)
        per_ray = torch.addmm(first.bias, self._view_inputs(directions, camera_indices), w_view.t())  # (R, H)
        w_geo = first.weight[:, num_sh : num_sh + geo_dim]
        if keep is None or bool(keep.all()):
            hidden = torch.matmul(geo_features, w_geo.t()) + per_ray[:, None]  # (R, S, H)
            return torch.sigmoid(self.color_mlp[1:](hidden))
        ray_index, sample_index = keep.nonzero(as_tuple=True)
        hidden = torch.addmm(per_ray[ray_index], geo_features[ray_index, sample_index], w_geo.t())  # (M, H)
        rgb = torch.sigmoid(self.color_mlp[1:](hidden))
        out = geo_features.new_zeros(*keep.shape, 3)
        return out.index_put((ray_index, sample_index), rgb)
