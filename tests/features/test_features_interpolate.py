"""Sampling the pyramid: bilinear within a level, linear across levels, unit norm; scale maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerf3d.features.interpolate import (
    bilinear_by_gathers,
    bilinear_by_grid_sample,
    bilinear_grid_sample,
    level_from_tile_fraction,
    level_from_world_scale,
    level_weights,
    sample_pyramid,
    tile_fraction_from_level,
    tile_fraction_from_world_scale,
    world_scale_from_level,
    world_scale_from_tile_fraction,
)
from lerf3d.features.pyramid import FeaturePyramid, PyramidLevel
from lerf3d.features.tiling import PyramidConfig

E00, E01, E10, E11 = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.6, 0.8, 0.0)
COARSE = (0.0, 0.0, 1.0)


@pytest.fixture
def hand_pyramid() -> FeaturePyramid:
    """Level 0: 2 x 2 centres at x in {10, 30}, y in {10, 20}; level 1: one centre at (20, 15)."""
    fine = PyramidLevel(
        tile_fraction=0.1,
        tile_pixels=4,
        centres_x=torch.tensor([10.0, 30.0]),
        centres_y=torch.tensor([10.0, 20.0]),
        embeddings=torch.tensor([[E00, E01], [E10, E11]]),
    )
    coarse = PyramidLevel(0.3, 12, torch.tensor([20.0]), torch.tensor([15.0]), torch.tensor([[COARSE]]))
    return FeaturePyramid((fine, coarse), image_height=40, image_width=40)


def test_bilinear_and_level_blend_by_hand(hand_pyramid):
    # pixel (15, 12.5): tx = (15-10)/20 = 0.25, ty = (12.5-10)/10 = 0.25
    # top    = 0.75*E00 + 0.25*E01 = (0.75, 0.25, 0)
    # bottom = 0.75*E10 + 0.25*E11 = (0.15, 0.2, 0.75)
    # fine   = 0.75*top + 0.25*bottom = (0.6, 0.2375, 0.1875)
    # level 0.4: 0.6*fine + 0.4*COARSE = (0.36, 0.1425, 0.5125), then normalised
    out = sample_pyramid(hand_pyramid, torch.tensor([[15.0, 12.5]]), torch.tensor([0.4]))
    blend = np.array([0.36, 0.1425, 0.5125])
    np.testing.assert_allclose(out[0].numpy(), blend / np.linalg.norm(blend), atol=1e-6)
    np.testing.assert_allclose(out[0].numpy(), [0.560477, 0.221855, 0.797901], atol=1e-6)


def test_level_weights_by_hand():
    weights = level_weights(torch.tensor([-0.5, 0.0, 0.25, 1.0, 1.75, 2.0, 9.0]), 3)
    expected = torch.tensor([
        [1.0, 0.0, 0.0],    # below the pyramid: clamped to level 0
        [1.0, 0.0, 0.0],
        [0.75, 0.25, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.25, 0.75],
        [0.0, 0.0, 1.0],    # the top level alone (its "upper" neighbour is itself)
        [0.0, 0.0, 1.0],    # above: clamped to the top
    ])
    torch.testing.assert_close(weights, expected)


def test_bilinear_within_one_level_by_hand(hand_pyramid):
    level = hand_pyramid.levels[0]
    pixel = torch.tensor([[15.0, 12.5]])
    raw = bilinear_grid_sample(level.embeddings, level.centres_y, level.centres_x, pixel)
    np.testing.assert_allclose(raw[0].numpy(), [0.6, 0.2375, 0.1875], atol=1e-6)


def test_centres_and_clamping(hand_pyramid):
    pixels = torch.tensor([[10.0, 10.0], [30.0, 20.0], [0.0, 0.0], [39.0, 39.0], [0.0, 39.0], [25.0, 12.5]])
    levels = torch.tensor([0.0, 0.0, 0.0, -3.0, 0.0, 7.0])
    out = sample_pyramid(hand_pyramid, pixels, levels).numpy()
    np.testing.assert_allclose(out[0], E00, atol=1e-6)  # exactly on a centre
    np.testing.assert_allclose(out[1], E11, atol=1e-6)
    np.testing.assert_allclose(out[2], E00, atol=1e-6)  # outside the centres: clamped to the corner
    np.testing.assert_allclose(out[3], E11, atol=1e-6)  # level below 0 -> level 0
    np.testing.assert_allclose(out[4], E10, atol=1e-6)
    np.testing.assert_allclose(out[5], COARSE, atol=1e-6)  # level above the top -> the top level


def test_uneven_centres():
    grid = torch.tensor([[[0.0], [10.0], [40.0]]])  # (1, 3, 1): value = x position of the centre
    pixels = torch.tensor([[25.0, 5.0], [5.0, 5.0], [-4.0, 9.0]])
    out = bilinear_grid_sample(grid, torch.tensor([5.0]), torch.tensor([0.0, 10.0, 40.0]), pixels)
    np.testing.assert_allclose(out[:, 0].numpy(), [25.0, 5.0, 0.0], atol=1e-6)


def test_bilinear_reproduces_an_affine_field_on_uneven_centres_by_either_kernel():
    """Bilinear interpolation is exact for values affine in x and y, and clamps outside the
    centres, by either kernel, with fewer samples than nodes and with more."""
    cx, cy = torch.tensor([0.0, 10.0, 40.0]), torch.tensor([5.0, 6.0, 20.0])
    gy, gx = torch.meshgrid(cy, cx, indexing="ij")
    grid = torch.stack([gx, gy, gx + 2 * gy], dim=-1)  # (3, 3, 3)
    generator = torch.Generator().manual_seed(1)
    pixels = torch.rand(500, 2, generator=generator) * torch.tensor([50.0, 25.0]) - torch.tensor([5.0, 0.0])
    x, y = pixels[:, 0].clamp(0.0, 40.0), pixels[:, 1].clamp(5.0, 20.0)
    expected = torch.stack([x, y, x + 2 * y], dim=-1)
    for kernel in (bilinear_grid_sample, bilinear_by_gathers, bilinear_by_grid_sample):
        for count in (9, 500):
            torch.testing.assert_close(kernel(grid, cy, cx, pixels[:count]), expected[:count], atol=1e-4, rtol=0)
    one_row = grid[:1]  # a single row of nodes: y plays no part
    torch.testing.assert_close(bilinear_by_grid_sample(one_row, cy[:1], cx, pixels),
                               bilinear_by_gathers(one_row, cy[:1], cx, pixels), atol=1e-4, rtol=0)


def test_random_samples_are_unit_norm():
    generator = torch.Generator().manual_seed(0)
    levels = []
    for fraction, gh, gw in ((0.1, 5, 7), (0.2, 3, 4), (0.3, 1, 2)):
        grid = torch.nn.functional.normalize(torch.randn(gh, gw, 8, generator=generator), dim=-1).half()
        levels.append(PyramidLevel(fraction, 1, torch.linspace(0, 60, gw), torch.linspace(0, 40, gh), grid))
    pyramid = FeaturePyramid(tuple(levels), 40, 60)
    pixels = torch.rand(200, 2, generator=generator) * torch.tensor([60.0, 40.0])
    out = sample_pyramid(pyramid, pixels, torch.rand(200, generator=generator) * 2)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(200), atol=1e-5, rtol=0)


def test_pyramid_validation():
    level = PyramidLevel(0.1, 1, torch.zeros(2), torch.zeros(3), torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="increasing tile fraction"):
        FeaturePyramid((level, level), 10, 10)
    with pytest.raises(ValueError, match="do not match"):
        PyramidLevel(0.1, 1, torch.zeros(2), torch.zeros(3), torch.zeros(2, 3, 4))


def test_world_scale_formula_and_inverse():
    # docs/architecture.md: scale = tile_fraction * H * depth / f_y = 0.2 * 480 * 2.0 / 600 = 0.32 m
    scale = world_scale_from_tile_fraction(torch.tensor([0.2]), torch.tensor([2.0]), fy=600.0, height=480)
    np.testing.assert_allclose(scale.numpy(), [0.32], rtol=1e-6)
    back = tile_fraction_from_world_scale(scale, torch.tensor([2.0]), fy=600.0, height=480)
    np.testing.assert_allclose(back.numpy(), [0.2], rtol=1e-6)


def test_levels_and_tile_fractions():
    fractions = PyramidConfig().tile_fractions()
    level = level_from_tile_fraction(torch.tensor([0.05, 0.125, 0.1625, 0.5, 0.01, 0.9]), fractions)
    np.testing.assert_allclose(level.numpy(), [0.0, 1.0, 1.5, 6.0, 0.0, 6.0], atol=1e-6)
    fraction = tile_fraction_from_level(torch.tensor([1.5, 6.0]), fractions)
    np.testing.assert_allclose(fraction.numpy(), [0.1625, 0.5], atol=1e-6)
    # a 0.48 m object at 3 m seen with f_y = 600 on a 480-pixel image spans 0.2 of H: level 2
    depth = torch.tensor([3.0])
    level = level_from_world_scale(torch.tensor([0.48]), depth, 600.0, 480, fractions)
    np.testing.assert_allclose(level.numpy(), [2.0], atol=1e-5)
    scale = world_scale_from_level(level, depth, 600.0, 480, fractions)
    np.testing.assert_allclose(scale.numpy(), [0.48], atol=1e-6)
