"""One label per kind of thing across the Sweet Home 3D catalogues.

The catalogues name the same kind of thing in many ways ("Couch", "Sofa 3 seats", "Burlap sofa",
"Winchester sofa"; "Oak table", "Glass table", "Table on trestles"). An object recogniser should
learn *what a sofa is*, and colour or material words ("oak", "glass", "black") are attributes, not
classes (:mod:`data_tools.attributes`). So a catalogue name maps to its kind in two reviewed steps:

1. :data:`ALIASES`: an explicit name -> kind table for names that are not the plain noun a person
   would type ("Toilets unit" -> "toilet", "Apple iMac 2004" -> "computer", "Couch" -> "sofa").
2. :data:`MODIFIERS`: leading words that describe rather than name (materials, colours, styles,
   sizes) are dropped while the rest is still a kind in :data:`KINDS` ("wooden teak table" ->
   "teak table" -> "table"); "coffee table" keeps its first word because "coffee" is no modifier.

Every name of the installed catalogues is reviewed: the tests assert that each usable model's kind
is in :data:`KINDS`, so a new catalogue name fails them until someone maps it here.
"""

from __future__ import annotations

import re

KINDS = frozenset(
    k.strip()
    for k in """
    air mattress, aquarium, armchair, ashtray, backpack, ball, barrel, bathtub, bed, bedside table, bench,
    bidet, blender, bookcase, bottle, bowl, box, bread, bread box, briefcase, broom, brush, butter,
    cabinet, cactus, cake, calendar, camera, candle, cap, chair, changing table, chessboard,
    christmas tree, clock, clothes, coat hanger, coffee maker, coffee table, computer, cone, cooker,
    cosmetics pot, crate, creamer, crib, cup, cupcake, cutting board, cutting pliers, deep fryer, deer,
    desk, doll, doll house, doormat, drafting table, dresser, dressing table, drill, dryer, drying rack,
    dvd player, exercise bench, exercise bike, fan, filing cabinet, fire extinguisher, fireplace, firewood,
    fitness tower, flashlight, flowers, folding screen, foosball table, freezer, french fries, fridge,
    fruit, furnace, game console, gift, glass, glove, grill, grinder, guitar, hamburger, hammer, handbag,
    hat, headphones, helmet, high chair, hot dog, jar, joystick, kettle, keyboard, kitchen island,
    kitchen scale, kitchen utensils, knife block, lamp, lantern, laptop, laundry basket, lawn mower,
    letter tray, lipstick, locker, mat, medicine box, microwave, milk, mixer, oil servers, ottoman, oven,
    pallet, pan, paper towel holder, pen holder, perfume bottle, phone, piano, picture frame,
    pinball machine, place setting, plant, pool table, potty, printer, projector, punching bag, radiator,
    radio, roast chicken, rocking horse, rug, safe, salt shaker, sandwich maker, saw, screwdriver,
    security camera, shelves, shoes, shopping basket, shovel, shower, sink, sleeping bag, smoke detector,
    soap, sofa, sofa bed, speaker, spice rack, sponge, squeezer, stapler, steak, step ladder, stereo,
    stool, stove, sugar, suitcase, sunglasses, sushi, table, tape, tape measure, tatami, teapot,
    teddy bear, television, tennis racket, thermometer, toaster, toilet, towel, toy, toy car, toy plane,
    toy train, trash can, tray, treadmill, trunk, tv stand, umbrella, urinal, vanity, vase, wardrobe,
    washing machine, watch, water cooler, water heater, wheelchair, whiteboard, workbench, xylophone
    """.split(",")
)
"""Every kind a catalogue model may be labelled with (lower case, singular unless the thing is)."""

