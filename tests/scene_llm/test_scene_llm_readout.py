"""The nearest-label reading of scene tokens and the token counter built on it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from lerf3d.ground_truth import GroundTruthObject
from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.questions import count_questions, existence_questions
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.scene_llm.use.readout import counter_answer, nearest_labels, readout, readout_answer

VOCAB = ["chair", "bookcase", "sofa"]


def _obj(i: int, label: str) -> GroundTruthObject:
    return GroundTruthObject(instance_id=i, label=label, category="Living room",
                             box_min=np.zeros(3), box_max=np.ones(3))


def test_nearest_labels_take_the_best_cosine_whatever_the_norm() -> None:
    texts = torch.eye(3)
    feats = torch.tensor([[0.1, 0.9, 0.0], [5.0, 1.0, 0.0], [0.0, 0.2, 0.3]])
    assert nearest_labels(feats, texts, VOCAB) == ["bookcase", "chair", "sofa"]
    assert nearest_labels(torch.zeros(0, 3), texts, VOCAB) == []


def test_counter_answers_every_generated_question_from_a_perfect_reading() -> None:
    objects = [_obj(7, "chair"), _obj(8, "chair"), _obj(9, "bookcase")]
    rng = np.random.default_rng(0)
    qas = count_questions(objects, VOCAB, rng) + existence_questions(objects, VOCAB, rng)
    named = Counter({"chair": 2, "bookcase": 1})
    assert {q.type for q in qas} == {"count", "exists"}
    for q in qas:  # a perfect reading answers every generated question right
        record = QARecord("room", q.type, q.question, q.answer)
        assert counter_answer(record, named, VOCAB) == q.answer


def test_readout_answers_whatever_the_wording() -> None:
    """Count, existence and nearest read off object tokens: the subject is the vocabulary name the
    question mentions (longest first), the nearest object the token with the closest box."""
    lower = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0], [5.0, 0, 0]])
    tokens = SceneTokens(lower + 0.25, torch.eye(4), None, "scene", lower=lower, upper=lower + 0.5)
    labels = ["chair", "sofa", "chair", "bookcase"]
    vocab = [*VOCAB, "bedside table", "table"]
    cases = [
        ("count", "Count the chairs you can see.", "2"),
        ("count", "What is the number of tables in this room?", "0"),
        ("exists", "Can you find a sofa anywhere here?", "yes"),
        ("exists", "Does the room contain a bedside table?", "no"),
        ("nearest", "What stands closest to the bookcase?", "chair"),  # gap 1.5 to chair, 3.5 to sofa
        ("nearest", "Which thing is nearest the sofa?", "chair"),
    ]
    for kind, question, answer in cases:
        assert readout_answer(QARecord("a", kind, question, answer), tokens, labels, vocab) == answer, question
    assert readout_answer(QARecord("a", "nearest", "Nearest to the table?", "x"), tokens, labels, vocab) is None
    assert readout_answer(QARecord("a", "location", "Where is the sofa?", "north"), tokens, labels, vocab) is None
    assert readout_answer(QARecord("a", "count", "How many pianos?", "0"), tokens, labels, vocab) is None


def test_readout_scores_count_and_existence_and_counts_named_labels() -> None:
    records = [
        QARecord("a", "count", "How many chairs are there in the room?", "2"),
        QARecord("a", "exists", "Is there a bookcase in the room?", "yes"),
        QARecord("a", "exists", "Is there a sofa in the room?", "no"),
        QARecord("b", "count", "How many sofas are there in the room?", "1"),
        QARecord("b", "nearest", "Which object is nearest to the sofa?", "chair"),
    ]
    named = {"a": Counter({"chair": 1, "sofa": 1}), "b": Counter({"sofa": 1})}
    present = {"a": {"chair", "bookcase"}, "b": {"sofa", "chair"}}
    r = readout(records, named, present, VOCAB)
    assert r.questions == {"count": 2, "exists": 2}
    assert r.scores["count"] == pytest.approx(0.5)  # a: 1 chair named, 2 there; b: right
    assert r.scores["exists"] == pytest.approx(0.0)  # bookcase unnamed, sofa wrongly named
    assert (r.labels_named, r.labels_present) == (2, 4)  # a: chair; b: sofa
