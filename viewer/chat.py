"""The scene LLM behind the page's chat panel (``lerf3d view CKPT --llm RUN``).

Loading it is lerf3d.scene_llm.use.ask's job: the run's LLM and projector, and the scene's 3D features
(a capture folder is fused and back-projected once at start-up, a prepared ``.pt`` is read). Each
question is then one greedy generation (~1-2 s for SmolLM2-135M on two CPU cores), and the answer
comes with the objects it rests on (lerf3d.scene_llm.use.explain), which the page highlights.

A question asked from the page's current camera reads egocentric tokens: what that camera sees of the
scene (the scene's points on the nearest surface of their own z-buffer), in its camera frame, as the
generator's "seen from this view" questions are trained; the objects come back in world coordinates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lerf3d.scene_llm.data.language import strip_grounding

if TYPE_CHECKING:
    from lerf3d.query.camera import QueryCamera
    from lerf3d.scene_llm.use.ask import AskSession
    from lerf3d.scene_llm.use.explain import UsedObject


@dataclass(frozen=True)
class ChatReply:
    """One answer of the chat panel."""

    answer: str
    """The scene LLM's answer (a grounded answer without its identifiers: those are in ``objects``)."""
    objects: tuple[UsedObject, ...] = ()
    """The objects the answer rests on (:func:`~lerf3d.scene_llm.use.explain.used_objects`), boxes in
    world coordinates (also when asked from a camera, whose tokens the LLM reads in the camera's
    frame)."""
    note: str | None = None
    """Why no objects could be named at all (e.g. the run records no object names), else None."""



class ChatFn(Protocol):
    """A question in (about the whole scene, or asked from ``camera``), the scene LLM's answer out,
    alone or with the objects it rests on (lerf3d.scene_llm.use.ask.AskSession behind it, see
    viewer.chat.load_chat). The viewer passes ``camera`` only when the page asks from its view."""

    def __call__(self, question: str, camera: QueryCamera | None = None) -> str | ChatReply: ...


def reply_json(reply: str | ChatReply) -> dict[str, Any]:
    """What ``POST /api/chat`` sends of a reply (a plain string answer names no objects)."""
    if isinstance(reply, str):
        reply = ChatReply(reply)
    objects = [{"id": o.index, "identifier": o.identifier, "label": o.label, "reason": o.reason,
                "centre": list(o.centre), "lower": None if o.lower is None else list(o.lower),
                "upper": None if o.upper is None else list(o.upper)} for o in reply.objects]
    return {"answer": reply.answer, "objects": objects, "frame": "world", "note": reply.note}


def load_chat(
    run_dir: str | Path,
    scene: str | Path,
    device: str = "cpu",
    encoder: str | None = None,
    stage: int | None = None,
    max_new_tokens: int | None = None,
) -> ChatFn:
    """A question -> :class:`ChatReply` function over ``scene`` (capture folder or features ``.pt``)
    with the Scene-LLM run in ``run_dir``; generation is serialised (one model, one question at a
    time). The scene's features are computed as the run's were (its ``features.json``; ``encoder``
    overrides). A run without ``vocabulary.json`` still answers, with no objects and a note saying why."""
    from lerf3d.scene_llm.use.ask import AskConfig, AskSession, feature_settings

    run_dir = Path(run_dir)
    session = AskSession(scene, AskConfig(run_dir, feature_settings(run_dir, encoder, None), stage,
                                          max_new_tokens, device))
    lock = threading.Lock()

    def chat(question: str, camera: QueryCamera | None = None) -> ChatReply:
        with lock:
            return chat_reply(session, question, camera)

    return chat


def chat_reply(session: AskSession, question: str, camera: QueryCamera | None = None) -> ChatReply:
    """``session``'s answer to ``question``, about the whole scene or from ``camera`` (egocentric
    tokens), and the objects it rests on in world coordinates; a run without object names (no
    ``vocabulary.json``) answers all the same, with a note instead of objects."""
    tokens = shown = None
    if camera is not None:
        view = session.view(camera)
        tokens, shown = view.ego, view.world
    said = session.answer(question, tokens)[0]
    answer = strip_grounding(said)  # a grounded answer's identifiers come back as its objects
    try:
        used = session.explain(question, said, tokens, shown)
    except FileNotFoundError as err:  # a run trained before runs recorded their object names
        return ChatReply(answer, (), f"the objects behind answers cannot be named: {err}")
    return ChatReply(answer, tuple(used))
