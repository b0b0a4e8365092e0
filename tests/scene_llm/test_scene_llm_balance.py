"""Answer distributions per type, and the balance and wording split of a dataset generated from
tiny rooms (four seeds of the generator's tiny preset, with more objects so that pairs exist)."""

from __future__ import annotations

from collections import Counter

import pytest

from data_tools import qa_generate
from lerf3d.ground_truth import load_ground_truth
from lerf3d.scene_llm.data.balance import answer_distribution, format_distribution, merge_distributions
from lerf3d.scene_llm.data.dataset import SPLITS, DatasetConfig, QARecord, generate_dataset, load_split
from lerf3d.scene_llm.data.language import normalise_answer
from lerf3d.scene_llm.data.wording import (
    EVAL_FAMILIES,
    HELD_OUT_FAMILY,
    TRAIN_FAMILIES,
    TRAIN_ONLY_FAMILIES,
    is_held_out_wording,
)

VOCABULARY = ["piano", "sofa", "bed", "desk", "bookcase", "armchair", "lamp", "stool"]


def test_answer_distribution_and_majority_share():
    records = [QARecord("a", "exists", "q", "yes"), QARecord("a", "exists", "q", "no"),
               QARecord("a", "exists", "q", "no"), QARecord("a", "count", "q", "2"),
               QARecord("a", "caption", "Describe what you see.", "I see a bed.", "f0")]
    stats = answer_distribution(records)
    assert list(stats) == ["exists", "count"]  # captions are sentences: left out
    assert stats["exists"].counts == {"no": 2, "yes": 1} and stats["exists"].majority == "no"
    assert stats["exists"].majority_share == pytest.approx(2 / 3) and stats["count"].majority_share == 1
    merged = merge_distributions([stats, answer_distribution([QARecord("b", "exists", "q", "yes")] * 3)])
    assert merged["exists"].counts == {"yes": 4, "no": 2} and merged["exists"].total == 6
    line = format_distribution(stats)[0]
    assert line.startswith("exists") and "majority 'no' 0.67" in line and "yes 0.33" in line


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    base = tmp_path_factory.mktemp("qa_rooms")
    return [generate_room(RoomConfig.preset("tiny", seed=seed, num_objects=8, num_tabletop=2,
                                            cache_dir=base / "models"), base / f"room_{seed}").out_dir
            for seed in range(1, 5)]


@pytest.fixture(scope="module")
def dataset(rooms, tmp_path_factory):
    out = tmp_path_factory.mktemp("qa_dataset")
    summary = generate_dataset(rooms, out, DatasetConfig(seed=0, val_fraction=0.25, test_fraction=0.25),
                               VOCABULARY)
    return out, summary


def test_held_out_wording_never_in_train_and_spread_over_test(dataset):
    out, _ = dataset
    train, test = load_split(out, 2, "train"), load_split(out, 2, "test")
    assert train and test
    assert not any(is_held_out_wording(r) for r in train)
    assert set(Counter(r.family for r in train)) == set(TRAIN_FAMILIES)  # every other evaluated family trains
    assert any(is_held_out_wording(r) for r in test)
    for (scene, kind), n in Counter((r.scene, r.type) for r in test).items():
        if n >= len(EVAL_FAMILIES):  # a type asked at least once per family in a room has every family
            assert {r.family for r in test if (r.scene, r.type) == (scene, kind)} == set(EVAL_FAMILIES)


def test_training_only_wordings_change_the_training_split_alone(dataset, rooms, tmp_path):
    out, _ = dataset
    config = DatasetConfig(seed=0, val_fraction=0.25, test_fraction=0.25, train_only_wordings=True)
    generate_dataset(rooms, tmp_path, config, VOCABULARY)
    for split in ("val", "test"):  # the evaluated questions are the same records, word for word
        assert load_split(tmp_path, 2, split) == load_split(out, 2, split)
    train, before = load_split(tmp_path, 2, "train"), load_split(out, 2, "train")
    families = Counter(r.family for r in train)
    assert set(families) == set(TRAIN_FAMILIES + TRAIN_ONLY_FAMILIES) and HELD_OUT_FAMILY not in families
    assert sorted((r.scene, r.type, r.answer) for r in train) == sorted((r.scene, r.type, r.answer) for r in before)


def test_generated_answers_are_balanced_and_normal(dataset, rooms):
    out, summary = dataset
    masks = {t.scene: set(t.mask_paths) for t in map(load_ground_truth, rooms)}
    everything = [r for split in SPLITS for r in load_split(out, 2, split)]
    assert all(normalise_answer(r.answer) == r.answer for r in everything)
    ego = [r for r in everything if r.type == "ego_relation"]
    assert len(ego) >= 10 and all(r.frame in masks[r.scene] for r in ego)
    assert all(r.frame is None for r in everything if r.type != "ego_relation")
    rooms_count = len(rooms)
    for split in SPLITS:
        records = load_split(out, 2, split)
        answers = {kind: Counter(r.answer for r in records if r.type == kind)
                   for kind in ("exists", "ego_relation")}
        assert answers["exists"]["yes"] == answers["exists"]["no"]  # balanced per split
        # each room is off by at most one (an odd number of pairs)
        assert abs(answers["ego_relation"]["left"] - answers["ego_relation"]["right"]) <= rooms_count
    stats = merge_distributions(summary.answers.values())
    assert stats["ego_relation"].majority_share <= 0.6 and stats["exists"].majority_share == 0.5
    relation = stats["relation"].counts
    assert abs(relation.get("left", 0) - relation.get("right", 0)) <= rooms_count
    assert relation.get("yes", 0) == relation.get("no", 0)
    assert stats["count"].majority_share <= 0.5  # not dominated by 0 or 1
    shares = {a: n / stats["count"].total for a, n in stats["count"].counts.items()}
    assert shares.get("0", 0) + shares.get("1", 0) < 0.8


def test_qa_generate_prints_the_answer_distribution(rooms, tmp_path, capsys):
    assert qa_generate.main([*map(str, rooms), "--out", str(tmp_path / "d"), "--ego-pairs", "4"]) == 0
    printed = capsys.readouterr().out
    assert "answers per type" in printed
    lines = {line.split()[0]: line for line in printed.splitlines()[1:] if "majority" in line}
    assert {"count", "exists", "ego_relation", "relation"} <= set(lines)
    assert "majority 'no' 0.50" in lines["exists"] or "majority 'yes' 0.50" in lines["exists"]
    ego = [r for split in SPLITS for r in load_split(tmp_path / "d", 2, split) if r.type == "ego_relation"]
    assert 0 < len(ego) <= 4 * len(rooms)  # --ego-pairs caps each room
    assert qa_generate.main([str(rooms[0]), "--out", str(tmp_path / "e"), "--ego-pairs", "-1"]) == 1
