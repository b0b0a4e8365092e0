"""Phrasing families of the stage-2 questions: several wordings per question, one held out of training.

A question is generated as a *kind* (what is asked: "count", "side", ...) with its object labels and
a *family* index; :func:`phrase` writes it in that family's words. Every kind has
:data:`NUM_FAMILIES` genuinely different wordings (other verbs and sentence shapes, not punctuation),
and every kind of one record type shares the family index, so a record's ``family`` says which
wording it was asked in. Family :data:`HELD_OUT_FAMILY` is never written into the training split:
scoring it apart from the others measures whether answers survive wording the model never read.

Scene-frame spatial questions state their convention in every family, each in its own words:
north is the +y wall, east the +x wall, and left/right are seen from the south wall looking north.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

import numpy as np

from lerf3d.scene_llm.data.language import any_of, be, does, plural, there_clause

NUM_FAMILIES = 5
"""Wordings per question kind (the same for every kind)."""

HELD_OUT_FAMILY = NUM_FAMILIES - 1
"""The family never written into the training split (val and test hold every family)."""

TRAIN_FAMILIES = tuple(f for f in range(NUM_FAMILIES) if f != HELD_OUT_FAMILY)
"""Families of training questions."""

ALL_FAMILIES = tuple(range(NUM_FAMILIES))
"""Families of validation and test questions."""

COMPASS_NOTES = (
    "(north is the +y wall, east is the +x wall)",
    "(the north wall is at +y, the east wall at +x)",
    "(taking +y as north and +x as east)",
    "(+y points north, +x points east)",
    "(with north along +y and east along +x)",
)
"""The scene-frame convention, one wording per family (location questions end with it)."""

PHRASINGS: dict[str, tuple[str, ...]] = {
    "count": (
        "How many {a_pl} are there in the room?",
        "What is the number of {a_pl} in the room?",
        "Count the {a_pl} in this room.",
        "How many {a_pl} can you see in this room?",
        "Tell me the total number of {a_pl} this room holds.",
    ),
    "exists": (
        "{There_is_a} in the room?",
        "Does the room contain {a_any}?",
        "Can you find {a_any} in this room?",
        "Would I find {a_any} somewhere in this room?",
        "Tell me whether {there_a} in this space.",
    ),
    "category": (
        "What kind of furniture {a_be} the {a}? Answer with its category.",
        "Which furniture category {a_does} the {a} belong to?",
        "Name the category of the {a}.",
        "What catalogue category {a_be} the {a} listed under?",
        "Under which catalogue category would you file the {a}?",
    ),
    "taller": (
        "Which is taller, the {a} or the {b}?",
        "Of the {a} and the {b}, which one is taller?",
        "Which has the greater height, the {a} or the {b}?",
        "Name the taller object: the {a} or the {b}.",
        "Between the {a} and the {b}, which measures more from bottom to top?",
    ),
    "nearest": (
        "Which object is nearest to the {a}?",
        "What is the closest object to the {a}?",
        "Name the object that is nearest the {a}.",
        "Which item sits closest to the {a}?",
        "What stands right next to the {a}, nearer than anything else?",
    ),
    "side": (
        "Seen from the south wall, {a_be} the {a} to the left or to the right of the {b}?",
        "Standing at the south wall and facing north, {a_be} the {a} left or right of the {b}?",
        "From the south wall looking north, which side of the {b} {a_be} the {a} on: left or right?",
        "If you look at the room from the south wall, {a_be} the {a} on the left or on the right of the {b}?",
        "Viewed from the south wall, {a_does} the {a} lie left or right of the {b}?",
    ),
    "on_top": (
        "{A_be} the {a} on top of the {b}?",
        "{A_does} the {a} rest on the {b}?",
        "{A_be} the {a} placed on the {b}?",
        "{B_be} the {b} supporting the {a}?",
        "Would I find the {a} sitting on top of the {b}?",
    ),
    "ego_side": (
        "Seen from this view, {a_be} the {a} to the left or to the right of the {b}?",
        "From where the camera stands, {a_be} the {a} left or right of the {b}?",
        "In this view, which side of the {b} {a_be} the {a} on: left or right?",
        "Looking from this viewpoint, {a_does} the {a} appear on the left or on the right of the {b}?",
        "From my current point of view, {a_be} the {a} to the left of the {b} or to its right?",
    ),
    "quarter": (
        "In which quarter of the room {a_be} the {a}: north-east, north-west, south-east or south-west? "
        "{note}",
        "Which quadrant of the room holds the {a}: north-east, north-west, south-east or south-west? {note}",
        "Tell me the quarter of the room where the {a} {a_be}, north-east, north-west, south-east or "
        "south-west {note}.",
        "{A_be} the {a} in the north-east, north-west, south-east or south-west part of the room? {note}",
        "Which corner region of the room contains the {a}, north-east, north-west, south-east or "
        "south-west {note}?",
    ),
    "wall": (
        "Which wall {a_be} the {a} closest to: north, south, east or west? {note}",
        "Which of the four walls is nearest to the {a}: north, south, east or west? {note}",
        "Name the wall the {a} {a_be} closest to, north, south, east or west {note}.",
        "{A_be} the {a} nearest to the north, south, east or west wall? {note}",
        "Which wall {a_does} the {a} stand closest to, north, south, east or west {note}?",
    ),
}
"""Kind -> its wordings, family by family. Placeholders: ``{a}``/``{b}`` labels, ``{a_pl}`` plural,
``{a_be}``/``{A_be}`` is/are, ``{a_does}``/``{A_does}`` does/do, ``{a_any}`` "a chair"/"any slippers",
``{There_is_a}``/``{there_a}`` the presence clause, ``{note}`` the family's compass note."""

