"""The one answer normaliser of training targets and evaluation, and the verbs and articles of the
question wordings."""

from __future__ import annotations

import pytest

from lerf3d.scene_llm.data.language import any_of, be, does, normalise_answer, there_clause

VOCABULARY = ["chair", "box", "shelves", "glass", "glasses", "bedside table", "chair with cushion"]

CASES = [
    # numbers: digits, spelled out, with punctuation
    ("2", "2"), ("2.", "2"), ("two", "2"), ("Two", "2"), (" TWO! ", "2"), ("zero", "0"), ("twelve", "12"),
    ("02", "2"), ("10", "10"),
    # yes / no and their short qualifications
    ("yes", "yes"), ("Yes.", "yes"), ("Yes, there is.", "yes"), ("yes there is", "yes"), ("No.", "no"),
    ("no, it isn't", "no"), ("NO", "no"), ("No it is not.", "no"),
    ("no chairs", "no chairs"),  # may answer a count: not read as "no"
    ("nothing", "nothing"), ("yesterday", "yesterday"),
    # sides, quarters, walls
    ("left", "left"), ("Left.", "left"), ("to the left", "left"), ("On the right side.", "right"),
    ("north-east", "north-east"), ("North East", "north-east"), ("northeast", "north-east"),
    ("south-west.", "south-west"), ("the south wall", "south"), ("East wall", "east"), ("west", "west"),
    # labels: case, punctuation, articles
    ("The Chair.", "chair"), ("a chair", "chair"), ("an oven", "oven"), ("some slippers", "slippers"),
    ("bedside table", "bedside table"), ("Living room", "living room"), ("  the   desk  lamp ", "desk lamp"),
]
"""(model or generator text, normal form) without a vocabulary."""

VOCABULARY_CASES = [
    ("chairs", "chair"), ("the chairs", "chair"), ("boxes", "box"),
    ("Chairs with cushion", "chair with cushion"),
    ("bedside tables", "bedside table"),
    ("shelves", "shelves"),  # a plural-only label is its own form
    ("glasses", "glasses"),  # the plural of "glass" is a label itself: ambiguous, kept
    ("glass", "glass"), ("sofas", "sofas"),  # not in the vocabulary: left alone
    ("two", "2"), ("Yes.", "yes"),
]
"""(text, normal form) given :data:`VOCABULARY`."""


@pytest.mark.parametrize(("text", "normal"), CASES)
def test_normaliser_table(text, normal):
    assert normalise_answer(text) == normal
    assert normalise_answer(normal) == normal  # idempotent: a normal form is a fixed point


@pytest.mark.parametrize(("text", "normal"), VOCABULARY_CASES)
def test_normaliser_reads_plurals_of_known_labels(text, normal):
    assert normalise_answer(text, VOCABULARY) == normal
    assert normalise_answer(normal, VOCABULARY) == normal


def test_without_a_vocabulary_plurals_stay():
    assert normalise_answer("chairs") == "chairs"


def test_verbs_and_articles_agree_with_the_label():
    assert [be(w) for w in ("chair", "slippers")] == ["is", "are"]
    assert [does(w) for w in ("chair", "headphones")] == ["does", "do"]
    assert [any_of(w) for w in ("oven", "bed", "slippers")] == ["an oven", "a bed", "any slippers"]
    assert there_clause("slippers") == "there are any slippers" and there_clause("oven") == "there is an oven"
