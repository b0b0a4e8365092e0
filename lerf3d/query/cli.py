"""Argument parsing of ``lerf3d query | render | export | eval``; the work is in :mod:`commands`."""

from __future__ import annotations

import argparse
from pathlib import Path

from lerf3d.query.options import DEFAULT_VIDEO_FRAMES, DEFAULT_VIDEO_SIZE


def _add_scene_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="trained run folder or checkpoint file (lerf3d train --out)")
    parser.add_argument("--capture", type=Path, default=None, help="capture (default: the one recorded in the run)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--image-text", default=None,
                        help="image-text encoder spec for the phrases (default: the one the run trained with)")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 256x192") from None
    return width, height


def _cmd_query(args: argparse.Namespace) -> int:
    from lerf3d.query.commands import run_query

    out = run_query(args.checkpoint, args.phrases, args.out, camera=args.camera, pose=args.pose,
                    capture=args.capture, device=args.device, image_text=args.image_text)
    for m, image in zip(out.maps, out.images):
        print(f"{m.phrase!r}: scale {m.scale:.2f} m, relevancy {float(m.values.min()):.2f}..{float(m.values.max()):.2f} -> {image}")
    print(f"wrote {out.summary}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from lerf3d.query.commands import run_render

    path = run_render(args.checkpoint, args.phrase, args.out, path=args.path, num_frames=args.frames,
                      size=args.size, fps=args.fps, scale=args.scale, capture=args.capture,
                      device=args.device, image_text=args.image_text)
    print(f"wrote {path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from lerf3d.query.commands import run_export

    out = run_export(args.checkpoint, args.phrase, args.out, points=args.points, capture=args.capture,
                     device=args.device, image_text=args.image_text)
    box = out.region
    print(f"{args.phrase!r}: top region of {box.num_points} points, centre "
          f"[{' '.join(f'{v:.2f}' for v in box.center)}] m, max relevancy {box.max_relevancy:.2f}")
    print(f"wrote {out.ply} and {out.box_json}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from lerf3d.query.commands import run_eval

    out = run_eval(args.checkpoint, args.gt, args.out, capture=args.capture, features_dir=args.features_dir,
                   points=args.points, baselines=not args.no_baselines, max_views=args.max_views,
                   device=args.device, image_text=args.image_text)
    print(out.table)
    print(f"wrote {out.json_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the four query sub-commands to the ``lerf3d`` parser."""
    query = sub.add_parser("query", help="relevancy heat maps of phrases over one view of a trained scene")
    _add_scene_options(query)
    query.add_argument("phrases", nargs="+", help="one or more text queries, e.g. 'coffee cup'")
    query.add_argument("--camera", default=None, help="train:I, eval:I or a frame name")
    query.add_argument("--pose", type=Path, default=None, help="JSON file with camera_to_world and intrinsics")
    query.add_argument("--out", type=Path, required=True, help="output folder for PNGs and a JSON summary")
    query.set_defaults(func=_cmd_query)

    render = sub.add_parser("render", help="an orbit video of relevancy heat maps")
    _add_scene_options(render)
    render.add_argument("--phrase", action="append", required=True, help="text query (repeatable: side by side)")
    render.add_argument("--path", default="orbit", help="camera path (orbit)")
    render.add_argument("--frames", type=int, default=DEFAULT_VIDEO_FRAMES, help="number of frames")
    render.add_argument("--size", type=_size, default=DEFAULT_VIDEO_SIZE, help="WIDTHxHEIGHT of the frames")
    render.add_argument("--fps", type=float, default=24.0, help="frames per second")
    render.add_argument("--scale", type=float, default=None, help="fixed scale in metres (default: searched)")
    render.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .gif)")
    render.set_defaults(func=_cmd_render)

    export = sub.add_parser("export", help="per-point relevancy of a phrase as a PLY and its top region as JSON")
    _add_scene_options(export)
    export.add_argument("--phrase", required=True, help="text query")
    export.add_argument("--points", type=Path, default=None, help="point cloud PLY (default: the run's fused points)")
    export.add_argument("--out", type=Path, required=True, help="output .ply (the box goes beside it as .json)")
    export.set_defaults(func=_cmd_export)

    evaluate = sub.add_parser("eval", help="localisation and mIoU against ground truth, with 2D baselines")
    _add_scene_options(evaluate)
    evaluate.add_argument("--gt", type=Path, default=None, help="ground_truth.json or its folder (default: the capture's)")
    evaluate.add_argument("--features-dir", type=Path, default=None, help="feature cache for the 2D baselines")
    evaluate.add_argument("--points", type=Path, default=None, help="point cloud for the point-fusion baseline")
    evaluate.add_argument("--no-baselines", action="store_true", help="score the field only")
    evaluate.add_argument("--max-views", type=int, default=None, help="evaluate at most this many views")
    evaluate.add_argument("--out", type=Path, required=True, help="output JSON report")
    evaluate.set_defaults(func=_cmd_eval)
