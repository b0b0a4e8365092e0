"""Dense DINO-style feature maps of one image and bilinear sampling at pixels.

A map of (h, w) cells covers the whole (H, W) image: cell (i, j) stands for the patch whose centre
is at ((j + 0.5) W / w, (i + 0.5) H / h) in pixel coordinates. Sampling interpolates between those
centres and clamps outside them, exactly like a pyramid level (same function).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float

from lerf3d.encoders.base import DenseFeatureEncoder
from lerf3d.features.interpolate import bilinear_grid_sample
from lerf3d.features.pyramid import STORAGE_DTYPE


@dataclass(frozen=True, eq=False)
class DinoMap:
    """The dense feature map of one image."""

    features: Float[torch.Tensor, "h w D"]
    """Patch features as the encoder returned them (not normalised: the DINO loss is an MSE)."""
    image_height: int
    """Height H of the encoded image, pixels."""
    image_width: int
    """Width W of the encoded image, pixels."""

    def __post_init__(self) -> None:
        if self.features.ndim != 3:
            raise ValueError(f"a DINO map must be (h, w, D), got {tuple(self.features.shape)}")

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[-1])

    def centres_x(self) -> Float[torch.Tensor, "w"]:
        """(w,) x coordinates of the patch centres, pixels."""
        w = self.features.shape[1]
        return (torch.arange(w, device=self.features.device) + 0.5) * (self.image_width / w)

    def centres_y(self) -> Float[torch.Tensor, "h"]:
        """(h,) y coordinates of the patch centres, pixels."""
        h = self.features.shape[0]
        return (torch.arange(h, device=self.features.device) + 0.5) * (self.image_height / h)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> DinoMap:
        """The same map on ``device`` (cast to ``dtype`` when given)."""
        features = self.features.to(device=device, dtype=dtype or self.features.dtype)
        return DinoMap(features, self.image_height, self.image_width)


@torch.no_grad()  # not inference_mode: its tensors could not be saved for backward later
def extract_dino_map(image: Float[torch.Tensor, "3 H W"], encoder: DenseFeatureEncoder) -> DinoMap:
    """Encode one image (on the encoder's device); the map is returned on the CPU in float16."""
    features = encoder.encode_dense(image)
    if features.ndim != 3 or features.shape[-1] != encoder.feature_dim:
        raise ValueError(
            f"{encoder.name}: encode_dense returned {tuple(features.shape)}, "
            f"expected (h, w, {encoder.feature_dim})"
        )
    return DinoMap(features.to("cpu", STORAGE_DTYPE), int(image.shape[1]), int(image.shape[2]))


def sample_dino_map(dino: DinoMap, pixels: Float[torch.Tensor, "N 2"]) -> Float[torch.Tensor, "N D"]:
    """Bilinearly interpolated features at ``(x, y)`` pixels, float32."""
    return bilinear_grid_sample(dino.features, dino.centres_y(), dino.centres_x(), pixels)


def dino_to_arrays(dino: DinoMap) -> dict[str, np.ndarray]:
    """Flat named arrays for the on-disk cache (inverse: :func:`dino_from_arrays`)."""
    return {
        "image_size": np.array([dino.image_height, dino.image_width], dtype=np.int64),
        "features": dino.features.cpu().to(STORAGE_DTYPE).numpy(),
    }


def dino_from_arrays(arrays: dict[str, np.ndarray]) -> DinoMap:
    """Rebuild a map from :func:`dino_to_arrays`; KeyError/ValueError when inconsistent."""
    height, width = (int(v) for v in arrays["image_size"])
    return DinoMap(torch.from_numpy(arrays["features"]), height, width)
