"""``lerf3d demo``: the whole pipeline on a generated room, with a printed summary.

Stages so far: generate the room (real CC0 furniture) -> read it back as a capture -> TSDF fusion ->
preview and a check of the fused surface against the room's ground truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from lerf3d.capture import load_capture
from lerf3d.fusion import FusionConfig, fuse_capture, save_fusion
from lerf3d.fusion.evaluate import evaluate_fusion
from lerf3d.fusion.preview import overview_camera, splat_points
from lerf3d.ground_truth import load_ground_truth


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo run."""

    out: Path = Path("outputs/demo")
    """Output folder: capture/, fusion/ and later stages beneath it."""
    preset: str = "demo"
    """Room preset of data_tools (tiny, demo, large)."""
    seed: int = 0
    """Room seed: the same seed gives the same room and views."""


def _generate(config: DemoConfig) -> Path:
    from data_tools.config import RoomConfig
    from data_tools.make_room import generate_room

    room = generate_room(RoomConfig.preset(config.preset, seed=config.seed), config.out / "capture")
    labels = ", ".join(o.entry.label for o in room.layout.objects)
    print(
        f"[1/2] room: {len(room.poses)} views at {room.intrinsics.width}x{room.intrinsics.height} of "
        f"{len(room.layout.objects)} objects ({labels}) from {room.catalog_source}, "
        f"{room.seconds['total']:.1f} s -> {room.out_dir}"
    )
    return room.out_dir


def run_demo(config: DemoConfig) -> None:
    """Run every stage on the demo room and print what each produced."""
    start = time.perf_counter()
    capture_dir = _generate(config)
    capture = load_capture(capture_dir)
    t0 = time.perf_counter()
    result = fuse_capture(capture, FusionConfig())
    fuse_seconds = time.perf_counter() - t0
    files = save_fusion(result, config.out / "fusion")
    intr, pose = overview_camera(result.bounds)
    preview = config.out / "fusion" / "preview.png"
    Image.fromarray(splat_points(result.points, intr, pose, radius=2)).save(preview)
    report = evaluate_fusion(result, capture, load_ground_truth(capture_dir))
    found = len(report.objects_seen) - len(report.objects_missing)
    print(
        f"[2/2] fusion: {len(result.vertices)} vertices, {len(result.faces)} faces, voxel "
        f"{result.voxel_size * 100:.1f} cm in {fuse_seconds:.1f} s -> {files.mesh_ply}, {files.mesh_glb}, {preview}\n"
        f"      surface error: median {report.accuracy_median * 100:.1f} cm (95%: {report.accuracy_p95 * 100:.1f} cm), "
        f"completeness median {report.completeness_median * 100:.1f} cm; "
        f"{found}/{len(report.objects_seen)} visible instances have fused surface in their ground-truth box"
        + (f" (missing: {', '.join(report.objects_missing)})" if report.objects_missing else "")
    )
    print(f"demo done in {time.perf_counter() - start:.1f} s; outputs in {config.out}")