# fmt: off
ALIASES = {
    # seats
    "armchair ottoman": "ottoman", "puff": "ottoman", "bar chair": "stool", "bar stool": "stool",
    "piano bench": "bench", "class seat": "chair", "chair with cushion": "chair",
    "child chair": "chair", "children chair": "chair", "baby high chair": "high chair",
    "couch": "sofa", "futon couch": "sofa", "corner sofa": "sofa", "sofa 2 seats": "sofa",
    "sofa 3 seats": "sofa", "convertible sofa bz": "sofa bed", "opened convertible sofa bz": "sofa bed",
    # beds
    "baby bed": "crib", "bunk bed": "bed", "captain's bed": "bed", "child bed": "bed",
    "day bed": "bed", "futon": "bed", "hospital bed": "bed", "mezzanine bed": "bed",
    # tables and desks
    "bar table": "table", "children table": "table", "round table": "table",
    "table on trestles": "table", "table with tablecloth": "table", "desk table": "desk",
    "technical table": "drafting table", "football table": "foosball table",
    # storage
    "lower cabinet": "cabinet", "lower corner cabinet": "cabinet", "drawers cabinet": "cabinet",
    "high cabinet": "cabinet", "cupboard": "cabinet", "dresser with drawers": "dresser",
    "full bookcase": "bookcase", "vertical shelves": "shelves", "television cabinet": "tv stand",
    "locked locker": "locker", "island extension": "kitchen island", "island": "kitchen island",
    "trunck": "trunk",
    # kitchen and bathroom
    "refrigerator": "fridge", "chest freezer": "freezer", "double oven": "oven",
    "propane stove": "stove", "clothes washing machine": "washing machine", "dryer machine": "dryer",
    "sink cabinet": "sink", "washbasin": "sink", "basin": "sink", "double vanity": "vanity",
    "bath": "bathtub", "corner bathtub": "bathtub", "island bath": "bathtub",
    "shower stall": "shower", "shower curtain": "shower", "toilets unit": "toilet",
    "bathmat": "mat", "bullet trash can": "trash can", "dustbin": "trash can",
    "recycling bin": "trash can", "electric water heater": "water heater",
    "coffee brewer": "coffee maker", "coffee machine": "coffee maker", "coffee press": "coffee maker",
    "espresso kettle": "coffee maker", "coffee cup": "cup", "coffee mug": "cup", "plastic cup": "cup",
    "beer glass": "glass", "cocktail glass": "glass", "beer bottle": "bottle", "wine bottle": "bottle",
    "medicine bottle": "bottle", "yogurt bottle": "bottle", "baby bottle": "bottle",
    "flacon": "perfume bottle", "bowl with fruits": "bowl", "bowl with salad": "bowl",
    "plate, glass and cutlery": "place setting", "plate, glasses and cutlery": "place setting",
    "knife stand": "knife block", "chopping board": "cutting board", "spice tower": "spice rack",
    "stone grill device": "grill", "sushi tray": "sushi", "tool": "kitchen utensils",
    "kitchen tools": "kitchen utensils", "utensils pot": "kitchen utensils", "old jar": "jar",
    "pottery": "jar", "roasted chicken": "roast chicken", "birthday cake": "cake",
    "cup cake": "cupcake", "apples": "fruit", "lip stick": "lipstick",
    "shopping basket": "shopping basket", "clothes basket": "laundry basket", "boiler": "kettle",
    "chest": "dresser", "screen": "folding screen",
    # electronics
    "tv": "television", "tv 16:9": "television", "apple imac 1998": "computer",
    "apple imac 2004": "computer", "apple ibook": "laptop", "inkjet printer and scanner": "printer",
    "wireless phone": "phone", "playstation": "game console", "video projector": "projector",
    "cctv": "security camera", "reflex camera": "camera", "mini stereo": "stereo",
    "stereo amplifier": "stereo", "mp3 station": "stereo", "mp3 base": "stereo",
    "table fan": "fan", "rigged fan": "fan",
    # lights and plants
    "desk lamp": "lamp", "pedestal vase lamp": "lamp", "camping lamp": "lantern",
    "japanese lantern": "lantern", "bamboo": "plant", "bonsai tree": "plant", "ficus": "plant",
    "spathiphyllum": "plant", "spider plant": "plant", "succulent plant": "plant", "yucca": "plant",
    "orchids": "flowers", "tulips": "flowers", "white lily": "flowers",
    # clothes and accessories
    "dress": "clothes", "folded clothes": "clothes", "jacket": "clothes", "skirt": "clothes",
    "suit": "clothes", "trousers": "clothes", "bootie": "shoes", "mocassin": "shoes",
    "sneakers": "shoes", "slippers": "shoes", "woman shoes": "shoes", "clothes hanger": "coat hanger",
    "wire coathanger": "coat hanger", "clothes horse": "drying rack", "clothes rack": "drying rack",
    "hashtray": "ashtray", "penbox": "pen holder", "frame chambord": "picture frame",
    "frame hôi an": "picture frame", "open cardboard box": "box", "cardboard box": "box",
    # toys, sport, music, tools
    "biplane": "toy plane", "car model": "toy car", "wood toy": "toy", "rubik's cube": "toy",
    "basketball": "ball", "soccer ball": "ball", "abdominal bench": "exercise bench",
    "indoor bike": "exercise bike", "punching ball": "punching bag", "flipper": "pinball machine",
    "electric guitar": "guitar", "grand piano": "piano", "upright piano": "piano",
    "small step ladder": "step ladder", "mower": "lawn mower", "wood logs": "firewood",
    "chimney": "fireplace", "round chimney": "fireplace", "extinguisher": "fire extinguisher",
    "white board": "whiteboard", "oriental rug": "rug", "round carpet": "rug",
}
"""Reviewed catalogue name (lower case) -> kind, for names a modifier rule cannot reduce."""
# fmt: on

MODIFIERS = frozenset(
    """
    alder black burlap clear decorative glass indoor iron large little modern oak osaka plastic
    ryokan small teak winchester wooden folding
    """.split()
)
"""Leading words that say what a thing is made of or looks like, not what it is."""


def normalise_name(name: str) -> str:
    """A catalogue name in lower case with single spaces: ``" Oak  Table "`` -> ``"oak table"``."""
    return re.sub(r"\s+", " ", name.strip().lower())


def kind_of(name: str) -> str:
    """The kind of a catalogue name (see the module docstring): ``"Oak table"`` -> ``"table"``."""
    label = normalise_name(name)
    label = ALIASES.get(label, label)
    if label in KINDS:  # "folding screen" is a kind, not a folding "screen"
        return label
    modifiers, core = _split_modifiers(label)
    core = ALIASES.get(core, core)
    # describing words are dropped only when what remains names a kind ("glass" alone stays)
    return core if modifiers and core in KINDS else label


def modifier_words(name: str) -> tuple[str, ...]:
    """The describing words :func:`kind_of` drops from ``name`` (``"Oak table"`` -> ``("oak",)``)."""
    label = ALIASES.get(normalise_name(name), normalise_name(name))
    if label in KINDS:
        return ()
    modifiers, core = _split_modifiers(label)
    return modifiers if modifiers and ALIASES.get(core, core) in KINDS else ()


def _split_modifiers(label: str) -> tuple[tuple[str, ...], str]:
    """(leading :data:`MODIFIERS`, the rest) of a label; the rest keeps at least one word."""
    words = label.split(" ")
    n = 0
    while n < len(words) - 1 and words[n] in MODIFIERS:
        n += 1
    return tuple(words[:n]), " ".join(words[n:])
