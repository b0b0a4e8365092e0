"""The chat panel answering with the packaged Scene-LLM weights: a real trained run, loaded the way
``lerf3d view`` loads it, giving the same answers as ``lerf3d ask`` and naming the objects they rest
on, boxed in world coordinates on the room's own furniture."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from viewer_http import post_json

from lerf3d.scene_llm.use.ask import AskConfig, AskSession, feature_settings
from viewer.chat import chat_reply, load_chat
from viewer.cli import packaged_llm
from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread

pytestmark = pytest.mark.skipif(packaged_llm() is None, reason="this install has no packaged Scene-LLM weights")

SLACK_M = 0.1
"""A token's centroid may sit this far outside its piece's true box (fusion and pooling error)."""


def test_chat_panel_answers_with_the_packaged_scene_llm(gt_scene, tiny_room, tmp_path):
    run = packaged_llm()
    chat = load_chat(run, tiny_room)
    server = make_server(replace(gt_scene.viewer, chat=chat), ViewerConfig(port=0, outputs_dir=tmp_path))
    serve_in_thread(server)
    questions = ["Is there a table in the room?", "How many chairs are there in the room?"]
    try:
        base = server.url.rstrip("/")
        replies = []
        for question in questions:
            status, data = post_json(base, "/api/chat", {"question": question})
            assert status == 200
            replies.append(data)
    finally:
        server.shutdown()
        server.server_close()
    answers = [r["answer"] for r in replies]
    # trained answers are short, in the training data's form (the base LLM answers in sentences)
    assert answers[0] in ("yes", "no") and answers[1].isdigit()
    # the count question names chairs: each one listed sits on one of the room's chairs, in world metres
    truth = json.loads((tiny_room / "ground_truth.json").read_text())["objects"]
    chairs = [(np.array(o["box_min"]), np.array(o["box_max"])) for o in truth if o["label"] == "chair"]
    named = replies[1]["objects"]
    assert named and replies[1]["frame"] == "world" and replies[1]["note"] is None
    for used in named:
        assert (used["label"], used["reason"], used["identifier"]) == ("chair", "question", f"<obj{used['id']}>")
        lower, centre, upper = (np.array(used[k]) for k in ("lower", "centre", "upper"))
        assert np.all(lower <= centre) and np.all(centre <= upper)
        assert any(np.all(centre >= low - SLACK_M) and np.all(centre <= high + SLACK_M) for low, high in chairs), centre
    # the same weights without their object names: the same answers, no objects and a note saying why
    unnamed = tmp_path / "run_without_vocabulary"
    shutil.copytree(run, unnamed)
    (unnamed / "vocabulary.json").unlink()
    session = AskSession(tiny_room, AskConfig(unnamed, feature_settings(unnamed, None, None)))
    assert session.answer(questions) == answers
    reply = chat_reply(session, questions[1])
    assert reply.answer == answers[1] and reply.objects == () and "vocabulary.json" in reply.note
