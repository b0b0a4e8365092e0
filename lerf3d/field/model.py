"""LerfField: radiance + language fields rendered along rays (nerfacto with depth-guided sampling + LERF)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

import torch
from jaxtyping import Float
from torch import nn

from lerf3d.field.contraction import ContractionConfig, to_unit_cube
from lerf3d.field.language import LanguageField, LanguageFieldConfig
from lerf3d.field.occupancy import OccupancyGrid
from lerf3d.field.radiance import RadianceField, RadianceFieldConfig
from lerf3d.field.rays import RayBundle
from lerf3d.field.rendering import (
    LERF_TOP_K,
    accumulation,
    composite_features,
    composite_rgb,
    distance_to_z_depth,
    expected_distance,
    gather_samples,
    render_unit_embedding,
    top_k_weights,
    volume_weights,
)
from lerf3d.field.sampling import RaySamples, SamplerConfig, sample_along_rays
from lerf3d.types import SceneBounds

BACKGROUNDS = ("last_sample", "black", "white")


@dataclass(frozen=True)
class LerfFieldConfig:
    """Everything that shapes a LerfField."""

    radiance: RadianceFieldConfig = field(default_factory=RadianceFieldConfig)
    """Density and colour."""
    language: LanguageFieldConfig | None = field(default_factory=LanguageFieldConfig)
    """CLIP and DINO heads; None builds a radiance-only field."""
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    """Samples per ray and where they go."""
    contraction: ContractionConfig = field(default_factory=ContractionConfig)
    """World -> grid coordinates."""
    language_top_k: int = LERF_TOP_K
    """Samples per ray, by weight, that the language field is evaluated at."""
    clip_rendering: Literal["per_sample", "per_ray"] = "per_sample"
    """"per_sample": LERF's renderer, a weighted sum of per-sample unit CLIP embeddings;
    "per_ray": average the CLIP head's last hidden layer over the top-k samples and decode once
    per ray (K times fewer clip_dim-wide outputs; same result when the top-k samples agree)."""
    background: Literal["last_sample", "black", "white"] = "last_sample"
    """Colour behind the samples. nerfacto's "last_sample" (the last sample's colour) keeps a ray
    that is not yet opaque from rendering dark, which otherwise drives the colour head into
    saturation early in training; black/white for renders against a plain background."""
    skip_transmittance: float = 1e-4
    """Samples the ray reaches with less transmittance than this skip the colour MLP (their weight
    and every gradient through their colour are below it too: instant-ngp / nerfacc's early ray
    termination threshold); 0 evaluates colour everywhere."""

    def __post_init__(self) -> None:
        if self.language_top_k < 1:
            raise ValueError(f"language_top_k must be >= 1, got {self.language_top_k}")
        if self.clip_rendering not in ("per_sample", "per_ray"):
            raise ValueError(f"clip_rendering must be 'per_sample' or 'per_ray', got {self.clip_rendering!r}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        if not 0.0 <= self.skip_transmittance < 1.0:
            raise ValueError(f"skip_transmittance must be in [0, 1), got {self.skip_transmittance}")


@dataclass(frozen=True, eq=False)
class RenderOutput:
    """What rendering a RayBundle gives."""

    rgb: Float[torch.Tensor, "R 3"]
    """Composited colour in [0, 1]."""
    depth: Float[torch.Tensor, "R"]
    """Expected z-depth (m), OpenCV camera z, comparable with a depth map."""
    distance: Float[torch.Tensor, "R"]
    """Expected distance along the ray (m)."""
    accumulation: Float[torch.Tensor, "R"]
    """Opacity of the ray in [0, 1]."""
    weights: Float[torch.Tensor, "R S"] | None = None
    """Per-sample weights (when asked for: losses on the weight distribution need them)."""
    samples: RaySamples | None = None
    """The samples the weights belong to (with weights)."""
    clip: Float[torch.Tensor, "R C"] | None = None
    """Unit CLIP embedding (when language was rendered and a scale was known)."""
    dino: Float[torch.Tensor, "R D"] | None = None
    """DINO feature (when language was rendered)."""


class LerfField(nn.Module):
    """A scene: radiance field + language field inside the fused bounds."""

    def __init__(
        self,
        config: LerfFieldConfig,
        bounds: SceneBounds,
        num_cameras: int = 0,
        occupancy: OccupancyGrid | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        margin = config.contraction.margin
        self.register_buffer("lower", torch.as_tensor(bounds.lower, dtype=torch.float32) - margin)
        self.register_buffer("upper", torch.as_tensor(bounds.upper, dtype=torch.float32) + margin)
        self.radiance = RadianceField(config.radiance, num_cameras)
        self.language = LanguageField(config.language) if config.language is not None else None
        # Not a buffer: the trainer rebuilds it from fused points, so it stays out of checkpoints.
        self.occupancy = occupancy

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser: "radiance" and "language" (LERF optimises them separately)."""
        groups = {"radiance": list(self.radiance.parameters())}
        if self.language is not None:
            groups["language"] = list(self.language.parameters())
        return groups

    def grid_coords(self, points: Float[torch.Tensor, "N 3"]) -> tuple[torch.Tensor, torch.Tensor]:
        """Grid coordinates in [0, 1]^3 and the in-box mask of world points."""
        return to_unit_cube(points, self.lower, self.upper, self.config.contraction.mode)

    def density_at(self, points: Float[torch.Tensor, "N 3"]) -> tuple[Float[torch.Tensor, "N"], torch.Tensor]:
        """Density (1/m) and geometry feature at world points (zero density outside the box in clamp mode)."""
        coords, inside = self.grid_coords(points)
        sigma, geo = self.radiance.density(coords)
        if self.config.contraction.mode == "clamp":
            sigma = sigma * inside
        return sigma, geo

    def render_rays(
        self,
        rays: RayBundle,
        *,
        with_language: bool = True,
        clip_scale: float | Float[torch.Tensor, "R"] | None = None,
        jitter: bool | None = None,
        return_samples: bool = False,
        generator: torch.Generator | None = None,
    ) -> RenderOutput:
        """Render colour, depth and (optionally) language outputs along each ray.

        CLIP needs a scale: ``clip_scale`` (metres, per ray or one for all: querying), else
        ``rays.clip_scale_per_depth`` times each sample's z-depth (training, as LERF); with neither
        only DINO is rendered. ``jitter`` defaults to ``self.training``.
        """
        jitter = self.training if jitter is None else jitter
        occupancy = self.occupancy.to(rays.origins.device) if self.occupancy is not None else None
        samples = sample_along_rays(rays, self.config.sampler, occupancy, jitter, generator)
        r, s = samples.deltas.shape
        positions = samples.positions(rays)  # (R, S, 3)
        sigma, geo = self.density_at(positions.view(r * s, 3))  # (R*S,), (R*S, G)
        compositing = volume_weights(sigma.view(r, s), samples.deltas)  # sigma: (R, S)
        weights = compositing.weights  # (R, S)
        keep = None
        if self.config.skip_transmittance > 0:
            keep = compositing.transmittance.detach() > self.config.skip_transmittance
            keep[:, -1] = True  # the last sample's colour is the background in "last_sample" mode
        geo = geo.view(r, s, -1)  # (R, S, G)
        rgb_samples = self.radiance.color_along_rays(geo, rays.directions, rays.camera_indices, keep)
        background = self._background(rgb_samples)
        distance = expected_distance(weights, samples.t_mids)
        clip = dino = None
        if with_language and self.language is not None:
            clip, dino = self._render_language(rays, samples, positions, weights, clip_scale)
        return RenderOutput(
            rgb=composite_rgb(weights, rgb_samples, background),
            depth=distance_to_z_depth(distance, rays.z_scale),
            distance=distance,
            accumulation=accumulation(weights),
            weights=weights if return_samples else None,
            samples=samples if return_samples else None,
            clip=clip,
            dino=dino,
        )

    def _background(self, rgb_samples: Float[torch.Tensor, "R S 3"]) -> Float[torch.Tensor, "R 3"]:
        if self.config.background == "last_sample":
            return rgb_samples[:, -1]
        value = 1.0 if self.config.background == "white" else 0.0
        return torch.full_like(rgb_samples[:, -1], value)

    def _render_language(
        self,
        rays: RayBundle,
        samples: RaySamples,
        positions: Float[torch.Tensor, "R S 3"],
        weights: Float[torch.Tensor, "R S"],
        clip_scale: float | torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """LERF: language heads at the top-k samples by (detached) weight, weights renormalised."""
        assert self.language is not None
        top_w, index = top_k_weights(weights.detach(), self.config.language_top_k)
        r, k = index.shape
        points = gather_samples(positions.detach(), index)  # (R, K, 3)
        coords, _ = self.grid_coords(points.view(r * k, 3))  # (R*K, 3)
        features = self.language.encode(coords)  # (R*K, D)
        # The DINO output layer is linear and top_w sums to 1: decoding the averaged hidden layer
        # equals averaging the decoded features, at 1/K of the output layer's cost.
        dino_hidden = self.language.dino_hidden(features).view(r, k, -1)  # (R, K, H)
        dino = self.language.dino_decode(composite_features(top_w, dino_hidden))
        scales = self._clip_scales(rays, samples, index, clip_scale)
        if scales is None:
            return None, dino
        clip_hidden = self.language.clip_hidden(features, scales.reshape(r * k))  # (R*K, H)
        if self.config.clip_rendering == "per_ray":
            per_ray = composite_features(top_w, clip_hidden.view(r, k, -1))  # hidden: (R, K, H)
            return self.language.clip_decode(per_ray), dino
        embeds = self.language.clip_decode(clip_hidden).view(r, k, -1)  # (R, K, C)
        return render_unit_embedding(top_w, embeds), dino

    @staticmethod
    def _clip_scales(
        rays: RayBundle, samples: RaySamples, index: torch.Tensor, clip_scale: float | torch.Tensor | None
    ) -> Float[torch.Tensor, "R K"] | None:
        """World scale (m) of each top-k sample, or None when the caller gave no way to know it."""
        r, k = index.shape
        if clip_scale is not None:
            scale = torch.as_tensor(clip_scale, dtype=rays.origins.dtype, device=rays.origins.device)
            return scale.reshape(-1, 1).expand(r, k) if scale.dim() else scale.expand(r, k)  # (R, K)
        if rays.clip_scale_per_depth is None:
            return None
        z_depth = gather_samples(samples.t_mids, index) * rays.z_scale[:, None]  # (R, K)
        return rays.clip_scale_per_depth[:, None] * z_depth

    @torch.no_grad()
    def embed_points(
        self, points: Float[torch.Tensor, "N 3"], clip_scale: float
    ) -> tuple[Float[torch.Tensor, "N C"], Float[torch.Tensor, "N D"]]:
        """CLIP (at one world scale) and DINO features at world points, e.g. a fused point set."""
        if self.language is None:
            raise RuntimeError("this LerfField was built without a language field (config.language=None)")
        coords, _ = self.grid_coords(points)
        features = self.language.encode(coords)
        scales = torch.full((len(points),), clip_scale, dtype=points.dtype, device=points.device)
        return self.language.clip(features, scales), self.language.dino(features)


def render_in_chunks(model: LerfField, rays: RayBundle, chunk_size: int, **kwargs: object) -> RenderOutput:
    """render_rays over consecutive chunks of rays (bounded memory for whole images), concatenated."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    parts = [
        model.render_rays(rays.slice(i, i + chunk_size), **kwargs) for i in range(0, len(rays), chunk_size)
    ]
    merged = {}
    for f in fields(RenderOutput):
        values = [getattr(p, f.name) for p in parts]
        if values[0] is None:
            merged[f.name] = None
        elif isinstance(values[0], RaySamples):
            merged[f.name] = RaySamples(
                *(torch.cat([getattr(v, g.name) for v in values]) for g in fields(RaySamples))
            )
        else:
            merged[f.name] = torch.cat(values)
    return RenderOutput(**merged)
