"""The held-out object evaluation's arguments and its pooled table (no room is generated here)."""

from __future__ import annotations

import pytest

from data_tools.objects_eval import RoomResult, parse_levels, parse_seeds, pooled_tables
from lerf3d.objects.evaluate import ObjectEvaluation
from lerf3d.query.evaluate import PhraseScore


def _evaluation(scene: str, recall: float, annotated: int, top1: float, matched: int, exact: float,
                labels: int, exact_furniture: float, small_labels: tuple[str, ...]) -> ObjectEvaluation:
    counts = {f"label {i}": (1, 1) for i in range(labels)}
    matches = tuple((i, i + 1) for i in range(matched))
    return ObjectEvaluation(scene, recall, 1.0, top1, exact, exact_furniture, small_labels, annotated, annotated,
                            counts, matches)


def test_seeds_and_crop_levels_parse():
    assert parse_seeds("7101-7103") == [7101, 7102, 7103]
    assert parse_seeds("7001,7005") == [7001, 7005]
    assert parse_levels("0.5,0.75") == (0.5, 0.75)
    with pytest.raises(ValueError):
        parse_levels("half")


def test_pooled_table_weights_rooms_by_their_objects_and_labels():
    small = RoomResult(1, _evaluation("a", 0.5, 2, 0.0, 1, 0.0, 1, float("nan"), ("label 0",)), [])
    large = RoomResult(2, _evaluation("b", 1.0, 6, 1.0, 3, 1.0, 3, 0.5, ("label 2",)), [])
    table = pooled_tables([small, large])
    # recall (0.5 * 2 + 1.0 * 6) / 8, top-1 (0 * 1 + 1 * 3) / 4, counts (0 * 1 + 1 * 3) / 4, furniture
    # counts 0.5 over room b's 2 labels (room a has none: its NaN weighs nothing)
    assert "| all rooms | 0.88 (8) | 1.00 (8) | 0.75 | 0.75 | 0.50 |" in table
    assert "localisation" not in table  # --objects-only: no views were scored
    views = [PhraseScore("lerf3d-objects", "v", "held_out", "chair", True, 0.5, None, 100),
             PhraseScore("lerf3d-objects", "v", "held_out", "table", False, 0.25, None, 100)]
    tabletop = RoomResult(1, _evaluation("a", 0.5, 2, 0.0, 1, 0.0, 1, float("nan"), ("table",)), views)
    with_views = pooled_tables([tabletop])
    assert "| lerf3d-objects | 2 | 0.500 | 0.375 |" in with_views
    assert "| lerf3d-objects | furniture (every instance >= 0.25 m) | 1 | 1.000 | 0.500 |" in with_views
    assert "| lerf3d-objects | small items | 1 | 0.000 | 0.250 |" in with_views
