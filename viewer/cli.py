"""``lerf3d view CKPT``: serve the browser viewer on a trained checkpoint.

lerf3d's command line adds this sub-command only when the viewer package is installed
(``register`` is the one entry point it calls); ``python -m viewer`` runs it on its own (:func:`main`).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from viewer.config import DEFAULT_PORT, FULL_LONG_SIDE, LOCALHOST, ViewerConfig


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``view`` command's arguments (shared with ``python -m viewer``)."""
    parser.add_argument("checkpoint", type=Path, help="training checkpoint (.ckpt) or run folder")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default=LOCALHOST,
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens "
                             "it to the network without authentication)")
    parser.add_argument("--capture", type=Path, default=None,
                        help="the capture the field was trained on (default: the checkpoint's)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--image-text", default=None,
                        help="image-text encoder spec (default: the one recorded in the checkpoint)")
    parser.add_argument("--llm", type=Path, default=None, metavar="RUN",
                        help="Scene-LLM run folder for the chat panel (default: the packaged demo weights "
                             "when installed)")
    parser.add_argument("--no-llm", action="store_true", help="no chat panel (skips loading the scene LLM)")
    parser.add_argument("--llm-scene", type=Path, default=None,
                        help="the LLM's scene: a capture folder or features .pt (default: the capture)")
    parser.add_argument("--llm-encoder", default=None,
                        help="image-text encoder of the LLM's scene features (default: the run's record)")
    parser.add_argument("--no-objects", action="store_true",
                        help="no object boxes or object mode (skips loading or building RUN/objects/)")
    parser.add_argument("--outputs", type=Path, default=Path("outputs/viewer"),
                        help="folder for exported PLY files (the only files the server hands out)")
    parser.add_argument("--size", type=int, default=FULL_LONG_SIDE,
                        help=f"long side in pixels of a still view (default {FULL_LONG_SIDE})")
    parser.add_argument("--max-points", type=int, default=ViewerConfig.max_points,
                        help="fused points shown and queried in 3D")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def packaged_llm() -> Path | None:
    """The packaged Scene-LLM demo weights, when this install has them."""
    from lerf3d.scene_llm.commands import DEFAULT_RUN

    return DEFAULT_RUN if (DEFAULT_RUN / "config.json").is_file() else None


def run_view(args: argparse.Namespace) -> int:
    """Take the port (a busy one is an error before anything loads), open the checkpoint (and the
    scene LLM), then serve until Ctrl-C."""
    from viewer.server import bind_listener

    config = ViewerConfig(host=args.host, port=args.port, outputs_dir=args.outputs, full_long_side=args.size,
                          max_points=args.max_points)
    listener = bind_listener(config)
    try:
        load_and_serve(args, config, listener)
    finally:
        listener.close()
    return 0


def load_and_serve(args: argparse.Namespace, config: ViewerConfig, listener: socket.socket) -> None:
    from viewer.scene import load_viewer_scene
    from viewer.server import serve

    print(f"lerf3d view: opening {args.checkpoint} ...", flush=True)
    scene = load_viewer_scene(args.checkpoint, args.capture, args.device, args.image_text, config.max_points,
                              seed=config.seed, objects=not args.no_objects)
    llm = None if args.no_llm else args.llm or packaged_llm()
    if llm is not None:
        from dataclasses import replace

        from viewer.chat import load_chat

        source = args.llm_scene or args.capture or scene.capture_root
        if source is None:
            raise ValueError("the chat panel needs the scene's capture folder or features file: pass "
                             "--llm-scene PATH (or --no-llm)")
        print(f"lerf3d view: loading the scene LLM {llm} on {source} ...", flush=True)
        scene = replace(scene, chat=load_chat(llm, source, args.device, args.llm_encoder))
    serve(scene, config, verbose=args.verbose, listener=listener)


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001 (argparse has no public type)
    """Add ``view`` to lerf3d's sub-commands."""
    view = subparsers.add_parser("view", help="browser viewer of a checkpoint: query by text, export, chat")
    add_view_arguments(view)
    view.set_defaults(func=run_view)


def main(argv: list[str] | None = None) -> int:
    """``python -m viewer CKPT ...``: the ``lerf3d view`` command on its own."""
    parser = argparse.ArgumentParser(prog="python -m viewer", description=__doc__.split("\n")[0])
    add_view_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_view(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"lerf3d view: error: {err}", file=sys.stderr)
        return 2
