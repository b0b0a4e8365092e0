"""Generate a synthetic furnished room as a nerfstudio RGB-D capture with ground truth.

    python -m data_tools.make_room --preset tiny --seed 0 --out DIR \
        [--objects N --tabletop N --views N --width W --height H --split train --primitives]
        [--catalogues all --room kitchen] [--set horizontal_fov_deg=60 --set camera_height_range=[1.2,1.5]]

Presets are TOML files in ``data_tools/configs/`` (``--preset`` also takes a ``.toml`` path); the
flags and then each ``--set KEY=VALUE`` (any :class:`~data_tools.config.RoomConfig` field) replace
their values.

The output is the same kind of folder a user's capture is (``transforms.json`` with depth), plus
``masks/`` and ``ground_truth.json``; see ``data_tools/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_tools.assets import PreparedModel, prepare_model
from data_tools.attributes import cached_attributes
from data_tools.camera import intrinsics_from_fov
from data_tools.catalog import Catalog, FurnitureArchiveMissing, load_catalog
from data_tools.catalogues import load_catalogues, parse_selection
from data_tools.config import RoomConfig, preset_names
from data_tools.render import RoomRenderer
from data_tools.restyle import recolour_room, restyle_room, restyled_instances
from data_tools.room_kinds import ROOM_KINDS, room_kind
from data_tools.rooms import RoomLayout, make_layout
from data_tools.trajectory import camera_poses
from data_tools.writer import ground_truth, write_ground_truth, write_transforms, write_view
from lerf3d.typed_config import apply_overrides
from lerf3d.types import Intrinsics

STREAMS = ("layout", "trajectory", "render", "restyle", "recolour")
"""Independent random streams, so changing e.g. the number of views keeps the same furniture (a
stream added at the end leaves the earlier ones as they were)."""


@dataclass(frozen=True, eq=False)
class GeneratedRoom:
    """What :func:`generate_room` wrote."""

    out_dir: Path
    """The capture folder."""
    config: RoomConfig
    """Settings used."""
    layout: RoomLayout
    """Room and placed objects."""
    intrinsics: Intrinsics
    """Camera intrinsics of every frame."""
    poses: np.ndarray
    """(N, 4, 4) OpenCV camera-to-world poses."""
    catalog_source: str
    """``sweethome3d:<archive>`` or ``primitives``."""
    seconds: dict[str, float]
    """Wall time per stage: models, render, total."""


def generate_room(config: RoomConfig, out_dir: Path) -> GeneratedRoom:
    """Lay out, render and write one room (see the module docstring)."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    rngs = random_streams(config.seed)
    catalog = _load(config)
    layout = make_layout(
        catalog,
        config.num_objects,
        config.num_tabletop,
        config.wall_height,
        rngs["layout"],
        config.model_split,
        room_kind(config.room) if config.room else None,
    )
    models = _prepare_models(layout, catalog, config.cache_dir)
    t_models = time.perf_counter()
    intrinsics = intrinsics_from_fov(config.width, config.height, config.horizontal_fov_deg)
    poses = camera_poses(
        layout, config.num_views, config.close_view_fraction, config.camera_height_range, rngs["trajectory"]
    )
    visible = []
    restyled = restyled_instances(layout, config.restyle_fraction, rngs["restyle"])
    recoloured = restyled_instances(layout, config.recolour_fraction, rngs["recolour"]) - restyled
    recolours, recolour_words = recolour_room(layout, models, recoloured, rngs["recolour"])
    with tempfile.TemporaryDirectory(prefix="lerf3d-restyle-") as patterns:
        looks = restyle_room(layout, models, restyled, rngs["restyle"], Path(patterns)) | recolours
        with RoomRenderer(layout, models, rngs["render"], looks) as renderer:
            for i, pose in enumerate(poses):
                view = renderer.render(pose, intrinsics, config.near, config.far)
                write_view(out_dir, i, view)
                visible.append([int(v) for v in np.unique(view.instance) if v > 0])
    t_render = time.perf_counter()
    # attribute words are part of the opt-in vocabulary: the default rooms' files stay as they were
    words = (
        None
        if catalog.is_primitive or not config.catalogues
        else {o.entry.catalog_id: cached_attributes(o.entry) for o in layout.objects}
    )
    source = (
        "primitives" if catalog.is_primitive else "sweethome3d:" + "+".join(a.name for a in catalog.archives)
    )
    write_transforms(out_dir, intrinsics, poses)
    record = ground_truth(config.scene_name, config.seed, layout, visible, source, words, restyled, recolour_words)
    write_ground_truth(out_dir, record)
    end = time.perf_counter()
    seconds = {"models": t_models - start, "render": t_render - t_models, "total": end - start}
    return GeneratedRoom(out_dir, config, layout, intrinsics, poses, source, seconds)


