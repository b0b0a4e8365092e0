"""Listing questions: "list every chair" answered from the tokens' own names (an auxiliary task).

Counting and existence answers list the tokens of the asked kind before they answer ("<obj2>,
<obj7>: 2"). Those lists are trained from the ground truth's objects, matched to tokens by their
boxes, so a chair whose token the label bridge names "armchair" is in the list and a token named
"chair" on a stool is not: the targets mix finding every occurrence of a name with guessing past
names the tokens do not spell. The shipped weights leave out tokens that do spell the asked name
(27 of the 34 tokens their counts missed on the held-out rooms).

A listing record asks for every token whose spelled name (the bridge's nearest label,
:meth:`~lerf3d.scene_llm.model.scene_llm.SceneLLM.name_indices`) is a given name, and its answer is
those tokens' identifiers in order, a colon and how many ("none: 0" for a name no token carries):
the skill alone, with targets always consistent with what the LLM reads. The records are written
per training room at the start of stage 2, never into a dataset, and never evaluated. With the
demo recipe they did not lift counting (README, Scene LLM; ``SceneLLMConfig.listing_questions``).
Pure functions, and the one that names a model's tokens for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from lerf3d.scene_llm.data.dataset import QARecord, scene_rng
from lerf3d.scene_llm.data.language import grounded_text
from lerf3d.scene_llm.data.questions import LISTING_TYPE
from lerf3d.scene_llm.model.splice import identifier_text

if TYPE_CHECKING:
    from lerf3d.scene_llm.model.scene_llm import SceneLLM
    from lerf3d.scene_llm.tokens.scenes import TokenStore

LISTING_PHRASES = (
    "List every {label} in the room.",
    "Point out each {label} in the room.",
    "Find every {label}.",
)
"""Wordings of a listing question, one drawn per record (singular throughout: "every chair")."""

ABSENT_PER_PRESENT = 0.5
"""Names no token of the room carries, asked as well, per name it does carry (rounded up): they
teach "none: 0" (existence and counting ask about absent kinds too)."""


def listing_answer(names: Sequence[str], label: str) -> str:
    """The identifiers of the tokens named ``label`` in token order, a colon, how many:
    ``["chair", "desk", "chair"]``, "chair" -> "<obj0>, <obj2>: 2"; "none: 0" when none is."""
    found = [identifier_text(k) for k, name in enumerate(names) if name == label]
    return grounded_text(found, str(len(found)))


def listing_records(scene: str, names: Sequence[str], labels: Sequence[str], seed: int) -> list[QARecord]:
    """One listing record per distinct name among a scene's tokens (``names``, in token order),
    and ``ABSENT_PER_PRESENT`` as many for names of ``labels`` (the bridge's) that no token carries;
    phrasings and absent names drawn from (``seed``, ``scene``), so a room's records do not depend
    on the other rooms."""
    present = sorted(set(names))
    unknown = sorted(set(present) - set(labels))
    if unknown:
        raise ValueError(f"{scene}: token names {unknown[:3]} are not among the bridge's labels")
    rng = scene_rng(seed, scene)
    absent = sorted(set(labels) - set(present))
    count = min(len(absent), math.ceil(ABSENT_PER_PRESENT * len(present)))
    drawn = sorted(rng.choice(len(absent), size=count, replace=False).tolist()) if count else []
    asked = present + [absent[i] for i in drawn]
    return [QARecord(scene, LISTING_TYPE, LISTING_PHRASES[int(rng.integers(len(LISTING_PHRASES)))].format(label=label),
                     listing_answer(names, label))
            for label in asked]


def training_listing_records(model: SceneLLM, store: TokenStore, scenes: Sequence[str], labels: Sequence[str],
                             seed: int) -> list[QARecord]:
    """:func:`listing_records` of every scene in ``scenes``: its scene-frame tokens named as
    ``model``'s label bridge names them (``labels``: the bridge's labels, in its order)."""
    out = []
    with torch.no_grad():
        for scene in sorted(scenes):
            tokens = store.scene(scene)
            indices = model.name_indices(model.scene_inputs(tokens)).tolist()
            out += listing_records(scene, [labels[i] for i in indices], labels, seed)
    return out
