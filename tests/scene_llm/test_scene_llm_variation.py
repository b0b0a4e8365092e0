"""Surface variation of training questions: what it rewrites, what it keeps, and that it never
writes the held-out family's words."""

from __future__ import annotations

import numpy as np
import pytest

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.variation import varied_chat, vary_question
from lerf3d.scene_llm.data.wording import (
    PHRASINGS,
    TRAIN_FAMILIES,
    TRAIN_ONLY_FAMILIES,
    held_out_word_pairs,
    phrase,
    word_pairs,
)
from lerf3d.scene_llm.train.config import StageConfig

LABELS = ("desk lamp", "bed")
DECIDING = ("how many", "left", "right", "north", "south", "east", "west", "taller", "nearest", "closest",
            "on top", "category")


def _trained_questions() -> list[str]:
    """Every training sentence: the evaluated training families and the training-only ones."""
    families = TRAIN_FAMILIES + TRAIN_ONLY_FAMILIES
    return [phrase(kind, family, *LABELS) for kind in PHRASINGS for family in families]


def test_rewrites_keep_the_labels_and_the_words_that_decide_the_answer():
    rng = np.random.default_rng(0)
    for question in _trained_questions():
        for _ in range(30):
            varied = vary_question(question, rng).lower()
            assert all(label in varied for label in LABELS if label in question)
            for word in DECIDING:
                assert (word in varied) == (word in question.lower().replace("which is", "which one is")), (
                    question, varied)


def test_rewrites_vary_the_words_around_them():
    rng = np.random.default_rng(1)
    question = phrase("exists", 0, "chair")
    seen = {vary_question(question, rng) for _ in range(300)}
    assert question in seen  # most rewrites have chances well below one: the question as generated stays common
    assert len(seen) >= 40
    assert any(text.startswith("Hey, is there") for text in seen)  # an opener with a comma lower-cases
    assert any("this scene" in text for text in seen) and any(text == text.lower() for text in seen)
    assert any(not text.endswith(("?", ".", "!")) for text in seen)  # typed without a mark


def test_rewrites_never_write_a_word_pair_only_the_held_out_family_uses():
    """The held-out family must stay unread in training: a pair of words of its sentences that no
    trained sentence has may not appear in any rewrite."""
    held_out = held_out_word_pairs(*LABELS)
    assert len(held_out) > 20  # the family is genuinely other wording
    rng = np.random.default_rng(2)
    for question in _trained_questions():
        for _ in range(200):
            leaked = word_pairs(vary_question(question, rng)) & held_out
            assert not leaked, (question, leaked)


def test_the_same_generator_state_gives_the_same_rewrite():
    question = phrase("count", 1, "chair")
    assert {vary_question(question, np.random.default_rng(5)) for _ in range(3)} == {
        vary_question(question, np.random.default_rng(5))}


def _record(kind: str, question: str) -> QARecord:
    return QARecord("room_0", kind, question, "2" if kind == "count" else "a chair", None)


def test_varied_chat_leaves_captions_and_a_zero_share_alone_and_is_keyed():
    chat = [_record("count", phrase("count", 0, "chair")), _record("count", phrase("count", 2, "chair"))]
    assert varied_chat(chat, 0.0, (0, 3, 1)) is chat
    caption = [QARecord("room_0", "caption", "Describe what you see.", "a chair", "frame_00000")]
    assert varied_chat(caption, 1.0, (0, 3, 1)) == caption
    keyed = [[r.question for r in varied_chat(chat, 1.0, (0, step, 1))] for step in range(40)]
    assert keyed[7] == [r.question for r in varied_chat(chat, 1.0, (0, 7, 1))]  # a resumed step draws the same
    assert len({tuple(k) for k in keyed}) > 20
    assert all(r.answer == "2" for r in varied_chat(chat, 1.0, (0, 9, 1)))  # answers are never touched


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_the_share_is_checked(share):
    with pytest.raises(ValueError, match="vary_wording"):
        StageConfig(vary_wording=share)
