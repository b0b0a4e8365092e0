"""Where along each ray the field is evaluated.

With a measured depth most samples go in a narrow band around the surface and a few stratified
ones cover the free space in front of it (depth-guided sampling, as in DS-NeRF / Dense Depth
Priors): this replaces nerfacto's proposal networks and is where lerf3d's CPU speed comes from.
Rays without depth are sampled stratified between near and far, concentrated on occupied voxels
when an ``OccupancyGrid`` is given. Samples are contiguous bins given by S + 1 sorted edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float

from lerf3d.field.occupancy import OccupancyGrid
from lerf3d.field.rays import RayBundle


@dataclass(frozen=True)
class SamplerConfig:
    """How many samples go where."""

    num_surface_samples: int = 24
    """Samples in the band around a measured surface."""
    num_free_samples: int = 8
    """Stratified samples between near and the band (also the rest of S for rays without depth)."""
    band_fraction: float = 0.05
    """Band half-width as a fraction of the surface's ray distance (depth noise grows with range)."""
    min_band: float = 0.03
    """Smallest band half-width (m)."""
    occupancy_candidates: int = 128
    """Uniform probes per ray when spreading samples over an occupancy grid."""
    occupancy_floor: float = 0.02
    """Relative sampling density kept in empty voxels, so a stale grid cannot hide a surface."""

    def __post_init__(self) -> None:
        if self.num_surface_samples < 1 or self.num_free_samples < 0:
            raise ValueError(
                f"need num_surface_samples >= 1 and num_free_samples >= 0, got "
                f"{self.num_surface_samples}, {self.num_free_samples}"
            )
        if self.band_fraction < 0 or self.min_band <= 0:
            raise ValueError(
                f"need band_fraction >= 0 and min_band > 0, got {self.band_fraction}, {self.min_band}"
            )
        if self.occupancy_candidates < 2 or not 0 < self.occupancy_floor <= 1:
            raise ValueError("need occupancy_candidates >= 2 and occupancy_floor in (0, 1]")

    @property
    def num_samples(self) -> int:
        return self.num_surface_samples + self.num_free_samples


@dataclass(frozen=True, eq=False)
class RaySamples:
    """S contiguous bins per ray, plus the measured surface each ray was sampled around."""

    edges: Float[torch.Tensor, "R S+1"]
    """Sorted bin edges (ray distance, m)."""
    surface_t: Float[torch.Tensor, "R"]
    """Ray distance of the measured surface (0 without depth)."""
    band: Float[torch.Tensor, "R"]
    """Half-width of the surface band (m; 0 without depth)."""
    has_depth: Bool[torch.Tensor, "R"]
    """Whether the ray had a depth measurement."""

    @property
    def t_ends(self) -> Float[torch.Tensor, "R S"]:
        return self.edges[:, 1:]

    @property
    def t_mids(self) -> Float[torch.Tensor, "R S"]:
        return 0.5 * (self.edges[:, :-1] + self.edges[:, 1:])

    @property
    def deltas(self) -> Float[torch.Tensor, "R S"]:
        return self.edges[:, 1:] - self.edges[:, :-1]

    def positions(self, rays: RayBundle) -> Float[torch.Tensor, "R S 3"]:
        """World points at the bin midpoints."""
        return rays.origins[:, None, :] + rays.directions[:, None, :] * self.t_mids[..., None]


def uniform_edges(
    start: Float[torch.Tensor, "R"], stop: Float[torch.Tensor, "R"], num_bins: int
) -> Float[torch.Tensor, "R B+1"]:
    """num_bins equal bins from start to stop."""
    u = torch.linspace(0.0, 1.0, num_bins + 1, dtype=start.dtype, device=start.device)
    return torch.lerp(start[:, None], stop[:, None], u)


def jitter_edges(
    edges: Float[torch.Tensor, "R E"], generator: torch.Generator | None = None
) -> Float[torch.Tensor, "R E"]:
    """Move each interior edge uniformly between the midpoints to its neighbours (stays sorted).

    Training on randomly placed samples avoids the aliasing of a fixed grid along the ray.
    """
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])  # (R, E-1)
    low, high = mids[:, :-1], mids[:, 1:]  # range of each interior edge
    u = torch.rand(low.shape, dtype=edges.dtype, device=edges.device, generator=generator)
    return torch.cat([edges[:, :1], low + (high - low) * u, edges[:, -1:]], dim=-1)


