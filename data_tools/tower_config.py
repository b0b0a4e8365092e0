"""What a tower build depends on: :class:`TowerTrainConfig`, read from a preset in
:data:`PRESETS_DIR` with ``--set`` overrides (:func:`load_config`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from data_tools.catalog import Catalog, load_catalog
from data_tools.catalogues import load_catalogues, parse_selection
from data_tools.dino_train import DinoConfig
from data_tools.lit_train import LitConfig
from data_tools.tower_data import CropSamplingConfig, EvalSamplingConfig, RoomSetConfig
from lerf3d import typed_config

ROOM_SETS = ("train_rooms", "eval_rooms", "held_out_rooms")
"""The room sets of a run (fields of :class:`TowerTrainConfig`)."""

PRESETS_DIR = Path(__file__).resolve().parent / "configs" / "towers"
"""The run presets, one TOML file each (package data): ``default`` (the run behind the packaged
weights), ``catalogues`` (all five catalogues: kinds, held-out models per kind, attribute words),
``gpu`` (``catalogues`` at GPU scale, with ``--device cuda``) and ``tiny`` (an end-to-end check of this
script in seconds)."""


@dataclass(frozen=True)
class TowerTrainConfig:
    """Everything a tower training run depends on. The defaults are those of each part; the room
    sets are empty, so a run takes its rooms and sizes from a preset (:data:`PRESETS_DIR`)."""

    catalogues: str = ""
    """Catalogues the rooms draw from, which also give the labels. Empty: the Blend Swap CC-0 archive
    alone, labelled by its model names (the packaged weights). ``all`` or a comma-separated list of
    :data:`data_tools.catalogues.CATALOGUES`: one label per kind of thing, models split by label (a
    share of every label's models only in the held-out rooms), and each object's colour and material
    words (trained when ``lit.attribute_weight`` > 0, always evaluated). Applied to every room set
    (:meth:`room_set`), so the sets cannot disagree."""
    train_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Rooms whose views and crops train both towers: catalogue ``train`` models (``model_split=train``)
    when the run measures held-out models, every model (``model_split=all``, no held-out rooms) for
    towers meant for users' rooms, which hold the whole catalogue. Many
    rooms of few views: a model's look varies more between rooms (neighbours, lighting, walls)
    than between views of one room. With 30 rooms the tower fitted 92 % of its training crops but
    only 78 % of unseen rooms'. With 90 rooms and 14000 steps it still scored 93.9 % on its
    training crops against 85.6 % on unseen rooms; 150 rooms at the same steps lifted the unseen
    rooms to 87.2 % (large crops 89.1 -> 90.1 %, measured). Over all five catalogues (about 800
    models) 600 rooms of 8 views beat 200 of 24, the same views: a model seen in one training room
    scored 23 % on unseen rooms, one seen in four or more 80 % (``docs/towers_catalogues.md``). A room
    of 24 views costs about 3.3 s to render on one core; two worker processes render 1.7x faster."""
    eval_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Unseen rooms of the same models: the quality bar is measured on these. Thirty, because the
    room is the unit that varies: on five disjoint sets of six rooms the same tower scored 82.4 %
    to 88.5 % top-1 and 85.6 % to 92.5 % on large crops (measured), mostly through which of two
    identical-looking material twins a room happens to hold. The card gives an interval over rooms."""
    held_out_rooms: RoomSetConfig = field(default_factory=RoomSetConfig)
    """Rooms of catalogue models never used in training (reported; a bar for runs over chosen
    catalogues). None (``count = 0``) for a build whose training rooms draw every model
    (``model_split=all``): its card then says the held-out figures were not measured."""
    crops: CropSamplingConfig = field(default_factory=CropSamplingConfig)
    """Training crop sampling (the presets draw 12 windows per visible object: furniture crops are
    what is scarce)."""
    eval_crops: EvalSamplingConfig = field(default_factory=EvalSamplingConfig)
    """Evaluation crop sampling (pyramid windows)."""
    dino_view_size: tuple[int, int] = (120, 160)
    """(h, w) the views are shrunk to for DINO's random resized crops."""
    dino: DinoConfig = field(default_factory=DinoConfig)
    """Dense tower training. DINO alone is short (the default preset: 150 steps): 400 steps (943 s)
    gave maps that tell objects apart no better than random weights of the same shape (85.8 % against
    85.6 % of cells nearest their object's mean); the ``catalogues`` preset adds the patch instance
    contrast (``dino.instance_weight``), which trains exactly that."""
    lit: LitConfig = field(default_factory=LitConfig)
    """Image-text tower training (about 0.125 s a step on 2 threads under bfloat16 autocast, 0.18 s
    in float32). Steps are what pays: on the first six evaluation rooms the tower reached 75.8 %
    top-1 at 2000 steps, 80.9 % at 7000 and 82.7 % at 11000 (a 1.5x wider CNN: 76.1 % at 2000, for
    1.6x the time); the default preset runs 14000."""
    dense_eval_views: int = 24
    """Evaluation views used for the dense-map figures."""
    weights_dtype: str = "float16"
    """Storage dtype of the tower files (halves them; the loaders compute in float32)."""

    def __post_init__(self) -> None:
        if self.catalogues:
            parse_selection(self.catalogues)  # a ValueError naming an unknown catalogue
        for name in ROOM_SETS:
            if any(item.split("=", 1)[0].strip() == "catalogues" for item in getattr(self, name).overrides):
                raise ValueError(f"{name}.overrides sets catalogues; set the run's catalogues instead "
                                 "(every room set draws from them)")
        sets = (self.train_rooms.seeds, self.eval_rooms.seeds, self.held_out_rooms.seeds)
        seen: set[int] = set()
        for seeds in sets:
            if seen & set(seeds):
                raise ValueError(f"room seeds {sorted(seen & set(seeds))} are in two room sets")
            seen |= set(seeds)

    def room_set(self, name: str) -> RoomSetConfig:
        """The room set ``name`` (one of :data:`ROOM_SETS`) drawing from the run's catalogues."""
        rooms = getattr(self, name)
        if not self.catalogues:
            return rooms
        return replace(rooms, overrides=(*rooms.overrides, f"catalogues={self.catalogues}"))

    def catalog(self) -> Catalog:
        """The catalogue the rooms draw from (:attr:`catalogues`)."""
        return load_catalogues(parse_selection(self.catalogues)) if self.catalogues else load_catalog()

    def check_runnable(self) -> None:
        """A ValueError naming the first room set a run needs that has no rooms: training and
        evaluation rooms always; held-out rooms may be none (a build that trains on every model)."""
        for name in ROOM_SETS[:2]:
            if getattr(self, name).count < 1:
                raise ValueError(f"{name}.count must be >= 1 for a run (set it in the preset or with --set {name}.count=N)")


def preset_names() -> list[str]:
    """Names of the shipped run presets."""
    return typed_config.preset_names(PRESETS_DIR)


def load_config(preset: str | Path = "default", overrides: Iterable[str] = ()) -> TowerTrainConfig:
    """A preset name (or ``.toml`` file in the presets' form) with each ``key=value`` override applied
    in order. Unknown presets, keys and wrong types are :class:`~lerf3d.typed_config.ConfigError`
    (a ValueError) naming the file and key."""
    return typed_config.apply_overrides(typed_config.load_preset(TowerTrainConfig, preset, PRESETS_DIR), overrides)
