"""Which questions share a training sequence: conversations about one scene (LLaVA's recipe).

A step's batch is drawn record by record (:func:`~lerf3d.scene_llm.train.sampling.global_indices`);
with ``StageConfig.turns`` = n > 1 each drawn record leads a conversation and n - 1 other records
about the same scene, seen from the same frame (so they read the same tokens), follow it. The scene
is spliced once, so a sequence carries n answers for little more than the cost of one: a room's
~10 object tokens take ~110 positions of the LLM, a question and its answer ~30. The followers are
drawn without replacement, each with weight 1 / (records of its type), so question types stay
balanced in expectation whatever a room's mix. Pure functions of the records, the step and the
record's place in the global batch: a DDP run draws what a single process draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from lerf3d.scene_llm.data.dataset import QARecord

GroupKey = tuple[str, str | None]
"""(scene, frame): frame None for questions about the whole scene."""


def conversation_groups(records: Sequence[QARecord]) -> dict[GroupKey, list[int]]:
    """Indices of the records of each (scene, frame): the questions that read the same tokens."""
    groups: dict[GroupKey, list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault((record.scene, record.frame), []).append(index)
    return groups


def followers(lead: int, records: Sequence[QARecord], groups: dict[GroupKey, list[int]],
              type_counts: Counter, turns: int, rng: np.random.Generator) -> list[int]:
    """Up to ``turns`` - 1 other records of ``lead``'s (scene, frame), drawn without replacement with
    weights 1 / (records of their type) (``type_counts``: over all records)."""
    if turns < 1:
        raise ValueError(f"a conversation has at least one turn, got turns={turns}")
    record = records[lead]
    others = [i for i in groups[(record.scene, record.frame)] if i != lead]
    count = min(turns - 1, len(others))
    if count == 0:
        return []
    weights = np.array([1.0 / type_counts[records[i].type] for i in others])
    return [int(i) for i in rng.choice(others, size=count, replace=False, p=weights / weights.sum())]


def conversations(leads: Sequence[int], first_position: int, records: Sequence[QARecord],
                  groups: dict[GroupKey, list[int]], type_counts: Counter, turns: int, step: int,
                  seed: int) -> list[list[int]]:
    """Each lead record followed by its followers; the draw for the record at global-batch position
    p of ``step`` is seeded by (seed, step, p), so it does not depend on how processes split the batch."""
    out = []
    for offset, lead in enumerate(leads):
        rng = np.random.default_rng([seed, step, first_position + offset])
        out.append([int(lead), *followers(int(lead), records, groups, type_counts, turns, rng)])
    return out
