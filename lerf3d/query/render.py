"""Rendering the phrase-independent CLIP embedding of a view at many scales in one pass.

LERF's scale search renders the language field at ~30 scales. Everything but the CLIP head is the
same at every scale (samples, weights, the top-k sample positions and their hash-grid features), so
:func:`render_view_embeddings` computes that once per ray chunk and evaluates only the head per
scale; its output at scale s equals ``LerfField.render_rays(rays, clip_scale=s).clip`` (tested).

The head ends in a linear layer (W, b) with H inputs and C > H + 1 outputs, so every rendered or
point embedding, normalize(W m + c b), lies in span([W | b]): with [W | b] = U Rm (reduced QR, U
orthonormal), it is U z with z = normalize(Rm [m; c]). The cached stacks hold z (H + 1 wide) and U
(:func:`head_basis`), which answers every phrase exactly as the C-wide rows would, C / (H + 1)
times cheaper (``search.ScaledEmbeddings.basis``).
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

HeadSpan = tuple[Float[torch.Tensor, "C B"], Float[torch.Tensor, "B G"]]
"""(U, Rm) of a reduced QR [W | b] = U Rm of a linear output layer: B = G = H + 1 (rank <= B)."""

DEFAULT_CHUNK = 8192
"""Rays per render call (the trainer's eval chunk): bounds memory for whole images."""
STORAGE_DTYPE = torch.float16
"""Cached embeddings are half precision: unit vectors lose < 1e-3 per component (as the crop
pyramid cache, features.pyramid.STORAGE_DTYPE); a 256x256 view at 30 scales is then 2 x 30 x 65536 x
W bytes: 250 MiB for the tiny preset's 65 coordinates (W = H + 1), 1.5 GiB for C-wide rows at 384."""


@dataclass(frozen=True, eq=False)
class ViewEmbeddings:
    """A rendered view: colour, depth and the CLIP embedding of every pixel at every scale."""

    rgb: Float[torch.Tensor, "H W 3"]
    """Rendered colour in [0, 1] (float32)."""
    depth: Float[torch.Tensor, "H W"]
    """Rendered z-depth (m)."""
    clip: ScaledEmbeddings
    """Per-pixel embeddings, N = H * W in row-major order (coordinates in the CLIP head's output span
    when ``clip.basis`` is set; ``clip.ambient()`` gives the C-wide rows)."""

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


def _bias(output_layer: nn.Linear) -> Float[torch.Tensor, " C"]:
    """The layer's bias, zeros when it has none."""
    w, b = output_layer.weight, output_layer.bias
    return b if b is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)


def head_basis(output_layer: nn.Linear) -> HeadSpan:
    """U (C, H + 1) with orthonormal columns and Rm (H + 1, H + 1) with [W | b] = U Rm (reduced QR in
    float64, returned in float32): W h + c b = U (Rm [h; c]), so every output of the layer, and every
    mix of its outputs, is U times an (H + 1)-vector, of the same norm since U^T U = I."""
    with torch.no_grad():
        stacked = torch.cat([output_layer.weight, _bias(output_layer)[:, None]], dim=1)  # (C, H + 1)
        basis, factor = torch.linalg.qr(stacked.double(), mode="reduced")
    return basis.float(), factor.float()


def clip_head_span(field: LerfField) -> HeadSpan | None:
    """:func:`head_basis` of the field's CLIP output layer when coordinates in it are narrower than
    the embeddings (a linear layer with H + 1 < C); None: store C-wide rows."""
    if field.language is None:
        return None
    output_layer = field.language.clip_mlp[-1]
    if not isinstance(output_layer, nn.Linear) or output_layer.in_features + 1 >= output_layer.out_features:
        return None
    return head_basis(output_layer)


def span_coordinates(
    factor: Float[torch.Tensor, "B G"],
    hidden: Float[torch.Tensor, "N H"],
    bias_weight: Float[torch.Tensor, "N 1"] | float = 1.0,
) -> Float[torch.Tensor, "N B"]:
    """z = normalize(Rm [h; c]) for c = ``bias_weight``: the coordinates in U of the unit embedding
    normalize(W h + c b) = U z (:func:`head_basis`; a zero vector stays zero, as F.normalize's)."""
    return F.normalize(hidden @ factor[:, :-1].T + bias_weight * factor[:, -1], dim=-1)


