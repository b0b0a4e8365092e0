"""The furniture catalogue: Sweet Home 3D's CC0 models (or primitives when they are absent).

Debian's ``sweethome3d-furniture`` installs zip archives (``.sh3f``) under
``/usr/share/sweethome3d/furniture``; ``PluginFurnitureCatalog.properties`` inside names each model
(``name#N``, ``category#N``, ``model#N``, ``width#N``/``depth#N``/``height#N`` in cm, ...). We use
the public-domain Blend Swap CC-0 archive, so rendered scenes carry no attribution duty.

Which models make room furniture (the rest are listed in ``Catalog.excluded`` with the reason):

- excluded: doors and windows (``doorOrWindow#N=true``); models mounted above the floor
  (``elevation#N`` > 0: wall lights, upper cabinets, ceiling fans, towel racks); categories
  ``Exterior``, ``Vehicles``, ``Staircases`` and ``Characters`` (garden rocks, a 21 m truck, a
  horse); built-in kitchen and bathroom fittings that float or need a counter (:data:`BUILT_IN`);
  anything wider or deeper than :data:`MAX_FOOTPRINT_M` or taller than :data:`MAX_HEIGHT_M`; small
  items thinner than :data:`MIN_TABLETOP_HEIGHT_M` (a ruler or playing cards is invisible at
  our resolutions).
- placement: ``floor`` for furniture (height >= :data:`FLOOR_MIN_HEIGHT_M` or footprint side >=
  :data:`FLOOR_MIN_SIDE_M`, plus the small :data:`FLOOR_ITEMS` such as a dustbin), else
  ``tabletop`` (cups, lamps, toys), which the layout puts on the flat top of a floor piece
  (``top_height``: tables, cabinets, shelves; not chairs, nor :data:`NOT_SUPPORTS`).

Each model gets a deterministic split, ``train`` or ``held-out``, from a hash of its id, so that
encoders trained on rooms of ``train`` models can be evaluated on models they never saw. Held-out
models are unseen *instances of seen labels*: a label with a single model is always ``train``.
"""

from __future__ import annotations

import hashlib
import re
import warnings
import zipfile
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from data_tools.attribution import attribute_entries
from data_tools.primitives import PRIMITIVE_SHAPES

DEFAULT_ARCHIVE = Path("/usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f")
"""Public-domain furniture from Debian's ``sweethome3d-furniture`` package."""

INSTALL_HINT = "install it with: apt-get install sweethome3d-furniture"
"""What to tell a user whose furniture archive is missing."""

PROPERTIES_NAME = "PluginFurnitureCatalog.properties"
"""The catalogue file at the root of every ``.sh3f`` archive."""

CM = 0.01
"""Sweet Home 3D sizes are centimetres."""

EXCLUDED_CATEGORIES = frozenset({"Exterior", "Vehicles", "Staircases", "Characters", "Doors and windows"})
"""Catalogue categories that are not indoor furniture (Kator Legaz's screen door is filed under doors
and windows without the door flag; Reallusion's catalogue is all characters)."""

BUILT_IN = frozenset({"Cooktop", "Stove", "Range hood", "Hood", "Shower door", "Fence"})
"""Models that only make sense built into a counter or wall (by catalogue name)."""

LABEL_OVERRIDES = {"TV": "television", "Toilets unit": "toilet", "Cup cake": "cupcake"}
"""Catalogue names that are not the plain English noun a person would type."""

MAX_FOOTPRINT_M = 2.6
"""Largest width/depth of room furniture (a corner sofa is 2.49 m)."""

MAX_HEIGHT_M = 2.4
"""Tallest room furniture (a wardrobe is 2.36 m; rooms are 2.6 m high)."""

FLOOR_MIN_HEIGHT_M = 0.45
"""Models at least this tall stand on the floor (a bedside table is 0.45 m, a desk lamp 0.40 m)."""

FLOOR_MIN_SIDE_M = 0.6
"""Models with a footprint side at least this long stand on the floor (a tatami, a low box)."""

