"""The nearest-label reading of scene tokens and the token counter built on it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from lerf3d.ground_truth import GroundTruthObject
from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.questions import count_questions, existence_questions
from lerf3d.scene_llm.use.readout import counter_answer, nearest_labels, question_labels, readout

VOCAB = ["chair", "bookcase", "sofa"]


def _obj(i: int, label: str) -> GroundTruthObject:
    return GroundTruthObject(instance_id=i, label=label, category="Living room",
                             box_min=np.zeros(3), box_max=np.ones(3))


def test_nearest_labels_take_the_best_cosine_whatever_the_norm() -> None:
    texts = torch.eye(3)
    feats = torch.tensor([[0.1, 0.9, 0.0], [5.0, 1.0, 0.0], [0.0, 0.2, 0.3]])
    assert nearest_labels(feats, texts, VOCAB) == ["bookcase", "chair", "sofa"]
    assert nearest_labels(torch.zeros(0, 3), texts, VOCAB) == []


def test_question_labels_invert_the_generators_questions() -> None:
    objects = [_obj(7, "chair"), _obj(8, "chair"), _obj(9, "bookcase")]
    rng = np.random.default_rng(0)
    qas = count_questions(objects, VOCAB, rng) + existence_questions(objects, VOCAB, rng)
    table = question_labels(VOCAB)
    assert {table[(q.type, q.question)] for q in qas} == set(VOCAB)
    named = Counter({"chair": 2, "bookcase": 1})
    for q in qas:  # a perfect reading answers every generated question right
        record = QARecord("room", q.type, q.question, q.answer)
        assert counter_answer(record, named, table) == q.answer


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
