"""What an answer rests on: the scene's objects that a question and its answer refer to.

Each object token is named by its nearest label (the text tower's embedding of each of the run's
object names, as the label bridge and the readout baseline read tokens). A grounded answer
("<obj2>, <obj7>: 2", "none: no") names the objects it used: those, and only those, are listed. For
any other answer the objects used are those whose name the question or the answer mentions
(singular or plural, longest name first, so "bedside table" is not also a "table"), and those whose
identifier ``<objK>`` the answer writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lerf3d.scene_llm.data.language import IDENTIFIER_FORMAT, plural, split_grounding
from lerf3d.scene_llm.tokens.frames import SceneTokens

IDENTIFIER_PATTERN = re.compile(re.escape(IDENTIFIER_FORMAT).replace(r"\{\}", r"(\d+)"))
"""``<objK>`` in an answer's text, K captured."""


@dataclass(frozen=True)
class UsedObject:
    """One object an answer rests on."""

    index: int
    """Position of its token in the prompt (its identifier is ``<obj{index}>``)."""
    label: str
    """Its token's nearest name."""
    centre: tuple[float, float, float]
    """Token centroid, metres, in the tokens' frame (world, or the view's camera for egocentric)."""
    size: tuple[float, float, float] | None
    """Extent of its box along the frame's axes, metres (None for tokens without boxes)."""
    reason: str
    """Why it is listed: "question", "answer" (its name is mentioned there) or "identifier"."""
    lower: tuple[float, float, float] | None = None
    """Minimum corner of its box, metres, same frame as ``centre`` (None for tokens without boxes)."""
    upper: tuple[float, float, float] | None = None
    """Maximum corner of its box."""

    @property
    def identifier(self) -> str:
        return IDENTIFIER_FORMAT.format(self.index)

    def describe(self) -> str:
        """``<obj2> chair at (0.41, -1.20, 0.45) m, 0.55 x 0.60 x 0.90 m (named in the question)``."""
        where = ", ".join(f"{v:.2f}" for v in self.centre)
        size = "" if self.size is None else ", " + " x ".join(f"{v:.2f}" for v in self.size) + " m"
        why = {"identifier": "its identifier is in the answer"}.get(self.reason, f"named in the {self.reason}")
        return f"{self.identifier} {self.label} at ({where}) m{size} ({why})"


def mentioned_labels(text: str, labels: Sequence[str]) -> list[str]:
    """The labels (or their plurals) that ``text`` mentions as whole words, longest first; a mention
    inside a longer mentioned label does not count ("bedside table" hides "table")."""
    remaining = f" {re.sub(r'[^a-z0-9 ]+', ' ', text.lower())} "
    found = []
    for label in sorted(set(labels), key=len, reverse=True):
        for form in dict.fromkeys((plural(label), label)):
            pattern = f" {form} "
            if pattern in remaining:
                found.append(label)
                remaining = remaining.replace(pattern, " | ")
    return found


def used_objects(tokens: SceneTokens, token_labels: Sequence[str], question: str, answer: str) -> list[UsedObject]:
    """The objects of ``tokens`` (named ``token_labels``) that the answer rests on, in token order:
    the ones a grounded answer names, else the ones the question or answer refers to."""
    if len(token_labels) != tokens.num_tokens:
        raise ValueError(f"{len(token_labels)} labels for {tokens.num_tokens} tokens")
    grounding, plain = split_grounding(answer)
    grounded = plain != answer
    reasons: dict[int, str] = {}
    for index in (int(k) for k in IDENTIFIER_PATTERN.findall(grounding if grounded else answer)):
        if index < tokens.num_tokens:
            reasons.setdefault(index, "identifier")
    for source, text in () if grounded else (("question", question), ("answer", answer)):
        named = set(mentioned_labels(text, sorted(set(token_labels))))
        for index, label in enumerate(token_labels):
            if label in named:
                reasons.setdefault(index, source)
    out = []
    for index in sorted(reasons):
        size = lower = upper = None
        if tokens.lower is not None and tokens.upper is not None:
            lower, upper = _corner(tokens.lower, index), _corner(tokens.upper, index)
            size = tuple(float(v) for v in (tokens.upper[index] - tokens.lower[index]).tolist())
        out.append(UsedObject(index, token_labels[index], _corner(tokens.xyz, index), size,  # type: ignore[arg-type]
                              reasons[index], lower, upper))
    return out


def _corner(points: torch.Tensor, index: int) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in points[index].tolist())
    return x, y, z