FLOOR_ITEMS = frozenset({"Dustbin", "Potty", "Slippers", "Bootie"})
"""Small models that belong on the floor, not on a table (by catalogue name)."""

NOT_SUPPORTS = frozenset({"Umbrella", "Football table", "Technical table", "Toilets unit"})
"""Models whose top is not a flat surface although the catalogue allows dropping on it."""

MIN_TABLETOP_HEIGHT_M = 0.03
"""Thinner small items are dropped."""

SUPPORT_TOP_RANGE_M = (0.4, 1.1)
"""A floor piece carries tabletop items when its flat top is in this height range."""

SUPPORT_MIN_SIDE_M = 0.35
"""... and its footprint's shorter side is at least this long."""

HELD_OUT_FRACTION = 0.25
"""Share of multi-model labels' models assigned to the ``held-out`` split."""

SPLITS = ("train", "held-out")
"""Model splits, see the module docstring."""


class FurnitureArchiveMissing(FileNotFoundError):
    """The Sweet Home 3D furniture archive is not installed."""


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalogue."""

    catalog_id: str
    """Stable id, e.g. ``blendswap-cc-0/armchair`` or ``primitive/box-tall``."""
    name: str
    """Catalogue display name, e.g. ``Bedside table``."""
    label: str
    """Clean lower-case label used as the object's class, e.g. ``bedside table``."""
    category: str
    """Catalogue category, e.g. ``Bedroom``."""
    size: tuple[float, float, float]
    """(width, depth, height) in metres: world x, y, z extents at yaw 0."""
    placement: str
    """``floor`` or ``tabletop``."""
    top_height: float | None
    """Height (m) of a flat top that can carry tabletop items, or None."""
    split: str
    """``train`` or ``held-out``."""
    model_path: str | None = None
    """OBJ member path inside the archive (None for primitives)."""
    model_rotation: tuple[float, ...] | None = None
    """Row-major 3x3 ``modelRotation`` applied to the model before sizing, if any."""
    creator: str = ""
    """Model author from the catalogue."""
    catalogue: str = ""
    """Catalogue (archive stem) the model comes from, e.g. ``BlendSwap-CC-BY``; empty for primitives."""
    licence: str = ""
    """Licence of the model, e.g. ``CC-BY-3.0`` (see :mod:`data_tools.attribution`)."""
    source: str = ""
    """Where the model was published (a Blend Swap page) or, failing that, its archive member folder."""
    archive: Path | None = None
    """The ``.sh3f`` archive holding the model; None for primitives."""


@dataclass(frozen=True)
class Catalog:
    """Usable entries plus the excluded ones with reasons."""

    entries: tuple[CatalogEntry, ...]
    """Entries that rooms may use."""
    excluded: tuple[tuple[str, str], ...] = ()
    """(catalog_id, reason) of every model left out."""
    archive: Path | None = None
    """The ``.sh3f`` archive the models come from; None for the primitive fallback and for a
    selection of several catalogues (:mod:`data_tools.catalogues`)."""
    archives: tuple[Path, ...] = ()
    """Every archive the entries come from (one for a single catalogue)."""

    @cached_property
    def _by_id(self) -> dict[str, CatalogEntry]:
        return {e.catalog_id: e for e in self.entries}

    @property
    def is_primitive(self) -> bool:
        """True for the fallback catalogue of boxes and cylinders."""
        return self.archive is None and not self.archives

    def labels(self) -> list[str]:
        """Distinct labels, sorted."""
        return sorted({e.label for e in self.entries})

    def categories(self) -> list[str]:
        """Distinct categories, sorted."""
        return sorted({e.category for e in self.entries})

    def get(self, catalog_id: str) -> CatalogEntry:
        """The entry with this id; KeyError naming the catalogue otherwise."""
        try:
            return self._by_id[catalog_id]
        except KeyError:
            where = ", ".join(map(str, self.archives)) or "primitives"
            raise KeyError(f"no model {catalog_id!r} in catalogue {where}") from None

    def select(self, placement: str | None = None, split: str = "all") -> list[CatalogEntry]:
        """Entries with this placement (any if None) in this split (``all``, ``train``, ``held-out``)."""
        if split not in ("all",) + SPLITS:
            raise ValueError(f"split must be 'all', 'train' or 'held-out', got {split!r}")
        return [
            e
            for e in self.entries
            if (placement is None or e.placement == placement) and (split == "all" or e.split == split)
        ]


