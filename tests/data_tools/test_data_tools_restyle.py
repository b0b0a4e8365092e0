"""Restyled objects: random looks on the same meshes, so a room's geometry, masks and labels are
those of the same room unrestyled, only the restyled objects' pixels change, and their ground truth
carries no colour or material words. Recoloured objects: one flat colour whose word the ground truth
records."""

from __future__ import annotations

import colorsys
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_tools.assets import RenderPart
from data_tools.attributes import COLOURS, colour_name
from data_tools.catalog import load_catalog
from data_tools.catalogues import CATALOGUES, FURNITURE_DIR
from data_tools.config import RoomConfig
from data_tools.make_room import generate_room
from data_tools.restyle import (
    PATTERN_KINDS,
    TINT_MAX_SATURATION,
    TINT_VALUE_RANGE,
    VALUE_RANGE,
    colour_for_word,
    random_pattern,
    restyle_parts,
    restyled_instances,
    texture_pool,
)
from data_tools.rooms import make_layout

ALL_CATALOGUES = all((FURNITURE_DIR / f"{n}.sh3f").is_file() for n in CATALOGUES)


def _parts(tmp_path: Path) -> list[RenderPart]:
    own = tmp_path / "own.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(own)
    return [
        RenderPart(tmp_path / "a.obj", (0.2, 0.3, 0.4, 1.0), own),  # texture-mapped
        RenderPart(tmp_path / "b.obj", (0.9, 0.9, 0.9, 1.0), None),  # colour only: no UVs
    ] * 20


def test_restyle_parts_keeps_meshes_and_textures_only_texture_mapped_parts(tmp_path):
    parts = _parts(tmp_path)
    pool = [tmp_path / "p0.png", tmp_path / "p1.png"]
    out = restyle_parts(parts, pool, np.random.default_rng(0))
    assert [p.obj_path for p in out] == [p.obj_path for p in parts]
    assert all(p.texture_path is None for p, q in zip(out, parts, strict=True) if q.texture_path is None)
    textured = [p for p, q in zip(out, parts, strict=True) if q.texture_path is not None]
    assert {p.texture_path for p in textured} <= {*pool, None}
    assert 0 < sum(p.texture_path is not None for p in textured) < len(textured)  # some flat, some textured
    for p in out:
        h, s, v = colorsys.rgb_to_hsv(*p.rgba[:3])
        assert p.rgba[3] == 1.0
        if p.texture_path is None:
            assert VALUE_RANGE[0] - 1e-9 <= v <= VALUE_RANGE[1] + 1e-9
        else:  # a tint light enough to show the texture
            assert TINT_VALUE_RANGE[0] - 1e-9 <= v and s <= TINT_MAX_SATURATION + 1e-9
    assert len({p.rgba for p in out}) == len(out)  # every material its own colour
    again = restyle_parts(parts, pool, np.random.default_rng(0))
    assert again == out  # reproducible from the generator
    assert restyle_parts(parts, [], np.random.default_rng(0))[0].texture_path is None


def test_patterns_are_images_of_every_kind_and_the_pool_adds_the_rooms_own(tmp_path):
    for kind in PATTERN_KINDS:
        image = random_pattern(np.random.default_rng(1), kind, px=32)
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and image.std() > 0, kind
    own = [tmp_path / "x.png", tmp_path / "x.png"]
    pool = texture_pool(np.random.default_rng(1), tmp_path / "pool", own, count=3)
    assert len(pool) == 4 and pool[-1] == own[0]
    for path in pool[:3]:
        with Image.open(path) as img:
            assert img.mode == "RGB"


def test_restyled_instances_share_and_bounds():
    catalog = load_catalog(RoomConfig().archive, force_primitives=True)
    layout = make_layout(catalog, 6, 2, 2.6, np.random.default_rng(0), "all", None)
    ids = {o.instance_id for o in layout.objects}
    assert restyled_instances(layout, 0.0, np.random.default_rng(0)) == frozenset()
    assert restyled_instances(layout, 1.0, np.random.default_rng(0)) == ids  # objects only, never the shell
    with pytest.raises(ValueError, match="restyle fraction must be in"):
        restyled_instances(layout, 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="restyle_fraction must be in"):
        RoomConfig(restyle_fraction=-0.1)


def _room_pair(tmp_path: Path, **change: float):
    """The tiny preset's room 3 as it is and with ``change`` applied: (plain, changed, their ground
    truths, the changed room's furniture records)."""
    base = RoomConfig.preset("tiny", seed=3, catalogues="all", num_views=4)
    plain = generate_room(base, tmp_path / "plain")
    changed = generate_room(replace(base, **change), tmp_path / "changed")
    gt_plain, gt_changed = (json.loads((r.out_dir / "ground_truth.json").read_text()) for r in (plain, changed))
    furniture = [o for o in gt_changed["objects"] if o["category"] != "structure"]
    return plain, changed, gt_plain, gt_changed, furniture


