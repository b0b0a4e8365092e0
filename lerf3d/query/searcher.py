"""Answering phrases from a stack of embeddings at several scales: the one query path every method
(field views, field points, the 2D and point-fusion baselines) goes through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.query.phrases import check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RELEVANCY_TEMPERATURE, RelevancyMap
from lerf3d.query.search import (
    ROW_CHUNK,
    ScaledEmbeddings,
    hardest_similarity,
    relevancy_at_scales,
    scale_search,
    to_relevancy_maps,
)


@dataclass(frozen=True)
class SearchConfig:
    """How relevancy is computed and a scale chosen."""

    temperature: float = RELEVANCY_TEMPERATURE
    """Softmax temperature of the relevancy (LERF sec. 3.4: 10)."""
    quantile: float = 1.0
    """Statistic the scale search maximises: 1.0 is the maximum over points, as LERF; 0.99 ignores
    the top 1 % of points (single-pixel outliers)."""
    row_chunk: int = ROW_CHUNK
    """Rows converted to float32 at once (memory bound of a query)."""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {self.quantile}")
        if self.row_chunk < 1:
            raise ValueError(f"row_chunk must be >= 1, got {self.row_chunk}")


class ScaleSearcher:
    """Relevancy maps of phrases over a fixed :class:`ScaledEmbeddings` stack.

    The phrase-independent half of the relevancy (similarity to the hardest negative) is computed
    once per set of negatives and kept, so a new phrase costs one matrix product per scale.
    """

    def __init__(
        self,
        stack: ScaledEmbeddings,
        encoder: ImageTextEncoder,
        shape: tuple[int, ...],
        config: SearchConfig = SearchConfig(),
    ) -> None:
        if stack.dim != encoder.embedding_dim:
            raise ValueError(f"embeddings have {stack.dim} dimensions but {encoder.name} gives "
                             f"{encoder.embedding_dim}: the field was trained with another encoder")
        if int(torch.tensor(shape).prod()) != stack.num_points:
            raise ValueError(f"shape {shape} does not hold {stack.num_points} points")
        self.stack = stack
        self.encoder = encoder
        self.shape = tuple(shape)
        self.config = config
        self._hardest: dict[tuple[str, ...], torch.Tensor] = {}

    @property
    def scales(self) -> tuple[float, ...]:
        return self.stack.scales

    @property
    def nbytes(self) -> int:
        """Bytes held: the stack and the cached negative terms (what a cache should charge)."""
        return self.stack.nbytes + sum(t.numel() * t.element_size() for t in self._hardest.values())

    def hardest(self, negatives: Sequence[str]) -> Float[torch.Tensor, "S N"]:
        """max over ``negatives`` of phi.c per point and scale (computed once per negatives tuple)."""
        key = tuple(negatives)
        if key not in self._hardest:
            embedded = encode_phrases(self.encoder, key, what="negative phrase")
            self._hardest[key] = hardest_similarity(self.stack, embedded, self.config.row_chunk)
        return self._hardest[key]

    def relevancy_per_scale(
        self, phrases: Sequence[str], negatives: Sequence[str] = CANONICAL_NEGATIVES
    ) -> Float[torch.Tensor, "S N P"]:
        """Relevancy of each phrase at every point and scale."""
        positives = encode_phrases(self.encoder, phrases)
        hardest = self.hardest(negatives)
        config = self.config
        return relevancy_at_scales(self.stack, positives, hardest, config.temperature, config.row_chunk)

    def query(
        self, phrases: Sequence[str], negatives: Sequence[str] = CANONICAL_NEGATIVES
    ) -> list[RelevancyMap]:
        """One map per phrase, each at the scale that answers it best (LERF's scale search)."""
        cleaned = check_phrases(phrases)
        per_scale = self.relevancy_per_scale(cleaned, negatives)
        values, index = scale_search(per_scale, self.config.quantile)
        return to_relevancy_maps(values, index, self.scales, cleaned, self.shape)
