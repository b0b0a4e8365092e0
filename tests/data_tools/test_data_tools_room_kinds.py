"""Room kinds: which models furnish a kitchen, a bathroom, an office, a bedroom."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools.catalog import Catalog, CatalogEntry
from data_tools.catalogues import CATALOGUES, FURNITURE_DIR, load_catalogues
from data_tools.labels import KINDS, kind_of
from data_tools.room_kinds import ROOM_KINDS, room_kind
from data_tools.rooms import choose_for_kind, make_layout


def _entry(
    name: str, placement: str = "floor", size=(0.8, 0.6, 0.9), top: float | None = None
) -> CatalogEntry:
    return CatalogEntry(
        f"test/{name.lower().replace(' ', '-')}", name, name.lower(), "Test", size, placement, top, "train"
    )


def test_room_kinds_name_reviewed_kinds():
    assert {"kitchen", "bathroom", "office", "bedroom"} <= set(ROOM_KINDS)
    for kind in ROOM_KINDS.values():
        named = kind.floor | kind.tabletop | {k for group in kind.anchors for k in group}
        assert named <= KINDS, (kind.name, sorted(named - KINDS))
    with pytest.raises(ValueError, match="unknown room kind 'garage'; choose one of bathroom, bedroom"):
        room_kind("garage")


def test_choose_for_kind_places_anchors_first_and_only_what_belongs():
    candidates = [
        _entry(n) for n in ("Refrigerator", "Oven", "Sink", "Lower cabinet", "Bed", "Sofa", "Stool")
    ]
    chosen = choose_for_kind(ROOM_KINDS["kitchen"], candidates, 6, np.random.default_rng(0))
    kinds = [kind_of(e.name) for e in chosen]
    assert kinds[:4] == [
        "fridge",
        "oven",
        "sink",
        "cabinet",
    ]  # no table in the candidates: that anchor is skipped
    assert len(chosen) == 6 and not {"bed", "sofa"} & set(kinds)
    assert [
        kind_of(e.name)
        for e in choose_for_kind(ROOM_KINDS["kitchen"], candidates, 2, np.random.default_rng(0))
    ] == ["fridge", "oven"]
    with pytest.raises(ValueError, match="no floor models for a bathroom"):
        choose_for_kind(ROOM_KINDS["bathroom"], candidates[4:6], 3, np.random.default_rng(0))  # a bed, a sofa


def test_layout_of_a_kind_keeps_tabletop_items_of_that_kind():
    entries = (
        _entry("Table", size=(1.2, 0.8, 0.75), top=0.75),
        _entry("Fridge", size=(0.7, 0.7, 1.8)),
        _entry("Cup", "tabletop", (0.1, 0.1, 0.1)),
        _entry("Teddy bear", "tabletop", (0.2, 0.2, 0.3)),
    )
    layout = make_layout(Catalog(entries), 2, 3, 2.6, np.random.default_rng(1), kind=ROOM_KINDS["kitchen"])
    names = [o.entry.name for o in layout.objects]
    assert sorted(names[:2]) == ["Fridge", "Table"] and "Teddy bear" not in names and "Cup" in names


@pytest.mark.skipif(
    not all((FURNITURE_DIR / f"{n}.sh3f").is_file() for n in CATALOGUES),
    reason="sweethome3d-furniture absent",
)
@pytest.mark.parametrize("name", sorted(ROOM_KINDS))
def test_every_room_kind_is_furnished_from_all_catalogues(name):
    catalog = load_catalogues(CATALOGUES)
    kind = ROOM_KINDS[name]
    for seed in range(3):
        layout = make_layout(catalog, 8, 3, 2.6, np.random.default_rng(seed), kind=kind)
        labels = [o.entry.label for o in layout.objects]
        assert all(any(k in group for k in labels) for group in kind.anchors), (name, seed, labels)
        assert all(kind.allows_floor(o.entry.label) for o in layout.objects if o.support_id is None)
        assert all(o.entry.label in kind.tabletop for o in layout.objects if o.support_id is not None)
