"""Segmentation time of the object layer against the per-point path's set-up on the same points.

- **demo room** (``--run``, e.g. ``outputs/demo`` after ``make demo``): ``build_objects`` on the
  trained field and its fused points, with the views and crops (what ``lerf3d objects`` does after
  loading), against embedding the same points at the per-point path's scales
  (``QuerySession.point_query``, what a 3D per-point query computes once).
- **1M points**: a synthetic furnished room (shell, 30 boxes on the floor) sampled to ``--points``
  points, a random-weight field of the tiny preset's sizes at ``clip_dim`` 512; no views (segmentation,
  pooling and the own-scale read only).

    python bench/objects.py --run outputs/demo --header

Prints markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/query.py's field and encoder
from query import ROOM, RandomPhraseEncoder, tiny_preset_field  # noqa: E402

from lerf3d.objects.build import ObjectsConfig, build_objects  # noqa: E402
from lerf3d.objects.commands import scene_cameras, scene_images  # noqa: E402
from lerf3d.query.session import QuerySession, QuerySessionConfig  # noqa: E402
from lerf3d.types import PointSet  # noqa: E402

HEADER = ("| scene | points | objects | build objects (s) | per-point embeddings, 3 scales (s) |\n"
          "|---|---|---|---|---|")


def timed(run):
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def synthetic_room(num_points: int, num_boxes: int = 30, seed: int = 0) -> PointSet:
    """Points on a room's shell and on the surfaces of boxes standing on its floor."""
    rng = np.random.default_rng(seed)
    lower, upper = ROOM.lower, ROOM.upper
    boxes = []
    for _ in range(num_boxes):
        size = rng.uniform([0.3, 0.3, 0.4], [1.0, 1.0, 1.2])
        corner = rng.uniform(lower[:2] + 0.1, upper[:2] - size[:2] - 0.1)
        boxes.append((np.array([*corner, 0.0]), np.array([*(corner + size[:2]), size[2]])))
    per_box = num_points // (2 * num_boxes)
    parts = []
    for lo, hi in boxes:  # points on the box's faces: one coordinate pinned to a side
        points = rng.uniform(lo, hi, size=(per_box, 3))
        axis = rng.integers(0, 3, per_box)
        side = rng.integers(0, 2, per_box)
        points[np.arange(per_box), axis] = np.where(side == 0, lo[axis], hi[axis])
        parts.append(points)
    shell = rng.uniform(lower, upper, size=(num_points - per_box * num_boxes, 3))
    axis = rng.integers(0, 3, len(shell))
    shell[np.arange(len(shell)), axis] = np.where(rng.integers(0, 2, len(shell)) == 0, lower[axis], upper[axis])
    xyz = np.concatenate(parts + [shell]).astype(np.float32)
    return PointSet(xyz, np.full_like(xyz, 0.5))


def bench_synthetic(num_points: int, clip_dim: int) -> str:
    field = tiny_preset_field(clip_dim)
    encoder = RandomPhraseEncoder(clip_dim)
    points = synthetic_room(num_points)
    objects, seconds = timed(lambda: build_objects(field, encoder, points, config=ObjectsConfig(crop_views=0)))
    session = QuerySession(field, encoder, "cpu", QuerySessionConfig(point_scales=(0.25, 0.5, 1.0)))
    _, per_point = timed(lambda: session.point_query(torch.from_numpy(points.xyz), use_cache=False))
    return f"| synthetic room (random field, D {clip_dim}) | {num_points:,} | {len(objects)} | {seconds:.1f} | {per_point:.1f} |"


def bench_run(run: Path) -> str:
    from lerf3d.query.checkpoint import open_scene
    from lerf3d.runs import resolve_checkpoint

    scene = open_scene(resolve_checkpoint(run))
    points = scene.fused_points()
    cameras, images = scene_cameras(scene), scene_images(scene)
    session = scene.session
    objects, seconds = timed(lambda: build_objects(session.field, session.encoder, points, cameras, images))
    _, per_point = timed(lambda: session.point_query(points.xyz, scales=(0.25, 0.5, 1.0), use_cache=False))
    return (f"| {run} (trained, {len(cameras)} views, crops) | {len(points.xyz):,} | {len(objects)} | {seconds:.1f} "
            f"| {per_point:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a trained run (e.g. outputs/demo)")
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the synthetic room")
    parser.add_argument("--clip-dim", type=int, default=512, help="embedding width of the synthetic field")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()
    if args.header:
        print(HEADER)
    if args.run is not None:
        print(bench_run(args.run), flush=True)
    print(bench_synthetic(args.points, args.clip_dim))


if __name__ == "__main__":
    main()
