"""Pure preprocessing functions."""

from __future__ import annotations

import pytest
import torch

from lerf3d.encoders.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    check_images,
    normalize,
    patch_grid_size,
    resize,
)


def test_normalize_maps_mean_to_zero_and_mean_plus_std_to_one() -> None:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(normalize(mean, IMAGENET_MEAN, IMAGENET_STD), torch.zeros(1, 3, 2, 2))
    torch.testing.assert_close(normalize(mean + std, IMAGENET_MEAN, IMAGENET_STD), torch.ones(1, 3, 2, 2))


def test_resize_shape_range_and_constant_image() -> None:
    x = torch.rand(2, 3, 30, 50)
    y = resize(x, 16, 24)
    assert y.shape == (2, 3, 16, 24) and y.min() >= 0 and y.max() <= 1
    flat = torch.full((1, 3, 30, 50), 0.25)
    torch.testing.assert_close(resize(flat, 7, 9), torch.full((1, 3, 7, 9), 0.25))
    assert resize(x, 30, 50) is x


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_resize_keeps_dtype(dtype) -> None:
    x = torch.rand(1, 3, 20, 20, dtype=torch.float64)
    out = resize(x.to(dtype), 10, 10)
    assert out.dtype == dtype
    if dtype == torch.float64:  # no detour through float32
        assert (out - resize(x.float(), 10, 10).double()).abs().max() > 0


@pytest.mark.parametrize(
    ("hw", "target", "patch", "expected"),
    [((480, 640), 448, 8, (336, 448)), ((640, 480), 448, 14, (448, 336)), ((10, 1000), 64, 8, (8, 64))],
)
def test_patch_grid_size(hw, target, patch, expected) -> None:
    rows, cols = patch_grid_size(*hw, target, patch)
    assert (rows, cols) == expected
    assert rows % patch == 0 and cols % patch == 0


def test_patch_grid_size_rejects_target_below_patch() -> None:
    with pytest.raises(ValueError, match="smaller than the patch"):
        patch_grid_size(100, 100, 4, 8)


def test_check_images() -> None:
    check_images(torch.rand(1, 3, 4, 4), "x")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        check_images(torch.rand(3, 4, 4), "x")
    with pytest.raises(ValueError, match="float"):
        check_images(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "x")
