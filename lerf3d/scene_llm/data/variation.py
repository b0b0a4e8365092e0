"""Surface variation of training questions: the same question as people type it.

The phrasing families (:mod:`~lerf3d.scene_llm.data.wording`) give each question kind a few fixed
sentences, and a model trained on a handful of fixed sentences learns them as strings: on the
held-out family its answers fell 12 points below the trained wordings, most for existence asked in
other words ("no" rate 0.91 -> 0.55). :func:`vary_question` rewrites a training question the way
users do without changing what it asks: an opener ("Quick question:", "Hey, ..."), another name
for the room ("this scene"), a contraction, a closer or no question mark, all lower case. Drawn
afresh at every step (seeded by the step, so a resumed or multi-process run draws the same), it
makes the words around the labels vary while the words that decide the answer (the labels, the
directions, "how many", "left or right") stay.

The variations never use a word sequence of the held-out family (:data:`~lerf3d.scene_llm.data.
wording.HELD_OUT_FAMILY`) that the trained families lack: that family stays unread, so scoring it
still measures wording the model never saw (a test checks every variation against it).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.wording import STAGE2_TYPES

OPENERS = ("Question:", "Quick question:", "Please answer:", "Hey,", "I want to know:", "Okay,", "So,",
           "One question.", "Help me with this:", "I am curious:")
"""Prefixes people put before a question; after a comma the question goes on in lower case."""
CLOSERS = (" Thanks.", " Please answer briefly.", " Please.", " Thank you!")
"""Sentences people put after a question."""
ROOM_NAMES = ("the room", "this room", "the scene", "this scene")
"""Interchangeable names of the scene ("in the room" / "in this scene")."""
CONTRACTIONS = (("What is ", "What's "), ("what is ", "what's "), ("Where is ", "Where's "),
                ("there is ", "there's "), ("Which is ", "Which one is "))
"""(as generated, as often typed) pairs, rewritten one way only: contractions, and "which one is"."""
RATES = {"opener": 0.35, "room": 0.5, "contraction": 0.5, "closer": 0.2, "no_mark": 0.15, "lower": 0.2}
"""Chance of each rewrite, drawn independently."""

_ROOM = re.compile(r"\b(?:the|this) room\b")


def _lower_first(text: str) -> str:
    """``text`` with its first letter lower-cased, unless the first word is "I"."""
    if text.startswith(("I ", "I'")):
        return text
    return text[:1].lower() + text[1:]


def vary_question(question: str, rng: np.random.Generator) -> str:
    """``question`` with the rewrites of :data:`RATES` each applied with its chance (module
    docstring). A pure function of the question and the generator's state."""
    draws = {name: bool(rng.random() < rate) for name, rate in RATES.items()}
    text = question
    if draws["room"]:
        text = _ROOM.sub(lambda _: ROOM_NAMES[int(rng.integers(len(ROOM_NAMES)))], text)
    if draws["contraction"]:
        for long, short in CONTRACTIONS:
            text = text.replace(long, short)
    if draws["opener"]:
        opener = OPENERS[int(rng.integers(len(OPENERS)))]
        text = f"{opener} {_lower_first(text) if opener.endswith(',') else text}"
    if draws["no_mark"] and text.endswith("?"):
        text = text[:-1]
    elif draws["closer"]:
        text += CLOSERS[int(rng.integers(len(CLOSERS)))]
    if draws["lower"]:
        text = text.lower()
    return text


def varied_chat(chat: list[QARecord], share: float, key: tuple[int, int, int]) -> list[QARecord]:
    """``chat`` (a training conversation's records) with each stage-2 question rewritten with chance
    ``share`` by :func:`vary_question`, drawn from a generator seeded by ``key`` (seed, step, place in
    the global batch), so a resumed or multi-process run draws what a single run draws."""
    if share <= 0:
        return chat
    rng = np.random.default_rng([*key, 1])  # the trailing 1: a stream of its own beside the key's other draws
    return [replace(r, question=vary_question(r.question, rng))
            if r.type in STAGE2_TYPES and rng.random() < share else r for r in chat]
