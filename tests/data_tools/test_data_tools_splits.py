"""Splits by model within each label."""

from __future__ import annotations

from collections import Counter

import pytest

from data_tools.catalog import CatalogEntry
from data_tools.catalogues import CATALOGUES, FURNITURE_DIR, load_catalogues
from data_tools.splits import held_out_count, split_by_label


def _entry(catalog_id: str, label: str) -> CatalogEntry:
    return CatalogEntry(catalog_id, label, label, "Test", (1.0, 1.0, 1.0), "floor", None, "train")


@pytest.mark.parametrize("models, held", [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1), (6, 2), (10, 2), (34, 8)])
def test_held_out_count(models, held):
    assert held_out_count(models, 0.25) == held


def test_held_out_count_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="fraction must be in"):
        held_out_count(4, 1.0)


def test_split_by_label_holds_out_models_of_every_shared_label():
    entries = [_entry(f"cat/chair{i}", "chair") for i in range(8)]
    entries += [_entry("cat/bed1", "bed"), _entry("cat/bed2", "bed"), _entry("cat/lamp", "lamp")]
    split = split_by_label(entries)
    assert [e.catalog_id for e in split] == [e.catalog_id for e in entries]  # order kept
    held = Counter(e.label for e in split if e.split == "held-out")
    assert held == {"chair": 2, "bed": 1}  # the single lamp stays in train
    # the same ids give the same split whatever the order they come in
    again = {e.catalog_id: e.split for e in split_by_label(entries[::-1])}
    assert again == {e.catalog_id: e.split for e in split}


@pytest.mark.skipif(
    not all((FURNITURE_DIR / f"{n}.sh3f").is_file() for n in CATALOGUES),
    reason="sweethome3d-furniture absent",
)
def test_installed_catalogues_split():
    catalog = load_catalogues(CATALOGUES)
    train = {e.catalog_id for e in catalog.select(split="train")}
    held_out = {e.catalog_id for e in catalog.select(split="held-out")}
    assert held_out and not train & held_out
    per_label = Counter(e.label for e in catalog.entries)
    held_labels = {e.label for e in catalog.entries if e.split == "held-out"}
    train_labels = {e.label for e in catalog.entries if e.split == "train"}
    assert held_labels == {label for label, n in per_label.items() if n >= 2}
    assert train_labels == set(per_label)  # every label keeps a training model
    # a model's split does not depend on which catalogues are chosen
    scopia = {e.catalog_id: e.split for e in load_catalogues(["Scopia"]).entries}
    assert scopia == {e.catalog_id: e.split for e in catalog.entries if e.catalogue == "Scopia"}
