"""Model splits by model within each label: unseen models of known kinds for evaluation.

An encoder that scores well on rooms of the models it was trained on may have memorised those
models. To measure whether it learned *kinds*, a fixed share of every label's models is never used
in training (``held-out``) and only evaluated on. The rule is a pure function of the models' ids and
labels, so anyone with the same catalogues gets the same split:

- a label with a single model keeps it in ``train`` (an unseen label cannot be recognised);
- a label with n >= 2 models holds out ``max(1, round(n * HELD_OUT_FRACTION))`` of them, never
  more than n - 1, so every label keeps a training model;
- which ones: the models with the smallest SHA-256 of their catalogue id.

:func:`data_tools.catalogues.load_catalogues` applies it over every installed catalogue, so a
model's split does not depend on which catalogues a room draws from. (The single-archive loader of
:mod:`data_tools.catalog` keeps its older per-id hash, which the packaged encoders were trained on.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from data_tools.catalog import HELD_OUT_FRACTION, CatalogEntry


def id_rank_key(catalog_id: str) -> bytes:
    """The ordering key of a model within its label: SHA-256 of its id."""
    return hashlib.sha256(catalog_id.encode("utf-8")).digest()


def held_out_count(models: int, fraction: float = HELD_OUT_FRACTION) -> int:
    """Models of a label with ``models`` models that are held out (see the module docstring)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction}")
    if models < 2:
        return 0
    return min(models - 1, max(1, round(models * fraction)))


def split_by_label(
    entries: Sequence[CatalogEntry], fraction: float = HELD_OUT_FRACTION
) -> list[CatalogEntry]:
    """``entries`` (in the same order) with ``split`` set by the rule of the module docstring."""
    by_label: dict[str, list[str]] = {}
    for e in entries:
        by_label.setdefault(e.label, []).append(e.catalog_id)
    held_out: set[str] = set()
    for ids in by_label.values():
        ranked = sorted(set(ids), key=id_rank_key)
        held_out.update(ranked[: held_out_count(len(ranked), fraction)])
    return [replace(e, split="held-out" if e.catalog_id in held_out else "train") for e in entries]
