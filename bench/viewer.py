"""Viewer latency, end to end through the HTTP server (request -> JSON the page reads):

- **phrase on the current view**: the page has shown the still view (its embeddings rendered at the
  session's 30 scales and cached); a new phrase is ``POST /api/query`` on that camera. Baseline,
  same camera and phrases: the LERF way, where the phrase is model state and every new phrase
  re-renders the view at all scales (``QuerySession.answer(..., use_cache=False)``).
- **frame after a camera move**: a new orbit camera; the page asks for a colour-only preview at 1/4
  of the still size per side (``POST /api/render`` with ``preview``). Baseline: the full-resolution
  still of a new camera without the cache (colour + 30-scale embeddings, what the page asks for when
  the camera stops).

Scene: ``--ckpt RUN`` (e.g. the run of ``lerf3d demo --preset tiny``), else the tiny generated room
with the tiny training preset's field (configs/tiny.toml) fitted to its ground truth
(tests/viewer/gt_scene.py) at D = 384, the width of the lerf3d:tiny space: the cost of every step depends
on the field's sizes, not on its weights.

    python bench/viewer.py [--ckpt RUN] [--header]        # ~1-3 min on 2 CPU cores

Prints a markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the viewer package beside lerf3d
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "viewer"))  # gt_scene, test scaffolding

from lerf3d.geometry import opencv_to_opengl  # noqa: E402
from lerf3d.query.camera import QueryCamera, orbit_cameras  # noqa: E402
from viewer.config import ViewerConfig  # noqa: E402
from viewer.protocol import preview_camera  # noqa: E402
from viewer.scene import ViewerScene  # noqa: E402
from viewer.server import make_server, serve_in_thread  # noqa: E402

HEADER = (
    "| viewer scene | device, threads | still / preview | phrase on current view (ms) | re-render per phrase "
    "(ms) | speed-up | preview after a move (ms) | uncached full still (ms) | speed-up |\n"
    "|---|---|---|---|---|---|---|---|---|"
)
PHRASES = ("chair", "oven", "wall", "floor", "table", "lamp")
"""New phrases, one per timed query (each is new to the cached view)."""
LABEL_DIM = 384
"""The lerf3d:tiny embedding width (MiniLM's), which sets the cost of the cached path."""


def post(base: str, path: str, payload: dict) -> tuple[dict, float]:
    """(response JSON, seconds) of one request, the way the page sends it."""
    request = urllib.request.Request(base + path, json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        data = json.loads(response.read())
    return data, time.perf_counter() - start


def free_camera(camera: QueryCamera) -> dict:
    """What the page sends for its three.js camera (OpenGL pose, vertical fov)."""
    k = camera.intrinsics
    fov_y = float(np.degrees(2 * np.arctan(k.height / (2 * k.fy))))
    return {"camera_to_world": opencv_to_opengl(camera.camera_to_world).tolist(), "fov_y": fov_y,
            "width": k.width, "height": k.height}


def build_scene(args: argparse.Namespace) -> tuple[ViewerScene, str]:
    if args.ckpt is not None:
        from viewer.scene import load_viewer_scene

        return load_viewer_scene(args.ckpt), f"checkpoint {Path(args.ckpt).name}"
    from gt_scene import FitConfig, GroundTruthSceneConfig, ground_truth_scene

    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    work = Path(tempfile.mkdtemp(prefix="lerf3d-bench-viewer-"))
    room = generate_room(RoomConfig.preset("tiny", seed=0, cache_dir=work / "models"), work / "room")
    config = GroundTruthSceneConfig(fit=FitConfig(steps=args.fit_steps), embedding_dim=LABEL_DIM)
    scene = ground_truth_scene(room.out_dir, config).viewer
    return scene, "tiny room, tiny-preset field fitted to ground truth (D=384)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", type=Path, default=None,
                        help="a trained run (default: the tiny room, fitted to ground truth)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared machine two threads wait on each other)")
    parser.add_argument("--moves", type=int, default=5, help="camera moves timed")
    parser.add_argument("--fit-steps", type=int, default=100, help="fitting steps of the generated scene")
    parser.add_argument("--header", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    scene, label = build_scene(args)
    config = ViewerConfig(port=0, outputs_dir=Path(tempfile.mkdtemp(prefix="lerf3d-bench-viewer-out-")))
    server = make_server(scene, config)
    serve_in_thread(server)
    base = server.url.rstrip("/")
    session = scene.session
    width, height = config.full_long_side, round(config.full_long_side * 3 / 4)  # the page's 4:3 still
    cameras = orbit_cameras(scene.scene_bounds, 2 * args.moves + 2, width, height)

    # phrase on the current view: the still is shown (cached), then each new phrase
    current = free_camera(cameras[0])
    post(base, "/api/render", {"camera": current})
    post(base, "/api/query", {"camera": current, "phrases": "warm-up"})
    cached = [post(base, "/api/query", {"camera": current, "phrases": p})[1] for p in PHRASES]
    rerender = []
    for phrase in PHRASES[:2]:
        start = time.perf_counter()
        session.answer(cameras[0], [phrase], use_cache=False)
        rerender.append(time.perf_counter() - start)

    # a camera move: preview of a new camera vs the uncached full still of another new camera
    post(base, "/api/render", {"camera": free_camera(cameras[1]), "preview": True})  # warm-up
    previews = [post(base, "/api/render", {"camera": free_camera(c), "preview": True})[1]
                for c in cameras[2:2 + args.moves]]
    stills = [post(base, "/api/render", {"camera": free_camera(c)})[1] for c in cameras[2 + args.moves:][:2]]
    server.shutdown()

    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731
    small = preview_camera(cameras[0], config.preview_divisor).intrinsics
    preview_size = f"{small.width}x{small.height}"
    if args.header:
        print(HEADER)
    print(f"| {label} | cpu, {args.threads} | {width}x{height} / {preview_size} | {ms(cached):.0f} | "
          f"{ms(rerender):.0f} | {ms(rerender) / ms(cached):.1f}x | {ms(previews):.0f} | {ms(stills):.0f} | "
          f"{ms(stills) / ms(previews):.1f}x |")
    print(f"(1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"on {os.cpu_count()} cores)", file=sys.stderr)


if __name__ == "__main__":
    main()
