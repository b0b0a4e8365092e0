"""Material twins: grouping catalogue models by their materials, and the retrieval figure that forgives
confusions inside a group."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from data_tools.assets import PreparedModel, RenderPart
from data_tools.catalog import DEFAULT_ARCHIVE, load_catalog
from data_tools.tower_data import CropSet
from data_tools.tower_eval import retrieval
from data_tools.twins import catalog_twins, material_signature, twin_groups


def _model(tmp_path: Path, name: str, texture: bytes | None, rgba=(1.0, 1.0, 1.0, 1.0)) -> PreparedModel:
    path = None
    if texture is not None:
        path = tmp_path / f"{name}.png"
        path.write_bytes(texture)
    part = RenderPart(obj_path=tmp_path / f"{name}.obj", rgba=rgba, texture_path=path)
    return PreparedModel(name, (part,), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def test_signature_depends_on_texture_content_and_colour_not_on_file_or_geometry(tmp_path: Path) -> None:
    a = _model(tmp_path, "a", b"wood")
    b = replace(_model(tmp_path, "b", b"wood"), bounds_max=(2.0, 1.0, 1.0))  # other file, other size
    c = _model(tmp_path, "c", b"oak")
    d = _model(tmp_path, "d", b"wood", rgba=(0.5, 0.5, 0.5, 1.0))
    assert material_signature(a) == material_signature(b)
    assert material_signature(a) != material_signature(c)
    assert material_signature(a) != material_signature(d)
    assert material_signature(_model(tmp_path, "e", None)) != material_signature(a)


def test_twin_groups_join_labels_not_models() -> None:
    sig = {"m1": (((1.0, 1.0, 1.0, 1.0), "x"),), "m2": (((1.0, 1.0, 1.0, 1.0), "x"),), "m3": (((1.0, 1.0, 1.0, 1.0), "x"),)}
    sig |= {"m4": (((0.2, 0.1, 0.1, 1.0), ""),), "m5": (((0.2, 0.1, 0.1, 1.0), ""),), "m6": (((0.9, 0.9, 0.9, 1.0), ""),)}
    labels = {"m1": "lower cabinet", "m2": "drawers cabinet", "m3": "lower cabinet", "m4": "chair", "m5": "chair", "m6": "lamp"}
    # m4/m5 share materials but also their label: no group; m6 is alone
    assert twin_groups(sig, labels) == (frozenset({"drawers cabinet", "lower cabinet"}),)


@pytest.mark.skipif(not DEFAULT_ARCHIVE.is_file(), reason="furniture archive absent: apt-get install sweethome3d-furniture")
def test_the_kitchen_cabinets_of_the_catalogue_are_material_twins() -> None:
    catalog = load_catalog()
    keep = ("drawersCabinet", "lowerCabinet", "highCabinet", "winchesterArmchair", "winchesterSofa", "oven")
    only = {e.catalog_id for e in catalog.entries if e.catalog_id.rsplit("/", 1)[-1] in keep}
    assert len(only) == len(keep)
    groups = catalog_twins(catalog, only)
    assert frozenset({"drawers cabinet", "lower cabinet"}) in groups
    assert frozenset({"winchester armchair", "winchester sofa"}) in groups
    assert not any("oven" in g or "high cabinet" in g for g in groups)


def test_retrieval_forgives_only_confusions_inside_a_twin_group() -> None:
    labels = ["drawers cabinet", "lower cabinet", "chair", "lamp"]
    texts = torch.eye(4)
    # 2 drawers-cabinet crops seen as lower cabinet, 1 chair seen as lamp, 1 lamp right
    truth = torch.tensor([0, 0, 2, 3])
    seen = torch.tensor([1, 1, 3, 3])
    emb = F.normalize(F.one_hot(seen, 4).float() + 0.01, dim=-1)
    crops = CropSet(
        images=torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
        labels=truth,
        tile_fractions=torch.tensor([0.5, 0.05, 0.5, 0.5]),
        rooms=torch.zeros(4, dtype=torch.int64),
        models=truth.clone(),
        colours=torch.full((4,), -1),
        materials=torch.full((4,), -1),
    )
    plain = retrieval(emb, crops, texts, labels)
    forgiving = retrieval(emb, crops, texts, labels, (frozenset({"drawers cabinet", "lower cabinet"}),))
    assert plain.top1 == forgiving.top1 == pytest.approx(0.25)
    assert forgiving.top1_twins == pytest.approx(0.75)
    assert forgiving.top1_large_twins == pytest.approx(2 / 3)
    assert plain.top1_twins == pytest.approx(plain.top1)
