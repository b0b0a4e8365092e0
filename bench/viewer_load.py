"""Viewer under load: N concurrent clients mixing the page's requests for a fixed time.

Each client loops until the time is up, opening a fresh connection per request (the worst case for
the listen queue) and picking, at random with its own seed:

- ``preview``: ``POST /api/render`` of a new orbit camera, colour only (a moving camera),
- ``still``: ``POST /api/render`` of a named capture frame (its embeddings cached after the first),
- ``query``: ``POST /api/query``, one or two phrases on a named frame, or on the points only,
- ``export``: ``POST /api/export`` of one phrase (a PLY written into a temporary folder).

The server runs in its own process (the clients' threads would otherwise share its interpreter
lock) on the scene ``bench/viewer.py`` builds: ``--ckpt RUN`` (e.g. the run of
``lerf3d demo --preset tiny``), else the tiny generated room with the tiny preset's field fitted to
its ground truth. Requests still in flight when the time is up are waited for and counted.

    python bench/viewer_load.py [--clients 64] [--seconds 60] [--ckpt RUN] [--header]

Prints a markdown row for docs/benchmarks.md: requests/s, p50/p99 latency of answered requests,
HTTP errors (4xx, 5xx), connections reset or refused without an answer, and client timeouts.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the viewer package beside lerf3d

HEADER = (
    "| viewer scene | clients, seconds | mix (preview/still/query/export) | requests | requests/s | p50 (ms) "
    "| p99 (ms) | 4xx | 5xx | resets | timeouts |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)
KINDS = ("preview", "still", "query", "export")
"""Request kinds, in the order of ``--mix``."""
PHRASES = ("chair", "oven", "wall", "floor", "table", "lamp", "sofa", "window")
"""Phrases the clients pick from (a few repeat: the page's users ask similar things)."""
ORBIT_CAMERAS = 32
"""Distinct free cameras the previews cycle through."""
HANGUPS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)
"""A connection that ended without an HTTP answer (reset, refused, closed)."""


def load_bench_viewer():
    """bench/viewer.py (a script beside this one, not a package) for its scene builder."""
    spec = importlib.util.spec_from_file_location("bench_viewer", ROOT / "bench" / "viewer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve_scene(args: argparse.Namespace, outputs: str, pipe) -> None:
    """The server process: build the scene, report (port, label, frames, cameras), serve forever."""
    import torch

    from lerf3d.query.camera import orbit_cameras
    from viewer.config import ViewerConfig
    from viewer.server import make_server

    torch.set_num_threads(args.threads)
    bench_viewer = load_bench_viewer()
    scene, label = bench_viewer.build_scene(args)
    config = ViewerConfig(port=0, outputs_dir=Path(outputs))
    server = make_server(scene, config)
    width, height = config.full_long_side, round(config.full_long_side * 3 / 4)  # the page's 4:3 still
    cameras = [bench_viewer.free_camera(c) for c in orbit_cameras(scene.scene_bounds, ORBIT_CAMERAS, width,
                                                                  height)]
    pipe.send((server.server_address[1], label, list(scene.cameras), cameras))
    server.serve_forever()


@dataclass
class Tally:
    """What the clients saw (appended under a lock)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    statuses: Counter = field(default_factory=Counter)
    hangups: Counter = field(default_factory=Counter)
    timeouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def payload(kind: str, rng: random.Random, frames: list[str], cameras: list[dict]) -> tuple[str, dict]:
    """(path, JSON body) of one request of ``kind``."""
    if kind == "preview":
        return "/api/render", {"camera": rng.choice(cameras), "preview": True}
    if kind == "still":
        return "/api/render", {"camera": {"name": rng.choice(frames)}}
    if kind == "query":
        body = {"phrases": ", ".join(rng.sample(PHRASES, rng.randint(1, 2)))}
        if rng.random() < 0.75:
            body["camera"] = {"name": rng.choice(frames)}
        return "/api/query", body
    return "/api/export", {"phrase": rng.choice(PHRASES)}


def client(port: int, seed: int, deadline: float, weights: list[float], frames: list[str],
           cameras: list[dict], timeout: float, tally: Tally) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < deadline:
        kind = rng.choices(KINDS, weights)[0]
        path, body = payload(kind, rng, frames, cameras)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        start = time.perf_counter()
        try:
            connection.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with tally.lock:
                tally.statuses[response.status] += 1
                tally.latencies[kind].append(elapsed)
        except TimeoutError:
            with tally.lock:
                tally.timeouts += 1
        except HANGUPS as err:
            with tally.lock:
                tally.hangups[type(err).__name__] += 1
        finally:
            connection.close()


def run_clients(args: argparse.Namespace, port: int, frames: list[str], cameras: list[dict]) -> tuple[Tally, float]:
    weights = [float(w) for w in args.mix.split("/")]
    tally = Tally()
    start = time.perf_counter()
    deadline = start + args.seconds
    threads = [threading.Thread(target=client, args=(port, i, deadline, weights, frames, cameras, args.timeout,
                                                     tally), daemon=True) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients keep sending")
    parser.add_argument("--mix", default="3/2/4/1", help="relative weights of preview/still/query/export")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="a client's socket timeout per request (counted as a timeout, not an answer)")
    parser.add_argument("--ckpt", type=Path, default=None,
                        help="a trained run (default: the tiny room, fitted to ground truth)")
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    parser.add_argument("--fit-steps", type=int, default=100, help="fitting steps of the generated scene")
    parser.add_argument("--header", action="store_true")
    args = parser.parse_args()
    if args.clients < 1 or not args.seconds > 0 or len(args.mix.split("/")) != len(KINDS):
        parser.error("--clients >= 1, --seconds > 0 and a --mix of four weights (a/b/c/d) are needed")

    outputs = tempfile.mkdtemp(prefix="lerf3d-bench-viewer-load-")
    receive, send = mp.get_context("spawn").Pipe(duplex=False)
    server = mp.get_context("spawn").Process(target=serve_scene, args=(args, outputs, send), daemon=True)
    server.start()
    try:
        port, label, frames, cameras = receive.recv()
        load_before = os.getloadavg()[0]
        tally, elapsed = run_clients(args, port, frames, cameras)
        load_after = os.getloadavg()[0]
    finally:
        server.terminate()
        server.join()
        shutil.rmtree(outputs, ignore_errors=True)

    every = np.concatenate([np.asarray(v) for v in tally.latencies.values()]) * 1000
    answered = len(every)
    errors_4xx = sum(n for s, n in tally.statuses.items() if 400 <= s < 500)
    errors_5xx = sum(n for s, n in tally.statuses.items() if s >= 500)
    p50, p99 = (np.percentile(every, [50, 99]) if answered else (float("nan"),) * 2)
    if args.header:
        print(HEADER)
    print(f"| {label} | {args.clients}, {args.seconds:g} | {args.mix} | {answered} | {answered / elapsed:.1f} | "
          f"{p50:.0f} | {p99:.0f} | {errors_4xx} | {errors_5xx} | {sum(tally.hangups.values())} | "
          f"{tally.timeouts} |")
    for kind in KINDS:
        values = np.asarray(tally.latencies[kind]) * 1000
        if len(values):
            print(f"  {kind}: {len(values)} answered, p50 {np.percentile(values, 50):.0f} ms, "
                  f"p99 {np.percentile(values, 99):.0f} ms", file=sys.stderr)
    print(f"statuses {dict(tally.statuses)}, no answer {dict(tally.hangups)}; {elapsed:.1f} s with the drain; "
          f"1-minute load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} cores",
          file=sys.stderr)


if __name__ == "__main__":
    main()
