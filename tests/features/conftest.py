"""Small deterministic encoders implementing lerf3d's encoder protocols, and tiny captures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lerf3d.types import Capture, Frame, Intrinsics

PATCH = 4
"""Stride of the test encoders' convolution."""


class ConvImageTextEncoder:
    """A fixed random conv projection + mean pooling + mixing matrix, unit-normalised.

    Real (it depends on every pixel, non-linearly) but tiny and deterministic on the CPU.
    """

    def __init__(self, embedding_dim: int = 16, input_size: int = 16, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.name = f"test:conv-{embedding_dim}-{input_size}-{seed}"
        self.embedding_dim = embedding_dim
        self.input_size = input_size
        self.kernel = torch.randn(embedding_dim, 3, PATCH, PATCH, generator=generator) / PATCH
        self.mix = torch.randn(embedding_dim, embedding_dim, generator=generator)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        size = (self.input_size, self.input_size)
        if tuple(images.shape[-2:]) != size:
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        responses = F.gelu(F.conv2d(images - 0.5, self.kernel, stride=PATCH))  # (B, D, h, w)
        return F.normalize(responses.mean(dim=(2, 3)) @ self.mix, dim=-1)

    def encode_text(self, phrases: list[str]) -> torch.Tensor:
        rows = []
        for phrase in phrases:
            seed = int.from_bytes(hashlib.sha256(phrase.encode()).digest()[:4], "little")
            rows.append(torch.randn(self.embedding_dim, generator=torch.Generator().manual_seed(seed)))
        return F.normalize(torch.stack(rows), dim=-1)


class CountingImageTextEncoder(ConvImageTextEncoder):
    """The conv encoder, counting how often (and on how many crops) it is called."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.images = 0

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images += images.shape[0]
        return super().encode_image(images)


class ConvDenseEncoder:
    """A fixed random patch projection: a (H/8, W/8, D) map, counting its calls."""

    def __init__(self, feature_dim: int = 8, patch: int = 8, seed: int = 1) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.name = f"test:dense-{feature_dim}-{patch}-{seed}"
        self.feature_dim = feature_dim
        self.patch = patch
        self.kernel = torch.randn(feature_dim, 3, patch, patch, generator=generator) / patch
        self.calls = 0

    def encode_dense(self, image: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        features = F.conv2d(image[None] - 0.5, self.kernel, stride=self.patch)[0]  # (D, h, w)
        return features.permute(1, 2, 0)  # (D, h, w) -> (h, w, D)


def make_image(height: int, width: int, seed: int) -> np.ndarray:
    """A textured (H, W, 3) uint8 image: smooth gradients plus a few random rectangles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height)], axis=-1)
    for _ in range(4):
        y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
        image[y0 : y0 + height // 4, x0 : x0 + width // 4] = rng.integers(0, 256, size=3)
    return image.astype(np.uint8)


def write_capture(root: Path, images: list[np.ndarray]) -> Capture:
    """A capture of PNG frames (identity poses, no depth) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, image in enumerate(images):
        path = root / f"frame_{i:03d}.png"
        Image.fromarray(image).save(path)
        height, width = image.shape[:2]
        intrinsics = Intrinsics(fx=width, fy=width, cx=width / 2, cy=height / 2, width=width, height=height)
        frames.append(Frame(path.stem, path, None, intrinsics, np.eye(4)))
    return Capture(root=root, frames=tuple(frames), source_format="nerfstudio")


@pytest.fixture
def image_text_encoder() -> CountingImageTextEncoder:
    return CountingImageTextEncoder()


@pytest.fixture
def dense_encoder() -> ConvDenseEncoder:
    return ConvDenseEncoder()


@pytest.fixture
def small_capture(tmp_path: Path) -> Capture:
    """Three 48 x 64 frames."""
    return write_capture(tmp_path / "capture", [make_image(48, 64, seed) for seed in range(3)])


@pytest.fixture
def image_maker():
    """:func:`make_image`, for tests that need images of their own."""
    return make_image


@pytest.fixture
def capture_writer():
    """:func:`write_capture`, for tests that need captures of their own."""
    return write_capture


@pytest.fixture
def encoder_class():
    """:class:`CountingImageTextEncoder`, for tests that build more than one."""
    return CountingImageTextEncoder
