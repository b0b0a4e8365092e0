"""Phrase-independent embeddings at many scales, and the scale search that answers phrases from them:
the one query path every method (field views, field points, the 2D and point-fusion baselines) goes
through.

A view (or a point set) is rendered once into a :class:`ScaledEmbeddings` stack: one unit
embedding per point per physical scale. A phrase is then a matrix product per scale, LERF's
relevancy, and a choice of scale (:func:`scale_search`): nothing here depends on the model, so
the same code serves the field, the 2D crop-pyramid baseline and the point-fusion baseline.

The similarity to the hardest canonical negative does not depend on the phrase either
(``relevancy.relevancy``'s docstring): :func:`hardest_similarity` computes it once per stack and
:func:`relevancy_at_scales` reuses it for every phrase.

A stack may hold its rows as coordinates in an orthonormal basis U of a subspace that contains
every embedding (the field's CLIP head ends in a linear layer, so its outputs span at most H + 1 of
C dimensions): q . (U z) = (U^T q) . z, so projecting each phrase once gives the same relevancy
from R-wide rows as from C-wide ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.query.phrases import Phrases, check_phrases, encode_phrases
from lerf3d.query.relevancy import (
    CANONICAL_NEGATIVES,
    RELEVANCY_TEMPERATURE,
    RelevancyMap,
    best_scale,
    select_scale,
)

LERF_NUM_SCALES = 30
"""Scales tried by LERF's scale search (Kerr et al. 2023, sec. 3.4; ``n_scales`` in its code)."""
LERF_MAX_SCALE = 1.5
"""Largest scale (world units) of the search: LERF searches linspace(0, 1.5, 30)."""
ROW_CHUNK = 65536
"""Rows converted from the storage dtype to float32 at once: bounds the temporary to
ROW_CHUNK x D x 4 bytes (128 MiB at D = 512) whatever the number of points."""


def lerf_scales(num_scales: int = LERF_NUM_SCALES, max_scale: float = LERF_MAX_SCALE,
                min_scale: float = 0.0) -> tuple[float, ...]:
    """Evenly spaced scales from ``min_scale`` to ``max_scale`` (metres), small to large.

    Small first, so that ``best_scale``'s ties go to the finer scale.
    """
    if num_scales < 1:
        raise ValueError(f"num_scales must be >= 1, got {num_scales}")
    if not 0.0 <= min_scale <= max_scale:
        raise ValueError(f"need 0 <= min_scale <= max_scale, got {min_scale}, {max_scale}")
    return tuple(float(s) for s in torch.linspace(min_scale, max_scale, num_scales, dtype=torch.float64))


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """``scales`` as a tuple of floats; ValueError when empty, negative or not increasing."""
    scales = tuple(float(s) for s in scales)
    if not scales:
        raise ValueError("at least one scale is needed")
    if min(scales) < 0:
        raise ValueError(f"scales must be >= 0 metres, got {scales}")
    if any(b <= a for a, b in zip(scales, scales[1:])):
        raise ValueError(f"scales must be strictly increasing (ties go to the first), got {scales}")
    return scales


BASIS_TOLERANCE = 1e-4
"""Largest |U^T U - I| entry accepted of a stack's basis (float32 rounding of an exact one is ~1e-7)."""


