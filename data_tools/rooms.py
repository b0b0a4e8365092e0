"""Room layout: a rectangular room and furniture placed on its floor without overlaps.

Pure numpy and deterministic from the random generator passed in. The room spans
``[-sx/2, sx/2] x [-sy/2, sy/2] x [0, height]`` (Z-up metres, floor at z = 0). Pieces turn in
90-degree steps, so footprints stay axis-aligned boxes and overlap tests are exact. A piece against
a wall faces into the room: a Sweet Home 3D model's front is its +z axis, which is world -y after
:func:`data_tools.objmesh.fit_to_size`, so yaw 0 faces -y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data_tools.catalog import Catalog, CatalogEntry
from data_tools.labels import kind_of
from data_tools.room_kinds import RoomKind

FLOOR_ID, CEILING_ID = 1, 6
"""Instance ids of the floor and the ceiling."""

WALL_IDS = (2, 3, 4, 5)
"""Instance ids of the walls at x = -sx/2, x = +sx/2, y = -sy/2, y = +sy/2."""

FIRST_OBJECT_ID = 7
"""Furniture gets instance ids from here, in placement order."""

SURFACE_THICKNESS = 0.05
"""Ground-truth boxes of floor, walls and ceiling extend this far outside the room (m)."""

FILL_RATIO = 0.3
"""Share of the floor covered by furniture footprints; typical furnished rooms are 25-35%."""

MIN_ROOM_SIDE = 3.0
"""Smallest room side (m)."""

WALL_GAP = 0.02
"""Gap between a piece and the wall it stands against (m): skirting boards."""

OBJECT_GAP = 0.3
"""Free space kept between floor pieces (m): room to walk and to put a camera."""

FREE_WALL_CLEARANCE = 0.4
"""Pieces not against a wall keep this far from every wall (m)."""

REPEAT_PROBABILITY = 0.25
"""Chance that a piece repeats an earlier model (matching chairs), which gives counting questions."""

TABLETOP_REGION = 0.6
"""Tabletop items stand in the central share of a support's footprint: inside the inscribed
circle of round tables too (a circle covers a centred square of side 0.707)."""

TABLETOP_GAP = 0.05
"""Free space between items on the same support (m)."""

PLACEMENT_ATTEMPTS = 300
"""Random positions tried per piece before the room is enlarged."""

ROOM_GROWTH = 1.15
"""Room side multiplier when a piece does not fit."""

WALL_YAW = {2: 90, 3: 270, 4: 180, 5: 0}
"""Yaw (degrees) that turns a piece's front away from each wall (by wall instance id)."""


@dataclass(frozen=True)
class Surface:
    """Floor, a wall or the ceiling: a rectangle whose front faces into the room."""

    instance_id: int
    """Instance id in the masks."""
    label: str
    """``floor``, ``wall`` or ``ceiling``."""
    origin: tuple[float, float, float]
    """One corner of the rectangle (m)."""
    u_dir: tuple[float, float, float]
    """Unit edge direction; ``u_dir x v_dir`` points into the room."""
    v_dir: tuple[float, float, float]
    """Second unit edge direction."""
    size_uv: tuple[float, float]
    """Edge lengths along ``u_dir`` and ``v_dir`` (m)."""
    box_min: tuple[float, float, float]
    """Ground-truth box (the rectangle thickened by SURFACE_THICKNESS outward)."""
    box_max: tuple[float, float, float]
    """Upper corner of the box."""


@dataclass(frozen=True)
class PlacedObject:
    """A catalogue model placed in the room."""

    instance_id: int
    """Instance id in the masks."""
    entry: CatalogEntry
    """The model."""
    position: tuple[float, float, float]
    """World position of the model origin: footprint centre at the base."""
    yaw_deg: int
    """Turn about +z in degrees: 0, 90, 180 or 270."""
    box_min: tuple[float, float, float]
    """World axis-aligned box, lower corner (exact: models are fitted to their catalogue size)."""
    box_max: tuple[float, float, float]
    """Upper corner."""
    support_id: int | None
    """Instance id of the piece it stands on; None for the floor."""


