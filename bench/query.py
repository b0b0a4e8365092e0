"""Query latency of a new phrase: cached view / point embeddings vs re-rendering per phrase (the LERF way).

Same process, same field, same phrases, one warm-up each:

- **view**: a 256x256 view. Cached: the view was rendered once at LERF's 30 scales (and its
  negative term computed); a new phrase is a matrix product per scale, the relevancy and the scale
  search (``QuerySession.query``). LERF way: the phrase is model state, so every new phrase renders
  the view again at 30 scales (sharing the grid lookups across scales, as LERF's renderer does)
  into C-wide embeddings, as LERF's do (``span_coordinates=False``), and then scores it. lerf3d's renderer: the same re-render, but through the head's output span (exact, C/R times
  narrower; the second baseline, to show what caching adds on its own).
- **object mode**: the same view as objects (its surface cut into K objects); a new phrase scores
  the K objects and paints each pixel with its object's score (the object map is cached per view).
- **points**: 1M points. Cached: ``PointQuery.query`` on embeddings computed once. Baselines: the
  points are embedded again at every scale for each phrase, the LERF way and lerf3d's way.

The field has random weights (speed does not depend on them) and the tiny preset's sizes
(configs/tiny.toml) with ``clip_dim`` 512, OpenCLIP ViT-B-16's width, which sets the cost of the
cached path; phrases are random unit vectors (text encoding is the same for both paths).

    python bench/query.py            # ~2-4 min on 2 CPU cores
    python bench/query.py --header   # with the markdown table header

Prints markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from lerf3d.field import (
    HashGridConfig,
    LanguageFieldConfig,
    LerfField,
    LerfFieldConfig,
    RadianceFieldConfig,
    SamplerConfig,
)
from lerf3d.geometry import backproject_depth, look_at
from lerf3d.objects.pooling import scatter_bounds
from lerf3d.objects.scene_objects import SceneObjects
from lerf3d.objects.scorer import ObjectScorer
from lerf3d.query.camera import QueryCamera
from lerf3d.query.session import QuerySession, QuerySessionConfig
from lerf3d.types import Intrinsics, SceneBounds

HEADER = (
    "| query | device, threads | size | scales | D | cached new phrase (ms) "
    "| re-render per phrase, LERF way (ms) | speed-up | re-render per phrase, lerf3d's renderer (ms) "
    "| speed-up | cached memory (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|"
)
ROOM = SceneBounds(np.array([0.0, 0.0, 0.0]), np.array([4.0, 3.0, 2.5]))


class RandomPhraseEncoder:
    """Phrases -> fixed random unit vectors (hash-seeded): text encoding costs the same for both paths."""

    def __init__(self, dim: int) -> None:
        self.name = f"bench:random-{dim}"
        self.embedding_dim = dim
        self.input_size = 224

    def encode_text(self, phrases: list[str]) -> torch.Tensor:
        rows = [torch.randn(self.embedding_dim, generator=torch.Generator().manual_seed(
            int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], "little"))) for p in phrases]
        return F.normalize(torch.stack(rows), dim=-1)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("the benchmark encodes no images")


def tiny_preset_field(clip_dim: int) -> LerfField:
    """configs/tiny.toml's field sizes, random weights."""
    torch.manual_seed(0)
    config = LerfFieldConfig(
        radiance=RadianceFieldConfig(
            grid=HashGridConfig(num_levels=8, features_per_level=4, log2_table_size=15, base_resolution=8,
                                max_resolution=256),
            density_hidden_dim=32, color_hidden_dim=32, geo_feature_dim=7, appearance_dim=8),
        language=LanguageFieldConfig(
            grids=(HashGridConfig(num_levels=6, features_per_level=4, log2_table_size=14, base_resolution=8,
                                  max_resolution=128),),
            clip_dim=clip_dim, clip_hidden_dim=64, clip_hidden_layers=1, dino_dim=32, dino_hidden_dim=32,
            dino_hidden_layers=1),
        sampler=SamplerConfig(num_surface_samples=12, num_free_samples=4),
        language_top_k=6,
    )
    return LerfField(config, ROOM).eval()


def view_camera(side: int) -> QueryCamera:
    """A camera in a corner of the room looking across it, with a measured depth of 3 m."""
    k = Intrinsics(0.8 * side, 0.8 * side, side / 2, side / 2, side, side)
    pose = look_at(np.array([0.3, 0.3, 1.6]), np.array([3.5, 2.5, 0.5]))
    return QueryCamera(k, pose, np.full((side, side), 3.0, np.float32), "bench")


def timed(run) -> float:
    start = time.perf_counter()
    run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_view(
    session: QuerySession, lerf_way: QuerySession, side: int, repeats: int, rerenders: int
) -> tuple[float, float, float, int]:
    """Median seconds of a new phrase: cached, re-rendered the LERF way, re-rendered by lerf3d; bytes held."""
    camera = view_camera(side)
    session.query(camera, ["warm-up phrase"])  # renders and caches the view, computes the negative term
    cached = [timed(lambda i=i: session.query(camera, [f"new phrase {i}"])) for i in range(repeats)]
    lerf = [timed(lambda i=i: lerf_way.query(camera, [f"lerf phrase {i}"], use_cache=False))
            for i in range(rerenders)]
    ours = [timed(lambda i=i: session.query(camera, [f"other phrase {i}"], use_cache=False))
            for i in range(rerenders)]
    return (statistics.median(cached), statistics.median(lerf), statistics.median(ours),
            session.cache_stats().nbytes)


