"""Grounded training answers: the identifiers of the scene tokens an answer rests on, then the answer.

A record carries the world boxes of the objects its answer rests on (:mod:`lerf3d.scene_llm.data.
grounding`). Matched to the scene tokens the model reads, they become its identifiers, so that
"how many chairs?" is trained as "<obj2>, <obj7>: 2", "where is the lamp?" as "<obj4> 8 1:
north-east" (with the token's position digits), "which is taller, the lamp or the desk?" as
"<obj4> 8 1, <obj2> 5 5: lamp" and "what is nearest the bed?" as "<obj1> 3 6, <obj5> 2 7: desk" (or,
with scene-graph links, "<obj1> 3 6 near <obj5> 2 7: desk", or "<obj1> 3 6 near <obj5>: desk" when
the link names its token, as the bed's block reads).
The model learns to find the objects first, then reads the answer off what it found (the last step
a copy, a comparison of digits, or a count of what it listed); the answer normaliser drops the
grounding, so scoring compares answers only. Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from jaxtyping import Int

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.grounding import Box
from lerf3d.scene_llm.data.language import count_first_text, grounded_text, normalise_answer
from lerf3d.scene_llm.model.links import LINK_FORMAT, link_text
from lerf3d.scene_llm.model.splice import identifier_text
from lerf3d.scene_llm.tokens.frames import SceneTokens

BOX_MARGIN_M = 0.1
"""A token lies on an object when its centroid is inside the object's box grown by this much (a
segment's centroid can sit just outside a thin object's box: a shelf's back board, a rug)."""

LISTED_TYPES = ("count", "exists")
"""Record types whose grounding lists identifiers only (how many / whether: where does not matter)."""


def match_boxes(tokens: SceneTokens, boxes: Sequence[Box], margin_m: float = BOX_MARGIN_M) -> list[int | None]:
    """For each box, the token whose centroid lies inside it (grown by ``margin_m``) nearest to its
    centre; None where no token does. Scene-frame tokens only (boxes are in world coordinates)."""
    if tokens.frame != "scene":
        raise ValueError("answers are grounded on scene-frame tokens (boxes are world coordinates)")
    if not boxes:
        return []
    box = torch.tensor(boxes, dtype=torch.float64)  # (N, 6)
    lower, upper = box[:, None, :3] - margin_m, box[:, None, 3:] + margin_m  # (N, 1, 3)
    xyz = tokens.xyz.double()[None]  # (1, T, 3)
    inside = ((xyz >= lower) & (xyz <= upper)).all(-1)  # (N, T)
    distance = (xyz - (box[:, None, :3] + box[:, None, 3:]) / 2).norm(dim=-1)  # (N, T)
    distance = distance.masked_fill(~inside, float("inf"))
    best = distance.argmin(dim=1) if tokens.num_tokens else torch.zeros(len(boxes), dtype=torch.long)
    return [int(k) if tokens.num_tokens and bool(inside[i, k]) else None for i, k in enumerate(best.tolist())]


def grounded_answer(record: QARecord, tokens: SceneTokens,
                    digits: Int[torch.Tensor, "T 2"] | None = None, linked: bool = False,
                    listed: bool = True, count_first: bool = False, named: bool = False) -> str | None:
    """``record``'s answer grounded on ``tokens``, or None when it is not (a kind that names no
    objects, an egocentric question, or an object no token lies on, or two objects on one token;
    counting and existence when ``listed`` is False: they keep the plain answer, "2", "no").

    Counting and existence list the identifiers in token order ("none" for an absent label); the
    other kinds name each object in the record's order, followed by its two position ``digits``
    when given (the ones the model splices after that token). ``linked``: a nearest-object answer
    joins the anchor and its nearest with the scene-graph link's word, as the anchor's block in the
    scene reads ("<obj1> 3 6 near <obj5> 2 7: desk"), so writing it continues a copy of that block;
    ``named`` (links that name their token, whose name then follows in the block): the nearest is
    named without its digits ("<obj1> 3 6 near <obj5>: desk").
    ``count_first``: a count writes its number before its list ("2: <obj2>, <obj7>", "0: none")."""
    if record.frame is not None or (record.type in LISTED_TYPES and not listed):
        return None
    answer = normalise_answer(record.answer)
    list_text = count_first_text if count_first and record.type == "count" else grounded_text
    if not record.boxes:
        absent = record.type in LISTED_TYPES and answer in ("0", "no")
        return list_text([], answer) if absent else None
    found = match_boxes(tokens, record.boxes)
    if any(k is None for k in found) or len(set(found)) != len(found):
        return None
    index: list[int] = found  # type: ignore[assignment]
    if record.type in LISTED_TYPES:
        return list_text([identifier_text(k) for k in sorted(index)], answer)
    names = [identifier_text(k) if digits is None else f"{identifier_text(k)} {int(digits[k, 0])} {int(digits[k, 1])}"
             for k in index]
    if linked and record.type == "nearest" and len(names) == 2:
        names = [f"{names[0]} {link_text(index[1]) if named else LINK_FORMAT.format(names[1])}"]
    return grounded_text(names, answer)


def ground_records(records: Sequence[QARecord], scene_tokens: Callable[[str], SceneTokens],
                   digits_of: Callable[[SceneTokens], torch.Tensor] | None = None,
                   linked: bool = False, listed: bool = True, count_first: bool = False,
                   drop_ungrounded_lists: bool = False, named: bool = False) -> tuple[list[QARecord], int]:
    """``records`` with each answer that can be grounded replaced by its grounded form
    (:func:`grounded_answer` on ``scene_tokens(scene)``, with ``digits_of`` those tokens, ``linked``,
    ``listed``, ``count_first`` and ``named``), and how many were; the others keep their plain answers, except
    that with ``drop_ungrounded_lists`` (and ``listed``) the counting and existence questions
    left ungrounded (an object the tokens miss, or two on one token) are left out."""
    out, grounded = [], 0
    seen: dict[str, tuple[SceneTokens, torch.Tensor | None]] = {}
    for record in records:
        if record.scene not in seen:
            tokens = scene_tokens(record.scene)
            seen[record.scene] = tokens, digits_of(tokens) if digits_of else None
        text = grounded_answer(record, *seen[record.scene], linked=linked, listed=listed,
                               count_first=count_first, named=named)
        if text is not None:
            grounded += 1
            record = replace(record, answer=text)
        elif drop_ungrounded_lists and listed and record.type in LISTED_TYPES:  # counts take no frame
            continue
        out.append(record)
    return out, grounded
