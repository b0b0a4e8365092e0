"""Several catalogues as one; the default (Blend Swap CC-0 alone) stays what it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_tools.attribution import credits_markdown
from data_tools.catalog import DEFAULT_ARCHIVE, FurnitureArchiveMissing, load_catalog
from data_tools.catalogues import CATALOGUES, FURNITURE_DIR, load_catalogues, main, parse_selection
from data_tools.config import RoomConfig
from data_tools.make_room import random_streams
from data_tools.rooms import make_layout

requires_all = pytest.mark.skipif(
    not all((FURNITURE_DIR / f"{n}.sh3f").is_file() for n in CATALOGUES),
    reason="sweethome3d-furniture absent",
)

# make_layout of the demo preset, seed 0, as the first release wrote it (catalog id, position, yaw)
DEFAULT_ROOM_SEED_0 = [
    ("blendswap-cc-0/table", (-1.325, 0.73, 0.0), 90),
    ("blendswap-cc-0/oakTable", (0.797, -1.205, 0.0), 0),
    ("blendswap-cc-0/designChair", (1.511, 1.547, 0.0), 270),
    ("blendswap-cc-0/oven", (0.165, 1.065, 0.0), 270),
    ("blendswap-cc-0/oven", (-1.091, -1.719, 0.0), 0),
    ("blendswap-cc-0/oven", (1.242, -2.3925, 0.0), 180),
    ("blendswap-cc-0/oven", (0.13, -2.3925, 0.0), 180),
    ("blendswap-cc-0/oakChair", (0.318, 2.344, 0.0), 0),
    ("blendswap-cc-0/basketball", (0.556, -1.004, 0.741), 270),
    ("blendswap-cc-0/cosmeticsPot", (0.966, -1.284, 0.741), 90),
    ("blendswap-cc-0/teddyBear", (0.565, -1.386, 0.741), 90),
]

LEGACY_HELD_OUT = [
    "blendswap-cc-0/antiqueChair",
    "blendswap-cc-0/armchair",
    "blendswap-cc-0/augalas",
    "blendswap-cc-0/bed1",
    "blendswap-cc-0/box",
    "blendswap-cc-0/technicalTable2",
]
"""Held-out models of the default catalogue, on which the packaged encoders' card was measured."""


def test_parse_selection():
    assert parse_selection("all") == CATALOGUES
    assert parse_selection("Scopia, BlendSwap-CC-BY") == ("BlendSwap-CC-BY", "Scopia")  # package order
    with pytest.raises(ValueError, match="unknown catalogue.*'Ikea'.*choose 'all'"):
        parse_selection("Scopia,Ikea")


def test_a_missing_chosen_archive_is_named(tmp_path):
    with pytest.raises(FurnitureArchiveMissing, match=r"Scopia.sh3f not found; install it with"):
        load_catalogues(["Scopia"], tmp_path)
    assert main(["--catalogues", "nothing"]) == 2


def test_default_room_config_reads_blendswap_cc0_alone():
    config = RoomConfig()
    assert config.archive == DEFAULT_ARCHIVE and DEFAULT_ARCHIVE.name == "BlendSwap-CC-0.sh3f"
    assert config.catalogues == "" and config.room == ""


@pytest.mark.skipif(not DEFAULT_ARCHIVE.is_file(), reason="sweethome3d-furniture absent")
def test_default_room_is_unchanged():
    catalog = load_catalog(DEFAULT_ARCHIVE, strict=True)
    assert len(catalog.entries) == 118 and len(catalog.labels()) == 96
    assert sorted(e.catalog_id for e in catalog.select(split="held-out")) == LEGACY_HELD_OUT
    assert catalog.get("blendswap-cc-0/oakTable").label == "oak table"  # catalogue names, not kinds
    config = RoomConfig.preset("demo", seed=0)
    layout = make_layout(
        catalog,
        config.num_objects,
        config.num_tabletop,
        config.wall_height,
        random_streams(0)["layout"],
        config.model_split,
    )
    assert layout.size == (3.69, 5.34, 2.6)
    assert [(o.entry.catalog_id, o.position, o.yaw_deg) for o in layout.objects] == DEFAULT_ROOM_SEED_0


@requires_all
def test_all_catalogues(capsys, tmp_path):
    catalog = load_catalogues(CATALOGUES)
    per_catalogue = {n: sum(e.catalogue == n for e in catalog.entries) for n in CATALOGUES}
    # every model of the package is used or excluded with a reason (820 in all)
    assert len(catalog.entries) + len(catalog.excluded) == 820
    assert per_catalogue["Reallusion"] == 0  # all characters (people), which rooms leave out
    assert min(per_catalogue[n] for n in CATALOGUES if n != "Reallusion") >= 30
    assert catalog.get("blendswap-cc-0/oakTable").label == "table"  # kinds, opted in
    assert len({e.catalog_id for e in catalog.entries}) == len(catalog.entries)  # ids unique across archives
    credits, splits = tmp_path / "CREDITS.md", tmp_path / "splits.json"
    assert main(["--credits", str(credits), "--splits", str(splits)]) == 0
    table = json.loads(splits.read_text())
    assert sum(len(v["train"]) + len(v["held-out"]) for v in table.values()) == len(catalog.entries)
    assert table["armchair"]["held-out"] and all(v["train"] for v in table.values())
    out = capsys.readouterr().out
    assert "| all | 820 | " in out
    text = credits.read_text()
    cc_by = [e for e in catalog.entries if e.licence.startswith("CC-BY")]
    assert all(f"(`{e.catalog_id}`) | {e.creator}" in text for e in cc_by)
    assert "blendswap-cc-0/" not in text  # public domain: no credit needed


@requires_all
def test_committed_credits_file_is_current():
    committed = Path(__file__).resolve().parents[2] / "CREDITS.md"
    expected = credits_markdown(load_catalogues(CATALOGUES).entries)
    assert committed.read_text(encoding="utf-8") == expected, (
        "run: python -m data_tools.catalogues --credits CREDITS.md"
    )
