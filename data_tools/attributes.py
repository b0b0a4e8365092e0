"""Colour, material and part words of a catalogue model, from its materials.

A person asks for "the red chair", "a wooden table", "something white", "the lamp shade". The words
come from what the renderer draws (:func:`data_tools.assets.load_model_parts`: the fitted, opaque
parts of a model, one per material):

- colour: each part's colour (its texture's mean where it has a texture, which replaces ``Kd`` as in
  Sweet Home 3D, else its ``Kd``) named by :func:`colour_name`; the colour covering the largest share
  of the surface, when that share is at least :data:`MIN_COLOUR_SHARE`;
- material: words in the material and texture names ("Wood_oak", "metal_chrome", Scopia's Catalan
  and Spanish "fusta", "madera", "tela"), by :data:`MATERIAL_WORDS`, chosen by surface share the same
  way (:data:`MIN_MATERIAL_SHARE`);
- words of the catalogue name win over both ("Black table", "Oak table", "Plastic chair");
- parts: part words found in material names ("Seat", "lampshade", "cojin"), :data:`PART_WORDS`.

A word that cannot be decided is None: unnamed materials ("Material.001") give no material.

    python -m data_tools.attributes --catalogues all --out attributes.json
"""

from __future__ import annotations

import argparse
import colorsys
import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_tools.catalog import CatalogEntry
from data_tools.objmesh import MeshPart

MIN_COLOUR_SHARE = 0.4
"""Least share of the surface the dominant colour must cover to name the model's colour."""

MIN_MATERIAL_SHARE = 0.3
"""Least share of the surface the dominant material word must cover to name the model's material."""

COLOURS = (
    "black",
    "white",
    "grey",
    "brown",
    "beige",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
)
"""Colour words :func:`colour_name` returns."""

MATERIAL_WORDS = {
    "wooden": "wood oak pine pino teak cherry walnut birch beech maple mahogany ebony burlwood madera fusta "
    "bamboo parquet plywood alder timber",
    "metal": "metal metall metalic chrome steel aluminum aluminium iron brass copper inox silver gold bronze "
    "acero cromo nickel",
    "glass": "glass cristal crystal vidrio vidro vidre",
    "fabric": "fabric cloth textile tela telas cotton linen velvet wool burlap canvas teixit",
    "leather": "leather cuir cuero",
    "plastic": "plastic plastico plast vinyl acrylic",
    "ceramic": "ceramic ceramica porcelain porcelana",
    "stone": "marble granite stone concrete marmol marbre",
    "paper": "paper cardboard carton",
    "wicker": "wicker rattan",
}
"""Material word -> words of material, texture or catalogue names that say it (reviewed)."""

SHORT_MATERIAL_WORDS = {"ash": "wooden", "alu": "metal"}
"""Keywords too short to match inside longer words ("ash" in "washing"): whole words only."""

PART_WORDS = {
    "seat": "seat asiento",
    "leg": "leg legs pata patas",
    "lamp shade": "shade lampshade pantalla",
    "cushion": "cushion cushions cojin coixi",
    "pillow": "pillow pillows almohada",
    "mattress": "mattress matress colchon",
    "frame": "frame marco",
    "handle": "handle handles tirador",
    "door": "door doors puerta",
    "drawer": "drawer drawers cajon",
    "screen": "screen",
    "leaves": "leaf leaves hoja hojas",
    "pot": "pot maceta",
    "backrest": "backrest respaldo",
    "armrest": "armrest",
    "sheet": "sheet sheets blanket",
}
"""Part word -> words of material names that name it (reviewed)."""

NAME_COLOURS = frozenset(COLOURS) | {"gray"}
"""Colour words trusted in a catalogue name."""


def _keywords(table: dict[str, str]) -> list[tuple[str, str]]:
    """(keyword, word) pairs, longest keyword first so "metalic" is tried before "metal"."""
    pairs = [(k, word) for word, keys in table.items() for k in keys.split()]
    return sorted(pairs, key=lambda p: -len(p[0]))


_MATERIAL_KEYS = _keywords(MATERIAL_WORDS)
_PART_KEYS = _keywords(PART_WORDS)


@dataclass(frozen=True)
class Surface:
    """One drawn material of a model."""

    name: str
    """Material name (``newmtl``) and texture file name, joined by a space."""
    rgb: tuple[float, float, float]
    """Drawn colour in [0, 1]: the texture's mean, else ``Kd``."""
    area: float
    """Surface area in square metres (after fitting to the catalogue size)."""


@dataclass(frozen=True)
class Attributes:
    """Words describing one model; None where undecided."""

    colour: str | None
    """One of :data:`COLOURS`."""
    material: str | None
    """One of :data:`MATERIAL_WORDS`."""
    parts: tuple[str, ...] = ()
    """Part words named by its materials, sorted."""

    def as_dict(self) -> dict[str, str] | None:
        """``{"colour": ..., "material": ...}`` with the decided words, or None when neither is."""
        words = {k: v for k, v in (("colour", self.colour), ("material", self.material)) if v is not None}
        return words or None