def load_catalog(
    archive: Path | None = DEFAULT_ARCHIVE, *, force_primitives: bool = False, strict: bool = False
) -> Catalog:
    """The furniture catalogue of ``archive``; the primitive fallback when forced or missing.

    A missing archive warns (naming the package to install) and falls back to primitives, or
    raises :class:`FurnitureArchiveMissing` when ``strict``.
    """
    if force_primitives:
        return primitive_catalog()
    if archive is None or not Path(archive).is_file():
        message = f"furniture archive {archive} not found; {INSTALL_HINT}"
        if strict:
            raise FurnitureArchiveMissing(message)
        warnings.warn(message + " (using coloured primitives instead)", stacklevel=2)
        return primitive_catalog()
    archive = Path(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            props = parse_properties(zf.read(PROPERTIES_NAME).decode("iso-8859-1"))  # Java encoding
            catalog = catalog_from_properties(props, archive)
            entries = attribute_entries(catalog.entries, zf, props.get("license", ""))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{archive}: not a Sweet Home 3D furniture archive ({exc})") from exc
    return replace(catalog, entries=tuple(entries))


def parse_properties(text: str) -> dict[str, str]:
    """Key/value pairs of a Java ``.properties`` text (comments, continuations, ``\\uXXXX``)."""
    out: dict[str, str] = {}
    logical = re.sub(r"\\\r?\n[ \t]*", "", text)  # a trailing backslash continues the line
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"((?:[^=:\s\\]|\\.)+)\s*[=:\s]\s*(.*)", line)
        if match is None:
            out[_unescape(line)] = ""
            continue
        out[_unescape(match.group(1))] = _unescape(match.group(2))
    return out


def _unescape(value: str) -> str:
    value = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value)
    return re.sub(r"\\(.)", r"\1", value)


def clean_label(name: str) -> str:
    """Lower-case class label of a catalogue name: ``"Bedside table"`` -> ``"bedside table"``."""
    name = LABEL_OVERRIDES.get(name.strip(), name)
    return re.sub(r"\s+", " ", name.strip().lower())


def model_split(catalog_id: str) -> str:
    """``held-out`` for a deterministic :data:`HELD_OUT_FRACTION` of ids (by SHA-256), else ``train``."""
    digest = hashlib.sha256(catalog_id.encode("utf-8")).digest()
    return "held-out" if int.from_bytes(digest[:8], "big") / 2**64 < HELD_OUT_FRACTION else "train"


def catalog_from_properties(props: dict[str, str], archive: Path) -> Catalog:
    """Build the catalogue from parsed properties (see the module docstring for the rules)."""
    indices = sorted({int(k.split("#")[1]) for k in props if re.fullmatch(r"id#\d+", k)})
    entries, excluded = [], []
    for n in indices:
        entry, reason = _entry(props, n)
        if reason is None:
            entries.append(entry)
        else:
            excluded.append((entry.catalog_id, reason))
    entries = [replace(e, catalogue=archive.stem, archive=archive) for e in entries]
    return Catalog(
        entries=tuple(assign_splits(entries)), excluded=tuple(excluded), archive=archive, archives=(archive,)
    )


