"""Crop pyramid geometry: tile sizes, strides, crop windows."""

from __future__ import annotations

import numpy as np
import pytest

from lerf3d.features.tiling import (
    PyramidConfig,
    pyramid_layout,
    stride_ratio,
    tile_side_pixels,
    window_origins,
)


def test_default_tile_fractions_are_lerfs_seven_sizes():
    np.testing.assert_allclose(
        PyramidConfig().tile_fractions(), [0.05, 0.125, 0.2, 0.275, 0.35, 0.425, 0.5], atol=1e-12
    )


def test_stride_ratio_ramps_from_one_to_half_over_small_tiles():
    config = PyramidConfig()
    assert stride_ratio(0.05, config) == pytest.approx(1.0)
    assert stride_ratio(0.125, config) == pytest.approx(0.625)  # 3/4 of the way from 0.05 to 0.15
    assert stride_ratio(0.15, config) == pytest.approx(0.5)
    assert stride_ratio(0.5, config) == pytest.approx(0.5)
    assert stride_ratio(0.01, config) == pytest.approx(1.0)  # clamped below the ramp


def test_layout_of_a_vga_image():
    layouts = pyramid_layout(PyramidConfig(), height=480, width=640)
    assert [lv.tile_pixels for lv in layouts] == [24, 60, 96, 132, 168, 204, 240]
    # rows = ceil((480 - t) / s) + 1, cols likewise with 640: t=24, s=24 -> 20 x 27
    assert layouts[0].grid_shape == (20, 27)
    # t=60, s=0.625*60=37.5 -> ceil(420/37.5)+1 = 13, ceil(580/37.5)+1 = 17
    assert layouts[1].grid_shape == (13, 17)
    # t=240, s=120 -> ceil(240/120)+1 = 3, ceil(400/120)+1 = 5
    assert layouts[6].grid_shape == (3, 5)
    assert layouts[0].num_crops == 540


@pytest.mark.parametrize("height,width", [(480, 640), (48, 64), (97, 31), (20, 20)])
def test_windows_lie_inside_the_image_and_cover_it(height, width):
    for layout in pyramid_layout(PyramidConfig(), height, width):
        t = layout.tile_pixels
        for origins, length in ((layout.origins_x, width), (layout.origins_y, height)):
            assert origins[0] == 0 and origins[-1] == length - t  # first and last window touch the borders
            assert np.all(np.diff(origins) > 0) or len(origins) == 1
            # rounding to whole pixels may add at most one pixel to the nominal stride
            assert np.all(np.diff(origins) <= layout.stride_ratio * t + 1)
        assert np.all((layout.centres_x > 0) & (layout.centres_x < width))
        assert np.all((layout.centres_y > 0) & (layout.centres_y < height))


def test_window_origins_exact_fit_and_single_window():
    np.testing.assert_array_equal(window_origins(100, 20, 20.0), [0, 20, 40, 60, 80])
    np.testing.assert_array_equal(window_origins(100, 20, 30.0), [0, 27, 53, 80])  # 80/3 spacing
    np.testing.assert_array_equal(window_origins(20, 20, 10.0), [0])
    with pytest.raises(ValueError, match="tile side"):
        window_origins(10, 11, 5.0)


def test_tile_side_is_clamped_to_the_shorter_side():
    assert tile_side_pixels(0.5, height=100, width=30) == 30
    assert tile_side_pixels(0.001, height=100, width=100) == 1
    assert tile_side_pixels(0.125, height=480, width=640) == 60


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"num_levels": 0}, "num_levels"),
        ({"min_tile_fraction": 0.6}, "tile fractions"),
        ({"max_tile_fraction": 1.5}, "tile fractions"),
        ({"min_tile_fraction": 0.2, "max_tile_fraction": 0.2}, "levels need"),
        ({"large_stride_ratio": 1.5}, "large_stride_ratio"),
        ({"stride_ramp": (0.2, 0.1)}, "stride_ramp"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PyramidConfig(**kwargs)


def test_single_level_pyramid():
    config = PyramidConfig(num_levels=1, min_tile_fraction=0.25, max_tile_fraction=0.25)
    assert config.tile_fractions() == (0.25,)