def tokens(text: str) -> list[str]:
    """Lower-case words of a name: split at non-letters and camelCase (``"WoodOak_2"`` -> wood, oak)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [t for t in re.split(r"[^a-zà-ÿ]+", spaced.lower()) if t]


def material_word(text: str) -> str | None:
    """The material a name says (``"blackPlastic"`` -> ``plastic``, ``"tilewood"`` -> ``wooden``)."""
    for token in tokens(text):
        if token in SHORT_MATERIAL_WORDS:
            return SHORT_MATERIAL_WORDS[token]
        for key, word in _MATERIAL_KEYS:
            # compounds such as "whitewood" or "metalscrew" carry the keyword at either end
            if token.startswith(key) or token.endswith(key):
                return word
    return None


def part_words(text: str) -> tuple[str, ...]:
    """Part words a material name says (``"Chair_seat_fabric"`` -> ``("seat",)``)."""
    return tuple(sorted({word for t in tokens(text) for key, word in _PART_KEYS if t == key}))


def colour_name(rgb: Sequence[float]) -> str:
    """The colour word of an RGB colour in [0, 1], by hue, saturation and value thresholds."""
    h, s, v = colorsys.rgb_to_hsv(*(min(max(float(c), 0.0), 1.0) for c in rgb))
    hue = h * 360.0
    if v < 0.18:
        return "black"
    if s < 0.15:
        return "white" if v > 0.8 else "grey" if v > 0.18 else "black"
    if (hue < 50 or hue >= 345) and s < 0.4 and v > 0.6:
        return "beige"
    # wood and leather: dark oranges, and only very dark reds, are what people call brown
    if (15 <= hue < 50 and v < 0.75) or ((hue < 15 or hue >= 345) and v < 0.4 and s < 0.7):
        return "brown"
    for upper, word in (
        (15, "red"),
        (40, "orange"),
        (70, "yellow"),
        (165, "green"),
        (260, "blue"),
        (290, "purple"),
        (345, "pink"),
    ):
        if hue < upper:
            return word
    return "red"


def surfaces(parts: Sequence[MeshPart], textures: dict[str, np.ndarray]) -> list[Surface]:
    """The drawn surfaces of fitted mesh parts; ``textures`` maps texture names to (H, W, 3) uint8."""
    out = []
    for part in parts:
        edges = np.cross(
            part.positions[:, 1] - part.positions[:, 0], part.positions[:, 2] - part.positions[:, 0]
        )
        area = float(np.linalg.norm(edges, axis=-1).sum() / 2)  # (T, 3) cross products -> triangle areas
        texture = part.material.texture
        if texture in textures and part.uvs is not None:
            rgb = tuple(float(c) for c in textures[texture].reshape(-1, 3).mean(axis=0) / 255.0)
        else:
            rgb = tuple(float(c) for c in part.material.diffuse)
        out.append(Surface(f"{part.material.name} {texture or ''}".strip(), rgb, area))
    return out


def attributes_of(name: str, drawn: Sequence[Surface]) -> Attributes:
    """The attributes of a model called ``name`` drawn as ``drawn`` (see the module docstring)."""
    name_colour = next((t for t in tokens(name) if t in NAME_COLOURS), None)
    colour = ("grey" if name_colour == "gray" else name_colour) or _dominant(
        [(colour_name(s.rgb), s.area) for s in drawn], MIN_COLOUR_SHARE
    )
    material = material_word(name) or _dominant(
        [(material_word(s.name), s.area) for s in drawn], MIN_MATERIAL_SHARE
    )
    parts = tuple(sorted({p for s in drawn for p in part_words(s.name)}))
    return Attributes(colour, material, parts)


def _dominant(weighted: list[tuple[str | None, float]], min_share: float) -> str | None:
    """The word with the largest total weight when its share of all weight is at least ``min_share``."""
    total = sum(w for _, w in weighted)
    sums: dict[str, float] = {}
    for word, w in weighted:
        if word is not None:
            sums[word] = sums.get(word, 0.0) + w
    if total <= 0 or not sums:
        return None
    word, best = max(sorted(sums.items()), key=lambda kv: kv[1])
    return word if best / total >= min_share else None


def model_attributes(entry: CatalogEntry) -> Attributes:
    """The attributes of a catalogue model, read from its archive (primitives: from their texture)."""
    from data_tools.assets import load_model_parts  # assets imports the catalogue; keep this module light

    parts, textures = load_model_parts(entry, entry.archive)
    return attributes_of(entry.name, surfaces(parts, textures))


@functools.lru_cache(maxsize=4096)
def cached_attributes(entry: CatalogEntry) -> Attributes:
    """:func:`model_attributes`, remembered for the process: a set of rooms reuses its models."""
    return model_attributes(entry)


def main(argv: list[str] | None = None) -> int:
    from data_tools.catalogues import FURNITURE_DIR, load_catalogues, parse_selection
    from lerf3d.atomic import write_json_atomic

    parser = argparse.ArgumentParser(
        prog="python -m data_tools.attributes", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--catalogues", default="all", help="'all' or a comma-separated list (default: all)")
    parser.add_argument("--folder", type=Path, default=FURNITURE_DIR, help="folder of the .sh3f archives")
    parser.add_argument(
        "--out", type=Path, required=True, help="JSON file: catalog id -> colour, material, parts"
    )
    args = parser.parse_args(argv)
    try:
        catalog = load_catalogues(parse_selection(args.catalogues), args.folder)
        table = {
            e.catalog_id: asdict(model_attributes(e))
            for e in tqdm(catalog.entries, desc="models", mininterval=5)
        }
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json_atomic(args.out, table)
    n = len(table)
    decided = {k: sum(v[k] is not None for v in table.values()) for k in ("colour", "material")}
    print(
        f"wrote {args.out}: {n} models, colour for {decided['colour']}, material for {decided['material']}, "
        f"parts for {sum(bool(v['parts']) for v in table.values())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
