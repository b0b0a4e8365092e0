"""Checking query phrases and turning them into embeddings with an image-text encoder.

Phrases come from people (a command line, a viewer's text box): an empty one is a mistake worth a
clear message; a very long or non-ASCII one goes to the text tower, whose tokenizer truncates or
maps it, and any failure there comes back as a ValueError naming the phrase, never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float

from lerf3d.encoders.base import ImageTextEncoder

UNIT_NORM_TOLERANCE = 1e-2
"""How far from 1 a phrase embedding's norm may be: encoders promise unit vectors (fp16 towers
round them by ~1e-3); anything further off means the encoder broke its protocol."""


def check_phrases(phrases: Sequence[str], what: str = "phrase") -> list[str]:
    """``phrases`` as a list, each stripped; ValueError/TypeError saying what is wrong."""
    if isinstance(phrases, str):
        raise TypeError(f"pass a list of {what}s, not a single string: [{phrases!r}]")
    phrases = list(phrases)
    if not phrases:
        raise ValueError(f"at least one {what} is needed")
    cleaned = []
    for i, phrase in enumerate(phrases):
        if not isinstance(phrase, str):
            raise TypeError(f"{what} {i} must be a string, got {type(phrase).__name__}")
        if not phrase.strip():
            raise ValueError(f"{what} {i} is empty: type a word or two, e.g. 'coffee mug'")
        cleaned.append(phrase.strip())
    return cleaned


def encode_phrases(
    encoder: ImageTextEncoder, phrases: Sequence[str], what: str = "phrase"
) -> Float[torch.Tensor, "P D"]:
    """Unit embeddings (float32) of checked phrases; ValueError when the text tower cannot take one."""
    cleaned = check_phrases(phrases, what)
    try:
        embeddings = encoder.encode_text(cleaned)
    except (RuntimeError, ValueError, IndexError, KeyError, UnicodeError) as err:
        raise ValueError(f"{encoder.name} could not encode {what}s {cleaned!r}: {err}") from err
    embeddings = embeddings.float()
    if embeddings.shape != (len(cleaned), encoder.embedding_dim):
        raise ValueError(f"{encoder.name} returned {tuple(embeddings.shape)} for {len(cleaned)} {what}s, "
                         f"expected ({len(cleaned)}, {encoder.embedding_dim})")
    norms = embeddings.norm(dim=-1)
    if not torch.isfinite(embeddings).all() or ((norms - 1).abs() > UNIT_NORM_TOLERANCE).any():
        bad = [p for p, n in zip(cleaned, norms.tolist()) if not abs(n - 1) <= UNIT_NORM_TOLERANCE]
        raise ValueError(f"{encoder.name} gave no unit embedding for {bad!r}")
    return embeddings
