"""Encoder spec strings: ``kind:name[/tag][@checkpoint]`` parsed into a frozen dataclass.

Examples::

    openclip:ViT-B-16/laion2b_s34b_b88k     open_clip config + pretrained tag (local cache only)
    openclip:ViT-B-16@/models/clip.pt       open_clip config + local checkpoint
    dino:dino_vits8                          timm ViT-S/8, weights from timm's local cache
    dino:dino_vits8@/models/dino.pth         ... or from a local checkpoint
    dinov2:vits14@/models/dinov2_vits14.pth  plain-torch DINOv2 ViT-S/14
    lerf3d:tiny                              embedded towers shipped in ``lerf3d/weights``
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

KIND_OPENCLIP = "openclip"
KIND_DINO = "dino"
KIND_DINOV2 = "dinov2"
KIND_LERF3D = "lerf3d"

IMAGE_TEXT_KINDS = (KIND_OPENCLIP, KIND_LERF3D)
"""Kinds that build an ImageTextEncoder."""
DENSE_KINDS = (KIND_DINO, KIND_DINOV2, KIND_LERF3D)
"""Kinds that build a DenseFeatureEncoder."""

LERF3D_NAMES = ("tiny",)
"""Embedded tower sets under ``lerf3d/weights``."""
TINY_SPEC = f"{KIND_LERF3D}:tiny"
"""The embedded towers shipped in ``lerf3d/weights`` (``TINY_SPEC@folder``: the same towers from
another folder)."""
DEFAULT_IMAGE_TEXT_SPEC = TINY_SPEC
"""Works offline out of the box; real CLIP is ``openclip:ViT-B-16/laion2b_s34b_b88k``."""
DEFAULT_DENSE_SPEC = TINY_SPEC
"""Works offline out of the box; real DINO is ``dino:dino_vits8``."""
DIGEST_SEPARATOR = "#"
"""Encoder names are ``SPEC`` or ``SPEC#weight-digest`` (lerf3d.encoders.tiny): the spec rebuilds it."""


def spec_of_name(name: str) -> str:
    """The spec that rebuilds the encoder an ``ImageTextEncoder.name`` (as runs record it) names."""
    return name.split(DIGEST_SEPARATOR)[0]


class EncoderSpecError(ValueError):
    """A spec string that names no encoder this build knows, or is malformed."""


@dataclass(frozen=True)
class EncoderSpec:
    """A parsed spec string."""

    kind: str
    """Family: openclip, dino, dinov2 or lerf3d."""
    name: str
    """Architecture name within the family (``ViT-B-16``, ``dino_vits8``, ``vits14``, ``tiny``)."""
    tag: str | None = None
    """Pretrained tag (open_clip only), e.g. ``laion2b_s34b_b88k``."""
    checkpoint: Path | None = None
    """Local weights file given after ``@``."""

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}"
        if self.tag is not None:
            text += f"/{self.tag}"
        if self.checkpoint is not None:
            text += f"@{self.checkpoint}"
        return text


def parse_spec(spec: str, allowed_kinds: tuple[str, ...]) -> EncoderSpec:
    """Split ``kind:name[/tag][@checkpoint]``; EncoderSpecError names the valid kinds on failure.

    Only the first ``@`` separates the checkpoint, so paths may contain ``/`` and ``@``.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise EncoderSpecError(
            f"encoder spec {spec!r} must look like 'kind:name[/tag][@checkpoint]'; "
            f"valid kinds here: {', '.join(allowed_kinds)}"
        )
    kind, rest = spec.split(":", 1)
    kind = kind.strip().lower()
    if kind not in allowed_kinds:
        raise EncoderSpecError(
            f"unknown encoder kind {kind!r} in {spec!r}; valid kinds here: {', '.join(allowed_kinds)}"
        )
    body, _, checkpoint = rest.partition("@")
    name, _, tag = body.partition("/")
    if not name:
        raise EncoderSpecError(f"encoder spec {spec!r} has no model name after '{kind}:'")
    if checkpoint and tag:
        raise EncoderSpecError(f"encoder spec {spec!r}: give a pretrained tag or a checkpoint, not both")
    if tag and kind != KIND_OPENCLIP:
        raise EncoderSpecError(
            f"encoder spec {spec!r}: only openclip takes a '/tag'; use '@path' for weights"
        )
    return EncoderSpec(
        kind=kind,
        name=name,
        tag=tag or None,
        checkpoint=Path(checkpoint).expanduser() if checkpoint else None,
    )


def unknown_name_error(spec: EncoderSpec, valid: list[str] | tuple[str, ...]) -> EncoderSpecError:
    """The error for a known kind with an unknown model name: closest names first, then all."""
    closest = difflib.get_close_matches(spec.name, valid, n=5, cutoff=0.5)
    hint = f"closest: {', '.join(closest)}; " if closest else ""
    return EncoderSpecError(
        f"unknown {spec.kind} model {spec.name!r}; {hint}valid names: {', '.join(valid)}"
    )
