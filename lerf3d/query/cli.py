"""Argument parsing of ``lerf3d query | render``; the work is in :mod:`commands`. (``export`` and ``eval``,
which add the object mode, are registered by :mod:`lerf3d.objects.cli`.)"""

from __future__ import annotations

import argparse
from pathlib import Path

from lerf3d.preflight import positive_float_arg, positive_int_arg
from lerf3d.query.options import DEFAULT_VIDEO_FRAMES, DEFAULT_VIDEO_SIZE, RENDER_PATHS


def add_scene_options(parser: argparse.ArgumentParser) -> None:
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
    from lerf3d.query.camera import check_render_size  # imported when the option is given

    try:
        check_render_size(width, height, f"size {text!r}")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return width, height


def _camera(text: str) -> str:
    """``train:I`` / ``eval:I`` need a frame number I >= 0; anything else is a frame name."""
    from lerf3d.query.scene import SPLIT_PREFIXES  # imported when the option is given

    prefix, sep, index = text.partition(":")
    if sep and prefix in SPLIT_PREFIXES and not index.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: {prefix}:I takes a frame number I = 0, 1, 2, ...")
    return text


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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``query`` and ``render`` to the ``lerf3d`` parser."""
    query = sub.add_parser("query", help="relevancy heat maps of phrases over one view of a trained scene")
    add_scene_options(query)
    query.add_argument("phrases", nargs="+", help="one or more text queries, e.g. 'coffee cup'")
    query.add_argument("--camera", type=_camera, default=None, help="train:I, eval:I or a frame name")
    query.add_argument("--pose", type=Path, default=None, help="JSON file with camera_to_world and intrinsics")
    query.add_argument("--out", type=Path, required=True, help="output folder for PNGs and a JSON summary")
    query.set_defaults(func=_cmd_query)

    render = sub.add_parser("render", help="a video of relevancy heat maps along a camera path")
    add_scene_options(render)
    render.add_argument("--phrase", action="append", required=True, help="text query (repeatable: side by side)")
    render.add_argument("--path", choices=RENDER_PATHS, default="orbit",
                        help="camera path: orbit (a circle inside the room, looking across it) or frames "
                             "(the capture's training cameras, in order)")
    render.add_argument("--frames", type=positive_int_arg, default=DEFAULT_VIDEO_FRAMES, help="number of frames")
    render.add_argument("--size", type=_size, default=DEFAULT_VIDEO_SIZE, help="WIDTHxHEIGHT of the frames")
    render.add_argument("--fps", type=positive_float_arg, default=24.0, help="frames per second")
    render.add_argument("--scale", type=positive_float_arg, default=None, help="fixed scale in metres (default: searched)")
    render.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .gif)")
    render.set_defaults(func=_cmd_render)
