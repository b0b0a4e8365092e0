"""Which objects a generated answer rests on (Chat-Scene's grounding), written into each record.

A scene question names labels; its answer rests on particular objects of the room: the chairs a
count counts, the lamp whose quarter is asked, the piece whose category is asked, the two pieces
compared left and right or by height, the anchor and the object nearest to it. The generator knows
them (it has the room's ground truth), so each record carries their world boxes in the order a
grounded answer names them. Training turns the
boxes into the identifiers ``<objK>`` of the scene tokens that lie on them
(:mod:`lerf3d.scene_llm.train.grounding`), so the model learns to point at the objects before it
answers. Pure functions of the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

from lerf3d.ground_truth import GroundTruthObject
from lerf3d.scene_llm.data.questions import QA, box_gap

Box = tuple[float, float, float, float, float, float]
"""A world axis-aligned box: (x, y, z) minimum then (x, y, z) maximum, metres."""

GROUNDED_KINDS = ("count", "exists", "nearest", "side", "quarter", "wall", "category", "taller")
"""Question kinds whose answers rest on objects named by their labels (scene frame only: an
egocentric question's tokens are another frame's)."""


def object_box(obj: GroundTruthObject) -> Box:
    """``obj``'s world box as six floats."""
    return tuple(float(v) for v in (*obj.box_min, *obj.box_max))  # type: ignore[return-value]


def answer_objects(qa: QA, objects: Sequence[GroundTruthObject]) -> list[GroundTruthObject]:
    """The objects of ``objects`` that ``qa``'s answer rests on, in the order an answer names them.

    Counting and existence: every object of the label, west to east (none for an absent label).
    Location and category: the object asked about. Left/right and taller: the two objects in the
    question's order. Nearest: the anchor, then the nearest other object (the answer). Other kinds,
    and egocentric questions: none."""
    if qa.kind not in GROUNDED_KINDS or qa.frame is not None:
        return []
    if qa.kind in ("count", "exists"):
        return sorted((o for o in objects if o.label == qa.labels[0]), key=lambda o: float(o.center[0]))
    named = [next((o for o in objects if o.label == label), None) for label in qa.labels]
    if any(o is None for o in named):
        raise ValueError(f"{qa.kind} question names {qa.labels}, not all in the room")
    if qa.kind != "nearest":
        return named  # type: ignore[return-value]
    anchor = named[0]
    others = [o for o in objects if o is not anchor and o.label == qa.answer]
    if not others:
        raise ValueError(f"nearest answer {qa.answer!r} is not in the room")
    return [anchor, min(others, key=lambda o: box_gap(anchor, o))]


def answer_boxes(qa: QA, objects: Sequence[GroundTruthObject]) -> tuple[Box, ...]:
    """World boxes of :func:`answer_objects`, as a record stores them."""
    return tuple(object_box(o) for o in answer_objects(qa, objects))
