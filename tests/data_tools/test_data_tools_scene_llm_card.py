"""The Scene-LLM demo card's evaluation table: methods x types, then the scene model's intervals
over the rooms, the existence rates and the grounding line, read from an llm-eval report; the
training line's listing sentence and its training-only wordings, read from the training records."""

from __future__ import annotations

import argparse
import json
import shlex

from data_tools.scene_llm_card import (
    census_text,
    crop_text,
    grounding_text,
    hints_text,
    link_text,
    listing_text,
    readout_comparison,
    rebuild_flags,
    report_table,
    uses_train_only_wordings,
)


def _report(**extra) -> dict:
    return {
        "counts": {"count": 2, "exists": 2},
        "scores": [{"method": "scene-llm", "per_type": {"count": 0.5, "exists": 1.0}, "overall": 0.75,
                    "exists_yes": 1.0, "exists_no": 1.0},
                   {"method": "object-readout", "per_type": {"count": 1.0}, "overall": 1.0}],
        **extra,
    }


def test_card_table_reads_the_report_and_its_intervals():
    outcomes = [{"scene": s, "type": t, "question": f"q{i}", "held_out": False, "right": r}
                for i, (s, t, r) in enumerate([("a", "count", True), ("b", "count", False),
                                               ("a", "exists", True), ("b", "exists", True)])]
    lines = report_table(_report(outcomes=outcomes, intervals={"scene-llm": {
        "count": [0.0, 1.0], "exists": [1.0, 1.0], "all": [0.5, 1.0]}}))
    assert lines[:4] == ["| method | count (2) | exists (2) | all |", "|---|---|---|---|",
                         "| scene-llm | 0.50 | 1.00 | 0.75 |", "| object-readout | 1.00 | – | 1.00 |"]
    assert "scene-llm, 95% over the 2 rooms: count 0.00-1.00, exists 1.00-1.00; all 0.50-1.00" in lines
    assert "Existence, yes-rate on present objects / no-rate on absent ones: scene-llm 1.00 / 1.00" in lines


def test_the_card_scores_the_relation_sides_apart_when_the_report_has_them():
    report = _report()
    report["scores"][0].update(relation_sides=0.84, relation_on_top=0.72)
    assert "Relation, left or right seen from the south wall / on top: scene-llm 0.84 / 0.72" in report_table(report)


def test_reports_written_before_intervals_still_make_a_card():
    lines = report_table(_report())
    assert not any("over the" in line for line in lines) and len(lines) == 6


def test_the_card_names_the_listing_questions_only_when_trained_with_them():
    assert "list every X" in listing_text({"listing_questions": True})
    assert listing_text({"listing_questions": False}) == listing_text({}) == ""


def test_the_card_says_how_tokens_are_named_from_crops_and_as_objects():
    crops = crop_text({"tokens": {"crop_views": 5}})
    assert "crops of the segment in the 5 frames" in crops and "touch or stand stacked" not in crops
    assert "touch or stand stacked are one token" in crop_text({"tokens": {"crop_views": 5, "name_objects": True}})
    assert crop_text({"tokens": {}}) == ""


def test_the_card_names_the_links_a_token_is_followed_by():
    assert link_text({}) == ""
    assert link_text({"neighbour_links": True}).startswith(", then `near <objJ>`")
    assert "`near <objJ> desk`" in link_text({"neighbour_links": True, "neighbour_names": True})
    walls = link_text({"neighbour_links": True, "wall_links": True})
    assert "`near <objJ>`" in walls and walls.endswith("(none for a view's egocentric tokens)")


def test_the_card_names_the_question_hints_and_their_count_only_when_trained_with_them():
    assert "followed by the 5 tokens" in hints_text({"question_hints": 5})
    assert hints_text({"question_hints": 0}) == hints_text({}) == ""


def test_the_card_says_how_answers_are_grounded_and_what_the_census_is():
    grounded = {"grounded_answers": True}
    assert "<obj2>, <obj7>: 2" in grounding_text(grounded) and "alone" not in grounding_text(grounded)
    plain = grounding_text({**grounded, "grounded_lists": False, "census": True, "grounded_links": True})
    assert "answer alone" in plain and "read off the census" in plain and "near <obj5>" in plain
    assert "<obj2>, <obj7>: 2" not in plain and "near <obj5> 2 7: desk" in plain
    assert "near <obj5>: desk" in grounding_text({**grounded, "grounded_links": True, "neighbour_names": True})
    first = grounding_text({**grounded, "count_first": True, "census": True})
    assert "2: <obj2>, <obj7>" in first and "number read off the census" in first
    assert "number first" not in grounding_text({**grounded, "count_first": True, "grounded_lists": False})
    assert "left out" in grounding_text({**grounded, "drop_ungrounded_lists": True})
    assert "left out" not in grounding_text(grounded)
    assert grounding_text({"grounded_lists": False}) == grounding_text({}) == ""
    assert "Counts: sofa 1" in census_text({"census": True}) and census_text({}) == ""


def test_the_card_compares_counting_and_existence_with_the_readout_from_the_report():
    report = _report()  # scene-llm count 0.5, exists 1.0; the readout counts only, 1.0
    assert readout_comparison(report) == "the model answers counting worse than that reading (0.50 against 1.00)"
    report["scores"][1]["per_type"].update(count=0.51, exists=0.9)
    assert readout_comparison(report) == ("the model answers counting as well as that reading (0.50 against 0.51)"
                                          " and existence better than that reading (1.00 against 0.90)")
    report["scores"].pop()
    assert readout_comparison(report) == "the report has no object-readout row to compare with"


def test_the_card_reads_the_training_only_wordings_from_the_training_records(tmp_path):
    """Lines as the dataset format documents them: families 0-3 only, then one family-7 question."""
    def write(families):
        rows = [{"scene": "room_0", "type": "exists", "question": f"Is there a chair? ({f})", "answer": "yes",
                 "frame": None, "family": f, "boxes": []} for f in families]
        (tmp_path / "stage2_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    write([0, 1, 2, 3])
    assert not uses_train_only_wordings(tmp_path)
    write([0, 1, 7])
    assert uses_train_only_wordings(tmp_path)


def test_the_rebuild_command_carries_steps_wordings_a_non_default_voxel_and_every_set():
    args = argparse.Namespace(steps1=None, steps2=540, set=["seed=1", "stage2.lora.target_modules=[\"q_proj\"]"])
    flags = rebuild_flags(args, True, 0.02)
    assert flags.startswith(" --steps2 540 --train-only-wordings --voxel 0.02 --set seed=1 --set ")
    assert shlex.split(flags)[-1] == 'stage2.lora.target_modules=["q_proj"]'  # quoted for the shell
    assert rebuild_flags(args, False, 0.04) == " --steps2 540 --set seed=1 --set " + shlex.quote(args.set[1])
    bare = argparse.Namespace(steps1=None, steps2=None, set=[])
    assert rebuild_flags(bare, False, None) == ""
