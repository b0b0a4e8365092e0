"""The training sampler: seeded passes over the records, and passes balanced over question types."""

from __future__ import annotations

import numpy as np
import pytest

from lerf3d.scene_llm.train.sampling import global_indices, type_balanced_pool


def test_sampler_covers_every_record_once_per_epoch():
    seen = [global_indices(step, 4, np.arange(10), seed=0) for step in range(5)]  # 20 draws = 2 epochs of 10
    flat = np.concatenate(seen)
    assert sorted(flat[:10].tolist()) == list(range(10)) and sorted(flat[10:].tolist()) == list(range(10))
    assert (global_indices(3, 4, np.arange(10), 0) == seen[3]).all()


def test_type_balanced_passes_draw_every_type_equally_often():
    types = ["exists"] * 6 + ["count"] * 2 + ["nearest"] * 3  # 6 : 2 : 3
    pool = type_balanced_pool(types, seed=0)
    assert len(pool) == 18 and (pool == type_balanced_pool(list(types), 0)).all()
    drawn = [types[i] for i in pool]
    assert drawn.count("exists") == drawn.count("count") == drawn.count("nearest") == 6
    assert sorted(pool[:6].tolist()) == [6, 6, 6, 7, 7, 7]  # the rare type's records repeat evenly
    assert sorted(set(pool.tolist())) == list(range(11))  # nothing dropped
    batches = np.concatenate([global_indices(step, 6, pool, 0) for step in range(3)])
    assert sorted(batches.tolist()) == sorted(pool.tolist())  # one pass = the pool, permuted
    with pytest.raises(ValueError, match="no records"):
        type_balanced_pool([], 0)
