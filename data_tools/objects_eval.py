"""The object layer on generated rooms that nothing was trained on.

    python -m data_tools.objects_eval --seeds 7101-7105 --out outputs/objects_eval [--steps 600] [--train-only]
        [--objects-only] [--crop-levels 0.5,0.75] [--no-dino | --dense SPEC] [--image-text SPEC] [--room-set room=bedroom ...]

For each seed: the room generator's ``demo`` preset lays out and films a room (seeds 7001 and up
were never used by the towers or the scene LLM; 7001-7005, 7101-7105, 7201-7205, 7301-7305,
7401-7405, 7406-7410, 7411-7415, 7416-7420, 7421-7425, 7426-7430, 7431-7435, 7436-7440 and
7441-7445 each reported the object layer once and then served to develop it, 7446-7450 report it
now: use seeds above 7450 for a fresh measurement), ``lerf3d train`` trains the field with the
``default`` preset (``--steps`` shortens it), then ``lerf3d eval``'s functions score per-pixel and object-mode localisation/mIoU beside both
baselines and the object layer's recall, precision, label top-1 and counts (all labels, and the
furniture labels), localisation also apart for furniture labels and small items. Rooms already
trained are reused; the objects are rebuilt each time (seconds), so a change of the object layer is
measured on the same fields.
``--objects-only`` scores the object layer alone (seconds per room: no views rendered),
``--crop-levels`` frames the objects' crops otherwise (``ObjectsConfig.crop_levels``), ``--room-set
KEY=VALUE`` changes the rooms (any :class:`~data_tools.config.RoomConfig` field, as ``make_room
--set``: another room kind or camera path; use a fresh ``--out``), ``--dense SPEC`` trains with
another dense tower and ``--image-text SPEC`` with another image-text tower, which also names the
objects (e.g. ``lerf3d:tiny@DIR``, towers from ``data_tools.train_towers``; a fresh ``--out``). The per-room and pooled tables
are printed and written to ``OUT/objects_eval.md``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from data_tools.config import RoomConfig
from data_tools.make_room import generate_room
from lerf3d.atomic import atomic_path
from lerf3d.encoders.spec import DEFAULT_DENSE_SPEC, DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.ground_truth import load_ground_truth
from lerf3d.objects.build import ObjectsConfig
from lerf3d.objects.commands import annotated_scorer, evaluate_scene_objects, scene_objects
from lerf3d.objects.evaluate import MIN_SIZE_M, TABLE_HEADER, ObjectEvaluation
from lerf3d.query.checkpoint import open_scene
from lerf3d.query.eval_scene import evaluate_scene
from lerf3d.query.evaluate import PhraseScore, summarise
from lerf3d.query.session import QuerySessionConfig
from lerf3d.runs import Run, resolve_checkpoint
from lerf3d.train.command import TrainRequest, run_train
from lerf3d.typed_config import apply_overrides

EVAL_VIEWS = 3
"""Annotated views per split scored per room (the demo's choice: every label of a room is visible in a
few views; all views cost minutes per room on 2 cores)."""
EVAL_SCALES = 10
"""Scales each evaluated view is rendered at (the demo's choice; ``lerf3d eval`` keeps LERF's 30)."""


@dataclass(frozen=True)
class RoomResult:
    seed: int
    objects: ObjectEvaluation
    views: list[PhraseScore]


def parse_seeds(text: str) -> list[int]:
    """``7001-7005`` or ``7001,7003``."""
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def parse_levels(text: str) -> tuple[float, ...]:
    """``0.5,0.75``: crop sides as multiples of an object's projected size."""
    return tuple(float(v) for v in text.split(","))


def trained_room(seed: int, out: Path, steps: int | None, dino: bool = True,
                 room_set: Sequence[str] = (), dense: str = DEFAULT_DENSE_SPEC,
                 image_text: str = DEFAULT_IMAGE_TEXT_SPEC) -> tuple[Path, Run]:
    """Generate and train one room (each step skipped when its output is there): capture, run.
    ``dino=False`` trains the field without the DINO loss (LERF's ablation); ``room_set`` holds
    ``key=value`` changes of the ``demo`` room preset; ``dense`` is the DINO maps' encoder and
    ``image_text`` the crop pyramids' (which the object layer then names objects with)."""
    room_dir = out / f"room_{seed}"
    capture = room_dir / "capture"
    if not (capture / "transforms.json").is_file():
        generate_room(apply_overrides(RoomConfig.preset("demo", seed=seed), room_set), capture)
    run = Run(room_dir / "run")
    if run.latest_checkpoint() is None:
        overrides = ("logging.progress=false",) + (() if dino else ("loss.dino=0",))
        print(run_train(TrainRequest(capture, run.root, steps=steps, overrides=overrides, dense=dense,
                                             image_text=image_text)).describe())
    return capture, run


def room_result(capture: Path, run: Run, seed: int, config: ObjectsConfig, views: bool = True) -> RoomResult:
    """Score one trained room: the objects, and (``views``) per-pixel and object mode beside the baselines."""
    checkpoint = resolve_checkpoint(run.root)
    scene = open_scene(checkpoint, config=QuerySessionConfig(num_scales=EVAL_SCALES))
    objects = scene_objects(scene, checkpoint, config, rebuild=True).objects
    truth = load_ground_truth(capture)
    scores = []
    if views:
        scores = evaluate_scene(scene, truth, run.eval / "objects_eval.json", max_views=EVAL_VIEWS,
                                extra_scorers=[annotated_scorer(scene, objects, truth)]).scores
    evaluation = evaluate_scene_objects(scene, objects, truth)
    print(f"{TABLE_HEADER}\n{evaluation.row()}")
    return RoomResult(seed, evaluation, scores)


