"""Kinds of room: which kinds of thing furnish a kitchen, a bathroom, an office, a bedroom.

A room kind names the things it must have (:attr:`RoomKind.anchors`: a kitchen has a fridge, an oven
or a stove, a sink and cabinets), the other floor pieces it may have and the small items that stand
on its tables and counters. Kinds are matched by :func:`data_tools.labels.kind_of` of a model's
catalogue name, so a room kind works with any catalogue selection, including the default one.

The default room (no room kind) draws from every model and is what the packaged encoders were
trained on; a room kind is an opt-in (``make_room --room kitchen``).
"""

from __future__ import annotations

from dataclasses import dataclass


def _kinds(text: str) -> frozenset[str]:
    return frozenset(k.strip() for k in text.split(",") if k.strip())


@dataclass(frozen=True)
class RoomKind:
    """What furnishes one kind of room."""

    name: str
    """``kitchen``, ``bathroom``, ..."""
    anchors: tuple[tuple[str, ...], ...]
    """Floor pieces placed first, in order: each a tuple of alternative kinds (one model of one of
    them), skipped when the catalogue selection has none."""
    floor: frozenset[str]
    """Other kinds of floor piece the room may have."""
    tabletop: frozenset[str]
    """Kinds of small item that may stand on its furniture."""

    def allows_floor(self, kind: str) -> bool:
        """True when a floor piece of this kind belongs in the room."""
        return kind in self.floor or any(kind in group for group in self.anchors)


_DECOR = "plant, flowers, vase, candle, picture frame, clock, lamp"

# fmt: off
ROOM_KINDS: dict[str, RoomKind] = {
    "kitchen": RoomKind(
        "kitchen",
        anchors=(("fridge",), ("oven", "stove"), ("sink",), ("cabinet",), ("table", "kitchen island")),
        floor=_kinds("cabinet, chair, stool, table, kitchen island, trash can, washing machine, dryer, "
                     "freezer, high chair, radiator, water heater, broom, shopping basket, plant"),
        tabletop=_kinds(f"{_DECOR}, cup, glass, bottle, bowl, coffee maker, toaster, blender, mixer, teapot, "
                        "microwave, knife block, cutting board, kitchen utensils, pan, bread, bread box, "
                        "place setting, salt shaker, spice rack, squeezer, sandwich maker, deep fryer, grill, "
                        "jar, creamer, butter, milk, sugar, cake, cupcake, kitchen scale, paper towel holder, "
                        "oil servers, tray, steak, roast chicken, hamburger, hot dog, french fries, sushi, kettle, "
                        "fruit, cooker"),
    ),
    "bathroom": RoomKind(
        "bathroom",
        anchors=(("toilet",), ("bathtub", "shower"), ("sink", "vanity")),
        floor=_kinds("bidet, laundry basket, mat, radiator, trash can, cabinet, shelves, washing machine, "
                     "potty, stool, plant, drying rack, water heater"),
        tabletop=_kinds(f"{_DECOR}, soap, sponge, towel, bottle, perfume bottle, cosmetics pot, lipstick, "
                        "medicine box, brush"),
    ),
    "office": RoomKind(
        "office",
        anchors=(("desk",), ("chair", "armchair"), ("filing cabinet", "bookcase", "shelves")),
        floor=_kinds("desk, chair, armchair, bookcase, shelves, filing cabinet, cabinet, trash can, whiteboard, "
                     "water cooler, safe, plant, lamp, sofa, coffee table, locker, drafting table, radiator, "
                     "fire extinguisher, folding screen, table"),
        tabletop=_kinds(f"{_DECOR}, computer, laptop, printer, phone, calendar, letter tray, pen holder, "
                        "stapler, tape, cup, headphones, radio, fan, briefcase, camera, bottle, glass"),
    ),
    "bedroom": RoomKind(
        "bedroom",
        anchors=(("bed",), ("wardrobe", "dresser"), ("bedside table",)),
        floor=_kinds("bed, bedside table, wardrobe, dresser, dressing table, cabinet, shelves, bookcase, "
                     "chair, armchair, desk, mat, rug, lamp, plant, crib, changing table, rocking horse, "
                     "doll house, clothes, shoes, drying rack, trunk, suitcase, radiator, ottoman"),
        tabletop=_kinds(f"{_DECOR}, doll, teddy bear, toy, toy car, toy plane, toy train, watch, hat, cap, "
                        "glove, handbag, sunglasses, phone, laptop, perfume bottle, cosmetics pot, clothes, "
                        "shoes, chessboard, xylophone"),
    ),
    "living room": RoomKind(
        "living room",
        anchors=(("sofa",), ("armchair", "chair"), ("coffee table", "table")),
        floor=_kinds("sofa, armchair, chair, coffee table, table, tv stand, television, bookcase, shelves, "
                     "cabinet, lamp, plant, flowers, piano, rug, fireplace, speaker, stereo, ottoman, bench, "
                     "stool, aquarium, christmas tree, radiator, guitar, vase"),
        tabletop=_kinds(f"{_DECOR}, cup, glass, bottle, bowl, phone, stereo, radio, dvd player, game console, "
                        "joystick, projector, ashtray, tray, deer, cactus, lantern, chessboard, headphones, "
                        "speaker, television"),
    ),
}
"""The room kinds ``make_room --room`` accepts."""
# fmt: on


def room_kind(name: str) -> RoomKind:
    """The room kind called ``name``; a ValueError listing the choices otherwise."""
    if name not in ROOM_KINDS:
        raise ValueError(f"unknown room kind {name!r}; choose one of {', '.join(sorted(ROOM_KINDS))}")
    return ROOM_KINDS[name]
