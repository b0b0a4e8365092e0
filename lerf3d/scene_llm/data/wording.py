"""Phrasing families of the stage-2 questions: several wordings per question, one held out of training.

A question is generated as a *kind* (what is asked: "count", "side", ...) with its object labels and
a *family* index; :func:`phrase` writes it in that family's words. Every kind has
:data:`NUM_FAMILIES` genuinely different wordings (other verbs and sentence shapes, not punctuation),
and every kind of one record type shares the family index, so a record's ``family`` says which
wording it was asked in. Family :data:`HELD_OUT_FAMILY` is never written into the training split:
scoring it apart from the others measures whether answers survive wording the model never read.
Validation and test questions use the first five families (:data:`EVAL_FAMILIES`); the later ones
(:data:`TRAIN_ONLY_FAMILIES`) are only ever training questions, when a dataset asks for them.

Scene-frame spatial questions state their convention in every family, each in its own words:
north is the +y wall, east the +x wall, and left/right are seen from the south wall looking north.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

import numpy as np

from lerf3d.scene_llm.data.language import any_of, be, does, plural, there_clause

NUM_FAMILIES = 11
"""Wordings per question kind (the same for every kind)."""

EVAL_FAMILIES = (0, 1, 2, 3, 4)
"""Families of validation and test questions: the first five, as every dataset since families began
(so reports stay comparable across versions, and the held-out family keeps a fifth of a test split)."""

HELD_OUT_FAMILY = 4
"""The family never written into the training split, scored apart in evaluation."""

TRAIN_FAMILIES = tuple(f for f in EVAL_FAMILIES if f != HELD_OUT_FAMILY)
"""Families of training questions that are also evaluated (the "trained wordings" of a report)."""

TRAIN_ONLY_FAMILIES = tuple(range(len(EVAL_FAMILIES), NUM_FAMILIES))
"""Families written into the training split only, with
:attr:`~lerf3d.scene_llm.data.dataset.DatasetConfig.train_only_wordings`: more sentence shapes to
learn from (another verb, another word order, the options in the other order), so that a question
is read by what it asks rather than by its template. They never use a pair of words of the held-out
family that :data:`TRAIN_FAMILIES` lack (a test checks), so that family stays unread."""

COMPASS_NOTES = (
    "(north is the +y wall, east is the +x wall)",
    "(the north wall is at +y, the east wall at +x)",
    "(taking +y as north and +x as east)",
    "(+y points north, +x points east)",
    "(with north along +y and east along +x)",
    "(north means +y, east means +x)",
    "(the +y wall is north, the +x wall is east)",
    "(north: +y, east: +x)",
    "(where +y is north and +x is east)",
    "(the north direction is +y, the east +x)",
    "(north = +y, east = +x)",
)
"""The scene-frame convention, one wording per family (location questions end with it)."""

PHRASINGS: dict[str, tuple[str, ...]] = {
    "count": (
        "How many {a_pl} are there in the room?",
        "What is the number of {a_pl} in the room?",
        "Count the {a_pl} in this room.",
        "How many {a_pl} can you see in this room?",
        "Tell me the total number of {a_pl} this room holds.",
        "How many {a_pl} does the room have?",
        "Give the count of {a_pl} in the room.",
        "In this room, how many {a_pl} are there?",
        "What is the count of {a_pl} in the room?",
        "Number of {a_pl} in the room?",
        "I need to know how many {a_pl} are in the room.",
    ),
    "exists": (
        "{There_is_a} in the room?",
        "Does the room contain {a_any}?",
        "Can you find {a_any} in this room?",
        "Would I find {a_any} somewhere in this room?",
        "Tell me whether {there_a} in this space.",
        "Do you see {a_any} in the room?",
        "Does this room have {a_any}?",
        "{There_is_a} anywhere in the room?",
        "Can {a_any} be found in the room?",
        "Yes or no: can you spot {a_any} in the room?",
        "Has the room got {a_any} in it?",
    ),
    "category": (
        "What kind of furniture {a_be} the {a}? Answer with its category.",
        "Which furniture category {a_does} the {a} belong to?",
        "Name the category of the {a}.",
        "What catalogue category {a_be} the {a} listed under?",
        "Under which catalogue category would you file the {a}?",
        "What category {a_be} the {a} in?",
        "Give the furniture category of the {a}.",
        "Which category fits the {a}?",
        "Classify the {a} by furniture category.",
        "In the catalogue, what category {a_be} the {a}?",
        "What sort of item {a_be} the {a}, by category?",
    ),
    "taller": (
        "Which is taller, the {a} or the {b}?",
        "Of the {a} and the {b}, which one is taller?",
        "Which has the greater height, the {a} or the {b}?",
        "Name the taller object: the {a} or the {b}.",
        "Between the {a} and the {b}, which measures more from bottom to top?",
        "Which one is higher, the {a} or the {b}?",
        "Compare the heights of the {a} and the {b}: which is taller?",
        "The {a} or the {b}: which stands taller?",
        "Which reaches higher up, the {a} or the {b}?",
        "What is taller: the {a} or the {b}?",
        "Of these two, the {a} and the {b}, which has more height?",
    ),
    "nearest": (
        "Which object is nearest to the {a}?",
        "What is the closest object to the {a}?",
        "Name the object that is nearest the {a}.",
        "Which item sits closest to the {a}?",
        "What stands right next to the {a}, nearer than anything else?",
        "What is the object closest to the {a}?",
        "Which thing is the nearest neighbour of the {a}?",
        "Find which object is nearest to the {a}.",
        "Which object is closest to the {a} in the room?",
        "Name the thing nearest to the {a}.",
        "Which item is the smallest distance from the {a}?",
    ),
    "side": (
        "Seen from the south wall, {a_be} the {a} to the left or to the right of the {b}?",
        "Standing at the south wall and facing north, {a_be} the {a} left or right of the {b}?",
        "From the south wall looking north, which side of the {b} {a_be} the {a} on: left or right?",
        "If you look at the room from the south wall, {a_be} the {a} on the left or on the right of the {b}?",
        "Viewed from the south wall, {a_does} the {a} lie left or right of the {b}?",
        "Looking north from the south wall, {a_be} the {a} on the right or on the left side of the {b}?",
        "With your back to the south wall, {a_be} the {a} on the right-hand or left-hand side of the {b}?",
        "From the south wall facing north, {a_be} the {a} on the left side or the right side of the {b}?",
        "Seen from the south wall towards north, {a_be} the {a} to the right or to the left side of the {b}?",
        "Facing north from the south wall, where {a_be} the {a} relative to the {b}: right or left?",
        "When you stand by the south wall facing north, {a_be} the {a} on the left or the right of the {b}?",
    ),
    "on_top": (
        "{A_be} the {a} on top of the {b}?",
        "{A_does} the {a} rest on the {b}?",
        "{A_be} the {a} placed on the {b}?",
        "{B_be} the {b} supporting the {a}?",
        "Would I find the {a} sitting on top of the {b}?",
        "{A_be} the {a} resting on top of the {b}?",
        "{A_be} the {a} standing on the {b}?",
        "{A_be} the {a} set on the {b}?",
        "{A_be} the {a} lying on the {b}?",
        "Can the {a} be seen on top of the {b}?",
        "{B_be} the {b} holding up the {a}?",
    ),
    "ego_side": (
        "Seen from this view, {a_be} the {a} to the left or to the right of the {b}?",
        "From where the camera stands, {a_be} the {a} left or right of the {b}?",
        "In this view, which side of the {b} {a_be} the {a} on: left or right?",
        "Looking from this viewpoint, {a_does} the {a} appear on the left or on the right of the {b}?",
        "From my current point of view, {a_be} the {a} to the left of the {b} or to its right?",
        "From this view, {a_be} the {a} on the right or on the left side of the {b}?",
        "As the camera sees it, {a_be} the {a} left or right of the {b}?",
        "In the current view, which way from the {b} {a_be} the {a}: right or left?",
        "Looking through the camera, which side of the {b} {a_be} the {a} on, right or left?",
        "From the camera's position, {a_be} the {a} on the left or the right of the {b}?",
        "In this camera view, {a_be} the {a} on the right-hand or left-hand side of the {b}?",
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
        "Which quarter of the room {a_be} the {a} in: north-east, north-west, south-east or south-west? "
        "{note}",
        "Where in the room {a_be} the {a}: the north-east, north-west, south-east or south-west quarter? "
        "{note}",
        "Name the quarter holding the {a}: south-west, south-east, north-west or north-east? {note}",
        "In what part of the room {a_be} the {a}, north-east, north-west, south-east or south-west? {note}",
        "The {a} {a_be} in which quarter of the room: north-east, north-west, south-east or south-west? "
        "{note}",
        "Which of the four quarters (north-east, north-west, south-east, south-west) has the {a}? {note}",
    ),
    "wall": (
        "Which wall {a_be} the {a} closest to: north, south, east or west? {note}",
        "Which of the four walls is nearest to the {a}: north, south, east or west? {note}",
        "Name the wall the {a} {a_be} closest to, north, south, east or west {note}.",
        "{A_be} the {a} nearest to the north, south, east or west wall? {note}",
        "Which wall {a_does} the {a} stand closest to, north, south, east or west {note}?",
        "Which wall is closest to the {a}: north, south, east or west? {note}",
        "The {a} {a_be} nearest which wall: north, south, east or west? {note}",
        "Name the nearest wall to the {a}: west, east, south or north? {note}",
        "Closest wall to the {a}: north, south, east or west? {note}",
        "What wall {a_be} the {a} nearest to: north, south, east or west? {note}",
        "Of the north, south, east and west walls, which one {a_be} the {a} closest to? {note}",
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


def word_pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent pairs of ``text``'s lower-case words, punctuation dropped."""
    words = re.findall(r"[a-z']+", text.lower())
    return set(zip(words, words[1:]))


def held_out_word_pairs(*labels: str) -> set[tuple[str, str]]:
    """The word pairs of the held-out family's questions about ``labels`` (two: every kind takes
    what it needs) that no :data:`TRAIN_FAMILIES` question has: what no training text may contain,
    for the held-out score to measure wording the model never read."""
    def pairs(families: Sequence[int]) -> set[tuple[str, str]]:
        return set().union(*(word_pairs(phrase(kind, f, *labels)) for kind in PHRASINGS for f in families))
    return pairs([HELD_OUT_FAMILY]) - pairs(TRAIN_FAMILIES)


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