@dataclass(frozen=True)
class RoomLayout:
    """A furnished room."""

    size: tuple[float, float, float]
    """Interior extent (x, y, height) in metres."""
    surfaces: tuple[Surface, ...]
    """Floor, four walls, ceiling."""
    objects: tuple[PlacedObject, ...]
    """Furniture, then tabletop items."""


def footprint_half(entry: CatalogEntry, yaw_deg: int) -> tuple[float, float]:
    """World (x, y) half extents of a model's footprint at a yaw multiple of 90 degrees."""
    w, d = entry.size[0] / 2, entry.size[1] / 2
    return (d, w) if yaw_deg % 180 == 90 else (w, d)


def make_layout(
    catalog: Catalog,
    num_objects: int,
    num_tabletop: int,
    wall_height: float,
    rng: np.random.Generator,
    split: str = "all",
    kind: RoomKind | None = None,
) -> RoomLayout:
    """Choose models from ``catalog`` (those that belong in a ``kind`` of room, if given) and place
    them in a room sized for them."""
    items = catalog.select("tabletop", split)
    if kind is None:
        floor_models = choose_models(catalog.select("floor", split), num_objects, rng)
    else:
        floor_models = choose_for_kind(kind, catalog.select("floor", split), num_objects, rng)
        items = [e for e in items if kind_of(e.name) in kind.tabletop]
    sx, sy = room_size(floor_models, rng)
    placed: list[PlacedObject] | None = None
    while placed is None:
        placed = place_floor_objects(floor_models, (sx, sy), rng)
        if placed is None:
            sx, sy = round(sx * ROOM_GROWTH, 2), round(sy * ROOM_GROWTH, 2)
    placed += place_tabletop_items(items, placed, num_tabletop, rng)
    return RoomLayout(
        size=(sx, sy, wall_height), surfaces=room_surfaces(sx, sy, wall_height), objects=tuple(placed)
    )


def choose_models(candidates: list[CatalogEntry], count: int, rng: np.random.Generator) -> list[CatalogEntry]:
    """``count`` models: distinct labels in random order, sometimes repeating an earlier model."""
    if count == 0:
        return []
    if not candidates:
        raise ValueError("the catalogue has no floor models for this split")
    by_label: dict[str, list[CatalogEntry]] = {}
    for e in candidates:
        by_label.setdefault(e.label, []).append(e)
    labels = [str(x) for x in rng.permutation(sorted(by_label))]
    chosen: list[CatalogEntry] = []
    for i in range(count):
        if chosen and rng.random() < REPEAT_PROBABILITY:
            chosen.append(chosen[int(rng.integers(len(chosen)))])
        else:
            group = by_label[labels[i % len(labels)]]
            chosen.append(group[int(rng.integers(len(group)))])
    return chosen


def choose_for_kind(
    kind: RoomKind, candidates: list[CatalogEntry], count: int, rng: np.random.Generator
) -> list[CatalogEntry]:
    """``count`` floor models of a room kind: one per anchor group first, then any it allows."""
    allowed = [e for e in candidates if kind.allows_floor(kind_of(e.name))]
    if count and not allowed:
        raise ValueError(f"no floor models for a {kind.name} in this catalogue selection and split")
    chosen: list[CatalogEntry] = []
    for group in kind.anchors:
        if len(chosen) == count:
            break
        options = [e for e in allowed if kind_of(e.name) in group]
        if options:
            chosen.append(options[int(rng.integers(len(options)))])
    return chosen + choose_models(allowed, count - len(chosen), rng)


def room_size(models: list[CatalogEntry], rng: np.random.Generator) -> tuple[float, float]:
    """Floor (sx, sy) giving the footprints a FILL_RATIO share, random aspect in [1, 1.5]."""
    area = sum(e.size[0] * e.size[1] for e in models) / FILL_RATIO
    longest = max((max(e.size[:2]) for e in models), default=0.0)
    aspect = rng.uniform(1.0, 1.5)
    long_side = max(math.sqrt(max(area, MIN_ROOM_SIDE**2) * aspect), longest + 2 * FREE_WALL_CLEARANCE)
    short_side = max(area / long_side, MIN_ROOM_SIDE)
    sides = (round(long_side, 2), round(short_side, 2))
    return sides if rng.random() < 0.5 else sides[::-1]


