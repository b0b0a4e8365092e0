"""Intervals of evaluation figures over rooms: percentile bootstraps that resample rooms, not items.

Crops or questions of one room are not independent (one room holds one cabinet model, seen from
every view; its questions share one segmentation), so the room is the unit that is resampled. A
figure's interval says how much it owes to which rooms were drawn for the evaluation; the paired
interval of a difference says whether two methods scored on the same items differ by more than the
rooms' draw moves them. Pure functions, deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Bool, Int

INTERVAL_LEVEL = 0.95
"""Coverage of the intervals."""
INTERVAL_DRAWS = 2000
"""Bootstrap draws (resampled room sets) per interval."""


def _per_room(values: torch.Tensor, rooms: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``values`` and the item count per room (rooms in sorted id order)."""
    _, inverse = torch.unique(rooms, return_inverse=True)
    n = int(inverse.max()) + 1 if len(inverse) else 0
    sums = torch.bincount(inverse, weights=values.double(), minlength=n).numpy()
    counts = torch.bincount(inverse, minlength=n).double().numpy()
    return sums, counts


def _check(rooms: torch.Tensor, *hits: torch.Tensor) -> None:
    if rooms.dim() != 1 or not len(rooms):
        raise ValueError(f"rooms must be a non-empty 1-D tensor, got shape {tuple(rooms.shape)}")
    for hit in hits:
        if tuple(hit.shape) != tuple(rooms.shape):
            raise ValueError(f"one room id per item: hits {tuple(hit.shape)} against rooms {tuple(rooms.shape)}")


def _percentiles(rates: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    return float(np.quantile(rates, tail)), float(np.quantile(rates, 1.0 - tail))


def room_bootstrap(
    hit: Bool[torch.Tensor, "N"], rooms: Int[torch.Tensor, "N"], level: float = INTERVAL_LEVEL,
    draws: int = INTERVAL_DRAWS, seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the pooled hit rate when the rooms are resampled with replacement
    (each draw's rate pools its rooms' items, so a big room weighs more); a single room gives its
    rate twice."""
    _check(rooms, hit)
    hits, counts = _per_room(hit, rooms)
    if len(hits) < 2:
        rate = float(hits.sum() / counts.sum())
        return rate, rate
    pick = np.random.default_rng(seed).integers(0, len(hits), size=(draws, len(hits)))
    return _percentiles(hits[pick].sum(axis=1) / counts[pick].sum(axis=1), level)


def paired_room_bootstrap(
    hit_a: Bool[torch.Tensor, "N"], hit_b: Bool[torch.Tensor, "N"], rooms: Int[torch.Tensor, "N"],
    level: float = INTERVAL_LEVEL, draws: int = INTERVAL_DRAWS, seed: int = 0,
) -> tuple[float, float, float]:
    """(rate of b - rate of a, and its percentile interval) for two methods scored on the same items,
    the rooms resampled together for both: a difference whose interval holds 0 is within what the
    draw of rooms moves."""
    _check(rooms, hit_a, hit_b)
    a, counts = _per_room(hit_a, rooms)
    b, _ = _per_room(hit_b, rooms)
    difference = float((b.sum() - a.sum()) / counts.sum())
    if len(counts) < 2:
        return difference, difference, difference
    pick = np.random.default_rng(seed).integers(0, len(counts), size=(draws, len(counts)))
    low, high = _percentiles((b[pick].sum(axis=1) - a[pick].sum(axis=1)) / counts[pick].sum(axis=1), level)
    return difference, low, high