def bench_points(
    session: QuerySession, lerf_way: QuerySession, num_points: int, repeats: int, rerenders: int
) -> tuple[float, float, float, int]:
    """As :func:`bench_view`, for a point set."""
    generator = torch.Generator().manual_seed(0)
    lower, upper = torch.tensor(ROOM.lower).float(), torch.tensor(ROOM.upper).float()
    xyz = lower + (upper - lower) * torch.rand(num_points, 3, generator=generator)
    query = session.point_query(xyz.to(session.device))
    query.query(["warm-up phrase"])
    cached = [timed(lambda i=i: query.query([f"new phrase {i}"])) for i in range(repeats)]
    lerf = [timed(lambda i=i: lerf_way.point_query(xyz, use_cache=False).query([f"lerf phrase {i}"]))
            for i in range(rerenders)]
    ours = [timed(lambda i=i: session.point_query(xyz, use_cache=False).query([f"other phrase {i}"]))
            for i in range(rerenders)]
    return statistics.median(cached), statistics.median(lerf), statistics.median(ours), query.nbytes


def strip_objects(camera: QueryCamera, num_objects: int, encoder: RandomPhraseEncoder) -> SceneObjects:
    """The view's measured surface as a point set cut into ``num_objects`` vertical strips, each an
    object with a random unit embedding (the cost of an object-mode phrase depends on K and the
    view's size, not on the values)."""
    xyz = torch.from_numpy(backproject_depth(camera.depth, camera.intrinsics, camera.camera_to_world)
                           .reshape(-1, 3)).float()  # (H*W, 3)
    columns = torch.arange(len(xyz)) % camera.intrinsics.width
    point_object = columns * num_objects // camera.intrinsics.width  # (H*W,)
    lower, upper = scatter_bounds(xyz, point_object, num_objects)
    embedding = F.normalize(torch.randn(num_objects, encoder.embedding_dim, generator=torch.Generator().manual_seed(1)), dim=1)
    return SceneObjects(xyz=xyz, rgb=torch.zeros_like(xyz), point_object=point_object, box_min=lower, box_max=upper,
                        centroid=(lower + upper) / 2, colour=torch.zeros(num_objects, 3), embedding=embedding,
                        scale=torch.ones(num_objects), dino=None, views=((),) * num_objects,
                        confidence=torch.ones(num_objects), encoder=encoder.name)


def bench_object_mode(encoder: RandomPhraseEncoder, side: int, repeats: int, num_objects: int) -> float:
    """Median seconds of a new phrase in object mode on a view whose object map is cached."""
    camera = view_camera(side)
    scorer = ObjectScorer(strip_objects(camera, num_objects, encoder), encoder)
    scorer.maps(camera, ["warm-up phrase"])  # the view's object map, computed once per camera
    return statistics.median(timed(lambda i=i: scorer.maps(camera, [f"object phrase {i}"])) for i in range(repeats))


def row(name: str, where: str, size: str, scales: int, dim: int, result: tuple[float, float, float, int]) -> str:
    cached, lerf, ours, nbytes = result
    return (f"| {name} | {where} | {size} | {scales} | {dim} | {cached * 1e3:.0f} | {lerf * 1e3:.0f} "
            f"| {lerf / cached:.0f}x | {ours * 1e3:.0f} | {ours / cached:.0f}x | {nbytes / 2**20:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=256, help="view width and height (pixels)")
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the 3D query")
    parser.add_argument("--point-scales", default="0.25,0.5,1.0",
                        help="scales (m) the points carry (3: 1M x 512-d float16 would be 3 GiB)")
    parser.add_argument("--clip-dim", type=int, default=512, help="embedding width (512: OpenCLIP ViT-B-16)")
    parser.add_argument("--repeats", type=int, default=5, help="cached queries timed (median)")
    parser.add_argument("--rerenders", type=int, default=2, help="re-rendering queries timed (median)")
    parser.add_argument("--objects", type=int, default=32, help="objects of the object-mode query")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--header", action="store_true", help="print the table header first")
    args = parser.parse_args()

    point_scales = tuple(float(s) for s in args.point_scales.split(","))
    config = QuerySessionConfig(point_scales=point_scales, cache_bytes=16 * 1024**3)
    encoder = RandomPhraseEncoder(args.clip_dim)
    field = tiny_preset_field(args.clip_dim)
    session = QuerySession(field, encoder, args.device, config)
    lerf_way = QuerySession(field, encoder, args.device, replace(config, span_coordinates=False, cache_bytes=0))
    where = f"{args.device}, {torch.get_num_threads()} threads"
    if args.header:
        print(HEADER)
    view = bench_view(session, lerf_way, args.side, args.repeats, args.rerenders)
    print(row("view, new phrase", where, f"{args.side}x{args.side} px", len(session.scales), args.clip_dim, view),
          flush=True)
    objects = bench_object_mode(encoder, args.side, args.repeats, args.objects)
    print(f"| view, new phrase, object mode ({args.objects} objects) | {where} | {args.side}x{args.side} px | - "
          f"| {args.clip_dim} | {objects * 1e3:.1f} | per-pixel cached: {view[0] * 1e3:.1f} ms "
          f"({view[0] / objects:.0f}x) | | | | |", flush=True)
    session.clear_cache()
    points = bench_points(session, lerf_way, args.points, args.repeats, args.rerenders)
    print(row("3D points, new phrase", where, f"{args.points:,} points", len(point_scales), args.clip_dim, points))


if __name__ == "__main__":
    main()