def place_floor_objects(
    models: list[CatalogEntry], room: tuple[float, float], rng: np.random.Generator
) -> list[PlacedObject] | None:
    """Non-overlapping placements, largest first; None if some piece found no room."""
    order = sorted(range(len(models)), key=lambda i: -models[i].size[0] * models[i].size[1])
    placed: list[PlacedObject] = []
    for rank, i in enumerate(order):
        entry = models[i]
        for _ in range(PLACEMENT_ATTEMPTS):
            candidate = _candidate(entry, room, rng, FIRST_OBJECT_ID + rank)
            if candidate is not None and not any(_overlaps(candidate, p, OBJECT_GAP) for p in placed):
                placed.append(candidate)
                break
        else:
            return None
    return placed


def _candidate(
    entry: CatalogEntry, room: tuple[float, float], rng: np.random.Generator, iid: int
) -> PlacedObject | None:
    """A random pose: against a wall (facing in) or free-standing; None if it cannot fit."""
    sx, sy = room
    w, d, h = entry.size
    # tall shallow pieces (shelves, cupboards) always stand against a wall; elongated ones
    # (sofas, beds) and tall ones mostly do
    wall_prob = 1.0 if (h > 1.0 and d < 0.7) else 0.8 if (h > 1.2 or w > 1.6 * d) else 0.4
    if rng.random() < wall_prob:
        wall = int(rng.choice(WALL_IDS))
        yaw = WALL_YAW[wall]
        hx, hy = footprint_half(entry, yaw)
        if wall in (2, 3):
            x = (-sx / 2 + hx + WALL_GAP) if wall == 2 else (sx / 2 - hx - WALL_GAP)
            y = _uniform(rng, -sy / 2 + hy + WALL_GAP, sy / 2 - hy - WALL_GAP)
        else:
            y = (-sy / 2 + hy + WALL_GAP) if wall == 4 else (sy / 2 - hy - WALL_GAP)
            x = _uniform(rng, -sx / 2 + hx + WALL_GAP, sx / 2 - hx - WALL_GAP)
    else:
        yaw = 90 * int(rng.integers(4))
        hx, hy = footprint_half(entry, yaw)
        x = _uniform(rng, -sx / 2 + hx + FREE_WALL_CLEARANCE, sx / 2 - hx - FREE_WALL_CLEARANCE)
        y = _uniform(rng, -sy / 2 + hy + FREE_WALL_CLEARANCE, sy / 2 - hy - FREE_WALL_CLEARANCE)
    if x is None or y is None:
        return None
    return _placed(entry, iid, (x, y, 0.0), yaw, None)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float | None:
    """A value in [lo, hi] rounded to millimetres; None for an empty interval."""
    if hi < lo:
        return None
    return round(float(rng.uniform(lo, hi)), 3)


def _placed(
    entry: CatalogEntry, iid: int, pos: tuple[float, float, float], yaw: int, support: int | None
) -> PlacedObject:
    hx, hy = footprint_half(entry, yaw)
    x, y, z = pos
    return PlacedObject(
        instance_id=iid,
        entry=entry,
        position=(x, y, z),
        yaw_deg=yaw,
        box_min=(x - hx, y - hy, z),
        box_max=(x + hx, y + hy, z + entry.size[2]),
        support_id=support,
    )


def _overlaps(a: PlacedObject, b: PlacedObject, gap: float) -> bool:
    """True when the footprints of a and b, grown by ``gap``, intersect."""
    return all(a.box_min[k] - gap < b.box_max[k] and b.box_min[k] - gap < a.box_max[k] for k in (0, 1))