KIND_TYPE = {"count": "count", "exists": "exists", "category": "attribute", "taller": "attribute",
             "nearest": "nearest", "side": "relation", "on_top": "relation", "ego_side": "ego_relation",
             "quarter": "location", "wall": "location"}
"""Kind -> the record type it is scored under."""

STAGE2_TYPES = tuple(dict.fromkeys(KIND_TYPE.values()))
"""Record types that have phrasing families (every type but captions)."""


def _slot_words(name: str, label: str) -> dict[str, str]:
    """The placeholders of one label slot (``a`` or ``b``)."""
    cap = name.upper()
    return {name: label, f"{name}_pl": plural(label), f"{name}_be": be(label), f"{cap}_be": be(label).title(),
            f"{name}_does": does(label), f"{cap}_does": does(label).title(), f"{name}_any": any_of(label),
            f"there_{name}": there_clause(label),
            f"There_is_{name}": f"{be(label).title()} there {any_of(label)}"}


def phrase(kind: str, family: int, *labels: str) -> str:
    """The question of ``kind`` about ``labels`` (one or two) in wording ``family``."""
    if kind not in PHRASINGS:
        raise ValueError(f"unknown question kind {kind!r}; choose one of {sorted(PHRASINGS)}")
    if not 0 <= family < NUM_FAMILIES:
        raise ValueError(f"family must be in [0, {NUM_FAMILIES}), got {family}")
    words = {"note": COMPASS_NOTES[family]}
    for name, label in zip("ab", labels):
        words |= _slot_words(name, label)
    try:
        return PHRASINGS[kind][family].format(**words)
    except KeyError:
        raise ValueError(f"a {kind!r} question needs more labels than {labels}") from None


class _Worded(Protocol):
    type: str
    family: int


def is_held_out_wording(record: _Worded) -> bool:
    """True for a stage-2 record asked in the held-out family (never in the training split)."""
    return record.type in STAGE2_TYPES and record.family == HELD_OUT_FAMILY


def spread_families(count: int, families: Sequence[int], rng: np.random.Generator) -> list[int]:
    """``count`` family indices as even as ``families`` allow (each within one of the others), in a
    random order: every family is represented once there are as many questions as families."""
    if not families:
        raise ValueError("spread_families needs at least one family")
    offset = int(rng.integers(len(families)))  # which families get the extra ones is random too
    draws = [families[(offset + i) % len(families)] for i in range(count)]
    return [draws[i] for i in rng.permutation(count)]


T = TypeVar("T")


def with_families(items: Sequence[T], families: Sequence[int], rng: np.random.Generator) -> list[T]:
    """Each item (a frozen dataclass with ``type`` and ``family``) given a family, spread evenly
    within each record type (:func:`spread_families`); order kept."""
    out = list(items)
    for kind in dict.fromkeys(item.type for item in out):  # type: ignore[attr-defined]
        where = [i for i, item in enumerate(out) if item.type == kind]  # type: ignore[attr-defined]
        for i, family in zip(where, spread_families(len(where), families, rng)):
            out[i] = replace(out[i], family=family)  # type: ignore[type-var]
    return out