def weighted_mixture(
    output_layer: nn.Linear,
    hidden: Float[torch.Tensor, "R K H"],
    weights: Float[torch.Tensor, "R K"],
) -> tuple[Float[torch.Tensor, "R H"], Float[torch.Tensor, "R 1"]]:
    """m = sum_k c_k h_k and c = sum_k c_k for c_k = w_k / |W h_k + b|: then
    sum_k w_k unit(W h_k + b) = W m + c b, computed without decoding any C-wide embedding.

    |W h_k + b|^2 = h_k^T (W^T W) h_k + 2 (W^T b) . h_k + b . b, all H-wide.
    """
    w, bias = output_layer.weight, _bias(output_layer)  # (C, H), (C,)
    gram = w.T @ w  # (H, H)
    squared = torch.einsum("rkh,hg,rkg->rk", hidden, gram, hidden) + 2 * hidden @ (w.T @ bias) + bias @ bias
    coef = weights * torch.rsqrt(squared.clamp_min(NORM_EPS**2))  # (R, K): w_k / |e_k|
    return torch.einsum("rk,rkh->rh", coef, hidden), coef.sum(dim=-1, keepdim=True)  # (R, H), (R, 1)


def weighted_unit_decode(
    output_layer: nn.Linear,
    hidden: Float[torch.Tensor, "R K H"],
    weights: Float[torch.Tensor, "R K"],
) -> Float[torch.Tensor, "R C"]:
    """normalize(sum_k w_k unit(W h_k + b)) -- LERF's per-sample CLIP rendering -- computed in the
    head's H-wide hidden space instead of decoding K C-wide embeddings per ray.

    normalize(W m + c b) with m, c from :func:`weighted_mixture`: exact, and one decode per ray
    (H = 64 against C = 512 in the tiny preset makes the scale search ~6x cheaper).
    """
    mixed, total = weighted_mixture(output_layer, hidden, weights)
    return F.normalize(mixed @ output_layer.weight.T + total * _bias(output_layer), dim=-1)


def weighted_unit_coordinates(
    output_layer: nn.Linear,
    factor: Float[torch.Tensor, "B G"],
    hidden: Float[torch.Tensor, "R K H"],
    weights: Float[torch.Tensor, "R K"],
) -> Float[torch.Tensor, "R B"]:
    """:func:`weighted_unit_decode`'s embedding as coordinates z in U (U z is that embedding), for
    (U, ``factor``) = :func:`head_basis` (``output_layer``): normalize(Rm [m; c])."""
    mixed, total = weighted_mixture(output_layer, hidden, weights)
    return span_coordinates(factor, mixed, total)


def clip_at_scales(
    field: LerfField,
    rays: RayBundle,
    samples: RaySamples,
    weights: Float[torch.Tensor, "R S"],
    scales: Sequence[float],
    factor: Float[torch.Tensor, "B G"] | None = None,
) -> Float[torch.Tensor, "S R C"] | Float[torch.Tensor, "S R B"]:
    """LERF's CLIP rendering (top-k samples by weight, renormalised) at each scale, sharing the grid
    lookups: the same result as ``LerfField._render_language`` with a constant ``clip_scale``.

    With ``factor`` (Rm of :func:`head_basis` of the head's linear output layer), the coordinates z
    of each embedding in that basis U instead (the embedding is U z).
    """
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
    if factor is not None and not isinstance(output_layer, nn.Linear):
        raise ValueError("coordinates need a CLIP head whose output layer is linear")
    out = []
    for scale in scales:
        scale_column = torch.full((r * k,), float(scale), dtype=features.dtype, device=features.device)
        hidden = field.language.clip_hidden(features, scale_column)  # (R*K, H)
        if factor is not None and field.config.clip_rendering == "per_ray":
            # normalize(W m + b) for the weighted hidden mean m: c = 1
            out.append(span_coordinates(factor, composite_features(top_w, hidden.view(r, k, -1))))
        elif factor is not None:
            out.append(weighted_unit_coordinates(output_layer, factor, hidden.view(r, k, -1), top_w))
        elif field.config.clip_rendering == "per_ray":
            out.append(field.language.clip_decode(composite_features(top_w, hidden.view(r, k, -1))))
        elif isinstance(output_layer, nn.Linear):
            out.append(weighted_unit_decode(output_layer, hidden.view(r, k, -1), top_w))
        else:  # a head whose output is not one linear layer: decode every sample
            embeds = field.language.clip_decode(hidden).view(r, k, -1)  # (R*K, C) -> (R, K, C)
            out.append(render_unit_embedding(top_w, embeds))
    return torch.stack(out)  # (S, R, C) or (S, R, B)


