"""Argument parsing of ``lerf3d objects``; the work is in :mod:`lerf3d.objects.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_objects(args: argparse.Namespace) -> int:
    from lerf3d.objects.commands import describe, run_objects

    result, evaluation = run_objects(args.checkpoint, capture=args.capture, device=args.device,
                                     image_text=args.image_text, rebuild=args.rebuild, ground_truth=args.gt)
    print(describe(result, evaluation))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``objects`` to the ``lerf3d`` command line."""
    objects = sub.add_parser(
        "objects", help="segment a trained run's scene into 3D objects (RUN/objects/) and score them"
    )
    objects.add_argument("checkpoint", type=Path, help="trained run folder or checkpoint file")
    objects.add_argument("--capture", type=Path, default=None, help="capture (default: the one recorded in the run)")
    objects.add_argument("--gt", type=Path, default=None,
                         help="ground_truth.json or its folder to score against (default: the capture's, if any)")
    objects.add_argument("--rebuild", action="store_true", help="rebuild even when RUN/objects/ is up to date")
    objects.add_argument("--device", default="cpu", help="torch device")
    objects.add_argument("--image-text", default=None,
                         help="image-text encoder spec (default: the one the run trained with)")
    objects.set_defaults(func=_cmd_objects)
