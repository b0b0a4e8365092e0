"""Build the packaged Scene-LLM demo weights: rooms -> questions -> features -> training -> eval -> export.

    python -m data_tools.scene_llm_demo --out outputs/scene_llm_demo   # -> lerf3d/weights/scene_llm_demo
    python -m data_tools.scene_llm_demo --out DIR --rooms 12 --steps2 40 --no-export   # a quick look
    python -m data_tools.scene_llm_demo --out DIR ... --data-only   # the recipe's rooms, questions and features only

Every stage skips what its folder already holds, so an interrupted run resumes. The rooms are the
generator's ``demo`` preset with seeds from ``--first-seed`` (the default avoids seed 0, the room
``lerf3d demo`` builds, so the demo room is never trained on). Features come from the packaged
``lerf3d:tiny`` towers; the export refuses any other encoder, because ``lerf3d ask`` computes a new
room's features with the packaged towers and the weights must have been trained on those.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from data_tools.scene_llm_card import card_text
from lerf3d.encoders.spec import DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.scene_llm.commands import DEFAULT_RUN

PACKAGED_ENCODER = DEFAULT_IMAGE_TEXT_SPEC
"""The encoder ``lerf3d ask`` uses by default: the only one the packaged weights may be trained on."""

PACKAGED_VOXEL_M = 0.02
"""Fusion voxel of the packaged weights' features: at ``lerf3d llm-prepare``'s 4 cm a cup on a table
fuses to a handful of points and gets no token (docs/history.md)."""


def make_rooms(out: Path, count: int, first_seed: int, kind: str = "") -> list[Path]:
    """``count`` demo-preset rooms of ``kind`` (empty: the generator's any-furniture layout; existing
    rooms are kept)."""
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    rooms = []
    for seed in range(first_seed, first_seed + count):
        room = out / (f"room_{seed}" if not kind else f"{kind.replace(' ', '_')}_{seed}")
        if not (room / "ground_truth.json").is_file():
            generate_room(RoomConfig.preset("demo", seed=seed, room=kind), room)
        rooms.append(room)
    return rooms


def _parsed(add_arguments, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by a ``lerf3d`` sub-command's own argument declarations."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_tools.scene_llm_demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/scene_llm_demo"), help="work folder")
    parser.add_argument(
        "--rooms", type=int, default=48, help="generated rooms (a fifth held out for the test)"
    )
    parser.add_argument("--first-seed", type=int, default=100, help="seed of the first room")
    parser.add_argument("--rooms-dir", type=Path, default=None, help="where rooms live (default: OUT/rooms)")
    parser.add_argument("--encoder", default=PACKAGED_ENCODER, help="image-text encoder of the features")
    parser.add_argument("--voxel", type=float, default=PACKAGED_VOXEL_M,
                        help="fusion voxel of the features in metres (the demo preset's tokens are the object "
                             "layer's segments, which keep small things at 2 cm)")
    parser.add_argument("--steps1", type=int, help="stage-1 steps (default: the demo preset's)")
    parser.add_argument("--steps2", type=int, help="stage-2 steps (default: the demo preset's)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--layout-kind", default="bedroom",
                        help="room kind of the evaluation-only rooms of another layout")
    parser.add_argument("--layout-rooms", type=int, default=6, help="evaluation-only rooms of that layout (0: none)")
    parser.add_argument("--layout-first-seed", type=int, default=901, help="seed of the first such room")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting of the demo preset (lerf3d llm-train --set)")
    parser.add_argument("--export", type=Path, default=DEFAULT_RUN, help="where the shipped weights go")
    parser.add_argument("--train-only-wordings", action="store_true",
                        help="spread training questions over the training-only wording families too "
                             "(DatasetConfig.train_only_wordings)")
    parser.add_argument("--no-export", action="store_true", help="stop after the evaluation")
    parser.add_argument("--data-only", action="store_true",
                        help="stop after the rooms, questions and features (to evaluate other weights on them)")
    args = parser.parse_args(argv)
    if not args.no_export and args.encoder != PACKAGED_ENCODER:
        parser.error(f"the packaged weights must be trained on {PACKAGED_ENCODER} features; use --no-export")
    torch.set_num_threads(args.threads)
    from data_tools.qa_generate import catalogue_labels
    from lerf3d.scene_llm.data.dataset import DatasetConfig, generate_dataset
    from lerf3d.scene_llm.tokens import prepare
    from lerf3d.scene_llm.train import loop as train
    from lerf3d.scene_llm.use import evaluate
    from lerf3d.scene_llm.use.export import export_run

    rooms = make_rooms(args.rooms_dir or args.out / "rooms", args.rooms, args.first_seed)
    dataset, run = args.out / "dataset", args.out / "run"
    if not (dataset / "scenes.json").is_file():
        generate_dataset(
            rooms, dataset,
            DatasetConfig(seed=0, val_fraction=0.0, test_fraction=0.2, train_only_wordings=args.train_only_wordings),
            catalogue_labels(),
        )
    layout = args.out / "layout_dataset"
    if args.layout_rooms:
        layout_rooms = make_rooms(args.rooms_dir or args.out / "rooms", args.layout_rooms, args.layout_first_seed,
                                  args.layout_kind)
        if not (layout / "scenes.json").is_file():
            generate_dataset(layout_rooms, layout, DatasetConfig(seed=0, only_split="test"), catalogue_labels())
    features = prepare.PrepareConfig(encoder=args.encoder, fusion_voxel=args.voxel)
    prepare.prepare_dataset(dataset, features)
    if args.layout_rooms:
        prepare.prepare_dataset(layout, features)
    if args.data_only:
        print(f"datasets ready: {dataset}" + (f", {layout}" if args.layout_rooms else ""))
        return 0
    from lerf3d.scene_llm.commands import add_eval_arguments, add_train_arguments

    train_argv = [str(dataset), "--out", str(run), "--preset", "demo"]
    train_argv += [f"--steps{k}={v}" for k, v in ((1, args.steps1), (2, args.steps2)) if v is not None]
    train_argv += [f"--set={item}" for item in args.set]
    train.run(_parsed(add_train_arguments, train_argv))
    evaluations = [("eval_test.json", dataset, [])]
    if args.layout_rooms:
        evaluations.append(("eval_layout.json", layout, ["--train-dataset", str(dataset)]))
    for name, data, extra in evaluations:
        report = run / name
        if not report.is_file() or report.stat().st_mtime < (run / "stage2" / "projector.pt").stat().st_mtime:
            evaluate.run(_parsed(add_eval_arguments, [str(run), str(data), "--out", str(report), *extra]))
    if not args.no_export:
        written = export_run(run, args.export, card_text(args, run, dataset))
        size = sum(p.stat().st_size for p in written)
        print(f"exported {len(written)} files, {size / 1e6:.1f} MB, to {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
