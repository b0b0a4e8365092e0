"""Crop pyramid extraction: crops reach the encoder intact, batching does not change results."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lerf3d.features.pyramid import (
    STORAGE_DTYPE,
    extract_pyramid,
    extract_pyramid_one_by_one,
    image_to_tensor,
    pyramid_from_arrays,
    pyramid_to_arrays,
)
from lerf3d.features.tiling import PyramidConfig, pyramid_layout

HALF_ATOL = 2e-3
"""float16 storage rounds unit-vector components by up to ~5e-4; batching adds float32 noise."""


@pytest.fixture
def image(image_maker) -> torch.Tensor:
    return image_to_tensor(image_maker(48, 64, seed=3), "cpu")


def test_image_to_tensor_layout_and_range():
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[1, 2] = (255, 0, 51)
    tensor = image_to_tensor(rgb, "cpu")
    assert tensor.shape == (3, 2, 3)
    torch.testing.assert_close(tensor[:, 1, 2], torch.tensor([1.0, 0.0, 0.2]))
    with pytest.raises(ValueError, match="uint8"):
        image_to_tensor(rgb.astype(np.float32), "cpu")


def test_pyramid_matches_layout_and_is_unit_norm(image, image_text_encoder):
    pyramid = extract_pyramid(image, image_text_encoder, PyramidConfig(), batch_size=32)
    layouts = pyramid_layout(PyramidConfig(), 48, 64)
    assert pyramid.num_levels == 7 and (pyramid.image_height, pyramid.image_width) == (48, 64)
    assert pyramid.tile_pixels == (2, 6, 10, 13, 17, 20, 24)  # round(f * 48) per level
    total = 0
    for level, layout in zip(pyramid.levels, layouts):
        assert tuple(level.embeddings.shape) == (*layout.grid_shape, 16)
        assert level.embeddings.dtype == STORAGE_DTYPE
        np.testing.assert_array_equal(level.centres_x.numpy(), layout.centres_x)
        norms = level.embeddings.float().norm(dim=-1)
        torch.testing.assert_close(norms, torch.ones_like(norms), atol=HALF_ATOL, rtol=0)
        total += layout.num_crops
    assert image_text_encoder.images == total
    assert image_text_encoder.calls == math.ceil(total / 32)  # batches run across level borders


def test_each_embedding_is_its_own_crop(image, image_text_encoder):
    pyramid = extract_pyramid(image, image_text_encoder, PyramidConfig(), batch_size=7)
    layouts = pyramid_layout(PyramidConfig(), 48, 64)
    size = image_text_encoder.input_size
    for level_index, (i, j) in [(0, (3, 5)), (3, (2, 1)), (6, (1, 2))]:
        layout = layouts[level_index]
        y0, x0, t = layout.origins_y[i], layout.origins_x[j], layout.tile_pixels
        crop = image[None, :, y0 : y0 + t, x0 : x0 + t]
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        expected = image_text_encoder.encode_image(crop)[0]
        got = pyramid.levels[level_index].embeddings[i, j].float()
        torch.testing.assert_close(got, expected, atol=HALF_ATOL, rtol=0)


def test_batch_size_does_not_change_the_result(image, image_text_encoder):
    reference = extract_pyramid_one_by_one(image, image_text_encoder, PyramidConfig())
    for batch_size in (1, 5, 1000):
        pyramid = extract_pyramid(image, image_text_encoder, PyramidConfig(), batch_size=batch_size)
        for a, b in zip(reference.levels, pyramid.levels):
            torch.testing.assert_close(a.embeddings.float(), b.embeddings.float(), atol=HALF_ATOL, rtol=0)


def test_arrays_round_trip_exactly(image, image_text_encoder):
    pyramid = extract_pyramid(image, image_text_encoder, PyramidConfig(num_levels=3))
    again = pyramid_from_arrays(pyramid_to_arrays(pyramid))
    assert again.tile_fractions == pyramid.tile_fractions and again.tile_pixels == pyramid.tile_pixels
    for a, b in zip(pyramid.levels, again.levels):
        assert torch.equal(a.embeddings, b.embeddings)
        assert torch.equal(a.centres_y, b.centres_y)


def test_rejects_bad_batch_size(image, image_text_encoder):
    with pytest.raises(ValueError, match="batch_size"):
        extract_pyramid(image, image_text_encoder, PyramidConfig(), batch_size=0)
