"""Intervals of a Scene-LLM evaluation over its rooms and paired comparisons of two evaluations."""

from __future__ import annotations

import json

import pytest

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.wording import HELD_OUT_FAMILY
from lerf3d.scene_llm.use.intervals import (
    ALL,
    Outcome,
    answer_outcomes,
    compare_outcomes,
    comparison_table,
    figure_intervals,
    interval_line,
    load_outcomes,
    method_intervals,
)


def _outcomes(rows):
    """(scene, type, right) triples as outcomes, each question its own text."""
    return [Outcome(s, t, f"q{i}", False, r) for i, (s, t, r) in enumerate(rows)]


def test_outcomes_are_scored_by_the_answer_normaliser_and_keep_the_wording_family():
    records = [QARecord("a", "count", "How many chairs?", "2"),
               QARecord("a", "exists", "Is there a bed?", "yes", family=HELD_OUT_FAMILY),
               QARecord("b", "exists", "Is there a sofa?", "no")]
    got = answer_outcomes(records, ["<obj1>, <obj4>: Two", "Yes.", "yes"])
    assert [o.right for o in got] == [True, True, False]
    assert [o.held_out for o in got] == [False, True, False]
    assert [(o.scene, o.type, o.question) for o in got] == [(r.scene, r.type, r.question) for r in records]
    assert [(o.answer, o.prediction) for o in got] == [("2", "<obj1>, <obj4>: Two"), ("yes", "Yes."), ("no", "yes")]


def test_intervals_per_type_resample_rooms():
    # counting: right in room a, wrong in room b (two rooms disagree: the interval spans 0 to 1);
    # existence: half right in each room (every draw gives 0.5)
    got = figure_intervals(_outcomes([("a", "count", True), ("a", "count", True), ("b", "count", False),
                                      ("b", "count", False), ("a", "exists", True), ("a", "exists", False),
                                      ("b", "exists", False), ("b", "exists", True)]))
    assert got["count"] == (0.0, 1.0) and got["exists"] == (0.5, 0.5)
    lo, hi = got[ALL]
    assert 0.0 < lo <= 0.5 <= hi < 1.0
    line = interval_line("scene-llm", got, rooms=2)
    assert line.startswith("scene-llm, 95% over the 2 rooms: count 0.00-1.00, exists 0.50-0.50; all ")
    with pytest.raises(ValueError, match="no answered questions"):
        figure_intervals([])


def test_wording_families_get_intervals_apart_when_both_occur():
    trained = _outcomes([("a", "count", True), ("b", "count", True)])
    held = [Outcome(s, "count", "h" + str(i), True, False) for i, s in enumerate("ab")]
    got = method_intervals(trained + held)
    assert list(got) == ["scene-llm", "scene-llm, trained wordings", "scene-llm, held-out wording"]
    assert got["scene-llm, trained wordings"]["count"] == (1.0, 1.0)
    assert got["scene-llm, held-out wording"][ALL] == (0.0, 0.0)
    assert got["scene-llm"]["count"] == (0.5, 0.5)
    assert list(method_intervals(trained)) == ["scene-llm"]  # one family only: no split rows


def test_comparison_is_paired_and_needs_the_same_questions():
    before = _outcomes([("a", "count", False), ("a", "count", True), ("b", "count", False), ("b", "count", True),
                        ("a", "exists", True), ("b", "exists", True)])
    # one more count right in each room, existence unchanged
    after = _outcomes([("a", "count", True), ("a", "count", True), ("b", "count", True), ("b", "count", True),
                       ("a", "exists", True), ("b", "exists", True)])
    got = compare_outcomes(before, after)
    assert got["count"] == (0.5, 0.5, 0.5) and got["exists"] == (0.0, 0.0, 0.0)
    assert got[ALL][0] == pytest.approx(2 / 6)
    table = comparison_table(got, "old.json")
    assert "| count | +0.50 | +0.50 to +0.50 | yes |" in table and "| exists | +0.00 | +0.00 to +0.00 | no |" in table
    assert table.splitlines()[-1].startswith(f"| {ALL} |")  # all last, after the types
    with pytest.raises(ValueError, match="different questions"):
        compare_outcomes(before, after[:-1])
    with pytest.raises(ValueError, match="different questions"):
        compare_outcomes(before, [Outcome(o.scene, o.type, "other " + o.question, False, o.right) for o in after])


def test_reports_without_outcomes_are_refused_with_their_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json: no such evaluation report"):
        load_outcomes(tmp_path / "missing.json")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"split": "test", "scores": []}))
    with pytest.raises(ValueError, match="old.json: the report keeps no per-question outcomes"):
        load_outcomes(old)
    broken = tmp_path / "broken.json"
    broken.write_text('{"outcomes": [')
    with pytest.raises(ValueError, match="broken.json: not a JSON evaluation report"):
        load_outcomes(broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"outcomes": [{"scene": "a", "type": "count"}]}))
    with pytest.raises(ValueError, match="partial.json: malformed outcome row"):
        load_outcomes(partial)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"outcomes": [{"scene": "a", "type": "count", "question": "q", "held_out": False,
                                              "right": True}]}))
    assert load_outcomes(good) == [Outcome("a", "count", "q", False, True)]  # written before answers were kept
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps({"outcomes": [{"scene": "a", "type": "count", "question": "q", "held_out": False,
                                              "right": False, "answer": "2", "prediction": "<obj3>: 1"}]}))
    assert load_outcomes(kept) == [Outcome("a", "count", "q", False, False, "2", "<obj3>: 1")]
