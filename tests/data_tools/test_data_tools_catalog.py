"""The furniture catalogue: properties parsing, labels, exclusions, splits, fallback, model cache."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from data_tools.assets import prepare_model
from data_tools.catalog import (
    DEFAULT_ARCHIVE,
    FurnitureArchiveMissing,
    catalog_from_properties,
    clean_label,
    load_catalog,
    model_split,
    parse_properties,
)
from data_tools.objmesh import parse_obj

requires_furniture = pytest.mark.skipif(
    not DEFAULT_ARCHIVE.is_file(), reason="furniture archive absent: apt-get install sweethome3d-furniture"
)

PROPERTIES = r"""
# comment
! another comment
id=Test
id#1=Test#chair
name#1=Caf\u00e9 chair
category#1=Living room
model#1=/test/chair/chair.obj
width#1=50
depth#1=40
height#1=90
dropOnTopElevation#1=45
doorOrWindow#1=false
creator#1=Someone \
  Else
id#2=Test#door
name#2=Door
category#2=Doors and windows
model#2=/test/door/door.obj
width#2=90
depth#2=10
height#2=210
doorOrWindow#2=true
id#3=Test#lamp
name#3=Wall lamp
category#3=Lights
model#3=/test/lamp/lamp.obj
width#3=20
depth#3=20
height#3=30
elevation#3=150
id#4=Test#cup
name#4=Cup
category#4=Kitchen
model#4=/test/cup/cup.obj
width#4=8
depth#4=8
height#4=10
id#5=Test#table
name#5=Table
category#5=Kitchen
model#5=/test/table/table.obj
width#5=120
depth#5=80
height#5=75
"""


def test_parse_properties_handles_escapes_and_continuations():
    props = parse_properties(PROPERTIES)
    assert props["name#1"] == "Café chair"
    assert props["creator#1"] == "Someone Else"
    assert "# comment" not in props and props["id"] == "Test"


def test_catalogue_rules_exclude_doors_and_wall_mounted_models():
    catalog = catalog_from_properties(parse_properties(PROPERTIES), Path("test.sh3f"))
    assert [e.catalog_id for e in catalog.entries] == ["test/chair", "test/cup", "test/table"]
    assert dict(catalog.excluded) == {"test/door": "door or window", "test/lamp": "mounted above the floor"}
    chair, cup, table = catalog.entries
    assert chair.label == "café chair" and chair.size == pytest.approx((0.5, 0.4, 0.9))
    assert (chair.placement, cup.placement, table.placement) == ("floor", "tabletop", "floor")
    assert table.top_height == pytest.approx(0.75) and chair.top_height is None
    assert catalog.labels() == ["café chair", "cup", "table"]


@pytest.mark.parametrize(
    "name, label", [("Armchair", "armchair"), ("Bedside table", "bedside table"), ("TV", "television")]
)
def test_clean_label(name, label):
    assert clean_label(name) == label


def test_model_split_is_a_stable_hash():
    ids = [f"blendswap-cc-0/model{i}" for i in range(400)]
    splits = [model_split(i) for i in ids]
    assert splits == [model_split(i) for i in ids]
    assert 0.15 < splits.count("held-out") / len(ids) < 0.35  # HELD_OUT_FRACTION is 0.25


def test_missing_archive_warns_and_falls_back_to_primitives(tmp_path):
    missing = tmp_path / "nothing.sh3f"
    with pytest.warns(UserWarning, match="apt-get install sweethome3d-furniture"):
        catalog = load_catalog(missing)
    assert catalog.is_primitive and set(catalog.labels()) == {"box", "cylinder", "sphere"}
    with pytest.raises(FurnitureArchiveMissing, match="apt-get install sweethome3d-furniture"):
        load_catalog(missing, strict=True)


def test_not_an_archive_is_named(tmp_path):
    bad = tmp_path / "bad.sh3f"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="bad.sh3f: not a Sweet Home 3D furniture archive"):
        load_catalog(bad)


def test_primitive_models_are_fitted_meshes(tmp_path):
    catalog = load_catalog(force_primitives=True)
    entry = catalog.get("primitive/cylinder-barrel")
    model = prepare_model(entry, catalog, tmp_path)
    np.testing.assert_allclose(model.bounds_max, [0.3, 0.3, 0.9], atol=1e-9)
    (part,) = model.parts
    assert part.texture_path is not None and part.texture_path.is_file()
    (mesh,) = parse_obj(part.obj_path.read_text(), {})
    assert mesh.positions[..., 2].min() == pytest.approx(0.0) and mesh.positions[
        ..., 2
    ].max() == pytest.approx(0.9)


@requires_furniture
def test_real_catalogue_contents():
    catalog = load_catalog(DEFAULT_ARCHIVE, strict=True)
    assert len(catalog.entries) + len(catalog.excluded) == 175  # every model of the archive is accounted for
    labels = catalog.labels()
    assert {"armchair", "bed", "chair", "sofa", "bookcase", "television"} <= set(labels)
    assert all(label == label.lower().strip() for label in labels)
    reasons = dict(catalog.excluded)
    assert reasons["blendswap-cc-0/wallLight"] == "mounted above the floor"
    assert reasons["blendswap-cc-0/peterbilt"].startswith("category Vehicles")
    held_out = catalog.select(split="held-out")
    assert held_out, "some models must be held out"
    # held-out models are unseen instances of labels that train models also have
    train_labels = {e.label for e in catalog.select(split="train")}
    assert {e.label for e in held_out} <= train_labels
    assert max(max(e.size) for e in catalog.entries) <= 2.6


@requires_furniture
def test_real_model_is_split_by_material_and_cached(tmp_path):
    catalog = load_catalog(DEFAULT_ARCHIVE, strict=True)
    entry = catalog.get("blendswap-cc-0/bedsideTable2")
    model = prepare_model(entry, catalog, tmp_path)
    assert len(model.parts) >= 2  # several materials, one mesh each
    w, d, h = entry.size
    np.testing.assert_allclose(model.bounds_min, [-w / 2, -d / 2, 0.0], atol=1e-5)
    np.testing.assert_allclose(model.bounds_max, [w / 2, d / 2, h], atol=1e-5)
    index = next(tmp_path.rglob("parts.json"))
    stamp = index.stat().st_mtime_ns
    again = prepare_model(entry, catalog, tmp_path)
    assert index.stat().st_mtime_ns == stamp and again == model  # second call reads the cache
    assert len(json.loads(index.read_text())["parts"]) == len(model.parts)
