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

from lerf3d.scene_llm.data.language import strip_grounding
from lerf3d.scene_llm.train.config import SceneLLMConfig
from lerf3d.scene_llm.train.run_files import load_config
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
    questions = ["Is there a table in the room?", "How many ovens are there in the room?"]
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
    # trained answers are short, in the training data's form (the base LLM answers in sentences);
    # the weights answer grounded ("<obj1>, <obj4>: 2"): the page gets the answer, the identifiers
    # come back as objects
    assert answers[0] in ("yes", "no") and answers[1].isdigit()
    # the count question names ovens (the room has three) and its grounded answer lists objects: the
    # count is right, each one listed is boxed in world metres on one of the room's pieces, all but
    # one at most are named as that piece is, and most of them are ovens named "oven"; the answer
    # counts the ones it named (a grounded answer lists only what it named). The listing is the
    # weights' weak point (count grounding 0.58 on held-out rooms): weights trained with
    # conversations listed the room's chair as one of the three, and the weights on 2 cm tokens named
    # as objects list the chair's base, which the segmentation leaves apart and the tower reads as a
    # washbasin
    truth = json.loads((tiny_room / "ground_truth.json").read_text())["objects"]
    pieces = [(o["label"], np.array(o["box_min"]), np.array(o["box_max"])) for o in truth
              if o["label"] not in ("wall", "floor", "ceiling")]
    assert answers[1] == str(sum(label == "oven" for label, _, _ in pieces))
    named = replies[1]["objects"]
    assert named and replies[1]["frame"] == "world" and replies[1]["note"] is None
    assert [used["reason"] for used in named] == ["identifier"] * int(answers[1])
    misnamed = ovens = 0
    for used in named:
        assert used["identifier"] == f"<obj{used['id']}>"
        lower, centre, upper = (np.array(used[k]) for k in ("lower", "centre", "upper"))
        assert np.all(lower <= centre) and np.all(centre <= upper)
        under = [label for label, low, high in pieces
                 if np.all(centre >= low - SLACK_M) and np.all(centre <= high + SLACK_M)]
        assert under, (used["label"], centre)
        misnamed += used["label"] not in under
        ovens += used["label"] == "oven" and "oven" in under
    assert misnamed <= 1 and ovens > len(named) / 2, named
    # the same weights without their object names: weights that read their tokens by those names (a
    # census of names in the scene block, tokens named as the object layer names objects) refuse to
    # answer, naming the missing file; others give the same answers, no objects and a note saying why
    unnamed = tmp_path / "run_without_vocabulary"
    shutil.copytree(run, unnamed)
    (unnamed / "vocabulary.json").unlink()
    if load_config(run, SceneLLMConfig).needs_vocabulary:
        with pytest.raises(FileNotFoundError, match="vocabulary.json"):
            AskSession(tiny_room, AskConfig(unnamed, feature_settings(unnamed, None, None)))
        return
    session = AskSession(tiny_room, AskConfig(unnamed, feature_settings(unnamed, None, None)))
    assert [strip_grounding(a) for a in session.answer(questions)] == answers
    reply = chat_reply(session, questions[1])
    assert reply.answer == answers[1] and reply.objects == () and "vocabulary.json" in reply.note


def test_asking_from_a_capture_camera_reads_what_that_camera_sees(tiny_room):
    from lerf3d.capture import load_capture
    from lerf3d.geometry import to_camera_frame
    from lerf3d.query.camera import QueryCamera

    run = packaged_llm()
    session = AskSession(tiny_room, AskConfig(run, feature_settings(run, None, None)))
    capture = load_capture(tiny_room)
    matched = total = 0
    for frame in capture.frames[::3]:
        camera = QueryCamera(frame.intrinsics, frame.camera_to_world, name=frame.name)
        view = session.view(camera)
        # the same tokens twice: in the camera's frame (what the LLM reads, left to right) and in the world
        assert (view.ego.frame, view.world.frame) == ("ego", "scene")
        assert view.ego.num_tokens == view.world.num_tokens > 0
        assert bool((view.ego.xyz[1:, 0] >= view.ego.xyz[:-1, 0]).all())
        np.testing.assert_allclose(to_camera_frame(view.world.xyz, frame.camera_to_world), view.ego.xyz, atol=1e-4)
        # the points' own z-buffer sees what the frame's measured depth saw: most tokens of one are
        # within a few centimetres of a token of the other
        measured = session.store.frame(session.features.scene, frame.name)
        gaps = np.linalg.norm(measured.xyz.numpy()[:, None] - view.ego.xyz.numpy()[None], axis=-1).min(axis=1)
        matched, total = matched + int((gaps < 0.1).sum()), total + len(gaps)
    assert matched >= 0.8 * total, (matched, total)
    # a chat answer asked from a camera names its objects with world boxes from that view's tokens
    frame = capture.frames[0]
    camera = QueryCamera(frame.intrinsics, frame.camera_to_world, name=frame.name)
    view = session.view(camera)
    labels = session.labels_of(view.ego)
    reply = chat_reply(session, f"Seen from this view, how many {labels[0]}s are there?", camera)
    raw = session.answer(f"Seen from this view, how many {labels[0]}s are there?", view.ego)[0]
    assert reply.answer == strip_grounding(raw)  # the page gets the answer, the identifiers come back as objects
    world = view.world.xyz.numpy()
    # a grounded answer lists the tokens it named, an ungrounded one those the question names
    assert reply.objects and all(used.reason == "identifier" for used in reply.objects) == (raw != reply.answer)
    for used in reply.objects:
        assert used.label == labels[0] or used.reason != "question"
        np.testing.assert_allclose(used.centre, world[used.index], atol=1e-5)
        assert np.all(np.array(used.lower) <= np.array(used.centre) + 1e-6)
