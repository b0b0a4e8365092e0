"""lerf3d.encoders: image-text (CLIP-style) and dense (DINO-style) encoders built from spec strings.

>>> clip = build_image_text_encoder("openclip:ViT-B-16/laion2b_s34b_b88k", device="cpu")  # doctest: +SKIP
>>> dino = build_dense_encoder("dino:dino_vits8@/models/dino.pth", device="cpu")  # doctest: +SKIP

open_clip, transformers and the MiniLM package are imported only by the builders that need them.
"""

from lerf3d.lazy import lazy_attributes

_EXPORTS = {
    "DEFAULT_DENSE_SPEC": "spec",
    "DEFAULT_IMAGE_TEXT_SPEC": "spec",
    "DenseEncoderConfig": "dense",
    "DenseFeatureEncoder": "base",
    "EncoderSpec": "spec",
    "EncoderSpecError": "spec",
    "ImageTextEncoder": "base",
    "MissingWeightsError": "checkpoints",
    "ViTDenseEncoder": "dense",
    "build_dense_encoder": "registry",
    "build_image_text_encoder": "registry",
    "parse_spec": "spec",
    "spec_of_name": "spec",
}
"""Public name -> the sub-module defining it (imported on first use: ``spec`` needs no torch)."""
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
