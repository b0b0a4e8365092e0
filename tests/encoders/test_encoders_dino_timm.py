"""Our ViT against timm's: timm DINO checkpoints load through the spec and give timm's features."""

from __future__ import annotations

import sys

import pytest
import torch

from lerf3d.encoders import DenseEncoderConfig, build_dense_encoder
from lerf3d.encoders.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize
from lerf3d.encoders.vit import ViT, ViTConfig


@pytest.fixture(scope="module")
def vision_transformer():
    """timm's VisionTransformer class (imported once; timm 0.6.7 also imports the optional wandb
    logger, which takes seconds and which these tests never use)."""
    saved = sys.modules.get("wandb", "absent")
    sys.modules["wandb"] = None  # makes `import wandb` fail fast inside timm's optional import
    try:
        timm_vit = pytest.importorskip("timm.models.vision_transformer")
    finally:
        if saved == "absent":
            del sys.modules["wandb"]
        else:
            sys.modules["wandb"] = saved
    return timm_vit.VisionTransformer


def test_tiny_timm_vit_equals_ours(vision_transformer) -> None:
    torch.manual_seed(0)
    timm_model = vision_transformer(
        img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, num_classes=0, init_values=1e-2
    ).eval()
    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, layer_scale_init=1e-2)
    ours = ViT(cfg)
    ours.load_state_dict(timm_model.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = timm_model.forward_features(x)
        torch.testing.assert_close(ours.eval().forward_tokens(x), expected, atol=1e-5, rtol=1e-4)


def test_random_timm_dino_checkpoint_through_the_spec(vision_transformer, tmp_path) -> None:
    # The shape of timm's vit_small_patch16_224_dino; 'skip' keeps torch's default (random) init.
    timm_model = vision_transformer(
        patch_size=16, embed_dim=384, depth=12, num_heads=6, num_classes=0, weight_init="skip"
    ).eval()
    torch.nn.init.normal_(timm_model.pos_embed, std=0.02)
    torch.save(timm_model.state_dict(), tmp_path / "dino.pth")
    enc = build_dense_encoder(
        f"dino:dino_vits16@{tmp_path / 'dino.pth'}", "cpu", config=DenseEncoderConfig(target_size=224)
    )
    image = torch.rand(3, 224, 224)
    with torch.no_grad():
        tokens = timm_model.forward_features(normalize(image[None], IMAGENET_MEAN, IMAGENET_STD))
    expected = tokens[0, 1:].reshape(14, 14, 384)  # (h, w, D)
    torch.testing.assert_close(enc.encode_dense(image), expected, atol=1e-4, rtol=1e-4)
