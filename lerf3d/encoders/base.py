"""Encoder protocols: what the feature pyramid, the field and the query code rely on.

Images enter as float tensors in [0, 1], shape (B, 3, H, W), on the caller's device; each encoder
resizes and normalises them itself (its ``input_size`` is the side it resizes crops to).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Float


@runtime_checkable
class ImageTextEncoder(Protocol):
    """A CLIP-style tower pair: images and phrases map into one unit-norm embedding space."""

    name: str
    """Spec string that built it (e.g. ``openclip:ViT-B-16/laion2b_s34b_b88k``): part of cache keys."""
    embedding_dim: int
    """Dimension of the shared embedding space."""
    input_size: int
    """Square side, in pixels, that crops are resized to before encoding."""

    def encode_image(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        """Unit-norm embeddings of a batch of images in [0, 1]."""
        ...

    def encode_text(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        """Unit-norm embeddings of phrases."""
        ...


@runtime_checkable
class DenseFeatureEncoder(Protocol):
    """A DINO-style encoder giving a feature map over an image."""

    name: str
    """Spec string that built it: part of cache keys."""
    feature_dim: int
    """Channels of the dense map."""

    def encode_dense(self, image: Float[torch.Tensor, "3 H W"]) -> Float[torch.Tensor, "h w D"]:
        """A (h, w, D) feature map of one image in [0, 1] (h, w: the patch grid)."""
        ...
