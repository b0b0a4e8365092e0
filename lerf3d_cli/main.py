"""The ``lerf3d`` command line: one sub-command per stage of the pipeline.

Building the parser imports argparse-level modules only (no torch, no query stack): each handler
imports its stage when the command runs, so ``lerf3d --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lerf3d.encoders.spec import DEFAULT_DENSE_SPEC, DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.preflight import check_output_path, positive_float_arg, positive_int_arg


def _cmd_fuse(args: argparse.Namespace) -> int:

    from lerf3d.capture import frames_summary, load_capture
    from lerf3d.fusion import FusionConfig, fuse_capture, save_fusion
    from lerf3d.fusion.preview import write_preview

    start = time.perf_counter()
    check_output_path(args.out, folder=True)
    capture = load_capture(args.capture, format=args.format, intrinsics=args.intrinsics)
    config = FusionConfig(voxel_size=args.voxel_size, frame_stride=args.stride, backend=args.backend,
                          device=args.device)
    result = fuse_capture(capture, config)
    files = save_fusion(result, args.out)
    preview = write_preview(result, args.out)
    lo, hi = result.bounds.lower, result.bounds.upper
    print(
        f"fused {frames_summary(capture, len(capture.frames[::config.frame_stride]))} ({capture.source_format}) in {time.perf_counter() - start:.1f} s: "
        f"{len(result.vertices)} vertices, {len(result.faces)} faces, voxel {result.voxel_size * 100:.1f} cm "
        f"({result.backend} TSDF)\n"
        f"bounds [{lo[0]:.2f} {lo[1]:.2f} {lo[2]:.2f}] .. [{hi[0]:.2f} {hi[1]:.2f} {hi[2]:.2f}] m\n"
        f"wrote {files.mesh_ply}, {files.mesh_glb}, {files.points_ply}, {files.bounds_json}, {preview}"
    )
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from lerf3d.capture import load_capture
    from lerf3d.features.command import run_features
    from lerf3d.runs.layout import FEATURES_DIR

    dense = None if args.dense in ("", "none") else args.dense
    out = check_output_path(args.out or Path(args.capture) / FEATURES_DIR, folder=True)
    capture = load_capture(args.capture, intrinsics=args.intrinsics) if args.intrinsics else args.capture
    summary, _ = run_features(capture, out, args.image_text, dense, device=args.device, batch_size=args.batch_size)
    print(summary.describe())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from lerf3d.train.command import TrainRequest, run_train

    request = TrainRequest(
        capture=args.capture,
        out=args.out,
        preset=args.preset,
        steps=args.steps,
        resume=args.resume,
        image_text=args.image_text,
        dense=None if args.dense in ("", "none") else args.dense,
        features_dir=args.features_dir,
        device=args.device,
        overrides=tuple(args.set),
        intrinsics=args.intrinsics,
    )
    print(run_train(request).describe())
    if args.objects:
        from lerf3d.objects.commands import describe, run_objects

        print(describe(*run_objects(args.out, device=args.device, image_text=args.image_text, score=False)))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from lerf3d_cli.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=Path(args.out), preset=args.preset, seed=args.seed, train_preset=args.train_preset))
    return 0


def _intrinsics(value: str):
    from lerf3d.capture import CaptureError, parse_intrinsics

    try:
        return parse_intrinsics(value)
    except CaptureError as err:  # argparse prints an ArgumentTypeError's own message, not a ValueError's
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_intrinsics_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--intrinsics", type=_intrinsics, default=None, metavar="FX,FY,CX,CY|FILE.json",
                        help="camera in pixels replacing the capture's (TUM/Replica without calibration files); "
                             "a JSON file may add w, h")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lerf3d", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fuse = sub.add_parser("fuse", help="TSDF-fuse a capture into a mesh, points and bounds")
    fuse.add_argument("capture", type=Path, help="capture folder or file (nerfstudio, Record3D, ScanNet, TUM, Replica)")
    fuse.add_argument("--out", type=Path, required=True, help="output folder")
    fuse.add_argument("--format", default="auto", help="capture format (default: detect)")
    fuse.add_argument("--voxel-size", type=positive_float_arg, default=None, help="voxel edge in metres (default: auto)")
    fuse.add_argument("--stride", type=positive_int_arg, default=1, help="fuse every n-th frame")
    fuse.add_argument("--backend", default="auto",  # checked by FusionConfig: --help imports no stage
                      help="TSDF volume: open3d (CPU), torch (dense grid on --device) or auto (open3d if installed)")
    fuse.add_argument("--device", default="cpu", help="torch device of the torch backend (cuda fuses on a GPU)")
    _add_intrinsics_argument(fuse)
    fuse.set_defaults(func=_cmd_fuse)

    feats = sub.add_parser("features", help="extract (and cache) the crop pyramid and DINO maps of a capture")
    feats.add_argument("capture", type=Path, help="capture folder or file")
    feats.add_argument("--out", type=Path, default=None, help="cache folder (default: CAPTURE/features)")
    feats.add_argument("--image-text", default=DEFAULT_IMAGE_TEXT_SPEC,
                       help="image-text encoder spec, e.g. openclip:ViT-B-16/laion2b_s34b_b88k")
    feats.add_argument("--dense", default=DEFAULT_DENSE_SPEC,
                       help="dense encoder spec (dino:dino_vits8, dinov2:vits14) or none")
    feats.add_argument("--device", default="cpu", help="torch device")
    feats.add_argument("--batch-size", type=positive_int_arg, default=64, help="crops encoded per batch")
    _add_intrinsics_argument(feats)
    feats.set_defaults(func=_cmd_features)

    train = sub.add_parser("train", help="train a language field (LERF) on a capture")
    train.add_argument("capture", type=Path, help="capture folder or file (with depth)")
    train.add_argument("--out", type=Path, required=True, help="run folder: checkpoints/, tensorboard/, eval/, fusion/")
    train.add_argument("--preset", default="default", help="tiny | default | big, or a .toml file (configs/)")
    train.add_argument("--steps", type=positive_int_arg, default=None, help="total steps (default: the preset's)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/latest with its config")
    train.add_argument("--image-text", default=DEFAULT_IMAGE_TEXT_SPEC, help="image-text encoder spec for the crop pyramids")
    train.add_argument("--dense", default=DEFAULT_DENSE_SPEC, help="dense (DINO) encoder spec, or none")
    train.add_argument("--features-dir", type=Path, default=None,
                       help="feature cache (default: CAPTURE/features if it exists, else OUT/features)")
    train.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    train.add_argument("--no-objects", dest="objects", action="store_false",
                       help="skip segmenting the trained scene into objects (OUT/objects/, lerf3d objects)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set optim.radiance.lr=5e-3 (repeatable)")
    _add_intrinsics_argument(train)
    train.set_defaults(func=_cmd_train)

    demo = sub.add_parser("demo", help="generate the demo room and run the pipeline on it")
    demo.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder")
    demo.add_argument("--preset", default="demo", help="room preset (tiny for a quick check)")
    demo.add_argument("--seed", type=int, default=0, help="room seed")
    demo.add_argument("--train-preset", default=None,
                      help="training preset (default: tiny for the tiny room, default otherwise)")
    demo.set_defaults(func=_cmd_demo)
    from lerf3d.scene_llm.commands import register as register_scene_llm  # llm-prepare/-train, ask, llm-eval
    register_scene_llm(sub)
    from lerf3d.query.cli import register as register_query  # query, render

    register_query(sub)
    from lerf3d.objects.cli import register as register_objects  # objects, export, eval

    register_objects(sub)
    _register_viewer(sub)  # view: the separate viewer package, when it is installed
    return parser


def _register_viewer(sub: argparse._SubParsersAction) -> None:
    """``lerf3d view`` lives in the top-level ``viewer`` package (it imports lerf3d, never the
    reverse); the other commands work without it."""
    import importlib.util

    if importlib.util.find_spec("viewer") is not None:
        from viewer.cli import register

        register(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lerf3d.capture import CaptureError  # after parsing: --help needs no capture readers (numpy)

    try:
        return args.func(args)
    except (CaptureError, OSError, ValueError) as err:  # OSError: a full disk, a path below a file
        print(f"lerf3d {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