def place_tabletop_items(
    items: list[CatalogEntry], floor_objects: list[PlacedObject], count: int, rng: np.random.Generator
) -> list[PlacedObject]:
    """Up to ``count`` small items on the flat tops of floor pieces (fewer if nothing fits)."""
    supports = [p for p in floor_objects if p.entry.top_height is not None]
    if not supports or not items or count == 0:
        return []
    placed: list[PlacedObject] = []
    next_id = FIRST_OBJECT_ID + len(floor_objects)
    for _ in range(count):
        for _ in range(PLACEMENT_ATTEMPTS // 6):
            support = supports[int(rng.integers(len(supports)))]
            item = items[int(rng.integers(len(items)))]
            candidate = _on_top(item, support, rng, next_id)
            if candidate is not None and not any(_overlaps(candidate, p, TABLETOP_GAP) for p in placed):
                placed.append(candidate)
                next_id += 1
                break
    return placed


def _on_top(
    item: CatalogEntry, support: PlacedObject, rng: np.random.Generator, iid: int
) -> PlacedObject | None:
    yaw = 90 * int(rng.integers(4))
    hx, hy = footprint_half(item, yaw)
    sx0, sy0, _ = support.box_min
    sx1, sy1, _ = support.box_max
    cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    rx, ry = (sx1 - sx0) * TABLETOP_REGION / 2, (sy1 - sy0) * TABLETOP_REGION / 2
    x = _uniform(rng, cx - rx + hx, cx + rx - hx)
    y = _uniform(rng, cy - ry + hy, cy + ry - hy)
    if x is None or y is None:
        return None
    top = support.box_min[2] + support.entry.top_height
    return _placed(item, iid, (x, y, round(top, 4)), yaw, support.instance_id)


def room_surfaces(sx: float, sy: float, height: float) -> tuple[Surface, ...]:
    """Floor, walls (ids 2-5: x-, x+, y-, y+) and ceiling, each facing into the room."""
    x0, x1, y0, y1, h = -sx / 2, sx / 2, -sy / 2, sy / 2, height
    # (id, label, origin, u_dir, v_dir, (length_u, length_v)), u_dir x v_dir pointing inwards
    specs = [
        (FLOOR_ID, "floor", (x0, y0, 0), (1, 0, 0), (0, 1, 0), (sx, sy)),
        (WALL_IDS[0], "wall", (x0, y0, 0), (0, 1, 0), (0, 0, 1), (sy, h)),
        (WALL_IDS[1], "wall", (x1, y1, 0), (0, -1, 0), (0, 0, 1), (sy, h)),
        (WALL_IDS[2], "wall", (x1, y0, 0), (-1, 0, 0), (0, 0, 1), (sx, h)),
        (WALL_IDS[3], "wall", (x0, y1, 0), (1, 0, 0), (0, 0, 1), (sx, h)),
        (CEILING_ID, "ceiling", (x0, y0, h), (0, 1, 0), (1, 0, 0), (sy, sx)),
    ]
    return tuple(_surface(*spec) for spec in specs)


def _surface(iid: int, label: str, origin, u_dir, v_dir, size_uv: tuple[float, float]) -> Surface:
    """A surface whose ground-truth box is its rectangle thickened outwards by SURFACE_THICKNESS."""
    o, u, v = (np.asarray(a, dtype=np.float64) for a in (origin, u_dir, v_dir))
    corners = np.array([o, o + u * size_uv[0], o + v * size_uv[1], o + u * size_uv[0] + v * size_uv[1]])
    outward = -np.cross(u, v)
    corners = np.concatenate([corners, corners + outward * SURFACE_THICKNESS])  # (8, 3)
    return Surface(
        instance_id=iid,
        label=label,
        origin=tuple(o.tolist()),
        u_dir=tuple(u.tolist()),
        v_dir=tuple(v.tolist()),
        size_uv=(float(size_uv[0]), float(size_uv[1])),
        box_min=tuple(corners.min(axis=0).tolist()),
        box_max=tuple(corners.max(axis=0).tolist()),
    )
