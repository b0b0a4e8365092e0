"""Argument parsing of ``lerf3d objects | export | eval``; the work is in :mod:`lerf3d.objects.commands`.

``export`` and ``eval`` live here, above the query layer, because they combine the per-point or
per-pixel answer of :mod:`lerf3d.query` with the object mode of this layer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lerf3d.preflight import non_negative_int_arg, positive_int_arg
from lerf3d.query.cli import add_scene_options

DEFAULT_EXPORT_OBJECTS = 3
"""Objects ``lerf3d export`` writes per phrase by default (the best ones above neutral relevancy)."""


def _cmd_objects(args: argparse.Namespace) -> int:
    from lerf3d.objects.commands import describe, run_objects

    result, evaluation = run_objects(args.checkpoint, capture=args.capture, device=args.device,
                                     image_text=args.image_text, rebuild=args.rebuild, ground_truth=args.gt)
    print(describe(result, evaluation))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from lerf3d.objects.commands import export_scene_objects
    from lerf3d.preflight import check_output_path
    from lerf3d.query.commands import export_phrase, open_export
    from lerf3d.runs import resolve_checkpoint

    folder = args.out.parent / f"{args.out.stem}_objects"
    if args.objects:  # checked before the checkpoint opens, as the PLY path is
        check_output_path(folder, folder=True)
    scene, phrases = open_export(args.checkpoint, args.phrase, args.out, points=args.points, capture=args.capture,
                                 device=args.device, image_text=args.image_text)
    out = export_phrase(scene, phrases, args.out)
    box = out.region
    print(f"{args.phrase!r}: top region of {box.num_points} points, centre "
          f"[{' '.join(f'{v:.2f}' for v in box.center)}] m, max relevancy {box.max_relevancy:.2f}")
    print(f"wrote {out.ply} and {out.box_json}")
    if args.objects:  # the same scene: the checkpoint is read once
        objects = export_scene_objects(scene, resolve_checkpoint(args.checkpoint), args.phrase, folder,
                                       top_k=args.objects)
        chosen = ", ".join(str(k) for k in objects.chosen) or "none above neutral relevancy"
        print(f"{args.phrase!r}: objects {chosen} -> {len(objects.ply)} PLY, {len(objects.glb)} GLB, "
              f"{objects.boxes_json}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from lerf3d.objects.commands import run_eval
    from lerf3d.objects.evaluate import TABLE_HEADER

    out, objects = run_eval(args.checkpoint, args.gt, args.out, capture=args.capture, features_dir=args.features_dir,
                            points=args.points, baselines=not args.no_baselines, max_views=args.max_views,
                            device=args.device, image_text=args.image_text)
    print(f"\n### {objects.scene}: objects\n\n{TABLE_HEADER}\n{objects.row()}")
    print(f"wrote {out.json_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``objects``, ``export`` and ``eval`` to the ``lerf3d`` command line."""
    objects = sub.add_parser(
        "objects", help="segment a trained run's scene into 3D objects (RUN/objects/) and score them"
    )
    add_scene_options(objects)
    objects.add_argument("--gt", type=Path, default=None,
                         help="ground_truth.json or its folder to score against (default: the capture's, if any)")
    objects.add_argument("--rebuild", action="store_true", help="rebuild even when RUN/objects/ is up to date")
    objects.set_defaults(func=_cmd_objects)

    export = sub.add_parser("export", help="a phrase's per-point relevancy (PLY + top region JSON) and the "
                                           "objects it selects (PLY/GLB each, boxes JSON)")
    add_scene_options(export)
    export.add_argument("--phrase", required=True, help="text query")
    export.add_argument("--points", type=Path, default=None, help="point cloud PLY (default: the run's fused points)")
    export.add_argument("--out", type=Path, required=True,
                        help="output .ply (the region box goes beside it as .json, the objects in OUT_objects/)")
    export.add_argument("--objects", type=non_negative_int_arg, default=DEFAULT_EXPORT_OBJECTS,
                        help="export at most this many selected objects (0: none)")
    export.set_defaults(func=_cmd_export)

    evaluate = sub.add_parser("eval", help="localisation and mIoU (per-pixel and object mode) against ground "
                                           "truth beside two baselines, and the object layer's own figures")
    add_scene_options(evaluate)
    evaluate.add_argument("--gt", type=Path, default=None, help="ground_truth.json or its folder (default: the capture's)")
    evaluate.add_argument("--features-dir", type=Path, default=None, help="feature cache for the 2D baselines")
    evaluate.add_argument("--points", type=Path, default=None, help="point cloud for the point-fusion baseline")
    evaluate.add_argument("--no-baselines", action="store_true", help="score the field only")
    evaluate.add_argument("--max-views", type=positive_int_arg, default=None, help="evaluate at most this many views")
    evaluate.add_argument("--out", type=Path, required=True, help="output JSON report")
    evaluate.set_defaults(func=_cmd_eval)
