"""Grounded answers: the objects a generated answer rests on, matched to scene tokens by hand."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from lerf3d.ground_truth import GroundTruthObject
from lerf3d.scene_llm.data.dataset import QARecord, read_jsonl, write_jsonl
from lerf3d.scene_llm.data.grounding import answer_boxes, answer_objects
from lerf3d.scene_llm.data.language import grounded_text, normalise_answer, split_grounding, strip_grounding
from lerf3d.scene_llm.data.questions import QA
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.scene_llm.train.config import SceneLLMConfig
from lerf3d.scene_llm.train.grounding import ground_records, grounded_answer, match_boxes


def _obj(iid, label, lo, hi):
    return GroundTruthObject(iid, label, "Living room", np.array(lo, float), np.array(hi, float))


# a 4 m x 4 m room: two chairs (the east one listed first), a bed, a desk by the bed, a lamp far off
CHAIR_EAST = _obj(1, "chair", [1.0, -1.8, 0], [1.5, -1.3, 0.9])
CHAIR_WEST = _obj(2, "chair", [-1.5, -1.8, 0], [-1.0, -1.3, 0.9])
BED = _obj(3, "bed", [-1.8, 0.0, 0], [-0.8, 1.8, 0.5])
DESK = _obj(4, "desk", [-0.6, 0.5, 0], [0.2, 1.0, 0.75])
LAMP = _obj(5, "lamp", [1.5, 1.5, 0], [1.8, 1.8, 1.5])
ROOM = [CHAIR_EAST, CHAIR_WEST, BED, DESK, LAMP]


def test_answer_objects_are_the_ones_each_kind_of_answer_rests_on():
    assert answer_objects(QA("count", "count", ("chair",), "2"), ROOM) == [CHAIR_WEST, CHAIR_EAST]  # west first
    assert answer_objects(QA("exists", "exists", ("sofa",), "no"), ROOM) == []
    assert answer_objects(QA("location", "quarter", ("lamp",), "north-east"), ROOM) == [LAMP]
    assert answer_objects(QA("relation", "side", ("lamp", "bed"), "right"), ROOM) == [LAMP, BED]
    assert answer_objects(QA("nearest", "nearest", ("bed",), "desk"), ROOM) == [BED, DESK]
    assert answer_objects(QA("attribute", "taller", ("bed", "lamp"), "lamp"), ROOM) == [BED, LAMP]  # asked order
    assert answer_objects(QA("attribute", "category", ("desk",), "office"), ROOM) == [DESK]
    ego = QA("ego_relation", "ego_side", ("lamp", "bed"), "left", frame="frame_00001")
    assert answer_objects(ego, ROOM) == []  # a view's tokens are in its camera frame
    assert answer_boxes(QA("location", "wall", ("bed",), "west"), ROOM) == ((-1.8, 0.0, 0.0, -0.8, 1.8, 0.5),)
    with pytest.raises(ValueError, match="not all in the room"):
        answer_objects(QA("location", "wall", ("sofa",), "west"), ROOM)


def test_records_keep_their_boxes_through_a_file_and_refuse_bad_ones(tmp_path):
    record = QARecord("r", "location", "Where is the lamp?", "north-east", boxes=[[1.5, 1.5, 0, 1.8, 1.8, 1.5]])
    assert record.boxes == ((1.5, 1.5, 0.0, 1.8, 1.8, 1.5),)
    path = write_jsonl(tmp_path / "q.jsonl", [record])
    assert json.loads(path.read_text())["boxes"] == [[1.5, 1.5, 0.0, 1.8, 1.8, 1.5]]
    assert read_jsonl(path) == [record]
    assert QARecord("r", "count", "How many?", "2").boxes == ()  # files written without boxes
    for bad, problem in (([[0, 0, 0, 1, 1]], "6 numbers"), ([[1, 0, 0, 0, 1, 1]], "minimum <= maximum"),
                         ([[0, 0, float("nan"), 1, 1, 1]], "finite"), ("box", "a list"),
                         ([[0, 0, True, 1, 1, 1]], "6 numbers")):
        with pytest.raises(ValueError, match=problem):
            QARecord("r", "count", "How many?", "2", boxes=bad)


@pytest.mark.parametrize("text, answer", [
    ("<obj1>, <obj4>: 2", "2"), ("<obj3> 8 1: north east", "north-east"), ("none: no", "no"),
    ("<obj0> 2 3, <obj12> 7 7: to the left", "left"), ("<obj5>: the desk", "desk"), ("two", "2"),
    ("no, there is none", "no"),
])
def test_the_normaliser_reads_a_grounded_answer_as_its_answer(text, answer):
    assert normalise_answer(text) == answer


def test_text_that_only_looks_like_grounding_is_kept():
    assert strip_grounding("<obj1> is a chair") == "<obj1> is a chair"  # no colon: not a grounding
    assert strip_grounding("nonexistent: 2") == "nonexistent: 2"
    assert grounded_text([], "0") == "none: 0" and grounded_text(["<obj2>", "<obj7>"], "2") == "<obj2>, <obj7>: 2"


def _tokens(xyz) -> SceneTokens:
    xyz = torch.tensor(xyz, dtype=torch.float32)
    return SceneTokens(xyz, torch.zeros(len(xyz), 4), None, "scene")


# token 0: the west chair, 1: bed, 2: desk, 3: the east chair, 4: lamp (shade: 5 cm outside its box)
TOKENS = _tokens([[-1.25, -1.5, 0.4], [-1.3, 0.9, 0.3], [-0.2, 0.7, 0.5], [1.25, -1.55, 0.45], [1.65, 1.65, 1.55]])
DIGITS = torch.tensor([[1, 1], [1, 7], [4, 6], [8, 1], [9, 9]])


def test_boxes_match_the_token_inside_nearest_their_centre():
    boxes = answer_boxes(QA("count", "count", ("chair",), "2"), ROOM)
    assert match_boxes(TOKENS, boxes) == [0, 3]
    assert match_boxes(TOKENS, [(5, 5, 0, 6, 6, 1)]) == [None]  # no token on it
    assert match_boxes(TOKENS, [(1.5, 1.5, 0, 1.8, 1.8, 1.5)]) == [4]  # within the margin
    assert match_boxes(_tokens(np.zeros((0, 3))), [(0, 0, 0, 1, 1, 1)]) == [None]
    with pytest.raises(ValueError, match="scene-frame"):
        match_boxes(SceneTokens(TOKENS.xyz, TOKENS.features, None, "ego"), boxes)


def _record(qa: QA, **kw) -> QARecord:
    return QARecord("r", qa.type, qa.question, qa.answer, qa.frame, boxes=answer_boxes(qa, ROOM), **kw)


def test_grounded_answers_name_the_tokens_then_answer():
    count = _record(QA("count", "count", ("chair",), "2"))
    assert grounded_answer(count, TOKENS, DIGITS) == "<obj0>, <obj3>: 2"  # counts list no digits
    absent = _record(QA("exists", "exists", ("sofa",), "no"))
    assert grounded_answer(absent, TOKENS, DIGITS) == "none: no"
    where = _record(QA("location", "quarter", ("lamp",), "north-east"))
    assert grounded_answer(where, TOKENS, DIGITS) == "<obj4> 9 9: north-east"
    assert grounded_answer(where, TOKENS) == "<obj4>: north-east"
    nearest = _record(QA("nearest", "nearest", ("bed",), "desk"))
    assert grounded_answer(nearest, TOKENS, DIGITS) == "<obj1> 1 7, <obj2> 4 6: desk"
    side = _record(QA("relation", "side", ("lamp", "bed"), "right"))
    assert grounded_answer(side, TOKENS, DIGITS) == "<obj4> 9 9, <obj1> 1 7: right"
    taller = _record(QA("attribute", "taller", ("bed", "lamp"), "lamp"))
    assert grounded_answer(taller, TOKENS, DIGITS) == "<obj1> 1 7, <obj4> 9 9: lamp"  # in the question's order
    for record in (count, absent, where, nearest, side, taller):  # scoring sees the plain answer
        assert normalise_answer(grounded_answer(record, TOKENS, DIGITS)) == record.answer


def test_a_linked_nearest_answer_reads_as_the_anchors_block():
    """With scene-graph links the bed's block ends "near <obj2>": the answer continues it."""
    nearest = _record(QA("nearest", "nearest", ("bed",), "desk"))
    assert grounded_answer(nearest, TOKENS, DIGITS, linked=True) == "<obj1> 1 7 near <obj2> 4 6: desk"
    assert grounded_answer(nearest, TOKENS, linked=True) == "<obj1> near <obj2>: desk"
    assert normalise_answer("<obj1> 1 7 near <obj2> 4 6: desk") == "desk"
    assert split_grounding("<obj1> 1 7 near <obj2> 4 6: the desk") == ("<obj1> 1 7 near <obj2> 4 6", "the desk")
    side = _record(QA("relation", "side", ("lamp", "bed"), "right"))  # only nearest answers follow a link
    assert grounded_answer(side, TOKENS, DIGITS, linked=True) == "<obj4> 9 9, <obj1> 1 7: right"
    out, _ = ground_records([nearest], lambda name: TOKENS, lambda tokens: DIGITS, linked=True)
    assert out[0].answer == "<obj1> 1 7 near <obj2> 4 6: desk"
    # a link that names its token ("near <obj2> desk" in the bed's block): the nearest without digits
    named, _ = ground_records([nearest], lambda name: TOKENS, lambda tokens: DIGITS, linked=True, named=True)
    assert named[0].answer == "<obj1> 1 7 near <obj2>: desk" and normalise_answer(named[0].answer) == "desk"
    assert strip_grounding("near <obj2>: desk") == "near <obj2>: desk"  # a link alone names no anchor
    with pytest.raises(ValueError, match="grounded_links"):
        SceneLLMConfig(grounded_answers=True, identifiers=True, grounded_links=True)  # no links


