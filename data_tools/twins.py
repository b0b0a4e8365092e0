"""Material twins: catalogue models that differ in name but not in what they are made of.

Some catalogue models share every material: the same texture images and the same colours
("drawers cabinet", "lower cabinet" and "lower corner cabinet" are one kitchen finish; the
"winchester armchair" is cut from the "winchester sofa"'s leather). Rendered, a crop of one is a
crop of the other unless it shows the few centimetres of geometry that differ (a handle, the
width of the whole piece). The tower card reports its accuracy both exactly and with a confusion
inside such a group counted as right, so the two kinds of error are told apart.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from data_tools.assets import PreparedModel, prepare_model
from data_tools.catalog import Catalog

MaterialSignature = tuple[tuple[tuple[float, float, float, float], str], ...]
"""Sorted (rgba, texture content hash or '') of a model's render parts."""


def material_signature(model: PreparedModel) -> MaterialSignature:
    """What a model's surfaces look like, independent of its geometry."""
    parts = []
    for part in model.parts:
        texture = hashlib.sha256(part.texture_path.read_bytes()).hexdigest() if part.texture_path else ""
        parts.append((tuple(round(c, 4) for c in part.rgba), texture))
    return tuple(sorted(parts))


def twin_groups(signatures: dict[str, MaterialSignature], labels: dict[str, str]) -> tuple[frozenset[str], ...]:
    """Groups of two or more *labels* whose models (``catalog_id`` -> signature, ``catalog_id`` ->
    label) share one material signature, sorted for a stable order. Models of one label do not
    make a group."""
    by_signature: dict[MaterialSignature, set[str]] = defaultdict(set)
    for catalog_id, signature in signatures.items():
        by_signature[signature].add(labels[catalog_id])
    groups = {frozenset(g) for g in by_signature.values() if len(g) > 1}
    return tuple(sorted(groups, key=lambda g: sorted(g)))


def catalog_twins(
    catalog: Catalog, only: set[str] | None = None, cache_dir: Path | None = None
) -> tuple[frozenset[str], ...]:
    """:func:`twin_groups` of the models of a catalogue (those whose ``catalog_id`` is in ``only``,
    else all); models are converted once and cached."""
    entries = [e for e in catalog.entries if only is None or e.catalog_id in only]
    signatures = {e.catalog_id: material_signature(prepare_model(e, catalog, cache_dir)) for e in entries}
    return twin_groups(signatures, {e.catalog_id: e.label for e in entries})
