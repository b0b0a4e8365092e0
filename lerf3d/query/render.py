"""Rendering the phrase-independent CLIP embedding of a view at many scales in one pass.

LERF's scale search renders the language field at ~30 scales. Everything but the CLIP head is the
same at every scale (samples, weights, the top-k sample positions and their hash-grid features), so
:func:`render_view_embeddings` computes that once per ray chunk and evaluates only the head per
scale; its output at scale s equals ``LerfField.render_rays(rays, clip_scale=s).clip`` (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn

from lerf3d.field.language import NORM_EPS
from lerf3d.field.model import LerfField
from lerf3d.field.rays import RayBundle
from lerf3d.field.rendering import composite_features, gather_samples, render_unit_embedding, top_k_weights
from lerf3d.field.sampling import RaySamples
from lerf3d.query.search import ScaledEmbeddings, check_scales

DEFAULT_CHUNK = 8192
"""Rays per render call (the trainer's eval chunk): bounds memory for whole images."""
STORAGE_DTYPE = torch.float16
"""Cached embeddings are half precision: unit vectors lose < 1e-3 per component (as the crop
pyramid cache, features.pyramid.STORAGE_DTYPE), and a 256x256 view at 30 scales halves to 1.5 GiB at D=384."""


@dataclass(frozen=True, eq=False)
class ViewEmbeddings:
    """A rendered view: colour, depth and the CLIP embedding of every pixel at every scale."""

    rgb: Float[torch.Tensor, "H W 3"]
    """Rendered colour in [0, 1] (float32)."""
    depth: Float[torch.Tensor, "H W"]
    """Rendered z-depth (m)."""
    clip: ScaledEmbeddings
    """Per-pixel embeddings, N = H * W in row-major order."""

    def __post_init__(self) -> None:
        height, width = self.depth.shape
        if tuple(self.rgb.shape) != (height, width, 3) or self.clip.num_points != height * width:
            raise ValueError(f"ViewEmbeddings: rgb {tuple(self.rgb.shape)}, depth {tuple(self.depth.shape)} "
                             f"and {self.clip.num_points} embeddings disagree")

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.depth.shape[0]), int(self.depth.shape[1])

    @property
    def nbytes(self) -> int:
        return self.clip.nbytes + (self.rgb.numel() + self.depth.numel()) * 4


def weighted_unit_decode(
    output_layer: nn.Linear,
    hidden: Float[torch.Tensor, "R K H"],
    weights: Float[torch.Tensor, "R K"],
) -> Float[torch.Tensor, "R C"]:
    """normalize(sum_k w_k unit(W h_k + b)) -- LERF's per-sample CLIP rendering -- computed in the
    head's H-wide hidden space instead of decoding K C-wide embeddings per ray.

    With e_k = W h_k + b: |e_k|^2 = h_k^T (W^T W) h_k + 2 (W^T b) . h_k + b . b, and
    sum_k c_k e_k = W (sum_k c_k h_k) + (sum_k c_k) b for c_k = w_k / |e_k|: exact, and one decode
    per ray (H = 64 against C = 512 in the tiny preset makes the scale search ~6x cheaper).
    """
    w, b = output_layer.weight, output_layer.bias  # (C, H), (C,)
    bias = b if b is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
    gram = w.T @ w  # (H, H)
    squared = torch.einsum("rkh,hg,rkg->rk", hidden, gram, hidden) + 2 * hidden @ (w.T @ bias) + bias @ bias
    coef = weights * torch.rsqrt(squared.clamp_min(NORM_EPS**2))  # (R, K): w_k / |e_k|
    mixed = torch.einsum("rk,rkh->rh", coef, hidden)  # (R, H)
    return F.normalize(mixed @ w.T + coef.sum(dim=-1, keepdim=True) * bias, dim=-1)


