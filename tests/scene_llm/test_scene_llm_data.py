"""Question generation on a hand-made scene, JSONL files, scene splits, and the generator CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from data_tools import qa_generate
from lerf3d.ground_truth import GroundTruth, GroundTruthObject, load_ground_truth
from lerf3d.scene_llm.data.dataset import (
    DatasetConfig,
    QARecord,
    generate_dataset,
    load_manifest,
    load_split,
    load_vocabulary,
    read_jsonl,
    split_scenes,
    write_jsonl,
)
from lerf3d.scene_llm.data.language import is_the, normalise_answer, plural, there_is, with_article
from lerf3d.scene_llm.data.questions import (
    QA,
    QuestionConfig,
    attribute_questions,
    caption_text,
    count_questions,
    draw_absent,
    existence_questions,
    frame_caption,
    location_questions,
    nearest_questions,
    relation_questions,
    room_bounds,
)

CFG = QuestionConfig(min_pixels=10)


def _obj(iid, label, category, lo, hi):
    return GroundTruthObject(iid, label, category, np.array(lo, float), np.array(hi, float))


@pytest.fixture
def scene(tmp_path) -> GroundTruth:
    """A 4 m x 4 m room: bed (south-west), table with a lamp on it (north-east), two chairs."""
    objects = (
        _obj(1, "floor", "structure", [-2, -2, -0.05], [2, 2, 0]),
        _obj(7, "bed", "Bedroom", [-1.5, -1.8, 0], [-0.5, -0.3, 0.5]),
        _obj(8, "table", "Living room", [0.8, 0.8, 0], [1.6, 1.6, 0.75]),
        _obj(9, "lamp", "Lights", [1.0, 1.0, 0.75], [1.3, 1.3, 1.2]),
        _obj(10, "chair", "Living room", [0.2, -1.8, 0], [0.7, -1.3, 0.9]),
        _obj(11, "chair", "Living room", [1.2, -1.8, 0], [1.7, -1.3, 0.9]),
    )
    mask = np.zeros((10, 10), np.uint16)
    mask[:4] = 7  # bed 40 px
    mask[4:6] = 10  # chair 20 px
    mask[6:8] = 11  # chair 20 px
    mask[8, :5] = 9  # lamp 5 px: below the threshold
    Image.fromarray(mask).save(tmp_path / "m0.png")
    return GroundTruth(tmp_path / "ground_truth.json", "hand", objects, {"f0": tmp_path / "m0.png"})


def _answers(qas: list[QA]) -> dict[str, str]:
    return {qa.question: qa.answer for qa in qas}


def test_language_helpers():
    assert [plural(w) for w in ("chair", "box", "couch", "vanity", "shelves", "chair with cushion")] == [
        "chairs", "boxes", "couches", "vanities", "shelves", "chairs with cushion"]
    assert [with_article(w) for w in ("oven", "bed", "slippers")] == ["an oven", "a bed", "some slippers"]
    assert there_is("slippers") == "Are there any slippers" and there_is("oven") == "Is there an oven"
    assert is_the("headphones") == "Are the headphones" and is_the("bed") == "Is the bed"
    assert caption_text([("chair", 2), ("oven", 1), ("lamp", 1)]) == "I see two chairs, an oven and a lamp."
    assert normalise_answer(" The Chair. ") == "chair" and normalise_answer("Two") == "2"
    assert normalise_answer("north-east") == "north-east"


def test_caption_counts_pixels(scene):
    assert frame_caption(scene, "f0", min_pixels=10) == "I see a bed and two chairs."
    assert frame_caption(scene, "f0", min_pixels=5) == "I see a bed, two chairs and a lamp."
    assert frame_caption(scene, "f0", min_pixels=100) == "I see no furniture."


def test_counts_and_balanced_existence(scene):
    objects = scene.furniture
    assert _answers(count_questions(objects)) == {
        "How many beds are there in the room?": "1", "How many chairs are there in the room?": "2",
        "How many lamps are there in the room?": "1", "How many tables are there in the room?": "1"}
    exists = existence_questions(objects, ["bed", "piano", "sofa", "desk"], np.random.default_rng(0))
    answers = [qa.answer for qa in exists]
    assert answers.count("yes") == answers.count("no") == 3
    assert "Is there a piano in the room?" in _answers(exists)
    counts = _answers(count_questions(objects, ["bed", "piano", "sofa"], np.random.default_rng(0)))
    # one label counted twice: as many counted once and as many absent, so no answer dominates
    assert sorted(counts.values()) == ["0", "1", "2"]
    assert counts["How many chairs are there in the room?"] == "2"
    assert {"How many pianos are there in the room?", "How many sofas are there in the room?"} & set(counts)
    every = _answers(count_questions(objects, ["bed", "piano", "sofa"], np.random.default_rng(0), balance=False))
    assert len(every) == 6 and sorted(every.values()).count("0") == 2  # 4 present; absent as often as 1s


def test_absent_labels_follow_the_room_frequencies():
    rng, present = np.random.default_rng(0), ["bed"]
    weights = {"bed": 5, "sofa": 3, "desk": 1, "piano": 0}
    draws = [draw_absent(present, ["bed", "sofa", "desk", "piano", "harp"], 1, rng, weights)[0]
             for _ in range(400)]
    assert set(draws) == {"sofa", "desk"}  # never a label no room holds
    assert 0.65 < draws.count("sofa") / len(draws) < 0.85  # 3 : 1
    assert draw_absent(present, ["bed", "sofa"], 5, rng, weights) == ["sofa"]
    assert draw_absent(present, ["bed", "sofa", "piano"], 5, rng) == ["piano", "sofa"]  # uniform, no weights


def test_attributes_nearest_relations_location(scene):
    objects, rng = scene.furniture, np.random.default_rng(0)
    attributes = _answers(attribute_questions(objects, CFG, rng))
    assert attributes["What kind of furniture is the lamp? Answer with its category."] == "lights"
    taller = {frozenset(qa.labels): qa.answer for qa in attribute_questions(objects, CFG, rng)
              if qa.kind == "taller"}
    assert taller[frozenset({"table", "lamp"})] == "table" and taller[frozenset({"table", "bed"})] == "table"
    assert frozenset({"bed", "lamp"}) not in taller  # 5 cm apart: a tie
    assert not any("chair" in q for q in attributes)  # two chairs: "the chair" is ambiguous
    assert _answers(nearest_questions(objects, CFG)) == {
        "Which object is nearest to the bed?": "chair", "Which object is nearest to the table?": "lamp",
        "Which object is nearest to the lamp?": "table"}
    relations = relation_questions(objects, CFG, rng)
    sides = {qa.labels: qa.answer for qa in relations if qa.kind == "side"}
    # bed x [-1.5, -0.5] is left of the table [0.8, 1.6] and the lamp [1.0, 1.3]; whichever way asked
    assert sides == {("bed", "table"): "left", ("lamp", "bed"): "right"} or \
        {("table", "bed"): "right", ("lamp", "bed"): "right"} == sides or \
        {("bed", "table"): "left", ("bed", "lamp"): "left"} == sides or \
        {("table", "bed"): "right", ("bed", "lamp"): "left"} == sides
    assert sorted(sides.values()) == ["left", "right"]  # two pairs: one of each answer
    assert not any(set(k) == {"table", "lamp"} for k in sides)  # overlapping in x
    answers = _answers(relations)
    assert answers["Is the lamp on top of the table?"] == "yes"
    assert list(answers.values()).count("yes") == list(answers.values()).count("no") == 1
    location = location_questions(objects, room_bounds(scene), CFG)
    answers = {qa.question.split("?")[0]: qa.answer for qa in location}
    quarter = "In which quarter of the room is the bed: north-east, north-west, south-east or south-west"
    assert answers[quarter] == "south-west"
    assert answers["Which wall is the bed closest to: north, south, east or west"] == "south"
    assert "Which wall is the table closest to: north, south, east or west" not in answers  # a tie
    assert all("+y" in qa.question for qa in location)


def test_jsonl_roundtrip_and_errors(tmp_path):
    records = [QARecord("s", "caption", "q", "a", frame="f0"), QARecord("s", "count", "how many?", "2")]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    assert read_jsonl(path) == records
    assert [p.name for p in tmp_path.iterdir()] == ["d.jsonl"]  # no temporary file left behind
    lines = path.read_text().splitlines()
    old = json.dumps({"scene": "s", "type": "count", "question": "q", "answer": "2", "frame": None})
    path.write_text(old + "\n")  # a line written before wording families: family 0
    assert read_jsonl(path) == [QARecord("s", "count", "q", "2", family=0)]
    ego = QARecord("s", "ego_relation", "Seen from this view, is the bed left or right of the desk?", "left",
                   frame="f3", family=2)
    write_jsonl(path, [ego])
    assert read_jsonl(path) == [ego] and ego.stage == 2
    bad_cases = {
        "{not json": "d.jsonl:2: ",
        json.dumps({"scene": "s", "type": "count", "question": "q"}): "d.jsonl:2: .*answer",
        json.dumps({"scene": "s", "type": "dance", "question": "q", "answer": "a"}): "d.jsonl:2: type",
        json.dumps({"scene": "s", "type": "caption", "question": "q", "answer": "a"}): "d.jsonl:2: .*frame",
        json.dumps({"scene": "s", "type": "count", "question": "q", "answer": "a", "x": 1}):
            "d.jsonl:2: unknown",
        json.dumps({"scene": "s", "type": "ego_relation", "question": "q", "answer": "left"}):
            "d.jsonl:2: .*needs frame",
        json.dumps({"scene": "s", "type": "count", "question": "q", "answer": "a", "family": "1"}):
            "d.jsonl:2: family",
        "[1, 2]": "d.jsonl:2: expected a JSON object",
    }
    for line, message in bad_cases.items():
        path.write_text(lines[0] + "\n" + line + "\n\n")
        with pytest.raises(ValueError, match=message):
            read_jsonl(path)


def test_split_by_scene():
    scenes = [f"room_{i}" for i in range(10)]
    split = split_scenes(scenes, 0.2, 0.2, seed=3)
    assert split == split_scenes(list(reversed(scenes)), 0.2, 0.2, seed=3)  # order-free, deterministic
    assert sorted(split.values()).count("val") == 2 and list(split.values()).count("test") == 2
    assert split != split_scenes(scenes, 0.2, 0.2, seed=4)
    assert set(split_scenes(["a", "b", "c"], 0.1, 0.1, 0).values()) == {"train", "val", "test"}
    assert set(split_scenes(["a"], 0.2, 0.2, 0).values()) == {"train"}
    with pytest.raises(ValueError, match="unique"):
        split_scenes(["a", "a"], 0.2, 0.2, 0)


def test_generate_dataset_and_cli_are_deterministic(tiny_room, tmp_path, capsys):
    config = DatasetConfig(seed=1, balance_labels=False)  # one room: balanced, no label is ever absent
    summary = generate_dataset([tiny_room], tmp_path / "a", config, vocabulary=["piano", "sofa"])
    assert qa_generate.main([str(tiny_room), "--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    assert "train: 1 scene(s)" in capsys.readouterr().out
    generate_dataset([tiny_room], tmp_path / "c", config, vocabulary=["piano", "sofa"])
    for name in ("stage1_train.jsonl", "stage2_train.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    captions = load_split(tmp_path / "a", 1, "train")
    assert len(captions) == 12 and all(r.frame and r.answer.startswith("I see") for r in captions)
    questions = load_split(tmp_path / "a", 2, "train")
    assert {"count", "exists"} <= {r.type for r in questions}
    furniture = {(tuple(o.box_min), tuple(o.box_max)): o.label for o in load_ground_truth(tiny_room).furniture}
    for r in questions:  # each answer carries the boxes of the objects it rests on
        if r.type == "count":
            assert len(r.boxes) == int(r.answer)
        assert all((box[:3], box[3:]) in furniture and furniture[(box[:3], box[3:])] in f"{r.question} {r.answer}" for box in r.boxes)
    assert any(r.boxes for r in questions if r.type == "location")
    assert summary.counts["train"]["caption"] == 12
    entry = load_manifest(tmp_path / "a")[summary.scenes and next(iter(summary.scenes))]
    assert entry.capture == tiny_room.resolve() and entry.split == "train"
    room_labels = {o.label for o in load_ground_truth(tiny_room).furniture}
    assert load_vocabulary(tmp_path / "a") == sorted(room_labels | {"piano", "sofa"})  # recorded
    manifest = tmp_path / "a" / "scenes.json"
    manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items() if k != "vocabulary"}))
    assert load_vocabulary(tmp_path / "a") == sorted(room_labels)  # older manifests: training rooms' labels
    assert qa_generate.main([str(tmp_path / "missing"), "--out", str(tmp_path / "d")]) == 1