def _entry(props: dict[str, str], n: int) -> tuple[CatalogEntry, str | None]:
    def get(key: str, default: str = "") -> str:
        return props.get(f"{key}#{n}", default)

    model = get("model").lstrip("/")
    catalog_id = model.rsplit("/", 1)[0] if "/" in model else get("id")
    name = get("name")
    size = (float(get("width", "0")) * CM, float(get("depth", "0")) * CM, float(get("height", "0")) * CM)
    rotation = tuple(float(v) for v in get("modelRotation").split()) or None
    drop = get("dropOnTopElevation")
    big = size[2] >= FLOOR_MIN_HEIGHT_M or max(size[:2]) >= FLOOR_MIN_SIDE_M
    placement = "floor" if big or name in FLOOR_ITEMS else "tabletop"
    entry = CatalogEntry(
        catalog_id=catalog_id,
        name=name,
        label=clean_label(name),
        category=get("category"),
        size=size,
        placement=placement,
        top_height=_top_height(size, drop) if placement == "floor" and name not in NOT_SUPPORTS else None,
        split="train",
        model_path=model,
        model_rotation=rotation if rotation and len(rotation) == 9 else None,
        creator=get("creator"),
    )
    return entry, _exclusion_reason(entry, props, n)


def _top_height(size: tuple[float, float, float], drop: str) -> float | None:
    """Height of a flat top that tabletop items may rest on.

    Sweet Home 3D's ``dropOnTopElevation`` is where dropped items land, in cm (absent: the top;
    -1: nothing may be dropped). We only trust tops that are the piece's full height (within 3 cm):
    a desk whose drop height is below its hutch has no flat top at that height everywhere.
    """
    height = size[2]
    top = height if not drop else float(drop) * CM
    if top < 0 or abs(top - height) > 0.03:
        return None
    lo, hi = SUPPORT_TOP_RANGE_M
    if not lo <= top <= hi or min(size[:2]) < SUPPORT_MIN_SIDE_M:
        return None
    return top


def _exclusion_reason(entry: CatalogEntry, props: dict[str, str], n: int) -> str | None:
    if props.get(f"doorOrWindow#{n}", "false") == "true":
        return "door or window"
    if float(props.get(f"elevation#{n}", "0") or 0) > 0:
        return "mounted above the floor"
    if entry.category in EXCLUDED_CATEGORIES:
        return f"category {entry.category} is not indoor furniture"
    if entry.name in BUILT_IN:
        return "built-in fitting"
    if max(entry.size[:2]) > MAX_FOOTPRINT_M or entry.size[2] > MAX_HEIGHT_M:
        return "too large for a room"
    if entry.placement == "tabletop" and entry.size[2] < MIN_TABLETOP_HEIGHT_M:
        return "too thin to see"
    if not entry.model_path:
        return "no model file"
    return None


def assign_splits(entries: list[CatalogEntry]) -> list[CatalogEntry]:
    """Hash split per model, keeping at least one ``train`` model of every label."""
    by_label: dict[str, list[CatalogEntry]] = {}
    for e in entries:
        by_label.setdefault(e.label, []).append(e)
    split_of: dict[str, str] = {}
    for group in by_label.values():
        splits = {e.catalog_id: model_split(e.catalog_id) for e in group}
        if all(s == "held-out" for s in splits.values()):
            # the model with the smallest hash stays in train so the label is learnable
            keep = min(group, key=lambda e: hashlib.sha256(e.catalog_id.encode()).digest()).catalog_id
            splits[keep] = "train"
        split_of.update(splits)
    return [replace(e, split=split_of[e.catalog_id]) for e in entries]


def primitive_catalog() -> Catalog:
    """The catalogue used when the furniture archive is missing or the fallback is forced."""
    entries = []
    for catalog_id, (label, size, placement, _, _) in PRIMITIVE_SHAPES.items():
        top = size[2] if placement == "floor" and size[2] <= 1.1 and min(size[:2]) >= 0.35 else None
        entries.append(
            CatalogEntry(
                catalog_id=catalog_id,
                name=label.capitalize(),
                label=label,
                category="Primitives",
                size=size,
                placement=placement,
                top_height=top,
                split="train",
                creator="lerf3d",
            )
        )
    return Catalog(entries=tuple(assign_splits(entries)), archive=None)
