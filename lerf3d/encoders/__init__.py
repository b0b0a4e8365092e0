"""lerf3d.encoders: image-text (CLIP-style) and dense (DINO-style) encoders built from spec strings.

>>> clip = build_image_text_encoder("openclip:ViT-B-16/laion2b_s34b_b88k", device="cpu")  # doctest: +SKIP
>>> dino = build_dense_encoder("dino:dino_vits8@/models/dino.pth", device="cpu")  # doctest: +SKIP

open_clip, transformers and the MiniLM package are imported only by the builders that need them.
"""

from lerf3d.encoders.base import DenseFeatureEncoder, ImageTextEncoder
from lerf3d.encoders.checkpoints import MissingWeightsError
from lerf3d.encoders.dense import DenseEncoderConfig, ViTDenseEncoder
from lerf3d.encoders.registry import build_dense_encoder, build_image_text_encoder
from lerf3d.encoders.spec import (
    DEFAULT_DENSE_SPEC,
    DEFAULT_IMAGE_TEXT_SPEC,
    EncoderSpec,
    EncoderSpecError,
    parse_spec,
    spec_of_name,
)

__all__ = [
    "DEFAULT_DENSE_SPEC",
    "DEFAULT_IMAGE_TEXT_SPEC",
    "DenseEncoderConfig",
    "DenseFeatureEncoder",
    "EncoderSpec",
    "EncoderSpecError",
    "ImageTextEncoder",
    "MissingWeightsError",
    "ViTDenseEncoder",
    "build_dense_encoder",
    "build_image_text_encoder",
    "parse_spec",
    "spec_of_name",
]
