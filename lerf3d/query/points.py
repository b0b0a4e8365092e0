"""3D queries: a fused point set carrying language embeddings at a few scales, answering phrases
with one relevancy value per point."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from jaxtyping import Float

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.query.search import ScaledEmbeddings, ScaleSearcher, SearchConfig

DEFAULT_POINT_SCALES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)
"""Scales (m) a point set carries. LERF's range [0, 1.5] m at 6 scales, denser at the small end
where objects differ most, instead of a view's 30: a room's fused set has 10^5-10^6 points, and
N x S x D float16 at S = 30 would not fit in memory (1M points, D = 512: 30 GiB)."""


def points_key(xyz: np.ndarray | torch.Tensor) -> str:
    """Digest of a point set's coordinates (cache key of its embeddings)."""
    array = xyz.detach().cpu().numpy() if isinstance(xyz, torch.Tensor) else np.asarray(xyz)
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()[:24]


class PointQuery(ScaleSearcher):
    """Phrases -> per-point relevancy over ``xyz``, embeddings computed once and kept."""

    def __init__(
        self,
        xyz: Float[torch.Tensor, "N 3"],
        stack: ScaledEmbeddings,
        encoder: ImageTextEncoder,
        config: SearchConfig = SearchConfig(),
    ) -> None:
        if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) != stack.num_points:
            raise ValueError(f"xyz must be ({stack.num_points}, 3), got {tuple(xyz.shape)}")
        super().__init__(stack, encoder, (len(xyz),), config)
        self.xyz = xyz

    @property
    def nbytes(self) -> int:
        return super().nbytes + self.xyz.numel() * self.xyz.element_size()
