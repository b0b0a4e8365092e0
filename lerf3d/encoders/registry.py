"""Build encoders from spec strings: the one entry point the rest of lerf3d uses.

Nothing here downloads weights unless the caller passes ``allow_download=True``; a missing file
raises :class:`~lerf3d.encoders.checkpoints.MissingWeightsError` saying how to get it.
"""

from __future__ import annotations

import torch

from lerf3d.encoders.base import DenseFeatureEncoder, ImageTextEncoder
from lerf3d.encoders.dense import DenseEncoderConfig
from lerf3d.encoders.phrase_cache import DEFAULT_PHRASE_CACHE_SIZE
from lerf3d.encoders.spec import (
    DENSE_KINDS,
    IMAGE_TEXT_KINDS,
    KIND_DINO,
    KIND_DINOV2,
    KIND_LERF3D,
    KIND_OPENCLIP,
    LERF3D_NAMES,
    EncoderSpec,
    parse_spec,
    unknown_name_error,
)


def _check_lerf3d_name(spec: EncoderSpec) -> None:
    if spec.name not in LERF3D_NAMES:
        raise unknown_name_error(spec, LERF3D_NAMES)


def build_image_text_encoder(
    spec: str,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    *,
    allow_download: bool = False,
    text_cache_size: int = DEFAULT_PHRASE_CACHE_SIZE,
) -> ImageTextEncoder:
    """An ImageTextEncoder for ``openclip:NAME/TAG``, ``openclip:NAME@ckpt`` or ``lerf3d:tiny[@path]``.

    EncoderSpecError (a ValueError) lists the valid kinds or names when the spec is unknown.
    """
    parsed = parse_spec(spec, IMAGE_TEXT_KINDS)
    if parsed.kind == KIND_OPENCLIP:
        from lerf3d.encoders.openclip import build_openclip

        return build_openclip(parsed, device, dtype, allow_download, text_cache_size)
    assert parsed.kind == KIND_LERF3D, parsed.kind
    _check_lerf3d_name(parsed)
    from lerf3d.encoders.tiny import build_tiny_image_text

    return build_tiny_image_text(parsed, device, dtype, text_cache_size)


def build_dense_encoder(
    spec: str,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    *,
    config: DenseEncoderConfig | None = None,
    allow_download: bool = False,
) -> DenseFeatureEncoder:
    """A DenseFeatureEncoder for ``dino:NAME[@ckpt]``, ``dinov2:NAME[@ckpt]`` or ``lerf3d:tiny[@path]``."""
    parsed = parse_spec(spec, DENSE_KINDS)
    target_size = (config or DenseEncoderConfig()).target_size
    if parsed.kind == KIND_DINO:
        from lerf3d.encoders.dino import build_dino

        return build_dino(parsed, device, dtype, target_size, allow_download)
    if parsed.kind == KIND_DINOV2:
        from lerf3d.encoders.dino import build_dinov2

        return build_dinov2(parsed, device, dtype, target_size, allow_download)
    assert parsed.kind == KIND_LERF3D, parsed.kind
    _check_lerf3d_name(parsed)
    from lerf3d.encoders.tiny import build_tiny_dense

    return build_tiny_dense(parsed, device, dtype, target_size)