def test_answers_that_cannot_be_grounded_stay_plain():
    lamp_missing = _record(QA("location", "quarter", ("lamp",), "north-east"))
    assert grounded_answer(lamp_missing, TOKENS.select(torch.tensor([0, 1, 2, 3]))) is None
    one_token = _tokens([[0.0, -1.5, 0.4]])  # one blob where two chairs stand side by side
    both = _record(QA("count", "count", ("chair",), "2"))
    assert grounded_answer(replace(both, boxes=((-0.05, -1.8, 0, 0.05, -1.3, 0.9),) * 2), one_token) is None
    old_file = QARecord("r", "count", "How many chairs?", "2")  # no boxes: nothing to ground on
    assert grounded_answer(old_file, TOKENS) is None
    ego = QARecord("r", "ego_relation", "Left or right?", "left", "frame_00001")
    assert grounded_answer(ego, TOKENS) is None


def test_ground_records_reads_each_scene_once_and_counts_what_it_grounded():
    records = [_record(QA("count", "count", ("chair",), "2")), _record(QA("exists", "exists", ("sofa",), "no")),
               _record(QA("attribute", "category", ("bed",), "bedroom")),
               QARecord("r", "ego_relation", "Left or right?", "left", "frame_00001")]
    asked = []

    def scene_tokens(name):
        asked.append(name)
        return TOKENS

    out, grounded = ground_records(records, scene_tokens, lambda tokens: DIGITS)
    assert grounded == 3 and asked == ["r"]
    assert [r.answer for r in out] == ["<obj0>, <obj3>: 2", "none: no", "<obj1> 1 7: bedroom", "left"]
    assert [r.question for r in out] == [r.question for r in records]


