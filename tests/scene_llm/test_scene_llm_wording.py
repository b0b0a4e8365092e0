"""Phrasing families: several genuinely different wordings per question type, the held-out family,
and the families spread over a split's questions."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.language import normalise_answer
from lerf3d.scene_llm.data.questions import LISTING_TYPE, QA, TYPES
from lerf3d.scene_llm.data.wording import (
    EVAL_FAMILIES,
    HELD_OUT_FAMILY,
    KIND_TYPE,
    NUM_FAMILIES,
    PHRASINGS,
    STAGE2_TYPES,
    TRAIN_FAMILIES,
    TRAIN_ONLY_FAMILIES,
    held_out_word_pairs,
    is_held_out_wording,
    phrase,
    spread_families,
    with_families,
    word_pairs,
)

LABELS = {"count": ("chair",), "exists": ("chair",), "category": ("lamp",), "taller": ("lamp", "bed"),
          "nearest": ("lamp",), "side": ("lamp", "bed"), "on_top": ("lamp", "table"),
          "ego_side": ("lamp", "bed"), "quarter": ("lamp",), "wall": ("lamp",)}


def _words(text: str) -> set[str]:
    return set(normalise_answer(text).split())


def test_every_stage2_type_has_four_or_more_distinct_wordings():
    assert set(STAGE2_TYPES) == set(TYPES) - {"caption", LISTING_TYPE} and "ego_relation" in STAGE2_TYPES
    assert len(EVAL_FAMILIES) >= 4 and HELD_OUT_FAMILY == EVAL_FAMILIES[-1]
    assert set(TRAIN_FAMILIES) | set(TRAIN_ONLY_FAMILIES) | {HELD_OUT_FAMILY} == set(range(NUM_FAMILIES))
    assert set(KIND_TYPE) == set(PHRASINGS) == set(LABELS)
    for kind, labels in LABELS.items():
        texts = [phrase(kind, f, *labels) for f in range(NUM_FAMILIES)]
        assert len({normalise_answer(t) for t in texts}) == NUM_FAMILIES, kind  # not just punctuation
        for a, b in zip(texts, texts[1:] + texts[:1]):
            # genuinely different: each pair of wordings differs in at least two words besides labels
            assert len(_words(a) ^ _words(b)) >= 2, (a, b)
        for text in texts:
            assert all(label in text for label in labels), text


def test_training_only_families_never_use_the_held_out_familys_own_word_pairs():
    """The held-out family must stay unread: a pair of its words that the evaluated training
    families lack may not appear in a training-only family (labels of one and two words)."""
    for labels in (("desk lamp", "bed"), ("slippers", "oak table"), ("lamp", "armchair")):
        own = held_out_word_pairs(*labels)
        assert len(own) > 20  # the held-out family is genuinely other wording
        leaked = {pair for kind in PHRASINGS for f in TRAIN_ONLY_FAMILIES
                  for pair in word_pairs(phrase(kind, f, *labels)) & own}
        assert not leaked, leaked


def test_training_only_families_put_the_options_in_the_other_order_too():
    """Left/right and compass options are not always written in one order, so the answer cannot
    be read off the option's place in the question."""
    for kind, first, second in (("side", "left", "right"), ("ego_side", "left", "right"),
                                ("wall", "north", "west")):
        texts = [phrase(kind, f, "lamp", "bed").lower() for f in TRAIN_ONLY_FAMILIES]
        assert any(t.index(second) < t.index(first) for t in texts), kind


def test_first_family_keeps_the_original_wording():
    assert phrase("count", 0, "chair") == "How many chairs are there in the room?"
    assert phrase("exists", 0, "slippers") == "Are there any slippers in the room?"
    assert phrase("on_top", 0, "lamp", "table") == "Is the lamp on top of the table?"
    assert phrase("side", 0, "bed", "table") == \
        "Seen from the south wall, is the bed to the left or to the right of the table?"


def test_spatial_wordings_state_the_convention_in_every_family():
    for f in range(NUM_FAMILIES):
        for kind in ("quarter", "wall"):
            text = phrase(kind, f, "lamp")
            assert "+y" in text and "+x" in text and "north" in text and "east" in text, text
        assert "south wall" in phrase("side", f, "lamp", "bed")
        ego = phrase("ego_side", f, "lamp", "bed")
        assert "view" in ego or "camera" in ego, ego
    notes = {phrase("wall", f, "lamp").split("+y")[0][-25:] for f in range(NUM_FAMILIES)}
    assert len(notes) == NUM_FAMILIES  # the convention itself is reworded


def test_plural_labels_agree_in_every_family():
    for f in range(NUM_FAMILIES):
        for kind in ("exists", "category", "side", "on_top", "ego_side", "wall"):
            text = phrase(kind, f, "slippers", "bed") if kind in ("side", "on_top", "ego_side") \
                else phrase(kind, f, "slippers")
            assert "slippers is" not in text and "is the slippers" not in text.lower(), text
            assert "does the slippers" not in text.lower() and "a slippers" not in text, text


def test_phrase_errors_are_clear():
    with pytest.raises(ValueError, match="unknown question kind"):
        phrase("dance", 0, "chair")
    with pytest.raises(ValueError, match="family"):
        phrase("count", NUM_FAMILIES, "chair")
    with pytest.raises(ValueError, match="more labels"):
        phrase("side", 0, "chair")


def test_held_out_wording_is_the_last_family_of_stage2_records():
    record = QARecord("s", "count", "Count the chairs in this room.", "2", family=HELD_OUT_FAMILY)
    assert is_held_out_wording(record) and HELD_OUT_FAMILY not in TRAIN_FAMILIES
    assert not is_held_out_wording(replace(record, family=0))
    assert not is_held_out_wording(QARecord("s", "caption", "Describe what you see.", "I see a bed.", "f0"))
    with pytest.raises(ValueError, match="family"):
        QARecord("s", "caption", "Describe what you see.", "I see a bed.", "f0", family=1)
    with pytest.raises(ValueError, match="family"):
        QARecord("s", "count", "q", "2", family=NUM_FAMILIES)
    with pytest.raises(ValueError, match="family"):
        QARecord("s", "count", "q", "2", family=True)


def test_families_are_spread_evenly_per_type():
    rng = np.random.default_rng(0)
    draws = spread_families(23, TRAIN_FAMILIES, rng)
    counts = Counter(draws)
    assert set(counts) == set(TRAIN_FAMILIES) and max(counts.values()) - min(counts.values()) <= 1
    qas = [QA("count", "count", ("chair",), "1")] * 7 + [QA("exists", "exists", ("bed",), "no")] * 5
    worded = with_families(qas, EVAL_FAMILIES, rng)
    for kind, n in (("count", 7), ("exists", 5)):
        families = Counter(q.family for q in worded if q.type == kind)
        assert set(families) == set(EVAL_FAMILIES) and sum(families.values()) == n
    assert [q.type for q in worded] == [q.type for q in qas]  # order kept
    assert len({q.question for q in worded if q.type == "count"}) == len(EVAL_FAMILIES)


def test_generated_answers_must_be_in_normal_form():
    with pytest.raises(ValueError, match="not in normal form"):
        QA("count", "count", ("chair",), "two")
    with pytest.raises(ValueError, match="not of type"):
        QA("count", "side", ("chair", "bed"), "left")
