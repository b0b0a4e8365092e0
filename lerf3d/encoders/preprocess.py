"""Pure image preprocessing shared by the encoders: resizing and channel normalisation.

Every encoder takes float images in [0, 1] and applies its own preprocessing, so callers never
need to know which mean/std or input size a model was trained with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
"""Per-channel RGB mean of OpenAI CLIP's training images (CLIP repo, ``clip/clip.py`` _transform)."""
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
"""Per-channel RGB std of OpenAI CLIP's training images (same source)."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""ImageNet per-channel RGB mean (torchvision reference scripts); used by DINO and DINOv2."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet per-channel RGB std (same source)."""


def normalize(
    images: Float[torch.Tensor, "B 3 H W"], mean: tuple[float, ...], std: tuple[float, ...]
) -> Float[torch.Tensor, "B 3 H W"]:
    """(x - mean) / std per channel."""
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - m) / s


def resize(images: Float[torch.Tensor, "B 3 H W"], height: int, width: int) -> Float[torch.Tensor, "B 3 h w"]:
    """Bicubic resize with antialiasing (so downscaled crops do not alias), clamped back to [0, 1]."""
    if images.shape[-2:] == (height, width):
        return images
    # Bicubic antialias is not implemented for half types on every device: resize those in float32.
    work = images if images.dtype in (torch.float32, torch.float64) else images.float()
    out = F.interpolate(work, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0).to(images.dtype)


def patch_grid_size(height: int, width: int, target_size: int, patch_size: int) -> tuple[int, int]:
    """Pixel size to resize an image to: longer side ~ ``target_size``, aspect kept, both sides
    multiples of ``patch_size`` (at least one patch)."""
    if target_size < patch_size:
        raise ValueError(f"target_size {target_size} is smaller than the patch size {patch_size}")
    scale = target_size / max(height, width)
    rows = max(1, round(height * scale / patch_size))
    cols = max(1, round(width * scale / patch_size))
    return rows * patch_size, cols * patch_size


def check_images(images: torch.Tensor, what: str) -> None:
    """Raise a ValueError naming ``what`` unless ``images`` is a (B, 3, H, W) floating tensor."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{what}: expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{what}: expected float images in [0, 1], got dtype {images.dtype}")