def test_unlisted_counts_and_existence_keep_the_plain_answer():
    """``grounded_lists = false``: "how many chairs?" is trained as "2" (read off a census), the
    other kinds are grounded as before, and evaluation scores no list for them."""
    from lerf3d.scene_llm.use.evaluate import grounded_lists, listing_outcomes

    count = _record(QA("count", "count", ("chair",), "2"))
    absent = _record(QA("exists", "exists", ("sofa",), "no"))
    nearest = _record(QA("nearest", "nearest", ("bed",), "desk"))
    assert grounded_answer(count, TOKENS, DIGITS, listed=False) is None
    assert grounded_answer(absent, TOKENS, DIGITS, listed=False) is None
    assert grounded_answer(nearest, TOKENS, DIGITS, listed=False) == "<obj1> 1 7, <obj2> 4 6: desk"
    out, grounded = ground_records([count, absent, nearest], lambda name: TOKENS, lambda tokens: DIGITS,
                                   listed=False)
    assert grounded == 1 and [r.answer for r in out] == ["2", "no", "<obj1> 1 7, <obj2> 4 6: desk"]

    class Store:
        def scene(self, name):
            return TOKENS

    lists = grounded_lists([count, absent, nearest], ["2", "no", "<obj1> 1 7, <obj2> 4 6: desk"], Store(),
                           listed=False)
    assert lists == [("nearest", [1, 2], [1, 2])] and listing_outcomes(lists) == {}
    assert SceneLLMConfig().grounded_lists  # runs saved before the option list, as they were trained