@pytest.mark.skipif(not ALL_CATALOGUES, reason="sweethome3d-furniture absent")
def test_a_restyled_room_is_the_same_room_with_other_looks(tmp_path):
    plain, styled, gt_plain, gt_styled, furniture = _room_pair(tmp_path, restyle_fraction=1.0)
    base = plain.config
    assert furniture and all(
        o["restyled"] is True and "colour" not in o and "material" not in o for o in furniture
    )
    assert all("restyled" not in o for o in gt_plain["objects"])  # unrestyled rooms' files as before
    assert any(o.get("colour") for o in gt_plain["objects"])
    strip = ("restyled", "colour", "material", "parts")
    assert [{k: v for k, v in o.items() if k not in strip} for o in gt_plain["objects"]] == [
        {k: v for k, v in o.items() if k not in strip} for o in gt_styled["objects"]
    ]
    np.testing.assert_array_equal(plain.poses, styled.poses)
    shell = [o["instance_id"] for o in gt_plain["objects"] if o["category"] == "structure"]
    changed = []
    for i in range(base.num_views):
        name = f"frame_{i:05d}.png"
        for kind in ("depth", "masks"):
            a = np.asarray(Image.open(plain.out_dir / kind / name))
            np.testing.assert_array_equal(a, np.asarray(Image.open(styled.out_dir / kind / name)))
        mask = np.asarray(Image.open(plain.out_dir / "masks" / name))
        rgb_a = np.asarray(Image.open(plain.out_dir / "images" / name), dtype=np.int64)
        rgb_b = np.asarray(Image.open(styled.out_dir / "images" / name), dtype=np.int64)
        on_shell = np.isin(mask, shell)
        np.testing.assert_array_equal(rgb_a[on_shell], rgb_b[on_shell])  # walls and floor untouched
        if (~on_shell).any():
            changed.append(np.abs(rgb_a[~on_shell] - rgb_b[~on_shell]).mean())
    assert changed and min(changed) > 5.0  # every view's objects look different


def test_colour_for_word_gives_a_colour_of_that_name_for_every_word():
    rng = np.random.default_rng(0)
    for word in COLOURS:
        for _ in range(20):
            rgba = colour_for_word(word, rng)
            assert rgba[3] == 1.0 and all(0.0 <= c <= 1.0 for c in rgba)
            assert colour_name(rgba[:3]) == word
    assert colour_for_word("red", np.random.default_rng(5)) == colour_for_word("red", np.random.default_rng(5))
    with pytest.raises(ValueError, match="unknown colour word 'gray'"):
        colour_for_word("gray", rng)
    with pytest.raises(ValueError, match="recolour_fraction must be in"):
        RoomConfig(recolour_fraction=1.2)


@pytest.mark.skipif(not ALL_CATALOGUES, reason="sweethome3d-furniture absent")
def test_a_recoloured_room_is_the_same_room_in_flat_named_colours(tmp_path):
    plain, coloured, gt_plain, gt_coloured, furniture = _room_pair(tmp_path, recolour_fraction=1.0)
    base = plain.config
    assert furniture and all(
        o["recoloured"] is True and o["colour"] in COLOURS and o["material"] is None for o in furniture
    )
    assert all("recoloured" not in o for o in gt_plain["objects"])
    plain_parts = {o["instance_id"]: o.get("parts") for o in gt_plain["objects"]}
    assert all(o["parts"] == plain_parts[o["instance_id"]] for o in furniture)  # part words kept
    strip = ("recoloured", "colour", "material")
    assert [{k: v for k, v in o.items() if k not in strip} for o in gt_plain["objects"]] == [
        {k: v for k, v in o.items() if k not in strip} for o in gt_coloured["objects"]
    ]
    word_of = {o["instance_id"]: o["colour"] for o in furniture}
    checked = []
    for i in range(base.num_views):
        name = f"frame_{i:05d}.png"
        mask = np.asarray(Image.open(coloured.out_dir / "masks" / name))
        np.testing.assert_array_equal(mask, np.asarray(Image.open(plain.out_dir / "masks" / name)))
        rgb = np.asarray(Image.open(coloured.out_dir / "images" / name), dtype=np.float64) / 255.0
        for iid, word in word_of.items():
            pixels = rgb[mask == iid]
            if len(pixels) < 50 or word not in ("red", "orange", "yellow", "green", "blue", "purple", "pink"):
                continue  # white, grey, black, brown, beige differ by value and saturation, which shading moves
            # one flat colour under white light: every lit pixel has its hue, the word's hue band
            hsv = np.array([colorsys.rgb_to_hsv(*px) for px in pixels[pixels.max(axis=1) > 0.1]])
            angle = np.angle(np.exp(2j * np.pi * hsv[:, 0]).mean()) / (2 * np.pi) % 1.0
            checked.append(colour_name(colorsys.hsv_to_rgb(angle, 1.0, 1.0)) == word)
    assert len(checked) >= 3 and all(checked), checked
    # a room without recolouring is the room it was before the option existed
    again = generate_room(replace(base, recolour_fraction=0.0), tmp_path / "again")
    for i in range(base.num_views):
        name = f"frame_{i:05d}.png"
        np.testing.assert_array_equal(
            np.asarray(Image.open(again.out_dir / "images" / name)), np.asarray(Image.open(plain.out_dir / "images" / name))
        )
