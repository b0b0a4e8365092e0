"""DINO and DINOv2 dense encoders from local checkpoints.

The comparison against timm itself is in test_encoders_dino_timm.py.
"""

from __future__ import annotations

import pytest
import torch
from real_architectures import random_state

from lerf3d.encoders import DenseEncoderConfig, DenseFeatureEncoder, MissingWeightsError, build_dense_encoder
from lerf3d.encoders.dino import DINO_DEFAULT_TARGET_SIZE, DINO_URL, dino_config, dinov2_config
from lerf3d.encoders.preprocess import patch_grid_size

DINOV2_BLOCK_KEYS = {
    "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "ls1.gamma", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",
    "mlp.fc2.bias", "ls2.gamma",
}  # fmt: skip
"""Per-block parameter names of the official DINOv2 release (``dinov2_vits14_pretrain.pth``)."""


@pytest.fixture(scope="module")
def vits16_ckpt(tmp_path_factory):
    """A DINO-style training checkpoint (weights nested under teacher/backbone), stored in float16."""
    path = tmp_path_factory.mktemp("dino") / "dino_vits16.pth"
    state = random_state(dino_config("dino_vits16"))
    torch.save({"teacher": {f"backbone.{k}": v.half() for k, v in state.items()}}, path)
    return path


@pytest.fixture(scope="module")
def small_dino(vits16_ckpt):
    return build_dense_encoder(f"dino:dino_vits16@{vits16_ckpt}", "cpu", config=DenseEncoderConfig(32))


def test_dino_protocol_shapes_dtype_device(vits16_ckpt, device) -> None:
    spec = f"dino:dino_vits16@{vits16_ckpt}"
    enc = build_dense_encoder(spec, device, torch.bfloat16, config=DenseEncoderConfig(target_size=64))
    assert isinstance(enc, DenseFeatureEncoder)
    assert enc.name == f"{spec}|{enc.target_size}px" and enc.feature_dim == 384 and enc.patch_size == 16
    feats = enc.encode_dense(torch.rand(3, 30, 60))  # resized to 32 x 64 pixels: a 2 x 4 grid
    assert feats.shape == (2, 4, 384)
    assert feats.dtype == torch.bfloat16 and feats.device.type == device
    assert torch.isfinite(feats.float()).all()


def test_dino_batch_matches_single(small_dino) -> None:
    small = small_dino
    assert small.dtype == torch.float32 and next(small.backbone.parameters()).dtype == torch.float32
    batch = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(small.encode_dense_batch(batch)[1], small.encode_dense(batch[1]))
    with pytest.raises(ValueError, match=r"one \(3, H, W\) image"):
        small.encode_dense(batch)


def test_dino_default_target_size() -> None:
    assert patch_grid_size(480, 640, DINO_DEFAULT_TARGET_SIZE, 8) == (336, 448)


def test_dino_uses_torch_hub_cache_and_never_downloads(vits16_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(MissingWeightsError, match="allow_download=True"):
        build_dense_encoder("dino:dino_vits16", "cpu")
    cached = tmp_path / "checkpoints" / DINO_URL.format(stem="dino_deitsmall16").rsplit("/", 1)[1]
    cached.parent.mkdir()
    cached.write_bytes(vits16_ckpt.read_bytes())
    enc = build_dense_encoder("dino:dino_vits16", "cpu", config=DenseEncoderConfig(target_size=32))
    assert enc.encode_dense(torch.rand(3, 32, 32)).shape == (2, 2, 384)


def test_dino_wrong_architecture_or_missing_file(vits16_ckpt, tmp_path) -> None:
    with pytest.raises(ValueError, match="does not match"):
        build_dense_encoder(f"dino:dino_vitb16@{vits16_ckpt}", "cpu")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build_dense_encoder(f"dino:dino_vits16@{tmp_path / 'none.pth'}", "cpu")


def test_dinov2_official_keys_and_registers(tmp_path) -> None:
    cfg = dinov2_config("vits14_reg")
    state = random_state(cfg)
    assert {k.split(".", 2)[2] for k in state if k.startswith("blocks.0.")} == DINOV2_BLOCK_KEYS
    assert {k for k in state if not k.startswith("blocks.")} == {
        "cls_token", "pos_embed", "register_tokens", "patch_embed.proj.weight", "patch_embed.proj.bias",
        "norm.weight", "norm.bias",
    }  # fmt: skip
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 384)
    # The official files also hold mask_token (used only in training): it must be accepted.
    torch.save({**state, "mask_token": torch.zeros(1, 384)}, tmp_path / "v2.pth")
    spec = f"dinov2:vits14_reg@{tmp_path / 'v2.pth'}"
    enc = build_dense_encoder(spec, "cpu", config=DenseEncoderConfig(target_size=70))
    assert isinstance(enc, DenseFeatureEncoder) and enc.num_registers == 4
    assert enc.encode_dense(torch.rand(3, 28, 70)).shape == (2, 5, 384)


def test_dinov2_missing_weights_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(MissingWeightsError, match=r"dinov2_vits14_pretrain\.pth.*dinov2:vits14@"):
        build_dense_encoder("dinov2:vits14", "cpu")