def test_a_count_first_answer_writes_the_number_then_the_tokens_it_counts():
    """``count_first``: "how many chairs?" is trained as "2: <obj0>, <obj3>" (the number copied from
    a census before the list), an absent label as "0: none"; existence keeps its order; scoring and
    evaluation read the number and the identifiers as from the other order."""
    from lerf3d.scene_llm.use.evaluate import grounded_lists, named_identifiers

    count = _record(QA("count", "count", ("chair",), "2"))
    none = _record(QA("count", "count", ("sofa",), "0"))
    present = _record(QA("exists", "exists", ("chair",), "yes"))
    assert grounded_answer(count, TOKENS, DIGITS, count_first=True) == "2: <obj0>, <obj3>"
    assert grounded_answer(none, TOKENS, DIGITS, count_first=True) == "0: none"
    assert grounded_answer(present, TOKENS, DIGITS, count_first=True) == "<obj0>, <obj3>: yes"
    out, grounded = ground_records([count, none], lambda name: TOKENS, count_first=True)
    assert grounded == 2 and [r.answer for r in out] == ["2: <obj0>, <obj3>", "0: none"]
    assert split_grounding("2: <obj0>, <obj3>") == ("<obj0>, <obj3>", "2")
    assert split_grounding(" 0 : none ") == ("", "0") and split_grounding("12: <obj7>") == ("<obj7>", "12")
    assert normalise_answer("2: <obj0>, <obj3>") == "2" and named_identifiers("2: <obj3>, <obj0>") == [0, 3]
    assert strip_grounding("2: <obj0> and more") == "2: <obj0> and more"  # text after the list: not a count

    class Store:
        def scene(self, name):
            return TOKENS

    assert grounded_lists([count], ["1: <obj3>"], Store()) == [("count", [3], [0, 3])]
    with pytest.raises(ValueError, match="count_first"):
        SceneLLMConfig(grounded_answers=True, identifiers=True, grounded_lists=False, count_first=True)
    assert not SceneLLMConfig().count_first  # runs saved before the option, as they were trained


def test_counts_whose_objects_the_tokens_miss_can_be_left_out_of_training():
    """``drop_ungrounded_lists``: with the east chair's token gone, "how many chairs?" and "is there a
    chair?" cannot list what they count, so they are left out instead of trained as "2" and "yes";
    an absent label and the other kinds stay as they were."""
    missed = _tokens([[-1.25, -1.5, 0.4], [-1.3, 0.9, 0.3], [-0.2, 0.7, 0.5], [1.65, 1.65, 1.55]])
    count = _record(QA("count", "count", ("chair",), "2"))
    present = _record(QA("exists", "exists", ("chair",), "yes"))
    absent = _record(QA("exists", "exists", ("sofa",), "no"))
    where = QARecord("r", "location", "Where is the east chair?", "south-east", boxes=[[1.0, -1.8, 0, 1.5, -1.3, 0.9]])
    ego = QARecord("r", "ego_relation", "Is the lamp left or right of the bed?", "left", "frame_00001")
    records = [count, present, absent, where, ego]
    kept, grounded = ground_records(records, lambda name: missed)
    assert grounded == 1 and [r.answer for r in kept] == ["2", "yes", "none: no", "south-east", "left"]
    kept, grounded = ground_records(records, lambda name: missed, drop_ungrounded_lists=True)
    assert grounded == 1 and [r.answer for r in kept] == ["none: no", "south-east", "left"]
    kept, _ = ground_records(records, lambda name: TOKENS, drop_ungrounded_lists=True)
    assert [r.answer for r in kept][:2] == ["<obj0>, <obj3>: 2", "<obj0>, <obj3>: yes"]  # all found: kept
    with pytest.raises(ValueError, match="drop_ungrounded_lists"):
        SceneLLMConfig(grounded_answers=True, identifiers=True, grounded_lists=False, drop_ungrounded_lists=True)
    assert not SceneLLMConfig().drop_ungrounded_lists


