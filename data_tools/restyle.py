"""Random appearances for furniture instances: domain randomisation for tower training.

A tower trained on renders of a few hundred catalogue models can tell them apart by their own
textures and colours alone and still not know what a chair looks like: on models it never saw the
``catalogues`` build scored 13.6 % top-1 against 85.9 % on unseen rooms of its own models. A
restyled instance keeps its mesh, its place and its label but every one of its materials takes a
random colour and, where the mesh has texture coordinates, often a texture that is not its own
(another model's from the same room, or a procedural wood, paint or blotch pattern), so only its
shape says what it is (the domain randomisation of Tobin et al., 2017; the shape bias of training on
stylised images, Geirhos et al., 2019).

Measured, it did not: with half the training objects restyled, the ``catalogues`` build scored
10.7 % on held-out models and 78.1 % on unseen rooms (``docs/towers_catalogues.md``). Restyling is
off by default and in every preset (``RoomConfig.restyle_fraction`` = 0); a restyled object's
``ground_truth.json`` record says ``"restyled": true`` and carries no colour or material words, which
would describe its catalogue look, not the rendered one.

Recolouring is the colour-word counterpart (``RoomConfig.recolour_fraction``): a recoloured instance
keeps its mesh, place and label and is drawn in one flat colour, the colour word first drawn
uniformly from :data:`data_tools.attributes.COLOURS` and then a colour that
:func:`~data_tools.attributes.colour_name` gives that word, so the word is known exactly and every
word is seen on every kind of shape under the room's light. Its ``ground_truth.json`` record carries
that word as ``colour``, ``"recoloured": true``, its catalogue model's part words and no material
(a flat colour shows none). Measured, it did not teach colour either: a quarter of the ``catalogues``
build's training objects recoloured moved held-out models' colour top-1 from 67.9 to 68.6 % and
lowered unseen rooms' top-1 from 88.0 to 84.5 % (``docs/towers_catalogues.md``); off by default.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from data_tools.assets import PreparedModel, RenderPart
from data_tools.attributes import COLOURS, colour_name
from data_tools.primitives import painted_texture, pattern_texture, smooth_noise, to_uint8, wood_floor_texture
from data_tools.rooms import RoomLayout

PATTERNS_PER_ROOM = 6
"""Procedural textures drawn for each restyled room, one kind of :data:`PATTERN_KINDS` after another."""
PATTERN_KINDS = ("wood", "paint", "blotches", "stripes", "checker", "rings")
"""What a procedural texture looks like: planks, striped wallpaper paint, soft blotches of two colours,
or the object patterns of :func:`data_tools.primitives.pattern_texture`."""
PATTERN_PX = 128
"""Side of a procedural texture in pixels."""
TEXTURED_SHARE = 0.7
"""Share of a restyled instance's texture-mapped materials that take a texture from the pool (the
rest, and every material without texture coordinates, are a flat random colour)."""
VALUE_RANGE = (0.25, 1.0)
"""HSV value range of the random flat colours: no material so dark that its shading disappears."""
TINT_VALUE_RANGE = (0.6, 1.0)
"""HSV value range of the tint a texture is multiplied by (darker tints hide the texture)."""
TINT_MAX_SATURATION = 0.6
"""Largest saturation of a texture's tint."""


def restyled_instances(layout: RoomLayout, fraction: float, rng: np.random.Generator) -> frozenset[int]:
    """Instance ids of the layout's objects to restyle: each independently with probability
    ``fraction`` (room shell never)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"restyle fraction must be in [0, 1], got {fraction}")
    draws = rng.random(len(layout.objects))
    return frozenset(o.instance_id for o, u in zip(layout.objects, draws, strict=True) if u < fraction)


def random_colour(
    rng: np.random.Generator, value: tuple[float, float] = VALUE_RANGE, max_saturation: float = 1.0
) -> tuple[float, float, float, float]:
    """An opaque RGBA colour: hue uniform, saturation uniform up to ``max_saturation``, HSV value
    uniform in ``value``."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, max_saturation), rng.uniform(*value))
    return (r, g, b, 1.0)


