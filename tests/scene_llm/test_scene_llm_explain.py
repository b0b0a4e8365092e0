"""What an answer rests on: names mentioned, identifiers written, and ``lerf3d ask --view --explain``
with the packaged weights on the tiny room."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from lerf3d.scene_llm.commands import DEFAULT_RUN
from lerf3d.scene_llm.model.hints import HINT_PREFIX
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.scene_llm.use.ask import AskConfig, AskSession, explanation, feature_settings
from lerf3d.scene_llm.use.explain import IDENTIFIER_PATTERN, mentioned_labels, used_objects
from lerf3d_cli.main import main


def test_mentions_take_the_longest_name_and_plurals():
    labels = ["table", "bedside table", "chair", "shelves", "lamp"]
    assert mentioned_labels("Is the bedside table left of the chairs?", labels) == ["bedside table", "chair"]
    assert mentioned_labels("How many tables and shelves?", labels) == ["shelves", "table"]
    assert mentioned_labels("a lampshade", labels) == []


def test_used_objects_from_names_and_identifiers():
    lower = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]])
    tokens = SceneTokens(lower + 0.5, torch.eye(3), None, "scene", lower=lower, upper=lower + torch.tensor([1.0, 2, 3]))
    used = used_objects(tokens, ["chair", "bed", "chair"], "Which is closest to the bed?", "<obj2>, the chair")
    assert [(u.index, u.label, u.reason) for u in used] == [(0, "chair", "answer"), (1, "bed", "question"),
                                                            (2, "chair", "identifier")]
    assert used[2].identifier == "<obj2>" and used[2].size == (1.0, 2.0, 3.0)
    assert used[2].lower == (2.0, 0.0, 0.0) and used[2].upper == (3.0, 2.0, 3.0) and used[2].centre == (2.5, 0.5, 0.5)
    unboxed = SceneTokens(lower + 0.5, torch.eye(3), None, "scene")
    (bed,) = used_objects(unboxed, ["chair", "bed", "chair"], "Where is the bed?", "by the wall")
    assert (bed.lower, bed.upper, bed.size) == (None, None, None)
    assert bed.describe() == "<obj1> bed at (1.50, 0.50, 0.50) m (named in the question)"
    assert used[1].describe() == "<obj1> bed at (1.50, 0.50, 0.50) m, 1.00 x 2.00 x 3.00 m (named in the question)"
    assert used_objects(tokens, ["chair", "bed", "chair"], "Is there a sofa?", "<obj9> no") == []


def test_a_grounded_answer_lists_the_objects_it_names_and_no_others():
    lower = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]])
    tokens = SceneTokens(lower + 0.5, torch.eye(3), None, "scene", lower=lower, upper=lower + 1)
    labels = ["chair", "bed", "chair"]
    used = used_objects(tokens, labels, "Which is closest to the bed?", "<obj1> 3 5, <obj2> 7 5: chair")
    assert [(u.index, u.reason) for u in used] == [(1, "identifier"), (2, "identifier")]  # not chair <obj0>
    assert used_objects(tokens, labels, "Is there a bed?", "none: no") == []  # rests on no object
    (chair,) = used_objects(tokens, labels, "How many chairs?", "<obj0>: 1")
    assert (chair.index, chair.reason) == (0, "identifier")
    with pytest.raises(ValueError, match="labels"):
        used_objects(tokens, ["chair"], "q", "a")


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_RUN / "vocabulary.json").is_file(), reason="no packaged Scene-LLM weights")
def test_ask_from_a_view_explains_its_answer(tiny_room, capsys):
    frames = json.loads((tiny_room / "transforms.json").read_text())["frames"]
    view = frames[0]["file_path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    question = "Seen from this view, is the chair to the left or to the right of the table?"
    assert main(["ask", str(tiny_room), question, "--view", view, "--explain", "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Q: {question}" and out[1].startswith("A: ")
    assert out[2].startswith(f"   rests on (camera frame of {view}): ")
    assert main(["ask", str(tiny_room), question, "--view", "no_such_frame"]) == 2
    assert "no_such_frame" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_RUN / "vocabulary.json").is_file(), reason="no packaged Scene-LLM weights")
def test_explain_shows_the_hint_a_hinted_run_read(tiny_room, tmp_path):
    """The packaged weights read as a run with question hints (hints change the prompt's text only):
    ``--explain`` adds the hint line, whose best match for "ovens" is one of the room's three ovens;
    the packaged run itself has no hint line."""
    hinted = tmp_path / "hinted"
    shutil.copytree(DEFAULT_RUN, hinted)
    config = json.loads((hinted / "config.json").read_text())
    (hinted / "config.json").write_text(json.dumps({**config, "question_hints": 2}))
    question = "How many ovens are there in the room?"
    session = AskSession(tiny_room, AskConfig(hinted, feature_settings(hinted, None, None)))
    hint = session.hint(question)
    first, second = (int(k) for k in IDENTIFIER_PATTERN.findall(hint))
    assert hint.startswith(f"{HINT_PREFIX} <obj{first}> ") and first != second
    assert session.token_labels()[first] == "oven"
    lines = explanation(session, question, "<obj0>: 1").splitlines()
    assert lines[0].startswith("   rests on (world frame): <obj0> ")
    assert lines[1] == f"   read after the question: {hint}"
    plain = AskSession(tiny_room, AskConfig(DEFAULT_RUN, feature_settings(DEFAULT_RUN, None, None)))
    assert plain.hint(question) is None and len(explanation(plain, question, "<obj0>: 1").splitlines()) == 1