def _load(config: RoomConfig) -> Catalog:
    """The catalogue a config draws from (see ``RoomConfig.catalogues``)."""
    if config.catalogues and not config.primitives_only:
        return load_catalogues(parse_selection(config.catalogues), Path(config.archive).parent)
    return load_catalog(config.archive, force_primitives=config.primitives_only)


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per stage (:data:`STREAMS`), all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


def _prepare_models(layout: RoomLayout, catalog: Catalog, cache_dir: Path | None) -> dict[str, PreparedModel]:
    models: dict[str, PreparedModel] = {}
    for obj in layout.objects:
        if obj.entry.catalog_id not in models:
            models[obj.entry.catalog_id] = prepare_model(obj.entry, catalog, cache_dir)
    return models


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_tools.make_room", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--preset",
        default="tiny",
        help=f"base settings: {', '.join(preset_names())} or a .toml file (default: tiny)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: the preset's, 0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--objects", type=int, help="furniture pieces on the floor")
    parser.add_argument("--tabletop", type=int, help="small items on furniture tops")
    parser.add_argument("--views", type=int, help="number of rendered views")
    parser.add_argument("--width", type=int, help="image width in pixels")
    parser.add_argument("--height", type=int, help="image height in pixels")
    parser.add_argument("--split", choices=("all", "train", "held-out"), help="catalogue models to use")
    parser.add_argument(
        "--primitives", action="store_true", help="use boxes/cylinders instead of furniture models"
    )
    parser.add_argument("--archive", type=Path, help="Sweet Home 3D furniture archive (.sh3f)")
    parser.add_argument(
        "--catalogues",
        help="'all' or comma-separated catalogue names from the archive's folder: one label per kind "
        "(default: the archive alone, labelled by catalogue names)",
    )
    parser.add_argument("--room", choices=sorted(ROOM_KINDS), help="kind of room (default: any furniture)")
    parser.add_argument(
        "--cache-dir", type=Path, help="converted-model cache (default ~/.cache/lerf3d/furniture)"
    )
    parser.add_argument("--name", help="scene name in ground_truth.json (default room_<seed>)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any RoomConfig field, e.g. --set wall_height=3.0 (repeatable, applied after the flags)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> RoomConfig:
    """The RoomConfig of parsed command-line arguments: the preset, the given flags, then each --set."""
    overrides = {
        "seed": args.seed,
        "num_objects": args.objects,
        "num_tabletop": args.tabletop,
        "num_views": args.views,
        "width": args.width,
        "height": args.height,
        "model_split": args.split,
        "archive": args.archive,
        "cache_dir": args.cache_dir,
        "name": args.name,
        "catalogues": args.catalogues,
        "room": args.room,
        "primitives_only": args.primitives or None,
    }
    config = RoomConfig.preset(args.preset, **{k: v for k, v in overrides.items() if v is not None})
    return apply_overrides(config, args.set)


def summary(room: GeneratedRoom) -> str:
    """One line saying what was written, for the command line."""
    c, (sx, sy, sz), sec = room.config, room.layout.size, room.seconds
    labels = ", ".join(o.entry.label for o in room.layout.objects)
    return (
        f"wrote {c.num_views} view{'s' if c.num_views != 1 else ''} ({c.width}x{c.height}) "
        f"of a {sx:.2f} x {sy:.2f} x {sz:.2f} m room "
        f"with {len(room.layout.objects)} objects [{labels}] from {room.catalog_source} to {room.out_dir} "
        f"in {sec['total']:.1f} s (models {sec['models']:.1f} s, render {sec['render']:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            room = generate_room(config, args.out)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
    except (ValueError, FurnitureArchiveMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(room))
    return 0


if __name__ == "__main__":
    sys.exit(main())
