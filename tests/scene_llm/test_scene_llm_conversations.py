"""Which questions share a training sequence (lerf3d.scene_llm.train.conversations)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.train.conversations import conversation_groups, conversations, followers


def _records() -> list[QARecord]:
    """Room a: 9 existence questions and 1 count question about the scene, 2 asked from frame f0;
    room b: 3 existence questions."""
    out = [QARecord("a", "exists", f"is there a thing {k}?", "yes") for k in range(9)]
    out.append(QARecord("a", "count", "how many chairs?", "2"))
    out += [QARecord("a", "ego_relation", f"from here, is {k} left?", "left", frame="f0") for k in range(2)]
    out += [QARecord("b", "exists", f"is there a lamp {k}?", "no") for k in range(3)]
    return out


def test_followers_read_the_same_tokens_and_never_repeat():
    records = _records()
    groups = conversation_groups(records)
    assert set(groups) == {("a", None), ("a", "f0"), ("b", None)}
    types = Counter(r.type for r in records)
    for lead in range(len(records)):
        for seed in range(20):
            chosen = followers(lead, records, groups, types, 4, np.random.default_rng(seed))
            assert lead not in chosen and len(set(chosen)) == len(chosen)
            assert all((records[i].scene, records[i].frame) == (records[lead].scene, records[lead].frame)
                       for i in chosen)
            expected = min(3, len(groups[(records[lead].scene, records[lead].frame)]) - 1)
            assert len(chosen) == expected
    assert followers(0, records, groups, types, 1, np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match="at least one turn"):
        followers(0, records, groups, types, 0, np.random.default_rng(0))


def test_followers_balance_types_in_expectation():
    """Weights 1 / (records of the type): in room a the one count question follows an existence
    lead about as often as all eight other existence questions together (12 : 1 records overall)."""
    records = _records()
    groups, types = conversation_groups(records), Counter(r.type for r in records)
    drawn = Counter(records[followers(0, records, groups, types, 2, np.random.default_rng(s))[0]].type
                    for s in range(2000))
    share = drawn["count"] / 2000  # weight 1 against 8 x 1/12: 1 / (1 + 8/12) = 0.6
    assert share == pytest.approx(0.6, abs=0.04)


def test_conversations_do_not_depend_on_how_processes_split_the_batch():
    records = _records()
    groups, types = conversation_groups(records), Counter(r.type for r in records)
    leads = [0, 9, 10, 12]
    whole = conversations(leads, 0, records, groups, types, 3, step=5, seed=1)
    halves = (conversations(leads[:2], 0, records, groups, types, 3, step=5, seed=1)
              + conversations(leads[2:], 2, records, groups, types, 3, step=5, seed=1))
    assert whole == halves and [c[0] for c in whole] == leads
    assert whole == conversations(leads, 0, records, groups, types, 3, step=5, seed=1)
    assert whole != conversations(leads, 0, records, groups, types, 3, step=6, seed=1)
    assert [len(c) for c in conversations(leads, 0, records, groups, types, 1, 5, 1)] == [1, 1, 1, 1]
