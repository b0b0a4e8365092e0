"""QuerySession: a trained field + an image-text encoder answering text queries on views and points.

The rendered CLIP embedding of a view does not depend on the phrase (docs/architecture.md, "Language field"):
a session renders it once per (view, scales) at LERF's ~30 scales, keeps it in a byte-bounded LRU,
and answers every later phrase on that view with a matrix product, LERF's relevancy and a scale
search. Point sets work the same way with a few scales per point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.field.model import LerfField
from lerf3d.query.cache import ByteLRU, CacheStats
from lerf3d.query.camera import DEFAULT_MIN_NEAR, QueryCamera, camera_rays_for
from lerf3d.query.phrases import check_phrases
from lerf3d.query.points import DEFAULT_POINT_SCALES, PointQuery, points_key
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RelevancyMap, select_scale
from lerf3d.query.render import DEFAULT_CHUNK, ViewEmbeddings, embed_point_set, render_view_embeddings
from lerf3d.query.search import (
    LERF_MAX_SCALE,
    LERF_NUM_SCALES,
    ScaleSearcher,
    SearchConfig,
    check_scales,
    lerf_scales,
    to_relevancy_maps,
)

DEFAULT_CACHE_BYTES = 4 * 1024**3
"""Embeddings kept per session: two or three 256x256 views at 30 scales with C-wide rows (1.5 GiB each
at D = 384 in float16), or one view and a room's point set; C / (H + 1) times as many when the stacks
hold the CLIP head's coordinates (render.py)."""
STORAGE_DTYPES = {"float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class QuerySessionConfig:
    """How a session renders, caches and searches."""

    num_scales: int = LERF_NUM_SCALES
    """Scales a view is rendered at (LERF: 30)."""
    max_scale: float = LERF_MAX_SCALE
    """Largest scale in metres (LERF: 1.5); scales run evenly from 0 to it."""
    point_scales: tuple[float, ...] = DEFAULT_POINT_SCALES
    """Scales (m) a 3D point set carries (fewer than a view's: see points.DEFAULT_POINT_SCALES)."""
    chunk_size: int = DEFAULT_CHUNK
    """Rays (or points x 4) rendered at once."""
    cache_bytes: int = DEFAULT_CACHE_BYTES
    """Byte cap of the LRU of view and point embeddings; 0 caches nothing."""
    storage_dtype: Literal["float16", "float32"] = "float16"
    """Precision embeddings are kept in (float16 halves memory; relevancy changes by < 1e-2)."""
    span_coordinates: bool = True
    """Keep embeddings as coordinates in the CLIP head's output span (exact, C/R times smaller and
    faster, :func:`lerf3d.query.render.clip_head_span`); False keeps C-wide rows, as LERF does."""
    min_near: float = DEFAULT_MIN_NEAR
    """Rays start at least this far from the camera (m)."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """Relevancy temperature and scale-search statistic."""

    def __post_init__(self) -> None:
        lerf_scales(self.num_scales, self.max_scale)  # validates both
        check_scales(self.point_scales)
        if self.chunk_size < 1 or self.cache_bytes < 0 or not self.min_near > 0:
            raise ValueError("need chunk_size >= 1, cache_bytes >= 0 and min_near > 0, got "
                             f"{self.chunk_size}, {self.cache_bytes}, {self.min_near}")
        if self.storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype must be one of {sorted(STORAGE_DTYPES)}, "
                             f"got {self.storage_dtype!r}")


@dataclass(frozen=True, eq=False)
class _ViewEntry:
    """A cached view: its render and the searcher over its embeddings."""

    view: ViewEmbeddings
    searcher: ScaleSearcher

    @property
    def nbytes(self) -> int:
        return self.view.nbytes - self.view.clip.nbytes + self.searcher.nbytes


@dataclass(frozen=True, eq=False)
class ViewAnswer:
    """The answer to phrases on one view."""

    view: ViewEmbeddings
    """The render (colour, depth, embeddings)."""
    maps: list[RelevancyMap]
    """One (H, W) map per phrase, in phrase order."""


class QuerySession:
    """Text queries against one trained field; phrases are arguments, never state."""

    def __init__(
        self,
        field: LerfField,
        encoder: ImageTextEncoder,
        device: torch.device | str = "cpu",
        config: QuerySessionConfig = QuerySessionConfig(),
    ) -> None:
        if field.language is None:
            raise ValueError("this field was trained without a language field: it cannot answer text queries")
        if field.language.config.clip_dim != encoder.embedding_dim:
            raise ValueError(f"the field renders {field.language.config.clip_dim}-d embeddings but "
                             f"{encoder.name} gives {encoder.embedding_dim}-d ones: use the encoder it was "
                             "trained with")
        self.device = torch.device(device)
        self.field = field.to(self.device).eval()
        self.encoder = encoder
        self.config = config
        self._cache: ByteLRU[_ViewEntry | PointQuery] = ByteLRU(config.cache_bytes, lambda v: v.nbytes)

    @property
    def scales(self) -> tuple[float, ...]:
        """The view scale search's scales (m), small to large."""
        return lerf_scales(self.config.num_scales, self.config.max_scale)

    @property
    def storage_dtype(self) -> torch.dtype:
        return STORAGE_DTYPES[self.config.storage_dtype]

    def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- views -------------------------------------------------------------------------------

    def render_embeddings(self, camera: QueryCamera, scales: Sequence[float] | None = None) -> ViewEmbeddings:
        """Render ``camera`` at ``scales`` (default: the session's) without touching the cache."""
        scales = check_scales(scales if scales is not None else self.scales)
        rays = camera_rays_for(camera, self.field.lower, self.field.upper, self.config.min_near)
        k = camera.intrinsics
        return render_view_embeddings(self.field, rays, k.height, k.width, scales, self.config.chunk_size,
                                      self.storage_dtype, self.config.span_coordinates)

    def _view_entry(self, camera: QueryCamera, scales: Sequence[float] | None, use_cache: bool) -> _ViewEntry:
        scales = check_scales(scales if scales is not None else self.scales)

        def compute() -> _ViewEntry:
            view = self.render_embeddings(camera, scales)
            return _ViewEntry(view, ScaleSearcher(view.clip, self.encoder, view.shape, self.config.search))

        if not use_cache:
            return compute()
        return self._cache.get_or_compute(("view", camera.key, scales), compute)

    def view_embeddings(
        self, camera: QueryCamera, scales: Sequence[float] | None = None, use_cache: bool = True
    ) -> ViewEmbeddings:
        """The phrase-independent render of a view at ``scales`` (rendered once, then cached)."""
        return self._view_entry(camera, scales, use_cache).view

    def answer(
        self,
        camera: QueryCamera,
        phrases: Sequence[str],
        negatives: Sequence[str] = CANONICAL_NEGATIVES,
        scales: Sequence[float] | None = None,
        phrase_scales: Sequence[float] | None = None,
        use_cache: bool = True,
    ) -> ViewAnswer:
        """The view's render and one (H, W) map per phrase.

        Without ``phrase_scales`` each phrase takes its best of ``scales`` (default: the session's
        30; LERF's scale search); with them, phrase i is scored at ``phrase_scales[i]`` and the view is
        rendered at those scales only (a video keeps the scale chosen once, so it does not flicker).
        """
        phrases = check_phrases(phrases)  # this is where a library caller's phrases enter
        negatives = check_phrases(negatives, "negative phrase")
        if phrase_scales is not None:
            if len(phrase_scales) != len(phrases):
                raise ValueError(f"{len(phrase_scales)} scales for {len(phrases)} phrases")
            scales = sorted(set(float(s) for s in phrase_scales))
        entry = self._view_entry(camera, scales, use_cache)
        if phrase_scales is None:
            maps = entry.searcher.search(phrases, negatives)
        else:
            per_scale = entry.searcher.relevancy_per_scale(phrases, negatives)  # (S, N, P)
            index = torch.tensor([entry.view.clip.scales.index(float(s)) for s in phrase_scales],
                                 device=per_scale.device)
            values = select_scale(per_scale, index)
            maps = to_relevancy_maps(values, index, entry.view.clip.scales, phrases, entry.view.shape)
        if use_cache:
            self._cache.resize(("view", camera.key, entry.view.clip.scales))  # the negative term was added
        return ViewAnswer(entry.view, maps)

    def query(
        self,
        camera: QueryCamera,
        phrases: Sequence[str],
        negatives: Sequence[str] = CANONICAL_NEGATIVES,
        scales: Sequence[float] | None = None,
        use_cache: bool = True,
    ) -> list[RelevancyMap]:
        """One (H, W) relevancy map per phrase, each at its own best scale (:meth:`answer`'s maps)."""
        return self.answer(camera, phrases, negatives, scales, use_cache=use_cache).maps

    # -- points ------------------------------------------------------------------------------

    def point_query(
        self,
        xyz: Float[torch.Tensor, "N 3"] | np.ndarray,
        scales: Sequence[float] | None = None,
        use_cache: bool = True,
    ) -> PointQuery:
        """A :class:`PointQuery` over world points (e.g. the fused set), embeddings computed once."""
        scales = check_scales(scales if scales is not None else self.config.point_scales)
        points = torch.as_tensor(np.asarray(xyz) if not isinstance(xyz, torch.Tensor) else xyz,
                                 dtype=torch.float32).to(self.device)

        def compute() -> PointQuery:
            chunk = 4 * self.config.chunk_size  # points are cheaper than rays (no samples along them)
            stack = embed_point_set(self.field, points, scales, chunk, self.storage_dtype,
                                    self.config.span_coordinates)
            return PointQuery(points, stack, self.encoder, self.config.search)

        if not use_cache:
            return compute()
        return self._cache.get_or_compute(("points", points_key(points), scales), compute)