@torch.no_grad()
def render_view_embeddings(
    field: LerfField,
    rays: RayBundle,
    height: int,
    width: int,
    scales: Sequence[float],
    chunk_size: int = DEFAULT_CHUNK,
    storage_dtype: torch.dtype = STORAGE_DTYPE,
    in_span: bool = True,
) -> ViewEmbeddings:
    """Colour, depth and per-scale CLIP embeddings of an image's rays (row-major, H * W of them).

    The embeddings are kept as coordinates in the CLIP head's output span when that is narrower
    (:func:`clip_head_span`; ``ScaledEmbeddings.ambient`` gives the C-wide rows back);
    ``in_span=False`` keeps C-wide rows, as LERF's renderer does.
    """
    scales = check_scales(scales)
    if len(rays) != height * width:
        raise ValueError(f"{len(rays)} rays for a {height}x{width} image")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if field.language is None:
        raise ValueError("this field has no language field: it cannot answer text queries")
    device = rays.origins.device
    span = clip_head_span(field) if in_span else None
    basis, factor = span if span is not None else (None, None)
    columns = field.language.config.clip_dim if basis is None else basis.shape[1]
    clip = torch.empty(len(scales), len(rays), columns, dtype=storage_dtype, device=device)
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
            embeddings = clip_at_scales(field, chunk, out.samples, out.weights, scales, factor)  # (S, r, W)
            clip[:, start:stop] = embeddings.to(storage_dtype)
            rgb[start:stop], depth[start:stop] = out.rgb, out.depth
    finally:
        field.train(was_training)
    return ViewEmbeddings(
        rgb=rgb.clamp(0, 1).reshape(height, width, 3),  # (H*W, 3) -> (H, W, 3)
        depth=depth.reshape(height, width),  # (H*W,) -> (H, W)
        clip=ScaledEmbeddings(clip, scales, basis=basis),
    )


@torch.no_grad()
def embed_point_set(
    field: LerfField,
    xyz: Float[torch.Tensor, "N 3"],
    scales: Sequence[float],
    chunk_size: int = 4 * DEFAULT_CHUNK,
    storage_dtype: torch.dtype = STORAGE_DTYPE,
    in_span: bool = True,
) -> ScaledEmbeddings:
    """The field's CLIP embedding at world points (e.g. a fused point set) at each scale.

    The grid features are looked up once per chunk and the CLIP head run per scale (as
    ``LerfField.embed_points``, which would repeat the lookup and the DINO head per scale). Rows
    are coordinates in the head's output span when that is narrower (:func:`clip_head_span`) and
    ``in_span`` is True.
    """
    scales = check_scales(scales)
    if field.language is None:
        raise ValueError("this field has no language field: it cannot answer text queries")
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {tuple(xyz.shape)}")
    span = clip_head_span(field) if in_span else None
    basis, factor = span if span is not None else (None, None)
    columns = field.language.config.clip_dim if basis is None else basis.shape[1]
    out = torch.empty(len(scales), len(xyz), columns, dtype=storage_dtype, device=xyz.device)
    for start in range(0, len(xyz), chunk_size):
        points = xyz[start : start + chunk_size].float()
        coords, _ = field.grid_coords(points)
        features = field.language.encode(coords)  # (n, F)
        for s, scale in enumerate(scales):
            column = torch.full((len(points),), scale, dtype=features.dtype, device=features.device)
            if factor is None:
                rows = field.language.clip(features, column)  # (n, C)
            else:
                rows = span_coordinates(factor, field.language.clip_hidden(features, column))  # (n, B)
            out[s, start : start + len(points)] = rows.to(storage_dtype)
    return ScaledEmbeddings(out, scales, basis=basis)
