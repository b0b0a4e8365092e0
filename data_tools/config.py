"""RoomConfig: everything that decides a generated room, and its named presets (``configs/*.toml`` in
this package, read by :mod:`lerf3d.typed_config`)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from data_tools.catalog import DEFAULT_ARCHIVE
from data_tools.catalogues import parse_selection
from data_tools.room_kinds import room_kind
from lerf3d import typed_config

PRESETS_DIR = Path(__file__).resolve().parent / "configs"
"""The room presets, one TOML file each: ``tiny``, ``demo``, ``large`` (package data)."""


@dataclass(frozen=True)
class RoomConfig:
    """Settings of one generated room. The same config and seed give byte-identical output."""

    seed: int = 0
    """Seed of every random choice (models, layout, textures, cameras)."""
    num_objects: int = 8
    """Furniture pieces standing on the floor."""
    num_tabletop: int = 2
    """Small items put on top of furniture with a flat top (fewer when no surface is free)."""
    num_views: int = 40
    """Rendered camera views."""
    width: int = 320
    """Image width in pixels."""
    height: int = 240
    """Image height in pixels."""
    horizontal_fov_deg: float = 70.0
    """Horizontal field of view; about a phone's main camera (iPhone wide: 69 degrees)."""
    close_view_fraction: float = 0.35
    """Share of views that look at one object from nearby (the rest circle the room)."""
    camera_height_range: tuple[float, float] = (1.4, 1.7)
    """Height range (m) of the room-circling cameras: a person holding a phone."""
    wall_height: float = 2.6
    """Room height in metres (ceiling included, so cameras see a closed room)."""
    near: float = 0.05
    """Near clipping plane (m)."""
    far: float = 20.0
    """Far clipping plane (m); farther surfaces get depth 0."""
    model_split: str = "all"
    """Catalogue models to draw from: ``all``, ``train`` or ``held-out``."""
    primitives_only: bool = False
    """Use the fallback boxes/cylinders/spheres even when the furniture archive is installed."""
    archive: Path = DEFAULT_ARCHIVE
    """Sweet Home 3D furniture archive (``.sh3f``) read when ``catalogues`` is empty."""
    catalogues: str = ""
    """Empty: ``archive`` alone, models labelled by their catalogue names and split by the per-model
    hash (the packaged encoders' rooms). ``all`` or a comma-separated list of catalogue names
    (:data:`data_tools.catalogues.CATALOGUES`, read from ``archive``'s folder): one label per kind of
    thing and splits by label (:mod:`data_tools.catalogues`)."""
    room: str = ""
    """Kind of room (:data:`data_tools.room_kinds.ROOM_KINDS`: ``kitchen``, ``bathroom``, ``office``,
    ``bedroom``, ``living room``); empty: any furniture, as the packaged encoders' rooms."""
    cache_dir: Path | None = None
    """Where converted models are cached; None: ``$LERF3D_CACHE`` or ``~/.cache/lerf3d/furniture``."""
    name: str = ""
    """Scene name written to ground_truth.json; empty: ``room_<seed>``."""
    restyle_fraction: float = 0.0
    """Share of objects rendered with a random appearance (random colours, other textures; same
    mesh, place and label: :mod:`data_tools.restyle`), for training towers that must recognise
    kinds of things rather than models. 0: every object looks as its catalogue model does. Off in
    every preset: 0.5 on the training rooms of the towers' ``catalogues`` build lowered held-out
    models' top-1 (13.6 -> 10.7 %) and unseen rooms' (85.9 -> 78.1 %; ``docs/towers_catalogues.md``)."""
    recolour_fraction: float = 0.0
    """Share of objects (among those not restyled) drawn in one flat colour whose colour word is
    drawn uniformly and recorded (:func:`data_tools.restyle.recolour_room`), for towers that must
    name colours of models they never saw. 0: none. Off in every preset: 0.25 on the towers'
    ``catalogues`` training rooms moved held-out models' colour top-1 67.9 -> 68.6 % and lowered
    unseen rooms' top-1 88.0 -> 84.5 % (``docs/towers_catalogues.md``)."""

    def __post_init__(self) -> None:
        if self.num_objects < 0 or self.num_tabletop < 0:
            raise ValueError(f"object counts must be >= 0, got {self.num_objects}, {self.num_tabletop}")
        if self.num_views < 1:
            raise ValueError(f"num_views must be >= 1, got {self.num_views}")
        if self.width < 8 or self.height < 8:
            raise ValueError(f"image size must be at least 8x8, got {self.width}x{self.height}")
        if self.model_split not in ("all", "train", "held-out"):
            raise ValueError(f"model_split must be 'all', 'train' or 'held-out', got {self.model_split!r}")
        if self.catalogues:
            parse_selection(self.catalogues)  # a ValueError naming the unknown catalogue
        if self.room:
            room_kind(self.room)
        if not 0.0 <= self.restyle_fraction <= 1.0:
            raise ValueError(f"restyle_fraction must be in [0, 1], got {self.restyle_fraction}")
        if not 0.0 <= self.recolour_fraction <= 1.0:
            raise ValueError(f"recolour_fraction must be in [0, 1], got {self.recolour_fraction}")
        if not 0.0 <= self.close_view_fraction <= 1.0:
            raise ValueError(f"close_view_fraction must be in [0, 1], got {self.close_view_fraction}")

    @property
    def scene_name(self) -> str:
        """``name`` or ``room_<seed>``."""
        return self.name or f"room_{self.seed}"

    @classmethod
    def preset(cls, name_or_path: str | Path, **overrides) -> RoomConfig:
        """A named preset (:func:`preset_names`) or a ``.toml`` file in the same form, with some fields
        replaced. Unknown names and fields are ValueErrors naming them."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"RoomConfig has no field(s) {sorted(unknown)}")
        return replace(typed_config.load_preset(cls, name_or_path, PRESETS_DIR), **overrides)


def preset_names() -> list[str]:
    """Names of the shipped room presets."""
    return typed_config.preset_names(PRESETS_DIR)
