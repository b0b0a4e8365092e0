"""OpenCLIP encoder: a tiny random-weight model of the CLIP family loaded through the spec."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from lerf3d.encoders import ImageTextEncoder, MissingWeightsError, build_image_text_encoder
from lerf3d.encoders.spec import EncoderSpecError

open_clip = pytest.importorskip("open_clip")

TINY_NAME = "lerf3d-test-ViT-tiny"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
"""ViT-B-16's config family (open_clip ``model_configs/ViT-B-16.json``), shrunk to run in milliseconds."""


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """Register the tiny config with open_clip and save a random-weight checkpoint of it."""
    folder = tmp_path_factory.mktemp("openclip")
    (folder / f"{TINY_NAME}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / f"{TINY_NAME}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_NAME, pretrained=None)
    path = folder / "tiny.pt"
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    return path, model.eval()


@pytest.fixture(scope="module")
def encoder(tiny_ckpt):
    return build_image_text_encoder(f"openclip:{TINY_NAME}@{tiny_ckpt[0]}", "cpu")


def test_protocol_and_attributes(encoder, tiny_ckpt) -> None:
    assert isinstance(encoder, ImageTextEncoder)
    assert encoder.name == f"openclip:{TINY_NAME}@{tiny_ckpt[0]}"
    assert encoder.embedding_dim == 32 and encoder.input_size == 32


def test_image_embeddings_match_open_clip(encoder, tiny_ckpt, images) -> None:
    out = encoder.encode_image(images)
    assert out.shape == (2, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(2))
    # Reference: open_clip's own model on a 32 px resize with CLIP normalisation.
    resized = F.interpolate(images, size=(32, 32), mode="bicubic", align_corners=False, antialias=True)
    resized = resized.clamp(0, 1)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = F.normalize(tiny_ckpt[1].encode_image((resized - mean) / std), dim=-1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_text_embeddings_match_open_clip_and_are_cached(encoder, tiny_ckpt) -> None:
    phrases = ["a chair", "a bathtub", "a chair"]
    out = encoder.encode_text(phrases)
    assert out.shape == (3, 32)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
    tokens = open_clip.get_tokenizer(TINY_NAME)(phrases)
    with torch.no_grad():
        ref = F.normalize(tiny_ckpt[1].encode_text(tokens), dim=-1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    misses = encoder._text_cache.misses
    encoder.encode_text(["a bathtub"])
    assert encoder._text_cache.misses == misses


def test_dtype_and_device_honoured(tiny_ckpt, device, images) -> None:
    enc = build_image_text_encoder(f"openclip:{TINY_NAME}@{tiny_ckpt[0]}", device, torch.float64)
    img, txt = enc.encode_image(images), enc.encode_text(["lamp"])
    for out in (img, txt):
        assert out.dtype == torch.float64 and out.device.type == device
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(len(out), dtype=torch.float64, device=device))


def test_spec_errors(tiny_ckpt, tmp_path) -> None:
    with pytest.raises(EncoderSpecError, match="closest: .*ViT-B-16"):
        build_image_text_encoder("openclip:ViT-B-61@x.pt", "cpu")
    with pytest.raises(EncoderSpecError, match="names no weights"):
        build_image_text_encoder("openclip:ViT-B-16", "cpu")
    with pytest.raises(EncoderSpecError, match="laion2b_s34b_b88k"):
        build_image_text_encoder("openclip:ViT-B-16/not_a_tag", "cpu")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build_image_text_encoder(f"openclip:{TINY_NAME}@{tmp_path / 'missing.pt'}", "cpu")


def test_pretrained_tag_absent_from_cache_is_a_clear_error(tmp_path, monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(MissingWeightsError, match="Download them once with internet"):
        build_image_text_encoder("openclip:ViT-B-16/laion2b_s34b_b88k", "cpu")


def test_cached_pretrained_file_finds_hub_and_url_caches(tmp_path, monkeypatch) -> None:
    import huggingface_hub.constants

    from lerf3d.encoders.openclip import cached_pretrained_file

    hub = tmp_path / "hf"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cached_pretrained_file("ViT-B-16", "laion2b_s34b_b88k") is None
    # The Hugging Face cache layout: refs/main names the snapshot holding the file.
    repo = hub / "models--laion--CLIP-ViT-B-16-laion2B-s34B-b88K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    weights = repo / "snapshots" / "abc123" / "open_clip_model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"0")
    assert cached_pretrained_file("ViT-B-16", "laion2b_s34b_b88k") == weights
    # Tags with a URL may also sit in open_clip's URL cache, under the URL's file name.
    url = open_clip.get_pretrained_cfg("ViT-B-16", "openai")["url"]
    local = tmp_path / "home" / ".cache" / "clip" / url.rsplit("/", 1)[1]
    local.parent.mkdir(parents=True)
    local.write_bytes(b"0")
    assert cached_pretrained_file("ViT-B-16", "openai") == local
