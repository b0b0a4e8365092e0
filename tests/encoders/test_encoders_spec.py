"""Spec parsing and the registry's errors for unknown kinds and names."""

from __future__ import annotations

from pathlib import Path

import pytest

from lerf3d.encoders import EncoderSpecError, build_dense_encoder, build_image_text_encoder, parse_spec
from lerf3d.encoders.spec import DENSE_KINDS, IMAGE_TEXT_KINDS, EncoderSpec


def test_parse_tag_and_checkpoint() -> None:
    spec = parse_spec("openclip:ViT-B-16/laion2b_s34b_b88k", IMAGE_TEXT_KINDS)
    assert spec == EncoderSpec("openclip", "ViT-B-16", tag="laion2b_s34b_b88k")
    assert str(spec) == "openclip:ViT-B-16/laion2b_s34b_b88k"

    spec = parse_spec("dino:dino_vits8@/models/a@b/dino.pth", DENSE_KINDS)
    assert spec == EncoderSpec("dino", "dino_vits8", checkpoint=Path("/models/a@b/dino.pth"))
    assert str(spec) == "dino:dino_vits8@/models/a@b/dino.pth"


@pytest.mark.parametrize(
    "text",
    ["ViT-B-16", "openclip:", "openclip:ViT-B-16/tag@/ckpt.pt", "lerf3d:tiny/v1"],
)
def test_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(EncoderSpecError):
        parse_spec(text, IMAGE_TEXT_KINDS)


def test_unknown_kind_lists_valid_kinds() -> None:
    with pytest.raises(EncoderSpecError, match="openclip, lerf3d"):
        build_image_text_encoder("clip:ViT-B-16", "cpu")
    with pytest.raises(EncoderSpecError, match="dino, dinov2, lerf3d"):
        build_dense_encoder("openclip:ViT-B-16/openai", "cpu")


def test_unknown_names_list_valid_names() -> None:
    with pytest.raises(EncoderSpecError, match="dino_vits8, dino_vits16"):
        build_dense_encoder("dino:dino_vitg8", "cpu")
    with pytest.raises(EncoderSpecError, match="vits14, vits14_reg"):
        build_dense_encoder("dinov2:vitg14", "cpu")
    with pytest.raises(EncoderSpecError, match="tiny"):
        build_dense_encoder("lerf3d:huge", "cpu")
    with pytest.raises(EncoderSpecError, match="tiny"):
        build_image_text_encoder("lerf3d:huge", "cpu")


def test_spec_error_is_value_error() -> None:
    assert issubclass(EncoderSpecError, ValueError)