def pooled_tables(results: list[RoomResult]) -> str:
    """The object table per room and pooled, and the localisation/mIoU table over all rooms."""
    lines = [TABLE_HEADER] + [r.objects.row() for r in results]
    annotated = sum(r.objects.num_annotated for r in results)
    predicted = sum(r.objects.num_predicted for r in results)
    recall = sum(r.objects.recall * r.objects.num_annotated for r in results) / max(1, annotated)
    precision = sum(r.objects.precision * r.objects.num_predicted for r in results) / max(1, predicted)
    matched = [(r.objects.label_top1, len(r.objects.matches)) for r in results]
    top1 = sum(t * n for t, n in matched) / max(1, sum(n for _, n in matched))
    labels = [(r.objects.count_exact, len(r.objects.counts)) for r in results]
    counts = sum(c * n for c, n in labels) / max(1, sum(n for _, n in labels))
    furniture = [(r.objects.count_exact_furniture, r.objects.num_furniture_labels) for r in results]
    counts_furniture = sum(c * n for c, n in furniture if n) / max(1, sum(n for _, n in furniture))
    lines.append(f"| all rooms | {recall:.2f} ({annotated}) | {precision:.2f} ({predicted}) | {top1:.2f} | "
                 f"{counts:.2f} | {counts_furniture:.2f} |")
    scores = [s for r in results for s in r.views]
    if not scores:
        return "\n".join(lines)
    lines += ["", "| method | pairs | localisation | mIoU |", "|---|---|---|---|"]
    lines += [f"| {s.method} | {s.count} | {s.localisation:.3f} | {s.miou:.3f} |" for s in summarise(scores, "all")]
    furniture = [s for r in results for s in r.views if s.phrase not in r.objects.small_labels]
    small = [s for r in results for s in r.views if s.phrase in r.objects.small_labels]
    lines += ["", "| method | labels | pairs | localisation | mIoU |", "|---|---|---|---|---|"]
    for name, part in ((f"furniture (every instance >= {MIN_SIZE_M} m)", furniture), ("small items", small)):
        lines += [f"| {s.method} | {name} | {s.count} | {s.localisation:.3f} | {s.miou:.3f} |"
                  for s in summarise(part, "all")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("7101-7105"), help="room seeds")
    parser.add_argument("--out", type=Path, default=Path("outputs/objects_eval"), help="output folder")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--train-only", action="store_true", help="generate and train the rooms, score nothing")
    parser.add_argument("--room-set", action="append", default=[], metavar="KEY=VALUE",
                        help="change the demo room preset (make_room --set), e.g. room=bedroom (repeatable)")
    parser.add_argument("--no-dino", action="store_true",
                        help="train without the DINO loss and segment without DINO features (use a fresh --out)")
    parser.add_argument("--dense", default=DEFAULT_DENSE_SPEC,
                        help=f"dense (DINO) encoder spec for training (default {DEFAULT_DENSE_SPEC}; use a fresh --out)")
    parser.add_argument("--image-text", default=DEFAULT_IMAGE_TEXT_SPEC,
                        help=f"image-text encoder spec for training and naming (default {DEFAULT_IMAGE_TEXT_SPEC}; use a fresh --out)")
    parser.add_argument("--objects-only", action="store_true", help="score the object layer alone (no views)")
    parser.add_argument("--crop-levels", type=parse_levels, default=ObjectsConfig().crop_levels,
                        help="objects' crop sides as multiples of their projected size, e.g. 0.5,0.75")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rooms = [trained_room(seed, args.out, args.steps, dino=not args.no_dino, room_set=args.room_set, dense=args.dense,
                         image_text=args.image_text)
             for seed in args.seeds]
    if args.train_only:
        return 0
    config = ObjectsConfig(crop_levels=args.crop_levels, use_dino=not args.no_dino)
    results = [room_result(capture, run, seed, config, views=not args.objects_only)
               for (capture, run), seed in zip(rooms, args.seeds)]
    table = pooled_tables(results)
    seeds = ", ".join(str(s) for s in args.seeds)
    scored = "objects only" if args.objects_only else f"{EVAL_VIEWS} views per split, {EVAL_SCALES} scales"
    towers = "without the DINO loss or DINO features; " if args.no_dino else (
        "" if args.dense == DEFAULT_DENSE_SPEC else f"dense tower {args.dense}; ")
    towers += "" if args.image_text == DEFAULT_IMAGE_TEXT_SPEC else f"image-text tower {args.image_text}; "
    changed = f" with {', '.join(args.room_set)}" if args.room_set else ""
    report = (f"Rooms: demo preset{changed}, seeds {seeds}; {towers}crop levels {', '.join(map(str, args.crop_levels))}; "
              f"{scored}; {time.perf_counter() - start:.0f} s\n\n{table}\n")
    print(report)
    with atomic_path(args.out / "objects_eval.md") as tmp:
        tmp.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