def clip_at_scales(
    field: LerfField,
    rays: RayBundle,
    samples: RaySamples,
    weights: Float[torch.Tensor, "R S"],
    scales: Sequence[float],
) -> Float[torch.Tensor, "S R C"]:
    """LERF's CLIP rendering (top-k samples by weight, renormalised) at each scale, sharing the grid
    lookups: the same result as ``LerfField._render_language`` with a constant ``clip_scale``."""
    if field.language is None:
        raise ValueError("this field has no language field: it cannot answer text queries")
    top_w, index = top_k_weights(weights, field.config.language_top_k)
    r, k = index.shape
    points = gather_samples(samples.positions(rays), index)  # (R, K, 3)
    coords, _ = field.grid_coords(points.reshape(r * k, 3))  # (R*K, 3)
    features = field.language.encode(coords)  # (R*K, F)
    # clip_decode is this linear layer then a unit normalisation (field.language); tests check both
    # paths against LerfField.render_rays.
    output_layer = field.language.clip_mlp[-1]
    out = []
    for scale in scales:
        scale_column = torch.full((r * k,), float(scale), dtype=features.dtype, device=features.device)
        hidden = field.language.clip_hidden(features, scale_column)  # (R*K, H)
        if field.config.clip_rendering == "per_ray":
            out.append(field.language.clip_decode(composite_features(top_w, hidden.view(r, k, -1))))
        elif isinstance(output_layer, nn.Linear):
            out.append(weighted_unit_decode(output_layer, hidden.view(r, k, -1), top_w))
        else:  # a head whose output is not one linear layer: decode every sample
            embeds = field.language.clip_decode(hidden).view(r, k, -1)  # (R*K, C) -> (R, K, C)
            out.append(render_unit_embedding(top_w, embeds))
    return torch.stack(out)  # (S, R, C)


@torch.no_grad()
def render_view_embeddings(
    field: LerfField,
    rays: RayBundle,
    height: int,
    width: int,
    scales: Sequence[float],
    chunk_size: int = DEFAULT_CHUNK,
    storage_dtype: torch.dtype = STORAGE_DTYPE,
) -> ViewEmbeddings:
    """Colour, depth and per-scale CLIP embeddings of an image's rays (row-major, H * W of them)."""
    scales = check_scales(scales)
    if len(rays) != height * width:
        raise ValueError(f"{len(rays)} rays for a {height}x{width} image")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if field.language is None:
        raise ValueError("this field has no language field: it cannot answer text queries")
    device = rays.origins.device
    dim = field.language.config.clip_dim
    clip = torch.empty(len(scales), len(rays), dim, dtype=storage_dtype, device=device)
    rgb = torch.empty(len(rays), 3, device=device)
    depth = torch.empty(len(rays), device=device)
    was_training = field.training
    field.eval()
    try:
        for start in range(0, len(rays), chunk_size):
            chunk = rays.slice(start, start + chunk_size)
            out = field.render_rays(chunk, with_language=False, return_samples=True, jitter=False)
            assert out.samples is not None and out.weights is not None
            stop = start + len(chunk)
            embeddings = clip_at_scales(field, chunk, out.samples, out.weights, scales)  # (S, r, C)
            clip[:, start:stop] = embeddings.to(storage_dtype)
            rgb[start:stop], depth[start:stop] = out.rgb, out.depth
    finally:
        field.train(was_training)
    return ViewEmbeddings(
        rgb=rgb.clamp(0, 1).reshape(height, width, 3),  # (H*W, 3) -> (H, W, 3)
        depth=depth.reshape(height, width),  # (H*W,) -> (H, W)
        clip=ScaledEmbeddings(clip, scales),
    )


@torch.no_grad()
def embed_point_set(
    field: LerfField,
    xyz: Float[torch.Tensor, "N 3"],
    scales: Sequence[float],
    chunk_size: int = 4 * DEFAULT_CHUNK,
    storage_dtype: torch.dtype = STORAGE_DTYPE,
) -> ScaledEmbeddings:
    """The field's CLIP embedding at world points (e.g. a fused point set) at each scale.

    The grid features are looked up once per chunk and the CLIP head run per scale (as
    ``LerfField.embed_points``, which would repeat the lookup and the DINO head per scale).
    """
    scales = check_scales(scales)
    if field.language is None:
        raise ValueError("this field has no language field: it cannot answer text queries")
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {tuple(xyz.shape)}")
    out = torch.empty(len(scales), len(xyz), field.language.config.clip_dim, dtype=storage_dtype,
                      device=xyz.device)
    for start in range(0, len(xyz), chunk_size):
        points = xyz[start : start + chunk_size].float()
        coords, _ = field.grid_coords(points)
        features = field.language.encode(coords)  # (n, F)
        for s, scale in enumerate(scales):
            column = torch.full((len(points),), scale, dtype=features.dtype, device=features.device)
            out[s, start : start + len(points)] = field.language.clip(features, column).to(storage_dtype)
    return ScaledEmbeddings(out, scales)
