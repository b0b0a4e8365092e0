"""ask() on a prepared scene and on a capture folder; exact-match evaluation against baselines."""

from __future__ import annotations

import pytest
import torch

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.train.config import preset
from lerf3d.scene_llm.train.loop import train_scene_llm
from lerf3d.scene_llm.use import ask as ask_module
from lerf3d.scene_llm.use.ask import AskConfig, ask
from lerf3d.scene_llm.use.evaluate import (
    EvalReport,
    evaluate_run,
    exact_match_scores,
    majority_predictions,
    report_name,
)

TINY = preset("tiny")


def _records(*triples):
    return [QARecord("s", t, q, a) for t, q, a in triples]


def test_exact_match_and_majority_baselines():
    train = _records(("exists", "Is there a bed?", "no"), ("exists", "Is there a bed?", "no"),
                     ("exists", "Is there a sofa?", "yes"), ("exists", "Is there a lamp?", "yes"),
                     ("exists", "Is there a cat?", "yes"), ("count", "How many chairs?", "2"))
    test = _records(("exists", "Is there a bed?", "no"), ("exists", "Is there a piano?", "no"),
                    ("count", "How many chairs?", "Two"))
    assert majority_predictions(train, test, by_question=False) == ["yes", "yes", "2"]
    assert majority_predictions(train, test, by_question=True) == ["no", "yes", "2"]
    score = exact_match_scores("m", test, ["No.", "yes", "2"])
    assert score.per_type == {"exists": 0.5, "count": 1.0} and score.overall == pytest.approx(2 / 3)


def test_a_second_layouts_report_does_not_take_the_held_out_rooms_name():
    from pathlib import Path

    assert report_name(Path("build/dataset"), "test") == "eval_test.json"
    assert report_name(Path("build/layout_dataset"), "test", Path("build/dataset")) == "eval_layout_dataset_test.json"


def test_unanswered_questions_and_existence_rates():
    test = _records(("exists", "Is there a bed?", "yes"), ("exists", "Is there a piano?", "no"),
                    ("exists", "Is there a sofa?", "yes"), ("location", "Where is the bed?", "north"))
    score = exact_match_scores("readout", test, ["yes", "yes", "no", None])
    assert score.per_type == {"exists": pytest.approx(1 / 3)} and score.overall == pytest.approx(1 / 3)
    assert (score.exists_yes, score.exists_no) == (0.5, 0.0)
    assert exact_match_scores("m", test[3:], ["north"]).exists_yes is None


def test_relation_scores_its_side_questions_apart_from_its_on_top_ones():
    test = _records(("relation", "Seen from the south wall, is the bed left or right of the desk?", "left"),
                    ("relation", "Seen from the south wall, is the lamp left or right of the sofa?", "Right"),
                    ("relation", "Is the lamp on top of the desk?", "yes"),
                    ("relation", "Is the cup on top of the bed?", "no"))
    score = exact_match_scores("m", test, ["left", "left", "yes", "yes"])
    assert score.per_type == {"relation": 0.5}
    assert (score.relation_sides, score.relation_on_top) == (0.5, 0.5)
    assert exact_match_scores("m", test[:2], ["left", "right"]).relation_on_top is None
    report = EvalReport("test", {"relation": 4}, [score])
    assert "m: relation left/right 0.50, on top 0.50" in report.table()


@pytest.fixture
def trained_run(synthetic_dataset, tmp_path):
    train_scene_llm(TINY, synthetic_dataset, tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_evaluate_run_reports_every_method(trained_run, synthetic_dataset):
    report = evaluate_run(trained_run, synthetic_dataset, split="train", limit=5)
    methods = ["scene-llm", "text-only", "majority-type", "majority-question"]
    assert [s.method for s in report.scores] == methods
    assert report.counts == {"count": 5} and len(report.examples()) == 5
    assert report.table().startswith("| method | count (5) | all |")
    with pytest.raises(ValueError, match="no stage-2 questions"):
        evaluate_run(trained_run, synthetic_dataset, split="test")


def test_ask_on_prepared_features(trained_run, synthetic_dataset):
    answers = ask(synthetic_dataset / "features" / "syn_0.pt", ["Question 0 about scene 0?", "Another?"],
                  AskConfig(trained_run, max_new_tokens=4))
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    with pytest.raises(FileNotFoundError, match="neither a capture folder"):
        ask(synthetic_dataset / "missing.pt", "q", AskConfig(trained_run))


def test_ask_on_a_capture_folder_computes_features(trained_run, tiny_room, monkeypatch):
    """The capture path end to end (fusion + pyramid + back-projection), with a stand-in encoder of the
    run's feature width so no trained tower is needed."""

    class Encoder:
        name, embedding_dim, input_size = "test:mean-colour", 8, 16

        def encode_image(self, images):
            mean = images.mean(dim=(2, 3))  # (B, 3)
            return torch.nn.functional.normalize(torch.cat([mean, 1 - mean, mean[:, :2] ** 2], dim=1), dim=1)

    from lerf3d.features import FeatureExtractor, FeatureExtractorConfig

    monkeypatch.setattr(ask_module, "build_extractor", lambda cfg, cache, device: FeatureExtractor(
        FeatureExtractorConfig(show_progress=False), Encoder(), None, None, device))
    cfg = AskConfig(trained_run, max_new_tokens=3)
    answers = ask(tiny_room, "How many chairs are there in the room?", cfg)
    assert len(answers) == 1


def test_a_grounded_run_trains_on_grounded_answers_and_reports_its_grounding(synthetic_dataset, tmp_path, capsys):
    """The synthetic records carry no boxes: only the absent answers ("no") ground, on no token."""
    import dataclasses

    cfg = dataclasses.replace(TINY, identifiers=True, grounded_answers=True, max_new_tokens=8)
    train_scene_llm(cfg, synthetic_dataset, tmp_path / "run", progress=False)
    assert "stage 2: 2 of 8 answers grounded on their objects' tokens" in capsys.readouterr().out
    report = evaluate_run(tmp_path / "run", synthetic_dataset, split="train", baselines=False)
    assert set(report.grounding) == {"count"} and 0 <= report.grounding["count"] <= 1
    assert "grounding" in report.table()
    assert set(report.listing) == {"count"}  # the same questions, told apart by how their lists miss
    listed = report.listing["count"]
    assert listed["exact"] / sum(listed.values()) == pytest.approx(report.grounding["count"])
    assert "listed (exact / too few / too many / other): count" in report.table()
