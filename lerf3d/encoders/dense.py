"""DenseFeatureEncoder over any ViT backbone: patch tokens laid out as an (h, w, D) map."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import nn

from lerf3d.encoders.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    check_images,
    normalize,
    patch_grid_size,
    resize,
)
from lerf3d.encoders.vit import patch_token_grid, vit_tokens


@dataclass(frozen=True)
class DenseEncoderConfig:
    """How a dense encoder sizes its input."""

    target_size: int | None = None
    """Longer image side in pixels before encoding (rounded to a multiple of the patch size, aspect
    kept); the map has about target_size / patch_size cells along that side. None: the model's
    default (``default_target_size`` of the builder)."""


class ViTDenseEncoder:
    """DINO-style dense features from a ViT: ImageNet normalisation, resize to a patch multiple,
    final-layer patch tokens on their grid."""

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        patch_size: int,
        feature_dim: int,
        target_size: int,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
        num_registers: int = 0,
    ) -> None:
        # The map's resolution depends on target_size, so it is part of the name (feature-cache keys).
        self.name = f"{name}|{target_size}px"
        self.feature_dim = feature_dim
        self.patch_size = patch_size
        """Pixels per feature cell side at the resized resolution."""
        self.target_size = target_size
        self.device = torch.device(device)
        self.dtype = dtype
        self.num_registers = num_registers
        self.backbone = backbone.to(device=self.device, dtype=dtype).eval().requires_grad_(False)

    def __repr__(self) -> str:
        return f"ViTDenseEncoder({self.name!r}, D={self.feature_dim}, target_size={self.target_size})"

    def input_shape(self, height: int, width: int) -> tuple[int, int]:
        """Pixel size an image of ``height x width`` is resized to before encoding."""
        return patch_grid_size(height, width, self.target_size, self.patch_size)

    @torch.no_grad()
    def encode_dense_batch(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B h w D"]:
        """(B, h, w, D) maps of same-sized images in [0, 1]."""
        check_images(images, f"{self.name}.encode_dense")
        rows, cols = self.input_shape(*images.shape[-2:])
        x = resize(images.to(device=self.device, dtype=self.dtype), rows, cols)
        x = normalize(x, IMAGENET_MEAN, IMAGENET_STD)
        tokens = vit_tokens(self.backbone, x, self.patch_size, self.num_registers)
        return patch_token_grid(tokens, x.shape, self.patch_size, 1 + self.num_registers)

    def encode_dense(self, image: Float[torch.Tensor, "3 H W"]) -> Float[torch.Tensor, "h w D"]:
        """A (h, w, D) feature map of one image in [0, 1]."""
        if image.ndim != 3:
            raise ValueError(
                f"{self.name}.encode_dense: expected one (3, H, W) image, got {tuple(image.shape)}"
            )
        return self.encode_dense_batch(image.unsqueeze(0))[0]  # (h, w, D)
