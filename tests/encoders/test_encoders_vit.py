"""The plain-torch ViT: positional-embedding resampling, token layout, registers."""

from __future__ import annotations

import pytest
import torch

from lerf3d.encoders.vit import ViT, ViTConfig, resample_pos_embed

TINY = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)


def test_resample_pos_embed_identity_and_shape() -> None:
    pos = torch.randn(1, 16, 5)
    assert resample_pos_embed(pos, 4, 4) is pos
    assert resample_pos_embed(pos, 3, 6).shape == (1, 18, 5)
    constant = torch.ones(1, 16, 5)
    torch.testing.assert_close(resample_pos_embed(constant, 7, 2), torch.ones(1, 14, 5))
    with pytest.raises(ValueError, match="square"):
        resample_pos_embed(torch.randn(1, 15, 5), 2, 2)


def test_patch_tokens_follow_the_image_grid() -> None:
    torch.manual_seed(0)
    vit = ViT(TINY).eval()
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        grid = vit.patch_tokens(x)
        assert grid.shape == (1, 3, 5, 32)
        # Changing the top-left patch changes the token sequence; the grid keeps row-major order.
        y = x.clone()
        y[..., :8, :8] = 0
        changed = (vit.patch_tokens(y) - grid).abs().sum(-1)[0]
    assert changed.argmax() == 0


def test_registers_are_prefix_tokens() -> None:
    cfg = ViTConfig(**{**TINY.__dict__, "num_registers": 4, "layer_scale_init": 1e-5})
    vit = ViT(cfg).eval()
    assert vit.register_tokens.shape == (1, 4, 32)
    assert "blocks.0.ls1.gamma" in vit.state_dict()
    with torch.no_grad():
        tokens = vit.forward_tokens(torch.rand(2, 3, 16, 16))
        assert tokens.shape == (2, 1 + 4 + 4, 32)
        assert vit.patch_tokens(torch.rand(2, 3, 16, 16)).shape == (2, 2, 2, 32)


def test_rejects_non_multiple_sizes_and_bad_heads() -> None:
    with pytest.raises(ValueError, match="multiple of the patch size"):
        ViT(TINY)(torch.rand(1, 3, 20, 16))
    with pytest.raises(ValueError, match="divisible"):
        ViT(ViTConfig(embed_dim=30, num_heads=4, depth=1))
