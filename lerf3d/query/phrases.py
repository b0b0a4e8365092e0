"""Checking query phrases once, where they enter, and turning them into embeddings.

Phrases come from people (a command line, a viewer's text box, a library call): an empty one is a
mistake worth a clear message. :func:`check_phrases` owns that rule and returns :class:`Phrases`;
every public entry point (a ``lerf3d`` command, the viewer's request parser, ``QuerySession.answer``,
a scorer's ``maps``) calls it, and it hands an already-checked :class:`Phrases` back untouched, so a
phrase passed down through several of them is checked exactly once. The layers below (the scale
searcher, :func:`encode_phrases`, the baselines) take :class:`Phrases` and check nothing again.

A very long or non-ASCII phrase goes to the text tower, whose tokenizer truncates or maps it; any
failure there comes back as a ValueError naming the phrase, never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command-line parser checks phrases and must not import torch
    import torch
    from jaxtyping import Float

    from lerf3d.encoders.base import ImageTextEncoder

UNIT_NORM_TOLERANCE = 1e-2
"""How far from 1 a phrase embedding's norm may be: encoders promise unit vectors (fp16 towers
round them by ~1e-3); anything further off means the encoder broke its protocol."""


class Phrases(tuple):
    """Checked phrases: at least one, each a stripped, non-empty string, in the caller's order.

    Made only by :func:`check_phrases`. A tuple (it compares equal to the plain tuple of its strings),
    so it prints, iterates and serialises like one.
    """

    __slots__ = ()


def check_phrases(phrases: Sequence[str] | Phrases, what: str = "phrase") -> Phrases:
    """``phrases`` checked and stripped; ValueError/TypeError saying what is wrong.

    The one place the rule is written. Checked :class:`Phrases` come back as they are (they were
    checked where they entered), so a public function may call this on whatever it is given.
    """
    if isinstance(phrases, Phrases):
        return phrases
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
    return Phrases(cleaned)


def encode_phrases(encoder: ImageTextEncoder, phrases: Phrases, what: str = "phrase") -> Float[torch.Tensor, "P D"]:
    """Unit embeddings (float32) of checked phrases; ValueError when the text tower cannot take one.

    ``phrases`` must come from :func:`check_phrases` (a TypeError otherwise: a plain string or list
    here is a caller that skipped the check); ``what`` only words the error messages.
    """
    import torch

    if not isinstance(phrases, Phrases):
        raise TypeError(f"encode_phrases takes checked phrases (check_phrases), got {type(phrases).__name__}")
    texts = list(phrases)
    try:
        embeddings = encoder.encode_text(texts)
    except (RuntimeError, ValueError, IndexError, KeyError, UnicodeError) as err:
        raise ValueError(f"{encoder.name} could not encode {what}s {texts!r}: {err}") from err
    embeddings = embeddings.float()
    if embeddings.shape != (len(texts), encoder.embedding_dim):
        raise ValueError(f"{encoder.name} returned {tuple(embeddings.shape)} for {len(texts)} {what}s, "
                         f"expected ({len(texts)}, {encoder.embedding_dim})")
    norms = embeddings.norm(dim=-1)
    if not torch.isfinite(embeddings).all() or ((norms - 1).abs() > UNIT_NORM_TOLERANCE).any():
        bad = [p for p, n in zip(texts, norms.tolist()) if not abs(n - 1) <= UNIT_NORM_TOLERANCE]
        raise ValueError(f"{encoder.name} gave no unit embedding for {bad!r}")
    return embeddings