def test_grounded_answers_need_identifiers():
    with pytest.raises(ValueError, match="identifiers"):
        SceneLLMConfig(grounded_answers=True)
    assert SceneLLMConfig(grounded_answers=True, identifiers=True).grounded_answers


def test_evaluation_scores_whether_an_answer_named_the_right_tokens():
    from lerf3d.scene_llm.use.evaluate import grounded_lists, grounding_scores, named_identifiers

    assert named_identifiers("<obj3>, <obj0>: 2") == [0, 3] and named_identifiers("<obj3> 8 1: east") == [3]
    assert named_identifiers("2") == [] and named_identifiers("none: no") == []

    class Store:  # one scene: the hand-placed tokens
        def scene(self, name):
            return TOKENS

    records = [_record(QA("count", "count", ("chair",), "2")), _record(QA("count", "count", ("sofa",), "0")),
               _record(QA("location", "quarter", ("lamp",), "north-east")),
               _record(QA("location", "wall", ("bed",), "west")),
               _record(QA("attribute", "taller", ("lamp", "bed"), "lamp")),
               QARecord("r", "ego_relation", "Left or right?", "left", "frame_00001")]  # not grounded: not scored
    predictions = ["<obj3>, <obj0>: 2", "<obj1>: 1", "<obj4> 9 9: north-east", "<obj2> 4 6: west",
                   "<obj4> 9 9, <obj1> 1 7: lamp", "left"]
    lists = grounded_lists(records, predictions, Store())
    assert len(lists) == 5 and lists[0] == ("count", [0, 3], [0, 3])  # the egocentric one grounds on nothing
    assert grounding_scores(lists) == {"count": 0.5, "location": 0.5, "attribute": 1.0}


def test_evaluation_tells_a_list_that_leaves_objects_out_from_one_that_adds_others():
    from lerf3d.scene_llm.use.evaluate import LIST_OUTCOMES, grounded_lists, list_outcome, listing_outcomes

    assert list_outcome([0, 3], [3, 0]) == "exact" and list_outcome([], []) == "exact"
    assert list_outcome([3], [0, 3]) == "too few" and list_outcome([], [2]) == "too few"
    assert list_outcome([0, 1, 3], [0, 3]) == "too many" and list_outcome([4], []) == "too many"
    assert list_outcome([1, 3], [0, 3]) == "other" and list_outcome([1], [0]) == "other"

    class Store:  # one scene: the hand-placed tokens (the chairs are tokens 0 and 3)
        def scene(self, name):
            return TOKENS

    chairs, sofas = QA("count", "count", ("chair",), "2"), QA("count", "count", ("sofa",), "0")
    records = [_record(chairs), _record(chairs), _record(chairs), _record(chairs), _record(sofas),
               _record(QA("location", "quarter", ("lamp",), "north-east"))]  # not a listing type
    predictions = ["<obj0>, <obj3>: 2", "<obj3>: 1", "<obj0>, <obj1>, <obj3>: 3", "<obj1>, <obj3>: 2",
                   "<obj2>: 1", "<obj1> 1 7: south-west"]
    outcomes = listing_outcomes(grounded_lists(records, predictions, Store()))
    assert outcomes == {"count": {"exact": 1, "too few": 1, "too many": 2, "other": 1}}
    assert tuple(outcomes["count"]) == LIST_OUTCOMES


def test_ask_prints_the_answer_then_the_objects_it_named():
    from lerf3d.scene_llm.use.ask import answer_line

    assert split_grounding("<obj3> 8 1: north-east") == ("<obj3> 8 1", "north-east")
    assert split_grounding("none: no") == ("", "no") and split_grounding("2") == ("", "2")
    assert answer_line("<obj1>, <obj4>: 2") == "A: 2   [<obj1>, <obj4>]"
    assert answer_line("none: no") == "A: no" and answer_line("yes") == "A: yes"
