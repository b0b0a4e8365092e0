"""LERF relevancy of text phrases for language embeddings, and the scale search over it.

Everything here is a pure function of tensors: the phrases are arguments, never state, so a cached
view embedding answers a new phrase with one matrix product (docs/architecture.md, "Language field").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int

from lerf3d.query.phrases import Phrases, check_phrases

CANONICAL_NEGATIVES: Phrases = check_phrases(("object", "things", "stuff", "texture"), "negative phrase")
"""Phrases every query competes against (LERF, Kerr et al. 2023, sec. 3.4): generic words that any
embedding is somewhat similar to, so a high score means "more like the query than like anything".
Checked once here, so the default negatives pass every entry point's check untouched."""

RELEVANCY_TEMPERATURE = 10.0
"""Softmax temperature tau applied to the cosine similarities (LERF sec. 3.4)."""

NEUTRAL_RELEVANCY = 0.5
"""The score of an embedding equally similar to the query and its hardest negative; below it means
"not this" (LERF sec. 3.4)."""


@dataclass(frozen=True, eq=False)
class RelevancyMap:
    """The relevancy of one phrase over a view (H, W) or over a point set (N,)."""

    values: Float[torch.Tensor, "..."]
    """(H, W) per-pixel or (N,) per-point relevancy in [0, 1]."""
    phrase: str
    """The positive phrase it scores."""
    scale: float | None = None
    """Physical scale (world units) the language field was queried at; None when scale-free."""

    def __post_init__(self) -> None:
        if self.values.ndim not in (1, 2):
            raise ValueError(f"RelevancyMap({self.phrase!r}): values must be (H, W) or (N,), "
                             f"got shape {tuple(self.values.shape)}")
        if self.scale is not None and self.scale < 0:
            raise ValueError(f"RelevancyMap({self.phrase!r}): scale must be >= 0, got {self.scale}")


def relevancy(
    embeddings: Float[torch.Tensor, "*batch D"],
    positives: Float[torch.Tensor, "P D"],
    negatives: Float[torch.Tensor, "K D"],
    temperature: float = RELEVANCY_TEMPERATURE,
) -> Float[torch.Tensor, "*batch P"]:
    """LERF relevancy of every positive phrase for every embedding (all inputs unit-norm).

    For each negative c: p_c = softmax(tau * [phi.q, phi.c])[0]; relevancy = min_c p_c. A two-way
    softmax's first entry is sigmoid(tau * (phi.q - phi.c)), which decreases in phi.c, so the minimum
    is reached at the hardest negative (largest phi.c): we evaluate that one sigmoid only, which is
    exact, needs no (..., P, K) intermediate and cannot overflow.
    """
    _check_dims(embeddings, positives, negatives)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    pos_sim = embeddings @ positives.T  # (*batch, P)
    hardest_sim = (embeddings @ negatives.T).amax(dim=-1, keepdim=True)  # (*batch, 1)
    return torch.sigmoid(temperature * (pos_sim - hardest_sim))


def hardest_negative(
    embeddings: Float[torch.Tensor, "*batch D"],
    negatives: Float[torch.Tensor, "K D"],
) -> Int[torch.Tensor, "*batch"]:
    """Index of the negative that sets each embedding's relevancy (the most similar one).

    It is the same for every positive phrase: the minimum over negatives never depends on q.
    """
    if negatives.ndim != 2 or negatives.shape[0] == 0:
        raise ValueError(f"negatives must be (K, D) with K >= 1, got {tuple(negatives.shape)}")
    return (embeddings @ negatives.T).argmax(dim=-1)


def scale_statistic(
    relevancy_per_scale: Float[torch.Tensor, "S *batch P"],
    quantile: float = 1.0,
) -> Float[torch.Tensor, "S P"]:
    """How strongly each scale answers each phrase: a high quantile of relevancy over the points.

    quantile = 1.0 is the maximum, what LERF's scale search compares; a lower value (e.g. 0.99)
    ignores a few outlier pixels. The quantile is the nearest-rank order statistic (the
    ceil(quantile * N)-th smallest value, via ``kthvalue``, which unlike ``torch.quantile`` has no
    input-size limit).
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    if relevancy_per_scale.ndim < 3:
        raise ValueError("relevancy_per_scale must be (S, *batch, P) with at least one batch dim, "
                         f"got shape {tuple(relevancy_per_scale.shape)}")
    num_scales, num_phrases = relevancy_per_scale.shape[0], relevancy_per_scale.shape[-1]
    flat = relevancy_per_scale.reshape(num_scales, -1, num_phrases)  # (S, N, P)
    num_points = flat.shape[1]
    if num_points == 0:
        raise ValueError("relevancy_per_scale has no points to search over")
    if quantile == 1.0:
        return flat.amax(dim=1)
    rank = max(1, math.ceil(quantile * num_points))  # nearest rank, 1-based like kthvalue
    return flat.kthvalue(rank, dim=1).values


def best_scale(
    relevancy_per_scale: Float[torch.Tensor, "S *batch P"],
    quantile: float = 1.0,
) -> Int[torch.Tensor, " P"]:
    """Per phrase, the index of the scale whose ``scale_statistic`` is highest (LERF's scale search).

    Ties go to the smallest index, so list scales from small to large to prefer the finer one.
    """
    return scale_statistic(relevancy_per_scale, quantile).argmax(dim=0)


def select_scale(
    relevancy_per_scale: Float[torch.Tensor, "S *batch P"],
    scale_index: Int[torch.Tensor, " P"],
) -> Float[torch.Tensor, "*batch P"]:
    """Each phrase's relevancy at its own chosen scale (e.g. from ``best_scale``)."""
    num_scales, num_phrases = relevancy_per_scale.shape[0], relevancy_per_scale.shape[-1]
    if scale_index.shape != (num_phrases,):
        raise ValueError(f"scale_index must be ({num_phrases},), got {tuple(scale_index.shape)}")
    if scale_index.numel() and (scale_index.min() < 0 or scale_index.max() >= num_scales):
        raise ValueError(f"scale_index must lie in [0, {num_scales}), got {scale_index.tolist()}")
    flat = relevancy_per_scale.reshape(num_scales, -1, num_phrases)  # (S, N, P)
    index = scale_index.view(1, 1, num_phrases).expand(1, flat.shape[1], num_phrases)  # (1, N, P)
    chosen = flat.gather(0, index)  # (1, N, P)
    return chosen.reshape(relevancy_per_scale.shape[1:])  # (*batch, P)


def _check_dims(embeddings: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> None:
    if positives.ndim != 2 or negatives.ndim != 2:
        raise ValueError(f"positives and negatives must be (P, D) and (K, D), got "
                         f"{tuple(positives.shape)} and {tuple(negatives.shape)}")
    if negatives.shape[0] == 0:
        raise ValueError("relevancy needs at least one negative phrase (LERF uses "
                         f"{', '.join(CANONICAL_NEGATIVES)})")
    dims = {embeddings.shape[-1], positives.shape[-1], negatives.shape[-1]}
    if len(dims) != 1:
        raise ValueError(f"embedding dims differ: embeddings {embeddings.shape[-1]}, "
                         f"positives {positives.shape[-1]}, negatives {negatives.shape[-1]}")