@dataclass(frozen=True, eq=False)
class ScaledEmbeddings:
    """Unit embeddings of N points (pixels or 3D points) at S physical scales."""

    embeddings: Float[torch.Tensor, "S N W"]
    """Unit-norm rows in the storage dtype; an all-zero row means "nothing seen there". W = C
    (ambient embeddings) without a basis, W = R (coordinates in ``basis``) with one."""
    scales: tuple[float, ...]
    """Scale (metres) of each of the S slices, increasing."""
    observed: Bool[torch.Tensor, "S N"] | None = None
    """False where a row is "nothing seen there" (it then scores 0); None: every row was observed."""
    basis: Float[torch.Tensor, "C R"] | None = None
    """Orthonormal columns (R <= C): when set, row z of ``embeddings`` stands for the embedding U z,
    still of unit norm since U^T U = I; ``dim`` is then C and ``width`` R. None: rows are ambient."""

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 3 or self.embeddings.shape[0] != len(self.scales):
            raise ValueError(f"embeddings must be (S={len(self.scales)}, N, C), "
                             f"got {tuple(self.embeddings.shape)}")
        check_scales(self.scales)
        if self.observed is not None and tuple(self.observed.shape) != tuple(self.embeddings.shape[:2]):
            raise ValueError(f"observed must be {tuple(self.embeddings.shape[:2])}, "
                             f"got {tuple(self.observed.shape)}")
        if self.basis is not None:
            check_basis(self.basis, self.width)

    @property
    def num_points(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def width(self) -> int:
        """Stored columns per row: R with a basis, C without."""
        return int(self.embeddings.shape[2])

    @property
    def dim(self) -> int:
        """Ambient embedding dimension C (what phrase vectors must have)."""
        return int(self.basis.shape[0]) if self.basis is not None else self.width

    @property
    def nbytes(self) -> int:
        basis = 0 if self.basis is None else self.basis.numel() * self.basis.element_size()
        return self.embeddings.numel() * self.embeddings.element_size() + basis

    def project(self, vectors: Float[torch.Tensor, "K C"]) -> Float[torch.Tensor, "K W"]:
        """Ambient vectors q as float32 on the stack's device, in the stored coordinates: U^T q with a
        basis (then q . (U z) = (U^T q) . z for every stored row z), q itself without."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must be (K, {self.dim}), got {tuple(vectors.shape)}")
        vectors = vectors.to(self.embeddings.device, torch.float32)
        if self.basis is None:
            return vectors
        return vectors @ self.basis.to(self.embeddings.device, torch.float32)  # (K, C) @ (C, R)

    def ambient(self, dtype: torch.dtype | None = None) -> Float[torch.Tensor, "S N C"]:
        """The full C-wide embeddings (U z per row with a basis) in ``dtype`` (default: the storage
        dtype), for consumers that need the vectors themselves (exports, comparisons); queries never do."""
        dtype = dtype or self.embeddings.dtype
        if self.basis is None:
            return self.embeddings.to(dtype)
        basis = self.basis.to(self.embeddings.device, torch.float32)
        return (self.embeddings.float() @ basis.T).to(dtype)  # (S, N, R) @ (R, C)


def check_basis(basis: torch.Tensor, width: int) -> None:
    """ValueError unless ``basis`` is a float (C, ``width``) matrix, C >= width, with orthonormal columns."""
    if basis.ndim != 2 or basis.shape[1] != width or basis.shape[0] < width:
        raise ValueError(f"basis must be (C >= {width}, {width}) for rows of {width} coordinates, "
                         f"got {tuple(basis.shape)}")
    if not basis.is_floating_point():
        raise ValueError(f"basis must be a float tensor, got {basis.dtype}")
    gram = basis.double().T @ basis.double()  # (R, R)
    identity = torch.eye(width, dtype=torch.float64, device=basis.device)
    error = float((gram - identity).abs().amax()) if width else 0.0
    if error > BASIS_TOLERANCE:
        raise ValueError(f"basis columns must be orthonormal: |U^T U - I| reaches {error:.2e}")


def _float_rows(
    stack: ScaledEmbeddings, chunk: int
) -> Iterator[tuple[int, slice, Float[torch.Tensor, "n C"]]]:
    """(scale index, row slice, float32 rows) over the stack in chunks of ``chunk`` rows.

    Half-precision rows are converted into one reused float32 buffer: allocating a fresh one per
    chunk costs page faults that made the conversion ~3x slower than the matrix product itself.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    data = stack.embeddings
    buffer = None
    if data.dtype != torch.float32:
        buffer = torch.empty(min(chunk, stack.num_points), stack.width, dtype=torch.float32,
                             device=data.device)
    for s in range(data.shape[0]):
        for start in range(0, stack.num_points, chunk):
            rows = slice(start, min(start + chunk, stack.num_points))
            block = data[s, rows]
            if buffer is not None:
                block = buffer[: block.shape[0]].copy_(block)
            yield s, rows, block


def hardest_similarity(
    stack: ScaledEmbeddings, negatives: Float[torch.Tensor, "K C"], chunk: int = ROW_CHUNK
) -> Float[torch.Tensor, "S N"]:
    """max_c phi.c over the negatives for every point and scale (float32): phrase independent."""
    if negatives.ndim != 2 or negatives.shape[0] == 0 or negatives.shape[1] != stack.dim:
        raise ValueError(f"negatives must be (K >= 1, {stack.dim}), got {tuple(negatives.shape)}")
    negatives = stack.project(negatives)  # (K, C) -> (K, W)
    out = torch.empty(stack.embeddings.shape[:2], dtype=torch.float32, device=stack.embeddings.device)
    for s, rows, block in _float_rows(stack, chunk):
        out[s, rows] = (block @ negatives.T).amax(dim=-1)
    return out


def relevancy_from_similarities(
    positive_sim: Float[torch.Tensor, "*batch P"],
    hardest_sim: Float[torch.Tensor, "*batch"],
    temperature: float = RELEVANCY_TEMPERATURE,
) -> Float[torch.Tensor, "*batch P"]:
    """LERF relevancy from phi.q and max_c phi.c: sigmoid(tau (phi.q - max_c phi.c)).

    Equal to ``relevancy.relevancy`` (the minimum over negatives of two-way softmaxes is reached
    at the hardest negative), split so that the negative term can be computed once and cached.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.sigmoid(temperature * (positive_sim - hardest_sim.unsqueeze(-1)))


def relevancy_at_scales(
    stack: ScaledEmbeddings,
    positives: Float[torch.Tensor, "P C"],
    hardest: Float[torch.Tensor, "S N"],
    temperature: float = RELEVANCY_TEMPERATURE,
    chunk: int = ROW_CHUNK,
) -> Float[torch.Tensor, "S N P"]:
    """Relevancy of every phrase at every point and scale (float32); unobserved rows score 0.

    An unobserved (zero) row, e.g. a pixel no fused point projects to, would otherwise score
    sigmoid(0) = 0.5, as if it were as much the phrase as anything else.
    """
    if positives.ndim != 2 or positives.shape[1] != stack.dim:
        raise ValueError(f"positives must be (P, {stack.dim}), got {tuple(positives.shape)}")
    if tuple(hardest.shape) != tuple(stack.embeddings.shape[:2]):
        raise ValueError(f"hardest must be {tuple(stack.embeddings.shape[:2])}, got {tuple(hardest.shape)}")
    device = stack.embeddings.device
    positives = stack.project(positives)  # (P, C) -> (P, W)
    num_scales, num_points = stack.embeddings.shape[:2]
    out = torch.empty(num_scales, num_points, positives.shape[0], dtype=torch.float32, device=device)
    for s, rows, block in _float_rows(stack, chunk):
        out[s, rows] = relevancy_from_similarities(block @ positives.T, hardest[s, rows], temperature)
    if stack.observed is not None:
        out.mul_(stack.observed.unsqueeze(-1))  # (S, N) -> (S, N, 1)
    return out


def relevancy_streamed(
    embeddings_at: Callable[[int], Float[torch.Tensor, "N C"]],
    scales: Sequence[float],
    positives: Float[torch.Tensor, "P C"],
    negatives: Float[torch.Tensor, "K C"],
    temperature: float = RELEVANCY_TEMPERATURE,
    chunk: int = ROW_CHUNK,
) -> Float[torch.Tensor, "S N P"]:
    """:func:`relevancy_at_scales` over embeddings produced one scale at a time by ``embeddings_at(s)``:
    for methods whose full (S, N, C) stack would not fit in memory (the 2D and fusion baselines)."""
    out = []
    for s, scale in enumerate(scales):
        rows = embeddings_at(s)
        observed = rows.abs().amax(dim=-1) > 0
        one = ScaledEmbeddings(rows[None], (float(scale),), observed[None])  # (N, C) -> (1, N, C)
        hardest = hardest_similarity(one, negatives, chunk)
        out.append(relevancy_at_scales(one, positives, hardest, temperature, chunk)[0])
    return torch.stack(out)  # (S, N, P)


def scale_search(
    relevancy_per_scale: Float[torch.Tensor, "S N P"], quantile: float = 1.0
) -> tuple[Float[torch.Tensor, "N P"], Int[torch.Tensor, " P"]]:
    """Each phrase's relevancy at its best scale, and that scale's index (LERF's scale search)."""
    index = best_scale(relevancy_per_scale, quantile)
    return select_scale(relevancy_per_scale, index), index


def to_relevancy_maps(
    values: Float[torch.Tensor, "N P"],
    index: Int[torch.Tensor, " P"],
    scales: Sequence[float],
    phrases: Sequence[str],
    shape: tuple[int, ...],
) -> list[RelevancyMap]:
    """One RelevancyMap per phrase, values reshaped to ``shape`` ((H, W) or (N,))."""
    if values.shape[1] != len(phrases):
        raise ValueError(f"{values.shape[1]} relevancy columns for {len(phrases)} phrases")
    return [
        RelevancyMap(values[:, p].reshape(shape), phrase, scales[int(index[p])])  # (N,) -> shape
        for p, phrase in enumerate(phrases)
    ]


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
    :meth:`query` is an entry point (it checks its phrases); :meth:`search`, :meth:`hardest` and
    :meth:`relevancy_per_scale` take :class:`~lerf3d.query.phrases.Phrases` already checked.
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

    def hardest(self, negatives: Phrases) -> Float[torch.Tensor, "S N"]:
        """max over checked ``negatives`` of phi.c per point and scale (computed once per negatives)."""
        key = tuple(negatives)
        if key not in self._hardest:
            embedded = encode_phrases(self.encoder, negatives, what="negative phrase")
            self._hardest[key] = hardest_similarity(self.stack, embedded, self.config.row_chunk)
        return self._hardest[key]

    def relevancy_per_scale(self, phrases: Phrases, negatives: Phrases) -> Float[torch.Tensor, "S N P"]:
        """Relevancy of each checked phrase at every point and scale."""
        positives = encode_phrases(self.encoder, phrases)
        hardest = self.hardest(negatives)
        config = self.config
        return relevancy_at_scales(self.stack, positives, hardest, config.temperature, config.row_chunk)

    def search(self, phrases: Phrases, negatives: Phrases) -> list[RelevancyMap]:
        """One map per checked phrase, each at the scale that answers it best (LERF's scale search)."""
        values, index = scale_search(self.relevancy_per_scale(phrases, negatives), self.config.quantile)
        return to_relevancy_maps(values, index, self.scales, phrases, self.shape)

    def query(
        self, phrases: Sequence[str], negatives: Sequence[str] = CANONICAL_NEGATIVES
    ) -> list[RelevancyMap]:
        """:meth:`search` for phrases from a caller: checks them (and the negatives) first."""
        return self.search(check_phrases(phrases), check_phrases(negatives, "negative phrase"))
