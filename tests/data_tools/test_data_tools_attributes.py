"""Colour, material and part words from a model's materials (MTL fixtures written from the spec)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from data_tools.attributes import (
    Attributes,
    Surface,
    attributes_of,
    colour_name,
    main,
    material_word,
    model_attributes,
    part_words,
    surfaces,
)
from data_tools.catalog import load_catalog
from data_tools.objmesh import parse_mtl, parse_obj

# two materials: an oak-textured back of 2 m^2 and a red fabric seat of 1 m^2 (OBJ: v, vt, usemtl, f)
MTL = """# materials
newmtl Wood_Oak
Kd 1.0 1.0 1.0
map_Kd oak.png

newmtl Seat_fabric
Kd 0.8 0.1 0.1
d 1.0
"""

OBJ = """mtllib chair.mtl
v 0 0 0
v 2 0 0
v 2 1 0
v 0 1 0
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
vt 0 0
vt 1 0
vt 1 1
vt 0 1
usemtl Wood_Oak
f 1/1 2/2 3/3 4/4
usemtl Seat_fabric
f 5 6 7 8
"""

OAK = np.full((4, 4, 3), (140, 90, 50), np.uint8)
"""A brown texture: hue 24 degrees, value 0.55."""


def _surfaces(obj: str = OBJ, mtl: str = MTL):
    return surfaces(parse_obj(obj, parse_mtl(mtl)), {"oak.png": OAK})


@pytest.mark.parametrize(
    "rgb, word",
    [
        ((0, 0, 0), "black"),
        ((1, 1, 1), "white"),
        ((0.5, 0.5, 0.5), "grey"),
        ((0.9, 0.1, 0.1), "red"),
        ((0.95, 0.55, 0.1), "orange"),
        ((0.55, 0.35, 0.2), "brown"),
        ((0.9, 0.85, 0.7), "beige"),
        ((0.9, 0.9, 0.1), "yellow"),
        ((0.1, 0.7, 0.2), "green"),
        ((0.1, 0.2, 0.8), "blue"),
        ((0.5, 0.1, 0.7), "purple"),
        ((0.95, 0.4, 0.7), "pink"),
        ((0.5, 0.05, 0.05), "red"),
    ],
)
def test_colour_name(rgb, word):
    assert colour_name(rgb) == word


@pytest.mark.parametrize(
    "name, word",
    [
        ("Wood_Oak", "wooden"),
        ("tilewood", "wooden"),
        ("blackPlastic", "plastic"),
        ("metalic_grey", "metal"),
        ("fusta_llit", "wooden"),
        ("Cristal", "glass"),
        ("Material.001", None),
        ("washing", None),
        ("ash", "wooden"),
    ],
)
def test_material_word(name, word):
    assert material_word(name) == word


def test_part_words():
    assert part_words("Chair_Seat_fabric") == ("seat",)
    assert part_words("lampshade white") == ("lamp shade",)
    assert part_words("Seats2") == ()  # whole words only


def test_surfaces_measure_area_and_take_the_texture_colour():
    wood, seat = _surfaces()
    assert wood.area == pytest.approx(2.0) and seat.area == pytest.approx(1.0)
    assert wood.rgb == pytest.approx((140 / 255, 90 / 255, 50 / 255))  # the texture replaces Kd
    assert seat.rgb == pytest.approx((0.8, 0.1, 0.1)) and wood.name == "Wood_Oak oak.png"


def test_attributes_follow_the_larger_surface_and_the_name():
    assert attributes_of("Chair", _surfaces()) == Attributes("brown", "wooden", ("seat",))
    # the same materials with the seat now twice the back's area
    bigger_seat = OBJ.replace("v 1 0 1\nv 1 1 1", "v 4 0 1\nv 4 1 1")
    assert attributes_of("Chair", _surfaces(bigger_seat)) == Attributes("red", "fabric", ("seat",))
    # words of the catalogue name win: "Black" and "Plastic" are what the catalogue says it is
    assert attributes_of("Black plastic chair", _surfaces()).as_dict() == {
        "colour": "black",
        "material": "plastic",
    }


def test_undecided_words_are_none():
    unnamed = MTL.replace("Wood_Oak", "Material.001").replace("Seat_fabric", "Material.002")
    unnamed = unnamed.replace("oak.png", "texture1.png")  # a texture the archive lacks: Kd is drawn
    obj = OBJ.replace("Wood_Oak", "Material.001").replace("Seat_fabric", "Material.002")
    assert attributes_of("Chair", _surfaces(obj, unnamed)) == Attributes("white", None, ())
    three_ways = [Surface(f"m{i}", rgb, 1.0) for i, rgb in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1)])]
    assert attributes_of("Chair", three_ways).colour is None  # no colour covers 40 % of the surface
    assert attributes_of("Thing", []) == Attributes(None, None, ())
    assert Attributes(None, None).as_dict() is None


def _write_chair_archive(archive):
    png = io.BytesIO()
    Image.fromarray(OAK).save(png, format="PNG")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "PluginFurnitureCatalog.properties",
            "id#1=T#chair\nname#1=Chair\ncategory#1=Living room\nmodel#1=/test/chair/chair.obj\n"
            "width#1=50\ndepth#1=50\nheight#1=90\n",
        )
        zf.writestr("test/chair/chair.obj", OBJ)
        zf.writestr("test/chair/chair.mtl", MTL)
        zf.writestr("test/chair/oak.png", png.getvalue())
    return archive


def test_model_attributes_read_the_archive(tmp_path):
    archive = _write_chair_archive(tmp_path / "Test.sh3f")
    (entry,) = load_catalog(archive, strict=True).entries
    assert model_attributes(entry) == Attributes("brown", "wooden", ("seat",))


def test_cli_writes_the_table_and_names_a_missing_archive(tmp_path, capsys):
    _write_chair_archive(tmp_path / "Scopia.sh3f")  # a catalogue name the command knows
    out = tmp_path / "attributes.json"
    assert main(["--catalogues", "Scopia", "--folder", str(tmp_path), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {
        "test/chair": {"colour": "brown", "material": "wooden", "parts": ["seat"]}
    }
    assert "1 models, colour for 1, material for 1, parts for 1" in capsys.readouterr().out
    missing = tmp_path / "none.json"
    assert main(["--catalogues", "KatorLegaz", "--folder", str(tmp_path), "--out", str(missing)]) == 2
    assert "KatorLegaz.sh3f not found" in capsys.readouterr().err and not missing.exists()
