"""Which records each training step reads: seeded passes over the records, stateless in the step.

A step's global batch is a function of the step number alone (:func:`global_indices`), so a resumed
run draws what the interrupted one would have drawn, and every process of a distributed run takes
its slice of the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def type_balanced_pool(types: Sequence[str], seed: int) -> np.ndarray:
    """Record indices of one pass in which every type appears equally often: each type's records,
    in a seeded order, tiled to the count of the largest type (a rare type's records repeat, none is
    dropped). Types in sorted order, so the pool depends on the records only."""
    by_type: dict[str, list[int]] = {}
    for index, kind in enumerate(types):
        by_type.setdefault(kind, []).append(index)
    if not by_type:
        raise ValueError("no records to balance")
    size = max(len(v) for v in by_type.values())
    rng = np.random.default_rng(seed)
    return np.concatenate([np.resize(rng.permutation(by_type[k]), size) for k in sorted(by_type)])


def global_indices(step: int, global_batch: int, pool: np.ndarray, seed: int) -> np.ndarray:
    """Record indices of one step's global batch: passes over ``pool`` (one pass's record indices:
    ``np.arange(len(records))``, or :func:`type_balanced_pool`) in seeded permutations, read in
    order. Stateless (a function of the step), so resuming needs no sampler state."""
    items = np.asarray(pool)
    flat = np.arange(step * global_batch, (step + 1) * global_batch)
    epochs = flat // len(items)
    out = np.empty_like(flat)
    for epoch in np.unique(epochs):
        order = np.random.default_rng([seed, int(epoch)]).permutation(len(items))
        hit = epochs == epoch
        out[hit] = items[order[flat[hit] % len(items)]]
    return out