def random_pattern(rng: np.random.Generator, kind: str, px: int = PATTERN_PX) -> np.ndarray:
    """(px, px, 3) uint8 procedural texture of one of :data:`PATTERN_KINDS`, colours drawn from ``rng``."""
    if kind == "wood":
        return wood_floor_texture(rng, px, float(rng.uniform(0.5, 2.0)))
    if kind == "paint":
        return painted_texture(rng, px, rng.uniform(0.2, 1.0, size=3), int(rng.integers(2, 16)))
    if kind == "blotches":
        blotches = smooth_noise(rng, px, int(rng.integers(3, 12)))  # (px, px) in [0, 1]
        low, high = rng.uniform(0.1, 0.6, size=3), rng.uniform(0.5, 1.0, size=3)
        return to_uint8(low + (high - low) * blotches[..., None])
    rgb = tuple(float(c) for c in rng.uniform(0.2, 1.0, size=3))
    return pattern_texture(rgb, kind, int(rng.integers(2**31)), px)


def texture_pool(
    rng: np.random.Generator, folder: Path, own: Iterable[Path], count: int = PATTERNS_PER_ROOM
) -> list[Path]:
    """Textures a restyled material may take: ``count`` procedural patterns written to ``folder``
    plus the room's own model textures ``own`` (so a chair may wear the sofa's fabric)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        path = folder / f"pattern_{k:02d}.png"
        Image.fromarray(random_pattern(rng, PATTERN_KINDS[k % len(PATTERN_KINDS)])).save(path)
        paths.append(path)
    return paths + sorted(set(own))


def restyle_parts(
    parts: Sequence[RenderPart], pool: Sequence[Path], rng: np.random.Generator
) -> list[RenderPart]:
    """The parts of one instance with random appearances: same meshes, a random colour each, and a
    texture from ``pool`` for a :data:`TEXTURED_SHARE` of the texture-mapped ones (a mesh without
    texture coordinates cannot show a texture)."""
    out = []
    for part in parts:
        if part.texture_path is not None and pool and rng.random() < TEXTURED_SHARE:
            texture = pool[int(rng.integers(len(pool)))]
            tint = random_colour(rng, TINT_VALUE_RANGE, TINT_MAX_SATURATION)
            out.append(replace(part, rgba=tint, texture_path=texture))
        else:
            out.append(replace(part, rgba=random_colour(rng), texture_path=None))
    return out


def restyle_room(
    layout: RoomLayout,
    models: Mapping[str, PreparedModel],
    restyled: frozenset[int],
    rng: np.random.Generator,
    folder: Path,
) -> dict[int, list[RenderPart]]:
    """Instance id -> the parts to render in place of its model's, for every id in ``restyled``;
    the procedural textures are written to ``folder``, which must outlive the rendering."""
    if not restyled:
        return {}
    own = (part.texture_path for model in models.values() for part in model.parts if part.texture_path)
    pool = texture_pool(rng, folder, own)
    return {
        obj.instance_id: restyle_parts(models[obj.entry.catalog_id].parts, pool, rng)
        for obj in layout.objects
        if obj.instance_id in restyled
    }


MAX_COLOUR_DRAWS = 10_000
"""Rejection-sampling bound of :func:`colour_for_word` (every word covers at least ~1 % of HSV space)."""


def colour_for_word(word: str, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """An opaque RGBA colour that :func:`~data_tools.attributes.colour_name` calls ``word``: hue,
    saturation and value drawn uniformly until the name matches."""
    if word not in COLOURS:
        raise ValueError(f"unknown colour word {word!r}; known: {', '.join(COLOURS)}")
    for _ in range(MAX_COLOUR_DRAWS):
        r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.random(), rng.random())
        if colour_name((r, g, b)) == word:
            return (r, g, b, 1.0)
    raise RuntimeError(f"no colour named {word!r} in {MAX_COLOUR_DRAWS} draws")


def recolour_room(
    layout: RoomLayout, models: Mapping[str, PreparedModel], recoloured: frozenset[int], rng: np.random.Generator
) -> tuple[dict[int, list[RenderPart]], dict[int, str]]:
    """For every instance id in ``recoloured``: the parts to render in place of its model's (every
    part one flat colour, no texture) and the colour word of that colour (a word drawn uniformly)."""
    looks, words = {}, {}
    for obj in layout.objects:
        if obj.instance_id not in recoloured:
            continue
        word = COLOURS[int(rng.integers(len(COLOURS)))]
        rgba = colour_for_word(word, rng)
        looks[obj.instance_id] = [
            replace(part, rgba=rgba, texture_path=None) for part in models[obj.entry.catalog_id].parts
        ]
        words[obj.instance_id] = word
    return looks, words
