"""Dense DINO maps: extraction shape, bilinear sampling between patch centres."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerf3d.features.dino import DinoMap, dino_from_arrays, dino_to_arrays, extract_dino_map, sample_dino_map
from lerf3d.features.pyramid import image_to_tensor


def test_extract_shape_and_storage(image_maker, dense_encoder):
    dino = extract_dino_map(image_to_tensor(image_maker(48, 64, seed=0), "cpu"), dense_encoder)
    assert tuple(dino.features.shape) == (6, 8, 8)  # 48/8 x 64/8 patches of the test encoder
    assert dino.features.dtype == torch.float16 and dino.feature_dim == 8
    assert (dino.image_height, dino.image_width) == (48, 64)
    again = dino_from_arrays(dino_to_arrays(dino))
    assert torch.equal(again.features, dino.features)


def test_sampling_between_patch_centres():
    # a 2 x 3 map over a 20 x 30 image: centres at x = 5, 15, 25 and y = 5, 15; value = 10 * row + col
    features = torch.tensor([[[0.0], [1.0], [2.0]], [[10.0], [11.0], [12.0]]])
    dino = DinoMap(features, image_height=20, image_width=30)
    pixels = torch.tensor([[5.0, 5.0], [10.0, 5.0], [20.0, 10.0], [0.0, 0.0], [30.0, 20.0]])
    out = sample_dino_map(dino, pixels)[:, 0].numpy()
    # (20, 10): halfway between columns 1 and 2 (1.5) and rows 0 and 1 (+5) -> 6.5
    np.testing.assert_allclose(out, [0.0, 0.5, 6.5, 0.0, 12.0], atol=1e-6)


class _WrongShapeEncoder:
    name = "test:wrong"
    feature_dim = 4

    def encode_dense(self, image: torch.Tensor) -> torch.Tensor:
        return torch.zeros(2, 2, 3)


def test_encoder_returning_the_wrong_dimension_is_refused():
    with pytest.raises(ValueError, match=r"expected \(h, w, 4\)"):
        extract_dino_map(torch.zeros(3, 8, 8), _WrongShapeEncoder())
