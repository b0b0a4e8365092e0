"""The chat panel answering with the packaged Scene-LLM weights: a real trained run, loaded the way
``lerf3d view`` loads it, giving the same answers as ``lerf3d ask``."""

from __future__ import annotations

from dataclasses import replace

import pytest
from viewer_http import post_json

from lerf3d.scene_llm.use.ask import AskConfig, AskSession, feature_settings
from viewer.chat import load_chat
from viewer.cli import packaged_llm
from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread

pytestmark = pytest.mark.skipif(packaged_llm() is None, reason="this install has no packaged Scene-LLM weights")


def test_chat_panel_answers_with_the_packaged_scene_llm(gt_scene, tiny_room, tmp_path):
    run = packaged_llm()
    chat = load_chat(run, tiny_room)
    server = make_server(replace(gt_scene.viewer, chat=chat), ViewerConfig(port=0, outputs_dir=tmp_path))
    serve_in_thread(server)
    questions = ["Is there a table in the room?", "How many chairs are there in the room?"]
    try:
        base = server.url.rstrip("/")
        answers = []
        for question in questions:
            status, data = post_json(base, "/api/chat", {"question": question})
            assert status == 200
            answers.append(data["answer"])
    finally:
        server.shutdown()
        server.server_close()
    # trained answers are short, in the training data's form (the base LLM answers in sentences)
    assert answers[0] in ("yes", "no") and answers[1].isdigit()
    session = AskSession(tiny_room, AskConfig(run, feature_settings(run, None, None)))
    assert session.answer(questions) == answers
