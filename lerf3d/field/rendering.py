"""Volume rendering maths (Max 1995; NeRF, Mildenhall et al. 2020, Eq. 3), as pure functions.

Samples are bins ``[t_start, t_end)`` along each ray, ``t`` being distance along the unit direction.
A measured depth is along the camera's z axis: ``z = t * z_scale`` with ``z_scale`` the cosine
between the ray and the camera's forward axis (see ``rays.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int

LERF_TOP_K = 24
"""Language outputs come from the k samples of largest weight (LERF, Kerr et al. 2023: 24)."""
EPS = 1e-10
"""Guards divisions by an accumulated weight that can be exactly zero."""


@dataclass(frozen=True)
class VolumeWeights:
    """Per-sample compositing quantities along each ray."""

    alphas: Float[torch.Tensor, "R S"]
    """Opacity of each bin: 1 - exp(-sigma * delta)."""
    transmittance: Float[torch.Tensor, "R S"]
    """Light reaching the start of each bin: exp(-sum of sigma * delta before it)."""
    weights: Float[torch.Tensor, "R S"]
    """transmittance * alpha: the probability the ray terminates in the bin."""


def volume_weights(
    densities: Float[torch.Tensor, "R S"], deltas: Float[torch.Tensor, "R S"]
) -> VolumeWeights:
    """Alphas, transmittance and weights from densities (1/m) and bin lengths (m)."""
    optical = densities * deltas
    alphas = 1.0 - torch.exp(-optical)
    # Exclusive cumulative sum: the first bin sees the full ray (transmittance 1).
    before = torch.cumsum(optical, dim=-1) - optical
    transmittance = torch.exp(-before)
    return VolumeWeights(alphas, transmittance, transmittance * alphas)


def accumulation(weights: Float[torch.Tensor, "R S"]) -> Float[torch.Tensor, "R"]:
    """Opacity of each ray: the summed weights."""
    return weights.sum(dim=-1)


def composite_rgb(
    weights: Float[torch.Tensor, "R S"],
    rgb: Float[torch.Tensor, "R S 3"],
    background: Float[torch.Tensor, "*B 3"],
) -> Float[torch.Tensor, "R 3"]:
    """Expected colour, with the unabsorbed light coming from ``background`` ((3,) or (R, 3))."""
    color = torch.einsum("rs,rsc->rc", weights, rgb)
    return color + (1.0 - accumulation(weights))[:, None] * background


def expected_distance(
    weights: Float[torch.Tensor, "R S"], t_mids: Float[torch.Tensor, "R S"]
) -> Float[torch.Tensor, "R"]:
    """Expected ray distance of the visible surface, normalised by accumulation, clamped to the samples.

    Normalising keeps the depth of half-transparent rays at the surface instead of pulling it to 0.
    """
    t = (weights * t_mids).sum(dim=-1) / (accumulation(weights) + EPS)
    return torch.minimum(torch.maximum(t, t_mids[:, 0]), t_mids[:, -1])


def distance_to_z_depth(
    distance: Float[torch.Tensor, "R"], z_scale: Float[torch.Tensor, "R"]
) -> Float[torch.Tensor, "R"]:
    """OpenCV z-depth of a point at ray distance t: t * (direction . camera forward)."""
    return distance * z_scale


def composite_features(
    weights: Float[torch.Tensor, "R S"], features: Float[torch.Tensor, "R S D"]
) -> Float[torch.Tensor, "R D"]:
    """Expected feature: sum_i w_i f_i (not normalised)."""
    return torch.einsum("rs,rsd->rd", weights, features)


def top_k_weights(
    weights: Float[torch.Tensor, "R S"], k: int = LERF_TOP_K
) -> tuple[Float[torch.Tensor, "R K"], Int[torch.Tensor, "R K"]]:
    """The k largest weights of each ray renormalised to sum to 1, and their sample indices.

    k is capped at the number of samples; rays with zero weight get uniform weights.
    """
    k = min(k, weights.shape[-1])
    top, index = torch.topk(weights, k, dim=-1, sorted=False)
    total = top.sum(dim=-1, keepdim=True)
    uniform = torch.full_like(top, 1.0 / k)
    return torch.where(total > EPS, top / total.clamp_min(EPS), uniform), index


def gather_samples(
    values: Float[torch.Tensor, "R S *D"], index: Int[torch.Tensor, "R K"]
) -> Float[torch.Tensor, "R K *D"]:
    """values[r, index[r, k]] for every ray."""
    # index (R, K) -> (R, K, *D) so one gather picks whole feature vectors
    expanded = index.reshape(*index.shape, *([1] * (values.dim() - 2))).expand(
        *index.shape, *values.shape[2:]
    )
    return torch.gather(values, 1, expanded)


def render_unit_embedding(
    weights: Float[torch.Tensor, "R K"], embeddings: Float[torch.Tensor, "R K D"]
) -> Float[torch.Tensor, "R D"]:
    """LERF's CLIP renderer: weighted sum of unit embeddings, re-normalised to unit length."""
    return torch.nn.functional.normalize(composite_features(weights, embeddings), dim=-1)