def surface_band(
    depth: Float[torch.Tensor, "R"], z_scale: Float[torch.Tensor, "R"], config: SamplerConfig
) -> tuple[Float[torch.Tensor, "R"], Float[torch.Tensor, "R"]]:
    """Ray distance of the measured surface and the band half-width around it."""
    surface_t = depth / z_scale
    band = torch.clamp_min(config.band_fraction * surface_t, config.min_band)
    return surface_t, band


def depth_guided_edges(
    near: Float[torch.Tensor, "R"],
    surface_t: Float[torch.Tensor, "R"],
    band: Float[torch.Tensor, "R"],
    config: SamplerConfig,
    jitter: bool = False,
    generator: torch.Generator | None = None,
) -> Float[torch.Tensor, "R S+1"]:
    """Free-space bins from near to the band, then surface bins across [surface - band, surface + band].

    When the band starts before ``near`` the free bins collapse to zero length (they render nothing).
    Jitter moves edges within each part, so surface bins never leave the band.
    """
    band_start = torch.maximum(surface_t - band, near)
    band_stop = torch.maximum(surface_t + band, band_start + 1e-4)
    free = uniform_edges(near, band_start, config.num_free_samples)  # (R, F+1)
    surface = uniform_edges(band_start, band_stop, config.num_surface_samples)  # (R, B+1)
    if jitter:
        free, surface = jitter_edges(free, generator), jitter_edges(surface, generator)
    return torch.cat([free[:, :-1], surface], dim=-1)


def inverse_cdf_edges(
    edges: Float[torch.Tensor, "R M+1"], pdf: Float[torch.Tensor, "R M"], num_bins: int
) -> Float[torch.Tensor, "R B+1"]:
    """num_bins bins holding equal probability under a piecewise-constant pdf over ``edges``."""
    cdf = torch.cumsum(pdf / pdf.sum(dim=-1, keepdim=True), dim=-1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], dim=-1).clamp(max=1.0)  # (R, M+1)
    u = torch.linspace(0.0, 1.0, num_bins + 1, dtype=edges.dtype, device=edges.device)
    u = u.expand(edges.shape[0], -1).contiguous()
    upper = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)
    c0, c1 = cdf.gather(1, upper - 1), cdf.gather(1, upper)
    t0, t1 = edges.gather(1, upper - 1), edges.gather(1, upper)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return t0 + frac * (t1 - t0)


def occupancy_edges(
    rays: RayBundle, grid: OccupancyGrid, num_bins: int, config: SamplerConfig
) -> Float[torch.Tensor, "R B+1"]:
    """Bins between near and far spaced so occupied voxels get most of them."""
    probes = uniform_edges(rays.near, rays.far, config.occupancy_candidates)  # (R, M+1)
    mids = 0.5 * (probes[:, 1:] + probes[:, :-1])
    points = rays.origins[:, None, :] + rays.directions[:, None, :] * mids[..., None]  # (R, M, 3)
    pdf = grid.query(points).to(mids.dtype) + config.occupancy_floor
    return inverse_cdf_edges(probes, pdf, num_bins)


def sample_along_rays(
    rays: RayBundle,
    config: SamplerConfig,
    occupancy: OccupancyGrid | None = None,
    jitter: bool = False,
    generator: torch.Generator | None = None,
) -> RaySamples:
    """Depth-guided bins where depth > 0, stratified (or occupancy-guided) bins elsewhere."""
    s = config.num_samples
    all_have_depth = rays.depth is not None and bool((rays.depth > 0).all())
    if occupancy is not None and not all_have_depth:
        edges = occupancy_edges(rays, occupancy, s, config)
    else:
        edges = uniform_edges(rays.near, rays.far, s)
    if jitter:
        edges = jitter_edges(edges, generator)
    zeros = torch.zeros_like(rays.near)
    if rays.depth is None:
        return RaySamples(edges, zeros, zeros, torch.zeros_like(rays.near, dtype=torch.bool))
    has_depth = rays.depth > 0
    surface_t, band = surface_band(rays.depth, rays.z_scale, config)
    guided = depth_guided_edges(rays.near, surface_t, band, config, jitter, generator)
    edges = torch.where(has_depth[:, None], guided, edges)
    return RaySamples(
        edges, torch.where(has_depth, surface_t, zeros), torch.where(has_depth, band, zeros), has_depth
    )
